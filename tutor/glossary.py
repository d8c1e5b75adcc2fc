"""English names of the course's Chinese terms, for students who ask in English.

The notes are Chinese, so an English question is answered with Chinese quotes. `with_key_terms` puts the
English names of the course terms those quotes use into the answer's lead ("According to the course
notes (key terms: 预训练 = pre-training, 微调 = fine-tuning): …"), so a reader who does not read Chinese
can still follow which concepts the passage is about. The names are the standard English terms of the
field, not claims about the course: the quotes stay the notes' own words.
"""

from __future__ import annotations

import re

from tutor.schema import CITATION

# Chinese course term → its English name. Longer terms are matched before the shorter ones inside them.
KEY_TERMS: dict[str, str] = {
    "自注意力": "self-attention",
    "多头注意力": "multi-head attention",
    "缩放点积": "scaled dot-product",
    "注意力机制": "attention mechanism",
    "注意力": "attention",
    "编码器": "encoder",
    "解码器": "decoder",
    "掩码语言模型": "masked language model",
    "掩码": "mask",
    "遮蔽": "masking",
    "下一句预测": "next sentence prediction",
    "预训练": "pre-training",
    "全量微调": "full fine-tuning",
    "高效微调": "parameter-efficient fine-tuning",
    "指令微调": "instruction tuning",
    "提示微调": "prompt tuning",
    "前缀微调": "prefix tuning",
    "微调": "fine-tuning",
    "统计语言模型": "statistical language model",
    "神经网络语言模型": "neural network language model",
    "大语言模型": "large language model",
    "语言模型": "language model",
    "条件概率": "conditional probability",
    "概率分布": "probability distribution",
    "概率": "probability",
    "马尔可夫假设": "Markov assumption",
    "马尔可夫": "Markov",
    "马可夫假设": "Markov assumption",
    "马可夫": "Markov",
    "词向量": "word vector",
    "词嵌入": "word embedding",
    "分布式表示": "distributed representation",
    "独热编码": "one-hot encoding",
    "位置编码": "positional encoding",
    "循环神经网络": "recurrent neural network",
    "神经网络": "neural network",
    "梯度消失": "vanishing gradient",
    "长距离依赖": "long-range dependency",
    "隐藏状态": "hidden state",
    "上下文向量": "context vector",
    "前馈": "feed-forward",
    "残差": "residual",
    "归一化": "normalization",
    "并行": "parallel",
    "双向": "bidirectional",
    "单向": "unidirectional",
    "自回归": "autoregressive",
    "自编码": "autoencoding",
    "上下文学习": "in-context learning",
    "思维链": "chain of thought",
    "零样本": "zero-shot",
    "少样本": "few-shot",
    "强化学习": "reinforcement learning",
    "人类反馈": "human feedback",
    "奖励模型": "reward model",
    "监督": "supervised",
    "智能体": "agent",
    "参数": "parameters",
    "权重": "weights",
    "矩阵": "matrix",
    "向量": "vector",
    "稀疏": "sparse",
    "语义": "semantics",
    "显存": "GPU memory",
    "算力": "compute",
    "推理": "inference",
    "生成": "generation",
    "翻译": "translation",
    "对齐": "alignment",
    "序列": "sequence",
    "词表": "vocabulary",
}
MAX_KEY_TERMS = 6
# leftmost match first; of the terms starting there, the longest (the alternatives are tried in this order)
_TERM = re.compile("|".join(re.escape(t) for t in sorted(KEY_TERMS, key=len, reverse=True)))


def key_terms(text: str, most: int = MAX_KEY_TERMS) -> list[tuple[str, str]]:
    """The course terms `text` uses, in the order it first uses them, as (Chinese, English). The text is read
    left to right taking the longest term at each place, so 注意力 inside 自注意力 is no second term and
    自注意力机制 is 自注意力; a second term with the same English name (马可夫, the transcript's spelling,
    after 马尔可夫) is left out."""
    out: list[tuple[str, str]] = []
    for m in _TERM.finditer(text):
        term = m.group(0)
        if all(KEY_TERMS[term] != en for _, en in out):
            out.append((term, KEY_TERMS[term]))
            if len(out) == most:
                break
    return out


def with_key_terms(answer: str, leads: list[str]) -> str:
    """`answer` with the English names of the course terms it quotes added to its lead (the first of `leads`
    it opens with): "According to the course notes: …" → "According to the course notes (key terms:
    预训练 = pre-training, …): …". Unchanged when it opens with none of them or quotes no course term."""
    lead = next((l for l in leads if answer.startswith(l)), None)
    if lead is None:
        return answer
    terms = key_terms(CITATION.sub("", answer[len(lead):]))  # the quote's terms, not its citations' headings
    if not terms:
        return answer
    names = ", ".join(f"{zh} = {en}" for zh, en in terms)
    head = lead.rstrip()
    if head.endswith("):"):  # "From the course notes (extractive, …):" → "(extractive, …; key terms: …):"
        new = f"{head[:-2]}; key terms: {names}): "
    elif head.endswith(":"):
        new = f"{head[:-1]} (key terms: {names}): "
    else:
        return answer
    return new + answer[len(lead):]


_KEY_TERMS_NOTE = re.compile(r" \(key terms: [^()]*\)(?=:)|; key terms: [^()]*(?=\):)")


def without_key_terms(answer: str) -> str:
    """`answer` with the key-terms note `with_key_terms` added taken out again (its lead as it was)."""
    return _KEY_TERMS_NOTE.sub("", answer, count=1)
