"""Raw tables as a data scientist brings them: string columns, text labels, missing values.

Built from the public UCI default-of-credit-card table (``../shared/data/UCI_Credit_Card.csv``):
the coded columns become text (sex, education, marriage and the repayment statuses), the
label becomes yes/no, and a few values go missing. The bank keeps half the columns and the
label, the platform the other half; both share the ``id`` column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

EDUCATION = {1: "graduate school", 2: "university", 3: "high school", 4: "others"}
MARRIAGE = {1: "married", 2: "single", 3: "others"}
SEX = {1: "male", 2: "female"}

BANK_NUMERIC = ["LIMIT_BAL", "AGE", "BILL_AMT1", "PAY_AMT1", "PAY_AMT2"]
BANK_TEXT = ["education", "marriage", "status_0"]
PLATFORM_NUMERIC = ["BILL_AMT2", "BILL_AMT3", "PAY_AMT3", "PAY_AMT4"]
PLATFORM_TEXT = ["sex", "status_2", "status_3", "status_4"]


def _status(v: pd.Series) -> pd.Series:
    names = {-2: "no use", -1: "paid in full", 0: "revolving"}
    return v.map(lambda x: names.get(int(x), f"late {int(x)}m"))


def credit_tables(
    data_dir: Path, n_rows: int | None = None, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(bank frame with ``id``, ``default`` yes/no and features; platform frame with ``id``)."""
    raw = pd.read_csv(data_dir / "UCI_Credit_Card.csv")
    if n_rows is not None and n_rows < len(raw):
        raw = raw.sample(n=n_rows, random_state=seed).sort_index()
    rng = np.random.default_rng(seed)
    out = pd.DataFrame({"id": raw["ID"].astype(str)})
    out["education"] = raw["EDUCATION"].map(EDUCATION)  # 0, 5, 6 -> missing
    out["marriage"] = raw["MARRIAGE"].map(MARRIAGE)
    out["sex"] = raw["SEX"].map(SEX)
    for k, col in ((0, "PAY_0"), (2, "PAY_2"), (3, "PAY_3"), (4, "PAY_4")):
        out[f"status_{k}"] = _status(raw[col])
    for col in BANK_NUMERIC + PLATFORM_NUMERIC:
        out[col] = raw[col].astype(float)
        out.loc[rng.random(len(out)) < 0.03, col] = np.nan
    out["default"] = np.where(raw["default.payment.next.month"] == 1, "yes", "no")
    bank = out[["id", "default", *BANK_NUMERIC, *BANK_TEXT]].reset_index(drop=True)
    platform = out[["id", *PLATFORM_TEXT, *PLATFORM_NUMERIC]].reset_index(drop=True)
    return bank, platform
