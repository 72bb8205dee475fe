"""The GPU memory model that batch_train.py sizes its batches with: fit it, or measure its data.

    python batch_size_predict.py -d batch_data.csv                    # fit; writes batch_predict.json beside the CSV
    python batch_size_predict.py -d batch_data.csv -o model.json --pickle model.pkl
    python batch_size_predict.py --measure -o my_gpu.csv              # on a CUDA GPU: append measured rows
    python batch_size_predict.py --measure -o my_gpu.csv --archs DARTS_V2 l2_loss_2e01 --batch_sizes 32 64 128
    python batch_size_predict.py -d my_gpu.csv -o my_gpu.json         # for batch_train.py --batch_model my_gpu.json

The repository's batch_data.csv (H200 rows) and batch_predict.json (their fit, batch_train.py's default) are
never written by another GPU's --measure or by the default -o of another CSV's fit.

**Fit.** The CSV has the columns ``model size`` (M parameters of the evaluation network, without
the auxiliary head), ``batch size`` and ``GPU mb``. The model is scikit-learn's
``PolynomialFeatures(2)`` + ``Ridge(alpha=0.5)``; the script prints ``MAE = .., MAX = .., MAPE = ..%``
on the rows it was fitted on and the leave-one-out MAPE (the error to expect on a new genotype or
batch size), and saves the fitted coefficients as JSON (``-o``, default ``batch_predict.json`` in the
CSV's folder, unless that file is the fit of another CSV). ``load_memory_model`` reads that JSON back and
predicts with numpy alone: no scikit-learn, no pickle. ``--pickle PATH`` also writes the scikit-learn
pipeline for code that expects the original's pickle (written only; this project never loads a pickle).

**Measure.** ``--measure`` runs, for each genotype and batch size, a few real training steps with
train.py's own network, SGD and step (``train.build_training`` from train.py's parser: auxiliary head
on with weight 0.4, drop path 0.3, SGD with momentum and weight decay, clipping, cuDNN benchmark;
the images of a CIFAR-sized device-resident dataset, 50000 train + 10000 test, allocated on the
device as train.py's default loaders keep them) and records the peak memory the device needed:

    GPU mb = torch.cuda.max_memory_reserved()            (peak of the caching allocator)
           + (total - free) - torch.cuda.memory_reserved()  (memory outside the allocator)

where (total, free) = torch.cuda.mem_get_info() read right after the steps: memory used on the device
that the allocator does not hold is the CUDA context, the lazily loaded kernels and the cuBLAS/cuDNN
handles. That is what the process shows in nvidia-smi at its peak, so a predicted batch fits the
free memory. Measure on an otherwise idle GPU: memory other processes hold is counted as overhead
(a warning is logged when more than 2 GB is in use before the first measurement). An out-of-memory
step records nothing for that size and skips the larger sizes of that genotype. Rows are appended
(and flushed) one by one, so an interrupted measurement keeps what it measured.

The CSV's three columns cannot say where its rows came from, so each --measure call also records, in
``<CSV>.measure.json`` beside it (``my_gpu.csv.measure.json``), a session: its start time, the GPU
(name, total memory, compute capability, memory in use before measuring), the torch, CUDA and cuDNN
versions, its settings (genotypes, batch sizes, network, steps, --amp, --resident_images) and which of the
CSV's data rows it appended. A fit of that CSV copies the sessions into its model JSON (``"measured"``),
and batch_train.py's log names the GPU the model it sizes with was measured on. A record that tells of more rows
than its CSV holds (the CSV deleted, emptied or cut since) is not theirs: --measure starts a new one, and a fit
copies none of it.
"""

from __future__ import annotations

if __name__ == "__main__":  # before torch's imports: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import argparse
import csv
import gc
import json
import math
import pickle
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

import cli
from genotypes import PUBLISHED, Genotype, genotype_label, resolve_genotype
from utils import (
    UserError,
    check_output,
    configure_torch,
    count_parameters_in_MB,
    get_device,
    get_logger,
    is_out_of_memory,
    json_or_none,
    run_main,
    write_json_atomic,
)

__all__ = [
    "main", "main_measure", "build_parser", "MemoryModel", "load_memory_model", "fit_memory_model", "CudaPeakProbe",
    "PeakProbe", "run_training_steps", "measure", "measured_on",
]

COLUMNS = ("model size", "batch size", "GPU mb")
MODEL_FORMAT = "mood-nas-memory-model"
RECORD_FORMAT = "mood-nas-memory-measurements"  # the <CSV>.measure.json of --measure
REPO = Path(__file__).resolve().parent  # where the shipped batch_data.csv and batch_predict.json live
DEFAULT_BATCH_SIZES = (32, 64, 96, 128, 192, 256, 384, 512)
RESIDENT_IMAGES = 60000  # CIFAR's 50000 train + 10000 test images, kept on the device by train.py's loaders


# --------------------------------------------------------------------------- the data


def read_memory_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(X = [[model size, batch size], ...], y = GPU mb) from the CSV; bad files fail in one line."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder: give the memory CSV (batch_data.csv) itself")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return _parse_memory_csv(path, csv.reader(f))
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text CSV (not UTF-8): expected the columns {', '.join(COLUMNS)}") from None


def _parse_memory_csv(path: Path, reader: Any) -> tuple[np.ndarray, np.ndarray]:
    """read_memory_csv's rows: the header names the columns, every cell is a positive number."""
    header = next(reader, None)
    if header is None:
        raise UserError(f"{path} is empty: expected the columns {', '.join(COLUMNS)}")
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c.lower() not in names]
    if missing:
        raise UserError(f"{path} lacks the column(s) {', '.join(repr(m) for m in missing)} "
                        f"(it has {', '.join(repr(h.strip()) for h in header)}); expected {', '.join(COLUMNS)}")
    where = [names.index(c.lower()) for c in COLUMNS]
    values = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        parsed = []
        for column, index in zip(COLUMNS, where):
            cell = row[index].strip() if index < len(row) else ""
            try:
                value = float(cell)
            except ValueError:
                raise UserError(f"{path} line {line}: {column!r} is {cell!r}, not a number") from None
            if not math.isfinite(value) or value <= 0:
                raise UserError(f"{path} line {line}: {column!r} is {cell!r}; it must be a positive number")
            parsed.append(value)
        values.append(parsed)
    if len(values) < 3:
        raise UserError(f"{path} has {len(values)} data row(s); the memory model needs at least 3")
    table = np.asarray(values, dtype=np.float64)
    return table[:, :2], table[:, 2]


# --------------------------------------------------------------------------- the fit


def fit_pipeline(X: np.ndarray, y: np.ndarray, alpha: float = 0.5) -> Any:
    """scikit-learn's PolynomialFeatures(2) + Ridge(alpha), fitted (the original's model)."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    return make_pipeline(PolynomialFeatures(2), Ridge(alpha=alpha)).fit(X, y)


def errors(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE and MAX (MB) and MAPE (%) of predictions."""
    y, pred = np.asarray(y, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    diff = np.abs(y - pred)
    return {"mae": float(diff.mean()), "max": float(diff.max()), "mape": float(100.0 * np.mean(diff / np.abs(y)))}


def loo_mape(X: np.ndarray, y: np.ndarray, alpha: float = 0.5) -> float:
    """MAPE (%) of leave-one-out predictions: each row predicted by a model fitted without it."""
    preds = np.empty_like(y)
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        preds[i] = fit_pipeline(X[keep], y[keep], alpha).predict(X[i:i + 1])[0]
    return errors(y, preds)["mape"]


@dataclass
class MemoryModel:
    """The fitted memory model as plain numbers: GPU MB = intercept + sum_j coef_j * prod_i x_i^powers_ji."""

    powers: np.ndarray  # n_features x 2 (exponents of model size and batch size)
    coef: np.ndarray  # n_features
    intercept: float
    info: dict[str, Any]

    @classmethod
    def from_pipeline(cls, pipe: Any, info: dict[str, Any] | None = None) -> MemoryModel:
        poly, ridge = pipe[0], pipe[-1]
        return cls(np.asarray(poly.powers_, dtype=np.int64), np.asarray(ridge.coef_, dtype=np.float64),
                   float(ridge.intercept_), dict(info or {}))

    @classmethod
    def from_dict(cls, data: Any, where: str = "memory model") -> MemoryModel:
        """Validate the JSON form (the numbers only; nothing in it is executed)."""
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise UserError(f"{where} is not a memory model (expected \"format\": \"{MODEL_FORMAT}\"); "
                            f"fit one with batch_size_predict.py -d CSV")
        try:
            powers = np.asarray(data["powers"], dtype=np.int64)
            coef = np.asarray(data["coef"], dtype=np.float64)
            intercept = float(data["intercept"])
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"{where}: malformed memory model ({err})") from None
        if powers.ndim != 2 or powers.shape[1] != 2 or coef.shape != (len(powers),) or np.any(powers < 0):
            raise UserError(f"{where}: malformed memory model (powers {powers.shape}, coef {coef.shape})")
        if not (np.all(np.isfinite(coef)) and math.isfinite(intercept)):
            raise UserError(f"{where}: memory model has non-finite coefficients")
        info = {k: v for k, v in data.items() if k not in ("powers", "coef", "intercept")}
        return cls(powers, coef, intercept, info)

    def to_dict(self) -> dict[str, Any]:
        return {"format": MODEL_FORMAT, **self.info, "columns": list(COLUMNS), "powers": self.powers.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept}

    def predict(self, model_size: Any, batch_size: Any) -> np.ndarray:
        """Predicted GPU MB for (model size M, batch size), broadcasting arrays like numpy."""
        m, b = np.broadcast_arrays(np.asarray(model_size, dtype=np.float64), np.asarray(batch_size, dtype=np.float64))
        X = np.stack([m.ravel(), b.ravel()], axis=1)
        features = np.prod(X[:, None, :] ** self.powers[None, :, :], axis=2)
        return (features @ self.coef + self.intercept).reshape(m.shape)

    def max_batch(self, model_size: float, budget_mb: float, max_batch: int = 1024, min_batch: int = 1) -> int | None:
        """The batch before the first one from min_batch up whose prediction exceeds budget_mb or is not a positive
        memory (None if min_batch already fails).

        Memory grows with the batch, but the fitted polynomial need not: the shipped model's batch² term is
        negative, so far beyond its data its prediction falls, below zero too. The largest batch that "fits"
        anywhere in the range would then be --max_batch_size, however large, and a run of out-of-memory restarts.
        """
        sizes = np.arange(min_batch, max_batch + 1)
        predicted = self.predict(model_size, sizes)
        fails = ~((predicted > 0) & (predicted <= budget_mb))
        first = int(np.argmax(fails)) if fails.any() else len(sizes)
        return int(sizes[first - 1]) if first > 0 else None


def load_memory_model(path: str | Path) -> MemoryModel:
    """Read a memory model JSON written by this script; predictions equal the scikit-learn pipeline's."""
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such memory model: {path}")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        if _is_memory_csv(path):  # --batch_model batch_data.csv: the rows, not their fit
            raise UserError(f"{path} is a memory CSV (the rows), not a memory model: fit it first with "
                            f"python batch_size_predict.py -d {path} -o {path.with_suffix('.json')}, and pass that "
                            "JSON") from None
        raise UserError(f"{path} is not valid JSON ({err})") from None
    return MemoryModel.from_dict(data, str(path))


def _csv_header(path: str | Path) -> list[str]:
    """The first row of a CSV, each name stripped and lower-cased (a UnicodeDecodeError where it is no text)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [h.strip().lower() for h in next(csv.reader(f), [])]


def _is_memory_csv(path: Path) -> bool:
    """Whether ``path`` starts with the memory CSV's header."""
    try:
        header = _csv_header(path)
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return set(header) >= {c.lower() for c in COLUMNS}


def fit_memory_model(csv_path: str | Path, alpha: float = 0.5,
                     rows: tuple[np.ndarray, np.ndarray] | None = None,
                     measured: list[Any] | None = None) -> tuple[MemoryModel, Any]:
    """Fit the CSV (``rows``: what read_memory_csv already read of it); returns the numpy model (with its fit
    statistics in .info, and ``measured``, the sessions of its --measure record, as "measured") and the sklearn
    pipeline."""
    X, y = rows if rows is not None else read_memory_csv(csv_path)
    pipe = fit_pipeline(X, y, alpha)
    import sklearn

    stats = errors(y, pipe.predict(X))
    info = {
        "degree": 2, "alpha": alpha, "rows": len(y), "data": str(csv_path),
        "model_size_range": [float(X[:, 0].min()), float(X[:, 0].max())],
        "batch_size_range": [int(X[:, 1].min()), int(X[:, 1].max())],
        "fit": {**stats, "loo_mape": loo_mape(X, y, alpha)},
        "sklearn": sklearn.__version__, "created": time.time(),
    }
    if measured is not None:
        info["measured"] = measured
    return MemoryModel.from_pipeline(pipe, info), pipe


def thin_data_note(X: np.ndarray) -> str | None:
    """Why the fit of these (model size, batch size) rows cannot be trusted away from them, or None. A quadratic
    in a variable needs three of its values: from fewer its errors (0.00% on identical rows) say nothing."""
    thin = [f"{len(np.unique(X[:, k]))} {name}(s)" for k, name in ((0, "model size"), (1, "batch size"))
            if len(np.unique(X[:, k])) < 3]
    if not thin:
        return None
    return (f"the CSV has only {' and '.join(thin)}: the quadratic's terms in it are not determined by the data "
            "(measure at least 3 of each), and its predictions elsewhere are guesses")


# --------------------------------------------------------------------------- measuring


class PeakProbe(Protocol):
    """Reads the device's peak memory around a measurement (CudaPeakProbe; tests pass a fake)."""

    def start(self) -> None: ...

    def peak_mb(self) -> float: ...

    def release(self) -> None: ...


class CudaPeakProbe:
    """Peak memory of one CUDA device: allocator peak plus memory used outside the allocator (see module doc)."""

    def __init__(self, device: torch.device, logger: Any = None) -> None:
        if device.type != "cuda":
            raise UserError(f"--measure needs a CUDA GPU (peak memory is read from the CUDA caching allocator); "
                            f"the device here is {device}")
        self.device = device
        torch.cuda.init()
        free, total = torch.cuda.mem_get_info(device)
        self.used_at_start_mb = (total - free) / 2**20
        if logger is not None:
            logger.info("%s: %.0f MB in use after CUDA initialisation (context%s)", torch.cuda.get_device_name(device),
                        self.used_at_start_mb, " + other processes?" if self.used_at_start_mb > 2048 else "")
            if self.used_at_start_mb > 2048:
                logger.warning("more than 2 GB in use before measuring: other processes' memory will count as overhead")

    def start(self) -> None:
        self.release()
        torch.cuda.reset_peak_memory_stats(self.device)
        self.reserved_at_start_mb = torch.cuda.memory_reserved(self.device) / 2**20

    def peak_mb(self) -> float:
        """The device's memory in use at the peak: this process's (its context included) and any other's, as
        nvidia-smi shows it and as batch_data.csv records it."""
        torch.cuda.synchronize(self.device)
        free, total = torch.cuda.mem_get_info(self.device)
        outside = (total - free) - torch.cuda.memory_reserved(self.device)
        return (torch.cuda.max_memory_reserved(self.device) + outside) / 2**20

    def growth_mb(self) -> float:
        """What the work since ``start`` took from this process's caching allocator at its peak: the part that
        must fit in the device's free memory, read after it (other processes' memory, which may change meanwhile,
        and this process's context and libraries are outside that already)."""
        torch.cuda.synchronize(self.device)
        return torch.cuda.max_memory_reserved(self.device) / 2**20 - self.reserved_at_start_mb

    def release(self) -> None:
        gc.collect()
        torch.cuda.synchronize(self.device)
        torch.cuda.empty_cache()


def run_training_steps(genotype: Genotype, batch_size: int, device: torch.device, *, init_channels: int = 36,
                       layers: int = 20, num_classes: int = 10, image_size: int = 32, steps: int = 3,
                       drop_path_prob: float | None = None, auxiliary_weight: float | None = None,
                       grad_clip: float | None = None, amp: str = "none",
                       resident_images: int = RESIDENT_IMAGES, train_args: argparse.Namespace | None = None) -> float:
    """A few of train.py's training steps on random data; returns the network's size (M params, no aux head).

    The network, SGD and the step are train.py's own (``train.build_training`` from train.py's parser, so
    its learning rate, momentum and weight decay), with the auxiliary head on; ``None`` keeps train.py's
    default. ``train_args`` (a training's own arguments: batch_train's --probe) replaces all of those with
    that training's network and levers (--set imagenet, --auxiliary or not, --channels_last, --amp) at
    ``batch_size``. The first step allocates the momentum buffers and runs cuDNN's algorithm search, later
    steps are the steady state, so the peak after ``steps >= 2`` is the one a full training reaches.
    """
    import train

    if train_args is not None:
        args = argparse.Namespace(**{**vars(train_args), "batch_size": batch_size, "model_path": None})
    else:
        argv = ["--auxiliary", "--init_channels", str(init_channels), "--layers", str(layers), "--amp", amp,
                "--batch_size", str(batch_size)]
        for flag, value in (("--drop_path_prob", drop_path_prob), ("--auxiliary_weight", auxiliary_weight),
                            ("--grad_clip", grad_clip)):
            if value is not None:
                argv += [flag, str(value)]
        args = train.build_parser().parse_args(argv)
    configure_torch(device)  # as train.py: cuDNN's algorithm search on, as its peak memory depends on it
    resident = torch.empty(resident_images, 3, image_size, image_size, dtype=torch.uint8, device=device)
    setup = train.build_training(args, genotype, num_classes, device)
    setup.model.drop_path_prob = args.drop_path_prob  # the last epoch's, the largest
    setup.model.train()
    x = torch.randn(batch_size, 3, image_size, image_size, device=device)
    y = torch.randint(num_classes, (batch_size,), device=device)
    for _ in range(steps):
        row = setup.stepper(x, y)
    row.sum().item()  # wait for the device
    size = count_parameters_in_MB(setup.model)
    del resident, setup, x, y, row
    return size


def record_path(csv_path: str | Path) -> Path:
    """Where --measure records the environment of a CSV's rows: beside it, not in it (its columns are fixed), and not
    under the name ``my_gpu.json`` that the docs give the CSV's fit."""
    path = Path(csv_path)
    return path.with_name(path.name + ".measure.json")


def read_record(csv_path: str | Path) -> dict[str, Any] | None:
    """The --measure record of a memory CSV (None when it has none); a file there that is not one is a one-line
    error, so that --measure does not overwrite it and a fit does not copy it."""
    path = record_path(csv_path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:  # UnicodeDecodeError is a ValueError
        raise UserError(f"{path} is not valid JSON ({err}): it is not the --measure record of {csv_path}") from None
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT or not isinstance(data.get("sessions"), list):
        raise UserError(f"{path} is not a --measure record of {csv_path} (expected \"format\": \"{RECORD_FORMAT}\" "
                        "and a list of sessions): move it away")
    return data


def stale_record(record: dict[str, Any], csv_path: str | Path, data_rows: int) -> str | None:
    """Why a --measure record does not describe its CSV (None: it may): its sessions appended more rows than the
    CSV holds, so the CSV was deleted, emptied or cut since. Its sessions then name GPUs that measured none of
    the rows: deleting my_gpu.csv to measure afresh on another GPU left the first GPU's session in the record,
    and the fit said its rows were "measured on A and B"."""
    told = sum(s["rows"] for s in record["sessions"] if isinstance(s, dict) and isinstance(s.get("rows"), int))
    if told <= data_rows:
        return None
    return f"{record_path(csv_path)} tells of {told} measured row(s) and {csv_path} holds {data_rows}"


def measurement_environment(device: torch.device, probe: Any = None) -> dict[str, Any]:
    """What a row's GPU mb depends on besides the network and the batch: the device, and the torch, CUDA and cuDNN
    that allocate on it (another GPU or version allocates differently)."""
    env: dict[str, Any] = {
        "device": str(device), "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, gpu_total_mb=round(props.total_memory / 2**20),
                   capability=f"{props.major}.{props.minor}")
    used = getattr(probe, "used_at_start_mb", None)
    if isinstance(used, (int, float)):  # other processes' memory counts as overhead in every row
        env["used_at_start_mb"] = round(used)
    return env


def measured_on(info: dict[str, Any]) -> str | None:
    """The GPU(s) and versions a fitted model's rows were measured with, from its "measured" sessions, for a log line
    (None when its CSV had no --measure record, as the repository's has not)."""
    sessions = info.get("measured")
    if not isinstance(sessions, list):
        return None
    seen: list[str] = []
    for session in sessions:
        env = session.get("environment") if isinstance(session, dict) else None
        if not isinstance(env, dict):
            continue
        text = f"{env.get('gpu') or env.get('device', '?')} (torch {env.get('torch', '?')}, CUDA {env.get('cuda')})"
        if text not in seen:
            seen.append(text)
    return " and ".join(seen) or None


def _data_rows(path: Path) -> int:
    """How many data rows the memory CSV holds (blank lines aside), so that a session can say which are its own."""
    if not path.is_file():
        return 0
    with open(path, newline="", encoding="utf-8-sig") as f:
        return sum(1 for row in list(csv.reader(f))[1:] if any(cell.strip() for cell in row))


def check_appendable(path: str | Path) -> bool:
    """Whether the memory CSV is new (absent or empty); an existing one must have the columns the rows go under.
    measure checks it before its first step, so that a wrong -o costs no measurement."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return True
    try:
        header = _csv_header(path)
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text CSV (not UTF-8): expected the columns {', '.join(COLUMNS)}") from None
    if header != [c.lower() for c in COLUMNS]:
        raise UserError(f"{path} has columns {header}; expected {', '.join(COLUMNS)}")
    return False


def append_rows(path: str | Path, rows: Sequence[dict[str, Any]]) -> None:
    """Append rows to the memory CSV (header first when the file is new), flushed to disk."""
    path = Path(path)
    new = check_appendable(path)
    unterminated = False
    if not new:
        with open(path, "rb") as f:
            f.seek(-1, 2)
            unterminated = f.read(1) not in (b"\n", b"\r")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as f:
        if unterminated:  # a hand-edited last row without its newline: the new row would join it
            f.write("\r\n")
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
        if new:
            writer.writeheader()
        writer.writerows(rows)
        f.flush()


def measure(specs: Sequence[str], batch_sizes: Sequence[int], device: torch.device, out_csv: str | Path, *,
            probe: PeakProbe | None = None, run_steps: Callable[..., float] = run_training_steps,
            logger: Any = None, **step_kwargs: Any) -> list[dict[str, Any]]:
    """Measure every (genotype, batch size), appending a CSV row per measurement; returns the rows.

    Running the steps (``run_steps``) and reading the peak (``probe``) are separate so that the loop,
    the out-of-memory handling and the CSV can be exercised on a CPU with a fake probe.
    """
    log = logger.info if logger is not None else (lambda *a: None)
    genotypes = [(spec, resolve_genotype(spec)) for spec in specs]  # fail on a bad name before measuring
    check_appendable(out_csv)
    record = read_record(out_csv)
    if record is not None and (stale := stale_record(record, out_csv, _data_rows(Path(out_csv)))):
        if logger is not None:
            logger.warning("warning: %s, of rows no longer there: a new record starts", stale)
        record = None
    record = record or {"format": RECORD_FORMAT, "csv": Path(out_csv).name, "sessions": []}
    if probe is None:
        probe = CudaPeakProbe(device, logger)
    session = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "environment": measurement_environment(device, probe),
               "settings": {"archs": list(specs), "batch_sizes": sorted({int(b) for b in batch_sizes}),
                            **step_kwargs},
               "first_row": _data_rows(Path(out_csv)) + 1, "rows": 0}
    record["sessions"].append(session)
    write_json_atomic(record_path(out_csv), record)  # before the first step: a session that measured nothing shows
    rows: list[dict[str, Any]] = []
    for spec, genotype in genotypes:
        for batch_size in sorted({int(b) for b in batch_sizes}):
            oom = False
            probe.start()
            try:
                size = run_steps(genotype, batch_size, device, **step_kwargs)
                peak = probe.peak_mb()
            except Exception as err:
                if not is_out_of_memory(err):
                    raise
                oom = True
            probe.release()
            if oom:
                log("%s batch %d: out of memory, nothing recorded; skipping its larger batch sizes",
                    genotype_label(spec), batch_size)
                break
            row = {"model size": round(size, 4), "batch size": batch_size, "GPU mb": round(peak)}
            append_rows(out_csv, [row])
            rows.append(row)
            session["rows"] = len(rows)
            write_json_atomic(record_path(out_csv), record)
            log("%s: %.4fM params, batch %d -> %d MB", genotype_label(spec), size, batch_size, row["GPU mb"])
    return rows


def default_measure_archs(k: int = 10) -> list[str]:
    """k published genotypes spread evenly over the range of evaluation-network sizes."""
    from train_search import eval_model_size

    sizes = {name: eval_model_size(g, 10, False) for name, g in PUBLISHED.items()}
    if len(sizes) <= k:
        return sorted(sizes, key=sizes.__getitem__)
    chosen: list[str] = []
    for target in np.linspace(min(sizes.values()), max(sizes.values()), k):
        rest = [n for n in sizes if n not in chosen]
        chosen.append(min(rest, key=lambda n: abs(sizes[n] - target)))
    return chosen


# --------------------------------------------------------------------------- the script


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        description="Fit the GPU memory model (PolynomialFeatures(2) + Ridge) or measure its data on a GPU.",
        formatter_class=cli.HelpFormatter,
    )
    parser.add_argument("-d", "--data", default="batch_data.csv",
                        help="CSV with the columns 'model size,batch size,GPU mb' (fit)")
    parser.add_argument("-o", "--output", default=None,
                        help="fit: the model JSON (default: batch_predict.json beside the CSV); "
                             "--measure: the CSV to append to (default: batch_data.csv, not the repository's own)")
    parser.add_argument("--alpha", type=float, default=0.5, help="Ridge regularisation")
    parser.add_argument("--pickle", default=None, metavar="PATH",
                        help="also write the scikit-learn pipeline with pickle (write only)")
    m = parser.add_argument_group("measure (CUDA only)")
    m.add_argument("--measure", action="store_true", help="measure peak GPU memory and append rows to -o")
    m.add_argument("--archs", nargs="+", default=None,
                   help="genotypes to measure (default: 10 published ones spread over 1.3-4.7M parameters)")
    m.add_argument("--batch_sizes", nargs="+", type=int, default=list(DEFAULT_BATCH_SIZES), help="batch sizes")
    m.add_argument("--init_channels", type=int, default=36, help="num of init channels")
    m.add_argument("--layers", type=int, default=20, help="total number of layers")
    m.add_argument("--num_classes", type=int, default=10, help="classes of the network's classifier")
    m.add_argument("--steps", type=int, default=3, help="training steps per measurement (>= 2: the first allocates "
                   "SGD's momentum buffers)")
    m.add_argument("--drop_path_prob", type=float, default=None, help="drop path probability (default: train.py's)")
    m.add_argument("--resident_images", type=int, default=RESIDENT_IMAGES,
                   help="images kept on the device as train.py's device-resident loaders do (0: none)")
    m.add_argument("--amp", choices=["none", "bf16"], default="none", help="autocast as train.py --amp")
    m.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="where to measure")
    m.add_argument("--gpu", type=int, default=0, help="gpu device id")
    return parser


def _equal_to_rounding(a: Any, b: Any) -> bool:
    """JSON values equal but for float rounding: another CPU's BLAS refits the same rows to coefficients that
    differ in their last digits, which exact equality took for another fit (the tracked batch_predict.json
    showed as modified after the documented refit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal_to_rounding(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal_to_rounding(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return type(a) is type(b) and a == b


def _same_fit(path: Path, new: dict[str, Any]) -> bool:
    """Whether ``path`` is a memory model JSON of this very fit (all but its time of creation equal, the
    numbers to float rounding)."""
    old = json_or_none(path)
    if not isinstance(old, dict):
        return False
    return _equal_to_rounding({k: v for k, v in old.items() if k != "created"},
                              {k: v for k, v in json.loads(json.dumps(new)).items() if k != "created"})


def _repository_file(path: str | Path, name: str) -> bool:
    """Whether ``path`` is the repository's own ``name`` (batch_data.csv: the H200 measurements; batch_predict.json:
    their fit, batch_train.py's default memory model), which another GPU's rows or fit would overwrite unseen."""
    return Path(path).resolve() == REPO / name


def fit_output(args: argparse.Namespace) -> Path:
    """The fit's -o, checked before the fit. Without -o it is batch_predict.json beside -d, and a refusal says so:
    a message about an -o the user never gave (`-o RUN/batch_predict.json is inside a training run folder`) does
    not tell them that -d chose it, nor how to choose another."""
    if args.output is not None:
        return _not_memory_csv(check_output(args.output, "-o", [args.data]), "-o")
    default = Path(args.data).parent / "batch_predict.json"
    if _repository_file(default, "batch_predict.json") and not _repository_file(args.data, "batch_data.csv"):
        raise UserError(f"the default -o (batch_predict.json beside -d) {default} is the repository's memory model, "
                        f"the fit of its batch_data.csv that batch_train.py uses by default: give -o FILE for the fit "
                        f"of -d {args.data}")
    try:
        out = check_output(default, "the default -o (batch_predict.json beside -d)", [args.data])
    except UserError as err:
        raise UserError(f"{err}; give -o FILE to choose another") from None
    other = _fitted_data(out)
    if other is not None and Path(other).name != Path(args.data).name:  # a refit of the same CSV may replace it
        raise UserError(f"the default -o (batch_predict.json beside -d) {out} is the fit of another CSV ({other}), "
                        f"which the fit of -d {args.data} would replace: give -o FILE (or -o {out} to replace it)")
    return out


def _not_memory_csv(path: Path, flag: str) -> Path:
    """``path``, refused where it is an existing memory CSV: --measure appends its rows to -o, so ``-o my_gpu.csv``
    typed without --measure (or the measured CSV named as the fit's output) replaced hours of GPU measurements with
    the fit's JSON without a word."""
    if path.is_file() and _is_memory_csv(path):
        raise UserError(f"{flag} {path} is a memory CSV (measured rows), which the fit would replace: give another "
                        f"file name (to fit those rows: -d {path} -o {path.with_suffix('.json')}; to add rows to them: "
                        f"--measure -o {path})")
    return path


def _fitted_data(path: Path) -> str | None:
    """The CSV a memory model JSON at ``path`` records it was fitted on (None: no such file, or not a model)."""
    data = json_or_none(path)
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT or not isinstance(data.get("data"), str):
        return None
    return data["data"]


FIT_FLAGS = {"data": "-d", "alpha": "--alpha", "pickle": "--pickle"}  # read by the fit alone
MEASURE_FLAGS = {name: f"--{name}" for name in ("archs", "batch_sizes", "init_channels", "layers", "num_classes",
                                                 "steps", "drop_path_prob", "resident_images", "amp", "device",
                                                 "gpu")}  # read by --measure alone


def check_mode_flags(args: argparse.Namespace) -> None:
    """Refuse a typed flag that the mode never reads: `--archs DARTS_V2 -o my_gpu.csv` without --measure fitted the
    default -d (its JSON into my_gpu.csv), and `--measure -d my_gpu.csv` appended to the default -o batch_data.csv
    of the folder, each without a word about the flag it ignored."""
    typed = cli.typed_flags(args)
    if typed is None:  # a namespace built in-process: every value in it is meant
        return
    unread = FIT_FLAGS if args.measure else MEASURE_FLAGS
    given = [flag for name, flag in unread.items() if name in typed]
    if not given:
        return
    if args.measure:
        raise UserError(f"{' and '.join(given)} {'are' if len(given) > 1 else 'is'} the fit's, which --measure does "
                        "not read: --measure appends its rows to -o CSV (fit them afterwards with -d CSV)")
    raise UserError(cli.acts_only(given, f"with --measure, and this call fits -d {args.data}: add --measure to "
                                         "measure (its rows go to -o CSV)"))


def main(args: argparse.Namespace) -> dict:
    """Fit the memory model (default) or measure rows (--measure); returns what it printed as a dict."""
    check_mode_flags(args)
    if args.measure:
        return main_measure(args)
    if not 0 < args.alpha < math.inf:
        raise UserError(f"--alpha {args.alpha} must be a finite number > 0")
    try:  # -d first: a missing or wrong input is its own error, not one about the output -d's folder gives
        rows = read_memory_csv(args.data)
    except FileNotFoundError:
        raise UserError(f"-d {args.data}: no such file (the memory CSV with the columns {', '.join(COLUMNS)}, "
                        f"e.g. the repository's batch_data.csv)") from None
    out = fit_output(args)
    if args.pickle:
        if Path(args.pickle).resolve() == out.resolve():  # before check_output, which would call -o an input
            raise UserError(f"--pickle {args.pickle} is the -o file too: give two names")
        _not_memory_csv(check_output(args.pickle, "--pickle", [args.data, out]), "--pickle")
    try:
        record = read_record(args.data)
    except UserError as err:  # the rows still fit; only their origin is unknown
        print(f"warning: {err}; the fit records no measurement environment")
        record = None
    if record is not None and (stale := stale_record(record, args.data, len(rows[1]))):
        print(f"warning: {stale}: it is not the record of these rows; the fit records no measurement environment")
        record = None
    model, pipe = fit_memory_model(args.data, args.alpha, rows, None if record is None else record["sessions"])
    fitted = model.to_dict()
    if _same_fit(out, fitted):  # the tracked batch_predict.json stays as it is (a new "created" only)
        print(f"{out} already holds this fit: left as it is")
    else:
        write_json_atomic(out, fitted)
    fit = model.info["fit"]
    print(f"MAE = {fit['mae']:.2f}, MAX = {fit['max']:.2f}, MAPE = {fit['mape']:.2f}%")
    print(f"leave-one-out MAPE = {fit['loo_mape']:.2f}%")
    if note := thin_data_note(rows[0]):
        print(f"warning: {note}")
    if where := measured_on(model.info):
        print(f"measured on {where} ({record_path(args.data)})")
    print(f"memory model ({model.info['rows']} rows): {out}")
    if args.pickle:
        Path(args.pickle).parent.mkdir(parents=True, exist_ok=True)  # as the JSON's folder is made
        with open(args.pickle, "wb") as f:
            pickle.dump(pipe, f)
        print(f"scikit-learn pipeline: {args.pickle}")
    return {**fit, "output": str(out), "coef": model.coef.tolist(), "intercept": model.intercept}


def check_measure_args(args: argparse.Namespace) -> None:
    """--measure's network and sizes, checked before the device is: a bad one failed inside the first step, on the
    GPU, as a torch traceback (--resident_images -1, --num_classes 0, --layers 1) or BatchNorm's complaint (batch 1,
    which the auxiliary head cannot train)."""
    cli.check_common_args(args)  # --init_channels, --layers
    if not args.batch_sizes or min(args.batch_sizes) < 2:
        raise UserError(f"--batch_sizes {' '.join(map(str, args.batch_sizes))}: each must be >= 2 (the measured "
                        f"training has the auxiliary head, whose last BatchNorm cannot train on one image)")
    if args.steps < 2:  # rows of a lower peak size batches that run out of memory at a training's second step
        raise UserError(f"--steps {args.steps} must be >= 2: the first step allocates SGD's momentum buffers, so only "
                        "from the second on is the peak the one a whole training reaches")
    for flag, value, low in (("--num_classes", args.num_classes, 1), ("--resident_images", args.resident_images, 0)):
        if value < low:
            raise UserError(f"{flag} {value} must be >= {low}")
    if args.drop_path_prob is not None and not 0.0 <= args.drop_path_prob < 1.0:
        raise UserError(f"--drop_path_prob {args.drop_path_prob} must be in [0, 1)")


def main_measure(args: argparse.Namespace) -> dict:
    check_measure_args(args)
    out = args.output or "batch_data.csv"
    if _repository_file(out, "batch_data.csv"):  # rows of another GPU would mix into its fit without a trace
        raise UserError(f"-o {out} is the repository's batch_data.csv, measured on an NVIDIA H200 (batch_predict.json "
                        "is its fit): measure into a CSV of your own (--measure -o my_gpu.csv), fit it with "
                        "-d my_gpu.csv -o my_gpu.json, and train with batch_train.py --batch_model my_gpu.json")
    device = get_device(args.device, args.gpu)
    if device.type != "cuda":
        raise UserError(f"--measure needs a CUDA GPU (peak memory is read from the CUDA caching allocator); "
                        f"the device here is {device}")
    out = check_output(out, "-o")
    logger = get_logger("batch_size_predict")
    specs = args.archs or default_measure_archs()
    rows = measure(specs, args.batch_sizes, device, out, logger=logger, init_channels=args.init_channels,
                   layers=args.layers, num_classes=args.num_classes, steps=args.steps,
                   drop_path_prob=args.drop_path_prob, amp=args.amp, resident_images=args.resident_images)
    logger.info("%d row(s) appended to %s; the GPU, versions and settings they were measured with: %s", len(rows),
                out, record_path(out))
    return {"rows": rows, "output": str(out), "device": torch.cuda.get_device_name(device)}


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
