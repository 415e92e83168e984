#!/usr/bin/env bash
# One prepared GPU check (fits in about 8 minutes on one H100). Writes everything to one folder:
#   $OUT (default runs/gpu_check)/{env.txt, layer_bench.txt, model_bench.txt, train_bench.txt,
#   train_bench/results.json, torchrun.txt, summary.txt}
# 1. layer and model benchmarks on CUDA (bf16, channels_last, compile);
# 2. the engine's training step + a CIFAR-shaped train() run (45,000 synthetic images, 2 epochs, compile):
#    the second epoch's time is the number to compare with the paper's 168 s (V100, Keras, V2-32);
# 3. a 2-process torchrun smoke run (NCCL) when more than one GPU is visible.
# Dry run on CPU (every Python part, tiny sizes):  DEVICE=cpu TINY=1 bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_check}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python}
[ -x .venv/bin/python ] && [ "$PY" = python ] && PY=.venv/bin/python
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

if [ "${TINY:-0}" = 1 ]; then
  LAYER_ARGS=(--quick --rounds 1 --regime cifar); MODEL_ARGS=(--configs 32:8 --rounds 1 --warmup 1 --no-profile)
  TRAIN_ARGS=(--tiny --engine-epochs 1); T_LAYER=300; T_MODEL=300; T_TRAIN=600
  GPU_FLAGS=()
else
  LAYER_ARGS=(--rounds 5); MODEL_ARGS=(--configs 32:256,224:128 --rounds 5 --no-profile)
  TRAIN_ARGS=(--batch 64 --steps 20 --rounds 3 --engine-epochs 2 --engine-model v2-32); T_LAYER=90; T_MODEL=120
  T_TRAIN=240; GPU_FLAGS=(--bf16 --channels-last --compile)
fi

step() {  # step NAME TIMEOUT CMD...: run with a time limit, log to $OUT/NAME.txt, record the status
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  local rc=$?
  echo "$name: rc=$rc, $((SECONDS - t0)) s" | tee -a "$SUMMARY"
  tail -n 15 "$OUT/$name.txt"
}

{
  date -u; uname -a; nvidia-smi 2>/dev/null || echo "no nvidia-smi"
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'gpus', torch.cuda.device_count())"
} > "$OUT/env.txt" 2>&1
NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)

step layer_bench "$T_LAYER" "$PY" benchmarks/layer_bench.py --device "$DEVICE" "${LAYER_ARGS[@]}"
step model_bench "$T_MODEL" "$PY" benchmarks/model_bench.py --device "$DEVICE" "${GPU_FLAGS[@]}" "${MODEL_ARGS[@]}"
step train_bench "$T_TRAIN" "$PY" benchmarks/train_bench.py --device "$DEVICE" "${GPU_FLAGS[@]}" \
  "${TRAIN_ARGS[@]}" --out "$OUT/train_bench"

if [ "$DEVICE" = cuda ] && [ "${NGPU:-0}" -gt 1 ]; then
  step torchrun 120 "$PY" -m torch.distributed.run --standalone --nproc_per_node=2 -m igpw_viz train \
    --models v2-16 --smoke --device cuda --runs-root "$OUT" --name torchrun --no-progress
elif [ "$DEVICE" = cpu ]; then
  step torchrun 300 "$PY" -m torch.distributed.run --standalone --nproc_per_node=2 -m igpw_viz train \
    --models v2-8 --smoke --device cpu --image-size 8 --skip-strides 2 --runs-root "$OUT" --name torchrun \
    --overwrite --no-progress
else
  echo "torchrun: skipped (1 GPU)" | tee -a "$SUMMARY"
fi
echo "results in $OUT"
