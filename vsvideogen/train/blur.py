"""Blur synthesis for ``vsvideogen train deblur``: motion blur from real footage and photos, defocus, noise.

Motion blur is what a longer exposure records: the mean of the instants the shutter stays open. Real footage
only gives whole frames, so, as motion-blur datasets are built from high-speed video, the instants are
made by temporal upsampling: ``subframes`` (K) frames per frame interval, K - 1 of them interpolated between
each pair of consecutive frames with vsvideogen's interpolation network (``interpolate-default``). Blur
level ``m`` of frame ``i`` is the mean of the instants ``i + j / K`` for ``|j| <= m``: an exposure of
half-span ``m / K`` frame intervals centred on the frame, so the sharp frame ``i`` stays the training target
(level 0). Instants beyond the clip's ends or a scene cut are the frame itself (the exposure is shortened on
that side). :func:`blurred_footage` computes every level up to the longest exposure of
:attr:`BlurConfig.exposure` once per clip, on the training device, as 8-bit frames (and caches them); each
training window then draws one exposure (a half-span from :attr:`BlurConfig.exposure`, rounded to a level)
shared by all its frames, as a camera keeps its shutter, so every frame is seen at every exposure of the
range. The default range, a 90 to 360 degree shutter (half-spans 1/8 to 1/2), is what cameras record: a
shutter cannot stay open longer than a frame interval.

Photos under a synthetic camera move (:func:`vsvideogen.train.photos.camera_move_frames`) give exact instants
at any time: :func:`photo_window` renders every frame of a window as the mean of ``2m + 1`` instants.

Defocus (:func:`vsvideogen.ops.defocus.disc_kernel`): a uniform disc of random radius, anti-aliased, applied to every frame of a
window with probability :attr:`BlurConfig.defocus_prob` (on top of any motion blur). Last, every window gets
white Gaussian noise of a small sigma (0..``max_noise`` levels) and is quantised to 8 bits, so the network
does not learn to rely on noiseless floats.

Every random choice is drawn from the ``numpy.random.Generator`` passed in.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VSVideoGenError
from ..models.archs.ifnet import NEAR_FRAME_ANCHOR
from ..ops.defocus import defocus_blur
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
        exposure: range of the exposure half-span in frame intervals: a shutter angle over 720 degrees (0.5: a
            360-degree shutter, the longest a camera records at its frame rate; up to 1: two frame intervals, as
            frames blended from a slower shutter); uniform in the range, one draw per window.
        defocus_prob: chance a window is also defocused.
        max_defocus: largest defocus disc radius in pixels (radii are uniform in ``0.5..max_defocus``).
        max_noise: largest sigma, 8-bit levels, of the noise added before 8-bit quantisation.
    """

    subframes: int = 8
    exposure: tuple[float, float] = (0.125, 0.5)
    defocus_prob: float = 0.3
    max_defocus: float = 3.0
    max_noise: float = 2.0

    def check(self) -> None:
        """Raise :class:`VSVideoGenError` for out-of-range settings."""
        lo, hi = self.exposure
        if self.subframes < 1 or not 0 <= lo <= hi <= 1 or hi == 0:
            raise VSVideoGenError(FUNC, f"subframes={self.subframes}, exposure={self.exposure}: need subframes >= 1 "
                                        "and 0 <= exposure low <= high <= 1 with high > 0 (a shutter of 0 to 720 "
                                        "degrees; with none open, nothing would be blurred to learn from)")
        if not 0 <= self.defocus_prob <= 1 or self.max_defocus < 0.5 or self.max_noise < 0:
            raise VSVideoGenError(FUNC, "need 0 <= defocus_prob <= 1 (--defocus-prob), max_defocus >= 0.5 "
                                        "(--max-defocus) and max_noise >= 0 (--max-noise)")

    @property
    def max_level(self) -> int:
        """The blur level of the longest exposure of the range (see :func:`blur_level`)."""
        return blur_level(self.exposure[1], self.subframes)

    def draw_level(self, rng: np.random.Generator) -> int:
        """The blur level of one window's exposure: a half-span uniform in :attr:`exposure`, on the instants' grid."""
        return blur_level(float(rng.uniform(*self.exposure)), self.subframes)


def blur_level(half_span: float, subframes: int) -> int:
    """The level ``m`` (instants ``|j| <= m`` of ``subframes`` per interval averaged) nearest an exposure of
    ``half_span`` frame intervals."""
    return round(half_span * subframes)


def linear_blend(img0: torch.Tensor, img1: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """An :data:`Interpolator` without motion: the cross-fade ``(1 - t) * img0 + t * img1``."""
    t = times.to(img0).reshape(-1, 1, 1, 1)
    return img0 * (1 - t) + img1 * t


def interpolator_tag(device: torch.device, dtype: torch.dtype) -> str:
    """What :func:`network_interpolator` on ``device`` in ``dtype`` is, for a blur cache's key: its weights'
    sha256, the device type, the dtype and the anchor of :meth:`IFNet.interpolate` (instants within
    :data:`~vsvideogen.models.archs.ifnet.NEAR_FRAME_ANCHOR` of a real frame come from the flows there)."""
    from ..models.registry import get_spec

    dtype_name = str(dtype).removeprefix("torch.")
    return f"{get_spec(INTERPOLATOR, FUNC).sha256}-{device.type}-{dtype_name}-anchor{NEAR_FRAME_ANCHOR:g}"


def network_interpolator(device: torch.device, dtype: torch.dtype, batch: int = 8) -> Interpolator:
    """An :data:`Interpolator` running vsvideogen's default interpolation network on ``device``
    (:meth:`IFNet.interpolate`: timesteps close to a real frame from the flows of a better-conditioned one).

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
                mid = net.interpolate(a.expand(k, -1, -1, -1), b.expand(k, -1, -1, -1), part.to(device, dtype), 1.0)
                out.append(mid[..., :h, :w].float().clamp(0.0, 1.0))
        return torch.cat(out)

    return interpolate


def exposure_offsets(half_span: float, subframes: int) -> np.ndarray:
    """The instants ``j / K`` (``|j| <= round(half_span * K)``) an exposure averages, relative to its middle."""
    m = blur_level(half_span, subframes)
    return np.arange(-m, m + 1) / subframes


def motion_blur(
    footage: Footage,
    interpolate: Interpolator,
    levels: int,
    subframes: int,
    device: torch.device | str = "cpu",
    indices: list[int] | None = None,
) -> np.ndarray:
    """Every blur level ``0..levels`` of frames of a clip (see the module docstring):
    ``[len(indices), H, W, 3 * (levels + 1)]`` uint8, level ``m`` in channels ``3m..3m+2`` (level 0: the sharp frame).

    Args:
        footage: the sharp clip.
        interpolate: makes the instants between two consecutive frames.
        levels: the longest exposure, as instants each side of the frame (at most ``subframes``).
        subframes: instants per frame interval (K).
        device: where frames are interpolated and averaged.
        indices: the frames to blur, ascending (default: all).
    """
    if not 0 <= levels <= subframes:
        raise VSVideoGenError(FUNC, f"levels={levels} must be between 0 and subframes={subframes}")
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

    def to_uint8(x: torch.Tensor) -> np.ndarray:
        return (x[0] * 255.0).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()

    out = np.empty((len(indices), *footage.frames.shape[1:3], 3 * (levels + 1)), dtype=np.uint8)
    for k, i in enumerate(indices):
        centre = frame(i)
        total = centre.clone()
        out[k, ..., :3] = footage.frames[i]
        later, earlier = between(i), between(i - 1)
        for m in range(1, levels + 1):
            total += centre if later is None else later[m][None]
            total += centre if earlier is None else earlier[subframes - m][None]
            out[k, ..., 3 * m : 3 * m + 3] = to_uint8(total / (2 * m + 1))
    return out


def blurred_footage(
    footage: Footage,
    interpolate: Interpolator,
    config: BlurConfig,
    device: torch.device | str = "cpu",
    cache: tuple[Path, str] | None = None,
) -> Footage:
    """``footage`` with every blur level up to :attr:`BlurConfig.max_level` of each frame: a :class:`Footage` of
    ``[T, H, W, 3 * (levels + 1)]`` frames as :func:`motion_blur` gives them, with the original's cuts.

    ``cache``: ``(folder, tag)``, where ``tag`` names the interpolator (its weights and device). The levels are
    kept there as an ``.npy`` file named by a hash of the sharp frames, the cuts, the instants per interval and
    the tag, and reused when all of them match and it holds at least the levels needed (a run with longer
    exposures makes it again, with more levels).
    """
    levels = config.max_level
    path = None if cache is None else cache[0] / f"{_blur_key(footage, config.subframes, cache[1])}.npy"
    stored = _load_cached(path, footage.frames.shape[:3], levels)
    if stored is None:
        stored = motion_blur(footage, interpolate, levels, config.subframes, device)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            with partial.open("wb") as f:
                np.save(f, stored)
            partial.replace(path)  # never a half-written file under the final name
    return Footage(footage.name, stored[..., : 3 * (levels + 1)], footage.cuts)


def _load_cached(path: Path | None, shape: tuple[int, ...], levels: int) -> np.ndarray | None:
    """The cached levels at ``path`` (``shape`` is ``(T, H, W)``), or None when there are none, too few levels,
    or the file is unreadable or of another shape (it is then made again and overwritten)."""
    if path is None or not path.is_file():
        return None
    try:
        frames = np.load(path)
    except (OSError, ValueError):
        return None
    fits = frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[:3] == tuple(shape)
    return frames if fits and frames.shape[3] % 3 == 0 and frames.shape[3] >= 3 * (levels + 1) else None


def _blur_key(footage: Footage, subframes: int, tag: str) -> str:
    """A hex digest of everything the blur levels depend on (see :func:`blurred_footage`)."""
    digest = hashlib.sha256(f"levels|{footage.frames.shape}|{subframes}|{tag}|".encode())
    for array in (footage.frames, footage.cuts.astype(np.int64)):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:32]


def finish_window(blurred: torch.Tensor, rng: np.random.Generator, config: BlurConfig) -> torch.Tensor:
    """Maybe defocus the window (``[T, C, H, W]``, 0..1), then add small noise and quantise to 8 bits."""
    if rng.random() < config.defocus_prob:
        blurred = defocus_blur(blurred, float(rng.uniform(0.5, config.max_defocus)))
    sigma = float(rng.uniform(0.0, config.max_noise)) / 255.0
    noise = torch.from_numpy(rng.standard_normal(blurred.shape, dtype=np.float32))
    return torch.round((blurred + noise * sigma).clamp(0.0, 1.0) * 255.0) / 255.0


def photo_window(
    photo: np.ndarray, size: int, radius: int, config: BlurConfig, level: int, rng: np.random.Generator,
    motion: CameraMotion = PHOTO_MOTION,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A motion-blurred window of ``2 * radius + 1`` frames of a camera move over ``photo``, before
    :func:`finish_window`.

    Frame ``f`` is centred at time ``f / (2 * radius)`` of the move and is the mean of the instants of an
    exposure of blur ``level`` (the instants ``j / K``, ``|j| <= level``; one level per window, e.g. from
    :meth:`BlurConfig.draw_level`).

    Returns:
        The blurred window ``[2 * radius + 1, 3, size, size]`` and the sharp centre frame ``[3, size, size]``.
    """
    frames = 2 * radius + 1
    offsets = exposure_offsets(level / config.subframes, config.subframes) / (2 * radius)
    times = tuple(float(f / (2 * radius) + o) for f in range(frames) for o in offsets)
    instants, _ = camera_move_frames(photo, size, times, rng, motion)
    blurred = instants.reshape(frames, len(offsets), *instants.shape[1:]).mean(1)
    return blurred, instants[radius * len(offsets) + len(offsets) // 2]
