"""The input contract of :func:`bank_node.tracking.log_training_run` and what it returns.

The training code fills a :class:`JobRecord` (what was run, by whom, on which data) and a
:class:`TrainingResult` (what came out) from information the bank already holds: its own
data, the platform's ``DescribeResponse`` (digest, row count, categories: never rows), the
PSI summary and the TLS identities of both sides.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PartyData:
    """One side's training data, described without any row.

    Attributes
    ----------
    party
        Party name (certificate CN), e.g. ``"bank-a"`` or ``"platform"``.
    dataset
        Name of the dataset on that side.
    digest
        SHA-256 (hex) of the side's table, as that side computed it.
    n_rows
        Rows of the side's table before alignment.
    categories
        Feature categories used (the platform's catalogue categories, the bank's field groups).
    schema
        ``(column, type)`` pairs the side reveals (``double``, ``long``, ``string``, ...); the
        platform may reveal category-level columns only.
    date_range
        ``(first, last)`` ISO dates of the observation window, or ``None``.
    cert_fingerprint
        SHA-256 fingerprint of the side's TLS certificate (as seen by the bank).
    """

    party: str
    dataset: str
    digest: str
    n_rows: int
    categories: list[str] = field(default_factory=list)
    schema: list[tuple[str, str]] = field(default_factory=list)
    date_range: tuple[str, str] | None = None
    cert_fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["schema"] = [list(c) for c in self.schema]
        d["date_range"] = list(self.date_range) if self.date_range else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PartyData:
        return cls(
            party=d["party"],
            dataset=d.get("dataset", ""),
            digest=d.get("digest", ""),
            n_rows=int(d.get("n_rows", 0)),
            categories=list(d.get("categories", [])),
            schema=[(str(c[0]), str(c[1])) for c in d.get("schema", [])],
            date_range=(str(d["date_range"][0]), str(d["date_range"][1]))
            if d.get("date_range")
            else None,
            cert_fingerprint=d.get("cert_fingerprint", ""),
        )


@dataclass(frozen=True)
class CryptoInfo:
    """Homomorphic scheme and key size (``"paillier"``, 2048), plus any other settings."""

    scheme: str
    key_bits: int
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PsiInfo:
    """Private set intersection summary: protocol name and the three set sizes."""

    protocol: str
    bank_size: int
    platform_size: int
    intersection_size: int


@dataclass(frozen=True)
class JobRecord:
    """Who ran which training job, how, and on what.

    ``launched_at`` / ``finished_at`` are ISO 8601 UTC strings; ``params`` are the algorithm's
    hyper-parameters (JSON values); ``code_version`` is filled by ``log_training_run`` when
    empty (``git describe`` or the package version). ``privacy`` is the training protocol's
    privacy mode and what the privacy attacks measured for it (SecureBoost:
    :func:`models.secureboost.privacy.privacy_record`; empty for other algorithms).
    """

    job_id: str
    launched_by: str
    launched_at: str
    algorithm: str
    params: dict[str, Any]
    crypto: CryptoInfo
    psi: PsiInfo
    bank: PartyData
    platform: PartyData
    launched_by_fingerprint: str = ""
    finished_at: str = ""
    code_version: str = ""
    privacy: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["bank"] = self.bank.to_dict()
        d["platform"] = self.platform.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobRecord:
        return cls(
            job_id=d["job_id"],
            launched_by=d.get("launched_by", ""),
            launched_at=d.get("launched_at", ""),
            algorithm=d.get("algorithm", ""),
            params=dict(d.get("params", {})),
            crypto=CryptoInfo(**d["crypto"]),
            psi=PsiInfo(**d["psi"]),
            bank=PartyData.from_dict(d["bank"]),
            platform=PartyData.from_dict(d["platform"]),
            launched_by_fingerprint=d.get("launched_by_fingerprint", ""),
            finished_at=d.get("finished_at", ""),
            code_version=d.get("code_version", ""),
            privacy=dict(d.get("privacy", {})),
        )


@dataclass(frozen=True)
class ModelPart:
    """One party's half of the federated model.

    The bank's part has a local ``path`` (logged as an artifact); the platform's part stays on
    the platform and is known by its ``model_id`` and ``digest`` (reported through the session).
    """

    party: str
    digest: str
    model_id: str = ""
    path: str | None = None


@dataclass
class TrainingResult:
    """What a training job produced.

    Attributes
    ----------
    model_id
        Federated model id shared by both parts.
    history
        One dict per tree or epoch, e.g. ``{"step": 3, "train_auc": .., "val_auc": ..,
        "train_ks": .., "val_ks": .., "train_loss": .., "val_loss": ..}`` (``step`` optional).
    final_metrics
        Metrics of the final model (logged as ``final.<name>``).
    importance
        ``{party: {category: importance}}`` (platform features by category only).
    y_true, y_score
        Validation labels and predicted probabilities (bank side), for the ROC and KS plots;
        only the curves are stored, never these arrays.
    bank_part, platform_part
        The two model parts.
    privacy
        Differential privacy applied during training, by what it covers (e.g.
        ``{"binning_counts": {"epsilon": 1.0, ...}}``); empty when none.
    """

    model_id: str
    history: list[dict[str, float]]
    final_metrics: dict[str, float]
    importance: dict[str, dict[str, float]]
    y_true: np.ndarray
    y_score: np.ndarray
    bank_part: ModelPart
    platform_part: ModelPart
    privacy: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInfo:
    """The MLflow run a training job was logged to."""

    run_id: str
    experiment_id: str
    artifact_uri: str
    run_name: str


@dataclass(frozen=True)
class ModelVersionRef:
    """A registered model version."""

    name: str
    version: str
    run_id: str
    model_id: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Approval:
    """A promotion: who gave ``alias`` to ``name`` version ``version``, and when."""

    name: str
    version: str
    alias: str
    approver: str
    approved_at: str
    previous_version: str = ""
