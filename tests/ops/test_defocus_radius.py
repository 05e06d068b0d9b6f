"""The blind defocus radius estimate (vsvideogen.ops.defocus_radius) on real frames."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vsvideogen.errors import VSVideoGenError
from vsvideogen.filters._defocus import AUTO_MIN_RADIUS
from vsvideogen.ops.defocus import defocus_blur
from vsvideogen.ops.defocus_radius import estimate_defocus_radius


@pytest.fixture(scope="module")
def bikes_luma(real_clip) -> torch.Tensor:
    """Frame 1 of the real clip's luma, 0..1, ``[1, 1, 272, 640]`` float64."""
    return torch.from_numpy(np.asarray(real_clip.get_frame(1)[0]).astype(np.float64) / 255.0)[None, None]


def recorded(sharp: torch.Tensor, radius: float, sigma: float, seed: int = 0) -> torch.Tensor:
    """``sharp`` spread by the disc, white noise of ``sigma`` (8-bit scale) added, rounded to 8 bits."""
    blurred = defocus_blur(sharp, radius) * 255.0
    noise = torch.from_numpy(np.random.default_rng(seed).standard_normal(sharp.shape)) * sigma
    return (blurred + noise).round().clamp(0, 255) / 255.0


@pytest.mark.parametrize(("radius", "sigma"), [(1.5, 0.0), (2.0, 0.0), (3.0, 0.0), (5.0, 0.0), (3.0, 2.0), (5.0, 2.0)])
def test_the_radius_of_a_disc_is_read_on_a_real_frame(bikes_luma, radius, sigma):
    assert abs(estimate_defocus_radius(recorded(bikes_luma, radius, sigma)) - radius) <= 0.25


@pytest.mark.parametrize(("radius", "sigma"), [(1.5, 1.0), (1.5, 2.0), (2.0, 1.0), (2.0, 2.0)])
def test_where_noise_hides_a_small_disc_it_reads_small(bikes_luma, radius, sigma):
    # the first ring of a 1.5-2 px disc lies at 0.3-0.4 cycles a pixel, where this frame's picture is under the
    # noise: measured 1.25, 0 and 0.75, 2 px (docs/experiments/2026-11-28-blind-defocus-radius.md)
    assert estimate_defocus_radius(recorded(bikes_luma, radius, sigma)) <= radius + 0.25


@pytest.mark.parametrize("sigma", [0.0, 2.0])
def test_a_sharp_real_frame_reads_under_the_radius_deblur_acts_on(bikes_luma, sigma):
    assert estimate_defocus_radius(recorded(bikes_luma, 0.0, sigma)) < AUTO_MIN_RADIUS


def test_colour_frames_are_read_on_the_mean_of_their_channels(bikes_luma):
    blurred = recorded(bikes_luma, 3.0, 1.0)
    assert estimate_defocus_radius(blurred.expand(1, 3, -1, -1).float()) == estimate_defocus_radius(blurred) == 3.0


@pytest.mark.parametrize("size", [(31, 200), (32, 32), (48, 64), (63, 640)])
def test_frames_too_small_to_tell_read_no_disc(bikes_luma, size):
    # under 64 px a side the patches are too small to tell discs apart (a 33 px disc would not even fit one)
    small = recorded(bikes_luma[..., 100:100 + size[0], :size[1]], 3.0, 0.0)
    assert estimate_defocus_radius(small) == 0.0


def test_a_64_px_side_reads_the_disc_and_bad_tensors_are_refused(bikes_luma):
    # a 64 px side still reads the disc, on 64 px patches
    assert abs(estimate_defocus_radius(recorded(bikes_luma[..., 100:164, :], 3.0, 0.0)) - 3.0) <= 0.5
    for bad in (bikes_luma[0, 0], torch.zeros(0, 1, 64, 64), torch.zeros(1, 1, 64, 64, dtype=torch.uint8)):
        with pytest.raises(VSVideoGenError, match="estimate_defocus_radius: got a .* pass floating frames"):
            estimate_defocus_radius(bad)


def test_frames_of_a_shot_are_read_together(real_clip):
    # bikes frames 0-2 under a 2 px disc with noise 1: alone they read 0.75, 2 and 1.5 px; pooled, 1.75
    frames = torch.stack([torch.from_numpy(np.asarray(real_clip.get_frame(n)[0]).astype(np.float64) / 255.0)[None]
                          for n in range(3)])
    noisy = torch.cat([recorded(frames[n:n + 1], 2.0, 1.0, seed=n) for n in range(3)])
    assert estimate_defocus_radius(noisy[0]) < AUTO_MIN_RADIUS
    assert abs(estimate_defocus_radius(noisy) - 2.0) <= 0.25
