"""Start and stop real node processes for the demo and the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from proto.transport.tls import TlsFiles


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class NodeProcess:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (graceful shutdown) and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


def start_node(name: str, args: list[str], log_path: Path, cwd: Path) -> NodeProcess:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb")  # noqa: SIM115 - owned by the child process
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bank_node.cli.main", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
    )
    return NodeProcess(name, proc, log_path)


def wait_healthy(
    target: str, tls: TlsFiles, server_name: str, node: NodeProcess, timeout_s: float = 60.0
) -> None:
    from bank_node.federation_client import health_check

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if node.proc.poll() is not None:
            raise RuntimeError(f"{node.name} exited early; see {node.log_path}")
        if health_check(target, tls, server_name=server_name, timeout_s=1.0):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{node.name} did not become healthy; see {node.log_path}")
