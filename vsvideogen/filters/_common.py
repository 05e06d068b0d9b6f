"""What the tiled filters share: choosing a tile grid that fits the memory budget."""
from __future__ import annotations

import torch
import vapoursynth as vs

from ..vs.tiling import auto_tiles

#: Memory a tile's activations may take on the CPU when tiles are chosen automatically (on CUDA: half the
#: free GPU memory).
CPU_BUDGET = 2 << 30


def auto_grid(
    clip: vs.VideoNode,
    bytes_per_pixel: int,
    channels: int,
    overlap: int,
    modulo: int,
    device: torch.device,
    dtype: torch.dtype,
    context: int = 0,
) -> tuple[int, int]:
    """The fewest ``(nx, ny)`` tiles of ``clip``'s frames whose activations fit the budget.

    The budget is half the free memory of a CUDA ``device``, :data:`CPU_BUDGET` on the CPU.

    Args:
        clip: The clip whose frames are tiled.
        bytes_per_pixel: Activation bytes per input pixel of one image through the network, at fp32
            (scaled to ``dtype``).
        channels: The network's channels (1 or 3); a gray network on a colour clip runs each of the three
            channels as its own image, so it needs three times the memory.
        overlap: Pixels adjacent tiles share.
        modulo: Tile alignment.
        device: The device the network runs on.
        dtype: The dtype it runs in.
        context: Pixels of picture each tile gets around it.
    """
    budget = torch.cuda.mem_get_info(device)[0] // 2 if device.type == "cuda" else CPU_BUDGET
    per_pixel = bytes_per_pixel * torch.finfo(dtype).bits // 32
    if channels == 1 and clip.format.color_family != vs.GRAY:
        per_pixel *= 3  # three channels, each its own gray image
    return auto_tiles(clip.height, clip.width, max(1, budget // max(1, per_pixel)), overlap, modulo, context)
