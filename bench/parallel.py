"""The same sweep one search at a time and several at once: wall time, overlap, validity.

    python bench/parallel.py -o bench/results/cpu-parallel.json   # CPU: digits, 6 searches, 8-10 minutes on 2 cores
    python bench/parallel.py --preset gpu -o gpu-parallel.json    # GPU: the paper's supernet, synthetic CIFAR data
    python bench/parallel.py --preset quick -o quick.json         # the plumbing: tiny searches, seconds each

Each variant runs ``multiobjective.py`` as users run it, in a fresh folder, with the same search flags and
the same number of searches (``--max_searches``); variants run one after another on the same machine.
The ``cpu`` preset compares ``--parallel 1 --threads 1`` (the thesis's sweep, one core), ``--parallel 2``
(two worker processes, a core each) and ``--executor ray --parallel 2`` (two Ray tasks on a local Ray,
left out with a note where Ray is not installed); the ``gpu`` preset ``--parallel 1`` against
``--parallel 4 --per_gpu 4``. For each: wall time of the whole command (imports and worker start-up
included), the most searches that ran at once (from sweep.json's start/finish times), the weights in
order, and the problems :func:`sweep_problems` finds in the sweep folder (none for a valid one).
"""

from __future__ import annotations

import argparse
import json
import os
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
from pareto import non_dominated  # noqa: E402
from utils import device_available, get_device, write_json_atomic  # noqa: E402

NUMBERS = ("reg_loss", "criterion_loss", "train_acc", "valid_acc", "model_size")

PRESETS: dict[str, dict[str, Any]] = {
    # docs/parallel.md's CPU measurement: searches of about 30 s on one core
    "cpu": {
        "sweep": ["-o", "l2", "-d", "0.01", "cifar", "--set", "digits", "--image_size", "8", "--layers", "3",
                  "--init_channels", "8", "--epochs", "8", "--begin", "1", "--batch_size", "64",
                  "--learning_rate", "0.2", "--arch_learning_rate", "0.05", "--weight_decay", "0"],
        "variants": {"parallel_1": ["--parallel", "1", "--threads", "1"],
                     "parallel_2": ["--parallel", "2"],
                     "ray_parallel_2": ["--executor", "ray", "--parallel", "2"]},
        "searches": 6, "device": "cpu", "timeout": 900,
    },
    # the paper's supernet on synthetic CIFAR-sized data, 4 epochs per search (bench/device_check.py)
    "gpu": {
        "sweep": ["-o", "l2", "-d", "0.2", "cifar", "--set", "synthetic", "--layers", "8", "--init_channels", "16",
                  "--batch_size", "64", "--epochs", "4", "--begin", "1", "--weight_decay", "0"],
        "variants": {"parallel_1": ["--parallel", "1"], "parallel_4_per_gpu_4": ["--parallel", "4", "--per_gpu", "4"]},
        "searches": 6, "device": "cuda", "timeout": 150,
    },
    "quick": {
        "sweep": ["-o", "l2", "-d", "0.5", "cifar", "--set", "digits", "--image_size", "8", "--layers", "3",
                  "--init_channels", "4", "--batch_size", "128", "--subsample", "0.3", "--epochs", "2", "--begin", "1",
                  "--weight_decay", "0"],
        "variants": {"parallel_1": ["--parallel", "1", "--threads", "1"], "parallel_2": ["--parallel", "2"]},
        "searches": 2, "device": "cpu", "timeout": 240,
    },
}


def sweep_problems(run_dir: Path) -> list[str]:
    """What is wrong with a finished sweep folder (an empty list for a valid one).

    Every search ended (done or failed) with its times, host and device; each done search's numbers are its
    own result.json's; the front is exactly the non-dominated done searches, sorted by falling CE; and
    genotypes.json and the plots match it.
    """
    try:
        state = json.loads((run_dir / "sweep.json").read_text())
    except (OSError, ValueError) as err:
        return [f"sweep.json: {err}"]
    problems: list[str] = []
    searches = state.get("searches") or []
    if [s.get("index") for s in searches] != list(range(len(searches))):
        problems.append("search indices are not 0, 1, ..")
    done = [s for s in searches if s.get("status") == "done"]
    for s in searches:
        name = f"search {s.get('index')}"
        if s.get("status") not in ("done", "failed"):
            problems.append(f"{name}: status {s.get('status')!r}")
        if s.get("started") is None or s.get("finished") is None or s["started"] > s["finished"]:
            problems.append(f"{name}: started {s.get('started')}, finished {s.get('finished')}")
        if not (s.get("host") and s.get("device")):
            problems.append(f"{name}: no host or device")
        if Path(s.get("run_dir", "")).parent != run_dir:
            problems.append(f"{name}: run folder {s.get('run_dir')} is not in the sweep folder")
        if not (run_dir / f"frontier_{s.get('index', 0):02d}.png").is_file():
            problems.append(f"{name}: no frontier plot")
    for s in done:
        try:
            result = json.loads((Path(s["run_dir"]) / "result.json").read_text())
        except (OSError, ValueError) as err:
            problems.append(f"search {s['index']}: result.json: {err}")
            continue
        problems += [f"search {s['index']}: {key} differs from result.json"
                     for key in (*NUMBERS, "genotype") if s.get(key) != result.get(key)]
    front = state.get("pareto") or []
    optimal = {tuple(done[i]["weight"]) for i in non_dominated([(s["reg_loss"], s["criterion_loss"]) for s in done])}
    if {tuple(p["weight"]) for p in front} != optimal:
        problems.append("the front is not the set of non-dominated searches")
    losses = [p["criterion_loss"] for p in front]
    if losses != sorted(losses, reverse=True):
        problems.append("the front is not sorted by falling CE")
    try:
        if list(json.loads((run_dir / "genotypes.json").read_text())) != [p["name"] for p in front]:
            problems.append("genotypes.json does not list the front")
    except (OSError, ValueError) as err:
        problems.append(f"genotypes.json: {err}")
    if (state.get("estimator") or {}).get("pending"):
        problems.append("weights still pending in the estimator")
    problems += [f"no {name}" for name in ("frontier.png", "losses.png") if not (run_dir / name).is_file()]
    return problems


def most_at_once(searches: list[dict[str, Any]]) -> int:
    """The most searches whose [started, finished] intervals overlap at one moment."""
    ended = [s for s in searches if s.get("started") is not None and s.get("finished") is not None]
    # a finish sorts before a start at the same instant (-1 < 1): a slot freed and taken at once is no overlap
    events = sorted([(s["started"], 1) for s in ended] + [(s["finished"], -1) for s in ended])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def folder_entries(folder: Path) -> set[Path]:
    """What ``folder`` holds now (nothing where it does not exist yet)."""
    return set(folder.iterdir()) if folder.is_dir() else set()


def new_entries(folder: Path, before: set[Path]) -> list[Path]:
    """What ``folder`` holds that it did not in ``before``: the run folders a command made, where a reused --workdir
    keeps earlier commands' too."""
    return sorted(folder_entries(folder) - before)


def run_variant(name: str, flags: list[str], preset: dict[str, Any], work: Path, log: Path, device: str,
                timeout: float) -> dict[str, Any]:
    """One sweep from a fresh folder; its wall time, what sweep.json says, and the folder's problems."""
    logdir = work / name
    # the variant's flags go last, after the subcommand: the parallel flags are taken there too, --threads only there
    cmd = [sys.executable, "multiobjective.py", "--max_searches", str(preset["searches"]), *preset["sweep"],
           "--device", device, "--no_progress", "--logdir", str(logdir), *flags]
    log.parent.mkdir(parents=True, exist_ok=True)
    before = folder_entries(logdir)  # a reused --workdir holds earlier sweeps
    t0 = time.perf_counter()
    with log.open("a") as f:
        f.write(f"\n===== {name}: {' '.join(cmd)}\n")
        f.flush()
        try:
            rc: int | None = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout,
                                            cwd=ROOT).returncode
        except subprocess.TimeoutExpired:
            rc = None
    rec: dict[str, Any] = {"flags": flags, "rc": rc, "timed_out": rc is None,
                           "wall_s": round(time.perf_counter() - t0, 2)}
    sweeps = sorted(p for d in new_entries(logdir, before) for p in d.glob("**/sweep.json"))
    if not sweeps:
        rec["problems"] = ["no sweep.json"]
        return rec
    run_dir = sweeps[-1].parent
    state = json.loads(sweeps[-1].read_text())
    searches = state.get("searches", [])
    timed = [s for s in searches if s.get("started") is not None and s.get("finished") is not None]
    rec.update(
        run_dir=str(run_dir), parallel=state.get("parallel"),
        completed=sum(s.get("status") == "done" for s in searches),
        most_at_once=most_at_once(searches), pareto=len(state.get("pareto") or []),
        searches=[{k: s.get(k) for k in ("index", "weight", "status", "started", "finished", "device")}
                  for s in searches],
        problems=sweep_problems(run_dir))
    if timed:
        rec["searches_span_s"] = round(max(s["finished"] for s in timed) - min(s["started"] for s in timed), 2)
        rec["search_s_median"] = round(statistics.median(s["finished"] - s["started"] for s in timed), 2)
    return rec


def run_preset(preset: dict[str, Any], work: Path, log: Path, device: str | None = None,
               timeout: float | None = None, variants: list[str] | None = None) -> dict[str, Any]:
    """Every variant of a preset in turn; the first is the baseline of the ``speedup`` ratios."""
    device = device or preset["device"]
    timeout = timeout or preset["timeout"]
    res: dict[str, Any] = {"sweep": preset["sweep"], "searches": preset["searches"], "device": device, "variants": {}}
    names = variants or list(preset["variants"])
    for name in names:
        flags = preset["variants"][name]
        if "ray" in flags and not ray_available():
            res["variants"][name] = {"flags": flags,
                                     "skipped": "Ray is not installed (pip install -r requirements-ray.txt)"}
            print(f"{name}: skipped, Ray is not installed", flush=True)
            continue
        print(f"{name}: {' '.join(flags)}", flush=True)
        rec = run_variant(name, flags, preset, work, log, device, timeout)
        print(f"  {rec['wall_s']:.1f} s, rc {rec['rc']}, {rec.get('completed', 0)} done, "
              f"at most {rec.get('most_at_once', 0)} at once, problems: {rec.get('problems') or 'none'}", flush=True)
        res["variants"][name] = rec
    ran = {n: r for n, r in res["variants"].items() if r.get("rc") == 0}
    base = ran.get(names[0])
    if base is not None:
        res["speedup"] = {n: round(base["wall_s"] / r["wall_s"], 3) for n, r in ran.items() if n != names[0]}
        order = [s["weight"] for s in base["searches"]]
        res["same_weights_as_baseline"] = {n: [s["weight"] for s in r["searches"]] == order
                                           for n, r in ran.items() if n != names[0]}
    tried = [r for r in res["variants"].values() if "skipped" not in r]
    res["valid"] = bool(tried) and all(r.get("rc") == 0 and not r.get("problems") for r in tried)
    return res


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's flags (a function of its own: tests/test_docs.py parses the documented commands)."""
    p = cli.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=cli.HelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu",
                   help="cpu: digits, 6 searches, --parallel 1/2 and Ray; gpu: the paper's supernet, --parallel 1 "
                        "and 4 per GPU; quick: 2 tiny searches")
    p.add_argument("-o", "--output", required=True, help="the JSON file to write")
    p.add_argument("--variants", nargs="+", default=None, help="run only these variants of the preset")
    p.add_argument("--device", default=None, help="the preset's own by default (cpu, or cuda for --preset gpu)")
    p.add_argument("--workdir", default=None, help="sweep folders and their log (default: a new temporary folder)")
    return p


def main() -> int:
    p = build_parser()
    args = p.parse_args()
    preset = PRESETS[args.preset]
    unknown = sorted(set(args.variants or []) - set(preset["variants"]))
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; --preset {args.preset} has {', '.join(preset['variants'])}")
    try:  # without the device every variant would fail in turn, minutes each, and the summary record only that
        get_device(args.device or preset["device"])
    except ValueError as e:
        device = args.device or preset["device"]
        if args.preset == "gpu" and device.startswith("cuda") and not device_available("cuda"):
            # get_device's "(try --device auto or cpu)" would run the paper's supernet on a CPU, for hours
            p.error(f"--preset gpu runs on --device {device}, and CUDA is not available here: --preset cpu or quick "
                    "runs on the CPU")
        p.error(str(e))
    out = Path(args.output)
    if out.exists():
        p.error(f"{out} exists: give another -o (results are never overwritten)")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench_parallel_"))
    import torch

    summary: dict[str, Any] = {
        "preset": args.preset, "argv": sys.argv, "date": time.strftime("%Y-%m-%d"), "host": platform.node(),
        "python": platform.python_version(), "torch": torch.__version__, "cores": len(os.sched_getaffinity(0)),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "workdir": str(work),
    }
    t0 = time.perf_counter()
    summary.update(run_preset(preset, work, work / "sweeps.log", args.device, variants=args.variants))
    summary["elapsed_s"] = round(time.perf_counter() - t0, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, summary)
    print(f"speedup over {next(iter(summary['variants']))}: {summary.get('speedup')}; valid: {summary['valid']}; "
          f"-> {out}")
    return 0 if summary["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
