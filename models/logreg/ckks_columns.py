"""The platform's masked CKKS ``X^T enc(d)`` on SEAL's low-level API, with cached plaintexts.

:meth:`CkksContext.xt_d` goes through TenSEAL's ``mul_plain``, which re-encodes the plaintext
column for every (chunk, column) product: the CKKS encoding (an inverse FFT and one NTT per
prime, ~0.4 ms at N = 8192) costs about three times the product itself. In full-batch
training the platform multiplies the SAME rows by the same feature columns every epoch, so
:class:`ColumnEvaluator` encodes each (chunk, column) block once with ``tenseal.sealapi``
(``CKKSEncoder``) and reuses the plaintexts (``Evaluator.multiply_plain``) while the batch
matrix is unchanged (keyed by a SHA-256 of the matrix).

Semantics are those of :meth:`CkksContext.xt_d` followed by :meth:`CkksSlotSums.add_masks`:
one plaintext product per (chunk, column), sums over chunks, one rescale per column, an
independent ``N(0, sigma^2)`` mask on every slot, mask totals kept by the caller. SEAL tracks
the exact scale ``Delta^2 / q`` after the rescale and the masks are encoded at that scale, so
no ``q / Delta`` compensation is needed; the error bound of :meth:`CkksContext.xt_d` holds.

Bytes in and out are TenSEAL's single-chunk ``CKKSVector`` serialisation (a three-field
protobuf: chunk sizes, SEAL ciphertext bytes, scale), parsed and written here by hand, so the
bank and the wire format are unchanged. The ``sealapi`` bindings load and save SEAL objects
only through files: ciphertexts pass through one private directory (mode 0700, on tmpfs where
available, removed at exit); they are public-key ciphertexts and masked results, never keys.
Any failure here (bindings missing, malformed bytes) raises :class:`CryptoError` or is left to
the caller's fallback.
"""

from __future__ import annotations

import atexit
import hashlib
import math
import os
import shutil
import struct
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from models.crypto.ckks import MAX_ABS_VALUE, CkksContext
from models.errors import CryptoError, InvalidArgument

try:  # TenSEAL's bundled SEAL bindings
    import tenseal.sealapi as _seal
except ImportError:  # pragma: no cover - optional fast path
    _seal = None

AVAILABLE = _seal is not None
_SCALE_TAG, _SIZES_TAG, _CT_TAG = 0x19, 0x0A, 0x12


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise CryptoError("malformed CKKS ciphertext")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def _enc_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def parse_chunk(blob: bytes, slot_count: int) -> bytes:
    """The SEAL ciphertext inside TenSEAL's serialisation of ONE full chunk (strict)."""
    i, sizes, cts = 0, [], []
    while i < len(blob):
        key, i = _varint(blob, i)
        if key in (_SIZES_TAG, _CT_TAG):
            length, i = _varint(blob, i)
            data = blob[i : i + length]
            if len(data) != length:
                raise CryptoError("malformed CKKS ciphertext")
            i += length
            if key == _CT_TAG:
                cts.append(data)
            else:
                j = 0
                while j < len(data):
                    size, j = _varint(data, j)
                    sizes.append(size)
        elif key == _SCALE_TAG:
            i += 8
        else:
            raise CryptoError("malformed CKKS ciphertext")
    if i != len(blob) or len(cts) != 1 or sizes != [slot_count]:
        raise CryptoError("CKKS ciphertext has an unexpected layout")
    return cts[0]


def wrap_chunk(seal_bytes: bytes, slot_count: int, scale: float) -> bytes:
    """TenSEAL's single-chunk ``CKKSVector`` serialisation around SEAL ciphertext bytes."""
    sizes = _enc_varint(slot_count)
    return b"".join(
        [
            bytes([_SIZES_TAG]),
            _enc_varint(len(sizes)),
            sizes,
            bytes([_CT_TAG]),
            _enc_varint(len(seal_bytes)),
            seal_bytes,
            bytes([_SCALE_TAG]),
            struct.pack("<d", scale),
        ]
    )


_SCRATCH: Path | None = None


def _scratch_dir() -> Path:
    """One private directory per process (tmpfs where available), removed at exit."""
    global _SCRATCH
    if _SCRATCH is None or not _SCRATCH.is_dir():
        shm = "/dev/shm"
        base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
        _SCRATCH = Path(tempfile.mkdtemp(prefix="fedcredit-ckks-", dir=base))
        os.chmod(_SCRATCH, 0o700)
        atexit.register(shutil.rmtree, _SCRATCH, True)
    return _SCRATCH


class ColumnEvaluator:
    """Masked ``X^T enc(d)`` for one public CKKS context, plaintext columns cached.

    Not thread-safe across calls by itself; :func:`evaluator_for` hands out one per context
    and callers serialise through its ``lock``.
    """

    def __init__(self, ctx: CkksContext) -> None:
        if _seal is None:
            raise CryptoError("SEAL bindings are not available")
        p = ctx.params
        parms = _seal.EncryptionParameters(_seal.SCHEME_TYPE.CKKS)
        parms.set_poly_modulus_degree(p.poly_modulus_degree)
        parms.set_coeff_modulus([_seal.Modulus(q) for q in p.primes])
        self._ctx = _seal.SEALContext(parms, True, _seal.SEC_LEVEL_TYPE.TC128)
        if not self._ctx.parameters_set():
            raise CryptoError("SEAL refused the CKKS parameters")
        self._eval = _seal.Evaluator(self._ctx)
        self._encoder = _seal.CKKSEncoder(self._ctx)
        self._top = self._ctx.first_parms_id()
        self.fingerprint = ctx.fingerprint
        self.slots = p.slot_count
        self.scale = p.global_scale
        self.lock = threading.Lock()
        self._file = str(_scratch_dir() / f"ct-{id(self):x}")
        self._cache_key = b""
        self._plain: list[list[Any]] = []

    # -- files (the bindings' only serialisation path) -----------------------------------
    def _load(self, blob: bytes) -> Any:
        data = parse_chunk(blob, self.slots)
        with open(self._file, "wb") as fh:
            fh.write(data)
        ct = _seal.Ciphertext()
        try:
            ct.load(self._ctx, self._file)
        except Exception as exc:  # SEAL validates sizes and moduli on load
            raise CryptoError("malformed CKKS ciphertext") from exc
        if ct.size() != 2 or not ct.is_ntt_form() or ct.parms_id() != self._top:
            raise CryptoError("CKKS ciphertext is not a fresh encryption")
        if not math.isclose(ct.scale, self.scale, rel_tol=1e-12):
            raise CryptoError("CKKS ciphertext has an unexpected scale")
        return ct

    def _save(self, ct: Any) -> bytes:
        ct.save(self._file)
        with open(self._file, "rb") as fh:
            return wrap_chunk(fh.read(), self.slots, self.scale)

    # -- plaintext columns -----------------------------------------------------------------
    def _plaintexts(self, X: np.ndarray, chunks: int) -> list[list[Any]]:
        key = hashlib.sha256(
            np.asarray(X.shape, dtype="<i8").tobytes() + X.astype("<f8").tobytes()
        ).digest()
        if key == self._cache_key and len(self._plain) == chunks:
            return self._plain
        n, f = X.shape
        S = self.slots
        Xc = np.zeros((f, chunks * S))
        Xc[:, :n] = X.T
        plain: list[list[Any]] = []
        for c in range(chunks):
            row = []
            for j in range(f):
                pt = _seal.Plaintext()
                self._encoder.encode(Xc[j, c * S : (c + 1) * S].tolist(), self._top, self.scale, pt)
                row.append(pt)
            plain.append(row)
        self._cache_key, self._plain = key, plain
        return plain

    # -- the product -------------------------------------------------------------------------
    def masked_xt_d(
        self, X: np.ndarray, blobs: list[bytes], rng: np.random.Generator, sigma: float
    ) -> tuple[list[bytes], np.ndarray]:
        """Masked column sums of ``X^T d`` as TenSEAL chunk bytes, and the mask totals.

        ``blobs`` are the chunks of ``enc(d)`` as the bank serialised them (``len(X)`` values).
        """
        X = np.asarray(X, dtype=np.float64)
        n, f = X.shape
        if n == 0 or f == 0 or len(blobs) != -(-n // self.slots):
            raise InvalidArgument("X must have one row per encrypted value")
        if not np.all(np.isfinite(X)) or np.abs(X).max() > MAX_ABS_VALUE:
            raise InvalidArgument("X must be finite and within the CKKS value range")
        if not 0.0 < sigma <= 2.0**28:
            raise InvalidArgument("mask sigma must be in (0, 2^28]")
        cts = [self._load(b) for b in blobs]
        plain = self._plaintexts(X, len(cts))
        ev, out, totals = self._eval, [], np.empty(f)
        tmp = _seal.Ciphertext()
        for j in range(f):
            acc = _seal.Ciphertext()
            ev.multiply_plain(cts[0], plain[0][j], acc)
            for c in range(1, len(cts)):
                ev.multiply_plain(cts[c], plain[c][j], tmp)
                ev.add_inplace(acc, tmp)
            res = _seal.Ciphertext()
            ev.rescale_to_next(acc, res)
            mask = rng.normal(0.0, sigma, size=self.slots).tolist()
            mask_pt = _seal.Plaintext()
            self._encoder.encode(mask, res.parms_id(), res.scale, mask_pt)
            ev.add_plain_inplace(res, mask_pt)
            totals[j] = math.fsum(mask)
            out.append(self._save(res))
        return out, totals


_EVALUATORS: dict[str, ColumnEvaluator] = {}
_EVALUATORS_LOCK = threading.Lock()


def evaluator_for(ctx: CkksContext) -> ColumnEvaluator:
    """The process's evaluator for this context (one kept; a new key replaces it)."""
    with _EVALUATORS_LOCK:
        ev = _EVALUATORS.get(ctx.fingerprint)
        if ev is None:
            _EVALUATORS.clear()
            ev = ColumnEvaluator(ctx)
            _EVALUATORS[ctx.fingerprint] = ev
        return ev
