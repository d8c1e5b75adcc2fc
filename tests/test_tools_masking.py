"""Masking demo: causal/padding/combined masks, seeded BERT corruption, the rate statistics, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tutor.tools.errors import DemoInputError
from tutor.tools.masking import (
    MASK_TOKEN,
    MAX_MASK_SIZE,
    MAX_MLM_TOKENS,
    causal_mask,
    combined_mask,
    mlm_corrupt,
    mlm_statistics,
    padding_mask,
)


def test_causal_mask_01_and_additive():
    r = causal_mask(4)
    assert r.matrix.tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    assert r.additive[0].tolist() == [0.0, -np.inf, -np.inf, -np.inf] and (r.additive[3] == 0).all()
    d = r.to_dict()
    assert d["matrix"][1] == [1, 1, 0, 0] and d["additive"][0] == [0.0, "-inf", "-inf", "-inf"]
    json.dumps(d, allow_nan=False)
    t = r.to_table()
    assert "因果" in t and "causal" in t and "-inf" in t
    assert causal_mask(1).matrix.tolist() == [[1]]


def test_padding_and_combined_masks():
    p = padding_mask([3, 5, 2])
    assert p.matrix.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    assert p.attention.shape == (3, 5, 5) and (p.attention[0] == p.matrix[0]).all()
    assert p.additive[2, 0].tolist() == [0, 0, -np.inf, -np.inf, -np.inf]
    c = combined_mask([3, 5, 2])
    tril = np.tril(np.ones((5, 5), dtype=int))
    for b, length in enumerate([3, 5, 2]):
        expected = tril * (np.arange(5) < length)[None, :]
        assert (c.attention[b] == expected).all()
    assert c.to_dict()["matrix"][2][1] == [1, 1, 0, 0, 0]
    assert padding_mask([2, 1], max_len=4).matrix.tolist() == [[1, 1, 0, 0], [1, 0, 0, 0]]
    assert "seq2" in c.to_table() and "填充" in p.summary()


SENT = "注意力机制是 Transformer 的核心，它让每个词都能看到句子里的其他词。"


def test_mlm_is_seeded_and_reproducible():
    a = mlm_corrupt(SENT, seed=7)
    b = mlm_corrupt(SENT, seed=7)
    assert a.to_dict() == b.to_dict()
    others = {tuple(mlm_corrupt(SENT, seed=s).selected) for s in range(8)}
    assert len(others) > 1  # the seed matters


def test_mlm_report_is_consistent():
    r = mlm_corrupt(SENT, seed=3)
    n = len(r.tokens)
    assert r.tokenization == "char" and "Transformer" in r.tokens  # Chinese by character, as bert-base-chinese
    assert len(r.selected) == max(1, round(0.15 * n)) and r.selected == sorted(set(r.selected))
    assert len(r.output_tokens) == n == len(r.labels)
    for i in range(n):
        if i in r.selected:
            assert r.labels[i] == r.tokens[i]
        else:
            assert r.labels[i] is None and r.output_tokens[i] == r.tokens[i]
    for pos, act in zip(r.selected, r.actions):
        if act == "mask":
            assert r.output_tokens[pos] == MASK_TOKEN
        elif act == "keep":
            assert r.output_tokens[pos] == r.tokens[pos]
        else:
            assert act == "random" and r.output_tokens[pos] != MASK_TOKEN
    d = r.to_dict()
    assert set(d) >= {"tokens", "selected", "output_tokens", "labels"}
    assert [x["position"] for x in d["replacements"]] == r.selected
    json.dumps(d, allow_nan=False)


def test_mlm_all_three_actions_appear_and_random_comes_from_the_vocabulary():
    vocab = ["alpha", "beta", "gamma"]
    r = mlm_corrupt(" ".join(f"w{i}" for i in range(200)), rate=1.0, seed=0, vocab=vocab)
    assert r.selected == list(range(200))
    acts = r.actions
    assert {"mask", "random", "keep"} == set(acts)
    for pos, act in zip(r.selected, acts):
        if act == "random":
            assert r.output_tokens[pos] in vocab
    assert 0.7 < acts.count("mask") / 200 < 0.9


def test_mlm_whitespace_text_and_rate():
    r = mlm_corrupt("the cat sat on the mat and looked at the dog", rate=0.5, seed=1)
    assert r.tokenization == "whitespace" and len(r.selected) == round(0.5 * 11)
    b = mlm_corrupt("the cat sat on the mat and looked at the dog", rate=0.5, seed=1, selection="bernoulli")
    assert b.selection == "bernoulli"
    j = mlm_corrupt("注意力机制是核心", tokenization="jieba", seed=0)
    assert j.tokenization == "jieba" and "注意力" in j.tokens


def _long_text(tokens: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(500)]
    return " ".join(rng.choice(words, size=tokens))


@pytest.mark.parametrize("selection", ["bernoulli", "exact"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_realised_rates_over_100k_tokens(selection, seed):
    s = mlm_statistics(_long_text(120_000, seed), seed=seed, selection=selection)
    assert s.tokens == 120_000
    r = s.rates
    assert abs(r["selected"] - 0.15) <= 0.01
    assert abs(r["mask"] - 0.80) <= 0.02
    assert abs(r["random"] - 0.10) <= 0.02
    assert abs(r["keep"] - 0.10) <= 0.02
    assert s.masked + s.randomized + s.kept == s.selected
    d = s.to_dict()
    assert d["counts"]["selected"] == s.selected and abs(d["deviation_points"]["selected"]) <= 1


def test_statistics_detect_a_wrong_rate():
    # the test above can fail: a different configured rate is far from 15%
    s = mlm_statistics(_long_text(100_000), rate=0.2, selection="bernoulli")
    assert abs(s.rates["selected"] - 0.15) > 0.04
    assert abs(s.rates["selected"] - 0.20) <= 0.01


def test_statistics_on_the_course_notes_and_table():
    s = mlm_statistics(seed=0)
    assert s.tokens > 50_000 and "课程笔记" in s.source
    t = s.to_table()
    assert "[MASK]" in t and "实际 realised" in t and "期望 expected" in t
    assert "15" in s.summary()


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: causal_mask(0), "between 1 and"),
        (lambda: causal_mask(MAX_MASK_SIZE + 1), "between 1 and"),
        (lambda: causal_mask("big"), "positive integer"),
        (lambda: padding_mask(None), "lengths are missing"),
        (lambda: padding_mask([3, -1]), "negative"),
        (lambda: padding_mask([0, 0]), "all lengths are 0"),
        (lambda: padding_mask([3, "x"]), "non-integer"),
        (lambda: padding_mask([3, 2.5]), "non-integer"),
        (lambda: padding_mask([1] * 17), "at most"),
        (lambda: padding_mask([70]), "demo limit"),
        (lambda: padding_mask([5], max_len=3), "longer than the padded length"),
        (lambda: mlm_corrupt(""), "empty"),
        (lambda: mlm_corrupt(SENT, rate=0), "0 < rate"),
        (lambda: mlm_corrupt(SENT, rate=1.5), "0 < rate"),
        (lambda: mlm_corrupt(SENT, rate=float("nan")), "0 < rate"),
        (lambda: mlm_corrupt(SENT, rate="lots"), "between 0 and 1"),
        (lambda: mlm_corrupt(SENT, probs=(0.8, 0.1, 0.2)), "sum"),
        (lambda: mlm_corrupt(SENT, selection="zipf"), "unknown selection"),
        (lambda: mlm_corrupt(SENT, seed=-3), "seed"),
        (lambda: mlm_corrupt(" ".join(["w"] * (MAX_MLM_TOKENS + 1))), "statistics mode"),
        (lambda: mlm_corrupt(SENT, tokenization="bpe"), "unknown tokenization"),
        (lambda: mlm_statistics("   "), "needs some text"),
        (lambda: mlm_corrupt("今天 天气 很 好", positions=[8]), "there is no token number 9"),
        (lambda: mlm_corrupt("今天 天气 很 好", words=["下雨"]), "is not a token of the sentence"),
        (lambda: causal_mask(text="  "), "the sentence is empty"),
    ],
)
def test_bad_input(call, needle):
    with pytest.raises(DemoInputError) as ei:
        call()
    assert needle in str(ei.value) and " / " in str(ei.value)


def test_mlm_hides_the_tokens_the_student_names():
    r = mlm_corrupt("今天 天气 很 好", positions=[1, 3])
    assert r.output_tokens == ["今天", MASK_TOKEN, "很", MASK_TOKEN]
    assert r.labels == [None, "天气", None, "好"] and r.selection == "chosen"
    assert mlm_corrupt("the cat sat on the mat", words=["the"]).selected == [0, 4]  # every occurrence


def test_causal_mask_over_a_sentence_is_labelled_with_its_tokens():
    r = causal_mask(text="注意力 就是 你 需要 的")
    assert r.size == 5 and r.tokens == ["注意力", "就是", "你", "需要", "的"]
    assert (r.matrix == np.tril(np.ones((5, 5), dtype=int))).all()
    rows = r.summary().splitlines()
    assert rows[2].split() == ["注意力", "1", "0", "0", "0", "0"] and rows[6].split() == ["的", "1", "1", "1", "1", "1"]
