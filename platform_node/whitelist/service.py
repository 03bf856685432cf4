"""``WhitelistService``: recommenders upload candidates, banks read the listed companies.

Who may call what (enforced by the auth interceptor before this code runs, see
:data:`POLICY`): ``Recommend`` only the ``recommender`` role (districts and departments, with
their own certificate), ``ListWhitelist`` only banks. Everything else is PERMISSION_DENIED.

``Recommend`` checks every candidate: a well-formed USCC (else counted as
``rejected_invalid_uscc``), a company in the catalogue's registration data, a reason and
criteria of bounded printable text (else ``rejected_other``); it records the rest with
:class:`~platform_node.whitelist.store.WhitelistStore` (duplicates counted, not recorded
twice) and appends to the platform's audit log, in the same transaction (an upload that cannot
be audited is not recorded), one ``whitelist_recommended`` entry (counts, SHA-256 of the
accepted codes in upload order) and ``whitelist_recommended_codes`` entries holding those codes,
400 per entry.

``ListWhitelist`` returns the recommended companies that have a consent in force of scope
``whitelist_listing`` for the calling bank, filtered by industry and district, with their
public registration data and who recommended them. Every query, whatever its outcome, is
audited (``whitelist_queried``, visible to the bank). Scoring a listed company goes through
the normal consent-checked scoring path: listing consent is not scoring consent.

Reveals to bank: for the companies that consented to be listed to it, their name, industry,
district and recommendations, and how many listed companies match its filters; nothing
about companies that did not consent (not even whether they were recommended).
Reveals to recommender: how many of its candidates were accepted, duplicates or refused and
which rule each refused one broke (including "not in the registration data", which is public).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc

from models.audit.entry import Actor
from models.audit.log import AuditLog
from models.audit.outcome import record, run_audited
from models.errors import FedCreditError, InvalidArgument
from models.federation.party import Caller
from models.uscc import validate_uscc
from platform_node.consent.registry import ConsentRegistry
from platform_node.whitelist.registration import Registration, RegistrationIndex, matches
from platform_node.whitelist.store import (
    MAX_REASON,
    UploadReport,
    WhitelistStore,
    clean_criteria,
    clean_text,
)
from proto.fedcredit.v1 import whitelist_pb2, whitelist_pb2_grpc
from proto.transport.auth import current_caller
from proto.transport.status import guard

SERVICE_NAME = "fedcredit.v1.WhitelistService"
_PREFIX = f"/{SERVICE_NAME}/"

#: Recommenders upload, banks read; nobody else calls this service.
POLICY: dict[str, tuple[str, ...]] = {
    _PREFIX + "Recommend": ("recommender",),
    _PREFIX + "ListWhitelist": ("bank",),
}

SCOPE = "whitelist_listing"
WHITELIST_RECOMMENDED = "whitelist_recommended"
WHITELIST_RECOMMENDED_CODES = "whitelist_recommended_codes"
#: Accepted codes per audit entry (an entry's details are at most 16 KiB).
CODES_PER_ENTRY = 400
WHITELIST_QUERIED = "whitelist_queried"
MAX_CANDIDATES = 10_000
DEFAULT_LIMIT = 1_000
MAX_LIMIT = 10_000
_INDUSTRY = re.compile(r"^[A-T](\d{1,4})?$")
_DISTRICT = re.compile(r"^\d{6}$")


def check_filters(industry: str, district: str) -> tuple[str, str]:
    """Normalised filters; INVALID_ARGUMENT when malformed."""
    industry = industry.strip().upper()
    district = district.strip()
    if industry and not _INDUSTRY.match(industry):
        raise InvalidArgument("industry is a GB/T 4754 section letter, optionally with digits")
    if district and not _DISTRICT.match(district):
        raise InvalidArgument("district is a six-digit administrative division code")
    return industry, district


class Whitelist:
    """The white list's logic, without gRPC (the servicer below is a thin face)."""

    def __init__(
        self,
        store: WhitelistStore,
        registrations: RegistrationIndex,
        consent: ConsentRegistry,
        audit: AuditLog,
    ) -> None:
        self.store = store
        self.registrations = registrations
        self.consent = consent
        self.audit = audit

    # -- recommenders -----------------------------------------------------------------------
    def recommend(
        self, caller: Caller, candidates: list[tuple[str, str, list[str]]], batch_ref: str = ""
    ) -> UploadReport:
        """Validate, deduplicate and record one upload (audited in the same transaction); a
        refused upload is audited too (``outcome`` error, nothing recorded)."""
        try:
            return self._recommend(caller, candidates, batch_ref)
        except BaseException as err:
            details = {"recommender": caller.party, "received": len(candidates)}
            record(self.audit, WHITELIST_RECOMMENDED, caller, details, err)
            raise

    def _recommend(
        self, caller: Caller, candidates: list[tuple[str, str, list[str]]], batch_ref: str
    ) -> UploadReport:
        if len(candidates) > MAX_CANDIDATES:
            raise InvalidArgument(f"at most {MAX_CANDIDATES} candidates per upload")
        batch_ref = clean_text(batch_ref, 200, "the batch reference")
        report = UploadReport(WhitelistStore.new_upload_id(), caller.party)
        report.received = len(candidates)
        known = self.registrations.index()
        rows: list[tuple[str, str, tuple[str, ...]]] = []
        for i, (raw, reason, criteria) in enumerate(candidates):
            try:
                code = validate_uscc(raw.strip().upper())
            except FedCreditError as err:
                report.rejected_invalid_uscc += 1
                report.rejected.append((i, "invalid_uscc", err.message))
                continue
            try:
                text = clean_text(reason, MAX_REASON, "the reason")
                if not text:
                    raise InvalidArgument("a candidate needs a reason")
                crit = clean_criteria(criteria)
            except FedCreditError as err:
                report.rejected_other += 1
                report.rejected.append((i, "invalid_candidate", err.message))
                continue
            if code not in known:
                report.rejected_other += 1
                report.rejected.append(
                    (i, "unknown_company", "the company is not in the registration data")
                )
                continue
            rows.append((code, text, crit))
        actor = Actor(caller.party, caller.role, caller.cert_fingerprint)

        def audit(done: UploadReport) -> None:
            codes = list(done.accepted_usccs)
            parts = [codes[i : i + CODES_PER_ENTRY] for i in range(0, len(codes), CODES_PER_ENTRY)]
            self.audit.append(
                WHITELIST_RECOMMENDED,
                actor,
                {
                    "upload_id": done.upload_id,
                    "recommender": caller.party,
                    "batch_ref": batch_ref,
                    "received": done.received,
                    "accepted": done.accepted,
                    "duplicates": done.duplicates,
                    "rejected_invalid_uscc": done.rejected_invalid_uscc,
                    "rejected_other": done.rejected_other,
                    "outcome": "ok",
                    "usccs_sha256": hashlib.sha256("\n".join(codes).encode()).hexdigest(),
                    "n_parts": len(parts),
                },
            )
            for k, part in enumerate(parts):
                self.audit.append(
                    WHITELIST_RECOMMENDED_CODES,
                    actor,
                    {"upload_id": done.upload_id, "part": k, "usccs": part},
                )

        return self.store.record_upload(caller.party, rows, report, batch_ref, on_commit=audit)

    # -- banks --------------------------------------------------------------------------------
    def listed(self, bank: str) -> set[str]:
        """Companies with a ``whitelist_listing`` consent in force for ``bank``."""
        return {
            r.uscc for r in self.consent.list(bank_party=bank, active_only=True) if r.scope == SCOPE
        }

    def query(
        self, caller: Caller, industry: str = "", district: str = "", limit: int = 0
    ) -> tuple[list[tuple[Registration, list[Any]]], int, str]:
        """``(entries, total, query_id)``: the listed companies matching the filters
        (each with its recommendations), audited whatever the outcome."""
        query_id = f"wlq-{uuid.uuid4().hex[:16]}"
        details: dict[str, Any] = {
            "query_id": query_id,
            "bank_party": caller.party,
            "industry": industry[:8],
            "district": district[:8],
        }

        def run() -> tuple[list[tuple[Registration, list[Any]]], int, str]:
            ind, dis = check_filters(industry, district)
            if limit < 0 or limit > MAX_LIMIT:
                raise InvalidArgument(f"limit is between 0 and {MAX_LIMIT}")
            wanted = limit or DEFAULT_LIMIT
            recs = self.store.recommendations(self.listed(caller.party))
            index = self.registrations.index()
            grouped: dict[str, list[Any]] = {}
            for rec in recs:
                grouped.setdefault(rec.uscc, []).append(rec)
            hits = [
                (index[code], grouped[code])
                for code in sorted(grouped)
                if code in index and matches(index[code], ind, dis)
            ]
            details["total"] = len(hits)
            details["n_returned"] = min(len(hits), wanted)
            return hits[:wanted], len(hits), query_id

        return run_audited(self.audit, WHITELIST_QUERIED, caller, details, run)


class WhitelistServicer(whitelist_pb2_grpc.WhitelistServiceServicer):
    def __init__(self, whitelist: Whitelist) -> None:
        self.whitelist = whitelist

    def Recommend(
        self, request: whitelist_pb2.RecommendRequest, context: grpc.ServicerContext
    ) -> whitelist_pb2.RecommendResponse:
        def run() -> whitelist_pb2.RecommendResponse:
            report = self.whitelist.recommend(
                current_caller(),
                [(c.uscc, c.reason, list(c.criteria)) for c in request.candidates],
                request.batch_ref,
            )
            return whitelist_pb2.RecommendResponse(
                received=report.received,
                accepted=report.accepted,
                duplicates=report.duplicates,
                rejected_invalid_uscc=report.rejected_invalid_uscc,
                rejected_other=report.rejected_other,
                rejected=[
                    whitelist_pb2.RejectedCandidate(index=i, kind=k, message=m)
                    for i, k, m in report.rejected
                ],
            )

        return guard(context, run)

    def ListWhitelist(
        self, request: whitelist_pb2.ListWhitelistRequest, context: grpc.ServicerContext
    ) -> whitelist_pb2.ListWhitelistResponse:
        def run() -> whitelist_pb2.ListWhitelistResponse:
            hits, total, query_id = self.whitelist.query(
                current_caller(), request.industry, request.district, request.limit
            )
            return whitelist_pb2.ListWhitelistResponse(
                entries=[
                    whitelist_pb2.WhitelistEntry(
                        uscc=reg.uscc,
                        name=reg.name,
                        industry_code=reg.industry_code,
                        district=reg.district,
                        recommendations=[
                            whitelist_pb2.WhitelistRecommendation(
                                recommender=r.recommender,
                                reason=r.reason,
                                criteria=list(r.criteria),
                                recommended_at=r.recommended_at,
                            )
                            for r in recs
                        ],
                    )
                    for reg, recs in hits
                ],
                total=total,
                query_id=query_id,
            )

        return guard(context, run)


def install(
    server: grpc.Server,
    *,
    data_dir: Path,
    consent_registry: ConsentRegistry,
    audit_log: AuditLog,
) -> Mapping[str, tuple[str, ...]]:
    """Add the service to ``server``; returns its role policy."""
    whitelist = Whitelist(
        WhitelistStore.in_data_dir(data_dir),
        RegistrationIndex(Path(data_dir)),
        consent_registry,
        audit_log,
    )
    whitelist_pb2_grpc.add_WhitelistServiceServicer_to_server(WhitelistServicer(whitelist), server)
    return POLICY
