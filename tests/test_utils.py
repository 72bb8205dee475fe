"""Tests of utils.py: run folders, atomic files, RNG round trips, metrics CSV, accuracy, exit codes."""

from __future__ import annotations

import argparse
import errno
import io
import json
import logging
import os
import pickle
import random
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import utils
from utils import (
    MetricsCSV,
    UserError,
    accuracy,
    count_parameters_in_MB,
    create_run_dir,
    get_device,
    get_logger,
    get_rng_state,
    load_checkpoint,
    read_json,
    resumable,
    run_main,
    save_args,
    save_atomic,
    set_rng_state,
    set_seed,
    write_csv_atomic,
    write_json_atomic,
)


def test_get_device_cpu_and_auto():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError, match="unknown --device"):
        get_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_get_device_cuda_unavailable_is_one_line():
    with pytest.raises(ValueError) as info:
        get_device("cuda")
    assert "CUDA is not available" in str(info.value)
    assert "\n" not in str(info.value)


def test_get_device_takes_cuda_and_cuda_n_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """profile_genotypes.py's free-text --device: "cudafoo" ran on cuda:0, "cuda:x" ended on int()'s "invalid
    literal", and "cuda:1" on one GPU was blamed on a --gpu 1 never typed. (A one-GPU machine, pretended.)"""
    monkeypatch.setattr(utils, "device_available", lambda kind: kind in ("cpu", "cuda"))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert get_device("cuda:0", 5) == get_device("cuda") == torch.device("cuda", 0)
    for typo in ("cudafoo", "cuda:x", "cuda:", "cuda0"):
        with pytest.raises(ValueError, match=f"unknown --device '{typo}'"):
            get_device(typo)
    with pytest.raises(ValueError, match=r"^--device cuda:1 does not exist: 1 CUDA device\(s\) visible$"):
        get_device("cuda:1")
    with pytest.raises(ValueError, match=r"^--gpu 2 does not exist"):
        get_device("cuda", 2)


def test_args_json_records_the_cpu_threads_torch_runs_with() -> None:
    """--threads 0 (torch's default) recorded 0: the count in effect is in env.torch_threads."""
    before = torch.get_num_threads()
    try:
        utils.configure_torch(torch.device("cpu"), 1, training=False)
        assert utils.environment_info(torch.device("cpu"))["torch_threads"] == 1
        assert utils.device_note(torch.device("cpu")) == "cpu (1 CPU thread)"
    finally:
        torch.set_num_threads(before)


def test_set_seed_reproduces_all_generators():
    set_seed(7)
    first = (random.random(), np.random.rand(), torch.rand(3))
    set_seed(7)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2])
    set_seed(8)
    assert random.random() != first[0]



def test_accuracy_topk_and_clipping():
    output = torch.tensor([[0.1, 0.5, 0.4], [0.9, 0.04, 0.06], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    target = torch.tensor([1, 2, 0, 1])
    top1, top2, top5 = accuracy(output, target, topk=(1, 2, 5))
    assert top1 == pytest.approx(25.0)  # only sample 0
    assert top2 == pytest.approx(75.0)  # samples 0, 1 and 3; sample 2's label is ranked third
    assert top5 == pytest.approx(100.0)  # k clipped to 3 classes
    assert all(isinstance(v, float) for v in (top1, top2, top5))


def test_accuracy_top2_exact_membership():
    output = torch.tensor([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    assert accuracy(output, torch.tensor([1, 0]), topk=(2,)) == [pytest.approx(50.0)]


def test_count_parameters_skips_auxiliary():
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Linear(10, 10)  # 110 parameters
            self.auxiliary_head = torch.nn.Linear(100, 100)

    assert count_parameters_in_MB(Net()) == pytest.approx(110 / 1e6)


def test_create_run_dir_name_and_uniqueness(tmp_path):
    first = create_run_dir("search", "EXP", root=tmp_path / "logs")
    assert first.is_dir()
    assert re.fullmatch(r"search-EXP-\d{8}-\d{6}", first.name)
    others = [create_run_dir("search", "EXP", root=tmp_path / "logs") for _ in range(3)]
    names = {p.name for p in [first, *others]}
    assert len(names) == 4  # never reused, even within the same second
    assert all(p.is_dir() and not any(p.iterdir()) for p in others)
    with pytest.raises(UserError):
        create_run_dir("search", "a/b", root=tmp_path)


def test_create_run_dir_appends_suffix_when_taken(tmp_path, monkeypatch):
    monkeypatch.setattr(utils.time, "strftime", lambda fmt: "20240101-000000")
    (tmp_path / "eval-x-20240101-000000").mkdir()
    (tmp_path / "eval-x-20240101-000000-1").mkdir()
    assert create_run_dir("eval", "x", root=tmp_path).name == "eval-x-20240101-000000-2"


def test_create_run_dir_refuses_a_logdir_inside_a_search_or_training_but_not_a_sweep_or_batch(tmp_path):
    """test.py --logdir <the training it tests> made its test folder inside that training's folder; a sweep's and a
    batch's folders hold their runs by design."""
    training = tmp_path / "eval-DARTS_V2-20240101-000000"
    training.mkdir()
    (training / "args.json").write_text(json.dumps({"kind": "train", "args": {"arch": "DARTS_V2"}}))
    for logdir in (training, training / "tests"):
        with pytest.raises(UserError, match=f"--logdir {re.escape(str(logdir))} is inside a training run folder "
                                            f"\\({re.escape(str(training))}\\)"):
            create_run_dir("test", "x", logdir)
    assert sorted(p.name for p in training.iterdir()) == ["args.json"]
    sweep = tmp_path / "multi-search-digits-EXP-20240101-000000"
    sweep.mkdir()
    (sweep / "sweep.json").write_text("{}")
    assert create_run_dir("search", "EXP", sweep).parent == sweep



@pytest.mark.parametrize("kind", ["batch-train", "multi-search-digits"])
def test_create_run_dir_makes_no_batch_or_sweep_inside_a_run_folder(tmp_path, kind):
    """batch_train.py --logdir <a batch> made a batch inside it, and ensemble.py --models_folder <that batch>, which
    looks one level down, ensembled the inner batch's trainings with its own without a word."""
    batch = tmp_path / "batch-train-EXP-20240101-000000"
    batch.mkdir()
    (batch / "batch.json").write_text("{}")
    for logdir in (batch, batch / "more"):
        with pytest.raises(UserError, match=f"--logdir {re.escape(str(logdir))} is inside a batch-train folder "
                                            rf"\({re.escape(str(batch))}\)"):
            create_run_dir(kind, "EXP", logdir)
    assert sorted(p.name for p in batch.iterdir()) == ["batch.json"]
    assert create_run_dir("eval", "x", batch).parent == batch  # its own trainings
    assert create_run_dir(kind, "EXP", tmp_path).parent == tmp_path

def test_write_json_atomic_roundtrip_and_special_types(tmp_path):
    path = tmp_path / "sub" / "result.json"
    obj = {"a": np.float32(1.5), "b": np.int64(3), "p": Path("x/y"), "arr": np.arange(3), "t": torch.tensor([1, 2])}
    write_json_atomic(path, obj)
    assert read_json(path) == {"a": 1.5, "b": 3, "p": "x/y", "arr": [0, 1, 2], "t": [1, 2]}
    assert "\n  " in path.read_text()  # indent=2
    write_json_atomic(path, {"v": 2})
    assert read_json(path) == {"v": 2}
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]  # no temp files left


def test_write_json_atomic_failure_keeps_old_file(tmp_path):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"old": True})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})
    assert read_json(path) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_atomic_files_get_the_mode_open_gives_them(tmp_path):
    """Results on a shared disk stay readable: the umask decides, as for open(), not mkstemp's 0600."""
    old = os.umask(0o027)
    try:
        write_json_atomic(tmp_path / "a.json", {})
        save_atomic({}, tmp_path / "a.pt")
        (tmp_path / "plain").write_text("")
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {"a.json": 0o640, "a.pt": 0o640, "plain": 0o640}


def test_read_json_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        read_json(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError, match="bad.json"):
        read_json(tmp_path / "bad.json")


def test_save_atomic_and_load_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    state = {"w": torch.arange(4.0), "epoch": 3}
    save_atomic(state, path)
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 3 and torch.equal(loaded["w"], state["w"])
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(UserError, match="corrupt.pt"):
        load_checkpoint(tmp_path / "corrupt.pt")


def test_load_checkpoint_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"obj": argparse.Namespace(a=1)}, path)  # not allowed under weights_only
    with pytest.raises(UserError, match="evil.pt"):
        load_checkpoint(path)


def test_a_text_or_foreign_file_as_weights_is_one_line_without_unsafe_advice(tmp_path):
    """A CSV given as weights raised IndexError from the unpickler; torch's advice to reload with
    weights_only=False (which runs the file's code) must not reach the user."""
    (tmp_path / "metrics.csv").write_text("epoch,lr,train_loss\n0,0.025,2.3\n")
    torch.save({"obj": argparse.Namespace(a=1)}, tmp_path / "evil.pt")
    (tmp_path / "protocol4.pkl").write_bytes(pickle.dumps({"w": [1.0]}, protocol=4))
    (tmp_path / "empty.pt").write_bytes(b"")
    for name in ("metrics.csv", "evil.pt", "protocol4.pkl", "empty.pt"):
        with warnings.catch_warnings(record=True) as caught, pytest.raises(UserError) as err:
            warnings.simplefilter("always")
            load_checkpoint(tmp_path / name)
        message = str(err.value)
        assert message.startswith(f"cannot read checkpoint {tmp_path / name}: ") and "\n" not in message, message
        assert "weights_only" not in message and "safe_globals" not in message and "trust" not in message, message
        assert not caught, [str(w.message) for w in caught]  # nothing printed beside the one line


def test_rng_state_roundtrip_through_weights_only_checkpoint(tmp_path):
    set_seed(123)
    random.gauss(0, 1)  # leaves a cached gaussian in python's state
    np.random.standard_normal()  # and in numpy's
    state = get_rng_state()
    expected = (random.random(), random.gauss(0, 1), np.random.rand(4), np.random.standard_normal(),
                torch.rand(5))
    save_atomic({"rng": state}, tmp_path / "resume.pt")
    set_seed(999)
    set_rng_state(load_checkpoint(tmp_path / "resume.pt")["rng"])
    got = (random.random(), random.gauss(0, 1), np.random.rand(4), np.random.standard_normal(), torch.rand(5))
    assert got[0] == expected[0] and got[1] == expected[1]
    assert np.array_equal(got[2], expected[2]) and got[3] == expected[3]
    assert torch.equal(got[4], expected[4])


class _OnAccelerator(torch.Tensor):
    """Stands in for a tensor that a resume's map_location=<GPU> put on the device: numpy() refuses it, as torch
    does for a CUDA tensor, and cpu() brings it back."""

    def numpy(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy")

    def cpu(self, *args, **kwargs):
        return self.as_subclass(torch.Tensor)


def test_rng_state_restores_from_a_checkpoint_loaded_onto_the_device():
    """train.py and train_search.py load checkpoint.pt with map_location=device: on a GPU the saved RNG
    tensors arrive there, and restoring them crashed every --resume with a traceback."""
    set_seed(7)
    state = get_rng_state()
    expected = (random.random(), np.random.rand(3), torch.rand(3))

    def on_device(value):
        if isinstance(value, torch.Tensor):
            return value.as_subclass(_OnAccelerator)
        return {k: on_device(v) for k, v in value.items()} if isinstance(value, dict) else value

    set_seed(999)
    set_rng_state(on_device(state))
    got = (random.random(), np.random.rand(3), torch.rand(3))
    assert got[0] == expected[0] and np.array_equal(got[1], expected[1]) and torch.equal(got[2], expected[2])


def test_a_run_resumed_on_another_gpu_takes_its_own_generator_there(monkeypatch: pytest.MonkeyPatch) -> None:
    """--gpu may change on --resume: the states were restored by index, so a run saved on cuda:0 and resumed on
    cuda:1 drew its drop-path masks from cuda:1's fresh state, not its own. Two GPUs are stubbed (none here)."""
    run_state, other = torch.full((16,), 2, dtype=torch.uint8), torch.full((16,), 1, dtype=torch.uint8)
    restored: dict[int, int] = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [run_state.clone(), other.clone()])
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, index: restored.__setitem__(index, int(state[0])))
    saved = get_rng_state(torch.device("cuda", 0))
    set_rng_state(saved, torch.device("cuda", 1))
    assert restored == {0: 2, 1: 2}
    restored.clear()
    set_rng_state(saved, torch.device("cuda", 0))  # the same GPU: every state where it was
    assert restored == {0: 2, 1: 1}


def test_args_json_keeps_data_as_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative --data was saved as typed, so test.py, ensemble.py and --resume looked for it relative to
    wherever they were run from."""
    monkeypatch.chdir(tmp_path)
    record = save_args(argparse.Namespace(data="mydata", set="folder"), tmp_path, torch.device("cpu"), kind="train")
    assert record["args"]["data"] == str(tmp_path / "mydata")
    assert json.loads((tmp_path / "args.json").read_text())["args"]["data"] == str(tmp_path / "mydata")


def test_get_logger_no_duplicate_handlers(tmp_path, capsys):
    logger = get_logger("test_utils_logger", tmp_path)
    logger = get_logger("test_utils_logger", tmp_path)
    logger.info("hello %d", 1)
    for handler in logger.handlers:
        handler.flush()
    lines = (tmp_path / "log.txt").read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith("hello 1")
    assert re.match(r"\d\d/\d\d \d\d:\d\d:\d\d [AP]M hello 1", lines[0])
    assert capsys.readouterr().out.count("hello 1") == 1
    assert logger.propagate is False
    get_logger("test_utils_logger", tmp_path).info("again")  # append mode
    assert len((tmp_path / "log.txt").read_text().splitlines()) == 2
    for handler in list(logger.handlers):
        handler.close()
    logging.getLogger("test_utils_logger").handlers.clear()


def test_a_stdout_gone_mid_run_ends_the_echo_with_one_note_and_the_log_keeps_every_line(tmp_path, capsys, monkeypatch):
    """stdout piped into `head -1`: logging printed a traceback on stderr for every later line of the run."""
    name = "test_utils_broken_pipe"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (head -1) has gone
    monkeypatch.setattr(sys, "stdout", os.fdopen(write_end, "w"))
    try:
        logger = get_logger(name, tmp_path)
        for step in range(3):
            logger.info("step %d", step)
        err = capsys.readouterr().err
        assert "Logging error" not in err and "Traceback" not in err
        assert err.splitlines() == [f"note: stdout is gone ({os.strerror(errno.EPIPE)}): the run goes on, its log "
                                    f"lines only in {tmp_path / 'log.txt'}"]
        for handler in logger.handlers:
            handler.flush()
        lines = (tmp_path / "log.txt").read_text().splitlines()
        assert [line.split("M ", 1)[1] for line in lines] == ["step 0", "step 1", "step 2"]
    finally:
        for handler in list(logging.getLogger(name).handlers):
            handler.close()
        logging.getLogger(name).handlers.clear()
        sys.stdout.close()


def test_a_tools_stdout_gone_drops_its_prints_with_one_note_and_the_tool_writes_its_files(tmp_path, capsys,
                                                                                         monkeypatch):
    """A tool's stdout piped into `head -1`: its next print ended it with `error: Broken pipe` (exit 2) before it
    wrote its table; the note is said once and the run's logger (the stream under SteadyStdout) says nothing more."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    broken = os.fdopen(write_end, "w")
    monkeypatch.setattr(sys, "stdout", broken)

    def tool(_: None) -> None:
        for row in range(3):
            print(f"row {row}", flush=True)
        get_logger("test_utils_tool_pipe").info("a logged line")
        (tmp_path / "table.csv").write_text("a,b\n")

    try:
        assert run_main(tool, None) == 0
        assert sys.stdout is broken  # put back
        assert (tmp_path / "table.csv").read_text() == "a,b\n"
        assert capsys.readouterr().err.splitlines() == [
            f"note: stdout is gone ({os.strerror(errno.EPIPE)}): the work goes on, its files are written, what it "
            "prints is no longer shown"]
    finally:
        for handler in list(logging.getLogger("test_utils_tool_pipe").handlers):
            handler.close()
        logging.getLogger("test_utils_tool_pipe").handlers.clear()
        broken.close()


def test_a_log_line_naming_a_path_whose_bytes_are_not_utf8_is_kept_in_log_txt(tmp_path, capsys):
    """A --logdir named on a Latin-1 disk (b'lat\\xe9', '\\udce9' in Python): log.txt, in the locale's encoding, strict,
    and stdout dropped every line naming the run folder, each with a traceback on stderr."""
    name = "test_utils_latin1_path"
    folder = os.fsdecode(b"/runs/lat\xe9")
    try:
        logger = get_logger(name, tmp_path)
        logger.info("run folder: %s", folder)
        for handler in logger.handlers:
            handler.flush()
        out, err = capsys.readouterr()
        assert "Logging error" not in err and out.endswith("run folder: /runs/lat\\udce9\n")  # a UTF-8 stdout, strict
        assert (tmp_path / "log.txt").read_bytes().rstrip().endswith(b"run folder: /runs/lat\xe9")
    finally:
        for handler in list(logging.getLogger(name).handlers):
            handler.close()
        logging.getLogger(name).handlers.clear()


def test_a_table_is_written_in_utf8_whatever_the_locale(tmp_path, monkeypatch):
    """Under an ASCII (LC_ALL=C, PYTHONUTF8=0) or a cp1252 locale, a table naming a 'ν=0.2' group failed with a bare
    codec error, as open() without an encoding takes the locale's; pandas reads the tables back as UTF-8."""
    fdopen = os.fdopen

    def ascii_locale(fd: int, mode: str = "r", *args: object, **kwargs: object) -> object:
        return fdopen(fd, mode, *args, **{"encoding": None if "b" in mode else "ascii", **kwargs})

    monkeypatch.setattr(utils.os, "fdopen", ascii_locale)
    folder = os.fsdecode(os.fsencode("/runs/é"))  # '/runs/\\udcc3\\udca9' under LC_ALL=C
    write_csv_atomic(tmp_path / "groups.csv", ["group", "run"], [{"group": "ν=0.2", "run": folder}])
    assert (tmp_path / "groups.csv").read_bytes().decode("utf-8").splitlines() == ["group,run", "ν=0.2,/runs/é"]


class _FullDisk(io.StringIO):
    """A log file's stream on a disk that has filled: each flush fails as a write there does."""

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_log_line_the_disk_cannot_take_ends_the_run_with_one_line_naming_log_txt(tmp_path, capsys):
    """logging's own handler printed a traceback on stderr for every line log.txt could not take (hundreds on a full
    disk) while the run went on, and the run's final error named no file."""
    name = "test_utils_full_log"

    def run(_: object) -> None:
        logger = get_logger(name, tmp_path)
        logger.info("first")
        next(h for h in logger.handlers if isinstance(h, logging.FileHandler)).stream = _FullDisk()
        for step in range(3):
            logger.info("step %d", step)

    try:
        assert run_main(run, None) == 2
        assert capsys.readouterr().err.splitlines() == [f"error: {tmp_path / 'log.txt'}: {os.strerror(errno.ENOSPC)}"]
        logger = logging.getLogger(name)
        logger.info("later")  # space freed (a resumed run): the file is opened again and takes the line
        for handler in logger.handlers:
            handler.close()  # the line that failed is dropped: closing does not fail on it again
        lines = (tmp_path / "log.txt").read_text().splitlines()
        assert [line.split("M ", 1)[1] for line in lines] == ["first", "later"]
    finally:
        for handler in list(logging.getLogger(name).handlers):
            handler.close()
        logging.getLogger(name).handlers.clear()


def test_a_metrics_row_the_disk_cannot_take_names_metrics_csv(tmp_path, monkeypatch):
    """A full disk failed the row's write with an OSError naming no file: 'error: No space left on device'."""
    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(utils.os, "fsync", fsync)
    with pytest.raises(OSError) as caught:
        MetricsCSV(tmp_path / "metrics.csv", ["epoch"]).append({"epoch": 0})
    assert caught.value.filename == str(tmp_path / "metrics.csv") and caught.value.errno == errno.ENOSPC


def test_save_args_writes_json(tmp_path):
    args = argparse.Namespace(lr=0.1, data=Path("data"), layers=(1, 2), cutout=True)
    record = save_args(args, tmp_path, torch.device("cpu"))
    on_disk = json.loads((tmp_path / "args.json").read_text())
    assert on_disk == json.loads(json.dumps(record))
    assert on_disk["args"] == {"lr": 0.1, "data": "data", "layers": [1, 2], "cutout": True}
    assert on_disk["env"]["device"] == "cpu" and on_disk["env"]["torch"] == torch.__version__
    assert isinstance(on_disk["argv"], list) and on_disk["started"] > 0


def test_metrics_csv_append_and_truncate(tmp_path):
    path = tmp_path / "metrics.csv"
    metrics = MetricsCSV(path, ["epoch", "loss", "acc"])
    for epoch in range(5):
        metrics.append({"epoch": epoch, "loss": 1.0 / (epoch + 1), "acc": None if epoch == 2 else epoch * 10})
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,acc" and len(lines) == 6
    assert lines[3] == "2,0.3333333333333333,"  # None -> empty cell
    metrics = MetricsCSV(path, ["epoch", "loss", "acc"])  # reopened on resume: header not repeated
    metrics.truncate_after(3)
    metrics.append({"epoch": 3, "loss": 0.0, "acc": 99})
    lines = path.read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["epoch", "0", "1", "2", "3"]
    assert lines[-1] == "3,0.0,99"
    with pytest.raises(ValueError, match="unknown metrics column"):
        metrics.append({"epoch": 4, "bogus": 1})
    with pytest.raises(UserError, match="columns"):
        MetricsCSV(path, ["epoch", "other"])


def test_a_metrics_row_is_on_disk_before_the_epochs_checkpoint(tmp_path, monkeypatch):
    """A row only flushed sat in the OS's cache: a machine that went down once the epoch's checkpoint (fsynced) was
    on disk came back with the checkpoint past the rows, and the resumed run's metrics.csv had a gap for good."""
    path = tmp_path / "metrics.csv"
    synced = []
    real_fsync = utils.os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(utils.os, "fsync", fsync)
    MetricsCSV(path, ["epoch", "loss"]).append({"epoch": 0, "loss": 1.0})
    assert synced == [path.stat().st_ino]


def test_metrics_csv_truncate_missing_file_is_noop(tmp_path):
    MetricsCSV(tmp_path / "m.csv", ["epoch"]).truncate_after(0)
    assert not (tmp_path / "m.csv").exists()


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (UserError("bad --set"), 2, "error: bad --set\n"),
        (FileNotFoundError("no such file: x"), 2, "error: no such file: x\n"),
        (ValueError("two\nlines"), 2, "error: two lines\n"),
        (KeyboardInterrupt(), 130, "interrupted\n"),
    ],
)
def test_run_main_exit_codes(capsys, exc, code, text):
    def main(args):
        raise exc

    assert run_main(main, None) == code
    assert capsys.readouterr().err == text


def test_run_main_shows_the_traceback_of_an_error_line_when_asked(capsys, monkeypatch) -> None:
    """A bug's ValueError reads as bad input (`error: min() arg is an empty sequence`): MOOD_NAS_TRACEBACK=1 adds
    the traceback after the line, for a bug report; without it, or at 0, the line stands alone."""
    def main(args):
        min([])

    monkeypatch.setenv(utils.TRACEBACK_ENV, "0")
    assert run_main(main, None) == 2
    assert capsys.readouterr().err == "error: min() arg is an empty sequence\n"
    monkeypatch.setenv(utils.TRACEBACK_ENV, "1")
    assert run_main(main, None) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: min() arg is an empty sequence\nTraceback (most recent call last):\n")
    assert "in main\n    min([])" in err and err.endswith("ValueError: min() arg is an empty sequence\n")


def nested_runs(root: Path) -> tuple[Path, Path]:
    """A sweep folder and a search folder inside it, each with the args.json that makes it resumable."""
    sweep, search = root / "multi-search-x", root / "multi-search-x" / "search-00"
    search.mkdir(parents=True)
    (sweep / "args.json").write_text("{}")
    (search / "args.json").write_text("{}")
    return sweep, search


def test_a_ctrl_c_names_the_outermost_runs_resume(tmp_path, capsys):
    """Nested runs (a sweep around its search) say the outer one's command; a run that recorded no arguments yet
    has nothing to resume, and a Ctrl-C there is a bare `interrupted`."""
    sweep, search = nested_runs(tmp_path)

    def nested(_):
        with resumable("multiobjective.py", sweep), resumable("train_search.py", search):
            raise KeyboardInterrupt

    assert run_main(nested, None) == 130
    assert capsys.readouterr().err == f"interrupted: continue with python multiobjective.py --resume {sweep}\n"
    (sweep / "args.json").unlink()
    assert run_main(nested, None) == 130  # the sweep stopped before recording itself: the search's is still said
    assert capsys.readouterr().err == f"interrupted: continue with python train_search.py --resume {search}\n"
    (search / "args.json").unlink()
    assert run_main(nested, None) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_full_disk_mid_run_names_the_outermost_runs_resume(tmp_path, capsys):
    """A full disk stopped a run with `error: <file>: No space left on device` and no word that it resumes; an
    OSError before the run recorded its arguments has nothing to resume."""
    sweep, search = nested_runs(tmp_path)

    def nested(_):
        with resumable("multiobjective.py", sweep), resumable("train_search.py", search):
            raise OSError(errno.ENOSPC, "No space left on device", str(search / "checkpoint.pt"))

    assert run_main(nested, None) == 2
    assert capsys.readouterr().err == (f"error: {search / 'checkpoint.pt'}: No space left on device; once that is "
                                       f"mended, continue with python multiobjective.py --resume {sweep}\n")
    (sweep / "args.json").unlink()
    (search / "args.json").unlink()
    assert run_main(nested, None) == 2
    assert capsys.readouterr().err == f"error: {search / 'checkpoint.pt'}: No space left on device\n"


def test_a_ctrl_c_names_a_run_folder_with_a_space_as_one_word(tmp_path, capsys):
    """--logdir "my runs" (or --save "a b"): the command said had to be pasted into a shell, and split there."""
    run = tmp_path / "my runs" / "eval-a b-1"
    run.mkdir(parents=True)
    (run / "args.json").write_text("{}")

    def stopped(_):
        with resumable("train.py", run):
            raise KeyboardInterrupt

    assert run_main(stopped, None) == 130
    command = capsys.readouterr().err.removeprefix("interrupted: continue with ").strip()
    if os.name != "nt":
        import shlex

        assert shlex.split(command) == ["python", "train.py", "--resume", str(run)]


REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(str(path.relative_to(REPO)) for folder in (REPO, REPO / "tools") for path in folder.glob("*.py")
                 if "sys.exit(run_main(" in path.read_text())  # the tools' and the scripts' entry points


def test_every_script_is_found() -> None:
    """SCRIPTS finds the entry points by what they end with: a renamed ending would drop them from the test below."""
    assert len(SCRIPTS) >= 15 and {"train.py", "multiobjective.py", "tools/latency_table.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_ctrl_c_while_a_script_imports_is_one_line(script: str, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    """A Ctrl-C in the first seconds of a run (torch or matplotlib importing; minutes on a network disk) printed the
    traceback of whichever import it cut, 20 lines; every script, the tools too, now sets, before that import, the
    hook that Python hands such an uncaught Ctrl-C, and it prints the one `interrupted` line of a Ctrl-C before a
    run folder exists."""
    import builtins
    import runpy

    real_import = builtins.__import__

    def importing(name: str, *args, **kwargs):
        top = name.partition(".")[0]  # the first import past the standard library (imported already or not)
        if top not in sys.stdlib_module_names and top not in ("__future__", "interrupts") and top:
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # put back after the test
    with monkeypatch.context() as patch:
        patch.setattr(builtins, "__import__", importing)
        with pytest.raises(KeyboardInterrupt) as caught:
            runpy.run_path(str(REPO / script), run_name="__main__")
    sys.excepthook(caught.type, caught.value, caught.tb)  # what Python does with it at the top
    assert capsys.readouterr().err == "interrupted\n"


def test_the_quiet_hook_leaves_a_crash_its_traceback() -> None:
    """Only a Ctrl-C is quietened: any other exception that escapes a script still reaches the previous hook."""
    from interrupts import quiet_hook

    seen = []
    hook = quiet_hook(lambda kind, value, tb: seen.append(kind))
    hook(ValueError, ValueError("boom"), None)
    assert seen == [ValueError]


SIGTERM_TWICE = """
import os, signal, sys, time
from pathlib import Path
from utils import resumable, run_main
run = Path(sys.argv[1])
def main(_):
    with resumable("train.py", run):
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # kill PID, a scheduler's preemption
            time.sleep(60)
        finally:  # the shutdown (a sweep stopping its workers, saving sweep.json) meets a second SIGTERM
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
            (run / "shutdown.txt").write_text("whole")
status = run_main(main, None)
print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
sys.exit(status)
"""


def test_sigterm_stops_a_run_as_ctrl_c_does_and_a_second_one_lets_the_shutdown_end(tmp_path):
    """SIGTERM (kill, SLURM preemption, docker stop) killed a run outright with nothing said (exit -15): it now
    takes the Ctrl-C path (the --resume line, exit 143), a second one during the shutdown is ignored, and the
    default disposition is back once run_main returns."""
    import subprocess
    import sys

    run = tmp_path / "eval-x"
    run.mkdir()
    (run / "args.json").write_text("{}")
    done = subprocess.run([sys.executable, "-c", SIGTERM_TWICE, str(run)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 143, done.stderr[-2000:]
    assert done.stderr == f"interrupted by SIGTERM: continue with python train.py --resume {run}\n"
    assert (run / "shutdown.txt").read_text() == "whole"
    assert done.stdout == "True\n"


def test_run_main_sets_no_sigterm_handler_outside_the_main_thread_nor_over_another(capsys):
    """signal.signal outside the main thread is a ValueError (run_main's `error:` line, exit 2), and a handler the
    caller installed is theirs to keep."""
    import signal
    import threading

    seen = []
    thread = threading.Thread(target=lambda: seen.append(run_main(lambda a: signal.getsignal(signal.SIGTERM), None)))
    thread.start()
    thread.join()
    assert seen == [0] and capsys.readouterr().err == ""

    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        assert run_main(lambda a: seen.append(signal.getsignal(signal.SIGTERM)), None) == 0
        assert seen[-1] is mine and signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)
    if previous is signal.SIG_DFL:  # where run_main does install it, it is its own while main runs, and put back
        assert run_main(lambda a: seen.append(signal.getsignal(signal.SIGTERM)), None) == 0
        assert seen[-1] not in (signal.SIG_DFL, mine) and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_run_main_success_and_other_errors_propagate(capsys):
    seen = []
    assert run_main(lambda a: seen.append(a) or {"ok": 1}, "args") == 0
    assert seen == ["args"]
    with pytest.raises(RuntimeError):
        run_main(lambda a: (_ for _ in ()).throw(RuntimeError("bug")), None)  # bugs keep their traceback


def test_load_run_args_knows_each_kind_of_run_folder(tmp_path):
    def folder(name, record, *files):
        path = tmp_path / name
        path.mkdir()
        (path / "args.json").write_text(json.dumps(record))
        for f in files:
            (path / f).write_text("{}")
        return path

    search = folder("search", {"kind": "search", "args": {"lr": 1}})
    assert utils.load_run_args(search / "log.txt", "search") == (search, {"lr": 1})
    # folders written before args.json said its kind: told by what they hold
    assert utils.load_run_args(folder("old-search", {"args": {"arch_learning_rate": 1}}), "search")[1]
    assert utils.load_run_args(folder("old-train", {"args": {"arch": "DARTS_V2"}}), "train")[1]
    sweep = folder("sweep", {"args": {"arch_learning_rate": 1}}, "sweep.json")
    with pytest.raises(UserError, match=r"not a search run folder but a sweep folder \(resume it with multiobj"):
        utils.load_run_args(sweep, "search")
    batch = folder("batch", {"args": {"arch": "x"}}, "batch.json")
    with pytest.raises(UserError, match="but a batch-train folder"):
        utils.load_run_args(batch, "train")
    with pytest.raises(UserError, match=r'args.json is not a train.py args.json \(no "args" object\)'):
        utils.load_run_args(folder("shape", [1]), "train")
    with pytest.raises(UserError, match="not a training run folder but a folder of unknown kind"):
        utils.load_run_args(folder("unknown", {"args": {}}), "train")
    with pytest.raises(UserError, match="no args.json"):
        utils.load_run_args(tmp_path, "train")


def test_rebase_run_dirs_points_into_the_folder(tmp_path):
    records = [{"run_dir": "logs/old-sweep/search-00-nu0.2"}, {"run_dir": None}, {}]
    utils.rebase_run_dirs([*records, None], tmp_path)
    assert records == [{"run_dir": str(tmp_path / "search-00-nu0.2")}, {"run_dir": None}, {}]


def test_check_output_and_logdir_refuse_what_would_be_lost(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x")
    with pytest.raises(UserError, match="is also an input"):
        utils.check_output(data, "-o", [data])
    with pytest.raises(UserError, match="is a folder"):
        utils.check_output(tmp_path, "-o")
    assert utils.check_output(tmp_path / "new.json", "-o", [data]) == tmp_path / "new.json"
    with pytest.raises(UserError, match="--logdir .* is a file"):
        create_run_dir("eval", "x", data)


def test_resume_of_a_folder_of_another_kind_names_its_kind_and_script(tmp_path):
    """multiobjective.py and batch_train.py said only "not a sweep folder (no sweep.json)" of a search or a
    training folder, and of a folder that does not exist; train.py named the kind and the script that resumes it."""
    import argparse

    import batch_train
    import multiobjective

    search = tmp_path / "search-00-nu0.2"
    search.mkdir()
    (search / "args.json").write_text(json.dumps({"kind": "search", "args": {"arch_learning_rate": 1}}))
    train_run = tmp_path / "eval-x"
    train_run.mkdir()
    (train_run / "args.json").write_text(json.dumps({"kind": "train", "args": {"arch": "DARTS_V2"}}))

    def sweep(folder):
        with pytest.raises(UserError) as err:
            multiobjective._resume(argparse.Namespace(sweep_resume=str(folder)))
        return str(err.value)

    def batch(folder):
        with pytest.raises(UserError) as err:
            batch_train._resume_state(argparse.Namespace(resume=str(folder)))
        return str(err.value)

    assert sweep(search) == (f"--resume {search}: not a sweep folder but a search folder (resume it with "
                             "train_search.py)")
    assert batch(train_run) == (f"--resume {train_run}: not a batch-train folder but a training folder (resume it "
                                "with train.py)")
    assert sweep(tmp_path / "nope") == f"--resume {tmp_path / 'nope'}: no such folder"
    assert batch(tmp_path / "nope") == f"--resume {tmp_path / 'nope'}: no such folder"
    assert sweep(tmp_path) == f"--resume {tmp_path}: not a sweep folder (no sweep.json)"
    with pytest.raises(UserError, match=r"^--resume \S+nope: no such folder$"):
        utils.load_run_args(tmp_path / "nope", "train")


def test_a_table_printed_to_an_ascii_stdout_is_escaped_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """search_stability's 'ν=0.2' printed under LC_ALL=C ended the script with exit 2 after its files were written."""
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii"))
    assert run_main(lambda _: print("ν=0.2 ± 0.1"), None) == 0
    sys.stdout.flush()
    assert raw.getvalue().decode("ascii") == "\\u03bd=0.2 \\xb1 0.1\n"


def test_a_log_line_on_the_terminal_clears_the_progress_bar_first(monkeypatch) -> None:
    """A log line echoed while a progress bar was on the terminal was written after the bar's text, on its line
    ("epoch 0:  25%|██  | 3/12 [00:01<00:03]12/07 ... train 003/012 loss ..."), for every report line of every epoch
    of a run on a terminal; the bar is now cleared before the line and drawn again after it."""
    from tqdm import tqdm

    terminal: list[str] = []  # stdout and stderr as one terminal shows them, in the order written

    class Tty(io.StringIO):
        def write(self, text: str) -> int:
            terminal.append(text)
            return len(text)

        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.setattr(sys, "stderr", Tty())
    logger = utils.get_logger("bar-test")
    bar = tqdm(total=4, desc="epoch 0", leave=False, file=sys.stderr, mininterval=0, ncols=60)
    try:
        bar.update(1)
        logger.info("train 001/004 loss 2.3")
        bar.update(1)
    finally:
        bar.close()
        logger.handlers.clear()
    shown = []  # each terminal line as it reads once written: a carriage return writes over from its start
    for line in "".join(terminal).split("\n"):
        screen = ""
        for part in line.split("\r"):
            screen = part + screen[len(part):]
        shown.append(screen.rstrip())
    assert any(s.endswith("train 001/004 loss 2.3") for s in shown)
    assert not any("epoch 0" in s and "train 001/004" in s for s in shown), shown


CUDA_OOM = ("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.11 GiB of which 1.06 "
            "GiB is free. Including non-PyTorch memory, this process has 78.04 GiB memory in use. Of the allocated "
            "memory 76.9 GiB is allocated by PyTorch. See documentation for Memory Management")
CPU_OOM = ("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to "
           "allocate 68719476736 bytes. Error code 12 (Cannot allocate memory)")


@pytest.mark.parametrize("error, said", [
    (torch.cuda.OutOfMemoryError(CUDA_OOM), "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total "
                                            "capacity of 79.11 GiB of which 1.06 GiB is free)"),
    (RuntimeError(CPU_OOM), "DefaultCPUAllocator: can't allocate memory: you tried to allocate 68719476736 bytes"),
    (MemoryError(), "(MemoryError)"),
])
@pytest.mark.parametrize("started", [True, False])
def test_running_out_of_memory_is_one_line(error: BaseException, said: str, started: bool, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    """A batch or network too large for the device ended train.py (or a search, test.py) with torch's traceback and
    a paragraph about its allocator: it is no bug, and the line says what to lower; a run that had started (its
    args.json written) can also continue where more memory is free, its checkpoint kept."""
    run = tmp_path / "eval-x"
    run.mkdir()
    if started:
        (run / "args.json").write_text("{}")

    def main(_: object) -> None:
        with resumable("train.py", run):
            raise error

    assert run_main(main, None) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("error: out of memory (") and said in err
    assert "a smaller --batch_size" in err and "Including non-PyTorch" not in err
    assert err.rstrip().endswith(f"--resume {run}") == started


def test_other_runtime_errors_keep_their_traceback() -> None:
    def main(_: object) -> None:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes cannot"):
        run_main(main, None)


def test_a_sweep_records_a_search_out_of_memory_in_torch_first_sentences() -> None:
    """A search out of memory stops a sweep (executors.refused) with one line, and sweep.json keeps the error: both
    held torch's whole paragraph about its allocator."""
    import executors

    error = torch.cuda.OutOfMemoryError(CUDA_OOM)
    assert executors.refused(error)
    assert executors.search_error(error) == ("out of memory (CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 "
                                             "has a total capacity of 79.11 GiB of which 1.06 GiB is free)")
    assert executors.search_error(ValueError("bad\n  value")) == "bad value"
