"""Input checks shared by the filters.

Each check takes the calling filter's name (``func``) and raises
:class:`vsvideogen.errors.VSVideoGenError`, whose message reads
``vsvideogen.<func>: <what was wrong>; <what would be right>``.

Supported clip formats (what :func:`check_format` accepts):

* colour families GRAY, RGB and YUV (VapourSynth R81 has no COMPAT formats; an undefined family means a
  variable-format clip);
* integer samples of 8 to 16 bits, float samples of 16 or 32 bits;
* YUV subsampling 4:4:4, 4:2:2 or 4:2:0 (4:1:1, 4:1:0 and 4:4:0 are refused: convert them first).
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

import vapoursynth as vs

from ..errors import VSVideoGenError

#: ``(subsampling_w, subsampling_h)`` pairs accepted for YUV: 4:4:4, 4:2:2, 4:2:0.
SUPPORTED_SUBSAMPLING = ((0, 0), (1, 0), (1, 1))


def _suggest_format(fmt: vs.VideoFormat, *, bits: int | None = None, subsampling: tuple[int, int] | None = None) -> str:
    """Name of a supported format close to ``fmt``, for error messages."""
    family = fmt.color_family if fmt.color_family != vs.UNDEFINED else vs.YUV
    if bits is None:
        bits, sample_type = fmt.bits_per_sample, fmt.sample_type
    else:
        sample_type = vs.FLOAT if bits == 32 else vs.INTEGER
    ssw, ssh = subsampling if subsampling is not None else (fmt.subsampling_w, fmt.subsampling_h)
    if family != vs.YUV:
        ssw = ssh = 0
    return vs.core.query_video_format(family, sample_type, bits, ssw, ssh).name


def check_format(fmt: vs.VideoFormat, func: str) -> None:
    """Refuse formats the frame converter cannot read (see the module docstring for what is supported).

    Raises:
        VSVideoGenError: the format is undefined (variable) or unsupported.
    """
    if fmt is None or fmt.color_family == vs.UNDEFINED or fmt.id == 0:
        raise VSVideoGenError(
            func,
            "clip has a variable format; give it a constant one first, e.g. clip.resize.Bicubic(format=vs.YUV420P10)",
        )
    if fmt.sample_type == vs.INTEGER and not 8 <= fmt.bits_per_sample <= 16:
        raise VSVideoGenError(
            func,
            f"{fmt.name}: integer samples of {fmt.bits_per_sample} bits are not supported; use 8 to 16 bits or "
            f"float, e.g. clip.resize.Point(format=vs.{_suggest_format(fmt, bits=16)})",
        )
    if fmt.sample_type == vs.FLOAT and fmt.bits_per_sample not in (16, 32):
        raise VSVideoGenError(
            func,
            f"{fmt.name}: float samples of {fmt.bits_per_sample} bits are not supported; use 16 or 32-bit float, "
            f"e.g. clip.resize.Point(format=vs.{_suggest_format(fmt, bits=32)})",
        )
    if fmt.color_family == vs.YUV and (fmt.subsampling_w, fmt.subsampling_h) not in SUPPORTED_SUBSAMPLING:
        raise VSVideoGenError(
            func,
            f"{fmt.name}: chroma subsampling {fmt.subsampling_w},{fmt.subsampling_h} (log2 w,h) is not supported; "
            f"use 4:4:4, 4:2:2 or 4:2:0, e.g. clip.resize.Bicubic(format=vs.{_suggest_format(fmt, subsampling=(0, 0))})",
        )


def check_clip(clip: Any, func: str, *, min_frames: int = 1) -> None:
    """Check that ``clip`` is a constant-format, constant-size video clip the filters can read.

    Args:
        clip: what the user passed as the clip.
        func: the calling filter's name, e.g. ``"interpolate"``.
        min_frames: the fewest frames the filter can work with (temporal filters need more than one).

    Raises:
        VSVideoGenError: ``clip`` is not a ``vs.VideoNode``; has a variable format or size; has fewer than
            ``min_frames`` frames; or has an unsupported format (see :func:`check_format`).
    """
    if not isinstance(clip, vs.VideoNode):
        raise VSVideoGenError(
            func, f"clip must be a vs.VideoNode, not {type(clip).__name__}; pass a video clip, e.g. core.bs.VideoSource(path)"
        )
    check_format(clip.format, func)
    if clip.width == 0 or clip.height == 0:
        raise VSVideoGenError(
            func,
            "clip has a variable frame size; give it a fixed one first, e.g. clip.resize.Bicubic(width=1920, height=1080)",
        )
    if clip.num_frames < min_frames:
        raise VSVideoGenError(
            func,
            f"clip has {clip.num_frames} frame(s); this filter needs at least {min_frames}, pass a longer clip",
        )


def check_choice(value: Any, choices: Collection[Any], name: str, func: str) -> None:
    """Check that ``value`` is one of ``choices``.

    Raises:
        VSVideoGenError: it is not; the message lists the choices.
    """
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise VSVideoGenError(func, f"{name}={value!r} is not supported; use one of {listed}")


def check_positive_int(value: Any, name: str, func: str, *, minimum: int = 1) -> int:
    """Check that ``value`` is an ``int`` (not a bool) of at least ``minimum``, and return it.

    Raises:
        VSVideoGenError: it is not an int, or is too small.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        example = int(value) if isinstance(value, float) and value.is_integer() and value >= minimum else minimum
        raise VSVideoGenError(func, f"{name} must be an int, not {type(value).__name__} {value!r}; pass e.g. {name}={example}")
    if value < minimum:
        raise VSVideoGenError(func, f"{name}={value} is too small; use an int >= {minimum}")
    return value
