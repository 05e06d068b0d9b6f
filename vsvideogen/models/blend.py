"""Network interpolation: one network made from two trained ones by a weighted mean of their parameters.

Two networks of one architecture, one fine-tuned from the other (or both from a common ancestor), can be mixed
parameter by parameter, and the mixture's effect moves smoothly from one network's to the other's as the
weight goes from 0 to 1 (deep network interpolation: Wang et al., "Deep Network Interpolation for Continuous
Imagery Effect Transition", CVPR 2019). ``deblur`` uses it to correct as much blur as the shutter angle it is
told makes: :class:`ShutterBlend` names the two bundled deblurrers and, per shutter angle, the weight of the
long-exposure one.

Imports no torch at module level, so the registry can import it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import WeightsError

if TYPE_CHECKING:
    import torch


def interpolate_networks(a: torch.nn.Module, b: torch.nn.Module, weight: float, func: str) -> torch.nn.Module:
    """A copy of ``a`` whose every floating-point parameter and buffer is ``(1 - weight) * a + weight * b``.

    A tensor ``a`` has and ``b`` lacks counts as zero in ``b``: a layer that was added to ``a`` initialised at
    zero (such as the exposure input of ``TemporalDenoiser.with_exposure_input``) is, in ``b``'s terms, absent.

    Raises:
        WeightsError: ``b`` has a tensor ``a`` lacks, or one of another shape (the networks differ in layout).
    """
    import torch

    ours, theirs = a.state_dict(), b.state_dict()
    extra = sorted(set(theirs) - set(ours))
    if extra:
        raise WeightsError(func, f"cannot interpolate two networks of different layouts: the second has {extra[0]!r}, "
                                 "which the first lacks; pass two networks of one architecture")
    mixed = {}
    for name, mine in ours.items():
        other = theirs.get(name)
        if other is not None and other.shape != mine.shape:
            raise WeightsError(func, f"cannot interpolate two networks of different layouts: {name!r} is "
                                     f"{tuple(mine.shape)} in one and {tuple(other.shape)} in the other")
        if not mine.is_floating_point():
            mixed[name] = mine
            continue
        other = torch.zeros_like(mine) if other is None else other.to(mine)
        mixed[name] = torch.lerp(mine, other, weight)
    out = copy.deepcopy(a)
    out.load_state_dict(mixed)
    return out


@dataclass(frozen=True)
class ShutterBlend:
    """Two deblurrers of one architecture and how much of ``long`` to mix into ``short`` per shutter angle.

    Attributes:
        short: the registered id of the network for short exposures (told the exposure if it takes it).
        long: the registered id of the network for long exposures.
        knots: ``(shutter degrees, weight of long)`` pairs in increasing shutter order; the weight is linear
            between knots and held at the end knots' values outside them.
    """

    short: str
    long: str
    knots: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        shutters = [s for s, _ in self.knots]
        if not self.knots or shutters != sorted(set(shutters)):
            raise ValueError(f"ShutterBlend: knots must be in strictly increasing shutter order, not {self.knots}")
        if not all(0.0 <= w <= 1.0 for _, w in self.knots):
            raise ValueError(f"ShutterBlend: knot weights must be in 0..1, not {self.knots}")

    def weight(self, shutter: float) -> float:
        """The weight of ``long`` for a ``shutter``-degree exposure."""
        shutters, weights = zip(*self.knots)
        return float(np.interp(shutter, shutters, weights))
