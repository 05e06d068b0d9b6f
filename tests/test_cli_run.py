"""``vsvideogen run`` and ``vsvideogen demo`` end to end on tiny clips (pass-through unless stated)."""
from __future__ import annotations

import argparse
import importlib
import io
import os
import re
import signal
import subprocess
import sys
import textwrap
from fractions import Fraction
import time
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

import vsvideogen
from vsvideogen import pipeline
from vsvideogen.commands import demo, run
from vsvideogen.vs.y4m import write_y4m_frame, y4m_compatible, y4m_header

from . import media
from .media import make_video, probe, require_interpolate
from .y4m import parse_y4m

FRAMES = 12
FPS = 25
# Source pixel format, its codec, and the pixel format run's default encode writes: 8- and 10-bit YUV, and RGB,
# which is piped and encoded as 4:4:4 (y4m carries no RGB).
SOURCE_FORMATS = [
    ("yuv420p", "libx264", "yuv420p"),
    ("yuv420p10le", "libx264", "yuv420p10le"),
    ("bgr0", "ffv1", "yuv444p"),
]


def cli(*argv: str | Path) -> int:
    """Parse and run like the ``vsvideogen`` command, with only the commands this file tests."""
    parser = argparse.ArgumentParser(prog="vsvideogen")
    subparsers = parser.add_subparsers(dest="command", required=True)
    run.add_parser(subparsers)
    demo.add_parser(subparsers)
    args = parser.parse_args([str(arg) for arg in argv])
    return args.handler(args)


def one_error_line(stderr: str, command: str = "run") -> str:
    """The single line a failure prints; fails the test if there is anything else."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"vsvideogen {command}: "), stderr
    return lines[0]


def leftovers(folder: Path, *expected: Path) -> list[str]:
    """Files in ``folder`` other than ``expected`` (temporary files, half-written outputs)."""
    return sorted(path.name for path in folder.iterdir() if path not in expected)


@pytest.fixture(scope="module")
def av_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 frames of 160x120 at 25 fps with an AAC track and an SRT subtitle, in Matroska."""
    return make_video(tmp_path_factory.mktemp("input") / "in.mkv", FRAMES, fps=FPS, subtitles=True)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_passthrough_keeps_frames_rate_audio_and_subtitles(av_input, out_dir, capsys):
    output = out_dir / "out.mp4"
    assert cli("run", av_input, output) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{output}\n"
    info = probe(output)
    assert (info.frames, info.fps, info.pix_fmt) == (FRAMES, FPS, "yuv420p")
    assert info.audio == ["aac"]
    assert info.subtitles == ["mov_text"]  # SRT converted: MP4 holds text subtitles only as mov_text
    assert info.duration == pytest.approx(FRAMES / FPS, abs=0.05)
    assert leftovers(out_dir, output) == []


def test_start_end_trims_video_and_audio(av_input, out_dir):
    output = out_dir / "trim.mp4"
    assert cli("run", av_input, output, "--start", "3", "--end", "9") == 0
    info = probe(output)
    assert info.frames == 6
    assert info.audio == ["aac"]
    # The audio is re-encoded from the first kept frame on: far from the untrimmed 0.48 s.
    assert info.duration == pytest.approx(6 / FPS, abs=0.06)


def test_start_cuts_the_audio_at_the_first_kept_frame_not_the_keyframe_before_it(tmp_path, out_dir):
    source = tmp_path / "ramp.mkv"  # one keyframe; a 440 Hz tone whose amplitude is a tenth of the time
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc2=size=64x48:rate={FPS}",
                    "-f", "lavfi", "-i", "aevalsrc=0.1*t*sin(2*PI*440*t):s=48000", "-frames:v", "25", "-t", "1",
                    "-c:v", "libx264", "-g", "250", "-c:a", "flac", str(source)], check=True)
    output = out_dir / "cut.mkv"
    assert cli("run", source, output, "--start", "15", "--end", "20") == 0  # 0.6 s to 0.8 s
    audio = np.frombuffer(subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-i", str(output),
                                          "-map", "0:a", "-f", "f32le", "-ac", "1", "-"],
                                         capture_output=True, check=True).stdout, np.float32)
    assert len(audio) / 48000 == pytest.approx(0.2, abs=0.03)
    amplitude = np.sqrt(2 * np.mean(audio[2400:4800] ** 2))  # 50 to 100 ms in: the tone at 0.65 to 0.7 s
    assert amplitude == pytest.approx(0.1 * 0.675, rel=0.1)


@pytest.mark.parametrize("trim", [(), ("--start", "5")])
def test_a_video_track_starting_after_its_audio_stays_in_sync(tmp_path, out_dir, trim):
    source = media.make_late_video(tmp_path / "late.mkv")
    output = out_dir / "out.mkv"
    assert cli("run", source, output, *trim) == 0
    flash, beep = media.flash_and_beep_times(output)
    assert flash == pytest.approx(beep, abs=0.005)


@pytest.mark.parametrize("args, reason", [
    (("--fps", "3"), "--fps 3 is more than 8 times lower than in.mkv's 25 fps, where interpolation cannot help: drop "
                     "frames instead, e.g. ffmpeg -i in.mkv -vf fps=3 -c:a copy fewer.mkv"),
    (("--start", "11", "--fps", "50"), "--start/--end keep 1 frame of in.mkv, and --fps needs 2 or more to put frames "
                                       "between"),
])
def test_a_frame_rate_step_the_clip_cannot_take_is_refused_in_command_line_terms(av_input, out_dir, capsys, args, reason):
    assert cli("run", av_input, out_dir / "out.mkv", *args) == 1
    assert one_error_line(capsys.readouterr().err) == f"vsvideogen run: {reason}"
    assert leftovers(out_dir) == []


def test_an_odd_sized_source_is_noted_where_the_decode_drops_a_column_and_a_row(tmp_path, out_dir, capsys):
    source = tmp_path / "odd.mkv"
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=160x90:rate=25", "-frames:v", "2", "-vf", "scale=101:57", "-pix_fmt", "yuv420p",
                    "-c:v", "ffv1", str(source)],
                   check=True)
    assert cli("run", source, out_dir / "out.mkv") == 0
    assert probe(out_dir / "out.mkv").size == (100, 56)
    assert ("vsvideogen run: note: odd.mkv is 101x57, decoded as 100x56 (its chroma subsampling needs even sizes, so "
            "the odd last column or row is dropped); the output is that size") in capsys.readouterr().err


def test_a_quarter_turned_anamorphic_source_keeps_its_display_aspect(tmp_path, out_dir):
    flat = tmp_path / "flat.mp4"  # 128x56 pixels of 35:34: 40:17 on screen
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=128x56:rate=25",
                    "-frames:v", "2", "-vf", "setsar=35/34", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(flat)], check=True)
    turned = tmp_path / "turned.mp4"  # shown turned a quarter: 56x128 pixels of 34:35, 17:40 on screen
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-display_rotation", "90", "-i", str(flat),
                    "-c", "copy", str(turned)], check=True)
    output = out_dir / "out.mp4"
    assert cli("run", turned, output) == 0
    report = subprocess.run([media.ffmpeg(), "-hide_banner", "-i", str(output)], capture_output=True, text=True).stderr
    assert re.search(r"Video: .*, 56x128 \[SAR 34:35 DAR 17:40\]", report), report


def test_avi_output_stays_in_sync(tmp_path, out_dir):
    source = tmp_path / "flash.mkv"  # frame 10 (0.4 s) white and a beep at 0.4 s; PCM, which AVI holds as it is
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"color=black:size=64x48:rate={FPS}:duration=1,drawbox=c=white:t=fill:enable='eq(n,10)'",
                    "-f", "lavfi", "-i", "aevalsrc='sin(2*PI*1000*t)*between(t,0.4,0.4399)':s=48000:d=1",
                    "-c:v", "libx264", "-c:a", "pcm_s16le", str(source)], check=True)
    output = out_dir / "out.avi"
    assert cli("run", source, output) == 0
    flash, beep = media.flash_and_beep_times(output)
    assert flash == pytest.approx(beep, abs=0.005)  # with B-frames the picture came 80 ms late


def test_a_cut_starting_on_frames_a_decoder_drops_stays_in_sync(tmp_path, out_dir):
    whole = tmp_path / "whole.mkv"  # frame 30 (1.2 s) white and a beep at 1.2 s; keyframes every 12 frames
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"color=black:size=64x48:rate={FPS}:duration=1.6,drawbox=c=white:t=fill:enable='eq(n,30)'",
                    "-f", "lavfi", "-i", "aevalsrc='sin(2*PI*1000*t)*between(t,1.2,1.2399)':s=48000:d=1.6",
                    "-c:v", "libx264", "-g", "12", "-bf", "2", "-c:a", "aac", str(whole)], check=True)
    cut = tmp_path / "cut.ts"  # a stream copy from 0.5 s: its first frames need the keyframe at 0.48 s
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-i", str(whole), "-map", "0",
                    "-c", "copy", "-ss", "0.5", "-copyinkf", str(cut)], check=True)
    output = out_dir / "out.mkv"
    assert cli("run", cut, output) == 0
    flash, beep = media.flash_and_beep_times(output)
    assert flash == pytest.approx(beep, abs=0.01)


@pytest.mark.parametrize("suffix, audio, note", [
    (".ts", ["aac"], "audio stream 1 (pcm_s16le) re-encoded to AAC: .ts cannot hold it"),
    (".avi", ["pcm_s16le"], None),
])
def test_transport_streams_and_avi_get_audio_they_hold_and_no_subtitles(tmp_path, out_dir, capsys, suffix, audio, note):
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,200\nhello\n", encoding="utf-8")
    source = tmp_path / "pcm.mkv"
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25",
                    "-f", "lavfi", "-i", "sine", "-i", str(srt), "-map", "0:v", "-map", "1:a", "-map", "2:s",
                    "-frames:v", "5", "-t", "0.2", "-c:v", "libx264", "-c:a", "pcm_s16le", "-c:s", "srt", str(source)],
                   check=True)
    output = out_dir / f"out{suffix}"
    assert cli("run", source, output) == 0
    info = probe(output)
    assert (info.frames, info.audio, info.subtitles) == (5, audio, [])
    notes = capsys.readouterr().err
    assert f"subtitle stream 2 (subrip) left out: {suffix} cannot hold it; use .mkv" in notes
    assert note is None or note in notes


@pytest.mark.parametrize("suffix, audio", [(".mp4", ["flac"]), (".mov", ["aac"]), (".m4v", ["aac"])])
def test_the_mp4_family_gets_audio_its_own_muxer_holds(tmp_path, out_dir, capsys, suffix, audio):
    source = tmp_path / "flac.mkv"
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25",
                    "-f", "lavfi", "-i", "sine", "-frames:v", "5", "-t", "0.2", "-c:v", "libx264", "-c:a", "flac",
                    str(source)], check=True)
    output = out_dir / f"out{suffix}"
    assert cli("run", source, output) == 0  # .mov failed: "flac only supported in MP4"
    assert probe(output).audio == audio
    assert (audio == ["aac"]) == (f"audio stream 1 (flac) re-encoded to AAC: {suffix} cannot hold it" in capsys.readouterr().err)


@pytest.mark.parametrize("suffix, codec_args, subtitles", [
    (".mkv", (), ["subrip"]),  # mov_text, which Matroska does not hold, failed the whole run
    (".mov", (), ["mov_text"]),
    (".webm", ("--", "-c:v", "libvpx-vp9", "-c:a", "libopus"), ["webvtt"]),
])
def test_text_subtitles_of_an_mp4_go_into_any_container_in_its_own_text_codec(av_input, tmp_path, out_dir, suffix,
                                                                              codec_args, subtitles):
    source = tmp_path / "in.mp4"
    assert cli("run", av_input, source) == 0 and probe(source).subtitles == ["mov_text"]
    output = out_dir / f"out{suffix}"
    assert cli("run", source, output, *codec_args) == 0
    assert probe(output).subtitles == subtitles


def test_a_variable_frame_rate_is_refused_before_filtering(tmp_path, out_dir, capsys):
    source = tmp_path / "vfr.mp4"  # 10 frames: 25 fps, then a frame every 0.2 s
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25",
                    "-frames:v", "10", "-vf", "setpts='if(lt(N,5),N*0.04,0.2+(N-5)*0.2)/TB'", "-fps_mode", "vfr",
                    "-c:v", "libx264", str(source)], check=True)
    assert cli("run", source, out_dir / "out.mkv") == 1
    line = one_error_line(capsys.readouterr().err)
    assert "vfr.mp4 has a variable frame rate: frame 9 is shown at" in line and "-fps_mode cfr" in line
    assert leftovers(out_dir) == []


def test_options_after_double_dash_go_to_ffmpeg_and_override_defaults(av_input, out_dir):
    output = out_dir / "out.mkv"
    assert cli("run", av_input, output, "--end", "4", "--", "-pix_fmt", "yuv444p", "-c:a", "flac") == 0
    info = probe(output)
    assert (info.frames, info.pix_fmt, info.audio, info.subtitles) == (4, "yuv444p", ["flac"], ["subrip"])


def test_high_bit_depth_input_keeps_its_depth(tmp_path, out_dir):
    source = make_video(tmp_path / "ten.mp4", 4, audio=False, pix_fmt="yuv422p10le")
    output = out_dir / "ten.mp4"
    assert cli("run", source, output) == 0
    info = probe(output)
    assert (info.frames, info.pix_fmt, info.audio) == (4, "yuv422p10le", [])


def test_y4m_output_holds_the_decoded_frames_and_says_what_it_left_out(tmp_path, out_dir, capsys):
    source = make_video(tmp_path / "ten.mkv", 4, subtitles=True, pix_fmt="yuv420p10le")
    output = out_dir / "ten.y4m"
    assert cli("run", source, output) == 0
    notes = capsys.readouterr().err
    assert "audio stream 1 (aac) left out: .y4m holds video only" in notes and "subtitle stream 2" in notes
    parsed = parse_y4m(output.read_bytes())
    assert (parsed.width, parsed.height, parsed.fields["C"], len(parsed.frames)) == (160, 120, "420p10", 4)
    decoded = vs.core.bs.VideoSource(str(source)).get_frame(2)
    assert parsed.frames[2] == b"".join(np.asarray(decoded[p]).tobytes() for p in range(3))  # lossless


def test_invalid_ffmpeg_option_leaves_nothing(av_input, out_dir, capsys):
    output = out_dir / "out.mp4"
    assert cli("run", av_input, output, "--", "-no-such-option", "1") == 1
    line = one_error_line(capsys.readouterr().err)
    assert "ffmpeg failed" in line and "no-such-option" in line
    assert leftovers(out_dir) == []


def test_filter_failing_mid_stream_leaves_nothing_and_names_the_frame(av_input, out_dir, capsys, monkeypatch):
    def fails_at_frame_6(clip: vs.VideoNode, **kwargs) -> vs.VideoNode:
        def check(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
            if n == 6:
                raise RuntimeError("model diverged")
            return f

        return clip.std.ModifyFrame(clip, check)

    monkeypatch.setattr(vsvideogen, "fail_late", fails_at_frame_6, raising=False)
    monkeypatch.setattr(pipeline, "FILTER_OPTIONS", (
        pipeline.FilterOption("--fail-late", "fail_late", lambda _: {}, "test filter"),
    ))
    output = out_dir / "out.mp4"
    assert cli("run", av_input, output, "--fail-late") == 1
    assert one_error_line(capsys.readouterr().err) == (
        "vsvideogen run: frame 6 of the output failed: RuntimeError: model diverged")
    assert leftovers(out_dir) == []


def test_one_table_row_adds_an_option(av_input, out_dir, monkeypatch):
    calls = []

    def flip(clip: vs.VideoNode, *, times: int, **shared) -> vs.VideoNode:
        calls.append((times, shared))
        return clip.std.FlipVertical()

    monkeypatch.setattr(vsvideogen, "flip", flip, raising=False)
    monkeypatch.setattr(pipeline, "FILTER_OPTIONS", (
        *pipeline.FILTER_OPTIONS,
        pipeline.FilterOption("--flip", "flip", lambda n: {"times": n}, "test filter", int, "N"),
    ))
    output = out_dir / "flipped.mkv"
    assert cli("run", av_input, output, "--flip", "3", "--device", "cpu", "--no-fp16", "--end", "2") == 0
    assert calls == [(3, {"device": "cpu", "fp16": False})]
    assert probe(output).frames == 2


@pytest.mark.parametrize("args, factor_kwargs, fps_kwargs", [
    (("--flow-scale", "0.5", "--scene-change", "none"), {"factor": 2, "scale": 0.5, "scene_change": None},
     {"fps": Fraction(50), "scale": 0.5, "scene_change": None}),
    (("--scene-change", "0.3"), {"factor": 2, "scene_change": 0.3}, {"fps": Fraction(50), "scene_change": 0.3}),
    (("--scene-change", "AUTO"), {"factor": 2, "scene_change": "auto"}, {"fps": Fraction(50), "scene_change": "auto"}),
])
def test_flow_scale_and_scene_change_reach_the_filters(av_input, out_dir, monkeypatch, args, factor_kwargs, fps_kwargs):
    calls = []

    def interpolate(clip: vs.VideoNode, **kwargs) -> vs.VideoNode:
        calls.append(kwargs)
        return clip

    monkeypatch.setattr(vsvideogen, "interpolate", interpolate)
    for rate, expected in ((("--interpolate", "2"), factor_kwargs), (("--fps", "50"), fps_kwargs)):
        calls.clear()
        assert cli("run", av_input, out_dir / "out.mkv", "-y", "--end", "2", *rate, *args) == 0
        assert calls == [expected]


@pytest.mark.parametrize("args, message", [
    (("--flow-scale", "0.5"), "vsvideogen run: --flow-scale goes with --interpolate or --fps; add one of them"),
])
def test_flow_scale_alone_is_refused(av_input, out_dir, capsys, args, message):
    assert cli("run", av_input, out_dir / "out.mkv", *args) == 1
    assert one_error_line(capsys.readouterr().err) == message
    assert leftovers(out_dir) == []


@pytest.mark.parametrize("args, message", [
    (("--flow-scale", "0.3"), "0.3 is not a flow scale; give one of 0.125, 0.25, 0.5, 1, 2, 4"),
    (("--scene-change", "1"), "1 is not a detector threshold; give one above 0 and below 1"),
    (("--scene-change", "often"), "'often' is not a scene-change setting; give auto, none or a threshold such as 0.25"),
])
def test_bad_flow_scale_or_scene_change_is_an_argument_error(av_input, out_dir, capsys, args, message):
    with pytest.raises(SystemExit):
        cli("run", av_input, out_dir / "out.mkv", "--interpolate", "2", *args)
    assert message in capsys.readouterr().err


HDR10 = "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400"


def test_hdr10_metadata_is_given_as_encoder_options_that_carry_it(tmp_path, out_dir, capsys):
    source = tmp_path / "hdr10.mkv"
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=64x48:rate=25", "-frames:v", "3", "-pix_fmt", "yuv420p10le",
                    "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc",
                    "-c:v", "libx265", "-x265-params", f"log-level=error:hdr10=1:{HDR10}", str(source)], check=True)
    assert cli("run", source, out_dir / "plain.mkv") == 0
    note = f"-- -c:v libx265 -x265-params hdr10=1:{HDR10}"
    assert f"the source's HDR10 mastering-display and content-light metadata is not carried into the output; " \
           f"give it to the encoder, e.g. {note}" in capsys.readouterr().err
    output = out_dir / "hdr10.mkv"
    assert cli("run", source, output, *note.split()) == 0
    assert "HDR10" not in capsys.readouterr().err
    report = subprocess.run([media.ffmpeg(), "-hide_banner", "-i", str(output), "-frames:v", "1", "-vf", "showinfo",
                             "-f", "null", "-"], capture_output=True, text=True).stderr
    assert "r(0.6800,0.3200) g(0.2650,0.6900) b(0.1500 0.0600) wp(0.3127, 0.3290)" in report
    assert "MaxCLL=1000, MaxFALL=400" in report


def test_unloadable_filter_is_one_line(av_input, out_dir, capsys, monkeypatch):
    monkeypatch.setattr(pipeline, "FILTER_OPTIONS", (
        pipeline.FilterOption("--sharpen", "no_such_filter", lambda _: {}, "test filter"),
    ))
    assert cli("run", av_input, out_dir / "out.mp4", "--sharpen") == 1
    assert "needs vsvideogen.no_such_filter" in one_error_line(capsys.readouterr().err)
    assert leftovers(out_dir) == []


def test_missing_input_is_one_line(out_dir, capsys):
    missing = out_dir / "missing.mp4"
    assert cli("run", missing, out_dir / "out.mp4") == 1
    line = one_error_line(capsys.readouterr().err)
    assert str(missing) in line and "does not exist" in line


def test_bad_frame_range_is_one_line(av_input, out_dir, capsys):
    assert cli("run", av_input, out_dir / "out.mp4", "--start", "9", "--end", "5") == 1
    assert "--start < --end <= 12" in one_error_line(capsys.readouterr().err)
    assert leftovers(out_dir) == []


@pytest.mark.parametrize("name", ["still.png", "clip.webm", "noext"])
def test_an_output_the_default_encode_cannot_fill_is_refused_before_filtering(av_input, out_dir, capsys, monkeypatch, name):
    monkeypatch.setattr(pipeline, "apply_chain", lambda *args: pytest.fail("filtered before the output was checked"))
    assert cli("run", av_input, out_dir / name, "--denoise", "10") == 1
    line = one_error_line(capsys.readouterr().err)
    assert "the default encode (H.264) does not go into" in line and ".mkv" in line and "-- -c:v" in line
    assert leftovers(out_dir) == []


def test_a_codec_of_the_users_fills_any_container(av_input, out_dir):
    output = out_dir / "clip.webm"
    assert cli("run", av_input, output, "--end", "2", "--", "-c:v", "libvpx-vp9", "-c:a", "libopus", "-sn") == 0
    assert probe(output).frames == 2


def test_existing_output_is_replaced_only_with_y(av_input, out_dir, capsys):
    output = out_dir / "out.mkv"
    output.write_bytes(b"keep me")
    assert cli("run", av_input, output, "--end", "2") == 1
    assert "pass -y" in one_error_line(capsys.readouterr().err)
    assert output.read_bytes() == b"keep me"
    assert cli("run", av_input, output, "--end", "2", "-y") == 0
    assert probe(output).frames == 2


def test_text_after_double_dash_must_be_an_option(av_input, out_dir, capsys):
    assert cli("run", av_input, out_dir / "a.mp4", "--", "b.mp4") == 1
    assert "not an ffmpeg option" in one_error_line(capsys.readouterr().err)


SLOW_RUN = textwrap.dedent("""
    import argparse, sys, time
    import vapoursynth as vs
    from vsvideogen import pipeline
    from vsvideogen.commands import run

    def slow_source(path):
        clip = vs.core.std.BlankClip(width=64, height=48, format=vs.YUV420P8, length=10000, fpsnum=25)
        def sleepy(n, f):
            time.sleep(0.02)
            return f
        return clip.std.ModifyFrame(clip, sleepy)

    pipeline.open_source = slow_source
    parser = argparse.ArgumentParser()
    run.add_parser(parser.add_subparsers())
    args = parser.parse_args(sys.argv[1:])
    sys.exit(args.handler(args))
""")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_interrupt_kills_ffmpeg_and_removes_the_temporary_file(av_input, out_dir, tmp_path, signum):
    script = tmp_path / "slow_run.py"
    script.write_text(SLOW_RUN, encoding="utf-8")
    output = out_dir / "out.mp4"
    process = subprocess.Popen([sys.executable, str(script), "run", str(av_input), str(output)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not leftovers(out_dir) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [name.startswith(".out.mp4.") and name.endswith(".part.mp4") for name in leftovers(out_dir)] == [True]
    time.sleep(0.3)
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert out == ""
    assert one_error_line(err) == "vsvideogen run: interrupted; no output written"
    assert leftovers(out_dir) == []


@pytest.mark.parametrize("suffix, codec_args", [(".mkv", ()), (".mp4", ("--", "-c:v", "libx265"))], ids=["default", "own-codec"])
def test_colour_tags_and_chroma_siting_reach_the_output(tmp_path, out_dir, suffix, codec_args):
    source = tmp_path / "hdr.mkv"
    tagged = "chroma_sample_loc_type=2:colour_primaries=9:transfer_characteristics=16:matrix_coefficients=9"
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25",
                    "-frames:v", "3", "-pix_fmt", "yuv420p10le", "-c:v", "libx264", "-bsf:v", f"h264_metadata={tagged}",
                    str(source)], check=True)
    output = out_dir / f"out{suffix}"
    assert cli("run", source, output, *codec_args) == 0
    props = vs.core.bs.VideoSource(str(output)).get_frame(0).props
    want = {"_Matrix": 9, "_Primaries": 9, "_Transfer": 16, "_ChromaLocation": 2}  # BT.2020, PQ, top left
    assert {key: props.get(key) for key in want} == want


def test_interlaced_input_passes_through_with_its_field_order_and_a_filter_refuses_it(tmp_path, out_dir, capsys):
    source = tmp_path / "tff.mkv"
    subprocess.run([media.ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25",
                    "-frames:v", "4", "-vf", "setfield=tff", "-c:v", "libx264", "-flags", "+ildct+ilme",
                    "-x264opts", "tff=1", str(source)], check=True)
    assert vs.core.bs.VideoSource(str(source)).get_frame(0).props["_FieldBased"] == vs.FIELD_TOP
    copied = out_dir / "copy.mkv"
    assert cli("run", source, copied) == 0
    assert vs.core.bs.VideoSource(str(copied)).get_frame(0).props["_FieldBased"] == vs.FIELD_TOP
    capsys.readouterr()
    assert cli("run", source, out_dir / "denoised.mkv", "--denoise", "5") == 1
    assert one_error_line(capsys.readouterr().err) == (
        "vsvideogen run: tff.mkv is interlaced (top field first) and the filters take progressive frames; deinterlace "
        "it first, e.g. ffmpeg -i tff.mkv -vf bwdif=mode=send_frame -c:a copy progressive.mkv (for progressive content "
        "flagged interlaced: -vf setfield=prog)")
    assert leftovers(out_dir, copied) == []


def test_y4m_header_for_converted_formats():
    rgb = vs.core.std.BlankClip(width=8, height=4, format=vs.RGBS, fpsnum=30000, fpsden=1001)
    assert y4m_compatible(rgb).format.name == "YUV444P16"
    for width, height, matrix in ((8, 4, vs.MATRIX_ST170_M), (1280, 720, vs.MATRIX_BT709)):  # what readers assume
        red = y4m_compatible(vs.core.std.BlankClip(width=width, height=height, format=vs.RGB24, color=[255, 0, 0]))
        assert red.get_frame(0).props["_Matrix"] == matrix
        decoded = vs.core.resize.Point(red, format=vs.RGB24, matrix_in=matrix).get_frame(0)  # as a player would
        assert np.allclose([np.asarray(decoded[p]).mean() for p in range(3)], [255, 0, 0], atol=1)
    gray = vs.core.std.BlankClip(width=8, height=4, format=vs.GRAY10, fpsnum=50)
    assert y4m_header(gray, {"_Range": vs.Range.RANGE_FULL}) == b"YUV4MPEG2 W8 H4 F50:1 Ip A0:0 Cmono10 XCOLORRANGE=FULL\n"
    yuv = vs.core.std.BlankClip(width=8, height=4, format=vs.YUV420P8, fpsnum=25)
    assert y4m_header(yuv, {"_SARNum": 4, "_SARDen": 3, "_ChromaLocation": 1}) == (
        b"YUV4MPEG2 W8 H4 F25:1 Ip A4:3 C420jpeg\n"
    )
    assert y4m_header(yuv, {"_FieldBased": 2}) == b"YUV4MPEG2 W8 H4 F25:1 It A0:0 C420mpeg2\n"  # top field first
    assert y4m_header(yuv, {"_FieldBased": 1}) == b"YUV4MPEG2 W8 H4 F25:1 Ib A0:0 C420mpeg2\n"


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.YUV444P10, vs.GRAY16], ids=lambda f: vs.core.get_video_format(f).name)
def test_y4m_frames_are_written_without_row_padding(fmt):
    blank = vs.core.std.BlankClip(width=98, height=6, format=fmt, length=2)

    def ramp(n: int, f: vs.VideoFrame) -> vs.VideoFrame:  # every sample differs: padding or shuffling shows
        out = f.copy()
        for p in range(out.format.num_planes):
            plane = np.asarray(out[p])
            plane[...] = (np.arange(plane.size).reshape(plane.shape) + 7 * p + n) % 251
        return out

    clip = blank.std.ModifyFrame(blank, ramp)
    stream = io.BytesIO()
    stream.write(y4m_header(clip, {}))
    for frame in clip.frames():
        write_y4m_frame(stream, frame)
    parsed = parse_y4m(stream.getvalue())
    assert len(parsed.frames) == 2
    frame = clip.get_frame(0)
    expected = b"".join(np.asarray(frame[p]).tobytes() for p in range(frame.format.num_planes))
    assert parsed.frames[0] == expected


def test_demo_writes_the_sample(tmp_path, capsys):
    output = tmp_path / "demo.mp4"
    assert cli("demo", output, "--frames", "3") == 0
    captured = capsys.readouterr()
    assert captured.out == f"{output}\n"
    info = probe(output)
    assert (info.frames, info.fps) in {(3, 25), (6, 50)}
    if info.frames == 3:
        assert "passes through unchanged" in captured.err


def test_demo_refuses_fewer_frames_than_interpolation_needs(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli("demo", tmp_path / "demo.mp4", "--frames", "1")
    assert stop.value.code == 2
    assert "1 frame(s) is too few; the demo interpolates between frames, give 2 or more" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_vsvideogen_command_runs(av_input, out_dir):
    for name in ("run", "demo", "models", "train"):
        try:
            importlib.import_module(f"vsvideogen.commands.{name}")
        except ImportError as exc:
            pytest.skip(f"vsvideogen.commands.{name} is not there yet: {exc}")
    output = out_dir / "out.mkv"
    result = subprocess.run([sys.executable, "-m", "vsvideogen.cli", "run", str(av_input), str(output),
                             "--end", "3", "--", "-crf", "30"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{output}\n"
    assert probe(output).frames == 3


def test_interpolate_doubles_frames_and_keeps_duration(av_input, out_dir):
    require_interpolate()
    output = out_dir / "double.mp4"
    assert cli("run", av_input, output, "--interpolate", "2", "--end", "4") == 0
    info = probe(output)
    assert (info.frames, info.fps, info.audio) == (8, 2 * FPS, ["aac"])
    assert info.duration == pytest.approx(4 / FPS, abs=0.06)


def test_fps_converts_to_an_exact_rate(av_input, out_dir):
    require_interpolate()
    output = out_dir / "ntsc.mkv"
    assert cli("run", av_input, output, "--fps", "60000/1001", "--end", "5") == 0
    info = probe(output)
    assert info.frames == 12  # ceil(5 frames * (60000/1001) / 25)
    assert info.fps == pytest.approx(59.94)


def test_interpolate_in_the_chain_with_a_blending_model(av_input, out_dir):
    """The real filter behind --interpolate/--fps, with a stand-in network instead of trained weights."""
    pytest.importorskip("vsvideogen.filters.interpolate")
    import torch

    class Blend(torch.nn.Module):
        def forward(self, img0, img1, timestep, scale=1.0):
            return img0 + (img1 - img0) * timestep

    options = {option.flag: option for option in pipeline.FILTER_OPTIONS}
    shared = {"model": Blend(), "device": "cpu"}
    double = pipeline.process(av_input, out_dir / "double.mp4", steps=[pipeline.FilterStep(options["--interpolate"], 2)],
                              shared=shared, start=2, end=6)
    info = probe(double.output)
    assert (double.frames, info.frames, info.fps, info.audio) == (8, 8, 2 * FPS, ["aac"])
    assert info.duration == pytest.approx(4 / FPS, abs=0.06)
    ntsc = pipeline.process(av_input, out_dir / "ntsc.mkv", steps=[pipeline.FilterStep(options["--fps"], pipeline.frame_rate("59.94"))],
                            shared=shared, end=5)
    assert (probe(ntsc.output).frames, ntsc.fps) == (12, Fraction(60000, 1001))  # '59.94' as the NTSC rate it stands for
    assert leftovers(out_dir, double.output, ntsc.output) == []


@pytest.mark.parametrize("pix_fmt, codec, written", SOURCE_FORMATS)
def test_upscale_doubles_the_size(tmp_path, out_dir, pix_fmt, codec, written):
    source = make_video(tmp_path / "in.mkv", 3, audio=False, size="64x48", pix_fmt=pix_fmt, codec=codec)
    assert probe(source).pix_fmt == pix_fmt
    output = out_dir / "up.mkv"
    assert cli("run", source, output, "--upscale", "2", "--device", "cpu") == 0
    info = probe(output)
    assert (info.frames, info.pix_fmt, info.size) == (3, written, (128, 96))


@pytest.mark.parametrize("pix_fmt, codec, written", SOURCE_FORMATS)
def test_denoise_then_deblur_in_one_run(tmp_path, out_dir, pix_fmt, codec, written):
    source = make_video(tmp_path / "in.mkv", 3, audio=False, size="64x48", pix_fmt=pix_fmt, codec=codec)
    output = out_dir / "clean.mkv"
    assert cli("run", source, output, "--denoise", "10", "--deblur", "--device", "cpu") == 0
    info = probe(output)
    assert (info.frames, info.pix_fmt, info.size) == (3, written, (64, 48))
