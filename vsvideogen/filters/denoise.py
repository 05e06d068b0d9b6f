"""Denoising with spatial CNNs (FFDNet, DnCNN, DRUNet), a controllable noise level, and tiling.

Model space. Every model works on what :class:`vsvideogen.vs.frames.FrameConverter` gives: nominal RGB in
0..1 for YUV and RGB clips (YUV is converted on the device, by the frame's ``_Matrix``/``_Range``/
``_ChromaLocation``), luma in 0..1 for GRAY clips. A noise level ``sigma`` is a standard deviation on the
8-bit scale of that space (the network is fed ``sigma / 255``), which is the scale the official models were
trained on (FFDNet: 0..75; DnCNN colour blind: 0..50; DRUNet: 0..50). Limited-range integer YUV and GRAY
clips are denoised over the whole span their codes hold (:func:`nominal_span`: footroom and headroom
included, mapped onto 0..1 with sigma scaled to match), so noise around black is not clipped and highlights
past white are kept; the result is clamped to that span (RGB: 0..1).

``strength`` (noise-conditional models: FFDNet, DRUNet):

* a float ``s``: the whole frame at sigma ``s``;
* a sequence of one float per plane of the clip (Y, U, V for YUV; R, G, B for RGB; one for GRAY): plane
  ``p`` of the output is plane ``p`` of the network's result at sigma ``s[p]``, encoded back to the clip's
  format. The network runs once per distinct value (so ``(4, 8, 8)`` runs it twice). On RGB clips this is
  a per-channel strength; on YUV clips it lets luma and chroma be cleaned to different degrees;
* a GRAY clip of the same size and length: a spatially varying noise map, one sigma per pixel on the
  8-bit scale: an integer sample ``v`` of ``b`` bits is ``v * 255 / (2**b - 1)`` (GRAY8 codes are sigmas),
  a float sample is ``v * 255`` (a GRAYS map holds ``sigma / 255``, what the network sees). FFDNet uses the
  map's mean over each 2x2 cell;
* None: sigma is estimated on every frame in model space and written to the output frame's
  ``VSVideoGenNoiseSigma`` prop (a float, 8-bit scale). On RGB it is the per-channel sigma of independent
  noise as strong as the noise found (:func:`vsvideogen.vs.noise.equivalent_sigma`: luma noise of a YUV
  source, identical in R, G and B, counts sqrt(3) times); on luma, the luma noise's sigma.

Blind models (DnCNN) estimate the noise themselves: ``strength`` must be None, nothing is estimated and no
prop is written.

Channels. A noise-conditional colour model on a GRAY clip sees the luma replicated to RGB with the noise
level multiplied by sqrt(3) (noise identical in three channels is that much stronger along the grey axis
than the independent per-channel noise the models were trained on), and the output is the mean of its
three channels; ``strength`` stays the luma's sigma. Blind colour models cannot be told this and are
refused on GRAY clips. A grayscale model (``dncnn-25``) on a YUV or RGB clip denoises each RGB channel as
its own grayscale image.

Models (``model=``): ``"default"`` is the best available one: with ``temporal=True`` (the default) the bundled
``"denoise-temporal-default"`` (see below), with ``temporal=False`` ``"ffdnet-color"`` (the official KAIR
colour FFDNet, non-blind, user-imported). Registered ids: ``"denoise-temporal-default"``, ``"ffdnet-color"``,
``"drunet-color"`` (user-imported), ``"dncnn-25"`` (grayscale, trained at sigma 25), ``"dncnn-color-blind"``;
or the path of a KAIR-layout DnCNN/FFDNet/DRUNet checkpoint; or a ready ``torch.nn.Module`` (see
:func:`denoise`).

Temporal denoising (``temporal=True``, the default) with a temporal model: a multi-frame network sees frames
``n - radius .. n + radius`` and the noise level of frame ``n``, and returns frame ``n``. Two kinds load from
a ``vsvideogen train denoise`` export (by path) or a registered id: the motion-compensated denoiser
(:class:`vsvideogen.models.archs.mc_denoiser.MotionCompensatedDenoiser`, ``--arch motion``: FFDNet on every
frame, SPyNet flow on the denoised frames, the neighbours warped onto frame ``n``, a trained fusion U-Net; the
bundled default is one) and the FastDVDnet-style
:class:`vsvideogen.models.archs.temporal_denoiser.TemporalDenoiser` (``--arch unet``). ``radius`` must be the one the model was trained with.
At the clip's ends the first or last frame is repeated. Frames are never mixed across a scene cut: where
``scene_change`` sees one (by default the props ``_SceneChangeNext`` / ``_SceneChangePrev`` where set, e.g.
by ``misc.SCDetect``, else the built-in detector), the window's frames on the far side of the cut are
replaced by the nearest frame on the centre's side. ``strength`` has the same forms as above: a per-plane
strength runs the network once per distinct value; a map clip's frame ``n`` is the map for the whole
window; ``None`` estimates sigma on frame ``n``. Tiles get the model's ``tile_context`` (56 px for a
``TemporalDenoiser``, its receptive field), so tiled and untiled output of a ``TemporalDenoiser`` agree up to
float rounding; with a uniform level, its first-stage (triplet) estimates are kept per tile and level and
reused by the next output frames (:mod:`vsvideogen.filters._temporal`: the same values, half the work). The motion-compensated denoiser's FFDNet and SPyNet run on whole frames first
(:meth:`~vsvideogen.models.archs.mc_denoiser.MotionCompensatedDenoiser.prepare`, frame by frame, each network
on pieces of about a megapixel with its receptive field as context, so memory stays bounded: 3.8 GiB peak for
a 4K window on the CPU) and only its warping and fusion run tile by tile with 64 px of context, so its tiles
equal the untiled output up to float rounding too (wherever motion is under 36 px), whatever grid the memory
budget picks. With a uniform level (one sigma, or the estimate), each source frame's FFDNet output is kept per
level and reused by the next windows: one FFDNet run per frame instead of ``2 * radius + 1``, the same values.

``model="default"`` with ``temporal=True`` runs the temporal default of
:data:`vsvideogen.models.registry.TEMPORAL_DEFAULT_MODELS`. ``temporal=True`` with a
spatial model is an error that says to pass ``temporal=False``, and ``temporal=False`` with a temporal
model one that says to pass ``temporal=True``.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import vapoursynth as vs

from ..errors import VSVideoGenError, WeightsError
from ..models.registry import TEMPORAL_DEFAULT_MODELS, get_spec, list_specs, load_model
from ..models.weights import read_state_dict
from ..vs.formats import integer_peak, resolve_range
from ..vs.frames import FrameConverter
from ..vs.noise import equivalent_sigma
from ..vs.temporal import map_frames
from ..vs.tiling import run_tiled
from ._lru import LRU
from ._cuts import cut_rule
from ._temporal import REPLICATED_NOISE_GAIN, WindowEngine, check_arguments, net_layout, run_channels, tile_grid
from ._temporal import model_label, window_radius

__all__ = ["denoise", "SIGMA_PROP"]

FUNC = "denoise"
#: Frame prop holding the estimated sigma (8-bit scale) when ``strength=None``.
SIGMA_PROP = "VSVideoGenNoiseSigma"
# Assumed for a ready module without the attribute: tile context (px).
_DEFAULT_CONTEXT = 32
# Architectures of registered models that take a window of frames.
_TEMPORAL_ARCHS = ("temporal-denoiser",)


def denoise(
    clip: vs.VideoNode,
    strength: float | Sequence[float] | vs.VideoNode | None = None,
    *,
    model: str | Any = "default",
    temporal: bool = True,
    radius: int = 2,
    scene_change: str | float | None = "auto",
    tiles: int | tuple[int, int] | None = None,
    overlap: int = 16,
    device: str | torch.device | None = None,
    fp16: bool | None = None,
) -> vs.VideoNode:
    """Remove noise from a clip with a neural denoiser.

    Args:
        clip: Constant-format clip (GRAY/YUV/RGB, 8-16-bit integer or 16/32-bit float, YUV 4:4:4/4:2:2/4:2:0).
            The output has the same format, size, length and props.
        strength: Noise sigma on the 8-bit scale of the model's space: a float, one float per plane, a GRAY
            noise-map clip, or None to estimate it per frame (see the module docstring for the exact
            meaning of each form). Must be None for blind models (DnCNN).
        model: ``"default"`` (``"denoise-temporal-default"`` with ``temporal=True``, ``"ffdnet-color"`` with
            ``temporal=False``), a registered id (``"denoise-temporal-default"``, ``"ffdnet-color"``,
            ``"drunet-color"``, ``"dncnn-25"``, ``"dncnn-color-blind"``), the path of a weight file (with
            ``temporal=False`` a KAIR-layout DnCNN, FFDNet or DRUNet checkpoint; with ``temporal=True`` a
            temporal denoiser exported by ``vsvideogen train denoise``, its ``model.safetensors``), or a ready
            ``torch.nn.Module`` called as ``net(x, sigma)`` with ``x`` ``[N, C, H, W]`` in 0..1 on the device
            in the right dtype (a temporal module, with attribute ``temporal = True``: ``[N, 2 * radius + 1,
            C, H, W]``, oldest frame first, returning the centre frame ``[N, C, H, W]``) and ``sigma``
            ``[N, 1, 1, 1]`` or ``[N, 1, H, W]`` (sigma / 255). Optional attributes: ``channels`` (1 or 3,
            default 3), ``noise_conditional`` (default True), ``modulo`` (tile alignment, default 1),
            ``tile_context`` (context pixels around each tile, default 32), ``bytes_per_pixel`` (for
            automatic tiling), ``radius`` (a temporal module's radius, checked against ``radius``).
        temporal: Use a temporal (multi-frame) model: True needs one, False a spatial one (this also picks
            which default ``model="default"`` means).
        radius: Frames each side a temporal model sees (an int >= 1, the model's own; unused by spatial
            models).
        scene_change: Where a temporal model's window stops at a scene cut (frames beyond it are replaced by
            the last frame of the centre's shot): ``"auto"`` honours ``_SceneChangeNext`` / ``_SceneChangePrev``
            where either prop exists and runs the built-in detector (:mod:`vsvideogen.vs.scenes`: a pair scoring
            over the threshold, 0.15, or over a fifth of it and 3 times the pairs around it, as a jump cut does)
            where neither does; a float in (0, 1) runs the detector with that threshold on every pair,
            ignoring the props; None sees no cut.
        tiles: ``(nx, ny)`` tiles across and down, an int ``n`` for ``(n, n)``, or None to choose the fewest
            tiles whose activations fit in half the free GPU memory (2 GiB on the CPU).
        overlap: Pixels adjacent tiles share, blended linearly (an int >= 0; rounded up to the model's
            alignment). Each tile also gets the model's ``tile_context`` pixels of picture around it (its
            receptive-field radius for FFDNet and DnCNN, whose tiled output then equals the untiled one up to
            float rounding; 64 for DRUNet, whose tiled output is close to the untiled one).
        device: ``None`` (CUDA if present, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        fp16: Half precision; None means fp16 on CUDA and fp32 on the CPU.

    Returns:
        The denoised clip.

    Raises:
        VSVideoGenError: A bad clip or argument (the message says what to pass instead), or the model cannot
            be loaded (:class:`vsvideogen.errors.WeightsError`).

    The network is loaded once per call. Frames can be requested in any order from any number of threads;
    network calls are serialised by a lock, and the result does not depend on the order (bit-identical on
    the CPU).
    """
    dev, dtype = check_arguments(clip, temporal, radius, overlap, device, fp16, FUNC)
    cuts = cut_rule(FUNC, scene_change)
    net = _get_model(model, temporal, dev, dtype)
    window = window_radius(net, radius, FUNC)
    conditional = bool(getattr(net, "noise_conditional", True))
    level = _parse_strength(strength, clip, conditional)
    channels, modulo, context = net_layout(net, _DEFAULT_CONTEXT, FUNC)
    if channels == 3 and not conditional and clip.format.color_family == vs.GRAY:
        raise VSVideoGenError(FUNC, "a blind colour model cannot denoise a GRAY clip (it would read the luma's noise, "
                                    "identical in R, G and B, as weaker than it is); use 'dncnn-25' or 'ffdnet-color'")
    grid = tile_grid(tiles, clip, net, channels, modulo, overlap, context, dev, dtype, FUNC)
    engine = _Engine(
        net=net,
        converter=FrameConverter.for_clip(clip, dev, dtype, FUNC),
        channels=channels,
        conditional=conditional,
        level=level,
        tiles=grid,
        overlap=overlap,
        context=context,
        modulo=modulo,
        radius=window,
        cuts=cuts,
        length=clip.num_frames,
    )
    extra = [] if level.map_clip is None else [level.map_clip]
    if window:
        return map_frames(clip, engine, engine.offsets, template=clip, extra=extra)
    return clip.std.ModifyFrame([clip, *extra], engine)


# -- argument checks ---------------------------------------------------------------------------------------


def _get_model(model: Any, temporal: bool, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    if not isinstance(model, (str, os.PathLike, torch.nn.Module)):
        raise VSVideoGenError(FUNC, f"model={model!r} is not a model; use 'default', a registered id such as "
                                    "'ffdnet-color', a weight file path or a torch.nn.Module")
    if isinstance(model, str) and model == "default":
        return load_model(TEMPORAL_DEFAULT_MODELS.get("denoise") if temporal else None, "denoise", device, dtype, FUNC)
    what = model_label(model)
    registered = isinstance(model, str) and any(spec.id == model for spec in list_specs())
    if registered and get_spec(model, FUNC).task == "denoise":
        is_temporal = get_spec(model, FUNC).arch in _TEMPORAL_ARCHS
        _check_kind(what, is_temporal, temporal)  # before loading: no weights needed to be told
    if isinstance(model, torch.nn.Module):
        net = model.eval()
    elif temporal and not registered:
        net = load_model(model, "denoise", device, dtype, FUNC, arch="temporal-denoiser")
    else:
        try:
            net = load_model(model, "denoise", device, dtype, FUNC)
        except WeightsError:
            if not registered and "stage1.inc.0.weight" in read_state_dict(model, FUNC):
                _check_kind(what, True, temporal)
            raise
    _check_kind(what, bool(getattr(net, "temporal", False)), temporal)
    return net


def _check_kind(what: str, is_temporal: bool, temporal: bool) -> None:
    if temporal and not is_temporal:
        raise VSVideoGenError(FUNC, f"{what} is run frame by frame (spatial); pass temporal=False to use it, or a "
                                    "temporal model (a `vsvideogen train denoise` export) for temporal=True")
    if is_temporal and not temporal:
        raise VSVideoGenError(FUNC, f"{what} is a temporal model (it takes a window of frames); pass temporal=True "
                                    "to use it, or a spatial model such as 'ffdnet-color' for temporal=False")


class _Level:
    """How the noise level is given: estimated, one sigma per plane (model units, 0..1), or a map clip."""

    def __init__(self, *, estimate: bool = False, planes: list[float] | None = None,
                 map_clip: vs.VideoNode | None = None) -> None:
        self.estimate = estimate
        self.planes = planes
        self.map_clip = map_clip


def _parse_strength(strength: Any, clip: vs.VideoNode, conditional: bool) -> _Level:
    planes = clip.format.num_planes
    if not conditional:
        if strength is not None:
            raise VSVideoGenError(FUNC, f"strength={strength!r} was given but the model is blind (it takes no noise "
                                        "level); pass strength=None, or use a non-blind model such as 'ffdnet-color'")
        return _Level()
    if strength is None:
        return _Level(estimate=True)
    if isinstance(strength, vs.VideoNode):
        return _Level(map_clip=_check_map(strength, clip))
    if isinstance(strength, (str, bytes)) or not isinstance(strength, (int, float, Sequence)):
        raise VSVideoGenError(FUNC, f"strength must be a number, one number per plane, a GRAY clip or None, not "
                                    f"{type(strength).__name__}; e.g. strength=10")
    values = [strength] * planes if isinstance(strength, (int, float)) else list(strength)
    if len(values) != planes:
        raise VSVideoGenError(FUNC, f"strength has {len(values)} value(s) but the {clip.format.name} clip has "
                                    f"{planes} plane(s); pass one sigma per plane or a single number")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise VSVideoGenError(FUNC, f"strength value {value!r} is not a finite number >= 0; pass sigmas on the "
                                        "8-bit scale, e.g. 10")
    return _Level(planes=[float(v) / 255.0 for v in values])


def _check_map(noise: vs.VideoNode, clip: vs.VideoNode) -> vs.VideoNode:
    fmt = noise.format
    if fmt is None or fmt.color_family != vs.GRAY:
        name = "a variable format" if fmt is None else fmt.name
        raise VSVideoGenError(FUNC, f"a strength clip must be GRAY (one sigma per pixel), not {name}; convert it, "
                                    "e.g. sigma_clip.resize.Point(format=vs.GRAYS)")
    integer_ok = fmt.sample_type == vs.INTEGER and fmt.bits_per_sample <= 16
    if not integer_ok and not (fmt.sample_type == vs.FLOAT and fmt.bits_per_sample in (16, 32)):
        raise VSVideoGenError(FUNC, f"a strength clip of {fmt.name} is not supported; use GRAY8..GRAY16, GRAYH or GRAYS")
    if (noise.width, noise.height) != (clip.width, clip.height):
        raise VSVideoGenError(FUNC, f"the strength clip is {noise.width}x{noise.height} but the clip is "
                                    f"{clip.width}x{clip.height}; pass a noise map of the clip's size")
    if noise.num_frames != clip.num_frames:
        raise VSVideoGenError(FUNC, f"the strength clip has {noise.num_frames} frames but the clip has "
                                    f"{clip.num_frames}; pass one noise map per frame (e.g. sigma_clip * len(clip) "
                                    "for a single map)")
    return noise


# -- per-frame work ----------------------------------------------------------------------------------------


def nominal_span(frame: vs.VideoFrame) -> tuple[float, float]:
    """The nominal values (0..1 for black to white) the codes of ``frame``'s format can hold: 0..1, but for
    limited-range integer YUV and GRAY the footroom and headroom beyond (-16/219 to 239/219 at 8 bits), where
    cameras record noise around black and highlights past white. The networks denoise this span mapped onto
    0..1, so nothing in it is clipped, and their noise level is scaled with it."""
    fmt = frame.format
    if fmt.color_family == vs.RGB or resolve_range(frame.props.get("_Range"), fmt, FUNC):
        return 0.0, 1.0
    black, span = 16 << (fmt.bits_per_sample - 8), 219 << (fmt.bits_per_sample - 8)
    return -black / span, (integer_peak(fmt.bits_per_sample) - black) / span


class _Engine(WindowEngine):
    """Makes output frame ``n`` from source frames ``n - radius .. n + radius`` (and the noise map's frame ``n``).

    ``radius=0``: a spatial model, fed frame ``n`` as ``[1, C, H, W]``; otherwise a temporal model, fed the
    window as ``[1, 2 * radius + 1, C, H, W]`` after :func:`vsvideogen.filters._temporal.same_shot`.
    """

    def __init__(self, *, conditional: bool, level: _Level, **engine: Any) -> None:
        super().__init__(**engine)
        self.conditional = conditional
        self.level = level
        # Spatially denoised frames of a model with a ``prepare`` step: one window's and one more.
        self._denoised = LRU(2 * self.radius + 2)

    def __call__(self, n: int, f: vs.VideoFrame | list[vs.VideoFrame]) -> vs.VideoFrame:
        frames = f if isinstance(f, list) else [f]
        count = len(self.offsets)
        window, rest = frames[:count], frames[count:]
        with torch.inference_mode():
            source, image, stack, ids = self.load(n, window)
            low, high = nominal_span(source)
            stack = (stack - low) / (high - low)
            sigma_prop = None
            if not self.conditional:
                groups = [(None, range(source.format.num_planes))]
            elif self.level.map_clip is not None:
                groups = [(self._map_tensor(rest[0], image), range(source.format.num_planes))]
            elif self.level.estimate:
                sigma = float(equivalent_sigma(image)[0])
                sigma_prop = sigma * 255.0
                groups = [(self._scalar(sigma, image), range(source.format.num_planes))]
            else:
                values = self.level.planes
                groups = [(self._scalar(v, image), [p for p, w in enumerate(values) if w == v])
                          for v in dict.fromkeys(values)]
            out = None
            for sigma, planes in groups:
                result = self._denoise(stack, ids, None if sigma is None else sigma / (high - low))
                frame = self.converter.to_frame(result.clamp(0.0, 1.0) * (high - low) + low, source)
                if out is None:
                    out = frame
                else:
                    for p in planes:
                        np.copyto(np.asarray(out[p]), np.asarray(frame[p]))
            if sigma_prop is not None:
                out.props[SIGMA_PROP] = sigma_prop
        return out

    @staticmethod
    def _scalar(sigma: float, image: torch.Tensor) -> torch.Tensor:
        return torch.full((1, 1, 1, 1), sigma, dtype=image.dtype, device=image.device)

    @staticmethod
    def _map_tensor(frame: vs.VideoFrame, image: torch.Tensor) -> torch.Tensor:
        """The noise map frame as ``[1, 1, H, W]`` sigma / 255 on the image's device.

        Raises:
            VSVideoGenError: a float map holds a negative or non-finite sigma.
        """
        samples = np.asarray(frame[0]).astype(np.float32)
        if frame.format.sample_type == vs.FLOAT and not (np.isfinite(samples).all() and samples.min() >= 0):
            raise VSVideoGenError(FUNC, f"the strength clip holds sigmas that are negative or not finite (least "
                                        f"{np.nanmin(samples) * 255:g} on the 8-bit scale); a noise map holds sigmas "
                                        ">= 0, e.g. core.std.Expr(sigma_clip, 'x 0 max')")
        values = torch.from_numpy(samples)
        if frame.format.sample_type == vs.INTEGER:
            values /= (1 << frame.format.bits_per_sample) - 1
        return values.to(device=image.device, dtype=image.dtype)[None, None]

    def _denoise(self, image: torch.Tensor, ids: list[int], sigma: torch.Tensor | None) -> torch.Tensor:
        if sigma is not None and hasattr(self.net, "prepare"):
            return self._prepared(image, ids, sigma)
        if self.radius and self.is_two_stage(self.net) and (sigma is None or sigma.numel() == 1):
            return self.staged(image, ids, None if sigma is None else float(sigma))
        return self.tiled([image] if sigma is None else [image, sigma])

    def _prepared(self, window: torch.Tensor, ids: list[int], sigma: torch.Tensor) -> torch.Tensor:
        """A colour model with a ``prepare`` step (the motion-compensated denoiser): ``prepare`` runs on the whole
        window once (its flow then does not depend on the tile grid), and every tile's network call gets its
        piece. With a uniform level, each source frame's spatially denoised version is kept per level and reused
        by the next windows (the same values, computed once). A GRAY clip's luma is replicated to RGB with the
        noise level times sqrt(3), as in :meth:`_run`."""
        replicated = window.shape[-3] == 1
        if replicated:
            window, sigma = window.expand(*window.shape[:-3], 3, *window.shape[-2:]), sigma * REPLICATED_NOISE_GAIN

        def kept(j: int, frame: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
            return self._denoised.get_or_make((ids[j], float(sigma)), lambda: self.net.spatial_denoise(frame, level))

        with self._lock:
            prepared = self.net.prepare(window, sigma, kept if sigma.numel() == 1 else None)
            out = run_tiled(lambda x, s, p: self.net(x, s, prepared=p), [window, sigma, prepared], self.tiles,
                            self.overlap, context=self.context, modulo=self.modulo)
        return out.mean(1, keepdim=True) if replicated else out

    def _run(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        """The network on one tile (``[N, C, h, w]``, or ``[N, T, C, h, w]`` for a temporal model), adapting
        1 <-> 3 channels (see the module docstring): replicated gray noise is sqrt(3) times stronger."""
        def call(t: torch.Tensor, replicated: bool) -> torch.Tensor:
            return self.net(t, sigma * REPLICATED_NOISE_GAIN if replicated else sigma)

        return run_channels(call, x, self.channels)
