"""cost.py and --cost: the expected cost equals the derived network's counted cost at one-hot architectures.

The property test builds the real evaluation network (NetworkCIFAR) of a genotype derived from a random
supernet and compares its parameters and FLOPs, as profiling.py counts them, with the cost model's R at
one-hot alphas and betas that put each node's weight on the two kept edges.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import cost
import train
import train_search
from architect import Architect
from genotypes import PRIMITIVES, Genotype, PC_DARTS_cifar, PC_DARTS_image, genotype_from_dict
from model_search import Network
from profiling import build_eval_network, count_flops, count_parameters, input_size

SPEC = cost.EvalSpec(init_channels=8, num_classes=10, layers=5, imagenet=False)
BIG = 1000.0  # softmax of +-BIG logits in float64 is exactly one-hot (exp(-2000) underflows to 0)


def one_hot_arch(genotype) -> list[torch.Tensor]:
    """Logits whose softmax is exactly the genotype: its op on each kept edge, half of each node on those two."""
    out = []
    for cell in (genotype.normal, genotype.reduce):
        alphas = torch.full((14, len(PRIMITIVES)), -BIG, dtype=torch.float64)
        alphas[:, PRIMITIVES.index("max_pool_3x3")] = BIG  # dropped edges: any op, their share is 0
        betas = torch.full((14,), -BIG, dtype=torch.float64)
        for node in range(4):
            offset = sum(2 + i for i in range(node))
            for op, j in cell[2 * node:2 * node + 2]:
                alphas[offset + j] = -BIG
                alphas[offset + j, PRIMITIVES.index(op)] = BIG
                betas[offset + j] = BIG
        out.append((alphas, betas))
    return [out[0][0], out[1][0], out[0][1], out[1][1]]


@pytest.mark.parametrize("kind,side,channels", [("params", None, 8), ("flops", None, 8), ("flops", 8, 8),
                                                ("params", None, 5), ("flops", 8, 5)])  # odd widths build on CIFAR
def test_one_hot_expected_cost_is_the_derived_networks_cost(kind: str, side: int | None, channels: int) -> None:
    spec = cost.EvalSpec(channels, SPEC.num_classes, SPEC.layers, False, image_size=side)
    model = cost.CostModel.build(kind, spec)
    for seed in range(3):
        torch.manual_seed(seed)
        net = Network(8, 10, 5)
        with torch.no_grad():
            for p in net.arch_parameters():
                p.normal_(0.0, 1.0)
        genotype = net.genotype()
        arch = one_hot_arch(genotype)
        with torch.no_grad():  # the one-hot supernet derives the same genotype
            for p, a in zip(net.arch_parameters(), arch):
                p.copy_(a.clamp(-30, 30))
        derived = net.genotype()
        for mine, theirs in ((derived.normal, genotype.normal), (derived.reduce, genotype.reduce)):
            assert [sorted(mine[i:i + 2]) for i in range(0, 8, 2)] == [sorted(theirs[i:i + 2]) for i in range(0, 8, 2)]
        real_net = build_eval_network(genotype, channels, SPEC.layers, SPEC.num_classes)
        real = count_parameters(real_net) if kind == "params" else count_flops(real_net, input_size(side=spec.side))
        assert float(model.expected(*arch)) == real
        assert model.genotype_cost(genotype) == real


@pytest.mark.parametrize("imagenet,side", [(False, 16), (True, 64)])
def test_flops_at_the_search_image_size_are_profilings(imagenet: bool, side: int) -> None:
    """A search at another --image_size is costed as profiling.py counts the network trained at that size."""
    model = cost.CostModel.build("flops", cost.EvalSpec(12, 100, 8, imagenet, image_size=side))
    for genotype in (PC_DARTS_cifar, PC_DARTS_image):
        net = build_eval_network(genotype, 12, 8, 100, imagenet=imagenet)
        assert model.genotype_cost(genotype) == count_flops(net, input_size(imagenet, side=side))


def test_reference_is_the_sep_conv_3x3_network_and_published_genotypes_match() -> None:
    assert str(SPEC) == "NetworkCIFAR(8, 10, 5) at 32x32"
    assert str(cost.EvalSpec(48, 1000, 14, True)) == "NetworkImageNet(48, 1000, 14) at 224x224"
    model = cost.CostModel.build("flops", SPEC)
    ref_net = build_eval_network(cost.uniform_genotype("sep_conv_3x3"), 8, 5, 10)
    assert model.reference == count_flops(ref_net)
    assert model.genotype_cost(PC_DARTS_cifar) == count_flops(build_eval_network(PC_DARTS_cifar, 8, 5, 10))
    params = cost.CostModel.build("params", cost.EvalSpec(36, 10, 20, False))
    assert params.genotype_cost(PC_DARTS_cifar) == count_parameters(build_eval_network(PC_DARTS_cifar))
    imagenet = cost.CostModel.build("params", cost.EvalSpec(48, 1000, 14, True))
    assert imagenet.genotype_cost(PC_DARTS_image) == count_parameters(
        build_eval_network(PC_DARTS_image, 48, 14, 1000, imagenet=True))


@pytest.mark.parametrize("kind", ["params", "flops", "latency"])
def test_the_span_of_the_space_bounds_every_genotype_and_is_reached(kind: str) -> None:
    model = cost.CostModel.build(kind, SPEC) if kind != "latency" else cost.CostModel(
        "latency", SPEC, torch.rand(2, 14, len(cost.OP_NAMES), dtype=torch.float64,
                                    generator=torch.Generator().manual_seed(0)), 0.5)
    low, high = model.span()
    assert low == model.genotype_cost(model.extreme_genotype(False))
    assert high == model.genotype_cost(model.extreme_genotype(True))
    rng = torch.Generator().manual_seed(1)
    for _ in range(300):  # random genotypes of the space: two distinct inputs per node, any op
        cells = []
        for _ in range(2):
            cell = []
            for node in range(4):
                inputs = torch.randperm(2 + node, generator=rng)[:2].tolist()
                cell += [(cost.OP_NAMES[int(torch.randint(len(cost.OP_NAMES), (1,), generator=rng))], j)
                         for j in inputs]
            cells.append(cell)
        g = Genotype(normal=cells[0], normal_concat=[2, 3, 4, 5], reduce=cells[1], reduce_concat=[2, 3, 4, 5])
        assert low <= model.genotype_cost(g) <= high
    if kind != "latency":  # convolutions cost most at 5x5 separable, pooling and identity nothing
        assert high == model.genotype_cost(cost.uniform_genotype("sep_conv_5x5")) and low == model.fixed
        real = build_eval_network(model.extreme_genotype(True), 8, 5, 10)
        assert high == (count_parameters(real) if kind == "params" else count_flops(real))
    assert model.describe()["range"] == [low / cost.SCALE[kind], high / cost.SCALE[kind]]
    # most(), the bound the float32 checks take, bounds the expected R of any alphas and betas, not only genotypes
    assert high <= model.most()
    for scale in (1.0, 10.0, 1000.0):
        arch = [scale * torch.randn(14, len(PRIMITIVES), generator=rng) for _ in range(2)]
        arch += [scale * torch.randn(14, generator=rng) for _ in range(2)]
        assert float(model.expected(*arch)) <= model.most() * (1 + 1e-12)


def test_expected_cost_is_differentiable_and_prefers_cheap_ops() -> None:
    model = cost.CostModel.build("params", SPEC)
    arch = [torch.zeros(14, len(PRIMITIVES), requires_grad=True) for _ in range(2)]
    betas = [torch.zeros(14, requires_grad=True) for _ in range(2)]
    model.expected(*arch, *betas).backward()
    grad = arch[0].grad
    assert grad[:, PRIMITIVES.index("none")].abs().max() == 0  # `none` is outside the distribution
    assert (grad[:, PRIMITIVES.index("sep_conv_5x5")] > 0).all()
    assert (grad[:, PRIMITIVES.index("max_pool_3x3")] < 0).all()
    assert betas[1].grad.abs().sum() > 0  # in a reduction cell, strided edges cost differently


def test_cost_tables_fit_every_device_and_keep_exact_costs() -> None:
    """MPS has no float64: the device copy is float32 there, while derived genotypes stay costed exactly."""
    assert cost.table_dtype(torch.device("mps")) == torch.float32
    assert cost.table_dtype(torch.device("cpu")) == cost.table_dtype(torch.device("cuda")) == torch.float64
    model = cost.CostModel.build("flops", SPEC)
    exact = model.genotype_cost(PC_DARTS_cifar)
    model.to("cpu")
    model.cpu_tables = model.cpu_tables.clone()
    model.tables = model.tables.float()  # as on MPS
    assert model.genotype_cost(PC_DARTS_cifar) == exact and model.cpu_tables.dtype == torch.float64


def fake_table(spec: cost.EvalSpec) -> dict:
    """A latency table whose every entry is its op's index + 1 ms and whose fixed part is 0.5 ms."""
    ops = {}
    for reduction, channels, side in cost.cell_shapes(spec):
        for shape in cost.edge_shapes(reduction, channels, side):
            for k, op in enumerate(cost.OP_NAMES):
                ops[cost.op_key(op, *shape)] = k + 1.0
    return {"ops": ops, "fixed_ms": 0.5, "eval": {k: v for k, v in spec.to_dict().items() if k != "input"},
            "input_side": spec.side}


def test_latency_model_sums_the_table_and_rejects_another_network() -> None:
    table = fake_table(SPEC)
    model = cost.CostModel.build("latency", SPEC, table)
    genotype = cost.uniform_genotype("sep_conv_3x3")
    per_op = cost.OP_NAMES.index("sep_conv_3x3") + 1.0
    assert model.genotype_cost(genotype) == 0.5 + SPEC.layers * 8 * per_op
    with pytest.raises(cost.UserError, match="init_channels"):
        cost.CostModel.build("latency", cost.EvalSpec(16, 10, 5, False), table)
    with pytest.raises(cost.UserError, match="side = 32, this search's evaluation network has 8"):
        cost.CostModel.build("latency", cost.EvalSpec(8, 10, 5, False, image_size=8), table)
    del table["ops"][next(iter(table["ops"]))]
    with pytest.raises(cost.UserError, match="no entry"):
        cost.CostModel.build("latency", SPEC, table)


@pytest.mark.parametrize("edit, says", [
    (lambda t: t["ops"].pop(next(iter(t["ops"]))), "the latency table has no entry "),
    (lambda t: t.update(fixed_ms=0.0), "fixed_ms is 0"),
    (lambda t: t["ops"].update({k: 0.0 for k in t["ops"] if k.startswith("sep_conv_3x3/")}), "R_ref"),
    # finite times that sum past float32 (or past float64: inf), or dwarf R_ref by more than float32 holds
    (lambda t: t["ops"].update({"dil_conv_5x5/C4/s1/H8": 1e308}), "out of range"),
    (lambda t: t.update(fixed_ms=1e308), "out of range"),
    (lambda t: t.update(fixed_ms=1e-300, ops={k: 1.0 if k.startswith("dil_conv_5x5/") else 1e-300
                                              for k in t["ops"]}), "out of range"),
])
def test_a_latency_table_that_cannot_cost_the_network_is_refused_before_the_sweep_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture, edit, says: str) -> None:
    """A table missing one entry passed the sweep's check of its network record, left a sweep folder whose own
    copy of the table no --resume could mend, and stopped at its first search; zero times made a traceback."""
    import multiobjective
    from utils import run_main

    spec = cost.EvalSpec(4, 10, 5, False, image_size=8)
    table = fake_table(spec)
    edit(table)
    (tmp_path / "t.json").write_text(json.dumps(table))
    args = sweep_parse(["-o", "latency", "--max_searches", "1", "cifar", *SWEEP_SEARCH[:-4], "--eval_channels", "4",
                        "--eval_layers", "5", "--latency_table", str(tmp_path / "t.json"), "--logdir",
                        str(tmp_path / "logs")])
    assert run_main(multiobjective.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and says in err and "\n" not in err
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("value", [None, "fast", float("nan"), -1.0, True,
                                   pytest.param(10**400, id="an-int-beyond-float64-was-an-OverflowError")])
def test_latency_table_with_a_value_that_is_not_a_time_is_refused(tmp_path: Path, value) -> None:
    table = fake_table(SPEC)
    key = next(iter(table["ops"]))
    for where in ("ops", "fixed_ms"):
        bad = json.loads(json.dumps(table))
        if where == "ops":
            bad["ops"][key] = value
        else:
            bad["fixed_ms"] = value
        path = tmp_path / "t.json"
        path.write_text(json.dumps(bad))
        name = re.escape(key if where == "ops" else "fixed_ms")
        with pytest.raises(cost.UserError, match=rf"^--latency_table .*t\.json: not a latency table .*\({name} is "):
            cost.load_latency_table(path)


def _scaled_cost(model: cost.CostModel, net: Network):
    def arch_cost() -> torch.Tensor:
        return 0.3 * model.expected(*net.arch_parameters()).float() / model.reference
    return arch_cost


@pytest.mark.parametrize("unrolled", [False, True])
def test_architect_adds_the_cost_gradient(unrolled: bool) -> None:
    model = cost.CostModel.build("params", SPEC)
    grads = []
    for with_cost in (False, True):
        torch.manual_seed(0)
        net = Network(8, 4, 3)
        opt = torch.optim.SGD(net.weights(), lr=0.1, momentum=0.9)
        arch_cost = _scaled_cost(model, net)
        architect = Architect(net, lambda lg, t, w: F.cross_entropy(lg, t), momentum=0.9, weight_decay=0.0,
                              arch_learning_rate=0.0, arch_weight_decay=0.0,
                              arch_cost=arch_cost if with_cost else None)
        x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
        architect.step(x, y, x, y, 0.1, opt, unrolled=unrolled)
        grads.append([p.grad.clone() for p in net.arch_parameters()])
        if with_cost:
            expected = torch.autograd.grad(arch_cost(), net.arch_parameters())
    for without, with_, direct in zip(*grads, expected):
        torch.testing.assert_close(with_ - without, direct, rtol=1e-4, atol=1e-6)


TINY = ["--set", "digits", "--image_size", "8", "--layers", "3", "--init_channels", "4", "--batch_size", "64",
        "--subsample", "0.3", "--begin", "0", "--arch_learning_rate", "0.05", "--no_progress", "--device", "cpu",
        "--workers", "0", "--eval_channels", "8", "--eval_layers", "5", "--epochs", "1"]


def test_cost_search_unrolls_the_weight_steps_own_loss() -> None:
    """--unrolled with a cost: the held-out loss is cw * CE + cost, but the virtual weight step (and the
    Hessian-vector product) must be the step the weights really take, on plain CE."""
    args = train_search.build_parser().parse_args([*TINY, "--cost", "flops", "--cost_weight", "0.5", "-cw", "0.5",
                                                    "--unrolled"])
    search = train_search.build_search(args, 10, torch.device("cpu"), cost.CostModel.build("flops", SPEC))
    assert search.architect.loss_fn.criterion_weight == 0.5
    assert search.architect.train_loss_fn is search.penalty and search.penalty.criterion_weight == 1.0


def test_search_with_cost_records_the_derived_networks_cost(tmp_path: Path) -> None:
    args = train_search.build_parser().parse_args(
        [*TINY, "--logdir", str(tmp_path), "--cost", "flops", "--cost_weight", "0.5", "-cw", "0.5"])
    result = train_search.main(args)
    genotype = genotype_from_dict(result["genotype"])
    at_8x8 = input_size(side=8)  # the search's --image_size: a sweep's genotypes train at it by default
    real = count_flops(build_eval_network(genotype, 8, 5, 10), at_8x8) / 1e6
    assert result["objective"] == "flops" and result["weight"] == [0.5, 0.5]
    assert result["reg_loss"] == pytest.approx(real) and result["cost"]["flops_M"] == pytest.approx(real)
    assert result["cost"]["params_M"] == pytest.approx(count_parameters(build_eval_network(genotype, 8, 5, 10)) / 1e6)
    assert result["cost"]["reference"] == pytest.approx(
        count_flops(build_eval_network(cost.uniform_genotype("sep_conv_3x3"), 8, 5, 10), at_8x8) / 1e6)
    assert result["cost"]["eval"]["input"] == [1, 3, 8, 8]
    rows = (Path(result["run_dir"]) / "metrics.csv").read_text().splitlines()
    assert rows[0].endswith(",flops_loss") and float(rows[1].rsplit(",", 1)[1]) > 0
    assert json.loads((Path(result["run_dir"]) / "result.json").read_text())["cost"]["kind"] == "flops"
    log = (Path(result["run_dir"]) / "log.txt").read_text()
    assert "architecture step: 0.5 * held-out CE + 0.5 * R / R_ref\n" in log
    # no --cost_weight: the cost is recorded, and the log says that it is not penalised
    measured = train_search.main(train_search.build_parser().parse_args([*TINY, "--logdir", str(tmp_path / "zero"),
                                                                          "--cost", "flops"]))
    assert ("architecture step: 1 * held-out CE + 0 * R / R_ref (--cost_weight 0: the cost is measured, not "
            "penalised)") in (Path(measured["run_dir"]) / "log.txt").read_text()


def test_cost_flag_errors_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    parse = train_search.build_parser().parse_args
    with pytest.raises(cost.UserError, match="replaces the -l1/-l2"):
        train_search.main(parse([*TINY, "--logdir", str(tmp_path), "--cost", "flops", "-l2", "0.1"]))
    # the hint makes a table for this search's evaluation network, not the tool's default NetworkCIFAR(36, 10, 20)
    with pytest.raises(cost.UserError, match=r"needs --latency_table TABLE.json \(make it for this search's evaluation "
                                              r"network with tools/latency_table.py --device cpu --eval_channels 8 "
                                              r"--eval_layers 5 --image_size 8 -o TABLE.json\)$"):
        train_search.main(parse([*TINY, "--logdir", str(tmp_path), "--cost", "latency"]))
    with pytest.raises(cost.UserError, match="no such file"):
        train_search.main(parse([*TINY, "--logdir", str(tmp_path), "--cost", "latency",
                                 "--latency_table", str(tmp_path / "missing.json")]))
    with pytest.raises(cost.UserError, match="cost_weight"):
        train_search.main(parse([*TINY, "--logdir", str(tmp_path), "--cost", "params", "--cost_weight", "-1"]))
    # finite, but nu * R / R_ref in float32 was inf: NaN gradients, and a cell recorded that the cost never shaped
    with pytest.raises(cost.UserError, match=r"^--cost_weight 1e\+39 is too large: nu \* R / R_ref can reach "):
        train_search.main(parse([*TINY, "--logdir", str(tmp_path), "--cost", "flops", "--cost_weight", "1e39"]))
    odd = [*TINY[:TINY.index("--eval_channels")], "--eval_channels", "5", *TINY[TINY.index("--eval_channels") + 2:]]
    with pytest.raises(cost.UserError, match="--eval_channels 5 must be even on ImageNet"):
        train_search.main(parse([*odd, "--set", "imagenet", "--data", str(tmp_path / "none"), "--image_size", "32",
                                 "--logdir", str(tmp_path), "--cost", "flops"]))
    assert not list(tmp_path.iterdir())


def test_a_cost_search_whose_architecture_loss_is_zero_is_refused(tmp_path: Path) -> None:
    """--cost with -cw 0 and no --cost_weight (0) ran a whole search whose architecture loss was 0: its cell came from
    the initial alphas, as --arch_learning_rate 0 (refused) would; a sweep's searches have nu + cw = 1."""
    parse = train_search.build_parser().parse_args
    with pytest.raises(cost.UserError, match=r"^--cost flops --cost_weight 0 -cw 0: the architecture step's loss"):
        train_search.main(parse([*TINY, "--logdir", str(tmp_path), "--cost", "flops", "-cw", "0"]))
    assert not list(tmp_path.iterdir())
    train_search.validate_search_args(parse([*TINY, "--cost", "flops", "-cw", "0", "--cost_weight", "1"]))


def test_a_cost_searchs_result_line_names_its_fronts_cross_entropy() -> None:
    """A cost search's front takes the held-out CE; its result line printed the training CE as 'CE' beside R, with
    no unit, as if that were the front's point."""
    common = {"criterion_loss": 1.25331, "valid_loss": 1.21564, "reg_loss": 1.368007}
    cost_result = {**common, "objective": "latency", "cost": {"unit": "ms"}}
    assert train_search.result_losses(cost_result) == "train CE 1.2533, held-out CE 1.2156, latency 1.368 ms"
    assert train_search.result_losses({**common, "objective": "l2"}) == "CE 1.2533, l2 1.368"  # the thesis's


def test_a_resumed_cost_search_reads_its_objective_from_its_folder(tmp_path: Path) -> None:
    """train_search.py --resume RUN --latency_table T (or --cost_weight, --eval_channels) of a latency search said
    'this run has none' (no hardware-cost objective): the check read the command line, not the run's args.json."""
    parse = train_search.build_parser().parse_args
    spec = cost.EvalSpec(8, 10, 5, False, image_size=8)
    table = tmp_path / "table.json"
    table.write_text(json.dumps(fake_table(spec)))
    first = train_search.main(parse([*TINY, "--logdir", str(tmp_path / "logs"), "--cost", "latency",
                                     "--cost_weight", "0.5", "--latency_table", str(table)]))
    run = first["run_dir"]
    again = train_search.main(parse(["--resume", run, "--latency_table", str(table), "--cost_weight", "0.5",
                                     "--eval_channels", "8"]))
    assert again == first  # finished: its result stands
    with pytest.raises(cost.UserError, match=r"^--cost_weight 0\.3 \(the run has --cost_weight 0\.5\): a resumed run"):
        train_search.main(parse(["--resume", run, "--cost_weight", "0.3"]))


def test_a_resumed_latency_search_refuses_a_typed_table_that_is_not_its_own(tmp_path: Path) -> None:
    """train_search.py --resume RUN --latency_table T, T remade since the run began: resume_args compared only the
    path, and the search went on with its own copy, the table typed ignored without a word (a sweep refuses it)."""
    from utils import save_args

    parse = train_search.build_parser().parse_args
    spec = cost.EvalSpec(8, 10, 5, False, image_size=8)
    table = tmp_path / "table.json"
    table.write_text(json.dumps(fake_table(spec)))
    run = tmp_path / "search-EXP"
    run.mkdir()
    save_args(parse([*TINY, "--cost", "latency", "--latency_table", str(table)]), run, torch.device("cpu"),
              kind="search")
    (run / "latency_table.json").write_text(json.dumps(fake_table(spec)))  # the copy the run made at its start
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    resumed, _ = train_search._resolve_args(parse(["--resume", str(run), "--latency_table", str(table)]))
    assert resumed.latency_table == str(table)  # the same table: resumed as before
    remade = fake_table(spec)
    remade["fixed_ms"] = 0.7
    table.write_text(json.dumps(remade))
    with pytest.raises(cost.UserError, match=r"^--latency_table .*table\.json is not the table this search was started "
                                             r"with \(its copy: .*latency_table\.json\)"):
        train_search._resolve_args(parse(["--resume", str(run), "--latency_table", str(table)]))
    train_search._resolve_args(parse(["--resume", str(run)]))  # none typed: the run's own copy, as before
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.parametrize("extra,match", [
    (["--cost_weight", "0.5"], r"^--cost_weight and --eval_channels and --eval_layers act only on a hardware-cost"),
    (["--latency_table", "t.json"], r"--latency_table act only on"),
    (["--cost", "flops", "--latency_table", "t.json"], r"^--latency_table is read by the latency objective only"),
])
def test_a_cost_flag_the_search_never_reads_is_refused(tmp_path: Path, extra: list[str], match: str) -> None:
    """--cost_weight without --cost would run a plain search where a costed one was meant; a table or an
    evaluation network that the objective ignores is a mistake too: one line, before anything is written."""
    with pytest.raises(cost.UserError, match=match):
        train_search.main(train_search.build_parser().parse_args([*TINY, "--logdir", str(tmp_path), *extra]))
    assert not list(tmp_path.iterdir())


SWEEP_SEARCH = ["--set", "digits", "--image_size", "8", "--layers", "3", "--init_channels", "4", "--batch_size", "64",
                "--subsample", "0.2", "--epochs", "1", "--begin", "0", "--arch_learning_rate", "0.05",
                "--weight_decay", "0", "--no_progress", "--device", "cpu", "--workers", "0", "--threads", "1",
                "--eval_channels", "8", "--eval_layers", "5"]


def sweep_parse(argv: list[str]):
    import multiobjective

    return multiobjective.build_parser().parse_args(argv)


def _check_cost_records(searches: list[dict], kind: str) -> None:
    for s in searches:
        assert s["status"] == "done" and s["cost"]["kind"] == kind and s["cost"]["nu"] == s["weight"][0]
        real = count_flops(build_eval_network(genotype_from_dict(s["genotype"]), 8, 5, 10), input_size(side=8)) / 1e6
        assert s["reg_loss"] == pytest.approx(real) and s["cost"]["unit"] == cost.UNITS[kind]


def copy_sweep(run_dir: Path, into: Path) -> Path:
    """A copy of a shared sweep folder, for a test that resumes or edits it (the shared one stays as it was)."""
    into.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(run_dir, into / run_dir.name))


def rebased(searches: list[dict], run_dir: Path) -> list[dict]:
    """Search records as a sweep copied to run_dir holds them once resumed there (rebase_run_dirs)."""
    return [{**s, "run_dir": str(run_dir / Path(s["run_dir"]).name)} for s in searches]


@pytest.fixture(scope="module")
def latency_sweep_begun(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A latency sweep of one search on fake_table, as `--max_searches 1` leaves it: one real sweep for the tests
    that resume it, each in its own copy (copy_latency_sweep)."""
    import multiobjective

    root = tmp_path_factory.mktemp("latency-sweep")
    table_path = root / "table.json"
    table_path.write_text(json.dumps(fake_table(cost.EvalSpec(8, 10, 5, False, image_size=8))))
    state = multiobjective.main(sweep_parse(["-o", "latency", "--max_searches", "1", "cifar", *SWEEP_SEARCH,
                                             "--logdir", str(root / "logs"), "--save", "lat", "--latency_table",
                                             str(table_path)]))
    (run_dir,) = (root / "logs").glob("multi-search-digits-lat-*")
    return {"state": state, "run_dir": run_dir, "table": table_path}


def copy_latency_sweep(begun: dict, tmp_path: Path) -> tuple[dict, Path, Path]:
    """The begun latency sweep's state (a copy), and copies of its folder (under tmp_path/logs) and of the table it
    was started with (tmp_path/table.json)."""
    table_path = tmp_path / "table.json"
    shutil.copyfile(begun["table"], table_path)
    return copy.deepcopy(begun["state"]), copy_sweep(begun["run_dir"], tmp_path / "logs"), table_path


@pytest.fixture(scope="module")
def flops_sweep_begun(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """A flops sweep of one search, as `--max_searches 1` leaves it (its state and folder): one real sweep for the
    tests that resume it, each in its own copy."""
    import multiobjective

    logdir = tmp_path_factory.mktemp("flops-sweep")
    state = multiobjective.main(sweep_parse(["-o", "flops", "-d", "0.1", "--max_searches", "1", "cifar",
                                             *SWEEP_SEARCH, "--logdir", str(logdir), "--save", "c"]))
    (run_dir,) = logdir.glob("multi-search-digits-c-*")
    return state, run_dir


def test_latency_sweep_keeps_its_own_table(tmp_path: Path, latency_sweep_begun: dict) -> None:
    """The sweep copies --latency_table into its folder: a table remade or deleted before a resume can neither
    put a second table's units on the front nor fail the resumed searches; a table made for another network
    is refused before the folder exists."""
    import multiobjective

    spec = cost.EvalSpec(8, 10, 5, False, image_size=8)
    table_path = tmp_path / "table.json"
    table_path.write_text(json.dumps(fake_table(spec)))
    argv = ["-o", "latency", "--max_searches", "1", "cifar", *SWEEP_SEARCH, "--logdir", str(tmp_path / "logs"),
            "--save", "lat", "--latency_table", str(table_path)]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(fake_table(cost.EvalSpec(8, 10, 4, False, image_size=8))))
    # the remake's whole command: naming only the flag that differs (--eval_layers 5) made a table of the tool's
    # default 36 channels at 32x32, refused again (and on the old table's device and batch, not the CPU's)
    remake = "remake it with tools/latency_table.py --device cpu --eval_channels 8 --eval_layers 5 --image_size 8$"
    with pytest.raises(cost.UserError, match="made for layers = 4, this search's evaluation network has 5: " + remake):
        multiobjective.main(sweep_parse([*argv[:-1], str(other)]))
    assert not (tmp_path / "logs").exists()
    other.write_text(json.dumps({**fake_table(cost.EvalSpec(8, 10, 5, False, image_size=16)), "device": "cuda:1",
                                 "batch": 8}))
    with pytest.raises(cost.UserError, match="made for side = 16, .* has 8: remake it with tools/latency_table.py "
                                              "--device cuda --gpu 1 --batch 8 --eval_channels 8 --eval_layers 5 "
                                              "--image_size 8$"):
        multiobjective.main(sweep_parse([*argv[:-1], str(other)]))
    # a CPU table is remade as it was timed: one thread (not torch's default of every core), its own timing
    other.write_text(json.dumps({**fake_table(cost.EvalSpec(8, 10, 4, False, image_size=8)), "device": "cpu",
                                 "batch": 1, "threads": 1, "min_run_time": 0.1, "rounds": 3}))
    with pytest.raises(cost.UserError, match="remake it with tools/latency_table.py --device cpu --threads 1 "
                                              "--min_run_time 0.1 --eval_channels 8 --eval_layers 5 --image_size 8$"):
        multiobjective.main(sweep_parse([*argv[:-1], str(other)]))
    # every setting that differs is named
    other.write_text(json.dumps(fake_table(cost.EvalSpec(8, 10, 4, True, image_size=16))))
    with pytest.raises(cost.UserError, match=r"made for layers = 4, imagenet = True, side = 16, this search's "
                                              r"evaluation network has layers = 5, imagenet = False, side = 8: "
                                              + remake):
        multiobjective.main(sweep_parse([*argv[:-1], str(other)]))

    # the sweep of argv (its folder and table: this test's copies of latency_sweep_begun's, to remake and delete)
    state, run_dir, table_path = copy_latency_sweep(latency_sweep_begun, tmp_path)
    assert state["args"]["latency_table"] == str((latency_sweep_begun["run_dir"] / "latency_table.json").resolve())
    pinned = run_dir / "latency_table.json"
    assert json.loads(pinned.read_text()) == fake_table(spec)
    doubled = fake_table(spec)
    doubled["ops"] = {k: 10 * v for k, v in doubled["ops"].items()}
    table_path.write_text(json.dumps(doubled))  # remade after the sweep began: the sweep keeps its own
    resumed = multiobjective.main(sweep_parse(["--resume", str(run_dir), "--max_searches", "2"]))
    assert [s["status"] for s in resumed["searches"]] == ["done", "done"]
    assert resumed["searches"][1]["cost"]["reference"] == resumed["searches"][0]["cost"]["reference"]
    table_path.unlink()
    pinned.unlink()
    with pytest.raises(cost.UserError, match=r"^--latency_table .*: no such file$"):
        multiobjective.main(sweep_parse(["--resume", str(run_dir), "--max_searches", "3"]))
    assert len(json.loads((run_dir / "sweep.json").read_text())["searches"]) == 2


def test_a_latency_sweep_resumes_with_the_table_it_was_started_with(tmp_path: Path,
                                                                     latency_sweep_begun: dict) -> None:
    """The sweep records its own copy's path, so --resume with the command's own --latency_table (or the copy, by
    a relative path) was refused as if it were another table; another table is still one line, nothing changed."""
    import multiobjective

    spec = cost.EvalSpec(8, 10, 5, False, image_size=8)
    _, run_dir, table_path = copy_latency_sweep(latency_sweep_begun, tmp_path)  # started with table_path's table
    assert json.loads(table_path.read_text()) == fake_table(spec)
    copy_by_another_path = Path(os.path.relpath(run_dir / "latency_table.json"))
    for same in (table_path, copy_by_another_path):
        resumed = multiobjective.main(sweep_parse(["--resume", str(run_dir), "--max_searches", "1", "cifar",
                                                   "--latency_table", str(same)]))
        assert len(resumed["searches"]) == 1
    before = (run_dir / "sweep.json").read_text()
    other = fake_table(spec)
    other["fixed_ms"] = 0.7
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(cost.UserError, match=r"^--latency_table .*other\.json is not the table this sweep was "
                                             r"started with \(its copy: .*latency_table\.json\)"):
        multiobjective.main(sweep_parse(["--resume", str(run_dir), "--max_searches", "2", "cifar",
                                         "--latency_table", str(tmp_path / "other.json")]))
    assert (run_dir / "sweep.json").read_text() == before
    assert json.loads((run_dir / "latency_table.json").read_text()) == fake_table(spec)


def test_flops_sweep_names_units_and_resume(tmp_path: Path, flops_sweep_begun: tuple[dict, Path]) -> None:
    import multiobjective

    state, begun = copy.deepcopy(flops_sweep_begun)  # -o flops -d 0.1 --max_searches 1: resumed in a copy
    run_dir = copy_sweep(begun, tmp_path)
    assert state["objective"] == "flops" and len(state["searches"]) == 1
    _check_cost_records(state["searches"], "flops")
    names = [p["name"] for p in state["pareto"]]
    assert names and all(n.startswith("flops_loss_") for n in names)
    assert list(json.loads((run_dir / "genotypes.json").read_text())) == names
    first = rebased(state["searches"], run_dir)
    resumed = multiobjective.main(sweep_parse(["--resume", str(run_dir), "--max_searches", "2"]))
    assert len(resumed["searches"]) == 2 and resumed["searches"][:1] == first
    # a cost sweep starts from both single-objective optima (nu = 1: the cost alone on the architecture step)
    assert [s["weight"] for s in resumed["searches"]] == [[1.0, 0.0], [0.0, 1.0]]
    assert names == ["flops_loss_1e00"] and resumed["searches"][0]["cost"]["nu"] == 1.0
    # NISE sees R / R_ref, the scale of the search's loss nu * R / R_ref; the records keep M FLOPs
    seen = [e["result"] for e in resumed["estimator"]["results"]]
    assert [r["reg_loss"] for r in seen] == pytest.approx(
        [s["reg_loss"] / s["cost"]["reference"] for s in resumed["searches"]])
    assert [p["reg_loss"] for p in resumed["pareto"]] == pytest.approx(
        [next(s for s in resumed["searches"] if s["weight"] == p["weight"])["cost"]["flops_M"]
         for p in resumed["pareto"]])
    _check_cost_records(resumed["searches"], "flops")
    ref_r, ref_ce = resumed["hypervolume"]["reference"]  # the sweep's point: R in its unit, as --reference takes it
    assert (f"(reference point R = {ref_r:.6g} M FLOPs (multiply-adds), held-out CE = {ref_ce:.6g})"
            in (run_dir / "log.txt").read_text())
    # its genotypes train on the evaluation network they were costed on (8 channels, 5 cells) unless told
    # otherwise, so the trained network's parameters are the front's
    arch = f"{run_dir}/genotypes.json:{names[0]}"
    trained = train.main(train.build_parser().parse_args(
        ["--arch", arch, "--epochs", "1", "--batch_size", "64", "--subsample", "0.2", "--no_progress",
         "--device", "cpu", "--logdir", str(tmp_path / "eval")]))
    assert trained["model_size"] == pytest.approx(resumed["pareto"][0]["cost"]["params_M"])
    shape = train.network_settings(train.build_parser().parse_args(["--arch", arch, "--layers", "8"]), [arch])
    assert (shape[0].init_channels, shape[0].layers) == (8, 8) and "init_channels 8 from" in shape[1]
    published = train.network_settings(train.build_parser().parse_args([]), ["PC_DARTS_cifar"])[0]
    assert (published.init_channels, published.layers) == (36, 20)
    # analyse_search_logs profiles them on that network too: its FLOPs column is the front's R, and a budget
    # between the front's two ends names the cheap end
    from tools import analyse_search_logs

    front = sorted(p["reg_loss"] for p in resumed["pareto"])
    table = analyse_search_logs.main(analyse_search_logs.build_parser().parse_args(
        ["-l", str(run_dir), "-o", str(tmp_path / "search.csv"), "--no_latency", "--max_flops", f"{front[0]:.6f}"]))
    assert list(table["table"]["flops"] / 1e6) == pytest.approx(list(table["table"]["search_reg_loss"]))
    assert table["pick"] == next(p["name"] for p in resumed["pareto"] if p["reg_loss"] == front[0])
    # ... and so does profile_genotypes (it profiled them on the paper's network at 32x32: 227M FLOPs, not 0.1M)
    from tools import profile_genotypes

    profiled = profile_genotypes.main(profile_genotypes.build_parser().parse_args(
        ["--archs", str(run_dir), "-o", str(tmp_path / "profile.csv"), "--no_latency"]))["table"]
    assert list(profiled["flops"] / 1e6) == pytest.approx([p["reg_loss"] for p in resumed["pareto"]])
    paper = profile_genotypes.main(profile_genotypes.build_parser().parse_args(
        ["--archs", str(run_dir), "-o", str(tmp_path / "paper.csv"), "--no_latency", "--init_channels", "36",
         "--layers", "20"]))["table"]
    assert (paper["flops"] > profiled["flops"]).all()  # the flags choose another network
    imagenet = tmp_path / "imagenet-sweep"  # an ImageNet cost sweep: NetworkImageNet at its own image size
    shutil.copytree(run_dir, imagenet)
    for name, key in (("args.json", "args"), ("sweep.json", "args")):
        record = json.loads((imagenet / name).read_text())
        record[key].update(set="imagenet", image_size=64, eval_channels=8, eval_layers=5)
        record["space"] = "imagenet"
        (imagenet / name).write_text(json.dumps(record))
    _, settings = profile_genotypes.cost_sweep_network([str(imagenet)])
    assert (settings["imagenet"], settings["image_size"], settings["init_channels"]) == (True, 64, 8)
    (imagenet / "args.json").write_text("{not json")  # unreadable: the paper's network, and a note saying why
    note, settings = profile_genotypes.cost_sweep_network([str(imagenet)])
    assert settings is None and "its records cannot be read" in note


def test_genotypes_of_two_cost_sweeps_of_other_networks_need_the_shape_given(tmp_path: Path) -> None:
    folders = []
    for name, (channels, layers) in (("a", (4, 8)), ("b", (8, 5)), ("l2", (None, None))):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "sweep.json").write_text("{}")
        (folder / "args.json").write_text(json.dumps({"kind": "sweep", "args": {
            "objective": "l2" if name == "l2" else "flops", "eval_channels": channels, "eval_layers": layers}}))
        folders.append(str(folder))
    parse = train.build_parser().parse_args
    with pytest.raises(cost.UserError, match=r"a was costed on init_channels 4, layers 8, .*b on 8, 5"):
        train.network_settings(parse([]), folders)
    both = train.network_settings(parse(["--init_channels", "16", "--layers", "6"]), folders)
    assert (both[0].init_channels, both[0].layers, both[1]) == (16, 6, None)
    assert (lambda a: (a.init_channels, a.layers))(train.network_settings(parse([]), folders[2:])[0]) == (36, 20)
    assert train.network_settings(parse([]), folders[:1] + folders[2:])[0].layers == 8  # an l2 sweep says nothing


def test_cost_sweeps_start_at_nu_1_and_norm_sweeps_at_the_thesis_weights() -> None:
    import multiobjective

    for kind in cost.COSTS:
        assert multiobjective.initial_weights(kind) == ((1.0, 0.0), (0.0, 1.0))
    for norm in ("l1", "l2"):
        assert multiobjective.initial_weights(norm) == ((0.2, 0.8), (0.0, 1.0))
    args = sweep_parse(["-o", "l2", "cifar", *SWEEP_SEARCH])
    sweep = multiobjective.Sweep(args, Path("unused"), None)
    assert [sweep.estimator.get_next() for _ in range(2)] == [(0.2, 0.8), (0.0, 1.0)]


def test_cost_sweep_resumes_with_the_first_weights_it_started_with(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import multiobjective

    with monkeypatch.context() as m:  # a sweep started when cost sweeps began at the thesis's nu = 0.2
        m.setattr(multiobjective, "initial_weights", lambda objective: ((0.2, 0.8), (0.0, 1.0)))
        multiobjective.main(sweep_parse(["-o", "params", "--max_searches", "1", "cifar", *SWEEP_SEARCH,
                                         "--logdir", str(tmp_path), "--save", "old"]))
    (run_dir,) = tmp_path.glob("multi-search-digits-old-*")
    resumed = multiobjective.main(sweep_parse(["--resume", str(run_dir), "--max_searches", "2"]))
    assert [s["weight"] for s in resumed["searches"]] == [[0.2, 0.8], [0.0, 1.0]]


@pytest.mark.parametrize("objective,extra,match", [
    ("l2", [], r"^--eval_channels and --eval_layers act only on a hardware-cost objective"),
    ("flops", ["--latency_table", "t.json"], r"^--latency_table is read by the latency objective only: flops"),
])
def test_a_sweep_refuses_cost_flags_its_objective_never_reads(tmp_path: Path, objective: str, extra: list[str],
                                                              match: str, capsys: pytest.CaptureFixture) -> None:
    import multiobjective
    from utils import run_main

    args = sweep_parse(["-o", objective, "cifar", *SWEEP_SEARCH, *extra, "--logdir", str(tmp_path)])
    assert run_main(multiobjective.cli_main, args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert re.search(match, err.removeprefix("error: ")), err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("objective,saved", [("l2", {"eval_channels": 8, "eval_layers": 5}),
                                              ("flops", {"latency_table": "/nowhere/table.json"})])
def test_a_sweep_saved_with_cost_flags_it_never_read_still_resumes(tmp_path: Path, objective: str, saved: dict,
                                                                    request: pytest.FixtureRequest) -> None:
    """Sweeps written before those flags were refused may hold them: they had no effect, and their searches go
    on without them."""
    import multiobjective

    if objective == "flops":  # a flops sweep of one search: a copy of the shared one
        run_dir = copy_sweep(request.getfixturevalue("flops_sweep_begun")[1], tmp_path)
    else:
        flags = SWEEP_SEARCH[:SWEEP_SEARCH.index("--eval_channels")]
        multiobjective.main(sweep_parse(["-o", objective, "--max_searches", "1", "cifar", *flags,
                                         "--logdir", str(tmp_path), "--save", "old"]))
        (run_dir,) = tmp_path.glob("multi-search-digits-old-*")
    assert len(json.loads((run_dir / "sweep.json").read_text())["searches"]) == 1
    state = json.loads((run_dir / "sweep.json").read_text())  # what a resumed sweep reads its flags from
    state["args"].update(saved)
    (run_dir / "sweep.json").write_text(json.dumps(state))
    resumed = multiobjective.main(sweep_parse(["--resume", str(run_dir), "--max_searches", "2"]))
    assert [s["status"] for s in resumed["searches"]] == ["done", "done"]


def test_params_sweep_in_parallel(tmp_path: Path) -> None:
    import multiobjective

    state = multiobjective.main(sweep_parse(["-o", "params", "--parallel", "2", "--max_searches", "2", "cifar",
                                             *SWEEP_SEARCH, "--logdir", str(tmp_path), "--save", "p"]))
    assert [s["status"] for s in state["searches"]] == ["done", "done"]
    for s in state["searches"]:
        real = count_parameters(build_eval_network(genotype_from_dict(s["genotype"]), 8, 5, 10)) / 1e6
        assert s["cost"]["kind"] == "params" and s["reg_loss"] == pytest.approx(real)
    assert all(p["name"].startswith("params_loss_") for p in state["pareto"])


def test_latency_table_tool_and_latency_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tools import latency_table

    monkeypatch.setattr(latency_table, "published_genotypes",
                        lambda: {"PC_DARTS_cifar": PC_DARTS_cifar, "pool": cost.uniform_genotype("max_pool_3x3")})
    table_path = tmp_path / "table.json"
    args = latency_table.build_parser().parse_args(
        ["--device", "cpu", "--eval_channels", "8", "--eval_layers", "5", "--image_size", "8", "--min_run_time",
         "0.001", "--threads", "1", "--rounds", "1", "-o", str(table_path), "--validate"])  # rounds: test_tools
    table = latency_table.main(args)
    assert json.loads(table_path.read_text()) == json.loads(json.dumps(table))
    spec = cost.EvalSpec(8, 10, 5, False, image_size=8)  # TINY's search: --image_size 8
    assert table["input_side"] == 8
    shapes = {(op, *shape) for r, c, h in cost.cell_shapes(spec) for shape in cost.edge_shapes(r, c, h)
              for op in cost.OP_NAMES}
    assert len(table["ops"]) == len(shapes) and all(v > 0 for v in table["ops"].values())
    assert table["fixed_ms"] == pytest.approx(sum(table["fixed_parts"].values())) and table["fixed_ms"] > 0
    assert len(table["fixed_parts"]) == 1 + 2 * SPEC.layers + 1  # stem, preprocess0/1 of each cell, head
    assert [r["name"] for r in table["validation"]["genotypes"]] == ["PC_DARTS_cifar", "pool"]
    assert -1 <= table["validation"]["spearman"] <= 1
    model = cost.CostModel.build("latency", spec, table)
    assert model.genotype_cost(PC_DARTS_cifar) > model.genotype_cost(cost.uniform_genotype("max_pool_3x3"))
    with pytest.raises(cost.UserError, match="side = 8, this search's evaluation network has 32"):
        cost.CostModel.build("latency", SPEC, table)

    search = train_search.build_parser().parse_args(
        [*TINY, "--logdir", str(tmp_path / "logs"), "--cost", "latency", "--cost_weight", "0.5", "-cw", "0.5",
         "--latency_table", str(table_path)])
    result = train_search.main(search)
    run_dir = Path(result["run_dir"])
    assert json.loads((run_dir / "latency_table.json").read_text()) == json.loads(table_path.read_text())
    assert result["objective"] == "latency" and result["cost"]["unit"] == "ms"
    assert result["reg_loss"] == pytest.approx(model.genotype_cost(genotype_from_dict(result["genotype"])))
    # a resumed run reads its own copy of the table, even once the original is gone
    (run_dir / "result.json").unlink()
    table_path.unlink()
    resumed = train_search.main(train_search.build_parser().parse_args(["--resume", str(run_dir)]))
    assert resumed["reg_loss"] == result["reg_loss"] and resumed["cost"] == result["cost"]


def test_tools_read_cost_sweep_names_and_label_units() -> None:
    from tools import tables

    assert tables.nu_from_name("flops_loss_2e01") == pytest.approx(0.2)
    assert tables.nu_from_name("params_loss_15e04") == pytest.approx(0.0015)
    assert "M multiply-adds" in tables.label("search_reg_loss", "flops")
    assert "(ms" in tables.label("search_reg_loss", "latency")


def fake_flops_result(args, flops: float, train_ce: float, held_out: float) -> dict:
    """What a flops search of weight (args.cost_weight, args.criterion_weight) returns, with these numbers."""
    return {"weight": [args.cost_weight, args.criterion_weight], "objective": "flops", "reg_loss": flops,
            "criterion_loss": train_ce, "valid_loss": held_out, "train_acc": 80.0, "valid_acc": 75.0,
            "model_size": 3.6, "genotype": PC_DARTS_cifar._asdict(),
            "cost": {"kind": "flops", "unit": cost.UNITS["flops"], "value": flops, "reference": 12.0,
                     "flops_M": flops, "params_M": 0.05, "nu": args.cost_weight, "range": [3.8, 17.2]}}


def test_a_cost_sweep_puts_the_held_out_ce_on_its_front(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    """NISE reads a point as the minimiser of cw * CE + nu * R: for a cost, CE is the architecture step's
    held-out CE. Here the training CE says the cheap cell dominates; the held-out CE says both are optimal."""
    import multiobjective
    import pareto
    import plots
    from tools import analyse_search_logs, plot_frontier

    assert pareto.ARCHITECTURE_OBJECTIVES == cost.COSTS
    assert [pareto.front_ce_key(o) for o in ("l1", "l2", None, *cost.COSTS)] == ["criterion_loss"] * 3 + [
        "valid_loss"] * 3
    outcomes = {1.0: (4.0, 0.5, 0.9), 0.0: (10.0, 0.6, 0.4)}  # nu -> (M FLOPs, training CE, held-out CE)

    def fake_search(args):
        return fake_flops_result(args, *outcomes[args.cost_weight])

    monkeypatch.setattr(train_search, "main", fake_search)
    state = multiobjective.main(sweep_parse(["-o", "flops", "--max_searches", "2", "cifar", *SWEEP_SEARCH,
                                             "--logdir", str(tmp_path), "--save", "h"]))
    (run_dir,) = tmp_path.glob("multi-search-digits-h-*")
    saved = json.loads((run_dir / "sweep.json").read_text())
    assert saved["front_ce"] == "valid_loss"
    assert [p["weight"] for p in state["pareto"]] == [[1.0, 0.0], [0.0, 1.0]]
    assert [(p["reg_loss"], p["valid_loss"], p["criterion_loss"]) for p in state["pareto"]] == [
        (4.0, 0.9, 0.5), (10.0, 0.4, 0.6)]
    assert [e["result"]["criterion_loss"] for e in saved["estimator"]["results"]] == [0.9, 0.4]  # NISE's view
    log = (run_dir / "log.txt").read_text()
    assert "held-out CE 0.4000" in log
    assert "the front spans 2.50x (4 to 10 M FLOPs (multiply-adds)); any genotype of the space costs 3.8 to 17.2" in log
    ax = plots.frontier_figure(state["searches"], state["pareto"], "flops").axes[0]
    assert ax.get_ylabel().startswith("held-out cross-entropy")
    assert sorted(float(y) for c in ax.collections for _, y in c.get_offsets()) == [0.4, 0.9]
    plot_frontier.main(plot_frontier.build_parser().parse_args(["-l", str(run_dir), "-o", str(tmp_path / "f.png")]))
    printed = capsys.readouterr().out
    assert "R = 10 M FLOPs (multiply-adds), held-out CE = 0.4" in printed  # R in its unit
    assert "(reference point R = 11 M FLOPs (multiply-adds), CE = 0.99)" in printed
    table = analyse_search_logs.main(analyse_search_logs.build_parser().parse_args(
        ["-l", str(run_dir), "-o", str(tmp_path / "t.csv"), "--no_latency"]))["table"]
    assert table["search_valid_loss"].tolist() == [0.9, 0.4] and table["objective"].tolist() == ["flops"] * 2
    assert analyse_search_logs.front_column(table) == "search_valid_loss"
    # a cost sweep of an earlier version, which costed the networks at 32x32 (not at the search's 8x8) or put
    # the training CE on its front, is not resumed onto the other
    saved["searches"][0]["cost"]["eval"] = {"input": [1, 3, 32, 32]}
    (run_dir / "sweep.json").write_text(json.dumps(saved))
    with pytest.raises(multiobjective.UserError, match="costed its networks at 32x32, .* image size, 8x8"):
        multiobjective.main(sweep_parse(["--resume", str(run_dir), "--max_searches", "3"]))
    del saved["searches"][0]["cost"]["eval"]
    del saved["front_ce"]
    (run_dir / "sweep.json").write_text(json.dumps(saved))
    with pytest.raises(multiobjective.UserError, match="start a new sweep"):
        multiobjective.main(sweep_parse(["--resume", str(run_dir), "--max_searches", "3"]))


def test_a_sweep_says_why_its_front_ends_before_nu_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When a search with nu > 0 beats nu = 0's larger cell on the held-out CE, the front ends at the smaller
    cell; the sweep's last lines say so, naming the searches beyond the end, so a short front is not taken for
    a failed search."""
    import multiobjective

    outcomes = {1.0: (4.0, 0.9), 0.0: (10.0, 0.5)}  # nu -> (M FLOPs, held-out CE); any other nu: (6, 0.45)

    def fake_search(args):
        flops, held_out = outcomes.get(args.cost_weight, (6.0, 0.45))
        return fake_flops_result(args, flops, 0.3, held_out)

    monkeypatch.setattr(train_search, "main", fake_search)
    state = multiobjective.main(sweep_parse(["-o", "flops", "--max_searches", "3", "cifar", *SWEEP_SEARCH,
                                             "--logdir", str(tmp_path), "--save", "e"]))
    (middle,) = [s["weight"][0] for s in state["searches"] if s["weight"][0] not in (0.0, 1.0)]
    assert [p["reg_loss"] for p in state["pareto"]] == [4.0, 6.0]
    (run_dir,) = tmp_path.glob("multi-search-digits-e-*")
    log = (run_dir / "log.txt").read_text()
    assert (f"the front ends at nu = {middle:.6g} (R 6 M FLOPs (multiply-adds), held-out CE 0.4500): 1 search "
            "(nu = 0) ended with a larger R, up to 10, none with a lower held-out CE (the best 0.5000)") in log


def test_a_cost_search_without_a_held_out_ce_is_recorded_as_failed(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import multiobjective

    def no_held_out(args):
        return {"weight": [args.cost_weight, args.criterion_weight], "objective": "params", "reg_loss": 0.02,
                "criterion_loss": 0.5, "valid_loss": None, "train_acc": 80.0, "valid_acc": None, "model_size": 3.6,
                "genotype": PC_DARTS_cifar._asdict(),
                "cost": {"kind": "params", "unit": cost.UNITS["params"], "value": 0.02, "reference": 0.07}}

    monkeypatch.setattr(train_search, "main", no_held_out)
    with pytest.raises(multiobjective.RunFailed):  # every search failed: the sweep says so and exits 1
        multiobjective.cli_main(sweep_parse(["-o", "params", "--max_searches", "2", "cifar", *SWEEP_SEARCH,
                                             "--logdir", str(tmp_path), "--save", "n"]))
    (run_dir,) = tmp_path.glob("multi-search-digits-n-*")
    searches = json.loads((run_dir / "sweep.json").read_text())["searches"]
    assert [s["status"] for s in searches] == ["failed", "failed"]
    assert all("no valid_loss, the CE of the front" in s["error"] for s in searches)
