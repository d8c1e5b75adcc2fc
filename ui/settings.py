"""Settings of the web service (env prefix TUTOR_, like `tutor.config.Settings`).

    TUTOR_ALLOWED_ORIGINS   origins that may embed the widget and call the API from a browser:
                            JSON list or comma-separated; `*` wildcards allowed in the host or port,
                            e.g. "https://course.example.edu,https://*.example.edu,http://localhost:*";
                            "*" alone allows every origin. Default: loopback pages only.
    TUTOR_RATE_LIMIT_PER_MINUTE, TUTOR_RATE_LIMIT_BURST    questions per client (IP) per minute / burst
    TUTOR_MAX_BODY_BYTES, TUTOR_MAX_UI_BODY_BYTES          request body limits: API / everything else
    TUTOR_MAX_QUESTION_CHARS                               question length limit (at most the tutor's own)
    TUTOR_MAX_SESSIONS, TUTOR_SESSION_IDLE_SECONDS         conversation memory bounds
    TUTOR_MAX_CONCURRENT_ANSWERS, TUTOR_MAX_PENDING_REQUESTS   answering slots / queued requests (then 503)
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tutor.api import MAX_QUESTION_CHARS

DEFAULT_ORIGINS = ["http://localhost:*", "http://127.0.0.1:*"]


class UISettings(BaseSettings):
    """Limits and embedding policy of `tutor serve`."""

    model_config = SettingsConfigDict(env_prefix="TUTOR_", extra="ignore")

    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ORIGINS),
        description="Origins that may embed the widget (frame-ancestors) and call the API cross-origin (CORS).",
    )
    rate_limit_per_minute: float = Field(default=30.0, ge=0, description="Questions per client per minute; 0 = unlimited.")
    rate_limit_burst: int = Field(default=10, ge=1, description="Questions a client may send at once before the rate applies.")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body for /api and /v1.")
    max_ui_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, description="Largest request body for the chat UI.")
    max_question_chars: int = Field(default=MAX_QUESTION_CHARS, ge=1, le=MAX_QUESTION_CHARS)
    max_sessions: int = Field(default=1000, ge=1, description="Conversations kept in memory (least recently used go first).")
    session_idle_seconds: float = Field(default=3600.0, gt=0, description="A conversation idle this long is forgotten.")
    max_concurrent_answers: int = Field(default=4, ge=1, description="Questions answered at the same time (per route family).")
    max_pending_requests: int = Field(default=64, ge=1, description="Questions waiting or running before new ones get 503.")

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, v):
        if isinstance(v, str):
            s = v.strip()
            if s.startswith("["):
                v = json.loads(s)
            else:
                v = [p for p in s.replace(" ", ",").split(",")]
        return [str(o).strip().rstrip("/") for o in v if str(o).strip()]
