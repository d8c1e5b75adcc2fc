"""Constrained decoding and step parsing: tool names are always real tools, tool inputs are copied
from the student's message, answers are quoted from the observations; malformed steps are caught."""

from __future__ import annotations

import pytest
from langchain_core.agents import AgentAction, AgentFinish
from langchain_core.exceptions import OutputParserException

from models.checkpoint import load_tokenizer
from models.tokenizer import ACTION, ACTION_INPUT, ANSWER, THOUGHT
from tutor.agent.chat_model import CopyConstraint, ToolNameConstraint
from tutor.agent.parser import TutorStepParser, split_step
from tutor.agent.prompt import TOOL_NAMES
from tutor.config import MODELS_PACKAGE_DIR


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(MODELS_PACKAGE_DIR / "checkpoints" / "agent")


def walk(constraint, ids):
    """Feed ids through the constraint; return the index of the first disallowed id or None."""
    for i in range(len(ids)):
        allowed = constraint(0, ids[:i])
        if allowed is not None and ids[i] not in allowed:
            return i
    return None


def test_step_must_start_with_thought_and_name_a_real_tool(tok):
    c = ToolNameConstraint(tok, TOOL_NAMES)
    assert c(0, []) == {tok.special_ids[THOUGHT]}
    prefix = tok.encode(f"{THOUGHT}检索一下{ACTION}")
    allowed = c(0, prefix)
    firsts = {tok.encode(n, allow_special=False)[0] for n in TOOL_NAMES}
    assert allowed == firsts
    good = tok.encode(f"{THOUGHT}想{ACTION}search_notes{ACTION_INPUT}")
    assert walk(c, good) is None
    bad = tok.encode(f"{THOUGHT}想{ACTION}calculator")
    assert walk(c, bad) is not None


def test_tool_input_is_a_whole_copy_of_the_question(tok):
    q = "帮我算一下注意力：Q=[[1,0],[2,1]]，K=[[1,0],[0,1]]，V=[[1],[2]]"
    src = tok.encode(q, allow_special=False)
    c = CopyConstraint(tok, [src], tok.eos_id, whole=True)
    typed: list[int] = []
    for t in src:  # repeated runs such as "=[[1,0]," must not trip the loop guard
        assert t in c.allowed(typed)
        typed.append(t)
    assert c.allowed(typed) >= {tok.eos_id}
    # a token that is not the continuation is refused
    assert tok.encode("9", allow_special=False)[0] not in c.allowed(src[:10])


def test_answer_copy_cannot_invent_numbers_and_stops_loops(tok):
    obs = tok.encode("q0   0.6698  0.3302\nq1   0.3302  0.6698\n", allow_special=False)
    c = CopyConstraint(tok, [obs], tok.eos_id)
    typed = tok.encode("q1   0.", allow_special=False)
    allowed = c.allowed(typed)
    assert allowed == {tok.encode("q1   0.3302", allow_special=False)[len(typed)]}
    looping = obs + obs + obs[:10]
    assert c.allowed(looping) == {tok.eos_id}


def test_policy_forbids_answering_before_acting(tok):
    act = ToolNameConstraint(tok, TOOL_NAMES, policy="act")
    refuse = ToolNameConstraint(tok, TOOL_NAMES, policy="answer")
    after_thought = tok.encode(f"{THOUGHT}想一想")
    assert tok.special_ids[ANSWER] not in act(0, after_thought)
    assert tok.special_ids[ACTION] not in refuse(0, after_thought)


def test_parser():
    p = TutorStepParser()
    a = p.parse(f"{THOUGHT}先检索{ACTION}search_notes{ACTION_INPUT}BERT 预训练")
    assert isinstance(a, AgentAction) and a.tool == "search_notes" and a.tool_input == {"query": "BERT 预训练"}
    f = p.parse(f"{THOUGHT}回答{ANSWER}答案 [x.txt]")
    assert isinstance(f, AgentFinish) and f.return_values["output"] == "答案 [x.txt]"
    for bad in ("随便说说", f"{THOUGHT}想{ACTION}rm -rf{ACTION_INPUT}/", f"{THOUGHT}想{ANSWER}   "):
        with pytest.raises(OutputParserException):
            p.parse(bad)
    assert split_step(f"{THOUGHT}t{ACTION}mask") == ("t", "mask", None, None)


def test_jump_forward_decoding_gives_the_same_tokens():
    from models.generate import Generator

    gen = Generator.from_checkpoint(MODELS_PACKAGE_DIR / "checkpoints" / "agent")
    tok = gen.tok
    obs = "注意力权重：q0 0.6698 0.3302；输出 q0 1.3302。"
    src = [tok.encode(obs, allow_special=False)]
    prompt = tok.encode(f"<|bos|><|user|>算注意力<|observation|>{obs}<|assistant|>{THOUGHT}回答{ANSWER}")

    def fn(row, ids):
        return CopyConstraint(tok, src, tok.eos_id).allowed(ids)

    plain = gen.generate(prompt, max_new_tokens=60, allowed_tokens_fn=fn)
    fast = gen.generate(prompt, max_new_tokens=60, allowed_tokens_fn=fn, jump_forward=True)
    assert fast.token_ids == plain.token_ids
    assert fast.text == plain.text and fast.text.strip()
