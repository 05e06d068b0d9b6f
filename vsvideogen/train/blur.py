"""Blur synthesis for ``vsvideogen train deblur``: motion blur from real footage and photos, defocus, noise.

Motion blur is what a longer exposure records: the mean of the instants the shutter stays open. Real footage
only gives whole frames, so, as motion-blur datasets are built from high-speed video, the instants are
made by temporal upsampling: ``subframes`` (K) frames per frame interval, K - 1 of them interpolated between
each pair of consecutive frames with vsvideogen's interpolation network (``interpolate-default``). Frame
``i`` of the blurred clip is the mean of the instants ``i + j / K`` for ``|j| <= m``, ``m = round(a * K)``,
with an exposure half-span ``a`` (in frame intervals) from :attr:`BlurConfig.exposure`, drawn once per run of
:attr:`BlurConfig.exposure_frames` frames (a camera keeps its shutter for a while, so a window's neighbours are
mostly blurred alike, as in real footage); so the
sharp frame ``i`` is the middle of its own exposure and stays the training target. Instants beyond the
clip's ends or a scene cut are the frame itself (the exposure is shortened on that side). This is computed
once per training run (:func:`blurred_footage`) on the training device and kept as 8-bit frames.

Photos under a synthetic camera move (:func:`vsvideogen.train.photos.camera_move_frames`) give exact instants
at any time: :func:`photo_window` renders every frame of a window as the mean of ``2m + 1`` instants.

Defocus (:func:`disc_kernel`): a uniform disc of random radius, anti-aliased, applied to every frame of a
window with probability :attr:`BlurConfig.defocus_prob` (on top of any motion blur). Last, every window gets
white Gaussian noise of a small sigma (0..``max_noise`` levels) and is quantised to 8 bits, so the network
does not learn to rely on noiseless floats.

Every random choice is drawn from the ``numpy.random.Generator`` passed in.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VSVideoGenError
from .footage import Footage
from .photos import CameraMotion, camera_move_frames

FUNC = "train"

Interpolator = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""``(img0, img1, times)`` -> the frames at ``times`` (``[K]``) between ``[1, 3, H, W]`` frames: ``[K, 3, H, W]``."""

#: The interpolation network that makes the instants of real footage.
INTERPOLATOR = "interpolate-default"
#: The camera move of photo windows, over the whole window (``2 * radius`` frame intervals).
PHOTO_MOTION = CameraMotion(max_shift=48.0, max_zoom=0.05, max_rotation=2.0, curvature=0.3)


@dataclass(frozen=True)
class BlurConfig:
    """How blur is synthesised.

    Attributes:
        subframes: instants per frame interval (K) of the upsampled footage and of photo exposures.
        exposure: range of the exposure half-span in frame intervals (0.5: a 360-degree shutter; 1: two frame
            intervals, as a slow shutter at half the frame rate records); at most 1.
        exposure_frames: consecutive frames of a clip that share one exposure (1: a new one every frame).
        defocus_prob: chance a window is also defocused.
        max_defocus: largest defocus disc radius in pixels (radii are uniform in ``0.5..max_defocus``).
        max_noise: largest sigma, 8-bit levels, of the noise added before 8-bit quantisation.
    """

    subframes: int = 8
    exposure: tuple[float, float] = (0.25, 1.0)
    exposure_frames: int = 12
    defocus_prob: float = 0.3
    max_defocus: float = 3.0
    max_noise: float = 2.0

    def check(self) -> None:
        """Raise :class:`VSVideoGenError` for out-of-range settings."""
        lo, hi = self.exposure
        if self.subframes < 1 or self.exposure_frames < 1 or not 0 <= lo <= hi <= 1:
            raise VSVideoGenError(FUNC, f"subframes={self.subframes}, exposure_frames={self.exposure_frames}, "
                                        f"exposure={self.exposure}: need subframes >= 1, exposure_frames >= 1 and "
                                        "0 <= exposure low <= high <= 1")

    def draw_half_spans(self, rng: np.random.Generator, frames: int) -> np.ndarray:
        """The exposure half-span of each of ``frames`` consecutive frames: one draw from :attr:`exposure` per
        run of :attr:`exposure_frames` frames."""
        runs = -(-frames // self.exposure_frames)
        return np.repeat(rng.uniform(*self.exposure, runs), self.exposure_frames)[:frames]
        if not 0 <= self.defocus_prob <= 1 or self.max_defocus < 0.5 or self.max_noise < 0:
            raise VSVideoGenError(FUNC, "need 0 <= defocus_prob <= 1, max_defocus >= 0.5 and max_noise >= 0")


def linear_blend(img0: torch.Tensor, img1: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """An :data:`Interpolator` without motion: the cross-fade ``(1 - t) * img0 + t * img1``."""
    t = times.to(img0).reshape(-1, 1, 1, 1)
    return img0 * (1 - t) + img1 * t


def interpolator_tag(device: torch.device, dtype: torch.dtype) -> str:
    """What :func:`network_interpolator` on ``device`` in ``dtype`` is, for a blur cache's key: its weights'
    sha256, the device type and the dtype."""
    from ..models.registry import get_spec

    return f"{get_spec(INTERPOLATOR, FUNC).sha256}-{device.type}-{str(dtype).removeprefix('torch.')}"


def network_interpolator(device: torch.device, dtype: torch.dtype, batch: int = 8) -> Interpolator:
    """An :data:`Interpolator` running vsvideogen's default interpolation network on ``device``.

    Frames are padded (edge replication) to the network's size multiple and cropped back; results are clamped
    to 0..1. ``batch`` timesteps go through the network at once.
    """
    from ..models.registry import load_model

    net = load_model(INTERPOLATOR, "interpolate", device, dtype, FUNC)
    modulo = net.required_modulo(1.0)

    def interpolate(img0: torch.Tensor, img1: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        h, w = img0.shape[-2:]
        pad = (0, -w % modulo, 0, -h % modulo)
        a, b = (F.pad(x.to(device, dtype), pad, mode="replicate") for x in (img0, img1))
        out = []
        with torch.inference_mode():
            for part in times.split(batch):
                k = len(part)
                mid = net(a.expand(k, -1, -1, -1), b.expand(k, -1, -1, -1), part.to(device, dtype), 1.0)
                out.append(mid[..., :h, :w].float().clamp(0.0, 1.0))
        return torch.cat(out)

    return interpolate


def exposure_offsets(half_span: float, subframes: int) -> np.ndarray:
    """The instants ``j / K`` (``|j| <= round(half_span * K)``) an exposure averages, relative to its middle."""
    m = round(half_span * subframes)
    return np.arange(-m, m + 1) / subframes


def motion_blur(
    footage: Footage,
    interpolate: Interpolator,
    half_spans: np.ndarray,
    subframes: int,
    device: torch.device | str = "cpu",
    indices: list[int] | None = None,
) -> np.ndarray:
    """Motion-blurred frames of a clip (see the module docstring): ``[len(indices), H, W, 3]`` uint8.

    Args:
        footage: the sharp clip.
        interpolate: makes the instants between two consecutive frames.
        half_spans: the exposure half-span of every frame of the clip, in frame intervals (at most 1).
        subframes: instants per frame interval (K).
        device: where frames are interpolated and averaged.
        indices: the frames to blur, ascending (default: all).
    """
    n = len(footage)
    indices = list(range(n)) if indices is None else indices
    cache: dict[int, torch.Tensor] = {}

    def frame(i: int) -> torch.Tensor:
        return torch.from_numpy(footage.frames[i]).to(device).permute(2, 0, 1)[None].float() / 255.0

    def between(i: int) -> torch.Tensor | None:
        """Instants ``i + j / K``, ``j = 0..K``, of the pair (i, i + 1); None across a cut or the clip's end."""
        if i < 0 or i + 1 >= n or footage.spans_cut(i, i + 1):
            return None
        if i not in cache:
            for old in [k for k in cache if k < i - 1]:
                del cache[old]
            a, b = frame(i), frame(i + 1)
            inner = torch.arange(1, subframes, dtype=torch.float32) / subframes
            mids = interpolate(a, b, inner).to(device).float() if subframes > 1 else a[:0]
            cache[i] = torch.cat([a, mids, b])
        return cache[i]

    out = np.empty((len(indices), *footage.frames.shape[1:]), dtype=np.uint8)
    for k, i in enumerate(indices):
        centre = frame(i)
        total = torch.zeros_like(centre)
        steps = np.rint(exposure_offsets(float(half_spans[i]), subframes) * subframes).astype(int)
        for j in steps:
            if j == 0:
                total += centre
                continue
            pair = between(i if j > 0 else i - 1)
            total += centre if pair is None else pair[j if j > 0 else subframes + j][None]
        mean = total / len(steps)
        out[k] = (mean[0] * 255.0).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return out


def blurred_footage(
    footage: Footage,
    interpolate: Interpolator,
    config: BlurConfig,
    rng: np.random.Generator,
    device: torch.device | str = "cpu",
    cache: tuple[Path, str] | None = None,
) -> Footage:
    """``footage`` with each frame's motion-blurred version: a :class:`Footage` of ``[T, H, W, 6]`` frames,
    channels 0-2 blurred and 3-5 sharp, with the original's cuts (exposures drawn from ``rng``).

    ``cache``: ``(folder, tag)``, where ``tag`` names the interpolator (its weights and device). The blurred
    frames are kept there as ``.npy`` files named by a hash of the sharp frames, the cuts, the exposures, the
    instants per interval and the tag, and reused when all of them match (``rng`` is drawn from the same way
    either way, so later draws do not change).
    """
    half_spans = config.draw_half_spans(rng, len(footage))
    path = None if cache is None else cache[0] / f"{_blur_key(footage, half_spans, config.subframes, cache[1])}.npy"
    blurred = _load_cached(path, (*footage.frames.shape[:3], 3))
    if blurred is None:
        blurred = motion_blur(footage, interpolate, half_spans, config.subframes, device)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            with partial.open("wb") as f:
                np.save(f, blurred)
            partial.replace(path)  # never a half-written file under the final name
    return Footage(footage.name, np.concatenate([blurred, footage.frames], axis=3), footage.cuts)


def _load_cached(path: Path | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """The cached blurred frames at ``path``, or None when there are none or the file is unreadable or of
    another shape (it is then made again and overwritten)."""
    if path is None or not path.is_file():
        return None
    try:
        frames = np.load(path)
    except (OSError, ValueError):
        return None
    return frames if frames.shape == shape and frames.dtype == np.uint8 else None


def _blur_key(footage: Footage, half_spans: np.ndarray, subframes: int, tag: str) -> str:
    """A hex digest of everything the blurred frames depend on (see :func:`blurred_footage`)."""
    digest = hashlib.sha256(f"{footage.frames.shape}|{subframes}|{tag}|".encode())
    for array in (footage.frames, footage.cuts.astype(np.int64), half_spans.astype(np.float64)):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:32]


def disc_kernel(radius: float, supersample: int = 8) -> torch.Tensor:
    """A ``[k, k]`` defocus kernel (``k = 2 * ceil(radius) + 1``): the disc of ``radius`` pixels, each pixel
    weighted by the share of it the disc covers (``supersample`` x ``supersample`` points), summing to 1.

    ``radius <= 0`` gives ``[[1]]`` (no blur).
    """
    if radius <= 0:
        return torch.ones(1, 1)
    half = math.ceil(radius)
    points = (torch.arange(supersample, dtype=torch.float64) + 0.5) / supersample - 0.5
    coords = torch.arange(-half, half + 1, dtype=torch.float64)
    fine = (coords[:, None] + points[None, :]).reshape(-1)
    inside = (fine[:, None] ** 2 + fine[None, :] ** 2 <= radius * radius).double()
    k = 2 * half + 1
    weights = inside.reshape(k, supersample, k, supersample).sum((1, 3))
    if weights.sum() == 0:  # a disc smaller than every sample point: the centre pixel
        weights[half, half] = 1
    return (weights / weights.sum()).float()


def defocus(frames: torch.Tensor, radius: float) -> torch.Tensor:
    """``frames`` (``[..., C, H, W]``) convolved with :func:`disc_kernel` of ``radius`` (edges reflected)."""
    kernel = disc_kernel(radius).to(frames)
    half = kernel.shape[-1] // 2
    if half == 0:
        return frames
    shape = frames.shape
    flat = frames.reshape(-1, 1, *shape[-2:])
    pad = min(half, shape[-1] - 1, shape[-2] - 1)
    flat = F.pad(flat, (half,) * 4, mode="reflect" if pad == half else "replicate")
    return F.conv2d(flat, kernel[None, None]).reshape(shape)


def finish_window(blurred: torch.Tensor, rng: np.random.Generator, config: BlurConfig) -> torch.Tensor:
    """Maybe defocus the window (``[T, C, H, W]``, 0..1), then add small noise and quantise to 8 bits."""
    if rng.random() < config.defocus_prob:
        blurred = defocus(blurred, float(rng.uniform(0.5, config.max_defocus)))
    sigma = float(rng.uniform(0.0, config.max_noise)) / 255.0
    noise = torch.from_numpy(rng.standard_normal(blurred.shape, dtype=np.float32))
    return torch.round((blurred + noise * sigma).clamp(0.0, 1.0) * 255.0) / 255.0


def photo_window(
    photo: np.ndarray, size: int, radius: int, config: BlurConfig, rng: np.random.Generator,
    motion: CameraMotion = PHOTO_MOTION,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A motion-blurred window of ``2 * radius + 1`` frames of a camera move over ``photo``, before
    :func:`finish_window`.

    Frame ``f`` is centred at time ``f / (2 * radius)`` of the move and is the mean of the instants of an
    exposure of half-span ``a`` frame intervals (one ``a`` per window, from :attr:`BlurConfig.exposure`).

    Returns:
        The blurred window ``[2 * radius + 1, 3, size, size]`` and the sharp centre frame ``[3, size, size]``.
    """
    frames = 2 * radius + 1
    offsets = exposure_offsets(float(rng.uniform(*config.exposure)), config.subframes) / (2 * radius)
    times = tuple(float(f / (2 * radius) + o) for f in range(frames) for o in offsets)
    instants, _ = camera_move_frames(photo, size, times, rng, motion)
    blurred = instants.reshape(frames, len(offsets), *instants.shape[1:]).mean(1)
    return blurred, instants[radius * len(offsets) + len(offsets) // 2]
