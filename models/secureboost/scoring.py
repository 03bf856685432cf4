"""Online scoring of SecureBoost models: EINI prediction under the scoring header.

The platform part (``<data_dir>/models/secureboost/[<bank>/]<model_id>.json``, saved when
training finishes) maps each platform split id to (feature name, threshold, missing
direction). For each company the platform decides every split of the model with
:class:`~models.secureboost.eini_platform.PlatformSplits` (the same rule as every other
prediction of the model), turns its decisions into 0/1 cell selections, multiplies the bank's
encrypted cell values and seals the sums (``models/secureboost/eini.py``): the bank reads each
company's margin and nothing about the path; the platform learns nothing but which companies
were scored. A company refused by policy (no consent, unknown) selects nothing: its read-out
holds only the flood.

The bank's CKKS public context is sent once per platform (``need_key`` asks for it) and kept
with a pool of fresh encryptions of zero made in the background, so that sealing an answer
does not wait for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.crypto.wire import CipherArray
from models.federation.messages import WireMessage
from models.federation.scoring import (
    Companies,
    ScoreHeader,
    ScoreReply,
    ScoringFamily,
    register_scoring,
)
from models.secureboost.eini_platform import BankKeys, PlatformSplits, answer_rows
from models.secureboost.messages import SbSecurePredictRequest, SbSecurePredictResponse
from models.secureboost.model_io import PLATFORM_FORMAT, load_part

#: Fresh encryptions of zero kept ready per bank key.
ZERO_POOL = 8


@dataclass(frozen=True)
class SbScoreRequest(WireMessage):
    """EINI prediction of one or more companies for online scoring.

    Reveals to platform: the header (companies, model, date) and what
    :class:`~models.secureboost.messages.SbSecurePredictRequest` reveals (ciphertexts only).
    """

    header: ScoreHeader
    predict: SbSecurePredictRequest


@dataclass(frozen=True)
class SbScoreResponse(WireMessage):
    """The platform's verdict per company and the sealed margins.

    Reveals to bank: what :class:`~models.federation.scoring.ScoreReply` and
    :class:`~models.secureboost.messages.SbSecurePredictResponse` reveal: each allowed
    company's margin (less the bank's own part), nothing about its path.
    """

    reply: ScoreReply
    predict: SbSecurePredictResponse


@dataclass(frozen=True)
class TreePart:
    """A SecureBoost platform part, ready for online scoring."""

    model_id: str
    digest: str
    bank_party: str
    dataset: str
    splits: PlatformSplits

    @property
    def source_features(self) -> tuple[str, ...]:
        return self.splits.source_features

    @classmethod
    def load(cls, path: Path) -> TreePart:
        body, digest = load_part(path, PLATFORM_FORMAT)
        return cls(
            model_id=str(body.get("model_id", "")),
            digest=digest,
            bank_party=str(body.get("bank_party", "")),
            dataset=str(body.get("dataset", "")),
            splits=PlatformSplits.from_part(body),
        )


@register_scoring
class SecureBoostScoring(ScoringFamily):
    """SecureBoost's platform part of online scoring."""

    family = "secureboost"
    part_dir = "secureboost"
    request_type = SbScoreRequest

    def __init__(self, zero_pool: int = ZERO_POOL) -> None:
        self.keys = BankKeys(pool=zero_pool)

    def load_part(self, path: Path) -> TreePart:
        return TreePart.load(path)

    def answer(
        self, part: Any, request: Any, companies: Companies, reply: ScoreReply
    ) -> WireMessage:
        pred: SbSecurePredictRequest = request.predict
        n = int(companies.usable.size)
        ev = self.keys.get(companies.caller_party, pred.key_fingerprint, pred.public_context)
        if ev is None:
            empty = CipherArray.of_blobs("ckks", pred.key_fingerprint, [])
            return SbScoreResponse(
                reply, SbSecurePredictResponse(part.model_id, part.digest, n, True, empty)
            )
        enc = answer_rows(
            ev,
            part.splits,
            companies.X,
            part.source_features,
            companies.usable,
            pred.layout_digest,
            pred.enc_cells,
            companies.categories,
        )
        return SbScoreResponse(
            reply, SbSecurePredictResponse(part.model_id, part.digest, n, False, enc)
        )

    def close(self) -> None:
        self.keys.close()
