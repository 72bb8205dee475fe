"""Profiling of evaluation networks: parameters, FLOPs and latency, shared by the tools.

Users choose a network from tables of error against cost, so the costs must be comparable with
the thesis's tables:

* **Parameters** of the evaluation network without the auxiliary head (it is dropped at test time),
  unless the network is built with ``auxiliary=True`` and ``with_auxiliary`` is asked for.
* **FLOPs** as thop counts them: multiply-adds of one image (1x3x32x32 for CIFAR networks,
  1x3x224x224 for ImageNet ones), reported under the name "FLOPs" as the thesis did. With the
  default ``rules="thesis"`` the counter uses the rules of the counter the thesis's tables came
  from (OFA's thop-based one): only convolutions and linear layers count, by their
  multiply-adds; BatchNorm (foldable into the convolutions), pooling, ReLU, identity and the
  `none` op count nothing. This reproduces every FLOPs number of the thesis's tables exactly
  (l2_loss_2e01 at C=36, 20 layers: 227,272,320).
  ``rules="thop"`` uses the installed thop's own rules instead (affine BatchNorm 4 per element,
  average pools 1 per output): 2-4 % more.
* **Latency** in milliseconds: the fastest of repeated timed blocks of forward passes (at least
  ``REPEATS``) in eval mode without gradients, after warm-up, with the device synchronised around
  each block and the CPU threads pinned to one count for the whole measurement. The fastest block
  is the one least disturbed by other processes: on a busy machine medians grow with the load and
  can even invert the order of two networks, so a warning is logged when the load average is high
  for the number of cores. CPU at batch 1; GPU at batch 8 (the thesis's "Latency GPU") and batch
  1, only when a GPU is present.

    >>> import genotypes
    >>> from profiling import Profiler
    >>> Profiler(latency=False).profile(genotypes.PC_DARTS_cifar)["flops"]
    556670592
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from genotypes import Genotype, genotype_from_dict, genotype_to_dict
from model import build_network
from operations import Identity, PointwiseConv, Zero
from utils import count_parameters, cpu_name

__all__ = [
    "FLOPS_RULES",
    "Profiler",
    "build_eval_network",
    "count_flops",
    "count_parameters",
    "busy_cpu_note",
    "input_size",
    "measure_latency",
    "synchronize",
]

FLOPS_RULES = ("thesis", "thop")
GPU_BATCH = 8  # the thesis's "Latency GPU" is measured at batch 8
REPEATS = 5  # timed blocks at least, however long one pass takes
BLOCK_SECONDS = 0.02  # passes per block: enough for a block to last this long (timer resolution)
BUSY_LOAD = 0.75  # load average per core above which CPU latencies are flagged as unreliable
LOGGER = logging.getLogger("profiling")


def build_eval_network(
    genotype: Genotype | dict[str, Any],
    init_channels: int = 36,
    layers: int = 20,
    num_classes: int = 10,
    auxiliary: bool = False,
    imagenet: bool = False,
) -> nn.Module:
    """The evaluation network train.py builds for this genotype, in eval mode, on the CPU."""
    if isinstance(genotype, dict):
        genotype = genotype_from_dict(genotype)
    net = build_network(genotype, num_classes, init_channels, layers, auxiliary, imagenet)
    net.drop_path_prob = 0.0
    return net.eval()


def input_size(imagenet: bool = False, batch: int = 1, side: int | None = None) -> tuple[int, int, int, int]:
    """The input the networks are profiled at: one 32x32 CIFAR image or one 224x224 ImageNet image,
    or images of ``side`` (a run trained at another --image_size is profiled as it was trained)."""
    side = side or (224 if imagenet else 32)
    return (batch, 3, side, side)


# --------------------------------------------------------------------------- FLOPs


def _free(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
    module.total_ops += torch.zeros(1, dtype=torch.float64)


def _custom_ops(rules: str) -> dict[type, Callable[..., None]]:
    """thop rules for the DARTS modules thop does not know; for the thesis's counting, only conv/linear count."""
    from thop.vision.basic_hooks import count_convNd

    ops: dict[type, Callable[..., None]] = {Identity: _free, Zero: _free, PointwiseConv: count_convNd}
    if rules == "thesis":
        ops.update({
            nn.BatchNorm2d: _free,
            nn.AvgPool2d: _free,
            nn.AdaptiveAvgPool2d: _free,
            nn.MaxPool2d: _free,
        })
    return ops


def count_flops(model: nn.Module, size: tuple[int, ...] = (1, 3, 32, 32), rules: str = "thesis") -> int:
    """Multiply-adds of one forward pass at ``size`` as thop counts them (see the module docstring).

    The model is profiled as a deep copy on the CPU in eval mode (so the auxiliary head does not
    run), because thop leaves ``total_ops``/``total_params`` buffers on modules it has no rule for;
    the caller's model and its state_dict are untouched.
    """
    if rules not in FLOPS_RULES:
        raise ValueError(f"unknown FLOPs rules {rules!r}: use one of {', '.join(FLOPS_RULES)}")
    import thop  # imported here: thop prints nothing, but importing it is slow and only this needs it

    probe = copy.deepcopy(model).to("cpu").eval()
    x = torch.zeros(size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # thop's LooseVersion deprecation warning
        macs, _ = thop.profile(probe, inputs=(x,), custom_ops=_custom_ops(rules), verbose=False)
    return int(round(float(macs)))


# --------------------------------------------------------------------------- latency


def synchronize(device: torch.device) -> None:
    """Wait for the accelerator, so that a timed block holds the work it queued."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def busy_cpu_note(threads: int | None = None) -> str | None:
    """A warning when the CPU is too busy for a latency to mean anything, else None.

    The 1-minute load average per core (os.getloadavg) above BUSY_LOAD means the timed passes share
    the cores with other processes; None where the load cannot be read (Windows).
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    cores = os.cpu_count() or 1
    if load / cores <= BUSY_LOAD:
        return None
    threads = threads or torch.get_num_threads()
    return (f"CPU latency measured on a busy machine (load average {load:.1f} on {cores} cores, "
            f"{threads} thread{'s' if threads != 1 else ''}): latencies are inflated and may not keep their order; "
            f"measure on an idle machine{', or with --threads 1' if threads != 1 else ''}, "
            f"or skip them with --no_latency")


def measure_latency(
    model: nn.Module,
    device: torch.device | str,
    batch: int = 1,
    size: tuple[int, int, int] = (3, 32, 32),
    min_run_time: float = 1.0,
    warmup: int = 3,
    threads: int | None = None,
    repeats: int = REPEATS,
) -> float:
    """Fastest per-pass forward time in milliseconds of ``model`` on ``device`` for one batch of ``batch``.

    The model is copied to the device in eval mode and torch's CPU threads are set to ``threads``
    (default: the count now) for the whole measurement, then restored. ``warmup`` passes, and at
    least ``min_run_time / 4`` seconds of them, run first (allocator, cuDNN autotuning, GPU clocks
    ramping up from idle). Then blocks of passes (as many as last BLOCK_SECONDS, at least one) are
    timed, the accelerator synchronised at each block's ends, until ``min_run_time`` seconds and at
    least ``repeats`` blocks are done; the fastest block's time per pass is returned, since other
    processes can only slow a block down.
    """
    if not (min_run_time > 0 and math.isfinite(min_run_time)):
        raise ValueError(f"min_run_time must be > 0 seconds, got {min_run_time!r}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    device = torch.device(device)
    net = copy.deepcopy(model).to(device).eval()
    x = torch.randn((batch, *size), device=device)
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        with torch.inference_mode():
            start, done = time.perf_counter(), 0
            while done < max(warmup, 1) or time.perf_counter() - start < min_run_time / 4:
                net(x)
                done += 1
            synchronize(device)
            per_pass = (time.perf_counter() - start) / done
            number = max(1, int(BLOCK_SECONDS / per_pass)) if per_pass > 0 else 1
            times: list[float] = []
            start = time.perf_counter()
            while len(times) < max(repeats, 1) or time.perf_counter() - start < min_run_time:
                synchronize(device)
                began = time.perf_counter()
                for _ in range(number):
                    net(x)
                synchronize(device)
                times.append((time.perf_counter() - began) / number)
    finally:
        torch.set_num_threads(before)
    return min(times) * 1e3


# --------------------------------------------------------------------------- the profiler


@dataclass
class Profiler:
    """Profiles genotypes as evaluation networks with one set of settings; repeats are cached.

    ``auxiliary=True`` builds the network with its auxiliary head and counts its parameters (as the
    thesis's evaluation tables did); FLOPs and latency never include it (it runs only in training).
    ``latency=False`` skips timing (FLOPs and parameters only); ``gpu`` is the device for the GPU
    columns (None: no GPU latency). ``min_run_time`` is the timing budget per measurement (s);
    ``threads`` the CPU threads of the CPU latency (None: torch's count when the profiler is made),
    the same for every network. A busy CPU is warned about once (busy_cpu_note), and ``busy`` keeps that warning
    for the tools' profile records (a file outlives the terminal that showed it).
    """

    init_channels: int = 36
    layers: int = 20
    num_classes: int = 10
    auxiliary: bool = False
    imagenet: bool = False
    image_size: int | None = None  # None: 32, or 224 with imagenet
    latency: bool = True
    gpu: torch.device | None = None
    min_run_time: float = 1.0
    rules: str = "thesis"
    threads: int | None = None
    _cache: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _warned: bool = field(default=False, init=False, repr=False)
    busy: str | None = field(default=None, init=False)  # the busy-CPU warning its latencies were measured under

    def __post_init__(self) -> None:
        if self.rules not in FLOPS_RULES:
            raise ValueError(f"unknown FLOPs rules {self.rules!r}: use one of {', '.join(FLOPS_RULES)}")
        if self.init_channels < 1 or self.layers < 3:
            raise ValueError(f"need init_channels >= 1 and layers >= 3, got {self.init_channels}, {self.layers}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if self.threads is None:
            self.threads = torch.get_num_threads()  # pinned: every network is timed with the same count

    def settings(self) -> dict[str, Any]:
        """What the numbers depend on, for table notes: latencies with the CPU and GPU models and torch's version
        that timed them (a latency column without its machine cannot be compared with another)."""
        out = {"init_channels": self.init_channels, "layers": self.layers, "num_classes": self.num_classes,
               "auxiliary": self.auxiliary, "input": list(input_size(self.imagenet, side=self.image_size)),
               "flops_rules": self.rules, "gpu": str(self.gpu) if self.gpu is not None else None,
               "cpu_threads": self.threads if self.latency else None}
        if self.latency:
            out.update(cpu=cpu_name(), torch=torch.__version__)
            if self.gpu is not None and self.gpu.type == "cuda":
                out["gpu_name"] = torch.cuda.get_device_name(self.gpu)
        return out

    def network(self, genotype: Genotype | dict[str, Any]) -> nn.Module:
        """The evaluation network this profiler measures a genotype on."""
        return build_eval_network(genotype, self.init_channels, self.layers, self.num_classes, self.auxiliary,
                                  self.imagenet)

    def profile(self, genotype: Genotype | dict[str, Any]) -> dict[str, Any]:
        """{"parameters", "flops", "latency_cpu_ms", "latency_gpu_ms", "latency_gpu_b1_ms"} (None = not measured)."""
        key = json.dumps(genotype_to_dict(genotype_from_dict(genotype)), sort_keys=True)
        if key not in self._cache:
            self._cache[key] = self._profile(self.network(genotype))
        return dict(self._cache[key])

    def _profile(self, net: nn.Module) -> dict[str, Any]:
        size = input_size(self.imagenet, side=self.image_size)
        row: dict[str, Any] = {
            "parameters": count_parameters(net, with_auxiliary=self.auxiliary),
            "flops": count_flops(net, size, self.rules),
            "latency_cpu_ms": None,
            "latency_gpu_ms": None,
            "latency_gpu_b1_ms": None,
        }
        if self.latency:
            kwargs = {"size": size[1:], "min_run_time": self.min_run_time, "threads": self.threads}
            note = None if self._warned else busy_cpu_note(self.threads)
            if note is not None:
                LOGGER.warning("warning: %s", note)
                self._warned = True
                self.busy = note
            row["latency_cpu_ms"] = measure_latency(net, "cpu", batch=1, **kwargs)
            if self.gpu is not None and self.gpu.type != "cpu":
                row["latency_gpu_ms"] = measure_latency(net, self.gpu, batch=GPU_BATCH, **kwargs)
                row["latency_gpu_b1_ms"] = measure_latency(net, self.gpu, batch=1, **kwargs)
        return row
