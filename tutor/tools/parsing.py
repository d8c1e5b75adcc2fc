"""Turn what a student (or the agent) writes into validated demo arguments, and results into JSON.

Students type matrices the way they would on paper or in a chat window:

    Q=[[1,0],[0,1]]，K=…，V=［［1，2］，［3，4］］       full-width punctuation
    请算一下 Q 是 [1 0; 0 1]，K=Q，V=[[1,2],[3,4]]       MATLAB rows, Chinese glue words
    Q=K=I2, V=[[1,2],[3,4]]                         chained names, identity shorthand

This module normalises the punctuation (NFKC plus a few extra mappings), finds the named matrices,
numbers and flags, and checks every matrix (rectangular, numeric, finite, not empty, not too big).
Anything wrong becomes one `DemoInputError` that says what is wrong and what is expected.

JSON convention (output side): JSON has no infinities, so every ±inf is written as the *string*
``"-inf"`` / ``"inf"`` (and NaN as ``"nan"``); `to_jsonable` does this everywhere.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import asdict, is_dataclass
from typing import Any, Callable, Iterable

import numpy as np

from tutor.tools.errors import DemoInputError

# ----------------------------------------------------------------------------------------------
# JSON output


def to_jsonable(obj: Any) -> Any:
    """Convert numpy arrays / scalars / dataclasses / tuples to plain JSON values; ±inf -> "±inf"."""
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(asdict(obj))
    return obj


def from_jsonable_float(x: Any) -> float:
    """Inverse of `to_jsonable` for one number ("-inf" -> -inf)."""
    return float(x)


def display_width(s: str) -> int:
    """Terminal width of a string: CJK / full-width characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


def pad_display(s: str, width: int, left: bool = False) -> str:
    """Pad `s` with spaces to `width` terminal columns (right-aligned unless `left`)."""
    fill = " " * max(0, width - display_width(s))
    return s + fill if left else fill + s


# ----------------------------------------------------------------------------------------------
# Text normalisation

_EXTRA_MAP = {
    "【": "[", "】": "]", "〔": "[", "〕": "]", "〖": "[", "〗": "]",
    "、": ",", "，": ",", "；": ";", "：": ":",
    "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'",
    "−": "-", "–": "-", "—": "-", "﹣": "-",
    "×": "x", "＊": "*",
}
_EXTRA_TABLE = str.maketrans(_EXTRA_MAP)


def normalize_text(text: str) -> str:
    """Full-width/compatibility forms -> ASCII (，：；（）［］ -> ,:;()[]), fancy dashes -> '-'."""
    return unicodedata.normalize("NFKC", text).translate(_EXTRA_TABLE)


# ----------------------------------------------------------------------------------------------
# Matrices

_MATRIX_TOKEN = re.compile(r"\[|\]|;|,|\s+|[^\s\[\],;]+")
_IDENTITY = re.compile(r"^(?:I|eye)\s*[_(]?\s*(\d+)\s*\)?$", re.IGNORECASE)


def _number(tok: str, name: str) -> float:
    t = tok.strip().lower()
    if t in {"nan", "inf", "+inf", "-inf", "infinity", "-infinity", "∞", "-∞"}:
        return float(t.replace("∞", "inf"))  # rejected later with a clear NaN/inf message
    try:
        return float(t)
    except ValueError:
        raise DemoInputError(
            f"{name} 里有非数字元素 “{tok}”；矩阵只能包含数字，例如 [[1,0],[0,1]]",
            f"{name} contains a non-numeric entry {tok!r}; a matrix may contain only numbers, e.g. [[1,0],[0,1]]",
        ) from None


def parse_matrix_text(text: str, name: str = "矩阵 matrix") -> list:
    """Parse '[[1,0],[0,1]]', '[1 0; 0 1]', '1 0; 0 1', 'I2' into nested Python lists (not yet validated)."""
    s = normalize_text(text).strip()
    if not s:
        raise DemoInputError(f"{name} 是空的；请给出一个矩阵，例如 [[1,0],[0,1]]", f"{name} is empty; give a matrix, e.g. [[1,0],[0,1]]")
    ident = _IDENTITY.match(s)
    if ident:
        n = int(ident.group(1))
        if not 1 <= n <= 64:
            raise DemoInputError(f"{name}: 单位矩阵的大小应在 1 到 64 之间", f"{name}: identity size must be between 1 and 64")
        return np.eye(n).tolist()
    if not s.startswith("["):
        s = "[" + s + "]"  # MATLAB-like "1 0; 0 1" or a bare row "1 2 3"
    tokens = [t for t in _MATRIX_TOKEN.findall(s)]
    pos = 0

    def parse_list() -> list:
        nonlocal pos
        assert tokens[pos] == "["
        pos += 1
        items: list = []
        rows: list = []
        while True:
            if pos >= len(tokens):
                raise DemoInputError(f"{name} 的方括号不配对（缺少 “]”）", f"{name} has unbalanced brackets (missing ']')")
            tok = tokens[pos]
            if tok == "[":
                items.append(parse_list())
                continue
            pos += 1
            if tok == "]":
                break
            if tok == "," or tok.isspace():
                continue
            if tok == ";":
                rows.append(items)
                items = []
                continue
            items.append(_number(tok, name))
        if rows:
            rows.append(items)
            return [r for r in rows if r != []] if any(r != [] for r in rows) else []
        return items

    result = parse_list()
    rest = "".join(tokens[pos:]).strip()
    if rest:
        if "]" in rest or "[" in rest:
            raise DemoInputError(f"{name} 的方括号不配对（多了 “{rest[:10]}”）", f"{name} has unbalanced brackets (extra {rest[:10]!r})")
        raise DemoInputError(f"{name} 后面有多余内容 “{rest[:20]}”", f"unexpected text after {name}: {rest[:20]!r}")
    return result


def as_matrix(value: Any, name: str = "矩阵 matrix", *, max_rows: int = 64, max_cols: int = 256) -> np.ndarray:
    """Validate a matrix given as nested lists / numpy / loose text; return float64 array (rows x cols).

    A flat list of numbers is one row (a single vector). Errors say what is wrong and what is expected.
    """
    if isinstance(value, str):
        value = parse_matrix_text(value, name)
    if value is None:
        raise DemoInputError(f"缺少 {name}；请给出一个矩阵，例如 [[1,0],[0,1]]", f"{name} is missing; give a matrix, e.g. [[1,0],[0,1]]")
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise DemoInputError(
            f"{name} 应当是由行组成的列表，例如 [[1,0],[0,1]]，而不是 {type(value).__name__}",
            f"{name} must be a list of rows such as [[1,0],[0,1]], not {type(value).__name__}",
        )
    if len(value) == 0:
        raise DemoInputError(f"{name} 是空的；至少需要一行一列", f"{name} is empty; it needs at least one row and one column")
    if all(not isinstance(r, (list, tuple)) for r in value):
        value = [list(value)]  # a single vector = one row
    rows: list[list[float]] = []
    for i, row in enumerate(value):
        if not isinstance(row, (list, tuple)):
            raise DemoInputError(
                f"{name} 第 {i + 1} 行不是一个列表；每一行都应是数字列表，例如 [[1,0],[0,1]]",
                f"row {i + 1} of {name} is not a list; every row must be a list of numbers, e.g. [[1,0],[0,1]]",
            )
        out_row = []
        for j, x in enumerate(row):
            if isinstance(x, (list, tuple)):
                raise DemoInputError(f"{name} 嵌套太深：需要二维矩阵（行的列表）", f"{name} is nested too deeply: expected a 2-D matrix (a list of rows)")
            if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
                if isinstance(x, str):
                    x = _number(x, name)
                else:
                    raise DemoInputError(
                        f"{name} 第 {i + 1} 行第 {j + 1} 列不是数字：{x!r}",
                        f"{name} entry at row {i + 1}, column {j + 1} is not a number: {x!r}",
                    )
            xf = float(x)
            if not math.isfinite(xf):
                raise DemoInputError(
                    f"{name} 第 {i + 1} 行第 {j + 1} 列是 {xf}（NaN 或无穷大）；只接受有限的数字",
                    f"{name} entry at row {i + 1}, column {j + 1} is {xf} (NaN or infinity); only finite numbers are accepted",
                )
            out_row.append(xf)
        rows.append(out_row)
    widths = {len(r) for r in rows}
    if 0 in widths:
        raise DemoInputError(f"{name} 有空行；每行至少一个数", f"{name} has an empty row; every row needs at least one number")
    if len(widths) > 1:
        first = len(rows[0])
        bad = next(i for i, r in enumerate(rows) if len(r) != first)
        raise DemoInputError(
            f"{name} 各行长度不一（参差不齐）：第 1 行有 {first} 个数，第 {bad + 1} 行有 {len(rows[bad])} 个；每行的列数必须相同",
            f"{name} is ragged: row 1 has {first} numbers but row {bad + 1} has {len(rows[bad])}; all rows must have the same length",
        )
    n, d = len(rows), len(rows[0])
    if n > max_rows or d > max_cols:
        raise DemoInputError(
            f"{name} 是 {n}×{d}，对课堂演示来说太大了；上限为 {max_rows} 行、{max_cols} 列",
            f"{name} is {n}x{d}, too large for an interactive demo; the limit is {max_rows} rows and {max_cols} columns",
        )
    return np.asarray(rows, dtype=np.float64)


def as_int_list(value: Any, name: str) -> list[int]:
    """Parse '[1,1,0]', '3,5,2', '3、5、2' or a list into a list of ints."""
    if isinstance(value, str):
        s = normalize_text(value).strip()
        if not s:
            raise DemoInputError(f"{name} 是空的", f"{name} is empty")
        s = s.strip("[]() ")
        parts = [p for p in re.split(r"[\s,;]+", s) if p]
        value = parts
    if not isinstance(value, (list, tuple)) or len(value) == 0:
        raise DemoInputError(f"{name} 应是一个非空的整数列表，例如 [3,5,2]", f"{name} must be a non-empty list of integers, e.g. [3,5,2]")
    out = []
    for x in value:
        if isinstance(x, bool):
            x = int(x)
        try:
            xf = float(x)
        except (TypeError, ValueError):
            raise DemoInputError(f"{name} 里有非整数元素 “{x}”", f"{name} contains a non-integer entry {x!r}") from None
        if not math.isfinite(xf) or xf != int(xf):
            raise DemoInputError(f"{name} 里有非整数元素 “{x}”", f"{name} contains a non-integer entry {x!r}")
        out.append(int(xf))
    return out


# ----------------------------------------------------------------------------------------------
# Loose text: general helpers

_QUOTES = [("“", "”"), ("「", "」"), ("『", "』"), ('"', '"'), ("《", "》"), ("‘", "’")]


# a quoted span — a sentence, a corpus — as students write them (the first four pairs of _QUOTES)
_QUOTED_SPAN = re.compile("|".join(re.escape(a) + "[^" + re.escape(b) + "]*" + re.escape(b) for a, b in _QUOTES[:4]))


def strip_quoted(text: str, repl: str | Callable[[re.Match], str] = " ") -> str:
    """`text` with every quoted span replaced by `repl` (a string, or a function of the match as in
    `re.sub`): what the request says around its data."""
    return _QUOTED_SPAN.sub(repl, text)


_TRAILING = re.compile(r"[:：]\s*(?P<data>[^:：]+?)\s*$")
# what follows the colon asks something ("BERT 的预训练任务：MLM 和 NSP 有什么区别"): a question, not data
_ASKS = re.compile(r"什么|为什么|为何|怎么|如何|哪|是否|区别|吗$|呢$|^(?:what|why|how|which|when|where|who|does|do|is|are|can)\b", re.I)


def trailing_data(text: str) -> str:
    """The data a request gives after its last colon, as students often type it instead of quoting:
    '用 bigram 给这句话打分：我 爱 你' → '我 爱 你'. '' when there is none, or when what follows the colon
    is a question ("BERT 的 mask 策略：为什么是 80/10/10？", "…：MLM 和 NSP 有什么区别"), carries options
    ("seed=1", a list) or has no words ("…：80/10/10")."""
    m = _TRAILING.search(text or "")
    if not m:
        return ""
    data = m.group("data").strip().rstrip("。.!！")
    if not data or data.endswith(("?", "？")) or re.search(r"[=\[\]{}]", data) or _ASKS.search(data):
        return ""
    if not re.search(r"[A-Za-z\u4e00-\u9fff]", data):
        return ""  # "BERT 的掩码策略：80/10/10" names numbers, not a sentence
    return data


def quoted_segments(text: str) -> list[str]:
    """The quoted pieces of `text`, in order: “…”, 「…」, 『…』, "…", 《…》, ‘…’ (original characters kept)."""
    found: list[tuple[int, str]] = []
    for left, right in _QUOTES:
        pattern = re.escape(left) + r"(.+?)" + re.escape(right)
        for m in re.finditer(pattern, text, flags=re.S):
            found.append((m.start(), m.group(1)))
    # drop segments nested in another (e.g. "…“x”…") by keeping the earliest non-overlapping ones
    found.sort()
    out, last_end = [], -1
    for start, seg in found:
        if start > last_end:
            out.append(seg)
            last_end = start + len(seg) + 1
    return [s.strip() for s in out if s.strip()]


def _balanced_block(s: str, start: int) -> tuple[str, int] | None:
    """The bracket block beginning at s[start] == '[' (balanced), and the index after it."""
    if start >= len(s) or s[start] != "[":
        return None
    depth = 0
    for i in range(start, len(s)):
        if s[i] == "[":
            depth += 1
        elif s[i] == "]":
            depth -= 1
            if depth == 0:
                return s[start : i + 1], i + 1
    return s[start:], len(s)  # unbalanced: let the matrix parser report it


_ASSIGN = r"\s*(?:=|:|是|为|取|等于)\s*"


def find_option(text: str, names: Iterable[str], value: str = r"[-+]?\d+(?:\.\d+)?") -> str | None:
    """The value after ``name=``/``name:``/``name 是`` for the first of `names` present (normalised text)."""
    s = normalize_text(text)
    alts = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    m = re.search(rf"(?<![A-Za-z0-9_])(?:{alts}){_ASSIGN}({value})", s, flags=re.IGNORECASE)
    return m.group(1) if m else None


def find_named_matrices(text: str, names: Iterable[str]) -> dict[str, str]:
    """Find ``Q=[[..]]``-style assignments (also ``Q=K=[[..]]``, ``K=Q``, ``Q=I2``) in normalised text.

    Returns name -> matrix text (or name -> other-name for aliases like K=Q, resolved afterwards).
    Names are matched case-sensitively first, then case-insensitively.
    """
    s = normalize_text(text)
    names = list(names)
    alts = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    # a chain of "NAME =" followed by a bracket block, identity shorthand, or another name
    name_re = re.compile(rf"(?<![A-Za-z0-9_])({alts})(?:矩阵|matrix)?{_ASSIGN}", flags=re.IGNORECASE)
    out: dict[str, str] = {}
    pos = 0
    while True:
        m = name_re.search(s, pos)
        if not m:
            break
        chain = [m.group(1)]
        end = m.end()
        while True:
            m2 = name_re.match(s, end)
            if not m2:
                break
            chain.append(m2.group(1))
            end = m2.end()
        value: str | None = None
        if end < len(s) and s[end] == "[":
            block = _balanced_block(s, end)
            assert block is not None
            value, end = block
        else:
            ident = re.match(r"(?:I|eye)\s*[_(]?\s*\d+\s*\)?", s[end:])
            alias = re.match(rf"({alts})(?![A-Za-z0-9_])", s[end:], flags=re.IGNORECASE)
            if ident:
                value = ident.group(0)
                end += ident.end()
            elif alias:
                value = "@" + alias.group(1)
                end += alias.end()
            else:
                # MATLAB-style rows without brackets: "1 0; 0 1" up to a Chinese char/letter/next name
                rows = re.match(r"[-+\d.eE\s;,]+", s[end:])
                if rows and re.search(r"\d", rows.group(0)):
                    value = rows.group(0).strip().strip(",")
                    end += rows.end()
        if value is not None:
            for nm in chain:
                key = _canonical(nm, names)
                out.setdefault(key, value)
        pos = max(end, m.end())
    # resolve aliases (K=Q)
    for key, value in list(out.items()):
        seen = {key}
        while value.startswith("@"):
            target = _canonical(value[1:], names)
            if target in seen or target not in out:
                raise DemoInputError(f"{key} 引用了未给出的矩阵 {value[1:]}", f"{key} refers to matrix {value[1:]}, which is not given")
            seen.add(target)
            value = out[target]
        out[key] = value
    return out


def _canonical(name: str, names: list[str]) -> str:
    for n in names:
        if n == name:
            return n
    for n in names:
        if n.lower() == name.lower():
            return n
    return name


def unnamed_matrix_blocks(text: str) -> list[str]:
    """Top-level ``[[...]]`` blocks (2-D looking) in order, ignoring ones right after an option name."""
    s = normalize_text(text)
    out, i = [], 0
    while i < len(s):
        if s[i] == "[":
            block = _balanced_block(s, i)
            assert block is not None
            value, end = block
            before = s[max(0, i - 30) : i]
            if value.startswith("[[") and not re.search(r"[A-Za-z_\u4e00-\u9fff]\s*[=:]?\s*$", before):
                out.append(value)
            i = end
        else:
            i += 1
    return out


def try_json_object(query: str) -> dict | None:
    """If the query is a JSON object (possibly with full-width punctuation), return it."""
    s = query.strip()
    if not s.startswith(("{", "｛")):
        return None
    for candidate in (s, normalize_text(s)):
        try:
            obj = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(obj, dict):
            return obj
    raise DemoInputError("JSON 格式有误，无法解析；请检查引号和括号", "malformed JSON: could not parse it; check quotes and brackets")


_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def _int_word(w: str) -> int:
    return _CN_DIGITS[w] if w in _CN_DIGITS else int(w)


def _flag(text: str, words: Iterable[str]) -> bool:
    s = normalize_text(text).lower()
    return any(w.lower() in s for w in words)


def _pick(obj: dict, *keys: str) -> Any:
    lowered = {str(k).lower(): v for k, v in obj.items()}
    for k in keys:
        if k.lower() in lowered:
            return lowered[k.lower()]
    return None


def _as_bool(x: Any) -> bool:
    if isinstance(x, str):
        return x.strip().lower() in {"1", "true", "yes", "y", "on", "是", "对"}
    return bool(x)


# ----------------------------------------------------------------------------------------------
# Attention arguments


_STEPS = re.compile(r"步骤|每一步|中间结果|计算过程|原始分数|step[\s-]*by[\s-]*step|\bsteps\b|raw scores|show (?:the |your )?work", re.IGNORECASE)


def asks_for_steps(query: str) -> bool:
    """Whether a demo request asks to see how its numbers come about ("显示计算步骤", "step by step"), in its
    words outside the quoted data."""
    return bool(_STEPS.search(strip_quoted(normalize_text(query or ""))))


def parse_attention_query(query: str) -> dict[str, Any]:
    """Loose text or JSON -> kwargs for the attention demo.

    Keys: q, k, v (matrices as nested lists or text), w_q, w_k, w_v, w_o, causal, heads,
    padding_mask, seed, projections ('seeded'|'identity'), text (a sentence for attention_from_text), d_model,
    steps (show the scores before the weights). Only keys that were found are returned.
    """
    query = query or ""
    obj = try_json_object(query)
    if obj is not None:
        out: dict[str, Any] = {}
        for key, aliases in {
            "q": ("q", "query"), "k": ("k", "key"), "v": ("v", "value"),
            "w_q": ("w_q", "wq"), "w_k": ("w_k", "wk"), "w_v": ("w_v", "wv"), "w_o": ("w_o", "wo"),
            "heads": ("heads", "num_heads", "h", "n_heads"), "causal": ("causal", "is_causal"),
            "padding_mask": ("padding_mask", "key_padding_mask", "padding"),
            "seed": ("seed",), "projections": ("projections", "proj"),
            "text": ("text", "sentence", "句子"), "d_model": ("d_model", "dim"),
        }.items():
            val = _pick(obj, *aliases)
            if val is not None:
                out[key] = val
        if "causal" in out:
            out["causal"] = _as_bool(out["causal"])
        return out

    out = {}
    mats = find_named_matrices(query, ["Q", "K", "V", "W_q", "W_k", "W_v", "W_o", "Wq", "Wk", "Wv", "Wo"])
    for key, val in mats.items():
        canon = {"Q": "q", "K": "k", "V": "v"}.get(key) or "w_" + key[-1].lower()
        out[canon] = val
    if not any(k in out for k in ("q", "k", "v")):
        blocks = unnamed_matrix_blocks(query)
        for key, block in zip(("q", "k", "v"), blocks):
            out[key] = block
    s = normalize_text(query)
    m = re.search(r"(?<![A-Za-z0-9_])(?:heads?|num_heads|n_heads|h|头数)\s*(?:=|:|是|为)\s*(\d+)", s, re.IGNORECASE) or re.search(
        r"([0-9]+|[一二两三四五六七八九十])\s*(?:个)?(?:注意力)?(?:头|heads?\b)", s, re.IGNORECASE
    )
    if m:
        out["heads"] = _int_word(m.group(1))
    elif re.search(r"多头|multi-?head", s, re.IGNORECASE):
        out["heads"] = 2
    pad = find_option(query, ["padding_mask", "padding", "pad", "填充掩码", "填充", "key_padding_mask"], r"\[[^\]]*\]")
    if pad is not None:
        out["padding_mask"] = pad
    if _flag(query, ["causal", "因果", "look-ahead", "lookahead", "下三角", "masked self", "掩码自注意力", "解码器", "decoder"]):
        out["causal"] = True
    if re.search(r"不(?:要|用|加)?\s*(?:因果|掩码)|non-?causal|no causal", s, re.IGNORECASE):
        out["causal"] = False
    seed = find_option(query, ["seed", "种子", "随机种子"], r"\d+")
    if seed is not None:
        out["seed"] = int(seed)
    dm = find_option(query, ["d_model", "dim", "维度"], r"\d+")
    if dm is not None:
        out["d_model"] = int(dm)
    if _flag(query, ["identity projection", "单位投影", "不投影", "no projection"]):
        out["projections"] = "identity"
    if asks_for_steps(query):  # the scores the weights come from, shown before them
        out["steps"] = True
    if not any(k in out for k in ("q", "k", "v")):
        quoted = quoted_segments(query)
        sent = quoted[0] if quoted else None
        if sent is None:
            m = re.search(r"(?:句子|sentence|text|文本)\s*(?:=|:|是|为)\s*(.+)$", s, re.IGNORECASE)
            if m:
                sent = m.group(1).strip()
        if sent is None:
            bare = query.strip()
            if bare and len(bare) <= 60 and not re.search(r"[=\[\]{}]", normalize_text(bare)):
                sent = bare
        if sent:
            out["text"] = sent
    return out


# ----------------------------------------------------------------------------------------------
# n-gram arguments

_SMOOTHING_WORDS = [
    (("kneser", "kneser-ney", "kn", "克奈瑟", "kn平滑"), "kn"),
    (("laplace", "拉普拉斯", "加一", "add-one", "add one", "add1", "+1平滑"), "laplace"),
    (("add-k", "addk", "add k", "加k", "lidstone"), "addk"),
    (("mle", "最大似然", "极大似然", "不平滑", "无平滑", "不做平滑", "不加平滑", "不用平滑", "没有平滑", "no smoothing", "without smoothing", "maximum likelihood", "unsmoothed"), "mle"),
]


def normalize_smoothing(name: str) -> tuple[str, float | None]:
    """'MLE'/'add-k'/'Laplace'/'KN'/'kneser-ney'... -> ('mle'|'addk'|'kn', k or None)."""
    s = normalize_text(str(name)).strip().lower().replace("_", "-")
    table = {
        "mle": "mle", "ml": "mle", "none": "mle", "最大似然": "mle",
        "addk": "addk", "add-k": "addk", "lidstone": "addk", "add": "addk",
        "laplace": ("addk", 1.0), "add-one": ("addk", 1.0), "add1": ("addk", 1.0), "add-1": ("addk", 1.0),
        "拉普拉斯": ("addk", 1.0), "加一": ("addk", 1.0),
        "kn": "kn", "kneser-ney": "kn", "kneserney": "kn", "kneser": "kn", "interpolated-kn": "kn",
        "kneser-ney-interpolated": "kn", "kneserneyinterpolated": "kn",
    }
    if s in table:
        v = table[s]
        return (v[0], v[1]) if isinstance(v, tuple) else (v, None)
    raise DemoInputError(
        f"未知的平滑方法 “{name}”；可选：mle（最大似然）、addk（加 k，k=1 即拉普拉斯）、kn（插值 Kneser-Ney）",
        f"unknown smoothing {name!r}; expected one of: mle, addk (add-k, Laplace when k=1), kn (interpolated Kneser-Ney)",
    )


def parse_ngram_query(query: str) -> dict[str, Any]:
    """Loose text or JSON -> kwargs for the n-gram demo.

    Keys: n, smoothing, k, discount, sentence, compare, tokenization, corpus_text, steps (show the counts
    each probability comes from).
    """
    query = query or ""
    obj = try_json_object(query)
    if obj is not None:
        out: dict[str, Any] = {}
        for key, aliases in {
            "n": ("n", "order"), "smoothing": ("smoothing", "smooth", "method"), "k": ("k",),
            "discount": ("discount", "d"), "sentence": ("sentence", "句子", "s"),
            "compare": ("compare", "sentence_b", "other", "vs"), "tokenization": ("tokenization", "tokenize", "tok"),
            "corpus_text": ("corpus_text", "text", "corpus", "训练文本"),
        }.items():
            val = _pick(obj, *aliases)
            if val is not None:
                out[key] = val
        sents = _pick(obj, "sentences")
        if isinstance(sents, list) and sents:
            out.setdefault("sentence", sents[0])
            if len(sents) > 1:
                out.setdefault("compare", sents[1])
        return out

    out = {}
    s = normalize_text(query)
    if asks_for_steps(query):
        out["steps"] = True
    # training text given inline: text="..." / 语料：“...” -- take it out before looking for sentences
    rest = query
    m = re.search(
        r"(?:corpus_text|corpus|训练文本|训练语料|语料库|语料|trained on|train(?:ed)? it on|training text)\s*(?:是|为|如下|is)?\s*(?:=|:|：)?\s*(“[^”]*”|\"[^\"]*\"|「[^」]*」)",
        query, re.IGNORECASE,
    )
    if m:
        out["corpus_text"] = m.group(1)[1:-1]
        rest = query[: m.start()] + query[m.end() :]
    n = find_option(rest, ["n", "order", "阶数"], r"-?\d+")
    if n is not None:
        out["n"] = int(n)
    else:
        m = re.search(r"(?<![A-Za-z0-9])([0-9]+|[一二两三四五六七八九十])\s*(?:-|\s)?(?:gram|元)", normalize_text(rest), re.IGNORECASE)
        if m:
            out["n"] = _int_word(m.group(1))
        else:
            for word, val in (("unigram", 1), ("bigram", 2), ("trigram", 3)):
                if word in s.lower():
                    out["n"] = val
                    break
    sm = find_option(rest, ["smoothing", "平滑", "smooth", "method"], r"[A-Za-z\u4e00-\u9fff\-+_]+")
    if sm is not None:
        out["smoothing"] = sm
    else:
        low = normalize_text(rest).lower()
        for words, val in _SMOOTHING_WORDS:
            hit = False
            for w in words:
                if w == "kn":
                    hit = re.search(r"(?<![a-z])kn(?![a-z])", low) is not None
                else:
                    hit = w in low
                if hit:
                    break
            if hit:
                out["smoothing"] = val
                break
    k = find_option(rest, ["k"], r"-?\d+(?:\.\d+)?(?:e-?\d+)?")  # a negative k is read, so the demo can say it is invalid
    if k is not None:
        out["k"] = float(k)
    d = find_option(rest, ["discount", "折扣", "d"], r"\d+(?:\.\d+)?")
    if d is not None:
        out["discount"] = float(d)
    low = normalize_text(rest).lower()
    if re.search(r"按字|字符|逐字|单字|char", low):
        out["tokenization"] = "char"
    elif re.search(r"空格|whitespace", low):
        out["tokenization"] = "whitespace"
    elif re.search(r"jieba|结巴|分词", low):
        out["tokenization"] = "jieba"
    quoted = quoted_segments(rest)
    if quoted:
        out["sentence"] = quoted[0]
        if len(quoted) > 1:
            out["compare"] = quoted[1]
    else:
        m = re.search(r"(?:sentence|句子)\s*(?:=|:|：|是|为)\s*(.+)$", rest, re.IGNORECASE)
        given = m.group(1) if m else trailing_data(rest)  # "给这句话打分：我 爱 你"
        if given:
            parts = re.split(r"\s+(?:vs\.?|VS|和|与|对比)\s+", given.strip())
            out["sentence"] = parts[0].strip()
            if len(parts) > 1:
                out["compare"] = parts[1].strip()
        else:
            parts = re.split(r"\s*(?:\bvs\.?\b|VS|对比)\s*", rest.strip())
            if len(parts) == 2 and all(0 < len(p) <= 80 for p in parts) and not re.search(r"[=\[\]{}]", normalize_text(rest)):
                out["sentence"], out["compare"] = parts[0].strip(), parts[1].strip()
            elif rest.strip() and len(rest.strip()) <= 80 and not re.search(r"[=\[\]{}:]", normalize_text(rest)) and "n" not in out and "smoothing" not in out:
                out["sentence"] = rest.strip()
    return out


# ----------------------------------------------------------------------------------------------
# Mask arguments


def parse_mask_query(query: str) -> dict[str, Any]:
    """Loose text or JSON -> kwargs for the masking demo.

    Keys: kind ('causal'|'padding'|'combined'|'mlm'), size, lengths, text, seed, rate, stats, tokenization,
    positions (0-based, from "第 3 个词") and words ("把 X 遮住"): the tokens a student asks to hide.
    """
    query = query or ""
    obj = try_json_object(query)
    if obj is not None:
        out: dict[str, Any] = {}
        for key, aliases in {
            "kind": ("kind", "type", "mode"), "size": ("size", "n", "length", "len"),
            "lengths": ("lengths", "lens"), "text": ("text", "sentence"), "seed": ("seed",),
            "rate": ("rate", "mask_rate", "prob"), "stats": ("stats", "statistics"),
            "tokenization": ("tokenization", "tok"),
        }.items():
            val = _pick(obj, *aliases)
            if val is not None:
                out[key] = val
        if "stats" in out:
            out["stats"] = _as_bool(out["stats"])
        return out

    out = {}
    s = normalize_text(query)
    low = s.lower()
    kind = find_option(query, ["kind", "type", "类型"], r"[A-Za-z\u4e00-\u9fff]+")
    if kind is not None:
        out["kind"] = kind
    else:
        is_mlm = re.search(r"mlm|bert|\[mask\]|掩码语言|遮蔽语言|完形|masked[- ]?lm|masked language|随机.{0,4}(?:遮|掩|mask)|random(?:ly)?[- ]?mask", low)
        is_pad = re.search(r"padding|填充|补齐|pad\b|\bpad", low)
        is_causal = re.search(r"causal|因果|look-?ahead|下三角|前瞻|未来", low)
        if is_mlm:
            out["kind"] = "mlm"
        elif is_pad and is_causal:
            out["kind"] = "combined"
        elif is_pad:
            out["kind"] = "padding"
        elif is_causal:
            out["kind"] = "causal"
    size = find_option(query, ["size", "n", "length", "len", "长度", "序列长度"], r"\d+")
    if size is None:
        m = re.search(r"(\d+)\s*[x*×]\s*\d+", s) or re.search(r"(?:长度|length|size|大小|序列长|长)\s*(?:为|是|=|:|of)?\s*(\d+)", s, re.IGNORECASE) or re.search(
            r"(?<!第)(?<!第\s)(\d+)\s*(?:个)?\s*-?\s*(?:tokens?|词|字|位置|words?)", s, re.IGNORECASE  # not "第 3 个词"
        ) or re.search(  # the size right before the mask's name: "一个 8 的因果掩码", "a 6 causal mask"
            r"(?<![A-Za-z\d.\-])(?<![A-Za-z]{2}\s)(?<!第)(?<!第\s)(\d+)\s*(?:阶|维)?\s*的?\s*(?:因果|前瞻|下三角|causal|look[-\s]?ahead)", s, re.IGNORECASE
        )
        if m:
            size = m.group(1)
    # "长度分别是 3 和 5" / "长度为 3、5、2" / "lengths 3, 5 and 2" first, then lengths=[3,5,2]
    # a negative length is read too, so the demo can say it is invalid
    m = re.search(r"(?:长度分别|长度|lengths?)\s*(?:为|是|of|=|:)?\s*(-?\d+(?:\s*(?:,|、|和|与|及|and)\s*-?\d+)+)", s, re.IGNORECASE)
    lengths = (re.sub(r"\s*(?:,|、|和|与|及|and)\s*", ",", m.group(1), flags=re.IGNORECASE) if m else
               find_option(query, ["lengths", "lens", "各序列长度", "长度分别"], r"\[[^\]]*\]|[\d,\s]+\d"))
    if lengths is not None:
        out["lengths"] = lengths
    elif size is not None:
        out["size"] = int(size)
    seed = find_option(query, ["seed", "种子", "随机种子"], r"\d+")
    if seed is not None:
        out["seed"] = int(seed)
    rate = find_option(query, ["rate", "比例", "概率", "mask_rate"], r"\d+(?:\.\d+)?%?")
    if rate is None:
        m = re.search(r"(\d+(?:\.\d+)?)\s*%", s)
        if m and out.get("kind") == "mlm":
            rate = m.group(0)
    if rate is not None:
        rate = rate.strip()
        out["rate"] = float(rate[:-1]) / 100 if rate.endswith("%") else float(rate)
    if re.search(r"统计|stats|statistic|实际比例|realised|realized", low):
        out["stats"] = True
    if re.search(r"按字|字符|逐字|char", low):
        out["tokenization"] = "char"
    elif re.search(r"jieba|分词|整词|whole.?word", low):
        out["tokenization"] = "jieba"
    quoted = quoted_segments(query)
    if quoted:
        out["text"] = quoted[0]
    else:
        m = re.search(r"(?:text|sentence|句子|文本)\s*(?:=|:|是|为)\s*(.+)$", query, re.IGNORECASE)
        if m:
            out["text"] = m.group(1).strip()
        elif trailing_data(query) and out.get("kind") != "padding" and "lengths" not in out:
            out["text"] = trailing_data(query)  # "对这句话做 BERT 掩码：我 爱 自然 语言 处理"
    # which tokens to hide, when the student names them: "第 3 个词" / "the 2nd token" / "把 X 遮住"
    rest = strip_quoted(s)
    nth = [_int_word(x) for x in re.findall(r"第\s*(\d+|[一二两三四五六七八九十])\s*(?:个)?\s*(?:词|字|token|位置)", rest)]
    nth += [int(x) for x in re.findall(r"\b(\d+)(?:st|nd|rd|th)\s+(?:word|token)", rest, re.IGNORECASE)]
    if nth and out.get("text"):
        out["positions"] = [n - 1 for n in nth]
    m = re.search(r"(?:中|里)的\s*[“\"'‘]?([^\s“”\"'‘’，,。]{1,12}?)[”\"'’]?\s*(?:这个词|这个字)?\s*(?:遮住|遮掉|盖住|掩盖|掩掉|挡住|换成\s*\[mask\]|mask\s*掉)", s, re.IGNORECASE) or re.search(
        r"\bmask\s+(?:out\s+)?(?:the\s+word\s+)?[\"'‘“]?([A-Za-z\u4e00-\u9fff]+)[\"'’”]?\s+(?:in|of)\b", s, re.IGNORECASE)
    if m and out.get("text") and "positions" not in out:
        out["words"] = [m.group(1)]
        # 'Mask the word "cat" in "the cat sat on the mat"': the word is quoted before its sentence
        if out["text"] == m.group(1):
            out["text"] = next((q for q in quoted[1:] if m.group(1) in q), out["text"])
    return out

