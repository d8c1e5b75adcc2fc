"""Running the agent for the web/CLI stream, and checking what it produced before a student sees it.

`run_agent_streaming` runs one agent turn in a worker thread and yields its steps and answer tokens as
they happen, then the `AgentRun`. `check_agent_answer` accepts the model's answer only when it is
grounded: a concept answer must quote the retrieved notes and cite one of them, a demo answer must come
from the demo tool the request needs, and off-topic / injection turns must get a fixed refusal. A
question the intent reading found no course term in may still be answered from the notes, but only
when the notes found hold at least half of its content words ("How do I cook fried rice?" retrieves
lecture text about NNLMs: that is not an answer, it is an off-topic question).
Anything else is rejected with a reason. A turn rejected because the model called a tool the request
cannot be answered with names the tool it needs (`Verdict.retry_tool`): the tutor retries the turn
once with that tool forced, then falls back to its deterministic path.
"""

from __future__ import annotations

import queue
import re
import threading
from dataclasses import dataclass, field
from typing import Iterator

from tutor.agent.prompt import ANSWER_LEADS, FIXED_REPLIES, REFUSAL_INJECTION, REFUSAL_OFFTOPIC, demo_result_start
from tutor.agent.search_tool import parse_evidence
from kb.text import tokenize
from tutor.extractive import content_words, join_cited
from tutor.intent import DEMO_KINDS
from tutor.schema import CITATION, Source, Step, StreamEvent

_DONE = object()
MIN_CONTENT_CHARS = 12


def run_agent_streaming(agent, question, history, policy, topics, language=None, tool=None, refusal=None, seen="") -> Iterator[Step | StreamEvent | object]:
    q: queue.Queue = queue.Queue()
    out: dict = {}

    def on_event(kind: str, data: dict) -> None:
        q.put(StreamEvent(type=kind, data=data))

    def work() -> None:
        try:
            out["run"] = agent.run(question, history=history, on_event=on_event, policy=policy, topics=topics, language=language, tool=tool,
                                   refusal=refusal, seen=seen)
        except Exception as e:  # reported as a failed run; the tutor falls back
            out["error"] = e
        finally:
            q.put(_DONE)

    threading.Thread(target=work, daemon=True, name="tutor-agent").start()
    while True:
        item = q.get()
        if item is _DONE:
            break
        yield item
    if "error" in out:
        from tutor.agent.executor import AgentRun

        yield AgentRun(answer=None, stopped=f"error: {type(out['error']).__name__}: {out['error']}")
    else:
        yield out["run"]


@dataclass
class Verdict:
    ok: bool
    reason: str = ""
    answer: str = ""
    kind: str = "concept"
    sources: list[Source] = field(default_factory=list)
    retry_tool: str | None = None  # rejected for calling the wrong tool: the one the request needs


def citations(text: str) -> list[Source]:
    seen, out = set(), []
    for src, heading in CITATION.findall(text):
        key = (src.strip(), (heading or "").strip())
        if key not in seen:
            seen.add(key)
            out.append(Source(source=key[0], heading=key[1]))
    return out


def _strip_lead(answer: str) -> str:
    for lead in ANSWER_LEADS.values():
        if answer.startswith(lead.strip()):
            return answer[len(lead.strip()) :].strip()
    return answer


def tidy_quote(answer: str) -> str:
    """Drop what a quoting model repeats: a sentence or line (or the lead) quoted a second time, and a
    trailing fragment that only restarts an earlier one (where the decoder's loop guard cut the copy)."""
    lead = next((l.strip() for l in ANSWER_LEADS.values() if answer.startswith(l.strip())), "")
    parts = re.split(r"(?<=[。！？!?\n])", answer[len(lead) :])
    kept: list[str] = []
    for p in parts:
        core = p.strip()
        if lead and core.startswith(lead):  # the lead again, then maybe a sentence quoted again
            p = core = core[len(lead) :].strip()
        if core and any(core == k.strip() for k in kept):
            continue
        kept.append(p)
    while kept and not kept[-1].strip():
        kept.pop()
    if len(kept) > 1 and not re.search(r"[。！？!?\n]\s*$", kept[-1]):
        tail = kept[-1].strip()
        if any(tail in k for k in kept[:-1]):
            kept.pop()
    return lead + "".join(kept)


# At least this share of the question's content words must occur in the notes found for a question
# without a course term to be answered from them.
MIN_WORD_COVERAGE = 0.5


def word_coverage(question: str, evidence: list[tuple[str, str]]) -> float:
    """The share of the question's content words that occur in the evidence blocks' headings or text."""
    # each word once (not its sub-words), and no single Chinese characters or bare numbers (多, 高, 2022)
    words = {w for w in content_words(set(tokenize(question))) if len(w) > 1 and not w.isdigit()}
    if not words:
        return 0.0
    found: set[str] = set()
    for cit, text in evidence:
        found |= words & set(tokenize(f"{cit}\n{text}"))
    return len(found) / len(words)


def check_agent_answer(run, intent, question: str = "") -> Verdict:
    if run is None or not run.answer:
        return Verdict(False, f"no answer ({run.stopped if run else 'no run'})")
    answer = run.answer.strip()
    refusals = {*REFUSAL_OFFTOPIC.values(), *REFUSAL_INJECTION.values()}
    tools = [s["tool"] for s in run.steps]
    if intent.kind == "injection" or intent.definite:
        needed = "injection" if intent.kind == "injection" else (intent.social or "offtopic")
        if answer in FIXED_REPLIES[needed].values() and not tools:
            return Verdict(True, answer=answer, kind="refusal")
        return Verdict(False, f"a request outside the course needs the fixed {needed} reply")
    if answer in refusals:
        if intent.kind == "offtopic":
            return Verdict(True, answer=answer, kind="refusal")
        return Verdict(False, "refused a course question")
    if not run.steps:
        return Verdict(False, "answered without consulting a tool")
    demo = intent.kind in DEMO_KINDS
    if demo and intent.kind not in tools:
        return Verdict(False, f"the request needs the {intent.kind} tool, the model called {tools}", retry_tool=intent.kind)
    if not demo and "search_notes" not in tools:
        return Verdict(False, "a concept question needs search_notes", retry_tool="search_notes")
    observations = "\n".join(s["observation"] for s in run.steps)
    # a demo answer is the result's lines in order, where equal lines are the result's own (two heads'
    # identical column headers); a concept answer may have quoted a sentence twice
    answer = answer if demo else tidy_quote(answer)
    body = _strip_lead(answer)
    if len(re.sub(r"\s", "", body)) < MIN_CONTENT_CHARS:
        return Verdict(False, "answer too short")
    if demo:
        step = next(s for s in run.steps if s["tool"] == intent.kind)
        if not (step.get("artifact") or {}).get("ok"):
            return Verdict(False, "the demo tool reported an input problem")
        numbers_obs = set(re.findall(r"-?\d+\.\d+|inf", step["observation"]))
        numbers_ans = re.findall(r"-?\d+\.\d+|inf", body)
        if any(n not in numbers_obs for n in numbers_ans):
            return Verdict(False, "a number in the answer is not in the tool's result")
        result_lines = [ln for ln in quoted_result(step["observation"], intent.kind) if re.search(r"\d", ln) and len(ln) > 3]
        missing = [ln for ln in result_lines if ln not in body]
        if result_lines and len(missing) > len(result_lines) / 2:
            return Verdict(False, "the answer leaves out most of the tool's result")
        return Verdict(True, answer=whole_lines(answer, step["observation"], intent.kind), kind="demo")
    # concept answers: quoted from the notes; every quoted sentence is traced to the note it came from
    blocks = parse_evidence(observations)
    if intent.kind == "offtopic" and question and word_coverage(question, blocks) < MIN_WORD_COVERAGE:
        return Verdict(False, "no course term in the question and the notes found do not cover it")
    text = CITATION.sub("", body)
    text = re.sub(r"\[\d\]", "", text)
    sentences = [s.strip() for s in re.split(r"(?<=[。！？!?\n])", text) if len(s.strip()) >= 4]
    used: list[str] = []
    unsupported = 0
    for sent in sentences:
        home = next((cit for cit, ev in blocks if sent in ev or sent in cit), None)
        if home is None:
            unsupported += 1
        elif home not in used:
            used.append(home)
    if not sentences or unsupported > len(sentences) / 2 or not used:
        return Verdict(False, "the answer is not traceable to the retrieved notes")
    cited = [c for c in citations(answer) if c.citation in observations]
    for cit in used:  # provenance citations for the quoted notes the model did not cite itself
        for c in citations(cit):
            if c not in cited:
                cited.append(c)
    answer = CITATION.sub("", answer)
    answer = re.sub(r"\s*\[\d\]\s*$", "", answer.strip()).strip()
    return Verdict(True, answer=cited_paragraphs(answer, blocks, cited), kind="concept", sources=cited)


# Said after a demo answer that the token budget cut before the tool's result ended.
DEMO_CUT_NOTE = "（结果较长，回答只引用到这里，完整结果见工具输出 / the result is long: quoted up to here, the full result is in the tool's output）"


def quoted_result(observation: str, tool: str) -> list[str]:
    """The lines of a demo tool's result that its answer quotes (stripped): from demo_result_start on."""
    result = [ln.strip() for ln in observation.splitlines() if ln.strip()]
    return result[demo_result_start(tool, len(result)) :]


def whole_lines(answer: str, observation: str, tool: str) -> str:
    """A demo answer as whole lines of the tool's result: a last line the token budget cut in the middle
    ("输出 / output: 4×") is dropped, and when the quote stops before the result's last line the answer
    says so (DEMO_CUT_NOTE) instead of passing a part for the whole."""
    result = quoted_result(observation, tool)
    lines = answer.rstrip().split("\n")
    if len(lines) > 1 and lines[-1].strip() not in result:
        lines = lines[:-1]
    if result and lines[-1].strip() != result[-1]:
        lines.append(DEMO_CUT_NOTE)
    return "\n".join(lines)


def cited_paragraphs(answer: str, blocks: list[tuple[str, str]], cited: list[Source]) -> str:
    """The quoted answer laid out for reading: one paragraph per evidence block it quotes, closed by that
    note's citation (once for a run of paragraphs from one unheaded file, such as the transcript's
    windows); a sentence that is not a quote stays in the paragraph it is in. Citations the model wrote
    itself that no paragraph shows close the answer."""
    lead = next((l.strip() for l in ANSWER_LEADS.values() if answer.startswith(l.strip())), "")
    paragraphs: list[list] = []  # [block index or None, text]
    for piece in re.split(r"(?<=[。！？!?\n])", answer[len(lead) :]):
        core = re.sub(r"\[\d\]", "", piece).strip()
        if not core:
            continue
        home = next((i for i, (cit, ev) in enumerate(blocks) if core in ev or core in cit), None) if len(core) >= 4 else None
        if paragraphs and (home is None or home == paragraphs[-1][0] or paragraphs[-1][0] is None):
            paragraphs[-1] = [paragraphs[-1][0] if paragraphs[-1][0] is not None else home, paragraphs[-1][1] + piece]
        else:
            paragraphs.append([home, piece])
    laid_out = [(blocks[i][0] if i is not None else "", text) for i, text in paragraphs]
    rest = " ".join(c.citation for c in cited if c.citation not in {cit for cit, _ in laid_out})
    sep = " " if lead.endswith(":") else ""
    return f"{lead}{sep}" + join_cited(laid_out) + (f"\n\n{rest}" if rest else "")
