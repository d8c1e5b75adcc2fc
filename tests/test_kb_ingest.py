"""Ingestion: idempotent re-ingest, changed and removed files, repair after a killed ingest,
persistence across processes, and bad inputs (binary, non-UTF-8, empty, missing)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kb.ingest import ingest
from kb.store import ChunkStore
from tutor.config import PROJECT_ROOT


def ids_and_count(settings):
    store = ChunkStore(settings)
    return sorted(c.id for c in store.all()), store.count()


def test_reingest_is_idempotent(settings, corpus_copy, embedder):
    r1 = ingest([corpus_copy], settings, embedder=embedder)
    assert r1.added > 5 and r1.removed == 0 and not r1.skipped
    before = ids_and_count(settings)
    r2 = ingest([corpus_copy], settings, embedder=embedder)
    assert (r2.added, r2.removed, r2.unchanged) == (0, 0, r1.added)
    assert ids_and_count(settings) == before


def test_tokenizer_change_retokenizes_the_existing_index(settings, corpus_copy, embedder):
    """Chunk ids hash the text, so a glossary/stop-word change alone must still reach the stored tokens."""
    from kb.text import TOKENIZER_VERSION

    ingest([corpus_copy], settings, embedder=embedder)
    store = ChunkStore(settings)
    assert store.tokenizer_version == TOKENIZER_VERSION
    good = {c.id: c.metadata["tokens"] for c in store.all()}
    victim = sorted(good)[0]
    store.update_metadatas([victim], [{**store.collection.get(ids=[victim])["metadatas"][0], "tokens": "stale"}])
    store.set_tokenizer_version("older")  # as if these tokens came from an older glossary
    before = ids_and_count(settings)
    r = ingest([corpus_copy], settings, embedder=embedder)
    assert (r.added, r.removed) == (0, 0)
    store = ChunkStore(settings)
    assert {c.id: c.metadata["tokens"] for c in store.all()} == good
    assert store.tokenizer_version == TOKENIZER_VERSION
    assert ids_and_count(settings) == before


def test_changed_file_replaces_its_chunks_and_removed_file_goes(settings, corpus_copy, embedder):
    ingest([corpus_copy], settings, embedder=embedder)
    f = corpus_copy / "004_8f0b023b55e47a69.txt"
    f.write_text(f.read_text(encoding="utf-8") + "\n##### 9、新问题：什么是困惑度？\n困惑度是语言模型好坏的一个指标。\n", encoding="utf-8")
    r = ingest([corpus_copy], settings, embedder=embedder)
    assert r.added >= 1
    texts = [c.text for c in ChunkStore(settings).all()]
    assert any("困惑度是语言模型好坏的一个指标" in t for t in texts)

    (corpus_copy / "000_172dd7619ae4346b.txt").unlink()
    r = ingest([corpus_copy], settings, embedder=embedder)
    assert r.removed > 0
    sources = {c.metadata["source"] for c in ChunkStore(settings).all()}
    assert sources == {"004_8f0b023b55e47a69.txt"}


def test_ingest_killed_half_way_is_repaired(settings, corpus_copy, embedder):
    full = ingest([corpus_copy], settings, embedder=embedder)
    expected = ids_and_count(settings)
    ChunkStore(settings).reset()

    class Killed(Exception):
        pass

    def die(done, total):
        raise Killed()

    with pytest.raises(Killed):
        ingest([corpus_copy], settings, embedder=embedder, progress=die, batch_size=4)
    partial = ChunkStore(settings).count()
    assert 0 < partial < full.added
    r = ingest([corpus_copy], settings, embedder=embedder)
    assert r.added == full.added - partial
    assert ids_and_count(settings) == expected


def test_bad_inputs_are_skipped_with_one_line_each(settings, tmp_path, corpus_copy, embedder):
    (corpus_copy / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00")
    (corpus_copy / "latin1.md").write_bytes("caf\xe9 na\xefve".encode("latin-1"))
    (corpus_copy / "empty.md").write_text("   \n", encoding="utf-8")
    missing = tmp_path / "does-not-exist.md"
    r = ingest([corpus_copy, missing], settings, embedder=embedder)
    assert len(r.skipped) == 4
    joined = "\n".join(r.skipped)
    for name, word in (("binary.txt", "binary"), ("latin1.md", "UTF-8"), ("empty.md", "empty"), ("does-not-exist.md", "no such")):
        line = next(s for s in r.skipped if name in s)
        assert word in line
    assert set(r.files) == {"000_172dd7619ae4346b.txt", "004_8f0b023b55e47a69.txt"}
    assert r.total > 5, joined


def run_cli(*args, env_extra=None, check=False):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "tutor.cli", *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)


def test_cli_ingest_exit_code_and_persistence_across_processes(tmp_path, corpus_copy):
    env = {"TUTOR_DATA_DIR": str(tmp_path / "d")}
    (corpus_copy / "bad.txt").write_bytes(b"\xff\xfe\xfa broken")
    p = run_cli("ingest", str(corpus_copy), "--json", env_extra=env)
    assert p.returncode == 1, p.stderr
    report = json.loads(p.stdout)
    assert report["added"] > 0 and len(report["skipped"]) == 1
    assert "bad.txt" in p.stderr and "UTF-8" in p.stderr
    # a second process sees the stored index
    p = run_cli("search", "encoder-decoder attention 是不是 self-attention", "-k", "3", "--json", env_extra=env)
    assert p.returncode == 0, p.stderr
    results = json.loads(p.stdout)
    assert len(results) == 3
    assert set(results[0]) >= {"id", "source", "heading", "text", "score"}
    assert results[0]["source"] == "000_172dd7619ae4346b.txt"


def test_cli_search_errors(tmp_path):
    env = {"TUTOR_DATA_DIR": str(tmp_path / "empty")}
    p = run_cli("search", "BERT", env_extra=env)
    assert p.returncode == 2 and "tutor ingest" in p.stderr
    p = run_cli("search", "   ", env_extra=env)
    assert p.returncode == 2 and "empty query" in p.stderr
    p = run_cli("search", "BERT", "--mode", "magic", env_extra=env)
    assert p.returncode == 2 and "unknown mode" in p.stderr
    p = run_cli("ingest", str(tmp_path / "nope"), env_extra=env)
    assert p.returncode == 1 and "no such file" in p.stderr


def test_errata_sentences_are_dropped_and_stale_ones_reported():
    from kb.clean import drop_errata

    text = "第一句是对的。GPT 也由编码器组成，这是错的。第三句也对。\n下一段。\n"
    out, missing = drop_errata(text, ["也由编码器组成", "不存在的话"])
    assert out == "第一句是对的。第三句也对。\n下一段。\n" and missing == ["不存在的话"]
    assert drop_errata("错的一行\n对的一行\n", ["错的"]) == ("\n对的一行\n", [])


def test_the_manifests_errata_never_reach_the_index(settings, corpus_copy, embedder):
    """A file's `errata` in the corpus manifest (wrong statements, each quoted with the reason) are not
    chunked, so nothing can retrieve or quote them; a quote that is no longer in the file is a warning."""
    manifest = json.loads((corpus_copy / "manifest.json").read_text(encoding="utf-8"))
    name = "004_8f0b023b55e47a69.txt"
    wrong = "fine-tuning是一种在特定标注数据集上进行模型权重微调的方法"
    assert wrong in (corpus_copy / name).read_text(encoding="utf-8")
    manifest[name]["errata"] = [{"quote": wrong, "why": "test"}, {"quote": "不在这份笔记里的话", "why": "stale"}]
    (corpus_copy / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    r = ingest([corpus_copy], settings, embedder=embedder)
    texts = [c.text for c in ChunkStore(settings).all()]
    assert texts and not any(wrong in t for t in texts)
    assert any("Instruction tuning" in t for t in texts)  # the rest of that answer stays
    assert len(r.warnings) == 1 and "不在这份笔记里的话" in r.warnings[0] and r.ok


def test_mis_heard_words_are_glossed_with_the_course_term():
    from kb.clean import add_glosses

    glosses = [(["Laura", "Ora"], "LoRA"), (["大元模型"], "大语言模型"), (["没有这个词"], "X")]
    text = "那么Laura这一类技术，Ora是一种方案，q lora 是量化版；coral 不是。大元模型的成本高。"
    out, missing = add_glosses(text, glosses)
    assert out == "那么Laura（即 LoRA）这一类技术，Ora（即 LoRA）是一种方案，q lora 是量化版；coral 不是。大元模型（即大语言模型）的成本高。"
    assert missing == ["没有这个词"]
    assert add_glosses(out, glosses)[0] == out  # glossing twice changes nothing


def test_the_manifests_glosses_reach_the_index(settings, corpus_copy, embedder):
    """A file's `glosses` in the corpus manifest (the forms the speech recogniser wrote for a course term)
    are written next to every occurrence in the indexed text, so a quoted passage shows the right term;
    a form that is no longer in the file is a warning."""
    manifest = json.loads((corpus_copy / "manifest.json").read_text(encoding="utf-8"))
    name = "004_8f0b023b55e47a69.txt"
    assert "Instruction tuning" in (corpus_copy / name).read_text(encoding="utf-8")
    manifest[name]["glosses"] = [{"heard": ["Instruction tuning", "不在这份笔记里的词"], "term": "指令微调"}]
    (corpus_copy / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    r = ingest([corpus_copy], settings, embedder=embedder)
    texts = [c.text for c in ChunkStore(settings).all() if c.metadata["source"] == name]
    assert any("Instruction tuning（即指令微调）" in t for t in texts)
    assert not any(re.search(r"Instruction tuning(?!（即指令微调）)", t) for t in texts)
    assert len(r.warnings) == 1 and "不在这份笔记里的词" in r.warnings[0] and r.ok


def test_the_shipped_glosses_are_all_found_and_indexed(ingested_settings):
    from kb.ingest import edited_text, glosses_of, load_manifest
    from tutor.config import KB_PACKAGE_DIR

    corpus = KB_PACKAGE_DIR / "corpus"
    manifest = load_manifest(corpus)
    assert any(glosses_of(entry) for entry in manifest.values())
    for name, entry in manifest.items():
        assert edited_text((corpus / name).read_text(encoding="utf-8"), entry)[1] == [], name
    texts = "\n".join(c.text for c in ChunkStore(ingested_settings).all())
    assert "Laura（即 LoRA）是通过小矩阵来替代大矩阵" in texts and "大元模型（即大语言模型）" in texts
    assert not re.search(r"Laura(?!（即 LoRA）)", texts)


def test_the_shipped_errata_are_all_found_and_never_indexed(ingested_settings):
    from kb.clean import drop_errata
    from kb.ingest import errata_quotes, load_manifest
    from tutor.config import KB_PACKAGE_DIR

    corpus = KB_PACKAGE_DIR / "corpus"
    manifest = load_manifest(corpus)
    quotes = [q for entry in manifest.values() for q in errata_quotes(entry)]
    assert quotes and all(e.get("why") for entry in manifest.values() for e in entry.get("errata", []))
    for name, entry in manifest.items():
        assert drop_errata((corpus / name).read_text(encoding="utf-8"), errata_quotes(entry))[1] == [], name
    texts = [c.text for c in ChunkStore(ingested_settings).all()]
    assert not [q for q in quotes if any(q in t for t in texts)]
