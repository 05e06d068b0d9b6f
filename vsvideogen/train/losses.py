"""Training losses (pixel, structural, adversarial), luma and the PSNR metric, on ``[N, C, H, W]`` tensors in 0..1."""
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
    """Soft census transform: for every pixel, normalised grey-level differences to its neighbours.

    Only half of the neighbours are compared (offsets after the centre in raster order): the other half
    repeats the same pairs seen from the other pixel. The differences come from one convolution with a
    fixed kernel (+1 at the neighbour, -1 at the centre), far cheaper on the CPU than unfolding patches.
    Border pixels without a full neighbourhood are left out.
    """
    grey = image.mean(dim=1, keepdim=True)
    r = patch // 2
    offsets = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if (dy, dx) > (0, 0)]
    kernel = torch.zeros(len(offsets), 1, patch, patch, dtype=grey.dtype, device=grey.device)
    for i, (dy, dx) in enumerate(offsets):
        kernel[i, 0, r + dy, r + dx] = 1.0
        kernel[i, 0, r, r] = -1.0
    diff = F.conv2d(grey, kernel)
    return diff * torch.rsqrt(0.81 + diff * diff)


def census_loss(pred: torch.Tensor, target: torch.Tensor, patch: int = 7) -> torch.Tensor:
    """Distance between soft census transforms (ternary loss), averaged over pixels and neighbours.

    Compares local structure (which neighbours are brighter or darker) rather than absolute values, so it
    rewards sharp, correctly placed edges and ignores brightness offsets; it is 0 for identical inputs and
    stays differentiable through the soft normalisation ``d / sqrt(0.81 + d^2)``.

    Args:
        pred: predicted image (at least ``patch`` pixels on each side).
        target: reference image of the same shape.
        patch: side of the square neighbourhood (odd).
    """
    squared = (_census(pred, patch) - _census(target, patch)) ** 2
    return (squared / (0.1 + squared)).mean()


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


GAN_LOSSES = ("hinge", "relativistic")


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """The discriminator's loss from its logits on real and generated images.

    ``hinge``: ``mean(relu(1 - real)) + mean(relu(1 + fake))``. ``relativistic`` (relativistic average GAN):
    real logits should exceed the mean fake logit and fake ones fall below the mean real logit, as binary
    cross-entropy, averaged over both terms.
    """
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "relativistic":
        return 0.5 * (F.binary_cross_entropy_with_logits(real - fake.mean(), torch.ones_like(real))
                      + F.binary_cross_entropy_with_logits(fake - real.mean(), torch.zeros_like(fake)))
    raise ValueError(f"unknown GAN loss {kind!r}; use one of {GAN_LOSSES}")


def generator_adversarial_loss(real: torch.Tensor, fake: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """The generator's adversarial loss from the discriminator's logits (gradients flow through ``fake``).

    ``hinge``: ``-mean(fake)`` (``real`` is unused). ``relativistic``: the discriminator's relativistic
    targets swapped, so the generator pushes its images above the mean real logit.
    """
    if kind == "hinge":
        return -fake.mean()
    if kind == "relativistic":
        real = real.detach()
        return 0.5 * (F.binary_cross_entropy_with_logits(real - fake.mean(), torch.zeros_like(real))
                      + F.binary_cross_entropy_with_logits(fake - real.mean(), torch.ones_like(fake)))
    raise ValueError(f"unknown GAN loss {kind!r}; use one of {GAN_LOSSES}")


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return (pred - target).abs().mean()


#: Pixel losses by the name the trainer options use.
PIXEL_LOSSES = {"charbonnier": charbonnier, "l1": l1}


def luma(image: torch.Tensor) -> torch.Tensor:
    """``[N, 3, H, W]`` RGB in 0..1 -> ``[N, 1, H, W]`` BT.601 studio-range Y (16..235 of 255), as in SR papers."""
    r, g, b = image.unbind(dim=1)
    return ((16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0)[:, None]
