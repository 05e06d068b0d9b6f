"""Running an image network tile by tile: overlapping tiles, context margins, linear blending.

Big frames do not fit a network's activations in memory. :func:`run_tiled` cuts the frame into a grid of
``nx x ny`` tiles that overlap their neighbours by ``overlap`` pixels and runs the network on one tile at a
time. Each tile is given ``context`` more pixels of the picture on every side, which the network sees and
whose output is thrown away, so the pixels that are kept were computed from the same neighbourhood as in
the whole frame. The overlaps are then blended: across each shared band one tile's weight falls linearly
from 1 to 0 while its neighbour's rises, so seams stay invisible even for networks whose reach exceeds the
context (U-Nets, GANs). Peak memory is one tile's activations plus full-size output and weight accumulators.

Exactness: for a fully convolutional network whose receptive-field radius is at most ``context``, the
tiled result equals the untiled one up to float rounding (the tests check FFDNet and DnCNN to 1e-5 with
their own context). With less context the difference fades with distance from the tile edges and the
blending spreads it (FFDNet with no context and ``overlap=16``: about 2.6/255 at the worst pixel).

Tile starts are aligned to the network's ``modulo`` (e.g. 2 for FFDNet's 2x2 cells) so a tile sees the
same pixel grid as the whole frame.

Generic: works for any ``fn(*tiles) -> tensor``, including upscalers (``scale``). Torch only.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ..errors import VSVideoGenError

__all__ = ["tile_bounds", "check_grid", "auto_tiles", "run_tiled"]


def tile_bounds(length: int, count: int, overlap: int, modulo: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` of ``count`` overlapping tiles along an axis of ``length`` pixels.

    The axis is split at ``count - 1`` cut points (multiples of ``modulo``, about evenly spaced); each tile
    reaches ``half = ceil(overlap / 2)`` (rounded up to a multiple of ``modulo``) past the cuts around it,
    so neighbours share ``2 * half`` pixels. Starts are multiples of ``modulo``.

    Raises:
        ValueError: more tiles than the axis has room for (tiles narrower than ``modulo`` or than ``half``).
    """
    if count < 1 or overlap < 0 or modulo < 1 or length < 1:
        raise ValueError(
            f"tile_bounds: need length, count, modulo >= 1 and overlap >= 0; got {length}, {count}, {modulo}, {overlap}"
        )
    half = _round_up(math.ceil(overlap / 2), modulo)
    cuts = [0] + [(k * length // count) // modulo * modulo for k in range(1, count)] + [length]
    widths = [b - a for a, b in zip(cuts, cuts[1:])]
    if count > 1 and min(widths) < max(modulo, half, 1):
        raise ValueError(
            f"tile_bounds: {count} tiles over {length} px are {min(widths)} px wide, narrower than "
            f"max(modulo={modulo}, overlap/2={half}); use fewer tiles"
        )
    return [(max(0, a - half) if k else 0, min(length, b + half)) for k, (a, b) in enumerate(zip(cuts, cuts[1:]))]


def check_grid(func: str, width: int, height: int, tiles: tuple[int, int], overlap: int, modulo: int = 1) -> None:
    """Refuse a ``tiles`` grid that :func:`tile_bounds` cannot cut from a ``width x height`` frame, saying what
    limits it (the model's alignment or the overlap) and the finest grid that fits.

    Raises:
        VSVideoGenError: a tile would be narrower than ``modulo`` or than half the overlap.
    """
    fits = [_fits(length, count, overlap, modulo) for length, count in ((width, tiles[0]), (height, tiles[1]))]
    if all(fits):
        return
    half = _round_up(math.ceil(overlap / 2), modulo)
    finest = tuple(count if fit else _finest(length, overlap, modulo)
                   for length, count, fit in zip((width, height), tiles, fits))
    limit = f"the model's alignment of {modulo} px" if modulo >= half else f"half the overlap={overlap}, {half} px"
    raise VSVideoGenError(func, f"tiles={tuple(tiles)} is too many for a {width}x{height} clip: a tile must be at "
                                f"least {max(modulo, half, 1)} px wide ({limit}); use at most tiles={finest}"
                                + (" or a smaller overlap" if half > modulo else ""))


def _fits(length: int, count: int, overlap: int, modulo: int) -> bool:
    try:
        tile_bounds(length, count, overlap, modulo)
    except ValueError:
        return False
    return True


def _finest(length: int, overlap: int, modulo: int) -> int:
    """The most tiles :func:`tile_bounds` can cut along an axis of ``length``."""
    return next(count for count in range(length, 0, -1) if _fits(length, count, overlap, modulo))


def auto_tiles(
    height: int, width: int, max_pixels: int, overlap: int, modulo: int = 1, context: int = 0
) -> tuple[int, int]:
    """The fewest ``(nx, ny)`` tiles whose largest tile, context included, has at most ``max_pixels`` pixels.

    Among equal counts the squarer tiles win. When no grid fits the budget, the finest grid the frame allows
    is used (the budget is a guide, not a promise).
    """
    def widest(length: int, count: int) -> int | None:
        try:
            bounds = tile_bounds(length, count, overlap, modulo)
        except ValueError:
            return None
        return max(b - a for a, b in _with_context(bounds, length, context, modulo))

    best: tuple[int, float, int, int] | None = None  # (count, aspect badness, nx, ny)
    finest = (1, 1)
    ny = 0
    while (th := widest(height, ny + 1)) is not None:
        ny += 1
        if best is not None and ny > best[0]:
            break
        nx = 0
        while (tw := widest(width, nx + 1)) is not None:
            nx += 1
            finest = max(finest, (nx, ny), key=lambda t: t[0] * t[1])
            if tw * th <= max_pixels:
                candidate = (nx * ny, abs(math.log(tw / th)), nx, ny)
                best = candidate if best is None else min(best, candidate)
                break
    return (best[2], best[3]) if best is not None else finest


def _round_up(value: int, modulo: int) -> int:
    return -(-value // modulo) * modulo


def _with_context(bounds: list[tuple[int, int]], length: int, context: int, modulo: int) -> list[tuple[int, int]]:
    """``bounds`` widened by ``context`` (rounded up to ``modulo``) on each side, within ``0..length``."""
    if len(bounds) == 1:
        return bounds
    margin = _round_up(context, modulo)
    return [(max(0, a - margin), min(length, b + margin)) for a, b in bounds]


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
    context: int = 0,
    modulo: int = 1,
    scale: int = 1,
    indexed: bool = False,
) -> torch.Tensor:
    """``fn(*inputs)`` computed tile by tile and blended.

    Args:
        fn: Takes the tiles of ``inputs`` (same order) and returns ``[N, C, h * scale, w * scale]`` for a tile
            of ``h x w`` pixels.
        inputs: ``[N, C_i, H, W]`` tensors cut into tiles; a tensor whose last two sizes are ``1 x 1`` (e.g. a
            uniform noise level) is passed whole to every call. When every input is ``1 x 1``, the frame is
            ``1 x 1`` (one tile).
        tiles: ``(nx, ny)`` tiles across and down; ``(1, 1)`` calls ``fn`` once on the whole inputs.
        overlap: Pixels adjacent tiles share and blend (see :func:`tile_bounds`).
        context: Pixels of picture added around each tile for the network to see, cut from its output
            (rounded up to ``modulo``; none is added at the frame's edges).
        modulo: Tile starts are multiples of this.
        scale: Output pixels per input pixel (1 for restoration, 2 or 4 for upscalers).
        indexed: Call ``fn(k, *tiles)`` with the tile's number ``k`` (row by row, 0 for a single tile): the
            same grid gives every tile the same number, e.g. to keep results per tile across frames.

    Returns:
        The blended output, in ``fn``'s dtype (accumulated in float32).

    Raises:
        ValueError: no inputs, the inputs' sizes differ, the grid does not fit (see :func:`tile_bounds`), or ``fn``
            returns the wrong size.
    """
    if not inputs:
        raise ValueError("run_tiled: pass at least one input")
    big = [x for x in inputs if x.shape[-2:] != (1, 1)] or list(inputs)  # all 1x1: a 1x1 frame
    height, width = big[0].shape[-2:]
    if any(x.shape[-2:] != (height, width) for x in big):
        raise ValueError(f"run_tiled: inputs of sizes {[tuple(x.shape[-2:]) for x in inputs]} differ")
    nx, ny = tiles
    if (nx, ny) == (1, 1):
        return fn(0, *inputs) if indexed else fn(*inputs)
    xs, ys = tile_bounds(width, nx, overlap, modulo), tile_bounds(height, ny, overlap, modulo)
    xs_in, ys_in = _with_context(xs, width, context, modulo), _with_context(ys, height, context, modulo)
    device = big[0].device
    out = weights = None
    for j, ((y0, y1), (v0, v1)) in enumerate(zip(ys, ys_in)):
        wy = _ramp(ys, j, scale, device)
        for i, ((x0, x1), (u0, u1)) in enumerate(zip(xs, xs_in)):
            parts = [x if x.shape[-2:] == (1, 1) else x[..., v0:v1, u0:u1] for x in inputs]
            result = fn(j * nx + i, *parts) if indexed else fn(*parts)
            expected = ((v1 - v0) * scale, (u1 - u0) * scale)
            if tuple(result.shape[-2:]) != expected:
                raise ValueError(f"run_tiled: fn gave {tuple(result.shape[-2:])} for a tile that needs {expected}")
            result = result[..., (y0 - v0) * scale:(y1 - v0) * scale, (x0 - u0) * scale:(x1 - u0) * scale]
            if out is None:
                out = torch.zeros(*result.shape[:-2], height * scale, width * scale, dtype=torch.float32,
                                  device=result.device)
                weights = torch.zeros(height * scale, width * scale, dtype=torch.float32, device=result.device)
                dtype = result.dtype
            weight = wy[:, None] * _ramp(xs, i, scale, device)[None, :]
            out[..., y0 * scale:y1 * scale, x0 * scale:x1 * scale] += result.float() * weight
            weights[y0 * scale:y1 * scale, x0 * scale:x1 * scale] += weight
    return (out / weights).to(dtype)
