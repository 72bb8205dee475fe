"""Table and plots of a sweep's Pareto-optimal searches: the search stage at a glance.

    python tools/analyse_search_logs.py -l logs/multi-search-cifar10-EXP-20260101-000000/log.txt
    python tools/analyse_search_logs.py -d search_table.csv -t 3        # re-plot a saved table (also the thesis's)
    python tools/analyse_search_logs.py -l logs/multi-search-... --max_params 2 --max_flops 300   # what fits a budget

One row per Pareto-optimal search: name, nu, size (M parameters), search train/valid accuracy,
cross-entropy and penalty, and the evaluation network's parameters, FLOPs and CPU/GPU latency
(profiling.py). Writes the table (-o, CSV; a re-plot with -d and no -o writes no copy of it) and, beside
it, <stem>_crit_vs_reg_loss.png (the front,
top-k by search valid accuracy highlighted), <stem>_weight_vs_valid_acc.png,
<stem>_weight_vs_params.png and <stem>_correlation_matrix.png; with -l also <stem>_profile.json, what the
profiled columns depend on (network, input size, FLOPs rules and, where latency was measured, CPU model and
threads, GPU, torch version), the rows measured and when (-d profiles nothing and writes none). Prints the
table and the front's hypervolume with its reference point (``--reference R CE`` sets it: one point for several
sweeps, or a sweep's own for its re-plotted table, which holds only the Pareto rows). A cost sweep's genotypes are
profiled on its own evaluation network (its args.json), so the flops or parameters column is its R. With a
budget (--max_params, --max_flops, --max_latency_cpu, --max_latency_gpu) it names the search within every
limit with the lowest front cross-entropy, among the table's Pareto-optimal searches, and the command that trains it.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python tools/x.py`: import repo modules

if __name__ == "__main__":  # before the imports below: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import pandas as pd  # noqa: E402

import cli  # noqa: E402
import cost  # noqa: E402
import model  # noqa: E402
import plots  # noqa: E402
import train  # noqa: E402
from genotypes import GenotypeError, genotype_from_dict, genotype_mapping  # noqa: E402
from pareto import front_ce  # noqa: E402
from plots import plt  # noqa: E402
from tools import tables  # noqa: E402
from utils import UserError, check_output, read_json, run_main, shell_command  # noqa: E402

TABLE_COLUMNS = (
    "name", "nu", "size_m", "search_train_acc", "search_valid_acc", "search_criterion_loss", "search_valid_loss",
    "search_reg_loss", "parameters", "flops", "latency_gpu_ms", "latency_gpu_b1_ms", "latency_cpu_ms", "objective",
    "search_dir",
)
TEXT_COLUMNS = ("name", "objective", "search_dir")
CORRELATED = ("nu", "size_m", "search_train_acc", "search_valid_acc", "search_criterion_loss", "search_valid_loss",
              "search_reg_loss", "flops", "latency_gpu_ms", "latency_cpu_ms")


def front_column(df: pd.DataFrame) -> str:
    """The table's column of the front's cross-entropy: the held-out CE for a cost sweep (pareto.front_ce_key)."""
    return tables.front_column(tables.table_objective(df))


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(description="Table and plots of the Pareto-optimal searches of a sweep.",
                                     formatter_class=cli.HelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-l", "--log", help="the sweep's log.txt (or its folder): reads the folder's sweep.json")
    source.add_argument("-d", "--data", metavar="TABLE_CSV",
                        help="re-plot a table written by this tool or by the original one "
                             "(here -d reads a table; in plot_frontier.py, -d is --dominated)")
    parser.add_argument("-o", "--output", default=None,
                        help="the table (CSV); plots go beside it (default: search_table.csv; with -d, the table read, "
                             "which is not rewritten)")
    parser.add_argument("-i", "--inches", type=float, nargs="+", default=None, metavar=("W", "H"),
                        help="figure size in inches, each side 1 to 50 (one value: a square; default 7 5)")
    parser.add_argument("--reference", type=float, nargs=2, default=None, metavar=("R", "CE"),
                        help="the hypervolume's reference point (default: the sweep's own, over all its searches, "
                             "with -l; with -d the table's maxima + 10 %%, the table holding only the Pareto rows: "
                             "pass the sweep's to compare, or one point to compare several sweeps)")
    parser.add_argument("-t", "--topk", type=int, default=5,
                        help="ring the K searches with the best search valid accuracy (0, or K >= the number of "
                             "searches: none, since all would be ringed)")
    parser.add_argument("--init_channels", type=int, default=None,
                        help="channels of the profiled evaluation network (default: a cost sweep's own evaluation "
                             "network, else 36; 48 on ImageNet)")
    parser.add_argument("--layers", type=int, default=None,
                        help="cells of the profiled network (default: a cost sweep's own, else 20; 14 on ImageNet)")
    tables.add_profiling_args(parser)
    tables.add_budget_args(parser, "lowest front cross-entropy")
    return parser


def search_table(sweep: dict[str, Any], profiler: Any) -> pd.DataFrame:
    """One row per Pareto-optimal search, sorted by nu descending (as the original table)."""
    rows = []
    for p in sweep["pareto"]:
        row: dict[str, Any] = {
            "name": p.get("name"), "nu": p["weight"][0], "size_m": p.get("model_size"),
            "search_train_acc": p.get("train_acc"), "search_valid_acc": p.get("valid_acc"),
            "search_criterion_loss": p.get("criterion_loss"), "search_valid_loss": p.get("valid_loss"),
            "search_reg_loss": p.get("reg_loss"), "objective": sweep["objective"], "search_dir": p.get("run_dir"),
        }
        if p.get("genotype") is not None:
            row.update(profiler.profile(p["genotype"]))
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    for column in TABLE_COLUMNS:
        if column not in TEXT_COLUMNS:
            df[column] = pd.to_numeric(df[column], errors="coerce")
    return df.sort_values("nu", ascending=False, kind="stable").reset_index(drop=True)


def _topk(df: pd.DataFrame, k: int) -> list[int]:
    """Row positions of the k best search valid accuracies; ties (and missing accuracies) by the lower cross-entropy
    of the front (the held-out CE in a cost sweep, whose front the training CE is not)."""
    if k <= 0 or df.empty:
        return []
    accuracy = df["search_valid_acc"].astype(float).fillna(-math.inf)
    ce = tables.search_front_ce(df)
    order = sorted(range(len(df)), key=lambda i: (-accuracy.iat[i], ce[i]))
    return order[:k]


def crit_vs_reg_figure(df: pd.DataFrame, sweep: dict[str, Any] | None, topk: int,
                       size: tuple[float, float]) -> Any:
    """Search cross-entropy against the penalty: all searches, the front, the top-k ringed and named.

    Rings only distinguish when they pick some of the points: with k >= the number of rows there are none.
    """
    dominated: list[tuple[float, float]] = []
    if sweep:
        front_dirs = set(df["search_dir"].astype(str))
        dominated = [(s["reg_loss"], front_ce(s, sweep["objective"])) for s in sweep["searches"]
                     if str(s.get("run_dir")) not in front_dirs]
    best = _topk(df, topk) if topk < len(df) else []
    return plots.search_front_figure(
        df["name"].astype(str).tolist(), df["nu"].tolist(), df["search_reg_loss"].to_numpy(float),
        df[front_column(df)].to_numpy(float), size=size, dominated=dominated,
        objective=sweep["objective"] if sweep else tables.table_objective(df), highlight=best,
        highlight_label=f"top {len(best)} by search valid accuracy",
        title=f"Search front: {plots.plural(len(df), 'Pareto-optimal search')}",
        others="none" if best else "fit")


def plot_crit_vs_reg(df: pd.DataFrame, sweep: dict[str, Any] | None, topk: int, path: Path,
                     size: tuple[float, float]) -> Path:
    return plots.save_figure(crit_vs_reg_figure(df, sweep, topk, size), path)


def nu_vs_figure(df: pd.DataFrame, columns: list[tuple[str, str, bool]], ylabel: str, title: str,
                 size: tuple[float, float]) -> Any | None:
    """Columns against nu (log axis when nu spans decades), one colour per nu as in every plot; None when no row
    has a nu (a table whose names encode none, without a weight column), and the title counts the rows drawn when
    some have none: an empty figure, or rows missing unsaid, read as data that is not there."""
    known = int(pd.to_numeric(df["nu"], errors="coerce").notna().sum())
    if not known:
        return None
    if known < len(df):
        title += f"\n{known} of {plots.plural(len(df), 'search')}: ν unknown for the others"
    fig, ax = plt.subplots(figsize=size)
    nus = df["nu"].tolist()
    pos, _ = plots.nu_positions(nus)
    markers = ["o", "s", "^", "D"]
    for k, (column, series, hollow) in enumerate(columns):
        if column in df.columns and df[column].notna().any():
            plots.scatter_by_nu(ax, pos, df[column].to_numpy(float), nus, marker=markers[k % 4], hollow=hollow,
                                series=series if len(columns) > 1 else None, objective=tables.table_objective(df))
    plots.set_nu_axis(ax, nus)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    plots.outside_legend_below(ax)
    return fig


def size_figure(df: pd.DataFrame, size: tuple[float, float]) -> Any | None:
    """Parameters (M) of the profiled evaluation network against nu: a cost sweep's own network, whose costs the
    front is in (size_m, result.json's model_size, is the paper's NetworkCIFAR(36, 20) whatever the sweep); a table
    without the profiled column (the thesis's) plots its size_m."""
    if df["parameters"].notna().any():
        df, column = df.assign(parameters_m=df["parameters"] / 1e6), "parameters_m"
    else:
        column = "size_m"
    return nu_vs_figure(df, [(column, "", False)], tables.label(column), "Size of the evaluation network against ν",
                        size)


def correlated_columns(df: pd.DataFrame) -> list[str]:
    """The correlation matrix's columns: as size_figure, the parameters of the profiled network (a cost sweep's own)
    where the table has them, not size_m (the paper's NetworkCIFAR(36, 20), labelled as if it were the same)."""
    profiled = df["parameters"].notna().any()
    return [("parameters" if profiled and c == "size_m" else c) for c in CORRELATED]


def plot_nu_vs(df: pd.DataFrame, columns: list[tuple[str, str, bool]], ylabel: str, title: str, path: Path,
               size: tuple[float, float]) -> Path | None:
    fig = nu_vs_figure(df, columns, ylabel, title, size)
    return None if fig is None else plots.save_figure(fig, path)


def make_plots(df: pd.DataFrame, sweep: dict[str, Any] | None, stem: Path, topk: int,
               size: tuple[float, float]) -> list[Path]:
    out = [plot_crit_vs_reg(df, sweep, topk, Path(f"{stem}_crit_vs_reg_loss.png"), size)]
    by_nu = [plot_nu_vs(df, [("search_valid_acc", "search valid", False), ("search_train_acc", "search train", True)],
                        "search accuracy (%, last epoch)", "Search accuracy against ν",
                        Path(f"{stem}_weight_vs_valid_acc.png"), size)]
    sized = size_figure(df, size)
    by_nu.append(None if sized is None else plots.save_figure(sized, Path(f"{stem}_weight_vs_params.png")))
    if None in by_nu:
        print("note: no plot against ν: no row of the table has a ν (a weight column, or a name that encodes it)")
    out += [p for p in by_nu if p is not None]
    corr = plots.plot_correlation(df, correlated_columns(df), Path(f"{stem}_correlation_matrix.png"),
                                  size=(max(size[0], 6.5), max(size[1], 5.5)), noun="Pareto-optimal search",
                                  label=tables.label)
    if corr is not None:
        out.append(corr)
    return out


def train_arch(sweep: dict[str, Any], name: str) -> str:
    """--arch of the budget pick's train command: the sweep's genotypes.json:NAME where that file holds this very
    genotype, else the pick's search folder. genotypes.json is written at a sweep's end: one still at work or
    stopped after a --resume has an earlier front's file, which may lack the name (train.py then failed) or give it
    to another search's cells after a rename (trained the wrong network); a search folder alone has none."""
    point = next((p for p in sweep["pareto"] if p.get("name") == name), None)
    path = sweep["folder"] / "genotypes.json"
    if point is None or point.get("genotype") is None or not point.get("run_dir"):
        return f"{path}:{name}"
    try:
        mapping = genotype_mapping(read_json(path)) if path.is_file() else None
        same = mapping is not None and isinstance(mapping.get(name), dict) and (
            genotype_from_dict(mapping[name]) == genotype_from_dict(point["genotype"]))
    except (UserError, GenotypeError):  # a damaged file: the search folder holds the genotype too
        same = False
    return f"{path}:{name}" if same else str(point["run_dir"])


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Build (or read) the table, write it and the plots; returns {"table", "csv", "plots", "hypervolume"}."""
    tables.check_replot_flags(args, ("init_channels", "layers"))
    if args.topk < 0:  # read as "none" without a word, like 0
        raise UserError(f"-t {args.topk} must be >= 0 (0: ring none)")
    size = tables.parse_inches(args.inches)
    output = tables.output_file(tables.table_output(args.output, args.data, "search_table.csv"), ".csv")
    replot_in_place = bool(args.data) and Path(args.data).resolve() == output.resolve()  # no table written then
    limits = tables.budget_limits(args, profiled=bool(args.log))
    if args.reference is not None and not all(math.isfinite(v) for v in args.reference):
        raise UserError(f"--reference {' '.join(map(str, args.reference))}: give two finite numbers (R and CE)")
    sweep, train_flags, profiler, record = None, [], None, None
    if args.log:
        sweep = tables.load_sweep(args.log)
        check_output(output, "-o", [args.log])  # after the input: a folder that is no sweep is named as such
        record = check_output(tables.profile_record_path(output), "-o (its profile record)", [args.log])
        if not sweep["pareto"]:
            raise ValueError(tables.nothing_finished(sweep))
        if note := tables.unfinished_note(sweep):
            print(note, file=sys.stderr)
        imagenet = sweep["space"] == "imagenet"
        costed = cost.run_eval_network(sweep["folder"])
        channels, layers = costed or model.paper_network(imagenet)
        network = {"--init_channels": tables.network_setting(args.init_channels, channels, "--init_channels"),
                   "--layers": tables.network_setting(args.layers, layers, "--layers")}
        # the budget's pick is the profiled network: its train command says so where train.py would build another
        trained = costed or tuple(train.NETWORK_FALLBACK.values())
        train_flags = [word for (flag, value), own in zip(network.items(), trained) if value != own
                       for word in (flag, str(value))]
        profiler = tables.make_profiler(
            args, init_channels=network["--init_channels"], layers=network["--layers"],
            num_classes=sweep["num_classes"], imagenet=imagenet, image_size=sweep["image_size"])
        print(f"profiled at the sweep's image size (from {sweep['folder']}): "
              + tables.profile_settings_text(profiler, skip=("gpu", "flops_rules")))
        df = search_table(sweep, profiler)
        reference = (sweep.get("hypervolume") or {}).get("reference")
    else:
        df = tables.read_table(args.data, needs=(("search_reg_loss",), ("search_criterion_loss", "search_valid_loss")),
                               what="table of searches (this tool's, or the thesis's loss table)")
        if len(objectives := tables.table_objectives(df)) > 1:  # one front over R of other units: no front at all
            raise ValueError(f"{args.data} joins searches of sweeps of {', '.join(objectives)}: their penalties R "
                             "are in different units, so they have no joint front or hypervolume; re-plot each "
                             "sweep's table on its own")
        check_output(output, "-o", [None if replot_in_place else args.data])
        for column in TABLE_COLUMNS:
            if column not in df.columns:
                df[column] = float("nan") if column not in TEXT_COLUMNS else None
        reference = None
    pick, pick_line = None, None
    if limits:  # before anything is written: a limit on a column the table lacks is refused
        best, pick_line = tables.pick_within_budget(df, limits, df[front_column(df)].to_numpy(float),
                                                    tables.label(front_column(df)) + " {:.4g}")
        pick = None if best is None else str(df["name"].iat[best])
    if not replot_in_place:
        tables.write_table(df, output)
    if profiler is not None:  # a re-plot (-d) profiles nothing: no record, and an earlier one is left as it is
        tables.write_profile_record(output, [(profiler, df.loc[df["parameters"].notna(), "name"].tolist())])
    hv = tables.front_hypervolume(df["search_reg_loss"].to_numpy(float), df[front_column(df)].to_numpy(float),
                                  args.reference or reference)
    print(tables.format_table(df, [c for c in TABLE_COLUMNS if c != "search_dir"]))
    unit = cost.unit_of(tables.table_objective(df))
    print(tables.hypervolume_text("the search front (penalty R, cross-entropy)", hv, ("R", "CE"), unit))
    if hv is not None and args.data and args.reference is None:
        print("  (reference point: the table's maxima + 10 %; the sweep's own, over all its searches, is in its "
              "log: pass it as --reference R CE to compare)")
    if pick_line is not None:
        print(pick_line)
        if pick is not None and sweep is not None:
            print(f"train it: {shell_command('python', 'train.py', '--arch', train_arch(sweep, pick), *train_flags)}")
    plots = make_plots(df, sweep, output.with_suffix(""), args.topk, size)
    print(f"table: {output}" + (" (re-plotted in place, not rewritten)" if replot_in_place else ""))
    if record is not None:
        print(f"profile record: {record}")
    for p in plots:
        print(f"plot: {p}")
    return {"table": df, "csv": output, "plots": plots, "pick": pick, "profile": record,
            "hypervolume": None if hv is None else {"value": hv[0], "reference": list(hv[1])}}


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
