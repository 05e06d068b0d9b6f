"""The motion-compensated temporal denoiser: a fresh fusion returns the spatial estimate, the front aligns
neighbours in the right direction, checkpoints round-trip and misfits are refused."""
from __future__ import annotations

import pytest
import torch

from vsvideogen.errors import WeightsError
from vsvideogen.models.archs.mc_denoiser import (
    MotionCompensatedDenoiser,
    any_temporal_denoiser_from_state_dict,
    mc_denoiser_from_state_dict,
)
from vsvideogen.models.archs.temporal_denoiser import TemporalDenoiser
from vsvideogen.models.registry import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def texture(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A smooth random ``[3, h, w]`` picture in 0..1 (bilinear upsampling of coarse noise)."""
    coarse = torch.rand(1, 3, h // 4 + 2, w // 4 + 2, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)[0]


class ShiftSearch(torch.nn.Module):
    """A stand-in flow network: the whole-pixel shift (|dx|, |dy| <= 3) that best maps ``second`` onto ``first``,
    found by brute force, returned as a constant backward flow (the convention SPyNet's output follows)."""

    def forward(self, first: torch.Tensor, second: torch.Tensor, max_pixels: int | None = None) -> torch.Tensor:
        flows = []
        for a, b in zip(first, second):
            def error(dx: int, dy: int) -> float:
                moved = torch.roll(b, (-dy, -dx), (1, 2))  # moved(x) = b(x + d)
                return float((moved - a)[:, 4:-4, 4:-4].abs().mean())

            dx, dy = min(((dx, dy) for dx in range(-3, 4) for dy in range(-3, 4)), key=lambda d: error(*d))
            flows.append(torch.tensor([float(dx), float(dy)]).view(2, 1, 1).expand(2, *a.shape[-2:]))
        return torch.stack(flows)


class Identity(torch.nn.Module):
    tile_context, modulo = 0, 1

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        return x


def test_a_fresh_fusion_returns_the_spatial_estimate_of_the_centre():
    torch.manual_seed(0)
    net = MotionCompensatedDenoiser(radius=1, features=4).eval()
    frames = torch.rand(2, 3, 3, 36, 44)
    with torch.no_grad():
        out = net(frames, 25 / 255)
        spatial = net.spatial(frames[:, 1], 25 / 255).clamp(0, 1)
    assert out.shape == (2, 3, 36, 44)
    assert torch.allclose(out, spatial, atol=1e-6)


def test_the_front_aligns_every_neighbour_with_the_centre():
    net = MotionCompensatedDenoiser(radius=2, features=4).eval()
    net.spatial, net.flow = Identity(), ShiftSearch()
    centre = texture(40, 48)
    shifts = {0: (2, -1), 1: (1, 0), 3: (-1, 1), 4: (-3, 2)}  # frame j shows the centre moved by (dx, dy)
    frames = [torch.roll(centre, (dy, dx), (1, 2)) for dx, dy in (shifts[0], shifts[1])]
    frames += [centre] + [torch.roll(centre, (dy, dx), (1, 2)) for dx, dy in (shifts[3], shifts[4])]
    window = torch.stack(frames)[None]
    with torch.no_grad():
        front = net.front(window, 10 / 255)
    assert front.shape == (1, 30, 40, 48)
    inner = (slice(None), slice(4, -4), slice(4, -4))
    for j in range(5):
        noisy, denoised = front[0, 3 * j : 3 * j + 3], front[0, 15 + 3 * j : 18 + 3 * j]
        assert torch.allclose(noisy[inner], centre[inner], atol=1e-5), j
        assert torch.allclose(denoised[inner], centre[inner], atol=1e-5), j
    # and without alignment the neighbours would not match: the check above can fail
    assert (window[0, 0][inner] - centre[inner]).abs().max() > 0.05


def test_checkpoints_round_trip_and_either_layout_loads():
    torch.manual_seed(1)
    net = MotionCompensatedDenoiser(radius=1, features=6).eval()
    torch.nn.init.normal_(net.fusion.outc[-1].weight, std=0.1)
    loaded = any_temporal_denoiser_from_state_dict(net.state_dict())
    assert isinstance(loaded, MotionCompensatedDenoiser) and (loaded.radius, loaded.features) == (1, 6)
    frames = torch.rand(1, 3, 3, 24, 28)
    with torch.no_grad():
        assert torch.equal(loaded(frames, 0.1), net(frames, 0.1))
    unet = any_temporal_denoiser_from_state_dict(TemporalDenoiser(3, 2, features=4).state_dict())
    assert isinstance(unet, TemporalDenoiser) and unet.radius == 2


def test_misfits_are_refused_with_the_fix():
    state = MotionCompensatedDenoiser(radius=1, features=4).state_dict()
    with pytest.raises(WeightsError, match="not a motion-compensated denoiser.*--arch motion"):
        mc_denoiser_from_state_dict({k: v for k, v in state.items() if not k.startswith("fusion.")})
    bad = dict(state, **{"fusion.inc.0.weight": torch.zeros(4, 20, 3, 3)})
    with pytest.raises(WeightsError, match=r"6\*\(2\*radius\+1\)\+1"):
        mc_denoiser_from_state_dict(bad)
    with pytest.raises(WeightsError, match="spatial.model.0.weight"):
        mc_denoiser_from_state_dict({k: v for k, v in state.items() if k != "spatial.model.0.weight"})
    with pytest.raises(ValueError, match=r"need \[N, 3, 3, H, W\]"):
        MotionCompensatedDenoiser(radius=1, features=4)(torch.rand(1, 5, 3, 16, 16), 0.1)


def test_prepare_in_small_pieces_equals_prepare_whole():
    # prepare bounds its memory by running FFDNet and every SPyNet level on tiles with their full receptive
    # fields as context: the result is the whole-frame one up to float rounding.
    net = load_model("denoise-temporal-default", "denoise", torch.device("cpu"), torch.float32, "test")
    centre = texture(192, 256)
    window = torch.stack([torch.roll(centre, (s, 2 * s), (1, 2)) for s in (2, 1, 0, -1, -2)])[None]
    with torch.no_grad():
        whole = net.prepare(window, 15 / 255)
        net.prepare_pixels = 128 * 128  # FFDNet and the finest SPyNet level in several tiles each
        pieces = net.prepare(window, 15 / 255)
    assert whole.shape == (1, net.prepared_channels, 192, 256)
    flows = whole[:, 15:]
    assert flows.abs().max() > 1  # real flow to compare
    assert torch.allclose(pieces, whole, atol=1e-4, rtol=0)
