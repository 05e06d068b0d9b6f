"""Neighbour access, frame-rate index remapping and the windowed cache for recurrent models."""
from __future__ import annotations

import random
import threading
import time
from fractions import Fraction

import pytest
import vapoursynth as vs

from vsvideogen.vs.temporal import WindowCache, map_frames, map_windows, remap, shift

core = vs.core


def labelled(length: int, fps: Fraction = Fraction(25)) -> vs.VideoNode:
    """A tiny clip whose frame ``n`` carries the prop ``idx = n``."""
    blank = core.std.BlankClip(format=vs.GRAY8, width=8, height=8, length=length,
                               fpsnum=fps.numerator, fpsden=fps.denominator)

    def label(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        out.props["idx"] = n
        return out

    return core.std.ModifyFrame(blank, blank, label)


def indices(clip: vs.VideoNode, frames=None) -> list[int]:
    return [clip.get_frame(n).props["idx"] for n in (range(clip.num_frames) if frames is None else frames)]


def clamp(k: int, length: int) -> int:
    return min(max(k, 0), length - 1)


@pytest.mark.parametrize("offset", [-9, -3, -1, 0, 1, 2, 9])
def test_shift_clamps_at_both_ends(offset):
    clip = labelled(7)
    shifted = shift(clip, offset)
    assert shifted.num_frames == 7
    assert indices(shifted) == [clamp(n + offset, 7) for n in range(7)]


@pytest.mark.parametrize(
    "ratio", [Fraction(1, 2), Fraction(1, 3), Fraction(2, 5), Fraction(4, 5), Fraction(6, 5), Fraction(5, 2),
              Fraction(960, 1001), Fraction(1), Fraction(3)]
)
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_remap_follows_floor_of_n_times_ratio(ratio, offset):
    length_src = 11
    clip = labelled(length_src)
    length = -(-length_src * ratio.denominator // ratio.numerator)
    frames = range(length) if length < 40 else list(range(20)) + list(range(length - 20, length))
    out = remap(clip, ratio, length, offset)
    assert out.num_frames == length
    assert indices(out, frames) == [clamp(n * ratio.numerator // ratio.denominator + offset, length_src) for n in frames]


def test_remap_pads_past_the_end_with_the_last_frame():
    out = remap(labelled(4), Fraction(1, 2), 12)
    assert indices(out) == [0, 0, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3]


def test_remap_of_a_two_hour_clip_is_built_at_once_and_exact_at_the_end():
    fps = Fraction(24000, 1001)
    n_src = int(2 * 3600 * fps)
    clip = labelled(n_src, fps)
    ratio = fps / Fraction(25)  # 23.976 -> 25: a 1001-frame cycle
    length = -(-n_src * ratio.denominator // ratio.numerator)
    start = time.perf_counter()
    out = remap(clip, ratio, length, 1)
    assert time.perf_counter() - start < 2.0
    tail = range(length - 5, length)
    assert indices(out, tail) == [clamp(n * ratio.numerator // ratio.denominator + 1, n_src) for n in tail]
    middle = [length // 2 + k for k in range(3)]
    assert indices(out, middle) == [n * ratio.numerator // ratio.denominator + 1 for n in middle]


def test_map_frames_gives_clamped_neighbours():
    clip = labelled(6)
    seen = {}

    def fn(n, frames):
        seen[n] = [f.props["idx"] for f in frames]
        return frames[2]

    out = map_frames(clip, fn, range(-2, 3))
    assert out.num_frames == 6 and out.fps == clip.fps
    assert indices(out) == list(range(6))
    assert seen == {n: [clamp(n + k, 6) for k in range(-2, 3)] for n in range(6)}


def test_map_frames_with_a_ratio_gives_pairs_and_the_output_rate():
    clip = labelled(5, Fraction(24))
    pairs = {}

    def fn(n, frames):
        pairs[n] = tuple(f.props["idx"] for f in frames)
        return frames[0]

    out = map_frames(clip, fn, range(0, 2), ratio=Fraction(4, 5))
    assert out.num_frames == 7  # ceil(5 * 5 / 4)
    assert out.fps == Fraction(30)
    for n in range(7):
        out.get_frame(n)
    assert pairs == {n: (clamp(n * 4 // 5, 5), clamp(n * 4 // 5 + 1, 5)) for n in range(7)}


def test_map_frames_template_sets_the_output_format():
    clip = labelled(3)
    template = core.std.BlankClip(format=vs.RGB24, width=4, height=2, length=1)
    out = map_frames(clip, lambda n, frames: template.get_frame(0), [0], template=template)
    assert (out.format.id, out.width, out.height, out.num_frames) == (vs.RGB24, 4, 2, 3)


# -- the windowed cache -------------------------------------------------------------------------------------


def recurrent(values: list[float]) -> list[float]:
    """A toy recurrent model: an exponential moving average that starts cold at the window's first item."""
    state, out = 0.0, []
    for v in values:
        state = 0.5 * state + v
        out.append(state)
    return out


def expected_items(data: list[float], size: int, overlap: int) -> list[float]:
    """What WindowCache promises: item n from its owner window, computed from that window's start."""
    cache = WindowCache(len(data), size, overlap)
    result = []
    for n in range(len(data)):
        start, stop = cache.bounds(cache.owner(n))
        result.append(recurrent(data[start:stop])[n - start])
    return result


@pytest.mark.parametrize("length,size,overlap", [(1, 4, 2), (10, 4, 0), (10, 4, 2), (23, 8, 3), (9, 9, 4), (5, 2, 1)])
def test_window_owners_cover_every_item_from_its_middle(length, size, overlap):
    cache = WindowCache(length, size, overlap)
    owners = [cache.owner(n) for n in range(length)]
    assert owners == sorted(owners) and owners[0] == 0
    for n, k in enumerate(owners):
        start, stop = cache.bounds(k)
        assert start <= n < stop
        if k > 0:
            assert n - start >= overlap // 2  # the warm-up part of a later window is never served
    with pytest.raises(IndexError):
        cache.owner(length)


def test_window_cache_is_independent_of_request_order_and_computes_each_window_once():
    data = [float((7 * k) % 11) for k in range(37)]
    want = expected_items(data, 8, 3)
    calls = []

    def compute(start, stop):
        calls.append((start, stop))
        return recurrent(data[start:stop])

    sequential = WindowCache(len(data), 8, 3)
    assert [sequential.get(n, compute) for n in range(len(data))] == want
    assert len(calls) == len(set(calls))  # in order, no window is computed twice
    order = list(range(len(data)))
    random.Random(1).shuffle(order)
    shuffled = WindowCache(len(data), 8, 3, keep=1)
    got = {n: shuffled.get(n, lambda a, b: recurrent(data[a:b])) for n in order}
    assert [got[n] for n in range(len(data))] == want


def test_window_cache_computes_a_window_once_under_concurrent_requests():
    data = [float(k) for k in range(16)]
    calls = []
    gate = threading.Barrier(8)

    def compute(start, stop):
        calls.append(start)
        time.sleep(0.05)
        return recurrent(data[start:stop])

    cache = WindowCache(len(data), 16, 0)
    results = [None] * 8

    def worker(j):
        gate.wait()
        results[j] = cache.get(2 * j, compute)

    threads = [threading.Thread(target=worker, args=(j,)) for j in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [0]
    assert results == [recurrent(data)[2 * j] for j in range(8)]


def test_window_cache_rejects_bad_shapes():
    for args in [(0, 4, 0), (5, 0, 0), (5, 4, 4), (5, 4, -1)]:
        with pytest.raises(ValueError):
            WindowCache(*args)
    with pytest.raises(ValueError, match="returned"):
        WindowCache(5, 4).get(0, lambda a, b: [1.0])


@pytest.mark.parametrize("size,overlap", [(4, 0), (5, 2), (6, 3), (40, 4)])
def test_map_windows_runs_a_recurrent_filter_deterministically(size, overlap):
    length = 23
    clip = labelled(length)
    data = [float(k) for k in range(length)]
    want = expected_items(data, size, overlap)
    starts = []

    def fn(start, frames):
        assert [f.props["idx"] for f in frames] == list(range(start, start + len(frames)))
        starts.append(start)
        states = recurrent([float(f.props["idx"]) for f in frames])
        outs = []
        for f, s in zip(frames, states):
            out = f.copy()
            out.props["state"] = s
            outs.append(out)
        return outs

    sequential = map_windows(clip, fn, size, overlap)
    assert [sequential.get_frame(n).props["state"] for n in range(length)] == want
    assert len(starts) == len(set(starts))

    order = list(range(length))
    random.Random(3).shuffle(order)
    shuffled = map_windows(clip, fn, size, overlap, keep=1)
    got = {n: shuffled.get_frame(n).props["state"] for n in order}
    assert [got[n] for n in range(length)] == want

    threaded = map_windows(clip, fn, size, overlap)
    futures = {n: threaded.get_frame_async(n) for n in order}
    assert [futures[n].result().props["state"] for n in range(length)] == want
