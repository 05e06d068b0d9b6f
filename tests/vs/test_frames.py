"""Frame <-> tensor conversion against exact round trips and VapourSynth's own resize (zimg).

Measured on CPU, float32, bikes (640x272 YUV420P8, bestsource), first three frames:

* round trips: RGB24/30/48, RGBH/RGBS, GRAY8/16/S: bit-exact. YUV444P8/P16: exact (0 codes);
  YUV444PS: max 1.8e-7. 4:2:0 and 4:2:2: luma exact, chroma (bicubic up then down, lossy) in 8-bit code
  units: YUV420P8 max 2 / mean 0.0012, YUV420P10 max 2.25 / mean 0.013, YUV420P16 max 2.27 / mean 0.030,
  YUV422P10 max 1.5 / mean 0.004 (bigbuckbunny, with sharper chroma edges: max 14, mean 0.09).
* to_tensor vs ``resize.Bicubic(format=vs.RGBS)`` (b=0, c=0.5, same matrix, range, chroma location):
  4:4:4: max 3.0e-7, mean 4.0e-8 (YUV444PS: max 1.2e-7, mean 8e-10). 4:2:0/4:2:2: the same more than
  4 pixels from the edges; on the edge rows/columns up to 4e-4 (1e-3 with top-left siting; mean over
  the frame 5e-8), because ``vsvideogen.ops.resize`` repeats edge samples where zimg mirrors them (with
  mirrored padding: 2.4e-7).
* to_frame vs ``resize.Bicubic`` from RGBS (dither none): 0 codes apart for 4:2:0/4:2:2 8-10 bit, at
  most 1 code (rounding ties) elsewhere.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsvideogen
from vsvideogen.errors import VSVideoGenError
from vsvideogen.vs import formats
from vsvideogen.vs.frames import FINITE_EXPR, FrameConverter

CPU = torch.device("cpu")

#: to_tensor vs resize.Bicubic(format=vs.RGBS) over the whole frame (edges mirror as in zimg): float32 rounding only.
RESIZE_MAX, RESIZE_MEAN = 2e-6, 2e-7
#: 4:2:0 / 4:2:2 chroma round trip on the real clip, in 8-bit code units.
CHROMA_ROUND_TRIP_MAX, CHROMA_ROUND_TRIP_MEAN = 3.0, 0.05


def planes_of(frame: vs.VideoFrame) -> list[np.ndarray]:
    return [np.array(frame[p]) for p in range(frame.format.num_planes)]


def converter(clip: vs.VideoNode, dtype: torch.dtype = torch.float32) -> FrameConverter:
    return FrameConverter.for_clip(clip, CPU, dtype, "test")


def synthetic_frame(core: vs.Core, fmt: vs.PresetVideoFormat, seed: int = 0, size=(64, 48), **props) -> vs.VideoFrame:
    """A frame of random codes over the whole range of ``fmt`` (floats: -0.2..1.2, some out of range)."""
    rng = np.random.default_rng(seed)
    frame = core.std.BlankClip(format=fmt, width=size[0], height=size[1], length=1).get_frame(0).copy()
    for p in range(frame.format.num_planes):
        target = np.asarray(frame[p])
        if frame.format.sample_type == vs.INTEGER:
            target[...] = rng.integers(0, 1 << frame.format.bits_per_sample, target.shape)
        else:
            target[...] = rng.uniform(-0.2, 1.2, target.shape)
    for key, value in props.items():
        frame.props[key] = value
    return frame


def tagged(clip: vs.VideoNode, matrix: int = 1, range_: int = 0, location: int = 0) -> vs.VideoNode:
    return clip.std.SetFrameProps(_Matrix=matrix, _Range=range_, _ChromaLocation=location)


def as_rgbs(clip: vs.VideoNode, matrix: int, range_: int, location: int = 0) -> vs.VideoNode:
    return clip.resize.Bicubic(format=vs.RGBS, matrix_in=matrix, range_in=range_, chromaloc_in=location)


def frame_array(frame: vs.VideoFrame) -> np.ndarray:
    return np.stack(planes_of(frame)).astype(np.float64)


def assert_matches_resize(ours: np.ndarray, theirs: np.ndarray) -> None:
    """``[3, H, W]`` RGB from to_tensor against zimg's, edges included."""
    diff = np.abs(ours - theirs)
    assert diff.max() < RESIZE_MAX and diff.mean() < RESIZE_MEAN


def round_trip_errors(clip: vs.VideoNode) -> list[np.ndarray]:
    """Per-plane abs errors (float64) of to_frame(to_tensor(f)) over every frame of ``clip``."""
    conv = converter(clip)
    errors: list[list[np.ndarray]] = [[] for _ in range(clip.format.num_planes)]
    for frame in clip.frames():
        back = conv.to_frame(conv.to_tensor(frame), frame)
        for p, (a, b) in enumerate(zip(planes_of(frame), planes_of(back))):
            errors[p].append(np.abs(a.astype(np.float64) - b.astype(np.float64)))
    return [np.stack(e) for e in errors]


# -- round trips -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [vs.RGB24, vs.RGB30, vs.RGB48, vs.RGBH, vs.RGBS, vs.GRAY8, vs.GRAY16, vs.GRAYS])
def test_rgb_and_gray_round_trip_exactly(core, real_clip, fmt):
    frame = synthetic_frame(core, fmt)
    conv = FrameConverter(frame.format, frame.width, frame.height, CPU, torch.float32, "test")
    back = conv.to_frame(conv.to_tensor(frame), frame)
    for a, b in zip(planes_of(frame), planes_of(back)):
        np.testing.assert_array_equal(a, b)
    real = real_clip.std.SetFrameProps(_Matrix=1).resize.Bicubic(format=fmt, matrix_in=1)
    assert all(e.max() == 0 for e in round_trip_errors(real))


@pytest.mark.parametrize("fmt", [vs.YUV444P8, vs.YUV444P16])
def test_yuv444_integer_round_trip_within_one_code(core, fmt):
    for range_ in (0, 1):
        frame = synthetic_frame(core, fmt, _Matrix=1, _Range=range_)
        conv = FrameConverter(frame.format, frame.width, frame.height, CPU, torch.float32, "test")
        back = conv.to_frame(conv.to_tensor(frame), frame)
        worst = max(np.abs(a.astype(np.int64) - b).max() for a, b in zip(planes_of(frame), planes_of(back)))
        assert worst <= 1


def test_yuv444_float_round_trip(core):
    frame = synthetic_frame(core, vs.YUV444PS, _Matrix=9)
    conv = FrameConverter(frame.format, frame.width, frame.height, CPU, torch.float32, "test")
    back = conv.to_frame(conv.to_tensor(frame), frame)
    assert max(np.abs(a - b).max() for a, b in zip(planes_of(frame), planes_of(back))) < 1e-6


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.YUV420P10, vs.YUV420P16, vs.YUV422P10])
def test_subsampled_round_trip_on_real_frames(real_clip, fmt):
    clip = real_clip if fmt == vs.YUV420P8 else real_clip.resize.Bicubic(format=fmt)
    luma, *chroma = round_trip_errors(clip)
    assert luma.max() == 0
    to_8bit = 1.0 / (1 << (clip.format.bits_per_sample - 8))
    chroma = np.stack(chroma) * to_8bit
    assert chroma.max() <= CHROMA_ROUND_TRIP_MAX
    assert chroma.mean() <= CHROMA_ROUND_TRIP_MEAN


# -- against VapourSynth's resize ------------------------------------------------------------------------

RESIZE_CASES = [
    (vs.YUV420P8, 0),
    (vs.YUV420P8, 1),
    (vs.YUV420P8, 2),
    (vs.YUV420P8, 5),
    (vs.YUV420P10, 0),
    (vs.YUV420P16, 0),
    (vs.YUV422P10, 0),
    (vs.YUV422P10, 1),
    (vs.YUV444P8, 0),
    (vs.YUV444P16, 0),
    (vs.YUV444PS, 0),
]


@pytest.mark.parametrize(("fmt", "location"), RESIZE_CASES)
def test_to_tensor_matches_resize(real_clip, fmt, location):
    clip = real_clip if fmt == vs.YUV420P8 else real_clip.resize.Bicubic(format=fmt)
    clip = tagged(clip, matrix=1, range_=0, location=location)
    ours = converter(clip).to_tensor(clip.get_frame(1))[0].numpy()
    theirs = frame_array(as_rgbs(clip, 1, 0, location).get_frame(1))
    assert_matches_resize(ours, theirs)


def test_chroma_location_changes_the_result(real_clip):
    results = [converter(real_clip).to_tensor(tagged(real_clip, location=loc).get_frame(0)) for loc in (0, 1, 2)]
    assert (results[0] - results[1]).abs().max() > 1e-2
    assert (results[0] - results[2]).abs().max() > 1e-2


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.YUV420P10, vs.YUV422P10, vs.YUV444P16])
def test_to_frame_matches_resize(real_clip, fmt):
    rgb = as_rgbs(tagged(real_clip), 1, 0)
    reference = rgb.resize.Bicubic(format=fmt, matrix=1, range=0, chromaloc=0, dither_type="none")
    template = reference.get_frame(1)
    tensor = torch.from_numpy(frame_array(rgb.get_frame(1)).astype(np.float32))[None]
    ours = converter(reference).to_frame(tensor, template)
    for a, b in zip(planes_of(ours), planes_of(template)):
        diff = np.abs(a.astype(np.float64) - b)
        assert diff.max() <= 1 and diff.mean() < 0.01


def test_range_is_honoured(real_clip):
    results = {}
    for range_ in (0, 1):
        clip = tagged(real_clip, range_=range_)
        results[range_] = converter(clip).to_tensor(clip.get_frame(1))[0].numpy()
        assert_matches_resize(results[range_], frame_array(as_rgbs(clip, 1, range_).get_frame(1)))
    assert np.abs(results[0] - results[1]).max() > 0.02


def test_matrix_is_honoured(real_clip):
    results = {}
    for matrix in (vs.MATRIX_ST170_M, vs.MATRIX_BT709, vs.MATRIX_BT2020_NCL):
        clip = tagged(real_clip, matrix=matrix)
        results[matrix] = converter(clip).to_tensor(clip.get_frame(1))[0].numpy()
        assert_matches_resize(results[matrix], frame_array(as_rgbs(clip, matrix, 0).get_frame(1)))
    assert np.abs(results[vs.MATRIX_ST170_M] - results[vs.MATRIX_BT709]).max() > 0.01


def test_missing_props_use_documented_defaults(core, real_clip):
    # bikes carries _Matrix=2 (unspecified) and no _Range: 640x272 means BT.601, limited range.
    assert "_Range" not in real_clip.get_frame(0).props
    ours = converter(real_clip).to_tensor(real_clip.get_frame(1))[0].numpy()
    assert_matches_resize(ours, frame_array(as_rgbs(tagged(real_clip, matrix=6), 6, 0).get_frame(1)))
    assert formats.default_matrix(1280, 536) == vs.MATRIX_BT709
    assert formats.default_matrix(960, 720) == vs.MATRIX_BT709
    assert formats.default_matrix(1024, 576) == vs.MATRIX_ST170_M
    rgb = core.std.BlankClip(format=vs.RGB24, width=8, height=8, length=1, color=[16, 16, 16])
    assert converter(rgb).to_tensor(rgb.get_frame(0)).sub(16 / 255).abs().max() < 1e-7


def test_gray_gives_one_limited_range_luma_channel(core):
    clip = core.std.BlankClip(format=vs.GRAY16, width=16, height=8, length=1, color=235 << 8)
    tensor = converter(clip).to_tensor(clip.get_frame(0))
    assert tensor.shape == (1, 1, 8, 16)
    assert torch.allclose(tensor, torch.ones_like(tensor))


# -- frames, props, sizes, dtypes ------------------------------------------------------------------------


def test_props_are_kept(real_clip):
    clip = real_clip.std.SetFrameProps(Custom=7, _Matrix=1)
    frame = clip.get_frame(2)
    conv = converter(clip)
    out = conv.to_frame(conv.to_tensor(frame), frame)
    assert dict(out.props) == dict(frame.props)
    assert out.props["Custom"] == 7


def test_output_of_another_size(core, real_clip):
    frame = real_clip.get_frame(0)
    big = real_clip.std.BlankClip(width=2 * real_clip.width, height=2 * real_clip.height, keep=True)
    up = FrameConverter.for_clip(big, CPU, torch.float32, "test")
    tensor = torch.nn.functional.interpolate(converter(real_clip).to_tensor(frame), scale_factor=2, mode="nearest")
    out = up.to_frame(tensor, big.get_frame(0), props_from=frame)
    assert (out.width, out.height, out.format.id) == (1280, 544, vs.YUV420P8)
    assert dict(out.props) == dict(frame.props)
    # the output is encoded with the output size's default matrix (BT.709 for 1280 wide), as tagged props say
    back = up.to_tensor(out)
    assert (back - tensor).abs().mean() < 0.01


def test_half_precision_tensor(real_clip):
    frame = real_clip.get_frame(0)
    half = FrameConverter.for_clip(real_clip, CPU, torch.float16, "test").to_tensor(frame)
    full = converter(real_clip).to_tensor(frame)
    assert half.dtype == torch.float16
    assert (half.float() - full).abs().max() < 2e-3


def test_mismatched_frame_and_tensor_are_refused(core, real_clip):
    conv = converter(real_clip)
    other = core.std.BlankClip(format=vs.YUV420P10, width=640, height=272, length=1).get_frame(0)
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.test: frame is YUV420P10 640x272"):
        conv.to_tensor(other)
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.test: tensor of shape \(1, 3, 10, 10\)"):
        conv.to_frame(torch.zeros(1, 3, 10, 10), real_clip.get_frame(0))
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.test: _Matrix=8"):
        conv.to_tensor(real_clip.std.SetFrameProps(_Matrix=8).get_frame(0))
    for value in (5, -1):
        with pytest.raises(VSVideoGenError, match=rf"^vsvideogen\.test: _Range={value} is not a range"):
            conv.to_tensor(real_clip.std.SetFrameProps(_Range=value).get_frame(0))
    for field_based, order in ((1, "bottom"), (2, "top")):
        with pytest.raises(VSVideoGenError, match=rf"^vsvideogen\.test: the clip is interlaced \(_FieldBased="
                                                  rf"{field_based}, {order} field first\); deinterlace it first"):
            conv.to_tensor(real_clip.std.SetFieldBased(field_based).get_frame(0))
    assert conv.to_tensor(real_clip.std.SetFieldBased(0).get_frame(0)).shape[-2:] == (real_clip.height, real_clip.width)


def test_unsupported_format_is_refused():
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.test: YUV411P8: chroma subsampling"):
        FrameConverter(vs.core.get_video_format(vs.YUV411P8), 64, 64, CPU, torch.float32, "test")


# -- non-finite samples ----------------------------------------------------------------------------------


def spoiled(core: vs.Core, fmt: vs.PresetVideoFormat, plane: int, value: float) -> tuple[vs.VideoNode, vs.VideoNode]:
    """A 64x48 clip of ``fmt`` (one frame, every sample finite) and the same clip with ``value`` at one sample
    of ``plane``."""
    planes = core.get_video_format(fmt).num_planes
    clip = core.std.BlankClip(format=fmt, width=64, height=48, length=1, color=[0.25, 0.5, 0.125][:planes])

    def put(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        np.asarray(out[plane])[3, 5] = value
        return out

    return clip, core.std.ModifyFrame(clip, clip, put)


@pytest.mark.parametrize(("fmt", "plane", "value"), [(vs.RGBS, 0, np.nan), (vs.RGBH, 1, np.inf), (vs.GRAYS, 0, -np.inf),
                                                     (vs.GRAYH, 0, np.nan), (vs.YUV444PS, 2, np.nan),
                                                     (vs.YUV420PS, 1, np.inf)])
def test_non_finite_samples_are_refused_and_the_named_fix_works(core, fmt, plane, value):
    clip, bad = spoiled(core, fmt, plane, value)
    conv = FrameConverter.for_clip(clip, CPU, torch.float32, "denoise")
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.denoise: a frame of the clip holds 1 NaN or infinite "
                                              r"sample.*replace them before the filter, e\.g\. clip = core\.std\.Expr"):
        conv.to_tensor(bad.get_frame(0))
    fixed = conv.to_tensor(core.std.Expr(bad, FINITE_EXPR).get_frame(0))
    assert torch.equal(fixed, conv.to_tensor(spoiled(core, fmt, plane, 0.0)[1].get_frame(0)))


def test_a_filter_refuses_a_non_finite_frame_when_it_reads_it(core):
    bad = spoiled(core, vs.GRAYS, 0, np.nan)[1]
    denoised = vsvideogen.denoise(bad, None, temporal=False)  # the noise estimate used to fail on NaN
    with pytest.raises(vs.Error, match=r"vsvideogen\.denoise: a frame of the clip holds 1 NaN or infinite sample"):
        denoised.get_frame(0)


# -- threads ---------------------------------------------------------------------------------------------


def test_concurrent_calls_agree(real_clip):
    conv = converter(real_clip)
    frames = list(real_clip.frames())
    expected = [conv.to_tensor(f) for f in frames]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(conv.to_tensor, frames * 2))
    for i, tensor in enumerate(got):
        assert torch.equal(tensor, expected[i % len(frames)])


def test_inside_modify_frame_on_worker_threads(core):
    clip = core.std.BlankClip(format=vs.RGB30, width=48, height=32, length=12)
    clip = core.std.ModifyFrame(clip, clip, lambda n, f: _noise_frame(f, n))
    conv = converter(clip)
    threads = set()

    def identity(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        threads.add(threading.get_ident())
        return conv.to_frame(conv.to_tensor(f), f)

    through = core.std.ModifyFrame(clip, clip, identity)
    for n, (a, b) in enumerate(zip(clip.frames(), through.frames())):
        assert all(np.array_equal(x, y) for x, y in zip(planes_of(a), planes_of(b))), n
    assert threads


def _noise_frame(frame: vs.VideoFrame, seed: int) -> vs.VideoFrame:
    out = frame.copy()
    rng = np.random.default_rng(seed)
    for p in range(out.format.num_planes):
        np.asarray(out[p])[...] = rng.integers(0, 1 << out.format.bits_per_sample, (out.height, out.width))
    return out


# -- colour maths ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("matrix", sorted(formats.LUMA_WEIGHTS))
def test_matrices_are_inverse(matrix):
    np.testing.assert_allclose(formats.yuv_to_rgb_matrix(matrix) @ formats.rgb_to_yuv_matrix(matrix), np.eye(3), atol=1e-12)


def test_code_scale_for_ten_bit(core):
    fmt = core.get_video_format(vs.YUV420P10)
    np.testing.assert_array_equal(formats.code_scale(fmt, False), ([876, 896, 896], [64, 512, 512]))
    np.testing.assert_array_equal(formats.code_scale(fmt, True), ([1023, 1023, 1023], [0, 512, 512]))
    rgb = core.get_video_format(vs.RGBS)
    np.testing.assert_array_equal(formats.code_scale(rgb, False), ([1, 1, 1], [0, 0, 0]))


def test_chroma_shifts(core):
    yuv420 = core.get_video_format(vs.YUV420P8)
    yuv422 = core.get_video_format(vs.YUV422P8)
    assert formats.chroma_upsample_shift(yuv420, vs.CHROMA_LEFT) == (0.25, 0.0)
    assert formats.chroma_upsample_shift(yuv420, vs.CHROMA_TOP_LEFT) == (0.25, 0.25)
    assert formats.chroma_upsample_shift(yuv420, vs.CHROMA_BOTTOM) == (0.0, -0.25)
    assert formats.chroma_downsample_shift(yuv420, vs.CHROMA_LEFT) == (-0.5, 0.0)
    assert formats.chroma_downsample_shift(yuv420, vs.CHROMA_BOTTOM_LEFT) == (-0.5, 0.5)
    assert formats.chroma_upsample_shift(yuv422, vs.CHROMA_TOP_LEFT) == (0.25, 0.0)


# -- CUDA (pinned staging, int16 transport of 16-bit codes) ----------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.YUV420P10, vs.YUV444P16, vs.RGB48, vs.RGBH, vs.GRAY16])
def test_cuda_matches_cpu(real_clip, fmt):
    clip = tagged(real_clip).resize.Bicubic(format=fmt)
    if clip.format.color_family != vs.YUV:
        clip = clip.std.RemoveFrameProps(["_Matrix", "_Range", "_ChromaLocation"])
    cpu = converter(clip)
    gpu = FrameConverter.for_clip(clip, torch.device("cuda"), torch.float32, "test")
    frames = list(clip.frames())
    with ThreadPoolExecutor(3) as pool:
        tensors = list(pool.map(gpu.to_tensor, frames * 3))
    for i, tensor in enumerate(tensors):
        assert tensor.device.type == "cuda"
        assert (tensor.cpu() - cpu.to_tensor(frames[i % len(frames)])).abs().max() < 1e-5
    for frame in frames:
        ours = gpu.to_frame(gpu.to_tensor(frame), frame)
        theirs = cpu.to_frame(cpu.to_tensor(frame), frame)
        for a, b in zip(planes_of(ours), planes_of(theirs)):
            assert np.abs(a.astype(np.float64) - b).max() <= 1
    half = FrameConverter.for_clip(clip, torch.device("cuda"), torch.float16, "test").to_tensor(frames[0])
    assert half.dtype == torch.float16 and (half.float().cpu() - cpu.to_tensor(frames[0])).abs().max() < 2e-3
