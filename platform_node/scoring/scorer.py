"""The platform's side of one score request: consent, its part of the score, audit.

Order of checks (each failure is a domain error with a fixed message that names no data):

1. the USCC is well formed (``INVALID_ARGUMENT``);
2. the company has a consent in force for the calling bank with scope ``scoring``
   (``PERMISSION_DENIED``; checked on every request, before anything about the company is
   looked up, so a bank cannot probe the platform for companies that did not consent);
3. the model part exists, belongs to the calling bank and is the version the bank holds
   (``NOT_FOUND`` / ``FAILED_PRECONDITION``);
4. the company is in the platform's data as of the scoring date (``NOT_FOUND``).

Every request, whatever its outcome, is appended to the platform's audit log as a
``score_request`` entry (request id, USCC, bank, model id, consent id, outcome); an answer
leaves the platform only once its entry is written (otherwise ``INTERNAL``).

Reveals to bank: for trees, the go-left bit of the company at every platform split of the
model; for linear models, its partial log-odds (encrypted under the bank's key, which the bank
decrypts) and the names of the categories that raised it most; and which consent authorised
the request. The platform learns that the bank scored this company with this model, nothing of
the bank's features, the application or the result.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.audit import events as ev
from models.audit.log import AuditLog
from models.audit.outcome import run_audited
from models.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from models.federation.party import Caller, DataProvider
from models.uscc import validate_uscc
from platform_node.consent.registry import ConsentRegistry
from platform_node.scoring import linear, scorecard, trees
from platform_node.scoring.features import FeatureRows
from platform_node.scoring.parts import PartStore
from proto.fedcredit.v1 import scoring_pb2
from proto.transport.codec import to_proto

log = logging.getLogger("fedcredit.platform.scoring")

SCOPE = "scoring"
MAX_REASONS = 8


def parse_as_of(value: str, today: Callable[[], dt.date]) -> str:
    """``YYYY-MM-DD`` of the scoring date (today when empty)."""
    if not value:
        return today().isoformat()
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidArgument("as_of must be a date in YYYY-MM-DD form") from None


class PlatformScorer:
    """Answers ``PlatformScoreRequest`` for authenticated banks.

    Parameters
    ----------
    data_dir:
        The platform's data directory (model parts under ``models/``).
    data_provider:
        Where company features come from (see :class:`FeatureRows`).
    consent_registry:
        Checked on every request.
    audit_log:
        Every request is recorded there.
    party:
        The platform's party name.
    clock:
        Current aware datetime (tests inject one); the scoring date is its UTC date.
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        data_provider: DataProvider,
        consent_registry: ConsentRegistry,
        audit_log: AuditLog,
        party: str = "platform",
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.party = party
        self.parts = PartStore(Path(data_dir))
        self.features = FeatureRows(data_provider)
        self.consent = consent_registry
        self.audit = audit_log
        self.keys = linear.PublicKeys()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def _today(self) -> dt.date:
        return self._clock().astimezone(dt.UTC).date()

    def score(
        self, caller: Caller, request: scoring_pb2.PlatformScoreRequest
    ) -> scoring_pb2.PlatformScoreResponse:
        """The platform's part of one score, audited whatever the outcome."""
        details: dict[str, Any] = {
            "request_id": request.request_id[:64],
            "uscc": "",
            "bank_party": caller.party,
            "model_id": request.model_id[:128],
            "consent_id": "",
            "outcome": ev.OUTCOME_ERROR,
        }
        return run_audited(
            self.audit,
            ev.SCORE_REQUEST,
            caller,
            details,
            lambda: self._score(caller, request, details),
        )

    def _score(
        self, caller: Caller, request: scoring_pb2.PlatformScoreRequest, details: dict[str, Any]
    ) -> scoring_pb2.PlatformScoreResponse:
        uscc = validate_uscc(request.uscc)
        details["uscc"] = uscc
        as_of = parse_as_of(request.as_of, self._today)
        consent = self.consent.check(uscc, caller.party, SCOPE, now=self._clock())
        details["consent_id"] = consent.consent_id
        part = self.parts.get(request.family, request.model_id, caller.party)
        if part.bank_party and part.bank_party != caller.party:
            raise NotFound("no platform model part with that id")
        if request.platform_digest and request.platform_digest != part.digest:
            raise FailedPrecondition("the bank's model does not match the platform's part")
        dataset = part.dataset or request.dataset
        table = self.features.table(dataset, caller, as_of)
        reply = scoring_pb2.PlatformScoreResponse(
            model_id=part.model_id,
            platform_digest=part.digest,
            consent_id=consent.consent_id,
            as_of=as_of,
        )
        if isinstance(part, trees.TreePart):
            split_ids, bits = part.decisions(table, uscc)
            reply.split_ids.extend(split_ids)
            reply.decisions = bits
        elif isinstance(part, linear.LinearPart | scorecard.ScorecardPart):
            key = self.keys.get(request.public_key)
            partial, terms = part.partial(table, uscc)
            limit = min(max(int(request.max_reasons), 0), MAX_REASONS)
            reply.adverse_categories.extend(linear.adverse_categories(part.groups, terms, limit))
            reply.enc_values.CopyFrom(to_proto(linear.encrypt_values(key, [partial])))  # type: ignore[arg-type]
        return reply
