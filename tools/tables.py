"""Tables shared by the tools: column names, CSV in and out, Pareto fronts, and the plots drawn from them.

Our tables use the snake_case names of ``COLUMNS``; the original tools wrote the same quantities
under other names, which differ even between their own tables ("Weight"/"weight", "Params"/"Size",
"Search crit loss"/"search_criterion_loss"/"Search criterion loss", ...). ``read_table`` maps every
known spelling to ours, so ``-d CSV`` re-plots tables of either origin.

Units: accuracies and errors in %, sizes in millions of parameters (``size_m``), ``parameters`` and
``flops`` (multiply-adds, as thop counts them) as plain counts, latencies in milliseconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import cm

from pareto import default_reference, hypervolume_2d, non_dominated
from plots import COST_LABELS, DPI, nu_color, plt, plural
from plots import nu_colormap as _nu_colormap

__all__ = [
    "COLUMNS",
    "canonical_name",
    "add_nu_colorbar",
    "add_profiling_args",
    "draw_front",
    "format_table",
    "front_hypervolume",
    "front_indices",
    "hypervolume_text",
    "label",
    "load_sweep",
    "make_profiler",
    "normalise_columns",
    "nu_from_name",
    "nu_positions",
    "outside_legend_below",
    "overlapping_neighbours",
    "parse_inches",
    "correlation_figure",
    "place_labels",
    "plot_correlation",
    "plural",
    "plot_search_front",
    "search_front_figure",
    "segments_cross",
    "read_table",
    "run_folder",
    "save_figure",
    "scatter_by_nu",
    "set_nu_axis",
    "spans_decades",
    "write_table",
]

# Our column -> (axis label with its unit, the names the original tools used for it).
COLUMNS: MappingProxyType[str, tuple[str, tuple[str, ...]]] = MappingProxyType({
    "name": ("model", ("Model name", "model_name", "model", "arch")),
    "nu": ("ν (penalty weight)", ("Weight", "weight")),
    "size_m": ("parameters (M)", ("Params", "Size", "model_size", "size")),
    "train_loss": ("train loss (cross-entropy)", ()),
    "train_acc": ("train accuracy (%)", ()),
    "valid_loss": ("valid loss (cross-entropy)", ()),
    "valid_acc": ("valid accuracy (%)", ()),
    "test_loss": ("test loss (cross-entropy)", ()),
    "test_acc": ("test accuracy (%)", ()),
    "test_top5": ("test top-5 accuracy (%)", ()),
    "search_train_acc": ("search train accuracy (%)", ("Search train acc",)),
    "search_valid_acc": ("search valid accuracy (%)",
                         ("Search valid acc", "Search accuracy", "Search acc", "search_acc")),
    "search_criterion_loss": ("search cross-entropy", ("Search crit loss", "Search criterion loss")),
    "search_reg_loss": ("search penalty R", ("Search reg loss", "Search regularization loss")),
    "parameters": ("parameters", ("Parameters",)),
    "flops": ("FLOPs (multiply-adds per image)", ("FLOPs",)),
    "latency_cpu_ms": ("CPU latency, batch 1 (ms)", ("Latency CPU",)),
    "latency_gpu_ms": ("GPU latency, batch 8 (ms)", ("Latency GPU",)),
    "latency_gpu_b1_ms": ("GPU latency, batch 1 (ms)", ("Latency GPU b1", "Latency GPU batch 1")),
    "epochs": ("epochs", ()),
})

# Derived quantities the plots use.
_DERIVED_LABELS = MappingProxyType({
    "test_error": "test error (%)",
    "valid_error": "valid error (%)",
    "search_valid_error": "search valid error (%)",
    "parameters_m": "parameters (M)",
})


def _key(column: str) -> str:
    """Spelling-insensitive key: "Search crit loss" and "search_crit_loss" are the same column."""
    return re.sub(r"[^0-9a-z]+", "_", str(column).strip().lower()).strip("_")


_ALIASES = MappingProxyType({
    _key(alias): ours for ours, (_, aliases) in COLUMNS.items() for alias in (ours, *aliases)
})


def canonical_name(column: str) -> str:
    """Our name for a column of any known spelling; unknown columns keep their name."""
    return _ALIASES.get(_key(column), str(column))


def normalise_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Rename the columns to ours; of two columns that mean the same, the first is kept."""
    names = [canonical_name(c) for c in df.columns]
    keep = [i for i, n in enumerate(names) if n not in names[:i]]
    out = df.iloc[:, keep].copy()
    out.columns = [names[i] for i in keep]
    return out


def read_table(path: str | Path) -> pd.DataFrame:
    """A table these tools or the original ones wrote, with our column names and numeric columns as floats."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such table: {path}")
    try:
        raw = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a readable CSV table ({' '.join(str(err).split())})") from None
    if raw.columns.size and str(raw.columns[0]).startswith("Unnamed"):
        raw = raw.drop(columns=raw.columns[0])  # a pandas index written without a name
    df = normalise_columns(raw)
    known = [c for c in df.columns if c in COLUMNS and c != "name"]
    if not known:
        raise ValueError(f"{path} has none of the known columns ({', '.join(map(str, raw.columns))})")
    for column in known:
        df[column] = pd.to_numeric(df[column], errors="coerce")
    if "name" not in df.columns:
        df.insert(0, "name", [f"row {i}" for i in range(len(df))])
    df["name"] = df["name"].astype(str)
    if "nu" not in df.columns:
        df.insert(1, "nu", [nu_from_name(n) for n in df["name"]])
    df["nu"] = pd.to_numeric(df["nu"], errors="coerce")
    return df


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """CSV with full float precision (values read back equal those written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def format_table(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """The table as text for the terminal: every row and column, numbers shortened."""
    view = df[[c for c in (columns or df.columns) if c in df.columns]]
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                           "display.float_format", lambda v: f"{v:.6g}"):
        return view.to_string(index=False)


def nu_from_name(name: str) -> float | None:
    """The nu a sweep name encodes ("l2_loss_429e05" -> 0.00429, "L1_loss_2e01" -> 0.2), else None."""
    match = re.match(r"^(?:l[12]|params|flops|latency)_loss_(\d+)e(\d+)(?:_|$)", str(name), flags=re.IGNORECASE)
    if not match:
        return None
    return int(match.group(1)) * 10.0 ** -int(match.group(2))


def label(column: str, objective: str | None = None) -> str:
    """Axis label with its unit."""
    if column == "search_reg_loss" and objective in ("l1", "l2"):
        return "search penalty " + ("Σ|w| (L1)" if objective == "l1" else "Σw² (L2)")
    if column == "search_reg_loss" and objective in COST_LABELS:
        return COST_LABELS[objective]
    if column in _DERIVED_LABELS:
        return _DERIVED_LABELS[column]
    return COLUMNS[column][0] if column in COLUMNS else column


# --------------------------------------------------------------------------- fronts


def _finite_pairs(xs: Iterable[Any], ys: Iterable[Any]) -> list[int]:
    out = []
    for i, (x, y) in enumerate(zip(xs, ys)):
        try:
            if math.isfinite(float(x)) and math.isfinite(float(y)):
                out.append(i)
        except (TypeError, ValueError):
            continue
    return out


def front_indices(xs: Sequence[Any], ys: Sequence[Any]) -> list[int]:
    """Positions of the non-dominated (x, y) points, both minimised; points with a NaN are left out."""
    valid = _finite_pairs(xs, ys)
    points = [(float(xs[i]), float(ys[i])) for i in valid]
    return [valid[k] for k in non_dominated(points)] if points else []


def front_hypervolume(
    xs: Sequence[Any], ys: Sequence[Any], reference: Sequence[float] | None = None
) -> tuple[float, tuple[float, float]] | None:
    """2-D hypervolume of the front of (x, y) and its reference point (default: maxima + 10 %)."""
    valid = _finite_pairs(xs, ys)
    if not valid:
        return None
    points = [(float(xs[i]), float(ys[i])) for i in valid]
    ref = tuple(float(r) for r in reference) if reference is not None else default_reference(points)
    return hypervolume_2d(points, ref), (ref[0], ref[1])


def hypervolume_text(what: str, result: tuple[float, tuple[float, float]] | None, names: tuple[str, str]) -> str:
    if result is None:
        return f"hypervolume of {what}: n/a (no complete rows)"
    value, (rx, ry) = result
    return f"hypervolume of {what}: {value:.4g} (reference point {names[0]} = {rx:.3g}, {names[1]} = {ry:.3g})"


# --------------------------------------------------------------------------- plots


def save_figure(fig: Any, path: str | Path) -> Path:
    """Lay out, write a PNG at the project's DPI, and free the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=max(DPI, 100), bbox_inches="tight")  # keeps legends placed outside the axes
    plt.close(fig)
    return path


def spans_decades(values: Iterable[Any], decades: float = 1.0) -> bool:
    """True when the positive values span at least ``decades`` orders of magnitude (log axis then)."""
    positive = [float(v) for v in values if v is not None and np.isfinite(v) and float(v) > 0]
    return len(positive) > 1 and math.log10(max(positive) / min(positive)) >= decades


def nu_positions(nus: Sequence[Any]) -> tuple[list[float], float | None]:
    """Where to draw each nu on a log axis: nu = 0 goes one decade left of the smallest positive nu."""
    positive = [float(n) for n in nus if n is not None and np.isfinite(n) and n > 0]
    zero_at = min(positive) / 10 if positive else 1e-6
    has_zero = any(n is not None and np.isfinite(n) and n == 0 for n in nus)
    pos = [zero_at if (n is not None and np.isfinite(n) and n == 0) else (float(n) if n is not None else math.nan)
           for n in nus]
    return pos, (zero_at if has_zero else None)


def set_nu_axis(ax: Any, nus: Sequence[Any], axis: str = "x") -> None:
    """Log nu axis when the nus span a decade or more; nu = 0 gets its own tick left of a break."""
    _, zero_at = nu_positions(nus)
    if not (spans_decades(nus) or zero_at is not None):
        (ax.set_xlabel if axis == "x" else ax.set_ylabel)(label("nu"))
        return
    if axis == "x":
        ax.set_xscale("log")
        ax.set_xlabel(label("nu") + ", log scale")
    else:
        ax.set_yscale("log")
        ax.set_ylabel(label("nu") + ", log scale")
    if zero_at is not None:
        line = ax.axvline if axis == "x" else ax.axhline
        line(zero_at * 10 ** 0.5, color="0.6", linestyle=":", linewidth=1)
        if axis == "x":
            ax.annotate("ν=0", xy=(zero_at, 0), xycoords=("data", "axes fraction"), xytext=(0, -14),
                        textcoords="offset points", ha="center", va="top", fontsize=8, color="0.25")
        else:
            ax.annotate("ν=0", xy=(0, zero_at), xycoords=("axes fraction", "data"), xytext=(-20, 0),
                        textcoords="offset points", ha="right", va="center", fontsize=8, color="0.25")


def nu_colormap(nus: Sequence[Any]) -> tuple[Any, Any] | None:
    """The colormap and norm behind plots.nu_color (the same for every plot), or None without a positive nu."""
    if not any(n is not None and np.isfinite(n) and n > 0 for n in nus):
        return None
    return _nu_colormap()


def point_colors(nus: Sequence[Any]) -> list[Any]:
    """One colour per row: plots.nu_color for known nus, grey where nu is unknown."""
    return [nu_color(float(n)) if n is not None and np.isfinite(n) else "0.6" for n in nus]


def add_nu_colorbar(fig: Any, ax: Any, nus: Sequence[Any]) -> None:
    """The colour bar of nu over its fixed range (plots.NU_RANGE), so that it reads the same on every plot."""
    spec = nu_colormap(nus)
    if spec is None:
        return
    cmap, norm = spec
    bar = fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02, extend="min")
    notes = (["ν=0 in black"] if any(n == 0 for n in nus) else []) + (
        ["grey: ν unknown"] if any(n is None or not np.isfinite(n) for n in nus) else [])
    bar.set_label("; ".join(["ν (penalty weight)", *notes]))


def scatter_by_nu(
    ax: Any,
    xs: Sequence[Any],
    ys: Sequence[Any],
    nus: Sequence[Any],
    labels: Sequence[str] | None = None,
    marker: str = "o",
    size: float = 45,
    hollow: bool = False,
    series: str | None = None,
) -> None:
    """Points coloured by nu (the sweep's colours); ``labels`` are written beside the points."""
    colors = point_colors(nus)
    for i, (x, y) in enumerate(zip(xs, ys)):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        face = "none" if hollow else colors[i]
        ax.scatter(x, y, marker=marker, s=size, facecolors=face, edgecolors=colors[i] if hollow else "black",
                   linewidths=1.2 if hollow else 0.6, zorder=3)
        if labels is not None and labels[i]:
            ax.annotate(labels[i], (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7, zorder=4)
    if series:  # a proxy for the legend, in neutral grey, since the colours encode nu
        ax.scatter([], [], marker=marker, s=size, facecolors="none" if hollow else "0.6",
                   edgecolors="0.3", label=series)


def _marker_boxes(ax: Any, radius: float) -> list[tuple[float, float, float, float]]:
    """Display-space boxes around every scatter point already drawn (labels must not cover them)."""
    boxes = []
    for collection in ax.collections:
        offsets = np.asarray(collection.get_offsets(), dtype=float)
        if offsets.ndim != 2 or not len(offsets):
            continue
        for px, py in ax.transData.transform(offsets):
            if np.isfinite(px) and np.isfinite(py):
                boxes.append((px - radius, py - radius, px + radius, py + radius))
    return boxes


Box = tuple[float, float, float, float]
Segment = tuple[tuple[float, float], tuple[float, float]]


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def segments_cross(s: Segment, t: Segment) -> bool:
    """True when two segments cross at a point inside both (touching ends do not count)."""
    (p, q), (r, u) = s, t
    d1, d2, d3, d4 = _cross(r, u, p), _cross(r, u, q), _cross(p, q, r), _cross(p, q, u)
    return d1 * d2 < 0 and d3 * d4 < 0


def _segment_hits_box(seg: Segment, box: Box) -> bool:
    """True when the segment passes through the box (an end inside counts)."""
    (p, q), (x0, y0, x1, y1) = seg, box
    if any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in (p, q)):
        return True
    corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return any(segments_cross(seg, (corners[k], corners[(k + 1) % 4])) for k in range(4))


def _uncross(placements: list[dict[str, Any]]) -> None:
    """Swap the spots of two labels whose leader lines cross, until none do.

    Swapping the far ends of two crossing segments makes them shorter in total (triangle
    inequality), so this ends; each swapped label keeps its width, centred where the other was.
    """
    for _ in range(4 * len(placements) ** 2):
        pairs = [(a, b) for i, a in enumerate(placements) for b in placements[i + 1:]
                 if a["leader"] and b["leader"] and segments_cross(a["leader"], b["leader"])]
        if not pairs:
            return
        a, b = pairs[0]
        ca, cb = a["leader"][0], b["leader"][0]
        for item, centre in ((a, cb), (b, ca)):
            w, h = item["box"][2] - item["box"][0], item["box"][3] - item["box"][1]
            item["box"] = (centre[0] - w / 2, centre[1] - h / 2, centre[0] + w / 2, centre[1] + h / 2)
            item["leader"] = (centre, item["point"])


def place_labels(ax: Any, items: Sequence[tuple[float, float, str, Any]], fontsize: float = 7,
                 required: int = 0) -> int:
    """Write each (x, y, text, colour) near its point where it covers no other label, no point and stays inside.

    Tries the four corners around the point, then farther out with a leader line; a leader line
    should cross no other leader line and pass through no label or other point, and no later label
    sit on an earlier leader, so that each label reads as belonging to the point it is joined to
    (two leader lines that still cross get their labels swapped). The first ``required`` items are
    always written (at the least crowded spot); a later label that finds no free spot is left out,
    and with more than 10 labels the others go right beside their point or nowhere, so that crowded
    plots stay readable. Returns how many were left out.
    Call it last, once scales and limits are final (it works in display coordinates).
    """
    ax.figure.canvas.draw()  # fixes the limits and the transforms
    scale = ax.figure.dpi / 72.0
    char_w, line_h, gap = fontsize * 0.6 * scale, fontsize * 1.25 * scale, 4 * scale
    obstacles = _marker_boxes(ax, 4 * scale)
    frame = ax.get_window_extent()
    placed: list[Box] = []
    leaders: list[Segment] = []

    def badness(box: Box, leader: Segment | None) -> int:
        """0 for a free spot. Costs: a label on a label or a leader crossing a leader 3, on a point or a
        leader through a label 2, a leader through another point 1, leaving the axes 100."""
        inside = frame.x0 <= box[0] and box[2] <= frame.x1 and frame.y0 <= box[1] and box[3] <= frame.y1
        cost = 3 * sum(_overlap(box, b) for b in placed) + 2 * sum(_overlap(box, b) for b in obstacles)
        cost += 3 * sum(_segment_hits_box(seg, box) for seg in leaders)
        if leader is not None:
            px, py = leader[1]
            cost += 3 * sum(segments_cross(leader, seg) for seg in leaders)
            cost += 2 * sum(_segment_hits_box(leader, b) for b in placed)
            cost += sum(_segment_hits_box(leader, b) for b in obstacles
                        if not (b[0] <= px <= b[2] and b[1] <= py <= b[3]))  # its own point's marker is no obstacle
        return cost + (0 if inside else 100)

    omitted = 0
    placements: list[dict[str, Any]] = []
    for n, (x, y, text, color) in enumerate(items):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        px, py = ax.transData.transform((x, y))
        width = len(text) * char_w
        candidates = []
        for k in range(0, 16 if n < required else 8):  # a label that must be written looks farther
            for dx_sign in (1, -1):
                for dy in (gap + k * line_h, -gap - line_h - k * line_h):
                    x0 = px + gap if dx_sign > 0 else px - gap - width
                    candidates.append((x0, py + dy))
        if n >= required and len(items) > 10:  # crowded: optional labels only right beside their point
            candidates = candidates[:8]
        boxes = [(x0, y0, x0 + width, y0 + line_h) for x0, y0 in candidates]
        # a label far from its point gets a leader line, from the label's centre to the point
        lines = [((b[0] + width / 2, b[1] + line_h / 2), (px, py)) if abs(b[1] - py) > 2 * line_h else None
                 for b in boxes]
        scores = [badness(b, line) for b, line in zip(boxes, lines)]
        if 0 not in scores and n >= required:
            omitted += 1
            continue
        best = scores.index(min(scores))
        placed.append(boxes[best])
        if lines[best] is not None:
            leaders.append(lines[best])
        placements.append({"xy": (x, y), "point": (px, py), "box": boxes[best], "leader": lines[best],
                           "text": text, "color": color})
    _uncross(placements)
    for item in placements:
        (px, py), box = item["point"], item["box"]
        ax.annotate(item["text"], item["xy"], xytext=((box[0] - px) / scale, (box[1] - py) / scale),
                    textcoords="offset points", fontsize=fontsize, color=item["color"], zorder=5, ha="left",
                    va="bottom", arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.5, "shrinkA": 0,
                                             "shrinkB": 3} if item["leader"] is not None else None)
    return omitted


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def draw_front(ax: Any, xs: Sequence[Any], ys: Sequence[Any], label_text: str = "Pareto front") -> list[int]:
    """The non-dominated points (both minimised) joined by a step line; returns their positions.

    A front of one point draws no line, and so gets no legend entry.
    """
    idx = front_indices(xs, ys)
    if len(idx) > 1:
        pts = sorted((float(xs[i]), float(ys[i])) for i in idx)
        ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", color="0.35", linestyle="--",
                linewidth=1.2, zorder=1, label=label_text)
    return idx


def overlapping_neighbours(xs: Sequence[Any], means: Sequence[Any], stds: Sequence[Any]) -> tuple[list[int], list[int]]:
    """The front of (x, mean) and those of its points whose interval mean ± std overlaps that of a neighbour
    on the front (the next smaller or larger x): the data cannot tell them apart. A missing std (one run)
    counts as 0, so such a point is not separable only when it lies inside a neighbour's interval."""
    idx = sorted(front_indices(xs, means), key=lambda i: (float(xs[i]), float(means[i])))
    spread = [float(s) if s is not None and np.isfinite(float(s)) else 0.0 for s in stds]
    close: set[int] = set()
    for a, b in zip(idx, idx[1:]):
        if abs(float(means[a]) - float(means[b])) <= spread[a] + spread[b]:
            close.update((a, b))
    return idx, sorted(close)


def outside_legend_below(ax: Any, columns: int = 2) -> None:
    """Legend under the axes (below the x label), so that it covers neither points nor a colorbar."""
    handles, labels_ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels_, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8,
                  ncol=min(columns, len(handles)), frameon=False)


def search_front_figure(
    names: Sequence[str],
    nus: Sequence[Any],
    reg: Sequence[float],
    ce: Sequence[float],
    *,
    size: tuple[float, float] = (7.0, 5.0),
    dominated: Sequence[tuple[float, float]] = (),
    objective: str | None = None,
    highlight: Sequence[int] = (),
    highlight_label: str = "",
    title: str = "",
    label_others: bool = True,
) -> Path:
    """Cross-entropy against the penalty of Pareto-optimal searches: the front as a step line, points
    coloured by nu (colour bar), dominated searches as grey crosses, ``highlight`` ringed and ranked.

    The highlighted names are always written; the others (``label_others``) where they fit.
    """
    fig, ax = plt.subplots(figsize=size)
    if dominated:
        ax.scatter([d[0] for d in dominated], [d[1] for d in dominated], marker="x", color="0.55",
                   label="dominated search", zorder=2)
    xs, ys = np.asarray(reg, dtype=float), np.asarray(ce, dtype=float)
    draw_front(ax, xs, ys)
    scatter_by_nu(ax, xs, ys, list(nus), series="Pareto-optimal search (colour: ν)")
    for rank, i in enumerate(highlight, start=1):
        ax.scatter(xs[i], ys[i], s=180, facecolors="none", edgecolors="crimson", linewidths=1.5, zorder=4,
                   label=highlight_label if rank == 1 else None)
    every = np.concatenate([xs, [d[0] for d in dominated]]) if dominated else xs
    log = spans_decades(every)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(label("search_reg_loss", objective) + (", log scale" if log else ""))
    ax.set_ylabel(label("search_criterion_loss") + " (last epoch)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    add_nu_colorbar(fig, ax, list(nus))
    outside_legend_below(ax)
    ranked = [(xs[i], ys[i], f"{rank}. {names[i]}", "crimson") for rank, i in enumerate(highlight, start=1)]
    others = ([(xs[i], ys[i], names[i], "0.25") for i in np.argsort(xs) if i not in set(highlight)]
              if label_others else [])
    place_labels(ax, ranked + others, required=len(ranked))
    return fig


def plot_search_front(names: Sequence[str], nus: Sequence[Any], reg: Sequence[float], ce: Sequence[float],
                      path: str | Path, **options: Any) -> Path:
    """search_front_figure written as a PNG (options as there)."""
    return save_figure(search_front_figure(names, nus, reg, ce, **options), path)


def correlation_figure(df: pd.DataFrame, columns: Sequence[str], size: tuple[float, float] = (7.0, 6.0),
                       title: str | None = None, noun: str = "network") -> Any | None:
    """Signed Spearman rank correlation between the columns that vary, as an annotated heat map (-1 to 1).

    The sign says which way two quantities go together (size up, error down is negative), so it is
    kept; n, the rows behind each value (pairs with a missing value left out), is in the title.
    """
    usable = [c for c in columns if c in df.columns and pd.to_numeric(df[c], errors="coerce").nunique() > 1]
    if len(usable) < 2:
        return None
    data = df[usable].apply(pd.to_numeric, errors="coerce")
    corr = data.corr(method="spearman")
    present = data.notna().to_numpy(dtype=float)
    pairs = present.T @ present  # rows with both values, per pair of columns
    counts = sorted({int(pairs[i, j]) for i in range(len(usable)) for j in range(len(usable)) if i != j})
    n_text = f"n = {counts[0]}" if len(counts) == 1 else f"n = {counts[0]} to {counts[-1]} per pair"
    fig, ax = plt.subplots(figsize=size)
    image = ax.imshow(corr.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r")
    names = [label(c) for c in usable]
    ax.set_xticks(range(len(usable)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(usable)), names, fontsize=8)
    for i in range(len(usable)):
        for j in range(len(usable)):
            value = corr.iat[i, j]
            if np.isfinite(value):
                ax.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(value) > 0.6 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).set_label("Spearman ρ (−1 to 1)")
    ax.set_title(title or f"Rank correlation over {plural(len(df), noun)} ({n_text})")
    return fig


def plot_correlation(df: pd.DataFrame, columns: Sequence[str], path: str | Path,
                     size: tuple[float, float] = (7.0, 6.0), title: str | None = None,
                     noun: str = "network") -> Path | None:
    """correlation_figure written as a PNG, or None when fewer than two columns vary."""
    fig = correlation_figure(df, columns, size, title, noun)
    return None if fig is None else save_figure(fig, path)


# --------------------------------------------------------------------------- run folders


def run_folder(path: str | Path) -> Path:
    """The run folder a tool was pointed at: the folder itself, or the folder of its log.txt / a JSON in it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    return path.parent if path.is_file() else path


def _read_json(path: Path) -> Any:
    from utils import read_json

    return read_json(path)


def load_sweep(path: str | Path) -> dict[str, Any]:
    """A sweep folder (or one search folder) as {"folder", "objective", "searches", "pareto", ...}.

    ``searches`` are the finished searches, each with weight, reg_loss, criterion_loss, train_acc,
    valid_acc, model_size, genotype and run_dir; ``pareto`` the Pareto-optimal ones with their
    sweep names. A folder holding one search (train_search.py's result.json) is a sweep of one.
    ``image_size`` is the sweep's --image_size (None: the dataset's own).
    """
    from pareto import format_weight_name, sweep_name

    folder = run_folder(path)
    if (folder / "sweep.json").is_file():
        state = _read_json(folder / "sweep.json")
        if not isinstance(state, dict) or "searches" not in state:
            raise ValueError(f"{folder / 'sweep.json'} is not a sweep state (no 'searches')")
        for key, kind in (("searches", list), ("pareto", list), ("args", dict)):
            value = state.get(key)
            if value is not None and not (isinstance(value, kind) and (kind is dict or
                                                                       all(isinstance(v, dict) for v in value))):
                raise ValueError(f"{folder / 'sweep.json'} is not a sweep state ('{key}' is malformed)")
        args = state.get("args") or {}
        searches = [dict(s) for s in state.get("searches", [])
                    if s.get("status", "done") == "done" and s.get("reg_loss") is not None]
        objective = state.get("objective") or args.get("objective") or "l2"
        pareto = [dict(p) for p in state.get("pareto") or []]
        hypervolume = state.get("hypervolume")
        space = state.get("space") or ("imagenet" if args.get("set") == "imagenet" else "cifar")
        dataset = args.get("set")
        image_size = args.get("image_size")
        weight_decay = float(args.get("weight_decay", 0.0) or 0.0)
    elif (folder / "result.json").is_file():
        result = _read_json(folder / "result.json")
        if not isinstance(result, dict) or "reg_loss" not in result:
            raise ValueError(f"{folder} is neither a sweep folder (no sweep.json) nor a search folder")
        result.setdefault("run_dir", str(folder))
        searches = [result]
        objective = result.get("objective") or "l2"
        pareto, hypervolume = [], None
        dataset = result.get("dataset")
        space = "imagenet" if dataset == "imagenet" else "cifar"
        args_file = folder / "args.json"
        saved = (_read_json(args_file).get("args") or {}) if args_file.is_file() else {}
        weight_decay = float(saved.get("weight_decay", 0.0) or 0.0)
        image_size = saved.get("image_size")
    else:
        raise ValueError(f"{folder} is not a sweep folder: it has no sweep.json (nor a search's result.json)")
    for s in searches:
        if "weight" not in s or "criterion_loss" not in s:
            raise ValueError(f"a search in {folder} lacks its weight or losses: keys {sorted(s)}")
    if not pareto and searches:  # an older or unfinished sweep: derive the front and the names here
        idx = non_dominated([(s["reg_loss"], s["criterion_loss"]) for s in searches])
        optimal = sorted((searches[i] for i in idx), key=lambda s: s["reg_loss"])
        names = format_weight_name([s["weight"][0] for s in optimal])
        pareto = [dict(s, name=sweep_name(objective, s["weight"][0], n, weight_decay, dataset or ""))
                  for s, n in zip(optimal, names)]
    by_dir = {str(s.get("run_dir")): s for s in searches}
    for p in pareto:  # the pareto entries lack the accuracies: take them from their searches
        match = by_dir.get(str(p.get("run_dir"))) or next(
            (s for s in searches if s["weight"][0] == p["weight"][0]), {})
        for key in ("train_acc", "valid_acc", "model_size", "genotype"):
            if p.get(key) is None and match.get(key) is not None:
                p[key] = match[key]
    num_classes = None
    for s in searches:
        result_file = Path(str(s.get("run_dir"))) / "result.json"
        if result_file.is_file():
            num_classes = _read_json(result_file).get("num_classes")
            break
    if num_classes is None:
        num_classes = {"cifar100": 100, "imagenet": 1000}.get(str(dataset), 10)
    return {"folder": folder, "objective": objective, "searches": searches, "pareto": pareto,
            "hypervolume": hypervolume, "space": space, "dataset": dataset, "num_classes": int(num_classes),
            "image_size": image_size}


# --------------------------------------------------------------------------- profiling flags


def add_profiling_args(parser: Any) -> None:
    """The flags every tool that profiles networks shares."""
    g = parser.add_argument_group("profiling (parameters, FLOPs, latency)")
    g.add_argument("--no_latency", action="store_true", help="skip the latency measurements (fast)")
    g.add_argument("--min_run_time", type=float, default=1.0,
                   help="seconds of timed forward passes per latency measurement, at least 5 timed blocks "
                        "(the fastest block is reported: the least disturbed by other processes)")
    g.add_argument("--device", default="auto",
                   help="GPU for the GPU latencies: auto (a GPU if there is one), cuda, cuda:N, mps or cpu (none)")
    g.add_argument("--gpu", type=int, default=0, help="GPU index with --device auto/cuda")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads the CPU latency is measured with, fixed for every network (default: torch's "
                        "count at start, the physical cores; 1 is the least disturbed on a busy machine)")
    g.add_argument("--flops_rules", choices=["thesis", "thop"], default="thesis",
                   help="thesis: conv/linear multiply-adds only, as the thesis's tables; thop: thop's own rules")


def network_setting(value: int | None, default: int, flag: str) -> int:
    """A network flag of the profiling tools: its default when not given (None), else a value >= 1 (0 is a
    value: taking it for "not given" would profile another network than the one asked for)."""
    if value is None:
        return default
    if value < 1:
        raise ValueError(f"{flag} {value} must be >= 1")
    return value


def gpu_device(args: Any) -> Any:
    """The device of the GPU latency columns, or None."""
    from utils import get_device

    device = get_device(args.device, args.gpu)
    return None if device.type == "cpu" else device


def make_profiler(args: Any, **settings: Any) -> Any:
    """A Profiler from the profiling flags and the network settings of the runs profiled."""
    from profiling import Profiler

    if not (args.min_run_time > 0):
        raise ValueError(f"--min_run_time must be > 0, got {args.min_run_time}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    return Profiler(latency=not args.no_latency, gpu=gpu_device(args) if not args.no_latency else None,
                    min_run_time=args.min_run_time, rules=args.flops_rules, threads=args.threads, **settings)


def parse_inches(values: Sequence[float] | None, default: tuple[float, float] = (7.0, 5.0)) -> tuple[float, float]:
    """-i W H (one value: a square) as a figure size in inches."""
    if not values:
        return default
    if len(values) > 2 or any(not (v > 0 and math.isfinite(v)) for v in values):
        raise ValueError(f"-i/--inches takes a width and a height in inches (> 0), got {list(values)}")
    return (float(values[0]), float(values[-1]))
