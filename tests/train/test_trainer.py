"""The generic trainer on a toy task: checkpoints, resume, logs, plot, export, schedule, errors."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from vsvideogen.errors import VSVideoGenError
from vsvideogen.train.losses import psnr
from vsvideogen.train.trainer import TrainConfig, _param_groups, learning_rate, train


class ToyTask:
    """Learn a 3x3 blur with one convolution, on random images."""

    name = "toy"
    reference_psnr = 10.0

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.interrupt_at = interrupt_at
        self.sampled: list[int] = []
        self.val = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(9))

    @staticmethod
    def target(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)

    def build_model(self) -> torch.nn.Module:
        return torch.nn.Conv2d(3, 3, 3, padding=1)

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int) -> torch.Tensor:
        if self.interrupt_at is not None and len(self.sampled) == self.interrupt_at:
            raise KeyboardInterrupt
        self.sampled.append(batch)
        return torch.from_numpy(rng.random((batch, 3, crop, crop), dtype=np.float32))

    def loss(self, model, batch, device):
        err = (model(batch) - self.target(batch)).abs().mean()
        return err, {"l1": err.item()}

    def validate(self, model, device) -> float:
        return float(psnr(model(self.val), self.target(self.val)).mean())

    def describe(self) -> dict:
        return {"layout": "conv3x3"}


def _config(out: Path, **kw) -> TrainConfig:
    base = dict(out=out, steps=3, batch=2, crop=16, lr=1e-2, warmup=0, val_every=2, save_every=1, log_every=1,
                progress=False, device="cpu")
    return TrainConfig(**{**base, **kw})


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_run_writes_checkpoints_log_plot_and_export(tmp_path: Path):
    result = train(ToyTask(), _config(tmp_path, command="vsvideogen train toy"))
    assert result.step == 3
    for name in ("last.pt", "best.safetensors", "log.jsonl", "curves.png", "model.safetensors", "model.json"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ckpt = torch.load(tmp_path / "last.pt", weights_only=True)
    assert ckpt["state"]["step"] == 3 and "state" in ckpt["optimizer"]
    log = _log(tmp_path)
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3]
    assert [r["step"] for r in log if "val_psnr" in r] == [0, 2, 3]  # start, every 2, end
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["task"] == "toy" and meta["layout"] == "conv3x3" and meta["steps"] == 3
    assert meta["val_psnr"] == pytest.approx(max(r["val_psnr"] for r in log if "val_psnr" in r))
    assert meta["command"] == "vsvideogen train toy" and meta["wall_time_s"] >= 0 and meta["seconds_per_step"] > 0
    exported = load_file(tmp_path / "model.safetensors")
    best = load_file(tmp_path / "best.safetensors")
    assert exported.keys() == {"weight", "bias"}
    assert all(torch.equal(exported[k], best[k]) for k in exported)


def test_resume_continues_at_the_saved_step_and_matches_a_straight_run(tmp_path: Path):
    straight = train(ToyTask(), _config(tmp_path / "a", steps=5))
    with pytest.raises(KeyboardInterrupt):
        train(ToyTask(interrupt_at=3), _config(tmp_path / "b", steps=5))
    task = ToyTask()
    resumed = train(task, _config(tmp_path / "b", steps=5, resume=True))
    assert len(task.sampled) == 2  # only steps 3 and 4 were trained
    assert resumed.step == 5
    assert [r["step"] for r in _log(tmp_path / "b") if "loss" in r] == [1, 2, 3, 4, 5]
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    assert straight.best_psnr == pytest.approx(resumed.best_psnr)


def test_interrupt_saves_a_resumable_checkpoint(tmp_path: Path):
    with pytest.raises(KeyboardInterrupt):
        train(ToyTask(interrupt_at=2), _config(tmp_path, steps=4, save_every=10))
    assert torch.load(tmp_path / "last.pt", weights_only=True)["state"]["step"] == 2
    task = ToyTask()
    assert train(task, _config(tmp_path, steps=4, resume=True)).step == 4
    assert len(task.sampled) == 2


def test_refuses_to_overwrite_or_resume_nothing(tmp_path: Path):
    with pytest.raises(VSVideoGenError, match="does not exist"):
        train(ToyTask(), _config(tmp_path / "none", resume=True))
    train(ToyTask(), _config(tmp_path, steps=1))
    with pytest.raises(VSVideoGenError, match="already holds a run"):
        train(ToyTask(), _config(tmp_path, steps=1))


def test_an_out_that_is_or_lies_under_a_file_is_refused(tmp_path: Path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub"):
        with pytest.raises(VSVideoGenError, match=re.escape(f"--out '{out}' cannot be a run folder: '{afile}' is a file")):
            train(ToyTask(), _config(out))


def test_resume_drops_a_partial_last_log_line(tmp_path: Path):
    train(ToyTask(), _config(tmp_path, steps=3))
    complete = _log(tmp_path)
    text = (tmp_path / "log.jsonl").read_text()
    (tmp_path / "log.jsonl").write_text(text + text.splitlines()[-1][:20])  # an append cut short by kill -9
    train(ToyTask(), _config(tmp_path, steps=4, resume=True))
    log = _log(tmp_path)
    assert log[: len(complete)] == complete
    assert [r["step"] for r in log[len(complete):]] == [4, 4]  # its loss and its validation


def test_resume_refuses_a_log_damaged_before_its_last_line(tmp_path: Path):
    train(ToyTask(), _config(tmp_path, steps=3))
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    lines[1] = lines[1][:20]
    (tmp_path / "log.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(VSVideoGenError, match=r"log.jsonl' line 2 is not JSON \(.*\); repair or delete that line"):
        train(ToyTask(), _config(tmp_path, steps=4, resume=True))


def test_bad_settings_are_refused(tmp_path: Path):
    with pytest.raises(VSVideoGenError, match="schedule"):
        train(ToyTask(), _config(tmp_path, schedule="linear"))
    with pytest.raises(VSVideoGenError, match="steps=0"):
        train(ToyTask(), _config(tmp_path, steps=0))


def test_learning_rate_schedules():
    cosine = TrainConfig(out=".", steps=110, lr=1.0, lr_min=0.1, warmup=10)
    assert learning_rate(0, cosine) == pytest.approx(0.1)
    assert learning_rate(9, cosine) == pytest.approx(1.0)
    assert learning_rate(10, cosine) == pytest.approx(1.0)
    assert learning_rate(60, cosine) == pytest.approx(0.55)
    assert learning_rate(110, cosine) == pytest.approx(0.1)
    step = TrainConfig(out=".", steps=100, lr=1.0, warmup=0, schedule="step")
    assert [learning_rate(s, step) for s in (0, 59, 60, 84, 85, 99)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert all(math.isfinite(learning_rate(s, cosine)) for s in range(200))


def test_batches_from_worker_processes_equal_those_made_in_process(tmp_path: Path):
    straight = train(ToyTask(), _config(tmp_path / "a", steps=6))
    workers = train(ToyTask(), _config(tmp_path / "b", steps=6, workers=2))
    a, b = load_file(straight.model_path), load_file(workers.model_path)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "b" / "model.json").read_text())["workers"] == 2


class _FailingTask(ToyTask):
    def sample_batch(self, rng, batch, crop):
        raise VSVideoGenError("train", "crop 16 does not fit")


def test_task_errors_surface_unwrapped_with_workers(tmp_path: Path):
    with pytest.raises(VSVideoGenError, match="crop 16 does not fit"):
        train(_FailingTask(), _config(tmp_path, steps=6, workers=2))


class _SlowTask(ToyTask):
    def loss(self, model, batch, device):
        import time

        time.sleep(0.02)
        return super().loss(model, batch, device)


def test_time_limit_cuts_the_run_and_completes_the_schedule(tmp_path: Path):
    config = _config(tmp_path, steps=100_000, lr=1.0, lr_min=0.1, val_every=1000, save_every=1000, log_every=1,
                     time_limit=4.0)
    result = train(_SlowTask(), config)
    assert 20 < result.step < 200, result.step  # at most 4 s / 0.02 s, far below the requested 100000
    assert result.wall_time_s < 4.0 + 3.0  # the final validation, plot and export come after the limit
    lrs = [r["lr"] for r in _log(tmp_path) if "lr" in r]
    assert lrs[-1] < 0.15  # the cosine schedule reached (nearly) its floor of 0.1 within the cut run
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["steps"] == result.step and meta["time_limit_s"] == 4.0


def test_time_limit_must_be_positive(tmp_path: Path):
    with pytest.raises(VSVideoGenError, match="time_limit"):
        train(ToyTask(), _config(tmp_path, time_limit=0))


def test_parameters_named_in_lr_scales_get_their_own_group():
    from vsvideogen.models.archs.temporal_denoiser import TemporalDenoiser

    net = TemporalDenoiser(3, 1, features=4, noise_map=False).with_exposure_input()
    plain = _param_groups(net, {})
    assert len(plain) == 1 and plain[0]["lr_scale"] == 1.0 and plain[0]["params"] == list(net.parameters())
    groups = {g["lr_scale"]: g["params"] for g in _param_groups(net, {"condition": 10.0})}
    assert set(groups) == {1.0, 10.0}
    assert groups[10.0] == [net.stage1.condition.weight, net.stage2.condition.weight]
    assert len(groups[1.0]) == len(list(net.parameters())) - 2
