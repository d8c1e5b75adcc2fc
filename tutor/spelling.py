"""Misspelled course terms in a student's question, read as the terms they stand for.

"什么是 tranformer？" was refused as off-topic, and "atention 是什么意思" was told the notes never use
"atention": a question is searched and classified by its words, and a typo of a course term matches
none. `correct_terms` replaces a Latin word that is not itself a course term with the course term it
is one slip away from (difflib's similarity for words of five letters or more, "tranformer" →
"Transformer"; two swapped letters for the short names, "GTP" → "GPT", "LTSM" → "LSTM") and says which
words it read so, for the answer to tell the student. Quoted text (a demo's data) is left as written.
"""

from __future__ import annotations

import difflib
import re

from tutor.tools.parsing import strip_quoted

# The course terms written in Latin letters, as the answer should name them. Only distinctive words:
# a common word ("though", "model") is never corrected into a term, nor a term into another one.
LATIN_TERMS = [
    "Transformer", "Transformers", "attention", "self-attention", "embedding", "embeddings", "softmax", "encoder", "decoder",
    "bigram", "trigram", "unigram", "n-gram", "perplexity", "smoothing", "tokenizer", "tokenization", "positional", "Markov",
    "LangChain", "ChatGPT", "word2vec", "seq2seq", "pretraining", "pre-training", "fine-tuning", "finetuning", "instruction",
    "davinci", "autoregressive", "bidirectional", "recurrent", "neural", "language", "multi-head", "residual", "normalization",
    "feed-forward", "parameter", "parameters", "learning", "in-context", "few-shot", "zero-shot", "one-shot", "Bahdanau", "alignment",
    "reinforcement", "InstructGPT", "prompt", "prompting", "agent", "agents", "inference", "generative",
]
# English words one slip from a term, that are not slips of it.
NOT_SLIPS = {"neutral", "leaning", "agenda", "though", "thought", "decoding", "encoding", "smoothly", "learnings"}
# Short names: only two neighbouring letters swapped is read as a slip ("GTP", "BRET", "LTSM", "NNML").
SHORT_TERMS = ["GPT", "BERT", "RNN", "LSTM", "NNLM", "MLM", "NSP", "SFT", "RLHF", "LoRA", "PEFT"]
# How alike a word and a term must be (difflib's ratio): "tranformer" ~ "transformer" 0.95, "atention" ~
# "attention" 0.94, "langauge" ~ "language" 0.88; "attentive" ~ "attention" 0.78 is another word.
MIN_SIMILARITY = 0.85
MIN_LETTERS = 5
# …and at most this many letters apart (added, dropped, changed or two neighbours swapped): one for a word of
# up to LONG_WORD letters, two for a longer one ("agenda" is two from "agent", "tranformer" one from "transformer").
LONG_WORD = 7

_BY_LOWER = {t.lower(): t for t in LATIN_TERMS}
_SHORT = {t.lower(): t for t in SHORT_TERMS}
_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z\-]*[A-Za-z](?![A-Za-z0-9])")


def _swapped(word: str) -> str | None:
    """The short term `word` is with two neighbouring letters swapped, else None."""
    w = word.lower()
    for i in range(len(w) - 1):
        t = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
        if t != w and t in _SHORT:
            return _SHORT[t]
    return None


def _inflected(low: str) -> bool:
    """Whether a word is a term with an English ending ("instructions", "prompted", "embeddings")."""
    return any(low.endswith(e) and low[: -len(e)] in _BY_LOWER for e in ("s", "es", "ed", "d", "ing"))


def slips(a: str, b: str) -> int:
    """How many letters apart two words are: insertions, deletions, substitutions and swaps of two
    neighbours (the optimal string alignment distance)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def correct_word(word: str, known=None) -> str | None:
    """The course term a misspelled word stands for, or None: a term already (or one with an ending), a
    word the notes use (`known`, e.g. Retriever.mentions: "one-hot", "attentive"), or like no term."""
    low = word.lower()
    if low in _BY_LOWER or low in _SHORT or low in NOT_SLIPS or _inflected(low) or (known is not None and known(word)):
        return None
    if len(low) < MIN_LETTERS:
        return _swapped(word)
    close = difflib.get_close_matches(low, list(_BY_LOWER), n=1, cutoff=MIN_SIMILARITY)
    if not close or slips(low, close[0]) > (1 if len(low) <= LONG_WORD else 2):
        return None
    return _BY_LOWER[close[0]]


def correct_terms(text: str, known=None) -> tuple[str, list[tuple[str, str]]]:
    """(text with its misspelled course terms corrected, [(as written, read as)]). Quoted spans stay.
    `known(word)`: whether the notes use a word, which is then not a misspelling (Retriever.mentions)."""
    hidden = strip_quoted(text, lambda q: "\0" * len(q.group(0)))  # same length: positions line up
    out, fixes, last = [], [], 0
    for m in _WORD.finditer(hidden):
        right = correct_word(m.group(0), known)
        if right is None:
            continue
        out.append(text[last : m.start()] + right)
        last = m.end()
        if (m.group(0), right) not in fixes:
            fixes.append((m.group(0), right))
    out.append(text[last:])
    return "".join(out), fixes


def correction_notice(fixes: list[tuple[str, str]], language: str) -> str:
    """What an answer opens with when its question was read with corrected terms ('' when none were)."""
    if not fixes:
        return ""
    if language == "en":
        return "(Reading " + ", ".join(f"“{w}” as “{r}”" for w, r in fixes) + ".)\n\n"
    return "（" + "，".join(f"按“{r}”理解“{w}”" for w, r in fixes) + "。）\n\n"
