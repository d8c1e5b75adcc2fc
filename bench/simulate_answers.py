"""The agent's concept answers without running the model, scored with the evaluation's checks: a fast
way to try a change to retrieval, evidence or sentence choice before a full `tutor eval` run.

By default (`TUTOR_ANSWER_MIN_BLOCKS`) the shipped agent answers a concept question with its lead
("根据课程笔记：") and every evidence block of its `search_notes` call, the note retrieval ranked first
opening; the model only orders the later blocks. So for a single-turn item that expects `search_notes`,
that answer can be written directly from `search_evidence` on the question and scored with
`tutor.evaluation.scoring.score_item` (the same `reference` embedding check). Multi-turn, demo and scope
items are left out. The README gives how often the simulated pass / fail agrees with the agent's own
run (`--compare`).

Blind sets stay blind: only counts are printed for them; `--save` writes per-item outcomes only for the
sets that are not blind (`BLIND`).

Usage:
    python bench/simulate_answers.py eval/dev.jsonl eval/heldout.jsonl [--data-dir DIR]
        [--compare EVAL_RUN_ROOT] [--save FILE.json] [--against FILE.json]
`--compare DIR`: DIR/<set>/results.jsonl of a `tutor eval --out DIR/<set>` run, for agreement counts.
`--save` / `--against`: write the outcomes, or list the items whose outcome or answer length changed
since a saved file (inspected sets only).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor.config import Settings  # noqa: E402
from tutor.evaluation.items import EvalItem, load_items  # noqa: E402

BLIND = {"heldout2b", "heldout3", "heldout5"}


def simulated_result(retriever, question: str) -> dict:
    """The result dict the agent's default concept answer to `question` would give."""
    from tutor.agent.guard import citations
    from tutor.agent.prompt import ANSWER_LEADS
    from tutor.agent.search_tool import parse_evidence, search_evidence
    from tutor.intent import language_of

    observation, _ = search_evidence(retriever, question)
    blocks = parse_evidence(observation)
    answer = ANSWER_LEADS[f"concept_{language_of(question)}"] + "\n\n".join(f"{text} {citation}" for citation, text in blocks)
    return {
        "answer": answer,
        "kind": "concept",
        "model_driven": True,
        "steps": [{"thought": "", "tool": "search_notes", "tool_input": question, "observation": observation}],
        "sources": [source.model_dump() for source in citations(answer)],
    }


def concept_item(item: EvalItem) -> bool:
    return bool(item.question) and (item.expect_tool or []) == ["search_notes"] and not item.expect_refusal


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="+", type=Path, help="eval item files (eval/*.jsonl)")
    ap.add_argument("--data-dir", type=Path, help="the index to search (default: the configured data dir)")
    ap.add_argument("--compare", type=Path, help="root of real `tutor eval` runs: ROOT/<set>/results.jsonl")
    ap.add_argument("--save", type=Path, help="write the per-item outcomes of the sets that are not blind")
    ap.add_argument("--against", type=Path, help="a file written by --save: list what changed since")
    args = ap.parse_args(argv)

    from kb.embedder import Embedder
    from tutor.evaluation.scoring import EmbeddingSimilarity, score_item
    from tutor.service import get_retriever

    settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    retriever = get_retriever(settings)
    similarity = EmbeddingSimilarity(Embedder(settings.embedding_model))
    before = json.loads(args.against.read_text(encoding="utf-8")) if args.against else {}
    outcomes: dict[str, list] = {}
    total = passed = agreed = compared = 0
    print("| set | concept items | simulated pass | real pass | agree |")
    print("|---|---|---|---|---|")
    for path in args.sets:
        loaded = load_items(path)
        if loaded.errors:
            ap.error(f"{path}: {len(loaded.errors)} invalid line(s), the first: {loaded.errors[0]}")
        name = path.stem
        real = {}
        if args.compare:
            results = args.compare / name / "results.jsonl"
            if not results.is_file():
                ap.error(f"no results at {results}: expected ROOT/<set>/results.jsonl from `tutor eval --out`")
            real = {r["id"]: bool(r.get("passed")) for r in map(json.loads, results.read_text(encoding="utf-8").splitlines()) if r}
        n = p = a = c = 0
        for item in filter(concept_item, loaded.items):
            result = simulated_result(retriever, item.question)
            ok = bool(score_item(item, result, similarity=similarity).passed)
            n, p = n + 1, p + ok
            if item.id in real:
                c, a = c + 1, a + (real[item.id] == ok)
            if name not in BLIND:
                outcomes[f"{name}:{item.id}"] = [ok, len(result["answer"])]
        total, passed, agreed, compared = total + n, passed + p, agreed + a, compared + c
        real_pass = sum(real[i.id] for i in loaded.items if concept_item(i) and i.id in real) if real else ""
        print(f"| {name} | {n} | {p} | {real_pass} | {f'{a}/{c}' if c else ''} |")
    print(f"| all | {total} | {passed} | | {f'{agreed}/{compared}' if compared else ''} |")
    if args.save:
        args.save.write_text(json.dumps(outcomes, ensure_ascii=False, indent=0), encoding="utf-8")
    for key in sorted(set(before) & set(outcomes)):
        (was_ok, was_len), (ok, length) = before[key], outcomes[key]
        if was_ok != ok or was_len != length:
            print(f"{key}: {'pass' if was_ok else 'fail'} → {'pass' if ok else 'fail'}, {was_len} → {length} chars")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
