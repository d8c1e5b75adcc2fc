"""The tutor's own GPT: a decoder-only Transformer, its tokenizer, training and generation (torch only)."""
