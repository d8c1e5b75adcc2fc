"""Scripted evaluation of the tutor's answers (`tutor eval`).

Run a JSONL question set through the tutor (in process, or a running server with `--url`), score
every answer against the item's expectations, and write `results.jsonl`, `metrics.json` and a
human report (`report.md` + PNG plots) — see `tutor.evaluation.cli` for the command,
`items` for the file format, `scoring` for what each expectation means and `metrics` for how the
numbers are defined. The project's own evaluation set is `eval/dev.jsonl` (used while building),
the held-out `eval/heldout.jsonl`, `eval/heldout2a.jsonl`, `eval/heldout2b.jsonl` and
`eval/heldout3.jsonl` (the last two blind: see the README), and `eval/smoke.jsonl` (the CI subset).
"""

from tutor.evaluation.items import EvalItem, LineError, LoadedItems, load_items, parse_items
from tutor.evaluation.metrics import compute_metrics
from tutor.evaluation.runner import (
    BackendUnavailable,
    EvalError,
    Evaluation,
    HttpBackend,
    InProcessBackend,
    evaluate,
    load_similarity,
    load_tutor,
    run_item,
    run_items,
)
from tutor.evaluation.scoring import CheckResult, Score, detect_refusal, looks_like_refusal, score_item

__all__ = [
    "BackendUnavailable",
    "CheckResult",
    "EvalError",
    "EvalItem",
    "Evaluation",
    "HttpBackend",
    "InProcessBackend",
    "LineError",
    "LoadedItems",
    "Score",
    "compute_metrics",
    "detect_refusal",
    "evaluate",
    "load_items",
    "load_similarity",
    "load_tutor",
    "looks_like_refusal",
    "parse_items",
    "run_item",
    "run_items",
    "score_item",
]
