"""An OpenAI-compatible `POST /v1/chat/completions` (streaming and not) and `GET /v1/models`, so
existing clients and evaluation harnesses can talk to the tutor.

The last user message is the question. The conversation is the `messages` list, as in the OpenAI
API: earlier user/assistant turns are loaded into a throw-away tutor session so follow-ups ("它呢？")
resolve. Send `session_id` (extra body field) or an `X-Session-Id` header to use a server-side
session instead. The tutor's steps and citations ride along in an extra `tutor` field.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ui.api import SESSION_ID_PATTERN, SSE_HEADERS, ApiError, check_question, get_runtime, overloaded, rate_limited
from ui.runtime import Overloaded

MODEL_ID = "course-tutor"


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "tool", "developer", "function"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = MODEL_ID
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    user: str | None = None


def text_of(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") in ("text", "input_text"))


def count_tokens(text: str) -> int:
    """A rough token count for `usage` (one per CJK character, one per word or symbol otherwise)."""
    return len(re.findall(r"[\u4e00-\u9fff]|[A-Za-z0-9_]+|[^\sA-Za-z0-9_\u4e00-\u9fff]", text or ""))


def _seed_session(rt, session_id: str, messages: list[ChatMessageIn]) -> None:
    """Load earlier user/assistant pairs into a fresh tutor session so follow-ups resolve."""
    from tutor.api import turn_topic
    from tutor.sessions import Turn

    store = rt.tutor.sessions
    session = store.get(session_id)
    pending_q: str | None = None
    for m in messages:
        if m.role == "user":
            pending_q = text_of(m.content)
        elif m.role == "assistant" and pending_q is not None:
            store.add_turn(session, Turn(question=pending_q, answer=text_of(m.content), topic=turn_topic(pending_q)))
            pending_q = None


router = APIRouter(tags=["openai-compatible"])


@router.get("/v1/models")
async def models() -> dict:
    """The one model this server offers."""
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "course-tutor"}]}


@router.post("/v1/chat/completions", dependencies=[Depends(rate_limited)])
async def chat_completions(body: ChatCompletionRequest, request: Request, x_session_id: str | None = Header(default=None)) -> Any:
    """OpenAI Chat Completions: `{"model": "course-tutor", "messages": [...], "stream": false}`."""
    rt = get_runtime(request)
    users = [i for i, m in enumerate(body.messages) if m.role == "user"]
    if not users:
        raise ApiError(422, "no_user_message", "messages 里没有 user 消息 / messages contain no user message")
    question = check_question(rt, text_of(body.messages[users[-1]].content))
    session_id = body.session_id or x_session_id
    if session_id and not re.match(SESSION_ID_PATTERN, session_id):
        raise ApiError(422, "invalid_session_id", "session_id 格式不对 / invalid session_id (letters, digits, _.:- ; at most 128)")
    ephemeral = session_id is None
    if ephemeral:
        session_id = f"oa-{uuid.uuid4().hex}"
        _seed_session(rt, session_id, body.messages[: users[-1]])
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    prompt_tokens = sum(count_tokens(text_of(m.content)) for m in body.messages)

    def forget() -> None:
        if ephemeral:
            rt.tutor.sessions.reset(session_id)

    if not body.stream:
        try:
            result = await rt.ask(question, session_id)
        except Overloaded:
            raise overloaded() from None
        finally:
            forget()
        completion_tokens = count_tokens(result["answer"])
        if ephemeral:
            result["session_id"] = None
        return {
            "id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result["answer"]}, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
            "tutor": result,
        }

    events = rt.events(question, session_id)
    try:
        first = await events.__anext__()
    except Overloaded:
        forget()
        raise overloaded() from None

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> bytes:
        obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode("utf-8")

    async def stream():
        answer = []
        try:
            yield chunk({"role": "assistant", "content": ""})
            ev = first
            while True:
                if ev.type == "token":
                    answer.append(ev.data.get("text", ""))
                    yield chunk({"content": ev.data.get("text", "")})
                elif ev.type == "final":
                    data = dict(ev.data)
                    if ephemeral:
                        data["session_id"] = None
                    yield chunk({}, "stop", tutor=data)
                elif ev.type == "error":
                    yield chunk({"content": str(ev.data.get("message", ""))}, "stop")
                try:
                    ev = await events.__anext__()
                except StopAsyncIteration:
                    break
        finally:
            with anyio.CancelScope(shield=True):
                await events.aclose()
            forget()
        if body.stream_options and body.stream_options.include_usage:
            ct = count_tokens("".join(answer))
            obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID, "choices": [],
                   "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": ct, "total_tokens": prompt_tokens + ct}}
            yield f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode("utf-8")
        yield b"data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream; charset=utf-8", headers=SSE_HEADERS)
