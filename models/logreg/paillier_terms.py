"""Paillier layout of one vertical-LR batch: packed term ciphertexts, their combination, masks.

Per row ``i`` of the batch and term ``k`` the bank encrypts one packed plaintext (or a few,
for many bank features) holding the row vector

    v_ik = [ r_ik, r_ik * xb_i1, ..., r_ik * xb_if ]

where ``r_ik`` are the residual coefficients (``sum_k r_ik psi_k(u_i) = sigmoid(z_i) - y_i``)
and ``xb`` the bank's design row. Slot 0 (the residual) is the lowest and
``RESIDUAL_SLOT_BYTES`` wide; the others are ``SLOT_BYTES`` wide; values are signed
(a negative slot borrows from the next, and decoding takes balanced digits).

The platform raises term ``k >= 1`` to its own exponent ``psi_k(u_i) 2^F_PSI`` (monomials of
the normalised partial score, in ``[0, 1]``) and multiplies the terms of a row (term 0 was
pre-scaled by ``2^F_PSI`` by the bank): ``C_i = E(sum_k psi_ik v_ik)``, one simultaneous
exponentiation per row (:mod:`models.crypto.rowexp`). Then

- **bank output**: ``prod_i C_i`` = ``E(sum_i v_i)``, slot by slot: ``sum d`` (intercept
  gradient) and ``X_b^T d`` (the bank's gradient). Rerandomised with a uniform ``r^n``.
  Reveals to bank: its own gradient block for the batch.
- **platform outputs**: ``prod_i C_i^(x_ij)`` per platform feature ``j`` (multi-exponentiation):
  slot 0 holds ``sum_i x_ij d_i`` = the platform's gradient, the slots above hold cross terms.
  The platform adds ``OFFSET + R_j`` with ``R_j`` **uniform modulo n** and rerandomises: the bank
  decrypts a uniformly random residue (nothing about the gradient or the cross terms) and
  returns its low ``RESIDUAL_SLOT_BYTES`` bytes; the platform subtracts ``R_j`` modulo
  ``2^(8 RESIDUAL_SLOT_BYTES)`` and gets slot 0 exactly (the cross terms never reach anyone).
  This is exact unless ``P_j + R_j`` wraps modulo n, which has probability below
  ``2^-700`` (``|P_j| < 2^1400``).

Fixed point: coefficients ``2^F_COEF``, bank products ``2^F_COEF`` too, platform exponents
``psi`` at ``2^F_PSI`` and features at ``2^F_X``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np

from models.crypto.fixedpoint import decode_fixed
from models.crypto.paillier import EncryptedVector, PaillierKeypair, PaillierPublicKey
from models.crypto.rowexp import row_products
from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument, OverflowDetected

F_COEF = 24
F_PSI = 12
F_X = 12
#: Largest |coefficient| (residual and loss terms) and |bank feature| accepted.
MAX_COEF = 2.0**10
MAX_BANK_FEATURE = 2.0**10
#: Largest |platform feature| accepted (fixed-point exponents).
MAX_PLATFORM_FEATURE = 2.0**10
MAX_ROWS = 1 << 20
MAX_TERMS = 8
RESIDUAL_SLOT_BYTES = 13
SLOT_BYTES = 11
#: Room left above the first packed plaintext for the platform's multi-exponentiation (feature
#: exponents: 26 bits, rows: 20 bits), so that its sums never wrap modulo n.
HEADROOM_BYTES = 8


def plaintext_bytes(key_bits: int) -> int:
    """Plaintext bytes available per ciphertext (2 bits of margin below the key size)."""
    return (key_bits - 2) // 8


@dataclass(frozen=True)
class Layout:
    """Which row-vector slots go into which packed plaintext, at which byte offset."""

    n_slots: int  # f_b + 2
    key_bits: int

    @property
    def chunks(self) -> list[list[int]]:
        cap = plaintext_bytes(self.key_bits)
        first = 1 + (cap - HEADROOM_BYTES - RESIDUAL_SLOT_BYTES) // SLOT_BYTES
        if first < 2:
            raise InvalidArgument("the key is too small for the packed layout")
        out = [list(range(min(first, self.n_slots)))]
        rest = cap // SLOT_BYTES
        start = out[0][-1] + 1
        while start < self.n_slots:
            out.append(list(range(start, min(start + rest, self.n_slots))))
            start += rest
        return out

    def widths(self, chunk: int) -> list[int]:
        slots = self.chunks[chunk]
        return [RESIDUAL_SLOT_BYTES if s == 0 else SLOT_BYTES for s in slots]


def _pack(values: np.ndarray, widths: list[int]) -> list[int]:
    """Signed slot values (rows x slots, int64) -> ``sum_s v_s 2^(off_s)`` per row (slot 0
    lowest), built from bytes: fields in two's complement, minus the borrow of each negative
    field from the next one up."""
    n, m = values.shape
    total = sum(widths)
    fields = np.zeros((n, total), dtype=np.uint8)
    borrow = np.zeros((n, total + 1), dtype=np.uint8)  # byte j weighs 2^(8 (total - j))
    pos = total  # big-endian: slot 0 occupies the last bytes
    for s in range(m):
        w = widths[s]
        col = values[:, s]
        fields[:, pos - 8 : pos] = col.astype(np.uint64).astype(">u8").view(np.uint8).reshape(n, 8)
        neg = col < 0
        fields[neg, pos - w : pos - 8] = 0xFF
        borrow[neg, pos - w] = 1
        pos -= w
    return [
        int.from_bytes(fields[i].tobytes(), "big") - int.from_bytes(borrow[i].tobytes(), "big")
        for i in range(n)
    ]


def _unpack(value: int, widths: list[int]) -> list[int]:
    """Balanced digits of a centred packed value (inverse of :func:`_pack`, after sums)."""
    out = []
    for w in widths:
        base = 1 << (8 * w)
        digit = value % base
        if digit >= base // 2:
            digit -= base
        out.append(digit)
        value = (value - digit) >> (8 * w)
    if value != 0:
        raise OverflowDetected("a packed sum overflowed its slots")
    return out


def _fixed(values: np.ndarray, frac_bits: int, limit: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.size and (not np.all(np.isfinite(v)) or np.abs(v).max() > limit):
        raise InvalidArgument("a value is outside the fixed-point range of the protocol")
    return np.round(v * 2.0**frac_bits).astype(np.int64)


# -- bank ------------------------------------------------------------------------------------
def encrypt_terms(keypair: PaillierKeypair, residual: np.ndarray, Xb: np.ndarray) -> CipherArray:
    """The bank's packed term ciphertexts for one batch, ordered (chunk, term, row).

    ``residual``: (rows x K) coefficients; ``Xb``: the bank's design rows.
    """
    n, K = residual.shape
    if not 2 <= K <= MAX_TERMS or Xb.shape[0] != n or n > MAX_ROWS:
        raise InvalidArgument("term arrays do not match the batch")
    if Xb.size and (not np.all(np.isfinite(Xb)) or np.abs(Xb).max() > MAX_BANK_FEATURE):
        raise InvalidArgument("bank features are outside the fixed-point range")
    _fixed(residual, 0, MAX_COEF)
    layout = Layout(Xb.shape[1] + 1, keypair.public_key.key_bits)
    plain: list[int] = []
    for chunk, slots in enumerate(layout.chunks):
        widths = layout.widths(chunk)
        for k in range(K):
            scale = float(1 << F_PSI) if k == 0 else 1.0  # term 0 has no exponent
            cols = []
            for s in slots:
                col = residual[:, k] if s == 0 else residual[:, k] * Xb[:, s - 1]
                cols.append(np.round(col * scale * 2.0**F_COEF).astype(np.int64))
            plain.extend(_pack(np.stack(cols, axis=1), widths))
    return keypair.encrypt(plain).to_wire()


@dataclass(frozen=True)
class BankOutput:
    """What the bank learns from one batch: ``sum d`` and ``X_b^T d``."""

    residual_sum: float
    gradient: np.ndarray


def decrypt_bank_output(
    keypair: PaillierKeypair, enc: CipherArray, n_bank_features: int
) -> BankOutput:
    pk = keypair.public_key
    vec = EncryptedVector.from_wire(enc, pk)
    layout = Layout(n_bank_features + 1, pk.key_bits)
    if len(vec) != len(layout.chunks):
        raise CryptoError("the bank's result has the wrong number of ciphertexts")
    values: list[int] = []
    for chunk, plain in enumerate(keypair.decrypt(vec)):
        values.extend(_unpack(int(plain), layout.widths(chunk)))
    scaled = decode_fixed(values, F_COEF + F_PSI)
    return BankOutput(
        residual_sum=float(scaled[0]), gradient=np.asarray(scaled[1:], dtype=np.float64)
    )


def decrypt_masked(keypair: PaillierKeypair, enc: CipherArray, n_values: int) -> list[bytes]:
    """The low ``RESIDUAL_SLOT_BYTES`` bytes of each masked platform output (uniform to the
    bank), to hand back to the platform."""
    pk = keypair.public_key
    vec = EncryptedVector.from_wire(enc, pk)
    if len(vec) != n_values:
        raise CryptoError("the platform's result has the wrong number of ciphertexts")
    bits = 8 * RESIDUAL_SLOT_BYTES
    return [
        (int(p) % (1 << bits)).to_bytes(RESIDUAL_SLOT_BYTES, "big")
        for p in keypair.decrypt_unsigned(vec)
    ]


# -- platform ---------------------------------------------------------------------------------
@dataclass
class PlatformMasks:
    """What the platform keeps to unmask its gradient: one uniform mask per feature."""

    masks: list[int]


def combine(
    pk: PaillierPublicKey,
    enc_terms: CipherArray,
    psi: np.ndarray,
    Xp: np.ndarray,
    n_bank_features: int,
    *,
    workers: int | None = None,
) -> tuple[CipherArray, CipherArray, PlatformMasks]:
    """The platform's step: (bank output, masked platform outputs, masks to keep).

    ``psi``: (rows x K) the platform's basis values in ``[0, 1]`` (column 0 is 1); ``Xp``: its
    design rows.
    """
    n, K = psi.shape
    if Xp.shape[0] != n or n == 0 or n > MAX_ROWS:
        raise InvalidArgument("platform arrays do not match the batch")
    if Xp.size and (not np.all(np.isfinite(Xp)) or np.abs(Xp).max() > MAX_PLATFORM_FEATURE):
        raise InvalidArgument("platform features are outside the fixed-point range")
    layout = Layout(n_bank_features + 1, pk.key_bits)
    vec = EncryptedVector.from_wire(enc_terms, pk)
    if len(vec) != len(layout.chunks) * K * n:
        raise CryptoError("the encrypted terms do not match the batch")
    exps = [np.round(psi[:, k] * 2.0**F_PSI).astype(np.int64) for k in range(K)]
    if any(int(e.min(initial=0)) < 0 or int(e.max(initial=0)) > (1 << F_PSI) for e in exps):
        raise InvalidArgument("basis values must lie in [0, 1]")
    n2, nn = pk.n2, int(pk.n)
    combined: list[EncryptedVector] = []
    for chunk in range(len(layout.chunks)):
        base = chunk * K * n
        terms = [vec.values[base + k * n : base + (k + 1) * n] for k in range(1, K)]
        acc = row_products(
            terms,
            np.stack(exps[1:]),
            n2,
            pk.width,
            factors=vec.values[base : base + n],
            workers=workers,
        )
        combined.append(EncryptedVector(pk, acc))
    bank_out = EncryptedVector.concat([c.sum() for c in combined])
    xi = np.round(np.asarray(Xp, dtype=np.float64) * 2.0**F_X).astype(np.int64)
    grads = combined[0].dot_columns(xi, workers=workers)
    offset = 1 << (8 * RESIDUAL_SLOT_BYTES - 1)
    masks = [secrets.randbelow(nn) for _ in range(xi.shape[1])]
    shifted = grads.add_plain([(offset + m) % nn for m in masks])
    # both outputs rerandomised in one call (a fresh uniform r^n each), so that the few full
    # exponentiations are shared between threads
    fresh = pk.rerandomize(EncryptedVector.concat([bank_out, shifted]), workers=workers)
    nb = len(bank_out)
    out_bank, out_platform = fresh[:nb], fresh[nb:]
    return out_bank.to_wire(), out_platform.to_wire(), PlatformMasks(masks)


def unmask(state: PlatformMasks, returned: list[bytes]) -> np.ndarray:
    """The platform's gradient ``X_p^T d`` of the batch from the bank's returned low bytes."""
    if len(returned) != len(state.masks):
        raise InvalidArgument("the returned gradient has the wrong number of values")
    bits = 8 * RESIDUAL_SLOT_BYTES
    offset = 1 << (bits - 1)
    out = []
    for raw, m in zip(returned, state.masks, strict=True):
        if len(raw) != RESIDUAL_SLOT_BYTES:
            raise InvalidArgument("a returned gradient value has the wrong size")
        low = (int.from_bytes(raw, "big") - m) % (1 << bits)
        g = low - offset
        if not -(offset >> 2) < g < (offset >> 2):
            raise OverflowDetected("an unmasked gradient entry is out of range")
        out.append(g)
    return decode_fixed(out, F_COEF + F_PSI + F_X)
