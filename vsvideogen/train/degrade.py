"""Degradations that turn a clean high-resolution (HR) image into the low-resolution (LR) input of an upscaler.

Images are RGB float tensors in 0..1, ``[C, H, W]`` for one image or ``[N, C, H, W]`` for a batch. Every
random choice is drawn from the ``numpy.random.Generator`` given, so a degradation is reproducible from its
seed.

:func:`degrade` is the realistic pipeline used for training, in the order a camera and an encoder apply
them (each stage with its own probability, see :class:`DegradationConfig`):

1. **blur**: a Gaussian kernel, isotropic or anisotropic (two sigmas and a rotation), random size and
   strength (lens softness, defocus, motion smear of a lower-quality source);
2. **downscale** by the model's scale with a random kernel: ``bicubic`` or ``bilinear`` (both anti-aliased,
   :func:`vsvideogen.ops.resize.resize`) or ``area`` (box average);
3. **noise**: Gaussian (sensor read noise) or Poisson-like (signal-dependent shot noise, stronger in bright
   areas), in colour or the same in all channels (grey);
4. **JPEG** compression with Pillow in memory (8x8 blocking, ringing, 4:2:0 chroma);
5. **quantisation** to 8 bits, always: real low-resolution material is 8-bit.

Video-codec compression (H.264 and the like) is not simulated: no encoder library (PyAV, ffmpeg) is
available here, and spawning an encoder per training crop would cost far more than the training step.

:func:`bicubic_degrade` is the plain classic degradation (anti-aliased bicubic downscale, 8-bit), used for the
"bicubic" validation and the ``--degradation bicubic`` training mode.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..ops.resize import resize

DOWNSCALE_KERNELS = ("bicubic", "bilinear", "area")
# Taps of a blur kernel are cut at this many sigmas (along the wider axis), and never beyond MAX_RADIUS.
_SIGMAS = 3.0
MAX_RADIUS = 10


@dataclass(frozen=True)
class DegradationConfig:
    """Probabilities and ranges of :func:`degrade`'s stages.

    Attributes:
        blur_prob: chance of a Gaussian blur before the downscale.
        anisotropic_prob: chance that a blur has two different sigmas and a random rotation.
        blur_sigma: range of a blur's sigma in *LR* pixels (multiplied by the scale for the HR image), so the
            same setting fits x2 and x4 models.
        kernels: downscale kernels to pick from (see :data:`DOWNSCALE_KERNELS`).
        kernel_probs: their probabilities (same length; they are normalised).
        noise_prob: chance of noise after the downscale.
        poisson_fraction: share of noisy images that get Poisson-like rather than Gaussian noise.
        gray_noise_prob: chance that the noise is the same in all three channels.
        gaussian_sigma: range of the Gaussian noise's standard deviation, in 8-bit levels (of 255).
        poisson_peak: range of the photon count at full white (log-uniform): lower is noisier. At a peak of
            100 a mid-grey pixel has a standard deviation of about 18 levels; at 3000, about 3.
        jpeg_prob: chance of JPEG compression.
        jpeg_quality: range of the JPEG quality (Pillow's 1..95 scale).
    """

    blur_prob: float = 0.7
    anisotropic_prob: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 0.75)
    kernels: tuple[str, ...] = DOWNSCALE_KERNELS
    kernel_probs: tuple[float, ...] = (0.4, 0.3, 0.3)
    noise_prob: float = 0.6
    poisson_fraction: float = 0.4
    gray_noise_prob: float = 0.4
    gaussian_sigma: tuple[float, float] = (1.0, 12.0)
    poisson_peak: tuple[float, float] = (100.0, 3000.0)
    jpeg_prob: float = 0.7
    jpeg_quality: tuple[int, int] = (40, 95)

    def __post_init__(self) -> None:
        unknown = [k for k in self.kernels if k not in DOWNSCALE_KERNELS]
        if unknown or len(self.kernels) != len(self.kernel_probs) or not self.kernels:
            raise ValueError(f"kernels {self.kernels} must be some of {DOWNSCALE_KERNELS}, one probability each")
        for name in ("blur_prob", "anisotropic_prob", "noise_prob", "poisson_fraction", "gray_noise_prob", "jpeg_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}={getattr(self, name)} is not a probability")


def gaussian_kernel(sigma_x: float, sigma_y: float, theta: float, radius: int) -> torch.Tensor:
    """A normalised ``[2 * radius + 1]^2`` Gaussian kernel with sigmas along axes rotated by ``theta`` (radians)."""
    coords = torch.arange(-radius, radius + 1, dtype=torch.float64)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * x + s * y, -s * x + c * y
    kernel = torch.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return (kernel / kernel.sum()).float()


def blur_radius(sigma: float) -> int:
    """The radius of the kernel :func:`degrade` blurs with for a sigma of ``sigma`` HR pixels (1..MAX_RADIUS)."""
    return min(MAX_RADIUS, max(1, math.ceil(_SIGMAS * sigma)))


def min_hr_side(scale: int, config: DegradationConfig = DegradationConfig()) -> int:
    """The shortest HR side :func:`degrade` takes at ``scale`` under ``config``: with blur, one more than the widest
    kernel's radius (:func:`blur` mirrors that many pixels at each edge, and mirroring needs more)."""
    return blur_radius(max(config.blur_sigma) * scale) + 1 if config.blur_prob > 0 else 1


def blur(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve every channel of ``[N, C, H, W]`` with the square ``kernel`` (edges mirrored)."""
    radius = kernel.shape[-1] // 2
    channels = image.shape[1]
    padded = F.pad(image, [radius] * 4, mode="reflect")
    weight = kernel.to(image)[None, None].expand(channels, 1, -1, -1)
    return F.conv2d(padded, weight, groups=channels)


def downscale(image: torch.Tensor, scale: int, kernel: str = "bicubic") -> torch.Tensor:
    """Shrink ``[N, C, H, W]`` (H and W multiples of ``scale``) by ``scale`` with an anti-aliased ``kernel``.

    ``bicubic`` is Catmull-Rom (``b = 0, c = 0.5``, MATLAB's ``imresize`` kernel), widened by the scale when
    shrinking; ``area`` averages each ``scale x scale`` block.
    """
    h, w = image.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"image of {w}x{h} is not a multiple of the scale {scale}")
    if kernel == "area":
        return F.avg_pool2d(image, scale)
    return resize(image, h // scale, w // scale, kernel)


def quantize(image: torch.Tensor) -> torch.Tensor:
    """Clamp to 0..1 and round to 8-bit levels (``k / 255``)."""
    return (image.clamp(0.0, 1.0) * 255.0).round() / 255.0


def add_gaussian_noise(image: torch.Tensor, sigma: float, gray: bool, rng: np.random.Generator) -> torch.Tensor:
    """``image + N(0, sigma^2)`` (``sigma`` in 0..1 units), independent per channel or shared when ``gray``."""
    shape = (*image.shape[:-3], 1 if gray else image.shape[-3], *image.shape[-2:])
    noise = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)) * sigma
    return image + noise.to(image)


def add_poisson_noise(image: torch.Tensor, peak: float, gray: bool, rng: np.random.Generator) -> torch.Tensor:
    """Shot noise: ``Poisson(image * peak) / peak``, so its variance ``image / peak`` grows with brightness.

    With ``gray`` the noise is drawn once on the luma (BT.601) and added to every channel.
    """
    source = image.clamp(0.0, 1.0)
    if gray:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype).view(3, 1, 1)
        source = (source * weights).sum(dim=-3, keepdim=True)
    counts = rng.poisson(source.double().numpy() * peak)
    noise = torch.from_numpy(counts / peak).to(image.dtype) - source
    return image + noise


def jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode ``[3, H, W]`` as a JPEG of ``quality`` in memory (Pillow, 4:2:0) and decode it again."""
    from PIL import Image

    array = (quantize(image) * 255).byte().permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        out = np.asarray(decoded.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(out.copy()).permute(2, 0, 1).float() / 255.0


def bicubic_degrade(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The classic degradation: anti-aliased bicubic downscale by ``scale``, quantised to 8 bits.

    Takes ``[C, H, W]`` or ``[N, C, H, W]`` with H and W multiples of ``scale``.
    """
    single = hr.dim() == 3
    lr = quantize(downscale(hr[None] if single else hr, scale, "bicubic"))
    return lr[0] if single else lr


def degrade(
    hr: torch.Tensor, scale: int, rng: np.random.Generator, config: DegradationConfig = DegradationConfig()
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Turn one clean HR image ``[3, H, W]`` (H, W multiples of ``scale``, at least :func:`min_hr_side`) into a
    realistic LR image.

    See the module docstring for the stages.

    Returns:
        The LR image ``[3, H / scale, W / scale]`` in 0..1 on 8-bit levels, and what was applied:
        ``{"blur": (sigma_x, sigma_y, theta) in HR pixels or None, "kernel": name, "noise": ("gaussian",
        sigma in levels, gray) / ("poisson", peak, gray) or None, "jpeg": quality or None}``.
    """
    applied: dict[str, Any] = {"blur": None, "kernel": None, "noise": None, "jpeg": None}
    image = hr[None].float()
    if rng.random() < config.blur_prob:
        low, high = (s * scale for s in config.blur_sigma)
        sigma_x = float(rng.uniform(low, high))
        if rng.random() < config.anisotropic_prob:
            sigma_y, theta = float(rng.uniform(low, high)), float(rng.uniform(0, math.pi))
        else:
            sigma_y, theta = sigma_x, 0.0
        image = blur(image, gaussian_kernel(sigma_x, sigma_y, theta, blur_radius(max(sigma_x, sigma_y))))
        applied["blur"] = (sigma_x, sigma_y, theta)
    probs = np.asarray(config.kernel_probs, dtype=np.float64)
    kernel = config.kernels[int(rng.choice(len(config.kernels), p=probs / probs.sum()))]
    image = downscale(image, scale, kernel)[0]
    applied["kernel"] = kernel
    if rng.random() < config.noise_prob:
        gray = bool(rng.random() < config.gray_noise_prob)
        if rng.random() < config.poisson_fraction:
            low, high = np.log(config.poisson_peak)
            peak = float(np.exp(rng.uniform(low, high)))
            image = add_poisson_noise(image, peak, gray, rng)
            applied["noise"] = ("poisson", peak, gray)
        else:
            sigma = float(rng.uniform(*config.gaussian_sigma))
            image = add_gaussian_noise(image, sigma / 255.0, gray, rng)
            applied["noise"] = ("gaussian", sigma, gray)
    if rng.random() < config.jpeg_prob:
        quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        image = jpeg(image, quality)
        applied["jpeg"] = quality
    return quantize(image), applied
