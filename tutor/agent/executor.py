"""The agent loop: LangChain's AgentExecutor (langchain-classic) running the tutor GPT over the tools.

`TutorAgent.run(question, history, on_event)` executes one bounded ReAct turn — at most
`max_iterations` steps and `max_seconds` of wall time, a malformed step answered with a format
reminder (so the model retries once before the step budget runs out) — and reports every finished step
and every answer token through `on_event` as it happens (LangChain callbacks).
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from langchain_classic.agents import AgentExecutor
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, ChatMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from models.tokenizer import ANSWER
from tutor.agent.chat_model import TutorGPTChat, copy_context, turn_policy, turn_tool
from tutor.agent.parser import MALFORMED_OBSERVATION, TutorStepParser, split_step
from tutor.agent.prompt import CHOSEN_TOOLS, SYSTEM_PROMPT, TOOL_NAMES, answer_copy_texts, history_messages
from tutor.agent.search_tool import search_evidence, seen_text
from tutor.intent import language_of, topic_of

_artifacts: contextvars.ContextVar[list | None] = contextvars.ContextVar("tutor_tool_artifacts", default=None)

EventFn = Callable[[str, dict], None]


class QueryInput(BaseModel):
    query: str = Field(description="工具输入 / the tool input")


def _tool(name: str, description: str, fn: Callable[[str], tuple[str, dict]]) -> StructuredTool:
    def run(query: str) -> str:
        text, artifact = fn(query)
        sink = _artifacts.get()
        if sink is not None:
            sink.append((name, artifact))
        return text

    return StructuredTool.from_function(func=run, name=name, description=description, args_schema=QueryInput)


def build_tools(retriever, generator) -> list[StructuredTool]:
    from tutor.tools.code import run_code
    from tutor.tools.gpt_attention import run_gpt_attention
    from tutor.tools.langchain_tools import run_attention, run_mask, run_ngram

    return [
        _tool("search_notes", "检索课程笔记 / search the course notes", lambda q: search_evidence(retriever, q)),
        _tool("attention", "计算缩放点积注意力 / scaled dot-product attention on given Q, K, V", lambda q: run_attention(q)),
        _tool("ngram", "n-gram 语言模型打分 / score a sentence with an n-gram LM", lambda q: run_ngram(q)),
        _tool("mask", "因果/填充掩码与 BERT 掩码演示 / causal, padding and BERT MLM masking", lambda q: run_mask(q)),
        _tool("gpt_attention", "助教模型自己的注意力图 / the tutor GPT's own attention map", lambda q: run_gpt_attention(generator, q)),
        _tool("code", "助教自己的实现代码 / the tutor's own code for a topic (softmax, attention, masks, n-gram…)", run_code),
    ]


def _scratchpad(steps) -> list:
    msgs: list = []
    for action, observation in steps:
        msgs.append(AIMessage(content=action.log))
        msgs.append(ChatMessage(role="observation", content=str(observation)))
    return msgs


class _Events(BaseCallbackHandler):
    """Turns LangChain callbacks into tutor events: `step` when a tool returns, `token` for answer text."""

    def __init__(self, on_event: EventFn | None):
        self.on_event = on_event
        self.buffer = ""
        self.sent = 0
        self.pending_action = None

    def on_llm_start(self, *args: Any, **kwargs: Any) -> None:
        self.buffer, self.sent = "", 0

    on_chat_model_start = on_llm_start

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.buffer += token
        if self.on_event is None or ANSWER not in self.buffer:
            return
        answer = self.buffer.split(ANSWER, 1)[1]
        if len(answer) > self.sent:
            self.on_event("token", {"text": answer[self.sent :]})
            self.sent = len(answer)

    def on_agent_action(self, action, **kwargs: Any) -> None:
        self.pending_action = action

    def on_tool_end(self, output: Any, **kwargs: Any) -> None:
        a = self.pending_action
        if a is None or self.on_event is None or a.tool == "_Exception":
            return
        thought, tool, tool_input, _ = split_step(a.log)
        self.on_event("step", {"thought": thought, "tool": a.tool, "tool_input": (a.tool_input or {}).get("query", "") if isinstance(a.tool_input, dict) else str(a.tool_input), "observation": str(output)})
        self.pending_action = None


@dataclass
class AgentRun:
    answer: str | None
    thought: str = ""
    steps: list[dict] = field(default_factory=list)  # {thought, tool, tool_input, observation, artifact}
    malformed: int = 0
    stopped: str = ""  # "" | "iterations" | "time"
    seconds: float = 0.0


class TutorAgent:
    def __init__(self, generator, retriever, *, max_iterations: int = 4, max_seconds: float = 20.0, max_new_tokens: int = 400,
                 min_answer_blocks: int = 0):
        self.generator = generator
        # the model chooses among the tools it was fine-tuned on; another (code) is only ever forced (turn_tool)
        self.llm = TutorGPTChat(generator, tool_names=list(CHOSEN_TOOLS), max_new_tokens=max_new_tokens,
                                min_answer_blocks=min_answer_blocks)
        self.tools = build_tools(retriever, generator)
        prompt = ChatPromptTemplate.from_messages(
            [SystemMessage(content=SYSTEM_PROMPT), MessagesPlaceholder("history"), ("human", "{input}"), MessagesPlaceholder("agent_scratchpad")]
        )
        agent = (
            RunnablePassthrough.assign(agent_scratchpad=RunnableLambda(lambda x: _scratchpad(x["intermediate_steps"])))
            | prompt
            | self.llm
            | RunnableLambda(lambda m: m.content)
            | TutorStepParser()
        )
        self.executor = AgentExecutor(
            agent=agent,
            tools=self.tools,
            max_iterations=max_iterations,
            max_execution_time=max_seconds,
            early_stopping_method="force",
            handle_parsing_errors=lambda e: MALFORMED_OBSERVATION,
            return_intermediate_steps=True,
        )

    def run(
        self,
        question: str,
        history: list[tuple[str, str]] | None = None,
        on_event: EventFn | None = None,
        policy: str | None = None,
        topics: list[str] | None = None,
        language: str | None = None,
        tool: str | None = None,
        refusal: str | None = None,
        seen: str = "",
    ) -> AgentRun:
        """One bounded ReAct turn. `policy` ("act" | "answer" | None) constrains the first step and
        `topics` (the conversation's subject) open the tool input — see chat_model. `language` ("zh" |
        "en") of the answer's lead and refusals; by default the question's. `tool`: the one tool the
        first step may call (a retry after the model called one the request cannot use). `refusal`
        ("injection" | "offtopic" | "greeting" | "thanks"): the only fixed reply the turn may give, copied
        whole, with its thought (prompt.answer_copy_texts, prompt.thought_texts). `seen`: what earlier answers
        to this question quoted ("还有呢？" asks it again): the search leaves those notes out."""
        if tool is not None and tool not in TOOL_NAMES:
            raise ValueError(f"unknown tool '{tool}'; expected one of {', '.join(TOOL_NAMES)}")
        t0 = time.perf_counter()
        sink: list = []
        token = _artifacts.set(sink)
        policy_token = turn_policy.set("act" if tool else policy)
        tool_token = turn_tool.set(tool)
        seen_token = seen_text.set(seen)
        language = language or language_of(question)
        copy_token = copy_context.set({"topics": [f"{t} " for t in (topics or [])], **answer_copy_texts(language, refusal), "refusal": refusal,
                                       "thought_topics": [t for t in dict.fromkeys([*(topics or []), topic_of(question, extra=False)]) if t],
                                       "language": language})
        try:
            out = self.executor.invoke(
                {"input": question, "history": history_messages(history or [])},
                config={"callbacks": [_Events(on_event)]},
            )
        finally:
            _artifacts.reset(token)
            turn_policy.reset(policy_token)
            turn_tool.reset(tool_token)
            seen_text.reset(seen_token)
            copy_context.reset(copy_token)
        steps, malformed, art_i = [], 0, 0
        for action, observation in out.get("intermediate_steps", []):
            if action.tool == "_Exception":
                malformed += 1
                continue
            thought, _, tool_input, _ = split_step(action.log)
            artifact = None
            if art_i < len(sink) and sink[art_i][0] == action.tool:
                artifact = sink[art_i][1]
                art_i += 1
            steps.append({"thought": thought, "tool": action.tool, "tool_input": tool_input or "", "observation": str(observation), "artifact": artifact})
        output = out.get("output", "")
        stopped = ""
        if isinstance(output, str) and output.startswith("Agent stopped"):
            stopped, output = "iterations_or_time", None
        return AgentRun(answer=output or None, thought=out.get("thought", ""), steps=steps, malformed=malformed, stopped=stopped, seconds=time.perf_counter() - t0)
