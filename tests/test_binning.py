"""Federated binning: IV of every feature equals the centralized computation; privacy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import models.binning.passive  # noqa: F401  (registers the platform party)
from experiments.support.vertical import TableProvider, VerticalData, load_vertical
from models.binning.active import FederatedBinning, coarse_stats
from models.binning.binner import FeatureBinner
from models.binning.woe import woe_iv_from_codes
from models.crypto.paillier import PaillierKeypair
from models.dataset import PartyTable
from models.errors import InvalidArgument
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.recording import RecordingPeer, iter_values
from proto.transport.codec import ProtobufCodec

IV_TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def keypair() -> PaillierKeypair:
    return PaillierKeypair.generate(1024)


@pytest.fixture(scope="module")
def credit(shared_data: Path) -> VerticalData:
    data = load_vertical(shared_data, "default_credit", n_rows=4000, seed=3)
    # missing values on both sides exercise the missing bins
    rng = np.random.default_rng(0)
    for table in (data.bank, data.platform):
        X = table.X.copy()
        X[rng.random(X.shape) < 0.03] = np.nan
        table.X = X
    return data


def centralized_iv(
    data: VerticalData, method: str, n_bins: int, max_bins: int, min_fraction: float
) -> np.ndarray:
    """IV of every joined column computed in one place (no federation)."""
    X = data.joined()[data.train]
    y = data.bank.y
    assert y is not None
    yt = y[data.train]
    unsupervised = "quantile" if method == "optimal" else method
    binner = FeatureBinner(unsupervised, n_bins).fit(X)
    codes = binner.transform(X)
    out = []
    for j in range(X.shape[1]):
        nb = int(binner.n_total_bins[j])
        if method == "optimal":
            ev = np.bincount(codes[:, j], weights=yt, minlength=nb)
            tot = np.bincount(codes[:, j], minlength=nb).astype(float)
            _, st = coarse_stats(np.rint(ev), tot, "optimal", max_bins, min_fraction * yt.size, 0.5)
            out.append(st.iv)
        else:
            out.append(woe_iv_from_codes(codes[:, j], yt, nb).iv)
    return np.asarray(out)


@pytest.mark.parametrize(
    ("method", "n_bins"), [("quantile", 10), ("equal_width", 8), ("optimal", 20)]
)
def test_iv_equals_centralized(
    credit: VerticalData,
    make_peer: Callable[..., object],
    keypair: PaillierKeypair,
    method: str,
    n_bins: int,
) -> None:
    peer = make_peer(TableProvider(credit.platform))
    fb = FederatedBinning(method=method, n_bins=n_bins, max_bins=5, min_bin_fraction=0.05)
    fb.fit(credit.bank, peer, rows=credit.train, keypair=keypair)  # type: ignore[arg-type]
    got = np.asarray([f.iv for f in fb.features_])
    ref = centralized_iv(credit, method, n_bins, 5, 0.05)
    assert got.shape == ref.shape
    assert np.all(np.abs(got - ref) <= IV_TOLERANCE)
    assert np.all(got >= 0) and got.max() > 0.1  # PAY_x features are predictive
    if method == "optimal":
        for f in fb.features_:
            assert f.n_bins <= 5 + 1
            rates = f.stats.events[:-1] / np.maximum(f.stats.totals[:-1], 1)
            d = np.diff(rates)
            assert np.all(d >= -1e-12) or np.all(d <= 1e-12)  # monotonic event rate


def test_selection_report_and_woe_exchange(
    credit: VerticalData, tmp_path: Path, keypair: PaillierKeypair
) -> None:
    manager = SessionManager(tmp_path / "platform", TableProvider(credit.platform))
    peer = RecordingPeer(InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec()))
    from models.binning.active import BinningStub
    from models.federation.session import SessionSpec

    peer.open_session(SessionSpec(job_id="bin-x", algorithm="binning"))
    fb = FederatedBinning(method="quantile", n_bins=6)
    fb.run(BinningStub(peer), credit.bank, rows=credit.train, model_id="bin-x", keypair=keypair)
    top = fb.select(top_k=5)
    assert len(top) == 5
    ivs = sorted((f.iv for f in fb.features_), reverse=True)
    assert sorted((f.iv for f in top), reverse=True) == ivs[:5]
    by_threshold = fb.select(threshold=0.1)
    assert all(f.iv >= 0.1 for f in by_threshold)
    assert {f.party for f in by_threshold} == {"bank", "platform"}
    resp = fb.send_platform_woe()
    assert list(resp.features) == [f.index for f in fb.selected("platform")]
    # the platform's WOE transform matches the bank's view of its features
    party = manager.party("bin-x")
    wt = party.woe_transform  # type: ignore[attr-defined]
    assert wt is not None
    woe_p = wt.transform(credit.platform.X[credit.train])
    y = credit.bank.y
    assert y is not None
    for k, f in enumerate(fb.selected("platform")):
        codes = wt.coarse_codes(credit.platform.X[credit.train])[:, k]
        st = woe_iv_from_codes(codes, y[credit.train], f.n_bins)
        assert np.allclose(st.woe, f.stats.woe, atol=1e-12)
        assert np.allclose(woe_p[:, k], f.stats.woe[codes])
    peer.close_session()
    table = fb.report()
    assert list(table.columns) == [
        "party",
        "feature",
        "group",
        "n_bins",
        "iv",
        "strength",
        "selected",
    ]
    assert table["iv"].is_monotonic_decreasing and int(table["selected"].sum()) == len(by_threshold)
    png = fb.plot_iv(tmp_path / "iv.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # no plaintext label reached the platform
    labels = np.asarray(y[credit.train], dtype=np.int64)
    for message in peer.transcript.to_passive():
        for path, leaf in iter_values(message):
            if isinstance(leaf, np.ndarray) and path.endswith("train_rows"):
                continue
            if isinstance(leaf, np.ndarray):
                assert leaf.size != labels.size or not np.array_equal(leaf, labels), path
            if isinstance(leaf, bytes):
                assert labels.astype(np.float64).tobytes()[:64] not in leaf
                assert labels.tobytes()[:64] not in leaf


def test_binner_and_woe_basics() -> None:
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, np.nan], [4.0, 5.0], [np.nan, 5.0]])
    b = FeatureBinner("quantile", 2).fit(X)
    codes = b.transform(X)
    assert codes[:, 0].tolist() == [0, 0, 1, 1, 2]  # cut at the median, missing last
    assert b.n_value_bins.tolist() == [2, 1]  # a constant column keeps one value bin
    assert codes[:, 1].tolist() == [0, 0, 1, 0, 0]
    # bin 1 has no non-event: without smoothing its WOE would be infinite
    with pytest.raises(InvalidArgument):
        woe_iv_from_codes(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2, smoothing=0.0)
    assert np.all(
        np.isfinite(woe_iv_from_codes(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2).woe)
    )
    st = woe_iv_from_codes(np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0]), 2)
    g, e = np.array([1.5, 1.5]), np.array([1.5, 2.5])
    p, q = g / g.sum(), e / e.sum()
    assert np.allclose(st.woe, np.log(p / q)) and np.isclose(st.iv, ((p - q) * np.log(p / q)).sum())
    with pytest.raises(InvalidArgument):
        FeatureBinner("kmeans", 4)


def test_tables_without_both_classes_are_refused(
    credit: VerticalData, keypair: PaillierKeypair
) -> None:
    fb = FederatedBinning()
    bank = credit.bank
    y = bank.y
    assert y is not None
    only_good = np.flatnonzero(y == 0)[:50]
    table = PartyTable(bank.ids, bank.X, bank.feature_names, y=y)
    with pytest.raises(InvalidArgument):
        fb.run(None, table, rows=only_good, model_id="x", keypair=keypair)  # type: ignore[arg-type]
