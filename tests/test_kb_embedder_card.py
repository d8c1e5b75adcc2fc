"""The shipped embedding model describes itself truthfully: its id names its weights, and its card is the
one written from its own training record (not the base model's card, which sentence-transformers would
otherwise carry over on save)."""

import hashlib
import json
import shutil

from kb.train_embedder import model_card, write_model_card
from tutor.config import KB_PACKAGE_DIR

EMBEDDER = KB_PACKAGE_DIR / "embedder"


def test_the_shipped_model_id_names_its_weights():
    model_id = (EMBEDDER / "MODEL_ID").read_text(encoding="utf-8").strip()
    digest = hashlib.sha1((EMBEDDER / "model.safetensors").read_bytes()).hexdigest()[:10]
    layers = json.loads((EMBEDDER / "training.json").read_text(encoding="utf-8"))["layers"]
    assert model_id == f"course-notes-minilm-zh-l{layers}-{digest}"


def test_the_shipped_card_is_written_from_the_training_record():
    info = json.loads((EMBEDDER / "training.json").read_text(encoding="utf-8"))
    model_id = (EMBEDDER / "MODEL_ID").read_text(encoding="utf-8").strip()
    card = (EMBEDDER / "README.md").read_text(encoding="utf-8")
    assert card == model_card(info, model_id), "kb/embedder/README.md is stale: run python -m kb.train_embedder --stage card"
    assert card.startswith(f"# {model_id}\n")
    assert f"| pairs | {info['pairs']} |" in card and f"| layers | {info['layers']} |" in card
    assert "This is a [sentence-transformers](https://www.SBERT.net) model" not in card  # the base model's card


def test_card_stage_rewrites_the_card_of_a_copied_model(tmp_path):
    out = tmp_path / "embedder"
    out.mkdir()
    for name in ("training.json", "MODEL_ID"):
        shutil.copy(EMBEDDER / name, out / name)
    (out / "README.md").write_text("# all-MiniLM-L6-v2\n", encoding="utf-8")
    from kb.train_embedder import main

    assert main(["--stage", "card", "--out", str(out)]) == 0
    assert (out / "README.md").read_text(encoding="utf-8") == (EMBEDDER / "README.md").read_text(encoding="utf-8")
    assert write_model_card(out) == out / "README.md"
