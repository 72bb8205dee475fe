"""One run on a GPU machine: the step timings, the scripts' speed levers and the parallel sweep, at once.

    python bench/device_check.py -o OUT --parts speed                  # on the GPU: at most 260 s
    python bench/device_check.py -o OUT --parts search train sweep     # then at most 9.3 minutes
    python bench/device_check.py --quick -o OUT      # the same plumbing at tiny sizes on a CPU (a few minutes)

Parts (each a subprocess under its own time limit, so one failure leaves the others' results):

1. ``speed``: ``bench/speed.py --parity`` (the faithful eager steps against every lever, and the parity run).
2. ``search``: ``train_search.py`` as users run it, the faithful eager fp32 path (``--no-fused``) against
   ``--cuda_graphs`` and ``--cuda_graphs --amp bf16`` (both with the fused default), on synthetic
   CIFAR-sized data (2,000 images; batch 250 so that no short batch runs outside the graph): seconds per
   epoch from metrics.csv, the final losses and the genotype from result.json. Same seed and batches:
   the losses should agree to rounding.
3. ``train``: ``train.py`` the same way (PC_DARTS_cifar, C=36, 20 layers, auxiliary, batch 100: 20 steps an
   epoch, so the per-epoch capture weighs more than it would over CIFAR's 500).
4. ``sweep``: ``bench/parallel.py``'s ``gpu`` preset: ``multiobjective.py`` with ``--parallel 1`` and with
   ``--parallel 4 --per_gpu 4``, the same number of searches (``--max_searches``), wall time of each, the
   searches' start/finish times from sweep.json and the sweep folders' validity.

OUT receives three files (a device machine hands back a few small files only): ``device_check.json`` (the
summary, rewritten after each part), ``speed.json`` and ``device_check.log`` (every command's output in
turn). Run folders and per-run logs stay in ``--workdir`` (a temporary folder by default). A second command
into the same OUT (the two above) adds its parts to the summary and its output to the log; a part that OUT
already holds, or a check of another mode or device, is refused, so that no result is overwritten.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cli  # noqa: E402
from bench import parallel  # noqa: E402
from utils import device_available, get_device, json_or_none, write_json_atomic  # noqa: E402

PARTS = ("speed", "search", "train", "sweep")

# Sizes: the paper's supernet and evaluation network on the GPU; tiny ones with --quick (CPU plumbing).
FULL = {
    "search": ["--set", "synthetic", "--layers", "8", "--init_channels", "16", "--batch_size", "250",
               "--epochs", "4", "--begin", "1", "-l1", "1e-4"],
    "train": ["--set", "synthetic", "--arch", "PC_DARTS_cifar", "--init_channels", "36", "--layers", "20",
              "--auxiliary", "--batch_size", "100", "--epochs", "3"],
    "search_variants": {"faithful": ["--no-fused"], "graphs": ["--cuda_graphs"],
                        "graphs_bf16": ["--cuda_graphs", "--amp", "bf16"]},
    "train_variants": {"faithful": [], "graphs": ["--cuda_graphs"], "graphs_bf16": ["--cuda_graphs", "--amp", "bf16"]},
    "sweep": "gpu",  # bench/parallel.py's preset
    "speed": ["--parity"],
    # per command; search + train + sweep stay under the device's 600 s per call
    "timeouts": {"speed": 260, "search": 45, "train": 40, "sweep": 150},
}
QUICK = {
    "search": ["--set", "digits", "--image_size", "8", "--layers", "3", "--init_channels", "4", "--batch_size", "128",
               "--subsample", "0.3", "--epochs", "2", "--begin", "1", "-l1", "1e-4", "--threads", "1"],
    "train": ["--set", "digits", "--image_size", "8", "--arch", "PC_DARTS_cifar", "--init_channels", "4", "--layers",
              "3", "--batch_size", "128", "--subsample", "0.3", "--epochs", "1", "--threads", "1"],
    "search_variants": {"faithful": ["--no-fused"], "fused": [], "channels_last": ["--channels_last"]},
    "train_variants": {"faithful": [], "channels_last": ["--channels_last"]},
    "sweep": "quick",
    "speed": ["--quick", "--benchmarks", "weight_step", "--levers", "fused"],
    "timeouts": {"speed": 200, "search": 120, "train": 120, "sweep": 240},
}


def run(cmd: list[str], log: Path, timeout: float, combined: Path) -> dict[str, Any]:
    """Run a command with its output in ``log`` (then appended to ``combined``); wall time, exit status,
    and whether it timed out."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with log.open("w") as f:
        f.write(" ".join(cmd) + "\n")
        f.flush()
        try:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout, cwd=ROOT).returncode
            timed_out = False
        except subprocess.TimeoutExpired:
            rc, timed_out = None, True
    with combined.open("a") as f:
        f.write(f"\n===== {log.name} (exit {rc}{', timed out' if timed_out else ''}) =====\n")
        f.write(log.read_text(errors="replace"))
    return {"rc": rc, "timed_out": timed_out, "wall_s": round(time.perf_counter() - t0, 2), "log": str(log)}


def tail(path: Path, n: int = 3) -> list[str]:
    try:
        return path.read_text(errors="replace").strip().splitlines()[-n:]
    except OSError:
        return []


def one_run_dir(logdir: Path, before: set[Path] | None = None) -> Path | None:
    """The one run folder in ``logdir`` that is not in ``before`` (a reused --workdir holds earlier runs' folders)."""
    dirs = [p for p in parallel.new_entries(logdir, before or set()) if p.is_dir()]
    return dirs[0] if len(dirs) == 1 else None


def epoch_times(run_dir: Path) -> list[float]:
    with (run_dir / "metrics.csv").open() as f:
        return [float(r["epoch_time"]) for r in csv.DictReader(f) if r.get("epoch_time")]


def rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return abs(a - b) / max(abs(b), 1e-12)


def script_part(kind: str, sizes: dict[str, Any], work: Path, device: str, timeout: float,
                combined: Path) -> dict[str, Any]:
    """Each variant of train_search.py / train.py from a fresh folder; times and results side by side."""
    script = "train_search.py" if kind == "search" else "train.py"
    variants = sizes[f"{kind}_variants"]
    res: dict[str, Any] = {}
    for name, flags in variants.items():
        logdir = work / kind / name
        cmd = [sys.executable, script, *sizes[kind], "--device", device, "--no_progress", "--report_lines", "1",
               "--logdir", str(logdir), *flags]
        before = parallel.folder_entries(logdir)
        rec: dict[str, Any] = {"flags": flags, **run(cmd, work / kind / f"{name}.log", timeout, combined)}
        run_dir = one_run_dir(logdir, before) if logdir.is_dir() else None
        if rec["rc"] == 0 and run_dir is not None and (run_dir / "result.json").is_file():
            result = json.loads((run_dir / "result.json").read_text())
            times = epoch_times(run_dir)
            rec["epoch_s"] = times
            # the last two epochs: after the weight-only epochs and after each graph's capture
            rec["epoch_s_steady"] = statistics.median(times[-2:])
            keys = (("criterion_loss", "train_loss", "valid_loss", "genotype") if kind == "search"
                    else ("train_loss", "train_acc", "test_loss", "test_acc"))
            rec.update({k: result.get(k) for k in keys})
        else:
            rec["error"] = tail(Path(rec["log"]))
        res[name] = rec
    base = res.get("faithful", {})
    for name, rec in res.items():
        if name == "faithful" or "epoch_s_steady" not in rec or "epoch_s_steady" not in base:
            continue
        rec["speedup_vs_faithful"] = round(base["epoch_s_steady"] / rec["epoch_s_steady"], 3)
        loss_key = "criterion_loss" if kind == "search" else "train_loss"
        rec[f"{loss_key}_rel_diff"] = rel(rec.get(loss_key), base.get(loss_key))
        if kind == "search":
            rec["genotype_equal"] = rec.get("genotype") == base.get("genotype")
    return res


def environment() -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                           "date": time.strftime("%Y-%m-%d"), "host": platform.node()}
    if torch.cuda.is_available():
        env.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                   gpus=torch.cuda.device_count())
    return env


def build_parser() -> argparse.ArgumentParser:
    """The check's flags (a function of its own: tests/test_docs.py parses the documented commands)."""
    p = cli.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", required=True, help="folder for the summary, the logs and the run folders")
    p.add_argument("--quick", action="store_true", help="tiny sizes on the CPU (checks the plumbing)")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--device", default=None, help="cuda (default) or cpu (--quick's default)")
    p.add_argument("--workdir", default=None,
                   help="run folders and per-run logs (default: a new temporary folder); OUT gets three files")
    return p


def main() -> int:
    p = build_parser()
    args = p.parse_args()
    sizes = QUICK if args.quick else FULL
    device = args.device or ("cpu" if args.quick else "cuda")
    out = Path(args.output)
    mode = "quick" if args.quick else "full"
    summary_path = out / "device_check.json"
    # OUT may hold an earlier command's parts (--parts speed, then --parts search train sweep): they are kept
    earlier = json_or_none(summary_path) if summary_path.exists() else {}
    if not isinstance(earlier, dict) or earlier and (earlier.get("mode"), earlier.get("device")) != (mode, device):
        p.error(f"{summary_path} holds another check (not a {mode} one on {device}): give another -o")
    again = sorted(set(args.parts) & set(earlier.get("parts") or {}))
    if "speed" in args.parts and (out / "speed.json").exists():
        again = sorted({*again, "speed"})
    if again:
        p.error(f"{out} already holds the results of --parts {' '.join(again)}: give another -o "
                "(results are never overwritten)")
    try:  # without the device every part would only record its failure, and OUT would then refuse the rerun
        get_device(device)
    except ValueError as e:
        if not args.quick and device.startswith("cuda") and not device_available("cuda"):
            # get_device's "(try --device auto or cpu)" would run the paper's sizes on a CPU, for hours
            p.error(f"the full check runs on --device {device}, and CUDA is not available here: --quick runs the "
                    "same plumbing on the CPU at tiny sizes")
        p.error(str(e))
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"mode": mode, "device": device, "env": environment(), "argv": sys.argv,
                               "parts": dict(earlier.get("parts") or {}), "complete": False}
    if earlier:
        summary["earlier_argv"] = [*earlier.get("earlier_argv", []), earlier.get("argv")]
    # The device hands back a few small files only: run folders (weights, checkpoints) stay in workdir.
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="device_check_"))
    work.mkdir(parents=True, exist_ok=True)
    combined = out / "device_check.log"
    summary["workdir"] = str(work)
    t0 = time.perf_counter()
    for part in dict.fromkeys(args.parts):  # a part named twice runs once: a second run would replace its record
        print(f"[{time.perf_counter() - t0:6.1f}s] {part}", flush=True)
        timeout = sizes["timeouts"][part]
        try:
            if part == "speed":
                cmd = [sys.executable, "bench/speed.py", *sizes["speed"], "--device", device,
                       "--budget", str(timeout - 60), "-o", str(out / "speed.json")]
                rec = run(cmd, work / "speed.log", timeout, combined)
                if (out / "speed.json").is_file():
                    speed = json.loads((out / "speed.json").read_text())
                    rec["ratios"] = speed.get("ratios")
                    rec["parity_ok"] = (speed.get("parity") or {}).get("ok")
                summary["parts"][part] = rec
            elif part in ("search", "train"):
                summary["parts"][part] = script_part(part, sizes, work, device, timeout, combined)
            else:
                summary["parts"][part] = parallel.run_preset(parallel.PRESETS[sizes["sweep"]], work / "sweep", combined,
                                                             device, timeout)
        except Exception as e:  # noqa: BLE001 - a part that breaks must not cost the others
            summary["parts"][part] = {"error": f"{type(e).__name__}: {e}"}
        summary["elapsed_s"] = round(time.perf_counter() - t0, 1)
        write_json_atomic(summary_path, summary)
    summary["complete"] = True
    write_json_atomic(summary_path, summary)
    print(json.dumps(summary["parts"], indent=1, default=str)[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
