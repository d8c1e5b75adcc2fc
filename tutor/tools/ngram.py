"""n-gram language models on the course notes (or any text): counts, smoothing, sentence scores.

A sentence w_1 … w_T is padded as  <s> … <s> w_1 … w_T </s>  (n-1 copies of <s>, one </s>) and
its probability is the product of P(w_i | the n-1 tokens before it), for i = 1 … T+1 (</s> included).

    MLE           P(w | u) = c(u w) / c(u)                       (0 for an unseen n-gram)
    add-k         P(w | u) = (c(u w) + k) / (c(u) + k·V)         (Laplace when k = 1)
    Kneser-Ney    P(w | u) = max(c(u w) − d, 0) / c(u)  +  d·N₁₊(u •) / c(u) · P_KN(w | u minus its first word)

c(u) is the number of n-grams that start with the context u (so Σ_w c(u w) = c(u)).
Interpolated Kneser-Ney uses raw counts at the highest order and *continuation* counts below it
(N₁₊(• u w): in how many different contexts was "u w" seen), and the lowest order is interpolated
with the uniform distribution 1/V, so every word in the vocabulary gets some probability. When a
context was never seen, KN falls back to the next lower order entirely.

Vocabulary V (what add-k divides by and KN's uniform floor spreads over) =
    the word types seen in the training sentences  +  </s>  +  <unk>.
<s> is *not* in V: it is only ever context, never predicted. Every unknown word of a scored
sentence is mapped to <unk> (and reported). With MLE an unseen n-gram has probability 0, so the
sentence's log-probability is -inf and its perplexity inf; that is reported, not an error.

Tokenization: "whitespace" (split on spaces), "jieba" (Chinese word segmentation), "char" (one token
per Chinese character, ASCII words kept whole) or "auto" (whitespace when there is no Chinese or the
Chinese is already space-separated, jieba otherwise). The trained default model (course notes) is
cached per (n, tokenization), so scoring is interactive after the first call.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter, defaultdict
from itertools import chain
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from tutor.tools.errors import DemoInputError
from tutor.tools.parsing import normalize_smoothing, pad_display, to_jsonable

BOS, EOS, UNK = "<s>", "</s>", "<unk>"

# Interactive limits
MAX_N = 6
MAX_SENTENCE_TOKENS = 200
MAX_CORPUS_BYTES = 2_000_000
MAX_K = 100.0
TOKENIZATIONS = ("auto", "whitespace", "jieba", "char")

# ----------------------------------------------------------------------------------------------
# Text cleanup and tokenization

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_FRONT_MATTER = re.compile(r"\A\s*---\s*\n.*?\n---\s*\n", re.S)
_HTML_TAG = re.compile(r"<[^<>\n]{1,200}>")
_URL = re.compile(r"https?://\S+")
_SENTENCE_END = re.compile(r"[。！？!?\n]+|\.(?=\s|$)")


def clean_markdown(text: str) -> str:
    """Light cleanup of the course notes: YAML front matter, HTML tags, code-fence markers, URLs,
    heading hashes, list/quote markers and emphasis stars go; the words stay."""
    text = _FRONT_MATTER.sub("\n", text)
    text = _HTML_TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    lines = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("```"):
            continue  # fence marker (```text); the code/answer inside is kept
        s = re.sub(r"^#{1,6}\s*", "", s)
        s = re.sub(r"^(?:[-*+]\s+)+", "", s)
        s = re.sub(r"^>\s*", "", s)
        s = s.replace("**", "").replace("__", "")
        s = re.sub(r"^(?:-\s*)+$", "", s)  # "- - - -" rows and <hr> leftovers
        lines.append(s)
    return "\n".join(lines)


def split_sentences(text: str) -> list[str]:
    """Split on 。！？!? , newlines and an English full stop followed by a space."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def resolve_tokenization(text: str, mode: str = "auto") -> str:
    """'auto' -> 'whitespace' (no Chinese, or Chinese already space-separated) or 'jieba'."""
    mode = (mode or "auto").strip().lower()
    if mode in ("chars", "character", "characters", "字", "按字"):
        mode = "char"
    if mode in ("space", "spaces", "split"):
        mode = "whitespace"
    if mode not in TOKENIZATIONS:
        raise DemoInputError(
            f"未知的分词方式 “{mode}”；可选 auto、whitespace（空格）、jieba（中文分词）、char（按字）",
            f"unknown tokenization {mode!r}; expected auto, whitespace, jieba or char",
        )
    if mode != "auto":
        return mode
    sample = text[:20000]
    cjk = len(_CJK.findall(sample))
    if cjk == 0:
        return "whitespace"
    spaced = len(re.findall(r"(?<=[\u4e00-\u9fff]) +(?=[\u4e00-\u9fff])", sample))  # gaps between Chinese chars
    return "whitespace" if spaced * 4 >= cjk else "jieba"  # ≥ one gap per 4 characters: already segmented


_jieba_ready = False


def _jieba_cut(text: str) -> list[str]:
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        jieba.setLogLevel(logging.WARNING)
        _jieba_ready = True
    return [t.strip() for t in jieba.lcut(text) if t.strip()]


_CHAR_TOKEN = re.compile(r"[A-Za-z0-9_]+(?:[.'’-][A-Za-z0-9_]+)*|\S")


def tokenize(text: str, mode: str) -> list[str]:
    """Tokens of `text` for a resolved mode ('whitespace' | 'jieba' | 'char')."""
    if mode == "whitespace":
        return text.split()
    if mode == "jieba":
        return _jieba_cut(text)
    if mode == "char":
        return _CHAR_TOKEN.findall(text)
    return tokenize(text, resolve_tokenization(text, mode))


def course_notes_dir() -> Path:
    from tutor.config import get_settings

    return Path(get_settings().corpus_dir)


def read_corpus_path(path: str | Path) -> str:
    """Cleaned text (`clean_markdown`, file by file) of a file or of every *.txt/*.md in a folder."""
    p = Path(path)
    if p.is_dir():
        files = sorted([*p.glob("*.txt"), *p.glob("*.md")])
        if not files:
            raise DemoInputError(f"文件夹 {p} 里没有 .txt 或 .md 文件", f"folder {p} contains no .txt or .md files")
    elif p.is_file():
        files = [p]
    else:
        raise DemoInputError(f"找不到语料文件 {p}", f"corpus file {p} does not exist")
    size = sum(f.stat().st_size for f in files)
    if size > MAX_CORPUS_BYTES:
        raise DemoInputError(
            f"语料有 {size / 1e6:.1f} MB，超过交互演示上限 {MAX_CORPUS_BYTES / 1e6:.0f} MB",
            f"the corpus is {size / 1e6:.1f} MB, over the interactive limit of {MAX_CORPUS_BYTES / 1e6:.0f} MB",
        )
    try:
        return "\n".join(clean_markdown(f.read_text(encoding="utf-8", errors="replace")) for f in files)
    except OSError as exc:
        raise DemoInputError(f"无法读取语料 {p}：{exc.strerror}", f"cannot read corpus {p}: {exc.strerror}") from None


@lru_cache(maxsize=1)
def course_notes_text() -> str:
    """The cleaned course notes (kb/corpus/*.txt)."""
    d = course_notes_dir()
    files = sorted(d.glob("*.txt"))
    if not files:
        raise DemoInputError(f"在 {d} 找不到课程笔记（*.txt）", f"no course notes (*.txt) found in {d}")
    return "\n".join(clean_markdown(f.read_text(encoding="utf-8", errors="replace")) for f in files)


@lru_cache(maxsize=8)
def course_sentences(mode: str) -> tuple[tuple[str, ...], ...]:
    """The course notes as tokenized sentences (cached per resolved tokenization)."""
    text = course_notes_text()
    mode = resolve_tokenization(text, mode)
    return tuple(tuple(toks) for toks in (tokenize(s, mode) for s in split_sentences(text)) if toks)


# ----------------------------------------------------------------------------------------------
# The model


@dataclass
class TokenStep:
    """One predicted token: P(token | context) and where the number comes from."""

    token: str
    lookup: str  # the token as the model sees it (<unk> for unknown words)
    context: list[str]
    count: int  # c(u w) at the highest order
    context_count: int  # c(u)
    probability: float
    logprob: float
    note: str = ""


@dataclass
class NgramScore:
    sentence: str
    tokens: list[str]
    n: int
    smoothing: str
    k: float | None
    discount: float | None
    tokenization: str
    steps: list[TokenStep]
    unknown_tokens: list[str]
    vocab_size: int
    vocab: dict[str, Any]
    corpus: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def probabilities(self) -> list[float]:
        return [s.probability for s in self.steps]

    @property
    def logprob(self) -> float:
        """Natural-log probability of the whole sentence (sum over the predicted tokens)."""
        if any(s.probability == 0.0 for s in self.steps):
            return -math.inf
        return float(math.fsum(s.logprob for s in self.steps))

    @property
    def perplexity(self) -> float:
        """exp(-logprob / number of predicted tokens), </s> included."""
        lp = self.logprob
        return math.inf if math.isinf(lp) else math.exp(-lp / len(self.steps))

    def method(self) -> str:
        if self.smoothing == "mle":
            return "MLE 最大似然"
        if self.smoothing == "addk":
            return f"add-k 加 k 平滑 (k={self.k:g}{', Laplace 拉普拉斯' if self.k == 1 else ''})"
        return f"插值 Kneser-Ney interpolated (d={self.discount:g})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; -inf / inf (zero probability under MLE) are the strings "-inf" / "inf"."""
        return to_jsonable(
            {
                "sentence": self.sentence,
                "tokens": self.tokens,
                "padded_tokens": [BOS] * (self.n - 1) + self.tokens + [EOS],
                "n": self.n,
                "smoothing": self.smoothing,
                "k": self.k,
                "discount": self.discount,
                "tokenization": self.tokenization,
                "probabilities": self.probabilities,
                "logprob": self.logprob,
                "log2prob": self.logprob / math.log(2),
                "perplexity": self.perplexity,
                "steps": [s.__dict__ for s in self.steps],
                "unknown_tokens": self.unknown_tokens,
                "vocab_size": self.vocab_size,
                "vocab": self.vocab,
                "corpus": self.corpus,
                "notes": self.notes,
                "json_infinity": "±inf is written as the string \"-inf\" / \"inf\"",
            }
        )

    def to_table(self) -> str:
        head = (
            f"{self.n}-gram · {self.method()} · 分词 tokenization: {self.tokenization} · "
            f"语料 corpus: {self.corpus['source']} ({self.corpus['sentences']} 句 sentences, {self.corpus['tokens']} tokens)"
        )
        lines = [head, f"句子 sentence: {self.sentence}", f"词 tokens: {' | '.join(self.tokens)}", ""]
        lines.append(
            f"{'#':>3}  {pad_display('上下文 context', 24, left=True)} {pad_display('词 token', 12, left=True)} "
            f"{'c(u w)':>7} {'c(u)':>7} {'P(w|u)':>11} {'ln P':>9}  备注 note"
        )
        for i, s in enumerate(self.steps, 1):
            ctx = " ".join(s.context) if s.context else "∅"
            lp = "-inf" if math.isinf(s.logprob) else f"{s.logprob:.4f}"
            lines.append(
                f"{i:>3}  {pad_display(_clip(ctx, 24), 24, left=True)} {pad_display(_clip(s.token, 12), 12, left=True)} "
                f"{s.count:>7} {s.context_count:>7} {s.probability:>11.6g} {lp:>9}  {s.note}"
            )
        lines.append("")
        lp = "-inf" if math.isinf(self.logprob) else f"{self.logprob:.4f}"
        ppl = "inf" if math.isinf(self.perplexity) else f"{self.perplexity:.4f}"
        lines.append(f"总对数概率 / total log-probability (ln): {lp}    困惑度 / perplexity: {ppl}")
        lines.append(f"词表大小 / vocabulary size V = {self.vocab_size}: {self.vocab['contains']}")
        if self.unknown_tokens:
            lines.append(f"未登录词 / unknown words → {UNK}: {', '.join(self.unknown_tokens)}")
        lines.extend(self.notes)
        return "\n".join(lines)

    def step_lines(self) -> list[str]:
        """Where each probability comes from: the counts and the formula with them filled in."""
        lines = []
        for s in self.steps:
            u = " ".join(s.context) if s.context else "∅"
            counts = f"c({u} {s.lookup})={s.count}, c({u})={s.context_count}"
            if self.smoothing == "mle":
                how = f"{s.count}/{s.context_count}" if s.context_count else "0（上下文没出现过 / unseen context）"
            elif self.smoothing == "addk":
                how = f"({s.count}+{self.k:g})/({s.context_count}+{self.k:g}×{self.vocab_size})"
            else:
                how = "折扣后加回退 / discounted, plus the back-off share"
            lines.append(f"  P({s.token}|{u}): {counts} → {how} = {s.probability:.3g}")
        return lines

    def summary(self, steps: bool = False) -> str:
        """Short readable text (the agent's observation). `steps`: each probability's counts and formula
        first, so "为什么“爱”的概率是 0？" is answered by c(我 爱)=0."""
        lp = "-inf" if math.isinf(self.logprob) else f"{self.logprob:.3f}"
        ppl = "inf" if math.isinf(self.perplexity) else f"{self.perplexity:.2f}"
        parts = [f"{self.n}-gram, {self.method()}, 分词 {self.tokenization}, V={self.vocab_size}"]
        if steps:
            parts.append("每个词的计数 / counts per token:")
            parts.extend(self.step_lines())
        parts.append(f"“{self.sentence}” → " + " ".join(f"{s.token}:{s.probability:.3g}" for s in self.steps))
        parts.append(f"ln P = {lp}, 困惑度 perplexity = {ppl}")
        if self.unknown_tokens:
            parts.append(f"未登录词 unknown → <unk>: {', '.join(self.unknown_tokens)}")
        parts.extend(self.notes)
        return "\n".join(parts)


def _clip(s: str, width: int) -> str:
    return s if len(s) <= width else s[: width - 1] + "…"


@dataclass
class NgramComparison:
    a: NgramScore
    b: NgramScore

    @property
    def logprob_difference(self) -> float | None:
        la, lb = self.a.logprob, self.b.logprob
        if math.isinf(la) and math.isinf(lb):
            return None
        return la - lb

    @property
    def more_probable(self) -> str:
        la, lb = self.a.logprob, self.b.logprob
        if la == lb:
            return "tie"
        return "a" if la > lb else "b"

    def verdict(self) -> str:
        d = self.logprob_difference
        if d is None:
            return "两句概率都是 0（MLE 下出现了未见过的 n-gram），无法比较；试试 addk 或 kn 平滑 / both sentences have probability 0 under MLE; try addk or kn smoothing"
        if self.more_probable == "tie":
            return "两句概率相同 / both sentences are equally probable"
        win, lose = (self.a, self.b) if self.more_probable == "a" else (self.b, self.a)
        ratio = "∞" if math.isinf(d) else f"{math.exp(abs(d)):.3g}"
        return f"“{win.sentence}” 比 “{lose.sentence}” 更可能，概率是其 {ratio} 倍 / '{win.sentence}' is {ratio}× more probable than '{lose.sentence}'"

    def to_dict(self) -> dict[str, Any]:
        d = self.a.to_dict()
        d["compare"] = self.b.to_dict()
        d["logprob_difference"] = to_jsonable(self.logprob_difference)
        d["more_probable"] = self.more_probable
        d["verdict"] = self.verdict()
        return d

    def to_table(self) -> str:
        return "\n\n".join([self.a.to_table(), self.b.to_table(), "比较 / comparison: " + self.verdict()])

    def summary(self, steps: bool = False) -> str:
        return "\n".join([self.a.summary(steps), self.b.summary(steps), self.verdict()])


class _IntHash:
    """A vectorised open-addressing hash table int64 key -> int64 value (keys ≥ 0).

    np.searchsorted needs ~log2(size) scattered reads per key; a hash table needs one or two, which
    is what makes whole-corpus scoring ~2× faster again. Linear probing, load factor ≤ 1/2.
    """

    _MULT = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        size = 1 << max(4, int(2 * len(keys)).bit_length())
        self.bits = size.bit_length() - 1
        self.mask = size - 1
        self.keys = np.full(size, -1, dtype=np.int64)
        self.values = np.zeros(size, dtype=np.int64)
        slot = self._hash(keys)
        pending = np.arange(len(keys))
        while pending.size:  # place every key whose slot is free; the others try the next slot
            s = slot[pending]
            free = self.keys[s] == -1
            taken_slots, first = np.unique(s[free], return_index=True)
            winners = pending[free][first]
            self.keys[taken_slots] = keys[winners]
            self.values[taken_slots] = values[winners]
            placed = np.zeros(len(keys), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & self.mask

    def _hash(self, keys: np.ndarray) -> np.ndarray:
        h = (np.asarray(keys).astype(np.uint64) * self._MULT) >> np.uint64(64 - self.bits)
        return h.astype(np.int64)

    def get(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, found) for every query key; value 0 where not found."""
        slot = self._hash(query)
        values = np.zeros(len(query), dtype=np.int64)
        found = np.zeros(len(query), dtype=bool)
        active = np.arange(len(query))
        while active.size:
            s = slot[active]
            k = self.keys[s]
            hit = k == query[active]
            values[active[hit]] = self.values[s[hit]]
            found[active[hit]] = True
            active = active[~hit & (k != -1)]  # an empty slot ends the probe: not present
            slot[active] = (slot[active] + 1) & self.mask
        return values, found


class NgramModel:
    """Counts for one n on one tokenized corpus; smoothing is chosen at scoring time.

    table[j][u][w] for j = 1 … n: the count used at order j for word w after context u (len j-1):
    raw n-gram counts at j = n, Kneser-Ney continuation counts N₁₊(• u w) below n.
    """

    def __init__(self, sentences: Sequence[Sequence[str]], n: int, *, tokenization: str, source: str) -> None:
        n = validate_n(n)
        self.n = n
        self.tokenization = tokenization
        self.source = source
        type_counts: Counter[str] = Counter()
        for s in sentences:
            type_counts.update(s)
        type_counts.pop(BOS, None)
        type_counts.pop(EOS, None)
        type_counts.pop(UNK, None)
        # ids: 0 = <s> (context only), then V: </s>, <unk>, training types by frequency
        self.itos: list[str] = [BOS, EOS, UNK] + [w for w, _ in type_counts.most_common()]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        self.training_types = len(type_counts)
        self.vocab_size = len(self.itos) - 1  # everything but <s>
        self.num_sentences = len(sentences)
        self.num_tokens = sum(len(s) for s in sentences)
        # highest order: raw counts of every n-gram ending at a predicted position
        raw: dict[tuple[int, ...], Counter[int]] = defaultdict(Counter)
        pad = [0] * (n - 1)
        for s in sentences:
            ids = pad + [self.stoi[w] for w in s] + [1]
            for i in range(n - 1, len(ids)):
                raw[tuple(ids[i - n + 1 : i])][ids[i]] += 1
        self.table: list[dict[tuple[int, ...], dict[int, int]]] = [{} for _ in range(n + 1)]
        self.table[n] = {u: dict(c) for u, c in raw.items()}
        # lower orders: continuation counts from the types one order up
        for j in range(n - 1, 0, -1):
            cont: dict[tuple[int, ...], Counter[int]] = defaultdict(Counter)
            for u, followers in self.table[j + 1].items():
                tail = u[1:]
                for w in followers:  # each distinct (x, tail, w) counts once
                    cont[tail][w] += 1
            self.table[j] = {u: dict(c) for u, c in cont.items()}
        self.totals = [{u: sum(f.values()) for u, f in t.items()} for t in self.table]
        self.types_after = [{u: len(f) for u, f in t.items()} for t in self.table]

    # -- probabilities --------------------------------------------------------------------------

    def word_id(self, w: str) -> int:
        i = self.stoi.get(w, 2)
        return 2 if i == 0 else i  # "<s>" as a predicted word is unknown

    def context_ids(self, context: Sequence[str]) -> tuple[int, ...]:
        return tuple(self.stoi.get(w, 2) for w in context)

    def prob(self, w: int, u: tuple[int, ...], smoothing: str, k: float = 1.0, discount: float = 0.75) -> float:
        """P(w | u) for ids; u has length n-1."""
        if smoothing == "kn":
            return self._kn(w, u, self.n, discount)
        c_u = self.totals[self.n].get(u, 0)
        c_uw = self.table[self.n].get(u, {}).get(w, 0) if c_u else 0
        if smoothing == "mle":
            return c_uw / c_u if c_u else 0.0
        return (c_uw + k) / (c_u + k * self.vocab_size)

    def _kn(self, w: int, u: tuple[int, ...], j: int, d: float) -> float:
        # iterative form of: P_j(w|u) = max(c-d,0)/T + d·F/T · P_{j-1}(w|u[1:]),  P_0 = 1/V
        p = 1.0 / self.vocab_size
        for order in range(1, j + 1):
            ctx = u[len(u) - (order - 1) :] if order > 1 else ()
            total = self.totals[order].get(ctx, 0)
            if not total:
                continue  # unseen context: all weight to the lower order
            c = self.table[order][ctx].get(w, 0)
            p = max(c - d, 0.0) / total + d * self.types_after[order][ctx] / total * p
        return p

    def distribution(self, u: tuple[int, ...], smoothing: str, k: float = 1.0, discount: float = 0.75) -> np.ndarray:
        """P(· | u) over the whole vocabulary V (ids 1 … V), as a vector; used to check Σ = 1."""
        V = self.vocab_size
        if smoothing == "kn":
            p = np.full(V, 1.0 / V)
            for order in range(1, self.n + 1):
                ctx = u[len(u) - (order - 1) :] if order > 1 else ()
                total = self.totals[order].get(ctx, 0)
                if not total:
                    continue
                gamma = discount * self.types_after[order][ctx] / total
                new = gamma * p
                for w, c in self.table[order][ctx].items():
                    new[w - 1] += max(c - discount, 0.0) / total
                p = new
            return p
        c_u = self.totals[self.n].get(u, 0)
        counts = np.zeros(V)
        for w, c in self.table[self.n].get(u, {}).items():
            counts[w - 1] = c
        if smoothing == "mle":
            return counts / c_u if c_u else counts
        return (counts + k) / (c_u + k * V)

    # -- scoring ---------------------------------------------------------------------------------

    def vocab_info(self, sample: int = 30, full_limit: int = 300) -> dict[str, Any]:
        info: dict[str, Any] = {
            "size": self.vocab_size,
            "contains": (
                f"训练语料中出现的 {self.training_types} 个词型 + {EOS} + {UNK}（不含 {BOS}：它只作上下文，从不被预测） / "
                f"the {self.training_types} word types seen in training + {EOS} + {UNK} ({BOS} is excluded: it is only context, never predicted)"
            ),
            "training_types": self.training_types,
            "special": [EOS, UNK],
            "most_frequent": self.itos[3 : 3 + sample],
        }
        if self.vocab_size <= full_limit:
            info["all"] = self.itos[1:]
        return info

    def corpus_info(self) -> dict[str, Any]:
        return {"source": self.source, "sentences": self.num_sentences, "tokens": self.num_tokens}

    def score_tokens(
        self, tokens: Sequence[str], *, smoothing: str = "mle", k: float = 1.0, discount: float = 0.75, sentence: str | None = None
    ) -> NgramScore:
        smoothing, k, discount = validate_smoothing(smoothing, k, discount)
        tokens = [str(t) for t in tokens]
        if not tokens:
            raise DemoInputError("句子是空的；请给出要打分的句子", "the sentence is empty; give a sentence to score")
        if len(tokens) > MAX_SENTENCE_TOKENS:
            raise DemoInputError(
                f"句子有 {len(tokens)} 个 token，交互演示上限是 {MAX_SENTENCE_TOKENS}",
                f"the sentence has {len(tokens)} tokens; the interactive limit is {MAX_SENTENCE_TOKENS}",
            )
        n = self.n
        padded = [BOS] * (n - 1) + tokens + [EOS]
        ids = [0] * (n - 1) + [self.word_id(t) for t in tokens] + [1]
        unknown = [t for t in tokens if self.word_id(t) == 2]
        steps: list[TokenStep] = []
        notes: list[str] = []
        for i in range(n - 1, len(ids)):
            u = tuple(ids[i - n + 1 : i])
            w = ids[i]
            c_u = self.totals[n].get(u, 0)
            c_uw = self.table[n].get(u, {}).get(w, 0) if c_u else 0
            p = self.prob(w, u, smoothing, k, discount)
            note = []
            if w == 2:
                note.append(f"未登录词→{UNK} unknown")
            if c_u == 0:
                if smoothing == "mle":
                    note.append("上下文没见过：MLE 无定义(0/0)，记为 0 / unseen context: MLE undefined, taken as 0")
                elif smoothing == "addk":
                    note.append("上下文没见过：= 1/V / unseen context: 1/V")
                else:
                    note.append("上下文没见过：回退到低阶 / unseen context: backs off to lower order")
            elif c_uw == 0:
                note.append("n-gram 没见过 / unseen n-gram" + ("：P=0" if smoothing == "mle" else ""))
            steps.append(
                TokenStep(
                    token=padded[i], lookup=self.itos[w], context=padded[i - n + 1 : i], count=c_uw, context_count=c_u,
                    probability=p, logprob=math.log(p) if p > 0 else -math.inf, note="; ".join(note),
                )
            )
        if smoothing == "mle" and any(s.probability == 0 for s in steps):
            notes.append(
                "MLE 下有概率为 0 的词，整句概率为 0：ln P = -inf，困惑度 = inf；这正是需要平滑的原因 / "
                "some token has probability 0 under MLE, so ln P = -inf and perplexity = inf: that is why we smooth"
            )
        return NgramScore(
            sentence=sentence if sentence is not None else " ".join(tokens), tokens=tokens, n=n, smoothing=smoothing,
            k=k if smoothing == "addk" else None, discount=discount if smoothing == "kn" else None,
            tokenization=self.tokenization, steps=steps, unknown_tokens=unknown, vocab_size=self.vocab_size,
            vocab=self.vocab_info(), corpus=self.corpus_info(), notes=notes,
        )

    def score(self, sentence: str, **kw: Any) -> NgramScore:
        if not isinstance(sentence, str) or not sentence.strip():
            raise DemoInputError("句子是空的；请给出要打分的句子", "the sentence is empty; give a sentence to score")
        return self.score_tokens(tokenize(sentence.strip(), self.tokenization), sentence=sentence.strip(), **kw)

    # -- speed: many sentences at once -----------------------------------------------------------
    #
    # The dictionaries above are the clearest way to see the counts, but a Python loop costs about a
    # microsecond per token. To score a whole corpus interactively we "compile" each order's table
    # into numpy arrays once (a trie: every context prefix gets an integer id, kept in vectorised
    # hash tables), then look up all positions of all sentences in one vectorised pass.
    # The arithmetic is the same, in the same order, so the numbers are identical to `prob`.

    def _compiled(self, j: int) -> dict[str, Any]:
        cache = self.__dict__.setdefault("_compiled_orders", {})
        if j not in cache:
            B = len(self.itos)
            contexts = list(self.table[j].keys())
            levels: list[_IntHash] = []  # per depth: key parent_id·B + word -> node id
            prefix_id: dict[tuple[int, ...], int] = {(): 0}
            for depth in range(1, j):
                nodes = sorted({u[:depth] for u in contexts})
                keys = np.fromiter((prefix_id[u[:-1]] * B + u[-1] for u in nodes), dtype=np.int64, count=len(nodes))
                levels.append(_IntHash(keys, np.arange(len(nodes), dtype=np.int64)))
                prefix_id = {u: i for i, u in enumerate(nodes)}
            n_ctx = max(len(prefix_id), 1)
            totals = np.zeros(n_ctx, dtype=np.int64)
            types_after = np.zeros(n_ctx, dtype=np.int64)
            gram_keys, gram_counts = [], []
            for u, followers in self.table[j].items():
                cid = prefix_id[u]
                totals[cid] = self.totals[j][u]
                types_after[cid] = self.types_after[j][u]
                for w, c in followers.items():
                    gram_keys.append(cid * B + w)
                    gram_counts.append(c)
            cache[j] = {
                "levels": levels,
                "totals": totals,
                "types_after": types_after,
                "grams": _IntHash(np.asarray(gram_keys, dtype=np.int64), np.asarray(gram_counts, dtype=np.int64)),
            }
        return cache[j]

    def _lookup(self, j: int, padded: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every predicted position: c(u w), c(u), N₁₊(u •) at order j (u = the j-1 tokens before)."""
        comp = self._compiled(j)
        B = len(self.itos)
        cid = np.zeros(len(pos), dtype=np.int64)
        seen = np.ones(len(pos), dtype=bool)
        for depth, level in enumerate(comp["levels"]):  # walk the context trie one word at a time
            cid, found = level.get(cid * B + padded[pos - (j - 1) + depth])
            seen &= found
        total = np.where(seen, comp["totals"][cid], 0)
        types_after = np.where(seen, comp["types_after"][cid], 0)
        count, found = comp["grams"].get(cid * B + padded[pos])
        count = np.where(seen & found, count, 0)
        return count, total, types_after

    def _word_index(self) -> dict[str, int]:
        """token -> id for predicted words (unknown words and a literal "<s>" -> <unk>)."""
        if "_words" not in self.__dict__:

            class _Index(dict):
                def __missing__(self, key: str) -> int:
                    return 2

            words = _Index(self.stoi)
            del words[BOS]
            self.__dict__["_words"] = words
        return self.__dict__["_words"]

    def batch_probabilities(
        self, sentences: Sequence[Sequence[str]], smoothing: str = "mle", k: float = 1.0, discount: float = 0.75
    ) -> tuple[np.ndarray, np.ndarray]:
        """P(w | context) for every predicted token of every sentence (</s> included), vectorised.

        Returns (probabilities, offsets): sentence s owns probabilities[offsets[s]:offsets[s+1]].
        """
        smoothing, k, discount = validate_smoothing(smoothing, k, discount)
        n = self.n
        words = self._word_index()
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        flat = list(chain.from_iterable(sentences))
        ids = np.fromiter(map(words.__getitem__, flat), dtype=np.int64, count=len(flat))
        # layout: sentence s takes n-1 slots of <s> (id 0), its words, then </s> (id 1)
        slots = lengths + n
        starts = np.cumsum(slots) - slots
        padded = np.zeros(int(slots.sum()), dtype=np.int64)
        word_start = np.repeat(starts + (n - 1) - (np.cumsum(lengths) - lengths), lengths)
        padded[word_start + np.arange(len(flat))] = ids
        padded[starts + (n - 1) + lengths] = 1
        is_pad = np.zeros(len(padded), dtype=bool)
        is_pad[(starts[:, None] + np.arange(n - 1)).ravel()] = True
        pos = np.flatnonzero(~is_pad)
        offsets = np.concatenate([[0], np.cumsum(lengths + 1)]).astype(np.int64)
        if smoothing == "kn":
            p = np.full(len(pos), 1.0 / self.vocab_size)
            for order in range(1, n + 1):
                c, total, types_after = self._lookup(order, padded, pos)
                safe = np.maximum(total, 1)
                p = np.where(total > 0, np.maximum(c - discount, 0.0) / safe + discount * types_after / safe * p, p)
            return p, offsets
        c, total, _ = self._lookup(n, padded, pos)
        if smoothing == "mle":
            return np.where(total > 0, c / np.maximum(total, 1), 0.0), offsets
        return (c + k) / (total + k * self.vocab_size), offsets

    def batch_logprobs(self, sentences: Sequence[Sequence[str]], **kw: Any) -> np.ndarray:
        """Natural-log probability of each sentence (-inf where some token has probability 0)."""
        p, offsets = self.batch_probabilities(sentences, **kw)
        with np.errstate(divide="ignore"):
            logp = np.log(p)
        if len(offsets) == 1:
            return np.zeros(0)
        return np.add.reduceat(logp, offsets[:-1])  # every sentence has ≥ 1 predicted token (</s>)

    def corpus_perplexity(self, sentences: Sequence[Sequence[str]], **kw: Any) -> float:
        """exp(−(Σ ln P) / number of predicted tokens) over many sentences."""
        p, _ = self.batch_probabilities(sentences, **kw)
        if (p == 0).any():
            return math.inf
        return float(math.exp(-np.log(p).sum() / len(p)))


# ----------------------------------------------------------------------------------------------
# Validation and the cached models


def validate_n(n: Any) -> int:
    try:
        v = int(n)
        if isinstance(n, bool) or v != float(n):
            raise ValueError
    except (TypeError, ValueError):
        raise DemoInputError(f"n 必须是整数（1 到 {MAX_N}），收到 {n!r}", f"n must be an integer from 1 to {MAX_N}, got {n!r}") from None
    if v < 1:
        raise DemoInputError(f"n 必须 ≥ 1（1=unigram 一元，2=bigram 二元…），收到 {v}", f"n must be at least 1 (1 = unigram, 2 = bigram, …), got {v}")
    if v > MAX_N:
        raise DemoInputError(f"n 最大为 {MAX_N}（更高阶在小语料上几乎全是没见过的 n-gram），收到 {v}", f"n may be at most {MAX_N} (higher orders are almost all unseen on a small corpus), got {v}")
    return v


def validate_smoothing(smoothing: Any, k: Any = None, discount: Any = None) -> tuple[str, float, float]:
    name, implied_k = normalize_smoothing(smoothing)
    kk = implied_k if implied_k is not None and k is None else (1.0 if k is None else k)
    dd = 0.75 if discount is None else discount
    try:
        kk, dd = float(kk), float(dd)
    except (TypeError, ValueError):
        raise DemoInputError(f"k 和 discount 必须是数字，收到 k={k!r}, discount={discount!r}", f"k and discount must be numbers, got k={k!r}, discount={discount!r}") from None
    if name == "addk" and not (0 < kk <= MAX_K and math.isfinite(kk)):
        raise DemoInputError(f"add-k 的 k 必须满足 0 < k ≤ {MAX_K:g}（k=1 即拉普拉斯），收到 {kk}", f"add-k needs 0 < k ≤ {MAX_K:g} (k = 1 is Laplace), got {kk}")
    if name == "kn" and not (0 < dd <= 1):
        raise DemoInputError(f"Kneser-Ney 的折扣 discount 必须满足 0 < d ≤ 1（常用 0.75），收到 {dd}", f"the Kneser-Ney discount must satisfy 0 < d ≤ 1 (0.75 is usual), got {dd}")
    return name, kk, dd


def _sentences_from_text(text: str, mode: str) -> tuple[tuple[tuple[str, ...], ...], str]:
    resolved = resolve_tokenization(text, mode)
    sents = tuple(tuple(t) for t in (tokenize(s, resolved) for s in split_sentences(text)) if t)
    return sents, resolved


def default_model(n: int, tokenization: str = "auto") -> NgramModel:
    """The model on the course notes, trained once per (n, tokenization) in this process."""
    return _course_model(validate_n(n), resolve_tokenization(course_notes_text(), tokenization))


@lru_cache(maxsize=16)
def _course_model(n: int, resolved: str) -> NgramModel:
    return NgramModel(course_sentences(resolved), n, tokenization=resolved, source="课程笔记 course notes")


@lru_cache(maxsize=8)
def _text_model(text: str, n: int, tokenization: str, source: str) -> NgramModel:
    sents, resolved = _sentences_from_text(text, tokenization)
    if not sents:
        raise DemoInputError("训练文本里没有任何词；请给出至少一个句子", "the training text has no tokens; give at least one sentence")
    return NgramModel(sents, n, tokenization=resolved, source=source)


def get_model(n: int = 2, *, corpus_text: str | None = None, corpus_path: str | Path | None = None, tokenization: str = "auto") -> NgramModel:
    """The course-notes model (default), or one trained on `corpus_text` / the file(s) at `corpus_path`."""
    n = validate_n(n)
    resolve_tokenization("", tokenization)  # validate the name early
    tok = (tokenization or "auto").strip().lower()
    if corpus_text is not None and corpus_path is not None:
        raise DemoInputError("请只给一种训练语料：文本或文件路径", "give only one training corpus: text or a file path")
    if corpus_text is not None:
        if not isinstance(corpus_text, str) or not corpus_text.strip():
            raise DemoInputError("训练文本是空的", "the training text is empty")
        size = len(corpus_text.encode("utf-8"))
        if size > MAX_CORPUS_BYTES:
            raise DemoInputError(
                f"训练文本有 {size / 1e6:.1f} MB，超过交互演示上限 {MAX_CORPUS_BYTES / 1e6:.0f} MB",
                f"the training text is {size / 1e6:.1f} MB, over the interactive limit of {MAX_CORPUS_BYTES / 1e6:.0f} MB",
            )
        return _text_model(corpus_text, n, tok, "用户文本 user text")
    if corpus_path is not None:
        text = read_corpus_path(corpus_path)
        return _text_model(text, n, tok, f"文件 file {Path(corpus_path).name}")
    return default_model(n, tok)


def score_sentence(
    sentence: str,
    *,
    n: int = 2,
    smoothing: str = "mle",
    k: float | None = None,
    discount: float | None = None,
    corpus_text: str | None = None,
    corpus_path: str | Path | None = None,
    tokenization: str = "auto",
) -> NgramScore:
    """Score one sentence: each token's P(w | context), ln P, perplexity, V."""
    smoothing, kk, dd = validate_smoothing(smoothing, k, discount)
    model = get_model(n, corpus_text=corpus_text, corpus_path=corpus_path, tokenization=tokenization)
    return model.score(sentence, smoothing=smoothing, k=kk, discount=dd)


def compare_sentences(a: str, b: str, **kw: Any) -> NgramComparison:
    """Score two sentences with the same model, e.g. “注意力机制” vs “机制注意力”."""
    return NgramComparison(score_sentence(a, **kw), score_sentence(b, **kw))


def iter_contexts(model: NgramModel) -> Iterable[tuple[int, ...]]:
    """Every context seen at the highest order (for checking that distributions sum to 1)."""
    return model.table[model.n].keys()
