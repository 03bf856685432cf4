"""The platform's model parts for scoring, loaded by their family and cached.

A part lives at ``<data_dir>/models/<family dir>/[<bank party>/]<model_id>.json`` (where the
training protocols save it); the family (:class:`~models.federation.scoring.ScoringFamily`)
knows its directory and how to read it. The cache is keyed by path and re-reads a file whose
modification time changed (a retrained model under the same id).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from models.errors import NotFound
from models.federation.scoring import ScoringFamily, ScoringPart
from models.model_io import check_model_id


class PartStore:
    """Loads and caches platform parts under ``<data_dir>/models``."""

    def __init__(self, data_dir: Path) -> None:
        self.models_dir = Path(data_dir) / "models"
        self._cache: dict[str, tuple[int, ScoringPart]] = {}
        self._lock = threading.Lock()

    def get(self, family: ScoringFamily, model_id: str, bank_party: str = "") -> ScoringPart:
        """The part of ``model_id``: ``<dir>/<bank party>/<id>.json`` (per-bank layout) or
        ``<dir>/<id>.json``."""
        check_model_id(model_id)
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
