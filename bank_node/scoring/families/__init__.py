"""Bank-side adapters, one small module per model family: load the bank's part, name its bank
features, and score companies through the platform's part of the family's protocol.

Each adapter offers::

    family: str                  # "secureboost", "logreg", ...
    model_id, platform_digest, dataset: str
    bank_features: list[str]     # the model's bank feature names, in input order
    describe: dict[str, str]     # optional descriptions of bank features (reason texts)
    score(job, platform, keys) -> Scored

``platform`` is the bank's :class:`~models.federation.peer.ScoringPeer`; the request and
answer are the family's typed messages (``models/<family>/scoring.py``).
"""

from __future__ import annotations

from pathlib import Path

from bank_node.scoring.families.common import (
    BankModel,
    Scored,
    ScoreJob,
    check_reply,
    header_for,
    part_format,
    refusal,
)
from models.errors import InvalidArgument

__all__ = [
    "BankModel",
    "ScoreJob",
    "Scored",
    "check_reply",
    "header_for",
    "load_bank_model",
    "part_format",
    "refusal",
]


def load_bank_model(path: Path) -> BankModel:
    """Load the bank's part of any supported family (dispatch on its ``format``)."""
    fmt = part_format(path)
    if fmt == "fedcredit.secureboost.bank":
        from bank_node.scoring.families.secureboost import SecureBoostScoring

        return SecureBoostScoring.load(path)
    if fmt == "fedcredit.logreg.bank":
        from bank_node.scoring.families.logreg import LogRegScoring

        return LogRegScoring.load(path)
    if fmt == "fedcredit.scorecard.bank":
        from bank_node.scoring.families.scorecard import ScorecardScoring

        return ScorecardScoring.load(path)
    raise InvalidArgument("this model family cannot be served for scoring")
