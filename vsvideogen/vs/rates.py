"""Frame rates as exact fractions, from what people write: ``60000/1001``, ``50``, ``59.94``, ``23.976``.

A decimal rate is how the NTSC rates ``k * 1000/1001`` are usually written (29.97, 59.94, 23.976, 119.88), and
those decimals are only their first digits. Read exactly, ``59.94`` would be ``2997/50``: a rate 1.0000002 times
the clip's ``60000/1001`` frames, which no converter can place on the clip's frames. So a decimal within 0.01
of an NTSC rate is that rate, whether it comes as a float or as text; other decimals are read as the nearest
fraction with a denominator up to 1001 (``12.5`` is ``25/2``). Integers and ``NUM/DEN`` are exact.
"""
from __future__ import annotations

from fractions import Fraction

__all__ = ["MAX_REDUCTION", "NTSC_TOLERANCE", "decimal_rate", "rate_from_text"]

#: How close (frames a second, at the whole NTSC rate) a decimal must be to an NTSC rate to mean it.
NTSC_TOLERANCE = 0.01
#: The most times lower than the clip's a rate ``interpolate`` converts to: each output frame then looks at
#: about ``2 * ratio`` source frames, and far below that, dropping frames is the conversion.
MAX_REDUCTION = 8


def decimal_rate(value: float) -> Fraction:
    """A finite positive or zero decimal rate as an exact one: an integer as itself, a decimal within
    :data:`NTSC_TOLERANCE` of ``k * 1000/1001`` as that, any other as the nearest fraction with a denominator up
    to 1001."""
    if value.is_integer():
        return Fraction(int(value))
    ntsc = round(value * 1.001)
    if ntsc > 0 and abs(value * 1.001 - ntsc) < NTSC_TOLERANCE:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(value).limit_denominator(1001)


def rate_from_text(text: str) -> Fraction:
    """``NUM/DEN`` or an integer exactly, a decimal (``59.94``) by :func:`decimal_rate`.

    Raises:
        ValueError: ``text`` is not a number, or is not finite (``ZeroDivisionError`` for a zero denominator).
    """
    text = text.strip()
    if "/" in text or text.lstrip("+-").isdigit():
        return Fraction(text)
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text!r} is not finite")
    return decimal_rate(value)
