"""Ordinal follow-ups ("第二个任务具体是什么？", "Explain the second one."): the list is read out of the
previous answer and the question is put about the item it points at."""

from __future__ import annotations

import pytest

from tutor.ordinals import LAST, list_items, ordinal_of, rewrite_ordinal

BERT_TASKS = ("根据课程笔记：预训练任务：** **BERT**：BERT采用了两个预训练任务，即遮蔽语言建模（Masked Language "
              "Modeling，MLM）和下一句预测（Next Sentence Prediction，NSP）。在MLM任务中，BERT在输入句子中随机遮蔽"
              "一些单词。\n\n[001_dc65fa8734990513.txt › bert和gpt的区别]")


@pytest.mark.parametrize("question, position", [
    ("第二个任务具体是什么？", 2), ("第 3 种呢", 3), ("第三阶段做什么", 3), ("最后一个呢？", LAST),
    ("前者是什么", 1), ("后者呢", LAST), ("Explain the second one.", 2), ("what about the last stage?", LAST),
    ("And the 1st?", 1),
])
def test_positions_as_students_name_them(question, position):
    assert ordinal_of(question)[0] == position


@pytest.mark.parametrize("question", ["BERT 的预训练任务有哪些？", "注意力第一次用在哪个任务上", "第三代 GPT 有多大",
                                      "Transformer 第 2 层学到了什么", "second-order methods?"])
def test_no_position_named(question):
    assert ordinal_of(question) is None


def test_lists_in_the_shapes_the_notes_write_them():
    assert list_items(BERT_TASKS) == ["遮蔽语言建模（Masked Language Modeling，MLM）", "下一句预测（Next Sentence Prediction，NSP）"]
    assert list_items("ChatGPT 的训练分为三个阶段：有监督微调（SFT）、奖励模型（RM）和强化学习（PPO）。") == [
        "有监督微调（SFT）", "奖励模型（RM）", "强化学习（PPO）"]
    assert list_items("微调的技术路线一共有两个。一个叫做全量微调，一个叫做高效微调。") == ["全量微调", "高效微调"]
    assert list_items("RNN 的问题：一是梯度消失；二是无法并行计算。") == ["梯度消失", "无法并行计算"]
    assert list_items("首先做有监督微调，其次训练奖励模型，最后用强化学习优化。") == ["做有监督微调", "训练奖励模型", "用强化学习优化"]


def test_prose_is_not_a_list():
    # a count that does not match the items, a bare "即" in running text, a lone "第一"
    assert list_items("BERT 有两个特点，即双向、深层、预训练。") == []
    assert list_items("这是一个监督学习过程，即通过人工标注的训练数据集来调整模型的参数。") == []
    assert list_items("简单的第一个最直观的分类就是有监督有标签，无监督没标签。") == []


def test_the_ordinal_becomes_the_item_it_points_at():
    assert rewrite_ordinal("第二个任务具体是什么？", BERT_TASKS, "BERT") == "BERT 下一句预测（Next Sentence Prediction，NSP）任务具体是什么？"
    assert rewrite_ordinal("第一个呢？", BERT_TASKS, "BERT") == "BERT 遮蔽语言建模（Masked Language Modeling，MLM） 是什么？"
    assert rewrite_ordinal("What about the first one?", BERT_TASKS, "BERT") == "What is BERT 遮蔽语言建模（Masked Language Modeling，MLM）?"
    assert rewrite_ordinal("后者是什么", BERT_TASKS, "BERT") == "BERT 下一句预测（Next Sentence Prediction，NSP）是什么"
    # the topic is not repeated when the item names it
    assert rewrite_ordinal("第二种是怎么做的？", "技术路线一共有两个。一个叫做全量微调，一个叫做高效微调。", "微调") == "高效微调是怎么做的？"


def test_no_rewrite_when_it_cannot_be_told():
    assert rewrite_ordinal("第三个呢", BERT_TASKS, "BERT") == ""  # the list has two
    assert rewrite_ordinal("第二个注意力头是什么", BERT_TASKS, "BERT") == ""  # names another subject
    assert rewrite_ordinal("第二个呢", "根据课程笔记：BERT 是双向的编码器。", "BERT") == ""  # no list
    assert rewrite_ordinal("它有什么缺点？", BERT_TASKS, "BERT") == ""  # no position
