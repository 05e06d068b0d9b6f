"""Sanity of the plain-torch references every kernel is measured against."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vsvideogen.ops.color import affine_color_reference
from vsvideogen.ops.resize import pixel_shuffle_reference, resample_matrix, resize_reference
from vsvideogen.ops.splat import forward_splat_reference
from vsvideogen.ops.warp import backward_warp_reference


def grid_sample_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp written with grid_sample(align_corners=True, padding_mode='border')."""
    n, _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    x = (xs + flow[:, 0].double()) / (w - 1) * 2 - 1
    y = (ys + flow[:, 1].double()) / (h - 1) * 2 - 1
    grid = torch.stack([x, y], -1)
    return F.grid_sample(image.double(), grid, mode="bilinear", padding_mode="border", align_corners=True)


@pytest.mark.parametrize("shape", [(2, 3, 7, 13), (1, 2, 37, 53)], ids=str)
@pytest.mark.parametrize("scale", [0.7, 3.0, 80.0])
def test_warp_equals_grid_sample(shape, scale):
    generator = torch.Generator().manual_seed(0)
    n, _, h, w = shape
    image = torch.rand(shape, generator=generator)
    flow = torch.randn(n, 2, h, w, generator=generator) * scale
    expected = grid_sample_warp(image, flow).float()
    torch.testing.assert_close(backward_warp_reference(image, flow), expected, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 7, 13)], ids=str)
def test_zero_flow_warp_and_splat_are_identity(shape):
    image = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    flow = torch.zeros(shape[0], 2, *shape[2:])
    metric = torch.randn(shape[0], 1, *shape[2:], generator=torch.Generator().manual_seed(2))
    assert torch.equal(backward_warp_reference(image, flow), image)
    assert torch.equal(forward_splat_reference(image, flow), image)
    torch.testing.assert_close(forward_splat_reference(image, flow, metric), image, atol=1e-5, rtol=1e-5)


def test_integer_flow_splat_moves_pixels():
    image = torch.rand(1, 1, 4, 6, generator=torch.Generator().manual_seed(3))
    flow = torch.zeros(1, 2, 4, 6)
    flow[:, 0] = 2.0  # everything two pixels right; the last two columns fall off
    out = forward_splat_reference(image, flow)
    assert torch.equal(out[..., 2:], image[..., :-2])
    assert torch.equal(out[..., :2], torch.zeros(1, 1, 4, 2))


@pytest.mark.parametrize("sizes", [((4, 6), (8, 12)), ((7, 13), (37, 53)), ((5, 5), (6, 9))], ids=str)
def test_bilinear_upscale_equals_interpolate(sizes):
    (h, w), (height, width) = sizes
    image = torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(4))
    expected = F.interpolate(image, size=(height, width), mode="bilinear", align_corners=False)
    torch.testing.assert_close(resize_reference(image, height, width, "bilinear"), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kernel", ["bilinear", "bicubic"])
@pytest.mark.parametrize("sizes", [(13, 13), (13, 37), (37, 13), (1000, 7)], ids=str)
def test_resample_rows_sum_to_one(kernel, sizes):
    matrix = resample_matrix(*sizes, kernel, shift=0.25, b=1 / 3, c=1 / 3)
    torch.testing.assert_close(matrix.sum(1), torch.ones(sizes[1]), atol=1e-6, rtol=0)


def test_resize_to_same_size_is_identity():
    image = torch.rand(1, 3, 9, 11, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(resize_reference(image, 9, 11, "bicubic"), image, atol=1e-6, rtol=0)
    torch.testing.assert_close(resize_reference(image, 9, 11, "bilinear"), image, atol=1e-6, rtol=0)


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_pixel_shuffle_equals_torch(factor):
    image = torch.rand(2, 2 * factor * factor, 5, 7, generator=torch.Generator().manual_seed(6))
    assert torch.equal(pixel_shuffle_reference(image, factor), F.pixel_shuffle(image, factor))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_affine_identity_and_offset(dtype):
    image = torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(7)).to(dtype)
    assert torch.equal(affine_color_reference(image, torch.eye(3), torch.zeros(3)), image)
    swapped = affine_color_reference(image, torch.eye(3)[[2, 1, 0]], torch.tensor([0.0, 0.0, 1.0]))
    assert torch.equal(swapped[:, 0], image[:, 2])
    torch.testing.assert_close(swapped[:, 2], (image[:, 0].float() + 1).to(dtype))
