"""The unbalanced-PSI cache format (models/psi/tagset.py): layout, size per element, the
truncation width behind the stated false-positive rate, and corrupted blobs."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import DataLoss
from models.psi.tagset import REM_BITS, TagSet, bucket_bits_for, false_positive_rate, tags64


def _tags(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)


@pytest.mark.parametrize("n", [0, 1, 2, 1000, 70_000])
def test_roundtrip_and_membership(n: int) -> None:
    tags = _tags(n, 1)
    tagset = TagSet.from_tags(tags)
    blob, count_bytes = tagset.encode()
    back = TagSet.decode(blob, n, tagset.bucket_bits, count_bytes)
    assert np.array_equal(back.truncated, tagset.truncated)
    assert bool(back.contains(tags).all())
    if n >= 1000:
        per_element = len(blob) / n
        assert 6.0 <= per_element <= 7.0  # the size stated in docs/psi.md


def test_false_positives_are_negligible_at_the_chosen_truncation() -> None:
    n = 200_000
    tagset = TagSet.from_tags(_tags(n, 2))
    b = tagset.bucket_bits
    assert b == bucket_bits_for(n) == 18
    # the stated bound: n / 2^(b + 40) <= 2^-40 per query
    assert false_positive_rate(n) == n / 2.0 ** (b + REM_BITS) <= 2.0**-40
    assert false_positive_rate(10_000_000) <= 2.0**-40
    assert false_positive_rate(10_000_000) * 50_000 < 5e-8  # per 50k-id run
    # 1 million non-members: expected false positives 1e6 * 2e5 / 2^58 ~ 7e-7
    assert int(TagSet(b, tagset.truncated).contains(_tags(1_000_000, 3)).sum()) == 0


def test_truncation_width_is_exactly_bucket_bits_plus_40() -> None:
    """Tags that agree on the top b+40 bits collide; one kept bit apart, they do not (so the
    false-positive rate is that of b+40 uniform bits, as stated)."""
    tags = _tags(5000, 4)
    tagset = TagSet.from_tags(tags)
    kept = tagset.bucket_bits + REM_BITS
    dropped = np.uint64(64 - kept)
    low_noise = tags ^ ((np.uint64(1) << dropped) - np.uint64(1))  # flip every dropped bit
    assert bool(tagset.contains(low_noise).all())
    lowest_kept = tags ^ (np.uint64(1) << dropped)
    assert not bool(tagset.contains(lowest_kept).any())


def test_tags_are_keyed_by_the_key_id() -> None:
    values = bytes(range(32)) * 3
    assert not np.array_equal(tags64(values, "k1"), tags64(values, "k2"))
    assert tags64(values, "k1")[0] == tags64(values, "k1")[2]


def test_corrupted_blobs_are_refused() -> None:
    tagset = TagSet.from_tags(_tags(3000, 5))
    blob, cb = tagset.encode()
    with pytest.raises(DataLoss):
        TagSet.decode(blob[:-1], 3000, tagset.bucket_bits, cb)
    with pytest.raises(DataLoss):
        TagSet.decode(blob, 2999, tagset.bucket_bits, cb)
    with pytest.raises(DataLoss):
        TagSet.decode(blob, 3000, 40, cb)
    bad_counts = bytearray(blob)
    bad_counts[0] = (bad_counts[0] + 1) % 256  # counts no longer add up to n
    with pytest.raises(DataLoss):
        TagSet.decode(bytes(bad_counts), 3000, tagset.bucket_bits, cb)
