"""The source's audio, subtitles and attachments in ``vsvideogen run`` outputs, cut and uncut."""
from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from vsvideogen.streams import cut_ass_events, cut_chapters

from .media import ffmpeg
from .test_cli_run import cli

# Five events around the kept span 0.8-1.4 s (frames 20 to 35 at 25 fps): before it, across its start, inside,
# across its end, after it.
EVENTS = [(0.0, 0.4, "before"), (0.6, 1.0, "across start"), (1.1, 1.2, "inside"), (1.3, 1.7, "across end"),
          (1.8, 1.9, "after")]
KEPT = [(0.0, 0.2, "across start"), (0.3, 0.4, "inside"), (0.5, 0.6, "across end")]


def _srt_time(seconds: float) -> str:
    milliseconds = round(seconds * 1000)
    return f"00:00:{milliseconds // 1000:02d},{milliseconds % 1000:03d}"


@pytest.fixture(scope="module")
def subtitled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of 64x48 at 25 fps with AAC audio tagged French, SRT subtitles tagged English, default and forced,
    three chapters and a font attached, in Matroska."""
    folder = tmp_path_factory.mktemp("subtitled")
    srt = folder / "events.srt"
    srt.write_text("".join(f"{k}\n{_srt_time(a)} --> {_srt_time(b)}\n{text}\n\n"
                           for k, (a, b, text) in enumerate(EVENTS, 1)), encoding="utf-8")
    chapters = folder / "chapters.txt"
    chapters.write_text(";FFMETADATA1\n" + "".join(
        f"[CHAPTER]\nTIMEBASE=1/1000\nSTART={start}\nEND={end}\ntitle={title}\n"
        for start, end, title in [(0, 700, "opening"), (700, 1300, "middle"), (1300, 2000, "end")]), encoding="utf-8")
    font = folder / "font.ttf"
    font.write_bytes(b"not really a font, but attached as one")
    path = folder / "in.mkv"
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=2",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2", "-i", str(srt),
                    "-i", str(chapters), "-map_chapters", "3",
                    "-map", "0:v", "-map", "1:a", "-map", "2:s", "-c:v", "libx264", "-c:a", "aac", "-c:s", "srt",
                    "-metadata:s:a:0", "language=fra", "-metadata:s:s:0", "language=eng",
                    "-metadata:s:s:0", "title=English SDH", "-disposition:s:0", "default+forced",
                    "-attach", str(font), "-metadata:s:t", "mimetype=application/x-truetype-font", str(path)],
                   check=True)
    return path


def subtitle_events(path: Path) -> list[tuple[float, float, str]]:
    """The first subtitle stream of ``path`` as (shown, hidden, text), in seconds from the file's start."""
    srt = subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:s:0",
                          "-f", "srt", "-"], capture_output=True, text=True, check=True).stdout
    seconds = [[int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000 for h, m, s, ms in pair]
               for pair in re.findall(r"(\d+):(\d+):(\d+),(\d+) --> (\d+):(\d+):(\d+),(\d+)", srt)
               for pair in [[pair[:4], pair[4:]]]]
    texts = re.findall(r"--> .*\n(.+)\n", srt)
    return [(shown, hidden, text) for (shown, hidden), text in zip(seconds, texts)]


def chapters(report: str) -> list[tuple[float, float, str]]:
    """The chapters in ``ffmpeg -i``'s report: (start, end, title)."""
    return [(float(start), float(end), title) for start, end, title in re.findall(
        r"Chapter #0:\d+: start ([\d.]+), end ([\d.]+)\s+Metadata:\s+title\s+: (.*)", report)]


def stream_report(path: Path) -> str:
    return subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def test_cut_ass_events_keeps_what_shows_in_the_span_timed_from_its_start():
    script = ("[Script Info]\nTitle: x\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, "
              "MarginV, Effect, Text\n"
              + "".join(f"Dialogue: 0,0:00:0{a:.2f},0:00:0{b:.2f},Default,,0,0,0,,{text}, with a comma\n"
                        for a, b, text in EVENTS))
    cut, kept = cut_ass_events(script, Fraction(4, 5), Fraction(3, 5))
    assert kept == 3
    assert cut.startswith("[Script Info]\nTitle: x\n\n[Events]\nFormat: Layer")
    assert re.findall(r"^Dialogue: 0,(.*)$", cut, re.MULTILINE) == [
        f"0:00:{a:05.2f},0:00:{b:05.2f},Default,,0,0,0,,{text}, with a comma" for a, b, text in KEPT]


@pytest.mark.parametrize("suffix, codec", [(".mkv", "subrip"), (".mp4", "mov_text")])
def test_a_cut_keeps_the_subtitles_shown_in_it_timed_from_its_first_frame(subtitled, tmp_path, suffix, codec):
    output = tmp_path / f"out{suffix}"
    assert cli("run", subtitled, output, "--start", "20", "--end", "35") == 0
    report = stream_report(output)
    assert re.search(r"Duration: 00:00:00\.6\d, start: 0\.000000", report), report  # ffmpeg's seek kept 0.8 s more
    assert re.search(rf"Stream #0:2\S*\(eng\): Subtitle: {codec}.* \(default\) \(forced\)", report), report
    assert re.search(r"Stream #0:1\S*\(fra\): Audio", report), report
    assert subtitle_events(output) == [(pytest.approx(a, abs=0.011), pytest.approx(b, abs=0.011), text)
                                       for a, b, text in KEPT]
    assert chapters(report) == [(0.0, pytest.approx(0.5), "middle"), (pytest.approx(0.5), pytest.approx(0.6), "end")]


def test_matroska_keeps_attachments_and_the_tags_of_every_stream(subtitled, tmp_path, capsys):
    output = tmp_path / "out.mkv"
    assert cli("run", subtitled, output) == 0
    report = stream_report(output)
    assert re.search(r"Stream #0:3: Attachment: \w+\s+Metadata:\s+filename\s+: font.ttf", report), report
    assert re.search(r"Stream #0:2\(eng\): Subtitle: subrip.*\(default\) \(forced\)\s+Metadata:\s+title\s+: "
                     r"English SDH", report), report
    assert subtitle_events(output) == [(pytest.approx(a, abs=0.002), pytest.approx(b, abs=0.002), text)
                                       for a, b, text in EVENTS]
    assert chapters(report) == [(0.0, 0.7, "opening"), (0.7, 1.3, "middle"), (1.3, 2.0, "end")]
    assert cli("run", subtitled, tmp_path / "out.mp4") == 0
    assert "attachment stream 3 (ttf) left out: .mp4 cannot hold it; use .mkv" in capsys.readouterr().err


def test_cut_chapters_keeps_what_overlaps_the_span_with_its_tags():
    metadata = (";FFMETADATA1\nencoder=x\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=700\ntitle=opening\n"
                "[CHAPTER]\nTIMEBASE=1/1000000000\nSTART=700000000\nEND=1300000000\ntitle=middle\\=2\n"
                "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1300\nEND=2000\ntitle=end\n")
    cut, kept = cut_chapters(metadata, Fraction(4, 5), Fraction(3, 5))
    assert kept == 2
    assert cut == (";FFMETADATA1\nencoder=x\n[CHAPTER]\nTIMEBASE=1/1000000\nSTART=0\nEND=500000\ntitle=middle\\=2\n"
                   "[CHAPTER]\nTIMEBASE=1/1000000\nSTART=500000\nEND=600000\ntitle=end\n")
    assert cut_chapters(metadata, Fraction(5), Fraction(1)) == (";FFMETADATA1\nencoder=x\n", 0)
