"""`search_notes`: the agent's retrieval tool. Returns compact evidence — for each of the top notes
its citation and the sentences that best match the query — so the observation fits the tutor GPT's
small context; the full results travel as the tool's artifact."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from kb.retriever import Retriever, SearchResult
from tutor.agent.prompt import EVIDENCE_CHARS, EVIDENCE_RESULTS
from tutor.extractive import best_sentences


class SearchInput(BaseModel):
    query: str = Field(description="要在课程笔记里检索的内容 / what to look up in the course notes")


def evidence_text(query: str, results: list[SearchResult]) -> str:
    """One block per result: '[n] citation' then its best-matching sentences (≤ EVIDENCE_CHARS)."""
    blocks = []
    for i, r in enumerate(results[:EVIDENCE_RESULTS], 1):
        picked = best_sentences(query, [r], max_sentences=3)
        text = ""
        for s, _ in picked:
            if len(text) + len(s) > EVIDENCE_CHARS and text:
                break
            text += s if s[-1] in "。！？.!?" else s + "。"
        blocks.append(f"[{i}] {r.citation}\n{text or r.text[:EVIDENCE_CHARS]}")
    return "\n".join(blocks) if blocks else "没有找到相关笔记 / nothing found in the notes"


def search_evidence(retriever: Retriever, query: str, k: int = 5) -> tuple[str, dict[str, Any]]:
    """(observation text, artifact with the full results) for a query."""
    query = (query or "").strip()
    if not query:
        return "检索内容为空 / empty query: 请给出要检索的关键词。", {"ok": False, "results": []}
    results = retriever.search(query[:500], k=k)
    return evidence_text(query, results), {"ok": True, "results": [r.to_dict() for r in results]}


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
