"""Deblurring benchmark on exact motion blur: camera moves over held-out photos, no interpolation involved.

``benchmarks.restore`` blurs real clips by averaging instants that the interpolation network makes, so its blur
carries that network's errors near each real frame (docs/experiments/2026-11-28-interpolation-anchor.md). Here
every instant is exact: a random smooth camera move (translation, zoom, rotation, some acceleration) over one of
scikit-image's colour photos (in no model's training) is rendered at 32 instants a frame interval
(:func:`vsvideogen.train.blur.photo_window`, bicubic), five frames a window, each the mean of the instants its
shutter is open, rounded to 8 bits (with ``--noise SIGMA``, white Gaussian noise of that standard deviation on
the 8-bit scale added before rounding, as a camera's noise follows its blur). The truth is the exact instant at
the centre frame's time. Two speeds: moves of up to 48 and up to 120 px per axis over the window's four frame
intervals (up to 12 and 30 px a frame).

Rows: the blurred input, an unsharp mask, and ``vsvideogen.deblur`` blind, told the shutter, told with
``refine=0``, and told with ``solver="deconvolve"``. Scores are on the centre frame of each window: luma PSNR (BT.601 weights on the 8-bit scale), its
gain over the blurred input (mean and worst window), and RGB PSNR; fps is windows a second (each a five-frame
clip, the centre frame requested).

Usage::

    .venv/bin/python -m benchmarks.deblur_photos [--seeds N] [--shutters 360 ...] [--size PX] [--noise SIGMA]

Writes ``benchmarks/results/deblur_photos.md`` and ``.json`` (``--out`` for another folder).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
import vapoursynth as vs

from vsvideogen.pipeline import shutter_angle

from . import common
from .restore import DEFAULT_SHUTTERS, luma, luma_weights, unsharp

core = vs.core
_log = common.logger("bench")

#: Instants per frame interval: a streak at every speed here (30 px a frame: instants about 1 px apart).
SUBFRAMES = 32
#: Largest translation per axis over a window's four frame intervals (px), by speed name.
SPEEDS = {"up to 12 px a frame": 48.0, "up to 30 px a frame": 120.0}
#: Zoom (log scale), rotation (degrees) and curvature of the moves: the deblur trainer's photo moves.
MOVE = {"max_zoom": 0.05, "max_rotation": 2.0, "curvature": 0.3}
UNSHARP_AMOUNT = 0.25
#: Luma weights of the scores (BT.601, as for standard-definition footage).
LUMA = luma_weights(common.MATRIX_BT601)
LABELS = {"blurred": "blurred input", "unsharp": f"unsharp mask 5x5, amount {UNSHARP_AMOUNT:g}",
          "blind": "vsvideogen.deblur", "told": "vsvideogen.deblur, shutter=(the angle)",
          "told-alone": "vsvideogen.deblur, shutter=(the angle), refine=0",
          "told-deconvolve": "vsvideogen.deblur, shutter=(the angle), solver='deconvolve'"}


def windows(photo: np.ndarray, size: int, shutter: float, shift: float, seeds: int,
            key: int, noise: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``seeds`` blurred five-frame windows (``[5, 3, size, size]`` float 0..1 on the 8-bit grid, with white
    Gaussian noise of ``noise`` on the 8-bit scale, seeded by the window) of camera moves over ``photo``, each
    with its exact sharp centre frame (``[3, size, size]``)."""
    import torch

    from vsvideogen.train.blur import BlurConfig, blur_level, photo_window
    from vsvideogen.train.photos import CameraMotion

    motion = CameraMotion(max_shift=shift, **MOVE)
    level = blur_level(shutter / 720, SUBFRAMES)
    out = []
    for seed in range(seeds):
        rng = np.random.default_rng([key, seed])
        blurred, sharp = photo_window(photo, size, 2, BlurConfig(subframes=SUBFRAMES), level, rng, motion)
        if noise:
            grain = np.random.default_rng([key, seed, 255]).normal(0.0, noise / 255, tuple(blurred.shape))
            blurred = blurred + torch.from_numpy(grain).to(blurred.dtype)
        blurred = torch.round(blurred.clamp(0, 1) * 255) / 255
        out.append((blurred.numpy(), sharp.clamp(0, 1).numpy()))
    return out


def clip_of(frames: np.ndarray) -> vs.VideoNode:
    """An RGBS clip of ``frames`` (``[T, 3, H, W]``)."""
    blank = core.std.BlankClip(width=frames.shape[3], height=frames.shape[2], format=vs.RGBS, length=len(frames))

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for plane in range(3):
            np.asarray(out[plane])[:] = frames[n][plane]
        return out

    return blank.std.ModifyFrame(blank, fill)


def methods(device: str, shutter: float, model: str) -> dict[str, Callable[[vs.VideoNode], vs.VideoNode]]:
    """Each row's filter on a window clip (``model``: ``vsvideogen.deblur``'s)."""
    from vsvideogen import deblur

    def ours(**kwargs) -> Callable[[vs.VideoNode], vs.VideoNode]:
        return lambda clip: deblur(clip, model=model, device=device, fp16=False, **kwargs)

    return {"blurred": lambda clip: clip, "unsharp": lambda clip: unsharp(clip, UNSHARP_AMOUNT),
            "blind": ours(), "told": ours(shutter=shutter), "told-alone": ours(shutter=shutter, refine=0),
            "told-deconvolve": ours(shutter=shutter, solver="deconvolve")}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of two ``[3, H, W]`` 0..1 frames on the 8-bit scale."""
    return common.psnr(np.rint(a * 255), np.rint(b * 255))


def luma_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Luma (BT.601 weights) PSNR of two ``[3, H, W]`` 0..1 frames on the 8-bit scale."""
    return common.psnr(np.rint(luma(a, LUMA) * 255), np.rint(luma(b, LUMA) * 255))


def run(args: argparse.Namespace) -> tuple[dict, dict, dict]:
    """Scores by speed, shutter and row, the wall seconds by part, and why any row could not run."""
    from vsvideogen.errors import VSVideoGenError

    photos = {name: common.skimage_photo(name) for name in common.SKIMAGE_PHOTOS}
    results: dict[str, dict] = {}
    wall: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for speed, shift in SPEEDS.items():
        for shutter in args.shutters:
            t0 = time.perf_counter()
            rows: dict[str, dict[str, list[float]]] = {key: {"y": [], "rgb": [], "seconds": []} for key in LABELS}
            filters = methods(args.device, shutter, args.model_deblur)
            for index, photo in enumerate(photos.values()):
                for blurred, sharp in windows(photo, args.size, shutter, shift, args.seeds, index, args.noise):
                    clip = clip_of(blurred)
                    for key, make in filters.items():
                        start = time.perf_counter()
                        try:
                            node = make(clip)
                        except VSVideoGenError as error:  # e.g. refine=0 told a model without an exposure input
                            skipped[key] = str(error).splitlines()[0]
                            continue
                        frame = node.get_frame(2)
                        out = np.clip(np.stack([np.asarray(p) for p in frame]), 0, 1)
                        rows[key]["seconds"].append(time.perf_counter() - start)
                        rows[key]["y"].append(luma_psnr(out, sharp))
                        rows[key]["rgb"].append(psnr(out, sharp))
            table = results.setdefault(speed, {})[f"{shutter:g}"] = {
                key: summary(r, rows["blurred"]["y"]) for key, r in rows.items() if r["y"]}
            part = f"{speed}, {shutter:g} degrees"
            wall[part] = time.perf_counter() - t0
            gains = ", ".join(f"{key} {r['gain']:+.2f}" for key, r in table.items() if key != "blurred")
            _log(f"{part}: luma gain {gains} dB ({wall[part]:.0f} s)")
    return results, wall, skipped


def summary(row: dict[str, list[float]], base: list[float]) -> dict[str, float]:
    """A row's scores over its windows; ``base``: the blurred input's luma PSNR of the same windows."""
    gains = np.subtract(row["y"], base)
    return {"y_psnr": common.mean(row["y"]), "gain": float(np.mean(gains)), "median_gain": float(np.median(gains)),
            "worst_gain": float(np.min(gains)), "rgb_psnr": common.mean(row["rgb"]),
            "fps": len(row["seconds"]) / sum(row["seconds"]), "windows": len(row["y"])}


def render_markdown(results: dict, args: argparse.Namespace) -> str:
    """One table per speed and shutter, then the gains side by side."""
    body = []
    for speed, by_shutter in results.items():
        for shutter, rows in by_shutter.items():
            body += [f"## Moves {speed}, {shutter}-degree shutter", ""]
            table = [[LABELS[key], common.format_number(r["y_psnr"], 2),
                      *("—" if key == "blurred" else f"{r[g]:+.2f}" for g in ("gain", "median_gain", "worst_gain")),
                      common.format_number(r["rgb_psnr"], 2), common.format_number(r["fps"], 2)]
                     for key, r in rows.items()]
            body += [common.markdown_table(["Method", "Y-PSNR (dB)", "gain (dB)", "median gain (dB)",
                                            "worst window (dB)", "RGB-PSNR (dB)", "windows/s"], table), ""]
    body += ["## Luma gain over the blurred input (dB): mean of the windows (median)", ""]
    first_table = next(iter(next(iter(results.values())).values()))
    keys = [k for k in first_table if k != "blurred"]
    table = [[speed, f"{shutter}°", common.format_number(rows["blurred"]["y_psnr"], 2),
              *(f"{rows[k]['gain']:+.2f} ({rows[k]['median_gain']:+.2f})" for k in keys)]
             for speed, by_shutter in results.items() for shutter, rows in by_shutter.items()]
    body += [common.markdown_table(["Moves", "Shutter", "blurred input (dB)", *(LABELS[k] for k in keys)], table), ""]
    windows_each = len(common.SKIMAGE_PHOTOS) * args.seeds
    body += ["A window whose blurred input is already near the truth (over 50 dB: a move that barely starts) "
             "swings the mean and the worst window; the median is not swayed by it.", ""]
    body += [f"Windows: {windows_each} a table ({args.seeds} camera moves over each of scikit-image's "
             f"{', '.join(common.SKIMAGE_PHOTOS)}), {args.size}x{args.size}, {SUBFRAMES} exact instants a frame "
             "interval" + (f", white noise of sigma {args.noise:g} (8-bit scale) added to the blurred frames"
                           if args.noise else "") + "; the truth is the exact instant at the centre frame's time."]
    return "\n".join(body)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.deblur_photos", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=4, help="camera moves per photo, speed and shutter (default 4)")
    parser.add_argument("--shutters", nargs="+", type=shutter_angle, default=list(DEFAULT_SHUTTERS), metavar="DEG",
                        help="shutter angles (default 360 270 180 90)")
    parser.add_argument("--size", type=int, default=224, help="side of the square windows, 64 to 256 (default 224)")
    parser.add_argument("--noise", type=float, default=0.0, metavar="SIGMA",
                        help="white Gaussian noise added to the blurred frames, sigma on the 8-bit scale (default 0)")
    common.add_deblur_options(parser, "deblur_photos")
    args = parser.parse_args(argv)
    if not 0 <= args.noise <= 50:
        parser.error(f"--noise {args.noise}: give a sigma from 0 to 50 (8-bit scale)")
    if args.seeds < 1:
        parser.error(f"--seeds {args.seeds}: give at least 1 camera move")
    if not 64 <= args.size <= 256:
        parser.error(f"--size {args.size}: give 64 to 256 (the smallest photo, chelsea, is 451x300)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results, wall, skipped = run(args)
    wall["total"] = time.perf_counter() - started
    wall_seconds = {k: round(v, 1) for k, v in wall.items()}
    header = common.run_header(args.device, model=args.model_deblur, wall_seconds=wall_seconds,
                               **({"rows_not_run": skipped} if skipped else {}))
    table = render_markdown(results, args)
    if not args.no_write:
        common.RESULTS_DIR = args.out
        path = common.write_results("deblur_photos", header, table, {"results": results, "seeds": args.seeds,
                                                                    "size": args.size, "subframes": SUBFRAMES,
                                                                    "noise": args.noise})
        _log(f"wrote {path} and {path.with_suffix('.json')}")
    print(table, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
