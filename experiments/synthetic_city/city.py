"""Generate a synthetic city: the platform's catalogue, the bank's loan book, and a data card.

``generate_city(n_enterprises, seed, out_dir)`` writes::

    out_dir/platform/catalogue/<table>/part-*.parquet   physical-aggregation records (ingested)
    out_dir/platform/catalogue/ingest_log.jsonl         per-feed counts, rejects included
    out_dir/platform/providers/<table>.parquet          interface-call records (at the agencies)
    out_dir/platform/authorisations.parquet             (USCC, bank) authorisations
    out_dir/bank/{loans,customers,accounts,overdue_events}.parquet
    out_dir/data_card.json

Everything is deterministic for a seed (byte-identical files).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bank_node.loanbook.loader import load_bank_table
from bank_node.loanbook.schema import BANK_TABLES
from experiments.synthetic_city.bank_tables import BankData, make_bank
from experiments.synthetic_city.common import NULL_DAY, Timeline, rng_for, to_arrow, to_date
from experiments.synthetic_city.data_card import reference_auc
from experiments.synthetic_city.platform_tables import GENERATORS
from experiments.synthetic_city.population import make_population
from models.errors import InvalidArgument
from models.uscc import ALPHABET
from platform_node.catalogue.providers import (
    AUTH_SCHEMA,
    AuthorisationRegistry,
    ParquetProviderAdapter,
)
from platform_node.catalogue.schema import (
    CATEGORIES,
    CATEGORY_OF_TABLE,
    TABLES,
    SharingMode,
    interface_call_tables,
)
from platform_node.catalogue.store import CatalogueStore
from platform_node.features.pipeline import compute_features

DEFAULT_AS_OF = dt.date(2022, 1, 1)
MESSY_FEEDS = {"judgments": "intermediate people's court feed", "admin_actions": "regulators' feed"}
"""Feeds that arrive with some malformed codes (typos, truncation, stray spaces)."""
AGENCIES = {c.key: c.title for c in CATEGORIES}


def _corrupt_codes(codes: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Damage a share of codes: one wrong character (80%), truncation (10%), a space (10%)."""
    out = codes.astype("U19")
    hit = np.flatnonzero(rng.random(codes.size) < rate)
    kind = rng.random(hit.size)
    for i, k in zip(hit.tolist(), kind.tolist(), strict=True):
        code = str(codes[i])
        if k < 0.8:
            pos = int(rng.integers(0, 18))
            options = [c for c in ALPHABET if c != code[pos]]
            out[i] = code[:pos] + options[int(rng.integers(0, len(options)))] + code[pos + 1 :]
        elif k < 0.9:
            out[i] = code[:17]
        else:
            out[i] = code + " "
    return out


def _bank_table(name: str, cols: dict[str, np.ndarray]) -> pa.Table:
    schema = BANK_TABLES[name]
    arrays = []
    for f in schema:
        v = cols[f.name]
        if f.type == pa.date32():
            v = np.asarray(v, dtype=np.int64)
            arrays.append(pa.array(v.astype(np.int32), pa.date32(), mask=v == NULL_DAY))
        else:
            arrays.append(pa.array(v, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _write_bank(out: Path, bank: BankData) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "loans": bank.loans,
        "customers": bank.customers,
        "accounts": bank.accounts,
        "overdue_events": bank.overdue_events,
    }
    for name, cols in tables.items():
        pq.write_table(_bank_table(name, cols), out / f"{name}.parquet", compression="zstd")


def _authorisations(
    platform: Path, bank: BankData, tl: Timeline, seed: int, bank_party: str
) -> int:
    """Window applicants authorise the bank at their first application (90%); a few revoke."""
    rng = rng_for(seed, "authorisations")
    loans = bank.loans
    in_window = loans["application_date"] >= tl.as_of_day
    codes, first = np.unique(loans["uscc"][in_window], return_index=True)
    granted = loans["application_date"][in_window][first]
    keep = rng.random(codes.size) < 0.9
    codes, granted = codes[keep], granted[keep]
    revoked = np.where(rng.random(codes.size) < 0.03, granted + 200, NULL_DAY)
    revoked = np.where(revoked > tl.end, NULL_DAY, revoked)
    data = pa.Table.from_arrays(
        [
            pa.array(codes, pa.string()),
            pa.array(np.full(codes.size, bank_party), pa.string()),
            pa.array(granted.astype(np.int32), pa.date32()),
            pa.array(revoked.astype(np.int32), pa.date32(), mask=revoked == NULL_DAY),
        ],
        schema=AUTH_SCHEMA,
    )
    AuthorisationRegistry(platform).write(data)
    return int(codes.size)


def generate_city(
    n_enterprises: int = 2000,
    seed: int = 0,
    out_dir: Path | str = "city",
    *,
    as_of: dt.date = DEFAULT_AS_OF,
    bank_party: str = "bank-a",
    target_default_rate: float = 0.045,
    invalid_code_rate: float = 0.003,
    overwrite: bool = False,
    threads: int = 2,
) -> dict[str, Any]:
    """Write a synthetic city under ``out_dir`` and return its data card.

    Parameters
    ----------
    n_enterprises:
        Number of enterprises (market entities) in the city.
    seed:
        Seed of every random stream; the same seed gives byte-identical files.
    out_dir:
        Output directory; ``platform/``, ``bank/`` and ``data_card.json`` are written there.
    as_of:
        The default as-of date: history runs 5 years before it, loan applications in the
        12 months after it form the modelling window, data ends 24 months after it.
    bank_party:
        Party name of the bank that applicants authorise (interface-call categories).
    target_default_rate:
        Default rate of the loans in the modelling window (calibrated, within 2-8%).
    invalid_code_rate:
        Share of malformed codes in the messy provider feeds.
    overwrite:
        Replace an existing city in ``out_dir``.
    threads:
        Threads for DuckDB and LightGBM (the data card).
    """
    if n_enterprises < 100:
        raise InvalidArgument("a city needs at least 100 enterprises")
    if not 0.02 <= target_default_rate <= 0.08:
        raise InvalidArgument("target default rate must lie in [0.02, 0.08]")
    out = Path(out_dir)
    platform, bank_dir, card_path = out / "platform", out / "bank", out / "data_card.json"
    if any(p.exists() for p in (platform, bank_dir, card_path)):
        if not overwrite:
            raise InvalidArgument("output directory already holds a city (use overwrite)")
        for p in (platform, bank_dir):
            shutil.rmtree(p, ignore_errors=True)
        card_path.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    tl = Timeline(as_of)
    pop = make_population(n_enterprises, seed, tl)

    # ---------------------------------------------------------------- platform side
    store = CatalogueStore(platform)
    provider = ParquetProviderAdapter(platform)
    iface = set(interface_call_tables())
    ctx: dict[str, Any] = {}
    per_table: dict[str, int] = {}
    rejected: dict[str, int] = {}
    for name, make in GENERATORS.items():
        cols = make(pop, tl, rng_for(seed, f"platform/{name}"), ctx)
        if name in MESSY_FEEDS:
            cols["uscc"] = _corrupt_codes(cols["uscc"], invalid_code_rate, rng_for(seed, name))
        data = to_arrow(TABLES[name], cols)
        del cols
        if name in iface:
            provider.publish(name, data)
            per_table[name] = data.num_rows
        else:
            source = MESSY_FEEDS.get(name, AGENCIES[CATEGORY_OF_TABLE[name]])
            report = store.ingest(name, data, source=source)
            per_table[name] = report.accepted
            if report.rejected:
                rejected[name] = report.rejected
        del data
    del ctx

    # ---------------------------------------------------------------- bank side
    bank = make_bank(pop, tl, seed, target_default_rate)
    _write_bank(bank_dir, bank)
    n_auth = _authorisations(platform, bank, tl, seed, bank_party)

    # ---------------------------------------------------------------- data card
    table = load_bank_table(bank_dir, as_of=as_of, threads=threads)
    feats = compute_features(
        store,
        table.ids,
        as_of,
        bank_party=bank_party,
        authorisations=AuthorisationRegistry(platform),
        provider=provider,
        threads=threads,
    )
    assert table.y is not None
    auc_bank, method = reference_auc(table.X, table.y, seed, threads)
    auc_joint, _ = reference_auc(np.hstack([table.X, feats.X]), table.y, seed, threads)
    window = bank.loans["application_date"] >= tl.as_of_day
    per_category = {c.key: sum(per_table[t.name] for t in c.tables) for c in CATEGORIES}
    alive = (pop.founding < tl.as_of_day) & ((pop.dereg == NULL_DAY) | (pop.dereg >= tl.as_of_day))
    sections, section_counts = np.unique(pop.section, return_counts=True)
    sizes = ["micro", "small", "medium", "large"]
    y_window = bank.loans["outcome_dpd90_12m"][window]
    gain = None if auc_bank is None or auc_joint is None else round(auc_joint - auc_bank, 6)
    card: dict[str, Any] = {
        "generator": "fedcredit synthetic city 1",
        "seed": seed,
        "enterprises": n_enterprises,
        "as_of": as_of.isoformat(),
        "history_start": to_date(tl.history_start).isoformat(),
        "application_window": [as_of.isoformat(), to_date(tl.window_end).isoformat()],
        "data_end": to_date(tl.end).isoformat(),
        "enterprises_active_at_as_of": int(alive.sum()),
        "enterprises_deregistered_by_data_end": int((pop.dereg != NULL_DAY).sum()),
        "industries": dict(zip(sections.tolist(), section_counts.tolist(), strict=True)),
        "sizes": {s: int((pop.size == i).sum()) for i, s in enumerate(sizes)},
        "bank_customers": int(bank.customers["uscc"].size),
        "loans": int(bank.loans["uscc"].size),
        "loans_in_window": int(window.sum()),
        "default_rate_window_loans": round(float(y_window.mean()), 6),
        "modelling_rows": table.n_rows,
        "modelling_rule": table.meta["row_rule"],
        "default_rate": round(float(table.y.mean()), 6),
        "label": table.meta["label"],
        "auc_bank_only": None if auc_bank is None else round(auc_bank, 6),
        "auc_joint": None if auc_joint is None else round(auc_joint, 6),
        "auc_gain": gain,
        "auc_method": f"LightGBM, {method}, not federated",
        "bank_features": table.n_features,
        "platform_features": len(feats.feature_names),
        "platform_feature_categories": len(set(feats.feature_groups)),
        "authorisations": n_auth,
        "rows_with_interface_call_data": int(feats.meta["interface_call_rows_authorised"]),
        "records_per_table": per_table,
        "records_per_category": per_category,
        "sharing_modes": {c.key: c.sharing.value for c in CATEGORIES},
        "rejected_invalid_codes": rejected,
        "rejected_invalid_codes_total": int(sum(rejected.values())),
        "as_of_rule": "features use records dated strictly before as_of; loans applied in "
        "[as_of, as_of + 12 months); label = 90+ DPD within 12 months of application",
    }  # fmt: skip
    card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return card


def physical_categories() -> list[str]:
    return [c.key for c in CATEGORIES if c.sharing is SharingMode.PHYSICAL_AGGREGATION]
