"""Typed client for the platform's LR steps (one method per passive step).

Step ids are deterministic (``lr/e{epoch}/b{batch}/...``), so a retried or replayed step hits
the platform's step cache instead of running twice.
"""

from __future__ import annotations

from models.federation.peer import PassivePeer
from models.logreg.messages import (
    LrFinalizeRequest,
    LrFinalizeResponse,
    LrInitRequest,
    LrInitResponse,
    LrPredictRequest,
    LrPredictResponse,
    LrScorecardRequest,
    LrScorecardResponse,
    LrTermsRequest,
    LrTermsResponse,
    LrUpdateRequest,
    LrUpdateResponse,
    LrValLossRequest,
    LrValLossResponse,
)


class LogRegStub:
    """The bank's view of :class:`models.logreg.passive.LogRegPassive`."""

    def __init__(self, peer: PassivePeer, prefix: str = "lr") -> None:
        self.peer = peer
        self.prefix = prefix

    def init(self, request: LrInitRequest) -> LrInitResponse:
        return self.peer.call(f"{self.prefix}/init", request, LrInitResponse)

    def terms(self, request: LrTermsRequest) -> LrTermsResponse:
        step = f"{self.prefix}/e{request.epoch}/b{request.batch}/terms"
        return self.peer.call(step, request, LrTermsResponse)

    def update(self, request: LrUpdateRequest) -> LrUpdateResponse:
        step = f"{self.prefix}/e{request.epoch}/b{request.batch}/update"
        return self.peer.call(step, request, LrUpdateResponse)

    def val_loss(self, request: LrValLossRequest) -> LrValLossResponse:
        step = f"{self.prefix}/e{request.epoch}/val_loss"
        return self.peer.call(step, request, LrValLossResponse)

    def finalize(self, request: LrFinalizeRequest) -> LrFinalizeResponse:
        return self.peer.call(f"{self.prefix}/finalize", request, LrFinalizeResponse)

    def predict(self, request: LrPredictRequest, chunk: int) -> LrPredictResponse:
        return self.peer.call(f"{self.prefix}/predict/{chunk}", request, LrPredictResponse)

    def scorecard(self, request: LrScorecardRequest) -> LrScorecardResponse:
        return self.peer.call(f"{self.prefix}/scorecard", request, LrScorecardResponse)
