"""Parallel paths (helper processes and threads) agree with the serial ones."""

from __future__ import annotations

import numpy as np
import pytest

from models.crypto import parallel
from models.crypto.fixedbase import FixedBaseTable, batch_invert, digits_of, random_digits
from models.crypto.multiexp import multiexp
from models.crypto.paillier import PaillierKeypair


@pytest.fixture(scope="module")
def keypair() -> PaillierKeypair:
    return PaillierKeypair.generate(1024)


def test_parallel_encrypt_and_decrypt(keypair: PaillierKeypair) -> None:
    rng = np.random.default_rng(0)
    ms = rng.integers(-(2**62), 2**62, 600).tolist()
    enc = keypair.encrypt(ms, workers=2)
    assert len(set(enc.values)) == len(ms)
    assert keypair.decrypt(enc, workers=1) == ms
    assert keypair.decrypt(enc, workers=2) == ms
    assert keypair.decrypt(keypair.encrypt(ms[:100], workers=1), workers=2) == ms[:100]


def test_parallel_dot_and_mul_match_serial(keypair: PaillierKeypair) -> None:
    rng = np.random.default_rng(1)
    n = 700
    xs = rng.integers(-(2**30), 2**30, n)
    enc = keypair.encrypt(xs)
    mat = rng.integers(-(2**40), 2**40, size=(n, 3))
    serial = enc.dot_columns(mat, workers=1)
    par = enc.dot_columns(mat, workers=2)
    expected = [int(v) for v in (xs.astype(object) @ mat.astype(object))]
    assert serial.values == par.values  # same group element, however the work is split
    assert keypair.decrypt(par) == expected
    ks = rng.integers(-(2**20), 2**20, n)
    got1 = enc.mul_scalar(ks, workers=1)
    got2 = enc.mul_scalar(ks, workers=2)
    assert got1.values == got2.values
    assert keypair.decrypt(got2) == [int(a) * int(b) for a, b in zip(xs, ks, strict=True)]
    assert keypair.decrypt(enc.mul_scalar(-5, workers=2)) == [-5 * int(a) for a in xs]


def test_precompute_in_background_thread(keypair: PaillierKeypair) -> None:
    import threading

    t = threading.Thread(target=keypair.precompute, args=(200,))
    t.start()
    t.join()
    assert keypair.pool_size >= 200
    ms = list(range(250))
    assert keypair.decrypt(keypair.encrypt(ms)) == ms
    pk = keypair.public_key
    pk.precompute(5)
    assert keypair.decrypt(pk.rerandomize(keypair.encrypt([1, 2, 3, 4, 5, 6]))) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]


def test_fixed_base_table_and_helpers() -> None:
    import gmpy2
    from gmpy2 import mpz

    m = mpz(2**521 - 1)
    base = mpz(123456789)
    table = FixedBaseTable(base, m, 100, 7)
    exps = [0, 1, 2**100 - 1, 2**64 + 5]
    got = table.pow_digits(digits_of(exps, 100, 7))
    assert got == [gmpy2.powmod(base, e, m) for e in exps]
    d = random_digits(50, 100, 7)
    assert d.shape == (50, 15) and d.max() < 128 and d[:, -1].max() < 4
    vals = [mpz(v) for v in (3, 5, 7, 2**300 + 1)]
    assert batch_invert(vals, m) == [gmpy2.invert(v, m) for v in vals]
    ks = [5, -3, 0, 2**70]
    want = mpz(1)
    for v, k in zip(vals, ks, strict=True):
        want = want * gmpy2.powmod(v, k, m) % m
    assert multiexp(vals, ks, m) == want
    many = [mpz(v) for v in range(2, 60)]
    kk = [(-1) ** i * (i * 7919) for i in range(len(many))]
    want = mpz(1)
    for v, k in zip(many, kk, strict=True):
        want = want * gmpy2.powmod(v, k, m) % m
    assert multiexp(many, kk, m) == want


def test_helper_reports_errors_and_restarts() -> None:
    parallel.warm_up(2)
    (helper,) = parallel.helpers(1)
    with helper.lock:
        reply, _ = helper.call("ping", {})
        assert reply["ok"] and reply["pid"] != 0
        from models.errors import InternalError

        with pytest.raises(InternalError):
            helper.call("no-such-op", {})
        reply, _ = helper.call("ping", {})  # still usable afterwards
        assert reply["ok"]
    helper._proc.kill()  # a helper that died is replaced on next use
    helper._proc.wait()
    (fresh,) = parallel.helpers(1)
    assert fresh is not helper
    with fresh.lock:
        assert fresh.call("ping", {})[0]["pid"] != reply["pid"]


def test_resolve_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parallel.resolve_workers(3, 0) == 3
    assert parallel.resolve_workers(None, 10) == 1
    monkeypatch.setenv("FEDCREDIT_CRYPTO_WORKERS", "1")
    assert parallel.resolve_workers(None, 10**9) == 1
    monkeypatch.delenv("FEDCREDIT_CRYPTO_WORKERS")
    assert 1 <= parallel.resolve_workers(None, 10**9) <= 2
