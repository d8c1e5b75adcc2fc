"""The tutor's tokenizer: byte-level BPE (Hugging Face `tokenizers`), trained on the course notes.

* Byte level: text is first turned into UTF-8 bytes, so every string — Chinese, English, emoji, control
  characters — has an encoding, and ``decode(encode(s)) == s`` for every string (no unknown token).
* BPE merges learnt from the notes make frequent Chinese words and English sub-words single tokens.
* Special tokens for the chat / ReAct structure are defined once, in ``SPECIAL_TOKENS`` below.
"""

from __future__ import annotations

import codecs
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

# The one list of special tokens. Their ids are their positions here (0 = pad, 1 = bos, 2 = eos, ...).
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|pad|>",
    "<|bos|>",
    "<|eos|>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|thought|>",
    "<|action|>",
    "<|action_input|>",
    "<|observation|>",
    "<|answer|>",
)
PAD, BOS, EOS, SYSTEM, USER, ASSISTANT, THOUGHT, ACTION, ACTION_INPUT, OBSERVATION, ANSWER = SPECIAL_TOKENS

# Extra text the tokenizer is trained on besides the corpus, so the chat/ReAct scaffolding and common English
# words used by the agent become cheap tokens.
_SCAFFOLD = """
Thought: I should search the course notes. Action: search_notes Action Input: {"query": "attention"}
Observation: The notes say self-attention lets every token look at every earlier token. Answer:
Question Answer Final answer Thought Action Observation tool tools search notes query calculator python
{"query": "Transformer"} {"expression": "2 * (3 + 4)"} {"question": "什么是注意力机制？"} true false null
The Transformer uses multi-head self-attention, layer normalization, residual connections and a feed-forward
network. GPT is a decoder-only model trained to predict the next token. BERT is an encoder. RNN, LSTM, CNN,
embedding, token, tokenizer, softmax, mask, loss, gradient, learning rate, fine-tuning, prompt, agent, RAG.
我应该先检索课程笔记。 根据笔记， 答案是： 我不知道。 请再问一次。 你好！ 我是课程助教。
"""


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's bytes->printable-unicode table used by the ByteLevel pre-tokenizer."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


class Tokenizer:
    """Thin wrapper: encode/decode, special-token ids, the bytes of every token (for streaming)."""

    def __init__(self, hf: HFTokenizer, source: str | Path | None = None):
        self.hf = hf
        self.source = str(source) if source else None
        for i, tok in enumerate(SPECIAL_TOKENS):
            got = hf.token_to_id(tok)
            if got != i:
                raise ValueError(f"tokenizer {source or ''}: special token {tok} has id {got}, expected {i}")
        self.special_ids = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2
        dec = _byte_decoder()
        vocab = hf.get_vocab(with_added_tokens=True)
        table: list[bytes] = [b""] * (max(vocab.values()) + 1)
        for piece, i in vocab.items():
            table[i] = piece.encode("utf-8") if i < len(SPECIAL_TOKENS) else bytes(dec[ch] for ch in piece)
        self._bytes = table

    # --- building ---------------------------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 8192, min_frequency: int = 2) -> "Tokenizer":
        """Learn BPE merges from `texts` (plus the chat/ReAct scaffold). Deterministic for the same input."""
        if vocab_size < 256 + len(SPECIAL_TOKENS):
            raise ValueError(f"vocab_size must be at least {256 + len(SPECIAL_TOKENS)} (bytes + special tokens)")
        hf = HFTokenizer(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        hf.train_from_iterator(list(texts) + [_SCAFFOLD], trainer=trainer)
        return cls(hf)

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        return cls(HFTokenizer.from_file(str(path)), source=path)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        self.hf.save(str(path))
        return path

    def to_json(self) -> str:
        return self.hf.to_str()

    @property
    def sha256(self) -> str:
        """Hash of the vocabulary and merges (what the model's embedding rows depend on)."""
        return hashlib.sha256(self.hf.to_str().encode("utf-8")).hexdigest()

    # --- using ------------------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self._bytes)

    def encode(self, text: str, allow_special: bool = True) -> list[int]:
        """Token ids of `text`. With allow_special=False a literal "<|eos|>" in the text is encoded as plain
        characters (use for untrusted text such as user input)."""
        if allow_special:
            return self.hf.encode(text, add_special_tokens=False).ids
        self.hf.encode_special_tokens = True
        try:
            return self.hf.encode(text, add_special_tokens=False).ids
        finally:
            self.hf.encode_special_tokens = False

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.hf.encode_batch(list(texts), add_special_tokens=False)]

    def token_bytes(self, token_id: int) -> bytes:
        """The UTF-8 bytes a token stands for (a Chinese character may be split over two tokens)."""
        return self._bytes[token_id] if 0 <= token_id < len(self._bytes) else b""

    def token_label(self, token_id: int) -> str:
        """A token as a reader sees it in an attention map: its text, a space as ␣, and a piece of a
        multi-byte character as its bytes (⟨e7 88⟩), since byte-level BPE may split a character."""
        b = self.token_bytes(token_id)
        try:
            s = b.decode("utf-8")
            return s if s.strip() else repr(s)[1:-1].replace(" ", "␣") or "␣"
        except UnicodeDecodeError:
            return "⟨" + " ".join(f"{x:02x}" for x in b) + "⟩"

    def token_labels(self, ids: Iterable[int]) -> list[str]:
        """The tokens of a text as a reader sees them in its attention map: as `token_label`, except that
        a piece of a character split by byte-level BPE is named by that character, with … on the side
        where the rest of it lies ("爱" encoded as ⟨e7 88⟩ ⟨b1⟩ reads "爱…", "…爱")."""
        chunks = [self.token_bytes(int(i)) for i in ids]
        data = b"".join(chunks)
        chars, i = [], 0  # (first byte, end byte, character) of every character of the text
        while i < len(data):
            lead = data[i]
            n = 4 if lead >= 0xF0 else 3 if lead >= 0xE0 else 2 if lead >= 0xC0 else 1
            chars.append((i, i + n, data[i : i + n].decode("utf-8", errors="replace")))
            i += n
        labels, start = [], 0
        for piece, token_id in zip(chunks, ids):
            end = start + len(piece)
            try:
                piece.decode("utf-8")
                labels.append(self.token_label(int(token_id)))
            except UnicodeDecodeError:
                over = [c for c in chars if c[0] < end and c[1] > start]
                text = "".join(c[2] for c in over).replace(" ", "␣")
                labels.append(("…" if over and over[0][0] < start else "") + text + ("…" if over and over[-1][1] > end else ""))
            start = end
        return labels

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        return b"".join(self.token_bytes(int(i)) for i in ids)

    def decode(self, ids: Iterable[int], skip_special: bool = False) -> str:
        """Text of `ids`. Lossless inverse of encode (invalid UTF-8 from a partial sequence becomes U+FFFD)."""
        if skip_special:
            ids = [i for i in ids if int(i) >= len(SPECIAL_TOKENS)]
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def id_to_piece(self, token_id: int) -> str:
        """Readable form of one token for display (attention-map labels)."""
        return self.token_bytes(token_id).decode("utf-8", errors="replace")

    def pieces(self, text: str) -> list[str]:
        return [self.id_to_piece(i) for i in self.encode(text)]

    def __len__(self) -> int:
        return self.vocab_size


class IncrementalDecoder:
    """Turns a stream of token ids into a stream of text pieces, holding back incomplete UTF-8 sequences
    (a Chinese character may span two tokens). Joined pieces equal ``tokenizer.decode(all_ids)``."""

    def __init__(self, tokenizer: Tokenizer):
        self.tok = tokenizer
        self._dec = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id: int) -> str:
        return self._dec.decode(self.tok.token_bytes(token_id), final=False)

    def flush(self) -> str:
        return self._dec.decode(b"", final=True)
