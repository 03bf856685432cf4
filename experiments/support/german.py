"""German credit (UCI Statlog) as a vertical table with string columns on both sides.

The bank holds A1-A10 and the label (A21 = 2: bad), the platform A11-A20; 13 of the 20
features are strings (category codes such as ``A121``, unique per column). 5% of the platform's
A12 are set missing. :func:`reference_design` builds the joined table's one-hot design
independently (pandas + scikit-learn) for accuracy references.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from models.categorical import encode_frame
from models.dataset import PartyTable
from models.federation.party import Caller
from models.federation.recording import Transcript, iter_values

BANK_COLS = [f"A{k}" for k in range(1, 11)]
PLATFORM_COLS = [f"A{k}" for k in range(11, 21)]


@dataclass
class German:
    frame: pd.DataFrame  # raw strings (platform's A12 with some missing values)
    bank: PartyTable
    platform: PartyTable
    train: np.ndarray
    test: np.ndarray


def party_table(
    frame: pd.DataFrame, cols: list[str], group: str, y: np.ndarray | None
) -> PartyTable:
    X, cats = encode_frame(frame, cols)
    return PartyTable(
        ids=frame["id"].to_numpy(),
        X=X,
        feature_names=list(cols),
        feature_groups=[group] * len(cols),
        y=y,
        categories=cats,
    )


def load_german(path: Path) -> German:
    """German credit split column-wise, with 5% missing values in the platform's A12."""
    frame = pd.read_csv(path, sep=r"\s+", header=None)
    frame.columns = [f"A{k}" for k in range(1, 22)]
    frame.insert(0, "id", [f"c{i:04d}" for i in range(len(frame))])
    rng = np.random.default_rng(0)
    frame["A12"] = frame["A12"].astype(object)
    frame.loc[rng.random(len(frame)) < 0.05, "A12"] = None  # platform missing values
    y = (frame["A21"] == 2).to_numpy(dtype=np.float64)
    perm = rng.permutation(len(frame))
    return German(
        frame=frame,
        bank=party_table(frame, BANK_COLS, "bank", y),
        platform=party_table(frame, PLATFORM_COLS, "served", None),
        train=np.sort(perm[:800]),
        test=np.sort(perm[800:]),
    )


def reference_design(
    frame: pd.DataFrame, cols: list[str], train: np.ndarray, min_count: int
) -> np.ndarray:
    """One-hot (frequent categories, other, missing) + standardisation, built with pandas."""
    blocks = []
    for c in cols:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col):
            blocks.append(col.to_numpy(dtype=np.float64)[:, None])
            continue
        counts = col.iloc[train].value_counts()
        kept = sorted(str(k) for k, n in counts.items() if n >= min_count)
        text = col.astype("string")
        onehot = [(text == k).fillna(False).to_numpy(dtype=np.float64) for k in kept]
        other = (~text.isin(kept) & text.notna()).to_numpy(dtype=np.float64)
        blocks.append(np.column_stack([*onehot, other, text.isna().to_numpy(np.float64)]))
    X = np.hstack(blocks)
    return np.asarray(StandardScaler().fit(X[train]).transform(X))


class Datasets:
    """A DataProvider serving several platform tables by dataset name."""

    def __init__(self, tables: Mapping[str, PartyTable]) -> None:
        self.tables = dict(tables)

    def load(self, dataset: str, caller: Caller, params: Mapping[str, str]) -> PartyTable:
        return self.tables[dataset]


def with_value(g: German, row: int, column: str, value: str) -> PartyTable:
    """The platform's table with one value changed (re-encoded: its categories may differ)."""
    frame = g.frame.copy()
    frame.loc[row, column] = value
    return party_table(frame, PLATFORM_COLS, "served", None)


def platform_strings(g: German) -> set[str]:
    """Every category string of the platform's columns (for leak scans)."""
    return {
        str(v) for c in PLATFORM_COLS for v in g.frame[c].dropna().unique() if isinstance(v, str)
    }


def bank_received_text(transcript: Transcript, *extra: str) -> str:
    """Every string the bank received (bytes that are UTF-8 text too; ciphertexts are not)."""
    out = list(extra)
    for message in transcript.to_active():
        for _, leaf in iter_values(message):
            if isinstance(leaf, str):
                out.append(leaf)
            elif isinstance(leaf, bytes):
                try:
                    out.append(leaf.decode("utf-8"))
                except UnicodeDecodeError:
                    continue
    return "\x00".join(out)
