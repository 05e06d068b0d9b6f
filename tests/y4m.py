"""A small YUV4MPEG2 reader for tests: header fields and whole frames, strict about stray bytes."""
from __future__ import annotations

from dataclasses import dataclass

_LAYOUT_SAMPLES = {"420": 1.5, "422": 2.0, "444": 3.0, "mono": 1.0}


@dataclass(frozen=True)
class Y4M:
    """A parsed stream."""

    fields: dict[str, str]  # header tag letter -> value, e.g. {"W": "160", "F": "25:1", "C": "420jpeg"}
    frames: list[bytes]

    @property
    def width(self) -> int:
        return int(self.fields["W"])

    @property
    def height(self) -> int:
        return int(self.fields["H"])

    @property
    def fps(self) -> tuple[int, int]:
        num, den = self.fields["F"].split(":")
        return int(num), int(den)


def frame_size(width: int, height: int, colour: str) -> int:
    """Bytes of one frame for the ``C`` tag ``colour`` (``420``, ``420jpeg``, ``444p10``, ``mono16``, ...)."""
    layout = next(name for name in _LAYOUT_SAMPLES if colour.startswith(name))
    depth = colour[len(layout):].lstrip("p")
    bytes_per_sample = 2 if depth.isdigit() and int(depth) > 8 else 1
    chroma_w = (width + 1) // 2 if layout in ("420", "422") else width
    chroma_h = (height + 1) // 2 if layout == "420" else height
    chroma = 0 if layout == "mono" else 2 * chroma_w * chroma_h
    return (width * height + chroma) * bytes_per_sample


def parse_y4m(data: bytes) -> Y4M:
    """Parse a complete stream; raises ValueError on anything that is not exactly header + whole frames."""
    end = data.index(b"\n")
    header = data[:end].decode("ascii").split(" ")
    if header[0] != "YUV4MPEG2":
        raise ValueError(f"not a y4m stream: starts with {data[:20]!r}")
    fields = {token[0]: token[1:] for token in header[1:] if token}
    size = frame_size(int(fields["W"]), int(fields["H"]), fields.get("C", "420jpeg"))
    frames = []
    position = end + 1
    while position < len(data):
        marker_end = data.index(b"\n", position)
        if not data[position:marker_end].startswith(b"FRAME"):
            raise ValueError(f"expected FRAME at byte {position}, found {data[position:position + 20]!r}")
        frame = data[marker_end + 1 : marker_end + 1 + size]
        if len(frame) != size:
            raise ValueError(f"frame {len(frames)} is cut short: {len(frame)} of {size} bytes")
        frames.append(frame)
        position = marker_end + 1 + size
    return Y4M(fields, frames)
