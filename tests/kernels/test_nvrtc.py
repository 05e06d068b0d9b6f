"""Every kernel file compiles with NVRTC (no GPU or driver needed) and exports each of its instantiations.

Also compiles the single translation unit that ``vsvideogen.ops._cuda`` hands to CuPy, with its options.
"""
from __future__ import annotations

import re

import pytest

from vsvideogen.ops import _cuda

from . import harness

nvrtc = pytest.importorskip("cuda.bindings.nvrtc", reason="cuda-bindings (NVRTC) is not importable")

#: A virtual architecture every supported GPU can JIT from (Turing and newer).
ARCH = "--gpu-architecture=compute_75"


def _check(result, what: str) -> object:
    """Unwrap a cuda-bindings ``(nvrtcResult, value...)`` tuple, failing on an error code."""
    status, *values = result
    assert status == nvrtc.nvrtcResult.NVRTC_SUCCESS, f"{what}: {status}"
    return values[0] if values else None


def compile_ptx(source: str, name: str, options: list[str]) -> str:
    """Compile ``source`` to PTX; fails with NVRTC's log when the compilation fails."""
    program = _check(nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 0, [], []), "nvrtcCreateProgram")
    try:
        (status,) = nvrtc.nvrtcCompileProgram(program, len(options), [o.encode() for o in options])
        size = _check(nvrtc.nvrtcGetProgramLogSize(program), "nvrtcGetProgramLogSize")
        # NVRTC writes into the buffer: it must be mutable. (``b" " * 1`` is CPython's shared one-byte
        # object; writing into it corrupted every later b" " in the process and broke torch.load.)
        log = bytearray(size)
        _check(nvrtc.nvrtcGetProgramLog(program, log), "nvrtcGetProgramLog")
        log_text = log.decode(errors="replace").rstrip("\0 \n")
        if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            print(log_text)
        assert status == nvrtc.nvrtcResult.NVRTC_SUCCESS, f"NVRTC could not compile {name}:\n{log_text}"
        size = _check(nvrtc.nvrtcGetPTXSize(program), "nvrtcGetPTXSize")
        ptx = bytearray(size)
        _check(nvrtc.nvrtcGetPTX(program, ptx), "nvrtcGetPTX")
        return ptx.decode(errors="replace")
    finally:
        nvrtc.nvrtcDestroyProgram(program)


def entries(ptx: str) -> set[str]:
    """Kernel entry points defined in a PTX listing."""
    return set(re.findall(r"\.entry\s+(\w+)", ptx))


@pytest.fixture(scope="module")
def options() -> list[str]:
    if not _cuda.include_dirs():
        pytest.skip("cuda_fp16.h not found (no nvidia CUDA headers package or toolkit)")
    return [*_cuda.compile_options(), ARCH]


@pytest.mark.parametrize("path", harness.kernel_files(), ids=lambda p: p.name)
def test_kernel_file_compiles(path, options):
    ptx = compile_ptx(path.read_text(encoding="utf-8"), path.name, [*options, f"-I{harness.KERNEL_DIR}"])
    expected = harness.exported_kernels(path)
    assert expected, f"{path.name} exports no kernel"
    for name in expected:
        assert name in entries(ptx), f"{path.name}: instantiation {name} missing from the PTX"


def test_module_source_compiles(options):
    ptx = compile_ptx(_cuda.module_source(), "vsvideogen_kernels.cu", options)
    expected = {name for path in harness.kernel_files() for name in harness.exported_kernels(path)}
    assert expected == entries(ptx)
    assert {path.name for path in harness.kernel_files()} == set(_cuda.KERNEL_FILES)


@pytest.mark.parametrize("path", harness.kernel_files(), ids=lambda p: p.name)
def test_names_follow_the_convention(path):
    for name in harness.exported_kernels(path):
        assert re.fullmatch(r"[a-z_]+_(float|half)(_(float|half))?", name), name
