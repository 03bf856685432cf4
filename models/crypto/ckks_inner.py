"""Encrypted inner products ``X^T d`` for vertical LR: coefficient-encoded CKKS on SEAL.

Why not slot-wise products
--------------------------
Multiplying slot-encoded ``enc(d)`` by slot-encoded feature columns and masking the slots
(the design before this module) leaks the platform's features to the key holder in two ways:

- the imaginary part of every decrypted slot is ``x_k * Im(noise_k)``, and the bank can compute
  the noise of its own ciphertexts (it holds the secret key): masks on the real parts alone
  leave ``x_k`` readable;
- the second ciphertext component of a plaintext product is ``sum_c a_c * x_c``, a
  deterministic function of the bank's own (known) ``a_c`` and the platform's encoded
  features; with full-batch training the same ``x_c`` meet fresh ``a_c`` every epoch, so a few
  epochs give a solvable linear system for the features.

Both are closed here: every result is **rerandomised** with a fresh public-key encryption under
the bank's key (the platform's own randomness, RLWE-pseudorandom to the key holder) that also
carries a **Gaussian flood** on every coefficient of the plaintext.

Encoding
--------
Ring ``Z_Q[X]/(X^N + 1)``, ``N = 8192``, half ``H = N/2``. A chunk of ``H`` residuals becomes
``D(X) = sum_r round(2^40 d_r) X^r``; a pair of feature columns ``(a, b)`` over the same rows
becomes ``W(X) = sum_r round(2^30 a_r) X^-r + sum_r round(2^30 b_r) X^(H-r)``
(``X^-r = -X^(N-r)``). In ``D * W`` coefficient 0 is ``sum_r d_r a_r`` and coefficient ``H`` is
``sum_r d_r b_r`` (scaled by ``2^70``): every other pairing lands elsewhere because
``|r - r'| < H``. So one plaintext product per (chunk, column pair) yields two inner products,
summed over chunks; the result holds ``ceil(f / 2)`` ciphertexts for ``f`` columns. The
polynomials are handed to SEAL's CKKS encoder as their canonical embedding (computed here with
one FFT), so the encoder's inverse FFT returns the integer coefficients exactly.

Reading the two coefficients back needs no tables: with decoded slots ``z_k`` (slot ``k`` is
the evaluation at ``zeta^(5^k)``), ``c_0 = (2/N) sum_k Re z_k`` and
``c_H = (2/N) sum_k Im z_k``.

Parameters, noise and hiding
----------------------------
Coefficient modulus ``[60, 60, 60]`` bits (120-bit data level plus the special prime; the HE
standard allows 218 bits at ``N = 8192`` for 128-bit security). Scales: residuals ``2^40``
(``|d| <= 1``), features ``2^30`` (``|x| <= 2^16``), products ``2^70``. Per coefficient, in
value units: the encryption noise contributes ``< 2^-25``, the feature rounding
``2^-31 sum_r |d_r|``, the flood is Gaussian with standard deviation ``sigma`` (default
``2^36``) and its decoding in float64 adds about ``sigma * 2^-50`` (bound checked in tests).
A coefficient holding ``v`` (an inner product, ``|v| <= n * max|x|``, or a cross term of the
product) is hidden with KL divergence ``v^2 / (2 sigma^2)``. The rerandomisation's own noise
and the flood keep all coefficients below ``2^110``, inside ``Q / 2 ~ 2^119``.

What crosses
------------
Bank -> platform: seeded symmetric ciphertexts of ``D`` (IND-CPA; the seed stands for the
uniform half). Platform -> bank: ``ceil(f / 2)`` rerandomised, flooded ciphertexts. Bank ->
platform: ``v_j + flood_j`` per column; the platform removes ``flood_j``. The bank decrypts
nothing else; the platform never sees a decryption.

SEAL objects load and save only through files in TenSEAL's bindings: ciphertexts (never keys)
pass through one private 0700 directory per process, on tmpfs where available.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import math
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import tenseal.sealapi as seal

from models.crypto.ckks import CkksContext
from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument

SCHEME = "ckks"
#: Coefficient modulus of contexts used for inner products (see module docstring).
INNER_COEFF_MOD_BIT_SIZES: tuple[int, ...] = (60, 60, 60)
RESIDUAL_SCALE_BITS = 40
FEATURE_SCALE_BITS = 30
#: Largest absolute feature value (keeps products and floods inside the modulus).
MAX_FEATURE_ABS = 2.0**16
#: Default standard deviation (value units) of the Gaussian flood on every coefficient.
DEFAULT_FLOOD_SIGMA = 2.0**36
#: Largest accepted flood (keeps ``6 sigma * 2^70`` below ``Q / 2``).
MAX_FLOOD_SIGMA = 2.0**40
#: A decryption whose coefficients have an RMS beyond this (value units) is refused: it was made
#: under another key or tampered with (it then looks uniform mod Q, RMS ~2^48; floods stay at
#: or below 2^40).
DECODE_LIMIT = 2.0**44


def flood_error_bound(sigma: float) -> float:
    """Bound on the float64 decoding error of one flooded coefficient (value units)."""
    return max(sigma, 1.0) * 2.0**-40 + 2.0**-20


# -- encoding ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _layout(degree: int) -> tuple[np.ndarray, np.ndarray]:
    half = degree // 2
    exponents = np.array([pow(5, k, 2 * degree) for k in range(half)], dtype=np.int64)
    twist = np.exp(1j * np.pi * np.arange(degree) / degree)
    return (exponents - 1) // 2, twist


def embed(coeffs: np.ndarray) -> np.ndarray:
    """Canonical embedding of a real polynomial: its values at ``zeta^(5^k)``, SEAL's slots."""
    degree = int(coeffs.shape[0])
    index, twist = _layout(degree)
    return (degree * np.fft.ifft(coeffs * twist))[index]


def residual_poly(d: np.ndarray, degree: int) -> np.ndarray:
    """``D(X)`` for one chunk of at most ``degree/2`` residuals (integer coefficients)."""
    out = np.zeros(degree)
    out[: d.shape[0]] = np.round(d * 2.0**RESIDUAL_SCALE_BITS)
    return out


def column_pair_poly(a: np.ndarray, b: np.ndarray | None, degree: int) -> np.ndarray:
    """``W(X)`` for one chunk of rows of the columns ``a`` and ``b`` (``b`` may be absent)."""
    half = degree // 2
    scale = 2.0**FEATURE_SCALE_BITS
    out = np.zeros(degree)
    ra = np.round(a * scale)
    out[0] = ra[0] if ra.size else 0.0
    if ra.size > 1:
        r = np.arange(1, ra.size)
        out[degree - r] = -ra[1:]
    if b is not None and b.size:
        out[half - np.arange(b.size)] = np.round(b * scale)
    return out


def pair_coefficients(slots: np.ndarray) -> tuple[float, float]:
    """Coefficients 0 and ``N/2`` of the polynomial with these slots (same units)."""
    degree = 2 * slots.shape[0]
    total = np.sum(slots)  # pairwise summation: error ~2^-40 of the slots' size, far below noise
    return 2.0 / degree * float(total.real), 2.0 / degree * float(total.imag)


# -- SEAL plumbing -----------------------------------------------------------------------------
_SCRATCH: Path | None = None


def scratch_dir() -> Path:
    """One private directory per process (tmpfs where available), removed at exit."""
    global _SCRATCH
    if _SCRATCH is None or not _SCRATCH.is_dir():
        shm = "/dev/shm"
        base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
        _SCRATCH = Path(tempfile.mkdtemp(prefix="fedcredit-ckks-", dir=base))
        os.chmod(_SCRATCH, 0o700)
        atexit.register(shutil.rmtree, _SCRATCH, True)
    return _SCRATCH


class SealIO:
    """Save and load SEAL ciphertexts of one context through a private scratch file."""

    def __init__(self, ctx: CkksContext) -> None:
        if tuple(ctx.params.coeff_mod_bit_sizes) != INNER_COEFF_MOD_BIT_SIZES:
            raise CryptoError("this CKKS context was not made for inner products")
        self.ctx = ctx
        self.seal_context = ctx.native.seal_context().data
        self.top = self.seal_context.first_parms_id()
        self.degree = ctx.params.poly_modulus_degree
        self.encoder = seal.CKKSEncoder(self.seal_context)
        self._file = str(scratch_dir() / f"ct-{secrets.token_hex(8)}")

    def save(self, obj: Any) -> bytes:
        obj.save(self._file)
        with open(self._file, "rb") as fh:
            return fh.read()

    def load(self, blob: bytes) -> Any:
        """A fresh-level, two-component ciphertext at scale 1 (anything else is refused)."""
        with open(self._file, "wb") as fh:
            fh.write(blob)
        ct = seal.Ciphertext()
        try:
            ct.load(self.seal_context, self._file)
        except Exception as exc:  # SEAL validates sizes and moduli on load
            raise CryptoError("malformed CKKS ciphertext") from exc
        if ct.size() != 2 or not ct.is_ntt_form() or ct.parms_id() != self.top or ct.scale != 1.0:
            raise CryptoError("CKKS ciphertext has an unexpected level, size or scale")
        return ct

    def encode(self, coeffs: np.ndarray) -> Any:
        pt = seal.Plaintext()
        try:
            self.encoder.encode(embed(coeffs).tolist(), self.top, 1.0, pt)
        except ValueError as exc:  # SEAL: "encoded values are too large"
            raise CryptoError("values do not fit the CKKS modulus") from exc
        return pt

    def wire(self, blobs: list[bytes]) -> CipherArray:
        return CipherArray.of_blobs(SCHEME, self.ctx.fingerprint, blobs)


class InnerProductKey(SealIO):
    """The bank's side: encrypt residual chunks, decrypt the flooded inner products."""

    def __init__(self, ctx: CkksContext) -> None:
        if not ctx.has_secret_key:
            raise CryptoError("this CKKS context has no secret key")
        super().__init__(ctx)
        native = ctx.native
        self._encryptor = seal.Encryptor(self.seal_context, native.secret_key().data)
        self._decryptor = seal.Decryptor(self.seal_context, native.secret_key().data)

    def encrypt_residual(self, d: np.ndarray) -> CipherArray:
        """Seeded symmetric ciphertexts of ``D(X)`` per chunk of ``N/2`` residuals."""
        d = np.asarray(d, dtype=np.float64)
        if d.ndim != 1 or d.size == 0:
            raise InvalidArgument("residuals must be a non-empty vector")
        if not np.all(np.isfinite(d)) or np.abs(d).max() > 1.0:
            raise InvalidArgument("residuals must lie in [-1, 1]")
        half = self.degree // 2
        blobs = []
        for start in range(0, d.size, half):
            pt = self.encode(residual_poly(d[start : start + half], self.degree))
            blobs.append(self.save(self._encryptor.encrypt_symmetric(pt)))
        return self.wire(blobs)

    def decrypt_pairs(self, enc: CipherArray, n_values: int) -> np.ndarray:
        """The ``n_values`` flooded inner products (two per ciphertext)."""
        enc.check(SCHEME, self.ctx.fingerprint)
        blobs = enc.split()
        if enc.width != 0 or n_values < 1 or len(blobs) != -(-n_values // 2):
            raise CryptoError("masked gradient has the wrong number of ciphertexts")
        out: list[float] = []
        pt = seal.Plaintext()
        for blob in blobs:
            self._decryptor.decrypt(self.load(blob), pt)
            slots = np.asarray(self.encoder.decode_complex(pt)) * 2.0 ** -(
                RESIDUAL_SCALE_BITS + FEATURE_SCALE_BITS
            )
            # Parseval: the slots' mean square is N times the coefficients' mean square
            rms = math.sqrt(float(np.mean(np.abs(slots) ** 2)) / self.degree)
            if not rms < DECODE_LIMIT:
                raise CryptoError("CKKS ciphertext decrypts out of range: tampered or foreign")
            out.extend(pair_coefficients(slots))
        return np.array(out[:n_values])


class InnerProductEvaluator(SealIO):
    """The platform's side: flooded, rerandomised ``X^T enc(d)`` with cached column plaintexts.

    ``prepare(k)`` draws ``k`` floods and encrypts them ahead of time (they do not depend on
    the data); :meth:`masked_xt_d` uses prepared ones first. Not thread-safe.
    """

    def __init__(self, ctx: CkksContext) -> None:
        super().__init__(ctx)
        if not ctx.can_encrypt:
            raise CryptoError("inner products need the bank's public key")
        self._encryptor = seal.Encryptor(self.seal_context, ctx.native.public_key().data)
        self._evaluator = seal.Evaluator(self.seal_context)
        self._cache_key = b""
        self._plain: list[list[Any]] = []
        self._floods: list[tuple[float, Any, np.ndarray]] = []

    # -- floods ----------------------------------------------------------------------------
    def _flood(self, sigma: float, rng: np.random.Generator) -> tuple[float, Any, np.ndarray]:
        half = self.degree // 2
        unit = 2.0 ** (RESIDUAL_SCALE_BITS + FEATURE_SCALE_BITS)
        # iid complex Gaussian slots <-> iid Gaussian coefficients of std sigma (unitary map)
        std = sigma * math.sqrt(half) / math.sqrt(2.0)
        slots = (rng.normal(0.0, std, half) + 1j * rng.normal(0.0, std, half)) * unit
        pt = seal.Plaintext()
        try:
            self.encoder.encode(slots.tolist(), self.top, 1.0, pt)
        except ValueError as exc:
            raise CryptoError("flood does not fit the CKKS modulus") from exc
        ct = seal.Ciphertext()
        self._encryptor.encrypt(pt, ct)
        totals = np.array(pair_coefficients(slots / unit))
        return sigma, ct, totals

    def prepare(self, count: int, sigma: float = DEFAULT_FLOOD_SIGMA) -> None:
        """Encrypt floods ahead of use until ``count`` are ready."""
        rng = np.random.default_rng(secrets.randbits(128))
        self._floods = [f for f in self._floods if f[0] == sigma]
        while len(self._floods) < count:
            self._floods.append(self._flood(sigma, rng))

    @property
    def prepared(self) -> int:
        return len(self._floods)

    # -- plaintext columns -------------------------------------------------------------------
    def _plaintexts(self, X: np.ndarray, key: bytes) -> list[list[Any]]:
        if key == self._cache_key and self._plain:
            return self._plain
        n, f = X.shape
        half = self.degree // 2
        plain: list[list[Any]] = []
        for start in range(0, n, half):
            block = X[start : start + half]
            row = []
            for j in range(0, f, 2):
                b = block[:, j + 1] if j + 1 < f else None
                row.append(self.encode(column_pair_poly(block[:, j], b, self.degree)))
            plain.append(row)
        self._cache_key, self._plain = key, plain
        return plain

    def masked_xt_d(
        self,
        X: np.ndarray,
        blobs: list[bytes],
        *,
        sigma: float = DEFAULT_FLOOD_SIGMA,
        key: bytes | None = None,
    ) -> tuple[list[bytes], np.ndarray]:
        """Flooded, rerandomised ciphertexts of ``X^T d`` (two columns each) and the floods'
        values at the two read-out coefficients (the platform keeps them).

        ``blobs``: the bank's chunks of ``enc(d)`` (``len(X)`` residuals); ``key`` names ``X``
        for the plaintext cache (default: a digest of ``X``).
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise InvalidArgument("X must be a non-empty matrix")
        n, f = X.shape
        if len(blobs) != -(-n // (self.degree // 2)):
            raise InvalidArgument("X must have one row per encrypted value")
        if not np.all(np.isfinite(X)) or np.abs(X).max() > MAX_FEATURE_ABS:
            raise InvalidArgument("X must be finite and within the CKKS feature range")
        if not 0.0 < sigma <= MAX_FLOOD_SIGMA:
            raise InvalidArgument("flood sigma must be in (0, 2^40]")
        cts = [self.load(b) for b in blobs]
        plain = self._plaintexts(X, key if key is not None else matrix_digest(X))
        ev = self._evaluator
        tmp = seal.Ciphertext()
        out: list[bytes] = []
        totals: list[float] = []
        rng: np.random.Generator | None = None
        for p in range(len(plain[0])):
            acc = seal.Ciphertext()
            ev.multiply_plain(cts[0], plain[0][p], acc)
            for c in range(1, len(cts)):
                ev.multiply_plain(cts[c], plain[c][p], tmp)
                ev.add_inplace(acc, tmp)
            ready = [i for i, fl in enumerate(self._floods) if fl[0] == sigma]
            if ready:
                _, flood, pair = self._floods.pop(ready[0])
            else:
                rng = rng or np.random.default_rng(secrets.randbits(128))
                _, flood, pair = self._flood(sigma, rng)
            ev.add_inplace(acc, flood)
            out.append(self.save(acc))
            totals.extend(pair.tolist())
        return out, np.array(totals[:f])


def matrix_digest(X: np.ndarray) -> bytes:
    """SHA-256 of a float64 matrix and its shape (the plaintext cache key)."""
    return hashlib.sha256(
        np.asarray(X.shape, dtype="<i8").tobytes() + np.ascontiguousarray(X, "<f8").tobytes()
    ).digest()
