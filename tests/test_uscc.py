"""USCC (GB 32100-2015) validation and generation."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import InvalidArgument
from models.uscc import (
    ALPHABET,
    generate_usccs,
    is_valid_uscc,
    normalize_uscc,
    org_check_char,
    uscc_check_char,
    valid_mask,
    validate_uscc,
)

# Published codes: the GB 32100-2015 example and codes printed on well-known business licences.
KNOWN_VALID = [
    "91350100M000100Y43",
    "9144030071526726XG",
    "914403001922038216",
    "91330100799655058B",
    "91110108551385082Q",
    "91110000802100433B",
]


def _reference_check(first17: str) -> str:
    """Check character computed straight from the standard's definition (independent code)."""
    weights = [3**i % 31 for i in range(17)]
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, weights, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_codes_are_valid(code: str) -> None:
    assert is_valid_uscc(code)
    assert validate_uscc(code) == code
    assert uscc_check_char(code[:17]) == code[17]
    assert org_check_char(code[8:16]) == code[16]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_every_single_substitution_is_detected(code: str) -> None:
    """Changing any one of the 18 characters to any other alphabet symbol breaks the code."""
    for pos in range(18):
        for c in ALPHABET:
            if c == code[pos]:
                continue
            bad = code[:pos] + c + code[pos + 1 :]
            assert not is_valid_uscc(bad), (pos, c)


def test_adjacent_transpositions_are_detected() -> None:
    code = KNOWN_VALID[0]
    for pos in range(17):
        if code[pos] != code[pos + 1]:
            swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
            assert not is_valid_uscc(swapped)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y433",  # 19 characters
        "91350100m000100Y43",  # lower case
        "91350100M000100I43",  # I is not in the alphabet
        "913501O0M000100Y43",  # letter in the division code
        " 91350100M000100Y4",
        None,
        12345,
    ],
)
def test_malformed_codes_are_rejected(bad: object) -> None:
    assert not is_valid_uscc(bad)
    with pytest.raises(InvalidArgument):
        validate_uscc(bad)


def test_error_message_names_the_rule_not_the_code() -> None:
    code = KNOWN_VALID[1][:17] + ("0" if KNOWN_VALID[1][17] != "0" else "1")
    with pytest.raises(InvalidArgument) as err:
        validate_uscc(code)
    assert code not in str(err.value)
    assert code[:8] not in str(err.value)
    assert "check character" in str(err.value)


def test_org_code_check_digit_is_checked_separately() -> None:
    """A code whose position 18 is recomputed but whose org-code digit is wrong is invalid."""
    code = KNOWN_VALID[0]
    wrong_org = "5" if code[16] != "5" else "6"
    first17 = code[:16] + wrong_org
    forged = first17 + uscc_check_char(first17)
    assert uscc_check_char(forged[:17]) == forged[17]
    assert not is_valid_uscc(forged)
    with pytest.raises(InvalidArgument, match="organisation code"):
        validate_uscc(forged)


def test_org_check_values_x_and_zero() -> None:
    # 11 - (sum mod 11) = 10 -> "X" and = 11 -> "0": find bodies for both and verify by hand
    seen = set()
    rng = np.random.default_rng(0)
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    for _ in range(2000):
        body = "".join(rng.choice(list("0123456789"), 8))
        value = 11 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11
        expected = "X" if value == 10 else "0" if value == 11 else str(value)
        assert org_check_char(body) == expected
        seen.add(expected)
    assert {"X", "0"} <= seen


def test_normalize_strips_and_upper_cases() -> None:
    assert normalize_uscc("  91350100m000100y43 ") == "91350100M000100Y43"


def test_check_char_matches_independent_reference() -> None:
    codes = generate_usccs(500, np.random.default_rng(3))
    for code in codes:
        assert _reference_check(code[:17]) == code[17]


def test_generated_codes_are_valid_unique_and_zhengzhou() -> None:
    codes = generate_usccs(20_000, np.random.default_rng(7))
    assert len(codes) == len(set(codes)) == 20_000
    assert all(is_valid_uscc(c) for c in codes[:2000])
    assert valid_mask(codes).all()
    assert all(c[2:6] == "4101" for c in codes)
    assert all(c[:2] == "91" for c in codes)


def test_generation_is_deterministic_and_prefixes_apply() -> None:
    a = generate_usccs(100, np.random.default_rng(1), prefixes=("91", "93"))
    b = generate_usccs(100, np.random.default_rng(1), prefixes=("91", "93"))
    assert a == b
    assert {c[:2] for c in a} == {"91", "93"}
    other = generate_usccs(10, np.random.default_rng(1), division_codes=["110108"])
    assert all(c[2:8] == "110108" and is_valid_uscc(c) for c in other)


def test_generation_rejects_bad_parameters() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidArgument):
        generate_usccs(5, rng, division_codes=["41010"])
    with pytest.raises(InvalidArgument):
        generate_usccs(5, rng, prefixes=("9I",))
    with pytest.raises(InvalidArgument):
        generate_usccs(-1, rng)


def test_valid_mask_agrees_with_scalar_check() -> None:
    rng = np.random.default_rng(5)
    good = generate_usccs(300, rng)
    mutated = []
    for code in good:
        pos = int(rng.integers(0, 18))
        mutated.append(code[:pos] + str(rng.choice(list(ALPHABET))) + code[pos + 1 :])
    odd: list[object] = [None, 3.5, "", "短", "91350100M000100Y4３", KNOWN_VALID[0] + " "]
    values = [*good, *mutated, *odd, *KNOWN_VALID]
    expected = np.array([is_valid_uscc(v) for v in values])
    assert np.array_equal(valid_mask(values), expected)
    assert expected[: len(good)].all() and not expected[len(good) * 2 : -len(KNOWN_VALID)].any()
