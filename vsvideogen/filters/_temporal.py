"""What the multi-frame filters (temporal ``denoise``, ``deblur``) share: argument checks, the window of frames a
network sees, scene-cut handling, the tile grid, the per-frame engine, and running a 1- or 3-channel network on
frames of the other kind.

A two-stage network (:class:`vsvideogen.models.archs.temporal_denoiser.TemporalDenoiser`: ``pad``,
``first_stage`` per triplet of frames, ``second_stage``) estimates each inner frame of the window from that
frame and its two neighbours alone, so the engine keeps those estimates per tile and triplet of source frames
and the next output frames reuse them: one first-stage call per output frame instead of ``2 * radius - 1``,
with the same values (each estimate is always computed alone, in the same way).

A temporal network sees frames ``n - radius .. n + radius`` (clamped at the clip's ends, see
:func:`vsvideogen.vs.temporal.map_frames`) and returns frame ``n``. Frames are never mixed across a scene
cut: where the filter's ``scene_change`` rule (:mod:`vsvideogen.filters._cuts`: the props
``_SceneChangeNext`` / ``_SceneChangePrev`` where present, else the built-in detector) sees a cut, the window's
frames on the far side of it are replaced by the nearest frame on the centre's side.
"""
from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
import vapoursynth as vs

from ..device import resolve_device, resolve_dtype
from ..errors import VSVideoGenError
from ..vs.checks import check_clip, check_positive_int
from ..vs.frames import FrameConverter
from ..vs.scenes import SceneFeatures, scene_features
from ..vs.tiling import check_grid, run_tiled
from ._common import auto_grid
from ._cuts import CONTEXT, REACH, CutRule
from ._lru import LRU

# Assumed for a ready module without the attributes: activation bytes per pixel (fp32).
DEFAULT_BYTES_PER_PIXEL = 1024
#: A colour network on a GRAY clip sees the luma replicated to RGB: per channel its noise is this much stronger.
REPLICATED_NOISE_GAIN = math.sqrt(3.0)


def check_arguments(clip: vs.VideoNode, temporal: Any, radius: Any, overlap: Any, device: Any, fp16: Any,
                    func: str) -> tuple[torch.device, torch.dtype]:
    """Check the clip and the arguments every multi-frame filter takes; the device and dtype to run on.

    Raises:
        VSVideoGenError: a bad clip, ``temporal`` not a bool, ``radius`` not an int >= 1, ``overlap`` not an
            int >= 0, or an unusable ``device`` / ``fp16``.
    """
    check_clip(clip, func)
    if not isinstance(temporal, bool):
        raise VSVideoGenError(func, f"temporal must be True or False, not {temporal!r}")
    check_positive_int(radius, "radius", func)
    check_positive_int(overlap, "overlap", func, minimum=0)
    dev = resolve_device(device, func)
    return dev, resolve_dtype(fp16, dev, func)


def model_label(model: Any) -> str:
    """How an error message names the ``model`` argument of a filter: ``"this model"`` for a ready module, else
    ``model='...'``."""
    return "this model" if isinstance(model, torch.nn.Module) else f"model={str(model)!r}"


def net_layout(net: torch.nn.Module, default_context: int, func: str) -> tuple[int, int, int]:
    """The network's ``channels`` (1 or 3, default 3), ``modulo`` (tile alignment, default 1) and
    ``tile_context`` (default ``default_context``), read from its attributes.

    Raises:
        VSVideoGenError: the network works on another number of channels.
    """
    channels = int(getattr(net, "channels", 3))
    if channels not in (1, 3):
        raise VSVideoGenError(func, f"the model works on {channels} channels; use a model for 1 (gray) or 3 (colour)")
    return channels, int(getattr(net, "modulo", 1)), int(getattr(net, "tile_context", default_context))


def window_radius(net: torch.nn.Module, radius: int, func: str) -> int:
    """Frames each side the network sees: ``radius`` for a temporal model (checked against its own), else 0."""
    if not getattr(net, "temporal", False):
        return 0
    own = getattr(net, "radius", radius)
    if own != radius:
        raise VSVideoGenError(func, f"the temporal model was trained on {2 * own + 1} frames, not {2 * radius + 1}; "
                                    f"pass radius={own}")
    return radius


def tile_grid(tiles: Any, clip: vs.VideoNode, net: torch.nn.Module, channels: int, modulo: int, overlap: int,
              context: int, device: torch.device, dtype: torch.dtype, func: str) -> tuple[int, int]:
    """The ``(nx, ny)`` grid for ``tiles`` (None: the fewest tiles that fit the memory budget, see
    :func:`vsvideogen.filters._common.auto_grid`; an int ``n``: ``(n, n)``).

    Raises:
        VSVideoGenError: ``tiles`` is of the wrong form, or too many for the frame size and overlap.
    """
    width, height = clip.width, clip.height
    if tiles is None:
        per_pixel = getattr(net, "bytes_per_pixel", DEFAULT_BYTES_PER_PIXEL)
        return auto_grid(clip, per_pixel, channels, overlap, modulo, device, dtype, context)
    if isinstance(tiles, int) and not isinstance(tiles, bool):
        tiles = (tiles, tiles)
    if not (isinstance(tiles, Sequence) and len(tiles) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in tiles)):
        raise VSVideoGenError(func, f"tiles={tiles!r} is not supported; use None, an int >= 1 or (nx, ny), "
                                    "e.g. tiles=(2, 2)")
    nx, ny = tiles
    check_grid(func, width, height, (nx, ny), overlap, modulo)
    return nx, ny


def stack_window(converter: FrameConverter, frames: list[vs.VideoFrame], radius: int, image: torch.Tensor,
                 cuts: CutRule, scenes: Callable[[int, Callable[[], torch.Tensor]], SceneFeatures | None]
                 ) -> tuple[torch.Tensor, list[int]]:
    """The window ``frames[REACH:-REACH]`` (``frames`` holds :data:`~vsvideogen.filters._cuts.REACH` more frames on
    each side, for the detector) as ``[1, T, C, H, W]``, frames across a scene cut replaced (see
    :func:`same_shot`), and the window position each of its frames came from.

    ``image`` is the centre frame ``frames[radius + REACH]`` already converted; every other frame is converted at
    most once. ``scenes(q, tensor)`` is the detector's summary of ``frames[q]``, made from ``tensor()`` where not
    kept (None for a frame outside the clip).
    """
    tensors: dict[int, torch.Tensor] = {radius + REACH: image}

    def tensor(q: int) -> torch.Tensor:
        if q not in tensors:
            tensors[q] = converter.to_tensor(frames[q])
        return tensors[q]

    cut = pair_cuts(frames, cuts, lambda q: scenes(q, lambda: tensor(q)))
    positions = same_shot(2 * radius + 1, radius, lambda p: cut(p + REACH))
    return torch.stack([tensor(p + REACH) for p in positions], 1), positions


class WindowEngine:
    """Base of the filters' per-frame callables: output frame ``n`` from source frames ``n - radius ..
    n + radius`` (``radius=0``: a spatial model, fed frame ``n`` alone), run tile by tile.

    A subclass defines ``__call__(n, f)`` and ``_run`` (the network on one tile, see :func:`run_channels`).
    Network calls are serialised by a lock.
    """

    def __init__(self, *, net, converter: FrameConverter, channels: int, tiles: tuple[int, int], overlap: int,
                 context: int, modulo: int, cuts: CutRule, length: int, radius: int = 0) -> None:
        self.net = net
        self.converter = converter
        self.channels = channels
        self.tiles = tiles
        self.overlap = overlap
        self.context = context
        self.modulo = modulo
        self.radius = radius
        self.cuts = cuts
        self.length = length
        self._lock = threading.Lock()
        # The detector's summaries of source frames, by number: a window's with its context and one more.
        self._scenes = LRU(2 * radius + 2 * REACH + 2)
        # First-stage estimates of a two-stage network, per tile: one window's and one more (frames requested in
        # order hit all but one); about 2 * radius frames' worth of memory in all.
        self._estimates = LRU(max(1, tiles[0] * tiles[1] * 2 * radius))

    @property
    def offsets(self) -> range:
        """The source frames, relative to ``n``, that the callable takes for output ``n``: the window
        ``-radius .. radius`` and, for a temporal model, :data:`~vsvideogen.filters._cuts.REACH` frames more on
        each side, for the cut detector."""
        reach = self.radius + REACH if self.radius else 0
        return range(-reach, reach + 1)

    def load(self, n: int, frames: list[vs.VideoFrame]) -> tuple[vs.VideoFrame, torch.Tensor, torch.Tensor, list[int]]:
        """From the frames :attr:`offsets` names: the centre frame of output ``n``, it as a ``[1, C, H, W]``
        tensor, the network's input (that tensor for a spatial model, the window stacked by
        :func:`stack_window` for a temporal one), and which source frame each of the input's frames is
        (``n - radius + position``, before the clamping at the clip's ends: one number always names the same
        picture)."""
        source = frames[len(frames) // 2]
        image = self.converter.to_tensor(source)
        if not self.radius:
            return source, image, image, [n]
        first = n - self.radius - REACH  # frames[q] is source frame first + q, clamped at the ends

        def scenes(q: int, tensor: Callable[[], torch.Tensor]) -> SceneFeatures | None:
            if not 0 <= first + q < self.length:
                return None
            return self._scenes.get_or_make(first + q, lambda: scene_features(tensor()))

        stack, positions = stack_window(self.converter, frames, self.radius, image, self.cuts, scenes)
        return source, image, stack, [n - self.radius + p for p in positions]

    def tiled(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        """``_run`` over the tile grid on ``inputs`` (the network's input, then e.g. a noise level)."""
        with self._lock:
            return run_tiled(self._run, inputs, self.tiles, self.overlap, context=self.context, modulo=self.modulo)

    def staged(self, stack: torch.Tensor, ids: list[int], sigma: float | None = None,
               exposure: float | None = None) -> torch.Tensor:
        """A two-stage network (see the module docstring) on the window ``stack`` of source frames ``ids`` over
        the tile grid, first-stage estimates reused across output frames; ``sigma``: a uniform noise level on
        the 0..1 scale for a noise-conditional network, else None; ``exposure``: the shutter angle / 360 for a
        network with an exposure input, else None."""
        def tile(k: int, x: torch.Tensor) -> torch.Tensor:
            return run_channels(lambda t, replicated: self._two_stages(k, ids, t, sigma, exposure, replicated), x,
                                self.channels)

        with self._lock:
            return run_tiled(tile, [stack], self.tiles, self.overlap, context=self.context, modulo=self.modulo,
                             indexed=True)

    def _two_stages(self, k: int, ids: list[int], x: torch.Tensor, sigma: float | None, exposure: float | None,
                    replicated: bool) -> torch.Tensor:
        if sigma is not None and replicated:
            sigma *= REPLICATED_NOISE_GAIN
        padded, level = self.net.pad(x, sigma) if exposure is None else self.net.pad(x, sigma, exposure)

        def estimate(i: int) -> torch.Tensor:
            return self._estimates.get_or_make((k, tuple(ids[i : i + 3]), sigma, exposure),
                                               lambda: self.net.first_stage(padded[:, i : i + 3], level))

        estimates = torch.stack([estimate(i) for i in range(len(ids) - 2)], 1)
        return self.net.second_stage(estimates, level)[..., : x.shape[-2], : x.shape[-1]]

    @staticmethod
    def is_two_stage(net: torch.nn.Module) -> bool:
        """Whether ``net`` has the stages :meth:`staged` runs."""
        return all(callable(getattr(net, name, None)) for name in ("pad", "first_stage", "second_stage"))


def same_shot(length: int, centre: int, cut: Callable[[int], bool]) -> list[int]:
    """The positions ``0 .. length - 1`` of a window that a network sees: every frame across a scene cut from
    the ``centre`` replaced by the nearest frame on the centre's side of it. ``cut(p)``: whether a cut lies
    between positions ``p`` and ``p + 1``."""
    kept = list(range(length))
    for j in range(centre + 1, length):
        if cut(j - 1):
            kept[j:] = [kept[j - 1]] * (length - j)
            break
    for j in range(centre - 1, -1, -1):
        if cut(j):
            kept[: j + 1] = [kept[j + 1]] * (j + 1)
            break
    return kept


def shots(length: int, cut: Callable[[int], bool]) -> list[range]:
    """The runs of consecutive positions ``0 .. length - 1`` between scene cuts, in order; one run without cuts.
    ``cut(p)``: whether a cut lies between positions ``p`` and ``p + 1``."""
    starts = [0] + [p for p in range(1, length) if cut(p - 1)]
    return [range(a, b) for a, b in zip(starts, starts[1:] + [length])]


def pair_cuts(frames: Sequence[vs.VideoFrame], cuts: CutRule,
              summary: Callable[[int], SceneFeatures | None]) -> Callable[[int], bool]:
    """``cut(i)``: whether ``cuts`` sees a cut between ``frames[i]`` and ``frames[i + 1]``. The detector also
    looks at :data:`~vsvideogen.filters._cuts.REACH` frames on either side, where ``frames`` has them;
    ``summary(i)`` is its summary of ``frames[i]`` (:func:`vsvideogen.vs.scenes.scene_features`; None for a frame
    that stands in for one outside the clip), asked for once, only where the detector runs."""
    summary = functools.cache(summary)
    return lambda i: cuts.between(frames[i], frames[i + 1], lambda: [
        summary(k) if 0 <= k < len(frames) else None for k in range(i - REACH, i - REACH + CONTEXT)])


def run_channels(call: Callable[[torch.Tensor, bool], torch.Tensor], x: torch.Tensor, channels: int) -> torch.Tensor:
    """A ``channels``-channel network on ``x`` (``[N, C, h, w]``, or ``[N, T, C, h, w]`` for a temporal one).

    ``call(x, replicated)`` runs the network. A colour network (``channels=3``) on gray input sees the luma
    replicated to RGB (``replicated=True``, so the caller may adapt, e.g. a noise level) and gives the mean
    of its three channels; a gray network on colour input runs each channel as its own image.
    """
    c = x.shape[-3]
    if c == channels:
        return call(x, False)
    if channels == 3:
        return call(x.expand(*x.shape[:-3], 3, *x.shape[-2:]), True).mean(1, keepdim=True)
    n, h, w = x.shape[0], *x.shape[-2:]
    if x.ndim == 5:
        return call(x.transpose(1, 2).reshape(n * c, x.shape[1], 1, h, w), False).reshape(n, c, h, w)
    return call(x.reshape(n * c, 1, h, w), False).reshape(n, c, h, w)
