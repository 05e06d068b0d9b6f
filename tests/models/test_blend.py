"""vsvideogen.models.blend: interpolating two networks, and the shutter schedule deblur uses it with."""
from __future__ import annotations

import pytest
import torch

from vsvideogen.errors import WeightsError
from vsvideogen.models.blend import ShutterBlend, interpolate_networks
from vsvideogen.models.registry import SHUTTER_BLEND, clear_model_cache, get_spec, load_model, load_shutter_blend


def _net(seed: int, extra: bool = False) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
    if extra:
        net.add_module("condition", torch.nn.Conv2d(2, 3, 1))
    return net


def test_interpolation_is_the_weighted_mean_of_the_parameters_and_leaves_both_alone():
    a, b = _net(0), _net(1)
    b[1].num_batches_tracked.fill_(7)
    before = [{k: v.clone() for k, v in n.state_dict().items()} for n in (a, b)]
    for weight in (0.0, 0.25, 1.0):
        mixed = interpolate_networks(a, b, weight, "f").state_dict()
        for name, value in mixed.items():
            if value.is_floating_point():
                assert torch.allclose(value, (1 - weight) * before[0][name] + weight * before[1][name]), name
            else:
                assert torch.equal(value, before[0][name]), name  # counters are not mixed
    for net, saved in zip((a, b), before):
        assert all(torch.equal(v, saved[k]) for k, v in net.state_dict().items())


def test_a_tensor_the_second_network_lacks_counts_as_zero():
    a, b = _net(0, extra=True), _net(1)
    mixed = interpolate_networks(a, b, 0.75, "f")
    assert torch.allclose(mixed.condition.weight, 0.25 * a.condition.weight)
    assert torch.allclose(mixed[0].weight, 0.25 * a[0].weight + 0.75 * b[0].weight)


def test_networks_of_different_layouts_are_refused():
    with pytest.raises(WeightsError, match="vsvideogen.f: .*the second has 'condition.bias'"):
        interpolate_networks(_net(0), _net(1, extra=True), 0.5, "f")
    wide = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.BatchNorm2d(4))
    with pytest.raises(WeightsError, match=r"'0.weight' is \(3, 2, 3, 3\) in one and \(4, 2, 3, 3\)"):
        interpolate_networks(_net(0), wide, 0.5, "f")


def test_shutter_weight_is_linear_between_knots_and_held_outside():
    blend = ShutterBlend("a", "b", knots=((180.0, 0.0), (270.0, 0.5), (360.0, 1.0)))
    assert [blend.weight(s) for s in (45, 180, 225, 270, 315, 360, 720)] == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    for knots in ((), ((270.0, 0.5), (180.0, 0.0)), ((180.0, 0.0), (180.0, 0.5)), ((180.0, 1.5),)):
        with pytest.raises(ValueError, match="ShutterBlend"):
            ShutterBlend("a", "b", knots=knots)


def test_the_shutter_default_names_two_bundled_deblurrers():
    for model in (SHUTTER_BLEND.short, SHUTTER_BLEND.long):
        spec = get_spec(model, "test")
        assert spec.task == "deblur" and spec.bundled


def test_the_shutter_default_is_built_once_per_weight_and_forgotten_with_the_model_cache():
    first = load_shutter_blend(SHUTTER_BLEND, 300.0, "cpu", torch.float32, "test")
    assert load_shutter_blend(SHUTTER_BLEND, 300.0, "cpu", torch.float32, "test") is first
    assert not first.training and not any(p.requires_grad for p in first.parameters())
    told, long = (load_model(m, "deblur", "cpu", torch.float32, "test") for m in (SHUTTER_BLEND.short, SHUTTER_BLEND.long))
    weight = SHUTTER_BLEND.weight(300.0)
    assert torch.allclose(first.stage1.condition.weight, (1 - weight) * told.stage1.condition.weight)
    assert load_shutter_blend(SHUTTER_BLEND, 270.0, "cpu", torch.float32, "test") is not first
    clear_model_cache()
    assert load_shutter_blend(SHUTTER_BLEND, 300.0, "cpu", torch.float32, "test") is not first
