"""Real video frames for training: decoded once through VapourSynth and kept in memory as RGB uint8.

A source is a video file (opened with bestsource) or a ``.vpy`` script (run like ``vspipe`` does, in its own
folder, so relative paths in it are the script's; its output 0, a video clip, is used). Frames are converted
to RGBS with ``core.resize`` and quantised to uint8, so a short clip costs ``frames * width * height * 3``
bytes; a clip that would take more than half the memory available is refused before it is decoded. Scene
cuts are found on the cached frames so that samples never straddle one.
"""
from __future__ import annotations

import contextlib
import runpy
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import VSVideoGenError

_VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m2ts", ".ts", ".y4m", ".mpg", ".mpeg", ".wmv", ".flv")
# Unspecified matrices are guessed from the frame size, as players do.
_HD_WIDTH = 1280
# Share of the available memory one clip's frames may take.
_MEMORY_SHARE = 0.5
_GIB = 1 << 30


@dataclass
class Footage:
    """The frames of one clip.

    Attributes:
        name: where the frames came from (a path), for logs and metadata.
        frames: ``[T, H, W, 3]`` uint8 RGB.
        cuts: sorted indices ``i`` such that frames ``i`` and ``i + 1`` belong to different shots.
    """

    name: str
    frames: np.ndarray
    cuts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def spans_cut(self, first: int, last: int) -> bool:
        """Whether frames ``first..last`` (inclusive) cross a scene cut."""
        index = np.searchsorted(self.cuts, first)
        return bool(index < len(self.cuts) and self.cuts[index] < last)


def is_video_path(path: str | Path) -> bool:
    """Whether ``path`` names something :func:`read_footage` opens (a video file or a ``.vpy`` script)."""
    suffix = Path(path).suffix.lower()
    return suffix == ".vpy" or suffix in _VIDEO_SUFFIXES


def read_footage(path: str | Path, func: str, max_frames: int | None = None) -> Footage:
    """Decode a clip into a :class:`Footage`.

    Args:
        path: a video file, or a ``.vpy`` script whose output 0 (a video clip) is taken; the script runs in its
            own folder, as under ``vspipe``, and the working directory is restored afterwards.
        func: the calling function's name, for error messages.
        max_frames: keep at most this many frames from the start (None: all).

    Raises:
        VSVideoGenError: the path is missing, cannot be opened, fails (a script), outputs no video clip as
            output 0 (a script), has a variable format or size, or its frames would not fit in memory (more than
            half of what is available).
    """
    import vapoursynth as vs

    path = Path(path)
    if not path.is_file():
        raise VSVideoGenError(func, f"clip '{path}' does not exist; pass a video file or a .vpy script")
    clip = _open_clip(path, func)
    if clip.format is None or clip.width == 0 or clip.height == 0:
        raise VSVideoGenError(func, f"'{path}' has a variable format or size; make the script output one constant format")
    if max_frames is not None:
        clip = clip[: max(1, min(max_frames, clip.num_frames))]
    rgb = _to_rgbs(clip, vs)
    frames = _allocate(rgb.num_frames, rgb.height, rgb.width, path, func)
    for n, frame in enumerate(rgb.frames()):
        for plane in range(3):
            frames[n, :, :, plane] = np.clip(np.rint(np.asarray(frame[plane]) * 255.0), 0, 255)
    return Footage(name=str(path), frames=frames, cuts=find_cuts(frames))


def frame_size(path: str | Path, func: str) -> tuple[int, int]:
    """``(width, height)`` of the frames :func:`read_footage` would decode from ``path``, without decoding them
    (a script runs, a video file is indexed).

    Raises:
        VSVideoGenError: as :func:`read_footage`, for a missing path, one that cannot be opened, or a script
            that fails or outputs no video clip.
    """
    path = Path(path)
    if not path.exists():
        raise VSVideoGenError(func, f"clip '{path}' does not exist; pass a video file or a .vpy script")
    clip = _open_clip(path, func)
    return clip.width, clip.height


def _open_clip(path: Path, func: str):
    import vapoursynth as vs

    if path.suffix.lower() != ".vpy":
        try:
            return vs.core.bs.VideoSource(str(path))
        except vs.Error as exc:
            raise VSVideoGenError(func, f"bestsource cannot open '{path}' ({exc}); pass a readable video file") from exc
    script = str(path.absolute())
    vs.clear_outputs()
    try:
        try:
            with contextlib.chdir(path.parent):  # as vspipe does: the script's relative paths are its folder's
                runpy.run_path(script, run_name="__vapoursynth__")
        except Exception as exc:  # the script's own error, of any type
            lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == script]
            where = f" at line {lines[-1]}" if lines else ""
            message = (str(exc).strip().splitlines() or [""])[0]
            raise VSVideoGenError(
                func, f"script '{path}' failed{where}: {type(exc).__name__}: {message}; fix the script or pass another clip"
            ) from exc
        outputs = vs.get_outputs()
        if 0 not in outputs:
            raise VSVideoGenError(func, f"'{path}' sets no output 0; end the script with clip.set_output()")
        if not isinstance(outputs[0], vs.VideoOutputTuple):
            raise VSVideoGenError(func, f"output 0 of '{path}' is an audio node; output 0 must be a video clip: "
                                  "give the audio another index, e.g. audio.set_output(1)")
        return outputs[0].clip
    finally:
        vs.clear_outputs()


def _allocate(count: int, height: int, width: int, path: Path, func: str) -> np.ndarray:
    """An empty ``[count, height, width, 3]`` uint8 array for the frames of ``path``, refused up front when it
    would take more than :data:`_MEMORY_SHARE` of the available memory."""
    frame_bytes = height * width * 3
    what = f"the {count} frames of '{path}' ({width}x{height}) need {count * frame_bytes / _GIB:.1f} GiB as RGB"
    available = _available_memory()
    if available is not None and count * frame_bytes > available * _MEMORY_SHARE:
        fit = max(1, int(available * _MEMORY_SHARE) // frame_bytes)
        raise VSVideoGenError(func, f"{what}, more than {_MEMORY_SHARE:.0%} of the {available / _GIB:.1f} GiB of "
                              f"memory available; read fewer, e.g. --max-frames {fit}")
    try:
        return np.empty((count, height, width, 3), dtype=np.uint8)
    except MemoryError as exc:
        raise VSVideoGenError(func, f"{what}, more than can be allocated; read fewer with --max-frames N") from exc


def _available_memory() -> int | None:
    """Bytes of memory available for new allocations (Linux's MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return None


def _to_rgbs(clip, vs):
    if clip.format.color_family == vs.RGB:
        return clip.resize.Point(format=vs.RGBS)
    if clip.format.color_family == vs.GRAY:
        return clip.resize.Point(format=vs.GRAYS).std.ShufflePlanes([0, 0, 0], vs.RGB)
    props = clip.get_frame(0).props
    matrix = props.get("_Matrix", 2)
    if matrix in (2, 0):  # unspecified (or RGB-tagged YUV): guess like players do
        matrix = 1 if clip.width >= _HD_WIDTH else 6
    return clip.resize.Bicubic(format=vs.RGBS, matrix_in=matrix)


def find_cuts(frames: np.ndarray, ratio: float = 2.0, floor: float = 0.06) -> np.ndarray:
    """Indices ``i`` where frame ``i + 1`` starts a new shot.

    A cut is a jump in the mean absolute difference between consecutive (4x subsampled, grey) frames that
    is large in absolute terms (``floor``, in 0..1 units) and ``ratio`` times the largest difference among
    the two pairs on either side, so fast but continuous motion, which changes smoothly, is not a cut.
    """
    if len(frames) < 2:
        return np.zeros(0, dtype=np.int64)
    grey = frames[:, ::4, ::4].astype(np.float32).mean(axis=3) / 255.0
    diffs = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
    cuts = []
    for i, d in enumerate(diffs):
        neighbours = np.concatenate([diffs[max(0, i - 2) : i], diffs[i + 1 : i + 3]])
        if d > floor and d > ratio * (float(neighbours.max()) if len(neighbours) else 0.0):
            cuts.append(i)
    return np.asarray(cuts, dtype=np.int64)
