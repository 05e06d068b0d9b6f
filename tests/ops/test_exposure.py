"""vsvideogen.ops.exposure: the blur an open shutter makes along a pixel's path, and refining towards it."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vsvideogen.errors import VSVideoGenError
from vsvideogen.ops import exposure as exposure_module
from vsvideogen.ops.deconvolution import PRIOR_WEIGHT
from vsvideogen.ops.exposure import (deconvolve_to_exposure, exposure_blur, exposure_operators, exposure_taps,
                                     refine_to_exposure)
from vsvideogen.ops.warp import backward_warp_reference


def texture(h: int = 40, w: int = 64, seed: int = 0) -> torch.Tensor:
    """A smooth random RGB picture in 0..1, ``[1, 3, h, w]``."""
    noise = torch.rand(1, 3, h // 4 + 3, w // 4 + 3, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(noise, size=(h + 12, w + 12), mode="bicubic", align_corners=False)[..., 6:-6, 6:-6].clamp(0, 1)


def uniform(velocity: tuple[float, float], like: torch.Tensor) -> torch.Tensor:
    n, _, h, w = like.shape
    return torch.tensor(velocity, dtype=torch.float32).view(1, 2, 1, 1).expand(n, 2, h, w).contiguous()


def shifted(image: torch.Tensor, dx: int) -> torch.Tensor:
    """``image`` sampled at ``x + dx`` with the border clamped."""
    w = image.shape[-1]
    index = (torch.arange(w) + dx).clamp(0, w - 1)
    return image[..., index]


def test_taps_follow_the_longest_blur():
    assert exposure_taps(0.0) == 1 and exposure_taps(0.5) == 2 and exposure_taps(12.0) == 25
    assert exposure_taps(1e6) == 65


def test_no_motion_or_no_exposure_leaves_the_picture():
    image = texture()
    assert torch.equal(exposure_blur(image, uniform((0, 0), image), 1.0), image)
    assert torch.equal(exposure_blur(image, uniform((7, 3), image), 0.0), image)


@pytest.mark.parametrize("exposure, taps", [(1.0, 9), (0.5, 5)])
def test_blur_is_the_mean_of_the_positions_the_shutter_saw(exposure, taps):
    # 8 px a frame interval: instants 1 px apart sample whole pixels, so the mean of shifted copies is exact.
    image = texture()
    blurred = exposure_blur(image, uniform((8, 0), image), exposure, taps=taps)
    half = taps // 2
    expected = torch.stack([shifted(image, -k) for k in range(-half, half + 1)]).mean(0)
    torch.testing.assert_close(blurred, expected, atol=1e-6, rtol=0)
    # the default tap count samples the 8 px blur at most TAP_SPACING apart: close to the 1 px one
    assert (exposure_blur(image, uniform((8, 0), image), exposure) - expected).abs().mean() < 0.01


def test_each_half_of_the_exposure_follows_its_own_velocity():
    # 8 px a frame interval after the frame's time, still before it: 9 instants 1/8 apart, the 4 before the
    # frame's time see the picture where it is, the 5 from it on see it moved 0..4 px.
    image = texture()
    blurred = exposure_blur(image, uniform((8, 0), image), 1.0, taps=9, before=uniform((0, 0), image))
    expected = (4 * image + torch.stack([shifted(image, -k) for k in range(5)]).sum(0)) / 9
    torch.testing.assert_close(blurred, expected, atol=1e-6, rtol=0)
    # the same velocity given for both halves is the constant-velocity blur
    velocity = uniform((5.5, -2.0), image)
    assert torch.equal(exposure_blur(image, velocity, 0.7, before=velocity), exposure_blur(image, velocity, 0.7))


def test_the_adjoint_is_the_blur_with_the_halves_swapped():
    # <A x, y> = <x, A* y>, A* the blur with the two velocities swapped: exact for uniform velocities when
    # nothing near the borders (wider than the blur) is non-zero.
    x, y = (F.pad(texture(24, 40, seed=seed) - 0.5, (12, 12, 12, 12)) for seed in (1, 2))
    after, before = uniform((3.3, -1.7), x), uniform((-0.6, 2.2), x)
    forward = float((exposure_blur(x, after, 1.0, before=before) * y).sum())
    adjoint = float((x * exposure_blur(y, before, 1.0, before=after)).sum())
    assert abs(forward - adjoint) < 1e-5 * abs(forward)
    unswapped = float((x * exposure_blur(y, after, 1.0, before=before)).sum())
    assert abs(forward - unswapped) > 0.05 * abs(forward)  # the check tells the two apart (18 % here)


def test_blur_follows_each_pixels_own_velocity():
    image = texture()
    velocity = uniform((6, 0), image).clone()
    velocity[..., 20:, :] = 0  # the lower half stands still
    blurred = exposure_blur(image, velocity, 1.0)
    torch.testing.assert_close(blurred[..., 20:, :], image[..., 20:, :], atol=1e-5, rtol=0)
    assert (blurred[..., :20, :] - image[..., :20, :]).abs().mean() > 0.01


@pytest.mark.parametrize("threads, samples_per_call", [(4, 1 << 24), (4, 2 * 23 * 31), (4, 1), (1, 1 << 24)])
def test_blur_is_the_mean_of_whole_frame_warps_whatever_the_batching(monkeypatch, threads, samples_per_call):
    # Instants per grid_sample call: 4 (7 = 4 + 3), 2 (bounded by the samples), 1 and 1 (one thread).
    # Against the definition done the plain way: the whole frame warped by -v t once per instant, averaged.
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    monkeypatch.setattr(exposure_module, "REFERENCE_SAMPLES", samples_per_call)
    generator = torch.Generator().manual_seed(6)
    image = torch.rand(2, 3, 23, 31, generator=generator)
    velocity = torch.randn(2, 2, 23, 31, generator=generator) * 5
    before = torch.randn(2, 2, 23, 31, generator=generator) * 5
    taps = 7
    times = [0.8 * (k / (taps - 1) - 0.5) for k in range(taps)]
    expected = torch.stack([backward_warp_reference(image, velocity * -t) for t in times]).mean(0)
    torch.testing.assert_close(exposure_blur(image, velocity, 0.8, taps=taps), expected, atol=2e-6, rtol=0)
    expected = torch.stack([backward_warp_reference(image, (velocity if t >= 0 else before) * -t) for t in times]).mean(0)
    torch.testing.assert_close(exposure_blur(image, velocity, 0.8, taps=taps, before=before), expected, atol=2e-6, rtol=0)


def test_refinement_recovers_a_blurred_picture_and_keeps_only_the_weighted_change():
    sharp = texture(seed=3)
    velocity = uniform((10, 0), sharp)
    blurred = exposure_blur(sharp, velocity, 1.0)
    ones, zeros = torch.ones_like(sharp[:, :1]), torch.zeros_like(sharp[:, :1])

    def error(x: torch.Tensor) -> float:
        return float(((x - sharp)[..., 8:-8] ** 2).mean())  # away from the clamped borders

    refined = refine_to_exposure(blurred, blurred, velocity, 1.0, 30, ones)
    assert error(refined) < 0.5 * error(blurred)
    # closer to explaining the recorded frame than the estimate it started from
    assert float(((exposure_blur(refined, velocity, 1.0) - blurred) ** 2).mean()) < \
        0.2 * float(((exposure_blur(blurred, velocity, 1.0) - blurred) ** 2).mean())
    assert torch.equal(refine_to_exposure(blurred, blurred, velocity, 1.0, 30, zeros), blurred)
    assert refine_to_exposure(blurred, blurred, velocity, 1.0, 0, ones) is blurred
    half = ones.clone()
    half[..., :20, :] = 0
    mixed = refine_to_exposure(blurred, blurred, velocity, 1.0, 30, half)
    assert torch.equal(mixed[..., :20, :], blurred[..., :20, :])
    torch.testing.assert_close(mixed[..., 20:, :], refined[..., 20:, :])


def test_refinement_follows_a_path_that_turns():
    # 6 px down a frame interval before the frame's time, 12 px right after it: refining under the two
    # velocities recovers the picture; under their mean, the constant velocity closest to them, it barely
    # improves. (Steps with the blur itself in place of its adjoint diverge here: 10x the blurred error.)
    sharp = texture(seed=5)
    after, before = uniform((12, 0), sharp), uniform((0, 6), sharp)
    blurred = exposure_blur(sharp, after, 1.0, before=before)
    ones = torch.ones_like(sharp[:, :1])

    def error(x: torch.Tensor) -> float:
        return float(((x - sharp)[..., 8:-8] ** 2).mean())

    two_pieces = refine_to_exposure(blurred, blurred, after, 1.0, 30, ones, before=before)
    constant = refine_to_exposure(blurred, blurred, uniform((6, 3), sharp), 1.0, 30, ones)
    assert error(two_pieces) < 0.05 * error(blurred)
    assert error(constant) > 0.5 * error(blurred)


def smoothing(x: torch.Tensor, level: float) -> torch.Tensor:
    """A stand-in denoiser: a 3x3 box blur, stronger at higher ``level``."""
    box = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    share = min(1.0, level * 20)
    return (1 - share) * x + share * box


def test_deconvolution_recovers_more_than_the_landweber_steps():
    # A 10 px pan under a 360-degree shutter, rounded to 8 bits: 6 iterations of half-quadratic splitting get
    # much closer to the picture than 10 Landweber steps do (the deblur default's counts); weight 0 keeps the
    # start, and no levels return it.
    sharp = texture(seed=3)
    velocity = uniform((10, 0), sharp)
    blurred = torch.round(exposure_blur(sharp, velocity, 1.0) * 255) / 255
    ones, zeros = torch.ones_like(sharp[:, :1]), torch.zeros_like(sharp[:, :1])
    levels = [12 / 255 * (1 / 6) ** (k / 5) for k in range(6)]

    def error(x: torch.Tensor) -> float:
        return float(((x - sharp)[..., 8:-8] ** 2).mean())

    deconvolved = deconvolve_to_exposure(blurred, blurred, velocity, 1.0, ones, denoiser=smoothing, levels=levels,
                                         noise=1 / 255)
    landweber = refine_to_exposure(blurred, blurred, velocity, 1.0, 10, ones)
    assert error(deconvolved) < 0.5 * error(landweber)
    assert error(landweber) < error(blurred)
    assert torch.equal(deconvolve_to_exposure(blurred, blurred, velocity, 1.0, zeros, denoiser=smoothing,
                                              levels=levels, noise=1 / 255), blurred)
    assert deconvolve_to_exposure(blurred, blurred, velocity, 1.0, ones, denoiser=smoothing, levels=[],
                                  noise=1 / 255) is blurred


def test_deconvolution_carries_each_solves_residual_to_the_next_as_recomputing_it_would():
    # Each solve starts from the last one's residual moved to its own weight and prior, without blurring: the
    # same iterates as a plain solver that recomputes A*b + a z - (A*A + a) x before every solve.
    sharp = texture(seed=3)
    velocity, before = uniform((6, 1), sharp), uniform((3, -2), sharp)
    blurred = exposure_blur(sharp, velocity, 1.0, before=before)
    ones = torch.ones_like(sharp[:, :1])
    levels, noise, steps = [0.05, 0.02, 0.01], 0.004, 3
    blur = lambda x: exposure_blur(x, velocity, 1.0, before=before)  # noqa: E731
    adjoint = lambda x: exposure_blur(x, before, 1.0, before=velocity)  # noqa: E731
    x = z = blurred
    for level in levels:
        a = PRIOR_WEIGHT * (noise / level) ** 2
        residual = adjoint(blurred) + a * z - adjoint(blur(x)) - a * x
        direction, squared = residual, (residual * residual).sum()
        for _ in range(steps):
            image = adjoint(blur(direction)) + a * direction
            step = squared / (direction * image).sum()
            x, residual = x + step * direction, residual - step * image
            new = (residual * residual).sum()
            direction, squared = residual + new / squared * direction, new
        z = smoothing(x.clamp(0, 1), level).clamp(0, 1)
    carried = deconvolve_to_exposure(blurred, blurred, velocity, 1.0, ones, denoiser=smoothing, levels=levels,
                                     noise=noise, cg_steps=steps, before=before)
    torch.testing.assert_close(carried, z, atol=2e-5, rtol=0)


def test_deconvolution_solves_each_batch_item_on_its_own():
    # (the same speed in both, so that the blur averages as many instants alone as in the batch)
    sharp = torch.cat([texture(seed=3), texture(seed=4) * 0.2])
    velocity = torch.cat([uniform((10, 0), sharp[:1]), uniform((0, 10), sharp[:1])])
    blurred = exposure_blur(sharp, velocity, 1.0)
    ones = torch.ones_like(sharp[:, :1])
    both = deconvolve_to_exposure(blurred, blurred, velocity, 1.0, ones, denoiser=smoothing, levels=[0.02, 0.01],
                                  noise=0.004)
    for i in range(2):
        alone = deconvolve_to_exposure(blurred[i:i + 1], blurred[i:i + 1], velocity[i:i + 1], 1.0, ones[:1],
                                       denoiser=smoothing, levels=[0.02, 0.01], noise=0.004)
        torch.testing.assert_close(both[i:i + 1], alone, atol=1e-5, rtol=0)


def test_bad_input_is_refused_naming_the_op():
    image = texture()
    with pytest.raises(VSVideoGenError, match="exposure_blur.*exposure=-1"):
        exposure_blur(image, uniform((1, 0), image), -1.0)
    with pytest.raises(VSVideoGenError, match="exposure_blur.*velocity has 3 channels"):
        exposure_blur(image, image, 1.0)
    with pytest.raises(VSVideoGenError, match="exposure_blur.*before has 3 channels"):
        exposure_blur(image, uniform((1, 0), image), 1.0, before=image)
    with pytest.raises(VSVideoGenError, match="refine_to_exposure.*weight"):
        refine_to_exposure(image, image, uniform((1, 0), image), 1.0, 3, image[..., :10, :1])
    ones = torch.ones_like(image[:, :1])
    with pytest.raises(VSVideoGenError, match="deconvolve_to_exposure.*weight"):
        deconvolve_to_exposure(image, image, uniform((1, 0), image), 1.0, image[..., :10, :1], denoiser=smoothing,
                               levels=[0.01], noise=0.01)
    with pytest.raises(VSVideoGenError, match="deconvolve_to_exposure.*levels and noise above 0"):
        deconvolve_to_exposure(image, image, uniform((1, 0), image), 1.0, ones, denoiser=smoothing, levels=[0.0],
                               noise=0.01)


def test_operators_hold_the_blur_where_the_weight_is_one_and_none_where_it_is_zero():
    image = texture(seed=5)
    velocity, before = uniform((6, 1), image), uniform((3, -2), image)
    weight = torch.zeros_like(image[:, :1])
    weight[..., :, 20:] = 1.0
    weight[..., :, 10:20] = 0.25
    blur, adjoint = exposure_operators(velocity, 1.0, before=before, weight=weight)
    full, full_adjoint = exposure_operators(velocity, 1.0, before=before)
    torch.testing.assert_close(full(image), exposure_blur(image, velocity, 1.0, before=before))
    torch.testing.assert_close(full_adjoint(image), exposure_blur(image, before, 1.0, before=velocity))
    torch.testing.assert_close(blur(image), weight * full(image) + (1 - weight) * image)
    torch.testing.assert_close(adjoint(image), full_adjoint(weight * image) + (1 - weight) * image)
    with pytest.raises(VSVideoGenError, match="exposure_operators.*weight"):
        exposure_operators(velocity, 1.0, weight=weight[..., :5])
