"""The three demos as LangChain tools for the tutor's ReAct agent: `attention`, `ngram`, `mask`.

Each tool takes one string `query` — loose student text ("Q=[[1,0],[0,1]]，K=…，V=…，因果") or a
JSON object — plus optional structured fields that override what the query says. It returns
(content, artifact) (`response_format="content_and_artifact"`):

  * content: a short readable observation (the student may see it);
  * artifact: {"tool", "ok", "args", "result": <the full to_dict()>, "png_path": <heatmap or None>,
    "error": <message or None>} — delivered on the ToolMessage when the tool is invoked with a ToolCall.

Bad input never raises: the observation says what is wrong and what is expected, so the agent can
try again. `run_attention`, `run_ngram`, `run_mask` give the same (content, artifact) pair directly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path
from typing import Any, Optional

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from tutor.tools.errors import DemoInputError

log = logging.getLogger(__name__)

PNG_DIR = Path(tempfile.gettempdir()) / "course-tutor-demos"


def _png_path(kind: str, payload: Any) -> Path:
    digest = hashlib.sha1(json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()[:16]
    return PNG_DIR / f"{kind}-{digest}.png"


def _error(tool: str, exc: Exception, args: dict[str, Any], hint: str) -> tuple[str, dict[str, Any]]:
    if isinstance(exc, DemoInputError):
        msg = exc.message
        text = f"输入有误 / invalid input: {msg}\n{hint}"
    else:  # a bug: say so briefly, keep the agent alive, log the details for developers
        log.exception("demo tool %s failed", tool)
        msg = f"{type(exc).__name__}: {exc}"
        text = f"演示工具内部出错 / the demo tool failed internally ({type(exc).__name__}); 请换一种写法再试 / please rephrase and retry.\n{hint}"
    return text, {"tool": tool, "ok": False, "args": _safe(args), "result": None, "png_path": None, "error": msg}


def _validation_message(hint: str):
    """A readable observation for arguments that do not fit the tool's schema (instead of a trace)."""

    def handle(exc: Exception) -> str:
        errors = getattr(exc, "errors", None)
        parts = []
        if callable(errors):
            try:
                for e in errors():
                    where = ".".join(str(x) for x in e.get("loc", ())) or "input"
                    parts.append(f"{where}: {e.get('msg', '')}")
            except Exception:  # pragma: no cover - defensive
                parts = []
        detail = "; ".join(parts) or str(exc).splitlines()[0]
        return f"参数格式有误 / invalid tool arguments: {detail}\n{hint}"

    return handle


def _safe(args: dict[str, Any]) -> dict[str, Any]:
    from tutor.tools.parsing import to_jsonable

    try:
        return to_jsonable(args)
    except Exception:  # pragma: no cover - defensive
        return {k: str(v) for k, v in args.items()}


def _merge(parsed: dict[str, Any], **fields: Any) -> dict[str, Any]:
    out = dict(parsed)
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


# ----------------------------------------------------------------------------------------------
# attention

ATTENTION_HINT = (
    "格式示例 / expected, e.g.: Q=[[1,0],[0,1]], K=[[1,0],[0,1]], V=[[1,2],[3,4]]（可加“因果”、“2个头”） "
    "或一句话 / or a sentence: “我爱自然语言处理”"
)


class AttentionToolInput(BaseModel):
    query: str = Field(
        description=(
            "学生的原话或 JSON，例如 'Q=[[1,0],[0,1]]，K=[[1,0],[0,1]]，V=[[1,2],[3,4]]，因果，2个头' 或一句话 '我爱自然语言处理'. "
            "Loose text or JSON with Q, K, V (lists of lists), optional causal, heads, padding_mask, or a sentence."
        )
    )
    q: Optional[str] = Field(default=None, description="Q matrix, e.g. [[1,0],[0,1]] (overrides the query)")
    k: Optional[str] = Field(default=None, description="K matrix (default: Q)")
    v: Optional[str] = Field(default=None, description="V matrix (default: K)")
    causal: Optional[bool] = Field(default=None, description="apply a causal (look-ahead) mask")
    heads: Optional[int] = Field(default=None, description="number of heads (must divide d_model)")
    sentence: Optional[str] = Field(default=None, description="a short sentence: build toy Q/K/V from its words")


def run_attention(
    query: str = "", q: Any = None, k: Any = None, v: Any = None, causal: Optional[bool] = None, heads: Optional[int] = None, sentence: Optional[str] = None
) -> tuple[str, dict[str, Any]]:
    from tutor.tools import attention as att
    from tutor.tools.parsing import parse_attention_query

    args: dict[str, Any] = {}
    try:
        args = _merge(parse_attention_query(query or ""), q=q, k=k, v=v, causal=causal, heads=heads, text=sentence)
        if args.get("q") is None and args.get("k") is None and args.get("v") is None:
            if not args.get("text"):
                raise DemoInputError("没有找到 Q/K/V 矩阵，也没有句子", "found neither Q/K/V matrices nor a sentence")
            result = att.attention_from_text(
                args["text"], heads=args.get("heads", 1), d_model=args.get("d_model", 8), causal=bool(args.get("causal")), seed=args.get("seed", 0)
            )
        else:
            if args.get("q") is None:
                raise DemoInputError("缺少 Q 矩阵", "the Q matrix is missing")
            proj = {n: args[n] for n in ("w_q", "w_k", "w_v", "w_o") if n in args} or args.get("projections")
            result = att.attention(
                args.get("q"), args.get("k"), args.get("v"), heads=args.get("heads", 1), causal=bool(args.get("causal")),
                padding_mask=args.get("padding_mask"), projections=proj, seed=args.get("seed", 0),
            )
        full = result.to_dict()
        png_path = _png_path("attention", full)
        try:
            result.png(png_path)
            png: str | None = str(png_path)
        except Exception:  # the picture is a bonus; the numbers still go back
            log.exception("attention heatmap failed")
            png = None
        content = result.summary(steps=bool(args.get("steps"))) + ("\n（热力图已生成 / heatmap ready）" if png else "")
        return content, {"tool": "attention", "ok": True, "args": _safe(args), "result": full, "png_path": png, "error": None}
    except Exception as exc:  # noqa: BLE001 - an agent tool must never raise
        return _error("attention", exc, args, ATTENTION_HINT)


attention_tool = StructuredTool.from_function(
    func=run_attention,
    name="attention",
    description=(
        "演示缩放点积注意力/多头注意力：给 Q、K、V 矩阵（或一句话），返回原始分数、缩放、掩码、softmax 权重（每行和为 1）和输出，并画热力图。"
        " Demo of scaled dot-product / multi-head attention softmax(QKᵀ/√d_k)V on the student's own numbers or sentence. "
        "Input `query`: e.g. 'Q=[[1,0],[0,1]], K=[[1,0],[0,1]], V=[[1,2],[3,4]]', add '因果'/'causal' for a look-ahead mask, '2个头'/'heads=2' for multi-head; "
        "or a sentence in quotes to see which words attend to which."
    ),
    args_schema=AttentionToolInput,
    response_format="content_and_artifact",
    handle_validation_error=_validation_message(ATTENTION_HINT),
    handle_tool_error=True,
)


# ----------------------------------------------------------------------------------------------
# ngram

NGRAM_HINT = "格式示例 / expected, e.g.: 用二元模型、KN 平滑比较 “注意力机制” 和 “机制注意力”；或 JSON {\"n\":2,\"smoothing\":\"addk\",\"k\":1,\"sentence\":\"注意力机制\"}"


class NgramToolInput(BaseModel):
    query: str = Field(
        description=(
            "学生的原话或 JSON，例如 '用 bigram + KN 平滑比较 “注意力机制” 和 “机制注意力”'. "
            "Loose text or JSON: n (1-6), smoothing (mle|addk|kn), k, sentence (quoted), optional second sentence to compare, optional training text."
        )
    )
    n: Optional[int] = Field(default=None, description="order n ≥ 1 (2 = bigram)")
    smoothing: Optional[str] = Field(default=None, description="mle | addk | kn (laplace = addk with k=1)")
    k: Optional[float] = Field(default=None, description="k for add-k smoothing")
    sentence: Optional[str] = Field(default=None, description="the sentence to score")
    compare: Optional[str] = Field(default=None, description="a second sentence to compare")
    corpus_text: Optional[str] = Field(default=None, description="training text (default: the course notes)")
    tokenization: Optional[str] = Field(default=None, description="auto | whitespace | jieba | char")


def run_ngram(
    query: str = "", n: Optional[int] = None, smoothing: Optional[str] = None, k: Optional[float] = None, sentence: Optional[str] = None,
    compare: Optional[str] = None, corpus_text: Optional[str] = None, tokenization: Optional[str] = None,
) -> tuple[str, dict[str, Any]]:
    from tutor.tools import ngram as ng
    from tutor.tools.parsing import parse_ngram_query

    args: dict[str, Any] = {}
    try:
        args = _merge(parse_ngram_query(query or ""), n=n, smoothing=smoothing, k=k, sentence=sentence, compare=compare, corpus_text=corpus_text, tokenization=tokenization)
        if not args.get("sentence"):
            raise DemoInputError("没有找到要打分的句子（请用引号括起来）", "found no sentence to score (put it in quotes)")
        kw = dict(
            n=args.get("n", 2), smoothing=args.get("smoothing", "mle"), k=args.get("k"), discount=args.get("discount"),
            corpus_text=args.get("corpus_text"), tokenization=args.get("tokenization", "auto"),
        )
        result: Any = ng.compare_sentences(args["sentence"], args["compare"], **kw) if args.get("compare") else ng.score_sentence(args["sentence"], **kw)
        full = result.to_dict()
        return result.summary(steps=bool(args.get("steps"))), {"tool": "ngram", "ok": True, "args": _safe(args), "result": full, "png_path": None, "error": None}
    except Exception as exc:  # noqa: BLE001
        return _error("ngram", exc, args, NGRAM_HINT)


ngram_tool = StructuredTool.from_function(
    func=run_ngram,
    name="ngram",
    description=(
        "n-gram 语言模型打分：在课程笔记（或给定文本）上训练 n 元模型（MLE、加 k/拉普拉斯、插值 Kneser-Ney 平滑），给出每个词的条件概率、总对数概率、困惑度，可比较两句。"
        " Score a sentence with an n-gram LM trained on the course notes: per-token P(w|context), log-probability, perplexity, vocabulary size; compare two sentences. "
        "Input `query`: e.g. 'bigram, kn, “注意力机制” vs “机制注意力”'."
    ),
    args_schema=NgramToolInput,
    response_format="content_and_artifact",
    handle_validation_error=_validation_message(NGRAM_HINT),
    handle_tool_error=True,
)


# ----------------------------------------------------------------------------------------------
# mask

MASK_HINT = (
    "格式示例 / expected, e.g.: “长度为 5 的因果掩码” / 'padding mask lengths=[3,5,2]' / "
    "'BERT 掩码 “注意力机制是 Transformer 的核心” seed=1' / 'MLM 统计 stats'"
)


class MaskToolInput(BaseModel):
    query: str = Field(
        description=(
            "学生的原话或 JSON，例如 '长度为5的因果掩码'、'padding lengths=[3,5,2]'、'BERT 掩码 “今天天气很好” seed=1'. "
            "Loose text or JSON: kind (causal|padding|combined|mlm), size, lengths, text, seed, rate, stats."
        )
    )
    kind: Optional[str] = Field(default=None, description="causal | padding | combined | mlm")
    size: Optional[int] = Field(default=None, description="length n of a causal mask")
    lengths: Optional[str] = Field(default=None, description="sequence lengths for padding masks, e.g. [3,5,2]")
    text: Optional[str] = Field(default=None, description="sentence for BERT masked-LM corruption")
    seed: Optional[int] = Field(default=None, description="random seed")
    rate: Optional[float] = Field(default=None, description="share of tokens to select (BERT: 0.15)")
    stats: Optional[bool] = Field(default=None, description="statistics mode over a long text")


def run_mask(
    query: str = "", kind: Optional[str] = None, size: Optional[int] = None, lengths: Any = None, text: Optional[str] = None,
    seed: Optional[int] = None, rate: Optional[float] = None, stats: Optional[bool] = None,
) -> tuple[str, dict[str, Any]]:
    from tutor.tools import masking as mk
    from tutor.tools.parsing import parse_mask_query

    args: dict[str, Any] = {}
    try:
        args = _merge(parse_mask_query(query or ""), kind=kind, size=size, lengths=lengths, text=text, seed=seed, rate=rate, stats=stats)
        kd = str(args.get("kind") or ("mlm" if args.get("text") or args.get("stats") else ("padding" if args.get("lengths") else "causal"))).lower()
        if kd in ("causal", "因果"):
            if args.get("size") is None and not args.get("text"):
                raise DemoInputError("因果掩码需要长度或一个句子，例如 “长度为 5 的因果掩码”", "a causal mask needs a size or a sentence, e.g. 'causal mask of size 5'")
            result: Any = (mk.causal_mask(args["size"]) if args.get("size") is not None else
                           mk.causal_mask(text=args["text"], tokenization=args.get("tokenization", "auto")))
        elif kd in ("padding", "填充"):
            result = mk.padding_mask(args.get("lengths"), args.get("size"))
        elif kd in ("combined", "组合"):
            result = mk.combined_mask(args.get("lengths"), args.get("size"))
        elif kd in ("mlm", "bert"):
            common = dict(rate=args.get("rate", 0.15), seed=args.get("seed", 0), tokenization=args.get("tokenization", "auto"))
            if args.get("stats"):
                result = mk.mlm_statistics(args.get("text"), **common)
            else:
                if not args.get("text"):
                    raise DemoInputError("BERT 掩码演示需要一个句子（请用引号括起来）", "the BERT masking demo needs a sentence (in quotes)")
                result = mk.mlm_corrupt(args["text"], positions=args.get("positions"), words=args.get("words"), **common)
        else:
            raise DemoInputError(f"未知的掩码类型 “{kd}”；可选 causal、padding、combined、mlm", f"unknown mask kind {kd!r}; expected causal, padding, combined or mlm")
        full = result.to_dict()
        png: str | None = None
        if isinstance(result, mk.MaskResult) and result.attention.shape[-1] <= 64:
            try:
                from tutor.tools.plotting import heatmap_png

                mats = [result.attention] if result.attention.ndim == 2 else list(result.attention)
                path = _png_path("mask", full)
                heatmap_png(mats, titles=[f"{result.kind} #{i}" for i in range(len(mats))] if len(mats) > 1 else [result.kind],
                            cmap="Greens", path=path)
                png = str(path)
            except Exception:
                log.exception("mask heatmap failed")
        return result.summary(), {"tool": "mask", "ok": True, "args": _safe(args), "result": full, "png_path": png, "error": None}
    except Exception as exc:  # noqa: BLE001
        return _error("mask", exc, args, MASK_HINT)


mask_tool = StructuredTool.from_function(
    func=run_mask,
    name="mask",
    description=(
        "掩码演示：因果（前瞻）掩码（0/1 与 0/−inf 加性形式）、一批不同长度序列的填充掩码及其与因果掩码的组合、BERT 掩码语言模型的 15% / 80-10-10 替换（带种子可复现），以及长文本上的实际比例统计。"
        " Demo of causal masks, padding masks, their combination, and BERT masked-LM corruption (seeded) with a statistics mode. "
        "Input `query`: e.g. '长度为5的因果掩码', 'padding lengths=[3,5,2]', 'BERT 掩码 “注意力机制是核心” seed=1'."
    ),
    args_schema=MaskToolInput,
    response_format="content_and_artifact",
    handle_validation_error=_validation_message(MASK_HINT),
    handle_tool_error=True,
)

DEMO_TOOLS = [attention_tool, ngram_tool, mask_tool]
"""All three tools, for `create_agent(..., tools=DEMO_TOOLS)`."""
