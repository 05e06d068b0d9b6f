"""The blur of an out-of-focus lens, a uniform disc, and deconvolving a frame from it.

A point out of focus spreads into a disc of light (the circle of confusion); :func:`disc_kernel` is that disc of
a given radius in pixels, each pixel weighted by the share of it the disc covers. :func:`defocus_blur` convolves
a frame with it, the frame's edges mirrored (repeated when the frame is narrower than the disc), and
:func:`defocus_adjoint` is that operator's exact adjoint: the transposed convolution, with what falls on the
mirrored border folded back onto the pixels it came from. :func:`deconvolve_defocus` solves for the sharp frame
by half-quadratic splitting with a denoiser as the prior (:mod:`vsvideogen.ops.deconvolution`).

The disc is a plain convolution, which torch runs well on every device, so these ops have no CuPy kernel.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..errors import VSVideoGenError
from ._checks import check_nchw
from .deconvolution import Operator, half_quadratic_splitting


def disc_kernel(radius: float, supersample: int = 8) -> torch.Tensor:
    """A ``[k, k]`` defocus kernel (``k = 2 * ceil(radius) + 1``): the disc of ``radius`` pixels, each pixel
    weighted by the share of it the disc covers (``supersample`` x ``supersample`` points), summing to 1.

    ``radius <= 0`` gives ``[[1]]`` (no blur).
    """
    if radius <= 0:
        return torch.ones(1, 1)
    half = math.ceil(radius)
    points = (torch.arange(supersample, dtype=torch.float64) + 0.5) / supersample - 0.5
    coords = torch.arange(-half, half + 1, dtype=torch.float64)
    fine = (coords[:, None] + points[None, :]).reshape(-1)
    inside = (fine[:, None] ** 2 + fine[None, :] ** 2 <= radius * radius).double()
    k = 2 * half + 1
    weights = inside.reshape(k, supersample, k, supersample).sum((1, 3))
    if weights.sum() == 0:  # a disc smaller than every sample point: the centre pixel
        weights[half, half] = 1
    return (weights / weights.sum()).float()


@functools.lru_cache(maxsize=16)
def _shared_disc(radius: float) -> torch.Tensor:
    """:func:`disc_kernel` of ``radius``, made once for the many blurs of a deconvolution (read only)."""
    return disc_kernel(radius)


def defocus_blur(frames: torch.Tensor, radius: float) -> torch.Tensor:
    """``frames`` (``[..., C, H, W]``) convolved with :func:`disc_kernel` of ``radius``, edges mirrored (without
    repeating the edge pixel; repeated instead where a side is not longer than the disc's reach)."""
    kernel = _shared_disc(radius).to(frames)
    half = kernel.shape[-1] // 2
    if half == 0:
        return frames
    shape = frames.shape
    rows, cols = (_border_index(n, half, frames.device) for n in shape[-2:])
    padded = frames.reshape(-1, 1, *shape[-2:]).index_select(-2, rows).index_select(-1, cols)
    return F.conv2d(padded, kernel[None, None]).reshape(shape)


def defocus_adjoint(frames: torch.Tensor, radius: float) -> torch.Tensor:
    """The adjoint of :func:`defocus_blur` of ``radius``: ``<defocus_blur(x), y> = <x, defocus_adjoint(y)>``."""
    kernel = _shared_disc(radius).to(frames)
    half = kernel.shape[-1] // 2
    if half == 0:
        return frames
    shape = frames.shape
    height, width = shape[-2:]
    spread = F.conv_transpose2d(frames.reshape(-1, 1, height, width), kernel[None, None])
    rows, cols = (_border_index(n, half, frames.device) for n in (height, width))
    folded = spread.new_zeros(*spread.shape[:-1], width).index_add_(-1, cols, spread)
    return folded.new_zeros(*spread.shape[:-2], height, width).index_add_(-2, rows, folded).reshape(shape)


def _border_index(length: int, half: int, device: torch.device) -> torch.Tensor:
    """For each of the ``length + 2 * half`` positions of a side padded by ``half``, the position it copies."""
    index = torch.arange(-half, length + half, device=device)
    if half >= length:  # too short to mirror: repeat the edge
        return index.clamp(0, length - 1)
    index = index.abs()
    return torch.where(index > length - 1, 2 * (length - 1) - index, index)


def deconvolve_defocus(blurred: torch.Tensor, estimate: torch.Tensor, radius: float, *,
                       denoiser: Callable[[torch.Tensor, float], torch.Tensor], levels: Sequence[float],
                       noise: float, cg_steps: int, motion: tuple[Operator, Operator] | None = None) -> torch.Tensor:
    """A sharp frame whose :func:`defocus_blur` of ``radius`` is ``blurred``, by half-quadratic splitting from
    ``estimate``; with ``motion`` (a blur and its adjoint, e.g.
    :func:`vsvideogen.ops.exposure.exposure_operators`), the frame whose motion blur, then defocus, is
    ``blurred``.

    Args:
        blurred: ``[N, C, H, W]`` recorded frame, 0..1.
        estimate: The start, same shape (e.g. ``blurred``, or a deblurrer's frame).
        radius: The disc's radius in pixels (> 0).
        denoiser: ``denoiser(x, level)``: ``x`` (``[N, C, H, W]`` fp32, 0..1) with Gaussian noise of standard
            deviation ``level`` (0..1 scale) removed, same shape.
        levels: The denoiser's level at each iteration (0..1 scale, > 0; usually falling); empty: ``estimate``.
        noise: The recorded frame's noise (0..1 scale, > 0).
        cg_steps: Conjugate-gradient steps per iteration.
        motion: ``(M, M*)``: a motion blur the frame went through before the lens spread it, and its adjoint.

    Computed in fp32; returned in ``estimate``'s dtype.
    """
    check_nchw("deconvolve_defocus", "blurred", blurred, like=estimate)
    if not radius > 0:
        raise VSVideoGenError("deconvolve_defocus", f"radius={radius!r}: pass the disc's radius in pixels, above 0")
    blur, adjoint = (lambda x: x, lambda y: y) if motion is None else motion
    solved = half_quadratic_splitting(
        blurred.float(), estimate.float(), lambda x: defocus_blur(blur(x), radius),
        lambda y: adjoint(defocus_adjoint(y, radius)), denoiser=denoiser, levels=levels, noise=noise,
        cg_steps=cg_steps, func="deconvolve_defocus")
    return solved.to(estimate.dtype)
