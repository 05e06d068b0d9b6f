"""Super-resolution: single-frame CNN/GAN upscalers and recurrent video upscalers.

Model space. Networks see what :class:`vsvideogen.vs.frames.FrameConverter` gives: nominal RGB in 0..1 for
YUV and RGB clips (YUV converted on the device by the frame's ``_Matrix``/``_Range``/``_ChromaLocation``),
luma in 0..1 for GRAY clips. The result is encoded back to the clip's own format at the new size, with the
matrix the source was decoded with: an unspecified ``_Matrix`` is guessed from the *source* size, and the
output is tagged with that guess, so that an SD clip upscaled to HD keeps its colours wherever it is played
(untagged, its BT.601 codes would be read as BT.709 at the new size). It is not clamped
in RGB: like a sharpening resizer, values beyond 0..1 (the input's own, and a network's overshoot) survive
where the format can hold them (float samples, limited-range YUV headroom); integer codes are clamped to
their range when encoded.

Channels. A colour model on a GRAY clip sees the luma replicated to RGB and the output is the mean of its
three channels. A grayscale model on a YUV or RGB clip upscales each RGB channel as its own gray image.

Output props: those of the source frame, unchanged (``_SARNum``/``_SARDen`` stay valid: both axes grow by
the same factor). Frame rate and length are the clip's.

Single-frame models (Real-ESRGAN RRDBNet and SRVGGNetCompact) run frame by frame and, when the frame is
big, tile by tile (:mod:`vsvideogen.vs.tiling`: overlapping tiles blended linearly; with ``overlap=16`` a
tiled frame stays within 1/255 of the untiled one for the compact models, see the tests).

Recurrent models (BasicVSR, ``temporal=True``) see a whole run of frames. The clip is cut into windows of
:data:`WINDOW` frames that overlap by :data:`WINDOW_OVERLAP` (:func:`vsvideogen.vs.temporal.map_windows`);
each output frame comes from the window in whose middle it lies, so every frame served has at least
``WINDOW_OVERLAP // 2`` frames of context on both sides (no quality seam at window borders), and the
output is the same whatever order frames are asked in. Within a window, each shot runs on its own: scene
cuts (``_SceneChangeNext`` / ``_SceneChangePrev``, e.g. from ``misc.SCDetect``, or where neither is set the
built-in detector; see ``scene_change``) stop the propagation, so no feature of one shot leaks into another.
"""
from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from typing import Any

import torch
import vapoursynth as vs

from ..device import resolve_device, resolve_dtype
from ..errors import VSVideoGenError
from ..models.registry import load_model
from ..vs.checks import check_clip, check_positive_int
from ..vs.formats import default_matrix
from ..vs.frames import FrameConverter
from ..vs.scenes import scene_features
from ..vs.temporal import map_windows
from ..vs.tiling import check_grid, run_tiled
from ._common import auto_grid
from ._cuts import CutRule, cut_rule
from ._temporal import pair_cuts, shots

__all__ = ["upscale", "WINDOW", "WINDOW_OVERLAP"]

FUNC = "upscale"
#: Frames per window a recurrent model sees at once.
WINDOW = 20
#: Frames consecutive windows share: half of them warm each window up on each side.
WINDOW_OVERLAP = 8
# Activation bytes per input pixel (fp32) assumed for a ready module without a bytes_per_pixel attribute.
_DEFAULT_BYTES_PER_PIXEL = 4096


def upscale(
    clip: vs.VideoNode,
    scale: int = 2,
    *,
    model: str | os.PathLike[str] | torch.nn.Module | None = "default",
    temporal: bool = False,
    scene_change: str | float | None = "auto",
    tiles: int | tuple[int, int] | None = None,
    tilesize: int | tuple[int, int] | None = None,
    overlap: int = 16,
    device: str | torch.device | None = None,
    fp16: bool | None = None,
) -> vs.VideoNode:
    """Enlarge a clip by an integer factor with a super-resolution network.

    Args:
        clip: Constant-format clip (GRAY/YUV/RGB, 8-16-bit integer or 16/32-bit float, YUV 4:4:4/4:2:2/4:2:0).
            The output has the same format, length, frame rate and props at ``scale`` times the size.
            YUV and RGB are upscaled as RGB; GRAY as luma, replicated to RGB for a colour model and averaged
            back (see the module docstring).
        scale: The upscaling factor: the model's own (2 for x2 models, 4 for x4 models), or for a
            single-frame model a power of it, reached by running the model repeatedly (as nnedi3's rpow2 does):
            ``upscale(clip, 4)`` runs the bundled x2 model twice. A dedicated x4 model does better.
        model: ``"default"`` (or None): the bundled x2 upscaler ``"upscale-default"`` (model card
            ``vsvideogen/weights/upscale_default.md``);
            a registered id: ``"realesr-general-x4v3"``, ``"realesr-animevideov3"``, ``"realesrgan-x4plus"``
            (x4), ``"realesrgan-x2plus"`` (x2), or the recurrent ``"basicvsr-reds4"``,
            ``"basicvsr-vimeo-bi"``, ``"basicvsr-vimeo-bd"`` (x4, ``temporal=True``); the path of a
            Real-ESRGAN RRDBNet, SRVGGNetCompact or BasicVSR checkpoint (the layout is read from its keys);
            or a ready ``torch.nn.Module`` with an int attribute ``scale``, called as ``net(x)`` with ``x``
            ``[N, C, H, W]`` in 0..1 (on the device, in the right dtype) returning ``[N, C, H * scale,
            W * scale]``; with ``recurrent = True`` it is called with ``[N, T, C, H, W]`` sequences instead.
            Optional attributes: ``channels`` (1 or 3, default 3), ``modulo`` (tile alignment, default 1),
            ``bytes_per_pixel`` (for automatic tiling).
        temporal: True for a recurrent (video) model such as BasicVSR, False for a single-frame model; it
            must match the model. Recurrent models run over overlapping windows of :data:`WINDOW` frames.
        scene_change: Where a recurrent model's propagation stops (each shot of a window runs on its own):
            ``"auto"`` honours ``_SceneChangeNext`` / ``_SceneChangePrev`` where either prop exists and runs
            the built-in detector (:mod:`vsvideogen.vs.scenes`: over the threshold, 0.15, or a jump cut) where
            neither does; a float in (0, 1) runs the detector with that threshold on every pair, ignoring the
            props; None sees no cut.
            Single-frame models do not use it.
        tiles: ``(nx, ny)`` tiles across and down, or an int ``n`` for ``(n, n)``.
        tilesize: Instead of ``tiles``: a tile size in input pixels, an int (square) or ``(width, height)``;
            the frame is cut into ``ceil(width / w) x ceil(height / h)`` tiles (each then reaches ``overlap / 2``
            further into its neighbours). With neither, the fewest tiles whose activations fit in half the
            free GPU memory (2 GiB on the CPU) are used.
        overlap: Input pixels adjacent tiles share, blended linearly (an int >= 0; rounded up to the
            model's alignment).
        device: ``None`` (CUDA if present, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        fp16: Half precision; None means fp16 on CUDA and fp32 on the CPU.

    Returns:
        The upscaled clip.

    Raises:
        VSVideoGenError: A bad clip or argument (the message says what to pass instead).
        WeightsError: The model's weights are missing or do not fit.

    The network is loaded once per call. Frames can be requested in any order from any number of threads;
    network calls are serialised by a lock, and the result does not depend on the order (bit-identical on
    the CPU).
    """
    check_clip(clip, FUNC)
    scale = check_positive_int(scale, "scale", FUNC)
    if not isinstance(temporal, bool):
        raise VSVideoGenError(FUNC, f"temporal must be True or False, not {temporal!r}")
    check_positive_int(overlap, "overlap", FUNC, minimum=0)
    cuts = cut_rule(FUNC, scene_change)
    dev = resolve_device(device, FUNC)
    dtype = resolve_dtype(fp16, dev, FUNC)
    net = _get_model(model, dev, dtype)
    name = _model_name(model)
    recurrent = bool(getattr(net, "recurrent", False))
    if temporal and not recurrent:
        raise VSVideoGenError(FUNC, f"{name} upscales single frames, not sequences; pass temporal=False, or a "
                                    "recurrent model such as 'basicvsr-reds4' with temporal=True")
    if recurrent and not temporal:
        raise VSVideoGenError(FUNC, f"{name} is a recurrent video model that needs a run of frames; pass "
                                    "temporal=True, or a single-frame model with temporal=False")
    model_scale = getattr(net, "scale", None)
    if isinstance(model_scale, bool) or not isinstance(model_scale, int):
        raise VSVideoGenError(FUNC, f"{name} has no integer attribute 'scale'; give the module its upscaling "
                                    "factor, e.g. net.scale = 2")
    if model_scale < 2:
        raise VSVideoGenError(FUNC, f"{name} upscales by {model_scale}: it keeps the size (a restoration model); use "
                                    f"a x{scale} upscale model")
    passes = _passes(scale, model_scale)
    if passes is None or (recurrent and passes > 1):
        repeat = "" if recurrent else f" (or {model_scale ** 2}, {model_scale ** 3}, ...: it then runs repeatedly)"
        raise VSVideoGenError(FUNC, f"scale={scale} but {name} upscales by {model_scale}; pass scale={model_scale}"
                                    f"{repeat}, or a x{scale} model")
    if passes > 1:
        once = dict(model=net, temporal=False, tiles=tiles, tilesize=tilesize, overlap=overlap, device=device, fp16=fp16)
        for _ in range(passes):
            clip = upscale(clip, model_scale, **once)
        return clip
    channels = int(getattr(net, "channels", 3))
    if channels not in (1, 3):
        raise VSVideoGenError(FUNC, f"{name} works on {channels} channels; use a model for 1 (gray) or 3 (colour)")
    modulo = int(getattr(net, "modulo", 1))
    frames = min(WINDOW, clip.num_frames) if recurrent else 1
    grid = _tiles(tiles, tilesize, clip, net, channels, modulo, overlap, dev, dtype, frames)
    out_width, out_height = clip.width * scale, clip.height * scale
    engine = _Engine(
        net=net,
        source=FrameConverter.for_clip(clip, dev, dtype, FUNC),
        target=FrameConverter(clip.format, out_width, out_height, dev, dtype, FUNC),
        template=vs.core.create_video_frame(clip.format, out_width, out_height),
        channels=channels,
        recurrent=recurrent,
        cuts=cuts,
        scale=scale,
        tiles=grid,
        overlap=overlap,
        modulo=modulo,
    )
    base = clip.std.BlankClip(width=out_width, height=out_height, keep=True)
    if recurrent:
        return map_windows(clip, engine.window, WINDOW, min(WINDOW_OVERLAP, WINDOW - 1), template=base)
    return base.std.ModifyFrame(clip, engine.frame)


# -- argument checks ---------------------------------------------------------------------------------------


def _passes(scale: int, model_scale: int) -> int | None:
    """How many runs of a x``model_scale`` model make x``scale`` (a power of it), or None."""
    passes, reached = 1, model_scale
    while reached < scale and model_scale > 1:
        passes, reached = passes + 1, reached * model_scale
    return passes if reached == scale else None


def _get_model(model: Any, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    if isinstance(model, torch.nn.Module):
        return model.eval()
    if model is not None and not isinstance(model, (str, os.PathLike)):
        raise VSVideoGenError(FUNC, f"model={model!r} is not a model; use a registered id such as "
                                    "'realesr-general-x4v3', a weight file path or a torch.nn.Module")
    if isinstance(model, str) and model == "default":
        model = None  # the registry's default: DEFAULT_MODELS["upscale"]
    return load_model(model, "upscale", device, dtype, FUNC)


def _model_name(model: Any) -> str:
    if isinstance(model, torch.nn.Module):
        return f"the {type(model).__name__} model"
    if model is None or model == "default":
        return "the default model"
    return f"model {str(model)!r}"


def _tiles(tiles: Any, tilesize: Any, clip: vs.VideoNode, net: torch.nn.Module, channels: int, modulo: int,
           overlap: int, device: torch.device, dtype: torch.dtype, frames: int) -> tuple[int, int]:
    width, height = clip.width, clip.height
    if tiles is not None and tilesize is not None:
        raise VSVideoGenError(FUNC, f"tiles={tiles!r} and tilesize={tilesize!r} were both given; pass only one of them")
    if tilesize is not None:
        size = _pair(tilesize, "tilesize", "tilesize=512 or tilesize=(640, 360)")
        tiles = (math.ceil(width / size[0]), math.ceil(height / size[1]))
    elif tiles is not None:
        tiles = _pair(tiles, "tiles", "tiles=(2, 2)")
    else:
        per_pixel = getattr(net, "bytes_per_pixel", _DEFAULT_BYTES_PER_PIXEL)
        per_pixel += getattr(net, "bytes_per_pixel_per_frame", 0) * frames
        return auto_grid(clip, per_pixel, channels, overlap, modulo, device, dtype)
    nx, ny = tiles
    check_grid(FUNC, width, height, (nx, ny), overlap, modulo)
    return nx, ny


def _pair(value: Any, name: str, example: str) -> tuple[int, int]:
    """An int ``n`` as ``(n, n)``, or a pair of ints, all >= 1."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in value)):
        raise VSVideoGenError(FUNC, f"{name}={value!r} is not supported; use None, an int >= 1 or a pair of them, "
                                    f"e.g. {example}")
    return int(value[0]), int(value[1])


# -- per-frame work ----------------------------------------------------------------------------------------


class _Engine:
    """Upscales source frames (one, or a window of them for recurrent models) into output frames."""

    def __init__(self, *, net, source: FrameConverter, target: FrameConverter, template: vs.VideoFrame,
                 channels: int, recurrent: bool, cuts: CutRule, scale: int, tiles: tuple[int, int], overlap: int,
                 modulo: int) -> None:
        self.net = net
        self.source = source
        self.target = target
        self.template = template
        self.channels = channels
        self.recurrent = recurrent
        self.cuts = cuts
        self.scale = scale
        self.tiles = tiles
        self.overlap = overlap
        self.modulo = modulo
        self._model_lock = threading.Lock()

    def frame(self, n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        """``std.ModifyFrame`` callback of single-frame models."""
        return self.window(n, [f])[0]

    def window(self, start: int, frames: list[vs.VideoFrame]) -> list[vs.VideoFrame]:
        """The output frames of consecutive source frames (``map_windows`` callback); a recurrent model sees
        each shot of the window on its own, so nothing propagates across a scene cut."""
        with torch.inference_mode():
            images = torch.cat([self.source.to_tensor(f) for f in frames], 0)
            cut = pair_cuts(frames, self.cuts, lambda i: scene_features(images[i:i + 1]))
            result = torch.cat([self._upscale(images[run.start:run.stop]) for run in shots(len(frames), cut)], 0)
            return [self.target.to_frame(result[i:i + 1], self.template, props_from=_matrix_tagged(f))
                    for i, f in enumerate(frames)]

    def _upscale(self, images: torch.Tensor) -> torch.Tensor:
        """``[T, C, H, W]`` (C = 1 or 3, as the converter gives) -> ``[T, C, sH, sW]``."""
        t, c = images.shape[:2]
        if self.channels == 3 and c == 1:
            images = images.expand(-1, 3, -1, -1)
        split = self.channels == 1 and c == 3  # a gray model on colour: each channel is its own image
        batch, depth = (3, 1) if split else (1, self.channels)

        def run(tile: torch.Tensor) -> torch.Tensor:
            h, w = tile.shape[-2:]
            x = tile.reshape(t * batch, depth, h, w)
            if self.recurrent:  # batch sequences of t frames each
                y = self.net(x.view(t, batch, depth, h, w).transpose(0, 1).contiguous())
                y = y.transpose(0, 1)
            else:
                y = self.net(x)
            return y.reshape(t, batch * depth, h * self.scale, w * self.scale)

        with self._model_lock:
            result = run_tiled(run, [images], self.tiles, self.overlap, modulo=self.modulo, scale=self.scale)
        if self.channels == 3 and c == 1:
            result = result.mean(1, keepdim=True)
        return result


def _matrix_tagged(frame: vs.VideoFrame) -> vs.VideoFrame:
    """``frame``, or for a YUV frame without a known ``_Matrix`` a copy tagged with the matrix it is decoded
    with (guessed from its size)."""
    if frame.format.color_family != vs.YUV or frame.props.get("_Matrix", vs.MATRIX_UNSPECIFIED) != vs.MATRIX_UNSPECIFIED:
        return frame
    tagged = frame.copy()
    tagged.props["_Matrix"] = default_matrix(frame.width, frame.height)
    return tagged
