"""Launching the CUDA kernels of ``kernels/*.cu`` through CuPy on torch's current stream.

CuPy is imported lazily, on the first CUDA call, never at ``import vsvideogen``. The kernel sources ship as
the package ``vsvideogen.kernels``; they are joined into one translation unit and compiled with NVRTC into
one ``cupy.RawModule`` per device, built once under a lock. Launches pass data pointers, sizes and strides
(so any resolution and layout runs without recompiling), on ``torch.cuda.current_stream()`` inside a guard
that makes the tensor's device current for both torch and CuPy.
"""
from __future__ import annotations

import importlib.resources
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from types import ModuleType

import numpy as np
import torch

from ..errors import VSVideoGenError

KERNEL_FILES = ("warp.cu", "splat.cu", "resize.cu", "color.cu", "exposure.cu")
HEADER = "common.cuh"
BLOCK = 256
MAX_BLOCKS = 1 << 20  # kernels are grid-stride loops, so a capped grid still covers every element
TYPE_NAMES = {torch.float32: "float", torch.float16: "half"}

Launch = Callable[[str, int, Sequence[object]], None]
"""Runs one kernel: ``launch(name, total_work_items, args)``, where ``args`` follow the kernel's parameter list:
tensors (or ``None`` for a null pointer) for pointers, ``np.int64`` for sizes and strides, ``np.int32`` for
flags, ``np.float32``/``np.float64`` for reals. :func:`launcher` runs it through CuPy; tests use a CPU harness."""

_lock = threading.Lock()
_modules: dict[int, object] = {}
_cupy: ModuleType | None = None
_cupy_error: str | None = None


def kernel_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    """The type of a kernel's secondary inputs (flow, metric): theirs when they share fp16 or fp32, else fp32."""
    dtypes = {t.dtype for t in tensors if t is not None}
    if len(dtypes) == 1 and next(iter(dtypes)) in TYPE_NAMES:
        return next(iter(dtypes))
    return torch.float32


def kernel_name(op: str, dtype: torch.dtype, second: torch.dtype | None = None) -> str:
    """Exported name of a kernel: ``<op>_<type>``, plus ``_<second type>`` when a second type differs."""
    name = f"{op}_{TYPE_NAMES[dtype]}"
    if second is not None and second != dtype:
        name += f"_{TYPE_NAMES[second]}"
    return name


def read_kernel(filename: str) -> str:
    """Text of one file of ``vsvideogen.kernels``."""
    return importlib.resources.files("vsvideogen.kernels").joinpath(filename).read_text(encoding="utf-8")


def module_source() -> str:
    """All kernel files as one translation unit: the shared header inlined once, then each op file."""
    include = f'#include "{HEADER}"'
    parts = [read_kernel(HEADER)]
    for filename in KERNEL_FILES:
        lines = [line for line in read_kernel(filename).splitlines() if line.strip() != include]
        parts.append(f"// ---- {filename}\n" + "\n".join(lines))
    return "\n".join(parts) + "\n"


def include_dirs() -> list[str]:
    """Folders holding ``cuda_fp16.h`` for NVRTC: the pip CUDA headers first, then a system toolkit."""
    candidates: list[str] = []
    try:
        from cuda.pathfinder import find_nvidia_header_directory

        found = find_nvidia_header_directory("cudart")
        if found:
            candidates.append(found)
    except Exception:  # cuda-pathfinder absent or too old: fall back to the usual toolkit locations
        pass
    for variable in ("CUDA_PATH", "CUDA_HOME"):
        if os.environ.get(variable):
            candidates.append(os.path.join(os.environ[variable], "include"))
    candidates.append("/usr/local/cuda/include")
    found_dirs: list[str] = []
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, "cuda_fp16.h")) and folder not in found_dirs:
            found_dirs.append(folder)
    return found_dirs[:1]


def compile_options() -> tuple[str, ...]:
    """NVRTC options: C++17 and the include folder for ``cuda_fp16.h`` (no fast math: results match the reference)."""
    return ("-std=c++17", *(f"-I{folder}" for folder in include_dirs()))


def _import_cupy() -> ModuleType | None:
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy

            _cupy = cupy
        except Exception as exc:  # ImportError, or a CUDA library CuPy could not load
            _cupy_error = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"vsvideogen: CuPy is unusable ({_cupy_error}); CUDA ops fall back to the slower torch reference",
                RuntimeWarning,
                stacklevel=3,
            )
    return _cupy


def use_kernel(*tensors: torch.Tensor | None) -> bool:
    """Whether an op on ``tensors`` (the first one is the data) should run the CUDA kernel.

    True when the data is an fp16/fp32 CUDA tensor, autograd does not need gradients through any input
    (kernels are inference-only) and CuPy imports.
    """
    data = tensors[0]
    if data is None or not data.is_cuda or data.dtype not in TYPE_NAMES:
        return False
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
        return False
    return _import_cupy() is not None


def _module(device: torch.device):
    index = device.index if device.index is not None else torch.cuda.current_device()
    module = _modules.get(index)
    if module is None:
        with _lock:
            module = _modules.get(index)
            if module is None:
                cupy = _import_cupy()
                with cupy.cuda.Device(index):
                    module = cupy.RawModule(code=module_source(), options=compile_options())
                    # Compile and load now, under the lock, rather than on the first get_function.
                    module.get_function(kernel_name("affine_color", torch.float32))
                _modules[index] = module
    return module


def strides(t: torch.Tensor) -> list[np.int64]:
    """A tensor's strides in elements, as kernel arguments."""
    return [np.int64(s) for s in t.stride()]


def _cupy_argument(arg: object) -> object:
    """A :data:`Launch` argument as CuPy passes it: tensors (and ``None``) as 64-bit addresses."""
    if arg is None:
        return np.uint64(0)
    if isinstance(arg, torch.Tensor):
        return np.uint64(arg.data_ptr())
    return arg


def launch(func: str, device: torch.device, name: str, total: int, args: Sequence[object]) -> None:
    """Launch kernel ``name`` over ``total`` work items on ``device``'s current torch stream.

    Args:
        func: the public op's name, for error messages.
        device: the CUDA device of the tensors.
        name: exported kernel name (see :func:`kernel_name`).
        total: number of work items; the grid is sized from it (capped, kernels loop over the rest).
        args: kernel arguments as described for :data:`Launch`.

    Raises:
        VSVideoGenError: CuPy could not compile, load or launch the kernel.
    """
    if total <= 0:
        return
    for arg in args:
        if isinstance(arg, torch.Tensor) and arg.device != device:
            raise VSVideoGenError(func, f"a tensor is on {arg.device}; all tensors must be on {device}")
    cupy = _import_cupy()
    blocks = min((total + BLOCK - 1) // BLOCK, MAX_BLOCKS)
    try:
        with torch.cuda.device(device):
            kernel = _module(device).get_function(name)
            stream = cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream, device.index)
            with cupy.cuda.Device(device.index), stream:
                kernel((blocks,), (BLOCK,), tuple(_cupy_argument(a) for a in args))
    except VSVideoGenError:
        raise
    except Exception as exc:
        raise VSVideoGenError(
            func,
            f"the CUDA kernel {name} failed on {device} ({type(exc).__name__}: {exc}); "
            "a working CUDA driver and cupy-cuda13x are needed, or pass CPU tensors to use the torch reference",
        ) from exc


def launcher(func: str, device: torch.device) -> Launch:
    """A :data:`Launch` running kernels on ``device`` through CuPy; ``func`` names the public op in errors."""
    return partial(launch, func, device)
