"""The bank's training checkpoint: trees so far, scores, generator state (JSON + npy).

Written after every completed tree (after the platform committed it), atomically: the score
arrays go to files named by tree count, then ``checkpoint.json`` is replaced in one rename.
A checkpoint is only resumed by a run with the same job id, hyper-parameters and data.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import DataLoss, FailedPrecondition
from models.secureboost.engine import BoostState
from models.secureboost.model_io import clean_json, read_json, write_json_atomic
from models.secureboost.tree import Tree

CHECKPOINT_VERSION = 1
FILE = "checkpoint.json"


class Checkpoint:
    """Checkpoint files of one job under ``root/<job_id>/``."""

    def __init__(self, root: Path, job_id: str, fingerprint: str) -> None:
        self.dir = Path(root) / job_id
        self.job_id = job_id
        self.fingerprint = fingerprint
        self.run = 0

    def load(self) -> BoostState | None:
        """The saved state, or None if there is none. Raises if it belongs to another setup."""
        path = self.dir / FILE
        if not path.exists():
            return None
        doc = read_json(path)
        if doc.get("version") != CHECKPOINT_VERSION or doc.get("job_id") != self.job_id:
            raise DataLoss("checkpoint has an unknown version or another job id")
        if doc.get("fingerprint") != self.fingerprint:
            raise FailedPrecondition(
                "checkpoint was made with other data or hyper-parameters; use another job id"
            )
        self.run = int(doc.get("run", 0)) + 1
        n = int(doc["n_trees"])
        try:
            raw_train = np.load(self.dir / f"raw_train.{n}.npy", allow_pickle=False)
            raw_valid = np.load(self.dir / f"raw_valid.{n}.npy", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataLoss("checkpoint score files are missing or corrupt") from exc
        trees = [Tree.from_dict(t) for t in doc["trees"]]
        if len(trees) != n:
            raise DataLoss("checkpoint tree count is inconsistent")
        best = doc.get("best_score")
        return BoostState(
            base_score=float(doc["base_score"]),
            trees=trees,
            raw_train=raw_train,
            raw_valid=raw_valid,
            rng_state=doc["rng_state"],
            best_iteration=int(doc["best_iteration"]),
            best_score=-math.inf if best is None else float(best),
            history=[
                {k: (float("nan") if v is None else v) for k, v in h.items()}
                for h in doc["history"]
            ],
            stopped_early=bool(doc["stopped_early"]),
        )

    def save(self, state: BoostState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        n = len(state.trees)
        for name, arr in (("raw_train", state.raw_train), ("raw_valid", state.raw_valid)):
            tmp = self.dir / f".{name}.{n}.npy.tmp"
            with open(tmp, "wb") as fh:
                np.save(fh, np.asarray(arr, dtype=np.float64), allow_pickle=False)
            tmp.replace(self.dir / f"{name}.{n}.npy")
        doc: dict[str, Any] = {
            "version": CHECKPOINT_VERSION,
            "job_id": self.job_id,
            "fingerprint": self.fingerprint,
            "run": self.run,
            "n_trees": n,
            "base_score": state.base_score,
            "trees": [t.to_dict() for t in state.trees],
            "rng_state": state.rng_state,
            "best_iteration": state.best_iteration,
            "best_score": state.best_score if math.isfinite(state.best_score) else None,
            "history": state.history,
            "stopped_early": state.stopped_early,
        }
        write_json_atomic(self.dir / FILE, clean_json(doc))
        for old in self.dir.glob("raw_*.npy"):
            if not old.name.endswith(f".{n}.npy"):
                old.unlink(missing_ok=True)
