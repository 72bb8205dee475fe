"""CPU timing of the supernet: the reference forward against fused_search's grouped forward.

Times forward+backward and a full search step (first-order architecture step on a held-out batch,
then the weight step with the L2 penalty, gradient clipping and SGD: train_search.py's own step, built
by ``train_search.build_search`` from its parser's defaults, with or without --fused), the two variants
interleaved repeat by repeat so that a machine shared with other jobs slows both alike. Reports wall-clock
medians (min/max) and process CPU time (less sensitive to other jobs at one thread), prints a
table and writes JSON, with the operators one forward+backward of the paper's supernet (16 channels,
8 cells) dispatches to kernels in each variant (``paper_supernet_ops``: the README's kernel counts).

    python bench/cpu_fused.py                       # both configurations, 1 thread and the default
    python bench/cpu_fused.py --quick -o /tmp/cpu_fused.json     # one small configuration, 1 thread
    python bench/cpu_fused.py --mkldnn              # also both variants with oneDNN switched off
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cli  # noqa: E402
import train_search  # noqa: E402
from utils import (  # noqa: E402
    available_cores,
    check_writable,
    configure_torch,
    cpu_name,
    run_main,
    write_json_atomic,
)

# name: (C, layers, batch, image size)
CONFIGS = {
    "c8-l5-b64-32px": (8, 5, 64, 32),
    "c4-l3-b128-16px": (4, 3, 128, 16),
}
QUICK_CONFIGS = {"c4-l3-b32-16px": (4, 3, 32, 16)}


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one small configuration, 3 repeats (about a minute)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per variant (default 7, quick 3)")
    parser.add_argument("--threads", default=None,
                        help="comma list of thread counts, 'default' = torch's (default: 1,default; quick: 1)")
    parser.add_argument("--measures", default="fwd_bwd,search_step", help="comma list: fwd_bwd, search_step")
    parser.add_argument("--mkldnn", action="store_true", help="also time both variants with oneDNN disabled")
    parser.add_argument("-o", "--output", default=None,
                        help="JSON file, never overwritten (default logs/bench/cpu_fused-<time>.json)")
    return parser


def parse_threads(text: str, default_threads: int) -> list[int]:
    """--threads' comma list as thread counts, each once. Its own messages: utils.threads_error offers 0 for torch's
    default, which this list spells 'default', and int()'s own error named no flag."""
    threads = []
    for t in (t.strip() for t in text.split(",")):
        if t == "default":
            threads.append(default_threads)
            continue
        if not t.isdigit() or int(t) < 1:
            raise ValueError(f"--threads: {t!r} is not a thread count (a comma list of counts >= 1 and 'default', "
                             "torch's own)")
        if int(t) > (cores := available_cores()):
            raise ValueError(f"--threads {t} is more than the {cores} CPU{'s' if cores != 1 else ''} this process may "
                             f"run on (more threads only contend for them): give 1 to {cores}, or 'default' for "
                             "torch's")
        threads.append(int(t))
    return list(dict.fromkeys(threads))


def search_args(C: int, layers: int, batch: int, fused: bool) -> argparse.Namespace:
    """train_search.py's arguments for one configuration: its defaults, the L2 penalty on, fused or not."""
    return train_search.build_parser().parse_args(["--init_channels", str(C), "--layers", str(layers),
                                                   "--batch_size", str(batch), "-l2", "1e-3",
                                                   "--fused" if fused else "--no-fused"])


class Runner:
    """One variant as train_search.py builds it (``train_search.build_search``): callables that run one timed
    unit of work."""

    def __init__(self, args: argparse.Namespace, mkldnn: bool, batches: tuple[torch.Tensor, ...]):
        torch.manual_seed(0)  # every variant starts from the same supernet
        self.setup = train_search.build_search(args, 10, torch.device("cpu"))
        self.net = self.setup.model
        self.mkldnn = mkldnn
        self.batches = batches

    def flags(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext() if self.mkldnn else torch.backends.mkldnn.flags(enabled=False)

    def fwd_bwd(self) -> None:
        with self.flags():
            self.net.zero_grad(set_to_none=True)
            F.cross_entropy(self.net(self.batches[0]), self.batches[1]).backward()

    def search_step(self) -> None:
        """train_search's search step: the architecture step on the held-out batch, then the weight step."""
        with self.flags():
            self.setup.stepper.eager(*self.batches)


class _OpCounter(TorchDispatchMode):
    """Counts the operators dispatched to kernels (below autograd, so the backward's too); views, which launch no
    kernel of their own, apart."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0
        self.views = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        self.ops += 1
        self.views += bool(getattr(func, "is_view", False))
        return func(*args, **(kwargs or {}))


def paper_supernet_ops() -> dict[str, dict[str, int]]:
    """Operators of one forward+backward of the paper's supernet (train_search.py's defaults: 16 channels, 8 cells;
    batch 2 at 32x32, as the count does not depend on the batch), faithful ("ref") and fused, after a warm-up pass."""
    counts = {}
    for variant, fused in (("ref", False), ("fused", True)):
        torch.manual_seed(0)
        args = train_search.build_parser().parse_args(["--batch_size", "2", "-l2", "1e-3",
                                                       "--fused" if fused else "--no-fused"])
        net = train_search.build_search(args, 10, torch.device("cpu")).model
        x, y = torch.randn(2, 3, 32, 32), torch.randint(0, 10, (2,))
        F.cross_entropy(net(x), y).backward()
        net.zero_grad(set_to_none=True)
        counter = _OpCounter()
        with counter:
            F.cross_entropy(net(x), y).backward()
        counts[variant] = {"ops": counter.ops, "non_view_ops": counter.ops - counter.views}
    return counts


def time_interleaved(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, dict[str, Any]]:
    """Run each variant once to warm up, then ``repeats`` rounds, rotating the order every round."""
    names = list(fns)
    for name in names:
        fns[name]()
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            w0, c0 = time.perf_counter(), time.process_time()
            fns[name]()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    return {
        n: {"median_s": statistics.median(wall[n]), "min_s": min(wall[n]), "max_s": max(wall[n]),
            "cpu_median_s": statistics.median(cpu[n]), "wall_s": wall[n], "cpu_s": cpu[n]}
        for n in names
    }


def check_equivalence(ref: nn.Module, fused: nn.Module, x: torch.Tensor) -> float:
    """Relative difference of the logits of the two variants on copies (their BN buffers stay put)."""
    with torch.no_grad():
        a, b = copy.deepcopy(ref)(x), copy.deepcopy(fused)(x)
    return float((a - b).norm() / a.norm())


def main(args: argparse.Namespace) -> dict:
    out = Path(args.output or f"logs/bench/cpu_fused-{time.strftime('%Y%m%d-%H%M%S')}.json")
    if out.exists():  # checked before the minutes of timing that would then replace an earlier run's JSON
        raise ValueError(f"{out} exists: give another -o (results are never overwritten)")
    check_writable(out, "-o")  # a folder that cannot be made there lost the minutes of timing at the end
    configure_torch(torch.device("cpu"))  # train_search.py's settings (denormals flushed); threads set below
    default_threads = torch.get_num_threads()
    threads = parse_threads(args.threads or ("1" if args.quick else "1,default"), default_threads)
    measures = list(dict.fromkeys(m.strip() for m in args.measures.split(",")))  # one named twice is timed once
    unknown = set(measures) - {"fwd_bwd", "search_step"}
    if unknown:
        raise ValueError(f"--measures: unknown {sorted(unknown)} (choose from fwd_bwd, search_step)")
    repeats = args.repeats or (3 if args.quick else 7)
    if repeats < 1:
        raise ValueError("--repeats must be >= 1")
    configs = QUICK_CONFIGS if args.quick else CONFIGS
    result: dict[str, Any] = {
        "device": "cpu", "torch": torch.__version__, "processor": cpu_name(),
        "cpu_count": os.cpu_count(), "default_threads": default_threads, "repeats": repeats,
        "loadavg_start": os.getloadavg(), "results": [],
    }
    ops = result["paper_supernet_ops"] = paper_supernet_ops()
    print("paper's supernet, one forward+backward: " + ", ".join(
        f"{v} {c['non_view_ops']:,} operators ({c['ops']:,} with views)" for v, c in ops.items())
        + f": fused/ref {ops['fused']['non_view_ops'] / ops['ref']['non_view_ops']:.2f}", flush=True)
    rows = []
    for name, (C, layers, batch, size) in configs.items():
        torch.manual_seed(0)
        batches = (torch.randn(batch, 3, size, size), torch.randint(0, 10, (batch,)),
                   torch.randn(batch, 3, size, size), torch.randint(0, 10, (batch,)))
        ref, fused = (search_args(C, layers, batch, fused=f) for f in (False, True))
        rel = check_equivalence(Runner(ref, True, batches).net, Runner(fused, True, batches).net, batches[0])
        variants = {"ref": (ref, True), "fused": (fused, True)}
        if args.mkldnn:
            variants.update({"ref_no_mkldnn": (ref, False), "fused_no_mkldnn": (fused, False)})
        for n_threads in threads:
            torch.set_num_threads(n_threads)
            for measure in measures:
                runners = {v: Runner(a, mk, batches) for v, (a, mk) in variants.items()}
                timings = time_interleaved({v: getattr(r, measure) for v, r in runners.items()}, repeats)
                entry = {"config": name, "C": C, "layers": layers, "batch": batch, "size": size,
                         "threads": n_threads, "measure": measure, "logits_rel_diff": rel, "timings": timings,
                         "speedup": timings["ref"]["median_s"] / timings["fused"]["median_s"]}
                result["results"].append(entry)
                rows.append(entry)
                print(_row(entry), flush=True)
    torch.set_num_threads(default_threads)
    result["loadavg_end"] = os.getloadavg()
    if out.exists():  # another command wrote it while this one timed
        raise ValueError(f"{out} was written by another command meanwhile: give another -o (results are never "
                         "overwritten)")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, result)  # a run stopped while writing leaves no half JSON
    print(f"load average start {result['loadavg_start']}, end {result['loadavg_end']}; wrote {out}")
    return result


def _row(entry: dict) -> str:
    parts = [f"{entry['config']:17s} thr={entry['threads']:<2d} {entry['measure']:11s}"]
    for v, t in entry["timings"].items():
        parts.append(f"{v} {t['median_s']:.3f}s [{t['min_s']:.3f}-{t['max_s']:.3f}] cpu {t['cpu_median_s']:.3f}s")
    parts.append(f"speedup x{entry['speedup']:.2f}")
    return " | ".join(parts)


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
