"""Train one genotype from scratch: the evaluation stage of DARTS / PC-DARTS / MOOD-NAS.

    python train.py --arch PC_DARTS_cifar --auxiliary --cutout                       # CIFAR-10, 600 epochs
    python train.py --arch logs/multi-search-cifar10-EXP-20260101-000000/genotypes.json:l2_loss_2e01 --auxiliary
    python train.py --set digits --arch DARTS_V2 --init_channels 4 --layers 3 --epochs 2 --batch_size 128
    python train.py --resume logs/eval-PC_DARTS_cifar-20260101-120000                # continue a killed training
    python train.py --arch DARTS_V2 --model_path weights.pt                          # start from these weights

NetworkCIFAR(init_channels, classes, layers, auxiliary, genotype) (NetworkImageNet with
``--set imagenet``), SGD with momentum, cosine learning rate down to --learning_rate_min (0, as
DARTS's CosineAnnealingLR; on ImageNet DARTS's step decay, or ``--lr_schedule linear`` for PC-DARTS's
warm-up and linear decay), drop path probability ramped linearly from 0 (drop_path_prob * epoch /
epochs), auxiliary loss weighted by --auxiliary_weight, gradient clipping. The test set is
evaluated every --eval_every epochs (every epoch by default, as DARTS does) and always after the
last one; ``--train_portion < 1`` holds out the tail of the training set as a validation split
that is only logged. --set, --image_size and --data default to those of the run --arch comes from
(a sweep folder or its genotypes.json:NAME, a search or training run folder), else to CIFAR-10 at
32 px in data/; --init_channels and --layers to the evaluation network a cost search or sweep
(--cost, -o params/flops/latency) was costed on, else to 36 and 20. A flag given wins, and the log
says what was taken from where.

The run folder ``logs/eval-<save or arch>-<time>/`` holds args.json, log.txt, metrics.csv (a row per
epoch), checkpoint.pt (resume state, rewritten atomically each epoch, deleted at the end) and, at
the end, weights.pt (a plain state_dict in the DARTS key layout), result.json and
loss.png / acc.png / top5.png. result.json keys: test_loss, test_acc, test_top5, valid_loss,
valid_acc, valid_top5 (None without a held-out split; the top-5s None with 5 classes or fewer, where every
label is among the top 5), train_loss, train_acc, model_size (M
parameters without the auxiliary head), genotype, arch (the run's name: --arch's, or the one
batch_train.py gave it, also in args.json as arch_label), arch_spec, batch_size, epochs, wall_time
(s, over all resumed parts), device, dataset, num_classes, run_dir.
"""

from __future__ import annotations

if __name__ == "__main__":  # before torch's imports: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import argparse
import copy
import dataclasses
import logging
import math
import re
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import cli
import cost as costlib
import data as datalib
from cli import SettingsConflict, is_imagenet
from fastpath import StepGraph, compile_model, load_optimizer_state, make_autocast
from genotypes import (
    Genotype,
    ResolvedGenotype,
    genotype_label,
    genotype_to_dict,
    resolve_genotype_source,
    save_genotype,
)
from model import build_network, init_channels_error, paper_network
from plots import draw_or_warn
from plots_train import plot_training_curves, train_loss_label
from utils import (
    LOG_DATEFMT,
    LOG_FORMAT,
    MetricsCSV,
    RunLogFile,
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
    float_or_na,
    get_device,
    get_logger,
    get_rng_state,
    load_checkpoint,
    load_run_args,
    lock_run_dir,
    log_data_notes,
    logs_released,
    percent_or_na,
    read_json,
    resumable,
    resume_point,
    run_data_record,
    run_folder_kind,
    run_main,
    save_args,
    save_atomic,
    set_rng_state,
    set_seed,
    top5_or_none,
    write_json_atomic,
)

METRICS = [
    "epoch", "lr", "drop_path_prob", "train_loss", "train_acc", "train_top5",
    "valid_loss", "valid_acc", "valid_top5", "test_loss", "test_acc", "test_top5", "epoch_time",
]
# What checkpoint.pt holds (a resume needs all of it).
CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "rng", "wall_time", "last")
# What batch_train.py, batch_size_predict.py, ensemble.py, test.py and bench/ use of this script.
__all__ = [
    "METRICS", "NETWORK_FALLBACK", "main", "build_parser", "add_arguments", "check_args", "arch_settings",
    "network_settings", "resolve_run", "merge_saved_args", "arch_label", "run_label", "label_smoothing", "lr_at",
    "build_data", "eval_view", "build_network",
    "read_state_dict", "load_weights", "train_step", "TrainStepper", "train_epoch", "infer", "Training",
    "build_training", "arch_run_folder",
]


# --------------------------------------------------------------------------- arguments

# --init_channels and --layers where neither a flag nor a cost sweep's evaluation network gives them
NETWORK_FALLBACK = dict(zip(("init_channels", "layers"), paper_network(imagenet=False)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """train.py's flags, with the original's names and defaults; batch_train.py composes the same set."""
    cli.add_data_args(parser, {"train_portion": 1.0})
    cli.add_optim_args(parser, {"batch_size": 96, "learning_rate": 0.025, "learning_rate_min": 0.0,
                                "epochs": 600, "seed": 0})
    g = parser.add_argument_group("network")
    g.add_argument("--arch", type=str, default="PC_DARTS_cifar",
                   help="genotype: a name, a genotype JSON file, a run folder, FILE:NAME or SWEEP_DIR:NAME (one entry "
                        "of a genotypes.json), or a quoted Genotype(...) string")
    g.add_argument("--init_channels", type=int, default=36, help="num of init channels")
    g.add_argument("--layers", type=int, default=20, help="total number of layers")
    g.add_argument("--auxiliary", action="store_true", default=False, help="use auxiliary tower")
    g.add_argument("--auxiliary_weight", type=float, default=0.4, help="weight for auxiliary loss")
    g.add_argument("--drop_path_prob", type=float, default=0.3, help="drop path probability (reached at the end)")
    g.add_argument("--model_path", type=str, default=None, help="start from these weights (strict load)")
    g.add_argument("--label_smooth", type=float, default=None,
                   help="label smoothing of the training loss (default: 0.1 on imagenet, else 0)")
    g.add_argument("--lr_schedule", choices=["cosine", "step", "linear"], default=None,
                   help="cosine to --learning_rate_min; step: lr * gamma^(epoch // decay_period); linear: "
                        "PC-DARTS's ImageNet schedule (a 5-epoch warm-up when --batch_size > 256, then a line to "
                        "0 whose last 5 epochs take a fifth of the slope; --epochs > 5) "
                        "(default: step on imagenet, as DARTS; cosine otherwise)")
    g.add_argument("--gamma", type=float, default=0.97, help="learning rate decay of the step schedule")
    g.add_argument("--decay_period", type=int, default=1, help="epochs between decays of the step schedule")
    g.add_argument("--eval_every", type=int, default=1,
                   help="evaluate the test (and valid) split every N epochs; the last epoch always is")
    g.add_argument("--stop_after", type=int, default=None, help=argparse.SUPPRESS)  # test hook: "kill" after epoch N
    cli.add_hardware_args(parser)
    cli.add_speed_args(parser)
    cli.add_output_args(parser, {"save": None})


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        description="Train one genotype from scratch (evaluation network, test set every epoch).",
        formatter_class=cli.HelpFormatter,
    )
    add_arguments(parser)
    cli.from_run(parser, cli.DATA_SETTINGS, whose="that of the run the --arch comes from")
    cli.from_run(parser, NETWORK_FALLBACK, whose="the evaluation network of the cost sweep --arch comes from")
    return parser


def check_args(args: argparse.Namespace, typed: Collection[str] | None = None) -> None:
    """The shared checks plus train.py's own, each a one-line reason. ``typed``: the flags the command line gave
    (``cli.typed_flags`` of the parsed namespace, which the settings taken from runs replace)."""
    cli.check_common_args(args)
    if not 0.0 <= args.drop_path_prob < 1.0:
        raise UserError(f"--drop_path_prob {args.drop_path_prob} must be in [0, 1)")
    if not (math.isfinite(args.auxiliary_weight) and args.auxiliary_weight >= 0):
        raise UserError(f"--auxiliary_weight {args.auxiliary_weight} must be a finite number >= 0")
    if not (math.isfinite(args.gamma) and args.gamma > 0):
        raise UserError(f"--gamma {args.gamma} must be a finite number > 0 (a negative one flips the step's sign)")
    if args.eval_every < 1:
        raise UserError(f"--eval_every {args.eval_every} must be >= 1")
    if args.label_smooth is not None and not 0.0 <= args.label_smooth < 1.0:
        raise UserError(f"--label_smooth {args.label_smooth} must be in [0, 1)")
    if args.decay_period < 1:
        raise UserError(f"--decay_period {args.decay_period} must be >= 1")
    cli.check_image_size(args, auxiliary=bool(args.auxiliary))  # now that --set is known (arch_settings)
    if lr_schedule(args) == "cosine":
        cli.check_cosine_floor(args)
    elif lr_schedule(args) == "linear":
        if args.epochs <= LINEAR_TAIL:
            raise UserError(f"--lr_schedule linear needs --epochs > {LINEAR_TAIL} (its last {LINEAR_TAIL} epochs "
                            f"decay at a fifth of the slope), not {args.epochs}")
    elif args.gamma > 1:
        raise UserError(f"--gamma {args.gamma} must be in (0, 1]: the step schedule's decay per --decay_period "
                        f"(one above 1 makes the lr grow)")
    typed = (cli.typed_flags(args) if typed is None else typed) or frozenset()
    check_read(args, typed)
    cli.check_cutout(args, typed)
    cli.check_training_batch(args)
    channels = getattr(args, "init_channels", None)  # None: a --resume that has not read the run's yet
    if channels is not None and (why := init_channels_error(channels, is_imagenet(args))):
        raise UserError(f"--init_channels {channels} {why}")


def check_read(args: argparse.Namespace, typed: Collection[str]) -> None:
    """Refuse a flag typed where this training never reads it: an auxiliary weight without the head, the step
    schedule's decay beside another schedule, a cosine floor beside the step or linear one. Each was typed to
    change the training, and would be dropped without a word."""
    if "auxiliary_weight" in typed and not args.auxiliary:
        raise UserError(cli.acts_only(["--auxiliary_weight"], "with --auxiliary, and this training has no "
                                                             "auxiliary head"))
    schedule = lr_schedule(args)
    for flags, needs in ((("gamma", "decay_period"), "step"), (("learning_rate_min",), "cosine")):
        if schedule != needs and (given := [f"--{flag}" for flag in flags if flag in typed]):
            raise UserError(cli.acts_only(given, f"with --lr_schedule {needs}, and this training's schedule is "
                                                 f"{schedule}{'' if args.lr_schedule else ' (the default here)'}"))


def label_smoothing(args: argparse.Namespace) -> float:
    if args.label_smooth is not None:
        return args.label_smooth
    return 0.1 if is_imagenet(args) else 0.0


LINEAR_TAIL = 5  # PC-DARTS's linear schedule: warm-up epochs, and the last epochs at a fifth of the slope


def lr_schedule(args: argparse.Namespace) -> str:
    """--lr_schedule, or its default: DARTS's step decay on ImageNet, cosine elsewhere."""
    return args.lr_schedule or ("step" if is_imagenet(args) else "cosine")


def lr_at(args: argparse.Namespace, epoch: int) -> float:
    """The learning rate of ``epoch`` in closed form (resuming needs no scheduler state).

    ``linear`` is PC-DARTS's ImageNet schedule (MOOD-NAS's train_imagenet): lr * (E - 5 - e) / (E - 5) while more
    than 5 epochs remain, then lr * (E - e) / (5 (E - 5)), so that the last epoch's lr is not the large
    lr / (E - 5) of a plain line; with a batch over 256 the first 5 epochs instead ramp lr * (e + 1) / 5.
    """
    schedule = lr_schedule(args)
    if schedule == "step":
        return args.learning_rate * args.gamma ** (epoch // args.decay_period)
    if schedule == "linear":
        tail, epochs = LINEAR_TAIL, args.epochs
        if epoch < tail and args.batch_size > 256:
            return args.learning_rate * (epoch + 1) / tail
        if epochs - epoch > tail:
            return args.learning_rate * (epochs - tail - epoch) / (epochs - tail)
        return args.learning_rate * (epochs - epoch) / ((epochs - tail) * tail)
    return args.learning_rate_min + (args.learning_rate - args.learning_rate_min) * (
        1 + math.cos(math.pi * epoch / args.epochs)) / 2


def arch_label(args: argparse.Namespace | Mapping[str, Any]) -> str:
    """The name a run goes by (its result.json's "arch"), from its arguments or its args.json's: the one its caller
    gave (batch_train.py's cellX_2, where genotypes of two files share the name cellX), else --arch's name."""
    values = vars(args) if isinstance(args, argparse.Namespace) else args
    return values.get("arch_label") or genotype_label(values["arch"])


def run_label(args: argparse.Namespace) -> str:
    """The <save or arch> part of the run folder's name, reduced to safe characters."""
    label = args.save or arch_label(args)
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", label) or "EXP"


# --------------------------------------------------------------------------- data and network


def eval_view(train_ds: Any, test_ds: Any) -> Any:
    """The training set seen through the test transform (no augmentation), for held-out splits."""
    view = copy.copy(train_ds)
    if hasattr(view, "augment"):  # in-memory sets: the device loader follows these flags
        view.augment = False
        view.cutout = False
    if hasattr(test_ds, "transform"):
        view.transform = test_ds.transform
    return view


def build_data(args: argparse.Namespace, device: torch.device) -> tuple[Any, Any, Any, datalib.DatasetInfo]:
    """Train loader, valid loader (None when train_portion is 1), test loader and the dataset info."""
    train_ds, test_ds, info = datalib.load_datasets(
        args.set, args.data, download=args.download, cutout=args.cutout, cutout_length=args.cutout_length,
        image_size=getattr(args, "image_size", None))
    train_idx, valid_idx, split = datalib.split_training_set(train_ds, args.subsample, args.seed, args.train_portion)
    info = datalib.with_on_device_note(dataclasses.replace(info, split=split), args.data_on_device, train_ds)
    common = {"seed": args.seed, "device": device, "workers": args.workers,
              "on_device": datalib.keep_on_device(args.data_on_device, train_ds)}
    # A lone last sample would make BatchNorm fail in training mode, so drop it.
    drop_last = len(train_idx) % args.batch_size == 1
    train_loader = datalib.build_loader(train_ds, train_idx, args.batch_size, train=True, drop_last=drop_last,
                                        **common)
    valid_loader = None
    if len(valid_idx):
        valid_loader = datalib.build_loader(eval_view(train_ds, test_ds), valid_idx, args.batch_size,
                                            train=False, **common)
    test_loader = datalib.build_loader(test_ds, torch.arange(len(test_ds)), args.batch_size, train=False,
                                       **common)
    return train_loader, valid_loader, test_loader, info


def _example(keys: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > n else "")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file: a plain state_dict (DARTS's weights.pt), {'state_dict': ...} or
    {'model': ...} wrappers, and DataParallel's 'module.' prefix (published checkpoints come in all of them)."""
    state = load_checkpoint(path, map_location="cpu")
    if isinstance(state, dict):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path} is not a state_dict of tensors")
    if meta := [k for k, v in state.items() if v.is_meta]:
        # torch.save of a network built on the meta device keeps the shapes only: load_state_dict would fail with a
        # RuntimeError of a line per tensor ("Cannot copy out of meta tensor")
        raise UserError(f"{path} holds no weights, only shapes: {len(meta)} tensor(s) on the meta device "
                        f"({_example(meta)}); save the trained network's state_dict instead")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_weights(model: nn.Module, path: str | Path, what: str = "this network") -> None:
    """Load a weights file (any form read_state_dict reads) with strict=True; a mismatch is one line
    naming the keys that differ."""
    state = read_state_dict(path)
    own = model.state_dict()
    if not any(k.endswith(".num_batches_tracked") for k in state):
        # saved before PyTorch 0.4.1 (DARTS's published weights, trained with 0.3.1): BatchNorm had no counter yet,
        # and load_state_dict itself would fill it in; the counter is unused in eval and with a fixed momentum
        state = {**state, **{k: v.clone() for k, v in own.items() if k.endswith(".num_batches_tracked")}}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_example(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_example(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatch(es) (file vs network): {_example(shapes, 2)}")
        raise UserError(f"weights {path} do not fit {what}: {'; '.join(parts)}; they were probably trained "
                        f"for another genotype (or other --init_channels/--layers/--auxiliary/classes)")
    model.load_state_dict(state, strict=True)


# --------------------------------------------------------------------------- steps


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, *,
               auxiliary_weight: float, grad_clip: float, smoothing: float = 0.0,
               autocast: Callable[[], Any] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on (x, y): CE (+ auxiliary_weight * auxiliary CE), clip, step; returns (loss, logits).

    Shared with batch_size_predict.py's --measure, so the memory it records is this step's.
    """
    optimizer.zero_grad(set_to_none=True)
    with (autocast or make_autocast(x.device, "none"))():
        logits, logits_aux = model(x)
    loss = F.cross_entropy(logits.float(), y, label_smoothing=smoothing)
    if logits_aux is not None:
        loss = loss + auxiliary_weight * F.cross_entropy(logits_aux.float(), y, label_smoothing=smoothing)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach(), logits.detach()


def _topk_correct(logits: torch.Tensor, y: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(top-1 correct, top-k correct) counts as device tensors (k clipped to the classes)."""
    top = logits.topk(min(k, logits.size(1)), dim=1).indices
    hits = top.eq(y[:, None])
    return hits[:, 0].sum().float(), hits.any(dim=1).sum().float()


@torch.no_grad()
def infer(model: nn.Module, loader: Any, autocast: Callable[[], Any]) -> dict[str, float]:
    """Cross-entropy, top-1 and top-5 (%; top5_or_none: None with 5 classes or fewer) over a loader in eval mode."""
    was_training = model.training
    model.eval()
    sums = None
    n = 0
    num_classes = 0
    for x, y in loader:
        with autocast():
            logits, _ = model(x)
        top1, top5 = _topk_correct(logits, y, 5)
        num_classes = logits.size(1)
        row = torch.stack([F.cross_entropy(logits.float(), y, reduction="sum"), top1, top5])
        sums = row if sums is None else sums + row
        n += y.numel()
    model.train(was_training)
    if sums is None or n == 0:
        return {"loss": math.nan, "acc": math.nan, "top5": math.nan}
    loss, top1, top5 = (sums / n).tolist()
    return {"loss": loss, "acc": 100.0 * top1, "top5": top5_or_none(100.0 * top5, num_classes)}


class TrainStepper:
    """``train_step`` plus its top-1/top-5 counts, eager or replayed from a CUDA graph.

    ``stepper(x, y)`` returns ``[loss*n, top-1 correct, top-5 correct]`` on the device. With ``graphs``
    the step is captured on the first batch of each epoch (the graph freezes that epoch's learning rate
    and drop-path probability, which are Python numbers; a capture costs a few steps per epoch), the
    warm-up calls undone by a ``Snapshot``. A batch of another shape (a short last batch) runs eagerly
    on the same parameters. ``capture=False`` keeps that bookkeeping but runs eagerly (the CPU tests).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, *, auxiliary_weight: float,
                 grad_clip: float, smoothing: float = 0.0, autocast: Callable[[], Any] | None = None,
                 channels_last: bool = False, graphs: bool = False, capture: bool = True, warmup: int = 3) -> None:
        self.model, self.optimizer = model, optimizer
        self.auxiliary_weight, self.grad_clip, self.smoothing = auxiliary_weight, grad_clip, smoothing
        self.autocast = autocast
        self.channels_last = channels_last
        self._graph = StepGraph(self.eager, model, [optimizer], warmup=warmup, capture=capture) if graphs else None

    def new_epoch(self) -> None:
        """Forget the captured step: this epoch's lr and drop-path probability differ."""
        if self._graph is not None:
            self._graph.reset()

    def eager(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        loss, logits = train_step(self.model, self.optimizer, x, y, auxiliary_weight=self.auxiliary_weight,
                                  grad_clip=self.grad_clip, smoothing=self.smoothing, autocast=self.autocast)
        top1, top5 = _topk_correct(logits, y, 5)
        return torch.stack([loss.float() * y.numel(), top1, top5])

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.eager(x, y) if self._graph is None else self._graph(x, y)


@dataclass
class Training:
    """What a training step needs, built from train.py's parsed arguments by ``build_training``."""

    args: argparse.Namespace
    model: nn.Module
    optimizer: torch.optim.Optimizer
    stepper: TrainStepper
    autocast: Callable[[], Any]

    def start_epoch(self, epoch: int) -> float:
        """Set the epoch's learning rate (``lr_at``, closed form) and drop-path probability (ramped linearly
        from 0 to --drop_path_prob); returns the learning rate."""
        lr = lr_at(self.args, epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.drop_path_prob = self.args.drop_path_prob * epoch / self.args.epochs
        return lr


def build_training(args: argparse.Namespace, genotype: Genotype, num_classes: int, device: torch.device, *,
                   load_model_path: bool = True, fused_optim: bool = False) -> Training:
    """The network, SGD, autocast and stepper of a training, from train.py's arguments: what ``main`` trains
    with, and what bench/speed.py times and batch_size_predict.py measures (one place to change them).

    The network is built on the CPU from the current RNG state, takes --model_path's weights (when
    ``load_model_path``), then moves to ``device`` and to --channels_last before SGD is made, so that
    the optimizer's state follows the parameters' layout. ``fused_optim`` gives SGD its fused kernel (a
    lever bench/speed.py times; train.py itself runs the default one).
    """
    model = build_network(genotype, num_classes, args.init_channels, args.layers, args.auxiliary, is_imagenet(args))
    if args.model_path and load_model_path:
        load_weights(model, args.model_path, f"{arch_label(args)} (C={args.init_channels}, "
                                             f"{args.layers} layers, auxiliary={args.auxiliary})")
    model = model.to(device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), args.learning_rate, momentum=args.momentum,
                                weight_decay=args.weight_decay, **({"fused": True} if fused_optim else {}))
    graphs = bool(args.cuda_graphs)
    autocast = make_autocast(device, args.amp, graphs=graphs)
    if args.compile:
        compile_model(model, args.compile_mode or "default")
    stepper = TrainStepper(model, optimizer, auxiliary_weight=args.auxiliary_weight, grad_clip=args.grad_clip,
                           smoothing=label_smoothing(args), autocast=autocast, channels_last=bool(args.channels_last),
                           graphs=graphs)
    return Training(args, model, optimizer, stepper, autocast)


def train_epoch(args: argparse.Namespace, epoch: int, stepper: TrainStepper, loader: Any,
                logger: Any) -> dict[str, float]:
    """One epoch of SGD steps; returns the epoch means (loss includes the auxiliary term, as DARTS logs it; top-5
    None with 5 classes or fewer, top5_or_none)."""
    from tqdm import tqdm

    stepper.model.train()
    stepper.new_epoch()
    loader.set_epoch(epoch)
    n_steps = len(loader)
    report_every = max(1, math.ceil(n_steps / args.report_lines))
    num_classes = stepper.model.classifier.out_features
    sums = None
    seen = 0
    bar = tqdm(total=n_steps, desc=f"epoch {epoch}", leave=False, file=sys.stderr,
               disable=bar_off(args.no_progress), dynamic_ncols=True)
    for step, (x, y) in enumerate(loader):
        row = stepper(x, y)
        sums = row.clone() if sums is None else sums + row
        seen += y.numel()
        bar.update(1)
        if (step + 1) % report_every == 0 or step + 1 == n_steps:
            s = (sums / seen).tolist()
            if not math.isfinite(s[0]):
                bar.close()
                # steps counted as the log's "train 002/004" lines count them; said in log.txt too, which outlives
                # the terminal
                why = f"the loss became {s[0]} at epoch {epoch} by step {step + 1}/{n_steps}: lower --learning_rate"
                logger.info("stopped: %s", why)
                raise UserError(why)
            logger.info("train %03d/%03d loss %e top1 %.2f%% top5 %s", step + 1, n_steps, s[0],
                        100 * s[1], percent_or_na(top5_or_none(100 * s[2], num_classes)))
            bar.set_postfix(loss=f"{s[0]:.3g}", acc=f"{100 * s[1]:.1f}%")
    bar.close()
    s = (sums / seen).tolist() if seen else [math.nan] * 3
    return {"loss": s[0], "acc": 100 * s[1], "top5": top5_or_none(100 * s[2], num_classes)}


# --------------------------------------------------------------------------- main


def arch_run_folder(spec: str) -> Path | None:
    """The run folder (sweep, search, training) a genotype spec is read from, else None (a published
    name, a loose genotype file); FILE:NAME's FILE's folder."""
    try:
        path = Path(spec)
        if not path.exists() and ":" in spec:
            path = Path(spec.rpartition(":")[0])
        if not path.exists():
            return None
    except OSError:  # a pasted Genotype(...) string longer than a file name can be
        return None
    folder = path if path.is_dir() else path.parent
    return folder if run_folder_kind(folder) is not None else None


def arch_settings(args: argparse.Namespace, specs: Sequence[str],
                  what: str = "the runs disagree") -> tuple[argparse.Namespace, str]:
    """--set, --image_size and --data, where not given, from the runs the genotypes of ``specs`` were
    found in (a sweep's cells train on the sweep's data), else train.py's defaults; and a note of what
    came from where. A flag given wins (cells found on one dataset may be trained on another, as DARTS's
    are); runs on different data and no flag are a SettingsConflict starting with ``what``."""
    sources = dict.fromkeys(folder for folder in map(arch_run_folder, map(str, specs)) if folder is not None)
    return cli.shared_run_settings(list(sources), args, cli.DATA_SETTINGS, overridable=tuple(cli.DATA_SETTINGS),
                                   what=what)


def network_settings(args: argparse.Namespace, specs: Sequence[str],
                     what: str = "the runs disagree") -> tuple[argparse.Namespace, str | None]:
    """--init_channels and --layers, where not given: the evaluation network of the cost search or sweep
    the genotypes of ``specs`` come from (its front's parameters, FLOPs and latency are that network's),
    else train.py's 36 and 20; and a note when a sweep gave them. Two sweeps that disagree and no flag
    are a SettingsConflict starting with ``what``."""
    missing = [key for key in NETWORK_FALLBACK if getattr(args, key, None) is None]
    if not missing:
        return args, None
    found = {folder: shape for folder in dict.fromkeys(filter(None, map(arch_run_folder, map(str, specs))))
             if (shape := costlib.run_eval_network(folder)) is not None}
    shapes = list(dict.fromkeys(found.values()))
    if len(shapes) > 1:
        first, other = (next(f for f, s in found.items() if s == shape) for shape in shapes[:2])
        raise SettingsConflict(f"{what}: {first} was costed on init_channels {shapes[0][0]}, layers "
                               f"{shapes[0][1]}, {other} on {shapes[1][0]}, {shapes[1][1]} (give --init_channels "
                               "and --layers)")
    args = copy.copy(args)
    shape = dict(zip(NETWORK_FALLBACK, next(iter(found.values())))) if found else dict(NETWORK_FALLBACK)
    for key in missing:
        setattr(args, key, shape[key])
    if not found:
        return args, None
    folder = next(iter(found))
    return args, (f"{', '.join(f'{k} {shape[k]}' for k in missing)} from {folder / 'args.json'} (the evaluation "
                  "network its cost objective was taken on)")


def resolve_run(args: argparse.Namespace) -> tuple[argparse.Namespace, Path | None]:
    """On --resume, take the run's own arguments (so the continued run is the same run)."""
    if not args.resume:
        return args, None
    run_dir, saved = load_run_args(args.resume, "train")
    merged = merge_saved_args(args, saved, f"{run_dir / 'args.json'}")
    merged.genotype_source = saved.get("genotype_source")  # recorded at the start, not a flag
    return merged, run_dir


def merge_saved_args(args: argparse.Namespace, saved: dict[str, Any],
                     source: str = "the run's args.json") -> argparse.Namespace:
    """The saved arguments of a run (cli.resume_args); a run that records no --set, --image_size or --data
    (an older folder) takes the defaults."""
    merged = cli.resume_args(args, saved, source=source)
    for key, fallback in cli.DATA_SETTINGS.items():
        if getattr(merged, key, None) is None:
            setattr(merged, key, fallback if saved.get(key) is None else saved[key])
    return merged


def main(args: argparse.Namespace, *, run_dir: str | Path | None = None,
         log_files: Sequence[str | Path] = (), genotype: Genotype | None = None,
         genotype_source: str | None = None, label: str | None = None) -> dict:
    """Train (or resume) one genotype; returns the dict that result.json holds.

    ``run_dir`` (an empty folder chosen by the caller), ``log_files`` (extra log.txt files that
    get every line too), ``genotype`` (trained instead of resolving --arch again; with
    ``genotype_source``, where it came from) and ``label`` (the name the run goes by instead of --arch's,
    recorded in args.json as arch_label) are for in-process callers such as batch_train.py.
    """
    settings_note = None
    given = cli.typed_flags(args)  # arch_settings and the resume below return namespaces that no longer tell
    if not args.resume and genotype is None:  # a caller that gives the genotype has settled the data too
        args, settings_note = arch_settings(args, [args.arch])
    args, network_note = network_settings(args, [args.arch] if not args.resume and genotype is None else [])
    settings_note = "; ".join(filter(None, (settings_note, network_note))) or None
    try:
        check_args(args, given)
    except UserError as err:
        if args.resume or genotype is not None or arch_run_folder(str(args.arch)) is None:
            raise
        # a setting taken from the run --arch comes from (a search's --image_size 8) is named as a flag in the
        # reason, one the user never typed: say where it came from
        raise UserError(f"{err} ({settings_note})") from None
    typed = args  # what the command line said (cli.typed_flags), before the run's own arguments replace it
    args, resumed = resolve_run(args)
    recorded = cli.recorded_data_source(typed, resumed / "args.json") if resumed is not None else None
    # on --resume the folder is locked before its state (result.json, checkpoint.pt) is read: a process still at
    # work there would end, or write a newer checkpoint, while this one loads the data, and this one go on from the
    # older state (a new run is locked once its folder exists, below)
    run_lock = lock_run_dir(resumed) if resumed is not None else None
    try:
        if resumed is not None and (resumed / "result.json").is_file():
            print(f"{resumed} has finished: nothing to resume (its result.json stands)", flush=True)
            return read_json(resumed / "result.json")
        # a resumed run trains the genotype it started with, even if --arch's file has changed since
        started = resumed is not None and (resumed / "genotype.json").is_file()
        if started:
            own = resolve_genotype_source(resumed)
            resolved = ResolvedGenotype(own.genotype, getattr(args, "genotype_source", None) or own.source)
        elif genotype is not None:
            resolved = ResolvedGenotype(genotype, genotype_source or "given by the caller")
        else:
            resolved = resolve_genotype_source(args.arch)
        genotype = resolved.genotype
        args = copy.copy(args)
        args.genotype_source = resolved.source  # into args.json and result.json: which cell this run trains
        if label is not None:  # else a resumed run keeps the arch_label its args.json records, if any
            args.arch_label = label
        device = get_device(args.device, args.gpu)
        cli.check_speed_args(args, device, given)
        configure_torch(device, args.threads)
        checkpoint = None
        if resumed is not None and (resumed / "checkpoint.pt").is_file():
            # read onto the CPU: load_state_dict moves what the model and optimizers take to the device, and no
            # second copy of the weights stays on the GPU for the whole run
            checkpoint = check_resume_checkpoint(load_checkpoint(resumed / "checkpoint.pt"),
                                                 resumed / "checkpoint.pt", CHECKPOINT_KEYS)

        set_seed(args.seed)
        with data_recorded_in(recorded):
            train_loader, valid_loader, test_loader, info = build_data(args, device)
        args = datalib.with_loader_placement(args, train_loader)  # what args.json records: where the data was
        if resumed is not None:
            check_resumed_split(resumed, info.split, info.classes)
        setup = build_training(args, genotype, info.num_classes, device, load_model_path=checkpoint is None)
        if checkpoint is not None:
            check_state_fits(setup.model, checkpoint["model"], resumed / "checkpoint.pt")

        if resumed is not None:
            run_dir = resumed
        elif run_dir is not None:
            run_dir = Path(run_dir)
            run_dir.mkdir(parents=True, exist_ok=True)
        else:
            run_dir = create_run_dir("eval", run_label(args), args.logdir)
        run_lock = run_lock or lock_run_dir(run_dir)  # before anything is written there: one process per run folder
        logger = get_logger(f"train.{run_dir.name}", run_dir)
        for path in log_files:
            handler = RunLogFile(path)
            handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt=LOG_DATEFMT))
            logger.addHandler(handler)
        logger.info("run folder: %s", run_dir)
        log_data_notes(logger, info)
        if settings_note:
            logger.info("%s", settings_note)
        logger.info("genotype %s: %s%s", arch_label(args), resolved.note,
                    f" (resumed from {resumed / 'genotype.json'})" if started else "")
        with logs_released(logger.name), resumable("train.py", run_dir):
            return _run(args, run_dir, resumed, checkpoint, genotype, device, setup,
                        (train_loader, valid_loader, test_loader), info, logger)
    finally:
        if run_lock is not None:
            run_lock.release()


def _run(args: argparse.Namespace, run_dir: Path, resumed: Path | None, checkpoint: dict | None,
         genotype: Genotype, device: torch.device, setup: Training, loaders: tuple[Any, Any, Any],
         info: datalib.DatasetInfo, logger: logging.Logger) -> dict:
    """The epochs of main(), from the checkpoint's epoch on."""
    train_loader, valid_loader, test_loader = loaders
    model, optimizer = setup.model, setup.optimizer
    if checkpoint is None and resumed is None:
        # genotype.json before args.json: a run killed between the two would resume (args.json makes it resumable)
        # by resolving --arch again, a path relative to where it was started or a file changed since
        save_genotype(genotype, run_dir / "genotype.json")
        save_args(args, run_dir, device, kind="train", extra=run_data_record(info))
        logger.info("args = %s", vars(args))
    elif checkpoint is None:
        if not (run_dir / "genotype.json").is_file():  # killed between its args.json and genotype.json
            save_genotype(genotype, run_dir / "genotype.json")
        logger.info("resuming %s from the start (no checkpoint.pt yet)", run_dir)
    else:
        logger.info("resuming %s %s", run_dir, resume_point(checkpoint["epoch"]))
    if args.model_path and checkpoint is None:  # build_training loaded them: said once, not left to the args line
        logger.info("started from the weights %s (--model_path), not from a random initialisation", args.model_path)
    model_size = count_parameters_in_MB(model)
    logger.info("genotype = %s", genotype)
    logger.info("device %s, %s: %d train / %d valid / %d test images, %d classes, param size = %.6fM parameters",
                device_note(device), info.name, len(train_loader.indices), len(valid_loader.indices) if valid_loader
                else 0, len(test_loader.indices), info.num_classes, model_size)

    metrics = MetricsCSV(run_dir / "metrics.csv", METRICS)
    start_epoch, wall_time = 0, 0.0
    last: dict[str, Any] = {}
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        load_optimizer_state(optimizer, checkpoint["optimizer"])
        set_rng_state(checkpoint["rng"], device)
        start_epoch = int(checkpoint["epoch"])
        wall_time = float(checkpoint["wall_time"])
        last = dict(checkpoint["last"])
    metrics.truncate_after(start_epoch)

    for epoch in range(start_epoch, args.epochs):
        if args.stop_after is not None and epoch >= args.stop_after:
            logger.info("stopping after epoch %d (--stop_after)", epoch - 1)
            return {"stopped_after": epoch, "run_dir": str(run_dir)}
        t0 = time.time()
        lr = setup.start_epoch(epoch)
        logger.info("epoch %d lr %e drop_path_prob %f", epoch, lr, model.drop_path_prob)
        train = train_epoch(args, epoch, setup.stepper, train_loader, logger)
        logger.info("train_acc %f train_top5 %s train_loss %f", train["acc"], float_or_na(train["top5"]), train["loss"])
        row: dict[str, Any] = {"epoch": epoch, "lr": lr, "drop_path_prob": model.drop_path_prob,
                               "train_loss": train["loss"], "train_acc": train["acc"], "train_top5": train["top5"]}
        last = {f"train_{k}": v for k, v in train.items()}
        if (epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs:
            for split, loader in (("valid", valid_loader), ("test", test_loader)):
                if loader is None:
                    continue
                stats = infer(model, loader, setup.autocast)
                logger.info("%s_acc %f %s_top5 %s %s_loss %f", split, stats["acc"], split, float_or_na(stats["top5"]),
                            split, stats["loss"])
                for k, v in stats.items():
                    row[f"{split}_{k}"] = last[f"{split}_{k}"] = v
        wall_time += time.time() - t0
        row["epoch_time"] = round(time.time() - t0, 3)
        metrics.append(row)
        save_atomic({"epoch": epoch + 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "rng": get_rng_state(device), "wall_time": wall_time, "last": last}, run_dir / "checkpoint.pt")
        logger.info(epoch_done(epoch, args.epochs, row["epoch_time"], wall_time / (epoch + 1)))
    return finish(args, run_dir, model, genotype, info, last, wall_time, device, model_size, logger)


def finish(args: argparse.Namespace, run_dir: Path, model: nn.Module, genotype: Genotype,
           info: datalib.DatasetInfo, last: dict[str, Any], wall_time: float, device: torch.device,
           model_size: float, logger: Any) -> dict:
    """Draw the plots, write weights.pt and result.json, then drop the resume state."""
    result = {
        "test_loss": last.get("test_loss"), "test_acc": last.get("test_acc"), "test_top5": last.get("test_top5"),
        "valid_loss": last.get("valid_loss"), "valid_acc": last.get("valid_acc"),
        "valid_top5": last.get("valid_top5"),
        "train_loss": last.get("train_loss"), "train_acc": last.get("train_acc"),
        "model_size": model_size,
        "genotype": genotype_to_dict(genotype),
        "arch": arch_label(args),
        "arch_spec": str(args.arch),
        "genotype_source": getattr(args, "genotype_source", None),
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "init_channels": args.init_channels,
        "layers": args.layers,
        "auxiliary": args.auxiliary,
        "wall_time": round(wall_time, 3),
        "device": str(device),
        "dataset": info.name,
        "num_classes": info.num_classes,
        "run_dir": str(run_dir),
        "finished": time.time(),
    }
    # drawn from metrics.csv before result.json, the mark of a finished run: a run killed while they were drawn
    # finishes again on --resume (once finished, its plots were lost for good); a plot that fails is a warning
    train_label = train_loss_label(args.auxiliary_weight if args.auxiliary else 0.0, label_smoothing(args))
    draw_or_warn(logger, "the training curves", lambda: plot_training_curves(
        run_dir / "metrics.csv", run_dir, title=f"{result['arch']} ({info.name})", train_label=train_label))
    save_atomic(model.state_dict(), run_dir / "weights.pt")
    write_json_atomic(run_dir / "result.json", result)
    (run_dir / "checkpoint.pt").unlink(missing_ok=True)
    logger.info("result: test top-1 %.2f%%, top-5 %s, loss %.4f; %.3fM params; %.0f s",
                result["test_acc"], percent_or_na(result["test_top5"]), result["test_loss"], model_size, wall_time)
    logger.info("run folder: %s", run_dir)
    return result


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
