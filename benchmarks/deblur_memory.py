"""Peak memory and time of told ``vsvideogen.deblur`` on 4K input, one row per refinement solver.

Each case runs in a fresh Python process (peak RSS, ``ru_maxrss``, only grows within a process). The clip is
five 3840x2160 YUV420P10 frames of a real photo (scikit-image's astronaut tiled, Lanczos-resized) panned
``--speed`` px a frame, unblurred: the pan gives the refinement blurs ``speed * shutter / 360`` px long to
model, and memory and time do not depend on what the pixels show. The case deblurs the centre frame with the
default tile grid (or ``--tiles``) on the CPU, and reports the grid, the process's peak resident memory and
the wall time.

    .venv/bin/python -m benchmarks.deblur_memory                       # both solvers, told 180 degrees
    .venv/bin/python -m benchmarks.deblur_memory --solvers deconvolve --tiles auto 1

Results: ``results/deblur_memory.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import sys
import time

from . import common

_CHILD = common.PHOTO_CHILD_PRELUDE + r"""
import importlib

deblur_module = importlib.import_module("vsvideogen.filters.deblur")
speed = case["speed"]
frames = [rgb.std.Crop(left=k * speed, right=(4 - k) * speed) for k in range(5)]
clip = core.std.Splice(frames).resize.Bicubic(format=vs.YUV420P10, matrix_s="709")
record_grid(deblur_module, "tile_grid")
tiles = None if case["tiles"] == "auto" else int(case["tiles"])
out = vsvideogen.deblur(clip, shutter=case["shutter"], solver=case["solver"], tiles=tiles, device="cpu")
report(out, 2)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.deblur_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--solvers", nargs="+", default=["landweber", "deconvolve"], help="deblur's solver per row")
    parser.add_argument("--shutter", type=float, default=180.0, help="the shutter angle deblur is told (default 180)")
    parser.add_argument("--speed", type=int, default=16, help="pan, px a frame (default 16)")
    parser.add_argument("--tiles", nargs="+", default=["auto"], help="'auto' or an int n for n x n tiles")
    parser.add_argument("--size", default="3840x2160", help="frame WxH (default 3840x2160)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))

    header = common.run_header("cpu", input=f"{args.size} YUV420P10, 5 frames panned {args.speed} px a frame, "
                                             f"told {args.shutter:g} degrees, the centre frame")
    rows, cases = [], []
    for solver in args.solvers:
        for tiles in args.tiles:
            case = {"solver": solver, "tiles": tiles, "shutter": args.shutter, "speed": args.speed,
                    "width": width + 4 * args.speed, "height": height}
            began = time.perf_counter()
            case = common.run_child_case(_CHILD, case)
            print(f"[bench] {solver} tiles={tiles}: {case} ({time.perf_counter() - began:.0f} s)", flush=True)
            cases.append(case)
            rows.append([solver, tiles, *common.memory_cells(case)])
    body = common.markdown_table(["solver", "tiles asked", *common.MEMORY_COLUMNS], rows)
    body += (f"\n\n{common.MEMORY_NOTE} The refinement's flows and blurs work on the whole frame; the prior of "
             "`solver=\"deconvolve\"` runs over the network's tiles.\n")
    if not args.no_write:
        print(f"wrote {common.write_results('deblur_memory', header, body, {'cases': cases})}")
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
