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

Inner products
--------------
The vertical-LR gradient ``X^T enc(d)`` does not use these slot vectors: see
:mod:`models.crypto.ckks_coeff` (coefficient encoding, exact read-outs; every other
coefficient masked uniformly modulo q and the result rerandomised before it reaches the key
holder). Slot-wise products of a
key holder's ciphertext with a third party's plaintext must not be returned to the key holder
as they are: the product's second component and the imaginary parts of its slots reveal the
plaintext factor.

Error bounds
------------
A fresh encryption decrypts with a per-slot error below ``2^-20`` relative to the values
(canonical-embedding bound ``B_clean ~ 2^19.3`` at ``N = 8192``, divided by ``Delta = 2^40``)
plus encoding rounding below ``2^-24``; ``tests/test_ckks.py`` checks it.
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
    def native(self) -> ts.Context:
        """The TenSEAL context (for SEAL-level code in :mod:`models.crypto.ckks_coeff`)."""
        return self._ctx

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

    def _to_wire(self, cts: Sequence[Any]) -> CipherArray:
        return CipherArray.of_blobs(SCHEME, self.fingerprint, [ct.serialize() for ct in cts])

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
