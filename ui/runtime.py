"""One `Runtime` per server process: the shared `Tutor` (knowledge base and models loaded once), the
rate limiter, the admission limits, and the bridge from the tutor's blocking event stream to async
code. The HTTP routes and the Gradio app both answer through it."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import AsyncIterator

import anyio

from tutor.config import Settings, get_settings
from tutor.schema import StreamEvent
from ui.security import RateLimiter
from ui.settings import UISettings

log = logging.getLogger(__name__)


class Overloaded(Exception):
    """More questions are waiting than `max_pending_requests`."""


def ensure_index(settings: Settings) -> int:
    """Ingest the shipped course notes when the knowledge base is empty (a fresh machine); return its size."""
    from kb.store import ChunkStore

    n = ChunkStore(settings).count()
    if n == 0:
        from kb.ingest import ingest

        log.warning("knowledge base at %s is empty: ingesting the shipped course notes (%s) …", settings.chroma_dir, settings.corpus_dir)
        t0 = time.perf_counter()
        report = ingest(None, settings)
        n = report.total
        log.warning("ingested %d chunks from %d files in %.1f s", n, len(report.files), time.perf_counter() - t0)
    return n


def note_titles(corpus_dir: Path) -> dict[str, tuple[str, str]]:
    """file name → (Chinese title, English title) from the corpus manifest, for readable citations."""
    try:
        from kb.ingest import load_manifest

        return {k: (v.get("title", ""), v.get("title_en", "")) for k, v in load_manifest(Path(corpus_dir)).items() if isinstance(v, dict)}
    except Exception:  # a citation without a title is still a citation
        return {}


class Runtime:
    """The tutor and the limits, shared by every request of the process."""

    def __init__(self, tutor=None, settings: Settings | None = None, ui: UISettings | None = None, *, warm_up: bool = True):
        self.ui = ui or UISettings()
        if tutor is None:
            from tutor.api import Tutor
            from tutor.sessions import SessionStore

            settings = settings or get_settings()
            ensure_index(settings)
            tutor = Tutor(settings, sessions=SessionStore(max_sessions=self.ui.max_sessions, idle_seconds=self.ui.session_idle_seconds))
        self.tutor = tutor
        self.settings = tutor.settings
        self.limiter = RateLimiter(self.ui.rate_limit_per_minute, self.ui.rate_limit_burst)
        self.titles = note_titles(self.settings.corpus_dir)
        self.max_question_chars = self.ui.max_question_chars
        self._pending = 0
        self._slots: asyncio.Semaphore | None = None
        if warm_up:
            self.warm_up()

    def warm_up(self) -> None:
        """Load the embedder and build BM25 now, so the first student does not wait for it."""
        t0 = time.perf_counter()
        try:
            self.tutor.retriever.search("注意力机制", k=1)
        except Exception:
            log.exception("warm-up search failed (answers will say so)")
        log.info("tutor ready in %.1f s: %s", time.perf_counter() - t0, self.tutor.health())

    # ---- checks shared by every front end ------------------------------------------------------
    def question_problem(self, question: object) -> tuple[int, str, str] | None:
        """(status, code, message) when the question is unacceptable, else None."""
        if not isinstance(question, str) or not question.strip():
            return 422, "empty_question", "问题是空的，请输入一个问题 / the question is empty: please type a question"
        if len(question) > self.max_question_chars:
            n, lim = len(question), self.max_question_chars
            return 413, "question_too_long", f"问题太长了（{n} 字），上限是 {lim} 字 / the question is too long ({n} characters; the limit is {lim})"
        return None

    # ---- async answering (HTTP routes) ---------------------------------------------------------
    def admit(self) -> None:
        """Count one more question in flight, or raise `Overloaded` (the route answers 503)."""
        if self._pending >= self.ui.max_pending_requests:
            raise Overloaded()
        self._pending += 1

    def release(self) -> None:
        self._pending -= 1

    @property
    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.ui.max_concurrent_answers)
        return self._slots

    async def ask(self, question: str, session_id: str | None) -> dict:
        self.admit()
        try:
            async with self.slots:
                result = await anyio.to_thread.run_sync(self.tutor.ask, question, session_id)
            return result.to_dict()
        finally:
            self.release()

    async def events(self, question: str, session_id: str | None) -> AsyncIterator[StreamEvent]:
        """The tutor's stream, one event at a time from a worker thread. When the client goes away
        the generator is closed after the step in progress, and its answering slot is freed."""
        self.admit()
        try:
            async with self.slots:
                gen = self.tutor.stream(question, session_id)
                try:
                    while True:
                        ev = await anyio.to_thread.run_sync(_next_or_none, gen)
                        if ev is None:
                            return
                        yield ev
                finally:
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(gen.close)
        finally:
            self.release()

    def health(self) -> dict:
        h = dict(self.tutor.health())
        h["sessions"] = len(self.tutor.sessions)
        h["limits"] = {
            "max_question_chars": self.max_question_chars,
            "rate_limit_per_minute": self.ui.rate_limit_per_minute,
            "rate_limit_burst": self.ui.rate_limit_burst,
            "max_body_bytes": self.ui.max_body_bytes,
            "max_sessions": self.ui.max_sessions,
            "session_idle_seconds": self.ui.session_idle_seconds,
        }
        return h


def _next_or_none(gen):
    try:
        return next(gen)
    except StopIteration:
        return None
