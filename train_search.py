"""One PC-DARTS architecture search with an L1/L2 penalty on the network weights.

    python train_search.py --set cifar10 -l2 0.001 -cw 0.999 --weight_decay 0
    python train_search.py --set digits --image_size 8 --layers 3 --init_channels 8 --epochs 4 --begin 1 \
        --batch_size 64 --threads 1                                     # a tiny search on the CPU, ~30 s
    python train_search.py --resume logs/search-EXP-20260101-120000      # continue a killed search

Loss of the weights: cw * CE + l1 * sum|w| + l2 * sum w^2 over the network weights (not alphas or
betas); a negative penalty weight turns that term off. With --cost {params,flops,latency} the
weight step is plain CE and the architecture step adds --cost_weight * R(alpha, beta) / R_ref, the expected cost of the
evaluation network (cost.py, docs/objectives.md). The architecture takes one Adam step per
weight step on a fresh held-out batch from epoch --begin on, descending the held-out CE alone (with --cost,
cw * CE + the cost). The run folder
``logs/search-<save>-<time>/`` holds args.json, log.txt, metrics.csv (a row per epoch),
checkpoint.pt (resume state, every epoch), and at the end result.json, genotype.json and
weights.pt (the supernet with its alphas and betas).
"""

from __future__ import annotations

if __name__ == "__main__":  # before torch's imports: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import argparse
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import cli
import cost as costlib
import data as datalib
from architect import Architect
from cli import is_imagenet
from fastpath import StepGraph, compile_model, load_optimizer_state, make_autocast
from fused_search import enable_fused
from genotypes import Genotype, genotype_to_dict, save_genotype
from model import build_network, init_channels_error, paper_network
from model_search import Network, NetworkImageNet
from utils import (
    MetricsCSV,
    UserError,
    bar_off,
    check_resume_checkpoint,
    check_resumed_split,
    check_state_fits,
    configure_torch,
    count_parameters_in_MB,
    create_run_dir,
    data_recorded_in,
    device_note,
    epoch_done,
    get_device,
    get_logger,
    get_rng_state,
    load_checkpoint,
    load_run_args,
    lock_run_dir,
    log_data_notes,
    logs_released,
    read_json,
    resumable,
    resume_point,
    run_data_record,
    run_main,
    save_args,
    save_atomic,
    set_rng_state,
    set_seed,
    shell_command,
    write_json_atomic,
)

METRICS = [
    "epoch", "lr", "train_loss", "train_acc", "criterion_loss", "l1_loss", "l2_loss",
    "arch_valid_loss", "valid_loss", "valid_acc", "epoch_time", "genotype",
]
# What checkpoint.pt holds (a resume needs all of it).
CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "arch_optimizer", "rng", "last")
# What multiobjective.py, executors.py, batch_size_predict.py and bench/ use of this script.
__all__ = [
    "METRICS", "main", "build_parser", "add_arguments", "validate_search_args", "Penalty", "SearchStepper",
    "SearchDiverged", "cosine_lr", "build_data", "eval_model_size", "paper_train_flags", "train_epoch", "Search",
    "build_search",
]


class SearchDiverged(UserError):
    """The loss became NaN or infinite: the search stops and a sweep records it as failed."""


@dataclass
class Penalty:
    """The weighted loss cw * CE + l1 * sum|w| + l2 * sum w^2, with the penalty's gradient added directly.

    Adding l1 * sign(w) and 2 * l2 * w to the gradients after backward gives exactly the gradient
    of the penalised loss, without building the penalty into the autograd graph every step.
    """

    criterion_weight: float = 1.0
    l1_weight: float = -1.0
    l2_weight: float = -1.0

    @property
    def objective(self) -> str | None:
        """Which penalty the sweep's objective R is: the first one with a weight > 0, else the first one switched on
        (at weight 0). ``-l1 0 -l2 0.01`` is an l2 search of nu 0.01: the l1 term at weight 0 adds nothing."""
        for name, weight in (("l1", self.l1_weight), ("l2", self.l2_weight)):
            if weight > 0:
                return name
        if self.l1_weight >= 0:
            return "l1"
        if self.l2_weight >= 0:
            return "l2"
        return None

    def describe(self) -> str:
        """The loss in words, for the search's log: with both penalties on, which one the result's R is (its
        weight the result's nu), the other being in the loss all the same."""
        terms = [f"{self.criterion_weight:.6g} * CE"]
        terms += [f"{w:.6g} * {norm}" for w, norm in ((self.l1_weight, "sum|w|"), (self.l2_weight, "sum w^2")) if w > 0]
        if self.l1_weight > 0 and self.l2_weight > 0:
            return " + ".join(terms) + f" (both penalties on: the result's R and nu are {self.objective}'s)"
        return " + ".join(terms)

    @staticmethod
    def values(weights: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum |w|, sum w^2) in two fused foreach reductions, without a host sync."""
        l1 = torch.stack(torch._foreach_norm(weights, 1)).sum()
        l2 = torch.stack(torch._foreach_norm(weights, 2)).square().sum()
        return l1, l2

    def __call__(self, logits: torch.Tensor, target: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
        """The full differentiable loss (used where the weights themselves are differentiated, e.g. unrolled)."""
        loss = self.criterion_weight * F.cross_entropy(logits.float(), target)
        if self.l1_weight > 0:
            loss = loss + self.l1_weight * torch.stack(torch._foreach_norm(weights, 1)).sum()
        if self.l2_weight > 0:
            loss = loss + self.l2_weight * torch.stack(torch._foreach_norm(weights, 2)).square().sum()
        return loss

    @torch.no_grad()
    def add_grad(self, weights: list[torch.Tensor]) -> None:
        grads = [w.grad for w in weights]
        if self.l1_weight > 0:
            torch._foreach_add_(grads, torch._foreach_sign(weights), alpha=self.l1_weight)
        if self.l2_weight > 0:
            torch._foreach_add_(grads, weights, alpha=2.0 * self.l2_weight)


def add_arguments(parser: argparse.ArgumentParser, variant: str = "cifar") -> None:
    """The search flags, with the original's names and defaults; ``variant='imagenet'`` gives those of the
    original's ImageNet search (multiobjective.py's ``imagenet`` subcommand)."""
    if variant == "imagenet":
        cli.add_data_args(parser, {"set": "imagenet", "workers": 4})
        cli.add_optim_args(parser, {"batch_size": 128, "learning_rate": 0.5, "learning_rate_min": 0.0})
        cli.add_search_args(parser, {"arch_learning_rate": 6e-3, "begin": 35})
        # imagenet_search's train/ and val/ are the two halves: nothing splits a training set or downloads CIFAR
        cli.mark_no_effect(parser, {"train_portion"}, "imagenet_search's train/ trains the weights, val/ the "
                                                      "architecture")
        cli.mark_no_effect(parser, {"download"}, "CIFAR's; ImageNet is never downloaded")
    else:
        cli.add_data_args(parser)
        cli.add_optim_args(parser)
        cli.add_search_args(parser)
    cli.add_hardware_args(parser, supernet=True)
    cli.add_speed_args(parser)
    cli.add_output_args(parser)
    costlib.add_eval_args(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        description="One PC-DARTS search with an L1/L2 weight penalty.",
        formatter_class=cli.HelpFormatter,
    )
    add_arguments(parser)
    cli.add_penalty_args(parser)
    costlib.add_cost_args(parser)
    parser.add_argument("--imagenet", action="store_true",
                        help="search the ImageNet variant (stride-8 stem, K=2) on <data>/imagenet_search; the other "
                             "flags keep their CIFAR defaults here, where multiobjective.py's imagenet subcommand "
                             "takes PC-DARTS's ImageNet ones (--batch_size 128 --learning_rate 0.5 "
                             "--learning_rate_min 0 --arch_learning_rate 6e-3 --begin 35: give them to match); "
                             "--train_portion and --download have no effect then (the halves are imagenet_search's "
                             "train/ and val/)")
    return parser


def cosine_lr(args: argparse.Namespace, epoch: int) -> float:
    """CosineAnnealingLR's value at ``epoch`` (closed form, so resuming needs no scheduler state).

    The ImageNet variant warms up linearly over the first 5 epochs when the batch exceeds 256, as PC-DARTS does:
    --learning_rate * (epoch + 1) / 5, a ramp of the initial lr (not of that epoch's cosine value).
    """
    if is_imagenet(args) and epoch < 5 and args.batch_size > 256:
        return args.learning_rate * (epoch + 1) / 5.0
    return args.learning_rate_min + (args.learning_rate - args.learning_rate_min) * (
        1 + math.cos(math.pi * epoch / args.epochs)
    ) / 2


def build_data(args: argparse.Namespace, device: torch.device) -> tuple[Any, Any, datalib.DatasetInfo]:
    """Training half and held-out half of the training set (or imagenet_search's train/val)."""
    if is_imagenet(args):
        train_ds, valid_ds, info = datalib.load_imagenet_search(args.data, image_size=args.image_size,
                                                                cutout=args.cutout, cutout_length=args.cutout_length)
        train_idx = torch.arange(len(train_ds))
        valid_idx = torch.arange(len(valid_ds))
        if args.subsample:
            train_idx = datalib.stratified_subsample(datalib.targets_of(train_ds), args.subsample, args.seed)
            valid_idx = datalib.stratified_subsample(datalib.targets_of(valid_ds), args.subsample, args.seed)
        # the halves are two folders: --train_portion has no effect here, and --subsample keeps every class
        datalib.check_classes({"train/": datalib.targets_of(train_ds)[train_idx],
                               "val/": datalib.targets_of(valid_ds)[valid_idx]},
                              train_ds.classes, f"{Path(args.data) / 'imagenet_search'}'s train/val split",
                              remedy="add images of it there")
        info = dataclasses.replace(info, split={"kind": "given", "seed": None, "train_portion": None,
                                                "train": len(train_idx), "held_out": len(valid_idx)})
    else:
        train_ds, info = datalib.load_train_set(
            args.set, args.data, download=args.download, cutout=args.cutout, cutout_length=args.cutout_length,
            image_size=args.image_size,
        )
        valid_ds = train_ds
        if args.train_portion >= 1:
            raise UserError("--train_portion 1 leaves no held-out data for the architecture step")
        train_idx, valid_idx, split = datalib.split_training_set(train_ds, args.subsample, args.seed,
                                                                 args.train_portion)
        info = dataclasses.replace(info, split=split)
    info = datalib.with_on_device_note(info, args.data_on_device, train_ds)
    common = dict(seed=args.seed, device=device, workers=args.workers,
                  on_device=datalib.keep_on_device(args.data_on_device, train_ds))
    if len(train_idx) < args.batch_size or len(valid_idx) < args.batch_size:
        raise UserError(
            f"--batch_size {args.batch_size} is larger than the search split "
            f"({len(train_idx)} train / {len(valid_idx)} held out): lower it or use more data"
        )
    # A lone last sample would make BatchNorm fail in training mode where a cell's map is 1x1 (train.py does the
    # same); the architecture step's held-out batches are always full (sample_batch).
    train_loader = datalib.build_loader(train_ds, train_idx, args.batch_size, train=True,
                                        drop_last=len(train_idx) % args.batch_size == 1, **common)
    valid_loader = datalib.build_loader(valid_ds, valid_idx, args.batch_size, train=True, **common)
    return train_loader, valid_loader, info


def result_losses(result: dict[str, Any]) -> str:
    """The result line's cross-entropy and R: an l1/l2 search's training CE and norm (its front's), a cost search's
    training CE, then the held-out CE its front takes (pareto.front_ce_key) and R in the cost's unit."""
    if "cost" not in result:
        return f"CE {result['criterion_loss']:.4f}, {result['objective']} {result['reg_loss']:.4g}"
    held_out = "n/a" if result.get("valid_loss") is None else f"{result['valid_loss']:.4f}"
    return (f"train CE {result['criterion_loss']:.4f}, held-out CE {held_out}, {result['objective']} "
            f"{result['reg_loss']:.4g} {result['cost']['unit']}")


def paper_train_flags(imagenet: bool) -> tuple[str, ...]:
    """train.py's flags for the paper's evaluation network (model.paper_network): the train commands of an
    ImageNet search or sweep need them, train.py's defaults being CIFAR's."""
    channels, layers = paper_network(imagenet)
    return "--init_channels", str(channels), "--layers", str(layers)


def eval_model_size(genotype: Genotype, num_classes: int, imagenet: bool) -> float:
    """Parameters (M) of the evaluation network this genotype builds at the paper's size: NetworkCIFAR(36,
    classes, 20) or NetworkImageNet(48, classes, 14), counted on the meta device (no memory, no RNG)."""
    with torch.device("meta"):
        net = build_network(genotype, num_classes, *paper_network(imagenet), False, imagenet)
    return count_parameters_in_MB(net)


@torch.no_grad()
def infer(model: nn.Module, loader: Any, autocast: Any) -> tuple[float, float]:
    """Loss and top-1 (%) of the supernet over a loader, in eval mode (BatchNorm running statistics)."""
    model.eval()
    loss_sum = torch.zeros((), device=model.alphas_normal.device)
    correct = torch.zeros((), device=loss_sum.device)
    n = 0
    for x, y in loader:
        with autocast():
            logits = model(x)
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
        n += y.numel()
    model.train()
    return (loss_sum / max(n, 1)).item(), (100.0 * correct / max(n, 1)).item()


def _resolve_args(args: argparse.Namespace) -> tuple[argparse.Namespace, Path | None]:
    """On --resume, take the run's own arguments (so the continued run is the same run; cli.resume_args)."""
    if not args.resume:
        return args, None
    run_dir, saved = load_run_args(args.resume, "search")
    resumed = cli.resume_args(args, saved, source=f"{run_dir / 'args.json'}")
    _given_table_is_the_runs(args, run_dir)
    return resumed, run_dir


def _given_table_is_the_runs(typed: argparse.Namespace, run_dir: Path) -> None:
    """A --latency_table typed on --resume must hold the table the run copied into its folder, which is the one it
    reads (build_cost_model): resume_args compares only the path, so a table remade there since was taken and
    ignored without a word. One line instead, as a resumed sweep's (multiobjective._given_table_is_the_sweeps)."""
    flags = cli.typed_flags(typed)
    own = run_dir / "latency_table.json"
    if flags is None or "latency_table" not in flags or not typed.latency_table or not own.is_file():
        return
    costlib.refuse_another_table(typed.latency_table, own, "search")


def partial_channels(args: argparse.Namespace) -> int:
    """K of the supernet's mixed ops: --partial_channels, else PC-DARTS's (4 on CIFAR, 2 on ImageNet). A run
    folder written before the flag existed has none in its args.json and gets the same default."""
    given = getattr(args, "partial_channels", None)
    return int(given) if given is not None else (2 if is_imagenet(args) else 4)


def validate_search_args(args: argparse.Namespace, data: bool = False) -> None:
    """Every check of a search's flags, in one place: main runs it first, and the sweep before its folder exists.

    With ``data`` it also loads the data and splits it as the search will (on the CPU), so that a
    check that needs the dataset (--batch_size larger than a half) fails before a sweep writes
    anything rather than inside each of its searches.
    """
    cli.settle_imagenet_set(args)
    cli.check_common_args(args)  # ranges of every flag, torch's optimizers' included
    cli.check_cosine_floor(args)
    cli.check_cutout(args)
    cli.check_training_batch(args)
    if not getattr(args, "resume", None):  # a resumed run keeps its own
        if args.begin >= args.epochs:
            raise UserError(f"--begin {args.begin} >= --epochs {args.epochs}: the search would take no architecture "
                            "step and derive its cell from the random initial alphas (lower --begin: PC-DARTS starts "
                            "the architecture steps at epoch 15 of 50 on CIFAR, 35 of 50 on ImageNet)")
        if args.arch_learning_rate == 0:
            raise UserError("--arch_learning_rate 0: the architecture steps would not move the alphas, and the search "
                            "would derive its cell from their random initial values")
    if why := init_channels_error(args.init_channels, is_imagenet(args)):  # the supernet's first cell as the eval net's
        raise UserError(f"--init_channels {args.init_channels} {why}")
    k = partial_channels(args)
    if args.init_channels % k:
        raise UserError(f"--init_channels {args.init_channels} must be a multiple of {k} (--partial_channels): each "
                        f"mixed op works on 1/{k} of the channels, and a reduction cell's factorised reduce halves "
                        "that share")
    for flag, key in (("-l1", "l1_weight"), ("-l2", "l2_weight"), ("-cw", "criterion_weight")):
        value = getattr(args, key, None)  # a sweep sets them per search
        # the penalties are added to a float32 loss: past float32's max it is inf, and the search stopped on
        # "loss became nan", blaming --learning_rate
        if value is not None and not abs(value) <= cli.FLOAT32_MAX:
            raise UserError(f"{flag} {value} must be a finite number {cli.FLOAT32_LIMIT}")
    objective = getattr(args, "objective", None)  # a sweep's flags are checked as its searches' will be
    kind = getattr(args, "cost", None) or (objective if objective in costlib.COSTS else None)
    if kind is not None and max(getattr(args, "l1_weight", -1.0), getattr(args, "l2_weight", -1.0)) >= 0:
        raise UserError(f"--cost {kind} replaces the -l1/-l2 weight penalty: give one of them")
    costlib.check_cost_args(args, kind)
    if not getattr(args, "resume", None):  # a resumed run's objective is in its args.json: cli.resume_args checks there
        cw, l1, l2 = (getattr(args, key, None) for key in ("criterion_weight", "l1_weight", "l2_weight"))
        if kind is None and cw == 0 and l1 is not None and l2 is not None and max(l1, l2) <= 0:  # (a sweep: None)
            raise UserError("-cw 0 with no -l1/-l2 penalty: the weight step's loss (cw * CE + the penalties) would be "
                            "0, and the architecture would be searched on an untrained supernet (give -cw > 0, or a "
                            "penalty weight > 0)")
        if getattr(args, "cost", None) and args.cost_weight == 0 and args.criterion_weight == 0:
            raise UserError(f"--cost {kind} --cost_weight 0 -cw 0: the architecture step's loss (cw * CE + nu * "
                            "R/R_ref) would be 0, and the search would derive its cell from the random initial alphas "
                            "(give -cw or --cost_weight a weight > 0)")
        costlib.check_cost_flags_used(args, kind)
    if data:
        info = build_data(args, torch.device("cpu"))[2]
        # the table's shapes must be this search's evaluation network's (the data's classes), its times in range
        if kind == "latency":
            costlib.CostModel.build("latency", costlib.eval_spec(args, info.num_classes, is_imagenet(args)),
                                    costlib.load_latency_table(args.latency_table))


def main(args: argparse.Namespace) -> dict:
    """Run (or resume) one search; returns the result dict that result.json holds."""
    validate_search_args(args)
    typed = args  # what the command line said (cli.typed_flags), before the run's own arguments replace it
    args, run_dir = _resolve_args(args)
    recorded = cli.recorded_data_source(typed, run_dir / "args.json") if run_dir is not None else None
    # on --resume the folder is locked before its state (result.json, checkpoint.pt) is read: a process still at
    # work there would end, or write a newer checkpoint, while this one loads the data, and this one go on from the
    # older state (a fresh run is locked once its folder exists, below)
    run_lock = lock_run_dir(run_dir) if run_dir is not None else None
    try:
        if run_dir is not None and (run_dir / "result.json").is_file():
            print(f"{run_dir} has finished: nothing to resume (its result.json stands)", flush=True)
            return read_json(run_dir / "result.json")
        device = get_device(args.device, args.gpu)
        cli.check_speed_args(args, device, cli.typed_flags(typed))
        configure_torch(device, args.threads)
        imagenet = is_imagenet(args)
        checkpoint = None
        if run_dir is not None and (run_dir / "checkpoint.pt").is_file():
            # read onto the CPU: load_state_dict moves what the model and optimizers take to the device, and no
            # second copy of the weights stays on the GPU for the whole run
            checkpoint = check_resume_checkpoint(load_checkpoint(run_dir / "checkpoint.pt"),
                                                 run_dir / "checkpoint.pt", CHECKPOINT_KEYS)
        set_seed(args.seed)
        with data_recorded_in(recorded):  # data errors come before a run folder exists
            train_loader, valid_loader, info = build_data(args, device)
        args = datalib.with_loader_placement(args, train_loader)  # what args.json records: where the data was
        if run_dir is not None:
            check_resumed_split(run_dir, info.split, info.classes)
        cost_model = build_cost_model(args, info.num_classes, imagenet, run_dir)
        if run_dir is None and getattr(args, "run_dir", None):
            run_dir = Path(args.run_dir)  # chosen by the caller (the sweep records it before starting)
            run_dir.mkdir(parents=True, exist_ok=True)
        if run_dir is None:
            run_dir = create_run_dir("search", args.save, args.logdir)
        with run_lock or lock_run_dir(run_dir), resumable("train_search.py", run_dir), \
                logs_released(f"search.{run_dir.name}"):  # locked before anything is written
            return _search(args, run_dir, device, checkpoint, (train_loader, valid_loader), info, imagenet,
                           cost_model)
    finally:
        if run_lock is not None:
            run_lock.release()


def _search(args: argparse.Namespace, run_dir: Path, device: torch.device, checkpoint: dict | None,
            loaders: tuple[Any, Any], info: datalib.DatasetInfo, imagenet: bool,
            cost_model: costlib.CostModel | None) -> dict:
    """main's search, in its locked run folder, from the checkpoint's epoch on."""
    train_loader, valid_loader = loaders
    logger = get_logger(f"search.{run_dir.name}", run_dir)
    logger.info("run folder: %s", run_dir)
    log_data_notes(logger, info)
    if cost_model is not None and cost_model.latency_table is not None \
            and not (run_dir / "latency_table.json").is_file():
        write_json_atomic(run_dir / "latency_table.json", cost_model.latency_table)  # the run's own copy
    if checkpoint is None and not getattr(args, "resume", None):
        save_args(args, run_dir, device, kind="search", extra=run_data_record(info))
        logger.info("args = %s", vars(args))
    elif checkpoint is None:  # stopped in its first epoch: args.json stays the record of the call that started it
        logger.info("resuming %s from the start (no checkpoint.pt yet)", run_dir)
    else:
        logger.info("resuming %s %s", run_dir, resume_point(checkpoint["epoch"]))

    setup = build_search(args, info.num_classes, device, cost_model)
    model, optimizer, architect = setup.model, setup.optimizer, setup.architect
    if checkpoint is not None:
        check_state_fits(model, checkpoint["model"], run_dir / "checkpoint.pt")
    logger.info("device %s, %s: %d train / %d held-out images (%s split), %d classes, supernet %.3fM weights",
                device_note(device), info.name, len(train_loader.indices), len(valid_loader.indices),
                (info.split or {}).get("kind", "given"), info.num_classes, sum(p.numel() for p in setup.weights) / 1e6)
    if cost_model is not None:
        about = cost_model.describe()
        low, high = about["range"]
        logger.info("cost %s of %s: R_ref %.6g %s, fixed parts %.6g; the space's genotypes cost %.6g to %.6g "
                    "(%.2fx: no front spans more)", args.cost, cost_model.spec, about["reference"],
                    costlib.UNITS[args.cost], about["fixed"], low, high, high / low)
        logger.info("architecture step: %.6g * held-out CE + %.6g * R / R_ref%s", args.criterion_weight,
                    args.cost_weight, " (--cost_weight 0: the cost is measured, not penalised)"
                    if args.cost_weight == 0 else "")
    else:
        logger.info("weight step: %s", setup.penalty.describe())
    metrics = MetricsCSV(run_dir / "metrics.csv", METRICS + ([f"{args.cost}_loss"] if cost_model else []))
    start_epoch = 0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        load_optimizer_state(optimizer, checkpoint["optimizer"])
        load_optimizer_state(architect.optimizer, checkpoint["arch_optimizer"])
        set_rng_state(checkpoint["rng"], device)
        start_epoch = int(checkpoint["epoch"])
    metrics.truncate_after(start_epoch)

    last: dict[str, Any] = {}
    for epoch in range(start_epoch, args.epochs):
        lr = setup.start_epoch(epoch)
        t0 = time.time()
        last = train_epoch(args, epoch, model, setup.stepper, train_loader, valid_loader, logger)
        genotype = model.genotype()
        logger.info("epoch %d lr %e genotype = %s", epoch, lr, genotype)
        valid_loss = valid_acc = None
        if epoch == args.epochs - 1:
            valid_loss, valid_acc = infer(model, valid_loader, setup.autocast)
            logger.info("valid_acc %f valid_loss %f", valid_acc, valid_loss)
        last.update(valid_loss=valid_loss, valid_acc=valid_acc)
        metrics.append({
            "epoch": epoch, "lr": lr, **{k: last[k] for k in (
                "train_loss", "train_acc", "criterion_loss", "l1_loss", "l2_loss", "arch_valid_loss")},
            "valid_loss": valid_loss, "valid_acc": valid_acc, "epoch_time": round(time.time() - t0, 3),
            "genotype": json.dumps(genotype_to_dict(genotype)),
            **({f"{args.cost}_loss": expected_cost(cost_model, model)} if cost_model else {}),
        })
        save_atomic({
            "epoch": epoch + 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "arch_optimizer": architect.optimizer.state_dict(), "rng": get_rng_state(device), "last": last,
        }, run_dir / "checkpoint.pt")
        logger.info(epoch_done(epoch, args.epochs, time.time() - t0))
    if not last:  # resumed after the final epoch but before result.json was written
        last = checkpoint["last"] if checkpoint else {}
    return finish(args, run_dir, model, info, setup.penalty, last, imagenet, logger, cost_model)


@dataclass
class Search:
    """What a search step needs, built from train_search.py's parsed arguments by ``build_search``."""

    args: argparse.Namespace
    model: Network
    weights: list[torch.Tensor]  # the network weights (not alphas or betas): SGD's and the penalty's
    penalty: Penalty  # the weight step's loss (plain CE with --cost: the cost goes on the architecture step)
    optimizer: torch.optim.Optimizer
    architect: Architect
    stepper: SearchStepper
    autocast: Any
    lr_tensor: torch.Tensor | None  # under --cuda_graphs the lr lives here, read by the captured step

    def start_epoch(self, epoch: int) -> float:
        """Set the epoch's learning rate (``cosine_lr``, closed form); returns it."""
        lr = cosine_lr(self.args, epoch)
        if self.lr_tensor is not None:
            self.lr_tensor.fill_(lr)  # in place: the captured step reads this tensor
        for group in self.optimizer.param_groups:
            group["lr"] = lr if self.lr_tensor is None else self.lr_tensor
        return lr


def build_search(args: argparse.Namespace, num_classes: int, device: torch.device,
                 cost_model: costlib.CostModel | None = None, *, fused_optim: bool = False) -> Search:
    """The supernet (plain or fused), penalty, SGD, Architect and stepper of a search, from train_search.py's
    arguments: what ``main`` searches with and what bench/speed.py times (one place to change them).

    The supernet is initialised from the current RNG state on ``device``. ``fused_optim`` gives SGD and the
    architecture's Adam their fused kernels without CUDA graphs (a lever bench/speed.py times on its own;
    --cuda_graphs fuses SGD anyway).
    """
    net_cls = NetworkImageNet if is_imagenet(args) else Network
    model = net_cls(args.init_channels, num_classes, args.layers, k=partial_channels(args)).to(device)
    if getattr(args, "fused", False):
        enable_fused(model)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    weights = list(model.weights())
    penalty = Penalty(args.criterion_weight, args.l1_weight, args.l2_weight)
    # The architecture step descends the held-out CE alone, as the original's (model._loss): cw and the weight
    # penalty belong to the weight step (the unrolled virtual step follows that step's loss, train_loss_fn).
    arch_loss_fn = Penalty(1.0, -1.0, -1.0)
    if cost_model is not None:  # the cost goes on the architecture step; the weight step is plain CE
        cost_model.to(device)
        arch_loss_fn, penalty = Penalty(args.criterion_weight, -1.0, -1.0), Penalty(1.0, -1.0, -1.0)
    graphs = bool(args.cuda_graphs)
    # Under CUDA graphs the learning rate lives in a device tensor that each epoch refills, so one
    # captured step serves every epoch (fused SGD takes a tensor lr without a host sync).
    # float32 whatever the default dtype: the fused CUDA kernel reads the lr tensor as float
    lr_tensor = torch.tensor(args.learning_rate, dtype=torch.float32, device=device) if graphs else None
    optimizer = torch.optim.SGD(weights, lr_tensor if graphs else args.learning_rate, momentum=args.momentum,
                                weight_decay=args.weight_decay, **({"fused": True} if graphs or fused_optim else {}))
    architect = Architect(
        model, arch_loss_fn, momentum=args.momentum, weight_decay=args.weight_decay,
        arch_learning_rate=args.arch_learning_rate, arch_weight_decay=args.arch_weight_decay,
        capturable=graphs and device.type == "cuda", fused=fused_optim,
        arch_cost=None if cost_model is None else arch_cost_fn(cost_model, model, args.cost_weight, device),
        train_loss_fn=penalty, grad_clip=args.grad_clip if is_imagenet(args) else None,
    )
    if args.compile:
        compile_model(model, args.compile_mode or "default")
    autocast = make_autocast(device, args.amp, graphs=graphs)
    stepper = SearchStepper(model, weights, penalty, optimizer, architect, grad_clip=args.grad_clip,
                            autocast=autocast, unrolled=args.unrolled, channels_last=bool(args.channels_last),
                            graphs=graphs)
    return Search(args, model, weights, penalty, optimizer, architect, stepper, autocast, lr_tensor)


def build_cost_model(args: argparse.Namespace, num_classes: int, imagenet: bool,
                     run_dir: Path | None) -> costlib.CostModel | None:
    """The --cost objective's model of the evaluation network (a resumed run reads its own table copy)."""
    kind = getattr(args, "cost", None)
    if kind is None:
        return None
    table = None
    if kind == "latency":
        saved = run_dir / "latency_table.json" if run_dir is not None else None
        table = costlib.load_latency_table(saved if saved is not None and saved.is_file() else args.latency_table)
    with torch.random.fork_rng(devices=[]):  # counting builds modules: the supernet's init stays as without --cost
        model = costlib.CostModel.build(kind, costlib.eval_spec(args, num_classes, imagenet), table)
    # the architecture step takes nu * R / R_ref in float32: past its max (--cost_weight 1e39) the loss was inf, the
    # gradients' norm too, and clipping zeroed them: the alphas never moved, and the search recorded its random initial
    # cell as the cost's (refused before the folder exists)
    if not model.term_bound(args.cost_weight) <= cli.FLOAT32_MAX:
        raise UserError(f"--cost_weight {args.cost_weight} is too large: nu * R / R_ref can reach "
                        f"{model.term_bound(args.cost_weight):.4g} on {model.spec} (R up to "
                        f"{model.term_bound(1.0):.4g} times R_ref), and the architecture step takes it in float32, "
                        "at most 3.4e38")
    return model


def arch_cost_fn(cost_model: costlib.CostModel, model: Network, nu: float, device: torch.device) -> Any:
    """nu * R(alpha, beta) / R_ref in float32, for the architecture step (outside autocast)."""
    def arch_cost() -> torch.Tensor:
        with torch.autocast(device.type, enabled=False):
            return (nu * cost_model.expected(*model.arch_parameters()) / cost_model.reference).float()
    return arch_cost


def expected_cost(cost_model: costlib.CostModel, model: Network) -> float:
    """The supernet's expected cost now, in the objective's units (M parameters, M FLOPs, ms)."""
    with torch.no_grad():
        return float(cost_model.expected(*model.arch_parameters())) / costlib.SCALE[cost_model.kind]


def derived_cost(cost_model: costlib.CostModel, genotype: Genotype) -> dict[str, Any]:
    """The derived network's real cost: parameters and FLOPs counted on it, latency from the table."""
    from profiling import build_eval_network, count_flops, count_parameters, input_size

    spec = cost_model.spec
    with torch.random.fork_rng(devices=[]):
        net = build_eval_network(genotype, spec.init_channels, spec.layers, spec.num_classes,
                                 imagenet=spec.imagenet)
    out = {"params_M": count_parameters(net) / 1e6,
           "flops_M": count_flops(net, input_size(spec.imagenet, side=spec.side)) / 1e6,
           "latency_ms": cost_model.genotype_cost(genotype) if cost_model.kind == "latency" else None}
    out["value"] = out[{"params": "params_M", "flops": "flops_M", "latency": "latency_ms"}[cost_model.kind]]
    return out


def finish(
    args: argparse.Namespace, run_dir: Path, model: Network, info: datalib.DatasetInfo, penalty: Penalty,
    last: dict[str, Any], imagenet: bool, logger: Any, cost_model: costlib.CostModel | None = None,
) -> dict:
    genotype = model.genotype()
    objective = penalty.objective or "l2"
    nu = max(args.l1_weight if objective == "l1" else args.l2_weight, 0.0)
    result = {
        "weight": [nu, args.criterion_weight],
        "objective": objective,
        "reg_loss": last.get(f"{objective}_loss"),
        "criterion_loss": last.get("criterion_loss"),
        "l1_loss": last.get("l1_loss"),
        "l2_loss": last.get("l2_loss"),
        "train_loss": last.get("train_loss"),
        "train_acc": last.get("train_acc"),
        "valid_acc": last.get("valid_acc"),
        "valid_loss": last.get("valid_loss"),
        "model_size": eval_model_size(genotype, info.num_classes, imagenet),
        "genotype": genotype_to_dict(genotype),
        "dataset": info.name,
        "num_classes": info.num_classes,
        "epochs": args.epochs,
        "note": getattr(args, "note", None),
        "run_dir": str(run_dir),
        "finished": time.time(),
    }
    if cost_model is not None:  # the sweep's R: the derived network's real cost in the objective's units
        cost = {**cost_model.describe(), **derived_cost(cost_model, genotype), "nu": args.cost_weight,
                "expected": expected_cost(cost_model, model)}
        result.update(weight=[args.cost_weight, args.criterion_weight], objective=cost_model.kind,
                      reg_loss=cost["value"], cost=cost)
    save_atomic(model.state_dict(), run_dir / "weights.pt")
    save_genotype(genotype, run_dir / "genotype.json")
    write_json_atomic(run_dir / "result.json", result)
    logger.info("result: %s, train acc %.2f%%, valid acc %s, %.3fM params at the paper's size", result_losses(result),
                result["train_acc"], "n/a" if result["valid_acc"] is None else f"{result['valid_acc']:.2f}%",
                result["model_size"])
    # an ImageNet search's model_size is NetworkImageNet(48, classes, 14)'s: train.py's defaults are CIFAR's 36 and 20
    paper = () if "cost" in result or not imagenet else paper_train_flags(imagenet)
    logger.info("train it: %s (%s: --init_channels and --layers for another)",
                shell_command("python", "train.py", "--arch", run_dir, *paper),
                "the evaluation network it was costed on" if "cost" in result
                else "the paper's ImageNet network, 48 channels and 14 cells" if imagenet
                else "train.py's default network, 36 channels and 20 cells")
    logger.info("run folder: %s", run_dir)
    return result


def weight_step(
    model: nn.Module, weights: list[torch.Tensor], penalty: Penalty, optimizer: torch.optim.Optimizer,
    x: torch.Tensor, y: torch.Tensor, grad_clip: float, autocast: Any,
) -> torch.Tensor:
    """One penalised weight step; returns [loss*n, ce*n, L1*n, L2*n, correct] to sum, without a host sync."""
    n = y.numel()
    optimizer.zero_grad(set_to_none=True)
    with autocast():
        logits = model(x)
    ce = F.cross_entropy(logits.float(), y)
    (penalty.criterion_weight * ce).backward(inputs=weights)  # the alphas and betas take their own step
    penalty.add_grad(weights)
    nn.utils.clip_grad_norm_(weights, grad_clip)
    optimizer.step()
    with torch.no_grad():
        l1, l2 = Penalty.values(weights)
        loss = penalty.criterion_weight * ce
        if penalty.l1_weight > 0:
            loss = loss + penalty.l1_weight * l1
        if penalty.l2_weight > 0:
            loss = loss + penalty.l2_weight * l2
        return torch.stack([loss * n, ce * n, l1 * n, l2 * n, (logits.argmax(1) == y).sum().float()])


class SearchStepper:
    """One search step, eager or replayed from a CUDA graph.

    ``stepper(x, y)`` is a weight step, ``stepper(x, y, xv, yv)`` an architecture step on the held-out
    batch followed by the weight step; both return ``[loss*n, ce*n, L1*n, L2*n, correct, arch loss]``
    on the device, without a host sync. With ``graphs`` each kind of step is captured on its first
    batch (the warm-up calls are undone by a ``Snapshot``) and replayed after; a batch of another
    shape (a short last batch) runs eagerly on the same parameters and optimizer state.
    ``capture=False`` keeps that bookkeeping but runs the step eagerly: the CPU tests use it.
    """

    def __init__(self, model: Network, weights: list[torch.Tensor], penalty: Penalty,
                 optimizer: torch.optim.Optimizer, architect: Architect, *, grad_clip: float, autocast: Any,
                 unrolled: bool = False, channels_last: bool = False, graphs: bool = False,
                 capture: bool = True, warmup: int = 3) -> None:
        self.model, self.weights, self.penalty = model, weights, penalty
        self.optimizer, self.architect = optimizer, architect
        self.grad_clip, self.autocast, self.unrolled = grad_clip, autocast, unrolled
        self.channels_last = channels_last
        self._graph = (StepGraph(self.eager, model, [optimizer, architect.optimizer], warmup=warmup, capture=capture)
                       if graphs else None)

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def eager(self, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor | None = None,
              yv: torch.Tensor | None = None) -> torch.Tensor:
        x = self._prep(x)
        arch_loss = torch.zeros(1, device=y.device)
        if xv is not None:
            eta = self.optimizer.param_groups[0]["lr"]  # the epoch's lr (a device tensor under graphs)
            with self.autocast():  # the network's ops only: alphas, betas, the penalty and Adam stay fp32
                arch_loss = self.architect.step(x, y, self._prep(xv), yv, eta, self.optimizer,
                                                unrolled=self.unrolled).float().reshape(1)
        row = weight_step(self.model, self.weights, self.penalty, self.optimizer, x, y, self.grad_clip,
                          self.autocast)
        return torch.cat([row, arch_loss])

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.eager(*inputs) if self._graph is None else self._graph(*inputs)


def train_epoch(
    args: argparse.Namespace, epoch: int, model: Network, stepper: SearchStepper, train_loader: Any,
    valid_loader: Any, logger: Any,
) -> dict[str, float]:
    """One epoch of weight steps (and architecture steps from --begin); returns the epoch means."""
    from tqdm import tqdm

    model.train()
    train_loader.set_epoch(epoch)
    valid_loader.set_epoch(epoch)
    n_steps = len(train_loader)
    report_every = max(1, math.ceil(n_steps / args.report_lines))
    device = model.alphas_normal.device
    sums = torch.zeros(6, device=device)  # loss, ce, l1, l2, correct, arch valid loss
    seen = 0
    arch_steps = 0
    bar = tqdm(total=n_steps, desc=f"epoch {epoch}", leave=False, file=sys.stderr,
               disable=bar_off(args.no_progress), dynamic_ncols=True)
    for step, (x, y) in enumerate(train_loader):
        if epoch >= args.begin:
            sums += stepper(x, y, *valid_loader.sample_batch())
            arch_steps += 1
        else:
            sums += stepper(x, y)
        seen += y.numel()
        bar.update(1)
        if (step + 1) % report_every == 0 or step + 1 == n_steps:
            s = (sums / seen).tolist()
            if not math.isfinite(s[0]):
                bar.close()
                # steps counted as the log's "train 002/004" lines count them, and said in log.txt too
                why = (f"the loss became {s[0]} at epoch {epoch} by step {step + 1}/{n_steps}: lower --learning_rate "
                       "or the penalty weight")
                logger.info("stopped: %s", why)
                raise SearchDiverged(why)
            logger.info("train %03d/%03d loss %e ce %e acc %.2f%%", step + 1, n_steps, s[0], s[1], 100 * s[4])
            bar.set_postfix(loss=f"{s[0]:.3g}", acc=f"{100 * s[4]:.1f}%")
    bar.close()
    s = (sums / seen).tolist()
    return {
        "train_loss": s[0], "criterion_loss": s[1], "l1_loss": s[2], "l2_loss": s[3], "train_acc": 100 * s[4],
        "arch_valid_loss": (sums[5] / arch_steps).item() if arch_steps else None,
    }


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
