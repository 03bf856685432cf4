"""An officer's client of the bank's ``ScoringService`` (mutual TLS with the officer's own
certificate). Used by ``fedcredit score`` and the benchmark."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from proto.fedcredit.v1 import scoring_pb2, scoring_pb2_grpc
from proto.transport.channel import RetryPolicy, open_channel
from proto.transport.tls import TlsFiles


def officer_tls(cert_dir: Path, ca: Path | None = None) -> TlsFiles:
    """TLS files of an officer's certificate directory (``PKI/alice``: cert.pem, key.pem);
    the CA bundle defaults to ``ca.pem`` next to it (``PKI/ca.pem``)."""
    cert_dir = Path(cert_dir)
    return TlsFiles(ca or cert_dir.parent / "ca.pem", cert_dir / "cert.pem", cert_dir / "key.pem")


def connect_target(listen: str) -> str:
    """Where a client on this machine reaches a server bound to ``listen``."""
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return f"{host}:{port}"


class ScoringClient:
    """Calls the bank's scoring service.

    Parameters
    ----------
    target:
        ``host:port`` of the bank.
    tls:
        The caller's CA bundle, certificate and key.
    server_name:
        The name the bank's certificate carries (its party name).
    timeout_s:
        Deadline of each call (a batch call gets ``timeout_s`` per item, at least).
    """

    def __init__(
        self,
        target: str,
        tls: TlsFiles,
        *,
        server_name: str,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._channel = open_channel(target, tls, server_name=server_name)
        self._stub = scoring_pb2_grpc.ScoringServiceStub(self._channel)
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy(attempts=3, initial_s=0.2, max_s=2.0)

    @staticmethod
    def request(
        uscc: str,
        *,
        application_id: str = "",
        model: str = "",
        fields: Mapping[str, float] | None = None,
        as_of: str = "",
    ) -> scoring_pb2.ScoreRequest:
        return scoring_pb2.ScoreRequest(
            uscc=uscc,
            application_id=application_id,
            model=model,
            bank_fields=dict(fields or {}),
            as_of=as_of,
        )

    def score(self, request: scoring_pb2.ScoreRequest) -> scoring_pb2.ScoreResponse:
        """One score; raises the domain error of a failure (INVALID_ARGUMENT, ...)."""

        def call() -> scoring_pb2.ScoreResponse:
            reply: scoring_pb2.ScoreResponse = self._stub.Score(request, timeout=self.timeout_s)
            return reply

        return self.retry.run("Score", call)

    def score_raw(self, request: scoring_pb2.ScoreRequest) -> scoring_pb2.ScoreResponse:
        """One score without client retries (grpc.RpcError on failure; for benchmarks)."""
        reply: scoring_pb2.ScoreResponse = self._stub.Score(request, timeout=self.timeout_s)
        return reply

    def score_batch(
        self, requests: Sequence[scoring_pb2.ScoreRequest]
    ) -> scoring_pb2.ScoreBatchResponse:
        batch = scoring_pb2.ScoreBatchRequest(requests=list(requests))
        timeout = max(self.timeout_s, self.timeout_s * len(requests) / 4)

        def call() -> scoring_pb2.ScoreBatchResponse:
            reply: scoring_pb2.ScoreBatchResponse = self._stub.ScoreBatch(batch, timeout=timeout)
            return reply

        return self.retry.run("ScoreBatch", call)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> ScoringClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
