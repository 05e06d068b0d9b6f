"""The temporal denoiser/deblurrer network: its U-Nets' reach per number of scales, growing a trained network
to more scales, reading the scales back from a checkpoint, and the deblurrer's exposure input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.filters.temporal_helpers import liven
from vsvideogen.errors import VSVideoGenError
from vsvideogen.models.archs.temporal_denoiser import (
    TemporalDenoiser,
    _UNet,
    temporal_deblurrer_from_state_dict,
    unet_reach,
)
from vsvideogen.models.weights import save_safetensors
from vsvideogen.train.blur import BlurConfig
from vsvideogen.train.deblur import EXPOSURE_LR_SCALE, BlurWindows, DeblurBatch, DeblurTask
from vsvideogen.train.footage import Footage
from vsvideogen.train.window_task import load_temporal_model


def lively(net: torch.nn.Module) -> torch.nn.Module:
    """:func:`liven` from a fixed seed."""
    torch.manual_seed(0)
    return liven(net)


@pytest.mark.parametrize("scales", [3, 4, 5])
def test_unet_reach_is_the_measured_receptive_field(scales):
    net = lively(_UNet(1, 1, 2, scales)).double()
    modulo, width = 2 ** (scales - 1), 320
    farthest = 0
    for phase in range(modulo):  # every alignment of the output pixel to the stride-2 grid
        x = torch.rand(1, 1, modulo, width, dtype=torch.double, requires_grad=True)
        column = width // 2 + phase
        net(x)[0, 0, 0, column].backward()
        reached = torch.nonzero(x.grad[0, 0].abs().sum(0)).flatten()
        farthest = max(farthest, column - int(reached.min()), int(reached.max()) - column)
    assert farthest == unet_reach(scales)


def test_grown_network_computes_what_it_grew_from_until_trained():
    small = lively(TemporalDenoiser(3, 1, features=4, noise_map=False)).eval()
    grown = small.grown(5).eval()
    assert (grown.scales, grown.modulo, grown.tile_context) == (5, 16, 2 * unet_reach(5))
    assert not small.training and not grown.training
    x = torch.rand(2, 3, 3, 48, 64)  # a multiple of both modulos: the same edge padding
    with torch.no_grad():
        assert torch.equal(grown(x), small(x))
        for level in (3, 4):  # the added levels are live once their upward convolutions are not zero
            torch.nn.init.normal_(getattr(grown.stage1, f"up{level}")[0].weight, std=0.1)
        assert (grown(x) - small(x)).abs().max() > 1e-4
    with pytest.raises(ValueError, match="cannot grow 5 scales to 4"):
        grown.grown(4)


def test_scales_are_read_back_from_a_checkpoint(tmp_path):
    net = lively(TemporalDenoiser(3, 2, features=4, noise_map=False, scales=4)).eval()
    loaded = temporal_deblurrer_from_state_dict(net.state_dict())
    assert (loaded.scales, loaded.modulo) == (4, 8)
    x = torch.rand(1, 5, 3, 40, 24)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))

    path = save_safetensors(net.state_dict(), tmp_path / "four.safetensors")
    assert load_temporal_model(str(path), 2, 99, False).scales == 4  # the checkpoint's, whatever --features says
    assert load_temporal_model(str(path), 2, 99, False, scales=5).scales == 5
    with pytest.raises(VSVideoGenError, match="has 4 scales, more than --scales 3; pass --scales 4"):
        load_temporal_model(str(path), 2, 4, False, scales=3)


def test_exposure_input_starts_silent_and_then_tells_shutters_apart(tmp_path):
    blind = lively(TemporalDenoiser(3, 1, features=4, noise_map=False)).eval()
    told = blind.with_exposure_input().eval()
    assert told.exposure_conditional and not blind.exposure_conditional and not told.training
    x = torch.rand(3, 3, 3, 20, 28)
    with torch.no_grad():
        # zero weights at first: the exposure changes nothing, told or not
        assert torch.equal(told(x, exposure=torch.tensor([0.25, 0.5, 1.0])), blind(x))
        assert torch.equal(told(x), blind(x))
        for stage in (told.stage1, told.stage2):
            torch.nn.init.normal_(stage.condition.weight, std=0.5)
        short, long, unknown = told(x, exposure=0.25), told(x, exposure=1.0), told(x, exposure=0.0)
        assert (short - long).abs().max() > 1e-3
        assert torch.equal(unknown, told(x)) and torch.equal(unknown, blind(x))  # unknown adds nothing
        mixed = told(x, exposure=torch.tensor([0.25, 1.0, 0.0]))  # one exposure per window of a batch
        assert torch.allclose(mixed, torch.stack([short[0], long[1], unknown[2]]), atol=1e-6)
    loaded = temporal_deblurrer_from_state_dict(told.state_dict())
    assert loaded.exposure_conditional and torch.equal(loaded(x, exposure=0.5), told(x, exposure=0.5))
    with pytest.raises(ValueError, match="takes no exposure"):
        blind(x, exposure=0.5)
    with pytest.raises(ValueError, match="without a noise map"):
        TemporalDenoiser(3, 1, features=4).with_exposure_input()
    # grown keeps the input; a deblur task told to add it to a blind --init adds it
    assert told.grown(4).exposure_conditional
    path = save_safetensors(blind.state_dict(), tmp_path / "blind.safetensors")
    windows = BlurWindows([Footage("levels 0-4", np.zeros((5, 16, 16, 15), np.uint8))], [], 1, BlurConfig())
    batch = DeblurBatch(torch.rand(2, 3, 3, 8, 8), torch.rand(2, 3, 8, 8), torch.tensor([0.5, 0.0]))
    task = DeblurTask(windows, batch, radius=1, init=str(path), exposure_input=True)
    model = task.build_model()
    assert model.exposure_conditional and task.split(batch)[0][2] is batch.exposure
    assert task.lr_scales() == {"condition": EXPOSURE_LR_SCALE}  # the zero-started weights learn faster
    blind_task = DeblurTask(windows, batch, radius=1, init=str(path))
    assert blind_task.split(batch)[0] == (batch.blurred,) and blind_task.lr_scales() == {}

