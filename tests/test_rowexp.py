"""Row-wise simultaneous exponentiation (models/crypto/rowexp.py)."""

from __future__ import annotations

import secrets

import gmpy2
import numpy as np
import pytest
from gmpy2 import mpz

from models.crypto.rowexp import row_products, row_products_serial
from models.errors import InvalidArgument

MOD = mpz(gmpy2.next_prime(mpz(1) << 255)) * mpz(gmpy2.next_prime(mpz(1) << 250))
WIDTH = (int(MOD.bit_length()) + 7) // 8


def _reference(bases: list[list[mpz]], exps: np.ndarray) -> list[mpz]:
    out = []
    for i in range(exps.shape[1]):
        acc = mpz(1)
        for k, col in enumerate(bases):
            acc = acc * gmpy2.powmod(col[i], int(exps[k, i]), MOD) % MOD
        out.append(acc)
    return out


@pytest.mark.parametrize("K", [1, 2, 3])
def test_matches_separate_powers(K: int) -> None:
    rng = np.random.default_rng(K)
    n = 50
    bases = [[mpz(secrets.randbelow(int(MOD) - 2) + 2) for _ in range(n)] for _ in range(K)]
    exps = rng.integers(0, 4097, size=(K, n))
    exps[:, 0] = 0  # a row whose exponents are all zero gives 1
    exps[0, 1] = 4096
    got = row_products_serial(bases, exps, MOD)
    assert got == _reference(bases, exps)
    assert got[0] == 1


def test_helpers_give_the_same_result() -> None:
    rng = np.random.default_rng(7)
    n = 200
    bases = [[mpz(secrets.randbelow(int(MOD) - 2) + 2) for _ in range(n)] for _ in range(2)]
    exps = rng.integers(0, 1 << 20, size=(2, n))
    assert row_products(bases, exps, MOD, WIDTH, workers=2) == _reference(bases, exps)
    assert row_products(bases, exps, MOD, WIDTH, workers=1) == _reference(bases, exps)
    factors = [mpz(i + 2) for i in range(n)]
    want = [f * r % MOD for f, r in zip(factors, _reference(bases, exps), strict=True)]
    assert row_products(bases, exps, MOD, WIDTH, factors=factors, workers=2) == want
    assert row_products(bases, exps, MOD, WIDTH, factors=factors, workers=1) == want


def test_refusals() -> None:
    bases = [[mpz(3), mpz(5)]]
    with pytest.raises(InvalidArgument):
        row_products(bases, np.array([[1, -1]]), MOD, WIDTH)
    with pytest.raises(InvalidArgument):
        row_products(bases, np.array([[1, 2, 3]]), MOD, WIDTH)
    with pytest.raises(InvalidArgument):
        row_products(bases, np.array([[1.0, 2.0]]), MOD, WIDTH)
    with pytest.raises(InvalidArgument):
        row_products(bases, np.array([[1, 2]]), MOD, WIDTH, factors=[mpz(1)])
    assert row_products([[]], np.zeros((1, 0), dtype=np.int64), MOD, WIDTH) == []
