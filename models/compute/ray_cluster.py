"""A throw-away Ray cluster on loopback (tests and ``experiments/bench_scale.py``).

:class:`LocalRayCluster` runs ``ray start --head --block`` and ``ray start --address ...
--block`` for each extra node, each as a child process in its own process group, with a
private temporary directory and free ports, and stops exactly those processes at the end
(never ``ray stop``, which would stop every Ray process on the machine).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from models.errors import FailedPrecondition


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_cli() -> str:
    cli = Path(sys.executable).with_name("ray")
    if cli.exists():
        return str(cli)
    found = shutil.which("ray")
    if found is None:
        raise FailedPrecondition("the 'ray' command is not installed")
    return found


class LocalRayCluster:
    """A head node plus ``extra_nodes`` worker nodes on 127.0.0.1, ``cpus_per_node`` each.

    Use as a context manager; ``address`` is what :class:`RayBackend` connects to. Worker
    processes import ``models`` from ``pythonpath`` (default: this checkout).
    """

    def __init__(
        self,
        extra_nodes: int = 1,
        cpus_per_node: int = 1,
        *,
        object_store_bytes: int = 200 << 20,
        pythonpath: str | None = None,
        start_timeout_s: float = 120.0,
    ) -> None:
        self.extra_nodes = int(extra_nodes)
        self.cpus_per_node = int(cpus_per_node)
        self.object_store_bytes = int(object_store_bytes)
        self.pythonpath = pythonpath or str(Path(__file__).resolve().parents[2])
        self.start_timeout_s = start_timeout_s
        self.temp_dir = ""
        self.address = ""
        self._procs: list[subprocess.Popen[bytes]] = []

    def _common(self) -> list[str]:
        return [
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.cpus_per_node}",
            f"--object-store-memory={self.object_store_bytes}",
            f"--node-manager-port={free_port()}",
            f"--object-manager-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            "--disable-usage-stats",
            "--block",
        ]

    def _spawn(self, args: list[str]) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = self.pythonpath + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
        )
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        log = open(Path(self.temp_dir) / f"node{len(self._procs)}.log", "wb")  # noqa: SIM115
        self._procs.append(
            subprocess.Popen(
                [_ray_cli(), "start", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        )
        log.close()

    def _wait_nodes(self, count: int) -> None:
        import ray

        deadline = time.monotonic() + self.start_timeout_s
        while True:
            for p in self._procs:
                if p.poll() is not None:
                    raise FailedPrecondition("a Ray node failed to start (see its log)")
            try:
                alive = [n for n in ray.nodes() if n.get("Alive")]
                if len(alive) >= count:
                    return
            except Exception:  # the GCS is not up yet
                pass
            if time.monotonic() > deadline:
                raise FailedPrecondition("the Ray cluster did not start in time")
            time.sleep(0.5)

    def start(self) -> LocalRayCluster:
        import logging

        import ray

        self.temp_dir = tempfile.mkdtemp(prefix="fcray")
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        self._spawn(
            [
                "--head",
                f"--port={port}",
                f"--temp-dir={self.temp_dir}",
                "--include-dashboard=false",
                f"--ray-client-server-port={free_port()}",
                *self._common(),
            ]
        )
        deadline = time.monotonic() + self.start_timeout_s
        while True:  # the GCS accepts connections once the head is up
            if self._procs[0].poll() is not None:
                raise FailedPrecondition("the Ray head failed to start (see its log)")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise FailedPrecondition("the Ray head did not start in time")
            time.sleep(0.3)
        for _ in range(self.extra_nodes):
            self._spawn([f"--address={self.address}", *self._common()])
        ray.init(
            address=self.address,
            logging_level=logging.WARNING,
            log_to_driver=False,
            configure_logging=False,
        )
        self._wait_nodes(1 + self.extra_nodes)
        return self

    def stop(self) -> None:
        """Disconnect, then stop the nodes this object started (their process groups)."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
        for p in reversed(self._procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self._procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)  # anything of that node still running
        self._procs.clear()
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalRayCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
