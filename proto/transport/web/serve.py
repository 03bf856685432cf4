"""Serve a console over HTTPS from inside its node (a thread running uvicorn).

The node's own TLS certificate and key serve the console (the browser must trust the node's
CA, as the gRPC clients do; in production a certificate from the bank's or the city's public
CA for the console's host name can be configured instead). ``port = 0`` binds a free port
(tests); :attr:`ConsoleServer.url` says where it listens.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from models.errors import Unavailable

log = logging.getLogger("fedcredit.console")


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class ConsoleServer:
    """One console (a FastAPI app) on ``listen`` with TLS, in a daemon thread."""

    def __init__(
        self,
        app: Any,
        listen: str,
        *,
        certfile: Path | None,
        keyfile: Path | None,
        name: str = "console",
    ) -> None:
        host, port = split_listen(listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.tls = certfile is not None
        config = uvicorn.Config(
            app,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            log_level="warning",
            access_log=False,
            server_header=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::1", "::") else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self, timeout_s: float = 20.0) -> ConsoleServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise Unavailable("the console did not start")
            time.sleep(0.02)
        log.info("console listening", extra={"url": self.url})
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10.0)
        self._sock.close()
