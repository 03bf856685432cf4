"""Compressed set of truncated tags: the platform's public cache of unbalanced PSI.

The platform's blinded population ``F(y) = H(y)^k`` is served as a set of *truncated tags*.
A tag is ``T(v) = SHA-256(TAG_DOMAIN || key_id || 0x00 || v)`` read as a big-endian 64-bit
integer; the set keeps its top ``bucket_bits + 40`` bits. With ``b = bucket_bits``:

- the top ``b`` bits pick a bucket; the blob stores the number of tags per bucket
  (``2**b`` counts of ``count_bytes`` bytes each, normally 1), then
- the next 40 bits of every tag (the *remainder*), 5 bytes each, sorted by full truncated
  value, i.e. grouped by bucket.

``b = min(24, ceil(log2 n))``, so there are about as many buckets as tags and a cache costs
5 bytes per element plus 1-2 bytes of counts per element (6.0-7.0 bytes per element; plain
64-bit tags would take 8 and the points themselves 32).

False-positive rate: a value that is not in the set has a pseudorandom tag (SHA-256 of a
fresh group element), so it matches one of the ``n`` truncated tags with probability at most
``n / 2**(b + 40)``, i.e. at most ``2**-40`` (~9.1e-13) per queried id while ``n <= 2**24``,
and ``n / 2**64`` beyond (5.4e-12 at 100 million). A 50k-id bank against 10 million
platform ids sees a false positive with probability <= 50,000 * 2**-40 ~ 4.5e-8 per run;
the platform's finish step checks full values, so a false positive is refused there, never
aligned.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from models.errors import DataLoss, InvalidArgument

TAG_DOMAIN = b"fedcredit/upsi/v1/tag/sha256\x00"
REM_BITS = 40
REM_BYTES = REM_BITS // 8
MAX_BUCKET_BITS = 24
POINT_BYTES = 32


def bucket_bits_for(n: int) -> int:
    """``min(24, ceil(log2 n))`` (at least 1): about one tag per bucket."""
    return max(1, min(MAX_BUCKET_BITS, math.ceil(math.log2(max(2, n)))))


def false_positive_rate(n: int, bucket_bits: int | None = None) -> float:
    """Upper bound on the probability that one non-member query matches the set."""
    b = bucket_bits_for(n) if bucket_bits is None else bucket_bits
    return min(1.0, n / 2.0 ** (b + REM_BITS))


def tags64(values: bytes, key_id: str) -> np.ndarray:
    """64-bit tags (``uint64``) of ``len(values) // 32`` concatenated 32-byte values."""
    if len(values) % POINT_BYTES:
        raise InvalidArgument("value blob length is not a multiple of 32")
    n = len(values) // POINT_BYTES
    prefix = TAG_DOMAIN + key_id.encode("utf-8") + b"\x00"
    out = bytearray(8 * n)
    sha256 = hashlib.sha256
    mv = memoryview(values)
    for i in range(n):
        off = i * POINT_BYTES
        out[8 * i : 8 * i + 8] = sha256(prefix + mv[off : off + POINT_BYTES]).digest()[:8]
    return np.frombuffer(bytes(out), dtype=">u8").astype(np.uint64)


def _truncate(tags: np.ndarray, bucket_bits: int) -> np.ndarray:
    return np.asarray(tags, dtype=np.uint64) >> np.uint64(64 - bucket_bits - REM_BITS)


@dataclass(frozen=True)
class TagSet:
    """Sorted truncated tags (``bucket_bits + 40`` bits each) with their compressed blob."""

    bucket_bits: int
    truncated: np.ndarray  # sorted uint64 values < 2**(bucket_bits + 40)

    @property
    def n(self) -> int:
        return int(self.truncated.shape[0])

    @classmethod
    def from_tags(cls, tags: np.ndarray, bucket_bits: int | None = None) -> TagSet:
        """Build from full 64-bit tags."""
        b = bucket_bits_for(len(tags)) if bucket_bits is None else int(bucket_bits)
        if not 1 <= b <= MAX_BUCKET_BITS:
            raise InvalidArgument("bucket_bits is out of range")
        return cls(b, np.sort(_truncate(tags, b)))

    def encode(self) -> tuple[bytes, int]:
        """The blob (counts, then 5-byte remainders) and the width of one count in bytes."""
        b = self.bucket_bits
        buckets = self.truncated >> np.uint64(REM_BITS)
        counts = np.bincount(buckets.astype(np.int64), minlength=1 << b)
        count_bytes = 1 if int(counts.max(initial=0)) < 256 else 2
        counts_blob = counts.astype("<u1" if count_bytes == 1 else "<u2").tobytes()
        rems = (self.truncated & np.uint64((1 << REM_BITS) - 1)).astype(">u8")
        rem_blob = rems.view(np.uint8).reshape(-1, 8)[:, 8 - REM_BYTES :].tobytes()
        return counts_blob + rem_blob, count_bytes

    @classmethod
    def decode(cls, blob: bytes, n: int, bucket_bits: int, count_bytes: int) -> TagSet:
        """Inverse of :meth:`encode`; checks every size.

        Raises
        ------
        DataLoss
            If the blob does not have the layout its metadata announces.
        """
        if not 1 <= bucket_bits <= MAX_BUCKET_BITS or count_bytes not in (1, 2) or n < 0:
            raise DataLoss("the PSI cache metadata is out of range")
        n_buckets = 1 << bucket_bits
        head = n_buckets * count_bytes
        if len(blob) != head + REM_BYTES * n:
            raise DataLoss("the PSI cache does not have the announced size")
        counts = np.frombuffer(blob[:head], dtype="<u1" if count_bytes == 1 else "<u2")
        if int(counts.sum(dtype=np.int64)) != n:
            raise DataLoss("the PSI cache's bucket counts do not add up")
        padded = np.zeros((n, 8), dtype=np.uint8)
        padded[:, 8 - REM_BYTES :] = np.frombuffer(blob[head:], dtype=np.uint8).reshape(
            n, REM_BYTES
        )
        rems = padded.view(">u8").reshape(n).astype(np.uint64)
        buckets = np.repeat(np.arange(n_buckets, dtype=np.uint64), counts.astype(np.int64))
        truncated = (buckets << np.uint64(REM_BITS)) | rems
        if n > 1 and bool(np.any(truncated[1:] < truncated[:-1])):
            raise DataLoss("the PSI cache is not sorted")
        return cls(bucket_bits, truncated)

    def contains(self, tags: np.ndarray) -> np.ndarray:
        """Boolean mask: which full 64-bit ``tags`` have their truncation in the set."""
        q = _truncate(tags, self.bucket_bits)
        if self.n == 0:
            return np.zeros(q.shape, dtype=bool)
        pos = np.searchsorted(self.truncated, q)
        pos = np.minimum(pos, self.n - 1)
        return np.asarray(self.truncated[pos] == q)
