"""Overlapped tiling: grid geometry, blending, exactness with enough context, automatic tile counts."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vsvideogen.errors import VSVideoGenError
from vsvideogen.vs.tiling import auto_tiles, check_grid, run_tiled, tile_bounds


def conv_stack(depth: int, seed: int = 0):
    """A random 3x3 conv stack with ReLUs (receptive-field radius ``depth``) and a noise-map input."""
    gen = torch.Generator().manual_seed(seed)
    weights = [torch.randn(8 if i < depth - 1 else 3, 3 + 1 if i == 0 else 8, 3, 3, generator=gen) * 0.2 for i in range(depth)]

    def fn(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        y = torch.cat([x, sigma.expand(x.shape[0], 1, *x.shape[-2:])], 1)
        for i, w in enumerate(weights):
            y = F.conv2d(y, w, padding=1)
            if i < depth - 1:
                y = F.relu(y)
        return y

    return fn


def test_bounds_cover_align_and_overlap():
    for length, count, overlap, modulo in [(100, 3, 16, 1), (97, 4, 10, 2), (256, 2, 16, 8), (50, 1, 16, 8)]:
        bounds = tile_bounds(length, count, overlap, modulo)
        assert len(bounds) == count and bounds[0][0] == 0 and bounds[-1][1] == length
        assert all(a % modulo == 0 for a, _ in bounds)
        for (a0, b0), (a1, b1) in zip(bounds, bounds[1:]):
            assert a0 < a1 < b0 < b1  # neighbours overlap
            assert b0 - a1 >= overlap and (b0 - a1) % modulo == 0
    assert tile_bounds(64, 2, 0) == [(0, 32), (32, 64)]
    with pytest.raises(ValueError, match="use fewer tiles"):
        tile_bounds(64, 10, 16)
    with pytest.raises(ValueError):
        tile_bounds(64, 0, 16)


def test_identity_is_reproduced_exactly_and_sigma_maps_are_tiled():
    x = torch.rand(2, 3, 50, 70)
    level = torch.rand(2, 1, 50, 70)
    out = run_tiled(lambda a, s: a * 1.0 + 0 * s, [x, level], (3, 2), 12, context=5)
    assert torch.allclose(out, x, atol=1e-6)
    assert torch.allclose(run_tiled(lambda a, s: s.expand_as(a), [x, level], (2, 3), 8), level.expand_as(x), atol=1e-6)
    scalar = torch.full((1, 1, 1, 1), 0.5)
    seen = []
    run_tiled(lambda a, s: seen.append(tuple(s.shape)) or a, [x[:1], scalar], (2, 2), 8)
    assert seen == [(1, 1, 1, 1)] * 4


def test_a_1x1_frame_is_one_tile_with_its_1x1_level():
    x, level = torch.rand(2, 3, 1, 1), torch.full((1, 1, 1, 1), 0.5)
    assert torch.equal(run_tiled(lambda a, s: a + s, [x, level], (1, 1), 16, context=8, modulo=2), x + 0.5)
    with pytest.raises(ValueError, match="use fewer tiles"):
        run_tiled(lambda a: a, [x], (2, 1), 0)
    with pytest.raises(ValueError, match="pass at least one input"):
        run_tiled(lambda: x, [], (1, 1), 0)


@pytest.mark.parametrize("tiles", [(2, 2), (3, 2), (1, 3)])
def test_tiled_equals_untiled_with_receptive_field_context(tiles):
    depth = 6
    fn = conv_stack(depth)
    x, sigma = torch.rand(1, 3, 64, 96), torch.full((1, 1, 1, 1), 0.1)
    whole = fn(x, sigma)
    exact = run_tiled(fn, [x, sigma], tiles, 8, context=depth)
    assert (exact - whole).abs().max().item() <= 1e-5
    short = run_tiled(fn, [x, sigma], tiles, 8, context=0)
    assert (short - whole).abs().max().item() > 1e-3  # without context the tile borders show


def test_upscaler_scale_and_dtype():
    def up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest").half()

    x = torch.rand(1, 3, 40, 60)
    out = run_tiled(up, [x], (2, 2), 8, context=2, modulo=2, scale=2)
    assert out.dtype == torch.float16 and out.shape == (1, 3, 80, 120)
    assert torch.allclose(out.float(), up(x).float(), atol=1e-3)
    with pytest.raises(ValueError, match="for a tile that needs"):
        run_tiled(lambda a: a, [x], (2, 2), 8, scale=2)


def test_auto_tiles_fit_the_budget():
    assert auto_tiles(1080, 1920, 10**8, 16, 2, 26) == (1, 1)
    nx, ny = auto_tiles(1080, 1920, 1 << 20, 16, 8, 64)
    xs, ys = tile_bounds(1920, nx, 16, 8), tile_bounds(1080, ny, 16, 8)
    widest = max(min(1920, b + 64) - max(0, a - 64) for a, b in xs)
    tallest = max(min(1080, b + 64) - max(0, a - 64) for a, b in ys)
    assert widest * tallest <= 1 << 20
    assert nx * ny <= 4
    assert auto_tiles(64, 96, 10, 16, 2) == (96 // 8, 64 // 8)  # impossible budget: the finest grid


def test_a_grid_too_fine_is_refused_naming_what_limits_it_and_the_finest_that_fits():
    check_grid("f", 64, 48, (16, 12), 0, 4)  # 4 px tiles: the finest a 4 px alignment allows
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.f: tiles=\(17, 1\) is too many for a 64x48 clip: a tile "
                                              r"must be at least 4 px wide \(the model's alignment of 4 px\); use at most "
                                              r"tiles=\(16, 1\)$"):
        check_grid("f", 64, 48, (17, 1), 0, 4)
    with pytest.raises(VSVideoGenError, match=r"at least 16 px wide \(half the overlap=32, 16 px\); use at most "
                                              r"tiles=\(4, 1\) or a smaller overlap$"):
        check_grid("f", 64, 48, (5, 1), 32, 4)
    tile_bounds(64, 4, 32, 4)  # the suggested grid is one tile_bounds cuts

