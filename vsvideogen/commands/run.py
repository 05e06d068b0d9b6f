"""``vsvideogen run INPUT OUTPUT [options] [-- ffmpeg output options]``: filter a video file into another."""
from __future__ import annotations

import argparse
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import vapoursynth as vs

from .. import pipeline
from ..errors import VSVideoGenError

EPILOG = """\
options after `--` go to ffmpeg as output options and override the defaults
(-c:v libx264 -crf 18 -preset medium, pixel format of the input's bit depth; audio and
subtitles copied from INPUT, audio re-encoded to AAC and text subtitles and chapters cut when
--start/--end cut it, picture subtitles then left out; a .y4m OUTPUT
holds the filtered frames uncompressed, video only), e.g.:
  vsvideogen run in.mkv out.mkv --interpolate 2 -- -crf 22 -preset slow
  vsvideogen run in.mp4 out.mp4 --fps 60000/1001 -- -c:v libx265 -crf 24
"""


class _FfmpegTailParser(argparse.ArgumentParser):
    """Keeps everything after the first ``--`` as ``args.ffmpeg_args``.

    A trailing ``nargs="*"`` positional cannot do it: argparse fills it, empty, together with INPUT and OUTPUT
    whenever options stand between OUTPUT and ``--``, and then rejects the tail.
    """

    def parse_known_args(self, args=None, namespace=None):  # noqa: D102 - argparse's own contract
        args = list(sys.argv[1:] if args is None else args)
        tail: list[str] = []
        if "--" in args:
            cut = args.index("--")
            args, tail = args[:cut], args[cut + 1 :]
        namespace, extras = super().parse_known_args(args, namespace)
        namespace.ffmpeg_args = tail
        return namespace, extras


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``run`` with the ``vsvideogen`` command."""
    parser = subparsers.add_parser(
        "run",
        help="filter a video file into another (ffmpeg encodes, audio and subtitles kept)",
        description="Decode INPUT, apply the chosen filters, encode to OUTPUT with ffmpeg. Audio, subtitles, "
        "metadata and chapters come from INPUT. OUTPUT appears only when everything succeeded.",
        usage="%(prog)s INPUT OUTPUT [options] [-- FFMPEG_OPTION ...]",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.__class__ = _FfmpegTailParser
    parser.add_argument("input", type=Path, metavar="INPUT", help="video file to read")
    parser.add_argument("output", type=Path, metavar="OUTPUT", help="file to write; its suffix picks the container (H.264 into .mkv, .mp4, .mov, .m4v, .avi, .ts, .m2ts or .mts; .y4m uncompressed; another needs a codec after --)")
    pipeline.add_filter_arguments(parser)
    parser.add_argument("--start", type=pipeline.non_negative_int, metavar="N", help="first input frame to keep (default 0)")
    parser.add_argument("--end", type=pipeline.positive_int, metavar="N", help="input frame to stop before (default: the end)")
    parser.add_argument("-y", "--overwrite", action="store_true", help="replace OUTPUT if it exists")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    parser.set_defaults(handler=main, ffmpeg_args=[])
    return parser


def main(args: argparse.Namespace) -> int:
    """Run the job described by ``args``; returns the exit status."""
    if args.ffmpeg_args and not args.ffmpeg_args[0].startswith("-"):
        return fail("run", f"{args.ffmpeg_args[0]!r} after -- is not an ffmpeg option; options start with '-'")
    return execute(
        "run",
        lambda progress: pipeline.process(
            args.input,
            args.output,
            steps=pipeline.chain_from_args(args),
            shared=pipeline.shared_from_args(args),
            start=args.start,
            end=args.end,
            ffmpeg_args=args.ffmpeg_args,
            overwrite=args.overwrite,
            progress=progress,
        ),
        debug=args.debug,
    )


def execute(command: str, job: Callable[[pipeline.Progress], pipeline.Encoded], *, debug: bool = False) -> int:
    """Run ``job`` with a progress bar on stderr; report success or one line of failure.

    On success the output path goes to stdout and notes to stderr. Failures print exactly one line,
    ``vsvideogen <command>: <reason>``, to stderr (after the traceback when ``debug``).

    Returns:
        0 on success, 130 when interrupted (SIGINT, SIGTERM or SIGHUP), 1 on any other failure.
    """
    bar = _ProgressBar(command)
    try:
        with _Interrupts() as interrupts:
            result = job(interrupts.guard(bar))
    except KeyboardInterrupt:
        bar.close()
        return fail(command, "interrupted; no output written", debug=debug, status=130)
    except VSVideoGenError as exc:
        bar.close()
        return fail(command, exc.message if exc.func in (command, pipeline.FUNC) else str(exc), debug=debug)
    except Exception as exc:  # noqa: BLE001 - the command's promise is one line, never a traceback
        bar.close()
        return fail(command, _reason(exc), debug=debug)
    bar.close()
    for note in result.notes:
        print(f"vsvideogen {command}: note: {note}", file=sys.stderr)
    print(result.output, flush=True)
    return 0


def _reason(exc: Exception) -> str:
    if isinstance(exc, vs.Error):
        return pipeline.frame_failure(exc)
    return str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"


def fail(command: str, reason: str, *, debug: bool = False, status: int = 1) -> int:
    """Print ``vsvideogen <command>: <reason>`` as one line on stderr; returns ``status``."""
    if debug and sys.exc_info()[0] is not None:
        traceback.print_exc()
    print(f"vsvideogen {command}: {' '.join(reason.split())}", file=sys.stderr, flush=True)
    return status


class _ProgressBar:
    """tqdm on stderr with frames/s and ETA, created on the first frame (when the total is known); silent
    when stderr is not a terminal."""

    def __init__(self, command: str) -> None:
        self._command = command
        self._bar = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="frame", desc=f"vsvideogen {self._command}", file=sys.stderr,
                             disable=None, dynamic_ncols=True)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _Interrupts:
    """SIGINT, SIGTERM and SIGHUP (the terminal or the ssh session closed) stop the job through
    KeyboardInterrupt, so the same clean-up runs for all three.

    Once frames flow, the first signal only sets a flag that the progress callback turns into
    KeyboardInterrupt after the frame in hand: raised from the handler it could land inside a weakref
    callback or finaliser, where Python swallows it. A second signal raises at once. Signals after the
    KeyboardInterrupt are ignored so they cannot cut the clean-up short.
    """

    _SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self) -> None:
        self._streaming = False
        self._pending = False
        self._raised = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _Interrupts:
        try:
            for signum in self._SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            pass
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self._raised:
            return
        if self._streaming and not self._pending:
            self._pending = True
            return
        self._raised = True
        raise KeyboardInterrupt

    def guard(self, progress: pipeline.Progress) -> pipeline.Progress:
        """``progress``, raising KeyboardInterrupt first when a signal came in."""

        def guarded(done: int, total: int) -> None:
            self._streaming = True
            if self._pending and not self._raised:
                self._raised = True
                raise KeyboardInterrupt
            progress(done, total)

        return guarded
