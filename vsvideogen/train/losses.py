"""Training losses and the PSNR metric. Every function takes ``[N, C, H, W]`` tensors in 0..1."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean of ``sqrt((pred - target)^2 + eps^2) - eps``: a smooth L1 that is exactly 0 for equal inputs.

    Behaves like L2 for errors below ``eps`` (so the gradient does not flip sign at every pixel once the
    fit is good) and like L1 above it (robust to the occluded pixels no method can predict).
    """
    return (torch.sqrt((pred - target) ** 2 + eps * eps) - eps).mean()


def _census(image: torch.Tensor, patch: int) -> torch.Tensor:
    """Soft census transform: for every pixel, the normalised grey-level differences to its neighbours."""
    grey = image.mean(dim=1, keepdim=True) if image.shape[1] > 1 else image
    neighbours = F.unfold(F.pad(grey, [patch // 2] * 4, mode="replicate"), patch)
    n, _, h, w = grey.shape
    diff = neighbours.view(n, patch * patch, h, w) - grey
    return diff / torch.sqrt(0.81 + diff * diff)


def census_loss(pred: torch.Tensor, target: torch.Tensor, patch: int = 7) -> torch.Tensor:
    """Distance between soft census transforms (ternary loss), averaged over pixels and neighbours.

    Compares local structure (which neighbours are brighter or darker) rather than absolute values, so it
    rewards sharp, correctly placed edges and tolerates small brightness offsets; it is 0 for identical
    inputs and stays differentiable through the soft normalisation ``d / sqrt(0.81 + d^2)``.

    Args:
        pred: predicted image.
        target: reference image of the same shape.
        patch: side of the square neighbourhood (odd).
    """
    d = _census(pred, patch) - _census(target, patch)
    return (d * d / (0.1 + d * d)).mean()


def _gradients(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return image[..., :, 1:] - image[..., :, :-1], image[..., 1:, :] - image[..., :-1, :]


def gradient_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 distance between horizontal and vertical finite differences of the two images.

    Penalises blurred or misplaced edges, which a plain pixel loss under-weights; 0 for identical inputs.
    """
    pdx, pdy = _gradients(pred)
    tdx, tdy = _gradients(target)
    return 0.5 * ((pdx - tdx).abs().mean() + (pdy - tdy).abs().mean())


def psnr(pred: torch.Tensor, target: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per batch item (``[N]``), after clamping ``pred`` to ``0..peak``.

    Identical images give a finite 100 dB cap rather than infinity, so averages stay meaningful.
    """
    mse = ((pred.clamp(0, peak) - target) ** 2).flatten(1).mean(dim=1)
    return (10 * torch.log10(peak * peak / mse.clamp_min(1e-10))).clamp(max=100.0)
