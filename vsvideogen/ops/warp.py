"""Backward warping of an image by an optical-flow field."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import _cuda
from ._checks import check_nchw


def backward_warp_reference(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` at ``(x + flow_x, y + flow_y)`` with bilinear weights and border clamping.

    Args:
        image: ``[N, C, H, W]`` float tensor (fp16 or fp32).
        flow: ``[N, 2, H, W]`` displacement in pixels, channel 0 = x, 1 = y.

    Coordinates and weights are computed in fp32 whatever the data type (fp16 coordinates lose whole
    pixels above ~2000 px). Equal to ``grid_sample(..., align_corners=True, padding_mode="border")``.
    """
    n, c, h, w = image.shape
    ys = torch.arange(h, device=image.device, dtype=torch.float32).view(1, h, 1)
    xs = torch.arange(w, device=image.device, dtype=torch.float32).view(1, 1, w)
    x = (xs + flow[:, 0].float()).clamp(0, w - 1)
    y = (ys + flow[:, 1].float()).clamp(0, h - 1)
    x0 = x.floor()
    y0 = y.floor()
    wx = (x - x0).unsqueeze(1)
    wy = (y - y0).unsqueeze(1)
    x0 = x0.long()
    y0 = y0.long()
    x1 = (x0 + 1).clamp(max=w - 1)
    y1 = (y0 + 1).clamp(max=h - 1)
    flat = image.float().reshape(n, c, h * w)

    def gather(yi: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        index = (yi * w + xi).reshape(n, 1, h * w).expand(n, c, h * w)
        return flat.gather(2, index).reshape(n, c, h, w)

    top = gather(y0, x0) * (1 - wx) + gather(y0, x1) * wx
    bottom = gather(y1, x0) * (1 - wx) + gather(y1, x1) * wx
    return (top * (1 - wy) + bottom * wy).to(image.dtype)


def backward_warp_kernel(image: torch.Tensor, flow: torch.Tensor, launch: _cuda.Launch) -> torch.Tensor:
    """Backward warp through the ``backward_warp_*`` kernel, run by ``launch`` (CuPy on CUDA, a CPU harness in tests).

    ``image`` must be fp16 or fp32; a flow of another type is converted to fp32. Any strides are accepted.
    """
    flow = flow.to(_cuda.kernel_dtype(flow))
    n, c, h, w = image.shape
    out = torch.empty((n, c, h, w), dtype=image.dtype, device=image.device)
    args = [image, flow, out, *map(np.int64, (n, c, h, w))]
    args += [*_cuda.strides(image), *_cuda.strides(flow), *_cuda.strides(out)]
    launch(_cuda.kernel_name("backward_warp", image.dtype, flow.dtype), n * h * w, args)
    return out


def backward_warp_grid_sample(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """The same warp through torch's ``grid_sample`` with fp32 coordinates: about 4x faster than the
    gather-based reference on the CPU and differentiable, so the CPU and training path use it."""
    n, _, h, w = image.shape
    xs = torch.arange(w, device=image.device, dtype=torch.float32).view(1, 1, w)
    ys = torch.arange(h, device=image.device, dtype=torch.float32).view(1, h, 1)
    # align_corners=True maps -1..1 onto pixel centres 0..size-1; max(.., 1) keeps 1-pixel axes finite.
    gx = (xs + flow[:, 0].float()) * (2 / max(w - 1, 1)) - 1
    gy = (ys + flow[:, 1].float()) * (2 / max(h - 1, 1)) - 1
    grid = torch.stack((gx, gy), dim=3)
    out = F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.to(image.dtype)


def backward_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp (see :func:`backward_warp_reference`): the CuPy kernel for fp16/fp32 CUDA tensors when no
    gradient is needed through the inputs, :func:`backward_warp_grid_sample` everywhere else.

    Raises:
        VSVideoGenError: the shapes or devices do not fit, or the CUDA kernel failed.
    """
    check_nchw("backward_warp", "image", image)
    check_nchw("backward_warp", "flow", flow, like=image, channels=2)
    if _cuda.use_kernel(image, flow):
        return backward_warp_kernel(image, flow, _cuda.launcher("backward_warp", image.device))
    return backward_warp_grid_sample(image, flow)
