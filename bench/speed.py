"""Step timings: the scripts' faithful eager fp32 steps against each speed lever and all of them together.

    python bench/speed.py                                  # the GPU run (paper sizes), JSON to bench/results/
    python bench/speed.py --device cpu --quick -o q.json   # tiny sizes, about a minute on a CPU (CI)
    python bench/speed.py --parity                         # also check that the fast path gives the same search
    python bench/speed.py --levers fused cuda_graphs --no_compile

Every step is built by the scripts' own builders from the scripts' own parsers: ``train_search.build_search``
on ``train_search.py``'s arguments and ``train.build_training`` on ``train.py``'s, a lever being the flag
that turns it on. What is timed (medians with min/max over timed calls after warm-up, the device
synchronised around each):

* ``weight_step``: the supernet weight step of train_search.py (forward, CE backward, the L1 penalty's
  gradient, ``clip_grad_norm_``, SGD) with train_epoch's per-step running sums;
* ``search_step``: the architecture step (``Architect.step``, first order) followed by the weight step;
* ``eval_step``: train.py's step of NetworkCIFAR(PC_DARTS_cifar, auxiliary) with drop path, with its
  top-1/top-5 sums;
* ``data_path``: images/s of the HostLoader (DataLoader workers, per-sample transforms) and of the
  DeviceLoader (crop/flip/cutout batched on the device) over synthetic uint8 CIFAR-size images.

Levers: ``bf16`` (--amp bf16), ``channels_last``, ``fused`` (fused_search's grouped supernet forward,
--fused), ``fused_optim`` (SGD/Adam with fused=True), ``cuda_graphs`` (the whole step captured once and
replayed) and ``compile`` (torch.compile of the forward, run last under a time cap). Each variant builds
a fresh model from the same seed; a lever that fails records ``{"error": ...}`` and the run goes on. The
JSON is rewritten after every variant, so a run cut short still leaves its results.

Why time the steps and not whole epochs: an epoch is (steps per epoch) x (step time) plus the data path
where the loader cannot keep up; the ratios in the JSON say which formula they use (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import functools
import gc
import math
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch
from torch import nn

import cli
import data as datalib
import fastpath
import train
import train_search
from bench.parity import Build, Tolerance, parity
from bench.timing import Budget, cleanup, device_name, error_record, log, short, slug, sync, time_calls, time_cap
from genotypes import PC_DARTS_cifar
from utils import UserError, configure_torch, get_device, write_json_atomic

LEVERS = ("fused", "cuda_graphs", "bf16", "channels_last", "fused_optim", "compile")  # biggest expected gain first
DROP_ORDER = ("channels_last", "bf16", "fused_optim", "cuda_graphs", "fused")  # least expected gain first
BENCHES = ("weight_step", "search_step", "eval_step")
# The flags of the scripts that turn a lever on (fused is on by default in train_search.py: the faithful
# search passes --no-fused; fused_optim is no script flag, the builders take it as an argument).
LEVER_FLAGS = {"bf16": ["--amp", "bf16"], "channels_last": ["--channels_last"], "cuda_graphs": ["--cuda_graphs"],
               "compile": ["--compile"]}
# The penalty of the timed search: L1 at nu = 1e-4 (the scripts' default is no penalty).
SEARCH_FLAGS = ["-l1", "1e-4"]

# The real workload the epoch estimates are for: CIFAR-10, a search on half of the 50k training images
# (train_portion 0.5) with a held-out batch per architecture step; evaluation on all 50k.
CIFAR_TRAIN = 50_000
SEARCH_EPOCHS, SEARCH_BEGIN = 50, 15


@dataclass
class Config:
    """Sizes and timing of one run (paper sizes by default, tiny ones with --quick); the hyperparameters
    are the scripts' defaults, read from their parsers."""

    search_channels: int = 16
    search_layers: int = 8
    search_batch: int = 256
    image_size: int = 32
    eval_channels: int = 36
    eval_layers: int = 20
    eval_batch: int = 96
    eval_image_size: int = 32  # the auxiliary head needs an 8x8 map after two reductions
    warmup: int = 2
    steps: int = 8
    data_images: int = 50_000
    data_batches: int = 40  # host loader batches timed (a full epoch takes too long at ~10k images/s)
    workers: int = 4
    parity_steps: int = 20
    parity_drop_path: float = 0.0
    graph_warmup: int = 3
    seed: int = 0


QUICK = dict(search_channels=4, search_layers=3, search_batch=32, image_size=16, eval_channels=8, eval_layers=5,
             eval_batch=32, warmup=1, steps=3, data_images=2000, data_batches=0, workers=2, parity_steps=20)


def search_args(cfg: Config, levers: frozenset[str] = frozenset(), seed: int | None = None) -> argparse.Namespace:
    """train_search.py's arguments for the benchmark's sizes and levers (its parser's defaults otherwise)."""
    argv = [*SEARCH_FLAGS, "--init_channels", str(cfg.search_channels), "--layers", str(cfg.search_layers),
            "--batch_size", str(cfg.search_batch), "--seed", str(cfg.seed if seed is None else seed),
            "--fused" if "fused" in levers else "--no-fused"]
    return train_search.build_parser().parse_args(argv + [f for lv in sorted(levers) for f in LEVER_FLAGS.get(lv, [])])


def train_args(cfg: Config, levers: frozenset[str] = frozenset(), seed: int | None = None) -> argparse.Namespace:
    """train.py's arguments for the benchmark's sizes and levers: PC_DARTS_cifar with its auxiliary head."""
    argv = ["--arch", "PC_DARTS_cifar", "--auxiliary", "--init_channels", str(cfg.eval_channels),
            "--layers", str(cfg.eval_layers), "--batch_size", str(cfg.eval_batch),
            "--seed", str(cfg.seed if seed is None else seed)]
    return train.build_parser().parse_args(argv + [f for lv in sorted(levers) for f in LEVER_FLAGS.get(lv, [])])


# --------------------------------------------------------------------------------------------- the steps


@dataclass
class Step:
    """A built variant: the builder's objects and the timed call (the stepper's eager step plus the sums)."""

    fn: Callable[..., torch.Tensor]
    setup: train_search.Search | train.Training
    sums: torch.Tensor

    @property
    def model(self) -> nn.Module:
        return self.setup.model

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        extra = [self.setup.architect.optimizer] if isinstance(self.setup, train_search.Search) else []
        return [self.setup.optimizer, *extra]


def _step(setup: train_search.Search | train.Training, sums: torch.Tensor, n_inputs: int) -> Step:
    def fn(*batch: torch.Tensor) -> torch.Tensor:
        row = setup.stepper.eager(*batch[:n_inputs])
        sums.add_(row)
        return row[0] / batch[1].numel()

    return Step(fn, setup, sums)


def build_search(cfg: Config, levers: frozenset[str], device: torch.device, *, arch: bool,
                 seed: int | None = None) -> Step:
    """train_search.build_search for these levers; the step as train_epoch runs it (``arch``: the
    architecture step on the held-out batch first, the search phase; else the weight step alone)."""
    args = search_args(cfg, levers, seed)
    torch.manual_seed(args.seed)
    setup = train_search.build_search(args, 10, device, fused_optim="fused_optim" in levers)
    return _step(setup, torch.zeros(6, device=device), 4 if arch else 2)  # train_epoch's six sums


def build_eval(cfg: Config, levers: frozenset[str], device: torch.device, *, drop_path: float | None = None,
               seed: int | None = None) -> Step:
    """train.build_training for these levers at the last epoch's drop path; the step is TrainStepper's."""
    args = train_args(cfg, levers, seed)
    torch.manual_seed(args.seed)
    setup = train.build_training(args, PC_DARTS_cifar, 10, device, fused_optim="fused_optim" in levers)
    setup.model.drop_path_prob = args.drop_path_prob if drop_path is None else drop_path
    setup.model.train()
    return _step(setup, torch.zeros(3, device=device), 2)  # train_epoch's loss, top-1, top-5 sums


def parity_build(cfg: Config, device: torch.device) -> Build:
    """The parity check's steps: the full search step, and the eval step at --parity_drop_path."""
    def build_step(kind: str, levers: frozenset[str], seed: int) -> Step:
        if kind == "search":
            return build_search(cfg, levers, device, arch=True, seed=seed)
        return build_eval(cfg, levers, device, drop_path=cfg.parity_drop_path, seed=seed)
    return build_step


def build(bench: str, cfg: Config, levers: frozenset[str], device: torch.device) -> Step:
    if bench == "eval_step":
        return build_eval(cfg, levers, device)
    return build_search(cfg, levers, device, arch=bench == "search_step")


def synthetic_batches(bench: str, cfg: Config, device: torch.device) -> list[torch.Tensor]:
    """Normalised random images and labels (train batch, and held-out batch for the search step)."""
    g = torch.Generator().manual_seed(cfg.seed + 1)
    b, s = (cfg.eval_batch, cfg.eval_image_size) if bench == "eval_step" else (cfg.search_batch, cfg.image_size)
    out = []
    for _ in range(2 if bench == "search_step" else 1):
        out += [torch.randn(b, 3, s, s, generator=g).to(device), torch.randint(10, (b,), generator=g).to(device)]
    return out


def applicable(bench: str, levers: frozenset[str], device: torch.device) -> tuple[frozenset[str], str | None]:
    """The levers that apply to this benchmark, or a reason to skip the variant altogether."""
    if "cuda_graphs" in levers and device.type != "cuda":
        if levers == {"cuda_graphs"}:
            return levers, "cuda_graphs needs a CUDA device"
        levers = levers - {"cuda_graphs"}
    if bench == "eval_step" and "fused" in levers:
        if levers == {"fused"}:
            return levers, "fused applies to the supernet only"
        levers = levers - {"fused"}
    return levers, None


def run_variant(bench: str, levers: frozenset[str], cfg: Config, device: torch.device, budget: Budget,
                compile_cap: float) -> dict[str, Any]:
    """Build a fresh variant, capture/compile it if asked, time it; any failure becomes {"error": ...}."""
    levers, skip = applicable(bench, levers, device)
    record: dict[str, Any] = {"levers": sorted(levers)}
    if skip or budget.left() < 3:
        return {**record, "skipped": skip or "time budget spent"}
    step = call = None
    try:
        batch = synthetic_batches(bench, cfg, device)
        t_build = time.perf_counter()
        step = build(bench, cfg, levers, device)
        call = functools.partial(step.fn, *batch)
        if "compile" in levers:  # compile in one eager call, under a cap, before any graph capture
            with time_cap(max(1.0, min(compile_cap, budget.left() - 2))):
                call()
                sync(device)
            record["compile_s"] = round(time.perf_counter() - t_build, 2)
        if "cuda_graphs" in levers:
            graphed = fastpath.GraphedStep(step.fn, batch, warmup=cfg.graph_warmup)
            record["capture_s"] = round(time.perf_counter() - t_build, 2)
            if graphed.sync_warnings:
                record["sync_warnings"] = graphed.sync_warnings
            call = functools.partial(graphed, *batch)
        record.update(time_calls(call, cfg.warmup, cfg.steps, device))
        if device.type == "cuda":
            record["max_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    except Exception as e:  # noqa: BLE001 - every lever is allowed to fail; the run goes on
        traceback.print_exc(limit=4, file=sys.stderr)
        record.update(error_record(e))
    finally:
        step = call = graphed = None  # free the model, its optimizers and the graph before the next variant
        cleanup(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
    return record


# --------------------------------------------------------------------------------------------- data path


def _host_images_per_s(loader: Any, limit: int, device: torch.device) -> tuple[float, float]:
    """(images/s after the first batch, seconds to the first batch: the workers' start) over ``limit`` batches."""
    it = iter(loader)
    t0 = time.perf_counter()
    next(it)
    sync(device)
    t1 = time.perf_counter()
    n = 0
    for i, (x, _) in enumerate(it):
        n += x.shape[0]
        if i + 2 >= limit:
            break
    sync(device)
    ips = n / max(time.perf_counter() - t1, 1e-9)
    it.close()
    return ips, t1 - t0


def _device_images_per_s(loader: Any, device: torch.device) -> float:
    """images/s over one whole epoch of a DeviceLoader (nothing to start)."""
    sync(device)
    t = time.perf_counter()
    n = sum(x.shape[0] for x, _ in loader)
    sync(device)
    return n / max(time.perf_counter() - t, 1e-9)


def data_path(cfg: Config, device: torch.device) -> dict[str, Any]:
    """images/s of HostLoader vs DeviceLoader on synthetic uint8 images, crop + flip + cutout."""
    s = cfg.image_size
    g = torch.Generator().manual_seed(cfg.seed)
    images = torch.randint(0, 256, (cfg.data_images, 3, s, s), generator=g, dtype=torch.uint8)
    ds = datalib.TensorImageDataset(images, torch.randint(0, 10, (cfg.data_images,), generator=g),
                                    mean=datalib.CIFAR10_MEAN, std=datalib.CIFAR10_STD, augment=True, cutout=True,
                                    cutout_length=min(16, s // 2))
    idx, batch = torch.arange(cfg.data_images), cfg.search_batch
    out: dict[str, Any] = {"images": cfg.data_images, "image_size": s, "batch": batch}
    try:
        host = datalib.HostLoader(ds, idx, batch, shuffle=True, seed=cfg.seed, device=device, workers=cfg.workers)
        limit = max(2, min(cfg.data_batches if cfg.data_batches > 0 else len(host), len(host)))
        ips, startup = _host_images_per_s(host, limit, device)
        out["host"] = {"images_per_s": ips, "workers": cfg.workers, "batches": limit, "startup_s": round(startup, 3),
                       "transforms": "per-sample torchvision ops on uint8 tensors"}
        del host
        gc.collect()
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(limit=4, file=sys.stderr)
        out["host"] = {"workers": cfg.workers, **error_record(e)}
    try:
        dev = datalib.DeviceLoader(ds, idx, batch, shuffle=True, seed=cfg.seed, device=device)
        rates = []
        for epoch in range(3):  # the first pass warms up
            dev.set_epoch(epoch)
            rates.append(_device_images_per_s(dev, device))
        out["device"] = {"images_per_s": statistics.median(rates[1:]), "epochs_timed": len(rates) - 1}
        del dev
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(limit=4, file=sys.stderr)
        out["device"] = error_record(e)
    cleanup(device)
    return out


# --------------------------------------------------------------------------------------------- ratios


def epoch_seconds(step_ms: float, images_per_step: int, steps: int, data: dict[str, Any] | None,
                  loaders: Sequence[str] = ("host", "device")) -> tuple[float, str]:
    """An epoch's seconds and the loader that gives them.

    Host loader: its workers prefetch while the device computes, so a step costs max(step, data).
    Device loader: the augmentation runs on the same stream, so a step costs step + data.
    """
    t = step_ms / 1000.0
    options: dict[str, float] = {}
    for name in loaders:
        ips = ((data or {}).get(name) or {}).get("images_per_s")
        if ips:
            per = images_per_step / ips
            options[name] = steps * (max(t, per) if name == "host" else t + per)
    if not options:
        return steps * t, "none"
    best = min(options, key=options.__getitem__)
    return options[best], best


def _ok(rec: Any) -> bool:
    return isinstance(rec, dict) and "median_ms" in rec


def _timed(results: dict[str, Any], bench: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in results.get("benchmarks", {}).get(bench, {}).items() if _ok(v)}


def _epochs(variants: dict[str, dict[str, Any]], images: int, steps: int, data: Any) -> dict[str, tuple[float, str]]:
    return {k: epoch_seconds(v["median_ms"], images, steps, data) for k, v in variants.items()}


def compute_ratios(results: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """Speed-ups of the fastest variant over the faithful one, per step and per CIFAR-10 epoch."""
    data = results.get("data_path")
    ratios: dict[str, Any] = {"fastest": {}}
    for name in BENCHES:
        variants = _timed(results, name)
        if "faithful" in variants:
            best = min(variants, key=lambda k: variants[k]["median_ms"])
            ratios["fastest"][name] = best
            ratios[f"{name}_speedup"] = variants["faithful"]["median_ms"] / variants[best]["median_ms"]
    sb = cfg.search_batch
    search_steps = math.ceil(CIFAR_TRAIN // 2 / sb)
    search, weight = _timed(results, "search_step"), _timed(results, "weight_step")
    if "faithful" in search:
        base, base_loader = epoch_seconds(search["faithful"]["median_ms"], 2 * sb, search_steps, data, ("host",))
        per = _epochs(search, 2 * sb, search_steps, data)
        best = min(per, key=lambda k: per[k][0])
        ratios["search_epoch_speedup"] = base / per[best][0]
        ratios["search_epoch"] = {
            "faithful_s": base, "faithful_loader": base_loader, "fastest_s": per[best][0],
            "fastest_variant": best, "fastest_loader": per[best][1], "steps_per_epoch": search_steps,
            "images_per_step": 2 * sb,
            "formula": "epoch = steps x max(step, 2B/host_ips) with the host loader, steps x (step + 2B/device_ips) "
                       "with the device loader; faithful = faithful step with the host loader; fastest = the "
                       "smallest over variants and loaders",
        }
        if "faithful" in weight:
            wb, _ = epoch_seconds(weight["faithful"]["median_ms"], sb, search_steps, data, ("host",))
            w_best = min(s for s, _ in _epochs(weight, sb, search_steps, data).values())
            faithful_run = SEARCH_BEGIN * wb + (SEARCH_EPOCHS - SEARCH_BEGIN) * base
            fast_run = SEARCH_BEGIN * w_best + (SEARCH_EPOCHS - SEARCH_BEGIN) * per[best][0]
            ratios["search_run"] = {
                "faithful_min": faithful_run / 60, "fastest_min": fast_run / 60, "speedup": faithful_run / fast_run,
                "formula": f"{SEARCH_BEGIN} weight-only epochs + {SEARCH_EPOCHS - SEARCH_BEGIN} search epochs",
            }
    ev = _timed(results, "eval_step")
    if "faithful" in ev:
        eb = cfg.eval_batch
        steps = math.ceil(CIFAR_TRAIN / eb)
        base, _ = epoch_seconds(ev["faithful"]["median_ms"], eb, steps, data, ("host",))
        per = _epochs(ev, eb, steps, data)
        best = min(per, key=lambda k: per[k][0])
        ratios["eval_epoch_speedup"] = base / per[best][0]
        ratios["eval_epoch"] = {"faithful_s": base, "fastest_s": per[best][0], "fastest_variant": best,
                                "fastest_loader": per[best][1], "steps_per_epoch": steps}
    return ratios


# --------------------------------------------------------------------------------------------- report


def table(results: dict[str, Any]) -> str:
    """The printed table: benchmark, variant, median / min / max ms and speed-up over faithful."""
    lines = [f"{'benchmark':<12} {'variant':<16} {'median ms':>10} {'min':>9} {'max':>9} {'speedup':>8}"]
    for bench, variants in results.get("benchmarks", {}).items():
        base = variants.get("faithful", {}).get("median_ms")
        for name, rec in variants.items():
            if _ok(rec):
                sp = f"x{base / rec['median_ms']:.2f}" if base else "-"
                lines.append(f"{bench:<12} {name:<16} {rec['median_ms']:>10.2f} {rec['min_ms']:>9.2f} "
                             f"{rec['max_ms']:>9.2f} {sp:>8}")
            else:
                why = rec.get("error") or rec.get("skipped") or "?"
                lines.append(f"{bench:<12} {name:<16} {'-':>10} {'':>9} {'':>9} {'':>8}  {why[:70]}")
    for name, rec in (results.get("data_path") or {}).items():
        if name in ("host", "device") and "images_per_s" in rec:
            lines.append(f"data_path    {name:<16} {rec['images_per_s']:>10.0f} images/s")
        elif name in ("host", "device"):
            lines.append(f"data_path    {name:<16} {'-':>10}  {rec.get('error', '')[:70]}")
    ratios = results.get("ratios") or {}
    for key in ("search_epoch_speedup", "search_step_speedup", "weight_step_speedup", "eval_step_speedup",
                "eval_epoch_speedup"):
        if key in ratios:
            lines.append(f"{key:<28} x{ratios[key]:.2f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(description="Time the scripts' faithful steps against each speed lever.",
                           formatter_class=cli.HelpFormatter)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--quick", action="store_true", help="tiny sizes and few steps (about a minute on a CPU)")
    p.add_argument("-o", "--output", default=None,
                   help="JSON file, never overwritten (default: bench/results/<device>-<date>.json; none with "
                        "--quick)")
    p.add_argument("--levers", nargs="+", choices=LEVERS, default=None,
                   help="levers to time (default: all; --quick leaves compile out)")
    p.add_argument("--no_compile", action="store_true", help="skip the torch.compile lever")
    p.add_argument("--compile_cap", type=float, default=90.0, help="seconds one compile may take before it is given up")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds for the run after start-up; variants that would start later are skipped "
                        "(default: 130 on CUDA, unlimited on CPU; 0 = unlimited)")
    p.add_argument("--parity", action="store_true", help="also run the parity check (faithful vs fast path)")
    p.add_argument("--parity_spread", action="store_true",
                   help="with --parity: also run the faithful path from another init seed (the natural spread)")
    p.add_argument("--parity_tol_step_fp32", type=float, default=Tolerance.step_fp32,
                   help="relative loss tolerance over the first 2 steps, fp32 levers")
    p.add_argument("--parity_tol_step_bf16", type=float, default=Tolerance.step_bf16,
                   help="relative loss tolerance over the first 2 steps, with bf16")
    p.add_argument("--parity_tol_trajectory", type=float, default=Tolerance.trajectory,
                   help="relative tolerance of the mean of the last 5 losses")
    p.add_argument("--benchmarks", nargs="+", choices=[*BENCHES, "data_path"], default=None,
                   help="which benchmarks to run (default: all)")
    p.add_argument("--no_cudnn_benchmark", action="store_true",
                   help="leave cudnn.benchmark off (the scripts turn it on)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads, at most the CPUs this process may run on "
                   "(0: torch's default)")
    for name in ("steps", "warmup", "search_channels", "search_layers", "search_batch", "image_size",
                 "eval_channels", "eval_layers", "eval_batch", "eval_image_size", "data_images", "data_batches",
                 "workers", "parity_steps", "parity_drop_path", "seed"):
        p.add_argument(f"--{name}", type=float if name == "parity_drop_path" else int, default=None,
                       help="override the mode's default")
    return p


def make_config(args: argparse.Namespace) -> Config:
    cfg = Config(**(QUICK if args.quick else {}))
    for key in asdict(cfg):
        if getattr(args, key, None) is not None:
            setattr(cfg, key, getattr(args, key))
    for key in ("steps", "search_batch", "eval_batch", "data_images", "image_size", "eval_image_size",
                "search_channels", "eval_channels", "parity_steps"):
        if getattr(cfg, key) < 1:
            raise ValueError(f"--{key} must be >= 1, got {getattr(cfg, key)}")
    if cfg.warmup < 0 or cfg.workers < 0:
        raise ValueError("--warmup and --workers must be >= 0")
    if cfg.search_layers < 3:
        raise ValueError(f"--search_layers {cfg.search_layers} must be >= 3 (with fewer, no normal cell uses "
                         "alphas_normal and the architecture step has no gradient for them)")
    if cfg.search_channels % 4:
        raise ValueError(f"--search_channels {cfg.search_channels} must be a multiple of 4 (PC-DARTS K=4)")
    if cfg.eval_image_size < 20:
        raise ValueError(f"--eval_image_size {cfg.eval_image_size} is too small for the auxiliary head (>= 20)")
    if cfg.data_images < cfg.search_batch:
        raise ValueError(f"--data_images {cfg.data_images} is less than one batch of {cfg.search_batch}")
    return cfg


@dataclass
class Session:
    """One benchmark run: what it times, where it writes, and the results so far."""

    cfg: Config
    device: torch.device
    budget: Budget
    benches: list[str]
    fast: list[str]  # the levers of the fast path (compile is timed apart)
    results: dict[str, Any]
    out_path: Path | None
    compile_cap: float
    tried: dict[str, set[frozenset[str]]] = field(default_factory=dict)  # lever sets tried as all_working

    def save(self) -> None:
        self.results["ratios"] = compute_ratios(self.results, self.cfg)
        self.results["elapsed_s"] = round(self.budget.elapsed(), 1)
        if self.out_path is not None:
            self.out_path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.out_path, self.results)


def time_variant(s: Session, name: str, levers: Callable[[str], frozenset[str]] | Sequence[str],
                 order: Sequence[str] = BENCHES) -> None:
    """Time one variant on each benchmark of ``order`` that runs; ``levers`` may depend on the benchmark."""
    for bench in (b for b in order if b in s.benches):
        chosen = levers(bench) if callable(levers) else frozenset(levers)
        rec = run_variant(bench, chosen, s.cfg, s.device, s.budget, s.compile_cap)
        s.results["benchmarks"][bench][name] = rec
        if _ok(rec):
            base = s.results["benchmarks"][bench].get("faithful", {}).get("median_ms")
            speedup = f" x{base / rec['median_ms']:.2f}" if base else ""
            log(s.budget, f"{bench}/{name} {rec['levers']}: median {rec['median_ms']:.2f} ms "
                          f"(min {rec['min_ms']:.2f}, max {rec['max_ms']:.2f}){speedup}")
        else:
            log(s.budget, f"{bench}/{name} {rec['levers']}: {short(rec)}")
        s.save()


def best_set(s: Session, bench: str) -> frozenset[str]:
    """The levers of the fastest working non-compile variant (all levers when none worked)."""
    recs = [v for k, v in _timed(s.results, bench).items() if k != "faithful" and "compile" not in v["levers"]]
    return frozenset(min(recs, key=lambda v: v["median_ms"])["levers"]) if recs else frozenset(s.fast)


def retry_without_one(s: Session) -> None:
    """Where "all" failed: drop one lever at a time (the likeliest culprits of a failing combination
    first), at most three tries per benchmark, as ``all_working``."""
    for bench in (b for b in BENCHES if b in s.results["benchmarks"]):
        recs = s.results["benchmarks"][bench]
        if len(s.fast) < 2 or _ok(recs.get("all")):
            continue
        seen = s.tried.setdefault(bench, {applicable(bench, frozenset(s.fast), s.device)[0]})
        for lv in (lv for lv in DROP_ORDER if lv in s.fast):
            attempt = applicable(bench, frozenset(s.fast) - {lv}, s.device)[0]
            if attempt in seen or len(attempt) < 2:
                continue
            seen.add(attempt)
            time_variant(s, "all_working", sorted(attempt), [bench])
            if _ok(recs.get("all_working")) or len(seen) > 3:
                break


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole run, most telling results first, so that a run cut short still answers the main question."""
    cfg = make_config(args)
    device = get_device(args.device)
    if device.type == "cpu" and args.device == "auto" and not args.quick:
        # it ran the paper's sizes on the CPU, with no time budget, into a bench/results/ file named like a GPU run's
        raise ValueError("no GPU here: without --quick this is the GPU run at the paper's sizes; --quick times tiny "
                         "sizes on the CPU (--device cpu runs the paper's sizes on it anyway)")
    configure_torch(device, args.threads)  # the scripts' settings: denormals flushed, cuDNN's search on
    if args.no_cudnn_benchmark:
        torch.backends.cudnn.benchmark = False
    # one named twice is timed once (it was timed twice, the second record replacing the first)
    levers = list(dict.fromkeys(args.levers)) if args.levers else [lv for lv in LEVERS
                                                                   if not (args.quick and lv == "compile")]
    if args.no_compile and "compile" in (args.levers or ()):  # it timed the other levers, or none, without a word
        raise ValueError("--levers compile and --no_compile contradict each other: give one of them")
    if args.no_compile and "compile" in levers:
        levers.remove("compile")
    notes: dict[str, str] = {}
    if "cuda_graphs" in levers and device.type != "cuda":
        levers.remove("cuda_graphs")
        notes["cuda_graphs"] = "needs a CUDA device"
        if args.levers and not levers:  # asked for by name, and alone: the run would time the faithful path only
            raise ValueError(f"--levers cuda_graphs needs a CUDA device, and this run is on {device.type}")
    benches = list(dict.fromkeys(args.benchmarks)) if args.benchmarks else [*BENCHES, "data_path"]
    name = device_name(device)
    out_path = Path(args.output) if args.output else None
    if out_path is None and not args.quick:
        out_path = ROOT / "bench" / "results" / f"{slug(name)}-{datetime.now():%Y%m%d-%H%M}.json"
    if out_path is not None and out_path.exists():  # the JSON is written at once: an earlier run's would be gone
        raise ValueError(f"{out_path} exists: give another -o (results are never overwritten)")
    cuda = device.type == "cuda"
    results: dict[str, Any] = {
        "schema": 1, "device": name, "device_type": device.type, "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None, "cudnn": torch.backends.cudnn.version() if cuda else None,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark) if cuda else None,
        "date": datetime.now().isoformat(timespec="seconds"), "python": platform.python_version(),
        "threads": torch.get_num_threads(), "argv": sys.argv[1:], "mode": "quick" if args.quick else "full",
        "config": asdict(cfg), "script_args": {"search": vars(search_args(cfg)), "train": vars(train_args(cfg))},
        "levers": levers, "lever_notes": notes, "benchmarks": {b: {} for b in BENCHES if b in benches},
        "complete": False,
    }
    budget = Budget(args.budget if args.budget is not None else (130.0 if cuda else 0.0))
    s = Session(cfg, device, budget, benches, [lv for lv in levers if lv != "compile"], results, out_path,
                args.compile_cap)
    log(budget, f"{name}, torch {torch.__version__}, levers {levers}, config {asdict(cfg)}")
    for lever, why in notes.items():
        log(budget, f"{lever} left out: {why}")
    s.save()
    time_variant(s, "faithful", [])
    if len(s.fast) > 1:
        time_variant(s, "all", s.fast)
    if "data_path" in benches:
        log(budget, "data path ...")
        results["data_path"] = data_path(cfg, device)
        log(budget, f"data path: host {results['data_path'].get('host')}, device {results['data_path'].get('device')}")
        s.save()
    retry_without_one(s)  # so that the parity check below runs the fast path that works
    if args.parity:
        if budget.left() > 10:
            log(budget, "parity ...")
            tol = Tolerance(args.parity_tol_step_fp32, args.parity_tol_step_bf16, args.parity_tol_trajectory)
            fast = {"search": best_set(s, "search_step"), "eval": best_set(s, "eval_step")}
            results["parity"] = parity(cfg, device, fast, budget, args.parity_spread, tol, parity_build(cfg, device))
            log(budget, f"parity ok: {results['parity']['ok']}, genotype equal: {results['parity']['genotype_equal']}")
        else:
            results["parity"] = {"skipped": "time budget spent"}
        s.save()
    for lv in s.fast:
        time_variant(s, lv, [lv])
    if "compile" in levers:
        small_first = ("eval_step", "weight_step", "search_step")  # the smaller graph compiles faster
        time_variant(s, "compile", ["compile"], small_first)
        if s.fast:  # the scripts refuse --compile with --cuda_graphs, so the combination is not timed either
            time_variant(s, "all+compile", lambda bench: (best_set(s, bench) - {"cuda_graphs"}) | {"compile"},
                         small_first)
    results["complete"] = True
    s.save()
    print(table(results), flush=True)
    if out_path is not None:
        print(f"wrote {out_path}", flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (ValueError, OSError, UserError) as e:  # UserError: configure_torch's --threads beyond the CPUs
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
