"""Plots of a sweep shared by multiobjective.py and the tools: the front and the loss curves.

Colours of nu are the same in every plot of every sweep: a colour is a function of nu alone (viridis
on a log scale over the fixed range NU_RANGE, nu = 0 black), never of the other nus on the plot, so a
reader can follow one search from frontier_00.png to frontier.png, losses.png and the tools' plots.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

DPI = 120
NU_RANGE = (1e-6, 1.0)  # nu of a NISE weight (nu, 1 - nu) lies in [0, 1]; smaller nus take the end colour


def nu_colormap() -> tuple[mcolors.Colormap, mcolors.Normalize]:
    """The colormap and norm of every nu colour (and of the colour bars that explain them)."""
    cmap = mcolors.ListedColormap(plt.get_cmap("viridis")(np.linspace(0.1, 0.9, 256)))
    return cmap, mcolors.LogNorm(vmin=NU_RANGE[0], vmax=NU_RANGE[1], clip=True)


def nu_color(nu: float) -> tuple[float, float, float, float]:
    """The colour of one nu: black for nu <= 0, else its place on the log scale of NU_RANGE."""
    if not nu > 0:
        return mcolors.to_rgba("black")
    cmap, norm = nu_colormap()
    return tuple(float(c) for c in cmap(float(norm(nu))))


def plural(count: int, word: str) -> str:
    """The count with its noun in the right number: "1 search", "2 searches", "3 networks"."""
    return f"{count} {word if count == 1 else word + ('es' if word.endswith(('s', 'sh', 'ch', 'x')) else 's')}"


def integer_ticks(ax: Any, axis: str = "x") -> None:
    """Whole-number ticks on an epoch (or other count) axis, even for a run of one epoch."""
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


COST_LABELS = {"params": "parameters of the derived network (M)",
               "flops": "FLOPs of the derived network (M multiply-adds)",
               "latency": "latency of the derived network (ms, lookup table)"}


def _penalty_label(objective: str) -> str:
    if objective in COST_LABELS:
        return COST_LABELS[objective]
    return "L1 penalty  Σ|w|" if objective == "l1" else "L2 penalty  Σw²"


def frontier_figure(
    searches: Sequence[dict[str, Any]],
    optimal: Sequence[dict[str, Any]],
    objective: str,
    *,
    dominated: bool = True,
    size: tuple[float, float] = (7.0, 5.0),
    title: str | None = None,
) -> Any:
    """CE against the penalty (log axis): the front as a step line, optimal points named, colour bar of nu."""
    from tools.tables import add_nu_colorbar, place_labels  # labels placed where they cover no point or other label

    fig, ax = plt.subplots(figsize=size)
    done = [s for s in searches if s.get("status", "done") == "done" and s.get("reg_loss") is not None]
    optimal_keys = {tuple(o["weight"]) for o in optimal}
    if dominated:
        rest = [s for s in done if tuple(s["weight"]) not in optimal_keys]
        if rest:
            ax.scatter([s["reg_loss"] for s in rest], [s["criterion_loss"] for s in rest], marker="x",
                       color="0.55", label="dominated", zorder=2)
    front = sorted(optimal, key=lambda o: o["reg_loss"])
    if len(front) > 1:  # one point draws no line: no legend entry for it either
        ax.step([o["reg_loss"] for o in front], [o["criterion_loss"] for o in front], where="post",
                color="0.3", linewidth=1, linestyle="--", zorder=1, label="front")
    for o in front:
        ax.scatter(o["reg_loss"], o["criterion_loss"], color=nu_color(o["weight"][0]), edgecolor="black", s=50,
                   zorder=3)
    if front:  # a grey proxy for the legend, since the colours encode nu
        ax.scatter([], [], color="0.6", edgecolor="black", s=50, label="Pareto-optimal (colour: ν)")
    ax.set_xscale("log")
    ax.set_xlabel(_penalty_label(objective) + " (log scale)")
    ax.set_ylabel("cross-entropy (search, last epoch)")
    ax.set_title(title or f"{objective.upper()} sweep: {plural(len(done), 'search')}, {len(front)} Pareto-optimal")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    add_nu_colorbar(fig, ax, [o["weight"][0] for o in front])
    fig.tight_layout()
    if front:
        place_labels(ax, [(o["reg_loss"], o["criterion_loss"], o.get("name") or f"nu={o['weight'][0]:.2g}",
                           "0.2") for o in front], required=len(front))
    return fig


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
    """frontier_figure written as a PNG (frontier_NN.png after each search, frontier.png at the end)."""
    fig = frontier_figure(searches, optimal, objective, dominated=dominated, size=size, title=title)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)


def read_metrics(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _floats(rows: list[dict[str, str]], key: str) -> list[float]:
    return [float(r[key]) if r.get(key) not in (None, "") else math.nan for r in rows]


def losses_figure(
    searches: Sequence[dict[str, Any]], objective: str, size: tuple[float, float] = (11.0, 4.5)
) -> Any:
    """Per-epoch cross-entropy and penalty of every finished search, one colour per nu, legend by nu."""
    fig, (ax_ce, ax_reg) = plt.subplots(1, 2, figsize=size)
    done = [s for s in searches if s.get("status") == "done" and s.get("run_dir")]
    done.sort(key=lambda s: s["weight"][0])
    for s in done:
        metrics = Path(s["run_dir"]) / "metrics.csv"
        if not metrics.is_file():
            continue
        rows = read_metrics(metrics)
        epochs = _floats(rows, "epoch")
        nu = s["weight"][0]
        label = f"nu = {nu:.3g}"
        ax_ce.plot(epochs, _floats(rows, "criterion_loss"), color=nu_color(nu), label=label)
        ax_reg.plot(epochs, _floats(rows, f"{objective}_loss"), color=nu_color(nu), label=label)
    ax_ce.set_xlabel("epoch")
    ax_ce.set_ylabel("cross-entropy (train)")
    ax_reg.set_xlabel("epoch")
    ax_reg.set_ylabel(_penalty_label(objective))
    ax_reg.set_yscale("log")
    for ax in (ax_ce, ax_reg):
        ax.grid(True, alpha=0.3)
        integer_ticks(ax)
    if done:
        ax_reg.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, title="ordered by nu")
    fig.suptitle(f"{objective.upper()} sweep: search losses per epoch")
    fig.tight_layout()
    return fig


def plot_losses(
    searches: Sequence[dict[str, Any]], objective: str, path: str | Path, size: tuple[float, float] = (11.0, 4.5)
) -> Path:
    """losses_figure written as a PNG (losses.png of a sweep)."""
    fig = losses_figure(searches, objective, size)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)
