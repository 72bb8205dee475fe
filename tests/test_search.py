"""train_search.py: one tiny search on digits writes its run folder, resumes after SIGKILL, penalises right."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import held_open_under

import train_search
from genotypes import resolve_genotype
from model_search import Network

REPO = Path(__file__).resolve().parents[1]
TINY = ["--set", "digits", "--image_size", "8", "--layers", "3", "--init_channels", "4", "--batch_size", "64",
        "--subsample", "0.3", "--begin", "1", "--arch_learning_rate", "0.05", "--no_progress", "--device", "cpu",
        "--workers", "0"]


def parse(argv: list[str]):
    return train_search.build_parser().parse_args(argv)


def run_search(tmp_path: Path, *extra: str) -> dict:
    return train_search.main(parse([*TINY, "--logdir", str(tmp_path), *extra]))


def test_search_writes_run_folder(tmp_path: Path) -> None:
    result = run_search(tmp_path, "--epochs", "2", "-l2", "0.01", "-cw", "0.99", "--save", "t", "--note", "l2 0.01")
    run_dir = Path(result["run_dir"])
    # a sweep runs its searches in one process (its workers too): each search's log.txt stayed open after it ended,
    # one file descriptor more per search, until a long sweep hit the process's limit
    assert held_open_under(tmp_path) == []
    assert result["note"] == "l2 0.01"  # --note is kept with the result (and in args.json)
    assert run_dir.parent == tmp_path and run_dir.name.startswith("search-t-")
    for name in ("args.json", "log.txt", "metrics.csv", "checkpoint.pt", "result.json", "genotype.json", "weights.pt"):
        assert (run_dir / name).is_file(), name
    assert result["weight"] == [0.01, 0.99]
    assert result["objective"] == "l2" and result["reg_loss"] == result["l2_loss"] > 0
    assert 0 < result["criterion_loss"] < 10 and 0 <= result["train_acc"] <= 100
    assert result["valid_acc"] is not None and 6.0 > result["model_size"] > 0.5
    assert json.loads((run_dir / "result.json").read_text()) == json.loads(json.dumps(result))
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert rows[0]["arch_valid_loss"] == "" and rows[1]["arch_valid_loss"] != ""  # arch steps from --begin 1
    assert rows[0]["valid_acc"] == "" and float(rows[1]["valid_acc"]) == pytest.approx(result["valid_acc"])
    assert float(rows[1]["l2_loss"]) == pytest.approx(result["reg_loss"])
    # the genotype travels: the run folder resolves to the genotype the result reports
    assert resolve_genotype(run_dir) == resolve_genotype(run_dir / "genotype.json")
    assert json.loads(rows[-1]["genotype"]) == result["genotype"]
    # the supernet weights load back with strict=True, alphas and betas included
    net = Network(4, 10, 3)
    state = torch.load(run_dir / "weights.pt", weights_only=True)
    net.load_state_dict(state, strict=True)
    assert net.genotype() == resolve_genotype(run_dir)
    assert list(state)[-4:] == ["alphas_normal", "alphas_reduce", "betas_normal", "betas_reduce"]
    # the user is told where the run lives, first and last
    log = (run_dir / "log.txt").read_text().splitlines()
    assert log[0].endswith(f"run folder: {run_dir}") and log[-1].endswith(f"run folder: {run_dir}")
    # each epoch's end says how long it took and what is left (the bar shows one epoch's estimate only)
    assert [re.sub(r"[\d.]+ s", "T s", line.split("M ", 1)[1]) for line in log if " done in " in line] == [
        "epoch 0 done in T s (1 of 2); about T s left", "epoch 1 done in T s (2 of 2)"]


def test_penalty_gradient_equals_autograd() -> None:
    torch.manual_seed(0)
    net = Network(4, 10, 3)
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,))
    weights = list(net.weights())
    penalty = train_search.Penalty(criterion_weight=0.7, l1_weight=0.01, l2_weight=0.02)
    penalty(net(x), y, weights).backward()
    expected = [w.grad.clone() for w in weights]
    net.zero_grad(set_to_none=True)
    (0.7 * F.cross_entropy(net(x), y)).backward()
    penalty.add_grad(weights)
    for w, g in zip(weights, expected):
        torch.testing.assert_close(w.grad, g, rtol=1e-5, atol=1e-6)
    l1, l2 = train_search.Penalty.values(weights)
    assert l1.item() == pytest.approx(sum(w.abs().sum().item() for w in weights), rel=1e-5)
    assert l2.item() == pytest.approx(sum(w.pow(2).sum().item() for w in weights), rel=1e-5)
    assert train_search.Penalty(1.0, -1.0, 0.0).objective == "l2"
    assert train_search.Penalty(1.0, 0.0, -1.0).objective == "l1"
    # a zero weight adds nothing: the penalty that is applied is the objective (result.json's weight and reg_loss
    # named l1 at nu 0 while the loss held 0.01 * L2)
    assert train_search.Penalty(1.0, 0.0, 0.01).objective == "l2"
    assert train_search.Penalty(1.0, 0.0, 0.0).objective == "l1"


def test_the_search_log_states_the_weight_steps_loss() -> None:
    """-l1 A -l2 B both positive records only l1 as the result's objective and nu: the log says the loss held both,
    and whose R and nu the result gives."""
    assert train_search.Penalty(0.9, -1.0, 0.01).describe() == "0.9 * CE + 0.01 * sum w^2"
    assert train_search.Penalty(1.0, 0.0, -1.0).describe() == "1 * CE"
    assert train_search.Penalty(1.0, 0.002, 0.01).describe() == (
        "1 * CE + 0.002 * sum|w| + 0.01 * sum w^2 (both penalties on: the result's R and nu are l1's)")


def test_architecture_step_descends_the_plain_held_out_ce() -> None:
    """The architecture step minimises the held-out cross-entropy alone, as the original's (model._loss), whatever
    -cw and the penalty: it took the weight step's cw * CE + nu * R, so its gradient was scaled by cw (none at -cw 0)
    and its logged arch_valid_loss held the penalty."""
    args = parse([*TINY, "-l2", "0.1", "-cw", "0.5"])
    torch.manual_seed(0)
    search = train_search.build_search(args, 10, torch.device("cpu"))
    model = search.model
    x, y = torch.randn(8, 3, 8, 8), torch.randint(0, 10, (8,))
    ce = F.cross_entropy(model(x), y)
    expected = torch.autograd.grad(ce, model.arch_parameters())
    loss = search.architect.step(x, y, x, y, eta=0.1, network_optimizer=search.optimizer)
    torch.testing.assert_close(loss, ce.detach())
    for p, e in zip(model.arch_parameters(), expected):
        torch.testing.assert_close(p.grad, e)


def test_cosine_lr_matches_pytorch_scheduler() -> None:
    args = parse(["--epochs", "7", "--learning_rate", "0.1", "--learning_rate_min", "0.001"])
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 7, eta_min=0.001)
    for epoch in range(7):
        assert train_search.cosine_lr(args, epoch) == pytest.approx(sched.get_last_lr()[0])
        opt.step()
        sched.step()


def _run_cli(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train_search.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, **kw)


KILLED = ["--epochs", "3", "-l1", "0.001", "-cw", "0.999", "--threads", "1"]


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The search that test_search_resumes_after_a_kill kills, run to its end."""
    return run_search(tmp_path_factory.mktemp("unbroken"), *KILLED)


@pytest.mark.parametrize("kill", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_search_resumes_after_a_kill(tmp_path: Path, run_script, kill: signal.Signals, unbroken: dict) -> None:
    """The kill is a real process's; the --resume after it runs in-process (run_script: `python train_search.py
    --resume DIR` without another interpreter start), from what the killed process left on disk. SIGTERM (kill PID,
    a scheduler's preemption) killed the search outright with nothing said, its .lock still naming it: it now stops
    it as Ctrl-C does, with the --resume line (exit 143) and the lock released."""
    common = [*TINY, *KILLED]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "train_search.py", *common, "--logdir", str(tmp_path / "b")],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    metrics = None
    while time.time() < deadline and proc.poll() is None:
        found = list((tmp_path / "b").glob("search-*/metrics.csv"))
        if found and len(found[0].read_text().splitlines()) >= 2:  # header + epoch 0 done
            metrics = found[0]
            break
        time.sleep(0.05)
    assert metrics is not None and proc.poll() is None, "the search ended before it could be killed"
    proc.send_signal(kill)
    _, stderr = proc.communicate(timeout=60)
    run_dir = metrics.parent
    assert not (run_dir / "result.json").exists()
    if kill == signal.SIGTERM:
        assert proc.returncode == 143, stderr[-2000:]
        said = f"interrupted by SIGTERM: continue with python train_search.py --resume {run_dir}"
        assert stderr.splitlines()[-1] == said
        assert (run_dir / ".lock").read_text() == ""  # released, not left to the OS with the pid in it
    status, stderr = run_script("train_search.py", train_search, train_search.main,
                                ["--resume", str(run_dir), "--no_progress"])
    assert status == 0, stderr
    resumed = json.loads((run_dir / "result.json").read_text())
    assert resumed["genotype"] == unbroken["genotype"]
    for key in ("criterion_loss", "reg_loss", "train_acc", "valid_acc"):
        assert resumed[key] == pytest.approx(unbroken[key], rel=1e-4, abs=1e-4), key
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]


@pytest.mark.parametrize("argv, message", [
    (["--set", "cifar10", "--data", "/nonexistent-mood-nas"], "CIFAR-10"),
    (["--train_portion", "1.5"], "--train_portion"),
    (["--set", "digits", "--batch_size", "100000"], "--batch_size"),
    (["--resume", "/nonexistent-run"], "--resume /nonexistent-run: no such folder"),
    (["--set", "digits", "--image_size", "6"], "--image_size 6 must be a multiple of 4"),
    (["--set", "digits", "--epochs", "10"], "--begin 15 >= --epochs 10: the search would take no architecture step"),
    (["--set", "digits", "--begin", "-1"], "--begin -1 must be >= 0"),
    (["--set", "digits", "--arch_learning_rate", "0"], "--arch_learning_rate 0: the architecture steps would not move"),
    (["--set", "digits", "--grad_clip", "0"], "--grad_clip 0.0 must be > 0"),
    (["--set", "digits", "--init_channels", "6"], "--init_channels 6 must be a multiple of 4"),
    (["--set", "digits", "-l1", "nan"], "-l1 nan must be a finite number"),
    (["--set", "digits", "-l2", "1e39"], "-l2 1e+39 must be a finite number (float32's: at most 3.4e38)"),
    (["--set", "digits", "--partial_channels", "0"], "--partial_channels 0 must be >= 1"),
    (["--set", "digits", "--init_channels", "4", "--partial_channels", "8"],
     "--init_channels 4 must be a multiple of 8"),
    (["--set", "digits", "-cw", "0", "-l2", "-1"], "-cw 0 with no -l1/-l2 penalty: the weight step's loss"),
    (["--set", "digits", "-cw", "0", "-l1", "0", "-l2", "0"], "-cw 0 with no -l1/-l2 penalty"),
])
def test_bad_input_is_one_line(tmp_path: Path, argv: list[str], message: str, run_script) -> None:
    """`python train_search.py ARGV` from the repository root, run in-process (run_script); the one case below
    starts the real process."""
    status, stderr = run_script("train_search.py", train_search, train_search.main,
                                [*argv, "--logdir", str(tmp_path), "--device", "cpu", "--no_progress"])
    assert status == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], stderr
    assert not list(tmp_path.iterdir())  # refused before a run folder was made


def test_bad_input_is_one_line_from_a_real_process(tmp_path: Path) -> None:
    """One case of the above as a real `python train_search.py`: nothing printed at import (a warning) and the
    entry point itself add a line to the one error."""
    done = _run_cli(["--set", "digits", "--image_size", "6", "--logdir", str(tmp_path), "--device", "cpu",
                     "--no_progress"])
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--image_size 6 must be a multiple of 4" in lines[0], \
        done.stderr
    assert not list(tmp_path.iterdir())  # refused before a run folder was made


def test_a_lone_last_training_sample_is_dropped_where_a_map_is_1x1(tmp_path: Path) -> None:
    """At 4x4 the last cell's map is 1x1, and a training batch of one sample fails in BatchNorm (train mode): 718
    training images in batches of 717 leave one, which the loader drops as train.py's does."""
    args = parse(["--set", "digits", "--image_size", "4", "--layers", "3", "--init_channels", "4", "--batch_size",
                  "717", "--epochs", "1", "--begin", "0", "--no_progress", "--device", "cpu", "--workers", "0",
                  "--logdir", str(tmp_path)])
    train_loader = train_search.build_data(args, torch.device("cpu"))[0]
    assert len(train_loader.indices) % 717 == 1 and len(train_loader) == 1
    assert train_search.main(args)["genotype"]


def test_a_diverged_search_names_the_step_as_the_log_counts_it_and_is_logged(tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture) -> None:
    """As train.py's: the error counted steps from 0 beside the log's 1-based lines, and log.txt never said why."""
    from utils import run_main

    argv = ["--set", "digits", "--image_size", "8", "--init_channels", "4", "--layers", "3", "--batch_size", "64",
            "--subsample", "0.3", "--epochs", "1", "--begin", "0", "--no_progress", "--learning_rate", "1e30",
            "--grad_clip", "1e30", "--threads", "1", "--logdir", str(tmp_path)]
    assert run_main(train_search.main, train_search.build_parser().parse_args(argv)) == 2
    err = capsys.readouterr().err.strip()
    (run,) = tmp_path.glob("search-*")
    log = (run / "log.txt").read_text()
    assert err.startswith("error: the loss became nan at epoch 0 by step ") and "\n" not in err
    step = int(err.split("by step ")[1].split("/")[0])
    finite = [line for line in log.splitlines() if " train 0" in line]
    assert len(finite) < step  # the steps logged before it were finite ones
    assert err[len("error: "):] in log


def test_a_resume_before_the_first_checkpoint_keeps_the_runs_args_json(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A search stopped in its first epoch (no checkpoint.pt yet) and resumed: its args.json used to be written anew
    by the --resume call, which replaced the command line that started the run with `--resume DIR`, its start time
    with the resume's, and recorded a --resume the run never had."""
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(sys, "argv", ["train_search.py", "--the-first-call"])
        m.setattr(train_search, "train_epoch", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_search(tmp_path, "--epochs", "1", "--begin", "0")
    (run_dir,) = tmp_path.glob("search-*")
    assert not (run_dir / "checkpoint.pt").exists()
    before = (run_dir / "args.json").read_text()
    monkeypatch.setattr(sys, "argv", ["train_search.py", "--resume", str(run_dir)])
    train_search.main(parse(["--resume", str(run_dir), "--no_progress"]))
    assert (run_dir / "result.json").is_file()
    assert (run_dir / "args.json").read_text() == before
    assert json.loads(before)["argv"] == ["train_search.py", "--the-first-call"]
    assert "from the start (no checkpoint.pt yet)" in (run_dir / "log.txt").read_text()
