"""Weighted ensemble of trained models: every eval-* run folder of --models_folder votes on the test set.

    python ensemble.py --models_folder logs/batch-train-EXP-20260101-120000                    # equal weights
    python ensemble.py --models_folder logs/batch-train-EXP-20260101-120000 --calculate        # one weight per model
    python ensemble.py --models_folder logs --calculate --per_class -o ensemble_per_class.json # one per model and class

Models: every ``eval-*`` folder directly inside --models_folder or one level further down (so a
folder of batch-train folders works too) that has weights.pt and whose genotype resolves (the
genotype of its result.json, else its genotype.json, else the --arch of its args.json, else the published name
in the folder's own name, eval-<arch>-<time>, as the original's runs, which record nothing else, carry it). A
folder without weights.pt is a training that has not finished (train.py writes it as it ends, before result.json): it is
skipped, said in the log and listed in ensemble.json's ``skipped``; the log also names the trainings a batch
folder's batch.json has queued and not begun. A folder with weights.pt that does not load (a
damaged weights.pt, args.json or result.json, weights of another network) is a one-line error naming
it, before anything is written: an ensemble silently missing a model would be reported as complete.
Runs trained on other class folders than the data's now (args.json's ``classes``) are a one-line
error too. The runs carry their own settings (cli.run_settings): the dataset, image size and data
path come from their args.json, which must agree (models trained on different data are not
ensembled), and each network is built with its run's own init_channels / layers / auxiliary. A
flag given explicitly that contradicts a run is refused (--data may point elsewhere: the data may
have moved); the flags are the settings of runs that record none. The log says what was taken from where.

Weights (``--calculate``, from the validation split the runs held out, seen without augmentation:
the part ``1 - --train_portion`` of the training set after ``--subsample``, with --train_portion,
--subsample and (where it draws the subsample) --seed taken from the runs' args.json like the
dataset; runs split differently share no held-out split and runs trained with --train_portion 1
have none, and --calculate is then a one-line error): each model starts at 1 and scores a point
for every sample it gets right that not all models get right (per class of the sample with
``--per_class``); the weights are divided by their maximum (each class's, with --per_class). Without
--calculate every model weighs 1. Each model's logits are min-max scaled per sample to [0, 1] and the
ensemble's score of a class is the mean over the models of weight x scaled score. Reported: test loss
(cross-entropy of the scores taken as logits; comparable between ensembles, not with a single model's loss),
test top-1/top-5, the accuracy on the training split (none when the runs were split differently) and, with --calculate,
on the validation split; each model's own test results too, the split used (``data_split``) and the precision the
logits were computed in (``amp``: none is float32).
Written to ``ensemble.json`` in --models_folder (or ``-o``); without ``-o``, calculated weights already there are
not replaced by a call that weighs otherwise (one line asks for ``-o``).

Several runs of one genotype (batch_train.py --seeds): the ensemble above is that of all runs;
``best_per_genotype`` in ensemble.json is the ensemble of one run per genotype (same cells, and the same
init_channels / layers / auxiliary: the same genotype trained at another size is another network), the run
with the highest valid_acc in its result.json, measured by train.py on the run's own held-out split
(``--train_portion`` < 1), never on the test set; its weights are calculated again on its members
alone. Runs trained without a held-out split give no such choice: best_per_genotype is then null and
``best_per_genotype_note`` says why.
"""

from __future__ import annotations

if __name__ == "__main__":  # before torch's imports: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import argparse
import dataclasses
import math
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

import cli
import data as datalib
import train
from fastpath import make_autocast
from genotypes import (
    PUBLISHED,
    Genotype,
    GenotypeError,
    genotype_from_dict,
    resolve_genotype,
    same_cells,
)
from utils import (
    UserError,
    accuracy,
    bar_off,
    check_output,
    class_mismatch,
    configure_torch,
    get_device,
    get_logger,
    log_data_notes,
    not_started_note,
    numbered,
    percent_or_na,
    read_json,
    read_run_args,
    run_is_live,
    run_main,
    set_seed,
    split_mismatch,
    top5_or_none,
    write_json_atomic,
)

# The split of the training set the runs held their validation images out of: data.split_training_set's
# arguments, each with its fallback for runs that record none. The seed only draws a --subsample (0 < F < 1), so
# runs of several --seeds on the whole training set share one split.
SPLIT_SETTINGS: dict[str, Any] = {"train_portion": 0.9, "subsample": 0.0, "seed": 0}


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        description="Weighted ensemble of the trained models in a folder (test top-1/top-5).",
        formatter_class=cli.HelpFormatter,
    )
    cli.add_data_args(parser, {"train_portion": 0.9})
    g = parser.add_argument_group("ensemble")
    g.add_argument("--models_folder", required=True, help="folder with eval-<arch>-<time> subfolders (weights.pt)")
    g.add_argument("--calculate", action="store_true", help="weights from the split the runs held out (else equal)")
    g.add_argument("--per_class", action="store_true", help="one weight per model and class (implies --calculate)")
    g.add_argument("-o", "--output", default=None, help="result JSON (default: <models_folder>/ensemble.json)")
    g.add_argument("--batch_size", type=int, default=96, help="batch size")
    g.add_argument("--seed", type=int, default=0, help="random seed (the --subsample draw)")
    g.add_argument("--report_lines", type=int, default=5, help=f"{cli.NO_EFFECT} (one log line per model)")
    g.add_argument("--init_channels", type=int, default=36, help="num of init channels")
    g.add_argument("--layers", type=int, default=20, help="total number of layers")
    g.add_argument("--auxiliary", action="store_true", help="the weights include the auxiliary head")
    g.add_argument("--drop_path_prob", type=float, default=0.2,
                   help=f"{cli.NO_EFFECT} (the networks are evaluated without drop path)")
    g.add_argument("--no_progress", action="store_true", help="no progress bar")
    cli.add_hardware_args(parser)
    cli.mark_no_effect(parser, ("cutout", "cutout_length"), "no split is augmented here")
    cli.from_run(parser, {**cli.DATA_SETTINGS, **cli.NETWORK_SETTINGS, **SPLIT_SETTINGS})
    return parser


# --------------------------------------------------------------------------- the weighting (pure tensors)


def minmax_scale(logits: torch.Tensor) -> torch.Tensor:
    """Scale each sample's logits (last dimension) to [0, 1]; a constant row becomes all zeros."""
    low = logits.amin(dim=-1, keepdim=True)
    span = logits.amax(dim=-1, keepdim=True) - low
    return (logits - low) / span.clamp_min(torch.finfo(logits.dtype).tiny)


def calculate_weights(logits: torch.Tensor, targets: torch.Tensor, per_class: bool = False) -> torch.Tensor:
    """Weights from held-out predictions: logits M x N x C, targets N -> M (or M x C with per_class).

    Each weight starts at 1; a model scores a point for each sample it gets right that not all
    models get right (in the sample's class column with per_class); then each column is divided by its
    maximum over the models, as the original (one maximum per class with per_class).
    """
    n_models, _, n_classes = logits.shape
    correct = logits.argmax(dim=-1).eq(targets[None, :])  # M x N
    counted = (correct & ~correct.all(dim=0, keepdim=True)).float()
    if per_class:
        scores = torch.ones(n_models, n_classes, dtype=torch.float64)
        scores.index_add_(1, targets.long(), counted.double())
    else:
        scores = 1.0 + counted.double().sum(dim=1)
    return (scores / scores.amax(dim=0)).float()


def combine(logits: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The mean over the models of weight x min-max scaled logits: M x N x C with weights M or M x C -> N x C scores.

    The original's mean, not a weighted average: with per-class weights a class that only some models are trusted on
    scores lower, where dividing by each class's weight sum would cancel that."""
    scaled = minmax_scale(logits.float())
    w = weights.float()
    w = w[:, None, :] if w.dim() == 2 else w[:, None, None]
    return (w * scaled).mean(dim=0)


def scores_report(scores: torch.Tensor, targets: torch.Tensor) -> dict[str, float | None]:
    """Loss (cross-entropy of the scores as logits), top-1 and top-5 (%; None with 5 classes or fewer, where every
    label is among the top 5: top5_or_none)."""
    if len(targets) == 0:
        return {"loss": math.nan, "acc": math.nan, "top5": math.nan}
    top1, top5 = accuracy(scores, targets, (1, 5))
    return {"loss": F.cross_entropy(scores, targets).item(), "acc": top1,
            "top5": top5_or_none(top5, scores.size(1))}


# --------------------------------------------------------------------------- the models


def eval_folders(folder: Path) -> list[Path]:
    """eval-* folders inside `folder` and one level further down, in name order, each run once.

    A run reached twice (a symlink to a batch's run, or to the batch folder, beside it) is one
    model: counted twice it would vote twice and share its weight with itself.
    """
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith("eval-")]
    for sub in folder.iterdir():
        if sub.is_dir() and not sub.name.startswith("eval-"):
            found += [p for p in sub.iterdir() if p.is_dir() and p.name.startswith("eval-")]
    runs: dict[Path, Path] = {}
    for path in sorted(found, key=lambda p: (p.is_symlink() or p.parent.is_symlink(), p.parent.name, p.name)):
        runs.setdefault(path.resolve(), path)  # the real folder's path is kept where both are found
    return sorted(runs.values(), key=lambda p: (p.parent.name, p.name))


def _run_genotype(run: Path, run_args: dict[str, Any]) -> Genotype:
    result_file = run / "result.json"
    if result_file.is_file():
        result = read_json(result_file)
        if not isinstance(result, dict):
            raise UserError(f"{result_file} holds no training result (not a JSON object)")
        if isinstance(result.get("genotype"), dict):
            return genotype_from_dict(result["genotype"])
    if (run / "genotype.json").is_file():  # the genotype the run trained, whatever its --arch file holds now
        return resolve_genotype(run / "genotype.json")
    if "arch" in run_args:
        return resolve_genotype(run_args["arch"])
    named = folder_arch(run)
    if named is not None and named in PUBLISHED:
        return PUBLISHED[named]
    raise GenotypeError("no genotype in result.json and no --arch in args.json"
                        + (f", and {named!r} of its folder name is no published genotype" if named else ""))


def folder_arch(run: Path) -> str | None:
    """The genotype name of an ``eval-<arch>-<YYYYmmdd-HHMMSS>`` folder, as the original ensemble.py took it: the
    original's train.py wrote no args.json or genotype.json, so its runs say their genotype in their name alone."""
    match = re.fullmatch(r"eval-(.+)-\d{8}-\d{6}", run.name)
    if match is None:
        parts = run.name.split("-")
        return parts[1] if len(parts) > 1 and parts[1] else None
    return match.group(1)


def _run_name(run: Path, run_args: dict[str, Any]) -> str:
    """The name the run goes by: its result.json's "arch" (batch_train.py's cellX_2 where two files' genotypes share
    the name cellX, also in a run resumed from a batch that named it so), else its args.json's, else its folder's."""
    result = read_json(run / "result.json") if (run / "result.json").is_file() else None
    if isinstance(result, dict) and isinstance(result.get("arch"), str) and result["arch"]:
        return result["arch"]
    if "arch" in run_args:
        return train.arch_label(run_args)
    named = folder_arch(run)
    return named if named in PUBLISHED else run.name


def _run_record(run: Path, run_args: dict[str, Any]) -> dict[str, Any]:
    """The run's seed (args.json) and the accuracy on its own held-out split (result.json; None without one)."""
    valid = None
    if (run / "result.json").is_file():
        result = read_json(run / "result.json")
        valid = result.get("valid_acc") if isinstance(result, dict) else None
    seed = run_args.get("seed")
    return {"seed": seed if isinstance(seed, int) else None,
            "run_valid_acc": float(valid) if isinstance(valid, (int, float)) and math.isfinite(valid) else None}


def genotype_groups(models: list[dict[str, Any]]) -> list[list[int]]:
    """Positions of the models grouped by genotype (same cells) and network shape, in order of first appearance.

    A genotype trained at another --init_channels/--layers/--auxiliary is another network, not a seed of the same
    one (analyse_train_logs.py's summary keeps them apart too): grouped by cells alone, a folder of a demo-size and
    a full-size training of one genotype had its best_per_genotype drop one of them, and counted them as 2 runs."""
    groups: list[list[int]] = []
    for i, entry in enumerate(models):
        group = next((g for g in groups if same_cells(models[g[0]]["genotype"], entry["genotype"])
                      and models[g[0]].get("shape") == entry.get("shape")), None)
        if group is None:
            groups.append([i])
        else:
            group.append(i)
    return groups


def best_by_held_out(models: list[dict[str, Any]], groups: list[list[int]]) -> tuple[list[int] | None, str | None]:
    """One model per genotype group: the highest run_valid_acc (ties: the first). None, with the reason, when a
    group's runs lack a held-out accuracy: the test set must not choose."""
    chosen = []
    for group in groups:
        scored = [i for i in group if models[i]["run_valid_acc"] is not None]
        if len(scored) < len(group):
            missing = models[next(i for i in group if i not in scored)]["run_dir"]
            why = ("has no valid_acc in its result.json (trained with --train_portion 1, no held-out split)"
                   if (Path(missing) / "result.json").is_file() else "has no result.json (its training has not "
                   "finished writing it)")
            return None, (f"{missing} {why}: the best run per genotype is not chosen, since the test set must not "
                          "choose it")
        chosen.append(max(scored, key=lambda i: (models[i]["run_valid_acc"], -i)))
    return chosen, None


def finished_runs(runs: list[Path]) -> tuple[list[Path], list[dict[str, str]]]:
    """The runs with weights.pt, and the others as {run_dir, reason}: train.py writes weights.pt as it ends, so a
    run without it is a training not finished (or still running), skipped and reported, never an error."""
    finished = [run for run in runs if (run / "weights.pt").is_file()]
    unfinished = [{"run_dir": str(run), "reason": f"no weights.pt ({_unfinished(run)})"}
                  for run in runs if run not in finished]
    return finished, unfinished


def _unfinished(run: Path) -> str:
    """Why a run has no weights.pt, as its lock tells (utils.run_is_live): a killed training reads as still at work."""
    live = run_is_live(run)
    if live is None:  # a run older than the lock, or no locks here
        return "training not finished"
    return "still training" if live else "stopped before the end: killed, crashed or interrupted; --resume continues it"


def broken_run(run: Path, err: BaseException) -> UserError:
    """The one-line error for a finished run that cannot be read: the reason names the damaged file, and the
    advice says how to ensemble the others, which a skip would have done without anyone noticing."""
    reason = " ".join(str(err).split())
    return UserError(f"{run} has weights.pt but cannot be ensembled: {reason} (repair the run, or move its folder "
                     f"out of --models_folder to ensemble the others)")


def _run_args(run: Path) -> dict[str, Any]:
    """The arguments a run's args.json records ({} without args.json); a damaged one is a UserError naming it."""
    if not (run / "args.json").is_file():
        return {}
    return read_run_args(run / "args.json", "train.py")


def load_models(runs: list[Path], args: argparse.Namespace, num_classes: int, device: torch.device,
                logger: Any) -> list[dict[str, Any]]:
    """The models of the finished runs as {name, run_dir, model, genotype, seed, run_valid_acc}; a run that does
    not load is a one-line error (broken_run), never skipped."""
    models = []
    for run in runs:
        try:
            run_args = _run_args(run)
            genotype = _run_genotype(run, run_args)
            shape, note = cli.run_settings(run, args, cli.NETWORK_SETTINGS)
            init_channels, layers, auxiliary = int(shape.init_channels), int(shape.layers), bool(shape.auxiliary)
            net = train.build_network(genotype, num_classes, init_channels, layers, auxiliary, cli.is_imagenet(args))
            name = _run_name(run, run_args)
            train.load_weights(net, run / "weights.pt", f"{name} (C={init_channels}, {layers} layers, "
                                                        f"auxiliary={auxiliary}, {num_classes} classes)")
            logger.info("%s: %s", run.name, note)
            record = _run_record(run, run_args)
        except cli.SettingsConflict:
            raise
        except (UserError, ValueError, OSError, TypeError, AttributeError) as err:
            raise broken_run(run, err) from None
        net.drop_path_prob = 0.0
        models.append({"name": name, "run_dir": str(run), "model": net.to(device).eval(), "genotype": genotype,
                       "shape": (init_channels, layers, auxiliary), **record})
    return models


@torch.no_grad()
def collect_logits(model: torch.nn.Module, loader: Any, autocast: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits N x C on the CPU in float32, targets N) of a model over a loader in eval mode."""
    outputs, targets = [], []
    for x, y in loader:
        with autocast():
            logits, _ = model(x)
        outputs.append(logits.float().cpu())
        targets.append(y.cpu())
    return torch.cat(outputs), torch.cat(targets)


def _counts_by_name(counts: list[tuple[str, int]]) -> dict[str, int]:
    """name -> runs of each genotype; a name that two genotypes share (one per sweep) is numbered as batch_train's
    genotypes.json numbers it (``cellX``, ``cellX_2``), so that neither count is lost."""
    out: dict[str, int] = {}
    for name, n in counts:
        out[numbered(name, out)] = n
    return out


def build_loaders(args: argparse.Namespace, device: torch.device) -> tuple[dict[str, Any], datalib.DatasetInfo]:
    """Un-augmented loaders of the test set and, when the runs share a split, its train and validation parts."""
    train_ds, test_ds, info = datalib.load_datasets(args.set, args.data, download=args.download,
                                                    image_size=getattr(args, "image_size", None))
    info = datalib.with_on_device_note(info, args.data_on_device, train_ds)
    view = train.eval_view(train_ds, test_ds)
    common = {"seed": args.seed, "device": device, "workers": args.workers,
              "on_device": datalib.keep_on_device(args.data_on_device, train_ds), "train": False}
    loaders: dict[str, Any] = {"test": datalib.build_loader(test_ds, torch.arange(len(test_ds)), args.batch_size,
                                                            **common)}
    if args.train_portion is None:  # runs trained on different splits: no split is theirs (split_settings)
        return loaders, info
    # the held-out part the runs' train.py held out (the same split, not class-checked)
    train_idx, valid_idx, split = datalib.split_training_set(train_ds, args.subsample, args.seed,
                                                             args.train_portion, check=False)
    info = dataclasses.replace(info, split=split)
    if len(train_idx):
        loaders["train"] = datalib.build_loader(view, train_idx, args.batch_size, **common)
    if len(valid_idx):
        loaders["valid"] = datalib.build_loader(view, valid_idx, args.batch_size, **common)
    return loaders, info


def dataset_settings(runs: list[Path], args: argparse.Namespace) -> tuple[argparse.Namespace, str]:
    """The dataset, image size and data path of the runs, which must all agree (models trained on
    different data cannot be ensembled), after checking that no shape flag contradicts a run. Runs
    without args.json follow the others; a damaged args.json is a one-line error (broken_run), before any data."""
    readable = []
    for run in runs:
        if not (run / "args.json").is_file():
            continue
        try:
            cli.run_settings(run, args, cli.NETWORK_SETTINGS)  # a shape flag that contradicts a run: before any data
        except cli.SettingsConflict:
            raise
        except (UserError, OSError) as err:
            raise broken_run(run, err) from None
        readable.append(run)
    args, note = cli.shared_run_settings(readable, args, cli.DATA_SETTINGS,
                                         what="models trained on different data cannot be ensembled")
    args, split_note = split_settings(readable, args, args.calculate or args.per_class)
    return args, f"{note}; {split_note}"


def _draws_subsample(settings: argparse.Namespace) -> bool:
    """Whether --subsample draws a part of the training set (0 and 1 keep all of it, whatever the seed)."""
    return 0 < settings.subsample < 1


def _split_of(run: Path | None, args: argparse.Namespace) -> tuple[argparse.Namespace, str]:
    """One run's split settings (cli.run_settings: a flag that contradicts the run is refused); its seed only
    where it draws a --subsample, since it changes nothing else."""
    settings, note = cli.run_settings(run, args, {k: SPLIT_SETTINGS[k] for k in ("train_portion", "subsample")})
    if _draws_subsample(settings):
        settings, seed_note = cli.run_settings(run, settings, {"seed": SPLIT_SETTINGS["seed"]})
        note = f"{note}; {seed_note}"
    elif settings.seed is None:
        settings.seed = SPLIT_SETTINGS["seed"]
    return settings, note


def _split_key(settings: argparse.Namespace) -> tuple[float, float, int | None]:
    """What decides the split: train_portion, and the subsample with its seed when one is drawn."""
    if _draws_subsample(settings):
        return settings.train_portion, settings.subsample, settings.seed
    return settings.train_portion, 0.0, None


def _show_split(settings: argparse.Namespace) -> str:
    seed = f" --seed {settings.seed}" if _draws_subsample(settings) else ""
    return f"--train_portion {settings.train_portion} --subsample {settings.subsample}{seed}"


def weighing_flags(args: argparse.Namespace) -> str:
    """The flags of this call that calculate weights, as given: --per_class alone calculates too, and a refusal
    that told its user to leave out a --calculate never typed would not say what to drop."""
    return " ".join(flag for flag in ("--calculate", "--per_class") if getattr(args, flag[2:], False)) or "--calculate"


def split_settings(runs: list[Path], args: argparse.Namespace, calculate: bool) -> tuple[argparse.Namespace, str]:
    """``args`` with the split of the training set the runs held out (--train_portion, --subsample, and --seed
    where it draws the subsample) taken from their args.json, so that --calculate weighs the models on images
    none of them trained on. A flag that contradicts a run is refused. Runs split differently have no common
    held-out part: refused with --calculate, else the split is None (no training-split accuracy)."""
    flags = weighing_flags(args)
    found = [(run, *_split_of(run, args)) for run in runs] or [(None, *_split_of(None, args))]
    first_run, first, note = found[0]
    for run, settings, _ in found[1:]:
        if _split_key(settings) != _split_key(first):
            differ = f"{first_run} has {_show_split(first)}, {run} has {_show_split(settings)}"
            if calculate:
                raise cli.SettingsConflict(f"{flags} needs a split held out from every model, but the runs were "
                                           f"trained on different splits of the training set: {differ} (give "
                                           f"--models_folder one batch folder, or leave out {flags})")
            first.train_portion = first.subsample = None
            return first, f"the runs were trained on different splits of the training set ({differ}): no train_acc"
    if len(found) > 1:
        note += f" (the other {len(found) - 1} run(s) agree)"
    if calculate and first.train_portion >= 1:
        raise UserError(f"{flags} needs a validation split that the models did not train on, and theirs holds "
                        f"nothing out ({note}): train them with --train_portion < 1, or leave out {flags} "
                        f"(equal weights)")
    return first, note


def _ensemble_of(stacked: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], calculate: bool,
                 per_class: bool) -> tuple[torch.Tensor, dict[str, float], float | None, float | None]:
    """Weights, test report, train and valid accuracy of the ensemble of the stacked models' logits."""
    if calculate:
        weights = calculate_weights(stacked["valid"], targets["valid"], per_class=per_class)
    else:
        weights = torch.ones(stacked["test"].shape[0])
    test = scores_report(combine(stacked["test"], weights), targets["test"])
    train_acc = (scores_report(combine(stacked["train"], weights), targets["train"])["acc"]
                 if "train" in stacked else None)
    valid_acc = scores_report(combine(stacked["valid"], weights), targets["valid"])["acc"] if calculate else None
    return weights, test, train_acc, valid_acc


def main(args: argparse.Namespace) -> dict:
    """Evaluate the ensemble of --models_folder; returns what ensemble.json holds."""
    from tqdm import tqdm

    cli.check_common_args(args)
    folder = Path(args.models_folder)
    if not folder.is_dir():
        raise UserError(f"--models_folder {folder} is not a folder")
    runs = eval_folders(folder)
    default_out = folder / "ensemble.json"
    output = check_output(args.output or default_out, "-o", runs, allowed=[default_out])
    if not runs:
        if (folder / "weights.pt").is_file() or (folder / "checkpoint.pt").is_file():
            raise UserError(f"--models_folder {folder} is one training run, not a folder of runs: give the folder "
                            f"that holds the eval-*/ runs (its parent, {folder.resolve().parent}), or evaluate this "
                            f"run alone with python test.py {folder}")
        raise UserError(f"no model to ensemble in {folder}: expected eval-*/ folders with weights.pt "
                        f"(here or one level down)")
    runs, skipped = finished_runs(runs)
    if not runs:
        raise UserError(f"no model to ensemble in {folder}: none of its {len(skipped)} eval-* folder(s) has "
                        f"weights.pt ({len(skipped)} skipped: training not finished)")
    args, note = dataset_settings(runs, args)
    calculate = args.calculate or args.per_class
    weighting = "per_class" if args.per_class else ("per_model" if calculate else "equal")
    if args.output is None and output.is_file():  # an ensemble made otherwise is kept: this call writes elsewhere
        try:
            record = read_json(output)
            had, had_amp = record.get("weighting"), record.get("amp")
        except (UserError, OSError, AttributeError):  # unreadable or not an ensemble: nothing to keep
            had, had_amp = None, None
        if had in ("per_model", "per_class") and had != weighting:
            raise UserError(f"{output} holds the {had.replace('_', '-')} weighted ensemble; this call's "
                            f"{weighting.replace('_', '-')} weights would replace it: give -o FILE")
        if had_amp in ("none", "bf16") and had_amp != args.amp:  # bf16 logits give other predictions
            raise UserError(f"{output} holds the ensemble of logits under --amp {had_amp}; this call's --amp "
                            f"{args.amp} would replace it: give -o FILE")
    device = get_device(args.device, args.gpu)
    configure_torch(device, args.threads, training=False)
    logger = get_logger("ensemble")
    logger.info("%s", note)
    set_seed(args.seed)
    t0 = time.time()
    loaders, info = build_loaders(args, device)
    log_data_notes(logger, info)
    moved: str | None = None  # the first run whose recorded split the data no longer gives (split_mismatch)
    for run in runs:  # labels are class indices: a class folder renamed since a run trained would shift them
        if not (run / "args.json").is_file():
            continue
        recorded = read_json(run / "args.json")  # read by dataset_settings already: a dict
        if why := class_mismatch(recorded.get("classes"), info.classes):
            raise UserError(f"{run} was trained on other class folders than those in {args.data}, which now have "
                            f"{why}: ensemble on the data the runs were trained on")
        if moved is None and (why := split_mismatch(recorded.get("data_split"), info.split)):
            moved = f"{run}'s split of the training set was {why} in {args.data}"
    if moved is not None:  # images added to or removed from the training folders since: the part held out now
        # is partly what the runs trained on, and weights or accuracies of it would be of their training images
        if calculate:
            raise UserError(f"{weighing_flags(args)} needs the split the runs held out, but {moved}: ensemble on "
                            f"the data the runs were trained on, or leave out {weighing_flags(args)} (equal weights)")
        logger.info("%s: no train_acc", moved)
        loaders.pop("train", None)
    if calculate and "valid" not in loaders:
        raise UserError(f"{weighing_flags(args)} needs a validation split: --train_portion {args.train_portion} "
                        "leaves none")
    for entry in skipped:
        logger.info("skipping %s: %s", entry["run_dir"], entry["reason"])
    for batch in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:  # eval_folders' two levels
        if note := not_started_note(batch):
            logger.info("%s", note)
    models = load_models(runs, args, info.num_classes, device, logger)
    autocast = make_autocast(device, args.amp)
    splits = ["test", "train"] + (["valid"] if calculate else [])
    logits: dict[str, list[torch.Tensor]] = {s: [] for s in splits}
    targets: dict[str, torch.Tensor] = {}
    per_model = []
    bar = tqdm(models, desc="models", leave=False, file=sys.stderr, disable=bar_off(args.no_progress),
               dynamic_ncols=True)
    for entry in bar:
        for split in splits:
            if split not in loaders:
                continue
            out, y = collect_logits(entry["model"], loaders[split], autocast)
            logits[split].append(out)
            targets[split] = y
        own = scores_report(logits["test"][-1], targets["test"])
        per_model.append({"name": entry["name"], "run_dir": entry["run_dir"], "test_loss": own["loss"],
                          "test_acc": own["acc"], "test_top5": own["top5"]})
        logger.info("%s: test top-1 %.2f%%, top-5 %s, loss %.4f", entry["name"], own["acc"],
                    percent_or_na(own["top5"]), own["loss"])
        entry["model"].cpu()
    stacked = {s: torch.stack(v) for s, v in logits.items() if v}
    weights, test, train_acc, valid_acc = _ensemble_of(stacked, targets, calculate, args.per_class)
    for i, (model_info, w) in enumerate(zip(per_model, weights)):
        model_info["weight"] = w.tolist()
        model_info["seed"], model_info["run_valid_acc"] = models[i]["seed"], models[i]["run_valid_acc"]
        if calculate:
            model_info["valid_acc"] = accuracy(stacked["valid"][i], targets["valid"])[0]
    groups = genotype_groups(models)
    best, best_note = None, None
    if any(len(g) > 1 for g in groups):
        chosen, best_note = best_by_held_out(models, groups)
        if chosen is not None:
            subset = {s: v[chosen] for s, v in stacked.items()}
            b_weights, b_test, b_train, b_valid = _ensemble_of(subset, targets, calculate, args.per_class)
            best = {"chosen_by": "valid_acc of each run's result.json (its own held-out split), never the test set",
                    "models": [{k: per_model[i][k] for k in ("name", "run_dir", "seed", "run_valid_acc", "test_acc")}
                               for i in chosen],
                    "weights": b_weights.tolist(), "test_loss": b_test["loss"], "test_acc": b_test["acc"],
                    "test_top5": b_test["top5"], "train_acc": b_train, "valid_acc": b_valid}
            logger.info("ensemble of the best run per genotype (by held-out valid accuracy) %s: test top-1 %.2f%%",
                        ", ".join(f"{per_model[i]['name']} seed {per_model[i]['seed']}" for i in chosen),
                        b_test["acc"])
        else:
            logger.info("%s", best_note)
    result = {
        "models_folder": str(args.models_folder),
        "weighting": weighting,
        "weights": weights.tolist(),
        "models": per_model,
        "skipped": skipped,
        "test_loss": test["loss"], "test_acc": test["acc"], "test_top5": test["top5"],
        "train_acc": train_acc, "valid_acc": valid_acc,
        "best_single_test_acc": max(m["test_acc"] for m in per_model),
        "runs_per_genotype": _counts_by_name([(per_model[g[0]]["name"], len(g)) for g in groups]),
        "best_per_genotype": best,
        **({"best_per_genotype_note": best_note} if best_note else {}),
        "dataset": info.name, "image_size": info.image_size, "num_classes": info.num_classes,
        "train_portion": args.train_portion, "subsample": args.subsample,
        "subsample_seed": args.seed if args.subsample is not None and _draws_subsample(args) else None,
        "data_split": info.split, "device": str(device),
        # the logits' precision: every number above is of it (bf16 changes predictions; test.json records it too)
        "amp": args.amp, "wall_time": round(time.time() - t0, 3),
    }
    write_json_atomic(output, result)
    logger.info("ensemble of %d model(s) (%s weights%s)%s: test top-1 %.2f%%, top-5 %s, loss %.4f; train acc %s; "
                "valid acc %s; best single model %.2f%%", len(models), result["weighting"],
                "" if args.amp == "none" else f", logits under --amp {args.amp}",
                f", {len(skipped)} unfinished run(s) skipped" if skipped else "", test["acc"],
                percent_or_na(test["top5"]), test["loss"], "n/a" if train_acc is None else f"{train_acc:.2f}%",
                "n/a" if valid_acc is None else f"{valid_acc:.2f}%", result["best_single_test_acc"])
    logger.info("written %s", output)
    return result


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
