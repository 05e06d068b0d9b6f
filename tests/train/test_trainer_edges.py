"""The trainer at its edges: an interrupt inside a step, a resumed time limit, the export's score, an --out that
cannot be written."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from tests.train.test_trainer import ToyTask, _config, _log
from vsvideogen.errors import VSVideoGenError
from vsvideogen.train.trainer import train


class SideUpdateTask(ToyTask):
    """A toy task with a second update after the optimiser's (as a GAN's discriminator step), which can be
    interrupted halfway by a real SIGINT."""

    def __init__(self, signal_at: int | None = None) -> None:
        super().__init__()
        self.signal_at = signal_at
        self.steps = 0
        self.model: torch.nn.Module | None = None

    def build_model(self) -> torch.nn.Module:
        self.model = super().build_model()
        return self.model

    def after_step(self, lr: float) -> dict[str, float]:
        self.steps += 1
        if self.steps == self.signal_at:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the two updates of a step
        with torch.no_grad():
            self.model.bias.mul_(0.5)
        return {}


def test_a_ctrl_c_inside_a_step_lands_after_it_so_resume_matches_a_straight_run(tmp_path: Path):
    straight = train(SideUpdateTask(), _config(tmp_path / "a", steps=5, save_every=10))
    with pytest.raises(KeyboardInterrupt):
        train(SideUpdateTask(signal_at=3), _config(tmp_path / "b", steps=5, save_every=10))
    assert torch.load(tmp_path / "b" / "last.pt", weights_only=True)["state"]["step"] == 3  # step 3 made whole
    resumed = train(SideUpdateTask(), _config(tmp_path / "b", steps=5, save_every=10, resume=True))
    assert resumed.step == straight.step == 5
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_resuming_with_a_larger_time_limit_trains_on(tmp_path: Path):
    first = train(ToyTask(), _config(tmp_path, steps=10**6, val_every=10**5, save_every=10**5, log_every=10**5,
                                     time_limit=1.0))
    assert first.step < 10**6
    again = train(ToyTask(), _config(tmp_path, steps=10**6, val_every=10**5, save_every=10**5, log_every=10**5,
                                     time_limit=2.0, resume=True))
    assert again.step > first.step + 1  # planned anew for the new limit; it used to add one step per resume
    more = train(ToyTask(), _config(tmp_path, steps=again.step + 7, val_every=10**5, save_every=10**5,
                                    log_every=10**5, resume=True))  # no limit now: --steps decides
    assert more.step == again.step + 7


@pytest.mark.parametrize("limit", [float("inf"), float("nan"), -1.0])
def test_a_time_limit_must_be_finite_and_positive(tmp_path: Path, limit: float):
    with pytest.raises(VSVideoGenError, match="positive, finite number of seconds"):
        train(ToyTask(), _config(tmp_path, time_limit=limit))


class LastWeightsTask(ToyTask):
    """A toy task that exports its last weights (as GAN upscaling does), and gets worse as it trains."""

    export_best = False

    def loss(self, model, batch, device):
        err = (model(batch) - 1.0).abs().mean()  # away from the validation target
        return err, {"l1": err.item()}


def test_the_exported_score_is_the_exported_weights_score(tmp_path: Path):
    train(LastWeightsTask(), _config(tmp_path, steps=4, lr=0.05))
    scores = [(r["step"], r["val_psnr"]) for r in _log(tmp_path) if "val_psnr" in r]
    meta = json.loads((tmp_path / "model.json").read_text())
    best_step, best = max(scores, key=lambda s: s[1])
    assert meta["exported_step"] == 4 and best_step != 4
    assert meta["val_psnr"] == pytest.approx(scores[-1][1])  # the last weights, exported
    assert (meta["val_psnr_best"], meta["best_step"]) == (pytest.approx(best), best_step)


@pytest.fixture
def unwritable(tmp_path: Path):
    """A folder no file can be made in: immutable for root (chattr +i), read-only for anyone else."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
            pytest.skip("root, and this file system cannot make a folder immutable (chattr +i)")
        yield folder
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)


def test_an_out_that_cannot_be_written_is_refused_before_training(unwritable: Path):
    for out in (unwritable, unwritable / "run"):
        with pytest.raises(VSVideoGenError, match=f"--out '{out}' cannot be written: .* in '{unwritable}'"):
            train(ToyTask(), _config(out))
