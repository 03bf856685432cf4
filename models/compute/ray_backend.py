"""The ``ray`` backend: a party's hot loops on its own Ray cluster.

``RayBackend(address)`` connects to the party's cluster (``ray start --head`` on the node's
machine, ``ray start --address`` on each worker machine) and starts one
:class:`~models.compute.ray_worker.ComputeWorker` actor per worker (default: one per CPU of
the cluster), spread over the nodes. Every operation splits its batch into one block per
actor and combines the answers:

* histograms: the ciphertext vector is cut into contiguous row blocks, each put once into
  the object store as fixed-width bytes (cached by the vector's token, so the levels of a
  tree reuse it); a call sends each actor only the node's rows inside its block and their
  bins; the per-block bin products are multiplied together (ciphertext addition);
* encryption: actors return DJN obfuscators, this process multiplies them with
  ``1 + m n`` (one multiplication per value), so plaintexts never leave the caller;
* decryption: actors decrypt blocks of ciphertexts (CRT) and return plaintext bytes;
* PSI: actors multiply blocks of points, or hash then multiply blocks of ids. A large batch
  (the platform's offline blinding of its whole population for unbalanced PSI) is cut into
  blocks of at most ``GROUP_BLOCK`` ids, at most two in flight per actor, each handed to the
  actor that finished the last one; points and ids travel as one bytes object per block.

Keys: the key holder's key is put into the object store once per key (JSON bytes, its own
cluster only) and cached by each actor until :meth:`RayBackend.release_key` (the end of the
training job). A per-job PSI scalar (32 bytes) comes with each call; the platform's
long-lived OPRF key is put into the object store once per key id
(:meth:`RayGroupEngine.hold_key`), cached by each actor, and replaced (its object and every
actor's copy dropped) when a newer key id is held.
Fault tolerance: actors are created with ``max_restarts`` and ``max_task_retries``, so a
worker process that dies is restarted by Ray and the call it was running is retried; the
restarted actor reloads its block or key from the object store. Every block's answer is a
deterministic function of its inputs (histograms, decryption, PSI) or fresh randomness
(obfuscators), so a retry cannot change a result.

Ray is imported only when this backend is created (``pip install 'fedcredit[ray]'``).
"""

from __future__ import annotations

import hmac
import itertools
import logging
import socket
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from gmpy2 import mpz

from models.compute.ray_worker import ComputeWorker, encode_ids, encode_keypair
from models.crypto.histogram import check_histogram_inputs
from models.crypto.paillier import EncryptedVector, PaillierKeypair
from models.crypto.parallel import bytes_to_mpz, ints_to_bytes
from models.errors import (
    FailedPrecondition,
    FedCreditError,
    InternalError,
    InvalidArgument,
    OverflowDetected,
)
from models.psi.group import POINT_BYTES, _scalar

#: Restarts of one actor and retries of one call before a job fails.
MAX_RESTARTS = 4
MAX_TASK_RETRIES = 4
#: Below this many values an operation runs in one block (not worth the round trips).
MIN_BLOCK = 64
#: Ciphertext vectors and keys kept in the object store.
CACHE_VECTORS = 4
CACHE_KEYS = 4
#: Long-lived OPRF keys kept in the object store: only the current one (holding a new key
#: id drops the old key's object, once no engine still refers to it, and every actor's copy).
CACHE_SCALARS = 1
#: Largest PSI block (ids or points) one actor call handles.
GROUP_BLOCK = 1 << 16
#: PSI blocks queued per actor at a time (one running, one waiting).
GROUP_WINDOW = 2
#: A PSI call is cut into at least this many blocks per actor (each of at least
#: ``GROUP_MIN_BLOCK`` values), handed out as actors finish: an actor slowed by a busy core
#: then takes fewer blocks instead of holding up the whole call. The answer's order does not
#: depend on the cut.
GROUP_SPLIT = 4
GROUP_MIN_BLOCK = 2048


def import_ray() -> Any:
    """The ``ray`` module, or a clear error when the extra is not installed."""
    try:
        import ray
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installation
        raise FailedPrecondition(
            "compute = \"ray\" needs Ray: pip install 'fedcredit[ray]'"
        ) from exc
    return ray


def _check_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail fast (Ray itself retries for minutes) when a ``host:port`` head does not answer."""
    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return
    except (OSError, ValueError) as exc:
        raise FailedPrecondition(
            "cannot reach the Ray cluster named by ray_address (is it running?)"
        ) from exc


def _bounds(n: int, parts: int) -> list[int]:
    return [n * i // parts for i in range(parts + 1)]


def group_blocks(n: int, k: int) -> int:
    """Blocks a PSI call over ``n`` values is cut into for ``k`` actors: at most
    ``GROUP_BLOCK`` values each, and ``GROUP_SPLIT`` per actor where every block keeps at
    least ``GROUP_MIN_BLOCK`` values (never fewer than ``k``)."""
    return max(-(-n // GROUP_BLOCK), min(k * GROUP_SPLIT, max(k, n // GROUP_MIN_BLOCK)))


class RayBackend:
    """Hot loops on a Ray cluster.

    Parameters
    ----------
    address:
        The cluster (``"host:port"`` of its head, ``"auto"`` for the one this machine
        belongs to); ``""`` or ``None`` means ``"auto"``.
    workers:
        Actors to start (default: the cluster's CPU count).
    cpus_per_worker:
        CPUs Ray reserves for each actor.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        cpus_per_worker: float = 1.0,
    ) -> None:
        ray = import_ray()
        self._ray = ray
        if not ray.is_initialized():
            _check_reachable(address)
            try:
                ray.init(
                    address=address or "auto",
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError) as exc:
                raise FailedPrecondition(
                    "cannot reach the Ray cluster named by ray_address (is it running?)"
                ) from exc
        total = int(ray.cluster_resources().get("CPU", 1))
        self.n_workers = max(1, int(workers) if workers else max(1, int(total / cpus_per_worker)))
        remote = ray.remote(
            num_cpus=cpus_per_worker,
            max_restarts=MAX_RESTARTS,
            max_task_retries=MAX_TASK_RETRIES,
        )(ComputeWorker)
        self._actors = [
            remote.options(scheduling_strategy="SPREAD").remote() for _ in range(self.n_workers)
        ]
        ray.get([a.pid.remote() for a in self._actors])  # wait until every actor runs
        self._lock = threading.Lock()
        self._vectors: OrderedDict[str, tuple[list[int], list[Any]]] = OrderedDict()
        self._keys: OrderedDict[str, Any] = OrderedDict()
        self._scalars: OrderedDict[str, Any] = OrderedDict()

    # ------------------------------------------------------------------ plumbing
    def actor_pids(self) -> list[int]:
        """Process ids of the actors (tests kill one to check recovery)."""
        return [int(p) for p in self._ray.get([a.pid.remote() for a in self._actors])]

    def _get(self, refs: list[Any]) -> list[Any]:
        try:
            return list(self._ray.get(refs))
        except self._ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, FedCreditError):
                raise cause from None
            raise InternalError("a compute worker failed") from None
        except self._ray.exceptions.RayError:
            raise InternalError("the compute cluster lost a worker for good") from None

    def _team(self, n: int, workers: int | None) -> int:
        k = self.n_workers if workers is None else max(1, min(int(workers), self.n_workers))
        return max(1, min(k, n // MIN_BLOCK if n >= MIN_BLOCK else 1))

    def _key_ref(self, keypair: PaillierKeypair) -> tuple[str, Any]:
        key_id = f"{keypair.public_key.fingerprint}:{keypair.exponent_bits}"
        with self._lock:
            ref = self._keys.get(key_id)
            if ref is None:
                ref = self._keys[key_id] = self._ray.put(encode_keypair(keypair))
                while len(self._keys) > CACHE_KEYS:
                    self._keys.popitem(last=False)
            self._keys.move_to_end(key_id)
        return key_id, ref

    def _vector_refs(self, enc: EncryptedVector) -> tuple[str, list[int], list[Any]]:
        token = enc.token()
        with self._lock:
            got = self._vectors.get(token)
            if got is None:
                width = enc.public_key.width
                bounds = _bounds(len(enc), self.n_workers)
                refs = [
                    self._ray.put(ints_to_bytes(enc.values[lo:hi], width))
                    for lo, hi in itertools.pairwise(bounds)
                ]
                got = self._vectors[token] = (bounds, refs)
                while len(self._vectors) > CACHE_VECTORS:
                    old, _ = self._vectors.popitem(last=False)
                    for a in self._actors:
                        a.forget.remote(old)
            self._vectors.move_to_end(token)
        return token, got[0], got[1]

    def _scalar_ref(self, key_id: str, scalar: bytes) -> Any:
        """The object holding the OPRF key ``key_id`` (put once; older keys dropped)."""
        with self._lock:
            ref = self._scalars.get(key_id)
            if ref is None:
                ref = self._scalars[key_id] = self._ray.put(scalar)
                while len(self._scalars) > CACHE_SCALARS:
                    old, _ = self._scalars.popitem(last=False)
                    for a in self._actors:
                        a.forget.remote(old)
            self._scalars.move_to_end(key_id)
        return ref

    def release_key(self, keypair: PaillierKeypair) -> None:
        """Drop the key's object and every actor's copy (call when the job ends)."""
        key_id = f"{keypair.public_key.fingerprint}:{keypair.exponent_bits}"
        with self._lock:
            if self._keys.pop(key_id, None) is None:
                return
            done = [a.forget.remote(key_id) for a in self._actors]
        self._get(done)

    # ------------------------------------------------------------------ encryption
    def encrypt(
        self,
        keypair: PaillierKeypair,
        plaintexts: Sequence[int] | np.ndarray,
        *,
        workers: int | None = None,
    ) -> EncryptedVector:
        pk = keypair.public_key
        ms = pk.encode(plaintexts)
        k = self._team(len(ms), workers)
        if k <= 1 and len(ms) < MIN_BLOCK:
            return keypair.encrypt(ms, workers=1)
        key_id, ref = self._key_ref(keypair)
        bounds = _bounds(len(ms), k)
        parts = self._get(
            [
                self._actors[i].obfuscators.remote(key_id, [ref], bounds[i + 1] - bounds[i])
                for i in range(k)
            ]
        )
        rn = [r for blob in parts for r in bytes_to_mpz(blob, pk.width)]
        n, n2 = pk.n, pk.n2
        return EncryptedVector(pk, [(1 + m * n) * r % n2 for m, r in zip(ms, rn, strict=True)])

    def decrypt(
        self, keypair: PaillierKeypair, enc: EncryptedVector, *, workers: int | None = None
    ) -> list[int]:
        pk = keypair.public_key
        pk._check_same(enc)
        k = self._team(len(enc), workers)
        if k <= 1 and len(enc) < MIN_BLOCK:
            return keypair.decrypt(enc, workers=1)
        key_id, ref = self._key_ref(keypair)
        bounds = _bounds(len(enc), k)
        w = pk.width
        parts = self._get(
            [
                self._actors[i].decrypt_unsigned.remote(
                    key_id, [ref], ints_to_bytes(enc.values[bounds[i] : bounds[i + 1]], w)
                )
                for i in range(k)
            ]
        )
        n = int(pk.n)
        half, max_int = n // 2, pk.max_int
        out = [int(m) - n if m > half else int(m) for b in parts for m in bytes_to_mpz(b, w)]
        for m in out:
            if m > max_int or m < -max_int:
                raise OverflowDetected("a decrypted value is outside the signed plaintext range")
        return out

    # ------------------------------------------------------------------ histograms
    def histograms(
        self,
        enc: EncryptedVector,
        bins: np.ndarray,
        rows: np.ndarray,
        n_bins: np.ndarray | Sequence[int] | int,
        *,
        skip_bins: np.ndarray | None = None,
        workers: int | None = None,
    ) -> list[EncryptedVector]:
        bins, rows, nb, skip = check_histogram_inputs(enc, bins, rows, n_bins, skip_bins)
        pk = enc.public_key
        n2, width = pk.n2, pk.width
        token, bounds, refs = self._vector_refs(enc)
        calls = []
        for b in range(len(refs)):
            lo, hi = bounds[b], bounds[b + 1]
            mine = rows[(rows >= lo) & (rows < hi)]
            if mine.size == 0:
                continue
            calls.append(
                self._actors[b].histograms.remote(
                    token, [refs[b]], int(n2), width, mine - lo, bins[mine], nb, skip
                )
            )
        one = mpz(1)
        total = [[one] * k for k in nb]
        for blob in self._get(calls):
            flat = bytes_to_mpz(blob, width)
            pos = 0
            for hist, k in zip(total, nb, strict=True):
                for j in range(k):
                    c = flat[pos + j]
                    if c != 1:
                        hist[j] = c if hist[j] == 1 else hist[j] * c % n2
                pos += k
        return [EncryptedVector(pk, h) for h in total]

    # ------------------------------------------------------------------ PSI
    def group_engine(self, workers: int | None = None) -> RayGroupEngine:
        return RayGroupEngine(self, workers)

    def close(self) -> None:
        """Stop the actors (the cluster itself keeps running)."""
        with self._lock:
            self._vectors.clear()
            self._keys.clear()
            self._scalars.clear()
            for a in self._actors:
                self._ray.kill(a, no_restart=True)
            self._actors = []


class RayGroupEngine:
    """PSI group operations split over a :class:`RayBackend`'s actors."""

    def __init__(self, backend: RayBackend, workers: int | None = None) -> None:
        self._backend = backend
        self._workers = workers
        self._held: tuple[str, bytes, Any] | None = None

    def __enter__(self) -> RayGroupEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Forget the held key's reference (the backend keeps the object for the next run)."""
        self._held = None

    def hold_key(self, key_id: str, scalar: bytes) -> None:
        """Use the one object-store copy of the OPRF key ``key_id`` for calls with ``scalar``."""
        _scalar(scalar)
        self._held = (key_id, scalar, self._backend._scalar_ref(key_id, scalar))

    def _key_args(self, scalar: bytes) -> tuple[bytes | None, str, list[Any] | None]:
        held = self._held
        if held is not None and hmac.compare_digest(held[1], scalar):
            return None, held[0], [held[2]]
        return scalar, "", None

    def _blocks(self, n: int, call: Any) -> bytes:
        """Run ``call(actor, lo, hi)`` over blocks of ``[0, n)``; the answers in order."""
        be = self._backend
        k = be._team(n, self._workers)
        n_blocks = group_blocks(n, k)
        bounds = _bounds(n, n_blocks)
        out: list[bytes] = [b""] * n_blocks
        if n_blocks == k:
            parts = be._get([call(be._actors[i], bounds[i], bounds[i + 1]) for i in range(k)])
            return b"".join(parts)
        pending: dict[Any, tuple[int, int]] = {}
        nxt = 0

        def submit(actor: int) -> None:
            nonlocal nxt
            ref = call(be._actors[actor], bounds[nxt], bounds[nxt + 1])
            pending[ref] = (nxt, actor)
            nxt += 1

        for j in range(min(n_blocks, k * GROUP_WINDOW)):
            submit(j % k)
        while pending:
            done, _ = be._ray.wait(list(pending), num_returns=1)
            for ref in done:
                block, actor = pending.pop(ref)
                out[block] = be._get([ref])[0]
                if nxt < n_blocks:
                    submit(actor)
        return b"".join(out)

    def mult(self, scalar: bytes, blob: bytes) -> bytes:
        _scalar(scalar)
        if len(blob) % POINT_BYTES:
            raise InvalidArgument("point blob length is not a multiple of 32")
        n = len(blob) // POINT_BYTES
        if n == 0:
            return b""
        view = bytes(blob)
        s, key_id, box = self._key_args(scalar)
        return self._blocks(
            n,
            lambda actor, lo, hi: actor.psi_mult.remote(
                s, view[lo * POINT_BYTES : hi * POINT_BYTES], key_id, box
            ),
        )

    def hash_mult(self, scalar: bytes, ids: Sequence[str]) -> bytes:
        _scalar(scalar)
        ids = ids if isinstance(ids, list) else list(ids)
        n = len(ids)
        if n == 0:
            return b""
        s, key_id, box = self._key_args(scalar)
        return self._blocks(
            n,
            lambda actor, lo, hi: actor.psi_hash_mult.remote(
                s, encode_ids(ids[lo:hi]), hi - lo, key_id, box
            ),
        )
