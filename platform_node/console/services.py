"""What the platform console calls: the platform's own services, not copies.

- consents: :class:`platform_node.consent.registry.ConsentRegistry` (the registry the scoring
  service checks; every grant and revocation audited with the person as the actor);
- records: :mod:`platform_node.console.records` over the catalogue store; uses of a company's
  data: the platform's audit log (``score_request`` entries), as ``fedcredit company report``;
- objections: :class:`platform_node.objections.ObjectionStore`;
- audit verification: :class:`models.audit.incremental.IncrementalVerifier` (as ``VerifyLog``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.audit import events as ev
from models.audit.log import AuditLog
from platform_node.consent.registry import ConsentRegistry
from platform_node.objections import ObjectionStore


@dataclass
class ServedTableInfo:
    name: str
    path: str
    id_column: str


@dataclass
class PlatformServices:
    party: str
    data_dir: Path
    audit: AuditLog
    consent: ConsentRegistry
    objections: ObjectionStore
    banks: list[str]
    served: list[ServedTableInfo] = field(default_factory=list)

    def uses(self, uscc: str) -> list[dict[str, Any]]:
        """Every score request in the platform's log that used the company's data."""
        out = []
        for e in self.audit.query(event=ev.SCORE_REQUEST):
            d = e.details
            if d.get("uscc") != uscc:
                continue
            out.append(
                {"at": e.ts, "bank": d.get("bank_party") or e.actor.party.split("/")[0],
                 "caller": e.actor.party, "purpose": "scoring", "model_id": d.get("model_id", ""),
                 "consent_id": d.get("consent_id", ""), "outcome": d.get("outcome", "")}
            )  # fmt: skip
        return out[::-1]

    def catalogue_tables(self) -> list[tuple[str, int]]:
        from platform_node.catalogue.store import CatalogueStore

        store = CatalogueStore(self.data_dir)
        return [(name, store.row_count(name)) for name in store.tables_present()]
