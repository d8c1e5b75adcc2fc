"""Hybrid retrieval over the stored chunks: BM25 on Chinese-aware tokens + dense vectors from Chroma,
fused by weighted reciprocal-rank fusion (RRF).

The BM25 index is rebuilt in memory from the tokens stored with each chunk (no re-segmentation at
start-up) and refreshed whenever the collection's size changes. `mode` picks 'hybrid', 'bm25' or
'dense' so the benchmark can compare them side by side.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

import bm25s
import numpy as np

from kb.embedder import Embedder
from kb.store import ChunkStore, StoredChunk
from kb.text import tokenize
from tutor.config import Settings

RRF_K = 60
CANDIDATES = 50
# Fusion chosen on the retrieval benchmark's dev half (odd ids: best hit@5, then MRR) among RRF and
# min-max score fusion with dense weights 0.1–0.7; see bench/bench_retrieval.py --split.
DENSE_WEIGHT = 0.2
FUSION = "score"
MODES = ("hybrid", "bm25", "dense")


@dataclass
class SearchResult:
    id: str
    source: str
    heading: str
    text: str
    score: float

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def citation(self) -> str:
        return f"[{self.source} › {self.heading}]" if self.heading else f"[{self.source}]"


class Retriever:
    """Loads once per process; thread-safe for concurrent searches."""

    def __init__(
        self,
        settings: Settings,
        store: ChunkStore | None = None,
        embedder: Embedder | None = None,
        dense_weight: float = DENSE_WEIGHT,
        bm25_weight: float = 1.0,
        fusion: str = FUSION,
    ):
        self.settings = settings
        self.store = store or ChunkStore(settings)
        self._embedder = embedder
        self.dense_weight = dense_weight
        self.bm25_weight = bm25_weight
        if fusion not in ("rrf", "score"):
            raise ValueError(f"unknown fusion '{fusion}'; expected rrf or score")
        self.fusion = fusion
        self._lock = threading.Lock()
        self._chunks: list[StoredChunk] = []
        self._by_id: dict[str, int] = {}
        self._bm25: bm25s.BM25 | None = None
        self._loaded_count = -1

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self.settings.embedding_model)
        return self._embedder

    def refresh(self, force: bool = False) -> None:
        """(Re)build the BM25 index from the store if its size changed since the last load."""
        with self._lock:
            n = self.store.count()
            if not force and n == self._loaded_count:
                return
            chunks = self.store.all()
            corpus = [c.metadata.get("tokens", "").split() or tokenize(c.text) for c in chunks]
            bm25 = None
            if chunks:
                bm25 = bm25s.BM25()
                bm25.index(corpus, show_progress=False)
            self._chunks, self._bm25 = chunks, bm25
            self._by_id = {c.id: i for i, c in enumerate(chunks)}
            self._loaded_count = n

    def __len__(self) -> int:
        self.refresh()
        return len(self._chunks)

    def _bm25_ranked(self, query: str, depth: int) -> list[tuple[int, float]]:
        toks = tokenize(query)
        if not toks or self._bm25 is None:
            return []
        scores = self._bm25.get_scores(toks)
        top = np.argsort(-scores)[:depth]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def _dense_ranked(self, query: str, depth: int) -> list[tuple[int, float]]:
        ids, sims = self.store.query(self.embedder.encode_one(query), depth)
        return [(self._by_id[i], s) for i, s in zip(ids, sims) if i in self._by_id]

    def search(self, query: str, k: int | None = None, mode: str = "hybrid") -> list[SearchResult]:
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode '{mode}'; expected one of {', '.join(MODES)}")
        k = k or self.settings.top_k
        query = (query or "").strip()
        if not query:
            return []
        self.refresh()
        if not self._chunks:
            return []
        if mode == "bm25":
            ranked = self._bm25_ranked(query, k)
        elif mode == "dense":
            ranked = self._dense_ranked(query, k)
        else:
            lists = (
                (self.bm25_weight, self._bm25_ranked(query, CANDIDATES)),
                (self.dense_weight, self._dense_ranked(query, CANDIDATES) if self.dense_weight > 0 else []),
            )
            fused: dict[int, float] = {}
            for weight, lst in lists:
                if not lst:
                    continue
                if self.fusion == "rrf":  # reciprocal-rank fusion
                    for rank, (idx, _) in enumerate(lst):
                        fused[idx] = fused.get(idx, 0.0) + weight / (RRF_K + rank + 1)
                else:  # min-max normalised score fusion
                    hi, lo = lst[0][1], lst[-1][1]
                    for idx, sc in lst:
                        fused[idx] = fused.get(idx, 0.0) + weight * ((sc - lo) / (hi - lo) if hi > lo else 1.0)
            ranked = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        out = []
        for idx, score in ranked[:k]:
            c = self._chunks[idx]
            out.append(
                SearchResult(
                    id=c.id, source=c.metadata.get("source", ""), heading=c.metadata.get("heading", ""), text=c.text, score=round(score, 6)
                )
            )
        return out
