"""Colour maths between VapourSynth sample values and nominal RGB, all in float64.

Conventions (the same as VapourSynth's ``resize``, i.e. zimg):

* *Nominal* values: luma and R, G, B run 0..1; chroma (Cb, Cr) runs -0.5..0.5.
* *Codes*: the numbers stored in a frame. Integer formats of ``bits`` bits store
  ``code = nominal * scale + offset`` with

  ======================  ==========================  ===========================
  plane                   limited range               full range
  ======================  ==========================  ===========================
  Y, R, G, B, GRAY        219 << (bits-8), 16 << ...  2**bits - 1, 0
  Cb, Cr                  224 << (bits-8), 128 << ..  2**bits - 1, 2**(bits-1)
  ======================  ==========================  ===========================

  Float formats (16 and 32 bit) store nominal values as they are: full range, chroma centred at 0;
  ``_Range`` is ignored for them, as VapourSynth does.
* Matrices come from ``_Matrix`` (:class:`vapoursynth.MatrixCoefficients`): BT.709 (1), BT.601 (5, 6),
  BT.2020 non-constant luminance (9), FCC (4) and SMPTE 240M (7). Absent or unspecified (2), the matrix is
  guessed from the frame size: BT.709 when ``width >= 1280`` or ``height >= 720``, else BT.601.
* Range comes from ``_Range`` (:class:`vapoursynth.Range`: 0 limited, 1 full). Absent, YUV and GRAY
  integer clips are limited range and RGB integer clips full range.
* Chroma siting comes from ``_ChromaLocation`` (:class:`vapoursynth.ChromaLocation`); absent, it is left
  (MPEG-2 style: horizontally co-sited with the even luma columns, vertically centred).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import vapoursynth as vs

from ..errors import VSVideoGenError

#: (Kr, Kb) luma weights of each supported ``_Matrix`` value.
LUMA_WEIGHTS: dict[int, tuple[float, float]] = {
    vs.MATRIX_BT709: (0.2126, 0.0722),
    vs.MATRIX_FCC: (0.30, 0.11),
    vs.MATRIX_BT470_BG: (0.299, 0.114),
    vs.MATRIX_ST170_M: (0.299, 0.114),
    vs.MATRIX_ST240_M: (0.212, 0.087),
    vs.MATRIX_BT2020_NCL: (0.2627, 0.0593),
}

#: The width/height from which an unspecified matrix is taken as BT.709 rather than BT.601.
HD_WIDTH, HD_HEIGHT = 1280, 720


@dataclass(frozen=True)
class Colorimetry:
    """What the codes of one frame mean, after defaults are applied.

    Attributes:
        matrix: a key of :data:`LUMA_WEIGHTS` for YUV, ``vs.MATRIX_RGB`` (0) for RGB and GRAY.
        full_range: True for full range (always True for float formats).
        chroma_location: a :class:`vapoursynth.ChromaLocation` value (only used by subsampled YUV).
    """

    matrix: int
    full_range: bool
    chroma_location: int


def default_matrix(width: int, height: int) -> int:
    """The matrix assumed when ``_Matrix`` is absent or unspecified: BT.709 for HD sizes, else BT.601."""
    return vs.MATRIX_BT709 if width >= HD_WIDTH or height >= HD_HEIGHT else vs.MATRIX_ST170_M


def resolve_matrix(value: int | None, width: int, height: int, func: str) -> int:
    """Turn a ``_Matrix`` prop (or None when absent) into a key of :data:`LUMA_WEIGHTS`.

    Raises:
        VSVideoGenError: the matrix is one this package cannot convert (e.g. RGB on a YUV frame, YCgCo,
            BT.2020 constant luminance, ICtCp).
    """
    if value is None or value == vs.MATRIX_UNSPECIFIED:
        return default_matrix(width, height)
    if value not in LUMA_WEIGHTS:
        supported = ", ".join(f"{m} ({vs.MatrixCoefficients(m).name})" for m in sorted(LUMA_WEIGHTS))
        raise VSVideoGenError(
            func,
            f"_Matrix={value} on a YUV frame is not supported; supported values are {supported}: convert with "
            "e.g. clip.resize.Bicubic(format=vs.YUV444P16, matrix_s='709') or fix the prop with "
            "clip.std.SetFrameProps(_Matrix=1)",
        )
    return int(value)


def resolve_range(value: int | None, fmt: vs.VideoFormat, func: str) -> bool:
    """True when frames of ``fmt`` with ``_Range=value`` (None when absent) are full range.

    Raises:
        VSVideoGenError: ``value`` is neither limited (0) nor full (1).
    """
    if value is not None and value not in vs.Range.__members__.values():
        raise VSVideoGenError(func, f"_Range={value} is not a range; set 0 (limited) or 1 (full), e.g. "
                                    "clip.std.SetFrameProps(_Range=vs.RANGE_LIMITED)")
    if fmt.sample_type == vs.FLOAT:
        return True
    if value is None:
        return fmt.color_family == vs.RGB
    return int(value) == vs.RANGE_FULL


def field_order(props) -> str | None:
    """``"top"`` or ``"bottom"``: the field a frame with ``props`` (``_FieldBased`` 2 or 1) shows first; None for
    a progressive frame."""
    return {vs.FIELD_TOP: "top", vs.FIELD_BOTTOM: "bottom"}.get(props.get("_FieldBased"))


def resolve_chroma_location(value: int | None, func: str) -> int:
    """Turn a ``_ChromaLocation`` prop (None when absent: left) into a :class:`vapoursynth.ChromaLocation`."""
    if value is None:
        return vs.CHROMA_LEFT
    if value not in vs.ChromaLocation.__members__.values():
        raise VSVideoGenError(func, f"_ChromaLocation={value} is not a chroma location; use 0..5 (vs.ChromaLocation)")
    return int(value)


def colorimetry_from_props(props, fmt: vs.VideoFormat, width: int, height: int, func: str) -> Colorimetry:
    """Read ``_Matrix``, ``_Range`` and ``_ChromaLocation`` from ``props`` (a mapping) and apply the defaults."""
    matrix = vs.MATRIX_RGB
    if fmt.color_family == vs.YUV:
        matrix = resolve_matrix(props.get("_Matrix"), width, height, func)
    location = vs.CHROMA_LEFT
    if fmt.subsampling_w or fmt.subsampling_h:
        location = resolve_chroma_location(props.get("_ChromaLocation"), func)
    return Colorimetry(matrix, resolve_range(props.get("_Range"), fmt, func), location)


def integer_peak(bits: int) -> int:
    """The largest code of a ``bits``-bit integer format."""
    return (1 << bits) - 1


def code_scale(fmt: vs.VideoFormat, full_range: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-plane ``(scale, offset)`` with ``code = nominal * scale + offset``; float64 arrays of ``num_planes``.

    This is the integer <-> float normalisation: ``nominal = (code - offset) / scale``.
    """
    n = fmt.num_planes
    if fmt.sample_type == vs.FLOAT:
        return np.ones(n), np.zeros(n)
    bits = fmt.bits_per_sample
    if full_range:
        scale = np.full(n, float(integer_peak(bits)))
        offset = np.zeros(n)
        if fmt.color_family == vs.YUV:
            offset[1:] = float(1 << (bits - 1))
        return scale, offset
    shift = float(1 << (bits - 8))
    scale = np.full(n, 219.0 * shift)
    offset = np.full(n, 16.0 * shift)
    if fmt.color_family == vs.YUV:
        scale[1:] = 224.0 * shift
        offset[1:] = 128.0 * shift
    return scale, offset


def rgb_to_yuv_matrix(matrix: int) -> np.ndarray:
    """``[3, 3]`` float64 taking nominal R, G, B to nominal Y, Cb, Cr."""
    kr, kb = LUMA_WEIGHTS[matrix]
    kg = 1.0 - kr - kb
    return np.array(
        [
            [kr, kg, kb],
            [-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5],
            [0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))],
        ]
    )


def yuv_to_rgb_matrix(matrix: int) -> np.ndarray:
    """``[3, 3]`` float64 taking nominal Y, Cb, Cr to nominal R, G, B (the inverse of :func:`rgb_to_yuv_matrix`)."""
    kr, kb = LUMA_WEIGHTS[matrix]
    kg = 1.0 - kr - kb
    return np.array(
        [
            [1.0, 0.0, 2 * (1 - kr)],
            [1.0, -2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg],
            [1.0, 2 * (1 - kb), 0.0],
        ]
    )


def decode_affine(fmt: vs.VideoFormat, colorimetry: Colorimetry) -> tuple[np.ndarray, np.ndarray]:
    """``(M, o)`` with ``nominal_out = M @ codes + o`` per pixel, float64.

    For YUV the output is nominal RGB (matrix conversion and range scaling in one step); for RGB and GRAY it
    is the plane itself scaled to 0..1 (``M`` is diagonal, ``[1, 1]`` for GRAY).
    """
    scale, offset = code_scale(fmt, colorimetry.full_range)
    unscale = np.diag(1.0 / scale)
    m = yuv_to_rgb_matrix(colorimetry.matrix) @ unscale if fmt.color_family == vs.YUV else unscale
    return m, -m @ offset


def encode_affine(fmt: vs.VideoFormat, colorimetry: Colorimetry) -> tuple[np.ndarray, np.ndarray]:
    """``(M, o)`` with ``codes = M @ nominal_in + o`` per pixel, float64: the inverse of :func:`decode_affine`."""
    scale, offset = code_scale(fmt, colorimetry.full_range)
    m = np.diag(scale)
    if fmt.color_family == vs.YUV:
        m = m @ rgb_to_yuv_matrix(colorimetry.matrix)
    return m, offset.copy()


def chroma_siting(chroma_location: int, subsampling_w: int, subsampling_h: int) -> tuple[float, float]:
    """Where chroma sample ``(j, k)`` sits, as ``(x, y)`` luma offsets from luma pixel ``(j << ssw, k << ssh)``."""
    sw, sh = 1 << subsampling_w, 1 << subsampling_h
    centred_x, centred_y = (sw - 1) / 2, (sh - 1) / 2
    left = chroma_location in (vs.CHROMA_LEFT, vs.CHROMA_TOP_LEFT, vs.CHROMA_BOTTOM_LEFT)
    x = 0.0 if left else centred_x
    if chroma_location in (vs.CHROMA_TOP_LEFT, vs.CHROMA_TOP):
        y = 0.0
    elif chroma_location in (vs.CHROMA_BOTTOM_LEFT, vs.CHROMA_BOTTOM):
        y = float(sh - 1)
    else:
        y = centred_y
    return x, y


def chroma_upsample_shift(fmt: vs.VideoFormat, chroma_location: int) -> tuple[float, float]:
    """``(shift_x, shift_y)`` in chroma pixels for :func:`vsvideogen.ops.resize.resize` from chroma to luma size.

    Luma pixel ``i`` lies at chroma coordinate ``(i - p) / s`` (``s`` the subsampling factor, ``p`` the siting
    offset); resize reads ``(i + 0.5) / s - 0.5 + shift``, hence ``shift = 0.5 - (p + 0.5) / s``.
    """
    px, py = chroma_siting(chroma_location, fmt.subsampling_w, fmt.subsampling_h)
    sw, sh = 1 << fmt.subsampling_w, 1 << fmt.subsampling_h
    return 0.5 - (px + 0.5) / sw, 0.5 - (py + 0.5) / sh


def chroma_downsample_shift(fmt: vs.VideoFormat, chroma_location: int) -> tuple[float, float]:
    """``(shift_x, shift_y)`` in luma pixels for resizing luma-size chroma down to the subsampled size.

    Chroma sample ``j`` lies at luma coordinate ``s * j + p``; resize reads ``(j + 0.5) * s - 0.5 + shift``,
    hence ``shift = p + 0.5 - s / 2``.
    """
    px, py = chroma_siting(chroma_location, fmt.subsampling_w, fmt.subsampling_h)
    sw, sh = 1 << fmt.subsampling_w, 1 << fmt.subsampling_h
    return px + 0.5 - sw / 2, py + 0.5 - sh / 2
