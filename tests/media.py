"""Test helpers around ffmpeg (from imageio-ffmpeg): make small inputs, probe outputs."""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


def ffmpeg() -> str:
    """The ffmpeg binary the package uses."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_video(
    path: Path,
    frames: int = 12,
    *,
    fps: int = 25,
    size: str = "160x120",
    audio: bool = True,
    subtitles: bool = False,
    pix_fmt: str = "yuv420p",
    codec: str = "libx264",
) -> Path:
    """Write a short testsrc2 clip (H.264, or ``codec``) with an optional 440 Hz AAC track and one SRT subtitle."""
    seconds = frames / fps
    command = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}"]
    maps = ["-map", "0:v"]
    if audio:
        command += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
        maps += ["-map", "1:a", "-c:a", "aac"]
    if subtitles:
        srt = path.with_suffix(".srt")
        srt.write_text("1\n00:00:00,000 --> 00:00:00,200\nhello\n", encoding="utf-8")
        command += ["-i", str(srt)]
        maps += ["-map", f"{2 if audio else 1}:s", "-c:s", "srt"]
    command += [*maps, "-frames:v", str(frames), "-t", f"{seconds:.3f}", "-c:v", codec, "-pix_fmt", pix_fmt,
                str(path)]
    subprocess.run(command, check=True)
    return path


def make_late_video(path: Path) -> Path:
    """A Matroska file whose video track (25 fps, 1 s, frame 10 white) starts 0.3 s after its audio, which
    beeps (1 kHz, 40 ms) when the white frame is shown: at 0.7 s from the file's start."""
    video = path.with_name(f"{path.stem}-video.mkv")
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "color=black:size=64x48:rate=25:duration=1,drawbox=c=white:t=fill:enable='eq(n,10)'",
                    "-c:v", "libx264", str(video)], check=True)
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-itsoffset", "0.3", "-i", str(video),
                    "-f", "lavfi", "-i", "aevalsrc='sin(2*PI*1000*t)*between(t,0.7,0.7399)':s=48000:d=1.3",
                    "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "flac", str(path)], check=True)
    flash, beep = flash_and_beep_times(path)
    assert flash == pytest.approx(0.7, abs=0.005) and beep == pytest.approx(0.7, abs=0.005)
    return path


def flash_and_beep_times(path: Path) -> tuple[float, float]:
    """When, from the file's start, the white video frame starts and the 1 kHz beep starts (the audio must
    start at the file's start)."""
    report = subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0",
                             "-vf", "showinfo", "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    frames = [(float(mean), float(time)) for time, mean in
              re.findall(r"pts_time:([0-9.]+).*?mean:\[(\d+)", report)]
    audio = np.frombuffer(subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-i", str(path),
                                          "-map", "0:a", "-f", "f32le", "-ac", "1", "-"],
                                         capture_output=True, check=True).stdout, np.float32)
    brightest, time = max(frames)
    assert brightest > 200, "no white frame"
    return time, int(np.argmax(np.abs(audio) > 0.5)) / 48000


@dataclass(frozen=True)
class Probe:
    """What ffmpeg says about a file."""

    frames: int
    fps: float
    duration: float
    pix_fmt: str
    size: tuple[int, int]  # width, height
    audio: list[str]  # codec per audio stream
    subtitles: list[str]  # codec per subtitle stream


def probe(path: Path) -> Probe:
    """Count video frames by demuxing (no decoding) and read stream facts from ffmpeg's report."""
    result = subprocess.run(
        [ffmpeg(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-",
         "-progress", "pipe:1", "-nostats"],
        capture_output=True, text=True, check=True,
    )
    frames = int(re.findall(r"^frame=(\d+)", result.stdout, re.MULTILINE)[-1])
    report = result.stderr.split("Output #0")[0]
    video = re.search(r"Stream #0:\d+\S*: Video: \w+.*?, (\w+)[(,].*?, ([\d.]+) fps", report)
    hours, minutes, seconds = re.search(r"Duration: (\d+):(\d+):([\d.]+)", report).groups()
    return Probe(
        frames=frames,
        fps=float(video.group(2)),
        duration=int(hours) * 3600 + int(minutes) * 60 + float(seconds),
        pix_fmt=video.group(1),
        size=tuple(int(v) for v in re.search(r"Video: .*?, (\d+)x(\d+)", report).groups()),
        audio=re.findall(r"Stream #0:\d+\S*: Audio: (\w+)", report),
        subtitles=re.findall(r"Stream #0:\d+\S*: Subtitle: (\w+)", report),
    )


def require_interpolate() -> None:
    """Skip the calling test unless ``vsvideogen.interpolate`` imports and has its default weights."""
    try:
        from vsvideogen.filters.interpolate import interpolate
    except ImportError as exc:
        pytest.skip(f"vsvideogen.filters.interpolate cannot be imported: {exc}")
    import vapoursynth as vs

    from vsvideogen.errors import WeightsError

    try:
        interpolate(vs.core.std.BlankClip(width=64, height=64, format=vs.YUV420P8, length=2), 2)
    except WeightsError as exc:
        pytest.skip(f"interpolate has no default weights here: {exc}")
