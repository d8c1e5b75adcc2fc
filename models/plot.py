"""Loss-curve PNG from a training log (train_log.jsonl).

Uses matplotlib when it is installed; otherwise draws a plain chart (axes, grid, train line in blue,
validation in orange, no text) with numpy and zlib, so training never depends on a plotting library.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np


def read_log(path: str | Path) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    train, val = [], []
    p = Path(path)
    if not p.is_file():
        return train, val
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "train_loss" in rec:
            train.append((rec["step"], rec["train_loss"]))
        if "val_loss" in rec:
            val.append((rec["step"], rec["val_loss"]))
    return train, val


def plot_losses(log_path: str | Path, png_path: str | Path, title: str = "tutor-gpt") -> Path:
    train, val = read_log(log_path)
    png_path = Path(png_path)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # no matplotlib: draw it ourselves
        return _plain_png(train, val, png_path)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        ax.plot(*zip(*train), label="train", color="tab:blue", lw=1.2)
    if val:
        ax.plot(*zip(*val), label="validation (held-out notes)", color="tab:orange", lw=1.8, marker="o", ms=3)
        best = min(val, key=lambda sv: sv[1])
        ax.axvline(best[0], color="gray", ls="--", lw=0.8)
        ax.annotate(f"best val {best[1]:.3f} @ {best[0]}", (best[0], best[1]), textcoords="offset points",
                    xytext=(5, 10), fontsize=8)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return png_path


def _plain_png(train, val, png_path: Path, w: int = 640, h: int = 360) -> Path:
    img = np.full((h, w, 3), 255, dtype=np.uint8)
    m = 30
    img[m:h - m + 1, m] = 0
    img[h - m, m:w - m + 1] = 0
    pts = train + val
    if pts:
        xs = np.array([p[0] for p in pts], dtype=float)
        ys = np.array([p[1] for p in pts], dtype=float)
        x0, x1 = xs.min(), max(xs.max(), xs.min() + 1)
        y0, y1 = ys.min(), max(ys.max(), ys.min() + 1e-6)
        for gy in np.linspace(m, h - m, 5).astype(int):
            img[gy, m:w - m:4] = 200

        def to_px(s, v):
            return m + (s - x0) / (x1 - x0) * (w - 2 * m), (h - m) - (v - y0) / (y1 - y0) * (h - 2 * m)

        for series, color in ((train, (31, 119, 180)), (val, (255, 127, 14))):
            for (s0, v0), (s1, v1) in zip(series, series[1:]):
                (ax, ay), (bx, by) = to_px(s0, v0), to_px(s1, v1)
                n = int(max(abs(bx - ax), abs(by - ay))) + 2
                for t in np.linspace(0, 1, n):
                    px, py = int(round(ax + t * (bx - ax))), int(round(ay + t * (by - ay)))
                    img[max(0, py - 1):py + 1, max(0, px - 1):px + 1] = color
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    png_path.write_bytes(png)
    return png_path
