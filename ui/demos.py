"""The demos tab's computations, as plain functions of the widgets' values (Gradio-free, testable):
attention on edited Q/K/V or a sentence, n-gram scoring with a chosen smoothing, BERT-style masking
with a seed, and the tutor GPT's own attention. Each returns what its panel shows; bad input gives a
readable message, never a stack trace."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ui.security import code_block, escape_html, escape_inline

DEFAULT_Q = [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]]
DEFAULT_K = [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
DEFAULT_V = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
SMOOTHINGS = [("MLE 最大似然 (no smoothing)", "mle"), ("加 k / Laplace (add-k)", "addk"), ("Kneser-Ney (插值 interpolated)", "kn")]


def dims(matrix: list[list[float]]) -> list[str]:
    return [f"d{j}" for j in range(len(matrix[0]))]


def matrix_of(value: Any, name: str) -> list[list[float]]:
    """Rows of numbers from a Dataframe value (list of lists or pandas); blank rows/columns dropped."""
    if value is None:
        raise ValueError(f"{name} 是空的 / {name} is empty")
    if isinstance(value, pd.DataFrame):
        value = value.values.tolist()
    rows: list[list[float]] = []
    for r in value:
        cells = [c for c in (r if isinstance(r, (list, tuple)) else [r])]
        if all(c is None or (isinstance(c, str) and not c.strip()) or (isinstance(c, float) and math.isnan(c)) for c in cells):
            continue
        row = []
        for c in cells:
            if c is None or (isinstance(c, str) and not c.strip()) or (isinstance(c, float) and math.isnan(c)):
                raise ValueError(f"{name} 有空格子 / {name} has an empty cell")
            try:
                row.append(float(c))
            except (TypeError, ValueError):
                raise ValueError(f"{name} 里的 “{str(c)[:20]}” 不是数字 / {name}: {str(c)[:20]!r} is not a number") from None
        rows.append(row)
    if not rows:
        raise ValueError(f"{name} 是空的 / {name} is empty")
    return rows


def _labels(tokens: list[str] | None, prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i} {t}" if tokens else f"{prefix}{i}" for i, t in enumerate(tokens or [""] * n)]


def _frame(matrix: list[list[Any]], rows: list[str], cols: list[str], corner: str) -> pd.DataFrame:
    df = pd.DataFrame([[r, *[round(x, 4) if isinstance(x, float) else x for x in vals]] for r, vals in zip(rows, matrix)], columns=[corner, *cols])
    return df


def attention_demo(mode: str, q: Any, k: Any, v: Any, causal: bool, heads: int | float, sentence: str):
    """→ (heatmap path or None, weights table, details Markdown)."""
    from tutor.tools.langchain_tools import run_attention

    heads = int(heads or 1)
    if mode == "sentence":
        if not (sentence or "").strip():
            return None, None, "✏️ 输入一句话 / type a sentence"
        text, art = run_attention("", sentence=sentence.strip(), causal=bool(causal), heads=heads)
    else:
        try:
            mq, mk, mv = matrix_of(q, "Q"), matrix_of(k, "K"), matrix_of(v, "V")
        except ValueError as e:
            return None, None, f"⚠️ {escape_html(str(e))}"
        text, art = run_attention("", q=mq, k=mk, v=mv, causal=bool(causal), heads=heads)
    if not art.get("ok"):
        return None, None, f"⚠️ {escape_html(art.get('error') or text)}"
    res = art["result"]
    w = res["weights"]
    if res.get("mode") == "multi-head":
        w = w[0]  # first head in the table; the heatmap shows every head
    table = _frame(w, _labels(res.get("tokens_q"), "q", len(w)), _labels(res.get("tokens_k"), "k", len(w[0])), "query \\ key")
    return art.get("png_path"), table, code_block(text)


def _fmt_log(x: Any) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    return f"{x:.4f}" if math.isfinite(x) else str(x)


def ngram_demo(sentence: str, compare: str, n: int | float, smoothing: str, k: float | None):
    """→ (summary Markdown, per-token table)."""
    from tutor.tools.langchain_tools import run_ngram

    if not (sentence or "").strip():
        return "✏️ 输入要打分的句子 / type a sentence to score", None
    kw: dict[str, Any] = {"sentence": sentence.strip(), "n": int(n or 2), "smoothing": smoothing or "mle"}
    if smoothing == "addk" and k is not None:
        kw["k"] = float(k)
    if (compare or "").strip():
        kw["compare"] = compare.strip()
    text, art = run_ngram("", **kw)
    if not art.get("ok"):
        return f"⚠️ {escape_html(art.get('error') or text)}", None
    res = art["result"]
    scores = [res, *([res["compare"]] if isinstance(res.get("compare"), dict) else [])]
    rows = []
    for s in scores:
        for st in s["steps"]:
            rows.append([s["sentence"], st["token"], " ".join(st.get("context") or []), st.get("count"), st.get("context_count"),
                         round(float(st["probability"]), 6), _fmt_log(st["logprob"]), st.get("note") or ""])
    cols = ["句子 sentence", "词 token", "上下文 context", "count", "context count", "P", "ln P", "说明 note"]
    return code_block(text), pd.DataFrame(rows, columns=cols)


def mask_demo(sentence: str, seed: int | float, rate: float):
    """→ (summary Markdown, token table: original / model input / label)."""
    from tutor.tools.langchain_tools import run_mask

    if not (sentence or "").strip():
        return "✏️ 输入一句话 / type a sentence", None
    text, art = run_mask("", kind="mlm", text=sentence.strip(), seed=int(seed or 0), rate=float(rate or 0.15))
    if not art.get("ok"):
        return f"⚠️ {escape_html(art.get('error') or text)}", None
    res = art["result"]
    action = {r["position"]: r["action"] for r in res.get("replacements", [])}
    names = {"mask": "[MASK] 80%", "random": "随机词 random 10%", "keep": "不变 keep 10%", "unchanged": "不变 keep 10%"}
    rows = [[i, t, o, lab if lab is not None else "", names.get(action.get(i, ""), action.get(i, ""))]
            for i, (t, o, lab) in enumerate(zip(res["tokens"], res["output_tokens"], res["labels"]))]
    df = pd.DataFrame(rows, columns=["位置 pos", "原词 original", "模型输入 input", "标签 label", "处理 action"])
    return code_block(text), df


def gpt_attention_demo(gpt, sentence: str, layer: int | float, head: int | float):
    """→ (heatmap path or None, status Markdown)."""
    from ui.gpt_attention import ModelUnavailable

    try:
        m = gpt.compute(sentence, int(layer or 0), int(head or 0))
    except ModelUnavailable as e:
        return None, f"ℹ️ {escape_html(str(e))}"
    except ValueError as e:
        return None, f"⚠️ {escape_html(str(e))}"
    toks = " · ".join(escape_inline(t) for t in m.tokens)
    note = "（只显示前 48 个 token / first 48 tokens only）" if m.truncated else ""
    return m.png_path, (f"第 {m.layer} 层、第 {m.head} 个头（共 {m.n_layer} 层 × {m.n_head} 头）/ layer {m.layer}, head {m.head} "
                        f"of {m.n_layer}×{m.n_head}{note}\n\nToken：{toks}\n\n每行是一个 token 看向前面各 token 的权重（因果：看不到后面）。"
                        " / Each row: how much that token attends to each earlier token (causal: no looking ahead).")
