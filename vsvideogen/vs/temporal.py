"""Giving a filter more than one source frame per output frame.

VapourSynth hands a ``std.ModifyFrame`` callback frame ``n`` of every clip it was given. To see other source
frames, each one is given as its own remapped clip, built once when the graph is built:

* :func:`shift` — frame ``n`` is source frame ``n + offset``, clamped to the clip's ends.
* :func:`remap` — frame ``n`` is source frame ``floor(n * ratio) + offset``, clamped: the index pattern of a
  frame-rate conversion (``ratio = fps_in / fps_out``). It is built from ``std.SelectEvery`` with one cycle
  of the reduced ratio, so the graph has a fixed handful of nodes whatever the clip length (a two-hour clip
  costs the same as a ten-frame one); nothing is created per frame.
* :func:`map_frames` — the one helper filters use: calls ``fn(n, frames)`` with the source frames at a window
  of offsets around ``floor(n * ratio)`` (``ratio = 1``: frames ``n-k..n+k``).
* :class:`WindowCache` and :func:`map_windows` — for recurrent models that must see a whole run of frames:
  the clip is cut into overlapping windows; a window is computed once, under a lock, and every output frame
  is served from the window that owns it, so the output does not depend on the order frames are asked in.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Generic, TypeVar

import vapoursynth as vs

__all__ = ["shift", "remap", "map_frames", "WindowCache", "map_windows"]

core = vs.core
T = TypeVar("T")


def shift(clip: vs.VideoNode, offset: int) -> vs.VideoNode:
    """A clip of the same length whose frame ``n`` is ``clip[clamp(n + offset, 0, len - 1)]``.

    Args:
        clip: The source clip.
        offset: Frames to look ahead (positive) or back (negative).
    """
    n = clip.num_frames
    if offset == 0:
        return clip
    if abs(offset) >= n:
        edge = clip[-1] if offset > 0 else clip[0]
        return edge * n
    if offset > 0:
        return clip[offset:] + clip[-1] * offset
    return clip[0] * -offset + clip[: n + offset]


def remap(clip: vs.VideoNode, ratio: Fraction, length: int, offset: int = 0) -> vs.VideoNode:
    """A clip of ``length`` frames whose frame ``n`` is ``clip[clamp(floor(n * ratio) + offset, 0, len - 1)]``.

    Args:
        clip: The source clip.
        ratio: Source frames per output frame, ``fps_in / fps_out`` (a positive Fraction). Its reduced
            denominator is the length of the ``SelectEvery`` offsets list (e.g. 5 for 24 -> 60 fps, 1001 for
            23.976 -> 25 fps), so the graph size does not depend on the clip length.
        length: Output length (frames past the source's end repeat its last frame).
        offset: Added to every source index before clamping (1 gives the "next" frame of each pair).
    """
    ratio = Fraction(ratio)
    if ratio <= 0:
        raise ValueError(f"remap: ratio must be positive, not {ratio}")
    src = shift(clip, offset)
    # Output frame q*a + k reads source frame q*b + floor(k*b/a) with b/a = ratio in lowest terms.
    # SelectEvery needs a cycle of at least 2, so a ratio 1/a uses two periods (2 source, 2a output frames).
    b, a = ratio.numerator, ratio.denominator
    if (b, a) != (1, 1):
        periods = 2 if b == 1 else 1
        src = core.std.SelectEvery(src, cycle=b * periods, offsets=[k * b // a for k in range(a * periods)])
    if src.num_frames >= length:
        return src[:length]
    return src + src[-1] * (length - src.num_frames)


def map_frames(
    clip: vs.VideoNode,
    fn: Callable[[int, list[vs.VideoFrame]], vs.VideoFrame],
    window: range | Sequence[int],
    *,
    ratio: Fraction = Fraction(1),
    length: int | None = None,
    template: vs.VideoNode | None = None,
    extra: Sequence[vs.VideoNode] = (),
) -> vs.VideoNode:
    """Run ``fn(n, frames)`` for every output frame ``n``, with the source frames it needs.

    ``frames[j]`` is source frame ``clamp(floor(n * ratio) + window[j], 0, len - 1)``; at the clip's ends the
    first or last frame is repeated. With the default ``ratio=1`` and ``window=range(-k, k + 1)`` the callback
    gets frames ``n-k..n+k``; with ``ratio = fps_in / fps_out`` and ``window=range(0, 2)`` it gets the pair a
    frame-rate converter interpolates between.

    Args:
        clip: The source clip.
        fn: Returns the output frame (the template's format and size). It may be called from several
            VapourSynth threads at once and in any order.
        window: Source offsets around ``floor(n * ratio)``.
        ratio: Source frames per output frame.
        length: Output length; defaults to ``ceil(len / ratio)``, the output frames whose position
            ``n * ratio`` lies inside the source.
        template: Gives the output's format, size and frame rate; its length is adjusted to ``length``.
            Defaults to the source format and size at the source frame rate divided by ``ratio``.
        extra: Clips of ``length`` frames (e.g. a per-frame noise map) whose frame ``n`` is appended to
            ``frames`` after the window, in this order.
    """
    ratio = Fraction(ratio)
    offsets = list(window)
    if not offsets:
        raise ValueError("map_frames: the window needs at least one offset")
    if length is None:
        length = -(-clip.num_frames * ratio.denominator // ratio.numerator)
    clips = [remap(clip, ratio, length, k) for k in offsets]
    if template is None:
        base = clips[0]
        if clip.fps.numerator:
            fps = clip.fps / ratio
            base = core.std.AssumeFPS(base, fpsnum=fps.numerator, fpsden=fps.denominator)
    else:
        base = template[:length] if template.num_frames >= length else template + template[-1] * (
            length - template.num_frames)

    def select(n: int, f: vs.VideoFrame | list[vs.VideoFrame]) -> vs.VideoFrame:
        return fn(n, f if isinstance(f, list) else [f])

    return core.std.ModifyFrame(base, clips + list(extra), select)


class WindowCache(Generic[T]):
    """Computes overlapping windows of a sequence once each and serves items from them.

    Windows have ``size`` items and consecutive windows share ``overlap`` items; window ``k`` starts at
    ``k * (size - overlap)``. Item ``n`` is always served by the same window, its *owner*: the one in whose
    middle it lies (the first ``overlap // 2`` items of every window but the first and the last
    ``overlap - overlap // 2`` of every window but the last are warm-up for a recurrent model and are never
    served). So every item is computed by the same call with the same inputs whatever order items are asked
    in, which is what makes a recurrent filter deterministic.

    A window is computed by ``compute(start, stop)`` (returning ``stop - start`` items) while holding that
    window's lock, so concurrent requests for the same window wait for one computation; different windows
    may be computed in parallel (``compute`` should guard a shared model itself). The ``keep`` most recently
    used windows stay in memory.

    Args:
        length: Number of items in the sequence.
        size: Items per window (>= 1).
        overlap: Items shared by consecutive windows (0 <= overlap < size).
        keep: Windows kept in memory (>= 1).
    """

    def __init__(self, length: int, size: int, overlap: int = 0, keep: int = 2) -> None:
        if size < 1 or not 0 <= overlap < size or keep < 1 or length < 1:
            raise ValueError(
                f"WindowCache: need length >= 1, size >= 1, 0 <= overlap < size and keep >= 1; got length={length}, "
                f"size={size}, overlap={overlap}, keep={keep}"
            )
        self.length = length
        self.size = size
        self.overlap = overlap
        self.stride = size - overlap
        self.keep = keep
        self._windows: OrderedDict[int, list[T]] = OrderedDict()
        self._locks: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()

    def owner(self, n: int) -> int:
        """Index of the window that serves item ``n``."""
        if not 0 <= n < self.length:
            raise IndexError(f"WindowCache: item {n} is outside 0..{self.length - 1}")
        return max(0, (n - self.overlap // 2) // self.stride)

    def bounds(self, k: int) -> tuple[int, int]:
        """``(start, stop)`` of window ``k``, cut at the sequence's end."""
        start = k * self.stride
        return start, min(start + self.size, self.length)

    def get(self, n: int, compute: Callable[[int, int], Sequence[T]]) -> T:
        """Item ``n``, computing its owner window with ``compute(start, stop)`` if it is not cached."""
        k = self.owner(n)
        start, stop = self.bounds(k)
        with self._lock:
            items = self._windows.get(k)
            if items is not None:
                self._windows.move_to_end(k)
                return items[n - start]
            lock = self._locks.setdefault(k, threading.Lock())
        with lock:
            with self._lock:
                items = self._windows.get(k)
            if items is None:
                items = list(compute(start, stop))
                if len(items) != stop - start:
                    raise ValueError(f"WindowCache: compute({start}, {stop}) returned {len(items)} items")
                with self._lock:
                    self._windows[k] = items
                    self._windows.move_to_end(k)
                    while len(self._windows) > self.keep:
                        old, _ = self._windows.popitem(last=False)
                        self._locks.pop(old, None)
        return items[n - start]


def map_windows(
    clip: vs.VideoNode,
    fn: Callable[[int, list[vs.VideoFrame]], Sequence[vs.VideoFrame]],
    size: int,
    overlap: int = 0,
    *,
    template: vs.VideoNode | None = None,
    keep: int = 2,
) -> vs.VideoNode:
    """Run a recurrent model over overlapping windows of ``clip`` (see :class:`WindowCache`).

    ``fn(start, frames)`` receives the source frames ``start .. start + len(frames) - 1`` of one window and
    returns one output frame for each. Output frame ``n`` comes from its owner window, so the result is the
    same in any request order and with any number of threads.

    Each output frame asks VapourSynth for all ``size`` frames of its window (clips built once with
    ``SelectEvery``; cheap cache hits when frames are read in order), and ``fn`` runs only on a cache miss.

    Args:
        clip: The source clip.
        fn: Computes a window; may be called from several threads for different windows.
        size: Frames per window.
        overlap: Frames shared by consecutive windows (warm-up context for the recurrence).
        template: Output format/size/frame rate (same length as ``clip``); defaults to ``clip``.
        keep: Windows of output frames kept in memory.
    """
    n_frames = clip.num_frames
    cache: WindowCache[vs.VideoFrame] = WindowCache(n_frames, size, overlap, keep)
    size = min(size, n_frames)
    half = cache.overlap // 2
    stride = cache.stride
    # members[m][n] = source frame window_start(owner(n)) + m. For n >= half, owner(n) = (n - half) // stride
    # and its start is stride * that: SelectEvery(cycle=stride, offsets=[0]*stride) on clip shifted by m holds
    # frame q*stride + m at positions q*stride .. q*stride + stride - 1; shifting by -half aligns it (clamping
    # at the start gives window 0 to the first frames, as it should).
    members = []
    for m in range(size):
        member = core.std.SelectEvery(shift(clip, m), cycle=stride, offsets=[0] * stride) if stride > 1 else shift(
            clip, m)
        member = shift(member[:n_frames], -half) if half else member[:n_frames]
        members.append(member)
    base = clip if template is None else template

    def select(n: int, f: vs.VideoFrame | list[vs.VideoFrame]) -> vs.VideoFrame:
        frames = f if isinstance(f, list) else [f]

        def compute(start: int, stop: int) -> Sequence[vs.VideoFrame]:
            return fn(start, frames[: stop - start])

        return cache.get(n, compute)

    return core.std.ModifyFrame(base, members, select)
