"""Export to transformers: a library nobody here wrote must compute the same logits as our forward pass."""

from __future__ import annotations

import pytest
import torch

from models.export import export_hf, main
from models.generate import Generator
from models.testing import notes_tokenizer, tiny_model

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tok = notes_tokenizer(1024)
    model = tiny_model(tok, seed=5, block_size=64)
    out = export_hf(model, tok, tmp_path_factory.mktemp("hf") / "llama")
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    return model, tok, hf, out


def test_logits_match_transformers(exported):
    model, tok, hf, _ = exported
    assert type(hf).__name__ == "LlamaForCausalLM"
    texts = ["注意力机制是Transformer的核心。", "GPT predicts the next token, 一个接一个。", "<|bos|><|user|>你好<|assistant|>"]
    for t in texts:
        x = torch.tensor([tok.encode(t)])
        with torch.no_grad():
            ours, _ = model(x)
            theirs = hf(x).logits
        assert (ours - theirs).abs().max().item() < 1e-4
    x = torch.randint(0, tok.vocab_size, (2, 64))  # a full context window, batched
    with torch.no_grad():
        assert (model(x)[0] - hf(x).logits).abs().max().item() < 1e-4


def test_greedy_generation_matches_transformers(exported):
    model, tok, hf, _ = exported
    prompt = tok.encode("注意力机制")
    ours = Generator(model, tok).generate(prompt, max_new_tokens=15, stop_at_eos=False)
    out = hf.generate(torch.tensor([prompt]), max_new_tokens=15, do_sample=False, eos_token_id=None,
                      pad_token_id=tok.pad_id, suppress_tokens=[tok.pad_id])
    assert out[0, len(prompt):].tolist() == ours.token_ids


def test_tokenizer_loads_in_transformers(exported):
    _, tok, _, out = exported
    ht = transformers.AutoTokenizer.from_pretrained(str(out))
    s = "注意力 Attention <|user|>你好 🤖"
    assert ht(s, add_special_tokens=False)["input_ids"] == tok.encode(s)
    assert ht.decode(tok.encode(s)) == s
    assert ht.eos_token == "<|eos|>" and ht.pad_token_id == 0


def test_export_cli_error_on_missing_checkpoint(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), str(tmp_path / "out")]) == 2
    assert "python -m models.train" in capsys.readouterr().err
