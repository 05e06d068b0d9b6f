"""Model registry and weight loading: the only way filters get a network.

Importing this package loads neither torch nor any architecture; both load when a model is built.
"""
from .registry import (
    ARCHS,
    DEFAULT_MODELS,
    MODELS,
    TASK_ARCHS,
    TASKS,
    ModelSpec,
    bundled_dir,
    clear_model_cache,
    find_weights,
    get_spec,
    import_weights,
    list_specs,
    load_model,
    resolve_weights_path,
    user_weights_path,
)
from .weights import CACHE_ENV, cache_dir, load_into, read_state_dict, save_safetensors, sha256_file

__all__ = [
    "ARCHS",
    "CACHE_ENV",
    "DEFAULT_MODELS",
    "MODELS",
    "TASKS",
    "TASK_ARCHS",
    "ModelSpec",
    "bundled_dir",
    "cache_dir",
    "clear_model_cache",
    "find_weights",
    "get_spec",
    "import_weights",
    "list_specs",
    "load_into",
    "load_model",
    "read_state_dict",
    "resolve_weights_path",
    "save_safetensors",
    "sha256_file",
    "user_weights_path",
]
