"""The discriminators on their own: output layout, the high-pass input stage, and that the U-Net learns."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vsvideogen.train.discriminator import HighPass, PatchDiscriminator, UNetDiscriminator
from vsvideogen.train.losses import discriminator_loss


def test_unet_gives_one_logit_per_pixel_and_patch_one_per_8x8_block():
    x = torch.rand(2, 3, 40, 64)
    assert UNetDiscriminator(3, 8)(x).shape == (2, 1, 40, 64)
    assert PatchDiscriminator(3, 8)(x).shape == (2, 1, 5, 8)


def test_high_pass_keeps_only_the_amplified_fine_detail():
    flat = torch.full((1, 3, 16, 24), 0.3)
    torch.testing.assert_close(HighPass(3)(flat), torch.full_like(flat, 0.5))
    ramp = torch.linspace(0, 1, 24).expand(1, 3, 16, 24)  # smooth: no detail away from the borders
    torch.testing.assert_close(HighPass(3)(ramp)[..., 2:-2], torch.full((1, 3, 16, 20), 0.5))
    dots = flat.clone()
    dots[..., 8, 12] += 0.05
    assert HighPass(3, gain=4.0)(dots)[0, :, 8, 12].tolist() == pytest.approx([0.5 + 4 * 0.05 * 24 / 25] * 3)


def _textured(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def _smoothed(images: torch.Tensor) -> torch.Tensor:
    """The same images 3x3 box-blurred: same colours and mean, no fine texture (a blurry "generator")."""
    return F.avg_pool2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), 3, stride=1)


def test_unet_learns_to_tell_texture_from_its_blur_on_held_out_images():
    torch.manual_seed(0)
    disc = UNetDiscriminator(3, 8)
    opt = torch.optim.Adam(disc.parameters(), lr=1e-3, betas=(0.9, 0.99))
    for step in range(30):
        real = _textured(4, step)
        real_logits, fake_logits = disc(torch.cat([real, _smoothed(real)])).chunk(2)
        loss = discriminator_loss(real_logits, fake_logits)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    held_out = _textured(4, 1000)
    with torch.no_grad():
        real_logits, fake_logits = disc(torch.cat([held_out, _smoothed(held_out)])).chunk(2)
    accuracy = 0.5 * ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean()).item()
    held_out_loss = discriminator_loss(real_logits, fake_logits).item()  # 2 at chance
    assert held_out_loss < 1.0 and accuracy > 0.95, (held_out_loss, accuracy)
