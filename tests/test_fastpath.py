"""The speed levers of the scripts (fastpath.py, --cuda_graphs, --compile, --channels_last), on the CPU.

A CUDA graph itself needs a GPU; what the CPU can check is everything around the capture: the warm-up
calls are undone exactly (weights, BatchNorm statistics, momentum, Adam moments and step count, fresh or
resumed), a short last batch and a change of phase fall back or recapture correctly, the tensor learning
rate gives the float one's steps, and the scripts reject what cannot run here with one line.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import traceback
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import cli
import fastpath
import train
import train_search
from genotypes import PC_DARTS_cifar
from model_search import Network
from utils import UserError

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")


def _params(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([t.detach().float().flatten() for t in [*model.parameters(), *model.buffers()]])


def _batches(n: int, batch: int, size: int = 8, seed: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch, 3, size, size, generator=g), torch.randint(10, (batch,), generator=g))
            for _ in range(n)]


def _search(graphs: bool, *, tensor_lr: bool, fused: bool = True, unrolled: bool = False, amp: str = "none"
            ) -> tuple[Network, torch.optim.Optimizer, train_search.SearchStepper]:
    torch.manual_seed(0)
    model = Network(4, 10, 3)
    if fused:
        train_search.enable_fused(model)
    weights = list(model.weights())
    penalty = train_search.Penalty(1.0, 1e-3, -1.0)
    lr = torch.tensor(0.1) if tensor_lr else 0.1
    optimizer = torch.optim.SGD(weights, lr, momentum=0.9, weight_decay=3e-4, **({"fused": True} if tensor_lr else {}))
    architect = train_search.Architect(model, penalty, momentum=0.9, weight_decay=3e-4, arch_learning_rate=6e-4,
                                       arch_weight_decay=1e-3)
    stepper = train_search.SearchStepper(model, weights, penalty, optimizer, architect, grad_clip=5.0,
                                         autocast=fastpath.make_autocast(CPU, amp), unrolled=unrolled,
                                         graphs=graphs, capture=False, warmup=2)
    return model, optimizer, stepper


def _run_search(stepper: train_search.SearchStepper) -> list[torch.Tensor]:
    """Two weight-only steps, then search steps with a short last batch: both phases and the fallback."""
    train = _batches(5, 16) + [tuple(t[:10] for t in _batches(1, 16, seed=9)[0])]
    held = _batches(6, 16, seed=2)
    rows = [stepper(*train[0]).clone(), stepper(*train[1]).clone()]
    for (x, y), (xv, yv) in zip(train[2:], held):
        rows.append(stepper(x, y, xv, yv).clone())
    return rows


@pytest.mark.parametrize("unrolled", [False, True], ids=["first_order", "unrolled"])
def test_graphed_search_bookkeeping_equals_eager(unrolled: bool) -> None:
    """Warm-up undone, phases recaptured, the short batch eager: the same steps bit for bit."""
    model_a, _, eager = _search(False, tensor_lr=True, unrolled=unrolled)
    model_b, _, graphed = _search(True, tensor_lr=True, unrolled=unrolled)
    rows_a, rows_b = _run_search(eager), _run_search(graphed)
    assert graphed._graph.arity == 4  # one graph at a time: the weight-step graph was dropped
    for a, b in zip(rows_a, rows_b):
        assert torch.equal(a, b)
    assert torch.equal(_params(model_a), _params(model_b))
    assert torch.equal(torch.cat([p.flatten() for p in model_a.arch_parameters()]),
                       torch.cat([p.flatten() for p in model_b.arch_parameters()]))


def test_tensor_lr_fused_sgd_matches_float_lr() -> None:
    """--cuda_graphs keeps the lr in a tensor for fused SGD: the same steps as the default float lr."""
    model_a, _, a = _search(False, tensor_lr=False)
    model_b, opt_b, b = _search(False, tensor_lr=True)
    for ra, rb in zip(_run_search(a), _run_search(b)):
        torch.testing.assert_close(ra, rb, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(_params(model_a), _params(model_b), rtol=1e-5, atol=1e-6)
    opt_b.param_groups[0]["lr"].fill_(0.05)  # what main does at each epoch, in place (the graph holds it)
    assert opt_b.param_groups[0]["lr"].item() == pytest.approx(0.05)


def test_snapshot_restores_resumed_state_and_zeroes_new_state() -> None:
    """State that existed before the warm-up comes back as it was; state the warm-up created is zeroed."""
    model, optimizer, stepper = _search(False, tensor_lr=True)
    batches = _batches(2, 16)
    stepper(*batches[0])  # SGD momentum exists now; Adam has no state yet
    before = {id(p): s["momentum_buffer"].clone() for p, s in optimizer.state.items()}
    weights = _params(model)
    snap = fastpath.Snapshot(model, [optimizer, stepper.architect.optimizer])
    stepper(*batches[1], *batches[0])
    assert not torch.equal(weights, _params(model))
    assert len(stepper.architect.optimizer.state) > 0
    snap.restore()
    assert torch.equal(weights, _params(model))
    for p, s in optimizer.state.items():
        assert torch.equal(s["momentum_buffer"], before[id(p)])
    for s in stepper.architect.optimizer.state.values():
        assert all(float(v.abs().sum()) == 0 for v in s.values() if torch.is_tensor(v))


def _eval(graphs: bool, channels_last: bool = False, drop_path: float = 0.0
          ) -> tuple[torch.nn.Module, train.TrainStepper]:
    torch.manual_seed(0)
    model = train.build_network(PC_DARTS_cifar, 10, 4, 3, True)
    model.drop_path_prob = drop_path
    optimizer = torch.optim.SGD(model.parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    stepper = train.TrainStepper(model, optimizer, auxiliary_weight=0.4, grad_clip=5.0,
                                 autocast=fastpath.make_autocast(CPU, "none"), channels_last=channels_last,
                                 graphs=graphs, capture=False, warmup=2)
    return model, stepper


def test_graphed_train_bookkeeping_equals_eager() -> None:
    """Per-epoch recapture, the warm-up undone (its drop-path draws too), the short last batch eager: the
    same steps bit for bit."""
    batches = _batches(3, 8, size=32) + [tuple(t[:6] for t in _batches(1, 8, size=32, seed=5)[0])]
    runs = []
    for graphs in (False, True):
        model, stepper = _eval(graphs, drop_path=0.2)
        torch.manual_seed(1)
        rows = []
        for _ in range(2):
            stepper.new_epoch()
            rows += [stepper(x, y) for x, y in batches]
        runs.append((_params(model), rows))
    (params_a, rows_a), (params_b, rows_b) = runs
    assert all(torch.equal(a, b) for a, b in zip(rows_a, rows_b))
    assert torch.equal(params_a, params_b)


def test_channels_last_eval_step_matches() -> None:
    batches = _batches(3, 8, size=32)
    model_a, a = _eval(False)
    model_b, b = _eval(False, channels_last=True)
    for x, y in batches:
        torch.testing.assert_close(a(x, y), b(x, y), rtol=2e-3, atol=1e-4)


def test_make_autocast_and_compile_mode_checks() -> None:
    with fastpath.make_autocast(CPU, "bf16")():
        assert torch.is_autocast_enabled("cpu")
    with fastpath.make_autocast(CPU, "none")():
        assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError):
        fastpath.make_autocast(CPU, "fp8")
    with pytest.raises(ValueError):
        fastpath.compile_model(torch.nn.Linear(2, 2), "fastest")


def test_resume_keeps_speed_flags_unless_given() -> None:
    parser = train_search.build_parser()
    saved = vars(parser.parse_args(["--cuda_graphs", "--channels_last", "--threads", "1"]))
    again = cli.resume_args(parser.parse_args(["--resume", "x"]), saved)
    assert again.cuda_graphs is True and again.channels_last is True and again.threads == 1
    moved = cli.resume_args(parser.parse_args(["--resume", "x", "--no-cuda_graphs", "--device", "cpu"]), saved)
    assert moved.cuda_graphs is False and moved.channels_last is True and moved.device == "cpu"


@pytest.mark.parametrize("script,flags,message", [
    ("train_search.py", ["--cuda_graphs"], "--cuda_graphs needs a CUDA device"),
    ("train.py", ["--cuda_graphs"], "--cuda_graphs needs a CUDA device"),
    ("train_search.py", ["--compile", "--compile_mode", "fastest"], "invalid choice"),
    ("train_search.py", ["--compile", "--compile_mode", "reduce-overhead"], "reduce-overhead captures CUDA graphs"),
    ("train.py", ["--compile", "--compile_mode", "reduce-overhead"], "reduce-overhead captures CUDA graphs"),
])
def test_scripts_reject_levers_that_cannot_run(tmp_path: Path, script: str, flags: list[str], message: str,
                                               run_script) -> None:
    """`python SCRIPT ...` run in tmp_path, in-process (run_script: tests/test_search.py and tests/test_train.py
    start both scripts as real processes)."""
    module = {"train_search.py": train_search, "train.py": train}[script]
    status, stderr = run_script(str(ROOT / script), module, module.main,
                                ["--device", "cpu", "--set", "digits", "--logdir", str(tmp_path), *flags], cwd=tmp_path)
    assert status != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], stderr
    assert not any(tmp_path.iterdir()), "nothing may be written before the check"


def test_reduce_overhead_is_refused_off_cuda() -> None:
    """--compile_mode reduce-overhead is default's kernels plus CUDA graphs: on a CPU torch dropped the graphs without
    a word and args.json recorded a mode that never ran. It is refused there (and on a resume there: --compile_mode
    default, or --no-compile, goes on), kept on CUDA."""
    args = argparse.Namespace(cuda_graphs=None, compile=True, compile_mode="reduce-overhead")
    with pytest.raises(UserError, match="reduce-overhead captures CUDA graphs; this run is on cpu"):
        cli.check_speed_args(args, CPU)
    cli.check_speed_args(args, torch.device("cuda"))
    cli.check_speed_args(argparse.Namespace(compile=True, compile_mode="max-autotune"), CPU)
    # a --resume DIR --no-compile of such a run
    cli.check_speed_args(argparse.Namespace(compile=False, compile_mode="reduce-overhead"), CPU)


def test_check_speed_args_rejects_graphs_with_compile() -> None:
    args = argparse.Namespace(cuda_graphs=True, compile=True)
    with pytest.raises(UserError, match="do not combine"):
        cli.check_speed_args(args, torch.device("cuda"))


def test_compile_mode_without_compile_is_refused_before_any_folder(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """A --compile_mode alone (or beside --no-compile) used to be dropped without a word: the run went on eagerly.
    Every script that takes the speed flags refuses it with one line, before a run folder exists."""
    import batch_train
    import multiobjective
    from utils import run_main

    tiny = ["--set", "digits", "--image_size", "8", "--layers", "3", "--init_channels", "4", "--epochs", "1",
            "--batch_size", "128", "--subsample", "0.2", "--device", "cpu", "--threads", "1", "--no_progress",
            "--logdir", str(tmp_path)]
    search = train_search.build_parser().parse_args([*tiny, "--begin", "0", "--compile_mode", "max-autotune"])
    assert run_main(train_search.main, search) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: --compile_mode max-autotune without --compile: nothing would be compiled (add --compile, "
                   "or drop --compile_mode)")
    trained = train.build_parser().parse_args([*tiny, "--arch", "PC_DARTS_cifar", "--no-compile", "--compile_mode",
                                               "reduce-overhead"])
    with pytest.raises(UserError, match="--compile_mode reduce-overhead without --compile"):
        train.main(trained)
    sweep = multiobjective.build_parser().parse_args(
        ["-o", "l2", "--max_searches", "1", "cifar", "--set", "digits", "--image_size", "8", "--layers", "3",
         "--init_channels", "4", "--epochs", "1", "--begin", "0", "--batch_size", "128", "--subsample", "0.2",
         "--device", "cpu", "--threads", "1", "--no_progress", "--compile_mode", "default", "--logdir", str(tmp_path)])
    with pytest.raises(UserError, match="--compile_mode default without --compile"):
        multiobjective.main(sweep)
    batch = batch_train.build_parser().parse_args(
        ["--set", "digits", "--image_size", "8", "--archs", "DARTS_V2", "--layers", "3", "--init_channels", "4",
         "--epochs", "1", "--batch_size", "128", "--subsample", "0.2", "--device", "cpu", "--threads", "1",
         "--no_progress", "--compile_mode", "default", "--logdir", str(tmp_path)])
    assert run_main(batch_train.cli_main, batch) == 2
    assert "--compile_mode default without --compile" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_resume_with_no_compile_keeps_the_recorded_compile_mode_quietly(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A run started with --compile --compile_mode M and resumed with --no-compile goes on eagerly (its args.json
    still records M: that call typed no --compile_mode); a --compile_mode typed on the resume of a run that does
    not compile is refused, as on a fresh run."""
    compiled: list[str] = []
    monkeypatch.setattr(train, "compile_model", lambda model, mode: compiled.append(mode))
    stopped = train.main(_train_args(tmp_path, "--epochs", "2", "--stop_after", "1", "--compile", "--compile_mode",
                                     "max-autotune"))
    assert compiled == ["max-autotune"] and "stopped_after" in stopped
    parser = train.build_parser()
    with pytest.raises(UserError, match="--compile_mode default without --compile"):
        train.main(parser.parse_args(["--resume", stopped["run_dir"], "--no-compile", "--compile_mode", "default"]))
    done = train.main(parser.parse_args(["--resume", stopped["run_dir"], "--no-compile", "--no_progress"]))
    assert "test_loss" in done and compiled == ["max-autotune"]


def test_check_speed_args_takes_the_typed_flags_of_a_resumed_call() -> None:
    merged = argparse.Namespace(cuda_graphs=None, compile=False, compile_mode="max-autotune")
    cli.check_speed_args(merged, CPU)  # an in-process namespace: nothing typed
    cli.check_speed_args(merged, CPU, frozenset({"resume", "compile"}))  # --resume DIR --no-compile
    with pytest.raises(UserError, match="without --compile"):
        cli.check_speed_args(merged, CPU, frozenset({"resume", "compile_mode"}))
    cli.check_speed_args(argparse.Namespace(compile=True, compile_mode="default"), CPU, frozenset({"compile_mode"}))


def _train_args(tmp_path: Path, *extra: str) -> argparse.Namespace:
    return train.build_parser().parse_args([
        "--set", "digits", "--arch", "PC_DARTS_cifar", "--init_channels", "4", "--layers", "3", "--epochs", "1",
        "--batch_size", "128", "--subsample", "0.3", "--device", "cpu", "--threads", "1", "--no_progress",
        "--drop_path_prob", "0", "--logdir", str(tmp_path), *extra])


def test_train_compile_runs_and_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--compile traces the network (dynamo + AOT autograd; the aot_eager backend keeps CI fast) and the
    run's losses equal the eager run's, the compiled flag recorded in args.json. One training batch (116
    images): each further batch shape is one more compile, some 10 s here, and proves nothing more."""
    one_batch = ("--subsample", "0.08")
    eager = train.main(_train_args(tmp_path / "eager", *one_batch))
    monkeypatch.setattr(train, "compile_model", functools.partial(fastpath.compile_model, backend="aot_eager"))
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = train.main(_train_args(tmp_path / "compiled", "--compile", *one_batch))
    frames = sum(torch._dynamo.utils.counters["frames"].values())
    torch._dynamo.reset()
    assert frames > 0, "dynamo never traced the network"
    assert compiled["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-4)
    assert compiled["test_loss"] == pytest.approx(eager["test_loss"], rel=1e-4)
    saved = json.loads((Path(compiled["run_dir"]) / "args.json").read_text())["args"]
    assert saved["compile"] is True


def test_search_channels_last_runs(tmp_path: Path) -> None:
    """--channels_last through a whole tiny search: same genotype format, losses close to the default's."""
    base = ["--set", "digits", "--layers", "3", "--init_channels", "4", "--epochs", "2", "--begin", "1",
            "--batch_size", "54", "--subsample", "0.15", "--device", "cpu", "--threads", "1", "--no_progress",
            "-l1", "1e-4"]
    parser = train_search.build_parser()
    logger = logging.getLogger("test_fastpath")
    logger.disabled = True
    a = train_search.main(parser.parse_args([*base, "--logdir", str(tmp_path / "a")]))
    b = train_search.main(parser.parse_args([*base, "--logdir", str(tmp_path / "b"), "--channels_last"]))
    assert b["criterion_loss"] == pytest.approx(a["criterion_loss"], rel=2e-2)
    assert set(b["genotype"]) == set(a["genotype"])


def test_fused_supernet_traces_as_one_graph() -> None:
    """--compile on the search sees the whole fused forward as one graph: the CPU-only eager kernels of
    fused_search (a custom autograd Function) step aside while compiling, so nothing breaks the graph.
    Cells of 2 steps (the search's have 4): dynamo's trace grows with the edges (25 s at 4 steps, 10 s at 2),
    and 2 steps already run every path of fused_cell_forward: round 0 over both inputs, a later round over
    one node, normal and reduction cells, a reduction after a reduction."""
    torch.manual_seed(0)
    net = train_search.enable_fused(Network(4, 10, 3, steps=2, multiplier=2))
    torch._dynamo.reset()
    explained = torch._dynamo.explain(net)(torch.randn(8, 3, 8, 8))
    torch._dynamo.reset()
    assert explained.graph_break_count == 0, explained.break_reasons[:3]
    assert explained.graph_count == 1


def test_resumed_optimizer_keeps_this_runs_execution_flags() -> None:
    """A checkpoint written without --cuda_graphs, resumed with it: fused SGD and capturable Adam stay so
    (load_state_dict alone would adopt the saved foreach/non-capturable flags), the state itself is loaded."""
    w = torch.nn.Parameter(torch.randn(4, 3))
    saved_sgd = torch.optim.SGD([w], 0.1, momentum=0.9)
    saved_adam = torch.optim.Adam([w], 1e-3, betas=(0.5, 0.999))
    w.grad = torch.ones_like(w)
    saved_sgd.step()
    saved_adam.step()
    sgd = torch.optim.SGD([w], torch.tensor(0.1), momentum=0.9, fused=True)
    adam = torch.optim.Adam([w], 1e-3, betas=(0.5, 0.999), capturable=True)
    fastpath.load_optimizer_state(sgd, saved_sgd.state_dict())
    fastpath.load_optimizer_state(adam, saved_adam.state_dict())
    assert sgd.param_groups[0]["fused"] is True and adam.param_groups[0]["capturable"] is True
    assert torch.equal(sgd.state[w]["momentum_buffer"], saved_sgd.state[w]["momentum_buffer"])
    step = adam.state[w]["step"]
    assert step.device == w.device and step.dtype == torch.float32 and float(step) == 1.0
    back = torch.optim.Adam([w], 1e-3, betas=(0.5, 0.999))
    fastpath.load_optimizer_state(back, adam.state_dict())
    assert back.param_groups[0]["capturable"] is False and back.state[w]["step"].device.type == "cpu"
    back.step()  # the plain Adam takes its step from the loaded state
    assert float(back.state[w]["step"]) == 2.0


class _HostReads(TorchDispatchMode):
    """Records the ops that make a CUDA stream wait for the host (a value read back, a data-dependent shape);
    on a GPU each is a synchronisation, and inside a CUDA graph capture an error."""

    OPS = ("aten._local_scalar_dense", "aten.nonzero", "aten.masked_select", "aten.equal", "aten.unique",
           "aten._unique", "aten.repeat_interleave")

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[tuple[str, list[str]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        name = str(func)
        if name.startswith(self.OPS):
            self.hits.append((name, [f"{f.filename}:{f.lineno}" for f in traceback.extract_stack()[:-1]]))
        return func(*args, **(kwargs or {}))

    def outside_adam(self) -> list[str]:
        """Hits outside torch.optim's Adam: the CPU cannot run Adam with capturable=True (the step count on the
        device), which the scripts use on CUDA, so its step-count read is PyTorch's CPU path, not ours."""
        return [name for name, stack in self.hits if not any("torch/optim/adam.py" in f for f in stack)]


@pytest.mark.parametrize("unrolled,amp", [(False, "none"), (True, "none"), (False, "bf16")],
                         ids=["first_order", "unrolled", "bf16"])
def test_search_step_reads_nothing_back(unrolled: bool, amp: str) -> None:
    """No host synchronisation inside the search step: what --cuda_graphs needs, and what keeps an eager
    step from stalling the GPU (losses are read at report lines only)."""
    model, _, stepper = _search(False, tensor_lr=True, unrolled=unrolled, amp=amp)
    x, y = _batches(1, 8)[0]
    stepper(x, y, x, y)  # lazy state first, as a graph's warm-up does
    spy = _HostReads()
    with spy:
        stepper(x, y, x, y)
        stepper(x, y)
    assert spy.hits, "the spy saw nothing (Adam's CPU step count read should show)"
    assert spy.outside_adam() == []


def test_train_step_reads_nothing_back() -> None:
    model, stepper = _eval(False)
    model.drop_path_prob = 0.2
    x, y = _batches(1, 8, size=32)[0]
    stepper(x, y)
    spy = _HostReads()
    with spy:
        stepper(x, y)
    assert spy.outside_adam() == []


def test_compiled_network_does_not_recompile_each_epoch() -> None:
    """train.py raises drop_path_prob every epoch: a compiled network reads it from a tensor and guards
    only on whether drop path is on, so 12 epochs' values cost two graphs, not twelve (dynamo's limit is 8,
    after which it would run eagerly)."""
    torch.manual_seed(0)
    model = train.build_network(PC_DARTS_cifar, 10, 4, 3, True)
    graphs = []

    def count(gm: torch.fx.GraphModule, example: list) -> object:
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    model.compile(backend=count)
    x = torch.randn(4, 3, 32, 32)
    for epoch in range(12):
        model.drop_path_prob = 0.3 * epoch / 12
        logits, aux = model(x)
        (logits.sum() + aux.sum()).backward()
    torch._dynamo.reset()
    assert len(graphs) == 2
    assert "drop_prob_t" not in model.state_dict()  # the published checkpoint layout is unchanged


def test_resumed_momentum_takes_the_parameters_layout() -> None:
    """A run resumed with --channels_last toggled: the loaded momentum buffers follow the parameters'
    layout (fused SGD needs matching strides; on CPU a mismatch silently gave other numbers)."""
    conv = torch.nn.Conv2d(3, 4, 3)
    saved = torch.optim.SGD(conv.parameters(), 0.1, momentum=0.9)
    conv(torch.randn(2, 3, 8, 8)).sum().backward()
    saved.step()
    state = saved.state_dict()
    conv.to(memory_format=torch.channels_last)
    fused = torch.optim.SGD(conv.parameters(), torch.tensor(0.1), momentum=0.9, fused=True)
    fastpath.load_optimizer_state(fused, state)
    buf = fused.state[conv.weight]["momentum_buffer"]
    assert buf.stride() == conv.weight.stride() and buf.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(buf, saved.state[conv.weight]["momentum_buffer"])
