"""What the bank console calls: the same service layer as the bank's gRPC services.

- scoring: :class:`bank_node.scoring.engine.BankScoringEngine` (``ScoringService`` calls the
  same ``score``; the engine checks the officer, the platform checks consent, both audit);
- governance: :func:`bank_node.governance.promote_version` / ``approve_served``;
- lineage: :func:`bank_node.lineage_fetch.bank_lineage` and ``cross_check``;
- audit: the bank's :class:`~models.audit.log.AuditLog` and :func:`models.audit.verify.verify`;
- the platform's entries about this bank (consents given to it) through the platform's
  ``AuditService`` with the bank's own certificate (:func:`platform_audit_client`).
"""

from __future__ import annotations

import csv
import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bank_node.config import BankConfig
from bank_node.console.batch import BatchRunner
from bank_node.scoring.engine import BankScoringEngine
from models.audit import events as ev
from models.audit.log import AuditLog
from models.errors import FedCreditError


@dataclass
class BankServices:
    config: BankConfig
    engine: BankScoringEngine
    audit: AuditLog
    batches: BatchRunner
    customers: dict[str, str] = field(default_factory=dict)
    consent_ttl_s: float = 60.0
    _consent_cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, config: BankConfig, engine: BankScoringEngine | None = None) -> BankServices:
        engine = engine or BankScoringEngine.from_config(config)
        return cls(
            config=config,
            engine=engine,
            audit=engine.audit,
            batches=BatchRunner(engine),
            customers=load_customers(config.data_dir),
        )

    # -- companies ---------------------------------------------------------------------------
    def find(self, query: str) -> list[tuple[str, str]]:
        """``[(uscc, name)]`` of the bank's customers whose name contains ``query``."""
        q = query.strip().lower()
        if not q:
            return []
        return sorted((code, name) for code, name in self.customers.items() if q in name.lower())[
            :50
        ]

    def consent_status(self, uscc: str, *, fresh: bool = False) -> dict[str, Any]:
        """The company's consents to this bank as the platform's audit log records them.

        Read with the bank's own certificate: the platform shows a bank only entries that
        concern it (its consents included). ``{"state": in_force|none|unknown, ...}``. Kept
        for ``consent_ttl_s`` (the page shown after a score reuses what the company page
        read); it is only shown to the officer: the platform checks consent on every score.
        """
        now = time.monotonic()
        with self._cache_lock:
            hit = self._consent_cache.get(uscc)
        if hit is not None and not fresh and now - hit[0] < self.consent_ttl_s:
            return hit[1]
        status = self._read_consent_status(uscc)
        if status["state"] != "unknown":
            with self._cache_lock:
                self._consent_cache[uscc] = (now, status)
                if len(self._consent_cache) > 10_000:
                    self._consent_cache.clear()
        return status

    def _read_consent_status(self, uscc: str) -> dict[str, Any]:
        from bank_node.lineage_fetch import platform_audit_client

        try:
            with platform_audit_client(self.config, timeout_s=5.0) as client:
                granted = client.list_entries(event=ev.CONSENT_GRANTED).entries
                revoked = client.list_entries(event=ev.CONSENT_REVOKED).entries
        except FedCreditError as err:
            return {"state": "unknown", "problem": err.kind.value, "consents": []}
        gone = {e.details.get("consent_id") for e in revoked if e.details.get("uscc") == uscc}
        now = dt.datetime.now(dt.UTC).isoformat()
        rows = []
        for e in granted:
            d = e.details
            if d.get("uscc") != uscc or d.get("bank_party") != self.config.party:
                continue
            cid = str(d.get("consent_id", ""))
            expires = str(d.get("expires_at", ""))
            state = "revoked" if cid in gone else ("expired" if expires <= now else "in_force")
            rows.append(
                {"consent_id": cid, "scope": d.get("scope", ""), "granted_at": e.ts,
                 "expires_at": expires, "state": state}
            )  # fmt: skip
        in_force = [r for r in rows if r["state"] == "in_force"]
        return {
            "state": "in_force" if in_force else "none",
            "until": max((r["expires_at"] for r in in_force), default=""),
            "consents": rows,
        }

    def history(self, uscc: str, limit: int = 50) -> list[dict[str, Any]]:
        """This bank's score requests for the company (from its own audit log), newest first."""
        out = []
        for e in self.audit.query(event=ev.SCORE_REQUEST):
            d = e.details
            if d.get("uscc") != uscc:
                continue
            out.append(
                {"at": e.ts, "by": e.actor.party, "model": f"{d.get('model_name', '')}@"
                 f"{d.get('model_version', '')}", "outcome": d.get("outcome", ""),
                 "band": d.get("risk_band", ""), "request_id": d.get("request_id", "")}
            )  # fmt: skip
        return out[::-1][:limit]


def load_customers(data_dir: Path) -> dict[str, str]:
    """The bank's customer register for name search: ``<data_dir>/customers.csv`` with
    columns ``uscc,name`` (optional; without it officers search by USCC only)."""
    path = Path(data_dir) / "customers.csv"
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {
            row["uscc"].strip().upper(): row["name"].strip()
            for row in csv.DictReader(fh)
            if row.get("uscc") and row.get("name")
        }
