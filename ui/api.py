"""The tutor's HTTP API: `POST /api/ask` (the JSON of `tutor ask --json`), `POST /api/ask/stream`
(server-sent events `step`, `token`, `final`, `error`) and `GET /api/health`.

Limits answer with clear JSON errors: 413 (question or body too long, limit stated), 422 (empty or
malformed), 429 (rate limit, with Retry-After), 503 (too many questions waiting, with Retry-After).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ui.runtime import Overloaded, Runtime
from ui.security import BodyTooLarge, RateLimiter, error_body

log = logging.getLogger(__name__)

SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any):
        self.status, self.code, self.message, self.headers, self.extra = status, code, message, headers or {}, extra


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"question": "什么是自注意力？", "session_id": "my-session-1"}]})

    question: str = Field(description="The student's question (1–2000 characters). 学生的问题。")
    session_id: str | None = Field(
        default=None, pattern=SESSION_ID_PATTERN,
        description="Keep a conversation: send back the session_id of an earlier answer. Omit to start a new one.",
    )


class Source(BaseModel):
    source: str
    heading: str = ""


class StepOut(BaseModel):
    thought: str = ""
    tool: str | None = None
    tool_input: str | None = None
    observation: str | None = None


class AskResponse(BaseModel):
    """The same JSON as `tutor ask --json`."""

    answer: str
    steps: list[StepOut]
    sources: list[Source]
    latency_ms: float
    model_driven: bool
    session_id: str | None
    kind: str


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rate_limited(request: Request) -> None:
    """Dependency: one token of the client's rate-limit bucket, or 429 with Retry-After."""
    wait = get_runtime(request).limiter.check(client_key(request))
    if wait > 0:
        raise ApiError(429, "rate_limited", RateLimiter.message(wait), {"Retry-After": str(RateLimiter.retry_after(wait))})


def check_question(rt: Runtime, question: str) -> str:
    problem = rt.question_problem(question)
    if problem:
        status, code, message = problem
        raise ApiError(status, code, message, limit=rt.max_question_chars)
    return question


def overloaded() -> ApiError:
    return ApiError(503, "overloaded", "服务繁忙，请稍后再试 / the tutor is busy: please retry shortly", {"Retry-After": "2"})


def sse(event: str, data: dict) -> bytes:
    if event == "step" and "artifact" in data:  # UI-only detail (local file paths): not part of the API
        data = {k: v for k, v in data.items() if k != "artifact"}
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode("utf-8")


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

router = APIRouter(tags=["tutor"])


@router.post("/api/ask", response_model=AskResponse, dependencies=[Depends(rate_limited)],
             responses={413: {"description": "question or body too long"}, 429: {"description": "rate limited"}})
async def ask(body: AskRequest, request: Request) -> Any:
    """Ask the tutor one question; get the answer, its ReAct steps and its citations."""
    rt = get_runtime(request)
    check_question(rt, body.question)
    try:
        return await rt.ask(body.question, body.session_id)
    except Overloaded:
        raise overloaded() from None


@router.post("/api/ask/stream", dependencies=[Depends(rate_limited)],
             responses={200: {"content": {"text/event-stream": {}}, "description": "events: step, token, final, error"}})
async def ask_stream(body: AskRequest, request: Request) -> StreamingResponse:
    """Server-sent events: `step` (one ReAct step), `token` (a piece of the answer), `final` (the
    whole answer, as /api/ask returns it) — or `error`."""
    rt = get_runtime(request)
    check_question(rt, body.question)
    events = rt.events(body.question, body.session_id)
    try:
        first = await events.__anext__()
    except Overloaded:
        raise overloaded() from None
    except StopAsyncIteration:
        first = None

    async def stream():
        try:
            if first is not None:
                yield sse(first.type, first.data)
                async for ev in events:
                    yield sse(ev.type, ev.data)
        except Exception as e:  # never a half-written stream without saying why
            log.exception("stream failed")
            yield sse("error", {"message": f"抱歉，出错了 / sorry, something went wrong ({type(e).__name__})"})
        finally:
            with anyio.CancelScope(shield=True):
                await events.aclose()

    return StreamingResponse(stream(), media_type="text/event-stream; charset=utf-8", headers=SSE_HEADERS)


@router.get("/api/health")
async def health(request: Request) -> dict:
    """Model, index size, version, live sessions and the limits in force."""
    return get_runtime(request).health()


def install_error_handlers(app: FastAPI) -> None:
    """Every error from the API is `{"error": {message, type, code}, "detail": message}`."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(error_body(exc.message, exc.code, exc.status, **exc.extra), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
            errors.append({"loc": loc, "msg": str(e.get("msg", ""))[:300], "type": e.get("type", "")})
        what = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors[:5])
        msg = f"请求格式不对 / invalid request: {what}. 需要 JSON，例如 / expected JSON like {{\"question\": \"什么是自注意力？\"}}"
        return JSONResponse(error_body(msg, "invalid_request", 422, errors=errors), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        msg, code = str(exc.detail), "http_error"
        extra = {}
        if exc.status_code == 400 and "parsing the body" in msg:
            msg, code = "请求体不是合法的 UTF-8 JSON / the request body is not valid UTF-8 JSON", "invalid_body"
        elif isinstance(exc, BodyTooLarge):
            code, extra = "body_too_large", {"limit": exc.limit}
        return JSONResponse(error_body(msg, code, exc.status_code, **extra), exc.status_code, headers=getattr(exc, "headers", None))
