"""Running an image network tile by tile, with overlapping tiles blended by linear ramps.

Big frames do not fit a network's activations in memory. :func:`run_tiled` cuts the frame into a grid of
``nx x ny`` tiles that overlap their neighbours, runs the network on one tile at a time and blends the
overlaps: across each shared band, one tile's weight falls linearly from 1 to 0 while its neighbour's rises,
so every output pixel is a convex mix and a tile's own border pixels (where the network saw padding instead
of the picture) count least. Peak memory is one tile's activations plus the full-size output and weight
accumulators.

For a fully convolutional network the tiled result matches the untiled one up to the influence of the tile
borders, which fades with distance: an overlap at least the network's receptive-field radius makes the
difference small (for FFDNet and DnCNN with ``overlap=16``, under 1/255 at the worst pixel; see the tests).
Tile starts are aligned to the network's ``modulo`` (e.g. 2 for FFDNet's 2x2 cells) so a tile sees the same
pixel grid as the whole frame.

Generic: works for any ``fn(*tiles) -> tensor``, including upscalers (``scale``). Torch only.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

__all__ = ["tile_bounds", "auto_tiles", "run_tiled"]


def tile_bounds(length: int, count: int, overlap: int, modulo: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` of ``count`` overlapping tiles along an axis of ``length`` pixels.

    The axis is split at ``count - 1`` cut points (multiples of ``modulo``, about evenly spaced); each tile
    reaches ``half = ceil(overlap / 2)`` (rounded up to a multiple of ``modulo``) past the cuts around it,
    so neighbours share ``2 * half`` pixels. Starts are multiples of ``modulo``.

    Raises:
        ValueError: more tiles than the axis has room for (tiles narrower than ``modulo`` or than ``half``).
    """
    if count < 1 or overlap < 0 or modulo < 1 or length < 1:
        raise ValueError(f"tile_bounds: need length, count, modulo >= 1 and overlap >= 0; got {length}, {count}, {modulo}, {overlap}")
    half = _round_up(math.ceil(overlap / 2), modulo)
    cuts = [0] + [(k * length // count) // modulo * modulo for k in range(1, count)] + [length]
    widths = [b - a for a, b in zip(cuts, cuts[1:])]
    if count > 1 and min(widths) < max(modulo, half, 1):
        raise ValueError(
            f"tile_bounds: {count} tiles over {length} px are {min(widths)} px wide, narrower than "
            f"max(modulo={modulo}, overlap/2={half}); use fewer tiles"
        )
    return [(max(0, a - half) if k else 0, min(length, b + half)) for k, (a, b) in enumerate(zip(cuts, cuts[1:]))]


def auto_tiles(height: int, width: int, max_pixels: int, overlap: int, modulo: int = 1) -> tuple[int, int]:
    """The fewest ``(nx, ny)`` tiles whose largest tile (with its overlap) has at most ``max_pixels`` pixels.

    Among equal counts the squarer tiles win. If even the most tiles the frame allows are bigger, that many
    are used (the budget is a guide, not a promise).
    """
    best: tuple[int, int, int, float] | None = None  # (count, nx, ny, aspect badness)
    max_nx = max(1, width // max(modulo, math.ceil(overlap / 2), 1))
    max_ny = max(1, height // max(modulo, math.ceil(overlap / 2), 1))
    fallback = (1, 1)
    for ny in range(1, max_ny + 1):
        for nx in range(1, max_nx + 1):
            if best is not None and nx * ny > best[0]:
                break
            try:
                xs, ys = tile_bounds(width, nx, overlap, modulo), tile_bounds(height, ny, overlap, modulo)
            except ValueError:
                break
            fallback = (nx, ny) if nx * ny >= fallback[0] * fallback[1] else fallback
            tw, th = max(b - a for a, b in xs), max(b - a for a, b in ys)
            if tw * th <= max_pixels:
                badness = abs(math.log(tw / th))
                if best is None or (nx * ny, badness) < (best[0], best[3]):
                    best = (nx * ny, nx, ny, badness)
                break
    return (best[1], best[2]) if best is not None else fallback


def _round_up(value: int, modulo: int) -> int:
    return -(-value // modulo) * modulo


def _ramp(bounds: list[tuple[int, int]], k: int, scale: int, device: torch.device) -> torch.Tensor:
    """Blend weights of tile ``k`` along one axis (output pixels): 1 inside, linear over shared bands."""
    start, stop = bounds[k]
    pos = torch.arange(start * scale, stop * scale, device=device, dtype=torch.float32) + 0.5
    weight = torch.ones_like(pos)
    if k > 0:  # band shared with the previous tile: [start, previous stop)
        band = (bounds[k - 1][1] - start) * scale
        weight = torch.minimum(weight, (pos - start * scale) / band)
    if k < len(bounds) - 1:  # band shared with the next tile: [next start, stop)
        band = (stop - bounds[k + 1][0]) * scale
        weight = torch.minimum(weight, (stop * scale - pos) / band)
    return weight


def run_tiled(
    fn: Callable[..., torch.Tensor],
    inputs: Sequence[torch.Tensor],
    tiles: tuple[int, int],
    overlap: int,
    *,
    modulo: int = 1,
    scale: int = 1,
) -> torch.Tensor:
    """``fn(*inputs)`` computed tile by tile and blended.

    Args:
        fn: Takes the tiles of ``inputs`` (same order) and returns ``[N, C, h * scale, w * scale]`` for a tile
            of ``h x w`` pixels.
        inputs: ``[N, C_i, H, W]`` tensors cut into tiles; a tensor whose last two sizes are ``1 x 1`` (e.g. a
            uniform noise level) is passed whole to every call.
        tiles: ``(nx, ny)`` tiles across and down; ``(1, 1)`` calls ``fn`` once on the whole inputs.
        overlap: Pixels adjacent tiles share (see :func:`tile_bounds`).
        modulo: Tile starts are multiples of this.
        scale: Output pixels per input pixel (1 for restoration, 2 or 4 for upscalers).

    Returns:
        The blended output, in ``fn``'s dtype (accumulated in float32).
    """
    big = [x for x in inputs if x.shape[-2:] != (1, 1)]
    if not big:
        raise ValueError("run_tiled: at least one input must be an image (not 1x1)")
    height, width = big[0].shape[-2:]
    if any(x.shape[-2:] != (height, width) for x in big):
        raise ValueError(f"run_tiled: inputs of sizes {[tuple(x.shape[-2:]) for x in inputs]} differ")
    nx, ny = tiles
    if (nx, ny) == (1, 1):
        return fn(*inputs)
    xs, ys = tile_bounds(width, nx, overlap, modulo), tile_bounds(height, ny, overlap, modulo)
    out = weights = None
    dtype = None
    for j, (y0, y1) in enumerate(ys):
        wy = _ramp(ys, j, scale, big[0].device)
        for i, (x0, x1) in enumerate(xs):
            parts = [x if x.shape[-2:] == (1, 1) else x[..., y0:y1, x0:x1] for x in inputs]
            result = fn(*parts)
            expected = ((y1 - y0) * scale, (x1 - x0) * scale)
            if tuple(result.shape[-2:]) != expected:
                raise ValueError(f"run_tiled: fn gave {tuple(result.shape[-2:])} for a tile that needs {expected}")
            if out is None:
                dtype = result.dtype
                out = torch.zeros(*result.shape[:-2], height * scale, width * scale, dtype=torch.float32, device=result.device)
                weights = torch.zeros(height * scale, width * scale, dtype=torch.float32, device=result.device)
            weight = wy[:, None] * _ramp(xs, i, scale, big[0].device)[None, :]
            out[..., y0 * scale:y1 * scale, x0 * scale:x1 * scale] += result.float() * weight
            weights[y0 * scale:y1 * scale, x0 * scale:x1 * scale] += weight
    return (out / weights).to(dtype)
