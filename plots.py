"""Plots of a sweep shared by multiobjective.py and the tools: the front and the loss curves.

Colours of nu are the same in every plot (a log-scaled colormap over the sweep's nus; nu = 0 is black),
so a reader can follow one search from the frontier to its loss curves.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402

DPI = 120


def nu_colors(nus: Sequence[float], cmap: str = "viridis") -> dict[float, Any]:
    """One colour per nu: log-spaced over the positive nus, black for nu = 0."""
    positive = sorted({n for n in nus if n > 0})
    mapping: dict[float, Any] = {n: "black" for n in nus if n <= 0}
    if positive:
        norm = mcolors.LogNorm(vmin=positive[0], vmax=positive[-1] if positive[-1] > positive[0] else positive[0] * 10)
        colormap = plt.get_cmap(cmap)
        for n in positive:
            mapping[n] = colormap(0.1 + 0.8 * norm(n))
    return mapping


COST_LABELS = {"params": "parameters of the derived network (M)",
               "flops": "FLOPs of the derived network (M multiply-adds)",
               "latency": "latency of the derived network (ms, lookup table)"}


def _penalty_label(objective: str) -> str:
    if objective in COST_LABELS:
        return COST_LABELS[objective]
    return "L1 penalty  Σ|w|" if objective == "l1" else "L2 penalty  Σw²"


def plot_frontier(
    searches: Sequence[dict[str, Any]],
    optimal: Sequence[dict[str, Any]],
    objective: str,
    path: str | Path,
    *,
    dominated: bool = True,
    size: tuple[float, float] = (7.0, 5.0),
    title: str | None = None,
) -> Path:
    """CE against the penalty (log axis): the front as a step line, optimal points labelled by name/nu."""
    fig, ax = plt.subplots(figsize=size)
    done = [s for s in searches if s.get("status", "done") == "done" and s.get("reg_loss") is not None]
    colors = nu_colors([s["weight"][0] for s in done])
    optimal_keys = {tuple(o["weight"]) for o in optimal}
    if dominated:
        rest = [s for s in done if tuple(s["weight"]) not in optimal_keys]
        if rest:
            ax.scatter([s["reg_loss"] for s in rest], [s["criterion_loss"] for s in rest], marker="x",
                       color="0.55", label="dominated", zorder=2)
    front = sorted(optimal, key=lambda o: o["reg_loss"])
    if front:
        ax.step([o["reg_loss"] for o in front], [o["criterion_loss"] for o in front], where="post",
                color="0.3", linewidth=1, linestyle="--", zorder=1, label="front")
        for o in front:
            ax.scatter(o["reg_loss"], o["criterion_loss"], color=colors.get(o["weight"][0], "C0"),
                       edgecolor="black", s=50, zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel(_penalty_label(objective) + " (log scale)")
    ax.set_ylabel("cross-entropy (search, last epoch)")
    ax.set_title(title or f"{objective.upper()} sweep: {len(done)} searches, {len(front)} Pareto-optimal")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    if front:
        from tools.tables import place_labels  # labels placed where they cover no point or other label

        place_labels(ax, [(o["reg_loss"], o["criterion_loss"], o.get("name") or f"nu={o['weight'][0]:.2g}",
                           "0.2") for o in front], required=len(front))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)


def read_metrics(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _floats(rows: list[dict[str, str]], key: str) -> list[float]:
    return [float(r[key]) if r.get(key) not in (None, "") else math.nan for r in rows]


def plot_losses(
    searches: Sequence[dict[str, Any]], objective: str, path: str | Path, size: tuple[float, float] = (11.0, 4.5)
) -> Path:
    """Per-epoch cross-entropy and penalty of every finished search, one colour per nu, legend by nu."""
    fig, (ax_ce, ax_reg) = plt.subplots(1, 2, figsize=size)
    done = [s for s in searches if s.get("status") == "done" and s.get("run_dir")]
    done.sort(key=lambda s: s["weight"][0])
    colors = nu_colors([s["weight"][0] for s in done])
    for s in done:
        metrics = Path(s["run_dir"]) / "metrics.csv"
        if not metrics.is_file():
            continue
        rows = read_metrics(metrics)
        epochs = _floats(rows, "epoch")
        nu = s["weight"][0]
        label = f"nu = {nu:.3g}"
        ax_ce.plot(epochs, _floats(rows, "criterion_loss"), color=colors[nu], label=label)
        ax_reg.plot(epochs, _floats(rows, f"{objective}_loss"), color=colors[nu], label=label)
    ax_ce.set_xlabel("epoch")
    ax_ce.set_ylabel("cross-entropy (train)")
    ax_reg.set_xlabel("epoch")
    ax_reg.set_ylabel(_penalty_label(objective))
    ax_reg.set_yscale("log")
    for ax in (ax_ce, ax_reg):
        ax.grid(True, alpha=0.3)
    if done:
        ax_reg.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, title="ordered by nu")
    fig.suptitle(f"{objective.upper()} sweep: search losses per epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)
