"""Wire messages of the ECDH-PSI protocol (protobuf twins in ``proto/fedcredit/v1/psi.proto``).

Notation: ``H`` hashes an id to ristretto255, ``a`` is the bank's secret scalar and ``b`` the
platform's, both fresh for every run. Points travel as ``points``: ``count`` concatenated
32-byte encodings in one ``bytes`` field, at most one chunk (default 50,000 points) per
message. Sets are de-duplicated and validated by their owner before the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.federation.messages import WireMessage


@dataclass(frozen=True)
class PsiStartRequest(WireMessage):
    """Bank -> platform: start a run.

    Reveals to platform: the number of distinct valid ids of the bank (``n_active``) and the
    chunk size. Reveals to bank: nothing (see the response).
    """

    version: str
    group: str
    n_active: int
    chunk_size: int


@dataclass(frozen=True)
class PsiStartResponse(WireMessage):
    """Platform -> bank: the platform has prepared its set and drawn its secret ``b``.

    Reveals to bank: the number of distinct valid ids of the platform (``n_passive``); not
    how many duplicates or invalid ids the platform dropped.
    """

    version: str
    n_passive: int
    chunk_size: int


@dataclass(frozen=True)
class PsiFetchRequest(WireMessage):
    """Bank -> platform: ask for chunk ``chunk`` of the platform's blinded set.

    Reveals to platform: nothing beyond the chunk index.
    """

    chunk: int


@dataclass(frozen=True)
class PsiFetchResponse(WireMessage):
    """Platform -> bank: ``H(y)^b`` for chunk ``chunk`` of the platform's ids ``y``, taken in a
    fresh secret random order.

    Reveals to bank: group elements that are pseudorandom under DDH without ``b``; their
    order is independent of the platform's table order. Nothing about any id.
    """

    chunk: int
    count: int
    points: bytes


@dataclass(frozen=True)
class PsiReturnRequest(WireMessage):
    """Bank -> platform: ``H(y)^{ab}`` for the points of fetched chunk ``chunk``, same order.

    Reveals to platform: the double-blinded value of each of its own ids, pseudorandom
    without ``a``; on their own they say nothing about the bank's set.
    """

    chunk: int
    count: int
    points: bytes


@dataclass(frozen=True)
class PsiReturnResponse(WireMessage):
    """Platform -> bank: acknowledgement. Reveals to bank: nothing."""

    chunk: int
    count: int


@dataclass(frozen=True)
class PsiBlindRequest(WireMessage):
    """Bank -> platform: ``H(x)^a`` for chunk ``chunk`` of the bank's ids ``x`` in a fresh
    secret random order.

    Reveals to platform: pseudorandom group elements (DDH, without ``a``); the chunk sizes
    must add up to the announced ``n_active``, so the bank cannot query more points than
    its set size.
    """

    chunk: int
    count: int
    points: bytes


@dataclass(frozen=True)
class PsiBlindResponse(WireMessage):
    """Platform -> bank: ``H(x)^{ab}`` for the points of the request, in the same order.

    Reveals to bank: the double-blinded value of each of its own ids; matched against the
    returned ``H(y)^{ab}`` this is exactly which of its ids are in the intersection.
    Reveals to platform (which computes them): the same values, which it can match against
    its own ``H(y)^{ab}``: the size and the members of the intersection, and nothing about
    the bank's ids outside it (``H(x)^{ab}`` for those are pseudorandom to it).
    """

    chunk: int
    count: int
    points: bytes


@dataclass(frozen=True)
class PsiFinishRequest(WireMessage):
    """Bank -> platform: chunk ``chunk`` of ``n_chunks`` of the intersection's double-blinded
    values, sorted ascending; that order is the agreed row order of both parties.

    Reveals to platform: the intersection size and, in the agreed order, its members, which
    it could already compute; the platform checks the list against its own computation.
    """

    chunk: int
    n_chunks: int
    n_intersection: int
    count: int
    points: bytes


@dataclass(frozen=True)
class PsiFinishResponse(WireMessage):
    """Platform -> bank: the chunk was checked; on the last one, the alignment is stored.

    Reveals to bank: ``alignment_digest`` (SHA-256 of the aligned ids, last chunk only), a
    function of the intersection and the order, both of which the bank already knows; it
    proves that both parties hold the same aligned order.
    """

    chunk: int
    count: int
    done: bool
    alignment_digest: str
