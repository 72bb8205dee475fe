"""The MOOD-NAS sweep: one PC-DARTS search per penalty weight nu, chosen by NISE, filling the front.

    python multiobjective.py -o l2 cifar --set cifar10 --weight_decay 0.0
    python multiobjective.py -o l1 cifar --set cifar100 --weight_decay 3e-4
    python multiobjective.py -o l1 imagenet --weight_decay 3e-4
    python multiobjective.py --resume logs/multi-search-cifar10-EXP-20260101-120000   # continue a killed sweep
    python multiobjective.py -o l2 --parallel 4 cifar --set cifar10                    # 4 at once, on every GPU
    python multiobjective.py -o l2 --parallel 8 --executor ray --ray_address HOST:6379 cifar --set cifar10

Each search's weight step minimises cw * CE + nu * R(w) with (nu, cw) summing to 1 and R = sum|w| (l1) or
sum w^2 (l2); its architecture step the held-out CE alone, as the original's. With -o params, flops or
latency the search's architecture step minimises cw * CE + nu * R(alpha, beta) / R_ref instead, R the
expected cost of the evaluation network (cost.py), and the front is drawn in the derived network's real cost
(docs/objectives.md).
After each search the sweep folder ``logs/multi-search-<set>-<save>-<time>/`` gets an updated
sweep.json and frontier_NN.png; at the end, genotypes.json (name -> genotype of every Pareto-optimal
search, readable by --arch/--archs), their cell diagrams (cells/<name>_normal.png, _reduction.png)
and losses.png. Each search keeps its own run folder inside.

``--parallel K`` runs up to K searches at once (NISE proposes the K widest unvisited gaps): as
child processes spread over the GPUs or the CPU, or as Ray tasks (executors.py). With K = 1 and no
executor named, the searches run one after another in this process, exactly as in the thesis.
"""

from __future__ import annotations

if __name__ == "__main__":  # before torch's imports: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import argparse
import copy
import math
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

import cli
import cost as costlib
import executors
import train_search
from genotypes import genotype_from_dict
from pareto import (
    WeightEstimator,
    beyond_front_end,
    default_reference,
    format_weight_name,
    front_ce,
    front_ce_key,
    front_ce_name,
    hypervolume_2d,
    sweep_name,
)
from plots import draw_or_warn, plot_frontier, plot_losses
from utils import (
    RunFailed,
    UserError,
    check_resumed_split,
    create_run_dir,
    data_recorded_in,
    get_device,
    get_logger,
    load_run_args,
    lock_run_dir,
    logs_released,
    portable_args,
    read_json,
    rebase_run_dirs,
    resumable,
    resume_command,
    resume_folder_error,
    run_folder_kind,
    run_main,
    save_args,
    shell_command,
    shell_word,
    sweep_state_problem,
    write_json_atomic,
)
from visualize import write_sweep_cells

SWEEP_TABLE = "latency_table.json"  # a latency sweep's own copy of --latency_table, in its folder
RESULT_KEYS = ("reg_loss", "criterion_loss", "valid_loss", "train_acc", "valid_acc", "model_size", "genotype")
# Sweep flags that a resumed sweep may change (how and where it runs, not what it computes).
PARALLEL_KEYS = ("parallel", "executor", "gpus", "per_gpu", "ray_address", "max_searches")


def add_parallel_args(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """--parallel and friends; on the subcommands too (``suppress``), so that they may follow it."""
    d = argparse.SUPPRESS if suppress else None
    g = parser.add_argument_group("parallel sweeps (the defaults keep the sweep sequential, in this process)")
    g.add_argument("--parallel", type=int, default=d, metavar="K",
                   help="run up to K searches at once (default 1)")
    g.add_argument("--executor", choices=["local", "ray"], default=d,
                   help="local: worker processes on this machine (the default for K > 1); "
                        "ray: each search a Ray task (pip install -r requirements-ray.txt)")
    g.add_argument("--gpus", default=d, metavar="0,1,..",
                   help="local executor: the GPUs to spread the searches over (default: all visible)")
    g.add_argument("--per_gpu", type=int, default=d, metavar="M",
                   help="searches sharing one GPU (default: the K searches spread evenly over the GPUs); "
                        "Ray tasks ask for num_gpus = 1/M")
    g.add_argument("--ray_address", default=d, metavar="ADDR",
                   help="with --executor ray: the cluster to join (default, or 'local': start Ray on this machine)")
    g.add_argument("--max_searches", type=int, default=d, metavar="N",
                   help="stop after N searches even if NISE has not converged (default: no limit)")


class SweepParser(cli.ArgumentParser):
    """The sweep's parser: a search flag given before the subcommand gets a one-line error that says where it goes.

    (argparse would take the flag for an unknown one and its value for the subcommand: "invalid choice: '1'".)
    """

    search_flags: frozenset[str] = frozenset()
    sweep_flags: frozenset[str] = frozenset()  # the sweep's own (-o, -d), which a subcommand does not take
    subcommand_flags: frozenset[str] = frozenset()  # every flag a subcommand takes (the parallel ones too)
    per_search_flags: frozenset[str] = frozenset()  # train_search.py's weights, which the sweep sets for each search

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        argv = sys.argv[1:] if args is None else list(args)
        taken = self.subcommand_flags | set(self._option_string_actions)
        for token in argv:  # argparse called them unrecognized, as if the sweep had no use for a weight
            flag = token.split("=", 1)[0]
            full = self._flag_named(flag, self.per_search_flags, taken)
            if full is not None:
                named = flag if full == flag else f"{flag} ({full})"
                self.error(f"{named} is set by the sweep for each search (NISE picks nu and cw, -o what nu weighs): "
                           "leave it out")
        spaces = [i for i, a in enumerate(argv) if a in ("cifar", "imagenet")
                  and not (i and argv[i - 1] == "--resume")]  # a sweep folder named cifar is no subcommand
        for token in argv[:spaces[0]] if spaces else argv:
            flag = token.split("=", 1)[0]
            full = self._flag_named(flag, self.search_flags, self._option_string_actions)
            if full is not None:
                named = flag if full == flag else f"{flag} ({full})"
                where = repr(argv[spaces[0]]) if spaces else "(cifar or imagenet; after --resume DIR too: " \
                    f"--resume DIR cifar {flag} ...)"
                self.error(f"{named} is a search flag: give it after the subcommand {where}")
        for token in argv[spaces[0] + 1:] if spaces else []:
            flag = token.split("=", 1)[0]
            full = self._flag_named(flag, self.sweep_flags, self.subcommand_flags)
            if full is not None:
                named = flag if full == flag else f"{flag} ({full})"
                self.error(f"{named} is the sweep's flag: give it before the subcommand {argv[spaces[0]]!r} "
                           f"(multiobjective.py -o l2 {argv[spaces[0]]} --set ...)")
        return super().parse_known_args(argv, namespace)

    def _flag_named(self, flag: str, flags: Iterable[str], taken: Iterable[str]) -> str | None:
        """The flag of ``flags`` that ``flag`` names, abbreviated too as argparse allows (``--epoch`` is --epochs),
        unless the parser the token reaches takes it (one of ``taken`` starts with it): else that parser would
        call it unknown ("unrecognized arguments") or take its value for the subcommand ("invalid choice: '3'")."""
        if flag in flags:
            return flag
        if not (self.allow_abbrev and flag.startswith("--")) or any(f.startswith(flag) for f in taken):
            return None
        matches = sorted(f for f in flags if f.startswith(flag))
        return matches[0] if len(matches) == 1 else (flag if matches else None)


def build_parser() -> argparse.ArgumentParser:
    parser = SweepParser(
        description="Sweep the penalty weight nu with NISE: one PC-DARTS search per weight.",
        formatter_class=cli.HelpFormatter,
    )
    parser.add_argument("-o", "--objective", choices=["l1", "l2", *costlib.COSTS],
                        help="required for a new sweep (a resumed one keeps its own), before the subcommand. R: l1 = "
                             "sum|w|, l2 = sum w^2 (weight penalties); params, flops, latency = the expected cost of "
                             "the evaluation network on the architecture step (docs/objectives.md)")
    parser.add_argument("-d", "--delta", type=float, default=0.15,
                        help="stop when the widest unvisited gap of the normalised front is at most delta")
    parser.add_argument("--resume", dest="sweep_resume", default=None, metavar="RUN_DIR",
                        help="continue the sweep in this folder (its sweep.json)")
    add_parallel_args(parser)
    weights = argparse.ArgumentParser(add_help=False)  # only to name train_search.py's weight flags
    cli.add_penalty_args(weights)
    costlib.add_cost_args(weights)
    parser.per_search_flags = frozenset(weights._option_string_actions)
    sub = parser.add_subparsers(dest="space", metavar="{cifar,imagenet}")
    for name, variant, help_ in (("cifar", "cifar", "search on CIFAR-10/100 (and digits, synthetic, folder)"),
                                 ("imagenet", "imagenet", "search the ImageNet variant on <data>/imagenet_search")):
        p = sub.add_parser(name, help=help_, formatter_class=cli.HelpFormatter)
        train_search.add_arguments(p, variant)
        add_parallel_args(p, suppress=True)
        parser.subcommand_flags |= set(p._option_string_actions)
        parser.search_flags |= {f for f in p._option_string_actions if f not in parser._option_string_actions}
        parser.sweep_flags |= {f for f in parser._option_string_actions
                               if f not in p._option_string_actions and f not in ("-h", "--help")}
    return parser


def search_args(args: argparse.Namespace, weight: tuple[float, float], run_dir: Path) -> argparse.Namespace:
    """The arguments of the search for one weight: the sweep's search flags with this nu and cw."""
    nu, cw = weight
    s = argparse.Namespace(**vars(args))  # built here, not typed: a resumed search takes these (cli.resume_args)
    s.l1_weight = nu if args.objective == "l1" else -1.0
    s.l2_weight = nu if args.objective == "l2" else -1.0
    s.criterion_weight = cw
    s.cost = args.objective if args.objective in costlib.COSTS else None
    s.cost_weight = nu if s.cost else 0.0
    # a flag the search's objective never reads (a sweep saved before such flags were refused may hold one)
    if s.cost is None:
        s.eval_channels = s.eval_layers = None
    if s.cost != "latency":
        s.latency_table = None
    s.imagenet = cli.is_imagenet(args)
    s.resume = str(run_dir) if (run_dir / "args.json").is_file() else None
    s.run_dir = str(run_dir)
    return s


def initial_weights(objective: str | None) -> tuple[tuple[float, float], ...]:
    """NISE's first two weights (nu, cw): the two ends of the front.

    l1/l2 keep the thesis's (0.2, 0.8): the norm alone (nu = 1) is minimised by zero weights, a
    network with no CE at all. A cost's minimiser is not degenerate: with nu = 1 the architecture
    step takes the cheapest cell while the weight step still trains the supernet on CE, so a cost
    sweep starts from both single-objective optima, (1, 0) and (0, 1), as NISE does.
    """
    if objective in costlib.COSTS:
        return ((1.0, 0.0), (0.0, 1.0))
    return ((0.2, 0.8), (0.0, 1.0))


def nise_view(record: dict[str, Any], objective: str) -> dict[str, Any]:
    """The result as NISE sees it: (reg_loss, criterion_loss) are the point (R, CE) on the front's scales.

    CE is the one ``pareto.front_ce_key`` names (for a cost, the held-out CE); R for a cost is R / R_ref,
    the scale the search's loss nu * R / R_ref uses: the weight NISE proposes is normal to a segment of
    the front, so it depends on R's scale. Records, plots and genotypes.json keep the real cost
    (M parameters, M FLOPs, ms). l1/l2 results pass unchanged.
    """
    view = {**record, "criterion_loss": front_ce(record, objective)}
    if "cost" in record:
        view["reg_loss"] = record["cost"]["value"] / record["cost"]["reference"]
    return view


class Sweep:
    """The sweep's state on disk (sweep.json) and the estimator that proposes its weights."""

    def __init__(self, args: argparse.Namespace, run_dir: Path, logger: Any,
                 initial: list[list[float]] | None = None):
        self.args = args
        self.run_dir = run_dir
        self.logger = logger
        # a resumed sweep keeps the first weights it was started with (sweep.json's estimator records them)
        self.estimator = WeightEstimator(args.delta, initial or initial_weights(args.objective))
        self.searches: list[dict[str, Any]] = []
        self.pareto: list[dict[str, Any]] = []
        self.hypervolume: dict[str, Any] | None = None
        # the most searches ever run at once: above 1, --resume restores the estimator's state, not a replay
        self.parallel = 1
        self.published: dict[str, float] = {}  # name -> nu of the last genotypes.json written (log_name_changes)
        # true once finish() saved the front: a sweep killed between two searches leaves none "running", and only
        # this tells the tools that it stopped short of its end
        self.complete = False
        # true when --max_searches, not NISE, ended it: the tools then say its front had gaps wider than --delta left
        self.capped = False

    # ---------------------------------------------------------------- persistence
    def state(self) -> dict[str, Any]:
        saved_args = portable_args({k: v for k, v in vars(self.args).items()
                                    if k not in ("sweep_resume", "resume", "run_dir")})
        return {
            "objective": self.args.objective, "delta": self.args.delta, "space": self.args.space,
            "args": saved_args, "searches": self.searches, "pareto": self.pareto,
            "hypervolume": self.hypervolume, "estimator": self.estimator.state_dict(),
            "parallel": self.parallel, "front_ce": front_ce_key(self.args.objective), "published": self.published,
            "complete": self.complete, "capped": self.capped,
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
                self.estimator.set_result(nise_view(record, self.args.objective), weight)
            elif record["status"] == "failed":
                self.estimator.discard(weight)
            else:
                return record
        return None

    def restore(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        """Rebuild a parallel sweep from its saved estimator state (exact, pending weights included).

        Returns the searches to launch again: those that were running, then any weight the estimator
        had handed out just before the sweep stopped without a search recorded for it.
        """
        try:
            self.estimator.load_state_dict(state["estimator"])
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"{self.run_dir}/sweep.json: the estimator's state cannot be restored ({err})") from None
        self.searches = list(state["searches"])
        pending = [tuple(w) for w in self.estimator.pending]
        relaunch = []
        for record in self.searches:
            if record["status"] not in ("done", "failed"):
                match = next((w for w in pending if all(abs(a - b) <= 1e-12 for a, b in zip(w, record["weight"]))),
                             None)
                if match is None:
                    raise UserError(f"{self.run_dir}/sweep.json: search {record['index']} was running, "
                                    "but the estimator does not wait for its weight")
                pending.remove(match)
                relaunch.append(record)
        relaunch.extend(self.new_record(w) for w in pending)
        return relaunch

    def new_record(self, weight: tuple[float, float]) -> dict[str, Any]:
        """Add the record of a new search for ``weight`` (its index and run folder)."""
        index = len(self.searches)
        nu = weight[0]
        record = {"index": index, "weight": [nu, weight[1]],
                  "run_dir": str(self.run_dir / f"search-{index:02d}-nu{nu:.3g}"), "status": "running"}
        self.searches.append(record)
        return record

    def room(self) -> int | float:
        """How many more searches --max_searches allows (unlimited without it)."""
        cap = getattr(self.args, "max_searches", None)
        return math.inf if cap is None else max(0, cap - len(self.searches))

    def of_cap(self, index: int) -> str:
        """Where search ``index`` stands in a sweep that --max_searches caps (NISE alone sets no count ahead)."""
        cap = getattr(self.args, "max_searches", None)
        return f" ({index + 1} of at most {cap})" if cap else ""

    # ---------------------------------------------------------------- one search
    def run_one(self, weight: tuple[float, float], record: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the search for ``weight``; with ``record`` (an interrupted one), continue it in its folder."""
        if record is None:
            record = self.new_record(weight)
        index, run_dir = record["index"], Path(record["run_dir"])
        record.update(status="running", started=time.time(), finished=None, host=socket.gethostname(),
                      device=str(get_device(self.args.device, self.args.gpu)))
        self.save()
        args = search_args(self.args, weight, run_dir)
        self.log_start(record, args)
        try:
            result = train_search.main(args)
        except Exception as err:  # noqa: BLE001 - a failed search is recorded and the sweep goes on (README)
            if executors.refused(err):
                raise self.stopped_by(record, executors.search_error(err)) from None
            if not isinstance(err, (UserError, FloatingPointError)):
                self.logger.error("search %d crashed", index, exc_info=True)
            self.record_failed(record, weight, str(err) or type(err).__name__, time.time())
        else:
            self.record_done(record, weight, result, time.time())
        self.after_search(index)
        return record

    def record_done(self, record: dict[str, Any], weight: tuple[float, float], result: dict[str, Any],
                    finished: float) -> None:
        objective = self.args.objective
        if front_ce(result, objective) is None:
            self.record_failed(record, weight, f"its result has no {front_ce_key(objective)}, the CE of the front",
                               finished)
            return
        point = (result.get("reg_loss"), front_ce(result, objective))
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in point):
            # NISE refuses such a point: recorded done, the sweep stopped there and every --resume stopped again
            self.record_failed(record, weight, f"its point is not finite (R {point[0]}, {front_ce_name(objective)} "
                                               f"{point[1]}): the search diverged", finished)
            return
        record.update({k: result.get(k) for k in RESULT_KEYS}, status="done", finished=finished)
        if "cost" in result:  # a cost objective: R is the derived network's cost in result["cost"]["unit"]
            record["cost"] = result["cost"]
        self.estimator.set_result(nise_view(record, objective), weight)
        cost = result.get("cost")
        costed = f" (its evaluation network: {cost['params_M']:.4g}M params, {cost['flops_M']:.4g}M FLOPs)" \
            if cost and cost.get("params_M") is not None and cost.get("flops_M") is not None else ""
        self.logger.info("search %d: %s %.4f, R %.4g%s, %.3fM params at the paper's size%s", record["index"],
                         front_ce_name(objective), front_ce(record, objective), record["reg_loss"],
                         f" {cost['unit']}" if cost else "", record["model_size"], costed)

    def stopped_by(self, record: dict[str, Any], error: str) -> UserError:
        """The sweep's one line for a search that could not run here (``executors.refused``): the search stays
        "running" in sweep.json, so that --resume runs it once the cause is mended."""
        self.save()
        message = " ".join(error.split())
        self.logger.info("search %d could not run: %s", record["index"], message)
        return UserError(f"search {record['index']} (nu = {record['weight'][0]:.6g}) could not run: {message} "
                         f"(the sweep stopped; mend that and continue it with "
                         f"{resume_command('multiobjective.py', self.run_dir)})")

    def record_failed(self, record: dict[str, Any], weight: tuple[float, float], error: str, finished: float) -> None:
        record.update(status="failed", error=" ".join(str(error).split())[:500], finished=finished)
        self.estimator.discard(weight)
        self.logger.info("search %d failed: %s", record["index"], record["error"])

    def log_gaps_left_by(self, failed: list[dict[str, Any]]) -> None:
        """Name each gap of the front wider than --delta whose search failed: NISE does not try a gap twice, so the
        sweep ends there as if it had converged, and a --resume (a larger --max_searches too) runs nothing for it."""
        for wa, wb, dist, weight in self.estimator.open_gaps():
            search = next((s for s in failed if math.isclose(s["weight"][0], weight[0], rel_tol=1e-9, abs_tol=1e-15)),
                          None)
            if search is not None:
                self.logger.info("the front's gap between nu = %.6g and nu = %.6g (%.3g wide, normalised) is wider "
                                 "than --delta %g and stays so: its search %d (nu = %.6g) failed (%s); NISE does not "
                                 "search a gap again", wa[0], wb[0], dist, self.args.delta, search["index"],
                                 search["weight"][0], search.get("error") or "failed")

    def log_name_changes(self) -> None:
        """Say how the names of the last genotypes.json (a resumed sweep's) changed, point by point (by nu): a name
        takes the digits the front's nus need apart, so a nu that joins or leaves the front beside a point changes
        its name, and a name can pass to another search; a reference to the old name then fails or reads another
        genotype. Then this front's names become the published ones."""
        now = {p["name"]: float(p["weight"][0]) for p in self.pareto}
        name_of = {nu: name for name, nu in now.items()}
        for name, nu in self.published.items():
            if name_of.get(nu) == name:
                continue
            if nu in name_of:
                self.logger.info("renamed: %s is now %s (nu = %.6g): names take the digits the front's nus need "
                                 "apart", name, name_of[nu], nu)
            elif name in now:
                self.logger.info("%s now names another search (nu = %.6g); its nu %.6g is no longer Pareto-optimal",
                                 name, now[name], nu)
            else:
                self.logger.info("no longer Pareto-optimal: %s (nu = %.6g), dropped from genotypes.json", name, nu)
        self.published = now

    def after_search(self, index: int) -> None:
        """The front, frontier_NN.png and sweep.json, rewritten as each search ends: the plot first, so that a sweep
        killed between the two still has the search running in sweep.json, and --resume draws it."""
        self.update_front()
        draw_or_warn(self.logger, f"frontier_{index:02d}.png", lambda: plot_frontier(
            self.searches, self.pareto, self.args.objective, self.run_dir / f"frontier_{index:02d}.png"))
        self.save()

    def update_front(self) -> None:
        objective = self.args.objective
        records = {s["index"]: s for s in self.searches}
        # the estimator holds NISE's views: the front's entries take the searches' own records
        optimal = [records.get(r.get("index"), r) for _, r in self.estimator.optimal_results]
        names = format_weight_name([r["weight"][0] for r in optimal])
        self.pareto = [
            {"name": sweep_name(objective, r["weight"][0], n, self.args.weight_decay, self.args.set),
             "weight": r["weight"], "reg_loss": r["cost"]["value"] if "cost" in r else r["reg_loss"],
             "criterion_loss": r["criterion_loss"], "valid_loss": r.get("valid_loss"),
             "model_size": r["model_size"], "genotype": r["genotype"], "run_dir": r["run_dir"],
             **({"cost": r["cost"]} if "cost" in r else {})}
            for r, n in zip(optimal, names)
        ]
        points = [(r["reg_loss"], front_ce(r, objective)) for r in self.pareto]
        if points:
            ref = default_reference([(s["reg_loss"], front_ce(s, objective)) for s in self.searches
                                     if s["status"] == "done"])
            self.hypervolume = {"value": hypervolume_2d(points, ref), "reference": list(ref)}

    def run(self) -> dict[str, Any]:
        while self.estimator.has_next() and self.room() > 0:
            self.run_one(self.estimator.get_next())
        return self.finish()

    # ---------------------------------------------------------------- several at once
    def run_parallel(self, executor: Any, relaunch: list[dict[str, Any]]) -> dict[str, Any]:
        """Keep up to ``executor.capacity`` searches in flight until NISE has nothing left to propose.

        Each search is recorded as soon as it ends; the freed slots then go to the searches to
        relaunch, then to new weights. When nothing can be proposed while results are pending, wait
        for the next one. On Ctrl-C the running searches are stopped and stay "running" in
        sweep.json, so that --resume continues each from its checkpoint. A search that could not run
        here (executors.refused) stays "running" too; nothing new is launched after it, the searches
        still running end first (stopped, they would lose their epoch in progress), then the sweep stops.
        """
        queue = sorted(relaunch, key=lambda r: r["index"])
        in_flight: dict[int, dict[str, Any]] = {}
        refused: dict[int, dict[str, Any]] = {}  # left "running" in sweep.json, for --resume
        stop: tuple[dict[str, Any], str] | None = None
        # a search recorded in memory whose after_search (frontier_NN.png, then sweep.json) has not ended: the
        # handler below must not save it done, or its plot goes missing for good (see after_search)
        recording: int | None = None
        self.parallel = max(self.parallel, executor.capacity)
        self.logger.info("%s: %s", "one search at a time" if executor.capacity == 1
                         else f"up to {executor.capacity} searches at once", executor.describe())
        try:
            while True:
                launched = []
                while stop is None and executor.free() > len(launched) and queue:  # a resume with fewer slots
                    launched.append(queue.pop(0))
                free = int(min(executor.free() - len(launched), self.room()))
                if stop is None and free > 0 and not queue:
                    launched.extend(self.new_record(w) for w in self.estimator.get_next_batch(free))
                for record in launched:
                    self.launch(executor, record)
                    in_flight[record["index"]] = record
                if launched:
                    self.save()
                if not in_flight:
                    break
                outcomes = executor.wait()
                if not outcomes and not executor.in_flight():
                    raise RuntimeError(f"the {executor.name} executor lost searches {sorted(in_flight)}")
                stopping = stop is None
                for outcome in outcomes:
                    record = in_flight.pop(outcome.index)
                    record["host"] = outcome.host or record.get("host")
                    record["device"] = outcome.device or record.get("device")
                    weight = (record["weight"][0], record["weight"][1])
                    if outcome.status == "refused":
                        refused[outcome.index] = record
                        stop = stop or (record, outcome.error or "refused")
                        continue
                    recording = outcome.index
                    if outcome.status == "done" and outcome.result is not None:
                        self.record_done(record, weight, outcome.result, outcome.finished)
                    else:
                        self.record_failed(record, weight, outcome.error or "failed", outcome.finished)
                    self.after_search(outcome.index)
                    recording = None
                if stopping and stop is not None and in_flight:  # said once, naming those still running
                    self.logger.warning("search %d could not run here (%s): the sweep stops once search(es) %s end",
                                        stop[0]["index"], stop[1], ", ".join(map(str, sorted(in_flight))))
            if stop is not None:
                raise self.stopped_by(*stop)
        except BaseException as err:
            executor.stop()
            if recording is None:  # else the sweep.json saved last stands: it has that search running, for --resume
                self.save()
            if isinstance(err, KeyboardInterrupt):
                self.log_interrupted()
            raise
        return self.finish()

    def log_interrupted(self) -> None:
        """The sweep log's line on a Ctrl-C: the searches left "running" in sweep.json and the command that continues
        them (run_main prints it to the terminal only, and the log is what is read later). Read from sweep.json as
        saved: a Ctrl-C while a finished search's front is drawn leaves it running there, for --resume to draw, though
        it is done in memory (after_search), and the line said "none left running"."""
        try:
            left = [s["index"] for s in read_json(self.run_dir / "sweep.json")["searches"] if s["status"] == "running"]
        except (OSError, ValueError, KeyError, TypeError):  # no sweep.json yet: nothing started
            left = []
        self.logger.info("interrupted: search(es) %s left running; continue with %s",
                         ", ".join(str(i) for i in sorted(left)) or "none",
                         resume_command("multiobjective.py", self.run_dir))

    def launch(self, executor: Any, record: dict[str, Any]) -> None:
        """Hand one search to the executor and mark it running (sweep.json is saved by the caller)."""
        weight = (record["weight"][0], record["weight"][1])
        run_dir = Path(record["run_dir"])
        args = search_args(self.args, weight, run_dir)
        where = executor.submit(record["index"], args)
        record.pop("error", None)
        record.update(status="running", started=time.time(), finished=None, host=where["host"],
                      device=where["device"])
        self.log_start(record, args, where["device"])

    def log_start(self, record: dict[str, Any], args: argparse.Namespace, device: str | None = None) -> None:
        """The sweep's line for a search it starts; one a --resume continues in its folder (from its checkpoint.pt,
        if it has one) says so, as the search's own "resuming" line reaches only its log.txt in a worker."""
        index, (nu, cw) = record["index"], record["weight"]
        self.logger.info("search %d%s: nu = %.6g, cw = %.6g -> %s%s%s", index, self.of_cap(index), nu, cw,
                         record["run_dir"], " (resumed there)" if args.resume else "",
                         f" on {device}" if device else "")

    def finish(self) -> dict[str, Any]:
        genotypes = {p["name"]: p["genotype"] for p in self.pareto}
        self.log_name_changes()
        write_json_atomic(self.run_dir / "genotypes.json", genotypes)
        write_sweep_cells(genotypes, self.run_dir / "cells", self.logger)
        draw_or_warn(self.logger, "losses.png", lambda: plot_losses(
            self.searches, self.args.objective, self.run_dir / "losses.png"))
        final = draw_or_warn(self.logger, "frontier.png", lambda: plot_frontier(
            self.searches, self.pareto, self.args.objective, self.run_dir / "frontier.png"))
        self.complete = True
        self.capped = self.room() == 0 and self.estimator.has_next()
        self.save()
        failed = [s for s in self.searches if s["status"] == "failed"]
        self.logger.info("sweep done: %d searches%s, %d Pareto-optimal", len(self.searches),
                         f" ({len(failed)} failed)" if failed else "", len(self.pareto))
        self.log_gaps_left_by(failed)
        if self.capped:
            # the cap counts every search recorded: a resume given a cap below that count must hear that count
            self.logger.info("stopped at --max_searches %d: NISE had more to search (gaps of the front wider than "
                             "--delta %g); %s --max_searches N (N > %d) goes on", self.args.max_searches,
                             self.args.delta, resume_command("multiobjective.py", self.run_dir),
                             len(self.searches))
        costs = [p["reg_loss"] for p in self.pareto if p.get("cost")]
        space = self.pareto[0]["cost"].get("range") if costs else None
        if costs and space and min(costs) > 0 and space[0] > 0:
            self.logger.info("the front spans %.2fx (%.4g to %.4g %s); any genotype of the space costs %.4g to %.4g "
                             "(%.2fx)", max(costs) / min(costs), min(costs), max(costs),
                             self.pareto[0]["cost"]["unit"], space[0], space[1], space[1] / space[0])
        objective = self.args.objective
        beyond = beyond_front_end(self.searches, self.pareto, objective)
        if beyond:
            unit = f" {self.pareto[0]['cost']['unit']}" if costs else ""
            end, ce_name, count = beyond["end"], front_ce_name(objective), len(beyond["nus"])
            self.logger.info("the front ends at nu = %.6g (R %.4g%s, %s %.4f): %d search%s (nu = %s) ended with a "
                             "larger R, up to %.4g, none with a lower %s (the best %.4f)", end["nu"], end["reg_loss"],
                             unit, ce_name, end["ce"], count, "" if count == 1 else "es",
                             ", ".join(f"{nu:.3g}" for nu in beyond["nus"]), beyond["max_reg_loss"], ce_name,
                             beyond["best_ce"])
        for p in self.pareto:
            unit = f" {p['cost']['unit']}" if p.get("cost") else ""
            self.logger.info("%s: nu = %.6g, %s %.4f, R %.4g%s, %.3fM params at the paper's size, genotype = %s",
                             p["name"], p["weight"][0], front_ce_name(objective), front_ce(p, objective),
                             p["reg_loss"], unit, p["model_size"], genotype_from_dict(p["genotype"]))
        if self.hypervolume:
            ref_r, ref_ce = self.hypervolume["reference"]
            # the point as analyse_search_logs.py --reference takes it: rounded, another point's hypervolume
            self.logger.info("hypervolume %.6g (reference point R = %.6g%s, %s = %.6g)", self.hypervolume["value"],
                             ref_r, costlib.unit_of(objective), front_ce_name(objective), ref_ce)
        self.logger.info("frontier plot: %s", final or "not drawn (the warning above says why); " + shell_command(
            "python", "tools/plot_frontier.py", "-l", self.run_dir, "-o", self.run_dir / "frontier.png"))
        self.logger.info("genotypes: %s", self.run_dir / "genotypes.json")
        if self.pareto:  # its names are the thesis's too: a bare name would train the published cell
            one = f"{self.run_dir / 'genotypes.json'}:{self.pareto[0]['name']}"
            # an ImageNet front's sizes are NetworkImageNet(48, classes, 14)'s; the trainings default to 36 and 20
            paper = (train_search.paper_train_flags(imagenet=True)
                     if cli.is_imagenet(self.args) and objective not in costlib.COSTS else ())
            self.logger.info("train one: %s", shell_command("python", "train.py", "--arch", one, *paper))
            self.logger.info("train the front: %s (then tools/analyse_train_logs.py -t <its batch folder> -s %s)",
                             shell_command("python", "batch_train.py", "--archs", self.run_dir, *paper),
                             shell_word(self.run_dir))
        self.logger.info("sweep folder: %s", self.run_dir)
        return self.state()


def _resume_dir(given: str) -> Path:
    """The sweep folder ``--resume`` names (a log.txt or sweep.json path names its folder), checked to be one
    before main locks it, and so before its sweep.json is read. A sweep's args.json with no sweep.json yet is
    one: a Ctrl-C there advises --resume (utils.resumable)."""
    run_dir = Path(given)
    if run_dir.name in ("log.txt", "sweep.json"):
        run_dir = run_dir.parent
    if run_folder_kind(run_dir) != "sweep":
        raise resume_folder_error(run_dir, "sweep", "sweep.json")
    return run_dir


def _state_file(run_dir: Path) -> Path:
    """Where a sweep's state is read from: sweep.json, or its args.json if it stopped before the first sweep.json."""
    return run_dir / "sweep.json" if (run_dir / "sweep.json").is_file() else run_dir / "args.json"


def _resume(args: argparse.Namespace) -> tuple[argparse.Namespace, Path, dict[str, Any]]:
    """The resumed sweep's arguments, folder and state, read as they are now (main has locked the folder)."""
    run_dir = _resume_dir(args.sweep_resume)
    state_file = _state_file(run_dir)
    if state_file.name == "sweep.json":
        state = read_json(state_file)
    else:  # stopped between its args.json and its first sweep.json: no search has started, it starts afresh
        saved = load_run_args(run_dir, "sweep")[1]
        state = {"args": {k: v for k, v in saved.items() if k not in ("sweep_resume", "resume", "run_dir")},
                 "searches": []}
    if problem := sweep_state_problem(state):  # a hand edit: one line here, not a traceback in replay
        raise UserError(f"--resume {run_dir}: sweep.json is not a sweep state ({problem})")
    args = _given_table_is_the_sweeps(args, run_dir, state["args"])
    # how and where the rest of the sweep runs may change (the parallel flags too), not what it computes
    saved = cli.resume_args(args, state["args"], (*cli.RESUME_MAY_CHANGE, *PARALLEL_KEYS), source=str(state_file))
    typed = cli.typed_flags(args)
    given = set(typed) if typed is not None else {k for k in ("executor", "ray_address") if getattr(args, k, None)}
    if "executor" in given and saved.executor != "ray" and "ray_address" not in given:
        saved.ray_address = None  # a sweep moved off its Ray cluster: the recorded address goes with the executor
    saved.sweep_resume = str(run_dir)
    if saved.objective == "latency":  # (an older sweep of another objective may hold a table it never read)
        pinned = run_dir / SWEEP_TABLE
        # the sweep's own copy, wherever the folder has moved; a sweep made before the copy reads the recorded path
        saved.latency_table = str(pinned.resolve()) if pinned.is_file() else saved.latency_table
        costlib.load_latency_table(saved.latency_table)  # gone or broken: one line now, not a failed search each
    return saved, run_dir, state


def _given_table_is_the_sweeps(args: argparse.Namespace, run_dir: Path, saved: dict[str, Any]) -> argparse.Namespace:
    """A --latency_table typed on the --resume of a latency sweep: the sweep records its own copy's path, so the
    table it was started with (same entries, any path) is that copy and passes; another table is one line that
    says so (the sweep's front is in its own table's ms)."""
    given, pinned = getattr(args, "latency_table", None), run_dir / SWEEP_TABLE
    if not given or saved.get("objective") != "latency" or not pinned.is_file():
        return args
    costlib.refuse_another_table(given, pinned, "sweep")
    args = copy.copy(args)
    args.latency_table = saved.get("latency_table")
    return args


def _search_folder(record: dict[str, Any], run_dir: Path) -> Path:
    """A search's folder inside the sweep's (where it lives, wherever sweep.json says it ran: rebase_run_dirs)."""
    return run_dir / Path(record["run_dir"]).name


def _pin_latency_table(path: str, run_dir: Path) -> str:
    """Copy the latency table into the sweep's folder and return the copy's absolute path, which every search
    reads (in other processes and on Ray workers too): a table remade, moved or deleted after the sweep starts
    cannot mix two tables' units on one front, or fail the searches of a resumed sweep."""
    pinned = run_dir / SWEEP_TABLE
    write_json_atomic(pinned, costlib.load_latency_table(path))
    return str(pinned.resolve())


def check_parallel_args(args: argparse.Namespace) -> None:
    """Fill in and check the parallel flags (one line on bad input, before anything is written)."""
    for key in PARALLEL_KEYS:
        if not hasattr(args, key):
            setattr(args, key, None)
    if args.parallel is None:
        args.parallel = 1
    if args.parallel < 1:
        raise UserError(f"--parallel must be >= 1, got {args.parallel}")
    if args.per_gpu is not None and args.per_gpu < 1:
        raise UserError(f"--per_gpu must be >= 1, got {args.per_gpu}")
    if args.max_searches is not None and args.max_searches < 1:
        raise UserError(f"--max_searches must be >= 1, got {args.max_searches}")
    executors.parse_gpus(args.gpus)
    if args.ray_address == "local":  # Ray's own name for an instance of the sweep's own (as with no --ray_address)
        args.ray_address = None
    if args.executor == "ray":
        if args.gpus is not None:
            raise UserError("--gpus is for the local executor: Ray places each search on a GPU itself")
        executors.import_ray()
    elif args.ray_address:
        raise UserError("--ray_address needs --executor ray")


def device_is_cpu(args: argparse.Namespace) -> bool:
    """Whether --device names the CPU (not auto: a Ray cluster may have GPUs where this machine has none)."""
    return (args.device or "auto").lower() == "cpu"


def make_executor(args: argparse.Namespace) -> Any:
    """The executor the flags ask for; None for the sequential sweep in this process (K = 1)."""
    if args.executor == "ray":
        return executors.RayExecutor(args.parallel, args.device, args.per_gpu, args.threads or 0, args.ray_address)
    if args.executor == "local" or args.parallel > 1 or args.gpus is not None or args.per_gpu is not None:
        slots = executors.local_slots(args.device, executors.parse_gpus(args.gpus), args.per_gpu, args.parallel)
        slots = slots[:args.parallel]
        return executors.LocalExecutor(slots, threads=executors.cpu_threads(args.threads or 0, len(slots)))
    return None


def main(args: argparse.Namespace, executor: Any = None) -> dict[str, Any]:
    """Run (or resume) a sweep; returns the sweep state that sweep.json holds.

    ``executor`` replaces the one the flags ask for (tests pass one whose searches fail on purpose).
    """
    if getattr(args, "resume", None) and not args.sweep_resume:
        args.sweep_resume = args.resume  # `multiobjective.py -o l2 cifar --resume DIR` means the sweep
    state: dict[str, Any] = {}
    own_executor = executor is None
    # The sweep holds its folder's lock to the end (each search locks its own folder inside it); a resumed one from
    # before it reads sweep.json: a process still at work there would otherwise end, or record another search,
    # while this one loads the data, and this one go on from the older state.
    run_lock = None
    if args.sweep_resume:
        run_dir = _resume_dir(args.sweep_resume)
        run_lock = lock_run_dir(run_dir)
    try:
        if args.sweep_resume:
            typed = args
            args, run_dir, state = _resume(args)
            # a typed --threads/--workers/--report_lines out of range: one line now, not saved into sweep.json, where
            # it stopped every later search, and the printed --resume DIR, at once (the search makes the same check)
            cli.check_common_args(args)
            check_parallel_args(args)
            # a GPU sweep's --cuda_graphs on a CPU; a --compile_mode typed now without the sweep's --compile
            cli.check_speed_args(args, get_device(args.device, args.gpu), cli.typed_flags(typed))
            # --data may have moved (or be relative to another directory): one line now, not a refused search later;
            # and it must be the dataset the searches so far were made on
            with data_recorded_in(cli.recorded_data_source(typed, _state_file(run_dir))):
                info = train_search.build_data(args, torch.device("cpu"))[2]
            for record in state["searches"]:
                check_resumed_split(_search_folder(record, run_dir), info.split, info.classes)
        else:
            if args.objective is None or args.space is None:
                raise UserError("give an objective and a search space, e.g. `multiobjective.py -o l2 cifar --set "
                                "digits`")
            if not 0 < args.delta < math.inf:
                raise UserError(f"--delta must be a finite number > 0, got {args.delta}")
            check_parallel_args(args)
            cli.settle_imagenet_set(args)  # the subcommand names the dataset
            # every check a search would make, the data's included: a bad flag fails here, before the folder exists
            train_search.validate_search_args(args, data=True)
            device = get_device(args.device, args.gpu)
            cli.check_speed_args(args, device)
            # as --gpus: asked of a sweep with no GPU to share, it was dropped without a word (Ray tasks on a cluster
            # may have GPUs this machine lacks, unless --device cpu). A new sweep only: a GPU sweep's recorded
            # --per_gpu cannot be unset, and a --resume on a CPU (--device cpu) ignores it as before.
            if args.per_gpu is not None and device.type != "cuda" and (args.executor != "ray" or device_is_cpu(args)):
                raise UserError(f"--per_gpu shares a GPU between searches, but the sweep runs on {device.type}: "
                                "drop it (on the CPU, --parallel K alone runs K searches at once)")
        if own_executor:
            executor = make_executor(args)
        if not args.sweep_resume:
            run_dir = create_run_dir(f"multi-search-{args.set}", args.save, args.logdir)
            run_lock = lock_run_dir(run_dir)
            if getattr(args, "latency_table", None):
                args.latency_table = _pin_latency_table(args.latency_table, run_dir)
            save_args(args, run_dir, device, kind="sweep")
        with resumable("multiobjective.py", run_dir), logs_released(f"sweep.{run_dir.name}"):
            return _run(args, run_dir, state, executor)
    finally:
        if own_executor and executor is not None:
            executor.close()
        if run_lock is not None:
            run_lock.release()


def _run(args: argparse.Namespace, run_dir: Path, state: dict[str, Any], executor: Any) -> dict[str, Any]:
    if state and state.get("searches") and state.get("front_ce", "criterion_loss") != front_ce_key(args.objective):
        raise UserError(f"{run_dir}/sweep.json put {state.get('front_ce', 'criterion_loss')} on its front, and this "
                        f"version puts {front_ce_key(args.objective)} on a {args.objective} front: start a new sweep")
    if state and args.objective in costlib.COSTS:
        side = costlib.eval_spec(args, 0, cli.is_imagenet(args)).side
        for record in state.get("searches") or []:
            made = ((record.get("cost") or {}).get("eval") or {}).get("input")
            if made and made[-1] != side:
                raise UserError(f"{run_dir}/sweep.json costed its networks at {made[-1]}x{made[-1]}, and this version "
                                f"costs them at the search's image size, {side}x{side}: start a new sweep")
    if state:
        rebase_run_dirs([*state.get("searches", []), *state.get("pareto", []),
                         *(r.get("result") for r in (state.get("estimator") or {}).get("results", []))], run_dir)
    logger = get_logger(f"sweep.{run_dir.name}", run_dir)
    sweep = Sweep(args, run_dir, logger, (state.get("estimator") or {}).get("initial_weights"))
    if state:  # a sweep.json of an older version has no record of them: its front's names, if it wrote them
        published = state.get("published")
        if not isinstance(published, dict) and (run_dir / "genotypes.json").is_file():
            published = {p["name"]: p["weight"][0] for p in state.get("pareto") or []
                         if isinstance(p, dict) and "name" in p and isinstance(p.get("weight"), list)}
        sweep.published = {str(k): float(v) for k, v in (published or {}).items() if isinstance(v, (int, float))}
    logger.info("sweep %s: objective %s, delta %g, folder %s", args.save, args.objective, args.delta, run_dir)
    searches = state.get("searches") or []
    relaunch: list[dict[str, Any]] = []
    if searches and int(state.get("parallel") or 1) > 1 and "estimator" in state:
        sweep.parallel = int(state["parallel"])
        relaunch = sweep.restore(state)
    elif searches:
        interrupted = sweep.replay(searches)
        relaunch = [interrupted] if interrupted is not None else []
    if searches:
        logger.info("resuming: %d searches recorded", len(sweep.searches))
    sweep.update_front()
    if executor is not None:
        return sweep.run_parallel(executor, relaunch)
    try:
        for record in relaunch:
            sweep.run_one((record["weight"][0], record["weight"][1]), record)
        return sweep.run()
    except KeyboardInterrupt:
        sweep.log_interrupted()
        raise


def cli_main(args: argparse.Namespace) -> dict[str, Any]:
    """main for the command line: a sweep in which no search finished exits with status 1."""
    state = main(args)
    if not any(s["status"] == "done" for s in state["searches"]):
        failed = [s for s in state["searches"] if s["status"] == "failed"]
        first = f": {failed[0].get('error', '')}" if failed else ""
        raise RunFailed(f"no search finished ({len(failed)} failed{first})")
    return state


if __name__ == "__main__":
    sys.exit(run_main(cli_main, build_parser().parse_args()))
