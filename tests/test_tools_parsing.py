"""Loose student text -> validated arguments, JSON conventions, and the LangChain tools built on them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tutor.tools.errors import DemoInputError
from tutor.tools.parsing import (
    as_int_list,
    as_matrix,
    normalize_smoothing,
    normalize_text,
    parse_attention_query,
    parse_mask_query,
    parse_matrix_text,
    parse_ngram_query,
    quoted_segments,
    to_jsonable,
)


def test_normalize_full_width_punctuation():
    assert normalize_text("［［1，0］，［0，1］］；（a）：b") == "[[1,0],[0,1]];(a):b"
    assert normalize_text("【1、2】−3") == "[1,2]-3"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[[1,0],[0,1]]", [[1, 0], [0, 1]]),
        ("［［1，0］，［0，1］］", [[1, 0], [0, 1]]),
        ("[[1 0] [0 1]]", [[1, 0], [0, 1]]),
        ("[1 0; 0 1]", [[1, 0], [0, 1]]),
        ("1 0; 0 1", [[1, 0], [0, 1]]),
        ("[1, 2, 3]", [1, 2, 3]),
        ("[[1.5e-1, -2], [.5, +3.]]", [[0.15, -2], [0.5, 3]]),
        ("I3", np.eye(3).tolist()),
        ("I₂", np.eye(2).tolist()),
        ("eye(2)", np.eye(2).tolist()),
    ],
)
def test_parse_matrix_text(text, expected):
    assert parse_matrix_text(text) == expected


@pytest.mark.parametrize(
    "value, needle",
    [
        ("[[1,0],[0,1]", "unbalanced"),
        ("[[1,0]]]", "unbalanced"),
        ("[[1,a]]", "non-numeric"),
        ("[[1,2],[3]]", "ragged"),
        ("[[nan, 1]]", "NaN"),
        ("[[inf, 1]]", "infinity"),
        ("[[1e999]]", "infinity"),
        ("", "empty"),
        ("[]", "empty"),
        ("I99", "identity size"),
        ([[1, None]], "not a number"),
        ({"a": 1}, "list of rows"),
    ],
)
def test_matrix_errors(value, needle):
    with pytest.raises(DemoInputError) as ei:
        as_matrix(value, "Q")
    assert needle in str(ei.value)
    zh, en = str(ei.value).split(" / ", 1)
    assert any("\u4e00" <= c <= "\u9fff" for c in zh)  # Chinese first
    assert "Q" in en and not any("\u4e00" <= c <= "\u9fff" for c in en.replace("“", ""))  # then English


def test_as_matrix_limits_and_vectors():
    assert as_matrix([1, 2, 3]).shape == (1, 3)
    assert as_matrix(np.ones((2, 2))).dtype == np.float64
    with pytest.raises(DemoInputError, match="too large"):
        as_matrix(np.zeros((3, 3)).tolist(), max_rows=2)
    assert as_int_list("3、5、2", "lengths") == [3, 5, 2]
    assert as_int_list("[1, 1, 0]", "mask") == [1, 1, 0]


def test_to_jsonable_conventions():
    d = to_jsonable({"a": np.array([[0.0, -np.inf]]), "b": math.inf, "c": (np.int64(3), np.float64(0.5)), "d": float("nan")})
    assert d == {"a": [[0.0, "-inf"]], "b": "inf", "c": [3, 0.5], "d": "nan"}
    json.dumps(d, allow_nan=False)


def test_quoted_segments():
    assert quoted_segments("比较“注意力机制”和「机制注意力」") == ["注意力机制", "机制注意力"]
    assert quoted_segments('score "the cat" please') == ["the cat"]


# ----------------------------------------------------------------------------------------------
# attention queries


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Q=[[1,0],[0,1]]，K=[[1,0],[0,1]]，V=[[1,2],[3,4]]", {"q": "[[1,0],[0,1]]", "k": "[[1,0],[0,1]]", "v": "[[1,2],[3,4]]"}),
        ("Q=K=I₂, V=[[1,2],[3,4]]", {"q": "I2", "k": "I2", "v": "[[1,2],[3,4]]"}),
        (
            "请计算 Q 是 ［［1，0］，［0，1］］，K=Q，V=【【1，2】，【3，4】】，用因果掩码，2个头",
            {"q": "[[1,0],[0,1]]", "k": "[[1,0],[0,1]]", "v": "[[1,2],[3,4]]", "causal": True, "heads": 2},
        ),
        ("Q=[1 0; 0 1], K=[1 0; 0 1], V=[1 2; 3 4], padding=[1,0]", {"q": "[1 0; 0 1]", "k": "[1 0; 0 1]", "v": "[1 2; 3 4]", "padding_mask": "[1,0]"}),
        ("[[1,0],[0,1]] [[1,0],[0,1]] [[1,2],[3,4]]", {"q": "[[1,0],[0,1]]", "k": "[[1,0],[0,1]]", "v": "[[1,2],[3,4]]"}),
        ("q=[[1,0]] k=[[1,0]] v=[[5]] 不要因果", {"q": "[[1,0]]", "k": "[[1,0]]", "v": "[[5]]", "causal": False}),
        ("看看“我爱自然语言处理”里谁关注谁，两个头", {"text": "我爱自然语言处理", "heads": 2}),
        ("我爱自然语言处理", {"text": "我爱自然语言处理"}),
        ('{"Q": [[1,0],[0,1]], "V": [[1,2],[3,4]], "causal": "true", "heads": 2}', {"q": [[1, 0], [0, 1]], "v": [[1, 2], [3, 4]], "causal": True, "heads": 2}),
    ],
)
def test_parse_attention_query(query, expected):
    assert parse_attention_query(query) == expected


def test_parsed_matrices_give_the_hand_computed_answer():
    from tutor.tools.attention import attention

    args = parse_attention_query("Q=［［1，0］，［0，1］］，K=Q，V=[[1,2],[3,4]]")
    r = attention(args["q"], args["k"], args["v"])
    np.testing.assert_allclose(r.weights, [[0.6698, 0.3302], [0.3302, 0.6698]], atol=5e-5)


def test_malformed_json_query():
    with pytest.raises(DemoInputError, match="malformed JSON"):
        parse_attention_query('{"Q": [[1,0]')


# ----------------------------------------------------------------------------------------------
# n-gram and mask queries


@pytest.mark.parametrize(
    "query, expected",
    [
        ("用二元模型、KN平滑比较“注意力机制”和“机制注意力”", {"n": 2, "smoothing": "kn", "sentence": "注意力机制", "compare": "机制注意力"}),
        ('trigram laplace "the cat sat"', {"n": 3, "smoothing": "laplace", "sentence": "the cat sat"}),
        ("n=3, smoothing=addk, k=0.5, 句子：注意力机制", {"n": 3, "smoothing": "addk", "k": 0.5, "sentence": "注意力机制"}),
        ('{"n": 2, "smoothing": "kn", "sentences": ["注意力机制", "机制注意力"]}', {"n": 2, "smoothing": "kn", "sentence": "注意力机制", "compare": "机制注意力"}),
        ("注意力机制 vs 机制注意力", {"sentence": "注意力机制", "compare": "机制注意力"}),
        ("注意力机制", {"sentence": "注意力机制"}),
        (
            "按字的三元模型，拉普拉斯平滑，“注意力”，训练文本：“注意力很重要。注意力机制”",
            {"corpus_text": "注意力很重要。注意力机制", "n": 3, "smoothing": "laplace", "tokenization": "char", "sentence": "注意力"},
        ),
        # "语料是：" (two separators) and "不做平滑" read as the student meant them
        (
            "用 bigram（不做平滑）算 “狗 吃 鱼” 的概率和困惑度，语料是：“猫 吃 鱼。狗 吃 肉。”",
            {"corpus_text": "猫 吃 鱼。狗 吃 肉。", "n": 2, "smoothing": "mle", "sentence": "狗 吃 鱼"},
        ),
        ('score "a b" with a bigram, corpus is "a b. b a."', {"corpus_text": "a b. b a.", "n": 2, "sentence": "a b"}),
        ('Score "the cat" with a bigram model trained on "the cat sat. the dog sat."',
         {"corpus_text": "the cat sat. the dog sat.", "n": 2, "sentence": "the cat"}),
        # a negative k is read as written, so the demo says it is invalid (it ran with k = 1 silently)
        ("用 add-k 平滑 k=-1 给“我 爱 你”打分", {"smoothing": "addk", "k": -1.0, "sentence": "我 爱 你"}),
    ],
)
def test_parse_ngram_query(query, expected):
    assert parse_ngram_query(query) == expected


def test_normalize_smoothing():
    assert normalize_smoothing("Kneser-Ney") == ("kn", None)
    assert normalize_smoothing("Laplace") == ("addk", 1.0)
    assert normalize_smoothing("add-k") == ("addk", None)
    assert normalize_smoothing("MLE") == ("mle", None)
    with pytest.raises(DemoInputError, match="unknown smoothing 'good-turing'"):
        normalize_smoothing("good-turing")


@pytest.mark.parametrize(
    "query, expected",
    [
        ("长度为5的因果掩码", {"kind": "causal", "size": 5}),
        ("causal mask 6x6", {"kind": "causal", "size": 6}),
        ("padding lengths=[3,5,2]", {"kind": "padding", "lengths": "[3,5,2]"}),
        ("因果+填充 长度分别为3、5、2", {"kind": "combined", "lengths": "3,5,2"}),
        ("BERT 掩码 “注意力机制是核心” seed=3 比例20%", {"kind": "mlm", "seed": 3, "rate": 0.2, "text": "注意力机制是核心"}),
        ("MLM 统计", {"kind": "mlm", "stats": True}),
        ('{"kind":"mlm","text":"hello world","seed":2}', {"kind": "mlm", "text": "hello world", "seed": 2}),
        # lengths and sizes as students write them
        ("长度分别是 3 和 5 的两个句子，padding mask 长什么样？", {"kind": "padding", "lengths": "3,5"}),
        ("padding mask for lengths 3, 5 and 2", {"kind": "padding", "lengths": "3,5,2"}),
        ("Show me a look-ahead mask for a 5-token sequence", {"kind": "causal", "size": 5}),
        ("给我看一个 4×4 的因果掩码矩阵", {"kind": "causal", "size": 4}),
        # a causal mask over a sentence; the tokens a student asks to hide
        ("演示 causal mask，句子：“注意力 就是 你 需要 的”", {"kind": "causal", "text": "注意力 就是 你 需要 的"}),
        ("把“今天 天气 很 好”中的第 2 个词和第 4 个词遮住", {"text": "今天 天气 很 好", "positions": [1, 3]}),
        ("用 BERT 的方式把“the cat sat on the mat”中的 cat 遮住", {"kind": "mlm", "text": "the cat sat on the mat", "words": ["cat"]}),
        # a negative length is read as written, so the demo says it is invalid (it said lengths were missing)
        ("长度为 -3 和 5 的 padding mask", {"kind": "padding", "lengths": "-3,5"}),
        # the word quoted before its sentence
        ('Mask the word "cat" in "the cat sat on the mat"', {"text": "the cat sat on the mat", "words": ["cat"]}),
        # the size right before the mask's name (it said the size was missing), not a model's number
        ("生成一个 100000 的因果掩码", {"kind": "causal", "size": 100000}),
        ("给我一个6阶下三角掩码", {"kind": "causal", "size": 6}),
        ("give me a 6 causal mask", {"kind": "causal", "size": 6}),
        ("GPT-2 的因果掩码", {"kind": "causal"}),
        ("GPT 2 的因果掩码", {"kind": "causal"}),
        ("第 3 个词的因果掩码", {"kind": "causal"}),
    ],
)
def test_parse_mask_query(query, expected):
    assert parse_mask_query(query) == expected


# ----------------------------------------------------------------------------------------------
# the LangChain tools


def _call(tool, args):
    return tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})


def test_tool_objects():
    from langchain_core.tools import BaseTool

    from tutor.tools.langchain_tools import DEMO_TOOLS, attention_tool, mask_tool, ngram_tool

    assert [t.name for t in DEMO_TOOLS] == ["attention", "ngram", "mask"]
    for t in (attention_tool, ngram_tool, mask_tool):
        assert isinstance(t, BaseTool) and t.response_format == "content_and_artifact"
        assert "query" in t.args and t.args_schema.model_json_schema()["required"] == ["query"]
        assert len(t.description) > 50


def test_attention_tool_loose_text_and_artifact():
    from tutor.tools.langchain_tools import attention_tool

    text = attention_tool.invoke({"query": "Q=［［1，0］，［0，1］］，K=Q，V=[[1,2],[3,4]]"})
    assert isinstance(text, str) and "0.6698" in text and "注意力权重" in text and len(text) < 1500
    msg = _call(attention_tool, {"query": "Q=[[1,0],[0,1]]，K=Q，V=[[1,2],[3,4]]，因果"})
    art = msg.artifact
    assert art["ok"] and art["result"]["causal"] is True and art["result"]["masked_scores"][0][1] == "-inf"
    assert Path(art["png_path"]).read_bytes()[:4] == b"\x89PNG"
    multi = _call(attention_tool, {"query": "Q=[[1,0,0,1],[0,1,1,0]]", "heads": 2})
    assert np.asarray(multi.artifact["result"]["weights"]).shape == (2, 2, 2)
    sent = _call(attention_tool, {"query": "看看“我爱自然语言处理”里谁关注谁"})
    assert sent.artifact["result"]["tokens_q"][0] == "我"


@pytest.mark.parametrize(
    "query, needle",
    [
        ("Q=[[1,0],[0,1]]，K=[[1,0,0]]，V=[[1]]", "same width"),
        ("Q=[[1,0],[0,1]]，K=[[1,0],[0,1]]，V=[[1,2]]", "same number of rows"),
        ("Q=[[1,2],[3]]", "ragged"),
        ("Q=[[1,x]]", "non-numeric"),
        ("Q=[[nan,1]]", "NaN"),
        ("Q=[[1,0,1],[0,1,1]], 2个头", "must divide"),
        ("", "neither"),
        ('{"Q": [[1,0]', "malformed JSON"),
    ],
)
def test_attention_tool_bad_input_is_a_readable_observation(query, needle):
    from tutor.tools.langchain_tools import attention_tool

    msg = _call(attention_tool, {"query": query})
    assert needle in msg.content and "Traceback" not in msg.content
    assert msg.content.startswith("输入有误 / invalid input") and msg.artifact["ok"] is False


def test_tools_survive_schema_violations_and_internal_errors(monkeypatch):
    from tutor.tools import langchain_tools as lt

    msg = _call(lt.attention_tool, {"query": "Q=[[1]]", "heads": "many"})
    assert msg.content.startswith("参数格式有误 / invalid tool arguments: heads:") and "Traceback" not in msg.content
    missing = _call(lt.ngram_tool, {"n": 2})
    assert "query" in missing.content and "Field required" in missing.content
    assert "因果" in lt.mask_tool.invoke("长度为3的因果掩码")  # a bare string goes to `query`
    monkeypatch.setattr("tutor.tools.attention.attention", lambda *a, **k: 1 / 0)
    text, art = lt.run_attention("Q=[[1,0],[0,1]]")
    assert "内部出错" in text and "ZeroDivisionError" in art["error"]


def test_ngram_tool():
    from tutor.tools.langchain_tools import ngram_tool

    msg = _call(ngram_tool, {"query": "用二元模型、KN平滑比较“注意力机制”和“机制注意力”"})
    assert "注意力机制" in msg.content and "困惑度" in msg.content and "更可能" in msg.content
    res = msg.artifact["result"]
    assert res["n"] == 2 and res["smoothing"] == "kn" and res["compare"]["sentence"] == "机制注意力"
    custom = _call(ngram_tool, {"query": "“a b a”", "n": 2, "corpus_text": "a b a c\na b\nb a"})
    assert custom.artifact["result"]["probabilities"] == [2 / 3, 2 / 4, 2 / 3, 1 / 4]
    for query, needle in [("n=0 “注意力”", "at least 1"), ("平滑=witten “注意力”", "unknown smoothing"), ("bigram kn", "no sentence")]:
        bad = _call(ngram_tool, {"query": query})
        assert needle in bad.content and bad.artifact["ok"] is False


def test_mask_tool():
    from tutor.tools.langchain_tools import mask_tool

    m = _call(mask_tool, {"query": "长度为5的因果掩码"})
    assert m.artifact["result"]["matrix"][0] == [1, 0, 0, 0, 0] and "-inf" in m.content
    assert Path(m.artifact["png_path"]).exists()
    p = _call(mask_tool, {"query": "padding lengths=[3,5,2]"})
    assert p.artifact["result"]["matrix"][2] == [1, 1, 0, 0, 0]
    b = _call(mask_tool, {"query": "BERT 掩码 “注意力机制是 Transformer 的核心” seed=1"})
    b2 = _call(mask_tool, {"query": "BERT 掩码 “注意力机制是 Transformer 的核心” seed=1"})
    assert b.artifact["result"] == b2.artifact["result"]  # seeded: reproducible
    assert "选中 selected" in b.content and b.artifact["result"]["seed"] == 1
    for query, needle in [("长度为99的因果掩码", "between 1 and"), ("因果掩码", "needs a size"), ("BERT 掩码", "needs a sentence"), ("kind=foo", "unknown mask kind")]:
        bad = _call(mask_tool, {"query": query})
        assert needle in bad.content and bad.artifact["ok"] is False


def test_mask_size_reads_the_english_size():
    # the tool's own error message suggests "causal mask of size 5": it must read it
    assert parse_mask_query("Show a causal mask of size 4")["size"] in (4, "4")
    assert parse_mask_query("causal mask, size=6")["size"] in (6, "6")


def test_the_data_after_a_requests_colon_is_the_sentence():
    from tutor.tools.langchain_tools import run_mask, run_ngram
    from tutor.tools.parsing import trailing_data

    assert trailing_data("用 bigram 给这句话打分：我 爱 你") == "我 爱 你"
    assert trailing_data("Apply BERT-style random masking to: the man went to the store.") == "the man went to the store"
    for asks in ("BERT 的 mask 策略：为什么是 80/10/10？", "预训练任务：MLM 和 NSP 有什么区别", "padding mask：lengths=[3,5,2]", "没有冒号"):
        assert trailing_data(asks) == ""
    assert parse_ngram_query("用 bigram 给这句话打分：我 爱 你")["sentence"] == "我 爱 你"
    args = parse_mask_query("帮我把这句话随机遮住：我 爱 自然 语言 处理")
    assert args["kind"] == "mlm" and args["text"] == "我 爱 自然 语言 处理"
    text, art = run_mask("Mask this sentence like BERT does: I love natural language processing")
    assert art["ok"] and art["result"]["tokens"] == ["I", "love", "natural", "language", "processing"]
    text, art = run_ngram("Score this sentence with a bigram model: attention is all you need")
    assert art["ok"] and "attention is all you need" in text
    assert parse_mask_query("padding mask：lengths=[3,5,2]").get("text") is None

