"""Forward splatting: push each source pixel along its flow vector onto the target grid."""
from __future__ import annotations

import numpy as np
import torch

from . import _cuda
from ._checks import check_nchw


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


def forward_splat_kernel(
    image: torch.Tensor, flow: torch.Tensor, metric: torch.Tensor | None, launch: _cuda.Launch
) -> torch.Tensor:
    """Forward splat through the ``forward_splat_*`` and ``splat_normalize_*`` kernels, run by ``launch``.

    ``image`` must be fp16 or fp32; flow and metric are passed as their shared fp16/fp32 type, else as fp32.
    """
    second = _cuda.kernel_dtype(flow, metric)
    flow = flow.to(second)
    metric = None if metric is None else metric.to(second)
    n, c, h, w = image.shape
    sizes = [*map(np.int64, (n, c, h, w))]
    acc = torch.zeros((n, c + (metric is not None), h, w), dtype=torch.float32, device=image.device)
    metric_strides = [np.int64(0)] * 3 if metric is None else [np.int64(metric.stride(i)) for i in (0, 2, 3)]
    args = [image, flow, metric, acc, *sizes]
    args += [*_cuda.strides(image), *_cuda.strides(flow), *metric_strides]
    variant = "forward_splat_sum" if metric is None else "forward_splat_softmax"
    launch(_cuda.kernel_name(variant, image.dtype, second), n * h * w, args)
    if metric is None and image.dtype == torch.float32:
        return acc
    out = torch.empty((n, c, h, w), dtype=image.dtype, device=image.device)
    args = [acc, out, *sizes, np.int32(metric is not None), *_cuda.strides(out)]
    launch(_cuda.kernel_name("splat_normalize", image.dtype), n * c * h * w, args)
    return out


def forward_splat(image: torch.Tensor, flow: torch.Tensor, metric: torch.Tensor | None = None) -> torch.Tensor:
    """Forward splat (see :func:`forward_splat_reference`); the CuPy kernel on CUDA, the reference elsewhere.

    The kernel runs for fp16/fp32 CUDA tensors when no gradient is needed through the inputs. Its float
    atomics make the summation order, hence the last bits of the result, vary from run to run.

    Raises:
        VSVideoGenError: the shapes or devices do not fit, or the CUDA kernel failed.
    """
    check_nchw("forward_splat", "image", image)
    check_nchw("forward_splat", "flow", flow, like=image, channels=2)
    if metric is not None:
        check_nchw("forward_splat", "metric", metric, like=image, channels=1)
    if _cuda.use_kernel(image, flow, metric):
        return forward_splat_kernel(image, flow, metric, _cuda.launcher("forward_splat", image.device))
    return forward_splat_reference(image, flow, metric)
