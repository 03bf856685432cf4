"""Many exact read-outs per CKKS product, at the last data level (one 60-bit prime).

A companion of :mod:`models.crypto.ckks_coeff` (same context, same coefficient encoding, same
uniform masks), for protocols whose results are many small inner products rather than a few
large ones (SecureBoost's EINI prediction: one margin per company, several companies per
ciphertext). Differences:

- **Level**: ciphertexts and plaintexts live at the *last* data level of
  :func:`models.crypto.ckks_coeff.create_context` (modulus ``p``: one 60-bit prime instead of
  two). Everything is half the size and half the work; read-outs must stay below ``p / 2``
  (:data:`READ_LIMIT_BITS`). Security only improves (same noise, smaller modulus).
- **Read-outs at any coefficient**: coefficient ``k`` of an NTT-form polynomial ``a`` is
  ``N^-1 sum_j a_j w_j^(k) mod p`` with ``w^(k)`` the NTT of ``X^-k`` (``-X^(N-k)``). The sums
  are computed exactly with 20-bit limbs in float64 (every partial sum is an integer below
  ``2^53``), for many positions in a few matrix-vector products.
- **Sealing** (:meth:`ReadoutEvaluator.seal`): before a result leaves the platform it gets a
  mask polynomial that is uniform modulo ``p`` (``os.urandom``) at every coefficient except
  the read-out positions, where it holds a fresh *flood* value uniform in
  ``[-2^flood_bits, 2^flood_bits]``; then a fresh public-key encryption of zero. The mask is
  drawn uniformly in the NTT domain on all but ``K`` pivot slots, whose values are solved for
  (a fixed ``K x K`` system per set of positions): the map from the free slots to the masked
  coefficients is a bijection, so every non-read-out coefficient of the decryption is uniform
  mod ``p`` and independent of the platform's data, whatever ciphertext the bank sent. What
  depends on no data (the encryption of zero, the uniform draw) is made ahead of time as one
  *randomizer* per result (:meth:`ReadoutEvaluator.prepare`, a background pool), used once;
  the call draws the floods, moves the pivot slots and adds both to the serialized result.

What a read-out holds: ``sum_r (d_r + e_r) w_r + e' + f`` where ``d`` is what the bank
encrypted, ``w`` the platform's plaintext factor, ``e`` the bank's own encryption noise (known
to it: a linear functional of ``w`` with small coefficients), ``e'`` the noise of the fresh
encryption of zero and ``f`` the flood. The flood makes that noise functional statistically
hard to read (distance about ``|<e, w>| / 2^(flood_bits+1)`` per read-out); the caller chooses
fixed-point scales far above ``2^flood_bits`` so the flood costs no accuracy it needs.
"""

from __future__ import annotations

import itertools
import os
import secrets
import struct
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tenseal.sealapi as seal

from models.crypto.ckks import CkksContext
from models.crypto.ckks_coeff import (
    _SEAL_MAGIC,
    COEFF_MOD_BIT_SIZES,
    _zstd,
    embed,
    plain_to_ntt,
    scratch_dir,
    uniform_residues,
)
from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument

SCHEME = "ckks"
#: Read-outs must stay below ``2^READ_LIMIT_BITS`` in magnitude (``p / 2 ~ 2^59``).
READ_LIMIT_BITS = 58
#: Largest absolute integer coefficient handed to the encoder (exact below ~2^50).
MAX_COEFF = 2.0**50
_LIMB = 20
#: Rows per matrix-vector product of the read-out sums (OpenBLAS stays single-threaded).
_GEMV_ROWS = 48
_LIMB_MASK = np.uint64((1 << _LIMB) - 1)


def _limbs(values: np.ndarray) -> np.ndarray:
    """``(3, n)`` float64 limbs (20 bits each) of uint64 values below ``2^60``."""
    v = np.asarray(values, dtype=np.uint64)
    return np.stack(
        [
            (v & _LIMB_MASK).astype(np.float64),
            ((v >> np.uint64(_LIMB)) & _LIMB_MASK).astype(np.float64),
            (v >> np.uint64(2 * _LIMB)).astype(np.float64),
        ]
    )


def _solve_mod(matrix: list[list[int]], p: int) -> list[list[int]] | None:
    """The inverse of a square matrix modulo a prime (None if singular)."""
    k = len(matrix)
    a = [[x % p for x in row] + [int(i == j) for j in range(k)] for i, row in enumerate(matrix)]
    for col in range(k):
        pivot = next((r for r in range(col, k) if a[r][col]), None)
        if pivot is None:
            return None
        a[col], a[pivot] = a[pivot], a[col]
        inv = pow(a[col][col], -1, p)
        a[col] = [x * inv % p for x in a[col]]
        for r in range(k):
            if r != col and a[r][col]:
                f = a[r][col]
                a[r] = [(x - f * y) % p for x, y in zip(a[r], a[col], strict=True)]
    return [row[k:] for row in a]


class ReadoutRing:
    """The last data level of a coefficient context: encoding, I/O and exact read-outs.

    Thread-safe: scratch files are per thread, caches are locked.
    """

    def __init__(self, ctx: CkksContext) -> None:
        if tuple(ctx.params.coeff_mod_bit_sizes) != COEFF_MOD_BIT_SIZES:
            raise CryptoError("this CKKS context was not made for coefficient inner products")
        self.ctx = ctx
        self.seal_context = ctx.native.seal_context().data
        self.level = self.seal_context.last_parms_id()
        data = self.seal_context.get_context_data(self.level)
        primes = [int(m.value()) for m in data.parms().coeff_modulus()]
        if len(primes) != 1:
            raise CryptoError("unexpected CKKS modulus chain")
        self.p = primes[0]
        self.degree = int(data.parms().poly_modulus_degree())
        self.n_inv = pow(self.degree, -1, self.p)
        self.encoder = seal.CKKSEncoder(self.seal_context)
        self._lock = threading.Lock()
        self._monomials: dict[int, np.ndarray] = {}
        self._weights: dict[tuple[int, ...], np.ndarray] = {}
        self._tag = secrets.token_hex(6)

    @property
    def fingerprint(self) -> str:
        return self.ctx.fingerprint

    # -- SEAL objects through private scratch files ------------------------------------------
    def _file(self) -> str:
        return str(scratch_dir() / f"ro-{self._tag}-{os.getpid()}-{threading.get_ident()}")

    def save(self, obj: Any) -> bytes:
        path = self._file()
        obj.save(path)
        return Path(path).read_bytes()

    def load(self, blob: bytes) -> Any:
        """A last-level, two-component, NTT-form ciphertext at scale 1 (else CryptoError)."""
        path = self._file()
        Path(path).write_bytes(blob)
        ct = seal.Ciphertext()
        try:
            ct.load(self.seal_context, path)
        except Exception as exc:  # SEAL validates sizes and moduli on load
            raise CryptoError("malformed CKKS ciphertext") from exc
        if (
            ct.size() != 2
            or not ct.is_ntt_form()
            or list(ct.parms_id()) != list(self.level)
            or ct.scale != 1.0
        ):
            raise CryptoError("CKKS ciphertext has an unexpected level, size or scale")
        return ct

    def encode(self, coeffs: np.ndarray) -> Any:
        """A last-level plaintext holding these integer coefficients (exact below 2^50)."""
        c = np.asarray(coeffs, dtype=np.float64)
        if c.shape != (self.degree,):
            raise InvalidArgument("a polynomial has exactly N coefficients")
        if c.size and (not np.all(np.isfinite(c)) or np.abs(c).max() > MAX_COEFF):
            raise InvalidArgument("values do not fit the fixed-point range of the encoding")
        pt = seal.Plaintext()
        try:
            self.encoder.encode(embed(c).tolist(), self.level, 1.0, pt)
        except ValueError as exc:  # SEAL: "encoded values are too large"
            raise CryptoError("values do not fit the CKKS modulus") from exc
        return pt

    def wire(self, blobs: list[bytes]) -> CipherArray:
        return CipherArray.of_blobs(SCHEME, self.fingerprint, blobs)

    def blobs(self, arr: CipherArray) -> list[bytes]:
        arr.check(SCHEME, self.fingerprint)
        if arr.width != 0:
            raise CryptoError("CKKS ciphertexts must be variable-width blobs")
        return arr.split()

    # -- exact read-outs ---------------------------------------------------------------------
    def monomial_ntt(self, position: int) -> np.ndarray:
        """NTT form of ``X^position`` at the last level (cached)."""
        with self._lock:
            hit = self._monomials.get(position)
        if hit is None:
            coeffs = np.zeros(self.degree)
            coeffs[position] = 1.0
            hit = plain_to_ntt(self.encode(coeffs), 1, self.degree)[0]
            with self._lock:
                self._monomials[position] = hit
        return hit

    def _inverse_ntt_row(self, position: int) -> np.ndarray:
        """``w^(k)``: NTT of ``X^-k`` (so that ``c_k = N^-1 <a, w^(k)>``)."""
        if position == 0:
            return np.ones(self.degree, dtype=np.uint64)
        t = self.monomial_ntt(self.degree - position)
        return np.where(t == 0, t, np.uint64(self.p) - t)

    def weights(self, positions: Sequence[int]) -> np.ndarray:
        """``(3K, N)`` float64 limbs of ``w^(k)`` for the positions (cached per tuple): row
        ``3k + v`` is limb ``v`` of ``w^(k)``."""
        key = tuple(int(p) for p in positions)
        if any(not 0 <= k < self.degree for k in key):
            raise InvalidArgument("a read-out position is outside the ring")
        with self._lock:
            hit = self._weights.get(key)
        if hit is None:
            rows = [_limbs(self._inverse_ntt_row(k)) for k in key]  # (3, N) each
            hit = (
                np.ascontiguousarray(np.concatenate(rows, axis=0))
                if rows
                else np.zeros((0, self.degree))
            )
            with self._lock:
                self._weights[key] = hit
        return hit

    def dots(self, ntt: np.ndarray, positions: Sequence[int]) -> list[int]:
        """``<a, w^(k)> mod p`` (no ``N^-1``) for each position; exact."""
        return self._limb_dots(_limbs(ntt), positions)

    def _limb_dots(self, limbs: np.ndarray, positions: Sequence[int]) -> list[int]:
        """:meth:`dots` from the ``(3, N)`` limbs of ``a``.

        Matrix-vector products of at most :data:`_GEMV_ROWS` rows, not one ``(3, N) x (N, 3K)``
        matrix product: from ``3K = 24`` columns on, OpenBLAS runs that product on every core
        with spinning threads (measured on a busy 2-core machine: about 4 ms of CPU and 10 ms
        of wall time, against 0.15 ms), and a matrix-vector product of more than ~64 rows does
        the same; this runs once per read-out on the bank and once per seal on the platform.
        """
        w = self.weights(positions)
        partial = np.stack(
            [
                np.concatenate(
                    [w[r : r + _GEMV_ROWS] @ limbs[u] for r in range(0, w.shape[0], _GEMV_ROWS)]
                )
                if w.shape[0]
                else np.zeros(0)
                for u in range(3)
            ]
        )  # (3, 3K), integers below 2^53
        out = []
        for k in range(len(positions)):
            block = partial[:, 3 * k : 3 * k + 3]
            total = 0
            for u in range(3):
                for v in range(3):
                    total += int(block[u, v]) << (_LIMB * (u + v))
            out.append(total % self.p)
        return out

    def coefficients(self, ntt: np.ndarray, positions: Sequence[int]) -> list[int]:
        """Coefficients at ``positions`` (residues in ``[0, p)``) of an NTT-form polynomial."""
        return [d * self.n_inv % self.p for d in self.dots(ntt, positions)]

    def centred(self, value: int) -> int:
        return value - self.p if value > self.p // 2 else value


class ReadoutKey(ReadoutRing):
    """The key holder's side: encrypt polynomials, read many coefficients exactly."""

    def __init__(self, ctx: CkksContext) -> None:
        if not ctx.has_secret_key:
            raise CryptoError("this CKKS context has no secret key")
        super().__init__(ctx)
        sk = ctx.native.secret_key().data
        self._encryptor = seal.Encryptor(self.seal_context, sk)
        self._decryptor = seal.Decryptor(self.seal_context, sk)

    def encrypt(self, polys: Iterable[np.ndarray]) -> list[bytes]:
        """Seeded symmetric last-level ciphertexts of integer-coefficient polynomials."""
        return [self.save(self._encryptor.encrypt_symmetric(self.encode(p))) for p in polys]

    def read(self, blob: bytes, positions: Sequence[int]) -> list[int]:
        """The decryption's coefficients at ``positions``, as residues in ``[0, p)``."""
        pt = seal.Plaintext()
        self._decryptor.decrypt(self.load(blob), pt)
        return self.coefficients(plain_to_ntt(pt, 1, self.degree)[0], positions)

    def read_values(
        self, blob: bytes, positions: Sequence[int], scale_bits: int, limit: float
    ) -> np.ndarray:
        """Centred read-outs divided by ``2^scale_bits``; a value beyond ``limit`` in magnitude
        means a tampered, foreign or overflowing result and raises :class:`CryptoError`."""
        values = np.asarray(
            [self.centred(r) / 2.0**scale_bits for r in self.read(blob, positions)],
            dtype=np.float64,
        )
        if values.size and not np.all(np.abs(values) <= limit):
            raise CryptoError("a CKKS result decrypts out of range: tampered or foreign")
        return values


@dataclass(frozen=True)
class _Randomizer:
    """What sealing adds to one result, made ahead of use (depends on no data, used once).

    ``zero``: a fresh public-key encryption of zero; ``u``: a mask uniform mod ``p`` in every
    NTT slot.
    """

    zero: Any
    u: np.ndarray


def _add_mod(a: np.ndarray, b: np.ndarray, p: int) -> np.ndarray:
    """``(a + b) mod p`` for uint64 residues below ``p < 2^63``."""
    s = a + b
    return np.where(s >= np.uint64(p), s - np.uint64(p), s)


class ReadoutEvaluator(ReadoutRing):
    """The platform's side: plaintext products, sealing (mask, flood, fresh zero)."""

    def __init__(self, ctx: CkksContext) -> None:
        super().__init__(ctx)
        if not ctx.can_encrypt:
            raise CryptoError("sealing results needs the bank's public key")
        self._public = seal.Encryptor(self.seal_context, ctx.native.public_key().data)
        self._evaluator = seal.Evaluator(self.seal_context)
        self._pool: list[_Randomizer] = []
        self._zero_lock = threading.Lock()
        self._target = 0
        self._wake = threading.Event()
        self._filler: threading.Thread | None = None
        self._pivots: dict[tuple[int, ...], tuple[np.ndarray, list[list[int]]]] = {}

    def dot(self, terms: Iterable[tuple[Any, Any]]) -> Any:
        """``sum_i ct_i * pt_i`` over (ciphertext, plaintext) pairs (at least one)."""
        acc: Any = None
        tmp = seal.Ciphertext()
        for ct, pt in terms:
            if acc is None:
                acc = seal.Ciphertext()
                self._evaluator.multiply_plain(ct, pt, acc)
            else:
                self._evaluator.multiply_plain(ct, pt, tmp)
                self._evaluator.add_inplace(acc, tmp)
        if acc is None:
            raise InvalidArgument("an inner product needs at least one term")
        return acc

    # -- serialized ciphertexts as arrays ---------------------------------------------------
    def _split(self, blob: bytes) -> tuple[bytes, np.ndarray]:
        """``(members before the data, (2, N) residues)`` of a saved two-component ciphertext
        at this level (SEAL's framing, its body zstd-compressed or not)."""
        if len(blob) < 16 or blob[:3] != _SEAL_MAGIC:
            raise CryptoError("unexpected SEAL serialisation")
        mode, body = blob[5], blob[16:]
        if mode == 2:
            body = _zstd().ZstdDecompressor().decompress(body, max_output_size=1 << 24)
        elif mode != 0:
            raise CryptoError("unexpected SEAL compression mode")
        count = 2 * self.degree
        if len(body) < 8 * count:
            raise CryptoError("unexpected SEAL serialisation")
        data = np.frombuffer(body[-8 * count :], dtype="<u8").reshape(2, self.degree)
        return body[: -8 * count], data.astype(np.uint64)

    @staticmethod
    def _join(header: bytes, members: bytes, data: np.ndarray) -> bytes:
        """SEAL's framing, uncompressed (the data is uniform: compression gains nothing)."""
        payload = members + np.ascontiguousarray(data, dtype="<u8").tobytes()
        return header[:5] + b"\x00\x00\x00" + struct.pack("<Q", 16 + len(payload)) + payload

    # -- fresh encryptions of zero and masks, made ahead ---------------------------------------
    def _fresh_zero(self) -> Any:
        ct = seal.Ciphertext()
        self._public.encrypt_zero(self.level, ct)
        return ct

    def _fresh_randomizer(self) -> _Randomizer:
        u = uniform_residues([self.p], self.degree)[0]
        return _Randomizer(self._fresh_zero(), u)

    def prepare(self, count: int) -> int:
        """Make randomizers (a fresh encryption of zero and a uniform mask each: they depend
        on no data) ahead of use until ``count`` are pooled; returns how many are pooled."""
        while True:
            with self._zero_lock:
                if len(self._pool) >= count:
                    return len(self._pool)
            item = self._fresh_randomizer()
            with self._zero_lock:
                self._pool.append(item)

    @property
    def pooled(self) -> int:
        with self._zero_lock:
            return len(self._pool)

    def _randomizer(self) -> _Randomizer:
        """A pooled randomizer if one is ready (each is used once), else a fresh one."""
        with self._zero_lock:
            item = self._pool.pop() if self._pool else None
        self._wake.set()
        return item if item is not None else self._fresh_randomizer()

    def zero(self) -> Any:
        """A fresh encryption of zero under the bank's key (a SEAL ciphertext)."""
        return self._fresh_zero()

    def keep_pooled(self, target: int) -> None:
        """Keep about ``target`` randomizers pooled by a background thread (0 stops it)."""
        with self._zero_lock:
            self._target = max(0, int(target))
            start = self._target > 0 and (self._filler is None or not self._filler.is_alive())
            if start:
                self._filler = threading.Thread(
                    target=self._fill, name="ckks-zero-pool", daemon=True
                )
        if start and self._filler is not None:
            self._filler.start()
        self._wake.set()

    def _fill(self) -> None:
        while True:
            with self._zero_lock:
                target, have = self._target, len(self._pool)
            if target <= 0:
                return
            if have >= target:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            item = self._fresh_randomizer()
            with self._zero_lock:
                self._pool.append(item)

    # -- masks -------------------------------------------------------------------------------
    def _pivot_system(self, positions: tuple[int, ...]) -> tuple[np.ndarray, list[list[int]]]:
        """Pivot slots and the inverse of ``[w^(k)_j]`` over them (cached per positions)."""
        with self._lock:
            hit = self._pivots.get(positions)
        if hit is not None:
            return hit
        k = len(positions)
        rows = [self._inverse_ntt_row(pos) for pos in positions]
        candidates: list[np.ndarray] = []
        step = positions[1] - positions[0] if k > 1 else 0
        if (
            k > 1
            and positions[0] == 0
            and all(b - a == step for a, b in itertools.pairwise(positions))
        ):
            # positions 0, d, 2d, ...: a Vandermonde system in z_j = w^(d)_j, invertible
            # exactly when the pivots' z_j are distinct
            _, first = np.unique(rows[1], return_index=True)
            if first.size >= k:
                candidates.append(np.sort(first[:k]))
        choose = np.random.default_rng(k)  # pivots need not be secret
        candidates += [np.sort(choose.choice(self.degree, size=k, replace=False)) for _ in range(8)]
        for pivots in candidates:
            inverse = _solve_mod([[int(r[j]) for j in pivots] for r in rows], self.p)
            if inverse is not None:
                hit = (pivots, inverse)
                with self._lock:
                    self._pivots[positions] = hit
                return hit
        raise CryptoError("no invertible pivot system for these read-out positions")

    def mask(self, positions: Sequence[int], values: Sequence[int]) -> np.ndarray:
        """NTT-form mask: coefficient ``positions[i]`` equals ``values[i]`` (mod p), every
        other coefficient uniform mod ``p`` (CSPRNG)."""
        key = tuple(int(x) for x in positions)
        if len(set(key)) != len(key) or len(values) != len(key):
            raise InvalidArgument("read-out positions must be distinct, one value each")
        ntt = uniform_residues([self.p], self.degree)[0]
        if not key:
            return ntt
        pivots, inverse = self._pivot_system(key)
        ntt[pivots] = 0
        rest = self.dots(ntt, key)  # sum over the free slots
        rhs = [(self.degree * int(v) - r) % self.p for v, r in zip(values, rest, strict=True)]
        solved = [sum(a * b for a, b in zip(row, rhs, strict=True)) % self.p for row in inverse]
        ntt[pivots] = np.asarray(solved, dtype=np.uint64)
        return ntt

    def _pivot_correction(
        self, key: tuple[int, ...], values: Sequence[int], current: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(pivots, delta)``: adding ``delta`` at the pivot slots moves the coefficients at
        ``key`` from ``current`` (times ``N``, i.e. ``dots``) to ``values``."""
        pivots, inverse = self._pivot_system(key)
        rhs = [(self.degree * int(v) - r) % self.p for v, r in zip(values, current, strict=True)]
        delta = [sum(a * b for a, b in zip(row, rhs, strict=True)) % self.p for row in inverse]
        return pivots, np.asarray(delta, dtype=np.uint64)

    def seal(self, ct: Any, reveal: Sequence[int], flood_bits: int) -> bytes:
        """Mask, flood and rerandomise a result before it leaves the platform.

        ``reveal``: the read-out positions the bank may read; each gets a flood value uniform
        in ``[-2^flood_bits, 2^flood_bits]``, every other coefficient a uniform mask mod ``p``.

        The mask and the fresh encryption of zero come from a randomizer made ahead of use
        (:meth:`prepare`): its mask ``u`` is uniform in every NTT slot, and only the ``K``
        pivot slots are moved so that the read-outs hold the floods, the same distribution as
        :meth:`mask`. The sums are taken on the serialized result (exact residue arithmetic).
        """
        if not 0 <= flood_bits <= READ_LIMIT_BITS - 8:
            raise InvalidArgument("flood size is out of range")
        key = tuple(int(x) for x in reveal)
        if len(set(key)) != len(key):
            raise InvalidArgument("read-out positions must be distinct, one value each")
        span = (1 << (flood_bits + 1)) + 1
        floods = [secrets.randbelow(span) - (1 << flood_bits) for _ in key]
        item = self._randomizer()
        self._evaluator.add_inplace(ct, item.zero)
        blob = self.save(ct)
        members, data = self._split(blob)
        mask = item.u
        if key:
            current = self.dots(mask, key)
            pivots, delta = self._pivot_correction(key, floods, current)
            mask[pivots] = _add_mod(mask[pivots], delta, self.p)  # the item is used once
        data[0] = _add_mod(data[0], mask, self.p)
        return self._join(blob[:16], members, data)
