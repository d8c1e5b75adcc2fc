"""Shared helpers for the tests/test_ui_*.py modules (no tests here): one ingested knowledge base and
one `Runtime` per test process, a real uvicorn server process on a free loopback port, an in-thread
uvicorn server for custom apps, and a scripted tutor whose answers carry XSS payloads."""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import httpx

from tutor.config import PROJECT_ROOT, Settings
from tutor.schema import AskResult, Source, Step, StreamEvent
from tutor.sessions import SessionStore, Turn

ARTIFACTS = PROJECT_ROOT / "artifacts" / "screenshots"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(2)</script>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@lru_cache(maxsize=1)
def ingested_settings() -> Settings:
    """Settings on a test-only data dir holding the shipped notes. Ingestion is idempotent, so the
    folder is kept between runs (a re-run costs ~0.1 s instead of embedding every chunk again)."""
    from kb.ingest import ingest

    d = Path(tempfile.gettempdir()) / f"course-tutor-ui-tests-{os.getuid()}"
    settings = Settings(data_dir=d / "data")
    ingest(None, settings)
    return settings


@lru_cache(maxsize=1)
def shared_tutor():
    from tutor.api import Tutor

    return Tutor(ingested_settings(), sessions=SessionStore(max_sessions=200, idle_seconds=600))


def make_runtime(**ui_kwargs):
    """A Runtime around the shared tutor with these UI settings (limits are per Runtime)."""
    from ui.runtime import Runtime
    from ui.settings import UISettings

    return Runtime(tutor=shared_tutor(), ui=UISettings(**ui_kwargs), warm_up=False)


def wait_healthy(url: str, proc: subprocess.Popen | None = None, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not become healthy")


class ServerProcess:
    """`python -m ui.serve` in a subprocess on a free loopback port (the way `tutor serve` runs)."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix="tutor-serve-", suffix=".log")[1])
        full_env = {**os.environ, "TUTOR_DATA_DIR": str(settings.data_dir), "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ui.serve", "127.0.0.1", str(self.port)], cwd=str(PROJECT_ROOT), env=full_env,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )
        try:
            wait_healthy(self.url, self.proc)
        except Exception:
            self.stop()
            raise RuntimeError("server failed to start:\n" + self.log.read_text(errors="replace")[-3000:]) from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@lru_cache(maxsize=1)
def shared_server() -> ServerProcess:
    """One real server per test process, generous limits (the limits have their own tests)."""
    srv = ServerProcess(ingested_settings(), env={"TUTOR_RATE_LIMIT_PER_MINUTE": "6000", "TUTOR_RATE_LIMIT_BURST": "1000"})
    atexit.register(srv.stop)
    return srv


class ThreadServer:
    """uvicorn serving an ASGI app in a background thread of the test process."""

    def __init__(self, app, port: int | None = None):
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_healthy(self.url, timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class StaticPageServer:
    """A plain http.server on its own port serving one HTML page (the "course site" embedding the widget)."""

    def __init__(self, html: str):
        import http.server

        page = html.encode("utf-8")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()


class ScriptedTutor:
    """Stands in for `tutor.api.Tutor` with a fixed, hostile answer: every field the UI shows carries
    HTML/script payloads, so the tests can prove that they render as text."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.sessions = SessionStore()

    def stream(self, question: str, session_id: str | None = None) -> Iterator[StreamEvent]:
        session = self.sessions.get(session_id)
        step = Step(thought=f"thinking {XSS_IMG}", tool="search_notes", tool_input=f"{question} {XSS_SCRIPT}",
                    observation=f"[note.txt] {XSS_IMG} {XSS_SCRIPT}")
        yield StreamEvent(type="step", data=step.model_dump(mode="json"))
        answer = f"答案 answer: {XSS_IMG} and {XSS_SCRIPT} end"
        for i in range(0, len(answer), 7):
            yield StreamEvent(type="token", data={"text": answer[i : i + 7]})
        self.sessions.add_turn(session, Turn(question=question, answer=answer))
        result = AskResult(answer=answer, steps=[step], sources=[Source(source=f"{XSS_IMG}.txt", heading=f"{XSS_SCRIPT} heading")],
                           session_id=session.id, kind="concept")
        yield StreamEvent(type="final", data=result.to_dict())

    def ask(self, question: str, session_id: str | None = None) -> AskResult:
        final = [e for e in self.stream(question, session_id) if e.type == "final"][-1]
        return AskResult.model_validate(final.data)

    def health(self) -> dict:
        return {"status": "ok", "version": "test", "index_chunks": 0, "model": "scripted"}


def launch_browser(playwright):
    """Debian's Chromium, offline-friendly flags."""
    return playwright.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage", "--disable-gpu",
              "--disable-component-update", "--disable-default-apps", "--disable-sync", "--no-first-run",
              "--disable-features=Translate,MediaRouter,OptimizationHints"],
    )


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
