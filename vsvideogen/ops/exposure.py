"""The motion blur an open shutter makes, and pulling a deblurred frame back to consistency with it.

A shutter open for ``exposure`` frame intervals (the shutter angle / 360) records the mean of the instants it
stays open. The instant ``t`` frame intervals from the frame's own time shows the sharp frame moved by ``v t``,
so the recorded frame is the mean of the sharp frame sampled at ``p - v t`` for ``t`` uniform in
``[-exposure / 2, exposure / 2]``: :func:`exposure_blur`. The velocity ``v`` may differ between the half of the
exposure after the frame's time and the half before it (``before``): a path of two straight pieces, which
follows a pixel that speeds up, slows down or turns, where one constant velocity cannot. Every pixel averages
the same instants, as many as the frame's longest blur needs. On CUDA the whole blur is one kernel launch
(``kernels/exposure.cu``: each pixel loops over the instants, summing in fp32); elsewhere
:func:`exposure_blur_reference` samples the frame at every instant's positions with torch's ``grid_sample``.
For a velocity field that is smooth on the scale of the blur, the operator's adjoint is the same blur with
the two halves' velocities swapped (its own adjoint under a constant velocity).

:func:`refine_to_exposure` takes Landweber steps ``x <- clip(x + A*(b - A x))`` on ``||A x - b||^2`` from a
deblurrer's estimate ``x`` of a blurred frame ``b``: where the estimate is still too blurred to explain ``b``,
the steps sharpen it along the motion; a per-pixel weight says how much of the change to keep.
:func:`deconvolve_to_exposure` solves the same model much further, by half-quadratic splitting with a denoiser
as the image prior (:func:`vsvideogen.ops.deconvolution.half_quadratic_splitting`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VSVideoGenError
from . import _cuda
from ._checks import check_nchw
from .deconvolution import half_quadratic_splitting

#: Largest spacing (pixels) of the instants :func:`exposure_blur` averages along the longest blur.
TAP_SPACING = 0.5
#: Most instants :func:`exposure_blur` averages (a blur longer than ``TAP_SPACING * (MAX_TAPS - 1)`` px is
#: sampled more coarsely).
MAX_TAPS = 65
#: Most samples (instants x pixels) one ``grid_sample`` call of :func:`exposure_blur_reference` takes.
REFERENCE_SAMPLES = 1 << 24


def exposure_taps(longest: float) -> int:
    """Instants :func:`exposure_blur` averages for a longest blur of ``longest`` pixels (1 for no blur)."""
    return int(min(MAX_TAPS, 1 + math.ceil(max(longest, 0.0) / TAP_SPACING)))


def exposure_blur(image: torch.Tensor, velocity: torch.Tensor, exposure: float, taps: int | None = None, *,
                  before: torch.Tensor | None = None) -> torch.Tensor:
    """The frame a shutter open for ``exposure`` frame intervals records of ``image`` moving at ``velocity``.

    Args:
        image: ``[N, C, H, W]`` sharp frame (fp16 or fp32).
        velocity: ``[N, 2, H, W]`` motion in pixels per frame interval (x, y) at each pixel, over the half of the
            exposure after the frame's time.
        exposure: Frame intervals the shutter is open (shutter angle / 360), >= 0.
        taps: Instants averaged, spread evenly over the exposure; None: :func:`exposure_taps` of the longest
            blur in ``velocity`` and ``before``.
        before: ``[N, 2, H, W]`` motion over the half of the exposure before the frame's time; None:
            ``velocity`` (one constant velocity).

    Returns:
        ``[N, C, H, W]``: the mean of ``image`` sampled at ``p - v t`` (bilinear, border clamped) for ``taps``
        times ``t`` evenly from ``-exposure / 2`` to ``exposure / 2``, ``v`` being ``velocity`` for ``t >= 0``
        and ``before`` for ``t < 0``.
    """
    check_nchw("exposure_blur", "image", image)
    check_nchw("exposure_blur", "velocity", velocity, like=image, channels=2)
    if before is None:
        before = velocity
    else:
        check_nchw("exposure_blur", "before", before, like=image, channels=2)
    if exposure < 0:
        raise VSVideoGenError("exposure_blur", f"exposure={exposure!r}: pass the frame intervals the shutter is open, >= 0")
    if taps is None:
        taps = exposure_taps(longest_speed(velocity, before) * exposure)
    if taps == 1 or exposure == 0:
        return image.clone()
    if _cuda.use_kernel(image, velocity, before):
        return exposure_blur_kernel(image, velocity, before, exposure, taps, _cuda.launcher("exposure_blur", image.device))
    return exposure_blur_reference(image, velocity, before, exposure, taps)


def longest_speed(velocity: torch.Tensor, before: torch.Tensor) -> float:
    """The largest speed (pixels per frame interval) in either half's velocity field ``[N, 2, H, W]``."""
    return max(float(v.float().norm(dim=1).max()) for v in (velocity, before))


def exposure_blur_reference(image: torch.Tensor, velocity: torch.Tensor, before: torch.Tensor, exposure: float,
                            taps: int) -> torch.Tensor:
    """:func:`exposure_blur` in plain torch: ``grid_sample`` of the frame at each instant's positions (fp32),
    summed in fp32. A call samples as many instants as torch has threads (``grid_sample`` on the CPU spreads a
    batch over them), fewer where that would pass ``REFERENCE_SAMPLES`` samples."""
    n, c, h, w = image.shape
    device = image.device
    # grid_sample's align_corners=True coordinates: -1..1 over pixel centres 0..size-1 (max(.., 1) for 1 px)
    scale = torch.tensor([2 / max(w - 1, 1), 2 / max(h - 1, 1)], device=device)
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                            torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    centres = torch.stack((xs, ys), dim=2) * scale - 1  # [H, W, 2]
    times = [exposure * (k / (taps - 1) - 0.5) for k in range(taps)]
    chunk = max(1, min(torch.get_num_threads(), REFERENCE_SAMPLES // max(h * w, 1)))
    total = torch.zeros((n, c, h, w), dtype=torch.float32, device=device)
    for item in range(n):
        frame = image[item:item + 1].float()
        for field, half in ((before, [t for t in times if t < 0]), (velocity, [t for t in times if t >= 0])):
            step = field[item].float().permute(1, 2, 0) * scale  # [H, W, 2]: this half's motion in grid units
            for first in range(0, len(half), chunk):
                minus_t = torch.tensor([-t for t in half[first:first + chunk]], device=device).view(-1, 1, 1, 1)
                grid = torch.addcmul(centres, minus_t, step)  # the positions p - v t
                samples = F.grid_sample(frame.expand(grid.shape[0], -1, -1, -1), grid, mode="bilinear",
                                        padding_mode="border", align_corners=True)
                total[item] += samples.sum(0)
    return (total / taps).to(image.dtype)


def exposure_blur_kernel(image: torch.Tensor, velocity: torch.Tensor, before: torch.Tensor, exposure: float,
                         taps: int, launch: _cuda.Launch) -> torch.Tensor:
    """:func:`exposure_blur` through the ``exposure_blur_*`` kernel, run by ``launch`` (CuPy on CUDA, a CPU
    harness in tests): one launch for all ``taps`` (>= 2) instants. Both velocities run as fp32; any strides."""
    velocity, before = velocity.float(), before.float()
    n, c, h, w = image.shape
    out = torch.empty((n, c, h, w), dtype=image.dtype, device=image.device)
    args = [image, velocity, before, out, np.float32(exposure), np.int32(taps), *map(np.int64, (n, c, h, w))]
    args += [*_cuda.strides(image), *_cuda.strides(velocity), *_cuda.strides(before), *_cuda.strides(out)]
    launch(_cuda.kernel_name("exposure_blur", image.dtype), n * h * w, args)
    return out


def refine_to_exposure(blurred: torch.Tensor, estimate: torch.Tensor, velocity: torch.Tensor, exposure: float,
                       steps: int, weight: torch.Tensor, *, before: torch.Tensor | None = None) -> torch.Tensor:
    """``estimate`` moved towards a sharp frame whose :func:`exposure_blur` is ``blurred``.

    Args:
        blurred: ``[N, C, H, W]`` recorded frame, 0..1.
        estimate: A deblurrer's sharp estimate of it, same shape.
        velocity: ``[N, 2, H, W]`` motion after ``blurred``'s time, pixels per frame interval.
        exposure: Frame intervals the shutter was open (shutter angle / 360).
        steps: Landweber steps ``x <- clamp(x + A*(blurred - A x), 0, 1)`` from ``estimate``, ``A`` the exposure
            blur and ``A*`` the same blur with ``velocity`` and ``before`` swapped; 0 returns ``estimate``.
        weight: ``[N, 1, H, W]`` in 0..1, the share of each pixel's change to keep (0: the estimate).
        before: ``[N, 2, H, W]`` motion before ``blurred``'s time; None: ``velocity``.

    Computed in fp32; returned in ``estimate``'s dtype.
    """
    check_nchw("refine_to_exposure", "weight", weight, like=estimate, channels=1)
    if steps <= 0:
        return estimate
    b, x0 = blurred.float(), estimate.float()
    blur, adjoint = _blur_and_adjoint(velocity, before, exposure)
    x = x0
    for _ in range(steps):
        x = (x + adjoint(b - blur(x))).clamp(0.0, 1.0)
    return (x0 + weight.float() * (x - x0)).to(estimate.dtype)


def deconvolve_to_exposure(blurred: torch.Tensor, estimate: torch.Tensor, velocity: torch.Tensor, exposure: float,
                           weight: torch.Tensor, *, denoiser: Callable[[torch.Tensor, float], torch.Tensor],
                           levels: Sequence[float], noise: float, cg_steps: int = 3,
                           before: torch.Tensor | None = None) -> torch.Tensor:
    """A sharp frame whose :func:`exposure_blur` is ``blurred``, by half-quadratic splitting from ``estimate``.

    Args:
        blurred: ``[N, C, H, W]`` recorded frame, 0..1.
        estimate: A deblurrer's sharp estimate of it, same shape: the start.
        velocity: ``[N, 2, H, W]`` motion after ``blurred``'s time, pixels per frame interval.
        exposure: Frame intervals the shutter was open (shutter angle / 360).
        weight: ``[N, 1, H, W]`` in 0..1, the share of each pixel's change to keep (0: the estimate).
        denoiser: ``denoiser(x, level)``: ``x`` (``[N, C, H, W]`` fp32, 0..1) with Gaussian noise of standard
            deviation ``level`` (0..1 scale) removed, same shape.
        levels: The denoiser's level at each iteration (0..1 scale, > 0; usually falling); empty: ``estimate``.
        noise: The recorded frame's noise (0..1 scale, > 0): with ``level`` it sets how closely each iteration
            fits ``blurred``.
        cg_steps: Conjugate-gradient steps on ``(A*A + a) x = A* b + a z`` per iteration, from the last ``x``.
        before: ``[N, 2, H, W]`` motion before ``blurred``'s time; None: ``velocity``.

    Computed in fp32; returned in ``estimate``'s dtype.
    """
    check_nchw("deconvolve_to_exposure", "weight", weight, like=estimate, channels=1)
    if not levels:
        return estimate
    start = estimate.float()
    blur, adjoint = _blur_and_adjoint(velocity, before, exposure)
    solved = half_quadratic_splitting(blurred.float(), start, blur, adjoint, denoiser=denoiser, levels=levels,
                                      noise=noise, cg_steps=cg_steps, func="deconvolve_to_exposure")
    return (start + weight.float() * (solved - start)).to(estimate.dtype)


def exposure_operators(velocity: torch.Tensor, exposure: float, *, before: torch.Tensor | None = None,
                       weight: torch.Tensor | None = None) -> tuple[Callable[[torch.Tensor], torch.Tensor],
                                                                     Callable[[torch.Tensor], torch.Tensor]]:
    """The blur ``A`` of :func:`exposure_blur` along the path (fp32) and its adjoint ``A*`` (the halves'
    velocities swapped), to compose with other blurs. With ``weight`` (``[N, 1, H, W]``, 0..1), the blur holds
    where it is 1 and none where it is 0: ``A x = w E x + (1 - w) x``, ``A* y = E*(w y) + (1 - w) y``."""
    blur, adjoint = _blur_and_adjoint(velocity, before, exposure)
    if weight is None:
        return blur, adjoint
    check_nchw("exposure_operators", "weight", weight, like=velocity, channels=1)
    kept = weight.float()
    return (lambda x: kept * blur(x) + (1 - kept) * x, lambda y: adjoint(kept * y) + (1 - kept) * y)


def _blur_and_adjoint(velocity: torch.Tensor, before: torch.Tensor | None,
                      exposure: float) -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]:
    """The exposure blur ``A`` of a path (fp32) and its adjoint ``A*`` (the halves' velocities swapped), with the
    instants of the longest blur."""
    after = velocity.float()
    prior = after if before is None else before.float()
    taps = exposure_taps(longest_speed(after, prior) * exposure)
    return (lambda x: exposure_blur(x, after, exposure, taps, before=prior),
            lambda x: exposure_blur(x, prior, exposure, taps, before=after))
