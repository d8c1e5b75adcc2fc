"""models/ must run on the GPU machine, which has torch, numpy, safetensors and tokenizers but not the rest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_models_imports_only_the_training_stack():
    code = (
        "import sys\n"
        "import models, models.config, models.model, models.tokenizer, models.data, models.checkpoint, "
        "models.generate, models.export, models.train, models.plot, models.testing\n"
        "bad = [m for m in ('langchain', 'langchain_core', 'chromadb', 'gradio', 'transformers', "
        "'sentence_transformers', 'tutor', 'kb.store', 'pydantic_settings', 'typer') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_train_help_runs_without_cli_dependencies():
    r = subprocess.run([sys.executable, "-m", "models.train", "--help"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "--stage" in r.stdout and "--resume" in r.stdout
