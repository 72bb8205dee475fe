"""Every plot's helpers, and the plots of a sweep: its front and its loss curves.

One home for what the figures of multiobjective.py, train.py (plots_train.py) and the tools share:
the colours of nu, the axis labels of the search's two objectives, log axes, the placement of the
names beside their points, the front plotter, and the PNG writer. It imports no tool: the tables
(tools/tables.py) import from here, never the other way round.

Colours of nu are the same in every plot of every sweep of one kind: a colour is a function of nu and
the objective alone (viridis on a log scale over a fixed range, NU_RANGE for l1/l2, COST_NU_RANGE for
a cost; nu = 0 black), never of the other nus on the plot, so a reader can follow one search from
frontier_00.png to frontier.png, losses.png and the tools' plots.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import cbook, cm  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, MaxNLocator  # noqa: E402

from pareto import front_ce, front_ce_key, front_indices  # noqa: E402
from utils import write_figure  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd

DPI = 120
T = TypeVar("T")
NU_RANGE = (1e-6, 1.0)  # nu of a NISE weight (nu, 1 - nu) lies in [0, 1]; smaller nus take the end colour
# A cost's nu weighs R / R_ref, of order 1, against the CE, so its fronts lie within 1e-3..1: on l1/l2's six
# decades a cost sweep's nus (0.05..1 in the demo) would all be one green.
COST_NU_RANGE = (1e-3, 1.0)

# Axis labels of the search's quantities (tools/tables.py's COLUMNS label its columns with these too).
NU_LABEL = "ν (penalty weight)"
CE_LABEL = "search cross-entropy"
# How a title names a sweep of each objective ("L2 sweep", "FLOPs sweep").
SWEEP_NAMES = {"l1": "L1", "l2": "L2", "params": "Parameters", "flops": "FLOPs", "latency": "Latency"}
COST_LABELS = {"params": "parameters of the derived network (M)",
               "flops": "FLOPs of the derived network (M multiply-adds)",
               "latency": "latency of the derived network (ms, lookup table)"}


def front_ce_label(objective: str | None = None) -> str:
    """The y label of a sweep's front: the cross-entropy ``pareto.front_ce_key`` puts there."""
    if front_ce_key(objective) == "valid_loss":
        return "held-out cross-entropy (supernet, after the search)"
    return CE_LABEL + " (last epoch)"


# The per-epoch cost a search logs ({cost}_loss): R(alpha, beta), the supernet's expected cost, not a derived cell's.
EXPECTED_LABELS = {"params": "parameters (M)", "flops": "FLOPs (M multiply-adds)",
                   "latency": "latency (ms, lookup table)"}


def epoch_penalty_label(objective: str) -> str:
    """Axis label of the penalty a search logs per epoch: the norm for l1/l2, the expected cost R(α, β) for a cost."""
    if objective in EXPECTED_LABELS:
        return f"R(α, β): expected {EXPECTED_LABELS[objective]}"
    return penalty_label(objective)


def sweep_name(objective: str) -> str:
    """The objective as a title names its sweep: "L2", "FLOPs" (an unknown one in capitals)."""
    return SWEEP_NAMES.get(objective, objective.upper())


def penalty_label(objective: str | None = None) -> str:
    """Axis label of the search penalty R: its formula for l1 / l2, its unit for a cost objective."""
    if objective in COST_LABELS:
        return COST_LABELS[objective]
    if objective in ("l1", "l2"):
        return "search penalty " + ("Σ|w| (L1)" if objective == "l1" else "Σw² (L2)")
    return "search penalty R"


# --------------------------------------------------------------------------- colours of nu


def nu_range(objective: str | None = None) -> tuple[float, float]:
    """The nus the colours spread over: COST_NU_RANGE for a cost objective, else (l1, l2, unknown) NU_RANGE."""
    return COST_NU_RANGE if objective in COST_LABELS else NU_RANGE


def nu_colormap(objective: str | None = None) -> tuple[mcolors.Colormap, mcolors.Normalize]:
    """The colormap and norm of every nu colour of ``objective``'s sweeps (and of the bars that explain them)."""
    cmap = mcolors.ListedColormap(plt.get_cmap("viridis")(np.linspace(0.1, 0.9, 256)))
    low, high = nu_range(objective)
    return cmap, mcolors.LogNorm(vmin=low, vmax=high, clip=True)


def nu_color(nu: float, objective: str | None = None) -> tuple[float, float, float, float]:
    """The colour of one nu: black for nu <= 0, else its place on the log scale of nu_range(objective)."""
    if not nu > 0:
        return mcolors.to_rgba("black")
    cmap, norm = nu_colormap(objective)
    return tuple(float(c) for c in cmap(float(norm(nu))))


def point_colors(nus: Sequence[Any], objective: str | None = None) -> list[Any]:
    """One colour per row: nu_color for known nus, grey where nu is unknown (None or NaN)."""
    return [nu_color(float(n), objective) if n is not None and np.isfinite(n) else "0.6" for n in nus]


def add_nu_colorbar(fig: Any, ax: Any, nus: Sequence[Any], objective: str | None = None) -> None:
    """The colour bar of nu over its fixed range (nu_range(objective)), so that it reads the same on every
    plot of such sweeps; none when no nu is positive (black and grey need no scale)."""
    if not any(n is not None and np.isfinite(n) and n > 0 for n in nus):
        return
    cmap, norm = nu_colormap(objective)
    bar = fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02, extend="min")
    notes = (["ν=0 in black"] if any(n == 0 for n in nus) else []) + (
        ["grey: ν unknown"] if any(n is None or not np.isfinite(n) for n in nus) else [])
    bar.set_label("; ".join([NU_LABEL, *notes]))


# --------------------------------------------------------------------------- axes, text, files


def plural(count: int, word: str) -> str:
    """The count with its noun in the right number: "1 search", "2 searches", "3 networks"."""
    return f"{count} {word if count == 1 else word + ('es' if word.endswith(('s', 'sh', 'ch', 'x')) else 's')}"


def integer_ticks(ax: Any, axis: str = "x") -> None:
    """Whole-number ticks on an epoch (or other count) axis, even for a run of one epoch."""
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def final_layout(fig: Any) -> None:
    """Settle the layout before labels are placed: place_labels works in display space, a legend below
    the axes or a colour bar moves the axes as the layout shrinks them, and save_figure's own pass must
    then move nothing (else a label placed inside lands outside, over the colour bar)."""
    fig.tight_layout()
    fig.canvas.draw()
    fig.tight_layout()


def save_figure(fig: Any, path: str | Path) -> Path:
    """Lay out, write the figure at the project's DPI (a PNG, or the format of the path's suffix: .pdf, .svg), and free
    it (a failed write too: a sweep that warns and goes on must not keep one open figure per failure)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        # bbox_inches keeps legends placed outside the axes; written whole or not at all (write_figure)
        return write_figure(fig, path, dpi=max(DPI, 100), bbox_inches="tight")
    finally:
        plt.close(fig)


def draw_or_warn(logger: Any, what: str, draw: Callable[[], T]) -> T | None:
    """``draw()``, or None and a warning in the run's log when it fails (a full disk, a matplotlib error): a run's
    plots are drawn from results already on disk, and a plot that cannot be drawn must not end a run of hours nor
    keep it from recording its result. A figure the failed drawing opened is closed: a sweep draws its front after
    every search, and each failure would keep one more open."""
    open_before = set(plt.get_fignums())
    try:
        return draw()
    except Exception as err:  # any plotting failure is only a warning here
        logger.warning("could not draw %s: %s", what, " ".join(str(err).split()) or type(err).__name__)
        for number in set(plt.get_fignums()) - open_before:
            plt.close(number)
        return None


def spans_decades(values: Iterable[Any], decades: float = 1.0) -> bool:
    """True when the positive values span at least ``decades`` orders of magnitude (log axis then)."""
    positive = [float(v) for v in values if v is not None and np.isfinite(v) and float(v) > 0]
    return len(positive) > 1 and math.log10(max(positive) / min(positive)) >= decades


# An axis of fewer decades than this has plain numbers on its log ticks ("0.5 1 2 5"), and its 2s and 5s named.
PLAIN_LOG_DECADES = 3.0


def _decades(axis: Any) -> float:
    low, high = sorted(axis.get_view_interval())
    return math.log10(high / low) if low > 0 else math.inf


def log_scale(ax: Any, axis: str = "x") -> None:
    """A log axis whose ticks stay readable: over a few decades plain numbers (0.5, 1, 2, 5), the minor ticks at
    2 and 5 named (and at 3, 4, 6, 8 under one decade); over more, matplotlib's powers of ten with no minor
    names (which, over a decade or two, crowd into one another: "3×10⁰4×10⁰")."""
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    powers = LogFormatterSciNotation()
    powers.set_axis(target)

    def major(value: float, pos: int | None) -> str:
        return f"{value:g}" if _decades(target) < PLAIN_LOG_DECADES else powers(value, pos)

    def minor(value: float, pos: int | None) -> str:
        decades = _decades(target)
        if value <= 0 or decades >= PLAIN_LOG_DECADES / 1.5:
            return ""
        mantissa = round(value / 10 ** math.floor(math.log10(value) + 1e-9), 6)
        return f"{value:g}" if mantissa in ((2.0, 3.0, 4.0, 6.0, 8.0) if decades < 1 else ()) + (2.0, 5.0) else ""

    target.set_major_formatter(FuncFormatter(major))
    target.set_minor_formatter(FuncFormatter(minor))


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
        (ax.set_xlabel if axis == "x" else ax.set_ylabel)(NU_LABEL)
        return
    log_scale(ax, axis)
    (ax.set_xlabel if axis == "x" else ax.set_ylabel)(NU_LABEL + ", log scale")
    if zero_at is not None:
        line = ax.axvline if axis == "x" else ax.axhline
        line(zero_at * 10 ** 0.5, color="0.6", linestyle=":", linewidth=1)
        if axis == "x":
            ax.annotate("ν=0", xy=(zero_at, 0), xycoords=("data", "axes fraction"), xytext=(0, -14),
                        textcoords="offset points", ha="center", va="top", fontsize=8, color="0.25")
        else:
            ax.annotate("ν=0", xy=(0, zero_at), xycoords=("axes fraction", "data"), xytext=(-20, 0),
                        textcoords="offset points", ha="right", va="center", fontsize=8, color="0.25")


# --------------------------------------------------------------------------- points and their names


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
    objective: str | None = None,
) -> None:
    """Points coloured by nu (the colours of ``objective``'s sweeps); ``labels`` are written beside the points."""
    colors = point_colors(nus, objective)
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
    if max(p[0], q[0]) < x0 or min(p[0], q[0]) > x1 or max(p[1], q[1]) < y0 or min(p[1], q[1]) > y1:
        return False  # apart: no end inside and no crossing (the labels test every drawn segment against every spot)
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


def _line_segments(ax: Any) -> list[Segment]:
    """Display-space segments of every line drawn in the axes (a front's step line, a diagonal), as drawn."""
    segments: list[Segment] = []
    for line in ax.lines:
        if not line.get_visible() or line.get_linestyle() in ("None", "none", "", " "):
            continue
        xy = np.asarray(line.get_xydata(), dtype=float)
        if len(xy) < 2:
            continue
        drawn = np.asarray(cbook.STEP_LOOKUP_MAP[line.get_drawstyle()](xy[:, 0], xy[:, 1]), dtype=float).T
        pts = line.get_transform().transform(drawn)
        segments += [((a[0], a[1]), (b[0], b[1])) for a, b in zip(pts[:-1], pts[1:])
                     if np.all(np.isfinite(a)) and np.all(np.isfinite(b))]
    return segments


def _make_room_above(ax: Any, pixels: float) -> bool:
    """Raise the top of the y axis until every point has ``pixels`` of room above it; False if it had."""
    frame = ax.get_window_extent()
    tops = [b[3] for b in _marker_boxes(ax, 0.0)]
    if not tops or frame.y1 - max(tops) >= pixels:
        return False
    for _ in range(5):  # the points move as the limit moves; a few rounds settle it on any scale
        short = pixels - (frame.y1 - max(b[3] for b in _marker_boxes(ax, 0.0)))
        if short <= 0.5:
            break
        bottom, top = ax.get_ylim()
        new_top = ax.transData.inverted().transform((frame.x0, frame.y1 + short))[1]
        if not np.isfinite(new_top) or new_top <= top:
            break
        ax.set_ylim(bottom, new_top)
        ax.figure.canvas.draw()
    return True


def place_labels(ax: Any, items: Sequence[tuple[float, float, str, Any]], fontsize: float = 7,
                 required: int = 0) -> int:
    """Write each (x, y, text, colour) near its point where it covers no other label, no point, no drawn
    line and stays inside.

    Tries the four corners around the point, then level with it on either side, then farther out with a
    leader line; a leader line
    should cross no other leader line and pass through no label or other point, and no later label
    sit on an earlier leader, so that each label reads as belonging to the point it is joined to
    (two leader lines that still cross get their labels swapped). The first ``required`` items are
    always written (at the least crowded spot); a later label that finds no free spot is left out,
    and with more than 10 labels the others go right beside their point or nowhere, so that crowded
    plots stay readable. When a required label finds no free spot (points at the top edge, a front
    line below them), the y axis gets up to three labels' height of room above the points, as long as
    that makes the spots better, and the labels are placed again. Returns how many were left out.
    Call it last, once scales and limits are final (it works in display coordinates).
    """
    ax.figure.canvas.draw()  # fixes the limits and the transforms
    scale = ax.figure.dpi / 72.0
    line_h, gap = fontsize * 1.25 * scale, 4 * scale
    placements, omitted, worst = _choose_spots(ax, items, fontsize, required)
    limits = ax.get_ylim()
    for lines in (1, 2, 3):  # room for up to three more lines of labels above the points, while it helps
        if not worst or not _make_room_above(ax, 2 * gap + lines * line_h):
            break
        final_layout(ax.figure)  # new tick labels may move the axes, as save_figure's layout would
        again = _choose_spots(ax, items, fontsize, required)
        if again[2] < worst:
            placements, omitted, worst = again
            limits = ax.get_ylim()
    if ax.get_ylim() != limits:  # the last raise did not help: back to the best limits, placed again there
        ax.set_ylim(*limits)
        final_layout(ax.figure)
        placements, omitted, worst = _choose_spots(ax, items, fontsize, required)
    _uncross(placements)
    for item in placements:
        (px, py), box = item["point"], item["box"]
        ax.annotate(item["text"], item["xy"], xytext=((box[0] - px) / scale, (box[1] - py) / scale),
                    textcoords="offset points", fontsize=fontsize, color=item["color"], zorder=5, ha="left",
                    va="bottom", arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.5, "shrinkA": 0,
                                             "shrinkB": 3} if item["leader"] is not None else None)
    return omitted


def _choose_spots(ax: Any, items: Sequence[tuple[float, float, str, Any]], fontsize: float,
                  required: int) -> tuple[list[dict[str, Any]], int, int]:
    """place_labels' search: the spots, how many labels were left out, and the badness of the required
    labels' spots (0: each found a free one)."""
    scale = ax.figure.dpi / 72.0
    char_w, line_h, gap = fontsize * 0.6 * scale, fontsize * 1.25 * scale, 4 * scale
    obstacles = _marker_boxes(ax, 4 * scale)
    lines = _line_segments(ax)
    frame = ax.get_window_extent()
    placed: list[Box] = []
    leaders: list[Segment] = []

    def badness(box: Box, leader: Segment | None) -> int:
        """0 for a free spot. Costs: a label on a label or a leader crossing a leader 3, on a point, across a
        drawn line or a leader through a label 2, a leader through another point 1, leaving the axes 100."""
        inside = frame.x0 <= box[0] and box[2] <= frame.x1 and frame.y0 <= box[1] and box[3] <= frame.y1
        cost = 3 * sum(_overlap(box, b) for b in placed) + 2 * sum(_overlap(box, b) for b in obstacles)
        cost += 3 * sum(_segment_hits_box(seg, box) for seg in leaders)
        cost += 2 * sum(_segment_hits_box(seg, box) for seg in lines)
        if leader is not None:
            px, py = leader[1]
            cost += 3 * sum(segments_cross(leader, seg) for seg in leaders)
            cost += 2 * sum(_segment_hits_box(leader, b) for b in placed)
            cost += sum(_segment_hits_box(leader, b) for b in obstacles
                        if not (b[0] <= px <= b[2] and b[1] <= py <= b[3]))  # its own point's marker is no obstacle
        return cost + (0 if inside else 100)

    omitted, worst = 0, 0
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
            if k == 0:  # then level with the point, clear of its marker (a point at the top edge, a line below it)
                candidates += [(px + 3 * gap, py - line_h / 2), (px - 3 * gap - width, py - line_h / 2)]
        if n >= required and len(items) > 10:  # crowded: optional labels only right beside their point
            candidates = candidates[:10]
        boxes = [(x0, y0, x0 + width, y0 + line_h) for x0, y0 in candidates]
        # a label far from its point gets a leader line, from the label's centre to the point
        leader_lines = [((b[0] + width / 2, b[1] + line_h / 2), (px, py)) if abs(b[1] - py) > 2 * line_h else None
                        for b in boxes]
        scores = [badness(b, line) for b, line in zip(boxes, leader_lines)]
        if 0 not in scores and n >= required:
            omitted += 1
            continue
        best = scores.index(min(scores))
        worst += scores[best]
        placed.append(boxes[best])
        if leader_lines[best] is not None:
            leaders.append(leader_lines[best])
        placements.append({"xy": (x, y), "point": (px, py), "box": boxes[best], "leader": leader_lines[best],
                           "text": text, "color": color})
    return placements, omitted, worst


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


def outside_legend_below(ax: Any, columns: int = 2) -> None:
    """Legend under the axes (below the x label), so that it covers neither points nor a colorbar."""
    handles, labels_ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels_, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8,
                  ncol=min(columns, len(handles)), frameon=False)


# --------------------------------------------------------------------------- the front


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
    others: str = "fit",
) -> Any:
    """The one plot of a search front (the sweep's frontier plots, plot_frontier.py, analyse_search_logs.py).

    Cross-entropy against the penalty of the Pareto-optimal searches: the front as a step line, points
    coloured by nu (colour bar), dominated searches as grey crosses, ``highlight`` ringed and ranked.
    The highlighted names are always written; the ``others`` all ("all"), where they fit ("fit") or not
    at all ("none").
    """
    if others not in ("all", "fit", "none"):
        raise ValueError(f"others must be 'all', 'fit' or 'none', got {others!r}")
    fig, ax = plt.subplots(figsize=size)
    if dominated:
        ax.scatter([d[0] for d in dominated], [d[1] for d in dominated], marker="x", color="0.55",
                   label="dominated search", zorder=2)
    xs, ys = np.asarray(reg, dtype=float), np.asarray(ce, dtype=float)
    draw_front(ax, xs, ys)
    scatter_by_nu(ax, xs, ys, list(nus), series="Pareto-optimal search (colour: ν)", objective=objective)
    for rank, i in enumerate(highlight, start=1):
        ax.scatter(xs[i], ys[i], s=180, facecolors="none", edgecolors="crimson", linewidths=1.5, zorder=4,
                   label=highlight_label if rank == 1 else None)
    every = np.concatenate([xs, [d[0] for d in dominated]]) if dominated else xs
    log = spans_decades(every)
    if log:
        log_scale(ax, "x")
    ax.set_xlabel(penalty_label(objective) + (", log scale" if log else ""))
    ax.set_ylabel(front_ce_label(objective))
    ax.ticklabel_format(axis="y", useOffset=False)  # CEs within 1e-4 read "2.30103", not "3e-5" beside "+2.301"
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    add_nu_colorbar(fig, ax, list(nus), objective)
    outside_legend_below(ax)
    final_layout(fig)
    ranked = [(xs[i], ys[i], f"{rank}. {names[i]}", "crimson") for rank, i in enumerate(highlight, start=1)]
    rest = ([(xs[i], ys[i], names[i], "0.25") for i in np.argsort(xs) if i not in set(highlight)]
            if others != "none" else [])
    place_labels(ax, ranked + rest, required=len(ranked) + (len(rest) if others == "all" else 0))
    return fig


def frontier_figure(
    searches: Sequence[dict[str, Any]],
    optimal: Sequence[dict[str, Any]],
    objective: str,
    *,
    dominated: bool = True,
    size: tuple[float, float] = (7.0, 5.0),
    title: str | None = None,
    others: str = "all",
) -> Any:
    """search_front_figure of a sweep's records (sweep.json's "searches" and "pareto"), every name written;
    the title counts the finished searches, the Pareto-optimal ones and the failed ones (a sweep whose first search
    failed drew "0 searches, 0 Pareto-optimal" over empty axes, as if nothing had run)."""
    done = [s for s in searches if s.get("status", "done") == "done" and s.get("reg_loss") is not None]
    failed = sum(s.get("status") == "failed" for s in searches)
    optimal_keys = {tuple(o["weight"]) for o in optimal}
    rest = [(s["reg_loss"], front_ce(s, objective)) for s in done if tuple(s["weight"]) not in optimal_keys]
    front = sorted(optimal, key=lambda o: o["reg_loss"])
    return search_front_figure(
        [str(o.get("name") or f"nu={o['weight'][0]:.3g}") for o in front], [o["weight"][0] for o in front],
        [o["reg_loss"] for o in front], [front_ce(o, objective) for o in front], size=size,
        dominated=rest if dominated else [], objective=objective, others=others,
        title=title or (f"{sweep_name(objective)} sweep: {plural(len(done), 'search')}, {len(front)} Pareto-optimal"
                        + (f", {failed} failed" if failed else "")))


def plot_frontier(
    searches: Sequence[dict[str, Any]],
    optimal: Sequence[dict[str, Any]],
    objective: str,
    path: str | Path,
    **options: Any,
) -> Path:
    """frontier_figure as a PNG (frontier_NN.png after each search, frontier.png at the end; options as there)."""
    return save_figure(frontier_figure(searches, optimal, objective, **options), path)


def fronts_in_unit_figure(
    series: Sequence[tuple[str, Sequence[dict[str, Any]], Sequence[dict[str, Any]]]],
    xlabel: str,
    *,
    size: tuple[float, float] = (7.0, 5.0),
) -> Any:
    """Several sweeps on one axis (tools/compare_fronts.py): each search at its genotype's cost ("cost") against
    its held-out CE ("valid_loss"), hollow; each sweep's own Pareto-optimal searches (on its own axes: an l2
    front is the training CE's) filled and joined in the order given (nu from large to small), so a front that
    is out of order in this unit zigzags."""
    fig, ax = plt.subplots(figsize=size)
    markers = "osD^v<>"
    every = []
    for k, (label, points, front) in enumerate(series):
        colour, marker = plt.get_cmap("tab10")(k % 10), markers[k % len(markers)]
        rest = [p for p in points if not p.get("pareto")]
        if rest:  # a sweep whose every search is on its front has no "other searches" to list
            ax.scatter([p["cost"] for p in rest], [p["valid_loss"] for p in rest], marker=marker,
                       facecolors="none", edgecolors=[colour], zorder=2, label=f"{label}: its other searches")
        ax.plot([p["cost"] for p in front], [p["valid_loss"] for p in front], marker=marker, color=colour,
                markersize=7, zorder=3, label=f"{label}: its front, larger nu first")
        every.extend(p["cost"] for p in points)
    log = spans_decades(every)
    if log:
        log_scale(ax, "x")
    ax.set_xlabel(xlabel + (", log scale" if log else ""))
    ax.set_ylabel("held-out cross-entropy at the end of the search")
    ax.set_title("every search at its genotype's cost")
    ax.grid(True, which="both", alpha=0.3)
    outside_legend_below(ax, columns=1)
    final_layout(fig)
    return fig


# --------------------------------------------------------------------------- loss curves of a sweep


def read_metrics(path: str | Path) -> list[dict[str, str]]:
    """A run's metrics.csv as rows of strings: the per-epoch record plots read, not the log."""
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
    penalties: list[float] = []
    for s in done:
        metrics = Path(s["run_dir"]) / "metrics.csv"
        if not metrics.is_file():
            continue
        rows = read_metrics(metrics)
        epochs = _floats(rows, "epoch")
        nu = s["weight"][0]
        # a search of one or a few epochs is points, not a line (one point drew nothing)
        style = {"color": nu_color(nu, objective), "label": f"ν = {nu:.3g}",
                 "marker": "o" if len(epochs) < 30 else None, "markersize": 3}
        ax_ce.plot(epochs, _floats(rows, "criterion_loss"), **style)
        ax_reg.plot(epochs, _floats(rows, f"{objective}_loss"), **style)
        penalties += _floats(rows, f"{objective}_loss")
    ax_ce.set_xlabel("epoch")
    ax_ce.set_ylabel("cross-entropy (train)")
    ax_reg.set_xlabel("epoch")
    ax_reg.set_ylabel(epoch_penalty_label(objective))
    if spans_decades(penalties):  # a norm over a sweep spans decades; a cost's few per cent had no tick named
        log_scale(ax_reg, "y")
    for ax in (ax_ce, ax_reg):
        ax.grid(True, alpha=0.3)
        integer_ticks(ax)
    if ax_reg.lines:  # a search without metrics.csv draws nothing
        ax_reg.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, title="ordered by ν")
    fig.suptitle(f"{sweep_name(objective)} sweep: search losses per epoch")
    fig.tight_layout()
    return fig


def plot_losses(
    searches: Sequence[dict[str, Any]], objective: str, path: str | Path, size: tuple[float, float] = (11.0, 4.5)
) -> Path:
    """losses_figure written as a PNG (losses.png of a sweep)."""
    fig = losses_figure(searches, objective, size)
    try:
        return write_figure(fig, path, dpi=DPI)
    finally:  # a failed write too: a sweep warns and goes on
        plt.close(fig)


# --------------------------------------------------------------------------- correlation


def correlation_figure(df: pd.DataFrame, columns: Sequence[str], size: tuple[float, float] = (7.0, 6.0),
                       title: str | None = None, noun: str = "network",
                       label: Callable[[str], str] = str) -> Any | None:
    """Signed Spearman rank correlation between the columns that vary, as an annotated heat map (-1 to 1).

    The sign says which way two quantities go together (size up, error down is negative), so it is
    kept; n, the rows behind each value (pairs with a missing value left out), is in the title.
    ``label`` names a column on the axes (the tools pass tools.tables.label).
    """
    import pandas as pd  # only the tools' tables are DataFrames: the sweep and train.py plot without pandas

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
    _fit_cell_texts(fig, ax, len(usable))
    return fig


def _fit_cell_texts(fig: Any, ax: Any, n: int) -> None:
    """Grow the figure until the widest value fits its cell with room to spare.

    With many columns the cells got narrower than the values ("+1.00+1.00" ran together); the tick labels
    and the colour bar keep their size, so a larger figure gives the cells all the extra room.
    """
    if not ax.texts:
        return
    for _ in range(4):
        fig.tight_layout()
        fig.canvas.draw()  # imshow's equal aspect shrinks the axes to the cells only when drawn
        renderer = fig.canvas.get_renderer()
        cell = ax.get_window_extent(renderer).width / n
        widest = max(t.get_window_extent(renderer).width for t in ax.texts)
        if widest <= 0.8 * cell:  # a fifth of the cell between two values
            return
        grow = min(1.5, widest / (0.8 * cell)) + 0.05
        width, height = fig.get_size_inches()
        fig.set_size_inches(width * grow, height * grow)


def plot_correlation(df: pd.DataFrame, columns: Sequence[str], path: str | Path,
                     size: tuple[float, float] = (7.0, 6.0), title: str | None = None,
                     noun: str = "network", label: Callable[[str], str] = str) -> Path | None:
    """correlation_figure written as a PNG, or None when fewer than two columns vary."""
    fig = correlation_figure(df, columns, size, title, noun, label)
    return None if fig is None else save_figure(fig, path)
