"""Ingestion: load → clean → chunk → embed → store, idempotently.

A file's errata in the corpus manifest (statements known to be wrong) are dropped before chunking, so
the tutor never retrieves or quotes them, and its glosses (course terms the transcript mis-heard) are
written next to the mis-heard words ("Laura（即 LoRA）"), so every quote shows the course term.

Chunk ids are content hashes, so re-ingesting unchanged files changes nothing; a changed file's stale
chunks are deleted and its new ones added; chunks of files that disappeared from an ingested folder
are removed. Every run converges the store to "exactly the chunks of these files", so an ingest
killed half way is repaired by the next one. Bad files are skipped with one line each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kb.chunking import Chunk, chunk_document, index_text_for
from kb.clean import add_glosses, drop_errata
from kb.embedder import Embedder
from kb.loaders import LoadError, expand_paths, load_document
from kb.store import ChunkStore
from kb.text import TOKENIZER_VERSION, tokenize
from tutor.config import Settings

Progress = Callable[[int, int], None]


@dataclass
class IngestReport:
    files: list[str] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    total: int = 0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.skipped

    def to_dict(self) -> dict:
        return {
            "files": self.files,
            "added": self.added,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "total": self.total,
            "skipped": self.skipped,
            "warnings": self.warnings,
        }


def load_manifest(folder: Path) -> dict[str, dict]:
    f = folder / "manifest.json"
    if f.is_file():
        try:
            return json.loads(f.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}
    return {}


def errata_quotes(entry: dict) -> list[str]:
    """The verbatim quotes of a manifest entry's `errata` ([{"quote": ..., "why": ...}]): statements in
    that file known to be wrong, which are dropped before chunking (kb.clean.drop_errata)."""
    return [e["quote"] for e in entry.get("errata", []) if isinstance(e, dict) and isinstance(e.get("quote"), str)]


def glosses_of(entry: dict) -> list[tuple[list[str], str]]:
    """A manifest entry's `glosses` ([{"heard": [...], "term": ...}]): the forms the lecture's speech
    recogniser wrote for a course term ("Laura" for LoRA), glossed with the term (kb.clean.add_glosses)."""
    out = []
    for g in entry.get("glosses", []):
        if isinstance(g, dict) and isinstance(g.get("term"), str) and isinstance(g.get("heard"), list):
            out.append(([h for h in g["heard"] if isinstance(h, str)], g["term"]))
    return out


def edited_text(text: str, entry: dict) -> tuple[str, list[str]]:
    """(a file's text without the errata its manifest `entry` lists, and a warning for each erratum or
    mis-heard form to gloss that is no longer in the text). The glosses themselves are written in by
    chunk_document, chunk by chunk."""
    text, stale = drop_errata(text, errata_quotes(entry))
    unseen = add_glosses(text, glosses_of(entry))[1]
    return text, [f"erratum not found in the text (stale manifest entry?): {q!r}" for q in stale] + [
        f"mis-heard form to gloss not found in the text (stale manifest entry?): {h!r}" for h in unseen
    ]


def chunk_files(files: list[Path], settings: Settings, report: IngestReport) -> list[tuple[Path, list[Chunk]]]:
    out = []
    manifests: dict[Path, dict] = {}
    for f in files:
        try:
            doc = load_document(f)
        except LoadError as e:
            report.skipped.append(str(e))
            continue
        except OSError as e:
            report.skipped.append(f"{f}: cannot read ({e.strerror})")
            continue
        folder = doc.path.parent
        if folder not in manifests:
            manifests[folder] = load_manifest(folder)
        entry = manifests[folder].get(doc.source, {})
        kind = entry.get("kind")
        text, warnings = edited_text(doc.text, entry)
        report.warnings.extend(f"{doc.source}: {w}" for w in warnings)
        chunks = chunk_document(
            doc.source, text, kind=kind, chunk_chars=settings.chunk_chars, overlap=settings.chunk_overlap, glosses=glosses_of(entry)
        )
        if not chunks:
            report.skipped.append(f"{f}: no text left after cleaning; expected prose or Markdown")
            continue
        out.append((doc.path, chunks))
        report.files.append(doc.source)
    return out


def _retokenize(store: ChunkStore, stored: list) -> None:
    """Rewrite the BM25 tokens of every stored chunk with the current tokenizer (ids, texts and vectors
    stay: the chunk ids hash the text, so a tokenizer change alone would otherwise never reach them)."""
    ids, metas = [], []
    for c in stored:
        tokens = " ".join(tokenize(index_text_for(c.metadata.get("heading", ""), c.text)))
        if tokens != c.metadata.get("tokens"):
            ids.append(c.id)
            metas.append({**c.metadata, "tokens": tokens})
            c.metadata["tokens"] = tokens
    store.update_metadatas(ids, metas)


def ingest(
    paths: list[Path] | None,
    settings: Settings,
    *,
    reset: bool = False,
    store: ChunkStore | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    batch_size: int = 64,
) -> IngestReport:
    """Bring the store in line with `paths` (default: the shipped corpus). Returns what changed."""
    report = IngestReport()
    paths = [Path(p) for p in (paths or [settings.corpus_dir])]
    files, problems = expand_paths(paths)
    report.skipped.extend(problems)
    docs = chunk_files(files, settings, report)

    store = store or ChunkStore(settings)
    embedder = embedder or Embedder(settings.embedding_model)
    if reset:
        store.reset()
    elif store.embedding_model and store.embedding_model != embedder.name:
        store.reset()  # vectors from another model cannot be mixed with this one's
    stored = store.all()
    existing = {c.id: c.metadata for c in stored}
    if stored and store.tokenizer_version != TOKENIZER_VERSION:
        _retokenize(store, stored)  # the glossary or stop words changed since these tokens were made

    desired: dict[str, tuple[Path, Chunk]] = {}
    for path, chunks in docs:
        for c in chunks:
            desired[c.id] = (path, c)
    loaded_sources = {c.source for _, chunks in docs for c in chunks}
    ingested_dirs = [p.resolve() for p in paths if p.is_dir()]

    stale = []
    for cid, meta in existing.items():
        if cid in desired:
            continue
        origin = Path(meta.get("origin", ""))
        if meta.get("source") in loaded_sources:
            stale.append(cid)  # the file changed: its old chunks go
        elif any(d == origin.parent or d in origin.parents for d in ingested_dirs) and not origin.exists():
            stale.append(cid)  # the file was removed from an ingested folder
    store.delete(stale)
    report.removed = len(stale)

    new = [(p, c) for cid, (p, c) in desired.items() if cid not in existing]
    report.unchanged = len(desired) - len(new)
    step = max(1, batch_size)
    for s in range(0, len(new), step):
        batch = new[s : s + step]
        vecs = embedder.encode([c.index_text for _, c in batch])
        store.upsert(
            ids=[c.id for _, c in batch],
            texts=[c.text for _, c in batch],
            metadatas=[
                {
                    "source": c.source,
                    "heading": c.heading,
                    "position": c.position,
                    "kind": c.kind,
                    "origin": str(p),
                    "tokens": " ".join(tokenize(c.index_text)),
                }
                for p, c in batch
            ],
            embeddings=vecs,
        )
        report.added += len(batch)
        if progress:
            progress(min(s + step, len(new)), len(new))
    if new or store.embedding_model != embedder.name:
        store.set_embedding_model(embedder.name)
    if store.count() and store.tokenizer_version != TOKENIZER_VERSION:
        store.set_tokenizer_version(TOKENIZER_VERSION)
    report.total = store.count()
    return report
