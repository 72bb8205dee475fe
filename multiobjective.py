"""The MOOD-NAS sweep: one PC-DARTS search per penalty weight nu, chosen by NISE, filling the front.

    python multiobjective.py -o l2 cifar --set cifar10 --weight_decay 0.0
    python multiobjective.py -o l1 cifar --set cifar100 --weight_decay 3e-4
    python multiobjective.py -o l1 imagenet --weight_decay 3e-4
    python multiobjective.py --resume logs/multi-search-cifar10-EXP-20260101-120000   # continue a killed sweep

Each search minimises cw * CE + nu * R(w) with (nu, cw) summing to 1 and R = sum|w| (l1) or sum w^2
(l2). After each search the sweep folder ``logs/multi-search-<set>-<save>-<time>/`` gets an updated
sweep.json and frontier_NN.png; at the end, genotypes.json (name -> genotype of every Pareto-optimal
search, readable by --arch/--archs) and losses.png. Each search keeps its own run folder inside.
"""

from __future__ import annotations

import argparse
import copy
import socket
import sys
import time
from pathlib import Path
from typing import Any

import cli
import data as datalib
import train_search
from genotypes import genotype_from_dict
from pareto import WeightEstimator, default_reference, format_weight_name, hypervolume_2d, sweep_name
from plots import plot_frontier, plot_losses
from utils import (
    UserError,
    create_run_dir,
    get_device,
    get_logger,
    read_json,
    run_main,
    save_args,
    write_json_atomic,
)

RESULT_KEYS = ("reg_loss", "criterion_loss", "train_acc", "valid_acc", "model_size", "genotype")


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        description="Sweep the penalty weight nu with NISE: one PC-DARTS search per weight.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("-o", "--objective", choices=["l1", "l2"], help="the penalty R: l1 = sum|w|, l2 = sum w^2")
    parser.add_argument("-d", "--delta", type=float, default=0.15,
                        help="stop when the widest unvisited gap of the normalised front is at most delta")
    parser.add_argument("--resume", dest="sweep_resume", default=None, metavar="RUN_DIR",
                        help="continue the sweep in this folder (its sweep.json)")
    sub = parser.add_subparsers(dest="space", metavar="{cifar,imagenet}")
    for name, variant, help_ in (("cifar", "cifar", "search on CIFAR-10/100 (and digits, synthetic, folder)"),
                                 ("imagenet", "imagenet", "search the ImageNet variant on <data>/imagenet_search")):
        p = sub.add_parser(name, help=help_, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        train_search.add_arguments(p, variant)
    return parser


def search_args(args: argparse.Namespace, weight: tuple[float, float], run_dir: Path) -> argparse.Namespace:
    """The arguments of the search for one weight: the sweep's search flags with this nu and cw."""
    nu, cw = weight
    s = copy.copy(args)
    s.l1_weight = nu if args.objective == "l1" else -1.0
    s.l2_weight = nu if args.objective == "l2" else -1.0
    s.criterion_weight = cw
    s.imagenet = args.space == "imagenet"
    s.resume = str(run_dir) if (run_dir / "args.json").is_file() else None
    s.run_dir = str(run_dir)
    return s


class Sweep:
    """The sweep's state on disk (sweep.json) and the estimator that proposes its weights."""

    def __init__(self, args: argparse.Namespace, run_dir: Path, logger: Any):
        self.args = args
        self.run_dir = run_dir
        self.logger = logger
        self.estimator = WeightEstimator(args.delta)
        self.searches: list[dict[str, Any]] = []
        self.pareto: list[dict[str, Any]] = []
        self.hypervolume: dict[str, Any] | None = None

    # ---------------------------------------------------------------- persistence
    def state(self) -> dict[str, Any]:
        saved_args = {k: v for k, v in vars(self.args).items() if k not in ("sweep_resume", "resume", "run_dir")}
        return {
            "objective": self.args.objective, "delta": self.args.delta, "space": self.args.space,
            "args": saved_args, "searches": self.searches, "pareto": self.pareto,
            "hypervolume": self.hypervolume, "estimator": self.estimator.state_dict(),
        }

    def save(self) -> None:
        write_json_atomic(self.run_dir / "sweep.json", self.state())

    def replay(self, searches: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Rebuild the estimator from the recorded searches, in order, as they were proposed.

        Returns the search that was running when the sweep stopped (it is resumed, not restarted).
        """
        for record in searches:
            weight = self.estimator.get_next() if self.estimator.has_next() else None
            if weight is None or abs(weight[0] - record["weight"][0]) > 1e-12:
                raise UserError(f"{self.run_dir}/sweep.json does not replay: it was made by other settings")
            self.searches.append(record)
            if record["status"] == "done":
                self.estimator.set_result(record, weight)
            elif record["status"] == "failed":
                self.estimator.discard(weight)
            else:
                return record
        return None

    # ---------------------------------------------------------------- one search
    def run_one(self, weight: tuple[float, float], record: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the search for ``weight``; with ``record`` (an interrupted one), continue it in its folder."""
        nu = weight[0]
        if record is None:
            index = len(self.searches)
            record = {"index": index, "weight": [nu, weight[1]],
                      "run_dir": str(self.run_dir / f"search-{index:02d}-nu{nu:.3g}")}
            self.searches.append(record)
        index, run_dir = record["index"], Path(record["run_dir"])
        record.update(status="running", started=time.time(), finished=None, host=socket.gethostname(),
                      device=str(get_device(self.args.device, self.args.gpu)))
        self.save()
        self.logger.info("search %d: nu = %.6g, cw = %.6g -> %s", index, nu, weight[1], run_dir)
        try:
            result = train_search.main(search_args(self.args, weight, run_dir))
        except (train_search.SearchDiverged, FloatingPointError, RuntimeError) as err:
            record.update(status="failed", error=" ".join(str(err).split())[:500], finished=time.time())
            self.estimator.discard(weight)
            self.logger.info("search %d failed: %s", index, record["error"])
        else:
            record.update({k: result.get(k) for k in RESULT_KEYS}, status="done", finished=time.time())
            self.estimator.set_result(record, weight)
            self.logger.info("search %d: CE %.4f, R %.4g, eval size %.3fM", index, record["criterion_loss"],
                             record["reg_loss"], record["model_size"])
        self.update_front()
        self.save()
        plot_frontier(self.searches, self.pareto, self.args.objective,
                      self.run_dir / f"frontier_{index:02d}.png")
        return record

    def update_front(self) -> None:
        optimal = [r for _, r in self.estimator.optimal_results]
        names = format_weight_name([r["weight"][0] for r in optimal])
        self.pareto = [
            {"name": sweep_name(self.args.objective, r["weight"][0], n, self.args.weight_decay, self.args.set),
             "weight": r["weight"], "reg_loss": r["reg_loss"], "criterion_loss": r["criterion_loss"],
             "model_size": r["model_size"], "genotype": r["genotype"], "run_dir": r["run_dir"]}
            for r, n in zip(optimal, names)
        ]
        points = [(r["reg_loss"], r["criterion_loss"]) for r in self.pareto]
        if points:
            ref = default_reference([(s["reg_loss"], s["criterion_loss"]) for s in self.searches
                                     if s["status"] == "done"])
            self.hypervolume = {"value": hypervolume_2d(points, ref), "reference": list(ref)}

    def run(self) -> dict[str, Any]:
        while self.estimator.has_next():
            self.run_one(self.estimator.get_next())
        return self.finish()

    def finish(self) -> dict[str, Any]:
        genotypes = {p["name"]: p["genotype"] for p in self.pareto}
        write_json_atomic(self.run_dir / "genotypes.json", genotypes)
        plot_losses(self.searches, self.args.objective, self.run_dir / "losses.png")
        final = plot_frontier(self.searches, self.pareto, self.args.objective, self.run_dir / "frontier.png")
        self.save()
        self.logger.info("sweep done: %d searches, %d Pareto-optimal", len(self.searches), len(self.pareto))
        for p in self.pareto:
            self.logger.info("%s: nu = %.6g, CE %.4f, R %.4g, %.3fM params, genotype = %s", p["name"], p["weight"][0],
                             p["criterion_loss"], p["reg_loss"], p["model_size"], genotype_from_dict(p["genotype"]))
        if self.hypervolume:
            self.logger.info("hypervolume %.6g (reference point %s)", self.hypervolume["value"],
                             self.hypervolume["reference"])
        self.logger.info("frontier plot: %s", final)
        self.logger.info("genotypes: %s", self.run_dir / "genotypes.json")
        return self.state()


def check_dataset(args: argparse.Namespace) -> None:
    """Fail before the sweep folder exists if the data is missing (one line, nothing written)."""
    if args.space == "imagenet":
        datalib.load_imagenet_search(args.data, image_size=args.image_size)
    else:
        datalib.load_datasets(args.set, args.data, download=args.download, image_size=args.image_size)


def _resume(args: argparse.Namespace) -> tuple[argparse.Namespace, Path, list[dict[str, Any]]]:
    run_dir = Path(args.sweep_resume)
    if run_dir.name in ("log.txt", "sweep.json"):
        run_dir = run_dir.parent
    state_file = run_dir / "sweep.json"
    if not state_file.is_file():
        raise UserError(f"--resume {run_dir}: not a sweep folder (no sweep.json)")
    try:
        state = read_json(state_file)
        saved = argparse.Namespace(**state["args"])
        searches = state["searches"]
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"--resume {run_dir}: sweep.json is not a sweep state ({err})") from None
    for key in ("device", "gpu", "no_progress", "workers", "threads"):
        if getattr(args, key, None) is not None and args.space is not None:
            setattr(saved, key, getattr(args, key))
    saved.sweep_resume = str(run_dir)
    return saved, run_dir, searches


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Run (or resume) a sweep; returns the sweep state that sweep.json holds."""
    if getattr(args, "resume", None) and not args.sweep_resume:
        args.sweep_resume = args.resume  # `multiobjective.py -o l2 cifar --resume DIR` means the sweep
    searches: list[dict[str, Any]] = []
    if args.sweep_resume:
        args, run_dir, searches = _resume(args)
    else:
        if args.objective is None or args.space is None:
            raise UserError("give an objective and a search space, e.g. `multiobjective.py -o l2 cifar --set digits`")
        if not args.delta > 0:
            raise UserError(f"--delta must be > 0, got {args.delta}")
        cli.check_common_args(args)
        if args.space == "imagenet":
            args.set = "imagenet"
        device = get_device(args.device, args.gpu)
        check_dataset(args)
        run_dir = create_run_dir(f"multi-search-{args.set}", args.save, args.logdir)
        save_args(args, run_dir, device)
    logger = get_logger(f"sweep.{run_dir.name}", run_dir)
    sweep = Sweep(args, run_dir, logger)
    logger.info("sweep %s: objective %s, delta %g, folder %s", args.save, args.objective, args.delta, run_dir)
    interrupted = sweep.replay(searches) if searches else None
    if searches:
        logger.info("resuming: %d searches recorded", len(sweep.searches))
    sweep.update_front()
    if interrupted is not None:
        sweep.run_one(tuple(interrupted["weight"]), interrupted)
    return sweep.run()


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
