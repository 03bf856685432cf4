"""Batch scoring of an uploaded portfolio, with progress and a downloadable result.

An officer uploads a CSV whose first column (or the column ``uscc``) holds the companies.
Each company is scored by the same engine as a single request (so each one is checked,
consented and audited on both nodes on its own), by a few worker threads; the page polls
the progress. The result (CSV: one line per input line, in order, with the score or the
refusal's code) stays in memory for its owner until the node restarts or
:attr:`BatchRunner.keep` newer batches push it out.
"""

from __future__ import annotations

import csv
import io
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bank_node.scoring.engine import BankScoringEngine
from models.errors import FedCreditError, InvalidArgument, NotFound
from models.federation.party import Caller
from proto.fedcredit.v1 import scoring_pb2

RESULT_COLUMNS = (
    "line", "uscc", "probability_of_default", "score", "risk_band", "model", "reasons",
    "error_code", "error_message",
)  # fmt: skip


@dataclass
class Batch:
    batch_id: str
    owner: str
    usccs: list[str]
    model: str = ""
    done: int = 0
    failed: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False

    @property
    def total(self) -> int:
        return len(self.usccs)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in sorted(self.rows, key=lambda r: int(r["line"])):
            writer.writerow(row)
        return out.getvalue()


def parse_upload(data: bytes, max_rows: int) -> list[str]:
    """Company codes from an uploaded CSV (first column, or the column named ``uscc``)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidArgument("the file must be UTF-8 text (CSV)") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise InvalidArgument("the file holds no companies")
    header = [c.strip().lower() for c in rows[0]]
    col = header.index("uscc") if "uscc" in header else 0
    if "uscc" in header or not rows[0][0].strip()[:1].isdigit():
        rows = rows[1:]
    codes = [r[col].strip() if col < len(r) else "" for r in rows]
    if not codes:
        raise InvalidArgument("the file holds no companies")
    if len(codes) > max_rows:
        raise InvalidArgument(f"at most {max_rows} companies in one batch")
    return codes


class BatchRunner:
    keep = 20

    def __init__(self, engine: BankScoringEngine, workers: int = 4) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="console-batch")
        self._lock = threading.Lock()
        self._batches: OrderedDict[str, Batch] = OrderedDict()

    def start(self, caller: Caller, usccs: list[str], model: str = "") -> Batch:
        batch = Batch(uuid.uuid4().hex[:16], caller.party, usccs, model)
        with self._lock:
            self._batches[batch.batch_id] = batch
            while len(self._batches) > self.keep:
                self._batches.popitem(last=False)
        remaining = [len(usccs)]

        def one(line: int, code: str) -> None:
            row: dict[str, Any] = {"line": line, "uscc": code}
            try:
                r = self.engine.score(caller, scoring_pb2.ScoreRequest(uscc=code, model=model))
                row.update(
                    probability_of_default=f"{r.probability_of_default:.6f}",
                    score=f"{r.score:.1f}",
                    risk_band=r.risk_band,
                    model=f"{r.model_name}@{r.model_version}",
                    reasons="; ".join(x.code for x in r.reasons),
                )
            except FedCreditError as err:
                row.update(error_code=err.kind.value, error_message=str(err))
                with self._lock:
                    batch.failed += 1
            except Exception:  # an internal error on one line does not stop the batch
                row.update(error_code="internal", error_message="internal error")
                with self._lock:
                    batch.failed += 1
            with self._lock:
                batch.rows.append(row)
                batch.done += 1
                remaining[0] -= 1
                if remaining[0] == 0:
                    batch.finished = True

        for i, code in enumerate(usccs, start=1):
            self._pool.submit(one, i, code)
        return batch

    def get(self, batch_id: str, owner: str) -> Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None or batch.owner != owner:  # another officer's batch does not exist
            raise NotFound("no such batch")
        return batch
