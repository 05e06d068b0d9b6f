"""vsvideogen.filters._exposure_refine: the flow the refinement takes its motion from."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vsvideogen.filters import _exposure_refine
from vsvideogen.filters._exposure_refine import scaled_flow
from vsvideogen.models.registry import load_flow_net


class ConstantFlow(torch.nn.Module):
    """A flow network that answers (3, -1) pixels everywhere, at whatever size it is given."""

    def forward(self, first: torch.Tensor, second: torch.Tensor, max_pixels: int | None = None) -> torch.Tensor:
        n, _, h, w = first.shape
        return torch.tensor([3.0, -1.0]).view(1, 2, 1, 1).expand(n, 2, h, w)


def test_a_flow_from_smaller_frames_is_resized_and_scaled_to_full_size_pixels():
    frame = torch.zeros(1, 3, 27, 41)
    flow = scaled_flow(ConstantFlow(), frame, frame, 2)  # computed on 14 x 21
    assert flow.shape == (1, 2, 27, 41)
    torch.testing.assert_close(flow[:, 0], torch.full((1, 27, 41), 3.0 * 41 / 21))
    torch.testing.assert_close(flow[:, 1], torch.full((1, 27, 41), -1.0 * 27 / 14))
    assert torch.equal(scaled_flow(ConstantFlow(), frame, frame, 1), ConstantFlow()(frame, frame))


@pytest.mark.parametrize("scale", [1, 2])
def test_spynet_at_either_scale_finds_a_pan(scale):
    noise = torch.rand(1, 3, 20, 36, generator=torch.Generator().manual_seed(1))
    picture = F.interpolate(noise, size=(80, 144), mode="bicubic", align_corners=False).clamp(0, 1)
    first, second = picture[..., 8:72, 8:120], picture[..., 8:72, 14:126]  # first's content is 6 px left in second
    flow = scaled_flow(load_flow_net("cpu", torch.float32, "test"), first, second, scale)
    inner = flow[..., 8:-8, 8:-16]
    assert (inner[:, 0] + 6).abs().mean() < 0.3 and inner[:, 1].abs().mean() < 0.3, inner.mean((0, 2, 3))


class BrightnessFlow(torch.nn.Module):
    """A flow network that answers (100 x the brightness step from ``first`` to ``second``, 0) everywhere."""

    def forward(self, first: torch.Tensor, second: torch.Tensor, max_pixels: int | None = None) -> torch.Tensor:
        step = (second.mean() - first.mean()) * 100
        return torch.stack([step.expand(first.shape[-2:]), torch.zeros(first.shape[-2:])])[None]


@pytest.mark.parametrize("ids, after, before", [
    ([0, 1, 2, 3, 4], 15.0, 10.0),  # both neighbours: each half of the exposure follows its own flow
    ([0, 1, 2, 2, 2], 10.0, 10.0),  # no next frame (a cut or the clip's end): the previous frame's flow alone
    ([2, 2, 2, 3, 4], 15.0, 15.0),  # no previous frame: the next frame's flow alone
])
def test_the_path_after_the_frame_follows_the_next_frame_and_before_it_the_previous(ids, after, before):
    # Frames 1, 2, 3 are 0.10, 0.20, 0.35 bright: the flow to the next frame is +15 px, to the previous -10 px,
    # so the pixels move at 10 px a frame interval before the centre frame's time and 15 after it.
    brightness = {0: 0.0, 1: 0.10, 2: 0.20, 3: 0.35, 4: 0.5}
    stack = torch.stack([torch.full((3, 16, 24), brightness[i]) for i in ids])[None]
    refinement = _exposure_refine.ExposureRefinement(steps=3, min_length=0.25, tolerance=1.0, flow_scale=1)
    motion = _exposure_refine.centre_motion(BrightnessFlow(), stack, ids, 0.5, refinement)
    velocity, prior, weight = motion.after, motion.before, motion.weight
    torch.testing.assert_close(velocity[:, 0], torch.full((1, 16, 24), after))
    torch.testing.assert_close(prior[:, 0], torch.full((1, 16, 24), before))
    assert velocity[:, 1].abs().max() == 0 and prior[:, 1].abs().max() == 0
    # kept in full unless the two halves differ: by 5 px at a mean speed of 12.5, 1 - 5 / (12.5 + 1) of it
    expected = 1 - abs(after - before) / ((after + before) / 2 + 1)
    torch.testing.assert_close(weight, torch.full((1, 1, 16, 24), expected))
