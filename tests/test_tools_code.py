"""The `code` tool: a request to see code gets the tutor's own source, read from the repository."""

from __future__ import annotations

import ast
import importlib

import numpy as np
import pytest

from models.tokenizer import Tokenizer
from tutor.config import PROJECT_ROOT
from tutor.intent import classify
from tutor.tools.code import MAX_LISTING_TOKENS, SNIPPETS, code_listing, code_topic, function_source, run_code


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.key)
def test_every_listing_is_the_repository_source_and_fits_one_answer(snippet):
    """Each line is the file's own line (only docstrings left out), each function parses as Python, and
    the listing fits what the agent can copy into one answer with the shipped tokenizer."""
    listing = code_listing(f"show me the code for {snippet.name_en}")
    for path, name in snippet.functions:
        source = function_source(path, name)
        ast.parse(source)
        file_lines = {ln.strip() for ln in (PROJECT_ROOT / path).read_text(encoding="utf-8").splitlines()}
        assert all(ln.strip() in file_lines for ln in source.splitlines()), name
        assert '"""' not in source
        assert f"# {path} › {name}" in listing and source in listing
    tok = Tokenizer.load(PROJECT_ROOT / "models" / "checkpoints" / "agent" / "tokenizer.json")
    assert len(tok.encode(listing, allow_special=False)) <= MAX_LISTING_TOKENS


def test_the_listed_softmax_is_the_function_the_demo_runs():
    """Run the listed source and the module's function on the same input: the same numbers."""
    namespace: dict = {"np": np}
    exec(compile(function_source("tutor/tools/attention.py", "softmax_rows"), "<listing>", "exec"), namespace)
    x = np.array([[1.0, 2.0, -np.inf], [0.5, 0.5, 0.5]])
    module = importlib.import_module("tutor.tools.attention")
    assert np.allclose(namespace["softmax_rows"](x), module.softmax_rows(x))


@pytest.mark.parametrize(("q", "key"), [
    ("用 Python 写一个 softmax", "softmax"), ("给我看看自注意力的代码", "attention"), ("Show me the code for a causal mask", "causal_mask"),
    ("How do I implement scaled dot-product attention?", "attention"), ("BERT 的 80/10/10 遮词代码怎么写？", "mlm"),
    ("写一个 bigram 的代码", "ngram"), ("Transformer 的一个 block 代码长什么样？", "block"), ("手写一个位置编码", "positions"),
])
def test_a_request_for_code_is_read_as_one(q, key):
    assert code_topic(q).key == key
    assert classify(q).kind == "code"


@pytest.mark.parametrize(("q", "kind"), [
    ("为什么说用代码训练让大模型有了推理能力？", "concept"),   # mentions code, asks about training on it
    ("老师说用 LangChain 十几行代码就能实现什么？", "concept"),  # no code of ours for it
    ("text-davinci-002 和 code-davinci-002 有什么不同？", "concept"),
    ("注意力机制是怎么实现的？", "concept"),                   # how it works, not its code
    ("How is attention implemented in a Transformer?", "concept"),
    ("帮我写个 Python 脚本，把文件夹里的照片按拍摄日期重命名", "offtopic"),
    ("用 numpy 算一下注意力：Q=[[1,0]]，K=[[1,0]]，V=[[2]]", "attention"),  # data to run on: the demo
])
def test_a_question_that_only_mentions_code_is_not_a_request_for_it(q, kind):
    assert classify(q).kind == kind


def test_a_topic_without_code_is_a_readable_observation():
    text, artifact = run_code("给我看看 LangChain 的代码")
    assert not artifact["ok"] and text.startswith("输入有误 / invalid input") and "softmax" in text
    text, artifact = run_code("给我看看 softmax 的代码")
    assert artifact["ok"] and artifact["topic"] == "softmax" and "def softmax_rows" in text
