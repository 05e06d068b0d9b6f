"""The source's other streams in a ``vsvideogen run`` output: which audio, subtitle and attachment streams the
output's container takes and in which codec, and text subtitles and chapters cut to the frames a
``--start``/``--end`` run keeps."""
from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

__all__ = ["VIDEO_ONLY", "SourceStream", "StreamPlan", "cut_ass_events", "cut_chapters", "plan_streams", "probe_streams"]


@dataclass(frozen=True)
class SourceStream:
    """One stream of the source besides its video, as ``ffmpeg -i`` reports it."""

    index: int
    kind: str  # "Audio", "Subtitle" or "Attachment"
    codec: str
    dispositions: tuple[str, ...] = ()  # e.g. ("default", "forced")


@dataclass
class StreamPlan:
    """How the source's streams go into the output: ``inputs`` are ffmpeg input options after the source
    (input #1), for inputs #2 and on; ``options`` the output's ``-map``/``-c``/``-map_metadata``/
    ``-map_chapters`` options; ``notes`` what was left out or converted."""

    inputs: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_STREAM_LINE = re.compile(r"^\s*Stream #0:(\d+)[^:]*: (Audio|Subtitle|Attachment): (\w+)(.*)$", re.MULTILINE)
_DISPOSITION = re.compile(r"\((default|forced|hearing_impaired|visual_impaired|comment|original|dub|captions|"
                          r"descriptions|lyrics|karaoke)\)")
# Containers of the MP4 family take only some audio codecs (ffmpeg 9's muxers: FLAC and Opus go in MP4 only, and
# .m4v, the iPod flavour, takes three) and text subtitles as mov_text.
_MP4_FAMILY = {".mp4", ".m4v", ".mov"}
_MP4_AUDIO = {
    ".mp4": {"aac", "mp3", "mp2", "ac3", "eac3", "alac", "opus", "flac", "pcm_s16le"},
    ".mov": {"aac", "mp3", "mp2", "ac3", "eac3", "alac", "pcm_s16le"},
    ".m4v": {"aac", "ac3", "alac"},
}
_TEXT_SUBTITLES = {"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text"}
# Subtitle codecs Matroska holds as they are; its other text subtitles (mov_text from an MP4) become SRT.
_MATROSKA_SUBTITLES = {"subrip", "ass", "ssa", "webvtt", "dvd_subtitle", "hdmv_pgs_subtitle", "dvb_subtitle"}
# The encoder that writes a cut text subtitle back in the codec it was copied as.
_TEXT_ENCODER = {"subrip": "srt", "ass": "ass", "ssa": "ass", "webvtt": "webvtt"}
# MPEG transport streams and AVI take fewer audio codecs (others are re-encoded to AAC) and none of the
# subtitles a source usually has (they are left out).
_NO_SUBTITLES = {".ts", ".m2ts", ".mts", ".avi"}
_LIMITED_AUDIO = {
    ".ts": {"aac", "mp3", "mp2", "ac3", "eac3", "opus"},
    ".m2ts": {"aac", "mp3", "mp2", "ac3", "eac3"},
    ".mts": {"aac", "mp3", "mp2", "ac3", "eac3"},
    ".avi": {"aac", "mp3", "mp2", "ac3", "pcm_s16le"},
    **_MP4_AUDIO,
}
# Containers that hold attachments (the fonts an ASS subtitle is styled with).
_ATTACHMENTS = {".mkv"}
# Containers of raw video alone: the frames go in as piped, without audio or subtitles.
VIDEO_ONLY = {".y4m"}


def probe_streams(ffmpeg: str, path: Path) -> list[SourceStream]:
    """The audio, subtitle and attachment streams of ``path``."""
    report = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True, errors="replace"
    ).stderr
    return [SourceStream(int(index), kind, codec, tuple(_DISPOSITION.findall(rest)))
            for index, kind, codec, rest in _STREAM_LINE.findall(report)]


def plan_streams(
    ffmpeg: str,
    source: Path,
    streams: Sequence[SourceStream],
    suffix: str,
    span: tuple[Fraction, Fraction] | None,
    workdir: Path,
) -> StreamPlan:
    """How ``streams`` of ``source`` (input #1 of the encode) go into an output with ``suffix``.

    ``span``: (start, duration) in seconds from the source's start of what the output keeps, when cut. A copied
    audio stream would not follow a cut (a copy starts at the packet the seek lands on, often a video keyframe
    seconds earlier), so cut audio is re-encoded to AAC. Text subtitles are cut event by event: ffmpeg's own
    seek keeps every earlier event, which in Matroska moved the whole output's start and in MP4 put later
    events out of time. They are written to ``workdir`` and read back as further inputs. Picture subtitles
    (PGS, DVD, DVB) cannot be cut that way and are left out of a cut output. Chapters are kept, cut to the
    span."""
    container = suffix.lower()
    plan = StreamPlan()
    if container in VIDEO_ONLY:
        plan.notes = [f"{s.kind.lower()} stream {s.index} ({s.codec}) left out: {suffix} holds video only"
                      for s in streams if s.kind in ("Audio", "Subtitle")]
        return plan

    def add(stream: SourceStream, kind_options: list[str], replaced_by: str | None = None) -> None:
        """Map ``stream`` (or ``replaced_by``, a stream of another input standing in for it) as the output's
        next stream, with the source stream's tags (language, title, file name) and, when replaced, its
        dispositions."""
        output_index = 1 + plan.options.count("-map")  # the piped video is stream 0
        plan.options += ["-map", replaced_by or f"1:{stream.index}", *kind_options,
                         f"-map_metadata:s:{output_index}", f"1:s:{stream.index}"]
        if replaced_by:
            plan.options += [f"-disposition:{output_index}", "+".join(stream.dispositions) or "0"]

    for k, stream in enumerate(s for s in streams if s.kind == "Audio"):
        copy = span is None and stream.codec in _LIMITED_AUDIO.get(container, {stream.codec})
        add(stream, [f"-c:a:{k}", "copy" if copy else "aac"])
        if span is not None:
            plan.notes.append(f"audio stream {stream.index} ({stream.codec}) re-encoded to AAC, to cut it at the "
                              "first kept frame")
        elif not copy:
            plan.notes.append(f"audio stream {stream.index} ({stream.codec}) re-encoded to AAC: {suffix} cannot "
                              "hold it")
    kept = 0
    for stream in (s for s in streams if s.kind == "Subtitle"):
        codec = _subtitle_codec(container, stream.codec)
        if codec is None:
            plan.notes.append(f"subtitle stream {stream.index} ({stream.codec}) left out: {suffix} cannot hold it; "
                              "use .mkv")
            continue
        if span is None:
            add(stream, [f"-c:s:{kept}", codec])
        elif stream.codec not in _TEXT_SUBTITLES:
            plan.notes.append(f"subtitle stream {stream.index} ({stream.codec}) left out: picture subtitles cannot "
                              "be cut to --start/--end; run without them to keep it")
            continue
        else:
            cut = workdir / f"subtitle-{stream.index}.ass"
            problem = _write_cut_subtitle(ffmpeg, source, stream.index, span, cut)
            if problem:
                plan.notes.append(f"subtitle stream {stream.index} ({stream.codec}) left out: {problem}")
                continue
            plan.inputs += ["-i", str(cut)]
            encoder = _TEXT_ENCODER.get(stream.codec, "srt") if codec == "copy" else codec
            add(stream, [f"-c:s:{kept}", encoder], replaced_by=f"{1 + len(plan.inputs) // 2}:0")
        kept += 1
    for stream in (s for s in streams if s.kind == "Attachment"):
        if container in _ATTACHMENTS:
            add(stream, [])
        else:
            plan.notes.append(f"attachment stream {stream.index} ({stream.codec}) left out: {suffix} cannot hold "
                              "it; use .mkv")
    chapters = workdir / "chapters.txt" if span is not None else None
    if chapters is not None and _write_cut_chapters(ffmpeg, source, span, chapters):
        plan.inputs += ["-i", str(chapters)]
        plan.options += ["-map_chapters", str(1 + len(plan.inputs) // 2)]
    else:
        plan.options += ["-map_chapters", "-1" if chapters is not None else "1"]
    return plan


def _subtitle_codec(container: str, codec: str) -> str | None:
    """How a ``codec`` subtitle stream goes into ``container``: ``"copy"``, the text codec it is converted to,
    or None where the container holds no such subtitle (transport streams and AVI none at all; MP4 text as
    mov_text; WebM text as WebVTT; Matroska, and any other container, its own codecs, other text as SRT)."""
    text = codec in _TEXT_SUBTITLES
    if container in _NO_SUBTITLES:
        return None
    if container in _MP4_FAMILY:
        return "mov_text" if text else None
    if container == ".webm":
        return "webvtt" if text else None
    if codec in _MATROSKA_SUBTITLES:
        return "copy"
    return "srt" if text else None


def _write_cut_subtitle(ffmpeg: str, source: Path, index: int, span: tuple[Fraction, Fraction], path: Path) -> str:
    """Write stream ``index`` of ``source`` as ASS to ``path``, cut to ``span``; what went wrong, or ""."""
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(source), "-map", f"0:{index}",
         "-c:s", "ass", "-f", "ass", "-"], capture_output=True, text=True, errors="replace",
    )
    if result.returncode != 0:
        return f"ffmpeg could not read it ({(result.stderr.strip().splitlines() or ['no message'])[-1]})"
    script, events = cut_ass_events(result.stdout, *span)
    if not events:
        return "none of its subtitles falls within the kept frames"
    path.write_text(script, encoding="utf-8")
    return ""


def _write_cut_chapters(ffmpeg: str, source: Path, span: tuple[Fraction, Fraction], path: Path) -> bool:
    """Write the chapters of ``source`` that overlap ``span`` to ``path`` (ffmetadata); whether there are any."""
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(source),
         "-f", "ffmetadata", "-"], capture_output=True, text=True, errors="replace",
    )
    metadata, kept = cut_chapters(result.stdout, *span) if result.returncode == 0 else ("", 0)
    if kept:
        path.write_text(metadata, encoding="utf-8")
    return kept > 0


_CHAPTER_FIELD = re.compile(r"^(TIMEBASE|START|END)=(.*)$")


def cut_chapters(metadata: str, start: Fraction, duration: Fraction) -> tuple[str, int]:
    """The chapters of ``metadata`` (ffmpeg's ffmetadata text, times from the source's start) that overlap
    ``duration`` seconds from ``start``, shortened to that span and timed from its start, in microseconds; and
    how many are left. Their titles and other tags are kept."""
    header, *chapters = metadata.split("[CHAPTER]\n")
    kept = []
    for chapter in chapters:
        fields = dict(m.groups() for line in chapter.splitlines() if (m := _CHAPTER_FIELD.match(line)))
        timebase = Fraction(fields.get("TIMEBASE", "1/1000"))
        shown = max(int(fields["START"]) * timebase, start)
        hidden = min(int(fields["END"]) * timebase, start + duration)
        if hidden <= shown:
            continue
        tags = [line for line in chapter.splitlines() if line and not _CHAPTER_FIELD.match(line)]
        kept.append("\n".join(["TIMEBASE=1/1000000", f"START={round((shown - start) * 10**6)}",
                               f"END={round((hidden - start) * 10**6)}", *tags]) + "\n")
    return header + "".join(f"[CHAPTER]\n{chapter}" for chapter in kept), len(kept)


_ASS_TIME = re.compile(r"^(\d+):(\d\d):(\d\d)\.(\d\d)$")


def cut_ass_events(script: str, start: Fraction, duration: Fraction) -> tuple[str, int]:
    """``script`` (an ASS file) with only its events shown within ``duration`` seconds from ``start``, shortened
    to that span and timed from its start; and how many events are left. Other lines are kept as they are."""
    first, last = _centiseconds(start), _centiseconds(start + duration)
    lines, kept = [], 0
    for line in script.splitlines():
        if line.startswith("Dialogue:"):
            layer, shown, hidden, rest = line[len("Dialogue:"):].split(",", 3)
            shown_cs, hidden_cs = max(_ass_centiseconds(shown), first), min(_ass_centiseconds(hidden), last)
            if hidden_cs <= shown_cs:
                continue
            line = f"Dialogue:{layer},{_ass_time(shown_cs - first)},{_ass_time(hidden_cs - first)},{rest}"
            kept += 1
        lines.append(line)
    return "\n".join(lines) + "\n", kept


def _centiseconds(seconds: Fraction) -> int:
    return round(seconds * 100)


def _ass_centiseconds(text: str) -> int:
    hours, minutes, seconds, hundredths = (int(v) for v in _ASS_TIME.match(text.strip()).groups())
    return ((hours * 60 + minutes) * 60 + seconds) * 100 + hundredths


def _ass_time(centiseconds: int) -> str:
    seconds, hundredths = divmod(centiseconds, 100)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{hundredths:02d}"
