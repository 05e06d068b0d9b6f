"""Training triplets: shapes, ranges, timesteps, cuts, augmentation and temporal reversal."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vsvideogen.train.footage import Footage
from vsvideogen.train.interpolate import (
    PhotoTriplets,
    TripletSampler,
    VideoTriplets,
    augment_triplet,
    validation_triplets,
)


def _ramp_clip(frames: int = 12, h: int = 72, w: int = 96, cuts: tuple[int, ...] = ()) -> Footage:
    """Frame i = a fixed texture + 8 * i, so the timestep of a triplet can be read off its brightness."""
    texture = np.random.default_rng(0).integers(40, 80, (h, w, 3))
    stack = np.stack([texture + 8 * i for i in range(frames)]).astype(np.uint8)
    return Footage("ramp", stack, np.asarray(cuts, dtype=np.int64))


def _implied_t(img0: torch.Tensor, imgt: torch.Tensor, img1: torch.Tensor) -> float:
    return float((imgt - img0).mean() / (img1 - img0).mean())


def test_video_batch_shapes_ranges_and_timesteps():
    sampler = TripletSampler(VideoTriplets([_ramp_clip()], max_span=4), None)
    batch = sampler.sample_batch(np.random.default_rng(0), 16, 32)
    for x in (batch.img0, batch.imgt, batch.img1):
        assert x.shape == (16, 3, 32, 32) and x.dtype == torch.float32
        assert 0 <= x.min() and x.max() <= 1
    allowed = {1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 4}
    assert all(min(abs(t - a) for a in allowed) < 1e-6 for t in batch.t.tolist())
    assert (batch.t == 0.5).sum() >= 4  # half the triplets are consecutive frames (t = 0.5)
    for i in range(16):
        # brightness encodes the frame index: the triplet really sits at its timestep (reversal included)
        assert _implied_t(batch.img0[i], batch.imgt[i], batch.img1[i]) == pytest.approx(batch.t[i].item(), abs=0.02)


def test_only_consecutive_frames_when_half_fraction_is_one():
    batch = TripletSampler(VideoTriplets([_ramp_clip()], half_fraction=1.0), None).sample_batch(np.random.default_rng(1), 8, 32)
    assert batch.t.tolist() == [0.5] * 8


def test_triplets_never_straddle_a_cut():
    clip = _ramp_clip(frames=12, cuts=(2, 5, 9))  # only frames 6..9 make a shot long enough for d = 3
    source = VideoTriplets([clip], max_span=3, half_fraction=0.0, max_zoom_out=1.0)
    for seed in range(30):
        triplet, t = source.sample(np.random.default_rng(seed), 32)
        index = (triplet.mean(dim=(1, 2, 3)) * 255 - clip.frames[0].mean()) / 8
        first, last = round(index[0].item()), round(index[2].item())
        assert not clip.spans_cut(first, last)


def test_same_seed_same_batch_and_different_seed_differs():
    sampler = TripletSampler(VideoTriplets([_ramp_clip()]), PhotoTriplets([_ramp_clip().frames[0]]), photo_fraction=0.5)
    a = sampler.sample_batch(np.random.default_rng([7, 3]), 4, 32)
    b = sampler.sample_batch(np.random.default_rng([7, 3]), 4, 32)
    c = sampler.sample_batch(np.random.default_rng([7, 4]), 4, 32)
    assert torch.equal(a.imgt, b.imgt) and torch.equal(a.t, b.t)
    assert not torch.equal(a.imgt, c.imgt)


def test_photo_batch_timesteps():
    photo = np.random.default_rng(0).integers(0, 256, (120, 140, 3), dtype=np.uint8)
    batch = TripletSampler(None, PhotoTriplets([photo], half_fraction=0.0)).sample_batch(np.random.default_rng(2), 8, 48)
    assert batch.imgt.shape == (8, 3, 48, 48)
    assert ((batch.t > 0.04) & (batch.t < 0.96)).all() and len(set(batch.t.tolist())) == 8


def test_temporal_reversal_swaps_ends_and_mirrors_t():
    triplet = torch.stack([torch.full((3, 8, 8), v) for v in (0.2, 0.35, 0.6)])
    reversed_seen = forward_seen = False
    for seed in range(20):
        out, t = augment_triplet(triplet, 0.375, np.random.default_rng(seed))
        assert _implied_t(out[0], out[1], out[2]) == pytest.approx(t, abs=1e-5)
        reversed_seen |= t == pytest.approx(0.625)
        forward_seen |= t == pytest.approx(0.375)
    assert reversed_seen and forward_seen


def test_augmentation_treats_all_frames_alike():
    base = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    out, _ = augment_triplet(torch.stack([base, base, base]), 0.5, np.random.default_rng(5))
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])


def test_crop_that_does_not_fit_is_a_clear_error():
    from vsvideogen.errors import VSVideoGenError

    with pytest.raises(VSVideoGenError, match="crop 128 does not fit"):
        TripletSampler(VideoTriplets([_ramp_clip()]), None).check_crop(128)


def test_validation_triplets_are_centre_crops_at_half():
    clip = _ramp_clip(frames=10, h=72, w=96, cuts=(4,))
    val = validation_triplets(clip, 3, max_side=64)
    assert val.img0.shape == (3, 3, 64, 64) and val.t.tolist() == [0.5] * 3
    torch.testing.assert_close(val.imgt, (val.img0 + val.img1) / 2, atol=1 / 255, rtol=0)
    torch.testing.assert_close(val.img0[0], torch.from_numpy(clip.frames[0, 4:68, 16:80]).permute(2, 0, 1).float() / 255)
