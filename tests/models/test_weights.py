"""Reading, checking and writing weight files (vsvideogen.models.weights)."""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from vsvideogen.errors import WeightsError
from vsvideogen.models import weights
from vsvideogen.models.weights import cache_dir, load_into, read_state_dict, save_safetensors, sha256_file

SHARED_WEIGHTS = Path(__file__).resolve().parents[2].parent / "shared" / "weights"
DNCNN_25 = SHARED_WEIGHTS / "dncnn_25.pth"
DNCNN_25_SHA256 = "0451a70de9b672ae037270498fbb1c17a1c1c4403785df586ff65df5b858e5b0"


class Tiny(torch.nn.Module):
    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, channels, 3, padding=1)
        self.head = torch.nn.Conv2d(channels, 3, 1)


def tiny_state(channels: int = 4) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return Tiny(channels).state_dict()


def save_torch(obj: object, path: Path, **kwargs) -> Path:
    torch.save(obj, path, **kwargs)
    return path


def test_sha256_file_matches_hashlib(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"vsvideogen" * 100_000)
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_torch_checkpoint_round_trip(tmp_path):
    state = tiny_state()
    loaded = read_state_dict(save_torch(state, tmp_path / "tiny.pth"), "test")
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_wrapper_prefixes_are_stripped(tmp_path):
    state = tiny_state()
    wrapped = {f"module._orig_mod.{k}": v for k, v in state.items()}
    loaded = read_state_dict(save_torch(wrapped, tmp_path / "dp.pth"), "test")
    assert loaded.keys() == state.keys()


def test_prefix_kept_when_not_every_key_has_it(tmp_path):
    state = {"module.a": torch.zeros(1), "b": torch.zeros(1)}
    assert read_state_dict(save_torch(state, tmp_path / "mixed.pth"), "test").keys() == {"module.a", "b"}


def test_containers_are_unwrapped_preferring_ema(tmp_path):
    ema, raw = tiny_state(4), tiny_state(5)
    loaded = read_state_dict(save_torch({"params": raw, "params_ema": ema}, tmp_path / "basicsr.pth"), "test")
    assert loaded["conv.weight"].shape == ema["conv.weight"].shape
    nested = {"epoch": 7, "state_dict": {f"generator.{k}": v for k, v in ema.items()}}
    assert read_state_dict(save_torch(nested, tmp_path / "ckpt.pth"), "test").keys() == ema.keys()


def test_sha256_mismatch_names_both_hashes(tmp_path):
    path = save_torch(tiny_state(), tmp_path / "tiny.pth")
    actual = sha256_file(path)
    wrong = "0" * 64
    with pytest.raises(WeightsError) as info:
        read_state_dict(path, "interpolate", expected_sha256=wrong)
    message = str(info.value)
    assert message.startswith("vsvideogen.interpolate: ")
    assert actual in message and wrong in message and "again" in message
    assert read_state_dict(path, "test", expected_sha256=actual).keys() == tiny_state().keys()


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_truncated_checkpoint_is_a_clear_error(tmp_path, zip_format):
    full = save_torch(tiny_state(16), tmp_path / "full.pth", _use_new_zipfile_serialization=zip_format)
    data = full.read_bytes()
    half = tmp_path / "half.pth"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="half.pth.*truncated or corrupt") as info:
        read_state_dict(half, "test")
    assert info.value.__cause__ is not None


def test_garbage_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(WeightsError, match="garbage.pth"):
        read_state_dict(garbage, "test")
    with pytest.raises(WeightsError, match="nothere.pth' does not exist"):
        read_state_dict(tmp_path / "nothere.pth", "test")


def test_a_folder_is_named_as_one(tmp_path):
    with pytest.raises(WeightsError, match=f"'{tmp_path}' is a folder; pass the path of the weight file inside it"):
        read_state_dict(tmp_path, "test")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_non_finite_values_are_refused_naming_the_file_and_tensor(tmp_path, bad, suffix):
    state = tiny_state()
    state["head.weight"][0, 0, 0, 0] = bad
    state["steps"] = torch.tensor(3)  # an integer tensor is fine
    path = tmp_path / f"diverged{suffix}"
    save_torch(state, path) if suffix == ".pth" else save_safetensors(state, path)
    with pytest.raises(WeightsError, match=r"^vsvideogen\.test: '.*diverged\.(pth|safetensors)' holds non-finite "
                                           r"values \(NaN or infinity\) in 'head\.weight'; the file is damaged or "
                                           "came from a training run that diverged: use another checkpoint$"):
        read_state_dict(path, "test")
    state["head.weight"][0, 0, 0, 0] = 0.0
    assert read_state_dict(save_torch(state, tmp_path / "fine.pth"), "test").keys() == state.keys()


_EXECUTED: list[str] = []


def _mark_executed(note: str) -> str:
    _EXECUTED.append(note)
    return note


class _Payload:
    """Unpickling this calls _mark_executed: what a hostile checkpoint would do."""

    def __reduce__(self):
        return (_mark_executed, ("payload ran",))


def test_pickle_with_arbitrary_objects_is_refused(tmp_path):
    path = save_torch({"weight": torch.zeros(2), "extra": _Payload()}, tmp_path / "hostile.pkl")
    with pytest.raises(WeightsError, match="hostile.pkl' holds Python objects other than tensors.*_mark_executed"):
        read_state_dict(path, "test")
    assert _EXECUTED == []


def test_non_tensor_entry_is_named(tmp_path):
    path = save_torch({"conv.weight": torch.zeros(2), "note": "hello"}, tmp_path / "odd.pth")
    with pytest.raises(WeightsError, match="odd.pth' entry 'note' is a str, not a tensor"):
        read_state_dict(path, "test")
    with pytest.raises(WeightsError, match="holds a list"):
        read_state_dict(save_torch([torch.zeros(1)], tmp_path / "list.pth"), "test")


def test_safetensors_round_trip_with_metadata(tmp_path):
    state = tiny_state()
    state["tied"] = state["conv.weight"]  # shared storage must not stop the save
    state["strided"] = torch.arange(12.0).reshape(3, 4).t()
    path = save_safetensors(state, tmp_path / "sub" / "tiny.safetensors", {"arch": "tiny", "steps": 3})
    loaded = read_state_dict(path, "test")
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    with safe_open(str(path), "pt") as fh:
        assert fh.metadata() == {"arch": "tiny", "steps": "3"}
    assert [p.name for p in path.parent.iterdir()] == ["tiny.safetensors"]


@pytest.mark.parametrize("umask", [0o022, 0o027], ids=["umask022", "umask027"])
def test_saved_safetensors_get_the_permissions_of_a_plain_new_file(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = save_safetensors(tiny_state(), tmp_path / "model.safetensors")
        (tmp_path / "plain").write_bytes(b"")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o666 & ~umask


def test_truncated_safetensors_is_a_clear_error(tmp_path):
    path = save_safetensors(tiny_state(16), tmp_path / "tiny.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="tiny.safetensors' is not a readable safetensors file") as info:
        read_state_dict(path, "test")
    assert info.value.__cause__ is not None


def test_load_into_fits_and_ignores_prefixes():
    state = tiny_state()
    state["teacher.weight"] = torch.zeros(3)
    model = load_into(Tiny(), state, "test", ignore_prefixes=("teacher.",))
    assert torch.equal(model.conv.weight, state["conv.weight"])


def test_load_into_names_missing_and_unexpected_keys():
    state = tiny_state()
    state["extra.weight"] = state.pop("head.bias")
    with pytest.raises(WeightsError) as info:
        load_into(Tiny(), state, "upscale", source="model.pth")
    message = str(info.value)
    assert message.startswith("vsvideogen.upscale: 'model.pth' do not fit Tiny")
    assert "missing key(s) 'head.bias'" in message
    assert "unexpected key(s) 'extra.weight'" in message


def test_load_into_names_shape_mismatch_with_both_shapes():
    with pytest.raises(WeightsError, match=r"'conv.weight' is \(8, 3, 3, 3\) in the file but \(4, 3, 3, 3\) in the model"):
        load_into(Tiny(4), tiny_state(8), "test")


def test_cache_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "mycache"))
    assert cache_dir() == tmp_path / "mycache"
    monkeypatch.delenv(weights.CACHE_ENV)
    default = cache_dir()
    assert default.is_absolute() and "vsvideogen" in default.parts


def _dncnn(depth: int = 17, channels: int = 1, features: int = 64) -> torch.nn.Sequential:
    """KAIR's DnCNN layout with batch norm folded: conv+ReLU, (depth-2) x conv+ReLU, conv."""
    layers: list[torch.nn.Module] = [torch.nn.Conv2d(channels, features, 3, padding=1), torch.nn.ReLU()]
    for _ in range(depth - 2):
        layers += [torch.nn.Conv2d(features, features, 3, padding=1), torch.nn.ReLU()]
    layers.append(torch.nn.Conv2d(features, channels, 3, padding=1))
    return torch.nn.Sequential(*layers)


@pytest.mark.skipif(not DNCNN_25.is_file(), reason=f"official DnCNN weights not present at {DNCNN_25}")
def test_real_dncnn_checkpoint_loads():
    state = read_state_dict(DNCNN_25, "denoise", expected_sha256=DNCNN_25_SHA256)
    assert set(state) == {f"model.{i}.{p}" for i in range(0, 33, 2) for p in ("weight", "bias")}
    model = torch.nn.Module()
    model.model = _dncnn()
    load_into(model, state, "denoise", source=DNCNN_25)
    with torch.no_grad():
        out = model.model(torch.rand(1, 1, 16, 16))
    assert out.shape == (1, 1, 16, 16) and torch.isfinite(out).all()
