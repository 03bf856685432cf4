"""The bank's half of a ``"psi-auto"`` session: plan, then balanced or unbalanced PSI.

Unbalanced PSI (protocol and leakage in ``docs/psi.md``), with ``k`` the platform's
long-lived OPRF key, ``r`` the bank's fresh scalar and ``F(x) = H(x)^k``:

1. ``plan``: sizes, requested mode and the cache version the bank holds; the platform
   answers the protocol, the current cache version and a fresh order nonce.
2. ``cache/k`` (only when the held cache is stale or missing): download the public cache in
   4 MiB chunks, check its SHA-256, store it under ``cache_dir`` (0600 files).
3. ``eval/k``: send ``H(x)^r`` per chunk of the bank's shuffled set, receive ``H(x)^{rk}``,
   unblind with ``r^-1``: ``F(x)``; look its truncated tag up in the cache.
4. ``finish/k``: send the matches' ``F(x)`` in the agreed order; check the platform's
   alignment digest.

Online work and bytes grow with the bank's set only: 3 group operations and 64 bytes per
bank id, plus the intersection's 32 bytes each.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models import compute
from models.errors import DataLoss, FailedPrecondition, InvalidArgument
from models.federation.peer import PassivePeer
from models.federation.session import SessionSpec
from models.psi.active import PsiActive, PsiResult, _byte_counters, psi_session_spec
from models.psi.alignment import alignment_digest
from models.psi.choose import (
    AUTO_ALGORITHM,
    BALANCED,
    MODES,
    UNBALANCED,
    UPSI_VERSION,
)
from models.psi.group import (
    POINT_BYTES,
    all_distinct,
    check_blob,
    random_scalar,
    scalar_invert,
)
from models.psi.ids import IdValidator, prepare_ids, random_permutation
from models.psi.protocol import DEFAULT_CHUNK, GROUP, MAX_CHUNK, MAX_SET, n_chunks, step_id
from models.psi.tagset import TagSet, tags64
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
from models.psi.unbalanced_passive import order_keys

BANK_CACHE_FORMAT = "fedcredit-upsi-bank-cache/1"


def psi_auto_session_spec(
    job_id: str,
    dataset: str,
    *,
    id_format: str | None = None,
    session_params: Mapping[str, str] | None = None,
) -> SessionSpec:
    """The session spec of a PSI job whose protocol the size-ratio rule chooses (params as
    for :func:`models.psi.active.psi_session_spec`)."""
    spec = psi_session_spec(job_id, dataset, id_format=id_format, session_params=session_params)
    return SessionSpec(job_id=job_id, algorithm=AUTO_ALGORITHM, dataset=dataset, params=spec.params)


@dataclass(frozen=True)
class HeldCache:
    """A platform cache as the bank stores it (``cache.bin`` + ``meta.json``)."""

    key_id: str
    population_version: str
    n: int
    bucket_bits: int
    count_bytes: int
    sha256: str


class BankPsiCache:
    """The bank's copy of the platform's cache, one directory per platform.

    Layout: ``<root>/current/{cache.bin, meta.json}`` (0700 directory, 0600 files, written to
    a temporary directory and renamed; only the newest version is kept). Nothing pickled.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def held(self) -> HeldCache | None:
        meta_path = self.root / "current" / "meta.json"
        if not meta_path.exists():
            return None
        try:
            raw = json.loads(meta_path.read_text())
            if raw.pop("format", "") != BANK_CACHE_FORMAT:
                return None
            return HeldCache(**raw)
        except (OSError, ValueError, TypeError):
            return None  # unreadable: treated as absent, the next run downloads again

    def load(self, held: HeldCache) -> TagSet:
        """Read and check the held cache.

        Raises
        ------
        DataLoss
            If the file does not match its digest or layout.
        """
        try:
            blob = (self.root / "current" / "cache.bin").read_bytes()
        except OSError:
            raise DataLoss("the bank's PSI cache cannot be read") from None
        if hashlib.sha256(blob).hexdigest() != held.sha256:
            raise DataLoss("the bank's PSI cache does not match its digest")
        return TagSet.decode(blob, held.n, held.bucket_bits, held.count_bytes)

    def store(self, held: HeldCache, blob: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        tmp = self.root / f".tmp-{secrets.token_hex(4)}"
        tmp.mkdir(mode=0o700)
        try:
            for name, data in (
                ("cache.bin", blob),
                ("meta.json", json.dumps({"format": BANK_CACHE_FORMAT, **held.__dict__}).encode()),
            ):
                fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            old = self.root / "current"
            if old.exists():
                trash = self.root / f".old-{secrets.token_hex(4)}"
                os.replace(old, trash)
                shutil.rmtree(trash, ignore_errors=True)
            os.replace(tmp, self.root / "current")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@dataclass(frozen=True)
class AutoPsiResult:
    """Outcome of a ``"psi-auto"`` run on the bank.

    Attributes
    ----------
    protocol:
        ``"balanced"`` or ``"unbalanced"``.
    result:
        The counts and aligned ids, as for balanced PSI (bytes include any cache download).
    cache_bytes_downloaded:
        Bytes of cache downloaded in this run (0 when the held cache was current).
    key_id, population_version:
        The cache version used (unbalanced only).
    bytes_online:
        Bytes on the wire of the run without the cache download.
    """

    protocol: str
    result: PsiResult
    cache_bytes_downloaded: int = 0
    key_id: str = ""
    population_version: str = ""
    bytes_online: int = 0


class _UpsiStub:
    def __init__(self, peer: PassivePeer, prefix: str) -> None:
        self.peer, self.prefix = peer, prefix
        self.payload_sent = 0
        self.payload_received = 0

    def call(self, phase: str, chunk: int | None, request: Any, response_type: type[Any]) -> Any:
        self.payload_sent += len(getattr(request, "points", b"")) + 16
        response = self.peer.call(step_id(self.prefix, phase, chunk), request, response_type)
        payload = getattr(response, "points", b"") or getattr(response, "data", b"")
        self.payload_received += len(payload) + 16
        return response


class PsiAutoActive:
    """Bank side of a ``"psi-auto"`` session.

    Parameters
    ----------
    peer:
        Connection to the platform with an open session of algorithm ``"psi-auto"``
        (:func:`psi_auto_session_spec`).
    cache_dir:
        Where the bank keeps its copy of this platform's cache (e.g.
        ``<bank data dir>/psi_cache/<platform party>``).
    mode:
        ``"auto"`` (default: the size-ratio rule), ``"balanced"`` or ``"unbalanced"``.
    id_validator, workers, chunk_size:
        As for :class:`~models.psi.active.PsiActive`.
    """

    def __init__(
        self,
        peer: PassivePeer,
        cache_dir: Path,
        *,
        mode: str = "auto",
        id_validator: IdValidator | None = None,
        workers: int | None = None,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        if mode not in MODES:
            raise InvalidArgument("unknown PSI mode (expected 'auto', 'balanced' or 'unbalanced')")
        if not 1 <= chunk_size <= MAX_CHUNK:
            raise InvalidArgument("chunk_size is out of range")
        self.peer = peer
        self.cache = BankPsiCache(cache_dir)
        self.mode = mode
        self.id_validator = id_validator
        self.workers = workers
        self.chunk_size = int(chunk_size)

    def run(self, ids: Sequence[str] | np.ndarray, job_prefix: str = "psi") -> AutoPsiResult:
        """Plan, then run the chosen protocol; the intersection in the agreed order."""
        t0 = time.perf_counter()
        counters0 = _byte_counters(self.peer)
        prepared = prepare_ids(ids, self.id_validator)
        n_a = prepared.n_unique
        if n_a > MAX_SET:
            raise InvalidArgument("the bank's set is larger than PSI supports")
        held = self.cache.held()
        stub = _UpsiStub(self.peer, job_prefix)
        plan: UpsiPlanResponse = stub.call(
            "plan",
            None,
            UpsiPlanRequest(
                version=UPSI_VERSION,
                group=GROUP,
                n_active=n_a,
                mode=self.mode,
                chunk_size=self.chunk_size,
                held_key_id=held.key_id if held else "",
                held_population_version=held.population_version if held else "",
            ),
            UpsiPlanResponse,
        )
        if plan.version != UPSI_VERSION or plan.protocol not in (BALANCED, UNBALANCED):
            raise FailedPrecondition("the platform runs another PSI version")
        if plan.protocol == BALANCED:
            result = PsiActive(
                self.peer,
                id_validator=self.id_validator,
                workers=self.workers,
                chunk_size=self.chunk_size,
            ).run(ids, job_prefix=job_prefix)
            return AutoPsiResult(
                BALANCED, result, bytes_online=result.bytes_sent + result.bytes_received
            )
        if not 0 <= plan.n_passive <= MAX_SET or plan.n_cache != plan.n_passive:
            raise InvalidArgument("the platform's set size is out of range")
        seconds: dict[str, float] = {"plan": time.perf_counter() - t0}

        t = time.perf_counter()
        downloaded = 0
        if plan.refresh or held is None:
            tagset, downloaded = self._download(stub, plan)
        else:
            tagset = self.cache.load(held)
        seconds["cache"] = time.perf_counter() - t
        counters_mid = _byte_counters(self.peer)

        t = time.perf_counter()
        own = prepared.ids[random_permutation(n_a)]
        values = self._evaluate(stub, plan.key_id, own)
        seconds["evaluate"] = time.perf_counter() - t

        t = time.perf_counter()
        hit = tagset.contains(tags64(values, plan.key_id))
        matched = np.nonzero(hit)[0]
        blob = np.frombuffer(values, dtype="S32")[matched].tobytes()
        order = np.argsort(order_keys(plan.order_nonce, blob), kind="stable")
        common = np.frombuffer(blob, dtype="S32")[order]
        aligned = own[matched][order]
        digest = alignment_digest(aligned)
        seconds["lookup"] = time.perf_counter() - t

        t = time.perf_counter()
        self._finish(stub, plan.key_id, common, digest)
        seconds["finish"] = time.perf_counter() - t

        counters1 = _byte_counters(self.peer)
        if counters0 is not None and counters1 is not None and counters_mid is not None:
            sent, received = counters1[0] - counters0[0], counters1[1] - counters0[1]
            online = (
                sent + received - (counters_mid[0] - counters0[0] + counters_mid[1] - counters0[1])
            )
        else:
            sent, received = stub.payload_sent, stub.payload_received
            online = sent + received - downloaded
        seconds["total"] = time.perf_counter() - t0
        seconds["online"] = seconds["total"] - seconds["cache"]
        result = PsiResult(
            aligned_ids=aligned,
            n_self=n_a,
            n_peer=int(plan.n_passive),
            n_intersection=int(common.shape[0]),
            n_duplicates=prepared.n_duplicates,
            n_invalid=prepared.n_invalid,
            bytes_sent=sent,
            bytes_received=received,
            alignment_digest=digest,
            seconds=seconds,
        )
        return AutoPsiResult(
            UNBALANCED, result, downloaded, plan.key_id, plan.population_version, online
        )

    # -- phases ------------------------------------------------------------------------------
    def _download(self, stub: _UpsiStub, plan: UpsiPlanResponse) -> tuple[TagSet, int]:
        """Fetch the cache in chunks; check size and digest; keep it on disk.

        Reveals to bank: the public cache. Reveals to platform: that the bank downloads it.
        """
        if not 0 <= plan.cache_bytes <= 64 * MAX_SET:
            raise InvalidArgument("the announced cache size is out of range")
        parts: list[bytes] = []
        for k in range(int(plan.n_cache_chunks)):
            got: UpsiCacheResponse = stub.call(
                "cache",
                k,
                UpsiCacheRequest(plan.key_id, plan.population_version, k),
                UpsiCacheResponse,
            )
            if got.chunk != k or got.n_chunks != plan.n_cache_chunks:
                raise FailedPrecondition("the platform answered another cache chunk")
            parts.append(bytes(got.data))
        blob = b"".join(parts)
        if len(blob) != plan.cache_bytes or hashlib.sha256(blob).hexdigest() != plan.cache_sha256:
            raise DataLoss("the downloaded PSI cache does not match its size or digest")
        held = HeldCache(
            plan.key_id,
            plan.population_version,
            int(plan.n_cache),
            int(plan.bucket_bits),
            int(plan.count_bytes),
            plan.cache_sha256,
        )
        tagset = TagSet.decode(blob, held.n, held.bucket_bits, held.count_bytes)
        self.cache.store(held, blob)
        return tagset, len(blob)

    def _evaluate(self, stub: _UpsiStub, key_id: str, own: np.ndarray) -> bytes:
        """OPRF on the bank's own ids: send ``H(x)^r``, receive ``H(x)^{rk}``, unblind.

        Reveals to platform: uniformly random points. Reveals to bank: ``F(x)`` of its ids.
        """
        cs = self.chunk_size
        n_a = int(own.shape[0])
        r = random_scalar()
        r_inv = scalar_invert(r)
        out: list[bytes] = []
        with compute.backend().group_engine(self.workers) as engine:
            for k in range(n_chunks(n_a, cs)):
                lo, hi = k * cs, min(n_a, (k + 1) * cs)
                x_r = engine.hash_mult(r, own[lo:hi].tolist())
                got: UpsiEvalResponse = stub.call(
                    "eval", k, UpsiEvalRequest(key_id, k, hi - lo, x_r), UpsiEvalResponse
                )
                if got.chunk != k or got.count != hi - lo or got.key_id != key_id:
                    raise FailedPrecondition("the platform answered another chunk or size")
                check_blob(got.points, hi - lo)
                out.append(engine.mult(r_inv, bytes(got.points)))
        values = b"".join(out)
        if not all_distinct(np.frombuffer(values, dtype=f"S{POINT_BYTES}")):
            raise FailedPrecondition("OPRF values of distinct ids repeat (malformed run)")
        return values

    def _finish(self, stub: _UpsiStub, key_id: str, common: np.ndarray, digest: str) -> None:
        """Send the matches' ``F(x)`` in the agreed order; check the alignment digest.

        Reveals to platform: the intersection. Reveals to bank: the digest of the
        platform's aligned ids.
        """
        cs = self.chunk_size
        n_int = int(common.shape[0])
        total = max(1, n_chunks(n_int, cs))
        blob = common.tobytes()
        last: UpsiFinishResponse | None = None
        for k in range(total):
            lo, hi = k * cs, min(n_int, (k + 1) * cs)
            last = stub.call(
                "finish",
                k,
                UpsiFinishRequest(
                    key_id, k, total, n_int, hi - lo, blob[lo * POINT_BYTES : hi * POINT_BYTES]
                ),
                UpsiFinishResponse,
            )
            if last.chunk != k or last.count != hi - lo:
                raise FailedPrecondition("the platform answered another chunk or size")
        assert last is not None
        if not last.done or last.alignment_digest != digest:
            raise FailedPrecondition("the platform's aligned order differs from the bank's")
