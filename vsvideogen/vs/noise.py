"""Estimating the level of additive white Gaussian noise in an image, without a clean reference.

:func:`estimate_sigma` uses the statistics of small patches (the method of Chen, Zhu and Heng, "An
Efficient Statistical Method for Image Noise Level Estimation", ICCV 2015): the covariance of all
``p x p`` patches of an image has a few large eigenvalues carried by the picture's structure and a bulk of
small ones that white noise of variance ``sigma**2`` spreads evenly. Dropping the largest eigenvalues one by
one until the remaining ones are no longer skewed (their mean is at most their median) leaves the noise
bulk; its mean is ``sigma**2``. Unlike a median of high-pass coefficients, this does not mistake texture
for noise, so it holds on detailed real frames.

All channels of an image are assumed to carry noise of the same level (one sigma per image, their patches
pooled). Clipping at black and white removes part of strong noise from the picture itself; the estimate
then follows the noise that is actually there (e.g. about 47 for sigma 50 added to a mid-grey-heavy frame
and clipped).

Noise that is the same in all three channels (luma noise of a YUV source seen in RGB, or a gray image
replicated to RGB) is sqrt(3) times stronger along the grey axis than independent noise of the same
per-channel sigma, which is what colour denoisers are trained on. :func:`equivalent_sigma` measures the
noise along the grey axis and two chroma axes and returns the largest: the sigma of independent noise a
colour model must be told to remove the noise that is there.

Torch only, on the tensor's own device; the small eigen-decompositions run on the CPU.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["estimate_sigma", "equivalent_sigma", "frame_noise", "PATCH", "MAX_PATCHES"]

#: Side of the square patches.
PATCH = 7
#: Patches sampled per image at most (a regular grid, so the estimate is deterministic).
MAX_PATCHES = 1 << 16


def estimate_sigma(image: torch.Tensor, *, patch: int = PATCH, max_patches: int = MAX_PATCHES) -> torch.Tensor:
    """The standard deviation of the white noise in each image of a batch.

    Args:
        image: ``[N, C, H, W]`` (or ``[C, H, W]``) floating tensor; the result is in the same units (multiply
            by 255 for an 8-bit-scale sigma of a 0..1 image).
        patch: Patch side (smaller for very small images: it is cut to the image's size).
        max_patches: At most this many patches per image are used, on a regular grid.

    Returns:
        ``[N]`` float32 tensor on the CPU (0 for images too small to tell, under 2x2 pixels).
    """
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or not image.is_floating_point():
        raise ValueError(f"estimate_sigma: need a floating [N, C, H, W] tensor, got {tuple(image.shape)} {image.dtype}")
    n, c, h, w = image.shape
    p = min(patch, h, w)
    if p < 2:
        return torch.zeros(n)
    positions = (h - p + 1) * (w - p + 1) * c
    stride = max(1, math.ceil(math.sqrt(positions / max_patches)))
    planes = image.detach().float().reshape(n * c, 1, h, w)
    patches = F.unfold(planes, p, stride=stride)  # [N*C, p*p, L]
    patches = patches.reshape(n, c, p * p, -1).transpose(1, 2).reshape(n, p * p, -1)  # channels pooled
    patches = patches - patches.mean(-1, keepdim=True)
    cov = (patches.double() @ patches.double().transpose(1, 2)) / patches.shape[-1]
    eigen = torch.linalg.eigvalsh(cov.cpu()).flip(-1)  # descending, [N, p*p]
    return torch.stack([_noise_variance(e) for e in eigen]).clamp(min=0).sqrt().float()


def frame_noise(frame: torch.Tensor, floor: float) -> float:
    """The noise level of one recorded frame (``[1, C, H, W]``, 0..1), :func:`estimate_sigma`'s, at least
    ``floor``: what a deconvolution of the frame must not fit closer than."""
    return max(floor, float(estimate_sigma(frame.float())[0]))


def equivalent_sigma(image: torch.Tensor, **kwargs) -> torch.Tensor:
    """Per-channel sigma of independent noise as strong as the noise of each RGB image in a batch.

    The noise is estimated (:func:`estimate_sigma`) along three orthonormal colour axes, grey
    ``(R + G + B) / sqrt(3)`` and chroma ``(R - G) / sqrt(2)`` and ``(R + G - 2B) / sqrt(6)``; the largest
    is returned. Independent noise of sigma ``s`` reads ``s`` on every axis; the same noise ``s`` in all
    channels reads ``s * sqrt(3)`` on the grey axis. One-channel images get :func:`estimate_sigma`.

    Args:
        image: ``[N, 3, H, W]`` or ``[N, 1, H, W]`` floating tensor.
        **kwargs: passed to :func:`estimate_sigma`.

    Returns:
        ``[N]`` float32 tensor on the CPU, in the image's units.
    """
    if image.ndim != 4 or image.shape[1] not in (1, 3):
        raise ValueError(f"equivalent_sigma: need a [N, 1 or 3, H, W] tensor, got {tuple(image.shape)}")
    if image.shape[1] == 1:
        return estimate_sigma(image, **kwargs)
    axes = torch.tensor(
        [[1 / 3 ** 0.5] * 3, [1 / 2 ** 0.5, -1 / 2 ** 0.5, 0.0], [1 / 6 ** 0.5, 1 / 6 ** 0.5, -2 / 6 ** 0.5]],
        dtype=torch.float32, device=image.device,
    )
    projected = torch.einsum("ac,nchw->nahw", axes, image.float())
    per_axis = torch.stack([estimate_sigma(projected[:, a:a + 1], **kwargs) for a in range(3)], 1)
    return per_axis.max(1).values


def _noise_variance(eigen: torch.Tensor) -> torch.Tensor:
    """Mean of the eigenvalues left once the largest are dropped until the rest are not right-skewed."""
    for start in range(eigen.numel()):
        tail = eigen[start:]
        mean = tail.mean()
        if mean <= tail.median():
            return mean
    return eigen[-1]
