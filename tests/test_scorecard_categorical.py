"""Federated scorecard on string columns: each category (or the rare ones together) is a bin.

German credit split column-wise (see ``experiments/support/german.py``). The bank's categorical
features get points per category in its table; the platform's are binned by category on the
platform (the bank learns their bin counts, not the categories); a category unseen in training
scores as ``other``; nothing the bank receives carries a platform category string.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import models.scorecard.passive  # noqa: F401  (registers the platform party)
from experiments.support.german import (
    PLATFORM_COLS,
    Datasets,
    German,
    bank_received_text,
    platform_strings,
    with_value,
)
from models.binning.binner import FeatureBinner
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.recording import RecordingPeer
from models.scorecard.active import FederatedScorecard
from proto.transport.codec import ProtobufCodec

MIN_COUNT = 25


def _card(**kw: object) -> FederatedScorecard:
    args: dict[str, object] = dict(
        binning_method="optimal",
        n_bins=10,
        max_bins=4,
        iv_threshold=None,
        mode="paillier",
        max_epochs=6,
        min_category_count=MIN_COUNT,
        key_bits=1024,
        random_state=0,
    )
    args.update(kw)
    return FederatedScorecard(**args)  # type: ignore[arg-type]


def test_category_binner_round_trip() -> None:
    X = np.array([[0.0], [0.0], [1.0], [np.nan], [2.0], [0.0]])
    binner = FeatureBinner("quantile", 4).fit(X, {0: ("a", "b", "c")}, min_count=2)
    assert binner.bin_labels(0) == ["a", "other", "missing"]
    back = FeatureBinner.from_dict(binner.to_dict())
    # a scoring table with its own coding and a new category "q"
    codes = back.transform(np.array([[1.0], [0.0], [np.nan], [2.0]]), {0: ("q", "a", "b")})
    assert codes[:, 0].tolist() == [0, 1, 2, 1]
    assert back.transform(X)[:, 0].tolist() == [0, 0, 1, 2, 1, 0]


def test_scorecard_bins_categories_on_both_sides(
    german: German, make_peer: Callable[..., object]
) -> None:
    peer = make_peer(Datasets({"train": german.platform}))
    card = _card().fit(german.bank, peer, rows=german.train, platform_dataset="train")  # type: ignore[arg-type]
    counts = german.frame.loc[german.train, "A1"].value_counts()
    kept = sorted(str(k) for k, n in counts.items() if n >= MIN_COUNT)
    labels = dict(zip(card.bank_features_, card.bank_bin_labels_, strict=True))
    assert labels["A1"] == [*kept, "other", "missing"]  # one bin (and points) per category
    table = card.points_table()
    assert set(kept) <= set(table["bin"].astype(str))
    # the platform's categorical features: frequent categories + other + missing, no merging
    by_name = {f.index: f for f in card.binning_.selected("platform")}
    j = PLATFORM_COLS.index("A17")
    pc = german.frame.loc[german.train, "A17"].value_counts()
    assert by_name[j].n_bins == int((pc >= MIN_COUNT).sum()) + 2
    points = card.points(german.bank, peer, rows=german.test)  # type: ignore[arg-type]
    y = german.bank.y
    assert y is not None and np.all(np.isfinite(points))
    assert roc_auc_score(y[german.test], -points) > 0.7


def test_scorecard_unseen_category_and_no_platform_category_reaches_the_bank(
    german: German, tmp_path: Path
) -> None:
    row = int(german.test[0])
    counts = german.frame.loc[german.train, "A17"].value_counts()
    rare = str(counts[counts < MIN_COUNT].index[0])
    tables = {
        "train": german.platform,
        "unseen": with_value(german, row, "A17", "A199"),
        "rare": with_value(german, row, "A17", rare),
    }
    manager = SessionManager(tmp_path / "platform", Datasets(tables))
    peer = RecordingPeer(InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec()))
    card = _card(binning_method="quantile", max_epochs=3, dp_epsilon=None)
    card.fit(german.bank, peer, rows=german.train, platform_dataset="train")
    rows = np.asarray([row])
    pts = {}
    for name in tables:
        card.platform_dataset_ = name
        pts[name] = float(card.points(german.bank, peer, rows=rows)[0])
    assert pts["unseen"] == pytest.approx(pts["rare"], abs=1e-6)
    path = tmp_path / "card.json"
    card.save(path)
    blob = bank_received_text(peer.transcript, path.read_text())
    assert "A14" in blob  # the bank's own categories label its bins: the scan sees text
    assert not sorted(s for s in platform_strings(german) | {"A199"} if s in blob)
