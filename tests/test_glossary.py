"""The English names of the course terms an English answer quotes (tutor.glossary)."""

from __future__ import annotations

from tutor.agent.prompt import ANSWER_LEADS
from tutor.extractive import EXTRACTIVE_LABELS
from tutor.glossary import key_terms, with_key_terms, without_key_terms

LEADS = [ANSWER_LEADS["concept_en"], EXTRACTIVE_LABELS["en"]]


def test_key_terms_in_the_order_used_longest_first():
    text = "BERT是一个双向的预训练模型。自注意力机制……注意力权重"
    assert key_terms(text) == [("双向", "bidirectional"), ("预训练", "pre-training"), ("自注意力", "self-attention"),
                               ("注意力", "attention"), ("权重", "weights")]
    # 注意力 only inside 自注意力 is no second term; one English name is given once
    assert key_terms("自注意力") == [("自注意力", "self-attention")]
    assert key_terms("马尔可夫……马可夫") == [("马尔可夫", "Markov")]
    assert key_terms("没有术语的句子") == []
    assert len(key_terms("预训练 微调 编码器 解码器 注意力 掩码 参数 矩阵")) == 6


def test_the_lead_names_the_terms_and_the_quote_is_unchanged():
    answer = "According to the course notes: BERT是一个双向的预训练模型，用于语言理解任务。 [001_dc65fa8734990513.txt › BERT]"
    out = with_key_terms(answer, LEADS)
    assert out.startswith("According to the course notes (key terms: 双向 = bidirectional, 预训练 = pre-training): BERT是")
    assert out.endswith(answer[len(LEADS[0]):]) and without_key_terms(out) == answer
    # the terms of the citations' headings ("› 注意力机制 ›") are not the quote's
    cited = "According to the course notes: 有 15% 的词被遮蔽。 [002_98be9b8eab6b81d4.txt › 注意力机制 › BERT › 预训练]"
    assert with_key_terms(cited, LEADS).startswith("According to the course notes (key terms: 遮蔽 = masking): 有 15%")
    extractive = EXTRACTIVE_LABELS["en"] + "微调是教你开饭店的。 [003_fcbbed103810d7cb.txt]"
    out = with_key_terms(extractive, LEADS)
    assert out.startswith("From the course notes (extractive, quoted in the notes' language; key terms: 微调 = fine-tuning): 微调是")
    assert without_key_terms(out) == extractive
    # another opening, or no course term: unchanged
    assert with_key_terms("根据课程笔记：BERT是一个双向的预训练模型。", LEADS) == "根据课程笔记：BERT是一个双向的预训练模型。"
    assert with_key_terms("According to the course notes: GPT-3 175B", LEADS) == "According to the course notes: GPT-3 175B"
