"""``deblur``'s deconvolution of a told defocus: the recorded frame solved for the sharp frame under a disc of
the told radius (:func:`vsvideogen.ops.defocus.deconvolve_defocus`), from the network's frame, with the bundled
FFDNet as the prior and the recorded frame's own noise level (:func:`vsvideogen.vs.noise.frame_noise`)
setting how closely each iteration fits.

The fit is to the recorded frame, not to the network's: the network's frame is not a disc's blur of anything,
and fitting it as one amplifies whatever the network changed (``benchmarks.deblur_defocus`` on bikes, sigma 0:
+2.18 dB fitting the network's frame at 1 px, +4.87 fitting the recorded one; +4.87 and +5.97 at 2 px). For the
same reason, told a shutter too, it fits the recorded frame under the motion blur followed by the disc, from
the motion refinement's frame (the motion blur kept where the refinement keeps its change, none elsewhere).

A fit tighter than the frame's noise amplifies that noise many times over, so the noise is measured on every
frame rather than assumed. :data:`DEFOCUS_DECONVOLUTION` was chosen on the training clips (bikes and
bigbuckbunny), and is scored by ``benchmarks.deblur_defocus`` (docs/experiments/2026-11-28-told-defocus.md).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..ops.deconvolution import Operator, falling_levels
from ..ops.defocus import deconvolve_defocus
from ..ops.defocus_radius import estimate_defocus_radius
from ..vs.noise import frame_noise


@dataclass(frozen=True)
class DefocusDeconvolution:
    """How ``deblur(..., defocus=RADIUS)`` deconvolves.

    Attributes:
        iterations: Half-quadratic splitting iterations.
        levels: The denoiser's level (0..1 scale) at the first and the last iteration, geometric between.
        cg_steps: Conjugate-gradient steps per iteration.
        min_noise: The least noise (0..1 scale) assumed, whatever the estimate (8-bit rounding and a little).
    """

    iterations: int = 8
    levels: tuple[float, float] = (25 / 255, 2 / 255)
    cg_steps: int = 5
    min_noise: float = 1 / 255


#: ``deblur``'s deconvolution when told ``defocus``.
DEFOCUS_DECONVOLUTION = DefocusDeconvolution()

#: ``deblur(defocus=AUTO_DEFOCUS)`` estimates the radius on every frame.
AUTO_DEFOCUS = "auto"
#: The frame prop where ``deblur(defocus="auto")`` writes the radius it deconvolved (pixels; 0: none).
DEFOCUS_PROP = "VSVideoGenDefocusRadius"
#: Estimated radii under this are left alone: sharp photos read up to 1 px (the camera's own softness), so
#: deconvolving them would sharpen what was never defocused (docs/experiments/2026-11-28-blind-defocus-radius.md).
AUTO_MIN_RADIUS = 1.25


def estimated_radius(window: torch.Tensor) -> float:
    """The defocus radius (pixels) ``deblur(defocus="auto")`` deconvolves a frame from, read on the recorded
    frames of its window (``[N, C, H, W]``, one shot; pooled, so neighbouring frames read alike):
    :func:`vsvideogen.ops.defocus_radius.estimate_defocus_radius`, or 0 under :data:`AUTO_MIN_RADIUS`."""
    radius = estimate_defocus_radius(window)
    return radius if radius >= AUTO_MIN_RADIUS else 0.0


def undo_defocus(recorded: torch.Tensor, estimate: torch.Tensor, radius: float,
                 denoiser: Callable[[torch.Tensor, float], torch.Tensor], motion: tuple[Operator, Operator] | None = None,
                 settings: DefocusDeconvolution = DEFOCUS_DECONVOLUTION) -> torch.Tensor:
    """The sharp frame whose disc of ``radius`` pixels is ``recorded`` (``[1, C, H, W]``), solved from
    ``estimate`` (the network's frame, or the motion refinement's), fitting ``recorded`` no closer than its own
    noise; with ``motion`` (the exposure blur and its adjoint), the frame whose motion blur, then disc, it is."""
    noise = frame_noise(recorded, settings.min_noise)
    return deconvolve_defocus(recorded, estimate, radius, denoiser=denoiser,
                              levels=falling_levels(*settings.levels, settings.iterations), noise=noise,
                              cg_steps=settings.cg_steps, motion=motion)
