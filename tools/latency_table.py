"""The latency lookup table of the `latency` objective: every primitive at every shape of the evaluation network.

    python tools/latency_table.py --device cpu --batch 1 -o table.json
    python tools/latency_table.py --device cuda --batch 8 -o gpu_table.json --validate
    python tools/latency_table.py --device cpu --eval_channels 16 --eval_layers 8 -o small.json --validate

Each of the 7 non-`none` primitives is timed at each (channels, stride, input side) an edge of the
evaluation network has (NetworkCIFAR(36, classes, 20) at 32x32, or NetworkImageNet(48, classes, 14)
at 224x224 with --imagenet; --image_size for a search at another size), and so are the fixed parts
(stem, each cell's two preprocessing ops, pooling and classifier): the fastest of timed blocks of
forward passes, in ms, in eval mode without gradients (profiling.measure_latency, which times the
blocks itself rather than take torch.utils.benchmark's median: on a shared machine a median grows
with the load and can swap two networks' order). `train_search.py --cost latency --latency_table table.json` adds them
up (cost.py) and copies the table into its run folder.

``--validate`` then measures whole evaluation networks of the published genotypes of the DARTS
space and compares them with the table's additive estimate: Pearson and Spearman correlation and
the worst relative error go into the table ("validation") and are printed. Every entry and every
network is timed --rounds times, interleaved in a shuffled order, and its fastest kept, so that load from
other processes on a shared machine, which only ever slows a run down, disturbs the numbers less.

Progress (minutes at the paper's size) goes to stderr as it is made: a bar over every timing (not with
--no_progress, nor where stderr is no terminal), a line per finished round and, in the last round, a
line per --validate network; a Ctrl-C says how many timings were done (the table is written only at the end).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python tools/x.py`: import repo modules

if __name__ == "__main__":  # before the imports below: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import cli  # noqa: E402
import cost  # noqa: E402
import genotypes  # noqa: E402
from model import input_side_error  # noqa: E402
from operations import OPS  # noqa: E402
from profiling import build_eval_network, measure_latency  # noqa: E402
from utils import (  # noqa: E402
    UserError,
    bar_off,
    check_output,
    configure_torch,
    cpu_name,
    device_available,
    get_device,
    json_or_none,
    run_main,
    write_json_atomic,
)

DEFAULT_OUTPUT = "latency_table.json"


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(description="Time every primitive at every shape of the evaluation network.",
                                formatter_class=cli.HelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps"], help="the target device")
    parser.add_argument("--gpu", type=int, default=0, help="gpu device id")
    parser.add_argument("--batch", type=int, default=1, help="batch size the latency is taken at")
    parser.add_argument("-o", "--output", default=None,
                        help=f"the table (JSON; default: {DEFAULT_OUTPUT}, which replaces a table of another device, "
                             "batch or network there only when named)")
    parser.add_argument("--eval_channels", type=int, default=None, help="init channels (36; 48 with --imagenet)")
    parser.add_argument("--eval_layers", type=int, default=None, help="cells (20; 14 with --imagenet)")
    parser.add_argument("--num_classes", type=int, default=None,
                        help="classes of the classifier (10; 1000 with --imagenet, as NetworkImageNet(48, 1000, 14))")
    parser.add_argument("--imagenet", action="store_true", help="NetworkImageNet at 224x224 instead of NetworkCIFAR")
    parser.add_argument("--image_size", type=int, default=None,
                        help="input side of the evaluation network: the search's --image_size (default 32; 224 "
                             "with --imagenet)")
    parser.add_argument("--min_run_time", type=float, default=cost.TABLE_TIMING["min_run_time"],
                        help="seconds of timing per entry")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads, at most the CPUs this process may run on "
                        "(0: torch's default)")
    parser.add_argument("--validate", action="store_true",
                        help="also time whole networks of the published genotypes against the additive estimate")
    parser.add_argument("--rounds", type=int, default=cost.TABLE_TIMING["rounds"],
                        help="time every table entry and every --validate network this many times (interleaved, "
                             "shuffled) and keep the fastest")
    parser.add_argument("--no_progress", action="store_true",
                        help="no progress bar (a line per round and per --validate network is still printed)")
    return parser


def _fixed_modules(net: nn.Module, spec: cost.EvalSpec) -> list[tuple[str, nn.Module, tuple[int, ...]]]:
    """(name, module, input shape) of every part outside the cells' edges, shapes taken by a forward pass."""
    parts: list[tuple[str, nn.Module]] = []
    if spec.imagenet:
        parts += [("stem0", net.stem0), ("stem1", net.stem1)]
    else:
        parts.append(("stem", net.stem))
    for i, cell in enumerate(net.cells):
        parts += [(f"cells.{i}.preprocess0", cell.preprocess0), (f"cells.{i}.preprocess1", cell.preprocess1)]
    head = nn.Sequential(net.global_pooling, nn.Flatten(), net.classifier)
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [m.register_forward_pre_hook(lambda m, a, n=n: shapes.__setitem__(n, tuple(a[0].shape[1:])))
             for n, m in parts]
    hooks.append(net.global_pooling.register_forward_pre_hook(
        lambda m, a: shapes.__setitem__("head", tuple(a[0].shape[1:]))))
    with torch.no_grad():
        net(torch.zeros(1, 3, spec.side, spec.side))
    for h in hooks:
        h.remove()
    return [(n, m, shapes[n]) for n, m in parts] + [("head", head, shapes["head"])]


def _signature(module: nn.Module, shape: tuple[int, ...]) -> str:
    convs = [tuple(p.shape) for p in module.parameters() if p.dim() == 4]
    return f"{type(module).__name__}{convs}@{shape}"


def make_table(args: argparse.Namespace, device: torch.device, spec: cost.EvalSpec,
               networks: dict[str, nn.Module] | None = None) -> tuple[dict[str, Any], dict[str, float]]:
    """Time the primitives and the fixed parts (the table cost.CostModel reads) and, in the same rounds,
    the whole ``networks`` (for --validate): a slow spell of a shared machine then hits both alike.
    Minutes at the paper's size: progress goes to stderr as it is made (Progress)."""
    timing = {"batch": args.batch, "min_run_time": args.min_run_time, "threads": args.threads or None}
    entries: dict[str, tuple[nn.Module, tuple[int, ...]]] = {}
    for reduction, channels, side in cost.cell_shapes(spec):
        for shape in cost.edge_shapes(reduction, channels, side):
            for op in cost.OP_NAMES:
                key = cost.op_key(op, *shape)
                if key not in entries:
                    entries[key] = (OPS[op](shape[0], shape[1], True), (shape[0], shape[2], shape[2]))
    net = build_eval_network(cost.uniform_genotype("none"), spec.init_channels, spec.layers, spec.num_classes,
                             imagenet=spec.imagenet)
    signature_of: dict[str, str] = {}
    for name, module, shape in _fixed_modules(net, spec):
        sig = _signature(module, shape)
        signature_of[name] = sig
        entries.setdefault(sig, (module, shape))
    for name, net_ in (networks or {}).items():
        entries[f"network:{name}"] = (net_, (3, spec.side, spec.side))
    with Progress(len(entries), args.rounds, bar=not getattr(args, "no_progress", False)) as progress:
        timed = _fastest_of_rounds(entries, args.rounds,
                                   lambda m, shape: measure_latency(m, device, size=shape, **timing), progress)
    whole = {name: timed[f"network:{name}"] for name in networks or {}}
    ops = {key: timed[key] for key in entries if "/" in key and key.split("/")[0] in cost.OP_NAMES}
    fixed = {name: timed[sig] for name, sig in signature_of.items()}
    return {
        "device": str(device), "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                                               else cpu_name()),
        "batch": args.batch, "threads": args.threads or torch.get_num_threads(), "min_run_time": args.min_run_time,
        "rounds": args.rounds, "torch": torch.__version__, "made": time.strftime("%Y-%m-%d %H:%M:%S"),
        "eval": {k: v for k, v in spec.to_dict().items() if k != "input"}, "input_side": spec.side,
        "ops": ops, "fixed_ms": sum(fixed.values()), "fixed_parts": fixed,
    }, whole


class Progress:
    """What the timing has done, on stderr as it goes: a bar over every timing (off with --no_progress, and where
    stderr is no terminal), a line per finished round, and in the last round a line per --validate network, whose
    fastest time is then known. An interrupted run says how far it got (the table is written only at the end)."""

    def __init__(self, n_entries: int, rounds: int, bar: bool = True) -> None:
        from tqdm import tqdm

        self.n_entries, self.rounds, self.done, self.t0 = n_entries, rounds, 0, time.time()
        self.bar = tqdm(total=n_entries * rounds, desc="timing", unit="entry", leave=False, file=sys.stderr,
                        disable=bar_off(not bar), dynamic_ncols=True)
        self.say(f"timing {n_entries} entries, {rounds} round(s) in a shuffled order each")

    def say(self, line: str) -> None:
        """A line on stderr that the bar does not overwrite."""
        self.bar.write(line, file=sys.stderr)

    def timed(self, round_: int, key: str, ms: float, best: float) -> None:
        """One entry timed in round ``round_`` (0-based) in ``ms``, ``best`` its fastest so far."""
        self.done += 1
        self.bar.set_postfix_str(key, refresh=False)
        self.bar.update()
        if key.startswith("network:") and round_ == self.rounds - 1:
            self.say(f"{key.removeprefix('network:'):>24}  measured {best:8.3f} ms (fastest of {self.rounds})")
        if self.done % self.n_entries == 0:
            self.say(f"round {self.done // self.n_entries}/{self.rounds}: {self.n_entries} entries timed "
                     f"({time.time() - self.t0:.0f} s so far)")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.bar.close()
        if kind is not None and self.done < self.n_entries * self.rounds:
            print(f"stopped after {self.done} of {self.n_entries * self.rounds} timings "
                  f"({self.rounds} rounds of {self.n_entries} entries), {time.time() - self.t0:.0f} s: "
                  "no table written", file=sys.stderr, flush=True)


def _fastest_of_rounds(entries: dict[str, Any], rounds: int, measure: Any,
                       progress: Progress | None = None) -> dict[str, float]:
    """Each entry's fastest time over ``rounds`` passes, each in its own shuffled order.

    Other processes on a shared machine only ever slow a measurement down, so the fastest of a few
    rounds is the least disturbed; shuffling spreads a slow spell over all entries alike.
    """
    best: dict[str, float] = {}
    for round_ in range(rounds):
        keys = list(entries)
        random.Random(round_).shuffle(keys)  # table entries and whole networks interleaved, a new order each round
        for key in keys:
            ms = measure(*entries[key])
            best[key] = min(best.get(key, ms), ms)
            if progress is not None:
                progress.timed(round_, key, ms, best[key])
    return best


def published_genotypes() -> dict[str, genotypes.Genotype]:
    """The genotypes of genotypes.py the cost model covers (DARTS space: 4 nodes, concat 2..5, search ops)."""
    out = {}
    for name in dir(genotypes):
        g = getattr(genotypes, name)
        if isinstance(g, genotypes.Genotype) and not name.startswith("_"):
            ops = {op for op, _ in [*g.normal, *g.reduce]}
            if ops <= set(cost.OP_NAMES) and list(g.normal_concat) == list(g.reduce_concat) == [2, 3, 4, 5] \
                    and len(g.normal) == len(g.reduce) == 8:
                out[name] = g
    return out


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged, as Spearman's correlation takes them: genotypes.py lists some genotypes more than
    once, whose estimates are then equal, and ranking such ties in list order made the correlation depend on it."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    _, group, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(group, weights=ranks)
    return sums[group] / counts[group]


def validate(table: dict[str, Any], spec: cost.EvalSpec, measured: dict[str, float]) -> dict[str, Any]:
    """Measured whole-network latency against the table's sum, over the published genotypes."""
    model = cost.CostModel.build("latency", spec, table)
    chosen = published_genotypes()
    rows = [{"name": name, "estimate_ms": model.genotype_cost(g), "measured_ms": measured[name]}
            for name, g in chosen.items()]
    est = np.array([r["estimate_ms"] for r in rows])
    mea = np.array([r["measured_ms"] for r in rows])
    rel = (est - mea) / mea
    return {"genotypes": rows, "pearson": float(np.corrcoef(est, mea)[0, 1]),
            "spearman": float(np.corrcoef(_ranks(est), _ranks(mea))[0, 1]),
            "worst_relative_error": float(rel[np.argmax(np.abs(rel))]), "mean_ratio": float(np.mean(est / mea))}


def _check_default_output(path: Path, device: torch.device, batch: int, spec: cost.EvalSpec) -> None:
    """Refuse to let the default -o replace a table made for another device, batch or network: a GPU table made
    after a CPU one (or the paper's network after the demo's) took the other's place without a word, and a table
    takes minutes to make. A remake of the same table may replace it."""
    old = json_or_none(path)
    if not isinstance(old, dict) or not isinstance(old.get("ops"), dict):
        return
    now = {"device": str(device), "batch": batch, "eval": {k: v for k, v in spec.to_dict().items() if k != "input"},
           "input_side": spec.side}
    differ = [key for key, value in now.items() if old.get(key) != value]
    if differ:
        raise UserError(f"the default -o {path} is a latency table of another {' and '.join(differ)} "
                        f"({', '.join(f'{key} {old.get(key)!r}' for key in differ)}), which this one would replace: "
                        f"give -o FILE (or -o {path} to replace it)")


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Write the table (and its validation); returns it."""
    output = check_output(args.output or DEFAULT_OUTPUT, "-o" if args.output else "the default -o")
    if args.num_classes is None:  # an ImageNet search's classifier has 1000 classes, as profile_genotypes.py's
        args.num_classes = 1000 if args.imagenet else 10
    for flag, value, low in (("--batch", args.batch, 1), ("--num_classes", args.num_classes, 1),
                             ("--rounds", args.rounds, 1), ("--threads", args.threads, 0)):
        if value < low:
            raise UserError(f"{flag} {value} must be >= {low}")
    if args.image_size is not None and (why := input_side_error(args.image_size, args.imagenet)):
        raise UserError(f"--image_size {args.image_size} {why}")
    if not (args.min_run_time > 0 and math.isfinite(args.min_run_time)):
        raise UserError(f"--min_run_time {args.min_run_time} must be a number of seconds > 0")
    cost.check_cost_args(args, None)
    # get_device's refusal offers --device auto, which this tool has not (a table is timed on the device it names)
    if not device_available(args.device):
        raise UserError(f"--device {args.device} is not available on this machine: a latency table is timed on the "
                        "device it is for, so make it there (or pass --device cpu to time this machine's CPU)")
    device = get_device(args.device, args.gpu)
    configure_torch(device, args.threads, training=False)
    spec = cost.eval_spec(args, args.num_classes, args.imagenet)
    if args.output is None:
        _check_default_output(output, device, args.batch, spec)
    networks = ({name: build_eval_network(g, spec.init_channels, spec.layers, spec.num_classes,
                                          imagenet=spec.imagenet) for name, g in published_genotypes().items()}
                if args.validate else None)
    table, measured = make_table(args, device, spec, networks)
    print(f"{len(table['ops'])} primitive entries, fixed parts {table['fixed_ms']:.4g} ms on {table['device']} "
          f"(batch {args.batch})")
    if args.validate:
        table["validation"] = check = validate(table, spec, measured)
        for r in check["genotypes"]:
            print(f"{r['name']:>24}  estimate {r['estimate_ms']:8.3f} ms  measured {r['measured_ms']:8.3f} ms")
        print(f"Pearson {check['pearson']:.3f}, Spearman {check['spearman']:.3f}, worst relative error "
              f"{100 * check['worst_relative_error']:+.1f}%, mean estimate/measured {check['mean_ratio']:.3f}")
    output.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(output, table)
    print(f"table: {output}")
    return table


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
