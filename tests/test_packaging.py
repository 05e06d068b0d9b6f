"""The CUDA sources ship with the package: found from the editable install and from a built wheel."""
from __future__ import annotations

import importlib.resources
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from vsvideogen.ops import _cuda

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted(p.name for p in (REPO / "kernels").iterdir() if p.suffix in (".cu", ".cuh"))


def test_editable_install_finds_every_kernel_source():
    found = sorted(p.name for p in importlib.resources.files("vsvideogen.kernels").iterdir() if p.name.endswith((".cu", ".cuh")))
    assert found == SOURCES
    assert set(_cuda.KERNEL_FILES) <= set(found)
    assert "backward_warp_float" in _cuda.module_source()


@pytest.mark.slow
def test_wheel_ships_kernels_and_they_load_from_it(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("vsvideogen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"vsvideogen/kernels/{name}" for name in SOURCES} <= names
    bundled = sorted(p.name for p in (REPO / "vsvideogen" / "weights").glob("*.safetensors"))
    assert {f"vsvideogen/weights/{name}" for name in bundled} <= names

    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target", str(target), str(wheel)],
        capture_output=True, text=True,
    )
    assert install.returncode == 0, install.stderr
    code = (
        "import vsvideogen, vsvideogen.ops._cuda as c; "
        "assert vsvideogen.__file__.startswith(%r), vsvideogen.__file__; "
        "print(len(c.module_source()))" % str(target)
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) == len(_cuda.module_source())
