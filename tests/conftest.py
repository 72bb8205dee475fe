"""Shared test fixtures: the repository root on sys.path and the facts stored under tests/data."""

from __future__ import annotations

import errno
import importlib.util
import io
import logging
import os
import random
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

# The modules under test are flat scripts at the repository root; plain `pytest` does not put it on sys.path.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The tests run tiny tensors: a second intra-op thread only adds synchronisation, and on a loaded 2-core
# machine it makes them many times slower. Scripts choose their own threads (--threads); this is the suite's.
torch.set_num_threads(1)


# `make test` runs pytest-xdist with --dist loadfile, which hands each worker a whole file at a time, in collection
# order. Alphabetically the longest files (minutes each) came last, and one worker often ran the last of them alone
# while the other had nothing left: these are collected first, so the files handed out last are the short ones and
# the two workers end together (longest first). The rest keep their order, and every file its tests' order.
LONGEST_FILES = ("test_parallel.py", "test_tools.py", "test_sweep.py", "test_cost.py", "test_fastpath.py",
                 "test_bench.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FILES)))  # stable


@pytest.fixture
def data_dir() -> Path:
    """tests/data: facts copied from the specification (genotypes, state_dict layouts)."""
    return DATA


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same RNG state, so random tensors are reproducible per test."""
    torch.manual_seed(0)


def layout(state_dict: dict[str, torch.Tensor]) -> list[str]:
    """One 'key shape' line per entry, in the spec files' notation ('36x108x1x1', 'scalar')."""
    return [f"{k} {'x'.join(map(str, v.shape)) if v.dim() else 'scalar'}" for k, v in state_dict.items()]


def spec_lines(text: str) -> list[str]:
    """The non-comment, non-empty lines of a spec file."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def load_test_script() -> ModuleType:
    """test.py as a module: it shares its name with the standard library's test package, so it is loaded by path."""
    spec = importlib.util.spec_from_file_location("testpy_script", ROOT / "test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def held_open_under(folder: Path) -> list[str]:
    """The files under ``folder`` that this process still holds open: its descriptors (where /proc shows them) and the
    log files of its loggers. A run that has ended holds none, or a process that runs many leaks one per run."""
    folder = Path(folder).resolve()
    held = set()
    fds = Path("/proc/self/fd")
    if fds.is_dir():
        for fd in fds.iterdir():
            try:
                target = Path(os.readlink(fd))
            except OSError:  # closed between the listing and the read (the listing's own descriptor)
                continue
            if target.is_relative_to(folder):
                held.add(str(target))
    for logger in _loggers().values():
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler) and handler.stream is not None \
                    and Path(handler.baseFilename).resolve().is_relative_to(folder):
                held.add(handler.baseFilename)
    return sorted(held)


# --------------------------------------------------------------------------- a script's command line, in-process


def _flushes_denormals() -> bool:
    """Whether torch flushes denormal floats to zero now (torch.set_flush_denormal has no getter)."""
    return torch.tensor([1e-323], dtype=torch.float64).item() == 0.0


def _loggers() -> dict[str, logging.Logger]:
    found = {name: logger for name, logger in logging.Logger.manager.loggerDict.items()
             if isinstance(logger, logging.Logger)}
    return {**found, "": logging.getLogger()}


def _python_default_warnings() -> None:
    """The warning filters of a plain `python script.py` (pytest's own filters would hide what it prints)."""
    warnings.resetwarnings()
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__", append=True)
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=category, append=True)


@pytest.fixture
def run_script(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """run_script(script, module, main, argv, cwd=ROOT) -> (exit status, stderr): what `python SCRIPT ARGV` run
    in cwd (the repository root unless said) does, `sys.exit(run_main(main, module.build_parser().parse_args()))`,
    in this process, so a case costs no interpreter start and torch import. stderr holds what the process would
    have printed there: the script's lines and the warnings a plain python shows. The process-wide state a script
    sets (torch's threads, matmul precision and denormal flushing, the RNGs, os.environ, signal handlers, logging
    handlers, the cwd, sys.argv, warning filters) is put back after the test, so that cases leak into neither each
    other nor later tests. What only a real process start shows (an import-time warning, a fault in the entry
    point itself) needs one case run as a subprocess."""
    from utils import run_main

    threads, precision, denormals = torch.get_num_threads(), torch.get_float32_matmul_precision(), _flushes_denormals()
    cudnn_benchmark = torch.backends.cudnn.benchmark
    rng = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    environ = dict(os.environ)
    handlers = {name: list(logger.handlers) for name, logger in _loggers().items()}
    signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def run(script: str, module: ModuleType, main: Callable[[Any], Any], argv: Sequence[str],
            cwd: Path = ROOT) -> tuple[Any, str]:
        monkeypatch.chdir(cwd)  # relative paths resolve as they would there; put back after the test
        monkeypatch.setattr(sys, "argv", [script, *argv])  # argparse's prog, as `python SCRIPT` names it
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as shown:
            _python_default_warnings()
            try:
                status = run_main(main, module.build_parser().parse_args())
            except SystemExit as stopped:  # argparse's refusal
                status = stopped.code
        said = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line) for w in shown)
        return status, capsys.readouterr().err + said

    try:
        yield run
    finally:
        torch.set_num_threads(threads)
        torch.set_float32_matmul_precision(precision)
        torch.set_flush_denormal(denormals)
        torch.backends.cudnn.benchmark = cudnn_benchmark
        random.setstate(rng[0])
        np.random.set_state(rng[1])
        torch.random.set_rng_state(rng[2])
        os.environ.clear()
        os.environ.update(environ)
        for sig, handler in signals.items():
            signal.signal(sig, handler)
        for name, logger in _loggers().items():
            for handler in [h for h in logger.handlers if h not in handlers.get(name, [])]:
                logger.removeHandler(handler)
                handler.close()


class _FillingFile(io.BufferedWriter):
    """A file on a disk with ``room`` bytes left: the writes up to it land, the one past it fails with ENOSPC."""

    room = 0

    def write(self, data: Any) -> int:
        data = memoryview(data).cast("B")
        if len(data) > self.room:
            super().write(data[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return super().write(data)


@pytest.fixture
def disk_fills(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """disk_fills(room): from now on, a file opened for binary writing by descriptor (os.fdopen: the atomic writers'
    temp files) takes ``room`` bytes and then fails as a full disk does, part-way through."""
    real = os.fdopen

    def fill_after(room: int) -> None:
        def fdopen(fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if "w" not in mode or "b" not in mode:
                return real(fd, mode, *args, **kwargs)
            handle = _FillingFile(io.FileIO(fd, "w"))
            handle.room = room
            return handle

        monkeypatch.setattr(os, "fdopen", fdopen)

    return fill_after
