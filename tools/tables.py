"""Tables shared by the tools: column names, CSV in and out, fronts and their hypervolume, sweep loading,
and the flags of the tools that profile networks. Their plots are drawn with plots.py (the one plotting
home); this module imports from it only the axis labels, and plots.py imports nothing from here.

Our tables use the snake_case names of ``COLUMNS``; the original tools wrote the same quantities
under other names, which differ even between their own tables ("Weight"/"weight", "Params"/"Size",
"Search crit loss"/"search_criterion_loss"/"Search criterion loss", ...). ``read_table`` maps every
known spelling to ours, so ``-d CSV`` re-plots tables of either origin.

Units: accuracies and errors in %, sizes in millions of parameters (``size_m``), ``parameters`` and
``flops`` (multiply-adds, as thop counts them) as plain counts, latencies in milliseconds.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from pareto import (
    as_point,
    default_reference,
    finite_positions,
    format_weight_name,
    front_ce,
    front_ce_key,
    front_indices,
    hypervolume_2d,
    non_dominated,
    sweep_name,
)
from plots import CE_LABEL, NU_LABEL, penalty_label, plural
from utils import (
    UserError,
    rebase_run_dirs,
    resume_command,
    run_folder_kind,
    run_is_live,
    run_state,
    sweep_state_problem,
    threads_error,
    write_atomic,
    write_json_atomic,
)

__all__ = [
    "BUDGETS",
    "COLUMNS",
    "add_budget_args",
    "budget_limits",
    "pick_within_budget",
    "canonical_name",
    "add_profiling_args",
    "check_replot_flags",
    "format_table",
    "front_column",
    "front_hypervolume",
    "gpu_device",
    "hypervolume_text",
    "label",
    "load_sweep",
    "make_profiler",
    "network_setting",
    "normalise_columns",
    "nu_from_name",
    "overlapping_neighbours",
    "output_file",
    "parse_inches",
    "profile_record",
    "profile_record_path",
    "profile_settings_text",
    "read_table",
    "run_folder",
    "search_front_ce",
    "table_objective",
    "table_objectives",
    "write_profile_record",
    "write_table",
]

# Our column -> (axis label with its unit, the names the original tools used for it).
COLUMNS: MappingProxyType[str, tuple[str, tuple[str, ...]]] = MappingProxyType({
    "name": ("model", ("Model name", "model_name", "model", "arch")),
    "nu": (NU_LABEL, ("Weight", "weight")),
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
    "search_criterion_loss": (CE_LABEL, ("Search crit loss", "Search criterion loss")),
    "search_valid_loss": ("search held-out cross-entropy", ()),
    "search_reg_loss": (penalty_label(), ("Search reg loss", "Search regularization loss")),
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


def differing_settings(recorded: Sequence[Mapping[str, Any]]) -> list[str]:
    """The settings in which runs differ, each as "name A and B" (values as JSON, sorted), in first-seen order: what
    makes a pool of runs no seeds of one setup. A setting a run does not record is not compared (an older args.json)."""
    values: dict[str, set[str]] = {}
    for settings in recorded:
        for key, value in settings.items():
            values.setdefault(key, set()).add(json.dumps(value, sort_keys=True))
    return [f"{key} {' and '.join(sorted(seen))}" for key, seen in values.items() if len(seen) > 1]


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


def _run_file_advice(path: Path) -> tuple[str, str] | None:
    """What a run's JSON record or log given to -d is, and which flag reads it (pandas read them as tables of
    one column "{" or failed on their commas, and said so in its own words)."""
    with open(path, "rb") as f:
        head = f.read(256).lstrip()
    if head[:1] in (b"{", b"["):
        if path.name == "ensemble.json":
            return "ensemble.py's result", "analyse_train_logs.py draws it with -e, beside -t or -d"
        if path.name == "sweep.json":
            return ("a sweep's record", "its folder is read with -l (analyse_search_logs.py), or joined with -s "
                    "(analyse_train_logs.py); -d takes a CSV table these tools wrote")
        return "a JSON file", "-d takes a CSV table these tools (or the original ones) wrote"
    if path.name == "log.txt":
        return ("a run's log", "a sweep's log.txt is read with -l (analyse_search_logs.py), an eval run's with -t "
                "(analyse_train_logs.py); -d takes a CSV table these tools wrote")
    return None


def read_csv_exact(path: str | Path) -> pd.DataFrame:
    """pd.read_csv whose floats equal those write_table wrote, bit for bit: pandas before 3.1 parses the last digit
    loosely (1.6400000000000001 comes back 1.64) unless asked for its round-trip parser; 3.1 made that the only
    parser and deprecated the argument."""
    version = re.match(r"(\d+)\.(\d+)", pd.__version__)
    if version and (int(version[1]), int(version[2])) < (3, 1):
        return pd.read_csv(path, float_precision="round_trip")
    return pd.read_csv(path)


def read_table(path: str | Path, needs: Sequence[Sequence[str]] = (), what: str = "table") -> pd.DataFrame:
    """A table these tools or the original ones wrote, with our column names and numeric columns as floats.

    ``needs``: for each group of alternatives (our names), one must hold a number, else the file is refused as no
    ``what`` (another CSV of the project, batch_data.csv say, shares a column name or two but not what is plotted).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a {what}: a sweep folder is read with -l (analyse_search_logs.py), "
                         f"a batch-train folder with -t (analyse_train_logs.py); -d takes a table they wrote")
    if not path.is_file():
        raise FileNotFoundError(f"no such table: {path}")
    other = _run_file_advice(path)
    if other is not None:
        raise ValueError(f"{path} is {other[0]}, not a {what}: {other[1]}")
    try:
        raw = read_csv_exact(path)
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
    if df.empty:
        raise ValueError(f"{path} has no rows")
    for group in needs:
        if not any(c in df.columns and df[c].notna().any() for c in group):
            names = " or ".join(f"{c} ({COLUMNS[c][0]})" for c in group)
            raise ValueError(f"{path} has no {names} column with a number in it: it is not a {what}")
    return df


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """CSV with full float precision (values read back equal those written), written atomically: a table that
    could not be written whole (a full disk) leaves the file it replaces as it was."""
    path = Path(path)
    # newline="": pandas ends the lines itself, as when it opens a path
    write_atomic(path, lambda handle: df.to_csv(handle, index=False), "w", newline="")
    return path


def format_table(df: pd.DataFrame, columns: Sequence[str] | None = None, na_rep: str = "NaN") -> str:
    """The table as text for the terminal: every row and column, numbers shortened, a missing value as ``na_rep``."""
    view = df[[c for c in (columns or df.columns) if c in df.columns]]
    # pandas writes na_rep for a None only in a column that holds a value: a column of None alone (objective
    # without -s) printed "None" beside the "NaN" of the numbers
    view = view.assign(**{c: view[c].where(view[c].notna(), na_rep) for c in view.columns if view[c].dtype == object})
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                           "display.float_format", lambda v: f"{v:.6g}"):
        return view.to_string(index=False, na_rep=na_rep)


def nu_from_name(name: str) -> float | None:
    """The nu a sweep name encodes ("l2_loss_429e05" -> 0.00429, "L1_loss_2e01" -> 0.2, "l2_loss_0" -> 0), else None."""
    match = re.match(r"^(?:l[12]|params|flops|latency)_loss_(?:(\d+)e(\d+)|(0))(?:_|$)", str(name),
                     flags=re.IGNORECASE)
    if not match:
        return None
    if match.group(3) is not None:
        return 0.0
    return float(f"{match.group(1)}e-{match.group(2)}")  # the decimal it is: 3 * 10.0 ** -1 is 0.30000000000000004


def label(column: str, objective: str | None = None) -> str:
    """Axis label with its unit."""
    if column == "search_reg_loss":
        return penalty_label(objective)
    if column in _DERIVED_LABELS:
        return _DERIVED_LABELS[column]
    return COLUMNS[column][0] if column in COLUMNS else column


def table_objectives(df: pd.DataFrame) -> list[str]:
    """The sweep objectives a table's rows record, in first-seen order (none for the original tools' tables)."""
    if "objective" not in df:
        return []
    return list(dict.fromkeys(str(o) for o in df["objective"].dropna()))


def table_objective(df: pd.DataFrame) -> str | None:
    """The one objective a table records (None for a table of the original tools, l2 there, or a mixed one)."""
    objectives = table_objectives(df)
    return objectives[0] if len(objectives) == 1 else None


def front_column(objective: str | None) -> str:
    """The table column of the CE on ``objective``'s front: search_valid_loss for a cost (pareto.front_ce_key)."""
    return f"search_{front_ce_key(objective)}"


def search_front_ce(df: pd.DataFrame) -> np.ndarray:
    """Each row's search cross-entropy as its own sweep's front has it (a table may join several sweeps)."""
    objectives = df["objective"] if "objective" in df else pd.Series([None] * len(df), index=df.index)
    return np.array([float(df[front_column(o if isinstance(o, str) else None)].iat[i])
                     for i, o in enumerate(objectives)], dtype=float)


# --------------------------------------------------------------------------- fronts


def front_hypervolume(
    xs: Sequence[Any], ys: Sequence[Any], reference: Sequence[float] | None = None
) -> tuple[float, tuple[float, float]] | None:
    """2-D hypervolume of the front of (x, y) and its reference point (default: maxima + 10 %)."""
    valid = finite_positions(xs, ys)
    if not valid:
        return None
    points = [(float(xs[i]), float(ys[i])) for i in valid]
    ref = tuple(float(r) for r in reference) if reference is not None else default_reference(points)
    return hypervolume_2d(points, ref), (ref[0], ref[1])


def hypervolume_text(what: str, result: tuple[float, tuple[float, float]] | None, names: tuple[str, str],
                     x_unit: str = "") -> str:
    """A hypervolume with the reference point it was taken at (``x_unit`` after its x: a cost's " ms"): without it
    the number cannot be compared. The value is short; the point has 6 digits, as analyse_search_logs.py
    --reference takes it again (at a point rounded to 3, another table's hypervolume is another point's)."""
    if result is None:
        return f"hypervolume of {what}: n/a (no complete rows)"
    value, (rx, ry) = result
    return (f"hypervolume of {what}: {value:.4g} (reference point {names[0]} = {rx:.6g}{x_unit}, "
            f"{names[1]} = {ry:.6g})")


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


# --------------------------------------------------------------------------- budgets

# flag -> (the table column it limits, the column's counts per flag unit, the flag's unit)
BUDGETS: MappingProxyType[str, tuple[str, float, str]] = MappingProxyType({
    "max_params": ("parameters", 1e6, "M parameters"),
    "max_flops": ("flops", 1e6, "M FLOPs"),
    "max_latency_cpu": ("latency_cpu_ms", 1.0, "ms CPU latency (batch 1)"),
    "max_latency_gpu": ("latency_gpu_ms", 1.0, "ms GPU latency (batch 8)"),
})


def add_budget_args(parser: Any, best: str) -> None:
    """The budget flags: the user's limits, and the network that fits them with the ``best`` score."""
    g = parser.add_argument_group(f"budget (name the network with the {best} among those within every limit given)")
    for flag, (_, _, unit) in BUDGETS.items():
        g.add_argument(f"--{flag}", type=float, default=None, metavar=unit.split()[0].upper(),
                       help=f"at most this many {unit} (default: no limit)")


def budget_limits(args: Any, profiled: bool) -> dict[str, tuple[float, str]]:
    """{column: (the limit in the column's units, the limit as the user wrote it)} of the budget flags given,
    checked before any work: ``profiled`` says the tool will measure the networks with the profiling flags,
    and a latency it will not measure (--no_latency, a GPU latency without a GPU) is refused."""
    limits = {}
    for flag, (column, scale, unit) in BUDGETS.items():
        value = getattr(args, flag, None)
        if value is None:
            continue
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"--{flag} must be a number > 0, got {value}")
        if profiled and column.startswith("latency") and getattr(args, "no_latency", False):
            raise ValueError(f"--{flag} needs the latency measured: drop --no_latency")
        if profiled and column == "latency_gpu_ms" and gpu_device(args) is None:
            raise ValueError(f"--{flag} needs a GPU to measure on (--device {args.device} gives none)")
        # the limit as written, scaled exactly: 2.01 * 1e6 is 2009999.9999999998 in floats, and a network of exactly
        # 2010000 parameters was "none fits; the nearest is ... (2.01 M parameters)"
        limits[column] = (float(Decimal(repr(value)) * Decimal(repr(scale))), f"<= {value:g} {unit}")
    return limits


def _cost_text(row: pd.Series) -> str:
    parts = []
    for column, scale, unit in BUDGETS.values():
        value = row.get(column)
        if value is not None and np.isfinite(float(value)):
            parts.append(f"{float(value) / scale:.4g} {unit.split(' (')[0]}")
    return ", ".join(parts)


def pick_within_budget(df: pd.DataFrame, limits: dict[str, tuple[float, str]], score: Sequence[Any],
                       score_text: str) -> tuple[int | None, str]:
    """The row within every limit with the lowest finite ``score`` (None if no row fits) and a line that says
    which it is (``score_text``, a format of its score) and how many fit, or, when none does, the row nearest
    to fitting; of rows tied on the score, the cheapest in the limited columns. A limit on a column the table lacks
    (a table read with -d) is a ValueError."""
    filled = []  # (the column's values, a missing one as infinitely costly; its limit)
    for column, (limit, _) in limits.items():
        values = pd.to_numeric(df[column], errors="coerce").to_numpy(float) if column in df else np.array([np.nan])
        if not np.isfinite(values).any():
            flag = next(f for f, b in BUDGETS.items() if b[0] == column)
            raise ValueError(f"--{flag}: the table has no {column} column with values")
        filled.append((np.nan_to_num(values, nan=np.inf), limit))
    score = np.asarray(score, dtype=float)
    fits = np.isfinite(score) & np.all([values <= limit for values, limit in filled], axis=0)
    budget = ", ".join(text for _, text in limits.values())
    candidates = np.flatnonzero(fits)
    if candidates.size == 0:
        near = int(np.argmin(np.max([values / limit for values, limit in filled], axis=0)))
        return None, (f"budget {budget}: none of the {len(df)} networks fits; the nearest is "
                      f"{df['name'].iat[near]} ({_cost_text(df.iloc[near])})")
    # of networks tied on the score, the one cheapest in the limited costs (in flag order), not the first row: it was
    # a network as good as another that fits with fewer parameters, which the front passes over as dominated
    tied = candidates[score[candidates] == score[candidates].min()]
    best = int(min(tied, key=lambda i: (*(float(values[i]) for values, _ in filled), i)))
    return best, (f"budget {budget}: {candidates.size} of {len(df)} networks fit; the best is {df['name'].iat[best]} "
                  f"({score_text.format(score[best])}; {_cost_text(df.iloc[best])})")


# --------------------------------------------------------------------------- run folders


RUN_RECORDS = ("args.json", "sweep.json", "batch.json", "result.json")  # what makes a folder a run's


def run_folder(path: str | Path) -> Path:
    """The run folder a tool was pointed at: the folder itself, or the folder of its log.txt or of a file in it.

    A file in a folder that holds no run's records is refused: its folder is not what was named (``-t notes.txt``
    read every run beside the file, and reported another run's damaged result.json as if it were the one asked
    for)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if not path.is_file():
        return path
    if path.name == "log.txt" or any((path.parent / n).is_file() for n in RUN_RECORDS):
        return path.parent
    raise ValueError(f"{path} is a file, not a run folder or its log.txt")


def _read_json(path: Path) -> Any:
    from utils import read_json

    return read_json(path)


def _is_point(value: Any) -> bool:
    """Whether ``value`` is a point as the hypervolume reads one (pareto.as_point: two finite numbers)."""
    try:
        as_point(value)
    except ValueError:
        return False
    return True


def load_sweep(path: str | Path) -> dict[str, Any]:
    """A sweep folder (or one search folder) as {"folder", "objective", "searches", "pareto", ...}.

    ``searches`` are the finished searches, each with weight, reg_loss, criterion_loss, train_acc,
    valid_acc, model_size, genotype and run_dir; ``pareto`` the Pareto-optimal ones with their
    sweep names. A folder holding one search (train_search.py's result.json) is a sweep of one.
    ``image_size`` is the sweep's --image_size (None: the dataset's own); ``failed``, ``running`` and ``stopped``
    count its searches that failed, still run, or were left unfinished by a sweep no process holds any more (killed
    or interrupted: utils.run_is_live); ``between`` is "running" or "stopped" for a sweep not at its end with no
    search "running" (between two searches: still at work, or killed there), else None; nothing_finished says
    which, when none has finished. ``capped``: --max_searches ended the sweep while NISE still had gaps wider than
    --delta to search. ``hypervolume`` is the front's {"value", "reference"}: sweep.json's, else taken here at the
    sweep's own point, its finished searches' maxima + 10 % (as multiobjective.py records it).
    """
    folder = run_folder(path)
    if (folder / "sweep.json").is_file():
        state = _read_json(folder / "sweep.json")
        if problem := sweep_state_problem(state):
            raise ValueError(f"{folder / 'sweep.json'} is not a sweep state ({problem})")
        args = state["args"]
        searches = [dict(s) for s in state["searches"]
                    if s["status"] == "done" and s.get("reg_loss") is not None]  # (sweep_state_problem: each has one)
        failed = sum(s["status"] == "failed" for s in state["searches"])
        unfinished = sum(s["status"] == "running" for s in state["searches"])
        # "complete" false (a sweep.json of this version before its end) with none "running": killed or stopped
        # between two searches; an older sweep.json has no "complete", and reads as before
        short = state.get("complete") is False
        live = run_is_live(folder) if unfinished or short else None
        # "running" in a sweep.json nobody holds: the sweep was killed or stopped, and waits for its --resume
        stopped = unfinished if unfinished and live is False else 0
        running = unfinished - stopped
        # between two searches: at work if its process holds it, else stopped short of its end
        between = None if unfinished or not short else "running" if live else "stopped" if live is False else None
        # ended by --max_searches with gaps wider than --delta left (a sweep.json before this record: not said)
        capped = bool(state.get("complete") and state.get("capped"))
        objective = state.get("objective") or args.get("objective") or "l2"
        pareto = [dict(p) for p in state.get("pareto") or []]
        # the searches live inside the sweep folder: their recorded folders may be relative to where the sweep ran
        rebase_run_dirs([*searches, *pareto], folder)
        hypervolume = state.get("hypervolume")
        reference = hypervolume.get("reference") if isinstance(hypervolume, dict) else None
        # checked here, before a tool draws: the plot was written, then 'reference must be a pair of numbers'
        if hypervolume is not None and (not isinstance(hypervolume, dict) or (reference is not None
                                                                              and not _is_point(reference))):
            raise ValueError(f"{folder / 'sweep.json'} is not a sweep state (hypervolume's reference is not a pair "
                             f"of numbers R, CE: {reference!r})")
        if state.get("front_ce", "criterion_loss") != front_ce_key(objective):
            pareto, hypervolume = [], None  # an earlier version's cost front (on the training CE): derived below
        # `-o l2 cifar --set imagenet` searches the ImageNet variant (cli.is_imagenet) but records space "cifar":
        # its genotypes were profiled as NetworkCIFAR, not as the networks its searches and its cost front are
        space = "imagenet" if "imagenet" in (state.get("space"), args.get("set")) else "cifar"
        dataset = args.get("set")
        image_size = args.get("image_size")
        weight_decay = float(args.get("weight_decay", 0.0) or 0.0)
    elif (folder / "result.json").is_file():
        result = _read_json(folder / "result.json")
        if not isinstance(result, dict) or "reg_loss" not in result:
            raise ValueError(f"{folder} is neither a sweep folder (no sweep.json) nor a search folder")
        result["run_dir"] = str(folder)  # where it is now: result.json's may be relative to where the search ran
        searches, failed, running, stopped, between, capped = [result], 0, 0, 0, None, False
        objective = result.get("objective") or "l2"
        pareto, hypervolume = [], None
        dataset = result.get("dataset")
        space = "imagenet" if dataset == "imagenet" else "cifar"
        args_file = folder / "args.json"
        record = _read_json(args_file) if args_file.is_file() else {"args": {}}
        saved = record.get("args") if isinstance(record, dict) else None
        if not isinstance(saved, dict):  # a damaged args.json was an AttributeError traceback in every tool
            raise ValueError(f"{args_file} is not a search's args.json (no 'args' mapping)")
        weight_decay = float(saved.get("weight_decay", 0.0) or 0.0)
        image_size = saved.get("image_size")
    elif run_folder_kind(folder) == "search":  # a search without result.json has not ended: say which way
        state = run_state(folder, resume_command("train_search.py", folder))
        raise ValueError(f"{folder} is a search with no result yet ({state}): a search writes result.json as it ends")
    elif run_folder_kind(folder) == "sweep":  # killed between its args.json and its first sweep.json
        state = run_state(folder, resume_command("multiobjective.py", folder))
        raise ValueError(f"{folder} is a sweep that has not started a search yet ({state}): a sweep writes "
                         "sweep.json as its first search starts")
    else:
        raise ValueError(f"{folder} is not a sweep folder: it has no sweep.json (nor a search's result.json)")
    for s in searches:
        result_file = Path(str(s.get("run_dir"))) / "result.json"
        if front_ce(s, objective) is None and result_file.is_file():  # an earlier sweep.json kept no valid_loss
            record = _read_json(result_file)
            s[front_ce_key(objective)] = record.get(front_ce_key(objective)) if isinstance(record, dict) else None
        if "weight" not in s or "criterion_loss" not in s or front_ce(s, objective) is None:
            raise ValueError(f"a search in {folder} lacks its weight or losses: keys {sorted(s)}")
    if not pareto and searches:  # an older or unfinished sweep: derive the front and the names here
        idx = non_dominated([(s["reg_loss"], front_ce(s, objective)) for s in searches])
        optimal = sorted((searches[i] for i in idx), key=lambda s: s["reg_loss"])
        names = format_weight_name([s["weight"][0] for s in optimal])
        pareto = [dict(s, name=sweep_name(objective, s["weight"][0], n, weight_decay, dataset or ""))
                  for s, n in zip(optimal, names)]
    by_dir = {str(s.get("run_dir")): s for s in searches}
    for p in pareto:  # the pareto entries lack the accuracies: take them from their searches
        match = by_dir.get(str(p.get("run_dir"))) or next(
            (s for s in searches if s["weight"][0] == p["weight"][0]), {})
        for key in ("reg_loss", "criterion_loss", "valid_loss", "train_acc", "valid_acc", "model_size", "genotype"):
            if p.get(key) is None and match.get(key) is not None:
                p[key] = match[key]
        if p.get("reg_loss") is None or front_ce(p, objective) is None:  # a hand edit: a KeyError in every plot
            raise ValueError(f"{folder / 'sweep.json'} is not a sweep state (its front's {p.get('name', '?')} has no "
                             f"reg_loss or {front_ce_key(objective)}, nor a finished search to take it from)")
    if not (isinstance(hypervolume, dict) and hypervolume.get("reference") is not None):
        # none recorded (a sweep.json before it, a cost front derived above, a search folder): the sweep's own point,
        # as multiobjective.py takes it, over all its finished searches. The tools fell back to the front's maxima,
        # another point whenever a dominated search has a larger R or CE, so another hypervolume than --help says
        points = [(s["reg_loss"], front_ce(s, objective)) for s in searches]
        points = [points[i] for i in finite_positions(*zip(*points))] if points else []
        front = [(p["reg_loss"], front_ce(p, objective)) for p in pareto]
        front = [front[i] for i in finite_positions(*zip(*front))] if front else []
        if points:
            reference = default_reference(points)
            hypervolume = {"value": hypervolume_2d(front, reference), "reference": list(reference)}
    num_classes = None
    for s in searches:  # the first search whose result.json says; a damaged one (a list, bad JSON) is passed over:
        # sweep.json holds the front, and an AttributeError on it stopped every tool that reads the sweep
        result_file = Path(str(s.get("run_dir"))) / "result.json"
        try:
            record = _read_json(result_file) if result_file.is_file() else None
        except UserError:
            record = None
        if isinstance(record, dict) and isinstance(record.get("num_classes"), int):
            num_classes = record["num_classes"]
            break
    if num_classes is None:
        num_classes = {"cifar100": 100, "imagenet": 1000}.get(str(dataset), 10)
    return {"folder": folder, "objective": objective, "searches": searches, "pareto": pareto,
            "hypervolume": hypervolume, "space": space, "dataset": dataset, "num_classes": int(num_classes),
            "image_size": image_size, "failed": failed, "running": running, "stopped": stopped,
            "between": between, "capped": capped}


def nothing_finished(sweep: dict[str, Any]) -> str:
    """Why a sweep of ``load_sweep`` has no search to draw: "yet" of a sweep whose every search failed sent its
    user to wait for a sweep that had ended."""
    failed = sweep.get("failed", 0)
    if sweep.get("stopped") or sweep.get("between") == "stopped":
        unfinished = f" with {plural(sweep['stopped'], 'search')} unfinished" if sweep.get("stopped") else ""
        return (f"{sweep['folder']} has no finished search: it was stopped{unfinished}"
                + (f" ({failed} failed)" if failed else "")
                + f"; {resume_command('multiobjective.py', sweep['folder'])} continues it")
    if failed and not sweep.get("running"):
        return (f"{sweep['folder']} has no finished search: its {plural(failed, 'search')} failed (the errors are "
                "in its sweep.json and log.txt)")
    return f"{sweep['folder']} has no finished search yet" + (f" ({failed} failed)" if failed else "")


def unfinished_note(sweep: dict[str, Any], shown: str = "shown") -> str | None:
    """The stderr note of a tool that shows a sweep still at work, or one no process holds that stopped before its
    end (killed or interrupted): its front is that of the searches finished so far, not the sweep's; or one that
    --max_searches ended while NISE had gaps wider than --delta left (the log said so, the tools did not); or one
    that ended with searches failed, whose front lacks the points they would have given.
    ``shown``: what the tool does with them ("shown", "compared")."""
    folder, finished = sweep["folder"], plural(len(sweep["searches"]), "finished search")
    if sweep.get("running"):
        return f"note: {folder} has {plural(sweep['running'], 'search')} still running: {shown} are its {finished}"
    if sweep.get("stopped"):
        return (f"note: {folder} was stopped with {plural(sweep['stopped'], 'search')} unfinished "
                f"({resume_command('multiobjective.py', folder)} continues it): {shown} are its {finished}")
    if sweep.get("between") == "running":
        return f"note: {folder} is still at work, between two searches: {shown} are its {finished}"
    if sweep.get("between") == "stopped":
        return (f"note: {folder} was stopped between two searches, before its end "
                f"({resume_command('multiobjective.py', folder)} continues it): {shown} are its {finished}")
    if sweep.get("capped"):
        count = len(sweep["searches"]) + sweep.get("failed", 0)
        return (f"note: {folder} ended at --max_searches ({plural(count, 'search')}) with gaps of its front wider "
                f"than --delta left ({resume_command('multiobjective.py', folder)} --max_searches N, N > {count}, "
                f"goes on): {shown} are its {finished}")
    if sweep.get("failed"):  # its gaps stay open for good (NISE does not search a pair twice): a front with holes
        return (f"note: {folder} ended with {plural(sweep['failed'], 'search')} failed (the errors are in its "
                f"sweep.json and log.txt): {shown} are its {finished}")
    return None


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


PROFILING_FLAGS = ("no_latency", "min_run_time", "device", "gpu", "threads", "flops_rules")  # add_profiling_args


def check_replot_flags(args: Any, network_flags: Sequence[str] = ()) -> None:
    """With -d (a table re-plotted) nothing is profiled: a profiling flag typed there (or one of ``network_flags``,
    the tool's network size) was ignored without a word, the table's columns left as they were measured."""
    from cli import acts_only, typed_flags

    typed = typed_flags(args)
    if not getattr(args, "data", None) or typed is None:
        return
    given = [f"--{name}" for name in (*network_flags, *PROFILING_FLAGS) if name in typed]
    if given:
        raise UserError(acts_only(given, f"where networks are profiled; -d {args.data} re-plots a table as it was "
                                         f"measured: leave {'them' if len(given) > 1 else 'it'} out"))


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
    if args.threads is not None and not args.no_latency and (problem := threads_error(args.threads)):
        raise UserError(problem)
    return Profiler(latency=not args.no_latency, gpu=gpu_device(args) if not args.no_latency else None,
                    min_run_time=args.min_run_time, rules=args.flops_rules, threads=args.threads, **settings)


def profile_record_path(table: str | Path) -> Path:
    """``<stem>_profile.json`` beside a table: where the settings that measured its profiled columns are kept."""
    table = Path(table)
    return table.with_name(table.stem + "_profile.json")


def profile_settings_text(profiler: Any, skip: Sequence[str] = ()) -> str:
    """The profiler's settings as the tools print them ("init_channels 4, layers 3, ..."), without those that are
    None: with --no_latency (or no GPU) there are no CPU threads or GPU to name, and "cpu_threads None" read as a
    setting."""
    return ", ".join(f"{k} {v}" for k, v in profiler.settings().items() if k not in skip and v is not None)


def profile_record(table: str | Path, measured: Sequence[tuple[Any, Sequence[str]]]) -> dict[str, Any]:
    """What a table's parameters, FLOPs and latency columns depend on, for the file beside it: the CSV keeps the
    thesis's columns, so without this a latency column cannot be told from one timed on another CPU, thread count
    or torch. ``measured`` pairs each Profiler with the names of the table rows it measured (one per network)."""
    profilers = []
    for profiler, rows in measured:
        entry = {**profiler.settings(), "latency": profiler.latency}
        if profiler.latency:
            entry.update(min_run_time=profiler.min_run_time, busy_cpu=profiler.busy)
        profilers.append({**entry, "rows": [str(name) for name in rows]})
    return {"table": Path(table).name, "made": datetime.now().astimezone().isoformat(timespec="seconds"),
            "profilers": profilers}


def write_profile_record(table: str | Path, measured: Sequence[tuple[Any, Sequence[str]]]) -> Path:
    """Write profile_record beside ``table`` (atomically, as the table); returns its path."""
    path = profile_record_path(table)
    write_json_atomic(path, profile_record(table, measured))
    return path


MAX_INCHES = 50.0  # 6000 pixels at the figures' 120 dpi: -i 1920 1080 (pixels) had matplotlib allocate 24 GB


def parse_inches(values: Sequence[float] | None, default: tuple[float, float] = (7.0, 5.0)) -> tuple[float, float]:
    """-i W H (one value: a square) as a figure size in inches, checked before any work."""
    if not values:
        return default
    if len(values) > 2 or any(not (1 <= v <= MAX_INCHES) for v in values):
        raise ValueError(f"-i/--inches takes a width and a height in inches, each from 1 to {MAX_INCHES:g}, got "
                         f"{list(values)}")
    return (float(values[0]), float(values[-1]))


# The figure formats a plot's -o may end with (matplotlib writes each from the suffix): the original tools saved
# `-o front.pdf` as a PDF, where taking every other suffix for part of the name wrote front.pdf.png.
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def table_output(output: str | None, data: str | None, default: str) -> str:
    """An analysis tool's -o: the one given; else, re-plotting a table (-d), that table, so that its plots go beside
    it and no other file is written over (a copy to the default name replaced another analysis's table); else
    ``default``."""
    return output if output is not None else (data or default)


def output_file(value: str, suffix: str, flag: str = "-o", keep: Sequence[str] = ()) -> Path:
    """-o as a file with ``suffix`` (added where it has another, but for one of ``keep``), whose stem names the
    tables and plots beside it. A folder is refused: ``-o res/`` became res.csv and res_*.png beside res/,
    overwriting them."""
    if value.endswith(("/", os.sep)) or Path(value).is_dir():
        raise ValueError(f"{flag} {value} is a folder: give a file name (the tables and plots are named after it)")
    path = Path(value)
    return path if path.suffix.lower() in (suffix, *keep) else path.with_name(path.name + suffix)
