"""The bank's half of ECDH-PSI over ristretto255 (the protocol is in ``docs/psi.md``).

With ``H`` a hash to the group, ``a`` the bank's and ``b`` the platform's fresh secret
scalars, ``X`` the bank's and ``Y`` the platform's sets:

1. start: both sides exchange their set sizes.
2. fetch/return, per chunk: the platform sends ``H(y)^b`` (shuffled); the bank raises them
   to ``a`` and returns ``H(y)^{ab}`` in the same order.
3. blind, per chunk: the bank sends ``H(x)^a`` (shuffled); the platform answers ``H(x)^{ab}``
   in the same order.
4. Both now hold ``{H(y)^{ab}}`` and ``{H(x)^{ab}}`` and know which of their own ids each
   value stands for. The agreed order of the intersection is ascending double-blinded value
   (pseudorandom, reproducible by both). finish: the bank sends that sorted list in chunks,
   the platform checks it equals its own, stores its aligned ids and answers the digest of
   them, which the bank checks against its own.

The session (algorithm ``"psi"``) is opened by the caller before :meth:`PsiActive.run`; see
:func:`psi_session_spec`. A failed run is repeated under a new job id.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models import compute
from models.compute.base import GroupOps
from models.errors import CryptoError, FailedPrecondition, InvalidArgument
from models.federation.peer import PassivePeer
from models.federation.session import SessionSpec
from models.psi.alignment import alignment_digest
from models.psi.group import POINT_BYTES, all_distinct, check_blob, random_scalar
from models.psi.ids import IdValidator, prepare_ids, random_permutation
from models.psi.messages import (
    PsiBlindRequest,
    PsiBlindResponse,
    PsiFetchRequest,
    PsiFetchResponse,
    PsiFinishRequest,
    PsiFinishResponse,
    PsiReturnRequest,
    PsiReturnResponse,
    PsiStartRequest,
    PsiStartResponse,
)
from models.psi.protocol import (
    ALGORITHM,
    DEFAULT_CHUNK,
    GROUP,
    MAX_CHUNK,
    MAX_SET,
    VERSION,
    n_chunks,
    step_id,
)

_S = f"S{POINT_BYTES}"


def psi_session_spec(
    job_id: str,
    dataset: str,
    *,
    id_format: str | None = None,
    session_params: Mapping[str, str] | None = None,
) -> SessionSpec:
    """The session spec of a PSI job.

    ``id_format`` ("uscc" or "any") selects the platform's validator for its own ids; without
    it the platform uses its table's ``meta["id_format"]``, else "any". ``session_params`` go
    to the platform's data provider, e.g. ``{"as_of": "2024-06-30"}`` (the catalogue's
    point-in-time date) or ``{"categories": "tax,judicial"}``.
    """
    params = {str(k): str(v) for k, v in (session_params or {}).items()}
    if id_format is not None:
        params["id_format"] = id_format
    return SessionSpec(job_id=job_id, algorithm=ALGORITHM, dataset=dataset, params=params)


@dataclass(frozen=True)
class PsiResult:
    """Outcome of a PSI run on the bank (counts only, besides the bank's own aligned ids).

    Attributes
    ----------
    aligned_ids:
        The intersection as the bank's ids, in the order both parties agreed on.
    n_self, n_peer:
        Distinct valid ids of the bank and of the platform.
    n_intersection:
        Size of the intersection.
    n_duplicates, n_invalid:
        Entries of the bank's input dropped as repeats or as invalid.
    bytes_sent, bytes_received:
        Bytes on the wire (the peer's counters when it has them, else the point payload).
    alignment_digest:
        SHA-256 of ``aligned_ids`` (:func:`models.psi.alignment.alignment_digest`), equal
        to the platform's.
    seconds:
        Wall time per phase.
    """

    aligned_ids: np.ndarray
    n_self: int
    n_peer: int
    n_intersection: int
    n_duplicates: int
    n_invalid: int
    bytes_sent: int
    bytes_received: int
    alignment_digest: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


class PsiStub:
    """Typed view of the platform's PSI steps (one method per passive step)."""

    def __init__(self, peer: PassivePeer, prefix: str) -> None:
        self.peer = peer
        self.prefix = prefix
        self.payload_sent = 0
        self.payload_received = 0

    def start(self, request: PsiStartRequest) -> PsiStartResponse:
        return self._call(step_id(self.prefix, "start"), request, PsiStartResponse)

    def fetch(self, request: PsiFetchRequest) -> PsiFetchResponse:
        return self._call(step_id(self.prefix, "fetch", request.chunk), request, PsiFetchResponse)

    def give_back(self, request: PsiReturnRequest) -> PsiReturnResponse:
        sid = step_id(self.prefix, "return", request.chunk)
        return self._call(sid, request, PsiReturnResponse)

    def blind(self, request: PsiBlindRequest) -> PsiBlindResponse:
        return self._call(step_id(self.prefix, "blind", request.chunk), request, PsiBlindResponse)

    def finish(self, request: PsiFinishRequest) -> PsiFinishResponse:
        sid = step_id(self.prefix, "finish", request.chunk)
        return self._call(sid, request, PsiFinishResponse)

    def _call(self, sid: str, request: Any, response_type: type[Any]) -> Any:
        self.payload_sent += len(getattr(request, "points", b"")) + 16
        response = self.peer.call(sid, request, response_type)
        self.payload_received += len(getattr(response, "points", b"")) + 16
        return response


def _byte_counters(peer: object) -> tuple[int, int] | None:
    """The transport's byte counters, looking through wrappers such as RecordingPeer."""
    obj: object | None = peer
    for _ in range(4):
        if obj is None:
            break
        sent, received = getattr(obj, "bytes_sent", None), getattr(obj, "bytes_received", None)
        if isinstance(sent, int) and isinstance(received, int):
            return sent, received
        obj = getattr(obj, "inner", None)
    return None


class PsiActive:
    """Bank side of ECDH-PSI.

    Parameters
    ----------
    peer:
        Connection to the platform with an open session of algorithm ``"psi"``.
    id_validator:
        Extra rule for the bank's ids (e.g. :func:`models.uscc.is_valid_uscc`); rejected ids
        are dropped and counted.
    workers:
        Threads for the group operations (default ``min(2, cpu_count)``).
    chunk_size:
        Points per message.
    """

    def __init__(
        self,
        peer: PassivePeer,
        *,
        id_validator: IdValidator | None = None,
        workers: int | None = None,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        if not 1 <= chunk_size <= MAX_CHUNK:
            raise InvalidArgument("chunk_size is out of range")
        self.peer = peer
        self.id_validator = id_validator
        self.workers = workers
        self.chunk_size = int(chunk_size)

    def run(self, ids: Sequence[str] | np.ndarray, job_prefix: str = "psi") -> PsiResult:
        """Run the PSI with the bank's ``ids``; returns the intersection in the agreed order."""
        t0 = time.perf_counter()
        seconds: dict[str, float] = {}
        counters0 = _byte_counters(self.peer)
        prepared = prepare_ids(ids, self.id_validator)
        n_a = prepared.n_unique
        if n_a > MAX_SET:
            raise InvalidArgument("the bank's set is larger than PSI supports")
        stub = PsiStub(self.peer, job_prefix)
        cs = self.chunk_size
        scalar = random_scalar()
        own = prepared.ids[random_permutation(n_a)]
        seconds["prepare"] = time.perf_counter() - t0

        with compute.backend().group_engine(self.workers) as engine:
            t = time.perf_counter()
            started = stub.start(
                PsiStartRequest(version=VERSION, group=GROUP, n_active=n_a, chunk_size=cs)
            )
            if started.version != VERSION or started.chunk_size != cs:
                raise FailedPrecondition("the platform runs another PSI version or chunk size")
            n_p = int(started.n_passive)
            if not 0 <= n_p <= MAX_SET:
                raise InvalidArgument("the platform's set size is out of range")
            seconds["start"] = time.perf_counter() - t

            t = time.perf_counter()
            y_ab = self._platform_set(stub, engine, scalar, n_p)
            seconds["platform_set"] = time.perf_counter() - t

            t = time.perf_counter()
            x_ab = self._own_set(stub, engine, scalar, own)
            seconds["bank_set"] = time.perf_counter() - t

        t = time.perf_counter()
        common, ix, _ = np.intersect1d(x_ab, y_ab, assume_unique=True, return_indices=True)
        aligned = own[ix]
        digest = alignment_digest(aligned)
        seconds["intersect"] = time.perf_counter() - t

        t = time.perf_counter()
        self._finish(stub, common, digest)
        seconds["finish"] = time.perf_counter() - t

        counters1 = _byte_counters(self.peer)
        if counters0 is not None and counters1 is not None:
            sent, received = counters1[0] - counters0[0], counters1[1] - counters0[1]
        else:
            sent, received = stub.payload_sent, stub.payload_received
        seconds["total"] = time.perf_counter() - t0
        return PsiResult(
            aligned_ids=aligned,
            n_self=n_a,
            n_peer=n_p,
            n_intersection=int(common.shape[0]),
            n_duplicates=prepared.n_duplicates,
            n_invalid=prepared.n_invalid,
            bytes_sent=sent,
            bytes_received=received,
            alignment_digest=digest,
            seconds=seconds,
        )

    # -- phases ------------------------------------------------------------------------------
    def _platform_set(self, stub: PsiStub, engine: GroupOps, scalar: bytes, n_p: int) -> np.ndarray:
        """Fetch ``H(y)^b`` chunk by chunk, return ``H(y)^{ab}``; the values as an S32 array.

        Reveals to bank: pseudorandom points, ``n_p`` of them. Reveals to platform:
        ``H(y)^{ab}`` of its own ids.
        """
        cs = self.chunk_size
        out: list[bytes] = []
        for k in range(n_chunks(n_p, cs)):
            expected = min(cs, n_p - k * cs)
            got = stub.fetch(PsiFetchRequest(chunk=k))
            if got.chunk != k or got.count != expected:
                raise FailedPrecondition("the platform answered another chunk or size")
            check_blob(got.points, expected)
            y_ab = engine.mult(scalar, got.points)
            out.append(y_ab)
            ack = stub.give_back(PsiReturnRequest(chunk=k, count=expected, points=y_ab))
            if ack.chunk != k or ack.count != expected:
                raise FailedPrecondition("the platform acknowledged another chunk or size")
        return _unique_values(b"".join(out), "platform")

    def _own_set(
        self, stub: PsiStub, engine: GroupOps, scalar: bytes, own: np.ndarray
    ) -> np.ndarray:
        """Send ``H(x)^a`` chunk by chunk, receive ``H(x)^{ab}``; the values as an S32 array.

        Reveals to platform: pseudorandom points, ``len(own)`` of them, and (matched against
        its ``H(y)^{ab}``) the intersection. Reveals to bank: the intersection.
        """
        cs = self.chunk_size
        n_a = int(own.shape[0])
        out: list[bytes] = []
        for k in range(n_chunks(n_a, cs)):
            lo, hi = k * cs, min(n_a, (k + 1) * cs)
            x_a = engine.hash_mult(scalar, own[lo:hi].tolist())
            got = stub.blind(PsiBlindRequest(chunk=k, count=hi - lo, points=x_a))
            if got.chunk != k or got.count != hi - lo:
                raise FailedPrecondition("the platform answered another chunk or size")
            check_blob(got.points, hi - lo)
            out.append(bytes(got.points))
        return _unique_values(b"".join(out), "bank")

    def _finish(self, stub: PsiStub, common: np.ndarray, digest: str) -> None:
        """Send the sorted intersection values; check the platform's alignment digest.

        Reveals to platform: the intersection in the agreed order (which it can compute).
        Reveals to bank: the digest of the platform's aligned ids.
        """
        cs = self.chunk_size
        n_int = int(common.shape[0])
        total = max(1, n_chunks(n_int, cs))
        blob = common.tobytes()
        last: PsiFinishResponse | None = None
        for k in range(total):
            lo, hi = k * cs, min(n_int, (k + 1) * cs)
            last = stub.finish(
                PsiFinishRequest(
                    chunk=k,
                    n_chunks=total,
                    n_intersection=n_int,
                    count=hi - lo,
                    points=blob[lo * POINT_BYTES : hi * POINT_BYTES],
                )
            )
            if last.chunk != k or last.count != hi - lo:
                raise FailedPrecondition("the platform answered another chunk or size")
        assert last is not None
        if not last.done or last.alignment_digest != digest:
            raise FailedPrecondition("the platform's aligned order differs from the bank's")


def _unique_values(blob: bytes, whose: str) -> np.ndarray:
    values = np.frombuffer(blob, dtype=_S)
    if not all_distinct(values):
        raise CryptoError(f"double-blinded values of the {whose} set repeat (malformed run)")
    return values
