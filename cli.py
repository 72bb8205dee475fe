"""Argument groups shared by the scripts, defined once so that a flag means the same everywhere.

Flag names, short forms and defaults follow the original scripts (see the README); each script
composes the groups it needs and passes its own defaults where the original ones differ.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

import fastpath
from data import default_cutout_length
from model import input_side_error, last_side
from utils import UserError, portable_args, read_run_args, threads_error

__all__ = [
    "ArgumentParser",
    "HelpFormatter",
    "add_data_args",
    "add_optim_args",
    "add_hardware_args",
    "add_speed_args",
    "check_speed_args",
    "resume_args",
    "typed_flags",
    "Namespace",
    "RESUME_MAY_CHANGE",
    "add_output_args",
    "add_search_args",
    "add_penalty_args",
    "check_common_args",
    "seed_in_range",
    "SEED_RANGE_ERROR",
    "DATA_SETTINGS",
    "NETWORK_SETTINGS",
    "from_run",
    "run_settings",
    "shared_run_settings",
    "SettingsConflict",
    "is_imagenet",
    "NO_EFFECT",
    "mark_no_effect",
]


# flags whose empty value means something (an empty note), not a missing path or name
FREE_TEXT = frozenset({"note"})
# the largest count, size or index a flag takes: torch failed beyond int64 with a C++ traceback, after the run folder
# was made (--init_channels 10**20); seeds have their own range (SEED_RANGE)
INT_FLAG_MAX = 2**31 - 1
SEED_FLAGS = frozenset({"seed", "seeds"})


class Namespace(argparse.Namespace):
    """What ``ArgumentParser.parse_args`` returns: the flags, and in ``typed`` (a slot, outside ``vars()``, so
    never written to args.json) the destinations the command line gave, which a resume tells from defaults by."""

    __slots__ = ("typed",)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the project's error style: one `error: ...` line on stderr, exit status 2; the namespace
    it returns records which flags were typed (``typed_flags``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message}\n")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        argv = sys.argv[1:] if args is None else list(args)
        parsed = super().parse_args(argv, namespace)
        if namespace is not None:
            return parsed
        result = Namespace(**vars(parsed))
        result.typed = self._typed(argv)
        if problem := self._empty_value(result) or self._out_of_range(result):
            self.error(problem)
        device = next((a for a in self._actions if a.dest == "device"), None)
        if problem := gpu_without_cuda(result, auto="auto" in (getattr(device, "choices", None) or ("auto",))):
            self.error(problem)
        return result

    def _empty_value(self, args: Namespace) -> str | None:
        """Why a typed empty value is refused: `--resume "$RUN"` with RUN unset started a new run, `--model_path ""`
        trained from scratch, `--logdir ""` wrote into the working folder, each saying nothing. Free text
        (``FREE_TEXT``) may be empty."""
        for action in (a for p in _parsers(self) for a in p._actions):
            if action.dest not in args.typed or action.dest in FREE_TEXT:
                continue
            value = getattr(args, action.dest, None)
            if any(isinstance(v, str) and not v.strip() for v in (value if isinstance(value, list) else [value])):
                name = "/".join(action.option_strings) or action.metavar or action.dest
                return f"{name} was given an empty value (an unset shell variable?): give one, or leave it out"
        return None

    def _out_of_range(self, args: Namespace) -> str | None:
        """Why a typed integer beyond ``INT_FLAG_MAX`` either way is refused: no network, batch or count that large
        can run, and torch's failure came deep inside the run, as a traceback."""
        for action in (a for p in _parsers(self) for a in p._actions):
            if action.type is not int or action.dest not in args.typed or action.dest in SEED_FLAGS:
                continue
            value = getattr(args, action.dest, None)
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, int) and abs(v) > INT_FLAG_MAX:
                    name = "/".join(action.option_strings) or action.metavar or action.dest
                    bound = "at most 2**31 - 1" if v > 0 else "at least -(2**31 - 1)"
                    return f"{name} {v} is out of range: {bound}"
        return None

    def _typed(self, argv: list[str]) -> frozenset[str]:
        """Parse ``argv`` again with every default (subcommands' too) suppressed: what is left was typed."""
        parsers = _parsers(self)
        defaults = [(action, action.default) for p in parsers for action in p._actions]
        set_defaults = [(p, p._defaults) for p in parsers]
        try:
            for action, _ in defaults:
                action.default = argparse.SUPPRESS
            for p, _ in set_defaults:
                p._defaults = {}
            given, _ = super().parse_known_args(argv, argparse.Namespace())
        finally:
            for action, default in defaults:
                action.default = default
            for p, kept in set_defaults:
                p._defaults = kept
        return frozenset(vars(given))


def gpu_without_cuda(args: argparse.Namespace, auto: bool = True) -> str | None:
    """Why --gpu typed beside a --device cpu or mps (typed, or a tool's default) cannot be meant: it picks a CUDA
    device, and the run would go on without one, the flag ignored. Only a typed --gpu counts: its default 0 is
    harmless, a resumed run's recorded --gpu may stand (``--resume RUN --device cpu``), and ``--device auto --gpu
    N`` keeps its meaning (a CUDA device where there is one). ``auto``: whether the script's --device takes auto."""
    device = str(getattr(args, "device", "") or "").lower()
    if "gpu" not in (typed_flags(args) or ()) or device not in ("cpu", "mps"):
        return None
    return (f"--gpu {args.gpu} picks a CUDA device, but the device is {device}: drop --gpu, or pass --device cuda"
            + (" (or auto)" if auto else ""))


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and its subcommands' parsers, each once."""
    found = {id(parser): parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for p in _parsers(sub):
                    found.setdefault(id(p), p)
    return list(found.values())


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except None ("not given"), which the help text itself explains."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if action.default is None else super()._get_help_string(action)

    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        # nargs="+" with two names (-i W H, one value or two): argparse's "W [H ...]" would promise any number
        if action.nargs == "+" and isinstance(action.metavar, tuple) and len(action.metavar) == 2:
            return f"{action.metavar[0]} [{action.metavar[1]}]"
        return super()._format_args(action, default_metavar)


# The help of a flag a script parses but does not use: the original's command lines still run.
NO_EFFECT = "kept for the original's command lines; no effect"


def mark_no_effect(parser: argparse.ArgumentParser, dests: Collection[str], why: str = "") -> None:
    """Say in the help of the shared flags ``dests`` that this script accepts them without using them."""
    for action in parser._actions:
        if action.dest in dests:
            action.help = f"{NO_EFFECT}{f' ({why})' if why else ''}"


def _defaults(defaults: dict[str, Any] | None, **base: Any) -> dict[str, Any]:
    base.update(defaults or {})
    return base


def add_data_args(parser: argparse.ArgumentParser, defaults: dict[str, Any] | None = None) -> None:
    """The data flags, defined once for every script (``defaults`` holds a script's own defaults)."""
    d = _defaults(defaults, data="data", set="cifar10", train_portion=0.5, workers=2, cutout_length=None)
    g = parser.add_argument_group("data")
    g.add_argument("--data", type=str, default=d["data"], help="location of the data corpus")
    g.add_argument("--set", type=str, default=d["set"],
                   help="dataset: cifar10, cifar100, digits (bundled), synthetic, folder (ImageFolder), imagenet")
    g.add_argument("--download", action="store_true", help="let torchvision download CIFAR into --data")
    g.add_argument("--subsample", type=float, default=0.0, help="stratified fraction of the training set (0 = all)")
    g.add_argument("--train_portion", type=float, default=d["train_portion"],
                   help="the share of the training set that trains the weights; the rest is held out (a search's "
                        "architecture step, a training's validation split)")
    g.add_argument("--cutout", action="store_true", default=False, help="use cutout")
    g.add_argument("--cutout_length", type=int, default=d["cutout_length"],
                   help="cutout length (default: 16, DARTS's, or half the image side below 32 px)")
    g.add_argument("--image_size", type=int, default=None,
                   help="resize digits/synthetic/folder images to this side (default: 32, as CIFAR; "
                        "224 on ImageNet; digits are 8x8 at heart, so 8 is their native size)")
    g.add_argument("--workers", type=int, default=d["workers"], help="data loader worker processes (host path)")
    g.add_argument("--data_on_device", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the whole dataset on the device and augment there (default: on for tensor datasets)")


def add_optim_args(parser: argparse.ArgumentParser, defaults: dict[str, Any] | None = None) -> None:
    """The optimiser flags, defined once; search and training differ only in ``defaults``."""
    d = _defaults(defaults, batch_size=256, learning_rate=0.1, learning_rate_min=0.001, momentum=0.9,
                  weight_decay=3e-4, epochs=50, grad_clip=5.0, seed=2)
    g = parser.add_argument_group("optimisation")
    g.add_argument("--batch_size", type=int, default=d["batch_size"], help="batch size")
    g.add_argument("--learning_rate", type=float, default=d["learning_rate"], help="init learning rate")
    if "learning_rate_min" in d and d["learning_rate_min"] is not None:
        g.add_argument("--learning_rate_min", type=float, default=d["learning_rate_min"], help="min learning rate")
    g.add_argument("--momentum", type=float, default=d["momentum"], help="SGD momentum, in [0, 1)")
    g.add_argument("--weight_decay", type=float, default=d["weight_decay"], help="weight decay")
    g.add_argument("--epochs", type=int, default=d["epochs"], help="num of training epochs")
    g.add_argument("--grad_clip", type=float, default=d["grad_clip"], help="gradient clipping")
    g.add_argument("--seed", type=int, default=d["seed"], help="random seed")


def add_hardware_args(parser: argparse.ArgumentParser, supernet: bool = False) -> None:
    """--device, --gpu, --amp, --threads; and for a search (``supernet``) the supernet's --fused forward."""
    g = parser.add_argument_group("hardware")
    g.add_argument("--device", type=str, default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="where to run (auto: cuda, then mps, then cpu)")
    g.add_argument("--gpu", type=int, default=0, help="gpu device id")
    g.add_argument("--amp", type=str, default="none", choices=["none", "bf16"],
                   help="autocast dtype for the network" + (" (architecture parameters stay fp32)" if supernet else ""))
    if supernet:
        g.add_argument("--fused", action=argparse.BooleanOptionalAction, default=True,
                       help="run each primitive of all edges leaving a state as one grouped kernel "
                            "(same parameters and results, far fewer kernels)")
    g.add_argument("--threads", type=int, default=0,
                   help="CPU threads for torch, at most the CPUs this process may run on (0: torch's default)")


SPEED_FLAGS = ("cuda_graphs", "compile", "compile_mode", "channels_last")


def add_speed_args(parser: argparse.ArgumentParser) -> None:
    """The training scripts' speed levers (bench/speed.py measures each; see bench/RESULTS.md)."""
    g = parser.add_argument_group("speed (same results up to float rounding)")
    g.add_argument("--cuda_graphs", action=argparse.BooleanOptionalAction, default=None,
                   help="CUDA only: capture the whole training step once and replay it, removing launch overhead "
                        "(default: off; a resumed run keeps its own choice unless given)")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the network's forward; the first steps compile, minutes on a CPU (default: off)")
    g.add_argument("--compile_mode", type=str, default=None, choices=list(fastpath.COMPILE_MODES),
                   help="torch.compile mode, with --compile (alone it is refused); reduce-overhead (CUDA graphs) "
                        "is CUDA only (default: default)")
    g.add_argument("--channels_last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory format for the network and its inputs (default: off)")


# Resuming (one rule for every script that resumes: train_search.py, train.py, multiobjective.py, batch_train.py;
# README, "Resuming a run"): the run's saved arguments are the truth. A flag typed on this command line that is
# in the script's "may change" set overrides them: where and how the run goes on and what it prints, not what it
# computes (a different --threads may change the float sums, so such a run no longer equals an unbroken one).
# Any other flag typed with a value other than the run's is a one-line error (it would change the run).
RESUME_MAY_CHANGE = ("device", "gpu", "workers", "threads", "data", "no_progress", "report_lines", *SPEED_FLAGS)
# Flags of the call itself, never taken from the run: --resume (the sweep's is sweep_resume) and the test hook
# --stop_after.
CALL_FLAGS = ("resume", "sweep_resume", "stop_after")


def acts_only(flags: Sequence[str], where: str) -> str:
    """The one line for typed ``flags`` that a run never reads: "--a and --b act only WHERE"."""
    return f"{' and '.join(flags)} {'act' if len(flags) > 1 else 'acts'} only {where}"


def typed_flags(args: argparse.Namespace) -> frozenset[str] | None:
    """The destinations of the flags typed on the command line ``args`` was parsed from; None for a namespace
    an in-process caller built (it means every value it holds, see ``resume_args``)."""
    return getattr(args, "typed", None) if isinstance(args, Namespace) else None


def recorded_data_source(args: argparse.Namespace, source: str | Path) -> Path | None:
    """``source`` (the args.json or sweep.json a resumed run reads) when --data was not typed: the data path then
    comes from there (utils.data_recorded_in); None when it was typed, or for a namespace built in-process."""
    typed = typed_flags(args)
    return Path(source) if typed is not None and "data" not in typed else None


def resume_args(args: argparse.Namespace, saved: Mapping[str, Any], may_change: Collection[str] = RESUME_MAY_CHANGE,
                source: str = "the run's args.json") -> argparse.Namespace:
    """A resumed run's arguments: ``saved`` (the run's own), except the ``may_change`` flags this call sets
    (typed on its command line; from an in-process caller, any it holds that is not None) and the CALL_FLAGS.

    A flag typed now, outside ``may_change``, whose value differs from the saved one is a UserError naming it
    (it used to be dropped without a word); a key the run does not record (it predates the flag) takes this
    call's default, and typing it is refused too: the run never had it.
    """
    typed = typed_flags(args)
    mine = vars(args)
    comparable = portable_args(mine)  # a path typed as the run recorded it (absolute): --model_path w.pt again
    merged = {**mine, **{k: v for k, v in saved.items() if k not in mine}}
    refused = []
    for key, value in saved.items():
        if key not in mine or key in CALL_FLAGS:
            continue
        if key in may_change:
            given = key in typed if typed is not None else mine[key] is not None
            if not given:
                merged[key] = value
            continue
        if typed is not None and key in typed and not _same_value(comparable[key], value):
            if isinstance(value, bool):
                had = f"{key} {'on' if value else 'off'}"
            else:  # None: the flag was not given, and the script chose (a dataset's side, its cutout length)
                had = f"no --{key}, its default" if value is None else _flag(key, value)
            refused.append(f"{_flag(key, mine[key])} (the run has {had})")  # a store_true flag has no --no- form
        merged[key] = value
    for key in sorted(typed or ()):  # a run from before the flag existed ran as its default does
        if key in mine and key not in saved and key not in may_change and key not in CALL_FLAGS:
            refused.append(f"{_flag(key, mine[key])} (the run's arguments do not record --{key}: it started before "
                           "the flag existed)")
    if typed is not None and "gpu" in typed and "device" not in typed:  # --gpu beside the run's recorded device
        resumed = Namespace(**merged)
        resumed.typed = typed
        if problem := gpu_without_cuda(resumed):
            raise UserError(f"{problem} (the device {source} records)")
    if refused:
        # the run's keys too: a sweep resumed with no subcommand has none of the search's flags in ``mine``
        allowed = ", ".join(f"--{k}" for k in may_change if k in mine or k in saved)
        raise UserError(f"{'; '.join(refused)}: a resumed run keeps the arguments it started with ({source}); "
                        f"only {allowed} may change on --resume")
    return argparse.Namespace(**merged)


def _same_value(given: Any, recorded: Any) -> bool:
    """A typed value equal to the recorded one (JSON gives lists for tuples)."""
    if isinstance(given, tuple):
        given = list(given)
    return bool(given == recorded)


def check_speed_args(args: argparse.Namespace, device: torch.device, typed: Collection[str] | None = None) -> None:
    """Reject lever combinations that cannot run here, with a one-line reason (a UserError: met inside a sweep's
    search it stops the sweep for --resume, where a ValueError recorded the search failed for good).

    ``typed`` holds the flags typed on the command line (default ``typed_flags(args)``; a resumed run's merged
    arguments no longer tell, so its script passes those of the raw command line). A --compile_mode typed where
    the run does not compile would change nothing without a word, so it is refused; one that a run recorded and
    a --resume --no-compile has switched off is not (that call typed no --compile_mode).
    """
    typed = typed_flags(args) if typed is None else typed
    if typed is not None and "compile_mode" in typed and not getattr(args, "compile", False):
        raise UserError(f"--compile_mode {args.compile_mode} without --compile: nothing would be compiled "
                        "(add --compile, or drop --compile_mode)")
    if getattr(args, "cuda_graphs", False) and device.type != "cuda":
        raise UserError(f"--cuda_graphs needs a CUDA device; this run is on {device.type} "
                        "(drop the flag; --no-cuda_graphs to resume such a run here)")
    # reduce-overhead is default's kernels plus CUDA graphs (torch._inductor.list_mode_options): elsewhere torch drops
    # the graphs without a word, and the run recorded a mode it never ran
    if getattr(args, "compile", False) and getattr(args, "compile_mode", None) == "reduce-overhead" \
            and device.type != "cuda":
        raise UserError(f"--compile_mode reduce-overhead captures CUDA graphs; this run is on {device.type}, where "
                        "torch would compile it as --compile_mode default (give that, or drop --compile_mode)")
    if getattr(args, "cuda_graphs", False) and getattr(args, "compile", False):
        raise UserError("--cuda_graphs and --compile do not combine: use one (--compile_mode reduce-overhead "
                        "gives compile's own CUDA graphs)")


def add_output_args(parser: argparse.ArgumentParser, defaults: dict[str, Any] | None = None) -> None:
    """Where a run writes and how much it logs, defined once."""
    d = _defaults(defaults, save="EXP", report_lines=5)
    g = parser.add_argument_group("output")
    g.add_argument("--save", type=str, default=d["save"], help="experiment name, in the run folder's name"
                   + ("" if d["save"] else " (default: the genotype's)"))
    g.add_argument("--report_lines", type=int, default=d["report_lines"], help="log lines per epoch")
    g.add_argument("--logdir", type=str, default="logs", help="folder that holds the run folders")
    g.add_argument("--resume", type=str, default=None, help="run folder of an interrupted run to continue")
    g.add_argument("--no_progress", action="store_true", help="no progress bar")


def add_search_args(parser: argparse.ArgumentParser, defaults: dict[str, Any] | None = None) -> None:
    """The supernet and architecture-step flags, shared by train_search.py and the sweep's subcommands."""
    d = _defaults(defaults, init_channels=16, layers=8, arch_learning_rate=6e-4, arch_weight_decay=1e-3, begin=15)
    g = parser.add_argument_group("search")
    g.add_argument("--init_channels", type=int, default=d["init_channels"], help="num of init channels")
    g.add_argument("--layers", type=int, default=d["layers"], help="total number of layers")
    g.add_argument("--drop_path_prob", type=float, default=0.3, help=f"{NO_EFFECT} (the supernet has no drop path)")
    g.add_argument("--unrolled", action="store_true", default=False, help="use one-step unrolled validation loss")
    g.add_argument("--arch_learning_rate", type=float, default=d["arch_learning_rate"],
                   help="learning rate for arch encoding")
    g.add_argument("--arch_weight_decay", type=float, default=d["arch_weight_decay"],
                   help="weight decay for arch encoding")
    g.add_argument("--begin", type=int, default=d["begin"], help="epoch at which architecture steps start")
    g.add_argument("--partial_channels", type=int, default=None, metavar="K",
                   help="each mixed op works on 1/K of its edge's channels (PC-DARTS: 4 on CIFAR, 2 on ImageNet, "
                        "the default; 1 is DARTS's whole-channel mixed op)")
    g.add_argument("--note", type=str, default="try", help="note for this run (kept in args.json and result.json)")


def add_penalty_args(parser: argparse.ArgumentParser) -> None:
    """The thesis's loss weights (-l1, -l2, -cw), as train_search.py and the sweep's searches take them."""
    g = parser.add_argument_group("penalty (loss = cw*CE + l1*sum|w| + l2*sum w^2; negative = off)")
    g.add_argument("-l1", "--l1_weight", type=float, default=-1.0, help="weight of the L1 penalty")
    g.add_argument("-l2", "--l2_weight", type=float, default=-1.0, help="weight of the L2 penalty")
    g.add_argument("-cw", "--criterion_weight", type=float, default=1.0, help="weight of the cross-entropy")


def is_imagenet(args: argparse.Namespace) -> bool:
    """Whether a run is on ImageNet, however its script says so: --set imagenet, train_search's --imagenet,
    or the sweep's imagenet subcommand (the one spelling every script asks)."""
    return (bool(getattr(args, "imagenet", False)) or getattr(args, "set", None) == "imagenet"
            or getattr(args, "space", None) == "imagenet")


def settle_imagenet_set(args: argparse.Namespace) -> None:
    """train_search's --imagenet and the sweep's imagenet subcommand name the dataset: --set becomes imagenet, so
    that args.json says what the run searched (a train.py --arch of the run takes its --set from there), and a
    --set typed beside them that names another dataset is refused rather than dropped without a word."""
    if not (getattr(args, "imagenet", False) or getattr(args, "space", None) == "imagenet"):
        return
    typed = typed_flags(args)
    given = getattr(args, "set", None)
    if given not in (None, "imagenet") and (given != "cifar10" or (typed is not None and "set" in typed)):
        where, other = (("--imagenet", f"search --set {given} without it") if getattr(args, "imagenet", False)
                        else ("the imagenet subcommand", f"sweep --set {given} with the cifar subcommand"))
        raise UserError(f"--set {given} contradicts {where}, which searches <data>/imagenet_search (drop --set, or "
                        f"{other})")
    args.set = "imagenet"


# the networks' parameters are float32, into which torch's optimizers convert their lr, momentum and weight decay: a
# larger value, finite as a Python float (1e39), was a RuntimeError traceback at the first step, in a new run folder
FLOAT32_MAX = torch.finfo(torch.float32).max
FLOAT32_LIMIT = "(float32's: at most 3.4e38)"
_FINITE_NONNEGATIVE = f"must be a finite number >= 0 {FLOAT32_LIMIT}"
# what torch's generators take (torch.manual_seed): a seed outside was "Overflow when unpacking long long", and in
# batch_train.py's --seeds the failure of every training, in a batch folder left behind
SEED_RANGE = (-(2**63), 2**64 - 1)
SEED_RANGE_ERROR = "must be from -2**63 to 2**64 - 1 (the seeds torch's random generators take)"


def seed_in_range(seed: int) -> bool:
    """Whether torch can seed its generators with ``seed``."""
    return SEED_RANGE[0] <= seed <= SEED_RANGE[1]


def check_common_args(args: argparse.Namespace) -> None:
    """Reject values that would only fail later, deep inside a run, with a one-line reason."""
    checks = [
        ("batch_size", lambda v: v >= 1, "must be >= 1"),
        ("epochs", lambda v: v >= 1, "must be >= 1"),
        ("begin", lambda v: v >= 0, "must be >= 0"),
        ("seed", seed_in_range, SEED_RANGE_ERROR),
        ("learning_rate", lambda v: 0 < v <= FLOAT32_MAX, f"must be a finite number > 0 {FLOAT32_LIMIT}"),
        ("train_portion", lambda v: 0 < v <= 1, "must be in (0, 1]"),
        ("subsample", lambda v: 0 <= v <= 1, "must be in [0, 1]"),
        ("report_lines", lambda v: v >= 1, "must be >= 1"),
        ("init_channels", lambda v: v >= 1, "must be >= 1"),
        ("partial_channels", lambda v: v >= 1, "must be >= 1 (1: every channel through the ops)"),
        ("layers", lambda v: v >= 3, "must be >= 3 (two reduction cells and at least one normal cell)"),
        ("cutout_length", lambda v: v >= 0, "must be >= 0"),
        ("workers", lambda v: v >= 0, "must be >= 0"),
        ("criterion_weight", lambda v: v >= 0, "must be >= 0"),
        ("grad_clip", lambda v: v > 0, "must be > 0 (the gradient norm's cap; a negative one reverses the step)"),
        # what torch's optimizers would reject only once the run folder exists (and NaN or inf, which they take)
        ("learning_rate_min", lambda v: 0 <= v <= FLOAT32_MAX, _FINITE_NONNEGATIVE),
        # the share of each step kept in the next: at 1 or more the steps never fade (1.5 trained to a held-out
        # loss of 93, a run that only looked slow)
        ("momentum", lambda v: 0 <= v < 1, "must be in [0, 1) (at 1 or more the steps never fade)"),
        ("weight_decay", lambda v: 0 <= v <= FLOAT32_MAX, _FINITE_NONNEGATIVE),
        ("arch_learning_rate", lambda v: 0 <= v <= FLOAT32_MAX, _FINITE_NONNEGATIVE),
        ("arch_weight_decay", lambda v: 0 <= v <= FLOAT32_MAX, _FINITE_NONNEGATIVE),
    ]
    for name, ok, why in checks:
        if hasattr(args, name) and getattr(args, name) is not None and not ok(getattr(args, name)):
            raise UserError(f"--{name} {getattr(args, name)} {why}")
    # the CPUs of this machine; a Ray cluster's searches run on its nodes, each checking its own
    if getattr(args, "threads", None) is not None and not getattr(args, "ray_address", None) \
            and (problem := threads_error(args.threads)):
        raise UserError(problem)
    check_image_size(args)


def check_cosine_floor(args: argparse.Namespace) -> None:
    """A cosine schedule decays from --learning_rate to --learning_rate_min: a floor above the start would make it
    climb (to 20x the lr from a typo, and a loss that blew up epoch by epoch)."""
    low, high = getattr(args, "learning_rate_min", None), getattr(args, "learning_rate", None)
    if low is not None and high is not None and low > high:
        raise UserError(f"--learning_rate_min {args.learning_rate_min} is above --learning_rate {args.learning_rate}: "
                        f"the cosine schedule would climb to it, not decay")


def _dataset_known(args: argparse.Namespace) -> bool:
    """Whether --set is settled (train.py and test.py take it from a run folder first, then check again)."""
    return is_imagenet(args) or getattr(args, "set", None) is not None or getattr(args, "space", None) is not None


def check_image_size(args: argparse.Namespace, auxiliary: bool = False) -> None:
    """--image_size against the networks it feeds (model.input_side_error), once the dataset is known."""
    side = getattr(args, "image_size", None)
    if side is not None and _dataset_known(args) and (why := input_side_error(side, is_imagenet(args), auxiliary)):
        raise UserError(f"--image_size {side} {why}")


def min_training_batch(args: argparse.Namespace) -> int:
    """The least batch that trains: 2 where BatchNorm in training mode would see one value per channel at batch
    1, that is DARTS's auxiliary head (its last BatchNorm works on a 1x1 map) or last cells on a 1x1 map
    (--image_size 4, ImageNet's 29-32); else 1."""
    if getattr(args, "auxiliary", False):
        return 2
    side = getattr(args, "image_size", None)
    if side is not None and _dataset_known(args) and input_side_error(side, is_imagenet(args)) is None \
            and last_side(side, is_imagenet(args)) == 1:
        return 2
    return 1


def check_training_batch(args: argparse.Namespace) -> None:
    """Refuse --batch_size 1 in the scripts that train where it cannot (min_training_batch): every step would
    fail in BatchNorm once the run folder exists."""
    if getattr(args, "batch_size", None) == 1 and min_training_batch(args) > 1:
        where = ("with --auxiliary: its head's last BatchNorm works on a 1x1 map" if getattr(args, "auxiliary", False)
                 else f"at --image_size {args.image_size}: the last cells work on a 1x1 map")
        raise UserError(f"--batch_size 1 cannot train {where}, where BatchNorm in training mode sees one value per "
                        "channel (use a batch of 2 or more)")


def check_cutout(args: argparse.Namespace, typed: Collection[str] | None = None) -> None:
    """Refuse a --cutout_length typed without --cutout (a length meant to cut, dropped without a word), and a
    --cutout square longer than the image side, in the scripts whose training uses it: it erases the
    whole image whenever its centre falls near the middle, and every image from twice the side on (a CIFAR
    habit of 16 on 8x8 digits), which trains on blanks without a word. ``typed``: the flags the command line
    gave, where ``args`` no longer tells (default: ``typed_flags(args)``)."""
    length = getattr(args, "cutout_length", None)
    typed = typed_flags(args) if typed is None else typed
    if not getattr(args, "cutout", False) and "cutout_length" in (typed or ()):
        raise UserError(acts_only(["--cutout_length"], "with --cutout, and this run has no cutout"))
    if not getattr(args, "cutout", False) or length is None or not _dataset_known(args):
        return
    side = _side({"set": "imagenet" if is_imagenet(args) else args.set}, getattr(args, "image_size", None))
    if length > side:
        raise UserError(f"--cutout_length {length} is longer than the {side}-pixel image side: its square would "
                        f"erase whole images (DARTS cuts 16 of 32; the default here is {default_cutout_length(side)})")


# --------------------------------------------------------------------------- settings a run folder carries

# What a trained (or searched) run was run on, and the fallback when neither the run nor a flag says.
DATA_SETTINGS: Mapping[str, Any] = {"set": "cifar10", "image_size": None, "data": "data"}
# The evaluation network's shape (train.py's defaults: DARTS's CIFAR network).
NETWORK_SETTINGS: Mapping[str, Any] = {"init_channels": 36, "layers": 20, "auxiliary": False}
# data.load_datasets reads every set at 32x32 unless --image_size is given, ImageNet at 224; the bundled
# sets need no --data.
_DEFAULT_SIDE = {"imagenet": 224}
_BUNDLED_SETS = ("digits", "synthetic")
_WORDS = {"set": "dataset", "image_size": "image size", "data": "data"}
# What each setting a run records must be, as its flag parses it: a hand-edited or damaged args.json ("8" for 8,
# 3.5 layers, "x" for a subsample) was compared, built or split with as it stood (a traceback, or a network of
# int(3.5) cells ensembled without a word).
_SETTING_TYPES: Mapping[str, tuple[tuple[type, ...], str]] = {
    "set": ((str,), "a name"), "data": ((str,), "a path"), "auxiliary": ((bool,), "true or false"),
    **{key: ((int,), "an integer") for key in ("image_size", "init_channels", "layers", "seed")},
    **{key: ((int, float), "a number") for key in ("train_portion", "subsample")},
}


def _check_recorded(source: Path, key: str, value: Any) -> None:
    """A recorded setting of the type its flag gives, else a one-line error naming the file."""
    if key not in _SETTING_TYPES or value is None:
        return
    kinds, words = _SETTING_TYPES[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise UserError(f"{source} has {key} {value!r}, which is not {words} as --{key} gives: the file was damaged "
                        "or edited (repair it)")


class SettingsConflict(UserError):
    """A flag contradicts the run folder it is applied to (or the runs contradict one another)."""


def from_run(parser: argparse.ArgumentParser, fallbacks: Mapping[str, Any], whose: str = "the run's own") -> None:
    """Make the flags of ``fallbacks`` default to None, "not given", so that ``run_settings`` can tell a
    flag the user gave from one it should take from the run; the help names ``whose`` and the fallback."""
    for action in parser._actions:
        if action.dest in fallbacks:
            action.default = None
            own = re.search(r"\s*\(default: ([^)]*)\)$", action.help or "")
            fallback = fallbacks[action.dest]
            if fallback is None:  # the flag's own words for "not given" (an image size: the dataset's)
                fallback = own.group(1) if own else "the dataset's own"
            text = (action.help or "")[: own.start()] if own else (action.help or "")
            action.help = f"{text} (default: {whose}, else {fallback})"


def _side(settings: Mapping[str, Any], value: Any) -> Any:
    return value if value is not None else _DEFAULT_SIDE.get(str(settings.get("set")), 32)


def _same(key: str, given: Any, recorded: Any, settings: Mapping[str, Any]) -> bool:
    if key == "image_size":
        return _side(settings, given) == _side(settings, recorded)
    if key == "data":
        return Path(str(given)).resolve() == Path(str(recorded)).resolve()
    return given == recorded


def run_settings(run_dir: str | Path | None, args: argparse.Namespace, keys: Mapping[str, Any], *,
                 overridable: Collection[str] = ("data",)) -> tuple[argparse.Namespace, str]:
    """``args`` with each of ``keys`` (name -> fallback) taken from the run folder's args.json when the
    flag was not given (None, see ``from_run``), and a one-line note of what came from where.

    A run evaluated or consumed must be read as it was trained: a flag given that contradicts the run
    is a SettingsConflict (a UserError) naming both values, except the ``overridable`` ones, where the
    flag wins and the note says so (the data may have moved; batch_train may train a sweep's genotypes
    on another dataset, and then the run's image size and data path are not taken either). A key the
    run does not record (or ``run_dir`` None, or no args.json) takes the flag, else the fallback. An
    image size of None is the dataset's own, so ``--image_size 32`` agrees with it on digits.
    """
    saved: dict[str, Any] = {}
    source = None
    if run_dir is not None and (Path(run_dir) / "args.json").is_file():
        source = Path(run_dir) / "args.json"
        saved = read_run_args(source)
        if saved.get("imagenet") is True:  # a search with --imagenet, written before its args.json said so in --set
            saved = {**saved, "set": "imagenet"}
    merged = vars(args).copy()
    origins: dict[str, list[str]] = {}
    for key, fallback in keys.items():
        given = merged.get(key)
        if key in saved and (saved[key] is not None or fallback is None):  # None: unknown, but "the dataset's own" size
            recorded = saved[key]
            _check_recorded(source, key, recorded)
            if given is None:
                value, origin = recorded, f"from {source}"
            elif _same(key, given, recorded, merged):
                value, origin = given, f"from {source} and --{key}"
            elif key in overridable:
                value, origin = given, f"from --{key} (the run's was {recorded})"
                if key == "set":  # another dataset: the run's image size and data path are not its
                    saved = {k: v for k, v in saved.items() if k not in ("image_size", "data")}
            else:
                had = _side(merged, recorded) if key == "image_size" else recorded
                raise SettingsConflict(f"{_flag(key, given)} contradicts the run folder {run_dir}, which has {key} "
                                       f"{had} (its args.json): a run is read as it was trained (drop the flag)")
        elif given is not None:
            value, origin = given, f"from --{key}"
        else:
            value, origin = fallback, "by default" if source is None else f"by default ({source} has none)"
        merged[key] = value
        if (key == "data" and merged.get("set") in _BUNDLED_SETS) or (value is None and key != "image_size"):
            continue  # unused, or unset (the script's own default applies): not worth a word
        origins.setdefault(origin, []).append(_show(key, value, merged))
    note = "; ".join(f"{', '.join(items)} {origin}" for origin, items in origins.items())
    return argparse.Namespace(**merged), note


def _flag(key: str, value: Any) -> str:
    """A flag as it was typed: ``--layers 5``, ``--auxiliary``, ``--no-fused`` (a typed False is a --no- form); a
    sweep's ``space`` is its subcommand, typed without a flag (there is no --space to give)."""
    if key == "space":
        return f"the subcommand {value}"
    if isinstance(value, bool):
        return f"--{key}" if value else f"--no-{key}"
    if isinstance(value, (list, tuple)):
        return " ".join([f"--{key}", *map(str, value)])
    return f"--{key} {value}"


def _show(key: str, value: Any, settings: Mapping[str, Any]) -> str:
    if key == "image_size" and value is None:
        return f"image size {_side(settings, None)} (the dataset's own)"
    return f"{_WORDS.get(key, key)} {value}"


def shared_run_settings(run_dirs: Sequence[str | Path], args: argparse.Namespace, keys: Mapping[str, Any], *,
                        overridable: Collection[str] = ("data",),
                        what: str = "the runs disagree") -> tuple[argparse.Namespace, str]:
    """``run_settings`` for several runs used together (an ensemble, a batch of a sweep's genotypes), whose
    settings must then agree: a SettingsConflict starting with ``what`` names two that differ."""
    found = [(Path(run), *run_settings(run, args, keys, overridable=overridable)) for run in run_dirs]
    if not found:
        return run_settings(None, args, keys, overridable=overridable)
    first_run, first, note = found[0]
    base = vars(first)
    for run, settings, _ in found[1:]:
        for key in keys:
            if key == "data" and base.get("set") in _BUNDLED_SETS:
                continue
            mine, theirs = base.get(key), getattr(settings, key)
            if not _same(key, mine, theirs, base):
                raise SettingsConflict(f"{what}: {first_run} has {_show(key, mine, base)}, "
                                       f"{run} has {_show(key, theirs, vars(settings))}")
    if len(found) > 1:
        note += f" (the other {len(found) - 1} run(s) agree)"
    return first, note
