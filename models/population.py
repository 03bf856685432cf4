"""A model's training population on the platform: which companies it was trained on.

Prediction for a company outside a model's training population needs that company's consent
(:meth:`~models.federation.party.PassiveContext.check_use`). The platform keeps the population
beside its model part as a file of sorted 64-bit SHA-256 prefixes of the ids (raw little-endian
bytes, no pickle; the platform's own data, never sent). A membership test with 64-bit
prefixes errs with probability ``n / 2^64`` per query.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

import numpy as np

from models.errors import DataLoss

SUFFIX = ".population"


def _hash(uid: str) -> int:
    return int.from_bytes(hashlib.sha256(str(uid).encode()).digest()[:8], "little")


class Population(Collection[str]):
    """Set-like membership over a saved population (``in`` only; iteration is not possible)."""

    def __init__(self, hashes: np.ndarray) -> None:
        self._hashes = np.unique(np.asarray(hashes, dtype=np.uint64))

    @classmethod
    def of(cls, ids: Iterable[str]) -> Population:
        return cls(np.fromiter((_hash(i) for i in ids), dtype=np.uint64))

    def __contains__(self, uid: object) -> bool:
        h = np.uint64(_hash(str(uid)))
        pos = int(np.searchsorted(self._hashes, h))
        return pos < self._hashes.size and self._hashes[pos] == h

    def __len__(self) -> int:
        return int(self._hashes.size)

    def __iter__(self) -> Iterator[str]:
        raise TypeError("a population can only be tested for membership")

    def save(self, path: Path) -> str:
        """Write atomically; returns the SHA-256 hex digest of the file's bytes."""
        data = self._hashes.astype("<u8").tobytes()
        tmp = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def load(cls, path: Path, digest: str) -> Population:
        """Read and check against the digest recorded in the model part."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DataLoss("the model's population file is missing") from None
        if len(data) % 8 or hashlib.sha256(data).hexdigest() != digest:
            raise DataLoss("the model's population file does not match its part")
        return cls(np.frombuffer(data, dtype="<u8"))
