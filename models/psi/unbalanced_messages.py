"""Wire messages of unbalanced PSI (protobuf twins in ``proto/fedcredit/v1/psi_unbalanced.proto``).

Notation: ``H`` hashes an id to ristretto255 (as in balanced PSI), ``k`` is the platform's
long-lived OPRF key (identified by ``key_id``), ``r`` the bank's fresh per-run scalar.
``F(x) = H(x)^k`` is the OPRF output; the platform's cache holds the truncated tags of
``F(y)`` for its whole population (:mod:`models.psi.tagset`). Points travel as ``count``
concatenated 32-byte encodings in one ``bytes`` field. Protocol and leakage: ``docs/psi.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.federation.messages import WireMessage


@dataclass(frozen=True)
class UpsiPlanRequest(WireMessage):
    """Bank -> platform: the bank's set size, the protocol it asks for and the cache it holds.

    ``mode`` is ``"auto"`` (the size-ratio rule decides), ``"balanced"`` or ``"unbalanced"``.
    Reveals to platform: ``n_active`` (as balanced PSI's start does), the requested mode, and
    which cache version (key id, population version) the bank holds, i.e. whether it ran an
    unbalanced PSI before under the current key.
    """

    version: str
    group: str
    n_active: int
    mode: str
    chunk_size: int
    held_key_id: str
    held_population_version: str


@dataclass(frozen=True)
class UpsiPlanResponse(WireMessage):
    """Platform -> bank: the chosen protocol, the platform's set size and the current cache.

    For ``protocol == "balanced"`` the cache fields are empty and the run continues with the
    balanced steps in the same session. For ``"unbalanced"``: ``key_id`` and
    ``population_version`` name the current cache; ``refresh`` says the bank's held version is
    not current and it must download the cache (``n_cache_chunks`` chunks, ``cache_bytes`` in
    all, SHA-256 ``cache_sha256``); ``order_nonce`` is a fresh per-run value that keys the
    agreed row order. Reveals to bank: ``n_passive`` (as balanced PSI's start does), the key
    id and population version (when the platform rotated its key or changed its population),
    and a random nonce.
    """

    version: str
    protocol: str
    n_passive: int
    min_ratio: float
    key_id: str
    population_version: str
    refresh: bool
    cache_sha256: str
    cache_bytes: int
    cache_chunk_bytes: int
    n_cache_chunks: int
    n_cache: int
    bucket_bits: int
    count_bytes: int
    order_nonce: bytes


@dataclass(frozen=True)
class UpsiCacheRequest(WireMessage):
    """Bank -> platform: chunk ``chunk`` of the cache ``(key_id, population_version)``.

    Reveals to platform: that the bank is downloading this cache version.
    """

    key_id: str
    population_version: str
    chunk: int


@dataclass(frozen=True)
class UpsiCacheResponse(WireMessage):
    """Platform -> bank: one chunk of the cache blob (``models.psi.tagset`` layout).

    Reveals to bank: the truncated tags of ``F(y)`` for every platform id ``y``:
    pseudorandom without ``k``, so nothing about any id the bank cannot evaluate; with an
    OPRF output ``F(x)`` the bank tests ``x``'s membership offline (``docs/psi.md``).
    """

    key_id: str
    population_version: str
    chunk: int
    n_chunks: int
    data: bytes


@dataclass(frozen=True)
class UpsiEvalRequest(WireMessage):
    """Bank -> platform: ``H(x)^r`` for chunk ``chunk`` of the bank's shuffled ids.

    Reveals to platform: uniformly random group elements (``r`` is fresh and uniform), so
    nothing about the ids; the chunk sizes must add up to the announced ``n_active``.
    """

    key_id: str
    chunk: int
    count: int
    points: bytes


@dataclass(frozen=True)
class UpsiEvalResponse(WireMessage):
    """Platform -> bank: ``H(x)^{rk}`` for the points of the request, same order.

    Reveals to bank: after unblinding, ``F(x)`` for its own ids, hence (with the cache)
    which of them the platform holds, and a value it can keep re-testing against any later
    cache of the same key.
    """

    key_id: str
    chunk: int
    count: int
    points: bytes


@dataclass(frozen=True)
class UpsiFinishRequest(WireMessage):
    """Bank -> platform: chunk ``chunk`` of the intersection's OPRF values ``F(x)``, in the
    agreed order (ascending ``SHA-256(order domain || order_nonce || F(x))``).

    Reveals to platform: the intersection (it maps each value to its own id), needed for
    the later training job's alignment; nothing about the bank's other ids.
    """

    key_id: str
    chunk: int
    n_chunks: int
    n_intersection: int
    count: int
    points: bytes


@dataclass(frozen=True)
class UpsiFinishResponse(WireMessage):
    """Platform -> bank: the chunk was checked; on the last one, the alignment is stored.

    Reveals to bank: ``alignment_digest`` (SHA-256 of the aligned ids, last chunk only), a
    function of what the bank already knows.
    """

    chunk: int
    count: int
    done: bool
    alignment_digest: str
