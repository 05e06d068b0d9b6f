"""YUV4MPEG2 (y4m) output: the uncompressed stream ``vsvideogen run`` pipes into ffmpeg.

The header carries size, frame rate, sample aspect ratio, chroma layout/bit depth, chroma siting (8-bit 4:2:0
only) and, as ffmpeg's ``XCOLORRANGE`` extension, the colour range. Clips whose format y4m cannot carry (RGB,
float, unusual subsampling or bit depth) are converted first by :func:`y4m_compatible`.
"""
from __future__ import annotations

from typing import BinaryIO

import vapoursynth as vs

from .formats import default_matrix, field_order

__all__ = ["y4m_compatible", "y4m_header", "write_y4m_frame"]

_DEPTHS = (8, 10, 12, 16)
_SUBSAMPLING = {(1, 1): "420", (1, 0): "422", (0, 0): "444"}
# _ChromaLocation (H.273 order: left, center, top-left, ...) -> 8-bit 4:2:0 tag.
_SITING_420 = {0: "420mpeg2", 1: "420jpeg", 2: "420paldv"}


def y4m_compatible(clip: vs.VideoNode) -> vs.VideoNode:
    """Return ``clip`` converted, only where needed, to a format a y4m stream can carry.

    RGB becomes YUV 4:4:4 in the matrix readers assume for the frame size (:func:`~vsvideogen.vs.formats.default_matrix`:
    BT.709 for HD, BT.601 below, as y4m cannot record it; the ``_Matrix`` prop says which for an encoder), float
    becomes 16-bit integer, 4:1:1/4:4:0 become 4:4:4 and other bit depths round up to the next of 8/10/12/16.

    Args:
        clip: Any constant-format video clip.

    Returns:
        The clip itself when y4m already fits, else a converted clip.
    """
    fmt = clip.format
    family = vs.GRAY if fmt.color_family == vs.GRAY else vs.YUV
    depth = 16 if fmt.sample_type == vs.FLOAT else next(d for d in _DEPTHS if d >= fmt.bits_per_sample)
    subsampling = (fmt.subsampling_w, fmt.subsampling_h)
    if family == vs.GRAY or subsampling not in _SUBSAMPLING:
        subsampling = (0, 0)
    target = vs.core.query_video_format(family, vs.INTEGER, depth, *subsampling)
    if target.id == fmt.id:
        return clip
    if fmt.color_family == vs.RGB:
        return clip.resize.Bicubic(format=target.id, matrix=default_matrix(clip.width, clip.height))
    return clip.resize.Bicubic(format=target.id)


def _colour_tag(fmt: vs.VideoFormat, chroma_location: int | None) -> str:
    depth = fmt.bits_per_sample
    if fmt.color_family == vs.GRAY:
        return "mono" if depth == 8 else f"mono{depth}"
    layout = _SUBSAMPLING[(fmt.subsampling_w, fmt.subsampling_h)]
    if depth > 8:
        return f"{layout}p{depth}"
    if layout == "420":
        return _SITING_420.get(chroma_location if chroma_location is not None else 0, "420")
    return layout


def y4m_header(clip: vs.VideoNode, props: vs.FrameProps | dict) -> bytes:
    """The stream header for ``clip``, whose first frame has ``props``.

    Args:
        clip: A clip already passed through :func:`y4m_compatible`, with a constant frame rate.
        props: Frame properties of the first frame (``_SARNum``/``_SARDen``, ``_ChromaLocation``, ``_Range``,
            ``_FieldBased``: 1 bottom field first, 2 top field first, else progressive).

    Returns:
        The header line, newline included.
    """
    sar_num, sar_den = props.get("_SARNum", 0), props.get("_SARDen", 0)
    fields = [
        "YUV4MPEG2",
        f"W{clip.width}",
        f"H{clip.height}",
        f"F{clip.fps_num}:{clip.fps_den}",
        {"bottom": "Ib", "top": "It"}.get(field_order(props), "Ip"),
        f"A{sar_num}:{sar_den}" if sar_num > 0 and sar_den > 0 else "A0:0",
        f"C{_colour_tag(clip.format, props.get('_ChromaLocation'))}",
    ]
    colour_range = props.get("_Range")
    if colour_range == vs.Range.RANGE_FULL:
        fields.append("XCOLORRANGE=FULL")
    elif colour_range == vs.Range.RANGE_LIMITED:
        fields.append("XCOLORRANGE=LIMITED")
    return (" ".join(fields) + "\n").encode("ascii")


def write_y4m_frame(stream: BinaryIO, frame: vs.VideoFrame) -> None:
    """Write one ``FRAME`` record: the marker line, then every plane row by row without padding."""
    stream.write(b"FRAME\n")
    for plane in range(frame.format.num_planes):
        view = memoryview(frame[plane])
        stream.write(view if view.c_contiguous else view.tobytes())
