"""Fixed-base windowed exponentiation and batch modular helpers over gmpy2.

``FixedBaseTable(base, modulus, exp_bits, window)`` stores ``base^(j * 2^(w*i)) mod m`` for
every window ``i`` and digit ``j``; then ``base^a`` for an ``exp_bits``-bit exponent costs one
multiplication per window and no squaring. Exponents are given as their base-``2^w`` digits,
which for *random* exponents are drawn directly (:func:`random_digits`), so no big integer is
ever split. Batches are processed window by window in list comprehensions (the tightest loop
CPython offers over gmpy2).
"""

from __future__ import annotations

import secrets

import gmpy2
import numpy as np
from gmpy2 import mpz

from models.errors import InvalidArgument


def random_digits(count: int, exp_bits: int, window: int) -> np.ndarray:
    """Uniform random exponents in ``[0, 2**exp_bits)`` as ``(count, windows)`` digits.

    Digit ``i`` is bits ``[w*i, w*(i+1))`` of the exponent; the top window is masked to the
    remaining bits. Uses the operating system's CSPRNG.
    """
    if window < 1 or window > 16:
        raise InvalidArgument("window must be between 1 and 16 bits")
    windows = -(-exp_bits // window)
    raw = np.frombuffer(secrets.token_bytes(2 * count * windows), dtype=np.uint16)
    digits = raw.reshape(count, windows).astype(np.int64) & ((1 << window) - 1)
    top_bits = exp_bits - window * (windows - 1)
    if top_bits < window:
        digits[:, -1] &= (1 << top_bits) - 1
    return digits


def digits_of(exponents: list[int], exp_bits: int, window: int) -> np.ndarray:
    """Base-``2^w`` digits of given non-negative exponents below ``2**exp_bits``."""
    windows = -(-exp_bits // window)
    mask = (1 << window) - 1
    out = np.empty((len(exponents), windows), dtype=np.int64)
    for r, a in enumerate(exponents):
        a = int(a)
        if a < 0 or a.bit_length() > exp_bits:
            raise InvalidArgument("exponent is out of range")
        for i in range(windows):
            out[r, i] = a & mask
            a >>= window
    return out


class FixedBaseTable:
    """Precomputed powers of one base modulo ``modulus`` for ``exp_bits``-bit exponents."""

    def __init__(self, base: mpz, modulus: mpz, exp_bits: int, window: int) -> None:
        if exp_bits < 1:
            raise InvalidArgument("exponent size must be positive")
        self.modulus = mpz(modulus)
        self.exp_bits = exp_bits
        self.window = window
        self.windows = -(-exp_bits // window)
        m = self.modulus
        size = 1 << window
        rows: list[list[mpz]] = []
        b = mpz(base) % m
        for i in range(self.windows):
            # digits above the top window's bit count are never drawn; skip their entries
            top = exp_bits - window * i
            count = size if top >= window else 1 << top
            row = [mpz(1)] * count
            acc = mpz(1)
            for j in range(1, count):
                acc = acc * b % m
                row[j] = acc
            rows.append(row)
            if i + 1 < self.windows:
                b = gmpy2.powmod(b, size, m)
        self.rows = rows

    def pow_digits(self, digits: np.ndarray) -> list[mpz]:
        """``base^a mod m`` for each exponent row of ``digits`` (shape ``(count, windows)``)."""
        if digits.ndim != 2 or digits.shape[1] != self.windows:
            raise InvalidArgument("digit array does not match the table")
        m = self.modulus
        cols = digits.T.tolist()
        row0 = self.rows[0]
        acc = [row0[d] for d in cols[0]]
        for row, col in zip(self.rows[1:], cols[1:], strict=True):
            acc = [a * row[d] % m for a, d in zip(acc, col, strict=True)]
        return acc


def batch_invert(values: list[mpz], modulus: mpz) -> list[mpz]:
    """Modular inverses of many values with one inversion (Montgomery's trick).

    Raises ``ZeroDivisionError`` if some value is not invertible.
    """
    k = len(values)
    if k == 0:
        return []
    m = modulus
    prefix = [mpz(0)] * k
    acc = mpz(1)
    for i, v in enumerate(values):
        acc = acc * v % m
        prefix[i] = acc
    inv = gmpy2.invert(acc, m)
    out = [mpz(0)] * k
    for i in range(k - 1, 0, -1):
        out[i] = inv * prefix[i - 1] % m
        inv = inv * values[i] % m
    out[0] = inv
    return out
