"""DJN-style obfuscators ``hs^a`` with a short random exponent ``a`` and fixed-base tables.

A Paillier ciphertext is ``(1 + m n) * rho mod n^2`` where ``rho`` is a random n-th residue.
Following Damgård, Jurik and Nielsen (2010), ``rho = hs^a`` for a public n-th residue
``hs = (-x^2)^n mod n^2`` and a random exponent ``a`` of ``exponent_bits`` bits (see
``docs/crypto.md`` for the security argument and the choice of size). With ``hs`` fixed,
``hs^a`` is a fixed-base exponentiation: with precomputed tables it costs one modular
multiplication per window of the exponent and no squaring.

:class:`CrtObfuscator` (key holder): tables modulo ``p^2`` and ``q^2`` (half-size numbers, about
3.5x cheaper per multiplication than modulo ``n^2``), one random exponent shared by both halves,
recombined by CRT. :class:`PublicObfuscator` (anyone): one table modulo ``n^2``.
"""

from __future__ import annotations

import secrets
import threading

import gmpy2
from gmpy2 import mpz

from models.crypto.fixedbase import FixedBaseTable, random_digits

#: Default DJN exponent size: 2 * 128 bits (best known attack on a short exponent, Pollard's
#: kangaroo, costs 2^(bits/2) group operations); see docs/crypto.md.
DJN_EXPONENT_BITS = 256
#: Batches smaller than this use ``powmod_exp_list`` instead of building tables.
TABLE_MIN_BATCH = 64


def default_window(exp_bits: int, modulus_bits: int) -> int:
    """Table window: 12 bits (about 22 MB per 2048-bit table at 256-bit exponents), smaller for
    long exponents so a table stays below about 64 MB."""
    window = 12
    entry_bytes = modulus_bits // 8 + 40
    while window > 6 and (-(-exp_bits // window)) * (1 << window) * entry_bytes > 64 << 20:
        window -= 1
    return window


class CrtObfuscator:
    """Key holder's obfuscators ``hs^a mod n^2`` computed modulo ``p^2`` and ``q^2``."""

    def __init__(self, p: mpz, q: mpz, hs: mpz, exponent_bits: int = DJN_EXPONENT_BITS) -> None:
        self.p2 = p * p
        self.q2 = q * q
        self.hs_p = hs % self.p2
        self.hs_q = hs % self.q2
        self.exponent_bits = exponent_bits
        self.window = default_window(exponent_bits, int(self.p2.bit_length()))
        self._crt = gmpy2.invert(self.p2, self.q2)
        self._tables: tuple[FixedBaseTable, FixedBaseTable] | None = None
        self._lock = threading.Lock()

    def tables(self) -> tuple[FixedBaseTable, FixedBaseTable]:
        """Build the two tables on first use (about 0.1 s each at 2048 bits)."""
        with self._lock:
            if self._tables is None:
                e, w = self.exponent_bits, self.window
                self._tables = (
                    FixedBaseTable(self.hs_p, self.p2, e, w),
                    FixedBaseTable(self.hs_q, self.q2, e, w),
                )
            return self._tables

    def _combine(self, xp: list[mpz], xq: list[mpz]) -> list[mpz]:
        p2, q2, c = self.p2, self.q2, self._crt
        return [a + p2 * ((b - a) * c % q2) for a, b in zip(xp, xq, strict=True)]

    def obfuscators(self, count: int) -> list[mpz]:
        """``count`` fresh values ``hs^a mod n^2``."""
        if count <= 0:
            return []
        if self._tables is None and count < TABLE_MIN_BATCH:
            exps = [mpz(secrets.randbits(self.exponent_bits)) for _ in range(count)]
            xp = list(gmpy2.powmod_exp_list(self.hs_p, exps, self.p2))
            xq = list(gmpy2.powmod_exp_list(self.hs_q, exps, self.q2))
            return self._combine(xp, xq)
        tp, tq = self.tables()
        digits = random_digits(count, self.exponent_bits, self.window)
        return self._combine(tp.pow_digits(digits), tq.pow_digits(digits))


class PublicObfuscator:
    """Obfuscators ``hs^a mod n^2`` for anyone holding the public key."""

    def __init__(self, n2: mpz, hs: mpz, exponent_bits: int = DJN_EXPONENT_BITS) -> None:
        self.n2 = n2
        self.hs = hs
        self.exponent_bits = exponent_bits
        self.window = min(8, default_window(exponent_bits, int(n2.bit_length())))
        self._table: FixedBaseTable | None = None
        self._lock = threading.Lock()

    def obfuscators(self, count: int) -> list[mpz]:
        """``count`` fresh values ``hs^a mod n^2``."""
        if count <= 0:
            return []
        if self._table is None and count < TABLE_MIN_BATCH:
            exps = [mpz(secrets.randbits(self.exponent_bits)) for _ in range(count)]
            return list(gmpy2.powmod_exp_list(self.hs, exps, self.n2))
        with self._lock:
            if self._table is None:
                self._table = FixedBaseTable(self.hs, self.n2, self.exponent_bits, self.window)
            table = self._table
        return table.pow_digits(random_digits(count, self.exponent_bits, self.window))
