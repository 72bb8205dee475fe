"""Several sweeps' fronts in one unit: every search's genotype costed on one evaluation network.

An l1/l2 sweep's R is a weight norm and a cost sweep's R is its own network's cost, so their fronts share no
axis. Here every finished search's derived genotype is costed (parameters or FLOPs, as cost.CostModel counts
them) on one evaluation network and placed against the held-out CE its search ended with (every search records
it); each sweep's own Pareto-optimal searches are joined in order of nu. Prints, for each sweep, its front in
that unit: how many points, the span, and whether a larger nu ever gave a larger network.

    python tools/compare_fronts.py -l logs/multi-search-digits-demo-flops-<time> \\
        logs/multi-search-digits-demo-<time> --cost flops -o fronts.png

The evaluation network is the first cost sweep's (its channels, cells and image size, from its args.json), else
the paper's NetworkCIFAR(36, classes, 20) (NetworkImageNet(48, classes, 14)) at the first sweep's image size;
--eval_channels, --eval_layers and --image_size choose another. Sweeps of one space and class count but of other
datasets (digits and cifar10) are drawn together with a note: each held-out CE is of its own data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python tools/x.py`: import repo modules

if __name__ == "__main__":  # before the imports below: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import cli  # noqa: E402
import cost as costlib  # noqa: E402
import plots  # noqa: E402
from genotypes import genotype_from_dict  # noqa: E402
from model import init_channels_error, input_side_error  # noqa: E402
from tools import tables  # noqa: E402
from utils import UserError, check_output, read_json, run_main  # noqa: E402

KINDS = ("params", "flops")  # counted, so the same on every machine (a latency table is one machine's)


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(description="Several sweeps' fronts in one unit (parameters or FLOPs of the "
                                            "evaluation network every search's genotype builds).",
                                formatter_class=cli.HelpFormatter)
    parser.add_argument("-l", "--logs", nargs="+", action="extend", required=True, metavar="SWEEP",
                        help="sweep folders (or their log.txt)")
    parser.add_argument("--cost", choices=KINDS, default="flops", help="the unit of the common axis")
    parser.add_argument("--eval_channels", type=int, default=None,
                        help="init channels of the evaluation network (default: the first cost sweep's, else 36; "
                             "48 for ImageNet sweeps)")
    parser.add_argument("--eval_layers", type=int, default=None,
                        help="cells of the evaluation network (default: the first cost sweep's, else 20; "
                             "14 for ImageNet sweeps)")
    parser.add_argument("--image_size", type=int, default=None,
                        help="input side the FLOPs are counted at (default: the first cost sweep's, else the first "
                             "sweep's)")
    parser.add_argument("-o", "--output", default="fronts.png", help="the plot: PNG, or PDF or SVG by its suffix")
    parser.add_argument("-i", "--inches", type=float, nargs="+", default=None, metavar=("W", "H"),
                        help="figure size in inches, each side 1 to 50 (one value: a square; default 7 5)")
    return parser


def common_network(args: argparse.Namespace, sweeps: list[dict[str, Any]]) -> costlib.EvalSpec:
    """The one evaluation network every search is costed on (see the module's docstring)."""
    spaces = {(s["space"], s["num_classes"]) for s in sweeps}
    if len(spaces) > 1:
        raise ValueError("the sweeps search different spaces or class counts ("
                         + ", ".join(f"{space} with {n} classes" for space, n in sorted(spaces))
                         + "): their genotypes build no common evaluation network")
    (space, num_classes), = spaces
    if args.image_size is not None and (why := input_side_error(args.image_size, space == "imagenet")):
        raise UserError(f"--image_size {args.image_size} {why}")
    if args.eval_channels is not None and (why := init_channels_error(args.eval_channels, space == "imagenet")):
        raise UserError(f"--eval_channels {args.eval_channels} {why}")
    costed = [(s, network) for s in sweeps for network in [costlib.run_eval_network(s["folder"])] if network]
    source, (channels, layers) = costed[0] if costed else (sweeps[0], (None, None))
    settings = argparse.Namespace(eval_channels=args.eval_channels or channels, eval_layers=args.eval_layers or layers,
                                  image_size=args.image_size or source["image_size"])
    return costlib.eval_spec(settings, num_classes, space == "imagenet")


def held_out_ce(search: dict[str, Any]) -> float | None:
    """The held-out CE a search ended with: its sweep.json record's, else its result.json's (an earlier l1/l2
    sweep kept only the training CE in sweep.json)."""
    value = search.get("valid_loss")
    result_file = Path(str(search.get("run_dir"))) / "result.json"
    if value is None and result_file.is_file():
        record = read_json(result_file)
        value = record.get("valid_loss") if isinstance(record, dict) else None
    return None if value is None else float(value)


def front_in_unit(sweep: dict[str, Any], model: costlib.CostModel) -> dict[str, Any]:
    """Every finished search of a sweep at its genotype's cost, and the summary of its own front there."""
    scale = costlib.SCALE[model.kind]
    pareto = {tuple(p["weight"]) for p in sweep["pareto"]}
    points = []
    for s in sweep["searches"]:
        held_out = held_out_ce(s)
        if s.get("status", "done") != "done" or not s.get("genotype") or held_out is None:
            continue
        points.append({"nu": float(s["weight"][0]), "reg_loss": s["reg_loss"], "valid_loss": held_out,
                       "cost": model.genotype_cost(genotype_from_dict(s["genotype"])) / scale,
                       "pareto": tuple(s["weight"]) in pareto})
    front = sorted((p for p in points if p["pareto"]), key=lambda p: -p["nu"])  # nu from large to small
    costs = [p["cost"] for p in front]
    disorder = next(((a, b) for a, b in zip(front, front[1:]) if b["cost"] < a["cost"]), None)
    return {"folder": sweep["folder"], "objective": sweep["objective"], "points": points, "front": front,
            "span": max(costs) / min(costs) if costs and min(costs) > 0 else None,
            "ordered": disorder is None, "disorder": disorder}


def summary_line(series: dict[str, Any], unit: str) -> str:
    """One sweep's front in the common unit: its points, their span and whether they are in order of nu."""
    front = series["front"]
    if not front:
        return f"{series['folder'].name} (-o {series['objective']}): no Pareto-optimal search with a held-out CE"
    costs = [p["cost"] for p in front]
    disorder = series["disorder"]
    order = "yes" if disorder is None else (f"no (nu = {disorder[1]['nu']:.3g}: {disorder[1]['cost']:.4g} after "
                                            f"nu = {disorder[0]['nu']:.3g}: {disorder[0]['cost']:.4g})")
    span = f"{series['span']:.2f}x" if series["span"] else "-"
    return (f"{series['folder'].name} (-o {series['objective']}): {plots.plural(len(front), 'Pareto point')}, "
            f"{min(costs):.4g} to {max(costs):.4g} {unit} ({span}); larger nu never a larger network: {order}")


def mixed_datasets_note(sweeps: list[dict[str, Any]]) -> str | None:
    """A note when the sweeps searched more than one dataset (None: one, or unknown). Of the same space and class
    count (digits and cifar10) they cost on one network, and their fronts were drawn on one axis of held-out CE
    without a word, though each CE is of its own data."""
    counts: dict[str, int] = {}
    for sweep in sweeps:
        if sweep.get("dataset"):
            counts[str(sweep["dataset"])] = counts.get(str(sweep["dataset"]), 0) + 1
    if len(counts) < 2:
        return None
    parts = ", ".join(f"{name} {plots.plural(n, 'sweep')}" for name, n in counts.items())
    return (f"note: the sweeps searched {len(counts)} datasets ({parts}): their held-out CEs are not comparable, yet "
            "the figure puts their fronts on one axis; give -l the sweeps of one dataset")


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Cost every search, draw the fronts, print them; returns {"plot", "network", "series"}."""
    size = tables.parse_inches(args.inches)
    output = tables.output_file(args.output, ".png", keep=tables.FIGURE_SUFFIXES)
    costlib.check_cost_args(args, None)  # the searches' own rule: no cost sweep has such a network
    # the inputs first: -l /tmp -o /tmp/x.png was "-o is inside the input folder", not "not a sweep folder"
    sweeps = [tables.load_sweep(path) for path in args.logs]
    check_output(output, "-o", args.logs)
    empty = [tables.nothing_finished(s) for s in sweeps if not s["searches"]]
    if empty:  # an empty front in the figure would read as a result
        raise UserError(f"no finished search to compare: {'; '.join(empty)}")
    for sweep in sweeps:  # a killed or running sweep's front is that of its searches so far
        if note := tables.unfinished_note(sweep, "compared"):
            print(note, file=sys.stderr)
    if note := mixed_datasets_note(sweeps):
        print(note, file=sys.stderr)
    spec = common_network(args, sweeps)
    model = costlib.CostModel.build(args.cost, spec)
    unit = costlib.UNITS[args.cost]
    series = [front_in_unit(sweep, model) for sweep in sweeps]
    print(f"every search's genotype costed on {spec}")
    for s in series:
        print(summary_line(s, unit))
        for p in s["front"]:
            print(f"    nu = {p['nu']:<10.4g} R = {p['reg_loss']:.6g}{costlib.unit_of(s['objective'])}: "
                  f"{p['cost']:.6g} {unit}, "
                  f"held-out CE {p['valid_loss']:.4f}")
    output.parent.mkdir(parents=True, exist_ok=True)
    plots.save_figure(plots.fronts_in_unit_figure(
        [(f"-o {s['objective']} ({s['folder'].name})", s["points"], s["front"]) for s in series],
        f"{unit} of {spec}", size=size), output)
    print(f"plot: {output}")
    return {"plot": output, "network": spec, "series": series}


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
