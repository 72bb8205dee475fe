"""bench/speed.py: the harness times what the scripts run, its ratios follow the stated formulas, and a
tiny --quick run writes a complete JSON (CPU only; the CUDA-graph paths need a GPU and are not run here)."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import fastpath
import train
import train_search
from bench import speed, timing
from genotypes import PC_DARTS_cifar

ROOT = Path(__file__).resolve().parents[1]

TINY = speed.Config(search_channels=4, search_layers=3, search_batch=8, image_size=8, eval_channels=4,
                    eval_layers=3, eval_batch=8, warmup=0, steps=1, data_images=64, workers=0, parity_steps=3)
CPU = torch.device("cpu")


def _params(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


class _Loader:
    """The loader interface train_epoch uses, over fixed batches."""

    def __init__(self, batches: list, held_out: list | None = None) -> None:
        self.batches, self.held_out = batches, list(held_out or [])

    def set_epoch(self, epoch: int) -> None:
        pass

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)

    def sample_batch(self):
        return self.held_out.pop(0)


def _signature(setup: object) -> dict:
    """What a built step is made of: network class, forward, parameter shapes, losses, optimizers, step flags."""
    model, stepper = setup.model, setup.stepper
    opts = [setup.optimizer] + ([setup.architect.optimizer] if hasattr(setup, "architect") else [])
    return {
        "model": type(model).__name__, "forward": getattr(model.forward, "__func__", model.forward).__qualname__,
        "params": [(n, tuple(p.shape), p.is_contiguous(memory_format=torch.channels_last)) for n, p in
                   model.named_parameters()],
        "penalty": getattr(setup, "penalty", None),
        "arch_loss": getattr(getattr(setup, "architect", None), "loss_fn", None),
        "optimizers": [(type(o).__name__, o.defaults) for o in opts],
        "step": {k: v for k, v in vars(stepper).items() if isinstance(v, (bool, int, float, type(None)))},
    }


class _Built(Exception):
    """Stops main right after it has built its step (the spy below keeps what it built)."""


def _spy(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list:
    built = []
    real = getattr(module, name)

    def spy(*args: object, **kwargs: object) -> object:
        built.append(real(*args, **kwargs))
        raise _Built

    monkeypatch.setattr(module, name, spy)
    return built


def test_search_bench_builds_what_train_search_main_builds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The benchmark's supernet, penalty, SGD, Adam and stepper are those train_search.main builds for the same
    sizes (main's defaults: the bench reads the script's parser), and another lever shows in the comparison."""
    built = _spy(monkeypatch, train_search, "build_search")
    argv = ["--set", "digits", "--image_size", "8", "--init_channels", "4", "--layers", "3", "--batch_size", "64",
            "-l1", "1e-4", "--no-fused", "--logdir", str(tmp_path), "--no_progress"]
    with pytest.raises(_Built):
        train_search.main(train_search.build_parser().parse_args(argv))
    monkeypatch.undo()  # the benchmark below calls the real builder
    cfg = speed.Config(search_channels=4, search_layers=3, search_batch=64)
    assert _signature(speed.build_search(cfg, frozenset(), CPU, arch=True).setup) == _signature(built[0])
    for lever in ("fused", "channels_last", "fused_optim"):
        assert _signature(speed.build_search(cfg, frozenset({lever}), CPU, arch=True).setup) != _signature(built[0])


def test_eval_bench_builds_what_train_main_builds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The benchmark's network, SGD and stepper are those train.main builds for PC_DARTS_cifar with --auxiliary."""
    built = _spy(monkeypatch, train, "build_training")
    argv = ["--set", "digits", "--arch", "PC_DARTS_cifar", "--auxiliary", "--init_channels", "4", "--layers", "3",
            "--batch_size", "8", "--logdir", str(tmp_path), "--no_progress"]
    with pytest.raises(_Built):
        train.main(train.build_parser().parse_args(argv))
    monkeypatch.undo()
    cfg = speed.Config(eval_channels=4, eval_layers=3, eval_batch=8)
    assert _signature(speed.build_eval(cfg, frozenset(), CPU).setup) == _signature(built[0])
    assert _signature(speed.build_eval(cfg, frozenset({"fused_optim"}), CPU).setup) != _signature(built[0])


def test_search_step_is_train_search_train_epoch() -> None:
    """Two benchmark search steps leave the supernet exactly where train_search.train_epoch leaves it."""
    batches = [speed.synthetic_batches("search_step", TINY, CPU) for _ in range(2)]
    batches[1] = [t.roll(1, 0) for t in batches[1]]
    step = speed.build_search(TINY, frozenset(), CPU, arch=True)
    for b in batches:
        step.fn(*b)
    ours = _params(step.model)

    args = speed.search_args(TINY)
    torch.manual_seed(args.seed)
    setup = train_search.build_search(args, 10, CPU)
    args.begin, args.report_lines, args.no_progress = 0, 1, True
    train_search.train_epoch(args, 0, setup.model, setup.stepper, _Loader([b[:2] for b in batches]),
                             _Loader([], [b[2:] for b in batches]), logging.getLogger("test_bench"))
    assert torch.equal(ours, _params(setup.model))
    assert not torch.equal(ours, _params(speed.build_search(TINY, frozenset(), CPU, arch=True).model))


def test_eval_step_is_train_train_epoch() -> None:
    """Two benchmark eval steps equal train.train_epoch's (drop path included, same RNG stream)."""
    batches = [speed.synthetic_batches("eval_step", TINY, CPU) for _ in range(2)]
    step = speed.build_eval(TINY, frozenset(), CPU)
    for b in batches:
        step.fn(*b)
    ours = _params(step.model)

    args = speed.train_args(TINY)
    torch.manual_seed(args.seed)
    setup = train.build_training(args, PC_DARTS_cifar, 10, CPU)
    setup.model.drop_path_prob = args.drop_path_prob
    args.report_lines, args.no_progress = 1, True
    train.train_epoch(args, 0, setup.stepper, _Loader(batches), logging.getLogger("test_bench"))
    assert torch.equal(ours, _params(setup.model))


def test_snapshot_restore_gives_a_fresh_start() -> None:
    """What the graphed parity run relies on: restored weights and zeroed optimizer state behave as fresh."""
    batch = speed.synthetic_batches("search_step", TINY, CPU)
    fresh = speed.build_search(TINY, frozenset({"fused_optim"}), CPU, arch=True)
    fresh.fn(*batch)
    warmed = speed.build_search(TINY, frozenset({"fused_optim"}), CPU, arch=True)
    snap = fastpath.Snapshot(warmed.model, warmed.optimizers, [warmed.sums])
    for _ in range(2):
        warmed.fn(*batch)
    assert not torch.equal(_params(warmed.model), _params(fresh.model))
    snap.restore()
    warmed.fn(*batch)
    assert torch.allclose(_params(warmed.model), _params(fresh.model), rtol=1e-6, atol=1e-7)
    assert torch.allclose(warmed.sums, fresh.sums, rtol=1e-6)


def test_summary_and_epoch_formulas() -> None:
    s = timing.summarize([0.003, 0.001, 0.002])
    assert s == {"median_ms": pytest.approx(2.0), "min_ms": pytest.approx(1.0), "max_ms": pytest.approx(3.0), "n": 3}
    data = {"host": {"images_per_s": 1000.0}, "device": {"images_per_s": 100_000.0}}
    # host: the workers overlap the step, so the slower of the two counts
    assert speed.epoch_seconds(100.0, 50, 10, data, ("host",)) == (pytest.approx(1.0), "host")
    assert speed.epoch_seconds(10.0, 50, 10, data, ("host",)) == (pytest.approx(0.5), "host")
    # device: same stream, the two add up; the faster loader wins
    assert speed.epoch_seconds(10.0, 50, 10, data) == (pytest.approx(0.105), "device")
    assert speed.epoch_seconds(10.0, 50, 10, None) == (pytest.approx(0.1), "none")


def test_ratios() -> None:
    def rec(ms: float) -> dict:
        return {"median_ms": ms, "min_ms": ms, "max_ms": ms, "n": 1}

    results = {
        "benchmarks": {
            "weight_step": {"faithful": rec(500.0), "all": rec(50.0)},
            "search_step": {"faithful": rec(1000.0), "fused": rec(400.0), "all": rec(100.0), "bad": {"error": "x"}},
            "eval_step": {"faithful": rec(120.0), "all": rec(40.0)},
        },
        "data_path": {"host": {"images_per_s": 10_000.0}, "device": {"images_per_s": 1e9}},
    }
    cfg = speed.Config()
    r = speed.compute_ratios(results, cfg)
    assert r["search_step_speedup"] == pytest.approx(10.0)
    assert r["eval_step_speedup"] == pytest.approx(3.0)
    assert r["fastest"] == {"weight_step": "all", "search_step": "all", "eval_step": "all"}
    # 2 x 256 images at 10k images/s take 51 ms < the 100 ms step: the host loader keeps up and wins
    # (max(100, 51) = 100 ms) over the device loader (100 ms + its own time)
    steps = math.ceil(25_000 / 256)
    assert r["search_epoch"]["steps_per_epoch"] == steps
    assert r["search_epoch_speedup"] == pytest.approx(10.0)
    assert r["search_epoch"]["fastest_loader"] == "host"
    assert r["search_run"]["speedup"] > 1
    # a slow host loader caps the host path; the faithful epoch keeps the host loader
    results["data_path"]["host"]["images_per_s"] = 1000.0  # 512 ms per step of data
    r = speed.compute_ratios(results, cfg)
    assert r["search_epoch"]["faithful_s"] == pytest.approx(steps * 1.0)
    assert r["search_epoch"]["fastest_loader"] == "device"


def test_applicability() -> None:
    assert speed.applicable("eval_step", frozenset({"fused"}), CPU)[1] is not None
    assert speed.applicable("eval_step", frozenset({"fused", "bf16"}), CPU) == (frozenset({"bf16"}), None)
    assert speed.applicable("search_step", frozenset({"cuda_graphs"}), CPU)[1] == "cuda_graphs needs a CUDA device"


def test_time_cap_interrupts() -> None:
    t = time.perf_counter()
    with pytest.raises(TimeoutError), timing.time_cap(0.2):
        while time.perf_counter() - t < 5:  # without the cap this ends after 5 s and raises nothing
            pass


def test_bad_input_is_one_line(capsys: pytest.CaptureFixture) -> None:
    assert speed.main(["--device", "cpu", "--quick", "--search_channels", "6"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --search_channels 6") and "\n" not in err


def test_an_existing_output_is_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """speed.py writes its JSON before the first timing: an earlier run's results (a GPU run's) must survive."""
    out = tmp_path / "gpu-run.json"
    out.write_text('{"complete": true}')
    assert speed.main(["--device", "cpu", "--quick", "--threads", "1", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {out} exists: give another -o (results are never overwritten)"
    assert out.read_text() == '{"complete": true}'


def test_cpu_fused_never_overwrites_an_earlier_result(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from bench import cpu_fused
    from utils import run_main

    out = tmp_path / "cpu_fused.json"
    out.write_text('{"results": []}')
    assert run_main(cpu_fused.main, cpu_fused.build_parser().parse_args(["--quick", "-o", str(out)])) == 2
    assert capsys.readouterr().err == f"error: {out} exists: give another -o (results are never overwritten)\n"
    assert out.read_text() == '{"results": []}'


def test_speed_times_a_lever_or_benchmark_named_twice_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--levers fused fused timed the lever twice, its second record replacing the first."""
    timed: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(speed, "time_variant", lambda s, name, levers, *a: timed.append((name, list(levers))))
    monkeypatch.setattr(speed, "retry_without_one", lambda s: None)
    out = tmp_path / "speed.json"
    assert speed.main(["--device", "cpu", "--quick", "--threads", "1", "--levers", "fused", "fused",
                       "--benchmarks", "weight_step", "weight_step", "-o", str(out)]) == 0
    assert timed == [("faithful", []), ("fused", ["fused"])]
    record = json.loads(out.read_text())
    assert record["levers"] == ["fused"] and list(record["benchmarks"]) == ["weight_step"]
    # compile asked for and refused in one breath: the faithful path alone was timed, without a word
    assert speed.main(["--device", "cpu", "--quick", "--levers", "compile", "--no_compile",
                       "-o", str(tmp_path / "none.json")]) == 2
    assert not (tmp_path / "none.json").exists()


def test_cpu_fused_times_a_measure_named_twice_once_and_checks_its_output_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """--measures fwd_bwd,fwd_bwd timed it twice and recorded it twice; an -o under a file failed only after the
    timing, which was lost."""
    from bench import cpu_fused
    from utils import run_main

    timed: list[str] = []

    def fake_timing(fns: dict, repeats: int) -> dict:
        timed.append(next(iter(fns.values())).__name__)
        return {n: {"median_s": 1.0, "min_s": 1.0, "max_s": 1.0, "cpu_median_s": 1.0} for n in fns}

    class FakeRunner:  # the loop over configurations, threads and measures is what is checked, not the supernet
        def __init__(self, *args: object) -> None:
            self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(2))

        def fwd_bwd(self) -> None:
            pass

    monkeypatch.setattr(cpu_fused, "time_interleaved", fake_timing)
    monkeypatch.setattr(cpu_fused, "Runner", FakeRunner)
    counts = {"ref": {"ops": 10, "non_view_ops": 8}, "fused": {"ops": 5, "non_view_ops": 2}}
    monkeypatch.setattr(cpu_fused, "paper_supernet_ops", lambda: counts)
    (tmp_path / "file").write_text("")
    parse = cpu_fused.build_parser().parse_args
    assert run_main(cpu_fused.main, parse(["--quick", "-o", str(tmp_path / "file" / "x.json")])) == 2
    assert "-o" in capsys.readouterr().err and timed == []
    out = tmp_path / "out.json"
    assert run_main(cpu_fused.main, parse(["--quick", "--measures", "fwd_bwd,fwd_bwd", "--threads", "1",
                                                "-o", str(out)])) == 0
    assert timed == ["fwd_bwd"]
    assert [e["measure"] for e in json.loads(out.read_text())["results"]] == ["fwd_bwd"]
    assert json.loads(out.read_text())["paper_supernet_ops"] == counts
    assert "paper's supernet, one forward+backward: ref 8 operators (10 with views), fused 2 operators (5 with " \
           "views): fused/ref 0.25" in capsys.readouterr().out


def test_the_op_counter_counts_forward_and_backward_kernels_and_views_apart() -> None:
    """The README's kernel counts (bench/cpu_fused.py's paper_supernet_ops) are this counter's."""
    from bench import cpu_fused

    x = torch.ones(3, requires_grad=True)
    counter = cpu_fused._OpCounter()
    with counter:
        (x.view(1, 3) * 2).sum().backward()
    # forward: view, mul, sum; backward: at least the gradient of sum (an expand) and of mul, all below autograd
    assert counter.views >= 1 and counter.ops - counter.views >= 3 and counter.ops >= 5
    assert torch.equal(x.grad, torch.full((3,), 2.0))


def test_quick_run_writes_complete_json(tmp_path: Path) -> None:
    """The CLI end to end at tiny sizes: every benchmark timed, positive, ratios and parity present."""
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "bench" / "speed.py"), "--device", "cpu", "--quick", "--threads", "1",
           "--steps", "2", "--warmup", "0", "--search_layers", "3", "--search_batch", "8", "--image_size", "8",
           "--eval_channels", "4", "--eval_layers", "3", "--eval_batch", "8", "--data_images", "64",
           "--workers", "0", "--levers", "fused", "channels_last", "cuda_graphs", "--parity", "--parity_steps", "3",
           "-o", str(out)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    for key in ("device", "torch", "cuda", "date", "config", "benchmarks", "data_path", "ratios", "parity"):
        assert key in res
    assert res["complete"] is True and res["device_type"] == "cpu" and res["torch"] == torch.__version__
    assert res["lever_notes"]["cuda_graphs"] == "needs a CUDA device"
    assert "cuda_graphs left out: needs a CUDA device" in proc.stdout
    for bench in ("weight_step", "search_step", "eval_step"):
        variants = res["benchmarks"][bench]
        assert set(variants) >= {"faithful", "all", "channels_last"}
        f = variants["faithful"]
        assert f["n"] == 2 and 0 < f["min_ms"] <= f["median_ms"] <= f["max_ms"]
    assert res["benchmarks"]["eval_step"]["fused"]["skipped"]
    assert res["benchmarks"]["search_step"]["fused"]["median_ms"] > 0
    assert res["data_path"]["host"]["images_per_s"] > 0 and res["data_path"]["device"]["images_per_s"] > 0
    r = res["ratios"]
    assert r["search_epoch_speedup"] > 0 and r["eval_step_speedup"] >= 1.0
    p = res["parity"]
    assert p["steps"] == 3 and set(p["search"]) == {"faithful", "fast"} and set(p["eval"]) == {"faithful", "fast"}
    assert p["search"]["fast"]["genotype_equal"] is True
    assert p["search"]["fast"]["final_loss_rel_diff"] < 1e-3  # fp32 levers: same numbers up to rounding
    assert p["search"]["fast"]["ok"] is True and p["eval"]["fast"]["ok"] is True and p["ok"] is True
    assert "search_step" in proc.stdout and "speedup" in proc.stdout


def test_device_check_quick_train_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture) -> None:
    """The GPU session's script runs its parts end to end (here train.py's, at --quick sizes on the CPU, each run
    a process of its own as on the GPU; the script itself runs in this process, which saves a torch import)."""
    from bench import device_check

    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["device_check.py", "--quick", "--parts", "train", "-o", str(out),
                                      "--workdir", str(tmp_path / "work")])
    assert device_check.main() == 0, capsys.readouterr().err[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["device_check.json", "device_check.log"]  # small files only
    assert "===== faithful.log (exit 0) =====" in (out / "device_check.log").read_text()
    summary = json.loads((out / "device_check.json").read_text())
    assert summary["complete"] is True and summary["env"]["torch"] == torch.__version__
    runs = summary["parts"]["train"]
    assert set(runs) == {"faithful", "channels_last"}
    assert all(r["rc"] == 0 and len(r["epoch_s"]) == 1 for r in runs.values())
    assert runs["channels_last"]["speedup_vs_faithful"] > 0
    assert runs["channels_last"]["train_loss_rel_diff"] < 1e-2


def test_device_check_keeps_an_earlier_commands_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    """The documented session, --parts speed then --parts search ... into one OUT: the second command adds its
    parts to device_check.json, and a part OUT already holds (or another mode's check) is refused, unchanged."""
    from bench import device_check

    out = tmp_path / "out"
    monkeypatch.setattr(device_check, "environment", lambda: {"torch": "x"})
    monkeypatch.setattr(device_check, "script_part", lambda kind, *a: {"faithful": {"rc": 0, "kind": kind}})

    def check(*argv: str) -> int:
        monkeypatch.setattr(sys, "argv", ["device_check.py", "--quick", "-o", str(out), "--workdir",
                                          str(tmp_path / "work"), *argv])
        try:
            return device_check.main()
        except SystemExit as stop:
            return int(stop.code)

    assert check("--parts", "train") == 0
    assert check("--parts", "search") == 0
    summary = json.loads((out / "device_check.json").read_text())
    assert summary["parts"] == {"train": {"faithful": {"rc": 0, "kind": "train"}},
                                "search": {"faithful": {"rc": 0, "kind": "search"}}}
    assert summary["complete"] is True and summary["earlier_argv"][0][-2:] == ["--parts", "train"]
    capsys.readouterr()
    before = (out / "device_check.json").read_text()
    assert check("--parts", "train") == 2
    assert "already holds the results of --parts train" in capsys.readouterr().err
    assert check("--parts", "sweep", "--device", "cuda") == 2
    assert "holds another check (not a quick one on cuda)" in capsys.readouterr().err
    (out / "speed.json").write_text("{}")  # a speed run's JSON that the summary lacks (a killed command)
    assert check("--parts", "speed") == 2
    assert "already holds the results of --parts speed" in capsys.readouterr().err
    assert (out / "device_check.json").read_text() == before and (out / "speed.json").read_text() == "{}"


def test_parallel_bench_runs_a_sweep_and_never_overwrites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture) -> None:
    """bench/parallel.py runs multiobjective.py as users do, checks the folder, and keeps an earlier result."""
    from bench import parallel

    out = tmp_path / "p.json"
    cmd = [sys.executable, str(ROOT / "bench" / "parallel.py"), "--preset", "quick", "--variants", "parallel_1",
           "-o", str(out), "--workdir", str(tmp_path / "work")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads(out.read_text())
    run = summary["variants"]["parallel_1"]
    assert summary["valid"] is True and run["rc"] == 0 and run["problems"] == []
    assert run["completed"] == 2 and run["most_at_once"] == 1 and summary["cores"] >= 1

    def refused(argv: list[str]) -> tuple[int, str]:
        """The script's refusals, run in this process (argparse's error exits before any sweep starts)."""
        monkeypatch.setattr(sys, "argv", argv)
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            parallel.main()
        return stop.value.code, capsys.readouterr().err

    code, err = refused(cmd[1:])
    assert code == 2 and "exists" in err and json.loads(out.read_text()) == summary
    code, err = refused([*cmd[1:-4], "--variants", "parallel_9", "-o", str(tmp_path / "q.json")])
    assert code == 2 and "unknown variant(s) parallel_9" in err


def test_device_check_and_parallel_without_cuda_refuse_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """The GPU commands on a machine without CUDA: one line and exit 2 before any part runs, and nothing written
    (a summary of failed parts would make OUT refuse the rerun on the GPU as 'already holds the results'). The
    line points at the CPU's own sizes: get_device's "try --device auto or cpu" would run the paper's on a CPU."""
    from bench import device_check, parallel

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ran: list[str] = []
    monkeypatch.setattr(device_check, "script_part", lambda kind, *a: ran.append(kind) or {})
    monkeypatch.setattr(parallel, "run_variant", lambda name, *a: ran.append(name) or {"rc": 1})
    out = tmp_path / "out"
    for module, argv, hint in (
            (device_check, ["device_check.py", "-o", str(out), "--parts", "train"], "--quick runs the same plumbing"),
            (parallel, ["parallel.py", "--preset", "gpu", "-o", str(out / "p.json")], "--preset cpu or quick")):
        monkeypatch.setattr(sys, "argv", argv)
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            module.main()
        err = capsys.readouterr().err.strip().splitlines()
        assert stop.value.code == 2 and "CUDA is not available" in err[-1] and hint in err[-1]
        assert "--device auto or cpu" not in err[-1]
    assert ran == [] and not out.exists()


def test_device_name_says_which_device_timed() -> None:
    """An MPS run (what --device auto picks on a Mac) is recorded and named as MPS, not as the CPU."""
    assert timing.device_name(CPU).startswith("cpu (")
    name = timing.device_name(torch.device("mps"))
    assert name.startswith("mps (") and timing.slug(name).startswith("mps-")


def test_a_reused_workdir_gives_each_command_its_own_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--workdir given again: device_check reads the run folder its command made (an earlier one beside it made a
    finished run an error), and parallel.py never reports an earlier sweep as the one that failed now."""
    from bench import device_check, parallel

    stamps = iter(range(10))

    def fake_script(cmd: list[str], log: Path, timeout: float, combined: Path) -> dict:
        run_dir = Path(cmd[cmd.index("--logdir") + 1]) / f"run-{next(stamps)}"
        run_dir.mkdir(parents=True)
        (run_dir / "result.json").write_text('{"train_loss": 1.5}')
        (run_dir / "metrics.csv").write_text("epoch,epoch_time\n0,2.0\n")
        return {"rc": 0, "timed_out": False, "wall_s": 1.0, "log": str(log)}

    monkeypatch.setattr(device_check, "run", fake_script)
    sizes = {"train": [], "train_variants": {"faithful": []}}
    for _ in range(2):
        rec = device_check.script_part("train", sizes, tmp_path / "work", "cpu", 10, tmp_path / "log")["faithful"]
        assert "error" not in rec and rec["epoch_s"] == [2.0] and rec["train_loss"] == 1.5

    earlier = tmp_path / "pw" / "parallel_1" / "multi-search-digits-1"
    earlier.mkdir(parents=True)
    (earlier / "sweep.json").write_text('{"searches": [], "parallel": 1}')
    monkeypatch.setattr(parallel.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 2))
    rec = parallel.run_variant("parallel_1", [], parallel.PRESETS["quick"], tmp_path / "pw", tmp_path / "pw.log",
                               "cpu", 10)
    assert rec["rc"] == 2 and rec["problems"] == ["no sweep.json"] and "run_dir" not in rec


def test_device_check_runs_a_part_named_twice_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--parts train train: the second run would replace the first's record (for speed, with speed.py's refusal)."""
    from bench import device_check

    calls: list[str] = []
    monkeypatch.setattr(device_check, "environment", lambda: {"torch": "x"})
    monkeypatch.setattr(device_check, "script_part", lambda kind, *a: calls.append(kind) or {"n": len(calls)})
    monkeypatch.setattr(sys, "argv", ["device_check.py", "--quick", "-o", str(tmp_path / "out"),
                                      "--parts", "train", "train", "--workdir", str(tmp_path / "work")])
    assert device_check.main() == 0
    assert calls == ["train"]
    assert json.loads((tmp_path / "out" / "device_check.json").read_text())["parts"] == {"train": {"n": 1}}


def test_cpu_fused_threads_messages_name_the_flag_and_its_own_spelling_of_the_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """--threads abc said only int()'s "invalid literal for int() with base 10", and a count above the cores was
    told to give "0 for torch's default", which this list refuses (it spells it 'default')."""
    from bench import cpu_fused

    monkeypatch.setattr(cpu_fused, "available_cores", lambda: 2)
    assert cpu_fused.parse_threads("1, default,2,1", 2) == [1, 2]
    with pytest.raises(ValueError, match=r"^--threads: 'abc' is not a thread count"):
        cpu_fused.parse_threads("1,abc", 2)
    with pytest.raises(ValueError, match=r"^--threads: '0' is not a thread count"):
        cpu_fused.parse_threads("0", 2)
    with pytest.raises(ValueError, match=r"give 1 to 2, or 'default' for torch's$") as e:
        cpu_fused.parse_threads("3", 2)
    assert "0 for" not in str(e.value)


def test_speed_refuses_cuda_graphs_alone_without_cuda(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--levers cuda_graphs on a CPU timed the faithful path alone and said why only inside the JSON (lever_notes)."""
    out = tmp_path / "speed.json"
    assert speed.main(["--device", "cpu", "--quick", "--threads", "1", "--levers", "cuda_graphs", "-o", str(out)]) == 2
    assert capsys.readouterr().err == "error: --levers cuda_graphs needs a CUDA device, and this run is on cpu\n"
    assert not out.exists()


def test_speed_without_quick_on_a_machine_without_gpu_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    """`python bench/speed.py --parity` (the documented GPU run) on a CPU-only machine ran the paper's sizes on the
    CPU with no budget and left an incomplete bench/results/cpu-...json in the repository."""
    monkeypatch.setattr(speed, "get_device", lambda name: CPU)
    monkeypatch.setattr(speed, "configure_torch", lambda *a: pytest.fail("the paper's sizes started on the CPU"))
    out = tmp_path / "speed.json"
    assert speed.main(["--parity", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no GPU here: without --quick") and "--quick times tiny sizes" in err
    assert not out.exists()


@pytest.mark.parametrize("module", ["speed", "cpu_fused", "device_check", "parallel"])
def test_bench_help_names_no_default_of_none(module: str) -> None:
    """argparse's own formatter printed '(default: None)' after help that already said what an unset flag does
    ('(default: all) (default: None)'); the bench scripts take the scripts' formatter, which leaves None out."""
    import importlib

    text = importlib.import_module(f"bench.{module}").build_parser().format_help()
    assert "(default: None)" not in text and "(default: " in text
