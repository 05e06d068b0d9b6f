"""Separable resampling (bilinear, bicubic) and pixel shuffle.

Sampling follows zimg's convention so chroma planes line up with VapourSynth's own ``resize``: output
pixel ``i`` reads source position ``(i + 0.5) * in / out - 0.5 + shift``; when shrinking, the filter's
support widens by ``in / out`` (anti-aliasing); samples past an edge mirror about it (-1 -> 0, n -> n-1); each row of weights sums to one.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import _cuda
from ._checks import check_nchw
from ..errors import VSVideoGenError

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
    index = torch.where(positions < 0, -positions - 1, positions)
    index = torch.where(index > size_in - 1, 2 * size_in - 1 - index, index)
    index = index.clamp(0, size_in - 1).long()
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


def _resample_is_identity(size_in: int, size_out: int, kernel: str, shift: float, b: float) -> bool:
    """Whether :func:`resample_matrix` is the identity: same size, no shift, and a filter that is 1 at 0 and 0
    at the other integers (bilinear; bicubic with ``b == 0``)."""
    return size_in == size_out and shift == 0 and (kernel == "bilinear" or b == 0)


def resize_kernel(
    image: torch.Tensor,
    height: int,
    width: int,
    kernel: str,
    shift_x: float,
    shift_y: float,
    b: float,
    c: float,
    launch: _cuda.Launch,
) -> torch.Tensor:
    """Resize through the ``resample_*`` kernel, run by ``launch``: a horizontal then a vertical pass through an
    fp32 buffer, skipping a pass whose matrix is the identity. ``image`` must be fp16 or fp32."""
    n, ch, h, w = image.shape
    passes = []  # (axis, size_in, shift, output shape)
    if not _resample_is_identity(w, width, kernel, shift_x, b):
        passes.append((3, w, shift_x, (n, ch, h, width)))
    if not _resample_is_identity(h, height, kernel, shift_y, b):
        passes.append((2, h, shift_y, (n, ch, height, width)))
    if not passes:
        return image.clone(memory_format=torch.contiguous_format)
    source = image
    for number, (axis, size_in, shift, shape) in enumerate(passes):
        dtype = image.dtype if number == len(passes) - 1 else torch.float32
        out = torch.empty(shape, dtype=dtype, device=image.device)
        args = [source, out, *map(np.int64, shape), np.int32(axis), np.int64(size_in)]
        args += [np.int32(KERNELS.index(kernel)), np.float64(shift), np.float64(b), np.float64(c)]
        args += [*_cuda.strides(source), *_cuda.strides(out)]
        launch(_cuda.kernel_name("resample", source.dtype, out.dtype), out.numel(), args)
        source = out
    return source


def pixel_shuffle_kernel(image: torch.Tensor, factor: int, launch: _cuda.Launch) -> torch.Tensor:
    """Pixel shuffle through the ``pixel_shuffle_*`` kernel, run by ``launch``; ``image`` fp16 or fp32."""
    n, crr, h, w = image.shape
    shape = (n, crr // (factor * factor), h * factor, w * factor)
    out = torch.empty(shape, dtype=image.dtype, device=image.device)
    args = [image, out, *map(np.int64, shape), np.int64(factor)]
    args += [*_cuda.strides(image), *_cuda.strides(out)]
    launch(_cuda.kernel_name("pixel_shuffle", image.dtype), out.numel(), args)
    return out


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
    """Resize (see :func:`resize_reference`); the CuPy kernel on CUDA, the reference elsewhere.

    The kernel runs for fp16/fp32 CUDA tensors when no gradient is needed through the image.

    Raises:
        VSVideoGenError: bad sizes or kernel name, or the CUDA kernel failed.
    """
    check_nchw("resize", "image", image)
    if kernel not in KERNELS:
        raise VSVideoGenError("resize", f"kernel is {kernel!r}; use one of {KERNELS}")
    if int(height) != height or int(width) != width or height < 1 or width < 1:
        raise VSVideoGenError("resize", f"the output size is {width}x{height}; positive whole numbers are needed")
    height, width = int(height), int(width)
    if _cuda.use_kernel(image):
        return resize_kernel(
            image, height, width, kernel, shift_x, shift_y, b, c, _cuda.launcher("resize", image.device)
        )
    return resize_reference(image, height, width, kernel, shift_x, shift_y, b, c)


def pixel_shuffle(image: torch.Tensor, factor: int) -> torch.Tensor:
    """Pixel shuffle (see :func:`pixel_shuffle_reference`); the CuPy kernel on CUDA, the reference elsewhere.

    Raises:
        VSVideoGenError: ``factor`` is not a positive integer dividing the channels as ``C * factor**2``,
            or the CUDA kernel failed.
    """
    check_nchw("pixel_shuffle", "image", image)
    if int(factor) != factor or factor < 1 or image.shape[1] % (int(factor) ** 2):
        raise VSVideoGenError(
            "pixel_shuffle",
            f"factor {factor} does not fit {image.shape[1]} channels; a positive integer r with channels = C * r * r "
            "is needed",
        )
    factor = int(factor)
    if _cuda.use_kernel(image):
        return pixel_shuffle_kernel(image, factor, _cuda.launcher("pixel_shuffle", image.device))
    return pixel_shuffle_reference(image, factor)
