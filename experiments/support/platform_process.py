"""The platform as its own process for the benchmarks: start it, wait for its port, serve
until SIGTERM.

A benchmark re-runs its own script with a hidden ``--serve-platform`` flag (and ``--pki``,
``--data-dir``, ``--port-file`` plus its own arguments); the child builds the real mTLS server
and calls :func:`serve_until_terminated`; the parent calls :func:`spawn_platform`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from platform_node.server import RunningServer


def serve_until_terminated(running: RunningServer, port_file: Path) -> int:
    """Announce the server's port in ``port_file``, then serve until SIGTERM."""
    Path(port_file).write_text(str(running.port))
    stop = {"done": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(done=True))
    while not stop["done"]:
        time.sleep(0.2)
    running.stop(1.0)
    return 0


def spawn_platform(
    script: Path, workdir: Path, extra_args: Sequence[str] = (), *, cwd: Path | None = None
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """Start ``script --serve-platform`` with a fresh development PKI (platform + ``bank-a``).

    Returns the process, the port it listens on and the PKI directory.
    """
    from proto.transport.pki import init_pki

    pki = workdir / "pki"
    init_pki(pki, ["bank-a"])
    port_file = workdir / "platform.port"
    cmd = [
        sys.executable,
        str(script),
        "--serve-platform",
        "--pki",
        str(pki),
        "--data-dir",
        str(workdir / "platform"),
        "--port-file",
        str(port_file),
        *extra_args,
    ]
    proc = subprocess.Popen(cmd, cwd=cwd)
    deadline = time.monotonic() + 120
    while not port_file.exists() or not port_file.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the platform process did not start")
        time.sleep(0.1)
    return proc, int(port_file.read_text()), pki
