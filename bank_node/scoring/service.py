"""The bank's ``ScoringService`` for its credit officers (not the bank node, not the regulator).

``bank_node/server.py`` imports this module and calls :func:`install`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import grpc

from bank_node.config import BankConfig
from bank_node.scoring.engine import BankScoringEngine
from bank_node.scoring.settings import ScoringSettings
from models.errors import InvalidArgument
from models.federation.party import Caller
from proto.fedcredit.v1 import scoring_pb2, scoring_pb2_grpc
from proto.transport.auth import current_caller
from proto.transport.status import guard, status_for

log = logging.getLogger("fedcredit.bank.scoring")

SERVICE_NAME = "fedcredit.v1.ScoringService"
_PREFIX = f"/{SERVICE_NAME}/"

#: Only officers may score (every request carries a person's identity; the engine also checks
#: the officer belongs to this bank); the bank node and the regulator may not.
POLICY: dict[str, tuple[str, ...]] = {
    _PREFIX + "Score": ("officer",),
    _PREFIX + "ScoreBatch": ("officer",),
}


class ScoringServicer(scoring_pb2_grpc.ScoringServiceServicer):
    def __init__(self, engine: BankScoringEngine) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, engine.settings.batch_workers), thread_name_prefix="score-batch"
        )

    def Score(
        self, request: scoring_pb2.ScoreRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.ScoreResponse:
        return guard(context, lambda: self.engine.score(current_caller(), request))

    def ScoreBatch(
        self, request: scoring_pb2.ScoreBatchRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.ScoreBatchResponse:
        return guard(context, lambda: self._batch(current_caller(), request))

    def _batch(
        self, caller: Caller, request: scoring_pb2.ScoreBatchRequest
    ) -> scoring_pb2.ScoreBatchResponse:
        if len(request.requests) > self.engine.settings.max_batch:
            raise InvalidArgument("too many requests in one batch")

        def one(index: int, item: scoring_pb2.ScoreRequest) -> scoring_pb2.ScoreBatchItem:
            try:
                return scoring_pb2.ScoreBatchItem(
                    index=index, result=self.engine.score(caller, item)
                )
            except Exception as err:  # each item fails on its own, with a safe message
                code, message = status_for(err)
                if code == grpc.StatusCode.INTERNAL:
                    log.error("internal error in a batch item", exc_info=err)
                return scoring_pb2.ScoreBatchItem(
                    index=index, error_code=code.name, error_message=message
                )

        items = list(self._pool.map(one, range(len(request.requests)), request.requests))
        return scoring_pb2.ScoreBatchResponse(items=items)


def install(
    server: grpc.Server, config: BankConfig, *, settings: ScoringSettings | None = None
) -> Mapping[str, tuple[str, ...]]:
    """Add the scoring service to the bank's server; returns its role policy."""
    from bank_node.governance import GovernanceWatcher

    engine = BankScoringEngine.from_config(config, settings)
    engine.keys.warm_in_background()
    GovernanceWatcher(config, engine.audit, engine.settings.governance_check_s).start()
    scoring_pb2_grpc.add_ScoringServiceServicer_to_server(ScoringServicer(engine), server)
    return POLICY
