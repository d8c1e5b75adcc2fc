"""Masks in Transformers: causal (look-ahead) masks, padding masks, and BERT's masked-LM corruption.

Conventions
  * 0/1 masks: 1 = may attend / real token, 0 = masked / padding.
  * additive masks: 0 where allowed, -inf where masked; they are *added* to the scores before softmax.
    In JSON (`to_dict`) -inf is the string "-inf" (JSON has no infinity).
  * causal: query i sees keys 0 … i (lower triangle).
  * padding: for a batch of lengths [3, 5, 2] padded to L = 5, sequence b has 1s in its first
    lengths[b] positions. As an attention mask it hides the padded *keys* of every query row
    (rows of padded queries are computed but ignored later). Combined = causal AND padding.

BERT masked-LM recipe (Devlin et al. 2019): choose `rate` (15%) of the tokens to predict; of those,
80% become [MASK], 10% a random token from the vocabulary, 10% stay unchanged; the model must predict
the original token at every chosen position (`labels`; null elsewhere, where HF uses -100).
Selection "exact" (default, as in BERT's create_pretraining_data.py): max(1, round(rate·n)) positions
per sequence, chosen uniformly; "bernoulli" (as in Hugging Face's data collator): each token
independently with probability `rate`. Everything is driven by one numpy Generator seeded by `seed`,
so the same text, seed and vocabulary always give the same corruption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from tutor.tools.errors import DemoInputError
from tutor.tools.parsing import as_int_list, display_width, pad_display, to_jsonable

MASK_TOKEN = "[MASK]"
MAX_MASK_SIZE = 64  # causal / padding matrices
MAX_BATCH = 16
MAX_MLM_TOKENS = 200  # one demo sentence
MAX_STATS_BYTES = 2_000_000  # text for the statistics mode
STATS_SEQ_LEN = 128  # the statistics mode cuts the token stream into sequences of this length


def additive(allowed01: np.ndarray) -> np.ndarray:
    """0/1 mask -> additive mask (0 where 1, -inf where 0)."""
    return np.where(np.asarray(allowed01) > 0, 0.0, -np.inf)


def _grid(m: np.ndarray, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None, inf: bool = False) -> str:
    m = np.atleast_2d(m)
    rl = list(row_labels) if row_labels is not None else [str(i) for i in range(m.shape[0])]
    cl = list(col_labels) if col_labels is not None else [str(j) for j in range(m.shape[1])]
    w = max(5 if inf else 3, *(display_width(c) + 1 for c in cl))
    lw = max(display_width(r) for r in rl)
    lines = [" " * lw + " " + "".join(pad_display(c, w) for c in cl)]
    for label, row in zip(rl, m):
        cells = ["-inf" if (inf and math.isinf(x)) else (f"{x:g}" if inf else str(int(x))) for x in row]
        lines.append(pad_display(label, lw, left=True) + " " + "".join(pad_display(c, w) for c in cells))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Causal / padding masks


@dataclass
class MaskResult:
    kind: str  # "causal" | "padding" | "combined"
    matrix: np.ndarray  # 0/1: causal n×n; padding batch×L; combined batch×L×L
    additive: np.ndarray  # same shape as `attention` (0 / -inf)
    attention: np.ndarray  # the mask as used inside attention: n×n or batch×L×L
    size: int | None = None
    lengths: list[int] | None = None
    tokens: list[str] | None = None  # a causal mask over a sentence: its tokens label rows and columns

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "kind": self.kind,
                "size": self.size,
                "lengths": self.lengths,
                "tokens": self.tokens,
                "matrix": self.matrix.astype(int),
                "attention_mask": self.attention.astype(int),
                "additive": self.additive,
                "convention": "1 = 可以关注 may attend / real token, 0 = 屏蔽 masked / padding; additive: 0 or \"-inf\" (string)",
            }
        )

    def _title(self) -> str:
        if self.kind == "causal" and self.tokens:
            return (f"因果（前瞻）掩码 / causal (look-ahead) mask, n={self.size}（“{' '.join(self.tokens)}”）: "
                    "每个词只能看到它自己和前面的词 / each token sees itself and the tokens before it")
        if self.kind == "causal":
            return f"因果（前瞻）掩码 / causal (look-ahead) mask, n={self.size}: 第 i 个位置只能看到 0…i / position i sees 0…i"
        if self.kind == "padding":
            return f"填充掩码 / padding mask, lengths={self.lengths}, L={self.matrix.shape[1]}: 1=真实 token real, 0=填充 pad"
        return f"因果 + 填充 / causal + padding, lengths={self.lengths}: 两者同时为 1 才能关注 / attend only where both allow"

    def to_table(self) -> str:
        out = [self._title(), ""]
        if self.kind == "causal":
            out += ["0/1 矩阵 / 0/1 matrix (行 query, 列 key):", _grid(self.matrix, self.tokens, self.tokens), "",
                    "加性掩码 / additive mask (加到分数上 added to scores):", _grid(self.additive, self.tokens, self.tokens, inf=True)]
        elif self.kind == "padding":
            out += ["0/1 填充掩码 / padding mask (行 = 序列 sequence):", _grid(self.matrix, [f"seq{b}" for b in range(self.matrix.shape[0])])]
            for b in range(self.attention.shape[0]):
                out += ["", f"序列 seq{b}（长度 length {self.lengths[b]}）注意力掩码 / attention mask (key padding):", _grid(self.attention[b])]
        else:
            for b in range(self.attention.shape[0]):
                out += [f"序列 seq{b}（长度 length {self.lengths[b]}）因果+填充 / causal+padding:", _grid(self.attention[b]), ""]
                out += ["加性 / additive:", _grid(self.additive[b], inf=True), ""]
        return "\n".join(out).rstrip()

    def summary(self) -> str:
        if self.kind == "causal" and self.size is not None and self.size <= 10:
            return self._title() + "\n" + _grid(self.matrix, self.tokens, self.tokens) + "\n加性形式 additive: 1→0, 0→-inf"
        if self.kind == "padding":
            return self._title() + "\n" + _grid(self.matrix, [f"seq{b}" for b in range(self.matrix.shape[0])])
        if self.kind == "combined" and self.matrix.shape[-1] <= 8:
            return self._title() + "\n" + "\n".join(f"seq{b}:\n" + _grid(self.attention[b]) for b in range(self.attention.shape[0]))
        return self._title() + "\n（矩阵较大，完整数值见界面 / matrix is large; full numbers in the UI）"


def _validate_size(n: Any) -> int:
    try:
        v = int(n)
        if isinstance(n, bool) or v != float(n):
            raise ValueError
    except (TypeError, ValueError):
        raise DemoInputError(f"长度 size 必须是正整数，收到 {n!r}", f"size must be a positive integer, got {n!r}") from None
    if not 1 <= v <= MAX_MASK_SIZE:
        raise DemoInputError(f"长度 size 必须在 1 到 {MAX_MASK_SIZE} 之间，收到 {v}", f"size must be between 1 and {MAX_MASK_SIZE}, got {v}")
    return v


def causal_mask(n: Any = None, *, text: str | None = None, tokenization: str = "auto") -> MaskResult:
    """Lower-triangular n×n: query i may look at keys j ≤ i, never at the future. Given `text` instead of
    n, the mask is over the sentence's tokens (n = their number), which label its rows and columns."""
    tokens = None
    if n is None and text is not None:
        if not isinstance(text, str) or not text.strip():
            raise DemoInputError("句子是空的；请给出一个句子或长度", "the sentence is empty; give a sentence or a size")
        tokens, _ = mlm_tokens(text.strip(), tokenization)
        n = len(tokens)
    n = _validate_size(n)
    m = np.tril(np.ones((n, n), dtype=int))
    return MaskResult(kind="causal", matrix=m, additive=additive(m), attention=m, size=n, tokens=tokens)


def _validate_lengths(lengths: Any, max_len: Any = None) -> tuple[list[int], int]:
    if lengths is None:
        raise DemoInputError("缺少各序列的长度 lengths，例如 [3,5,2]", "lengths are missing: give the length of each sequence, e.g. [3,5,2]")
    ls = as_int_list(lengths, "长度 lengths")
    if len(ls) > MAX_BATCH:
        raise DemoInputError(f"一批最多 {MAX_BATCH} 个序列，收到 {len(ls)} 个", f"at most {MAX_BATCH} sequences per batch, got {len(ls)}")
    if any(x < 0 for x in ls):
        raise DemoInputError(f"序列长度不能为负：{ls}", f"sequence lengths cannot be negative: {ls}")
    L = max(ls) if max_len is None else _validate_size(max_len)
    if L < 1:
        raise DemoInputError("所有序列长度都是 0；至少一个序列要有 token", "all lengths are 0; at least one sequence needs tokens")
    if L > MAX_MASK_SIZE:
        raise DemoInputError(f"最长序列 {L} 超过演示上限 {MAX_MASK_SIZE}", f"the longest sequence ({L}) exceeds the demo limit of {MAX_MASK_SIZE}")
    if max(ls) > L:
        raise DemoInputError(f"有序列长度 {max(ls)} 超过了填充长度 {L}", f"a sequence of length {max(ls)} is longer than the padded length {L}")
    return ls, L


def padding_mask(lengths: Any, max_len: Any = None) -> MaskResult:
    """batch×L 0/1 mask (1 = real token) and its batch×L×L key-padding attention form."""
    ls, L = _validate_lengths(lengths, max_len)
    pad = (np.arange(L)[None, :] < np.asarray(ls)[:, None]).astype(int)
    att = np.repeat(pad[:, None, :], L, axis=1)  # every query row hides the padded keys
    return MaskResult(kind="padding", matrix=pad, additive=additive(att), attention=att, size=L, lengths=ls)


def combined_mask(lengths: Any, max_len: Any = None) -> MaskResult:
    """Causal AND key padding, batch×L×L — what a decoder uses on a padded batch."""
    ls, L = _validate_lengths(lengths, max_len)
    pad = (np.arange(L)[None, :] < np.asarray(ls)[:, None]).astype(int)
    att = np.tril(np.ones((L, L), dtype=int))[None, :, :] * pad[:, None, :]
    return MaskResult(kind="combined", matrix=att, additive=additive(att), attention=att, size=L, lengths=ls)


# ----------------------------------------------------------------------------------------------
# BERT masked-LM corruption


def mlm_tokens(text: str, tokenization: str = "auto") -> tuple[list[str], str]:
    """Tokens for MLM: 'auto' = whitespace for space-separated text, characters for Chinese
    (as bert-base-chinese does); 'jieba' gives whole Chinese words."""
    from tutor.tools.ngram import _CJK, resolve_tokenization, tokenize

    mode = (tokenization or "auto").strip().lower()
    if mode == "auto":
        mode = "char" if _CJK.search(text) and resolve_tokenization(text, "auto") != "whitespace" else "whitespace"
    else:
        mode = resolve_tokenization(text, mode)
    return tokenize(text, mode), mode


@lru_cache(maxsize=4)
def course_vocabulary(mode: str) -> tuple[str, ...]:
    """Sorted distinct tokens of the course notes under a tokenization (the random-token pool)."""
    from tutor.tools.ngram import course_notes_text, split_sentences, tokenize

    text = course_notes_text()
    vocab = {t for s in split_sentences(text) for t in tokenize(s, mode)}
    return tuple(sorted(vocab))


def _vocab_for(tokens: Sequence[str], mode: str, vocab: Sequence[str] | None) -> tuple[list[str], str]:
    if vocab is not None:
        v = sorted({str(t) for t in vocab if str(t).strip()})
        if not v:
            raise DemoInputError("随机替换用的词表是空的", "the vocabulary for random replacement is empty")
        return v, f"给定词表 given vocabulary ({len(v)})"
    if mode in ("char", "jieba"):
        v = sorted(set(course_vocabulary(mode)) | set(tokens))
        return v, f"课程笔记词表 course-notes vocabulary ({mode}, {len(v)})"
    v = sorted(set(tokens))
    return v, f"本文本的词 this text's own tokens ({len(v)})"


def _validate_rate(rate: Any) -> float:
    try:
        r = float(rate)
    except (TypeError, ValueError):
        raise DemoInputError(f"掩码比例 rate 必须是 0 到 1 之间的数，收到 {rate!r}", f"rate must be a number between 0 and 1, got {rate!r}") from None
    if not (0 < r <= 1) or math.isnan(r):
        raise DemoInputError(f"掩码比例 rate 必须满足 0 < rate ≤ 1（BERT 用 0.15），收到 {r}", f"rate must satisfy 0 < rate ≤ 1 (BERT uses 0.15), got {r}")
    return r


def _validate_probs(probs: Sequence[float]) -> tuple[float, float, float]:
    if len(probs) != 3 or any((not isinstance(p, (int, float))) or p < 0 for p in probs) or abs(sum(probs) - 1) > 1e-9:
        raise DemoInputError(
            f"替换比例必须是三个非负数且和为 1（[MASK], 随机, 不变），收到 {list(probs)}",
            f"replacement proportions must be three non-negative numbers summing to 1 ([MASK], random, unchanged), got {list(probs)}",
        )
    return float(probs[0]), float(probs[1]), float(probs[2])


def _validate_selection(selection: str) -> str:
    s = (selection or "exact").strip().lower()
    if s not in ("exact", "bernoulli"):
        raise DemoInputError(f"未知的选择方式 “{selection}”；可选 exact（BERT 原版）或 bernoulli（逐词独立）", f"unknown selection {selection!r}; expected 'exact' (original BERT) or 'bernoulli' (independent per token)")
    return s


def _select(n: int, rate: float, selection: str, rng: np.random.Generator) -> np.ndarray:
    """Positions (sorted) chosen for prediction in one sequence of n tokens."""
    if selection == "bernoulli":
        return np.flatnonzero(rng.random(n) < rate)
    count = min(n, max(1, int(round(n * rate))))
    return np.sort(rng.choice(n, size=count, replace=False))


def _actions(count: int, probs: tuple[float, float, float], vocab_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """0 = [MASK], 1 = random token, 2 = unchanged, for each selected position; plus random token ids."""
    u = rng.random(count)
    action = np.where(u < probs[0], 0, np.where(u < probs[0] + probs[1], 1, 2))
    random_ids = rng.integers(0, vocab_size, size=count)
    return action, random_ids


ACTION_NAMES = ("mask", "random", "keep")


@dataclass
class MlmResult:
    text: str
    tokens: list[str]
    selected: list[int]
    actions: list[str]  # one per selected position: mask | random | keep
    output_tokens: list[str]
    labels: list[str | None]
    rate: float
    seed: int
    selection: str
    tokenization: str
    vocab_source: str
    mask_token: str = MASK_TOKEN

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "text": self.text,
                "tokens": self.tokens,
                "selected": self.selected,
                "actions": self.actions,
                "replacements": [
                    {"position": p, "original": self.tokens[p], "became": self.output_tokens[p], "action": a}
                    for p, a in zip(self.selected, self.actions)
                ],
                "output_tokens": self.output_tokens,
                "labels": self.labels,
                "rate": self.rate,
                "seed": self.seed,
                "selection": self.selection,
                "tokenization": self.tokenization,
                "vocab_source": self.vocab_source,
                "mask_token": self.mask_token,
                "convention": "labels[i] = 模型要预测的原词 the original token to predict; null = 不预测 not predicted (HF: -100)",
            }
        )

    def _rows(self) -> list[str]:
        names = ({"mask": "→[MASK] 指定遮住 chosen"} if self.selection == "chosen" else
                 {"mask": "→[MASK] 80%", "random": "→随机词 random 10%", "keep": "不变 unchanged 10%"})
        rows = []
        for p, a in zip(self.selected, self.actions):
            rows.append(f"  位置 pos {p:>3}: {self.tokens[p]} → {self.output_tokens[p]}   ({names[a]}; 标签 label = {self.tokens[p]})")
        return rows

    def summary(self) -> str:
        head = (
            f"BERT 掩码语言模型 / masked LM: {len(self.tokens)} 个 token（{self.tokenization}），"
            + (f"遮住指定的 {len(self.selected)} 个 / masking the {len(self.selected)} chosen" if self.selection == "chosen" else
               f"选中 selected {len(self.selected)} 个 (rate={self.rate:g}, seed={self.seed}, {self.selection})")
        )
        return "\n".join([head, "原句 input:  " + " ".join(self.tokens), "输入 output: " + " ".join(self.output_tokens), *self._rows()])

    def to_table(self) -> str:
        lines = [self.summary(), "", f"随机词来源 / random-token pool: {self.vocab_source}", ""]
        lines.append(f"{'#':>4}  {pad_display('原词 token', 12, left=True)} {pad_display('输入 input', 12, left=True)} 标签 label")
        for i, (t, o, lab) in enumerate(zip(self.tokens, self.output_tokens, self.labels)):
            lines.append(f"{i:>4}  {pad_display(t, 12, left=True)} {pad_display(o, 12, left=True)} {lab if lab is not None else '-'}")
        return "\n".join(lines)


def mlm_corrupt(
    text: str | None = None,
    *,
    tokens: Sequence[str] | None = None,
    rate: float = 0.15,
    seed: int = 0,
    probs: Sequence[float] = (0.8, 0.1, 0.1),
    selection: str = "exact",
    tokenization: str = "auto",
    vocab: Sequence[str] | None = None,
    mask_token: str = MASK_TOKEN,
    positions: Sequence[int] | None = None,
    words: Sequence[str] | None = None,
) -> MlmResult:
    """Corrupt one sentence the BERT way; report positions, what each became and the labels.

    `positions` (0-based) or `words` name the tokens to hide instead of the random 15 % choice: each
    becomes [MASK] and is a label, as in a fill-in-the-blank ("把第 3 个词遮住")."""
    rate = _validate_rate(rate)
    p = _validate_probs(probs)
    selection = _validate_selection(selection)
    seed = _validate_seed(seed)
    if tokens is None:
        if not isinstance(text, str) or not text.strip():
            raise DemoInputError("文本是空的；请给出一个句子，例如 “注意力机制是 Transformer 的核心”", "the text is empty; give a sentence, e.g. 'the cat sat on the mat'")
        toks, mode = mlm_tokens(text.strip(), tokenization)
    else:
        toks, mode = [str(t) for t in tokens], "given"
        text = text if text is not None else " ".join(toks)
    if not toks:
        raise DemoInputError("文本里没有 token", "the text has no tokens")
    if len(toks) > MAX_MLM_TOKENS:
        raise DemoInputError(
            f"句子有 {len(toks)} 个 token，演示上限是 {MAX_MLM_TOKENS}；长文本请用统计模式（--stats）",
            f"the sentence has {len(toks)} tokens; the demo limit is {MAX_MLM_TOKENS}; use the statistics mode (--stats) for long text",
        )
    pool, pool_source = _vocab_for(toks, mode, vocab)
    rng = np.random.default_rng(seed)
    chosen = _chosen_positions(toks, positions, words)
    if chosen is None:
        positions = _select(len(toks), rate, selection, rng)
        action, rand_ids = _actions(len(positions), p, len(pool), rng)
    else:
        positions, selection = np.asarray(chosen, dtype=int), "chosen"
        action, rand_ids = np.zeros(len(chosen), dtype=int), np.zeros(len(chosen), dtype=int)
    out = list(toks)
    labels: list[str | None] = [None] * len(toks)
    for pos, a, r in zip(positions, action, rand_ids):
        labels[pos] = toks[pos]
        if a == 0:
            out[pos] = mask_token
        elif a == 1:
            out[pos] = pool[r]
    return MlmResult(
        text=str(text).strip(), tokens=toks, selected=[int(x) for x in positions], actions=[ACTION_NAMES[a] for a in action],
        output_tokens=out, labels=labels, rate=rate, seed=seed, selection=selection, tokenization=mode,
        vocab_source=pool_source, mask_token=mask_token,
    )


def _chosen_positions(tokens: list[str], positions: Sequence[int] | None, words: Sequence[str] | None) -> list[int] | None:
    """The 0-based positions the student named (by index or by word), sorted; None when none were named."""
    if positions is None and not words:
        return None
    out: set[int] = set()
    for p in positions or []:
        try:
            i = int(p)
        except (TypeError, ValueError):
            raise DemoInputError(f"位置必须是整数，收到 {p!r}", f"positions must be integers, got {p!r}") from None
        if not 0 <= i < len(tokens):
            raise DemoInputError(
                f"句子只有 {len(tokens)} 个 token（{' '.join(tokens)}），没有第 {i + 1} 个",
                f"the sentence has {len(tokens)} tokens ({' '.join(tokens)}); there is no token number {i + 1}",
            )
        out.add(i)
    for w in words or []:
        hits = [i for i, t in enumerate(tokens) if t == w]
        if not hits:
            raise DemoInputError(
                f"句子里没有 “{w}” 这个 token；它的 token 是：{' '.join(tokens)}",
                f"{w!r} is not a token of the sentence; its tokens are: {' '.join(tokens)}",
            )
        out.update(hits)
    return sorted(out)


def _validate_seed(seed: Any) -> int:
    try:
        s = int(seed)
        if isinstance(seed, float) and s != seed:
            raise ValueError
    except (TypeError, ValueError):
        raise DemoInputError(f"随机种子 seed 必须是非负整数，收到 {seed!r}", f"seed must be a non-negative integer, got {seed!r}") from None
    if not 0 <= s < 2**32:
        raise DemoInputError(f"随机种子 seed 必须在 0 到 2^32-1 之间，收到 {s}", f"seed must be between 0 and 2^32-1, got {s}")
    return s


@dataclass
class MlmStatistics:
    tokens: int
    sequences: int
    selected: int
    masked: int
    randomized: int
    kept: int
    random_equal_original: int
    rate: float
    probs: tuple[float, float, float]
    seed: int
    selection: str
    tokenization: str
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def rates(self) -> dict[str, float]:
        sel = max(self.selected, 1)
        return {
            "selected": self.selected / max(self.tokens, 1),
            "mask": self.masked / sel,
            "random": self.randomized / sel,
            "keep": self.kept / sel,
        }

    @property
    def expected(self) -> dict[str, float]:
        return {"selected": self.rate, "mask": self.probs[0], "random": self.probs[1], "keep": self.probs[2]}

    def standard_errors(self) -> dict[str, float]:
        """Binomial standard error of each realised rate (how far chance alone moves it)."""
        e = self.expected
        sel = max(self.selected, 1)
        return {
            "selected": math.sqrt(e["selected"] * (1 - e["selected"]) / max(self.tokens, 1)),
            **{k: math.sqrt(e[k] * (1 - e[k]) / sel) for k in ("mask", "random", "keep")},
        }

    def to_dict(self) -> dict[str, Any]:
        r, e = self.rates, self.expected
        return to_jsonable(
            {
                "tokens": self.tokens,
                "sequences": self.sequences,
                "counts": {"selected": self.selected, "mask": self.masked, "random": self.randomized, "keep": self.kept, "random_equal_original": self.random_equal_original},
                "realised": r,
                "expected": e,
                "deviation_points": {k: 100 * (r[k] - e[k]) for k in r},
                "standard_error_points": {k: 100 * v for k, v in self.standard_errors().items()},
                "seed": self.seed,
                "selection": self.selection,
                "tokenization": self.tokenization,
                "source": self.source,
                "notes": self.notes,
            }
        )

    def to_table(self) -> str:
        r, e, se = self.rates, self.expected, self.standard_errors()
        lines = [
            f"BERT 掩码统计 / masked-LM statistics: {self.tokens} 个 token, {self.sequences} 个序列 sequences (≤{STATS_SEQ_LEN}), "
            f"seed={self.seed}, {self.selection}, {self.tokenization}, 来源 source: {self.source}",
            "",
            pad_display("项目 item", 32, left=True)
            + "".join(pad_display(h, w) for h, w in (("次数 count", 12), ("实际 realised", 16), ("期望 expected", 16), ("偏差 dev (pp)", 16), ("标准误 SE (pp)", 17))),
        ]
        names = {"selected": ("被选中 / selected (of tokens)", self.selected), "mask": ("→[MASK] (of selected)", self.masked),
                 "random": ("→随机 random (of selected)", self.randomized), "keep": ("不变 unchanged (of selected)", self.kept)}
        for key, (label, count) in names.items():
            lines.append(
                f"{pad_display(label, 32, left=True)}{count:>12}{100 * r[key]:>15.2f}%{100 * e[key]:>15.2f}%{100 * (r[key] - e[key]):>+16.2f}{100 * se[key]:>17.2f}"
            )
        lines.extend(self.notes)
        return "\n".join(lines)

    def summary(self) -> str:
        r = self.rates
        return (
            f"BERT 掩码统计 / MLM statistics over {self.tokens} tokens: 选中 selected {100 * r['selected']:.2f}% (期望 expected {100 * self.rate:g}%), "
            f"其中 of which [MASK] {100 * r['mask']:.2f}%, 随机 random {100 * r['random']:.2f}%, 不变 unchanged {100 * r['keep']:.2f}% "
            f"(期望 expected {100 * self.probs[0]:g}/{100 * self.probs[1]:g}/{100 * self.probs[2]:g})"
        )


def mlm_statistics(
    text: str | None = None,
    *,
    tokens: Sequence[str] | None = None,
    rate: float = 0.15,
    seed: int = 0,
    probs: Sequence[float] = (0.8, 0.1, 0.1),
    selection: str = "exact",
    tokenization: str = "auto",
    vocab: Sequence[str] | None = None,
    seq_len: int = STATS_SEQ_LEN,
    source: str | None = None,
) -> MlmStatistics:
    """Run the corruption over a long text (cut into sequences of `seq_len` tokens) and count the
    realised rates. Default text: the course notes."""
    rate = _validate_rate(rate)
    p = _validate_probs(probs)
    selection = _validate_selection(selection)
    seed = _validate_seed(seed)
    if tokens is None:
        if text is None:
            from tutor.tools.ngram import course_notes_text

            text = course_notes_text()
            source = source or "课程笔记 course notes"
        if not isinstance(text, str) or not text.strip():
            raise DemoInputError("统计模式需要一段文本", "the statistics mode needs some text")
        if len(text.encode("utf-8")) > MAX_STATS_BYTES:
            raise DemoInputError(f"文本超过 {MAX_STATS_BYTES / 1e6:.0f} MB 的上限", f"the text exceeds the {MAX_STATS_BYTES / 1e6:.0f} MB limit")
        toks, mode = mlm_tokens(text, tokenization)
    else:
        toks, mode = [str(t) for t in tokens], "given"
    if not toks:
        raise DemoInputError("文本里没有 token", "the text has no tokens")
    pool, _ = _vocab_for(toks, mode, vocab) if mode != "given" or vocab is not None else (sorted(set(toks)), "")
    pool_index = {t: i for i, t in enumerate(pool)}
    ids = np.fromiter((pool_index.get(t, -1) for t in toks), dtype=np.int64, count=len(toks))
    rng = np.random.default_rng(seed)
    selected_total = masked = randomized = kept = same = 0
    sequences = 0
    for start in range(0, len(toks), seq_len):
        chunk = ids[start : start + seq_len]
        sequences += 1
        positions = _select(len(chunk), rate, selection, rng)
        action, rand_ids = _actions(len(positions), p, len(pool), rng)
        selected_total += len(positions)
        masked += int((action == 0).sum())
        randomized += int((action == 1).sum())
        kept += int((action == 2).sum())
        same += int(((action == 1) & (rand_ids == chunk[positions])).sum())
    notes = []
    if selection == "exact":
        notes.append(
            f"exact：每个序列恰好选 max(1, round({rate:g}·n)) 个，选中比例几乎是固定的；要看随机波动请用 bernoulli / "
            "exact picks max(1, round(rate·n)) per sequence, so the selected share is nearly fixed; use bernoulli to see sampling noise"
        )
    return MlmStatistics(
        tokens=len(toks), sequences=sequences, selected=selected_total, masked=masked, randomized=randomized, kept=kept,
        random_equal_original=same, rate=rate, probs=p, seed=seed, selection=selection, tokenization=mode,
        source=source or ("给定文本 given text" if text is not None else "给定 token given tokens"), notes=notes,
    )
