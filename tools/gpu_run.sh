#!/usr/bin/env bash
# The one command on a bare GPU machine (no network, no basicsr): copied into the bundle as run.sh by
#   python tools/gpu_bundle.py build --out results/gpu_bundle
# There:
#   bash <bundle>/run.sh <output folder>                  # everything below, into that one folder
#   STEPS="benchmark" bash <bundle>/run.sh <same folder>  # one step again (a benchmark continues its rows)
#   CALIBRATE=1 bash <bundle>/run.sh <folder>             # also: bicubic / full / random against the val photos
# Here, on the CPU, at toy size (the same steps; photo_gpu with its smoke override, tiny timings):
#   python tools/gpu_bundle.py build --out /tmp/b --python-version 3.11 && PYTHON=python bash /tmp/b/run.sh /tmp/o --smoke
#
# Steps (STEPS, in this order): install (the wheels into <out>/site with pip --no-deps --target; pytest only if
# missing), weights (float16 -> float32 into the code copy), data (tools/prepare_photo_data.py from the bundled
# photos), tests (pytest -m cuda), benchmark (photo_gpu, 3 seeds, 8 rows side by side), timing
# (tools/time_step_settings.py: float32, bf16 fused, channels_last, compile, CUDA graphs, deterministic, the
# 7-class OST shape, a second process for the compile cache). Each command runs under `timeout` (< 10 min);
# <out>/steps.tsv has every step's exit status and seconds, <out>/SUMMARY.md the results, <out>/run.log all output.
set -uo pipefail
BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?usage: bash run.sh OUTPUT_FOLDER [--smoke]}
SMOKE=0
[ "${2:-}" = "--smoke" ] && SMOKE=1
PY=${PYTHON:-python3}
STEPS=${STEPS:-install weights data tests benchmark timing}
CALIBRATE=${CALIBRATE:-0}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
case "$OUT/" in "$BUNDLE"/*) echo "run.sh: error: the output folder must lie outside the bundle" >&2; exit 2;; esac
exec > >(tee -a "$OUT/run.log") 2>&1
CODE=$OUT/code
SITE=$OUT/site
DATA=$OUT/datasets/photo
export PYTHONPATH=$CODE:$SITE${PYTHONPATH:+:$PYTHONPATH}
export PYTHONDONTWRITEBYTECODE=1
if [ $SMOKE = 1 ]; then DEVICE=cpu; else DEVICE=cuda; fi

# step NAME LIMIT_S COMMAND...: run under a time limit, log its exit status and seconds to steps.tsv
step() {
  local name=$1 limit=$2 t0 rc
  shift 2
  echo "=== $(date -u +%H:%M:%S) $name: $*"
  t0=$(date +%s.%N)
  timeout --kill-after=20 "$limit" "$@"
  rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')" \
    >> "$OUT/steps.tsv"
  echo "=== $name: exit $rc"
  return $rc
}

wanted() { case " $STEPS " in *" $1 "*) return 0;; esac; return 1; }

install_wheels() {  # install_wheels FOLDER: pip --no-deps --target, or unpack the wheels where pip is missing
  if "$PY" -m pip --version > /dev/null 2>&1; then
    "$PY" -m pip install -q --no-deps --no-index --target "$SITE" "$1"/*.whl
  else
    for w in "$1"/*.whl; do "$PY" -m zipfile -e "$w" "$SITE" || return 1; done
  fi
}

if wanted install; then
  rm -rf "$CODE" && cp -r "$BUNDLE/code" "$CODE" && mkdir -p "$SITE"
  export -f install_wheels && export PY SITE  # `timeout` runs programs: the function through bash
  step install 300 bash -c 'install_wheels "$0"' "$BUNDLE/wheels"
  "$PY" -c 'import pytest' 2> /dev/null || step install_pytest 120 bash -c 'install_wheels "$0"' "$BUNDLE/wheels/pytest"
  # what the bundle does not carry and the run needs (basicsr's and the report's imports)
  step modules 120 "$PY" -c 'import importlib.util as u, sys
need = ["torch", "torchvision", "numpy", "cv2", "scipy", "yaml", "tqdm", "PIL", "matplotlib"]
missing = [m for m in need if u.find_spec(m) is None]
print("modules: all there" if not missing else f"modules missing on this machine: {missing}; install them")
sys.exit(1 if missing else 0)'
  {
    date -u; uname -a; "$PY" --version
    "$PY" -c 'import torch, torchvision, basicsr; print("torch", torch.__version__, "cuda", torch.version.cuda,
"torchvision", torchvision.__version__, "basicsr", basicsr.__version__, "from", basicsr.__file__)
print("device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
      "cpu capability", torch.backends.cpu.get_cpu_capability())'
    command -v nvidia-smi > /dev/null && nvidia-smi
    cat "$BUNDLE/MANIFEST.json"
  } > "$OUT/environment.txt" 2>&1
fi
cd "$CODE" || exit 2

if wanted weights; then
  step weights 120 "$PY" tools/gpu_bundle.py cast --src "$BUNDLE/weights/RealESRGAN_x4plus.fp16.pth" \
    --dst experiments/pretrained_models/RealESRGAN_x4plus.pth --dtype float32
fi

if wanted data; then
  small=()
  [ $SMOKE = 1 ] && small=(--max-tiles 2 --eval-max-side 256)  # 26 tiles, small test photos
  step data 300 "$PY" tools/prepare_photo_data.py --split "$BUNDLE/photos/split.yml" --out "$DATA" --force \
    "${small[@]}"
fi

if wanted tests; then
  step tests 590 "$PY" -m pytest -m cuda -q -p no:cacheprovider tests --junitxml="$OUT/pytest_cuda.xml" \
    2>&1 | tee "$OUT/pytest_cuda.txt"
fi

bench() {  # bench NAME TEST_ROOT OVERRIDE SEEDS: photo_gpu, then a report of whatever rows finished
  local over=() jobs=8
  [ -n "$3" ] && over=(--override "$3")
  [ $SMOKE = 1 ] && jobs=2
  step "$1" 590 "$PY" tools/benchmark.py --profile photo_gpu "${over[@]}" --train-root "$DATA/train" \
    --test-root "$2" --out "$OUT/$1" --seeds "$4" --jobs $jobs --device $DEVICE \
    || step "$1_report_only" 120 "$PY" tools/benchmark.py --profile photo_gpu "${over[@]}" \
      --train-root "$DATA/train" --test-root "$2" --out "$OUT/$1" --seeds "$4" --jobs $jobs --device $DEVICE \
      --report-only
}
SMOKE_OVERRIDE=
[ $SMOKE = 1 ] && SMOKE_OVERRIDE=options/benchmark/overrides/photo_gpu_smoke.yml
if [ "$CALIBRATE" = 1 ] && wanted benchmark; then  # the SR length, judged on the val photos only
  bench calibrate_val "$DATA/val" "${SMOKE_OVERRIDE:-options/benchmark/overrides/photo_gpu_val.yml}" 1
fi
if wanted benchmark; then
  bench benchmark_photo_gpu "$DATA/test" "$SMOKE_OVERRIDE" "$([ $SMOKE = 1 ] && echo 1 || echo 3)"
fi

if wanted timing; then
  T=(tools/time_step_settings.py --device $DEVICE --train-root "$DATA/train")
  if [ $SMOKE = 1 ]; then  # the compact generator, 2 latents per class, compile's wiring through the eager backend
    T+=(-opt options/gsdd_distill_demo_x4.yml --warmup 1 --iters 2)
    S="gsdd:ipc=2 gsdd:batch_real=4 gsdd:embed:num_feat=16"
    C="gsdd:compile=true gsdd:compile_backend=eager"
  else  # the paper-like step: 100 latents per class, 128 real crops, 128-channel embedder (the options file)
    T+=(-opt options/gsdd_distill_demo_RealESRGANx4plus_IPC100.yml --warmup 3 --iters 10)
    S="gsdd:ipc=100"
    C="gsdd:compile=true"
  fi
  F="$S gsdd:amp=bf16 gsdd:fuse_classes=true"
  step timing_eager 590 "$PY" "${T[@]}" --classes 3 --json "$OUT/timing_eager.json" \
    --setting "$S gsdd:amp=none gsdd:fuse_classes=false" --setting "$F" --setting "$F gsdd:channels_last=true" \
    --setting "$F deterministic=true"
  step timing_compile 590 "$PY" "${T[@]}" --classes 3 --json "$OUT/timing_compile.json" \
    --setting "$F gsdd:channels_last=true $C"
  step timing_compile_again 590 "$PY" "${T[@]}" --classes 3 --json "$OUT/timing_compile_again.json" \
    --setting "$F gsdd:channels_last=true $C"   # a new process, as a resumed run: is the compile cached?
  step timing_compile_all 590 "$PY" "${T[@]}" --classes 3 --json "$OUT/timing_compile_all.json" \
    --setting "$F gsdd:channels_last=true ${C/compile=true/compile=all}"
  step timing_cuda_graphs 590 "$PY" "${T[@]}" --classes 3 --json "$OUT/timing_cuda_graphs.json" \
    --setting "$F gsdd:channels_last=true $C $([ $SMOKE = 1 ] || echo gsdd:cuda_graphs=true)"
  step timing_ost_shape 590 "$PY" "${T[@]}" --classes 7 --json "$OUT/timing_ost_shape.json" \
    --setting "$F" --setting "$F gsdd:channels_last=true $C"
  step timing_deterministic_compile 590 "$PY" "${T[@]}" --classes 3 --json "$OUT/timing_deterministic_compile.json" \
    --setting "$F gsdd:channels_last=true $C deterministic=true"
fi

{
  echo "# GPU run of $(basename "$BUNDLE") ($([ $SMOKE = 1 ] && echo 'CPU rehearsal, smoke size' || echo 'GPU'))"
  echo; echo '## Steps (name, exit status, seconds)'; echo; echo '```'; cat "$OUT/steps.tsv"; echo '```'
  echo; echo '## Environment'; echo; echo '```'; head -n 6 "$OUT/environment.txt" 2> /dev/null; echo '```'
  echo; echo '## pytest -m cuda'; echo; echo '```'; tail -n 5 "$OUT/pytest_cuda.txt" 2> /dev/null; echo '```'
  echo; echo '## Step timings'
  for t in eager compile compile_again compile_all cuda_graphs deterministic_compile ost_shape; do
    f=$OUT/timing_$t.json
    [ -f "$f" ] && "$PY" - "$f" << 'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))['rows']
print(f'\n{sys.argv[1].rsplit("/", 1)[-1]}, {rows[0]["classes"]} classes:\n')
print('| setting | first step (compile) | step median | projected %d steps | peak CUDA GiB |' % rows[0]['project_steps'])
print('| --- | --- | --- | --- | --- |')
for r in rows:
    print(f"| {r['setting']} | {r['first_step_s']:.1f} s | {r['median_s']:.3f} s | {r['projected_h']:.2f} h | "
          f"{r['peak_cuda_gib'] if r['peak_cuda_gib'] is None else round(r['peak_cuda_gib'], 1)} |")
EOF
  done
  for b in calibrate_val benchmark_photo_gpu; do
    [ -f "$OUT/$b/benchmark.md" ] && { echo; echo "## $b"; echo; cat "$OUT/$b/benchmark.md"; }
  done
} > "$OUT/SUMMARY.md"
echo "=== done: $OUT/SUMMARY.md"
! grep -qv $'\t0\t' "$OUT/steps.tsv"
