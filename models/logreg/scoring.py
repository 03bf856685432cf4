"""Online scoring of logistic regression: the platform's partial log-odds, encrypted.

The platform part (``<data_dir>/models/logreg/[<bank>/]<model_id>.json``, saved by the training
protocol) holds the platform's weights and its feature transform. For each company the platform
computes ``transform(x_p) @ w_p`` in the clear (its own data and weights), encrypts it under the
bank's Paillier key in fixed point (``SCORE_FRAC_BITS`` fractional bits, the training
protocol's encoding) and names the categories that raised it most.

**What this implies.** The bank decrypts the platform's partial log-odds of each company it
scores: that is the product (the score is ``z_b @ w_b + b + s_p``). One partial is one linear
functional of the company's platform features with the platform's private weights; a bank
that scores many companies whose platform features it knows by other means can fit those
weights (as many companies as platform weights suffice for a linear model), and with the
weights it reads one number per company, not the features. The adverse categories name at
most ``max_reasons`` of the platform's categories (never a feature or a value).

The encryption is fresh (DJN obfuscator with a fixed-base table per key): the ciphertext went
through no computation, so it needs no rerandomisation.

**Packing.** A request with ``pack_slots > 0`` asks for the partials of up to that many
companies of the call in one plaintext (:mod:`models.logreg.packing`: one 128-bit slot per
company, offset so nothing carries). The platform encrypts one fresh value per group instead
of one per company; what the bank decrypts is the same set of numbers (a refused company's slot
is 0, as its unpacked value is), so neither side learns anything new. The bank node decrypts a
group once and hands each officer's request only its own slot.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.crypto.djn import TABLE_MIN_BATCH
from models.crypto.fixedpoint import encode_fixed
from models.crypto.paillier import PaillierPublicKey
from models.crypto.wire import CipherArray
from models.errors import DataLoss, InvalidArgument
from models.federation.messages import WireMessage
from models.federation.scoring import (
    Companies,
    ScoreHeader,
    ScoreReply,
    ScoringFamily,
    register_scoring,
)
from models.logreg.encoding import CategoryEncoder
from models.logreg.he import SCORE_FRAC_BITS
from models.logreg.model_io import PLATFORM_FORMAT, load_part
from models.logreg.packing import MAX_PACK_SLOTS, PACK_SLOT_BITS, pack
from models.logreg.transform import Standardizer

#: Most adverse categories the platform names per company.
MAX_REASONS = 8


@dataclass(frozen=True)
class CategoryNames(WireMessage):
    """Category names, most adverse first."""

    names: list[str]


@dataclass(frozen=True)
class LinearScoreRequest(WireMessage):
    """The platform's part of linear scores (logistic regression or scorecard).

    Reveals to platform: the header (companies, model, date), the bank's Paillier public key,
    how many categories to name and how many companies to pack per ciphertext (``pack_slots``,
    0: one ciphertext per company; a function of the key's size). Nothing of the bank's
    features or the application.
    """

    header: ScoreHeader
    public_key: bytes
    max_reasons: int
    pack_slots: int = 0


@dataclass(frozen=True)
class LinearScoreResponse(WireMessage):
    """Paillier ciphertexts of the companies' partials (0 for a refused one) and their adverse
    categories: one ciphertext per company (``packed_slots`` 0), or one per group of
    ``packed_slots`` consecutive companies (:mod:`models.logreg.packing`).

    Reveals to bank: after decryption, each company's platform partial log-odds (scorecards:
    the sum of its platform points), and the names of up to ``max_reasons`` platform
    categories whose terms raised it, most adverse first, without values. Packed or not, the
    same numbers.
    """

    reply: ScoreReply
    enc_values: CipherArray
    adverse_categories: list[CategoryNames]
    packed_slots: int = 0


@dataclass(frozen=True)
class LinearPart:
    """A linear platform part: transform, weights, and the category of each weight."""

    model_id: str
    digest: str
    bank_party: str
    dataset: str
    source_features: tuple[str, ...]  # raw columns the transform reads, in order
    groups: tuple[str, ...]  # category of each weight
    transform: Standardizer
    weights: np.ndarray
    encoder: CategoryEncoder | None = None  # categorical columns, one-hot (None: none)

    @classmethod
    def load(cls, path: Path) -> LinearPart:
        body, digest = load_part(path, PLATFORM_FORMAT)
        try:
            weights = np.asarray(body["weights"], dtype=np.float64)
            groups = tuple(str(g) for g in body["feature_groups"])
            coding = body["transform"].get("categorical")
            part = cls(
                model_id=str(body["model_id"]),
                digest=digest,
                bank_party=str(body.get("bank_party", "")),
                dataset=str(body.get("dataset", "")),
                source_features=tuple(str(f) for f in body["source_feature_names"]),
                groups=groups,
                transform=Standardizer.from_dict(body["transform"]),
                weights=weights,
                encoder=None if coding is None else CategoryEncoder.from_dict(coding),
            )
        except (KeyError, TypeError, ValueError, InvalidArgument) as exc:
            raise DataLoss("the platform model part is malformed") from exc
        if len(groups) != weights.size:
            raise DataLoss("the platform model part is malformed")
        return part

    def partial(
        self, X: np.ndarray, categories: Mapping[str, Sequence[str]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(partial log-odds ``transform(x_p) @ w_p`` per row, per-weight terms per row),
        computed exactly as the training protocol's scores for a batch of rows.

        ``categories``: the scoring table's categories of its categorical columns (their codes
        are read under them; a category unseen in training counts as ``other``)."""
        X = np.asarray(X, dtype=np.float64)
        if self.encoder is not None:
            X = self.encoder.transform(X, categories)
        Z = self.transform.transform(X)
        return Z @ self.weights, Z * self.weights[None, :]


def adverse_categories(groups: Sequence[str], terms: np.ndarray, limit: int) -> list[str]:
    """Categories whose summed terms raise the log-odds, most adverse first (names only)."""
    totals: dict[str, float] = {}
    for g, t in zip(groups, np.asarray(terms, dtype=np.float64).tolist(), strict=True):
        totals[g] = totals.get(g, 0.0) + t
    ranked = sorted((kv for kv in totals.items() if kv[1] > 0), key=lambda kv: (-kv[1], kv[0]))
    return [g for g, _ in ranked[: max(0, limit)]]


class _KeyEntry:
    """One bank key, parsed and given its encryption table once, by the first request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: PaillierPublicKey | None = None


class PublicKeys:
    """Parsed bank public keys by their bytes, each with its encryption table built once.

    Concurrent first requests under one key wait for one build (about 70 ms at 2048 bits)
    instead of each building its own: the cache lock is held only to find the key's entry,
    the entry's own lock while it is built.
    """

    def __init__(self, max_keys: int = 16) -> None:
        self.max_keys = max_keys
        self._keys: OrderedDict[bytes, _KeyEntry] = OrderedDict()
        self._lock = threading.Lock()
        #: Keys parsed and tabled (for tests).
        self.builds = 0

    def get(self, data: bytes) -> PaillierPublicKey:
        if not data:
            raise InvalidArgument("a linear model needs the bank's public key")
        tag = hashlib.sha256(data).digest()
        with self._lock:
            entry = self._keys.get(tag)
            if entry is None:
                entry = self._keys[tag] = _KeyEntry()
                while len(self._keys) > self.max_keys:
                    self._keys.popitem(last=False)
            else:
                self._keys.move_to_end(tag)
        with entry.lock:
            if entry.key is None:
                try:
                    key = PaillierPublicKey.from_bytes(data)  # CryptoError if unusable
                    key.encrypt([0] * TABLE_MIN_BATCH)  # the fixed-base table of the base
                except BaseException:
                    with self._lock:
                        if self._keys.get(tag) is entry:
                            del self._keys[tag]
                    raise
                self.builds += 1
                entry.key = key
            return entry.key


def encrypt_values(
    key: PaillierPublicKey, values: Sequence[float], pack_slots: int = 0
) -> CipherArray:
    """Fresh encryptions of ``values`` in fixed point (``SCORE_FRAC_BITS`` fractional bits):
    one per value, or one per ``pack_slots`` values packed (:mod:`models.logreg.packing`)."""
    ints = encode_fixed(np.asarray(values, dtype=np.float64), SCORE_FRAC_BITS)
    if pack_slots > 0:
        ints = pack(ints, pack_slots)
    return key.encrypt(ints).to_wire()


def check_pack_slots(key: PaillierPublicKey, slots: int) -> int:
    """``slots`` if a packed plaintext of that many slots fits below ``n / 2`` (the bank asks
    for what fits below its own decryption modulus), else InvalidArgument."""
    if not 0 <= slots <= MAX_PACK_SLOTS or slots * PACK_SLOT_BITS >= key.n.bit_length() - 1:
        raise InvalidArgument("the request asks to pack more values than a plaintext holds")
    return slots


class LinearScoring(ScoringFamily):
    """Shared answer of the linear families: encrypted partials and adverse categories."""

    request_type = LinearScoreRequest

    def __init__(self) -> None:
        self.keys = PublicKeys()

    def partials(
        self,
        part: Any,
        X: np.ndarray,
        categories: Mapping[str, Sequence[str]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(value to encrypt per row, log-odds term per weight and row)."""
        values, terms = part.partial(X, categories)
        return np.asarray(values, dtype=np.float64), np.asarray(terms, dtype=np.float64)

    def answer(
        self, part: Any, request: Any, companies: Companies, reply: ScoreReply
    ) -> WireMessage:
        key = self.keys.get(request.public_key)
        slots = check_pack_slots(key, int(request.pack_slots))
        n = companies.usable.size
        values = np.zeros(n)
        names: list[CategoryNames] = [CategoryNames([]) for _ in range(n)]
        usable = np.flatnonzero(companies.usable)
        if usable.size:
            vals, terms = self.partials(part, companies.X[usable], companies.categories)
            limit = min(max(int(request.max_reasons), 0), MAX_REASONS)
            for k, row in enumerate(usable.tolist()):
                values[row] = vals[k]
                names[row] = CategoryNames(adverse_categories(part.groups, terms[k], limit))
        return LinearScoreResponse(
            reply=reply,
            enc_values=encrypt_values(key, values.tolist(), slots),
            adverse_categories=names,
            packed_slots=slots,
        )


@register_scoring
class LogRegScoring(LinearScoring):
    """Logistic regression's platform part for online scoring."""

    family = "logreg"
    part_dir = "logreg"

    def load_part(self, path: Path) -> LinearPart:
        return LinearPart.load(path)
