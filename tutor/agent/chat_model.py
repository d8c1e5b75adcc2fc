"""The tutor GPT as a LangChain chat model.

Messages map onto the GPT's chat template (system / user / assistant / observation turns, see
models.data); untrusted text (user questions, observations) can never produce special tokens. Generation
is constrained so a step always starts with <|thought|> and the name after <|action|> is always one
of the real tools (a token trie over the tool names). `_stream` yields text pieces as they are decoded,
so LangChain callbacks (`on_llm_new_token`) see the answer as it is written.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any, Iterator, Sequence

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ChatMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from models.data import ROLE_TOKENS, render_conversation
from models.tokenizer import ACTION, ACTION_INPUT, ANSWER, ASSISTANT, THOUGHT
from tutor.agent.parser import split_step
from tutor.agent.prompt import demo_lead, demo_result_start, thought_texts
from tutor.agent.search_tool import parse_evidence


def _role(m: BaseMessage) -> str:
    if isinstance(m, SystemMessage):
        return "system"
    if isinstance(m, HumanMessage):
        return "user"
    if isinstance(m, AIMessage):
        return "assistant"
    if isinstance(m, ChatMessage) and m.role in ROLE_TOKENS:
        return m.role
    raise ValueError(f"unsupported message type for the tutor GPT: {type(m).__name__}")


# Per-turn policy set by the agent from the deterministic intent reading: "act" forbids answering
# before a tool has been called, "answer" forbids calling tools (off-topic / injection), None is free.
turn_policy: contextvars.ContextVar[str | None] = contextvars.ContextVar("tutor_turn_policy", default=None)
# Extra copy sources for this turn: {"topics": [...] (conversation topics the tool input starts with),
# "answer_texts": [...] (lead phrases and fixed refusals the answer may quote besides the observations)}.
copy_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("tutor_copy_context", default=None)
# The one tool the first step may call, or None for any: set when a turn is retried because the model
# called a tool the request cannot be answered with (see tutor.api). The model still writes the input
# and the answer.
turn_tool: contextvars.ContextVar[str | None] = contextvars.ContextVar("tutor_turn_tool", default=None)


# A step's thought is one short sentence in the fine-tuning data (~20 tokens); past this it is cut off.
MAX_THOUGHT_TOKENS = 60


class CopyConstraint:
    """Tokens allowed while copying from `sources`: a run continues the source text it is copying (two
    tokens of context disambiguate), and a new run may start only at the beginning of a source or of a
    sentence / line in it. <|eos|> ends the copy at a sentence end (or where nothing continues)."""

    def __init__(self, tok, sources: Sequence[Sequence[int]], eos: int, max_tokens: int = 400):
        self.sources = [list(s) for s in sources if s]
        self.max_tokens = max_tokens
        self.eos = eos
        ends = {i for i in range(tok.vocab_size) if tok.decode([i]).rstrip(" ").endswith(("。", "！", "？", "!", "?", "\n", "；", "：", "]"))}
        self.ends = ends
        self.starts: set[int] = set()
        for s in self.sources:
            self.starts.add(s[0])
            self.starts.update(s[i + 1] for i in range(len(s) - 1) if s[i] in ends)

    def allowed(self, typed: list[int]) -> set[int]:
        if not typed:
            return set(self.starts)
        if len(typed) >= self.max_tokens or self._looping(typed):
            return {self.eos}
        # Continue the longest run of `typed` found in a source (what an induction head would copy).
        best, cont = 0, set()
        for s in self.sources:
            for i in range(len(s)):
                if s[i] != typed[-1]:
                    continue
                n = 1
                while n < len(typed) and n <= i and s[i - n] == typed[-1 - n]:
                    n += 1
                nxt = s[i + 1] if i + 1 < len(s) else self.eos  # the end of a source may end the copy
                if n > best:
                    best, cont = n, {nxt}
                elif n == best:
                    cont.add(nxt)
        last = typed[-1]
        if last in self.ends:
            return cont | self.starts | {self.eos}
        # mid-line: continue the source; where it ends ("... = 1.32") the copy ends too, rather than
        # gluing another source's text onto the last number
        return cont

    def _looping(self, typed: list[int], window: int = 8) -> bool:
        """True when the last `window` tokens occur in the copy more often than in the sources together
        (the model went back to quote the same text again). A tail seen once in the copy is never a loop:
        right after a jump to another sentence it spans the junction and so occurs in no source at all."""
        if len(typed) < 2 * window:
            return False
        tail = typed[-window:]

        def count(seq: list[int]) -> int:
            return sum(1 for i in range(len(seq) - window + 1) if seq[i : i + window] == tail)

        seen = count(typed)
        return seen > 1 and seen > sum(count(s) for s in self.sources)


class WholeCopyConstraint:
    """Tokens allowed while writing a sequence of whole sources: a run copies one source from its first
    token to its last; then another source not used yet may start, or <|eos|> ends the copy. Sources
    sharing a beginning are followed together until the text tells them apart (a small NFA over
    (sources used, source being copied, offset)), advanced one token per call."""

    def __init__(self, sources: Sequence[Sequence[int]], eos: int, max_tokens: int = 400, n_leading: int = 0,
                 single: bool = False, min_sources: int = 0, ordered: bool = False, lead_first: bool = False,
                 opening: int | None = None):
        """The first `n_leading` sources (lead phrases) may only open the copy, never follow another source
        (`lead_first`: and the copy must open with one of them); `opening`: the first source copied after
        the lead must be this one;
        `single`: the copy is exactly one source; `min_sources`: <|eos|> only once at least this many of
        the other sources (all of them when there are fewer) have been copied; `ordered`: after the lead,
        consecutive sources in their given order through the last one (the model picks where to start),
        as the lines of a result table must be quoted."""
        self.leading = set(range(n_leading))
        self.lead_first = lead_first and n_leading > 0
        self.single = single
        self.ordered = ordered
        self.opening = opening
        self.min_sources = min(min_sources, len(sources) - n_leading)
        self.sources = [list(s) for s in sources]
        self.eos = eos
        self.max_tokens = max_tokens
        self._typed: list[int] = []
        self._states: set[tuple[frozenset, int, int]] = {(frozenset(), -1, 0)}  # -1: between sources

    def _step(self, states, t):
        out = set()
        for used, cur, k in states:
            options = [(cur, k)] if cur >= 0 else [(j, 0) for j in self._startable(used)]
            for j, k0 in options:
                if self.sources[j][k0] == t:
                    out.add((used | {j}, -1, 0) if k0 + 1 == len(self.sources[j]) else (used, j, k0 + 1))
        return out

    def _startable(self, used: frozenset) -> list[int]:
        if self.single and used:
            return []
        last = max((j for j in used if j not in self.leading), default=None) if self.ordered else None
        opened = any(j not in self.leading for j in used)
        return [j for j, s in enumerate(self.sources)
                if s and j not in used and (not used or j not in self.leading) and (last is None or j == last + 1)
                and (used or not self.lead_first or j in self.leading)
                and (self.opening is None or opened or j in self.leading or j == self.opening)]

    def allowed(self, typed: list[int]) -> set[int]:
        if len(typed) >= self.max_tokens:
            return {self.eos}
        if typed[: len(self._typed)] != self._typed:  # not a continuation of the last call: start over
            self._typed, self._states = [], {(frozenset(), -1, 0)}
        for t in typed[len(self._typed) :]:
            self._states = self._step(self._states, t)
            self._typed.append(t)
        out: set[int] = set()
        for used, cur, k in self._states:
            if cur >= 0:
                out.add(self.sources[cur][k])
            else:
                out.update(self.sources[j][0] for j in self._startable(used))
                if used and len(used - self.leading) >= self.min_sources and (not self.ordered or len(self.sources) - 1 in used):
                    out.add(self.eos)
        return out or {self.eos}


class ToolNameConstraint:
    """allowed_tokens_fn for models.generate — what keeps a 13M-parameter model on the rails:

    * a step starts with <|thought|>, and the thought is one of `thought_sources` (the trained phrasings;
      without them, plain text of at most MAX_THOUGHT_TOKENS);
    * after <|action|> only the token sequences of real tool names, each closed by <|action_input|>;
    * the tool input is copied from `input_sources` (the student's question, the conversation's topic),
      so matrices and sentences reach the tools exactly as written; when the first `input_leads` of them
      are given (the topics of a follow-up such as "Why is it needed?"), the input opens with one of them
      and goes on with the question, so the search is about what "it" stands for and what is asked of it
      ("注意力 那公式里为什么还要除以根号 d_k？", not just "注意力");
    * the answer after <|answer|> is copied from `answer_sources` (the observations, a few lead phrases,
      the fixed refusals): the model chooses what to quote and (unless `min_answer_blocks` says
      otherwise) where to stop, and cannot invent a number or a fact that the notes and the tools did
      not produce;
    * `policy` "act" forbids <|answer|> in this step, "answer" forbids <|action|>;
    * `min_answer_blocks` (whole answers only): the answer may end only after that many evidence
      blocks (all of them when there are fewer); the model still picks their order, except that
      `answer_opening` (whole answers only) names the source the answer must open with after its lead;
    * `single_answer` (whole answers only): the answer is exactly one source, copied whole (a refusal).
    """

    def __init__(self, tok, tool_names: Sequence[str], input_sources=(), answer_sources=(), policy: str | None = None,
                 whole_answers: bool = False, n_leading: int = 0, thought_sources=(), min_answer_blocks: int = 0,
                 ordered_answer: bool = False, input_leads: int = 0, answer_opening: int | None = None, single_answer: bool = False):
        self.thought = tok.special_ids[THOUGHT]
        self.action = tok.special_ids[ACTION]
        self.action_input = tok.special_ids[ACTION_INPUT]
        self.answer = tok.special_ids[ANSWER]
        self.eos = tok.eos_id
        self.vocab = tok.vocab_size
        self.text_tokens = set(range(self.vocab)) - set(tok.special_ids.values())
        self.names = [tok.encode(n, allow_special=False) for n in tool_names]
        self.input_copy = (WholeCopyConstraint(input_sources, self.eos, n_leading=input_leads, lead_first=True,
                                               min_sources=1 if input_leads else 0)
                           if input_sources else None)
        # a whole answer copies each block or result line at most once, so its sources bound its length:
        # no token cap that could cut a block mid-way. A demo answer (`ordered_answer`) opens with its
        # tool's lead, as every fine-tuning demo answer does: left free, the shipped model skipped an
        # English lead it never saw ("Mask:") and opened with the table
        self.answer_copy = (WholeCopyConstraint(answer_sources, self.eos, n_leading=n_leading, min_sources=min_answer_blocks,
                                                ordered=ordered_answer, opening=answer_opening, lead_first=ordered_answer, single=single_answer,
                                                max_tokens=sum(map(len, answer_sources)))
                            if whole_answers else
                            CopyConstraint(tok, answer_sources, self.eos)) if answer_sources else None
        self.policy = policy
        self.thought_copy = WholeCopyConstraint(thought_sources, self.eos, single=True) if thought_sources else None

    def __call__(self, row: int, ids: list[int]) -> set[int] | None:
        if not ids:
            return {self.thought}
        if self.answer in ids:
            return self.answer_copy.allowed(ids[ids.index(self.answer) + 1 :]) if self.answer_copy else None
        if self.action not in ids:
            # the thought — one of the trained phrasings when they are given, else plain text of at most
            # MAX_THOUGHT_TOKENS — then <|action|> or <|answer|> as the policy permits
            moves = {"act": {self.action}, "answer": {self.answer}}.get(self.policy, {self.action, self.answer})
            if self.thought_copy is not None:
                allowed = self.thought_copy.allowed(ids[1:])
                return (allowed - {self.eos}) | moves if self.eos in allowed else allowed
            if len(ids) > MAX_THOUGHT_TOKENS:
                return moves
            return self.text_tokens | moves
        last = len(ids) - 1 - ids[::-1].index(self.action)
        typed = ids[last + 1 :]
        if self.action_input in typed:
            rest = typed[typed.index(self.action_input) + 1 :]
            return self.input_copy.allowed(rest) if self.input_copy else None
        allowed = {n[len(typed)] for n in self.names if len(n) > len(typed) and n[: len(typed)] == typed}
        if any(n == typed for n in self.names):
            allowed.add(self.action_input)
        return allowed or None


class TutorGPTChat(BaseChatModel):
    """LangChain chat model over a `models.generate.Generator` (greedy by default)."""

    tool_names: list[str]
    max_new_tokens: int = 400
    # A concept answer ends only after quoting this many evidence blocks (all when fewer); 0: the model
    # decides where to stop (see Settings.answer_min_blocks for the measured difference).
    min_answer_blocks: int = 0
    temperature: float = 0.0
    _generator: Any = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, generator: Any, **kw: Any):
        super().__init__(**kw)
        self._generator = generator

    @property
    def _llm_type(self) -> str:
        return "tutor-gpt"

    @property
    def generator(self):
        return self._generator

    def prompt_ids(self, messages: Sequence[BaseMessage]) -> list[int]:
        tok = self._generator.tok
        msgs = [{"role": _role(m), "content": m.content if isinstance(m.content, str) else str(m.content)} for m in messages]
        ids, _ = render_conversation(tok, msgs)
        if msgs and msgs[-1]["role"] == "assistant":  # continue an unfinished assistant turn
            ids = ids[:-1]  # drop its <|eos|>
        else:
            ids.append(tok.special_ids[ASSISTANT])
        return ids

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        ids = self.prompt_ids(messages)
        tok = self._generator.tok
        ctx = copy_context.get() or {}
        observations = [str(m.content) for m in messages if isinstance(m, ChatMessage) and m.role == "observation"]
        question = str([m for m in messages if isinstance(m, HumanMessage)][-1].content)
        enc = lambda t: tok.encode(t, allow_special=False)  # noqa: E731
        input_sources = [enc(t) for t in [*ctx.get("topics", []), question]]
        # before any observation the answer may be a refusal; a turn known to need one (ctx["refusal"])
        # may only be that refusal, not a lead with whatever follows it
        # (copied whole: left free, the model ended the English injection refusal before its closing quote)
        refusing = bool(ctx.get("refusal")) and not observations
        extra = (ctx.get("leads", []) if observations else
                 ctx.get("refusals", []) if refusing else ctx.get("leads", []) + ctx.get("refusals", []))
        parsed = [parse_evidence(o) for o in observations]
        blocks = [text for p in parsed for _, text in p if text]
        # the first block of the last search: the note retrieval ranked first opens a concept answer
        last_search = sum(1 for p in parsed[:-1] for _, text in p if text) if parsed and parsed[-1] else None
        whole = bool(observations) and all(parsed)
        # After note searches the answer quotes whole evidence blocks — the concept lead first, then the
        # blocks the model picks, in its order (the shape of the fine-tuning answers); demo answers quote lines.
        leads = [t for t in ctx.get("concept_leads", []) if t in extra] if whole else []
        # a demo answer (the shape of the fine-tuning answers: a lead, then lines of the tool's result)
        # copies whole, consecutive result lines from the one the model starts with to the end: a line
        # that shares a token with another ("[MASK]") cannot jump into the middle of it, and a table or
        # a comparison is never cut short
        lines = [ln + "\n" for o in observations for ln in o.splitlines() if ln.strip()] if observations and not any(parsed) else []
        # "掩码结果：\n"…, not the concept leads; the lead of the tool that was called when it has one
        called = [tool for m in messages if isinstance(m, AIMessage) for tool in [split_step(str(m.content))[1]] if tool]
        own = demo_lead(called[-1] if called else None, ctx.get("language"))
        demo_leads = [t for t in extra if t.endswith("\n") and own in (None, t)] if lines else []
        # …and it quotes the last result from the line its fine-tuning answers start at (demo_result_start):
        # left to the model, a two-head result was quoted from its second head's table, unlabelled
        demo_opening = None
        if lines:
            last = [ln for ln in observations[-1].splitlines() if ln.strip()]
            demo_opening = len(demo_leads) + len(lines) - len(last) + demo_result_start(called[-1] if called else None, len(last))
        if whole:
            answer_sources = [enc(t) for t in [*leads, *blocks]]
        elif lines:
            answer_sources = [enc(t) for t in [*demo_leads, *lines]]
        else:
            answer_sources = [enc(t) for t in [*observations, *extra]]
        first_step = not observations
        policy = turn_policy.get() if first_step else None
        forced = turn_tool.get() if first_step else None
        thoughts = (thought_texts(ctx["thought_topics"], ctx["language"], first_step, policy, forced, ctx.get("refusal"))
                    if "language" in ctx else [])
        constraint = ToolNameConstraint(tok, [forced] if forced else self.tool_names, input_sources, answer_sources, policy,
                                        whole_answers=whole or bool(lines) or refusing, n_leading=len(leads) if whole else len(demo_leads),
                                        single_answer=refusing,
                                        thought_sources=[enc(t) for t in thoughts],
                                        min_answer_blocks=self.min_answer_blocks if whole else 0, ordered_answer=bool(lines),
                                        input_leads=len(ctx.get("topics", [])),
                                        answer_opening=(len(leads) + last_search if whole and last_search is not None
                                                        else demo_opening))
        with self._lock:  # one generation at a time per model: torch on 2 cores gains nothing from more
            for piece in self._generator.stream(
                ids,
                max_new_tokens=self.max_new_tokens,
                temperature=self.temperature,
                stop=tuple(stop or ()),
                allowed_tokens_fn=constraint,
                jump_forward=True,
            ):
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(c.text for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
