"""RRDBNet: the ESRGAN / Real-ESRGAN generator built from residual-in-residual dense blocks (Wang et al.).

A 3x3 convolution lifts the input to ``features`` channels; ``blocks`` RRDBs follow, each three residual
dense blocks (five 3x3 convolutions whose inputs are the concatenation of all earlier outputs, ``growth``
new channels each, LeakyReLU 0.2, residual scaled by 0.2) with an outer residual also scaled by 0.2; a
convolution closes the trunk, whose output is added to its input. Two (nearest x2 upsample, conv,
LeakyReLU) steps upscale by four, then two convolutions give the image.

The trunk always upscales by four. Real-ESRGAN's x2 (and x1) models feed it a pixel-unshuffled image: 2x2
(4x4) blocks of pixels become channels, so ``RealESRGAN_x2plus`` has 12 input channels for RGB and
upscales the original by two. Frames whose size is not a multiple of the unshuffle factor are padded
(edge replication) and the result cropped.

Module names are those of the BasicSR/Real-ESRGAN checkpoints (``conv_first``, ``body.<i>.rdb<k>.conv<j>``,
``conv_body``, ``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``): ``RealESRGAN_x4plus.pth`` (64
features, 23 blocks, growth 32), ``RealESRGAN_x2plus.pth`` (the same, 12 input channels),
``RealESRNet_x4plus.pth`` and ``RealESRGAN_x4plus_anime_6B.pth`` (6 blocks) load through
:func:`rrdbnet_from_state_dict`. Nothing here uses VapourSynth.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import WeightsError
from ..weights import load_into

__all__ = ["RRDBNet", "rrdbnet_from_state_dict", "is_rrdbnet_state_dict"]

_BLOCK_KEY = re.compile(r"body\.(\d+)\.rdb1\.conv1\.weight")
# Input channels per image channel -> (pixel-unshuffle factor, overall scale).
_UNSHUFFLE = {1: (1, 4), 4: (2, 2), 16: (4, 1)}


class _DenseBlock(nn.Module):
    """Five densely connected 3x3 convolutions; ``x + 0.2 * conv5(...)``."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        for j in range(1, 6):
            out = features if j == 5 else growth
            setattr(self, f"conv{j}", nn.Conv2d(features + (j - 1) * growth, out, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = [x]
        for j in range(1, 5):
            seen.append(F.leaky_relu(getattr(self, f"conv{j}")(torch.cat(seen, 1)), 0.2))
        return x + 0.2 * self.conv5(torch.cat(seen, 1))


class _RRDB(nn.Module):
    """Three dense blocks with an outer residual scaled by 0.2."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = _DenseBlock(features, growth)
        self.rdb2 = _DenseBlock(features, growth)
        self.rdb3 = _DenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    """ESRGAN generator with Real-ESRGAN's pixel-unshuffle input for scales 2 and 1.

    Args:
        channels: Image channels in and out (3 for RGB).
        scale: Overall upscaling factor: 4, 2 (2x2 pixel-unshuffle input) or 1 (4x4 unshuffle).
        features: Trunk channels.
        blocks: Number of RRDBs.
        growth: Channels each dense convolution adds.

    Attributes:
        scale: The upscaling factor.
        channels: Image channels.
        recurrent: False: :meth:`forward` takes single frames.
        modulo: The unshuffle factor (1, 2 or 4): tiles should start on multiples of it.
        bytes_per_pixel: Rough peak fp32 activation memory per input pixel (for tiling budgets).
    """

    recurrent = False

    def __init__(self, channels: int = 3, scale: int = 4, features: int = 64, blocks: int = 23,
                 growth: int = 32) -> None:
        super().__init__()
        factors = {overall: unshuffle for unshuffle, overall in _UNSHUFFLE.values()}
        if scale not in factors:
            raise ValueError(f"RRDBNet: scale must be 4, 2 or 1, not {scale}")
        self.scale = scale
        self.channels = channels
        self.modulo = factors[scale]
        self.conv_first = nn.Conv2d(channels * self.modulo ** 2, features, 3, padding=1)
        self.body = nn.Sequential(*[_RRDB(features, growth) for _ in range(blocks)])
        self.conv_body = nn.Conv2d(features, features, 3, padding=1)
        self.conv_up1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv_up2 = nn.Conv2d(features, features, 3, padding=1)
        self.conv_hr = nn.Conv2d(features, features, 3, padding=1)
        self.conv_last = nn.Conv2d(features, channels, 3, padding=1)
        # Trunk at 1/modulo**2 of the input pixels (dense concatenations ~ 2 * (features + 4 * growth)),
        # head at 16/modulo**2 (two tensors of features).
        self.bytes_per_pixel = 4 * (2 * (features + 4 * growth) + 2 * 16 * features) // self.modulo ** 2 + 64

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` in 0..1 -> ``[N, C, H * scale, W * scale]`` (not clamped)."""
        h, w = x.shape[-2:]
        r = self.modulo
        feat = x
        if r > 1:
            pad_h, pad_w = -h % r, -w % r
            if pad_h or pad_w:
                feat = F.pad(feat, (0, pad_w, 0, pad_h), mode="replicate")
            feat = F.pixel_unshuffle(feat, r)
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = F.leaky_relu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        feat = F.leaky_relu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        out = self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))
        return out[..., : h * self.scale, : w * self.scale]


def is_rrdbnet_state_dict(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether the keys look like a BasicSR-layout RRDBNet checkpoint."""
    return "conv_first.weight" in state_dict and "body.0.rdb1.conv1.weight" in state_dict


def rrdbnet_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> RRDBNet:
    """Build the :class:`RRDBNet` that fits a BasicSR/Real-ESRGAN checkpoint and load it strictly.

    ``features`` and the input channels come from ``conv_first.weight``, the image channels from
    ``conv_last.weight``, ``growth`` from ``body.0.rdb1.conv1.weight`` and ``blocks`` from the
    ``body.<i>`` keys. Input channels of 1x, 4x or 16x the image channels mean scale 4, 2 or 1.

    Raises:
        WeightsError: The keys are not those of an RRDBNet, the input channels fit no scale, or a tensor
            does not fit (the message names the key).
    """
    needed = ("conv_first.weight", "conv_last.weight", "body.0.rdb1.conv1.weight")
    for key in needed:
        value = state_dict.get(key)
        if value is None or value.dim() != 4:
            raise WeightsError(func, f"key '{key}' is missing or not a convolution weight; use a BasicSR/Real-ESRGAN "
                                     "RRDBNet checkpoint (e.g. RealESRGAN_x4plus.pth)")
    first, last = state_dict["conv_first.weight"], state_dict["conv_last.weight"]
    channels, features = last.shape[0], first.shape[0]
    ratio, rest = divmod(first.shape[1], channels)
    if rest or ratio not in _UNSHUFFLE:
        raise WeightsError(func, f"key 'conv_first.weight' takes {first.shape[1]} input channels, not 1, 4 or 16 times "
                                 f"the {channels} output channels of 'conv_last.weight'; use an RRDBNet for scale "
                                 "4, 2 or 1")
    blocks = sorted(int(m.group(1)) for key in state_dict if (m := _BLOCK_KEY.fullmatch(key)))
    if blocks != list(range(len(blocks))):
        raise WeightsError(func, f"the checkpoint's RRDB blocks are numbered {blocks}, not 0..{len(blocks) - 1}; "
                                 "use an unmodified RRDBNet checkpoint")
    growth = state_dict["body.0.rdb1.conv1.weight"].shape[0]
    net = RRDBNet(channels, _UNSHUFFLE[ratio][1], features, len(blocks), growth)
    return load_into(net, state_dict, func)
