"""vsvideogen: neural frame interpolation, super-resolution and restoration as VapourSynth filters.

Importing the package is cheap: torch models, CuPy and training code load on first use.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["deblur", "denoise", "interpolate", "upscale", "__version__"]


def __getattr__(name: str):
    if name == "interpolate":
        from .filters.interpolate import interpolate

        return interpolate
    if name == "denoise":
        from .filters.denoise import denoise

        return denoise
    if name == "deblur":
        from .filters.deblur import deblur

        return deblur
    if name == "upscale":
        from .filters.upscale import upscale

        return upscale
    raise AttributeError(f"module 'vsvideogen' has no attribute {name!r}")
