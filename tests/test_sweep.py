"""multiobjective.py: a tiny NISE sweep on digits, its files, failure handling and resume after SIGKILL."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import held_open_under

import multiobjective
import train_search
from genotypes import resolve_genotype
from pareto import non_dominated
from tools import tables
from utils import UserError, run_main

REPO = Path(__file__).resolve().parents[1]
SEARCH = ["--set", "digits", "--image_size", "8", "--layers", "3", "--init_channels", "4", "--batch_size", "64",
          "--subsample", "0.2", "--epochs", "2", "--begin", "0", "--arch_learning_rate", "0.05",
          "--learning_rate", "0.05", "--weight_decay", "0", "--no_progress", "--device", "cpu", "--workers", "0",
          "--threads", "1"]
SWEEP = ["-o", "l2", "-d", "0.1", "cifar", *SEARCH]


def parse(argv: list[str]):
    return multiobjective.build_parser().parse_args(argv)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The sweep, and a copy of its folder as it stood when the third search (index 2) began: sweep.json saved with
    that search running, its folder not yet made (what a kill at that instant leaves; for the SIGKILL test)."""
    logdir, at_search_2 = tmp_path_factory.mktemp("sweep"), tmp_path_factory.mktemp("at-search-2") / "sweep"
    real_main = train_search.main

    def main(args):
        if Path(args.run_dir).name.startswith("search-02-"):
            shutil.copytree(Path(args.run_dir).parent, at_search_2)
        return real_main(args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_search, "main", main)
        state = multiobjective.main(parse([*SWEEP, "--logdir", str(logdir), "--save", "t"]))
    (run_dir,) = logdir.glob("multi-search-digits-t-*")
    assert at_search_2.is_dir() and len(state["searches"]) >= 3
    return {"state": state, "run_dir": run_dir, "logdir": logdir, "at_search_2": at_search_2}


def test_a_finished_sweep_holds_none_of_its_files_open(sweep: dict) -> None:
    """The sequential sweep runs its searches in its own process: every search's log.txt, and the sweep's, stayed
    open after it ended, one file descriptor more per search for the hours a sweep runs."""
    assert held_open_under(sweep["logdir"]) == []


def test_sweep_files_and_front(sweep: dict) -> None:
    run_dir, state = sweep["run_dir"], sweep["state"]
    on_disk = json.loads((run_dir / "sweep.json").read_text())
    assert on_disk["objective"] == "l2" and on_disk["delta"] == 0.1
    assert Path(on_disk["args"]["data"]).is_absolute()  # a resume from another directory finds the data
    searches = on_disk["searches"]
    assert len(searches) >= 3
    assert [s["weight"] for s in searches[:2]] == [[0.2, 0.8], [0.0, 1.0]]
    for k, s in enumerate(searches):
        assert s["status"] == "done"
        assert s["started"] <= s["finished"] and s["host"] and s["device"] == "cpu"
        assert (run_dir / f"frontier_{k:02d}.png").is_file()
        result = json.loads((Path(s["run_dir"]) / "result.json").read_text())
        assert Path(s["run_dir"]).parent == run_dir
        for key in ("reg_loss", "criterion_loss", "train_acc", "valid_acc", "model_size", "genotype"):
            assert s[key] == result[key], key
        assert s["weight"][0] + s["weight"][1] == pytest.approx(1.0)
    points = [(s["reg_loss"], s["criterion_loss"]) for s in searches]
    front = on_disk["pareto"]
    assert {tuple(p["weight"]) for p in front} == {tuple(searches[i]["weight"]) for i in non_dominated(points)}
    assert [p["criterion_loss"] for p in front] == sorted((p["criterion_loss"] for p in front), reverse=True)
    assert on_disk["hypervolume"]["value"] > 0 and len(on_disk["hypervolume"]["reference"]) == 2
    names = [p["name"] for p in front]
    assert len(set(names)) == len(names) and all(n.startswith("l2_loss_") for n in names)
    assert "l2_loss_2e01" in names or all(p["weight"][0] != 0.2 for p in front)
    saved = json.loads((run_dir / "genotypes.json").read_text())
    assert list(saved) == names
    for name in names:
        assert resolve_genotype(f"{run_dir}/genotypes.json:{name}") == resolve_genotype(
            next(p for p in front if p["name"] == name)["run_dir"])
    assert (run_dir / "losses.png").is_file() and (run_dir / "frontier.png").is_file()
    assert sorted(p.name for p in (run_dir / "cells").iterdir()) == sorted(
        f"{n}_{c}.png" for n in names for c in ("normal", "reduction"))
    assert state["searches"] == searches
    log = (run_dir / "log.txt").read_text()
    assert "frontier plot:" in log and "genotypes:" in log and names[0] in log
    assert f"train one: python train.py --arch {run_dir / 'genotypes.json'}:{names[0]}" in log
    assert f"train the front: python batch_train.py --archs {run_dir} (then" in log
    ref_r, ref_ce = on_disk["hypervolume"]["reference"]
    # named numbers, not a raw list, as analyse_search_logs.py --reference takes them again (not rounded to 4)
    assert f"(reference point R = {ref_r:.6g}, CE = {ref_ce:.6g})" in log


def test_sweep_resumes_after_sigkill(sweep: dict, tmp_path: Path, run_script) -> None:
    """The kill is a real process's; its --resume runs in-process (run_script: `python multiobjective.py
    --resume DIR` without another interpreter start), from what the killed process left on disk. The killed
    process is itself a --resume of a copy of the shared sweep's folder as it stood when its third search began
    (searches 0 and 1 done, 2 running), so it spends its time on the search it is killed in."""
    shutil.copytree(sweep["at_search_2"], tmp_path / sweep["run_dir"].name)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "multiobjective.py", "--resume", str(tmp_path / sweep["run_dir"].name)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 400
    while time.time() < deadline and proc.poll() is None:
        # kill once the third search (index 2) has finished its first epoch: mid-search, mid-sweep
        if list(tmp_path.glob("multi-search-*/search-02-*/checkpoint.pt")):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run_dir,) = tmp_path.glob("multi-search-digits-t-*")
    killed = json.loads((run_dir / "sweep.json").read_text())
    assert killed["searches"][-1]["status"] == "running"
    assert [s["status"] for s in killed["searches"]] == ["done", "done", "running"]
    status, stderr = run_script("multiobjective.py", multiobjective, multiobjective.cli_main,
                                ["--resume", str(run_dir)])
    assert status == 0, stderr[-2000:]
    resumed = json.loads((run_dir / "sweep.json").read_text())
    unbroken = sweep["state"]
    assert [s["weight"] for s in resumed["searches"]] == [s["weight"] for s in unbroken["searches"]]
    for a, b in zip(resumed["searches"], unbroken["searches"]):
        assert a["genotype"] == b["genotype"]
        for key in ("reg_loss", "criterion_loss", "train_acc", "valid_acc"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-4), key
    assert [p["name"] for p in resumed["pareto"]] == [p["name"] for p in unbroken["pareto"]]
    # the sweep's log names the search that went on in its folder, and only that one
    log = (run_dir / "log.txt").read_text()
    assert log.count(" (resumed there)") == 1 and f"-> {resumed['searches'][2]['run_dir']} (resumed there)" in log


def test_a_sweep_killed_while_it_draws_a_front_draws_it_on_resume(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """frontier_NN.png was drawn after sweep.json recorded search NN done: a kill between the two left the plot
    missing for good, since the resume took the search for finished and drawn."""
    real_plot = multiobjective.plot_frontier

    class Killed(BaseException):
        """A kill -9 in the middle of the plot."""

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(multiobjective, "plot_frontier", killed)
    argv = ["-o", "l2", "-d", "10", "--max_searches", "2", "cifar", *SEARCH, "--epochs", "1"]
    with pytest.raises(Killed):
        multiobjective.main(parse([*argv, "--logdir", str(tmp_path)]))
    monkeypatch.setattr(multiobjective, "plot_frontier", real_plot)
    (run_dir,) = tmp_path.glob("multi-search-*")
    state = multiobjective.main(parse(["--resume", str(run_dir)]))
    assert [s["status"] for s in state["searches"]] == ["done", "done"]
    assert (run_dir / "frontier_00.png").is_file() and (run_dir / "frontier_01.png").is_file()


def test_a_front_that_cannot_be_drawn_is_a_warning_and_the_sweep_goes_on(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A plot that fails (a matplotlib error, a full disk while drawing) ended a sweep of hours with a traceback;
    the plots are drawn from results already saved, so it is a warning and the sweep finishes."""
    def broken(*args, **kwargs):
        raise ValueError("Image size of 1x100000 pixels is too large")

    monkeypatch.setattr(multiobjective, "plot_frontier", broken)
    argv = ["-o", "l2", "-d", "10", "--max_searches", "2", "cifar", *SEARCH, "--epochs", "1"]
    state = multiobjective.main(parse([*argv, "--logdir", str(tmp_path)]))
    (run_dir,) = tmp_path.glob("multi-search-*")
    assert [s["status"] for s in state["searches"]] == ["done", "done"] and (run_dir / "genotypes.json").is_file()
    log = (run_dir / "log.txt").read_text()
    for name in ("frontier_00.png", "frontier_01.png", "frontier.png"):
        assert f"could not draw {name}: Image size of 1x100000 pixels is too large" in log
        assert not (run_dir / name).exists()
    assert (run_dir / "losses.png").is_file()
    assert f"frontier plot: not drawn (the warning above says why); python tools/plot_frontier.py -l {run_dir}" in log


def test_a_sweep_stopped_before_its_first_sweep_json_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    """A Ctrl-C between args.json and the first sweep.json advised --resume, which then refused the folder (not a
    sweep folder: no sweep.json); it now starts the sweep afresh from its args.json."""
    real_run = multiobjective._run

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(multiobjective, "_run", ctrl_c)
    argv = ["-o", "l2", "-d", "10", "--max_searches", "2", "cifar", *SEARCH, "--epochs", "1"]
    assert run_main(multiobjective.main, parse([*argv, "--logdir", str(tmp_path)])) == 130
    (run_dir,) = tmp_path.glob("multi-search-*")
    assert capsys.readouterr().err.splitlines()[-1] == \
        f"interrupted: continue with python multiobjective.py --resume {run_dir}"
    assert (run_dir / "args.json").is_file() and not (run_dir / "sweep.json").exists()
    monkeypatch.setattr(multiobjective, "_run", real_run)
    assert run_main(multiobjective.main, parse(["--resume", str(run_dir)])) == 0
    state = json.loads((run_dir / "sweep.json").read_text())
    assert [s["status"] for s in state["searches"]] == ["done", "done"]
    assert state["args"]["epochs"] == 1 and state["args"]["max_searches"] == 2
    assert sorted(p.name for p in run_dir.glob("search-*")) == sorted(Path(s["run_dir"]).name
                                                                     for s in state["searches"])


@pytest.mark.parametrize("error", [
    train_search.SearchDiverged("the loss became nan at epoch 0 step 1"),
    KeyError("nan"),  # any crash
])
def test_failed_search_is_recorded_and_sweep_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     error: Exception) -> None:
    real_main = train_search.main
    calls = []

    def flaky(args):
        calls.append(args.l1_weight)
        if len(calls) == 1:
            raise error
        return real_main(args)

    monkeypatch.setattr(train_search, "main", flaky)
    state = multiobjective.main(parse(["-o", "l1", "-d", "10", "cifar", *SEARCH, "--epochs", "1",
                                       "--logdir", str(tmp_path)]))
    statuses = [s["status"] for s in state["searches"]]
    assert statuses[0] == "failed" and "nan" in state["searches"][0]["error"]
    assert statuses[1:] == ["done"] * (len(statuses) - 1) and len(statuses) >= 2
    assert [p["weight"] for p in state["pareto"]] == [[0.0, 1.0]]


def test_a_search_whose_point_is_not_finite_is_recorded_failed_and_the_sweep_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A finished search whose front CE is nan (a cost search's held-out CE, BatchNorm's running statistics blown
    up) was recorded done, then NISE refused the point: the sweep stopped with exit 2, and each --resume read the
    search's result.json again and stopped the same way, for good."""
    real_main = train_search.main
    calls = []

    def diverged(args):
        calls.append(args.l2_weight)
        result = real_main(args)
        return {**result, "criterion_loss": math.nan} if len(calls) == 1 else result

    monkeypatch.setattr(train_search, "main", diverged)
    state = multiobjective.main(parse(["-o", "l2", "-d", "10", "cifar", *SEARCH, "--epochs", "1",
                                       "--logdir", str(tmp_path)]))
    first, *rest = state["searches"]
    assert first["status"] == "failed" and "not finite" in first["error"] and "CE nan" in first["error"]
    assert [s["status"] for s in rest] == ["done"] * len(rest) and rest
    assert [p["weight"] for p in state["pareto"]] == [[0.0, 1.0]]


def test_a_gap_whose_search_failed_is_named_when_the_sweep_ends(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """NISE does not search a gap twice: the gap whose search failed stayed wider than --delta for good, and the sweep
    ended with "sweep done: 3 searches, 2 Pareto-optimal" as if it had converged; a --resume with a larger
    --max_searches then ran nothing, without a word. The end now counts the failed searches and names that gap."""
    real_main = train_search.main
    points = {0.2: (8.0, 3.0), 0.0: (10.0, 1.0)}  # NISE's third weight, normal to their segment: nu = 0.5

    def two_then_nan(args):
        if args.l2_weight not in points:
            raise train_search.SearchDiverged("the loss became nan at epoch 0 step 1")
        return {**real_main(args), "reg_loss": points[args.l2_weight][0],
                "criterion_loss": points[args.l2_weight][1]}

    monkeypatch.setattr(train_search, "main", two_then_nan)
    state = multiobjective.main(parse(["-o", "l2", "-d", "0.01", "cifar", *SEARCH, "--epochs", "1",
                                       "--logdir", str(tmp_path)]))
    assert [(s["weight"][0], s["status"]) for s in state["searches"]] == [(0.2, "done"), (0.0, "done"),
                                                                          (0.5, "failed")]
    (run_dir,) = tmp_path.glob("multi-search-*")
    log = (run_dir / "log.txt").read_text()
    assert "sweep done: 3 searches (1 failed), 2 Pareto-optimal" in log
    assert ("the front's gap between nu = 0.2 and nu = 0 (0.696 wide, normalised) is wider than --delta 0.01 and "
            "stays so: its search 2 (nu = 0.5) failed (the loss became nan at epoch 0 step 1)") in log


@pytest.mark.parametrize("error, said", [
    (UserError("data/train: image folder dataset not found"), r"data/train: image folder dataset not found"),
    (OSError(errno.ENOSPC, "No space left on device", "s/checkpoint.pt"),
     r"\[Errno 28\] No space left on device: 's/checkpoint.pt'")])
def test_a_search_that_cannot_run_here_stops_the_sweep_for_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   error: Exception, said: str) -> None:
    """A UserError met inside a search (its data gone, its folder held by another process) or an OSError (a full or
    read-only disk) is not how its nu turned out: the sweep stops with that line and leaves the search running, and
    --resume runs it (recorded failed, a disk full for a moment took its nu off the front for good)."""
    real_main = train_search.main

    def refused(args):
        raise error

    monkeypatch.setattr(train_search, "main", refused)
    with pytest.raises(UserError, match=r"^search 0 \(nu = 0.2\) could not run: " + said +
                                        r" \(the sweep stopped; mend that and continue it with "
                                        r"python multiobjective.py --resume "):
        multiobjective.main(parse(["-o", "l1", "-d", "10", "cifar", *SEARCH, "--epochs", "1", "--logdir",
                                   str(tmp_path)]))
    (run_dir,) = tmp_path.glob("multi-search-*")
    (record,) = json.loads((run_dir / "sweep.json").read_text())["searches"]
    assert record["status"] == "running" and record["weight"] == [0.2, 0.8]
    monkeypatch.setattr(train_search, "main", real_main)
    state = multiobjective.main(parse(["--resume", str(run_dir)]))
    assert [(s["weight"], s["status"]) for s in state["searches"][:2]] == [([0.2, 0.8], "done"), ([0.0, 1.0], "done")]


def test_nan_loss_stops_search_with_message(tmp_path: Path) -> None:
    args = train_search.build_parser().parse_args(
        [*SEARCH, "--epochs", "1", "--learning_rate", "1e30", "--grad_clip", "1e30", "-l2", "0", "--logdir",
         str(tmp_path)])
    with pytest.raises(train_search.SearchDiverged, match="lower --learning_rate"):
        train_search.main(args)


@pytest.mark.parametrize("argv, message", [
    (["-o", "l3", "cifar"], "invalid choice"),
    (["-o", "l2", "-d", "0", "cifar", "--set", "digits"], "--delta must be a finite number > 0"),
    (["-o", "l2", "-d", "-1", "cifar", "--set", "digits"], "--delta must be a finite number > 0"),
    (["-o", "l2", "-d", "inf", "cifar", "--set", "digits"], "--delta must be a finite number > 0, got inf"),
    (["--resume", "."], "not a sweep folder"),
    (["-o", "l2", "cifar", "--set", "cifar10", "--data", "/nonexistent-mood-nas"], "CIFAR-10"),
    (["--threads", "1", "-o", "l2", "cifar", "--set", "digits"],
     "--threads is a search flag: give it after the subcommand 'cifar'"),
    (["--epochs=2", "-o", "l2", "cifar", "--set", "digits"], "--epochs is a search flag"),
    (["--resume", ".", "--epochs", "5"], "--epochs is a search flag: give it after the subcommand (cifar or imagenet"),
    (["cifar", "-o", "l2", "--set", "digits"], "-o is the sweep's flag: give it before the subcommand 'cifar'"),
    # the weights a sweep sets for each search (they were "unrecognized arguments", as if of no use to it)
    (["-o", "flops", "cifar", "--set", "digits", "--cost_weight", "0.5"],
     "--cost_weight is set by the sweep for each search (NISE picks nu and cw, -o what nu weighs): leave it out"),
    (["-o", "l2", "cifar", "--set", "digits", "-l2=0.1"], "-l2 is set by the sweep for each search"),
    (["-cw", "0.5", "-o", "l2", "cifar", "--set", "digits"], "-cw is set by the sweep for each search"),
    (["-o", "l2", "cifar", "--set", "digits", "--crit", "0.5"], "--crit (--criterion_weight) is set by the sweep"),
    (["--resume", ".", "cifar", "--cost", "flops"], "--cost is set by the sweep for each search"),
    # what a search would refuse (torch's optimisers, the data split) is refused before the sweep folder exists
    (["-o", "l2", "cifar", *SEARCH, "--batch_size", "5000"], "--batch_size 5000 is larger than the search split"),
    (["-o", "l2", "cifar", *SEARCH, "--momentum", "-1"], "--momentum -1.0 must be in [0, 1)"),
    (["-o", "l1", "cifar", *SEARCH, "--learning_rate_min", "nan"], "--learning_rate_min nan must be a finite"),
    (["-o", "l2", "imagenet", "--arch_weight_decay", "-1"], "--arch_weight_decay -1.0 must be a finite"),
])
def test_bad_input_is_one_line(tmp_path: Path, argv: list[str], message: str, run_script) -> None:
    """`python multiobjective.py ARGV` from the repository root, run in-process (run_script); the one case below
    starts the real process."""
    status, stderr = run_script("multiobjective.py", multiobjective, multiobjective.cli_main,
                                [*argv, "--logdir", str(tmp_path)] if "cifar" in argv else argv)
    assert status == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], stderr
    assert not list(tmp_path.glob("multi-search-*"))


def test_bad_input_is_one_line_from_a_real_process(tmp_path: Path) -> None:
    """One case of the above as a real `python multiobjective.py`: nothing printed at import (a warning) and the
    entry point itself add a line to the one error."""
    done = subprocess.run([sys.executable, "multiobjective.py", "-o", "l2", "-d", "0", "cifar", "--set", "digits",
                           "--logdir", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--delta must be a finite number > 0" in lines[0], \
        done.stderr
    assert not list(tmp_path.glob("multi-search-*"))


@pytest.mark.parametrize("argv, message", [
    (["-o", "l2", "--epoch", "3", "cifar"], "--epoch (--epochs) is a search flag: give it after the subcommand"),
    (["--thread=1", "-o", "l2", "cifar"], "--thread (--threads) is a search flag"),
    (["-o", "l2", "--learning", "0.1", "cifar"], "--learning is a search flag"),  # --learning_rate(_min)
    (["--resume", "x", "--epoch", "3"], "--epoch (--epochs) is a search flag: give it after the subcommand (cifar"),
    # and a sweep flag after it, which argparse called unrecognized
    (["-o", "l2", "cifar", "--delt", "0.1"], "--delt (--delta) is the sweep's flag: give it before the subcommand"),
    (["-o", "l2", "cifar", "--objective=l1"], "--objective is the sweep's flag"),
    (["cifar", "--obj", "l1"], "--obj (--objective) is the sweep's flag"),
])
def test_an_abbreviated_search_flag_before_the_subcommand_says_where_it_goes(
        argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    """argparse takes --epoch for --epochs, so the sweep's parser says where it goes, not "invalid choice: '3'"."""
    with pytest.raises(SystemExit) as stopped:
        parse(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and len(err) == 1 and message in err[0], err


def test_an_abbreviated_sweep_flag_before_the_subcommand_still_parses() -> None:
    args = parse(["-o", "l2", "--max_search", "3", "--del", "0.3", "cifar", "--epoch", "3"])
    assert (args.max_searches, args.delta, args.epochs) == (3, 0.3, 3)
    args = parse(["-o", "l2", "cifar", "--max_search", "4", "--para", "2"])  # the subcommand takes these itself
    assert (args.max_searches, args.parallel) == (4, 2)


@pytest.mark.parametrize("flag, value", [
    ("momentum", -1.0), ("weight_decay", -1e-4), ("arch_learning_rate", -1.0), ("arch_weight_decay", float("nan")),
    ("learning_rate_min", float("nan")), ("learning_rate_min", -0.1), ("momentum", float("inf")),
    ("learning_rate", float("inf")),
])
def test_validate_search_args_refuses_what_torch_would(flag: str, value: float) -> None:
    args = train_search.build_parser().parse_args(SEARCH)
    train_search.validate_search_args(args)
    setattr(args, flag, value)
    says = r"must be in \[0, 1\)" if flag == "momentum" else "must be a finite number"
    with pytest.raises(UserError, match=f"^--{flag} {value} {says}"):
        train_search.validate_search_args(args)


def test_a_sweep_whose_searches_all_fail_exits_1(tmp_path: Path, run_script) -> None:
    """In-process (run_script: `python multiobjective.py ...` without an interpreter start); the real process's
    exit status and one-line error are test_bad_input_is_one_line_from_a_real_process's."""
    status, stderr = run_script("multiobjective.py", multiobjective, multiobjective.cli_main,
                                [*SWEEP, "--epochs", "1", "--learning_rate", "1e30", "--grad_clip", "1e30",
                                 "--logdir", str(tmp_path)])
    assert status == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no search finished (2 failed: "), stderr
    assert (next(tmp_path.glob("multi-search-*")) / "sweep.json").is_file()


@pytest.mark.parametrize("edit", [
    lambda st: st["searches"][0].pop("weight"),
    lambda st: st["searches"].__setitem__(0, "search 0"),
    lambda st: st["searches"][0].update(status="finished"),
    lambda st: st.update(estimator="none"),
], ids=["no_weight", "not_a_record", "unknown_status", "estimator"])
def test_a_hand_edited_sweep_json_is_one_line(sweep: dict, tmp_path: Path, edit) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(sweep["run_dir"], copy)
    state = json.loads((copy / "sweep.json").read_text())
    edit(state)
    (copy / "sweep.json").write_text(json.dumps(state))
    with pytest.raises(UserError, match=r"^--resume .*: sweep.json is not a sweep state \((searches\[0\]|estimator) "):
        multiobjective.main(parse(["--resume", str(copy)]))


def test_a_gpu_sweeps_cuda_graphs_resumed_on_a_cpu_is_one_line_before_anything(sweep: dict, tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture) -> None:
    """The resume skipped the speed check a new sweep makes: each interrupted search then raised it inside, was
    recorded failed for good (its checkpoint abandoned) and the sweep ended with exit 0 and a shorter front."""
    copy = tmp_path / "copy"
    shutil.copytree(sweep["run_dir"], copy)
    state = json.loads((copy / "sweep.json").read_text())
    state["args"].update(cuda_graphs=True, device="cuda")
    state["searches"][-1]["status"] = "running"
    (copy / "sweep.json").write_text(json.dumps(state))
    before = (copy / "sweep.json").read_bytes()
    assert run_main(multiobjective.main, parse(["--resume", str(copy), "cifar", "--device", "cpu"])) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --cuda_graphs needs a CUDA device") and "\n" not in err
    assert (copy / "sweep.json").read_bytes() == before


def test_names_that_no_longer_resolve_are_said_when_a_resumed_sweep_ends(sweep: dict, tmp_path: Path) -> None:
    """Extending a sweep can lengthen a point's name (l2_loss_5e04 -> l2_loss_529e06, a new nu beside it), drop it
    from the front, or pass a name to another search: a reference to the old name then fails or reads another
    genotype, and the log said nothing. Points are followed by their nu, as sweep.json records the names."""
    copy = tmp_path / "copy"
    shutil.copytree(sweep["run_dir"], copy)
    state = json.loads((copy / "sweep.json").read_text())
    front = {p["name"]: p["weight"][0] for p in state["pareto"]}
    assert state["published"] == front  # what genotypes.json was written with
    (first, nu_first), (second, nu_second) = list(front.items())[:2]
    state["published"] = {"l2_loss_OLD": nu_first, second: 0.123, "l2_loss_gone": 0.456,
                          **{n: v for n, v in front.items() if n not in (first, second)}}
    (copy / "sweep.json").write_text(json.dumps(state))
    multiobjective.main(parse(["--resume", str(copy)]))
    log = (copy / "log.txt").read_text()
    assert f"renamed: l2_loss_OLD is now {first} (nu = {nu_first:.6g})" in log
    assert f"{second} now names another search (nu = {nu_second:.6g}); its nu 0.123 is no longer" in log
    assert "no longer Pareto-optimal: l2_loss_gone (nu = 0.456)" in log
    assert log.count("renamed:") + log.count("now names another") + log.count("no longer Pareto-optimal:") == 3
    assert json.loads((copy / "sweep.json").read_text())["published"] == front


def test_a_sweep_stopped_by_max_searches_says_so_and_how_to_go_on(tmp_path: Path) -> None:
    multiobjective.main(parse(["-o", "l2", "-d", "1e-4", "cifar", *SEARCH, "--epochs", "1", "--max_searches", "2",
                               "--logdir", str(tmp_path)]))  # a delta that two points never meet
    (run_dir,) = tmp_path.glob("multi-search-*")
    log = (run_dir / "log.txt").read_text()
    assert "stopped at --max_searches 2: NISE had more to search" in log
    assert f"python multiobjective.py --resume {run_dir} --max_searches N (N > 2) goes on" in log
    assert "search 0 (1 of at most 2): nu = " in log and "search 1 (2 of at most 2): nu = " in log  # where it stands
    # a resume with a cap below the searches recorded: N > 1 would be advice that runs nothing again
    multiobjective.main(parse(["--resume", str(run_dir), "--max_searches", "1"]))
    log = (run_dir / "log.txt").read_text()
    assert log.count("--max_searches N (N > 2) goes on") == 2 and "(N > 1)" not in log
    # the tools said nothing of it: the front they showed read as NISE's own end
    note = (f"note: {run_dir} ended at --max_searches (2 searches) with gaps of its front wider than --delta left "
            f"(python multiobjective.py --resume {run_dir} --max_searches N, N > 2, goes on): shown are its 2 finished "
            "searches")
    assert json.loads((run_dir / "sweep.json").read_text())["capped"] is True
    assert tables.unfinished_note(tables.load_sweep(run_dir)) == note


def test_resume_from_elsewhere_finds_the_searches_in_the_sweep_folder(sweep: dict, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """sweep.json's run folders may be relative to another directory, or the folder moved: resume looks inside it."""
    original, searches = sweep["run_dir"], sweep["state"]["searches"]
    moved = tmp_path / "moved"
    shutil.copytree(original, moved)
    state = json.loads((moved / "sweep.json").read_text())
    for s in state["searches"]:
        s["run_dir"] = str(Path("logs") / original.name / Path(s["run_dir"]).name)  # as a relative --logdir left it
    (moved / "sweep.json").write_text(json.dumps(state))
    monkeypatch.chdir(tmp_path)
    resumed = multiobjective.main(parse(["--resume", str(moved)]))
    assert [s["run_dir"] for s in resumed["searches"]] == [str(moved / Path(s["run_dir"]).name) for s in searches]
    assert [s["criterion_loss"] for s in resumed["searches"]] == [s["criterion_loss"] for s in searches]
    assert not (tmp_path / "logs").exists()  # nothing ran again elsewhere


def test_ctrl_c_in_a_search_names_the_sweeps_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    """The sweep's folder, not its search's, is the one to resume; a bare `interrupted` named neither. The log.txt
    of a sweep run one search at a time says it too (the parallel one did): the terminal's line is gone once the
    window is."""
    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_search, "_search", ctrl_c)
    argv = ["-o", "l2", "cifar", *SEARCH, "--epochs", "1", "--logdir", str(tmp_path)]
    assert run_main(multiobjective.main, parse(argv)) == 130
    (run_dir,) = tmp_path.glob("multi-search-*")
    assert capsys.readouterr().err.splitlines()[-1] == \
        f"interrupted: continue with python multiobjective.py --resume {run_dir}"
    last = (run_dir / "log.txt").read_text().splitlines()[-1]
    assert last.endswith(f"interrupted: search(es) 0 left running; continue with python multiobjective.py --resume "
                         f"{run_dir}"), last
    assert [s["status"] for s in json.loads((run_dir / "sweep.json").read_text())["searches"]] == ["running"]


def test_a_sweep_stopped_between_two_searches_reads_as_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep killed or interrupted after one search's record and before the next one's leaves no search "running":
    the tools showed its partial front as the sweep's. sweep.json's "complete", true only from the sweep's end,
    tells them; the resume ends it."""
    real_run_one, calls = multiobjective.Sweep.run_one, []

    def ctrl_c_before_the_second(self, weight, record=None):
        calls.append(weight)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run_one(self, weight, record)

    monkeypatch.setattr(multiobjective.Sweep, "run_one", ctrl_c_before_the_second)
    argv = ["-o", "l2", "-d", "10", "--max_searches", "2", "cifar", *SEARCH, "--epochs", "1"]
    assert run_main(multiobjective.main, parse([*argv, "--logdir", str(tmp_path)])) == 130
    (run_dir,) = tmp_path.glob("multi-search-*")
    state = json.loads((run_dir / "sweep.json").read_text())
    assert [s["status"] for s in state["searches"]] == ["done"] and state["complete"] is False
    loaded = tables.load_sweep(run_dir)
    assert (loaded["running"], loaded["stopped"], loaded["between"]) == (0, 0, "stopped")
    assert tables.unfinished_note(loaded) == (
        f"note: {run_dir} was stopped between two searches, before its end (python multiobjective.py --resume "
        f"{run_dir} continues it): shown are its 1 finished search")
    monkeypatch.setattr(multiobjective.Sweep, "run_one", real_run_one)
    assert run_main(multiobjective.main, parse(["--resume", str(run_dir)])) == 0
    assert json.loads((run_dir / "sweep.json").read_text())["complete"] is True
    loaded = tables.load_sweep(run_dir)
    assert len(loaded["searches"]) == 2 and loaded["between"] is None and tables.unfinished_note(loaded) is None
