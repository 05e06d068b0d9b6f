"""Input checks shared by the ops' dispatchers, so CPU and CUDA paths reject the same inputs the same way."""
from __future__ import annotations

import torch

from ..errors import VSVideoGenError


def check_nchw(
    func: str, name: str, tensor: torch.Tensor, like: torch.Tensor | None = None, channels: int | None = None
) -> None:
    """``tensor`` must be a 4-D ``[N, C, H, W]`` tensor, with ``like``'s N, H, W and device and ``channels`` channels.

    Raises:
        VSVideoGenError: naming ``func`` and ``name`` when a requirement fails.
    """
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != 4:
        shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        raise VSVideoGenError(func, f"{name} is {shape}; a 4-D [N, C, H, W] tensor is needed")
    if channels is not None and tensor.shape[1] != channels:
        raise VSVideoGenError(func, f"{name} has {tensor.shape[1]} channels; {channels} are needed")
    if like is not None:
        n, _, h, w = like.shape
        if (tensor.shape[0], tensor.shape[2], tensor.shape[3]) != (n, h, w):
            raise VSVideoGenError(
                func, f"{name} is {tuple(tensor.shape)}; it must match the image's N, H, W = {n}, {h}, {w}"
            )
        if tensor.device != like.device:
            raise VSVideoGenError(func, f"{name} is on {tensor.device}; it must be on the image's device {like.device}")
