"""`tutor eval FILE.jsonl [--out DIR] [--url URL] [--workers N] [--min-pass RATE] [--json]`.

`eval_command` is the typer command (registered as `tutor eval` by `tutor.cli`); `app` is a
one-command typer app so the command also runs as `python -m tutor.evaluation FILE.jsonl ...`.

Exit status: 0 done; 1 the pass rate is under --min-pass, or some lines of FILE were malformed
(the valid items still ran and everything was written); 2 bad usage (missing file, no valid item,
bad option, unreachable --url, tutor cannot load); 130 interrupted by Ctrl-C (what was scored so
far is written).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

DEFAULT_OUT_ROOT = Path("eval-out")
MAX_WORKERS = 64


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"错误 / error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def _warn(message: str) -> None:
    typer.secho(f"警告 / warning: {message}", err=True, fg=typer.colors.YELLOW)


def _note(message: str) -> None:
    typer.echo(message, err=True)


def _git(*args: str) -> Optional[str]:
    from tutor.config import PROJECT_ROOT

    try:
        out = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _git_state() -> dict[str, Any]:
    """The commit the tutor's code comes from, and the tracked files that differ from it (so a
    number in the README can be traced to the exact code that produced it)."""
    commit = (_git("rev-parse", "--short", "HEAD") or "").strip() or None
    changed = [line[3:] for line in (_git("status", "--porcelain", "--untracked-files=no") or "").splitlines() if len(line) > 3]
    return {"git_commit": commit, "git_modified": changed[:50]}


def _command_line(file: Path, out: Path, url: Optional[str], workers: int, min_pass: Optional[float]) -> str:
    parts = ["tutor", "eval", str(file), "--out", str(out)]
    if url:
        parts += ["--url", url]
    if workers != 1:
        parts += ["--workers", str(workers)]
    if min_pass is not None:
        parts += ["--min-pass", f"{min_pass:g}"]
    return " ".join(shlex.quote(p) for p in parts)


def _summary_table(metrics: dict[str, Any]):
    from rich.table import Table

    def pct(x):
        return "—" if x is None else f"{100 * x:.1f}%"

    checks = metrics.get("checks") or {}

    def frac(name):
        c = checks.get(name) or {}
        return f"{c.get('passed', 0)}/{c.get('items', 0)}"

    lat = metrics.get("latency_ms") or {}
    ref = metrics.get("reference_similarity") or {}
    refusal = metrics.get("refusal") or {}
    t = Table(title="评测结果 / evaluation summary")
    t.add_column("指标 / metric")
    t.add_column("值 / value", justify="right")
    t.add_column("", style="dim")
    t.add_row("通过率 / pass rate", pct(metrics.get("pass_rate")), f"{metrics.get('passed', 0)}/{metrics.get('scored', 0)}")
    t.add_row("工具 / tool accuracy", pct(metrics.get("tool_accuracy")), frac("expect_tool"))
    ft = metrics.get("first_tool") or {}
    t.add_row("首选工具 / first tool (demos)", f"{pct(ft.get('rate'))} ({pct((ft.get('demo') or {}).get('rate'))})",
              f"{ft.get('passed', 0)}/{ft.get('items', 0)} ({(ft.get('demo') or {}).get('passed', 0)}/{(ft.get('demo') or {}).get('items', 0)})")
    t.add_row("出处 / source accuracy", pct(metrics.get("source_accuracy")), frac("expect_source"))
    t.add_row("拒答 / refusal accuracy", pct(metrics.get("refusal_accuracy")), frac("expect_refusal"))
    t.add_row("误拒 / false refusals", pct(refusal.get("false_refusal_rate")), f"{refusal.get('false_refusals', 0)}/{refusal.get('in_scope_answered', 0)}")
    t.add_row("参考相似度 / reference sim.", "—" if ref.get("mean") is None else f"{ref['mean']:.3f}", frac("reference"))
    t.add_row("模型驱动 / model-driven", pct(metrics.get("model_driven_rate")), "")
    t.add_row(
        "延迟 / latency p50·p95·max",
        " · ".join("—" if lat.get(k) is None else f"{lat[k]:.0f}" for k in ("p50", "p95", "max")) + " ms",
        "",
    )
    t.add_row("出错 / errors", str(metrics.get("errors", 0)), f"{metrics.get('item_count', 0)} items")
    cats = metrics.get("by_category") or {}
    if cats:
        t.add_section()
        for name, c in cats.items():
            t.add_row(f"  {name}", pct(c.get("pass_rate")), f"{c['passed']}/{c['scored']}")
    return t


def eval_command(
    file: Annotated[Path, typer.Argument(metavar="FILE.jsonl", help="评测题集 / the items, one JSON object per line.", show_default=False)],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", metavar="DIR", help="输出目录 / where results.jsonl, metrics.json, report.md and the plots go [default: eval-out/<FILE stem>]."),
    ] = None,
    url: Annotated[
        Optional[str],
        typer.Option("--url", metavar="URL", help="评测运行中的服务 / evaluate a running tutor server (its HTTP API) instead of the in-process tutor."),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", metavar="N", help="并发数 / items run at the same time.")] = 1,
    min_pass: Annotated[
        Optional[float],
        typer.Option("--min-pass", metavar="RATE", help="通过率下限 / exit 1 when the pass rate is under RATE (0..1), e.g. 0.8; a CI gate."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics.json to stdout instead of the table.")] = False,
    engine: Annotated[str, typer.Option("--engine", help="in-process engine: agent (the tutor GPT) | extractive (retrieval-only baseline)")] = "agent",
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", metavar="DIR", help="in-process GPT checkpoint (e.g. models/checkpoints/base for the un-fine-tuned baseline)")] = None,
) -> None:
    """Evaluate the tutor's answers on a question set and write a report. 脚本化评测：逐题提问、打分、出报告。"""
    from tutor.evaluation.items import load_items
    from tutor.evaluation.runner import BackendUnavailable, EvalError, HttpBackend, InProcessBackend, evaluate, load_similarity, load_tutor

    # ---- usage ----------------------------------------------------------------------------------
    if not file.exists():
        _fail(f"file not found: {file}; expected a JSONL file of evaluation items (one JSON object per line)")
    if not file.is_file():
        _fail(f"{file} is not a file; expected a JSONL file of evaluation items")
    if engine not in ("agent", "extractive"):
        _fail(f"unknown --engine '{engine}'; expected agent or extractive")
    if not 1 <= workers <= MAX_WORKERS:
        _fail(f"--workers must be between 1 and {MAX_WORKERS}, got {workers}")
    if min_pass is not None and not 0.0 <= min_pass <= 1.0:
        _fail(f"--min-pass is a rate between 0 and 1 (e.g. 0.8 for 80%), got {min_pass:g}")
    try:
        loaded = load_items(file)
    except OSError as e:
        _fail(f"cannot read {file}: {e.strerror or e}")
    for err in loaded.errors:
        _warn(f"{file} {err}; skipped")
    if not loaded.items:
        _fail(f"no valid item in {file}; expected lines like {{\"id\": \"q1\", \"question\": \"什么是自注意力？\"}}")
    out_dir = out or DEFAULT_OUT_ROOT / file.stem
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _fail(f"cannot create the output folder {out_dir}: {e.strerror or e}")

    # ---- the tutor ------------------------------------------------------------------------------
    from kb.embedder import EmbedderError
    from tutor.config import get_settings

    settings = get_settings()
    tutor = None
    try:
        if url:
            backend: Any = HttpBackend(url)
            engine = backend.health()
        else:
            tutor = load_tutor(settings, notify=_note, engine=engine, checkpoint=str(checkpoint) if checkpoint else None)
            backend = InProcessBackend(tutor)
            engine = backend.health()
    except (BackendUnavailable, EvalError) as e:
        _fail(str(e))
    needs_reference = any(it.reference is not None for it in loaded.items)
    try:
        similarity = load_similarity(settings, tutor)
    except EmbedderError as e:
        if needs_reference:
            _fail(f"items have a 'reference' but the embedding model cannot be loaded: {e}")
        _warn(f"no embedding model ({e}); similarity metrics are left out")
        similarity = None

    meta = {
        "file": str(file),
        "url": url,
        "engine": engine,
        "command": _command_line(file, out_dir, url, workers, min_pass),
        **_git_state(),
        "invalid_lines": [e.to_dict() for e in loaded.errors],
    }
    from tutor import __version__

    meta["tutor_version"] = __version__

    # ---- run with a progress bar ----------------------------------------------------------------
    show_bar = sys.stderr.isatty() and not as_json
    progress = None
    task = None
    counts = {"passed": 0, "failed": 0, "errors": 0}

    def on_result(record: dict) -> None:
        if record.get("error"):
            counts["errors"] += 1
        elif record.get("passed") is False:
            counts["failed"] += 1
        elif record.get("passed") is True:
            counts["passed"] += 1
        if progress is not None:
            progress.update(task, advance=1, status=f"✓{counts['passed']} ✗{counts['failed']} !{counts['errors']}")

    if show_bar:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        progress = Progress(
            TextColumn("评测 / eval"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        task = progress.add_task("eval", total=len(loaded.items), status="")
        progress.start()
    try:
        result = evaluate(loaded.items, backend, out_dir, workers=workers, similarity=similarity, meta=meta, on_result=on_result)
    finally:
        if progress is not None:
            progress.stop()
        close = getattr(backend, "close", None)
        if callable(close):
            close()
    metrics = result.metrics

    # ---- report -----------------------------------------------------------------------------------
    if as_json:
        sys.stdout.write(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n")
    else:
        from rich.console import Console

        console = Console()
        console.print(_summary_table(metrics))
        names = ", ".join(p.name for p in result.files.values())
        console.print(f"已写入 / written to {out_dir}: {names}", highlight=False, soft_wrap=True)

    if result.interrupted:
        _note(f"已中断 / interrupted: wrote the {metrics['item_count']} of {metrics['items_planned']} items scored so far to {out_dir}")
        raise typer.Exit(130)
    rate = metrics.get("pass_rate")
    if min_pass is not None and (rate is None or rate < min_pass):
        shown = "undefined (no scored item)" if rate is None else f"{100 * rate:.1f}%"
        _fail(f"pass rate {shown} is under --min-pass {100 * min_pass:.1f}%", code=1)
    if loaded.errors:
        _fail(f"{len(loaded.errors)} malformed line(s) in {file} were skipped (see the warnings above); the other items ran", code=1)


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, help="课程助教评测 / evaluate the course tutor.")
app.command(name="eval")(eval_command)


def main() -> None:
    """`python -m tutor.evaluation FILE.jsonl ...` (the same as `tutor eval`)."""
    typer.main.get_command(app)(prog_name="tutor eval")
