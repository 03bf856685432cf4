"""The platform's unbalanced-PSI cache, as a node operation (build, rotate, status).

The key store and the cache format are in :mod:`models.psi.oprf_store`; this package runs
them against the node's data: ``<platform data dir>/psi_cache`` (0700, files 0600). Jobs
build caches inline for populations up to ``psi_cache_inline_build_max`` ids; larger
populations are built here, once per key and population version, e.g. from a nightly cron
job right after the scheduled rotation (``docs/psi.md``, "Offline")::

    python -m platform_node.psi_cache build --config platform.toml --dataset catalogue \
        --param as_of=2024-06-30 --id-format uscc
    python -m platform_node.psi_cache rotate --config platform.toml
    python -m platform_node.psi_cache status --config platform.toml

``--param`` must match the session params of the jobs (the population version is a digest
of the ids the platform serves for them).

The blinding (one hash-to-group and one scalar multiplication per id) runs on the node's
compute backend (``compute`` in the node config, :mod:`models.compute`): local threads, or,
with ``compute = "ray"``, the platform's own Ray cluster, which then holds one copy of the
OPRF key in its object store (``docs/deployment.md``).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from models.federation.party import Caller, DataProvider
from models.psi.ids import prepare_ids
from models.psi.oprf_store import (
    DEFAULT_ROTATION_DAYS,
    CacheMeta,
    PlatformPsiCache,
    population_version,
)
from models.psi.passive import id_validator_for


def cache_root(data_dir: Path) -> Path:
    """Where the node keeps its key and caches."""
    return Path(data_dir) / "psi_cache"


def build_cache(
    data_dir: Path,
    data: DataProvider,
    dataset: str,
    *,
    params: dict[str, str] | None = None,
    id_format: str | None = None,
    party: str = "platform",
    rotation_days: float = DEFAULT_ROTATION_DAYS,
    workers: int | None = None,
) -> CacheMeta:
    """Rotate the key if it is due, then build the cache of ``dataset`` (if not built yet)."""
    store = PlatformPsiCache(cache_root(data_dir), rotation_days=rotation_days)
    key = store.current_key()
    table = data.load(dataset, Caller(party, "platform"), dict(params or {}))
    fmt = id_format or table.meta.get("id_format", "any")
    population = population_version(table.ids, fmt)
    existing = store.find(key.key_id, population)
    if existing is not None:
        return existing
    prepared = prepare_ids(table.ids, id_validator_for(fmt))
    return store.build(key, population, prepared.ids, workers=workers)


def status(data_dir: Path, rotation_days: float = DEFAULT_ROTATION_DAYS) -> dict[str, Any]:
    """The current key id and age, and the caches built under it (public metadata only)."""
    root = cache_root(data_dir)
    store = PlatformPsiCache(root, rotation_days=rotation_days)
    current = root / "current.json"
    if not current.exists():
        return {"key_id": None, "caches": []}
    key = store.current_key()
    caches = []
    for d in sorted((root / "sets" / key.key_id).glob("*")):
        meta = store.find(key.key_id, d.name)
        if meta is not None:
            caches.append(asdict(meta))
    age_days = (store.clock() - key.created_at) / 86400.0
    return {"key_id": key.key_id, "age_days": round(age_days, 2), "caches": caches}
