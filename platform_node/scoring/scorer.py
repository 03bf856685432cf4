"""The platform's policy for online scoring: USCC, consent, audit; the family does the rest.

A request (a family's typed scoring message, see :mod:`models.federation.scoring`) names one or
more companies. For each company, in this order (each failure is a domain error with a fixed
message that names no data, reported for that company alone):

1. the USCC is well formed (``INVALID_ARGUMENT``);
2. the company has a consent in force for the calling bank with scope ``scoring``
   (``PERMISSION_DENIED``; checked on every request, before anything about the company is
   looked up, so a bank cannot probe the platform for companies that did not consent);
3. the company is in the platform's data as of the scoring date (``NOT_FOUND``).

For the whole request: the family is known and the message is its request type
(``INVALID_ARGUMENT``); the model part exists, belongs to the calling bank and is the version
the bank holds (``NOT_FOUND`` / ``FAILED_PRECONDITION``). Then the family's
:class:`~models.federation.scoring.ScoringFamily` computes its answer for the allowed companies.

Every company of every request, whatever its outcome, gets a ``score_request`` entry in the
platform's audit log (request id, USCC, bank, model id, consent id, outcome); an answer leaves
the platform only once the entries of its allowed companies are written (otherwise
``INTERNAL``).

This module names no family: the families register themselves (:data:`SCORING_MODULES`, one
line per family).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.audit import events as ev
from models.audit.log import AuditLog
from models.audit.outcome import record_all
from models.errors import FailedPrecondition, FedCreditError, InvalidArgument, NotFound
from models.federation.messages import WireMessage
from models.federation.party import Caller, DataProvider
from models.federation.scoring import (
    Companies,
    ScoreHeader,
    ScoreReply,
    ScoringFamily,
    check_header,
    scoring_families,
)
from models.optional_modules import import_optional
from models.uscc import validate_uscc
from platform_node.consent.registry import ConsentRegistry
from platform_node.scoring.features import FeatureRows
from platform_node.scoring.parts import PartStore
from platform_node.scoring.table_cache import TableCacheConfig

log = logging.getLogger("fedcredit.platform.scoring")

SCOPE = "scoring"

#: The families whose online scoring this platform offers (each registers itself).
SCORING_MODULES = (
    "models.secureboost.scoring",
    "models.logreg.scoring",
    "models.scorecard.scoring",
)


def load_families() -> dict[str, ScoringFamily]:
    """One instance of each registered scoring family."""
    for name in SCORING_MODULES:
        import_optional(name)
    return {name: cls() for name, cls in scoring_families().items()}


def parse_as_of(value: str, today: Callable[[], dt.date]) -> str:
    """``YYYY-MM-DD`` of the scoring date (today when empty)."""
    if not value:
        return today().isoformat()
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidArgument("as_of must be a date in YYYY-MM-DD form") from None


class PlatformScorer:
    """Answers the banks' online scoring requests.

    Parameters
    ----------
    data_dir:
        The platform's data directory (model parts under ``models/``).
    data_provider:
        Where company features come from (see :class:`FeatureRows`).
    consent_registry:
        Checked for every company of every request.
    audit_log:
        Every company of every request is recorded there.
    party:
        The platform's party name.
    clock:
        Current aware datetime (tests inject one); the scoring date is its UTC date.
    feature_tables:
        Bounds of the feature-table cache and the per-bank budget of new dates.
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
        feature_tables: TableCacheConfig | None = None,
    ) -> None:
        self.party = party
        self.parts = PartStore(Path(data_dir))
        self.features = FeatureRows(data_provider, config=feature_tables)
        self.consent = consent_registry
        self.audit = audit_log
        self.families = load_families()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def _today(self) -> dt.date:
        return self._clock().astimezone(dt.UTC).date()

    def close(self) -> None:
        for family in self.families.values():
            family.close()

    def score(self, caller: Caller, request: WireMessage) -> WireMessage:
        """The platform's part of the request's scores, every company audited."""
        header = getattr(request, "header", None)
        if not isinstance(header, ScoreHeader):
            raise InvalidArgument("the message is not a scoring request")
        check_header(header)
        n = len(header.usccs)
        details: list[dict[str, Any]] = [
            {
                "request_id": str(header.request_ids[i])[:64],
                "uscc": "",
                "bank_party": caller.party,
                "model_id": header.model_id[:128],
                "consent_id": "",
                "outcome": ev.OUTCOME_ERROR,
            }
            for i in range(n)
        ]
        errors: list[FedCreditError | None] = [None] * n
        try:
            response = self._score(caller, request, header, details, errors)
        except BaseException as exc:
            failed = [(d, err or exc) for d, err in zip(details, errors, strict=True)]
            record_all(self.audit, ev.SCORE_REQUEST, caller, failed)
            raise
        # an answer that only asks for the bank's key computed nothing: its entries say so,
        # so the resent request (same request id) is the only one on record as served
        key_only = bool(getattr(getattr(response, "predict", None), "need_key", False))
        success = ev.OUTCOME_KEY_REQUESTED if key_only else ev.OUTCOME_OK
        # one entry per company, appended together; allowed ones must be on record
        done = list(zip(details, errors, strict=True))
        record_all(self.audit, ev.SCORE_REQUEST, caller, done, success=success)
        return response

    def _score(
        self,
        caller: Caller,
        request: WireMessage,
        header: ScoreHeader,
        details: list[dict[str, Any]],
        errors: list[FedCreditError | None],
    ) -> WireMessage:
        family = self.families.get(header.family)
        if family is None:
            raise InvalidArgument("unknown model family")
        if type(request) is not family.request_type:
            raise InvalidArgument("the message is not this family's scoring request")
        as_of = parse_as_of(header.as_of, self._today)
        now = self._clock()
        usccs: list[str] = []
        consent_ids: list[str] = [""] * len(header.usccs)
        for i, raw in enumerate(header.usccs):
            code = ""
            try:
                code = validate_uscc(raw)
                details[i]["uscc"] = code
            except FedCreditError as err:
                errors[i] = err
            usccs.append(code)
        valid = [i for i, e in enumerate(errors) if e is None]
        # every well-formed company's consent, in one query at one time
        verdicts = self.consent.check_many([usccs[i] for i in valid], caller.party, SCOPE, now)
        for i, verdict in zip(valid, verdicts, strict=True):
            if isinstance(verdict, FedCreditError):
                errors[i] = verdict
            else:
                details[i]["consent_id"] = consent_ids[i] = verdict.consent_id
        part = self.parts.get(family, header.model_id, caller.party)
        if part.bank_party and part.bank_party != caller.party:
            raise NotFound("no platform model part with that id")
        if header.platform_digest and header.platform_digest != part.digest:
            raise FailedPrecondition("the bank's model does not match the platform's part")
        names = list(part.source_features)
        X = np.full((len(usccs), len(names)), np.nan)
        categories: dict[str, tuple[str, ...]] = {}
        if any(e is None for e in errors):
            table = self.features.table(part.dataset or header.dataset, caller, as_of)
            categories = dict(table.table.categories)
            cols = table.columns_of(names)
            for i, code in enumerate(usccs):
                if errors[i] is None:
                    try:
                        X[i] = table.row(code)[cols]
                    except FedCreditError as err:
                        errors[i] = err
        reply = ScoreReply(
            model_id=part.model_id,
            platform_digest=part.digest,
            as_of=as_of,
            consent_ids=[c if e is None else "" for c, e in zip(consent_ids, errors, strict=True)],
            status=["" if e is None else e.kind.value for e in errors],
            messages=["" if e is None else e.message for e in errors],
        )
        usable = np.asarray([e is None for e in errors], dtype=bool)
        companies = Companies(X, usable, caller.party, categories)
        return family.answer(part, request, companies, reply)
