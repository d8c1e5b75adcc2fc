"""Checkpoint folders: round trip, shards, and one clear error for every way a checkpoint can be broken."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from models.checkpoint import DEFAULT_CHECKPOINT, CheckpointError, load_card, load_checkpoint, save_checkpoint
from models.generate import Generator
from models.testing import notes_tokenizer, tiny_model


@pytest.fixture()
def ckpt(tmp_path):
    tok = notes_tokenizer(1024)
    model = tiny_model(tok, seed=4)
    save_checkpoint(tmp_path / "ck", model, tok, {"name": "t"}, dtype="fp32")
    return tmp_path / "ck", model, tok


def test_round_trip_and_shards(ckpt, tmp_path):
    folder, model, tok = ckpt
    loaded, tok2 = load_checkpoint(folder)
    x = torch.tensor([tok.encode("注意力机制")])
    torch.testing.assert_close(loaded(x)[0], model(x)[0])
    assert tok2.sha256 == tok.sha256
    # sharded bf16: several files plus an index, loads to the same (rounded) weights
    sharded = save_checkpoint(tmp_path / "sh", model, tok, dtype="bf16", max_shard_bytes=50_000)
    assert len(list(sharded.glob("model-*-of-*.safetensors"))) > 2 and (sharded / "model.safetensors.index.json").is_file()
    m2, _ = load_checkpoint(sharded)
    torch.testing.assert_close(m2(x)[0], model(x)[0], atol=0.1, rtol=0.05)
    assert (tmp_path / "sh" / "MODEL_CARD.md").exists() is False


def test_missing_checkpoint_names_path_and_command(tmp_path):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(e.value) and "python -m models.train --stage pretrain" in str(e.value)


@pytest.mark.parametrize("damage", ["no_weights", "corrupt_weights", "no_tokenizer", "corrupt_tokenizer",
                                    "other_tokenizer", "corrupt_config", "wrong_shape"])
def test_broken_checkpoints(ckpt, damage):
    folder = ckpt[0]
    if damage == "no_weights":
        (folder / "model.safetensors").unlink()
    elif damage == "corrupt_weights":
        (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not a header")
    elif damage == "no_tokenizer":
        (folder / "tokenizer.json").unlink()
    elif damage == "corrupt_tokenizer":
        (folder / "tokenizer.json").write_text("{ nope")
    elif damage == "other_tokenizer":
        notes_tokenizer(512).save(folder / "tokenizer.json")
    elif damage == "corrupt_config":
        (folder / "config.json").write_text('{"n_layer": "many"')
    elif damage == "wrong_shape":
        cfg = json.loads((folder / "config.json").read_text())
        cfg["n_embd"] = 128
        (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(folder)
    msg = str(e.value)
    assert str(folder) in msg and "python -m models.train" in msg
    if damage == "other_tokenizer":
        assert "does not match" in msg


def test_shipped_checkpoint_loads_and_generates_on_cpu():
    assert (DEFAULT_CHECKPOINT / "config.json").is_file(), f"the shipped checkpoint is missing at {DEFAULT_CHECKPOINT}"
    gen = Generator.from_checkpoint()
    card = load_card(DEFAULT_CHECKPOINT)
    for key in ("parameters", "tokens_seen", "val_loss_best", "train_loss_at_best", "device", "wall_time_s",
                "data_hash", "samples"):
        assert key in card
    assert sum(f.stat().st_size for f in DEFAULT_CHECKPOINT.iterdir() if f.is_file()) < 40e6
    r = gen.generate("注意力机制", max_new_tokens=20)
    assert len(r.token_ids) > 0
    assert r.text == card["samples"][0]["completion"][: len(r.text)] or card["samples"][0]["prompt"] != "注意力机制"
