"""Estimating a defocus disc's radius blind, from the rings it leaves in the spectrum of a frame or a shot.

A uniform disc of radius ``r`` multiplies the frame's spectrum by a transfer function that falls to zero on
rings (the first near ``0.61 / r`` cycles a pixel, the next near ``1.12 / r``) and rises again between them.
Natural pictures have a smooth spectrum that falls as a power of the frequency, so those rings, and the fall
before the first, mark the disc. :func:`estimate_defocus_radius` averages the power spectra of overlapping
windowed patches of the frame, or of several frames of a shot (each patch's mean and slope removed first, so
skies and gradients do not swamp them), takes the mean on each ring of equal frequency, and fits on a log
scale::

    power(f) = A * f ** -alpha * exp(-(2 pi f s) ** 2) * disc_r(f) + N

over a grid of radii ``r`` (0 to 16 px in quarter pixels), slopes ``alpha`` and softnesses ``s`` (the camera's
own gentle blur, a Gaussian; without it a sharp frame reads as a 1 px disc), with the level ``A`` and the noise
floor ``N`` solved by Gauss-Newton. ``disc_r`` is the ring mean of the exact pixel disc of
:func:`vsvideogen.ops.defocus.disc_kernel`. The radius of the best fit is the estimate. Frames under
:data:`MIN_PATCH` (64) pixels on their shorter side read 0: their patches are too small to tell discs apart.

Measured on 14 photos (docs/experiments/2026-11-28-blind-defocus-radius.md), discs of 1.5 to 6 px at noise
sigma 0, 2 and 5 (8-bit scale): within a quarter pixel in 140 of 168 readings, too small in 23 (where the
picture is too smooth or too noisy to show the rings: a broad sky rounded to 8 bits without noise, small discs
under noise), too large in 5 (all on one photo that is itself out of focus). Sharp photos read 0 to 1 px;
photos upscaled 2x (bicubic) read 1.25 to 1.5 px, as an upscale's fall at the source's Nyquist frequency looks
like a disc's first ring.
Torch only: the spectrum on the frame's own device, the fit (small) in float64 on the CPU.
"""
from __future__ import annotations

import functools
import math

import torch

from ..errors import VSVideoGenError
from .defocus import disc_kernel

#: Patch side (pixels) for frames at least this large; smaller frames use the largest power of two that fits.
PATCH = 128
#: The smallest patch side used; frames smaller than it on a side get no estimate (radius 0). Smaller patches
#: cannot tell discs apart: on 32 px ones the first ring of a disc over 6.5 px lies below the fitted rings, and
#: on crops of 3 bikes frames with a shorter side of 32 to 63 px (32 px patches; 2 noise levels, every radius a
#: candidate) sharp crops read 1.25 px or more in 65 of 108 readings and discs of 4 to 6 px came within half a
#: pixel in 16% (on crops of 64 to 127 px, 64 px patches: 29 of 108, and 80%). It also holds the largest disc's
#: kernel (33 px, radius 16), whose spectrum is taken on the patch's grid.
MIN_PATCH = 64
#: Candidate radii (pixels): 0 and quarter pixels up to 16 (``deblur``'s largest disc).
RADII = tuple(0.25 * k for k in range(65))
#: Candidate softnesses of the camera itself (Gaussian sigma, pixels).
SOFTNESS = (0.0, 0.3, 0.5, 0.7, 0.9, 1.2)
#: Candidate spectral slopes (power falling as ``f ** -alpha``).
SLOPES = tuple(0.5 + 0.1 * k for k in range(36))
#: Gauss-Newton steps of each fit of level and noise floor.
FIT_STEPS = 25
#: The lowest ring fitted, in cycles a patch (lower rings carry the patch's leftover gradients).
LOWEST_RING = 3


def estimate_defocus_radius(frames: torch.Tensor) -> float:
    """The radius in pixels of the uniform disc that best explains the spectrum of ``frames`` (0: no disc seen).

    Args:
        frames: ``[N, C, H, W]`` or ``[C, H, W]`` floating tensor, any scale: frames of one shot under the same
            disc (e.g. a filter's window), whose spectra are pooled; the channels are averaged.

    Returns:
        One of :data:`RADII`. 0 for frames under :data:`MIN_PATCH` pixels on a side.
    """
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or not len(frames) or not frames.is_floating_point():
        raise VSVideoGenError("estimate_defocus_radius", f"got a {tuple(frames.shape)} {frames.dtype} tensor; pass "
                                                         "floating frames, [N, C, H, W] or [C, H, W]")
    side = min(frames.shape[-2:])
    if side < MIN_PATCH:
        return 0.0
    patch = min(PATCH, 1 << int(math.log2(side)))
    spectrum = torch.stack([_mean_power_spectrum(frame.double().mean(0), patch) for frame in frames]).mean(0)
    errors = _fit_errors(_ring_means(spectrum.cpu(), patch), patch)
    return RADII[int(errors.argmin())]


def _mean_power_spectrum(plane: torch.Tensor, patch: int) -> torch.Tensor:
    """The mean power spectrum (``[patch, patch]``) of ``plane``'s patches at half-patch steps, each with its
    mean and slope removed and a Hann window applied; one row of patches at a time to bound memory."""
    step = patch // 2
    window = torch.hann_window(patch, periodic=False, dtype=plane.dtype, device=plane.device)
    window = window[:, None] * window[None]
    trend = _plane_basis(patch, plane.dtype, plane.device)
    total = torch.zeros(patch, patch, dtype=plane.dtype, device=plane.device)
    count = 0
    for top in range(0, plane.shape[0] - patch + 1, step):
        row = plane[top:top + patch].unfold(1, patch, step).permute(1, 0, 2).reshape(-1, patch * patch)
        row = row - (row @ trend) @ trend.T
        total += (torch.fft.fft2(row.reshape(-1, patch, patch) * window).abs() ** 2).sum(0)
        count += row.shape[0]
    return total / count


def _plane_basis(patch: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An orthonormal basis (``[patch * patch, 3]``) of the planes ``a + b * x + c * y`` over a patch."""
    ramp = torch.linspace(-1.0, 1.0, patch, dtype=dtype, device=device)
    planes = torch.stack([torch.ones(patch, patch, dtype=dtype, device=device), ramp[:, None].expand(patch, patch),
                          ramp[None].expand(patch, patch)]).reshape(3, -1)
    return torch.linalg.qr(planes.T).Q


@functools.lru_cache(maxsize=4)
def _rings(patch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For a patch side: each fitted frequency's ring (index into the ring list), the mask of fitted
    frequencies, and each ring's frequency (cycles a pixel)."""
    freq = torch.fft.fftfreq(patch, dtype=torch.float64)
    ring = torch.round((freq[:, None] ** 2 + freq[None] ** 2).sqrt() * patch).long()
    fitted = (ring >= LOWEST_RING) & (ring <= patch // 2)
    return ring[fitted] - LOWEST_RING, fitted, torch.arange(LOWEST_RING, patch // 2 + 1, dtype=torch.float64) / patch


def _ring_means(values: torch.Tensor, patch: int) -> torch.Tensor:
    """The mean of ``values`` (``[patch, patch]``, unshifted FFT layout) on each fitted ring."""
    index, fitted, frequency = _rings(patch)
    sums = torch.zeros(len(frequency), dtype=torch.float64).index_add_(0, index, values[fitted].double())
    ones = torch.ones(len(index), dtype=torch.float64)
    counts = torch.zeros(len(frequency), dtype=torch.float64).index_add_(0, index, ones)
    return sums / counts


@functools.lru_cache(maxsize=4)
def _model_shapes(patch: int) -> torch.Tensor:
    """``f ** -alpha * exp(-(2 pi f s) ** 2) * disc_r(f)`` on the fitted rings: ``[radii, softnesses, slopes,
    rings]``."""
    frequency = _rings(patch)[2]
    discs = torch.stack([_ring_means(_disc_power(r, patch), patch) for r in RADII])
    soft = torch.stack([torch.exp(-(2 * math.pi * frequency * s) ** 2) for s in SOFTNESS])
    slopes = torch.stack([frequency ** -a for a in SLOPES])
    return discs[:, None, None] * soft[None, :, None] * slopes[None, None]


def _disc_power(radius: float, patch: int) -> torch.Tensor:
    """``|DFT|^2`` (``[patch, patch]``) of :func:`disc_kernel` of ``radius``, centred at the origin."""
    kernel = disc_kernel(radius).double()
    half = kernel.shape[0] // 2
    padded = torch.zeros(patch, patch, dtype=torch.float64)
    padded[:kernel.shape[0], :kernel.shape[1]] = kernel
    return torch.fft.fft2(torch.roll(padded, (-half, -half), (0, 1))).abs() ** 2


def _fit_errors(power: torch.Tensor, patch: int) -> torch.Tensor:
    """For each of :data:`RADII`, the least mean squared log error of the model over softness and slope, with
    level and noise floor fitted by Gauss-Newton."""
    observed = power.clamp(min=1e-300).log()
    shapes = _model_shapes(patch)
    level = (observed - shapes.log()).median(-1).values
    floor = torch.full_like(level, float(observed.min()))
    for _ in range(FIT_STEPS):
        signal = level[..., None].exp() * shapes
        total = signal + floor[..., None].exp()
        residual = observed - total.log()
        d_level = signal / total
        d_floor = 1 - d_level
        a11 = (d_level * d_level).sum(-1) + 1e-9
        a12 = (d_level * d_floor).sum(-1)
        a22 = (d_floor * d_floor).sum(-1) + 1e-9
        b1 = (residual * d_level).sum(-1)
        b2 = (residual * d_floor).sum(-1)
        det = a11 * a22 - a12 * a12
        level = level + ((a22 * b1 - a12 * b2) / det).clamp(-2, 2)
        floor = floor + ((a11 * b2 - a12 * b1) / det).clamp(-2, 2)
    total = level[..., None].exp() * shapes + floor[..., None].exp()
    return ((observed - total.log()) ** 2).mean(-1).flatten(1).min(1).values
