"""The motion-compensated denoising task (``vsvideogen train denoise --arch motion``): train the fusion U-Net of a
:class:`vsvideogen.models.archs.mc_denoiser.MotionCompensatedDenoiser` whose front (FFDNet, SPyNet, warping) is
frozen.

Because the front never changes, it runs once per training window: the task draws ``pool`` noisy windows
(``pool_crop`` pixels square, from :class:`vsvideogen.train.denoise.VideoWindows` with the run's
:class:`NoiseConfig`, from a fixed seed), keeps the front's output, the noise map and the clean centre frame
(fp16 in memory, about 1.1 MB per 128 px window at radius 2), and every training batch is random crops of
those, flipped. The held-out validation windows go through the front once as well, and the plot's reference
line is the front's own spatial estimate of the centre frame (plain FFDNet), the network before training.

A fresh run needs the official weights the front is built from, imported once with ``vsvideogen models
import``: ``ffdnet-color`` (the spatial denoiser) and ``basicvsr-reds4`` (whose SPyNet gives the flow).
``init`` continues from an export of this task instead.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ..errors import VSVideoGenError
from .denoise import DenoiseBatch, VideoWindows
from .losses import PIXEL_LOSSES, psnr
from .noise_config import LOSSES, NoiseConfig

__all__ = ["MotionBatch", "MotionDenoiseTask", "official_motion_denoiser"]

FUNC = "train"
# Windows run through the front at once while the pool is built.
_FRONT_CHUNK = 4


@dataclass(frozen=True)
class MotionBatch:
    """The front's outputs ``[N, front_channels, H, W]``, noise maps ``[N, 1, H, W]`` (sigma / 255) and clean
    centre frames ``[N, 3, H, W]``."""

    front: torch.Tensor
    sigma: torch.Tensor
    clean: torch.Tensor


def official_motion_denoiser(radius: int, features: int) -> torch.nn.Module:
    """A fresh :class:`MotionCompensatedDenoiser` with the official FFDNet colour weights as its spatial
    denoiser and BasicVSR's (REDS) SPyNet as its flow; the fusion U-Net is new (it returns plain FFDNet).

    Raises:
        VSVideoGenError: one of the two official models is not imported (the message says how).
    """
    from ..models.archs.mc_denoiser import MotionCompensatedDenoiser
    from ..models.registry import load_model

    net = MotionCompensatedDenoiser(radius, features)
    cpu = torch.device("cpu")
    net.spatial.load_state_dict(load_model("ffdnet-color", "denoise", cpu, torch.float32, FUNC).state_dict())
    net.flow.load_state_dict(load_model("basicvsr-reds4", "upscale", cpu, torch.float32, FUNC).spynet.state_dict())
    return net


def _load(init: str | None, radius: int, features: int) -> torch.nn.Module:
    """The network to train: fresh from the official front weights, or an export of this task."""
    if init is None:
        return official_motion_denoiser(radius, features)
    from ..models.archs.mc_denoiser import mc_denoiser_from_state_dict
    from ..models.registry import init_state_dict

    state = init_state_dict(init, FUNC, ("temporal-denoiser",), "a motion-compensated denoiser's checkpoint or model id")
    net = mc_denoiser_from_state_dict(state, FUNC)
    if net.radius != radius:
        raise VSVideoGenError(FUNC, f"--init '{init}' takes {2 * net.radius + 1} frames; pass --radius {net.radius}")
    return net


@torch.no_grad()
def run_front(net: torch.nn.Module, batch: DenoiseBatch, chunk: int = _FRONT_CHUNK) -> MotionBatch:
    """``batch`` through ``net.front`` (``chunk`` windows at a time, on ``net``'s device), kept in fp16 on the CPU."""
    device = next(net.parameters()).device
    fronts = [net.front(batch.noisy[i : i + chunk].to(device), batch.sigma[i : i + chunk].to(device)).half().cpu()
              for i in range(0, len(batch.clean), chunk)]
    return MotionBatch(torch.cat(fronts), batch.sigma.half(), batch.clean.half())


def build_pool(net: torch.nn.Module, windows: VideoWindows, noise: NoiseConfig, count: int, crop: int, seed: int,
               progress: bool = True) -> MotionBatch:
    """``count`` noisy ``crop``-pixel windows drawn from ``seed``, through the frozen front (on ``net``'s device).

    Raises:
        VSVideoGenError: the crop does not fit the training clips.
    """
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    parts = []
    with tqdm(total=count, desc="train denoise: front", unit="window", disable=not progress) as bar:
        for start in range(0, count, _FRONT_CHUNK):
            size = min(_FRONT_CHUNK, count - start)
            parts.append(run_front(net, windows.sample_batch(rng, size, crop, noise)))
            bar.update(size)
    return MotionBatch(*(torch.cat(tensors) for tensors in zip(*((p.front, p.sigma, p.clean) for p in parts))))


class MotionDenoiseTask:
    """What :func:`vsvideogen.train.trainer.train` needs to fit a motion-compensated denoiser's fusion U-Net.

    Args:
        windows: the training windows.
        val: held-out noisy windows (:func:`vsvideogen.train.denoise.validation_windows`) or None.
        noise: the training noise.
        radius: frames each side of the centre.
        features: the fusion U-Net's width for a fresh network.
        loss: ``"charbonnier"`` or ``"l1"`` on the centre frame.
        init: an export of this task to continue from, or None (fresh, from the official front weights).
        pool: training windows run through the front.
        pool_crop: their side in pixels (training crops are taken inside them).
        seed: seeds the pool's windows and noise.
        device: where the front runs while the pool is built (the training device; the pool stays on the CPU).
        val_batch: validation windows per forward pass.
        progress: show a progress bar while the pool is built.
        info: extra JSON-able facts for the run's metadata.

    Raises:
        VSVideoGenError: bad settings, or an official front model is not imported.
    """

    name = "denoise"
    reference_label = "FFDNet (spatial)"

    def __init__(self, windows: VideoWindows, val: DenoiseBatch | None, noise: NoiseConfig = NoiseConfig(),
                 radius: int = 2, features: int = 32, loss: str = "charbonnier", init: str | None = None,
                 pool: int = 1000, pool_crop: int = 128, seed: int = 0, device: torch.device | str = "cpu",
                 val_batch: int = 2, progress: bool = True, info: dict[str, Any] | None = None) -> None:
        noise.check()
        if loss not in LOSSES:
            raise VSVideoGenError(FUNC, f"loss {loss!r} is unknown; use one of {', '.join(LOSSES)}")
        if windows.radius != radius or (val is not None and val.noisy.shape[1] != 2 * radius + 1):
            raise VSVideoGenError(FUNC, f"training and validation windows must have {2 * radius + 1} frames (radius {radius})")
        self.model = _load(init, radius, features)
        for part in (self.model.spatial, self.model.flow):
            part.requires_grad_(False)
        self.radius, self.features, self.noise, self.loss_name, self.init = radius, self.model.features, noise, loss, init
        self.pool_crop, self.val_batch, self.info = pool_crop, val_batch, dict(info or {})
        self.model.to(device)
        self.pool = build_pool(self.model, windows, noise, pool, pool_crop, seed, progress)
        self.val = None if val is None else run_front(self.model, val)
        self.model.cpu()
        self.reference_psnr = None if self.val is None else float(psnr(self.model.spatial_estimate(self.val.front).float(), self.val.clean.float()).mean())

    def build_model(self) -> torch.nn.Module:
        """The network (its front frozen)."""
        return self.model

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int) -> MotionBatch:
        """``batch`` random ``crop``-pixel pieces of pool windows, each flipped at random (on the CPU).

        Raises:
            VSVideoGenError: ``crop`` is larger than the pool's windows.
        """
        if crop > self.pool_crop:
            raise VSVideoGenError(FUNC, f"crop {crop} is larger than the pool's {self.pool_crop} px windows; pass "
                                        f"--crop {self.pool_crop} or less, or a larger --pool-crop")
        picks = []
        for index in rng.integers(0, len(self.pool.clean), size=batch):
            y, x = (int(v) for v in rng.integers(0, self.pool_crop - crop + 1, size=2))
            flips = [d for d, p in ((-1, rng.random()), (-2, rng.random())) if p < 0.5]
            picks.append([t[index, :, y : y + crop, x : x + crop].flip(flips) if flips else
                          t[index, :, y : y + crop, x : x + crop] for t in (self.pool.front, self.pool.sigma, self.pool.clean)])
        return MotionBatch(*(torch.stack(parts).float() for parts in zip(*picks)))

    def loss(self, model: torch.nn.Module, batch: MotionBatch, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        """L1 or Charbonnier distance of the fused centre frame to the clean one."""
        pred = model.fuse(batch.front.to(device), batch.sigma.to(device))
        target = batch.clean.to(device)
        value = PIXEL_LOSSES[self.loss_name](pred, target)
        return value, {self.loss_name: value.item()}

    def validate(self, model: torch.nn.Module, device: torch.device) -> float:
        """Mean PSNR (dB) of the fused held-out centre frames."""
        if self.val is None:
            return math.nan
        scores = []
        for start in range(0, len(self.val.clean), self.val_batch):
            part = slice(start, start + self.val_batch)
            pred = model.fuse(self.val.front[part].float().to(device), self.val.sigma[part].float().to(device))
            scores.append(psnr(pred, self.val.clean[part].float().to(device)).cpu())
        return float(torch.cat(scores).mean())

    def describe(self) -> dict[str, Any]:
        """JSON-able facts about the task for the run's metadata."""
        from ..models.archs.mc_denoiser import MotionCompensatedDenoiser

        return {
            "arch": "temporal-denoiser",
            "layout": "motion-compensated (FFDNet + SPyNet + fusion U-Net)",
            "radius": self.radius,
            "frames": 2 * self.radius + 1,
            "features": self.features,
            "channels": 3,
            "tile_context": MotionCompensatedDenoiser.tile_context,
            "modulo": MotionCompensatedDenoiser.modulo,
            "init": self.init,
            "loss": self.loss_name,
            "pool": len(self.pool.clean),
            "pool_crop": self.pool_crop,
            "noise": {**asdict(self.noise), "jpeg_quality": list(self.noise.jpeg_quality)},
            "val_windows": 0 if self.val is None else len(self.val.clean),
            "val_reference_ffdnet_psnr": self.reference_psnr,
            "usage": "vsvideogen.denoise(clip, sigma, model='<run>/model.safetensors', temporal=True, "
                     f"radius={self.radius})",
            **self.info,
        }
