"""Live demo tools for the tutor: attention, n-gram scoring and masking.

Each demo is a pure computation module (numpy, float64) with a result object that has
`to_dict()` (JSON; ±inf as the strings "-inf"/"inf"), `to_table()` (a readable terminal table)
and `summary()` (a short observation for a student):

    tutor.tools.attention   scaled dot-product / multi-head attention, attention_from_text
    tutor.tools.ngram       n-gram LMs (MLE, add-k, interpolated Kneser-Ney) on the course notes
    tutor.tools.masking     causal / padding masks, BERT masked-LM corruption and statistics
    tutor.tools.parsing     loose student text ("Q=[[1,0],[0,1]]，K=…") -> validated arguments
    tutor.tools.errors      DemoInputError: one bilingual message per bad input
    tutor.tools.plotting    heatmap PNGs (matplotlib Agg, CJK font fallback)
    tutor.tools.langchain_tools   the LangChain tools `attention`, `ngram`, `mask` (DEMO_TOOLS)
    tutor.tools.cli         the `demo_app` Typer app: `tutor demo attention|ngram|mask`

Names below are imported lazily so `import tutor.tools` stays cheap (no langchain, jieba, matplotlib).
"""

from __future__ import annotations

import importlib
from typing import Any

from tutor.tools.errors import DemoInputError

_LAZY = {
    "attention_from_text": ("tutor.tools.attention", "attention_from_text"),
    "scaled_dot_product_attention": ("tutor.tools.attention", "scaled_dot_product_attention"),
    "multi_head_attention": ("tutor.tools.attention", "multi_head_attention"),
    "score_sentence": ("tutor.tools.ngram", "score_sentence"),
    "compare_sentences": ("tutor.tools.ngram", "compare_sentences"),
    "causal_mask": ("tutor.tools.masking", "causal_mask"),
    "padding_mask": ("tutor.tools.masking", "padding_mask"),
    "combined_mask": ("tutor.tools.masking", "combined_mask"),
    "mlm_corrupt": ("tutor.tools.masking", "mlm_corrupt"),
    "mlm_statistics": ("tutor.tools.masking", "mlm_statistics"),
    "attention_tool": ("tutor.tools.langchain_tools", "attention_tool"),
    "ngram_tool": ("tutor.tools.langchain_tools", "ngram_tool"),
    "mask_tool": ("tutor.tools.langchain_tools", "mask_tool"),
    "DEMO_TOOLS": ("tutor.tools.langchain_tools", "DEMO_TOOLS"),
    "demo_app": ("tutor.tools.cli", "demo_app"),
}

__all__ = ["DemoInputError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'tutor.tools' has no attribute {name!r}")
