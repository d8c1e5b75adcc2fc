"""Hybrid retrieval over the stored chunks: BM25 on Chinese-aware tokens + dense vectors from Chroma,
fused by weighted min-max score fusion (default) or weighted reciprocal-rank fusion (RRF).

The BM25 index is rebuilt in memory from the tokens stored with each chunk (no re-segmentation at
start-up) and refreshed whenever the collection's size changes; the chunk vectors are read from
Chroma at the same time, so that score fusion can score every candidate on both signals. `mode`
picks 'hybrid', 'bm25' or 'dense' so the benchmark can compare them side by side.

Score fusion: the candidates are each retriever's top CANDIDATES chunks. Every candidate gets its
BM25 score and its dense cosine similarity (from the cached vectors), each min-max normalised over
that retriever's top CANDIDATES (best = 1, CANDIDATES-th = 0, anything weaker goes below 0), and
the weighted sum ranks them. A chunk that only one retriever returned is thus scored by how the other
one actually rates it, instead of counting as 0 there.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
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
# min-max score fusion with dense weights 0.1–1.0; see bench/bench_retrieval.py --grid.
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
        self._vectors: np.ndarray | None = None  # chunk vectors, row i = self._chunks[i]
        self._df: Counter[str] = Counter()  # in how many chunks each token occurs
        self._notes_text: str | None = None  # every chunk's text, joined on first use (mentions)
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
            chunks = self.store.all(with_embeddings=True)
            corpus = [c.metadata.get("tokens", "").split() or tokenize(c.text) for c in chunks]
            bm25 = None
            if chunks:
                bm25 = bm25s.BM25()
                bm25.index(corpus, show_progress=False)
            vectors = None
            if chunks and all(c.embedding is not None for c in chunks):
                vectors = np.asarray([c.embedding for c in chunks], dtype=np.float32)
            for c in chunks:
                c.embedding = None  # kept once, in the matrix
            self._df = Counter(t for toks in corpus for t in set(toks))
            self._chunks, self._bm25, self._vectors = chunks, bm25, vectors
            self._by_id = {c.id: i for i, c in enumerate(chunks)}
            self._notes_text = None
            self._loaded_count = n

    def idf(self, tokens: list[str] | set[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each token over the stored chunks: high for a word
        few notes use ("lora"), low for one most of them do ("transformer")."""
        self.refresh()
        n = len(self._chunks)
        return {t: math.log((n - self._df[t] + 0.5) / (self._df[t] + 0.5) + 1.0) for t in tokens}

    def mentions(self, phrase: str) -> bool:
        """Whether the notes use a word of `phrase`: a Latin-script token of it occurs in a chunk, or a
        run of its Chinese occurs in the notes — whole when it is up to 3 characters, else any 3 of its
        characters in a row (the notes write "马尔可夫的假设" for 马尔可夫假设). A shorter piece would say
        too little: 过拟合 is not in the notes although 拟合 is. False means the notes never speak of it
        ("困惑度", "perplexity")."""
        self.refresh()
        if any(self._df[t] for t in tokenize(phrase) if re.fullmatch(r"[a-z0-9\-_.]+", t)):
            return True
        if self._notes_text is None:
            self._notes_text = "\n".join(c.text for c in self._chunks)
        for run in re.findall(r"[\u4e00-\u9fff]+", phrase):
            n = min(len(run), 3)
            if any(run[i : i + n] in self._notes_text for i in range(len(run) - n + 1)):
                return True
        return False

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

    def _score_fused(self, query: str, k: int) -> list[tuple[int, float]]:
        """Min-max score fusion in which every candidate is scored by both retrievers (see the module doc)."""
        n = len(self._chunks)
        depth = min(CANDIDATES, n)
        signals: list[tuple[float, np.ndarray]] = []
        candidates: set[int] = set()
        toks = tokenize(query)
        if self.bm25_weight > 0 and toks and self._bm25 is not None:
            scores = np.asarray(self._bm25.get_scores(toks), dtype=np.float64)
            top = np.argsort(-scores)[:depth]
            top = top[scores[top] > 0]  # chunks sharing no word with the query are no BM25 candidates
            if len(top):
                signals.append((self.bm25_weight, scores))
                candidates.update(int(i) for i in top)
        if self.dense_weight > 0:
            sims = self._vectors @ np.asarray(self.embedder.encode_one(query), dtype=np.float32)
            sims = sims.astype(np.float64)
            candidates.update(int(i) for i in np.argsort(-sims)[:depth])
            signals.append((self.dense_weight, sims))
        if not candidates:
            return []
        idx = np.fromiter(candidates, dtype=np.int64)
        fused = np.zeros(len(idx))
        for weight, scores in signals:
            top = np.partition(scores, n - depth)[n - depth :]  # the signal's top `depth` scores
            hi, lo = float(top.max()), float(top.min())
            vals = scores[idx]
            fused += weight * ((vals - lo) / (hi - lo) if hi > lo else (vals >= hi).astype(np.float64))
        order = np.lexsort((idx, -fused))[:k]  # best first; ties by position in the store
        return [(int(idx[o]), float(fused[o])) for o in order]

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
        elif self.fusion == "score" and self._vectors is not None and len(self._vectors) == len(self._chunks):
            ranked = self._score_fused(query, k)
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
                else:  # min-max score fusion over the lists only (no cached vectors to score the rest)
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
