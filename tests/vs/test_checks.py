"""Input checks: what they accept, and that refusals name the filter and say what would be right."""
from __future__ import annotations

import pytest
import vapoursynth as vs

from vsvideogen.errors import VSVideoGenError
from vsvideogen.vs.checks import check_choice, check_clip, check_format, check_positive_int

SUPPORTED = [
    vs.GRAY8, vs.GRAY16, vs.GRAYH, vs.GRAYS,
    vs.RGB24, vs.RGB30, vs.RGB48, vs.RGBH, vs.RGBS,
    vs.YUV420P8, vs.YUV420P10, vs.YUV420P16, vs.YUV420PS,
    vs.YUV422P8, vs.YUV422P10, vs.YUV444P8, vs.YUV444P16, vs.YUV444PH, vs.YUV444PS,
]  # fmt: skip


def blank(core, fmt, length: int = 2, width: int = 64, height: int = 32) -> vs.VideoNode:
    return core.std.BlankClip(format=fmt, width=width, height=height, length=length)


@pytest.mark.parametrize("fmt", SUPPORTED)
def test_supported_formats_pass(core, fmt):
    check_clip(blank(core, fmt), "myfilter")


def test_real_clip_passes(real_clip):
    check_clip(real_clip, "myfilter", min_frames=3)


@pytest.mark.parametrize("value", [None, 3, "clip.mkv", vs.core.std.BlankAudio()])
def test_not_a_video_node(value):
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.myfilter: clip must be a vs\.VideoNode, not \w+; "):
        check_clip(value, "myfilter")


def test_variable_format(core):
    spliced = core.std.Splice([blank(core, vs.YUV420P8), blank(core, vs.RGB24)], mismatch=True)
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.myfilter: clip has a variable format; .*format=vs\.YUV420P10"):
        check_clip(spliced, "myfilter")


def test_variable_size(core):
    spliced = core.std.Splice([blank(core, vs.YUV420P8, width=64), blank(core, vs.YUV420P8, width=32)], mismatch=True)
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.myfilter: clip has a variable frame size; .*width="):
        check_clip(spliced, "myfilter")


def test_too_short(core):
    # VapourSynth cannot make a zero-length clip; min_frames covers it and temporal filters' needs.
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.interpolate: clip has 2 frame\(s\); .*at least 3"):
        check_clip(blank(core, vs.YUV420P8, length=2), "interpolate", min_frames=3)


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ((vs.GRAY, vs.INTEGER, 32, 0, 0), r"Gray32: integer samples of 32 bits.*format=vs\.Gray16"),
        ((vs.YUV, vs.INTEGER, 8, 2, 2), r"YUV410P8: chroma subsampling 2,2.*format=vs\.YUV444P8"),
        ((vs.YUV, vs.INTEGER, 10, 2, 0), r"YUV411P10: chroma subsampling 2,0.*format=vs\.YUV444P10"),
        ((vs.YUV, vs.FLOAT, 32, 0, 1), r"YUV440PS: chroma subsampling 0,1.*format=vs\.YUV444PS"),
    ],
)
def test_unsupported_formats(core, fmt, message):
    clip = core.std.BlankClip(format=core.query_video_format(*fmt), width=64, height=32, length=1)
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.upscale: " + message):
        check_clip(clip, "upscale")


def test_check_format_refuses_the_undefined_format(core):
    with pytest.raises(VSVideoGenError, match="variable format"):
        check_format(core.get_video_format(vs.PresetVideoFormat.NONE), "myfilter")


def test_errors_are_vapoursynth_errors(core):
    with pytest.raises(vs.Error):
        check_clip(None, "myfilter")


def test_check_choice():
    check_choice("bicubic", ("bilinear", "bicubic"), "kernel", "upscale")
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.upscale: kernel='lanczos' is not supported; use one of 'bilinear', 'bicubic'$"):
        check_choice("lanczos", ("bilinear", "bicubic"), "kernel", "upscale")


def test_check_positive_int():
    assert check_positive_int(4, "tiles", "upscale") == 4
    assert check_positive_int(0, "overlap", "upscale", minimum=0) == 0
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.upscale: tiles=0 is too small; use an int >= 1$"):
        check_positive_int(0, "tiles", "upscale")
    for bad in (True, 2.0, "2"):
        with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.upscale: tiles must be an int"):
            check_positive_int(bad, "tiles", "upscale")
