"""The platform's half of a ``"psi-auto"`` session: plan, then balanced or unbalanced PSI.

``plan`` applies the size-ratio rule (:mod:`models.psi.choose`). If it picks balanced, the
balanced steps (``PsiStartRequest`` ...) run in the same session through an inner
:class:`~models.psi.passive.PsiPassive`, unchanged. If it picks unbalanced:

1. ``cache/k`` (only when the bank's held version is stale): chunk ``k`` of the public cache.
2. ``eval/k``: ``H(x)^r -> H(x)^{rk}`` for one chunk of the bank's blinded set; the chunk
   sizes are fixed by the announced ``n_active`` and each chunk is answered once, so a run
   evaluates at most ``n_active`` ids.
3. ``finish/k``: the bank's intersection as OPRF values ``F(x)`` in the agreed order
   (ascending ``SHA-256(ORDER_DOMAIN || order_nonce || F(x))``); the platform maps each value
   to its id through its private index (a value not in its population is refused), checks the
   order and stores the alignment (as balanced PSI does) for the later training job.

The key scalar stays with the platform: in its process, or, with ``compute = "ray"``, also
in the platform's own Ray cluster (one object-store copy per key, cached by its workers),
which runs the offline blinding and the per-chunk evaluation (:mod:`models.compute`); eval
requests name the key id and one that
is not the current key is refused with FailedPrecondition ("stale ... download the current
cache"). The cache lives in ``context.extras["psi_cache_dir"]``, by default
``<platform data dir>/psi_cache``; ``psi_key_rotation_days`` sets the rotation period.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

import numpy as np

from models import compute
from models.compute.base import GroupOps
from models.errors import FailedPrecondition, InvalidArgument
from models.federation.party import PassiveContext, PassiveParty, handles, register_party
from models.psi.alignment import alignment_digest, has_alignment, save_alignment
from models.psi.choose import (
    AUTO_ALGORITHM,
    BALANCED,
    CACHE_CHUNK_BYTES,
    UNBALANCED,
    UPSI_VERSION,
    ChoicePolicy,
    choose_protocol,
    sizes_favour_unbalanced,
)
from models.psi.group import POINT_BYTES, check_blob
from models.psi.ids import prepare_ids
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
from models.psi.oprf_store import (
    DEFAULT_ROTATION_DAYS,
    CacheMeta,
    OprfKey,
    PlatformPsiCache,
    population_version,
)
from models.psi.passive import SUMMARY_JSON, PsiPassive, id_validator_for
from models.psi.protocol import GROUP, MAX_CHUNK, MAX_SET, chunk_bounds, n_chunks
from models.psi.unbalanced_messages import (
    UpsiCacheRequest,
    UpsiCacheResponse,
    UpsiEvalRequest,
    UpsiEvalResponse,
    UpsiFinishRequest,
    UpsiFinishResponse,
    UpsiPlanRequest,
    UpsiPlanResponse,
)

ORDER_DOMAIN = b"fedcredit/upsi/v1/order/sha256\x00"


def order_keys(nonce: bytes, values: bytes) -> np.ndarray:
    """``SHA-256(ORDER_DOMAIN || nonce || v)`` of each 32-byte value (an ``S32`` array)."""
    n = len(values) // POINT_BYTES
    out = bytearray(32 * n)
    prefix = ORDER_DOMAIN + nonce
    mv = memoryview(values)
    for i in range(n):
        out[32 * i : 32 * i + 32] = hashlib.sha256(
            prefix + mv[i * POINT_BYTES : (i + 1) * POINT_BYTES]
        ).digest()
    return np.frombuffer(bytes(out), dtype="S32")


def platform_cache(context: PassiveContext) -> PlatformPsiCache:
    """The node's cache store for a session (see the module docstring)."""
    root = context.extras.get("psi_cache_dir") or context.state_dir.parent.parent / "psi_cache"
    days = context.extras.get("psi_key_rotation_days", DEFAULT_ROTATION_DAYS)
    if not isinstance(days, int | float) or isinstance(days, bool):
        raise InvalidArgument("psi_key_rotation_days must be a number")
    return PlatformPsiCache(Path(str(root)), rotation_days=float(days))


@register_party
class PsiAutoPassive(PassiveParty):
    """Platform side of a ``"psi-auto"`` session (balanced or unbalanced PSI by size).

    Session params as for balanced PSI (``id_format``). ``context.extras``: the choice
    policy (:meth:`models.psi.choose.ChoicePolicy.from_extras`), ``psi_cache_dir``,
    ``psi_key_rotation_days``, ``psi_workers``.
    """

    algorithm = AUTO_ALGORITHM

    def __init__(self, context: PassiveContext) -> None:
        super().__init__(context)
        self._protocol = ""
        self._balanced: PsiPassive | None = None
        self._engine: GroupOps | None = None
        self._key: OprfKey | None = None
        self._meta: CacheMeta | None = None
        self._nonce = b""
        self._n_active = 0
        self._chunk = 0
        self._evaluated: set[int] = set()
        self._finished: list[np.ndarray] = []
        self._last_order = b""
        self._n_finish_chunks = 0
        self._evaluations = 0

    # -- plan --------------------------------------------------------------------------------
    @handles
    def plan(self, request: UpsiPlanRequest) -> UpsiPlanResponse:
        """Choose the protocol; for unbalanced, name the current cache and draw the nonce.

        Reveals to platform: ``n_active``, the requested mode and the bank's held cache
        version. Reveals to bank: ``n_passive``, the chosen protocol, the current key id and
        population version (hence when the key rotated or the population changed).
        """
        if request.version != UPSI_VERSION or request.group != GROUP:
            raise InvalidArgument("unsupported PSI protocol version or group")
        if not 0 <= request.n_active <= MAX_SET:
            raise InvalidArgument("n_active is out of range")
        if not 1 <= request.chunk_size <= MAX_CHUNK:
            raise InvalidArgument("chunk_size is out of range")
        if self._protocol:
            raise FailedPrecondition("this PSI run has already been planned")
        if has_alignment(self.context.state_dir):
            raise FailedPrecondition("this PSI job has finished; start a new job id")
        policy = ChoicePolicy.from_extras(self.context.extras)
        choose_protocol(request.mode, 0, 0, policy, cache_ready=False)  # validates the mode
        table = self.context.load_table()
        id_format = self.context.spec.params.get("id_format") or table.meta.get("id_format", "any")
        validator = id_validator_for(id_format)
        meta: CacheMeta | None = None
        key: OprfKey | None = None
        n_passive = -1
        if policy.allow_unbalanced and request.mode != BALANCED:
            store = platform_cache(self.context)
            key = store.current_key()
            population = population_version(table.ids, id_format)
            meta = store.find(key.key_id, population)
            if meta is None:
                prepared = prepare_ids(table.ids, validator)
                n_passive = prepared.n_unique
                wanted = request.mode == UNBALANCED or sizes_favour_unbalanced(
                    int(request.n_active), n_passive, policy
                )
                if wanted and n_passive <= policy.inline_build_max:
                    meta = store.build(key, population, prepared.ids, engine=self.engine)
            if meta is not None:
                n_passive = meta.n
        if n_passive < 0:
            n_passive = prepare_ids(table.ids, validator).n_unique
        protocol = choose_protocol(
            request.mode, int(request.n_active), n_passive, policy, cache_ready=meta is not None
        )
        if request.mode == UNBALANCED and protocol != UNBALANCED:
            raise FailedPrecondition(
                "the platform cannot run unbalanced PSI now (disabled, or its cache is not "
                "built yet); ask for 'auto' or 'balanced'"
            )
        evaluations = 0
        if protocol == UNBALANCED:
            assert key is not None
            try:  # counted before any state changes; auto falls back to balanced
                evaluations = platform_cache(self.context).charge_evaluations(
                    key.key_id,
                    self.context.caller.party,
                    int(request.n_active),
                    policy.eval_budget_per_key,
                )
            except FailedPrecondition:
                if request.mode == UNBALANCED:
                    raise
                protocol = BALANCED
        self._evaluations = evaluations
        self._protocol = protocol
        self._n_active = int(request.n_active)
        self._chunk = int(request.chunk_size)
        if protocol == BALANCED:
            return UpsiPlanResponse(
                UPSI_VERSION,
                BALANCED,
                n_passive,
                policy.min_ratio,
                "",
                "",
                False,
                "",
                0,
                0,
                0,
                0,
                0,
                0,
                b"",
            )
        assert meta is not None and key is not None
        self._key, self._meta = key, meta
        self._nonce = secrets.token_bytes(16)
        refresh = (request.held_key_id, request.held_population_version) != (
            meta.key_id,
            meta.population_version,
        )
        return UpsiPlanResponse(
            version=UPSI_VERSION,
            protocol=UNBALANCED,
            n_passive=n_passive,
            min_ratio=policy.min_ratio,
            key_id=meta.key_id,
            population_version=meta.population_version,
            refresh=refresh,
            cache_sha256=meta.sha256,
            cache_bytes=meta.cache_bytes,
            cache_chunk_bytes=CACHE_CHUNK_BYTES,
            n_cache_chunks=max(1, n_chunks(meta.cache_bytes, CACHE_CHUNK_BYTES)),
            n_cache=meta.n,
            bucket_bits=meta.bucket_bits,
            count_bytes=meta.count_bytes,
            order_nonce=self._nonce,
        )

    # -- unbalanced steps ----------------------------------------------------------------------
    @handles
    def cache(self, request: UpsiCacheRequest) -> UpsiCacheResponse:
        """One chunk of the public cache.

        Reveals to bank: truncated tags of ``F(y)`` for the platform's ids (pseudorandom
        without ``k``). Reveals to platform: that the bank downloads this version.
        """
        meta = self._require(UNBALANCED)
        assert self._meta is not None
        if (request.key_id, request.population_version) != (meta.key_id, meta.population_version):
            raise FailedPrecondition(
                "the requested PSI cache version is stale; download the current cache"
            )
        total = max(1, n_chunks(meta.cache_bytes, CACHE_CHUNK_BYTES))
        if not 0 <= request.chunk < total:
            raise InvalidArgument("chunk index is out of range")
        data = platform_cache(self.context).read_public(
            meta, request.chunk * CACHE_CHUNK_BYTES, CACHE_CHUNK_BYTES
        )
        return UpsiCacheResponse(meta.key_id, meta.population_version, request.chunk, total, data)

    @handles
    def evaluate(self, request: UpsiEvalRequest) -> UpsiEvalResponse:
        """``H(x)^r -> H(x)^{rk}`` for one chunk of the bank's blinded ids.

        Reveals to platform: uniformly random points (nothing about the ids). Reveals to
        bank: after unblinding, ``F(x)`` of its own ids. Each chunk is answered once and
        chunk sizes are fixed by ``n_active``.
        """
        self._require(UNBALANCED)
        key = self._current_key(request.key_id)
        lo, hi = chunk_bounds(request.chunk, self._n_active, self._chunk)
        if request.count != hi - lo:
            raise InvalidArgument("eval chunk has the wrong number of points")
        check_blob(request.points, request.count)
        if request.chunk in self._evaluated:
            raise FailedPrecondition("this chunk was already evaluated")
        engine = self.engine
        engine.hold_key(key.key_id, key.scalar)
        points = engine.mult(key.scalar, bytes(request.points))
        self._evaluated.add(request.chunk)
        return UpsiEvalResponse(key.key_id, request.chunk, request.count, points)

    @handles
    def finish(self, request: UpsiFinishRequest) -> UpsiFinishResponse:
        """Check one chunk of the bank's intersection; on the last, store the alignment.

        Reveals to platform: the intersection (each ``F(x)`` maps to one of its ids) in the
        agreed order, which the later training job needs. Reveals to bank: on the last
        chunk, the SHA-256 digest of the aligned ids (a function of what it knows).
        """
        meta = self._require(UNBALANCED)
        self._current_key(request.key_id)
        if len(self._evaluated) != n_chunks(self._n_active, self._chunk):
            raise FailedPrecondition("finish before every chunk was evaluated")
        n_int = int(request.n_intersection)
        if not 0 <= n_int <= min(self._n_active, meta.n):
            raise InvalidArgument("n_intersection is out of range")
        total = max(1, n_chunks(n_int, self._chunk))
        if request.n_chunks != total:
            raise InvalidArgument("n_chunks does not match n_intersection")
        if self._n_finish_chunks and n_int != self._n_finish_total:
            raise FailedPrecondition("n_intersection changed between finish chunks")
        if request.chunk != self._n_finish_chunks:
            raise FailedPrecondition("finish chunks must arrive in order")
        lo, hi = chunk_bounds(request.chunk, n_int, self._chunk) if n_int else (0, 0)
        if request.count != hi - lo:
            raise InvalidArgument("finish chunk has the wrong number of points")
        check_blob(request.points, request.count)
        values = bytes(request.points)
        keys = order_keys(self._nonce, values)
        flat = self._last_order + keys.tobytes()
        chain = np.frombuffer(flat, dtype="S32")
        if chain.shape[0] > 1 and not bool(np.all(chain[1:] > chain[:-1])):
            raise FailedPrecondition("finish values are not in the agreed order (or repeat)")
        ids = platform_cache(self.context).lookup(meta, values)
        self._last_order = chain[-1:].tobytes()
        self._finished.append(ids)
        self._n_finish_total = n_int
        self._n_finish_chunks += 1
        done = self._n_finish_chunks == total
        digest = ""
        if done:
            aligned = np.concatenate([np.zeros(0, dtype=str), *self._finished]).astype(str)
            digest = alignment_digest(aligned)
            save_alignment(self.context.state_dir, aligned)
            self._write_summary(int(aligned.shape[0]), digest)
        return UpsiFinishResponse(request.chunk, request.count, done, digest)

    # -- balanced steps, forwarded to an unchanged PsiPassive ---------------------------------
    @handles
    def start(self, request: PsiStartRequest) -> PsiStartResponse:
        """Balanced PSI's start (see :class:`PsiPassive`); only after a balanced plan."""
        return self._inner().start(request)

    @handles
    def fetch(self, request: PsiFetchRequest) -> PsiFetchResponse:
        """Balanced PSI's fetch (see :class:`PsiPassive`)."""
        return self._inner().fetch(request)

    @handles
    def give_back(self, request: PsiReturnRequest) -> PsiReturnResponse:
        """Balanced PSI's return (see :class:`PsiPassive`)."""
        return self._inner().give_back(request)

    @handles
    def blind(self, request: PsiBlindRequest) -> PsiBlindResponse:
        """Balanced PSI's blind (see :class:`PsiPassive`)."""
        return self._inner().blind(request)

    @handles
    def balanced_finish(self, request: PsiFinishRequest) -> PsiFinishResponse:
        """Balanced PSI's finish (see :class:`PsiPassive`)."""
        return self._inner().finish(request)

    # -- helpers -----------------------------------------------------------------------------
    _n_finish_total = 0

    @property
    def engine(self) -> GroupOps:
        """The session's group engine, on the process's compute backend."""
        if self._engine is None:
            workers = self.context.extras.get("psi_workers")
            self._engine = compute.backend().group_engine(
                None if workers is None else int(str(workers))
            )
        return self._engine

    def _inner(self) -> PsiPassive:
        self._require(BALANCED)
        if self._balanced is None:
            self._balanced = PsiPassive(self.context)
        return self._balanced

    def _require(self, protocol: str) -> CacheMeta:
        if not self._protocol:
            raise FailedPrecondition(
                "no PSI run planned in this session (or the platform restarted); "
                "run the PSI again under a new job id"
            )
        if self._protocol != protocol:
            raise FailedPrecondition(f"this PSI run was planned as {self._protocol}")
        return self._meta if self._meta is not None else _NO_META

    def _current_key(self, key_id: str) -> OprfKey:
        assert self._key is not None
        if key_id != self._key.key_id:
            raise FailedPrecondition(
                "the bank's PSI cache is stale (another key id); "
                "download the current cache and run again"
            )
        return platform_cache(self.context).key(key_id)

    def _write_summary(self, n_intersection: int, digest: str) -> None:
        assert self._meta is not None
        summary = {
            "protocol": UNBALANCED,
            "key_id": self._meta.key_id,
            "population_version": self._meta.population_version,
            "n_passive": self._meta.n,
            "n_active": self._n_active,
            "n_intersection": n_intersection,
            "alignment_sha256": digest,
            "evaluations_under_key": self._evaluations,
        }
        path = self.context.state_dir / SUMMARY_JSON
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(summary, sort_keys=True))
        os.replace(tmp, path)

    def close(self) -> None:
        if self._balanced is not None:
            self._balanced.close()
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self._key = None


_NO_META = CacheMeta("", "", "", 0, 1, 1, 0, "", 0.0, 0.0, 0.0)
