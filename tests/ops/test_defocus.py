"""vsvideogen.ops.defocus: the disc an out-of-focus lens spreads a point into, its adjoint, and deconvolution."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vsvideogen.errors import VSVideoGenError
from vsvideogen.ops.defocus import deconvolve_defocus, defocus_adjoint, defocus_blur, disc_kernel


def texture(seed: int = 0, size: tuple[int, int] = (40, 48), channels: int = 3) -> torch.Tensor:
    """Smooth random picture: noise upsampled bicubically (edges at every scale a disc of a few px blurs)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, channels, size[0] // 4, size[1] // 4, generator=g)
    return F.interpolate(coarse, size=size, mode="bicubic", align_corners=False).clamp(0, 1)


def smoothing(x: torch.Tensor, level: float) -> torch.Tensor:
    """A stand-in prior: a 3x3 box blur mixed in by the level."""
    box = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    share = min(1.0, level * 20)
    return (1 - share) * x + share * box


def test_defocus_kernel_is_a_normalised_disc():
    for radius in (0.5, 1.3, 3.0, 4.7):
        kernel = disc_kernel(radius)
        assert kernel.sum().item() == pytest.approx(1.0, abs=1e-6)
        assert torch.allclose(kernel, kernel.flip(0)) and torch.allclose(kernel, kernel.T)
    kernel = disc_kernel(3.0)
    assert kernel.shape == (7, 7) and kernel[0, 0] == 0 and kernel[3, 3] == kernel.max()
    assert torch.equal(disc_kernel(0.0), torch.ones(1, 1))
    flat = torch.full((2, 3, 20, 20), 0.4)
    assert torch.allclose(defocus_blur(flat, 2.5), flat)  # a blur keeps flat areas
    dot = torch.zeros(1, 1, 21, 21)
    dot[..., 10, 10] = 1
    assert torch.allclose(defocus_blur(dot, 3.0)[0, 0, 7:14, 7:14], kernel.flip(0).flip(1))


def test_blur_mirrors_the_edges_as_torch_reflect_padding_does():
    # The reference: torch's reflect padding, then the disc; a side not longer than the disc's reach repeats
    # its edge pixels instead (torch's replicate padding), the other side is still mirrored.
    image = texture(seed=1, size=(23, 31))
    for radius in (1.0, 2.6, 5.0):
        kernel = disc_kernel(radius)
        half = kernel.shape[-1] // 2
        flat = image.reshape(-1, 1, 23, 31)
        reference = F.conv2d(F.pad(flat, (half,) * 4, mode="reflect"), kernel[None, None]).reshape(image.shape)
        torch.testing.assert_close(defocus_blur(image, radius), reference, atol=1e-6, rtol=0)
    thin = texture(seed=2, size=(4, 30))
    kernel = disc_kernel(5.0)
    padded = F.pad(F.pad(thin.reshape(-1, 1, 4, 30), (5, 5, 0, 0), mode="reflect"), (0, 0, 5, 5), mode="replicate")
    reference = F.conv2d(padded, kernel[None, None])
    torch.testing.assert_close(defocus_blur(thin, 5.0), reference.reshape(thin.shape), atol=1e-6, rtol=0)


@pytest.mark.parametrize("size", [(40, 48), (23, 31), (4, 30)])
@pytest.mark.parametrize("radius", [0.7, 2.0, 4.5])
def test_adjoint_is_exact(size, radius):
    # <A x, y> = <x, A* y> for random x and y, mirrored and repeated edges alike, in float64.
    g = torch.Generator().manual_seed(7)
    x = torch.rand(2, 3, *size, generator=g, dtype=torch.float64)
    y = torch.rand(2, 3, *size, generator=g, dtype=torch.float64)
    left = (defocus_blur(x, radius) * y).sum()
    right = (x * defocus_adjoint(y, radius)).sum()
    assert left.item() == pytest.approx(right.item(), rel=1e-12)
    assert defocus_adjoint(y, 0.0) is y


def test_deconvolution_undoes_the_disc_far_better_than_the_blurred_frame():
    # A disc of radius 2.5 over a smooth texture, rounded to 8 bits: 8 iterations with a stand-in prior take the
    # error to a small share of the blurred frame's; no levels return the start.
    sharp = texture(seed=3)
    blurred = torch.round(defocus_blur(sharp, 2.5) * 255) / 255
    levels = [25 / 255 * (2 / 25) ** (k / 7) for k in range(8)]

    def error(x: torch.Tensor) -> float:
        return float(((x - sharp) ** 2).mean())

    solved = deconvolve_defocus(blurred, blurred, 2.5, denoiser=smoothing, levels=levels, noise=1 / 255, cg_steps=5)
    assert error(solved) < 0.3 * error(blurred)
    # told a radius far from the truth, it does worse than told the truth
    wrong = deconvolve_defocus(blurred, blurred, 1.0, denoiser=smoothing, levels=levels, noise=1 / 255, cg_steps=5)
    assert error(solved) < 0.5 * error(wrong)
    assert deconvolve_defocus(blurred, blurred, 2.5, denoiser=smoothing, levels=[], noise=1 / 255, cg_steps=5) \
        is blurred
    half = deconvolve_defocus(blurred.half(), blurred.half(), 2.5, denoiser=smoothing, levels=levels[:2],
                              noise=1 / 255, cg_steps=2)
    assert half.dtype == torch.float16


def test_bad_input_is_refused_naming_the_op():
    image = texture()
    with pytest.raises(VSVideoGenError, match="deconvolve_defocus.*radius=0"):
        deconvolve_defocus(image, image, 0, denoiser=smoothing, levels=[0.01], noise=0.004, cg_steps=3)
    with pytest.raises(VSVideoGenError, match="deconvolve_defocus.*blurred is"):
        deconvolve_defocus(image[..., :10], image, 2.0, denoiser=smoothing, levels=[0.01], noise=0.004, cg_steps=3)
    with pytest.raises(VSVideoGenError, match="deconvolve_defocus.*cg_steps=0"):
        deconvolve_defocus(image, image, 2.0, denoiser=smoothing, levels=[0.01], noise=0.004, cg_steps=0)
