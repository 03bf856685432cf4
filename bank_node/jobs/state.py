"""A job's persisted state on the bank: which phases are done, so a rerun resumes.

``<bank data dir>/jobs/<job id>/state.json`` is rewritten atomically after every phase.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PHASES = ("created", "aligned", "trained", "registered")


@dataclass
class JobState:
    job_id: str
    phase: str = "created"
    launched_by: str = ""
    launched_at: str = ""
    psi: dict[str, Any] = field(default_factory=dict)
    platform: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    registry: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    psi_attempts: int = 0

    def done(self, phase: str) -> bool:
        return PHASES.index(self.phase) >= PHASES.index(phase)


class JobStore:
    def __init__(self, bank_data_dir: Path, job_id: str) -> None:
        self.dir = bank_data_dir / "jobs" / job_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "state.json"
        self.job_id = job_id

    def load(self) -> JobState:
        if not self.path.exists():
            return JobState(job_id=self.job_id)
        return JobState(**json.loads(self.path.read_text()))

    def save(self, state: JobState) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2, sort_keys=True))
        os.replace(tmp, self.path)

    @property
    def checkpoint_dir(self) -> Path:
        return self.dir / "checkpoint"

    @property
    def aligned_ids_path(self) -> Path:
        return self.dir / "aligned_ids.npy"
