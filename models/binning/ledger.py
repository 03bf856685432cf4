"""The platform's record of differentially private count releases, per bank (composition).

Each DP release of binning counts spends the job's ``epsilon``. Releases to the same bank
compose: ``k`` jobs at ``epsilon`` each are ``k * epsilon``-DP together (a bank that averages
repeated releases gets no more than that). The platform appends every release to
``<data_dir>/privacy/binning_dp_ledger.jsonl`` (job, bank, epsilon, time) and, when the node sets
``binning_dp_budget`` (total epsilon per bank), refuses a release that would exceed it.
A release is charged before the counts are computed, so a failure after the charge spends
budget (the safe side).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from models.errors import FailedPrecondition, InvalidArgument

LEDGER_FILE = "binning_dp_ledger.jsonl"
_LOCK = threading.Lock()


class DpLedger:
    """Append-only JSON lines of DP releases under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / LEDGER_FILE

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def spent(self, party: str) -> float:
        """Total epsilon released to ``party`` so far."""
        return float(sum(float(e["epsilon"]) for e in self.entries() if e["party"] == party))

    def charge(self, party: str, job_id: str, epsilon: float, budget: float | None) -> float:
        """Record a release of ``epsilon`` to ``party``; refuse it if it would exceed
        ``budget``. Returns the total spent after the charge."""
        if budget is not None and not budget > 0:
            raise InvalidArgument("the node's binning_dp_budget must be positive")
        with _LOCK:
            total = self.spent(party) + float(epsilon)
            if budget is not None and total > float(budget) * (1 + 1e-12):
                raise FailedPrecondition(
                    "this release would exceed the bank's differential-privacy budget"
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            entry = {
                "party": party,
                "job_id": job_id,
                "epsilon": float(epsilon),
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            with self.path.open("a") as fh:
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
                fh.flush()
        return total
