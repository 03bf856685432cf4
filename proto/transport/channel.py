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


#: Fragments of gRPC's connection errors that mean the TLS configuration is wrong, not that
#: the peer is briefly away: retrying cannot help.
_TLS_NAME = ("Hostname Verification Check failed", "Peer name", "not in peer certificate")
_TLS_TRUST = (
    "certificate signature failure",
    "CERTIFICATE_VERIFY_FAILED",
    "unable to get local issuer certificate",
    "self signed certificate",
    "certificate verify failed",
    "Tls handshake failed",
    "Handshake failed",
)


def tls_configuration_error(err: grpc.RpcError) -> FedCreditError | None:
    """The configuration error behind a connection failure, if it is a TLS mismatch."""
    from models.errors import InvalidArgument

    details = err.details() if hasattr(err, "details") else ""
    details = details or ""
    if any(f in details for f in _TLS_NAME):
        return InvalidArgument(
            "TLS configuration: the server's certificate does not carry the name this client "
            "expects (check platform_name in the config, or --server-name)"
        )
    if any(f in details for f in _TLS_TRUST):
        return InvalidArgument(
            "TLS configuration: the handshake failed: the server's certificate is not signed "
            "by this node's CA (pki_dir/ca.pem), or this node's certificate is not trusted by "
            "the server"
        )
    return None


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
                misconfigured = tls_configuration_error(err)
                if misconfigured is not None:
                    raise misconfigured from None
                if attempt == self.attempts or not self.retryable(code):
                    raise error_from_rpc(err) from None
                log.warning(
                    "transient failure, retrying",
                    extra={"call": what, "code": code.name, "attempt": attempt},
                )
            self.sleep(delay * (0.5 + random.random()))
            delay = min(self.max_s, delay * 2)
        raise FedCreditError("unreachable")  # pragma: no cover
