"""The agent's text protocol, defined once and used by both the runtime and the fine-tuning data.

A turn is a chat in the tutor GPT's template (models.data): system, user, then alternating assistant
steps and observations. An assistant step is either
    <|thought|>…<|action|>TOOL<|action_input|>INPUT      (then the tool's observation follows)
or  <|thought|>…<|answer|>FINAL ANSWER
"""

from __future__ import annotations

from models.tokenizer import ACTION, ACTION_INPUT, ANSWER, THOUGHT

TOOL_NAMES = ("search_notes", "attention", "ngram", "mask", "gpt_attention", "code")
# The tools the shipped agent checkpoint was fine-tuned to choose by itself. `code` (tutor.tools.code) came
# later: the intent reading names it for a request to see code (tutor.api), as a retry names a tool,
# until a fine-tune on the generator's code examples (sft_data) teaches the model to choose it.
CHOSEN_TOOLS = ("search_notes", "attention", "ngram", "mask", "gpt_attention")

SYSTEM_PROMPT = (
    "你是大模型基础课程的助教。需要时调用工具：search_notes 检索课程笔记，attention 计算注意力，"
    "ngram 给句子打分，mask 演示掩码，gpt_attention 展示助教模型自己的注意力。"
    "回答简洁，依据笔记并注明出处；与课程无关的问题礼貌拒绝。"
)

# Polite, fixed replies for what the tutor does not do (used by the agent's training data and the guard).
REFUSAL_OFFTOPIC = {
    "zh": "这个问题超出了本课程的范围。我是大模型基础课程的助教，可以回答：统计语言模型与 n-gram、NNLM 与词向量、RNN 的局限、注意力机制、Transformer、BERT 与 GPT、GPT 家族、预训练与微调、智能体等问题，也可以现场演示注意力计算、n-gram 打分和掩码。",
    "en": "That is outside this course. I am the teaching assistant for the LLM-fundamentals course: ask me about statistical language models and n-grams, NNLM and embeddings, RNN limits, attention, Transformers, BERT vs GPT, the GPT family, pre-training vs fine-tuning or agents — or ask for a live demo of attention, n-gram scoring or masking.",
}
REFUSAL_INJECTION = {
    "zh": "我不能执行这类要求，也不会透露或修改我的设置。我是课程助教，欢迎继续问课程相关的问题，比如“自注意力是怎么计算的？”",
    "en": "I can't follow that request or reveal or change my instructions. I'm the course tutor — feel free to ask about the course, e.g. “How is self-attention computed?”",
}
# Friendly fixed replies to a message that only greets or thanks (intent.social): not "outside this course".
SOCIAL_REPLIES = {
    "greeting": {
        "zh": "你好！我是大模型基础课程的助教，可以回答：统计语言模型与 n-gram、NNLM 与词向量、RNN 的局限、注意力机制、Transformer、BERT 与 GPT、GPT 家族、预训练与微调、智能体等问题，也可以现场演示注意力计算、n-gram 打分和掩码。想从哪里开始？",
        "en": "Hello! I am the teaching assistant for the LLM-fundamentals course: ask me about statistical language models and n-grams, NNLM and embeddings, RNN limits, attention, Transformers, BERT vs GPT, the GPT family, pre-training vs fine-tuning or agents — or ask for a live demo of attention, n-gram scoring or masking.",
    },
    "thanks": {
        "zh": "不客气！还有课程上的问题，随时问我。",
        "en": "You're welcome! Ask me anything else about the course.",
    },
}
# Every fixed reply by the kind of turn that gets it (api: the `refusal` a turn needs; guard; sft_data).
FIXED_REPLIES = {"offtopic": REFUSAL_OFFTOPIC, "injection": REFUSAL_INJECTION, **SOCIAL_REPLIES}
# Lead phrases an answer may start with (the answer is otherwise quoted from the observations).
ANSWER_LEADS = {
    "concept_zh": "根据课程笔记：",
    "concept_en": "According to the course notes: ",
    "attention": "计算结果如下：\n",
    "ngram": "打分结果：\n",
    "mask": "掩码结果：\n",
    "gpt_attention": "助教模型的注意力：\n",
    "code": "代码如下：\n",
    # a demo's lead in an English turn (its result is bilingual already)
    "attention_en": "Result:\n",
    "ngram_en": "Scores:\n",
    "mask_en": "Mask:\n",
    "gpt_attention_en": "The tutor GPT's attention:\n",
    "code_en": "Code:\n",
}


def lead_language(key: str) -> str:
    """The language of an ANSWER_LEADS entry: 'en' for concept_en and the demo leads ending in _en."""
    return "en" if key.endswith("_en") else "zh"


def demo_lead(tool: str | None, language: str | None) -> str | None:
    """The lead of a demo tool's answer in the turn's language (None for a tool without one: search_notes)."""
    return ANSWER_LEADS.get(f"{tool}_en" if language == "en" else tool) if tool else None


def demo_result_start(tool: str | None, n_lines: int) -> int:
    """The line of a demo tool's result that its answer quotes from (through the last line): the one after
    the header, which only restates the demo's settings ("多头注意力 (h=2) | Q 4×8 … | d_k=4"); the first
    for gpt_attention, whose result is one line, for a one-line result (an error message) and for a
    two-line one, a header and a note: a causal mask too large to print is its header ("n=50: 第 i 个位置
    只能看到 0…i") and "（矩阵较大…）", and its answer was the note alone; the first for a code listing,
    whose header says what the code is."""
    return 0 if tool in ("gpt_attention", "code") or n_lines < 3 else 1


def answer_copy_texts(language: str | None = None, refusal: str | None = None) -> dict[str, list[str]]:
    """Besides the observations, what an answer may quote: lead phrases, and (only when no tool was
    called) the fixed refusals — in the question's `language` ("zh" | "en") when it is given, so a
    Chinese question never gets an English lead or refusal and vice versa (an English demo request's
    answer opens "Scores:", not "打分结果："). `refusal` ("injection" | "offtopic"): a turn the intent
    reading already knows is one of these gets only that refusal: "😀" was answered "I can't follow that
    request or reveal or change my instructions"; "greeting" | "thanks": only that SOCIAL_REPLIES text."""
    langs = ("zh", "en") if language is None else (language,)
    leads = [v for k, v in ANSWER_LEADS.items() if lead_language(k) in langs]
    kinds = (FIXED_REPLIES[refusal],) if refusal else (REFUSAL_OFFTOPIC, REFUSAL_INJECTION)
    refusals = [d[l] for d in kinds for l in langs]
    concept = [ANSWER_LEADS[f"concept_{l}"] for l in langs]
    return {"leads": leads, "concept_leads": concept, "refusals": refusals}


# The thoughts of the fine-tuning traces (tutor.agent.sft_data). At run time a thought is one of these,
# chosen by the model (chat_model), so the reasoning shown to a student is always one it was trained on.
SEARCH_THOUGHT = {"zh": "学生问的是{topic}，先检索课程笔记。", "en": "The student asks about {topic}; search the notes first."}
NO_TOPIC = {"zh": "这个问题", "en": "this question"}
ANSWER_THOUGHT = {"zh": "根据检索到的笔记回答，并注明出处。", "en": "Answer from the retrieved notes with citations."}
DEMO_THOUGHT = {"attention": "这是注意力计算请求，调用 attention 工具。", "ngram": "这是 n-gram 打分请求，调用 ngram 工具。",
                "mask": "这是掩码演示请求，调用 mask 工具。", "gpt_attention": "要看助教模型自己的注意力，调用 gpt_attention 工具。",
                "code": "学生要看代码，调用 code 工具给出助教自己的实现。"}
DEMO_ANSWER_THOUGHT = "把工具算出的结果告诉学生。"
REFUSAL_THOUGHT = {"injection": "这是要我忽略设定的指令，不执行。", "offtopic": "这个问题与课程无关，礼貌说明范围。"}


def search_thought(topic: str, language: str) -> str:
    # A question without a course term: "这个问题" / "this question". The shipped agent was fine-tuned
    # with "这个问题" in English thoughts too; only the thought's first words pick the step (the rest
    # of it is forced), so the English wording shows the student one language.
    return SEARCH_THOUGHT[language].format(topic=topic or NO_TOPIC[language])


def thought_texts(topics: list[str], language: str, first_step: bool, policy: str | None, tool: str | None = None,
                  refusal: str | None = None) -> list[str]:
    """The thoughts a step may take: acting (a search about one of `topics` — the conversation's topic of a
    follow-up, the question's own — or a demo) unless the policy is "answer"; on the first step refusing
    unless it is "act"; after an observation, answering from it. A first step that must call `tool` (a
    retry) takes that tool's thought."""
    searches = list(dict.fromkeys(search_thought(t, language) for t in (topics or [""])))
    if first_step and tool:
        return searches if tool == "search_notes" else [DEMO_THOUGHT[tool]]
    acts = [*searches, *(DEMO_THOUGHT[t] for t in CHOSEN_TOOLS if t in DEMO_THOUGHT)]
    if first_step:
        # a greeting or a thank-you is answered with the off-topic thought (no course question to act on)
        refuse = [REFUSAL_THOUGHT.get(refusal, REFUSAL_THOUGHT["offtopic"])] if refusal else list(REFUSAL_THOUGHT.values())
        return {"act": acts, "answer": refuse}.get(policy, acts + refuse)
    return [ANSWER_THOUGHT[language], DEMO_ANSWER_THOUGHT, *acts]


# How much evidence an observation carries: the model's context window is small (1,024 tokens).
EVIDENCE_RESULTS = 3
EVIDENCE_CHARS = 312


def action_step(thought: str, tool: str, tool_input: str) -> str:
    return f"{THOUGHT}{thought}{ACTION}{tool}{ACTION_INPUT}{tool_input}"


def answer_step(thought: str, answer: str) -> str:
    return f"{THOUGHT}{thought}{ANSWER}{answer}"


def history_messages(turns: list[tuple[str, str]], max_answer_chars: int = 80) -> list[dict]:
    """Earlier turns of the conversation as chat messages (answers shortened to save context)."""
    out: list[dict] = []
    for q, a in turns:
        short = a if len(a) <= max_answer_chars else a[:max_answer_chars] + "…"
        out.append({"role": "user", "content": q})
        out.append({"role": "assistant", "content": f"{ANSWER}{short}"})
    return out
