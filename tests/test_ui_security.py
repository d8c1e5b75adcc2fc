"""Unit tests of ui.security, ui.settings and ui.render: origin matching, the rate limiter, body
limits, and untrusted text becoming inert Markdown."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ui.render import answer_markdown, artifact_table, final_markdown, source_label, step_markdown, step_title
from ui.security import BodyLimitMiddleware, OriginPolicy, RateLimiter, code_block, escape_html, escape_inline
from ui.settings import UISettings

XSS = "<img src=x onerror=alert(1)>"


def test_origin_policy_patterns():
    p = OriginPolicy(["https://course.example.edu", "https://*.example.org", "http://localhost:*"])
    assert p.allows("https://course.example.edu")
    assert p.allows("HTTPS://COURSE.EXAMPLE.EDU/")
    assert p.allows("https://a.b.example.org")
    assert p.allows("http://localhost:8000")
    assert not p.allows("http://course.example.edu")  # scheme matters
    assert not p.allows("https://evil.com")
    assert not p.allows("https://example.org.evil.com")
    assert not p.allows("https://evil.com/.example.org")
    assert not p.allows("http://localhost.evil.com:80")
    assert not p.allows(None) and not p.allows("")
    assert p.frame_ancestors() == "frame-ancestors 'self' https://course.example.edu https://*.example.org http://localhost:*"
    star = OriginPolicy(["*"])
    assert star.allows("https://anything.example") and star.frame_ancestors() == "frame-ancestors *"


def test_settings_from_env(monkeypatch):
    monkeypatch.setenv("TUTOR_ALLOWED_ORIGINS", "https://a.edu, https://b.edu/")
    monkeypatch.setenv("TUTOR_RATE_LIMIT_PER_MINUTE", "12")
    s = UISettings()
    assert s.allowed_origins == ["https://a.edu", "https://b.edu"] and s.rate_limit_per_minute == 12
    monkeypatch.setenv("TUTOR_ALLOWED_ORIGINS", '["*"]')
    assert UISettings().allowed_origins == ["*"]
    with pytest.raises(ValueError):
        UISettings(max_question_chars=5000)  # cannot exceed what the tutor itself accepts


def test_rate_limiter_burst_refill_and_retry_after():
    now = [100.0]
    rl = RateLimiter(per_minute=6, burst=2, clock=lambda: now[0])  # one token every 10 s
    assert rl.check("a") == 0 and rl.check("a") == 0
    wait = rl.check("a")
    assert wait == pytest.approx(10.0) and RateLimiter.retry_after(wait) == 10
    assert "10" in RateLimiter.message(wait)
    assert rl.check("b") == 0  # clients are independent
    now[0] += 10.0
    assert rl.check("a") == 0
    assert rl.check("a") > 0
    assert RateLimiter(0, 1).check("x") == 0  # disabled


def test_rate_limiter_memory_is_bounded():
    rl = RateLimiter(per_minute=60, burst=1, max_clients=50)
    for i in range(500):
        rl.check(f"client-{i}")
    assert len(rl._buckets) == 50


def _echo_app(limit: int) -> TestClient:
    async def echo(request: Request):
        body = await request.body()
        return JSONResponse({"n": len(body)})

    app = Starlette(routes=[Route("/api/echo", echo, methods=["POST"]), Route("/ui", echo, methods=["POST"])])
    return TestClient(BodyLimitMiddleware(app, api_limit=limit, ui_limit=limit * 4))


def test_body_limit_by_content_length_and_by_streamed_chunks():
    c = _echo_app(1000)
    assert c.post("/api/echo", content=b"x" * 1000).json() == {"n": 1000}
    r = c.post("/api/echo", content=b"x" * 1001)
    assert r.status_code == 413 and r.json()["error"]["limit"] == 1000 and "1000" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: chunked transfer, counted while reading
        for _ in range(5):
            yield b"y" * 400

    r = c.post("/api/echo", content=chunks())
    assert r.status_code == 413
    assert c.post("/ui", content=b"x" * 3000).status_code == 200  # the UI limit is separate
    assert c.post("/api/echo", content=b"1", headers={"content-length": "abc"}).status_code == 400


def test_escaping_keeps_text_and_kills_html():
    assert escape_html(XSS) == "&lt;img src=x onerror=alert(1)&gt;"
    assert "<" not in escape_inline("<script>*x*</script>") and r"\*x\*" in escape_inline("<script>*x*</script>")
    block = code_block("a ``` b ```` c")
    fence = block.split("text")[0]
    assert len(fence) == 5 and block.endswith(fence)  # longer than any run inside: nothing breaks out


def test_step_and_answer_markdown_are_inert():
    step = {"thought": f"think {XSS}", "tool": "search_notes", "tool_input": "q <script>x</script>", "observation": f"obs {XSS}"}
    md = step_markdown(step, "zh")
    outside_code = re.sub(r"(`{3,})text\n.*?\n\1", "", md, flags=re.S)
    assert "<img" not in outside_code and "&lt;img" in outside_code
    assert "<script>x</script>" in md  # shown verbatim, inside a code block
    assert "想法" in md and "观察" in md and "输入" in md
    assert step_title(2, step, "en").startswith("🛠️ Step 2") and r"search\_notes" in step_title(2, step, "en")
    assert "<img" not in answer_markdown(f"answer {XSS}") and "<" not in answer_markdown("<b>x</b>")
    assert answer_markdown("k0  k1\nq0  0.5", "demo").startswith("```")


def test_citations_name_note_and_heading():
    titles = {"001.txt": ("学习笔记：注意力", "Study notes: attention")}
    md = final_markdown({"answer": "答", "kind": "concept", "sources": [{"source": "001.txt", "heading": "注意力 › 计算"}]}, titles, "zh")
    assert "《学习笔记：注意力》" in md and "注意力 › 计算" in md and "001.txt" in md and "引用来源" in md
    assert "Study notes: attention" in source_label({"source": "001.txt", "heading": ""}, titles, "en")
    hostile = source_label({"source": f"{XSS}.txt", "heading": XSS}, {}, "zh")
    assert "<img" not in hostile


def test_artifact_tables():
    att = {"tool": "attention", "result": {"mode": "single-head", "weights": [[0.6, 0.4], [0.3, 0.7]], "tokens_q": None, "tokens_k": None}}
    t = artifact_table(att, "en")
    assert "| q0 | 0.6 | 0.4 |" in t and "Attention weights" in t
    mk = {"tool": "mask", "result": {"replacements": [{"position": 3, "original": "<b>", "became": "[MASK]", "action": "mask"}]}}
    t = artifact_table(mk, "zh")
    assert "&lt;b&gt;" in t and r"\[MASK\]" in t


def test_httpx_available_for_server_tests():
    assert httpx.__version__


def test_every_agent_tool_has_a_readable_step_title():
    """The UI names each tool a step can call (gpt_attention and code showed their raw names)."""
    from tutor.agent.prompt import TOOL_NAMES
    from ui.render import TOOL_NAMES as LABELS

    assert set(TOOL_NAMES) <= set(LABELS)
    assert "助教自己的代码" in step_title(1, {"tool": "code"}, "zh") and "the tutor's own code" in step_title(1, {"tool": "code"}, "en")
