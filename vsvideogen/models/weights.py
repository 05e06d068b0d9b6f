"""Reading, checking and writing weight files.

Safetensors files are read directly; other files (official ``.pth``/``.pkl`` checkpoints) are read with
``torch.load(weights_only=True)``, so a checkpoint holding arbitrary Python objects is refused rather than
executed. Common containers (``state_dict``, ``params_ema``, ``params``, ``model``) are unwrapped and wrapper
prefixes (``module.``, ``generator.``, ``_orig_mod.``) stripped. Every failure is a :class:`WeightsError` that
names the file.

User weights live in the cache folder: ``platformdirs.user_cache_dir("vsvideogen")``, or the folder named by
the environment variable ``VSVIDEOGEN_CACHE`` when it is set.

torch and safetensors are imported on first use so that ``vsvideogen models list`` stays instant.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WeightsError

if TYPE_CHECKING:
    import torch

CACHE_ENV = "VSVIDEOGEN_CACHE"

# Checked in this order; params_ema (BasicSR's averaged weights) beats params.
_CONTAINER_KEYS = ("params_ema", "params", "state_dict", "model")
_WRAPPER_PREFIXES = ("module.", "generator.", "_orig_mod.")
_MAX_LISTED = 5
# How torch's weights_only unpickler names the object it refused.
_UNSAFE_GLOBAL = re.compile(r"Unsupported global: (?:GLOBAL )?(\S+)")


def cache_dir() -> Path:
    """The folder for user-imported weights: ``$VSVIDEOGEN_CACHE`` if set, else the platform's user cache dir."""
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("vsvideogen", appauthor=False))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The lowercase hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_state_dict(
    path: str | os.PathLike[str], func: str, expected_sha256: str | None = None
) -> dict[str, torch.Tensor]:
    """Read a weight file into a flat ``{name: tensor}`` dict on the CPU.

    Args:
        path: a ``.safetensors`` file, or a torch checkpoint (``.pth``, ``.pt``, ``.pkl``, ...).
        func: name of the calling function, for error messages.
        expected_sha256: when given, the file's sha256 must match before anything is parsed.

    Returns:
        The state dict, unwrapped from common containers and with wrapper prefixes stripped.

    Raises:
        WeightsError: the file is missing or a folder, has the wrong hash, is truncated or corrupt, holds
            non-tensor objects or non-finite values (NaN, infinity), or is empty.
    """
    path = Path(path)
    check_weights_file(path, func, "pass the path of a weight file")
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual != expected_sha256.lower():
            raise WeightsError(
                func,
                f"weights file '{path}' has sha256 {actual} but {expected_sha256.lower()} was expected; "
                "the file is damaged or a different checkpoint: get the original file again and re-import it",
            )
    raw = _load_safetensors(path, func) if path.suffix == ".safetensors" else _load_torch(path, func)
    state = _unwrap(raw, path, func)
    _check_finite(state, path, func)
    return _strip_wrapper_prefixes(state, path, func)


def check_weights_file(path: Path, func: str, fix: str) -> None:
    """Refuse a weight file path that is not a file: a folder is named as one (pass the weight file inside it),
    a missing path is followed by ``fix``.

    Raises:
        WeightsError: ``path`` is a folder or does not exist.
    """
    if path.is_dir():
        raise WeightsError(func, f"weights file '{path}' is a folder; pass the path of the weight file inside it")
    if not path.is_file():
        raise WeightsError(func, f"weights file '{path}' does not exist; {fix}")


def _load_safetensors(path: Path, func: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error type, OSError or ValueError for bad files
        raise WeightsError(
            func, f"'{path}' is not a readable safetensors file ({exc}); the file is truncated or corrupt: get it again"
        ) from exc


def _load_torch(path: Path, func: str) -> object:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = _UNSAFE_GLOBAL.search(str(exc))
        if refused:
            raise WeightsError(
                func,
                f"'{path}' holds Python objects other than tensors ({refused.group(1)}), refused for safety "
                "(torch.load weights_only=True); use a checkpoint that holds only a state dict, "
                "e.g. one re-saved with torch.save(model.state_dict(), ...) where the source is trusted",
            ) from exc
        raise WeightsError(
            func, f"'{path}' is not a readable torch checkpoint; the file is truncated or corrupt: get it again"
        ) from exc
    except Exception as exc:  # torch surfaces damage as OSError, RuntimeError, EOFError, KeyError, ... by where it hits
        raise WeightsError(
            func,
            f"'{path}' is not a readable torch checkpoint ({type(exc).__name__}); the file is truncated or corrupt: get it again",
        ) from exc


def _unwrap(obj: object, path: Path, func: str) -> dict[str, torch.Tensor]:
    import torch

    while isinstance(obj, Mapping) and not _all_tensors(obj):
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise WeightsError(
            func, f"'{path}' holds a {type(obj).__name__}, not a state dict; pass a checkpoint that holds a state dict"
        )
    if not obj:
        raise WeightsError(func, f"'{path}' holds an empty state dict; pass a checkpoint with weights in it")
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise WeightsError(
                func,
                f"'{path}' entry {key!r} is a {type(value).__name__}, not a tensor; "
                f"pass a checkpoint whose state dict holds only tensors (containers understood: {', '.join(_CONTAINER_KEYS)})",
            )
    return dict(obj)


def _check_finite(state: Mapping[str, torch.Tensor], path: Path, func: str) -> None:
    """Refuse NaN and infinity, which make every output NaN (black frames once converted to integers)."""
    import torch

    bad = [key for key, value in state.items() if value.is_floating_point() and not torch.isfinite(value).all()]
    if bad:
        raise WeightsError(
            func, f"'{path}' holds non-finite values (NaN or infinity) in {_list(bad)}; the file is damaged or came "
            "from a training run that diverged: use another checkpoint"
        )


def _all_tensors(obj: Mapping) -> bool:
    import torch

    return all(isinstance(v, torch.Tensor) for v in obj.values())


def _strip_wrapper_prefixes(state: dict[str, torch.Tensor], path: Path, func: str) -> dict[str, torch.Tensor]:
    """Strip a wrapper prefix while every key carries it (DataParallel, GAN wrappers, torch.compile)."""
    while True:
        prefix = next((p for p in _WRAPPER_PREFIXES if all(k.startswith(p) for k in state)), None)
        if prefix is None:
            return state
        stripped = {k[len(prefix):]: v for k, v in state.items()}
        if "" in stripped:
            raise WeightsError(func, f"'{path}' has a key that is just {prefix!r}; pass a well-formed state dict")
        state = stripped


def load_into(
    module: torch.nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    func: str,
    ignore_prefixes: Iterable[str] = (),
    *,
    source: str | os.PathLike[str] | None = None,
) -> torch.nn.Module:
    """Copy ``state_dict`` into ``module``, strictly: every key must be present and fit.

    Args:
        module: the freshly built architecture.
        state_dict: names to tensors, as from :func:`read_state_dict` (after any key mapping).
        func: name of the calling function, for error messages.
        ignore_prefixes: keys of ``state_dict`` starting with one of these are dropped first
            (e.g. a training-only teacher block).
        source: the file the weights came from, named in error messages.

    Returns:
        ``module``, with the weights loaded.

    Raises:
        WeightsError: keys are missing or unexpected, or a tensor's shape differs; the message names the
            offending keys and, for shapes, both shapes.
    """
    ignore = tuple(ignore_prefixes)
    given = {k: v for k, v in state_dict.items() if not (ignore and k.startswith(ignore))}
    expected = module.state_dict()
    what = f"'{source}'" if source is not None else "the weights"
    arch = type(module).__name__
    problems = []
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    if missing:
        problems.append(f"missing key(s) {_list(missing)}")
    if unexpected:
        problems.append(f"unexpected key(s) {_list(unexpected)}")
    mismatched = [k for k in expected if k in given and tuple(given[k].shape) != tuple(expected[k].shape)]
    if mismatched:
        shown = [f"'{k}' is {tuple(given[k].shape)} in the file but {tuple(expected[k].shape)} in the model" for k in mismatched[:_MAX_LISTED]]
        more = f" (+{len(mismatched) - _MAX_LISTED} more)" if len(mismatched) > _MAX_LISTED else ""
        problems.append("shape mismatch: " + ", ".join(shown) + more)
    if problems:
        raise WeightsError(
            func, f"{what} do not fit {arch}: {'; '.join(problems)}; use a checkpoint made for this architecture and task"
        )
    module.load_state_dict(given, strict=True)
    return module


def _list(keys: list[str]) -> str:
    shown = ", ".join(f"'{k}'" for k in keys[:_MAX_LISTED])
    return shown + (f" (+{len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else "")


def save_safetensors(
    state_dict: Mapping[str, torch.Tensor], path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None
) -> Path:
    """Write ``state_dict`` as a safetensors file, atomically (a temporary file renamed into place).

    Tensors are detached, moved to the CPU and made contiguous with their own storage (safetensors refuses
    tensors that share memory). ``metadata`` is stored as the file's string-to-string header metadata. The
    file gets the permissions of any file this process creates (0644 under the usual umask 022), not the 0600
    of safetensors' own temporary file.

    Returns:
        The path written.
    """
    from safetensors.torch import save

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(save(tensors, metadata=meta))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
