"""How stable is a search: the genotypes of searches of one nu with different seeds, compared.

    python tools/search_stability.py logs/search-s0-* logs/search-s1-* logs/search-s2-*    # one nu, three seeds
    python tools/search_stability.py logs/multi-search-digits-A-* logs/multi-search-digits-B-*  # a sweep repeated
    python tools/search_stability.py logs/search-* --group all -o stability.csv             # any set of searches

RUN_DIR: search run folders (train_search.py; their result.json) and sweep folders (every finished
search of the sweep.json; a sweep still running is named on stderr, and one with no finished search is an
error). A sweep repeated with another ``--seed`` is compared nu by nu. The
searches are grouped by their nu (``--group nu``, the default; by objective and nu where runs of several
objectives are given) or all together (``--group all``). With ``--group nu``, a note names the groups that
are no seeds of one search: a seed that comes twice (the same search again, which on CPU finds the same
genotype and so looks perfectly stable) or searches of other settings (dataset, epochs, supernet, learning
rates, ...: SEARCH_SETTINGS, from each search's args.json).

A genotype keeps two (op, input) edges per intermediate node of each cell (normal, reduce). Written:
  -o (search_stability.csv): per group, cell, node and kept (input, op), how many of the group's n
      searches kept it and the fraction (1: every seed agrees);
  <stem>_groups.csv: per group n, the seeds (? for a search that records none), the spread of the derived network
      sizes (model_size, M parameters at the paper's size, NetworkCIFAR(36, classes, 20) or
      NetworkImageNet(48, classes, 14), as the searches record it, whatever network a cost sweep was costed on:
      mean, sample std with ddof=1, min, max),
      the mean pairwise Jaccard agreement and how many edges every search of the group kept;
  <stem>_searches.csv: one row per search (group, nu, seed, model_size, run folder);
  <stem>_jaccard.csv / .png: the pairwise agreement of all searches, the Jaccard index of their
      (cell, node, input, op) sets (1: the same genotype, 0: no edge in common).
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python tools/x.py`: import repo modules

if __name__ == "__main__":  # before the imports below: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import cli  # noqa: E402
import plots  # noqa: E402
from plots import plt  # noqa: E402
from tools import tables  # noqa: E402
from utils import check_output, read_json, run_main  # noqa: E402

CELLS = ("normal", "reduce")
Edge = tuple[str, int, int, str]  # cell, node, input, op


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(description="Agreement between the genotypes of searches (seeds of one nu).",
                                formatter_class=cli.HelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="search run folders and sweep folders")
    parser.add_argument("--group", choices=["nu", "all"], default="nu",
                        help="compare the searches of each nu, or all of them as one set")
    parser.add_argument("-o", "--output", default="search_stability.csv",
                        help="the edge agreement table (CSV); the other tables and the plot go beside it")
    parser.add_argument("-i", "--inches", type=float, nargs="+", default=None, metavar=("W", "H"),
                        help="figure size in inches, each side 1 to 50 (one value: a square; default: grows with "
                             "the number of searches)")
    return parser


# train_search.py's settings that change what a search finds, beside its seed and its nu (the group): searches of
# one nu that differ in one are no seeds of one search
SEARCH_SETTINGS = ("set", "image_size", "subsample", "train_portion", "cutout", "cutout_length", "batch_size",
                   "learning_rate", "learning_rate_min", "momentum", "weight_decay", "epochs", "grad_clip",
                   "init_channels", "layers", "drop_path_prob", "unrolled", "arch_learning_rate",
                   "arch_weight_decay", "begin", "partial_channels", "amp", "criterion_weight", "imagenet",
                   "eval_channels", "eval_layers")


def _search_args(run_dir: Any, fallback: dict[str, Any]) -> dict[str, Any]:
    """The search's arguments from its args.json, else (none, or damaged) the sweep's."""
    args_file = Path(str(run_dir)) / "args.json"
    if args_file.is_file():
        saved = read_json(args_file)
        settings = saved.get("args") if isinstance(saved, dict) else None
        if isinstance(settings, dict):
            return settings
    return fallback


def collect(paths: list[str]) -> list[dict[str, Any]]:
    """Every finished search of the RUN_DIRs (a search reached through two paths counted once), with its
    label, nu, seed, model_size, genotype and run_dir."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for spec in paths:
        sweep = tables.load_sweep(spec)
        folder = Path(sweep["folder"])
        if not sweep["searches"]:  # asked for, it would have been left out of the comparison without a word
            raise ValueError(tables.nothing_finished(sweep))
        if note := tables.unfinished_note(sweep, "compared"):  # its later searches would change the tables
            print(note, file=sys.stderr)
        sweep_args: dict[str, Any] = {}
        if (folder / "sweep.json").is_file():
            recorded = (read_json(folder / "sweep.json") or {}).get("args")
            sweep_args = recorded if isinstance(recorded, dict) else {}
        sweep_seed = sweep_args.get("seed")
        for s in sweep["searches"]:
            if not isinstance(s.get("genotype"), dict):
                raise ValueError(f"the search {s.get('run_dir')} in {spec} records no genotype")
            key = str(Path(str(s.get("run_dir") or folder)).resolve())
            if key in seen:
                continue
            seen.add(key)
            nu = float(s["weight"][0])
            search_args = _search_args(s.get("run_dir") or folder, sweep_args)  # its args.json, read once
            seed = search_args.get("seed", sweep_seed)
            seed = seed if isinstance(seed, int) else None
            single = len(sweep["searches"]) == 1 and not (folder / "sweep.json").is_file()
            label = folder.name if single else f"{folder.name} ν={nu:.3g}"
            out.append({"label": label, "nu": nu, "seed": seed, "objective": sweep["objective"],
                        "model_size": s.get("model_size"),
                        "settings": {k: search_args[k] for k in SEARCH_SETTINGS if k in search_args},
                        "genotype": s["genotype"], "run_dir": s.get("run_dir") or str(folder)})
    if len(out) < 2:
        raise ValueError(f"{len(out)} finished search(es) in {' '.join(paths)}: comparing needs at least two")
    if len({s["objective"] for s in out}) > 1:  # nu weighs another R in each objective: group them apart
        for s in out:
            s["group_prefix"] = f"{s['objective']} "
    return out


def edges(genotype: dict[str, Any]) -> set[Edge]:
    """The kept (cell, node, input, op) of a genotype: two edges per intermediate node, node 0 first."""
    return {(cell, k // 2, int(pair[1]), str(pair[0])) for cell in CELLS for k, pair in enumerate(genotype[cell])}


def jaccard(a: set[Edge], b: set[Edge]) -> float:
    """|a ∩ b| / |a ∪ b|: 1 for the same genotype, 0 for none in common."""
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def group_of(search: dict[str, Any], how: str) -> str:
    """The group of a search: its nu, and its objective where the searches compared have several (nu = 0.2 of
    -o l2 and of -o flops penalise different things, and are no repeats of one search)."""
    return "all" if how == "all" else f"{search.get('group_prefix', '')}ν={search['nu']:.6g}"


def stability(searches: list[dict[str, Any]], how: str) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The edge agreement table, the per-group table and the pairwise Jaccard matrix of all searches."""
    sets = [edges(s["genotype"]) for s in searches]
    matrix = np.array([[jaccard(a, b) for b in sets] for a in sets])
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(searches):
        groups.setdefault(group_of(s, how), []).append(i)
    edge_rows, group_rows = [], []
    for name, members in groups.items():
        n = len(members)
        counts: dict[Edge, int] = {}
        for i in members:
            for edge in sets[i]:
                counts[edge] = counts.get(edge, 0) + 1
        for (cell, node, source, op), count in sorted(counts.items(), key=lambda kv: (CELLS.index(kv[0][0]),
                                                                                      kv[0][1], -kv[1], kv[0][2:])):
            edge_rows.append({"group": name, "cell": cell, "node": node, "input": source, "op": op, "count": count,
                              "n": n, "fraction": count / n})
        sizes = [float(searches[i]["model_size"]) for i in members if searches[i]["model_size"] is not None]
        pairs = [matrix[i, j] for i, j in itertools.combinations(members, 2)]
        group_rows.append({
            "group": name, "n": n, "seeds": " ".join(_seed_text(searches[i]["seed"]) for i in members),
            "model_size_mean": float(np.mean(sizes)) if sizes else math.nan,
            "model_size_std": float(np.std(sizes, ddof=1)) if len(sizes) > 1 else math.nan,
            "model_size_min": min(sizes) if sizes else math.nan, "model_size_max": max(sizes) if sizes else math.nan,
            "mean_jaccard": float(np.mean(pairs)) if pairs else math.nan,
            "edges_kept_by_all": sum(c == n for c in counts.values()),
            "edges_per_genotype": len(sets[members[0]]),
        })
    return pd.DataFrame(edge_rows), pd.DataFrame(group_rows), matrix


def _seed_text(seed: int | None) -> str:
    """A search's seed for the groups table: "?" where it records none (it read "None", like a seed's name)."""
    return "?" if seed is None else str(seed)


def pooling_note(searches: list[dict[str, Any]], how: str) -> str | None:
    """A note naming the groups of one nu whose searches are no seeds of one search (None: none, or --group all,
    which pools any searches on purpose): a seed more than once (two searches of seed 0 found the same cells on
    CPU, and "seeds 0 0 1" read as far more stable than seeds 0 and 1 are) or other SEARCH_SETTINGS."""
    if how == "all":
        return None
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in searches:
        groups.setdefault(group_of(s, how), []).append(s)
    parts = []
    for name, members in groups.items():
        why = []
        seeds = [s["seed"] for s in members if s["seed"] is not None]
        if twice := sorted({seed for seed in seeds if seeds.count(seed) > 1}):
            why.append(f"seed {', '.join(map(str, twice))} more than once")
        why += tables.differing_settings([s.get("settings", {}) for s in members])
        if why:
            parts.append(f"{name} ({'; '.join(why)})")
    if not parts:
        return None
    return (f"note: these groups compare searches that are not seeds of one search: {', '.join(parts)}; "
            "give the searches of one setup, one per seed")


def display_names(searches: list[dict[str, Any]]) -> list[str]:
    """Short names for the plot: the run folders without their time stamps (kept where two would be the same)."""
    full = [s["label"] + ("" if s["seed"] is None else f" seed {s['seed']}") for s in searches]
    short = [re.sub(r"-\d{8}-\d{6}(-\d+)?", "", name) for name in full]
    return short if len(set(short)) == len(short) else full


def jaccard_figure(searches: list[dict[str, Any]], matrix: np.ndarray, size: tuple[float, float] | None) -> Any:
    """The pairwise agreement of the searches as an annotated matrix (0 to 1)."""
    n = len(searches)
    side = min(3.0 + 0.45 * n, 14.0)
    fig, ax = plt.subplots(figsize=size or (side + 1.5, side))
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
    names = display_names(searches)
    ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="black" if matrix[i, j] > 0.6 else "white")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).set_label("Jaccard of the (cell, node, input, op) kept")
    ax.set_title(f"Pairwise agreement of {plots.plural(n, 'genotype')}", fontsize=10)
    return fig


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Compare the searches; returns the tables, the matrix and the paths written."""
    output = tables.output_file(args.output, ".csv")
    stem = output.with_suffix("")
    paths = {"edges_csv": output, "groups_csv": Path(f"{stem}_groups.csv"),
             "searches_csv": Path(f"{stem}_searches.csv"), "jaccard_csv": Path(f"{stem}_jaccard.csv"),
             "plot": Path(f"{stem}_jaccard.png")}
    size = tables.parse_inches(args.inches) if args.inches else None
    searches = collect(args.runs)  # the inputs first: a folder that is no sweep is named as such, not blamed on -o
    for path in paths.values():
        check_output(path, "-o", args.runs)
    edge_table, group_table, matrix = stability(searches, args.group)
    per_search = pd.DataFrame([{"group": group_of(s, args.group), **{k: s[k] for k in ("label", "nu", "seed",
                                                                                       "model_size", "run_dir")}}
                               for s in searches])
    tables.write_table(edge_table, paths["edges_csv"])
    tables.write_table(group_table, paths["groups_csv"])
    tables.write_table(per_search, paths["searches_csv"])
    labels = [s["label"] + ("" if s["seed"] is None else f" seed {s['seed']}") for s in searches]
    tables.write_table(pd.DataFrame(matrix, columns=labels).assign(search=labels)[["search", *labels]],
                       paths["jaccard_csv"])
    plots.save_figure(jaccard_figure(searches, matrix, size), paths["plot"])
    print(tables.format_table(group_table))
    for name, rows in edge_table.groupby("group", sort=False):
        if int(rows["n"].iat[0]) == 1:  # "16 edges kept by every search" of one search says nothing
            print(f"{name}: one search, nothing to compare it with")
            continue
        split = rows[rows["fraction"] < 1]
        print(f"{name}: {len(rows) - len(split)} edge(s) kept by every search, {len(split)} by only some")
    if note := pooling_note(searches, args.group):
        print(note)
    if args.group == "nu" and (group_table["n"] == 1).all():
        print("no nu was searched more than once (a sweep repeated with another --seed has them): the groups "
              "compare nothing; the Jaccard matrix compares every search with every other, and --group all pools "
              "them")
    for key, path in paths.items():
        print(f"{key}: {path}")
    return {"edges": edge_table, "groups": group_table, "searches": per_search, "jaccard": matrix, **paths}


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
