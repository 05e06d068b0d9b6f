"""Choosing the torch device and precision a filter runs on."""
from __future__ import annotations

import torch

from .errors import VSVideoGenError


def resolve_device(device: str | torch.device | None, func: str) -> torch.device:
    """Return the device to run on: CUDA when present and ``device`` is None, else what was asked.

    Raises:
        VSVideoGenError: the device string is malformed or names hardware that is not there.
    """
    if device is None:
        return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise VSVideoGenError(func, f"device={device!r} is not a device; use None, 'cpu', 'cuda' or 'cuda:N'") from exc
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise VSVideoGenError(func, f"device={device!r} is not supported; use None, 'cpu', 'cuda' or 'cuda:N'")
    if not torch.cuda.is_available():
        raise VSVideoGenError(func, f"device={device!r} asked for CUDA but no CUDA GPU is visible; use device='cpu' (--device cpu on the command line)")
    index = torch.cuda.current_device() if dev.index is None else dev.index
    if index >= torch.cuda.device_count():
        raise VSVideoGenError(
            func, f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) exist; use cuda:0..cuda:{torch.cuda.device_count() - 1}"
        )
    return torch.device("cuda", index)


def resolve_dtype(fp16: bool | None, device: torch.device, func: str) -> torch.dtype:
    """fp16 by default on CUDA, fp32 on the CPU; fp16 on the CPU is refused (slow and imprecise there)."""
    if fp16 is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if not isinstance(fp16, bool):
        raise VSVideoGenError(func, f"fp16 must be True, False or None, not {fp16!r}")
    if fp16 and device.type == "cpu":
        raise VSVideoGenError(func, "fp16=True needs a CUDA device; use fp16=None or False on the CPU")
    return torch.float16 if fp16 else torch.float32
