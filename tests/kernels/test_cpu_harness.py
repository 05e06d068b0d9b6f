"""Every kernel of kernels/*.cu, compiled for the CPU (see harness.py), against the torch references.

The ops' own ``*_kernel`` drivers run with the harness as their launcher, so argument building, dtype
handling and pass selection are tested along with the kernels. Sizes are odd on purpose (1x1, 7x13, 37x53),
flows reach past the borders, inputs are non-contiguous, and a tiny grid exercises the grid-stride loops.
Tolerances: fp32 ~1e-5 (same fp32 maths, other rounding order); fp16 ~1e-3 relative (both sides compute in
fp32 and round once, so they may differ by one fp16 step).
"""
from __future__ import annotations

import sys

import pytest
import torch

from vsvideogen.ops.color import affine_color_kernel, affine_color_reference
from vsvideogen.ops.exposure import exposure_blur_kernel, exposure_blur_reference, exposure_taps, longest_speed
from vsvideogen.ops.resize import pixel_shuffle_kernel, pixel_shuffle_reference, resize_kernel, resize_reference
from vsvideogen.ops.splat import forward_splat_kernel, forward_splat_reference
from vsvideogen.ops.warp import backward_warp_kernel, backward_warp_reference

from .conftest import record

DTYPES = {"fp32": torch.float32, "fp16": torch.float16}
#: (atol, rtol) per data type.
TOLERANCE = {torch.float32: (2e-5, 2e-5), torch.float16: (1.5e-3, 1.5e-3)}
SHAPES = [(1, 1, 1, 1), (1, 3, 7, 13), (2, 3, 37, 53)]
#: (threads per block, block cap): the real launch geometry, and a tiny grid so each thread loops.
GEOMETRIES = {"grid": (256, None), "stride": (32, 3)}


def compare(label: str, out: torch.Tensor, ref: torch.Tensor, scale: float = 1.0) -> float:
    """Assert ``out`` matches ``ref`` within the dtype's tolerance (times ``scale``); record and return the max diff."""
    assert out.shape == ref.shape, f"{label}: shape {tuple(out.shape)} != {tuple(ref.shape)}"
    assert out.dtype == ref.dtype, f"{label}: dtype {out.dtype} != {ref.dtype}"
    atol, rtol = TOLERANCE[ref.dtype]
    difference = (out.float() - ref.float()).abs()
    worst = difference.max().item() if difference.numel() else 0.0
    record(label, "fp16" if ref.dtype == torch.float16 else "fp32", worst)
    print(f"{label} {ref.dtype} {tuple(ref.shape)}: max |kernel - reference| = {worst:.3e}")
    bound = scale * (atol + rtol * ref.float().abs())
    assert torch.equal(torch.isfinite(out.float()), torch.isfinite(ref.float())), f"{label}: non-finite values differ"
    assert bool((difference <= bound).all()), f"{label}: max difference {worst:.3e} over tolerance"
    return worst


def noncontiguous(t: torch.Tensor) -> torch.Tensor:
    """The same values as ``t`` in a channels-last layout (strides other than the packed ones)."""
    return t.contiguous(memory_format=torch.channels_last)


def make_flow(kind: str, n: int, h: int, w: int, generator: torch.Generator) -> torch.Tensor:
    """Flows that stay near, go far past (|flow| > size) or land exactly on the grid."""
    flow = torch.randn(n, 2, h, w, generator=generator) * 2.5
    if kind == "large":
        scale = torch.tensor([w, h], dtype=torch.float32).view(1, 2, 1, 1)
        flow = (torch.rand(n, 2, h, w, generator=generator) * 5 - 2.5) * scale
    elif kind == "integer":
        flow = flow.round()
    return flow


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("flow_kind", ["small", "large", "integer"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_warp(cpu_kernels, dtype, shape, flow_kind, geometry):
    generator = torch.Generator().manual_seed(1)
    n, c, h, w = shape
    image = torch.rand(shape, generator=generator).to(DTYPES[dtype])
    for flow_dtype in (torch.float32, torch.float16):
        flow = make_flow(flow_kind, n, h, w, generator).to(flow_dtype)
        ref = backward_warp_reference(image, flow)
        out = backward_warp_kernel(noncontiguous(image), flow, cpu_kernels.launcher(*GEOMETRIES[geometry]))
        compare("backward_warp", out, ref)


def test_backward_warp_strided_flow_and_other_flow_dtype(cpu_kernels):
    generator = torch.Generator().manual_seed(2)
    image = torch.rand(2, 4, 9, 21, generator=generator)
    flow = (torch.randn(2, 9, 21, 2, generator=generator) * 4).permute(0, 3, 1, 2)  # strided view
    ref = backward_warp_reference(image, flow)
    compare("backward_warp", backward_warp_kernel(image, flow, cpu_kernels.launcher()), ref)
    out = backward_warp_kernel(image, flow.double(), cpu_kernels.launcher())  # fp64 flow runs as fp32
    compare("backward_warp", out, ref)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("exposure", [1.0, 0.3])
@pytest.mark.parametrize("flow_kind", ["small", "large", "integer"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_exposure_blur(cpu_kernels, dtype, shape, flow_kind, exposure, geometry):
    generator = torch.Generator().manual_seed(4)
    n, c, h, w = shape
    image = torch.rand(shape, generator=generator).to(DTYPES[dtype])
    velocity, before = make_flow(flow_kind, n, h, w, generator), make_flow(flow_kind, n, h, w, generator)
    # the tap count the frame's longest blur asks for (up to 65 for "large"), and a fixed small one; one
    # velocity for the whole exposure, and another one before the frame's time
    for taps in (max(2, exposure_taps(longest_speed(velocity, before) * exposure)), 3):
        for prior in (velocity, before):
            ref = exposure_blur_reference(image, velocity, prior, exposure, taps)
            out = exposure_blur_kernel(noncontiguous(image), noncontiguous(velocity), noncontiguous(prior), exposure,
                                       taps, cpu_kernels.launcher(*GEOMETRIES[geometry]))
            compare("exposure_blur", out, ref)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("softmax", [False, True], ids=["sum", "softmax"])
@pytest.mark.parametrize("flow_kind", ["small", "large", "integer"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_splat(cpu_kernels, dtype, shape, flow_kind, softmax, geometry):
    generator = torch.Generator().manual_seed(3)
    n, c, h, w = shape
    image = torch.rand(shape, generator=generator).to(DTYPES[dtype])
    for flow_dtype in (torch.float32, torch.float16):
        flow = make_flow(flow_kind, n, h, w, generator).to(flow_dtype)
        metric = (torch.randn(n, 1, h, w, generator=generator) * 2).to(flow_dtype) if softmax else None
        ref = forward_splat_reference(image, flow, metric)
        launch = cpu_kernels.launcher(*GEOMETRIES[geometry])
        out = forward_splat_kernel(noncontiguous(image), flow, metric, launch)
        compare("forward_splat_softmax" if softmax else "forward_splat_sum", out, ref)


def test_forward_splat_mixed_metric_dtype(cpu_kernels):
    generator = torch.Generator().manual_seed(4)
    image = torch.rand(1, 2, 11, 17, generator=generator).half()
    flow = (torch.randn(1, 2, 11, 17, generator=generator) * 3).half()
    metric = torch.randn(1, 1, 11, 17, generator=generator)  # fp32 metric with fp16 flow: both run as fp32
    ref = forward_splat_reference(image, flow, metric)
    compare("forward_splat_softmax", forward_splat_kernel(image, flow, metric, cpu_kernels.launcher()), ref)


RESIZES = [
    ((1, 1), (1, 1)),
    ((1, 1), (3, 5)),
    ((7, 13), (37, 53)),
    ((37, 53), (7, 13)),
    ((37, 53), (37, 26)),
    ((37, 53), (37, 53)),
    ((16, 24), (32, 48)),
]
FILTERS = {"bilinear": ("bilinear", 0.0, 0.5), "catmull": ("bicubic", 0.0, 0.5),
           "mitchell": ("bicubic", 1 / 3, 1 / 3), "bspline": ("bicubic", 1.0, 0.0)}


@pytest.mark.parametrize("shifts", [(0.0, 0.0), (-0.25, 0.5)], ids=["centred", "shifted"])
@pytest.mark.parametrize("filter_name", FILTERS)
@pytest.mark.parametrize("sizes", RESIZES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_resize(cpu_kernels, dtype, sizes, filter_name, shifts):
    generator = torch.Generator().manual_seed(5)
    (h, w), (height, width) = sizes
    kernel, b, c = FILTERS[filter_name]
    image = torch.rand(2, 3, h, w, generator=generator).to(DTYPES[dtype])
    ref = resize_reference(image, height, width, kernel, *shifts, b, c)
    out = resize_kernel(noncontiguous(image), height, width, kernel, *shifts, b, c, cpu_kernels.launcher())
    compare("resample", out, ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_resize_strong_downscale_and_grid_stride(cpu_kernels, dtype):
    generator = torch.Generator().manual_seed(6)
    image = torch.rand(1, 2, 61, 97, generator=generator).to(DTYPES[dtype])
    for kernel in ("bilinear", "bicubic"):
        ref = resize_reference(image, 5, 6, kernel, 0.3, -0.7)
        out = resize_kernel(image, 5, 6, kernel, 0.3, -0.7, 0.0, 0.5, cpu_kernels.launcher(32, 3))
        compare("resample", out, ref)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("factor", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_pixel_shuffle(cpu_kernels, dtype, factor, geometry):
    generator = torch.Generator().manual_seed(7)
    image = torch.rand(2, 2 * factor * factor, 7, 5, generator=generator).to(DTYPES[dtype])
    ref = pixel_shuffle_reference(image, factor)
    out = pixel_shuffle_kernel(noncontiguous(image), factor, cpu_kernels.launcher(*GEOMETRIES[geometry]))
    assert torch.equal(out, ref)
    record("pixel_shuffle", dtype, (out.float() - ref.float()).abs().max().item())


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (1, 3, 7, 13), (2, 3, 37, 53)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_affine_color(cpu_kernels, dtype, shape, geometry):
    generator = torch.Generator().manual_seed(8)
    image = torch.rand(shape, generator=generator).to(DTYPES[dtype])
    matrix = torch.randn(3, 3, generator=generator)
    offset = torch.randn(3, generator=generator)
    ref = affine_color_reference(image, matrix, offset)
    launch = cpu_kernels.launcher(*GEOMETRIES[geometry])
    out = affine_color_kernel(noncontiguous(image), matrix.double(), offset, launch)
    compare("affine_color", out, ref, scale=4.0)


def test_empty_batch_launches_nothing(cpu_kernels):
    image = torch.rand(0, 3, 5, 5)
    flow = torch.zeros(0, 2, 5, 5)
    assert backward_warp_kernel(image, flow, cpu_kernels.launcher()).shape == (0, 3, 5, 5)


def test_every_kernel_is_covered(cpu_kernels, request):
    module = sys.modules[__name__]
    selected = {item.function.__name__ for item in request.session.items if item.module is module}
    tests = {name for name in dir(module) if name.startswith("test_") and name != "test_every_kernel_is_covered"}
    if selected != tests | {"test_every_kernel_is_covered"}:
        pytest.skip("only part of this file was selected")
    missing = sorted(set(cpu_kernels.names) - cpu_kernels.launched)
    assert not missing, f"kernels never run against a reference: {missing}"
    assert cpu_kernels.names
