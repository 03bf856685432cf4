"""A company's own records on the platform, by category, with dates and sources.

The company's self-query (信用信息自查): every record of a physically aggregated category,
its date, its fields (public and restricted ones: the company's own information; personal
fields of natural persons, such as ID numbers, are never shown), the source agency and a
stable record id (the first 16 hex digits of the SHA-256 of the table name and the record's
values) by which an objection names it. Interface-call categories are held by their agency
and fetched only at use time with the company's authorisation: the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.uscc import validate_uscc
from platform_node.catalogue.schema import CATEGORIES, Sensitivity, SharingMode
from platform_node.catalogue.store import CatalogueStore
from platform_node.objections.exclusions import _text, record_id

SOURCE_FIELDS = ("registration_authority", "authority")


@dataclass
class Record:
    table: str
    record_id: str
    date: str
    fields: list[tuple[str, str]]
    source: str  # an agency named in the record, else "" (the category's agency)


@dataclass
class CategoryRecords:
    key: str
    title: str
    sharing: str
    records: list[Record] = field(default_factory=list)
    table_meanings: dict[str, str] = field(default_factory=dict)


def company_records(data_dir: Path, uscc: str) -> list[CategoryRecords]:
    code = validate_uscc(uscc)
    store = CatalogueStore(data_dir)
    out = []
    for cat in CATEGORIES:
        held = CategoryRecords(cat.key, cat.title, cat.sharing.value)
        if cat.sharing is SharingMode.PHYSICAL_AGGREGATION:
            for spec in cat.tables:
                held.table_meanings[spec.name] = spec.meaning
                rows = store.read(spec.name, np.array([code])).to_pylist()
                shown = [f.name for f in spec.fields if f.sensitivity is not Sensitivity.PERSONAL]
                for row in rows:
                    held.records.append(
                        Record(
                            table=spec.name,
                            record_id=record_id(spec.name, row),
                            date=_text(row.get("event_date")),
                            fields=[(n, _text(row.get(n))) for n in shown if _text(row.get(n))],
                            source=next((_text(row[s]) for s in SOURCE_FIELDS if row.get(s)), ""),
                        )
                    )
            held.records.sort(key=lambda r: r.date, reverse=True)
        out.append(held)
    return out


def find_record(data_dir: Path, uscc: str, table: str, rid: str) -> Record | None:
    for cat in company_records(data_dir, uscc):
        for rec in cat.records:
            if rec.table == table and rec.record_id == rid:
                return rec
    return None
