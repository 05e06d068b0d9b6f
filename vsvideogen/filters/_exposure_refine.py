"""``deblur``'s refinement when the shutter is known: the network's frame pulled back to consistency with the
blurred one under the blur that shutter and the clip's motion make (:mod:`vsvideogen.ops.exposure`).

The motion at the centre frame's time is SPyNet's (:func:`vsvideogen.models.registry.load_flow_net`) from the
blurred centre frame to each blurred neighbour, on whole frames at half their size (``flow_scale``; smoother
flows, and better on bikes, at half the flow's cost). A pixel moves along the flow to the next frame in the
half of the exposure after the frame's time, and along the reverse of the flow to the previous frame in the
half before it: a path of two straight pieces, so a pixel that speeds up, slows down or turns is still
followed (one flow for both halves when the other neighbour lies across a scene cut or beyond the clip's end;
no refinement when both do). A pixel's change is kept in full where the blur is at least ``2 * min_length``
pixels long, not at all below ``min_length`` (no motion, nothing to undo), linearly between. Where the two
flows disagree by more than such a path explains (an occlusion, a wrong flow), the change is kept less, none
at all once they differ by ``tolerance`` times the mean speed plus a pixel.

:data:`DEFAULT_REFINEMENT` was chosen on four 12-frame segments of the training clips that the benchmark does
not score (bikes and bigbuckbunny from frames 40 and 80; docs/experiments/2026-11-27-exposure-refinement-deblur.md;
``flow_scale``: docs/experiments/2026-11-27-blind-shutter-from-reblur.md; the path of two pieces,
``tolerance`` and ``min_length``: docs/experiments/2026-11-27-two-piece-exposure-path.md).

:data:`DECONVOLUTION` (``deblur(..., solver="deconvolve")``) solves the same blur much further: half-quadratic
splitting with FFDNet as the prior (:func:`vsvideogen.ops.exposure.deconvolve_to_exposure`), kept only where
the blur is at least 2 px long (fully from 4 px). Its parameters were chosen on exact blur of camera moves over
the Debian wallpapers; on the held-out photos of ``benchmarks.deblur_photos`` it gains 0.4 to 2.4 dB more than
the Landweber steps, and on the clips' interpolated blur more on long blurs and less on short ones
(docs/experiments/2026-11-28-denoiser-prior-refinement.md).

It fits the recorded frame no closer than that frame's own noise, measured on every frame
(:func:`vsvideogen.vs.noise.frame_noise`, at least ``min_noise``): on the held-out photos of
``benchmarks.deblur_photos`` with noise of sigma 2 and 5 (8-bit scale), that gains 0.15 to 4.92 dB over assuming
8-bit rounding's noise, and noiseless frames are deconvolved as before. The Landweber steps fit the recorded
frame as it is; on noisy footage they amplify its noise along the motion. Either solver gains more when the
noise is removed first (``denoise``, which runs before ``deblur`` on the command line;
docs/experiments/2026-11-28-noise-aware-motion-refinement.md).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.archs.mc_denoiser import MotionCompensatedDenoiser
from ..ops.deconvolution import falling_levels
from ..ops.exposure import deconvolve_to_exposure, refine_to_exposure
from ..vs.noise import frame_noise


@dataclass(frozen=True)
class ExposureRefinement:
    """How ``deblur`` refines when told the shutter.

    Attributes:
        steps: Landweber steps (0: no refinement).
        min_length: Blur length in pixels from which changes are kept (fully from twice this).
        tolerance: How far the velocities after and before the frame's time may differ, relative to their mean
            speed, before a change is no longer kept.
        flow_scale: The flows are computed on frames this many times smaller (area-averaged), then brought
            back to full size.
        solver: ``"landweber"`` (``steps`` Landweber steps) or ``"deconvolve"`` (``steps`` iterations of
            half-quadratic splitting with a denoiser prior).
        levels: ``"deconvolve"``: the denoiser's level (0..1 scale) at the first and the last iteration, geometric
            between.
        min_noise: ``"deconvolve"``: the least noise (0..1 scale) assumed in the recorded frame (8-bit rounding
            and a little), whatever its measured noise.
        cg_steps: ``"deconvolve"``: conjugate-gradient steps per iteration.
    """

    steps: int
    min_length: float
    tolerance: float
    flow_scale: int = 1
    solver: str = "landweber"
    levels: tuple[float, float] = (12 / 255, 2 / 255)
    min_noise: float = 1 / 255
    cg_steps: int = 3

    def denoiser_levels(self) -> list[float]:
        """The denoiser's level at each of the ``steps`` iterations, from ``levels[0]`` to ``levels[1]``."""
        return falling_levels(*self.levels, self.steps)


#: ``deblur``'s refinement with a ``shutter``, ``refine=None`` and ``solver="landweber"`` (the default).
DEFAULT_REFINEMENT = ExposureRefinement(steps=10, min_length=0.03125, tolerance=2.0, flow_scale=2)
#: ``deblur``'s refinement with a ``shutter``, ``refine=None`` and ``solver="deconvolve"``.
DECONVOLUTION = ExposureRefinement(steps=6, min_length=2.0, tolerance=2.0, flow_scale=2, solver="deconvolve")
#: The refinement of each ``solver``, with its default steps.
REFINEMENTS = {"landweber": DEFAULT_REFINEMENT, "deconvolve": DECONVOLUTION}


@dataclass(frozen=True)
class CentreMotion:
    """The path of a window's centre frame: ``after`` and ``before`` (``[1, 2, H, W]``, pixels a frame interval,
    the velocities after and before the frame's time) and ``weight`` (``[1, 1, H, W]``, 0..1: how much of a
    change made under this blur to keep, by the blur's length and the two velocities' agreement)."""

    after: torch.Tensor
    before: torch.Tensor
    weight: torch.Tensor


def centre_motion(flow_net: torch.nn.Module, stack: torch.Tensor, ids: list[int], exposure: float,
                  refinement: ExposureRefinement) -> CentreMotion | None:
    """The motion of the blurred window ``stack``'s centre frame (``[1, T, C, H, W]``, oldest first, of source
    frames ``ids``; a repeated id: a frame standing in for one across a cut or beyond the clip's end) under
    ``exposure`` (the shutter angle / 360); None when no neighbour gives any."""
    centre = len(ids) // 2
    frames = stack if stack.shape[2] == 3 else stack.expand(-1, -1, 3, -1, -1)

    def flow(to: int) -> torch.Tensor | None:
        if ids[to] == ids[centre]:
            return None
        return scaled_flow(flow_net, frames[:, centre], frames[:, to], refinement.flow_scale)

    forward, backward = flow(centre + 1), flow(centre - 1)
    if forward is None and backward is None:
        return None
    if forward is None or backward is None:  # one neighbour: its motion, with nothing to check it against
        after = before = forward if backward is None else -backward
        speed, change = after.norm(dim=1, keepdim=True), None
    else:
        after, before = forward, -backward
        speed = (after.norm(dim=1, keepdim=True) + before.norm(dim=1, keepdim=True)) / 2
        change = (after - before).norm(dim=1, keepdim=True)
    weight = ((speed * exposure - refinement.min_length) / refinement.min_length).clamp(0, 1)
    if change is not None:
        weight = weight * (1 - change / (refinement.tolerance * speed + 1)).clamp(0, 1)
    return CentreMotion(after, before, weight)


def refine_along(motion: CentreMotion, blurred: torch.Tensor, estimate: torch.Tensor, exposure: float,
                 refinement: ExposureRefinement,
                 denoiser: Callable[[torch.Tensor, float], torch.Tensor] | None = None) -> torch.Tensor:
    """``estimate`` refined against the recorded ``blurred`` frame under the blur ``motion`` and ``exposure``
    make, by ``refinement``'s solver (``"deconvolve"``: with ``denoiser(x, level)`` as the prior, fitting the
    frame no closer than its measured noise)."""
    if refinement.solver == "deconvolve":
        recorded = blurred.float()
        return deconvolve_to_exposure(recorded, estimate, motion.after, exposure, motion.weight,
                                      denoiser=denoiser, levels=refinement.denoiser_levels(),
                                      noise=frame_noise(recorded, refinement.min_noise), cg_steps=refinement.cg_steps,
                                      before=motion.before)
    return refine_to_exposure(blurred.float(), estimate, motion.after, exposure, refinement.steps, motion.weight,
                              before=motion.before)


def scaled_flow(flow_net: torch.nn.Module, first: torch.Tensor, second: torch.Tensor, scale: int) -> torch.Tensor:
    """``flow_net``'s flow from ``first`` to ``second`` (``[N, 3, H, W]``) computed on both frames area-averaged
    to ``1 / scale`` of their size, then resized back to ``[N, 2, H, W]`` in full-size pixels (fp32)."""
    pixels = MotionCompensatedDenoiser.prepare_pixels  # the denoiser's bound on SPyNet's memory
    if scale == 1:
        return flow_net(first, second, max_pixels=pixels).float()
    h, w = first.shape[-2:]
    small = (math.ceil(h / scale), math.ceil(w / scale))
    flow = flow_net(*(F.interpolate(x, size=small, mode="area") for x in (first, second)), max_pixels=pixels)
    flow = F.interpolate(flow.float(), size=(h, w), mode="bilinear", align_corners=False)
    return torch.cat([flow[:, :1] * (w / small[1]), flow[:, 1:] * (h / small[0])], 1)
