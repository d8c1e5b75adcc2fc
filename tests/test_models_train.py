"""Training CLI on the tiny preset (CPU): checkpoint contents, exact resume, SFT, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from models.checkpoint import load_card, load_checkpoint
from models.data import (CORPUS_DIR, build_sft_data, clean_text, load_documents, notes_to_conversations, render_conversation,
                         shuffle_sentences, split_train_val)
from models.generate import Generator
from models.testing import notes_tokenizer
from models.train import main

FAST = ["--preset", "tiny", "--device", "cpu", "--quiet", "--samples", "1", "--eval-interval", "3",
        "--log-interval", "1"]


@pytest.fixture(scope="module")
def tok_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    notes_tokenizer(1024).save(p)
    return p


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> Path:
    """Two of the smaller note files: enough text for the tiny preset, quick to tokenise."""
    d = tmp_path_factory.mktemp("notes")
    for name in ("001_dc65fa8734990513.txt", "004_8f0b023b55e47a69.txt"):
        shutil.copy(CORPUS_DIR / name, d / name)
    return d


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tok_file, notes) -> Path:
    out = tmp_path_factory.mktemp("run") / "tiny"
    assert main(FAST + ["--max-steps", "6", "--out", str(out), "--tokenizer", str(tok_file), "--data", str(notes)]) == 0
    return out


def test_pretrain_writes_a_complete_checkpoint(trained):
    for name in ("config.json", "tokenizer.json", "model.safetensors", "model_card.json", "MODEL_CARD.md",
                 "train_log.jsonl", "loss.png", "resume/state.json", "resume/optimizer.pt"):
        assert (trained / name).is_file(), name
    card = load_card(trained)
    for key in ("parameters", "data_hash", "steps", "tokens_seen", "train_loss_at_best", "val_loss_best", "device",
                "wall_time_s", "date", "memorisation", "samples"):
        assert key in card, key
    assert card["steps"] == 6 and card["tokens_seen"] == 6 * 8 * 128
    assert (trained / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    log = [json.loads(l) for l in (trained / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "val_loss" in r] == [3, 6]
    model, tok = load_checkpoint(trained)
    assert Generator(model, tok).generate("注意力", max_new_tokens=5).token_ids


def test_resume_is_exact(tmp_path, tok_file, notes):
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    common = FAST + ["--max-steps", "6", "--tokenizer", str(tok_file), "--ckpt-interval", "100", "--samples", "0",
                     "--data", str(notes)]
    assert main(common + ["--out", str(straight)]) == 0
    assert main(common + ["--out", str(broken), "--stop-after", "3"]) == 0  # "interrupted" after step 3
    assert json.loads((broken / "resume" / "state.json").read_text())["state"]["step"] == 3
    assert main(common + ["--out", str(broken), "--resume"]) == 0
    a = load_file(str(straight / "resume" / "model.safetensors"))
    b = load_file(str(broken / "resume" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    la = [l for l in (straight / "train_log.jsonl").read_text().splitlines()]
    lb = [l for l in (broken / "train_log.jsonl").read_text().splitlines()]
    strip = lambda lines: [{k: v for k, v in json.loads(l).items() if k not in ("tok_per_s", "train_time")} for l in lines]
    assert strip(la) == strip(lb)


def test_sft_trains_only_on_assistant_tokens(tmp_path, trained):
    tok = notes_tokenizer(1024)
    convs = [[{"role": "system", "content": "你是课程助教。"}, {"role": "user", "content": "什么是注意力？<|eos|>"},
              {"role": "assistant", "content": "<|thought|>查笔记<|answer|>注意力让模型关注重要的词。"}]]
    ids, mask = render_conversation(tok, convs[0])
    assert tok.decode(ids).startswith("<|bos|><|system|>你是课程助教。<|user|>什么是注意力？<|eos|>")
    assert tok.decode([i for i, m in zip(ids, mask) if m]) == "<|thought|>查笔记<|answer|>注意力让模型关注重要的词。<|eos|>"
    assert ids.count(tok.eos_id) == 1  # the user's literal "<|eos|>" stayed plain text
    data = build_sft_data(tok, convs * 4, 64, 0.25, 0)
    x, y = data.get_batch(2, torch.Generator().manual_seed(0), "cpu")
    learned = y[y != -100]
    assert len(learned) == 2 * sum(mask[1:]) and learned[-1] == tok.eos_id

    jsonl = tmp_path / "chats.jsonl"
    jsonl.write_text("\n".join(json.dumps({"messages": c}, ensure_ascii=False)
                               for t in [load_documents()[0][1]] for c in notes_to_conversations(t)) + "\n")
    out = tmp_path / "sft"
    assert main(["--stage", "sft", "--init", str(trained), "--data", str(jsonl), "--out", str(out),
                 "--max-steps", "4", "--batch-size", "2"] + FAST[2:]) == 0
    model, _ = load_checkpoint(out)
    assert load_card(out)["stage"] == "sft"


def test_cleaning_split_and_augmentation():
    raw = "\n--- \ntitle:  x \ntags: []\n---\n\n# 标题\n<ul><li>- - - <ul><li>\n正文。第二句！第三句？\n"
    assert clean_text(raw) == "# 标题\n正文。第二句！第三句？"
    md = "见图：![Attention](./image/a%20b.png)\n- ![x](y.png)\n参考 [论文](https://arxiv.org/abs/1706.03762) 和 https://x.y/z 。"
    assert clean_text(md) == "见图：\n参考 论文 和  。"
    assert ".png" not in "".join(t for _, t in load_documents()) and "http" not in "".join(t for _, t in load_documents())
    docs = load_documents()
    train, val = split_train_val(docs, 0.1)
    assert len(val) == len(docs) and all(v not in t for t, v in zip(train, val))
    assert 0.05 < sum(map(len, val)) / sum(len(t) for _, t in docs) < 0.2
    import random

    text = "一。二。三。四。\n\n```\n代码。不动。\n```"
    shuffled = shuffle_sentences(text, random.Random(1), 1.0)
    assert sorted(shuffled.split("\n\n")[0].split("。")) == sorted(text.split("\n\n")[0].split("。"))
    assert shuffled.endswith("```\n代码。不动。\n```")


def test_bad_input_messages(tmp_path, tok_file, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(FAST + ["--data", str(empty), "--out", str(tmp_path / "o1")]) == 2
    assert f"no text found in {empty}" in capsys.readouterr().err
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("太短了。")
    assert main(FAST + ["--data", str(tiny), "--out", str(tmp_path / "o2"), "--tokenizer", str(tok_file)]) == 2
    assert "too small" in capsys.readouterr().err
    assert main(FAST + ["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o3")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(FAST + ["--resume", "--out", str(tmp_path / "o4")]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["--stage", "sft", "--preset", "tiny", "--device", "cpu", "--init", str(tmp_path / "nockpt"),
                 "--data", str(tiny)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nockpt") in err and "python -m models.train --stage pretrain" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "wizard", "content": "hi"}]}\n')
    assert main(["--stage", "sft", "--preset", "tiny", "--device", "cpu", "--data", str(bad),
                 "--init", str(tmp_path / "nockpt")]) == 2
    if not torch.cuda.is_available():
        assert main(FAST + ["--device", "cuda", "--out", str(tmp_path / "o5")]) == 2
        assert "no CUDA GPU" in capsys.readouterr().err


def test_interrupt_saves_a_resumable_state(tmp_path, tok_file, notes, monkeypatch, capsys):
    import models.train as train_mod

    real = train_mod.lr_at

    def interrupt_at_3(step, tc):
        if step == 3:
            raise KeyboardInterrupt
        return real(step, tc)

    monkeypatch.setattr(train_mod, "lr_at", interrupt_at_3)
    out = tmp_path / "int"
    args = FAST + ["--max-steps", "5", "--tokenizer", str(tok_file), "--data", str(notes), "--out", str(out)]
    assert main(args) == 130
    assert "--resume" in capsys.readouterr().err
    assert json.loads((out / "resume" / "state.json").read_text())["state"]["step"] == 3
    monkeypatch.setattr(train_mod, "lr_at", real)
    assert main(args + ["--resume"]) == 0
    assert load_card(out)["steps"] == 5


def test_out_of_memory_suggests_a_smaller_batch(tmp_path, tok_file, notes, monkeypatch, capsys):
    import models.train as train_mod

    def boom(*a, **k):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 GB")

    monkeypatch.setattr(train_mod.GPT, "forward", boom)
    args = FAST + ["--max-steps", "3", "--tokenizer", str(tok_file), "--data", str(notes), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "out of memory" in err and "--batch-size 4 --grad-accum 2" in err
