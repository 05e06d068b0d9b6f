"""Forward splatting: push each source pixel along its flow vector onto the target grid."""
from __future__ import annotations

import torch


def forward_splat_reference(image: torch.Tensor, flow: torch.Tensor, metric: torch.Tensor | None = None) -> torch.Tensor:
    """Splat ``image`` forward by ``flow`` with bilinear weights.

    Args:
        image: ``[N, C, H, W]`` float tensor.
        flow: ``[N, 2, H, W]`` displacement in pixels (x, y).
        metric: ``None`` for summation splatting; ``[N, 1, H, W]`` importance for softmax splatting, where
            each contribution is weighted by ``exp(metric)`` and the result normalised by the splatted weights.

    Targets outside the image are dropped. Accumulation is in fp32; the result has ``image``'s dtype.
    """
    n, c, h, w = image.shape
    values = image.float()
    if metric is not None:
        weight = metric.float().exp()
        values = torch.cat([values * weight, weight], 1)
    channels = values.shape[1]
    ys = torch.arange(h, device=image.device, dtype=torch.float32).view(1, h, 1)
    xs = torch.arange(w, device=image.device, dtype=torch.float32).view(1, 1, w)
    x = xs + flow[:, 0].float()
    y = ys + flow[:, 1].float()
    x0 = x.floor()
    y0 = y.floor()
    out = torch.zeros(n, channels, h * w, device=image.device, dtype=torch.float32)
    src = values.reshape(n, channels, h * w)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        xi = x0 + dx
        yi = y0 + dy
        bilinear = (1 - (x - xi).abs()) * (1 - (y - yi).abs())
        inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
        target = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).long().reshape(n, 1, h * w)
        contribution = src * (bilinear * inside).reshape(n, 1, h * w)
        out.scatter_add_(2, target.expand(n, channels, h * w), contribution)
    out = out.reshape(n, channels, h, w)
    if metric is not None:
        out = out[:, :c] / (out[:, c:] + 1e-7)
    return out.to(image.dtype)


def forward_splat(image: torch.Tensor, flow: torch.Tensor, metric: torch.Tensor | None = None) -> torch.Tensor:
    """Forward splat (see :func:`forward_splat_reference`); the CuPy kernel on CUDA, the reference elsewhere."""
    return forward_splat_reference(image, flow, metric)
