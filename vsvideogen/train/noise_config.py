"""Settings of `vsvideogen train denoise` that the command line needs without importing torch."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import VSVideoGenError

FUNC = "train"
NOISE_KINDS = ("gaussian", "realistic", "mixed")
LOSSES = ("charbonnier", "l1")
#: Sigma (8-bit scale) of the validation noise.
VAL_SIGMA = 25.0


@dataclass(frozen=True)
class NoiseConfig:
    """How training noise is drawn (see :mod:`vsvideogen.train.denoise`); sigmas on the 8-bit scale.

    Attributes:
        kind: ``"gaussian"``, ``"realistic"`` or ``"mixed"``.
        max_sigma: Gaussian sigma drawn uniformly from ``[0, max_sigma]``.
        shot_max: largest sigma of the signal-dependent part at white (realistic).
        read_max: largest signal-independent sigma (realistic).
        jpeg_prob: chance that a realistic window is JPEG-compressed.
        jpeg_quality: ``(low, high)`` JPEG quality range, drawn uniformly.
    """

    kind: str = "gaussian"
    max_sigma: float = 55.0
    shot_max: float = 40.0
    read_max: float = 15.0
    jpeg_prob: float = 0.5
    jpeg_quality: tuple[int, int] = (40, 95)

    def check(self) -> None:
        """Raise :class:`VSVideoGenError` for out-of-range settings."""
        if self.kind not in NOISE_KINDS:
            raise VSVideoGenError(FUNC, f"noise {self.kind!r} is unknown; use one of {', '.join(NOISE_KINDS)}")
        if min(self.max_sigma, self.shot_max, self.read_max) < 0 or not 0 <= self.jpeg_prob <= 1:
            raise VSVideoGenError(FUNC, "noise sigmas must be >= 0 and the JPEG probability between 0 and 1")
        low, high = self.jpeg_quality
        if not 1 <= low <= high <= 100:
            raise VSVideoGenError(FUNC, f"JPEG quality range {self.jpeg_quality} must satisfy 1 <= low <= high <= 100")
