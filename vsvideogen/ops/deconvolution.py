"""Deconvolution under a known linear blur with a denoiser as the image prior (half-quadratic splitting).

For a blur ``A`` with adjoint ``A*``, a recorded frame ``b`` and a start ``x``, :func:`half_quadratic_splitting`
alternates a few conjugate-gradient steps on ``(A*A + a_k) x = A* b + a_k z`` (``||A x - b||^2 + a_k ||x - z||^2``)
with ``z = denoise(x, s_k)``, the denoiser's level ``s_k`` falling and ``a_k = PRIOR_WEIGHT (noise / s_k)^2``, as
DPIR does for known kernels (Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior", 2021).
The motion blur of :mod:`vsvideogen.ops.exposure` and the defocus disc of :mod:`vsvideogen.ops.defocus` use it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..errors import VSVideoGenError

Operator = Callable[[torch.Tensor], torch.Tensor]

#: The prior's weight relative to ``(noise / level)^2`` (DPIR's value).
PRIOR_WEIGHT = 0.23


def half_quadratic_splitting(blurred: torch.Tensor, start: torch.Tensor, blur: Operator, adjoint: Operator, *,
                             denoiser: Callable[[torch.Tensor, float], torch.Tensor], levels: Sequence[float],
                             noise: float, cg_steps: int, func: str) -> torch.Tensor:
    """The prior's last frame ``z`` after ``len(levels)`` iterations from ``start`` (fp32 ``[N, C, H, W]``), each
    batch item solved on its own; ``start`` itself when ``levels`` is empty.

    Args:
        blurred: The recorded frame ``b``, fp32, 0..1.
        start: The first ``x`` and ``z``, fp32, same shape.
        blur: ``A``, linear, shape-preserving.
        adjoint: ``A*``.
        denoiser: ``denoiser(x, level)``: ``x`` (fp32, 0..1) with Gaussian noise of standard deviation ``level``
            (0..1 scale) removed, same shape.
        levels: The denoiser's level at each iteration (0..1 scale, > 0; usually falling).
        noise: The recorded frame's noise (0..1 scale, > 0): with ``level`` it sets how closely each iteration
            fits ``blurred``.
        cg_steps: Conjugate-gradient steps per iteration (>= 1), from the last ``x``.
        func: The public op's name, for errors.
    """
    if not levels:
        return start
    if min(levels) <= 0 or noise <= 0 or cg_steps < 1:
        raise VSVideoGenError(func, f"levels={list(levels)!r}, noise={noise!r}, cg_steps={cg_steps!r}: pass levels "
                                    "and noise above 0 and cg_steps >= 1")
    x = z = start
    # The residual of the last solve, A* b + a' z' - (A*A + a') x (here a' = 0): each solve starts from it,
    # moved to its own a and z, since A*A x is unchanged and needs no blur.
    residual, solved_weight, solved_prior = adjoint(blurred) - adjoint(blur(start)), 0.0, start
    for level in levels:
        a = PRIOR_WEIGHT * (noise / level) ** 2

        def normal(v: torch.Tensor) -> torch.Tensor:
            return adjoint(blur(v)) + a * v

        residual = residual + (solved_weight - a) * x + a * z - solved_weight * solved_prior
        x, residual = conjugate_gradient(normal, residual, x, cg_steps)
        solved_weight, solved_prior = a, z
        z = denoiser(x.clamp(0.0, 1.0), level).float().clamp(0.0, 1.0)
    return z


def falling_levels(first: float, last: float, count: int) -> list[float]:
    """``count`` denoiser levels from ``first`` to ``last``, geometric between (``[first]`` for one)."""
    return [first * (last / first) ** (k / max(count - 1, 1)) for k in range(count)]


def conjugate_gradient(operator: Operator, residual: torch.Tensor, x: torch.Tensor,
                       steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` conjugate-gradient steps on ``operator(x) = rhs`` from ``x``, whose ``residual`` is
    ``rhs - operator(x)``, each batch item on its own; returns the new ``x`` and its residual (kept up by the
    steps' recurrence, not recomputed)."""
    def dot(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (u * v).sum(dim=(1, 2, 3), keepdim=True)

    direction = residual
    squared = dot(residual, residual)
    for _ in range(steps):
        image = operator(direction)
        curvature = dot(direction, image)
        step = torch.where(curvature > 0, squared / curvature.clamp_min(1e-30), torch.zeros_like(curvature))
        x = x + step * direction
        residual = residual - step * image
        new = dot(residual, residual)
        direction = residual + torch.where(squared > 0, new / squared.clamp_min(1e-30), torch.zeros_like(new)) * direction
        squared = new
    return x, residual
