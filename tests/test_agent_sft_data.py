"""The fine-tuning set generator: traces use the real tools, are in the GPT's chat format, answers
quote their observations, and the output is deterministic for a seed."""

from __future__ import annotations

import pytest

from models.checkpoint import load_tokenizer
from models.data import normalise_messages, render_conversation
from models.generate import Generator
from models.tokenizer import ACTION, ANSWER
from tutor.agent.sft_data import Builder, concept_answer
from tutor.config import MODELS_PACKAGE_DIR
from tutor.service import get_retriever

CKPT = MODELS_PACKAGE_DIR / "checkpoints" / "agent"


@pytest.fixture(scope="module")
def builder(ingested_settings):
    return Builder(get_retriever(ingested_settings), Generator.from_checkpoint(CKPT), seed=3)


def answer_of(conv):
    return conv["messages"][-1]["content"].split(ANSWER, 1)[1]


def test_concept_trace_quotes_its_observation(builder):
    conv = builder.concept("什么是位置编码？")
    msgs = normalise_messages(conv)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "observation", "assistant"]
    assert f"{ACTION}search_notes" in msgs[2]["content"]
    ans = answer_of(conv)
    obs = msgs[3]["content"]
    assert ans.startswith("根据课程笔记：")
    body = ans[len("根据课程笔记：") :]
    evidence = [line for line in obs.splitlines() if line and not line.startswith("[")]
    # the answer is the evidence of one or more blocks, quoted in order (citations are added by the guard)
    assert body and body.startswith(tuple(evidence))
    rest = body
    while rest:
        nxt = next(e for e in evidence if rest.startswith(e))
        rest = rest[len(nxt) :]
    ids, mask = render_conversation(load_tokenizer(CKPT), msgs)
    assert len(ids) == len(mask) and sum(mask) > 0


def test_demo_traces_carry_the_tools_numbers(builder):
    conv = builder.demo("attention", "帮我算一下注意力：Q=[[1,0],[0,1]]，K=[[1,0],[0,1]]，V=[[1,2],[3,4]]")
    assert "0.6698" in conv["messages"][3]["content"] and "0.6698" in answer_of(conv)
    assert builder.demo("attention", "Q=[[1,2]] K=[[1]] V=[[1]]") is None  # a failing demo is not used for training
    # the answer's lead is in the request's language, as the tutor decodes it
    assert answer_of(conv).startswith("计算结果如下：\n")
    en = builder.demo("mask", "Show the causal mask for 3 tokens")
    assert answer_of(en).startswith("Mask:\n") and "1  1  1" in answer_of(en)


def test_refusals_and_determinism(ingested_settings):
    a = Builder(get_retriever(ingested_settings), None, seed=7)
    b = Builder(get_retriever(ingested_settings), None, seed=7)
    assert [a.attention_question() for _ in range(5)] == [b.attention_question() for _ in range(5)]
    r = a.refusal("今天天气怎么样？", "offtopic")
    assert "课程" in answer_of(r) and len(r["messages"]) == 3
    assert answer_of(a.refusal("谢谢", "thanks")).startswith("不客气") and answer_of(a.refusal("Hello!", "greeting")).startswith("Hello!")


def test_concept_answer_without_evidence_is_empty():
    assert concept_answer("随便", "没有找到相关笔记 / nothing found in the notes") == ""


def test_demo_requests_cover_what_the_tools_do_and_all_run(ingested_settings):
    """The generated demo requests reach every kind of mask, n-gram and attention request the tools serve
    (padding lengths, a sentence's causal mask, named positions and words, a corpus to train on, attention
    over a sentence), every one runs on the real tool, and the intent reading sends each to its tool."""
    from tutor.intent import classify
    from tutor.tools.parsing import parse_mask_query

    b = Builder(get_retriever(ingested_settings), None, seed=11)
    masks = [b.mask_question() for _ in range(80)]
    kinds = [parse_mask_query(q) for q in masks]
    assert any("lengths" in k for k in kinds) and any("positions" in k for k in kinds) and any("words" in k for k in kinds)
    assert any(k.get("kind") == "causal" and "text" in k for k in kinds) and any(k.get("kind") == "mlm" for k in kinds)
    ngrams = [b.ngram_question() for _ in range(60)]
    assert any("语料" in q or "Train a" in q for q in ngrams)
    attention = [b.attention_question() for _ in range(40)]  # over given matrices and over a sentence
    assert any("Q=" in q for q in attention) and any("“" in q and "Q=" not in q for q in attention)
    for tool, questions in (("mask", masks), ("ngram", ngrams), ("attention", attention)):
        for q in questions:
            assert classify(q).kind == tool, q
            assert b.demo(tool, q) is not None, q
