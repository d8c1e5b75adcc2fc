"""Chunking on each corpus file shape: Q&A pairs, structured Markdown notes, the transcript."""

from __future__ import annotations

import re

import pytest

from kb.chunking import HEADING_SEP, chunk_document, detect_shape, split_sentences
from kb.clean import clean_text
from kb.ingest import load_manifest
from tests.conftest import CORPUS

MANIFEST = load_manifest(CORPUS)


def chunks_of(name: str, **kw):
    return chunk_document(name, (CORPUS / name).read_text(encoding="utf-8"), kind=MANIFEST[name]["kind"], **kw)


def test_qa_file_one_chunk_per_question_with_heading():
    chunks = chunks_of("000_172dd7619ae4346b.txt")
    questions = [c.heading.split(HEADING_SEP)[-1] for c in chunks]
    assert any("Encoder-Decoder Attention 是 Self-Attention 吗" in q for q in questions)
    # The answer stays with its question.
    c = next(c for c in chunks if "Encoder-Decoder Attention 是 Self-Attention" in c.heading)
    assert "encoder-decoder attention从编码器中能关注到特定的位置" in c.text
    assert c.kind == "qa"
    # numbering like "3. " is stripped from headings
    assert not any(re.match(r"^\d", q) for q in questions)


def test_markdown_notes_keep_heading_path_and_prepend_it_for_retrieval():
    chunks = chunks_of("002_98be9b8eab6b81d4.txt")
    mlm = [c for c in chunks if "有 80% 直接替换成 [MASK]" in c.text]
    assert len(mlm) == 1
    c = mlm[0]
    assert c.heading and HEADING_SEP in c.heading
    assert c.index_text.startswith(c.heading)
    assert "学习笔记" not in c.heading  # the single H1 (document title) is dropped from paths


def test_front_matter_and_html_are_cleaned_code_kept():
    raw = (CORPUS / "001_dc65fa8734990513.txt").read_text(encoding="utf-8")
    cleaned = clean_text(raw)
    assert "<ul>" not in cleaned and "<li>" not in cleaned
    assert "categories:" not in cleaned
    md = "## A\n<hr />\n```python\nx = '<b>keep</b>'\n```\n![img](missing.png) text\n"
    out = clean_text(md)
    assert "<b>keep</b>" in out and "<hr" not in out and "missing.png" not in out and "text" in out


def test_transcript_windows_do_not_cut_sentences_and_overlap():
    chunks = chunks_of("003_fcbbed103810d7cb.txt", chunk_chars=400, overlap=80)
    assert detect_shape(clean_text((CORPUS / "003_fcbbed103810d7cb.txt").read_text())) == "transcript"
    assert len(chunks) > 50
    text = clean_text((CORPUS / "003_fcbbed103810d7cb.txt").read_text(encoding="utf-8"))
    sentences = set(split_sentences(text))
    for c in chunks[:40]:
        assert c.heading == ""
        # every chunk starts at a sentence start and ends at a sentence end
        assert any(c.text.startswith(s) for s in sentences)
        assert any(c.text.endswith(s) for s in sentences)
    # consecutive windows overlap
    overlaps = sum(1 for a, b in zip(chunks, chunks[1:]) if split_sentences(a.text)[-1] in b.text)
    assert overlaps > len(chunks) // 2


def test_code_blocks_formulas_and_tables_are_never_split():
    body = "## Sec\n" + "。".join(["这是一个很长的句子用来填充内容"] * 30) + "。\n\n```python\n" + "\n".join(
        f"line_{i} = {i}" for i in range(60)
    ) + "\n```\n\n$$\nAttention(Q,K,V)=softmax(\\frac{QK^T}{\\sqrt{d_k}})V\n$$\n\n| a | b |\n|---|---|\n" + "\n".join(
        f"| {i} | {i * 2} |" for i in range(40)
    ) + "\n\n## Other\n短。\n"
    chunks = chunk_document("x.md", body, chunk_chars=200)
    code = [c for c in chunks if "line_0 = 0" in c.text]
    assert len(code) == 1 and "line_59 = 59" in code[0].text
    formula = [c for c in chunks if "softmax" in c.text]
    assert len(formula) == 1 and "\\sqrt{d_k}" in formula[0].text and formula[0].text.count("$$") == 2
    table = [c for c in chunks if "| 0 | 0 |" in c.text]
    assert len(table) == 1 and "| 39 | 78 |" in table[0].text
    for c in chunks:
        if c.heading == "Sec" and "这是" in c.text:
            assert c.text.endswith("。")


def test_a_short_caption_stays_with_its_table_or_code_block():
    filler = "。".join(["这是一个很长的句子用来填充内容"] * 20) + "。"
    table = "| 特性 | BERT | GPT |\n|---|---|---|\n" + "\n".join(f"| 特性{i} | 编码器{i} | 解码器{i} |" for i in range(30))
    code = "```\n" + "\n".join(f"- 第 {i} 项" for i in range(40)) + "\n```"
    body = (f"## 对比\n{filler}\n1. BERT vs GPT 差异\n{table}\n\n## 组成\n{filler}\n从上到下解释这张图的关键组成部分：\n{code}\n"
            f"\n## 翻译\n人做翻译：人理解了这个词\n机器做翻译：就是找对应关系，是一个数学问题\n{code}\n")
    chunks = chunk_document("x.md", body, chunk_chars=200)
    assert not [c.text for c in chunks if len(c.text) < 30], "a caption was left as a chunk of its own"
    assert any(c.text.startswith("1. BERT vs GPT 差异\n| 特性 |") for c in chunks)
    assert any(c.text.startswith("从上到下解释这张图的关键组成部分：\n```") for c in chunks)
    # a line that is a sentence with clauses is not a caption: it stays with the line before it
    assert any("人做翻译：人理解了这个词\n机器做翻译：" in c.text for c in chunks)
    for name in ("002_98be9b8eab6b81d4.txt",):
        assert all(len(c.text) > 20 for c in chunks_of(name) if "BERT vs GPT" in c.heading)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_corpus_file_chunks_with_stable_unique_ids(name):
    a = chunks_of(name)
    b = chunks_of(name)
    assert a and [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    assert all(c.source == name for c in a)


def test_sentence_split_keeps_inequality_and_quotes():
    assert split_sentences("高频 != 重点。他说：“好！”然后走了") == ["高频 != 重点。", "他说：“好！”", "然后走了"]


def test_glosses_are_written_into_chunks_without_moving_their_boundaries():
    """Glossing the transcript's mis-heard words ("Laura（即 LoRA）") makes the text longer; it is done
    chunk by chunk after chunking, so the chunks cover the same sentences with or without glosses."""
    from kb.clean import add_glosses

    name = "003_fcbbed103810d7cb.txt"
    glosses = [(["Laura", "Ora"], "LoRA"), (["大元模型"], "大语言模型")]
    plain = chunks_of(name)
    glossed = chunks_of(name, glosses=glosses)
    assert len(plain) == len(glossed) > 100
    changed = [(p, g) for p, g in zip(plain, glossed) if p.text != g.text]
    assert changed and all(add_glosses(p.text, glosses)[0] == g.text and p.id != g.id for p, g in changed)
    assert any("Laura（即 LoRA）" in g.text for _, g in changed) and any("大元模型（即大语言模型）" in g.text for _, g in changed)
