"""Logistic regression's platform part for scoring: the encrypted partial score.

The part (``<data_dir>/models/logreg/<model_id>.json``, written by
:mod:`models.logreg.passive`) holds the platform's weights and its feature transform. For one
company the platform computes ``transform(x_p) @ w_p`` in the clear (its own data and weights),
encrypts it under the bank's Paillier key in fixed point (the same encoding as the training
protocol's scores) and names the feature categories that pushed it up the most.

The encryption is fresh (DJN obfuscator over the key's public base, with a precomputed
fixed-base table per key), so no rerandomisation is needed: the ciphertext never went through
a computation that it could leak.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.crypto.djn import TABLE_MIN_BATCH
from models.crypto.fixedpoint import encode_fixed
from models.crypto.paillier import PaillierPublicKey
from models.crypto.wire import CipherArray
from models.errors import DataLoss, InvalidArgument
from models.logreg.he import SCORE_FRAC_BITS
from models.logreg.model_io import PLATFORM_FORMAT, load_part
from models.logreg.transform import Standardizer
from platform_node.scoring.features import IndexedTable

FAMILY = "logreg"
PART_DIR = "logreg"


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
    family: str = FAMILY

    @classmethod
    def load(cls, path: Path) -> LinearPart:
        body, digest = load_part(path, PLATFORM_FORMAT)
        try:
            weights = np.asarray(body["weights"], dtype=np.float64)
            groups = tuple(str(g) for g in body["feature_groups"])
            part = cls(
                model_id=str(body["model_id"]),
                digest=digest,
                bank_party=str(body.get("bank_party", "")),
                dataset=str(body.get("dataset", "")),
                source_features=tuple(str(f) for f in body["source_feature_names"]),
                groups=groups,
                transform=Standardizer.from_dict(body["transform"]),
                weights=weights,
            )
        except (KeyError, TypeError, ValueError, InvalidArgument) as exc:
            raise DataLoss("the platform model part is malformed") from exc
        if len(groups) != weights.size:
            raise DataLoss("the platform model part is malformed")
        return part

    def partial(self, table: IndexedTable, uscc: str) -> tuple[float, np.ndarray]:
        """(partial log-odds ``transform(x_p) @ w_p``, per-weight terms ``transform(x_p)_j w_j``).

        Computed exactly as the training protocol's scoring step does for a batch of rows.
        """
        X = self.transform.transform(table.values(uscc, self.source_features)[None, :])
        return float((X @ self.weights)[0]), np.asarray(X[0] * self.weights)


def adverse_categories(groups: Sequence[str], terms: np.ndarray, limit: int) -> list[str]:
    """Categories whose summed terms raise the log-odds, most adverse first (names only)."""
    totals: dict[str, float] = {}
    for g, t in zip(groups, np.asarray(terms, dtype=np.float64).tolist(), strict=True):
        totals[g] = totals.get(g, 0.0) + t
    ranked = sorted((kv for kv in totals.items() if kv[1] > 0), key=lambda kv: (-kv[1], kv[0]))
    return [g for g, _ in ranked[: max(0, limit)]]


class PublicKeys:
    """Parsed bank public keys by their bytes, each with its encryption table built once."""

    def __init__(self, max_keys: int = 16) -> None:
        self.max_keys = max_keys
        self._keys: OrderedDict[bytes, PaillierPublicKey] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, data: bytes) -> PaillierPublicKey:
        if not data:
            raise InvalidArgument("a linear model needs the bank's public key")
        tag = hashlib.sha256(data).digest()
        with self._lock:
            key = self._keys.get(tag)
            if key is not None:
                self._keys.move_to_end(tag)
                return key
        key = PaillierPublicKey.from_bytes(data)  # validates; CryptoError if unusable
        key.encrypt([0] * TABLE_MIN_BATCH)  # builds the fixed-base table of the public base
        with self._lock:
            self._keys[tag] = key
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        return key


def encrypt_values(key: PaillierPublicKey, values: Sequence[float]) -> CipherArray:
    """Fresh encryptions of ``values`` in fixed point (``SCORE_FRAC_BITS`` fractional bits)."""
    ints = encode_fixed(np.asarray(values, dtype=np.float64), SCORE_FRAC_BITS)
    return key.encrypt(ints).to_wire()
