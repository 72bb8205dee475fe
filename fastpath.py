"""The speed levers that train_search.py, train.py and bench/speed.py share: autocast, CUDA graphs, compile.

A search or evaluation step launches thousands of small kernels, so on a GPU most of its time is spent
issuing them. Two levers remove that cost: capturing the whole step (forward, backward, penalty, clip,
optimizer) in a CUDA graph and replaying it (``GraphedStep``), and ``torch.compile`` (``compile_model``).
Both scripts and the benchmark build their fast paths from this module, so the benchmark times the
code the scripts run.

    >>> autocast = make_autocast(device, "bf16", graphs=True)
    >>> snap = Snapshot(model, [optimizer])                # state before the warm-up calls
    >>> step = GraphedStep(fn, (x, y), after_capture=snap.restore)
    >>> out = step(x_next, y_next)                          # copies the batch in, replays the graph

A graphed step replays exactly the kernels it captured: Python numbers read inside it (a learning rate,
a drop-path probability) are frozen at capture. Callers keep such values in device tensors or capture
again when they change.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn

__all__ = ["COMPILE_MODES", "GraphedStep", "Snapshot", "StepGraph", "compile_model", "load_optimizer_state",
           "make_autocast"]

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# How an optimizer runs its update, as opposed to what it computes: a run decides these itself.
EXECUTION_FLAGS = ("foreach", "fused", "capturable", "differentiable")


def make_autocast(device: torch.device, amp: str, *, graphs: bool = False
                  ) -> Callable[[], AbstractContextManager[Any]]:
    """A factory of autocast contexts for ``amp`` ("none" or "bf16").

    Under CUDA graphs the weight-cast cache is off: its cached bf16 copies would be allocated inside one
    capture and freed outside it.
    """
    if amp == "bf16":
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=not graphs)
    if amp not in ("none", None):
        raise ValueError(f"unknown amp {amp!r} (none or bf16)")
    return nullcontext


def compile_model(model: nn.Module, mode: str = "default", backend: str = "inductor") -> nn.Module:
    """``model.compile`` in place (the module and its state_dict keys stay as they are)."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"unknown compile mode {mode!r} ({', '.join(COMPILE_MODES)})")
    model.compile(mode=None if mode == "default" else mode, backend=backend)
    return model


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """``optimizer.load_state_dict(state)``, keeping this run's execution flags (``fused``, ``capturable``, ...).

    A saved state brings its groups' flags along and ``load_state_dict`` would adopt them: a run resumed with
    ``--cuda_graphs`` from a checkpoint written without it would get a foreach SGD (which reads a tensor lr
    on the host) and a non-capturable Adam (whose bias correction a graph would freeze). The Adam step count
    then moves to where this run's flags keep it (on the parameter's device when capturable or fused), and
    buffers shaped like their parameter take its memory layout (a run resumed with another --channels_last).
    """
    keep = [{k: group[k] for k in EXECUTION_FLAGS if k in group} for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, flags in zip(optimizer.param_groups, keep):
        group.update(flags)
        on_device = bool(group.get("capturable") or group.get("fused"))
        for p in group["params"]:
            st = optimizer.state.get(p, {})
            for k, v in st.items():
                # Buffers in the parameter's memory layout (the run may have changed --channels_last):
                # fused kernels require matching strides.
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    st[k] = torch.empty_like(p).copy_(v)
            step = st.get("step")
            if torch.is_tensor(step):
                st["step"] = step.to(device=p.device, dtype=torch.float32) if on_device else step.to(device="cpu")


class Snapshot:
    """The state of a module and its optimizers, taken before a graph's warm-up calls and put back after
    capture, so the warm-up leaves no trace and the first replay is the run's next real step.

    Optimizer state that the warm-up created (momentum buffers, Adam moments and step count of a fresh
    optimizer) is zeroed in place, not dropped: the graph holds its addresses, and zero momentum, zero
    moments and step 0 give the same update as fresh state. The random generator of the module's device
    is put back too, so the first step after the warm-up draws the drop-path masks the eager step would
    (a replay reads the generator's offset when it runs).
    """

    def __init__(self, module: nn.Module, optimizers: Sequence[torch.optim.Optimizer],
                 extra: Sequence[torch.Tensor] = ()) -> None:
        self.tensors = [*module.parameters(), *module.buffers(), *extra]
        self.saved = [t.detach().clone() for t in self.tensors]
        self.optimizers = list(optimizers)
        self.saved_state = [
            {p: {k: v.detach().clone() for k, v in state.items() if torch.is_tensor(v)}
             for p, state in opt.state.items()}
            for opt in self.optimizers
        ]
        devices = {t.device for t in self.tensors}
        self.rng = {d: torch.cuda.get_rng_state(d) if d.type == "cuda" else torch.get_rng_state()
                    for d in devices if d.type in ("cpu", "cuda")}

    @torch.no_grad()
    def restore(self) -> None:
        """Put the tensors, optimiser states and RNGs back as taken: a warm-up or capture leaves no trace in the run."""
        for device, state in self.rng.items():
            if device.type == "cuda":
                torch.cuda.set_rng_state(state, device)
            else:
                torch.set_rng_state(state)
        for t, s in zip(self.tensors, self.saved):
            t.copy_(s)
        for opt, saved in zip(self.optimizers, self.saved_state):
            for p, state in opt.state.items():
                before = saved.get(p, {})
                for k, v in state.items():
                    if not torch.is_tensor(v):
                        continue
                    if k in before:
                        v.copy_(before[k])
                    else:
                        v.zero_()


class GraphedStep:
    """``fn(*inputs)`` captured once in a CUDA graph; a call copies new inputs into the static buffers
    and replays.

    Warm-up runs on a side stream (cuDNN autotuning, optimizer state, lazy initialisation); its last call
    runs under CUDA's sync-debug mode, and the host synchronisations it finds (which would break the
    capture) are kept in ``sync_warnings``. ``after_capture`` (typically ``Snapshot.restore``) runs once
    the graph exists. With ``capture=False`` the same warm-up and restore happen and a call runs ``fn``
    eagerly on the static buffers: the CPU tests check that path against the plain step.
    """

    def __init__(self, fn: Callable[..., torch.Tensor], example: Sequence[torch.Tensor], *, warmup: int = 3,
                 after_capture: Callable[[], None] | None = None, capture: bool = True) -> None:
        self.fn = fn
        self.static = [t.detach().clone() for t in example]
        self.graph: torch.cuda.CUDAGraph | None = None
        self.sync_warnings: list[str] = []
        warmup = max(1, warmup)
        if not capture:
            for _ in range(warmup):
                fn(*self.static)
            self.out = None
            if after_capture is not None:
                after_capture()
            return
        # The step's own GPU, whichever is current (a sweep worker may run on cuda:1 while 0 is current).
        self.device = next((t.device for t in self.static if t.is_cuda), torch.device("cuda"))
        with torch.cuda.device(self.device):
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for i in range(warmup):
                    if i == warmup - 1:
                        self.sync_warnings = _sync_warnings(fn, self.static)
                    else:
                        fn(*self.static)
            torch.cuda.current_stream().wait_stream(stream)
            torch.cuda.synchronize()
            self.graph = torch.cuda.CUDAGraph()
            try:
                # thread_local: a DataLoader's pin-memory thread may call CUDA during the capture;
                # the warm-up's stream, not the class-wide default one made on whichever GPU captured first
                with torch.cuda.graph(self.graph, stream=stream, capture_error_mode="thread_local"):
                    self.out = fn(*self.static)
            except Exception as e:
                if after_capture is not None:  # leave the state as it was before the warm-up, if the GPU lets us
                    with contextlib.suppress(Exception):
                        torch.cuda.synchronize()
                        after_capture()
                hint = f" (host syncs seen in warm-up: {'; '.join(self.sync_warnings)})" if self.sync_warnings else ""
                raise RuntimeError(f"CUDA graph capture failed: {type(e).__name__}: {e}{hint}") from e
            torch.cuda.synchronize()
            if after_capture is not None:
                after_capture()
                torch.cuda.synchronize()

    def matches(self, *inputs: torch.Tensor) -> bool:
        """Whether these inputs fit the static buffers (a short last batch does not)."""
        return len(inputs) == len(self.static) and all(
            x.shape == s.shape and x.dtype == s.dtype for x, s in zip(inputs, self.static))

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        for buf, x in zip(self.static, inputs):
            buf.copy_(x, non_blocking=True)
        if self.graph is None:
            return self.fn(*self.static)
        with torch.cuda.device(self.device):
            self.graph.replay()
        return self.out


class StepGraph:
    """A training step replayed from a CUDA graph, captured on its first call and again after ``reset()``.

    The capture's warm-up calls are undone by a ``Snapshot`` of ``module`` and ``optimizers``. One graph
    is kept at a time: a call with another number of inputs (the search's architecture phase after its
    weight-only phase) frees the old graph and captures anew. A batch of another shape (a short last
    batch) runs ``fn`` eagerly on the same parameters and optimizer state.
    """

    def __init__(self, fn: Callable[..., torch.Tensor], module: nn.Module,
                 optimizers: Sequence[torch.optim.Optimizer], *, warmup: int = 3, capture: bool = True) -> None:
        self.fn, self.module, self.optimizers = fn, module, list(optimizers)
        self.warmup, self.capture = warmup, capture
        self.graph: GraphedStep | None = None
        self.arity = 0

    def reset(self) -> None:
        """Capture again at the next call (values frozen in the graph have changed)."""
        self.graph = None

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.graph is None or len(inputs) != self.arity:
            self.graph = None  # free the old graph's memory before capturing the new one
            snapshot = Snapshot(self.module, self.optimizers)
            self.graph = GraphedStep(self.fn, inputs, warmup=self.warmup, after_capture=snapshot.restore,
                                     capture=self.capture)
            self.arity = len(inputs)
        if not self.graph.matches(*inputs):
            return self.fn(*inputs)
        return self.graph(*inputs)


def _sync_warnings(fn: Callable[..., Any], inputs: Sequence[torch.Tensor]) -> list[str]:
    """Call fn with CUDA's sync-debug mode on 'warn' and return the distinct synchronisation warnings."""
    previous = torch.cuda.get_sync_debug_mode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn(*inputs)
        finally:
            torch.cuda.set_sync_debug_mode(previous)
    lines = {str(w.message).strip().splitlines()[0][:160] for w in caught if "synchroniz" in str(w.message)}
    return sorted(lines)[:5]
