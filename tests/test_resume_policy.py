"""One resume rule (cli.resume_args) for train_search.py, train.py, multiobjective.py and batch_train.py.

On --resume the run's saved arguments are the truth: a flag typed now overrides them only if it may change
on resume (device, gpu, workers, threads, data, printing, the speed levers; a sweep's parallel flags), any
other typed flag with another value is a one-line error (exit 2, nothing written), and a flag left at its
default never overrides the run's value. The run folders here hold only what a resume reads first (args.json,
sweep.json, batch.json), written by the scripts' own code, so no test trains anything.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import torch

import batch_train
import cli
import multiobjective
import train
import train_search
import utils
from tools import latency_table
from utils import read_json, run_main, save_args, write_json_atomic

# What every saved run below was started with: hardware flags off their defaults (--gpu 1 set by started(): typed
# beside --device cpu it is refused), and 2 epochs.
STARTED = ["--set", "digits", "--device", "cpu", "--workers", "0", "--threads", "3", "--epochs", "2"]
TINY = ["--layers", "3", "--init_channels", "4", "--batch_size", "64"]
CPU = torch.device("cpu")


def started(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The arguments of a run started on a CUDA machine with --gpu 1, its args.json since moved to --device cpu."""
    args = parser.parse_args(argv)
    args.gpu = 1
    return args


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of a run folder and its bytes, but the lock file: a resume locks the folder before it reads the
    run's state, and so before it checks the typed flags against it (a run folder holds its .lock from its start)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def _one_line_refusal(capsys: pytest.CaptureFixture, *flags: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert all(flag in err[0] for flag in flags), err[0]
    assert "may change on --resume" in err[0]
    return err[0]


def _hardware(args: argparse.Namespace) -> tuple:
    return args.device, args.gpu, args.workers, args.threads


# --------------------------------------------------------------------------- telling typed flags from defaults


def test_parse_args_records_the_typed_flags_outside_the_saved_arguments(tmp_path: Path) -> None:
    sweep = multiobjective.build_parser()
    args = sweep.parse_args(["-o", "l2", "cifar", "--device", "cpu", "--epoch=3", "--parallel", "2"])
    assert cli.typed_flags(args) == {"objective", "space", "device", "epochs", "parallel"}
    assert args.epochs == 3 and args.gpu == 0  # the defaults are back after the second parse
    assert sweep.parse_args(["-o", "l2", "cifar"]).epochs == 50
    assert cli.typed_flags(argparse.Namespace(**vars(args))) is None  # built in-process: not typed
    record = save_args(args, tmp_path, CPU, kind="sweep")
    assert "typed" not in record["args"] and record["args"]["epochs"] == 3


@pytest.mark.parametrize("parser, before", [
    (train.build_parser, []), (train_search.build_parser, []), (batch_train.build_parser, []),
    (multiobjective.build_parser, ["-o", "l2", "cifar"]), (latency_table.build_parser, []),
])
def test_a_typed_gpu_beside_a_cpu_or_mps_device_is_one_line(parser: Any, before: list[str],
                                                            capsys: pytest.CaptureFixture) -> None:
    """--device cpu --gpu 1 ran on the CPU without a word: a typed --gpu names a CUDA device."""
    for device, gpu in (("cpu", "1"), ("mps", "0")):
        with pytest.raises(SystemExit) as stop:
            parser().parse_args([*before, "--device", device, "--gpu", gpu])
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and err.startswith("error:"), err
        assert f"--gpu {gpu} picks a CUDA device, but the device is {device}" in err
    assert parser().parse_args([*before, "--device", "cpu"]).gpu == 0  # the default 0 is harmless
    if parser is latency_table.build_parser:  # its --device defaults to cpu: --gpu alone is the same slip
        with pytest.raises(SystemExit):
            parser().parse_args(["--gpu", "1"])
        assert "but the device is cpu" in capsys.readouterr().err
        assert parser().parse_args(["--device", "cuda", "--gpu", "1"]).gpu == 1
    else:  # auto: a CUDA device where there is one
        assert parser().parse_args([*before, "--device", "auto", "--gpu", "1"]).gpu == 1
        assert parser().parse_args([*before, "--gpu", "1"]).gpu == 1


# --------------------------------------------------------------------------- train_search.py


@pytest.fixture()
def search_run(tmp_path: Path) -> Path:
    run = tmp_path / "search-EXP"
    run.mkdir()
    save_args(started(train_search.build_parser(), [*STARTED, *TINY]), run, CPU, kind="search")
    return run


def test_search_resume_takes_typed_allowed_flags_and_keeps_the_rest(search_run: Path) -> None:
    parse = train_search.build_parser().parse_args
    kept, _ = train_search._resolve_args(parse(["--resume", str(search_run)]))
    assert _hardware(kept) == ("cpu", 1, 0, 3) and kept.epochs == 2 and kept.set == "digits"
    moved, _ = train_search._resolve_args(parse(["--resume", str(search_run), "--device", "auto", "--gpu", "0",
                                                 "--threads", "1", "--no_progress", "--epochs", "2"]))  # as it was
    assert _hardware(moved) == ("auto", 0, 0, 1) and moved.no_progress and moved.epochs == 2


def test_a_typed_gpu_on_the_resume_of_a_cpu_run_is_one_line(search_run: Path, capsys: pytest.CaptureFixture) -> None:
    """--resume RUN --gpu 0 of a run started with --device cpu went on on the CPU, the --gpu typed ignored."""
    before = _files(search_run)
    assert run_main(train_search.main, train_search.build_parser().parse_args(
        ["--resume", str(search_run), "--gpu", "0"])) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--gpu 0 picks a CUDA device, but the device is cpu" in err, err
    assert str(search_run / "args.json") in err
    assert _files(search_run) == before
    kept, _ = train_search._resolve_args(train_search.build_parser().parse_args(  # its recorded --gpu stands
        ["--resume", str(search_run), "--device", "cpu"]))
    assert _hardware(kept) == ("cpu", 1, 0, 3)


def test_search_resume_refuses_a_typed_flag_that_changes_the_run(search_run: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    before = _files(search_run)
    parsed = train_search.build_parser().parse_args(["--resume", str(search_run), "--epochs", "3",
                                                     "--learning_rate", "0.5"])
    assert run_main(train_search.main, parsed) == 2
    _one_line_refusal(capsys, "--epochs 3 (the run has --epochs 2)", "--learning_rate 0.5")
    assert _files(search_run) == before


def test_a_run_from_before_a_flag_existed_refuses_it_typed_and_resumes_without_it(
        search_run: Path, capsys: pytest.CaptureFixture) -> None:
    """An args.json written before the cost flags existed: `--resume RUN --cost flops --cost_weight 5` used to
    turn the l2 search into a costed one halfway, since a key the run does not record took this call's value."""
    record = read_json(search_run / "args.json")
    for key in ("cost", "cost_weight", "eval_channels", "eval_layers", "latency_table"):
        del record["args"][key]
    write_json_atomic(search_run / "args.json", record)
    before = _files(search_run)
    parse = train_search.build_parser().parse_args
    assert run_main(train_search.main, parse(["--resume", str(search_run), "--cost", "flops", "--cost_weight",
                                              "5"])) == 2
    err = _one_line_refusal(capsys, "--cost flops (the run's arguments do not record --cost",
                            "--cost_weight 5.0 (the run's arguments do not record --cost_weight")
    assert "started before the flag existed" in err
    assert _files(search_run) == before
    kept, _ = train_search._resolve_args(parse(["--resume", str(search_run), "--threads", "1"]))
    assert kept.cost is None and kept.cost_weight == 0.0 and kept.threads == 1  # untyped: the defaults it ran as


# --------------------------------------------------------------------------- train.py


@pytest.fixture()
def train_run(tmp_path: Path) -> Path:
    run = tmp_path / "eval-DARTS_V2"
    run.mkdir()
    args = started(train.build_parser(), [*STARTED, *TINY, "--arch", "DARTS_V2"])
    save_args(args, run, CPU, kind="train")
    return run


def test_train_resume_takes_typed_allowed_flags_and_keeps_the_rest(train_run: Path, tmp_path: Path) -> None:
    parse = train.build_parser().parse_args
    kept, _ = train.resolve_run(parse(["--resume", str(train_run)]))
    assert _hardware(kept) == ("cpu", 1, 0, 3) and kept.set == "digits" and kept.epochs == 2
    moved, _ = train.resolve_run(parse(["--resume", str(train_run), "--workers", "2", "--data", str(tmp_path)]))
    assert _hardware(moved) == ("cpu", 1, 2, 3) and moved.data == str(tmp_path)


def test_train_resume_refuses_a_typed_flag_that_changes_the_run(train_run: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    before = _files(train_run)
    parsed = train.build_parser().parse_args(["--resume", str(train_run), "--set", "cifar10"])
    assert run_main(train.main, parsed) == 2
    _one_line_refusal(capsys, "--set cifar10 (the run has --set digits)")
    assert _files(train_run) == before
    # a switch the run had off is named as off: --auxiliary has no --no- form to quote
    assert run_main(train.main, train.build_parser().parse_args(["--resume", str(train_run), "--auxiliary"])) == 2
    assert "--no-auxiliary" not in _one_line_refusal(capsys, "--auxiliary (the run has auxiliary off)")
    # a flag the run left to the script reads as such, not as "--label_smooth None"
    assert run_main(train.main, train.build_parser().parse_args(["--resume", str(train_run), "--label_smooth",
                                                                 "0"])) == 2
    _one_line_refusal(capsys, "--label_smooth 0.0 (the run has no --label_smooth, its default)")
    assert _files(train_run) == before


# --------------------------------------------------------------------------- multiobjective.py


@pytest.fixture()
def sweep_run(tmp_path: Path) -> Path:
    run = tmp_path / "multi-search-digits-EXP"
    run.mkdir()
    args = started(multiobjective.build_parser(), ["-o", "l2", "cifar", *STARTED, *TINY])
    multiobjective.check_parallel_args(args)
    multiobjective.Sweep(args, run, logger=None).save()  # the sweep.json a started sweep writes
    return run


def test_sweep_resume_defaults_of_the_subcommand_never_override(sweep_run: Path) -> None:
    """`--resume DIR cifar --device cuda` changes the device only (it used to reset gpu, workers, threads too)."""
    parse = multiobjective.build_parser().parse_args
    saved, _, _ = multiobjective._resume(parse(["--resume", str(sweep_run), "cifar", "--device", "cuda"]))
    assert _hardware(saved) == ("cuda", 1, 0, 3) and saved.epochs == 2 and saved.parallel == 1
    more, _, _ = multiobjective._resume(parse(["--resume", str(sweep_run), "--parallel", "2"]))
    assert _hardware(more) == ("cpu", 1, 0, 3) and more.parallel == 2 and more.objective == "l2"


def test_sweep_resume_refuses_a_typed_flag_that_changes_the_run(sweep_run: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    before = _files(sweep_run)
    parsed = multiobjective.build_parser().parse_args(["--resume", str(sweep_run), "cifar", "--epochs", "3"])
    assert run_main(multiobjective.main, parsed) == 2
    _one_line_refusal(capsys, "--epochs 3 (the run has --epochs 2)", "--parallel")
    assert _files(sweep_run) == before


def test_a_sweep_flag_refused_with_no_subcommand_still_lists_the_search_flags_that_may_change(
        sweep_run: Path, capsys: pytest.CaptureFixture) -> None:
    """`--resume DIR -d 0.1` is refused; the line's list of what may change keeps --device and --threads (typed
    after the subcommand), not the parallel flags alone."""
    parsed = multiobjective.build_parser().parse_args(["--resume", str(sweep_run), "-d", "0.1"])
    assert run_main(multiobjective.main, parsed) == 2
    _one_line_refusal(capsys, "--delta 0.1 (the run has --delta 0.15)", "--device", "--threads", "--max_searches")


@pytest.mark.parametrize("typed", [["--threads", "-1"], ["--report_lines", "0"], ["--workers", "-2"]])
def test_a_sweep_resume_refuses_an_out_of_range_flag_that_may_change_before_it_saves_it(
        sweep_run: Path, capsys: pytest.CaptureFixture, typed: list[str]) -> None:
    """A --threads -1 typed on --resume is one line and stays out of sweep.json: saved there, it stopped every
    later search, and `--resume DIR` as the sweep printed it stopped again."""
    before = _files(sweep_run)
    parsed = multiobjective.build_parser().parse_args(["--resume", str(sweep_run), "cifar", *typed])
    assert run_main(multiobjective.main, parsed) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {typed[0]} {typed[1]} must be"), err
    assert _files(sweep_run) == before


def test_sweep_resume_names_another_subcommand_as_the_subcommand(sweep_run: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """`--resume DIR imagenet` on a cifar sweep names the subcommands, not a --space flag that does not exist."""
    parsed = multiobjective.build_parser().parse_args(["--resume", str(sweep_run), "imagenet"])
    assert run_main(multiobjective.main, parsed) == 2
    line = _one_line_refusal(capsys, "the subcommand imagenet (the run has the subcommand cifar)")
    assert "--space" not in line


# --------------------------------------------------------------------------- batch_train.py


@pytest.fixture()
def batch_run(tmp_path: Path) -> Path:
    run = tmp_path / "batch-train-EXP"
    run.mkdir()
    args = started(batch_train.build_parser(), [*STARTED, *TINY, "--archs", "DARTS_V2"])
    save_args(args, run, CPU, kind="batch")
    write_json_atomic(run / "batch.json", {"args": {k: v for k, v in vars(args).items() if k != "resume"},
                                           "entries": []})
    return run


def test_batch_resume_takes_typed_allowed_flags_and_keeps_the_rest(batch_run: Path) -> None:
    parse = batch_train.build_parser().parse_args
    kept, _, _ = batch_train._resume_state(parse(["--resume", str(batch_run)]))
    assert _hardware(kept) == ("cpu", 1, 0, 3) and kept.archs == ["DARTS_V2"] and kept.epochs == 2
    moved, _, _ = batch_train._resume_state(parse(["--resume", str(batch_run), "--threads", "1",
                                                   "--archs", "DARTS_V2"]))  # the same list: fine
    assert _hardware(moved) == ("cpu", 1, 0, 1)


def test_batch_resume_refuses_a_recorded_threads_beyond_this_machine_before_any_training(
        batch_run: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch started with --threads 3, resumed where 2 CPUs are: one line, batch.json as it was (the check came
    only inside each training, which it marked failed, an eval- folder made for each)."""
    monkeypatch.setattr(utils, "available_cores", lambda: 2)
    state = read_json(batch_run / "batch.json")
    state["entries"] = batch_train.plan(["DARTS_V2"], None)
    write_json_atomic(batch_run / "batch.json", state)
    before = _files(batch_run)
    assert run_main(batch_train.main, batch_train.build_parser().parse_args(["--resume", str(batch_run)])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --threads 3 is more than the 2 CPUs"), err
    assert _files(batch_run) == before


def test_batch_resume_refuses_a_typed_flag_that_changes_the_run(batch_run: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    before = _files(batch_run)
    parsed = batch_train.build_parser().parse_args(["--resume", str(batch_run), "--archs", "PC_DARTS_cifar"])
    assert run_main(batch_train.main, parsed) == 2
    _one_line_refusal(capsys, "--archs PC_DARTS_cifar (the run has --archs DARTS_V2)")
    assert _files(batch_run) == before
