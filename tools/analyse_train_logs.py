"""Table and plots of evaluation runs joined with their searches: which network for which mood.

    python tools/analyse_train_logs.py -t logs/batch-train-EXP-20260101-000000 -s logs/multi-search-.../log.txt
    python tools/analyse_train_logs.py -t logs/eval-l2_loss_2e01-*/log.txt -e logs/batch-train-EXP-.../ensemble.json
    python tools/analyse_train_logs.py -d loss_table.csv -c           # re-plot a saved table (also the thesis's)
    python tools/analyse_train_logs.py -d loss_table.csv --max_flops 300 --max_latency_cpu 5  # the best within a budget

-t takes eval run folders (train.py), their log.txt, or batch-train folders (every eval-* folder in
them); runs still training are read from their metrics.csv (status "running"), and so are runs that no
process holds any more (status "stopped": killed, crashed or interrupted; a note names the command that
continues them); one its batch recorded as failed (batch.json) is left out, with a note, until a
batch_train.py --resume retries it, and a note names the trainings a batch has queued and not begun.
-s takes sweep folders: each run is joined with the search that found
its cells (the one of its sweep name first; a name whose cells differ is no match), which gives nu and the
search losses and accuracies.
Profiling (profiling.py) adds parameters, FLOPs and latency of each run's network as it was trained.

Writes the table (-o, CSV; a re-plot with -d and no -o writes no copy of it) and beside it
<stem>_error_vs_params.png (test error against parameters
with the Pareto front, the published DARTS/PC-DARTS results on CIFAR-10 and the ensembles of -e),
<stem>_error_vs_flops.png, <stem>_error_vs_latency_cpu.png / _gpu.png (when measured),
<stem>_search_vs_valid_loss.png, <stem>_search_vs_valid_error.png, <stem>_weight_vs_acc.png and
<stem>_correlation_matrix.png; with -t also <stem>_profile.json, what the profiled columns depend on, one entry
per network as trained (channels, cells, classes, input size, FLOPs rules and, where latency was measured, CPU
model and threads, GPU, torch version) with the rows it measured, one for the published networks on the plots
(C=36, 20 cells: "DARTS_V2 (published, on the plots)"), and when it was made (-d profiles no row and
writes none). Prints the table and the hypervolumes of the fronts (the evaluation front's over
the finished runs: a run's last evaluated epoch is no result, and the runs left out are counted).

Several seeds (batch_train.py --seeds): the table keeps a row per run (its ``seed`` column from the
run's args.json, and the cells trained in ``genotype``), and <stem>_summary.csv has a row per genotype and
setup (same name, cells, size, FLOPs, dataset, auxiliary): n, the seeds,
test_error_mean, test_error_std (sample std, ddof=1; empty for n = 1) and test_error_best_of_n (the
lowest of the n: what papers that report "the best of n trainings" quote, not an estimate), over the
finished runs (the running ones only where none has finished). pareto_params marks the front of the
finished genotypes' means against parameters and not_separable the front points whose mean ± std overlaps that of a
neighbour on it; a note names the genotypes whose pool repeats a seed or mixes --epochs or
other training settings of train.py (``train_settings``, from each run's args.json: learning rate, batch
size, weight decay, cutout, ...), which are not independent seeds of one training. When a genotype has
more than one run, the error-against-cost plots draw the means with ± std error bars, the single runs as
small dots, the front of the means, and ring the points that are not separable.

A budget (--max_params M, --max_flops M, --max_latency_cpu MS, --max_latency_gpu MS: the profiled
columns) names the network within every limit with the lowest test error (per genotype, the mean over
its seeds), or, when none fits, the one nearest to fitting.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
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
import cost  # noqa: E402
import model  # noqa: E402
import plots  # noqa: E402
from genotypes import (  # noqa: E402
    GenotypeError,
    genotype_from_dict,
    genotype_label,
    genotype_to_dict,
    resolve_genotype,
    same_cells,
)
from pareto import front_ce_key, front_ce_name, front_indices  # noqa: E402
from plots import plt  # noqa: E402
from tools import tables  # noqa: E402
from utils import (  # noqa: E402
    UserError,
    check_output,
    not_started_note,
    read_json,
    read_run_record,
    recorded_failure,
    resume_command,
    run_is_live,
    run_main,
    run_state,
)

TABLE_COLUMNS = (
    "name", "nu", "size_m", "train_loss", "train_acc", "valid_loss", "valid_acc", "test_loss", "test_acc",
    "test_top5", "search_criterion_loss", "search_valid_loss", "search_reg_loss", "search_train_acc",
    "search_valid_acc", "parameters", "flops", "latency_gpu_ms", "latency_gpu_b1_ms", "latency_cpu_ms", "epochs",
    "status", "dataset", "eval_dir", "search_dir", "seed", "objective", "auxiliary", "genotype", "train_settings",
)
TEXT_COLUMNS = ("name", "status", "dataset", "eval_dir", "search_dir", "objective", "genotype", "train_settings")
CORRELATED = ("nu", "size_m", "flops", "latency_gpu_ms", "latency_cpu_ms", "search_criterion_loss",
              "search_valid_loss", "search_reg_loss", "search_valid_acc", "train_acc", "valid_acc", "test_acc")
PRINTED = tuple(c for c in TABLE_COLUMNS
                if c not in ("eval_dir", "search_dir", "dataset", "latency_gpu_b1_ms", "genotype", "train_settings"))
SUMMARY_COLUMNS = (
    "name", "nu", "n", "seeds", "test_error_mean", "test_error_std", "test_error_best_of_n", "test_acc",
    "valid_acc", "size_m", "parameters", "flops", "latency_gpu_ms", "latency_gpu_b1_ms", "latency_cpu_ms",
    "pareto_params", "not_separable", "status", "dataset",
)
SUMMARY_PRINTED = ("name", "nu", "n", "seeds", "test_error_mean", "test_error_std", "test_error_best_of_n",
                   "size_m", "pareto_params", "not_separable")
# train.py's settings that change what a training learns, beside the seed, the epochs and what the pools already
# keep apart (cells, network size, dataset, auxiliary head): runs that differ in one are no seeds of one training
TRAINING_SETTINGS = ("batch_size", "learning_rate", "learning_rate_min", "lr_schedule", "gamma", "decay_period",
                     "momentum", "weight_decay", "grad_clip", "drop_path_prob", "auxiliary_weight", "cutout",
                     "cutout_length", "label_smooth", "train_portion", "subsample", "model_path", "amp")
LABEL_ALL = 12  # up to this many networks every one is named; beyond, those on the front of error against size

# Published CIFAR-10 results (test error %, parameters M as their papers count them: no auxiliary head).
BASELINES = (
    ("DARTS V1", "DARTS_V1", 3.3, 3.00),
    ("DARTS V2", "DARTS_V2", 3.3, 2.76),
    ("PC-DARTS", "PC_DARTS_cifar", 3.6, 2.57),
)
# how the profile record names the published networks it profiled for the plots (no table row of theirs)
BASELINE_ROW = "{} (published, on the plots)"


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(description="Table and plots of evaluation runs joined with their searches.",
                                     formatter_class=cli.HelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    # action="extend": -s A -s B is -s A B (the default action kept the last one, and joined one sweep silently)
    source.add_argument("-t", "--train", nargs="+", action="extend", metavar="TRAIN_LOG",
                        help="eval run folders (or their log.txt) and batch-train folders")
    source.add_argument("-d", "--data", metavar="TABLE_CSV",
                        help="re-plot a table written by this tool or by the original one "
                             "(here -d reads a table; in plot_frontier.py, -d is --dominated)")
    parser.add_argument("-s", "--search", nargs="+", action="extend", default=[], metavar="SEARCH_LOG",
                        help="sweep folders (or their log.txt) whose searches the runs are joined with")
    parser.add_argument("-e", "--ensemble", nargs="+", action="extend", default=[], metavar="ENSEMBLE_JSON",
                        help="ensemble.json files (ensemble.py) to draw beside the single networks")
    parser.add_argument("-c", "--colorbar", action="store_true",
                        help="only the nu colour bar: no names beside the points")
    parser.add_argument("-i", "--inches", type=float, nargs="+", default=None, metavar=("W", "H"),
                        help="figure size in inches, each side 1 to 50 (one value: a square; default 7 5)")
    parser.add_argument("-o", "--output", default=None,
                        help="the table (CSV); plots go beside it (default: loss_table.csv; with -d, the table read, "
                             "which is not rewritten)")
    parser.add_argument("--baselines", choices=["auto", "yes", "no"], default="auto",
                        help="draw the published CIFAR-10 results (auto: when the runs are on CIFAR-10)")
    tables.add_profiling_args(parser)
    tables.add_budget_args(parser, "lowest test error (the mean over seeds)")
    return parser


# --------------------------------------------------------------------------- reading runs


def _is_eval_run(folder: Path) -> bool:
    if (folder / "result.json").is_file():
        try:
            result = read_json(folder / "result.json")
        except Exception:  # noqa: BLE001 - a broken file is reported when the run is read
            return True
        if not isinstance(result, dict):  # a damaged training's, reported when the run is read (not left out)
            return folder.name.startswith("eval-")
        return "test_acc" in result
    return (folder / "metrics.csv").is_file() and (folder / "args.json").is_file() and folder.name.startswith("eval-")


def eval_folders(paths: list[str]) -> list[Path]:
    """Eval run folders from -t: the folders themselves, or those inside batch-train folders.

    A batch's trainings are its own sub-folders (batch_train.py makes them there), so trained.csv's run_dir is
    read as a name inside the folder given: a copied or moved batch folder is read as it is, not through the
    paths recorded where it was made (which counted runs since deleted from the copy, and named the originals).
    """
    found: list[Path] = []
    early: list[str] = []  # trainings (or batches) with no epoch ended yet: left out with a note beside others
    for spec in paths:
        folder = tables.run_folder(spec)
        if _is_eval_run(folder):
            found.append(folder)
            continue
        inside = sorted(p for p in folder.iterdir() if p.is_dir() and _is_eval_run(p))
        listed = folder / "trained.csv"
        if listed.is_file():
            gone = []
            with open(listed, newline="") as f:
                for row in csv.DictReader(f):
                    run = folder / Path(row.get("run_dir") or "").name
                    if run != folder and run.is_dir() and _is_eval_run(run):
                        inside.append(run)
                    elif run != folder and not run.exists():
                        gone.append(run.name)
            if gone:  # a partial copy, or runs deleted since: the table must not pass for the whole batch
                shown = ", ".join(gone[:3]) + (f" and {len(gone) - 3} more" if len(gone) > 3 else "")
                print(f"note: {listed} lists {len(gone)} training(s) that are not in {folder} ({shown}): left out "
                      "(a partial copy, or deleted since)")
        if not inside and (folder / "args.json").is_file() and not (folder / "metrics.csv").exists() \
                and folder.name.startswith("eval-"):  # in its first epoch, or killed before that epoch ended
            live = run_is_live(folder)
            if live is False:
                early.append(f"{folder} is a training stopped before its first epoch ended (no metrics.csv): "
                             f"{training_resume_command(folder)} continues it")
            else:  # at work: its first epoch's row comes as that epoch ends (it was called stopped, and the
                # --resume named was refused, the folder being in use)
                early.append(f"{folder} is a training in its first epoch (no metrics.csv yet)"
                             + (": run this again once that epoch has ended" if live else
                                f", or one stopped there ({training_resume_command(folder)} continues it)"))
            continue
        if not inside and (folder / "batch.json").is_file():  # a batch whose trainings have no epoch ended yet
            state = run_state(folder, resume_command("batch_train.py", folder))
            early.append(f"{folder} is a batch-train folder with no training past its first epoch yet ({state})")
            continue
        if not inside:
            raise ValueError(f"{folder} is neither an eval run folder nor a batch-train folder holding eval runs")
        if note := not_started_note(folder):
            print(f"note: {note}")
        found += inside
    if early and not found:
        raise ValueError(early[0] if len(early) == 1 else "no training given has an epoch ended yet: "
                         + "; ".join(early))
    for line in early:  # one just started beside finished runs (a glob of eval-*) must not stop the analysis
        print(f"note: left out: {line}")
    unique: dict[Path, None] = {}
    for f in found:
        unique.setdefault(f.resolve(), None)
    return list(unique)


def _last_metrics(path: Path) -> dict[str, Any]:
    """The last row of metrics.csv that has test metrics (values as floats)."""
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("test_acc") not in (None, "")]
    if not rows:
        return {}
    return {k: float(v) for k, v in rows[-1].items() if v not in (None, "")}


def _image_size(folder: Path) -> int | None:
    """The --image_size the run was trained at (None: the dataset's own), from its args.json (checked first by
    _recorded_run: a damaged one is named, not read as "the dataset's own side")."""
    settings, _ = cli.run_settings(folder, argparse.Namespace(), {"image_size": None})
    return settings.image_size


def _recorded_run(folder: Path) -> dict[str, Any]:
    """A run's whole args.json ({} when it has none: result.json holds the results), its "args" checked.

    A damaged one is one line naming it: result.json has no image size, so the run would be profiled at the
    dataset's own side (32 for a run trained at 8), its FLOPs and latency columns wrong without a word."""
    path = folder / "args.json"
    if not path.is_file():
        return {}
    try:
        return read_run_record(path, "train.py")
    except UserError as err:
        raise UserError(f"{err}: restore it, or move its run folder out of -t") from None


def train_settings(run_args: dict[str, Any]) -> str | None:
    """The run's TRAINING_SETTINGS (those its args.json records) as a JSON object, for the table's train_settings
    column; None when it records none (an args.json from before them, or none)."""
    known = {k: run_args[k] for k in TRAINING_SETTINGS if k in run_args}
    return json.dumps(known, sort_keys=True) if known else None


UNFINISHED = ("running", "stopped")  # the status of a run without result.json: still training, or not any more


def unfinished_status(folder: Path) -> str:
    """"stopped" for a run without result.json that no process holds (killed, crashed, interrupted: it
    would have shown as still training for ever), else "running" (also where the lock cannot tell, as for a run
    older than it)."""
    return "stopped" if run_is_live(folder) is False else "running"


def training_resume_command(folder: Path) -> str:
    """The command that continues a stopped training: its batch's --resume when a batch made it, else train.py's."""
    if (folder.parent / "batch.json").is_file():
        return resume_command("batch_train.py", folder.parent)
    return resume_command("train.py", folder)


def read_eval_run(folder: Path) -> dict[str, Any] | None:
    """A finished run's result.json, or what a running one's metrics.csv says so far (None: nothing yet)."""
    if (folder / "result.json").is_file():
        result = read_json(folder / "result.json")
        if not isinstance(result, dict):  # dict() of [[1, 2]] made a run with no results, left out of the table
            raise UserError(f"{folder / 'result.json'} is not a train.py result (no JSON object): restore it, or "
                            "move its run folder out of -t")
        result = dict(result)
        result["run_dir"] = str(folder)  # the folder read, wherever it was when it trained
        recorded = _recorded_run(folder).get("args", {})  # checked before run_settings reads it for the size
        result.setdefault("image_size", _image_size(folder))
        seed = recorded.get("seed")
        result.setdefault("seed", int(seed) if isinstance(seed, int) else None)
        result.setdefault("train_settings", train_settings(recorded))
        result["status"] = "done"
        return result
    record = _recorded_run(folder)  # a damaged one is named (it stopped the tool with an AttributeError)
    run_args = record.get("args", {})
    last = _last_metrics(folder / "metrics.csv")
    if not last:
        return None
    # The run folder's own genotype.json first: --arch is often a path relative to where train.py ran.
    own = folder / "genotype.json"
    try:
        genotype = genotype_to_dict(resolve_genotype(own if own.is_file() else run_args.get("arch", "")))
    except GenotypeError:
        genotype = None
    return {
        **{k: last.get(k) for k in ("train_loss", "train_acc", "valid_loss", "valid_acc", "test_loss", "test_acc",
                                    "test_top5")},
        # the name its caller gave it (batch_train.py's cellX_2), as the finished run's result.json has it
        "arch": run_args.get("arch_label") or genotype_label(run_args.get("arch", folder.name)),
        "arch_spec": run_args.get("arch"), "genotype": genotype,
        "epochs": int(last["epoch"]) + 1 if "epoch" in last else None,
        "init_channels": run_args.get("init_channels"), "layers": run_args.get("layers"),
        "image_size": _image_size(folder), "dataset": run_args.get("set"), "model_size": None,
        # an image folder's classes (args.json): profiled with the dataset's default count, a 3-class tree's
        # network had a 10-way classifier, other parameters and FLOPs than the same run once finished
        "num_classes": len(record["classes"]) if isinstance(record.get("classes"), list) else None,
        "run_dir": str(folder), "status": unfinished_status(folder), "seed": run_args.get("seed"),
        "auxiliary": run_args.get("auxiliary"),  # a key of summary_table's setup, as result.json's is of a done run
        "train_settings": train_settings(run_args),
    }


def search_index(specs: list[str]) -> list[dict[str, Any]]:
    """Every finished search of the -s sweeps, Pareto-optimal ones first (they carry the sweep names)."""
    entries: list[dict[str, Any]] = []
    for spec in specs:
        sweep = tables.load_sweep(spec)
        front_dirs = {str(p.get("run_dir")) for p in sweep["pareto"]}
        for p in sweep["pareto"]:
            entries.append({**p, "objective": sweep["objective"], "pareto": True})
        for s in sweep["searches"]:
            if str(s.get("run_dir")) not in front_dirs:
                entries.append({**s, "objective": sweep["objective"], "pareto": False, "name": None})
    return entries


def match_search(run: dict[str, Any], index: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The search a run's genotype came from: one that found the same cells, the one of the run's sweep name
    first. A name alone is no match: the published l2_loss_2e01 and a sweep's own are other cells, and two
    sweeps can each hold an l2_loss_2e01. The sweep name is that of the run's --arch (arch_spec), not the one a batch
    gave the run (cellX_2 for the second sweep's cellX)."""
    name = genotype_label(run["arch_spec"]) if run.get("arch_spec") else run.get("arch")
    if run.get("genotype") is None:
        return None
    genotype = genotype_from_dict(run["genotype"])
    same = [e for e in index
            if e.get("genotype") is not None and same_cells(genotype_from_dict(e["genotype"]), genotype)]
    named = [e for e in same if e.get("name") and e["name"] == name]
    if named:
        return named[0]
    nu = tables.nu_from_name(str(name))
    if nu is not None and len(same) > 1:  # several searches found these cells: take the one the name points at
        return min(same, key=lambda e: abs(math.log((e["weight"][0] + 1e-30) / (nu + 1e-30))))
    return same[0] if same else None


def unjoined_note(df: pd.DataFrame) -> str | None:
    """A note naming the runs that no search of -s found the cells of: a -t batch and a -s sweep that do not
    belong together gave a table without a search column filled, and not a word why."""
    missing = [str(n) for n, d in zip(df["name"], df["search_dir"]) if not isinstance(d, str) or not d]
    if not missing:
        return None
    which = "none of the runs" if len(missing) == len(df) else f"{len(missing)} of the {len(df)} runs"
    return (f"note: {which} joined a search of -s (no search there found the same cells): "
            f"{', '.join(dict.fromkeys(missing))}; their search columns are empty, and their nu is read from the "
            "name where it encodes one")


def _imagenet(run: dict[str, Any]) -> bool:
    return str(run.get("dataset") or "").lower() == "imagenet"


def train_table(runs: list[dict[str, Any]], index: list[dict[str, Any]], args: argparse.Namespace,
                measured: list[tuple[Any, list[str]]] | None = None) -> pd.DataFrame:
    """One row per run, joined with its search and profiled as it was trained; sorted by nu descending.

    ``measured``, when given, is filled with each profiler (one per network as trained) and the eval_dir of the runs
    it profiled, for the profile record beside the table."""
    profilers: dict[tuple[Any, ...], Any] = {}
    profiled: dict[tuple[Any, ...], list[str]] = {}  # key -> the eval_dir of the runs its profiler measured
    rows = []
    for run in runs:
        search = match_search(run, index)
        name = run.get("arch") or Path(str(run.get("run_dir"))).name
        nu = search["weight"][0] if search else tables.nu_from_name(name)
        row: dict[str, Any] = {
            "name": name, "nu": nu, "size_m": run.get("model_size"),
            **{k: run.get(k) for k in ("train_loss", "train_acc", "valid_loss", "valid_acc", "test_loss",
                                       "test_acc", "test_top5", "epochs", "status", "dataset", "seed", "auxiliary",
                                       "train_settings")},
            "eval_dir": run.get("run_dir"),
            "search_criterion_loss": search.get("criterion_loss") if search else None,
            "search_valid_loss": search.get("valid_loss") if search else None,  # a cost front's CE
            "search_reg_loss": search.get("reg_loss") if search else None,
            "search_train_acc": search.get("train_acc") if search else None,
            "search_valid_acc": search.get("valid_acc") if search else None,
            "search_dir": search.get("run_dir") if search else None,
            "objective": search.get("objective") if search else None,  # its sweep's: which CE its front has
            # the cells trained, as train.py's --arch takes them: runs pool as seeds only of the same cells (a
            # sweep's l2_loss_2e01 and the published one share the name, and may share the size and FLOPs)
            "genotype": str(genotype_from_dict(run["genotype"])) if run.get("genotype") is not None else None,
        }
        if run.get("genotype") is not None:
            imagenet = _imagenet(run)
            channels, layers = model.paper_network(imagenet)
            settings = {
                "init_channels": int(run.get("init_channels") or channels),
                "layers": int(run.get("layers") or layers),
                "num_classes": int(run.get("num_classes") or {"cifar100": 100, "imagenet": 1000}.get(
                    str(run.get("dataset")), 10)),
                "imagenet": imagenet,
                "image_size": run.get("image_size"),
            }
            key = tuple(sorted(settings.items()))
            if key not in profilers:
                profilers[key] = tables.make_profiler(args, **settings)
                profiled[key] = []
                if measured is not None:
                    measured.append((profilers[key], profiled[key]))
                print("profiled as trained: "
                      + tables.profile_settings_text(profilers[key], skip=("gpu", "flops_rules")))
            row.update(profilers[key].profile(run["genotype"]))
            profiled[key].append(str(row["eval_dir"]))
            if row["size_m"] is None:
                row["size_m"] = row["parameters"] / 1e6
        rows.append(row)
    return _typed(pd.DataFrame(rows, columns=list(TABLE_COLUMNS)))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    for column in TABLE_COLUMNS:
        if column not in df.columns:
            df[column] = None if column in TEXT_COLUMNS else float("nan")
        elif column not in TEXT_COLUMNS:
            df[column] = pd.to_numeric(df[column], errors="coerce")
    df = df.sort_values("nu", ascending=False, kind="stable", na_position="last").reset_index(drop=True)
    return df[[*TABLE_COLUMNS, *(c for c in df.columns if c not in TABLE_COLUMNS)]]


# --------------------------------------------------------------------------- several seeds per genotype


def pooled_groups(df: pd.DataFrame) -> list[pd.DataFrame]:
    """The runs summary_table pools, a frame per genotype and setup (same name, cells, size, FLOPs, dataset,
    auxiliary head) in order of first appearance: its finished runs, or its running ones where none has finished.
    A table without the cells (the thesis's, or one written before they were kept) pools by the rest."""
    sizes = cost_axis(df, "parameters_m")[0]

    def setup(column: str) -> list[Any]:  # runs of one genotype pool as seeds only if trained alike
        return [None if pd.isna(v) else str(v) for v in df[column]] if column in df else [None] * len(df)

    keys = [(str(n), round(float(v), 6) if np.isfinite(v) else None, *more)
            for n, v, *more in zip(df["name"], sizes, setup("flops"), setup("dataset"), setup("auxiliary"),
                                   setup("genotype"))]
    groups = []
    for key in dict.fromkeys(keys):
        group = df[[k == key for k in keys]]
        done = group[~group["status"].astype(str).isin(UNFINISHED)]
        groups.append(done if len(done) else group)
    return groups


def _settings_differ(recorded: pd.Series) -> list[str]:
    """The TRAINING_SETTINGS in which the runs' train_settings differ, each as "name A and B" (a setting a run does
    not record is not compared: an older args.json)."""
    parsed = []
    for text in recorded:
        try:
            settings = json.loads(text) if isinstance(text, str) and text else {}
        except json.JSONDecodeError:  # a table edited by hand: nothing to compare
            settings = {}
        parsed.append(settings if isinstance(settings, dict) else {})
    return tables.differing_settings(parsed)


def pooling_note(df: pd.DataFrame) -> str | None:
    """A note naming the genotypes whose mean ± std pools runs that are not independent seeds of one training: a
    seed that comes twice (the same batch given twice, copied, or trained again), finished runs of different
    --epochs (a demo-length and a full training) or of other train.py settings (train_settings: a batch trained at
    --learning_rate 0.05 and one at 0.025 made "n 4" of one genotype, its std mostly the learning rate's). None
    when every pool is one run per seed of one setup."""
    parts = []
    for group in pooled_groups(df):
        why = []
        seeds = [int(v) for v in group["seed"] if pd.notna(v)] if "seed" in group else []
        if twice := sorted({s for s in seeds if seeds.count(s) > 1}):
            why.append(f"seed {', '.join(map(str, twice))} more than once")
        finished = ~group["status"].astype(str).isin(UNFINISHED)
        epochs = sorted({int(e) for e in group.loc[finished, "epochs"] if pd.notna(e)}) if "epochs" in group else []
        if len(epochs) > 1:
            why.append(f"runs of {' and '.join(map(str, epochs))} epochs")
        if "train_settings" in group and (differ := _settings_differ(group.loc[finished, "train_settings"])):
            why.append(f"runs of {', '.join(differ)}")
        if why:
            parts.append(f"{group['name'].iat[0]} ({'; '.join(why)})")
    if not parts:
        return None
    return (f"note: the mean ± std per genotype pools runs that are not independent seeds of one training: "
            f"{', '.join(parts)}; give -t the runs of one setup, one per seed")


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """A row per genotype and setup (same name, cells, size, FLOPs, dataset, auxiliary head) of the per-run table: n,
    mean, sample std (ddof=1) and best of n
    of the test error, over its finished runs (its running ones where none has finished); the front of the
    means against parameters and its points that are not separable (see the module doc)."""
    rows = []
    for group in pooled_groups(df):
        done = group[~group["status"].astype(str).isin(UNFINISHED)]
        errors = (100.0 - group["test_acc"].to_numpy(float))
        errors = errors[np.isfinite(errors)]
        n = len(errors)
        first = group.iloc[0]
        seeds = [str(int(v)) for v in group["seed"] if pd.notna(v)] if "seed" in group else []
        rows.append({
            "name": str(first["name"]), "nu": first["nu"], "n": n, "seeds": " ".join(seeds) or None,
            "test_error_mean": float(np.mean(errors)) if n else math.nan,
            "test_error_std": float(np.std(errors, ddof=1)) if n > 1 else math.nan,
            "test_error_best_of_n": float(np.min(errors)) if n else math.nan,
            "test_acc": 100.0 - float(np.mean(errors)) if n else math.nan,
            "valid_acc": float(group["valid_acc"].mean()) if group["valid_acc"].notna().any() else math.nan,
            **{c: first[c] for c in ("size_m", "parameters", "flops", "latency_gpu_ms", "latency_gpu_b1_ms",
                                     "latency_cpu_ms", "dataset")},
            "status": "done" if len(done) else "running" if (group["status"].astype(str) == "running").any()
            else "stopped",
        })
    out = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    # the front of the finished genotypes, as the hypervolume's: a last evaluated epoch is no result, and one that
    # dominated a finished genotype marked it off the front the hypervolume puts it on
    front, close = tables.overlapping_neighbours(cost_axis(out, "parameters_m")[0],
                                                 out["test_error_mean"].where(out["status"] == "done").tolist(),
                                                 out["test_error_std"].tolist())
    out["pareto_params"] = [i in front for i in range(len(out))]
    out["not_separable"] = [i in close for i in range(len(out))]
    return out


def unfinished_note(df: pd.DataFrame) -> str | None:
    """The runs the evaluation hypervolume leaves out (None: none), so that a number over fewer runs says so."""
    status = df["status"].astype(str)
    counts = [(int((status == s).sum()), what) for s, what in (("running", "still training"), ("stopped", "stopped"))]
    parts = [f"{plots.plural(n, 'run')} {what}" for n, what in counts if n]
    if not parts:
        return None
    return f"note: the evaluation hypervolume is over the finished runs only: left out {' and '.join(parts)}"


def mixed_datasets_note(df: pd.DataFrame) -> str | None:
    """A note when the runs were trained on more than one dataset (None: one, or unknown). Their test errors are
    not comparable, yet the front of test error against cost, its hypervolume and a budget's pick pooled them
    without a word: a synthetic or 3-class run's low error made the front of a digits batch."""
    if "dataset" not in df:
        return None
    counts = df["dataset"].dropna().astype(str).value_counts(sort=False)
    if len(counts) < 2:
        return None
    parts = ", ".join(f"{name} {plots.plural(int(n), 'run')}" for name, n in counts.items())
    return (f"note: the runs were trained on {len(counts)} datasets ({parts}): their test errors are not comparable, "
            "yet the evaluation front, its hypervolume, a budget's pick and the plots put them together; give -t "
            "the runs of one dataset")


def budget_pick(points: pd.DataFrame, limits: dict[str, tuple[float, str]], error: np.ndarray,
                score_text: str) -> tuple[str | None, str]:
    """(name, line) of the budget's pick among the finished networks. A run still training or stopped has only its
    last evaluated epoch, which is no result (the evaluation front leaves it out too): it was named the best within
    the budget on an early epoch's test error, and a better finished network passed over. The line counts those
    left out."""
    finished = ~points["status"].astype(str).isin(UNFINISHED).to_numpy()
    left = int((~finished).sum())
    if not finished.any():
        tables.pick_within_budget(points, limits, error, score_text)  # a limit on a column the table lacks: refused
        budget = ", ".join(text for _, text in limits.values())
        return None, f"budget {budget}: no network has finished training ({left} running or stopped): no pick"
    done = points[finished].reset_index(drop=True)
    best, line = tables.pick_within_budget(done, limits, error[finished], score_text)
    if left:
        line += f" (left out: {plots.plural(left, 'network')} not finished training, whose last epoch is no result)"
    return (None if best is None else str(done["name"].iat[best])), line


def repeated(summary: pd.DataFrame) -> bool:
    """Whether some genotype was trained more than once (the plots then show means and intervals)."""
    return bool((summary["n"] > 1).any())


# --------------------------------------------------------------------------- ensembles and baselines


def load_ensembles(paths: list[str]) -> list[dict[str, Any]]:
    """Each -e file's ensemble.json, checked: done before the runs are profiled, so a typo costs no wait."""
    out = []
    for spec in paths:
        path = Path(spec)
        data = read_json(path / "ensemble.json" if path.is_dir() else path)
        # a training's result.json and test.py's test.json have a test_acc too: drawn as "ensemble of 0"
        if not isinstance(data, dict) or data.get("test_acc") is None or not data.get("models"):
            raise ValueError(f"{spec} is not an ensemble.json of ensemble.py (no test_acc and models)")
        out.append(data)
    return out


def read_ensembles(loaded: list[dict[str, Any]], df: pd.DataFrame) -> list[dict[str, Any]]:
    """Each ensemble load_ensembles read as {"label", "test_error", "members": row positions (None if not in the
    table)}. A member is found by its run folder, else by its name where the table has one genotype of that name."""
    out = []
    by_dir = {str(Path(str(d)).resolve()): i for i, d in enumerate(df["eval_dir"]) if isinstance(d, str) and d}
    by_name: dict[str, int | None] = {}
    datasets = list(df["dataset"]) if "dataset" in df else [None] * len(df)
    cells: dict[str, set[str]] = {}
    for i, (n, g) in enumerate(zip(df["name"], df["genotype"] if "genotype" in df else [None] * len(df))):
        by_name.setdefault(str(n), i)
        if isinstance(g, str) and g:
            cells.setdefault(str(n), set()).add(g)
    for n, found in cells.items():  # a name that two genotypes share (a sweep's and the published one) names neither:
        if len(found) > 1:  # its first row would give the ensemble another network's cost
            by_name[n] = None
    for data in loaded:
        weighting = data.get("weighting", "equal")
        best = data.get("best_per_genotype")
        # short labels: they are written beside their star in every plot, and must fit inside the axes
        for part, what in ((data, "ensemble of {}"), *(((best, "best per genotype by valid acc, {}"),)
                                                       if isinstance(best, dict) else ())):
            members = []
            for m in part.get("models", []):
                key = str(Path(str(m.get("run_dir", ""))).resolve()) if m.get("run_dir") else None
                if key in by_dir:
                    members.append(by_dir[key])
                    continue
                # by name only a run of the ensemble's dataset: a 3-class folder ensemble's l2_loss_2e01 is not the
                # digits run of that name, whose cost it was drawn at (its error beside digits errors)
                row = by_name.get(str(m.get("name")))
                ensembled_on = data.get("dataset")
                other = row is not None and ensembled_on and isinstance(datasets[row], str) and \
                    datasets[row] != ensembled_on
                members.append(None if other else row)
            out.append({"label": f"{what.format(len(members))} [{weighting}]",
                        "test_error": 100.0 - float(part["test_acc"]), "members": members})
    return out


def baselines_apply(df: pd.DataFrame, choice: str) -> bool:
    """Published CIFAR-10 numbers belong on the plot only when the runs are CIFAR-10 runs."""
    if choice != "auto":
        return choice == "yes"
    datasets = {str(d).lower() for d in df["dataset"].dropna()} if "dataset" in df else set()
    if datasets:
        return datasets == {"cifar10"}
    return not any(str(n).lower().endswith("cifar100") for n in df["name"])


def baseline_costs(args: argparse.Namespace, with_latency: bool) -> tuple[dict[str, dict[str, Any]], Any]:
    """FLOPs (and, when this run measures latency, latency) of the published networks at C=36, 20 layers, and the
    profiler that measured them (for the profile record: their latency points are this machine's too)."""
    import genotypes

    settings = argparse.Namespace(**{**vars(args), "no_latency": not with_latency})
    profiler = tables.make_profiler(settings, init_channels=36, layers=20, num_classes=10)
    return {code: profiler.profile(genotypes.PUBLISHED[code]) for _, code, _, _ in BASELINES}, profiler


# --------------------------------------------------------------------------- plots


def labelled_rows(df: pd.DataFrame) -> list[int]:
    """The rows named in every plot, the same set in each: all of them when there are few (LABEL_ALL),
    else those on the front of test error against parameters (the plot users choose from)."""
    x, _, _ = cost_axis(df, "parameters_m")
    y = 100.0 - df["test_acc"].to_numpy(float)
    rows = [i for i in range(len(df)) if np.isfinite(y[i])]
    if len(rows) > LABEL_ALL:
        rows = front_indices(x, y)
    return sorted(rows, key=lambda i: (x[i] if np.isfinite(x[i]) else math.inf, i))


def _scatter_rows(ax: Any, fig: Any, df: pd.DataFrame, x: np.ndarray, y: np.ndarray, colorbar: bool,
                  labelled: list[int] | None = None) -> list[tuple[float, float, str, Any]]:
    """The runs coloured by nu, with the nu colour bar; returns the name labels to place (none with -c)."""
    nus = df["nu"].tolist()
    objective = tables.table_objective(df)  # None for a table that joins sweeps of several: l1/l2's range
    plots.scatter_by_nu(ax, x, y, nus, series="evaluated network (colour: ν)", objective=objective)
    for status, style, label in (("running", "--", "still training (last evaluated epoch)"),
                                  ("stopped", ":", "stopped before the end (last evaluated epoch)")):
        rows = (df["status"].astype(str) == status).to_numpy() & np.isfinite(x + y)
        if rows.any():
            ax.scatter(x[rows], y[rows], s=150, facecolors="none", edgecolors="0.3", linestyles=style, zorder=2,
                       label=label)
    plots.add_nu_colorbar(fig, ax, nus, objective)
    if colorbar:
        return []
    rows = range(len(df)) if labelled is None else labelled
    return [(x[i], y[i], str(df["name"].iat[i]), "0.2") for i in rows if np.isfinite(x[i] + y[i])]


def cost_axis(df: pd.DataFrame, column: str) -> tuple[np.ndarray, str, float]:
    """x values, axis label and scale of a cost: parameters in M (size, else the count), FLOPs in M."""
    if column == "parameters_m":
        x = df["size_m"].to_numpy(float).copy()
        counted = df["parameters"].to_numpy(float) / 1e6
        x[~np.isfinite(x)] = counted[~np.isfinite(x)]
        return x, tables.label("parameters_m"), 1.0
    if column == "flops":
        return df["flops"].to_numpy(float) / 1e6, "FLOPs (M multiply-adds per image)", 1e6
    return df[column].to_numpy(float), tables.label(column), 1.0


def _axis_scale(ax: Any, values: np.ndarray, axis: str) -> str:
    if plots.spans_decades(values):
        plots.log_scale(ax, axis)
        return ", log scale"
    return ""


def error_vs_figure(df: pd.DataFrame, column: str, size: tuple[float, float], colorbar: bool,
                    baselines: list[tuple[str, float, float]], ensembles: list[dict[str, Any]],
                    labelled: list[int] | None = None, runs: pd.DataFrame | None = None) -> Any | None:
    """Test error against one cost, the front drawn, published results and ensembles as labelled points.

    ``labelled``: the rows to name (default labelled_rows), the same in every plot so that a name
    found on one plot is found on the others; all of them are written. ``df`` may be summary_table's
    (a row per genotype): the means are drawn with ± std error bars, the front is that of the means,
    its points that are not separable are ringed, and ``runs`` (the per-run table) are small dots.
    """
    x, xlabel, unit = cost_axis(df, column)
    y = 100.0 - df["test_acc"].to_numpy(float)
    if not np.isfinite(x + y).any():
        return None
    # the front is over the finished runs, as the hypervolume (a run still training is drawn, on no front)
    y_front = np.where(~df["status"].astype(str).isin(UNFINISHED).to_numpy(), y, np.nan)
    fig, ax = plt.subplots(figsize=size)
    summary = "test_error_std" in df.columns
    if summary:
        std = df["test_error_std"].to_numpy(float)
        ax.errorbar(x, y, yerr=np.where(np.isfinite(std), std, 0.0), fmt="none", ecolor="0.25", elinewidth=1,
                    capsize=3, zorder=2, label="mean ± std over the seeds (sample std)")
        if runs is not None:
            rx = cost_axis(runs, column)[0]
            ax.scatter(rx, 100.0 - runs["test_acc"].to_numpy(float), s=10, color="0.45", alpha=0.7, zorder=2,
                       linewidths=0, label="single runs (one per seed)")
        front, close = tables.overlapping_neighbours(x, y_front, std)
        if len(front) > 1:
            pts = sorted((float(x[i]), float(y[i])) for i in front)
            ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", color="0.35", linestyle="--",
                    linewidth=1.2, zorder=1, label="Pareto front of the means")
        if close:
            ax.scatter(x[close], y[close], s=190, facecolors="none", edgecolors="darkorange", linewidths=1.6,
                       zorder=4, label="on the front, not separable (interval overlaps a neighbour's)")
    else:
        plots.draw_front(ax, x, y_front, "Pareto front of these networks")
    names = _scatter_rows(ax, fig, df, x, y, colorbar, labelled=labelled_rows(df) if labelled is None else labelled)
    baselines = [(text, bx / unit, by) for text, bx, by in baselines]
    labels = []
    for k, (text, bx, by) in enumerate(baselines):
        ax.scatter(bx, by, marker="s", s=55, color="tab:red", edgecolors="black", zorder=4,
                   label="published (CIFAR-10)" if k == 0 else None)
        labels.append((bx, by, text, "tab:red"))
    member_x = cost_axis(runs, column)[0] if summary and runs is not None else x  # members: rows of the runs
    for k, ens in enumerate(ensembles):
        values = [member_x[i] for i in ens["members"] if i is not None]
        if len(values) != len(ens["members"]) or not values or not np.isfinite(values).all():
            print(f"note: {ens['label']} left out of the plot against {xlabel}: not all its models are in the table")
            continue
        ex = float(sum(values))  # the models run one after another: their costs add up
        ax.scatter(ex, ens["test_error"], marker="*", s=200, color="gold", edgecolors="black", zorder=5,
                   label="ensemble (cost = sum of its models)" if k == 0 else None)
        labels.append((ex, ens["test_error"], ens["label"], "darkgoldenrod"))
    ax.set_xlabel(xlabel + _axis_scale(ax, np.concatenate([x, [b[1] for b in baselines]]), "x"))
    ax.set_ylabel(tables.label("test_error") + _axis_scale(ax, y, "y"))
    count = int(np.isfinite(x + y).sum())
    what = plots.plural(count, "network")
    if summary:
        what += f", {plots.plural(int(df['n'].sum()), 'run')} (mean ± std)"
    ax.set_title(f"Test error against {xlabel.split(' (')[0]}: {what}")
    ax.grid(True, which="both", alpha=0.3)
    plots.outside_legend_below(ax)
    plots.final_layout(fig)
    plots.place_labels(ax, labels + names, required=len(labels) + len(names))
    return fig


def plot_error_vs(df: pd.DataFrame, column: str, path: Path, size: tuple[float, float], colorbar: bool,
                  baselines: list[tuple[str, float, float]], ensembles: list[dict[str, Any]],
                  labelled: list[int] | None = None, runs: pd.DataFrame | None = None) -> Path | None:
    fig = error_vs_figure(df, column, size, colorbar, baselines, ensembles, labelled, runs)
    return None if fig is None else plots.save_figure(fig, path)


def pair_figure(df: pd.DataFrame, x: np.ndarray, y: np.ndarray, xlabel: str, ylabel: str, title: str,
                size: tuple[float, float], colorbar: bool, labelled: list[int] | None = None) -> Any | None:
    """One quantity against another, a point per run coloured by nu, with Spearman's rho when defined."""
    ok = np.isfinite(x + y)
    if not ok.any():
        return None
    fig, ax = plt.subplots(figsize=size)
    labels = _scatter_rows(ax, fig, df, x, y, colorbar, labelled=labelled_rows(df) if labelled is None else labelled)
    xs, ys = _axis_scale(ax, x, "x"), _axis_scale(ax, y, "y")
    ax.set_xlabel(xlabel + xs)
    ax.set_ylabel(ylabel + ys)
    ax.grid(True, which="both", alpha=0.3)
    if ok.sum() >= 3 and len(set(x[ok])) > 1 and len(set(y[ok])) > 1:  # rho is undefined for a constant
        rho = pd.Series(x[ok]).corr(pd.Series(y[ok]), method="spearman")
        title += f"\nSpearman ρ = {rho:+.2f} (n = {int(ok.sum())})"  # in the title: a box inside could hide a point
    ax.set_title(title)
    plots.outside_legend_below(ax)
    plots.final_layout(fig)
    plots.place_labels(ax, labels, required=len(labels))
    return fig


def search_ce_label(df: pd.DataFrame) -> str:
    """The x label of the search-against-training loss plot: the CE each search's front has."""
    objectives = tables.table_objectives(df)
    if len(objectives) > 1:
        return plots.CE_LABEL + " on its front (training CE for l1/l2, held-out CE for a cost)"
    if objectives and front_ce_key(objectives[0]) == "valid_loss":
        return "search " + plots.front_ce_label(objectives[0])
    return tables.label("search_criterion_loss") + " (last search epoch)"


def plot_pair(df: pd.DataFrame, x: np.ndarray, y: np.ndarray, xlabel: str, ylabel: str, title: str, path: Path,
              size: tuple[float, float], colorbar: bool, labelled: list[int] | None = None) -> Path | None:
    fig = pair_figure(df, x, y, xlabel, ylabel, title, size, colorbar, labelled)
    return None if fig is None else plots.save_figure(fig, path)


def weight_vs_acc_figure(df: pd.DataFrame, size: tuple[float, float]) -> Any | None:
    """Valid and test accuracy of the evaluated networks against nu; the title counts those drawn when some
    have no nu (published genotypes), which have no place on the axis and would otherwise vanish unsaid."""
    nus = df["nu"].tolist()
    known = int(df["nu"].notna().sum())
    if not known:
        return None
    fig, ax = plt.subplots(figsize=size)
    pos, _ = plots.nu_positions(nus)
    for column, series, marker, hollow in (("valid_acc", "valid", "s", True), ("test_acc", "test", "o", False)):
        if df[column].notna().any():
            plots.scatter_by_nu(ax, pos, df[column].to_numpy(float), nus, marker=marker, hollow=hollow,
                                series=series, objective=tables.table_objective(df))
    plots.set_nu_axis(ax, nus)
    ax.set_ylabel("accuracy after training (%)")
    ax.set_title("Accuracy of the evaluated networks against ν" + (
        f"\n{known} of {len(df)} runs: ν unknown for the others" if known < len(df) else ""))
    ax.grid(True, which="both", alpha=0.3)
    plots.outside_legend_below(ax)
    return fig


def plot_weight_vs_acc(df: pd.DataFrame, path: Path, size: tuple[float, float]) -> Path | None:
    fig = weight_vs_acc_figure(df, size)
    return None if fig is None else plots.save_figure(fig, path)


def make_plots(df: pd.DataFrame, stem: Path, size: tuple[float, float], colorbar: bool,
               baselines: dict[str, list[tuple[str, float, float]]], ensembles: list[dict[str, Any]],
               summary: pd.DataFrame | None = None) -> list[Path]:
    """The plots of the module doc; with a ``summary`` (several seeds), the error-against-cost ones show its means."""
    out: list[Path | None] = []
    labelled = labelled_rows(df)
    points, runs = (df, None) if summary is None else (summary, df)
    for column, suffix in (("parameters_m", "params"), ("flops", "flops"), ("latency_cpu_ms", "latency_cpu"),
                           ("latency_gpu_ms", "latency_gpu")):
        out.append(plot_error_vs(points, column, Path(f"{stem}_error_vs_{suffix}.png"), size, colorbar,
                                 baselines.get(column, []), ensembles,
                                 labelled if summary is None else labelled_rows(summary), runs))
    valid = "valid" if df["valid_loss"].notna().any() else "test"
    out.append(plot_pair(df, tables.search_front_ce(df), df[f"{valid}_loss"].to_numpy(float),
                         search_ce_label(df), tables.label(f"{valid}_loss"),
                         f"Search loss against {valid} loss after training", Path(f"{stem}_search_vs_valid_loss.png"),
                         size, colorbar, labelled))
    out.append(plot_pair(df, 100.0 - df["search_valid_acc"].to_numpy(float), 100.0 - df[f"{valid}_acc"].to_numpy(float),
                         tables.label("search_valid_error"), tables.label(f"{valid}_error"),
                         f"Search error against {valid} error after training",
                         Path(f"{stem}_search_vs_valid_error.png"), size, colorbar, labelled))
    out.append(plot_weight_vs_acc(df, Path(f"{stem}_weight_vs_acc.png"), size))
    out.append(plots.plot_correlation(df, CORRELATED, Path(f"{stem}_correlation_matrix.png"),
                                      size=(max(size[0], 6.5), max(size[1], 5.5)), label=tables.label))
    return [p for p in out if p is not None]


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Build (or read) the table, write it and the plots; returns {"table", "csv", "plots", "hypervolume"}."""
    size = tables.parse_inches(args.inches)
    tables.check_replot_flags(args)
    output = tables.output_file(tables.table_output(args.output, args.data, "loss_table.csv"), ".csv")
    replot_in_place = bool(args.data) and Path(args.data).resolve() == output.resolve()  # no table written then
    inputs = [*(args.train or []), *args.search, *args.ensemble, *([args.data] if args.data else [])]

    def check_outputs() -> tuple[Path, Path | None]:
        """-o (its summary, and its profile record where networks are profiled), checked once the inputs are read
        (a wrong input is named as such, not blamed on -o) and before any network is profiled or file written;
        returns the summary's path and the record's (None with -d)."""
        check_output(output, "-o", [*(args.train or []), *args.search, *args.ensemble,
                                    *([] if replot_in_place or not args.data else [args.data])])
        summary = check_output(output.with_name(output.stem + "_summary.csv"), "-o (its summary)", inputs)
        record = None if args.data else check_output(tables.profile_record_path(output), "-o (its profile record)",
                                                     inputs)
        return summary, record

    limits = tables.budget_limits(args, profiled=bool(args.train))
    loaded_ensembles = load_ensembles(args.ensemble)
    measured, profiled = False, []
    if args.train:
        runs = []
        for folder in eval_folders(args.train):
            # a training its batch recorded failed stopped for good (a NaN loss, a crash): no network still training
            failed = None if (folder / "result.json").is_file() else recorded_failure(
                folder.parent / "batch.json", "entries", folder.name)
            if failed is not None:
                print(f"note: {folder} left out: its batch recorded the training as failed ({failed}); "
                      f"{resume_command('batch_train.py', folder.parent)} retries it")
            elif (run := read_eval_run(folder)) is not None:
                if run["status"] == "stopped":
                    print(f"note: {folder} stopped before it finished (no process holds its lock: killed, crashed or "
                          f"interrupted); the table has its last evaluated epoch; {training_resume_command(folder)} "
                          "continues it")
                runs.append(run)
        if not runs:
            raise ValueError("no evaluation run has test results yet")
        searches = search_index(args.search)
        summary_csv, record = check_outputs()
        df = train_table(runs, searches, args, profiled)
        if args.search and (note := unjoined_note(df)):
            print(note)
        measured = not args.no_latency
    else:
        df = _typed(tables.read_table(args.data, needs=(("test_acc",), ("size_m", "parameters")),
                                      what="table of trained networks (this tool's, or the thesis's loss table)"))
        summary_csv, record = check_outputs()
        if args.search:  # accepted, as the original tool did, but a join that never happened must not look done
            print("note: -s is not read with -d: the table's search columns are re-plotted as they are (join runs "
                  "with their searches with -t ... -s ...)")
    summary = summary_table(df)
    several = repeated(summary)
    pick, pick_line = None, None
    if limits:  # before anything is written: a limit on a column the table lacks is refused
        per_genotype = summary if several else df
        error = (per_genotype["test_error_mean"] if several else 100.0 - per_genotype["test_acc"]).to_numpy(float)
        pick, pick_line = budget_pick(per_genotype, limits, error,
                                      "mean test error {:.4g} %" if several else "test error {:.4g} %")
    ensembles = read_ensembles(loaded_ensembles, df)
    if not replot_in_place:
        tables.write_table(df, output)
    baselines: dict[str, list[tuple[str, float, float]]] = {}
    published: list[tuple[Any, list[str]]] = []  # the baselines' profiler, for the profile record
    if baselines_apply(df, args.baselines):
        costs, baseline_profiler = baseline_costs(args, with_latency=measured)
        published = [(baseline_profiler, [BASELINE_ROW.format(code) for _, code, _, _ in BASELINES])]
        baselines["parameters_m"] = [(text, size_m, error) for text, _, size_m, error in BASELINES]
        for column in ("flops", "latency_cpu_ms", "latency_gpu_ms"):
            baselines[column] = [(text, float(costs[code][column]), error) for text, code, _, error in BASELINES
                                 if costs[code][column] is not None]
    tables.write_table(summary, summary_csv)
    if record is not None:  # a re-plot (-d) profiles no row: no record, and an earlier one is left as it is
        dirs = df["eval_dir"].astype(str)
        tables.write_profile_record(output, [*((profiler, df.loc[dirs.isin(folders), "name"].tolist())
                                               for profiler, folders in profiled), *published])
    print(tables.format_table(df, PRINTED))
    if several:
        print("per genotype (test error %: mean, sample std, and the best of n, which is no estimate):")
        print(tables.format_table(summary.rename(columns={"test_error_best_of_n": "best of n"}),
                                  [c.replace("test_error_best_of_n", "best of n") for c in SUMMARY_PRINTED]))
        if pooled := pooling_note(df):
            print(pooled)
    if mixed := mixed_datasets_note(df):
        print(mixed)
    # with several seeds a genotype is its mean: the front of single runs would be one of lucky seeds
    points = summary if several else df
    # the x of the error-against-parameters plot and its front: size_m, else the profiled count (a table that
    # has only a parameters column, as the original tools' could, drew a front and printed no hypervolume)
    # over the finished runs: a run still training, or stopped, has only its last evaluated epoch
    finished = ~points["status"].astype(str).isin(UNFINISHED).to_numpy()
    hv = tables.front_hypervolume(cost_axis(points, "parameters_m")[0][finished],
                                  (100.0 - points["test_acc"].to_numpy(float))[finished])
    print(tables.hypervolume_text("the evaluation front (parameters M, "
                                  f"{'mean ' if several else ''}test error %)", hv, ("M params", "error")))
    if left_out := unfinished_note(df):
        print(left_out)
    search_hv = None
    objectives = tables.table_objectives(df)
    if len(objectives) > 1:
        print(f"the searches of these networks come from sweeps of {', '.join(objectives)}: their R are in "
              "different units, so they have no joint hypervolume")
    elif df["search_reg_loss"].notna().any():
        search_hv = tables.front_hypervolume(df["search_reg_loss"].to_numpy(float), tables.search_front_ce(df))
        ce = front_ce_name(objectives[0] if objectives else None)
        print(tables.hypervolume_text(f"the searches of these networks (penalty R, {ce})", search_hv, ("R", "CE"),
                                      cost.unit_of(objectives[0] if objectives else None)))
    for ens in ensembles:
        print(f"{ens['label']}: test error {ens['test_error']:.4g}%")
    if pick_line is not None:
        print(pick_line)
    plots = make_plots(df, output.with_suffix(""), size, args.colorbar, baselines, ensembles,
                       summary if several else None)
    print(f"table: {output}" + (" (re-plotted in place, not rewritten)" if replot_in_place else ""))
    print(f"summary per genotype: {summary_csv}")
    if record is not None:
        print(f"profile record: {record}")
    for p in plots:
        print(f"plot: {p}")
    return {"table": df, "csv": output, "plots": plots, "summary": summary, "summary_csv": summary_csv, "pick": pick,
            "profile": record,
            "hypervolume": None if hv is None else {"value": hv[0], "reference": list(hv[1])},
            "search_hypervolume": None if search_hv is None else {"value": search_hv[0],
                                                                  "reference": list(search_hv[1])}}


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
