"""Encrypted histograms against a numpy bincount reference; compression; serial == parallel."""

from __future__ import annotations

import numpy as np
import pytest

from models.crypto.histogram import (
    compress_ciphertexts,
    decompress_plaintexts,
    encrypted_histograms,
)
from models.crypto.packing import gh_packer_for
from models.crypto.paillier import EncryptedVector, PaillierKeypair
from models.errors import InvalidArgument

KEY_BITS = 1024
FRAC = 16


@pytest.fixture(scope="module")
def keypair() -> PaillierKeypair:
    return PaillierKeypair.generate(KEY_BITS)


@pytest.fixture(scope="module")
def data(keypair: PaillierKeypair) -> dict:
    rng = np.random.default_rng(7)
    n, f = 1200, 4
    n_bins = np.array([8, 3, 16, 1])
    bins = np.stack([rng.integers(0, b, n) for b in n_bins], axis=1).astype(np.uint8)
    g = rng.uniform(-1, 1, n)
    h = rng.uniform(0, 1, n)
    gh = gh_packer_for(n, FRAC, KEY_BITS)
    enc = keypair.encrypt(gh.pack(g, h))
    return {"n": n, "f": f, "n_bins": n_bins, "bins": bins, "g": g, "h": h, "gh": gh, "enc": enc}


def _reference(data: dict, rows: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    gq = np.rint(data["g"] * 2**FRAC) / 2**FRAC
    hq = np.rint(data["h"] * 2**FRAC) / 2**FRAC
    gs, hs = [], []
    for f, nb in enumerate(data["n_bins"]):
        b = data["bins"][rows, f]
        gs.append(np.bincount(b, weights=gq[rows], minlength=nb))
        hs.append(np.bincount(b, weights=hq[rows], minlength=nb))
    return gs, hs


def _decode(keypair: PaillierKeypair, data: dict, hists: list[EncryptedVector], rows: np.ndarray):
    flat = EncryptedVector.concat(hists)
    counts = np.concatenate(
        [np.bincount(data["bins"][rows, f], minlength=nb) for f, nb in enumerate(data["n_bins"])]
    )
    return flat, counts


@pytest.mark.parametrize("workers", [1, 2])
def test_histograms_match_bincount(keypair: PaillierKeypair, data: dict, workers: int) -> None:
    rng = np.random.default_rng(workers)
    rows = np.sort(rng.choice(data["n"], 700, replace=False))
    hists = encrypted_histograms(data["enc"], data["bins"], rows, data["n_bins"], workers=workers)
    assert [len(h) for h in hists] == list(data["n_bins"])
    flat, counts = _decode(keypair, data, hists, rows)
    G, H = data["gh"].unpack_sums(keypair.decrypt_unsigned(flat), counts)
    ref_g, ref_h = _reference(data, rows)
    np.testing.assert_allclose(G, np.concatenate(ref_g), atol=1e-9)
    np.testing.assert_allclose(H, np.concatenate(ref_h), atol=1e-9)


def test_serial_and_parallel_are_identical(keypair: PaillierKeypair, data: dict) -> None:
    rows = np.arange(0, data["n"], 2)
    skip = np.array([0, -1, 5, 0])
    one = encrypted_histograms(
        data["enc"], data["bins"], rows, data["n_bins"], skip_bins=skip, workers=1
    )
    two = encrypted_histograms(
        data["enc"], data["bins"], rows, data["n_bins"], skip_bins=skip, workers=2
    )
    # a second parallel call reuses the vector already loaded into the helper
    again = encrypted_histograms(
        data["enc"], data["bins"], rows, data["n_bins"], skip_bins=skip, workers=2
    )
    assert [h.values for h in one] == [h.values for h in two] == [h.values for h in again]


def test_skip_bins_and_compression(keypair: PaillierKeypair, data: dict) -> None:
    rows = np.arange(100, 1100)
    skip = np.array([3, -1, 0, 0])
    hists = encrypted_histograms(data["enc"], data["bins"], rows, data["n_bins"], skip_bins=skip)
    for f, s in enumerate(skip):
        if s >= 0:
            assert hists[f].values[s] == 1  # skipped bins are untouched E(0)
    flat, counts = _decode(keypair, data, hists, rows)
    gh = data["gh"]
    slots = (KEY_BITS - 2) // gh.total_bits
    pk = keypair.public_key
    comp = pk.rerandomize(compress_ciphertexts(pk, flat, gh.total_bits, slots))
    assert len(comp) == -(-len(flat) // slots)
    plain = decompress_plaintexts(keypair.decrypt_unsigned(comp), gh.total_bits, slots, len(flat))
    offsets = np.cumsum([0, *data["n_bins"]])
    for f, s in enumerate(skip):
        if s >= 0:
            counts[offsets[f] + s] = 0
    G, H = gh.unpack_sums(plain, counts)
    ref_g, ref_h = _reference(data, rows)
    for f, s in enumerate(skip):
        if s >= 0:
            ref_g[f][s] = 0.0
            ref_h[f][s] = 0.0
    np.testing.assert_allclose(G, np.concatenate(ref_g), atol=1e-9)
    np.testing.assert_allclose(H, np.concatenate(ref_h), atol=1e-9)
    # the skipped bin is the node total minus the other bins
    total = data["gh"].unpack_sums(keypair.decrypt_unsigned(data["enc"][rows].sum()), [len(rows)])
    g0 = total[0][0] - G[offsets[0] : offsets[1]].sum()
    assert g0 == pytest.approx(_reference(data, rows)[0][0][3], abs=1e-9)


def test_empty_node_and_bad_inputs(keypair: PaillierKeypair, data: dict) -> None:
    empty = encrypted_histograms(data["enc"], data["bins"], np.array([], dtype=np.int64), 16)
    assert all(c == 1 for h in empty for c in h.values)
    with pytest.raises(InvalidArgument):
        encrypted_histograms(data["enc"], data["bins"], np.array([0]), data["n_bins"] - 1)
    with pytest.raises(InvalidArgument):
        encrypted_histograms(data["enc"], data["bins"][:10], np.array([0]), 16)
    with pytest.raises(InvalidArgument):
        encrypted_histograms(data["enc"], data["bins"], np.array([data["n"]]), 16)
    with pytest.raises(InvalidArgument):
        encrypted_histograms(data["enc"], data["bins"], np.array([0]), [8, 3])
    with pytest.raises(InvalidArgument):
        encrypted_histograms(
            data["enc"], data["bins"], np.array([0]), 16, skip_bins=np.array([0, 0, 16, 0])
        )
    with pytest.raises(InvalidArgument):
        compress_ciphertexts(keypair.public_key, data["enc"][:4], 600, 2)


def test_compression_round_trip_at_slot_boundaries(keypair: PaillierKeypair) -> None:
    bits, k = 100, 10
    vals = [0, (1 << bits) - 1, 1, 12345, (1 << bits) - 1, 0, 7, 2**99, 3, 4, 5]
    pk = keypair.public_key
    comp = compress_ciphertexts(pk, keypair.encrypt(vals), bits, k)
    assert len(comp) == 2
    assert decompress_plaintexts(keypair.decrypt_unsigned(comp), bits, k, len(vals)) == vals
