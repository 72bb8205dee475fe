"""Parallel sweeps: --parallel K with worker processes or Ray tasks, failures, Ctrl-C and --resume.

Tiny searches on digits (a second or two each); the sweeps run real searches in child processes,
so this file spends most of its time starting them (importing torch).
"""

from __future__ import annotations

import copy
import errno
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import executors
import multiobjective
import train_search
from bench import parallel as parallel_bench
from utils import UserError, run_main

REPO = Path(__file__).resolve().parents[1]
SEARCH = ["--set", "digits", "--image_size", "8", "--layers", "3", "--init_channels", "4", "--batch_size", "64",
          "--subsample", "0.2", "--epochs", "1", "--begin", "0", "--arch_learning_rate", "0.05",
          "--learning_rate", "0.05", "--weight_decay", "0", "--no_progress", "--device", "cpu", "--workers", "0"]
SWEEP = ["-o", "l2", "-d", "0.01", "cifar", *SEARCH, "--max_searches", "3"]
NUMBERS = parallel_bench.NUMBERS


def parse(argv: list[str]):
    return multiobjective.build_parser().parse_args(argv)


def sweep(logdir: Path, *extra: str, executor=None) -> tuple[dict, Path]:
    """Run a sweep into logdir (one thread per search, so results are comparable); returns its state and folder."""
    state = multiobjective.main(parse([*SWEEP, "--threads", "1", *extra, "--logdir", str(logdir), "--save", "t"]),
                                executor=executor)
    (run_dir,) = Path(logdir).glob("multi-search-digits-t-*")
    return state, run_dir


def check_sweep_folder(state: dict, run_dir: Path) -> dict:
    """What every finished sweep folder must satisfy; returns sweep.json."""
    on_disk = json.loads((run_dir / "sweep.json").read_text())
    assert on_disk["searches"] == state["searches"]
    assert all(s["device"] == "cpu" for s in on_disk["searches"])
    assert parallel_bench.sweep_problems(run_dir) == []
    return on_disk


def same_numbers(a: dict, b: dict) -> None:
    assert a["weight"] == b["weight"] and a["genotype"] == b["genotype"]
    for key in NUMBERS:
        assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-9), key


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The thesis's sweep: one search after another, in this process."""
    state, run_dir = sweep(tmp_path_factory.mktemp("seq"))
    assert state["parallel"] == 1 and len(state["searches"]) == 3  # the two initial weights, one NISE weight
    return state


def test_parallel_1_in_worker_processes_reproduces_the_sequential_sweep(sequential: dict, tmp_path: Path) -> None:
    state, run_dir = sweep(tmp_path, "--executor", "local", "--parallel", "1")
    check_sweep_folder(state, run_dir)
    assert [s["weight"] for s in state["searches"]] == [s["weight"] for s in sequential["searches"]]
    for a, b in zip(state["searches"], sequential["searches"]):
        same_numbers(a, b)
    assert [p["name"] for p in state["pareto"]] == [p["name"] for p in sequential["pareto"]]
    # one at a time: each search starts after the previous one finished
    for a, b in zip(state["searches"], state["searches"][1:]):
        assert a["finished"] <= b["started"]


def test_sweep_problems_finds_what_is_wrong_with_a_sweep_folder(sequential: dict, tmp_path: Path) -> None:
    """bench/parallel.py's validity check passes a good folder and names each fault it is shown."""
    original = Path(sequential["searches"][0]["run_dir"]).parent
    folder = tmp_path / original.name
    shutil.copytree(original, folder)
    state = json.loads((folder / "sweep.json").read_text())
    for s in state["searches"]:
        s["run_dir"] = str(folder / Path(s["run_dir"]).name)

    def problems_after(change) -> list[str]:
        changed = copy.deepcopy(state)
        change(changed)
        (folder / "sweep.json").write_text(json.dumps(changed))
        return parallel_bench.sweep_problems(folder)

    assert problems_after(lambda st: None) == []
    assert problems_after(lambda st: st["searches"][1].update(train_acc=-1.0)) == [
        "search 1: train_acc differs from result.json"]
    assert problems_after(lambda st: st["pareto"].pop()) == ["the front is not the set of non-dominated searches",
                                                             "genotypes.json does not list the front"]
    started = state["searches"][0]["started"]
    assert problems_after(lambda st: st["searches"][0].update(status="running", finished=None))[:2] == [
        "search 0: status 'running'", f"search 0: started {started}, finished None"]
    (folder / "losses.png").unlink()
    assert problems_after(lambda st: None) == ["no losses.png"]


def test_most_at_once_counts_overlapping_searches() -> None:
    at = [(0, 10), (5, 8), (7, 12), (10, 11)]  # 7 to 8: three at once; a finish at 10 frees its slot for a start at 10
    assert parallel_bench.most_at_once([{"started": a, "finished": b} for a, b in at]) == 3
    assert parallel_bench.most_at_once([{"started": a, "finished": b} for a, b in [(0, 1), (1, 2)]]) == 1
    assert parallel_bench.most_at_once([{"started": 0, "finished": None}]) == 0


def flaky_search(args) -> dict:
    """Worker target: --note diverge makes nu=0.2 diverge, crash exits the worker, oomkill SIGKILLs it, usererror
    refuses, else searches."""
    if args.note == "crash":
        os._exit(7)
    if args.note == "oomkill":  # what the kernel's out-of-memory killer does
        os.kill(os.getpid(), signal.SIGKILL)
    if args.note == "usererror":
        raise UserError("--batch_size 64 is larger than the search split (3 train / 3 held out)")
    if args.note == "diverge" and args.l2_weight == 0.2:
        raise train_search.SearchDiverged("the loss became nan at epoch 0 step 1")
    return executors.run_search(args)


@pytest.fixture(scope="module")
def workers():
    """Two CPU worker processes, shared by the tests below (starting one costs seconds: torch's imports)."""
    executor = executors.LocalExecutor(["cpu", "cpu"], threads=1, target=flaky_search)
    yield executor
    executor.close()


def test_parallel_2_runs_two_searches_at_once_and_gives_a_valid_front(sequential: dict, workers,
                                                                      tmp_path: Path) -> None:
    state, run_dir = sweep(tmp_path, "--parallel", "2", executor=workers)
    on_disk = check_sweep_folder(state, run_dir)
    first, second = state["searches"][:2]
    assert [first["weight"], second["weight"]] == [[0.2, 0.8], [0.0, 1.0]]  # the two initial weights together
    assert max(first["started"], second["started"]) < min(first["finished"], second["finished"])
    assert all(s["status"] == "done" for s in state["searches"]) and len(state["searches"]) == 3
    assert on_disk["parallel"] == 2 and on_disk["args"]["parallel"] == 2
    # a search in a worker process computes what it computes in the sweep's own process
    for a, b in zip(state["searches"][:2], sequential["searches"][:2]):
        same_numbers(a, b)


def test_failed_searches_in_workers_are_recorded_and_the_sweep_goes_on(workers, tmp_path: Path) -> None:
    state, run_dir = sweep(tmp_path / "sweep", "--parallel", "2", "--note", "diverge", executor=workers)
    check_sweep_folder(state, run_dir)
    failed, done = state["searches"]
    assert failed["weight"][0] == 0.2 and failed["status"] == "failed" and "nan" in failed["error"]
    assert done["status"] == "done" and [p["weight"] for p in state["pareto"]] == [[0.0, 1.0]]
    # a worker that dies mid-search (a segfault, the OOM killer) fails that search and frees its slot
    args = parse([*SWEEP, "--note", "crash", "--logdir", str(tmp_path)])
    args.run_dir = str(tmp_path / "crash")
    assert workers.submit(7, args) == {"host": executors.socket.gethostname(), "device": "cpu"}
    assert workers.free() == 1 and workers.in_flight() == [7]
    (outcome,) = workers.wait(timeout=120)
    assert outcome.index == 7 and outcome.status == "failed" and "exited with code 7" in outcome.error
    assert workers.free() == 2 and workers.in_flight() == []
    # one the out-of-memory killer took (SIGKILL) could not run here: refused, for --resume, not its nu's outcome
    args.note, args.run_dir = "oomkill", str(tmp_path / "oomkill")
    workers.submit(9, args)
    (outcome,) = workers.wait(timeout=120)
    assert outcome.index == 9 and outcome.status == "refused" and "killed by signal 9 (SIGKILL" in outcome.error
    assert workers.free() == 2
    # a search that cannot run here (a UserError other than a divergence) is reported as refused, with its line
    args.note, args.run_dir = "usererror", str(tmp_path / "usererror")
    workers.submit(8, args)
    (outcome,) = workers.wait(timeout=120)
    assert outcome.index == 8 and outcome.status == "refused" and "larger than the search split" in outcome.error
    assert workers.free() == 2


def test_a_search_refused_in_a_worker_stops_the_sweep_and_stays_running(workers, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"^search \d \(nu = [0-9.]+\) could not run: --batch_size 64 is larger "
                                        r"than the search split .*--resume "):
        sweep(tmp_path / "sweep", "--parallel", "2", "--note", "usererror", executor=workers)
    (run_dir,) = (tmp_path / "sweep").glob("multi-search-digits-t-*")
    searches = json.loads((run_dir / "sweep.json").read_text())["searches"]
    assert [s["status"] for s in searches] == ["running", "running"]  # --resume runs both
    assert workers.free() == 2


class InProcessExecutor:
    """Two slots in this process: each search runs, in turn, when the sweep waits (``submitted``: every search
    ever given; ``pending``: those in flight)."""

    name, capacity = "in-process", 2

    def __init__(self) -> None:
        self.submitted: dict[int, object] = {}
        self.pending: list[int] = []
        self.stopped_with: list[list[int]] = []

    def describe(self) -> str:
        return f"2 {self.name} slots"

    def free(self) -> int:
        return self.capacity - len(self.pending)

    def in_flight(self) -> list[int]:
        return list(self.pending)

    def submit(self, index: int, args) -> dict:
        self.submitted[index] = args
        self.pending.append(index)
        return {"host": "here", "device": "cpu"}

    def wait(self, timeout: float | None = None) -> list:
        done, self.pending = sorted(self.pending), []
        return [executors.Outcome(i, "done", result=train_search.main(self.submitted[i])) for i in done]

    def stop(self) -> None:
        self.stopped_with.append(list(self.pending))
        self.pending = []


class OneRefusedExecutor(InProcessExecutor):
    """The first search is refused at once; the second ends later, when waited for."""

    name = "scripted"

    def wait(self, timeout: float | None = None) -> list:
        index = self.pending.pop(0)
        if index == 0:
            return [executors.Outcome(index, "refused", error="data/train: image folder dataset not found")]
        return [executors.Outcome(index, "done", result=train_search.main(self.submitted[index]))]


def test_a_refused_search_lets_the_running_ones_end_before_the_sweep_stops(tmp_path: Path) -> None:
    """The sweep stopped (terminating the other searches mid-epoch) as soon as one search was refused: those lost
    their epoch in progress, minutes of GPU time on CIFAR. They now end first, and nothing new is launched."""
    executor = OneRefusedExecutor()
    with pytest.raises(UserError, match=r"^search 0 \(nu = 0.2\) could not run: data/train: image folder dataset"):
        sweep(tmp_path, "--parallel", "2", executor=executor)
    assert sorted(executor.submitted) == [0, 1]  # no third search after the refusal
    assert executor.stopped_with == [[]]  # stopped with nothing left running
    (run_dir,) = tmp_path.glob("multi-search-digits-t-*")
    searches = json.loads((run_dir / "sweep.json").read_text())["searches"]
    assert [s["status"] for s in searches] == ["running", "done"]  # the refused one, for --resume
    assert "the sweep stops once search(es) 1 end" in (run_dir / "log.txt").read_text()


def test_a_ctrl_c_while_a_parallel_sweep_draws_a_front_draws_it_on_resume(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The Ctrl-C handler saved sweep.json with the search recorded done but its frontier_NN.png not drawn, so the
    resume took it for finished and the plot was missing for good (the serial sweep draws before it saves). The
    log's line on the Ctrl-C names that search among those left running, as sweep.json has it."""
    real_plot = multiobjective.plot_frontier

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(multiobjective, "plot_frontier", ctrl_c)
    with pytest.raises(KeyboardInterrupt):  # two searches: the resume has only the two interrupted ones to draw
        sweep(tmp_path, "--parallel", "2", "--max_searches", "2", executor=InProcessExecutor())
    (run_dir,) = tmp_path.glob("multi-search-digits-t-*")
    searches = json.loads((run_dir / "sweep.json").read_text())["searches"]
    assert [s["status"] for s in searches] == ["running", "running"]  # for --resume, which draws them
    # and the log says so: it named only the one not yet recorded (search 0 was done in memory, not in sweep.json)
    last = (run_dir / "log.txt").read_text().splitlines()[-1]
    assert last.endswith(f"interrupted: search(es) 0, 1 left running; continue with python multiobjective.py "
                         f"--resume {run_dir}"), last
    monkeypatch.setattr(multiobjective, "plot_frontier", real_plot)
    state = multiobjective.main(parse(["--resume", str(run_dir)]), executor=InProcessExecutor())
    assert all(s["status"] == "done" for s in state["searches"])
    for s in state["searches"]:
        assert (run_dir / f"frontier_{s['index']:02d}.png").is_file(), s["index"]


class CtrlCOnWaitExecutor(InProcessExecutor):
    """Runs nothing: a Ctrl-C while the sweep waits for its first results (``capacity`` slots; a search handed
    to a full executor fails the test, as LocalExecutor.submit failed on it with min() of no idle slot)."""

    name = "ctrl-c"

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def submit(self, index: int, args) -> dict:
        assert self.free() > 0, f"search {index} handed to a full executor"
        return super().submit(index, args)

    def wait(self, timeout: float | None = None) -> list:
        raise KeyboardInterrupt


def test_a_resume_with_fewer_slots_than_searches_left_running_queues_the_rest(tmp_path: Path) -> None:
    """`--resume DIR --parallel 1` of a sweep left with two searches running handed both to its one slot at once
    (the queue was drained against the free slots counted before any launch): `error: min() arg is an empty
    sequence`. The second now waits for a free slot."""
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path, "--parallel", "2", "--max_searches", "2", executor=CtrlCOnWaitExecutor(2))
    (run_dir,) = tmp_path.glob("multi-search-digits-t-*")
    assert [s["status"] for s in json.loads((run_dir / "sweep.json").read_text())["searches"]] == ["running"] * 2
    executor = CtrlCOnWaitExecutor(1)
    with pytest.raises(KeyboardInterrupt):
        multiobjective.main(parse(["--resume", str(run_dir), "--parallel", "1"]), executor=executor)
    assert sorted(executor.submitted) == [0]
    assert "one search at a time: " in (run_dir / "log.txt").read_text()  # not "up to 1 searches at once"
    assert [s["status"] for s in json.loads((run_dir / "sweep.json").read_text())["searches"]] == ["running"] * 2


@pytest.mark.parametrize("error, status", [(UserError("--batch_size 64 is larger than the search split"), "refused"),
                                           (OSError(errno.ENOSPC, "No space left on device", "s/c.pt"), "refused"),
                                           (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate"),
                                            "refused"),
                                           (RuntimeError("CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate"),
                                            "refused"),
                                           (RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. "
                                                         "DefaultCPUAllocator: can't allocate memory: you tried to "
                                                         "allocate 100000000000000 bytes"), "refused"),
                                           (MemoryError(), "refused"),
                                           (train_search.SearchDiverged("the loss became nan"), "failed"),
                                           (KeyError("epoch"), "failed")])
def test_a_ray_task_reports_any_exception(monkeypatch: pytest.MonkeyPatch, error: Exception, status: str) -> None:
    class FakeRay:
        @staticmethod
        def get_gpu_ids() -> list:
            return []

    def fails(args):
        raise error

    monkeypatch.setitem(sys.modules, "ray", FakeRay)
    monkeypatch.setattr(executors, "run_search", fails)
    reply = executors.ray_task(parse([*SWEEP, "--threads", "1"]))
    assert reply["status"] == status and str(error).strip("'") in reply["error"] and reply["device"] == "cpu"
    # a bug's traceback goes back to the sweep's terminal (it was only in Ray's worker log on the node that ran it)
    assert ("traceback" in reply) == (not isinstance(error, (UserError, FloatingPointError)))


def _ray_executor_replying(get: Callable[[str], dict], running: dict[str, int],
                           exceptions: Any = None) -> executors.RayExecutor:
    """A RayExecutor whose tasks (``running``: ref -> search index) have all ended, ``get`` giving each one's reply;
    no Ray is started (wait() reads only its ray module and its running tasks)."""
    class FakeRay:
        @staticmethod
        def wait(refs: list, num_returns: int, timeout: float | None) -> tuple[list, list]:
            return refs[:num_returns], refs[num_returns:]

    FakeRay.get, FakeRay.exceptions = staticmethod(get), exceptions
    ray_executor = object.__new__(executors.RayExecutor)
    ray_executor.ray, ray_executor._running = FakeRay, dict(running)
    return ray_executor


def test_a_ray_tasks_traceback_is_shown_on_the_sweeps_terminal(capsys: pytest.CaptureFixture) -> None:
    def get(ref: str) -> dict:
        return {"status": "failed", "error": "KeyError: 'epoch'", "host": "node7", "device": "cpu",
                "traceback": "Traceback (most recent call last):\nKeyError: 'epoch'\n"}

    (outcome,) = _ray_executor_replying(get, {"ref": 2}).wait()
    assert (outcome.index, outcome.status, outcome.host) == (2, "failed", "node7")
    assert capsys.readouterr().err == ("search 2 (Ray task on node7):\nTraceback (most recent call last):\n"
                                       "KeyError: 'epoch'\n")


def test_a_ray_worker_killed_for_memory_or_on_a_lost_node_is_refused_and_a_crashed_one_failed() -> None:
    """Ray's memory monitor (its out-of-memory killer) killing a task's worker is the machine's memory, as a
    SIGKILLed local worker (killed_refused), and a node that died took the search with it: both were recorded
    failed, NISE dropped their nu for good; now the sweep stops and leaves them to --resume."""
    exceptions = pytest.importorskip("ray.exceptions")
    errors = {"oom": exceptions.OutOfMemoryError("Task was killed due to the node running low on memory."),
              "lost": exceptions.WorkerCrashedError(),
              "node": exceptions.NodeDiedError("node 10.0.0.2 died while the task ran")}

    def get(ref: str) -> dict:
        raise errors[ref]

    ray_executor = _ray_executor_replying(get, {"oom": 3, "lost": 4, "node": 5}, exceptions)
    oom, lost, node = ray_executor.wait()
    assert (oom.index, oom.status) == (3, "refused") and "low on memory" in oom.error
    assert (lost.index, lost.status) == (4, "failed")
    assert (node.index, node.status) == (5, "refused") and "10.0.0.2 died" in node.error


def test_ray_executor_runs_a_tiny_sweep_on_a_local_ray(sequential: dict, tmp_path: Path) -> None:
    state, run_dir = sweep(tmp_path, "--executor", "ray", "--parallel", "2", "--max_searches", "2")
    check_sweep_folder(state, run_dir)
    first, second = state["searches"]
    assert max(first["started"], second["started"]) < min(first["finished"], second["finished"])
    for a, b in zip(state["searches"], sequential["searches"][:2]):
        same_numbers(a, b)
    assert (Path(first["run_dir"]) / "metrics.csv").is_file()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_leaves_searches_running_and_resume_continues_them(tmp_path: Path) -> None:
    """Ctrl-C signals the whole process group. A SIGTERM to the sweep alone takes the same path in run_main
    (utils.sigterm_interrupts: test_utils checks it on a real process, test_search on a real search)."""
    argv = [*SWEEP, "--epochs", "3", "--parallel", "2", "--max_searches", "2",
            "--logdir", str(tmp_path), "--save", "t"]
    # A shell that starts jobs in the background (as CI may) hands them SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler: give the sweep the default disposition a terminal gives.
    proc = subprocess.Popen([sys.executable, "multiobjective.py", *argv], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    checkpoints: list[Path] = []
    while time.time() < deadline and proc.poll() is None and len(checkpoints) < 2:
        checkpoints = list(tmp_path.glob("multi-search-*/search-0[01]-*/checkpoint.pt"))
        time.sleep(0.05)
    assert proc.poll() is None and len(checkpoints) == 2, "the sweep ended before both searches checkpointed"
    # both searches are mid-run together: each has a checkpoint, neither a result
    assert not list(tmp_path.glob("multi-search-*/search-*/result.json"))
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in stderr, stderr[-2000:]
    gone = time.time() + 20  # no worker outlives the sweep (multiprocessing's helper may take a moment)
    while time.time() < gone and group_alive(proc.pid):
        time.sleep(0.1)
    assert not group_alive(proc.pid), subprocess.run(["ps", "-o", "pid,args", "-g", str(proc.pid)],
                                                     capture_output=True, text=True).stdout
    (run_dir,) = tmp_path.glob("multi-search-digits-t-*")
    assert stderr.splitlines()[-1] == f"interrupted: continue with python multiobjective.py --resume {run_dir}"
    assert all(lock.read_text() == "" for lock in run_dir.glob("**/.lock"))  # each released, the workers' too
    stopped = json.loads((run_dir / "sweep.json").read_text())
    assert [s["status"] for s in stopped["searches"]] == ["running", "running"]
    assert stopped["estimator"]["pending"] == [s["weight"] for s in stopped["searches"]]
    # resume in this process, one at a time: the estimator is restored, each search continues
    state = multiobjective.main(parse(["--resume", str(run_dir), "--parallel", "1"]))
    on_disk = check_sweep_folder(state, run_dir)
    assert on_disk["parallel"] == 2 and [s["weight"] for s in state["searches"]] == [[0.2, 0.8], [0.0, 1.0]]
    for s in state["searches"]:
        # CPU searches share the cores: no --threads means cores // K threads in each worker
        assert json.loads((Path(s["run_dir"]) / "args.json").read_text())["args"]["threads"] == \
            executors.cpu_threads(0, 2)
        epochs = [line.split(",")[0] for line in (Path(s["run_dir"]) / "metrics.csv").read_text().splitlines()[1:]]
        assert epochs == ["0", "1", "2"]
        assert "resuming" in (Path(s["run_dir"]) / "log.txt").read_text()
        # and the sweep's own log says which searches went on in their folders
        assert f"-> {s['run_dir']} (resumed there)" in (run_dir / "log.txt").read_text()


def test_a_worker_stops_on_its_first_sigterm_and_ignores_the_next() -> None:
    """A SIGTERM to the sweep's process group stopped each worker, and the sweep's stop() sent another as the worker
    exited: raised again in threading's shutdown, it printed a traceback on the sweep's terminal."""
    ours = signal.signal(signal.SIGTERM, executors._raise_stopped)
    try:
        with pytest.raises(executors._Stopped):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs at the next bytecode; never reached
        os.kill(os.getpid(), signal.SIGTERM)  # ignored now
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, ours)


def test_a_ctrl_c_while_a_worker_starts_up_does_not_reach_it() -> None:
    """A Ctrl-C in the first seconds of a parallel sweep reached each worker while it imported torch, before it
    ignored SIGINT: a KeyboardInterrupt traceback from each on the sweep's terminal. A worker is spawned with SIGINT
    ignored (here a bare process that only sleeps, so that no import makes the test slow)."""
    process = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0.6,))
    with executors._sigint_ignored():
        process.start()
    time.sleep(0.3)  # started up: a SIGINT it did not ignore ends it with KeyboardInterrupt (exit code 1)
    os.kill(process.pid, signal.SIGINT)
    process.join(30)
    assert process.exitcode == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the sweep's own Ctrl-C is its again


def test_a_ctrl_c_while_the_workers_exit_ends_them(tmp_path: Path) -> None:
    """A Ctrl-C while a sweep waited for its workers to exit (its last seconds, or a second Ctrl-C while it stopped)
    left them to multiprocessing's exit, which joined them again: a further Ctrl-C printed its traceback. Those left
    are now killed and the Ctrl-C raised. (A bare worker that reads no "stop" keeps close() waiting.)"""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe(duplex=True)
    process = context.Process(target=time.sleep, args=(60,))
    with executors._sigint_ignored():
        process.start()
    executor = executors.LocalExecutor(["cpu"])
    executor._workers[0] = executors._Worker(0, process, ours)

    def ctrl_c(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, ctrl_c)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)  # in close()'s wait for the worker
        with pytest.raises(KeyboardInterrupt):
            executor.close()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not process.is_alive() and process.exitcode == -signal.SIGKILL
    assert not executor._workers and not multiprocessing.active_children()


def test_parallel_flags_go_before_or_after_the_subcommand_and_change_on_resume() -> None:
    assert parse(["-o", "l2", "--parallel", "3", "cifar"]).parallel == 3
    args = parse(["-o", "l2", "cifar", "--parallel", "2", "--per_gpu", "2", "--gpus", "0,1"])
    assert (args.parallel, args.per_gpu, args.gpus, args.executor) == (2, 2, "0,1", None)
    assert parse(["-o", "l2", "cifar"]).parallel is None  # so that --resume keeps the sweep's own
    assert executors.parse_gpus("0, 2") == [0, 2] and executors.parse_gpus(None) is None
    assert executors.local_slots("cpu", None, None, 3) == ["cpu"] * 3


def test_cpu_threads_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executors, "available_cores", lambda: 8)
    assert [executors.cpu_threads(0, k) for k in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert executors.cpu_threads(3, 4) == 3


@pytest.mark.parametrize("extra, message", [
    (["--parallel", "0"], "--parallel must be >= 1"),
    (["--per_gpu", "0"], "--per_gpu must be >= 1"),
    (["--gpus", "a,b"], "--gpus a,b: give GPU indices"),
    (["--gpus", "0"], "--gpus needs CUDA"),
    (["--per_gpu", "2"], "--per_gpu shares a GPU between searches, but the sweep runs on cpu"),
    (["--per_gpu", "2", "--executor", "ray"], "--per_gpu shares a GPU between searches, but the sweep runs on cpu"),
    (["--ray_address", "h:6379"], "--ray_address needs --executor ray"),
    (["--executor", "ray", "--gpus", "0"], "Ray places each search"),
    (["--max_searches", "-1"], "--max_searches must be >= 1"),
    (["--max_searches", "0"], "--max_searches must be >= 1, got 0"),
])
def test_bad_parallel_flags_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str],
                                         message: str) -> None:
    assert run_main(multiobjective.main, parse([*SWEEP, *extra, "--logdir", str(tmp_path)])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err
    assert not list(tmp_path.iterdir())


def test_a_resume_may_move_a_ray_sweep_off_its_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep started on a Ray cluster that is gone for good: `--resume DIR --executor local` was refused with
    "--ray_address needs --executor ray", the recorded address kept, and no flag could drop it. Another executor
    typed on --resume now drops it, and --ray_address local (Ray's own name) starts Ray on this machine."""
    from utils import save_args

    started = parse([*SWEEP, "--executor", "ray", "--ray_address", "10.0.0.9:6379"])
    save_args(started, tmp_path, torch.device("cpu"), kind="sweep")  # what a sweep records before its first search
    moved = multiobjective._resume(parse(["--resume", str(tmp_path), "--executor", "local"]))[0]
    multiobjective.check_parallel_args(moved)
    assert (moved.executor, moved.ray_address) == ("local", None)
    kept = multiobjective._resume(parse(["--resume", str(tmp_path), "--parallel", "2"]))[0]
    assert (kept.executor, kept.ray_address) == ("ray", "10.0.0.9:6379")
    own = multiobjective._resume(parse(["--resume", str(tmp_path), "--ray_address", "local"]))[0]
    monkeypatch.setitem(sys.modules, "ray", unstarted_ray(lambda **kwargs: None))  # check_parallel_args imports it
    multiobjective.check_parallel_args(own)
    assert (own.executor, own.ray_address) == ("ray", None)


def unstarted_ray(init: Callable[..., None]) -> type:
    """A stand-in for the ray module before RayExecutor starts it: ``init`` as given, two CPUs, remote as is."""
    class FakeRay:
        @staticmethod
        def is_initialized() -> bool:
            return False

        @staticmethod
        def cluster_resources() -> dict:
            return {"CPU": 2.0}

        @staticmethod
        def remote(**options):
            return lambda function: function

    FakeRay.init = staticmethod(init)
    return FakeRay


def test_ray_init_leaves_the_sweeps_sigterm_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """ray.init makes SIGTERM a sys.exit in the driver, which replaced run_main's handler: a SIGTERM to a Ray sweep
    ended it with status 15 and nothing said, and without the interrupted line in its log. The sweep's handler is
    put back after ray.init (a default disposition, where nothing installed one, is left to Ray)."""
    def init(**kwargs) -> None:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))  # what ray.init does

    def sweeps(signum, frame):
        raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "ray", unstarted_ray(init))
    previous = signal.signal(signal.SIGTERM, sweeps)
    try:
        executors.RayExecutor(2, "cpu", threads=1)
        assert signal.getsignal(signal.SIGTERM) is sweeps
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_executor_ray_without_ray_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(UserError, match=r"^--executor ray needs Ray: pip install -r requirements-ray.txt$"):
        multiobjective.main(parse([*SWEEP, "--executor", "ray", "--logdir", str(tmp_path)]))
    assert not list(tmp_path.iterdir())


def test_ray_executor_without_an_address_starts_its_own_ray_whatever_ray_address_says(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --ray_address the sweep starts Ray on this machine (docs/parallel.md). ray.init() with no address
    joins the cluster RAY_ADDRESS (or the last `ray start` here) names instead, and there refused num_cpus: one line
    'cannot start or reach Ray' on a CPU, another's cluster joined on a GPU machine. address="local" starts a new
    instance whatever the environment says; --ray_address still joins the cluster it names."""
    calls: list[dict] = []

    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.9:6379")
    monkeypatch.setitem(sys.modules, "ray", unstarted_ray(lambda **kwargs: calls.append(kwargs)))
    own = executors.RayExecutor(2, "cpu", threads=1)
    assert calls[-1]["address"] == "local" and calls[-1]["num_cpus"] >= 2
    with socket.create_server(("127.0.0.1", 0)) as head:  # a head that answers (check_ray_address)
        address = f"127.0.0.1:{head.getsockname()[1]}"
        joined = executors.RayExecutor(2, "cpu", threads=1, address=address)
    assert calls[-1]["address"] == address and "num_cpus" not in calls[-1]
    # the sweep's log says which (it called a joined cluster "a local Ray instance")
    assert "a local Ray instance" in own.describe() and f"the Ray cluster at {address}" in joined.describe()


def test_a_ray_address_where_nothing_answers_is_one_line_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """ray.init retries a cluster that is not there for about a quarter of an hour, warnings on stderr, before it
    gives up: --ray_address with a typo, or a head that is down, looked like a sweep at work. Nothing answering
    at the address is one line now, before ray.init (RAY_ADDRESS's address for --ray_address auto)."""
    def init(**kwargs) -> None:
        raise AssertionError("ray.init was called")

    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]  # closed on leaving: nothing listens there
    monkeypatch.setitem(sys.modules, "ray", unstarted_ray(init))
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(UserError, match=rf"^--executor ray: cannot reach the Ray cluster at {address}: nothing "
                                            rf"answers at 127.0.0.1:{port} "):
            executors.RayExecutor(2, "cpu", threads=1, address=address)
    monkeypatch.setenv("RAY_ADDRESS", f"[::1]:{port}")
    assert executors.ray_endpoint("auto") == ("::1", port)
    assert executors.ray_endpoint("auto ") == ("::1", port) and executors.ray_endpoint("nonsense") is None
