"""``deblur``'s deconvolution of a told defocus: the frame the motion stages made, solved for the sharp frame
under a disc of the told radius (:func:`vsvideogen.ops.defocus.deconvolve_defocus`), with the bundled FFDNet as
the prior and the recorded frame's own noise level (:func:`vsvideogen.vs.noise.estimate_sigma`) setting how
closely each iteration fits.

A fit tighter than the frame's noise amplifies that noise many times over, so the noise is measured on every
frame rather than assumed. :data:`DEFOCUS_DECONVOLUTION` was chosen on the training clips (bikes and
bigbuckbunny), and is scored by ``benchmarks.deblur_defocus`` (docs/experiments/2026-11-28-told-defocus.md).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..ops.deconvolution import falling_levels
from ..ops.defocus import deconvolve_defocus
from ..vs.noise import estimate_sigma


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


def undo_defocus(frame: torch.Tensor, recorded: torch.Tensor, radius: float,
                 denoiser: Callable[[torch.Tensor, float], torch.Tensor],
                 settings: DefocusDeconvolution = DEFOCUS_DECONVOLUTION) -> torch.Tensor:
    """``frame`` (``[1, C, H, W]``, what the network and any motion refinement made of ``recorded``) deconvolved
    from a disc of ``radius`` pixels, fitting it no closer than ``recorded``'s noise."""
    noise = max(settings.min_noise, float(estimate_sigma(recorded.float())[0]))
    return deconvolve_defocus(frame, frame, radius, denoiser=denoiser,
                              levels=falling_levels(*settings.levels, settings.iterations), noise=noise,
                              cg_steps=settings.cg_steps)
