"""From per-item records to the numbers of `metrics.json`.

Definitions (rates are in [0, 1]; a rate with nothing to measure is `null`):

* ``pass_rate`` = passed / scored. An item is *scored* when it has at least one expectation or it
  crashed (a crash always fails: its failures are ``["error"]``); items with no expectations are run
  and recorded but not scored.
* ``checks.<name>``: for each expectation type, how many items asked for it and how many passed it
  (a crashed item fails every check it asked for). ``tool_accuracy``, ``source_accuracy`` and
  ``refusal_accuracy`` are the rates of ``expect_tool``, ``expect_source`` and ``expect_refusal``.
  ``expect_tool`` passes when an expected tool was called at any step, so a fallback that calls the
  right tool after the model called the wrong one still passes it.
* ``first_tool``: the model's own choice — over items with ``expect_tool`` that did not crash, how
  often the *first* tool of the (last) turn is an expected one (no tool at all for ``"none"``);
  ``first_tool.demo`` is the same over demo requests (items expecting neither search_notes nor
  "none"). ``first_tool_accuracy`` is ``first_tool.rate``.
* ``source_mrr``: mean reciprocal rank of the first cited source that is an expected one (0 when
  none is) over items with ``expect_source`` — ragas' rank-aware context precision, at file level.
* ``false_refusal_rate``: refused answers among answered items that did not expect a refusal
  (an over-cautious tutor shows up here even where no item says ``expect_refusal: false``).
* ``reference_similarity``: mean / median / min cosine(answer, reference) over items with a
  ``reference``; ``context_similarity``: mean cosine(answer, what the retrieval step returned) over
  answered concept items — a cheap, embedding-based stand-in for ragas' faithfulness (an answer far
  from its own retrieved context is likely not grounded in it). Informative only, never a check.
* ``model_driven_rate``: answers produced by the GPT agent rather than the deterministic fallback.
* ``latency_ms``: p50 / p95 (linear interpolation between ranks) / max / mean of the last turn's
  wall-clock latency, over items that did not crash.
* ``tool_confusion``: rows = the expected tool, columns = the tool that stands for the answer
  (the expected one when it was called, else the first tool called, else ``none``; ``error`` when
  the item crashed).
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Optional

from tutor.evaluation.scoring import CHECK_NAMES, NO_TOOL, tools_called

CHECK_LABELS = {
    "expect_any": "关键词(任一) / any of",
    "expect_all": "关键词(全部) / all of",
    "expect_regex": "正则 / regex",
    "expect_tool": "工具 / tool",
    "expect_source": "出处 / source",
    "expect_refusal": "拒答 / refusal",
    "reference": "参考答案相似度 / reference",
    "max_latency_ms": "延迟 / latency",
}


def _rate(num: int, den: int) -> Optional[float]:
    return round(num / den, 4) if den else None


def percentile(values: list[float], q: float) -> Optional[float]:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        return None
    xs = sorted(values)
    if len(xs) == 1:
        return round(xs[0], 1)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo), 1)


def _iso(ts: float | None) -> Optional[str]:
    if not ts:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")


def compute_metrics(records: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """All the run's numbers; `meta` (file, mode, url, workers, engine, planned, interrupted,
    started_at, finished_at, invalid_lines) is copied into the result."""
    meta = dict(meta or {})
    ok = [r for r in records if not r.get("error")]
    scored = [r for r in records if r.get("passed") is not None]
    passed = [r for r in scored if r.get("passed") is True]

    # per category
    by_cat: dict[str, dict[str, Any]] = {}
    for r in records:
        c = by_cat.setdefault(r.get("category") or "uncategorised", {"items": 0, "scored": 0, "passed": 0})
        c["items"] += 1
        if r.get("passed") is not None:
            c["scored"] += 1
            c["passed"] += int(r.get("passed") is True)
    for c in by_cat.values():
        c["pass_rate"] = _rate(c["passed"], c["scored"])
    by_cat = dict(sorted(by_cat.items()))

    # per check
    checks: dict[str, dict[str, Any]] = {}
    for name in CHECK_NAMES:
        applicable = [r for r in records if name in (r.get("expected") or {})]
        n_pass = 0
        for r in applicable:
            outcome = {c["name"]: c["passed"] for c in r.get("checks") or []}
            n_pass += int(outcome.get(name) is True)
        checks[name] = {"items": len(applicable), "passed": n_pass, "rate": _rate(n_pass, len(applicable))}

    # sources: reciprocal rank
    src_items = [r for r in records if "expect_source" in (r.get("expected") or {})]
    rr = [(1.0 / r["source_rank"]) if r.get("source_rank") else 0.0 for r in src_items]
    source_mrr = round(sum(rr) / len(rr), 4) if rr else None

    # refusals
    should = [r for r in records if (r.get("expected") or {}).get("expect_refusal") is True]
    in_scope = [r for r in ok if (r.get("expected") or {}).get("expect_refusal") is not True]
    false_refusals = [r for r in in_scope if r.get("refused")]
    refusal = {
        "accuracy": checks["expect_refusal"]["rate"],
        "items": checks["expect_refusal"]["items"],
        "should_refuse": len(should),
        "refused_when_should": sum(1 for r in should if r.get("refused")),
        "in_scope_answered": len(in_scope),
        "false_refusals": len(false_refusals),
        "false_refusal_rate": _rate(len(false_refusals), len(in_scope)),
        "false_refusal_ids": [r["id"] for r in false_refusals],
    }

    # similarities
    sims = [float(r["reference_similarity"]) for r in records if r.get("reference_similarity") is not None]
    reference = {
        "items": checks["reference"]["items"],
        "pass_rate": checks["reference"]["rate"],
        "mean": round(statistics.fmean(sims), 4) if sims else None,
        "median": round(statistics.median(sims), 4) if sims else None,
        "min": round(min(sims), 4) if sims else None,
    }
    ctx = [float(r["context_similarity"]) for r in ok if r.get("context_similarity") is not None]
    context = {"items": len(ctx), "mean": round(statistics.fmean(ctx), 4) if ctx else None}

    # latency
    lats = [float(r["latency_ms"]) for r in ok if isinstance(r.get("latency_ms"), (int, float))]
    latency = {
        "items": len(lats),
        "p50": percentile(lats, 50),
        "p95": percentile(lats, 95),
        "max": round(max(lats), 1) if lats else None,
        "mean": round(statistics.fmean(lats), 1) if lats else None,
    }

    # the first tool of the turn: the model's own choice, before any fallback
    def first_ok(r: dict) -> bool:
        called = tools_called(r)
        return (called[0] if called else NO_TOOL).casefold() in {str(t).casefold() for t in r["expected"]["expect_tool"]}

    def first_rate(rs: list[dict]) -> dict[str, Any]:
        right = sum(first_ok(r) for r in rs)
        return {"items": len(rs), "passed": right, "rate": _rate(right, len(rs))}

    with_tool = [r for r in ok if (r.get("expected") or {}).get("expect_tool")]
    demos = [r for r in with_tool if not {str(t).casefold() for t in r["expected"]["expect_tool"]} & {"search_notes", NO_TOOL}]
    first_tool = {**first_rate(with_tool), "demo": first_rate(demos)}

    # tool confusion
    confusion: dict[str, dict[str, int]] = {}
    for r in records:
        exp = r.get("expected_tool")
        if not exp:
            continue
        got = "error" if r.get("error") else (r.get("tool") or "none")
        row = confusion.setdefault(exp, {})
        row[got] = row.get(got, 0) + 1
    labels = sorted(set(confusion) | {k for row in confusion.values() for k in row})

    failure_counts = Counter(f for r in records for f in r.get("failures") or [])
    kinds = Counter(str(r.get("kind")) for r in ok)
    errors = [{"id": r["id"], "error": r["error"]} for r in records if r.get("error")]

    started, finished = meta.pop("started_at", None), meta.pop("finished_at", None)
    invalid = meta.pop("invalid_lines", [])
    planned = meta.pop("planned", len(records))
    out: dict[str, Any] = {
        **meta,
        "started_at": _iso(started),
        "finished_at": _iso(finished),
        "duration_s": round(finished - started, 1) if started and finished else None,
        "item_count": len(records),
        "items_planned": planned,
        "scored": len(scored),
        "passed": len(passed),
        "pass_rate": _rate(len(passed), len(scored)),
        "by_category": by_cat,
        "checks": checks,
        "tool_accuracy": checks["expect_tool"]["rate"],
        "first_tool_accuracy": first_tool["rate"],
        "first_tool": first_tool,
        "source_accuracy": checks["expect_source"]["rate"],
        "source_mrr": source_mrr,
        "refusal_accuracy": checks["expect_refusal"]["rate"],
        "refusal": refusal,
        "reference_similarity": reference,
        "context_similarity": context,
        "model_driven_rate": _rate(sum(1 for r in ok if r.get("model_driven")), len(ok)),
        "latency_ms": latency,
        "kinds": dict(sorted(kinds.items())),
        "tool_confusion": {"labels": labels, "matrix": confusion},
        "failure_counts": dict(failure_counts.most_common()),
        "errors": len(errors),
        "error_items": errors,
        "invalid_lines": invalid,
    }
    return out
