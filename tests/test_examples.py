"""The ``vspipe -c y4m script.vpy - | ffmpeg -i - ...`` route and the scripts in examples/."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .media import ffmpeg, flash_and_beep_times, make_late_video, make_video, probe, require_interpolate
from .y4m import parse_y4m

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BIN = Path(sys.executable).parent
FRAMES = 12

PASSTHROUGH_VPY = textwrap.dedent("""
    import vapoursynth as vs
    import vsvideogen  # importing the package must print nothing: stdout is the video

    vs.core.bs.VideoSource(input).set_output()
""")


@pytest.fixture(scope="module")
def vspipe_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment in which vspipe finds this venv's Python: ``vapoursynth config`` into a private folder."""
    vspipe = BIN / "vspipe"
    if not vspipe.exists():
        pytest.skip("vspipe is not installed next to this Python")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path_factory.mktemp("xdg"))}
    subprocess.run([str(BIN / "vapoursynth"), "config"], env=env, check=True, capture_output=True)
    return env


@pytest.fixture(scope="module")
def av_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("input") / "in.mkv", FRAMES, fps=25, subtitles=True)


@pytest.fixture(scope="module")
def passthrough_vpy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    script = tmp_path_factory.mktemp("scripts") / "passthrough.vpy"
    script.write_text(PASSTHROUGH_VPY, encoding="utf-8")
    return script


def vspipe_y4m(script: Path, source: Path, env: dict[str, str], *arguments: str) -> bytes:
    """The y4m stream ``vspipe`` makes of ``script`` with ``input=source`` and each ``name=value`` of ``arguments``."""
    extra = [a for argument in arguments for a in ("-a", argument)]
    result = subprocess.run([str(BIN / "vspipe"), "-c", "y4m", str(script), "-a", f"input={source}", *extra, "-"],
                            capture_output=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def test_vspipe_stdout_is_only_y4m(vspipe_env, av_input, passthrough_vpy):
    stream = parse_y4m(vspipe_y4m(passthrough_vpy, av_input, vspipe_env))
    assert (stream.width, stream.height, stream.fps) == (160, 120, (25, 1))
    assert len(stream.frames) == FRAMES


def test_vspipe_interpolate_example(vspipe_env, av_input):
    require_interpolate()
    short = make_video(av_input.with_name("short.mkv"), 3, fps=25, audio=False)
    stream = parse_y4m(vspipe_y4m(EXAMPLES / "interpolate.vpy", short, vspipe_env))
    assert (stream.width, stream.height, stream.fps) == (160, 120, (50, 1))
    assert len(stream.frames) == 6


def test_vspipe_restore_example(vspipe_env, av_input):
    short = make_video(av_input.with_name("short3.mkv"), 3, fps=25, audio=False)
    plain = parse_y4m(vspipe_y4m(EXAMPLES / "restore.vpy", short, vspipe_env))
    told = parse_y4m(vspipe_y4m(EXAMPLES / "restore.vpy", short, vspipe_env, "shutter=180", "sigma=8"))
    assert (plain.width, plain.height, plain.fps, len(plain.frames)) == (160, 120, (25, 1), 3)
    assert len(told.frames) == 3 and told.frames != plain.frames  # the arguments reach the filters
    focused = parse_y4m(vspipe_y4m(EXAMPLES / "restore.vpy", short, vspipe_env, "defocus=1.5"))
    assert len(focused.frames) == 3 and focused.frames not in (plain.frames, told.frames)
    read = parse_y4m(vspipe_y4m(EXAMPLES / "restore.vpy", short, vspipe_env, "defocus=auto"))
    assert (read.width, read.height, len(read.frames)) == (160, 120, 3)


FORMAT_VPY = textwrap.dedent("""
    import vapoursynth as vs
    import vsvideogen

    clip = vs.core.bs.VideoSource(input).std.SetFrameProps(_Matrix=6).resize.Bicubic(format=vs.{fmt})
    clip = vsvideogen.interpolate(clip, 2)
    assert clip.format.id == vs.{fmt}, clip.format.name
    # y4m carries YUV: RGB output is converted back for the pipe, after the filter.
    clip.resize.Bicubic(format=vs.YUV420P10 if clip.format.bits_per_sample > 8 else vs.YUV420P8, matrix_s="170m").set_output()
""")


@pytest.mark.parametrize("fmt", ["YUV420P8", "YUV420P10", "RGBS"])
def test_vspipe_interpolates_in_the_clips_own_format(vspipe_env, av_input, tmp_path, fmt):
    require_interpolate()
    short = make_video(tmp_path / "short.mkv", 3, fps=25, audio=False)
    script = tmp_path / "format.vpy"
    script.write_text(FORMAT_VPY.format(fmt=fmt), encoding="utf-8")
    stream = parse_y4m(vspipe_y4m(script, short, vspipe_env))
    assert (stream.width, stream.height, stream.fps) == (160, 120, (50, 1))
    assert len(stream.frames) == 6


def test_interpolate_example_without_input_says_how_to_call_it(vspipe_env):
    result = subprocess.run([str(BIN / "vspipe"), "-c", "y4m", str(EXAMPLES / "interpolate.vpy"), "-"],
                            capture_output=True, text=True, env=vspipe_env, timeout=300)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "-a input=FILE" in result.stderr


@pytest.mark.parametrize("example", ["interpolate.vpy", "restore.vpy"])
def test_examples_say_that_input_is_relative_to_the_script(vspipe_env, av_input, example):
    command = [str(BIN / "vspipe"), "-c", "y4m", str(EXAMPLES / example), "-a", f"input={av_input.name}", "-"]
    result = subprocess.run(command, capture_output=True, text=True, env=vspipe_env, timeout=300, cwd=av_input.parent)
    assert result.returncode != 0
    assert f"'{EXAMPLES / av_input.name}' does not exist; vspipe runs the script in its own folder, so give input as " \
           "an absolute path" in result.stderr


def run_encode_sh(source: Path, output: Path, env: dict[str, str], cwd: Path | None = None) -> None:
    env = {**env, "VSPIPE": str(BIN / "vspipe"), "FFMPEG": ffmpeg()}
    result = subprocess.run(["bash", str(EXAMPLES / "encode.sh"), str(source), str(output)],
                            capture_output=True, text=True, env=env, timeout=300, cwd=cwd)
    assert result.returncode == 0, result.stderr


def sample_aspect_ratio(path: Path) -> str | None:
    """The SAR ffmpeg reports for the first video stream of ``path`` (``"128:117"``), None where it has none."""
    report = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    found = re.search(r"Video: .*\[SAR (\d+:\d+) DAR", report)
    return found and found.group(1)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_encode_sh_keeps_audio_and_subtitles(vspipe_env, av_input, passthrough_vpy, tmp_path, suffix):
    output = tmp_path / f"out{suffix}"
    run_encode_sh(av_input, output, {**vspipe_env, "SCRIPT": str(passthrough_vpy)})
    info = probe(output)
    assert (info.frames, info.fps, info.audio) == (FRAMES, 25, ["aac"])
    assert info.subtitles == (["mov_text"] if suffix == ".mp4" else ["subrip"])


def test_encode_sh_takes_paths_relative_to_where_it_runs(vspipe_env, av_input, passthrough_vpy, tmp_path):
    shutil.copy(av_input, tmp_path / "in.mkv")
    run_encode_sh(Path("in.mkv"), Path("out.mkv"), {**vspipe_env, "SCRIPT": str(passthrough_vpy)}, cwd=tmp_path)
    assert probe(tmp_path / "out.mkv").frames == FRAMES


def test_encode_sh_keeps_the_sample_aspect_ratio(vspipe_env, passthrough_vpy, tmp_path):
    anamorphic = tmp_path / "anamorphic.mp4"  # MP4 stores the exact ratio; Matroska a rounded display size
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=176x144:rate=25",
                    "-frames:v", "3", "-vf", "setsar=128/117:max=1000", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    str(anamorphic)], check=True)
    assert sample_aspect_ratio(anamorphic) == "128:117"
    output = tmp_path / "out.mp4"
    run_encode_sh(anamorphic, output, {**vspipe_env, "SCRIPT": str(passthrough_vpy)})
    assert sample_aspect_ratio(output) == "128:117"


def test_encode_sh_keeps_a_late_video_track_in_sync(vspipe_env, passthrough_vpy, tmp_path):
    source = make_late_video(tmp_path / "late.mkv")  # the video starts 0.3 s after the audio
    output = tmp_path / "out.mkv"
    run_encode_sh(source, output, {**vspipe_env, "SCRIPT": str(passthrough_vpy)})
    flash, beep = flash_and_beep_times(output)
    assert flash == pytest.approx(beep, abs=0.005)


def test_encode_sh_fails_when_vspipe_fails(vspipe_env, tmp_path):
    result = subprocess.run(["bash", str(EXAMPLES / "encode.sh"), str(tmp_path / "missing.mp4"), str(tmp_path / "o.mkv")],
                            capture_output=True, text=True, timeout=300,
                            env={**vspipe_env, "VSPIPE": str(BIN / "vspipe"), "FFMPEG": ffmpeg()})
    assert result.returncode != 0
    assert not (tmp_path / "o.mkv").exists()


def test_encode_sh_puts_an_mp4s_subtitles_into_matroska(vspipe_env, av_input, passthrough_vpy, tmp_path):
    mp4 = tmp_path / "in.mp4"  # subtitles as mov_text, which Matroska does not hold
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-i", str(av_input), "-map", "0", "-c", "copy",
                    "-c:s", "mov_text", str(mp4)], check=True)
    output = tmp_path / "out.mkv"
    run_encode_sh(mp4, output, {**vspipe_env, "SCRIPT": str(passthrough_vpy)})
    assert probe(output).subtitles == ["subrip"]


def test_encode_sh_with_the_interpolate_example(vspipe_env, av_input, tmp_path):
    require_interpolate()
    short = make_video(tmp_path / "short.mkv", 3, fps=25)
    output = tmp_path / "double.mkv"
    run_encode_sh(short, output, vspipe_env)
    info = probe(output)
    assert (info.frames, info.fps, info.audio) == (6, 50, ["aac"])
