"""Losses are zero for equal images, positive otherwise, and pass gradients; PSNR has the textbook value."""
from __future__ import annotations

import math

import pytest
import torch

from vsvideogen.train.losses import census_loss, charbonnier, gradient_loss, psnr

LOSSES = [charbonnier, census_loss, gradient_loss]


@pytest.fixture
def images() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 24, 20, generator=gen)
    b = (a + 0.1 * torch.randn(2, 3, 24, 20, generator=gen)).clamp(0, 1)
    return a, b


@pytest.mark.parametrize("loss", LOSSES)
def test_zero_for_identical_inputs(loss, images):
    a, _ = images
    assert loss(a, a.clone()).item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("loss", LOSSES)
def test_positive_for_different_inputs(loss, images):
    a, b = images
    assert loss(a, b).item() > 1e-4


@pytest.mark.parametrize("loss", LOSSES)
def test_gradients_flow(loss, images):
    a, b = images
    pred = b.clone().requires_grad_(True)
    loss(pred, a).backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum() > 0


def test_census_ignores_brightness_offset(images):
    a, _ = images
    shifted = a * 0.5 + 0.2
    assert census_loss(a * 0.5, shifted) == pytest.approx(0.0, abs=1e-7)
    assert charbonnier(a * 0.5, shifted) > 0.1


def test_psnr_values():
    target = torch.full((2, 3, 8, 8), 0.5)
    assert psnr(target + 0.1, target).tolist() == pytest.approx([20.0, 20.0], abs=1e-4)
    assert psnr(target, target).tolist() == [100.0, 100.0]
    # the prediction is clamped to the valid range first
    assert psnr(torch.full((1, 3, 4, 4), 2.0), torch.ones(1, 3, 4, 4)).item() == 100.0
    assert math.isfinite(psnr(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)).item())
