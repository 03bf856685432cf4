"""Input sets of a PSI run: validation, de-duplication and the counts that are reported.

Each party prepares its own set locally before anything is sent. An entry is *invalid* when
it is not a non-empty ``str`` of at most :data:`MAX_ID_LENGTH` characters, without NUL,
that encodes as UTF-8, or when the id validator rejects it (or raises). Invalid entries are
dropped and counted, never an error. Among the valid entries, later repeats of an id are dropped and
counted as duplicates; the first occurrence is kept. Ids are used exactly as given (no case
folding or trimming): the aligned ids must match the rows of the party's table.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from models.errors import InvalidArgument

IdValidator = Callable[[str], bool]

MAX_ID_LENGTH = 256


@dataclass(frozen=True)
class PreparedIds:
    """A party's de-duplicated, valid ids and what was dropped (counts only).

    Attributes
    ----------
    ids:
        Distinct valid ids (``str`` array) in first-occurrence order.
    n_input:
        Number of entries given.
    n_duplicates:
        Valid entries dropped because the same id occurred earlier.
    n_invalid:
        Entries dropped as invalid.
    """

    ids: np.ndarray
    n_input: int
    n_duplicates: int
    n_invalid: int

    @property
    def n_unique(self) -> int:
        return int(self.ids.shape[0])


def _is_valid(value: object, validator: IdValidator | None) -> bool:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
        return validator is None or bool(validator(value))
    except Exception:  # a validator that raises rejects the id; never crash the run
        return False


def prepare_ids(ids: Sequence[object] | np.ndarray, validator: IdValidator | None) -> PreparedIds:
    """Validate and de-duplicate ``ids`` (see the module docstring for the rules)."""
    if isinstance(ids, str | bytes):
        raise InvalidArgument("ids must be a sequence of strings, not a single string")
    values = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
    n_input = len(values)
    valid = [v for v in values if _is_valid(v, validator)]
    n_invalid = n_input - len(valid)
    if not valid:
        return PreparedIds(np.array([], dtype=str), n_input, 0, n_invalid)
    arr = np.asarray(valid, dtype=str)
    _, first = np.unique(arr, return_index=True)
    first.sort()
    unique = arr[first]
    return PreparedIds(unique, n_input, len(valid) - unique.shape[0], n_invalid)


def random_permutation(n: int) -> np.ndarray:
    """A uniformly random permutation of ``range(n)`` from the OS CSPRNG."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.frombuffer(secrets.token_bytes(16 * n), dtype="<u8").reshape(n, 2)
    return np.lexsort((keys[:, 1], keys[:, 0])).astype(np.int64)
