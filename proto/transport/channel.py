"""Client channels with mutual TLS, deadlines and retries of transient failures."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import grpc

from models.errors import FedCreditError

from .status import TRANSIENT, error_from_rpc
from .tls import TEST_IDENTITY_HEADER, TlsFiles, channel_credentials, channel_options

log = logging.getLogger("fedcredit.transport")
T = TypeVar("T")


def open_channel(
    target: str,
    tls: TlsFiles | None,
    *,
    server_name: str = "",
) -> grpc.Channel:
    """A channel to ``target``. ``server_name`` pins the peer's certificate name (e.g.
    ``"platform"``): the TLS handshake fails unless the server's certificate is issued for it.
    ``tls=None`` opens a plaintext channel (tests only)."""
    options: list[tuple[str, int | str]] = list(channel_options())
    if tls is None:
        return grpc.insecure_channel(target, options=options)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(target, channel_credentials(tls), options=options)


def test_identity_metadata(party: str, role: str) -> tuple[tuple[str, str], ...]:
    """Metadata naming the caller for a server in plaintext test mode."""
    return ((TEST_IDENTITY_HEADER, f"{party}:{role}"),)


class RetryPolicy:
    """Exponential backoff with jitter for UNAVAILABLE / RESOURCE_EXHAUSTED (and deadline
    expiry, which the platform's step cache makes safe to retry)."""

    def __init__(
        self,
        attempts: int = 5,
        initial_s: float = 0.2,
        max_s: float = 5.0,
        retry_deadline: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.attempts = attempts
        self.initial_s = initial_s
        self.max_s = max_s
        self.retry_deadline = retry_deadline
        self.sleep = sleep

    def retryable(self, code: grpc.StatusCode) -> bool:
        return code in TRANSIENT or (
            self.retry_deadline and code == grpc.StatusCode.DEADLINE_EXCEEDED
        )

    def run(self, what: str, fn: Callable[[], T]) -> T:
        delay = self.initial_s
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except grpc.RpcError as err:
                code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
                if attempt == self.attempts or not self.retryable(code):
                    raise error_from_rpc(err) from None
                log.warning(
                    "transient failure, retrying",
                    extra={"call": what, "code": code.name, "attempt": attempt},
                )
            self.sleep(delay * (0.5 + random.random()))
            delay = min(self.max_s, delay * 2)
        raise FedCreditError("unreachable")  # pragma: no cover
