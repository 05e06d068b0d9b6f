"""Pack a trained checkpoint for bundling: fp16 tensors in a safetensors file, metadata kept, sha256 printed.

    .venv/bin/python scripts/pack_weights.py runs/default-ft/best.safetensors \
        vsvideogen/weights/interpolate_default.safetensors --meta layout=v4.0

Float tensors are stored in half precision (half the size; the filters cast weights to their own dtype when
loading). The printed sha256 goes into the model's registry entry.
"""
from __future__ import annotations

import argparse
import sys

from safetensors import safe_open

from vsvideogen.models.weights import save_safetensors, sha256_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="safetensors file written by `vsvideogen train`")
    parser.add_argument("dest", help="where to write the packed file")
    parser.add_argument("--meta", nargs="*", default=[], metavar="KEY=VALUE", help="extra metadata entries")
    args = parser.parse_args(argv)
    with safe_open(args.source, "pt") as f:
        metadata = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    packed = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    metadata.update(entry.split("=", 1) for entry in args.meta)
    metadata["packed_from"] = f"float32 -> float16, {sum(v.numel() for v in packed.values())} values"
    save_safetensors(packed, args.dest, metadata)
    worst = max((tensors[k].float() - packed[k].float()).abs().max().item() for k in packed)
    print(f"{args.dest}: sha256 {sha256_file(args.dest)}; largest weight change from fp16 rounding {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
