"""The ristretto255 prime-order group through libsodium, batched over fixed 32-byte blobs.

Every batch operation takes and returns *blobs*: ``bytes`` holding ``n`` concatenated 32-byte
canonical point encodings. That is also how points travel (one ``bytes`` field per chunk).

Implementation notes
--------------------
- libsodium (>= 1.0.18) is loaded with :mod:`ctypes`; PyNaCl's bundled copy does not export
  the ristretto255 functions. ``FEDCREDIT_LIBSODIUM`` may name the shared library explicitly.
- ctypes releases the GIL during each foreign call and a scalar multiplication costs ~37 us
  against ~1 us of Python per point, so plain threads scale over cores (measured 1.9x on 2
  cores). Threads, unlike a process pool, keep the secret scalar inside this process, need no
  pickling and are safe inside the multi-threaded gRPC server.
- Hashing to the group is RFC 9496 ``hash_to_group``: SHA-512 of a domain-separated,
  length-unambiguous encoding of the id, then ``crypto_core_ristretto255_from_hash`` (two
  Elligator maps and an addition). Ids are hashed exactly as given (no normalisation).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from models.errors import CryptoError, InvalidArgument

POINT_BYTES = 32
SCALAR_BYTES = 32
HASH_DOMAIN = b"fedcredit/psi/v1/ristretto255/sha512\x00"
"""Prefix of every hashed id (fixed length, so the encoding of an id is unambiguous)."""

SERIAL_BELOW = 2048
"""Batches smaller than this run on the calling thread (thread hand-off would not pay)."""

_LIB: ctypes.CDLL | None = None
_LIB_LOCK = threading.Lock()


def _candidates() -> list[str]:
    names = [os.environ.get("FEDCREDIT_LIBSODIUM", ""), ctypes.util.find_library("sodium") or ""]
    names += ["libsodium.so.26", "libsodium.so.23", "libsodium.dylib", "libsodium.dll"]
    return [n for n in names if n]


def libsodium() -> ctypes.CDLL:
    """Load libsodium once and declare the ristretto255 functions used here.

    Raises
    ------
    CryptoError
        If no libsodium with ristretto255 support (>= 1.0.18) can be loaded.
    """
    global _LIB
    with _LIB_LOCK:
        if _LIB is not None:
            return _LIB
        for name in _candidates():
            try:
                lib = ctypes.CDLL(name)
                lib.crypto_scalarmult_ristretto255  # noqa: B018 -- probe the symbol
            except (OSError, AttributeError):
                continue
            if lib.sodium_init() < 0:
                continue
            vp, cp = ctypes.c_void_p, ctypes.c_char_p
            lib.crypto_scalarmult_ristretto255.argtypes = [vp, cp, vp]
            lib.crypto_scalarmult_ristretto255.restype = ctypes.c_int
            lib.crypto_core_ristretto255_from_hash.argtypes = [vp, cp]
            lib.crypto_core_ristretto255_from_hash.restype = ctypes.c_int
            lib.crypto_core_ristretto255_is_valid_point.argtypes = [cp]
            lib.crypto_core_ristretto255_is_valid_point.restype = ctypes.c_int
            lib.crypto_core_ristretto255_scalar_random.argtypes = [vp]
            lib.crypto_core_ristretto255_scalar_random.restype = None
            lib.crypto_core_ristretto255_scalar_invert.argtypes = [vp, cp]
            lib.crypto_core_ristretto255_scalar_invert.restype = ctypes.c_int
            lib.crypto_core_ristretto255_scalar_mul.argtypes = [vp, cp, cp]
            lib.crypto_core_ristretto255_scalar_mul.restype = None
            lib.crypto_scalarmult_ristretto255_base.argtypes = [vp, cp]
            lib.crypto_scalarmult_ristretto255_base.restype = ctypes.c_int
            _LIB = lib
            return lib
        raise CryptoError(
            "libsodium >= 1.0.18 with ristretto255 is required for PSI "
            "(install the system package libsodium23, or set FEDCREDIT_LIBSODIUM)"
        )


# -- single-element helpers (scalars, tests) ---------------------------------------------------
def random_scalar() -> bytes:
    """A uniformly random non-zero scalar modulo the group order (a fresh PSI secret)."""
    out = ctypes.create_string_buffer(SCALAR_BYTES)
    libsodium().crypto_core_ristretto255_scalar_random(out)
    return out.raw


def scalar_invert(s: bytes) -> bytes:
    out = ctypes.create_string_buffer(SCALAR_BYTES)
    if libsodium().crypto_core_ristretto255_scalar_invert(out, _scalar(s)) != 0:
        raise CryptoError("scalar is not invertible")
    return out.raw


def scalar_mul(s: bytes, t: bytes) -> bytes:
    out = ctypes.create_string_buffer(SCALAR_BYTES)
    libsodium().crypto_core_ristretto255_scalar_mul(out, _scalar(s), _scalar(t))
    return out.raw


def base_mult(s: bytes) -> bytes:
    """``s * G`` for the standard generator (used for test vectors)."""
    out = ctypes.create_string_buffer(POINT_BYTES)
    if libsodium().crypto_scalarmult_ristretto255_base(out, _scalar(s)) != 0:
        raise CryptoError("scalar multiple of the base point is the identity")
    return out.raw


def is_valid_point(p: bytes) -> bool:
    """True for a canonical encoding of a group element (libsodium's decoding check)."""
    return len(p) == POINT_BYTES and libsodium().crypto_core_ristretto255_is_valid_point(p) == 1


def hash_digest(identifier: str) -> bytes:
    """The 64-byte SHA-512 input of ``from_hash`` for one id (domain separated)."""
    return hashlib.sha512(HASH_DOMAIN + identifier.encode("utf-8")).digest()


def all_distinct(values: np.ndarray) -> bool:
    """True when no value of an ``S32`` array of points repeats.

    Sorting 8-byte prefixes as integers is ~10x faster than sorting 32-byte strings; only if
    two prefixes collide (probability ~n^2/2^65 for honest values) the full values are sorted.
    """
    n = int(values.shape[0])
    if n < 2:
        return True
    prefixes = np.sort(np.frombuffer(values.tobytes(), dtype="<u8")[::4])
    if not bool(np.any(prefixes[1:] == prefixes[:-1])):
        return True
    return int(np.unique(values).shape[0]) == n


def _scalar(s: bytes) -> bytes:
    if not isinstance(s, bytes) or len(s) != SCALAR_BYTES:
        raise InvalidArgument("a scalar must be 32 bytes")
    return s


def check_blob(blob: bytes, count: int) -> None:
    """Check that ``blob`` holds exactly ``count`` 32-byte encodings (no content check)."""
    if not isinstance(blob, bytes | bytearray) or len(blob) != POINT_BYTES * count:
        raise InvalidArgument("point blob length does not match its count")


# -- batched kernels (run on one thread over a slice of the output) --------------------------
def _mult_range(lib: ctypes.CDLL, scalar: bytes, src: int, dst: int, start: int, stop: int) -> int:
    """``dst[i] = scalar * src[i]`` for ``start <= i < stop``; returns 0 or -1 (any failure)."""
    fn = lib.crypto_scalarmult_ristretto255
    bad = 0
    for off in range(start * POINT_BYTES, stop * POINT_BYTES, POINT_BYTES):
        bad |= fn(dst + off, scalar, src + off)
    return bad


def _hash_mult_range(
    lib: ctypes.CDLL, scalar: bytes, ids: Sequence[str], dst: int, start: int, stop: int
) -> int:
    """``dst[i] = scalar * H(ids[i])`` for ``start <= i < stop``; returns 0 or -1."""
    from_hash = lib.crypto_core_ristretto255_from_hash
    mult = lib.crypto_scalarmult_ristretto255
    tmp = ctypes.create_string_buffer(POINT_BYTES)
    tmp_addr = ctypes.addressof(tmp)
    sha512 = hashlib.sha512
    domain = HASH_DOMAIN
    bad = 0
    off = start * POINT_BYTES
    for i in range(start, stop):
        from_hash(tmp_addr, sha512(domain + ids[i].encode("utf-8")).digest())
        bad |= mult(dst + off, scalar, tmp_addr)
        off += POINT_BYTES
    return bad


class GroupEngine:
    """Batched ristretto255 operations, split over ``workers`` threads for large batches.

    Parameters
    ----------
    workers:
        Threads used for a large batch (default: ``min(2, os.cpu_count())``); 1 = serial.
    serial_below:
        Batches with fewer points than this always run serially.

    The engine owns a thread pool; call :meth:`close` (or use it as a context manager).
    """

    def __init__(self, workers: int | None = None, *, serial_below: int = SERIAL_BELOW) -> None:
        if workers is None:
            workers = min(2, os.cpu_count() or 1)
        if workers < 1:
            raise InvalidArgument("workers must be at least 1")
        self.workers = int(workers)
        self.serial_below = int(serial_below)
        self._lib = libsodium()
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> GroupEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def hold_key(self, key_id: str, scalar: bytes) -> None:
        """Nothing to hold: this engine's threads share the caller's memory (see
        :meth:`models.compute.base.GroupOps.hold_key`)."""
        _scalar(scalar)

    def mult(self, scalar: bytes, blob: bytes) -> bytes:
        """Multiply every point of ``blob`` by ``scalar``.

        Raises
        ------
        CryptoError
            If a point is not a canonical encoding of a group element or a product is the
            identity (both mean a malformed or malicious input).
        """
        _scalar(scalar)
        if len(blob) % POINT_BYTES:
            raise InvalidArgument("point blob length is not a multiple of 32")
        n = len(blob) // POINT_BYTES
        src = ctypes.create_string_buffer(bytes(blob), len(blob) or 1)
        dst = ctypes.create_string_buffer(len(blob) or 1)
        src_addr, dst_addr = ctypes.addressof(src), ctypes.addressof(dst)
        lib = self._lib
        self._run(
            n,
            lambda a, b: _mult_range(lib, scalar, src_addr, dst_addr, a, b),
            "a received point is not a valid ristretto255 group element",
        )
        return dst.raw[: len(blob)] if n else b""

    def hash_mult(self, scalar: bytes, ids: Sequence[str]) -> bytes:
        """``scalar * H(id)`` for every id, as one blob in the order of ``ids``."""
        _scalar(scalar)
        n = len(ids)
        dst = ctypes.create_string_buffer(n * POINT_BYTES or 1)
        dst_addr = ctypes.addressof(dst)
        lib = self._lib
        self._run(
            n,
            lambda a, b: _hash_mult_range(lib, scalar, ids, dst_addr, a, b),
            "hashing an id to the group gave the identity",
        )
        return dst.raw[: n * POINT_BYTES] if n else b""

    def _run(self, n: int, kernel: Callable[[int, int], int], error: str) -> None:
        if n == 0:
            return
        if self.workers == 1 or n < self.serial_below:
            bad = kernel(0, n)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="psi-group")
            # a few slices per thread so that a thread slowed by a busy core does not
            # hold up the whole batch
            parts = self.workers * 4
            bounds = [n * i // parts for i in range(parts + 1)]
            futures = [
                self._pool.submit(kernel, bounds[i], bounds[i + 1])
                for i in range(parts)
                if bounds[i] < bounds[i + 1]
            ]
            bad = 0
            for f in futures:
                bad |= f.result()
        if bad:
            raise CryptoError(error)
