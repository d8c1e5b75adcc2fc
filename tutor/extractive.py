"""The deterministic fallback answer: pick the sentences of the retrieved chunks that best match the
question and quote them with their citations. No model is involved, so it cannot hallucinate; it is
what the tutor says when the GPT's answer is malformed or not supported by the notes, and it is the
'retrieval-only' baseline of the evaluation."""

from __future__ import annotations

import re

from kb.chunking import split_sentences
from kb.retriever import SearchResult
from kb.text import tokenize

MAX_SENTENCES = 3
MAX_CHARS = 320
_FENCE_LINE = re.compile(r"^\s*(```|~~~).*$", re.M)


def clean_sentence(s: str) -> str:
    s = _FENCE_LINE.sub("", s).strip()
    s = re.sub(r"^答[:：]\s*", "", s)
    s = re.sub(r"^(?:[-*>+]\s*|\d{1,2}[.、)）]\s*|\s+)+", "", s)  # list markers, not a leading number ("768 维")
    return s.strip()


def best_sentences(question: str, results: list[SearchResult], max_sentences: int = MAX_SENTENCES) -> list[tuple[str, SearchResult]]:
    """Sentences from the top results ranked by how many distinct question tokens they contain,
    earlier results and earlier sentences breaking ties."""
    q = set(tokenize(question))
    scored = []
    for ri, r in enumerate(results[:3]):
        heading_toks = set(tokenize(r.heading))
        for si, sent in enumerate(split_sentences(_FENCE_LINE.sub("", r.text))):
            s = clean_sentence(sent)
            if len(s) < 6 or s.startswith("|"):
                continue
            overlap = len(q & set(tokenize(s)))
            bonus = 0.5 * len(q & heading_toks) if si < 2 else 0.0
            if len(s) < 12 or s.endswith(("？", "?")):  # headings and questions say little: rank them last
                bonus -= 1.5
            scored.append((overlap + bonus, -ri, -si, s, r))
    scored.sort(key=lambda x: (x[0], x[1], x[2]), reverse=True)
    picked: list[tuple[str, SearchResult]] = []
    total = 0
    for score, _, _, s, r in scored:
        if score <= 0 and picked:
            break
        if any(s == seen for seen, _ in picked):  # overlapping transcript windows repeat sentences
            continue
        if total + len(s) > MAX_CHARS and picked:
            break
        picked.append((s, r))
        total += len(s)
        if len(picked) >= max_sentences:
            break
    return picked


def extractive_answer(question: str, results: list[SearchResult], language: str = "zh") -> tuple[str, list[SearchResult]]:
    """(answer text with citations, the results cited). Empty results → an honest 'not found'."""
    if not results:
        msg = (
            "课程笔记里没有找到相关内容。可以换个说法，或者问问注意力、Transformer、BERT/GPT、n-gram、微调等课程主题。"
            if language == "zh"
            else "I could not find this in the course notes. Try rephrasing, or ask about attention, Transformers, BERT/GPT, n-grams or fine-tuning."
        )
        return msg, []
    picked = best_sentences(question, results)
    cited: list[SearchResult] = []
    for _, r in picked:
        if r.id not in {c.id for c in cited}:
            cited.append(r)
    body = " ".join(s if s[-1] in "。！？.!?" else s + "。" for s, _ in picked)
    label = "根据课程笔记（检索摘录）：" if language == "zh" else "From the course notes (extractive, quoted in the notes' language): "
    cites = " ".join(dict.fromkeys(r.citation for r in cited))  # chunks of one unheaded file cite alike
    return f"{label}{body}\n\n{cites}", cited
