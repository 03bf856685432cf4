"""Scoring settings of a bank node: ``<data_dir>/scoring/settings.json`` (all keys optional).

Example (the defaults)::

    {
      "key_bits": 2048,
      "platform_deadline_s": 5.0,
      "retry_attempts": 4, "retry_initial_s": 0.1, "retry_max_s": 1.0,
      "max_reasons": 4,
      "points": {"base_points": 600, "base_odds": 50, "pdo": 20},
      "risk_bands": {"upper": [0.01, 0.025, 0.05, 0.1, 0.2],
                     "names": ["A", "B", "C", "D", "E", "F"]},
      "batch_workers": 4, "max_batch": 1000
    }

``key_bits`` is the size of the bank's scoring Paillier key (linear models), the deadline is
per attempt of a call to the platform, and retries back off exponentially with jitter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bank_node.scoring.assembler import PointsScale, RiskBands
from models.errors import InvalidArgument
from proto.transport.channel import RetryPolicy

SETTINGS_FILE = "settings.json"


def scoring_dir(data_dir: Path) -> Path:
    """Where the bank keeps its scoring files (model registry, settings)."""
    return Path(data_dir) / "scoring"


@dataclass(frozen=True)
class ScoringSettings:
    key_bits: int = 2048
    platform_deadline_s: float = 5.0
    retry_attempts: int = 4
    retry_initial_s: float = 0.1
    retry_max_s: float = 1.0
    max_reasons: int = 4
    points: PointsScale = field(default_factory=PointsScale)
    risk_bands: RiskBands = field(default_factory=RiskBands)
    batch_workers: int = 4
    max_batch: int = 1000
    governance_check_s: float = 10.0  # how often MLflow's aliases are reconciled

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.retry_attempts,
            initial_s=self.retry_initial_s,
            max_s=self.retry_max_s,
            retry_deadline=True,
        )

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ScoringSettings:
        try:
            plain = {
                k: v for k, v in doc.items() if k not in ("points", "risk_bands") and v is not None
            }
            points = PointsScale(**doc.get("points", {}))
            bands_doc = doc.get("risk_bands")
            bands = (
                RiskBands(tuple(bands_doc["upper"]), tuple(bands_doc["names"]))
                if bands_doc
                else RiskBands()
            )
            out = cls(**plain, points=points, risk_bands=bands)
        except (TypeError, KeyError, ValueError) as exc:
            raise InvalidArgument("scoring settings are malformed") from exc
        if (
            out.key_bits < 1024
            or out.retry_attempts < 1
            or out.max_batch < 1
            or not out.governance_check_s > 0
        ):
            raise InvalidArgument("scoring settings are out of range")
        return out

    @classmethod
    def load(cls, data_dir: Path) -> ScoringSettings:
        """Settings from ``<data_dir>/scoring/settings.json``, defaults when absent."""
        path = scoring_dir(data_dir) / SETTINGS_FILE
        if not path.exists():
            return cls()
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidArgument("scoring settings are not valid JSON") from exc
        if not isinstance(doc, dict):
            raise InvalidArgument("scoring settings are malformed")
        return cls.from_dict(doc)

    def save(self, data_dir: Path) -> Path:
        path = scoring_dir(data_dir) / SETTINGS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "key_bits": self.key_bits,
            "platform_deadline_s": self.platform_deadline_s,
            "governance_check_s": self.governance_check_s,
            "retry_attempts": self.retry_attempts,
            "retry_initial_s": self.retry_initial_s,
            "retry_max_s": self.retry_max_s,
            "max_reasons": self.max_reasons,
            "points": {
                "base_points": self.points.base_points,
                "base_odds": self.points.base_odds,
                "pdo": self.points.pdo,
            },
            "risk_bands": {
                "upper": list(self.risk_bands.upper),
                "names": list(self.risk_bands.names),
            },
            "batch_workers": self.batch_workers,
            "max_batch": self.max_batch,
        }
        path.write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
        return path
