"""CPU harness for kernels/*.cu: the CUDA sources compiled by g++ with shim.h and driven through ctypes.

Each kernel file is compiled as C++ (``-x c++``) inside a generated translation unit that adds, per exported
kernel, ``vsvg_launch_<name>(grid, block, args)`` (runs the whole grid serially, see shim.h) and
``vsvg_signature_<name>()`` (one letter per parameter). The shared library is built once per source hash in
the temp folder. :meth:`CpuKernels.launcher` returns a :data:`vsvideogen.ops._cuda.Launch`, so the ops' own
``*_kernel`` drivers (argument building included) run unchanged on CPU tensors; every argument is checked
against the kernel's parameter types, which CuPy would not do.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
KERNEL_DIR = ROOT / "kernels"
SHIM = Path(__file__).with_name("shim.h")
FLAGS = ("-x", "c++", "-std=c++17", "-O1", "-shared", "-fPIC", "-Wall", "-Wno-unknown-pragmas")
DECLARATION = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(')
BLOCK = 256

POINTER_DTYPES = {"F": torch.float32, "H": torch.float16}
SCALARS = {"q": (np.int64, ctypes.c_int64), "i": (np.int32, ctypes.c_int32), "f": (np.float32, ctypes.c_float),
           "d": (np.float64, ctypes.c_double)}


def kernel_files() -> list[Path]:
    """The kernel sources, one op per file."""
    return sorted(KERNEL_DIR.glob("*.cu"))


def exported_kernels(path: Path) -> list[str]:
    """Names of the ``extern "C" __global__`` kernels a source file exports."""
    return DECLARATION.findall(path.read_text(encoding="utf-8"))


def _translation_unit(path: Path) -> str:
    lines = [f'#include "{path}"', ""]
    for name in exported_kernels(path):
        lines.append(
            f'extern "C" void vsvg_launch_{name}(unsigned grid, unsigned block, void** args) '
            f"{{ vsvg_launch({name}, dim3{{grid, 1, 1}}, dim3{{block, 1, 1}}, args); }}"
        )
        lines.append(f'extern "C" const char* vsvg_signature_{name}() {{ return vsvg_signature({name}); }}')
    return "\n".join(lines) + "\n"


def compiler() -> str | None:
    """The C++ compiler to use (``$CXX`` or g++), or None when there is none."""
    return shutil.which(os.environ.get("CXX", "g++"))


@functools.cache
def build() -> Path:
    """Compile (or reuse) the shared library of all kernels; returns its path."""
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler (g++) found")
    units = {f"{path.stem}_cpu.cpp": _translation_unit(path) for path in kernel_files()}
    digest = hashlib.sha256()
    for path in sorted(KERNEL_DIR.glob("*.cu*")) + [SHIM]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name, text in units.items():
        digest.update(name.encode() + text.encode())
    digest.update(" ".join((cxx, *FLAGS)).encode())
    target = Path(tempfile.gettempdir()) / "vsvideogen-cpu-kernels" / digest.hexdigest()[:16] / "libkernels.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    (work / "include").mkdir()
    (work / "include" / "cuda_fp16.h").write_text(f'#pragma once\n#include "{SHIM}"\n')
    for name, text in units.items():
        (work / name).write_text(text)
    library = work / "libkernels.so"
    command = [cxx, *FLAGS, f"-I{work / 'include'}", *(str(work / name) for name in units), "-o", str(library)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"g++ failed:\n{' '.join(command)}\n{result.stderr}")
    os.replace(library, target)
    shutil.rmtree(work, ignore_errors=True)
    return target


class CpuKernels:
    """The kernels compiled for the CPU; ``launched`` collects the names run so far."""

    def __init__(self, library: Path) -> None:
        self._lib = ctypes.CDLL(str(library))
        self.names = [name for path in kernel_files() for name in exported_kernels(path)]
        self.launched: set[str] = set()

    def signature(self, name: str) -> str:
        """Parameter type letters of kernel ``name`` (see ``vsvg_code`` in shim.h)."""
        function = getattr(self._lib, f"vsvg_signature_{name}")
        function.restype = ctypes.c_char_p
        return function().decode()

    def launch(
        self, name: str, total: int, args: Sequence[object], block: int = BLOCK, max_blocks: int | None = None
    ) -> None:
        """Run kernel ``name`` over ``total`` items like ``vsvideogen.ops._cuda.launch``, checking every argument."""
        codes = self.signature(name)
        assert len(args) == len(codes), f"{name}: {len(args)} arguments for {len(codes)} parameters"
        values = []
        for index, (code, arg) in enumerate(zip(codes, args)):
            where = f"{name} argument {index}"
            if code in POINTER_DTYPES:
                if arg is None:
                    values.append(ctypes.c_void_p(0))
                    continue
                assert isinstance(arg, torch.Tensor), f"{where}: a tensor is needed, got {type(arg).__name__}"
                assert arg.dtype == POINTER_DTYPES[code], f"{where}: {arg.dtype} for a {code} pointer"
                assert arg.device.type == "cpu", f"{where}: tensor on {arg.device}"
                values.append(ctypes.c_void_p(arg.data_ptr()))
            else:
                numpy_type, c_type = SCALARS[code]
                assert type(arg) is numpy_type, f"{where}: {type(arg).__name__} for a {numpy_type.__name__} parameter"
                values.append(c_type(arg.item()))
        if total <= 0:
            return
        blocks = (total + block - 1) // block
        if max_blocks is not None:
            blocks = min(blocks, max_blocks)
        pointers = (ctypes.c_void_p * len(values))(*(ctypes.cast(ctypes.byref(v), ctypes.c_void_p) for v in values))
        function = getattr(self._lib, f"vsvg_launch_{name}")
        function.argtypes = (ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p)
        function.restype = None
        function(blocks, block, pointers)
        self.launched.add(name)

    def launcher(self, block: int = BLOCK, max_blocks: int | None = None):
        """A ``Launch`` callable running on this library; a small ``max_blocks`` exercises the grid-stride loops."""
        return functools.partial(self._launch_for_ops, block, max_blocks)

    def _launch_for_ops(
        self, block: int, max_blocks: int | None, name: str, total: int, args: Sequence[object]
    ) -> None:
        self.launch(name, total, args, block, max_blocks)
