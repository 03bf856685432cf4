"""The platform's half of ECDH-PSI (see ``docs/psi.md`` and :mod:`models.psi.active`).

The platform answers in a fixed order of phases and enforces it: start, then (in any
interleaving) fetch/return for each chunk of its own set and blind for each chunk of the
bank's set, then finish. Every blind chunk is accepted once and their sizes must add up to
the announced ``n_active``, so the bank cannot use the platform as an oracle for more ids
than it declared. On the last finish chunk the aligned ids are stored under the job's state
dir (:mod:`models.psi.alignment`) with a summary of counts.

Restarts: the secret scalar lives only in memory. A platform restart in the middle of a run
loses it and the run must be repeated under a new job id (steps after the restart fail with
FailedPrecondition); a finished job keeps its alignment on disk.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import numpy as np

from models import compute
from models.compute.base import GroupOps
from models.errors import FailedPrecondition, InvalidArgument
from models.federation.party import PassiveContext, PassiveParty, handles, register_party
from models.psi.alignment import alignment_digest, has_alignment, save_alignment
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
    GROUP,
    MAX_CHUNK,
    MAX_SET,
    VERSION,
    chunk_bounds,
    n_chunks,
)

SUMMARY_JSON = "psi_summary.json"


def id_validator_for(id_format: str) -> IdValidator | None:
    """The platform's validator for the ``id_format`` session parameter.

    ``"uscc"``: GB 32100-2015 codes with correct check characters; ``"any"`` (default): any
    non-empty string (the generic rules of :mod:`models.psi.ids` still apply).
    """
    if id_format == "any":
        return None
    if id_format == "uscc":
        from models.uscc import is_valid_uscc

        check: Callable[[str], bool] = is_valid_uscc
        return check
    raise InvalidArgument("unknown id_format (expected 'uscc' or 'any')")


@register_party
class PsiPassive(PassiveParty):
    """Platform side of ECDH-PSI; its set is ``self.context.load_table().ids``.

    Session params: ``id_format`` = ``"uscc"`` or ``"any"`` (default: the table's
    ``meta["id_format"]``, else ``"any"``). ``context.extras["psi_workers"]`` sets the
    number of threads for the group operations (default ``min(2, cpu_count)``).
    """

    algorithm = ALGORITHM

    def __init__(self, context: PassiveContext) -> None:
        super().__init__(context)
        self._engine: GroupOps | None = None
        self._started = False
        self._scalar = b""
        self._ids = np.zeros(0, dtype=str)  # distinct valid ids, shuffled
        self._n_active = 0
        self._chunk = 0
        # chunks of H(y)^{ab} (aligned with self._ids) and of H(x)^{ab} (the bank's order),
        # kept per chunk so that memory grows with what was actually exchanged
        self._returned: dict[int, bytes] = {}
        self._blinded: dict[int, bytes] = {}
        self._order: np.ndarray | None = None  # own sorted intersection values
        self._order_ids: np.ndarray | None = None
        self._finished_chunks = 0
        self._counts: dict[str, int] = {}

    # -- steps -------------------------------------------------------------------------------
    @handles
    def start(self, request: PsiStartRequest) -> PsiStartResponse:
        """Prepare the platform's set and draw the secret scalar ``b``.

        Reveals to bank: ``n_passive``, the number of distinct valid platform ids.
        Reveals to platform: ``n_active``, the number of distinct valid bank ids.
        """
        if request.version != VERSION or request.group != GROUP:
            raise InvalidArgument("unsupported PSI protocol version or group")
        if not 0 <= request.n_active <= MAX_SET:
            raise InvalidArgument("n_active is out of range")
        if not 1 <= request.chunk_size <= MAX_CHUNK:
            raise InvalidArgument("chunk_size is out of range")
        if self._started:
            raise FailedPrecondition("this PSI run has already started")
        if has_alignment(self.context.state_dir):
            raise FailedPrecondition("this PSI job has finished; start a new job id")
        table = self.context.load_table()
        params = self.context.spec.params
        id_format = params.get("id_format") or table.meta.get("id_format", "any")
        prepared = prepare_ids(table.ids, id_validator_for(id_format))
        if prepared.n_unique > MAX_SET:
            raise InvalidArgument("the platform's set is larger than PSI supports")
        self._ids = prepared.ids[random_permutation(prepared.n_unique)]
        self._scalar = random_scalar()
        self._n_active = int(request.n_active)
        self._chunk = int(request.chunk_size)
        n_p = prepared.n_unique
        self._counts = {
            "n_input": prepared.n_input,
            "n_passive": n_p,
            "n_duplicates": prepared.n_duplicates,
            "n_invalid": prepared.n_invalid,
            "n_active": self._n_active,
        }
        self._started = True
        return PsiStartResponse(version=VERSION, n_passive=n_p, chunk_size=self._chunk)

    @handles
    def fetch(self, request: PsiFetchRequest) -> PsiFetchResponse:
        """Blind one chunk of the platform's shuffled set: ``H(y)^b``.

        Reveals to bank: pseudorandom group elements (DDH) in a random order; nothing about
        which ids they stand for.
        """
        self._require_started()
        lo, hi = chunk_bounds(request.chunk, self._n_passive, self._chunk)
        points = self.engine.hash_mult(self._scalar, self._ids[lo:hi].tolist())
        return PsiFetchResponse(chunk=request.chunk, count=hi - lo, points=points)

    @handles
    def give_back(self, request: PsiReturnRequest) -> PsiReturnResponse:
        """Store ``H(y)^{ab}`` of one of the platform's chunks, returned by the bank.

        Reveals to platform: the double-blinded values of its own ids (pseudorandom without
        ``a``). Reveals to bank: nothing.
        """
        self._require_started()
        lo, hi = chunk_bounds(request.chunk, self._n_passive, self._chunk)
        if request.count != hi - lo:
            raise InvalidArgument("returned chunk has the wrong number of points")
        check_blob(request.points, request.count)
        if request.chunk in self._returned:
            raise FailedPrecondition("this chunk was already returned")
        self._returned[request.chunk] = bytes(request.points)
        return PsiReturnResponse(chunk=request.chunk, count=request.count)

    @handles
    def blind(self, request: PsiBlindRequest) -> PsiBlindResponse:
        """Raise one chunk of the bank's blinded ids to ``b``: ``H(x)^a -> H(x)^{ab}``.

        Reveals to bank: ``H(x)^{ab}`` for its own ids, i.e. (with the returned
        ``H(y)^{ab}``) which of them are in the intersection. Reveals to platform: the same
        values; matched with its own ``H(y)^{ab}`` they show the intersection and nothing
        else. Each chunk is accepted once and chunk sizes are fixed by ``n_active``.
        """
        self._require_started()
        lo, hi = chunk_bounds(request.chunk, self._n_active, self._chunk)
        if request.count != hi - lo:
            raise InvalidArgument("blind chunk has the wrong number of points")
        check_blob(request.points, request.count)
        if request.chunk in self._blinded:
            raise FailedPrecondition("this chunk was already blinded")
        points = self.engine.mult(self._scalar, bytes(request.points))
        self._blinded[request.chunk] = points
        return PsiBlindResponse(chunk=request.chunk, count=request.count, points=points)

    @handles
    def finish(self, request: PsiFinishRequest) -> PsiFinishResponse:
        """Check one chunk of the bank's ordered intersection; store the alignment at the end.

        Reveals to platform: the intersection in the agreed order (equal to what it computes
        itself; a mismatch is refused). Reveals to bank: on the last chunk, the SHA-256
        digest of the aligned ids, a function of what the bank already knows.
        """
        self._require_started()
        if len(self._returned) != n_chunks(self._n_passive, self._chunk) or len(
            self._blinded
        ) != n_chunks(self._n_active, self._chunk):
            raise FailedPrecondition("finish before all chunks were exchanged")
        if self._order is None:
            self._compute_intersection()
        assert self._order is not None and self._order_ids is not None
        n_int = int(self._order.shape[0])
        expected_chunks = max(1, n_chunks(n_int, self._chunk))
        if request.n_intersection != n_int or request.n_chunks != expected_chunks:
            raise FailedPrecondition("the parties disagree on the size of the intersection")
        if request.chunk != self._finished_chunks:
            raise FailedPrecondition("finish chunks must arrive in order")
        lo = request.chunk * self._chunk
        hi = min(n_int, lo + self._chunk)
        if request.count != hi - lo:
            raise InvalidArgument("finish chunk has the wrong number of points")
        check_blob(request.points, request.count)
        if self._order[lo:hi].tobytes() != bytes(request.points):
            raise FailedPrecondition("the parties disagree on the intersection or its order")
        self._finished_chunks += 1
        done = self._finished_chunks == expected_chunks
        digest = ""
        if done:
            digest = alignment_digest(self._order_ids)
            save_alignment(self.context.state_dir, self._order_ids)
            self._write_summary(n_int, digest)
        return PsiFinishResponse(
            chunk=request.chunk, count=request.count, done=done, alignment_digest=digest
        )

    # -- helpers -----------------------------------------------------------------------------
    @property
    def engine(self) -> GroupOps:
        if self._engine is None:
            workers = self.context.extras.get("psi_workers")
            self._engine = compute.backend().group_engine(None if workers is None else int(workers))
        return self._engine

    @property
    def _n_passive(self) -> int:
        return int(self._ids.shape[0])

    def _require_started(self) -> None:
        if not self._started:
            raise FailedPrecondition(
                "no PSI run in progress in this session (not started, or the platform "
                "restarted); run the PSI again under a new job id"
            )

    def _compute_intersection(self) -> None:
        y_ab = b"".join(self._returned[k] for k in range(len(self._returned)))
        x_ab = b"".join(self._blinded[k] for k in range(len(self._blinded)))
        y = np.frombuffer(y_ab, dtype=f"S{POINT_BYTES}")
        x = np.frombuffer(x_ab, dtype=f"S{POINT_BYTES}")
        if not (all_distinct(y) and all_distinct(x)):
            raise FailedPrecondition("double-blinded values repeat (malformed run)")
        common, iy, _ = np.intersect1d(y, x, assume_unique=True, return_indices=True)
        self._order = common
        self._order_ids = self._ids[iy]

    def _write_summary(self, n_intersection: int, digest: str) -> None:
        summary = dict(self._counts, n_intersection=n_intersection, alignment_sha256=digest)
        path = self.context.state_dir / SUMMARY_JSON
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(summary, sort_keys=True))
        os.replace(tmp, path)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self._scalar = b""
