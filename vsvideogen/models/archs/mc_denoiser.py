"""A motion-compensated temporal denoiser (DVDnet family): spatial denoising, flow, warping, then a learned fusion.

For a window of ``2 * radius + 1`` noisy frames and a noise level, the network clips the frames to 0..1 (it is
trained on clipped noise, as 8-bit video has) and then

1. **denoises every frame on its own** with FFDNet (:class:`vsvideogen.models.archs.ffdnet.FFDNet`, the
   official colour weights when built by ``vsvideogen train denoise --arch motion``);
2. **estimates the flow** from the centre frame to each neighbour on those spatially denoised frames with
   SPyNet (:class:`vsvideogen.models.archs.spynet.SpyNet`, BasicVSR's official flow weights), which works on
   clean-looking input far better than on noisy input;
3. **aligns** each neighbour, both its noisy and its spatially denoised version, to the centre frame by
   backward warping (:func:`vsvideogen.ops.warp.backward_warp`, our warp kernel on CUDA);
4. **fuses**: a small U-Net (the design of :mod:`vsvideogen.models.archs.temporal_denoiser`) sees the aligned
   noisy frames, the aligned denoised frames and the noise map, and predicts a correction added to the
   centre frame's spatial estimate. A fresh fusion network (last convolution zero) therefore returns plain
   FFDNet; training teaches it to average the noise away where the neighbours agree and to keep the spatial
   estimate where motion is occluded or the flow is wrong.

Steps 1 to 3 are the :meth:`MotionCompensatedDenoiser.front`, step 4 :meth:`MotionCompensatedDenoiser.fuse`;
``forward`` runs both. Training only updates the fusion (the front is frozen), so ``vsvideogen train denoise
--arch motion`` computes the front once per training window and reuses it.

Reference: Tassano, Delon and Veit, "DVDnet: A fast network for deep video denoising", ICIP 2019 (spatial
denoising, then flow on the denoised frames, then a temporal CNN).

Steps 1 and 2 are also :meth:`MotionCompensatedDenoiser.prepare`. Tiling: SPyNet's six-level pyramid reaches
far beyond any practical tile context, and its flow depends on the extent of the picture it sees. So the
filter runs :meth:`~MotionCompensatedDenoiser.prepare` on whole frames (frame by frame, pair by pair) and
tiles only the warping and the fusion, handing each tile its piece of the prepared frames and flows (the
``prepared`` argument of ``forward``). With :attr:`MotionCompensatedDenoiser.tile_context` = 64 px of context
(the fusion's 28 px of reach plus up to 36 px of motion) tiles then equal the untiled output up to float
rounding.

Nothing here imports VapourSynth.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import WeightsError
from ...ops.warp import backward_warp
from ...vs.tiling import auto_tiles, run_tiled
from ..weights import load_into
from .ffdnet import FFDNet
from .spynet import SpyNet
from .temporal_denoiser import _UNet, noise_level, temporal_denoiser_from_state_dict

__all__ = ["MotionCompensatedDenoiser", "mc_denoiser_from_state_dict", "is_mc_denoiser_state_dict",
           "any_temporal_denoiser_from_state_dict"]

_FUSION_KEY = "fusion.inc.0.weight"


class MotionCompensatedDenoiser(nn.Module):
    """FFDNet per frame, SPyNet flow, warping, and a fusion U-Net (see the module docstring).

    Args:
        radius: Frames each side of the centre (>= 1).
        features: Width of the fusion U-Net's full-resolution layers.

    Attributes:
        temporal: True: ``forward`` takes a window of frames.
        noise_conditional: True: ``forward`` needs ``sigma``.
        channels: 3 (RGB).
        radius: as given.
        features: as given.
        modulo: 4 (the fusion U-Net's two stride-2 levels).
        tile_context: 64: context pixels per tile for the warping and fusion (with :meth:`prepare` run on whole
            frames, tiles equal the untiled result up to float rounding wherever motion is under 36 px).
        bytes_per_pixel: Rough peak activation memory per input pixel in fp32 (for tiling budgets).
    """

    temporal = True
    noise_conditional = True
    channels = 3
    modulo = 4
    tile_context = 64
    #: The most pixels (about) FFDNet and a SPyNet level see at once in :meth:`prepare` (memory bound).
    prepare_pixels = 1 << 20

    def __init__(self, radius: int = 2, features: int = 32) -> None:
        super().__init__()
        if radius < 1 or features < 1:
            raise ValueError("MotionCompensatedDenoiser: need radius and features >= 1")
        self.radius = radius
        self.features = features
        frames = 2 * radius + 1
        self.spatial = FFDNet(3)
        self.flow = SpyNet()
        self.fusion = _UNet(self.front_channels + 1, 3, features)
        # FFDNet's half-resolution activations per frame, SPyNet's widest level per pair, the fusion U-Net.
        self.bytes_per_pixel = 4 * (frames * 90 + (frames - 1) * 160 + 2 * self.front_channels + 3 * features)

    @property
    def front_channels(self) -> int:
        """Channels of :meth:`front`'s output: the aligned noisy frames, then the aligned denoised frames."""
        return 2 * 3 * (2 * self.radius + 1)

    def forward(self, frames: torch.Tensor, sigma: torch.Tensor | float, prepared: torch.Tensor | None = None) -> torch.Tensor:
        """The denoised centre frame ``[N, 3, H, W]`` of ``frames`` (``[N, 2 * radius + 1, 3, H, W]``, 0..1).

        Args:
            frames: The noisy window, oldest first.
            sigma: Noise level on the 0..1 scale (8-bit sigma / 255): a float, ``[N]``, ``[N, 1, 1, 1]`` or a
                per-pixel map ``[N, 1, H, W]`` (of the centre frame, used for the whole window).
            prepared: :meth:`prepare`'s output for these frames (e.g. the piece of a whole-frame result that
                covers a tile), or None to compute it here.
        """
        return self.fuse(self.front(frames, sigma, prepared), sigma)

    def prepare(self, frames: torch.Tensor, sigma: torch.Tensor | float,
                spatial: Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """Steps 1-2: ``[N, prepared_channels, H, W]``, the spatially denoised frames (oldest first, 3 channels
        each), then the flows from the centre frame to each neighbour (x, y in pixels).

        It runs frame by frame and pair by pair, and FFDNet and each of SPyNet's level CNNs on tiles of at most
        about :attr:`prepare_pixels` pixels with their receptive fields as context (bounded memory, the same
        result up to float rounding). The filter calls it on whole frames and hands
        every tile its piece, so the flow does not depend on the tile grid (SPyNet's estimate does depend on the
        extent of the picture it sees).

        ``spatial(j, frame, level)``: gives frame ``j``'s spatially denoised version instead of
        :meth:`spatial_denoise` (e.g. one kept from an earlier window); it must return what that would.
        """
        n, t, c, h, w = self._check(frames)
        frames = frames.clamp(0.0, 1.0)  # trained on clipped noise: float input beyond 0..1 would be out of range
        level = noise_level(sigma, frames, (0, 0, 0, 0))
        level = level.expand(n, *level.shape[1:])
        out = frames.new_empty(n, self.prepared_channels, h, w)  # filled in place: no concatenated copy
        clean = out[:, : t * c].view(n, t, c, h, w)
        for j in range(t):
            clean[:, j] = self.spatial_denoise(frames[:, j], level) if spatial is None else spatial(j, frames[:, j], level)
        others = [j for j in range(t) if j != self.radius]
        for k, j in enumerate(others):
            out[:, t * c + 2 * k : t * c + 2 * k + 2] = self.flow(clean[:, self.radius], clean[:, j], self.prepare_pixels)
        return out

    def spatial_denoise(self, frame: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """Step 1 for one frame (``[N, 3, H, W]``, 0..1, with its noise ``level`` as :meth:`prepare` makes it):
        FFDNet on tiles of at most about :attr:`prepare_pixels` pixels with its receptive field as context
        (equal to the whole frame's result up to float rounding), clamped to 0..1."""
        h, w = frame.shape[-2:]
        context, modulo = self.spatial.tile_context, self.spatial.modulo
        tiles = auto_tiles(h, w, self.prepare_pixels, modulo, modulo, context)
        return run_tiled(self.spatial, [frame, level], tiles, modulo, context=context, modulo=modulo).clamp(0.0, 1.0)

    @property
    def prepared_channels(self) -> int:
        """Channels of :meth:`prepare`'s output: 3 per frame, then 2 per neighbour."""
        frames = 2 * self.radius + 1
        return 3 * frames + 2 * (frames - 1)

    def front(self, frames: torch.Tensor, sigma: torch.Tensor | float, prepared: torch.Tensor | None = None) -> torch.Tensor:
        """Steps 1-3: ``[N, front_channels, H, W]``, the window's noisy frames aligned to the centre (oldest
        first, 3 channels each), then its spatially denoised frames aligned the same way. ``prepared``: as in
        :meth:`forward`."""
        n, t, c, h, w = self._check(frames)
        frames = frames.clamp(0.0, 1.0)
        if prepared is None:
            prepared = self.prepare(frames, sigma)
        clean = prepared[:, : t * c].reshape(n, t, c, h, w)
        centre = self.radius
        others = [j for j in range(t) if j != centre]
        flow = prepared[:, t * c :].reshape(n, len(others), 2, h, w).reshape(-1, 2, h, w)
        warped = backward_warp(torch.cat([frames[:, others], clean[:, others]], 2).reshape(-1, 2 * c, h, w), flow)
        warped = warped.reshape(n, len(others), 2, c, h, w)
        noisy = list(warped[:, :, 0].unbind(1))
        denoised = list(warped[:, :, 1].unbind(1))
        noisy.insert(centre, frames[:, centre])
        denoised.insert(centre, clean[:, centre])
        return torch.cat(noisy + denoised, 1)

    def _check(self, frames: torch.Tensor) -> tuple[int, ...]:
        if frames.ndim != 5 or frames.shape[1] != 2 * self.radius + 1 or frames.shape[2] != 3:
            raise ValueError(f"MotionCompensatedDenoiser: need [N, {2 * self.radius + 1}, 3, H, W] frames, "
                             f"got {tuple(frames.shape)}")
        return tuple(frames.shape)

    def spatial_estimate(self, front: torch.Tensor) -> torch.Tensor:
        """The centre frame's spatially denoised version (FFDNet's output) inside :meth:`front`'s output."""
        start = 3 * (2 * self.radius + 1) + 3 * self.radius
        return front[:, start : start + 3]

    def fuse(self, front: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """Step 4: the centre frame from :meth:`front`'s output and the noise level."""
        n, _, h, w = front.shape
        pad = (0, -w % self.modulo, 0, -h % self.modulo)
        x = F.pad(front, pad, mode="replicate") if any(pad) else front
        level = noise_level(sigma, front, pad).expand(n, 1, *x.shape[-2:])
        out = self.spatial_estimate(x) + self.fusion(torch.cat([x, level.to(x.dtype)], 1))
        return out[..., :h, :w]


def is_mc_denoiser_state_dict(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether ``state_dict`` is a :class:`MotionCompensatedDenoiser`'s (it has a fusion U-Net)."""
    return _FUSION_KEY in state_dict


def mc_denoiser_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> MotionCompensatedDenoiser:
    """Build the :class:`MotionCompensatedDenoiser` of a ``vsvideogen train denoise --arch motion`` export.

    The radius and the fusion width follow from the fusion U-Net's first convolution.

    Raises:
        WeightsError: not such a checkpoint, or a tensor is missing, unexpected or of the wrong shape.
    """
    first = state_dict.get(_FUSION_KEY)
    if first is None or first.ndim != 4:
        raise WeightsError(func, f"the checkpoint is not a motion-compensated denoiser (no {_FUSION_KEY!r}); "
                                 "use a `vsvideogen train denoise --arch motion` export")
    features, cin = int(first.shape[0]), int(first.shape[1])
    if (cin - 1) % 6 or (cin - 1) // 6 < 3 or ((cin - 1) // 6) % 2 == 0:
        raise WeightsError(func, f"the fusion U-Net takes {cin} channels; it must take 6*(2*radius+1)+1: use an "
                                 "unmodified `vsvideogen train denoise --arch motion` export")
    net = MotionCompensatedDenoiser(((cin - 1) // 6 - 1) // 2, features)
    return load_into(net, {k: v.float() for k, v in state_dict.items()}, func).eval()


def any_temporal_denoiser_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> nn.Module:
    """The temporal denoiser of a ``vsvideogen train denoise`` export of either architecture: a
    :class:`MotionCompensatedDenoiser` (``--arch motion``) or a
    :class:`vsvideogen.models.archs.temporal_denoiser.TemporalDenoiser` (``--arch unet``).

    Raises:
        WeightsError: neither (see the two builders).
    """
    if is_mc_denoiser_state_dict(state_dict):
        return mc_denoiser_from_state_dict(state_dict, func)
    return temporal_denoiser_from_state_dict(state_dict, func)
