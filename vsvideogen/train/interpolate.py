"""The frame-interpolation training task: triplets (I0, It, I1) with their timestep t, an IFNet, its loss.

Triplets come from real footage (frames ``i, i + j, i + d`` of one shot, ``t = j / d``; ``d = 2`` gives the
common t = 0.5) and from still photos under a synthetic camera move (any t, exact ground truth). Every
triplet is augmented with flips, channel order, brightness and temporal reversal (``I0 <-> I1``,
``t -> 1 - t``). Validation uses whole frames (or a large centre crop) of a held-out clip at t = 0.5.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VSVideoGenError
from .augment import random_brightness, random_channel_order, random_crop, random_flip
from .footage import Footage
from .losses import census_loss, charbonnier, gradient_loss, psnr
from .photos import CameraMotion, camera_move_frames

FUNC = "train"
_PICK_TRIES = 100


@dataclass(frozen=True)
class TripletBatch:
    """A batch of training triplets: three ``[N, 3, H, W]`` float tensors in 0..1 and ``t`` of shape ``[N]``."""

    img0: torch.Tensor
    imgt: torch.Tensor
    img1: torch.Tensor
    t: torch.Tensor


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``[F, H, W, 3]`` uint8 -> ``[F, 3, H, W]`` float32 in 0..1."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0


class VideoTriplets:
    """Triplets of real frames that never straddle a scene cut.

    Args:
        clips: the decoded training clips.
        max_span: the largest distance ``d`` between I0 and I1 in frames (>= 2).
        half_fraction: share of triplets that are consecutive frames (``d = 2``, t = 0.5); the rest draw
            ``d`` from 2..max_span and ``j`` from 1..d-1.
        max_zoom_out: windows are taken up to this factor larger than the crop and shrunk to it (area
            filter), which shortens the motion and varies the detail scale; 1 disables it.
    """

    def __init__(self, clips: list[Footage], max_span: int = 4, half_fraction: float = 0.5, max_zoom_out: float = 1.5) -> None:
        if max_span < 2:
            raise VSVideoGenError(FUNC, f"max_span={max_span} is too short; a triplet needs frames i, i+j, i+d with d >= 2")
        usable = [c for c in clips if len(c) > max_span]
        if not usable:
            raise VSVideoGenError(FUNC, f"no training clip has more than {max_span} frames; pass longer clips or a smaller max_span")
        self.clips = usable
        self.max_span = max_span
        self.half_fraction = half_fraction
        self.max_zoom_out = max_zoom_out
        self._weights = np.array([len(c) for c in usable], dtype=np.float64)
        self._weights /= self._weights.sum()

    def smallest_side(self) -> int:
        """The shortest frame side over all clips (crops must fit in it)."""
        return min(min(c.frames.shape[1:3]) for c in self.clips)

    def sample(self, rng: np.random.Generator, crop: int) -> tuple[torch.Tensor, float]:
        """One triplet: ``[3, 3, crop, crop]`` (I0, It, I1) and its t."""
        clip = self.clips[int(rng.choice(len(self.clips), p=self._weights))]
        for _ in range(_PICK_TRIES):
            if rng.random() < self.half_fraction:
                span, mid = 2, 1
            else:
                span = int(rng.integers(2, self.max_span + 1))
                mid = int(rng.integers(1, span))
            first = int(rng.integers(0, len(clip) - span))
            if not clip.spans_cut(first, first + span):
                break
        else:
            raise VSVideoGenError(FUNC, f"'{clip.name}' has too many scene cuts to draw triplets; leave it out")
        frames = clip.frames[[first, first + mid, first + span]]
        limit = min(self.max_zoom_out, min(frames.shape[1:3]) / crop)
        window = crop if limit <= 1 else int(round(crop * rng.uniform(1.0, limit)))
        triplet = _to_tensor(random_crop(frames, window, rng))
        if window != crop:
            triplet = F.interpolate(triplet, size=(crop, crop), mode="area")
        return triplet, mid / span


class PhotoTriplets:
    """Triplets rendered from still photos with a synthetic camera move (see :mod:`.photos`).

    Args:
        photos: ``[H, W, 3]`` uint8 photos.
        motion: the camera move's ranges.
        half_fraction: share of triplets at t = 0.5; the others draw t uniformly from 0.05..0.95.
    """

    def __init__(self, photos: list[np.ndarray], motion: CameraMotion = CameraMotion(), half_fraction: float = 0.5) -> None:
        if not photos:
            raise VSVideoGenError(FUNC, "no photos were given; pass at least one photo folder, or none at all")
        self.photos = photos
        self.motion = motion
        self.half_fraction = half_fraction

    def smallest_side(self) -> int:
        """The shortest photo side (crops plus the motion margin must fit in it)."""
        return min(min(p.shape[:2]) for p in self.photos)

    def sample(self, rng: np.random.Generator, crop: int) -> tuple[torch.Tensor, float]:
        """One triplet: ``[3, 3, crop, crop]`` (I0, It, I1) and its t."""
        t = 0.5 if rng.random() < self.half_fraction else float(rng.uniform(0.05, 0.95))
        photo = self.photos[int(rng.integers(len(self.photos)))]
        frames, _ = camera_move_frames(photo, crop, (0.0, t, 1.0), rng, self.motion)
        return frames, t


def augment_triplet(triplet: torch.Tensor, t: float, rng: np.random.Generator) -> tuple[torch.Tensor, float]:
    """Flip, permute channels, jitter brightness (the same for all three frames) and reverse time.

    Reversal swaps I0 and I1 and maps t to 1 - t with probability 1/2, so the network sees both directions.
    """
    triplet = random_brightness(random_channel_order(random_flip(triplet, rng), rng), rng)
    if rng.random() < 0.5:
        return triplet.flip(0), 1.0 - t
    return triplet, t


class TripletSampler:
    """Draws augmented training batches from video and/or photo triplets.

    Args:
        video: real-footage triplets, or None.
        photos: photo triplets, or None.
        photo_fraction: share of a batch drawn from photos when both are given.
    """

    def __init__(self, video: VideoTriplets | None, photos: PhotoTriplets | None, photo_fraction: float = 0.25) -> None:
        if video is None and photos is None:
            raise VSVideoGenError(FUNC, "there is no training data; pass video clips (--data) and/or photo folders (--photos)")
        self.video = video
        self.photos = photos
        self.photo_fraction = photo_fraction if video is not None and photos is not None else float(photos is not None)

    def check_crop(self, crop: int) -> None:
        """Raise when the crop does not fit in the smallest clip or photo."""
        for source, margin, what in ((self.video, 0, "training clip"), (self.photos, 8, "photo")):
            if source is not None and source.smallest_side() < crop + margin:
                raise VSVideoGenError(
                    FUNC, f"crop {crop} does not fit the smallest {what} ({source.smallest_side()} px); use a smaller --crop or larger material"
                )

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int) -> TripletBatch:
        """``batch`` augmented triplets of ``crop x crop``."""
        triplets, times = [], []
        for _ in range(batch):
            source = self.photos if rng.random() < self.photo_fraction else self.video
            triplet, t = augment_triplet(*source.sample(rng, crop), rng)
            triplets.append(triplet)
            times.append(t)
        stack = torch.stack(triplets)
        return TripletBatch(stack[:, 0], stack[:, 1], stack[:, 2], torch.tensor(times, dtype=torch.float32))


def validation_triplets(clip: Footage, count: int, max_side: int = 512) -> TripletBatch:
    """``count`` evenly spread triplets of consecutive frames (t = 0.5) of a held-out clip, none across a cut.

    Frames larger than ``max_side`` are centre-cropped to at most ``max_side x max_side``.

    Raises:
        VSVideoGenError: the clip has fewer than three frames in one shot.
    """
    starts = [i for i in range(len(clip) - 2) if not clip.spans_cut(i, i + 2)]
    if not starts:
        raise VSVideoGenError(FUNC, f"validation clip '{clip.name}' has no three consecutive frames in one shot; pass a longer clip")
    picks = [starts[round(k)] for k in np.linspace(0, len(starts) - 1, min(count, len(starts)))]
    h, w = clip.frames.shape[1:3]
    ch, cw = min(h, max_side), min(w, max_side)
    y, x = (h - ch) // 2, (w - cw) // 2
    frames = np.stack([clip.frames[[i, i + 1, i + 2], y : y + ch, x : x + cw] for i in picks])
    stack = torch.from_numpy(frames).permute(0, 1, 4, 2, 3).float() / 255.0
    return TripletBatch(stack[:, 0], stack[:, 1], stack[:, 2], torch.full((len(picks),), 0.5))


def load_interpolation_model(init: str | None, layout: str | None) -> torch.nn.Module:
    """A trainable IFNet: from a checkpoint file or registered model id (``init``), or fresh in ``layout``.

    Raises:
        VSVideoGenError: unknown layout or model id, or ``layout`` contradicts the checkpoint's.
        WeightsError: the checkpoint is missing, damaged, or not an IFNet.
    """
    from ..models.archs.ifnet import LAYOUTS, build_ifnet, ifnet_from_state_dict
    from ..models.registry import init_state_dict

    if layout is not None and layout not in LAYOUTS:
        raise VSVideoGenError(FUNC, f"layout {layout!r} is unknown; use one of {', '.join(LAYOUTS)}")
    if init is None:
        return build_ifnet(layout or "small").train()
    state = init_state_dict(init, FUNC, ("ifnet",), "an interpolation model or an IFNet checkpoint")
    model = ifnet_from_state_dict(state, FUNC)
    if layout is not None and model.config.name != layout:
        raise VSVideoGenError(
            FUNC, f"--init {init!r} holds a {model.config.name!r} network but --layout {layout!r} was asked; leave --layout out when fine-tuning"
        )
    return model.train()


def _pad_to(x: torch.Tensor, modulo: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    return F.pad(x, [0, -w % modulo, 0, -h % modulo], mode="replicate")


class InterpolateTask:
    """What :func:`vsvideogen.train.trainer.train` needs to fit an IFNet for frame interpolation.

    Args:
        sampler: the training batches.
        val: held-out validation triplets (from :func:`validation_triplets`), or None.
        init: a checkpoint path or registered model id to fine-tune, or None.
        layout: the IFNet layout of a fresh network (default ``"small"``), or a check on ``init``'s layout.
        census_weight: weight of :func:`census_loss` next to :func:`charbonnier` (0: off).
        gradient_weight: weight of :func:`gradient_loss` (0: off).
        val_batch: validation triplets per forward pass.
        info: extra JSON-able facts for the run's metadata (data sources and such).
    """

    name = "interpolate"
    reference_label = "frame blending"

    def __init__(
        self,
        sampler: TripletSampler,
        val: TripletBatch | None,
        init: str | None = None,
        layout: str | None = None,
        census_weight: float = 0.1,
        gradient_weight: float = 0.0,
        val_batch: int = 4,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.sampler = sampler
        self.val = val
        self.init = init
        self.layout = layout
        self.census_weight = census_weight
        self.gradient_weight = gradient_weight
        self.val_batch = val_batch
        self.info = dict(info or {})
        self.modulo = 1
        self.reference_psnr = None if val is None else float(psnr(0.5 * (val.img0 + val.img1), val.imgt).mean())

    def build_model(self) -> torch.nn.Module:
        """The IFNet to train (loaded from ``init`` or fresh)."""
        model = load_interpolation_model(self.init, self.layout)
        self.modulo = model.required_modulo(1.0)
        self.info["layout"] = model.config.name
        return model

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int) -> TripletBatch:
        """A training batch (on the CPU).

        Raises:
            VSVideoGenError: ``crop`` is not a multiple of the network's modulo or does not fit the data.
        """
        if crop % self.modulo:
            raise VSVideoGenError(FUNC, f"crop {crop} must be a multiple of {self.modulo} for this IFNet layout; use e.g. --crop {max(self.modulo, crop // self.modulo * self.modulo)}")
        self.sampler.check_crop(crop)
        return self.sampler.sample_batch(rng, batch, crop)

    def loss(self, model: torch.nn.Module, batch: TripletBatch, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        """Charbonnier plus the weighted census and gradient losses of the interpolated frame against It."""
        img0, imgt, img1 = (x.to(device, non_blocking=True) for x in (batch.img0, batch.imgt, batch.img1))
        pred = model(img0, img1, batch.t.to(device))
        total = charbonnier(pred, imgt)
        parts = {"charbonnier": total.item()}
        for name, weight, term in (("census", self.census_weight, census_loss), ("gradient", self.gradient_weight, gradient_loss)):
            if weight:
                value = term(pred, imgt)
                parts[name] = value.item()
                total = total + weight * value
        return total, parts

    def validate(self, model: torch.nn.Module, device: torch.device) -> float:
        """Mean PSNR (dB) of the interpolated held-out frames (padded to the modulo, cropped back)."""
        if self.val is None:
            return math.nan
        scores = []
        for start in range(0, len(self.val.t), self.val_batch):
            part = slice(start, start + self.val_batch)
            img0, imgt, img1 = (x[part].to(device) for x in (self.val.img0, self.val.imgt, self.val.img1))
            h, w = imgt.shape[-2:]
            pred = model(_pad_to(img0, self.modulo), _pad_to(img1, self.modulo), self.val.t[part].to(device))
            scores.append(psnr(pred[..., :h, :w], imgt).cpu())
        return float(torch.cat(scores).mean())

    def describe(self) -> dict[str, Any]:
        """JSON-able facts about the task for the run's metadata."""
        return {
            "init": self.init,
            "census_weight": self.census_weight,
            "gradient_weight": self.gradient_weight,
            "modulo": self.modulo,
            "val_triplets": 0 if self.val is None else len(self.val.t),
            "val_reference_blend_psnr": self.reference_psnr,
            **self.info,
        }
