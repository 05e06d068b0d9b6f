"""File -> filters -> ffmpeg: the machinery behind ``vsvideogen run`` and ``vsvideogen demo``.

The source is decoded with BestSource, trimmed, passed through the filter chain built from
:data:`FILTER_OPTIONS`, and streamed as y4m into ffmpeg's stdin. ffmpeg takes the video from the pipe and
audio, subtitles, metadata and chapters from the source file, and writes a temporary file next to the output
that is renamed only once everything succeeded.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import vapoursynth as vs

from .errors import VSVideoGenError
from .streams import VIDEO_ONLY, plan_streams, probe_streams
from .vs.formats import field_order
from .vs.rates import MAX_REDUCTION, rate_from_text
from .vs.y4m import write_y4m_frame, y4m_compatible, y4m_header

__all__ = [
    "FILTER_OPTIONS",
    "SHARED_OPTIONS",
    "DeblurShutter",
    "Encoded",
    "FilterOption",
    "FilterStep",
    "Progress",
    "add_filter_arguments",
    "apply_chain",
    "chain_from_args",
    "deblur_shutter",
    "disc_radius",
    "encode",
    "factor",
    "ffmpeg_exe",
    "frame_rate",
    "noise_sigma",
    "non_negative_int",
    "open_source",
    "positive_int",
    "process",
    "select_frames",
    "shared_from_args",
]

FUNC = "run"

Progress = Callable[[int, int], None]
"""Called with (frames written so far, total frames)."""


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def factor(text: str) -> int:
    """argparse type: a multiplier, an integer >= 2."""
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{text} is not a factor; give an integer >= 2")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; frame numbers start at 0")
    return value


def _positive_float(text: str, what: str, unit: str, example: str, most: float | None = None) -> float:
    """``text`` as a float above 0 (and at most ``most``), or an argparse error naming ``what`` and ``unit``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}; give {unit}, e.g. {example}") from None
    if not (0 < value < float("inf") and (most is None or value <= most)):
        bound = "" if most is None else f" and at most {most:g}"
        raise argparse.ArgumentTypeError(f"{text} is not {what}; give {unit} above 0{bound}")
    return value


def noise_sigma(text: str) -> float:
    """argparse type: a noise sigma on the 8-bit scale, > 0."""
    return _positive_float(text, "a noise level", "a sigma on the 8-bit scale", "10")


def flow_scale(text: str) -> float:
    """argparse type: one of interpolate's flow scales."""
    from .filters.interpolate import SCALES  # here: the filters load torch, which the parser does not need

    value = _positive_float(text, "a flow scale", "a fraction of the frame size", "0.5")
    if value not in SCALES:
        raise argparse.ArgumentTypeError(f"{text} is not a flow scale; give one of {', '.join(f'{s:g}' for s in SCALES)}")
    return value


def scene_change(text: str) -> str | float:
    """argparse type: ``auto``, ``none`` or a detector threshold in (0, 1)."""
    if text.lower() in ("auto", "none"):
        return text.lower()
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a scene-change setting; give auto, none or a threshold "
                                         "such as 0.25") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a detector threshold; give one above 0 and below 1")
    return value


def shutter_angle(text: str) -> float:
    """argparse type: a shutter angle in degrees, above 0 and at most 720."""
    return _positive_float(text, "a shutter angle", "degrees", "180", 720)


@dataclass(frozen=True)
class DeblurShutter:
    """``--deblur DEGREES[:SOLVER]``: the shutter angle, and the refinement's solver when one is named."""

    degrees: float
    solver: str | None = None

    def __str__(self) -> str:
        return f"{self.degrees}" if self.solver is None else f"{self.degrees}:{self.solver}"

    def kwargs(self) -> dict[str, Any]:
        """``deblur``'s keywords: ``shutter``, and ``solver`` when named."""
        return {"shutter": self.degrees} | ({} if self.solver is None else {"solver": self.solver})


def deblur_shutter(text: str) -> DeblurShutter:
    """argparse type: ``DEGREES`` or ``DEGREES:SOLVER`` (e.g. ``180:deconvolve``); ``deblur`` checks the solver."""
    degrees, colon, solver = text.partition(":")
    if colon and not solver:
        raise argparse.ArgumentTypeError(f"{text!r} names no solver after the colon; write e.g. 180:deconvolve, or 180")
    return DeblurShutter(shutter_angle(degrees), solver or None)


def disc_radius(text: str) -> float | str:
    """argparse type: a defocus disc's radius in pixels, above 0 and at most 16 (``deblur``'s limit), or
    ``auto`` (estimated on every frame)."""
    if text == "auto":
        return text
    return _positive_float(text, "a disc radius", "pixels", "1.5 (or auto)", 16)


def frame_rate(text: str) -> Fraction:
    """argparse type: a frame rate written ``NUM/DEN`` (``60000/1001``) or as an integer, exactly, or as a
    decimal, where the NTSC rates' decimals (``59.94``, ``23.976``) mean those rates
    (:func:`vsvideogen.vs.rates.rate_from_text`)."""
    try:
        value = rate_from_text(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame rate; write e.g. 60000/1001, 50 or 23.976") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive frame rate")
    return value


@dataclass(frozen=True)
class FilterOption:
    """One command-line option that adds a filter to the chain.

    Attributes:
        flag: The option, e.g. ``--interpolate``.
        filter: Name of the public filter in the ``vsvideogen`` namespace.
        kwargs: Turns the option's value into the filter's keyword arguments.
        help: Help text.
        type: argparse type of the value; ``None`` makes the option a switch without a value.
        metavar: How the value is shown in the help.
        exclusive: Options with the same tag cannot be combined.
        optional_value: The value may be left out (the option alone gives ``True``).
        joins: Flags of earlier options for the same filter: given with one, this option adds its keywords
            to that one filter call; alone, it makes the call itself, or is refused where ``alone`` is False.
        alone: Whether the option may make a filter call of its own.
    """

    flag: str
    filter: str
    kwargs: Callable[[Any], dict[str, Any]]
    help: str
    type: Callable[[str], Any] | None = None
    metavar: str | None = None
    exclusive: str | None = None
    optional_value: bool = False
    joins: tuple[str, ...] = ()
    alone: bool = True

    @property
    def dest(self) -> str:
        """The attribute of the parsed arguments that holds the value."""
        return self.flag.lstrip("-").replace("-", "_")


# The one table from options to filters; the chain runs in table order (restoration and scaling belong above
# frame-rate conversion). A new filter is one row, e.g.
#   FilterOption("--denoise", "denoise", lambda s: {"strength": s}, "...", float, "S"),
FILTER_OPTIONS: tuple[FilterOption, ...] = (
    # Order of the chain: clean first, then enlarge, then invent frames from the finished pictures.
    FilterOption(
        "--denoise", "denoise", lambda sigma: {"strength": sigma},
        "remove noise of this sigma (8-bit scale) with the default denoiser", noise_sigma, "SIGMA",
    ),
    FilterOption(
        "--deblur", "deblur", lambda shutter: {} if shutter is True else shutter.kwargs(),
        "remove motion blur with the default deblurrer (or --model, a `vsvideogen train deblur` export; --defocus "
        "for a lens's defocus); "
        "DEGREES: the shutter angle the footage was shot with, e.g. 180, if known (long motion blur is then also "
        "undone along the motion); DEGREES:deconvolve solves that blur further (slower; vsvideogen.deblur's solver)",
        deblur_shutter, "DEGREES[:SOLVER]", optional_value=True,
    ),
    FilterOption(
        "--defocus", "deblur", lambda radius: {"defocus": radius},
        "deblur, also undoing the defocus of a lens that spread each point into a disc of this radius in pixels, "
        "e.g. 1.5 (judge it by eye and err small: too large a radius rings), or auto to estimate it on every frame "
        "(not with --deblur DEGREES); joins --deblur's call when given",
        disc_radius, "RADIUS|auto", joins=("--deblur",),
    ),
    FilterOption(
        "--upscale", "upscale", lambda n: {"scale": n},
        "enlarge N times with a super-resolution model (default: the bundled x2 model; --model for others)", factor, "N",
    ),
    FilterOption(
        "--interpolate", "interpolate", lambda n: {"factor": n},
        "multiply the frame rate by N, inventing the frames in between", factor, "N", "rate",
    ),
    FilterOption(
        "--fps", "interpolate", lambda fps: {"fps": fps},
        "convert to exactly this frame rate (up or down), e.g. 60000/1001", frame_rate, "NUM/DEN", "rate",
    ),
    FilterOption(
        "--flow-scale", "interpolate", lambda scale: {"scale": scale},
        "with --interpolate or --fps: estimate motion at this fraction of the frame size, 0.5 for 4K (default 1; "
        "one of 0.125, 0.25, 0.5, 1, 2, 4)", flow_scale, "S", joins=("--interpolate", "--fps"), alone=False,
    ),
)

# Keywords every filter shares; passed to each filter in the chain when given.
SHARED_OPTIONS = ("model", "device", "fp16", "scene_change")


@dataclass(frozen=True)
class FilterStep:
    """A filter option as the user gave it."""

    option: FilterOption
    value: Any
    joined: tuple[FilterStep, ...] = ()

    def __str__(self) -> str:
        bare = self.option.type is None or self.value is True
        return " ".join([self.option.flag if bare else f"{self.option.flag} {self.value}", *map(str, self.joined)])

    def kwargs(self) -> dict[str, Any]:
        """The filter's keywords: this option's, then those of the options joined to it."""
        merged = self.option.kwargs(self.value)
        for step in self.joined:
            merged |= step.kwargs()
        return merged


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """Register every row of :data:`FILTER_OPTIONS` and the shared ``--model/--device/--fp16`` options."""
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for option in FILTER_OPTIONS:
        target = parser if option.exclusive is None else groups.setdefault(
            option.exclusive, parser.add_mutually_exclusive_group()
        )
        if option.type is None:
            target.add_argument(option.flag, dest=option.dest, action="store_true", help=option.help)
        elif option.optional_value:
            target.add_argument(option.flag, dest=option.dest, nargs="?", const=True, type=option.type,
                                metavar=option.metavar, help=option.help)
        else:
            target.add_argument(option.flag, dest=option.dest, type=option.type, metavar=option.metavar, help=option.help)
    parser.add_argument("--model", metavar="ID", help="model id (see `vsvideogen models`); default: the filter's own")
    parser.add_argument("--device", metavar="D", help="torch device, e.g. cuda, cuda:1, cpu; default: best available")
    parser.add_argument(
        "--fp16", action=argparse.BooleanOptionalAction, default=None,
        help="half precision on the device; default: on for CUDA, off otherwise",
    )
    parser.add_argument(
        "--scene-change", type=scene_change, metavar="auto|none|T",
        help="where the filters find scene cuts (they never mix frames across one): auto, the built-in detector "
             "(default); none, no cuts; or the detector at threshold T in (0, 1), e.g. 0.25 to find fewer",
    )


def chain_from_args(args: argparse.Namespace) -> list[FilterStep]:
    """The filter steps the parsed arguments ask for, in chain order."""
    steps: list[FilterStep] = []
    for option in FILTER_OPTIONS:
        value = getattr(args, option.dest, None)
        if value is None or value is False:
            continue
        target = next((k for k, step in enumerate(steps) if step.option.flag in option.joins), None)
        if target is None and not option.alone:
            raise VSVideoGenError(FUNC, f"{option.flag} goes with {' or '.join(option.joins)}; add one of them")
        if target is None:
            steps.append(FilterStep(option, value))
        else:
            steps[target] = replace(steps[target], joined=(*steps[target].joined, FilterStep(option, value)))
    return steps


def shared_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The shared keywords (:data:`SHARED_OPTIONS`) the user set."""
    shared = {name: getattr(args, name) for name in SHARED_OPTIONS if getattr(args, name, None) is not None}
    if shared.get("scene_change") == "none":
        shared["scene_change"] = None
    return shared


def apply_chain(clip: vs.VideoNode, steps: Sequence[FilterStep], shared: dict[str, Any] | None = None) -> vs.VideoNode:
    """Apply the filters of ``steps`` in order; no steps is a pass-through.

    Raises:
        VSVideoGenError: A filter is not available, or ``model`` is given for more than one filter.
    """
    shared = dict(shared or {})
    for step, function in zip(steps, _filter_functions(steps, shared), strict=True):
        clip = function(clip, **step.kwargs(), **shared)
    return clip


def _filter_functions(steps: Sequence[FilterStep], shared: dict[str, Any]) -> list[Callable[..., vs.VideoNode]]:
    """Load the filters of ``steps``: a missing one fails here, before any decoding."""
    import vsvideogen

    if "model" in shared and len({step.option.filter for step in steps}) > 1:
        raise VSVideoGenError(FUNC, "--model is ambiguous with more than one filter; leave it out to use each filter's default")
    functions = []
    for step in steps:
        try:
            functions.append(getattr(vsvideogen, step.option.filter))
        except (AttributeError, ImportError) as exc:
            raise VSVideoGenError(
                FUNC, f"{step.option.flag} needs vsvideogen.{step.option.filter}, which cannot be loaded ({exc}); "
                "reinstall vsvideogen or leave the option out"
            ) from exc
    return functions


def open_source(path: Path) -> vs.VideoNode:
    """Decode ``path`` with BestSource.

    Raises:
        VSVideoGenError: The file is missing or holds no decodable video.
    """
    if not path.is_file():
        raise VSVideoGenError(FUNC, f"input {path} {'is not a file' if path.exists() else 'does not exist'}; give a video file")
    try:
        return vs.core.bs.VideoSource(source=str(path))
    except vs.Error as exc:
        raise VSVideoGenError(FUNC, f"cannot decode video from {path} ({_one_line(exc)}); give a video file ffmpeg can read") from exc


_VIDEO_SIZE = re.compile(r"^\s*Stream #0:\d+[^:]*: Video: .*?, (\d+)x(\d+)\b", re.MULTILINE)
_ROTATION = re.compile(r"rotation of (-?[0-9.]+) degrees")


def oriented(path: Path, clip: vs.VideoNode) -> tuple[vs.VideoNode, list[str]]:
    """``clip`` (BestSource's decode of ``path``) with the pixel aspect ratio turned with the picture where the
    file asks for a quarter turn (BestSource turns the picture, not ``_SARNum``/``_SARDen``), and a note where
    the decode is smaller than the file's picture (4:2:0 and 4:2:2 frames need even sizes, so an odd last
    column or row is dropped)."""
    report = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True,
                            errors="replace").stderr
    size = _VIDEO_SIZE.search(report)
    if size is None:
        return clip, []
    width, height = int(size.group(1)), int(size.group(2))
    turn = _ROTATION.search(report)
    quarter = turn is not None and round(float(turn.group(1))) % 180 == 90
    if quarter:
        width, height = height, width
    notes = []
    if (clip.width, clip.height) != (width, height):
        notes.append(f"{path.name} is {width}x{height}, decoded as {clip.width}x{clip.height} (its chroma subsampling "
                     "needs even sizes, so the odd last column or row is dropped); the output is that size")
    props = clip.get_frame(0).props
    if quarter and props.get("_SARNum", 0) > 0 and props.get("_SARDen", 0) > 0:
        clip = clip.std.SetFrameProps(_SARNum=props["_SARDen"], _SARDen=props["_SARNum"])
    return clip, notes


def check_constant_rate(path: Path, clip: vs.VideoNode) -> None:
    """Refuse a source whose frame times drift more than a frame interval from ``clip``'s constant rate: encoded
    at that rate, its video would drift from its audio. The times are the video packets' (read without
    decoding); jitter under a frame, as phones' nearly constant rates have, is accepted.

    Raises:
        VSVideoGenError: the frame rate is variable.
    """
    if clip.fps_num <= 0:
        return  # no rate to hold it to; encode() refuses a variable clip rate
    listing = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
                              "-map", "0:v:0", "-c", "copy", "-f", "mkvtimestamp_v2", "-"],
                             capture_output=True, text=True, errors="replace").stdout
    try:
        times = sorted(float(line) / 1000 for line in listing.splitlines() if line.strip() and not line.startswith("#"))
    except ValueError:
        return  # a stream without timestamps
    if len(times) != clip.num_frames:
        return  # not a packet per frame (e.g. fields coded apart): the packets' times do not tell
    interval = clip.fps_den / clip.fps_num
    drift = [abs(t - times[0] - k * interval) for k, t in enumerate(times)]
    worst = max(range(len(drift)), key=drift.__getitem__, default=0)
    if drift and drift[worst] > interval:
        raise VSVideoGenError(
            FUNC, f"{path.name} has a variable frame rate: frame {worst} is shown at {times[worst] - times[0]:.3f} s, "
            f"{drift[worst]:.3f} s off a constant {clip.fps_num}/{clip.fps_den} fps, so its audio would drift; make "
            f"the rate constant first, e.g. ffmpeg -i {path.name} -fps_mode cfr -r {clip.fps_num}/{clip.fps_den} "
            "-c:a copy constant.mkv"
        )


def _check_progressive(path: Path, clip: vs.VideoNode) -> None:
    """Refuse, before filtering, a source whose first frame is interlaced (the filters refuse such frames, and a
    command-line user needs the ffmpeg fix, not the VapourSynth one)."""
    order = field_order(clip.get_frame(0).props)
    if order is not None:
        raise VSVideoGenError(
            FUNC, f"{path.name} is interlaced ({order} field first) and the filters take progressive frames; "
            f"deinterlace it first, e.g. ffmpeg -i {path.name} -vf bwdif=mode=send_frame -c:a copy progressive.mkv "
            "(for progressive content flagged interlaced: -vf setfield=prog)"
        )


def _check_interpolation(path: Path, clip: vs.VideoNode, steps: Sequence[FilterStep], trimmed: bool) -> None:
    """Refuse, in command-line terms and before filtering, a frame-rate step ``clip`` cannot take: fewer than two
    frames (``trimmed``: as kept by --start/--end), or a rate too far below the clip's for interpolation."""
    for step in steps:
        if step.option.filter != "interpolate":
            continue
        if clip.num_frames < 2:
            kept = f"--start/--end keep {clip.num_frames} frame of {path.name}" if trimmed else f"{path.name} has 1 frame"
            raise VSVideoGenError(FUNC, f"{kept}, and {step.option.flag} needs 2 or more to put frames between")
        if step.option.flag == "--fps" and clip.fps_num > 0:
            fps = Fraction(clip.fps_num, clip.fps_den)
            if fps / step.value > MAX_REDUCTION:
                raise VSVideoGenError(
                    FUNC, f"--fps {step.value} is more than {MAX_REDUCTION} times lower than {path.name}'s {fps} fps, "
                    f"where interpolation cannot help: drop frames instead, e.g. ffmpeg -i {path.name} -vf "
                    f"fps={step.value} -c:a copy fewer.mkv"
                )


def select_frames(clip: vs.VideoNode, start: int | None, end: int | None) -> vs.VideoNode:
    """Frames ``start`` (default 0) up to, not including, ``end`` (default: all).

    Raises:
        VSVideoGenError: The range is empty or outside the clip.
    """
    first = 0 if start is None else start
    stop = clip.num_frames if end is None else end
    if not 0 <= first < stop <= clip.num_frames:
        raise VSVideoGenError(
            FUNC, f"frames {first} to {stop} are not a range of the input's {clip.num_frames} frames; "
            f"need 0 <= --start < --end <= {clip.num_frames}"
        )
    return clip[first:stop]


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped with imageio-ffmpeg (``IMAGEIO_FFMPEG_EXE`` overrides it)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


_FILE_START = re.compile(r"^\s*Duration: .*?, start: (-?[0-9.]+)", re.MULTILINE)
_FIRST_PTS = re.compile(r"\bpts_time:(-?[0-9.]+)")


def video_start(ffmpeg: str, path: Path) -> Fraction:
    """Seconds from the start of ``path`` (its earliest stream) to its first decoded video frame, the one the
    source clip starts with: the video track may start after the audio, or (a stream-copied cut) with frames a
    decoder drops before the first keyframe. 0 when the file carries no times."""
    report = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-copyts", "-i", str(path), "-map", "0:v:0", "-frames:v", "1",
         "-vf", "showinfo", "-f", "null", "-"], capture_output=True, text=True, errors="replace",
    ).stderr
    file_start, first = _FILE_START.search(report), _FIRST_PTS.search(report)
    if file_start is None or first is None:
        return Fraction(0)
    return max(Fraction(0), Fraction(first.group(1)) - Fraction(file_start.group(1)))


# Frame-property codes (ITU-T H.273) -> ffmpeg names.
_RANGE = {int(vs.Range.RANGE_FULL): "pc", int(vs.Range.RANGE_LIMITED): "tv"}
_MATRIX = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc", 10: "bt2020c"}
_PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 11: "smpte431", 12: "smpte432"}
_TRANSFER = {
    1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
    13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 18: "arib-std-b67",
}
_CHROMA_LOCATION = {0: "left", 1: "center", 2: "topleft", 3: "top", 4: "bottomleft", 5: "bottom"}
# Containers the default encode (H.264 by libx264) goes into; another needs a codec of the user's (after --).
_H264_CONTAINERS = {".mkv", ".mp4", ".m4v", ".mov", ".avi", ".ts", ".m2ts", ".mts"}
_VIDEO_CODEC_OPTIONS = {"-c", "-codec", "-c:v", "-codec:v", "-vcodec", "-c:v:0", "-codec:v:0"}


def _colour_options(props: vs.FrameProps) -> list[str]:
    """The frame's colour props as options of the piped input: ffmpeg takes primaries, transfer and chroma
    siting only there (as output options it drops them), and every encoder then tags what it is given."""
    options = []
    for flag, key, names in (
        ("-color_range", "_Range", _RANGE),
        ("-colorspace", "_Matrix", _MATRIX),
        ("-color_primaries", "_Primaries", _PRIMARIES),
        ("-color_trc", "_Transfer", _TRANSFER),
        ("-chroma_sample_location", "_ChromaLocation", _CHROMA_LOCATION),
    ):
        if props.get(key) in names:
            options += [flag, names[props[key]]]
    return options


def _x264_pix_fmt(fmt: vs.VideoFormat) -> str:
    """The libx264 pixel format closest to ``fmt`` (8-bit stays 8-bit, deeper becomes 10-bit)."""
    deep = "10le" if fmt.bits_per_sample > 8 else ""
    if fmt.color_family == vs.GRAY:
        return f"gray{deep}"
    layout = {(1, 1): "420", (1, 0): "422"}.get((fmt.subsampling_w, fmt.subsampling_h), "444")
    return f"yuv{layout}p{deep}"


def _video_options(fmt: vs.VideoFormat, props: vs.FrameProps, user: Sequence[str], suffix: str) -> list[str]:
    """Default encoder settings, left out when the user's options pick a video codec of their own; a ``.y4m``
    output gets the piped frames as they are (``-strict -1``: ffmpeg calls y4m's deeper formats unofficial);
    interlaced frames (``_FieldBased`` 1 or 2, passed through unfiltered) are encoded as interlaced, in the
    field order the y4m header carries. AVI, which keeps no presentation times, gets no B-frames: with them its
    picture started two frames late against the audio (80 ms at 25 fps)."""
    if any(arg in _VIDEO_CODEC_OPTIONS for arg in user):
        return []
    if suffix.lower() in VIDEO_ONLY:
        return ["-c:v", "rawvideo", "-strict", "-1"]
    interlaced = ["-flags", "+ildct+ilme"] if field_order(props) else []
    no_reordering = ["-bf", "0"] if suffix.lower() == ".avi" else []
    return ["-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", _x264_pix_fmt(fmt), *interlaced,
            *no_reordering]


def _hdr10_note(props: dict, ffmpeg_args: Sequence[str]) -> str | None:
    """A note giving the source's HDR10 static metadata (the ``MasteringDisplay*`` and ``ContentLightLevel*``
    frame props a source filter sets) as x265 options, which the piped frames cannot carry to the encoder; None
    when there is none, or the user's ffmpeg options already give it."""
    if any("master-display" in arg or "max-cll" in arg for arg in ffmpeg_args):
        return None
    options = []
    try:
        xs, ys = props["MasteringDisplayPrimariesX"], props["MasteringDisplayPrimariesY"]
        options.append(
            f"master-display=G{_x265_xy(xs[1], ys[1])}B{_x265_xy(xs[2], ys[2])}R{_x265_xy(xs[0], ys[0])}"
            f"WP{_x265_xy(props['MasteringDisplayWhitePointX'], props['MasteringDisplayWhitePointY'])}"
            f"L({round(props['MasteringDisplayMaxLuminance'] * 10000)},"
            f"{round(props['MasteringDisplayMinLuminance'] * 10000)})"
        )
    except (KeyError, IndexError, TypeError):
        pass
    if "ContentLightLevelMax" in props and "ContentLightLevelAverage" in props:
        options.append(f"max-cll={props['ContentLightLevelMax']},{props['ContentLightLevelAverage']}")
    if not options:
        return None
    return ("the source's HDR10 mastering-display and content-light metadata is not carried into the output; "
            f"give it to the encoder, e.g. -- -c:v libx265 -x265-params hdr10=1:{':'.join(options)}")


def _x265_xy(x: float, y: float) -> str:
    """A CIE 1931 chromaticity in x265's ``master-display`` units (0.00002)."""
    return f"({round(x * 50000)},{round(y * 50000)})"


def _source_timing(offset: Fraction, span: tuple[Fraction, Fraction] | None) -> tuple[list[str], list[str]]:
    """The source input's options and the output's that line the source's other streams up with the piped
    video, which starts at 0 and holds the source's frames from ``offset`` seconds after the source's start
    (:func:`video_start`, plus the start of ``span``, the part kept). Cut to ``span``, they start there too.
    Uncut, they are moved back by the offset, and the output by ``-output_ts_offset`` forward: the video starts
    as late after them as in the source (an offset on the pipe itself would be rounded to its frame interval)."""
    if span is not None:
        return ["-ss", _seconds(offset), "-t", _seconds(span[1])], []
    if not offset:
        return [], []
    return ["-itsoffset", _seconds(-offset)], ["-output_ts_offset", _seconds(offset)]


def _seconds(value: Fraction) -> str:
    return f"{float(value):.6f}"


@dataclass(frozen=True)
class Encoded:
    """What :func:`encode` wrote."""

    output: Path
    frames: int
    fps: Fraction
    notes: tuple[str, ...]


def encode(
    clip: vs.VideoNode,
    output: Path,
    source: Path,
    *,
    source_span: tuple[Fraction, Fraction] | None = None,
    ffmpeg_args: Sequence[str] = (),
    progress: Progress | None = None,
) -> Encoded:
    """Encode ``clip`` with ffmpeg into ``output``, with audio and subtitles from ``source``.

    ffmpeg starts once the first frame is ready (its properties set colour range, matrix, primaries and
    transfer of the output) and writes ``.<name>.<random>.part<suffix>`` next to ``output``; that file is
    renamed to ``output`` only when every frame was written and ffmpeg exited cleanly. On any error or
    interruption ffmpeg is killed and the temporary file removed.

    Args:
        clip: The video; converted with :func:`~vsvideogen.vs.y4m.y4m_compatible` when y4m cannot carry it.
        output: The file to write; its suffix picks the container. Replaced if it exists.
        source: The file audio, subtitles, metadata and chapters come from.
        source_span: (start, duration) in seconds of ``source`` that ``clip`` covers, when it was trimmed.
        ffmpeg_args: Output options appended after the defaults, so they override them.
        progress: Called after each frame with (frames written, total).

    Returns:
        What was written.

    Raises:
        VSVideoGenError: ffmpeg failed, the clip has no constant frame rate, or a filter failed on some frame
            (the message names the frame).
    """
    clip = y4m_compatible(clip)
    if clip.fps_num <= 0:
        raise VSVideoGenError(FUNC, "the filtered clip has a variable frame rate; give it a constant one, e.g. with --fps")
    ffmpeg = ffmpeg_exe()
    first_kept = video_start(ffmpeg, source) + (source_span[0] if source_span else 0)
    source_options, output_options = _source_timing(first_kept, source_span)
    temp = output.with_name(f".{output.name}.{secrets.token_hex(4)}.part{output.suffix}")
    process: subprocess.Popen[bytes] | None = None
    written = 0
    with tempfile.TemporaryFile() as log, tempfile.TemporaryDirectory(prefix="vsvideogen-") as workdir:
        kept_span = (first_kept, source_span[1]) if source_span else None
        streams = plan_streams(ffmpeg, source, probe_streams(ffmpeg, source), output.suffix, kept_span, Path(workdir))
        frames = _numbered_frames(clip)
        try:
            for frame in frames:
                if process is None:
                    first_props = dict(frame.props)
                    command = [
                        ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error", "-y",
                        *_colour_options(frame.props), "-f", "yuv4mpegpipe", "-i", "pipe:0",
                        *source_options, "-i", str(source), *streams.inputs,
                        "-map", "0:v:0", *streams.options,
                        "-map_metadata", "1",
                        *_video_options(clip.format, frame.props, ffmpeg_args, output.suffix),
                        *output_options,
                        *ffmpeg_args, str(temp),
                    ]
                    # A session of its own: Ctrl-C reaches only us, and we decide what happens to ffmpeg.
                    process = subprocess.Popen(
                        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
                    )
                    if not _feed(process, lambda pipe: pipe.write(y4m_header(clip, frame.props))):
                        break
                if not _feed(process, lambda pipe: write_y4m_frame(pipe, frame)):
                    break
                written += 1
                if progress is not None:
                    progress(written, clip.num_frames)
            if process is None:
                raise VSVideoGenError(FUNC, "the filtered clip has no frames; check the filters' settings")
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            if process.wait() != 0:
                raise VSVideoGenError(FUNC, f"ffmpeg failed: {_ffmpeg_error(log)}")
            os.replace(temp, output)
        except BaseException:
            if process is not None:
                _stop(process)
            temp.unlink(missing_ok=True)
            raise
        finally:
            frames.close()
    hdr10 = _hdr10_note(first_props, ffmpeg_args) if written else None
    return Encoded(output, written, Fraction(clip.fps_num, clip.fps_den), (*streams.notes, *filter(None, [hdr10])))


def _numbered_frames(clip: vs.VideoNode) -> Iterator[vs.VideoFrame]:
    """``clip``'s frames in order, several requested ahead; a frame that fails is named by its number."""
    frames = clip.frames(prefetch=max(1, vs.core.num_threads), backlog=2 * max(1, vs.core.num_threads))
    n = 0
    try:
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except vs.Error as exc:
                raise VSVideoGenError(FUNC, f"frame {n} of the output failed: {frame_failure(exc)}") from exc
            yield frame
            n += 1
    finally:
        frames.close()


# The class a traceback's last line names before a message of ours, which names its filter itself.
_ERROR_CLASS = re.compile(r"^vsvideogen\.errors\.\w+: (?=vsvideogen\.)")


def frame_failure(exc: vs.Error) -> str:
    """The cause of a failed frame request: the last line of its text (which carries the Python traceback of a
    failing callback), without the exception class our own messages would repeat."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return _ERROR_CLASS.sub("", lines[-1].strip()) if lines else "VapourSynth error"


def _feed(process: subprocess.Popen[bytes], write: Callable[[BinaryIO], Any]) -> bool:
    """Write to ffmpeg's stdin; False when ffmpeg stopped reading (it exited, for better or worse)."""
    try:
        write(process.stdin)
    except BrokenPipeError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        process.stdin.close()
    process.kill()
    process.wait()


def _ffmpeg_error(log: BinaryIO) -> str:
    log.seek(0)
    lines = [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]
    text = "; ".join(lines) or "no message"
    return text if len(text) <= 400 else text[:397] + "..."


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _check_paths(source: Path, output: Path, overwrite: bool) -> None:
    if str(output) == "-":
        raise VSVideoGenError(FUNC, "OUTPUT is '-'; give a file path (the encode goes to a temporary file next to it)")
    if not output.parent.is_dir():
        raise VSVideoGenError(FUNC, f"output folder {output.parent} does not exist; create it first")
    if output.is_dir():
        raise VSVideoGenError(FUNC, f"output {output} is a folder; give a file name such as {output / 'out.mp4'}")
    if output.exists():
        if source.exists() and output.samefile(source):
            raise VSVideoGenError(FUNC, f"output {output} is the input; give another file name")
        if not overwrite:
            raise VSVideoGenError(FUNC, f"output {output} exists; pass -y to replace it")


def _check_container(output: Path, ffmpeg_args: Sequence[str]) -> None:
    """Refuse, before any filtering, an output whose suffix the default encode cannot fill (an image, a WebM,
    no suffix), unless the ffmpeg options pick a video codec themselves."""
    suffix = output.suffix.lower()
    if suffix in _H264_CONTAINERS | VIDEO_ONLY or any(arg in _VIDEO_CODEC_OPTIONS for arg in ffmpeg_args):
        return
    known = ", ".join(sorted(_H264_CONTAINERS | VIDEO_ONLY))
    raise VSVideoGenError(FUNC, f"output {output.name}: the default encode (H.264) does not go into "
                                f"{suffix or 'a file without a suffix'}; name it with one of {known}, or pick a "
                                "codec for it (vsvideogen run ... -- -c:v libvpx-vp9 -c:a libopus for .webm)")


def process(
    source: Path,
    output: Path,
    *,
    steps: Sequence[FilterStep] = (),
    shared: dict[str, Any] | None = None,
    start: int | None = None,
    end: int | None = None,
    ffmpeg_args: Sequence[str] = (),
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Encoded:
    """The whole job: decode ``source``, keep frames ``start:end``, filter, encode into ``output``.

    Args:
        source: Input video file.
        output: Output file; its suffix picks the container.
        steps: Filters to apply, from :func:`chain_from_args`.
        shared: Shared filter keywords, from :func:`shared_from_args`.
        start: First source frame to keep.
        end: Source frame to stop before.
        ffmpeg_args: Extra ffmpeg output options.
        overwrite: Replace ``output`` if it exists.
        progress: Called after each frame with (frames written, total).

    Returns:
        What was written.
    """
    _check_paths(source, output, overwrite)
    _check_container(output, ffmpeg_args)
    _filter_functions(steps, dict(shared or {}))
    clip, notes = oriented(source, open_source(source))
    check_constant_rate(source, clip)
    trimmed = select_frames(clip, start, end)
    _check_interpolation(source, trimmed, steps, trimmed.num_frames != clip.num_frames)
    if steps:
        _check_progressive(source, trimmed)
    span = None
    if trimmed.num_frames != clip.num_frames:
        if clip.fps_num <= 0:
            raise VSVideoGenError(FUNC, f"{source} has a variable frame rate, so --start/--end cannot be matched in the audio; leave them out")
        frame_time = Fraction(clip.fps_den, clip.fps_num)
        span = ((start or 0) * frame_time, trimmed.num_frames * frame_time)
    filtered = apply_chain(trimmed, steps, shared)
    result = encode(filtered, output, source, source_span=span, ffmpeg_args=ffmpeg_args, progress=progress)
    return replace(result, notes=(*notes, *result.notes))
