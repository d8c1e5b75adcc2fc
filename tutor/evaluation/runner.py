"""Running items through the tutor: in process (the same `tutor.api.Tutor` the CLI uses) or through
a running server (`POST {url}/api/ask`), one conversation per item, optionally on a thread pool.

Robustness rules:

* an item that crashes (the tutor raises, the server answers HTTP 500 or garbage) is recorded with
  ``error: "<Type>: <message>"`` and ``passed: false``, and the run goes on;
* an unreachable server fails fast, before any item runs (`BackendUnavailable`);
* Ctrl-C stops the run: what has been scored so far is kept (`RunOutcome.interrupted`), and items
  still waiting are not started. Each finished record is also appended to ``results.jsonl`` as
  soon as it exists (`PartialWriter`), so even a killed run leaves its results behind.

Latency: ``latency_ms`` is the wall-clock time of the item's last turn as the evaluator saw it
(in process: the `ask` call; over HTTP: request to response); ``tutor_latency_ms`` is what the tutor
reported itself; ``total_latency_ms`` covers all turns of a multi-turn item. Time spent waiting
out a server's rate limit (HTTP 429 + Retry-After, retried) is not latency: it is recorded apart as
``rate_limited_wait_ms``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

from tutor.evaluation.items import EXPECTATION_FIELDS, EvalItem
from tutor.evaluation.scoring import Similarity, score_item, tool_for_confusion

log = logging.getLogger(__name__)

ASK_TIMEOUT_S = 300.0
CONNECT_TIMEOUT_S = 5.0
HEALTH_TIMEOUT_S = 10.0
MAX_RETRY_WAIT_S = 120.0  # per question, waiting out a server's rate limit (HTTP 429)


class EvalError(Exception):
    """A problem with how the evaluation was started (bad file, bad option, no server): exit 2."""


class BackendUnavailable(EvalError):
    """The tutor cannot be reached or loaded."""


class Backend(Protocol):
    mode: str

    def ask(self, question: str, session_id: str) -> dict[str, Any]: ...

    def health(self) -> dict[str, Any]: ...


# ---- results as plain dicts ---------------------------------------------------------------------
def as_result_dict(obj: Any) -> dict[str, Any]:
    """An `AskResult` (or anything with `to_dict`/`model_dump`, or a dict) as a checked plain dict
    with the `AskResult.to_dict()` keys. Raises ValueError/TypeError for something else."""
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        data = obj.to_dict()
    elif hasattr(obj, "model_dump") and callable(obj.model_dump):
        data = obj.model_dump(mode="json")
    else:
        data = obj
    if not isinstance(data, dict):
        raise TypeError(f"the tutor returned {type(obj).__name__}; expected an AskResult or a JSON object")
    if not isinstance(data.get("answer"), str):
        raise ValueError("the tutor's result has no 'answer' string")
    steps = []
    for s in data.get("steps") or []:
        if isinstance(s, dict):
            steps.append({k: s.get(k) for k in ("thought", "tool", "tool_input", "observation")})
    sources = []
    for s in data.get("sources") or []:
        if isinstance(s, dict) and s.get("source"):
            sources.append({"source": str(s["source"]), "heading": str(s.get("heading") or "")})
        elif isinstance(s, str):
            sources.append({"source": s, "heading": ""})
    latency = data.get("latency_ms")
    return {
        "answer": data["answer"],
        "steps": steps,
        "sources": sources,
        "latency_ms": float(latency) if isinstance(latency, (int, float)) else None,
        "model_driven": bool(data.get("model_driven", False)),
        "session_id": data.get("session_id"),
        "kind": data.get("kind") if isinstance(data.get("kind"), str) else None,
    }


# ---- backends -----------------------------------------------------------------------------------
class InProcessBackend:
    """Any object with `.ask(question, session_id=...)` (normally `tutor.api.Tutor`)."""

    mode = "in-process"

    def __init__(self, tutor: Any):
        self.tutor = tutor

    def ask(self, question: str, session_id: str) -> dict[str, Any]:
        return as_result_dict(self.tutor.ask(question, session_id=session_id))

    def health(self) -> dict[str, Any]:
        fn = getattr(self.tutor, "health", None)
        if not callable(fn):
            return {}
        try:
            info = fn()
        except Exception as e:  # noqa: BLE001 - health is informative only
            return {"status": f"unknown ({type(e).__name__})"}
        return info if isinstance(info, dict) else {}


class HttpBackend:
    """The tutor's HTTP API: `GET /api/health`, `POST /api/ask {question, session_id}`."""

    mode = "url"

    def __init__(self, url: str, *, timeout: float = ASK_TIMEOUT_S, connect_timeout: float = CONNECT_TIMEOUT_S):
        import httpx

        url = (url or "").strip().rstrip("/")
        if not (url.startswith("http://") or url.startswith("https://")):
            raise EvalError(f"--url must start with http:// or https://, got {url!r}; e.g. --url http://127.0.0.1:8000")
        self.url = url
        self._httpx = httpx
        self.client = httpx.Client(base_url=url, timeout=httpx.Timeout(timeout, connect=connect_timeout))

    def health(self) -> dict[str, Any]:
        httpx = self._httpx
        try:
            r = self.client.get("/api/health", timeout=HEALTH_TIMEOUT_S)
        except httpx.TransportError as e:  # connection refused, DNS, timeout, ...
            reason = str(e) or type(e).__name__
            raise BackendUnavailable(
                f"cannot reach the tutor server at {self.url} ({reason}); is it running (`tutor serve`) and is the URL right?"
            ) from None
        if r.status_code != 200:
            raise BackendUnavailable(f"{self.url}/api/health answered HTTP {r.status_code}; expected 200 from a running tutor server")
        try:
            info = r.json()
        except ValueError:
            return {}
        return info if isinstance(info, dict) else {}

    def ask(self, question: str, session_id: str) -> dict[str, Any]:
        """POST /api/ask. A 429/503 answer (rate limit, busy) is retried after its Retry-After
        (at most `MAX_RETRY_WAIT_S` in all); the time spent waiting is reported as `_waited_ms`
        so that it is not counted as the tutor's latency."""
        waited = 0.0
        while True:
            r = self.client.post("/api/ask", json={"question": question, "session_id": session_id})
            if r.status_code not in (429, 503):
                break
            pause = _retry_after(r.headers.get("retry-after"))
            if waited + pause > MAX_RETRY_WAIT_S:
                break
            time.sleep(pause)
            waited += pause
        if r.status_code != 200:
            body = r.text.strip().replace("\n", " ")
            raise RuntimeError(f"POST /api/ask answered HTTP {r.status_code}: {body[:200]}")
        try:
            data = r.json()
        except ValueError:
            raise ValueError(f"POST /api/ask did not return JSON: {r.text[:120]!r}") from None
        result = as_result_dict(data)
        result["_waited_ms"] = waited * 1000
        return result

    def close(self) -> None:
        self.client.close()


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (seconds form; 1 s when absent or unreadable)."""
    try:
        return min(max(float(value), 0.1), MAX_RETRY_WAIT_S) if value is not None else 1.0
    except ValueError:
        return 1.0


_tutors: dict[str, Any] = {}
_tutors_lock = threading.Lock()


def load_tutor(settings: Any, *, notify: Callable[[str], None] | None = None, engine: str = "agent", checkpoint: str | None = None) -> Any:
    """The in-process `Tutor` for these settings (one per process and settings), with the knowledge
    base ingested first when its index is empty."""
    from kb.embedder import EmbedderError
    from kb.store import StoreError

    key = f"{settings.model_dump_json()}|{engine}|{checkpoint}"
    with _tutors_lock:
        tutor = _tutors.get(key)
        if tutor is not None:
            return tutor
        try:
            from tutor.api import Tutor

            tutor = Tutor(settings, engine=engine, checkpoint=checkpoint)
            if len(tutor.retriever) == 0:
                from kb.ingest import ingest

                if notify:
                    notify("知识库为空，正在导入课程笔记 / the index is empty: ingesting the course notes first")
                report = ingest(None, settings)
                if report.total == 0:
                    raise BackendUnavailable(f"ingesting the notes from {settings.corpus_dir} gave an empty index: {'; '.join(report.skipped) or 'no files'}")
                tutor.retriever.refresh(force=True)
        except (EmbedderError, StoreError) as e:
            raise BackendUnavailable(f"cannot load the tutor: {e}") from None
        _tutors[key] = tutor
        return tutor


def load_similarity(settings: Any, tutor: Any = None) -> Similarity:
    """Embedding similarity with the project's own model (the tutor's, when it is loaded)."""
    from tutor.evaluation.scoring import EmbeddingSimilarity

    embedder = None
    retriever = getattr(tutor, "retriever", None) if tutor is not None else None
    if retriever is not None:
        embedder = retriever.embedder
    if embedder is None:
        from kb.embedder import Embedder

        embedder = Embedder(settings.embedding_model)
    return EmbeddingSimilarity(embedder)


# ---- running ------------------------------------------------------------------------------------
def run_item(item: EvalItem, backend: Backend, *, similarity: Optional[Similarity] = None, tag: str = "") -> dict[str, Any]:
    """Run one item (all its turns in one session) and score its last answer. Never raises
    `Exception`: a failure becomes the record's `error`."""
    session_id = f"eval-{tag}-{item.id}" if tag else f"eval-{item.id}"
    record: dict[str, Any] = {
        "id": item.id,
        "category": item.category,
        "question": item.last_question,
        "answer": "",
        "steps": [],
        "sources": [],
        "latency_ms": None,
        "tutor_latency_ms": None,
        "total_latency_ms": None,
        "model_driven": False,
        "kind": None,
        "session_id": session_id,
        "passed": False if item.has_expectations else None,
        "scored": item.has_expectations,
        "expected": item.model_dump(include=set(EXPECTATION_FIELDS) | {"min_similarity"}, exclude_none=True),
        "failures": [],
        "checks": [],
        "error": None,
        "line": item.line,
    }
    if item.turns is not None:
        record["turns"] = []
    if item.expect_tool:
        record["expected_tool"] = item.expect_tool[0]
    t_all = time.perf_counter()
    try:
        result: dict[str, Any] | None = None
        latency = 0.0
        waited = 0.0
        for question in item.messages:
            t0 = time.perf_counter()
            result = backend.ask(question, session_id)
            wait = float(result.pop("_waited_ms", 0.0) or 0.0)
            waited += wait
            latency = (time.perf_counter() - t0) * 1000 - wait
            if item.turns is not None:
                record["turns"].append({"question": question, "answer": result["answer"], "kind": result["kind"], "latency_ms": round(latency, 1)})
        assert result is not None
        record.update(
            answer=result["answer"],
            steps=result["steps"],
            sources=result["sources"],
            latency_ms=round(latency, 1),
            tutor_latency_ms=result["latency_ms"],
            model_driven=result["model_driven"],
            kind=result["kind"],
        )
        record["total_latency_ms"] = round((time.perf_counter() - t_all) * 1000 - waited, 1)
        if waited:
            record["rate_limited_wait_ms"] = round(waited, 1)
        score = score_item(item, result, similarity=similarity, latency_ms=latency)
        record.update(
            passed=score.passed,
            failures=score.failures,
            checks=[c.to_dict() for c in score.checks],
            refused=score.refused,
            refusal_by=score.refusal_by,
            reference_similarity=None if score.reference_similarity is None else round(score.reference_similarity, 4),
            context_similarity=None if score.context_similarity is None else round(score.context_similarity, 4),
            source_rank=score.source_rank,
            tool=tool_for_confusion(item.expect_tool, result),
        )
    except Exception as e:  # noqa: BLE001 - one broken item must not stop the run
        log.debug("item %s failed", item.id, exc_info=True)
        message = str(e).strip().splitlines()[0] if str(e).strip() else ""
        record.update(
            error=f"{type(e).__name__}: {message}" if message else type(e).__name__,
            passed=False,
            scored=True,
            failures=["error"],
        )
        if record["total_latency_ms"] is None:
            record["total_latency_ms"] = round((time.perf_counter() - t_all) * 1000, 1)
    return record


@dataclass
class RunOutcome:
    records: list[dict[str, Any]] = field(default_factory=list)  # in the items' order
    interrupted: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0
    planned: int = 0

    @property
    def duration_s(self) -> float:
        return max(0.0, self.finished_at - self.started_at)


def run_items(
    items: list[EvalItem],
    backend: Backend,
    *,
    workers: int = 1,
    similarity: Optional[Similarity] = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    tag: str | None = None,
) -> RunOutcome:
    """Run all items; `on_result` is called in the calling thread as each record is ready.
    Ctrl-C (KeyboardInterrupt) ends the run early with `interrupted=True` instead of raising."""
    tag = tag or secrets.token_hex(3)
    outcome = RunOutcome(started_at=time.time(), planned=len(items))
    done: dict[int, dict[str, Any]] = {}

    def finish(index: int, record: dict[str, Any]) -> None:
        done[index] = record
        if on_result is not None:
            on_result(record)

    pending: dict[Future, int] = {}
    try:
        if workers <= 1:
            for i, item in enumerate(items):
                finish(i, run_item(item, backend, similarity=similarity, tag=tag))
        else:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tutor-eval")
            try:
                for i, item in enumerate(items):
                    pending[pool.submit(run_item, item, backend, similarity=similarity, tag=tag)] = i
                while pending:
                    finished, _ = wait(list(pending), timeout=0.2, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        finish(pending.pop(fut), fut.result())
            finally:
                # Items not started yet are dropped; ones in flight finish in the background.
                pool.shutdown(wait=False, cancel_futures=True)
    except KeyboardInterrupt:
        outcome.interrupted = True
        for fut, i in list(pending.items()):  # scored in the moment Ctrl-C arrived: keep them
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                finish(i, fut.result())
    outcome.finished_at = time.time()
    outcome.records = [done[i] for i in sorted(done)]
    return outcome


class PartialWriter:
    """Appends each finished record to `path` at once (one JSON line, flushed), so an interrupted or
    killed run still leaves its results; `finalize` rewrites the file in the items' order."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("w", encoding="utf-8")

    def __call__(self, record: dict[str, Any]) -> None:
        if self._fh.closed:
            return
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def finalize(self, records: list[dict[str, Any]]) -> None:
        self.close()
        write_jsonl(self.path, records)


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    tmp = Path(path).with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)


# ---- one whole evaluation -----------------------------------------------------------------------
OUTPUT_FILES = ("results.jsonl", "metrics.json", "report.md")


@dataclass
class Evaluation:
    """What `evaluate` produced: the records, the metrics and the files written."""

    records: list[dict[str, Any]]
    metrics: dict[str, Any]
    files: dict[str, Path]
    interrupted: bool


def evaluate(
    items: list[EvalItem],
    backend: Backend,
    out_dir: Path,
    *,
    workers: int = 1,
    similarity: Optional[Similarity] = None,
    meta: dict[str, Any] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> Evaluation:
    """Run `items` through `backend`, score them and write results.jsonl, metrics.json, report.md
    and the plots into `out_dir` — also when the run is interrupted (then with what was scored)."""
    from tutor.evaluation.metrics import compute_metrics
    from tutor.evaluation.report import write_report

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = PartialWriter(out_dir / "results.jsonl")

    def sink(record: dict[str, Any]) -> None:
        writer(record)
        if on_result is not None:
            on_result(record)

    try:
        outcome = run_items(items, backend, workers=workers, similarity=similarity, on_result=sink)
    finally:
        writer.close()
    writer.finalize(outcome.records)
    meta = dict(meta or {})
    full_meta = {
        "mode": getattr(backend, "mode", "in-process"),
        "workers": workers,
        **meta,
        "engine": meta["engine"] if "engine" in meta else _safe_health(backend),
        "interrupted": outcome.interrupted,
        "planned": outcome.planned,
        "started_at": outcome.started_at,
        "finished_at": outcome.finished_at,
    }
    metrics = compute_metrics(outcome.records, full_meta)
    metrics_path = out_dir / "metrics.json"
    tmp = metrics_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(metrics_path)
    files = {"results": out_dir / "results.jsonl", "metrics": metrics_path}
    files.update(write_report(out_dir, outcome.records, metrics))
    return Evaluation(outcome.records, metrics, files, outcome.interrupted)


def _safe_health(backend: Backend) -> dict[str, Any]:
    try:
        return backend.health()
    except Exception as e:  # noqa: BLE001 - informative only (a URL backend was checked up front)
        return {"status": f"unavailable ({type(e).__name__})"}
