"""Issue 15 item 7: the federated estimators follow scikit-learn's conventions.

Before: no ``BaseEstimator`` (a plain ``<object at ...>`` repr, ``clone`` impossible), and
``fit`` took ``train_rows/valid_rows/dataset`` in SecureBoost but ``rows/validation_rows/
platform_dataset`` in the linear models; logistic regression reported its epochs only after the
fit. Now all three derive from :class:`models.estimator_params.FederatedEstimator`, share one
``fit`` shape, and the Python API notebook in ``docs/`` runs as written.
"""

from __future__ import annotations

import inspect
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from sklearn.base import clone, is_classifier
from sklearn.utils import estimator_checks as checks

from models.errors import InvalidArgument
from models.logreg.active import FederatedLogisticRegression
from models.scorecard.active import FederatedScorecard
from models.secureboost.active import SecureBoostClassifier

ESTIMATORS = [SecureBoostClassifier, FederatedLogisticRegression, FederatedScorecard]
ROOT = Path(__file__).resolve().parents[1]

# scikit-learn's own checks that do not need fit(X, y) on a plain matrix
SKLEARN_CHECKS = [
    "check_parameters_default_constructible",
    "check_no_attributes_set_in_init",
    "check_get_params_invariance",
    "check_set_params",
    "check_estimator_repr",
    "check_estimator_cloneable",
    "check_do_not_raise_errors_in_init_or_set_params",
]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("check", SKLEARN_CHECKS)
def test_sklearn_estimator_checks(cls: type, check: str) -> None:
    fn = getattr(checks, check)  # every one exists from scikit-learn 1.6 (pyproject's bound)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn(cls.__name__, cls())


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_clone_repr_and_params(cls: type) -> None:
    est = cls(random_state=7)
    assert is_classifier(est)
    assert repr(est).startswith(f"{cls.__name__}(") and "random_state=7" in repr(est)
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    name = next(iter(est.get_params()))
    with pytest.raises(InvalidArgument, match="did you mean"):
        est.set_params(**{name + "x": 1})
    with pytest.raises(InvalidArgument, match="unknown hyper-parameter 'zzz'"):
        est.set_params(zzz=1)


def test_one_fit_shape() -> None:
    """The same keyword names in every estimator's fit and prediction methods."""
    for cls in ESTIMATORS:
        fit = inspect.signature(cls.fit).parameters
        assert list(fit)[:3] == ["self", "bank_table", "peer"], cls
        for name in ("rows", "validation_rows", "platform_dataset", "callbacks"):
            assert name in fit and fit[name].kind is inspect.Parameter.KEYWORD_ONLY, (cls, name)
        assert "train_rows" not in fit and "valid_rows" not in fit and "dataset" not in fit
        for method in ("predict_proba", "predict", "score"):
            params = inspect.signature(getattr(cls, method)).parameters
            assert list(params)[:3] == ["self", "bank_table", "peer"], (cls, method)


def _code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_python_api_notebook_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """Executes docs/python_api.ipynb cell by cell, then checks what it computed: SecureBoost
    within 0.03 AUC of LightGBM on the joined table (hardened mode adds histogram noise;
    the lossless comparison with noise off is in test_secureboost_protocol), logistic
    regression reporting each epoch through its callback as it ended."""
    ns: dict[str, Any] = {"__name__": "__notebook__"}
    for i, src in enumerate(_code_cells(ROOT / "docs" / "python_api.ipynb")):
        exec(compile(src, f"python_api.ipynb[cell {i}]", "exec"), ns)
    out = capsys.readouterr().out
    assert ns["auc_sb"] > 0.9 and abs(ns["auc_sb"] - ns["auc_ref"]) < 0.03
    assert ns["epochs"] == list(range(ns["lr"].n_epochs_)) and ns["epochs"]
    assert ns["auc_lr"] > 0.95
    assert "SecureBoostClassifier(" in out and "refused: unknown hyper-parameter" in out
