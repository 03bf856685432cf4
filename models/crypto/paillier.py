"""Vectorised Paillier encryption over gmpy2.

API
---
``PaillierKeypair.generate(key_bits=2048)``
    Key holder (the bank). ``.public_key``; ``.encrypt(ints)`` (fast path); ``.decrypt(enc)``
    (signed ints, centred); ``.decrypt_unsigned(enc)``; ``.precompute(count)``.
``PaillierPublicKey``
    ``n``, ``n2``, ``key_bits``, ``max_int``, ``fingerprint``; ``to_bytes()`` /
    ``from_bytes(data)``; ``encrypt(ints)``; ``rerandomize(enc)``; ``zeros(k)``.
``EncryptedVector``
    ``public_key``, ``values`` (list of ``gmpy2.mpz``); ``len``, indexing by int, slice or
    index array; ``add``/``+``, ``sub``/``-``, ``add_plain``, ``mul_scalar``, ``sum``, ``dot``,
    ``concat``; ``to_wire()`` / ``from_wire(arr, public_key)``.

Plaintexts are integers modulo ``n``; a negative ``m`` is stored as ``n - |m|``. ``decrypt``
returns centred values and raises :class:`OverflowDetected` for a value whose magnitude exceeds
``max_int`` (``n // 3``), which is what a silent wrap-around looks like.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

import gmpy2
import numpy as np
from gmpy2 import mpz

from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument, OverflowDetected

MIN_KEY_BITS = 1024
DEFAULT_KEY_BITS = 2048
SCHEME = "paillier"

# Product of the odd primes below 2000: a cheap sanity check against a malformed modulus.
_SMALL_PRIMES_PRODUCT = mpz(1)
for _p in range(3, 2000, 2):
    if gmpy2.is_prime(_p):
        _SMALL_PRIMES_PRODUCT *= _p


def _as_int_list(values: Sequence[int] | np.ndarray | int) -> list[int]:
    """Python ints from a sequence or array of integers (object, int64, uint64...)."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind not in "iuO":
            raise InvalidArgument("plaintexts must be integers")
        return [int(v) for v in values.reshape(-1).tolist()]
    if isinstance(values, int | np.integer):
        return [int(values)]
    return [int(v) for v in values]


class PaillierPublicKey:
    """A Paillier public key ``n`` (generator ``g = n + 1``) with a public DJN base ``hs``.

    ``hs = (-x^2)^n mod n^2`` is a public random n-th residue, used for fast short-exponent
    encryption by anyone (see ``docs/crypto.md``). Rerandomisation never relies on it: it uses
    ``r^n`` with uniform ``r`` so that it also hides a computation from the key holder.
    """

    def __init__(self, n: int, hs: int | None = None) -> None:
        self.n: mpz = mpz(n)
        self.n2: mpz = self.n * self.n
        self.key_bits: int = int(self.n.bit_length())
        self.max_int: int = int(self.n // 3)
        self.width: int = (int(self.n2.bit_length()) + 7) // 8
        if hs is None:
            x = mpz(secrets.randbelow(int(self.n) - 2) + 2)
            hs = gmpy2.powmod(self.n - (x * x) % self.n, self.n, self.n2)
        self.hs: mpz = mpz(hs)
        self._bytes = json.dumps(
            {"scheme": SCHEME, "n": format(int(self.n), "x"), "hs": format(int(self.hs), "x")},
            sort_keys=True,
            separators=(",", ":"),
        ).encode("ascii")
        self.fingerprint: str = hashlib.sha256(self._bytes).hexdigest()
        self._encoder: Any = None  # lazily built fixed-base tables (see models.crypto.fastenc)

    # ------------------------------------------------------------------ serialisation
    def to_bytes(self) -> bytes:
        """Canonical JSON: ``{"hs": hex, "n": hex, "scheme": "paillier"}`` (no whitespace)."""
        return self._bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> PaillierPublicKey:
        """Parse and validate a public key; raise :class:`CryptoError` if it is unusable."""
        try:
            obj = json.loads(data.decode("ascii"))
            if not isinstance(obj, dict) or obj.get("scheme") != SCHEME:
                raise CryptoError("public key is not a Paillier key")
            n = mpz(int(obj["n"], 16))
            hs = mpz(int(obj["hs"], 16))
        except CryptoError:
            raise
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise CryptoError("public key bytes are malformed") from exc
        if n.bit_length() < MIN_KEY_BITS:
            raise CryptoError("public key is shorter than 1024 bits")
        if n % 2 == 0 or gmpy2.is_square(n) or gmpy2.is_prime(n):
            raise CryptoError("public key modulus is malformed")
        if gmpy2.gcd(n, _SMALL_PRIMES_PRODUCT) != 1:
            raise CryptoError("public key modulus has a small factor")
        n2 = n * n
        if not (1 < hs < n2) or gmpy2.gcd(hs, n) != 1:
            raise CryptoError("public key DJN base is malformed")
        key = cls(n, hs)
        if key.to_bytes() != data:
            raise CryptoError("public key bytes are not canonical")
        return key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PaillierPublicKey) and self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"PaillierPublicKey(bits={self.key_bits}, fingerprint={self.fingerprint[:16]})"

    # ------------------------------------------------------------------ encoding
    def encode(self, plaintexts: Sequence[int] | np.ndarray | int) -> list[mpz]:
        """Plaintexts as residues mod n; negatives become ``n - |m|``.

        Accepts ``-max_int <= m < n`` (non-negative values up to ``n - 1`` are taken as
        unsigned, e.g. packed slots); anything else raises :class:`OverflowDetected`.
        """
        n = self.n
        lo = -self.max_int
        out: list[mpz] = []
        for v in _as_int_list(plaintexts):
            if v < 0:
                if v < lo:
                    raise OverflowDetected("plaintext is below -max_int")
                out.append(n + v)
            else:
                if v >= n:
                    raise OverflowDetected("plaintext is not below the modulus")
                out.append(mpz(v))
        return out

    # ------------------------------------------------------------------ encryption
    def random_nth_residues(self, k: int) -> list[mpz]:
        """``k`` values ``r^n mod n^2`` with ``r`` uniform in ``Z_n^*`` (perfectly hiding)."""
        n = self.n
        rs = [mpz(secrets.randbelow(int(n) - 1) + 1) for _ in range(k)]
        return list(gmpy2.powmod_base_list(rs, n, self.n2)) if rs else []

    def encrypt(self, plaintexts: Sequence[int] | np.ndarray | int) -> EncryptedVector:
        """Encrypt with the public key only (anyone can do this)."""
        ms = self.encode(plaintexts)
        n, n2 = self.n, self.n2
        rn = self.random_nth_residues(len(ms))
        return EncryptedVector(self, [(1 + m * n) * r % n2 for m, r in zip(ms, rn, strict=True)])

    def rerandomize(self, enc: EncryptedVector) -> EncryptedVector:
        """Multiply each ciphertext by a fresh uniform ``r^n``: a new, independent encryption of
        the same plaintexts. Use before a ciphertext that went through a computation leaves its
        holder, so the result carries no trace of which ciphertexts were combined."""
        self._check_same(enc)
        n2 = self.n2
        rn = self.random_nth_residues(len(enc))
        return EncryptedVector(self, [c * r % n2 for c, r in zip(enc.values, rn, strict=True)])

    def zeros(self, k: int) -> EncryptedVector:
        """``k`` deterministic encryptions of 0 (the ciphertext 1). Rerandomise before sending."""
        one = mpz(1)
        return EncryptedVector(self, [one] * k)

    def _check_same(self, enc: EncryptedVector) -> None:
        if enc.public_key is not self and enc.public_key.fingerprint != self.fingerprint:
            raise CryptoError("ciphertexts are under a different key")


class PaillierKeypair:
    """The key holder's keys. The secret primes never leave this object (no serialisation)."""

    def __init__(self, public_key: PaillierPublicKey, p: int, q: int) -> None:
        p_, q_ = mpz(p), mpz(q)
        if p_ * q_ != public_key.n or p_ == q_:
            raise CryptoError("secret primes do not match the public key")
        if p_ > q_:
            p_, q_ = q_, p_
        self.public_key = public_key
        self._p, self._q = p_, q_
        self._p2, self._q2 = p_ * p_, q_ * q_
        g = public_key.n + 1
        self._hp = gmpy2.invert(self._l(gmpy2.powmod(g, p_ - 1, self._p2), p_), p_)
        self._hq = gmpy2.invert(self._l(gmpy2.powmod(g, q_ - 1, self._q2), q_), q_)
        self._p_inv_q = gmpy2.invert(p_, q_)
        self._p2_inv_q2 = gmpy2.invert(self._p2, self._q2)
        self._pool: list[mpz] = []

    @staticmethod
    def _l(x: mpz, p: mpz) -> mpz:
        return (x - 1) // p

    @classmethod
    def generate(cls, key_bits: int = DEFAULT_KEY_BITS) -> PaillierKeypair:
        """New keys; primes from ``phe.generate_paillier_keypair``. Refuses < 1024 bits."""
        if key_bits < MIN_KEY_BITS:
            raise CryptoError("Paillier keys shorter than 1024 bits are refused")
        from phe import paillier as phe_paillier

        pub, priv = phe_paillier.generate_paillier_keypair(n_length=key_bits)
        return cls(PaillierPublicKey(pub.n), priv.p, priv.q)

    @classmethod
    def from_phe(cls, private_key: Any) -> PaillierKeypair:
        """Wrap an existing ``phe`` private key (interop and tests)."""
        return cls(PaillierPublicKey(private_key.public_key.n), private_key.p, private_key.q)

    # ------------------------------------------------------------------ encryption
    def _nth_residues(self, k: int) -> list[mpz]:
        """``k`` random n-th residues mod n^2, via CRT (key-holder only)."""
        pk = self.public_key
        n = pk.n
        p2, q2 = self._p2, self._q2
        ep = n % (self._p * (self._p - 1))
        eq = n % (self._q * (self._q - 1))
        out: list[mpz] = []
        take = min(k, len(self._pool))
        if take:
            out.extend(self._pool[-take:])
            del self._pool[-take:]
        rest = k - take
        if rest:
            rs = [mpz(secrets.randbelow(int(n) - 1) + 1) for _ in range(rest)]
            xp = gmpy2.powmod_base_list([r % p2 for r in rs], ep, p2)
            xq = gmpy2.powmod_base_list([r % q2 for r in rs], eq, q2)
            c = self._p2_inv_q2
            out.extend(a + p2 * ((b - a) * c % q2) for a, b in zip(xp, xq, strict=True))
        return out

    def precompute(self, count: int) -> None:
        """Fill the pool of random n-th residues ahead of use (e.g. while waiting)."""
        if count > 0:
            self._pool.extend(self._nth_residues(count))

    def encrypt(
        self, plaintexts: Sequence[int] | np.ndarray | int, *, workers: int | None = None
    ) -> EncryptedVector:
        """Key-holder encryption (CRT fast path). Same ciphertext distribution as public-key
        encryption."""
        pk = self.public_key
        ms = pk.encode(plaintexts)
        n, n2 = pk.n, pk.n2
        rn = self._nth_residues(len(ms))
        return EncryptedVector(pk, [(1 + m * n) * r % n2 for m, r in zip(ms, rn, strict=True)])

    # ------------------------------------------------------------------ decryption
    def decrypt_unsigned(self, enc: EncryptedVector, *, workers: int | None = None) -> list[int]:
        """Plaintexts in ``[0, n)``."""
        self.public_key._check_same(enc)
        p, q, p2, q2 = self._p, self._q, self._p2, self._q2
        cp = gmpy2.powmod_base_list([c % p2 for c in enc.values], p - 1, p2)
        cq = gmpy2.powmod_base_list([c % q2 for c in enc.values], q - 1, q2)
        hp, hq, pinv = self._hp, self._hq, self._p_inv_q
        out: list[int] = []
        for a, b in zip(cp, cq, strict=True):
            mp = (a - 1) // p * hp % p
            mq = (b - 1) // q * hq % q
            out.append(int(mp + p * ((mq - mp) * pinv % q)))
        return out

    def decrypt(self, enc: EncryptedVector, *, workers: int | None = None) -> list[int]:
        """Signed plaintexts (values above ``n/2`` are negative).

        Raises :class:`OverflowDetected` if a value lies outside ``[-max_int, max_int]``.
        """
        n = int(self.public_key.n)
        half = n // 2
        max_int = self.public_key.max_int
        out = [m - n if m > half else m for m in self.decrypt_unsigned(enc, workers=workers)]
        for m in out:
            if m > max_int or m < -max_int:
                raise OverflowDetected("a decrypted value is outside the signed plaintext range")
        return out


class EncryptedVector:
    """A vector of Paillier ciphertexts under one public key (immutable by convention)."""

    __slots__ = ("public_key", "values")

    def __init__(self, public_key: PaillierPublicKey, values: list[mpz]) -> None:
        self.public_key = public_key
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"EncryptedVector(len={len(self.values)}, key={self.public_key.fingerprint[:16]})"

    def __getitem__(self, idx: int | slice | np.ndarray | Sequence[int]) -> EncryptedVector:
        vals = self.values
        if isinstance(idx, slice):
            return EncryptedVector(self.public_key, vals[idx])
        if isinstance(idx, int | np.integer):
            return EncryptedVector(self.public_key, [vals[int(idx)]])
        arr = np.asarray(idx)
        if arr.dtype == bool:
            if arr.shape != (len(vals),):
                raise InvalidArgument("boolean index has the wrong length")
            arr = np.flatnonzero(arr)
        return EncryptedVector(self.public_key, [vals[i] for i in arr.tolist()])

    def _same(self, other: EncryptedVector) -> None:
        if other.public_key is not self.public_key:
            self.public_key._check_same(other)
        if len(other.values) != len(self.values):
            raise InvalidArgument("encrypted vectors have different lengths")

    def add(self, other: EncryptedVector) -> EncryptedVector:
        """Elementwise ``E(a + b)``."""
        self._same(other)
        n2 = self.public_key.n2
        return EncryptedVector(
            self.public_key, [a * b % n2 for a, b in zip(self.values, other.values, strict=True)]
        )

    __add__ = add

    def sub(self, other: EncryptedVector) -> EncryptedVector:
        """Elementwise ``E(a - b)``."""
        self._same(other)
        n2 = self.public_key.n2
        inv = gmpy2.invert
        return EncryptedVector(
            self.public_key,
            [a * inv(b, n2) % n2 for a, b in zip(self.values, other.values, strict=True)],
        )

    __sub__ = sub

    def neg(self) -> EncryptedVector:
        """Elementwise ``E(-a)``."""
        n2 = self.public_key.n2
        inv = gmpy2.invert
        return EncryptedVector(self.public_key, [inv(a, n2) for a in self.values])

    def add_plain(self, ints: Sequence[int] | np.ndarray | int) -> EncryptedVector:
        """Elementwise ``E(a + k)``; a single int is broadcast."""
        pk = self.public_key
        ks = pk.encode(ints)
        if len(ks) == 1 and len(self.values) != 1:
            ks = ks * len(self.values)
        if len(ks) != len(self.values):
            raise InvalidArgument("plaintext vector has the wrong length")
        n, n2 = pk.n, pk.n2
        return EncryptedVector(
            pk, [(1 + k * n) * a % n2 for a, k in zip(self.values, ks, strict=True)]
        )

    def mul_scalar(self, ints: Sequence[int] | np.ndarray | int) -> EncryptedVector:
        """Elementwise ``E(a * k)`` for plaintext ints ``k`` (negatives allowed); a single int
        is broadcast."""
        ks = _as_int_list(ints)
        if len(ks) == 1 and len(self.values) != 1:
            ks = ks * len(self.values)
        if len(ks) != len(self.values):
            raise InvalidArgument("scalar vector has the wrong length")
        n2 = self.public_key.n2
        pw = gmpy2.powmod
        return EncryptedVector(
            self.public_key, [pw(a, k, n2) for a, k in zip(self.values, ks, strict=True)]
        )

    def sum(self) -> EncryptedVector:
        """``E(sum_i a_i)`` as a length-1 vector."""
        n2 = self.public_key.n2
        acc = mpz(1)
        for c in self.values:
            acc = acc * c % n2
        return EncryptedVector(self.public_key, [acc])

    def dot(self, ints: Sequence[int] | np.ndarray) -> EncryptedVector:
        """``E(sum_i a_i * k_i)`` as a length-1 vector."""
        return self.mul_scalar(ints).sum() if len(self.values) else self.public_key.zeros(1)

    @staticmethod
    def concat(parts: Sequence[EncryptedVector]) -> EncryptedVector:
        """Join vectors under the same key."""
        if not parts:
            raise InvalidArgument("nothing to concatenate")
        pk = parts[0].public_key
        vals: list[mpz] = []
        for part in parts:
            if part.public_key is not pk:
                pk._check_same(part)
            vals.extend(part.values)
        return EncryptedVector(pk, vals)

    # ------------------------------------------------------------------ wire
    def to_wire(self) -> CipherArray:
        """Fixed-width big-endian bytes (width = bytes of ``n^2``)."""
        pk = self.public_key
        w = pk.width
        data = b"".join(c.to_bytes(w, "big") for c in self.values)
        return CipherArray(
            scheme=SCHEME,
            key_fingerprint=pk.fingerprint,
            count=len(self.values),
            width=w,
            data=data,
        )

    @classmethod
    def from_wire(cls, arr: CipherArray, public_key: PaillierPublicKey) -> EncryptedVector:
        """Parse and validate: right scheme, key and sizes, and ``0 < c < n^2`` coprime to n
        (checked cheaply: a ciphertext sharing a factor with n would reveal the key)."""
        arr.check(SCHEME, public_key.fingerprint)
        if arr.width != public_key.width:
            raise CryptoError("ciphertext width does not match the key")
        n2 = public_key.n2
        w = arr.width
        data = arr.data
        frm = mpz.from_bytes
        vals = [frm(data[i * w : (i + 1) * w], "big") for i in range(arr.count)]
        for c in vals:
            if not 0 < c < n2:
                raise CryptoError("a ciphertext is out of range")
        return cls(public_key, vals)
