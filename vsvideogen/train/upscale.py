"""The super-resolution training task: clean HR crops, degraded LR inputs made on the fly, an SRVGGNetCompact.

HR crops come from real video frames and from photos (:class:`HRCrops`); each is flipped/transposed and
degraded into its LR input by :mod:`.degrade` (``"realistic"``: blur, random-kernel downscale, noise,
JPEG; or ``"bicubic"``: the plain bicubic downscale).

Two modes:

* ``"fidelity"``: Charbonnier (or L1) between the upscaled LR and the HR crop; the best checkpoint by
  validation PSNR is exported.
* ``"gan"``: L1 plus an adversarial loss (hinge or relativistic average) from a discriminator (``"patch"``:
  a :class:`~.discriminator.PatchDiscriminator`; ``"unet"``: a :class:`~.discriminator.UNetDiscriminator`,
  one logit per pixel), by default behind a :class:`~.discriminator.HighPass` input stage (``disc_input``),
  which the task owns and trains with its own Adam optimiser after each generator step (the trainer's
  ``after_step`` hook; its state rides in ``last.pt`` through ``extra_state``). Usually started from a
  fidelity model (``init``). GAN training trades PSNR for texture, so the *last* weights are exported
  rather than the best-PSNR ones.

Validation upscales held-out images degraded both ways (the realistic degradation with a fixed seed per
image, and plain bicubic) and reports PSNR on RGB and on luma (BT.601 Y), ``scale`` pixels shaved off each
border, next to the bicubic-upscaling baseline on the same inputs. The kind chosen by ``val_degradation``
is the run's ``val_psnr`` (plotted, and used to pick the best checkpoint); the others are logged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VSVideoGenError
from ..ops.resize import resize
from .augment import random_flip, random_transpose
from .degrade import DegradationConfig, bicubic_degrade, degrade, min_hr_side
from .discriminator import HighPass, PatchDiscriminator, UNetDiscriminator
from .footage import Footage
from .losses import GAN_LOSSES, PIXEL_LOSSES, discriminator_loss, generator_adversarial_loss, luma, psnr

FUNC = "train"
MODES = ("fidelity", "gan")
#: Discriminators of the gan mode by the name the options use.
DISCRIMINATORS = {"patch": PatchDiscriminator, "unet": UNetDiscriminator}
#: What the discriminator is shown: the fine detail (:class:`~.discriminator.HighPass`) or the plain image.
DISC_INPUTS = ("highpass", "image")
DEGRADATIONS = ("realistic", "bicubic")
DEFAULT_FEATURES = 32
DEFAULT_CONVS = 12
# Wallpapers (folders of /usr/share/wallpapers) kept out of training for the default validation: a
# detailed landscape photo (boats on a shore at dusk) and a fine natural texture (moss with one flower).
VAL_WALLPAPERS = ("EveningGlow", "OneStandsOut")
# Seeds the realistic degradation of validation image i as default_rng([_VAL_SEED, i]).
_VAL_SEED = 1234
# A crop is "detailed" when its mean absolute horizontal + vertical difference (0..1 units) reaches this;
# up to _DETAIL_TRIES windows are drawn to find one, else the most detailed of them is kept.
_MIN_DETAIL = 0.02
_DETAIL_TRIES = 4
# The last convolution of a fresh network starts this much smaller than PyTorch's default, so training
# begins close to the nearest-neighbour upscale the network adds its residual to.
_HEAD_INIT_GAIN = 0.1


@dataclass(frozen=True)
class SRBatch:
    """LR inputs ``[N, 3, h, w]`` and their HR targets ``[N, 3, h * scale, w * scale]``, floats in 0..1."""

    lr: torch.Tensor
    hr: torch.Tensor


def _detail(window: np.ndarray) -> float:
    grey = window[::2, ::2].astype(np.float32).mean(axis=2) / 255.0
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


class HRCrops:
    """Clean high-resolution crops from video frames and photos.

    Args:
        clips: decoded training clips (any frame may be drawn).
        photos: ``[H, W, 3]`` uint8 photos.
        photo_fraction: share of crops drawn from photos when both are given.
        max_zoom_out: windows up to this factor larger than the crop are shrunk to it (area filter), which
            varies the detail scale and cleans up compressed or soft sources; 1 disables it.
    """

    def __init__(self, clips: list[Footage], photos: list[np.ndarray], photo_fraction: float = 0.5,
                 max_zoom_out: float = 1.5) -> None:
        if not clips and not photos:
            raise VSVideoGenError(FUNC, "there is no training data; pass video clips (--data) and/or photo folders (--photos)")
        self.clips = clips
        self.photos = photos
        self.photo_fraction = photo_fraction if clips and photos else float(bool(photos))
        self.max_zoom_out = max_zoom_out
        self._weights = np.array([len(c) for c in clips], dtype=np.float64)
        if clips:
            self._weights /= self._weights.sum()

    def smallest_side(self) -> int:
        """The shortest side of any frame or photo (crops must fit in it)."""
        sides = [min(c.frames.shape[1:3]) for c in self.clips] + [min(p.shape[:2]) for p in self.photos]
        return min(sides)

    def _image(self, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < self.photo_fraction:
            return self.photos[int(rng.integers(len(self.photos)))]
        clip = self.clips[int(rng.choice(len(self.clips), p=self._weights))]
        return clip.frames[int(rng.integers(len(clip)))]

    def sample(self, rng: np.random.Generator, crop: int) -> torch.Tensor:
        """One ``[3, crop, crop]`` float crop in 0..1, flipped and transposed at random.

        Raises:
            VSVideoGenError: the crop does not fit in the drawn frame or photo.
        """
        best, best_detail = None, -1.0
        for _ in range(_DETAIL_TRIES):
            image = self._image(rng)
            h, w = image.shape[:2]
            if min(h, w) < crop:
                raise VSVideoGenError(FUNC, f"crop {crop} does not fit a {w}x{h} training image; use a smaller --crop")
            limit = min(self.max_zoom_out, min(h, w) / crop)
            window = crop if limit <= 1 else int(round(crop * rng.uniform(1.0, limit)))
            y, x = int(rng.integers(0, h - window + 1)), int(rng.integers(0, w - window + 1))
            candidate = image[y : y + window, x : x + window]
            detail = _detail(candidate)
            if detail > best_detail:
                best, best_detail = candidate, detail
            if detail >= _MIN_DETAIL:
                break
        hr = torch.from_numpy(np.ascontiguousarray(best)).permute(2, 0, 1)[None].float() / 255.0
        if hr.shape[-1] != crop:
            hr = F.interpolate(hr, size=(crop, crop), mode="area")
        return random_transpose(random_flip(hr, rng), rng)[0]


def evenly_spaced_frames(clip: Footage, count: int) -> list[np.ndarray]:
    """``count`` frames spread evenly over ``clip`` (all of them when it is shorter)."""
    picks = sorted({round(k) for k in np.linspace(0, len(clip) - 1, min(count, len(clip)))})
    return [clip.frames[i] for i in picks]


def centre_crop(image: np.ndarray, size: int, scale: int) -> np.ndarray:
    """The centre of ``[H, W, 3]``, at most ``size`` on each side, both sides multiples of ``scale`` (empty for an
    image smaller than ``scale``: :class:`ValidationSet` refuses crops below :func:`min_validation_side`)."""
    h, w = image.shape[:2]
    ch, cw = min(h, size) // scale * scale, min(w, size) // scale * scale
    y, x = (h - ch) // 2, (w - cw) // 2
    return image[y : y + ch, x : x + cw]


def min_validation_side(scale: int, config: DegradationConfig = DegradationConfig()) -> int:
    """The shortest side of a validation image at ``scale``: a multiple of ``scale`` that the realistic
    degradation takes (:func:`~.degrade.min_hr_side`) and that keeps pixels after ``scale`` are shaved off each
    border for the PSNR (with none left, every validation score would be NaN)."""
    least = max(min_hr_side(scale, config), 2 * scale + 1)
    return -(-least // scale) * scale


def bicubic_upscale(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The classical baseline: ``[N, C, h, w]`` enlarged by ``scale`` with bicubic (Catmull-Rom), clamped to 0..1."""
    return resize(lr, lr.shape[-2] * scale, lr.shape[-1] * scale, "bicubic").clamp(0.0, 1.0)


def _shave(image: torch.Tensor, border: int) -> torch.Tensor:
    return image[..., border:-border, border:-border] if border else image


class ValidationSet:
    """Held-out HR images with their LR inputs under both degradations and the bicubic baseline's scores.

    Args:
        images: ``[H, W, 3]`` uint8 HR images (sides multiples of ``scale``, see :func:`centre_crop`, and at
            least :func:`min_validation_side`).
        scale: the upscaling factor.
        config: the realistic degradation (image ``i`` is degraded with ``default_rng([1234, i])``).
        names: a label per image, for the metadata and errors.

    Raises:
        VSVideoGenError: there are no images, or one is smaller than :func:`min_validation_side`.
    """

    def __init__(self, images: list[np.ndarray], scale: int, config: DegradationConfig = DegradationConfig(),
                 names: list[str] | None = None) -> None:
        if not images:
            raise VSVideoGenError(FUNC, "the validation set is empty; pass held-out clips or images with --val")
        self.scale = scale
        self.names = list(names) if names is not None else [f"image{i}" for i in range(len(images))]
        least = min_validation_side(scale, config)
        for name, image in zip(self.names, images):
            h, w = image.shape[:2]
            if min(h, w) < least:
                raise VSVideoGenError(FUNC, f"validation image '{name}' is {w}x{h} px after the centre crop (sides "
                                      f"multiples of the scale, at most --val-size); x{scale} validation needs at least "
                                      f"{least}x{least}: leave it out")
        self.hr = [torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1)[None].float() / 255.0 for im in images]
        self.lr = {
            "realistic": [degrade(hr[0], scale, np.random.default_rng([_VAL_SEED, i]), config)[0][None]
                          for i, hr in enumerate(self.hr)],
            "bicubic": [bicubic_degrade(hr, scale) for hr in self.hr],
        }
        self.baseline = self.scores(lambda lr: bicubic_upscale(lr, scale), torch.device("cpu"))

    def __len__(self) -> int:
        return len(self.hr)

    def scores(self, upscale, device: torch.device) -> dict[str, float]:
        """Mean PSNR of ``upscale(lr)`` per degradation on RGB and luma: ``{"realistic": .., "realistic_y": .., ...}``."""
        out = {}
        for kind, inputs in self.lr.items():
            rgb, y = [], []
            for lr, hr in zip(inputs, self.hr):
                sr = upscale(lr.to(device)).float().cpu().clamp(0.0, 1.0)
                sr, hr = _shave(sr, self.scale), _shave(hr, self.scale)
                rgb.append(float(psnr(sr, hr)[0]))
                y.append(float(psnr(luma(sr), luma(hr))[0]))
            out[kind], out[f"{kind}_y"] = float(np.mean(rgb)), float(np.mean(y))
        return out


def load_upscale_model(init: str | None, scale: int, features: int | None = None, convs: int | None = None) -> torch.nn.Module:
    """A trainable SRVGGNetCompact: from a checkpoint or a registered SRVGG model id (``init``), or fresh.

    A fresh network has ``features`` (default 32) channels and ``convs`` (default 12) hidden convolutions.
    With ``init``, the sizes come from the checkpoint; ``scale``, ``features`` and ``convs`` (when given)
    must agree with it.

    Raises:
        VSVideoGenError: the checkpoint's size or scale contradicts the options, or the id is no SRVGG model.
        WeightsError: the checkpoint is missing, damaged, or not an SRVGGNetCompact.
    """
    from ..models.archs.srvgg import SRVGGNetCompact, srvgg_from_state_dict
    from ..models.registry import init_state_dict

    if init is None:
        model = SRVGGNetCompact(3, 3, features or DEFAULT_FEATURES, DEFAULT_CONVS if convs is None else convs, scale)
        with torch.no_grad():
            model.body[-1].weight.mul_(_HEAD_INIT_GAIN)
        return model.train()
    state = init_state_dict(init, FUNC, ("srvgg",), "an SRVGGNetCompact checkpoint or model id")
    model = srvgg_from_state_dict(state, FUNC)
    for name, wanted, actual in (("scale", scale, model.scale), ("features", features, model.features), ("convs", convs, model.convs)):
        if wanted is not None and wanted != actual:
            raise VSVideoGenError(
                FUNC, f"--init {init!r} has {name} {actual} but --{name} {wanted} was asked; pass --{name} {actual} "
                "(or leave --features/--convs out when fine-tuning)"
            )
    return model.train()


def build_discriminator(kind: str, features: int, disc_input: str) -> torch.nn.Module:
    """A fresh discriminator of ``kind`` (see :data:`DISCRIMINATORS`), behind a :class:`HighPass` stage when
    ``disc_input`` is ``"highpass"``. Its parameter names tell both choices apart."""
    disc = DISCRIMINATORS[kind](3, features)
    return torch.nn.Sequential(HighPass(3), disc) if disc_input == "highpass" else disc


class UpscaleTask:
    """What :func:`vsvideogen.train.trainer.train` needs to fit an SRVGGNetCompact upscaler.

    Args:
        crops: the HR training crops.
        val: the held-out validation set, or None.
        scale: the upscaling factor.
        mode: ``"fidelity"`` (pixel loss only) or ``"gan"`` (L1 + adversarial).
        degradation: ``"realistic"`` or ``"bicubic"``: how training inputs are made.
        clean_fraction: with the realistic degradation, the share of inputs made by the plain bicubic one
            instead, so that the model also learns to leave clean sources clean (0: none).
        val_degradation: which validation PSNR is the run's ``val_psnr`` (default: ``degradation``).
        config: the realistic degradation's settings.
        features, convs: size of a fresh network (see :func:`load_upscale_model`).
        init: a checkpoint path or registered SRVGG model id to start from, or None.
        pixel_loss: ``"charbonnier"`` or ``"l1"`` (default: Charbonnier for fidelity, L1 for gan).
        adv_weight: weight of the adversarial loss in gan mode.
        gan_loss: ``"hinge"`` or ``"relativistic"``.
        discriminator: ``"unet"`` (per-pixel logits; the default, which made ``upscale-gan``) or ``"patch"``
            (one logit per 8x8 block), see :data:`DISCRIMINATORS`.
        disc_input: ``"highpass"`` (the discriminator judges the amplified fine detail) or ``"image"``.
        disc_features: width of the discriminator's first layer.
        disc_lr_ratio: the discriminator's learning rate as a multiple of the generator's (schedule included).
        info: extra JSON-able facts for the run's metadata (data sources and such).
    """

    name = "upscale"
    reference_label = "bicubic"

    def __init__(
        self,
        crops: HRCrops,
        val: ValidationSet | None,
        scale: int = 2,
        mode: str = "fidelity",
        degradation: str = "realistic",
        clean_fraction: float = 0.0,
        val_degradation: str | None = None,
        config: DegradationConfig = DegradationConfig(),
        features: int | None = None,
        convs: int | None = None,
        init: str | None = None,
        pixel_loss: str | None = None,
        adv_weight: float = 0.05,
        gan_loss: str = "hinge",
        discriminator: str = "unet",
        disc_input: str = "highpass",
        disc_features: int = 32,
        disc_lr_ratio: float = 1.0,
        info: dict[str, Any] | None = None,
    ) -> None:
        val_degradation = val_degradation or degradation
        pixel_loss = pixel_loss or ("charbonnier" if mode == "fidelity" else "l1")
        for name, value, allowed in (("mode", mode, MODES), ("degradation", degradation, DEGRADATIONS),
                                     ("val_degradation", val_degradation, DEGRADATIONS),
                                     ("pixel_loss", pixel_loss, tuple(PIXEL_LOSSES)), ("gan_loss", gan_loss, GAN_LOSSES),
                                     ("discriminator", discriminator, tuple(DISCRIMINATORS)),
                                     ("disc_input", disc_input, DISC_INPUTS)):
            if value not in allowed:
                raise VSVideoGenError(FUNC, f"{name} {value!r} is unknown; use one of {', '.join(allowed)}")
        if not 0 <= clean_fraction <= 1:
            raise VSVideoGenError(FUNC, f"clean_fraction {clean_fraction} is not between 0 and 1")
        if val is not None and val.scale != scale:
            raise VSVideoGenError(FUNC, f"the validation set was made for x{val.scale}, not x{scale}; build it with the same scale")
        self.crops = crops
        self.val = val
        self.scale = scale
        self.mode = mode
        self.degradation = degradation
        self.clean_fraction = clean_fraction if degradation == "realistic" else 1.0
        self.val_degradation = val_degradation
        self.config = config
        self.features = features
        self.convs = convs
        self.init = init
        self.pixel_loss = pixel_loss
        self.adv_weight = adv_weight
        self.gan_loss = gan_loss
        self.discriminator = discriminator
        self.disc_input = disc_input
        self.disc_features = disc_features
        self.disc_lr_ratio = disc_lr_ratio
        self.info = dict(info or {})
        self.export_best = mode == "fidelity"
        self.reference_psnr = None if val is None else val.baseline[val_degradation]
        self.disc: torch.nn.Module | None = None
        self._disc_opt: torch.optim.Optimizer | None = None
        self._disc_opt_state: dict | None = None
        self._pending: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- model -------------------------------------------------------------------------------------------

    def build_model(self) -> torch.nn.Module:
        """The SRVGGNetCompact to train (and, in gan mode, a fresh discriminator)."""
        model = load_upscale_model(self.init, self.scale, self.features, self.convs)
        self.info.update(features=model.features, convs=model.convs)
        if self.mode == "gan":
            self.disc = build_discriminator(self.discriminator, self.disc_features, self.disc_input)
        return model

    # -- data --------------------------------------------------------------------------------------------

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int) -> SRBatch:
        """``batch`` HR crops of ``crop x crop`` and their degraded LR inputs (on the CPU).

        Raises:
            VSVideoGenError: ``crop`` is not a multiple of the scale (or of 8 with the U-Net discriminator) or
                does not fit the data.
        """
        if crop % self.scale:
            raise VSVideoGenError(FUNC, f"crop {crop} must be a multiple of the scale {self.scale}; use e.g. --crop {max(self.scale, crop // self.scale * self.scale)}")
        if self.mode == "gan" and self.discriminator == "unet" and crop % 8:
            raise VSVideoGenError(FUNC, f"the U-Net discriminator needs a crop that is a multiple of 8, not {crop}; "
                                  f"use e.g. --crop {max(8, crop // 8 * 8)}")
        if self.crops.smallest_side() < crop:
            raise VSVideoGenError(FUNC, f"crop {crop} does not fit the smallest training image ({self.crops.smallest_side()} px); use a smaller --crop")
        hrs, lrs = [], []
        for _ in range(batch):
            hr = self.crops.sample(rng, crop)
            clean = self.clean_fraction == 1 or (self.clean_fraction > 0 and rng.random() < self.clean_fraction)
            lr = bicubic_degrade(hr, self.scale) if clean else degrade(hr, self.scale, rng, self.config)[0]
            hrs.append(hr)
            lrs.append(lr)
        return SRBatch(torch.stack(lrs), torch.stack(hrs))

    # -- losses ------------------------------------------------------------------------------------------

    def _ready_disc(self, device: torch.device) -> torch.nn.Module:
        if self._disc_opt is None:
            self.disc.to(device)
            self._disc_opt = torch.optim.Adam(self.disc.parameters(), lr=1e-4, betas=(0.9, 0.99))
            if self._disc_opt_state is not None:
                self._disc_opt.load_state_dict(self._disc_opt_state)
                self._disc_opt_state = None
        return self.disc

    def loss(self, model: torch.nn.Module, batch: SRBatch, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        """The pixel loss, plus ``adv_weight`` times the adversarial loss in gan mode."""
        lr, hr = batch.lr.to(device, non_blocking=True), batch.hr.to(device, non_blocking=True)
        sr = model(lr)
        pixel = PIXEL_LOSSES[self.pixel_loss](sr, hr)
        parts = {self.pixel_loss: pixel.item()}
        if self.mode != "gan":
            return pixel, parts
        disc = self._ready_disc(device).requires_grad_(False)
        real_logits, fake_logits = disc(torch.cat([hr, sr])).chunk(2)
        adv = generator_adversarial_loss(real_logits, fake_logits, self.gan_loss)
        self._pending = (hr, sr.detach())
        parts["adv"] = adv.item()
        return pixel + self.adv_weight * adv, parts

    def after_step(self, lr: float) -> dict[str, float]:
        """In gan mode: one discriminator step on the last batch's real crops and generated images."""
        if self._pending is None:
            return {}
        real, fake = self._pending
        self._pending = None
        disc = self.disc.requires_grad_(True)
        for group in self._disc_opt.param_groups:
            group["lr"] = lr * self.disc_lr_ratio
        real_logits, fake_logits = disc(torch.cat([real, fake])).chunk(2)
        loss = discriminator_loss(real_logits, fake_logits, self.gan_loss)
        self._disc_opt.zero_grad(set_to_none=True)
        loss.backward()
        self._disc_opt.step()
        return {"d_loss": loss.item(), "d_real": real_logits.mean().item(), "d_fake": fake_logits.mean().item()}

    def extra_state(self) -> dict[str, Any]:
        """The discriminator and its optimiser (gan mode), for ``last.pt``.

        The discriminator's parameter names tell its kind and input, so a resume can check them.
        """
        if self.disc is None:
            return {}
        opt = self._disc_opt.state_dict() if self._disc_opt is not None else self._disc_opt_state
        return {"disc": self.disc.state_dict(), "disc_optimizer": opt}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`extra_state` on ``--resume``.

        Raises:
            VSVideoGenError: the checkpoint was written in the other mode, or with another discriminator or
                discriminator input.
        """
        if ("disc" in state) != (self.disc is not None):
            was = "gan" if "disc" in state else "fidelity"
            raise VSVideoGenError(FUNC, f"last.pt is a --mode {was} run; resume it with --mode {was}")
        if self.disc is not None:
            saved = state["disc"].keys()
            was = next((f"--discriminator {kind} --disc-input {shown}" for kind in DISCRIMINATORS for shown in DISC_INPUTS
                        if build_discriminator(kind, 1, shown).state_dict().keys() == saved), None)
            wanted = f"--discriminator {self.discriminator} --disc-input {self.disc_input}"
            if was not in (None, wanted):
                raise VSVideoGenError(FUNC, f"last.pt was trained with {was}, not {wanted}; resume it with {was}")
            try:
                self.disc.load_state_dict(state["disc"])
            except RuntimeError:  # same kind, other sizes
                raise VSVideoGenError(FUNC, f"last.pt's discriminator does not have --disc-features "
                                      f"{self.disc_features}; resume it with the width it was trained with "
                                      "(model.json's disc_features)") from None
            self._disc_opt_state = state["disc_optimizer"]

    # -- validation and metadata -------------------------------------------------------------------------

    def validate(self, model: torch.nn.Module, device: torch.device) -> tuple[float, dict[str, float]]:
        """PSNR on the held-out images: the chosen degradation's RGB PSNR, and the others for the log."""
        if self.val is None:
            return math.nan, {}
        scores = self.val.scores(model, device)
        extra = {"val_psnr_y": scores[f"{self.val_degradation}_y"]}
        for kind in DEGRADATIONS:
            extra[f"val_{kind}_psnr"], extra[f"val_{kind}_psnr_y"] = scores[kind], scores[f"{kind}_y"]
        return scores[self.val_degradation], extra

    def describe(self) -> dict[str, Any]:
        """JSON-able facts about the task for the run's metadata."""
        facts = {
            "arch": "srvgg",
            "scale": self.scale,
            "mode": self.mode,
            "init": self.init,
            "degradation": self.degradation,
            "clean_fraction": self.clean_fraction,
            "val_degradation": self.val_degradation,
            "pixel_loss": self.pixel_loss,
            "val_images": [] if self.val is None else self.val.names,
            "val_baseline_bicubic_psnr": None if self.val is None else self.val.baseline,
        }
        if self.mode == "gan":
            facts.update(adv_weight=self.adv_weight, gan_loss=self.gan_loss, discriminator=self.discriminator,
                         disc_input=self.disc_input, disc_features=self.disc_features,
                         disc_lr_ratio=self.disc_lr_ratio, exported="last")
        return {**facts, **self.info}
