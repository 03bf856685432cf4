"""Vertical LR on string columns: each side one-hot encodes its own categories, locally.

German credit (UCI Statlog, 1,000 rows, 13 string columns) split column-wise: the bank holds
A1-A10 and the label, the platform A11-A20. The federated model must match scikit-learn's
LogisticRegression on the joined table with the same one-hot encoding (built here
independently with pandas), score a category unseen in training as ``other``, and nothing the
bank receives may carry a platform category string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

import models.logreg.passive  # noqa: F401  (registers the platform party)
from models.categorical import encode_frame
from models.dataset import PartyTable
from models.errors import FedCreditError
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.recording import RecordingPeer, iter_values
from models.logreg.active import FederatedLogisticRegression
from models.logreg.encoding import PLATFORM_PAD_MULTIPLE, CategoryEncoder
from proto.transport.codec import ProtobufCodec

#: Federated vs scikit-learn on the same one-hot design: test AUC and log-odds.
AUC_TOLERANCE = 0.003
LOGODDS_TOLERANCE = 0.05
MIN_COUNT = 25
BANK_COLS = [f"A{k}" for k in range(1, 11)]
PLATFORM_COLS = [f"A{k}" for k in range(11, 21)]


@dataclass
class German:
    frame: pd.DataFrame  # raw strings (platform's A12 with some missing values)
    bank: PartyTable
    platform: PartyTable
    train: np.ndarray
    test: np.ndarray


def _party(frame: pd.DataFrame, cols: list[str], group: str, y: np.ndarray | None) -> PartyTable:
    X, cats = encode_frame(frame, cols)
    return PartyTable(
        ids=frame["id"].to_numpy(),
        X=X,
        feature_names=list(cols),
        feature_groups=[group] * len(cols),
        y=y,
        categories=cats,
    )


@pytest.fixture(scope="module")
def german(shared_data: Path) -> German:
    path = shared_data / "german.data"
    if not path.exists():
        pytest.skip("german.data not found")
    return load_german(path)


def load_german(path: Path) -> German:
    """German credit split column-wise, with 5% missing values in the platform's A12."""
    frame = pd.read_csv(path, sep=r"\s+", header=None)
    frame.columns = [f"A{k}" for k in range(1, 22)]
    frame.insert(0, "id", [f"c{i:04d}" for i in range(len(frame))])
    rng = np.random.default_rng(0)
    frame["A12"] = frame["A12"].astype(object)
    frame.loc[rng.random(len(frame)) < 0.05, "A12"] = None  # platform missing values
    y = (frame["A21"] == 2).to_numpy(dtype=np.float64)
    perm = rng.permutation(len(frame))
    return German(
        frame=frame,
        bank=_party(frame, BANK_COLS, "bank", y),
        platform=_party(frame, PLATFORM_COLS, "served", None),
        train=np.sort(perm[:800]),
        test=np.sort(perm[800:]),
    )


def reference_design(frame: pd.DataFrame, cols: list[str], train: np.ndarray) -> np.ndarray:
    """One-hot (frequent categories, other, missing) + standardisation, built with pandas."""
    blocks = []
    for c in cols:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col):
            blocks.append(col.to_numpy(dtype=np.float64)[:, None])
            continue
        counts = col.iloc[train].value_counts()
        kept = sorted(str(k) for k, n in counts.items() if n >= MIN_COUNT)
        text = col.astype("string")
        onehot = [(text == k).fillna(False).to_numpy(dtype=np.float64) for k in kept]
        other = (~text.isin(kept) & text.notna()).to_numpy(dtype=np.float64)
        blocks.append(np.column_stack([*onehot, other, text.isna().to_numpy(np.float64)]))
    X = np.hstack(blocks)
    return np.asarray(StandardScaler().fit(X[train]).transform(X))


class Datasets:
    """A DataProvider serving several platform tables by dataset name."""

    def __init__(self, tables: Mapping[str, PartyTable]) -> None:
        self.tables = dict(tables)

    def load(self, dataset: str, caller: Caller, params: Mapping[str, str]) -> PartyTable:
        return self.tables[dataset]


def _fit(g: German, peer: object, mode: str = "paillier") -> FederatedLogisticRegression:
    model = FederatedLogisticRegression(
        mode=mode,
        optimizer="precond",
        schedule="constant",
        max_epochs=40,
        tol=1e-4,
        min_category_count=MIN_COUNT,
        key_bits=1024,
        random_state=0,
    )
    return model.fit(g.bank, peer, rows=g.train, platform_dataset="train")  # type: ignore[arg-type]


def _variant(g: German, row: int, value: str) -> PartyTable:
    frame = g.frame.copy()
    frame.loc[row, "A17"] = value
    return _party(frame, PLATFORM_COLS, "served", None)


def test_encoder_round_trip_and_layout() -> None:
    X = np.array([[0.0, 1.5], [0.0, np.nan], [1.0, 2.0], [np.nan, 0.0], [2.0, 1.0]])
    cats = {"c": ("a", "b", "z")}
    enc = CategoryEncoder(min_count=2, pad_multiple=4).fit(X, ["c", "x"], cats, np.arange(5))
    assert enc.names_ == ["c#0", "c#other", "c#missing", "x", "#pad0"]
    back = CategoryEncoder.from_dict(enc.to_dict())
    # the scoring table codes its categories differently and has a new one ("q")
    Z = back.transform(np.array([[1.0, 3.0], [0.0, 1.0], [3.0, 0.0]]), {"c": ("q", "a", "b", "y")})
    assert Z.tolist() == [[1, 0, 0, 3, 0], [0, 1, 0, 1, 0], [0, 1, 0, 0, 0]]
    woe = CategoryEncoder("woe", min_count=2).fit(
        X, ["c", "x"], cats, np.arange(5), np.array([1.0, 0.0, 1.0, 0.0, 0.0])
    )
    assert woe.names_ == ["c", "x"] and len(woe.columns[0].woe) == 3


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
            reference_design(german.frame, BANK_COLS, german.train),
            reference_design(german.frame, PLATFORM_COLS, german.train),
        ]
    )
    y = german.bank.y
    assert y is not None
    ref = LogisticRegression(C=1.0, max_iter=10_000, tol=1e-10).fit(Xj[german.train], y[german.train])
    z_ref = ref.decision_function(Xj[german.test])
    z = np.log(proba[:, 1] / proba[:, 0])
    auc, auc_ref = roc_auc_score(y[german.test], z), roc_auc_score(y[german.test], z_ref)
    assert abs(auc - auc_ref) <= AUC_TOLERANCE, (auc, auc_ref)
    assert np.mean(np.abs(z - z_ref)) <= LOGODDS_TOLERANCE
    # the bank's own design equals the reference's bank block
    n_bank = model.coef_.size
    assert n_bank == reference_design(german.frame, BANK_COLS, german.train).shape[1]
    # the bank learns only a padded count of platform design columns, and no names of them
    assert model.n_platform_features_ % PLATFORM_PAD_MULTIPLE == 0
    assert model.n_platform_features_ >= Xj.shape[1] - n_bank


def test_unseen_category_scores_as_other_and_no_category_reaches_the_bank(
    german: German, tmp_path: Path
) -> None:
    row = int(german.test[0])
    original = german.frame.loc[row, "A17"]
    counts = german.frame.loc[german.train, "A17"].value_counts()
    rare = str(counts[counts < MIN_COUNT].index[0])  # a training category that went to "other"
    tables = {
        "train": german.platform,
        "unseen": _variant(german, row, "A199"),
        "rare": _variant(german, row, rare),
    }
    # an error the platform raises about its categories must name none of them
    broken = german.platform.take(np.arange(german.platform.n_rows))
    broken.categories = {k: v for k, v in broken.categories.items() if k != "A17"}
    manager = SessionManager(tmp_path / "platform", Datasets({**tables, "broken": broken}))
    peer = RecordingPeer(InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec()))
    model = FederatedLogisticRegression(
        max_epochs=3, min_category_count=MIN_COUNT, key_bits=1024, random_state=0
    )
    model.fit(german.bank, peer, rows=german.train, platform_dataset="train")  # type: ignore[arg-type]
    rows = np.asarray([row])
    p = {
        name: model.decision_function(german.bank, peer, rows=rows, platform_dataset=name)[0]  # type: ignore[arg-type]
        for name in tables
    }
    assert original != rare
    assert p["unseen"] == pytest.approx(p["rare"], abs=1e-9)
    assert p["unseen"] != pytest.approx(p["train"], abs=1e-6)
    with pytest.raises(FedCreditError) as err:
        model.decision_function(german.bank, peer, rows=rows, platform_dataset="broken")  # type: ignore[arg-type]
    path = tmp_path / "bank_part.json"
    model.save(path)
    platform_strings = {
        str(v) for c in PLATFORM_COLS for v in german.frame[c].dropna().unique() if isinstance(v, str)
    } | {"A199"}
    received: list[str] = [str(err.value), path.read_text()]
    for message in peer.transcript.to_active():
        for _, leaf in iter_values(message):
            if isinstance(leaf, str):
                received.append(leaf)
            elif isinstance(leaf, bytes):  # text carried as bytes (ciphertexts are not UTF-8)
                try:
                    received.append(leaf.decode("utf-8"))
                except UnicodeDecodeError:
                    pass
    blob = "\x00".join(received)
    assert "A1" in blob  # the bank's own features are in its part: the scan sees text
    leaked = sorted(s for s in platform_strings if s in blob and s not in _bank_strings(german))
    assert not leaked


def _bank_strings(g: German) -> set[str]:
    """Strings the bank holds itself (its column names and categories), excluded from the scan;
    German credit's category codes are unique per column (A11... for A1, A121... for A12), so
    this set shares no platform category."""
    out = set(BANK_COLS) | {str(v) for c in BANK_COLS for v in g.frame[c].unique()}
    return out
