"""BasicVSR: x4 video super-resolution by bidirectional recurrent propagation (Chan et al., CVPR 2021).

For a sequence of ``T`` low-resolution frames, SPyNet (:mod:`.spynet`) estimates the flow between every pair
of neighbours in both directions. Two recurrent branches then sweep the sequence: the backward branch from
the last frame to the first, the forward branch from the first to the last. At each step the branch's
feature map from the previous step is warped onto the current frame by the flow (zero outside the picture),
concatenated with the frame, and refined by a convolution and a stack of residual blocks. Each output frame
fuses the two branches' features (1x1 convolution), is upsampled by two pixel shuffles (x2 each), and is
added to the bilinearly upsampled input frame.

Every output frame thus depends on the whole sequence; a filter runs the network over overlapping windows
of a clip (see :func:`vsvideogen.filters.upscale.upscale`).

The module's names follow BasicSR's checkpoints (``spynet.*``, ``backward_trunk.main.*``,
``forward_trunk.main.*``, ``fusion``, ``upconv1``, ``upconv2``, ``conv_hr``, ``conv_last``), so the
official weights (REDS4, Vimeo-90K BI and BD; 64 features, 30 blocks per branch) load without renaming:
:func:`basicvsr_from_state_dict`. Nothing here uses VapourSynth.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import WeightsError
from ...ops.resize import pixel_shuffle
from ...ops.warp import backward_warp
from ..weights import load_into
from .spynet import SpyNet

__all__ = ["BasicVSR", "basicvsr_from_state_dict", "warp_zero_padded"]

_BLOCK_KEY = re.compile(r"backward_trunk\.main\.2\.(\d+)\.conv1\.weight")


def warp_zero_padded(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Bilinear backward warp that reads zeros outside the image (``grid_sample`` with ``padding_mode="zeros"``).

    :func:`vsvideogen.ops.warp.backward_warp` clamps to the border; here the image gets a one-pixel frame of
    zeros first, so a sample that leaves the picture blends towards zero over one pixel and is zero beyond,
    exactly as zero padding does. BasicVSR warps its features this way.
    """
    padded = backward_warp(F.pad(image, (1, 1, 1, 1)), F.pad(flow, (1, 1, 1, 1)))
    return padded[..., 1:-1, 1:-1]


class _ResidualBlock(nn.Module):
    """``x + conv2(relu(conv1(x)))``, 3x3 convolutions, no normalisation."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class _Trunk(nn.Module):
    """One propagation branch's refinement: conv + LeakyReLU(0.1), then ``blocks`` residual blocks."""

    def __init__(self, in_channels: int, features: int, blocks: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, features, 3, padding=1),
            nn.LeakyReLU(0.1),
            nn.Sequential(*[_ResidualBlock(features) for _ in range(blocks)]),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class BasicVSR(nn.Module):
    """Bidirectional recurrent x4 video upscaler.

    Args:
        features: Channels of the propagated features.
        blocks: Residual blocks per branch.
        hr_features: Channels of the upsampling layers (64 in the published models).

    Attributes:
        scale: 4.
        channels: 3 (RGB in 0..1).
        recurrent: True: :meth:`forward` takes a whole sequence ``[N, T, 3, H, W]``.
        modulo: 1: any frame size works (SPyNet resizes internally).
        bytes_per_pixel: Rough fp32 activation memory per input pixel of one frame that is independent of
            ``T``; add :attr:`bytes_per_pixel_per_frame` for each frame of the sequence.
    """

    scale = 4
    channels = 3
    recurrent = True
    modulo = 1

    def __init__(self, features: int = 64, blocks: int = 30, hr_features: int = 64) -> None:
        super().__init__()
        self.features = features
        self.spynet = SpyNet()
        self.backward_trunk = _Trunk(features + 3, features, blocks)
        self.forward_trunk = _Trunk(features + 3, features, blocks)
        self.fusion = nn.Conv2d(2 * features, features, 1)
        self.upconv1 = nn.Conv2d(features, 4 * features, 3, padding=1)
        self.upconv2 = nn.Conv2d(features, 4 * hr_features, 3, padding=1)
        self.conv_hr = nn.Conv2d(hr_features, hr_features, 3, padding=1)
        self.conv_last = nn.Conv2d(hr_features, 3, 3, padding=1)
        # The x4 head works at 16x the pixels (two tensors of hr_features alive) plus SPyNet at full size.
        self.bytes_per_pixel = 4 * (2 * 16 * hr_features + 8 * features + 400)
        # Per frame of the sequence: its backward features, both flows, the input and the output.
        self.bytes_per_pixel_per_frame = 4 * (features + 4 + 3 + 3 * 16)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Upscale a sequence: ``[N, T, 3, H, W]`` RGB in 0..1 -> ``[N, T, 3, 4H, 4W]`` (not clamped)."""
        if frames.dim() != 5 or frames.shape[2] != 3:
            raise ValueError(f"BasicVSR: frames must be [N, T, 3, H, W], not {tuple(frames.shape)}")
        n, t, c, h, w = frames.shape
        if t > 1:
            earlier = frames[:, :-1].reshape(-1, c, h, w)
            later = frames[:, 1:].reshape(-1, c, h, w)
            align_next = self.spynet(earlier, later).view(n, t - 1, 2, h, w)  # [:, i] warps frame i+1 onto i
            align_prev = self.spynet(later, earlier).view(n, t - 1, 2, h, w)  # [:, i] warps frame i onto i+1

        backward_features: list[torch.Tensor] = [frames.new_empty(0)] * t
        feat = frames.new_zeros(n, self.features, h, w)
        for i in range(t - 1, -1, -1):
            if i < t - 1:
                feat = warp_zero_padded(feat, align_next[:, i])
            feat = self.backward_trunk(torch.cat([frames[:, i], feat], 1))
            backward_features[i] = feat

        outputs = []
        feat = torch.zeros_like(feat)
        for i in range(t):
            if i > 0:
                feat = warp_zero_padded(feat, align_prev[:, i - 1])
            feat = self.forward_trunk(torch.cat([frames[:, i], feat], 1))
            outputs.append(self._reconstruct(frames[:, i], backward_features[i], feat))
            backward_features[i] = frames.new_empty(0)  # free it as soon as it is used
        return torch.stack(outputs, 1)

    def _reconstruct(self, frame: torch.Tensor, backward: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
        out = F.leaky_relu(self.fusion(torch.cat([backward, forward], 1)), 0.1)
        out = F.leaky_relu(pixel_shuffle(self.upconv1(out), 2), 0.1)
        out = F.leaky_relu(pixel_shuffle(self.upconv2(out), 2), 0.1)
        out = self.conv_last(F.leaky_relu(self.conv_hr(out), 0.1))
        return out + F.interpolate(frame, scale_factor=4, mode="bilinear", align_corners=False)


def basicvsr_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> BasicVSR:
    """Build the :class:`BasicVSR` that fits a BasicSR-layout checkpoint and load it strictly.

    The feature width comes from ``backward_trunk.main.0.weight``, the block count from the
    ``backward_trunk.main.2.<i>`` keys and the upsampling width from ``conv_hr.weight``. SPyNet's
    normalisation buffers (``spynet.mean``/``spynet.std``) are filled with the ImageNet values when the
    checkpoint leaves them out.

    Args:
        state_dict: The checkpoint's tensors (containers such as ``params`` already unwrapped).
        func: Name of the user-facing function, for error messages.

    Returns:
        The network, fp32, on the CPU.

    Raises:
        WeightsError: The checkpoint is not a BasicVSR one, or a key is missing, unexpected or misshapen
            (the message names it).
    """
    first = state_dict.get("backward_trunk.main.0.weight")
    hr = state_dict.get("conv_hr.weight")
    blocks = sorted(int(m.group(1)) for key in state_dict if (m := _BLOCK_KEY.fullmatch(key)))
    if first is None or first.dim() != 4 or hr is None or hr.dim() != 4 or not blocks:
        missing = "backward_trunk.main.0.weight" if first is None else "conv_hr.weight" if hr is None else (
            "backward_trunk.main.2.0.conv1.weight")
        raise WeightsError(
            func, f"the checkpoint is not a BasicVSR one: key '{missing}' is missing or not a convolution weight; "
            "use a BasicSR BasicVSR checkpoint (e.g. BasicVSR_REDS4.pth)"
        )
    if blocks != list(range(len(blocks))):
        raise WeightsError(func, f"the checkpoint's residual blocks are numbered {blocks}, not 0..{len(blocks) - 1}; "
                                 "use an unmodified BasicVSR checkpoint")
    net = BasicVSR(features=first.shape[0], blocks=len(blocks), hr_features=hr.shape[0])
    state = dict(state_dict)
    for name in ("spynet.mean", "spynet.std"):
        state.setdefault(name, net.state_dict()[name])
    return load_into(net, state, func)
