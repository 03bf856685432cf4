"""Bank-side adapters, one small module per model family: load the bank's part, name its bank
features, and assemble a score from the platform's answer.

Each adapter offers::

    family: str                  # "secureboost", "logreg", ...
    model_id, platform_digest, dataset: str
    bank_features: list[str]     # the model's bank feature names, in input order
    needs_key: bool              # the platform's answer is encrypted under the bank's key
    describe: dict[str, str]     # optional descriptions of bank features (reason texts)
    assemble(x_bank, reply, keys) -> Assembled
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bank_node.scoring.assembler import Assembled
from bank_node.scoring.keys import ScoringKeys
from models.errors import DataLoss, InvalidArgument, NotFound
from proto.fedcredit.v1 import scoring_pb2


class BankModel(Protocol):
    family: str
    model_id: str
    platform_digest: str
    dataset: str
    bank_features: list[str]
    needs_key: bool
    describe: dict[str, str]

    def assemble(
        self, x_bank: np.ndarray, reply: scoring_pb2.PlatformScoreResponse, keys: ScoringKeys
    ) -> Assembled: ...


def part_format(path: Path) -> str:
    """The ``format`` field of a model part file."""
    try:
        with open(path, "rb") as fh:
            doc: Any = json.load(fh)
    except FileNotFoundError:
        raise NotFound("the model part file is missing") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataLoss("the model part is not valid JSON") from exc
    fmt = doc.get("format") if isinstance(doc, dict) else None
    if not isinstance(fmt, str):
        raise DataLoss("the model part names no format")
    return fmt


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
