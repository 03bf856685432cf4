"""Typed view of the platform for the bank: one method per SecureBoost step.

Step ids are ``sb/<run>/t<tree>/d<depth>/<step>``: deterministic within a run, so a transport
retry of a step gets the platform's cached answer instead of running twice. ``run`` names one
incarnation of the bank's training loop (``r<k>`` for the k-th run of a checkpointed job), so a
run that resumes after a crash never collides with a half-finished step of the previous one
(fresh ciphertexts give a different request digest).
"""

from __future__ import annotations

from models.federation.peer import PassivePeer
from models.secureboost.hidden_messages import (
    SbLevelGradientsRequest,
    SbLevelGradientsResponse,
    SbLevelHistogramRequest,
    SbLevelHistogramResponse,
    SbLevelSplitRequest,
    SbLevelSplitResponse,
)
from models.secureboost.messages import (
    SbFinalizeRequest,
    SbFinalizeResponse,
    SbGradientsRequest,
    SbGradientsResponse,
    SbHistogramRequest,
    SbHistogramResponse,
    SbInitRequest,
    SbInitResponse,
    SbRouteRequest,
    SbRouteResponse,
    SbSecurePredictRequest,
    SbSecurePredictResponse,
    SbSplitRequest,
    SbSplitResponse,
    SbTreeDoneRequest,
    SbTreeDoneResponse,
)

ALGORITHM = "secureboost"


class SecureBoostStub:
    """Calls the platform's SecureBoost steps through a :class:`PassivePeer`."""

    def __init__(self, peer: PassivePeer, run: str) -> None:
        self.peer = peer
        self.run = run

    def _id(self, suffix: str) -> str:
        return f"sb/{self.run}/{suffix}"

    def init(self, request: SbInitRequest) -> SbInitResponse:
        return self.peer.call(self._id("init"), request, SbInitResponse)

    def gradients(self, request: SbGradientsRequest) -> SbGradientsResponse:
        step = self._id(f"t{request.tree}/grad{request.chunk}")
        return self.peer.call(step, request, SbGradientsResponse)

    def histograms(self, request: SbHistogramRequest) -> SbHistogramResponse:
        step = self._id(f"t{request.tree}/d{request.depth}/hist")
        return self.peer.call(step, request, SbHistogramResponse)

    def split(self, request: SbSplitRequest) -> SbSplitResponse:
        step = self._id(f"t{request.tree}/d{request.depth}/split")
        return self.peer.call(step, request, SbSplitResponse)

    def route(self, tree: int, request: SbRouteRequest) -> SbRouteResponse:
        return self.peer.call(self._id(f"t{tree}/route"), request, SbRouteResponse)

    def tree_done(self, request: SbTreeDoneRequest) -> SbTreeDoneResponse:
        return self.peer.call(self._id(f"t{request.tree}/done"), request, SbTreeDoneResponse)

    def level_gradients(self, request: SbLevelGradientsRequest) -> SbLevelGradientsResponse:
        step = self._id(f"t{request.tree}/d{request.depth}/lgrad{request.chunk}")
        return self.peer.call(step, request, SbLevelGradientsResponse)

    def level_histograms(self, request: SbLevelHistogramRequest) -> SbLevelHistogramResponse:
        step = self._id(f"t{request.tree}/d{request.depth}/lhist")
        return self.peer.call(step, request, SbLevelHistogramResponse)

    def level_split(self, request: SbLevelSplitRequest) -> SbLevelSplitResponse:
        step = self._id(f"t{request.tree}/d{request.depth}/lsplit")
        return self.peer.call(step, request, SbLevelSplitResponse)

    def finalize(self, request: SbFinalizeRequest) -> SbFinalizeResponse:
        return self.peer.call(self._id("finalize"), request, SbFinalizeResponse)

    def secure_predict(
        self, batch: int, request: SbSecurePredictRequest
    ) -> SbSecurePredictResponse:
        """EINI prediction of one batch (``batch`` < 0: the same batch resent with the key)."""
        step = f"spredict/{batch}" if batch >= 0 else f"spredict/{-batch}k"
        return self.peer.call(self._id(step), request, SbSecurePredictResponse)
