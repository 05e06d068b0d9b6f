"""Frame interpolation and motion-compensated frame-rate conversion.

Timing is exact rational arithmetic. Output frame ``n`` sits at time ``n / fps_out``, i.e. at source position
``p = n * fps_in / fps_out``; with ``i = floor(p)`` and ``t = p - i`` it is

* source frame ``i`` itself, bit-identical, when ``t == 0``;
* source frame ``i``, bit-identical, when ``i`` is the last source frame (there is nothing to interpolate
  towards: the tail of the output holds the last frame);
* source frame ``i``, bit-identical, when a scene cut lies between ``i`` and ``i + 1`` — a cut is never
  morphed, and the picture jumps at the output frame at or after the cut's own time (source position
  ``i + 1``), as the source shows frame ``i`` until then: the cut stays where the audio has it;
* source frame ``i`` (``i + 1`` from ``t >= 1/2``: the nearer one, whose props an interpolated frame takes),
  bit-identical, when ``i`` and ``i + 1`` are bit-identical in every plane (a static shot, a duplicated frame,
  animation on twos): the network would redraw the held picture with small errors, and it would shimmer;
* otherwise the network's frame at timestep ``t`` between ``i`` and ``i + 1`` (for an IFNet, a ``t`` within
  1/8 of a source frame from the flows at 1/8, scaled: :meth:`IFNet.interpolate`), with the sources' own
  samples where the picture stands still (:func:`keep_still_samples`).

Output props: those of the nearest source frame, with ``_DurationNum/_DurationDen = 1 / fps_out`` exactly,
``_AbsoluteTime`` (when the source has it) moved to the output frame's time, and — unless
``scene_change=None`` — ``_SceneChangePrev`` / ``_SceneChangeNext`` set to 1 on the two output frames
between which the picture jumps across a source cut and to 0 elsewhere, so a later filter (or a second
``interpolate``) sees the cuts where they now are. With ``scene_change=None`` the source's flags, which
would be misplaced, are removed.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from numbers import Integral, Rational, Real
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import vapoursynth as vs

from ..device import resolve_device, resolve_dtype
from ..errors import VSVideoGenError
from ..models.archs.ifnet import IFNet
from ..models.registry import load_model
from ..vs.checks import check_clip
from ..vs.frames import FrameConverter
from ..vs.rates import MAX_REDUCTION, decimal_rate, rate_from_text
from ..vs.scenes import SceneFeatures, scene_features
from ..vs.temporal import map_frames
from ._cuts import CONTEXT, REACH, CutRule, cut_rule
from ._lru import LRU

__all__ = ["interpolate", "SCALES"]

FUNC = "interpolate"
#: Accepted flow-resolution factors (IFNet downscales by powers of two).
SCALES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)
# Longest SelectEvery cycle accepted: the reduced fps_out / fps_in ratio's numerator.
_MAX_CYCLE = 100_000
_HALF = Fraction(1, 2)
# Highest output rate, as a multiple of the input rate (1024 frames between two source frames).
_MAX_INCREASE = 1024


def interpolate(
    clip: vs.VideoNode,
    factor: int = 2,
    *,
    fps: Fraction | int | float | Decimal | str | None = None,
    model: str | Any = "default",
    scene_change: str | float | None = "auto",
    scale: float = 1.0,
    device: str | torch.device | None = None,
    fp16: bool | None = None,
) -> vs.VideoNode:
    """Raise (or convert) a clip's frame rate by synthesising in-between frames with a flow network.

    Args:
        clip: Constant-format clip with a known frame rate (GRAY/YUV/RGB, 8-16-bit integer or 16/32-bit
            float, YUV 4:4:4/4:2:2/4:2:0) of at least 2 frames. The output has the same format and size.
        factor: Output frames per source frame, an integer (int or numpy) from 2 to 1024 (``fps`` too is at most 1024 times the
            clip's). The output has ``len(clip) * factor`` frames at ``fps * factor``, so the duration is
            preserved exactly; its last ``factor - 1`` frames repeat the last source frame. Leave it at 2 when
            giving ``fps``.
        fps: Target frame rate instead of ``factor``: a Fraction, int or str (``"60000/1001"``, ``"50"``, exact)
            or a decimal, as a float, Decimal or str (within 0.01 of an NTSC rate ``k * 1000/1001`` it is that rate, e.g.
            59.94 or ``"59.94"`` -> 60000/1001; other decimals are rounded to a fraction with denominator <= 1001;
            :mod:`vsvideogen.vs.rates`). It may be lower
            than the source's (60 -> 50 is motion-compensated standards conversion), down to an eighth of
            it. The output has
            ``ceil(len(clip) * fps / clip.fps)`` frames: every output frame starts inside the source, so the
            output lasts at least as long as the source and less than one output frame longer.
        model: ``"default"`` or None (the bundled ``interpolate-default``), a registered id such as
            ``"rife-v4.0"``, the path of an IFNet/RIFE weight file, or a ready ``torch.nn.Module`` with
            ``forward(img0, img1, timestep, scale)`` (RGB ``[1, 3, H, W]`` in 0..1, already on the device in
            the right dtype; an optional ``required_modulo(scale)`` says what H and W must divide by).
        scene_change: ``"auto"``: honour ``_SceneChangeNext`` on frame ``i`` / ``_SceneChangePrev`` on frame
            ``i + 1`` where either prop exists, and run the built-in detector (:mod:`vsvideogen.vs.scenes`: a
            pair scoring over the threshold, 0.15, or over a fifth of it and 3 times the pairs around it, as a
            jump cut does, and not a fade) where neither does; footage animated on threes reads its pose
            changes as cuts. A float in (0, 1): run the detector with that threshold on every pair, ignoring
            the props. None: never treat anything as a cut.
        scale: Resolution of the flow estimation relative to the frame, one of 0.125, 0.25, 0.5, 1, 2, 4
            (0.5 for 4K, 2 for small or low-motion footage). Frames are padded (edge replication) to the
            network's size multiple for that scale and cropped back.
        device: ``None`` (CUDA if present, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        fp16: Half precision; None means fp16 on CUDA and fp32 on the CPU.

    Returns:
        The interpolated clip, with ``fps`` and per-frame durations set exactly (see the module docstring
        for the props).

    Raises:
        VSVideoGenError: A bad clip or argument (the message says what to pass instead), or the model
            cannot be loaded.

    The network is loaded once per call. Frames can be requested in any order and from any number of
    VapourSynth threads; the result is the same (bit-identical on the CPU). Network calls are serialised
    by a lock; frame conversion and scene detection run in parallel.
    """
    check_clip(clip, FUNC, min_frames=2)
    fps_in = Fraction(clip.fps)
    if fps_in <= 0:
        raise VSVideoGenError(
            FUNC, "clip has a variable frame rate (fps 0); give it a constant one first, e.g. "
            "clip.std.AssumeFPS(fpsnum=24000, fpsden=1001)"
        )
    fps_out = _target_fps(factor, fps, fps_in)
    ratio = fps_in / fps_out
    if ratio > MAX_REDUCTION:
        raise VSVideoGenError(
            FUNC, f"fps {fps_out} is more than {MAX_REDUCTION} times lower than the clip's {fps_in}; interpolation "
            f"cannot help there: decimate first (e.g. clip.std.SelectEvery(cycle={int(ratio)}, offsets=0)), then "
            "convert the rest"
        )
    if fps_out > fps_in * _MAX_INCREASE:
        raise VSVideoGenError(
            FUNC, f"fps {float(fps_out):g} is more than {_MAX_INCREASE} times the clip's {float(fps_in):g}; pass a rate "
            f"up to {float(fps_in * _MAX_INCREASE):g} (factor= up to {_MAX_INCREASE})"
        )
    if ratio.denominator > _MAX_CYCLE:
        raise VSVideoGenError(
            FUNC, f"fps {fps_out} relates to the clip's {fps_in} by {fps_out / fps_in}, whose numerator exceeds "
            f"{_MAX_CYCLE} (the output would repeat its pattern of timesteps only after that many frames); pass "
            f"a nearby rate that fits, e.g. {_nearby_rates(fps_out, fps_in)}"
        )
    cuts = cut_rule(FUNC, scene_change)
    scale = _check_scale(scale)
    dev = resolve_device(device, FUNC)
    dtype = resolve_dtype(fp16, dev, FUNC)
    net = _get_model(model, dev, dtype)
    modulo = _modulo(net, scale)

    n_src = clip.num_frames
    length = -(-n_src * ratio.denominator // ratio.numerator)
    # Source offsets around i = floor(p) a frame needs: i, i+1 to interpolate, and with cut handling the
    # pairs whose cut time lies between this output frame's neighbours (for the scene-change flags), with
    # REACH frames more on each side for the detector.
    flags = cuts.active
    reach = REACH if cuts.detect else 0
    lo = min(0, _floor(-ratio)) - reach if flags else 0
    hi = max(1, _ceil(ratio)) + reach if flags else 1
    engine = _Engine(
        net=net,
        converter=FrameConverter.for_clip(clip, dev, dtype, FUNC),
        ratio=ratio,
        fps_in=fps_in,
        fps_out=fps_out,
        n_src=n_src,
        length=length,
        lo=lo,
        scale=scale,
        modulo=modulo,
        cuts=cuts,
        cache_frames=2 * (hi - lo + 1 - 2 * reach) + 2,  # the detector's extra frames are summarised once and let go
    )
    return map_frames(clip, engine, range(lo, hi + 1), ratio=ratio, length=length)


# -- argument checks ---------------------------------------------------------------------------------------


def _target_fps(factor: Any, fps: Any, fps_in: Fraction) -> Fraction:
    if isinstance(factor, bool) or not isinstance(factor, Integral):
        raise VSVideoGenError(FUNC, f"factor must be an int >= 2, not {type(factor).__name__} {factor!r}; "
                                    "for a non-integer rate pass fps= instead")
    factor = int(factor)
    if factor < 2:
        raise VSVideoGenError(FUNC, f"factor={factor} is too small; use an int >= 2 (or fps= for other rates)")
    if fps is None:
        return fps_in * factor
    if factor != 2:
        raise VSVideoGenError(FUNC, f"factor={factor} and fps={fps!r} were both given; pass only one of them")
    target = _parse_fps(fps)
    if target <= 0:
        raise VSVideoGenError(FUNC, f"fps={fps!r} is not positive; pass a frame rate > 0, e.g. fps='60000/1001'")
    return target


def _parse_fps(fps: Any) -> Fraction:
    """``fps`` as an exact rate: fractions and integers as they are, decimals (floats or text such as
    ``'59.94'``) by :func:`vsvideogen.vs.rates.decimal_rate`, so the NTSC rates come out exact."""
    if isinstance(fps, bool):
        raise VSVideoGenError(FUNC, f"fps must be a number, not {fps!r}; e.g. fps=60 or fps='60000/1001'")
    if isinstance(fps, Rational):
        return Fraction(int(fps.numerator), int(fps.denominator))
    if isinstance(fps, str):
        try:
            return rate_from_text(fps)
        except (ValueError, ZeroDivisionError):
            raise VSVideoGenError(FUNC, f"fps={fps!r} is not a number; use e.g. '60000/1001', '50' or '59.94'") from None
    if isinstance(fps, (Real, Decimal)):  # Decimal is no numbers.Real
        value = float(fps) if not isinstance(fps, Decimal) or fps.is_finite() else math.nan
        if not math.isfinite(value):
            raise VSVideoGenError(FUNC, f"fps={fps!r} is not a finite number; pass e.g. fps=60")
        return decimal_rate(value)
    raise VSVideoGenError(FUNC, f"fps must be a Fraction, int, float, Decimal or str, not {type(fps).__name__}; "
                                "e.g. fps='60000/1001'")


def _fits(fps_out: Fraction, fps_in: Fraction) -> bool:
    """Whether ``fps_out`` passes :func:`interpolate`'s checks of the rate against the clip's ``fps_in``."""
    ratio = fps_in / fps_out
    return ratio <= MAX_REDUCTION and fps_out <= fps_in * _MAX_INCREASE and ratio.denominator <= _MAX_CYCLE


def _nearby_rates(fps_out: Fraction, fps_in: Fraction) -> str:
    """``fps=`` suggestions for a rate refused for its cycle: the nearest that fits among the rates in steps of
    1, 1/10, 1/100 and 1/1000 of the clip's time base (else the nearest that fits at all), and the nearest
    integer or NTSC rate when it fits and is within 1%."""
    steps = (Fraction(round(fps_out * q), q) for q in (fps_in.denominator * 10 ** k for k in range(4)))
    fitting = [rate for rate in steps if _fits(rate, fps_in)] or [fps_in / (fps_in / fps_out).limit_denominator(_MAX_CYCLE)]
    exact = min(fitting, key=lambda rate: abs(rate - fps_out))
    shown = [_fps_arg(exact)]
    standard = min((Fraction(round(fps_out)), Fraction(round(fps_out * Fraction(1001, 1000)) * 1000, 1001)),
                   key=lambda rate: abs(rate - fps_out))
    if standard != exact and abs(standard - fps_out) <= fps_out / 100 and _fits(standard, fps_in):
        shown.append(f"the standard {_fps_arg(standard)}")
    return " or ".join(shown)


def _fps_arg(rate: Fraction) -> str:
    """``rate`` as an exact ``fps=`` argument, with its value."""
    if rate.denominator == 1:
        return f"fps={rate.numerator}"
    return f"fps=Fraction({rate.numerator}, {rate.denominator}) ({float(rate):.6g})"


def _check_scale(scale: Any) -> float:
    if isinstance(scale, (int, float)) and not isinstance(scale, bool) and float(scale) in SCALES:
        return float(scale)
    raise VSVideoGenError(FUNC, f"scale={scale!r} is not supported; use one of {', '.join(map(str, SCALES))} "
                                "(0.5 for 4K, 1.0 for HD)")


def _frame_at(net: Callable[..., torch.Tensor], img0: torch.Tensor, img1: torch.Tensor, t: float,
              scale: float) -> torch.Tensor:
    """``net``'s frame at ``t``: an :class:`IFNet` anchors timesteps close to a real frame
    (:meth:`IFNet.interpolate`); another module is called as it is."""
    if isinstance(net, IFNet):
        return net.interpolate(img0, img1, t, scale)
    return net(img0, img1, t, scale)


def _get_model(model: Any, device: torch.device, dtype: torch.dtype) -> Callable[..., torch.Tensor]:
    if isinstance(model, torch.nn.Module):
        return model.eval()
    if isinstance(model, torch.Tensor):
        raise VSVideoGenError(FUNC, f"model={model!r} is not a model; use 'default', a registered id such as "
                                    "'rife-v4.0', or a weight file path")
    return load_model(None if model == "default" else model, "interpolate", device, dtype, FUNC)


def _modulo(net: Any, scale: float) -> int:
    required = getattr(net, "required_modulo", None)
    if required is None:
        return 1
    try:
        return int(required(scale))
    except ValueError as exc:
        raise VSVideoGenError(FUNC, f"scale={scale} does not suit this model ({exc}); use scale=1.0") from None


def _floor(x: Fraction) -> int:
    return x.numerator // x.denominator


def _ceil(x: Fraction) -> int:
    return -(-x.numerator // x.denominator)


# -- per-frame work ----------------------------------------------------------------------------------------


class _Engine:
    """Makes output frame ``n`` from the source frames ``clamp(floor(n * ratio) + lo + j)``."""

    def __init__(self, *, net, converter: FrameConverter, ratio: Fraction, fps_in: Fraction, fps_out: Fraction,
                 n_src: int, length: int, lo: int, scale: float, modulo: int, cuts: CutRule,
                 cache_frames: int) -> None:
        self.net = net
        self.converter = converter
        self.ratio = ratio
        self.fps_in = fps_in
        self.fps_out = fps_out
        self.n_src = n_src
        self.length = length
        self.lo = lo
        self.scale = scale
        self.modulo = modulo
        self.cuts = cuts
        self.flags = cuts.active
        self._model_lock = threading.Lock()
        self._inputs = LRU(cache_frames)
        self._features = LRU(256)
        self._still_pairs = LRU(256)

    def __call__(self, n: int, frames: list[vs.VideoFrame]) -> vs.VideoFrame:
        p = n * self.ratio
        i = _floor(p)
        t = p - i

        def source(k: int) -> vs.VideoFrame:
            return frames[k - i - self.lo]

        with torch.inference_mode():
            if t == 0 or i >= self.n_src - 1:
                out = source(min(i, self.n_src - 1)).copy()
            elif self.flags and self._cut(i, source):
                out = source(i).copy()
            elif self._still(i, source):
                out = source(i if t < _HALF else i + 1).copy()  # the props an interpolated frame would get
            else:
                out = self._interpolate(i, t, source)
                keep_still_samples(out, source(i), source(i + 1))
            props = out.props
            props["_DurationNum"] = self.fps_out.denominator
            props["_DurationDen"] = self.fps_out.numerator
            base_props = source(i).props
            if "_AbsoluteTime" in base_props:
                props["_AbsoluteTime"] = float(base_props["_AbsoluteTime"]) + float(t / self.fps_in)
            if self.flags:
                props["_SceneChangePrev"] = int(n > 0 and self._any_cut(p - self.ratio, p, i, source))
                props["_SceneChangeNext"] = int(n < self.length - 1 and self._any_cut(p, p + self.ratio, i, source))
            else:
                for key in ("_SceneChangePrev", "_SceneChangeNext"):
                    if key in props:
                        del props[key]
        return out

    # scene cuts

    def _any_cut(self, before: Fraction, after: Fraction, i: int, source) -> bool:
        """Whether the time ``c + 1`` of a cut between ``c`` and ``c + 1`` lies in ``(before, after]`` (the
        picture jumps at the first output frame at or after it)."""
        first = max(0, _floor(before))
        last = min(self.n_src - 2, _floor(after) - 1)
        return any(self._cut(c, source) for c in range(first, last + 1))

    def _cut(self, c: int, source) -> bool:
        """Whether a scene cut lies between source frames ``c`` and ``c + 1``."""
        return self.cuts.between(source(c), source(c + 1), lambda: [
            self._scene(k, source) if 0 <= k < self.n_src else None for k in range(c - REACH, c - REACH + CONTEXT)])

    def _scene(self, k: int, source) -> SceneFeatures:
        return self._features.get_or_make(k, lambda: scene_features(self._input(k, source)[1]))

    def _still(self, i: int, source) -> bool:
        """Whether source frames ``i`` and ``i + 1`` are bit-identical in every plane (a held picture, which
        the network would redraw with small errors)."""
        def compare() -> bool:
            a, b = source(i), source(i + 1)
            return all(np.array_equal(_bits(a, p), _bits(b, p)) for p in range(a.format.num_planes))

        return self._still_pairs.get_or_make(i, compare)

    # network

    def _input(self, k: int, source) -> tuple[torch.Tensor, torch.Tensor]:
        """(padded 3-channel network input, unpadded tensor) of source frame ``k``."""
        def make() -> tuple[torch.Tensor, torch.Tensor]:
            image = self.converter.to_tensor(source(k))
            x = image if image.shape[1] == 3 else image.expand(-1, 3, -1, -1)
            h, w = x.shape[-2:]
            pad_h, pad_w = -h % self.modulo, -w % self.modulo
            if pad_h or pad_w:
                x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
            return x.contiguous(), image

        return self._inputs.get_or_make(k, make)

    def _interpolate(self, i: int, t: Fraction, source) -> vs.VideoFrame:
        img0, image = self._input(i, source)
        img1, _ = self._input(i + 1, source)
        with self._model_lock:
            result = _frame_at(self.net, img0, img1, float(t), self.scale)
        h, w = image.shape[-2:]
        result = result[..., :h, :w]  # float clips keep values beyond 0..1, as their source frames do
        if image.shape[1] == 1:
            result = result.mean(1, keepdim=True)
        template = source(i if t < _HALF else i + 1)
        return self.converter.to_frame(result, template)


#: How far (8-bit codes) the network's sample may be from a still one for the still one to be kept.
STILL_TOLERANCE = 2


def keep_still_samples(out: vs.VideoFrame, a: vs.VideoFrame, b: vs.VideoFrame) -> None:
    """Give ``out``, a frame the network made between ``a`` and ``b``, the sources' own samples where the
    picture stands still: where ``a`` and ``b`` agree and ``out`` is within :data:`STILL_TOLERANCE` of them (in
    luma for YUV and GRAY, in every channel for RGB). Subsampled chroma follows luma: a chroma sample is kept
    where all the luma under it is and ``a`` and ``b`` agree on it. So a static background does not flicker
    between the copied frames and the made ones (the network redraws it, and its chroma passes through RGB
    and back); a moving object the network draws over such samples differs from them by more, and stays."""
    fmt = out.format
    tolerance = STILL_TOLERANCE / 255 if fmt.sample_type == vs.FLOAT else STILL_TOLERANCE << (fmt.bits_per_sample - 8)
    planes = [(np.asarray(out[p]), np.asarray(a[p]), np.asarray(b[p])) for p in range(fmt.num_planes)]
    guide = planes if fmt.color_family == vs.RGB else planes[:1]
    still = np.logical_and.reduce([(pa == pb) & (np.abs(po.astype(np.float64) - pa) <= tolerance)
                                   for po, pa, pb in guide])
    for p, (po, pa, pb) in enumerate(planes):
        if p and fmt.color_family == vs.YUV:
            h, w = pa.shape
            blocks = still.reshape(h, 1 << fmt.subsampling_h, w, 1 << fmt.subsampling_w).all(axis=(1, 3))
            mask = blocks & (pa == pb)
        else:
            mask = still
        np.copyto(po, pa, where=mask)


def _bits(frame: vs.VideoFrame, plane: int) -> np.ndarray:
    """Plane ``plane`` of ``frame`` as unsigned integers of its sample size, so that equal means bit-identical
    (float samples: -0.0 is not 0.0, and a NaN equals itself)."""
    samples = np.asarray(frame[plane])
    return samples.view(np.dtype(f"u{samples.itemsize}"))
