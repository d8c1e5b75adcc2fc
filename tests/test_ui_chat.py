"""The chat turn and the demos tab without a browser: message lists built from the real tutor's
events (steps collapsible, heatmaps inline, citations, limits), the demo panels' functions, and the
tutor GPT's attention panel (unavailable without a checkpoint; working with a tiny one)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.test_ui_support import XSS_IMG, make_runtime
from ui import demos
from ui.chat import chat_turn
from ui.gpt_attention import GptAttention


@pytest.fixture(scope="module")
def rt():
    return make_runtime(rate_limit_per_minute=6000, rate_limit_burst=1000)


def last(gen):
    out = None
    for out in gen:
        pass
    return out


def test_concept_turn_has_step_answer_and_citations(rt):
    states = list(chat_turn(rt, "什么是 BERT？", [], "zh", "chat-test-1", "c1"))
    assert len(states) > 3  # streamed: pending → step → tokens → final
    assert states[0][-1]["metadata"]["status"] == "pending"
    msgs = states[-1]
    assert msgs[0] == {"role": "user", "content": "什么是 BERT？"}
    step = msgs[1]
    assert step["metadata"]["title"].startswith("🛠️ 步骤 1") and step["metadata"]["status"] == "done"
    assert "检索" in step["metadata"]["title"] and "**观察**" in step["content"]
    answer = msgs[-1]["content"]
    assert "引用来源" in answer and "《" in answer and " › " in answer
    assert not any(m.get("metadata", {}).get("status") == "pending" for m in msgs)
    follow = last(chat_turn(rt, "它的预训练任务有哪些？", msgs, "zh", "chat-test-1", "c1"))
    assert follow[: len(msgs)] == msgs and "BERT 它的预训练任务" in follow[len(msgs) + 1]["content"]


def test_demo_turn_shows_heatmap_and_table(rt):
    msgs = last(chat_turn(rt, "Q=[[1,0],[0,1]], K=[[1,0],[0,1]], V=[[1,2],[3,4]] 注意力", [], "en", "chat-test-2", "c2"))
    images = [m for m in msgs if isinstance(m["content"], dict)]
    assert images and Path(images[0]["content"]["path"]).is_file()
    assert any("Attention weights" in m["content"] for m in msgs if isinstance(m["content"], str))
    assert msgs[-1]["content"].startswith("```")  # the demo's aligned table stays aligned


def test_untrusted_text_is_escaped(rt):
    msgs = last(chat_turn(rt, f"用二元模型给 “{XSS_IMG}” 打分", [], "zh", "chat-test-3", "c3"))
    for m in msgs:
        if isinstance(m["content"], str):
            outside_code = m["content"].split("```")[0::2]
            assert all("<img" not in part for part in outside_code)
    assert "&lt;img" in msgs[0]["content"]


def test_limits_in_chat():
    rt = make_runtime(rate_limit_per_minute=1, rate_limit_burst=1)
    too_long = last(chat_turn(rt, "问" * 2001, [], "zh", "s", "c"))
    assert "2000" in too_long[-1]["content"] and too_long[-1]["content"].startswith("⚠️")
    assert last(chat_turn(rt, "写一首诗", [], "zh", "s", "c"))[-1]["content"]
    limited = last(chat_turn(rt, "写一首诗", [], "zh", "s", "c"))
    assert "秒后再试" in limited[-1]["content"]
    assert last(chat_turn(rt, "   ", [], "zh", "s", "c")) is None


def test_attention_demo_matrices_and_sentence():
    png, table, details = demos.attention_demo("matrix", demos.DEFAULT_Q, demos.DEFAULT_K, demos.DEFAULT_V, False, 1, "")
    assert Path(png).is_file() and "scaled dot-product" in details
    rows = table.iloc[:, 1:].to_numpy(dtype=float)
    assert rows.shape == (3, 3) and all(math.isclose(r.sum(), 1.0, abs_tol=1e-3) for r in rows)
    _, causal, _ = demos.attention_demo("matrix", demos.DEFAULT_Q, demos.DEFAULT_K, demos.DEFAULT_V, True, 1, "")
    assert causal.iloc[0, 2] == 0 and causal.iloc[0, 1] == 1.0
    png, table, details = demos.attention_demo("sentence", None, None, None, False, 2, "我爱自然语言处理")
    assert png and "我" in table.iloc[0, 0]
    png, table, msg = demos.attention_demo("matrix", [[1, "x"]], [[1, 0]], [[1, 0]], False, 1, "")
    assert png is None and "不是数字" in msg
    _, _, msg = demos.attention_demo("matrix", [[1, 0, 1]], [[1, 0]], [[1, 0]], False, 1, "")
    assert msg.startswith("⚠️")


def test_ngram_and_mask_demos():
    summary, table = demos.ngram_demo("注意力机制很重要", "机制注意力很重要", 2, "kn", None)
    assert set(table["句子 sentence"]) == {"注意力机制很重要", "机制注意力很重要"} and "Kneser-Ney" in summary
    assert (table["P"] > 0).all()
    _, mle = demos.ngram_demo("注意力机制很重要", "", 2, "mle", None)
    _, addk = demos.ngram_demo("注意力机制很重要", "", 2, "addk", 0.5)
    assert (mle["P"] == 0).any() and (addk["P"] > 0).all()
    a = demos.mask_demo("注意力机制是 Transformer 的核心", 3, 0.15)
    b = demos.mask_demo("注意力机制是 Transformer 的核心", 3, 0.15)
    assert a[1].equals(b[1])  # same seed, same masking
    assert (a[1]["处理 action"] != "").sum() >= 1
    assert demos.mask_demo("", 1, 0.15)[1] is None


def test_gpt_attention_reports_missing_checkpoint(tmp_path):
    gpt = GptAttention([tmp_path / "nope"])
    assert "尚未提供" in gpt.status() and "not available" in gpt.status()
    png, msg = demos.gpt_attention_demo(gpt, "注意力", 0, 0)
    assert png is None and "not available" in msg


def test_gpt_attention_with_a_tiny_checkpoint(tmp_path):
    from models.checkpoint import save_checkpoint
    from models.testing import notes_tokenizer, tiny_model

    tok = notes_tokenizer(512)
    save_checkpoint(tmp_path / "ckpt", tiny_model(tok, n_layer=2, n_head=4), tok, dtype="fp32")
    gpt = GptAttention([tmp_path / "ckpt"])
    assert gpt.shape() == (2, 4) and "2 layers × 4 heads" in gpt.status()
    m = gpt.compute("注意力机制很重要", 1, 3, png_dir=tmp_path)
    assert m.weights.shape == (len(m.tokens), len(m.tokens)) and Path(m.png_path).is_file()
    for i, row in enumerate(m.weights):
        assert math.isclose(float(row.sum()), 1.0, abs_tol=1e-4) and float(row[i + 1 :].sum()) < 1e-6  # causal
    png, msg = demos.gpt_attention_demo(gpt, "注意力", 5, 0)
    assert png is None and "0–1" in msg


def test_gpt_attention_with_the_shipped_checkpoint():
    from tutor.config import Settings

    gpt = GptAttention.from_settings(Settings())
    assert gpt.checkpoint() is not None, gpt.status()
    layers, heads = gpt.shape()
    png, msg = demos.gpt_attention_demo(gpt, "注意力机制让模型关注重要的词", layers - 1, heads - 1)
    assert png and Path(png).is_file() and f"{layers}×{heads}" in msg


def test_gpt_attention_shares_the_tutors_model():
    """The demos tab uses the GPT the tutor already loaded: one copy of the weights per process."""
    from types import SimpleNamespace

    from models.generate import Generator
    from tutor.config import MODELS_PACKAGE_DIR, Settings

    gen = Generator.from_checkpoint(MODELS_PACKAGE_DIR / "checkpoints" / "agent")
    tutor = SimpleNamespace(agent=SimpleNamespace(generator=gen))
    gpt = GptAttention.from_tutor(tutor, Settings())
    assert gpt._load()[0] is gen.model
    amap = gpt.compute("注意力机制", 0, 0)
    assert amap.weights.shape[0] == len(amap.tokens)
    assert abs(float(amap.weights[-1].sum()) - 1.0) < 1e-4
