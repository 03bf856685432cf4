"""What every bank-side family adapter shares: the scoring job, the scored result, the
adapter protocol and the checks of the platform's reply (the family modules import this, not
the package, so the package can dispatch to them without an import cycle)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bank_node.scoring.assembler import Assembled
from bank_node.scoring.keys import ScoringKeys
from models.errors import DataLoss, ErrorKind, InternalError, NotFound, error_for
from models.federation.peer import ScoringPeer
from models.federation.scoring import ScoreHeader, ScoreReply


@dataclass(frozen=True)
class ScoreJob:
    """One company to score: the bank's request id, USCC, scoring date and bank features."""

    request_id: str
    uscc: str
    as_of: str
    x_bank: np.ndarray
    max_reasons: int = 4


@dataclass(frozen=True)
class Scored:
    """A company's assembled score and the platform's verdict on it."""

    assembled: Assembled
    consent_id: str
    as_of: str


class BankModel(Protocol):
    family: str
    model_id: str
    platform_digest: str
    dataset: str
    bank_features: list[str]
    describe: dict[str, str]

    def score(self, job: ScoreJob, platform: ScoringPeer, keys: ScoringKeys) -> Scored: ...


def header_for(model: BankModel, jobs: list[ScoreJob]) -> ScoreHeader:
    """The scoring header of a request for these jobs (one model, one scoring date)."""
    return ScoreHeader(
        request_ids=[j.request_id for j in jobs],
        usccs=[j.uscc for j in jobs],
        family=model.family,
        model_id=model.model_id,
        platform_digest=model.platform_digest,
        dataset=model.dataset,
        as_of=jobs[0].as_of if jobs else "",
    )


def check_reply(reply: ScoreReply, n: int) -> None:
    """Refuse an answer for another number of companies."""
    if not (len(reply.status) == len(reply.messages) == len(reply.consent_ids) == n):
        raise InternalError("the platform answered for another number of companies")


def refusal(reply: ScoreReply, i: int) -> Exception | None:
    """The domain error the platform reported for company ``i`` (None: allowed)."""
    status = reply.status[i]
    if not status:
        return None
    try:
        kind = ErrorKind(status)
    except ValueError:
        kind = ErrorKind.INTERNAL
    return error_for(kind, reply.messages[i] or kind.value)


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
