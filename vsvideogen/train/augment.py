"""Random augmentations of a short frame sequence, applied identically to every frame of it.

A sequence is a float tensor ``[F, C, H, W]`` in 0..1 (F frames of one sample). Each function draws from
the ``numpy.random.Generator`` it is given, so a run is reproducible from its seed.
"""
from __future__ import annotations

import numpy as np
import torch


def random_crop(frames: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The same random ``size x size`` window of every frame of ``[F, H, W, C]`` (any dtype).

    Raises:
        ValueError: the frames are smaller than ``size``.
    """
    h, w = frames.shape[1:3]
    if h < size or w < size:
        raise ValueError(f"frames of {w}x{h} are smaller than the crop {size}x{size}")
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    return frames[:, y : y + size, x : x + size]


def random_flip(frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Mirror left-right and/or top-bottom, each with probability 1/2."""
    dims = [d for d, flip in ((-1, rng.random() < 0.5), (-2, rng.random() < 0.5)) if flip]
    return frames.flip(dims) if dims else frames


def random_channel_order(frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Permute the colour channels (a random one of the 6 orders), so no colour is favoured."""
    return frames[:, torch.from_numpy(rng.permutation(frames.shape[1]))]


def random_brightness(frames: torch.Tensor, rng: np.random.Generator, strength: float = 0.1) -> torch.Tensor:
    """Scale by a gain in ``[1 - strength, 1 + strength]`` and shift by up to ``strength / 2``, clamped to 0..1."""
    gain = 1.0 + strength * (2 * rng.random() - 1)
    offset = 0.5 * strength * (2 * rng.random() - 1)
    return (frames * gain + offset).clamp(0.0, 1.0)


def random_transpose(frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Swap height and width with probability 1/2; with :func:`random_flip` this gives all 8 square symmetries."""
    return frames.transpose(-1, -2) if rng.random() < 0.5 else frames
