"""vsvideogen.denoise with temporal models: windows, scene cuts, strength forms, determinism, tiling, loading."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import vapoursynth as vs

from tests.filters.temporal_helpers import Spy, bikes_80x48, fetch_all, liven, ramp_clip, small_net
from tests.filters.temporal_helpers import PrepareAlone, WholeForward, WithoutPrepare, count_calls, same_frames
from tests.filters.temporal_helpers import marked_cuts, same_in_any_order_and_thread_count, two_scenes
from vsvideogen import denoise
from vsvideogen.errors import VSVideoGenError, WeightsError
from vsvideogen.filters.denoise import SIGMA_PROP
from vsvideogen.models.archs.mc_denoiser import MotionCompensatedDenoiser
from vsvideogen.models.archs.temporal_denoiser import TemporalDenoiser
from vsvideogen.models.weights import save_safetensors

core = vs.core
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_window_is_clamped_at_the_ends_and_output_is_the_centre():
    spy = Spy()
    clip = ramp_clip(6)
    out = denoise(clip, 10, model=spy)
    assert out.num_frames == 6 and out.format.id == vs.RGBS
    for n in range(6):
        assert np.allclose(np.asarray(out.get_frame(n)[0]), n / 100)
    assert spy.seen[0] == [0, 0, 0, 1, 2]
    assert spy.seen[3] == [1, 2, 3, 4, 5]
    assert spy.seen[5] == [3, 4, 5, 5, 5]


def test_frames_across_a_scene_cut_are_replaced_by_the_nearest_on_the_same_side():
    spy = Spy()
    clip = marked_cuts(ramp_clip(8), {3, 5})
    fetch_all(denoise(clip, 10, model=spy))
    assert spy.seen[2] == [0, 1, 2, 3, 3]
    assert spy.seen[3] == [1, 2, 3, 3, 3]
    assert spy.seen[4] == [4, 4, 4, 5, 5]
    assert spy.seen[5] == [4, 4, 5, 5, 5]
    assert spy.seen[6] == [6, 6, 6, 7, 7]
    assert spy.seen[7] == [6, 6, 7, 7, 7]


def test_without_props_the_detector_finds_the_cut_and_props_or_scene_change_overrule_it():
    def seen(clip: vs.VideoNode, **kwargs) -> dict[int, list[int]]:
        spy = Spy()
        fetch_all(denoise(clip, 10, model=spy, **kwargs))
        return spy.seen

    detected = seen(two_scenes())
    assert detected[3] == [1, 2, 3, 3, 3] and detected[44] == [44, 44, 44, 45, 46]
    assert detected[2] == [0, 1, 2, 3, 3] and detected[45] == [44, 44, 45, 46, 47]
    mixed = [1, 2, 3, 44, 45]
    assert seen(two_scenes(), scene_change=None)[3] == mixed
    assert seen(marked_cuts(two_scenes(), set()))[3] == mixed  # props say no cut: "auto" believes them
    assert seen(marked_cuts(two_scenes(), set()), scene_change=0.15)[3] == [1, 2, 3, 3, 3]  # a threshold ignores them
    assert seen(marked_cuts(two_scenes(), {1}))[3] == [2, 2, 3, 44, 45]


@pytest.mark.parametrize("value", ["sometimes", 0, 1.5, True])
def test_a_bad_scene_change_is_named(value):
    with pytest.raises(vs.Error, match=r"vsvideogen\.denoise: scene_change="):
        denoise(ramp_clip(3), 10, model=Spy(), scene_change=value)


def test_strength_forms_reach_the_model():
    spy = Spy(radius=1)
    clip = ramp_clip(3)
    denoise(clip, 17, model=spy, radius=1).get_frame(1)
    assert spy.sigmas[1].shape == (1, 1, 1, 1) and spy.sigmas[1].item() == pytest.approx(17 / 255)
    sigma_map = core.std.BlankClip(clip, format=vs.GRAY8, color=51)
    denoise(clip, sigma_map, model=spy, radius=1).get_frame(2)
    assert spy.sigmas[2].shape == (1, 1, 8, 16) and torch.allclose(spy.sigmas[2], torch.tensor(51 / 255))
    frame = denoise(clip, None, model=spy, radius=1).get_frame(0)
    assert SIGMA_PROP in frame.props and frame.props[SIGMA_PROP] == pytest.approx(0.0, abs=0.5)
    per_plane = denoise(clip, [5, 5, 9], model=spy, radius=1).get_frame(1)  # runs once per distinct value
    assert spy.sigmas[1].item() == pytest.approx(9 / 255) and np.allclose(np.asarray(per_plane[2]), 0.01)


@pytest.fixture(scope="module")
def noisy_yuv() -> vs.VideoNode:
    """Five 80x48 YUV420P8 frames of bikes with seeded noise."""
    clip = bikes_80x48()

    def noisy(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        rng = np.random.default_rng(n)
        for p in range(3):
            plane = np.asarray(out[p])
            plane[...] = np.clip(np.round(plane + rng.normal(0, 10, plane.shape)), 0, 255)
        return out

    return core.std.ModifyFrame(clip, clip, noisy)


def test_result_does_not_depend_on_request_order_or_threads(noisy_yuv):
    net = small_net()
    assert same_in_any_order_and_thread_count(lambda: denoise(noisy_yuv, 10, model=net))


def test_first_stage_estimates_are_kept_across_frames_with_the_same_result(noisy_yuv):
    # A two-stage network with a uniform noise level keeps its triplet estimates per level: the same frames as
    # the network run whole on every window, for one sigma, per-plane sigmas, estimated sigmas (one per frame),
    # a GRAY clip (replicated, sigma x sqrt(3)) and a gray network on a colour clip.
    net = small_net(lively=True)
    calls = count_calls(net, "first_stage")
    gray = core.std.ShufflePlanes(noisy_yuv, 0, vs.GRAY)
    assert same_frames(fetch_all(denoise(noisy_yuv, 10, model=net)), fetch_all(denoise(noisy_yuv, 10, model=WholeForward(net))))
    assert calls[0] == 7 + 3 * 5  # kept: the 7 distinct triplets of 5 frames; whole: 3 per frame
    gray_net = small_net(lively=True, channels=1)
    for clip, model, strength in ((noisy_yuv, net, [5, 5, 9]), (noisy_yuv, net, None), (gray, net, 10),
                                  (noisy_yuv, gray_net, 10)):
        kept = fetch_all(denoise(clip, strength, model=model))
        assert same_frames(kept, fetch_all(denoise(clip, strength, model=WholeForward(model)))), (clip.format.name, strength)


def test_tiled_output_equals_the_untiled_one():
    clip = core.resize.Bicubic(ramp_clip(3, 200, 136), format=vs.RGBS)
    rng = np.random.default_rng(0)

    def texture(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(3):
            np.asarray(out[p])[...] = rng.random(np.asarray(out[p]).shape, dtype=np.float32)
        return out

    clip = core.std.ModifyFrame(clip, clip, texture)
    frames = [clip.get_frame(n) for n in range(3)]  # drawn once, then served as they are
    fixed = core.std.ModifyFrame(clip, clip, lambda n, f: frames[n])
    net = liven(small_net(radius=1))
    whole = denoise(fixed, 20, model=net, radius=1, tiles=(1, 1)).get_frame(1)
    tiled = denoise(fixed, 20, model=net, radius=1, tiles=(2, 2), overlap=8).get_frame(1)
    scale = max(np.abs(np.asarray(whole[p])).max() for p in range(3))
    for p in range(3):
        assert np.abs(np.asarray(whole[p]) - np.asarray(tiled[p])).max() <= 1e-5 * scale
    net.tile_context = 32  # less context than the receptive field: visibly different, so the check above bites
    short = denoise(fixed, 20, model=net, radius=1, tiles=(2, 2), overlap=8).get_frame(1)
    assert np.abs(np.asarray(whole[0]) - np.asarray(short[0])).max() > 1e-3 * scale


def test_whole_frame_preparation_gives_what_the_model_gives_untiled(noisy_yuv):
    # A motion-compensated denoiser's prepare step (FFDNet and SPyNet on whole frames) is a different route to
    # the same numbers: untiled, it equals calling the model whole, for RGB, a GRAY clip (replicated to RGB,
    # sigma x sqrt(3)) and a noise-map clip.
    torch.manual_seed(0)
    net = MotionCompensatedDenoiser(radius=2, features=4)
    torch.nn.init.normal_(net.fusion.outc[-1].weight, std=0.05)
    net.eval()
    gray = core.std.ShufflePlanes(noisy_yuv, 0, vs.GRAY)
    sigma_map = core.std.BlankClip(gray, color=40)
    for clip, strength in ((noisy_yuv, 10), (gray, 10), (gray, sigma_map)):
        prepared = denoise(clip, strength, model=net, tiles=1).get_frame(2)
        whole = denoise(clip, strength, model=WithoutPrepare(net), tiles=1).get_frame(2)
        for p in range(clip.format.num_planes):  # 8-bit codes: equal but for a rare rounding flip
            diff = np.abs(np.asarray(prepared[p]).astype(int) - np.asarray(whole[p]))
            assert diff.max() <= 1 and diff.mean() < 0.01, (clip.format.name, p, diff.max(), diff.mean())


def test_spatial_estimates_are_kept_across_windows_with_the_same_result(noisy_yuv):
    # The motion-compensated denoiser with a uniform level keeps each frame's FFDNet output per level: the same
    # frames as running prepare on every window whole, in any order; a noise-map clip keeps nothing.
    torch.manual_seed(0)
    net = MotionCompensatedDenoiser(radius=2, features=4)
    torch.nn.init.normal_(net.fusion.outc[-1].weight, std=0.05)
    net.eval()
    calls = count_calls(net, "spatial_denoise")
    gray = core.std.ShufflePlanes(noisy_yuv, 0, vs.GRAY)
    rgbs = noisy_yuv.resize.Bicubic(format=vs.RGBS, matrix_in=1)  # float output: the smallest change shows
    for clip, strength in ((noisy_yuv, 10), (gray, 10), (rgbs, None)):
        alone = fetch_all(denoise(clip, strength, model=PrepareAlone(net)))
        calls[0] = 0
        assert same_frames(fetch_all(denoise(clip, strength, model=net)), alone), (clip.format.name, strength)
        if strength is not None:
            assert calls[0] == 9  # source frames -2..6 (the ends repeat frames 0 and 4), against 25 alone
        shuffled = fetch_all(denoise(clip, strength, model=net), order=[4, 1, 3, 0, 2])
        assert same_frames(shuffled, alone), (clip.format.name, strength)
    calls[0] = 0
    fetch_all(denoise(noisy_yuv, core.std.BlankClip(gray, color=40), model=net))
    assert calls[0] == 25


def test_gray_clip_and_checkpoint_path(noisy_yuv, tmp_path):
    net = small_net()
    path = save_safetensors(net.state_dict(), tmp_path / "model.safetensors")
    from_path = denoise(noisy_yuv, 10, model=str(path), temporal=True)
    from_module = denoise(noisy_yuv, 10, model=net)
    assert all(np.array_equal(a, b) for a, b in zip(fetch_all(from_path)[2], fetch_all(from_module)[2]))
    gray = core.std.ShufflePlanes(noisy_yuv, 0, vs.GRAY)
    out = denoise(gray, 10, model=str(path)).get_frame(2)
    assert out.format.id == vs.GRAY8
    gray_net = TemporalDenoiser(1, 2, features=4).eval()  # a gray model on a colour clip: each channel on its own
    assert denoise(noisy_yuv, 10, model=gray_net).get_frame(2).format.id == vs.YUV420P8


def test_errors(noisy_yuv, tmp_path):
    net = small_net()
    with pytest.raises(VSVideoGenError, match="trained on 5 frames, not 3; pass radius=2"):
        denoise(noisy_yuv, 10, model=net, radius=1)
    with pytest.raises(VSVideoGenError, match="is a temporal model .* pass temporal=True"):
        denoise(noisy_yuv, 10, model=net, temporal=False)
    path = save_safetensors(net.state_dict(), tmp_path / "model.safetensors")
    with pytest.raises(VSVideoGenError, match="is a temporal model .* pass temporal=True"):
        denoise(noisy_yuv, 10, model=str(path), temporal=False)
    spatial = tmp_path / "spatial.safetensors"
    from vsvideogen.models.archs.dncnn import DnCNN

    save_safetensors(DnCNN(3, 8, 3).state_dict(), spatial)
    with pytest.raises(WeightsError, match="not a temporal denoiser.*pass temporal=False"):
        denoise(noisy_yuv, None, model=str(spatial))
