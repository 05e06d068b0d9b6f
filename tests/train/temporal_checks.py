"""Checks shared by the tests of the temporal window tasks (``train denoise``, ``train deblur``)."""
from __future__ import annotations

import pytest
import torch


def check_loss_and_validation(task, model: torch.nn.Module, batch) -> None:
    """``task``'s Charbonnier loss on ``batch`` is positive and backpropagates, and a fresh ``model`` (which
    returns its input's centre frame) validates at the task's reference PSNR (the degraded input's)."""
    loss, parts = task.loss(model, batch, torch.device("cpu"))
    loss.backward()
    assert set(parts) == {"charbonnier"} and loss.item() > 0
    model.eval()
    with torch.no_grad():
        assert task.validate(model, torch.device("cpu")) == pytest.approx(task.reference_psnr, abs=1e-3)
