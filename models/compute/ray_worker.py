"""The Ray actor that runs a party's hot loops (imported on the Ray worker nodes).

One :class:`ComputeWorker` per CPU of the party's cluster does every kind of work, so that
actors of different kinds never wait for each other's CPUs. Its state is a cache: the row
block of a ciphertext vector (by token), the key holder's keys (by key id) and the
platform's long-lived OPRF scalar (by key id), each loaded from an object-store reference
that comes with every call. An actor that died and was
restarted by Ray (``max_restarts``) starts empty and reloads what the retried call needs
from that reference, so a lost worker changes nothing but time.

Only bytes and numpy arrays cross: ciphertexts and plaintexts as fixed-width big-endian
blocks, ids as one NUL-separated UTF-8 blob (ids never contain NUL), points as 32-byte
encodings. The class imports no Ray code itself (the backend wraps it with ``ray.remote``).
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any

import numpy as np
from gmpy2 import mpz

from models.crypto.histogram import histogram_serial
from models.crypto.paillier import EncryptedVector, PaillierKeypair, PaillierPublicKey
from models.crypto.parallel import bytes_to_mpz, ints_to_bytes

#: Ciphertext blocks an actor keeps (least recently used dropped first).
CACHE_VECTORS = 4
#: Keys an actor keeps.
CACHE_KEYS = 4
#: Long-lived PSI scalars (OPRF keys) an actor keeps (the current one).
CACHE_SCALARS = 1


def encode_keypair(keypair: PaillierKeypair) -> bytes:
    """The key holder's key as canonical JSON bytes, for its own workers only."""
    return json.dumps(
        {
            "pk": keypair.public_key.to_bytes().hex(),
            "p": format(int(keypair._p), "x"),
            "q": format(int(keypair._q), "x"),
            "exponent_bits": keypair.exponent_bits,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def decode_keypair(data: bytes) -> PaillierKeypair:
    """Inverse of :func:`encode_keypair` (the constructor checks ``p q = n``)."""
    doc = json.loads(data)
    pk = PaillierPublicKey.from_bytes(bytes.fromhex(doc["pk"]))
    return PaillierKeypair(
        pk, int(doc["p"], 16), int(doc["q"], 16), exponent_bits=int(doc["exponent_bits"])
    )


def encode_ids(ids: list[str]) -> bytes:
    """Ids as one NUL-separated UTF-8 blob."""
    return "\x00".join(ids).encode("utf-8")


def decode_ids(blob: bytes, count: int) -> list[str]:
    """Inverse of :func:`encode_ids`."""
    if count == 0:
        return []
    ids = blob.decode("utf-8").split("\x00")
    if len(ids) != count:
        raise ValueError("id blob does not hold the announced count")
    return ids


class ComputeWorker:
    """A party's worker process on its Ray cluster (one per CPU)."""

    def __init__(self) -> None:
        self._vectors: OrderedDict[str, tuple[mpz, list[mpz]]] = OrderedDict()
        self._keys: OrderedDict[str, PaillierKeypair] = OrderedDict()
        self._scalars: OrderedDict[str, bytes] = OrderedDict()
        self._engine: Any = None

    def pid(self) -> int:
        """The actor's process id (tests kill it to check recovery)."""
        return os.getpid()

    # ------------------------------------------------------------------ state
    def _vector(self, token: str, box: list[Any], n2: int, width: int) -> tuple[mpz, list[mpz]]:
        got = self._vectors.get(token)
        if got is None:
            import ray

            got = (mpz(n2), bytes_to_mpz(ray.get(box[0]), width))
            self._vectors[token] = got
            while len(self._vectors) > CACHE_VECTORS:
                self._vectors.popitem(last=False)
        self._vectors.move_to_end(token)
        return got

    def _key(self, key_id: str, box: list[Any]) -> PaillierKeypair:
        got = self._keys.get(key_id)
        if got is None:
            import ray

            got = decode_keypair(ray.get(box[0]))
            self._keys[key_id] = got
            while len(self._keys) > CACHE_KEYS:
                self._keys.popitem(last=False)
        self._keys.move_to_end(key_id)
        return got

    def forget(self, token: str) -> None:
        """Drop a cached ciphertext block or key (the job ended)."""
        self._vectors.pop(token, None)
        self._keys.pop(token, None)
        self._scalars.pop(token, None)

    def _scalar(self, scalar: bytes | None, key_id: str, box: list[Any] | None) -> bytes:
        """The call's scalar: given, or the held OPRF key ``key_id`` (loaded from ``box``)."""
        if scalar is not None:
            return scalar
        got = self._scalars.get(key_id)
        if got is None:
            import ray

            assert box is not None
            got = bytes(ray.get(box[0]))
            self._scalars[key_id] = got
            while len(self._scalars) > CACHE_SCALARS:
                self._scalars.popitem(last=False)
        self._scalars.move_to_end(key_id)
        return got

    # ------------------------------------------------------------------ histograms
    def histograms(
        self,
        token: str,
        box: list[Any],
        n2: int,
        width: int,
        rows: np.ndarray,
        node_bins: np.ndarray,
        n_bins: list[int],
        skip: list[int],
    ) -> bytes:
        """Bin products of this block's ``rows`` (positions inside the block), flattened."""
        n2_, values = self._vector(token, box, n2, width)
        hists = histogram_serial(values, n2_, node_bins, rows, n_bins, skip)
        return ints_to_bytes([c for h in hists for c in h], width)

    # ------------------------------------------------------------------ key holder
    def obfuscators(self, key_id: str, box: list[Any], count: int) -> bytes:
        """``count`` fresh DJN obfuscators ``hs^a mod n^2`` (fixed width)."""
        keypair = self._key(key_id, box)
        return ints_to_bytes(keypair._obf.obfuscators(count), keypair.public_key.width)

    def decrypt_unsigned(self, key_id: str, box: list[Any], blob: bytes) -> bytes:
        """CRT decryption of fixed-width ciphertexts; plaintexts in ``[0, n)``, fixed width."""
        keypair = self._key(key_id, box)
        pk = keypair.public_key
        enc = EncryptedVector(pk, bytes_to_mpz(blob, pk.width))
        return ints_to_bytes(keypair.decrypt_unsigned(enc, workers=1), pk.width)

    # ------------------------------------------------------------------ PSI
    def _group(self) -> Any:
        if self._engine is None:
            from models.psi.group import GroupEngine

            self._engine = GroupEngine(1)
        return self._engine

    def psi_mult(
        self, scalar: bytes | None, blob: bytes, key_id: str = "", box: list[Any] | None = None
    ) -> bytes:
        """``scalar * P`` for every point of ``blob`` (``scalar`` None: the held key)."""
        return bytes(self._group().mult(self._scalar(scalar, key_id, box), blob))

    def psi_hash_mult(
        self,
        scalar: bytes | None,
        ids_blob: bytes,
        count: int,
        key_id: str = "",
        box: list[Any] | None = None,
    ) -> bytes:
        """``scalar * H(id)`` for every id of the blob, in order (``scalar`` None: the held
        key)."""
        ids = decode_ids(ids_blob, count)
        return bytes(self._group().hash_mult(self._scalar(scalar, key_id, box), ids))
