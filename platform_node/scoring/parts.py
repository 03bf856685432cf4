"""The platform's model parts for scoring, per family, loaded once and cached.

A part lives at ``<data_dir>/models/<family dir>/<model_id>.json`` (where the training
protocols save it). The cache is keyed by family and model id and re-reads a file whose
modification time changed (a retrained model under the same id).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from models.errors import InvalidArgument, NotFound
from models.secureboost.model_io import check_model_id
from platform_node.scoring import linear, scorecard, trees

PlatformPart = trees.TreePart | linear.LinearPart | scorecard.ScorecardPart


#: family -> (sub-directory of ``<data_dir>/models``, loader)
FAMILIES: dict[str, tuple[str, Callable[[Path], PlatformPart]]] = {
    trees.FAMILY: (trees.PART_DIR, trees.TreePart.load),
    linear.FAMILY: (linear.PART_DIR, linear.LinearPart.load),
    scorecard.FAMILY: (scorecard.PART_DIR, scorecard.ScorecardPart.load),
}


class PartStore:
    """Loads and caches platform parts under ``<data_dir>/models``."""

    def __init__(self, data_dir: Path) -> None:
        self.models_dir = Path(data_dir) / "models"
        self._cache: dict[tuple[str, str], tuple[int, PlatformPart]] = {}
        self._lock = threading.Lock()

    def get(self, family: str, model_id: str, bank_party: str = "") -> PlatformPart:
        """The part of ``model_id``: ``<family>/<bank party>/<id>.json`` (per-bank layout)
        or ``<family>/<id>.json``."""
        entry = FAMILIES.get(family)
        if entry is None:
            raise InvalidArgument("unknown model family")
        check_model_id(model_id)
        sub, loader = entry
        candidates = [self.models_dir / sub / f"{model_id}.json"]
        if bank_party:
            check_model_id(bank_party)
            candidates.insert(0, self.models_dir / sub / bank_party / f"{model_id}.json")
        for path in candidates:
            try:
                mtime = os.stat(path).st_mtime_ns
                break
            except FileNotFoundError:
                continue
        else:
            raise NotFound("no platform model part with that id")
        key = (family, str(path))
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] == mtime:
            return hit[1]
        part: PlatformPart = loader(path)
        with self._lock:
            self._cache[key] = (mtime, part)
        return part
