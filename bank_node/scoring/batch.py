"""Batch scoring for portfolio reviews: a file of USCCs in, a CSV or Parquet of results out.

Input: a ``.txt`` file (one USCC per line; ``#`` comments), or a ``.csv`` / ``.parquet`` table
with a ``uscc`` column and optionally ``application_id``. Output columns: ``uscc``,
``application_id``, ``status`` (``OK`` or the status code of the failure),
``probability_of_default``, ``score``, ``risk_band``, ``model_name``, ``model_version``,
``model_id``, ``reasons`` (reason codes joined by ``;``), ``error`` (the fixed, data-free
message of a failure). One company's failure (no consent, unknown company, invalid code) does
not stop the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from bank_node.scoring.client import ScoringClient
from models.errors import InvalidArgument, NotFound
from proto.fedcredit.v1 import scoring_pb2

COLUMNS = (
    "uscc",
    "application_id",
    "status",
    "probability_of_default",
    "score",
    "risk_band",
    "model_name",
    "model_version",
    "model_id",
    "reasons",
    "error",
)


@dataclass(frozen=True)
class BatchRow:
    uscc: str
    application_id: str = ""


@dataclass(frozen=True)
class BatchSummary:
    total: int
    ok: int
    failed: dict[str, int]
    out_path: Path


def read_batch_input(path: Path) -> list[BatchRow]:
    """Rows to score from a text, CSV or Parquet file (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise NotFound("the batch input file does not exist")
    suffix = path.suffix.lower()
    if suffix in ("", ".txt", ".lst"):
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("#", 1)[0].strip()
            if code:
                rows.append(BatchRow(code))
        return rows
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        raise InvalidArgument("batch input must be .txt, .csv or .parquet")
    if "uscc" not in frame.columns:
        raise InvalidArgument("batch input needs a 'uscc' column")
    apps = (
        frame["application_id"].astype(str).tolist()
        if "application_id" in frame.columns
        else [""] * len(frame)
    )
    return [
        BatchRow(str(u).strip(), "" if a in ("nan", "None") else a.strip())
        for u, a in zip(frame["uscc"].tolist(), apps, strict=True)
    ]


def _record(row: BatchRow, item: scoring_pb2.ScoreBatchItem) -> dict[str, object]:
    if item.error_code:
        return {
            "uscc": row.uscc,
            "application_id": row.application_id,
            "status": item.error_code,
            "probability_of_default": np.nan,
            "score": np.nan,
            "risk_band": "",
            "model_name": "",
            "model_version": "",
            "model_id": "",
            "reasons": "",
            "error": item.error_message,
        }
    r = item.result
    return {
        "uscc": row.uscc,
        "application_id": row.application_id,
        "status": "OK",
        "probability_of_default": r.probability_of_default,
        "score": r.score,
        "risk_band": r.risk_band,
        "model_name": r.model_name,
        "model_version": r.model_version,
        "model_id": r.model_id,
        "reasons": ";".join(x.code for x in r.reasons),
        "error": "",
    }


def write_results(records: Sequence[dict[str, object]], out_path: Path) -> None:
    out_path = Path(out_path)
    frame = pd.DataFrame(list(records), columns=list(COLUMNS))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    suffix = out_path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(out_path, index=False)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(out_path, index=False)
    else:
        raise InvalidArgument("batch output must be .csv or .parquet")


def score_file(
    client: ScoringClient,
    in_path: Path,
    out_path: Path,
    *,
    model: str = "",
    chunk_size: int = 50,
    progress: bool = True,
) -> BatchSummary:
    """Score every row of ``in_path`` through the bank's ``ScoreBatch``, chunk by chunk."""
    if Path(out_path).suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InvalidArgument("batch output must be .csv or .parquet")
    rows = read_batch_input(in_path)
    records: list[dict[str, object]] = []
    failed: dict[str, int] = {}
    with tqdm(total=len(rows), unit="co", desc="scoring", disable=not progress) as bar:
        for start in range(0, len(rows), max(1, chunk_size)):
            chunk = rows[start : start + max(1, chunk_size)]
            reply = client.score_batch(
                [
                    ScoringClient.request(r.uscc, application_id=r.application_id, model=model)
                    for r in chunk
                ]
            )
            by_index = {item.index: item for item in reply.items}
            for k, row in enumerate(chunk):
                item = by_index.get(k) or scoring_pb2.ScoreBatchItem(
                    index=k, error_code="INTERNAL", error_message="no answer for this item"
                )
                records.append(_record(row, item))
                if item.error_code:
                    failed[item.error_code] = failed.get(item.error_code, 0) + 1
            bar.update(len(chunk))
    write_results(records, Path(out_path))
    ok = sum(1 for r in records if r["status"] == "OK")
    return BatchSummary(total=len(rows), ok=ok, failed=failed, out_path=Path(out_path))
