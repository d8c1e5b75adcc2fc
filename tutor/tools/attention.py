"""Scaled dot-product attention and multi-head attention, step by step, on a student's own numbers.

    scores        = Q Kᵀ                      (n×m: one row per query, one column per key)
    scaled_scores = scores / √d_k
    masked_scores = scaled_scores, with -inf where a query may not look (causal / padding)
    weights       = softmax(masked_scores) row by row        (every row sums to 1)
    output        = weights V

Multi-head attention (as in `torch.nn.MultiheadAttention`, no biases) first projects the inputs,
Q' = Q W_q, K' = K W_k, V' = V W_v (every W is d_in×d_model), cuts the d_model columns into h
heads of d_model/h columns each, runs the attention above in every head with d_k = d_model/h,
concatenates the head outputs and projects once more: output = concat · W_o.

Conventions (all float64, numpy):
  * causal mask: query i may look at keys j ≤ i (top-left aligned, same as torch's `is_causal`);
  * padding mask: one 0/1 per key, 1 = real token, 0 = padding (never attended to);
  * a query row whose keys are all masked gets weights 0 and output 0 (what torch returns), with a note;
  * matrices here use the "x @ W" convention; torch's Linear weights are the transposes.
  * In JSON (`to_dict`), -inf is written as the string "-inf" (JSON has no infinity).

`attention_from_text` builds toy Q/K/V from a sentence (seeded embeddings + sinusoidal positions +
seeded projections), or from any `qkv_provider(sentence) -> (tokens, Q, K, V)`, e.g. the tutor GPT.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from tutor.tools.errors import DemoInputError
from tutor.tools.parsing import as_int_list, as_matrix, display_width, pad_display, to_jsonable

# Interactive limits: big enough for any classroom example, small enough to print and plot.
MAX_LEN = 64  # rows of Q, rows of K/V, tokens of a sentence
MAX_DIM = 256  # columns of Q/K/V, d_model
MAX_HEADS = 16

QkvProvider = Callable[[str], tuple[Sequence[str], Any, Any, Any]]


# ----------------------------------------------------------------------------------------------
# The math


def softmax_rows(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax that tolerates -inf; a row that is entirely -inf becomes all zeros."""
    x = np.asarray(x, dtype=np.float64)
    row_max = np.max(x, axis=-1, keepdims=True)
    all_masked = ~np.isfinite(row_max)
    shifted = x - np.where(all_masked, 0.0, row_max)  # subtract the max for numerical stability
    e = np.exp(shifted)  # exp(-inf) = 0
    total = e.sum(axis=-1, keepdims=True)
    return np.where(all_masked, 0.0, e / np.where(total == 0, 1.0, total))


def causal_allowed(n: int, m: int | None = None) -> np.ndarray:
    """Boolean n×m matrix, True where query i may attend key j (j ≤ i)."""
    m = n if m is None else m
    return np.tril(np.ones((n, m), dtype=bool))


def _allowed_matrix(n: int, m: int, causal: bool, padding_mask: np.ndarray | None) -> np.ndarray:
    allowed = np.ones((n, m), dtype=bool)
    if causal:
        allowed &= causal_allowed(n, m)
    if padding_mask is not None:
        allowed &= padding_mask.astype(bool)[None, :]
    return allowed


@dataclass
class HeadSteps:
    """Every intermediate of one attention head (or of plain single-head attention)."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scores: np.ndarray
    scaled_scores: np.ndarray
    masked_scores: np.ndarray
    weights: np.ndarray
    output: np.ndarray
    fully_masked_rows: list[int]


def finite_or_error(a: np.ndarray, name: str) -> np.ndarray:
    """`a` when every entry is a finite number; else the demo says its inputs are too large: numbers
    near 1e308 overflow Q·Kᵀ to infinity, and the softmax of infinities is NaN (shown as weights of 0
    that do not sum to 1)."""
    if not np.isfinite(a).all():
        raise DemoInputError(
            f"数值太大：{name} 溢出成了无穷大，无法计算；请用绝对值小一些的数（例如不超过 1e6）",
            f"the numbers are too large: {name} overflows to infinity; use smaller values (e.g. at most 1e6 in absolute value)",
        )
    return a


def attention_steps(q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray) -> HeadSteps:
    """softmax(Q Kᵀ / √d_k + mask) V, keeping every intermediate. Inputs already validated."""
    d_k = q.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported, not printed as a warning
        scores = finite_or_error(q @ k.T, "Q·Kᵀ")
        scaled = scores / math.sqrt(d_k)
        masked = np.where(allowed, scaled, -np.inf)
        weights = softmax_rows(masked)
        output = finite_or_error(weights @ v, "输出 output = weights·V")
    dead = [int(i) for i in np.flatnonzero(~allowed.any(axis=1))]
    return HeadSteps(q, k, v, scores, scaled, masked, weights, output, dead)


# ----------------------------------------------------------------------------------------------
# Result


def _fmt(x: float, width: int = 8) -> str:
    if math.isinf(x):
        return ("-inf" if x < 0 else "inf").rjust(width)
    return f"{x:{width}.4f}"


def format_matrix(a: np.ndarray, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None) -> str:
    """A small aligned text table of a 2-D array (4 decimals, -inf kept)."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    rl = [str(x) for x in (row_labels or [f"{i}" for i in range(a.shape[0])])]
    cl = [str(x) for x in (col_labels or [f"{j}" for j in range(a.shape[1])])]
    width = max(8, max((display_width(c) for c in cl), default=0) + 1)
    lw = max((display_width(r) for r in rl), default=0)
    lines = [" " * lw + " " + "".join(pad_display(c, width) for c in cl)]
    for label, row in zip(rl, a):
        lines.append(pad_display(label, lw, left=True) + " " + "".join(_fmt(float(x), width) for x in row))
    return "\n".join(lines)




@dataclass
class AttentionResult:
    """Everything a teacher would show. Arrays are (n×m) for one head, (h×n×m) for several heads."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    heads: int
    causal: bool
    padding_mask: list[int] | None
    d_k: int
    scores: np.ndarray
    scaled_scores: np.ndarray
    masked_scores: np.ndarray
    weights: np.ndarray
    output: np.ndarray
    tokens_q: list[str] | None = None
    tokens_k: list[str] | None = None
    projections: dict[str, np.ndarray] | None = None  # w_q, w_k, w_v, w_o ("x @ W" convention)
    projection_kind: str | None = None  # "seeded" | "identity" | "given" | "mixed"
    projected: dict[str, np.ndarray] | None = None  # q_heads, k_heads, v_heads (h×n×d_h), head_outputs, concat
    source: str = "matrices"  # "matrices" | "text"
    seed: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def multi_head(self) -> bool:
        return self.projections is not None

    @property
    def scale(self) -> float:
        return 1.0 / math.sqrt(self.d_k)

    # -- presentation ------------------------------------------------------------------------

    def _labels(self) -> tuple[list[str], list[str]]:
        n, m = self.weights.shape[-2], self.weights.shape[-1]
        rows = [f"q{i}:{t}" for i, t in enumerate(self.tokens_q)] if self.tokens_q else [f"q{i}" for i in range(n)]
        cols = [f"k{j}:{t}" for j, t in enumerate(self.tokens_k)] if self.tokens_k else [f"k{j}" for j in range(m)]
        return rows, cols

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict. -inf (masked scores) appears as the string "-inf"."""
        d: dict[str, Any] = {
            "mode": "multi-head" if self.multi_head else "single-head",
            "source": self.source,
            "heads": self.heads,
            "causal": self.causal,
            "padding_mask": self.padding_mask,
            "shapes": {"Q": list(self.q.shape), "K": list(self.k.shape), "V": list(self.v.shape)},
            "d_k": self.d_k,
            "scale": self.scale,
            "tokens_q": self.tokens_q,
            "tokens_k": self.tokens_k,
            "Q": self.q,
            "K": self.k,
            "V": self.v,
            "scores": self.scores,
            "scaled_scores": self.scaled_scores,
            "masked_scores": self.masked_scores,
            "weights": self.weights,
            "output": self.output,
            "notes": self.notes,
            "json_infinity": "-inf is written as the string \"-inf\"",
        }
        if self.multi_head:
            d["projection_kind"] = self.projection_kind
            d["projections"] = self.projections
            d["projected"] = self.projected
            d["seed"] = self.seed
        return to_jsonable(d)

    def header(self) -> str:
        kind = f"多头注意力 / multi-head attention (h={self.heads})" if self.multi_head else "缩放点积注意力 / scaled dot-product attention"
        n, dq = self.q.shape
        m, dk = self.k.shape
        dv = self.v.shape[1]
        mask = []
        if self.causal:
            mask.append("因果 causal")
        if self.padding_mask is not None:
            mask.append(f"填充 padding {self.padding_mask}")
        parts = [
            kind,
            f"Q {n}×{dq}, K {m}×{dk}, V {m}×{dv}",
            f"d_k={self.d_k}, 缩放 scale 1/√{self.d_k}={self.scale:.4f}",
            f"掩码 mask: {', '.join(mask) if mask else '无 none'}",
        ]
        return " | ".join(parts)

    def summary(self, max_full: int = 6, steps: bool = False) -> str:
        """Short readable text for a student (the agent's observation). `steps`: for one head, the scores
        the weights come from, before them (raw Q·Kᵀ, scaled, masked): why one weight is larger than another."""
        rows, cols = self._labels()
        lines = [self.header()]
        w = self.weights if self.weights.ndim == 3 else self.weights[None]
        n, m = w.shape[1], w.shape[2]
        if steps and not self.multi_head and n <= max_full and m <= max_full:
            lines.append("原始分数 / raw scores Q·Kᵀ（越大越相关 / larger = more related）:")
            lines.append(format_matrix(self.scores, rows, cols))
            lines.append(f"缩放后 / scaled scores (÷√{self.d_k}):")
            lines.append(format_matrix(self.scaled_scores, rows, cols))
            if self.causal or self.padding_mask is not None:
                lines.append("加掩码后 / masked scores (-inf = 看不到 cannot see):")
                lines.append(format_matrix(self.masked_scores, rows, cols))
            lines.append("softmax 把每行分数变成权重：分数越大，权重越大 / softmax turns each row of scores into weights: the larger the score, the larger the weight")
        for h in range(w.shape[0]):
            title = f"头 head {h}: " if w.shape[0] > 1 else ""
            if n <= max_full and m <= max_full:
                lines.append(f"{title}注意力权重 / attention weights（行=query，列=key，每行和为 1）:")
                lines.append(format_matrix(w[h], rows, cols))
            else:
                lines.append(f"{title}每个 query 最关注的 key / strongest key per query:")
                for i in range(n):
                    j = int(np.argmax(w[h, i]))
                    lines.append(f"  {rows[i]} → {cols[j]} ({w[h, i, j]:.3f})")
        if self.output.shape[0] <= max_full and self.output.shape[1] <= max_full:
            lines.append("输出 / output = weights·V" + (" → concat → ·W_o" if self.multi_head else "") + ":")
            lines.append(format_matrix(self.output, rows, [f"o{j}" for j in range(self.output.shape[1])]))
        else:
            lines.append(f"输出 / output: {self.output.shape[0]}×{self.output.shape[1]}（完整数值见界面 / full numbers in the UI）")
        lines.extend(self.notes)
        return "\n".join(lines)

    def to_table(self) -> str:
        """Every step, for a person in a terminal."""
        rows, cols = self._labels()
        out = [self.header(), ""]
        if self.multi_head:
            assert self.projections is not None and self.projected is not None
            for name in ("w_q", "w_k", "w_v", "w_o"):
                out.append(f"投影矩阵 / projection {name.upper()} ({self.projection_kind}):")
                out.append(format_matrix(self.projections[name]))
            out.append("")
        single = self.weights.ndim == 2
        for h in range(1 if single else self.weights.shape[0]):
            pick = (lambda a: a) if single else (lambda a, h=h: a[h])
            if not single:
                out.append(f"======== 头 head {h} ========")
                assert self.projected is not None
                out.append("Q·W_q（本头 this head）:")
                out.append(format_matrix(self.projected["q_heads"][h], rows))
                out.append("K·W_k（本头 this head）:")
                out.append(format_matrix(self.projected["k_heads"][h], cols))
            out.append("原始分数 / raw scores Q·Kᵀ:")
            out.append(format_matrix(pick(self.scores), rows, cols))
            out.append(f"缩放后 / scaled scores (÷√{self.d_k}):")
            out.append(format_matrix(pick(self.scaled_scores), rows, cols))
            if self.causal or self.padding_mask is not None:
                out.append("加掩码后 / masked scores (-inf = 看不到 cannot see):")
                out.append(format_matrix(pick(self.masked_scores), rows, cols))
            out.append("注意力权重 / attention weights softmax（每行和为 1 / rows sum to 1）:")
            out.append(format_matrix(pick(self.weights), rows, cols))
            if not single:
                assert self.projected is not None
                out.append("本头输出 / head output:")
                out.append(format_matrix(self.projected["head_outputs"][h], rows))
            out.append("")
        if self.multi_head:
            assert self.projected is not None
            out.append("拼接 / concat(heads):")
            out.append(format_matrix(self.projected["concat"], rows))
        out.append("输出 / output" + (" = concat·W_o:" if self.multi_head else " = weights·V:"))
        out.append(format_matrix(self.output, rows, [f"o{j}" for j in range(self.output.shape[1])]))
        if self.notes:
            out.append("")
            out.extend(self.notes)
        return "\n".join(out)

    def png(self, path: str | Path | None = None) -> bytes:
        """Heatmap of the attention weights (one panel per head), labelled with tokens when known."""
        from tutor.tools.plotting import heatmap_png

        rows, cols = self._labels()
        if self.tokens_q:
            rows = list(self.tokens_q)
        if self.tokens_k:
            cols = list(self.tokens_k)
        w = self.weights if self.weights.ndim == 3 else self.weights[None]
        masked = ~np.isfinite(self.masked_scores if self.masked_scores.ndim == 3 else self.masked_scores[None])
        titles = [f"头 head {h}" for h in range(w.shape[0])] if w.shape[0] > 1 else ["注意力权重 / attention weights"]
        suptitle = ("因果 causal · " if self.causal else "") + ("多头 multi-head" if self.multi_head else "softmax(QKᵀ/√d_k)")
        return heatmap_png(list(w), titles=titles, row_labels=rows, col_labels=cols, masked=list(masked), suptitle=suptitle, path=path)


# ----------------------------------------------------------------------------------------------
# Validation


def _validate_qkv(q: Any, k: Any, v: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    Q = as_matrix(q, "Q", max_rows=MAX_LEN, max_cols=MAX_DIM)
    K = as_matrix(k, "K", max_rows=MAX_LEN, max_cols=MAX_DIM) if k is not None else Q
    V = as_matrix(v, "V", max_rows=MAX_LEN, max_cols=MAX_DIM) if v is not None else K
    if Q.shape[1] != K.shape[1]:
        raise DemoInputError(
            f"Q 和 K 的列数（宽度）必须相同才能算 Q·Kᵀ：Q 是 {Q.shape[0]}×{Q.shape[1]}，K 是 {K.shape[0]}×{K.shape[1]}",
            f"Q and K must have the same width to compute Q·Kᵀ: Q is {Q.shape[0]}x{Q.shape[1]}, K is {K.shape[0]}x{K.shape[1]}",
        )
    if K.shape[0] != V.shape[0]:
        raise DemoInputError(
            f"K 和 V 的行数（长度）必须相同，每个 key 对应一个 value：K 有 {K.shape[0]} 行，V 有 {V.shape[0]} 行",
            f"K and V must have the same number of rows (one value per key): K has {K.shape[0]} rows, V has {V.shape[0]}",
        )
    return Q, K, V


def _validate_padding(padding_mask: Any, m: int) -> np.ndarray | None:
    if padding_mask is None:
        return None
    pm = as_int_list(padding_mask, "填充掩码 padding mask")
    if len(pm) != m:
        raise DemoInputError(
            f"填充掩码的长度应等于 key 的个数 {m}，实际是 {len(pm)}；写法如 [1,1,0]（1=真实 token，0=填充）",
            f"the padding mask must have one entry per key ({m}), got {len(pm)}; e.g. [1,1,0] (1 = real token, 0 = padding)",
        )
    if any(x not in (0, 1) for x in pm):
        raise DemoInputError("填充掩码只能包含 0 和 1（1=真实 token，0=填充）", "the padding mask may contain only 0 and 1 (1 = real token, 0 = padding)")
    return np.asarray(pm, dtype=bool)


def _validate_heads(heads: Any) -> int:
    if isinstance(heads, bool) or heads is None:
        heads = 1
    try:
        h = int(heads)
        if h != float(heads):
            raise ValueError
    except (TypeError, ValueError):
        raise DemoInputError(f"头数 heads 必须是正整数，收到 {heads!r}", f"heads must be a positive integer, got {heads!r}") from None
    if not 1 <= h <= MAX_HEADS:
        raise DemoInputError(f"头数 heads 必须在 1 到 {MAX_HEADS} 之间，收到 {h}", f"heads must be between 1 and {MAX_HEADS}, got {h}")
    return h


def _notes_for(steps_dead: list[int], causal: bool, padding: np.ndarray | None) -> list[str]:
    notes = []
    if steps_dead:
        notes.append(
            f"注意：query {steps_dead} 的所有 key 都被屏蔽，权重记为 0、输出为 0（与 torch 相同） / "
            f"note: every key is masked for query rows {steps_dead}; their weights and output are 0 (as torch returns)"
        )
    return notes


# ----------------------------------------------------------------------------------------------
# Public API


def scaled_dot_product_attention(
    q: Any,
    k: Any = None,
    v: Any = None,
    *,
    causal: bool = False,
    padding_mask: Any = None,
    tokens_q: Sequence[str] | None = None,
    tokens_k: Sequence[str] | None = None,
) -> AttentionResult:
    """softmax(Q Kᵀ/√d_k) V on the given matrices (lists of lists, numpy or loose text).

    K defaults to Q and V to K (plain self-attention on one matrix X).
    """
    Q, K, V = _validate_qkv(q, k, v)
    pm = _validate_padding(padding_mask, K.shape[0])
    allowed = _allowed_matrix(Q.shape[0], K.shape[0], bool(causal), pm)
    s = attention_steps(Q, K, V, allowed)
    return AttentionResult(
        q=Q, k=K, v=V, heads=1, causal=bool(causal), padding_mask=None if pm is None else pm.astype(int).tolist(),
        d_k=Q.shape[1], scores=s.scores, scaled_scores=s.scaled_scores, masked_scores=s.masked_scores,
        weights=s.weights, output=s.output, tokens_q=_tok(tokens_q), tokens_k=_tok(tokens_k),
        notes=_notes_for(s.fully_masked_rows, causal, pm),
    )


def _tok(tokens: Sequence[str] | None) -> list[str] | None:
    return None if tokens is None else [str(t) for t in tokens]


def seeded_projection(d_in: int, d_out: int, rng: np.random.Generator) -> np.ndarray:
    """A d_in×d_out matrix with N(0, 1/d_in) entries (keeps activations at a sensible scale)."""
    return rng.normal(0.0, 1.0 / math.sqrt(d_in), size=(d_in, d_out))


def multi_head_attention(
    q: Any,
    k: Any = None,
    v: Any = None,
    *,
    heads: int = 2,
    causal: bool = False,
    padding_mask: Any = None,
    projections: str | Mapping[str, Any] = "seeded",
    seed: int = 0,
    tokens_q: Sequence[str] | None = None,
    tokens_k: Sequence[str] | None = None,
) -> AttentionResult:
    """Multi-head attention like `torch.nn.MultiheadAttention(d_model, heads, bias=False)`.

    `projections`: "seeded" (random N(0,1/d_in) from `seed`), "identity" (no projection: heads are
    just column slices of Q, K, V), or a mapping with any of w_q, w_k, w_v, w_o (missing ones seeded).
    d_model is the width of Q (or of the given w_q's columns); heads must divide it.
    """
    Q, K, V = _validate_qkv(q, k, v)
    h = _validate_heads(heads)
    pm = _validate_padding(padding_mask, K.shape[0])
    rng = np.random.default_rng(_validate_seed(seed))
    given: dict[str, np.ndarray] = {}
    if isinstance(projections, str):
        kind = projections.strip().lower()
        if kind not in ("seeded", "identity", "random"):
            raise DemoInputError(
                f"未知的投影方式 “{projections}”；可选 seeded（随机，带种子）或 identity（不投影）",
                f"unknown projections {projections!r}; expected 'seeded' (random from the seed) or 'identity' (no projection)",
            )
        kind = "seeded" if kind == "random" else kind
    else:
        unknown = set(projections) - {"w_q", "w_k", "w_v", "w_o"}
        if unknown:
            raise DemoInputError(f"未知的投影矩阵名 {sorted(unknown)}；可用 w_q、w_k、w_v、w_o", f"unknown projection names {sorted(unknown)}; use w_q, w_k, w_v, w_o")
        for name, val in projections.items():
            if val is not None:
                given[name] = as_matrix(val, name.upper(), max_rows=MAX_DIM, max_cols=MAX_DIM)
        kind = "given" if len(given) == 4 else "mixed"
    d_model = given["w_q"].shape[1] if "w_q" in given else Q.shape[1]
    if d_model % h != 0:
        raise DemoInputError(
            f"头数 {h} 必须整除 d_model={d_model}（每个头分到 d_model/h 列）",
            f"heads ({h}) must divide d_model={d_model} (each head gets d_model/h columns)",
        )
    if kind == "identity":
        if not (Q.shape[1] == K.shape[1] == V.shape[1]):
            raise DemoInputError(
                f"identity（不投影）要求 Q、K、V 的列数相同，现在是 {Q.shape[1]}、{K.shape[1]}、{V.shape[1]}",
                f"identity projections need Q, K and V of equal width, got {Q.shape[1]}, {K.shape[1]}, {V.shape[1]}",
            )
        eye = np.eye(d_model)
        W = {"w_q": eye, "w_k": eye, "w_v": eye, "w_o": eye}
    else:
        W = {
            "w_q": given.get("w_q"),
            "w_k": given.get("w_k"),
            "w_v": given.get("w_v"),
            "w_o": given.get("w_o"),
        }
        # always draw all four in a fixed order so a given seed means the same matrices
        drawn = {
            "w_q": seeded_projection(Q.shape[1], d_model, rng),
            "w_k": seeded_projection(K.shape[1], d_model, rng),
            "w_v": seeded_projection(V.shape[1], d_model, rng),
            "w_o": seeded_projection(d_model, d_model, rng),
        }
        W = {name: (W[name] if W[name] is not None else drawn[name]) for name in W}
        expect = {"w_q": (Q.shape[1], d_model), "w_k": (K.shape[1], d_model), "w_v": (V.shape[1], d_model), "w_o": (d_model, d_model)}
        for name, shape in expect.items():
            if W[name].shape != shape:
                raise DemoInputError(
                    f"{name.upper()} 的形状应为 {shape[0]}×{shape[1]}（x·W 约定），实际是 {W[name].shape[0]}×{W[name].shape[1]}",
                    f"{name.upper()} must be {shape[0]}x{shape[1]} (x @ W convention), got {W[name].shape[0]}x{W[name].shape[1]}",
                )
    n, m, d_h = Q.shape[0], K.shape[0], d_model // h
    with np.errstate(over="ignore", invalid="ignore"):
        Qp, Kp, Vp = (finite_or_error(x @ W[w], f"{x_name}·{w.upper()}") for x, w, x_name in ((Q, "w_q", "Q"), (K, "w_k", "K"), (V, "w_v", "V")))
    # (n, d_model) -> (h, n, d_h): head i owns columns [i*d_h, (i+1)*d_h)
    qh = Qp.reshape(n, h, d_h).transpose(1, 0, 2)
    kh = Kp.reshape(m, h, d_h).transpose(1, 0, 2)
    vh = Vp.reshape(m, h, d_h).transpose(1, 0, 2)
    allowed = _allowed_matrix(n, m, bool(causal), pm)
    steps = [attention_steps(qh[i], kh[i], vh[i], allowed) for i in range(h)]
    head_out = np.stack([s.output for s in steps])  # (h, n, d_h)
    concat = head_out.transpose(1, 0, 2).reshape(n, d_model)
    with np.errstate(over="ignore", invalid="ignore"):
        output = finite_or_error(concat @ W["w_o"], "输出 output")
    return AttentionResult(
        q=Q, k=K, v=V, heads=h, causal=bool(causal), padding_mask=None if pm is None else pm.astype(int).tolist(), d_k=d_h,
        scores=np.stack([s.scores for s in steps]), scaled_scores=np.stack([s.scaled_scores for s in steps]),
        masked_scores=np.stack([s.masked_scores for s in steps]), weights=np.stack([s.weights for s in steps]),
        output=output, tokens_q=_tok(tokens_q), tokens_k=_tok(tokens_k), projections=W, projection_kind=kind,
        projected={"q_heads": qh, "k_heads": kh, "v_heads": vh, "head_outputs": head_out, "concat": concat},
        seed=int(seed), notes=_notes_for(steps[0].fully_masked_rows, causal, pm),
    )


def _validate_seed(seed: Any) -> int:
    try:
        s = int(seed)
    except (TypeError, ValueError):
        raise DemoInputError(f"随机种子 seed 必须是非负整数，收到 {seed!r}", f"seed must be a non-negative integer, got {seed!r}") from None
    if s < 0 or s >= 2**32:
        raise DemoInputError(f"随机种子 seed 必须在 0 到 2^32-1 之间，收到 {s}", f"seed must be between 0 and 2^32-1, got {s}")
    return s


def attention(
    q: Any,
    k: Any = None,
    v: Any = None,
    *,
    heads: int | None = 1,
    causal: bool = False,
    padding_mask: Any = None,
    projections: str | Mapping[str, Any] | None = None,
    seed: int = 0,
    tokens_q: Sequence[str] | None = None,
    tokens_k: Sequence[str] | None = None,
) -> AttentionResult:
    """One head without projections (the formula on your numbers), or multi-head when heads > 1
    or projection matrices are given."""
    h = _validate_heads(heads)
    if h == 1 and projections is None:
        return scaled_dot_product_attention(q, k, v, causal=causal, padding_mask=padding_mask, tokens_q=tokens_q, tokens_k=tokens_k)
    return multi_head_attention(
        q, k, v, heads=h, causal=causal, padding_mask=padding_mask, projections=projections or "seeded", seed=seed,
        tokens_q=tokens_q, tokens_k=tokens_k,
    )


# ----------------------------------------------------------------------------------------------
# From a sentence


def token_embedding(token: str, d_model: int, seed: int = 0) -> np.ndarray:
    """A deterministic N(0,1) vector for a token: the same word always gets the same toy embedding."""
    digest = hashlib.blake2b(f"{seed}\x00{token}".encode("utf-8"), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little")).normal(size=d_model)


def sinusoidal_positions(n: int, d_model: int) -> np.ndarray:
    """The Transformer's positional encoding: PE[pos, 2i] = sin(pos/10000^(2i/d)), PE[pos, 2i+1] = cos(...)."""
    pos = np.arange(n)[:, None]
    i = np.arange(d_model)[None, :]
    angle = pos / np.power(10000.0, (2 * (i // 2)) / d_model)
    return np.where(i % 2 == 0, np.sin(angle), np.cos(angle))


def sentence_tokens(sentence: str, tokenization: str = "auto") -> list[str]:
    """Tokens for the attention demo (the same tokenizers as the n-gram demo)."""
    from tutor.tools.ngram import resolve_tokenization, tokenize

    return tokenize(sentence, resolve_tokenization(sentence, tokenization))


def attention_from_text(
    sentence: str,
    *,
    heads: int = 1,
    d_model: int = 8,
    causal: bool = False,
    seed: int = 0,
    tokenization: str = "auto",
    qkv_provider: QkvProvider | None = None,
) -> AttentionResult:
    """Self-attention over the words of a sentence, so a student sees which words attend to which.

    Default (toy): X = seeded embedding(token) + sinusoidal position; then multi-head attention with
    seeded projections (heads=1 is one head with W_q, W_k, W_v, W_o). The weights are illustrative:
    random embeddings carry no meaning. With `qkv_provider(sentence) -> (tokens, Q, K, V)` (e.g. one
    layer of the tutor GPT), the provided Q/K/V are used as they are and heads are column slices.
    """
    if not isinstance(sentence, str) or not sentence.strip():
        raise DemoInputError("句子是空的；请给出一个短句，例如 “我爱自然语言处理”", "the sentence is empty; give a short sentence, e.g. '我爱自然语言处理'")
    h = _validate_heads(heads)
    if qkv_provider is not None:
        tokens, q, k, v = qkv_provider(sentence)
        tokens = [str(t) for t in tokens]
        Q, K, V = _validate_qkv(np.asarray(q, dtype=np.float64), np.asarray(k, dtype=np.float64), np.asarray(v, dtype=np.float64))
        if not (len(tokens) == Q.shape[0] == K.shape[0]):
            raise DemoInputError(
                f"qkv_provider 返回了 {len(tokens)} 个 token，但 Q/K 有 {Q.shape[0]}/{K.shape[0]} 行",
                f"qkv_provider returned {len(tokens)} tokens but Q/K have {Q.shape[0]}/{K.shape[0]} rows",
            )
        if h == 1:
            res = scaled_dot_product_attention(Q, K, V, causal=causal, tokens_q=tokens, tokens_k=tokens)
        else:
            res = multi_head_attention(Q, K, V, heads=h, causal=causal, projections="identity", tokens_q=tokens, tokens_k=tokens)
        res.source = "text"
        res.notes.append("Q/K/V 来自提供的模型层 / Q/K/V come from the supplied model layer")
        return res
    try:
        d = int(d_model)
    except (TypeError, ValueError):
        raise DemoInputError(f"d_model 必须是正整数，收到 {d_model!r}", f"d_model must be a positive integer, got {d_model!r}") from None
    if not 1 <= d <= MAX_DIM:
        raise DemoInputError(f"d_model 必须在 1 到 {MAX_DIM} 之间，收到 {d}", f"d_model must be between 1 and {MAX_DIM}, got {d}")
    tokens = sentence_tokens(sentence, tokenization)
    if not tokens:
        raise DemoInputError("句子里没有可用的词；请给出一个短句", "the sentence has no tokens; give a short sentence")
    if len(tokens) > MAX_LEN:
        raise DemoInputError(
            f"句子有 {len(tokens)} 个 token，演示上限是 {MAX_LEN}；请用更短的句子",
            f"the sentence has {len(tokens)} tokens; the demo limit is {MAX_LEN}; use a shorter sentence",
        )
    s = _validate_seed(seed)
    X = np.stack([token_embedding(t, d, s) for t in tokens]) + sinusoidal_positions(len(tokens), d)
    res = multi_head_attention(X, X, X, heads=h, causal=causal, projections="seeded", seed=s, tokens_q=tokens, tokens_k=tokens)
    res.source = "text"
    res.notes.append(
        "提示：这里的词向量是带种子的随机向量（加位置编码），权重只演示计算过程，不代表词义 / "
        "note: the embeddings are seeded random vectors (+ positions); the weights illustrate the computation, not meaning"
    )
    return res
