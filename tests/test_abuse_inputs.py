"""Issue 14 row 10 (the estimators' side): bad hyper-parameters and one-class training sets
are clear ``InvalidArgument`` errors before any network call, never tracebacks or models.

(The job file's own validation before PSI is ``tests/test_gov_*``'s.)"""

from __future__ import annotations

import numpy as np
import pytest

from models.dataset import PartyTable
from models.errors import InvalidArgument
from models.logreg.active import FederatedLogisticRegression
from models.secureboost.active import SecureBoostClassifier
from models.secureboost.engine import MAX_ESTIMATORS


class NoPeer:
    """A peer that fails the test if training reaches the network."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"training reached the network ({name}) with bad input")


def _table(y: np.ndarray) -> PartyTable:
    n = y.size
    rng = np.random.default_rng(0)
    return PartyTable(
        ids=np.asarray([f"id{i}" for i in range(n)]),
        X=rng.normal(size=(n, 3)),
        feature_names=["a", "b", "c"],
        feature_groups=["bank"] * 3,
        y=y.astype(np.float64),
    )


GOOD = _table(np.asarray([0, 1] * 10))


@pytest.mark.parametrize(
    "params",
    [
        {"n_estimators": "abc"},
        {"n_estimators": 1e9},
        {"n_estimators": MAX_ESTIMATORS + 1},
        {"n_estimators": True},
        {"learning_rate": "fast"},
        {"learning_rate": float("nan")},
        {"max_depth": 2.5},
        {"goss": "yes"},
        {"subsample": None},
    ],
)
def test_secureboost_bad_hyper_parameters_are_invalid_argument(params: dict) -> None:
    est = SecureBoostClassifier(key_bits=1024).set_params(**params)
    with pytest.raises(InvalidArgument):
        est.fit(GOOD, NoPeer())  # type: ignore[arg-type]


def test_secureboost_refuses_a_one_class_training_set() -> None:
    one_class = _table(np.zeros(20))
    with pytest.raises(InvalidArgument, match="both classes"):
        SecureBoostClassifier(key_bits=1024).fit(one_class, NoPeer())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "params", [{"max_epochs": "abc"}, {"C": "x"}, {"max_epochs": 1e9}, {"batch_size": None}]
)
def test_logreg_bad_hyper_parameters_are_invalid_argument(params: dict) -> None:
    est = FederatedLogisticRegression(key_bits=1024).set_params(**params)
    with pytest.raises(InvalidArgument):
        est.fit(GOOD, NoPeer())  # type: ignore[arg-type]
