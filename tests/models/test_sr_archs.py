"""Single-frame upscalers: Real-ESRGAN's SRVGGNetCompact and RRDBNet layouts, key inference, and load errors.

The published checkpoints are not downloaded here; instead synthetic state dicts are built from the key and
shape tables of the published models (xinntao/Real-ESRGAN ``srvgg_arch.py``, XPixelGroup/BasicSR
``rrdbnet_arch.py`` and the constructor arguments Real-ESRGAN's inference script uses per model), written
out independently of our modules, and must load strictly.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vsvideogen.errors import WeightsError
from vsvideogen.models import registry
from vsvideogen.models.archs.rrdb import RRDBNet, rrdbnet_from_state_dict
from vsvideogen.models.archs.srvgg import SRVGGNetCompact, srvgg_from_state_dict
from vsvideogen.models.archs.upscalers import upscaler_from_state_dict


def srvgg_table(in_ch: int, feat: int, convs: int, scale: int) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of a PReLU SRVGGNetCompact checkpoint."""
    table = {"body.0.weight": (feat, in_ch, 3, 3), "body.0.bias": (feat,), "body.1.weight": (feat,)}
    for k in range(convs):
        i = 2 + 2 * k
        table |= {f"body.{i}.weight": (feat, feat, 3, 3), f"body.{i}.bias": (feat,), f"body.{i + 1}.weight": (feat,)}
    last = 2 + 2 * convs
    out = in_ch * scale * scale
    return table | {f"body.{last}.weight": (out, feat, 3, 3), f"body.{last}.bias": (out,)}


def rrdb_table(in_ch: int, out_ch: int = 3, feat: int = 64, blocks: int = 23,
               grow: int = 32) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of a BasicSR RRDBNet checkpoint (``in_ch`` after any pixel-unshuffle)."""
    table = {"conv_first.weight": (feat, in_ch, 3, 3), "conv_first.bias": (feat,)}
    for b in range(blocks):
        for r in (1, 2, 3):
            for j in range(1, 6):
                out = feat if j == 5 else grow
                table[f"body.{b}.rdb{r}.conv{j}.weight"] = (out, feat + (j - 1) * grow, 3, 3)
                table[f"body.{b}.rdb{r}.conv{j}.bias"] = (out,)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        table |= {f"{name}.weight": (feat, feat, 3, 3), f"{name}.bias": (feat,)}
    return table | {"conv_last.weight": (out_ch, feat, 3, 3), "conv_last.bias": (out_ch,)}


def synthetic(table: dict[str, tuple[int, ...]], seed: int | None = 0) -> dict[str, torch.Tensor]:
    """Small random tensors of the table's shapes (zeros for ``seed=None``: cheap for the 16.7M-parameter layouts)."""
    if seed is None:
        return {k: torch.zeros(shape) for k, shape in table.items()}
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=gen) * 0.02 for k, shape in table.items()}


# Published constructor arguments (Real-ESRGAN inference_realesrgan.py).
SRVGG_MODELS = {
    "realesr-general-x4v3": dict(in_ch=3, feat=64, convs=32, scale=4),
    "realesr-animevideov3": dict(in_ch=3, feat=64, convs=16, scale=4),
}
RRDB_MODELS = {
    "RealESRGAN_x4plus": (dict(in_ch=3, blocks=23), 4),
    "RealESRGAN_x2plus": (dict(in_ch=12, blocks=23), 2),  # 2x2 pixel-unshuffled RGB input
    "RealESRGAN_x4plus_anime_6B": (dict(in_ch=3, blocks=6), 4),
}


@pytest.mark.parametrize("name", SRVGG_MODELS)
def test_srvgg_infers_published_sizes(name):
    args = SRVGG_MODELS[name]
    table = srvgg_table(**args)
    net = srvgg_from_state_dict(synthetic(table))
    assert (net.scale, net.channels, net.features, net.convs) == (args["scale"], 3, args["feat"], args["convs"])
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == table
    with torch.no_grad():
        assert net(torch.rand(1, 3, 5, 7)).shape == (1, 3, 20, 28)


def test_srvgg_adds_the_nearest_upscaled_input():
    net = SRVGGNetCompact(in_channels=3, out_channels=3, features=4, convs=1, scale=3)
    with torch.no_grad():
        net.body[-1].weight.zero_()
        net.body[-1].bias.zero_()
        x = torch.rand(2, 3, 4, 5)
        expected = x.repeat_interleave(3, 2).repeat_interleave(3, 3)
        assert torch.equal(net(x), expected)


def test_srvgg_gray_and_x2_layouts_are_inferred():
    net = srvgg_from_state_dict(synthetic(srvgg_table(in_ch=1, feat=8, convs=2, scale=2)))
    assert (net.scale, net.channels, net.convs) == (2, 1, 2)


@pytest.mark.parametrize("name", RRDB_MODELS)
def test_rrdbnet_infers_published_sizes(name):
    args, scale = RRDB_MODELS[name]
    table = rrdb_table(**args)
    net = rrdbnet_from_state_dict(synthetic(table, seed=None))
    assert (net.scale, net.channels, net.modulo, len(net.body)) == (scale, 3, 4 // scale, args["blocks"])
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == table
    with torch.no_grad():  # odd sizes are padded to the unshuffle factor and cropped back
        assert net(torch.rand(1, 3, 5, 7)).shape == (1, 3, 5 * scale, 7 * scale)


def test_rrdbnet_x4plus_parameter_count():
    # RRDBNet(64 features, 23 blocks, growth 32) as in ESRGAN: 16,697,987 parameters.
    assert sum(math.prod(shape) for shape in rrdb_table(in_ch=3).values()) == 16_697_987
    assert sum(p.numel() for p in RRDBNet(3, 4).parameters()) == 16_697_987


def test_pixel_unshuffle_channel_order_is_basicsr():
    # The x2 weights expect channel c * 4 + i * 2 + j to hold pixel (2y + i, 2x + j) of colour c.
    x = torch.rand(1, 3, 6, 8)
    packed = F.pixel_unshuffle(x, 2)
    for c in range(3):
        for i in range(2):
            for j in range(2):
                assert torch.equal(packed[:, c * 4 + i * 2 + j], x[:, c, i::2, j::2])


def test_containers_prefer_params_ema(tmp_path):
    table = srvgg_table(in_ch=3, feat=8, convs=1, scale=2)
    params, ema = synthetic(table, 1), synthetic(table, 2)
    path = tmp_path / "net.pth"
    torch.save({"params": params, "params_ema": ema}, path)
    net = registry.load_model(path, "upscale", "cpu", torch.float32, "test")
    assert isinstance(net, SRVGGNetCompact) and not net.training
    assert torch.equal(net.body[0].weight, ema["body.0.weight"])


def test_file_paths_detect_the_layout(tmp_path):
    rrdb = tmp_path / "rrdb.pth"
    torch.save({"params_ema": synthetic(rrdb_table(in_ch=12, feat=8, blocks=1, grow=4))}, rrdb)
    net = registry.load_model(rrdb, "upscale", "cpu", torch.float32, "test")
    assert isinstance(net, RRDBNet) and net.scale == 2


# -- errors ------------------------------------------------------------------------------------------------


def small_srvgg() -> dict[str, torch.Tensor]:
    return synthetic(srvgg_table(in_ch=3, feat=8, convs=2, scale=2))


def small_rrdb() -> dict[str, torch.Tensor]:
    return synthetic(rrdb_table(in_ch=3, feat=8, blocks=2, grow=4))


def test_srvgg_shape_mismatch_names_the_key():
    state = small_srvgg()
    state["body.3.weight"] = torch.zeros(5)
    with pytest.raises(WeightsError, match=r"'body\.3\.weight' is \(5,\) in the file but \(8,\) in the model"):
        srvgg_from_state_dict(state)


def test_srvgg_foreign_key_is_named():
    state = small_srvgg() | {"upsampler.weight": torch.zeros(1)}
    with pytest.raises(WeightsError, match=r"key 'upsampler\.weight' is not part of an SRVGGNetCompact"):
        srvgg_from_state_dict(state)


def test_srvgg_without_prelu_is_refused():
    state = {k: v for k, v in small_srvgg().items() if k.split(".")[1] in ("0", "2", "4", "6")}
    with pytest.raises(WeightsError, match=r"'body\.1\.weight' \(a PReLU\) is missing"):
        srvgg_from_state_dict(state)


def test_srvgg_output_channels_must_fit_a_scale():
    state = small_srvgg()
    state["body.6.weight"], state["body.6.bias"] = torch.zeros(10, 8, 3, 3), torch.zeros(10)
    with pytest.raises(WeightsError, match=r"'body\.6\.weight' has 10 output channels"):
        srvgg_from_state_dict(state)


def test_rrdb_input_channels_must_fit_a_scale():
    state = small_rrdb()
    state["conv_first.weight"] = torch.zeros(8, 7, 3, 3)
    with pytest.raises(WeightsError, match=r"'conv_first\.weight' takes 7 input channels"):
        rrdbnet_from_state_dict(state)


def test_rrdb_missing_and_misshapen_keys_are_named():
    state = small_rrdb()
    del state["body.1.rdb2.conv3.bias"]
    with pytest.raises(WeightsError, match=r"missing key\(s\) 'body\.1\.rdb2\.conv3\.bias'"):
        rrdbnet_from_state_dict(state)
    state = small_rrdb()
    state["body.0.rdb1.conv2.weight"] = torch.zeros(4, 11, 3, 3)
    with pytest.raises(WeightsError, match=r"'body\.0\.rdb1\.conv2\.weight' is \(4, 11, 3, 3\) in the file"):
        rrdbnet_from_state_dict(state)


def test_unknown_layout_and_file_are_named(tmp_path):
    with pytest.raises(WeightsError, match="not an upscaler layout"):
        upscaler_from_state_dict({"encoder.weight": torch.zeros(2, 2)})
    path = tmp_path / "bad.pth"
    state = small_rrdb()
    state["conv_hr.bias"] = torch.zeros(3)
    torch.save(state, path)
    with pytest.raises(WeightsError, match=r"bad\.pth.*'conv_hr\.bias' is \(3,\) in the file"):
        registry.load_model(path, "upscale", "cpu", torch.float32, "test")


def test_registry_entries():
    assert registry.TASK_ARCHS["upscale"] == "upscaler"
    for model_id, arch in [("realesr-general-x4v3", "srvgg"), ("realesr-animevideov3", "srvgg"),
                           ("realesrgan-x4plus", "rrdbnet"), ("realesrgan-x2plus", "rrdbnet"),
                           ("basicvsr-reds4", "basicvsr"), ("basicvsr-vimeo-bi", "basicvsr"),
                           ("basicvsr-vimeo-bd", "basicvsr")]:
        spec = registry.get_spec(model_id, "test")
        assert spec.task == "upscale" and spec.arch == arch and not spec.bundled
        assert (spec.sha256 is not None) == model_id.startswith("basicvsr")  # Real-ESRGAN publishes no checksums
    assert registry.get_spec("realesrgan-x2plus", "test").modulo == 2
