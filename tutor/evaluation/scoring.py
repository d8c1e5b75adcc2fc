"""Scoring one answer: every expectation of an item is a small named check (promptfoo-style
assertions), run on the tutor's last answer (`AskResult.to_dict()` shape).

| check            | passes when                                                                          |
|------------------|--------------------------------------------------------------------------------------|
| `expect_any`     | at least one of the strings occurs in the answer                                     |
| `expect_all`     | every string occurs in the answer                                                    |
| `expect_regex`   | every pattern matches the answer (case-insensitive, `.` matches newlines)            |
| `expect_tool`    | one of the expected tools was called in a step (`"none"`: no tool was called)        |
| `expect_source`  | one of the expected note files is cited (in `sources`, else named in the answer)     |
| `expect_refusal` | the answer is a refusal (true) / is not a refusal (false)                            |
| `reference`      | embedding cosine(answer, reference) ≥ `min_similarity` (default 0.4)                 |
| `max_latency_ms` | the last turn took at most this long (wall clock seen by the evaluator)              |

Matching text ("occurs"): both sides are NFKC-normalised (full-width "１５％" = "15%"), case-folded
and whitespace-collapsed; a needle also matches when both sides are compared with all whitespace
removed ("1750 亿" = "1750亿"). Only the answer the student sees is searched, not the tool trace.

Refusals: when the result carries a known `kind`, `kind == "refusal"` decides (it is the tutor's own
statement). Without a `kind` (another server, a future agent) the answer text decides: it is a
refusal when its first 300 characters contain a refusal phrase (`REFUSAL_PATTERNS`: "超出了本课程的
范围", "与课程无关", "我不能执行/透露…", "outside this course", "I can't help/answer/follow…", …).

The similarity of `reference` uses the project's own embedding model (`kb.embedder.Embedder`,
L2-normalised, so cosine = dot product); bracketed citations like `[002_x.txt › 标题]` are removed
from the answer first. That model is small and trained on the Chinese notes, and it measures
*topic* better than *correctness*. The default threshold 0.4 was calibrated with the embedder of
commit 749b343 on `eval/similarity_calibration.jsonl` (dev references with a hand-written correct
paraphrase and a wrong answer on the same topic): a correct paraphrase passes 9/10, an answer about
another topic 3/90, but a wrong answer on the same topic still passes 7/10. So `reference` catches
off-topic answers; check facts with `expect_any` / `expect_all`. A test re-checks the calibration,
so retraining the embedder without revisiting the threshold fails loudly. Compare a reference with
an answer in the same language (cross-language similarity is unreliable). The model reads at most its
`max_seq_length` (256) tokens of a text, about the first 250 Chinese characters: of a longer answer
only the opening is compared (most of the tutor's concept answers are longer: 54 of the 64 inspected
answers with a reference at the time of writing), and the check's detail says so.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Callable, Optional

from tutor.evaluation.items import EvalItem

DEFAULT_MIN_SIMILARITY = 0.4
KNOWN_KINDS = frozenset({"concept", "demo", "refusal", "error"})
RETRIEVAL_TOOLS = frozenset({"search_notes"})
REFUSAL_WINDOW = 300
NO_TOOL = "none"

REFUSAL_PATTERNS = [
    # Chinese
    r"超出(了)?(本|这门|我们的|这个)?课程(的)?(范围|内容|范畴)",
    r"不在(本|这门|我们的)?课程(的)?(范围|内容)",
    r"(与|和)(本|这门)?课程(内容)?无关",
    r"(我)?(不能|无法|不会)(执行|遵守|照做|透露|泄露|修改|提供|帮你写|替你写|回答这)",
    r"只(能|会)回答.{0,16}课程",
    r"(抱歉|对不起).{0,16}(不能|无法|超出)",
    # English
    r"outside (of )?(this|the|our) course",
    r"out of (the )?(course'?s? )?scope",
    r"not (part of|related to|covered (by|in)) (this|the|our) course",
    r"\b(i|we) (can ?not|can't|won't|will not|am unable to|am not able to) (help|answer|follow|comply|reveal|share|change|do|write)",
    r"\bonly (answer|help with|discuss) (questions )?(about )?(this|the|our) course",
]
_REFUSAL_RE = re.compile("|".join(f"(?:{p})" for p in REFUSAL_PATTERNS), re.I)
_CITATION_RE = re.compile(r"\[[^\[\]\n]*?\.(?:txt|md|markdown)\b[^\[\]\n]*\]", re.I)

Similarity = Callable[[str, str], float]


# ---- text helpers -----------------------------------------------------------------------------
def normalize(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return re.sub(r"\s+", " ", text).strip()


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def contains(haystack: str, needle: str) -> bool:
    """Case-insensitive, width-insensitive substring test (see the module docstring)."""
    h, n = normalize(haystack), normalize(needle)
    if not n:
        return True
    return n in h or _squash(n) in _squash(h)


def strip_citations(text: str) -> str:
    """Remove bracketed note citations (`[003_x.txt › heading]`) from an answer."""
    return re.sub(r"\s+", " ", _CITATION_RE.sub(" ", text or "")).strip()


def looks_like_refusal(answer: str) -> bool:
    """The text heuristic for refusals (see `REFUSAL_PATTERNS`), on the answer's opening."""
    head = unicodedata.normalize("NFKC", answer or "")[:REFUSAL_WINDOW]
    return bool(_REFUSAL_RE.search(head))


def detect_refusal(result: dict[str, Any]) -> tuple[bool, str]:
    """(refused?, how it was decided: "kind" or "text")."""
    kind = result.get("kind")
    if isinstance(kind, str) and kind in KNOWN_KINDS:
        return kind == "refusal", "kind"
    return looks_like_refusal(str(result.get("answer") or "")), "text"


def tools_called(result: dict[str, Any]) -> list[str]:
    """The tools of the result's steps, in order (steps without a tool are skipped)."""
    out = []
    for step in result.get("steps") or []:
        if isinstance(step, dict) and step.get("tool"):
            out.append(str(step["tool"]))
    return out


def _source_key(name: str) -> str:
    p = PurePath(str(name).replace("\\", "/"))
    stem = p.name
    for ext in (".txt", ".md", ".markdown"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    return stem.casefold()


def cited_sources(result: dict[str, Any]) -> list[str]:
    """The `source` of each citation, in order, without duplicates."""
    out: list[str] = []
    for s in result.get("sources") or []:
        name = s.get("source") if isinstance(s, dict) else s
        if name and str(name) not in out:
            out.append(str(name))
    return out


def source_matches(expected: list[str], source: str) -> bool:
    keys = {_source_key(e) for e in expected}
    return _source_key(source) in keys


def source_rank(expected: list[str], result: dict[str, Any]) -> Optional[int]:
    """1-based rank of the first cited source that is one of `expected` (None when none is)."""
    for i, src in enumerate(cited_sources(result), 1):
        if source_matches(expected, src):
            return i
    return None


def tool_for_confusion(expected: list[str] | None, result: dict[str, Any]) -> str:
    """The tool that stands for this answer in the tool confusion matrix: the expected tool when it
    was called, else the first tool called, else "none"."""
    called = tools_called(result)
    if expected:
        for e in expected:
            if e.casefold() in {c.casefold() for c in called}:
                return e
    return called[0] if called else NO_TOOL


# ---- checks -----------------------------------------------------------------------------------
@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    score: Optional[float] = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "passed": self.passed, "detail": self.detail}
        if self.score is not None:
            d["score"] = round(self.score, 4)
        return d


def _short(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def check_expect_any(item: EvalItem, result: dict, **_) -> CheckResult:
    answer = str(result.get("answer") or "")
    found = [s for s in item.expect_any or [] if contains(answer, s)]
    if found:
        return CheckResult("expect_any", True, f"found {found[0]!r}")
    return CheckResult("expect_any", False, "none of " + ", ".join(repr(_short(s)) for s in item.expect_any or []) + " in the answer")


def check_expect_all(item: EvalItem, result: dict, **_) -> CheckResult:
    answer = str(result.get("answer") or "")
    missing = [s for s in item.expect_all or [] if not contains(answer, s)]
    if not missing:
        return CheckResult("expect_all", True, f"all {len(item.expect_all or [])} found")
    return CheckResult("expect_all", False, "missing " + ", ".join(repr(_short(s)) for s in missing))


def check_expect_regex(item: EvalItem, result: dict, **_) -> CheckResult:
    answer = unicodedata.normalize("NFKC", str(result.get("answer") or ""))
    missing = [p for p in item.expect_regex or [] if not re.search(p, answer, re.I | re.S)]
    if not missing:
        return CheckResult("expect_regex", True, "matched")
    return CheckResult("expect_regex", False, "no match for " + ", ".join(repr(p) for p in missing))


def check_expect_tool(item: EvalItem, result: dict, **_) -> CheckResult:
    expected = [t.casefold() for t in item.expect_tool or []]
    called = tools_called(result)
    called_cf = [c.casefold() for c in called]
    shown = ", ".join(called) or NO_TOOL
    if NO_TOOL in expected and not called:
        return CheckResult("expect_tool", True, "no tool called")
    if any(t in called_cf for t in expected if t != NO_TOOL):
        return CheckResult("expect_tool", True, f"called {shown}")
    return CheckResult("expect_tool", False, f"expected {' or '.join(item.expect_tool or [])}, called {shown}")


def check_expect_source(item: EvalItem, result: dict, **_) -> CheckResult:
    expected = item.expect_source or []
    rank = source_rank(expected, result)
    if rank is not None:
        return CheckResult("expect_source", True, f"cited (rank {rank})")
    answer = normalize(str(result.get("answer") or ""))
    for e in expected:
        if _source_key(e) in answer:
            return CheckResult("expect_source", True, "named in the answer text")
    cited = ", ".join(cited_sources(result)) or "nothing"
    return CheckResult("expect_source", False, f"expected {' or '.join(expected)}, cited {cited}")


def check_expect_refusal(item: EvalItem, result: dict, **_) -> CheckResult:
    refused, how = detect_refusal(result)
    want = bool(item.expect_refusal)
    said = "refused" if refused else "answered"
    if refused == want:
        return CheckResult("expect_refusal", True, f"{said} (by {how})")
    return CheckResult("expect_refusal", False, f"expected {'a refusal' if want else 'an answer'}, {said} (by {how})")


def check_reference(item: EvalItem, result: dict, *, similarity: Optional[Similarity] = None, **_) -> CheckResult:
    threshold = item.min_similarity if item.min_similarity is not None else DEFAULT_MIN_SIMILARITY
    if similarity is None:
        return CheckResult("reference", False, "no embedding model available to score the reference")
    answer = strip_citations(str(result.get("answer") or ""))
    if not answer:
        return CheckResult("reference", False, "empty answer", 0.0)
    sim = float(similarity(answer, item.reference or ""))
    ok = sim >= threshold
    detail = f"similarity {sim:.3f} {'≥' if ok else '<'} {threshold:.2f}"
    window = getattr(similarity, "window", None)
    if callable(window) and (limit := window(answer)):
        detail += f" (the embedding model read only the answer's first {limit} tokens)"
    return CheckResult("reference", ok, detail, sim)


def check_max_latency(item: EvalItem, result: dict, *, latency_ms: Optional[float] = None, **_) -> CheckResult:
    lat = latency_ms if latency_ms is not None else float(result.get("latency_ms") or 0.0)
    limit = float(item.max_latency_ms or 0.0)
    ok = lat <= limit
    return CheckResult("max_latency_ms", ok, f"{lat:.0f} ms {'≤' if ok else '>'} {limit:.0f} ms", lat)


CHECKS: list[tuple[str, Callable[..., CheckResult]]] = [
    ("expect_any", check_expect_any),
    ("expect_all", check_expect_all),
    ("expect_regex", check_expect_regex),
    ("expect_tool", check_expect_tool),
    ("expect_source", check_expect_source),
    ("expect_refusal", check_expect_refusal),
    ("reference", check_reference),
    ("max_latency_ms", check_max_latency),
]
CHECK_NAMES = [name for name, _ in CHECKS]


@dataclass
class Score:
    """The outcome of all the checks of one item."""

    checks: list[CheckResult] = field(default_factory=list)
    refused: bool = False
    refusal_by: str = "kind"
    reference_similarity: Optional[float] = None
    context_similarity: Optional[float] = None
    source_rank: Optional[int] = None

    @property
    def failures(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    @property
    def passed(self) -> Optional[bool]:
        """True/False when the item had expectations, None when there was nothing to check."""
        if not self.checks:
            return None
        return not self.failures


def retrieved_context(result: dict[str, Any]) -> str:
    """What the tutor retrieved: the observations of its retrieval steps (ragas' 'contexts')."""
    parts = []
    for step in result.get("steps") or []:
        if isinstance(step, dict) and step.get("tool") in RETRIEVAL_TOOLS and step.get("observation"):
            parts.append(str(step["observation"]))
    return "\n".join(parts)


def score_item(
    item: EvalItem,
    result: dict[str, Any],
    *,
    similarity: Optional[Similarity] = None,
    latency_ms: Optional[float] = None,
) -> Score:
    """Run every check the item asks for on `result` (the last answer, as a dict)."""
    score = Score()
    for name, check in CHECKS:
        if getattr(item, name) is None:
            continue
        c = check(item, result, similarity=similarity, latency_ms=latency_ms)
        score.checks.append(c)
        if name == "reference":
            score.reference_similarity = c.score
    score.refused, score.refusal_by = detect_refusal(result)
    if item.expect_source:
        score.source_rank = source_rank(item.expect_source, result)
    if similarity is not None and not score.refused:
        context = retrieved_context(result)
        answer = strip_citations(str(result.get("answer") or ""))
        if context.strip() and answer:
            score.context_similarity = float(similarity(answer, context))
    return score


class EmbeddingSimilarity:
    """cosine(a, b) with the project's embedding model (vectors are L2-normalised)."""

    def __init__(self, embedder: Any):
        self.embedder = embedder

    def __call__(self, a: str, b: str) -> float:
        va, vb = self.embedder.encode([a, b])
        return float(sum(x * y for x, y in zip(va, vb)))

    def window(self, text: str) -> int | None:
        """The model's token limit when `text` is longer than it (the rest is not read), else None."""
        model = getattr(self.embedder, "model", None)
        limit = getattr(model, "max_seq_length", None)
        tokenizer = getattr(model, "tokenizer", None)
        if not limit or tokenizer is None:
            return None
        n = len(tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"])
        return limit if n > limit else None
