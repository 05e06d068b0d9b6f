"""The public ops on CPU: they use the reference, check their inputs, and keep CuPy out of ``import vsvideogen``."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from vsvideogen.errors import VSVideoGenError
from vsvideogen.ops import _cuda
from vsvideogen.ops.color import affine_color, affine_color_reference
from vsvideogen.ops.resize import pixel_shuffle, pixel_shuffle_reference, resize, resize_reference
from vsvideogen.ops.splat import forward_splat, forward_splat_reference
from vsvideogen.ops.warp import backward_warp, backward_warp_reference


def test_import_does_not_load_cupy():
    code = (
        "import sys, vsvideogen, vsvideogen.ops.warp, vsvideogen.ops.splat, vsvideogen.ops.resize, "
        "vsvideogen.ops.color; assert 'cupy' not in sys.modules, 'cupy imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cpu_ops_equal_references():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 6, 9, generator=generator)
    flow = torch.randn(1, 2, 6, 9, generator=generator)
    metric = torch.randn(1, 1, 6, 9, generator=generator)
    # The CPU warp runs through grid_sample: equal to the gather-based reference up to fp32 rounding.
    torch.testing.assert_close(backward_warp(image, flow), backward_warp_reference(image, flow), rtol=0, atol=2e-6)
    assert torch.equal(forward_splat(image, flow, metric), forward_splat_reference(image, flow, metric))
    assert torch.equal(resize(image, 11, 4), resize_reference(image, 11, 4))
    assert torch.equal(pixel_shuffle(image.repeat(1, 4, 1, 1), 2), pixel_shuffle_reference(image.repeat(1, 4, 1, 1), 2))
    matrix, offset = torch.randn(3, 3, generator=generator), torch.randn(3, generator=generator)
    assert torch.equal(affine_color(image, matrix, offset), affine_color_reference(image, matrix, offset))


def test_kernel_not_used_for_cpu_or_gradients():
    image = torch.rand(1, 3, 4, 4, requires_grad=True)
    assert not _cuda.use_kernel(image)
    out = backward_warp(image, torch.zeros(1, 2, 4, 4))
    out.sum().backward()
    assert image.grad is not None


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: backward_warp(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)), "flow has 3 channels"),
        (lambda: backward_warp(torch.rand(1, 3, 4, 4), torch.rand(1, 2, 4, 5)), "match the image's"),
        (lambda: backward_warp(torch.rand(3, 4, 4), torch.rand(1, 2, 4, 4)), "4-D"),
        (lambda: backward_warp(torch.rand(1, 3, 4, 4), torch.rand(1, 2, 4, 4, device="meta")), "device"),
        (lambda: forward_splat(torch.rand(1, 3, 4, 4), torch.rand(1, 2, 4, 4), torch.rand(1, 3, 4, 4)), "metric"),
        (lambda: resize(torch.rand(1, 3, 4, 4), 8, 8, "lanczos"), "use one of"),
        (lambda: resize(torch.rand(1, 3, 4, 4), 0, 8), "positive"),
        (lambda: pixel_shuffle(torch.rand(1, 6, 4, 4), 2), "factor 2"),
        (lambda: affine_color(torch.rand(1, 3, 4, 4), torch.eye(4), torch.zeros(3)), "3x3"),
        (lambda: affine_color(torch.rand(1, 4, 4, 4), torch.eye(3), torch.zeros(3)), "channels"),
    ],
)
def test_bad_inputs_raise_clean_errors(call, words):
    with pytest.raises(VSVideoGenError, match=words) as info:
        call()
    assert str(info.value).startswith("vsvideogen.")


def test_launch_failure_is_a_clean_error():
    # No GPU here (or, on a GPU machine, a kernel name that does not exist): either way a VSVideoGenError.
    # Called the way the ops call it, through launcher(), so that the argument order is checked too.
    launch = _cuda.launcher("backward_warp", torch.device("cuda", 0))
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.backward_warp: the CUDA kernel no_such_kernel failed on cuda:0"):
        launch("no_such_kernel", 1, [])


def test_module_source_inlines_the_header_once():
    source = _cuda.module_source()
    assert '#include "common.cuh"' not in source
    assert source.count("typedef long long idx_t;") == 1
    for name in ("backward_warp_float", "forward_splat_softmax_half", "resample_half_float", "affine_color_half"):
        assert f"void {name}(" in source


def test_kernel_names():
    assert _cuda.kernel_name("backward_warp", torch.float32) == "backward_warp_float"
    assert _cuda.kernel_name("backward_warp", torch.float16, torch.float16) == "backward_warp_half"
    assert _cuda.kernel_name("resample", torch.float16, torch.float32) == "resample_half_float"
    assert _cuda.kernel_dtype(torch.zeros(1, dtype=torch.float16), None) == torch.float16
    assert _cuda.kernel_dtype(torch.zeros(1, dtype=torch.float16), torch.zeros(1)) == torch.float32
    assert _cuda.kernel_dtype(torch.zeros(1, dtype=torch.float64)) == torch.float32
