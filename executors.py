"""Where a sweep's searches run when several go at once: worker processes, or Ray tasks.

The sweep (multiobjective.py) decides *what* to run: the weights, the run folders, the record in
sweep.json. An executor decides *where*: it starts a search from a prepared argument namespace,
says where it put it, and reports each search as it ends, done or failed. Searches run
``train_search.main`` outside the sweep's process, so a crash, a CUDA error or an out-of-memory
kill costs that search alone.

- ``LocalExecutor``: one worker process per slot (the 'spawn' start method, so no CUDA state is
  forked), a slot being one GPU (listed ``per_gpu`` times) or the CPU; a worker runs its slot's
  searches one after another and is replaced after a failure. A search's numbers come back
  through the result.json in its run folder; a pipe carries only what to run, the device used
  and, on failure, the error message.
- ``RayExecutor``: one Ray task per search with ``num_gpus = 1/per_gpu``, on a local Ray instance
  or an existing cluster. The task returns its result dict, so the sweep gets the numbers even
  where the workers do not share the sweep folder's filesystem.

Both have the same small interface: ``capacity``, ``free()``, ``in_flight()``, ``describe()``,
``submit(index, args) -> {host, device}``, ``wait(timeout) -> [Outcome]``, ``stop()``, ``close()``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from utils import UserError, available_cores, is_out_of_memory, out_of_memory, read_json

__all__ = [
    "Outcome",
    "LocalExecutor",
    "RayExecutor",
    "RAY_HINT",
    "available_cores",
    "check_ray_address",
    "cpu_threads",
    "import_ray",
    "local_slots",
    "parse_gpus",
    "run_search",
]

RAY_HINT = "--executor ray needs Ray: pip install -r requirements-ray.txt"
REPO = Path(__file__).resolve().parent


@dataclass
class Outcome:
    """How one search ended: status "done" (with its result dict), "failed" (with a message: the search diverged
    or crashed) or "refused" (with a message: it could not run here, see ``refused``)."""

    index: int
    status: str
    result: dict[str, Any] | None = None
    error: str | None = None
    host: str | None = None
    device: str | None = None
    finished: float = field(default_factory=time.time)


def _one_line(text: str, limit: int = 500) -> str:
    return " ".join(str(text).split())[:limit]


def search_error(err: BaseException) -> str:
    """What a sweep records and says of a search's exception: one line (torch's out-of-memory paragraph cut to its
    first sentences)."""
    return out_of_memory(err) if is_out_of_memory(err) else _one_line(err) or type(err).__name__


def refused(err: BaseException) -> bool:
    """Whether a search's exception says that it could not run here, not how its nu turned out.

    A UserError met inside a search (its data gone or moved, its folder held by another process, its latency
    table deleted), an OSError (a full or read-only disk under its checkpoint) and the device running out of
    memory (too many searches on one GPU) are about the machine: recorded as failed, NISE would give up that part
    of the front for good and a resume could not bring it back. The sweep stops on it instead and leaves the search
    to --resume. A divergence (SearchDiverged, a UserError too) and a crash are the search's own outcome: recorded
    as failed.
    """
    from train_search import SearchDiverged  # here, not at the top: the workers import it to search anyway

    return (isinstance(err, OSError) or is_out_of_memory(err)
            or (isinstance(err, UserError) and not isinstance(err, SearchDiverged)))


def killed_refused(code: int | None) -> bool:
    """Whether a worker process that died with exit ``code`` was killed from outside: SIGKILL is the kernel's
    out-of-memory killer (or a kill by hand), not how its nu turned out; another signal (a segfault) is a crash."""
    return code == -signal.SIGKILL


def run_search(args: argparse.Namespace) -> dict[str, Any]:
    """Run one search of a sweep; continue it from its checkpoint if its run folder has one.

    The check is made here, where the search starts, rather than when it was queued: a relaunched
    search (after Ctrl-C or a lost Ray worker) then continues instead of starting over.
    """
    import train_search

    args = copy.copy(args)
    run_dir = Path(args.run_dir)
    args.resume = str(run_dir) if (run_dir / "args.json").is_file() else None
    return train_search.main(args)


# ------------------------------------------------------------------------------------ devices


def cpu_threads(requested: int, parallel: int) -> int:
    """Threads per CPU search: --threads if given, else the cores shared out over the K searches."""
    return requested if requested and requested > 0 else max(1, available_cores() // max(1, parallel))


def parse_gpus(text: str | None) -> list[int] | None:
    """"0,1,3" -> [0, 1, 3]; None stays None (all visible devices). Rejects junk with one line."""
    if text is None:
        return None
    try:
        gpus = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--gpus {text}: give GPU indices separated by commas, e.g. --gpus 0,1") from None
    if not gpus or any(g < 0 for g in gpus) or len(set(gpus)) != len(gpus):
        raise UserError(f"--gpus {text}: give distinct GPU indices >= 0 separated by commas, e.g. --gpus 0,1")
    return gpus


def local_slots(device: str, gpus: Sequence[int] | None, per_gpu: int | None, parallel: int) -> list[str]:
    """The places a search can run on this machine, one entry per concurrent search.

    A GPU appears ``per_gpu`` times (default: enough to run ``parallel`` searches over the GPUs);
    CPU or MPS appear ``parallel`` times. Fails with one line on a GPU that is not there.
    """
    import torch

    device = (device or "auto").lower()
    cuda_ok = torch.cuda.is_available()
    if device in ("cpu", "mps") or (device == "auto" and not cuda_ok):
        if gpus is not None:
            raise UserError(f"--gpus needs CUDA, but the sweep runs on {device if device != 'auto' else 'the CPU'}")
        if device == "auto":
            mps = getattr(torch.backends, "mps", None)
            device = "mps" if mps is not None and mps.is_available() else "cpu"
        return [device] * parallel
    if not cuda_ok:
        raise UserError(f"--device {device} was asked for but CUDA is not available (try --device auto or cpu)")
    count = torch.cuda.device_count()
    if gpus is None:
        gpus = list(range(count))
    missing = [g for g in gpus if g >= count]
    if missing:
        raise UserError(f"--gpus: GPU {missing[0]} does not exist: {count} CUDA device(s) visible")
    per = per_gpu or math.ceil(parallel / len(gpus))
    # interleaved, so that the first searches go to different GPUs
    return [f"cuda:{g}" for _ in range(per) for g in gpus]


# ------------------------------------------------------------------------------------ local processes


def _exit_when_orphaned(parent_pid: int) -> None:
    """A worker whose sweep was killed (SIGKILL, OOM) stops too, so a resumed sweep never meets it."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(3)
        time.sleep(1.0)


class _Stopped(BaseException):
    """Raised in a worker by SIGTERM (the sweep stopping it): unwind, so its exit cleans up after it."""


def _raise_stopped(signum: int, frame: Any) -> None:
    # once: a SIGTERM to the whole process group (`timeout`, a scheduler) and then the sweep's own stop() reach the
    # worker in turn, and the second one raised again as it exited ("Exception ignored in: <module 'threading'>")
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stopped


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while a worker is spawned, which inherits that and so installs no KeyboardInterrupt handler: a
    Ctrl-C (sent to the whole process group) while the worker imports torch and the sweep's modules would otherwise
    end it with a traceback on the sweep's terminal, before ``_worker_main`` ignores SIGINT itself. (A blocked
    SIGINT would not do: multiprocessing unblocks it when it starts its resource tracker.) A Ctrl-C in the few
    milliseconds of the spawn itself is lost to the sweep too; the next one stops it."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set a handler
        yield
        return
    ours = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, ours)


def _worker_main(target: Callable[[argparse.Namespace], Any], conn: Connection, parent_pid: int) -> None:
    """Body of a worker process: run ``target(args)`` for each search the sweep sends, report each.

    A worker runs its searches one after another, as the sequential sweep does in its own process,
    so the imports and the device set-up are paid once per worker rather than once per search.
    After a failure it exits, and the next search on its slot gets a fresh process.
    """
    # Ctrl-C reaches the whole process group; the sweep decides what happens to its workers (ignored from the spawn
    # on: _sigint_ignored).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _raise_stopped)
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()
    # K searches printing to one terminal is noise: each one's log.txt has all of it.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    try:
        _serve(target, conn)
    except _Stopped:
        pass


def _serve(target: Callable[[argparse.Namespace], Any], conn: Connection) -> None:
    from utils import get_device

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] != "run":
            return
        _, index, args = message
        try:
            conn.send(("started", index, socket.gethostname(), str(get_device(args.device, args.gpu))))
            target(args)
        except _Stopped:
            raise
        except BaseException as err:  # noqa: BLE001 - every failure is reported; the sweep decides what follows
            if not isinstance(err, (UserError, FloatingPointError)):
                traceback.print_exc(file=sys.stderr)
            conn.send(("refused" if refused(err) else "failed", index, search_error(err)))
            conn.close()
            sys.exit(1)
        _release_gpu_memory()
        conn.send(("done", index))


def _release_gpu_memory() -> None:
    """Hand the finished search's cached GPU memory back, for the searches that share the GPU."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()


@dataclass
class _Worker:
    slot: int
    process: Any
    conn: Connection
    index: int | None = None  # the search it runs now
    run_dir: Path | None = None
    host: str | None = None
    device: str | None = None


class LocalExecutor:
    """Searches in worker processes on this machine, one worker per slot, one search per worker at a time.

    ``target`` is what a worker calls with a search's arguments (``run_search``; tests pass a
    module-level function that fails on purpose). ``threads`` sets --threads of CPU searches.
    """

    name = "local"

    def __init__(self, slots: Sequence[str], threads: int = 0,
                 target: Callable[[argparse.Namespace], Any] = run_search) -> None:
        if not slots:
            raise ValueError("LocalExecutor needs at least one slot")
        self.slots = list(slots)
        self.threads = threads
        self.target = target
        self._context = multiprocessing.get_context("spawn")
        self._workers: dict[int, _Worker] = {}

    @property
    def capacity(self) -> int:
        """How many searches may run at once."""
        return len(self.slots)

    def _busy(self) -> list[_Worker]:
        return [w for w in self._workers.values() if w.index is not None]

    def free(self) -> int:
        """How many more searches can start now."""
        return len(self.slots) - len(self._busy())

    def in_flight(self) -> list[int]:
        """The indices of the searches running now."""
        return sorted(w.index for w in self._busy() if w.index is not None)

    def describe(self) -> str:
        """Where the searches run, for the sweep's log."""
        counts: dict[str, int] = {}
        for s in self.slots:
            counts[s] = counts.get(s, 0) + 1
        return "worker processes on " + ", ".join(f"{d} x{n}" if n > 1 else d for d, n in counts.items())

    def _worker(self, slot: int) -> _Worker:
        worker = self._workers.get(slot)
        if worker is None or not worker.process.is_alive():
            ours, theirs = self._context.Pipe(duplex=True)
            process = self._context.Process(target=_worker_main, args=(self.target, theirs, os.getpid()),
                                            name=f"sweep-worker-{slot}", daemon=False)
            with _sigint_ignored():
                process.start()
            theirs.close()  # the worker holds its own end
            worker = self._workers[slot] = _Worker(slot, process, ours)
        return worker

    def submit(self, index: int, args: argparse.Namespace) -> dict[str, Any]:
        """Start search ``index`` on a free slot's worker; returns where it runs ({host, device})."""
        idle = [s for s in range(len(self.slots)) if s not in self._workers or self._workers[s].index is None]
        # a warm worker first (its imports are done), then a slot whose worker is yet to start
        slot = min(idle, key=lambda s: (s not in self._workers or not self._workers[s].process.is_alive(), s))
        device = self.slots[slot]
        child = copy.copy(args)
        child.no_progress = True
        if device.startswith("cuda:"):
            child.device, child.gpu = "cuda", int(device.split(":", 1)[1])
        else:
            child.device = device
            if device == "cpu" and self.threads:
                child.threads = self.threads
        worker = self._worker(slot)
        worker.conn.send(("run", index, child))
        worker.index, worker.run_dir = index, Path(args.run_dir)
        worker.host, worker.device = socket.gethostname(), device
        return {"host": worker.host, "device": device}

    def _retire(self, worker: _Worker) -> None:
        worker.process.join(10)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()
        del self._workers[worker.slot]

    def _done(self, worker: _Worker, index: int) -> Outcome:
        result_file = (worker.run_dir or Path(".")) / "result.json"
        worker.index = None
        try:
            return Outcome(index, "done", result=read_json(result_file), host=worker.host, device=worker.device)
        except (OSError, ValueError) as err:
            return Outcome(index, "failed", error=f"the search ended without a readable {result_file}: "
                           f"{_one_line(err)}", host=worker.host, device=worker.device)

    def _collect(self, worker: _Worker, outcomes: list[Outcome]) -> None:
        """Read what a worker sent; a worker that died in a search makes that search failed (refused where the
        out-of-memory killer took it: killed_refused)."""
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if message[0] == "started":
                    worker.host, worker.device = message[2], message[3]
                elif message[0] == "done":
                    outcomes.append(self._done(worker, message[1]))
                elif message[0] in ("failed", "refused"):
                    outcomes.append(Outcome(message[1], message[0], error=message[2], host=worker.host,
                                            device=worker.device))
                    worker.index = None
                    self._retire(worker)
                    return
        except (EOFError, OSError):
            pass
        if not worker.process.is_alive():
            index = worker.index
            worker.process.join()
            code = worker.process.exitcode
            if index is not None:
                error = (f"the search process was killed by signal {-code}" if code is not None and code < 0
                         else f"the search process exited with code {code}")
                status = "failed"
                if killed_refused(code):
                    error, status = f"{error} (SIGKILL: the out-of-memory killer, or a kill by hand)", "refused"
                outcomes.append(Outcome(index, status, error=error, host=worker.host, device=worker.device))
                worker.index = None
            self._retire(worker)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Block until at least one search ends (or ``timeout``); returns those that ended, by index."""
        deadline = None if timeout is None else time.time() + timeout
        outcomes: list[Outcome] = []
        while self._busy() and not outcomes:
            busy = self._busy()
            handles: dict[Any, _Worker] = {}
            for worker in busy:
                handles[worker.conn] = worker
                handles[worker.process.sentinel] = worker
            left = None if deadline is None else max(0.0, deadline - time.time())
            ready = wait(list(handles), left)
            for worker in {id(handles[h]): handles[h] for h in ready}.values():
                self._collect(worker, outcomes)
            if deadline is not None and time.time() >= deadline:
                break
        return sorted(outcomes, key=lambda o: o.index)

    def stop(self) -> None:
        """Terminate every worker, searches in flight included (each keeps its last checkpoint)."""
        for worker in self._workers.values():
            if worker.process.is_alive():
                worker.process.terminate()
        self._retire_all()

    def close(self) -> None:
        """Let idle workers exit; terminate any still busy."""
        for worker in self._workers.values():
            if worker.index is None:
                try:
                    worker.conn.send(("stop",))
                except (OSError, ValueError):
                    pass
            elif worker.process.is_alive():
                worker.process.terminate()
        self._retire_all()

    def _retire_all(self) -> None:
        """Wait for every worker to end. A Ctrl-C in that wait (at a sweep's end, while its idle workers exit; a
        second one while a stopped sweep waits for its searches) kills those left and is raised: else multiprocessing
        joined them again as the sweep exited, and a further Ctrl-C there printed its traceback."""
        try:
            for worker in list(self._workers.values()):
                self._retire(worker)
        except BaseException:
            for worker in list(self._workers.values()):
                if worker.process.is_alive():
                    worker.process.kill()
                worker.process.join()
                worker.conn.close()
            self._workers.clear()
            raise


# ------------------------------------------------------------------------------------ Ray


def ray_task(args: argparse.Namespace) -> dict[str, Any]:
    """Body of a Ray task: run the search where Ray put it; never raises, reports instead."""
    import ray

    from utils import get_device

    host = socket.gethostname()
    gpu_ids = [str(g) for g in ray.get_gpu_ids()]
    try:
        device = f"cuda:{gpu_ids[0]}" if gpu_ids else str(get_device(args.device, args.gpu))
    except Exception as err:  # noqa: BLE001
        return {"status": "failed", "error": _one_line(err), "host": host, "device": None}
    try:
        result = run_search(args)
    except Exception as err:  # noqa: BLE001 - reported to the sweep, which records it or stops
        reply = {"status": "refused" if refused(err) else "failed", "error": search_error(err), "host": host,
                 "device": device}
        if not isinstance(err, (UserError, FloatingPointError)):  # a bug's traceback: to the sweep's terminal too,
            # as a local worker's is (this worker's stderr is a file in Ray's session logs on the node that ran it)
            reply["traceback"] = traceback.format_exc()
            traceback.print_exc(file=sys.stderr)
        return reply
    return {"status": "done", "result": result, "host": host, "device": device}


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def ray_endpoint(address: str) -> tuple[str, int] | None:
    """The host and port that ``--ray_address`` names (HOST:PORT, [IPv6]:PORT, ray://HOST:PORT; auto: RAY_ADDRESS's),
    or None where it names none (auto with no RAY_ADDRESS, which Ray resolves itself, or a malformed address, which
    Ray refuses at once)."""
    text = address.strip()
    if text == "auto":
        text = os.environ.get("RAY_ADDRESS", "").strip()
    text = text.split("://", 1)[-1].rstrip("/")
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        return None
    return host, int(port)


def check_ray_address(address: str, timeout: float = 10.0) -> None:
    """One line, within ``timeout`` seconds, where nothing answers at the cluster ``--ray_address`` names.

    ray.init retries a cluster that is not there for a quarter of an hour (20 tries of about 40 s each, warnings on
    stderr) before it gives up: a typo in the address, or a head node that is down, looked like a sweep at work.
    """
    endpoint = ray_endpoint(address)
    if endpoint is None:
        return
    try:
        with socket.create_connection(endpoint, timeout=timeout):
            pass
    except OSError as err:
        raise UserError(f"--executor ray: cannot reach the Ray cluster at {address}: nothing answers at "
                        f"{endpoint[0]}:{endpoint[1]} ({_one_line(err, 200) or type(err).__name__}); start it "
                        "(ray start --head) or give its head's address to --ray_address") from None


def import_ray() -> Any:
    """The ray module, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(RAY_HINT) from None
    return ray


class RayExecutor:
    """Searches as Ray tasks (``num_gpus = 1/per_gpu``), on a local Ray instance or a cluster.

    The task runs ``train_search.main`` with the run folder inside the sweep folder: on a cluster
    that path must be on a filesystem the workers share (as must this repository, put on the
    workers' PYTHONPATH). The task also returns the result, so sweep.json gets the numbers anyway.
    """

    name = "ray"

    def __init__(self, parallel: int, device: str = "auto", per_gpu: int | None = None,
                 threads: int = 0, address: str | None = None) -> None:
        self.ray = import_ray()
        self._started_ray = False
        self.address = address
        if not self.ray.is_initialized():
            env = {"PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
            kwargs: dict[str, Any] = dict(runtime_env={"env_vars": env}, log_to_driver=False,
                                          logging_level="warning", include_dashboard=False)
            # with no --ray_address, a Ray instance of the sweep's own on this machine: ray.init() alone would join
            # the cluster that RAY_ADDRESS or the last `ray start` names (another user's too), and refuse num_cpus
            kwargs["address"] = address or "local"
            if not address and (device == "cpu" or not _cuda_available()):
                # on this machine, K searches at once as asked, even with fewer cores (as local processes)
                kwargs["num_cpus"] = max(available_cores(), parallel * max(1, threads))
            # ray.init makes SIGTERM a sys.exit in the driver: the sweep's own handler (run_main's, which makes it a
            # Ctrl-C: tasks cancelled, sweep.json saved, the --resume line said) is put back after it
            if address:
                check_ray_address(address)
            ours = signal.getsignal(signal.SIGTERM)
            try:
                self.ray.init(**kwargs)
            except Exception as err:  # noqa: BLE001 - a wrong address is bad input, one line
                raise UserError(f"--executor ray: cannot start or reach Ray ({_one_line(err, 300)})") from None
            finally:
                if callable(ours) and threading.current_thread() is threading.main_thread():
                    signal.signal(signal.SIGTERM, ours)
            self._started_ray = True
        gpus = float(self.ray.cluster_resources().get("GPU", 0)) if device != "cpu" else 0.0
        if device in ("cuda",) and gpus == 0:
            self.shutdown_ray()
            raise UserError("--device cuda was asked for but the Ray cluster has no GPU")
        self.parallel = parallel
        if gpus > 0:
            self.per_gpu = per_gpu or max(1, math.ceil(parallel / int(gpus)))
            self.options = {"num_gpus": 1.0 / self.per_gpu, "num_cpus": 1}
            self.device, self.threads = "cuda", threads
        else:
            self.per_gpu = per_gpu
            self.threads = threads if threads > 0 else 1
            self.options = {"num_gpus": 0, "num_cpus": self.threads}
            self.device = device if device not in ("auto", "cuda") else "cpu"
        self._remote = self.ray.remote(max_retries=0, **self.options)(ray_task)
        self._running: dict[Any, int] = {}

    @property
    def capacity(self) -> int:
        """How many searches may run at once."""
        return self.parallel

    def free(self) -> int:
        """How many more searches can start now."""
        return self.parallel - len(self._running)

    def in_flight(self) -> list[int]:
        """The indices of the searches running now."""
        return sorted(self._running.values())

    def describe(self) -> str:
        """Where the searches run, for the sweep's log."""
        # (--ray_address: the cluster joined, which the sweep's log said was "a local Ray instance")
        where = ("an existing Ray cluster" if not self._started_ray
                 else f"the Ray cluster at {self.address}" if self.address else "a local Ray instance")
        return f"Ray tasks on {where} (num_gpus={self.options['num_gpus']:.3g}, num_cpus={self.options['num_cpus']})"

    def submit(self, index: int, args: argparse.Namespace) -> dict[str, Any]:
        """Queue search ``index`` as a Ray task; host and device are known once it ends."""
        child = copy.copy(args)
        child.no_progress = True
        child.device, child.gpu = self.device, 0
        # a Ray worker does not run in the sweep's folder: relative paths would point elsewhere
        for key in ("run_dir", "data", "logdir"):
            if getattr(child, key, None):
                setattr(child, key, os.path.abspath(getattr(child, key)))
        if self.device == "cpu":
            child.threads = self.threads
        ref = self._remote.remote(child)
        self._running[ref] = index
        return {"host": None, "device": None}

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Block until at least one task ends (or ``timeout``); returns those that ended, by index."""
        if not self._running:
            return []
        ready, _ = self.ray.wait(list(self._running), num_returns=1, timeout=timeout)
        if ready:  # take every other one that has ended too
            ready, _ = self.ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
        outcomes = []
        for ref in ready:
            index = self._running.pop(ref)
            try:
                reply = self.ray.get(ref)
            except Exception as err:  # noqa: BLE001 - a crashed worker: the search failed
                # but where Ray's memory monitor killed the worker (the machine's memory, as killed_refused) or the
                # node it ran on was lost (the cluster's, not the search's), the search is left to --resume
                machine = isinstance(err, (self.ray.exceptions.OutOfMemoryError, self.ray.exceptions.NodeDiedError))
                outcomes.append(Outcome(index, "refused" if machine else "failed", error=_one_line(err)))
                continue
            if reply.get("traceback"):
                print(f"search {index} (Ray task on {reply.get('host')}):\n{reply['traceback']}", end="",
                      file=sys.stderr, flush=True)
            outcomes.append(Outcome(index, reply["status"], result=reply.get("result"), error=reply.get("error"),
                                    host=reply.get("host"), device=reply.get("device")))
        return sorted(outcomes, key=lambda o: o.index)

    def stop(self) -> None:
        """Cancel every running task (each search keeps its last checkpoint)."""
        for ref in list(self._running):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001, S110 - it may have ended meanwhile
                pass
        self._running.clear()

    def shutdown_ray(self) -> None:
        """Shut Ray down if this executor started it; a cluster the user runs is left alone."""
        if self._started_ray and self.ray.is_initialized():
            self.ray.shutdown()
        self._started_ray = False

    def close(self) -> None:
        """Cancel what still runs, then release Ray."""
        self.stop()
        self.shutdown_ray()
