"""What the temporal window tasks (``train denoise``, ``train deblur``) share: the model, the loss on the centre
frame, validation and the common run metadata.

Both train a :class:`vsvideogen.models.archs.temporal_denoiser.TemporalDenoiser` that sees a window of
``2 * radius + 1`` degraded frames (plus, for the denoiser, a noise map) and gives the clean centre frame.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import VSVideoGenError
from .losses import PIXEL_LOSSES, psnr
from .noise_config import LOSSES

__all__ = ["WindowTask", "load_temporal_model"]

FUNC = "train"


def load_temporal_model(init: str | None, radius: int, features: int, noise_map: bool,
                        scales: int | None = None) -> torch.nn.Module:
    """A trainable :class:`TemporalDenoiser` (with a noise map or without): fresh (RGB, ``radius``,
    ``features``, ``scales`` levels, 3 if None) or from a checkpoint file of the same kind, grown to ``scales``
    levels if it has fewer (:meth:`TemporalDenoiser.grown`: it starts out computing what the checkpoint does).

    Raises:
        VSVideoGenError: the checkpoint's radius differs from ``radius``, or it has more levels than ``scales``.
        WeightsError: the checkpoint is missing, damaged, or not of that kind.
    """
    from ..models.archs.mc_denoiser import is_mc_denoiser_state_dict
    from ..models.archs.temporal_denoiser import (
        TemporalDenoiser,
        temporal_deblurrer_from_state_dict,
        temporal_denoiser_from_state_dict,
    )
    from ..models.registry import init_state_dict

    if init is None:
        return TemporalDenoiser(3, radius, features, noise_map=noise_map, scales=scales or 3).train()
    from_state_dict = temporal_denoiser_from_state_dict if noise_map else temporal_deblurrer_from_state_dict
    arch = "temporal-denoiser" if noise_map else "temporal-deblurrer"
    state = init_state_dict(init, FUNC, (arch,), f"a {arch} checkpoint or model id")
    if noise_map and is_mc_denoiser_state_dict(state):
        raise VSVideoGenError(FUNC, f"--init '{init}' is a motion-compensated denoiser; train it with --arch motion")
    model = from_state_dict(state, FUNC)
    if model.radius != radius:
        raise VSVideoGenError(FUNC, f"--init '{init}' takes {2 * model.radius + 1} frames; pass --radius {model.radius}")
    if scales is not None and scales < model.scales:
        raise VSVideoGenError(FUNC, f"--init '{init}' has {model.scales} scales, more than --scales {scales}; "
                                    f"pass --scales {model.scales} or more, or leave it out")
    return (model.grown(scales) if scales and scales > model.scales else model).train()


class WindowTask:
    """Base of the temporal window tasks for :func:`vsvideogen.train.trainer.train`.

    A subclass sets ``name``, ``reference_label``, ``arch`` (the registry architecture) and ``noise_map``,
    and defines ``sample_batch``, :meth:`split` (a batch's network inputs and target) and :meth:`facts`
    (its own metadata).

    Args:
        windows: the training windows (with a ``radius``).
        val: held-out windows in the form :meth:`split` reads, or None.
        radius: frames each side of the centre (must match ``windows`` and ``val``).
        features: the U-Nets' width for a fresh network.
        loss: ``"charbonnier"`` or ``"l1"`` on the centre frame.
        init: a checkpoint path to fine-tune, or None.
        val_batch: validation windows per forward pass.
        info: extra JSON-able facts for the run's metadata (data sources and such).
        scales: the U-Nets' levels (None: 3 for a fresh network, the checkpoint's for ``init``; more than the
            checkpoint's grows it).
    """

    name: str
    reference_label: str
    arch: str
    noise_map: bool

    def __init__(self, windows: Any, val: Any, radius: int = 2, features: int = 24, loss: str = "charbonnier",
                 init: str | None = None, val_batch: int = 2, info: dict[str, Any] | None = None,
                 scales: int | None = None) -> None:
        if loss not in LOSSES:
            raise VSVideoGenError(FUNC, f"loss {loss!r} is unknown; use one of {', '.join(LOSSES)}")
        self.radius = radius
        self._check_frames(2 * windows.radius + 1)
        self.windows = windows
        self.val = val
        self.features = features
        self.scales = scales
        self.loss_name = loss
        self.init = init
        self.val_batch = val_batch
        self.info = dict(info or {})
        self.reference_psnr = None if val is None else self.reference_of(val)

    def reference_of(self, batch: Any) -> float:
        """Mean PSNR (dB) of held-out ``batch``'s degraded centre frames against its targets, the reference a
        restoration is measured against; its windows must have ``2 * radius + 1`` frames."""
        inputs, target = self.split(batch)
        self._check_frames(inputs[0].shape[1])
        return float(psnr(inputs[0][:, self.radius], target).mean())

    def _check_frames(self, frames: int) -> None:
        if frames != 2 * self.radius + 1:
            raise VSVideoGenError(FUNC, f"training and validation windows must have {2 * self.radius + 1} frames "
                                        f"(radius {self.radius})")

    def split(self, batch: Any) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """The network's inputs (the degraded windows first) and the target centre frames of ``batch``."""
        raise NotImplementedError

    def facts(self) -> dict[str, Any]:
        """The task's own JSON-able metadata, after the common facts of :meth:`describe`."""
        raise NotImplementedError

    def build_model(self) -> torch.nn.Module:
        """The network to train (fresh or loaded from ``init``)."""
        model = load_temporal_model(self.init, self.radius, self.features, self.noise_map, self.scales)
        self.features, self.scales = model.features, model.scales
        return model

    def loss(self, model: torch.nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        """L1 or Charbonnier distance of the restored centre frame to the target one."""
        inputs, target = self.split(batch)
        pred = model(*_on(device, inputs))
        target = target.to(device, non_blocking=True)
        value = PIXEL_LOSSES[self.loss_name](pred, target)
        return value, {self.loss_name: value.item()}

    def validate(self, model: torch.nn.Module, device: torch.device) -> float:
        """Mean PSNR (dB) of the restored held-out centre frames."""
        return math.nan if self.val is None else self.mean_psnr(model, device, self.val)

    def mean_psnr(self, model: torch.nn.Module, device: torch.device, batch: Any) -> float:
        """Mean PSNR (dB) of the restored centre frames of ``batch`` (a held-out set in the form :meth:`split`
        reads), :attr:`val_batch` windows per forward pass."""
        inputs, target = self.split(batch)
        scores = []
        for start in range(0, len(target), self.val_batch):
            part = slice(start, start + self.val_batch)
            scores.append(psnr(model(*_on(device, inputs, part)), target[part].to(device)).cpu())
        return float(torch.cat(scores).mean())

    def describe(self) -> dict[str, Any]:
        """JSON-able facts about the task for the run's metadata (``arch`` names the registry architecture)."""
        from ..models.archs.temporal_denoiser import tile_layout

        scales = self.scales or 3  # before build_model, a fresh network's
        modulo, context = tile_layout(scales)
        return {
            "arch": self.arch,
            "radius": self.radius,
            "frames": 2 * self.radius + 1,
            "features": self.features,
            "scales": scales,
            "channels": 3,
            "tile_context": context,
            "modulo": modulo,
            "init": self.init,
            "loss": self.loss_name,
            **self.facts(),
            **self.info,
        }


def _on(device: torch.device, inputs: tuple[torch.Tensor | None, ...],
        part: slice = slice(None)) -> list[torch.Tensor | None]:
    """The network's ``inputs`` (None stays None) cut to ``part`` of the batch, on ``device``."""
    return [None if x is None else x[part].to(device, non_blocking=True) for x in inputs]
