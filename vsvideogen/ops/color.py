"""Per-pixel colour-space conversion: a 3x3 matrix and an offset applied to planar data."""
from __future__ import annotations

import numpy as np
import torch

from . import _cuda
from ._checks import check_nchw
from ..errors import VSVideoGenError


def affine_color_reference(image: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``out[c] = sum_k matrix[c, k] * image[k] + offset[c]`` for ``[N, 3, H, W]`` planar data, fp32 maths."""
    m = matrix.to(device=image.device, dtype=torch.float32)
    o = offset.to(device=image.device, dtype=torch.float32)
    out = torch.einsum("ck,nkhw->nchw", m, image.float()) + o.view(1, 3, 1, 1)
    return out.to(image.dtype)


def affine_color_kernel(
    image: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor, launch: _cuda.Launch
) -> torch.Tensor:
    """Colour conversion through the ``affine_color_*`` kernel, run by ``launch``; ``image`` fp16 or fp32."""
    m = matrix.to(device=image.device, dtype=torch.float32).contiguous()
    o = offset.to(device=image.device, dtype=torch.float32).contiguous()
    n, _, h, w = image.shape
    out = torch.empty((n, 3, h, w), dtype=image.dtype, device=image.device)
    args = [image, out, m, o, *map(np.int64, (n, h, w))]
    args += [*_cuda.strides(image), *_cuda.strides(out)]
    launch(_cuda.kernel_name("affine_color", image.dtype), n * h * w, args)
    return out


def affine_color(image: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Colour conversion (see :func:`affine_color_reference`); the CuPy kernel on CUDA, the reference elsewhere.

    The kernel runs for fp16/fp32 CUDA images when no gradient is needed through the inputs.

    Raises:
        VSVideoGenError: the shapes do not fit, or the CUDA kernel failed.
    """
    check_nchw("affine_color", "image", image, channels=3)
    if tuple(matrix.shape) != (3, 3) or offset.numel() != 3:
        raise VSVideoGenError(
            "affine_color",
            f"matrix is {tuple(matrix.shape)} and offset has {offset.numel()} values; "
            "a 3x3 matrix and 3 offsets are needed",
        )
    if _cuda.use_kernel(image, matrix, offset):
        return affine_color_kernel(image, matrix, offset, _cuda.launcher("affine_color", image.device))
    return affine_color_reference(image, matrix, offset)
