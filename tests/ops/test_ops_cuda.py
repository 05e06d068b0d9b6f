"""The public ops through the real CuPy kernels on a GPU, against the torch references on the same device.

Skipped without CUDA. A spy on ``_cuda.launch`` makes sure the kernel path ran rather than the fallback.
"""
from __future__ import annotations

import pytest
import torch

from vsvideogen.errors import VSVideoGenError
from vsvideogen.ops import _cuda
from vsvideogen.ops.color import affine_color, affine_color_reference
from vsvideogen.ops.defocus import deconvolve_defocus, defocus_adjoint, defocus_blur
from vsvideogen.ops.exposure import deconvolve_to_exposure, exposure_blur, refine_to_exposure
from vsvideogen.ops.resize import pixel_shuffle, pixel_shuffle_reference, resize, resize_reference
from vsvideogen.ops.splat import forward_splat, forward_splat_reference
from vsvideogen.ops.warp import backward_warp, backward_warp_reference

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

DTYPES = {"fp32": torch.float32, "fp16": torch.float16}
#: (atol, rtol): the GPU contracts multiply-adds into FMAs, so fp32 differs in the last bits more than on CPU.
TOLERANCE = {torch.float32: (1e-4, 1e-4), torch.float16: (2e-3, 2e-3)}
SHAPES = [(1, 1, 1, 1), (1, 3, 7, 13), (2, 3, 37, 53)]


@pytest.fixture
def launches(monkeypatch) -> list[str]:
    """Names of the kernels launched during the test."""
    names: list[str] = []
    real = _cuda.launch

    def spy(func, device, name, total, args):
        names.append(name)
        real(func, device, name, total, args)

    monkeypatch.setattr(_cuda, "launch", spy)
    return names


def close(out: torch.Tensor, ref: torch.Tensor) -> None:
    assert out.dtype == ref.dtype and out.shape == ref.shape and out.device == ref.device
    atol, rtol = TOLERANCE[ref.dtype]
    difference = (out.float() - ref.float()).abs()
    print(f"max |kernel - reference| = {difference.max().item() if difference.numel() else 0.0:.3e}")
    assert bool((difference <= atol + rtol * ref.float().abs()).all()), "kernel and reference differ"


def inputs(shape, dtype, flow_scale=3.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    n, c, h, w = shape
    image = torch.rand(shape, generator=generator).to("cuda", DTYPES[dtype])
    flow = (torch.randn(n, 2, h, w, generator=generator) * flow_scale).to("cuda", DTYPES[dtype])
    metric = torch.randn(n, 1, h, w, generator=generator).to("cuda", DTYPES[dtype])
    return image, flow, metric


@pytest.mark.parametrize("flow_scale", [3.0, 200.0])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_warp_and_splat(dtype, shape, flow_scale, launches):
    image, flow, metric = inputs(shape, dtype, flow_scale)
    close(backward_warp(image, flow), backward_warp_reference(image, flow))
    close(backward_warp(image, flow.float()), backward_warp_reference(image, flow.float()))
    close(forward_splat(image, flow), forward_splat_reference(image, flow))
    close(forward_splat(image, flow, metric), forward_splat_reference(image, flow, metric))
    assert any(name.startswith("backward_warp") for name in launches)
    assert any(name.startswith("forward_splat_softmax") for name in launches)


@pytest.mark.parametrize("dtype", DTYPES)
def test_exposure_blur_and_refinement_match_the_cpu(dtype, launches):
    image, flow, _ = inputs((1, 3, 37, 53), dtype, flow_scale=4.0)
    before = flow.flip(-1)  # another velocity field before the frame's time
    weight = torch.rand(1, 1, 37, 53, generator=torch.Generator().manual_seed(3)).to("cuda", image.dtype)
    on_cpu = [t.cpu().float() for t in (image, flow, weight, before)]
    close(exposure_blur(image, flow, 0.75), exposure_blur(*on_cpu[:2], 0.75).to("cuda", image.dtype))
    close(exposure_blur(image, flow, 0.75, before=before),
          exposure_blur(*on_cpu[:2], 0.75, before=on_cpu[3]).to("cuda", image.dtype))
    blurred = exposure_blur(image, flow, 1.0)
    refined = refine_to_exposure(blurred, image, flow, 1.0, 5, weight, before=before)
    expected = refine_to_exposure(blurred.cpu().float(), *on_cpu[:2], 1.0, 5, on_cpu[2], before=on_cpu[3])
    close(refined, expected.to("cuda", image.dtype))

    def shrink(x: torch.Tensor, level: float) -> torch.Tensor:  # a stand-in denoiser, the same on both devices
        return x * (1 - level)

    deconvolved = deconvolve_to_exposure(blurred, image, flow, 1.0, weight, denoiser=shrink, levels=[0.05, 0.01],
                                         noise=0.01, before=before)
    expected = deconvolve_to_exposure(blurred.cpu().float(), *on_cpu[:2], 1.0, on_cpu[2], denoiser=shrink,
                                      levels=[0.05, 0.01], noise=0.01, before=on_cpu[3])
    close(deconvolved, expected.to("cuda", image.dtype))
    assert any(name.startswith("exposure_blur") for name in launches)


def test_defocus_ops_match_the_cpu():
    # Plain torch on both devices (the disc is a convolution; no CuPy kernel), fp32.
    g = torch.Generator().manual_seed(4)
    image = torch.rand(2, 3, 37, 53, generator=g)
    for radius in (1.0, 3.5):
        for op in (defocus_blur, defocus_adjoint):
            torch.testing.assert_close(op(image.cuda(), radius).cpu(), op(image, radius), atol=1e-5, rtol=1e-5)

    def shrink(x: torch.Tensor, level: float) -> torch.Tensor:  # a stand-in denoiser, the same on both devices
        return x * (1 - level)

    blurred = defocus_blur(image, 2.0)
    solved = deconvolve_defocus(blurred.cuda(), blurred.cuda(), 2.0, denoiser=shrink, levels=[0.05, 0.01],
                                noise=0.01, cg_steps=3)
    expected = deconvolve_defocus(blurred, blurred, 2.0, denoiser=shrink, levels=[0.05, 0.01], noise=0.01, cg_steps=3)
    torch.testing.assert_close(solved.cpu(), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kernel, b, c", [("bilinear", 0, 0.5), ("bicubic", 0, 0.5), ("bicubic", 1 / 3, 1 / 3)])
@pytest.mark.parametrize("sizes", [((7, 13), (37, 53)), ((37, 53), (7, 13)), ((37, 53), (37, 53))], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_resize(dtype, sizes, kernel, b, c, launches):
    (h, w), (height, width) = sizes
    image, _, _ = inputs((2, 3, h, w), dtype)
    for shifts in ((0.0, 0.0), (0.25, -0.5)):
        ref = resize_reference(image, height, width, kernel, *shifts, b, c)
        close(resize(image, height, width, kernel, *shifts, b, c), ref)
    assert any(name.startswith("resample") for name in launches)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pixel_shuffle_and_color(dtype, launches):
    image, _, _ = inputs((2, 12, 7, 5), dtype)
    assert torch.equal(pixel_shuffle(image, 2), pixel_shuffle_reference(image, 2))
    rgb = image[:, :3]  # a strided view
    matrix, offset = torch.randn(3, 3), torch.randn(3)
    close(affine_color(rgb, matrix, offset), affine_color_reference(rgb, matrix, offset))
    expected = {_cuda.kernel_name("pixel_shuffle", image.dtype), _cuda.kernel_name("affine_color", image.dtype)}
    assert expected <= set(launches)


def test_non_default_stream(launches):
    image, flow, metric = inputs((2, 3, 64, 96), "fp32", seed=1)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        warped = backward_warp(image, flow)
        splatted = forward_splat(image, flow, metric)
        resized = resize(image, 37, 201)
    stream.synchronize()
    close(warped, backward_warp_reference(image, flow))
    close(splatted, forward_splat_reference(image, flow, metric))
    close(resized, resize_reference(image, 37, 201))
    assert launches


def test_device_guard(launches):
    # The op must run on the tensor's device whatever device is current.
    index = torch.cuda.device_count() - 1
    image, flow, _ = inputs((1, 3, 16, 24), "fp32", seed=2)
    image, flow = image.to(f"cuda:{index}"), flow.to(f"cuda:{index}")
    with torch.cuda.device(0):
        out = backward_warp(image, flow)
    assert out.device == image.device
    close(out, backward_warp_reference(image, flow))


def test_fp16_coordinates_are_fp32_beyond_2048(launches):
    generator = torch.Generator().manual_seed(3)
    image = torch.rand(1, 3, 4, 4099, generator=generator).to("cuda", torch.float16)
    flow = torch.full((1, 2, 4, 4099), 0.25, dtype=torch.float16, device="cuda")
    flow[:, 1] = 0.0
    out = backward_warp(image, flow)
    ref = backward_warp_reference(image, flow)
    close(out, ref)
    # x + 0.25 is not representable in fp16 above 2048: fp16 maths would have returned the pixel itself.
    assert (out[..., 3000:4000].float() - image[..., 3000:4000].float()).abs().max() > 0.05


def test_gradients_use_the_reference(launches):
    image, flow, _ = inputs((1, 3, 8, 8), "fp32")
    image.requires_grad_(True)
    backward_warp(image, flow).sum().backward()
    assert image.grad is not None and not launches
    with torch.no_grad():
        backward_warp(image, flow)
    assert launches


def test_compile_failure_is_a_clean_error(monkeypatch):
    monkeypatch.setattr(_cuda, "_modules", {})
    monkeypatch.setattr(_cuda, "module_source", lambda: "this is not CUDA;")
    image, flow, _ = inputs((1, 1, 4, 4), "fp32")
    message = r"^vsvideogen\.backward_warp: the CUDA kernel backward_warp_float failed"
    with pytest.raises(VSVideoGenError, match=message):
        backward_warp(image, flow)
