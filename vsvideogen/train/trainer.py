"""The training loop shared by every task: optimiser, schedule, checkpoints, resume, validation, logs, export.

A task (interpolation, upscaling, ...) supplies the model, the batches, the loss and a validation PSNR;
see :class:`Task`. The run folder then holds:

* ``last.pt``: model, optimiser state, step, best PSNR, elapsed time (``--resume`` continues from it);
* ``best.safetensors``: the weights with the best validation PSNR so far (step 0 = the initial weights);
* ``log.jsonl``: one JSON object per logged training step or validation;
* ``curves.png``: training loss and validation PSNR;
* ``model.safetensors`` + ``model.json``: the exported weights (best by validation, else last; the last
  always when the task sets ``export_best = False``) and their metadata, written when the run ends.

Batches are drawn from a generator seeded with ``(seed, step)``, so a resumed run sees the same data as an
uninterrupted one, and batches can be made ahead of time in worker processes (``workers``) without changing
them. With ``time_limit`` the run plans its length from the measured speed after the warm-up, so that the
learning-rate schedule completes within the limit.
"""
from __future__ import annotations

import contextlib
import json
import math
import platform
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from .. import __version__
from ..device import resolve_device
from ..errors import VSVideoGenError
from ..models.weights import save_safetensors, sha256_file
from .plot import plot_curves

FUNC = "train"
SCHEDULES = ("cosine", "step")
# "step" schedule: the learning rate is multiplied by 0.1 at each of these fractions of the run.
_STEP_MILESTONES = (0.6, 0.85)
#: Steps timed after the warm-up before a run with a time limit plans its length.
TIME_PLAN_STEPS = 20


@contextlib.contextmanager
def _whole_step() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that comes during a training step until the step is done, so that ``last.pt``
    never saves a half-made step (e.g. a GAN's generator updated and its discriminator not) as the one before:
    the resumed run would make it again. A second Ctrl-C in the same step interrupts at once."""
    previous = signal.getsignal(signal.SIGINT)
    held: list[int] = []

    def hold(signum: int, frame: object) -> None:
        if held:
            raise KeyboardInterrupt
        held.append(signum)

    if previous is None or threading.current_thread() is not threading.main_thread():
        yield  # a handler Python cannot put back, or not the main thread: signals stay as they are
        return
    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held:
        raise KeyboardInterrupt


def _param_groups(model: torch.nn.Module, scales: dict[str, float]) -> list[dict[str, Any]]:
    """``model``'s parameters in optimiser groups, each with its ``lr_scale``: the factor of the first key of
    ``scales`` its name contains, else 1 (without ``scales``: one group, as a plain ``model.parameters()``)."""
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        factor = next((f for key, f in scales.items() if key in name), 1.0)
        groups.setdefault(float(factor), []).append(parameter)
    return [{"params": params, "lr_scale": factor} for factor, params in groups.items()]


class Task(Protocol):
    """What a task gives the trainer. ``name`` names the task (``"interpolate"``).

    Optional members, looked up with ``getattr`` (a task without them behaves as if they were absent):

    * ``export_best: bool`` (default True): export the weights of the best validation PSNR; False exports the
      last weights (for losses that trade PSNR for realism, such as adversarial training).
    * ``after_step(lr: float) -> dict[str, float]``: called after each optimiser step with that step's
      learning rate; it may update auxiliary networks the task owns (a GAN discriminator with its own
      optimiser) and returns named floats for the log.
    * ``extra_state() -> dict`` and ``load_extra_state(state: dict) -> None``: the task's own training state
      (auxiliary networks, their optimisers), saved in ``last.pt`` and handed back on ``--resume``.
    * ``lr_scales() -> dict[str, float]``: learning-rate factors for the parameters whose names contain a key
      (e.g. weights added at zero to a trained network, which must move faster than the rest); called after
      ``build_model``.

    ``validate`` may also return ``(psnr, {name: value})``: the extra values are logged next to ``val_psnr``.
    """

    name: str
    reference_psnr: float | None
    """A baseline PSNR drawn on the plot (e.g. frame blending), or None."""
    reference_label: str
    """What the baseline is, for messages: "frame blending", "bicubic", "noisy input"."""

    def build_model(self) -> torch.nn.Module:
        """The network to train, with its initial weights, on the CPU."""

    def sample_batch(self, rng: np.random.Generator, batch: int, crop: int) -> Any:
        """A training batch drawn with ``rng`` (the trainer seeds it per step)."""

    def loss(self, model: torch.nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        """The scalar loss to minimise and its named parts (floats) for the log."""

    def validate(self, model: torch.nn.Module, device: torch.device) -> float | tuple[float, dict[str, float]]:
        """Mean PSNR (dB) on held-out data (NaN: none), optionally with extra named values for the log.

        The trainer calls it in eval mode without gradients.
        """

    def describe(self) -> dict[str, Any]:
        """JSON-able facts about the task and its data for the run's metadata."""


@dataclass
class TrainConfig:
    """Settings of one run.

    Attributes:
        out: the run folder.
        steps: total optimiser steps (a resumed run continues up to this number).
        batch: samples per step.
        crop: side of the square training crops.
        lr: peak learning rate (AdamW).
        lr_min: final learning rate as a fraction of ``lr`` (cosine schedule).
        schedule: ``"cosine"`` (decay to ``lr * lr_min``) or ``"step"`` (x0.1 at 60 % and 85 % of the run).
        warmup: steps of linear warm-up from 0.
        weight_decay: AdamW weight decay.
        grad_clip: gradient-norm clipping threshold; 0 disables it.
        val_every: validate (and maybe update ``best.safetensors``) every this many steps, and at the end.
        save_every: write ``last.pt`` every this many steps, and at the end.
        log_every: average the loss over this many steps per log line.
        seed: seeds the model initialisation and every batch.
        device: ``None`` (CUDA if present), ``"cpu"``, ``"cuda:N"``.
        resume: continue the run in ``out`` from ``last.pt``.
        progress: show a progress bar on stderr.
        command: the command line that started the run, for the metadata.
        workers: processes that prepare batches ahead of the optimiser (0: in the training process). The
            batches are the same either way: each depends only on ``(seed, step)``.
        time_limit: wall-clock budget of the whole run in seconds (None: no limit). After
            :data:`TIME_PLAN_STEPS` steps past the warm-up the total is cut to the steps that fit (never more
            than ``steps``) and the schedule follows the cut total; a run that still reaches the limit (it
            slowed down) stops there and exports.
    """

    out: str | Path
    steps: int = 2000
    batch: int = 4
    crop: int = 256
    lr: float = 1e-4
    lr_min: float = 0.05
    schedule: str = "cosine"
    warmup: int = 50
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    val_every: int = 250
    save_every: int = 50
    log_every: int = 10
    seed: int = 0
    device: str | None = None
    resume: bool = False
    progress: bool = True
    command: str = ""
    workers: int = 0
    time_limit: float | None = None

    def check(self) -> None:
        """Raise :class:`VSVideoGenError` for out-of-range settings."""
        for name in ("steps", "batch", "crop", "val_every", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise VSVideoGenError(FUNC, f"{name}={getattr(self, name)} must be at least 1")
        if not self.lr > 0 or not 0 <= self.lr_min <= 1:
            raise VSVideoGenError(FUNC, f"lr={self.lr}, lr_min={self.lr_min}: need lr > 0 and 0 <= lr_min <= 1")
        if self.schedule not in SCHEDULES:
            raise VSVideoGenError(FUNC, f"schedule {self.schedule!r} is unknown; use one of {', '.join(SCHEDULES)}")
        if self.warmup < 0 or self.weight_decay < 0 or self.grad_clip < 0 or self.workers < 0:
            raise VSVideoGenError(FUNC, "warmup, weight_decay, grad_clip and workers must not be negative")
        if self.time_limit is not None and not 0 < self.time_limit < math.inf:
            raise VSVideoGenError(FUNC, f"time_limit={self.time_limit} must be a positive, finite number of seconds; "
                                        "leave it out for no limit")


@dataclass
class TrainResult:
    """What a finished (or interrupted) run produced."""

    out: Path
    step: int
    model_path: Path | None
    best_psnr: float | None
    best_step: int | None
    wall_time_s: float
    seconds_per_step: float | None
    metadata: dict[str, Any] = field(default_factory=dict)


def check_run_folder(out: str | Path, resume: bool) -> None:
    """Check that ``out`` can be the run folder, cheaply, so that callers can fail before loading data: a
    folder (or a path where one can be made, below no file) that holds a run to resume exactly when ``resume``.

    Raises:
        VSVideoGenError: ``out`` or a folder above it is a file, or the folder (or the nearest one above it that
            exists) cannot be written to; ``resume`` without a ``last.pt`` in ``out``; a ``last.pt`` there
            without ``resume``.
    """
    out = Path(out)
    existing = next((p for p in (out, *out.parents) if p.exists()), Path.cwd())
    if not existing.is_dir():
        raise VSVideoGenError(FUNC, f"--out '{out}' cannot be a run folder: '{existing}' is a file; pass a folder")
    try:  # a file made and removed at once: permissions, a read-only or full disk, an immutable folder
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise VSVideoGenError(FUNC, f"--out '{out}' cannot be written: {exc.strerror or exc} in '{existing}'; "
                                    "pass a folder you can write to") from exc
    last = out / "last.pt"
    if resume and not last.is_file():
        raise VSVideoGenError(FUNC, f"--resume: '{last}' does not exist; start the run without --resume")
    if not resume and last.exists():
        raise VSVideoGenError(
            FUNC, f"'{out}' already holds a run ({last.name}); pass --resume to continue it or choose another --out"
        )


def learning_rate(step: int, config: TrainConfig, total: int | None = None) -> float:
    """The learning rate for optimiser step ``step`` (0-based) under ``config``'s schedule and warm-up.

    ``total`` replaces ``config.steps`` as the run's length (a run shortened by its time limit).
    """
    total = config.steps if total is None else total
    if config.warmup and step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, total - config.warmup))
    if config.schedule == "step":
        return config.lr * 0.1 ** sum(progress >= m for m in _STEP_MILESTONES)
    return config.lr * (config.lr_min + (1 - config.lr_min) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class _State:
    step: int = 0
    best_psnr: float | None = None
    best_step: int | None = None
    last_psnr: float | None = None
    wall_time_s: float = 0.0
    train_time_s: float = 0.0
    trained_steps: int = 0  # steps whose time is in train_time_s
    planned_steps: int | None = None  # the run's length once a time limit has cut it
    planned_for: list[float | None] | None = None  # [steps, time_limit] the length was planned for


class _Run:
    def __init__(self, task: Task, config: TrainConfig) -> None:
        config.check()
        check_run_folder(config.out, config.resume)
        self.task = task
        self.config = config
        self.out = Path(config.out)
        self.last_path = self.out / "last.pt"
        self.best_path = self.out / "best.safetensors"
        self.log_path = self.out / "log.jsonl"
        self.device = resolve_device(config.device, FUNC)
        torch.manual_seed(config.seed)
        self.model = task.build_model().to(self.device).train()
        scales = getattr(task, "lr_scales", dict)()
        self.optimizer = torch.optim.AdamW(_param_groups(self.model, scales), lr=config.lr,
                                           weight_decay=config.weight_decay)
        self.state = _State()
        self.history: list[dict[str, Any]] = []
        self._plots_off = False  # set when matplotlib is missing
        self.started = time.perf_counter()
        self.wall_before = 0.0
        self.val_seconds = 0.0  # how long the last validation took
        if config.resume:
            self._load_last()
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text("")

    # -- persistence -------------------------------------------------------------------------------------

    def _load_last(self) -> None:
        try:
            ckpt = torch.load(self.last_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for damaged files
            raise VSVideoGenError(FUNC, f"cannot read '{self.last_path}' ({exc}); start a new run in another --out") from exc
        if ckpt.get("task") != self.task.name:
            raise VSVideoGenError(FUNC, f"'{self.last_path}' holds a run of `train {ckpt.get('task')}`, not `train {self.task.name}`; resume it with its own task")
        try:
            self.model.load_state_dict(ckpt["model"])
        except RuntimeError as exc:
            raise VSVideoGenError(
                FUNC, f"'{self.last_path}' holds a different network than this run builds ({str(exc).splitlines()[0]}); "
                "resume with the same --layout/--init as the original run"
            ) from exc
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if "extra" in ckpt and hasattr(self.task, "load_extra_state"):
            self.task.load_extra_state(ckpt["extra"])
        self.state = _State(**ckpt["state"])
        if self.state.planned_steps is not None and self.state.planned_for != [self.config.steps, self.config.time_limit]:
            self.state.planned_steps = None  # resumed with another --steps or --time-limit: plan the length again
        self.wall_before = self.state.wall_time_s
        self.history = [r for r in _read_log(self.log_path) if r["step"] <= self.state.step]
        self.log_path.write_text("".join(json.dumps(r) + "\n" for r in self.history))

    def _save_last(self) -> None:
        self.state.wall_time_s = self._wall()
        ckpt = {
            "task": self.task.name,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "state": asdict(self.state),
        }
        if hasattr(self.task, "extra_state"):
            ckpt["extra"] = self.task.extra_state()
        tmp = self.last_path.with_name(self.last_path.name + ".tmp")
        torch.save(ckpt, tmp)
        tmp.replace(self.last_path)

    def _log(self, record: dict[str, Any]) -> None:
        self.history.append(record)
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def _wall(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def _plot(self) -> None:
        """Redraw ``curves.png``; without matplotlib (a minimal install) say so once and train on."""
        if self._plots_off:
            return
        train = [(r["step"], r["loss"]) for r in self.history if "loss" in r]
        val = [(r["step"], r["val_psnr"]) for r in self.history if r.get("val_psnr") is not None]
        try:
            plot_curves(self.out / "curves.png", train, val, f"vsvideogen train {self.task.name}", self.task.reference_psnr)
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] != "matplotlib":
                raise
            self._plots_off = True
            print(f"{FUNC}: matplotlib is not installed, so curves.png is not drawn (log.jsonl has the same "
                  "numbers); pip install matplotlib to get it", file=sys.stderr)

    # -- the loop ----------------------------------------------------------------------------------------

    def _validate(self) -> float:
        began = time.perf_counter()
        self.model.eval()
        with torch.no_grad():
            value = self.task.validate(self.model, self.device)
        self.model.train()
        value, extra = value if isinstance(value, tuple) else (value, {})
        extra = {k: float(v) if math.isfinite(v) else None for k, v in extra.items()}
        self.state.last_psnr = value if math.isfinite(value) else None
        self._log({"step": self.state.step, "val_psnr": self.state.last_psnr, **extra, "time_s": round(self._wall(), 3)})
        if self.state.last_psnr is not None and (self.state.best_psnr is None or value > self.state.best_psnr):
            self.state.best_psnr, self.state.best_step = value, self.state.step
            save_safetensors(self.model.state_dict(), self.best_path, {"step": str(self.state.step), "val_psnr": f"{value:.4f}"})
        self.val_seconds = time.perf_counter() - began
        return value

    def _train_step(self, step: int, batch: Any, total: int) -> dict[str, float]:
        config = self.config
        lr = learning_rate(step, config, total)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)  # a last.pt from before lr_scale has one group
        loss, parts = self.task.loss(self.model, batch, self.device)
        value = loss.item()
        if not math.isfinite(value):
            raise VSVideoGenError(FUNC, f"the loss became {value} at step {step}; lower --lr or resume from an earlier last.pt")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip if config.grad_clip > 0 else math.inf)
        self.optimizer.step()
        after_step = getattr(self.task, "after_step", None)
        extra = after_step(lr) if after_step is not None else {}
        return {"loss": value, **parts, "grad_norm": float(norm), "lr": lr, **extra}

    def _plan(self, first_step: int, first_wall: float) -> None:
        """Cut the run to the steps that fit in the time limit, from the speed since ``first_step``."""
        config, state = self.config, self.state
        per_step = (self._wall() - first_wall) / (state.step - first_step)
        per_step += self.val_seconds / config.val_every  # validations still to come
        fit = state.step + int(max(0.0, config.time_limit - self._wall() - self.val_seconds) / per_step)
        state.planned_steps = max(state.step + 1, min(config.steps, fit))
        state.planned_for = [config.steps, config.time_limit]

    def run(self) -> TrainResult:
        from tqdm import tqdm

        config, state = self.config, self.state
        if state.step == 0 and not self.history:
            self._validate()  # the starting point: fine-tuning must beat it to replace the initial weights
        total = state.planned_steps or config.steps
        bar = tqdm(total=total, initial=state.step, desc=f"train {self.task.name}", unit="step",
                   file=sys.stderr, disable=not config.progress, dynamic_ncols=True)
        first_step, first_wall = state.step, self._wall()
        sums: dict[str, float] = {}
        count = 0
        last_loss = None
        batches = batch_stream(self.task, config, state.step)
        try:
            for batch in batches:
                began = time.perf_counter()
                with _whole_step():
                    values = self._train_step(state.step, batch, total)
                    state.train_time_s += time.perf_counter() - began
                    state.trained_steps += 1
                    state.step += 1
                for key, value in values.items():
                    sums[key] = sums.get(key, 0.0) + value
                count += 1
                step = state.step
                if (config.time_limit is not None and state.planned_steps is None
                        and step >= config.warmup + TIME_PLAN_STEPS and step - first_step >= TIME_PLAN_STEPS):
                    self._plan(first_step, first_wall)
                    total = bar.total = state.planned_steps
                out_of_time = config.time_limit is not None and self._wall() >= config.time_limit
                done = step >= total or out_of_time
                if step % config.log_every == 0 or done:
                    record = {"step": step, **{k: v / count for k, v in sums.items()}, "time_s": round(self._wall(), 3)}
                    self._log(record)
                    sums, count = {}, 0
                    last_loss = record["loss"]
                if step % config.val_every == 0 or done:
                    self._validate()
                    self._plot()
                bar.set_postfix(loss=_fmt(last_loss, 4), psnr=_fmt(state.last_psnr), refresh=False)
                if step % config.save_every == 0 or done:
                    self._save_last()
                bar.update(1)
                if done:
                    break
        except KeyboardInterrupt:
            self._save_last()
            self._plot()
            raise
        finally:
            batches.close()
            bar.close()
        return self._export()

    # -- export ------------------------------------------------------------------------------------------

    def _export(self) -> TrainResult:
        from safetensors.torch import load_file

        state = self.state
        use_best = self.best_path.is_file() and getattr(self.task, "export_best", True)
        weights = load_file(str(self.best_path)) if use_best else self.model.state_dict()
        exported_step = state.best_step if use_best else state.step
        exported_psnr = state.best_psnr if use_best else state.last_psnr
        per_step = state.train_time_s / state.trained_steps if state.trained_steps else None
        metadata = {
            "task": self.task.name,
            **self.task.describe(),
            "steps": state.step,
            "time_limit_s": self.config.time_limit,
            "workers": self.config.workers,
            "exported_step": exported_step,
            "val_psnr": exported_psnr,
            "val_psnr_best": state.best_psnr,
            "best_step": state.best_step,
            "val_psnr_last": state.last_psnr,
            "batch": self.config.batch,
            "crop": self.config.crop,
            "lr": self.config.lr,
            "schedule": self.config.schedule,
            "seed": self.config.seed,
            "wall_time_s": round(self._wall(), 1),
            "train_time_s": round(state.train_time_s, 1),
            "seconds_per_step": None if per_step is None else round(per_step, 4),
            "device": str(self.device),
            "command": self.config.command,
            "vsvideogen": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        }
        header = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in metadata.items()}
        model_path = save_safetensors(weights, self.out / "model.safetensors", header)
        metadata["sha256"] = sha256_file(model_path)
        (self.out / "model.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        return TrainResult(self.out, state.step, model_path, state.best_psnr, state.best_step,
                           metadata["wall_time_s"], per_step, metadata)


class _StepBatches(torch.utils.data.Dataset):
    """Batch ``i`` of a run: ``task.sample_batch`` with the generator seeded by ``(seed, i)``."""

    def __init__(self, task: Task, config: TrainConfig) -> None:
        self.task, self.seed, self.batch, self.crop = task, config.seed, config.batch, config.crop

    def __len__(self) -> int:
        raise TypeError("a run's batches are indexed by step and have no length")

    def __getitem__(self, step: int) -> Any:
        return self.task.sample_batch(np.random.default_rng([self.seed, step]), self.batch, self.crop)


def batch_stream(task: Task, config: TrainConfig, start: int):
    """The batches of steps ``start``, ``start + 1``, ... up to ``config.steps``, in order.

    With ``config.workers`` > 0 they are made ahead in that many worker processes (forked, so the task's
    data in memory is shared, not copied up front); the batches are the same as without workers. Returns a
    generator: close it to stop the workers.
    """
    batches = _StepBatches(task, config)
    if config.workers == 0 or config.steps - start < 2:
        return (batches[step] for step in range(start, config.steps))
    return _from_workers(batches, start, config)


def _unchanged(batch: Any) -> Any:
    return batch


def _from_workers(batches: _StepBatches, start: int, config: TrainConfig):
    # The first batch is made here, so that a task's error (a crop too large, ...) surfaces as itself rather
    # than wrapped by the worker machinery.
    yield batches[start]
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, sampler=range(start + 1, config.steps), num_workers=config.workers,
        collate_fn=_unchanged, prefetch_factor=4, multiprocessing_context="fork",
    )
    iterator = iter(loader)
    try:
        yield from iterator
    finally:
        del iterator  # its finaliser stops the worker processes


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _read_log(path: Path) -> list[dict[str, Any]]:
    """The records of a run's ``log.jsonl``, less a partial last line (what an append cut short leaves).

    Raises:
        VSVideoGenError: a line before the last is not JSON.
    """
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    records = []
    for number, line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if number == lines[-1][0]:
                break
            raise VSVideoGenError(
                FUNC, f"'{path}' line {number} is not JSON ({exc}); repair or delete that line, then resume again"
            ) from exc
    return records


def train(task: Task, config: TrainConfig) -> TrainResult:
    """Train ``task``'s model under ``config``; see the module docstring for what the run folder holds.

    Raises:
        VSVideoGenError: bad settings, an ``out`` that cannot be the run folder (see :func:`check_run_folder`),
            a checkpoint that does not fit, a damaged log, or a loss that became NaN/inf.
        KeyboardInterrupt: re-raised after ``last.pt`` has been saved, so the run can be resumed.
    """
    return _Run(task, config).run()
