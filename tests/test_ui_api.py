"""The HTTP API in-process (FastAPI TestClient) on the real tutor: /api/ask, /api/ask/stream,
/api/health, /v1/chat/completions, the widget routes, CORS/frame-ancestors, and every limit."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.test_ui_support import make_runtime, shared_tutor
from ui.app import create_app

ALLOWED = "https://course.example.edu"


@pytest.fixture(scope="module")
def client():
    app = create_app(runtime=make_runtime(allowed_origins=[ALLOWED, "http://localhost:*"], rate_limit_per_minute=6000, rate_limit_burst=1000))
    with TestClient(app) as c:
        yield c


def parse_sse(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        ev = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((ev["event"], json.loads(ev["data"])))
    return out


def test_health(client):
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["index_chunks"] > 200 and h["version"] and h["model"]
    assert h["limits"]["max_question_chars"] == 2000


def test_ask_returns_the_ask_json_and_keeps_the_session(client):
    r = client.post("/api/ask", json={"question": "什么是 BERT？"})
    assert r.status_code == 200
    body = r.json()
    expected_keys = set(shared_tutor().ask("什么是 GPT？").to_dict())
    assert set(body) == expected_keys  # the same JSON as `tutor ask --json`
    assert body["kind"] == "concept" and body["sources"] and body["steps"][0]["tool"] == "search_notes"
    assert body["session_id"]
    r2 = client.post("/api/ask", json={"question": "它的预训练任务有哪些？", "session_id": body["session_id"]}).json()
    assert r2["session_id"] == body["session_id"]
    assert r2["steps"][0]["tool_input"].startswith("BERT")  # the follow-up was resolved in this session


def test_stream_events_in_order(client):
    with client.stream("POST", "/api/ask/stream", json={"question": "Q=[[1,0],[0,1]], K=[[1,0],[0,1]], V=[[1,2],[3,4]] 注意力"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(r.read().decode("utf-8"))
    kinds = [e for e, _ in events]
    assert kinds[0] == "step" and kinds[-1] == "final" and "token" in kinds
    assert kinds.index("final") > max(i for i, k in enumerate(kinds) if k == "token")
    final = events[-1][1]
    assert final["kind"] == "demo" and final["steps"][0]["tool"] == "attention"
    assert "".join(d["text"] for e, d in events if e == "token") == final["answer"]


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream", "/v1/chat/completions"])
def test_too_long_question_413_states_the_limit(client, path):
    q = "注" * 2001
    body = {"question": q} if path.startswith("/api") else {"model": "course-tutor", "messages": [{"role": "user", "content": q}]}
    r = client.post(path, json=body)
    assert r.status_code == 413
    err = r.json()["error"]
    assert err["code"] == "question_too_long" and err["limit"] == 2000 and "2000" in err["message"]


def test_bad_requests_get_clear_errors(client):
    r = client.post("/api/ask", json={"question": "   "})
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_question"
    r = client.post("/api/ask", content=b'{"question": ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "question" in r.json()["error"]["message"]
    r = client.post("/api/ask", json={"nothing": 1})
    assert r.status_code == 422 and "question" in r.json()["error"]["message"]
    r = client.post("/api/ask", content=b'{"question": "\xff\xfe\xfd"}', headers={"content-type": "application/json"})
    assert r.status_code in (400, 422) and r.json()["error"]["message"]
    r = client.post("/api/ask", json={"question": "hi", "session_id": "../../etc"})
    assert r.status_code == 422
    r = client.post("/api/ask", content=b"x" * 70_000, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large" and "65536" in r.json()["error"]["message"]
    assert client.get("/api/health").status_code == 200


def test_rate_limit_429_with_retry_after():
    app = create_app(runtime=make_runtime(rate_limit_per_minute=2, rate_limit_burst=2))
    with TestClient(app) as c:
        codes = [c.post("/api/ask", json={"question": "写一首诗"}).status_code for _ in range(2)]
        r = c.post("/api/ask", json={"question": "写一首诗"})
        assert codes == [200, 200] and r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1 and "retry" in r.json()["error"]["message"]
        assert c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}).status_code == 429
        assert c.get("/api/health").status_code == 200  # health is not rate limited


def test_cors_allowed_refused_and_same_origin(client):
    pre = client.options("/api/ask", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == ALLOWED
    r = client.post("/api/ask", json={"question": "写一首诗"}, headers={"Origin": ALLOWED})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ALLOWED
    r = client.post("/api/ask", json={"question": "写一首诗"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers and r.json()["error"]["code"] == "origin_not_allowed"
    pre = client.options("/api/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 403
    assert client.post("/api/ask", json={"question": "写一首诗"}, headers={"Origin": "http://testserver"}).status_code == 200
    assert client.post("/api/ask", json={"question": "写一首诗"}).status_code == 200  # scripts send no Origin


def test_widget_routes_and_frame_ancestors(client):
    js = client.get("/widget.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"] and "attachShadow" in js.text
    page = client.get("/widget")
    csp = page.headers["content-security-policy"]
    assert page.status_code == 200 and "script-src 'self'" in csp and f"frame-ancestors 'self' {ALLOWED} http://localhost:*" in csp
    assert "evil" not in csp
    assert client.get("/widget/assets/widget-app.js").status_code == 200
    assert client.get("/widget/assets/..%2Fwidget.py").status_code == 404
    home = client.get("/")
    assert home.status_code == 200 and "frame-ancestors 'self'" in home.headers["content-security-policy"]
    notes = client.get("/api/notes").json()
    assert any(v["title"] for v in notes.values())


def test_openapi_and_docs(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/ask", "/api/ask/stream", "/api/health", "/v1/chat/completions"):
        assert path in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_openai_compatible_endpoint(client):
    r = client.post("/v1/chat/completions", json={"model": "course-tutor", "messages": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "什么是 BERT？"},
        {"role": "assistant", "content": "BERT 是……"},
        {"role": "user", "content": "它的预训练任务有哪些？"}]})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["message"]["content"] == body["tutor"]["answer"]
    assert body["tutor"]["steps"][0]["tool_input"].startswith("BERT")  # history came from `messages`
    assert body["usage"]["total_tokens"] > 0
    assert client.get("/v1/models").json()["data"][0]["id"] == "course-tutor"
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]})
    assert r.status_code == 422


def test_forget_session(client):
    sid = client.post("/api/ask", json={"question": "什么是 BERT？"}).json()["session_id"]
    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    r = client.post("/api/ask", json={"question": "它的预训练任务有哪些？", "session_id": sid}).json()
    assert not r["steps"] or not r["steps"][0]["tool_input"].startswith("BERT")
