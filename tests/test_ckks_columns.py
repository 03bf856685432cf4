"""The platform's SEAL-level masked X^T d (cached plaintext columns) against the TenSEAL path."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.crypto.ckks import CkksContext
from models.errors import CryptoError, InvalidArgument
from models.logreg import ckks_columns
from models.logreg.ckks_columns import ColumnEvaluator, parse_chunk, wrap_chunk
from models.logreg.ckks_parallel import _wire, masked_xt_d

pytestmark = pytest.mark.skipif(not ckks_columns.AVAILABLE, reason="SEAL bindings missing")


@pytest.fixture(scope="module")
def keys() -> tuple[CkksContext, CkksContext]:
    sym = CkksContext.create(symmetric=True)
    return sym, CkksContext.from_bytes(sym.public_bytes())


def _decrypt(ctx: CkksContext, blobs: list[bytes]) -> np.ndarray:
    return ctx.decrypt_sums(ctx.sums_from_wire(_wire(ctx, blobs)))


def test_chunk_framing_round_trip(keys: tuple[CkksContext, CkksContext]) -> None:
    sym, _ = keys
    blob = sym.vector_to_wire(sym.encrypt_vector(np.arange(5.0))).split()[0]
    inner = parse_chunk(blob, sym.slot_count)
    assert wrap_chunk(inner, sym.slot_count, sym.params.global_scale) == blob
    with pytest.raises(CryptoError):
        parse_chunk(blob[:-20], sym.slot_count)
    with pytest.raises(CryptoError):
        parse_chunk(blob, sym.slot_count // 2)


@pytest.mark.parametrize(("n", "f"), [(10, 3), (9000, 4)])
def test_masked_xt_d_within_bound_and_cached(
    keys: tuple[CkksContext, CkksContext], n: int, f: int
) -> None:
    sym, pub = keys
    rng = np.random.default_rng(n)
    X, ev = rng.normal(size=(n, f)) * 3, ColumnEvaluator(pub)
    exact_bound = CkksContext.xt_d_error_bound(X, np.ones(n), sym.slot_count)
    mask_bound = sym.slot_count * 8.0 * 2.0**24 * 2.0**-45
    for epoch in range(2):  # the second call reuses the encoded columns
        d = rng.uniform(-1, 1, n)
        blobs = sym.vector_to_wire(sym.encrypt_vector(d)).split()
        out, totals = ev.masked_xt_d(X, blobs, np.random.default_rng(epoch), 2.0**24)
        assert len(out) == f
        masked = _decrypt(sym, out)
        assert np.abs(masked - X.T @ d).min() > 1e3  # masks dominate what the bank sees
        exact = np.array([math.fsum((X[:, j] * d).tolist()) for j in range(f)])
        err = np.abs(masked - totals - exact)
        assert np.all(err <= exact_bound + mask_bound)
        assert err.max() < 1e-4  # typical error, far below the bound
    key = ev._cache_key
    ev.masked_xt_d(X + 1.0, blobs, np.random.default_rng(5), 2.0**24)
    assert ev._cache_key != key  # another matrix is encoded afresh


def test_refuses_bad_input(keys: tuple[CkksContext, CkksContext]) -> None:
    sym, pub = keys
    ev = ColumnEvaluator(pub)
    rng = np.random.default_rng(3)
    blobs = sym.vector_to_wire(sym.encrypt_vector(rng.uniform(-1, 1, 50))).split()
    with pytest.raises(InvalidArgument):
        ev.masked_xt_d(np.ones((5000, 2)), blobs, rng, 2.0**24)  # needs two chunks
    with pytest.raises(InvalidArgument):
        ev.masked_xt_d(np.full((50, 2), np.nan), blobs, rng, 2.0**24)
    bad = bytearray(blobs[0])
    bad[len(bad) // 2 : len(bad) // 2 + 64] = b"\xff" * 64
    with pytest.raises(CryptoError):
        ev.masked_xt_d(np.ones((50, 2)), [bytes(bad)], rng, 2.0**24)
    other = CkksContext.create(symmetric=True)
    foreign = other.vector_to_wire(other.encrypt_vector(np.ones(50)))
    with pytest.raises(CryptoError):
        masked_xt_d(pub, np.ones((50, 2)), foreign, workers=1)


def test_parallel_matches_serial(keys: tuple[CkksContext, CkksContext]) -> None:
    sym, pub = keys
    rng = np.random.default_rng(4)
    n, f = 9000, 6
    X, d = rng.normal(size=(n, f)), rng.uniform(-1, 1, n)
    wire = sym.vector_to_wire(sym.encrypt_vector(d))
    for workers in (1, 2):
        out, totals = masked_xt_d(pub, X, wire, workers=workers)
        got = sym.decrypt_sums(sym.sums_from_wire(out)) - totals
        assert np.abs(got - X.T @ d).max() < 1e-4
