"""`code`: the tutor's own implementation of what a student asks to see as code.

"用 Python 写一个 softmax" or "show me the code for a causal mask" is answered with the source the
tutor itself runs: the numpy functions behind the live demos (tutor/tools/) and the PyTorch modules of
the tutor GPT (models/model.py) — real, tested code read from the repository, not text written for the
answer. Each topic names the functions that implement it; their source is read with `ast` (docstrings
left out, comments kept) and shown under a line naming the file and the function. A listing fits what
the tutor GPT can copy into one answer (MAX_LISTING_TOKENS of its 1,024-token context, measured by a
test with the shipped tokenizer), so a topic shows its core function, not a whole module.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from tutor.tools.errors import DemoInputError

# The agent writes at most 400 new tokens per step (executor.TutorAgent): a listing and its answer's lead fit.
MAX_LISTING_TOKENS = 380


@dataclass(frozen=True)
class Snippet:
    key: str
    name_zh: str
    name_en: str
    pattern: str  # what a request for this code names (lower-case text)
    functions: tuple[tuple[str, str], ...]  # (file relative to the repository, function or Class.method)


# The most specific first: "因果掩码的 softmax" is about the mask, "Transformer 的注意力" about attention.
SNIPPETS = (
    Snippet("causal_mask", "因果掩码", "causal mask", r"因果|causal|下三角|look-?ahead",
            (("tutor/tools/attention.py", "causal_allowed"), ("tutor/tools/masking.py", "additive"))),
    Snippet("padding_mask", "填充掩码", "padding mask", r"padding|填充", (("tutor/tools/masking.py", "padding_mask"),)),
    Snippet("mlm", "BERT 的 80/10/10 遮词", "BERT's 80/10/10 masking", r"mlm|bert|80\s*/\s*10\s*/\s*10|遮|\[mask\]|掩码语言",
            (("tutor/tools/masking.py", "_actions"),)),
    Snippet("softmax", "softmax", "softmax", r"softmax", (("tutor/tools/attention.py", "softmax_rows"),)),
    Snippet("ngram", "n-gram 概率", "n-gram probability", r"[n\d]-?gram|bigram|trigram|unigram|[一二三n]元|平滑|smoothing",
            (("tutor/tools/ngram.py", "NgramModel.prob"),)),
    Snippet("positions", "位置编码", "positional encoding", r"位置编码|positional|position encoding|sinusoid|正弦",
            (("tutor/tools/attention.py", "sinusoidal_positions"),)),
    Snippet("rope", "旋转位置编码（RoPE）", "rotary position embedding (RoPE)", r"\brope\b|旋转",
            (("models/model.py", "rotate_half"), ("models/model.py", "apply_rope"))),
    Snippet("mlp", "前馈网络（MLP）", "feed-forward network (MLP)", r"前馈|feed[\s-]?forward|mlp|ffn", (("models/model.py", "MLP"),)),
    Snippet("attention", "缩放点积注意力", "scaled dot-product attention", r"注意力|attention|qkv|q\s*k\s*v",
            (("tutor/tools/attention.py", "attention_steps"),)),
    Snippet("block", "Transformer 块（助教 GPT 的一层）", "a Transformer block",
            r"transformer|gpt|解码器|decoder|\bblock|残差|residual", (("models/model.py", "Block"),)),
)

# A request to see or write code ("用 Python 写一个 softmax", "show me the code for attention", "手写自注意力"),
# not a question that only mentions code ("为什么说用代码训练让大模型有了推理能力？", "code-davinci-002").
_CODE_ASK = re.compile(
    r"(?:写|给我|给出|展示|贴|来一?段|看看|看一下|看下|show|write|give|see|share).{0,30}(?:代码|源码|源代码|伪代码|\bcode\b|函数|\bfunction\b|implementation)"
    r"|(?:代码|源码|\bcode\b)\s*(?:怎么写|如何写|是什么样|长什么样|示例|例子|实现)"
    r"|(?:用|拿|\bin|\bwith|\busing)\s*(?:python|pytorch|numpy|torch)\b"
    r"|手写|手撕|\bimplement\b|how (?:do|would|can|to) (?:i |you |we )?(?:code|implement)\b", re.I)
_NOT_CODE = re.compile(r"代码(?:训练|数据|语料)|(?:训练|预训练).{0,4}代码|code[\s-]*davinci|codex|trained on code|code data", re.I)


def code_topic(text: str) -> Snippet | None:
    """The snippet a request for code asks for, or None when the text does not ask for code or names
    no topic the tutor has code for ("写一个爬虫" is not about the course)."""
    low = (text or "").lower()
    if not _CODE_ASK.search(low) or _NOT_CODE.search(low):
        return None
    return named_snippet(low)


@lru_cache(maxsize=None)
def function_source(path: str, name: str) -> str:
    """The source of a function, class or Class.method in a repository file, its docstrings left out. The
    file is found as the module it is ("tutor/tools/attention.py" → tutor.tools.attention), wherever the
    package is installed, without importing it."""
    spec = importlib.util.find_spec(path.removesuffix(".py").replace("/", "."))
    if spec is None or not spec.origin:
        raise LookupError(f"{path} is not an importable module")
    text = Path(spec.origin).read_text(encoding="utf-8")
    node: Any = ast.parse(text)
    for part in name.split("."):
        node = next((n for n in ast.iter_child_nodes(node)
                     if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and n.name == part), None)
        if node is None:
            raise LookupError(f"{name} not found in {path}")
    lines = text.splitlines()
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    drop: set[int] = set()
    for n in ast.walk(node):  # every docstring inside it: the function's own, a class's and its methods'
        if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and n.body:
            doc = n.body[0]
            if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
                drop.update(range(doc.lineno, doc.end_lineno + 1))
    body = [lines[i - 1] for i in range(first, node.end_lineno + 1) if i not in drop and lines[i - 1].strip()]
    indent = min(len(ln) - len(ln.lstrip()) for ln in body)
    return "\n".join(ln[indent:] for ln in body)


HEADER = "# 助教自己的代码：{name}"


def named_snippet(text: str) -> Snippet | None:
    """The snippet whose topic `text` names ("softmax", "因果掩码"), whether or not it asks for code."""
    low = (text or "").lower()
    return next((s for s in SNIPPETS if re.search(s.pattern, low)), None)


def find_snippet(query: str) -> Snippet:
    """The snippet a request (or a bare topic: "softmax", "causal mask") names; DemoInputError when none."""
    snippet = code_topic(query) or named_snippet(query)
    if snippet is None:
        topics = "、".join(s.name_zh for s in SNIPPETS)
        raise DemoInputError(f"没有认出要看哪部分的代码；可以看的有：{topics}",
                             "could not tell which code to show; available: " + ", ".join(s.name_en for s in SNIPPETS))
    return snippet


def code_listing(query: str | Snippet) -> str:
    """The listing for a request: a header line, then each function under a comment naming its file."""
    snippet = query if isinstance(query, Snippet) else find_snippet(query)
    parts = [HEADER.format(name=snippet.name_zh)]
    for path, name in snippet.functions:
        parts.append(f"# {path} › {name}")
        parts.append(function_source(path, name))
    return "\n".join(parts)


def run_code(query: str) -> tuple[str, dict[str, Any]]:
    """(observation, artifact) for the agent's `code` tool; bad input is an observation, never an exception."""
    try:
        snippet = find_snippet(query)
    except DemoInputError as e:
        return f"输入有误 / invalid input: {e.message}", {"tool": "code", "ok": False, "error": e.message}
    return code_listing(snippet), {"tool": "code", "ok": True, "topic": snippet.key,
                  "functions": [f"{p} › {n}" for p, n in snippet.functions]}
