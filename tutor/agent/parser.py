"""Parse one generated assistant step into a LangChain `AgentAction` (tool call) or `AgentFinish`."""

from __future__ import annotations

from langchain_classic.agents.agent import AgentOutputParser
from langchain_core.agents import AgentAction, AgentFinish
from langchain_core.exceptions import OutputParserException

from models.tokenizer import ACTION, ACTION_INPUT, ANSWER, THOUGHT
from tutor.agent.prompt import TOOL_NAMES

MALFORMED_OBSERVATION = (
    "格式有误：请按 <|thought|>思考<|action|>工具名<|action_input|>输入 或 <|thought|>思考<|answer|>回答 的格式重写。"
)


def split_step(text: str) -> tuple[str, str | None, str | None, str | None]:
    """(thought, tool, tool_input, answer) of one step; missing parts are None."""
    body = text.split(THOUGHT, 1)[1] if THOUGHT in text else text
    if ANSWER in body:
        thought, answer = body.split(ANSWER, 1)
        return thought.strip(), None, None, answer.strip()
    if ACTION in body:
        thought, rest = body.split(ACTION, 1)
        if ACTION_INPUT in rest:
            tool, tool_input = rest.split(ACTION_INPUT, 1)
            return thought.strip(), tool.strip(), tool_input.strip(), None
        return thought.strip(), rest.strip(), None, None
    return body.strip(), None, None, None


class TutorStepParser(AgentOutputParser):
    def parse(self, text: str) -> AgentAction | AgentFinish:
        thought, tool, tool_input, answer = split_step(text)
        if answer is not None:
            if not answer:
                raise OutputParserException("empty answer", observation=MALFORMED_OBSERVATION, llm_output=text, send_to_llm=True)
            return AgentFinish({"output": answer, "thought": thought}, text)
        if tool is None or tool not in TOOL_NAMES or tool_input is None:
            raise OutputParserException(f"malformed step: {text[:200]!r}", observation=MALFORMED_OBSERVATION, llm_output=text, send_to_llm=True)
        return AgentAction(tool=tool, tool_input={"query": tool_input}, log=text)

    @property
    def _type(self) -> str:
        return "tutor-react"
