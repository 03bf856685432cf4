"""The platform's model parts for scoring, loaded by their family and cached.

A part lives at ``<data_dir>/models/<family dir>/[<bank party>/]<model_id>.json`` (where the
training protocols save it); the family (:class:`~models.federation.scoring.ScoringFamily`)
knows its directory and how to read it. The cache is keyed by path and re-reads a file whose
modification time changed (a retrained model under the same id); a file is looked at again at
most every :data:`RECHECK_S` seconds.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from models.errors import NotFound
from models.federation.scoring import ScoringFamily, ScoringPart
from models.model_io import check_model_id

#: How long a loaded part is served before its file is looked at again.
RECHECK_S = 1.0


class PartStore:
    """Loads and caches platform parts under ``<data_dir>/models``."""

    def __init__(self, data_dir: Path) -> None:
        self.models_dir = Path(data_dir) / "models"
        self._cache: dict[str, tuple[int, ScoringPart]] = {}
        self._recent: dict[tuple[str, str, str], tuple[float, ScoringPart]] = {}
        self._lock = threading.Lock()

    def get(self, family: ScoringFamily, model_id: str, bank_party: str = "") -> ScoringPart:
        """The part of ``model_id``: ``<dir>/<bank party>/<id>.json`` (per-bank layout) or
        ``<dir>/<id>.json``."""
        check_model_id(model_id)
        recent = (family.part_dir, bank_party, model_id)
        now = time.monotonic()
        with self._lock:
            seen = self._recent.get(recent)
        if seen is not None and now - seen[0] < RECHECK_S:
            return seen[1]
        part = self._load(family, model_id, bank_party)
        with self._lock:
            self._recent[recent] = (now, part)
        return part

    def _load(self, family: ScoringFamily, model_id: str, bank_party: str) -> ScoringPart:
        base = self.models_dir / family.part_dir
        candidates = [base / f"{model_id}.json"]
        if bank_party:
            check_model_id(bank_party)
            candidates.insert(0, base / bank_party / f"{model_id}.json")
        for path in candidates:
            try:
                mtime = os.stat(path).st_mtime_ns
                break
            except FileNotFoundError:
                continue
        else:
            raise NotFound("no platform model part with that id")
        key = str(path)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] == mtime:
            return hit[1]
        part = family.load_part(path)
        with self._lock:
            self._cache[key] = (mtime, part)
        return part
