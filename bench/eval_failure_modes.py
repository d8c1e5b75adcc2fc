"""Where an evaluation's failures come from, in counts only (safe to run on a blind set).

For every failed item of a `tutor eval` run that expects facts (`expect_any` / `expect_all` /
`expect_regex`), the expected strings are looked for, in order, in: the answer, the observations of
its steps, the top 3 / 5 / 10 chunks the retriever returns for the question, and the whole notes. The
first place that holds them names the failure:

| mode                        | what it means                                                     |
|-----------------------------|-------------------------------------------------------------------|
| facts in answer             | the facts are there; another check failed (reference, source…)    |
| in observation, not answer  | the model left the evidence out                                   |
| in top-3, not observation   | the sentence choice left the fact out of the evidence             |
| in top-4/5 only             | retrieval ranked the fact's chunk 4th or 5th (evidence uses 3)    |
| in top-10 only              | retrieval ranked it 6th–10th                                      |
| not in top-10               | the notes hold it, retrieval did not find it                      |
| not in the notes verbatim   | the expected string is not written in the notes                   |

`--fact-at-k` also prints, for every concept item of the set, how often the facts are in the top 3 and
top 5 chunks of each retriever (hybrid, BM25, dense). Nothing is printed about single items.

Usage:
    python bench/eval_failure_modes.py EVAL_OUT_DIR [--items eval/heldout3.jsonl --fact-at-k] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor.config import Settings  # noqa: E402
from tutor.evaluation.items import load_items  # noqa: E402
from tutor.evaluation.scoring import contains  # noqa: E402

MODES = ["facts in answer", "in observation, not answer", "in top-3, not observation", "in top-4/5 only",
         "in top-10 only", "not in top-10", "not in the notes verbatim"]


def facts_ok(expected: dict, text: str) -> bool:
    ok = True
    if expected.get("expect_any"):
        ok &= any(contains(text, s) for s in expected["expect_any"])
    if expected.get("expect_all"):
        ok &= all(contains(text, s) for s in expected["expect_all"])
    if expected.get("expect_regex"):
        ok &= all(re.search(p, text, re.I | re.S) for p in expected["expect_regex"])
    return bool(ok)


def failure_mode(result: dict, retriever, notes: str) -> str:
    exp = result["expected"]
    if facts_ok(exp, result["answer"]):
        return MODES[0]
    if facts_ok(exp, "\n".join(s.get("observation") or "" for s in result["steps"])):
        return MODES[1]
    top = retriever.search(result["question"], k=10)
    for k, mode in ((3, MODES[2]), (5, MODES[3]), (10, MODES[4])):
        if facts_ok(exp, "\n".join(r.text for r in top[:k])):
            return mode
    return MODES[5] if facts_ok(exp, notes) else MODES[6]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path, help="a `tutor eval --out` folder, or the results.jsonl in it")
    ap.add_argument("--items", type=Path, help="the item file, for --fact-at-k")
    ap.add_argument("--fact-at-k", action="store_true")
    ap.add_argument("--data-dir", type=Path)
    args = ap.parse_args(argv)
    results_file = args.run_dir if args.run_dir.is_file() else args.run_dir / "results.jsonl"
    if not results_file.is_file():
        ap.error(f"no results at {results_file}: expected the --out folder of a `tutor eval` run, or its results.jsonl")

    from tutor.service import get_retriever

    settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    retriever = get_retriever(settings)
    notes = "\n".join(p.read_text(encoding="utf-8") for p in sorted(settings.corpus_dir.glob("*.txt")))
    results = [json.loads(line) for line in results_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    failed = [r for r in results if r.get("passed") is False]
    checks = Counter(tuple(sorted(c["name"] for c in r["checks"] if not c["passed"])) for r in failed)
    modes = Counter(failure_mode(r, retriever, notes) for r in failed if any(r["expected"].get(k) for k in ("expect_any", "expect_all", "expect_regex")))
    print(f"{args.run_dir}: {len(results)} items, {len(failed)} failed")
    print("failed checks:")
    for names, n in checks.most_common():
        print(f"  {n:4d}  {' + '.join(names) or '(none)'}")
    print("failures that expect facts, by where the facts stop appearing:")
    for mode in MODES:
        print(f"  {modes.get(mode, 0):4d}  {mode}")
    if args.fact_at_k and args.items:
        concept = [i for i in load_items(args.items).items
                   if i.question and not i.expect_refusal and (i.expect_any or i.expect_all or i.expect_regex)
                   and (not i.expect_tool or "search_notes" in i.expect_tool)]
        print(f"facts in the top 3 / top 5 chunks, {len(concept)} concept items:")
        for mode in ("hybrid", "bm25", "dense"):
            top = [retriever.search(i.question, k=5, mode=mode) for i in concept]
            at3 = sum(facts_ok(i.model_dump(), "\n".join(r.text for r in t[:3])) for i, t in zip(concept, top))
            at5 = sum(facts_ok(i.model_dump(), "\n".join(r.text for r in t)) for i, t in zip(concept, top))
            print(f"  {mode:7s} {at3:3d} / {at5:3d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
