"""Int8 CPU inference (models/quantize.py): a faithful, separate, inference-only copy of the model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn

from models.generate import Generator
from models.model import KVCache
from models.quantize import prepare_for_inference, quantize_int8
from models.testing import notes_tokenizer, tiny_model

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "checkpoints" / "agent"


@pytest.fixture(scope="module")
def pair():
    tok = notes_tokenizer(1024)
    model = tiny_model(tok, seed=3, block_size=64, n_embd=128)
    return model, quantize_int8(model), tok


def test_int8_copy_quantizes_every_linear_and_leaves_the_float_model_alone(pair):
    model, q, _ = pair
    float_linears = [m for m in model.modules() if type(m) is nn.Linear]
    assert len(float_linears) == 2 * model.config.n_layer * 2 + 1  # qkv, proj, gate_up, down per block + head
    assert not any(type(m) is nn.Linear for m in q.modules())  # all replaced by int8 dynamic linears
    assert all(m.weight.dtype == torch.float32 for m in float_linears)
    assert q.quantized == "int8" and not hasattr(model, "quantized")


@pytest.fixture(scope="module")
def shipped():
    from models.checkpoint import load_checkpoint

    model, tok = load_checkpoint(SHIPPED)
    return model, quantize_int8(model), tok


def _corr(a, b):
    return torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1].item()


def test_int8_logits_of_the_shipped_model_stay_close_to_float32(shipped):
    model, q, tok = shipped
    from models.data import load_documents

    ids = tok.encode("\n\n".join(t for _, t in load_documents()))
    agree = total = 0
    with torch.inference_mode():
        for s in range(0, 4000, 1000):  # four windows of course text, teacher-forced
            x = torch.tensor([ids[s : s + 200]])
            a, _ = model(x)
            b, _ = q(x)
            assert _corr(a, b) > 0.99
            agree += (a.argmax(-1) == b.argmax(-1)).sum().item()
            total += x.shape[1]
    assert agree / total > 0.8  # measured: ~0.89 on raw notes text


def test_int8_cached_decoding_tracks_uncached(shipped):
    # Dynamic quantization scales activations per call, so a one-token step and a full recomputation are
    # not bit-identical (float32 decoding is: test_models_generate); they must still agree closely.
    _, q, tok = shipped
    ids = tok.encode("Transformer 的自注意力机制")
    cache = KVCache(q.config, 1, 64)
    with torch.inference_mode():
        q(torch.tensor([ids]), cache=cache, last_only=True)
        for t in tok.encode("让每个词都能看到前面的词"):
            ids.append(t)
            step, _ = q(torch.tensor([[t]]), cache=cache, last_only=True)
            full, _ = q(torch.tensor([ids]))
            assert _corr(step[0, -1], full[0, -1]) > 0.99


def test_generator_loads_int8_and_generates(tmp_path, pair):
    from models.checkpoint import save_checkpoint

    model, _, tok = pair
    save_checkpoint(tmp_path / "ck", model, tok)
    g = Generator.from_checkpoint(tmp_path / "ck", quantize="int8")
    out = g.generate("注意力机制", max_new_tokens=8)
    assert len(out.token_ids) == 8
    assert not any(type(m) is nn.Linear for m in g.model.modules())


def test_unknown_mode_is_a_clear_error(pair):
    model, _, _ = pair
    with pytest.raises(ValueError, match="int8"):
        prepare_for_inference(model, "int4")
    assert prepare_for_inference(model, "none") is model


def test_tutor_falls_back_to_float32_when_int8_is_unavailable(monkeypatch, ingested_settings, caplog):
    import models.quantize as mq
    from tutor.api import Tutor

    def no_int8(model, inplace=False):
        raise RuntimeError("this PyTorch build has no x86 int8 kernels (fbgemm); use quantize='none'")

    monkeypatch.setattr(mq, "quantize_int8", no_int8)
    t = Tutor(ingested_settings)
    assert t.agent is not None
    assert any(type(m) is nn.Linear for m in t.agent.generator.model.modules())  # the float model
    assert "float32" in caplog.text
