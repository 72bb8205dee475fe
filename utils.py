"""Shared plumbing: device choice, seeding, meters, run folders, atomic files, checkpoints, logging.

Everything that touches the disk writes atomically (temp file in the same folder, fsync,
os.replace), so an interrupted run never leaves a half-written JSON or checkpoint that a resume
would then trip over.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import errno
import importlib.metadata
import importlib.util
import io
import json
import logging
import multiprocessing
import os
import platform
import random
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unicodedata
import warnings
import weakref
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

try:
    import fcntl
except ImportError:  # Windows: run folders are not locked there (see lock_run_dir)
    fcntl = None  # type: ignore[assignment]

LOG_FORMAT = "%(asctime)s %(message)s"
LOG_DATEFMT = "%m/%d %I:%M:%S %p"


class UserError(Exception):
    """Bad input from the user: scripts print `error: <msg>` on one line and exit 2."""

    # a cause mended outside the run (an image file that does not decode), after which the run goes on where it
    # stopped: met mid-run, its line names the run's --resume command (resumable), as a full disk's does
    mendable = False


class DataNotFound(UserError):
    """A dataset not where --data says (data_recorded_in adds where that path came from, when a run recorded it)."""


@contextlib.contextmanager
def data_recorded_in(source: str | Path | None) -> Iterator[None]:
    """A dataset not found at the --data that ``source`` (a run's args.json, a sweep's sweep.json) recorded: say
    so, and that --data gives its new place; the data may have moved since the run started. None: --data typed."""
    try:
        yield
    except DataNotFound as err:
        if source is None:
            raise
        raise DataNotFound(f"{err} (that --data is the one {source} records: if the data has moved, pass --data "
                           "DIR where it is now)") from None


class RunFailed(Exception):
    """The run ended and saved what it had, but the work it was for failed: `error: <msg>`, exit 1."""


# --------------------------------------------------------------------------- device and seeds


def device_available(kind: str) -> bool:
    """Whether this machine has a device of ``kind`` (cpu, cuda or mps)."""
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return kind == "cpu"


def get_device(device: str = "auto", gpu: int = 0) -> torch.device:
    """Resolve `--device`/`--gpu` to a torch.device; fail with one line if it is not there."""
    device = (device or "auto").lower()
    cuda_ok, mps_ok = device_available("cuda"), device_available("mps")

    def cuda_device(index: int, named: str | None = None) -> torch.device:
        count = torch.cuda.device_count()
        if not 0 <= index < count:
            raise ValueError(f"{named or f'--gpu {index}'} does not exist: {count} CUDA device(s) visible")
        return torch.device("cuda", index)

    # cuda or cuda:N exactly (the tools whose --device is free text): "cudafoo" ran on cuda:0, and "cuda:x" ended
    # on int()'s "invalid literal for int() with base 10: 'x'"
    cuda_name = re.fullmatch(r"cuda(?::(-?\d+))?", device)

    if device == "auto":
        if cuda_ok:
            return cuda_device(gpu)
        if mps_ok:
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cpu":
        return torch.device("cpu")
    if cuda_name:
        if not cuda_ok:
            raise ValueError("--device cuda was asked for but CUDA is not available (try --device auto or cpu)")
        if cuda_name[1] is None:
            return cuda_device(gpu)
        return cuda_device(int(cuda_name[1]), f"--device {device}")
    if device == "mps":
        if not mps_ok:
            raise ValueError("--device mps was asked for but MPS is not available (try --device auto or cpu)")
        return torch.device("mps")
    raise ValueError(f"unknown --device {device!r}: use auto, cpu, cuda, cuda:N or mps")


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def threads_error(threads: int) -> str | None:
    """Why --threads ``threads`` cannot be used here, or None. Above the CPUs this process may run on, torch's
    threads only contend for them, and far above it creates threads until the OS refuses: --threads 100000 ended
    the process with a segmentation fault (a sweep's after its folder was made), 20000 with libgomp's abort."""
    cores = available_cores()
    if threads < 0:
        return f"--threads {threads} must be >= 0 (0: torch's default)"
    if threads > cores:
        return (f"--threads {threads} is more than the {cores} CPU{'s' if cores != 1 else ''} this process may run "
                f"on (more threads only contend for them): give 1 to {cores}, or 0 for torch's default")
    return None


def device_note(device: torch.device) -> str:
    """The device and torch's CPU threads in effect, for the line a run logs at each start: a --resume may change
    --threads (and the float sums with it), which args.json, written at the run's first start, does not show."""
    threads = torch.get_num_threads()
    return f"{device} ({threads} CPU thread{'s' if threads != 1 else ''})"


def configure_torch(device: torch.device, threads: int = 0, *, training: bool = True) -> None:
    """Torch's process-wide settings, the same for every script (so a benchmark times what a run runs).

    ``threads`` (--threads, 0 keeps torch's default) sets the CPU threads; the current CUDA device is
    ``device`` (streams, graphs and autocast follow it). Training also flushes denormal floats to zero
    (the penalty drives weights towards zero, and denormals slow CPU kernels down many times) and turns
    cuDNN's algorithm search on, as DARTS and PC-DARTS do; evaluation (ensemble.py, test.py) keeps
    torch's defaults there. float32 matmuls stay at torch's default precision ("highest"); cuDNN's
    convolutions keep torch's default too, which on Ampere and newer GPUs is TF32 (a 10-bit mantissa
    inside the convolution, float32 outside: the speeds bench/ reports are measured so), and
    environment_info records it with every CUDA run. --amp bf16 is the lever for lower precision.
    """
    if threads:
        if problem := threads_error(threads):  # a resumed run's recorded --threads, from a larger machine
            raise UserError(problem)
        torch.set_num_threads(threads)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.set_float32_matmul_precision("highest")
    if training:
        torch.set_flush_denormal(True)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True


def set_seed(seed: int) -> None:
    """Seed every RNG a run draws from (python, numpy, torch CPU and all CUDA devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _cuda_index(device: torch.device | None) -> int | None:
    """The index of a CUDA device (the current one for a bare ``cuda``); None for any other device."""
    if device is None or device.type != "cuda":
        return None
    return device.index if device.index is not None else torch.cuda.current_device()


def get_rng_state(device: torch.device | None = None) -> dict:
    """Every RNG state as tensors/ints/floats/None only, so a checkpoint loads with weights_only=True; with the
    run's ``device``, which CUDA generator is the run's own (set_rng_state puts it on the device it resumes on)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": int(version), "state": torch.tensor(internal, dtype=torch.int64),
                   "gauss": gauss},
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "cuda_device": _cuda_index(device),
    }
    return state


def set_rng_state(state: dict, device: torch.device | None = None) -> None:
    """Restore what get_rng_state captured (CUDA states only for the devices present now); a run resumed on
    another GPU (--gpu may change on --resume) gets its own generator's state on ``device``, so that drop
    path draws on as in an unbroken run."""
    py = state["python"]
    random.setstate((int(py["version"]), tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    nps = state["numpy"]
    # .cpu(): a checkpoint loaded with map_location=<a GPU> (train.py and train_search.py read it onto the CPU)
    np.random.set_state((nps["kind"], nps["keys"].cpu().numpy().astype(np.uint32), int(nps["pos"]),
                         int(nps["has_gauss"]), float(nps["cached_gaussian"])))
    torch.set_rng_state(state["torch"].cpu().to(torch.uint8))
    cuda_states = state.get("cuda")
    if cuda_states and torch.cuda.is_available():
        for index, cuda_state in enumerate(cuda_states[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state.cpu().to(torch.uint8), index)
        saved, now = state.get("cuda_device"), _cuda_index(device)
        if saved is not None and now is not None and now != saved and saved < len(cuda_states):
            torch.cuda.set_rng_state(cuda_states[saved].cpu().to(torch.uint8), now)


# --------------------------------------------------------------------------- meters and metrics


def accuracy(output: torch.Tensor, target: torch.Tensor, topk: Sequence[int] = (1,)) -> list[float]:
    """Top-k accuracies in percent; k is clipped to the number of classes (top-5 of 3 classes = top-3)."""
    num_classes = output.size(1)
    batch = target.size(0)
    if batch == 0:
        return [0.0 for _ in topk]
    maxk = min(max(topk), num_classes)
    _, pred = output.topk(maxk, 1, True, True)
    correct = pred.t().eq(target.view(1, -1).expand_as(pred.t()))
    return [correct[: min(k, num_classes)].reshape(-1).float().sum().item() * 100.0 / batch for k in topk]


TOP5_MIN_CLASSES = 6  # with 5 classes or fewer every label is among a network's top 5


def top5_or_none(top5: float, num_classes: int) -> float | None:
    """Top-5 accuracy (%) where it measures anything, else None: with 5 classes or fewer every label is among the
    top 5, and it read 100 % whatever the network predicted (a 3-class tree's "top-5 100.00%" beside a top-1 of
    0 %). None is an empty cell in metrics.csv and a null in result.json / test.json, as valid_top5 without a
    held-out split; the logs say n/a (percent_or_na)."""
    return top5 if num_classes >= TOP5_MIN_CLASSES else None


def float_or_na(value: float | None) -> str:
    """A metric for the log's "<split>_top5 <value>" lines: %f, or "n/a" where there is none."""
    return "n/a" if value is None else f"{value:f}"


def percent_or_na(value: float | None) -> str:
    """A percentage for the log, "n/a" where there is none (top-5 of 5 classes or fewer)."""
    return "n/a" if value is None else f"{value:.2f}%"


def count_parameters(model: torch.nn.Module, with_auxiliary: bool = False) -> int:
    """Number of parameters; the auxiliary head (dropped at test time) is left out unless ``with_auxiliary``."""
    return sum(p.numel() for name, p in model.named_parameters() if with_auxiliary or "auxiliary" not in name)


def count_parameters_in_MB(model: torch.nn.Module) -> float:
    """Millions of parameters, not counting the auxiliary head (the model size results report)."""
    return count_parameters(model) / 1e6


# --------------------------------------------------------------------------- run folders and logs


def create_run_dir(kind: str, save: str, root: str | Path = "logs") -> Path:
    """Create a fresh `root/<kind>-<save>-<YYYYmmdd-HHMMSS>[-N]`; an existing folder is never reused."""
    if not save or "/" in save or "\\" in save or save in {".", ".."}:
        raise UserError(f"--save {save!r} must be a plain name (no path separators)")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise UserError(f"--logdir {root} is a file, not a folder")
    top_level = kind == "batch-train" or kind.startswith("multi-search-")  # no script makes one inside a run
    for folder in (root, *root.absolute().parents):  # a sweep's or a batch's folder holds its runs by design
        found = run_folder_kind(folder)
        if found in ("search", "train"):  # e.g. test.py --logdir <the training it tests>, for RUN or --model_path
            raise UserError(f"--logdir {root} is inside {RUN_KINDS[found][0]} run folder ({folder}), which holds "
                            "that run's own files only: give another --logdir")
        if found is not None and top_level:  # a batch made in a batch: ensemble.py took its trainings for the outer's
            raise UserError(f"--logdir {root} is inside {RUN_KINDS[found][0]} folder ({folder}), whose runs are read "
                            "as its own (ensemble.py, the tools): give another --logdir")
    base = f"{kind}-{save}-{time.strftime('%Y%m%d-%H%M%S')}"
    if len(os.fsencode(base)) > 240:  # a filesystem's names end at 255 bytes, and a suffix -N may follow
        raise UserError(f"--save {save[:40]}... is too long: the run folder's name would pass 240 bytes")
    check_writable(root / base, "--logdir")  # a read-only disk: one line, and no folder left behind
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(10_000):
        path = root / (base if attempt == 0 else f"{base}-{attempt}")
        try:
            path.mkdir()  # atomic: fails if another process took the name first
        except FileExistsError:
            continue
        return path
    raise UserError(f"could not create a run folder under {root}")


class RunLogFile(logging.FileHandler):
    """A run's log file (log.txt), appended to. A line it cannot take (a full disk) is an OSError naming the file,
    raised to the code that logged it, so that the run ends with one ``error:`` line as when any of its other
    files cannot be written; logging's own handling printed a traceback on stderr for every such line while
    the run went on with a log missing them.

    Written in UTF-8, a path's bytes that are not (a folder named on a Latin-1 disk, any non-ASCII name under
    LC_ALL=C) kept as they are (surrogateescape): in the locale's encoding, strict, the lines naming such a run
    folder (its "run folder:" and "train it:" lines) were dropped from log.txt, each with a traceback on stderr."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, mode="a", encoding="utf-8", errors="surrogateescape")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        """Raise a write's OSError naming the file; other failures (a bad format string) as logging does."""
        err = sys.exc_info()[1]
        if not isinstance(err, OSError):
            super().handleError(record)
            return
        # drop the line the file did not take, else every later flush, and close(), would fail on it again;
        # the next line opens the file anew
        stream, self.stream = self.stream, None
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
        raise naming(err, self.baseFilename) from None


class ConsoleEcho(logging.StreamHandler):
    """The log's echo on stdout. A stdout that goes away mid-run (piped into ``head -1`` or a pager that was quit, a
    closed terminal: a broken pipe) ends the echo with one note on stderr, and the run goes on, its log.txt keeping
    every line; logging's own handling printed a traceback on stderr for every later line (thousands in a long run)."""

    def __init__(self, log_file: Path | None = None) -> None:
        # the stream itself, not run_main's SteadyStdout, so that a stdout gone is told with where the log lines are
        super().__init__(sys.stdout.wrapped if isinstance(sys.stdout, SteadyStdout) else sys.stdout)
        self.log_file = log_file
        self.gone = False

    def format(self, record: logging.LogRecord) -> str:
        """The line, with what stdout's encoding cannot take escaped (a path's bytes that are not the locale's, a
        'ν' under an ASCII locale): raised, the line was a traceback on stderr instead."""
        text = super().format(record)
        encoding = getattr(self.stream, "encoding", None)
        if encoding:
            try:
                text.encode(encoding, getattr(self.stream, "errors", None) or "strict")
            except UnicodeEncodeError:
                text = text.encode(encoding, "backslashreplace").decode(encoding)
            except LookupError:  # not a codec Python knows: left to the stream
                pass
        return text

    def emit(self, record: logging.LogRecord) -> None:
        """Echo ``record`` unless stdout has gone. A progress bar on stderr (the same terminal) is cleared first and
        drawn again after: the line was written after the bar's text, on its line, at every report of an epoch."""
        if not self.gone:
            from tqdm.std import tqdm  # the class whose instances are the bars (tqdm.tqdm may be wrapped)

            with tqdm.external_write_mode(file=sys.stderr):
                super().emit(record)

    def flush(self) -> None:
        """Flush stdout unless it has gone (logging flushes every handler at exit)."""
        if not self.gone:
            super().flush()

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        """Stop echoing on an OSError writing stdout; other failures (a bad format string) as logging does."""
        err = sys.exc_info()[1]
        if not isinstance(err, OSError):
            super().handleError(record)
            return
        self.gone = True
        where = f"only in {self.log_file}" if self.log_file is not None else "no longer shown"
        stdout_gone(self.stream,
                    f"note: stdout is gone ({err.strerror or err}): the run goes on, its log lines {where}")


def stdout_gone(stream: IO[str], note: str) -> None:
    """Point ``stream``'s file descriptor at /dev/null and say ``note`` on stderr: what is still buffered for stdout,
    and what is written to it later (a sweep's next search, the other of ConsoleEcho and SteadyStdout), is dropped
    there rather than failing again and again, or at exit."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    with contextlib.suppress(OSError, ValueError):  # stderr may have gone too (2>&1 | head -1)
        print(note, file=sys.stderr, flush=True)


class SteadyStdout:
    """sys.stdout under run_main. A tool's stdout piped into ``head -1`` (or a pager quit early) ended the tool at its
    next print with ``error: Broken pipe``, before it wrote its table or plots; now stdout is dropped with one note on
    stderr and the work goes on. Everything but write and flush is the wrapped stream's."""

    def __init__(self, stream: IO[str]) -> None:
        self.wrapped = stream
        self.gone = False

    def write(self, text: str) -> int:
        """Write ``text`` unless stdout has gone."""
        if not self.gone:
            try:
                return self.wrapped.write(text)
            except OSError as e:
                self._lost(e)
        return len(text)

    def flush(self) -> None:
        """Flush unless stdout has gone."""
        if not self.gone:
            try:
                self.wrapped.flush()
            except OSError as e:
                self._lost(e)

    def _lost(self, err: OSError) -> None:
        self.gone = True
        stdout_gone(self.wrapped, f"note: stdout is gone ({err.strerror or err}): the work goes on, its files are "
                    "written, what it prints is no longer shown")
        with contextlib.suppress(OSError, ValueError):  # what was buffered now goes to /dev/null
            self.wrapped.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def bar_off(asked_off: bool) -> bool | None:
    """tqdm's ``disable`` for a progress bar on stderr: True where asked (--no_progress) or where there is no stderr
    (``2>&-``: tqdm wrote to None, and the run died at its first bar with no word, stderr being gone); else None,
    tqdm's own choice (a bar on a terminal only)."""
    return True if asked_off or sys.stderr is None else None


def get_logger(name: str, run_dir: Path | None = None) -> logging.Logger:
    """Logger to stdout and run_dir/log.txt; calling again replaces the handlers (no duplicate lines)."""
    logger = logging.getLogger(name)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    formatter = logging.Formatter(LOG_FORMAT, datefmt=LOG_DATEFMT)
    stream = ConsoleEcho(Path(run_dir) / "log.txt" if run_dir is not None else None)
    stream.setFormatter(formatter)
    logger.addHandler(stream)
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        file_handler = RunLogFile(Path(run_dir) / "log.txt")
        file_handler.setFormatter(formatter)
        logger.addHandler(file_handler)
    return logger


@contextlib.contextmanager
def logs_released(name: str) -> Iterator[None]:
    """Close and detach the handlers of logger ``name`` (get_logger's) when the block ends, however it ends: a
    process that runs many searches or trainings (a sequential sweep, a sweep's worker, a batch) otherwise kept every
    finished run's log.txt open, one file descriptor more per run until the process hit its limit."""
    try:
        yield
    finally:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()


# --------------------------------------------------------------------------- atomic files


def _json_default(obj: Any) -> Any:
    """JSON fallback for the values runs produce: numpy scalars/arrays, tensors, paths, devices."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    if isinstance(obj, (Path, torch.device, torch.dtype)):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _json_safe(obj: Any) -> Any:
    """Turn argparse values into plain JSON (unknown objects become their str) for args.json."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    try:
        return _json_safe(_json_default(obj))
    except TypeError:
        return str(obj)


def write_atomic(path: str | Path, write: Callable[[Any], None], mode: str = "w", newline: str | None = None) -> None:
    """``write(handle)`` into a temp file beside ``path``, then renamed over it: a failed write (a full disk) leaves
    the file as it was, not truncated, and its OSError names ``path``.

    Text is written in UTF-8, as pandas reads the tables back, a path's bytes that are not UTF-8 kept as they are
    (surrogateescape, as log.txt): in the locale's encoding a table naming a 'ν=0.2' group or a run folder with an
    'é' could not be written at all under an ASCII or cp1252 locale (a bare codec error), and one written in Latin-1
    was not read back by the tools' -d."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding, errors = (None, None) if "b" in mode else ("utf-8", "surrogateescape")
    while True:  # not mkstemp: its files are 0600, and results on a shared disk must be readable as open() makes them
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, mode, newline=newline, encoding=encoding, errors=errors) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise naming(err, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def naming(err: OSError, path: str | Path) -> OSError:
    """``err``, naming ``path`` where it names no file: a full disk's write error names none, and the run's one
    ``error:`` line must say which file it could not write."""
    return OSError(err.errno, err.strerror, str(path)) if err.filename is None and err.strerror else err


def write_figure(fig: Any, path: str | Path, **options: Any) -> Path:
    """``fig.savefig(path, **options)`` written as write_atomic writes: a failed write (a full disk) leaves the older
    figure of that name whole (a re-drawn frontier.png, a tool's ``-o``), no part file, and an OSError naming it.

    A file object has no name to take the format from, so it is taken here as savefig takes it (the suffix: .png,
    .pdf, .svg; none: savefig.format, appended to the name, as savefig does); returns the path written."""
    name = os.fspath(path)
    fmt = os.path.splitext(name)[1][1:]
    if not fmt:
        fmt = fig.canvas.get_default_filetype()
        name = name.rstrip(".") + "." + fmt
    write_atomic(name, lambda handle: _savefig(fig, handle, fmt, options), "wb")
    return Path(name)


def _savefig(fig: Any, handle: Any, fmt: str, options: dict[str, Any]) -> None:
    try:
        fig.savefig(handle, format=fmt, **options)
    except Exception as err:
        # matplotlib's PDF writer, cleaning up after a write the disk refused, fails again (a zlib.error, an
        # AttributeError) and hides the refusal: raise the OSError it met, which write_atomic names the file in
        cause = err.__context__
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__context__
        if isinstance(err, OSError) or cause is None:
            raise
        raise cause from None


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write JSON so that readers see either the old file or the whole new one."""
    write_atomic(path, lambda f: json.dump(obj, f, indent=2, default=_json_default), "w")


def write_csv_atomic(path: str | Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Write a whole CSV (keys outside ``columns`` dropped) so that readers see either the old file or the new one."""
    def write(handle: Any) -> None:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    write_atomic(path, write, "w", newline="")  # the csv module ends its lines itself (else "\r\r\n" on Windows)


def check_writable(path: str | Path, flag: str) -> Path:
    """An output file that can be written, checked before the work that fills it (not lost after it).

    The nearest folder that exists on the way to it must be a writable folder (read-only disks too: a
    nameless temporary file is made and dropped there), and no name on the way may be longer than the
    filesystem allows.
    """
    path = Path(path)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"{flag} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: cannot write in {folder} (read-only or no permission)")
    try:  # os.access says yes to root everywhere (/proc, a read-only mount): a file made there settles it
        make_and_drop_a_file(folder)
    except OSError as err:
        reason = err.strerror or str(err)
        raise UserError(f"{flag} {path}: cannot write in {folder} (no file can be made there: {reason})") from None
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf on Windows
        name_max = 255
    long = next((part for part in path.parts if len(os.fsencode(part)) > name_max), None)
    if long is not None:
        raise UserError(f"{flag} {path}: the name {long[:40]}... is longer than {name_max} bytes")
    if path.exists() and not path.is_dir() and not os.access(path, os.W_OK):
        raise UserError(f"{flag} {path}: the file exists and cannot be written")
    return path


def make_and_drop_a_file(folder: Path) -> None:
    """Make a file in ``folder`` and drop it at once; an OSError if none can be made there.

    A nameless one where the system has them (tempfile: O_TMPFILE on Linux; elsewhere a named one, unlinked at
    once). On Windows one named try, deleted on close (O_TEMPORARY): tempfile there takes "access denied" for a
    name taken and tries again, up to os.TMP_MAX (2**31) times, whenever os.access, which reads only the
    read-only flag, says the folder can be written (a folder whose ACL refuses this user): it would hang.
    """
    if os.name != "nt":
        with tempfile.TemporaryFile(dir=folder):
            return
    probe = folder / f".write-check-{secrets.token_hex(8)}.tmp"
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_TEMPORARY", 0)))
    probe.unlink(missing_ok=True)  # O_TEMPORARY dropped it on close already


def check_output(path: str | Path, flag: str, inputs: Iterable[str | Path | None] = (), *,
                 allowed: Iterable[str | Path] = ()) -> Path:
    """An output file the user named, checked before any work so that nothing is lost.

    Refused: a folder; one of ``inputs`` (the same file after resolving symlinks, or a hard link
    to it); a file inside an input that is a folder; a file inside a run folder the project wrote
    (``run_folder_kind``), whose files a resume or a tool would then read back. ``allowed`` are the
    files a script writes into a run folder by design (ensemble.py's ``<models_folder>/ensemble.json``).
    """
    path = Path(path)
    check_writable(path, flag)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder: give a file name")
    target = path.resolve()
    for given in inputs:
        if given is None:
            continue
        source = Path(given)
        same = target == source.resolve() or (path.exists() and source.exists() and os.path.samefile(path, source))
        if same:
            raise UserError(f"{flag} {path} is also an input, which it would overwrite: give another file name")
        if source.is_dir() and source.resolve() in target.parents:
            raise UserError(f"{flag} {path} is inside the input folder {source}: write it elsewhere")
    if target not in {Path(a).resolve() for a in allowed}:
        for folder in target.parents:
            kind = run_folder_kind(folder)
            if kind is not None:
                raise UserError(f"{flag} {path} is inside {RUN_KINDS[kind][0]} run folder ({folder}), whose files "
                                f"the project wrote: write it elsewhere")
    return path


def read_json(path: str | Path) -> Any:
    """Read a JSON file; a missing or malformed file is a one-line error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not valid JSON ({e})") from None


def json_or_none(path: str | Path) -> Any:
    """The JSON of ``path``, or None where there is no such file or it is not readable JSON: for the checks that
    only ask what an existing output holds before replacing it (a damaged one is no fit or table to keep)."""
    path = Path(path)
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return None


def save_atomic(obj: Any, path: str | Path) -> None:
    """torch.save through a temp file + fsync + rename: a crash never leaves a truncated checkpoint.

    Serialised in memory first: a write that fails (a full disk) is then an OSError naming the file, where
    torch's own writer would report a position mismatch as a RuntimeError.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_atomic(path, lambda f: f.write(buffer.getbuffer()), "wb")


def _load_failure(error: Exception) -> str:
    """Why torch.load refused a file, in one line, without torch's advice to switch off its weights-only
    loader or to allowlist classes: both would run or trust whatever the file holds."""
    text = str(error)
    if "WeightsUnpickler error:" in text:  # a pickle of more than tensors and plain values, or garbage
        text = text.split("WeightsUnpickler error:", 1)[1].strip()
        text = text.splitlines()[0].split(". ")[0] if text else ""
    lines = [line.strip() for line in text.splitlines() if line.strip() and "weights_only" not in line]
    detail = lines[0] if lines else type(error).__name__
    return f"not a file of tensors and plain values that torch.save wrote, or a damaged one ({detail})"


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> Any:
    """torch.load with weights_only=True (nothing in the file is executed); clear error on bad files."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a checkpoint: give the file (a run folder's weights.pt)")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # a foreign pickle's protocol warning would add lines to the one error
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - a text or foreign file raises anything (IndexError for a CSV)
        raise UserError(f"cannot read checkpoint {path}: {_load_failure(e)}") from None


def check_resume_checkpoint(checkpoint: Any, path: str | Path, keys: Iterable[str]) -> dict:
    """The resume state a script saved as checkpoint.pt, with every key it needs; anything else is one line.

    A plain state_dict copied in (a weights.pt) has none of them.
    """
    missing = [k for k in keys if not isinstance(checkpoint, dict) or k not in checkpoint]
    if missing:
        raise UserError(f"{path} is not this run's resume checkpoint (no {', '.join(repr(k) for k in missing)}; "
                        "a weights file cannot be resumed from): move it away to start the run over")
    return checkpoint


def check_state_fits(model: torch.nn.Module, state: Any, path: str | Path) -> None:
    """Refuse, in one line and before loading it, a saved network that is not ``model``'s (another genotype,
    width, depth or number of classes): load_state_dict would throw a RuntimeError of a line per tensor."""
    if not isinstance(state, dict):
        raise UserError(f"{path} holds no network state_dict")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in state and tuple(getattr(state[k], "shape", ())) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        counts = [f"{len(v)} {what}" for v, what in ((shapes, "of another shape"), (missing, "missing"),
                                                      (unexpected, "unexpected")) if v]
        first = (shapes or missing or unexpected)[0]
        raise UserError(f"{path} does not match this run's network (tensors: {', '.join(counts)}; e.g. {first}): "
                        "it was saved for another genotype, width or depth")


# --------------------------------------------------------------------------- run metadata


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), else what platform knows: on Linux platform.processor() is empty and
    platform.machine() only says x86_64, which tells no two CPUs' timings apart."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def torchvision_version() -> str | None:
    """torchvision's ``__version__`` (its build tag, such as +cu130, kept), read without importing torchvision: its
    import (models, ops, torch._dynamo) cost every script start about 1.5 s, and runs on the in-memory sets never
    use it. From its version.py, else the installed distribution's version (no build tag); None if not installed."""
    module = sys.modules.get("torchvision")
    if module is not None:
        return getattr(module, "__version__", None)
    try:
        spec = importlib.util.find_spec("torchvision")
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return None
    for folder in spec.submodule_search_locations or ():
        with contextlib.suppress(OSError, SyntaxError, ValueError, UnicodeDecodeError):
            for node in ast.parse(Path(folder, "version.py").read_text(encoding="utf-8")).body:
                if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                        and isinstance(node.value.value, str)
                        and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)):
                    return node.value.value
    try:
        return importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_info(device: torch.device) -> dict:
    """Versions, machine and accelerator, recorded with every run so results can be traced."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "device": str(device),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),  # --threads 0 records 0: the count torch chose is this one
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["gpu_name"] = props.name
        info["gpu_total_memory_mb"] = round(props.total_memory / 2**20)
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
        info["cudnn_tf32"] = bool(torch.backends.cudnn.allow_tf32)  # float32 convolutions in TF32 (Ampere on)
        info["matmul_precision"] = torch.get_float32_matmul_precision()
    return info


# What each kind of run folder is, and the script that resumes it.
RUN_KINDS = {"search": ("a search", "train_search.py"), "train": ("a training", "train.py"),
             "sweep": ("a sweep", "multiobjective.py"), "batch": ("a batch-train", "batch_train.py")}


def save_args(args: argparse.Namespace, run_dir: Path, device: torch.device, kind: str | None = None,
              extra: dict | None = None) -> dict:
    """Write run_dir/args.json (resolved arguments, environment, command line, start time, the run's kind).

    `extra` adds top-level entries that are facts of the run rather than flags (e.g. its data split).
    """
    record = {
        "kind": kind,
        "args": _json_safe(portable_args(vars(args))),
        "env": environment_info(device),
        "argv": list(sys.argv),
        "started": time.time(),
        **_json_safe(extra or {}),
    }
    write_json_atomic(Path(run_dir) / "args.json", record)
    return record


def portable_args(saved: dict[str, Any]) -> dict[str, Any]:
    """A copy of a run's arguments for args.json, sweep.json or batch.json with its paths absolute (--data, and the
    --model_path weights and --batch_model memory model that a resumed training reads), so that test.py, ensemble.py
    and --resume find them from any working directory (a relative one was kept as typed: a batch resumed elsewhere
    failed every training not yet checkpointed on "checkpoint not found: w.pt")."""
    saved = dict(saved)
    for key in ("data", "model_path", "batch_model"):
        if isinstance(saved.get(key), str):
            saved[key] = str(Path(saved[key]).expanduser().absolute())
    return saved


def log_data_notes(logger: logging.Logger, info: Any) -> None:
    """The data's warnings (DatasetInfo.notes) into a run's log: stdout and log.txt, not stderr alone."""
    for note in info.notes:
        logger.warning("warning: %s", note)


def recorded_failure(state_file: Path, key: str, name: str) -> str | None:
    """The error a sweep's sweep.json (key "searches") or a batch's batch.json (key "entries") recorded for its
    run folder ``name`` if it marked that run failed, else None (also when the file is missing or unreadable)."""
    with contextlib.suppress(UserError, OSError):
        state = read_json(state_file)
        records = state.get(key) if isinstance(state, dict) else None
        for record in records if isinstance(records, list) else []:
            if (isinstance(record, dict) and record.get("status") == "failed"
                    and Path(str(record.get("run_dir") or "")).name == name):
                return " ".join(str(record.get("error") or "no error recorded").split())[:200]
    return None


def batch_not_started(batch_dir: Path) -> list[str]:
    """The trainings a batch's batch.json has queued and not begun (no run folder yet), by label (with its seed
    where the batch runs several): a table or ensemble of a batch at work, or stopped, must not pass for the whole
    batch. Empty when there is no batch.json, or it cannot be read."""
    with contextlib.suppress(UserError, OSError):
        state = read_json(batch_dir / "batch.json")
        entries = state.get("entries") if isinstance(state, dict) else None
        return [f"{e.get('label')}" + (f" (seed {e['seed']})" if e.get("seed") is not None else "")
                for e in (entries if isinstance(entries, list) else [])
                if isinstance(e, dict) and e.get("status") == "pending"
                and not (e.get("run_dir") and (batch_dir / Path(str(e["run_dir"])).name).is_dir())]
    return []


def not_started_note(batch_dir: Path) -> str | None:
    """One line naming the trainings ``batch_dir`` has not started (None: none), and what its batch is doing."""
    labels = batch_not_started(batch_dir)
    if not labels:
        return None
    shown = ", ".join(labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
    return (f"{batch_dir} has {len(labels)} training(s) not started yet ({shown}): "
            + run_state(batch_dir, resume_command("batch_train.py", batch_dir)))


def resume_point(epoch: int) -> str:
    """A checkpoint's epoch (the count of finished ones) as a resume line says it: epochs are logged from 0."""
    return f"at epoch {epoch} ({f'epochs 0-{epoch - 1}' if epoch > 1 else 'epoch 0'} done)"


def epoch_done(epoch: int, epochs: int, seconds: float, pace: float | None = None) -> str:
    """The line a search or training logs as epoch ``epoch`` (from 0) of ``epochs`` ends: how long it took and, at
    ``pace`` seconds an epoch (by default this one's), about how long the run has left. The progress bar gives one
    epoch's estimate only, and a run goes on for hours (a search's epochs from --begin on take architecture steps
    too, so its pace is its latest epoch's; a training's is its mean, its evaluations coming every --eval_every)."""
    left = (epochs - epoch - 1) * (seconds if pace is None else pace)
    line = f"epoch {epoch} done in {seconds:.1f} s ({epoch + 1} of {epochs})"  # numbered from 0, as the lines above
    if left <= 0:
        return line
    if left < 90:
        return f"{line}; about {left:.0f} s left"
    if left < 90 * 60:
        return f"{line}; about {left / 60:.0f} min left"
    return f"{line}; about {left / 3600:.1f} h left"


def numbered(name: str, taken: Container[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... the first not in ``taken``: how two genotypes of one name (one per
    sweep) are told apart in a batch and its ensemble."""
    out, n = name, 2
    while out in taken:
        out, n = f"{name}_{n}", n + 1
    return out


def run_data_record(info: Any) -> dict[str, Any]:
    """What args.json keeps of a run's data beside its flags (a datalib.DatasetInfo): how the training set was
    split, and an image folder's class names in label order, which test.py and ensemble.py label by."""
    return {"data_split": info.split, **({"classes": list(info.classes)} if info.classes else {})}


def class_key(name: str) -> str:
    """A class folder's name as classes are compared: Unicode NFC. macOS stores names decomposed (NFD) and Linux as
    written, so one dataset copied between them spells ``café`` with other code points on each side: compared as
    stored, its val/ had a class not in train/, and a resume on the other copy other class names."""
    return unicodedata.normalize("NFC", name)


def class_mismatch(recorded: Any, classes: Sequence[str] | None) -> str | None:
    """How an image folder's classes (label order) differ from those a run recorded (args.json's ``classes``),
    as a phrase; None when they agree or either is unknown (in-memory sets, runs written before it was kept).
    A class folder renamed, added or removed shifts the labels of the classes after it without a word."""
    if not isinstance(recorded, list) or classes is None:
        return None
    recorded, classes = [class_key(str(c)) for c in recorded], [class_key(c) for c in classes]
    if recorded == classes:
        return None
    gone = [c for c in recorded if c not in classes]
    new = [c for c in classes if c not in recorded]
    parts = [f"{what} {', '.join(map(repr, names[:3]))}{' ...' if len(names) > 3 else ''}"
             for what, names in (("without", gone), ("with", new)) if names]
    return ("the same class names in another order" if not parts else " and ".join(parts)) + \
        f" ({len(classes)} classes now, {len(recorded)} then)"


def check_resumed_split(run_dir: Path, split: dict | None, classes: Sequence[str] | None = None) -> None:
    """A one-line error when the data a resumed run would go on with does not split as the run's did (its
    args.json's data_split), or names its classes otherwise (its ``classes``): --data may be given anew on
    resume, since data moves, but another dataset there would go on training the checkpoint on other images
    or labels, or put two datasets on one sweep's front."""
    path = Path(run_dir) / "args.json"
    record = read_json(path) if path.is_file() else None
    if isinstance(record, dict) and (why := class_mismatch(record.get("classes"), classes)):
        raise UserError(f"{run_dir} was trained on other class folders: the data now has {why}; resume it on the "
                        "run's own dataset (--data)")
    made = record.get("data_split") if isinstance(record, dict) else None
    if why := split_mismatch(made, split):
        also = (" (or, if it is that dataset, the run listed hidden files such as macOS's ._x.png, which image "
                "folders no longer read: start the run anew)") if made.get("kind") == "stratified" else ""
        raise UserError(f"{run_dir} was {why}: resume it on the run's own dataset (--data){also}")


def split_mismatch(made: Any, split: dict | None) -> str | None:
    """How the split of the training set the data gives now differs from the one a run recorded (args.json's
    data_split), as a phrase ("made on .., and the data now gives .."); None when they agree or either is unknown.
    Images added to or removed from a folder set move the held-out part: what a run held out is then partly what
    it trained on, with the same class folders and the same --train_portion."""
    if not isinstance(made, dict) or not isinstance(split, dict):
        return None
    if all(made[k] == split[k] for k in ("kind", "train_portion", "train", "held_out") if k in made and k in split):
        return None

    def show(d: dict) -> str:
        return f"{d.get('train')} train / {d.get('held_out')} held-out images ({d.get('kind')} split)"
    return f"made on {show(made)}, and the data now gives {show(split)}"


def run_kind(run_dir: Path, record: dict) -> str | None:
    """The kind of a run folder: args.json's own ``kind``, else (folders written before it) what it holds."""
    if record.get("kind") in RUN_KINDS:
        return record["kind"]
    if (run_dir / "sweep.json").is_file():
        return "sweep"
    if (run_dir / "batch.json").is_file():
        return "batch"
    saved = record.get("args") or {}
    if "arch_learning_rate" in saved:
        return "search"
    if "arch" in saved:
        return "train"
    return None


def read_run_record(path: str | Path, script: str = "run's") -> dict[str, Any]:
    """A run's whole args.json, checked to hold its "args" object (``script`` names the run in the error).

    save_args writes that object into every args.json, so valid JSON without it is a damaged file: a UserError
    naming it, not a run that recorded no settings (read so, a folder was "of unknown kind", or profiled on the
    paper's network instead of its own, without a word)."""
    record = read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("args"), dict):
        raise UserError(f"{path} is not a {script} args.json (no \"args\" object)")
    return record


def read_run_args(path: str | Path, script: str = "run's") -> dict[str, Any]:
    """The arguments a run's args.json records (read_run_record's "args")."""
    return read_run_record(path, script)["args"]


def run_folder_kind(folder: str | Path) -> str | None:
    """The kind of run folder the project wrote at ``folder`` (sweep.json, batch.json, or an args.json
    of a known kind), or None; an unreadable args.json is not taken for one."""
    folder = Path(folder)
    if (folder / "sweep.json").is_file():
        return "sweep"
    if (folder / "batch.json").is_file():
        return "batch"
    try:
        record = read_run_record(folder / "args.json")
    except (OSError, UserError):
        return None
    return run_kind(folder, record)


def resume_folder_error(run_dir: Path, kind: str, missing: str) -> UserError:
    """The one line for `--resume run_dir` of a folder that holds no ``kind`` run (its ``missing`` file is not
    there): no such folder, or which kind of run it is and the script that resumes it."""
    label = RUN_KINDS[kind][0] + (" run folder" if kind in ("search", "train") else " folder")
    if not run_dir.exists():
        return UserError(f"--resume {run_dir}: no such folder")
    found = run_folder_kind(run_dir)
    if found is not None and found != kind:
        return UserError(f"--resume {run_dir}: not {label} but {RUN_KINDS[found][0]} folder (resume it "
                         f"with {RUN_KINDS[found][1]})")
    return UserError(f"--resume {run_dir}: not {label} (no {missing})")


def load_run_args(folder: str | Path, kind: str) -> tuple[Path, dict]:
    """The folder and saved arguments of the run that ``--resume folder`` names, which must be of ``kind``.

    A folder of another kind is refused before anything is written to it (resuming a sweep folder as a
    search would overwrite the sweep's args.json).
    """
    run_dir = Path(folder)
    if run_dir.name == "log.txt":
        run_dir = run_dir.parent
    label, _ = RUN_KINDS[kind]
    if not (run_dir / "args.json").is_file():
        raise resume_folder_error(run_dir, kind, "args.json")
    try:
        record = read_run_record(run_dir / "args.json", RUN_KINDS[kind][1])
    except UserError as err:
        raise UserError(f"--resume {run_dir}: {err}") from None
    found = run_kind(run_dir, record)
    if found != kind:
        what = "a folder of unknown kind"
        if found:
            what = f"{RUN_KINDS[found][0]} folder (resume it with {RUN_KINDS[found][1]})"
        raise UserError(f"--resume {run_dir}: not {label} run folder but {what}")
    return run_dir, record["args"]


def rebase_run_dirs(records: Iterable[Any], folder: Path) -> None:
    """Point each record's run folder into ``folder``, where it lives: a sweep (or batch) resumed from another
    working directory, or moved or copied, would otherwise run its searches again elsewhere."""
    for record in records:
        if isinstance(record, dict) and record.get("run_dir"):
            record["run_dir"] = str(folder / Path(record["run_dir"]).name)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_weight(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_is_number(w) for w in value)


def _losses_are_numbers(record: dict) -> bool:
    return all(record.get(key) is None or _is_number(record[key])
               for key in ("reg_loss", "criterion_loss", "valid_loss"))


def sweep_state_problem(state: Any) -> str | None:
    """What makes a sweep.json's content unusable, as a phrase (None: nothing). A hand edit or a damaged file must
    give one line, in a resume and in every tool that reads the front, not a TypeError deep in a plot."""
    if not isinstance(state, dict):
        return "not a mapping"
    if not isinstance(state.get("args"), dict):
        return "args is not a mapping"
    if not isinstance(state.get("searches"), list):
        return "searches is not a list"
    for n, record in enumerate(state["searches"]):
        if not (isinstance(record, dict) and _is_weight(record.get("weight")) and isinstance(record.get("index"), int)
                and isinstance(record.get("run_dir"), str) and record.get("status") in ("done", "failed", "running")):
            return f"searches[{n}] is not a search record (index, weight, run_dir, status)"
        if record["status"] == "done" and not _losses_are_numbers(record):
            return f"searches[{n}] has a loss that is not a number"
    pareto = state.get("pareto")
    if pareto is not None and not (isinstance(pareto, list) and all(
            isinstance(p, dict) and isinstance(p.get("name"), str) and _is_weight(p.get("weight")) for p in pareto)):
        return "pareto is not a list of named points (name, weight)"
    if pareto and not all(_losses_are_numbers(p) for p in pareto):
        return "pareto has a loss that is not a number"
    if not isinstance(state.get("estimator", {}), dict):
        return "estimator is not a mapping"
    size = state["args"].get("image_size")
    if size is not None and not (isinstance(size, int) and not isinstance(size, bool)):
        return f"args.image_size is {size!r}, not a whole number"
    return None


LOCK_FILE = ".lock"
# the temp files of write_atomic: .<name>.<8 hex digits>.tmp
_ATOMIC_TMP = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")


class RunLock:
    """The exclusive lock of one run folder (see lock_run_dir); ``release()`` or leaving a ``with`` ends it."""

    def __init__(self, folder: Path, fd: int | None) -> None:
        self.folder = folder
        self._fd = fd
        if fd is not None:
            # A forked child (a DataLoader worker) closes its copy of the descriptor without unlocking, so
            # the lock ends with the process that took it and not with the last of its children.
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _forget_in_child(ref))

    def release(self) -> None:
        """Unlock (the lock file stays: removing it would let two processes lock two different files)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def _forget_in_child(ref: weakref.ref) -> None:
    lock = ref()
    if lock is not None and lock._fd is not None:
        os.close(lock._fd)
        lock._fd = None


_TAKEN = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
PROBE_WAITS = 50  # tries of lock_run_dir past a run_is_live probe, 10 ms apart


def _lock_exclusive(fd: int) -> None:
    """flock LOCK_EX without waiting on a run, but outwaiting a reader's probe (run_is_live's shared lock, held for
    two system calls): a resume that met one would otherwise be refused as "in use" by a run long dead. A shared
    lock that can be taken beside the holder's means no run holds the file (runs lock it exclusively)."""
    for attempt in range(PROBE_WAITS + 1):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as err:
            if err.errno not in _TAKEN or attempt == PROBE_WAITS:
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                raise err from None  # held exclusively: a run
            fcntl.flock(fd, fcntl.LOCK_UN)
            time.sleep(0.01)


def run_is_live(folder: str | Path) -> bool | None:
    """Whether a process holds the lock of a run folder now, so that a tool reading the folder can tell a run still at
    work from one that ended without finishing (killed, crashed, interrupted): both leave the same files.

    True: held. False: not held (a run that died holding it left its pid in the lock file; a clean release leaves
    it empty, and an empty file is not probed), or no lock file beside the run's args.json: a run locks its folder
    before it writes args.json and never removes the file, so such a folder is a copy made without its hidden files
    (rsync --exclude, a partial tar) that no process here writes to. None: cannot tell (no lock file nor args.json;
    a lock file this user may not read; no fcntl; a filesystem without locks). The probe is a non-blocking shared
    flock released at once; a run starting in that instant outwaits it (lock_run_dir). Locks that a filesystem
    keeps per host see no run of another host: such a run, or a copy of its folder, reads as not live.
    """
    if fcntl is None:
        return None
    try:
        fd = os.open(Path(folder) / LOCK_FILE, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return False if (Path(folder) / "args.json").is_file() else None
    except OSError:  # a lock file this user may not read
        return None
    try:
        if not os.pread(fd, 32, 0).strip():  # released cleanly (or taken this instant, its pid not yet written)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as err:
            return True if err.errno in _TAKEN else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def lock_run_dir(folder: str | Path) -> RunLock:
    """Lock a run folder for this process: a second process on it gets one line naming the holder's pid.

    Every script that writes a run folder takes its lock before it writes anything there, and holds it to
    the end. It is an flock on ``folder/.lock``, which the OS drops when the process ends however it ends
    (kill -9 too), so a lock is never stale; the file holds the holder's pid for the message. A sweep locks
    its folder and each search its own, so nested folders never wait on each other (and nothing waits: a
    taken lock is an error at once; only run_is_live's probe of an instant is outwaited). Holding the lock, no
    one else writes in the folder, so the atomic writer's temp files found there are leftovers of a killed run
    and are removed. Without fcntl (Windows), or on a filesystem without locks, the folder is used unlocked.
    """
    folder = Path(folder)
    if fcntl is None:
        return RunLock(folder, None)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        _lock_exclusive(fd)
    except OSError as err:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() if err.errno in _TAKEN else None
        os.close(fd)
        if holder is None:  # ENOLCK, EOPNOTSUPP...: this filesystem cannot lock
            return RunLock(folder, None)
        who = f"process {holder}" if holder.isdigit() else "another process"
        raise UserError(f"{folder} is in use by {who}, which holds its lock: one run per folder "
                        "(wait for it to end, or stop it)") from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    lock = RunLock(folder, fd)
    for leftover in folder.iterdir():
        if _ATOMIC_TMP.match(leftover.name) and leftover.is_file():
            leftover.unlink(missing_ok=True)
    return lock


class MetricsCSV:
    """Per-epoch metrics file: one row per append, on disk before the epoch's checkpoint, trimmed on resume so rows
    never repeat (and, the checkpoint never past them, never miss one)."""

    def __init__(self, path: str | Path, fieldnames: Iterable[str]) -> None:
        self.path = Path(path)
        self.fieldnames = list(fieldnames)
        if self.path.is_file() and self.path.stat().st_size > 0:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f), [])
            if header != self.fieldnames:
                raise UserError(f"{self.path} has columns {header}, expected {self.fieldnames}")

    def append(self, row: dict) -> None:
        """Add one row (None as an empty cell), the header first if the file is new."""
        unknown = set(row) - set(self.fieldnames)
        if unknown:
            raise ValueError(f"unknown metrics column(s) {sorted(unknown)} for {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.is_file() or self.path.stat().st_size == 0
        try:
            with open(self.path, "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self.fieldnames)
                if new:
                    writer.writeheader()
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
                f.flush()
                os.fsync(f.fileno())  # else a machine going down could keep the later checkpoint and lose this row
        except OSError as err:  # a full disk
            raise naming(err, self.path) from None

    def truncate_after(self, epoch: int) -> None:
        """Keep only rows with epoch < `epoch` (the resumed run rewrites the later ones)."""
        if not self.path.is_file():
            return
        with open(self.path, newline="") as f:
            rows = list(csv.DictReader(f))
        write_csv_atomic(self.path, self.fieldnames,
                         [r for r in rows if r.get("epoch") not in (None, "") and float(r["epoch"]) < epoch])


# --------------------------------------------------------------------------- script entry


class Interrupted(KeyboardInterrupt):
    """A Ctrl-C that knows the command continuing the run it stopped (the outermost one: a sweep's, a batch's)."""

    def __init__(self, command: str) -> None:
        super().__init__(command)
        self.command = command


def is_out_of_memory(error: BaseException) -> bool:
    """True for the device running out of memory (the allocator's error or a library's failed allocation; on the
    CPU, the kernel refusing an allocation: torch's "can't allocate memory", Python's MemoryError)."""
    if isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(
        s in text for s in ("out of memory", "CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_NOT_ALLOCATED",
                            "can't allocate memory"))


def out_of_memory(error: BaseException) -> str:
    """"out of memory (what torch said)", in its first sentences: CUDA's message goes on for a paragraph about the
    allocator, too long for the one line a run ends with or a sweep records."""
    said = " ".join(str(error).split())
    return f"out of memory ({'. '.join(said.split('. ')[:3]).rstrip('.') or type(error).__name__})"


def out_of_memory_line(error: BaseException) -> str:
    """run_main's line for a run that ran out of memory: out_of_memory, and the flags that set how much a run
    needs."""
    return (f"{out_of_memory(error)}: a smaller --batch_size, or a smaller network (--init_channels, --layers), "
            "needs less")


@contextlib.contextmanager
def resumable(script: str, run_dir: str | Path) -> Iterator[None]:
    """Name ``python SCRIPT --resume RUN_DIR`` in a Ctrl-C inside the block, which run_main prints, and in an OSError
    (a full disk: the line said what failed, not that the run resumes) or a mendable UserError (an unreadable
    image). Nested blocks (a sweep's around its search's) re-raise, so the outermost run's command is the one said."""
    try:
        yield
    except KeyboardInterrupt:
        if not (Path(run_dir) / "args.json").is_file():  # stopped before the run recorded its arguments
            raise
        raise Interrupted(resume_command(script, run_dir)) from None
    except (OSError, UserError) as err:  # a full disk mid-run: run_main's line says how to go on once it can write
        if (isinstance(err, OSError) or err.mendable) and (Path(run_dir) / "args.json").is_file():
            err.resume_command = resume_command(script, run_dir)  # an outer block's overwrites: the outermost run's
        raise
    except Exception as err:  # noqa: BLE001 - re-raised; only memory gets a resume command (with more free)
        if is_out_of_memory(err) and (Path(run_dir) / "args.json").is_file():
            err.resume_command = resume_command(script, run_dir)
        raise


def resume_command(script: str, run_dir: str | Path) -> str:
    """``python SCRIPT --resume RUN_DIR``, quoted for this system's shell: the one way a message says how to go on."""
    return shell_command("python", script, "--resume", run_dir)


def run_state(folder: str | Path, resume: str, unknown: str = "it is still running, or was stopped") -> str:
    """What a run without its result is doing, as its lock tells (run_is_live): "it is still running", or "it was
    stopped; <resume> continues it", or ``unknown`` where the lock cannot tell."""
    return {True: "it is still running", False: f"it was stopped; {resume} continues it"}.get(run_is_live(folder),
                                                                                             unknown)


def shell_word(text: str | Path) -> str:
    """``text`` as one word of a command line to paste into this system's shell (a --logdir or --save with a space)."""
    return subprocess.list2cmdline([str(text)]) if os.name == "nt" else shlex.quote(str(text))


def shell_command(*words: str | Path) -> str:
    """A command the user is told to run, each word quoted for their shell, so that it pastes as printed."""
    return " ".join(shell_word(word) for word in words)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[list[int]]:
    """Make SIGTERM (``kill``, a scheduler's preemption, ``docker stop``, systemd) raise KeyboardInterrupt in the block,
    so that it stops a run as a Ctrl-C does (workers stopped, records saved, locks released, the --resume line)
    rather than killing it silently. Yields the signals received (empty while none came). A second SIGTERM while the
    first one's shutdown runs is ignored, so that the shutdown ends whole. Installed only in the main thread of a
    main process, and only over the default disposition (an ignored SIGTERM, or a handler someone installed, is
    left alone); the previous handler is restored on leaving the block."""
    received: list[int] = []
    if (threading.current_thread() is not threading.main_thread() or multiprocessing.parent_process() is not None
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield received
        return

    def interrupt(signum: int, frame: Any) -> None:
        if received:
            return
        received.append(signum)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


TRACEBACK_ENV = "MOOD_NAS_TRACEBACK"  # set (to anything but "" or 0): an error line comes with its traceback


def _traceback_if_asked(error: BaseException) -> None:
    """The traceback of an error run_main turned into one line, on stderr after it, when TRACEBACK_ENV asks."""
    if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)


def run_main(main_fn: Callable[[Any], Any], args: Any) -> int:
    """Call main_fn(args); bad input, and a file that cannot be written or read (OSError), become one
    `error: ...` line on stderr and exit code 2; a Ctrl-C (exit 130) or a SIGTERM (exit 143, see sigterm_interrupts),
    one line naming the command that resumes the run.

    A ValueError is taken for bad input, and so is one a bug raised (`min() arg is an empty sequence`); with
    MOOD_NAS_TRACEBACK=1 the line is followed by the traceback that says which, for a bug report."""
    received: list[int] = []
    # a table's 'ν' or '±' printed to a stdout whose encoding cannot take it (LC_ALL=C, a cp1252 console) is
    # escaped, as Python escapes stderr, rather than an encoding error that ends the script after its files
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(errors="backslashreplace")
    stdout = sys.stdout
    if stdout is not None and not isinstance(stdout, SteadyStdout):
        sys.stdout = SteadyStdout(stdout)
    try:
        with sigterm_interrupts() as received:
            main_fn(args)
    except (UserError, ValueError) as e:
        message = " ".join(str(e).split()) or type(e).__name__
        resume = getattr(e, "resume_command", None)  # a mendable UserError mid-run (resumable)
        print(f"error: {message}" + (f"; once that is mended, continue with {resume}" if resume else ""),
              file=sys.stderr)
        _traceback_if_asked(e)
        return 2
    except OSError as e:  # a read-only or full disk, a name too long...: `error: <path>: <reason>`
        message = f"{e.filename}: {e.strerror}" if e.strerror and e.filename else (e.strerror or str(e))
        resume = getattr(e, "resume_command", None)
        print(f"error: {' '.join(message.split()) or type(e).__name__}"
              + (f"; once that is mended, continue with {resume}" if resume else ""), file=sys.stderr)
        _traceback_if_asked(e)
        return 2
    except RunFailed as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    except Exception as e:  # the device's memory, too small for the batch or network asked for: no bug, one line
        if not is_out_of_memory(e):
            raise
        resume = getattr(e, "resume_command", None)
        print(f"error: {out_of_memory_line(e)}" + (f"; or continue this run where more memory is free: {resume}"
                                                    if resume else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        how = f"interrupted by {signal.Signals(received[0]).name}" if received else "interrupted"
        print(f"{how}: continue with {e.command}" if isinstance(e, Interrupted) else how, file=sys.stderr)
        return 128 + received[0] if received else 130
    finally:
        sys.stdout = stdout
    return 0
