"""Vertical LR on string columns: each side one-hot encodes its own categories, locally.

German credit (UCI Statlog, 1,000 rows, 13 string columns) split column-wise: the bank holds
A1-A10 and the label, the platform A11-A20. The federated model must match scikit-learn's
LogisticRegression on the joined table with the same one-hot encoding (built here
independently with pandas), score a category unseen in training as ``other``, and nothing the
bank receives may carry a platform category string.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import models.logreg.passive  # noqa: F401  (registers the platform party)
from experiments.support.german import (
    BANK_COLS,
    PLATFORM_COLS,
    Datasets,
    German,
    bank_received_text,
    platform_strings,
    reference_design,
    with_value,
)
from models.errors import FedCreditError
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.recording import RecordingPeer
from models.logreg.active import FederatedLogisticRegression
from models.logreg.encoding import PLATFORM_PAD_MULTIPLE, CategoryEncoder, min_count_for
from proto.transport.codec import ProtobufCodec

#: Federated vs scikit-learn on the same one-hot design: test AUC and mean |log-odds| gap.
AUC_TOLERANCE = 0.003
LOGODDS_TOLERANCE = 0.05
MIN_COUNT = 25


#: Settings that reach the reference's optimum closely (measured on this split: CKKS AUC gap
#: 0.0004, mean |log-odds| gap 0.005; Paillier 0.0007 and 0.033; with the default 3 Paillier
#: terms and 40 epochs the gap was 0.0036 and 0.115: the 3-term sigmoid is the limit).
SETTINGS = {
    "paillier": {"sigmoid_terms": 5, "max_epochs": 30},
    "ckks": {"sigmoid_terms": 8, "max_epochs": 40},
}


def _fit(g: German, peer: object, mode: str = "paillier") -> FederatedLogisticRegression:
    model = FederatedLogisticRegression(
        mode=mode,
        optimizer="precond",
        schedule="constant",
        tol=0.0,
        min_category_count=MIN_COUNT,
        key_bits=1024,
        random_state=0,
        **SETTINGS[mode],  # type: ignore[arg-type]
    )
    return model.fit(g.bank, peer, rows=g.train, platform_dataset="train")  # type: ignore[arg-type]


def test_encoder_round_trip_and_layout() -> None:
    X = np.array([[0.0, 1.5], [0.0, np.nan], [1.0, 2.0], [np.nan, 0.0], [2.0, 1.0]])
    cats = {"c": ("a", "b", "z")}
    enc = CategoryEncoder(min_count=2, pad_multiple=4).fit(X, ["c", "x"], cats, np.arange(5))
    assert enc.names_ == ["c#0", "c#other", "c#missing", "x", "#pad0"]
    back = CategoryEncoder.from_dict(enc.to_dict())
    # the scoring table codes its categories differently and has a new one ("q")
    Z = back.transform(np.array([[1.0, 3.0], [0.0, 1.0], [3.0, 0.0]]), {"c": ("q", "a", "b", "y")})
    assert Z.tolist() == [[1, 0, 0, 3, 0], [0, 1, 0, 1, 0], [0, 1, 0, 0, 0]]
    # the padded width hides the number of frequent categories within the multiple: tables
    # with 1 to 6 frequent categories give the bank the same column count
    widths = {
        CategoryEncoder(min_count=1, pad_multiple=8)
        .fit(np.arange(k, dtype=float)[:, None], ["c"], {"c": tuple("abcdef"[:k])}, np.arange(k))
        .names_.__len__()
        for k in range(1, 7)
    }
    assert widths == {8}
    woe = CategoryEncoder("woe", min_count=2).fit(
        X, ["c", "x"], cats, np.arange(5), np.array([1.0, 0.0, 1.0, 0.0, 0.0])
    )
    assert woe.names_ == ["c", "x"] and len(woe.columns[0].woe) == 3


def test_min_category_count_is_bounded_by_the_training_rows() -> None:
    assert min_count_for(0, 1000) == 10  # default: 1% of the training rows
    assert min_count_for(1, 3) == 1 and min_count_for(25, 400) == 25
    for bad in (-1, 401, 2**40):
        with pytest.raises(FedCreditError, match="min_category_count"):
            min_count_for(bad, 400)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["paillier", "ckks"])
def test_categorical_lr_matches_sklearn_onehot(
    german: German, make_peer: Callable[..., object], mode: str
) -> None:
    peer = make_peer(Datasets({"train": german.platform}))
    model = _fit(german, peer, mode)
    proba = model.predict_proba(german.bank, peer, rows=german.test)  # type: ignore[arg-type]
    Xj = np.hstack(
        [
            reference_design(german.frame, BANK_COLS, german.train, MIN_COUNT),
            reference_design(german.frame, PLATFORM_COLS, german.train, MIN_COUNT),
        ]
    )
    y = german.bank.y
    assert y is not None
    ref = LogisticRegression(C=1.0, max_iter=10_000, tol=1e-10)
    ref.fit(Xj[german.train], y[german.train])
    z_ref = ref.decision_function(Xj[german.test])
    z = np.log(proba[:, 1] / proba[:, 0])
    auc, auc_ref = roc_auc_score(y[german.test], z), roc_auc_score(y[german.test], z_ref)
    assert abs(auc - auc_ref) <= AUC_TOLERANCE, (auc, auc_ref)
    assert np.mean(np.abs(z - z_ref)) <= LOGODDS_TOLERANCE
    # the bank's own design equals the reference's bank block
    n_bank = model.coef_.size
    assert n_bank == reference_design(german.frame, BANK_COLS, german.train, MIN_COUNT).shape[1]
    # the bank learns the platform's categorical design columns only as a padded count
    n_numeric = sum(c not in german.platform.categories for c in PLATFORM_COLS)
    padded = model.n_platform_features_ - n_numeric
    assert padded % PLATFORM_PAD_MULTIPLE == 0
    assert 0 <= padded - (Xj.shape[1] - n_bank - n_numeric) < PLATFORM_PAD_MULTIPLE
    assert model.platform_feature_names_ == []  # the platform did not allow names


def test_unseen_category_scores_as_other_and_no_category_reaches_the_bank(
    german: German, tmp_path: Path
) -> None:
    row = int(german.test[0])
    original = german.frame.loc[row, "A17"]
    counts = german.frame.loc[german.train, "A17"].value_counts()
    rare = str(counts[counts < MIN_COUNT].index[0])  # a training category that went to "other"
    tables = {
        "train": german.platform,
        "unseen": with_value(german, row, "A17", "A199"),
        "rare": with_value(german, row, "A17", rare),
    }
    # an error the platform raises about its categories must name none of them
    broken = german.platform.take(np.arange(german.platform.n_rows))
    broken.categories = {k: v for k, v in broken.categories.items() if k != "A17"}
    manager = SessionManager(tmp_path / "platform", Datasets({**tables, "broken": broken}))
    peer = RecordingPeer(InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec()))
    model = FederatedLogisticRegression(
        max_epochs=3, min_category_count=MIN_COUNT, key_bits=1024, random_state=0
    )
    model.fit(german.bank, peer, rows=german.train, platform_dataset="train")
    rows = np.asarray([row])
    p = {
        name: model.decision_function(german.bank, peer, rows=rows, platform_dataset=name)[0]
        for name in tables
    }
    assert original != rare
    assert p["unseen"] == pytest.approx(p["rare"], abs=1e-9)
    assert p["unseen"] != pytest.approx(p["train"], abs=1e-6)
    with pytest.raises(FedCreditError) as err:
        model.decision_function(german.bank, peer, rows=rows, platform_dataset="broken")
    path = tmp_path / "bank_part.json"
    model.save(path)
    blob = bank_received_text(peer.transcript, str(err.value), path.read_text())
    assert "A14" in blob  # the bank's own categories are in its part: the scan sees text
    assert not sorted(s for s in platform_strings(german) | {"A199"} if s in blob)


def test_bank_woe_encoding_and_part_round_trip(german: German, tmp_path: Path) -> None:
    manager = SessionManager(tmp_path / "platform", Datasets({"train": german.platform}))
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    model = FederatedLogisticRegression(
        categorical_encoding="woe",
        max_epochs=4,
        min_category_count=MIN_COUNT,
        key_bits=1024,
        random_state=0,
    )
    model.fit(german.bank, peer, rows=german.train, platform_dataset="train")
    assert model.coef_.size == len(BANK_COLS)  # one WOE column per bank feature
    z = model.decision_function(german.bank, peer, rows=german.test)
    y = german.bank.y
    assert y is not None and roc_auc_score(y[german.test], z) > 0.7
    path = tmp_path / "bank.json"
    model.save(path)
    loaded = FederatedLogisticRegression.load(path)
    assert np.allclose(loaded.decision_function(german.bank, peer, rows=german.test), z)
    with pytest.raises(FedCreditError):
        FederatedLogisticRegression(categorical_encoding="ordinal", key_bits=1024).fit(
            german.bank, peer, rows=german.train, platform_dataset="train"
        )
