"""The platform's ``MonitoringService`` seen from the bank: per-feature stability indices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEADLINE_S = 300.0


@dataclass(frozen=True)
class FeatureIndex:
    feature: str
    group: str
    index: float


@dataclass(frozen=True)
class FeatureStability:
    features: list[FeatureIndex]
    n_requested: int
    n_population: int
    reference_as_of: str
    current_as_of: str
    query_id: str


class MonitoringClient:
    """A channel to the platform (mutual TLS; ``tls=None``: plaintext tests only)."""

    def __init__(self, target: str, tls: Any, *, server_name: str = "platform") -> None:
        from proto.fedcredit.v1 import monitoring_pb2_grpc
        from proto.transport.channel import open_channel

        self.channel = open_channel(target, tls, server_name=server_name)
        self.stub = monitoring_pb2_grpc.MonitoringServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> MonitoringClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def feature_stability(
        self,
        usccs: list[str],
        reference_as_of: str,
        current_as_of: str,
        *,
        dataset: str = "catalogue",
        categories: str = "",
        n_bins: int = 0,
    ) -> FeatureStability:
        """The platform's index per feature over the monitored population (see
        :mod:`platform_node.monitoring.service` for what it reveals)."""
        import grpc

        from proto.fedcredit.v1 import monitoring_pb2
        from proto.transport.status import raise_from_rpc

        request = monitoring_pb2.FeatureStabilityRequest(
            dataset=dataset,
            categories=categories,
            reference_as_of=reference_as_of,
            current_as_of=current_as_of,
            usccs=list(usccs),
            n_bins=n_bins,
        )
        try:
            reply = self.stub.FeatureStability(request, timeout=DEADLINE_S)
        except grpc.RpcError as err:
            raise_from_rpc(err)
        return FeatureStability(
            features=[FeatureIndex(f.feature, f.group, f.index) for f in reply.features],
            n_requested=reply.n_requested,
            n_population=reply.n_population,
            reference_as_of=reply.reference_as_of,
            current_as_of=reply.current_as_of,
            query_id=reply.query_id,
        )
