"""The scikit-learn base of the bank's federated estimators.

Every federated estimator (:class:`~models.secureboost.active.SecureBoostClassifier`,
:class:`~models.logreg.active.FederatedLogisticRegression`,
:class:`~models.scorecard.active.FederatedScorecard`) is a scikit-learn classifier in all
that does not depend on where the data lives: hyper-parameters are the constructor's
arguments, kept as attributes of the same name and untouched by ``__init__``, so
``get_params`` / ``set_params`` / ``clone`` / ``repr`` work as for any estimator, and fitted
state ends in ``_``.

What differs is the data: a federated estimator never sees the platform's columns, so instead
of ``fit(X, y)`` every one of them has the same shape::

    est.fit(bank_table, peer, *, rows=None, validation_rows=None, platform_dataset="", ...)
    est.predict_proba(bank_table, peer, *, rows=None, platform_dataset=None)
    est.predict(bank_table, peer, *, rows=None, platform_dataset=None)
    est.score(bank_table, peer, *, rows=None)   # mean accuracy, as ClassifierMixin.score

``bank_table`` is the bank's :class:`~models.dataset.PartyTable` (aligned rows, labels ``y``),
``peer`` the connection to the platform, ``rows`` positions in the aligned table.
"""

from __future__ import annotations

import difflib
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from models.errors import InvalidArgument


class FederatedEstimator(ClassifierMixin, BaseEstimator):
    """scikit-learn's parameter protocol, with an unknown name refused by name."""

    def set_params(self, **params: Any) -> Self:
        """Set constructor arguments by name.

        An unknown name raises :class:`InvalidArgument` naming it (a hyper-parameter name is
        not data) with the closest valid name, where one is close.
        """
        valid = self.get_params(deep=False)
        for key in params:
            if key not in valid:
                close = difflib.get_close_matches(key, list(valid), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise InvalidArgument(f"unknown hyper-parameter {key!r}{hint}")
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def predict(self, bank_table: Any, peer: Any, **kwargs: Any) -> np.ndarray:
        """Predicted class (0/1) per row: probability of default at least 0.5."""
        proba = self.predict_proba(bank_table, peer, **kwargs)
        return (np.asarray(proba)[:, 1] >= 0.5).astype(np.int64)

    def score(
        self, bank_table: Any, peer: Any, *, rows: np.ndarray | None = None, **kwargs: Any
    ) -> float:
        """Mean accuracy of :meth:`predict` on ``rows`` of ``bank_table`` (its labels ``y``),
        as :meth:`sklearn.base.ClassifierMixin.score`; one federated prediction."""
        if bank_table.y is None:
            raise InvalidArgument("the bank's table has no labels")
        idx = np.arange(len(bank_table.ids)) if rows is None else np.asarray(rows, dtype=np.int64)
        predicted = self.predict(bank_table, peer, rows=idx, **kwargs)
        return float(np.mean(np.asarray(predicted) == np.asarray(bank_table.y)[idx]))
