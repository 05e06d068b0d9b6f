"""Speed of the exposure blur behind ``deblur``'s refinement: the CUDA kernel beside the torch reference.

``deblur(clip, shutter=...)`` refines each frame with 10 Landweber steps, two exposure blurs a step
(:func:`vsvideogen.ops.exposure.refine_to_exposure`), and a blur averages up to 65 instants. Two paths, timed
in one process on the same inputs:

* ``kernel``: :func:`vsvideogen.ops.exposure.exposure_blur` on CUDA, one launch of ``kernels/exposure.cu``
  that loops over the instants per pixel (CUDA only);
* ``torch reference``: :func:`vsvideogen.ops.exposure.exposure_blur_reference`, ``grid_sample`` of the frame
  at every instant's positions, a few instants per call, summed in fp32: the CPU path (and the path on a GPU
  without CuPy).

Inputs: a seeded RGB fp32 frame and a velocity field rising smoothly from 0 to ``--speed`` px a frame across
it after the frame's time, half of it before (the refinement's path of two pieces; the longest blur sets the
instants: 65 at ``--speed 40``, exposure 1). Each path is warmed up once, then
timed over ``--repeats`` calls, bracketed by ``torch.cuda.synchronize()`` on CUDA. The paths' outputs are
compared (largest difference) as a sanity check.

Usage::

    .venv/bin/python -m benchmarks.exposure_speed [--device cpu|cuda] [--sizes 1920x1080 3840x2160]

Writes ``benchmarks/results/exposure_speed_<device type>.md`` and ``.json`` and prints the table.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from . import common


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WxH (e.g. 1920x1080)") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: both sides must be at least 1")
    return width, height


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.exposure_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--sizes", nargs="+", type=_size, default=[(1920, 1080), (3840, 2160)], metavar="WxH")
    parser.add_argument("--speed", type=float, default=40.0, help="the fastest motion, px per frame interval")
    parser.add_argument("--exposures", nargs="+", type=float, default=[1.0, 0.5], help="shutter angle / 360")
    parser.add_argument("--repeats", type=common.count_parser(1, "repeats"), default=5)
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    return parser.parse_args(argv)


def _seconds(call: Callable[[], object], repeats: int, cuda: bool) -> float:
    import torch

    call()  # warm-up: compilation, caches
    if cuda:
        torch.cuda.synchronize()
    began = time.perf_counter()
    for _ in range(repeats):
        call()
    if cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - began) / repeats


def main(argv: list[str] | None = None) -> int:
    import torch

    from vsvideogen.ops import exposure

    args = parse_args(argv)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("exposure_speed: --device cuda, but torch sees no CUDA device")
    rows, records = [], []
    for width, height in args.sizes:
        generator = torch.Generator().manual_seed(0)
        image = torch.rand(1, 3, height, width, generator=generator).to(device)
        ramp = torch.linspace(0, 1, width).view(1, 1, 1, width) * torch.linspace(0.5, 1, height).view(1, 1, height, 1)
        velocity = torch.cat([ramp * args.speed, ramp * args.speed / 4], 1).to(device)
        before = velocity / 2
        for value in args.exposures:
            taps = exposure.exposure_taps(exposure.longest_speed(velocity, before) * value)
            paths = {"torch reference": lambda: exposure.exposure_blur_reference(image, velocity, before, value, taps)}
            if cuda:
                paths = {"kernel": lambda: exposure.exposure_blur(image, velocity, value, taps, before=before), **paths}
            timings = {name: _seconds(call, args.repeats, cuda) for name, call in paths.items()}
            difference = None
            if cuda:
                difference = float((paths["kernel"]() - paths["torch reference"]()).abs().max())
            for name, seconds in timings.items():
                speedup = timings["torch reference"] / seconds
                rows.append([f"{width}x{height}", common.format_number(value * 360, 0), str(taps), name,
                             common.format_number(seconds * 1e3, 1), common.format_number(seconds * 20, 2),
                             common.format_number(speedup, 1)])
                records.append({"width": width, "height": height, "exposure": value, "taps": taps, "path": name,
                                "ms_per_blur": seconds * 1e3, "s_per_refinement": seconds * 20,
                                "speedup": speedup, "max_difference": difference})
    table = common.markdown_table(
        ["frame", "shutter (deg)", "instants", "path", "ms per blur", "s per refinement (20 blurs)", "speed-up"],
        rows)
    print(table)
    if not args.no_write:
        header = common.run_header(args.device, repeats=args.repeats, fastest_motion_px=args.speed)
        note = ("A refinement (10 steps) is 20 blurs; the speed-up is against the torch reference on the same "
                "device.")
        path = common.write_results(f"exposure_speed_{device.type}", header, note + "\n\n" + table,
                                    {"rows": records})
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
