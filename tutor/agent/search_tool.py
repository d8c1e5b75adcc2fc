"""`search_notes`: the agent's retrieval tool. Returns compact evidence — for each of the top notes
its citation and the sentences that best match the query — so the observation fits the tutor GPT's
small context; the full results travel as the tool's artifact."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Mapping
from typing import Any

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from kb.retriever import Retriever, SearchResult
from tutor.agent.prompt import EVIDENCE_CHARS, EVIDENCE_RESULTS
from kb.text import tokenize
from tutor.extractive import LIST_QUESTION, answer_results, best_sentences, defines, definition_subject, fill_gaps, note_sentences


# A list question's answer runs over several sentences in a row, so its chosen sentences are followed
# by two sentences of their note, not one. Chosen with the simulated all-blocks answer: dev 66 → 67 / 77,
# heldout2a 16 → 17 / 22, heldout 42 = 42 / 48.
ENUMERATION = re.compile(LIST_QUESTION, re.I)
# A definition is likewise one line followed by what it means ("注意力机制…是一种计算…关联性的方法。它模拟了
# 人类…的注意力分配过程。通过注意力机制，模型可以学习并集中关注输入中的重要部分…"): in the answer to a
# 'what is X' question, a sentence that defines X is followed by two sentences too.


def following_sentences(query: str, sents: list[str]) -> int:
    """How many sentences of its note follow each chosen sentence (`sents`, one note's) in the evidence."""
    if ENUMERATION.search(query):
        return 2
    subject = definition_subject(query)
    return 2 if subject and any(defines(s, subject) for s in sents) else 1


# What this turn's student was already shown of the question searched (set by the agent for "还有呢？"):
# notes quoted there are left out of the search (extractive.answer_results).
seen_text: contextvars.ContextVar[str] = contextvars.ContextVar("tutor_seen_text", default="")


class SearchInput(BaseModel):
    query: str = Field(description="要在课程笔记里检索的内容 / what to look up in the course notes")


def evidence_blocks(
    query: str, results: list[SearchResult], idf: Mapping[str, float] | None = None
) -> tuple[list[tuple[SearchResult, str]], list[int]]:
    """The evidence shown to the model: one block per top result holding the sentences chosen for the
    answer (the same choice as the extractive answer: the best sentences across the top results), or
    that result's best sentence when none of its sentences was chosen, each followed by the next
    sentence of its note (up to EVIDENCE_CHARS per block). A sentence already shown in an
    earlier block (overlapping transcript windows) is not repeated, and a result with nothing new is
    left out. `idf` weighs the query's words (Retriever.idf; see tutor.extractive.best_sentences).
    Returns (blocks, indices of the blocks that hold chosen sentences)."""
    top = results[:EVIDENCE_RESULTS]
    chosen: dict[str, list[str]] = {}
    for s, r in best_sentences(query, top, idf=idf):
        chosen.setdefault(r.id, []).append(s)
    blocks, answer_blocks = [], []
    shown: set[str] = set()  # overlapping transcript windows hold the same sentences: show each once
    for r in top:
        in_order = note_sentences(r.text)
        sents = [s for s in chosen.get(r.id, []) if s not in shown]
        if not sents:  # this result's best sentence not shown yet; else its first new one
            ranked = [s for s, _ in best_sentences(query, [r], max_sentences=4, idf=idf)]
            sents = [s for s in ranked + in_order if s not in shown][:1]
            if not sents:
                continue  # nothing here that an earlier block does not already show
        sents = _with_following(sents, in_order, shown, following_sentences(query, sents))
        sents = fill_gaps(sents, in_order, shown, max_chars=EVIDENCE_CHARS)
        text = ""
        for s in sents:
            if len(text) + len(s) > EVIDENCE_CHARS and text:
                break
            shown.add(s)
            text += s if s[-1] in "。！？.!?" else s + "。"
        if any(s in chosen.get(r.id, []) for s in sents):
            answer_blocks.append(len(blocks))  # numbered among the blocks actually shown
        blocks.append((r, text or r.text[:EVIDENCE_CHARS]))
    return blocks, answer_blocks


def _with_following(sents: list[str], in_order: list[str], shown: set[str], following: int = 1) -> list[str]:
    """Each chosen sentence followed by the `following` sentences after it in its note: the sentence that
    matches the question's words often only introduces the answer ("BERT 的预训练有两个任务。" → the tasks)."""
    out: list[str] = []
    for s in sents:
        i = in_order.index(s) if s in in_order else len(in_order)
        for x in (s, *in_order[i + 1 : i + 1 + following]):
            if x not in out and x not in shown:
                out.append(x)
    return out


# How a block reads in an observation, and how the agent's other parts read it back.
_BLOCK = re.compile(r"^\[\d\] (\[[^\n]*\])\n([^\n]*)", re.M)


def render_evidence(blocks: list[tuple[SearchResult, str]]) -> str:
    """One block per result: '[n] citation' then its evidence sentences on one line."""
    if not blocks:
        return "没有找到相关笔记 / nothing found in the notes"
    return "\n".join(f"[{i}] {r.citation}\n{text}" for i, (r, text) in enumerate(blocks, 1))


def parse_evidence(observation: str) -> list[tuple[str, str]]:
    """(citation, text) of every evidence block in a search_notes observation; [] for other observations."""
    return _BLOCK.findall(observation)


def evidence_text(query: str, results: list[SearchResult], idf: Mapping[str, float] | None = None) -> str:
    return render_evidence(evidence_blocks(query, results, idf)[0])


def search_evidence(retriever: Retriever, query: str, k: int = 5) -> tuple[str, dict[str, Any]]:
    """(observation text, artifact with the full results) for a query."""
    query = (query or "").strip()
    if not query:
        return "检索内容为空 / empty query: 请给出要检索的关键词。", {"ok": False, "results": []}
    results = answer_results(retriever, query[:500], k, seen_text.get())
    blocks, answer_blocks = evidence_blocks(query, results, retriever.idf(tokenize(query)))
    return render_evidence(blocks), {"ok": True, "results": [r.to_dict() for r in results], "answer_blocks": answer_blocks}


def make_search_tool(retriever: Retriever, k: int = 5) -> StructuredTool:
    def search_notes(query: str) -> tuple[str, dict[str, Any]]:
        return search_evidence(retriever, query, k)

    return StructuredTool.from_function(
        func=search_notes,
        name="search_notes",
        description="检索课程笔记，返回最相关的段落及出处 / search the course notes; returns passages with citations",
        args_schema=SearchInput,
        response_format="content_and_artifact",
    )
