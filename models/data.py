"""Training data: the course notes for pre-training, JSONL conversations for supervised fine-tuning (SFT).

Pre-training (the corpus is only ~100 k characters, so a 14 M-parameter model could memorise it):

* cleaning — front matter, HTML tags and empty list debris are removed (``clean_text``);
* held-out text — the last ``val_fraction`` of every document is never trained on; its loss drives early
  stopping (``split_train_val``);
* augmentation — several copies of the training text with the sentences of some paragraphs shuffled, and
  training windows cut at random offsets (a different crop every time) (``shuffle_sentences``);
* data generated from the notes — every markdown heading with its section becomes a short
  user-question / assistant-answer chat, which also teaches the chat tokens (``notes_to_conversations``).

SFT: any JSONL file, one conversation per line, either ``{"messages": [{"role": ..., "content": ...}, ...]}``
or ShareGPT's ``{"conversations": [{"from": ..., "value": ...}]}``. Roles: system, user, assistant and
observation (alias tool). The loss is taken on assistant tokens only (``render_conversation``).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from models.tokenizer import ASSISTANT, BOS, EOS, OBSERVATION, SYSTEM, USER, Tokenizer

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = REPO_ROOT / "kb" / "corpus"
TEXT_SUFFIXES = (".txt", ".md", ".markdown")


class DataError(ValueError):
    """Training data missing, empty, too small or malformed (the message says which and where)."""


# ---------------------------------------------------------------------------------------------------------
# Loading and cleaning the notes
# ---------------------------------------------------------------------------------------------------------
_FRONT_MATTER = re.compile(r"\A\s*---\s*\n(?:[A-Za-z_][\w-]*\s*:.*\n|\s*\n)*?\s*---\s*\n")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_LIST_DEBRIS = re.compile(r"^[\s\-*]*$")
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\((?:https?://|\./|/)[^)\n]*\)")
_URL = re.compile(r"https?://[^\s)）\]]+")


def clean_text(raw: str) -> str:
    """Strip YAML front matter, HTML tags, markdown images, link targets and bare URLs (noise for a language
    model: the first shipped checkpoint learnt to babble "- .png)"), lines of bare list markers and surplus
    blank lines."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = _FRONT_MATTER.sub("", text, count=1)
    text = _HTML_TAG.sub("", text)
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    lines = []
    for line in text.split("\n"):
        line = line.rstrip().lstrip("\t")
        if line and _LIST_DEBRIS.match(line):
            continue
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def text_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    raise DataError(f"training data not found: {path} (give a folder of .txt/.md files or one file with --data)")


def load_documents(path: str | Path = CORPUS_DIR) -> list[tuple[str, str]]:
    """(name, cleaned text) of every text file under `path`, sorted by name; empty files are dropped."""
    files = text_files(path)
    docs = []
    for f in files:
        try:
            raw = f.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{f} is not UTF-8 text ({e})") from None
        text = clean_text(raw)
        if text:
            docs.append((f.name, text))
    if not docs:
        raise DataError(f"no text found in {path} (looked for {', '.join(TEXT_SUFFIXES)} files with content)")
    return docs


def data_hash(docs: Sequence[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for name, text in docs:
        h.update(name.encode("utf-8") + b"\0" + text.encode("utf-8") + b"\0")
    return h.hexdigest()


def split_train_val(docs: Sequence[tuple[str, str]], val_fraction: float = 0.1) -> tuple[list[str], list[str]]:
    """Hold out the tail of every document (cut at a paragraph, else a line, else a character boundary)."""
    train, val = [], []
    for _, text in docs:
        if val_fraction <= 0 or len(text) < 20:
            train.append(text)
            continue
        target = int(len(text) * (1 - val_fraction))
        cut = text.rfind("\n\n", 0, target + 1)
        if cut < len(text) * (1 - 2 * val_fraction):
            cut = text.rfind("\n", 0, target + 1)
        if cut < len(text) * (1 - 2 * val_fraction):
            cut = target
        train.append(text[:cut].strip())
        val.append(text[cut:].strip())
    return [t for t in train if t], [v for v in val if v]


# ---------------------------------------------------------------------------------------------------------
# Augmentation and data generated from the notes
# ---------------------------------------------------------------------------------------------------------
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")


def shuffle_sentences(text: str, rng: random.Random, prob: float) -> str:
    """With probability `prob`, shuffle the sentences inside each paragraph (code blocks are left alone)."""
    out = []
    in_code = False
    for para in text.split("\n\n"):
        if para.count("```") % 2:
            in_code = not in_code
        if in_code or "```" in para or rng.random() >= prob:
            out.append(para)
            continue
        sents = [s for s in _SENTENCE_END.split(para) if s]
        if len(sents) > 2:
            rng.shuffle(sents)
        out.append("".join(sents))
    return "\n\n".join(out)


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def notes_to_conversations(text: str, max_answer_chars: int = 600) -> list[list[dict]]:
    """Turn every markdown heading followed by a section of text into a question/answer chat."""
    convs: list[list[dict]] = []
    heading = None
    body: list[str] = []

    def flush():
        if heading is None:
            return
        answer = "\n".join(body).strip().replace("```text", "").replace("```", "").strip()
        if len(answer) < 20:
            return
        q = re.sub(r"^[\d.、\s]+", "", heading).strip()
        if not q:
            return
        if not q.endswith(("？", "?", "吗", "呢")):
            q = f"请讲讲：{q}"
        convs.append([{"role": "user", "content": q}, {"role": "assistant", "content": answer[:max_answer_chars]}])

    for line in text.split("\n"):
        m = _HEADING.match(line)
        if m:
            flush()
            heading, body = m.group(2), []
        else:
            body.append(line)
    flush()
    return convs


# ---------------------------------------------------------------------------------------------------------
# Chat format
# ---------------------------------------------------------------------------------------------------------
ROLE_TOKENS = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT, "observation": OBSERVATION}
_ROLE_ALIASES = {"human": "user", "gpt": "assistant", "bot": "assistant", "tool": "observation",
                 "function": "observation"}


def normalise_messages(obj: dict | list, where: str = "") -> list[dict]:
    msgs = obj.get("messages", obj.get("conversations")) if isinstance(obj, dict) else obj
    if not isinstance(msgs, list) or not msgs:
        raise DataError(f"{where}: expected {{\"messages\": [{{\"role\": ..., \"content\": ...}}, ...]}}")
    out = []
    for m in msgs:
        if not isinstance(m, dict):
            raise DataError(f"{where}: each message must be an object")
        role = str(m.get("role", m.get("from", ""))).lower()
        role = _ROLE_ALIASES.get(role, role)
        content = m.get("content", m.get("value"))
        if role not in ROLE_TOKENS or not isinstance(content, str):
            raise DataError(f"{where}: bad message {json.dumps(m, ensure_ascii=False)[:120]} "
                            f"(roles: {', '.join(ROLE_TOKENS)}; content must be a string)")
        out.append({"role": role, "content": content})
    return out


def render_prompt(messages: Sequence[dict], add_generation_prompt: bool = True) -> str:
    """The chat template as text: <|bos|><|system|>…<|user|>…<|assistant|>…<|eos|>… ."""
    parts = [BOS]
    for m in messages:
        parts.append(ROLE_TOKENS[m["role"]] + m["content"])
        if m["role"] == "assistant":
            parts.append(EOS)
    if add_generation_prompt:
        parts.append(ASSISTANT)
    return "".join(parts)


def render_conversation(tok: Tokenizer, messages: Sequence[dict]) -> tuple[list[int], list[int]]:
    """Token ids of a whole conversation and a 0/1 mask: 1 on the tokens of assistant turns (and their
    closing <|eos|>), which are the only ones the SFT loss is taken on."""
    ids = [tok.bos_id]
    mask = [0]
    for m in messages:
        role_id = tok.special_ids[ROLE_TOKENS[m["role"]]]
        # system / user / observation text is untrusted: special-token strings inside it stay plain text
        content = tok.encode(m["content"], allow_special=(m["role"] == "assistant"))
        ids.append(role_id)
        mask.append(0)
        ids.extend(content)
        learn = 1 if m["role"] == "assistant" else 0
        mask.extend([learn] * len(content))
        if m["role"] == "assistant":
            ids.append(tok.eos_id)
            mask.append(1)
    return ids, mask


def load_sft_jsonl(path: str | Path) -> list[list[dict]]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"SFT data not found: {path} (a JSONL file, one {{\"messages\": [...]}} per line)")
    convs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{n}: not JSON ({e.msg})") from None
        convs.append(normalise_messages(obj, f"{path}:{n}"))
    if not convs:
        raise DataError(f"{path} holds no conversations")
    return convs


# ---------------------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------------------
@dataclass
class PretrainData:
    """Token streams for pre-training: `train` (augmented copies, concatenated) and `val` (held out)."""

    train: torch.Tensor  # 1-D int64
    val: torch.Tensor  # 1-D int64
    block_size: int
    n_docs: int
    hash: str
    train_chars: int
    val_chars: int
    n_qa: int

    def get_batch(self, batch_size: int, gen: torch.Generator, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Random crops: `batch_size` windows of block_size+1 tokens at random offsets of the train stream."""
        T = self.block_size
        starts = torch.randint(0, len(self.train) - T, (batch_size,), generator=gen)
        idx = starts[:, None] + torch.arange(T + 1)[None, :]
        chunk = self.train[idx]
        x, y = chunk[:, :-1], chunk[:, 1:]
        if torch.device(device).type == "cuda":
            return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
        return x.to(device), y.to(device)

    def val_batches(self, batch_size: int, max_windows: int, device):
        """Deterministic non-overlapping windows covering the held-out stream (shorter if it is short)."""
        T = min(self.block_size, len(self.val) - 1)
        n = min(max_windows, (len(self.val) - 1) // T)
        if n == 0:
            return
        for i in range(0, n, batch_size):
            rows = range(i, min(n, i + batch_size))
            x = torch.stack([self.val[r * T : r * T + T] for r in rows])
            y = torch.stack([self.val[r * T + 1 : r * T + T + 1] for r in rows])
            yield x.to(device), y.to(device)


def _stream(tok: Tokenizer, texts: Iterable[str]) -> list[int]:
    ids: list[int] = []
    for enc in tok.encode_batch(list(texts)):
        ids.append(tok.bos_id)
        ids.extend(enc)
        ids.append(tok.eos_id)
    return ids


def build_pretrain_data(tok: Tokenizer, docs: Sequence[tuple[str, str]], block_size: int, val_fraction: float,
                        aug_variants: int, aug_prob: float, qa_from_notes: bool, seed: int,
                        source: str = "") -> PretrainData:
    train_texts, val_texts = split_train_val(docs, val_fraction)
    convs = [c for t in train_texts for c in notes_to_conversations(t)] if qa_from_notes else []
    rng = random.Random(seed)
    stream: list[int] = []
    for v in range(max(1, aug_variants)):
        texts = train_texts if v == 0 else [shuffle_sentences(t, rng, aug_prob) for t in train_texts]
        stream += _stream(tok, texts)
        if convs:
            order = list(range(len(convs)))
            rng.shuffle(order)
            for i in order:
                ids, _ = render_conversation(tok, convs[i])
                stream += ids
    val_stream = _stream(tok, val_texts)
    need = block_size + 1
    if len(stream) < need:
        raise DataError(f"training data {source} is too small: {len(stream)} tokens after cleaning, need at least "
                        f"{need} (block_size + 1); add text or pass a smaller --block-size")
    if len(val_stream) < 2:
        raise DataError(f"training data {source} leaves no held-out text for validation; add text or raise "
                        "--val-fraction")
    return PretrainData(
        train=torch.from_numpy(np.asarray(stream, dtype=np.int64)),
        val=torch.from_numpy(np.asarray(val_stream, dtype=np.int64)),
        block_size=block_size,
        n_docs=len(docs),
        hash=data_hash(docs),
        train_chars=sum(map(len, train_texts)),
        val_chars=sum(map(len, val_texts)),
        n_qa=len(convs),
    )


@dataclass
class SFTData:
    """Tokenised conversations with loss masks; batches are padded, targets -100 off assistant tokens."""

    train: list[tuple[list[int], list[int]]]
    val: list[tuple[list[int], list[int]]]
    block_size: int
    pad_id: int
    hash: str
    n_truncated: int

    def _collate(self, examples, device, pad_to: int | None):
        T = pad_to or max(len(ids) - 1 for ids, _ in examples)
        x = torch.full((len(examples), T), self.pad_id, dtype=torch.long)
        y = torch.full((len(examples), T), -100, dtype=torch.long)
        for r, (ids, mask) in enumerate(examples):
            n = len(ids) - 1
            x[r, :n] = torch.tensor(ids[:-1])
            tgt = torch.tensor(ids[1:])
            tgt[torch.tensor(mask[1:]) == 0] = -100
            y[r, :n] = tgt
        return x.to(device), y.to(device)

    def get_batch(self, batch_size: int, gen: torch.Generator, device, pad_to: int | None = None):
        rows = torch.randint(0, len(self.train), (batch_size,), generator=gen).tolist()
        return self._collate([self.train[r] for r in rows], device, pad_to)

    def val_batches(self, batch_size: int, max_windows: int, device, pad_to: int | None = None):
        items = self.val[:max_windows]
        for i in range(0, len(items), batch_size):
            yield self._collate(items[i : i + batch_size], device, pad_to)


def build_sft_data(tok: Tokenizer, convs: Sequence[list[dict]], block_size: int, val_fraction: float, seed: int,
                   source: str = "") -> SFTData:
    examples, truncated = [], 0
    for c in convs:
        ids, mask = render_conversation(tok, c)
        if len(ids) > block_size + 1:  # keep the beginning (system prompt and question), cut the tail
            ids, mask = ids[: block_size + 1], mask[: block_size + 1]
            truncated += 1
        if sum(mask[1:]) == 0:
            continue
        examples.append((ids, mask))
    if not examples:
        raise DataError(f"SFT data {source} has no assistant turns to learn from")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_val = int(len(examples) * val_fraction) if len(examples) >= 2 else 0
    n_val = max(1, n_val) if len(examples) >= 2 else 0
    val = [examples[i] for i in order[:n_val]]
    train = [examples[i] for i in order[n_val:]]
    h = hashlib.sha256(json.dumps(list(convs), ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
    return SFTData(train=train, val=val or train[:1], block_size=block_size, pad_id=tok.pad_id, hash=h,
                   n_truncated=truncated)
