"""SRVGGNetCompact: a small VGG-style single-image upscaler (Real-ESRGAN's compact models, Wang et al., 2021).

A 3x3 convolution and PReLU lift the image to ``features`` channels, ``convs`` more 3x3 convolution + PReLU
pairs work at the input resolution, and a last convolution predicts ``out_channels * scale**2`` channels
that a pixel shuffle turns into the upscaled image. The network learns a residual: the nearest-neighbour
upscaled input is added to its output. All convolutions run at the low resolution, which makes it fast.

Module names are those of the Real-ESRGAN checkpoints (``body.<i>``: even ``i`` convolutions, odd ``i``
PReLUs), so ``realesr-general-x4v3.pth`` (64 features, 32 convs, x4), ``realesr-animevideov3.pth`` (64, 16,
x4) and our own trained models load through :func:`srvgg_from_state_dict`, which reads the sizes from the
keys. Nothing here uses VapourSynth.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import WeightsError
from ...ops.resize import pixel_shuffle
from ..weights import load_into

__all__ = ["SRVGGNetCompact", "srvgg_from_state_dict", "is_srvgg_state_dict"]

_BODY_KEY = re.compile(r"body\.(\d+)\.(weight|bias)")


class SRVGGNetCompact(nn.Module):
    """Compact upscaler: conv/PReLU pairs at low resolution, pixel shuffle, nearest-upsampled residual.

    Args:
        in_channels: Image channels in (3 for RGB, 1 for gray).
        out_channels: Image channels out (the residual needs ``out_channels == in_channels``).
        features: Hidden channels.
        convs: Hidden convolutions after the first one.
        scale: Upscaling factor (an integer >= 1).

    Attributes:
        scale: The upscaling factor.
        channels: ``in_channels``.
        recurrent: False: :meth:`forward` takes single frames.
        modulo: 1: any size works.
        bytes_per_pixel: Rough peak fp32 activation memory per input pixel (for tiling budgets).
    """

    recurrent = False
    modulo = 1

    def __init__(self, in_channels: int = 3, out_channels: int = 3, features: int = 64, convs: int = 16,
                 scale: int = 4) -> None:
        super().__init__()
        if in_channels != out_channels:
            raise ValueError(f"SRVGGNetCompact: in_channels {in_channels} != out_channels {out_channels}")
        if scale < 1 or convs < 0 or features < 1:
            raise ValueError(
                f"SRVGGNetCompact: need scale >= 1, convs >= 0, features >= 1; got {scale}, {convs}, {features}")
        self.scale = scale
        self.channels = in_channels
        self.features = features
        self.convs = convs
        layers: list[nn.Module] = [nn.Conv2d(in_channels, features, 3, padding=1), nn.PReLU(features)]
        for _ in range(convs):
            layers += [nn.Conv2d(features, features, 3, padding=1), nn.PReLU(features)]
        layers.append(nn.Conv2d(features, out_channels * scale * scale, 3, padding=1))
        self.body = nn.ModuleList(layers)
        self.bytes_per_pixel = 4 * (3 * features + 2 * out_channels * scale * scale + in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` in 0..1 -> ``[N, C, H * scale, W * scale]`` (not clamped)."""
        out = x
        for layer in self.body:
            out = layer(out)
        out = pixel_shuffle(out, self.scale)
        return out + F.interpolate(x, scale_factor=self.scale, mode="nearest")


def is_srvgg_state_dict(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether the keys look like an SRVGGNetCompact checkpoint (``body.0.weight`` conv, ``body.1.weight`` PReLU)."""
    first, act = state_dict.get("body.0.weight"), state_dict.get("body.1.weight")
    return first is not None and first.dim() == 4 and (act is None or act.dim() == 1)


def srvgg_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> SRVGGNetCompact:
    """Build the :class:`SRVGGNetCompact` that fits a checkpoint and load it strictly.

    Sizes come from the keys: ``features`` and ``in_channels`` from ``body.0.weight``, ``convs`` from the
    index of the last convolution (``body.<2 * convs + 2>``), and ``scale`` from its output channels
    (``in_channels * scale**2``). Only PReLU checkpoints (the published ones) carry enough keys to be read;
    a checkpoint of a ReLU/LeakyReLU variant (no odd ``body`` keys) is refused.

    Raises:
        WeightsError: The keys are not those of an SRVGGNetCompact, or a tensor does not fit (the message
            names the key).
    """
    indices: dict[int, set[str]] = {}
    for key in state_dict:
        match = _BODY_KEY.fullmatch(key)
        if match is None:
            raise WeightsError(func, f"key '{key}' is not part of an SRVGGNetCompact (body.<i>.weight/bias); "
                                     "use a Real-ESRGAN compact (realesr-*v3) checkpoint or one of ours")
        indices.setdefault(int(match.group(1)), set()).add(match.group(2))
    first = state_dict.get("body.0.weight")
    if first is None or first.dim() != 4 or first.shape[-2:] != (3, 3):
        shape = None if first is None else tuple(first.shape)
        raise WeightsError(func, f"key 'body.0.weight' is {shape}, not a 3x3 convolution weight; use an "
                                 "SRVGGNetCompact checkpoint")
    last = max(indices)
    if last % 2 or last < 2:
        raise WeightsError(func, f"the last layer 'body.{last}' is not a convolution (even index >= 2); "
                                 "use a complete SRVGGNetCompact checkpoint")
    if 1 not in indices:
        raise WeightsError(func, "key 'body.1.weight' (a PReLU) is missing: only PReLU SRVGGNetCompact checkpoints "
                                 "can be read; use a prelu model such as realesr-general-x4v3")
    features, in_channels = first.shape[0], first.shape[1]
    head = state_dict.get(f"body.{last}.weight")
    if head is None or head.dim() != 4:
        raise WeightsError(func, f"key 'body.{last}.weight' is missing or not a convolution weight; use a complete "
                                 "SRVGGNetCompact checkpoint")
    scale = math.isqrt(head.shape[0] // in_channels)
    if head.shape[0] != in_channels * scale * scale or scale < 1:
        raise WeightsError(func, f"key 'body.{last}.weight' has {head.shape[0]} output channels, not "
                                 f"{in_channels} x scale**2; use an SRVGGNetCompact whose output has the input's "
                                 "channels")
    net = SRVGGNetCompact(in_channels, in_channels, features, (last - 2) // 2, scale)
    return load_into(net, state_dict, func)
