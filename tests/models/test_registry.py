"""The model table, finding and importing weight files, load_model, and `vsvideogen models`."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest
import torch

from vsvideogen import cli
from vsvideogen.errors import VSVideoGenError, WeightsError
from vsvideogen.models import registry
from vsvideogen.models.registry import ModelSpec
from vsvideogen.models.weights import CACHE_ENV, load_into, save_safetensors, sha256_file

TOY_ARCH_MODULE = "_vsvideogen_test_toy_arch"


class Toy(torch.nn.Module):
    modulo = 4

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)


def toy_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return Toy().state_dict()


class Env:
    """A registry with two toy models, a toy architecture and a private cache dir."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.builds: list[str] = []
        self.cache = tmp_path / "cache"
        self.downloads = tmp_path / "downloads"
        self.downloads.mkdir()
        self.pinned_file = self.downloads / "toy.pth"
        torch.save(toy_state(0), self.pinned_file)
        self.unpinned_file = save_safetensors(toy_state(1), self.downloads / "toy_next.safetensors")
        common = dict(task="denoise", arch="toy", licence="MIT", source="the test suite", modulo=4, description="toy")
        self.pinned = ModelSpec(id="toy-pinned", file="toy.pth", sha256=sha256_file(self.pinned_file), **common)
        self.unpinned = ModelSpec(id="toy-unpinned", file="toy_next.safetensors", sha256=None, bundled=True, **common)
        self.other_task = ModelSpec(
            id="toy-upscale", task="upscale", arch="toy", file="up.pth", sha256="1" * 64, licence="MIT",
            source="nowhere", modulo=1, description="toy upscaler",
        )
        self.bundled = tmp_path / "bundled"
        self.bundled.mkdir()

        arch = types.ModuleType(TOY_ARCH_MODULE)
        arch.build = self.build
        monkeypatch.setitem(sys.modules, TOY_ARCH_MODULE, arch)
        monkeypatch.setattr(registry, "ARCHS", {"toy": (TOY_ARCH_MODULE, "build")})
        monkeypatch.setattr(registry, "TASK_ARCHS", {"denoise": "toy"})
        monkeypatch.setattr(registry, "DEFAULT_MODELS", {"denoise": "toy-pinned"})
        monkeypatch.setattr(registry, "MODELS", (self.pinned, self.unpinned, self.other_task))
        monkeypatch.setattr(registry, "bundled_dir", lambda: self.bundled)
        monkeypatch.setenv(CACHE_ENV, str(self.cache))
        registry.clear_model_cache()

    def build(self, state_dict, func):
        self.builds.append(func)
        return load_into(Toy(), state_dict, func)

    def install_pinned(self) -> Path:
        spec, target, copied = registry.import_weights(self.pinned_file, "test")
        assert spec is self.pinned and copied
        return target


@pytest.fixture
def env(tmp_path, monkeypatch):
    yield Env(tmp_path, monkeypatch)
    registry.clear_model_cache()


@pytest.fixture
def models_cli(monkeypatch):
    """`vsvideogen.cli.main` with only the `models` subcommand, so sibling commands under construction don't matter."""
    monkeypatch.setattr(cli, "COMMANDS", ("models",))

    def run(*argv: str) -> int:
        return cli.main(["models", *argv])

    return run


# --- the real table ---------------------------------------------------------------------------------------


def test_table_is_consistent():
    ids = [spec.id for spec in registry.MODELS]
    assert len(ids) == len(set(ids))
    for spec in registry.MODELS:
        assert spec.task in registry.TASKS and spec.arch in registry.ARCHS and spec.licence and spec.source
    for task, model_id in registry.DEFAULT_MODELS.items():
        assert registry.get_spec(model_id, "test").task == task
    rife = registry.get_spec("rife-v4.0", "test")
    assert rife.sha256 == "b234ad8d0acfcb6d9eaf2791eb7ddebdaab58bd862b229c703f8073e56d99c29"
    assert not rife.bundled and registry.get_spec("interpolate-default", "test").bundled


def test_importing_the_registry_loads_no_torch_or_arch():
    code = "import sys, vsvideogen.models; assert 'torch' not in sys.modules; assert 'vsvideogen.models.archs.ifnet' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_spec_validation():
    with pytest.raises(ValueError, match="task"):
        ModelSpec("x", "paint", "toy", "x.pth", None, "MIT", "src", 1, "d")
    with pytest.raises(ValueError, match="sha256"):
        ModelSpec("x", "denoise", "toy", "x.pth", "ABC", "MIT", "src", 1, "d")


def test_unknown_model_id_lists_known_ids():
    with pytest.raises(VSVideoGenError) as info:
        registry.get_spec("rife-4.0", "interpolate")
    message = str(info.value)
    assert message.startswith("vsvideogen.interpolate: unknown model 'rife-4.0'; did you mean 'rife-v4.0'?")
    assert "interpolate-default" in message


def test_list_specs_by_task():
    assert {s.id for s in registry.list_specs("interpolate")} >= {"rife-v4.0", "interpolate-default"}
    assert registry.list_specs() == list(registry.MODELS)
    with pytest.raises(VSVideoGenError, match="task 'paint' is unknown"):
        registry.list_specs("paint")


# --- finding and importing files ----------------------------------------------------------------------------


def test_missing_weights_say_how_to_import(env):
    with pytest.raises(WeightsError, match=r"toy-pinned.*vsvideogen models import PATH") as info:
        registry.resolve_weights_path(env.pinned, "denoise")
    assert "the test suite" in str(info.value)
    with pytest.raises(WeightsError, match=r"bundled weights.*--id toy-unpinned"):
        registry.resolve_weights_path(env.unpinned, "denoise")


def test_bundled_dir_wins_over_cache(env):
    bundled = save_safetensors(toy_state(1), env.bundled / env.unpinned.file)
    assert registry.resolve_weights_path(env.unpinned, "test") == bundled


def test_import_matches_by_hash_into_cache(env):
    target = env.install_pinned()
    assert target == env.cache / "weights" / "toy-pinned" / "toy.pth"
    assert registry.resolve_weights_path(env.pinned, "test") == target
    assert registry.import_weights(env.pinned_file, "test") == (env.pinned, target, False)


def test_import_refuses_wrong_or_unknown_files(env):
    stranger = env.downloads / "stranger.pth"
    torch.save(toy_state(5), stranger)
    with pytest.raises(WeightsError, match="matches no registered model.*--id"):
        registry.import_weights(stranger, "models")
    with pytest.raises(WeightsError, match=f"expects {env.pinned.sha256}"):
        registry.import_weights(stranger, "models", "toy-pinned")
    with pytest.raises(VSVideoGenError, match="weight file of model 'toy-pinned', not 'toy-unpinned'"):
        registry.import_weights(env.pinned_file, "models", "toy-unpinned")
    with pytest.raises(WeightsError, match="pass a .safetensors file"):
        registry.import_weights(stranger, "models", "toy-unpinned")
    assert not env.cache.exists()


@pytest.mark.parametrize("blocker", ["cache", "folder", "file"])
def test_import_into_an_unusable_cache_names_the_folder_and_the_fix(env, models_cli, capsys, blocker):
    folder = env.cache / "weights" / "toy-pinned"
    if blocker == "cache":  # the cache is a file
        env.cache.write_bytes(b"")
    elif blocker == "folder":  # the model's folder is a file
        folder.parent.mkdir(parents=True)
        folder.write_bytes(b"")
    else:  # the weight file's place is taken by a folder
        (folder / "toy.pth").mkdir(parents=True)
    with pytest.raises(VSVideoGenError, match=f"cannot copy the weights into '{folder}' .*; make the cache "
                                              f"'{env.cache}' a writable folder, or set {CACHE_ENV} to one"):
        registry.import_weights(env.pinned_file, "models")
    assert models_cli("import", str(env.pinned_file)) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"vsvideogen.models: cannot copy the weights into '{folder}'")


def test_import_unpinned_with_id(env):
    spec, target, copied = registry.import_weights(env.unpinned_file, "models", "toy-unpinned")
    assert spec is env.unpinned and copied and target.read_bytes() == env.unpinned_file.read_bytes()


def test_import_unpinned_refuses_weights_of_another_network(env):
    other = save_safetensors({"body.0.weight": torch.zeros(4, 3, 3, 3)}, env.downloads / "other.safetensors")
    with pytest.raises(WeightsError):
        registry.import_weights(other, "models", "toy-unpinned")  # e.g. an IFNet file given --id realesrgan-x4plus
    assert not env.cache.exists()


# --- load_model -------------------------------------------------------------------------------------------------


def test_load_model_by_id_is_ready_and_cached(env):
    env.install_pinned()
    model = registry.load_model("toy-pinned", "denoise", "cpu", torch.float64, "denoise")
    assert isinstance(model, Toy) and not model.training
    assert model.conv.weight.dtype == torch.float64 and not model.conv.weight.requires_grad
    assert torch.equal(model.conv.weight.float(), toy_state(0)["conv.weight"])
    assert registry.load_model(None, "denoise", torch.device("cpu"), torch.float64, "denoise") is model
    assert registry.load_model("toy-pinned", "denoise", "cpu", torch.float32, "denoise") is not model
    assert env.builds == ["denoise", "denoise"]


def test_load_model_builds_once_across_threads(env):
    env.install_pinned()
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(registry.load_model("toy-pinned", "denoise", "cpu", torch.float32, "t")))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and all(r is results[0] for r in results)
    assert len(env.builds) == 1


def test_load_model_from_path_uses_task_arch_and_notices_changes(env, tmp_path):
    path = tmp_path / "mine.safetensors"
    save_safetensors(toy_state(2), path)
    first = registry.load_model(str(path), "denoise", "cpu", torch.float32, "denoise")
    assert registry.load_model(path, "denoise", "cpu", torch.float32, "denoise") is first
    save_safetensors(toy_state(3), path, {"v": "2"})
    second = registry.load_model(path, "denoise", "cpu", torch.float32, "denoise")
    assert second is not first and torch.equal(second.conv.weight, toy_state(3)["conv.weight"])


def test_an_export_of_another_task_is_named_as_one(env, tmp_path):
    upscaler = save_safetensors(toy_state(2), tmp_path / "up.safetensors", {"task": "upscale"})
    with pytest.raises(VSVideoGenError, match=r"^vsvideogen\.denoise: '.*up\.safetensors' is an upscale model \(a "
                                              r"`vsvideogen train upscale` export\), not denoise; use it with "
                                              r"vsvideogen\.upscale, and a denoise model here$"):
        registry.load_model(upscaler, "denoise", "cpu", torch.float32, "denoise")
    denoiser = save_safetensors(toy_state(2), tmp_path / "dn.safetensors", {"task": "denoise"})
    assert torch.equal(registry.load_model(denoiser, "denoise", "cpu", torch.float32, "denoise").conv.weight,
                       toy_state(2)["conv.weight"])


def test_load_model_errors(env, tmp_path):
    with pytest.raises(VSVideoGenError, match="unknown model 'toy-pined'; did you mean 'toy-pinned'"):
        registry.load_model("toy-pined", "denoise", "cpu", torch.float32, "denoise")
    with pytest.raises(VSVideoGenError, match="'toy-upscale' is an upscale model, not denoise; use a denoise model"):
        registry.load_model("toy-upscale", "denoise", "cpu", torch.float32, "denoise")
    with pytest.raises(WeightsError, match="nope.pth' does not exist"):
        registry.load_model(str(tmp_path / "nope.pth"), "denoise", "cpu", torch.float32, "denoise")
    with pytest.raises(WeightsError, match=f"'{tmp_path}' is a folder; pass the path of the weight file inside it"):
        registry.load_model(str(tmp_path), "denoise", "cpu", torch.float32, "denoise")
    with pytest.raises(VSVideoGenError, match="upscale has no architecture for weight files given by path"):
        registry.load_model(env.pinned_file, "upscale", "cpu", torch.float32, "upscale")
    with pytest.raises(WeightsError, match="vsvideogen models import PATH"):
        registry.load_model("toy-pinned", "denoise", "cpu", torch.float32, "denoise")


@pytest.mark.parametrize("task", registry.TASKS)
def test_load_model_refuses_non_finite_weights_for_every_task(tmp_path, task):
    state = toy_state()  # refused before any architecture looks at it
    state["conv.bias"][1] = float("nan")
    path = save_safetensors(state, tmp_path / "nan.safetensors")
    with pytest.raises(WeightsError, match=r"nan\.safetensors' holds non-finite values \(NaN or infinity\) in "
                                           "'conv.bias'; the file is damaged"):
        registry.load_model(path, task, "cpu", torch.float32, task)


def test_load_model_checks_sha_and_names_file_on_misfit(env, tmp_path):
    target = env.install_pinned()
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(WeightsError, match=f"toy.pth' has sha256 .* but {env.pinned.sha256} was expected"):
        registry.load_model("toy-pinned", "denoise", "cpu", torch.float32, "denoise")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(3, 3, 5, 5), "conv.bias": torch.zeros(3)}, wrong)
    with pytest.raises(WeightsError, match=r"weights file '.*wrong.pth': .*'conv.weight' is \(3, 3, 5, 5\) in the file"):
        registry.load_model(wrong, "denoise", "cpu", torch.float32, "denoise")


# --- vsvideogen models ----------------------------------------------------------------------------------------


def test_cli_list(env, models_cli, capsys):
    env.install_pinned()
    assert models_cli("list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "TASK", "WEIGHTS", "LICENCE", "DESCRIPTION"]
    rows = {line.split()[0]: line.split()[2] for line in lines[1:]}
    assert rows == {"toy-pinned": "imported", "toy-unpinned": "missing", "toy-upscale": "missing"}
    assert models_cli("list", "--task", "upscale") == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["toy-upscale"]


def test_cli_list_names_a_damaged_file(env, models_cli, capsys):
    target = env.install_pinned()
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    assert models_cli("list") == 0
    out, err = capsys.readouterr()
    assert {line.split()[0]: line.split()[2] for line in out.splitlines()[1:]}["toy-pinned"] == "damaged"
    assert err == ("vsvideogen.models: the weight file of toy-pinned does not match its sha256; "
                   "`vsvideogen models info toy-pinned` shows where it is\n")


def test_an_unreadable_cache_lists_its_models_as_missing(env, models_cli, capsys, monkeypatch):
    env.install_pinned()
    is_file = Path.is_file

    def denied(path: Path) -> bool:  # what is_file does under a folder a non-root user may not read
        if env.cache in path.parents:
            raise PermissionError(13, "Permission denied", str(path))
        return is_file(path)

    monkeypatch.setattr(Path, "is_file", denied)
    assert registry.find_weights(env.pinned) is None
    assert models_cli("list") == 0
    assert "toy-pinned denoise missing" in " ".join(capsys.readouterr().out.split())


def test_cli_info(env, models_cli, capsys):
    assert models_cli("info", "toy-pinned") == 0
    out = capsys.readouterr().out
    assert f"sha256:      {env.pinned.sha256}" in out and "not installed" in out and str(env.cache) in out
    target = env.install_pinned()
    assert models_cli("info", "toy-pinned") == 0
    assert f"location:    {target}" in capsys.readouterr().out
    target.write_bytes(b"damaged")
    assert models_cli("info", "toy-pinned") == 1
    captured = capsys.readouterr()
    assert "MISMATCH" in captured.out and captured.err.startswith("vsvideogen.models: ")


def test_cli_info_unknown_id_is_one_line(env, models_cli, capsys):
    assert models_cli("info", "nothing") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "unknown model 'nothing'" in captured.err


@pytest.mark.parametrize("unbuffered", ["1", ""])
@pytest.mark.parametrize("action", [["list"], ["info", "interpolate-default"]])
def test_cli_output_into_a_closed_pipe_ends_quietly(tmp_path, action, unbuffered):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written, as in `vsvideogen models list | true`
    code = "import sys; from vsvideogen import cli; cli.COMMANDS = ('models',); sys.exit(cli.main(sys.argv[1:]))"
    env = {**os.environ, CACHE_ENV: str(tmp_path), "PYTHONUNBUFFERED": unbuffered}
    try:
        done = subprocess.run([sys.executable, "-c", code, "models", *action], stdout=write, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=300)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


def test_cli_import(env, models_cli, capsys):
    assert models_cli("import", str(env.pinned_file)) == 0
    assert capsys.readouterr().out.startswith("imported toy-pinned: ")
    assert models_cli("import", str(env.pinned_file)) == 0
    assert "already installed" in capsys.readouterr().out
    stranger = env.downloads / "stranger.pth"
    torch.save(toy_state(9), stranger)
    assert models_cli("import", str(stranger)) == 1
    assert "matches no registered model" in capsys.readouterr().err
    assert models_cli("import", str(stranger), "--id", "toy-pinned") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"but model 'toy-pinned' expects {env.pinned.sha256}" in err
    assert models_cli("import", str(env.unpinned_file), "--id", "toy-unpinned") == 0
    assert "imported toy-unpinned" in capsys.readouterr().out
