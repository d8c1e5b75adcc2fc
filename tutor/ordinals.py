"""Ordinal follow-ups: "第二个任务具体是什么？" or "Explain the second one." after an answer that
lists things is a question about the item it points at. `list_items` reads the list out of the previous
answer; `rewrite_ordinal` puts the item (with the conversation's topic) in the ordinal's place, so the
search looks for "BERT 下一句预测（NSP）" instead of repeating the previous answer."""

from __future__ import annotations

import re

from tutor.agent.prompt import ANSWER_LEADS
from tutor.extractive import EXTRACTIVE_LABELS
from tutor.glossary import without_key_terms
from tutor.intent import language_of, topic_of
from tutor.schema import CITATION

_NUM = "一二三四五六七八九十"
_CN = {c: i for i, c in enumerate(_NUM, 1)} | {"两": 2}
_EN = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}
LAST = -1
# "第二个" "第 2 种" "第三阶段" "最后一个"; "前者 / 后者" (of two); "the second (one)" "the last stage"
_MEASURE = r"(?:个|种|项|点|步|类|条|部分|阶段|任务|方法|方面)"
_NOT_A_POSITION = r"(?!\s*(?:次|代|年|天|章|节|课|讲|页|版|期|届|名|层))"  # "第一次", "第三代", "第 2 层"
_ORDINAL_ZH = re.compile(rf"第\s*(?P<n>[{_NUM}]|\d{{1,2}})\s*{_NOT_A_POSITION}{_MEASURE}?|最后(?:一)?{_MEASURE}|(?P<pair>前者|后者)")
_ORDINAL_EN = re.compile(r"\bthe\s+(?P<n>first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|last)\b(?:\s+(?:one|item|task|stage|step|method|kind|type|point)s?\b)?", re.I)
# A list announced in one sentence: "两个预训练任务，即 A 和 B" / "分为三个阶段：A、B、C" / "包括 A、B 以及 C"
_COUNT = rf"(?P<count>[{_NUM}两]|\d{{1,2}})\s*{_MEASURE}"
_INTRO = r"(?:[，,]?\s*(?:即|分别是|分别为|包括|如下)\s*[：:]?|[：:])"
_COUNTED = re.compile(rf"{_COUNT}[^。；;：:，,]{{0,16}}?{_INTRO}\s*(?P<list>[^。；;：:]+)")
# without a count only an explicit list: "包括 A、B 和 C" / "分别是：A 与 B" (short items, no commas)
_BARE = re.compile(r"(?:包括|分别是|分别为|如下)\s*[：:]?\s*(?P<list>[^。；;：:，,]+)")
_SEPARATORS = re.compile(r"、|，|,|；|;|以及|及|和|与|\band\b|\bor\b|或者|或")
# "一个叫做全量微调，一个叫做高效微调" / "一是 A，二是 B" / "第一，A。第二，B" / "首先 A，其次 B，最后 C"
_ONE_ANOTHER = re.compile(r"(?:另)?一(?:个|种)(?:叫做|叫|是|就是)\s*([^，。；,;]{1,30})")
_MARKED = re.compile(rf"(?:第(?P<a>[{_NUM}])(?:{_MEASURE})?|(?P<b>[{_NUM}])是)[，,：:、\s]*(?P<text>[^。；;]{{2,60}})")
_FIRST_NEXT_LAST = [re.compile(p) for p in (r"首先[，,]?\s*([^。；;，,]{2,40})", r"其次[，,]?\s*([^。；;，,]{2,40})", r"最后[，,]?\s*([^。；;，,]{2,40})")]
# how a concept answer opens (the model's lead or the extractive fallback's label): not part of a list
_LEADS = [ANSWER_LEADS["concept_zh"], ANSWER_LEADS["concept_en"], *EXTRACTIVE_LABELS.values()]
MAX_ITEM_CHARS = 40


def ordinal_of(question: str) -> tuple[int, re.Match] | None:
    """(position, where it is named) of the list item a question points at; position LAST for "最后一个"
    and "后者"; None when the question names no position."""
    m = _ORDINAL_ZH.search(question)
    if m:
        if m.group("pair"):
            return (1 if m.group("pair") == "前者" else LAST), m
        n = m.group("n")
        if n is None:
            return LAST, m
        return (int(n) if n.isdigit() else _CN[n]), m
    m = _ORDINAL_EN.search(question)
    if m:
        n = m.group("n").lower()
        return (LAST if n == "last" else _EN[n]), m
    return None


def _split(listed: str) -> list[str]:
    """Items of 'A（x，y）和 B、C': split at separators outside brackets."""
    items, depth, cur = [], 0, ""
    i = 0
    while i < len(listed):
        c = listed[i]
        if c in "（(【[":
            depth += 1
        elif c in "）)】]":
            depth = max(0, depth - 1)
        if depth == 0:
            m = _SEPARATORS.match(listed, i)
            if m:
                items.append(cur)
                cur = ""
                i = m.end()
                continue
        cur += c
        i += 1
    items.append(cur)
    return [x.strip(" *`\"“”'") for x in items if x.strip(" *`\"“”'")]


def _count(word: str | None) -> int | None:
    if not word:
        return None
    return int(word) if word.isdigit() else _CN.get(word)


def list_items(answer: str) -> list[str]:
    """The items an answer lists, in order ([] when it lists none): the first list announced in one
    sentence ("采用了两个预训练任务，即 A 和 B"), else items introduced one by one ("一个叫做 A，一个叫做 B",
    "一是 A，二是 B", "第一…第二…", "首先…其次…最后…"). An announced count must match the items found."""
    text = CITATION.sub("", without_key_terms(answer or "")).strip()
    text = next((text[len(lead.strip()) :] for lead in _LEADS if text.startswith(lead.strip())), text).replace("**", "")
    for pattern in (_COUNTED, _BARE):  # a list whose count is announced first
        for m in pattern.finditer(text):
            items = _split(m.group("list"))
            want = _count(m.groupdict().get("count"))
            longest = MAX_ITEM_CHARS if want else MAX_ITEM_CHARS // 2
            if len(items) >= 2 and all(len(x) <= longest for x in items) and (not want or len(items) == want):
                return items
    for sentence in re.split(r"(?<=[。！？!?])", text):
        found = [x.strip() for x in _ONE_ANOTHER.findall(sentence)]
        if len(found) >= 2:
            return found
    marked: dict[int, str] = {}
    for m in _MARKED.finditer(text):
        k = _CN[m.group("a") or m.group("b")]
        marked.setdefault(k, m.group("text").strip())
    run = []
    for k in range(1, len(marked) + 1):
        if k not in marked:
            break
        run.append(marked[k])
    if len(run) >= 2:
        return run
    steps = [m.group(1).strip() for p in _FIRST_NEXT_LAST if (m := p.search(text))]
    return steps if len(steps) >= 2 else []


def rewrite_ordinal(question: str, previous_answer: str, topic: str = "") -> str:
    """'第二个任务具体是什么？' after an answer listing BERT's two tasks becomes 'BERT 下一句预测（…NSP）任务
    具体是什么？': the ordinal replaced by the item it points at, led by the conversation's topic when
    the item does not name it. '' when the question names no position, the answer lists nothing, or the
    list is shorter than the position."""
    found = ordinal_of(question)
    if not found:
        return ""
    n, where = found
    items = list_items(previous_answer)
    if len(items) < 2 or n > len(items) or n == 0:
        return ""
    item = items[n - 1] if n != LAST else items[-1]
    named = topic_of(question, extra=False).lower()
    if named and named not in topic.lower() and named not in item.lower():
        return ""  # "第二个注意力头" in a BERT conversation is not about the list
    if topic and topic.lower() not in item.lower():
        item = f"{topic} {item}"
    rest = question[: where.start()] + question[where.end() :]
    if not re.sub(r"[\s呢吗啊呀？?。.!！]|\b(?:and|what about|how about)\b", "", rest, flags=re.I):  # "第一个呢？"
        return f"{item} 是什么？" if language_of(question) == "zh" else f"What is {item}?"
    return (question[: where.start()] + item + question[where.end() :]).strip()
