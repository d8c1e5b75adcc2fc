"""Multi-process training with torchrun (DDP, gloo backend on CPU, 2 processes, tiny preset)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.testing import notes_tokenizer

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path):
    tok = tmp_path / "tokenizer.json"
    notes_tokenizer(1024).save(tok)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "models.train", "--preset", "tiny", "--device", "cpu", "--max-steps", "4", "--eval-interval", "2",
           "--log-interval", "2", "--quiet", "--samples", "0", "--tokenizer", str(tok), "--out", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "weights on all 2 ranks agree" in r.stderr
    card = json.loads((out / "model_card.json").read_text())
    assert card["world_size"] == 2 and card["ddp_ranks_agree"] is True
    assert card["tokens_seen"] == 4 * 8 * 2 * 128  # both processes' batches count
    assert (out / "resume" / "rng_rank0.pt").is_file() and (out / "resume" / "rng_rank1.pt").is_file()
