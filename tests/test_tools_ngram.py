"""n-gram demo: hand counts, add-k with the reported V, Kneser-Ney normalisation, unknown words,
tokenization, the course-notes model, agreement with nltk.lm, the fast batch path, bad input."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutor.tools.errors import DemoInputError
from tutor.tools.ngram import (
    BOS,
    EOS,
    MAX_CORPUS_BYTES,
    MAX_N,
    MAX_SENTENCE_TOKENS,
    NgramModel,
    clean_markdown,
    compare_sentences,
    course_sentences,
    default_model,
    get_model,
    iter_contexts,
    resolve_tokenization,
    score_sentence,
    split_sentences,
    tokenize,
)

# Three sentences; padded bigrams (by hand):
#   <s> a, a b, b a, a c, c </s>  |  <s> a, a b, b </s>  |  <s> b, b a, a </s>
# c(<s> a)=2 c(<s> b)=1 c(a b)=2 c(b a)=2 c(a c)=1 c(c </s>)=1 c(b </s>)=1 c(a </s>)=1
# c(<s>)=3  c(a)=4  c(b)=3  c(c)=1 ;  V = {a, b, c} + </s> + <unk> = 5
TINY = "a b a c\na b\nb a"


def tiny(n=2, **kw):
    return score_sentence(kw.pop("sentence", "a b a"), n=n, corpus_text=TINY, **kw)


def test_mle_equals_hand_counts_exactly():
    r = tiny(smoothing="mle")
    assert r.tokens == ["a", "b", "a"]
    assert r.probabilities == [2 / 3, 2 / 4, 2 / 3, 1 / 4]
    assert [(s.count, s.context_count) for s in r.steps] == [(2, 3), (2, 4), (2, 3), (1, 4)]
    assert [s.context for s in r.steps] == [[BOS], ["a"], ["b"], ["a"]]
    assert [s.token for s in r.steps] == ["a", "b", "a", EOS]
    assert r.logprob == pytest.approx(math.log(Fraction(1, 18)), abs=1e-12)
    assert r.perplexity == pytest.approx(18 ** (1 / 4), abs=1e-12)
    assert r.vocab_size == 5 and sorted(r.vocab["all"]) == sorted(["a", "b", "c", EOS, "<unk>"])
    assert BOS not in r.vocab["all"]


def test_unigram_and_trigram_hand_counts():
    u = tiny(n=1, sentence="a c")
    # unigram counts over predicted tokens: a 4, b 3, c 1, </s> 3 ; N = 11
    assert u.probabilities == [4 / 11, 1 / 11, 3 / 11]
    t = tiny(n=3, sentence="a b a")
    # trigrams: <s><s> a ×2, <s> a b ×2, a b a 1, a b </s> 1, b a c 1, b a </s> 1, <s><s> b 1, <s> b a 1, a c </s> 1
    assert t.probabilities == [2 / 3, 2 / 2, 1 / 2, 1 / 2]
    assert t.steps[2].context == ["a", "b"]


def test_addk_equals_formula_with_reported_v():
    for k in (1.0, 0.5, 2.0):
        r = tiny(smoothing="addk", k=k)
        V = r.vocab_size
        expected = [(2 + k) / (3 + k * V), (2 + k) / (4 + k * V), (2 + k) / (3 + k * V), (1 + k) / (4 + k * V)]
        assert r.probabilities == pytest.approx(expected, rel=1e-15)
    lap = tiny(smoothing="laplace")
    assert lap.k == 1.0 and lap.probabilities[0] == 3 / 8
    assert "Laplace" in lap.method()


def test_kneser_ney_hand_value():
    r = tiny(smoothing="kn")
    # continuation counts from the bigram types: a 2 ({<s>, b}), b 2, c 1, </s> 3 ; total 8, 4 types
    p1_a = (2 - 0.75) / 8 + 0.75 * 4 / 8 * (1 / 5)
    p_a_given_bos = (2 - 0.75) / 3 + 0.75 * 2 / 3 * p1_a
    assert r.probabilities[0] == pytest.approx(p_a_given_bos, abs=1e-15)
    r2 = tiny(smoothing="kn", discount=0.5)
    p1_a = (2 - 0.5) / 8 + 0.5 * 4 / 8 * (1 / 5)
    assert r2.probabilities[0] == pytest.approx((2 - 0.5) / 3 + 0.5 * 2 / 3 * p1_a, abs=1e-15)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("discount", [0.1, 0.75, 1.0])
def test_kneser_ney_every_context_sums_to_one(n, discount):
    model = get_model(n, corpus_text=TINY + "\nc c a b\nb b b")
    contexts = list(iter_contexts(model))
    assert contexts
    for u in contexts + [tuple([2] * (n - 1))]:  # every seen context, and an unseen one
        p = model.distribution(u, "kn", discount=discount)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert (p > 0).all()  # uniform floor: every word of V has mass
        for w in range(1, model.vocab_size + 1):  # the vector agrees with the scalar used for scoring
            assert p[w - 1] == pytest.approx(model.prob(w, u, "kn", discount=discount), abs=1e-15)


def test_addk_and_mle_distributions_sum_to_one():
    model = get_model(2, corpus_text=TINY)
    for u in iter_contexts(model):
        assert model.distribution(u, "mle").sum() == pytest.approx(1.0)
        assert model.distribution(u, "addk", k=0.3).sum() == pytest.approx(1.0)


def test_kneser_ney_sums_to_one_on_the_course_notes():
    model = default_model(3)
    rng = np.random.default_rng(0)
    contexts = list(iter_contexts(model))
    for i in rng.choice(len(contexts), size=200, replace=False):
        assert model.distribution(contexts[i], "kn").sum() == pytest.approx(1.0, abs=1e-9)


def test_unseen_ngram_under_mle_is_reported_not_a_crash():
    r = tiny(sentence="a c b")
    assert r.probabilities[2] == 0.0 and r.logprob == -math.inf and r.perplexity == math.inf
    d = r.to_dict()
    assert d["logprob"] == "-inf" and d["perplexity"] == "inf"
    json.dumps(d, allow_nan=False)
    assert any("smooth" in n for n in r.notes)
    assert "-inf" in r.to_table()


def test_unknown_words_map_to_unk_and_are_reported():
    r = tiny(sentence="a d", smoothing="addk", k=1)
    assert r.unknown_tokens == ["d"] and r.steps[1].lookup == "<unk>"
    assert r.probabilities[1] == (0 + 1) / (4 + 5)
    assert r.probabilities[2] == 1 / 5  # context <unk> never seen: (0+1)/(0+V)
    m = tiny(sentence="d a")
    assert m.probabilities[1] == 0.0 and "MLE" in m.steps[1].note
    kn = tiny(sentence="d a", smoothing="kn")
    assert 0 < kn.probabilities[0] < 1 and "<unk>" in kn.to_table()


def test_compare_sentences_on_the_course_notes():
    c = compare_sentences("注意力机制", "机制注意力", n=2, smoothing="kn")
    assert c.more_probable == "a" and c.logprob_difference > 0
    assert "注意力机制" in c.verdict()
    d = c.to_dict()
    assert d["compare"]["sentence"] == "机制注意力" and d["more_probable"] == "a"
    mle = compare_sentences("注意力机制", "机制注意力", n=2, smoothing="mle")
    assert mle.b.logprob == -math.inf and mle.more_probable == "a"


def test_default_model_is_the_course_notes_and_cached():
    a = default_model(2)
    assert default_model(2) is a and get_model(2) is a
    assert a.tokenization == "jieba" and a.num_sentences > 1000 and a.vocab_size > 1000
    r = score_sentence("注意力机制", n=2)
    assert r.corpus["source"].startswith("课程笔记") and r.tokens == ["注意力", "机制"]
    assert len(r.probabilities) == 3 and r.vocab_size == a.vocab_size
    # no markup leaked into the vocabulary
    for junk in ("<ul>", "<li>", "```", "##", "---"):
        assert junk not in a.stoi


def test_cleanup_and_sentence_split():
    raw = "\n--- \ntitle: x\n---\n## 标题\n<ul><li>- 第一句。第二句！\n```text\n答：好的\n```\nhttp://x.y/z see. Next one"
    text = clean_markdown(raw)
    assert "title" not in text and "<ul>" not in text and "```" not in text and "##" not in text and "http" not in text
    assert split_sentences(text) == ["标题", "第一句", "第二句", "答：好的", "see", "Next one"]


def test_tokenization_modes():
    assert resolve_tokenization("the cat sat", "auto") == "whitespace"
    assert resolve_tokenization("我爱自然语言处理", "auto") == "jieba"
    assert resolve_tokenization("我 爱 自然语言 处理", "auto") == "whitespace"
    assert tokenize("我爱NLP和GPT-4!", "char") == ["我", "爱", "NLP", "和", "GPT-4", "!"]
    assert tokenize("自然语言处理", "jieba") == ["自然语言", "处理"]
    r = score_sentence("注意力", n=1, corpus_text="注意力 很 重要\n注意力", tokenization="char")
    assert r.tokens == ["注", "意", "力"] and r.tokenization == "char"
    r = score_sentence("the cat", n=2, corpus_text="the cat sat. the dog sat.")
    assert r.tokenization == "whitespace" and r.probabilities[:2] == [1.0, 0.5]


def test_corpus_file_and_folder(tmp_path):
    f = tmp_path / "notes.md"
    f.write_text("---\ntitle: t\n---\n# x\n<ul><li>a b a c</li></ul>\na b\nb a\n", encoding="utf-8")
    r = score_sentence("a b a", n=2, corpus_path=f)
    # the heading "x" is a sentence of its own, so c(<s>) = 4 here
    assert r.probabilities == [2 / 4, 2 / 4, 2 / 3, 1 / 4]
    assert r.corpus["sentences"] == 4 and "notes.md" in r.corpus["source"]
    (tmp_path / "more.txt").write_text("a b", encoding="utf-8")
    r2 = score_sentence("a b a", n=2, corpus_path=tmp_path)
    assert r2.corpus["sentences"] == 5 and r2.steps[1].count == 3


def test_matches_nltk_mle_exactly():
    from nltk.lm import MLE

    text = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\nthe cat ate"
    for n in (1, 2, 3):
        model = get_model(n, corpus_text=text)
        sents = [s.split() for s in text.splitlines()]
        lm = MLE(n)
        lm.fit(
            [[tuple(([BOS] * (n - 1) + s + [EOS])[i - n + 1 : i + 1]) for i in range(n - 1, len(s) + n)] for s in sents],
            [w for s in sents for w in s] + [BOS, EOS],
        )
        for sent in ["the cat sat on the log", "a dog ate", "the mat"]:
            toks = [BOS] * (n - 1) + sent.split() + [EOS]
            ref = [lm.score(toks[i], tuple(toks[i - n + 1 : i])) for i in range(n - 1, len(toks))]
            assert model.score(sent, smoothing="mle").probabilities == ref


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcde"), min_size=1, max_size=8), min_size=1, max_size=12),
    st.lists(st.lists(st.sampled_from("abcdefx"), min_size=1, max_size=8), min_size=1, max_size=6),
    st.integers(1, 4),
)
def test_batch_path_equals_the_readable_path(train, test, n):
    model = NgramModel([tuple(s) for s in train], n, tokenization="whitespace", source="t")
    for smoothing in ("mle", "addk", "kn"):
        fast, offsets = model.batch_probabilities(test, smoothing, k=0.5)
        slow = [p for s in test for p in model.score_tokens(s, smoothing=smoothing, k=0.5).probabilities]
        assert fast.tolist() == slow
        assert offsets[-1] == len(slow)
        lp = model.batch_logprobs(test, smoothing=smoothing, k=0.5)
        for s, val in zip(test, lp):
            ref = model.score_tokens(s, smoothing=smoothing, k=0.5).logprob
            assert val == pytest.approx(ref, abs=1e-9) or (math.isinf(val) and math.isinf(ref))


def test_whole_corpus_perplexity_is_fast_and_finite_with_smoothing():
    import time

    model = default_model(2)
    sents = course_sentences(model.tokenization)
    model.batch_probabilities(sents[:5], "kn")
    t = time.perf_counter()
    ppl = model.corpus_perplexity(sents, smoothing="kn")
    assert time.perf_counter() - t < 1.0
    assert 1 < ppl < model.vocab_size
    assert model.corpus_perplexity(list(sents) + [("从未", "见过", "的", "组合")], smoothing="mle") == math.inf


# ----------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(n=0), "at least 1"),
        (dict(n=-2), "at least 1"),
        (dict(n=MAX_N + 1), "at most"),
        (dict(n="two"), "integer"),
        (dict(n=2.5), "integer"),
        (dict(smoothing="witten-bell"), "unknown smoothing"),
        (dict(smoothing="addk", k=0), "0 < k"),
        (dict(smoothing="addk", k=-1), "0 < k"),
        (dict(smoothing="kn", discount=1.5), "discount"),
        (dict(smoothing="kn", discount=0), "discount"),
        (dict(sentence="   "), "empty"),
        (dict(sentence=" ".join(["a"] * (MAX_SENTENCE_TOKENS + 1))), "interactive limit"),
        (dict(tokenization="morfessor"), "unknown tokenization"),
    ],
)
def test_bad_input(kwargs, needle):
    kw = dict(sentence="a b", n=2, corpus_text=TINY)
    kw.update(kwargs)
    with pytest.raises(DemoInputError) as ei:
        score_sentence(kw.pop("sentence"), **kw)
    assert needle in str(ei.value) and " / " in str(ei.value)


def test_bad_corpora(tmp_path):
    with pytest.raises(DemoInputError, match="training text is empty"):
        score_sentence("a", corpus_text="   ")
    with pytest.raises(DemoInputError, match="interactive limit"):
        score_sentence("a", corpus_text="a " * (MAX_CORPUS_BYTES // 2 + 1))
    with pytest.raises(DemoInputError, match="does not exist"):
        score_sentence("a", corpus_path=tmp_path / "missing.txt")
    with pytest.raises(DemoInputError, match="no .txt"):
        score_sentence("a", corpus_path=tmp_path)
    with pytest.raises(DemoInputError, match="only one"):
        score_sentence("a", corpus_text="a", corpus_path=tmp_path)
    with pytest.raises(DemoInputError, match="no tokens"):
        score_sentence("a", corpus_text="。！？")


def test_the_steps_show_the_counts_each_probability_comes_from():
    """"为什么“爱”的概率是 0？" is answered by c(我 爱)=0 (run_ngram with steps)."""
    from tutor.tools.langchain_tools import run_ngram

    text, art = run_ngram("显示计算步骤，用 bigram 给“我 爱 学习”打分")
    assert art["ok"] and art["args"]["steps"] is True and art["args"]["sentence"] == "我 爱 学习"
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("P(爱|我)"))
    step = art["result"]["steps"][1]
    c_uw, c_u = step["count"], step["context_count"]
    assert f"c(我 爱)={c_uw}, c(我)={c_u} → {c_uw}/{c_u} = 0" in line and c_uw == 0
    laplace = run_ngram("用加一平滑的 bigram 给“我 爱 学习”打分 step by step")[0]
    assert f"(0+1)/({c_u}+1×" in laplace
    assert "c(我 爱)" not in run_ngram("用 bigram 给“我 爱 学习”打分")[0]
