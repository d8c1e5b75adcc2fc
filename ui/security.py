"""What keeps the service safe to expose: origin policy (CORS and frame-ancestors), a per-client rate
limit, request-body limits, uniform JSON errors, and the escaping of untrusted text into Markdown.

Everything here is plain ASGI/Starlette so it wraps the API and the mounted Gradio app alike.
"""

from __future__ import annotations

import html
import json
import math
import re
import threading
import time
from collections import OrderedDict
from typing import Iterable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIXES = ("/api/", "/v1/")


# ----------------------------------------------------------------------------------------------
# Errors: one JSON shape everywhere (OpenAI-style, so `openai` clients show the message too)


def error_body(message: str, code: str, status: int, **extra) -> dict:
    err = {"message": message, "type": "invalid_request_error" if status < 500 else "server_error", "code": code}
    err.update(extra)
    return {"error": err, "detail": message}


async def send_json(send: Send, status: int, body: dict, headers: Iterable[tuple[str, str]] = ()) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


# ----------------------------------------------------------------------------------------------
# Origins


class OriginPolicy:
    """Which browser origins may embed the widget and call the API.

    Patterns are exact origins (`https://course.example.edu`), origins with `*` standing for one
    host label run or a port (`https://*.example.edu`, `http://localhost:*`), or `*` for everyone.
    The same patterns are valid CSP `frame-ancestors` sources, so one list drives both.
    """

    def __init__(self, patterns: Iterable[str]):
        self.patterns = [p.strip().rstrip("/") for p in patterns if p and p.strip()]
        self.allow_all = "*" in self.patterns
        self._regexes = [self._compile(p) for p in self.patterns if p != "*"]

    @staticmethod
    def _compile(pattern: str) -> re.Pattern:
        parts = [re.escape(x) for x in pattern.lower().split("*")]
        return re.compile("^" + r"[a-z0-9\-]+(?:\.[a-z0-9\-]+)*".join(parts) + "$")

    def allows(self, origin: str | None) -> bool:
        if not origin:
            return False
        if self.allow_all:
            return True
        o = origin.strip().lower().rstrip("/")
        return any(r.match(o) for r in self._regexes)

    def frame_ancestors(self) -> str:
        if self.allow_all:
            return "frame-ancestors *"
        # CSP host-sources cannot name IPv6 literals; such origins still pass the CORS check.
        return "frame-ancestors " + " ".join(["'self'", *[p for p in self.patterns if "[" not in p]])


def own_origin(scope: Scope, headers: Headers) -> str:
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return f"{scheme}://{headers.get('host', '')}".lower()


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


class OriginMiddleware:
    """CORS for /api and /v1 done strictly: same-origin and allowed origins pass (preflight answered,
    Access-Control-Allow-Origin added); a browser request from any other origin is refused with 403.
    Requests without an Origin header (curl, scripts, the openai client) are not affected.
    Also stamps every response with `Content-Security-Policy: frame-ancestors …` and nosniff."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy, csp_overrides: dict[str, str] | None = None):
        self.app = app
        self.policy = policy
        self.frame_ancestors = policy.frame_ancestors()
        self.csp_overrides = csp_overrides or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        cors_origin: str | None = None
        if is_api_path(path) and origin and origin.lower() != own_origin(scope, headers):
            if not self.policy.allows(origin):
                msg = f"来源 {origin} 不允许调用此服务 / origin {origin} is not allowed (see TUTOR_ALLOWED_ORIGINS)"
                return await send_json(send, 403, error_body(msg, "origin_not_allowed", 403), [("Vary", "Origin")])
            cors_origin = origin
            if scope["method"] == "OPTIONS" and headers.get("access-control-request-method"):
                await send({"type": "http.response.start", "status": 204, "headers": [
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                    (b"access-control-allow-headers", b"Content-Type, Authorization, X-Session-Id"),
                    (b"access-control-max-age", b"600"),
                    (b"vary", b"Origin"),
                ]})
                return await send({"type": "http.response.body", "body": b""})

        csp = self.csp_overrides.get(path)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = [(k, v) for k, v in message.get("headers", []) if k.lower() not in (b"x-frame-options",)]
                names = {k.lower() for k, _ in raw}
                if csp is not None:
                    raw = [(k, v) for k, v in raw if k.lower() != b"content-security-policy"]
                    raw.append((b"content-security-policy", f"{csp}; {self.frame_ancestors}".encode()))
                elif b"content-security-policy" not in names:
                    raw.append((b"content-security-policy", self.frame_ancestors.encode()))
                raw.append((b"x-content-type-options", b"nosniff"))
                raw.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                if cors_origin:
                    raw += [
                        (b"access-control-allow-origin", cors_origin.encode("latin-1")),
                        (b"access-control-expose-headers", b"Retry-After, X-Session-Id"),
                        (b"vary", b"Origin"),
                    ]
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_wrapper)


# ----------------------------------------------------------------------------------------------
# Request bodies


class BodyTooLarge(HTTPException):
    """Raised while reading a body past the limit; any Starlette/FastAPI app renders it as a 413."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(413, f"请求体太大，上限是 {limit} 字节 / request body too large: the limit is {limit} bytes")


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with 413 — from Content-Length before reading anything,
    or while reading a chunked body — with a message that states the limit."""

    def __init__(self, app: ASGIApp, api_limit: int, ui_limit: int):
        self.app = app
        self.api_limit = api_limit
        self.ui_limit = ui_limit

    def _reject(self, limit: int):
        return error_body(BodyTooLarge(limit).detail, "body_too_large", 413, limit=limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.api_limit if is_api_path(scope.get("path", "")) else self.ui_limit
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                return await send_json(send, 400, error_body("Content-Length 无效 / invalid Content-Length", "bad_request", 400))
            if too_big:
                return await send_json(send, 413, self._reject(limit), [("Connection", "close")])
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await send_json(send, 413, self._reject(limit), [("Connection", "close")])


# ----------------------------------------------------------------------------------------------
# Rate limit


class RateLimiter:
    """Token bucket per client key: `burst` questions at once, refilled at `per_minute`/60 per second.
    Thread-safe (the API's event loop and Gradio's worker threads share one). Bounded memory."""

    def __init__(self, per_minute: float, burst: int, max_clients: int = 10000, clock=time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, key: str) -> float:
        """Take one token for `key`: 0.0 when allowed, else the seconds to wait before retrying."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait

    @staticmethod
    def retry_after(wait: float) -> int:
        return max(1, math.ceil(wait))

    @staticmethod
    def message(wait: float) -> str:
        s = RateLimiter.retry_after(wait)
        return f"请求太频繁，请 {s} 秒后再试 / too many questions: please retry in {s} s"


# ----------------------------------------------------------------------------------------------
# Untrusted text → Markdown that renders as text


def escape_html(text: str) -> str:
    """`<img onerror=…>` → `&lt;img onerror=…&gt;`: Markdown keeps working, raw HTML becomes text."""
    return html.escape(text or "", quote=False)


def escape_inline(text: str) -> str:
    """For one-line labels (titles, headings, table cells): no HTML, no Markdown structure."""
    s = escape_html(" ".join((text or "").split()))
    return re.sub(r"([\\`*_\[\]|#~>!])", r"\\\1", s)


def code_block(text: str, lang: str = "text") -> str:
    """A fenced block whose fence is longer than any backtick run inside, so nothing breaks out."""
    longest = max((len(m) for m in re.findall(r"`+", text or "")), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text or ''}\n{fence}"
