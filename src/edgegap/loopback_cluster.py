"""A Ray cluster of several nodes on this machine, on loopback only: what the tests and the
benchmark point `--ray-address` at to show the cluster path works without a second machine.

`python -m edgegap.loopback_cluster --nodes 2` starts a head node and more nodes (a raylet
each, one CPU each, Ray's own `cluster_utils`), prints the address, then serves until it is
stopped (SIGTERM or Ctrl-C), when it shuts every node down. `ray start` cannot do this on
loopback: a node that joins refuses the loopback-only mode.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from types import FrameType
from typing import Any

from edgegap.runner import LOOPBACK


@contextlib.contextmanager
def loopback_cluster(nodes: int = 2, timeout_s: float = 120) -> Iterator[str]:
    """The address of a cluster of `nodes` one-CPU nodes, started in a child process and
    stopped on leaving; the environment carries the cluster's token while it runs."""
    token = secrets.token_hex(32)
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    child = subprocess.Popen(
        [sys.executable, "-m", "edgegap.loopback_cluster", "--nodes", str(nodes)],
        env=os.environ | LOOPBACK | auth, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    saved = {name: os.environ.get(name) for name in auth}
    try:
        assert child.stdout is not None
        address = child.stdout.readline().strip()
        if not address:
            raise RuntimeError(f"the loopback cluster did not start (exit {child.poll()})")
        os.environ.update(auth)
        yield address
    finally:
        child.terminate()
        child.wait(timeout_s)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=2)
    nodes = parser.parse_args().nodes
    temp = tempfile.mkdtemp(prefix="eg-rayc-", dir="/tmp")
    os.makedirs(os.path.join(temp, "ray"))  # where Cluster notes its address
    os.environ.update(LOOPBACK | {"RAY_TMPDIR": temp})  # before Ray is imported
    from ray.cluster_utils import Cluster

    node_args: dict[str, Any] = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "temp_dir": temp}
    cluster = Cluster()
    try:
        cluster.add_node(**node_args, include_dashboard=False)
        for _ in range(nodes - 1):
            cluster.add_node(**node_args)
        print(cluster.address, flush=True)
        signal.signal(signal.SIGTERM, _stop)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    finally:
        cluster.shutdown()  # type: ignore[no-untyped-call]
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
