"""`gpt_attention`: the tutor GPT's own attention map for a sentence — which earlier token each token
attends to most in a chosen layer and head, plus a heatmap. The same softmax(QKᵀ/√d)+causal mask the
attention demo computes by hand, read out of the model that is answering the student."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from tutor.tools.errors import DemoInputError
from tutor.tools.parsing import quoted_segments
from tutor.tools.langchain_tools import PNG_DIR, _png_path
from tutor.tools.plotting import heatmap_png

MAX_TOKENS = 48


def parse_gpt_attention_query(query: str) -> dict[str, Any]:
    """Sentence (quoted text, else the whole query minus layer/head words), layer and head (1-based in text)."""
    text = query or ""
    quoted = quoted_segments(text)  # not from an apostrophe ("the tutor's own attention for “…”")
    layer = re.search(r"(?:第\s*(\d+)\s*层|layer\s*(\d+))", text, re.I)
    head = re.search(r"(?:第\s*(\d+)\s*个?头|head\s*(\d+))", text, re.I)
    sentence = quoted[0] if quoted else re.sub(r"(第\s*\d+\s*(层|个?头)|layer\s*\d+|head\s*\d+)", "", text, flags=re.I).strip(" ，,。:：")
    return {
        "sentence": sentence,
        "layer": int(next(g for g in layer.groups() if g)) if layer else None,
        "head": int(next(g for g in head.groups() if g)) if head else None,
    }


def gpt_attention(generator, sentence: str, layer: int | None = None, head: int | None = None) -> dict[str, Any]:
    """Attention of the tutor GPT over `sentence`. `layer`/`head` are 1-based (default: last layer, head 1)."""
    if not sentence or not sentence.strip():
        raise DemoInputError("句子是空的；请给出一个短句，例如 “注意力机制很重要”", "the sentence is empty; give a short sentence")
    model, tok = generator.model, generator.tok
    cfg = model.config
    layer = cfg.n_layer if layer is None else layer
    head = 1 if head is None else head
    if not 1 <= layer <= cfg.n_layer:
        raise DemoInputError(f"层号 {layer} 超出范围：模型共有 {cfg.n_layer} 层（1–{cfg.n_layer}）", f"layer {layer} is out of range: the model has {cfg.n_layer} layers (1–{cfg.n_layer})")
    if not 1 <= head <= cfg.n_head:
        raise DemoInputError(f"头编号 {head} 超出范围：每层有 {cfg.n_head} 个头（1–{cfg.n_head}）", f"head {head} is out of range: each layer has {cfg.n_head} heads (1–{cfg.n_head})")
    ids = tok.encode(sentence.strip(), allow_special=False)
    if len(ids) > MAX_TOKENS:
        raise DemoInputError(f"句子太长（{len(ids)} 个 token），演示上限 {MAX_TOKENS}", f"the sentence is too long ({len(ids)} tokens; the demo limit is {MAX_TOKENS})")
    labels = tok.token_labels(ids)
    with torch.no_grad():
        w = model.attention_weights(torch.tensor([ids]), layer - 1, head - 1)[0].float().numpy()
    return {"tokens": labels, "layer": layer, "head": head, "n_layer": cfg.n_layer, "n_head": cfg.n_head, "weights": w.round(4).tolist()}


def run_gpt_attention(generator, query: str) -> tuple[str, dict[str, Any]]:
    """(short observation, artifact) for the agent and the UI; bad input becomes a readable message."""
    args = parse_gpt_attention_query(query)
    try:
        if generator is None:
            raise DemoInputError("助教模型还没有加载（没有找到模型检查点）", "the tutor GPT is not loaded (no checkpoint found)")
        res = gpt_attention(generator, args["sentence"], args["layer"], args["head"])
    except DemoInputError as e:
        return f"输入有误 / invalid input: {e.message}", {"tool": "gpt_attention", "ok": False, "args": args, "result": None, "png_path": None, "error": e.message}
    w = np.array(res["weights"])
    toks = res["tokens"]
    png = _png_path("gpt-attention", res)
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    heatmap_png([w], titles=[f"layer {res['layer']} head {res['head']}"], row_labels=toks, col_labels=toks, path=png)
    focus = [f"{t}→{toks[int(np.argmax(row))]}({row.max():.2f})" for t, row in zip(toks, w)]
    text = (
        f"助教模型自己的注意力 / the tutor GPT's attention — 第 {res['layer']}/{res['n_layer']} 层，第 {res['head']}/{res['n_head']} 个头"
        f"（因果掩码：只看前文）。每个 token 最关注的 token / strongest focus: " + "，".join(focus)
    )
    return text, {"tool": "gpt_attention", "ok": True, "args": args, "result": res, "png_path": str(png), "error": None}
