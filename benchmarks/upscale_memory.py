"""Peak memory of ``vsvideogen.upscale`` on 4K input: does automatic tiling keep it bounded?

Each case runs in a fresh Python process (peak RSS, ``ru_maxrss``, only grows within a process), upscales
one 3840x2160 frame made from a real photo (a wallpaper, or scikit-image's astronaut tiled, Lanczos-resized)
and reports the tile grid chosen, the process's peak resident memory, the size of the frames involved and
the wall time. The default x2 upscaler on the CPU is the case the issue asks for; ``--models`` adds others.

    .venv/bin/python -m benchmarks.upscale_memory                       # default model, YUV420P10 and RGBS
    .venv/bin/python -m benchmarks.upscale_memory --formats YUV420P8 --tiles auto 1

Results: ``results/upscale_memory.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import sys
import time

from . import common


_CHILD = common.PHOTO_CHILD_PRELUDE + r"""
from vsvideogen.filters import upscale as upscale_module

fmt = core.get_video_format(getattr(vs, case["format"]))
if fmt.color_family == vs.RGB:
    clip = rgb.resize.Point(format=fmt.id)
else:
    clip = rgb.resize.Bicubic(format=fmt.id, matrix_s="709")
record_grid(upscale_module, "_tiles")
tiles = None if case["tiles"] == "auto" else int(case["tiles"])
report(vsvideogen.upscale(clip, case["scale"], model=case["model"], tiles=tiles, device="cpu"), 0)
"""


def _case(model: str, scale: int, fmt: str, tiles: str, size: tuple[int, int]) -> dict[str, object]:
    case = {"model": model, "scale": scale, "format": fmt, "tiles": tiles, "width": size[0], "height": size[1]}
    return common.run_child_case(_CHILD, case)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.upscale_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["upscale-default"], help="model ids or files (x2 unless --scale)")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--formats", nargs="+", default=["YUV420P10", "RGBS"])
    parser.add_argument("--tiles", nargs="+", default=["auto"], help="'auto' or an int n for n x n tiles")
    parser.add_argument("--size", default="3840x2160", help="input WxH (default 3840x2160)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))

    header = common.run_header("cpu", input=f"{args.size}, one frame")
    rows, cases = [], []
    for model in args.models:
        for fmt in args.formats:
            for tiles in args.tiles:
                began = time.perf_counter()
                case = _case(model, args.scale, fmt, tiles, size)
                print(f"[bench] {model} {fmt} tiles={tiles}: {case} ({time.perf_counter() - began:.0f} s)", flush=True)
                cases.append(case)
                rows.append([model, fmt, tiles, *common.memory_cells(case)])
    body = common.markdown_table(["model", "format", "tiles asked", *common.MEMORY_COLUMNS], rows)
    body += f"\n\n{common.MEMORY_NOTE}\n"
    if not args.no_write:
        print(f"wrote {common.write_results('upscale_memory', header, body, {'cases': cases})}")
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
