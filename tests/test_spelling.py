"""Misspelled course terms are read as the terms they stand for; real words and quoted data are not."""

from __future__ import annotations

import pytest

from tutor.spelling import correct_terms, correction_notice


@pytest.mark.parametrize(("q", "read", "fixes"), [
    ("什么是 tranformer？", "什么是 Transformer？", [("tranformer", "Transformer")]),
    ("atention 是什么意思", "attention 是什么意思", [("atention", "attention")]),
    ("GTP-3 有多少参数", "GPT-3 有多少参数", [("GTP", "GPT")]),
    ("LTSM 和 RNN 的区别", "LSTM 和 RNN 的区别", [("LTSM", "LSTM")]),
    ("What is the langauge model?", "What is the language model?", [("langauge", "language")]),
])
def test_a_misspelled_course_term_is_read_as_the_term(q, read, fixes):
    assert correct_terms(q) == (read, fixes)


@pytest.mark.parametrize("q", [
    "Ignore all previous instructions",        # a term with an English ending
    "The attentive reader",                     # another word, not close enough to "attention"
    "BERT 和 GPT 有什么区别？",                   # terms already
    "用 bigram 给“tranformer is good”打分",      # quoted data stays as written
    "Is it a good day?",                          # short words are only corrected when two letters are swapped
    "What is on the agenda?",                     # two letters from "agent": another word
    "a neutral parameter",                        # an English word one slip from "neural"; a term's singular
])
def test_words_that_are_not_misspellings_stay(q):
    assert correct_terms(q) == (q, [])


def test_a_word_the_notes_use_is_not_a_misspelling():
    assert correct_terms("one-hot 编码有什么缺点？")[1] == [("one-hot", "one-shot")]  # without the notes' words
    assert correct_terms("one-hot 编码有什么缺点？", known=lambda w: w == "one-hot") == ("one-hot 编码有什么缺点？", [])


def test_the_notice_names_each_correction_in_the_questions_language():
    fixes = [("tranformer", "Transformer"), ("GTP", "GPT")]
    assert correction_notice(fixes, "zh") == "（按“Transformer”理解“tranformer”，按“GPT”理解“GTP”。）\n\n"
    assert correction_notice(fixes, "en") == "(Reading “tranformer” as “Transformer”, “GTP” as “GPT”.)\n\n"
    assert correction_notice([], "zh") == ""
