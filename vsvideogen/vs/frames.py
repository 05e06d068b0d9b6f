"""VapourSynth frames <-> torch tensors, with the colour conversion done on the device.

A filter builds one :class:`FrameConverter` per clip format and size and calls it from its frame callbacks:

* :meth:`FrameConverter.to_tensor` gives ``[1, C, H, W]`` nominal values in the converter's dtype: RGB 0..1
  (C=3) for YUV and RGB clips, luma 0..1 (C=1) for GRAY clips. The planes are copied once into one host
  buffer (pinned, one per thread, when the device is CUDA), uploaded in the clip's own sample type, and then
  normalised, chroma-upsampled (bicubic b=0 c=0.5, sited by ``_ChromaLocation``) and matrix-converted on the
  device. ``_Matrix``, ``_Range`` and ``_ChromaLocation`` drive it; their defaults are those of
  :mod:`vsvideogen.vs.formats`.
* :meth:`FrameConverter.to_frame` is the inverse: RGB -> YUV, chroma downsampling, rounding and clamping on
  the device, one download, and a new frame in the clip's format carrying the template's props (or those of
  ``props_from``).

Output sizes other than the input's (upscalers): build a second converter for the output size,
``FrameConverter(fmt, out_width, out_height, device, dtype, func)``, and pass ``to_frame`` a template frame of
that size (e.g. a frame of ``clip.std.BlankClip(width=out_width, height=out_height, keep=True)`` used as the
base clip of ``std.ModifyFrame``) with ``props_from=`` the source frame. Its ``_Matrix``/``_Range``/
``_ChromaLocation`` then decide the encoding; an unspecified matrix is guessed from the *output* size, the
same guess a player makes for the output, so the colours look as the source did.

Floating-point results are not clamped (VapourSynth float clips may hold out-of-range values); integer
results are rounded to nearest and clamped to ``0 .. 2**bits - 1``. Float frames holding NaN or infinite
samples are refused by :meth:`FrameConverter.to_tensor` (:data:`FINITE_EXPR` replaces them).

Thread safety: VapourSynth calls frame callbacks from several threads at once. The converter's only mutable
state is a per-thread staging area (``threading.local``) and a lock-guarded cache of immutable device
tensors, so one converter may serve all threads.
"""
from __future__ import annotations

import threading

import numpy as np
import torch
import vapoursynth as vs

from ..errors import VSVideoGenError
from ..ops.color import affine_color
from ..ops.resize import resize
from . import formats
from .checks import check_format

#: How 16-bit integer codes travel: as int16 (same bytes), widened and masked on the device, so no uint16
#: arithmetic is needed there.
_HOST_DTYPES = {
    (vs.INTEGER, 1): (torch.uint8, np.uint8),
    (vs.INTEGER, 2): (torch.int16, np.uint16),
    (vs.FLOAT, 2): (torch.float16, np.float16),
    (vs.FLOAT, 4): (torch.float32, np.float32),
}


#: A ``std.Expr`` expression that sets NaN and infinite samples (and finite ones beyond 1e29) to 0 and keeps the
#: rest: clamped to +-1e30 first, as std.Expr's comparisons do not see NaN (``x x =`` holds for it).
FINITE_EXPR = "x 1e30 min -1e30 max dup abs 1e29 < swap 0 ?"


class _Staging(threading.local):
    """One thread's host buffers (pinned on CUDA) and the event that says when the upload buffer is free."""

    upload: torch.Tensor | None = None
    upload_view: np.ndarray | None = None
    upload_done: torch.cuda.Event | None = None
    download: torch.Tensor | None = None
    download_view: np.ndarray | None = None


class FrameConverter:
    """Converts frames of one format and size to device tensors and back.

    Args:
        fmt: the clip's format (checked with :func:`vsvideogen.vs.checks.check_format`).
        width: frame width in pixels.
        height: frame height in pixels.
        device: where tensors live.
        dtype: the floating dtype of the tensors :meth:`to_tensor` returns (maths runs in float32).
        func: the calling filter's name, for error messages.
    """

    def __init__(self, fmt: vs.VideoFormat, width: int, height: int, device: torch.device, dtype: torch.dtype, func: str):
        check_format(fmt, func)
        if not dtype.is_floating_point:
            raise VSVideoGenError(func, f"tensor dtype {dtype} is not floating point; use torch.float32 or torch.float16")
        self.format = fmt
        self.width = width
        self.height = height
        self.device = torch.device(device)
        self.dtype = dtype
        self.func = func
        self.channels = 1 if fmt.color_family == vs.GRAY else 3
        self.chroma_height = height >> fmt.subsampling_h
        self.chroma_width = width >> fmt.subsampling_w
        self.subsampled = fmt.color_family == vs.YUV and (fmt.subsampling_w, fmt.subsampling_h) != (0, 0)
        self._torch_host, self._numpy_host = _HOST_DTYPES[(fmt.sample_type, fmt.bytes_per_sample)]
        self._shapes = [(height, width)] + [(self.chroma_height, self.chroma_width)] * (fmt.num_planes - 1)
        self._offsets = np.cumsum([0] + [h * w for h, w in self._shapes]).tolist()
        self._cuda = self.device.type == "cuda"
        self._staging = _Staging()
        self._cache: dict[tuple[str, formats.Colorimetry], tuple] = {}
        self._cache_lock = threading.Lock()

    @classmethod
    def for_clip(cls, clip: vs.VideoNode, device: torch.device, dtype: torch.dtype, func: str) -> FrameConverter:
        """A converter for ``clip``'s format and size."""
        return cls(clip.format, clip.width, clip.height, device, dtype, func)

    def __repr__(self) -> str:
        return f"FrameConverter({self.format.name}, {self.width}x{self.height}, {self.device}, {self.dtype})"

    # -- frame -> tensor -------------------------------------------------------------------------------------

    def to_tensor(self, frame: vs.VideoFrame) -> torch.Tensor:
        """``[1, C, H, W]`` nominal RGB (or luma for GRAY) of ``frame`` on the device, in the converter's dtype.

        Raises:
            VSVideoGenError: the frame is not of the converter's format and size, is interlaced (``_FieldBased`` 1
                or 2: its two fields are two instants, which the networks would take for one picture), has bad
                colour props, or (float formats) holds NaN or infinite samples.
        """
        self._check_frame(frame, "frame")
        order = formats.field_order(frame.props)
        if order is not None:
            raise VSVideoGenError(self.func, f"the clip is interlaced (_FieldBased={frame.props['_FieldBased']}, {order} "
                                             "field first); deinterlace it first (e.g. core.bwdif.Bwdif or QTGMC), or, "
                                             "if it is progressive content flagged interlaced, clip.std.SetFieldBased(0)")
        colorimetry = formats.colorimetry_from_props(frame.props, self.format, self.width, self.height, self.func)
        codes = self._float_codes(self._upload(frame))
        h, w = self.height, self.width
        if self.format.color_family == vs.GRAY:
            scale, offset = self._tensors("decode", colorimetry)
            return (codes.view(1, 1, h, w) * scale + offset).to(self.dtype)
        if self.subsampled:
            luma = codes[: h * w].view(1, 1, h, w)
            chroma = codes[h * w :].view(1, 2, self.chroma_height, self.chroma_width)
            shift_x, shift_y = formats.chroma_upsample_shift(self.format, colorimetry.chroma_location)
            chroma = resize(chroma, h, w, "bicubic", shift_x=shift_x, shift_y=shift_y, b=0.0, c=0.5)
            planes = torch.cat([luma, chroma], 1)
        else:
            planes = codes.view(1, 3, h, w)
        matrix, offset = self._tensors("decode", colorimetry)
        if matrix is not None:
            planes = affine_color(planes, matrix, offset)
        return planes.to(self.dtype)

    def _upload(self, frame: vs.VideoFrame) -> torch.Tensor:
        """All planes, flattened one after the other, on the device in the clip's sample type."""
        if not self._cuda:  # a fresh buffer: the result may alias it (float32 RGB), so it is never reused
            host = torch.empty(self._offsets[-1], dtype=self._torch_host)
            self._fill(host.numpy().view(self._numpy_host), frame)
            return host
        staging = self._staging
        if staging.upload is None:
            staging.upload = torch.empty(self._offsets[-1], dtype=self._torch_host, pin_memory=True)
            staging.upload_view = staging.upload.numpy().view(self._numpy_host)
            staging.upload_done = torch.cuda.Event()
        else:
            staging.upload_done.synchronize()  # the previous frame's copy out of this buffer has finished
        self._fill(staging.upload_view, frame)
        flat = staging.upload.to(self.device, non_blocking=True)
        staging.upload_done.record(torch.cuda.current_stream(self.device))
        return flat

    def _fill(self, flat: np.ndarray, frame: vs.VideoFrame) -> None:
        """Copy the frame's planes into ``flat``; a float frame must be finite (a NaN or infinity would spread
        over the whole output of a network or a deconvolution), checked on the host, before the upload."""
        for plane, (h, w) in enumerate(self._shapes):
            start = self._offsets[plane]
            np.copyto(flat[start : start + h * w].reshape(h, w), np.asarray(frame[plane]))
        if self.format.sample_type == vs.FLOAT and not np.isfinite(flat).all():
            raise VSVideoGenError(
                self.func,
                f"a frame of the clip holds {flat.size - np.count_nonzero(np.isfinite(flat))} NaN or infinite "
                f"sample(s), which would spread over the whole output; replace them before the filter, e.g. "
                f"clip = core.std.Expr(clip, '{FINITE_EXPR}') (sets them to 0)",
            )

    def _float_codes(self, flat: torch.Tensor) -> torch.Tensor:
        """The codes as float32 (16-bit integers arrive as int16 bit patterns)."""
        if flat.dtype == torch.int16:
            return flat.to(torch.int32).bitwise_and_(0xFFFF).to(torch.float32)
        return flat.to(torch.float32)

    # -- tensor -> frame -------------------------------------------------------------------------------------

    def to_frame(
        self, tensor: torch.Tensor, template: vs.VideoFrame, *, props_from: vs.VideoFrame | None = None
    ) -> vs.VideoFrame:
        """A new frame holding ``tensor`` (``[1, C, H, W]`` as :meth:`to_tensor` gives) in the clip's format.

        Args:
            tensor: nominal RGB (or luma for GRAY) of this converter's size, on any device, any float dtype.
            template: a frame of this converter's format and size; the result is a writable copy of it.
            props_from: a frame whose props replace the template's (e.g. the source frame when the template
                comes from a blank clip of the output size). Its ``_Matrix``/``_Range``/``_ChromaLocation``
                then decide the encoding.

        Raises:
            VSVideoGenError: the tensor or template does not match the converter.
        """
        self._check_frame(template, "template")
        expected = (1, self.channels, self.height, self.width)
        if tuple(tensor.shape) != expected or not tensor.is_floating_point():
            raise VSVideoGenError(
                self.func,
                f"tensor of shape {tuple(tensor.shape)} and dtype {tensor.dtype} cannot become a {self.format.name} "
                f"frame; pass a floating tensor of shape {expected}",
            )
        out = template.copy()
        if props_from is not None:
            out.props.clear()
            out.props.update(props_from.props)
        colorimetry = formats.colorimetry_from_props(out.props, self.format, self.width, self.height, self.func)
        flat = self._encode(tensor.detach().to(device=self.device, dtype=torch.float32).contiguous(), colorimetry)
        self._download_into(out, self._to_sample_type(flat))
        return out

    def _encode(self, image: torch.Tensor, colorimetry: formats.Colorimetry) -> torch.Tensor:
        """Float32 codes of all planes, flattened one after the other."""
        if self.format.color_family == vs.GRAY:
            scale, offset = self._tensors("encode", colorimetry)
            return (image * scale + offset).reshape(-1)
        matrix, offset = self._tensors("encode", colorimetry)
        codes = image if matrix is None else affine_color(image, matrix, offset)
        if not self.subsampled:
            return codes.reshape(-1)
        shift_x, shift_y = formats.chroma_downsample_shift(self.format, colorimetry.chroma_location)
        chroma = resize(
            codes[:, 1:], self.chroma_height, self.chroma_width, "bicubic", shift_x=shift_x, shift_y=shift_y, b=0.0, c=0.5
        )
        return torch.cat([codes[:, :1].reshape(-1), chroma.reshape(-1)])

    def _to_sample_type(self, codes: torch.Tensor) -> torch.Tensor:
        """Round and clamp integer codes, then cast to the host transfer dtype (16-bit codes as int16 bits)."""
        if self.format.sample_type == vs.FLOAT:
            return codes.to(self._torch_host).contiguous()
        peak = formats.integer_peak(self.format.bits_per_sample)
        codes = codes.round().clamp_(0, peak)
        if self._torch_host == torch.uint8:
            return codes.to(torch.uint8)
        wide = codes.to(torch.int32)
        if self.format.bits_per_sample == 16:
            wide = torch.where(wide > 32767, wide - 65536, wide)  # same bits as uint16, in int16's range
        return wide.to(torch.int16)

    def _download_into(self, frame: vs.VideoFrame, flat: torch.Tensor) -> None:
        if self._cuda:
            staging = self._staging
            if staging.download is None:
                staging.download = torch.empty(self._offsets[-1], dtype=self._torch_host, pin_memory=True)
                staging.download_view = staging.download.numpy().view(self._numpy_host)
            staging.download.copy_(flat, non_blocking=True)
            torch.cuda.current_stream(self.device).synchronize()
            host = staging.download_view
        else:
            host = flat.numpy().view(self._numpy_host)
        for plane, (h, w) in enumerate(self._shapes):
            start = self._offsets[plane]
            np.copyto(np.asarray(frame[plane]), host[start : start + h * w].reshape(h, w))

    # -- shared ----------------------------------------------------------------------------------------------

    def _check_frame(self, frame: vs.VideoFrame, what: str) -> None:
        if frame.format.id != self.format.id or frame.width != self.width or frame.height != self.height:
            raise VSVideoGenError(
                self.func,
                f"{what} is {frame.format.name} {frame.width}x{frame.height} but the converter was built for "
                f"{self.format.name} {self.width}x{self.height}; build a FrameConverter for that format and size",
            )

    def _tensors(self, direction: str, colorimetry: formats.Colorimetry) -> tuple:
        """Device float32 ``(matrix, offset)`` for ``direction`` ("decode"/"encode"), cached per colorimetry.

        GRAY gets scalar ``(scale, offset)``; RGB/YUV get ``(None, None)`` when the map is the identity.
        """
        key = (direction, colorimetry)
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        affine = formats.decode_affine if direction == "decode" else formats.encode_affine
        matrix, offset = affine(self.format, colorimetry)
        if self.format.color_family == vs.GRAY:
            value = (float(matrix[0, 0]), float(offset[0]))
        elif np.array_equal(matrix, np.eye(3)) and not offset.any():
            value = (None, None)
        else:
            value = tuple(torch.as_tensor(a, dtype=torch.float32, device=self.device) for a in (matrix, offset))
        with self._cache_lock:
            self._cache.setdefault(key, value)
        return value
