"""Exact encrypted inner products on CKKS's ring: coefficient encoding, uniform masks, exact reads.

The key holder (the bank) encrypts integer-coefficient polynomials; the other party (the
platform) multiplies them by its own integer-coefficient plaintext polynomials and sums. With
``D(X) = sum_r d_r X^r`` and ``W(X) = sum_r w_r X^-r`` (negacyclic: ``X^-r = -X^(N-r)``), the
product's coefficient 0 is the inner product ``sum_r d_r w_r``; every other pairing lands on
another coefficient. Two inner products fit one product (:func:`pair_poly`, and
:func:`forward_poly` with a second vector): coefficient 0 and coefficient ``N/2``.

What the key holder may read is exactly the **read-out coefficients** it is meant to read.
Before a result leaves the platform, :meth:`CoeffEvaluator.seal` adds

- a mask polynomial drawn **uniformly modulo q** (``q`` = product of the data-level primes,
  ~2^120) from the operating system's CSPRNG, in RNS/NTT form, whose coefficients are zero at
  the positions the bank may read and uniform everywhere else: every other coefficient of the
  decryption is a uniformly random residue, independent of the platform's data, whatever
  ciphertext the bank sent (a noiseless or crafted encryption included); and, for outputs meant
  for the platform itself (the bank decrypts and hands them back), a uniform mask at the
  read-out positions too, whose values the platform keeps (perfect hiding, no statistical
  parameter);
- a fresh encryption of zero under the bank's public key (SEAL's CSPRNG), so the ciphertext's
  second component is a new RLWE sample that carries no trace of the plaintext factors.

The bank decrypts and reads a coefficient exactly: its value modulo each prime is a linear
functional of the NTT-form plaintext (``c_0 = N^-1 sum_j a_j``; ``c_(N/2) = -N^-1 sum_j a_j t_j``
with ``t_j`` the NTT of ``X^(N/2)``, a fourth root of unity per slot), then CRT. A read-out
holds ``sum_r (d_r + e_r) w_r + e'`` where ``e`` is the bank's own encryption noise (which it
knows: one linear functional of ``w`` either way) and ``e'`` the noise of the fresh encryption
of zero (independent of the platform's data).

Parameters: ``N = 8192``, coefficient modulus ``[60, 60, 60]`` (two 60-bit data primes and the
special prime; 180 bits, within the 218 the HE standard allows for 128-bit security). Values
are integers: callers choose fixed-point scales so that every read-out stays below ``q / 2``
(:data:`READ_LIMIT_BITS`). Integer coefficients are handed to SEAL's encoder as their canonical
embedding, so polynomial coefficients up to ~2^50 encode exactly (one unit of error at most
beyond that).

Security is against a semi-honest bank: a bank that crafts its ciphertexts learns whatever
linear functionals of the platform's plaintexts it encodes, up to the read-out coefficients'
capacity (~120 bits per read-out); nothing from any other coefficient.
"""

from __future__ import annotations

import atexit
import functools
import os
import secrets
import shutil
import struct
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tenseal.sealapi as seal

from models.crypto.ckks import CkksContext
from models.crypto.parallel import handler, helper_state, reserved_helpers, resolve_workers
from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument

SCHEME = "ckks"
#: Two 60-bit data primes and the 60-bit special prime (180 bits; 218 allowed at N = 8192).
COEFF_MOD_BIT_SIZES: tuple[int, ...] = (60, 60, 60)
#: Read-outs must stay below ``2^READ_LIMIT_BITS`` in magnitude (``q / 2 ~ 2^119``).
READ_LIMIT_BITS = 116
#: Largest absolute integer coefficient handed to the encoder (exact below ~2^50).
MAX_COEFF = 2.0**52

_SEAL_MAGIC = b"\x5e\xa1\x10"


def create_context() -> CkksContext:
    """A key holder's context for coefficient inner products (asymmetric: the platform needs
    the public key to rerandomise results)."""
    return CkksContext.create(coeff_mod_bit_sizes=COEFF_MOD_BIT_SIZES)


# -- polynomial layouts -------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _slot_layout(degree: int) -> tuple[np.ndarray, np.ndarray]:
    half = degree // 2
    # SEAL's CKKS slot k holds the evaluation at zeta^(3^k), zeta = exp(i pi / N)
    exponents = np.array([pow(3, k, 2 * degree) for k in range(half)], dtype=np.int64)
    twist = np.exp(1j * np.pi * np.arange(degree) / degree)
    return (exponents - 1) // 2, twist


def embed(coeffs: np.ndarray) -> np.ndarray:
    """The slot values SEAL's CKKS encoder turns back into exactly these real coefficients."""
    degree = int(coeffs.shape[0])
    index, twist = _slot_layout(degree)
    return (degree * np.fft.ifft(coeffs * twist))[index]


def _rounded(values: np.ndarray, scale_bits: int) -> np.ndarray:
    out = np.round(np.asarray(values, dtype=np.float64) * 2.0**scale_bits)
    if out.size and (not np.all(np.isfinite(out)) or np.abs(out).max() > MAX_COEFF):
        raise InvalidArgument("values do not fit the fixed-point range of the encoding")
    return out


def forward_poly(
    d: np.ndarray, scale_bits: int, degree: int, second: np.ndarray | None = None
) -> np.ndarray:
    """``sum_r d_r X^r`` (and ``sum_r e_r X^(N/2+r)`` for ``second = e``): the encrypted side.

    Each vector holds at most ``N/2`` entries.
    """
    half = degree // 2
    d = np.asarray(d, dtype=np.float64).reshape(-1)
    if d.size > half or (second is not None and np.asarray(second).size > half):
        raise InvalidArgument("a vector chunk holds at most N/2 entries")
    out = np.zeros(degree)
    out[: d.size] = _rounded(d, scale_bits)
    if second is not None:
        e = np.asarray(second, dtype=np.float64).reshape(-1)
        out[half : half + e.size] = _rounded(e, scale_bits)
    return out


def pair_poly(a: np.ndarray, b: np.ndarray | None, scale_bits: int, degree: int) -> np.ndarray:
    """``sum_r a_r X^-r + sum_r b_r X^(N/2-r)``: the plaintext side for two columns.

    Times :func:`forward_poly` of one vector ``d``: coefficient 0 is ``<d, a>`` and coefficient
    ``N/2`` is ``<d, b>``. Times ``forward_poly(d, second=e)`` with ``b = None``: coefficient 0
    is ``<d, a>`` and coefficient ``N/2`` is ``<e, a>``.
    """
    half = degree // 2
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    if a.size > half or (b is not None and np.asarray(b).size > half):
        raise InvalidArgument("a vector chunk holds at most N/2 entries")
    out = np.zeros(degree)
    ra = _rounded(a, scale_bits)
    if ra.size:
        out[0] = ra[0]
        r = np.arange(1, ra.size)
        out[degree - r] = -ra[1:]
    if b is not None:
        rb = _rounded(np.asarray(b, dtype=np.float64).reshape(-1), scale_bits)
        out[half - np.arange(rb.size)] = rb
    return out


# -- RNS layout and exact read-outs ----------------------------------------------------------
class RnsLayout:
    """The data-level primes of a context and the linear functionals that read coefficients."""

    def __init__(self, ctx: CkksContext, encoder: Any, top: Any) -> None:
        first = ctx.native.seal_context().data.first_context_data()
        self.primes: list[int] = [int(m.value()) for m in first.parms().coeff_modulus()]
        self.degree: int = int(first.parms().poly_modulus_degree())
        self.q: int = 1
        for p in self.primes:
            self.q *= p
        self.n_inv = [pow(self.degree, -1, p) for p in self.primes]
        self._encoder = encoder
        self._top = top
        # CRT: x = sum_i r_i * M_i * (M_i^-1 mod p_i) mod q
        self._crt = []
        for p in self.primes:
            m = self.q // p
            self._crt.append(m * pow(m, -1, p))
        self._monomials: dict[int, np.ndarray] = {}

    def monomial_ntt(self, position: int) -> np.ndarray:
        """NTT form (per prime) of ``X^position`` (cached)."""
        if position not in self._monomials:
            coeffs = np.zeros(self.degree)
            coeffs[position] = 1.0
            pt = seal.Plaintext()
            self._encoder.encode(embed(coeffs).tolist(), self._top, 1.0, pt)
            self._monomials[position] = plain_to_ntt(pt, len(self.primes), self.degree)
        return self._monomials[position]

    def read(self, ntt: np.ndarray, position: int) -> int:
        """Coefficient ``position`` (mod q, in ``[0, q)``) of an NTT-form polynomial."""
        residues = []
        for i, p in enumerate(self.primes):
            row = ntt[i]
            if position == 0:
                s = _sum_mod(row, p)
            elif position == self.degree // 2:
                t = self.monomial_ntt(position)[i]
                iota = int(t[0])  # t_j is iota or -iota = p - iota
                plus = t == iota
                s = (-(_sum_mod(row[plus], p) - _sum_mod(row[~plus], p)) * iota) % p
            else:
                t = self.monomial_ntt(position)[i]
                s = sum(int(a) * pow(int(w), -1, p) for a, w in zip(row, t, strict=True)) % p
            residues.append(s * self.n_inv[i] % p)
        return sum(r * c for r, c in zip(residues, self._crt, strict=True)) % self.q

    def centred(self, value: int) -> int:
        return value - self.q if value > self.q // 2 else value

    def residues(self, value: int) -> list[int]:
        return [value % p for p in self.primes]


def _sum_mod(row: np.ndarray, p: int) -> int:
    """``sum(row) mod p`` for uint64 residues below 2^60 (exact, vectorised)."""
    lo = np.bitwise_and(row, np.uint64(0x3FFFFFFF)).sum(dtype=np.uint64)
    hi = np.right_shift(row, np.uint64(30)).sum(dtype=np.uint64)
    return (int(hi) * (1 << 30) + int(lo)) % p


# -- SEAL plaintexts as arrays ----------------------------------------------------------------
def _zstd() -> Any:
    try:
        import zstandard
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise CryptoError("the zstandard package is required to read SEAL plaintexts") from exc
    return zstandard


def plain_to_ntt(pt: Any, n_primes: int, degree: int) -> np.ndarray:
    """The NTT-form residues of a SEAL plaintext as a ``(n_primes, degree)`` uint64 array."""
    path = _scratch_file()
    pt.save(str(path))
    blob = path.read_bytes()
    if blob[:3] != _SEAL_MAGIC:
        raise CryptoError("unexpected SEAL serialisation")
    mode = blob[5]
    body = blob[16:]
    if mode == 2:
        body = _zstd().ZstdDecompressor().decompress(body, max_output_size=1 << 24)
    elif mode != 0:
        raise CryptoError("unexpected SEAL compression mode")
    count = n_primes * degree
    data = np.frombuffer(body[-8 * count :], dtype="<u8")
    return data.reshape(n_primes, degree).astype(np.uint64)


def ntt_to_plain(ntt: np.ndarray, template: Any, context: Any) -> Any:
    """A SEAL plaintext (NTT form, scale 1) holding these residues, at ``template``'s level."""
    path = _scratch_file()
    template.save(str(path))
    header = path.read_bytes()[:16]
    data = np.ascontiguousarray(ntt, dtype="<u8").reshape(-1)

    def framed(payload: bytes) -> bytes:
        return header[:5] + b"\x00\x00\x00" + struct.pack("<Q", 16 + len(payload)) + payload

    inner = framed(struct.pack("<Q", data.size) + data.tobytes())
    body = (
        struct.pack("<4Q", *template.parms_id())
        + struct.pack("<Q", data.size)
        + struct.pack("<d", 1.0)
        + inner
    )
    path.write_bytes(framed(body))
    pt = seal.Plaintext()
    pt.load(context, str(path))
    return pt


_SCRATCH: Path | None = None
_SCRATCH_CHECKED = 0.0


def scratch_dir() -> Path:
    """One private directory per process (tmpfs where available), removed at exit: SEAL
    objects load and save only through files in TenSEAL's bindings (ciphertexts and
    plaintexts, never keys). Its existence is re-checked at most once a second (a ``stat`` per
    SEAL object was a measurable share of online scoring)."""
    global _SCRATCH, _SCRATCH_CHECKED
    now = time.monotonic()
    if _SCRATCH is not None and now - _SCRATCH_CHECKED < 1.0:
        return _SCRATCH
    if _SCRATCH is None or not _SCRATCH.is_dir():
        shm = "/dev/shm"
        base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
        _SCRATCH = Path(tempfile.mkdtemp(prefix="fedcredit-ckks-", dir=base))
        os.chmod(_SCRATCH, 0o700)
        atexit.register(shutil.rmtree, _SCRATCH, True)
    _SCRATCH_CHECKED = now
    return _SCRATCH


def _scratch_file() -> Path:
    """A scratch file private to this process and thread (SEAL saves and loads via files)."""
    return scratch_dir() / f"coeff-{os.getpid()}-{threading.get_ident()}"


def uniform_residues(primes: Sequence[int], degree: int) -> np.ndarray:
    """Uniform residues modulo each prime from ``os.urandom`` (rejection sampling, no bias)."""
    out = np.empty((len(primes), degree), dtype=np.uint64)
    for i, p in enumerate(primes):
        bits = p.bit_length()
        mask = np.uint64((1 << bits) - 1)
        row = np.frombuffer(os.urandom(8 * degree), dtype="<u8") & mask
        bad = row >= np.uint64(p)
        while bad.any():
            fresh = np.frombuffer(os.urandom(8 * int(bad.sum())), dtype="<u8") & mask
            row = row.copy()
            row[bad] = fresh
            bad = row >= np.uint64(p)
        out[i] = row
    return out


def _sub_scalar_mod(row: np.ndarray, value: int, p: int) -> np.ndarray:
    v = np.uint64(value % p)
    return np.where(row >= v, row - v, row + (np.uint64(p) - v))


# -- shared SEAL plumbing ---------------------------------------------------------------------
class _CoeffBase:
    def __init__(self, ctx: CkksContext) -> None:
        if tuple(ctx.params.coeff_mod_bit_sizes) != COEFF_MOD_BIT_SIZES:
            raise CryptoError("this CKKS context was not made for coefficient inner products")
        self.ctx = ctx
        self.seal_context = ctx.native.seal_context().data
        self.top = self.seal_context.first_parms_id()
        self.degree = int(ctx.params.poly_modulus_degree)
        self.encoder = seal.CKKSEncoder(self.seal_context)
        self.layout = RnsLayout(ctx, self.encoder, self.top)
        self._file = str(scratch_dir() / f"ct-{secrets.token_hex(8)}")

    @property
    def fingerprint(self) -> str:
        return self.ctx.fingerprint

    def save(self, obj: Any) -> bytes:
        obj.save(self._file)
        with open(self._file, "rb") as fh:
            return fh.read()

    def load(self, blob: bytes) -> Any:
        """A top-level, two-component ciphertext at scale 1 (anything else is refused)."""
        with open(self._file, "wb") as fh:
            fh.write(blob)
        ct = seal.Ciphertext()
        try:
            ct.load(self.seal_context, self._file)
        except Exception as exc:  # SEAL validates sizes and moduli on load
            raise CryptoError("malformed CKKS ciphertext") from exc
        if ct.size() != 2 or not ct.is_ntt_form() or ct.parms_id() != self.top or ct.scale != 1.0:
            raise CryptoError("CKKS ciphertext has an unexpected level, size or scale")
        return ct

    def encode(self, coeffs: np.ndarray) -> Any:
        """A plaintext holding these integer coefficients (exact up to ~2^50)."""
        pt = seal.Plaintext()
        try:
            self.encoder.encode(
                embed(np.asarray(coeffs, dtype=np.float64)).tolist(), self.top, 1.0, pt
            )
        except ValueError as exc:  # SEAL: "encoded values are too large"
            raise CryptoError("values do not fit the CKKS modulus") from exc
        return pt

    def wire(self, blobs: list[bytes]) -> CipherArray:
        return CipherArray.of_blobs(SCHEME, self.ctx.fingerprint, blobs)

    def blobs(self, arr: CipherArray) -> list[bytes]:
        arr.check(SCHEME, self.ctx.fingerprint)
        if arr.width != 0:
            raise CryptoError("CKKS ciphertexts must be variable-width blobs")
        return arr.split()


class CoeffKey(_CoeffBase):
    """The key holder's side: encrypt polynomials, read coefficients of decryptions exactly."""

    def __init__(self, ctx: CkksContext) -> None:
        if not ctx.has_secret_key:
            raise CryptoError("this CKKS context has no secret key")
        super().__init__(ctx)
        sk = ctx.native.secret_key().data
        self._encryptor = seal.Encryptor(self.seal_context, sk)
        self._decryptor = seal.Decryptor(self.seal_context, sk)

    def encrypt(self, polys: Iterable[np.ndarray], *, workers: int | None = None) -> list[bytes]:
        """Seeded symmetric ciphertexts of integer-coefficient polynomials (IND-CPA).

        Large batches are split with a helper process of the key holder's own (it receives the
        key holder's context once per key; it is the same party on the same machine).
        """
        polys = list(polys)
        n_workers = resolve_workers(workers, len(polys) * 4000)
        if n_workers < 2 or len(polys) < 8:
            return [self.save(self._encryptor.encrypt_symmetric(self.encode(p))) for p in polys]
        return _parallel_encrypt(self, polys)

    def private_bytes(self) -> bytes:
        """The context with its secret key (only for this party's own helper processes)."""
        return bytes(self.ctx.native.serialize(save_secret_key=True))

    def read(self, blob: bytes, positions: Sequence[int]) -> list[int]:
        """The decryption's coefficients at ``positions``, as residues in ``[0, q)``."""
        pt = seal.Plaintext()
        self._decryptor.decrypt(self.load(blob), pt)
        ntt = plain_to_ntt(pt, len(self.layout.primes), self.degree)
        return [self.layout.read(ntt, int(pos)) for pos in positions]

    def read_values(
        self, blob: bytes, positions: Sequence[int], scale_bits: int, limit: float
    ) -> list[float]:
        """Centred read-outs divided by ``2^scale_bits``; a value beyond ``limit`` in magnitude
        means a tampered, foreign or overflowing result and raises :class:`CryptoError`."""
        out = []
        for raw in self.read(blob, positions):
            v = self.layout.centred(raw)
            value = v / 2.0**scale_bits
            if not abs(value) <= limit:
                raise CryptoError("a CKKS result decrypts out of range: tampered or foreign")
            out.append(value)
        return out


class CoeffEvaluator(_CoeffBase):
    """The platform's side: plaintext products, masking and rerandomisation of results.

    Not thread-safe (one per session or per thread).
    """

    def __init__(self, ctx: CkksContext) -> None:
        super().__init__(ctx)
        if not ctx.can_encrypt:
            raise CryptoError("coefficient inner products need the bank's public key")
        self._encryptor = seal.Encryptor(self.seal_context, ctx.native.public_key().data)
        self._evaluator = seal.Evaluator(self.seal_context)
        self._template = self.encode(np.zeros(self.degree))
        self._zeros: list[Any] = []

    def dot(self, terms: Iterable[tuple[Any, Any]]) -> Any:
        """``sum_i ct_i * pt_i`` over (ciphertext, plaintext) pairs (at least one). Zero
        plaintexts are skipped (SEAL refuses their transparent products); if nothing remains
        the result is a fresh encryption of zero."""
        acc: Any = None
        tmp = seal.Ciphertext()
        seen = False
        for ct, pt in terms:
            seen = True
            if pt.is_zero():
                continue
            if acc is None:
                acc = seal.Ciphertext()
                self._evaluator.multiply_plain(ct, pt, acc)
            else:
                self._evaluator.multiply_plain(ct, pt, tmp)
                self._evaluator.add_inplace(acc, tmp)
        if not seen:
            raise InvalidArgument("an inner product needs at least one term")
        return acc if acc is not None else self._zero()

    def accumulate(self, acc: Any, ct: Any, pt: Any) -> Any:
        """``acc + ct * pt`` (``acc`` None: start), skipping a zero plaintext; returns the
        accumulator (``None`` while every product so far was zero). For streaming large
        inner products without holding every plaintext."""
        if pt.is_zero():
            return acc
        if acc is None:
            out = seal.Ciphertext()
            self._evaluator.multiply_plain(ct, pt, out)
            return out
        tmp = seal.Ciphertext()
        self._evaluator.multiply_plain(ct, pt, tmp)
        self._evaluator.add_inplace(acc, tmp)
        return acc

    def finish(self, acc: Any) -> Any:
        """An accumulator as a ciphertext (a fresh encryption of zero if nothing was added)."""
        return acc if acc is not None else self._zero()

    def prepare(self, count: int) -> None:
        """Encrypt zeros ahead of use (they depend on no data) until ``count`` are ready."""
        while len(self._zeros) < count:
            ct = seal.Ciphertext()
            self._encryptor.encrypt_zero(ct)
            self._zeros.append(ct)

    def _zero(self) -> Any:
        if self._zeros:
            return self._zeros.pop()
        ct = seal.Ciphertext()
        self._encryptor.encrypt_zero(ct)
        return ct

    def mask(self, reveal: Sequence[int], keep: Sequence[int]) -> tuple[np.ndarray, dict[int, int]]:
        """A uniform mask polynomial (NTT form): zero at ``reveal``, uniform elsewhere; returns
        it with its values (mod q) at ``keep``."""
        layout = self.layout
        ntt = uniform_residues(layout.primes, self.degree)
        for pos in reveal:
            if pos not in (0, self.degree // 2):
                raise InvalidArgument("only coefficients 0 and N/2 can be revealed")
            value = layout.read(ntt, pos)
            for i, p in enumerate(layout.primes):
                if pos == 0:
                    ntt[i] = _sub_scalar_mod(ntt[i], value, p)
                else:
                    t = layout.monomial_ntt(pos)[i]
                    iota = int(t[0])
                    plus = t == iota
                    step = value * iota % p
                    ntt[i] = np.where(
                        plus, _sub_scalar_mod(ntt[i], step, p), _sub_scalar_mod(ntt[i], p - step, p)
                    )
        kept = {int(pos): layout.read(ntt, int(pos)) for pos in keep}
        return ntt, kept

    def seal(
        self, ct: Any, reveal: Sequence[int] = (), keep: Sequence[int] = ()
    ) -> tuple[bytes, dict[int, int]]:
        """Mask and rerandomise a result before it leaves the platform.

        ``reveal``: read-out positions the bank may read (mask zero there). ``keep``: read-out
        positions masked uniformly whose mask values the caller keeps (mod q) to unmask what
        the bank hands back. Every other coefficient is uniform mod q to the bank.
        """
        if set(reveal) & set(keep):
            raise InvalidArgument("a read-out is either revealed or kept masked")
        ntt, kept = self.mask(reveal, keep)
        self._evaluator.add_plain_inplace(ct, ntt_to_plain(ntt, self._template, self.seal_context))
        self._evaluator.add_inplace(ct, self._zero())
        return self.save(ct), kept

    def unmask(self, raw: int, kept: int) -> int:
        """Centred ``raw - mask`` (mod q): the platform's value from what the bank returned."""
        if not 0 <= raw < self.layout.q:
            raise InvalidArgument("a returned read-out is out of range")
        return self.layout.centred((raw - kept) % self.layout.q)


# -- the key holder's helper process ---------------------------------------------------------
def _parallel_encrypt(key: CoeffKey, polys: list[np.ndarray]) -> list[bytes]:
    """Half of the polynomials here, half in a helper (fixed order)."""
    mine = len(polys) // 2
    rest = np.ascontiguousarray(np.stack(polys[mine:]), dtype="<f8")
    with reserved_helpers(1) as team:
        h = team[0]
        token = key.fingerprint
        frames = [rest.tobytes()]
        header: dict[str, object] = {"token": token, "count": int(rest.shape[0])}
        if token not in h.setups:
            frames.append(key.ctx.public_bytes())
            frames.append(key.private_bytes())
            header["setup"] = True
        h.submit("ckks_coeff_encrypt", header, frames)
        out = [key.save(key._encryptor.encrypt_symmetric(key.encode(p))) for p in polys[:mine]]
        _, blobs = h.result()
        h.setups.add(token)
    return out + list(blobs)


@handler("ckks_coeff_encrypt")
def _encrypt_handler(
    header: dict[str, object], frames: list[bytes]
) -> tuple[dict[str, object], list[bytes]]:
    import tenseal as ts

    keys: dict[str, CoeffKey] = helper_state().setdefault("ckks_coeff_keys", {})
    token = str(header["token"])
    if header.get("setup"):
        ctx = CkksContext(ts.context_from(frames[2]), frames[1])
        keys.clear()  # one key at a time
        keys[token] = CoeffKey(ctx)
    key = keys[token]
    count = int(str(header["count"]))
    polys = np.frombuffer(frames[0], dtype="<f8").reshape(count, key.degree)
    return {}, [key.save(key._encryptor.encrypt_symmetric(key.encode(p))) for p in polys]
