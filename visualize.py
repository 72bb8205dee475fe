"""Cell diagrams: the normal and the reduction cell of a genotype, drawn with matplotlib alone.

    python visualize.py DARTS_V2                   # cells/DARTS_V2_normal.png/.pdf, cells/DARTS_V2_reduction.png/.pdf
    python visualize.py all -o figures/            # every published genotype, into figures/
    python visualize.py PC_DARTS_cifar -o pcdarts  # pcdarts_normal.png/.pdf, pcdarts_reduction.png/.pdf
    python visualize.py logs/multi-search-cifar10-EXP-<time>              # every Pareto genotype of a sweep
    python visualize.py logs/multi-search-cifar10-EXP-<time>/genotypes.json:l2_loss_2e01 -f png
    python visualize.py logs/eval-EXP-<time>       # the genotype a run folder trained

Each genotype is given as ``--arch`` takes it (genotypes.resolve_genotype: a published name, a genotype
JSON file, a run folder, ``FILE:NAME``), or as ``all``; a genotypes.json (or a sweep folder) without
``:NAME`` draws every genotype it holds. A diagram shows the cell's inputs c_{k-2} and c_{k-1} (the
outputs of the two previous cells), its intermediate nodes 0..n-1, each fed by two edges labelled
with their operation (coloured by kind: separable and dilated convolutions, pooling, skip), and
the output c_{k}, the concatenation of the ``concat`` nodes.

Without ``-o``, the files go into ``cells/`` inside the run folder given (or the one the JSON file is in;
for a JSON file outside a run folder, ``cells/`` in its folder) or, for published names, into ``cells/``
in the current folder, named
``<name>_normal.<ext>`` and ``<name>_reduction.<ext>``. ``-o DIR/`` (an existing folder, or a name
ending in /) puts them there; any other ``-o PREFIX`` names them ``PREFIX_normal.<ext>`` (with
several genotypes, ``PREFIX_<name>_normal.<ext>``). No system package is needed: the layered layout
(longest-path layers, crossings reduced by barycentre sweeps, long edges routed between the nodes)
is computed here. A sweep writes the diagrams of its Pareto-optimal genotypes into its own
``cells/`` with ``write_sweep_cells``.
"""

from __future__ import annotations

if __name__ == "__main__":  # before matplotlib's imports: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import argparse
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402
from matplotlib.text import Text  # noqa: E402

import cli  # noqa: E402
from genotypes import (  # noqa: E402
    PUBLISHED,
    Genotype,
    GenotypeError,
    genotype_from_dict,
    genotype_label,
    genotype_mapping,
    read_genotype_json,
    resolve_genotype,
    stale_front,
)
from utils import UserError, check_output, run_main, write_figure  # noqa: E402

# What multiobjective.py (a sweep's cell diagrams) and the tests use of this script.
__all__ = ["main", "build_parser", "write_sweep_cells", "write_cells", "genotype_figures", "cell_figure",
           "layout_cell", "CellLayout"]

CELLS = ("normal", "reduction")
CWD_CELLS = Path("cells")  # where the diagrams of a genotype from no run folder go without -o
FORMATS = ("png", "pdf", "svg")
DPI = 150

# Colours by kind of operation (separable convolutions blue, dilated orange/red, pooling green, skip grey).
OP_COLORS = {
    "sep_conv_3x3": "#2b7bba", "sep_conv_5x5": "#1a4f86", "sep_conv_7x7": "#0d2f5a",
    "dil_conv_3x3": "#e6831c", "dil_conv_5x5": "#c9352b",
    "max_pool_3x3": "#2e9b45", "avg_pool_3x3": "#7f9a1f",
    "skip_connect": "#6f6f6f", "conv_7x1_1x7": "#8b5bb5", "none": "#b8b8b8",
}
CONCAT_COLOR = "#8a8a8a"
FILL = {"input": "#cfe8cf", "node": "#d5e6f7", "output": "#f4ebb0"}
EDGE = {"input": "#4d8a4d", "node": "#4a78a8", "output": "#a89535"}

# Geometry in inches (the axes map one data unit to one inch).
BOX_W, BOX_H = 0.78, 0.42
FREE = 0.85                 # horizontal room between bands, where edges bend
ARROW_ROOM = 0.12           # between a label and the box its arrow enters
GAP_REAL, GAP_MIXED, GAP_DUMMY = 0.4, 0.3, 0.26
MARGIN = 0.2
LABEL_FONT = 8.5


@dataclass
class CellLayout:
    """Where everything of one cell diagram goes (inches).

    Vertices 0..n_nodes-1 are the boxes (the states in the genotype's numbering, then the output);
    higher ones are the points where a long edge crosses a layer. Each layer is a band: a column
    for the labels of the edges that enter it, then its boxes; edges run straight through a band
    and bend only in the free space between bands, so no curve crosses a box or a label.
    """

    labels: list[str]
    kinds: list[str]                  # "input", "node" or "output" per box
    layer_of: dict[int, int]
    y: dict[int, float]
    x: list[float]                    # centre of each layer's boxes
    label_col: list[float]            # width left of each layer's boxes (labels and arrowheads)
    edges: list[tuple[int, int, str | None, list[int]]]  # (src, dst, op or None for concat, vertex chain)
    n_nodes: int
    ports: dict[tuple[int, int], float] = field(default_factory=dict)  # (edge, 0 out / 1 in) -> y

    def left(self, layer: int) -> float:
        return self.x[layer] - BOX_W / 2 - self.label_col[layer]

    def right(self, layer: int) -> float:
        return self.x[layer] + BOX_W / 2


def _layers(cell: Sequence[tuple[str, int]], concat: Sequence[int]) -> list[int]:
    """Longest-path layers: the inputs at 0, each node one right of its deepest input, the output last.

    Last of all layers, not only one right of its deepest concat node: a node left out of ``concat`` (a
    hand-written genotype; train.py builds it, its output unused) may lie deeper than every concat node.
    """
    n_states = 2 + len(cell) // 2
    layer = [0] * n_states
    for j in range(len(cell) // 2):
        layer[2 + j] = 1 + max(layer[i] for _, i in cell[2 * j:2 * j + 2])
    return layer + [1 + max(layer)]


def _crossings(order: list[list[int]], segments: list[tuple[int, int]], layer_of: dict[int, int]) -> int:
    pos = {v: k for row in order for k, v in enumerate(row)}
    by_layer: dict[int, list[tuple[int, int]]] = {}
    for a, b in segments:
        by_layer.setdefault(layer_of[a], []).append((pos[a], pos[b]))
    return sum((a1 - a2) * (b1 - b2) < 0 for segs in by_layer.values()
               for i, (a1, b1) in enumerate(segs) for a2, b2 in segs[i + 1:])


def _order(order: list[list[int]], segments: list[tuple[int, int]], layer_of: dict[int, int]) -> list[list[int]]:
    """Barycentre sweeps down and up, then adjacent swaps, keeping the order with the fewest crossings.

    The first layer (c_{k-2} above c_{k-1}) stays as it is.
    """
    near: list[dict[int, list[int]]] = [{}, {}]  # [upper neighbours, lower neighbours]
    for a, b in segments:
        near[0].setdefault(b, []).append(a)
        near[1].setdefault(a, []).append(b)
    best = [row[:] for row in order]
    best_count = _crossings(best, segments, layer_of)
    current = [row[:] for row in order]
    for sweep in range(12):
        downward = sweep % 2 == 0
        for r in (range(1, len(current)) if downward else range(len(current) - 2, 0, -1)):
            pos = {v: k for k, v in enumerate(current[r - 1] if downward else current[r + 1])}
            mine = {v: k for k, v in enumerate(current[r])}
            links = {v: [pos[u] for u in near[0 if downward else 1].get(v, []) if u in pos] for v in current[r]}
            current[r] = sorted(current[r], key=lambda v: (sum(links[v]) / len(links[v]) if links[v] else mine[v],
                                                           mine[v]))
        count = _crossings(current, segments, layer_of)
        if count < best_count:
            best, best_count = [row[:] for row in current], count
    improved = True
    while improved and best_count:
        improved = False
        for r in range(1, len(best)):
            for k in range(len(best[r]) - 1):
                trial = [row[:] for row in best]
                trial[r][k], trial[r][k + 1] = trial[r][k + 1], trial[r][k]
                count = _crossings(trial, segments, layer_of)
                if count < best_count:
                    best, best_count, improved = trial, count, True
    return best


def _pack(desired: list[float], gaps: list[float]) -> list[float]:
    """The positions nearest (least squares) to ``desired`` that keep each gap: y[i+1] - y[i] >= gaps[i]."""
    offsets = [0.0]
    for g in gaps:
        offsets.append(offsets[-1] + g)
    blocks: list[tuple[float, int]] = []  # (mean, count) of pooled adjacent violators
    for value in (d - o for d, o in zip(desired, offsets)):
        blocks.append((value, 1))
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (v2, n2), (v1, n1) = blocks.pop(), blocks.pop()
            blocks.append(((v1 * n1 + v2 * n2) / (n1 + n2), n1 + n2))
    flat = [v for v, n in blocks for _ in range(n)]
    return [z + o for z, o in zip(flat, offsets)]


def _spread(count: int, step: float, span: float) -> list[float]:
    """``count`` offsets, top first, ``step`` apart but within ``span`` in all."""
    if count < 2:
        return [0.0] * count
    width = min(span, step * (count - 1))
    return [width / 2 - width * k / (count - 1) for k in range(count)]


def layout_cell(cell: Sequence[tuple[str, int]], concat: Sequence[int], label_width: float = 0.9,
                label_height: float = 0.2) -> CellLayout:
    """Layered left-to-right layout of one cell, for labels up to ``label_width`` x ``label_height``."""
    n_states = 2 + len(cell) // 2
    out = n_states
    layer = _layers(cell, concat)
    labels = ["$c_{k-2}$", "$c_{k-1}$"] + [str(j) for j in range(n_states - 2)] + ["$c_{k}$"]
    kinds = ["input", "input"] + ["node"] * (n_states - 2) + ["output"]
    layer_of = dict(enumerate(layer))
    raw = [(i, 2 + k // 2, op) for k, (op, i) in enumerate(cell)] + [(c, out, None) for c in concat]
    edges: list[tuple[int, int, str | None, list[int]]] = []
    next_id = out + 1
    for src, dst, op in raw:
        chain = [src]
        for lay in range(layer[src] + 1, layer[dst]):
            layer_of[next_id] = lay
            chain.append(next_id)
            next_id += 1
        edges.append((src, dst, op, chain + [dst]))
    segments = [(a, b) for *_, chain in edges for a, b in zip(chain, chain[1:])]
    order: list[list[int]] = [[] for _ in range(layer[out] + 1)]
    for v in sorted(layer_of):
        order[layer_of[v]].append(v)
    order = _order(order, segments, layer_of)

    def gap(a: int, b: int) -> float:
        boxes = (a <= out) + (b <= out)
        return BOX_H + GAP_REAL if boxes == 2 else BOX_H / 2 + GAP_MIXED if boxes == 1 else GAP_DUMMY

    neighbours: dict[int, list[int]] = {}
    for a, b in segments:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    y: dict[int, float] = {}
    for row in order:
        packed = _pack([0.0] * len(row), [gap(a, b) for a, b in zip(row, row[1:])])
        y.update({v: p - (packed[0] + packed[-1]) / 2 for v, p in zip(row, packed)})
    for sweep in range(40):  # each vertex towards the mean of its neighbours; long edges pull harder
        for row in (order if sweep % 2 == 0 else order[::-1]):
            desired = []
            for v in row:
                ws = [(y[u], 2.0 if (u > out and v > out) else 1.0) for u in neighbours.get(v, [])]
                desired.append(sum(p * w for p, w in ws) / sum(w for _, w in ws) if ws else y[v])
            y.update(zip(row, _pack(desired, [gap(a, b) for a, b in zip(row, row[1:])])))
    middle = (max(y.values()) + min(y.values())) / 2
    y = {v: middle - p for v, p in y.items()}  # the first of a layer on top
    label_col = [0.0] + [ARROW_ROOM + (label_width if lay < layer[out] else 0.0) for lay in range(1, layer[out] + 1)]
    x = [0.0]
    for lay in range(1, layer[out] + 1):
        x.append(x[-1] + BOX_W + FREE + label_col[lay])
    lay_out = CellLayout(labels=labels, kinds=kinds, layer_of=layer_of, y=y, x=x, label_col=label_col,
                         edges=edges, n_nodes=out + 1)
    for v in range(out + 1):  # ports: ends spread over the box side, in the order of where they come from
        ins = sorted((e for e, edge in enumerate(edges) if edge[1] == v), key=lambda e: -y[edges[e][3][-2]])
        outs = sorted((e for e, edge in enumerate(edges) if edge[0] == v), key=lambda e: -y[edges[e][3][1]])
        labelled = v != out
        for e, dy in zip(ins, _spread(len(ins), label_height + 0.05 if labelled else 0.12, 0.7 * BOX_H)):
            lay_out.ports[(e, 1)] = y[v] + dy
        for e, dy in zip(outs, _spread(len(outs), 0.09, 0.6 * BOX_H)):
            lay_out.ports[(e, 0)] = y[v] + dy
    return lay_out


def _edge_path(lay: CellLayout, e: int) -> MplPath:
    """Straight through each band, an S-curve (horizontal at both ends) between bands."""
    src, dst, _, chain = lay.edges[e]
    verts = [(lay.right(lay.layer_of[src]), lay.ports[(e, 0)])]
    codes = [MplPath.MOVETO]
    stops = [(lay.layer_of[v], lay.y[v], lay.right(lay.layer_of[v])) for v in chain[1:-1]]
    stops.append((lay.layer_of[dst], lay.ports[(e, 1)], lay.x[lay.layer_of[dst]] - BOX_W / 2))
    for layer, y, end in stops:
        (x0, y0), x1 = verts[-1], lay.left(layer)
        pull = (x1 - x0) * 0.5
        verts += [(x0 + pull, y0), (x1 - pull, y), (x1, y), (end, y)]
        codes += [MplPath.CURVE4] * 3 + [MplPath.LINETO]
    return MplPath(verts, codes)


def cell_figure(cell: Sequence[tuple[str, int]], concat: Sequence[int], title: str | None = None) -> Any:
    """The diagram of one cell as a matplotlib Figure.

    Node boxes carry the gid ``input:0``/``input:1`` (c_{k-2}, c_{k-1}), ``node:<j>`` or ``output``
    (c_{k}); edge labels ``op:<op>:<src>-><dst>`` and arrows ``edge:<src>-><dst>``, with states
    numbered as in the genotype (0, 1 the inputs, 2.. the nodes) and c_{k} as ``out``: tests and
    callers find the drawn graph through them.
    """
    fig = plt.figure()
    renderer = fig.canvas.get_renderer()
    label_style = {"ha": "right", "va": "center", "fontsize": LABEL_FONT, "zorder": 5,
                   "bbox": {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9}}
    # the labels are measured as figure texts, removed, and drawn afresh in the axes: matplotlib 3.7.0's
    # Artist.remove() leaves a figure text unable to join an axes ("single artist in more than one figure")
    texts = [fig.text(0, 0, op, color=OP_COLORS.get(op, "black"), **label_style) for op, _ in cell]
    sizes = [t.get_window_extent(renderer) for t in texts]
    for t in texts:
        t.remove()
    pad = 2 * 0.15 * LABEL_FONT / 72
    label_w = max(s.width for s in sizes) / fig.dpi + pad
    label_h = max(s.height for s in sizes) / fig.dpi + pad
    lay = layout_cell(cell, concat, label_w, label_h)
    x0, x1 = -BOX_W / 2 - MARGIN, lay.x[-1] + BOX_W / 2 + MARGIN
    y0 = min(lay.y.values()) - BOX_H / 2 - MARGIN
    y1 = max(lay.y.values()) + BOX_H / 2 + MARGIN
    top = 0.4 if title else 0.0
    fig.set_size_inches(x1 - x0, y1 - y0 + top)
    ax = fig.add_axes((0, 0, 1, (y1 - y0) / (y1 - y0 + top)))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_axis_off()
    if title:
        fig.text(0.5, 1 - 0.5 * top / (y1 - y0 + top), title, ha="center", va="center", fontsize=11)
    out = lay.n_nodes - 1

    def name(v: int) -> str:
        return "out" if v == out else str(v)

    for v in range(lay.n_nodes):
        kind = lay.kinds[v]
        cx, cy = lay.x[lay.layer_of[v]], lay.y[v]
        gid = "output" if kind == "output" else f"input:{v}" if kind == "input" else f"node:{v - 2}"
        ax.add_artist(FancyBboxPatch((cx - BOX_W / 2, cy - BOX_H / 2), BOX_W, BOX_H,
                                    boxstyle="round,pad=0,rounding_size=0.09", facecolor=FILL[kind],
                                    edgecolor=EDGE[kind], linewidth=1.3, zorder=3, gid=gid))
        ax.text(cx, cy, lay.labels[v], ha="center", va="center", fontsize=12, zorder=4)
    for e, (src, dst, op, _) in enumerate(lay.edges):
        color = CONCAT_COLOR if op is None else OP_COLORS.get(op, "black")
        ax.add_artist(FancyArrowPatch(path=_edge_path(lay, e), arrowstyle="-|>,head_length=0.45,head_width=0.2",
                                     mutation_scale=12, color=color, linewidth=1.0 if op is None else 1.5,
                                     linestyle="--" if op == "none" else "-", zorder=1 if op is None else 2,
                                     gid=f"edge:{name(src)}->{name(dst)}"))
        if op is not None:
            ax.add_artist(Text(lay.x[lay.layer_of[dst]] - BOX_W / 2 - ARROW_ROOM, lay.ports[(e, 1)], op,
                               color=OP_COLORS.get(op, "black"), gid=f"op:{op}:{name(src)}->{name(dst)}",
                               **label_style))
    return fig


def genotype_figures(genotype: Genotype, name: str | None = None) -> dict[str, Any]:
    """{"normal": Figure, "reduction": Figure}; titled with ``name`` when given."""
    cells = {"normal": (genotype.normal, genotype.normal_concat),
             "reduction": (genotype.reduce, genotype.reduce_concat)}
    return {cell: cell_figure(edges, concat, f"{name}: {cell} cell" if name else None)
            for cell, (edges, concat) in cells.items()}


def write_cells(genotype: Genotype, stem: str | Path, formats: Iterable[str] = ("png", "pdf"),
                name: str | None = None) -> list[Path]:
    """Write ``<stem>_normal.<ext>`` and ``<stem>_reduction.<ext>``; returns the paths written."""
    stem = Path(stem)
    formats = list(formats)  # read once per cell: a generator would leave the reduction cell unwritten
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    figures = genotype_figures(genotype, name)
    try:
        for cell, fig in figures.items():
            for ext in formats:
                path = stem.with_name(f"{stem.name}_{cell}.{ext}")
                written.append(write_figure(fig, path, dpi=DPI, facecolor="white"))
    finally:  # both figures, also when the first cell's file fails (a sweep draws on after a warning)
        for fig in figures.values():
            plt.close(fig)
    return written


def write_sweep_cells(genotypes: dict[str, Any], folder: str | Path, logger: Any = None) -> list[Path]:
    """The sweep's call: ``<name>_normal.png`` and ``<name>_reduction.png`` of each genotype, never raising.

    A failure to draw (a malformed genotype, a full disk, a matplotlib problem) is logged as a warning
    and the other genotypes are still drawn: a plot must not end a sweep that has finished its searches.
    Diagrams of names no longer on the front (a resumed sweep) are removed, so that the folder shows the
    front of genotypes.json; so are the other formats (visualize.py SWEEP's PDFs) of a cell whose PNG this
    call drew anew, not as it was: a name can pass to another search's genotype on a resume, and its old
    PDF would show that other genotype under it.
    """
    log = logger or logging.getLogger(__name__)
    folder = Path(folder)
    written: list[Path] = []
    changed: set[tuple[str, str]] = set()  # (name, cell) whose PNG now shows another drawing
    for raw_name, data in genotypes.items():
        stem = folder / _safe_name(raw_name)
        before = {cell: _bytes_or_none(stem.with_name(f"{stem.name}_{cell}.png")) for cell in CELLS}
        try:
            paths = write_cells(genotype_from_dict(data), stem, ("png",), name=raw_name)
        except Exception as err:  # any plotting failure is only a warning here
            log.warning("could not draw the cells of %s: %s", raw_name,
                        " ".join(str(err).split()) or type(err).__name__)
            continue
        written += paths
        for cell in CELLS:
            now = _bytes_or_none(stem.with_name(f"{stem.name}_{cell}.png"))
            if before[cell] is None or before[cell] != now:
                changed.add((stem.name, cell))
    keep = {_safe_name(n) for n in genotypes}
    try:
        for cell in CELLS:  # every format: visualize.py SWEEP also writes the PDFs there
            for fmt in FORMATS:
                for stale in folder.glob(f"*_{cell}.{fmt}"):
                    name = stale.name[:-len(f"_{cell}.{fmt}")]
                    if name not in keep or (fmt != "png" and (name, cell) in changed):
                        stale.unlink(missing_ok=True)
    except OSError as err:
        log.warning("could not remove old cell diagrams in %s: %s", folder, err)
    if written:
        log.info("cell diagrams: %s", folder)
    return written


def _bytes_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", str(name))[:100].strip("._") or "genotype"


def _existing(text: str) -> Path | None:
    """``text`` as a path that exists, else None (a pasted genotype string is no path, however long)."""
    try:
        path = Path(text)
        return path if path.exists() else None
    except (OSError, ValueError):
        return None


def _mapping_file(path: Path) -> tuple[Path, dict[str, Any]] | None:
    """The genotypes.json that a sweep folder or file without ``:NAME`` stands for, and its name -> genotype
    mapping, if it is one (read once: a pipe, --arch <(...), has no second read)."""
    if path.name == "log.txt":
        path = path.parent
    if path.is_dir():
        if any((path / f).is_file() for f in ("genotype.json", "result.json")):
            return None
        path = path / "genotypes.json"
        if not path.is_file():
            return None
    if path.suffix != ".json":
        return None
    try:
        data = read_genotype_json(path)
    except GenotypeError as err:
        raise UserError(str(err)) from None
    mapping = genotype_mapping(data)
    return (path, mapping) if mapping is not None else None  # a bad entry is named in expand


def expand(spec: str) -> list[tuple[str, Genotype, Path | None, Path | None]]:
    """(name, genotype, default folder, input file or None) for each genotype that ``spec`` names; the default
    folder is None for a genotype that comes from no run folder (a published name, a pasted string), whose
    diagrams go into cells/ of the current folder (CWD_CELLS)."""
    if spec == "all":
        return [(name, g, None, None) for name, g in PUBLISHED.items()]
    path = _existing(spec)
    if path is not None:
        found_mapping = _mapping_file(path)
        if found_mapping is not None:
            mapping, data = found_mapping
            if not data:  # {"genotypes": {}}: drawing nothing and saying nothing would look like success
                raise UserError(f"{mapping} holds no genotypes: nothing to draw")
            if stale := stale_front(mapping):
                print(f"note: {stale}: the cells drawn may leave its front", flush=True)
            found = []
            for key, value in data.items():
                try:
                    found.append((_safe_name(key), genotype_from_dict(value), mapping.parent / "cells", mapping))
                except GenotypeError as err:
                    raise UserError(f"{mapping}: genotype {key}: {err}") from None
            return found
    try:
        genotype = resolve_genotype(spec)
    except GenotypeError as err:
        raise UserError(str(err)) from None
    except OSError as err:  # e.g. a name too long for the file system
        raise UserError(f"cannot read genotype {spec[:60]!r}: {err.strerror or err}") from None
    source = path
    if source is None and ":" in spec:
        source = _existing(spec.rpartition(":")[0])
    try:
        name = "genotype" if spec.lstrip().startswith("Genotype(") else genotype_label(spec)
    except OSError:  # a pasted genotype string too long to be a file name
        name = "genotype"
    if source is None:
        return [(_safe_name(name), genotype, None, None)]
    if source.is_dir():
        folder, given = source, None
    else:
        folder, given = source.parent, source
        if ":" not in spec and source.name in ("genotype.json", "result.json"):
            name = source.resolve().parent.name  # a run folder's own file: named after the run
    return [(_safe_name(name), genotype, folder / "cells", given)]


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        description="Draw the normal and the reduction cell of genotypes (PNG and PDF by default).",
        formatter_class=cli.HelpFormatter,
        epilog="Without -o, files go into the run folder's own cells/ (or cells/ in the JSON file's folder) or, "
               "for published names, into cells/ in the current folder.")
    parser.add_argument("arch", nargs="+",
                        help="genotypes: published names, 'all', genotype JSON files, run folders, FILE:NAME, "
                             "a sweep's genotypes.json or folder (all its genotypes)")
    parser.add_argument("-o", "--output", default=None,
                        help="DIR/ (an existing folder or a name ending in /) or a file prefix: PREFIX_normal.png "
                             "(several genotypes: PREFIX_<name>_normal.png) "
                             "(default: the run folder's or JSON file's cells/)")
    parser.add_argument("-f", "--formats", nargs="+", default=["png", "pdf"], choices=FORMATS,
                        help="file formats to write")
    parser.add_argument("--no_title", action="store_true", help="leave out the '<name>: normal cell' title")
    return parser


def _stems(args: argparse.Namespace, found: list[tuple[str, Genotype, Path | None, Path | None]]) -> list[Path]:
    output = args.output
    if output is None:
        return [(CWD_CELLS if folder is None else folder) / name for name, _, folder, _ in found]
    if output.endswith(("/", "\\")) or Path(output).is_dir():
        return [Path(output) / name for name, *_ in found]
    prefix = Path(output)
    if prefix.suffix.lower() in {f".{f}" for f in FORMATS}:
        prefix = prefix.with_suffix("")
    if len(found) == 1:
        return [prefix]
    return [prefix.with_name(f"{prefix.name}_{name}") for name, *_ in found]


def main(args: argparse.Namespace) -> list[Path]:
    """Resolve every genotype and check every output first, then draw; returns the files written.

    Without -o the diagrams go into the ``cells/`` of the run folder they come from, the place a sweep
    draws its own front into: there (and only there) a run folder may be written to. A published name's default,
    cells/ of the current folder, is checked as -o is: run in a sweep folder, it put DARTS_V2's cells among the
    sweep's front's.
    """
    found: list[tuple[str, Genotype, Path | None, Path | None]] = []
    for spec in args.arch:
        found += expand(spec)
    stems = _stems(args, found)
    inputs = [given for *_, given in found if given is not None]
    default = args.output is None
    jobs: dict[Path, tuple[str, Genotype]] = {}
    for stem, (name, genotype, folder, _) in zip(stems, found):
        own = default and folder is not None  # cells/ of the run folder the genotype comes from
        if stem in jobs and jobs[stem][1] != genotype:
            raise UserError(f"two different genotypes named {name} would both be written to {stem}_normal.*: "
                            "draw them one at a time with -o")
        for cell in CELLS:
            for ext in args.formats:
                path = stem.with_name(f"{stem.name}_{cell}.{ext}")
                check_output(path, "default output" if default else "-o", inputs, allowed=[path] if own else ())
        jobs[stem] = (name, genotype)
    written = []
    for stem, (name, genotype) in jobs.items():
        paths = write_cells(genotype, stem, args.formats, name=None if args.no_title else name)
        print(f"{name}: {', '.join(str(p) for p in paths)}")
        written += paths
    return written


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
