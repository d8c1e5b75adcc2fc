"""A minimal HTTP front for `tutor.api.Tutor` with exactly the contract `tutor eval --url` expects
(`GET /api/health` → 200, `POST /api/ask {question, session_id}` → `AskResult.to_dict()`), so the
evaluation's --url mode is tested against a real server process before the project's own web
service exists. Run: `uvicorn tests.eval_api_app:app` with TUTOR_DATA_DIR pointing at an ingested index.

EVAL_APP_THROTTLE_EVERY=N makes every N-th question answer HTTP 429 with `Retry-After: 0.2`, the way
a rate-limited server does (the project's server limits questions per client), so the evaluator's
retry is exercised too."""

from __future__ import annotations

import itertools
import os
import threading
from typing import Optional

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tutor.api import Tutor
from tutor.config import get_settings

app = FastAPI(title="course-tutor (test server for tutor eval --url)")
tutor = Tutor(get_settings())
THROTTLE_EVERY = int(os.environ.get("EVAL_APP_THROTTLE_EVERY", "0") or 0)
_count = itertools.count(1)
_count_lock = threading.Lock()


class AskIn(BaseModel):
    question: str
    session_id: Optional[str] = None


@app.get("/api/health")
def health() -> dict:
    return tutor.health()


@app.post("/api/ask")
def ask(body: AskIn):
    if THROTTLE_EVERY:
        with _count_lock:
            n = next(_count)
        if n % THROTTLE_EVERY == 0:
            return JSONResponse({"detail": "rate limited, retry later"}, status_code=429, headers={"Retry-After": "0.2"})
    return tutor.ask(body.question, session_id=body.session_id).to_dict()
