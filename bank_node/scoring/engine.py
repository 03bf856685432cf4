"""The bank's side of one score request.

0. check the caller is a credit officer of this bank (a person identified by the certificate
   the TLS interceptor verified; the bank node itself and other banks' officers are refused);
1. validate the USCC (``INVALID_ARGUMENT`` before anything leaves the bank);
2. resolve the served model (``NAME@alias``, model id or the default);
3. collect the bank's features (its records for the company or application, overridden by
   the fields sent with the request);
4. ask the platform for its part through the bank's :class:`~models.federation.peer.ScoringPeer`
   with the family's typed messages (consent is checked there; ``PERMISSION_DENIED``,
   ``NOT_FOUND``, ``UNAVAILABLE`` after retries come back as domain errors);
5. assemble probability of default, points, risk band and reason codes;
6. audit the request in the bank's own log, whatever the outcome (a score is returned only
   once its entry is written).

Reveals to platform: the company's USCC, the model id, and the family's request: for trees
CKKS ciphertexts of the bank's cell values (EINI), for linear models the bank's Paillier public
key. Nothing of the bank's features, the application or the score.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

from bank_node.config import BankConfig
from bank_node.scoring.assembler import rank_reasons
from bank_node.scoring.families import ScoreJob
from bank_node.scoring.features import feature_vector
from bank_node.scoring.keys import ScoringKeys
from bank_node.scoring.model_store import ModelStore
from bank_node.scoring.settings import ScoringSettings
from models.audit import events as ev
from models.audit.log import AuditLog
from models.audit.outcome import run_audited
from models.errors import InvalidArgument, PermissionDenied
from models.federation.party import Caller
from models.federation.peer import ScoringPeer
from models.uscc import normalize_uscc
from proto.fedcredit.v1 import scoring_pb2

log = logging.getLogger("fedcredit.bank.scoring")


class BankScoringEngine:
    """Scores companies for officers (see the module docstring for the steps)."""

    def __init__(
        self,
        *,
        party: str,
        store: ModelStore,
        platform: ScoringPeer,
        audit_log: AuditLog,
        settings: ScoringSettings | None = None,
        keys: ScoringKeys | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.party = party
        self.store = store
        self.platform = platform
        self.audit = audit_log
        self.settings = settings or ScoringSettings()
        self.keys = keys or ScoringKeys(self.settings.key_bits)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def from_config(
        cls, config: BankConfig, settings: ScoringSettings | None = None
    ) -> BankScoringEngine:
        from bank_node.audit_service import bank_audit_log

        settings = settings or ScoringSettings.load(config.data_dir)
        from bank_node.federation_client import GrpcPassivePeer

        client = GrpcPassivePeer(
            config.platform_target,
            config.tls,
            server_name=config.platform_name,
            test_identity=(config.party, "bank") if config.tls is None else None,
            score_timeout_s=settings.platform_deadline_s,
            score_retry=settings.retry_policy(),
        )
        return cls(
            party=config.party,
            store=ModelStore(config.data_dir),
            platform=client,
            audit_log=bank_audit_log(config),
            settings=settings,
        )

    def _as_of(self, value: str) -> dt.date:
        if not value:
            return self._clock().astimezone(dt.UTC).date()
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidArgument("as_of must be a date in YYYY-MM-DD form") from None

    def score(self, caller: Caller, request: scoring_pb2.ScoreRequest) -> scoring_pb2.ScoreResponse:
        """Score one company; audited in the bank's log whatever the outcome."""
        request_id = uuid.uuid4().hex
        details: dict[str, Any] = {
            "request_id": request_id,
            "uscc": "",
            "bank_party": self.party,
            "application_id": request.application_id[:64],
            "model_id": "",
            "consent_id": "",
            "outcome": ev.OUTCOME_ERROR,
        }
        return run_audited(
            self.audit,
            ev.SCORE_REQUEST,
            caller,
            details,
            lambda: self._score(self._officer(caller), request, request_id, details),
        )

    def _officer(self, caller: Caller) -> Caller:
        """Every score is requested by a person: an officer of this bank (``<bank>/<name>``)."""
        if caller.role != "officer" or not caller.party.startswith(f"{self.party}/"):
            raise PermissionDenied(
                "scores are requested by the bank's credit officers with their own certificate"
            )
        return caller

    def _score(
        self,
        officer: Caller,
        request: scoring_pb2.ScoreRequest,
        request_id: str,
        details: dict[str, Any],
    ) -> scoring_pb2.ScoreResponse:
        uscc = normalize_uscc(request.uscc)
        details["uscc"] = uscc
        loaded = self.store.load(request.model)
        model, entry = loaded.model, loaded.entry
        as_of = self._as_of(request.as_of or entry.as_of)
        details.update(model_id=entry.model_id, model_name=entry.name, model_version=entry.version)
        x_bank = feature_vector(
            model.bank_features,
            loaded.source,
            uscc,
            request.application_id,
            dict(request.bank_fields),
            as_of,
        )
        job = ScoreJob(
            request_id=request_id,
            uscc=uscc,
            as_of=as_of.isoformat(),
            x_bank=x_bank,
            max_reasons=self.settings.max_reasons,
        )
        scored = model.score(job, self.platform, self.keys)
        details["consent_id"] = scored.consent_id
        assembled = scored.assembled
        points = (
            assembled.points
            if assembled.points is not None
            else self.settings.points.points(assembled.pd)
        )
        band = self.settings.risk_bands.band(assembled.pd)
        details["risk_band"] = band
        reasons = rank_reasons(assembled, self.settings.max_reasons, model.describe)
        return scoring_pb2.ScoreResponse(
            request_id=request_id,
            probability_of_default=assembled.pd,
            score=points,
            risk_band=band,
            model_name=entry.name,
            model_version=entry.version,
            model_id=entry.model_id,
            model_family=model.family,
            reasons=[
                scoring_pb2.ScoreReason(
                    rank=r.rank,
                    code=r.code,
                    source=r.source,
                    factor=r.factor,
                    description=r.description,
                )
                for r in reasons
            ],
            consent_id=scored.consent_id,
            as_of=scored.as_of or as_of.isoformat(),
        )
