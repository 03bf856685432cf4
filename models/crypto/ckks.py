"""CKKS through TenSEAL, shaped for linear models: batched vectors and masked ``X^T d``.

Parameters and security
-----------------------
Default: ring degree ``N = 8192``, coefficient modulus primes of ``[60, 40, 40, 60]`` bits
(200 bits in total, the last prime is SEAL's special key-switching prime), scale ``2^40``,
ternary secret, error with sigma 3.2. The Homomorphic Encryption Standard (Albrecht et al.,
2018, table 1, classical attacks) allows at most 218 bits of modulus at ``N = 8192`` for
128-bit security, so these parameters give >= 128-bit security. :meth:`CkksContext.from_bytes`
refuses any context whose modulus exceeds the standard's 128-bit bound for its ring degree, or
whose ring degree is below 8192.

What travels
------------
The key holder (the bank) creates the context. Only :meth:`CkksContext.public_bytes` ever leaves
it: the public key and parameters, without the secret key, relinearisation or Galois keys (the
protocols here need none: no ciphertext-ciphertext products, no rotations).

``X^T d`` without rotations
---------------------------
An encrypted vector of ``n`` values is a list of ciphertexts of ``slot_count`` (N/2) slots each
(the last one zero-padded). :meth:`CkksContext.xt_d` multiplies chunk ``c`` of ``enc(d)`` by the
matching rows of column ``j`` (one plaintext product per chunk and column) and adds the chunks
up: column ``j`` becomes ONE ciphertext whose slots sum to ``(X^T d)_j`` (a
:class:`CkksSlotSums`). The final slot sum is done by the key holder after decryption
(:meth:`CkksContext.decrypt_sums`). TenSEAL's ``dot``/``sum`` would do that sum under
encryption with 12 rotations per column (about 12 ms each here, and 35 MB of Galois keys), and
its ``matmul`` is ~57x slower still. Because the key holder would otherwise see per-slot partial
sums, an evaluator that is not the key holder must call :meth:`CkksSlotSums.add_masks` before
sending the result: every slot gets an independent Gaussian mask, and the evaluator keeps the
mask totals to remove from the decrypted sums (see ``docs/logreg.md`` for the disclosure).

Exactness of the rescale: TenSEAL rescales after each plaintext product and then declares the
result's scale to be the initial scale ``Delta``, although the true scale is ``Delta^2 / q``
(``q`` the dropped 40-bit prime, ``q / Delta ~ 1 - 1.3e-7``). We pre-multiply the plaintext
by ``q / Delta`` so that decrypted values carry no such relative bias; ``q`` is recomputed with
SEAL's own prime selection and checked against the low 64 bits of the modulus product that
TenSEAL exposes.

Error bounds
------------
For ``R = X^T d`` computed by :meth:`CkksContext.xt_d` and decrypted by
:meth:`CkksContext.decrypt_sums`, with ``C`` chunks and ``S = slot_count``::

    |R_j - (X^T d)_j| <= 2^-20 * ||x_j||_1 + 2^-20 * ||d||_1 + 2^-24 * C * S

The first term is the fresh-encryption noise of ``enc(d)`` (the high-probability canonical
embedding bound ``B_clean = 8*sqrt(2)*sigma*N + 6*sigma*sqrt(N) + 16*sigma*sqrt(h*N)``
~ ``2^19.3`` at ``N = 8192``, divided by ``Delta = 2^40``) scaled by each plaintext value; the
second the rounding of the encoded plaintext column; the third the rescale rounding per slot.
With masks of standard deviation ``sigma_m`` the decrypted slots are of size ~``sigma_m`` and
their float64 decoding adds at most ``C_m = S * 8 * sigma_m * 2^-45`` (see
:meth:`CkksSlotSums.mask_error_bound`). ``tests/test_ckks.py`` checks these bounds; measured
errors are 2-4 orders of magnitude below them.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gmpy2
import numpy as np
import tenseal as ts

from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument

SCHEME = "ckks"
_MAGIC = b"fedcredit-ckks-v1\n"
KEY_ID_BYTES = 16

# TenSEAL's native (C++) vector type: its Python wrapper adds ~15% per operation in hot loops.
_native: Any = ts._ts_cpp

DEFAULT_POLY_MODULUS_DEGREE = 8192
DEFAULT_COEFF_MOD_BIT_SIZES: tuple[int, ...] = (60, 40, 40, 60)
DEFAULT_GLOBAL_SCALE = 2.0**40

#: Largest total coefficient modulus (bits) for 128-bit classical security, ternary secret
#: (Homomorphic Encryption Standard, 2018, table 1).
HE_STANDARD_128_MAX_BITS = {8192: 218, 16384: 438, 32768: 881}

#: Per-slot relative noise bound of a fresh encryption at scale 2^40 (see module docstring).
FRESH_NOISE_BOUND = 2.0**-20
#: Per-slot absolute bound of rescale and encoding rounding.
ROUNDING_BOUND = 2.0**-24
#: Default standard deviation of the per-slot masks of :meth:`CkksSlotSums.add_masks`.
DEFAULT_MASK_SIGMA = 2.0**24
#: Largest absolute plaintext value accepted for encryption or as a plaintext factor.
MAX_ABS_VALUE = 2.0**30
#: A decrypted slot beyond this is refused: a corrupted or foreign ciphertext decrypts to
#: values near ``q / Delta * sqrt(N)`` (~2^100 here), legitimate results stay below ~2^50.
DECRYPT_LIMIT = 2.0**55


def seal_primes(poly_modulus_degree: int, bit_sizes: Sequence[int]) -> list[int]:
    """The coefficient modulus primes SEAL's ``CoeffModulus::Create`` picks for these sizes.

    For each bit size, SEAL takes the largest primes ``p = 1 (mod 2N)`` below ``2^bits`` in
    decreasing order, and hands them out from the smallest as that size recurs in the list.
    """
    factor = 2 * poly_modulus_degree
    table: dict[int, list[int]] = {}
    for bits, count in Counter(bit_sizes).items():
        primes: list[int] = []
        value = (1 << bits) - factor + 1
        while len(primes) < count:
            if value <= (1 << (bits - 1)):
                raise CryptoError("no CKKS primes exist for these modulus sizes")
            if gmpy2.is_prime(value, 50):
                primes.append(value)
            value -= factor
        table[bits] = primes
    return [table[bits].pop() for bits in bit_sizes]


def _level_bits(seal_context: Any) -> tuple[list[int], int]:
    """Bit counts of the modulus at each data level (top first) and of the key level."""
    bits: list[int] = []
    data = seal_context.first_context_data()
    while data is not None:
        bits.append(int(data.total_coeff_modulus_bit_count()))
        data = data.next_context_data()
    return bits, int(seal_context.key_context_data().total_coeff_modulus_bit_count())


def _checked(values: list[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or (arr.size and np.abs(arr).max() > DECRYPT_LIMIT):
        raise CryptoError("CKKS ciphertext decrypts out of range: tampered or under another key")
    return arr


@dataclass(frozen=True)
class CkksParams:
    """The public parameters of a context."""

    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    global_scale: float
    primes: tuple[int, ...]

    @property
    def slot_count(self) -> int:
        return self.poly_modulus_degree // 2

    @property
    def rescale_compensation(self) -> float:
        """``q / Delta`` for the prime dropped by the first rescale (see module docstring)."""
        return self.primes[len(self.primes) - 2] / self.global_scale


def _params_of(context: ts.Context) -> CkksParams:
    seal_context = context.seal_context().data
    key_parms = seal_context.key_context_data().parms()
    if key_parms.scheme() != ts.SCHEME_TYPE.CKKS.value:
        raise CryptoError("context is not a CKKS context")
    degree = int(key_parms.poly_modulus_degree())
    levels, key_bits = _level_bits(seal_context)
    # Data-level moduli shrink by one prime per level; the key level adds the special prime.
    chain = [levels[-1]] + [levels[i] - levels[i + 1] for i in range(len(levels) - 2, -1, -1)]
    sizes = (*chain, key_bits - levels[0])
    primes = seal_primes(degree, sizes)
    # Verify against what TenSEAL exposes: the low 64 bits of each level's modulus product.
    data = seal_context.first_context_data()
    count = len(sizes) - 1
    while data is not None:
        product = math.prod(primes[:count])
        if product % (1 << 64) != int(data.total_coeff_modulus()):
            raise CryptoError("could not identify the context's modulus primes")
        data = data.next_context_data()
        count -= 1
    try:
        scale = float(context.global_scale)
    except ValueError:
        raise CryptoError("context has no global scale") from None
    return CkksParams(degree, tuple(int(s) for s in sizes), scale, tuple(primes))


def _check_security(params: CkksParams) -> None:
    max_bits = HE_STANDARD_128_MAX_BITS.get(params.poly_modulus_degree)
    if max_bits is None:
        raise CryptoError("CKKS ring degree must be 8192, 16384 or 32768")
    if sum(params.coeff_mod_bit_sizes) > max_bits:
        raise CryptoError("CKKS modulus too large for 128-bit security at this ring degree")
    if params.global_scale < 2.0**30 or len(params.coeff_mod_bit_sizes) < 3:
        raise CryptoError("CKKS scale or modulus chain too small for one plaintext product")


@dataclass
class CkksVector:
    """An encrypted float vector: ``chunks`` of ``slot_count`` slots, ``length`` values used."""

    context: CkksContext
    chunks: list[Any]
    length: int

    def __len__(self) -> int:
        return self.length

    def __add__(self, other: CkksVector) -> CkksVector:
        self._check_same(other)
        return CkksVector(
            self.context,
            [a.add(b) for a, b in zip(self.chunks, other.chunks, strict=True)],
            self.length,
        )

    def __sub__(self, other: CkksVector) -> CkksVector:
        self._check_same(other)
        return CkksVector(
            self.context,
            [a.sub(b) for a, b in zip(self.chunks, other.chunks, strict=True)],
            self.length,
        )

    def add_plain(self, values: np.ndarray) -> CkksVector:
        """Add a plaintext vector of the same length (fresh, not-multiplied vectors only)."""
        padded = self.context._padded(values, self.length)
        return CkksVector(
            self.context,
            [c.add_plain(padded[i].tolist()) for i, c in enumerate(self.chunks)],
            self.length,
        )

    def _check_same(self, other: CkksVector) -> None:
        if other.context.fingerprint != self.context.fingerprint:
            raise CryptoError("ciphertexts are under a different key")
        if other.length != self.length:
            raise InvalidArgument("encrypted vectors differ in length")

    def serialized_size(self) -> int:
        return sum(len(c.serialize()) for c in self.chunks)


@dataclass
class CkksSlotSums:
    """Encrypted scalars, each represented by one ciphertext whose used slots sum to it.

    ``masked`` records whether :meth:`add_masks` was applied (a passive party must mask before
    sending: unmasked slots reveal partial sums of the plaintext product).
    """

    context: CkksContext
    ciphertexts: list[Any]
    slots: int
    masked: bool = False
    maskable: bool = True

    def __len__(self) -> int:
        return len(self.ciphertexts)

    def add_masks(self, rng: np.random.Generator, sigma: float = DEFAULT_MASK_SIGMA) -> np.ndarray:
        """Add an independent N(0, sigma^2) mask to every used slot, in place.

        Returns the exact (``math.fsum``) mask total per scalar; the evaluator keeps it and
        subtracts it from the decrypted, masked sums it gets back.
        """
        if not 0.0 < sigma <= 2.0**28:
            raise InvalidArgument("mask sigma must be in (0, 2^28]")
        if not self.maskable:
            raise InvalidArgument("these sums were computed with maskable=False")
        totals = np.empty(len(self.ciphertexts))
        for j, ct in enumerate(self.ciphertexts):
            mask = rng.normal(0.0, sigma, size=self.slots)
            ct.add_plain_(mask.tolist())
            totals[j] = math.fsum(mask.tolist())
        self.masked = True
        return totals

    def mask_error_bound(self, sigma: float = DEFAULT_MASK_SIGMA) -> float:
        """Extra absolute error of a masked sum from float64 decoding of large slot values."""
        return self.slots * 8.0 * sigma * 2.0**-45

    def to_wire(self) -> CipherArray:
        return self.context._to_wire(self.ciphertexts)

    def serialized_size(self) -> int:
        return sum(len(c.serialize()) for c in self.ciphertexts)


class CkksContext:
    """A CKKS context: private (key holder, can decrypt) or public (evaluator, cannot).

    Create a private one with :meth:`create`; send :meth:`public_bytes` to the evaluator, which
    loads it with :meth:`from_bytes`.
    """

    def __init__(self, context: ts.Context, public_bytes: bytes) -> None:
        self._ctx = context
        self._public_bytes = public_bytes
        self._fingerprint = hashlib.sha256(public_bytes).hexdigest()
        self._ctx.auto_rescale = True
        self._ctx.auto_relin = False
        self.params = _params_of(context)
        _check_security(self.params)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        poly_modulus_degree: int = DEFAULT_POLY_MODULUS_DEGREE,
        coeff_mod_bit_sizes: Sequence[int] = DEFAULT_COEFF_MOD_BIT_SIZES,
        global_scale: float = DEFAULT_GLOBAL_SCALE,
        *,
        symmetric: bool = False,
    ) -> CkksContext:
        """A new private context (keys generated here; the secret key never leaves it).

        ``symmetric=True``: the key holder encrypts with its secret key (RLWE secret-key
        encryption, about 2x faster) and :meth:`public_bytes` then carries the parameters only,
        so the evaluator can compute on ciphertexts but not encrypt.
        """
        max_bits = HE_STANDARD_128_MAX_BITS.get(poly_modulus_degree)
        if max_bits is None or sum(coeff_mod_bit_sizes) > max_bits:
            raise CryptoError("CKKS parameters below 128-bit security")
        enc_type = ts.ENCRYPTION_TYPE.SYMMETRIC if symmetric else ts.ENCRYPTION_TYPE.ASYMMETRIC
        try:
            ctx = ts.context(
                ts.SCHEME_TYPE.CKKS,
                poly_modulus_degree=poly_modulus_degree,
                coeff_mod_bit_sizes=list(coeff_mod_bit_sizes),
                encryption_type=enc_type,
            )
        except ValueError as exc:
            raise CryptoError("invalid CKKS parameters") from exc
        ctx.global_scale = float(global_scale)
        body = ctx.serialize(
            save_public_key=not symmetric,
            save_secret_key=False,
            save_galois_keys=False,
            save_relin_keys=False,
        )
        # A random key id makes the fingerprint unique even when no public key is included.
        return cls(ctx, _MAGIC + secrets.token_bytes(KEY_ID_BYTES) + body)

    @classmethod
    def from_bytes(cls, data: bytes) -> CkksContext:
        """Load a public context; refuses one that carries a secret key or weak parameters."""
        data = bytes(data)
        if not data.startswith(_MAGIC) or len(data) <= len(_MAGIC) + KEY_ID_BYTES:
            raise CryptoError("malformed CKKS context")
        try:
            ctx = ts.context_from(data[len(_MAGIC) + KEY_ID_BYTES :])
        except Exception as exc:  # TenSEAL raises ValueError/RuntimeError on bad streams
            raise CryptoError("malformed CKKS context") from exc
        if ctx.has_secret_key() or not ctx.is_public():
            raise CryptoError("a CKKS context on the wire must not carry a secret key")
        return cls(ctx, data)

    @property
    def can_encrypt(self) -> bool:
        """False for the public side of a symmetric context (no public key)."""
        if self._ctx.has_secret_key():
            return True
        try:
            return bool(self._ctx.has_public_key())
        except ValueError:  # TenSEAL: "not supported for symmetric encryption"
            return False

    def public_bytes(self) -> bytes:
        """The public context: a header with a random key id, then TenSEAL's serialisation of
        the parameters and (asymmetric contexts) the public key; never the secret key."""
        return self._public_bytes

    @property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of :meth:`public_bytes`: names the key in :class:`CipherArray`."""
        return self._fingerprint

    @property
    def has_secret_key(self) -> bool:
        return bool(self._ctx.has_secret_key())

    @property
    def slot_count(self) -> int:
        return self.params.slot_count

    # -- encryption --------------------------------------------------------------------------
    def encrypt_vector(self, values: np.ndarray) -> CkksVector:
        """Encrypt a 1-D float vector in ``ceil(n / slot_count)`` zero-padded ciphertexts."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1:
            raise InvalidArgument("CKKS encrypts one-dimensional vectors")
        n = int(arr.shape[0])
        if not self.can_encrypt:
            raise CryptoError("this CKKS context has no key to encrypt with")
        padded = self._padded(arr, n)
        chunks = [_native.CKKSVector(self._ctx.data, row.tolist()) for row in padded]
        return CkksVector(self, chunks, n)

    def decrypt(self, enc: CkksVector) -> np.ndarray:
        """Decrypt to float64 (key holder only)."""
        self._require_secret()
        self._check_owner(enc.context)
        if not enc.chunks:
            return np.zeros(0)
        out = np.concatenate([_checked(c.decrypt()) for c in enc.chunks])
        return out[: enc.length]

    # -- linear algebra ------------------------------------------------------------------------
    def xt_d(self, X: np.ndarray, enc_d: CkksVector, *, maskable: bool = True) -> CkksSlotSums:
        """``X^T d`` for a plaintext ``X`` of shape (n, f) and ``enc(d)`` of length n.

        One plaintext product per chunk and column, summed over chunks (no rotations, no
        rescale). The result holds one ciphertext per column whose slots sum to ``(X^T d)_j``.

        ``maskable=True`` (the default, needed before sending the result to the key holder)
        then rescales each column once, by multiplying with the constant polynomial 1 (the
        plaintext ``1 / Delta`` encodes exactly to it) under TenSEAL's auto-rescale, so that
        :meth:`CkksSlotSums.add_masks` can add plaintext masks at the initial scale;
        ``maskable=False`` leaves the sums at scale ``Delta^2`` (for results that the key
        holder itself computes and decrypts).
        """
        self._check_owner(enc_d.context)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != enc_d.length:
            raise InvalidArgument("X must have one row per encrypted value")
        if not np.all(np.isfinite(X)) or (X.size and np.abs(X).max() > MAX_ABS_VALUE):
            raise InvalidArgument("X must be finite and within the CKKS value range")
        n, f = X.shape
        if n == 0:
            raise InvalidArgument("no rows to multiply")
        slots = self.slot_count
        chunks = enc_d.chunks
        comp = self.params.rescale_compensation if maskable else 1.0
        Xc = np.zeros((f, len(chunks) * slots))
        Xc[:, :n] = X.T * comp
        sums: list[Any] = []
        native_ctx = enc_d.context._ctx  # the context the chunks are linked to
        native_ctx.auto_rescale = False
        try:
            for c, chunk in enumerate(chunks):
                block = Xc[:, c * slots : (c + 1) * slots]
                for j in range(f):
                    prod = chunk.mul_plain(block[j].tolist())
                    if c == 0:
                        sums.append(prod)
                    else:
                        sums[j].add_(prod)
            if maskable:
                native_ctx.auto_rescale = True
                one = 1.0 / self.params.global_scale
                for ct in sums:
                    ct.mul_plain_(one)
        finally:
            native_ctx.auto_rescale = True
        return CkksSlotSums(self, sums, slots, maskable=maskable)

    def decrypt_sums(self, sums: CkksSlotSums) -> np.ndarray:
        """Decrypt each scalar of a :class:`CkksSlotSums` (exactly-rounded float sum of slots)."""
        self._require_secret()
        self._check_owner(sums.context)
        return np.array(
            [math.fsum(_checked(ct.decrypt())[: sums.slots].tolist()) for ct in sums.ciphertexts]
        )

    @staticmethod
    def xt_d_error_bound(X: np.ndarray, d: np.ndarray, slot_count: int) -> np.ndarray:
        """The documented bound on ``|xt_d(X, enc(d)) - X^T d|`` per column (no masks)."""
        X = np.asarray(X, dtype=np.float64)
        d = np.asarray(d, dtype=np.float64)
        chunks = max(1, -(-X.shape[0] // slot_count))
        return (
            FRESH_NOISE_BOUND * np.abs(X).sum(axis=0)
            + FRESH_NOISE_BOUND * float(np.abs(d).sum())
            + ROUNDING_BOUND * chunks * slot_count
        )

    # -- wire --------------------------------------------------------------------------------
    def vector_to_wire(self, enc: CkksVector) -> CipherArray:
        self._check_owner(enc.context)
        return self._to_wire(enc.chunks)

    def vector_from_wire(self, array: CipherArray, length: int) -> CkksVector:
        """Load an encrypted vector of ``length`` values (refuses a wrong key or bad sizes)."""
        chunks = self._from_wire(array)
        if length < 0 or len(chunks) != -(-length // self.slot_count):
            raise CryptoError("encrypted vector has the wrong number of chunks for its length")
        return CkksVector(self, chunks, length)

    def sums_from_wire(self, array: CipherArray, *, masked: bool = True) -> CkksSlotSums:
        return CkksSlotSums(self, self._from_wire(array), self.slot_count, masked=masked)

    def _to_wire(self, cts: Sequence[Any]) -> CipherArray:
        blobs = [ct.serialize() for ct in cts]
        return CipherArray(
            scheme=SCHEME,
            key_fingerprint=self.fingerprint,
            count=len(blobs),
            width=0,
            data=b"".join(blobs),
            lengths=[len(b) for b in blobs],
        )

    def _from_wire(self, array: CipherArray) -> list[Any]:
        array.check(SCHEME, self.fingerprint)
        if array.width != 0:
            raise CryptoError("CKKS ciphertexts are variable-width")
        out = []
        for blob in array.split():
            try:
                vec = _native.CKKSVector(self._ctx.data, blob)
            except Exception as exc:  # malformed or tampered bytes
                raise CryptoError("malformed CKKS ciphertext") from exc
            if vec.size() != self.slot_count:
                raise CryptoError("CKKS ciphertext has an unexpected number of slots")
            out.append(vec)
        return out

    # -- helpers -------------------------------------------------------------------------------
    def _padded(self, values: np.ndarray, length: int) -> np.ndarray:
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (length,):
            raise InvalidArgument("plaintext vector has the wrong length")
        if not np.all(np.isfinite(arr)) or (arr.size and np.abs(arr).max() > MAX_ABS_VALUE):
            raise InvalidArgument("values must be finite and within the CKKS value range")
        slots = self.slot_count
        count = -(-length // slots)
        out = np.zeros(count * slots)
        out[:length] = arr
        return out.reshape(count, slots)

    def _require_secret(self) -> None:
        if not self.has_secret_key:
            raise CryptoError("this CKKS context has no secret key")

    def _check_owner(self, other: CkksContext) -> None:
        if other.fingerprint != self.fingerprint:
            raise CryptoError("ciphertexts are under a different key")
