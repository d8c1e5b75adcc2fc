"""The Gradio app: a chat tab (streaming answers, the agent's steps as collapsible messages, demo
heatmaps/tables inline, citations, example questions, "new conversation", history per browser tab)
and a demos tab (attention, n-gram, BERT masking, the tutor GPT's own attention), Chinese first with
an English switch (also `?lang=en`)."""

from __future__ import annotations

import copy
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from typing import Iterator  # noqa: E402

import gradio as gr  # noqa: E402

from ui import demos  # noqa: E402
from ui.gpt_attention import GptAttention  # noqa: E402
from ui.i18n import EXAMPLES, Labels, tr  # noqa: E402
from ui.render import artifact_for, artifact_table, final_markdown, step_markdown, step_title  # noqa: E402
from ui.runtime import Runtime  # noqa: E402
from ui.security import RateLimiter, escape_html  # noqa: E402

CSS = """
.gradio-container {max-width: 1180px !important; width: 100% !important; min-width: 0 !important; margin: 0 auto !important;}
.gradio-container main, .gradio-container .tabs, .gradio-container .tabitem, .gradio-container .column,
.gradio-container .block {min-width: 0 !important;}
#topbar {align-items: center; gap: 8px; flex-wrap: nowrap;}
#topbar .prose h2 {margin: 0 0 2px 0;}
#topbar .prose p {margin: 0; color: var(--body-text-color-subdued);}
#lang {flex: 0 0 auto !important; min-width: 0 !important; width: auto !important;}
#lang .wrap {flex-wrap: nowrap;}
#ask-row {align-items: stretch; gap: 8px;}
#ask-row button {min-height: 42px;}
#chat .message-wrap, #chat .message, #chat .message-content {min-width: 0; max-width: 100%;}
#chat .message-row {min-width: 0; max-width: calc(100% - 40px) !important; box-sizing: border-box;}
#chat pre {max-width: 100%; overflow-x: auto; white-space: pre;}
#chat table {display: block; max-width: 100%; overflow-x: auto;}
#chat td, #chat th {white-space: nowrap;}
#chat img {max-width: 100%; height: auto;}
@media (max-width: 640px) {
  .gradio-container {padding: 6px !important;}
  #topbar .prose p {display: none;}
  #topbar .prose h2 {font-size: 1.25rem; white-space: nowrap;}
  #lang label {padding: 4px 8px !important;}
  #ask-row {flex-wrap: wrap;}
  #ask-row > :first-child {min-width: 100% !important;}
  #ask-row button {flex: 1 1 40% !important; min-width: 0 !important;}
  .stack-mobile {flex-direction: column !important;}
  .stack-mobile > * {width: 100% !important; min-width: 0 !important; flex: 1 1 auto !important;}
}
"""


def theme() -> gr.themes.Base:
    cjk = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
    mono = ["Noto Sans Mono CJK SC", "DejaVu Sans Mono", "ui-monospace", "monospace"]
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", font=cjk, font_mono=mono)


def _assistant(content, title: str | None = None, status: str | None = None) -> dict:
    msg: dict = {"role": "assistant", "content": content}
    if title:
        msg["metadata"] = {"title": title, **({"status": status} if status else {})}
    return msg


def chat_turn(rt: Runtime, question: str, history: list[dict], lang: str, session_id: str, client: str) -> Iterator[list[dict]]:
    """One exchange, as successive states of the message list: the question, then each step (and its
    heatmap/table) as it happens, then the answer streaming in, then the answer with its sources."""
    messages = list(history or [])
    if not (question or "").strip():
        return
    messages.append({"role": "user", "content": escape_html(question)})
    problem = rt.question_problem(question)
    if problem:
        messages.append(_assistant("⚠️ " + problem[2]))
        yield copy.deepcopy(messages)
        return
    wait = rt.limiter.check(client)
    if wait > 0:
        messages.append(_assistant("⚠️ " + RateLimiter.message(wait)))
        yield copy.deepcopy(messages)
        return
    pending = _assistant("", tr("thinking", lang), "pending")
    messages.append(pending)
    yield copy.deepcopy(messages)
    answer: dict | None = None
    text = ""
    n_steps = 0
    for ev in rt.tutor.stream(question, session_id):
        if ev.type == "step":
            n_steps += 1
            at = messages.index(pending) if pending in messages else len(messages)
            new = [_assistant(step_markdown(ev.data, lang), step_title(n_steps, ev.data, lang), "done")]
            art = artifact_for(ev.data)
            if art:
                if art.get("png_path"):
                    new.append(_assistant({"path": art["png_path"], "alt_text": f"{ev.data.get('tool')} heatmap"}))
                table = artifact_table(art, lang)
                if table:
                    new.append(_assistant(table))
            messages[at:at] = new
        elif ev.type == "token":
            if pending in messages:
                messages.remove(pending)
            text += ev.data.get("text", "")
            if answer is None:
                answer = _assistant("")
                messages.append(answer)
            answer["content"] = escape_html(text)
        elif ev.type == "final":
            if pending in messages:
                messages.remove(pending)
            if answer is None:
                answer = _assistant("")
                messages.append(answer)
            answer["content"] = final_markdown(ev.data, rt.titles, lang)
        elif ev.type == "error":
            if pending in messages:
                messages.remove(pending)
            messages.append(_assistant("⚠️ " + escape_html(str(ev.data.get("message", "")))))
        yield copy.deepcopy(messages)  # a snapshot per event: the UI diffs successive values


def build_blocks(rt: Runtime) -> gr.Blocks:
    L = Labels()
    gpt = GptAttention.from_tutor(rt.tutor, rt.settings)

    with gr.Blocks(title="课程助教 · Course tutor", analytics_enabled=False, fill_width=False) as app:
        with gr.Row(elem_id="topbar"):
            L(gr.Markdown(tr("header", "zh")), value="header")
            lang = gr.Radio([("中文", "zh"), ("English", "en")], value="zh", show_label=False, container=False, elem_id="lang", scale=0, min_width=0)
        messages = gr.State([])
        with gr.Tabs():
            with L(gr.Tab(tr("tab_chat", "zh"), id="chat-tab"), label="tab_chat"):
                chatbot = L(
                    gr.Chatbot(
                        value=[], elem_id="chat", height="62vh", min_height=320, show_label=False,
                        label=tr("chatbot", "zh"), placeholder=tr("placeholder_chat", "zh"),
                        sanitize_html=True, render_markdown=True, allow_tags=False, feedback_options=None,
                        buttons=["copy"], group_consecutive_messages=False,
                        latex_delimiters=[{"left": "$$", "right": "$$", "display": True}],
                    ),
                    label="chatbot", placeholder="placeholder_chat",
                )
                with gr.Row(elem_id="ask-row"):
                    question = L(
                        gr.Textbox(placeholder=tr("question", "zh"), show_label=False, lines=1, max_lines=6, scale=8,
                                   elem_id="question", autofocus=True, container=False),
                        placeholder="question",
                    )
                    send = L(gr.Button(tr("send", "zh"), variant="primary", scale=1, min_width=80, elem_id="send"), value="send")
                    new_chat = L(gr.Button(tr("new_chat", "zh"), variant="secondary", scale=1, min_width=180, elem_id="new-chat"), value="new_chat")
                examples = gr.Dataset(
                    components=[gr.Textbox(visible=False)], samples=[[q] for q in EXAMPLES["zh"]], type="index",
                    label=tr("examples", "zh"), samples_per_page=6, elem_id="examples", layout="gallery",
                )
            with L(gr.Tab(tr("tab_demos", "zh"), id="demos-tab"), label="tab_demos"):
                L(gr.Markdown(tr("demo_intro", "zh")), value="demo_intro")
                with gr.Tabs():
                    att_inputs, att_outputs, att_matrices = _attention_panel(L)
                    ng = _ngram_panel(L)
                    mk = _mask_panel(L)
                    gp = _gpt_panel(L, gpt)

        # ---- chat events ----------------------------------------------------------------------
        def respond(text: str, history: list[dict], lg: str, request: gr.Request):
            sid = _session_id(request)
            client = request.client.host if request is not None and request.client else "gradio"
            last = history
            for state in chat_turn(rt, text or "", history, lg, sid, client):
                last = state
                yield state, state, ""
            if last is history:
                yield history, history, text

        def reset(request: gr.Request):
            rt.tutor.sessions.reset(_session_id(request))
            return [], [], ""

        chat_io = dict(inputs=[question, messages, lang], outputs=[chatbot, messages, question],
                       concurrency_limit=rt.ui.max_concurrent_answers, concurrency_id="answer")
        question.submit(respond, api_name="chat", **chat_io)
        send.click(respond, api_visibility="private", **chat_io)
        new_chat.click(reset, None, [chatbot, messages, question], api_name="new_conversation")
        examples.click(lambda i, lg: EXAMPLES[lg][i], [examples, lang], question, api_visibility="private").then(
            respond, api_visibility="private", **chat_io
        )

        # ---- language --------------------------------------------------------------------------
        def switch(lg: str):
            return [*L.updates(lg), gr.Dataset(samples=[[q] for q in EXAMPLES[lg]], label=tr("examples", lg))]

        lang.change(switch, lang, [*L.components, examples], api_visibility="private", queue=False)

        def initial_lang(request: gr.Request):
            q = dict(request.query_params) if request is not None else {}
            return "en" if str(q.get("lang", "")).lower().startswith("en") else "zh"

        app.load(initial_lang, None, lang, api_visibility="private", queue=False)

        # ---- demos -----------------------------------------------------------------------------
        for comp in att_inputs[1:4]:
            comp.input(demos.attention_demo, att_inputs, att_outputs, api_visibility="private", trigger_mode="always_last")
        for comp in (att_inputs[0], att_inputs[4], att_inputs[5]):
            comp.change(demos.attention_demo, att_inputs, att_outputs, api_visibility="private", trigger_mode="always_last")
        att_inputs[6].submit(demos.attention_demo, att_inputs, att_outputs, api_name="attention_demo")
        att_inputs[0].change(lambda m: (gr.update(visible=m == "matrix"), gr.update(visible=m == "sentence")),
                             att_inputs[0], [att_matrices, att_inputs[6]], queue=False, api_visibility="private")
        app.load(demos.attention_demo, att_inputs, att_outputs, api_visibility="private")

        ng_in, ng_out, ng_btn, ng_k = ng
        ng_btn.click(demos.ngram_demo, ng_in, ng_out, api_name="ngram_demo")
        for comp in (ng_in[0], ng_in[1]):
            comp.submit(demos.ngram_demo, ng_in, ng_out, api_visibility="private")
        for comp in (ng_in[2], ng_in[3], ng_in[4]):
            comp.change(demos.ngram_demo, ng_in, ng_out, api_visibility="private", trigger_mode="always_last")
        ng_in[3].change(lambda s: gr.update(visible=s == "addk"), ng_in[3], ng_k, queue=False, api_visibility="private")

        mk_in, mk_out, mk_btn = mk
        mk_btn.click(demos.mask_demo, mk_in, mk_out, api_name="mask_demo")
        mk_in[0].submit(demos.mask_demo, mk_in, mk_out, api_visibility="private")
        for comp in mk_in[1:]:
            comp.change(demos.mask_demo, mk_in, mk_out, api_visibility="private", trigger_mode="always_last")

        gp_in, gp_out, gp_btn, gp_status = gp

        def gpt_run(sentence, layer, head):
            return demos.gpt_attention_demo(gpt, sentence, layer, head)

        gp_btn.click(gpt_run, gp_in, gp_out, api_name="gpt_attention_demo")
        gp_in[0].submit(gpt_run, gp_in, gp_out, api_visibility="private")

        def gpt_shape():
            shape = gpt.shape()
            if shape is None:
                return gr.update(), gr.update(), gpt.status()
            return gr.update(maximum=shape[0] - 1), gr.update(maximum=shape[1] - 1), gpt.status()

        app.load(gpt_shape, None, [gp_in[1], gp_in[2], gp_status], api_visibility="private", queue=False)
    app.queue(default_concurrency_limit=2, max_size=rt.ui.max_pending_requests)
    return app


def _session_id(request: gr.Request | None) -> str:
    h = getattr(request, "session_hash", None) if request is not None else None
    return f"web-{h}" if h else "web-anonymous"


def _attention_panel(L: Labels):
    with L(gr.Tab(tr("tab_att", "zh"), id="demo-attention"), label="tab_att"):
        mode = L(gr.Radio([("编辑 Q/K/V 矩阵 / edit Q, K, V", "matrix"), ("输入一句话 / a sentence", "sentence")], value="matrix",
                          label=tr("att_mode", "zh"), elem_id="att-mode"), label="att_mode")
        with gr.Row(equal_height=False, elem_classes=["stack-mobile"]) as matrices:
            q = gr.Dataframe(value=demos.DEFAULT_Q, headers=demos.dims(demos.DEFAULT_Q), type="array", datatype="number", interactive=True, label="Q", elem_id="att-q", min_width=200)
            k = gr.Dataframe(value=demos.DEFAULT_K, headers=demos.dims(demos.DEFAULT_K), type="array", datatype="number", interactive=True, label="K", elem_id="att-k", min_width=200)
            v = gr.Dataframe(value=demos.DEFAULT_V, headers=demos.dims(demos.DEFAULT_V), type="array", datatype="number", interactive=True, label="V", elem_id="att-v", min_width=200)
        sentence = L(gr.Textbox(value="我爱自然语言处理", label=tr("att_sentence", "zh"), visible=False, elem_id="att-sentence"), label="att_sentence")
        with gr.Row(elem_classes=["stack-mobile"]):
            causal = L(gr.Checkbox(value=False, label=tr("att_causal", "zh"), elem_id="att-causal"), label="att_causal")
            heads = L(gr.Slider(1, 4, value=1, step=1, label=tr("att_heads", "zh"), elem_id="att-heads"), label="att_heads")
        with gr.Row(equal_height=False, elem_classes=["stack-mobile"]):
            heat = L(gr.Image(label=tr("att_heat", "zh"), show_label=False, type="filepath", interactive=False, elem_id="att-heat", buttons=["download"], min_width=280),
                     label="att_heat")
            weights = L(gr.Dataframe(label=tr("att_weights", "zh"), interactive=False, elem_id="att-weights", min_width=280), label="att_weights")
        details = gr.Markdown(elem_id="att-details")
    return [mode, q, k, v, causal, heads, sentence], [heat, weights, details], matrices


def _ngram_panel(L: Labels):
    with L(gr.Tab(tr("tab_ngram", "zh"), id="demo-ngram"), label="tab_ngram"):
        with gr.Row(elem_classes=["stack-mobile"]):
            sentence = L(gr.Textbox(value="注意力机制很重要", label=tr("ng_sentence", "zh"), elem_id="ng-sentence"), label="ng_sentence")
            compare = L(gr.Textbox(value="机制注意力很重要", label=tr("ng_compare", "zh"), elem_id="ng-compare"), label="ng_compare")
        with gr.Row(elem_classes=["stack-mobile"]):
            n = L(gr.Slider(1, 5, value=2, step=1, label=tr("ng_n", "zh"), elem_id="ng-n"), label="ng_n")
            smoothing = L(gr.Radio([(a, b) for a, b in demos.SMOOTHINGS], value="kn", label=tr("ng_smoothing", "zh"), elem_id="ng-smoothing"),
                          label="ng_smoothing")
            k = L(gr.Number(value=1.0, minimum=0.0001, maximum=100, label=tr("ng_k", "zh"), visible=False, elem_id="ng-k"), label="ng_k")
        btn = L(gr.Button(tr("run", "zh"), variant="primary", elem_id="ng-run"), value="run")
        summary = gr.Markdown(elem_id="ng-summary")
        table = L(gr.Dataframe(label=tr("ng_table", "zh"), interactive=False, elem_id="ng-table", wrap=True), label="ng_table")
    return [sentence, compare, n, smoothing, k], [summary, table], btn, k


def _mask_panel(L: Labels):
    with L(gr.Tab(tr("tab_mask", "zh"), id="demo-mask"), label="tab_mask"):
        sentence = L(gr.Textbox(value="注意力机制是 Transformer 的核心", label=tr("mk_sentence", "zh"), elem_id="mk-sentence"), label="mk_sentence")
        with gr.Row(elem_classes=["stack-mobile"]):
            seed = L(gr.Number(value=1, precision=0, minimum=0, maximum=2**31 - 1, label=tr("mk_seed", "zh"), elem_id="mk-seed"), label="mk_seed")
            rate = L(gr.Slider(0.05, 0.5, value=0.15, step=0.05, label=tr("mk_rate", "zh"), elem_id="mk-rate"), label="mk_rate")
        btn = L(gr.Button(tr("run", "zh"), variant="primary", elem_id="mk-run"), value="run")
        summary = gr.Markdown(elem_id="mk-summary")
        table = L(gr.Dataframe(label=tr("mk_table", "zh"), interactive=False, elem_id="mk-table"), label="mk_table")
    return [sentence, seed, rate], [summary, table], btn


def _gpt_panel(L: Labels, gpt: GptAttention):
    with L(gr.Tab(tr("tab_gpt", "zh"), id="demo-gpt"), label="tab_gpt"):
        status = gr.Markdown(gpt.status(), elem_id="gpt-status")
        sentence = L(gr.Textbox(value="注意力机制让模型关注重要的词", label=tr("gpt_sentence", "zh"), elem_id="gpt-sentence"), label="gpt_sentence")
        with gr.Row(elem_classes=["stack-mobile"]):
            layer = L(gr.Slider(0, 11, value=0, step=1, label=tr("gpt_layer", "zh"), elem_id="gpt-layer"), label="gpt_layer")
            head = L(gr.Slider(0, 11, value=0, step=1, label=tr("gpt_head", "zh"), elem_id="gpt-head"), label="gpt_head")
        btn = L(gr.Button(tr("run", "zh"), variant="primary", elem_id="gpt-run"), value="run")
        heat = L(gr.Image(label=tr("gpt_heat", "zh"), show_label=False, type="filepath", interactive=False, elem_id="gpt-heat"), label="gpt_heat")
        note = gr.Markdown(elem_id="gpt-note")
    return [sentence, layer, head], [heat, note], btn, status
