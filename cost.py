"""Hardware-aware objectives: the expected cost of the evaluation network a supernet derives.

A user chooses a network by a budget (parameters, multiply-adds, milliseconds), so the sweep can put
that cost on the architecture step directly, as FBNet and ProxylessNAS do, instead of a weight norm.
The cost of a derived genotype is additive over the evaluation network's parts: fixed parts (stem,
each cell's two preprocessing ops, pooling and classifier) plus, for every cell, the cost of each
kept edge's op at that edge's shape (channels, stride, input side). The supernet's expected cost
replaces the discrete choices by their probabilities:

    R = fixed + sum over cell types t, edges e:  share_t[e] * sum_k p_t[e, k] * T_t[e, k]

with p = softmax(alpha) over the non-`none` ops, share = 2 * edge_softmax(beta) (each node keeps
two edges, so a node's shares sum to 2) and T_t[e, k] the cost of op k on edge e summed over every
cell of type t in the evaluation network. With one-hot alphas and betas that put all of a node's
weight on two edges, R is exactly the cost of the genotype the supernet derives. Parameters are
counted; FLOPs are counted as profiling.py counts them (thop, the thesis's rules), op by op;
latency comes from a lookup table measured by tools/latency_table.py. R_ref, the cost of the
all-sep_conv_3x3 network, scales R so that nu means the same across objectives.

    >>> model = CostModel.build("flops", EvalSpec(36, 10, 20, False))
    >>> model.genotype_cost(genotypes.PC_DARTS_cifar) / 1e6   # M multiply-adds, as profiling.py
    >>> model.expected(*supernet.arch_parameters()) / model.reference
"""

from __future__ import annotations

import argparse
import json
import math
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from cli import FLOAT32_MAX, acts_only, is_imagenet
from genotypes import PRIMITIVES, Genotype
from model import init_channels_error, paper_network
from model_search import edge_softmax
from operations import OPS
from utils import UserError, read_json

__all__ = [
    "COSTS",
    "UNITS",
    "SCALE",
    "OP_NAMES",
    "EvalSpec",
    "CostModel",
    "add_cost_args",
    "add_eval_args",
    "check_cost_args",
    "check_cost_flags_used",
    "TABLE_TIMING",
    "table_command",
    "eval_spec",
    "run_eval_network",
    "cell_shapes",
    "edge_shapes",
    "op_key",
    "load_latency_table",
    "uniform_genotype",
    "unit_of",
]

COSTS = ("params", "flops", "latency")
UNITS = {"params": "M parameters", "flops": "M FLOPs (multiply-adds)", "latency": "ms"}
SCALE = {"params": 1e6, "flops": 1e6, "latency": 1.0}  # raw count -> the unit a sweep reports
OP_NAMES = [p for p in PRIMITIVES if p != "none"]
STEPS = 4


def unit_of(objective: str | None) -> str:
    """What follows a search's R when it is printed: a cost's unit (" M FLOPs (multiply-adds)"), nothing for a
    weight norm, which has none."""
    return f" {UNITS[objective]}" if objective in UNITS else ""


@dataclass(frozen=True)
class EvalSpec:
    """The evaluation network whose cost is optimised: NetworkCIFAR(C, classes, layers) or NetworkImageNet."""

    init_channels: int
    num_classes: int
    layers: int
    imagenet: bool
    image_size: int | None = None  # None: 32, or 224 with imagenet

    @property
    def side(self) -> int:
        """The input side FLOPs and latency are taken at, as profiling.py profiles a run trained at that size:
        the search's --image_size (a sweep's genotypes train at it by default), else 32 (CIFAR) or 224 (ImageNet)."""
        return self.image_size or (224 if self.imagenet else 32)

    def __str__(self) -> str:
        kind = "NetworkImageNet" if self.imagenet else "NetworkCIFAR"
        return f"{kind}({self.init_channels}, {self.num_classes}, {self.layers}) at {self.side}x{self.side}"

    def to_dict(self) -> dict[str, Any]:
        """The evaluation network as result.json and sweep.json record it, with the input it is costed at."""
        return {"init_channels": self.init_channels, "num_classes": self.num_classes, "layers": self.layers,
                "imagenet": self.imagenet, "input": [1, 3, self.side, self.side]}


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    """The evaluation network a cost objective is taken over, and the latency table."""
    g = parser.add_argument_group("hardware cost (with --cost or -o params/flops/latency)")
    g.add_argument("--eval_channels", type=int, default=None,
                   help="init channels of the evaluation network whose cost is optimised (default: 36, ImageNet 48)")
    g.add_argument("--eval_layers", type=int, default=None,
                   help="cells of that evaluation network (default: 20, ImageNet 14)")
    g.add_argument("--latency_table", type=str, default=None,
                   help="lookup table of tools/latency_table.py (needed by the latency objective)")


def add_cost_args(parser: argparse.ArgumentParser) -> None:
    """train_search.py's --cost and --cost_weight (the sweep sets them per search from -o)."""
    g = parser.add_argument_group("cost objective (architecture loss = cw*CE + nu*R(alpha,beta)/R_ref)")
    g.add_argument("--cost", type=str, default=None, choices=list(COSTS),
                   help="put the expected cost of the evaluation network on the architecture step instead of "
                        "an -l1/-l2 penalty on the weights (default: none)")
    g.add_argument("--cost_weight", type=float, default=0.0, metavar="NU",
                   help="nu, the weight of R/R_ref (R_ref: the all-sep_conv_3x3 network's cost)")


def eval_spec(args: argparse.Namespace, num_classes: int, imagenet: bool) -> EvalSpec:
    """The evaluation network of a search: the user's --eval_channels/--eval_layers, else the paper's, at the
    search's --image_size (where batch_train.py trains a sweep's genotypes unless told otherwise)."""
    paper_channels, paper_layers = paper_network(imagenet)
    channels = getattr(args, "eval_channels", None) or paper_channels
    layers = getattr(args, "eval_layers", None) or paper_layers
    side = getattr(args, "image_size", None)
    return EvalSpec(int(channels), int(num_classes), int(layers), bool(imagenet), None if side is None else int(side))


def run_eval_network(folder: str | Path) -> tuple[int, int] | None:
    """(init_channels, layers) of the evaluation network a cost search or sweep folder was costed on (from its
    args.json), else None: its front's parameters, FLOPs and latency are that network's, so the tools that
    train or profile its genotypes default to it."""
    path = Path(folder) / "args.json"
    record = read_json(path) if path.is_file() else None
    saved = record.get("args") if isinstance(record, dict) else None
    if not isinstance(saved, dict) or (saved.get("cost") or saved.get("objective")) not in COSTS:
        return None
    run = argparse.Namespace(**saved)
    spec = eval_spec(run, 0, is_imagenet(run))
    return spec.init_channels, spec.layers


def check_cost_args(args: argparse.Namespace, kind: str | None) -> None:
    """One-line errors for the cost flags, before any run folder exists."""
    for flag in ("eval_channels", "eval_layers"):
        value = getattr(args, flag, None)
        if value is not None and value < (3 if flag == "eval_layers" else 2):
            raise UserError(f"--{flag} {value} is too small (channels >= 2, layers >= 3)")
    channels = getattr(args, "eval_channels", None)
    if channels is not None and (why := init_channels_error(channels, is_imagenet(args))):
        raise UserError(f"--eval_channels {channels} {why}")
    if kind is None:
        return
    if kind not in COSTS:
        raise UserError(f"unknown cost {kind!r}: use one of {', '.join(COSTS)}")
    table = getattr(args, "latency_table", None)
    if kind == "latency":
        if not table:
            classes = {"cifar100": 100, "folder": None}.get(getattr(args, "set", None), 0)  # 0: the tool's default
            raise UserError("the latency objective needs --latency_table TABLE.json (make it for this search's "
                            f"evaluation network with {table_command(eval_spec(args, classes or 0, is_imagenet(args)))}"
                            + (" --num_classes N -o TABLE.json, N the folder's classes)" if classes is None
                               else " -o TABLE.json)"))
        load_latency_table(table)
    weight = getattr(args, "cost_weight", None)
    if weight is not None and not (math.isfinite(weight) and weight >= 0):
        raise UserError(f"--cost_weight {weight} must be a finite number >= 0")


def check_cost_flags_used(args: argparse.Namespace, kind: str | None) -> None:
    """Refuse a cost flag that the run's objective never reads: --cost_weight without --cost would run a plain
    search where a costed one was meant, and an evaluation network or a table beside l1/l2 (or a table beside
    params/flops) would be ignored without a word."""
    given = [f"--{key}" for key in ("eval_channels", "eval_layers", "latency_table") if getattr(args, key, None)]
    if kind is None:
        if getattr(args, "cost_weight", 0.0):
            given.insert(0, "--cost_weight")
        if given:
            raise UserError(acts_only(given, f"on a hardware-cost objective (--cost, or -o {'/'.join(COSTS)}), and "
                                             "this run has none"))
    elif kind != "latency" and getattr(args, "latency_table", None):
        raise UserError(f"--latency_table is read by the latency objective only: {kind} is counted, not timed")


def _half(side: int) -> int:
    return (side + 1) // 2


def cell_shapes(spec: EvalSpec) -> list[tuple[bool, int, int]]:
    """(reduction, channels, input side) of every cell of the evaluation network, in order."""
    side = spec.side
    if spec.imagenet:
        side = _half(_half(_half(side)))  # stem0 (two stride-2 convs) and stem1
    out = []
    channels = spec.init_channels
    for i in range(spec.layers):
        reduction = i in (spec.layers // 3, 2 * spec.layers // 3)
        if reduction:
            channels *= 2
        out.append((reduction, channels, side))
        if reduction:
            side = _half(side)
    return out


def edge_shapes(reduction: bool, channels: int, side: int, steps: int = STEPS) -> list[tuple[int, int, int]]:
    """(channels, stride, input side) of each edge of one cell, in the supernet's edge order."""
    out = []
    for i in range(steps):
        for j in range(2 + i):
            stride = 2 if reduction and j < 2 else 1
            out.append((channels, stride, side if j < 2 or not reduction else _half(side)))
    return out


def op_key(op: str, channels: int, stride: int, side: int) -> str:
    """The latency table's key of one primitive at one shape."""
    return f"{op}/C{channels}/s{stride}/H{side}"


def uniform_genotype(op: str, steps: int = STEPS) -> Genotype:
    """Every node takes ``op`` from the two cell inputs: R_ref's network for sep_conv_3x3."""
    cell = [(op, j) for _ in range(steps) for j in (0, 1)]
    concat = list(range(2, 2 + steps))
    return Genotype(normal=cell, normal_concat=concat, reduce=cell, reduce_concat=concat)


def _op_cost(kind: str, op: str, channels: int, stride: int, side: int) -> float:
    """Parameters or thop FLOPs of one primitive of the evaluation network (affine BatchNorm)."""
    module = OPS[op](channels, stride, True)
    if kind == "params":
        return float(sum(p.numel() for p in module.parameters()))
    from profiling import count_flops

    return float(count_flops(module, (1, channels, side, side)))


def _fixed_cost(kind: str, spec: EvalSpec) -> float:
    """Stem, preprocessing, pooling and classifier: the network whose every op is `none`."""
    from profiling import build_eval_network, count_flops, count_parameters, input_size

    net = build_eval_network(uniform_genotype("none"), spec.init_channels, spec.layers, spec.num_classes,
                             imagenet=spec.imagenet)
    if kind == "params":
        return float(count_parameters(net))
    return float(count_flops(net, input_size(spec.imagenet, side=spec.side)))


def _finite(value: int | float) -> bool:
    """math.isfinite that takes a JSON integer beyond float64 (10**400) as not finite: math.isfinite raised
    OverflowError on it, a traceback where the table deserves a one-line refusal."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def load_latency_table(path: str | Path) -> dict[str, Any]:
    """A table of tools/latency_table.py; a one-line error if it is missing or not such a table."""
    try:
        with open(path) as f:
            table = json.load(f)
        if not isinstance(table.get("ops"), dict) or "fixed_ms" not in table:
            raise ValueError("no 'ops' and 'fixed_ms'")
        # a time that is not a finite number >= 0 (null, a string, NaN from a hand edit) would make R meaningless,
        # and the fixed parts (stem, preprocessing, classifier) take time: the cheapest network's R divides spans
        for key, value in [("fixed_ms", table["fixed_ms"]), *table["ops"].items()]:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (_finite(value) and value >= 0):
                raise ValueError(f"{key} is {reprlib.repr(value)}, not a time in ms")
        if not table["fixed_ms"] > 0:
            raise ValueError("fixed_ms is 0: the stem, preprocessing and classifier take time")
        # the evaluation network it was made for is compared with the search's (check_table_spec): a hand edit that
        # left it a list or a string was a TypeError traceback there
        if not isinstance(table.get("eval"), dict):
            raise ValueError(f"its evaluation network ('eval') is {table.get('eval')!r}, not a mapping")
    except FileNotFoundError:
        raise UserError(f"--latency_table {path}: no such file") from None
    except (OSError, ValueError, AttributeError) as err:
        raise UserError(f"--latency_table {path}: not a latency table of tools/latency_table.py ({err})") from None
    return table


def refuse_another_table(given: str, own_copy: Path, what: str) -> None:
    """A --latency_table typed on the --resume of a latency search or sweep (``what``) must hold the table the run
    copied into its folder, which is the one it reads: a table remade at the recorded path since, or another one,
    is one line (the run's costs, and a sweep's front, are in one table's ms)."""
    if load_latency_table(given) != read_json(own_copy):
        raise UserError(f"--latency_table {given} is not the table this {what} was started with (its copy: "
                        f"{own_copy}): a resumed {what} keeps its table, so that its costs are one table's ms; drop "
                        f"--latency_table, or start a new {what} with this table")


def table_dtype(device: torch.device) -> torch.dtype:
    """float64 for the expected cost, where the device has it: MPS has no float64, and takes float32."""
    return torch.float32 if device.type == "mps" else torch.float64


class CostModel:
    """The additive cost of the evaluation network: per-edge op tables of both cell types plus fixed parts.

    ``tables[t][e, k]`` is op k's cost on edge e summed over the evaluation network's cells of type t
    (t = 0 normal, 1 reduction), in raw units (parameters, multiply-adds, ms); float64 on the CPU
    until ``to``.
    """

    def __init__(self, kind: str, spec: EvalSpec, tables: torch.Tensor, fixed: float):
        self.kind, self.spec = kind, spec
        self.tables = tables
        self.cpu_tables = tables  # float64 on the CPU whatever ``to`` does: the derived genotypes' exact costs
        # the non-`none` ops' columns of the alphas, as a tensor where the tables are: a list index would be copied
        # to the device at every architecture step, which a CUDA graph capturing it (--cuda_graphs) does not allow
        self.keep = torch.tensor([k for k, op in enumerate(PRIMITIVES) if op != "none"], device=tables.device)
        self.fixed = float(fixed)
        self.latency_table: dict[str, Any] | None = None
        self.reference = self.genotype_cost(uniform_genotype("sep_conv_3x3"))

    @classmethod
    def build(cls, kind: str, spec: EvalSpec, latency_table: dict[str, Any] | None = None) -> CostModel:
        """Count (params, FLOPs) or look up (latency) every op at every edge shape of the evaluation network."""
        if kind not in COSTS:
            raise ValueError(f"unknown cost {kind!r}: use one of {', '.join(COSTS)}")
        if kind == "latency":
            if latency_table is None:
                raise UserError("the latency objective needs --latency_table")
            check_table_spec(latency_table, spec)
        n_edges = sum(2 + i for i in range(STEPS))
        tables = torch.zeros(2, n_edges, len(OP_NAMES), dtype=torch.float64)
        cache: dict[tuple[str, int, int, int], float] = {}
        for reduction, channels, side in cell_shapes(spec):
            for e, shape in enumerate(edge_shapes(reduction, channels, side)):
                for k, op in enumerate(OP_NAMES):
                    key = (op, *shape)
                    if key not in cache:
                        cache[key] = (_lookup(latency_table, op, *shape) if kind == "latency"
                                      else _op_cost(kind, op, *shape))
                    tables[int(reduction), e, k] += cache[key]
        fixed = float(latency_table["fixed_ms"]) if kind == "latency" else _fixed_cost(kind, spec)
        built = cls(kind, spec, tables, fixed)
        built.latency_table = latency_table
        # finite entries can still sum past any number the search computes in (a hand edit's 1e308): the search
        # failed on inf or NaN ("lower --learning_rate") or recorded an inf R
        if kind == "latency" and not (built.most() <= FLOAT32_MAX and built.term_bound(1.0) <= FLOAT32_MAX):
            raise UserError(f"the latency table's times are out of range: the costliest network of the space would "
                            f"take {built.most():.4g} ms, {built.term_bound(1.0):.4g} times R_ref "
                            f"({built.reference:.4g} ms), and the search takes R / R_ref (and R on MPS) in float32, "
                            "at most 3.4e38: an entry edited by hand? remake it")
        return built

    def to(self, device: torch.device | str) -> CostModel:
        """Move the tables beside the architecture parameters, so R costs no host transfer per step."""
        device = torch.device(device)
        self.tables = self.cpu_tables.to(device, table_dtype(device))
        self.keep = self.keep.to(device)
        return self

    def expected_from_probs(self, probs: torch.Tensor, shares: torch.Tensor) -> torch.Tensor:
        """R from op probabilities (2 x edges x non-none ops) and edge shares (2 x edges; a node's sum to 2)."""
        return self.fixed + (shares.to(self.tables.dtype)[..., None] * probs.to(self.tables.dtype)
                             * self.tables).sum()

    def expected(self, alphas_normal: torch.Tensor, alphas_reduce: torch.Tensor, betas_normal: torch.Tensor,
                 betas_reduce: torch.Tensor) -> torch.Tensor:
        """The supernet's expected cost (raw units, float64), differentiable in alphas and betas."""
        probs = torch.stack([F.softmax(a.index_select(1, self.keep).to(self.tables.dtype), dim=-1)
                             for a in (alphas_normal, alphas_reduce)])
        shares = torch.stack([2 * edge_softmax(b.to(self.tables.dtype), STEPS) for b in (betas_normal, betas_reduce)])
        return self.expected_from_probs(probs, shares)

    def genotype_cost(self, genotype: Genotype) -> float:
        """The cost of the evaluation network this genotype builds (raw units), from the same tables."""
        total = self.fixed
        tables = self.cpu_tables
        for t, cell in enumerate((genotype.normal, genotype.reduce)):
            concat = genotype.reduce_concat if t else genotype.normal_concat
            if len(cell) != 2 * STEPS or list(concat) != list(range(2, 2 + STEPS)):
                raise ValueError("the cost model covers genotypes of the DARTS space (4 nodes, concat 2..5)")
            for node in range(STEPS):
                offset = sum(2 + i for i in range(node))
                for op, j in cell[2 * node:2 * node + 2]:
                    if op == "none":
                        continue
                    if op not in OP_NAMES or not 0 <= j < 2 + node:
                        raise ValueError(f"the cost model has no entry for ({op!r}, {j}) at node {node}")
                    total += float(tables[t, offset + j, OP_NAMES.index(op)])
        return total

    def extreme_genotype(self, largest: bool) -> Genotype:
        """The genotype of the DARTS space whose network costs most (``largest``) or least.

        The cost adds up over the kept edges, so each node independently takes its two costliest (cheapest)
        edges, each at its costliest (cheapest) op: exact, with no search over genotypes.
        """
        tables = self.cpu_tables
        cells = []
        for t in range(2):
            best, op_index = (tables[t].max(dim=-1) if largest else tables[t].min(dim=-1))
            cell: list[tuple[str, int]] = []
            for node in range(STEPS):
                offset = sum(2 + i for i in range(node))
                edges = sorted(range(2 + node), key=lambda j: float(best[offset + j]), reverse=largest)[:2]
                cell += [(OP_NAMES[int(op_index[offset + j])], j) for j in sorted(edges)]
            cells.append(cell)
        concat = list(range(2, 2 + STEPS))
        return Genotype(normal=cells[0], normal_concat=concat, reduce=cells[1], reduce_concat=concat)

    def most(self) -> float:
        """The most R(alpha, beta) can be for any alphas and betas (raw units): a node's edge shares sum to 2, so
        it adds at most twice its costliest entry."""
        total = self.fixed
        for t in range(2):
            best = self.cpu_tables[t].max(dim=-1).values
            for node in range(STEPS):
                offset = sum(2 + i for i in range(node))
                total += 2 * float(best[offset:offset + 2 + node].max())
        return total

    def term_bound(self, nu: float) -> float:
        """The most the architecture step's cost term nu * R / R_ref can be: it is taken in float32, so beyond
        float32's max it is inf (and the step, its gradients' norm inf, does nothing or fails)."""
        return nu * self.most() / self.reference if nu else 0.0

    def span(self) -> tuple[float, float]:
        """The least and the most any genotype of the space costs (raw units): no front spans more than their ratio."""
        return self.genotype_cost(self.extreme_genotype(False)), self.genotype_cost(self.extreme_genotype(True))

    def describe(self) -> dict[str, Any]:
        """What result.json records about the model."""
        low, high = self.span()
        return {"kind": self.kind, "unit": UNITS[self.kind], "eval": self.spec.to_dict(),
                "reference": self.reference / SCALE[self.kind], "fixed": self.fixed / SCALE[self.kind],
                "range": [low / SCALE[self.kind], high / SCALE[self.kind]]}


TABLE_TIMING = {"min_run_time": 0.2, "rounds": 3}  # tools/latency_table.py's defaults of how long it times


def _setting(table: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``table[key]`` when it is a positive ``kind`` (a bool is no int), else None."""
    value = table.get(key)
    return value if isinstance(value, kind) and not isinstance(value, bool) and value > 0 else None


def table_command(spec: EvalSpec, table: dict[str, Any] | None = None) -> str:
    """The tools/latency_table.py command that times a table for the evaluation network ``spec`` (on ``table``'s
    device, batch, CPU threads and timing, for a remake: a table of one thread remade on torch's default of all the
    cores times other kernels): every flag of the network, since naming only the ones another table got wrong
    would leave the rest at the tool's defaults (36 channels, 20 cells, 32x32), and that table be refused too.
    ``spec.num_classes`` 0: the tool's default."""
    table = table or {}
    device = str(table.get("device") or "cpu")
    kind, _, index = device.partition(":")
    flags = ["--device", kind, *(["--gpu", index] if index not in ("", "0") else [])]
    if (batch := _setting(table, "batch", int)) not in (None, 1):
        flags += ["--batch", str(batch)]
    if kind == "cpu" and (threads := _setting(table, "threads", int)) is not None:
        flags += ["--threads", str(threads)]
    for key, default in TABLE_TIMING.items():
        if (value := _setting(table, key, (int, float) if isinstance(default, float) else int)) not in (None, default):
            flags += [f"--{key}", f"{value:g}"]
    flags += ["--eval_channels", str(spec.init_channels), "--eval_layers", str(spec.layers)]
    if spec.num_classes and spec.num_classes != (1000 if spec.imagenet else 10):
        flags += ["--num_classes", str(spec.num_classes)]
    flags += [*(["--imagenet"] if spec.imagenet else []), "--image_size", str(spec.side)]
    return "tools/latency_table.py " + " ".join(flags)


def check_table_spec(table: dict[str, Any], spec: EvalSpec) -> None:
    """A one-line error unless ``table`` was made for the evaluation network ``spec`` (its keys would not fit)."""
    made = {**(table.get("eval") or {}), "side": table.get("input_side")}
    flags = {"init_channels": "--eval_channels", "num_classes": "--num_classes", "layers": "--eval_layers",
             "imagenet": "--imagenet", "side": "--image_size"}  # tools/latency_table.py's names of each setting
    wrong = [(key, flag, getattr(spec, key)) for key, flag in flags.items() if made.get(key) != getattr(spec, key)]
    if wrong:  # every setting that differs, and a remake's whole command (table_command)
        had = ", ".join(f"{key} = {made.get(key)!r}" for key, _, _ in wrong)
        has = (repr(wrong[0][2]) if len(wrong) == 1 else ", ".join(f"{key} = {want!r}" for key, _, want in wrong))
        raise UserError(f"the latency table was made for {had}, this search's evaluation network has {has}: remake "
                        f"it with {table_command(spec, table)}")
    # every entry the network needs, checked here, before a run or sweep folder exists (not by its first search)
    shapes = {shape for reduction, channels, side in cell_shapes(spec)
              for shape in edge_shapes(reduction, channels, side)}
    missing = sorted({op_key(op, *shape) for shape in shapes for op in OP_NAMES} - set(table["ops"]))
    if missing:
        raise UserError(f"the latency table has no entry {missing[0]}" + (f" (and {len(missing) - 1} more)"
                        if len(missing) > 1 else "") + ": remake it for this evaluation network")
    if not all(table["ops"][op_key("sep_conv_3x3", *shape)] > 0 for shape in shapes):
        raise UserError("the latency table gives sep_conv_3x3 no time at some shape: R_ref, the all-sep_conv_3x3 "
                        "network's latency, scales the objective and must be > 0; remake it")


def _lookup(table: dict[str, Any] | None, op: str, channels: int, stride: int, side: int) -> float:
    key = op_key(op, channels, stride, side)
    try:
        return float(table["ops"][key])  # type: ignore[index]
    except KeyError:
        raise UserError(f"the latency table has no entry {key}: remake it for this evaluation network") from None
