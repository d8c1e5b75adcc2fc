"""Heatmaps of attention weights and masks as PNG bytes (matplotlib, Agg canvas, no GUI, no pyplot).

Chinese labels need a CJK font: we try Noto Sans CJK (installed by the project's setup as
fonts-noto-cjk), then WenQuanYi, then DejaVu Sans. Where no CJK font is installed the picture is
still produced (CJK glyphs show as boxes) and the missing-glyph warnings are silenced.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

CJK_FONT_FALLBACK = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "DejaVu Sans"]
MAX_ANNOTATED_CELLS = 12  # write the number in each cell up to 12x12


@lru_cache(maxsize=1)
def available_fonts() -> list[str]:
    """The fallback fonts that are really installed (so matplotlib never warns 'findfont')."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    chosen = [name for name in CJK_FONT_FALLBACK if name in installed]
    return chosen or ["DejaVu Sans"]


def heatmap_png(
    matrices: Sequence[np.ndarray],
    *,
    titles: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    masked: Sequence[np.ndarray] | None = None,
    suptitle: str | None = None,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    cmap: str = "Blues",
    path: str | Path | None = None,
) -> bytes:
    """Draw one heatmap panel per matrix; return PNG bytes (and write them to `path` if given).

    `masked[i]` (boolean, same shape) marks cells drawn grey with a cross: positions that were masked out.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    mats = [np.atleast_2d(np.asarray(m, dtype=np.float64)) for m in matrices]
    if not mats:
        raise ValueError("nothing to plot")
    count = len(mats)
    ncols = min(count, 4)
    nrows = math.ceil(count / ncols)
    n, m = mats[0].shape
    cell = 0.55 if max(n, m) <= 12 else max(0.12, 6.0 / max(n, m))
    panel_w = max(3.0, m * cell + 1.6)
    panel_h = max(2.6, n * cell + 1.2)
    rc = {
        "font.family": "sans-serif",
        "font.sans-serif": available_fonts() + ["DejaVu Sans"],
        "axes.unicode_minus": False,
    }
    font_logger = logging.getLogger("matplotlib.font_manager")
    old_level = font_logger.level
    font_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), matplotlib.rc_context(rc):
            warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing.*")
            warnings.filterwarnings("ignore", message=r".*findfont.*")
            fig = Figure(figsize=(panel_w * ncols, panel_h * nrows + (0.4 if suptitle else 0)), dpi=110)
            FigureCanvasAgg(fig)
            axes = fig.subplots(nrows, ncols, squeeze=False)
            for idx, ax in enumerate(axes.flat):
                if idx >= count:
                    ax.set_visible(False)
                    continue
                mat = mats[idx]
                mask = None if masked is None else np.asarray(masked[idx], dtype=bool)
                shown = np.ma.masked_array(mat, mask=mask) if mask is not None else mat
                cm = matplotlib.colormaps[cmap].with_extremes(bad="#d9d9d9")
                im = ax.imshow(shown, cmap=cm, vmin=vmin, vmax=vmax, aspect="auto")
                r, c = mat.shape
                if max(r, c) <= MAX_ANNOTATED_CELLS:
                    for i in range(r):
                        for j in range(c):
                            if mask is not None and mask[i, j]:
                                ax.text(j, i, "×", ha="center", va="center", color="#808080", fontsize=9)
                            else:
                                val = mat[i, j]
                                dark = vmax is not None and vmin is not None and val > vmin + 0.6 * (vmax - vmin)
                                ax.text(j, i, f"{val:.2f}", ha="center", va="center", fontsize=8, color="white" if dark else "black")
                if col_labels is not None and len(col_labels) == c and c <= 40:
                    ax.set_xticks(range(c), labels=list(col_labels), rotation=45 if c > 6 else 0, ha="right" if c > 6 else "center", fontsize=8)
                if row_labels is not None and len(row_labels) == r and r <= 40:
                    ax.set_yticks(range(r), labels=list(row_labels), fontsize=8)
                ax.set_xlabel("key")
                ax.set_ylabel("query")
                if titles is not None and idx < len(titles):
                    ax.set_title(titles[idx], fontsize=10)
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
            if suptitle:
                fig.suptitle(suptitle, fontsize=11)
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
    finally:
        font_logger.setLevel(old_level)
    data = buf.getvalue()
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return data
