#!/usr/bin/env bash
# The GPU session that produced the shipped checkpoint and the training benchmark (one device call, < 10 min).
# Writes under $OUT: env.txt, train_A.log, train_B.log, bench.jsonl, bench.log, ckpt.tar.* (the best run).
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
S=$(date +%s); el() { echo $(( $(date +%s) - S )); }
{ nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm,clocks.max.sm --format=csv
  python3 -c "import torch,transformers,tokenizers,safetensors;print(torch.__version__,torch.version.cuda,transformers.__version__,tokenizers.__version__)"; } > "$OUT/env.txt" 2>&1
# A: the base preset as shipped by default (torch.compile, dropout 0.2); B: dropout 0.1 (eager) for comparison
timeout 210 python3 -m models.train --stage pretrain --preset base --device cuda --out /tmp/A --quiet > "$OUT/train_A.log" 2>&1
echo "A exit $? at $(el)s" >> "$OUT/train_A.log"
if [ "$(el)" -lt 200 ]; then
  timeout $(( 260 - $(el) )) python3 -m models.train --stage pretrain --preset base --device cuda --out /tmp/B --quiet \
    --dropout 0.1 --no-compile > "$OUT/train_B.log" 2>&1
  echo "B exit $? at $(el)s" >> "$OUT/train_B.log"
fi
for r in A B; do [ -f /tmp/$r/train_log.jsonl ] && { echo "== $r train_log"; cat /tmp/$r/train_log.jsonl; } >> "$OUT/train_$r.log"; done
BEST=$(python3 -c "
import json, os
c = [(json.load(open(f'/tmp/{r}/model_card.json'))['val_loss_best'], r) for r in 'AB' if os.path.exists(f'/tmp/{r}/model_card.json')]
print(min(c)[1] if c else '')")
echo "best run: ${BEST:-none} at $(el)s" | tee -a "$OUT/env.txt"
[ -n "$BEST" ] && tar -C /tmp/$BEST --exclude=./resume -cf - . | split -b 15000000 - "$OUT/ckpt.tar."
python3 bench/bench_train_gpu.py --deadline $(( ${BENCH_END:-575} - $(el) )) --json "$OUT/bench.jsonl" > "$OUT/bench.log" 2>&1
echo "end at $(el)s" >> "$OUT/bench.log"
cat "$OUT/env.txt"; grep -hE 'params|setup|done|early stop|error|Error|exit' "$OUT"/train_*.log; tail -n 14 "$OUT/bench.log"
