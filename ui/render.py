"""Turn the tutor's output (steps, answer, citations, demo artifacts) into chat messages.

Everything the model, the tools or the notes produce is untrusted: it goes through
`ui.security.escape_html` (Markdown stays, raw HTML becomes text) or into a fenced code block, and
the Chatbot's own sanitiser runs on top. Demo artifacts come back as heatmap images and tables.
"""

from __future__ import annotations

import logging
from typing import Any

from ui.security import code_block, escape_html, escape_inline

log = logging.getLogger(__name__)

DEMO_TOOLS = ("attention", "ngram", "mask")
TOOL_NAMES = {
    "search_notes": ("检索课程笔记", "search the notes"),
    "attention": ("注意力演示", "attention demo"),
    "ngram": ("n-gram 打分", "n-gram scoring"),
    "mask": ("掩码演示", "masking demo"),
    "gpt_attention": ("助教模型的注意力", "the tutor GPT's attention"),
    "code": ("助教自己的代码", "the tutor's own code"),
}


def _t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def step_title(i: int, step: dict, lang: str = "zh") -> str:
    tool = step.get("tool") or ""
    zh, en = TOOL_NAMES.get(tool, (tool, tool))
    name = _t(lang, zh, en)
    label = f"{name} · {tool}" if tool and name != tool else (tool or _t(lang, "思考", "thinking"))
    return _t(lang, f"🛠️ 步骤 {i}：{escape_inline(label)}", f"🛠️ Step {i}: {escape_inline(label)}")


def step_markdown(step: dict, lang: str = "zh") -> str:
    """Thought, tool input and observation of one ReAct step (all four are shown, as text)."""
    parts = []
    if step.get("thought"):
        parts.append(f"**{_t(lang, '想法', 'Thought')}**：{escape_html(step['thought'])}")
    if step.get("tool"):
        name = " ".join(str(step["tool"]).replace("`", "").split())  # a code span shows its text literally
        parts.append(f"**{_t(lang, '工具', 'Tool')}**：`{name}`")
    if step.get("tool_input") is not None:
        parts.append(f"**{_t(lang, '输入', 'Input')}**\n\n{code_block(str(step['tool_input']))}")
    if step.get("observation") is not None:
        parts.append(f"**{_t(lang, '观察', 'Observation')}**\n\n{code_block(str(step['observation']))}")
    return "\n\n".join(parts) or _t(lang, "（空步骤）", "(empty step)")


def source_label(src: dict, titles: dict[str, tuple[str, str]], lang: str = "zh") -> str:
    name = src.get("source", "")
    zh, en = titles.get(name, ("", ""))
    title = (en or zh) if lang == "en" else (zh or en)
    head = src.get("heading") or ""
    pieces = [f"《{escape_inline(title)}》" if title else f"`{escape_inline(name)}`"]
    if head:
        pieces.append(escape_inline(head))
    label = " › ".join(pieces)
    if title:
        label += f"（{escape_inline(name)}）"
    return label


def sources_markdown(sources: list[dict], titles: dict[str, tuple[str, str]], lang: str = "zh") -> str:
    if not sources:
        return ""
    lines = [f"**📚 {_t(lang, '引用来源', 'Sources')}**"]
    lines += [f"{i}. {source_label(s, titles, lang)}" for i, s in enumerate(sources, 1)]
    return "\n".join(lines)


def answer_markdown(text: str, kind: str = "concept") -> str:
    """The answer body: demo output keeps its column alignment in a code block; prose is Markdown."""
    if kind == "demo":
        return code_block(text)
    return escape_html(text)


def final_markdown(result: dict, titles: dict[str, tuple[str, str]], lang: str = "zh") -> str:
    body = answer_markdown(result.get("answer", ""), result.get("kind", "concept"))
    if result.get("kind") == "error":
        body = "⚠️ " + body
    src = sources_markdown(result.get("sources") or [], titles, lang)
    return body + ("\n\n---\n" + src if src else "")


# ----------------------------------------------------------------------------------------------
# Demo artifacts


def artifact_for(step: dict) -> dict | None:
    """The demo artifact of a step: carried by the event when the tutor provides it, otherwise
    recomputed by running the same demo tool on the step's input (the tools are deterministic)."""
    if step.get("artifact"):
        return step["artifact"]
    tool = step.get("tool")
    if tool not in DEMO_TOOLS or step.get("tool_input") is None:
        return None
    try:
        from tutor.tools.langchain_tools import run_attention, run_mask, run_ngram

        run = {"attention": run_attention, "ngram": run_ngram, "mask": run_mask}[tool]
        _, artifact = run(str(step["tool_input"]))
        return artifact if artifact.get("ok") else None
    except Exception:
        log.exception("could not rebuild the %s artifact", tool)
        return None


def _num(x: Any) -> str:
    if isinstance(x, (int, float)):
        return f"{x:.4g}"
    return escape_inline(str(x))


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(escape_inline(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_num(c) if not isinstance(c, str) else escape_inline(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def artifact_table(artifact: dict, lang: str = "zh") -> str:
    """A Markdown table with the demo's key numbers (weights, per-token probabilities, masking)."""
    res = artifact.get("result") or {}
    tool = artifact.get("tool")
    try:
        if tool == "attention" and res.get("weights") is not None and res.get("mode") == "single-head":
            w = res["weights"]
            cols = res.get("tokens_k") or [f"k{j}" for j in range(len(w[0]))]
            rows = res.get("tokens_q") or [f"q{i}" for i in range(len(w))]
            if len(cols) > 12:
                return ""
            return f"**{_t(lang, '注意力权重', 'Attention weights')}**\n\n" + md_table(["", *cols], [[r, *row] for r, row in zip(rows, w)])
        if tool == "ngram":
            scores = [res, *([res["compare"]] if isinstance(res.get("compare"), dict) else [])]
            blocks = []
            for s in scores:
                rows = [[st["token"], " ".join(st.get("context") or []), st["probability"], st.get("note") or ""] for st in s["steps"]]
                head = _t(lang, ["词", "上下文", "P(词|上下文)", "说明"], ["token", "context", "P(token|context)", "note"])
                blocks.append(f"“{escape_inline(s.get('sentence', ''))}”  ln P = {_num(s.get('logprob'))}, PPL = {_num(s.get('perplexity'))}\n\n" + md_table(head, rows))
            return "\n\n".join(blocks)
        if tool == "mask" and res.get("replacements") is not None:
            head = _t(lang, ["位置", "原词", "替换为", "方式"], ["position", "original", "became", "action"])
            rows = [[str(r["position"]), r["original"], r["became"], r["action"]] for r in res["replacements"]]
            return md_table(head, rows)
    except Exception:
        log.exception("artifact table failed")
    return ""
