"""GAN mode of `train upscale`: the discriminator learns through the task's hooks, in the trainer's order."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vsvideogen.errors import VSVideoGenError
from vsvideogen.train.losses import GAN_LOSSES
from vsvideogen.train.upscale import DISC_INPUTS, DISCRIMINATORS, HRCrops, UpscaleTask

CPU = torch.device("cpu")


def _noise_task(gan_loss: str, discriminator: str = "patch",
                disc_input: str = "highpass") -> tuple[UpscaleTask, torch.nn.Module]:
    """A gan-mode task on pure-noise photos with a tiny fresh generator: its blurry x2 output is easy to tell
    from the noise crops, so a working discriminator separates the two within a few dozen steps. (The U-Net,
    slow on the CPU, is made narrow, and learns at 4x the rate to make up for it.)"""
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (96, 96, 3), dtype=np.uint8) for _ in range(4)]
    disc = {"disc_features": 32} if discriminator == "patch" else {"disc_features": 8, "disc_lr_ratio": 4.0}
    task = UpscaleTask(HRCrops([], photos), None, scale=2, mode="gan", degradation="bicubic", features=8, convs=1,
                       gan_loss=gan_loss, discriminator=discriminator, disc_input=disc_input, **disc)
    torch.manual_seed(0)
    return task, task.build_model()


def _gan_step(task: UpscaleTask, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int) -> dict[str, float]:
    """One step as the trainer runs it: generator loss, backward and step, then the task's ``after_step``."""
    batch = task.sample_batch(np.random.default_rng([0, step]), 8, 48)
    loss, _ = task.loss(model, batch, CPU)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return task.after_step(1e-4)


@pytest.mark.parametrize("discriminator", DISCRIMINATORS)
@pytest.mark.parametrize("gan_loss", GAN_LOSSES)
def test_discriminator_learns_to_separate_real_from_fake(gan_loss, discriminator):
    task, model = _noise_task(gan_loss, discriminator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    first = _gan_step(task, model, optimizer, 0)
    start = {k: v.clone() for k, v in task.disc.state_dict().items()}
    losses = [first["d_loss"]] + [_gan_step(task, model, optimizer, step)["d_loss"] for step in range(1, 35)]
    chance = 2.0 if gan_loss == "hinge" else float(np.log(2))  # every logit equal: the loss at chance
    assert losses[0] == pytest.approx(chance, abs=0.05)
    assert np.mean(losses[-5:]) < 0.5 * chance, losses[::5]
    weights = [k for k in start if k.endswith("original")]  # spectral norm's raw weights
    assert weights and all(not torch.equal(task.disc.state_dict()[k], start[k]) for k in weights)


@pytest.mark.parametrize("disc_input", DISC_INPUTS)
@pytest.mark.parametrize("discriminator", DISCRIMINATORS)
def test_generator_step_sends_no_gradient_into_the_discriminator(discriminator, disc_input):
    task, model = _noise_task("hinge", discriminator, disc_input)
    batch = task.sample_batch(np.random.default_rng(0), 2, 48)
    loss, parts = task.loss(model, batch, CPU)
    loss.backward()
    assert "adv" in parts and all(p.grad is None for p in task.disc.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    out = task.after_step(1e-4)
    assert set(out) == {"d_loss", "d_real", "d_fake"}
    assert all(p.requires_grad and p.grad is not None for p in task.disc.parameters())


def test_resume_rebuilds_the_same_discriminator_and_refuses_another():
    unet, model = _noise_task("hinge", "unet")
    _gan_step(unet, model, torch.optim.AdamW(model.parameters(), lr=1e-4), 0)
    state = unet.extra_state()
    again, _ = _noise_task("hinge", "unet")
    again.load_extra_state(state)
    assert all(torch.equal(a, b) for a, b in zip(again.disc.state_dict().values(), unet.disc.state_dict().values()))
    assert again.describe()["discriminator"] == "unet"
    patch, _ = _noise_task("hinge", "patch")
    with pytest.raises(VSVideoGenError, match="resume it with --discriminator unet --disc-input highpass"):
        patch.load_extra_state(state)
    plain, _ = _noise_task("hinge", "unet", "image")
    with pytest.raises(VSVideoGenError, match="not --discriminator unet --disc-input image"):
        plain.load_extra_state(state)


def test_resume_with_another_discriminator_width_names_the_fix():
    task, model = _noise_task("hinge", "patch")
    _gan_step(task, model, torch.optim.AdamW(model.parameters(), lr=1e-4), 0)
    wider = UpscaleTask(task.crops, None, scale=2, mode="gan", degradation="bicubic", features=8, convs=1,
                        discriminator="patch", disc_features=16)
    wider.build_model()
    with pytest.raises(VSVideoGenError, match="does not have --disc-features 16; resume it with the width"):
        wider.load_extra_state(task.extra_state())
