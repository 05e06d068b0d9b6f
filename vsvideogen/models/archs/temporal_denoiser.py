"""A small multi-frame denoiser in the FastDVDnet family: triplets denoised, then fused; no explicit flow.

The network sees ``2 * radius + 1`` consecutive frames (``radius = 2``: five) and a noise-level map, and
returns the clean centre frame. It works in two stages of the same small U-Net design:

1. **Triplet stage** (weights shared): every run of three consecutive frames ``i-1, i, i+1`` plus the noise
   map gives a first estimate of frame ``i``, for the ``2 * radius - 1`` inner frames of the window.
2. **Fusion stage**: those estimates plus the noise map give the centre frame.

Each stage predicts a correction added to its middle input (so a fresh network whose last convolutions are
zero returns the noisy centre frame). There is no optical flow and no warping: motion is absorbed by the
convolutions' spatial reach, as in FastDVDnet (Tassano et al., 2020), so large motion (beyond about
``tile_context / 2`` pixels between neighbours) falls back to mostly spatial denoising.

U-Net (``w = features``): two 3x3 convolutions at full resolution (``w``), a stride-2 convolution and one
more at 1/2 (``2w``), a stride-2 convolution and two more at 1/4 (``4w``); back up by convolution + pixel
shuffle with additive skips, two convolutions at full resolution, ReLU throughout. The default
``features=24`` gives about 0.96 M parameters in all, small enough to train on a CPU. ``scales`` > 3 adds
coarser levels (1/8, 1/16, ...) of ``4w`` channels, a stride-2 convolution and one more down and a
convolution + pixel shuffle up each: they double the reach per level for a few percent more arithmetic, which
long motion-blur streaks need. A trained network grows by loading it into a deeper one whose new upward
convolutions are zero (:meth:`TemporalDenoiser.grown`): it then computes what it computed before.

Noise map: one channel, ``sigma / 255`` for a sigma on the 8-bit scale, either ``[N, 1, 1, 1]`` (uniform) or
``[N, 1, H, W]`` (per pixel), the same for every frame of the window; it is appended to the input of both
stages. With ``noise_map=False`` there is no such channel and ``forward`` takes no ``sigma``: the same
network then serves tasks without a level to condition on (the temporal deblurrer of ``vsvideogen train
deblur``, registered as ``"temporal-deblurrer"``). Which of the two a checkpoint is follows from its first
convolutions' input channels (``3 * C + 1`` with the map, ``3 * C`` without).

Exposure input (a deblurrer's, ``exposure_input=True``): the time the shutter was open, as a fraction of the
frame interval (shutter angle / 360), coded as two numbers, whether it is known and its value
(:func:`exposure_code`); a 1x1 convolution of them is added to the first convolution of each stage. Its
weights start at zero (:meth:`TemporalDenoiser.with_exposure_input`), so a blind deblurrer grown this way
first computes what it did, and an unknown exposure (code ``(0, 0)``) adds nothing: one network deblurs
blind or told the shutter. A checkpoint with it has ``stage1.condition.weight``.

Shapes: the frame side is padded internally (edge replication) to a multiple of ``modulo`` =
``2 ** (scales - 1)`` (4 for three scales) and cropped back, so any size works. Fully convolutional;
receptive field: each U-Net reaches :func:`unet_reach` pixels from the output pixel (28 for three scales, 52
for four, 100 for five; measured from the gradient and checked by the tests, with tile starts on multiples of
``modulo``), the two stages in series twice that, which is ``tile_context`` (56 for three scales): tiles with
that context give the untiled result up to float rounding. Temporal reach: the centre frame +- ``radius``.

Nothing here imports VapourSynth.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import WeightsError
from ..weights import load_into

__all__ = ["TemporalDenoiser", "temporal_denoiser_from_state_dict", "temporal_deblurrer_from_state_dict", "unet_reach",
           "tile_layout", "noise_level", "exposure_code", "EXPOSURE_CHANNELS"]


def unet_reach(scales: int) -> int:
    """Receptive-field radius in pixels of one U-Net stage with ``scales`` levels, for tiles starting on
    multiples of ``2 ** (scales - 1)``: 28, 52, 100 for 3, 4, 5 (each level past the third doubles what it adds)."""
    return 4 + 24 * 2 ** (scales - 3)


def tile_layout(scales: int) -> tuple[int, int]:
    """``(modulo, tile_context)`` of a :class:`TemporalDenoiser` with ``scales`` levels: tiles start on
    multiples of ``2 ** (scales - 1)`` and need the two stages' reach in series, ``2 * unet_reach(scales)``."""
    return 2 ** (scales - 1), 2 * unet_reach(scales)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class _UNet(nn.Module):
    """``scales`` resolutions (3: full, 1/2, 1/4), additive skips, pixel-shuffle upsampling; ``cin`` channels in,
    ``cout`` out. Levels past the third keep ``4 * width`` channels (two convolutions down, one up), so they
    add reach at little cost. Modules are named ``down1``, ``down2``, ... and ``up1``, ``up2``, ... by level."""

    def __init__(self, cin: int, cout: int, width: int, scales: int = 3, condition: int = 0) -> None:
        super().__init__()
        w = width
        relu = nn.ReLU(inplace=True)
        self.scales = scales
        self.inc = nn.Sequential(_conv(cin, w), relu, _conv(w, w), relu)
        self.down1 = nn.Sequential(_conv(w, 2 * w, 2), relu, _conv(2 * w, 2 * w), relu)
        self.down2 = nn.Sequential(_conv(2 * w, 4 * w, 2), relu, _conv(4 * w, 4 * w), relu, _conv(4 * w, 4 * w), relu)
        for level in range(3, scales):
            setattr(self, f"down{level}", nn.Sequential(_conv(4 * w, 4 * w, 2), relu, _conv(4 * w, 4 * w), relu))
            setattr(self, f"up{level}", nn.Sequential(_conv(4 * w, 16 * w), nn.PixelShuffle(2)))
        self.up2 = nn.Sequential(_conv(4 * w, 8 * w), nn.PixelShuffle(2))
        self.up1 = nn.Sequential(_conv(2 * w, 2 * w), relu, _conv(2 * w, 4 * w), nn.PixelShuffle(2))
        self.outc = nn.Sequential(_conv(w, w), relu, _conv(w, cout))
        nn.init.zeros_(self.outc[-1].weight)
        nn.init.zeros_(self.outc[-1].bias)
        if condition:
            # ``condition`` uniform inputs, added to the first convolution's output per channel; zero at first.
            self.condition = nn.Conv2d(condition, w, 1, bias=False)
            nn.init.zeros_(self.condition.weight)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``[N, cin, H, W]``; ``cond`` ``[N, condition, 1, 1]`` or None (all zero: no effect)."""
        first = self.inc[0](x)
        if cond is not None:
            first = first + self.condition(cond)
        levels = [self.inc[1:](first)]
        for level in range(1, self.scales):
            levels.append(getattr(self, f"down{level}")(levels[-1]))
        x = levels.pop()
        for level in range(self.scales - 1, 0, -1):
            x = levels.pop() + getattr(self, f"up{level}")(x)
        return self.outc(x)

    def silence_levels_from(self, scales: int) -> None:
        """Zero the last convolution of every upward path below the first ``scales`` levels, so the network
        computes what its first ``scales`` levels alone compute (the start of growing a trained U-Net)."""
        for level in range(scales, self.scales):
            up = getattr(self, f"up{level}")[0]
            nn.init.zeros_(up.weight)
            nn.init.zeros_(up.bias)


class TemporalDenoiser(nn.Module):
    """Multi-frame, noise-conditional denoiser (see the module docstring).

    Args:
        channels: Image channels (3 for RGB, 1 for gray).
        radius: Frames each side of the centre (>= 1); the network takes ``2 * radius + 1`` frames.
        features: Width of the U-Nets' full-resolution layers.
        noise_map: Take a noise-level map (``forward(frames, sigma)``); False: no map (``forward(frames)``).
        scales: Resolution levels of each U-Net (>= 3; see the module docstring).
        exposure_input: Take the exposure (``forward(frames, exposure=...)``, see :func:`exposure_code`), for a
            deblurrer without a noise map.

    Attributes:
        temporal: True: ``forward`` takes a window of frames.
        noise_conditional: ``noise_map``: whether ``forward`` needs ``sigma``.
        exposure_conditional: ``exposure_input``: whether ``forward`` takes ``exposure``.
        channels: as given.
        radius: as given.
        scales: as given.
        modulo: ``2 ** (scales - 1)``: tiles should start on multiples of it (the U-Nets' stride-2 levels).
        tile_context: the receptive-field radius in pixels (``2 * unet_reach(scales)``).
        bytes_per_pixel: Rough peak activation memory per input pixel in fp32 (for tiling budgets).
    """

    temporal = True

    def __init__(self, channels: int = 3, radius: int = 2, features: int = 24, noise_map: bool = True,
                 scales: int = 3, exposure_input: bool = False) -> None:
        super().__init__()
        if radius < 1 or channels < 1 or features < 1 or scales < 3:
            raise ValueError("TemporalDenoiser: need channels, radius and features >= 1 and scales >= 3")
        if noise_map and exposure_input:
            raise ValueError("TemporalDenoiser: an exposure input is for a deblurrer, without a noise map")
        self.channels = channels
        self.radius = radius
        self.features = features
        self.scales = scales
        self.modulo, self.tile_context = tile_layout(scales)
        self.noise_conditional = bool(noise_map)
        self.exposure_conditional = bool(exposure_input)
        extra = int(self.noise_conditional)
        condition = EXPOSURE_CHANNELS if exposure_input else 0
        inner = 2 * radius - 1
        self.stage1 = _UNet(3 * channels + extra, channels, features, scales, condition)
        self.stage2 = _UNet(inner * channels + extra, channels, features, scales, condition)
        frames = 2 * radius + 1
        # Live tensors at the peak: the window, the triplet batch, and a few full-width activations per triplet.
        self.bytes_per_pixel = 4 * (2 * frames * channels + inner * (3 * channels + extra + 3 * features))

    def grown(self, scales: int) -> TemporalDenoiser:
        """A new network with ``scales`` levels per U-Net (at least :attr:`scales`) holding this one's weights,
        its added levels silent (their upward convolutions zero), so it computes what this one computes until
        it is trained further."""
        if scales < self.scales:
            raise ValueError(f"TemporalDenoiser: cannot grow {self.scales} scales to {scales}")
        net = TemporalDenoiser(self.channels, self.radius, self.features, self.noise_conditional, scales,
                               self.exposure_conditional)
        net.load_state_dict(self.state_dict(), strict=False)  # the added levels' tensors keep their fresh values
        for stage in (net.stage1, net.stage2):
            stage.silence_levels_from(self.scales)
        return net.train(self.training)

    def with_exposure_input(self) -> TemporalDenoiser:
        """This deblurrer (no noise map) with an exposure input added, its weights zero: it computes what this
        one computes, whatever the exposure, until it is trained further."""
        if self.noise_conditional:
            raise ValueError("TemporalDenoiser: an exposure input is for a deblurrer, without a noise map")
        net = TemporalDenoiser(self.channels, self.radius, self.features, False, self.scales, exposure_input=True)
        net.load_state_dict(self.state_dict(), strict=False)  # the exposure weights keep their zero start
        return net.train(self.training)

    def forward(self, frames: torch.Tensor, sigma: torch.Tensor | float | None = None,
                exposure: torch.Tensor | float | None = None) -> torch.Tensor:
        """The restored centre frame ``[N, C, H, W]`` of ``frames`` (``[N, 2 * radius + 1, C, H, W]``, 0..1).

        Args:
            frames: The degraded window, oldest first.
            sigma: Noise level on the 0..1 scale (8-bit sigma / 255): a float, ``[N]``, ``[N, 1, 1, 1]`` or a
                per-pixel map ``[N, 1, H, W]`` (a batch of 1 is broadcast). Required with a noise map, and
                must be None without one.
            exposure: With an exposure input, the time the shutter was open as a fraction of the frame interval
                (shutter angle / 360): a float or ``[N]``; 0 or None where it is unknown (see
                :func:`exposure_code`). Must be None without an exposure input.
        """
        n, t, c, h, w = frames.shape
        if t != 2 * self.radius + 1 or c != self.channels:
            raise ValueError(f"TemporalDenoiser: need [N, {2 * self.radius + 1}, {self.channels}, H, W] frames, "
                             f"got {tuple(frames.shape)}")
        x, level = self.pad(frames, sigma, exposure)
        estimates = torch.stack([self.first_stage(x[:, i : i + 3], level) for i in range(t - 2)], 1)
        return self.second_stage(estimates, level)[..., :h, :w]

    def pad(self, frames: torch.Tensor, sigma: torch.Tensor | float | None = None,
            exposure: torch.Tensor | float | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``frames`` (``[N, T, C, H, W]``) padded by edge replication to multiples of :attr:`modulo`, and the
        level for them: the noise level (``[N, 1, 1, 1]`` or a padded ``[N, 1, H', W']`` map) with a noise map,
        the :func:`exposure_code` of ``exposure`` with an exposure input (None for an unknown one), else None.
        These are the inputs of :meth:`first_stage` and :meth:`second_stage`, whose result is cropped back to
        ``H x W``.

        Raises:
            ValueError: ``sigma`` given without a noise map or missing with one, ``exposure`` given without an
                exposure input, or a map of the wrong size.
        """
        if (sigma is None) == self.noise_conditional:
            raise ValueError("TemporalDenoiser: pass sigma if and only if the network has a noise map")
        if exposure is not None and not self.exposure_conditional:
            raise ValueError("TemporalDenoiser: this network takes no exposure")
        n, t, c, h, w = frames.shape
        pad = (0, -w % self.modulo, 0, -h % self.modulo)
        x = frames.reshape(n, t * c, h, w)
        if any(pad):
            x = F.pad(x, pad, mode="replicate")
        if self.noise_conditional:
            level = noise_level(sigma, frames, pad)
        else:
            level = None if exposure is None else exposure_code(exposure, frames)
        return x.reshape(n, t, c, *x.shape[-2:]), level

    def first_stage(self, triplet: torch.Tensor, level: torch.Tensor | None = None) -> torch.Tensor:
        """Stage 1: the estimate ``[N, C, H, W]`` of the middle frame of ``triplet`` (``[N, 3, C, H, W]``, padded
        by :meth:`pad`, with its ``level``). It depends on these three frames only, so a filter may keep it for
        the next output frames' windows."""
        n, _, c, h, w = triplet.shape
        x, cond = self._conditioned(triplet.reshape(n, 3 * c, h, w), level)
        return triplet[:, 1] + self.stage1(x, cond)

    def second_stage(self, estimates: torch.Tensor, level: torch.Tensor | None = None) -> torch.Tensor:
        """Stage 2: the centre frame ``[N, C, H, W]`` from the :meth:`first_stage` estimates of the window's inner
        frames (``[N, 2 * radius - 1, C, H, W]``, oldest first) and the ``level`` of :meth:`pad`."""
        n, inner, c, h, w = estimates.shape
        x, cond = self._conditioned(estimates.reshape(n, inner * c, h, w), level)
        return estimates[:, inner // 2] + self.stage2(x, cond)

    def _conditioned(self, x: torch.Tensor, level: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A stage's input: ``x`` with the noise map appended, or ``x`` and the exposure code beside it."""
        if self.noise_conditional:
            return torch.cat([x, level.expand(x.shape[0], 1, *x.shape[-2:])], 1), None
        return x, level


#: Inputs of the exposure code: whether the exposure is known, and the exposure.
EXPOSURE_CHANNELS = 2


def exposure_code(exposure: torch.Tensor | float, frames: torch.Tensor) -> torch.Tensor:
    """``exposure`` (a float or ``[N]``: shutter angle / 360, 0 where unknown) as the ``[N, 2, 1, 1]`` input of
    an exposure-conditioned network, in the dtype and on the device of ``frames``: a known exposure ``e`` is
    ``(1, e)``, an unknown one ``(0, 0)``, which adds nothing (the network then deblurs blind)."""
    e = torch.as_tensor(exposure, dtype=frames.dtype, device=frames.device).reshape(-1, 1, 1, 1)
    return torch.cat([(e > 0).to(e.dtype), e], 1)


def noise_level(sigma: torch.Tensor | float, frames: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """``sigma`` (a float, ``[N]``, ``[N, 1, 1, 1]`` or a map ``[N, 1, H, W]``) as a ``[N, 1, 1, 1]`` tensor or a
    ``[N, 1, H, W]`` map padded by ``pad`` (edge replication), in the dtype and on the device of ``frames``
    (whose last two dimensions are ``H, W``).

    Raises:
        ValueError: a map of another size than the frames.
    """
    h, w = frames.shape[-2:]
    level = torch.as_tensor(sigma, dtype=frames.dtype, device=frames.device)
    if level.ndim <= 1:
        level = level.reshape(-1, 1, 1, 1)
    if level.shape[-2:] not in ((1, 1), (h, w)):
        raise ValueError(f"noise map of size {tuple(level.shape[-2:])} for frames of {(h, w)}")
    if any(pad) and level.shape[-2:] != (1, 1):
        level = F.pad(level, pad, mode="replicate")
    return level


def temporal_denoiser_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> TemporalDenoiser:
    """Build the :class:`TemporalDenoiser` that fits a checkpoint (a ``vsvideogen train denoise`` export).

    Channels, radius and width follow from the first convolutions of the two stages.

    Raises:
        WeightsError: not a temporal-denoiser checkpoint (e.g. a spatial DnCNN/FFDNet/DRUNet one, which needs
            ``temporal=False``, or a deblurrer without a noise map), or a tensor is missing, unexpected or of
            the wrong shape.
    """
    return _from_state_dict(state_dict, func, noise_map=True)


def temporal_deblurrer_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> TemporalDenoiser:
    """Build the map-less :class:`TemporalDenoiser` of a ``vsvideogen train deblur`` export (with an exposure
    input where the checkpoint has one: ``stage1.condition.weight``).

    Raises:
        WeightsError: not such a checkpoint (e.g. a temporal denoiser, which has a noise map), or a tensor is
            missing, unexpected or of the wrong shape.
    """
    return _from_state_dict(state_dict, func, noise_map=False)


def _from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str, noise_map: bool) -> TemporalDenoiser:
    kind, command = ("temporal denoiser", "denoise") if noise_map else ("temporal deblurrer", "deblur")
    first, fuse = state_dict.get("stage1.inc.0.weight"), state_dict.get("stage2.inc.0.weight")
    if first is None or fuse is None or first.ndim != 4 or fuse.ndim != 4:
        hint = ("it looks like a spatial model: pass temporal=False, or use a `vsvideogen train denoise` export for "
                "temporal=True") if noise_map else "use a `vsvideogen train deblur` export (its model.safetensors)"
        raise WeightsError(
            func, f"the checkpoint is not a {kind} (no 'stage1.inc.0.weight'/'stage2.inc.0.weight'); {hint}"
        )
    features, cin = int(first.shape[0]), int(first.shape[1])
    has_map = cin % 3 == 1
    if cin % 3 != 2 and has_map != noise_map:
        other, use = ("temporal denoiser (it takes a noise map)", "vsvideogen.denoise") if has_map else (
            "temporal deblurrer (it takes no noise map)", "vsvideogen.deblur")
        raise WeightsError(func, f"the checkpoint is a {other}, not a {kind}; use it with {use}, or pass a "
                                 f"`vsvideogen train {command}` export")
    extra = int(noise_map)
    channels = (cin - extra) // 3
    inner = (int(fuse.shape[1]) - extra) // max(1, channels)
    if channels < 1 or cin != 3 * channels + extra or inner < 1 or inner % 2 == 0 or fuse.shape[1] != inner * channels + extra:
        plus = "+1" if noise_map else ""
        raise WeightsError(
            func, f"the {kind}'s stages take {cin} and {int(fuse.shape[1])} channels; they must take "
            f"3*C{plus} and (2*radius-1)*C{plus}: use an unmodified `vsvideogen train {command}` export"
        )
    scales = 3
    while f"stage1.down{scales}.0.weight" in state_dict:
        scales += 1
    exposure_input = not noise_map and "stage1.condition.weight" in state_dict
    net = TemporalDenoiser(channels, (inner + 1) // 2, features, noise_map=noise_map, scales=scales,
                           exposure_input=exposure_input)
    return load_into(net, {k: v.float() for k, v in state_dict.items()}, func).eval()
