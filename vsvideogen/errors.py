"""One exception family for the whole package.

Every message starts with ``vsvideogen.<function>: `` and says what was wrong and what would be right.
"""
from __future__ import annotations

import vapoursynth as vs


class VSVideoGenError(vs.Error):
    """Raised for every user-facing failure; a subclass of ``vs.Error`` so VapourSynth reports it cleanly."""

    def __init__(self, func: str, message: str) -> None:
        self.func = func
        self.message = message
        super().__init__(f"vsvideogen.{func}: {message}")


class WeightsError(VSVideoGenError):
    """A weight file is missing, corrupt, or does not fit the architecture."""
