"""Still photos as training material: loading, and frames of a synthetic camera move over a photo.

A camera move is a similarity transform (translation, zoom, rotation) whose parameters follow a smooth
quadratic trajectory in time; sampling it at any time gives the frame a camera moving that way would
see. This supplies exact ground truth at arbitrary timesteps, which real footage only gives at whole
frames.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VSVideoGenError

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# Wallpaper packs store one picture at many sizes, named like "1920x1080.jpg": one of them is enough.
_SIZE_NAME = re.compile(r"^(\d+)x(\d+)$")
_PREFERRED_AREA = 1920 * 1200


def find_photos(folders: list[str | Path]) -> list[Path]:
    """Photo files under ``folders`` (recursively), one file per picture.

    Files in one folder named ``WIDTHxHEIGHT.ext`` are taken as sizes of one picture, and only the largest
    one up to 1920x1200 (else the smallest) is kept.
    """
    found: list[Path] = []
    for folder in folders:
        files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
        sized: dict[Path, list[tuple[int, Path]]] = {}
        for path in files:
            match = _SIZE_NAME.match(path.stem)
            if match:
                sized.setdefault(path.parent, []).append((int(match[1]) * int(match[2]), path))
            else:
                found.append(path)
        for variants in sized.values():
            fitting = [v for v in variants if v[0] <= _PREFERRED_AREA]
            found.append(max(fitting)[1] if fitting else min(variants)[1])
    return sorted(found)


def load_photo(path: str | Path, max_side: int, func: str) -> np.ndarray:
    """A photo as ``[H, W, 3]`` uint8 RGB, shrunk (Lanczos) so that its longer side is at most ``max_side``.

    Raises:
        VSVideoGenError: the file cannot be read as an image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            scale = max_side / max(image.size)
            if scale < 1:
                size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
                image.draft("RGB", size)  # JPEG: decode at a reduced size directly (never below `size`)
                image = image.convert("RGB").resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, UnidentifiedImageError) as exc:
        raise VSVideoGenError(func, f"cannot read photo '{path}' ({exc}); pass image files (jpg, png, ...)") from exc


@dataclass(frozen=True)
class CameraMotion:
    """Ranges of a random camera move over the time interval 0..1.

    Attributes:
        max_shift: largest translation per axis over the interval, in output pixels.
        max_zoom: largest zoom over the interval, as a log scale factor (0.08: about 8 %).
        max_rotation: largest rotation over the interval, in degrees.
        curvature: acceleration relative to velocity (0: constant speed; 0.5: the speed changes by up to
            half over the interval), so that the middle frame is not simply the average position.
        subpixel: start at a random sub-pixel offset, so frame 0 is resampled like the others; when False,
            frame 0 is exactly the photo's pixels.
    """

    max_shift: float = 24.0
    max_zoom: float = 0.08
    max_rotation: float = 3.0
    curvature: float = 0.5
    subpixel: bool = True


@dataclass(frozen=True)
class _Move:
    velocity: np.ndarray  # [4]: shift x, shift y (pixels), log zoom, rotation (radians) per unit time
    acceleration: np.ndarray
    offset: np.ndarray  # [2] sub-pixel start

    def at(self, time: float) -> np.ndarray:
        return self.velocity * time + 0.5 * self.acceleration * time * time

    def matrix(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """(2x2 linear part, translation) mapping output offsets from the window centre to photo offsets."""
        shift_x, shift_y, zoom, angle = self.at(time)
        c, s = math.cos(angle) * math.exp(zoom), math.sin(angle) * math.exp(zoom)
        return np.array([[c, -s], [s, c]]), np.array([shift_x, shift_y]) + self.offset

    def scaled(self, factor: float) -> _Move:
        return _Move(self.velocity * factor, self.acceleration * factor, self.offset)


def _random_move(rng: np.random.Generator, motion: CameraMotion) -> _Move:
    limits = np.array([motion.max_shift, motion.max_shift, motion.max_zoom, math.radians(motion.max_rotation)])
    velocity = limits * rng.uniform(-1, 1, 4)
    acceleration = 2 * motion.curvature * velocity * rng.uniform(-1, 1, 4)
    offset = rng.random(2) if motion.subpixel else np.zeros(2)
    return _Move(velocity, acceleration, offset)


def camera_move_frames(
    photo: np.ndarray, size: int, times: tuple[float, ...], rng: np.random.Generator, motion: CameraMotion
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Frames of a random camera move over ``photo``, seen through a ``size x size`` window.

    Args:
        photo: ``[H, W, 3]`` uint8 RGB.
        size: side of the output frames.
        times: the instants to render (0..1).
        rng: source of randomness.
        motion: the ranges of the move.

    Returns:
        ``[len(times), 3, size, size]`` float32 in 0..1 (bicubic resampling, clamped), and the top-left
        ``(x, y)`` of the window in the photo at time 0 (before any sub-pixel offset).

    Raises:
        ValueError: the photo is smaller than the window plus a margin for the move.
    """
    h, w = photo.shape[:2]
    if h < size + 8 or w < size + 8:
        raise ValueError(f"photo of {w}x{h} is too small for a {size}x{size} window")
    half = (size - 1) / 2
    corners = np.array([[-half, -half], [half, -half], [-half, half], [half, half]])
    move = _random_move(rng, motion)
    for _ in range(8):
        # Photo offsets of the window's corners at every rendered time, relative to the window centre at 0.
        reach = np.concatenate([corners @ lin.T + shift for lin, shift in map(move.matrix, times)])
        low = np.floor(reach.min(axis=0)) - 2  # bicubic reads two pixels beyond the sample point
        high = np.ceil(reach.max(axis=0)) + 2
        if np.all(high - low < np.array([w, h]) - 1):
            break
        move = move.scaled(0.5)
    else:
        raise ValueError(f"photo of {w}x{h} is too small for a {size}x{size} window and this motion")
    # Window origin: whole pixels, so that without a sub-pixel offset frame 0 is the photo's own pixels.
    x0 = int(rng.integers(-low[0] - half, w - 1 - high[0] - half + 1))
    y0 = int(rng.integers(-low[1] - half, h - 1 - high[1] - half + 1))
    centre = np.array([x0 + half, y0 + half])
    left, top = (centre + low).astype(int)
    right, bottom = (centre + high).astype(int)
    region = torch.from_numpy(photo[top : bottom + 1, left : right + 1]).permute(2, 0, 1)[None].float() / 255.0
    rh, rw = region.shape[-2:]

    grid_y, grid_x = np.mgrid[0:size, 0:size].astype(np.float64) - half
    offsets = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    grids = []
    for lin, shift in map(move.matrix, times):
        pos = offsets @ lin.T + shift + centre - np.array([left, top])  # pixel coordinates in the region
        norm = 2 * pos / np.array([rw - 1, rh - 1]) - 1
        grids.append(norm.reshape(size, size, 2))
    grid = torch.from_numpy(np.stack(grids)).float()
    frames = F.grid_sample(region.expand(len(times), -1, -1, -1), grid, mode="bicubic", padding_mode="border", align_corners=True)
    return frames.clamp(0.0, 1.0), (x0, y0)
