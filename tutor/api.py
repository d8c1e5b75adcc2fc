"""`Tutor`: the one Python entry point the CLI, the web service and the evaluation share.

It loads the knowledge base, the demo tools and (when present) the tutor GPT once per process, keeps
conversation sessions, and answers a question as an `AskResult` — or as a stream of `StreamEvent`s.
Every failure becomes a readable reply (kind="error"), never an exception escaping to the student.

The answering engine is chosen per turn: the ReAct agent driven by the tutor GPT when it is
available, otherwise (or when the agent fails) the deterministic path below — intent routing, the
demo tools, retrieval and an extractive, cited answer (`model_driven=False`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Iterator

from tutor.config import Settings, get_settings
from tutor.extractive import EXTRACTIVE_LABELS, UNCOVERED_NOTICE, aside_notice, definition_subject, uncovered_subject
from tutor.glossary import with_key_terms
from tutor.agent.prompt import ANSWER_LEADS, CHOSEN_TOOLS, DEMO_THOUGHT, FIXED_REPLIES, REFUSAL_INJECTION, TOOL_NAMES
from tutor.intent import (DEMO_KINDS, Intent, asks_more, classify, is_course_related, resolve_followup, rewrite_demo_option, rewrite_ellipsis,
                          rewrite_code_request, rewrite_demo_why, rewrite_setting, rewrite_slot, split_aside, subject_of, subject_terms, topic_of)
from tutor.ordinals import rewrite_ordinal
from tutor.schema import AskResult, Source, Step, StreamEvent
from tutor.sessions import SessionStore, Turn
from tutor.spelling import correct_terms, correction_notice

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000


class Tutor:
    """Load once, ask many times. Thread-safe for concurrent questions in different sessions."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        sessions: SessionStore | None = None,
        engine: str = "agent",
        checkpoint: str | None = None,
    ):
        """`engine`: "agent" (the tutor GPT's ReAct loop; falls back per turn) or "extractive" (no GPT).
        `checkpoint` overrides settings.model_checkpoint (e.g. the un-fine-tuned base, for baselines)."""
        self.settings = settings or get_settings()
        from tutor.service import get_retriever

        if engine not in ("agent", "extractive"):
            raise ValueError(f"unknown engine '{engine}'; expected agent or extractive")
        self.retriever = get_retriever(self.settings)
        self.sessions = sessions or SessionStore()
        self._lock = threading.Lock()
        self.agent = None
        self.model_name = "extractive-fallback"
        if engine == "agent":
            self._load_agent(checkpoint or self.settings.model_checkpoint)

    def _load_agent(self, path) -> None:
        from pathlib import Path

        from models.checkpoint import CheckpointError, load_card
        from models.generate import Generator
        from tutor.agent.executor import TutorAgent

        try:
            try:
                generator = Generator.from_checkpoint(Path(path), quantize=self.settings.model_quantize)
            except RuntimeError as e:  # int8 kernels missing in this PyTorch build: run the float model
                if isinstance(e, CheckpointError):
                    raise
                log.warning("%s; loading the tutor GPT in float32", e)
                generator = Generator.from_checkpoint(Path(path), quantize="none")
        except CheckpointError as e:
            log.warning("no tutor GPT (%s); answering with the extractive fallback", e)
            return
        self.agent = TutorAgent(generator, self.retriever, min_answer_blocks=self.settings.answer_min_blocks)
        self.model_name = load_card(path).get("name", Path(path).name)

    # ---- public API -------------------------------------------------------------------------
    def ask(self, question: str, session_id: str | None = None) -> AskResult:
        final: AskResult | None = None
        for ev in self.stream(question, session_id):
            if ev.type == "final":
                final = AskResult.model_validate(ev.data)
        assert final is not None
        return final

    def stream(self, question: str, session_id: str | None = None) -> Iterator[StreamEvent]:
        """Yield `step` events as the tutor works, `token` events for the answer, then `final`."""
        t0 = time.perf_counter()
        session = self.sessions.get(session_id)
        reading = None
        try:
            problem = self._validate(question)
            if problem:
                result = AskResult(answer=problem, kind="error")
                steps: list[Step] = []
            else:
                question = question.strip()
                steps = []
                result = None
                # "什么是 tranformer？" is read as "什么是 Transformer？" (tutor.spelling), and the answer says so
                corrected, fixes = correct_terms(question, self.retriever.mentions)
                reading = _read(corrected, session)
                for item in self._answer(reading, session):
                    if isinstance(item, Step):
                        steps.append(item)
                        yield StreamEvent(type="step", data=_step_event(item))
                    elif isinstance(item, StreamEvent):
                        if item.type == "step":
                            steps.append(Step.model_validate(item.data))
                        yield item
                    else:
                        result = item
                assert result is not None
                result.steps = steps
                if result.kind == "concept" and reading.intent.language == "en":  # the notes are Chinese: name their terms in English
                    result.answer = with_key_terms(result.answer, [ANSWER_LEADS["concept_en"], EXTRACTIVE_LABELS["en"]])
                if result.kind == "concept" and result.sources:  # a term the notes never use: say so before the closest passages
                    subject = uncovered_subject(self.retriever, reading.resolved)
                    if subject:
                        notice = UNCOVERED_NOTICE.get(reading.intent.language, UNCOVERED_NOTICE["zh"])
                        result.answer = notice.format(subject=subject) + result.answer
                if reading.asides and result.kind in ("concept", "demo"):  # what else the message asked is named, not ignored
                    result.answer = aside_notice(list(reading.asides), reading.intent.language) + result.answer
                if fixes and result.kind in ("concept", "demo"):
                    result.answer = correction_notice(fixes, reading.intent.language) + result.answer
        except Exception as e:  # never let a stack trace reach the student
            log.exception("tutor failed on %r", question)
            result = AskResult(answer=f"抱歉，处理这个问题时出错了，请换个说法再试。/ Sorry, something went wrong ({type(e).__name__}).", kind="error")
        result.session_id = session.id
        result.latency_ms = round((time.perf_counter() - t0) * 1000, 1)
        for piece in _pieces(result.answer):
            yield StreamEvent(type="token", data={"text": piece})
        if result.kind != "error" or not self._validate(question):
            # the question as understood, so the next follow-up builds on it: an ellipsis ("那 GPT-3 呢？")
            # stored rewritten, a pronoun follow-up with its subject ("BERT 它的预训练任务有哪些？")
            resolved = (reading.resolved if reading else "") or question
            self.sessions.add_turn(session, Turn(question=question, answer=result.answer, resolved_question=resolved,
                                                 topic=turn_topic(resolved) or _last_topic(session)))
        yield StreamEvent(type="final", data=result.to_dict())

    def health(self) -> dict:
        from tutor import __version__

        return {"status": "ok", "version": __version__, "index_chunks": len(self.retriever), "model": self.model_name, "engine": "agent" if self.agent else "extractive"}

    # ---- internals --------------------------------------------------------------------------
    @staticmethod
    def _validate(question: str) -> str | None:
        if not isinstance(question, str) or not question.strip():
            return "问题是空的，请输入一个问题。/ The question is empty: please type a question."
        if len(question) > MAX_QUESTION_CHARS:
            return f"问题太长了（{len(question)} 字），上限是 {MAX_QUESTION_CHARS} 字。/ The question is too long ({len(question)} characters; the limit is {MAX_QUESTION_CHARS})."
        return None

    def _answer(self, reading: Reading, session) -> Iterator[Step | AskResult | StreamEvent]:
        if self.agent is not None:
            yield from self._agent_answer(reading, session)
            return
        yield from self._rule_answer(reading)

    def _agent_answer(self, reading: Reading, session) -> Iterator[Step | AskResult | StreamEvent]:
        """The tutor GPT drives; its result is checked, and replaced by the rule path when it fails."""
        from tutor.agent.guard import check_agent_answer, run_agent_streaming

        question, intent, topic, resolved = reading.focus, reading.intent, reading.topic, reading.resolved
        followup = resolved != question
        policy = "answer" if intent.kind == "injection" or intent.definite else ("act" if intent.kind != "offtopic" or followup else None)
        # a turn read as an injection, as surely off-topic or as only a greeting / thank-you gets that fixed reply only
        refusal = "injection" if intent.kind == "injection" else ((intent.social or "offtopic") if intent.definite else None)
        history = [(t.question, t.answer) for t in session.history(1)]
        # an ellipsis ("那 GPT-3 呢？") is put to the model as the question it stands for; other follow-ups
        # are put as asked, and the model's search opens with the conversation's topic
        topics = [topic] if topic and followup and not reading.ellipsis else []
        asked = reading.ellipsis or question
        # a follow-up ("它有什么缺点？") is judged as the question it resolves to
        judged = classify(resolved) if intent.kind == "offtopic" and followup else intent
        # a request for a tool the shipped model was not trained to choose (prompt.CHOSEN_TOOLS: code) gets
        # that tool from the start, as a retry names a tool
        tool = intent.kind if intent.kind in TOOL_NAMES and intent.kind not in CHOSEN_TOOLS else None
        for attempt in range(2):
            run = None
            for item in run_agent_streaming(self.agent, asked, history, policy, topics, intent.language, tool, refusal, reading.seen):
                if isinstance(item, StreamEvent) and item.type == "token":
                    continue  # the answer is released only after the grounding check below
                if isinstance(item, (Step, StreamEvent)):
                    yield item
                else:
                    run = item
            verdict = check_agent_answer(run, judged, resolved)
            if verdict.ok:
                yield AskResult(answer=verdict.answer, sources=verdict.sources, kind=verdict.kind, model_driven=True)
                return
            if attempt or not verdict.retry_tool:
                break
            # the model called a tool this request cannot be answered with: one retry, that tool forced
            tool = verdict.retry_tool
            log.info("agent called the wrong tool (%s); retrying with %s", verdict.reason, tool)
            yield StreamEvent(type="step", data=Step(thought=f"模型选错了工具（{verdict.reason}），限定用 {tool} 重试一次。/ The model picked the wrong tool; retrying once with {tool}.").model_dump(mode="json"))
        log.info("agent answer rejected (%s); using the rule path", verdict.reason)
        fallback = "直接给出工具的结果" if intent.kind in DEMO_KINDS else "改用检索摘录"
        yield StreamEvent(type="step", data=Step(thought=f"模型的回答未通过检查（{verdict.reason}），{fallback}。/ The model's answer failed a check ({verdict.reason}); falling back.").model_dump(mode="json"))
        yield from self._rule_answer(reading)

    def _rule_answer(self, reading: Reading) -> Iterator[Step | AskResult]:
        question, intent, resolved = reading.focus, reading.intent, reading.resolved
        lang = intent.language
        if intent.kind == "injection":
            yield AskResult(answer=REFUSAL_INJECTION[lang], kind="refusal")
            return
        if intent.kind in DEMO_KINDS:  # as understood: "长度 6 呢？" after a length-4 mask is that mask of length 6
            yield from self._demo(intent.kind, resolved, lang)
            return
        if intent.kind == "offtopic" and resolved == question:
            yield AskResult(answer=FIXED_REPLIES[intent.social or "offtopic"][lang], kind="refusal")
            return
        yield from self._concept(resolved, lang, reading.seen)

    def _demo(self, kind: str, question: str, lang: str) -> Iterator[Step | AskResult]:
        from tutor.tools.code import run_code
        from tutor.tools.gpt_attention import run_gpt_attention
        from tutor.tools.langchain_tools import run_attention, run_mask, run_ngram

        generator = self.agent.generator if self.agent else None  # without the tutor GPT, gpt_attention says so
        run = {"attention": run_attention, "ngram": run_ngram, "mask": run_mask, "gpt_attention": lambda q: run_gpt_attention(generator, q),
               "code": run_code}[kind]
        text, artifact = run(question)
        step = Step(thought=DEMO_THOUGHT[kind], tool=kind, tool_input=question, observation=text, artifact=artifact)
        yield step
        yield AskResult(answer=text, kind="demo" if artifact.get("ok") else "error")

    def _concept(self, question: str, lang: str, seen: str = "") -> Iterator[Step | AskResult]:
        from kb.text import tokenize
        from tutor.extractive import answer_results, extractive_answer

        results = answer_results(self.retriever, question, self.settings.top_k, seen)
        obs = "\n".join(f"{r.citation} {r.text[:200]}" for r in results[:3]) or "（没有找到 / nothing found）"
        yield Step(thought="先在课程笔记里检索相关内容。", tool="search_notes", tool_input=question, observation=obs)
        answer, cited = extractive_answer(question, results, lang, idf=self.retriever.idf(tokenize(question)))
        yield AskResult(answer=answer, sources=[Source(source=r.source, heading=r.heading) for r in cited], kind="concept")


def _step_event(step: Step) -> dict:
    data = step.model_dump(mode="json")
    if step.artifact is not None:
        data["artifact"] = step.artifact
    return data


@dataclass(frozen=True)
class Reading:
    """How one turn's question is understood, worked out once: its intent, the conversation's topic (every
    course term of the previous question, e.g. 'GPT-3 in-context learning'),
    the question a short follow-up stands for (`ellipsis`, '' when it is none: "那 GPT-3 呢？" → "GPT-3
    有多少参数？", "长度 6 呢？" after a length-4 mask → the same request with length 6, "第二个任务具体是什么？"
    after an answer listing BERT's tasks → "BERT 下一句预测（NSP）任务具体是什么？") and the resolved,
    self-contained question."""

    question: str
    intent: Intent
    topic: str
    ellipsis: str
    resolved: str
    # the question without what it asks besides the course ("What is BERT? Also, what's the weather?" →
    # "What is BERT?"), and those asides, named at the top of the answer (intent.split_aside)
    focus: str = ""
    asides: tuple[str, ...] = ()
    # a request for more ("还有呢？") of the previous concept question: what its answers already quoted
    seen: str = ""


def _read(message: str, session) -> Reading:
    intent = classify(message)
    question, asides = split_aside(message) if intent.kind == "concept" else (message, [])
    topic = _last_topic(session)
    last = _last_question(session)
    demo = classify(last).kind if last else ""
    demo = demo if demo in DEMO_KINDS else ""
    ellipsis = "" if intent.definite else rewrite_ellipsis(question, last, topic)
    seen = ""
    if asks_more(question):
        if last and classify(last).kind == "concept":
            # "还有呢？" asks the previous question again, for what its answers have not quoted yet
            ellipsis = last
            seen = "\n".join(t.answer for t in session.turns if (t.resolved_question or t.question) == last)
        elif last and (topic or topic_of(last)):  # after a demo or a code listing: its topic, from the notes
            ellipsis = topic or topic_of(last)
            demo = ""
        else:  # nothing to go on ("Tell me more" opening a conversation): the reply that says what the tutor covers
            intent = Intent("offtopic", intent.language, definite=True, social="greeting")
    if demo and ellipsis and classify(ellipsis).kind != demo:
        ellipsis = ""  # "加上因果掩码呢" put in place of an attention request's topic asks for neither demo
    option = ""
    if not ellipsis and not intent.definite and last:
        if demo == "code":  # "那 softmax 呢？" after a request for the causal mask's code
            ellipsis = rewrite_code_request(question, last)
        elif demo:  # "长度 6 呢？" after a length-4 mask demo; "那用加一平滑呢？" after a bigram request
            ellipsis = (rewrite_setting(question, last) or (option := rewrite_demo_option(question, last, demo))
                        or (option := rewrite_demo_why(question, last, demo)))
        else:  # "第二个任务具体是什么？" after an answer listing BERT's two pre-training tasks
            ellipsis = rewrite_ordinal(question, session.history(1)[-1].answer, topic) or rewrite_slot(question, last)
    # a follow-up is resolved against everything the previous question was about ("GPT-3 in-context learning")
    terms = subject_terms(last) if topic and topic.lower() in last.lower() else []
    subject = topic if all(t.lower() in topic.lower() for t in terms) else subject_of(last)
    resolved = ellipsis or (question if intent.definite else resolve_followup(question, subject))
    if ellipsis and intent.kind != "injection":
        # "换成 trigram 呢？" after an n-gram demo is an n-gram demo request; the answer keeps the asker's language
        intent = Intent(demo, intent.language) if option else replace(classify(ellipsis), language=intent.language)
    return Reading(message, intent, subject, ellipsis, resolved, question, tuple(asides), seen)


def _last_question(session) -> str:
    """The previous question as it was understood (an ellipsis like '那 GPT-3 呢？' already rewritten)."""
    turns = session.history(1)
    return (turns[-1].resolved_question or turns[-1].question) if turns else ""


def turn_topic(question: str) -> str:
    """What a turn was about: the course term it names, or the term a 'what is X' question asks about when
    that says more ("什么是缩放点积注意力？" → 缩放点积注意力, "什么是困惑度？" → 困惑度)."""
    term = topic_of(question, extra=False)
    asked = definition_subject(question)
    compound = term and term.lower() in asked.lower() and not re.search(r"\s|的", asked)  # 缩放点积 + 注意力, not "ChatGPT 第一步"
    if asked and (compound if term else is_course_related(asked)) and len(asked) <= 16:
        return asked
    return term


def _last_topic(session) -> str:
    for t in reversed(session.history()):
        if t.topic:
            return t.topic
    return ""


def _pieces(text: str, size: int = 8) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]
