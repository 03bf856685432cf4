"""The default backend: this process plus its local helper processes and threads.

Each method is a direct call to the function the call sites used before backends existed
(:mod:`models.crypto.parallel` helpers for histograms and encryption, C threads for
decryption and PSI), so choosing ``local`` costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.crypto.histogram import encrypted_histograms
from models.crypto.paillier import EncryptedVector, PaillierKeypair
from models.psi.group import GroupEngine


class LocalBackend:
    """Hot loops in this process and its helpers (``workers`` as in :mod:`models.crypto`)."""

    name = "local"

    def encrypt(
        self,
        keypair: PaillierKeypair,
        plaintexts: Sequence[int] | np.ndarray,
        *,
        workers: int | None = None,
    ) -> EncryptedVector:
        return keypair.encrypt(plaintexts, workers=workers)

    def decrypt(
        self, keypair: PaillierKeypair, enc: EncryptedVector, *, workers: int | None = None
    ) -> list[int]:
        return keypair.decrypt(enc, workers=workers)

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
        return encrypted_histograms(enc, bins, rows, n_bins, skip_bins=skip_bins, workers=workers)

    def release_key(self, keypair: PaillierKeypair) -> None:
        """Helper processes keep only encryption tables, replaced with the next key."""

    def group_engine(self, workers: int | None = None) -> GroupEngine:
        return GroupEngine(workers)

    def close(self) -> None:
        """Nothing to release (the helper pool is shared and stopped at exit)."""
