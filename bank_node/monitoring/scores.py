"""The bank's score records for monitoring, bucketed by ISO week.

Input: a CSV or Parquet table of the scores the bank served (or of its loan book scored at
each review), one row per score, with a date column (``scored_at``, ``as_of`` or ``date``),
a score column (``probability_of_default``, else ``score``) and optionally ``uscc`` (the
company, used as the monitored population for the platform's features when no population is
given). Rows without a finite score are ignored (e.g. the failed rows of ``fedcredit score
batch``). Weeks are ISO weeks written ``YYYY-Www``; a week's date is its Sunday.

Without a file, :func:`audit_records` reads the scores the bank served from its own audit log:
every ``score_request`` entry of the model that ended ``ok`` records when and which risk band
was served (not the probability), so the served distribution is monitored over the bands
(a categorical index, :func:`models.stability.categorical_index`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.audit.events import SCORE_REQUEST
from models.errors import InvalidArgument, NotFound

DATE_COLUMNS = ("scored_at", "as_of", "date")
SCORE_COLUMNS = ("probability_of_default", "score")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(value: str) -> tuple[int, int]:
    """``"2026-W48"`` -> ``(2026, 48)``; INVALID_ARGUMENT when malformed."""
    m = _WEEK.match(value.strip())
    if not m:
        raise InvalidArgument("weeks are written YYYY-Www (ISO week), e.g. 2026-W48")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        raise InvalidArgument("no such ISO week") from None
    return year, week


def week_label(year: int, week: int) -> str:
    return f"{year:04d}-W{week:02d}"


def week_end(label: str) -> dt.date:
    """The Sunday of an ISO week."""
    return dt.date.fromisocalendar(*parse_week(label), 7)


def week_step(label: str) -> int:
    """An MLflow step for a week: ``YYYYWW`` (sorts like the weeks)."""
    year, week = parse_week(label)
    return year * 100 + week


@dataclass(frozen=True)
class ScoreRecords:
    """Scores with their ISO week (and company when known)."""

    weeks: np.ndarray  # "YYYY-Www" per row
    values: np.ndarray  # float score per row, or a risk band label per row (``categorical``)
    usccs: np.ndarray | None  # company per row, when the input names it
    column: str  # which score column was used
    categorical: bool = False

    def week_list(self) -> list[str]:
        return sorted(set(self.weeks.tolist()))

    def of_week(self, label: str) -> np.ndarray:
        return self.values[self.weeks == label]

    def companies_of(self, label: str) -> list[str]:
        if self.usccs is None:
            return []
        return sorted(set(self.usccs[self.weeks == label].tolist()))


def frame_records(frame: pd.DataFrame) -> ScoreRecords:
    """Score records from a table (see the module docstring)."""
    date_col = next((c for c in DATE_COLUMNS if c in frame.columns), None)
    score_col = next((c for c in SCORE_COLUMNS if c in frame.columns), None)
    if date_col is None or score_col is None:
        raise InvalidArgument(
            "the scores need a date column (scored_at, as_of or date) and a score column "
            "(probability_of_default or score)"
        )
    dates = pd.to_datetime(frame[date_col], errors="coerce", utc=True)
    values = pd.to_numeric(frame[score_col], errors="coerce").to_numpy(dtype=np.float64)
    keep = dates.notna().to_numpy() & np.isfinite(values)
    if not keep.any():
        raise InvalidArgument("the scores have no row with a date and a finite score")
    iso = dates[keep].dt.isocalendar()
    weeks = np.asarray(
        [week_label(int(y), int(w)) for y, w in zip(iso["year"], iso["week"], strict=True)]
    )
    usccs = (
        frame["uscc"].astype(str).str.strip().str.upper().to_numpy()[keep]
        if "uscc" in frame.columns
        else None
    )
    return ScoreRecords(weeks, values[keep], usccs, score_col)


def read_scores(path: Path) -> ScoreRecords:
    """Score records from a CSV or Parquet file."""
    path = Path(path)
    if not path.is_file():
        raise NotFound("the scores file does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix == ".csv":
        frame = pd.read_csv(path, dtype={"uscc": str})
    else:
        raise InvalidArgument("the scores file is .csv or .parquet")
    return frame_records(frame)


def read_population(path: Path) -> list[str]:
    """USCCs from a text file (one per line, ``#`` comments) or a CSV with a ``uscc`` column."""
    path = Path(path)
    if not path.is_file():
        raise NotFound("the population file does not exist")
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype=str)
        if "uscc" not in frame.columns:
            raise InvalidArgument("the population CSV needs a 'uscc' column")
        return [u.strip().upper() for u in frame["uscc"].dropna().tolist() if u.strip()]
    lines = path.read_text(encoding="utf-8").splitlines()
    return [s.strip().upper() for s in lines if s.strip() and not s.lstrip().startswith("#")]


def audit_records(audit: Any, model_id: str) -> ScoreRecords:
    """The risk bands the bank served with model ``model_id``, from its audit log."""
    weeks: list[str] = []
    bands: list[str] = []
    usccs: list[str] = []
    for entry in audit.query(event=SCORE_REQUEST, model_id=model_id):
        d = entry.details
        if d.get("outcome") != "ok" or not d.get("risk_band"):
            continue
        when = dt.datetime.fromisoformat(str(entry.ts).replace("Z", "+00:00"))
        year, week, _ = when.isocalendar()
        weeks.append(week_label(year, week))
        bands.append(str(d["risk_band"]))
        usccs.append(str(d.get("uscc", "")))
    if not bands:
        raise NotFound("the bank's audit log holds no score served with this model")
    return ScoreRecords(
        np.asarray(weeks), np.asarray(bands), np.asarray(usccs), "risk_band", categorical=True
    )
