"""Unified Social Credit Codes (USCC, GB 32100-2015): validation and generation.

An 18-character USCC is laid out as::

    position  1     registration authority code (9 = market regulation / industry and commerce)
    position  2     entity type code (for authority 9: 1 enterprise, 2 individual business,
                    3 farmers' cooperative)
    positions 3-8   administrative division code (six digits, e.g. 410105 = Jinshui, Zhengzhou)
    positions 9-17  organisation code (GB 11714): eight body characters and its own check digit
    position  18    check character over positions 1-17

Every character is taken from a 31-symbol alphabet (digits and upper-case letters without
I, O, S, V, Z). The check character of position 18 is ``31 - (sum_i w_i * v_i mod 31)`` with
weights ``w_i = 3**(i-1) mod 31``; the organisation-code check digit is
``11 - (sum_i w_i * v_i mod 11)`` with weights 3, 7, 9, 10, 5, 8, 4, 2, where 10 is written
``X`` and 11 is written ``0``.

This module is pure (numpy only) and shared by PSI, the platform and the bank. Error messages
name the broken rule, never the code itself.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from models.errors import InvalidArgument

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 symbols of GB 32100-2015, in value order (value = index)."""

USCC_LENGTH = 18
USCC_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))
ORG_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)

ZHENGZHOU_DIVISIONS: tuple[str, ...] = (
    "410100",  # Zhengzhou municipal level
    "410102",  # Zhongyuan district
    "410103",  # Erqi district
    "410104",  # Guancheng Hui district
    "410105",  # Jinshui district
    "410106",  # Shangjie district
    "410108",  # Huiji district
    "410122",  # Zhongmu county
    "410171",  # Zhengzhou Economic and Technological Development Zone
    "410172",  # Zhengzhou High-tech Industrial Development Zone
    "410173",  # Zhengzhou Airport Economy Zone
    "410181",  # Gongyi
    "410182",  # Xingyang
    "410183",  # Xinmi
    "410184",  # Xinzheng
    "410185",  # Dengfeng
)
"""Administrative division codes of Zhengzhou (4101xx), the default for generated codes."""

_USCC_VALUE = {c: i for i, c in enumerate(ALPHABET)}
# GB 11714 values: digits 0-9, letters A=10 .. Z=35 (only alphabet letters occur inside a USCC).
_ORG_VALUE = {c: (ord(c) - 55 if c.isalpha() else int(c)) for c in ALPHABET}


def uscc_check_char(first17: str) -> str:
    """Return the GB 32100-2015 check character (position 18) for the first 17 characters.

    Raises
    ------
    InvalidArgument
        If ``first17`` is not 17 characters of the USCC alphabet.
    """
    if not isinstance(first17, str) or len(first17) != 17:
        raise InvalidArgument("USCC body must be 17 characters")
    try:
        total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    except KeyError:
        raise InvalidArgument("USCC contains a character outside the GB 32100 alphabet") from None
    return ALPHABET[(31 - total % 31) % 31]


def org_check_char(body8: str) -> str:
    """Return the GB 11714 check digit (``0``-``9`` or ``X``) of an 8-character org-code body."""
    if not isinstance(body8, str) or len(body8) != 8:
        raise InvalidArgument("organisation code body must be 8 characters")
    try:
        total = sum(_ORG_VALUE[c] * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    except KeyError:
        raise InvalidArgument(
            "organisation code contains a character outside the GB 32100 alphabet"
        ) from None
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def _violation(code: object) -> str | None:
    """Return the first rule ``code`` breaks (a fixed sentence), or None when it is valid."""
    if not isinstance(code, str):
        return "USCC must be a string"
    if len(code) != USCC_LENGTH:
        return "USCC must be exactly 18 characters"
    return _str_violation(str(code))


@functools.lru_cache(maxsize=65536)
def _str_violation(code: str) -> str | None:
    """:func:`_violation` of an 18-character string (memoised: online scoring checks the same
    companies' codes on every request, on both nodes; the answer is a pure function of the
    string, and the cache is bounded)."""
    if len(code) != USCC_LENGTH:
        return "USCC must be exactly 18 characters"
    if any(c not in _USCC_VALUE for c in code):
        return "USCC contains a character outside the GB 32100 alphabet"
    if not code[2:8].isdigit():
        return "USCC administrative division code (positions 3-8) must be six digits"
    if org_check_char(code[8:16]) != code[16]:
        return "USCC organisation code check digit (position 17) is wrong"
    if uscc_check_char(code[:17]) != code[17]:
        return "USCC check character (position 18) is wrong"
    return None


def is_valid_uscc(code: object) -> bool:
    """True when ``code`` is a well-formed USCC with correct check characters (exact form)."""
    return _violation(code) is None


def validate_uscc(code: object) -> str:
    """Return ``code`` unchanged when valid, else raise :class:`InvalidArgument`.

    The check is on the exact form (upper case, no spaces); use :func:`normalize_uscc` for
    user input. The error message names the rule broken, never the code.
    """
    problem = _violation(code)
    if problem is not None:
        raise InvalidArgument(problem)
    assert isinstance(code, str)
    return code


def normalize_uscc(code: str) -> str:
    """Strip surrounding white space, upper-case, then :func:`validate_uscc`."""
    if not isinstance(code, str):
        raise InvalidArgument("USCC must be a string")
    return validate_uscc(code.strip().upper())


# ------------------------------------------------------------------ vectorised generation

_ALPHABET_BYTES = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
_ORG_VALUE_BY_INDEX = np.array([_ORG_VALUE[c] for c in ALPHABET], dtype=np.int64)
_LOOKUP = np.full(128, -1, dtype=np.int64)
for _i, _c in enumerate(ALPHABET):
    _LOOKUP[ord(_c)] = _i


def valid_mask(codes: Sequence[object] | np.ndarray) -> np.ndarray:
    """Boolean array: which entries of ``codes`` are valid USCCs (vectorised, for bulk feeds).

    Same rules as :func:`is_valid_uscc`; non-string entries (None, NaN) are invalid.
    """
    arr = np.asarray(codes, dtype=object)
    n = arr.shape[0]
    is_str = np.fromiter((isinstance(c, str) for c in arr), dtype=bool, count=n)
    out = np.zeros(n, dtype=bool)
    if not is_str.any():
        return out
    text = arr[is_str].astype("U")
    right_len = np.char.str_len(text) == USCC_LENGTH
    rows = np.flatnonzero(is_str)[right_len]
    if rows.size == 0:
        return out
    points = text[right_len].astype("U18").view(np.uint32).reshape(-1, USCC_LENGTH)
    values = _LOOKUP[np.minimum(points, 127)]
    ok = (values >= 0).all(axis=1) & (points < 128).all(axis=1)
    ok &= ((points[:, 2:8] >= 48) & (points[:, 2:8] <= 57)).all(axis=1)
    v = np.where(values < 0, 0, values)
    org_total = (_ORG_VALUE_BY_INDEX[v[:, 8:16]] * np.array(ORG_WEIGHTS)).sum(axis=1)
    org_value = 11 - org_total % 11
    org_char = np.where(org_value == 10, _USCC_VALUE["X"], np.where(org_value == 11, 0, org_value))
    ok &= v[:, 16] == org_char
    total = (v[:, :17] * np.array(USCC_WEIGHTS)).sum(axis=1)
    ok &= v[:, 17] == (31 - total % 31) % 31
    out[rows] = ok
    return out


def _char_index(chars: str) -> np.ndarray:
    return np.array([_USCC_VALUE[c] for c in chars], dtype=np.int64)


def _draw_codes(
    n: int,
    rng: np.random.Generator,
    divisions: np.ndarray,
    prefixes: np.ndarray,
    prefix_p: np.ndarray,
    new_style_share: float,
) -> np.ndarray:
    """Draw ``n`` valid codes as an (n, 18) array of alphabet indices (may contain repeats)."""
    idx = np.empty((n, 18), dtype=np.int64)
    idx[:, 0:2] = prefixes[rng.choice(len(prefixes), size=n, p=prefix_p)]
    idx[:, 2:8] = divisions[rng.integers(0, len(divisions), size=n)]
    # Organisation-code body: older codes are 8 digits; codes issued since 2015 inside a USCC
    # start with "MA" followed by six alphabet characters.
    new_style = rng.random(n) < new_style_share
    body = rng.integers(0, 10, size=(n, 8))
    letters = rng.integers(0, len(ALPHABET), size=(n, 6))
    body[new_style, 0] = _USCC_VALUE["M"]
    body[new_style, 1] = _USCC_VALUE["A"]
    body[new_style, 2:] = letters[new_style]
    idx[:, 8:16] = body
    org_total = (_ORG_VALUE_BY_INDEX[body] * np.array(ORG_WEIGHTS)).sum(axis=1)
    org_value = 11 - org_total % 11
    org_char = np.where(org_value == 10, _USCC_VALUE["X"], np.where(org_value == 11, 0, org_value))
    idx[:, 16] = org_char
    total = (idx[:, :17] * np.array(USCC_WEIGHTS)).sum(axis=1)
    idx[:, 17] = (31 - total % 31) % 31
    return idx


def _to_strings(idx: np.ndarray) -> np.ndarray:
    raw = np.ascontiguousarray(_ALPHABET_BYTES[idx])
    return raw.view("S18").ravel().astype("U18")


def generate_usccs(
    n: int,
    rng: np.random.Generator,
    division_codes: Sequence[str] = ZHENGZHOU_DIVISIONS,
    prefixes: Sequence[str] = ("91",),
    prefix_weights: Sequence[float] | None = None,
    new_style_share: float = 0.6,
) -> list[str]:
    """Generate ``n`` distinct valid USCCs (vectorised; a million codes take about a second).

    Parameters
    ----------
    n:
        Number of codes.
    rng:
        Source of randomness; the result is deterministic for a seeded generator.
    division_codes:
        Six-digit administrative division codes to draw from (default: Zhengzhou, 4101xx).
    prefixes:
        Two-character (authority, entity type) prefixes, e.g. "91" enterprise, "92" individual
        business, "93" farmers' cooperative.
    prefix_weights:
        Relative frequency of each prefix (default: equal).
    new_style_share:
        Share of organisation codes in the post-2015 "MA......" form.
    """
    if n < 0:
        raise InvalidArgument("number of codes must be non-negative")
    if not division_codes:
        raise InvalidArgument("at least one division code is required")
    for d in division_codes:
        if len(d) != 6 or not d.isdigit():
            raise InvalidArgument("division codes must be six digits")
    for p in prefixes:
        if len(p) != 2 or any(c not in _USCC_VALUE for c in p):
            raise InvalidArgument("prefixes must be two characters of the GB 32100 alphabet")
    divisions = np.stack([_char_index(d) for d in division_codes])
    prefix_arr = np.stack([_char_index(p) for p in prefixes])
    weights = np.ones(len(prefixes)) if prefix_weights is None else np.asarray(prefix_weights)
    if weights.shape != (len(prefixes),) or np.any(weights < 0) or weights.sum() <= 0:
        raise InvalidArgument("prefix weights must be non-negative, one per prefix")
    p = weights / weights.sum()

    out = np.empty(0, dtype="U18")
    while out.shape[0] < n:
        need = n - out.shape[0]
        batch = _to_strings(
            _draw_codes(need + need // 50 + 8, rng, divisions, prefix_arr, p, new_style_share)
        )
        # keep first occurrences, in draw order, that were not produced before
        _, first = np.unique(batch, return_index=True)
        batch = batch[np.sort(first)]
        if out.shape[0]:
            batch = batch[~np.isin(batch, out)]
        out = np.concatenate([out, batch[:need]])
    return out.tolist()
