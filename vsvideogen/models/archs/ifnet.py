"""IFNet: coarse-to-fine intermediate-flow estimation for frame interpolation (RIFE family).

A stack of flow blocks, each working at a smaller resolution than the next, estimates two backward flows
(target -> frame 0, target -> frame 1) and a blending mask for the frame at ``timestep``. Every block after
the first sees both frames warped by the flow so far and predicts a correction. The interpolated frame is
``warp(img0, flow0) * m + warp(img1, flow1) * (1 - m)`` with ``m = sigmoid(mask)``.

The module is configurable (:class:`IFNetConfig`) and ships tables for the published RIFE layouts, so the
official checkpoints load through a key map (:func:`ifnet_from_state_dict`):

* ``"v4.0"``: four blocks of PReLU convolutions with a block-level residual, transposed-conv head then a
  bilinear upsample; the mask accumulates over blocks. Its inference path re-runs the first two blocks at
  twice the downscale when block 1 predicts a large motion (see :meth:`IFNet.forward`).
* ``"v4.6"``: LeakyReLU convolutions with learned per-channel residual scales (``beta``) and a
  transposed-conv + pixel-shuffle head; the mask accumulates.
* ``"v4.25"``: a small per-frame feature encoder whose features are warped along with the frames, five
  blocks, blocks pass 8 feature channels to the next one, and each block's mask replaces the previous one.
  RIFE v4.26 uses the same layout.
* ``"small"``: a narrow v4.6-style network for training our own default.

Nothing here imports VapourSynth.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ...ops.warp import backward_warp

__all__ = ["IFNetConfig", "IFNet", "LAYOUTS", "NEAR_FRAME_ANCHOR", "build_ifnet", "ifnet_from_state_dict"]


@dataclass(frozen=True)
class IFNetConfig:
    """Shape of an :class:`IFNet`.

    Attributes:
        name: Layout name (``"v4.0"``, ``"v4.6"``, ``"v4.25"``, ``"small"`` or your own).
        widths: Channels of each flow block, coarsest block first.
        scales: Downscale factor of each block at ``scale=1.0`` (powers of two, coarsest first).
        units: Residual units per block.
        unit: ``"prelu"``: conv + PReLU units with one residual around the whole stack (v4.0);
            ``"beta"``: conv scaled by a learned per-channel ``beta`` plus identity, then LeakyReLU(0.2).
        head_channels: Channels the block head produces at full resolution: 4 flow, 1 mask, then
            ``feat_channels`` features for the next block, then any unused channels.
        feat_channels: Head channels after flow and mask that feed the next block (v4.25: 8).
        pixel_shuffle: Head is transposed conv + pixel shuffle (true) or transposed conv alone (v4.0),
            which is followed by a bilinear upsample by two more.
        encoder_channels: Channels of the per-frame feature encoder output; 0 = no encoder.
        encoder_width: Hidden channels of the encoder.
        accumulate_mask: Mask logits add up over blocks (v4.0, v4.6) or each block's replaces the last.
        motion_retry: Replicate the RIFE v4.0 large-motion retry (double every block's downscale and
            restart when block 1 predicts more than 32 px of motion in both flows).
    """

    name: str
    widths: tuple[int, ...]
    scales: tuple[float, ...]
    units: int = 8
    unit: Literal["prelu", "beta"] = "beta"
    head_channels: int = 5
    feat_channels: int = 0
    pixel_shuffle: bool = True
    encoder_channels: int = 0
    encoder_width: int = 16
    accumulate_mask: bool = True
    motion_retry: bool = False

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.scales) or not self.widths:
            raise ValueError("IFNetConfig: widths and scales need one entry per block")
        if self.head_channels < 5 + self.feat_channels:
            raise ValueError("IFNetConfig: head_channels must hold 4 flow + 1 mask + feat_channels")
        if self.unit not in ("prelu", "beta"):
            raise ValueError(f"IFNetConfig: unit must be 'prelu' or 'beta', not {self.unit!r}")


LAYOUTS: dict[str, IFNetConfig] = {
    "v4.0": IFNetConfig(
        name="v4.0", widths=(192, 128, 96, 64), scales=(8, 4, 2, 1), unit="prelu", head_channels=5,
        pixel_shuffle=False, motion_retry=True,
    ),
    "v4.6": IFNetConfig(
        name="v4.6", widths=(192, 128, 96, 64), scales=(8, 4, 2, 1), unit="beta", head_channels=6,
    ),
    "v4.25": IFNetConfig(
        name="v4.25", widths=(192, 128, 96, 64, 32), scales=(16, 8, 4, 2, 1), unit="beta",
        head_channels=13, feat_channels=8, encoder_channels=4, accumulate_mask=False,
    ),
    "small": IFNetConfig(
        name="small", widths=(96, 64, 48, 32), scales=(8, 4, 2, 1), units=4, unit="beta", head_channels=5,
    ),
}
"""Known layouts by name; v4.26 checkpoints have the v4.25 layout."""

_MOTION_RETRY_PX = 32.0

#: Timesteps closer than this to a real frame take the flows of this timestep, scaled
#: (:meth:`IFNet.interpolate`). On 12 camera moves over two wallpapers (exact truth), the default network's PSNR
#: at t = 1/32, 1/16, 3/32 was 28.8 / 30.7 / 31.2 dB at the timestep itself (31.1 at 1/8) and 38.2 / 35.3 / 32.7
#: from 1/8; from 1/4 it was 38.7 / 36.0 / 33.6, and 32.0 at 1/8 itself, but that would change the 8-instant
#: blur the deblurrers were trained and benchmarked on (docs/experiments/2026-11-27-continuous-motion-blur.md).
#: 3/8 measured better still, on the photos and on real footage, and makes the 8-instant blur less blurred near a
#: frame; it waits for deblurrers trained on that blur (docs/experiments/2026-11-28-interpolation-anchor.md).
NEAR_FRAME_ANCHOR = 0.125


class _ConvAct(nn.Module):
    """Convolution followed by PReLU (one slope per channel) or LeakyReLU(0.2)."""

    def __init__(self, cin: int, cout: int, stride: int, prelu: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1)
        self.act = nn.PReLU(cout) if prelu else nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class _BetaUnit(nn.Module):
    """``leaky_relu(conv(x) * beta + x)`` with a learned per-channel ``beta``."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, c, 1, 1))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x) * self.beta + x)


class _FlowBlock(nn.Module):
    """One pyramid level: downscale, two stride-2 convs, residual units, upsampling head."""

    def __init__(self, cin: int, width: int, cfg: IFNetConfig) -> None:
        super().__init__()
        prelu = cfg.unit == "prelu"
        self.down = nn.Sequential(_ConvAct(cin, width // 2, 2, prelu), _ConvAct(width // 2, width, 2, prelu))
        if prelu:
            self.units = nn.Sequential(*(_ConvAct(width, width, 1, True) for _ in range(cfg.units)))
        else:
            self.units = nn.Sequential(*(_BetaUnit(width) for _ in range(cfg.units)))
        self.outer_residual = prelu
        self.pixel_shuffle = cfg.pixel_shuffle
        up_channels = cfg.head_channels * 4 if cfg.pixel_shuffle else cfg.head_channels
        self.up = nn.ConvTranspose2d(width, up_channels, 4, 2, 1)

    def forward(
        self, x: torch.Tensor, flow: torch.Tensor | None, scale: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (flow [N,4,H,W] in full-resolution pixels, head output [N,head_channels-4,H,W])."""
        x = _resize(x, 1.0 / scale)
        if flow is not None:
            x = torch.cat((x, _resize(flow, 1.0 / scale) / scale), 1)
        feat = self.down(x)
        if self.outer_residual:
            feat = self.units(feat) + feat
        else:
            feat = self.units(feat)
        out = self.up(feat)
        if self.pixel_shuffle:
            out = _resize(F.pixel_shuffle(out, 2), scale)
            return out[:, :4] * scale, out[:, 4:]
        out = _resize(out, scale * 2)
        return out[:, :4] * scale * 2, out[:, 4:]


class _Encoder(nn.Module):
    """Per-frame features at full resolution: stride-2 conv, two convs, transposed conv back up."""

    def __init__(self, width: int, cout: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.Conv2d(3, width, 3, 2, 1), nn.Conv2d(width, width, 3, 1, 1), nn.Conv2d(width, width, 3, 1, 1)]
        )
        self.up = nn.ConvTranspose2d(width, cout, 4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        return self.up(x)


def _resize(x: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False,
                         recompute_scale_factor=False)


class IFNet(nn.Module):
    """Intermediate-flow network; see the module docstring for the layouts.

    Args:
        config: The layout, e.g. ``LAYOUTS["v4.0"]``.
    """

    def __init__(self, config: IFNetConfig) -> None:
        super().__init__()
        self.config = config
        enc = config.encoder_channels
        first_in = 3 + 3 + 2 * enc + 1
        later_in = 3 + 3 + 2 * enc + 1 + 1 + config.feat_channels + 4
        self.blocks = nn.ModuleList(
            _FlowBlock(first_in if i == 0 else later_in, width, config) for i, width in enumerate(config.widths)
        )
        self.encoder = _Encoder(config.encoder_width, enc) if enc else None

    def required_modulo(self, scale: float = 1.0) -> int:
        """Multiple that frame width and height must have for ``forward(..., scale=scale)``.

        Every block downscales by its scale and then halves twice with stride-2 convs; the sizes only
        round-trip when each block's input divides evenly, i.e. the frame is a multiple of ``4 * s`` for
        every block downscale ``s`` (doubled for v4.0, whose large-motion retry doubles every downscale),
        and even when an encoder is present. v4.0: 64 at scale 1 (RIFE's own VapourSynth filter pads to
        ``max(128, 128 / scale)``), v4.6: 32, v4.25: 64; ``scale=0.5`` doubles these, ``2.0`` halves them.

        Args:
            scale: Flow-resolution factor, a power of two (0.25, 0.5, 1.0, 2.0, 4.0 ...).
        """
        factor = 2 if self.config.motion_retry else 1
        modulo = 2 if self.config.encoder_channels else 1
        for s in self._block_scales(scale):
            f = Fraction(s) * factor * 4
            modulo = math.lcm(modulo, f.numerator)
        return modulo

    def _block_scales(self, scale: float) -> list[float]:
        if scale <= 0 or not math.log2(scale).is_integer():
            raise ValueError(f"IFNet: scale must be a power of two such as 0.5, 1.0 or 2.0, not {scale!r}")
        return [s / scale for s in self.config.scales]

    def forward(
        self, img0: torch.Tensor, img1: torch.Tensor, timestep: float | torch.Tensor = 0.5, scale: float = 1.0
    ) -> torch.Tensor:
        """Interpolate the frame at ``timestep`` between ``img0`` (t=0) and ``img1`` (t=1).

        Args:
            img0: ``[N, 3, H, W]`` RGB in 0..1; H and W multiples of :meth:`required_modulo`.
            img1: Same shape as ``img0``.
            timestep: A float, or a tensor with one value per batch item (shape ``[N]``, ``[N, 1, 1, 1]``
                or a scalar).
            scale: Resolution of the flow estimation relative to the frame (0.5 for 4K), a power of two.

        Returns:
            ``[N, 3, H, W]`` interpolated frame (not clamped, like RIFE's fast path).

        With the v4.0 layout the reference inference path is replicated exactly, quirk included: when block 1
        predicts a correction above 32 px in both flows (a max over the whole batch), every block's
        downscale is doubled for the rest of the call and blocks 0 and 1 run again from scratch.
        """
        warped0, warped1, _, weight = self._estimate(img0, img1, timestep, scale)
        return warped0 * weight + warped1 * (1 - weight)

    def interpolate(
        self, img0: torch.Tensor, img1: torch.Tensor, timestep: float | torch.Tensor = 0.5, scale: float = 1.0,
        anchor: float = NEAR_FRAME_ANCHOR,
    ) -> torch.Tensor:
        """:meth:`forward`, but a timestep within ``anchor`` of a real frame takes the flows and blending
        weight the network gives at ``anchor`` (or ``1 - anchor``), scaled to it along straight motion: the
        flow to the near frame by ``t / anchor``, the flow to the far one by ``(1 - t) / (1 - anchor)``, and
        the far frame's weight by ``t / anchor``. So ``t = 0`` gives ``img0`` and ``t = 1`` gives ``img1``
        (up to rounding), and timesteps in ``anchor .. 1 - anchor`` are :meth:`forward`'s.

        The RIFE networks are weak close to a real frame: at ``t = 1/32`` their frame is further from the
        truth than at ``t = 1/8`` (see :data:`NEAR_FRAME_ANCHOR`).
        """
        t = self._timestep_plane(timestep, img0)[:, :, :1, :1].float()
        ref = t.clamp(anchor, 1 - anchor)
        if bool((ref == t).all()):
            return self.forward(img0, img1, timestep, scale)
        _, _, flow, weight = self._estimate(img0, img1, ref.to(img0.dtype).flatten(), scale)
        to0, to1 = t / ref, (1 - t) / (1 - ref)  # 1 where the timestep is its own reference
        weight = weight.float()
        weight = torch.where(t <= ref, 1 - (1 - weight) * to0, weight * to1).to(img0.dtype)
        flow0 = flow[:, :2] * to0.to(flow.dtype)
        flow1 = flow[:, 2:4] * to1.to(flow.dtype)
        return backward_warp(img0, flow0) * weight + backward_warp(img1, flow1) * (1 - weight)

    def _estimate(
        self, img0: torch.Tensor, img1: torch.Tensor, timestep: float | torch.Tensor, scale: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(``img0`` and ``img1`` warped to ``timestep``, the flows ``[N, 4, H, W]``, the blending weight of
        ``img0`` ``[N, 1, H, W]``)."""
        if img0.shape != img1.shape or img0.dim() != 4 or img0.shape[1] != 3:
            raise ValueError(f"IFNet: need two [N,3,H,W] frames, got {tuple(img0.shape)} and {tuple(img1.shape)}")
        n, _, h, w = img0.shape
        modulo = self.required_modulo(scale)
        if h % modulo or w % modulo:
            raise ValueError(f"IFNet: frame size {w}x{h} must be a multiple of {modulo} at scale {scale}; pad it")
        scales = self._block_scales(scale)
        t = self._timestep_plane(timestep, img0)
        if self.encoder is not None:
            feats0, feats1 = self.encoder(img0), self.encoder(img1)
        else:
            feats0 = feats1 = None

        flow, mask, extra = self._first(img0, img1, feats0, feats1, t, scales[0])
        warped0 = backward_warp(img0, flow[:, :2])
        warped1 = backward_warp(img1, flow[:, 2:4])
        for i in range(1, len(self.blocks)):
            delta, out = self._refine(i, warped0, warped1, feats0, feats1, t, flow, mask, extra, scales[i])
            if i == 1 and self.config.motion_retry and self._large_motion(delta):
                scales = [s * 2 for s in scales]
                flow, mask, extra = self._first(img0, img1, feats0, feats1, t, scales[0])
                warped0 = backward_warp(img0, flow[:, :2])
                warped1 = backward_warp(img1, flow[:, 2:4])
                delta, out = self._refine(i, warped0, warped1, feats0, feats1, t, flow, mask, extra, scales[i])
            flow = flow + delta
            mask = mask + out[:, :1] if self.config.accumulate_mask else out[:, :1]
            extra = self._extra(out)
            warped0 = backward_warp(img0, flow[:, :2])
            warped1 = backward_warp(img1, flow[:, 2:4])
        return warped0, warped1, flow, torch.sigmoid(mask)

    def _first(
        self, img0: torch.Tensor, img1: torch.Tensor, feats0: torch.Tensor | None, feats1: torch.Tensor | None,
        t: torch.Tensor, scale: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Block 0 from the raw frames: (flow, mask logits, features for the next block)."""
        parts = [img0, img1] + ([feats0, feats1] if feats0 is not None else []) + [t]
        flow, out = self.blocks[0](torch.cat(parts, 1), None, scale)
        return flow, out[:, :1], self._extra(out)

    def _refine(
        self, i: int, warped0: torch.Tensor, warped1: torch.Tensor, feats0: torch.Tensor | None,
        feats1: torch.Tensor | None, t: torch.Tensor, flow: torch.Tensor, mask: torch.Tensor,
        extra: torch.Tensor | None, scale: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Block ``i`` on the frames warped by ``flow``: (flow correction, head output after the flow)."""
        parts = [warped0, warped1]
        if feats0 is not None:
            parts += [backward_warp(feats0, flow[:, :2]), backward_warp(feats1, flow[:, 2:4])]
        parts += [t, mask]
        if extra is not None:
            parts.append(extra)
        return self.blocks[i](torch.cat(parts, 1), flow, scale)

    def _extra(self, out: torch.Tensor) -> torch.Tensor | None:
        c = self.config.feat_channels
        return out[:, 1:1 + c] if c else None

    @staticmethod
    def _large_motion(delta: torch.Tensor) -> bool:
        limit = _MOTION_RETRY_PX
        return bool(delta[:, :2].abs().max() > limit) and bool(delta[:, 2:4].abs().max() > limit)

    @staticmethod
    def _timestep_plane(timestep: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        n, _, h, w = like.shape
        if torch.is_tensor(timestep):
            t = timestep.to(device=like.device, dtype=like.dtype).reshape(-1, 1, 1, 1)
            if t.shape[0] not in (1, n):
                raise ValueError(f"IFNet: timestep has {t.shape[0]} values for a batch of {n}")
            return t.expand(n, 1, h, w)
        return like.new_full((n, 1, h, w), float(timestep))


def build_ifnet(layout: str | IFNetConfig = "v4.0") -> IFNet:
    """A freshly initialised :class:`IFNet` (for training, or to load weights into).

    Args:
        layout: A name from :data:`LAYOUTS` (``"v4.0"``, ``"v4.6"``, ``"v4.25"``, ``"small"``) or a config.
    """
    if isinstance(layout, IFNetConfig):
        return IFNet(layout)
    if layout not in LAYOUTS:
        raise ValueError(f"build_ifnet: unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    return IFNet(LAYOUTS[layout])


# Official RIFE key -> our key. Our own names pass through unchanged.
_KEY_MAP: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r)
    for p, r in [
        (r"^block(\d+)\.conv0\.(\d+)\.0\.(weight|bias)$", r"blocks.\1.down.\2.conv.\3"),
        (r"^block(\d+)\.conv0\.(\d+)\.1\.weight$", r"blocks.\1.down.\2.act.weight"),
        (r"^block(\d+)\.convblock\.(\d+)\.0\.(weight|bias)$", r"blocks.\1.units.\2.conv.\3"),
        (r"^block(\d+)\.convblock\.(\d+)\.1\.weight$", r"blocks.\1.units.\2.act.weight"),
        (r"^block(\d+)\.convblock\.(\d+)\.conv\.(weight|bias)$", r"blocks.\1.units.\2.conv.\3"),
        (r"^block(\d+)\.convblock\.(\d+)\.beta$", r"blocks.\1.units.\2.beta"),
        (r"^block(\d+)\.lastconv(?:\.0)?\.(weight|bias)$", r"blocks.\1.up.\2"),
        (r"^encode\.cnn([0-2])\.(weight|bias)$", r"encoder.convs.\1.\2"),
        (r"^encode\.cnn3\.(weight|bias)$", r"encoder.up.\1"),
    ]
]
# Training-only parts of official checkpoints (teacher block, refinement nets) that the fast path ignores.
_IGNORED = ("block_tea.", "teacher.", "contextnet.", "unet.", "caltime.")


def _map_key(key: str) -> str:
    for pattern, repl in _KEY_MAP:
        if pattern.match(key):
            return pattern.sub(repl, key)
    return key


def _detect(mapped: Mapping[str, torch.Tensor]) -> IFNetConfig | None:
    markers = {"blocks.0.units.0.act.weight": "prelu", "blocks.0.units.0.beta": "beta"}
    unit = next((kind for key, kind in markers.items() if key in mapped), None)
    nblocks = len({k.split(".")[1] for k in mapped if k.startswith("blocks.")})
    nunits = len({k.split(".")[3] for k in mapped if k.startswith("blocks.0.units.")})
    encoder = "encoder.up.weight" in mapped
    family = [
        cfg for cfg in LAYOUTS.values()
        if cfg.unit == unit and cfg.units == nunits and bool(cfg.encoder_channels) == encoder
    ]
    if not family:
        return None
    widths = tuple(
        mapped[f"blocks.{i}.down.1.conv.weight"].shape[0] if f"blocks.{i}.down.1.conv.weight" in mapped else -1
        for i in range(nblocks)
    )
    # An exact match, else the closest layout of the family so that loading names the offending tensor.
    return next((cfg for cfg in family if cfg.widths == widths),
                next((cfg for cfg in family if len(cfg.widths) == nblocks), family[0]))


def ifnet_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> IFNet:
    """Build the :class:`IFNet` that fits an official RIFE checkpoint (or one of ours) and load it strictly.

    ``module.`` prefixes (from DataParallel) are stripped, the layout is detected from the keys and the
    block widths, the teacher block and refinement nets (unused by the fast path) are dropped, and the
    official names are mapped to ours.

    Args:
        state_dict: The checkpoint's tensors, e.g. ``torch.load(path, map_location="cpu")``.
        func: Name of the user-facing function, for error messages.

    Returns:
        The network in eval mode, fp32, on the CPU.

    Raises:
        WeightsError: The layout is not recognised, a tensor has the wrong shape (naming the key and both
            shapes), or keys are missing or unexpected.
    """
    from ...errors import WeightsError

    mapped: dict[str, torch.Tensor] = {}
    source: dict[str, str] = {}
    for key, value in state_dict.items():
        bare = key[len("module."):] if key.startswith("module.") else key
        if bare.startswith(_IGNORED):
            continue
        if not torch.is_tensor(value):
            raise WeightsError(func, f"checkpoint entry '{key}' is not a tensor; pass a state dict of tensors")
        ours = _map_key(bare)
        mapped[ours] = value
        source[ours] = key
    config = _detect(mapped)
    if config is None:
        raise WeightsError(
            func, f"the checkpoint does not look like a known IFNet layout ({len(mapped)} usable tensors); "
            f"use a RIFE v4.0, v4.6, v4.25/v4.26 checkpoint or one saved from build_ifnet({'|'.join(LAYOUTS)})"
        )
    net = IFNet(config)
    expected = net.state_dict()
    for ours, value in mapped.items():
        if ours not in expected:
            raise WeightsError(
                func, f"unexpected tensor '{source[ours]}' for IFNet layout '{config.name}'; "
                "use an unmodified RIFE checkpoint of a supported version"
            )
        if tuple(value.shape) != tuple(expected[ours].shape):
            raise WeightsError(
                func, f"tensor '{source[ours]}' has shape {tuple(value.shape)} but IFNet layout "
                f"'{config.name}' expects {tuple(expected[ours].shape)}; use an unmodified checkpoint of that "
                "RIFE version"
            )
    missing = [k for k in expected if k not in mapped]
    if missing:
        raise WeightsError(
            func, f"checkpoint lacks {len(missing)} tensors of IFNet layout '{config.name}' (first: "
            f"'{missing[0]}'); use a complete checkpoint"
        )
    net.load_state_dict({k: v.float() for k, v in mapped.items()}, strict=True)
    return net.eval()
