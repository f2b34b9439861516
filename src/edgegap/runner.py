"""Searches that measure (a grid of recipes, a plan's candidates, the report's models) as
lists of tasks, run in this process, on a local Ray that edgegap starts and stops
(`--workers N`), or on a Ray cluster (`--ray-address`): an existing engine schedules them,
edgegap only hands them out.

A run gives the same results wherever it runs: each task carries its seed, and every random
generator (torch, numpy, random) is seeded from it just before the task, with one torch
thread, so a result depends neither on the worker nor on what that worker ran before;
results come back in task order, never completion order. A task that fails is retried once,
then reported with its input; the others go on. Finished tasks are written to a JSON-lines
results file as they finish, so a search that is stopped resumes where it was: a task whose
key (a hash of the function, its input and its seed) is in the file is not run again.

The serial path never imports Ray (it is an optional extra, `edgegap[ray]`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import random
import secrets
import shutil
import socket
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgegap import atomic
from edgegap.errors import UserError, first_line

TaskFunction = Callable[[dict[str, Any], int, Any], dict[str, Any]]
"""A task: (input, seed, shared) -> result; input and result are JSON objects, `shared` what
every task reads (a dataset, a trained model), sent to each worker once. Module-level, so a
worker imports it by name."""

ATTEMPTS = 2  # a failed task is retried once


@dataclass(frozen=True)
class Task:
    """One measurement: everything its result depends on is in `input` (JSON) and `seed`."""

    input: dict[str, Any]
    seed: int = 0


@dataclass(frozen=True)
class Outcome:
    """A task's result, or, after its retry failed too, the error (one line)."""

    task: Task
    result: dict[str, Any] | None
    error: str | None = None

    def describe(self) -> str:
        """The failure with the input that caused it, as the CLI reports it."""
        return f"task {_canonical(self.task.input)} (seed {self.task.seed}) failed: {self.error}"


@dataclass(frozen=True)
class Workers:
    """Where tasks run: in this process (count 1, no address), on a local Ray of `count`
    workers, or on the Ray cluster at `address` (`count` workers, default one per CPU there);
    `results` is the resume file."""

    count: int = 1
    address: str | None = None
    results: Path | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise UserError(f"--workers must be 1 or more, got {self.count}")

    @property
    def serial(self) -> bool:
        return self.count == 1 and self.address is None


def task_key(function: TaskFunction, task: Task) -> str:
    """What the results file knows a finished task by."""
    name = f"{function.__module__}.{function.__qualname__}"
    return hashlib.sha256(_canonical([name, task.input, task.seed]).encode()).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def run_tasks(
    function: TaskFunction,
    tasks: Sequence[Task],
    shared: Callable[[], Any] | None = None,
    workers: Workers | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Every task's outcome, in task order. `shared` is called once, only if a task is left to
    run (a finished search resumed costs nothing); `progress(done, total)` after each task."""
    workers = workers or Workers()
    keys = [task_key(function, task) for task in tasks]
    log = ResultsLog(workers.results)
    outcomes: dict[int, Outcome] = {
        index: Outcome(task, log.finished[key])
        for index, (task, key) in enumerate(zip(tasks, keys, strict=True))
        if key in log.finished
    }
    todo = [(index, task) for index, task in enumerate(tasks) if index not in outcomes]

    def finished(index: int, outcome: Outcome) -> None:
        outcomes[index] = outcome
        if outcome.result is not None:
            log.add(keys[index], function, outcome.task, outcome.result)
        if progress is not None:
            progress(len(outcomes), len(tasks))

    if progress is not None:
        progress(len(outcomes), len(tasks))
    if todo and workers.serial:
        context = shared() if shared is not None else None
        for index, task in todo:
            finished(index, _with_retry(function, task, context))
    elif todo:
        _run_on_ray(function, todo, shared, workers, finished)
    return [outcomes[index] for index in range(len(tasks))]


def _with_retry(function: TaskFunction, task: Task, shared: Any) -> Outcome:
    error = ""
    for _ in range(ATTEMPTS):
        ok, payload = run_one(function, task.input, task.seed, shared)
        if ok:
            return Outcome(task, payload)
        error = payload
    return Outcome(task, None, error)


def run_one(
    function: TaskFunction, input: dict[str, Any], seed: int, shared: Any
) -> tuple[bool, Any]:
    """(True, result) or (False, the error in one line): one attempt, every generator seeded
    from `seed` and torch on one thread, so the result is the same in any process. The result
    goes through JSON here, so a fresh one and one read back from a results file are equal."""
    import numpy as np
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    try:
        return True, json.loads(json.dumps(function(input, seed, shared)))
    except Exception as error:  # reported with its input; Ctrl-C and SIGTERM still stop the run
        return False, first_line(error)
    finally:
        torch.set_num_threads(threads)


class ResultsLog:
    """The resume file: one JSON object a line ({"key", "task", "input", "seed", "result"}),
    rewritten atomically as each task finishes, so it is whole whenever the run stops. Lines
    of other searches are kept: one file can serve several."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lines: list[str] = []
        self.finished: dict[str, dict[str, Any]] = {}
        if path is None or not path.exists():
            return
        if path.is_dir():
            raise UserError(f"--results {path} is a directory: name a file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"--results {path}: cannot read it ({first_line(error)})") from None
        for number, line in enumerate(text.splitlines(), 1):
            try:
                record = json.loads(line)
                key, result = record["key"], record["result"]
                if not isinstance(key, str) or not isinstance(result, dict):
                    raise TypeError
            except (ValueError, TypeError, KeyError):
                raise UserError(
                    f"--results {path}:{number}: not a line of edgegap's results file; name "
                    "another file, or remove this one to start the search afresh"
                ) from None
            self.lines.append(line)
            self.finished[key] = result

    def add(self, key: str, function: TaskFunction, task: Task, result: dict[str, Any]) -> None:
        self.finished[key] = result
        if self.path is None:
            return
        name = f"{function.__module__}.{function.__qualname__}"
        record = {"key": key, "task": name, "input": task.input, "seed": task.seed,
                  "result": result}  # fmt: skip
        self.lines.append(json.dumps(record, ensure_ascii=False))  # the result's keys in order
        atomic.write_text(self.path, "\n".join(self.lines) + "\n")


# --- Ray ----------------------------------------------------------------------------------


def _run_on_ray(
    function: TaskFunction,
    todo: list[tuple[int, Task]],
    shared: Callable[[], Any] | None,
    workers: Workers,
    finished: Callable[[int, Outcome], None],
) -> None:
    """Hand the tasks to warm workers, one at a time each, the next to whichever is free.
    Ray and the workers start (Python, torch, the task's module) while `shared` is computed
    here, and each receives it once; a worker that dies is replaced, and its task counts as a
    failed attempt."""
    _check_ray(workers)  # before any work that would have to be waited for
    computing = _Background(shared if shared is not None else lambda: None)
    with _ray(workers) as ray:
        from ray.exceptions import RayActorError

        count = workers.count if workers.count > 1 or workers.address is None else None
        if count is None:  # a cluster, no --workers: one per CPU there
            count = max(int(ray.cluster_resources().get("CPU", 1)), 1)
        worker_class = ray.remote(num_cpus=1)(TaskWorker)
        idle = [worker_class.remote(function) for _ in range(min(count, len(todo)))]
        shared_ref = ray.put(computing.result())
        for worker in idle:
            worker.receive.remote(shared_ref)
        queue: deque[tuple[int, Task, int]] = deque((i, t, 1) for i, t in todo)
        running: dict[Any, tuple[Any, int, Task, int]] = {}
        while queue or running:
            while idle and queue:
                worker = idle.pop()
                index, task, attempt = queue.popleft()
                running[worker.run.remote(task.input, task.seed)] = (worker, index, task, attempt)
            ready, _ = ray.wait(list(running), num_returns=1)
            worker, index, task, attempt = running.pop(ready[0])
            try:
                ok, payload = ray.get(ready[0])
            except RayActorError as error:
                ok, payload = False, f"its worker died ({first_line(error)[:200]})"
                worker = worker_class.remote(function)
                worker.receive.remote(shared_ref)
            idle.append(worker)
            if ok:
                finished(index, Outcome(task, payload))
            elif attempt < ATTEMPTS:
                queue.appendleft((index, task, attempt + 1))
            else:
                finished(index, Outcome(task, None, payload))


class _Background:
    """A call run on a thread of its own (a daemon: Ctrl-C does not wait for it)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self.thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self.value = call()
        except BaseException as error:  # raised again where the value is wanted
            self.error = error

    def result(self) -> Any:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.value


class TaskWorker:
    """A warm worker: imports the task's module once, holds `shared` once, runs tasks."""

    def __init__(self, function: TaskFunction) -> None:
        import torch

        torch.set_num_threads(1)
        self.function = function
        self.shared: Any = None

    def receive(self, shared: Any) -> None:
        self.shared = shared

    def run(self, input: dict[str, Any], seed: int) -> tuple[bool, Any]:
        return run_one(self.function, input, seed, self.shared)


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray-address {address}: write HOST:PORT, e.g. 10.0.0.5:6379")
    return host.strip("[]"), int(port)


def _on_loopback(address: str) -> bool:
    host = _split_address(address)[0]
    return host == "localhost" or host == "::1" or host.startswith("127.")


def _check_ray(workers: Workers) -> None:
    """Ray installed, and the cluster there: a one-line error at once, not after the work
    `shared` does, nor after Ray's minute of retries."""
    if importlib.util.find_spec("ray") is None:
        raise UserError("--workers and --ray-address need Ray: pip install 'edgegap[ray]'")
    if workers.address is None:
        return
    host, port = _split_address(workers.address)
    address = workers.address
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UserError(
            f"cannot reach the Ray cluster at --ray-address {address} ({reason}): start one "
            "with `ray start --head` there, or check the address"
        ) from None


# Kept on this machine: loopback addresses only (Ray's default for macOS and Windows, asked
# for here), no dashboard, no usage report, a private token, logs left in the temp folder.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


@contextlib.contextmanager
def _ray(workers: Workers) -> Iterator[Any]:
    """Ray connected: to the cluster at `workers.address`, or to a local one started here
    (on loopback, in a short private temp folder: Ray's socket paths are length-limited) and
    shut down and removed afterwards."""
    local = workers.address is None
    saved = {name: os.environ.get(name) for name in (*LOOPBACK, "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    temp = tempfile.mkdtemp(prefix="eg-ray-", dir="/tmp") if local else None
    try:
        if local or _on_loopback(str(workers.address)):  # before Ray is imported: read then
            os.environ.update(LOOPBACK)
        if local and saved["RAY_AUTH_MODE"] is None and saved["RAY_AUTH_TOKEN"] is None:
            os.environ |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        import ray

        if local:
            ray.init(address="local", num_cpus=workers.count, include_dashboard=False,
                     _node_ip_address="127.0.0.1", _temp_dir=temp, log_to_driver=False,
                     configure_logging=False)  # fmt: skip
        else:
            try:
                ray.init(address=workers.address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, ValueError, RuntimeError) as error:
                raise UserError(
                    f"cannot reach the Ray cluster at --ray-address {workers.address} "
                    f"({first_line(error)[:160]}): start one with `ray start --head`"
                ) from None
        yield ray
    finally:
        if "ray" in sys.modules:
            sys.modules["ray"].shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
