"""A real `python -m ui.serve` process on a loopback port, driven the way outside clients drive it:
the `openai` client (streaming and not), `gradio_client`, SSE over raw HTTP, and hostile traffic
(malformed JSON, huge bodies, invalid UTF-8, abrupt disconnects) after which it must still answer."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.test_ui_support import shared_server


@pytest.fixture(scope="module")
def server():
    return shared_server()


def raw_request(port: int, data: bytes, read: bool = True, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if not read:
            return b""
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except socket.timeout:
            pass
        return b"".join(chunks)


def post_head(path: str, body_len: int, ctype: str = "application/json") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\nContent-Length: {body_len}\r\n"
            "Connection: close\r\n\r\n").encode()


def test_openai_client_non_streaming_and_streaming(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url + "/v1", api_key="not-needed", max_retries=0, timeout=60)
    r = client.chat.completions.create(model="course-tutor", messages=[{"role": "user", "content": "什么是 Transformer？"}])
    text = r.choices[0].message.content
    assert r.choices[0].finish_reason == "stop" and "Transformer" in text or "注意力" in text
    assert r.model == "course-tutor" and r.usage.total_tokens > 0
    stream = client.chat.completions.create(model="course-tutor", stream=True, stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "用二元模型给 “注意力机制很重要” 打分"}])
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for ch in chunk.choices:
            pieces.append(ch.delta.content or "")
            finish = ch.finish_reason or finish
    answer = "".join(pieces)
    assert finish == "stop" and "“注意力机制很重要”" in answer and usage and usage.completion_tokens > 0
    models = client.models.list()
    assert [m.id for m in models.data] == ["course-tutor"]
    import openai

    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="course-tutor", messages=[{"role": "user", "content": "长" * 2500}])
    assert e.value.status_code == 413 and "2000" in str(e.value)


def test_gradio_client_drives_the_chat_and_demos(server):
    from gradio_client import Client

    c = Client(server.url + "/", verbose=False)
    chat, box = c.predict("什么是 BERT？", "zh", api_name="/chat")
    assert box == ""
    roles = [m["role"] for m in chat]
    assert roles[0] == "user" and roles[-1] == "assistant"
    titles = [(m.get("metadata") or {}).get("title") or "" for m in chat]
    assert any("步骤 1" in t for t in titles)
    last = json.dumps(chat[-1], ensure_ascii=False)
    assert "引用来源" in last and "《" in last
    chat2, _ = c.predict("它的预训练任务有哪些？", "zh", api_name="/chat")  # same browser session: follow-up resolves
    assert len(chat2) > len(chat) and "BERT 它的预训练任务" in json.dumps(chat2, ensure_ascii=False)
    summary, table = c.predict("注意力机制很重要", "", 2, "kn", 1.0, api_name="/ngram_demo")
    assert "Kneser-Ney" in summary and table["data"]
    c.predict(api_name="/new_conversation")
    fresh, _ = c.predict("它的预训练任务有哪些？", "zh", api_name="/chat")
    assert len(fresh) < len(chat2)


def test_sse_stream_over_http(server):
    with httpx.stream("POST", server.url + "/api/ask/stream", json={"question": "什么是自注意力？"}, timeout=60) as r:
        assert r.status_code == 200
        events = [line.split(": ", 1)[1] for line in r.iter_lines() if line.startswith("event: ")]
    assert events[0] == "step" and events[-1] == "final" and "token" in events


def test_server_survives_hostile_traffic(server):
    port = server.port
    # malformed JSON
    resp = raw_request(port, post_head("/api/ask", 9) + b"{bad json")
    assert resp.startswith(b"HTTP/1.1 422")
    # invalid UTF-8
    body = b'{"question": "\xff\xfe\xfa"}'
    resp = raw_request(port, post_head("/api/ask", len(body)) + body)
    assert resp.split(b"\r\n")[0] in (b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 422 Unprocessable Content")
    # a huge body announced: refused from the header, before it is sent
    resp = raw_request(port, post_head("/api/ask", 50_000_000) + b'{"question": "')
    assert resp.startswith(b"HTTP/1.1 413") and b"65536" in resp
    # a huge chunked body: refused while reading
    head = b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    chunk = b"x" * 32768
    data = head + b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
    try:
        resp = raw_request(port, data)
        assert resp == b"" or resp.startswith(b"HTTP/1.1 413")
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server may close the socket once it has refused the body
    # a half-sent body, then the client vanishes
    raw_request(port, post_head("/api/ask", 1000) + b'{"question": "abc', read=False)
    # garbage that is not HTTP at all
    raw_request(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100)
    # abrupt disconnects in the middle of streams
    for _ in range(5):
        body = json.dumps({"question": "BERT 掩码 “注意力机制是 Transformer 的核心” seed=1"}).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(post_head("/api/ask/stream", len(body)).replace(b"Connection: close", b"Connection: keep-alive") + body)
            first = s.recv(200)
            assert first.startswith(b"HTTP/1.1 200")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
    time.sleep(0.5)
    assert server.alive()
    h = httpx.get(server.url + "/api/health", timeout=10).json()
    assert h["status"] == "ok"
    r = httpx.post(server.url + "/api/ask", json={"question": "什么是 GPT？"}, timeout=60)
    assert r.status_code == 200 and r.json()["kind"] == "concept"


def test_load_test_script_runs_clean(server):
    """A short run of bench/load_test.py against this server: no errors, no crossed sessions."""
    from bench.load_test import run_load

    report = run_load(server.url, clients=6, duration=6.0, abuse=True)
    assert report["errors"] == [] and report["crossed"] == 0 and report["requests"] >= 12
    assert report["p50_ms"] > 0 and report["p95_ms"] >= report["p50_ms"] and report["server_up_after_abuse"]
