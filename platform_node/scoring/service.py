"""``PlatformScoringService``: the gRPC face of :class:`PlatformScorer` (banks only).

One unary call carries one typed scoring message (``ScoreEnvelope``: its full protobuf name and
bytes, decoded by the generic codec into the family's dataclass); the answer comes back the same
way. Hook it into the platform server with ``create_server(..., extra_services=[hook])``::

    log = open_node_audit_log(data_dir, party, "platform")
    registry = ConsentRegistry.in_data_dir(data_dir, log)
    hook = lambda server: install(server, data_dir=data_dir, data_provider=data,
                                  consent_registry=registry, audit_log=log, party=party)
    create_server(..., audit_log=log, extra_services=[hook])
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import grpc

from models.audit.log import AuditLog
from models.errors import InvalidArgument
from models.federation.messages import message_type
from models.federation.party import DataProvider
from platform_node.consent.registry import ConsentRegistry
from platform_node.refusals import for_bank
from platform_node.scoring.scorer import PlatformScorer
from platform_node.scoring.table_cache import TableCacheConfig
from proto.fedcredit.v1 import scoring_pb2, scoring_pb2_grpc
from proto.transport.auth import current_caller
from proto.transport.codec import PACKAGE, ProtobufCodec, full_name
from proto.transport.status import abort_with

SERVICE_NAME = "fedcredit.v1.PlatformScoringService"
_PREFIX = f"/{SERVICE_NAME}/"

#: Only banks may ask the platform for its part of a score.
POLICY: dict[str, tuple[str, ...]] = {_PREFIX + "Score": ("bank",)}


class PlatformScoringServicer(scoring_pb2_grpc.PlatformScoringServiceServicer):
    def __init__(self, scorer: PlatformScorer) -> None:
        self.scorer = scorer
        self.codec = ProtobufCodec()

    def Score(
        self, request: scoring_pb2.ScoreEnvelope, context: grpc.ServicerContext
    ) -> scoring_pb2.ScoreEnvelope:
        def run() -> scoring_pb2.ScoreEnvelope:
            prefix = PACKAGE + "."
            if not request.body_type.startswith(prefix):
                raise InvalidArgument("message type is not part of the protocol")
            try:
                cls = message_type(request.body_type[len(prefix) :])
            except KeyError:
                raise InvalidArgument("message type is not part of the protocol") from None
            response = self.scorer.score(current_caller(), self.codec.decode(request.body, cls))
            return scoring_pb2.ScoreEnvelope(
                body_type=full_name(response), body=self.codec.encode(response)
            )

        try:
            return run()
        except Exception as err:
            abort_with(context, for_bank(err, "scoring request"))


def install(
    server: grpc.Server,
    *,
    data_dir: Path,
    data_provider: DataProvider,
    consent_registry: ConsentRegistry,
    audit_log: AuditLog,
    party: str = "platform",
    feature_tables: TableCacheConfig | None = None,
) -> Mapping[str, tuple[str, ...]]:
    """Add the service to ``server``; returns its role policy (banks only)."""
    scorer = PlatformScorer(
        data_dir=Path(data_dir),
        data_provider=data_provider,
        consent_registry=consent_registry,
        audit_log=audit_log,
        party=party,
        feature_tables=feature_tables,
    )
    scoring_pb2_grpc.add_PlatformScoringServiceServicer_to_server(
        PlatformScoringServicer(scorer), server
    )
    return POLICY
