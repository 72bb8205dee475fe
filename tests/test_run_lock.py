"""One process per run folder: the lock every script that writes a run folder holds (utils.lock_run_dir).

A second process on a folder gets one line naming the folder and the holder's pid and changes nothing;
a holder killed with SIGKILL (its forked children still alive) leaves no stale lock; on resume the
atomic writer's leftovers of a killed run are removed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import batch_train
import data as datalib
import multiobjective
import train
import train_search
import utils
from utils import lock_run_dir, run_is_live, run_main, save_args, write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "digits", "--init_channels", "4", "--layers", "3", "--batch_size", "64", "--image_size", "8",
        "--epochs", "2", "--no_progress", "--device", "cpu", "--subsample", "0.2"]
CPU = torch.device("cpu")
HOLD = ("import sys, time; sys.path.insert(0, sys.argv[1]); import utils; lock = utils.lock_run_dir(sys.argv[2]); "
        "print('locked', flush=True); time.sleep(120)")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a folder (the lock file aside) and its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != ".lock"}


def start_holder(folder: Path, script: str = HOLD) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", script, str(ROOT), str(folder)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.fixture
def train_run(tmp_path: Path) -> Path:
    """A training killed after epoch 1 of 2 (checkpoint.pt, one metrics row)."""
    stopped = train.main(train.build_parser().parse_args(
        [*TINY, "--arch", "DARTS_V2", "--logdir", str(tmp_path / "logs"), "--stop_after", "1"]))
    return Path(stopped["run_dir"])


def test_a_second_process_is_refused_and_a_killed_holder_leaves_no_lock(train_run: Path) -> None:
    holder = start_holder(train_run)
    try:
        before = snapshot(train_run)
        done = subprocess.run([sys.executable, str(ROOT / "train.py"), "--resume", str(train_run)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
        assert str(train_run) in lines[0] and f"process {holder.pid}" in lines[0]
        assert snapshot(train_run) == before  # metrics.csv, log.txt, args.json, checkpoint.pt untouched
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the kill released the lock: the run resumes, and the leftover of a write the kill cut short goes
    stale = train_run / ".checkpoint.pt.0badc0de.tmp"
    stale.write_bytes(b"half a checkpoint")
    result = train.main(train.build_parser().parse_args(["--resume", str(train_run)]))
    assert result["epochs"] == 2 and not stale.exists()
    assert [row.split(",")[0] for row in (train_run / "metrics.csv").read_text().splitlines()[1:]] == ["0", "1"]


def test_a_forked_child_does_not_keep_the_lock_of_a_killed_holder(tmp_path: Path) -> None:
    # DataLoader workers are forked: the lock must end with the process that took it, not with its children.
    script = ("import os, sys, time; sys.path.insert(0, sys.argv[1]); import utils; "
              "lock = utils.lock_run_dir(sys.argv[2]); child = os.fork()\n"
              "if child == 0:\n    print('child', flush=True); time.sleep(120); os._exit(0)\n"
              "time.sleep(0.2); print('locked', child, flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", script, str(ROOT), str(tmp_path)], stdout=subprocess.PIPE,
                              text=True)
    lines = sorted([holder.stdout.readline().split(), holder.stdout.readline().split()])
    assert lines[0] == ["child"] and lines[1][0] == "locked"
    child = int(lines[1][1])
    try:
        with pytest.raises(Exception, match=f"in use by process {holder.pid}"):
            lock_run_dir(tmp_path)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        os.kill(child, 0)  # still alive, with its copy of the descriptor (closed at fork)
        with lock_run_dir(tmp_path):  # taken: a second holder is refused
            with pytest.raises(Exception, match=f"in use by process {os.getpid()}"):
                lock_run_dir(tmp_path)
    finally:
        for pid in (holder.pid, child):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _search_folder(folder: Path) -> list[str]:
    args = train_search.build_parser().parse_args(TINY)
    save_args(args, folder, CPU, kind="search")
    return ["--resume", str(folder)]


def _train_folder(folder: Path) -> list[str]:
    args = train.build_parser().parse_args([*TINY, "--arch", "DARTS_V2"])
    save_args(args, folder, CPU, kind="train")
    return ["--resume", str(folder)]


def _sweep_folder(folder: Path) -> list[str]:
    args = multiobjective.build_parser().parse_args(["-o", "l2", "cifar", *TINY])
    save_args(args, folder, CPU, kind="sweep")
    saved = {k: v for k, v in vars(args).items() if k not in ("sweep_resume", "resume", "run_dir")}
    write_json_atomic(folder / "sweep.json", {"objective": "l2", "delta": args.delta, "space": "cifar",
                                              "args": saved, "searches": [], "pareto": []})
    return ["--resume", str(folder)]


def _batch_folder(folder: Path) -> list[str]:
    args = batch_train.build_parser().parse_args([*TINY, "--archs", "DARTS_V2"])
    save_args(args, folder, CPU, kind="batch")
    clean = {k: v for k, v in vars(args).items() if k != "resume"}
    entry = {"spec": "DARTS_V2", "label": "DARTS_V2", "status": "pending", "run_dir": None, "batch_size": None}
    write_json_atomic(folder / "batch.json", {"args": clean, "entries": [entry]})
    return ["--resume", str(folder)]


@pytest.mark.parametrize(("module", "make"), [
    (train_search, _search_folder), (train, _train_folder), (multiobjective, _sweep_folder),
    (batch_train, _batch_folder),
], ids=["search", "train", "sweep", "batch"])
def test_every_script_refuses_a_folder_in_use(tmp_path: Path, capsys: pytest.CaptureFixture, module: object,
                                              make: object) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    argv = make(folder)
    before = snapshot(folder)
    with lock_run_dir(folder):  # held by this process: flock locks of two opens conflict in one process too
        assert run_main(module.main, module.build_parser().parse_args(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {folder} is in use by process {os.getpid()}, which holds its lock: one run per folder "
                   "(wait for it to end, or stop it)")
    assert snapshot(folder) == before


@pytest.mark.parametrize(("module", "make", "loader"), [
    (train_search, _search_folder, (train_search, "build_data")), (train, _train_folder, (train, "build_data")),
    (multiobjective, _sweep_folder, (train_search, "build_data")), (batch_train, _batch_folder,
                                                                    (datalib, "load_datasets")),
], ids=["search", "train", "sweep", "batch"])
def test_a_resume_reads_the_state_only_once_it_holds_the_lock(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                             monkeypatch: pytest.MonkeyPatch, module: object,
                                                             make: object, loader: tuple[object, str]) -> None:
    """Each script read its state (checkpoint.pt, sweep.json, batch.json) on --resume, loaded the data, and only
    then took the lock: a first process that ended, or wrote a newer checkpoint, while the second loaded the data
    left the second going on from the older state (redoing work; a batch left a second eval-* folder). The
    holder here ends during the data loading: the resume must have stopped at the lock before it."""
    folder = tmp_path / "run"
    folder.mkdir()
    argv = make(folder)
    holder = lock_run_dir(folder)

    def load_while_held(*args: object, **kwargs: object) -> None:
        holder.release()  # the first process ends here, its last state written
        raise AssertionError("the data was loaded while another process held the folder, its state read before")

    monkeypatch.setattr(*loader, load_while_held)
    try:
        assert run_main(module.main, module.build_parser().parse_args(argv)) == 2
    finally:
        holder.release()
    assert capsys.readouterr().err.strip().startswith(f"error: {folder} is in use by process {os.getpid()}")


def test_the_lock_file_holds_the_pid_and_only_the_writers_leftovers_are_cleaned(tmp_path: Path) -> None:
    for name in (".sweep.json.0123abcd.tmp", ".checkpoint.pt.ffffffff.tmp", ".notes.tmp", "keep.0123abcd.tmp",
                 ".x.0123abc.tmp"):
        (tmp_path / name).write_text("x")
    with lock_run_dir(tmp_path):
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
        assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", ".notes.tmp", ".x.0123abc.tmp",
                                                               "keep.0123abcd.tmp"]
    with lock_run_dir(tmp_path):  # released: it can be taken again, and is then refused to another holder
        with pytest.raises(Exception, match="in use by process"):
            lock_run_dir(tmp_path)
    lock_run_dir(tmp_path).release()  # and released again on leaving


def test_a_sweep_and_its_searches_lock_their_own_folders(tmp_path: Path) -> None:
    # the sweep holds its folder while each search, in this process, locks the search's folder inside it
    search_dir = tmp_path / "search-00"
    search_dir.mkdir()
    with lock_run_dir(tmp_path), lock_run_dir(search_dir):
        with pytest.raises(Exception, match="in use"):
            lock_run_dir(search_dir)


def test_run_is_live_tells_a_run_at_work_from_one_killed_holding_its_lock(tmp_path: Path) -> None:
    # a killed run leaves the same files as one still at work: only its lock, no longer held, tells them apart
    holder = start_holder(tmp_path)
    try:
        assert run_is_live(tmp_path) is True
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert (tmp_path / ".lock").read_text().strip() == str(holder.pid)  # the dead holder's pid stays
        assert run_is_live(tmp_path) is False
        with lock_run_dir(tmp_path):  # the probe took nothing: the folder is taken again at once
            assert run_is_live(tmp_path) is True
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert run_is_live(tmp_path) is False  # released cleanly (an empty lock file)
    assert (tmp_path / ".lock").read_text() == ""


def test_run_is_live_cannot_tell_without_a_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_is_live(tmp_path) is None  # no lock file, and no args.json that says a run wrote here
    (tmp_path / ".lock").write_text("123\n")
    monkeypatch.setattr(utils, "fcntl", None)  # Windows
    assert run_is_live(tmp_path) is None


def test_a_run_starting_during_a_probe_outwaits_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # run_is_live holds a shared lock for an instant: a resume meeting it must not be refused as "in use" by the
    # dead run whose pid the lock file still holds
    import fcntl

    (tmp_path / ".lock").write_text("999999\n")
    probe = os.open(tmp_path / ".lock", os.O_RDONLY)
    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
    slept = []

    def probe_ends(seconds: float) -> None:
        slept.append(seconds)
        os.close(probe)  # the probe is over

    monkeypatch.setattr(utils.time, "sleep", probe_ends)
    with lock_run_dir(tmp_path):
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
    assert len(slept) == 1
