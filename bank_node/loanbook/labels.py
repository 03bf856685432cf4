"""The bank's label column as 0/1: ``positive_label`` from the job file or a common encoding.

A data scientist's table rarely holds a clean 0/1 label. This module turns the label column
into ``y`` (1 = the event the model predicts, e.g. a default) by one of two rules:

* ``positive_label`` given (job file ``[bank_data] positive_label = "yes"``, or ``1``,
  ``"bad"``...): rows holding that value are 1, the other value is 0. The column must hold
  exactly that value and at most one other.
* not given: the column must use one of the common encodings in :data:`ENCODINGS` (matched
  case-insensitively after trimming): 0/1, true/false, yes/no, y/n, bad/good,
  default/non-default.

Anything else is an :class:`~models.errors.InvalidArgument` that names the label column and
the distinct values found (at most :data:`MAX_SHOWN`). The label is the bank's own data and this
error is shown to the bank's own user only (it never crosses to the platform).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.errors import InvalidArgument

#: Common two-valued encodings: (positive, negative), compared as lower-case trimmed text.
ENCODINGS: tuple[tuple[str, str], ...] = (
    ("1", "0"),
    ("true", "false"),
    ("yes", "no"),
    ("y", "n"),
    ("bad", "good"),
    ("default", "non-default"),
    ("t", "f"),
)
MAX_SHOWN = 10


def _key(value: object) -> str:
    """A label value as comparable text: numbers that are integers lose their ``.0``."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    return str(value).strip().lower()


def _shown(values: list[str]) -> str:
    head = ", ".join(repr(v) for v in values[:MAX_SHOWN])
    more = f" and {len(values) - MAX_SHOWN} more" if len(values) > MAX_SHOWN else ""
    return f"[{head}{more}]"


def encode_label(
    values: pd.Series, column: str, positive_label: object | None = None
) -> np.ndarray:
    """The label column as a float 0/1 array (see the module docstring).

    Parameters
    ----------
    values:
        The raw label column.
    column:
        Its name (for error messages).
    positive_label:
        The value that marks the positive class; ``None`` accepts the common encodings.

    Raises
    ------
    InvalidArgument
        Missing labels, more than two distinct values, a ``positive_label`` the column does not
        hold, or (without ``positive_label``) values outside every common encoding.
    """
    if values.isna().any():
        raise InvalidArgument(
            f"label column {column!r} has {int(values.isna().sum())} missing value(s); "
            "every row needs a label"
        )
    keys = np.asarray([_key(v) for v in values.to_numpy(dtype=object)], dtype=object)
    found = sorted({str(k) for k in keys})
    if positive_label is not None:
        positive = _key(positive_label)
        if positive not in found:
            raise InvalidArgument(
                f"positive_label {positive_label!r} does not occur in label column {column!r}; "
                f"values found: {_shown(found)}"
            )
        if len(found) > 2:
            raise InvalidArgument(
                f"label column {column!r} must hold two values (the positive_label and one "
                f"other); values found: {_shown(found)}"
            )
        return (keys == positive).astype(np.float64)
    for pos, neg in ENCODINGS:
        if set(found) <= {pos, neg}:
            return (keys == pos).astype(np.float64)
    raise InvalidArgument(
        f"label column {column!r} is not a recognised 0/1 encoding (0/1, true/false, yes/no, "
        f"y/n, bad/good); values found: {_shown(found)}; set [bank_data] positive_label in the "
        'job file to the value that marks the event (e.g. positive_label = "yes")'
    )
