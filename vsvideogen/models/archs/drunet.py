"""DRUNet: a residual U-Net denoiser conditioned on a noise-level map (Zhang et al., DPIR, 2021).

Input: the image (``C`` channels) with a noise-level map (``sigma / 255``) appended as one more channel.
A 3x3 head convolution, then three encoder levels (``blocks`` residual blocks ``x + conv(relu(conv(x)))``
followed by a 2x2 stride-2 convolution that doubles the width), a bottleneck of residual blocks, three
decoder levels (a 2x2 stride-2 transposed convolution, then residual blocks) each fed the sum of the
previous level and the matching encoder output, and a 3x3 tail on the sum with the head's output. No
convolution has a bias. The published colour model (``drunet_color.pth``) has widths 64, 128, 256, 512 and
four blocks per level; the input is padded to a multiple of 8 by edge replication and cropped back.

The module's parameter names are those of KAIR's ``UNetRes`` checkpoints (``m_head``, ``m_down1``..3,
``m_body``, ``m_up3``..1, ``m_tail``; a residual block's convolutions are ``<block>.res.0`` and
``<block>.res.2``), so they load without renaming. Nothing here imports VapourSynth.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import WeightsError
from ..weights import load_into
from .ffdnet import noise_map

__all__ = ["DRUNet", "drunet_from_state_dict", "DRUNET_WIDTHS"]

#: Widths of the published DRUNet levels.
DRUNET_WIDTHS = (64, 128, 256, 512)


class _ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.res = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res(x)


class DRUNet(nn.Module):
    """Noise-conditional residual U-Net.

    Args:
        channels: Image channels (1 or 3); the network takes one more (the noise map).
        widths: Channels of the four levels, full resolution first.
        blocks: Residual blocks per level.

    Attributes:
        noise_conditional: True: ``forward`` needs ``sigma``.
        modulo: 8: inputs are padded to a multiple of 8 internally; tiles should start on multiples of 8.
        tile_context: 64: context pixels per tile side. The U-Net's receptive field is far wider (hundreds
            of pixels), so tiled output is close to, not equal to, the untiled one; blending hides seams.
        bytes_per_pixel: Rough peak activation memory per input pixel in fp32 (for tiling budgets).
    """

    noise_conditional = True
    modulo = 8
    tile_context = 64

    def __init__(self, channels: int = 3, widths: Sequence[int] = DRUNET_WIDTHS, blocks: int = 4) -> None:
        super().__init__()
        if len(widths) != 4:
            raise ValueError("DRUNet: widths needs four levels")
        self.channels = channels
        self.bytes_per_pixel = 6 * widths[0] * 4
        w0, w1, w2, w3 = widths
        self.m_head = nn.Conv2d(channels + 1, w0, 3, padding=1, bias=False)
        self.m_down1 = self._down(w0, w1, blocks)
        self.m_down2 = self._down(w1, w2, blocks)
        self.m_down3 = self._down(w2, w3, blocks)
        self.m_body = nn.Sequential(*[_ResBlock(w3) for _ in range(blocks)])
        self.m_up3 = self._up(w3, w2, blocks)
        self.m_up2 = self._up(w2, w1, blocks)
        self.m_up1 = self._up(w1, w0, blocks)
        self.m_tail = nn.Conv2d(w0, channels, 3, padding=1, bias=False)

    @staticmethod
    def _down(width: int, wider: int, blocks: int) -> nn.Sequential:
        return nn.Sequential(*[_ResBlock(width) for _ in range(blocks)], nn.Conv2d(width, wider, 2, stride=2, bias=False))

    @staticmethod
    def _up(width: int, narrower: int, blocks: int) -> nn.Sequential:
        return nn.Sequential(
            nn.ConvTranspose2d(width, narrower, 2, stride=2, bias=False), *[_ResBlock(narrower) for _ in range(blocks)]
        )

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """Denoise ``x`` (``[N, C, H, W]``, nominal 0..1).

        Args:
            x: The noisy image.
            sigma: Noise level on the 0..1 scale (8-bit sigma / 255): a float, a ``[N]`` tensor, or a map
                ``[N, 1, 1, 1]`` or ``[N, 1, H, W]``.
        """
        n, _, h, w = x.shape
        level = noise_map(sigma, x).expand(n, 1, h, w)
        x = torch.cat([x, level], 1)
        pad = (0, -w % self.modulo, 0, -h % self.modulo)
        if any(pad):
            x = F.pad(x, pad, mode="replicate")
        x1 = self.m_head(x)
        x2 = self.m_down1(x1)
        x3 = self.m_down2(x2)
        x4 = self.m_down3(x3)
        y = self.m_up3(self.m_body(x4) + x4)
        y = self.m_up2(y + x3)
        y = self.m_up1(y + x2)
        return self.m_tail(y + x1)[..., :h, :w]


def drunet_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> DRUNet:
    """Build the :class:`DRUNet` that fits a KAIR DRUNet checkpoint (or one of ours) and load it strictly.

    The widths come from ``m_head``, ``m_down<k>.<blocks>.weight`` and the channels from ``m_tail``.

    Raises:
        WeightsError: not a DRUNet layout, or a tensor is missing, unexpected or of the wrong shape (the
            message names the key and both shapes).
    """
    head, tail = state_dict.get("m_head.weight"), state_dict.get("m_tail.weight")
    if head is None or tail is None or head.ndim != 4 or tail.ndim != 4:
        raise WeightsError(
            func, "the checkpoint is not a DRUNet (no 'm_head.weight'/'m_tail.weight'); use a KAIR DRUNet checkpoint"
        )
    channels = tail.shape[0]
    if head.shape[1] != channels + 1 or channels not in (1, 3):
        raise WeightsError(
            func, f"'m_head.weight' takes {head.shape[1]} channels and 'm_tail.weight' gives {channels}; a DRUNet takes "
            "C+1 (image + noise map) and gives C for C = 1 or 3: use a DRUNet checkpoint"
        )
    blocks = 0
    while f"m_body.{blocks}.res.0.weight" in state_dict:
        blocks += 1
    widths = [head.shape[0]]
    for level in (1, 2, 3):
        down = state_dict.get(f"m_down{level}.{blocks}.weight")
        if blocks == 0 or down is None or down.ndim != 4:
            raise WeightsError(
                func, f"the checkpoint has {blocks} bottleneck blocks but no 'm_down{level}.{blocks}.weight'; "
                "use a complete KAIR DRUNet checkpoint"
            )
        widths.append(down.shape[0])
    net = DRUNet(channels, widths, blocks)
    return load_into(net, {k: v.float() for k, v in state_dict.items()}, func).eval()
