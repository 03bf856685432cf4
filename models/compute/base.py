"""The compute backend interface: the hot loops a party may run outside its own process.

A :class:`ComputeBackend` runs, inside one party, the four loops that dominate a job's CPU
time:

* the key holder's batch **encryption** (:meth:`ComputeBackend.encrypt`) and
  **decryption** (:meth:`ComputeBackend.decrypt`) under its Paillier key (the bank);
* the passive party's **encrypted histograms** (:meth:`ComputeBackend.histograms`,
  row-sharded: each worker sums its own row block per feature and bin, the blocks are
  combined by ciphertext multiplication, i.e. plaintext addition);
* **PSI blinding** (:meth:`ComputeBackend.group_engine`: scalar multiplication of ristretto255
  points and hash-then-multiply of ids), for balanced PSI and for unbalanced PSI (the
  platform's offline blinding of its whole population under its long-lived OPRF key, the
  per-job OPRF evaluation of the bank's blinded points, the bank's blinding and unblinding).

Every implementation returns exactly what :mod:`models.crypto` and :mod:`models.psi` return
locally: histograms and PSI points are bit-identical (modular products do not depend on the
order of their factors), encryptions are fresh randomised ciphertexts of the same plaintexts,
decryptions are the same integers. Work never leaves the party: a backend is a party's own
processes or its own cluster (see ``docs/deployment.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from models.crypto.paillier import EncryptedVector, PaillierKeypair


class GroupOps(Protocol):
    """Batched ristretto255 operations (the interface of :class:`models.psi.group.GroupEngine`)."""

    def mult(self, scalar: bytes, blob: bytes) -> bytes:
        """Multiply every 32-byte point of ``blob`` by ``scalar``."""
        ...

    def hash_mult(self, scalar: bytes, ids: Sequence[str]) -> bytes:
        """``scalar * H(id)`` for every id, one blob in the order of ``ids``."""
        ...

    def hold_key(self, key_id: str, scalar: bytes) -> None:
        """Keep a long-lived ``scalar`` (the platform's OPRF key ``key_id``) with the workers.

        Later :meth:`mult` and :meth:`hash_mult` calls with this scalar send the workers only
        ``key_id`` and a reference to the one copy held by the backend (a Ray cluster: one
        object in its object store, cached by each worker), instead of the scalar with every
        block. A new ``key_id`` (the key rotated) replaces the held one. Engines in this
        process need nothing held.
        """
        ...

    def close(self) -> None:
        """Release what the engine holds (threads, actors, the scalar's copies)."""
        ...

    def __enter__(self) -> GroupOps: ...

    def __exit__(self, *exc: object) -> None: ...


class ComputeBackend(Protocol):
    """Where a party runs its hot loops (``local`` processes or a ``ray`` cluster)."""

    name: str

    def encrypt(
        self,
        keypair: PaillierKeypair,
        plaintexts: Sequence[int] | np.ndarray,
        *,
        workers: int | None = None,
    ) -> EncryptedVector:
        """Key-holder encryption of a batch (as :meth:`PaillierKeypair.encrypt`)."""
        ...

    def decrypt(
        self, keypair: PaillierKeypair, enc: EncryptedVector, *, workers: int | None = None
    ) -> list[int]:
        """Signed decryption of a batch (as :meth:`PaillierKeypair.decrypt`)."""
        ...

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
        """Encrypted per-bin sums (as :func:`models.crypto.histogram.encrypted_histograms`)."""
        ...

    def release_key(self, keypair: PaillierKeypair) -> None:
        """Drop every copy of ``keypair``'s secret the backend's workers hold (a job ended)."""
        ...

    def group_engine(self, workers: int | None = None) -> GroupOps:
        """A PSI group engine for one run (close it when the run ends)."""
        ...

    def close(self) -> None:
        """Release the backend's workers."""
        ...
