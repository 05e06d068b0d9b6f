"""vsvideogen.filters._exposure_refine: the flow the refinement takes its motion from."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

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
