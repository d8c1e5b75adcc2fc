#!/usr/bin/env bash
# One device call (< 10 min): fine-tune the agent (when .sft_data/train.jsonl is there), then where the
# training step's time goes and the MFU variants (bf16 vs float32 residual stream, attention backends,
# inductor coordinate-descent tuning) at the reference shape and the shipped base shape.
# Writes under $OUT: env.txt, sft.log, ckpt.tar.* (the agent checkpoint), profile.md, bench.jsonl, bench.log.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
S=$(date +%s); el() { echo $(( $(date +%s) - S )); }
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv > "$OUT/env.txt" 2>&1
if [ -f .sft_data/train.jsonl ]; then
  timeout 200 python3 -m models.train --stage sft --preset base --device cuda --data .sft_data/train.jsonl \
    --init models/checkpoints/base --out /tmp/agent --batch-size 32 --max-steps 3000 --lr 5e-4 --min-lr 5e-5 \
    --warmup-steps 50 --eval-interval 100 --patience 6 --val-fraction 0.05 --max-minutes 5 --quiet > "$OUT/sft.log" 2>&1
  echo "sft exit $? at $(el)s" >> "$OUT/sft.log"
  [ -f /tmp/agent/model_card.json ] && tar -C /tmp/agent --exclude=./resume -cf - . | split -b 15000000 - "$OUT/ckpt.tar."
fi
python3 bench/bench_train_gpu.py --profile ${PROFILE:-ref-compile} > "$OUT/profile.md" 2>&1
python3 bench/bench_train_gpu.py --variants ${VARIANTS:-ref-compile,ref-fp32-residual,base-compile,base-fp32-residual,ref-flash,ref-cdtuning,base-cdtuning} \
  --deadline $(( ${BENCH_END:-570} - $(el) )) --json "$OUT/bench.jsonl" > "$OUT/bench.log" 2>&1
echo "end at $(el)s" >> "$OUT/bench.log"
grep -hE 'params|done|early stop|error|Error|exit|val' "$OUT/sft.log" 2>/dev/null | tail -n 8
head -n 16 "$OUT/profile.md"; tail -n 12 "$OUT/bench.log"
