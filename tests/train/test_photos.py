"""Photo discovery and synthetic camera moves."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vsvideogen.train.photos import CameraMotion, camera_move_frames, find_photos, load_photo


def _photo(h: int = 160, w: int = 200, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _crop(photo: np.ndarray, x: int, y: int, size: int) -> torch.Tensor:
    return torch.from_numpy(photo[y : y + size, x : x + size]).permute(2, 0, 1).float() / 255


@pytest.mark.parametrize("seed", range(5))
def test_time_zero_is_the_source_crop(seed):
    photo = _photo()
    frames, (x, y) = camera_move_frames(photo, 64, (0.0, 0.3, 1.0), np.random.default_rng(seed), CameraMotion(subpixel=False))
    assert frames.shape == (3, 3, 64, 64) and frames.dtype == torch.float32
    assert 0 <= frames.min() and frames.max() <= 1
    torch.testing.assert_close(frames[0], _crop(photo, x, y, 64), atol=1e-5, rtol=0)
    assert (frames[2] - frames[0]).abs().mean() > 0.01  # the camera did move


def test_no_motion_gives_three_equal_frames():
    photo = _photo()
    still = CameraMotion(max_shift=0, max_zoom=0, max_rotation=0, subpixel=False)
    frames, (x, y) = camera_move_frames(photo, 48, (0.0, 0.5, 1.0), np.random.default_rng(3), still)
    for frame in frames:
        torch.testing.assert_close(frame, _crop(photo, x, y, 48), atol=1e-5, rtol=0)


@pytest.mark.parametrize("seed", range(4))
def test_steady_pan_is_linear_in_time(seed):
    """On a linear ramp a constant-speed pan changes every pixel by (speed . slope) * t.

    The ramp rises one level per row, so 0.1 / 255 is a tenth of a pixel of position: torch's bicubic
    kernel (a = -0.75) reproduces a linear ramp only to within a few hundredths of a pixel.
    """
    h, w = 160, 200
    ramp = np.broadcast_to(np.arange(h, dtype=np.uint8)[:, None, None], (h, w, 3)).copy()
    pan = CameraMotion(max_shift=10, max_zoom=0, max_rotation=0, curvature=0)
    times = (0.0, 0.25, 0.5, 1.0)
    frames, _ = camera_move_frames(ramp, 32, times, np.random.default_rng(seed), pan)
    change = frames - frames[0]
    for t, delta in zip(times, change):
        torch.testing.assert_close(delta, change[-1] * t, atol=0.1 / 255, rtol=0)
        assert delta.std() < 0.02 / 255  # a pure translation: the same change everywhere


def test_too_small_photo_is_refused():
    with pytest.raises(ValueError, match="too small"):
        camera_move_frames(_photo(60, 60), 64, (0.0, 1.0), np.random.default_rng(0), CameraMotion())


def test_find_photos_keeps_one_size_per_picture(tmp_path: Path):
    images = tmp_path / "Pack" / "contents" / "images"
    images.mkdir(parents=True)
    for name in ("640x480.png", "1920x1080.png", "5120x2880.png"):
        (images / name).touch()
    (tmp_path / "holiday.JPG").touch()
    (tmp_path / "notes.txt").touch()
    assert find_photos([tmp_path]) == sorted([tmp_path / "holiday.JPG", images / "1920x1080.png"])


def test_load_photo_shrinks_to_max_side(tmp_path: Path):
    path = tmp_path / "p.png"
    Image.fromarray(_photo(100, 300)).save(path)
    photo = load_photo(path, 150, "train")
    assert photo.shape == (50, 150, 3) and photo.dtype == np.uint8
    assert load_photo(path, 1000, "train").shape == (100, 300, 3)
