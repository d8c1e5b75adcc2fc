"""The human report of a run: `report.md` plus three PNG plots (pass rate by category, latency
distribution, tool confusion matrix), written next to `results.jsonl` and `metrics.json`.

Plots are drawn with matplotlib's Agg canvas (no GUI, no pyplot state, safe in any thread).
Chinese labels need a CJK font: Noto Sans CJK, then WenQuanYi Zen Hei, then DejaVu Sans (CJK
glyphs show as boxes when none is installed; the picture is still written).
"""

from __future__ import annotations

import logging
import math
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from tutor.evaluation.metrics import CHECK_LABELS

log = logging.getLogger(__name__)

CJK_FONT_FALLBACK = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "DejaVu Sans"]
PLOT_FILES = {
    "categories": "pass_rate_by_category.png",
    "latency": "latency.png",
    "confusion": "tool_confusion.png",
}
ANSWER_SNIPPET = 240


@lru_cache(maxsize=1)
def _fonts() -> list[str]:
    """The fallback fonts that are really available. matplotlib caches its font list the first time
    it runs, so fonts installed later (fonts-noto-cjk after matplotlib) are missing from that cache:
    when no CJK font is known, the system font folders are searched and the CJK files added."""
    from matplotlib import font_manager

    def known() -> list[str]:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        return [name for name in CJK_FONT_FALLBACK if name in installed]

    chosen = known()
    if not any(name != "DejaVu Sans" for name in chosen):
        try:
            for path in font_manager.findSystemFonts():
                low = Path(path).name.lower()
                if ("cjk" in low and "sans" in low) or "wqy" in low or "wenquanyi" in low:
                    try:
                        font_manager.fontManager.addfont(path)
                    except Exception:  # noqa: BLE001 - an unreadable font file is skipped
                        continue
        except Exception:  # noqa: BLE001 - no font search: fall back to DejaVu Sans
            log.debug("font search failed", exc_info=True)
        chosen = known()
    return chosen or ["DejaVu Sans"]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png")


def _with_fonts(draw):
    """Run a drawing function with the CJK font list active (text objects pick their font when they
    are created, so the whole drawing happens inside the context); missing-glyph warnings (no CJK
    font installed) are silenced."""
    import matplotlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with matplotlib.rc_context({"font.family": _fonts(), "axes.unicode_minus": False}):
            return draw()


# ---- plots --------------------------------------------------------------------------------------
def plot_pass_rate_by_category(metrics: dict[str, Any], path: Path) -> Path:
    cats = [(name, c) for name, c in metrics.get("by_category", {}).items() if c.get("scored")]

    def draw():
        fig = _figure(7.5, max(2.6, 0.42 * len(cats) + 1.4))
        ax = fig.add_subplot(1, 1, 1)
        if not cats:
            ax.text(0.5, 0.5, "没有可评分的题目 / no scored items", ha="center", va="center")
            ax.set_axis_off()
        else:
            names = [n for n, _ in cats][::-1]
            rates = [100.0 * (c["pass_rate"] or 0.0) for _, c in cats][::-1]
            labels = [f"{c['passed']}/{c['scored']}" for _, c in cats][::-1]
            colors = ["#2e7d32" if r >= 80 else "#f9a825" if r >= 50 else "#c62828" for r in rates]
            bars = ax.barh(names, rates, color=colors)
            for bar, label, r in zip(bars, labels, rates):
                ax.text(min(r + 1.5, 101), bar.get_y() + bar.get_height() / 2, f"{r:.0f}%  ({label})", va="center", fontsize=8)
            overall = metrics.get("pass_rate")
            if overall is not None:
                ax.axvline(100 * overall, color="#555", linestyle="--", linewidth=1)
                ax.text(100 * overall, len(names) - 0.4, f" 总体 overall {100 * overall:.0f}%", fontsize=8, color="#555")
            ax.set_xlim(0, 118)
            ax.set_xlabel("通过率 / pass rate (%)")
        ax.set_title("各类别通过率 / pass rate by category")
        _save(fig, path)

    _with_fonts(draw)
    return path


def plot_latency(records: list[dict[str, Any]], metrics: dict[str, Any], path: Path) -> Path:
    ok = [r for r in records if not r.get("error") and isinstance(r.get("latency_ms"), (int, float))]

    def draw():
        fig = _figure(7.5, 3.6)
        ax = fig.add_subplot(1, 1, 1)
        if not ok:
            ax.text(0.5, 0.5, "没有延迟数据 / no latency data", ha="center", va="center")
            ax.set_axis_off()
        else:
            values = [max(float(r["latency_ms"]), 0.1) for r in ok]
            lo, hi = min(values), max(values)
            log_scale = hi / lo > 50
            if log_scale:
                edges = [10 ** (math.log10(lo) + i * (math.log10(hi * 1.001) - math.log10(lo)) / 30) for i in range(31)]
            else:
                edges = 30
            kinds = sorted({str(r.get("kind")) for r in ok})
            data = [[max(float(r["latency_ms"]), 0.1) for r in ok if str(r.get("kind")) == k] for k in kinds]
            ax.hist(data, bins=edges, stacked=True, label=kinds)
            if log_scale:
                ax.set_xscale("log")
            lat = metrics.get("latency_ms") or {}
            for key, style in (("p50", "--"), ("p95", ":")):
                v = lat.get(key)
                if v:
                    ax.axvline(max(v, 0.1), color="#333", linestyle=style, linewidth=1, label=f"{key} {v:.0f} ms")
            ax.legend(fontsize=8)
            ax.set_xlabel("最后一轮延迟 / last-turn latency (ms)" + ("，对数坐标 / log scale" if log_scale else ""))
            ax.set_ylabel("题目数 / items")
        ax.set_title("延迟分布 / latency distribution")
        _save(fig, path)

    _with_fonts(draw)
    return path


def plot_tool_confusion(metrics: dict[str, Any], path: Path) -> Path:
    conf = metrics.get("tool_confusion") or {}
    matrix: dict[str, dict[str, int]] = conf.get("matrix") or {}
    rows = sorted(matrix)
    cols = list(conf.get("labels") or [])

    def draw():
        fig = _figure(max(4.5, 1.1 * len(cols) + 2.5), max(3.0, 0.7 * len(rows) + 1.8))
        ax = fig.add_subplot(1, 1, 1)
        if not rows:
            ax.text(0.5, 0.5, "没有题目指定工具 / no item expects a tool", ha="center", va="center")
            ax.set_axis_off()
        else:
            grid = [[matrix[r].get(c, 0) for c in cols] for r in rows]
            top = max(max(row) for row in grid) or 1
            ax.imshow(grid, cmap="Blues", vmin=0, vmax=top, aspect="auto")
            for i, row in enumerate(grid):
                for j, v in enumerate(row):
                    ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "#222", fontsize=10)
            ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
            ax.set_yticks(range(len(rows)), rows)
            ax.set_xlabel("实际调用 / tool called")
            ax.set_ylabel("期望 / expected")
        ax.set_title("工具混淆矩阵 / tool confusion")
        _save(fig, path)

    _with_fonts(draw)
    return path


# ---- markdown -----------------------------------------------------------------------------------
def _cell(text: Any) -> str:
    s = "" if text is None else str(text)
    return s.replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


def _pct(rate: Optional[float]) -> str:
    return "—" if rate is None else f"{100 * rate:.1f}%"


def _num(x: Optional[float], fmt: str = "{:.3f}") -> str:
    return "—" if x is None else fmt.format(x)


def _ms(x: Optional[float]) -> str:
    return "—" if x is None else f"{x:.0f} ms"


def _snippet(text: str, n: int = ANSWER_SNIPPET) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def render_markdown(records: list[dict[str, Any]], metrics: dict[str, Any], plots: dict[str, str]) -> str:
    m = metrics
    L: list[str] = []
    L.append("# 评测报告 / Evaluation report")
    L.append("")
    engine = m.get("engine") or {}
    engine_s = ", ".join(f"{k}={v}" for k, v in engine.items() if k in ("model", "version", "index_chunks")) or "—"
    mode = m.get("mode", "in-process")
    L.append(f"- 题集 / items: `{m.get('file', '?')}` — {m.get('item_count', 0)} run" + (f", {len(m.get('invalid_lines') or [])} invalid line(s)" if m.get("invalid_lines") else ""))
    L.append(f"- 方式 / mode: {mode}" + (f" `{m.get('url')}`" if m.get("url") else "") + f"; engine: {engine_s}; workers: {m.get('workers', 1)}")
    L.append(f"- 时间 / when: {m.get('started_at') or '—'} (UTC), {_num(m.get('duration_s'), '{:.1f}')} s")
    if m.get("command"):
        L.append(f"- 命令 / command: `{m['command']}`")
    if m.get("git_commit"):
        modified = m.get("git_modified") or []
        L.append(f"- 代码 / code: commit `{m['git_commit']}`" + (f" + {len(modified)} modified file(s): {', '.join(modified[:8])}" if modified else " (clean)"))
    if m.get("interrupted"):
        L.append(f"- **已中断 / interrupted**: {m.get('item_count', 0)} of {m.get('items_planned', 0)} items were scored before Ctrl-C.")
    L.append("")

    ref = m.get("reference_similarity") or {}
    refusal = m.get("refusal") or {}
    lat = m.get("latency_ms") or {}
    checks = m.get("checks") or {}

    def n_of(name: str) -> str:
        c = checks.get(name) or {}
        return f"{c.get('passed', 0)}/{c.get('items', 0)}"

    L.append("## 总览 / Summary")
    L.append("")
    L.append("| 指标 / metric | 值 / value |")
    L.append("|---|---|")
    L.append(f"| 通过率 / pass rate | **{_pct(m.get('pass_rate'))}** ({m.get('passed', 0)}/{m.get('scored', 0)} scored items) |")
    L.append(f"| 工具准确率 / tool accuracy | {_pct(m.get('tool_accuracy'))} ({n_of('expect_tool')}) |")
    ft = m.get("first_tool") or {}
    ftd = ft.get("demo") or {}
    L.append(f"| 首选工具 / model's first tool | {_pct(ft.get('rate'))} ({ft.get('passed', 0)}/{ft.get('items', 0)}); "
             f"demo requests {_pct(ftd.get('rate'))} ({ftd.get('passed', 0)}/{ftd.get('items', 0)}) |")
    L.append(f"| 出处准确率 / source accuracy | {_pct(m.get('source_accuracy'))} ({n_of('expect_source')}); MRR {_num(m.get('source_mrr'))} |")
    L.append(
        f"| 拒答准确率 / refusal accuracy | {_pct(m.get('refusal_accuracy'))} ({n_of('expect_refusal')}); "
        f"false refusals {refusal.get('false_refusals', 0)}/{refusal.get('in_scope_answered', 0)} ({_pct(refusal.get('false_refusal_rate'))}) |"
    )
    L.append(
        f"| 参考答案相似度 / reference similarity | mean {_num(ref.get('mean'))}, median {_num(ref.get('median'))}, min {_num(ref.get('min'))}; "
        f"passed {n_of('reference')} |"
    )
    ctx = m.get("context_similarity") or {}
    L.append(f"| 答案与检索内容相似度 / answer–context similarity | mean {_num(ctx.get('mean'))} over {ctx.get('items', 0)} answers (faithfulness proxy) |")
    L.append(f"| 模型驱动比例 / model-driven rate | {_pct(m.get('model_driven_rate'))} |")
    L.append(f"| 延迟 / latency | p50 {_ms(lat.get('p50'))}, p95 {_ms(lat.get('p95'))}, max {_ms(lat.get('max'))} |")
    L.append(f"| 出错 / errors | {m.get('errors', 0)} |")
    L.append("")

    L.append("## 按类别 / By category")
    L.append("")
    L.append(f"![pass rate by category]({plots.get('categories', PLOT_FILES['categories'])})")
    L.append("")
    L.append("| 类别 / category | items | scored | passed | pass rate |")
    L.append("|---|---:|---:|---:|---:|")
    for name, c in (m.get("by_category") or {}).items():
        L.append(f"| {_cell(name)} | {c['items']} | {c['scored']} | {c['passed']} | {_pct(c.get('pass_rate'))} |")
    L.append("")

    L.append("## 按检查项 / By check")
    L.append("")
    L.append("| 检查 / check | items | passed | rate |")
    L.append("|---|---:|---:|---:|")
    for name, c in checks.items():
        if c.get("items"):
            L.append(f"| `{name}` {CHECK_LABELS.get(name, '')} | {c['items']} | {c['passed']} | {_pct(c.get('rate'))} |")
    L.append("")

    L.append("## 延迟 / Latency")
    L.append("")
    L.append(f"![latency distribution]({plots.get('latency', PLOT_FILES['latency'])})")
    L.append("")
    L.append(f"p50 {_ms(lat.get('p50'))} · p95 {_ms(lat.get('p95'))} · max {_ms(lat.get('max'))} · mean {_ms(lat.get('mean'))} over {lat.get('items', 0)} answered items.")
    L.append("")

    L.append("## 工具混淆矩阵 / Tool confusion")
    L.append("")
    L.append(f"![tool confusion]({plots.get('confusion', PLOT_FILES['confusion'])})")
    L.append("")
    conf = m.get("tool_confusion") or {}
    matrix = conf.get("matrix") or {}
    if matrix:
        cols = conf.get("labels") or []
        L.append("| expected \\ called | " + " | ".join(_cell(c) for c in cols) + " |")
        L.append("|---|" + "---:|" * len(cols))
        for row in sorted(matrix):
            L.append(f"| {_cell(row)} | " + " | ".join(str(matrix[row].get(c, 0)) for c in cols) + " |")
    else:
        L.append("没有题目指定工具 / no item expects a tool.")
    L.append("")

    failed = [r for r in records if r.get("passed") is False]
    L.append(f"## 未通过的题目 / Failed items ({len(failed)})")
    L.append("")
    if not failed:
        L.append("全部通过 / none.")
    for r in failed:
        L.append(f"### `{_cell(r['id'])}` ({_cell(r.get('category'))}) — {', '.join(r.get('failures') or [])}")
        L.append("")
        for t in (r.get("turns") or [])[:-1]:
            L.append(f"> （前一轮 / earlier turn）{_cell(t.get('question'))}")
        L.append(f"> {_cell(r.get('question'))}")
        L.append("")
        if r.get("error"):
            L.append(f"- 出错 / error: `{_cell(r['error'])}`")
        for c in r.get("checks") or []:
            if not c.get("passed"):
                L.append(f"- ✗ `{c['name']}`: {_cell(c.get('detail'))}")
        if not r.get("error"):
            tools = ", ".join(s.get("tool") for s in r.get("steps") or [] if s.get("tool")) or "none"
            srcs = ", ".join(dict.fromkeys(s.get("source", "") for s in r.get("sources") or [])) or "none"
            L.append(f"- 回答 / answer ({r.get('kind')}, tools: {_cell(tools)}, sources: {_cell(srcs)}): {_cell(_snippet(r.get('answer', '')))}")
        L.append("")

    if m.get("error_items"):
        L.append("## 出错 / Errors")
        L.append("")
        for e in m["error_items"]:
            L.append(f"- `{_cell(e['id'])}`: {_cell(e['error'])}")
        L.append("")
    if m.get("invalid_lines"):
        L.append("## 无效行 / Invalid lines (skipped)")
        L.append("")
        for e in m["invalid_lines"]:
            L.append(f"- line {e['line']}: {_cell(e['message'])}")
        L.append("")

    L.append("## 说明 / How to read this")
    L.append("")
    L.append(
        "Pass rate = items whose every expectation passed / items with at least one expectation (crashes fail). "
        "Strings are matched case- and width-insensitively in the answer the student sees; refusals are read from the "
        "result's `kind` when it has one, else from the answer text; reference similarity is the cosine between the "
        "answer and the reference with the project's embedding model (pass at `min_similarity`, default 0.4; it tells on-topic from off-topic answers, not right from wrong; the model reads 256 tokens, so of a longer answer only the opening counts). "
        "Answer–context similarity compares an answer with what its retrieval step returned: a rough faithfulness signal, not a check. "
        "Latency is the wall-clock time of the last turn as the evaluator saw it. Per-item details: `results.jsonl`; all numbers: `metrics.json`."
    )
    L.append("")
    return "\n".join(L)


def write_report(out_dir: Path, records: list[dict[str, Any]], metrics: dict[str, Any]) -> dict[str, Path]:
    """Write report.md and the PNG plots into `out_dir`; return {name: path}. A plot that fails is
    logged and left out (the report still lists it as missing) rather than losing the report."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for key, fn in (
        ("categories", lambda p: plot_pass_rate_by_category(metrics, p)),
        ("latency", lambda p: plot_latency(records, metrics, p)),
        ("confusion", lambda p: plot_tool_confusion(metrics, p)),
    ):
        path = out_dir / PLOT_FILES[key]
        try:
            written[key] = fn(path)
        except Exception:  # noqa: BLE001 - a broken plot must not cost the report
            log.exception("could not draw %s", path.name)
    report = out_dir / "report.md"
    report.write_text(render_markdown(records, metrics, {k: v.name for k, v in written.items()}), encoding="utf-8")
    written["report"] = report
    return written
