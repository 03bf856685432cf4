"""What the platform holds about one company, and who used it (the company's own view).

For every catalogue category: how many records the platform stores for the company (physical
aggregation) and their date range, or that the category is fetched from its agency at use time
(interface call); then the consents it has given and every score request that used its data.
Values are not listed: the report is about what is held, for the company's own review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.uscc import validate_uscc
from platform_node.catalogue.schema import CATEGORIES, SharingMode
from platform_node.catalogue.store import CatalogueStore


@dataclass
class CategoryHolding:
    category: str
    title: str
    sharing: str
    records: int = 0
    first_date: str = ""
    last_date: str = ""
    tables: dict[str, int] = field(default_factory=dict)


def holdings(data_dir: Path, uscc: str) -> list[CategoryHolding]:
    """Per category, the company's records stored on the platform (counts and dates only)."""
    code = validate_uscc(uscc)
    store = CatalogueStore(data_dir)
    out: list[CategoryHolding] = []
    for cat in CATEGORIES:
        held = CategoryHolding(cat.key, cat.title, cat.sharing.value)
        if cat.sharing is SharingMode.PHYSICAL_AGGREGATION:
            dates: list[np.datetime64] = []
            for spec in cat.tables:
                rows = store.read(spec.name, np.array([code]), columns=["uscc", "event_date"])
                held.tables[spec.name] = rows.num_rows
                held.records += rows.num_rows
                if rows.num_rows:
                    dates += list(rows.column("event_date").to_numpy(zero_copy_only=False))
            if dates:
                held.first_date = str(min(dates))[:10]
                held.last_date = str(max(dates))[:10]
        out.append(held)
    return out


def render(
    uscc: str,
    held: list[CategoryHolding],
    consents: list[dict[str, Any]],
    uses: list[dict[str, Any]],
) -> str:
    lines = [f"What the city's credit platform holds about {uscc}", ""]
    for h in held:
        if h.sharing == SharingMode.INTERFACE_CALL.value:
            what = "fetched from the providing agency at use time, only with your authorisation"
        elif h.records:
            what = f"{h.records} records, {h.first_date} to {h.last_date}"
        else:
            what = "no records"
        lines.append(f"  {h.category:18s} {what}")
    lines += ["", f"{len(consents)} consents you have given"]
    lines += [
        f"  {c['consent_id']} -> {c['bank']} for {c['scope']} until {c['expires_at']}"
        + (" (revoked)" if c.get("revoked_at") else "")
        for c in consents
    ]
    lines += ["", f"{len(uses)} uses of your data"]
    lines += [
        f"  {u['at']} {u['bank']} ({u['caller']}) model {u['model_id']}: {u['outcome']}"
        for u in uses
    ]
    return "\n".join(lines)
