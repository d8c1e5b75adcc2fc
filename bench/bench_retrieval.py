"""Retrieval benchmark: hit@1, hit@5 and MRR for BM25, dense and hybrid side by side, plus query
latency p50/p95 after warm-up, on the project's own question set (kb/bench/retrieval_questions.jsonl).

A result is a hit when its source is the gold source (if one is given) and its text contains one of
the gold phrases. Usage:
    python bench/bench_retrieval.py [--questions FILE] [--embedding-model DIR] [--data-dir DIR] [--grid] [--json]
The index is (re)built in DATA_DIR with the chosen embedder before measuring. Rows are given for the
dev half (odd ids, used to choose the fusion settings), the held-out half (even ids) and all questions.
`--grid` also sweeps fusion kind × dense weight, the sweep the defaults in kb/retriever.py came from.
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
    ap.add_argument("--fusion", choices=["rrf", "score"], default=None)
    ap.add_argument("--grid", action="store_true", help="also sweep fusion kind x dense weight")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="tutor-bench-"))
    kw = {"data_dir": data_dir}
    if args.embedding_model:
        kw["embedding_model"] = args.embedding_model
    settings = Settings(**kw)
    ingest(None, settings)
    kw = {}
    if args.dense_weight is not None:
        kw["dense_weight"] = args.dense_weight
    if args.fusion:
        kw["fusion"] = args.fusion
    retriever = Retriever(settings, **kw)
    for q in questions[:5]:  # warm-up: model load, jieba dictionary, BM25 build
        for m in MODES:
            retriever.search(q["question"], mode=m)
    splits = {
        "dev": [q for q in questions if int(q["id"].lstrip("r")) % 2 == 1],
        "held-out": [q for q in questions if int(q["id"].lstrip("r")) % 2 == 0],
        "all": questions,
    }
    table = {name: [evaluate(retriever, qs, m) for m in MODES] for name, qs in splits.items()}
    if args.json:
        print(json.dumps({"questions": len(questions), "embedding_model": str(settings.embedding_model), "splits": table}, ensure_ascii=False, indent=2))
        return 0
    print(f"questions: {len(questions)}   embedding model: {settings.embedding_model}   fusion: {retriever.fusion}, dense weight {retriever.dense_weight}")
    print(f"{'split':9} {'mode':7} {'hit@1':>6} {'hit@5':>6} {'MRR':>6} {'p50 ms':>7} {'p95 ms':>7}  misses (hit@5)")
    for name, rows in table.items():
        for r in rows:
            print(f"{name:9} {r['mode']:7} {r['hit@1']:6.3f} {r['hit@5']:6.3f} {r['mrr']:6.3f} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f}  {' '.join(r['misses'])}")
    if args.grid:
        print("\nfusion sweep (hybrid):")
        print(f"{'fusion':6} {'w':>4} {'dev h@5':>8} {'dev MRR':>8} {'held h@5':>9} {'held MRR':>9}")
        for fusion in ("rrf", "score"):
            for w in (0.1, 0.2, 0.3, 0.5, 0.7, 1.0):
                r = Retriever(settings, dense_weight=w, fusion=fusion, embedder=retriever.embedder, store=retriever.store)
                d, h = evaluate(r, splits["dev"], "hybrid"), evaluate(r, splits["held-out"], "hybrid")
                print(f"{fusion:6} {w:4.1f} {d['hit@5']:8.3f} {d['mrr']:8.3f} {h['hit@5']:9.3f} {h['mrr']:9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
