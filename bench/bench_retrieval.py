"""Retrieval benchmark: hit@1, hit@5 and MRR for BM25, dense and hybrid side by side, plus query
latency p50/p95 after warm-up, on the project's own question set (kb/bench/retrieval_questions.jsonl).

A result is a hit when its source is the gold source (if one is given) and its text contains one of
the gold phrases. Usage:
    python bench/bench_retrieval.py [--questions FILE] [--embedding-model DIR] [--data-dir DIR] [--json]
The index is (re)built in DATA_DIR with the chosen embedder before measuring.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.ingest import ingest  # noqa: E402
from kb.retriever import MODES, Retriever  # noqa: E402
from tutor.config import Settings  # noqa: E402


def is_hit(res, q) -> bool:
    if q.get("gold_source") and res.source != q["gold_source"]:
        return False
    t = f"{res.heading}\n{res.text}".lower()  # the heading path is part of the chunk
    return any(p.lower() in t for p in q["gold_any"])


def evaluate(retriever: Retriever, questions: list[dict], mode: str, k: int = 5) -> dict:
    h1 = h5 = rr = 0.0
    lat = []
    misses = []
    for q in questions:
        t0 = time.perf_counter()
        res = retriever.search(q["question"], k=k, mode=mode)
        lat.append((time.perf_counter() - t0) * 1000)
        ranks = [i for i, r in enumerate(res) if is_hit(r, q)]
        if ranks:
            h1 += ranks[0] == 0
            h5 += ranks[0] < 5
            rr += 1.0 / (ranks[0] + 1)
        else:
            misses.append(q["id"])
    n = len(questions)
    lat.sort()
    return {
        "mode": mode,
        "hit@1": h1 / n,
        "hit@5": h5 / n,
        "mrr": rr / n,
        "p50_ms": statistics.median(lat),
        "p95_ms": lat[min(n - 1, int(round(0.95 * (n - 1))))],
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=Path, default=ROOT / "kb" / "bench" / "retrieval_questions.jsonl")
    ap.add_argument("--embedding-model", type=Path, default=None)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--dense-weight", type=float, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="tutor-bench-"))
    kw = {"data_dir": data_dir}
    if args.embedding_model:
        kw["embedding_model"] = args.embedding_model
    settings = Settings(**kw)
    ingest(None, settings)
    retriever = Retriever(settings) if args.dense_weight is None else Retriever(settings, dense_weight=args.dense_weight)
    for q in questions[:5]:  # warm-up: model load, jieba dictionary, BM25 build
        for m in MODES:
            retriever.search(q["question"], mode=m)
    rows = [evaluate(retriever, questions, m) for m in MODES]
    if args.json:
        print(json.dumps({"questions": len(questions), "embedding_model": str(settings.embedding_model), "rows": rows}, ensure_ascii=False, indent=2))
        return 0
    print(f"questions: {len(questions)}   embedding model: {settings.embedding_model}   dense weight: {retriever.dense_weight}")
    print(f"{'mode':8} {'hit@1':>6} {'hit@5':>6} {'MRR':>6} {'p50 ms':>7} {'p95 ms':>7}  misses")
    for r in rows:
        print(f"{r['mode']:8} {r['hit@1']:6.3f} {r['hit@5']:6.3f} {r['mrr']:6.3f} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f}  {' '.join(r['misses'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
