"""Parameters, FLOPs and latency of genotypes as evaluation networks, side by side.

    python tools/profile_genotypes.py --archs PC_DARTS_cifar DARTS_V2 l2_loss_2e01 -o profile.csv
    python tools/profile_genotypes.py --archs logs/multi-search-cifar10-EXP-20260101-000000 --no_latency
    python tools/profile_genotypes.py --archs PC_DARTS_image --imagenet      # NetworkImageNet(48, 1000, 14) at 224x224

--archs takes names, genotype JSON files, run folders, FILE:NAME, and a sweep's genotypes.json or
folder (every genotype in it). The network is NetworkCIFAR(36, 10, 20) at 32x32 (--imagenet: NetworkImageNet),
or, where an entry comes from a cost sweep (-o params/flops/latency), the evaluation network that sweep's front
is counted on, at its image size, for every entry (one table, one network), so that its FLOPs column is the
front's R; else, where an entry is a train.py run folder, the network it trained, at its image size;
--init_channels, --layers, --classes and --image_size choose another.
Columns: Model name, Parameters (no auxiliary head unless
--auxiliary), FLOPs (multiply-adds of one image, as thop counts them; see profiling.py), Latency
CPU (batch 1), Latency GPU (batch 8) and Latency GPU b1 (batch 1), in ms, the GPU ones empty
without a GPU.

Writes the table (-o, CSV) and beside it <stem>_profile.json: what its numbers depend on (the network's
channels, cells and classes, the input size, the FLOPs rules and, where latency was measured, the CPU model,
CPU threads, GPU, torch version and a busy-CPU warning), the rows it measured and when it was made.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python tools/x.py`: import repo modules

if __name__ == "__main__":  # before the imports below: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import pandas as pd  # noqa: E402

import cli  # noqa: E402
import cost as costlib  # noqa: E402
from genotypes import (  # noqa: E402
    GenotypeError,
    genotype_from_dict,
    genotype_label,
    is_genotype_string,
    read_genotype_mapping,
    resolve_genotype,
    stale_front,
)
from model import init_channels_error, input_side_error, paper_network  # noqa: E402
from tools import tables  # noqa: E402
from utils import (  # noqa: E402
    UserError,
    check_output,
    read_json,
    read_run_args,
    resume_command,
    run_folder_kind,
    run_main,
    run_state,
)

COLUMNS = MappingProxyType({"name": "Model name", "parameters": "Parameters", "flops": "FLOPs",
                            "latency_cpu_ms": "Latency CPU", "latency_gpu_ms": "Latency GPU",
                            "latency_gpu_b1_ms": "Latency GPU b1"})


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(description="Parameters, FLOPs and latency of genotypes.",
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("--archs", nargs="+", action="extend", required=True, metavar="ARCH",
                        help="genotype names, JSON files, run folders, FILE:NAME, or a sweep's genotypes.json/folder")
    parser.add_argument("--init_channels", type=int, default=None,
                        help="channels C (36; 48 with --imagenet; a cost sweep's or a trained run's own)")
    parser.add_argument("--layers", type=int, default=None,
                        help="cells (20; 14 with --imagenet; a cost sweep's or a trained run's own)")
    parser.add_argument("--auxiliary", action="store_true",
                        help="build the auxiliary head and count its parameters (FLOPs and latency never run it)")
    parser.add_argument("--classes", type=int, default=None,
                        help="classes of the classifier (10; 1000 with --imagenet; a cost sweep's or a trained "
                             "run's own)")
    parser.add_argument("--imagenet", action="store_true", help="NetworkImageNet at 224x224 instead of NetworkCIFAR")
    parser.add_argument("--image_size", type=int, default=None,
                        help="side of the input images (32; 224 with --imagenet; a cost sweep's or a trained run's "
                             "own): a network trained at 8x8 digits has other FLOPs and latency than at 32x32")
    parser.add_argument("-o", "--output", default="profile.csv", help="the table (CSV)")
    tables.add_profiling_args(parser)
    return parser


def _mapping(path: Path) -> dict[str, Any] | None:
    """name -> genotype dict when ``path`` is a genotypes.json (or a folder holding one), else None."""
    if path.is_dir():
        path = path / "genotypes.json"
    if not path.is_file() or path.suffix != ".json":
        return None
    return read_genotype_mapping(path)  # its entries are checked, each by name, in expand_archs


def _spec_path(spec: str) -> Path:
    """The file or folder an --archs entry reads (FILE:NAME reads FILE)."""
    path = Path(spec)
    if not path.exists() and ":" in spec:
        return Path(spec.rsplit(":", 1)[0])
    return path


def expand_archs(specs: list[str]) -> list[tuple[str, Any]]:
    """(label, genotype) for every --archs entry; a genotypes.json gives all of its genotypes.

    A label that two different genotypes share (a sweep's l2_loss_2e01 beside the thesis's, in genotypes.py)
    names its source too, so that the table's rows can be told apart; the same genotype twice is one row.
    """
    found: list[tuple[str, Any, str]] = []
    for spec in specs:
        path = Path(spec)
        pasted = is_genotype_string(spec)  # a Genotype(...) string is no path (and may be too long for one)
        exists = not pasted and path.exists()
        folder = path.parent if path.name == "log.txt" else path
        if exists and (folder / "sweep.json").is_file() and not (folder / "genotypes.json").exists():
            state = run_state(folder, resume_command("multiobjective.py", folder))
            raise ValueError(f"{folder} is a sweep without its genotypes.json yet (a sweep writes its Pareto-optimal "
                             f"genotypes there at its end: {state}): wait for it, or give the folders of its finished "
                             f"searches ({folder / 'search-*'})")
        mapping = _mapping(folder) if exists else None
        if mapping is not None:
            if stale := stale_front(folder / "genotypes.json" if folder.is_dir() else folder):
                print(f"note: {stale}: the genotypes profiled may leave its front", file=sys.stderr, flush=True)
            for name, g in mapping.items():
                try:
                    found.append((name, genotype_from_dict(g), spec))
                except GenotypeError as err:
                    raise ValueError(f"{spec}:{name}: {err}") from None
            continue
        try:
            source = spec if exists else "pasted" if pasted else "genotypes.py"
            found.append((genotype_label(spec), resolve_genotype(spec), source))
        except GenotypeError as err:
            raise ValueError(str(err)) from None
    out: list[tuple[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for label, genotype, source in found:
        if (label, str(genotype)) in seen:
            continue
        seen.add((label, str(genotype)))
        shared = len({str(g) for name, g, _ in found if name == label}) > 1
        out.append((f"{label} ({source})" if shared else label, genotype))
    return out


def check_run_args(specs: list[str]) -> None:
    """A one-line error for an --archs run folder (or a file in one) whose args.json is damaged: the network
    profiled is the one a run records there, and such a file (one without its "args" object silently, an
    unreadable one with a note) gave the paper's network instead. A folder without args.json (a run older than
    it, or no run) is left to the defaults, as before."""
    for spec in specs:
        path = None if is_genotype_string(spec) else _spec_path(spec)
        folder = path.parent if path is not None and path.is_file() else path
        if folder is None or not (folder / "args.json").is_file():
            continue
        try:
            read_run_args(folder / "args.json")
        except UserError as err:
            raise UserError(f"{err}: restore it (the network profiled is the one the run records there)") from None


def cost_sweep_network(specs: list[str]) -> tuple[str, dict[str, Any] | None]:
    """(a note, settings) of the evaluation network of the cost sweep (or search) that --archs entries come from:
    its front's FLOPs and parameters are that network's, at its image size (a digits demo's 0.0961M FLOPs are
    227M on the paper's network at 32x32). Settings None (and a note saying why, or "" when no entry comes from a
    cost sweep) when two cost sweeps of different networks are given, or one whose records cannot be read."""
    found: dict[tuple, str] = {}
    for spec in specs:
        path = _spec_path(spec)
        folder = path.parent if path.is_file() else path
        if not folder.is_dir():
            continue
        try:
            network = costlib.run_eval_network(folder)
            if network is None:
                continue
            sweep = tables.load_sweep(folder)
        except (UserError, ValueError, OSError) as err:
            return f"{folder}: its records cannot be read ({' '.join(str(err).split())}): the paper's network", None
        found[(*network, sweep["num_classes"], sweep["image_size"], sweep["space"] == "imagenet")] = str(folder)
    return _one_network(found, "cost sweeps of different evaluation networks",
                        "the evaluation network of the cost sweep {} (the front's units; ")


def trained_network(specs: list[str]) -> tuple[str, dict[str, Any] | None]:
    """(a note, settings) of the network that the train.py runs among --archs trained (its channels, cells, classes
    and image side): a researcher profiling a trained model expects that model's size, not the paper's. Settings
    None (and a note saying why, or "" when no entry is a training) when trainings of different networks are given,
    or one whose records cannot be read."""
    found: dict[tuple, str] = {}
    for spec in specs:
        path = _spec_path(spec)
        folder = path.parent if path.is_file() else path
        if not folder.is_dir() or run_folder_kind(folder) != "train":
            continue
        try:
            saved = (read_json(folder / "args.json") or {}).get("args") or {}
            result = read_json(folder / "result.json") if (folder / "result.json").is_file() else None
        except UserError as err:
            return f"{folder}: its records cannot be read ({' '.join(str(err).split())}): the paper's network", None
        imagenet = cli.is_imagenet(argparse.Namespace(**saved))
        classes = result.get("num_classes") if isinstance(result, dict) else None
        network = (saved.get("init_channels"), saved.get("layers"),
                   classes if isinstance(classes, int) else 1000 if imagenet else 10, saved.get("image_size"), imagenet)
        if not all(isinstance(v, int) for v in network[:2]):
            return f"{folder}: its args.json records no network: the paper's network", None
        found[network] = str(folder)
    return _one_network(found, "trainings of different networks", "the network the training {} trained (")


def _one_network(found: dict[tuple, str], several: str, one: str) -> tuple[str, dict[str, Any] | None]:
    """cost_sweep_network's and trained_network's answer from the networks ``found`` ((channels, cells, classes,
    side, imagenet) -> the folder that has it): none, several (the paper's network then), or the one."""
    if not found:
        return "", None
    if len(found) > 1:
        return f"{several} ({', '.join(found.values())}): the paper's network", None
    ((channels, layers, classes, side, imagenet), folder), = found.items()
    return (f"every entry on {one.format(folder)}--init_channels, --layers, --classes and --image_size choose "
            "another)",
            {"init_channels": channels, "layers": layers, "num_classes": classes, "image_size": side,
             "imagenet": imagenet})


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Profile every genotype; returns {"table" (our column names), "csv"}."""
    check_run_args(args.archs)
    note, costed = cost_sweep_network(args.archs)
    if costed is None and not note:  # no cost sweep among the entries: a trained run's own network, if one is
        note, costed = trained_network(args.archs)
    if costed is not None and args.imagenet and not costed["imagenet"]:  # --imagenet asks for another network
        note, costed = "", None
    imagenet = costed["imagenet"] if costed else args.imagenet
    network = costed or {**dict(zip(("init_channels", "layers"), paper_network(imagenet))),
                         "num_classes": 1000 if imagenet else 10, "image_size": None}
    settings = {"init_channels": tables.network_setting(args.init_channels, network["init_channels"],
                                                        "--init_channels"),
                "layers": tables.network_setting(args.layers, network["layers"], "--layers"),
                "num_classes": tables.network_setting(args.classes, network["num_classes"], "--classes")}
    if args.image_size is not None:
        if why := input_side_error(args.image_size, imagenet):
            raise UserError(f"--image_size {args.image_size} {why}")
        settings["image_size"] = args.image_size
    elif network["image_size"] is not None:
        settings["image_size"] = network["image_size"]
    if note:
        print(f"profiled: {note}")
    if why := init_channels_error(settings["init_channels"], imagenet):
        raise UserError(f"--init_channels {settings['init_channels']} {why}")
    archs = expand_archs(args.archs)
    # after the inputs are read (a folder with no genotype is named as such), before any network is built
    inputs = [path for path in map(_spec_path, args.archs) if path.exists()]
    check_output(args.output, "-o", inputs)
    record = check_output(tables.profile_record_path(args.output), "-o (its profile record)", inputs)
    profiler = tables.make_profiler(args, **settings, auxiliary=args.auxiliary, imagenet=imagenet)
    print("settings: " + tables.profile_settings_text(profiler))
    rows = []
    for name, genotype in archs:
        row = {"name": name, **profiler.profile(genotype)}
        rows.append(row)
        print(f"{name}: {row['parameters']:,} parameters, {row['flops']:,} FLOPs", flush=True)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in list(COLUMNS)[3:]:
        df[column] = pd.to_numeric(df[column], errors="coerce")
    out = df.rename(columns=dict(COLUMNS))
    output = Path(args.output)
    tables.write_table(out, output)
    tables.write_profile_record(output, [(profiler, [name for name, _ in archs])])
    print(tables.format_table(out))
    print(f"table: {output}")
    print(f"profile record: {record}")
    return {"table": df, "csv": output, "profile": record}


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
