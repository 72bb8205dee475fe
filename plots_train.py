"""Curves of one training run (train.py): loss.png, acc.png and top5.png from its metrics.csv.

Train, held-out valid and test curves share one axis per metric, so over- or under-fitting shows
at a glance; epochs without an evaluation (--eval_every) are simply left out of those curves.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from plots import DPI, integer_ticks, log_scale, plt, spans_decades

PANELS = (("loss.png", "loss", "cross-entropy"), ("acc.png", "acc", "top-1 accuracy (%)"),
          ("top5.png", "top5", "top-5 accuracy (%)"))


def _series(rows: list[dict[str, str]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for row in rows:
        value = row.get(key)
        if value in (None, ""):
            continue
        y = float(value)
        if math.isfinite(y):
            xs.append(float(row["epoch"]))
            ys.append(y)
    return xs, ys


def training_figure(rows: list[dict[str, str]], key: str, ylabel: str, title: str = "") -> Any:
    """One metric of a run (loss, acc or top5): train, valid and test against the epoch (whole-number ticks).

    A loss that spans a decade or more gets a log axis: an early spike (a held-out CE of 29 at epoch 1) pressed
    every later epoch onto the axis's floor."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    drawn: list[float] = []
    for split, style in (("train", "-"), ("valid", "--"), ("test", "-.")):
        xs, ys = _series(rows, f"{split}_{key}")
        if xs:
            ax.plot(xs, ys, style, marker="o" if len(xs) < 30 else None, markersize=3, label=split)
            drawn += ys
    ax.set_xlabel("epoch")
    integer_ticks(ax)
    if key == "loss" and spans_decades(drawn) and min(drawn) > 0:
        log_scale(ax, "y")
        ylabel += ", log scale"
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def plot_training_curves(metrics_path: str | Path, out_dir: str | Path, title: str = "") -> list[Path]:
    """Write loss.png, acc.png and top5.png (train / valid / test per epoch) into out_dir."""
    with open(metrics_path, newline="") as f:
        rows = list(csv.DictReader(f))
    out_dir = Path(out_dir)
    written = []
    for filename, key, ylabel in PANELS:
        fig = training_figure(rows, key, ylabel, title)
        fig.savefig(out_dir / filename, dpi=DPI)
        plt.close(fig)
        written.append(out_dir / filename)
    return written
