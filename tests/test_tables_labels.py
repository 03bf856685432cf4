"""Text and other label encodings in the bank's table (issue 16, item 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bank_node.jobs.spec import JobSpec
from bank_node.loanbook import load_bank_table
from bank_node.loanbook.labels import encode_label
from models.errors import InvalidArgument


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 1, 1, 0], [0, 1, 1, 0]),
        ([0.0, 1.0, 1.0, 0.0], [0, 1, 1, 0]),
        ([True, False, True, True], [1, 0, 1, 1]),
        (["yes", "no", "no", "yes"], [1, 0, 0, 1]),
        (["Yes ", "NO", "no", "YES"], [1, 0, 0, 1]),
        (["Y", "N", "N", "Y"], [1, 0, 0, 1]),
        (["bad", "good", "good", "good"], [1, 0, 0, 0]),
        (["true", "false", "false", "true"], [1, 0, 0, 1]),
        (["no", "no", "no", "no"], [0, 0, 0, 0]),
    ],
)
def test_common_encodings(values: list[object], expected: list[int]) -> None:
    y = encode_label(pd.Series(values), "target")
    assert y.dtype == np.float64 and y.tolist() == expected


@pytest.mark.parametrize(
    ("values", "positive", "expected"),
    [
        (["yes", "no", "no"], "yes", [1, 0, 0]),
        (["yes", "no", "no"], "no", [0, 1, 1]),
        ([1, 2, 2, 1], 2, [0, 1, 1, 0]),  # German credit: 2 = bad
        ([1, 2, 2, 1], "2", [0, 1, 1, 0]),
        ([0, 1, 1], 1, [0, 1, 1]),
        (["paid", "default", "paid"], "default", [0, 1, 0]),
        (["good", "bad"], "bad", [0, 1]),
    ],
)
def test_positive_label(values: list[object], positive: object, expected: list[int]) -> None:
    assert encode_label(pd.Series(values), "target", positive).tolist() == expected


def test_unrecognised_labels_name_the_column_and_values() -> None:
    with pytest.raises(InvalidArgument) as err:
        encode_label(pd.Series(["paid", "default", "paid"]), "status")
    text = str(err.value)
    assert "'status'" in text and "'default'" in text and "'paid'" in text
    assert "positive_label" in text
    with pytest.raises(InvalidArgument, match=r"does not occur.*'status'.*'a', 'b'"):
        encode_label(pd.Series(["a", "b"]), "status", "yes")
    with pytest.raises(InvalidArgument, match=r"two values.*'a', 'b', 'c'"):
        encode_label(pd.Series(["a", "b", "c"]), "status", "a")
    with pytest.raises(InvalidArgument, match="missing"):
        encode_label(pd.Series(["yes", None, "no"]), "status")
    many = pd.Series([f"v{i}" for i in range(30)])
    with pytest.raises(InvalidArgument, match="and 20 more"):
        encode_label(many, "status")


def test_yes_no_csv_loads_without_traceback(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"id": ["a", "b", "c", "d"], "y": ["no", "yes", "no", "no"], "f": [1.0, 2, 3, 4]}
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    table = load_bank_table(tmp_path / "t.csv")
    assert table.y is not None and table.y.tolist() == [0, 1, 0, 0]
    table = load_bank_table(tmp_path / "t.csv", positive_label="no")
    assert table.y is not None and table.y.tolist() == [1, 0, 1, 1]
    frame.assign(y=["x", "y", "z", "x"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InvalidArgument, match=r"label column 'y'.*'x', 'y', 'z'"):
        load_bank_table(tmp_path / "bad.csv")


def test_job_file_positive_label(tmp_path: Path) -> None:
    doc = {
        "job": {"name": "j", "algorithm": "secureboost"},
        "bank_data": {"source": "table", "path": "t.csv", "positive_label": "yes"},
        "platform_data": {"dataset": "served"},
    }
    assert JobSpec.from_dict(doc, base=tmp_path).bank_data.positive_label == "yes"
    doc["bank_data"]["positive_label"] = 1  # type: ignore[index]
    assert JobSpec.from_dict(doc, base=tmp_path).bank_data.positive_label == 1
    del doc["bank_data"]["positive_label"]  # type: ignore[attr-defined]
    assert JobSpec.from_dict(doc, base=tmp_path).bank_data.positive_label is None
    doc["bank_data"]["positive_label"] = ["yes"]  # type: ignore[index]
    with pytest.raises(InvalidArgument, match="positive_label"):
        JobSpec.from_dict(doc, base=tmp_path)
