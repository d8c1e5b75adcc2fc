"""Interface strings in Chinese (first) and English, and a registry that re-labels Gradio components
when the student flips the language switch."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

TEXT: dict[str, tuple[str, str]] = {
    "header": (
        "## 🎓 课程助教\n大模型基础课程的助教：回答课程问题（附笔记出处），也能现场演示注意力、n-gram 和掩码。",
        "## 🎓 Course tutor\nThe LLM-fundamentals course tutor: answers course questions with citations from the notes, and runs live attention, n-gram and masking demos.",
    ),
    "tab_chat": ("💬 对话", "💬 Chat"),
    "tab_demos": ("🧪 演示", "🧪 Demos"),
    "tab_about": ("ℹ️ 接入", "ℹ️ API & widget"),
    "chatbot": ("课程助教", "Course tutor"),
    "placeholder_chat": (
        "### 👋 你好！\n问我任何大模型课程的问题，或者点下面的示例。每个回答都会列出用到的笔记和章节。",
        "### 👋 Hi!\nAsk me anything about the LLM course, or click an example below. Every answer lists the notes and sections it used.",
    ),
    "question": ("输入问题，按 Enter 发送", "Type a question and press Enter"),
    "send": ("发送", "Send"),
    "new_chat": ("➕ 新对话", "➕ New conversation"),
    "examples": ("示例问题（点击即问）", "Example questions (click to ask)"),
    "thinking": ("🤔 思考中…", "🤔 Thinking…"),
    # demos
    "demo_intro": (
        "在这里直接玩这些工具：改动输入，结果和热力图会立即更新。",
        "Play with the tools directly: change the inputs and the results and heatmaps update.",
    ),
    "tab_att": ("注意力", "Attention"),
    "tab_ngram": ("n-gram 打分", "n-gram scoring"),
    "tab_mask": ("BERT 掩码", "BERT masking"),
    "tab_gpt": ("助教 GPT 的注意力", "The tutor GPT's attention"),
    "att_mode": ("输入方式", "Input"),
    "att_sentence": ("句子（用它的词构造 Q/K/V）", "Sentence (toy Q/K/V from its words)"),
    "att_causal": ("因果掩码（不能看后面的词）", "Causal mask (no looking ahead)"),
    "att_heads": ("头数（需整除维度）", "Heads (must divide the width)"),
    "att_heat": ("注意力权重热力图", "Attention-weight heatmap"),
    "att_weights": ("注意力权重（每行和为 1）", "Attention weights (rows sum to 1)"),
    "ng_sentence": ("要打分的句子", "Sentence to score"),
    "ng_compare": ("对比句（可选）", "Sentence to compare (optional)"),
    "ng_n": ("n（2 = 二元 bigram）", "n (2 = bigram)"),
    "ng_smoothing": ("平滑方法", "Smoothing"),
    "ng_k": ("k（加 k 平滑）", "k (add-k)"),
    "ng_table": ("每个词的条件概率", "Per-token probabilities"),
    "run": ("计算", "Compute"),
    "mk_sentence": ("句子", "Sentence"),
    "mk_seed": ("随机种子（同一种子结果相同）", "Seed (same seed, same result)"),
    "mk_rate": ("选中比例（BERT 用 15%）", "Share selected (BERT: 15%)"),
    "mk_table": ("逐词结果", "Token by token"),
    "gpt_sentence": ("句子", "Sentence"),
    "gpt_layer": ("层", "Layer"),
    "gpt_head": ("头", "Head"),
    "gpt_heat": ("助教 GPT 的注意力热力图", "The tutor GPT's attention heatmap"),
    "lang": ("语言 / Language", "Language / 语言"),
}

EXAMPLES = {
    "zh": [
        "什么是自注意力？它是怎么计算的？",
        "BERT 和 GPT 有什么区别？",
        "为什么需要位置编码？",
        "Q=[[1,0],[0,1]]，K=[[1,0],[0,1]]，V=[[1,2],[3,4]]，算一下注意力",
        "用二元模型和 KN 平滑给 “注意力机制很重要” 打分",
        "BERT 掩码 “注意力机制是 Transformer 的核心” seed=1",
    ],
    "en": [
        "What is self-attention and how is it computed?",
        "How do BERT and GPT differ?",
        "Why do Transformers need positional encoding?",
        "Q=[[1,0],[0,1]], K=[[1,0],[0,1]], V=[[1,2],[3,4]]: compute attention",
        'Score "注意力机制很重要" with a bigram model and Kneser-Ney smoothing',
        'Mask "attention is all you need" BERT-style with seed 1',
    ],
}


def tr(key: str, lang: str) -> str:
    zh, en = TEXT[key]
    return en if lang == "en" else zh


class Labels:
    """Remember which property of which component shows which string; `updates(lang)` re-labels them all."""

    def __init__(self) -> None:
        self._items: OrderedDict[int, tuple[Any, dict[str, str]]] = OrderedDict()

    def __call__(self, component, **props: str):
        entry = self._items.setdefault(id(component), (component, {}))
        entry[1].update(props)
        return component

    @property
    def components(self) -> list:
        return [c for c, _ in self._items.values()]

    def updates(self, lang: str) -> list[dict]:
        import gradio as gr

        return [gr.update(**{prop: tr(key, lang) for prop, key in props.items()}) for _, props in self._items.values()]
