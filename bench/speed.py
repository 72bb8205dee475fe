"""Timing harness of issue 6: the faithful eager fp32 steps against each speed lever and all together.

    python bench/speed.py                                  # the GPU run (paper sizes), JSON to bench/results/
    python bench/speed.py --device cpu --quick -o q.json   # tiny sizes, about a minute on a CPU (CI)
    python bench/speed.py --parity                         # also check that the fast path gives the same search
    python bench/speed.py --levers fused cuda_graphs --no_compile

What is timed (medians with min/max over timed calls after warm-up, the device synchronised around each):

* ``weight_step``: the supernet weight step of train_search.py: forward, CE backward, the L1 penalty's
  gradient (``Penalty.add_grad``), ``clip_grad_norm_``, SGD, and the per-step running sums;
* ``search_step``: the architecture step (``Architect.step``, first order) followed by the weight step;
* ``eval_step``: train.py's ``train_step`` of NetworkCIFAR(PC_DARTS_cifar, auxiliary) with drop path,
  plus its per-step top-1/top-5 sums;
* ``data_path``: images/s of the HostLoader (DataLoader workers, per-sample transforms) and of the
  DeviceLoader (crop/flip/cutout batched on the device) over synthetic uint8 CIFAR-size images.

Levers: ``bf16`` (autocast; the alphas, betas, their softmax, the penalty and Adam stay fp32),
``channels_last`` (model and inputs), ``fused`` (fused_search: one grouped kernel per primitive and
round), ``fused_optim`` (SGD/Adam with fused=True), ``cuda_graphs`` (the whole step captured once and
replayed) and ``compile`` (torch.compile of the model's forward, run last under a time cap). Each variant
builds a fresh model from the same seed; a lever that fails records ``{"error": ...}`` and the run goes on.
The JSON is rewritten after every variant, so a run cut short still leaves its results.

Why time the steps and not whole epochs: an epoch is (steps per epoch) x (step time) plus the data path
where the loader cannot keep up; the ratios in the JSON say which formula they use (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import math
import os
import platform
import signal
import statistics
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
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
from architect import Architect
from genotypes import Genotype, PC_DARTS_cifar
from model import NetworkCIFAR
from model_search import Network
from train_search import Penalty
from utils import write_json_atomic

LEVERS = ("fused", "cuda_graphs", "bf16", "channels_last", "fused_optim", "compile")  # biggest expected gain first
DROP_ORDER = ("channels_last", "bf16", "fused_optim", "cuda_graphs", "fused")  # least expected gain first
CL = torch.channels_last

# The real workload the epoch estimates are for: CIFAR-10, a search on half of the 50k training images
# (train_portion 0.5) with a held-out batch per architecture step; evaluation on all 50k.
CIFAR_TRAIN = 50_000
SEARCH_EPOCHS, SEARCH_BEGIN = 50, 15


# --------------------------------------------------------------------------------------------- configuration


@dataclass
class Config:
    """Sizes and hyperparameters of one run (paper sizes by default, tiny ones with --quick)."""

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
    # train_search / train defaults
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_lr: float = 6e-4
    arch_weight_decay: float = 1e-3
    criterion_weight: float = 1.0
    l1_weight: float = 1e-4
    eval_lr: float = 0.025
    drop_path_prob: float = 0.3
    auxiliary_weight: float = 0.4
    graph_warmup: int = 3
    seed: int = 0


QUICK = dict(search_channels=4, search_layers=3, search_batch=32, image_size=16, eval_channels=8, eval_layers=5,
             eval_batch=32, warmup=1, steps=3, data_images=2000, data_batches=0, workers=2, parity_steps=20)


class Budget:
    """Wall-clock budget of the whole run: variants that would start after it are skipped, not run."""

    def __init__(self, seconds: float) -> None:
        self.t0 = time.perf_counter()
        self.seconds = seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float:
        return math.inf if self.seconds <= 0 else self.seconds - self.elapsed()


def log(budget: Budget, msg: str) -> None:
    print(f"[{budget.elapsed():7.1f}s] {msg}", flush=True)


# --------------------------------------------------------------------------------------------- small helpers


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def summarize(times_s: Sequence[float]) -> dict[str, Any]:
    """Median, min and max in milliseconds of per-call times (seconds)."""
    ms = [1000.0 * t for t in times_s]
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "n": len(ms)}


def time_calls(fn: Callable[[], Any], warmup: int, steps: int, device: torch.device) -> dict[str, Any]:
    """Run fn warmup times, then time each of ``steps`` calls between two device synchronisations."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(max(1, steps)):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return summarize(times)


def error_record(e: BaseException) -> dict[str, str]:
    """A one-line error for the JSON (the traceback goes to stderr)."""
    text = f"{type(e).__name__}: {e}".strip().replace("\n", " ")
    return {"error": text[:600]}


def cleanup(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


@contextlib.contextmanager
def time_cap(seconds: float | None) -> Iterator[None]:
    """Raise TimeoutError in the main thread after ``seconds`` (POSIX only; elsewhere no cap)."""
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise TimeoutError(f"gave up after {seconds:.0f} s (time cap)")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fused_module() -> tuple[Any, str | None]:
    """fused_search if it imports, else (None, why)."""
    try:
        import fused_search
    except Exception as e:  # noqa: BLE001 - any import failure just disables the lever
        return None, f"fused_search not importable: {type(e).__name__}: {e}"
    if not hasattr(fused_search, "enable_fused"):
        return None, "fused_search has no enable_fused()"
    return fused_search, None


def autocast_for(device: torch.device, levers: frozenset[str]) -> Callable[[], Any]:
    """train_search's --amp / --cuda_graphs autocast for a lever set."""
    return fastpath.make_autocast(device, "bf16" if "bf16" in levers else "none", graphs="cuda_graphs" in levers)


def optim_flags(levers: frozenset[str]) -> dict[str, Any]:
    return {"fused": True} if "fused_optim" in levers else {}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"cpu ({name}, {os.cpu_count()} cores)"


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-").lower() or "device"


# --------------------------------------------------------------------------------------------- the steps


@dataclass
class Step:
    """A built variant: the step function, what it needs for graph capture and parity, and notes."""

    fn: Callable[..., torch.Tensor]
    model: nn.Module
    optimizers: list[torch.optim.Optimizer]
    sums: torch.Tensor
    notes: list[str] = field(default_factory=list)


def build_search(cfg: Config, levers: frozenset[str], device: torch.device, *, arch: bool,
                 seed: int | None = None) -> Step:
    """The supernet and its optimizers as train_search.main builds them; the step as train_epoch runs it.

    ``arch=True`` gives the full search step (architecture Adam step, then the weight step).
    """
    torch.manual_seed(cfg.seed if seed is None else seed)
    model = Network(cfg.search_channels, 10, cfg.search_layers).to(device)
    notes: list[str] = []
    if "fused" in levers:
        fused, why = fused_module()
        if fused is None:
            raise RuntimeError(why)
        fused.enable_fused(model)
    if "channels_last" in levers:
        model = model.to(memory_format=CL)
    weights = list(model.weights())
    penalty = Penalty(cfg.criterion_weight, cfg.l1_weight, -1.0)
    graphs = "cuda_graphs" in levers
    # as train_search.main builds them for --cuda_graphs: the lr in a device tensor, fused SGD, capturable Adam
    lr = torch.tensor(cfg.lr, dtype=torch.float32, device=device) if graphs else cfg.lr
    sgd_flags = {"fused": True} if graphs or "fused_optim" in levers else {}
    optimizer = torch.optim.SGD(weights, lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, **sgd_flags)
    architect = Architect(model, penalty, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                          arch_learning_rate=cfg.arch_lr, arch_weight_decay=cfg.arch_weight_decay,
                          capturable=graphs and device.type == "cuda")
    if "fused_optim" in levers:  # same hyperparameters as Architect's own Adam
        architect.optimizer = torch.optim.Adam(model.arch_parameters(), lr=cfg.arch_lr, betas=(0.5, 0.999),
                                               weight_decay=cfg.arch_weight_decay, fused=True,
                                               capturable=graphs and device.type == "cuda")
    if "compile" in levers:
        fastpath.compile_model(model)
    stepper = train_search.SearchStepper(model, weights, penalty, optimizer, architect, grad_clip=cfg.grad_clip,
                                         autocast=autocast_for(device, levers),
                                         channels_last="channels_last" in levers)
    sums = torch.zeros(6, device=device)  # loss, ce, l1, l2, correct, arch valid loss (train_epoch's sums)

    def step_fn(*batch: torch.Tensor) -> torch.Tensor:
        """(x, y): the weight step; (x, y, xv, yv): the architecture step, then the weight step."""
        row = stepper.eager(*(batch if arch else batch[:2]))
        sums.add_(row)
        return row[0] / batch[1].numel()

    return Step(step_fn, model, [optimizer, architect.optimizer], sums, notes)


def build_eval(cfg: Config, levers: frozenset[str], device: torch.device, *, drop_path: float | None = None,
               seed: int | None = None) -> Step:
    """NetworkCIFAR(PC_DARTS_cifar, auxiliary) with train.py's optimizer; the step is train.train_step."""
    torch.manual_seed(cfg.seed if seed is None else seed)
    model = NetworkCIFAR(cfg.eval_channels, 10, cfg.eval_layers, True, PC_DARTS_cifar).to(device)
    model.drop_path_prob = cfg.drop_path_prob if drop_path is None else drop_path
    model.train()
    if "channels_last" in levers:
        model = model.to(memory_format=CL)
    optimizer = torch.optim.SGD(model.parameters(), cfg.eval_lr, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay, **optim_flags(levers))
    if "compile" in levers:
        fastpath.compile_model(model)
    stepper = train.TrainStepper(model, optimizer, auxiliary_weight=cfg.auxiliary_weight, grad_clip=cfg.grad_clip,
                                 autocast=autocast_for(device, levers), channels_last="channels_last" in levers)
    sums = torch.zeros(3, device=device)  # train_epoch's loss, top-1, top-5 sums

    def eval_step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        row = stepper.eager(x, y)
        sums.add_(row)
        return row[0] / y.numel()

    return Step(eval_step, model, [optimizer], sums)


BENCHES = ("weight_step", "search_step", "eval_step")


def build(bench: str, cfg: Config, levers: frozenset[str], device: torch.device, **kw: Any) -> Step:
    if bench == "eval_step":
        return build_eval(cfg, levers, device, **kw)
    return build_search(cfg, levers, device, arch=bench == "search_step", **kw)


def synthetic_batches(bench: str, cfg: Config, device: torch.device) -> list[torch.Tensor]:
    """Normalised random images and labels (train batch, and held-out batch for the search step)."""
    g = torch.Generator().manual_seed(cfg.seed + 1)
    if bench == "eval_step":
        b, s = cfg.eval_batch, cfg.eval_image_size
    else:
        b, s = cfg.search_batch, cfg.image_size
    n_pairs = 2 if bench == "search_step" else 1
    out = []
    for _ in range(n_pairs):
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


def run_variant(bench: str, name: str, levers: frozenset[str], cfg: Config, device: torch.device,
                budget: Budget, compile_cap: float) -> dict[str, Any]:
    """Build a fresh variant, capture/compile it if asked, time it; any failure becomes {"error": ...}."""
    levers, skip = applicable(bench, levers, device)
    record: dict[str, Any] = {"levers": sorted(levers)}
    if skip:
        return {**record, "skipped": skip}
    if budget.left() < 3:
        return {**record, "skipped": "time budget spent"}
    step: Step | None = None
    graphed: fastpath.GraphedStep | None = None
    call: Callable[[], Any] | None = None
    try:
        batch = synthetic_batches(bench, cfg, device)
        t_build = time.perf_counter()
        step = build(bench, cfg, levers, device)
        if "compile" in levers:  # compile in one eager call, under a cap, before any graph capture
            cap = max(1.0, min(compile_cap, budget.left() - 2))
            with time_cap(cap):
                step.fn(*batch)
                sync(device)
            record["compile_s"] = round(time.perf_counter() - t_build, 2)
        if "cuda_graphs" in levers:
            graphed = fastpath.GraphedStep(step.fn, batch, warmup=cfg.graph_warmup)
            record["capture_s"] = round(time.perf_counter() - t_build, 2)
            if graphed.sync_warnings:
                record["sync_warnings"] = graphed.sync_warnings
            call = functools.partial(graphed, *batch)
        else:
            call = functools.partial(step.fn, *batch)
        stats = time_calls(call, cfg.warmup, cfg.steps, device)
        record.update(stats)
        if device.type == "cuda":
            record["max_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    except Exception as e:  # noqa: BLE001 - every lever is allowed to fail; the run goes on
        traceback.print_exc(limit=4, file=sys.stderr)
        record.update(error_record(e))
    finally:
        step = graphed = call = None  # free the model, its optimizers and the graph before the next variant
        cleanup(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
    return record


# --------------------------------------------------------------------------------------------- data path


def data_path(cfg: Config, device: torch.device) -> dict[str, Any]:
    """images/s of HostLoader vs DeviceLoader on synthetic uint8 images, crop + flip + cutout."""
    s = cfg.image_size
    g = torch.Generator().manual_seed(cfg.seed)
    images = torch.randint(0, 256, (cfg.data_images, 3, s, s), generator=g, dtype=torch.uint8)
    targets = torch.randint(0, 10, (cfg.data_images,), generator=g)
    ds = datalib.TensorImageDataset(images, targets, mean=datalib.CIFAR10_MEAN, std=datalib.CIFAR10_STD,
                                    augment=True, cutout=True, cutout_length=min(16, s // 2))
    idx = torch.arange(cfg.data_images)
    batch = cfg.search_batch
    out: dict[str, Any] = {"images": cfg.data_images, "image_size": s, "batch": batch}
    try:
        host = datalib.HostLoader(ds, idx, batch, shuffle=True, seed=cfg.seed, device=device, workers=cfg.workers)
        limit = cfg.data_batches if cfg.data_batches > 0 else len(host)
        limit = max(2, min(limit, len(host)))
        it = iter(host)
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
        t2 = time.perf_counter()
        it.close()
        del it
        gc.collect()
        out["host"] = {"images_per_s": n / max(t2 - t1, 1e-9), "workers": cfg.workers, "batches": limit,
                       "startup_s": round(t1 - t0, 3), "transforms": "per-sample torchvision ops on uint8 tensors"}
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(limit=4, file=sys.stderr)
        out["host"] = {"workers": cfg.workers, **error_record(e)}
    try:
        dev = datalib.DeviceLoader(ds, idx, batch, shuffle=True, seed=cfg.seed, device=device)
        times = []
        for epoch in range(3):  # the first pass warms up
            dev.set_epoch(epoch)
            sync(device)
            t = time.perf_counter()
            n = 0
            for x, _ in dev:
                n += x.shape[0]
            sync(device)
            times.append(time.perf_counter() - t)
        best = statistics.median(times[1:])
        out["device"] = {"images_per_s": n / max(best, 1e-9), "epochs_timed": len(times) - 1}
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
    data = data or {}
    for name in loaders:
        ips = (data.get(name) or {}).get("images_per_s")
        if not ips:
            continue
        per = images_per_step / ips
        options[name] = steps * (max(t, per) if name == "host" else t + per)
    if not options:
        return steps * t, "none"
    best = min(options, key=options.__getitem__)
    return options[best], best


def _ok(rec: Any) -> bool:
    return isinstance(rec, dict) and "median_ms" in rec


def compute_ratios(results: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """Speed-ups of the fastest variant over the faithful one, per step and per CIFAR-10 epoch."""
    bench = results.get("benchmarks", {})
    data = results.get("data_path")
    ratios: dict[str, Any] = {}
    fastest: dict[str, str] = {}
    for name in BENCHES:
        variants = {k: v for k, v in bench.get(name, {}).items() if _ok(v)}
        if "faithful" not in variants:
            continue
        best = min(variants, key=lambda k: variants[k]["median_ms"])
        fastest[name] = best
        ratios[f"{name}_speedup"] = variants["faithful"]["median_ms"] / variants[best]["median_ms"]
    ratios["fastest"] = fastest

    sb = cfg.search_batch
    search_steps = math.ceil(CIFAR_TRAIN // 2 / sb)
    search = {k: v for k, v in bench.get("search_step", {}).items() if _ok(v)}
    weight = {k: v for k, v in bench.get("weight_step", {}).items() if _ok(v)}
    if "faithful" in search:
        base, base_loader = epoch_seconds(search["faithful"]["median_ms"], 2 * sb, search_steps, data, ("host",))
        per = {k: epoch_seconds(v["median_ms"], 2 * sb, search_steps, data) for k, v in search.items()}
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
            wper = {k: epoch_seconds(v["median_ms"], sb, search_steps, data)[0] for k, v in weight.items()}
            w_best = min(wper.values())
            faithful_run = SEARCH_BEGIN * wb + (SEARCH_EPOCHS - SEARCH_BEGIN) * base
            fast_run = SEARCH_BEGIN * w_best + (SEARCH_EPOCHS - SEARCH_BEGIN) * per[best][0]
            ratios["search_run"] = {
                "faithful_min": faithful_run / 60, "fastest_min": fast_run / 60, "speedup": faithful_run / fast_run,
                "formula": f"{SEARCH_BEGIN} weight-only epochs + {SEARCH_EPOCHS - SEARCH_BEGIN} search epochs",
            }
    ev = {k: v for k, v in bench.get("eval_step", {}).items() if _ok(v)}
    if "faithful" in ev:
        eb = cfg.eval_batch
        steps = math.ceil(CIFAR_TRAIN / eb)
        base, _ = epoch_seconds(ev["faithful"]["median_ms"], eb, steps, data, ("host",))
        per = {k: epoch_seconds(v["median_ms"], eb, steps, data) for k, v in ev.items()}
        best = min(per, key=lambda k: per[k][0])
        ratios["eval_epoch_speedup"] = base / per[best][0]
        ratios["eval_epoch"] = {"faithful_s": base, "fastest_s": per[best][0], "fastest_variant": best,
                                "fastest_loader": per[best][1], "steps_per_epoch": steps}
    if "search_epoch_speedup" in ratios and "eval_step_speedup" in ratios:
        ratios["meets_issue_targets"] = bool(ratios["search_epoch_speedup"] >= 10 and ratios["eval_step_speedup"] >= 4)
    return ratios


# --------------------------------------------------------------------------------------------- parity


def _parity_data(cfg: Config, device: torch.device, image_size: int, batch: int, n: int,
                 held_out: bool) -> list[tuple[torch.Tensor, ...]]:
    """n (train, held-out) batches of learnable synthetic images through the DeviceLoader (crop, flip)."""
    num = max(10 * batch, 2000)
    x, y, _, _ = datalib.make_synthetic(num, 10, 10, image_size, seed=cfg.seed)
    mean = tuple(float(v) for v in x.double().div(255).mean(dim=(0, 2, 3)))
    std = tuple(float(v) for v in x.double().div(255).std(dim=(0, 2, 3)))
    ds = datalib.TensorImageDataset(x, y, mean=mean, std=std, augment=True)
    loader = datalib.DeviceLoader(ds, torch.arange(num), batch, shuffle=True, seed=cfg.seed, device=device,
                                  drop_last=True)
    out: list[tuple[torch.Tensor, ...]] = []
    epoch = 0
    while len(out) < n:
        loader.set_epoch(epoch)
        for xb, yb in loader:
            if held_out:
                xv, yv = loader.sample_batch()
                out.append((xb, yb, xv, yv))
            else:
                out.append((xb, yb))
            if len(out) == n:
                break
        epoch += 1
    return out


def _parity_run(kind: str, cfg: Config, levers: frozenset[str], device: torch.device,
                batches: list[tuple[torch.Tensor, ...]], seed: int) -> dict[str, Any]:
    if kind == "search":
        step = build_search(cfg, levers, device, arch=True, seed=seed)
    else:
        step = build_eval(cfg, levers, device, drop_path=cfg.parity_drop_path, seed=seed)
    call = step.fn
    graphed = None
    if "cuda_graphs" in levers:
        snap = fastpath.Snapshot(step.model, step.optimizers, [step.sums])
        graphed = fastpath.GraphedStep(step.fn, batches[0], warmup=cfg.graph_warmup, after_capture=snap.restore)
        call = graphed
    losses = [call(*b).detach().float().clone() for b in batches]
    curve = torch.stack(losses).tolist()
    out: dict[str, Any] = {"levers": sorted(levers), "final_loss": curve[-1],
                           "last5_mean": statistics.fmean(curve[-5:]), "losses": [round(v, 6) for v in curve]}
    if kind == "search":
        model = step.model
        out["_alphas"] = torch.cat([p.detach().float().flatten() for p in model.arch_parameters()]).cpu()
        out["_genotype"] = model.genotype()
    del step, graphed, call
    cleanup(device)
    return out


def _genotype_edges_differ(a: Genotype, b: Genotype) -> int:
    return sum(x != y for x, y in zip(a.normal + a.reduce, b.normal + b.reduce))


@dataclass
class Tolerance:
    """Parity bounds (relative loss differences) and why they are what they are.

    ``step``: the first two losses (the forward on the same initial weights, then after one update) test
    that the fast path computes the same function; chaos has not amplified rounding yet (it grows by about
    an order of magnitude per step at these learning rates).
    ``trajectory``: the mean of the last five losses after all steps; SGD at lr 0.1 amplifies any rounding
    difference, so this bound is set well inside the spread that another init seed gives (seed_spread).
    """

    step_fp32: float = 2e-3
    step_bf16: float = 3e-2
    trajectory: float = 5e-2

    def why(self) -> str:
        return ("step: fp32 levers only reorder sums (cuDNN's TF32 convolutions and other algorithms change "
                "rounding at 1e-4..1e-3), bf16 keeps 8 mantissa bits (0.4% per op, partly averaging out); "
                "trajectory: after N SGD steps the rounding has grown chaotically, so the last-5 mean is "
                "compared with a bound far inside the change another init seed gives (seed_spread). The "
                "genotype is reported, not required: after 20 steps the alphas have moved by about 1e-2 and "
                "near-ties decide several edges")


def parity(cfg: Config, device: torch.device, levers: dict[str, frozenset[str]], budget: Budget,
           spread: bool, tol: Tolerance) -> dict[str, Any]:
    """Faithful vs the fast path without bf16 vs the whole fast path, same seed and same batches.

    ``levers`` maps "search" and "eval" to the fast path's levers (the fastest working set of the timings).
    """
    result: dict[str, Any] = {
        "steps": cfg.parity_steps,
        "search_config": {"C": cfg.search_channels, "layers": cfg.search_layers, "batch": cfg.search_batch,
                          "image_size": cfg.image_size, "arch_step_every_step": True},
        "eval_config": {"C": cfg.eval_channels, "layers": cfg.eval_layers, "batch": cfg.eval_batch,
                        "drop_path_prob": cfg.parity_drop_path},
        "data": "learnable synthetic images (data.make_synthetic) through the DeviceLoader, the same batches "
                "for every variant",
        "tolerance": {**asdict(tol), "why": tol.why()},
    }
    for kind in ("search", "eval"):
        fast = levers.get(kind, frozenset())
        if device.type != "cuda":
            fast = fast - {"cuda_graphs"}
        if kind == "eval":
            fast = fast - {"fused"}
        runs: dict[str, frozenset[str]] = {"faithful": frozenset()}
        if fast - {"bf16"} and "bf16" in fast:
            runs["fast_fp32"] = fast - {"bf16"}
        if fast:
            runs["fast"] = fast
        if spread:
            runs["faithful_seed+1"] = frozenset()
        held_out = kind == "search"
        size = cfg.image_size if held_out else cfg.eval_image_size
        batch = cfg.search_batch if held_out else cfg.eval_batch
        section: dict[str, Any] = {}
        result[kind] = section
        try:
            batches = _parity_data(cfg, device, size, batch, cfg.parity_steps, held_out)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc(limit=4, file=sys.stderr)
            section["error"] = error_record(e)["error"]
            continue
        for name, run_levers in runs.items():
            if budget.left() < 5:
                section[name] = {"levers": sorted(run_levers), "skipped": "time budget spent"}
                continue
            seed = cfg.seed + 1 if name == "faithful_seed+1" else cfg.seed
            try:
                section[name] = _parity_run(kind, cfg, run_levers, device, batches, seed)
            except Exception as e:  # noqa: BLE001
                traceback.print_exc(limit=4, file=sys.stderr)
                section[name] = {"levers": sorted(run_levers), **error_record(e)}
                cleanup(device)
            log(budget, f"parity {kind}/{name}: {_short(section[name])}")
        _compare(kind, section, cfg, tol)
    checks = [r["ok"] for k in ("search", "eval") for r in result.get(k, {}).values()
              if isinstance(r, dict) and "ok" in r]
    result["ok"] = bool(checks) and all(checks)
    genotypes = [r["genotype_equal"] for name, r in result.get("search", {}).items()
                 if isinstance(r, dict) and "genotype_equal" in r and name != "faithful_seed+1"]
    result["genotype_equal"] = bool(genotypes) and all(genotypes)
    return result


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def _compare(kind: str, section: dict[str, Any], cfg: Config, tol: Tolerance) -> None:
    """Add the differences to the faithful run (and the verdicts) to each record of a parity section."""
    base = section.get("faithful", {})
    if "losses" in base:
        for name, rec in section.items():
            if name == "faithful" or "losses" not in rec:
                continue
            early = min(2, len(base["losses"]))
            rec["step_rel_diff"] = max(_rel(a, b) for a, b in zip(rec["losses"][:early], base["losses"][:early]))
            rec["last5_rel_diff"] = _rel(rec["last5_mean"], base["last5_mean"])
            rec["final_loss_rel_diff"] = _rel(rec["final_loss"], base["final_loss"])
            if kind == "search":
                rec["alphas_max_abs_diff"] = float((rec["_alphas"] - base["_alphas"]).abs().max())
                rec["genotype_equal"] = rec["_genotype"] == base["_genotype"]
                rec["genotype_edges_differ"] = _genotype_edges_differ(rec["_genotype"], base["_genotype"])
            if name != "faithful_seed+1":
                step_tol = tol.step_bf16 if "bf16" in rec["levers"] else tol.step_fp32
                rec["ok"] = bool(rec["step_rel_diff"] <= step_tol and rec["last5_rel_diff"] <= tol.trajectory)
        if kind == "search":
            torch.manual_seed(cfg.seed)
            init = Network(cfg.search_channels, 10, cfg.search_layers).arch_parameters()
            init_flat = torch.cat([p.detach().flatten() for p in init])
            base["alphas_max_abs_change"] = float((base["_alphas"] - init_flat).abs().max())
    for name, rec in section.items():
        if not isinstance(rec, dict):
            continue
        if name != "faithful_seed+1" and name != "faithful" and "ok" not in rec:
            rec["ok"] = False  # a fast variant that failed or was skipped does not pass
        genotype = rec.pop("_genotype", None)
        rec.pop("_alphas", None)
        if genotype is not None:
            rec["genotype"] = {"normal": genotype.normal, "reduce": genotype.reduce}


def _short(rec: dict[str, Any]) -> str:
    if "error" in rec:
        return f"ERROR {rec['error'][:160]}"
    if "skipped" in rec:
        return f"skipped ({rec['skipped']})"
    return f"final loss {rec.get('final_loss', float('nan')):.4f}"


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
    data = results.get("data_path") or {}
    for name in ("host", "device"):
        rec = data.get(name) or {}
        if "images_per_s" in rec:
            lines.append(f"data_path    {name:<16} {rec['images_per_s']:>10.0f} images/s")
        elif rec:
            lines.append(f"data_path    {name:<16} {'-':>10}  {rec.get('error', '')[:70]}")
    ratios = results.get("ratios") or {}
    for key in ("search_epoch_speedup", "search_step_speedup", "weight_step_speedup", "eval_step_speedup",
                "eval_epoch_speedup"):
        if key in ratios:
            lines.append(f"{key:<28} x{ratios[key]:.2f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(description="Time the faithful steps against each speed lever (issue 6).",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--quick", action="store_true", help="tiny sizes and few steps (about a minute on a CPU)")
    p.add_argument("-o", "--output", default=None,
                   help="JSON file (default: bench/results/<device>-<date>.json; none with --quick)")
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
    p.add_argument("--no_cudnn_benchmark", action="store_true", help="leave cudnn.benchmark off (train.py turns it on)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    for name, kind in (("steps", int), ("warmup", int), ("search_channels", int), ("search_layers", int),
                       ("search_batch", int), ("image_size", int), ("eval_channels", int), ("eval_layers", int),
                       ("eval_batch", int), ("eval_image_size", int), ("data_images", int), ("data_batches", int),
                       ("workers", int), ("parity_steps", int), ("parity_drop_path", float), ("seed", int)):
        p.add_argument(f"--{name}", type=kind, default=None, help="override the mode's default")
    return p


def make_config(args: argparse.Namespace) -> Config:
    cfg = Config(**(QUICK if args.quick else {}))
    for key in asdict(cfg):
        value = getattr(args, key, None)
        if value is not None:
            setattr(cfg, key, value)
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


def fallback_sets(fast: Sequence[str], recs: dict[str, Any], bench: str, device: torch.device) -> list[list[str]]:
    """Lever sets to try when "all" fails: the levers that worked alone, then without the weakest of them."""
    good = [lv for lv in fast if _ok(recs.get(lv)) and applicable(bench, frozenset([lv]), device)[1] is None]
    good.sort(key=lambda lv: recs[lv]["median_ms"])  # fastest alone first
    sets = []
    if set(good) != set(fast) and len(good) > 1:
        sets.append(list(good))
    while len(good) > 2:
        good = good[:-1]
        sets.append(list(good))
    return sets


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device visible")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = make_config(args)
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not args.no_cudnn_benchmark
    budget = Budget(args.budget if args.budget is not None else (130.0 if device.type == "cuda" else 0.0))
    levers = list(args.levers) if args.levers else [lv for lv in LEVERS if not (args.quick and lv == "compile")]
    if args.no_compile and "compile" in levers:
        levers.remove("compile")
    notes: dict[str, str] = {}
    if "fused" in levers:
        _, why = fused_module()
        if why:
            levers.remove("fused")
            notes["fused"] = why
    if "cuda_graphs" in levers and device.type != "cuda":
        levers.remove("cuda_graphs")
        notes["cuda_graphs"] = "needs a CUDA device"
    benches = args.benchmarks or [*BENCHES, "data_path"]

    name = device_name(device)
    out_path = Path(args.output) if args.output else None
    if out_path is None and not args.quick:
        out_path = ROOT / "bench" / "results" / f"{slug(name)}-{datetime.now():%Y%m%d-%H%M}.json"
    results: dict[str, Any] = {
        "schema": 1,
        "device": name,
        "device_type": device.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark) if device.type == "cuda" else None,
        "date": datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "argv": sys.argv[1:],
        "mode": "quick" if args.quick else "full",
        "config": asdict(cfg),
        "levers": levers,
        "lever_notes": notes,
        "benchmarks": {b: {} for b in BENCHES if b in benches},
        "complete": False,
    }

    def save() -> None:
        results["ratios"] = compute_ratios(results, cfg)
        results["elapsed_s"] = round(budget.elapsed(), 1)
        if out_path is not None:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(out_path, results)

    def variant(vname: str, vlevers: Sequence[str] | Callable[[str], frozenset[str]],
                order: Sequence[str] = BENCHES) -> None:
        """Time one variant on every benchmark; ``vlevers`` may depend on the benchmark."""
        for bench in order:
            if bench not in benches:
                continue
            chosen = vlevers(bench) if callable(vlevers) else frozenset(vlevers)
            rec = run_variant(bench, vname, chosen, cfg, device, budget, args.compile_cap)
            results["benchmarks"][bench][vname] = rec
            if _ok(rec):
                base = results["benchmarks"][bench].get("faithful", {}).get("median_ms")
                sp = f" x{base / rec['median_ms']:.2f}" if base else ""
                log(budget, f"{bench}/{vname} {rec['levers']}: median {rec['median_ms']:.2f} ms "
                            f"(min {rec['min_ms']:.2f}, max {rec['max_ms']:.2f}){sp}")
            else:
                log(budget, f"{bench}/{vname} {rec['levers']}: {_short(rec)}")
            save()

    log(budget, f"{name}, torch {torch.__version__}, levers {levers}, config {asdict(cfg)}")
    save()
    fast = [lv for lv in levers if lv != "compile"]

    def best_set(bench: str) -> frozenset[str]:
        """The levers of the fastest working non-compile variant (all levers when none worked)."""
        recs = {k: v for k, v in results["benchmarks"].get(bench, {}).items()
                if _ok(v) and k != "faithful" and "compile" not in v["levers"]}
        if not recs:
            return frozenset(fast)
        return frozenset(min(recs.values(), key=lambda v: v["median_ms"])["levers"])

    singles_done: list[str] = []
    tried: dict[str, set[frozenset[str]]] = {}  # lever sets tried as "all_working", per benchmark

    def singles() -> None:
        for lv in fast:
            if lv not in singles_done:
                singles_done.append(lv)
                variant(lv, [lv])

    def fallbacks() -> None:
        """"all" failed: retry with the levers that worked alone, then without the weakest of them."""
        for bench in BENCHES:
            if bench not in benches or len(fast) < 2:
                continue
            recs = results["benchmarks"][bench]
            if _ok(recs.get("all")) or _ok(recs.get("all_working")):
                continue
            attempts = [a for a in fallback_sets(fast, recs, bench, device)
                        if applicable(bench, frozenset(a), device)[0] not in tried.setdefault(bench, set())]
            for attempt in attempts[:2]:
                tried[bench].add(applicable(bench, frozenset(attempt), device)[0])
                variant("all_working", attempt, [bench])
                if _ok(recs.get("all_working")):
                    break

    def drop_one() -> None:
        """"all" failed: before the levers alone are known, drop one lever at a time (the likeliest culprits
        of a failing combination first), at most three tries per benchmark."""
        for bench in BENCHES:
            recs = results["benchmarks"].get(bench)
            if recs is None or len(fast) < 2 or _ok(recs.get("all")):
                continue
            seen = tried.setdefault(bench, {applicable(bench, frozenset(fast), device)[0]})
            for lv in [lv for lv in DROP_ORDER if lv in fast]:
                attempt = applicable(bench, frozenset(fast) - {lv}, device)[0]
                if attempt in seen or len(attempt) < 2:
                    continue
                seen.add(attempt)
                variant("all_working", sorted(attempt), [bench])
                if _ok(recs.get("all_working")) or len(seen) > 3:
                    break

    # Most telling first, so a run cut short still answers the main question.
    variant("faithful", [])
    if len(fast) > 1:
        variant("all", fast)
    if "data_path" in benches:
        log(budget, "data path ...")
        results["data_path"] = data_path(cfg, device)
        log(budget, f"data path: host {results['data_path'].get('host')}, device {results['data_path'].get('device')}")
        save()
    drop_one()  # so that the parity check below runs the fast path that works
    if args.parity:
        if budget.left() > 10:
            log(budget, "parity ...")
            tol = Tolerance(args.parity_tol_step_fp32, args.parity_tol_step_bf16, args.parity_tol_trajectory)
            results["parity"] = parity(cfg, device, {"search": best_set("search_step"), "eval": best_set("eval_step")},
                                       budget, args.parity_spread, tol)
            log(budget, f"parity ok: {results['parity']['ok']}, genotype equal: {results['parity']['genotype_equal']}")
        else:
            results["parity"] = {"skipped": "time budget spent"}
        save()
    singles()
    fallbacks()
    if "compile" in levers:
        small_first = ("eval_step", "weight_step", "search_step")  # the smaller graph compiles faster
        variant("compile", ["compile"], small_first)
        if fast:
            # the scripts refuse --compile with --cuda_graphs, so the combination is not timed either
            variant("all+compile", lambda bench: (best_set(bench) - {"cuda_graphs"}) | {"compile"}, small_first)
    results["complete"] = True
    save()
    print(table(results), flush=True)
    if out_path is not None:
        print(f"wrote {out_path}", flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
