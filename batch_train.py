"""Train many genotypes one after another (train.py in-process), each with the largest batch that fits.

    python batch_train.py --archs l2_loss_2e01 DARTS_V2 --auxiliary --cutout
    python batch_train.py --archs logs/multi-search-cifar10-EXP-20260101-000000 --auxiliary --cutout  # a whole sweep
    python batch_train.py --archs sweep/genotypes.json other.json logs/search-EXP-20260101-000000 --epochs 600
    python batch_train.py --set digits --archs DARTS_V2 PC_DARTS_cifar --init_channels 4 --layers 3 --epochs 1
    python batch_train.py --resume logs/batch-train-EXP-20260101-120000           # continue a killed batch
    python batch_train.py --set digits --archs DARTS_V2 PC_DARTS_cifar --seeds 0 1 2  # each genotype once per seed

``--archs`` takes names, genotype JSON files, search run folders, and a sweep's genotypes.json or
sweep folder (every genotype in it); without it, every published genotype in genotypes.py is
trained in turn, which takes weeks at 600 epochs. A genotype with the same cells as one already
in this call is skipped. All of train.py's flags apply to every training. --set, --image_size and
--data default to those of the runs the --archs come from (a sweep's genotypes train on the
sweep's data; the log says what it took), else to train.py's; --init_channels and --layers to the
evaluation network a cost sweep (-o params/flops/latency) was costed on, so that the trained
networks are the ones its front's parameters, FLOPs and latency are of, else to 36 and 20.

Batch size, on a CUDA GPU: the largest batch (up to --max_batch_size) whose predicted memory stays
--margin_mb (500) under the free device memory (torch.cuda.mem_get_info), predicted by the memory
model of batch_size_predict.py (--batch_model; default batch_predict.json beside this script, or a
fit of its batch_data.csv) or, with --probe, by a line through the genotype's own measured peaks at
two small batch sizes. On out-of-memory the training restarts 5 smaller (--oom_step). Without a
memory model, on CPU or MPS, and (without --probe) on ImageNet or at an image side other than the
model's 32, --batch_size is used as given.

The folder ``logs/batch-train-<save>-<time>/`` holds args.json, log.txt (every line of every
training), batch.json (the plan and its progress, for --resume), genotypes.json (every genotype of
the plan, resolved when the batch started), trained.csv (arch, batch_size, model_size, test_acc,
test_top5, run_dir) and each training's own ``eval-<arch>-<time>/`` folder. <arch> is the name the batch
gives the genotype (``cellX`` and ``cellX_2`` for other cells that two files both call cellX), and the one its
result.json, ensemble.py and tools/analyse_train_logs.py call it by. A resumed batch trains the genotypes
its folder recorded, so it needs neither the --archs files nor the directory it was started from.
At the end a results table (every training, those done before a --resume too, with its status and
accuracies) is printed and logged.

``--seeds 0 1 2`` trains every genotype once per seed (all genotypes with the first seed, then with
the next, so that a killed batch already holds one run of each): each run has its own
``eval-<arch>-s<seed>-<time>/`` folder, trained.csv gets a seed column, and batch.json records the
seeds and each entry's seed. tools/analyse_train_logs.py then reports mean ± std and best of n per
genotype. Without --seeds, one training per genotype with --seed, as before.
"""

from __future__ import annotations

if __name__ == "__main__":  # before torch's imports: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import argparse
import copy
import gc
import math
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import torch

import batch_size_predict as bsp
import cli
import data as datalib
import train
from genotypes import (
    PUBLISHED,
    Genotype,
    genotype_from_dict,
    genotype_label,
    genotype_to_dict,
    is_genotype_string,
    read_genotype_mapping,
    resolve_genotype,
    resolve_genotype_source,
    same_cells,
    stale_front,
)
from tools.tables import format_table
from utils import (
    RunFailed,
    UserError,
    count_parameters,
    create_run_dir,
    data_recorded_in,
    get_device,
    get_logger,
    is_out_of_memory,
    load_run_args,
    lock_run_dir,
    logs_released,
    numbered,
    portable_args,
    read_json,
    rebase_run_dirs,
    resumable,
    resume_command,
    resume_folder_error,
    run_folder_kind,
    run_main,
    save_args,
    shell_command,
    threads_error,
    write_csv_atomic,
    write_json_atomic,
)

REPO = Path(__file__).resolve().parent
TRAINED_COLUMNS = ["arch", "batch_size", "model_size", "test_acc", "test_top5", "run_dir"]
SEEDED_COLUMNS = [*TRAINED_COLUMNS[:1], "seed", *TRAINED_COLUMNS[1:]]  # trained.csv of a batch with --seeds


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        description="Train many genotypes, each with the largest batch the GPU memory allows.",
        formatter_class=cli.HelpFormatter,
    )
    train.add_arguments(parser)
    parser._option_string_actions["--arch"].help = argparse.SUPPRESS  # each entry of --archs sets it (main refuses it)
    parser.set_defaults(save="EXP")
    parser._option_string_actions["--save"].help = "experiment name, in the batch folder's name"
    g = parser.add_argument_group("batch")
    g.add_argument("--archs", nargs="+", default=None, metavar="CODE",
                   help="genotypes: names, JSON files, run folders, a sweep's genotypes.json or folder "
                        "(default: every published genotype, a long run)")
    g.add_argument("--batch_model", default=None,
                   help="memory model JSON from batch_size_predict.py (default: batch_predict.json beside this "
                        "script, else a fit of its batch_data.csv, else --batch_size)")
    g.add_argument("--probe", action="store_true",
                   help="size each batch from the genotype's own peak memory at two small batch sizes (CUDA)")
    g.add_argument("--probe_batches", nargs=2, type=int, default=[16, 32], help="the two probe batch sizes")
    g.add_argument("--max_batch_size", type=int, default=1024, help="largest batch size to choose")
    g.add_argument("--margin_mb", type=float, default=500.0, help="memory to keep free (MB)")
    g.add_argument("--oom_step", type=int, default=5, help="how much smaller to retry after out-of-memory")
    g.add_argument("--seeds", nargs="+", type=int, default=None, metavar="SEED",
                   help="train every genotype once per seed, each run in its own eval-<arch>-s<seed>-* folder "
                        "(default: once, with --seed)")
    cli.from_run(parser, cli.DATA_SETTINGS, whose="that of the runs the --archs come from")
    cli.from_run(parser, train.NETWORK_FALLBACK, whose="the evaluation network of the cost sweep the --archs come from")
    return parser


# --------------------------------------------------------------------------- the genotypes


def expand_archs(specs: list[str]) -> list[dict[str, Any]]:
    """Each --archs entry as {spec, label, genotype, source}; a sweep's genotypes.json (or folder) gives all its
    entries.

    Every entry is resolved here, so a bad name fails before any training starts.
    """
    out: list[dict[str, Any]] = []
    for spec in specs:
        path = Path(spec)
        mapping_file = None
        if is_genotype_string(str(spec)):
            pass  # a pasted Genotype(...): no file to look at (its text may be too long for a file name)
        elif path.is_dir() and not any((path / f).is_file() for f in ("genotype.json", "result.json")):
            if (path / "genotypes.json").is_file():
                mapping_file = path / "genotypes.json"
        elif path.is_file() and path.suffix == ".json" and read_genotype_mapping(path) is not None:
            mapping_file = path
        if mapping_file is not None:
            names = list(read_genotype_mapping(mapping_file) or {})
            if stale := stale_front(mapping_file):
                print(f"note: {stale}: the genotypes trained may leave its front", flush=True)
            if not names:
                raise UserError(f"--archs {spec}: {mapping_file} holds no genotype (a sweep without a Pareto-optimal "
                                f"search writes it empty)")
            for name in names:
                entry_spec = f"{mapping_file}:{name}"
                resolved = resolve_genotype_source(entry_spec)
                out.append({"spec": entry_spec, "label": name, "genotype": resolved.genotype,
                            "source": resolved.source})
        else:
            resolved = resolve_genotype_source(spec)
            out.append({"spec": str(spec), "label": genotype_label(spec), "genotype": resolved.genotype,
                        "source": resolved.source})
    return out


def batch_genotypes(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """name -> genotype of the batch's trainings (a genotypes.json, readable by --arch FILE:NAME and --archs)."""
    out: dict[str, Any] = {}
    first_seed = next((e.get("seed") for e in entries if e["status"] != "skipped"), None)
    for entry in entries:
        if entry["status"] == "skipped" or entry.get("seed") != first_seed:  # a genotype once, not once per seed
            continue
        out[entry["label"]] = entry["genotype"]  # plan made the labels of different cells unique
    return out


def plan(specs: list[str], seeds: list[int] | None = None) -> list[dict[str, Any]]:
    """The trainings of this call in order; a genotype identical to an earlier one is marked skipped.

    Each entry records its resolved genotype and where it came from: a resumed batch trains these.
    With ``seeds``, every kept genotype is planned once per seed (seed-major: each genotype with the
    first seed, then each with the next), every entry with its "seed"; a skipped duplicate is listed once.
    """
    entries = []
    kept: list[tuple[str, Genotype]] = []
    for item in expand_archs(specs):
        twin = next((label for label, g in kept if same_cells(g, item["genotype"])), None)
        names = {other for other, _ in kept}
        if twin is None:  # a name two sweeps use for other cells: cellX, cellX_2
            label = numbered(item["label"], names)
        else:  # a duplicate goes by its own name, or by its twin's (cellX_2) where that names other cells
            label = twin if item["label"] in names and item["label"] != twin else item["label"]
        entry = {"spec": item["spec"], "label": label, "status": "pending", "run_dir": None,
                 "batch_size": None, "genotype": genotype_to_dict(item["genotype"]), "source": item["source"]}
        if twin is not None:
            entry.update(status="skipped", duplicate_of=twin)
        else:
            kept.append((label, item["genotype"]))
        entries.append(entry)
    if seeds is None:
        return entries
    seeded = [dict(e) for e in entries if e["status"] == "skipped"]
    for seed in seeds:
        seeded += [{**copy.deepcopy(e), "seed": seed} for e in entries if e["status"] != "skipped"]
    return seeded


# --------------------------------------------------------------------------- batch sizing


def free_memory_mb(device: torch.device) -> float:
    """Free memory of the CUDA device after returning this process's cached blocks."""
    gc.collect()
    torch.cuda.empty_cache()
    free, _ = torch.cuda.mem_get_info(device)
    return free / 2**20


MEMORY_MODEL_SIDE = 32  # the image side batch_data.csv was measured at (CIFAR), the only one the model knows


def choose_batch_size(model: bsp.MemoryModel, model_size: float, free_mb: float, *, margin_mb: float = 500.0,
                      max_batch: int = 1024) -> int | None:
    """The largest batch whose predicted memory stays margin_mb under free_mb (None if not even 1 does)."""
    return model.max_batch(model_size, free_mb - margin_mb, max_batch=max_batch)


def line_batch_size(points: list[tuple[int, float]], budget_mb: float, max_batch: int = 1024) -> int | None:
    """The largest batch under budget_mb on the line through two (batch, MB) points."""
    (b1, m1), (b2, m2) = points
    slope = (m2 - m1) / (b2 - b1)
    if slope <= 0:
        return max_batch if m2 <= budget_mb else None
    best = int((budget_mb - (m1 - slope * b1)) // slope)
    return min(best, max_batch) if best >= 1 else None


def load_memory_model(path: str | Path, logger: Any) -> bsp.MemoryModel:
    """The memory model of ``path``, said in the log with what it was fitted on: a batch sized by another GPU's
    model (the repository's is an H200's) reads as such."""
    model = bsp.load_memory_model(path)
    fit = model.info.get("fit") if isinstance(model.info.get("fit"), dict) else {}
    loo = f", leave-one-out MAPE {fit['loo_mape']:.1f}%" if isinstance(fit.get("loo_mape"), (int, float)) else ""
    where = bsp.measured_on(model.info)
    logger.info("memory model %s: fitted on %s row(s) of %s%s%s", path, model.info.get("rows", "?"),
                model.info.get("data", "an unrecorded CSV"), f" measured on {where}" if where else "", loo)
    return model


def default_memory_model(logger: Any) -> bsp.MemoryModel | None:
    """batch_predict.json beside this script, else a fit of its batch_data.csv, else None."""
    if (REPO / "batch_predict.json").is_file():
        return load_memory_model(REPO / "batch_predict.json", logger)
    if (REPO / "batch_data.csv").is_file():
        model, _ = bsp.fit_memory_model(REPO / "batch_data.csv")
        logger.info("memory model fitted on %s (MAPE %.2f%%)", REPO / "batch_data.csv", model.info["fit"]["mape"])
        return model
    logger.info("no memory model (no batch_predict.json or batch_data.csv beside batch_train.py): "
                "every training uses --batch_size as given")
    return None


def network_size(genotype: Genotype, args: argparse.Namespace, num_classes: int) -> float:
    """Parameters (M, without the auxiliary head) of the network train.py will build, counted on the meta device."""
    with torch.device("meta"):
        net = train.build_network(genotype, num_classes, args.init_channels, args.layers, False,
                                  cli.is_imagenet(args))
    return count_parameters(net) / 1e6


def probe_points(genotype: Genotype, args: argparse.Namespace, device: torch.device, num_classes: int,
                 image_size: int) -> list[tuple[int, float]]:
    """(batch, MB its peak took) of the genotype's own training steps at the two --probe_batches: the network and levers
    the batch trains with (its --set, --image_size, --auxiliary, --channels_last, --amp), not the memory
    model's CIFAR network with its auxiliary head."""
    probe = bsp.CudaPeakProbe(device)
    points = []
    for batch in sorted(args.probe_batches):
        probe.start()
        bsp.run_training_steps(genotype, batch, device, num_classes=num_classes, image_size=image_size, steps=2,
                               resident_images=0, train_args=args)
        points.append((batch, probe.growth_mb()))  # against the free memory, which others' use is not part of
        probe.release()
    return points


def outside_fitted_sizes(memory_model: bsp.MemoryModel, size: float) -> str | None:
    """Where ``size`` lies outside the network sizes the memory model was fitted on (None: inside, or unrecorded):
    a quadratic says little beyond its rows, and the shipped fit's are 1.37-4.69M parameters."""
    fitted = memory_model.info.get("model_size_range")
    if not (isinstance(fitted, list) and len(fitted) == 2 and all(isinstance(v, (int, float)) for v in fitted)):
        return None
    low, high = fitted
    if low <= size <= high:
        return None
    return f"{'below' if size < low else 'above'} the {low:.3g}-{high:.3g}M the memory model was fitted on"


def pick_batch(entry: dict[str, Any], genotype: Genotype, args: argparse.Namespace, device: torch.device,
               memory_model: bsp.MemoryModel | None, info: datalib.DatasetInfo, logger: Any) -> int:
    """The batch size of one training (see the module doc)."""
    if device.type != "cuda":
        return args.batch_size
    if args.probe:
        points = probe_points(genotype, args, device, info.num_classes, info.image_size)
        free = free_memory_mb(device)
        batch = line_batch_size(points, free - args.margin_mb, args.max_batch_size)
        logger.info("%s: probe %s, %.0f MB free -> batch %s", entry["label"],
                    ", ".join(f"batch {b}: {m:.0f} MB" for b, m in points), free, batch)
    elif memory_model is not None and cli.is_imagenet(args):
        # fitted on NetworkCIFAR only: NetworkImageNet's stride-8 stems make other activations at any side
        logger.info("%s: the memory model is fitted on the CIFAR network, not NetworkImageNet: --batch_size %d "
                    "(or pass --probe)", entry["label"], args.batch_size)
        return args.batch_size
    elif memory_model is not None and info.image_size != MEMORY_MODEL_SIDE:
        logger.info("%s: the memory model is fitted at %dx%d and this training is at %dx%d (activations grow with "
                    "the pixels): --batch_size %d (or pass --probe)", entry["label"], MEMORY_MODEL_SIDE,
                    MEMORY_MODEL_SIDE, info.image_size, info.image_size, args.batch_size)
        return args.batch_size
    elif memory_model is not None:
        size = network_size(genotype, args, info.num_classes)
        free = free_memory_mb(device)
        batch = choose_batch_size(memory_model, size, free, margin_mb=args.margin_mb, max_batch=args.max_batch_size)
        logger.info("%s: %.3fM params, %.0f MB free -> batch %s (predicted %.0f MB)", entry["label"], size, free,
                    batch, float(memory_model.predict(size, batch or 1)))
        if outside := outside_fitted_sizes(memory_model, size):
            logger.warning("%s: %.3fM params is %s: the batch is the quadratic's extrapolation (--probe measures "
                           "this network instead)", entry["label"], size, outside)
    else:
        return args.batch_size
    if batch is None:
        logger.info("%s: not even batch 1 is predicted to fit; trying --batch_size %d", entry["label"],
                    args.batch_size)
        return args.batch_size
    return batch


# --------------------------------------------------------------------------- the run


def write_trained(path: Path, entries: list[dict[str, Any]]) -> None:
    """trained.csv: a row per finished training, in the batch's order, rewritten whole from batch.json's entries
    (an appended row was lost for good to a kill between batch.json's "done" and the append)."""
    seeded = any(e.get("seed") is not None for e in entries)
    write_csv_atomic(path, SEEDED_COLUMNS if seeded else TRAINED_COLUMNS,
                     [{**e, "arch": e["label"]} for e in entries if e["status"] == "done"])


def train_one(entry: dict[str, Any], args: argparse.Namespace, batch_dir: Path, device: torch.device,
              memory_model: bsp.MemoryModel | None, info: datalib.DatasetInfo, logger: Any,
              save_state: Any) -> dict[str, Any]:
    """Train one genotype (resuming its folder when it has one), retrying smaller after out-of-memory."""
    # the genotype recorded when the batch started (a batch folder from before that records none: its spec)
    genotype = genotype_from_dict(entry["genotype"]) if entry.get("genotype") else resolve_genotype(entry["spec"])
    # the batch's label (cellX_2 where two files name other cells cellX) is the run's name, in result.json and beyond
    given = {"genotype": genotype, "genotype_source": entry.get("source") or entry["spec"], "label": entry["label"]}
    log_files = [batch_dir / "log.txt"]
    # a folder the out-of-memory retry removed (the last of its ladder, or one killed in between) is made afresh
    run_dir = Path(entry["run_dir"]) if entry.get("run_dir") and Path(entry["run_dir"]).is_dir() else None
    if run_dir is not None and (run_dir / "args.json").is_file():
        logger.info("%s: resuming %s", entry["label"], run_dir)
        resume_args = argparse.Namespace(**vars(args))  # the batch's arguments, not typed (cli.resume_args)
        resume_args.resume = str(run_dir)
        return train.main(resume_args, log_files=log_files, **given)
    least = cli.min_training_batch(args)  # 2 with --auxiliary or a 1x1 last map (BatchNorm at batch 1)
    batch = entry.get("batch_size") or max(least, pick_batch(entry, genotype, args, device, memory_model, info,
                                                             logger))
    while True:
        if run_dir is None:
            label = train.run_label(argparse.Namespace(save=None, arch=entry["spec"], arch_label=entry["label"]))
            if entry.get("seed") is not None:
                label = f"{label}-s{entry['seed']}"
            run_dir = create_run_dir("eval", label, batch_dir)
        entry.update(run_dir=str(run_dir), batch_size=batch)
        save_state()
        logger.info("training %s%s with batch %d in %s", entry["label"], _seed_text(entry), batch, run_dir)
        one = copy.copy(args)
        one.arch, one.batch_size, one.save, one.resume = entry["spec"], batch, None, None
        if entry.get("seed") is not None:
            one.seed = entry["seed"]
        try:
            return train.main(one, run_dir=run_dir, log_files=log_files, **given)
        except Exception as err:
            if not is_out_of_memory(err):
                raise
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir = None
        if device.type == "cuda":
            free_memory_mb(device)
        if batch <= least:
            raise UserError(f"{entry['label']}: out of memory even at batch {batch}")
        smaller = max(least, batch - args.oom_step)  # down to the least batch, which a step past it would skip
        logger.info("%s: out of memory at batch %d; retrying with %d", entry["label"], batch, smaller)
        batch = smaller


def results_table(entries: list[dict[str, Any]]) -> str:
    """Every training of the batch as a table, those done before a --resume too (batch.json keeps them), so that
    the accuracies need not be picked out of the log's lines; valid_acc only when a training had a held-out split."""
    seeded = any(e.get("seed") is not None for e in entries)
    rows = []
    for e in entries:
        row: dict[str, Any] = {"arch": e["label"]}
        if seeded:
            row["seed"] = "" if e.get("seed") is None else str(e["seed"])  # a skipped duplicate is listed once
        status = f"skipped (same cells as {e['duplicate_of']})" if e["status"] == "skipped" else e["status"]
        row.update(status=status, **{k: e.get(k) for k in ("batch_size", "model_size", "test_acc", "test_top5",
                                                            "valid_acc")})
        rows.append(row)
    df = pd.DataFrame(rows)
    if df["valid_acc"].isna().all():
        df = df.drop(columns="valid_acc")
    return format_table(df, na_rep="-")  # a skipped or failed training has no numbers


def _seed_text(entry: dict[str, Any]) -> str:
    return "" if entry.get("seed") is None else f" (seed {entry['seed']})"


def _resume_dir(given: str) -> Path:
    """The batch folder ``--resume`` names (a log.txt or batch.json path names its folder), checked to be one
    before main locks it, and so before its batch.json is read. A batch's args.json with no batch.json yet is
    one: a Ctrl-C there advises --resume (utils.resumable)."""
    batch_dir = Path(given)
    if batch_dir.name in ("log.txt", "batch.json"):
        batch_dir = batch_dir.parent
    if run_folder_kind(batch_dir) != "batch":
        raise resume_folder_error(batch_dir, "batch", "batch.json")
    return batch_dir


def _resume_state(args: argparse.Namespace) -> tuple[argparse.Namespace, Path, list[dict[str, Any]] | None]:
    """The resumed batch's arguments, folder and entries, read as they are now (main has locked the folder).
    Entries None: the batch stopped between its args.json and its first batch.json, before any training, and
    starts afresh from the arguments its args.json records."""
    batch_dir = _resume_dir(args.resume)
    if not (batch_dir / "batch.json").is_file():
        saved = load_run_args(batch_dir, "batch")[1]
        return train.merge_saved_args(args, saved, str(batch_dir / "args.json")), batch_dir, None
    state = read_json(batch_dir / "batch.json")
    entries = state.get("entries") if isinstance(state, dict) else None
    if not isinstance(entries, list) or not isinstance(state.get("args", {}), dict) or not all(
            isinstance(e, dict) and {"spec", "label", "status"} <= e.keys() for e in entries):
        raise UserError(f"--resume {batch_dir}: batch.json is not a batch-train state (no list of entries "
                        "with spec, label and status)")
    entries = list(entries)
    rebase_run_dirs(entries, batch_dir)
    saved = state.get("args", {})
    return train.merge_saved_args(args, saved, str(batch_dir / "batch.json")), batch_dir, entries


def main(args: argparse.Namespace) -> dict:
    """Train every --archs genotype in turn; returns the plan with each training's result summary."""
    if "arch" in (cli.typed_flags(args) or ()):  # else ignored: the batch trained every published genotype
        raise UserError("--arch is train.py's (one genotype): batch_train.py takes --archs, e.g. --archs DARTS_V2 "
                        "or --archs SWEEP_DIR")
    settings_note = None
    given = cli.typed_flags(args)  # arch_settings and a resume return namespaces that no longer tell
    if not args.resume:
        args, settings_note = train.arch_settings(
            args, args.archs or [], what="the --archs come from runs on different data (give --set/--image_size/"
                                         "--data, or train them in separate batches)")
        args, network_note = train.network_settings(
            args, args.archs or [], what="the --archs come from cost sweeps of different evaluation networks")
        settings_note = "; ".join(filter(None, (settings_note, network_note))) or None
    train.check_args(args, given)
    if args.max_batch_size < 1 or args.oom_step < 1 or min(args.probe_batches) < 1 \
            or args.probe_batches[0] == args.probe_batches[1]:
        raise UserError("--max_batch_size, --oom_step and two different --probe_batches must be >= 1")
    if args.probe and min(args.probe_batches) < cli.min_training_batch(args):
        raise UserError(f"--probe_batches {' '.join(map(str, args.probe_batches))}: batch 1 cannot train with "
                        "--auxiliary or on a 1x1 last map (BatchNorm sees one value per channel); probe at 2 or more")
    if not (math.isfinite(args.margin_mb) and args.margin_mb >= 0):
        raise UserError(f"--margin_mb {args.margin_mb} must be a finite number >= 0")
    # the sizing flags of the way not taken, read by nothing (args.json recording them as if they had sized)
    if args.probe and args.batch_model:
        raise UserError(f"--batch_model {args.batch_model} with --probe: --probe sizes each batch from the genotype's "
                        "own peak memory, not from a memory model; give one of them")
    if not args.probe and "probe_batches" in (given or ()):
        raise UserError("--probe_batches act only with --probe (the memory model sizes the batches otherwise): add "
                        "--probe, or leave them out")
    if args.batch_model and not args.resume:  # a typo fails here, before the batch folder, on any device
        bsp.load_memory_model(args.batch_model)
    if args.model_path and not Path(args.model_path).is_file():  # else every training failed on it, in its folder
        raise UserError(f"--model_path {args.model_path}: no such file")
    if args.seeds is not None and (bad := [seed for seed in args.seeds if not cli.seed_in_range(seed)]):
        raise UserError(f"--seeds {bad[0]} {cli.SEED_RANGE_ERROR}")
    if args.seeds is not None and not args.resume and "seed" in (given or ()):  # else ignored, args.json saying it
        raise UserError(f"--seed {args.seed} with --seeds: each training takes its seed from --seeds "
                        f"({' '.join(map(str, args.seeds))}); give the seeds in --seeds alone")
    if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
        raise UserError(f"--seeds {' '.join(map(str, args.seeds))}: a seed is given twice (the runs would be the "
                        "same training)")
    resumed = bool(args.resume)
    recorded = None
    # on --resume the folder is locked before batch.json is read: a process still at work there would otherwise
    # end, or finish another training, while this one loads the data, and this one go on from the older state
    # (train one again, or leave a second eval-* folder of one); a new batch is locked once its folder exists
    batch_lock = lock_run_dir(_resume_dir(args.resume)) if resumed else None
    batch_dir: Path | None = None
    try:
        if resumed:
            typed = args  # what the command line said (cli.typed_flags), before batch.json's arguments replace it
            args, batch_dir, entries = _resume_state(args)
            recorded = cli.recorded_data_source(typed, batch_dir / ("args.json" if entries is None else "batch.json"))
            if entries is None:  # stopped before its first batch.json: it starts afresh, in its folder
                resumed, args.resume = False, None
                entries = plan(args.archs or list(PUBLISHED), args.seeds)
        else:
            entries = plan(args.archs or list(PUBLISHED), args.seeds)
        device = get_device(args.device, args.gpu)
        cli.check_speed_args(args, device, given)  # before the batch folder exists, not inside its first training
        # a resumed batch's recorded --threads, from a machine with more CPUs: one line, not every training failed
        if problem := threads_error(args.threads):
            raise UserError(problem)
        # the data is checked before the batch folder exists (a bad --set or --data leaves nothing behind)
        with data_recorded_in(recorded):
            _, _, info = datalib.load_datasets(args.set, args.data, download=args.download,
                                               image_size=getattr(args, "image_size", None))
        if batch_dir is None:
            batch_dir = create_run_dir("batch-train", args.save or "EXP", args.logdir)
        # each training locks its own folder inside the batch's
        with batch_lock or lock_run_dir(batch_dir), resumable("batch_train.py", batch_dir), \
                logs_released(f"batch.{batch_dir.name}"):
            return _run_batch(args, batch_dir, entries, device, info, resumed, settings_note)
    finally:
        if batch_lock is not None:
            batch_lock.release()


def _run_batch(args: argparse.Namespace, batch_dir: Path, entries: list[dict[str, Any]], device: torch.device,
               info: datalib.DatasetInfo, resumed: bool, settings_note: str | None) -> dict:
    """main's trainings, one after another, in the locked batch folder."""
    if resumed:
        logger = get_logger(f"batch.{batch_dir.name}", batch_dir)
        logger.info("resuming %s: %d of %d trainings done", batch_dir,
                    sum(e["status"] == "done" for e in entries), len(entries))
        # a failure may have been the machine's (data moved, memory taken by another job): a resume retries it,
        # in its own folder, from its last checkpoint
        for e in entries:
            if e["status"] == "failed":
                logger.info("retrying %s%s, which failed: %s", e["label"], _seed_text(e), e.pop("error", ""))
                e["status"] = "pending"
                if not (e.get("run_dir") and (Path(e["run_dir"]) / "args.json").is_file()):
                    # it never started: its batch is chosen again, not the smallest of an out-of-memory ladder
                    # (batch 1 or 2 when another job held the GPU), which the retry would have trained at
                    e["batch_size"] = None
    else:
        save_args(args, batch_dir, device, kind="batch")
        write_json_atomic(batch_dir / "genotypes.json", batch_genotypes(entries))
        logger = get_logger(f"batch.{batch_dir.name}", batch_dir)
        logger.info("batch %s: %d genotype(s), %d duplicate(s) skipped", batch_dir,
                    len(batch_genotypes(entries)), sum(e["status"] == "skipped" for e in entries))
        if args.seeds is not None:
            logger.info("seeds %s: %d trainings", " ".join(map(str, args.seeds)),
                        sum(e["status"] == "pending" for e in entries))
        logger.info("%s", settings_note)
    for e in entries:
        if e["status"] == "skipped":
            logger.info("skipping %s: same cells as %s (already in this call)", e["label"], e["duplicate_of"])

    def save_state() -> None:
        clean = portable_args({k: v for k, v in vars(args).items() if k != "resume"})
        seeds = {} if args.seeds is None else {"seeds": list(args.seeds)}
        write_json_atomic(batch_dir / "batch.json", {"args": clean, **seeds, "entries": entries})

    save_state()
    if resumed and any(e["status"] == "done" for e in entries):  # one killed before its row was written gets it
        write_trained(batch_dir / "trained.csv", entries)
    memory_model = None
    if device.type == "cuda" and cli.is_imagenet(args) and not args.probe:
        logger.info("the memory model is for CIFAR networks: on imagenet every training uses --batch_size %d "
                    "(or pass --probe)", args.batch_size)
    elif device.type == "cuda" and not args.probe:
        memory_model = load_memory_model(args.batch_model, logger) if args.batch_model else default_memory_model(logger)
    elif device.type != "cuda":
        logger.info("device %s: every training uses --batch_size %d", device, args.batch_size)
    for n, entry in enumerate(entries):
        if entry["status"] != "pending":
            continue
        logger.info("=== %d/%d: %s%s (%s)", n + 1, len(entries), entry["label"], _seed_text(entry), entry["spec"])
        try:
            result = train_one(entry, args, batch_dir, device, memory_model, info, logger, save_state)
        except Exception as err:  # noqa: BLE001 - a failed training is recorded and the batch goes on (docs)
            if not isinstance(err, UserError):  # a crash (out of memory on resume, a bug): its traceback in log.txt
                logger.error("%s crashed", entry["label"], exc_info=True)
            entry.update(status="failed", error=" ".join(str(err).split()) or type(err).__name__)
            save_state()
            logger.info("%s failed: %s", entry["label"], entry["error"])
            continue
        if "stopped_after" in result:  # the --stop_after test hook: the batch stops here, as a kill would leave it
            logger.info("stopped in %s; continue with %s", entry["label"],
                        resume_command("batch_train.py", batch_dir))
            return {"run_dir": str(batch_dir), "entries": entries, "stopped": True,
                    "trained": sum(e["status"] == "done" for e in entries),
                    "failed": sum(e["status"] == "failed" for e in entries)}
        entry.update(status="done", batch_size=result["batch_size"], model_size=result["model_size"],
                     test_acc=result["test_acc"], test_top5=result["test_top5"], valid_acc=result.get("valid_acc"))
        save_state()
        write_trained(batch_dir / "trained.csv", entries)
        logger.info("%s%s: test top-1 %.2f%% (batch %d, %.3fM params)", entry["label"], _seed_text(entry),
                    result["test_acc"], result["batch_size"], result["model_size"])
    done = [e for e in entries if e["status"] == "done"]
    failed = [e for e in entries if e["status"] == "failed"]
    logger.info("batch done: %d trained, %d skipped, %d failed; table %s", len(done),
                sum(e["status"] == "skipped" for e in entries), len(failed), batch_dir / "trained.csv")
    logger.info("results:\n%s", results_table(entries))
    if done:
        # the resolved source (an absolute FILE:NAME), not the spec as typed: SWEEP_DIR:NAME, or a relative spec
        # resumed from another directory, named no sweep.json
        sweeps = sweeps_of([e.get("source") or e["spec"] for e in entries])
        calculate = ["--calculate"] if args.train_portion < 1 else []  # weights fitted on the held-out split
        logger.info("next: %s; %s", shell_command("python", "ensemble.py", "--models_folder", batch_dir, *calculate),
                    shell_command("python", "tools/analyse_train_logs.py", "-t", batch_dir,
                                  *(["-s", *sweeps] if sweeps else [])))
    logger.info("batch folder: %s", batch_dir)
    return {"run_dir": str(batch_dir), "entries": entries, "trained": len(done), "failed": len(failed)}


def sweeps_of(sources: list[str]) -> list[str]:
    """The sweep folders the genotypes of ``sources`` (resolve_genotype_source's) come from, for the closing hint's
    -s: a sweep's genotypes.json (FILE:NAME) lies in the sweep's folder, a search's genotype.json or result.json (its
    run folder given) one folder below it. A published name or a pasted genotype names no file."""
    found: set[Path] = set()
    for source in sources:
        file = Path(source.rsplit(":", 1)[0] if ":" in Path(source).name else source)
        if not file.is_file():  # "published genotype X from genotypes.py", a pasted one: no file
            continue
        found.update(f for f in (file.parent, file.parent.parent) if (f / "sweep.json").is_file())
    return sorted(map(str, found))


def cli_main(args: argparse.Namespace) -> dict:
    """main for the command line: a batch in which a training failed exits with status 1."""
    result = main(args)
    if result["failed"]:
        raise RunFailed(f"{result['failed']} of {len(result['entries'])} trainings failed; their errors are in "
                        f"{Path(result['run_dir']) / 'batch.json'}")
    return result


if __name__ == "__main__":
    sys.exit(run_main(cli_main, build_parser().parse_args()))
