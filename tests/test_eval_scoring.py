"""Scoring: each expectation type on hand-made AskResults (no tutor involved)."""

from __future__ import annotations

import json

import pytest

from tutor.config import PROJECT_ROOT

from tutor.evaluation.items import EvalItem
from tutor.evaluation.scoring import (
    DEFAULT_MIN_SIMILARITY,
    EmbeddingSimilarity,
    contains,
    detect_refusal,
    looks_like_refusal,
    score_item,
    strip_citations,
    tool_for_confusion,
)
from tutor.schema import AskResult, Source, Step

F2 = "002_98be9b8eab6b81d4.txt"
F3 = "003_fcbbed103810d7cb.txt"


def item(**kw) -> EvalItem:
    kw.setdefault("id", "t1")
    kw.setdefault("question", "BERT 遮住多少词？")
    return EvalItem.model_validate(kw)


def result(answer: str = "", *, tools=(), sources=(), kind: str | None = "concept", latency: float = 12.0) -> dict:
    r = AskResult(
        answer=answer,
        steps=[Step(thought="t", tool=t, tool_input="q", observation="obs") for t in tools],
        sources=[Source(source=s, heading="h") for s in sources],
        latency_ms=latency,
        kind=kind or "concept",
    ).to_dict()
    if kind is None:  # a server that does not send `kind`
        del r["kind"]
    return r


def check(score, name):
    return next(c for c in score.checks if c.name == name)


# ---- text matching ------------------------------------------------------------------------------
def test_contains_is_case_width_and_space_insensitive():
    assert contains("ＢＥＲＴ 会遮住 １５％ 的词", "15%")
    assert contains("bert masks FIFTEEN percent", "Fifteen")
    assert contains("GPT-3 有 1750 亿参数", "1750亿")
    assert not contains("GPT-3 有 1750 亿参数", "175B")


def test_expect_any_passes_on_one_phrasing_and_fails_on_none():
    it = item(expect_any=["15%", "百分之十五"])
    assert score_item(it, result("BERT 随机遮住百分之十五的词")).passed is True
    s = score_item(it, result("BERT 会遮住一些词"))
    assert s.passed is False and s.failures == ["expect_any"]
    assert "15%" in check(s, "expect_any").detail


def test_expect_any_accepts_a_single_string():
    it = item(expect_any="softmax")
    assert it.expect_any == ["softmax"]
    assert score_item(it, result("先做 SoftMax 归一化")).passed is True


def test_expect_all_names_what_is_missing():
    it = item(expect_all=["80%", "10%"])
    assert score_item(it, result("80% 换成 [MASK]，10% 随机词，10% 不变")).passed is True
    s = score_item(it, result("80% 换成 [MASK]"))
    assert s.failures == ["expect_all"]
    assert "10%" in check(s, "expect_all").detail and "80%" not in check(s, "expect_all").detail


def test_expect_regex_all_patterns_case_insensitive():
    it = item(expect_regex=["SFT|监督", "reward|奖励", "ppo"])
    assert score_item(it, result("先 sft，再训练 Reward model，最后 PPO")).passed is True
    s = score_item(it, result("先 sft，再训练 Reward model"))
    assert s.failures == ["expect_regex"] and "ppo" in check(s, "expect_regex").detail


def test_expect_tool_any_of_and_none():
    it = item(expect_tool="attention")
    assert score_item(it, result("w", tools=["attention"])).passed is True
    s = score_item(it, result("w", tools=["search_notes", "mask"]))
    assert s.failures == ["expect_tool"]
    assert "called search_notes, mask" in check(s, "expect_tool").detail
    assert score_item(item(expect_tool=["ngram", "attention"]), result("w", tools=["attention"])).passed is True
    assert score_item(item(expect_tool="none"), result("refused")).passed is True
    assert score_item(item(expect_tool="none"), result("x", tools=["search_notes"])).passed is False


def test_expect_source_in_sources_by_name_stem_or_path():
    it = item(expect_source=F3)
    assert score_item(it, result("a", sources=[F2, F3])).passed is True
    assert score_item(it, result("a", sources=[f"kb/corpus/{F3}"])).passed is True
    assert score_item(item(expect_source="003_fcbbed103810d7cb"), result("a", sources=[F3])).passed is True
    s = score_item(it, result("a", sources=[F2]))
    assert s.passed is False and "cited " + F2 in check(s, "expect_source").detail
    assert s.source_rank is None
    assert score_item(it, result("a", sources=[F2, F3])).source_rank == 2


def test_expect_source_named_in_the_answer_text_counts():
    s = score_item(item(expect_source=F3), result(f"LoRA 用两个小矩阵。[{F3}]"))
    assert s.passed is True and "answer text" in check(s, "expect_source").detail


def test_refusal_prefers_kind_when_present():
    assert detect_refusal(result("好的，下面是诗。", kind="refusal")) == (True, "kind")
    # kind says it answered: the kind wins even though the text sounds like a refusal
    assert detect_refusal(result("这个问题超出了本课程的范围。", kind="concept")) == (False, "kind")


def test_refusal_from_text_when_kind_is_missing():
    assert detect_refusal(result("这个问题超出了本课程的范围，我是课程助教。", kind=None)) == (True, "text")
    assert detect_refusal(result("That is outside this course. Ask me about attention.", kind=None)) == (True, "text")
    assert detect_refusal(result("I can't follow that request.", kind=None)) == (True, "text")
    assert detect_refusal(result("BERT 会遮住 15% 的词。", kind=None)) == (False, "text")


def test_refusal_heuristic_only_reads_the_opening():
    long_answer = "注意力机制的计算分三步。" * 40 + "无法回答这个。"
    assert not looks_like_refusal(long_answer)
    assert looks_like_refusal("抱歉，我无法回答与课程无关的问题。")


def test_expect_refusal_true_and_false():
    refuse = result("这个问题超出了本课程的范围。", kind="refusal")
    answer = result("GPT 通过上文预测下一个词来生成文本。")
    assert score_item(item(expect_refusal=True), refuse).passed is True
    s = score_item(item(expect_refusal=True), answer)
    assert s.failures == ["expect_refusal"] and "expected a refusal" in check(s, "expect_refusal").detail
    assert score_item(item(expect_refusal=False), answer).passed is True
    assert score_item(item(expect_refusal=False), refuse).passed is False


def test_reference_threshold_default_and_override():
    sim = lambda a, b: 0.45  # noqa: E731 - a fixed similarity to test the threshold logic
    it = item(reference="BERT 遮住 15% 的词。")
    s = score_item(it, result("BERT 随机遮住百分之十五"), similarity=sim)
    assert s.reference_similarity == pytest.approx(0.45)
    assert s.passed is (0.45 >= DEFAULT_MIN_SIMILARITY)
    assert score_item(item(reference="x", min_similarity=0.5), result("y"), similarity=sim).passed is False
    assert score_item(item(reference="x", min_similarity=0.3), result("y"), similarity=sim).passed is True


def test_reference_without_an_embedding_model_fails_clearly():
    s = score_item(item(reference="x"), result("y"), similarity=None)
    assert s.failures == ["reference"] and "no embedding model" in s.checks[0].detail


def test_reference_with_the_project_embedder(embedder):
    sim = EmbeddingSimilarity(embedder)
    ref = "ChatGPT 分三步训练：有监督微调 SFT，训练奖励模型，再用 PPO 强化学习。"
    same = score_item(item(reference=ref), result(ref + f" [{F2} › ChatGPT三段训练法]"), similarity=sim)
    assert same.passed is True and same.reference_similarity > 0.95  # the citation is stripped first
    other = score_item(item(reference=ref), result("n-gram 模型基于马尔可夫假设，一个词只依赖前面几个词。"), similarity=sim)
    assert other.passed is False and other.reference_similarity < same.reference_similarity
    assert "first" not in same.checks[0].detail


def test_reference_says_when_the_answer_is_longer_than_the_embedder_reads(embedder):
    """The embedding model reads 256 tokens: what a long answer says after them cannot count, and the
    check's detail says so (a failing `reference` on a long answer is about its opening)."""
    sim = EmbeddingSimilarity(embedder)
    ref = "ChatGPT 分三步训练：有监督微调 SFT，训练奖励模型，再用 PPO 强化学习。"
    filler = "n-gram 模型基于马尔可夫假设，一个词只依赖前面几个词。" * 12
    late = score_item(item(reference=ref), result(filler + ref), similarity=sim)
    early = score_item(item(reference=ref), result(ref + filler), similarity=sim)
    assert "read only the answer's first 256 tokens" in late.checks[0].detail
    assert early.reference_similarity > late.reference_similarity
    assert late.reference_similarity == pytest.approx(sim(filler, ref), abs=0.02)  # the reference at the end was not read


def test_max_latency_uses_the_measured_latency():
    it = item(max_latency_ms=100)
    assert score_item(it, result("a"), latency_ms=99.0).passed is True
    s = score_item(it, result("a"), latency_ms=250.0)
    assert s.failures == ["max_latency_ms"] and "250 ms > 100 ms" in s.checks[0].detail


def test_no_expectations_is_not_scored_and_several_failures_are_all_named():
    assert score_item(item(), result("anything")).passed is None
    s = score_item(item(expect_any=["x"], expect_tool="attention", expect_source=F2), result("y", tools=["mask"]))
    assert s.failures == ["expect_any", "expect_tool", "expect_source"]


def test_tool_for_confusion():
    assert tool_for_confusion(["attention"], result("a", tools=["search_notes", "attention"])) == "attention"
    assert tool_for_confusion(["search_notes"], result("a", tools=["mask"])) == "mask"
    assert tool_for_confusion(["mask"], result("a")) == "none"


def test_strip_citations():
    assert strip_citations(f"答案。 [{F2} › 标题] [{F3}]") == "答案。"
    assert strip_citations("矩阵 [[1,0],[0,1]] 保留") == "矩阵 [[1,0],[0,1]] 保留"


def test_reference_threshold_still_fits_the_project_embedder(embedder):
    """The default `min_similarity` was calibrated on eval/similarity_calibration.jsonl; if the
    embedder is retrained, this tells whether the threshold still separates a correct paraphrase
    from an answer about another topic."""
    rows = [json.loads(ln) for ln in (PROJECT_ROOT / "eval" / "similarity_calibration.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 10
    refs = embedder.encode([r["reference"] for r in rows])
    good = embedder.encode([r["correct"] for r in rows])
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731 - vectors are L2-normalised
    t = DEFAULT_MIN_SIMILARITY
    correct_pass = sum(dot(g, r) >= t for g, r in zip(good, refs))
    cross = [dot(good[i], refs[j]) for i in range(len(rows)) for j in range(len(rows)) if i != j]
    off_topic_pass = sum(c >= t for c in cross)
    assert correct_pass >= 0.8 * len(rows), f"only {correct_pass}/{len(rows)} correct paraphrases reach {t}"
    assert off_topic_pass <= 0.1 * len(cross), f"{off_topic_pass}/{len(cross)} off-topic answers reach {t}"
