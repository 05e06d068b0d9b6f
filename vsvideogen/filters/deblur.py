"""Deblurring with a multi-frame CNN (motion blur) and deconvolution (a told defocus), in any format, with tiling.

Model space: what :class:`vsvideogen.vs.frames.FrameConverter` gives, nominal RGB in 0..1 for YUV and RGB
clips (YUV is converted on the device, by the frame's ``_Matrix``/``_Range``/``_ChromaLocation``), luma for
GRAY clips (a colour model sees it replicated to RGB and the output is the mean of its three channels).

The model (``temporal=True``, the default) is a temporal deblurrer: the FastDVDnet-style two-stage U-Net of
:class:`vsvideogen.models.archs.temporal_denoiser.TemporalDenoiser` without a noise map, as exported by
``vsvideogen train deblur`` (trained on motion blur synthesised from real footage by averaging frames
interpolated between consecutive ones, on photos under a synthetic camera move, and on defocus discs). It
sees frames ``n - radius .. n + radius`` and returns frame ``n``; ``radius`` must be the one it was trained
with. At the clip's ends the first or last frame is repeated, and frames are never mixed across a scene cut
(where ``scene_change`` sees one: the props ``_SceneChangeNext`` / ``_SceneChangePrev`` where set, else the
built-in detector; the window's frames beyond a cut are replaced by the nearest frame on the centre's side). Tiles get the model's
receptive field as context (56 px), so tiled and untiled output agree up to float rounding. The network's
first stage estimates each inner frame of a window from three frames; those estimates are kept per tile and
reused by the next output frames (see :mod:`vsvideogen.filters._temporal`), which halves the work per frame
and changes no value.

Exposure: a model with an exposure input (``vsvideogen train deblur --exposure-input``) can be told the shutter
angle the clip was shot with (``shutter=180``); it then removes as much blur as that exposure makes, where a
blind deblurrer corrects about as much as the exposures it was trained on blur on average. Without ``shutter``
the same model deblurs blind. Told the shutter, ``deblur`` also refines the network's frame (``refine`` steps,
default 10; :mod:`vsvideogen.filters._exposure_refine`), whichever temporal model made it (a blind model is
then run blind, and the shutter serves the refinement only): the exposure and the motion (SPyNet flow to the
neighbouring frames) give the blur itself, each pixel moving along the flow to the next frame after the frame's
time and along the reversed flow to the previous one before it, and Landweber steps pull the frame towards one
whose blur is the recorded frame, wherever the motion blurs and the two flows agree on such a path. The networks leave much of a long streak (their
reach is 28 px a U-Net); the refinement has no reach limit. ``solver="deconvolve"`` solves the same blur much
further instead (half-quadratic splitting with the bundled FFDNet as the prior, where the blur is at least 2 px
long): on exact blur of camera moves it gains more than the Landweber steps, on the benchmark clips' blur
interpolated from real footage more on long blurs and less on short ones
(docs/experiments/2026-11-28-denoiser-prior-refinement.md); it fits the recorded frame no closer than its own
noise, measured on every frame (docs/experiments/2026-11-28-noise-aware-motion-refinement.md).

Defocus: trained with a little defocus among the motion blur, the networks undo little of it. Told the radius
of the disc an out-of-focus lens spreads each point into (``defocus=1.5``), ``deblur`` deconvolves the recorded
frame from that disc, starting from the network's frame, with the bundled FFDNet as the prior and the noise
measured on every frame (:mod:`vsvideogen.filters._defocus`). One radius serves the whole frame: it
suits footage that is out of focus as a whole, not a shallow depth of field. ``defocus="auto"`` estimates the
radius on every frame from the disc's rings in its spectrum (:mod:`vsvideogen.ops.defocus_radius`).

``model="default"`` is the registered default deblur model
(:data:`vsvideogen.models.registry.DEFAULT_MODELS` ``["deblur"]``, the bundled ``"deblur-default"``, trained on
90-360 degree shutters; model card ``vsvideogen/weights/deblur_default.md``). With ``shutter`` given it is
:data:`vsvideogen.models.registry.SHUTTER_BLEND`: the bundled ``"deblur-shutter"`` (the same network with an
exposure input, fine-tuned told the shutter; ``vsvideogen/weights/deblur_shutter.md``) interpolated parameter
by parameter towards ``"deblur-long-exposure"`` (:mod:`vsvideogen.models.blend`): not at all up to 180
degrees, a quarter of the way at 270, all the way at 360 and beyond. ``"deblur-long-exposure"``, trained on
180-720 degrees, gains more on long exposures and over-sharpens shorter ones
(``vsvideogen/weights/deblur_long_exposure.md``).
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import torch
import vapoursynth as vs

from ..errors import VSVideoGenError
from ..models.registry import (DEFAULT_MODELS, SHUTTER_BLEND, load_flow_net, load_model, load_prior_denoiser,
                               load_shutter_blend)
from ..ops.exposure import exposure_operators
from ..vs.frames import FrameConverter
from ..vs.temporal import map_frames
from ..vs.tiling import run_tiled
from ._defocus import AUTO_DEFOCUS, DEFOCUS_PROP, estimated_radius, undo_defocus
from ._exposure_refine import REFINEMENTS, ExposureRefinement, centre_motion, refine_along
from ._cuts import cut_rule
from ._temporal import WindowEngine, check_arguments, model_label, net_layout, run_channels, tile_grid, window_radius

__all__ = ["deblur", "DEFOCUS_PROP"]

FUNC = "deblur"
# Assumed for a ready module without the attribute: tile context (px).
_DEFAULT_CONTEXT = 56
#: The longest shutter ``deblur`` takes (degrees): frames blended over two frame intervals.
MAX_SHUTTER = 720.0
#: The largest defocus disc radius ``deblur`` takes (pixels).
MAX_DEFOCUS = 16.0


def deblur(
    clip: vs.VideoNode,
    *,
    shutter: float | None = None,
    defocus: float | str | None = None,
    refine: int | None = None,
    solver: str = "landweber",
    model: str | Any = "default",
    temporal: bool = True,
    radius: int = 2,
    scene_change: str | float | None = "auto",
    tiles: int | tuple[int, int] | None = None,
    overlap: int = 16,
    device: str | torch.device | None = None,
    fp16: bool | None = None,
) -> vs.VideoNode:
    """Remove motion blur from a clip with a neural deblurrer, and defocus of a told radius by deconvolution.

    Args:
        clip: Constant-format clip (GRAY/YUV/RGB, 8-16-bit integer or 16/32-bit float, YUV 4:4:4/4:2:2/4:2:0).
            The output has the same format, size, length and props.
        shutter: The shutter angle the clip was shot with, in degrees (180: open half of each frame interval,
            the film standard; 360: all of it; more for frames blended from a slower shutter). A model with an
            exposure input (trained with ``vsvideogen train deblur --exposure-input``) is told it and removes as
            much blur as that exposure makes; any other model deblurs blind, and the shutter is used by the
            refinement only (so it needs ``refine`` to run). None: unknown, the model deblurs blind and nothing
            is refined. Models are trained on a range of shutters (the bundled ones on 90-360 degrees, see their
            model cards) and are only measured inside it.
        defocus: The radius in pixels (of the clip's frame, luma plane) of the disc an out-of-focus lens spread
            each point into, when it is known or judged by eye (e.g. 1.5; above 0, at most 16). The recorded
            frame is then deconvolved from that disc, starting from the network's frame: 8 iterations of
            half-quadratic splitting with the bundled FFDNet as the prior, fitting the frame no closer than its
            own noise, measured on every frame (:mod:`vsvideogen.filters._defocus`). The networks themselves
            undo little defocus (``benchmarks.deblur_defocus``). Err on the small side: a radius told too small
            gains less, one told too large rings. With ``shutter``, after the motion refinement, the fit is to
            the motion blur followed by the disc. ``"auto"``: the radius is estimated on every frame from the
            rings the disc leaves in its spectrum (:mod:`vsvideogen.ops.defocus_radius`; without ``shutter``),
            pooled over the frames of the window that are in the frame's shot (so neighbours read alike),
            and written to the frame prop ``VSVideoGenDefocusRadius`` (0 where a radius under 1.25 px is read,
            which is left alone: sharp frames read up to 1 px). It errs small on smooth or noisy frames, reads
            a shot that is out of focus on purpose as defocus, and reads frames upscaled 2-3x as discs of up to
            2.5 px (not for upscaled footage: deconvolving them cost 1.42 dB on average at 2x); read the prop,
            and tell the radius where it matters. None: no deconvolution.
        refine: With ``shutter``: steps of ``solver`` that pull the network's frame back to consistency with
            the blurred one under the blur the shutter and the clip's motion (SPyNet flow to the neighbouring
            frames) make, kept where the motion blurs and the two flows agree on its path (see
            :mod:`vsvideogen.filters._exposure_refine`). None: the solver's default with a ``shutter`` (10
            Landweber steps, 6 deconvolution iterations; 0 without one); 0: the network alone; more steps
            sharpen long streaks further and cost more. Needs ``temporal=True``.
        solver: How the refinement solves for the sharp frame. ``"landweber"`` (the default): ``refine``
            Landweber steps (None: 10), which stop early and so change the network's frame least where the blur
            the motion predicts is off. ``"deconvolve"``: ``refine`` iterations (None: 6) of half-quadratic
            splitting, conjugate-gradient steps on the blur alternating with the bundled FFDNet as the image
            prior, kept where the blur is at least 2 px long (fully from 4 px); about 2.5x the Landweber
            steps' time. It recovers much more of a camera's blur (exact blur of camera moves over photos,
            ``benchmarks.deblur_photos``: +3.7 to +4.3 dB over the blurred input against +1.4 to +1.9 for
            ``"landweber"``, at all but slow 90-degree moves). On the benchmark clips' blur, averaged from
            interpolated frames, it gains more on blurs of many pixels and less on short ones, which it leaves
            to the network (docs/experiments/2026-11-28-denoiser-prior-refinement.md). It fits the recorded
            frame no closer than the noise measured on it, so it keeps its gain on noisy footage (noise of
            sigma 5 on the 8-bit scale: +2.7 to +3.1 dB at all but slow 90-degree moves), where the Landweber
            steps amplify the noise (-1.8 to +1.3 dB). Either gains more on such footage denoised first
            (docs/experiments/2026-11-28-noise-aware-motion-refinement.md). Needs ``shutter``.
        model: ``"default"`` (the bundled blind ``"deblur-default"``, or with ``shutter`` the bundled
            ``"deblur-shutter"``, which has an exposure input, interpolated towards ``"deblur-long-exposure"``
            above 180 degrees), a registered deblur id,
            the path of a ``vsvideogen train deblur`` export (its ``model.safetensors``), or a ready
            ``torch.nn.Module`` called as ``net(x)`` with ``x`` ``[N, 2 * radius + 1, C, H, W]`` in 0..1
            (oldest frame first) on the device in the right dtype, returning the centre frame ``[N, C, H, W]``
            (with ``temporal = True`` as an attribute; a module without it, or with ``temporal = False``, is
            a spatial one called with ``[N, C, H, W]``, for ``temporal=False``). Optional attributes:
            ``channels`` (1 or 3, default 3), ``radius`` (checked against ``radius``), ``modulo`` (tile
            alignment, default 1), ``tile_context`` (context pixels around each tile, default 56),
            ``bytes_per_pixel`` (for automatic tiling), ``exposure_conditional`` (True: it is also called as
            ``net(x, exposure=shutter / 360)`` when ``shutter`` is given).
        temporal: Use a temporal (multi-frame) model: True needs one, False a spatial one.
        radius: Frames each side a temporal model sees (an int >= 1, the model's own).
        scene_change: Where a temporal model's window stops at a scene cut (frames beyond it are replaced by
            the last frame of the centre's shot): ``"auto"`` honours ``_SceneChangeNext`` / ``_SceneChangePrev``
            where either prop exists and runs the built-in detector (:mod:`vsvideogen.vs.scenes`: a pair scoring
            over the threshold, 0.15, or over a fifth of it and 3 times the pairs around it, as a jump cut does)
            where neither does; a float in (0, 1) runs the detector with that threshold on every pair,
            ignoring the props; None sees no cut.
        tiles: ``(nx, ny)`` tiles across and down, an int ``n`` for ``(n, n)``, or None to choose the fewest
            tiles whose activations fit in half the free GPU memory (2 GiB on the CPU).
        overlap: Pixels adjacent tiles share, blended linearly (an int >= 0; rounded up to the model's
            alignment). Each tile also gets the model's ``tile_context`` pixels of picture around it.
        device: ``None`` (CUDA if present, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        fp16: Half precision; None means fp16 on CUDA and fp32 on the CPU.

    Returns:
        The deblurred clip.

    Raises:
        VSVideoGenError: A bad clip or argument (the message says what to pass instead),
            or the model cannot be loaded (:class:`vsvideogen.errors.WeightsError`, e.g. a model of another
            task).

    Frames can be requested in any order from any number of threads; network calls are serialised by a lock,
    and the result does not depend on the order (bit-identical on the CPU).
    """
    dev, dtype = check_arguments(clip, temporal, radius, overlap, device, fp16, FUNC)
    cuts = cut_rule(FUNC, scene_change)
    exposure = _exposure(shutter)
    disc = _defocus_radius(defocus, exposure)
    net = _get_model(model, temporal, dev, dtype, shutter)
    window = window_radius(net, radius, FUNC)
    defaults = _refinement(solver, exposure)
    steps = _refine_steps(refine, exposure, window, defaults.steps)
    told = getattr(net, "exposure_conditional", False)
    if exposure is not None and not told and not steps:
        what = model_label(model)
        raise VSVideoGenError(FUNC, f"{what} takes no shutter angle (it deblurs blind), and without the refinement "
                                    f"(refine={refine!r}, temporal={temporal!r}) nothing else would use it; leave "
                                    "shutter out, let the refinement run (temporal=True, refine=None or > 0), or use "
                                    "a model with an exposure input (`vsvideogen train deblur --exposure-input`)")
    channels, modulo, context = net_layout(net, _DEFAULT_CONTEXT, FUNC)
    engine = _Engine(
        net=net,
        converter=FrameConverter.for_clip(clip, dev, dtype, FUNC),
        channels=channels,
        tiles=tile_grid(tiles, clip, net, channels, modulo, overlap, context, dev, dtype, FUNC),
        overlap=overlap,
        context=context,
        modulo=modulo,
        radius=window,
        cuts=cuts,
        length=clip.num_frames,
        told=exposure if told else None,
        exposure=exposure,
        refinement=replace(defaults, steps=steps) if steps else None,
        flow_net=load_flow_net(dev, dtype, FUNC) if steps else None,
        defocus=disc,
        prior=load_prior_denoiser(dev, dtype, FUNC) if disc or steps and defaults.solver == "deconvolve" else None,
    )
    if window:
        return map_frames(clip, engine, engine.offsets, template=clip)
    return clip.std.ModifyFrame(clip, engine)


def _exposure(shutter: Any) -> float | None:
    """``shutter`` (degrees) as the exposure a network takes (shutter / 360), or None."""
    if shutter is None:
        return None
    if isinstance(shutter, bool) or not isinstance(shutter, (int, float)) or not 0 < shutter <= MAX_SHUTTER:
        raise VSVideoGenError(FUNC, f"shutter={shutter!r} is not a shutter angle; pass degrees above 0 and at most "
                                    f"{MAX_SHUTTER} (e.g. 180), or None if it is unknown")
    return float(shutter) / 360.0


def _defocus_radius(defocus: Any, exposure: float | None) -> float | str | None:
    """``defocus`` checked: a disc radius in pixels, :data:`AUTO_DEFOCUS`, or None."""
    if defocus is None:
        return None
    if defocus == AUTO_DEFOCUS:
        if exposure is not None:
            raise VSVideoGenError(FUNC, f"defocus={AUTO_DEFOCUS!r} with shutter={exposure * 360:g}: the radius is "
                                        "estimated from the frame's spectrum as if the disc were its only blur, which "
                                        "a motion blur breaks; tell the radius (e.g. defocus=1.5) or leave shutter out")
        return AUTO_DEFOCUS
    if isinstance(defocus, bool) or not isinstance(defocus, (int, float)) or not 0 < defocus <= MAX_DEFOCUS:
        raise VSVideoGenError(FUNC, f"defocus={defocus!r} is not a disc radius; pass the radius in pixels of the "
                                    f"disc a point is spread into, above 0 and at most {MAX_DEFOCUS:g} (e.g. 1.5), "
                                    f"{AUTO_DEFOCUS!r} to estimate it on every frame, or None")
    return float(defocus)


def _refinement(solver: Any, exposure: float | None) -> ExposureRefinement:
    """The refinement ``solver`` names, with its default steps."""
    if not isinstance(solver, str) or solver not in REFINEMENTS:
        raise VSVideoGenError(FUNC, f"solver={solver!r} is not a refinement; pass one of "
                                    f"{', '.join(map(repr, REFINEMENTS))}")
    if solver != "landweber" and exposure is None:
        raise VSVideoGenError(FUNC, f"solver={solver!r} refines under the blur the shutter makes; pass shutter=(degrees) "
                                    "too, or leave solver out")
    return REFINEMENTS[solver]


def _refine_steps(refine: Any, exposure: float | None, window: int, default: int) -> int:
    """The refinement steps ``refine`` asks for (None: ``default`` when the shutter is known)."""
    if refine is None:
        return default if exposure is not None and window else 0
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        raise VSVideoGenError(FUNC, f"refine={refine!r} is not a step count; pass an int >= 0 (0: the network alone) "
                                    "or None")
    if refine and exposure is None:
        raise VSVideoGenError(FUNC, f"refine={refine} needs the shutter angle the blur was made with; pass "
                                    "shutter=(degrees) too, or refine=0")
    if refine and not window:
        raise VSVideoGenError(FUNC, f"refine={refine} takes the motion from the neighbouring frames; use "
                                    "temporal=True, or refine=0")
    return refine


def _get_model(model: Any, temporal: bool, device: torch.device, dtype: torch.dtype,
               shutter: float | None) -> torch.nn.Module:
    """The network for ``model`` (``"default"``: the blind default, or given a ``shutter`` the shutter default)."""
    if not isinstance(model, (str, os.PathLike, torch.nn.Module)):
        raise VSVideoGenError(FUNC, f"model={model!r} is not a model; use 'default', a `vsvideogen train deblur` "
                                    "export (RUN/model.safetensors) or a torch.nn.Module")
    if isinstance(model, str) and model == "default" and shutter is not None:
        net = load_shutter_blend(SHUTTER_BLEND, shutter, device, dtype, FUNC)
    elif isinstance(model, torch.nn.Module):
        net = model.eval()
    else:
        net = load_model(DEFAULT_MODELS["deblur"] if model == "default" else model, "deblur", device, dtype, FUNC)
    what = model_label(model)
    if getattr(net, "noise_conditional", False):
        raise VSVideoGenError(FUNC, f"{what} takes a noise level: it is a denoiser; use it with vsvideogen.denoise, "
                                    "and a `vsvideogen train deblur` export here")
    is_temporal = bool(getattr(net, "temporal", False))
    if temporal and not is_temporal:
        raise VSVideoGenError(FUNC, f"{what} is run frame by frame (spatial); pass temporal=False to use it, or a "
                                    "temporal model (a `vsvideogen train deblur` export) for temporal=True")
    if is_temporal and not temporal:
        raise VSVideoGenError(FUNC, f"{what} is a temporal model (it takes a window of frames); pass temporal=True "
                                    "to use it, or a spatial model for temporal=False")
    return net


def _shot_frames(stack: torch.Tensor, ids: list[int]) -> torch.Tensor:
    """The distinct source frames of a window ``stack`` (``[1, T, C, H, W]``, or ``[1, C, H, W]`` for a spatial
    model) of source frames ``ids``, as ``[N, C, H, W]``; a frame the window repeats in place of one across a
    scene cut is taken once."""
    if stack.ndim == 4:
        return stack
    return stack[0, [ids.index(i) for i in dict.fromkeys(ids)]]


class _Engine(WindowEngine):
    """Makes output frame ``n`` from source frames ``n - radius .. n + radius`` (``radius=0``: frame ``n``);
    ``told``: the exposure (shutter / 360) an exposure-conditioned network is told, or None; ``refinement``: how
    its frame is then refined under ``exposure`` (:mod:`vsvideogen.filters._exposure_refine`, with the flow
    network ``flow_net`` and, for ``solver="deconvolve"``, the denoiser ``prior``), or None; ``defocus``: the
    radius of the disc the recorded frame is then deconvolved from, starting from that frame (with ``prior``),
    ``"auto"`` (estimated on every frame and written to :data:`DEFOCUS_PROP`), or None."""

    def __init__(self, *, told: float | None, exposure: float | None, refinement: ExposureRefinement | None,
                 flow_net: torch.nn.Module | None, defocus: float | str | None, prior: torch.nn.Module | None,
                 **engine: Any) -> None:
        super().__init__(**engine)
        self.told = told
        self.exposure = exposure
        self.refinement = refinement
        self.flow_net = flow_net
        self.defocus = defocus
        self.prior = prior

    def __call__(self, n: int, f: vs.VideoFrame | list[vs.VideoFrame]) -> vs.VideoFrame:
        with torch.inference_mode():
            source, image, stack, ids = self.load(n, f if isinstance(f, list) else [f])
            staged = self.radius and self.is_two_stage(self.net)
            result = self.staged(stack, ids, exposure=self.told) if staged else self.tiled([stack])
            motion = None
            if self.refinement is not None:
                with self._lock:
                    motion = centre_motion(self.flow_net, stack, ids, self.exposure, self.refinement)
                    if motion is not None:
                        result = refine_along(motion, stack[:, len(ids) // 2], result, self.exposure,
                                              self.refinement, self._denoise)
            disc = estimated_radius(_shot_frames(stack, ids)) if self.defocus == AUTO_DEFOCUS else self.defocus
            if disc:
                blur = None if motion is None else exposure_operators(motion.after, self.exposure,
                                                                      before=motion.before, weight=motion.weight)
                with self._lock:
                    result = undo_defocus(image, result, disc, self._denoise, blur)
            out = self.converter.to_frame(result, source)
            if self.defocus == AUTO_DEFOCUS:
                out.props[DEFOCUS_PROP] = disc
            return out

    def _denoise(self, x: torch.Tensor, level: float) -> torch.Tensor:
        """The refinement's prior: ``x`` (fp32, RGB or luma) denoised at ``level`` by the colour denoiser
        ``prior`` in the converter's dtype (luma as grey RGB, see :func:`run_channels`), as fp32. It runs over
        the network's tile grid with its own receptive field as context, so memory stays bounded at 4K and
        tiles agree with the whole frame up to float rounding."""
        def denoise(tile: torch.Tensor) -> torch.Tensor:
            return run_channels(lambda t, _replicated: self.prior(t.to(self.converter.dtype), level).float(), tile, 3)

        return run_tiled(denoise, [x], self.tiles, self.overlap, context=self.prior.tile_context,
                         modulo=self.prior.modulo)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        told = {} if self.told is None else {"exposure": self.told}
        return run_channels(lambda t, _replicated: self.net(t, **told), x, self.channels)
