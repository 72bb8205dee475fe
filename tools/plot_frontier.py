"""The front of one sweep: search cross-entropy against the penalty, Pareto-optimal searches named.

Drawn by plots.plot_frontier, as the sweep's own frontier.png and analyse_search_logs.py's front
(colours of nu as in every plot); here the names are written where they fit.

    python tools/plot_frontier.py -l logs/multi-search-cifar10-EXP-20260101-000000/log.txt -o front.png -d

Reads the sweep folder's sweep.json (given its log.txt or the folder); ``-d`` (``--dominated``, as
in the original tool) also draws the dominated searches; in analyse_search_logs.py and
analyse_train_logs.py, ``-d`` reads a table instead. Prints the front and its hypervolume with the
reference point.
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
from pareto import front_ce, front_ce_name  # noqa: E402
from tools import tables  # noqa: E402
from utils import check_output, run_main  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(description="Plot the Pareto front of one sweep.",
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("-l", "--log", required=True, help="the sweep's log.txt (or its folder)")
    parser.add_argument("-o", "--output", default="plot.png",
                        help="the plot: PNG, or PDF or SVG by its suffix (the default is the original tool's name)")
    parser.add_argument("-i", "--inches", type=float, nargs="+", default=None, metavar=("W", "H"),
                        help="figure size in inches, each side 1 to 50 (one value: a square; default 7 5)")
    parser.add_argument("-d", "--dominated", action="store_true",
                        help="also draw the dominated searches (-d is --dominated here, as in the original tool; "
                             "in analyse_search_logs.py and analyse_train_logs.py, -d reads a table)")
    return parser


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Draw the front; returns {"plot", "pareto", "hypervolume"}."""
    size = tables.parse_inches(args.inches)
    output = tables.output_file(args.output, ".png", keep=tables.FIGURE_SUFFIXES)
    # the input first: -l /tmp -o /tmp/x.png was "-o is inside the input folder", not "not a sweep folder"
    sweep = tables.load_sweep(args.log)
    check_output(output, "-o", [args.log])
    if not sweep["searches"]:
        raise ValueError(tables.nothing_finished(sweep))
    if note := tables.unfinished_note(sweep):
        print(note, file=sys.stderr)
    output.parent.mkdir(parents=True, exist_ok=True)
    front = sorted(sweep["pareto"], key=lambda p: p["reg_loss"])
    plots.plot_frontier(sweep["searches"], front, sweep["objective"], output, dominated=args.dominated, size=size,
                        others="fit")
    reference = (sweep.get("hypervolume") or {}).get("reference")
    objective = sweep["objective"]
    hv = tables.front_hypervolume([p["reg_loss"] for p in front], [front_ce(p, objective) for p in front], reference)
    ce, unit = front_ce_name(objective), costlib.unit_of(objective)
    for p in front:
        print(f"{p.get('name', '?'):>28}  nu = {p['weight'][0]:<10.4g} R = {p['reg_loss']:.6g}{unit}, "
              f"{ce} = {front_ce(p, objective):.6g}")
    print(tables.hypervolume_text("the front (penalty R, cross-entropy)", hv, ("R", "CE"), unit))
    print(f"plot: {output}")
    return {"plot": output, "pareto": front,
            "hypervolume": None if hv is None else {"value": hv[0], "reference": list(hv[1])}}


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
