"""The bank's half of a fitted linear model (logistic regression or scorecard).

:class:`~models.logreg.active.FederatedLogisticRegression` and
:class:`~models.scorecard.active.FederatedScorecard` share this: the fitted attributes both
keep, the fields both write into the bank's part of the model file (no key material, no
platform weights or points), and scoring the platform's half of the model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.dataset import PartyTable
from models.federation.peer import PassivePeer
from models.logreg.he import ActiveCrypto
from models.logreg.model_io import FORMAT_VERSION, save_part
from models.logreg.partial_scores import fetch_platform_scores, scoring_keys


class LinearBankModel(ABC):
    """Shared state and behaviour of the bank's linear estimators.

    Subclasses set ``algorithm``, the constructor arguments ``mode`` and ``key_bits``, and the
    fitted attributes below, and define :meth:`to_dict`.
    """

    algorithm: ClassVar[str]
    mode: str
    key_bits: int
    model_id_: str
    platform_dataset_: str
    session_params_: dict[str, str]
    feature_names_in_: list[str]
    coef_: np.ndarray
    intercept_: float
    platform_digest_: str
    history_: list[dict[str, Any]]
    keys_: ActiveCrypto

    # ------------------------------------------------------------------ scoring
    def platform_part_scores(
        self,
        bank_table: PartyTable,
        peer: PassivePeer,
        rows: np.ndarray,
        *,
        dataset: str,
        job_id: str | None = None,
    ) -> np.ndarray:
        """The platform's half of each row's score, received encrypted and decrypted.

        Keys that cannot receive scores in ``mode`` are replaced by fresh scoring keys
        (kept in ``keys_``). See :func:`~models.logreg.partial_scores.fetch_platform_scores`.
        """
        keys = scoring_keys(getattr(self, "keys_", None), self.mode, self.key_bits)
        self.keys_ = keys
        return fetch_platform_scores(
            peer,
            keys,
            algorithm=self.algorithm,
            dataset=dataset,
            session_params=getattr(self, "session_params_", {}),
            model_id=self.model_id_,
            platform_digest=self.platform_digest_,
            ids=bank_table.ids,
            rows=rows,
            job_id=job_id,
        )

    # ------------------------------------------------------------------ persistence
    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The bank's part of the model (subclasses add their fields to :meth:`common_part`)."""

    def save(self, path: Path) -> str:
        """Write the bank's part (canonical JSON with digest); returns the digest."""
        return save_part(Path(path), self.to_dict())

    def common_part(self, part_format: str) -> dict[str, Any]:
        """The shared fields of the bank's part, tagged with ``part_format``."""
        return {
            "format": part_format,
            "format_version": FORMAT_VERSION,
            "model_id": self.model_id_,
            "mode": self.mode,
            "platform_dataset": self.platform_dataset_,
            "session_params": getattr(self, "session_params_", {}),
            "feature_names": self.feature_names_in_,
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
            "platform_digest": self.platform_digest_,
            "history": self.history_,
        }

    def restore_common_part(self, body: dict[str, Any]) -> None:
        """Set the shared fitted attributes from a loaded part (``mode`` is a constructor
        argument, set by the caller)."""
        self.model_id_ = body["model_id"]
        self.platform_dataset_ = body["platform_dataset"]
        self.session_params_ = dict(body.get("session_params", {}))
        self.feature_names_in_ = list(body["feature_names"])
        self.coef_ = np.asarray(body["coef"], dtype=np.float64)
        self.intercept_ = float(body["intercept"])
        self.platform_digest_ = body["platform_digest"]
        self.history_ = list(body["history"])
