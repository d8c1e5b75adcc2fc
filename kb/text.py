"""Chinese-aware tokens for BM25: jieba segmentation, lower-cased mixed Chinese/English, and a
glossary that maps the lecture transcript's speech-recognition mis-hearings to the correct terms.

The glossary is applied to both the indexed text and the query, so a student who types "LoRA",
"LangChain" or "embedding" finds the transcript passages where the recogniser wrote "Laura",
"南欠" or "in bedding", and "GPT-2", "GPT 2" and "gpt2" are one token.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from functools import lru_cache

import jieba

jieba.setLogLevel(logging.WARNING)

# (pattern on lower-cased text, canonical form). Order matters: longer forms first.
GLOSSARY: list[tuple[str, str]] = [
    (r"南欠|能欠|蓝欠|lang\s*chain", " langchain "),
    (r"\bq\s*lora\b", " qlora lora "),
    # PEFT (parameter-efficient fine-tuning): the recogniser writes "PFT" (e.g. "PFT的一些主流方案").
    (r"\bpeft\b|\bpft\b|\bparameter[-\s]*efficient\s+fine[-\s]*tuning\b", " peft 高效微调 "),
    (r"\blaura\b|\blo\s*ra\b|\bora\b", " lora "),
    # The recogniser's prompt tuning ("prom 2", "prom tuning") and prefix tuning ("prefix 20").
    (r"\bprom(?:pt)?\s*(?:2|two|tuning|-tuning)", " prompt tuning 提示微调 "),
    (r"\bprefix\s*(?:20|tuning|-tuning)\b", " prefix tuning 前缀微调 "),
    (r"\bin\s*(?:bedding|padding|betting)s?\b|\bebdon\b|\bembeds?\b|\bembedding\b", " embedding "),
    (r"嵌入", " 嵌入 embedding "),
    (r"\bword\s*(?:to|2)\s*(?:vec|vex|left)\b|\bword\s*wear\b|\bword2vec\b", " word2vec "),
    (r"\bn\s*[-‐]?\s*grams?\b", " ngram "),
    (r"\buni\s*[-]?\s*grams?\b", " unigram ngram "),
    (r"\b(?:bi|by)\s*[-]?\s*grams?\b", " bigram ngram "),
    (r"\b(?:tri|tride|tree)\s*[-]?\s*grams?\b", " trigram ngram "),
    (r"\bone\s*[-]?\s*hot\b|独热", " onehot "),
    (r"\bgpt\s*[-]?\s*(\d(?:\.\d)?)", r" gpt\1 "),
    (r"\bchat\s*gpt\b", " chatgpt "),
    (r"\bgbt\b", " gpt "),
    (r"\b(?:gt|cpt)\s*-?\s*(\d(?:\.\d)?)(?![\d])", r" gpt\1 "),  # the recogniser's "GT3", the notes' "CPT-3.5"
    (r"\blama\b", " llama "),
    (r"\bbengel\b|\bbenjy\b", " bengio "),
    (r"\bbirt\b", " bert "),
    (r"\bencode\s+decode\b", " encoder decoder 编码器 解码器 "),
    (r"大元模型", " 大元模型 大语言模型 "),
    (r"自助毅力", " 自注意力 "),
    (r"\bgpt\s*one\b", " gpt1 "),
    (r"\bgpt\s*two\b", " gpt2 "),
    (r"\bgpt\s*three\b", " gpt3 "),
    (r"\bself\s*[-]?\s*attention\b", " selfattention 自注意力 "),
    (r"\bmu(?:l)?ti\s*[-]?\s*head", " multihead 多头 "),  # also the recogniser's "muti head"
    (r"\bfine\s*[-]?\s*tun(?:e|ing)\b|\bfinetun(?:e|ing)\b", " finetuning 微调 "),
    (r"\bpre\s*[-]?\s*train(?:ing|ed)?\b", " pretraining 预训练 "),
    (r"\btransformers?\b", " transformer "),
    (r"\bbert\b", " bert "),
    # English course terms also index as their Chinese names, so English questions reach Chinese notes.
    # FFN: the recogniser also wrote "fit over" for "feed forward".
    (r"\bfeed\s*-?\s*forward\b|\bffn\b|\bfit\s+over\b", " feedforward 前馈 "),
    (r"\bseq\s*2\s*seq\b|\bsequence\s+to\s+sequence\b", " seq2seq 序列到序列 "),
    (r"\bsoft\s+max\b", " softmax "),
    (r"\bcontext\s+vectors?\b", " 上下文向量 "),
    (r"\bdot\s*-?\s*products?\b", " 点积 "),
    (r"\bauto\s*-?\s*regressive\b", " 自回归 "),
    (r"\bauto\s*-?\s*encod(?:ing|er|ers)\b", " 自编码 "),
    # Students say 全参数微调 for what the lecture calls 全量微调 (full fine-tuning).
    (r"全参数?微调|\bfull\s+(?:parameter\s+)?fine[-\s]*tuning\b", " 全量微调 "),
    (r"\bpositional\s+encodings?\b|\bposition\s+encodings?\b", " positional 位置编码 "),
    (r"\blanguage\s+models?\b", " languagemodel 语言模型 "),
    (r"\bvanishing\s+gradients?\b|\bgradients?\s+vanish\w*", " 梯度消失 "),
    (r"\blong[-\s]+(?:range|term|distance)\s+dependenc\w*", " 长距离依赖 "),
    (r"\bin[-\s]*context\s+learning\b", " incontextlearning 上下文学习 "),
    (r"\bchain[-\s]+of[-\s]+thought\b", " cot 思维链 "),
    (r"\bzero[-\s]*shot\b", " zeroshot 零样本 "),
    (r"\bfew[-\s]*shot\b", " fewshot 少样本 "),
    (r"\breinforcement\s+learning\b", " 强化学习 "),
    (r"\bhuman\s+feedback\b", " 人类反馈 "),
    (r"\breward\s+models?\b", " 奖励模型 "),
    (r"\bnext\s+sentence\s+prediction\b", " nsp 下一句预测 "),
    # The scaling factor of attention: the notes write "\sqrt{d_k}" and "d_k", students "根号 dk", "√dk".
    (r"\\?sqrt\s*[{(]?\s*d\s*_?\s*\{?k\}?\s*[})]?|√\s*[{(]?\s*d\s*_?\s*\{?k\}?\s*[})]?", " 根号 dk "),
    (r"\bd\s*_\s*\{?k\}?(?![a-z0-9])", " dk "),
    (r"\bmasked\s+language\s+model\w*|\bmasked\s+lm\b", " mlm 掩码语言模型 "),
]

# Bilingual term pairs: an English word also indexes as its Chinese course term.
TERM_PAIRS = {
    "attention": "注意力", "encoder": "编码器", "encoders": "编码器", "decoder": "解码器", "decoders": "解码器",
    "mask": "掩码", "masked": "掩码", "masking": "掩码", "parameters": "参数", "parameter": "参数", "params": "参数",
    "layers": "层", "layer": "层", "heads": "头", "head": "头", "tokens": "词", "token": "词", "vocabulary": "词表",
    "probability": "概率", "probabilities": "概率", "sentence": "句子", "translation": "翻译", "training": "训练",
    "pretrain": "预训练", "inference": "推理", "weights": "权重", "weight": "权重", "vector": "向量", "vectors": "向量",
    "similarity": "相似度", "cosine": "余弦", "matrix": "矩阵", "softmax": "softmax", "neural": "神经网络",
    "network": "网络", "recurrent": "循环神经网络", "gradient": "梯度", "dependencies": "依赖", "dependency": "依赖",
    "tasks": "任务", "task": "任务", "classification": "分类", "prompt": "提示词", "instruction": "指令",
    "supervised": "监督", "generation": "生成", "generative": "生成", "bidirectional": "双向", "agent": "智能体",
    "agents": "智能体", "cost": "成本", "dataset": "数据集", "data": "数据",
    "markov": "马尔可夫", "assumption": "假设", "stage": "阶段", "stages": "阶段", "reward": "奖励", "memory": "显存",
    "limitation": "局限", "limitations": "局限", "drawback": "缺点", "drawbacks": "缺点", "disadvantages": "缺点",
    "advantage": "优点", "advantages": "优点", "parallel": "并行", "parallelize": "并行", "parallelized": "并行",
    "sequential": "串行", "dimension": "维度", "dimensions": "维度", "sparse": "稀疏", "semantic": "语义",
    "semantics": "语义", "context": "上下文", "window": "窗口", "scaled": "缩放", "scale": "缩放",
    "residual": "残差", "normalization": "归一化", "feedback": "反馈", "human": "人类", "labels": "标注",
    "annotation": "标注", "ranking": "排序", "rank": "秩", "matrices": "矩阵", "principle": "原理",
    "paper": "论文", "papers": "论文", "generate": "生成", "generates": "生成", "generating": "生成",
    "article": "文章", "articles": "文章", "understanding": "理解",
    # Abbreviations students type for terms the notes also write out in Chinese.
    "lstm": "长短期记忆", "cnn": "卷积", "llm": "大语言模型",
    "llms": "大语言模型", "alignment": "对齐", "cot": "思维链", "sft": "监督微调", "rlhf": "人类反馈",
}
# `\b` would not fire between a Chinese character and a Latin letter ("是one hot" has no \w boundary),
# so glossary patterns use an ASCII-only word boundary instead.
_ASCII_B = r"(?:(?<![a-z0-9])(?=[a-z0-9])|(?<=[a-z0-9])(?![a-z0-9]))"
_GLOSSARY = [(re.compile(p.replace(r"\b", _ASCII_B)), r) for p, r in GLOSSARY]

# A Chinese course term's English name: where the glossary writes the two together (" finetuning 微调 "),
# else the first English word TERM_PAIRS gives it ("注意力" → attention). The notes name a term in either
# language ("fine-tuning是一种…", "微调是教你开饭店的"), so a question about one also looks for the other.
_PAIRED = re.compile(r" ([a-z0-9]+) ([\u4e00-\u9fff]+) ")
ENGLISH_NAMES = {
    **{zh: en for en, zh in reversed(list(TERM_PAIRS.items())) if en != zh},
    **{m.group(2): m.group(1) for _, rep in GLOSSARY if (m := _PAIRED.fullmatch(rep))},
}


def unpair(normalized: str) -> str:
    """`normalize_terms` output with each glossary pair written once, in Chinese: " finetuning 微调 是一种"
    → "微调是一种" (so a sentence can be read as opening with the Chinese term)."""
    out = _PAIRED.sub(lambda m: m.group(2) if ENGLISH_NAMES.get(m.group(2)) == m.group(1) else m.group(0), normalized)
    return out.strip()


_ALNUM_PARTS = re.compile(r"[a-z]+|[0-9]+")

DOMAIN_WORDS = [
    "注意力机制", "自注意力", "多头注意力", "缩放点积", "点积注意力", "掩码", "预训练", "微调", "全量微调",
    "指令微调", "提示微调", "思维链", "语言模型", "统计语言模型", "神经网络语言模型", "马尔可夫假设",
    "词向量", "词嵌入", "位置编码", "编码器", "解码器", "前馈网络", "残差连接", "层归一化", "上下文学习",
    "零样本", "少样本", "强化学习", "人类反馈", "奖励模型", "困惑度", "独热编码", "分布式表示", "循环神经网络",
    "梯度消失", "梯度爆炸", "长短期记忆", "大模型", "参数量", "下一句预测", "掩码语言模型", "智能体", "自编码", "自回归",
]

STOPWORDS = set(
    "的 了 是 在 和 与 或 及 就 也 都 而 把 被 让 给 对 从 到 这 那 这个 那个 一个 一种 我们 你们 他们 它们 我 你 他 她 它 "
    "吗 呢 吧 啊 呀 嘛 么 什么 怎么 怎样 如何 为什么 哪些 哪个 有 没有 会 能 可以 要 还 又 很 更 最 其实 然后 就是 "
    "所以 因为 如果 但是 但 并 等 等等 之 其 中 上 下 里 个 些 请 一下 说说 讲讲 介绍 解释 一 二 "
    "谁 哪 哪里 哪一年 一年 多少 多大 有多大 几 分别 是否 啥 呀 做 做了 怎么样 是不是 什么样 "
    "what how why which does do did please explain "
    # English function words: they matched every English sentence of the notes
    "a an the is are was were be been being am of in on at to for with by from as and or but if then so "
    "it its this that these those there here their they them we you your i me my he she his her our us "
    "can could should would will shall may might must not no yes about into than too very just also "
    "who whom whose when where tell give show "
    # Words that point at the course itself ("笔记里说…", "老师说…", "课件里…"), not at its content
    "笔记 课件 老师 课上 讲义 课堂".split()
)
_TOKEN_OK = re.compile(r"[\w\u4e00-\u9fff]", re.U)
_init_lock = threading.Lock()
# Our own segmenter instance: the domain words added here must not change how other code that uses
# jieba's global dictionary (e.g. the n-gram demo) segments text.
_segmenter = jieba.Tokenizer()
_initialised = False


# Model sizes are written both ways in the notes and by students: "65B" / "650亿", "1.5B" / "15亿".
# A size in billions also indexes as the same number of 亿 (and so matches it in either language).
_BILLIONS = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*b(?![a-z0-9])")


def _billions(m: re.Match) -> str:
    return f"{m.group(0)} {float(m.group(1)) * 10:g}亿"


# A fingerprint of everything above that decides the tokens. Ingest stores it with the collection and
# re-tokenizes an existing index when it changes (the chunk ids, hashes of the text, would not change).
TOKENIZER_VERSION = hashlib.sha1(
    repr((GLOSSARY, sorted(TERM_PAIRS.items()), DOMAIN_WORDS, sorted(STOPWORDS), _BILLIONS.pattern, jieba.__version__)).encode()
).hexdigest()[:12]


def _ensure_jieba() -> None:
    global _initialised
    if _initialised:
        return
    with _init_lock:
        if not _initialised:
            _segmenter.initialize()
            for w in DOMAIN_WORDS:
                _segmenter.add_word(w, freq=20000)
            _initialised = True


def normalize_terms(text: str) -> str:
    """Lower-case and map known mis-spellings / variants to canonical terms."""
    t = text.lower()
    for pat, rep in _GLOSSARY:
        t = pat.sub(rep, t)
    return _BILLIONS.sub(_billions, t)


@lru_cache(maxsize=4096)
def _tokenize_cached(text: str) -> tuple[str, ...]:
    _ensure_jieba()
    out: list[str] = []
    for tok in _segmenter.cut_for_search(normalize_terms(text)):
        tok = tok.strip()
        if not tok or tok in STOPWORDS or not _TOKEN_OK.search(tok):
            continue
        out.append(tok)
        if tok.isascii() and tok.isalnum() and not tok.isalpha() and not tok.isdigit():
            out.extend(_ALNUM_PARTS.findall(tok))  # "nnlm2003" also indexes as "nnlm", "2003"
        zh = TERM_PAIRS.get(tok)
        if zh:
            out.append(zh)
    return tuple(out)


def tokenize(text: str) -> list[str]:
    """BM25 tokens: jieba search-mode words (overlapping sub-words included), lower-cased, glossary
    applied, stop words and punctuation dropped."""
    return list(_tokenize_cached(text))
