"""A PNG of a training run's curves: training loss and validation PSNR against the step."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    """Trailing mean over ``width`` points (fewer at the start), so the curve does not lag behind."""
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(0, ends - width)
    return (sums[ends] - sums[starts]) / (ends - starts)


def plot_curves(
    path: str | Path,
    train: Sequence[tuple[int, float]],
    val: Sequence[tuple[int, float]],
    title: str,
    val_reference: float | None = None,
) -> Path:
    """Write a two-panel PNG: loss (log scale, raw and smoothed) and validation PSNR.

    Args:
        path: the PNG to write.
        train: ``(step, loss)`` points.
        val: ``(step, psnr_db)`` points.
        title: the figure title.
        val_reference: a baseline PSNR drawn as a dashed line (e.g. plain frame blending), or None.

    Returns:
        The path written.
    """
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    fig = Figure(figsize=(10, 4), dpi=100)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.86, wspace=0.25)
    loss_ax, val_ax = fig.subplots(1, 2)
    if train:
        steps, losses = (np.asarray(v, dtype=float) for v in zip(*train))
        loss_ax.plot(steps, losses, color="tab:blue", alpha=0.3, linewidth=0.8, label="loss")
        loss_ax.plot(steps, _smooth(losses, max(1, len(losses) // 20)), color="tab:blue", label="smoothed")
        if np.all(losses > 0):
            loss_ax.set_yscale("log")
        loss_ax.legend(loc="upper right")
    loss_ax.set(xlabel="step", ylabel="training loss", title="training loss")
    loss_ax.grid(True, alpha=0.3)
    if val:
        steps, values = zip(*val)
        val_ax.plot(steps, values, "o-", color="tab:green", label="model")
    if val_reference is not None:
        val_ax.axhline(val_reference, color="grey", linestyle="--", label="baseline")
    if val or val_reference is not None:
        val_ax.legend(loc="lower right")
    val_ax.set(xlabel="step", ylabel="PSNR (dB)", title="validation PSNR")
    val_ax.grid(True, alpha=0.3)
    fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
