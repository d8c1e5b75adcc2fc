"""Real-browser tests (Playwright + Debian's Chromium, offline): the chat at desktop and phone widths,
the demos tab, the language switch, the widget embedded in a page served from another port, XSS
payloads rendering as text in both, and the widget refused on an origin that is not allowed.
Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import pytest

from tests.test_ui_support import (
    XSS_IMG, XSS_SCRIPT, ScriptedTutor, StaticPageServer, ThreadServer, free_port, ingested_settings,
    launch_browser, shared_server, shot,
)

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
HOSTILE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>课程网站 Course site</title>
<style>* {{ color: #c00 !important; font-family: serif !important; }} button {{ display: none !important; }}
iframe {{ border: 8px dashed red !important; width: 10px !important; }} div {{ position: static !important; }}</style>
</head><body><h1>大模型基础 · 第三讲</h1><p>这是一个课程网站，它的 CSS 很不友好。</p><a href="#top">页首</a>
<script>window.hostPageValue = 42;</script>
<script src="{widget}/widget.js" data-title="课程助教" async></script></body></html>"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server():
    return shared_server()


@pytest.fixture(scope="module")
def course_site(server):
    site = StaticPageServer(HOSTILE_PAGE.format(widget=server.url))
    yield site
    site.stop()


@pytest.fixture(scope="module")
def xss_setup():
    """A server whose tutor answers with XSS payloads; it allows only the 127.0.0.1 course page."""
    from ui.app import create_app
    from ui.runtime import Runtime
    from ui.settings import UISettings

    port = free_port()
    site = StaticPageServer(HOSTILE_PAGE.format(widget=f"http://127.0.0.1:{port}"))
    rt = Runtime(tutor=ScriptedTutor(ingested_settings()), ui=UISettings(allowed_origins=[f"http://127.0.0.1:{site.port}"]), warm_up=False)
    srv = ThreadServer(create_app(runtime=rt), port=port)
    yield srv, site
    srv.stop()
    site.stop()


def new_page(browser, viewport):
    ctx = browser.new_context(viewport=viewport, locale="zh-CN")
    page = ctx.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    return ctx, page


def wait_text(page, selector: str, text: str, timeout: float = 30000) -> None:
    page.wait_for_function("([s, t]) => [...document.querySelectorAll(s)].some(e => e.innerText.includes(t))",
                           arg=[selector, text], timeout=timeout)


def ask_in_chat(page, question: str) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")


def test_chat_desktop_steps_answer_citation(browser, server):
    ctx, page = new_page(browser, DESKTOP)
    page.goto(server.url + "/")
    page.wait_for_selector("#chat")
    shot(page, "chat-empty-1280")
    ask_in_chat(page, "什么是 BERT？")
    page.locator("#chat").get_by_text("引用来源").wait_for(timeout=30000)
    step = page.locator("#chat .thought-group .title").first
    assert "步骤 1" in step.inner_text() and "search_notes" in step.inner_text()
    step.click()
    page.locator("#chat").get_by_text("观察").first.wait_for()
    chat = page.locator("#chat").inner_text()
    assert "什么是 BERT？" in chat and "《" in chat and "›" in chat
    ask_in_chat(page, "Q=[[1,0],[0,1]]，K=[[1,0],[0,1]]，V=[[1,2],[3,4]]，算一下注意力")
    page.locator("#chat img").first.wait_for(timeout=30000)
    page.locator("#chat").get_by_text("注意力权重").first.wait_for()
    shot(page, "chat-answer-1280")
    page.locator("#new-chat").click()
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('引用来源')")
    assert page.dialogs == []
    ctx.close()


def test_chat_phone_width_has_no_horizontal_overflow(browser, server):
    ctx, page = new_page(browser, PHONE)
    page.goto(server.url + "/")
    page.wait_for_selector("#chat")
    shot(page, "chat-empty-390")
    ask_in_chat(page, "用二元模型和 KN 平滑给 “注意力机制很重要” 打分")
    page.locator("#chat table").first.wait_for(timeout=30000)
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    assert page.locator("#send").is_visible() and page.locator("#new-chat").is_visible()
    shot(page, "chat-answer-390")
    ctx.close()


def test_demos_tab_updates_live(browser, server):
    ctx, page = new_page(browser, DESKTOP)
    page.goto(server.url + "/")
    page.get_by_role("tab", name="🧪 演示").click()
    wait_text(page, "#att-weights", "0.4711")
    page.locator("#att-causal input").check()
    wait_text(page, "#att-weights", "0.6405")  # causal: q1 now splits its attention between k0 and k1 only
    assert "因果" in page.locator("#att-details").inner_text()
    assert page.locator("#att-heat img").count() == 1
    shot(page, "demos-attention-1280")
    page.get_by_role("tab", name="n-gram 打分").click()
    page.locator("#ng-run").click()
    wait_text(page, "#ng-table", "机制注意力很重要", 60000)
    shot(page, "demos-ngram-1280")
    page.get_by_role("tab", name="BERT 掩码").click()
    page.locator("#mk-run").click()
    wait_text(page, "#mk-table", "[MASK]")
    page.get_by_role("tab", name="助教 GPT 的注意力").click()
    page.locator("#gpt-run").click()
    wait_text(page, "#gpt-note", "layer", 60000)
    page.wait_for_timeout(800)
    shot(page, "demos-gpt-1280")
    ctx.close()
    ctx, page = new_page(browser, PHONE)
    page.goto(server.url + "/")
    page.get_by_role("tab", name="🧪 演示").click()
    wait_text(page, "#att-weights", "0.4711")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    shot(page, "demos-attention-390")
    ctx.close()


def test_language_switch(browser, server):
    ctx, page = new_page(browser, DESKTOP)
    page.goto(server.url + "/")
    page.wait_for_selector("#chat")
    page.get_by_text("English", exact=True).click()
    page.get_by_role("heading", name="🎓 Course tutor").wait_for()
    assert page.locator("#send").inner_text().strip() == "Send"
    page.get_by_role("tab", name="🧪 Demos").wait_for()
    page.goto(server.url + "/?lang=en")
    page.get_by_role("heading", name="🎓 Course tutor").wait_for()
    shot(page, "chat-english-1280")
    ctx.close()


# Which element inside the widget's shadow root holds the focus (the page only sees the host <div>).
WIDGET_FOCUS_ON = """tag => {
  const host = document.activeElement;
  return !!(host && host.hasAttribute('data-course-tutor-widget') && host.shadowRoot.activeElement
            && host.shadowRoot.activeElement.tagName === tag);
}"""


def _open_widget_with_keyboard(page) -> None:
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.hasAttribute('data-course-tutor-widget')"):
            break
    else:
        raise AssertionError("the widget button is not reachable with Tab")
    page.keyboard.press("Enter")


def test_widget_on_another_site(browser, server, course_site):
    from playwright.sync_api import expect

    ctx, page = new_page(browser, DESKTOP)
    page.goto(f"http://127.0.0.1:{course_site.port}/")
    button = page.get_by_role("button", name="打开课程助教")
    button.wait_for()
    assert button.is_visible()  # the page's `button {display:none}` cannot reach it
    _open_widget_with_keyboard(page)
    frame = page.frame_locator("iframe[title='课程助教']")
    frame.locator("#q").wait_for()
    page.wait_for_function(WIDGET_FOCUS_ON, arg="IFRAME")  # focus moved into the chat
    frame.locator("#q").fill("什么是自注意力？")
    frame.locator("#q").press("Enter")
    frame.locator(".sources li").first.wait_for(timeout=30000)
    answer = frame.locator(".msg.bot").last.inner_text()
    assert "引用来源" in answer and "《" in answer
    assert page.evaluate("window.hostPageValue") == 42
    shot(page, "widget-1280")
    frame.locator("#q").press("Escape")
    # The close request travels from the frame by postMessage: wait for its effect, not for a focus state
    # that already held while the frame was open (the widget's host element is the activeElement both times).
    page.wait_for_function(WIDGET_FOCUS_ON, arg="BUTTON")  # focus is back on the launcher button
    expect(page.locator("iframe[title='课程助教']")).to_be_hidden()
    ctx.close()

    ctx, page = new_page(browser, PHONE)
    page.goto(f"http://127.0.0.1:{course_site.port}/")
    page.get_by_role("button", name="打开课程助教").click()
    frame = page.frame_locator("iframe[title='课程助教']")
    frame.locator("#q").fill("BERT 和 GPT 有什么区别？")
    frame.locator("#send").click()
    frame.locator(".sources li").first.wait_for(timeout=30000)
    box = page.locator("iframe[title='课程助教']").bounding_box()
    assert box["width"] >= PHONE["width"] - 1 and box["height"] >= PHONE["height"] - 1  # full screen on a phone
    shot(page, "widget-390")
    frame.locator("#close").click()
    page.get_by_role("button", name="打开课程助教").wait_for()
    ctx.close()


def test_xss_renders_as_text_in_chat_and_widget(browser, xss_setup):
    srv, site = xss_setup
    ctx, page = new_page(browser, DESKTOP)
    page.goto(srv.url + "/")
    ask_in_chat(page, f"问题 {XSS_IMG}")
    page.locator("#chat").get_by_text("引用来源").wait_for(timeout=30000)
    page.locator("#chat .thought-group .title").first.click()
    page.wait_for_timeout(500)
    text = page.locator("#chat").inner_text()
    assert XSS_IMG in text and XSS_SCRIPT in text and f"{XSS_SCRIPT} heading" in text
    assert page.locator("#chat img[src='x'], #chat script").count() == 0
    shot(page, "xss-chat-1280")
    assert page.dialogs == []
    ctx.close()

    ctx, page = new_page(browser, DESKTOP)
    page.goto(f"http://127.0.0.1:{site.port}/")
    page.get_by_role("button", name="打开课程助教").click()
    frame = page.frame_locator("iframe[title='课程助教']")
    frame.locator("#q").fill(f"hi {XSS_SCRIPT}")
    frame.locator("#q").press("Enter")
    frame.locator(".sources li").first.wait_for(timeout=30000)
    bot = frame.locator(".msg.bot").last.inner_text()
    assert XSS_IMG in bot and XSS_SCRIPT in bot
    assert frame.locator("img, .msg script").count() == 0
    assert XSS_SCRIPT in frame.locator(".msg.user").last.inner_text()
    page.wait_for_timeout(300)
    shot(page, "xss-widget-1280")
    assert page.dialogs == []
    ctx.close()


def test_widget_and_api_refused_on_other_origins(browser, xss_setup):
    srv, site = xss_setup
    ctx, page = new_page(browser, DESKTOP)
    page.goto(f"http://localhost:{site.port}/")  # same page, but origin http://localhost:PORT is not allowed
    page.get_by_role("button", name="打开课程助教").click()
    page.wait_for_timeout(1500)
    frames = [f for f in page.frames if f != page.main_frame]
    assert frames and all(f.locator("#q").count() == 0 for f in frames)  # frame-ancestors blocked it
    blocked = page.evaluate(
        """async (u) => { try { await fetch(u + '/api/ask', {method: 'POST', headers: {'Content-Type': 'application/json'},
           body: JSON.stringify({question: 'hi'})}); return 'allowed'; } catch (e) { return 'blocked'; } }""", srv.url)
    assert blocked == "blocked"
    ctx.close()
    ctx, page = new_page(browser, DESKTOP)
    page.goto(f"http://127.0.0.1:{site.port}/")
    ok = page.evaluate(
        """async (u) => { const r = await fetch(u + '/api/ask', {method: 'POST', headers: {'Content-Type': 'application/json'},
           body: JSON.stringify({question: 'hi'})}); return r.status; }""", srv.url)
    assert ok == 200  # the allowed origin may call the API cross-origin
    ctx.close()
