"""Curves of one training run (train.py): loss.png, acc.png and top5.png from its metrics.csv.

Train, held-out valid and test curves share one axis per metric, so over- or under-fitting shows
at a glance; epochs without an evaluation (--eval_every) are simply left out of those curves. The
train loss is the objective the step minimises: with an auxiliary head or label smoothing that is not
the plain cross-entropy of the valid and test curves, and its legend entry says so (train_loss_label).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from plots import DPI, integer_ticks, log_scale, plt, spans_decades
from utils import write_figure

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


def train_loss_label(auxiliary_weight: float = 0.0, smoothing: float = 0.0) -> str:
    """The legend entry of the train loss: "train", or what it adds to the plain cross-entropy that the valid and
    test losses are (train.py's train_loss is CE + auxiliary_weight x the auxiliary head's CE, label-smoothed)."""
    terms = [f"CE + {auxiliary_weight:g} × auxiliary CE" if auxiliary_weight > 0 else "CE"]
    if smoothing > 0:
        terms.append(f"label smoothing {smoothing:g}")
    return "train" if terms == ["CE"] else f"train (objective: {', '.join(terms)})"


def training_figure(rows: list[dict[str, str]], key: str, ylabel: str, title: str = "",
                    train_label: str = "train") -> Any:
    """One metric of a run (loss, acc or top5): train, valid and test against the epoch (whole-number ticks).

    A loss that spans a decade or more gets a log axis: an early spike (a held-out CE of 29 at epoch 1) pressed
    every later epoch onto the axis's floor. ``train_label`` names the train loss (train_loss_label); the train
    accuracies are the main head's, and keep the plain name."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    drawn: list[float] = []
    for split, style in (("train", "-"), ("valid", "--"), ("test", "-.")):
        xs, ys = _series(rows, f"{split}_{key}")
        if xs:
            label = train_label if split == "train" and key == "loss" else split
            ax.plot(xs, ys, style, marker="o" if len(xs) < 30 else None, markersize=3, label=label)
            drawn += ys
    if not drawn:  # every cell empty: an axis of 0 to 1 "%" with no curve read as a measurement, or a broken plot
        why = ("not measured: with 5 classes or fewer\nevery label is among the top 5" if key == "top5"
               else f"no {key} values in metrics.csv")
        ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center")
        ax.set_yticks([])
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


def plot_training_curves(metrics_path: str | Path, out_dir: str | Path, title: str = "",
                         train_label: str = "train") -> list[Path]:
    """Write loss.png, acc.png and top5.png (train / valid / test per epoch) into out_dir; ``train_label`` names
    the train loss (train_loss_label)."""
    with open(metrics_path, newline="") as f:
        rows = list(csv.DictReader(f))
    out_dir = Path(out_dir)
    written = []
    for filename, key, ylabel in PANELS:
        fig = training_figure(rows, key, ylabel, title, train_label)
        try:
            written.append(write_figure(fig, out_dir / filename, dpi=DPI))
        finally:
            plt.close(fig)
    return written
