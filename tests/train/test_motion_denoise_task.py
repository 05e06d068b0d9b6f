"""`vsvideogen train denoise --arch motion`: the pool through the frozen front, batches, loss, validation, and a
tiny CLI run whose export the filter loads."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import vapoursynth as vs

from tests.train.temporal_checks import check_loss_and_validation
from tests.train.test_denoise_task import CARPHONE, _args, two_shots
from vsvideogen import cli, denoise
from vsvideogen.errors import VSVideoGenError
from vsvideogen.models.archs.mc_denoiser import MotionCompensatedDenoiser
from vsvideogen.models.weights import save_safetensors
from vsvideogen.train.denoise import VideoWindows, validation_windows
from vsvideogen.train.motion_denoise import MotionDenoiseTask


@pytest.fixture
def init(tmp_path: Path) -> str:
    """A small untrained motion-compensated denoiser (radius 1) saved as a run export (fusion output zero)."""
    torch.manual_seed(0)
    return str(save_safetensors(MotionCompensatedDenoiser(radius=1, features=4).state_dict(), tmp_path / "init.safetensors"))


def test_pool_batches_loss_and_validation(init):
    clip = two_shots()
    val = validation_windows(clip, 2, radius=1, max_side=32)
    task = MotionDenoiseTask(VideoWindows([clip], 1), val, radius=1, init=init, pool=3, pool_crop=32, progress=False)
    assert task.pool.front.shape == (3, 18, 32, 32) and task.pool.front.dtype == torch.float16
    assert task.pool.sigma.shape == (3, 1, 32, 32) and task.pool.clean.shape == (3, 3, 32, 32)
    model = task.build_model()
    assert not any(p.requires_grad for p in model.spatial.parameters())
    assert not any(p.requires_grad for p in model.flow.parameters())
    batch = task.sample_batch(np.random.default_rng(0), 4, 24)
    assert batch.front.shape == (4, 18, 24, 24) and batch.clean.shape == (4, 3, 24, 24) and batch.sigma.shape == (4, 1, 24, 24)
    again = task.sample_batch(np.random.default_rng(0), 4, 24)
    assert torch.equal(batch.front, again.front) and torch.equal(batch.clean, again.clean)
    check_loss_and_validation(task, model, batch)
    assert model.fusion.outc[-1].weight.grad is not None and model.spatial.model[0].weight.grad is None
    with pytest.raises(VSVideoGenError, match="larger than the pool's 32 px windows"):
        task.sample_batch(np.random.default_rng(0), 1, 40)
    with pytest.raises(VSVideoGenError, match="pass --radius 1"):
        MotionDenoiseTask(VideoWindows([clip], 2), validation_windows(clip, 1, radius=2, max_side=32), radius=2,
                          init=init, pool=1, pool_crop=32, progress=False)


def test_cli_two_steps_export_a_model_the_filter_runs(tmp_path: Path, init):
    out = tmp_path / "run"
    argv = _args(out, "--arch", "motion", "--init", init, "--radius", "1", "--pool", "2", "--pool-crop", "32")
    argv[argv.index("--steps") + 1] = "2"
    assert cli.main(argv) == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["arch"] == "temporal-denoiser" and meta["layout"].startswith("motion") and meta["pool"] == 2
    clip = vs.core.bs.VideoSource(CARPHONE)[:3]
    frame = denoise(clip, 25, model=str(out / "model.safetensors"), radius=1, tiles=(1, 1)).get_frame(1)
    assert frame.format.id == clip.format.id and (frame.width, frame.height) == (176, 144)


def test_cli_refuses_workers_with_the_pool(tmp_path: Path, init, capsys):
    argv = _args(tmp_path / "run", "--arch", "motion", "--init", init, "--radius", "1", "--workers", "1")
    assert cli.main(argv) == 1
    assert "pass --workers 0" in capsys.readouterr().err
