"""Packing of linear scoring partials: several companies' fixed-point values in one plaintext.

A packed plaintext holds up to ``slots`` companies of one scoring call, company ``j`` of the
group in bits ``[j * PACK_SLOT_BITS, (j + 1) * PACK_SLOT_BITS)``, each as its fixed-point
partial plus ``PACK_OFFSET`` (so every slot is non-negative and nothing carries into its
neighbour). A value is packed only if ``|v| <= PACK_MAX_ABS``: with the offset it lies in
``[2^127 - 2^120, 2^127 + 2^120]``, well inside its 128-bit slot, and a plaintext of ``k``
slots is below ``2^(128 k)``. The key holder chooses ``k`` so that this is below the modulus it
decrypts with (the bank's half-CRT decryption reads ``m mod p``); unpacking refuses a value
with bits above its last slot or a slot outside the bound (a wrong key or a tampered
ciphertext), so an overflow can never pass as a score.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.errors import CryptoError, OverflowDetected

#: Bits per company in a packed plaintext.
PACK_SLOT_BITS = 128
#: Offset added to every packed value (keeps each slot non-negative).
PACK_OFFSET = 1 << (PACK_SLOT_BITS - 1)
#: Largest magnitude of a packed fixed-point value (the bank refuses larger ones unpacked too).
PACK_MAX_ABS = 1 << 120
#: Most slots per plaintext a request may ask for.
MAX_PACK_SLOTS = 64

_MASK = (1 << PACK_SLOT_BITS) - 1


def max_slots(modulus_bits: int) -> int:
    """Most slots whose packed plaintext stays below ``2^(modulus_bits - 1)``."""
    return max(0, min(MAX_PACK_SLOTS, (modulus_bits - 1) // PACK_SLOT_BITS))


def pack(values: Sequence[int], slots: int) -> list[int]:
    """Plaintexts of ``slots`` offset values each (the last may hold fewer), in order.

    Raises
    ------
    OverflowDetected
        A value's magnitude exceeds ``PACK_MAX_ABS`` (it could not be unpacked safely).
    """
    if slots < 1:
        raise OverflowDetected("a packed plaintext needs at least one slot")
    out: list[int] = []
    for start in range(0, len(values), slots):
        m = 0
        for j, v in enumerate(values[start : start + slots]):
            v = int(v)
            if abs(v) > PACK_MAX_ABS:
                raise OverflowDetected("a partial score is too large to pack")
            m |= (v + PACK_OFFSET) << (PACK_SLOT_BITS * j)
        out.append(m)
    return out


def unpack(m: int, count: int) -> list[int]:
    """The ``count`` signed values packed in ``m`` (slot 0 first).

    Raises
    ------
    CryptoError
        ``m`` has bits above its last slot, or a slot is outside ``±PACK_MAX_ABS`` (wrong key,
        tampered ciphertext, or an answer packed another way).
    """
    if count < 1 or m < 0 or m >> (PACK_SLOT_BITS * count):
        raise CryptoError("a packed score is out of range")
    out: list[int] = []
    for j in range(count):
        v = ((m >> (PACK_SLOT_BITS * j)) & _MASK) - PACK_OFFSET
        if abs(v) > PACK_MAX_ABS:
            raise CryptoError("a packed score is out of range")
        out.append(v)
    return out


def group_sizes(n: int, slots: int) -> list[int]:
    """How many companies each packed plaintext of ``n`` companies holds."""
    return [min(slots, n - start) for start in range(0, n, slots)]
