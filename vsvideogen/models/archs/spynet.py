"""SPyNet: a spatial-pyramid optical-flow network (Ranjan and Black, 2017), the flow estimator of BasicVSR.

Both frames are normalised with the ImageNet mean and standard deviation and resized (bilinear) to a
multiple of 32 pixels, then reduced five times by 2x2 averaging into a six-level pyramid. From the coarsest
level up, the flow so far is upsampled by two (and doubled), the second frame is warped by it, and a small
CNN of five 7x7 convolutions sees ``[first frame, warped second frame, flow]`` (8 channels) and predicts a
correction. The finest flow is resized back to the input size and rescaled.

The flow is a backward flow in pixels, channel 0 = x, channel 1 = y: ``backward_warp(second, flow)`` aligns
the second frame with the first.

Parameter and buffer names (``basic_module.<level>.basic_module.<2i>``, ``mean``, ``std``) are those of the
BasicSR checkpoints, where SPyNet lives under ``spynet.``. Nothing here uses VapourSynth.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...ops.warp import backward_warp
from ...vs.tiling import auto_tiles, run_tiled

__all__ = ["SpyNet", "LEVELS", "FLOW_CNN_REACH"]

#: Pyramid levels (one flow CNN each).
LEVELS = 6
#: Receptive-field radius in pixels of a level's CNN (five 7x7 convolutions).
FLOW_CNN_REACH = 15
# Pixels shared by neighbouring tiles of a level (equal there: the context covers the reach).
_TILE_OVERLAP = 2
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class _FlowCNN(nn.Module):
    """One pyramid level's network: 8 -> 32 -> 64 -> 32 -> 16 -> 2 channels, 7x7 convolutions with ReLU."""

    def __init__(self) -> None:
        super().__init__()
        widths = (8, 32, 64, 32, 16, 2)
        layers: list[nn.Module] = []
        for i in range(len(widths) - 1):
            layers.append(nn.Conv2d(widths[i], widths[i + 1], 7, padding=3))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        self.basic_module = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.basic_module(x)


class SpyNet(nn.Module):
    """Coarse-to-fine flow between two RGB frames in 0..1.

    Call as ``spynet(first, second)`` with ``[N, 3, H, W]`` tensors of any size; returns ``[N, 2, H, W]``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.basic_module = nn.ModuleList([_FlowCNN() for _ in range(LEVELS)])
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, first: torch.Tensor, second: torch.Tensor, max_pixels: int | None = None) -> torch.Tensor:
        """The backward flow from ``first`` to ``second``.

        ``max_pixels``: run each level's CNN on tiles of at most about this many pixels (with its full
        receptive field, :data:`FLOW_CNN_REACH`, as context, so the flow equals the untiled one up to float
        rounding); None: whole levels at once. Bounds the memory of large frames.
        """
        if first.shape != second.shape:
            raise ValueError(f"SpyNet: frames of shapes {tuple(first.shape)} and {tuple(second.shape)} differ")
        h, w = first.shape[-2:]
        h32, w32 = 32 * math.ceil(h / 32), 32 * math.ceil(w / 32)
        first = F.interpolate(first, size=(h32, w32), mode="bilinear", align_corners=False)
        second = F.interpolate(second, size=(h32, w32), mode="bilinear", align_corners=False)
        flow = self._pyramid_flow(first, second, max_pixels)
        flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
        return torch.cat([flow[:, :1] * (w / w32), flow[:, 1:] * (h / h32)], 1)

    def _pyramid_flow(self, first: torch.Tensor, second: torch.Tensor, max_pixels: int | None) -> torch.Tensor:
        """Flow at the (multiple-of-32) size of the inputs."""
        firsts = [(first - self.mean) / self.std]
        seconds = [(second - self.mean) / self.std]
        for _ in range(LEVELS - 1):
            firsts.append(F.avg_pool2d(firsts[-1], 2, 2, count_include_pad=False))
            seconds.append(F.avg_pool2d(seconds[-1], 2, 2, count_include_pad=False))
        flow = None
        for level in range(LEVELS):
            ref, supp = firsts[LEVELS - 1 - level], seconds[LEVELS - 1 - level]
            if flow is None:  # the coarsest level starts from zero motion
                up = ref.new_zeros(ref.shape[0], 2, *ref.shape[2:])
            else:  # sizes are multiples of 32, so every level is exactly twice the one below
                up = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
            flow = self._level(level, torch.cat([ref, backward_warp(supp, up), up], 1), max_pixels) + up
        return flow

    def _level(self, level: int, x: torch.Tensor, max_pixels: int | None) -> torch.Tensor:
        """Level ``level``'s CNN on ``x``, tile by tile when ``x`` has more than ``max_pixels`` pixels."""
        h, w = x.shape[-2:]
        if max_pixels is None or h * w <= max_pixels:
            return self.basic_module[level](x)
        tiles = auto_tiles(h, w, max_pixels, _TILE_OVERLAP, context=FLOW_CNN_REACH)
        return run_tiled(self.basic_module[level], [x], tiles, _TILE_OVERLAP, context=FLOW_CNN_REACH)
