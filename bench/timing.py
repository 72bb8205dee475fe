"""Timing helpers of the benchmarks: a run's budget, device-synchronised timings, one-line records."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from profiling import synchronize
from utils import cpu_name


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


def sync(device: torch.device) -> None:
    """Wait for the device (CUDA or MPS), so that a timed call holds the kernels it queued."""
    synchronize(device)


def summarize(times_s: Sequence[float]) -> dict[str, Any]:
    """Median, min and max in milliseconds of per-call times (seconds)."""
    ms = [1000.0 * t for t in times_s]
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "n": len(ms)}


def time_calls(fn: Callable[[], Any], warmup: int, steps: int, device: torch.device) -> dict[str, Any]:
    """Run fn warmup times, then time each of ``steps`` calls between two device synchronisations."""
    for _ in range(warmup):
        fn()
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
    return {"error": f"{type(e).__name__}: {e}".strip().replace("\n", " ")[:600]}


def cleanup(device: torch.device) -> None:
    gc.collect()
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


@contextlib.contextmanager
def time_cap(seconds: float | None) -> Iterator[None]:
    """Raise TimeoutError in the main thread after ``seconds`` (POSIX only; elsewhere no cap)."""
    if not (seconds and seconds > 0 and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()):
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


def device_name(device: torch.device) -> str:
    """The device the timings were taken on, as the JSON records it and names its file (an Apple GPU, which
    --device auto picks, is named as such, not as the CPU beside it)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"mps ({cpu_name()})"
    return f"cpu ({cpu_name()}, {os.cpu_count()} cores)"


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-").lower() or "device"


def short(rec: dict[str, Any]) -> str:
    if "error" in rec:
        return f"ERROR {rec['error'][:160]}"
    if "skipped" in rec:
        return f"skipped ({rec['skipped']})"
    return f"final loss {rec.get('final_loss', float('nan')):.4f}"
