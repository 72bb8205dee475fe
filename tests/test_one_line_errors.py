"""Faults that gave a traceback (or a silent default) and must be one `error:` line, with nothing lost.

A foreign checkpoint on --resume, an OSError (read-only or full disk, a name too long, an output that
cannot be written, found before the work), malformed JSON in the project's files, a bad ensemble
member, optimizer flags torch rejects only once the run folder exists, and network flags of 0.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

import batch_train
import ensemble
import genotypes
import multiobjective
import train
import train_search
import utils
import visualize
from model import NetworkCIFAR
from model_search import Network
from tools import profile_genotypes, tables
from utils import UserError, run_main, save_args

TINY = ["--set", "digits", "--init_channels", "4", "--layers", "3", "--batch_size", "64", "--image_size", "8",
        "--epochs", "2", "--no_progress", "--device", "cpu"]


def one_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:"), err
    return err


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def stopped_training(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A training of C=4 killed after epoch 1 of 2; each test works on a copy."""
    logdir = tmp_path_factory.mktemp("logs")
    stopped = train.main(train.build_parser().parse_args(
        [*TINY, "--arch", "DARTS_V2", "--logdir", str(logdir), "--stop_after", "1"]))
    return Path(stopped["run_dir"])


# --------------------------------------------------------------------------- foreign checkpoints on --resume


def test_a_plain_state_dict_as_checkpoint_is_one_line(stopped_training: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    run = Path(shutil.copytree(stopped_training, tmp_path / "run"))
    state = torch.load(run / "checkpoint.pt", weights_only=True)["model"]
    torch.save(state, run / "checkpoint.pt")  # a weights.pt copied over the resume state
    before = files(run)
    assert run_main(train.main, train.build_parser().parse_args(["--resume", str(run)])) == 2
    err = one_line(capsys)
    assert f"{run / 'checkpoint.pt'} is not this run's resume checkpoint (no 'epoch'" in err
    assert files(run) == before


def test_a_checkpoint_of_another_width_is_one_line(stopped_training: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    run = Path(shutil.copytree(stopped_training, tmp_path / "run"))
    record = json.loads((run / "args.json").read_text())
    record["args"]["init_channels"] = 8
    (run / "args.json").write_text(json.dumps(record))
    before = files(run)
    assert run_main(train.main, train.build_parser().parse_args(["--resume", str(run)])) == 2
    err = one_line(capsys)
    assert "does not match this run's network" in err and "of another shape" in err
    assert files(run) == before


def test_a_search_checkpoint_of_another_width_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "search"
    run.mkdir()
    save_args(train_search.build_parser().parse_args(TINY), run, torch.device("cpu"), kind="search")
    wider = Network(8, 10, 3)
    checkpoint = {"epoch": 1, "model": wider.state_dict(), "optimizer": {}, "arch_optimizer": {}, "rng": {},
                  "last": {}}
    torch.save(checkpoint, run / "checkpoint.pt")
    assert run_main(train_search.main, train_search.build_parser().parse_args(["--resume", str(run)])) == 2
    err = one_line(capsys)
    assert "checkpoint.pt does not match this run's network" in err and not (run / "metrics.csv").exists()


# --------------------------------------------------------------------------- OSError


def test_an_oserror_is_one_line_naming_the_file(capsys: pytest.CaptureFixture) -> None:
    def main(args: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", "logs/run/metrics.csv")

    assert run_main(main, None) == 2
    assert capsys.readouterr().err == "error: logs/run/metrics.csv: Read-only file system\n"


def test_a_full_disk_names_the_checkpoint_and_keeps_the_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    path = tmp_path / "checkpoint.pt"
    utils.save_atomic({"epoch": 1}, path)
    real_fdopen = os.fdopen

    def full_disk(fd: int, mode: str = "r", *args: object, **kwargs: object) -> object:
        os.close(fd)
        return real_fdopen(os.open("/dev/full", os.O_WRONLY), mode, *args, **kwargs)

    monkeypatch.setattr(utils.os, "fdopen", full_disk)
    big = {"epoch": 2, "model": {"w": torch.zeros(100_000)}}  # more than a write buffer
    assert run_main(lambda _: utils.save_atomic(big, path), None) == 2
    assert capsys.readouterr().err == f"error: {path}: No space left on device\n"
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left


def test_a_run_folder_name_too_long_or_unwritable_fails_before_any_folder(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="--save a+... is too long"):
        utils.create_run_dir("search", "a" * 300, tmp_path / "logs")
    monkeypatch.setattr(utils.os, "access", lambda path, mode: False)  # a read-only disk (root writes anywhere)
    with pytest.raises(UserError, match=r"cannot write in .* \(read-only or no permission\)"):
        utils.create_run_dir("search", "EXP", tmp_path / "logs")
    assert not list(tmp_path.iterdir())


def test_threads_beyond_the_cpus_is_one_line_before_any_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--threads 100000 crashed torch's thread pool with a segmentation fault, a sweep's after its folder existed;
    more threads than the CPUs this process may run on is refused with one line, before anything is written (a
    resumed run's recorded count too, in configure_torch)."""
    too_many = utils.available_cores() + 1
    parsed = multiobjective.build_parser().parse_args(
        ["-o", "l2", "--max_searches", "1", "cifar", *TINY, "--begin", "1", "--threads", str(too_many),
         "--logdir", str(tmp_path / "logs")])
    assert run_main(multiobjective.main, parsed) == 2
    assert f"--threads {too_many} is more than the" in one_line(capsys)
    assert not list(tmp_path.iterdir())
    before = torch.get_num_threads()
    with pytest.raises(UserError, match=f"--threads {too_many} is more than the"):
        utils.configure_torch(torch.device("cpu"), too_many, training=False)
    assert torch.get_num_threads() == before


def test_an_output_that_cannot_be_written_fails_before_the_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    not_a_folder = tmp_path / "table.csv"
    not_a_folder.write_text("keep")
    monkeypatch.setattr(tables, "make_profiler", lambda *a, **k: pytest.fail("the work started"))
    args = profile_genotypes.build_parser().parse_args(["--archs", "DARTS_V2", "--no_latency",
                                                        "-o", str(not_a_folder / "profile.csv")])
    assert run_main(profile_genotypes.main, args) == 2
    assert one_line(capsys) == f"error: -o {not_a_folder / 'profile.csv'}: {not_a_folder} is not a folder"
    assert not_a_folder.read_text() == "keep"


def test_check_writable_names_what_is_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deeper = tmp_path / "new" / "deeper" / "out.csv"
    assert utils.check_writable(deeper, "-o") == deeper  # folders still to make are fine
    with pytest.raises(UserError, match="longer than"):
        utils.check_writable(tmp_path / ("x" * 300 + ".csv"), "-o")
    monkeypatch.setattr(utils.os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(UserError, match=f"-o {tmp_path / 'o.csv'}: cannot write in {tmp_path}"):
        utils.check_output(tmp_path / "o.csv", "-o")


def test_check_writable_tries_the_folder_where_permissions_say_yes(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """os.access answers yes to root on /proc or a read-only mount; a write there must fail before the work."""
    def refused(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(utils.tempfile, "TemporaryFile", refused)
    expected = rf"-o {tmp_path / 'o.csv'}: cannot write in {tmp_path} \(no file can be made there: Read-only"
    with pytest.raises(UserError, match=expected):
        utils.check_writable(tmp_path / "o.csv", "-o")
    monkeypatch.undo()
    assert utils.check_writable(tmp_path / "o.csv", "-o") == tmp_path / "o.csv"
    assert not list(tmp_path.iterdir())  # the probe leaves nothing behind
    if Path("/proc/self").is_dir():  # Linux: no file can be made in /proc, whoever asks
        with pytest.raises(UserError, match="-o /proc/x.json: cannot write in /proc"):
            utils.check_writable("/proc/x.json", "-o")


def test_the_write_check_tries_once_on_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows tempfile takes "access denied" for a name taken and retries up to os.TMP_MAX (2**31) times while
    os.access (the read-only flag only) says yes: a folder whose ACL refuses this user hung check_writable."""
    import tempfile

    calls = []
    real_open = os.open

    def denied(path: object, flags: int, *args: object) -> int:
        calls.append(path)
        if os.path.dirname(os.fspath(path)) == str(tmp_path) or os.fspath(path) == str(tmp_path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(tempfile, "TMP_MAX", 50)  # (os.TMP_MAX on Windows: 2**31 - 1)
    monkeypatch.setattr(os, "open", denied)
    monkeypatch.setattr(os, "name", "nt")  # as Windows: only the calls below, which make no Path of their own
    with pytest.raises(PermissionError):
        utils.make_and_drop_a_file(tmp_path)
    tried = len(calls)
    with pytest.raises(OSError, match="No usable temporary file name"):  # what the check did with tempfile
        tempfile.TemporaryFile(dir=tmp_path)
    monkeypatch.undo()
    assert tried == 1 and len(calls) > 50, (tried, len(calls))
    utils.make_and_drop_a_file(tmp_path)  # a folder that takes files: made and dropped, nothing left
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- malformed files


def test_undecodable_json_names_the_file(tmp_path: Path) -> None:
    garbage = tmp_path / "args.json"
    garbage.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(UserError, match=f"{garbage} is not valid JSON"):
        utils.read_json(garbage)
    with pytest.raises(genotypes.GenotypeError, match=f"cannot read genotype file {garbage}"):
        genotypes.resolve_genotype(str(garbage))


def test_a_batch_json_of_another_shape_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "batch.json").write_text("[1, 2]")
    assert run_main(batch_train.main, batch_train.build_parser().parse_args(["--resume", str(folder)])) == 2
    assert "batch.json is not a batch-train state" in one_line(capsys)
    # nothing written but the lock, taken before batch.json is read (a real batch folder has it from its start)
    assert sorted(p.name for p in folder.iterdir() if p.name != ".lock") == ["batch.json"]
    assert (folder / "batch.json").read_text() == "[1, 2]"


def test_a_malformed_sweep_json_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "sweep.json").write_text('{"args": {')
    assert run_main(multiobjective.main, multiobjective.build_parser().parse_args(["--resume", str(tmp_path)])) == 2
    assert f"{tmp_path / 'sweep.json'} is not valid JSON" in one_line(capsys)


def test_one_bad_ensemble_member_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Not skipped (the ensemble of the others looked complete), nor a traceback: one line naming the file."""
    good = tmp_path / "eval-DARTS_V2-1"
    good.mkdir()
    settings = {"arch": "DARTS_V2", "init_channels": 4, "layers": 3, "auxiliary": False, "set": "digits"}
    (good / "args.json").write_text(json.dumps({"args": settings}))
    torch.save(NetworkCIFAR(4, 10, 3, False, genotypes.DARTS_V2).state_dict(), good / "weights.pt")
    bad = Path(shutil.copytree(good, tmp_path / "eval-DARTS_V2-2"))
    (bad / "args.json").write_text("[1, 2]")  # valid JSON, but not a run's arguments
    args = ensemble.build_parser().parse_args(["--set", "digits", "--models_folder", str(tmp_path),
                                               "--subsample", "0.1", "--batch_size", "128", "--device", "cpu"])
    assert run_main(ensemble.main, args) == 2
    said = one_line(capsys)
    assert f'{bad / "args.json"} is not a' in said and '(no "args" object)' in said
    assert not (tmp_path / "ensemble.json").exists()


# --------------------------------------------------------------------------- flags refused before a folder exists


@pytest.mark.parametrize(("flag", "value"), [
    ("--weight_decay", "-1"), ("--arch_learning_rate", "-1"), ("--arch_weight_decay", "-1"),
    ("--learning_rate_min", "nan"), ("--weight_decay", "inf"),
])
def test_search_flags_torch_would_reject_fail_before_the_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                    flag: str, value: str) -> None:
    args = train_search.build_parser().parse_args([*TINY, flag, value, "--logdir", str(tmp_path)])
    assert run_main(train_search.main, args) == 2
    assert f"{flag} {float(value)} must be a finite number >= 0" in one_line(capsys)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("script", "flag"), [
    (train, "--learning_rate"), (train, "--weight_decay"),
    (train_search, "--arch_learning_rate"), (train_search, "--arch_weight_decay"),
])
def test_an_optimiser_value_past_float32_fails_before_the_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                     script: object, flag: str) -> None:
    """1e39 is finite in Python but not in the float32 the optimisers step in: a RuntimeError traceback at the
    first step, in a run folder left behind (1e38 trains, and stops at the nan loss with one line)."""
    args = script.build_parser().parse_args([*TINY, flag, "1e39", "--logdir", str(tmp_path)])
    assert run_main(script.main, args) == 2
    assert one_line(capsys).startswith(f"error: {flag} 1e+39 must be a finite number")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("script", "argv"), [
    (train, ["--seed", str(2**64)]), (train, ["--seed", str(-(2**63) - 1)]),
    (batch_train, ["--archs", "DARTS_V2", "--seeds", "0", str(2**64)]),
])
def test_a_seed_torch_cannot_take_fails_in_one_line_before_any_folder(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                      script: object, argv: list[str]) -> None:
    """Was 'error: Overflow when unpacking long long'; batch_train.py made its batch folder and failed every
    training of that seed (exit 1)."""
    args = script.build_parser().parse_args([*TINY, *argv, "--logdir", str(tmp_path)])
    assert run_main(script.main, args) == 2
    assert "must be from -2**63 to 2**64 - 1" in one_line(capsys)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("script", "argv", "says"), [
    (train_search, ["--learning_rate", "0.1", "--learning_rate_min", "0.5"], "--learning_rate_min 0.5 is above"),
    (train, ["--arch", "DARTS_V2", "--learning_rate_min", "0.5"], "--learning_rate_min 0.5 is above"),
    (train, ["--arch", "DARTS_V2", "--lr_schedule", "step", "--gamma", "9.7"], "--gamma 9.7 must be in (0, 1]"),
    (train, ["--arch", "DARTS_V2", "--momentum", "1"], "--momentum 1.0 must be in [0, 1)"),
    (train_search, ["--momentum", "1.5"], "--momentum 1.5 must be in [0, 1)"),
    (train_search, ["--momentum", "-1"], "--momentum -1.0 must be in [0, 1)"),
])
def test_a_learning_rate_that_would_grow_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture, script: object,
                                                   argv: list[str], says: str) -> None:
    """A cosine floor above the start, or a step decay above 1, made the lr climb (train loss 2.4 -> 13.8); a
    momentum of 1 or more never lets a step fade."""
    args = script.build_parser().parse_args([*TINY, *argv, "--logdir", str(tmp_path)])
    assert run_main(script.main, args) == 2
    assert one_line(capsys).startswith(f"error: {says}")
    assert not list(tmp_path.iterdir())
    # a step schedule has no floor, cosine no decay factor: neither is range-checked where it is not read, and
    # typed there it is refused as unread (test_train: test_a_flag_this_training_never_reads_is_refused)
    for unread in (["--lr_schedule", "step", "--learning_rate_min", "0.5"], ["--gamma", "1.5"]):
        with pytest.raises(UserError, match=r"^--\w+ acts only with --lr_schedule (cosine|step),"):
            train.check_args(train.build_parser().parse_args([*TINY, "--arch", "DARTS_V2", *unread]))



@pytest.mark.parametrize("argv", [["--set", "bogus"], ["--set", "folder", "--data", "/nonexistent-folder"],
                                  ["--set", "digits", "--batch_model", "/nonexistent/batch_predict.json"],
                                  ["--set", "digits", "--batch_model",
                                   str(Path(batch_train.__file__).with_name("batch_data.csv"))],  # the data, not a fit
                                  ["--set", "digits", "--margin_mb", "nan"],
                                  ["--set", "digits", "--auxiliary", "--probe", "--probe_batches", "1", "2"]])
def test_batch_checks_the_data_before_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                 argv: list[str]) -> None:
    args = batch_train.build_parser().parse_args([*argv, "--archs", "DARTS_V2", "--logdir", str(tmp_path)])
    assert run_main(batch_train.main, args) == 2
    one_line(capsys)
    assert not list(tmp_path.iterdir())


def test_profile_genotypes_names_an_odd_imagenet_width(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = profile_genotypes.build_parser().parse_args(["--archs", "DARTS_V2", "--no_latency", "--imagenet",
                                                        "--init_channels", "5", "-o", str(tmp_path / "p.csv")])
    assert run_main(profile_genotypes.main, args) == 2
    assert one_line(capsys).startswith("error: --init_channels 5 must be even on ImageNet")


def test_a_folder_as_model_path_is_named_before_the_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = train.build_parser().parse_args([*TINY, "--arch", "DARTS_V2", "--model_path", str(tmp_path),
                                            "--logdir", str(tmp_path / "logs")])
    assert run_main(train.main, args) == 2
    assert f"{tmp_path} is a folder, not a checkpoint" in one_line(capsys)
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("flag", ["--layers", "--classes", "--init_channels"])
def test_profile_genotypes_refuses_zero_rather_than_the_default(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                               flag: str) -> None:
    args = profile_genotypes.build_parser().parse_args(["--archs", "DARTS_V2", "--no_latency", flag, "0",
                                                        "-o", str(tmp_path / "p.csv")])
    assert run_main(profile_genotypes.main, args) == 2
    assert one_line(capsys) == f"error: {flag} 0 must be >= 1"
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("script, argv, says", [
    (train_search, ["--set", "digits", "--image_size", "10"], "--image_size 10 must be a multiple of 4"),
    (train_search, ["--set", "imagenet", "--data", "/nonexistent-imagenet", "--image_size", "200"],
     "--image_size 200 does not fit NetworkImageNet"),
    (multiobjective, ["-o", "l2", "cifar", "--set", "digits", "--image_size", "14"], "--image_size 14 must be"),
    (train, ["--set", "digits", "--arch", "DARTS_V2", "--image_size", "10"], "--image_size 10 must be"),
    (train, ["--set", "digits", "--arch", "DARTS_V2", "--image_size", "48", "--auxiliary"],
     "--image_size 48 does not fit --auxiliary"),
    (batch_train, ["--set", "digits", "--archs", "DARTS_V2", "--image_size", "30"], "--image_size 30 must be"),
    (train, ["--set", "imagenet", "--data", "/nonexistent", "--arch", "PC_DARTS_image", "--init_channels", "5"],
     "--init_channels 5 must be even on ImageNet"),
    (train, ["--set", "digits", "--arch", "DARTS_V2", "--image_size", "8", "--cutout", "--cutout_length", "16"],
     "--cutout_length 16 is longer than the 8-pixel image side"),
    (train_search, ["--set", "digits", "--cutout", "--cutout_length", "33"], "--cutout_length 33 is longer than"),
    (train_search, ["--set", "imagenet", "--data", "/nonexistent", "--init_channels", "5", "--partial_channels", "1"],
     "--init_channels 5 must be even on ImageNet"),
    (train_search, ["--set", "digits", "--image_size", "4", "--batch_size", "1"],
     "--batch_size 1 cannot train at --image_size 4: the last cells work on a 1x1 map"),
    (train_search, ["--set", "imagenet", "--data", "/nonexistent", "--image_size", "32", "--batch_size", "1"],
     "--batch_size 1 cannot train at --image_size 32"),
    (train, ["--set", "digits", "--arch", "DARTS_V2", "--image_size", "4", "--batch_size", "1"],
     "--batch_size 1 cannot train at --image_size 4"),
    (train, ["--set", "digits", "--arch", "DARTS_V2", "--batch_size", "1", "--auxiliary"],
     "--batch_size 1 cannot train with --auxiliary"),
    (batch_train, ["--set", "digits", "--archs", "DARTS_V2", "--batch_size", "1", "--auxiliary"],
     "--batch_size 1 cannot train with --auxiliary"),
    (multiobjective, ["-o", "l2", "imagenet", "--set", "digits"], "--set digits contradicts the imagenet subcommand"),
])
def test_an_image_or_width_that_cannot_work_fails_before_the_run_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture, script: object, argv: list[str], says: str) -> None:
    """A side the reductions (or DARTS's auxiliary head) cannot halve, or a width ImageNet's first cell cannot
    split, used to pass the checks and fail inside the run, a traceback after the run folder was made; a cutout
    longer than the side trained on erased images without a word."""
    args = script.build_parser().parse_args([*argv, "--logdir", str(tmp_path)])
    assert run_main(script.main, args) == 2
    assert says in one_line(capsys)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("module, argv, flag", [
    (train, ["--arch", "DARTS_V2", "--resume", ""], "--resume"),  # `--resume "$RUN"`, RUN unset: a new run began
    (train, ["--arch", "DARTS_V2", "--model_path", " "], "--model_path"),  # trained from scratch, saying nothing
    (train_search, ["--logdir", ""], "--logdir"),  # the run folder went into the working folder
    (multiobjective, ["-o", "l2", "--gpus", "", "cifar"], "--gpus"),
    (multiobjective, ["-o", "l2", "cifar", "--save", ""], "--save"),  # a subcommand's flag
    (batch_train, ["--archs", "DARTS_V2", ""], "--archs"),  # one of several values
    (ensemble, ["--models_folder", ""], "--models_folder"),
    (visualize, [""], "arch"),  # a positional
])
def test_an_empty_value_is_refused_before_anything_is_written(module, argv: list[str], flag: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        module.build_parser().parse_args(argv)
    assert stopped.value.code == 2
    assert f"{flag} was given an empty value" in one_line(capsys) and not list(tmp_path.iterdir())


@pytest.mark.parametrize("module, argv, says", [
    (train_search, ["--init_channels", str(10**20)], f"--init_channels {10**20} is out of range: at most"),  # C++ stack
    (multiobjective, ["-o", "l2", "--parallel", str(2**31)], f"--parallel {2**31} is out of range"),  # an OverflowError
    (multiobjective, ["-o", "l2", "cifar", "--layers", str(-(2**40))], "out of range: at least"),  # a subcommand's flag
    (batch_train, ["--archs", "DARTS_V2", "--probe_batches", "16", str(2**31)], "--probe_batches"),  # one of two
])
def test_an_integer_beyond_any_run_is_refused_before_anything_is_written(
        module, argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        module.build_parser().parse_args(argv)
    assert stopped.value.code == 2
    assert says in one_line(capsys) and not list(tmp_path.iterdir())


def test_the_largest_integer_a_flag_takes_and_any_seed_parse() -> None:
    args = train_search.build_parser().parse_args(["--init_channels", str(2**31 - 1), "--seed", str(2**63)])
    assert (args.init_channels, args.seed) == (2**31 - 1, 2**63)  # seeds: check_common_args's SEED_RANGE


def test_an_empty_note_is_free_text() -> None:
    assert train_search.build_parser().parse_args(["--note", ""]).note == ""
