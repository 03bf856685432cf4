"""SEAL at the coefficient level, for the LR attacks: exact decryption and chosen ciphertexts.

The bank holds the secret key, so it can decrypt any result to the **exact integers** of the
plaintext polynomial (modulo ``Q``), not only to float64 slots, and it can build ciphertexts the
platform cannot tell from honest ones (a noiseless encryption, a crafted residual vector).
:class:`ExactKey` gives the attacks these powers over a :class:`~models.crypto.ckks.CkksContext`
with a secret key, through ``tenseal.sealapi`` only:

- ``decrypt(blob)``: SEAL's decryption gives the plaintext in NTT form; adding it to a fixed
  ciphertext and applying SEAL's own inverse NTT (``Evaluator.transform_from_ntt``) gives its
  coefficients per RNS prime, read from SEAL's uncompressed serialization; CRT and a centred
  lift give the integers in ``(-Q/2, Q/2]``.
- ``encrypt(coeffs, noiseless=...)``: symmetric encryption of an integer polynomial (exact:
  :func:`embed` uses SEAL's slot order, generator 3); ``noiseless=True`` then subtracts the
  encryption noise (the key holder computes it) with ``sub_plain``, so the ciphertext decrypts
  to exactly ``coeffs``: to the platform it is an ordinary fresh ciphertext.

Ciphertexts travel as SEAL's own serialisation (file based in TenSEAL's bindings), through a
private scratch directory.
"""

from __future__ import annotations

import atexit
import functools
import os
import secrets
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import tenseal.sealapi as seal
import zstandard

from models.crypto.ckks import CkksContext

#: SEAL's CKKS slots are the evaluations at ``zeta^(3^k)`` (``zeta = exp(i pi / N)``).
SEAL_GENERATOR = 3

_SCRATCH: list[Path] = []


def scratch_file() -> str:
    """A fresh path in one private (0700, tmpfs where available) directory per process."""
    if not _SCRATCH or not _SCRATCH[0].is_dir():
        shm = "/dev/shm"
        base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
        path = Path(tempfile.mkdtemp(prefix="fedcredit-attack-", dir=base))
        os.chmod(path, 0o700)
        atexit.register(shutil.rmtree, path, True)
        _SCRATCH[:] = [path]
    return str(_SCRATCH[0] / f"obj-{secrets.token_hex(8)}")


def save(obj: Any) -> bytes:
    """SEAL serialisation of a ciphertext or plaintext (default compression)."""
    path = scratch_file()
    try:
        obj.save(path)
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        if os.path.exists(path):
            os.unlink(path)


def load_ciphertext(seal_context: Any, blob: bytes) -> Any:
    path = scratch_file()
    try:
        with open(path, "wb") as fh:
            fh.write(blob)
        ct = seal.Ciphertext()
        ct.load(seal_context, path)
        return ct
    finally:
        os.unlink(path)


def raw_words(obj: Any, count: int) -> np.ndarray:
    """The last ``count`` 64-bit words of a SEAL object's serialisation: its data array."""
    blob = save(obj)
    magic, _, _, _, compr, _, _ = struct.unpack("<HBBBBHQ", blob[:16])
    if magic != 0xA15E:
        raise ValueError("not a SEAL serialisation")
    body = blob[16:]
    if compr == 2:
        body = zstandard.ZstdDecompressor().decompress(body, max_output_size=1 << 30)
    elif compr != 0:
        raise ValueError("unsupported SEAL compression")
    return np.frombuffer(body[len(body) - 8 * count :], dtype="<u8").copy()


@functools.lru_cache(maxsize=8)
def _twist(degree: int, generator: int) -> tuple[np.ndarray, np.ndarray]:
    half = degree // 2
    exps = np.array([pow(generator, k, 2 * degree) for k in range(half)], dtype=np.int64)
    return (exps - 1) // 2, np.exp(1j * np.pi * np.arange(degree) / degree)


def embed(coeffs: np.ndarray, generator: int = SEAL_GENERATOR) -> np.ndarray:
    """Canonical embedding: values at ``zeta^(g^k)``, ``k < N/2`` (SEAL's slots for ``g = 3``)."""
    degree = int(coeffs.shape[0])
    index, twist = _twist(degree, generator)
    return (degree * np.fft.ifft(np.asarray(coeffs, dtype=np.float64) * twist))[index]


def unembed(slots: np.ndarray, generator: int = SEAL_GENERATOR) -> np.ndarray:
    """The real polynomial whose :func:`embed` is ``slots`` (inverse of :func:`embed`)."""
    half = int(slots.shape[0])
    degree = 2 * half
    index, twist = _twist(degree, generator)
    full = np.zeros(degree, dtype=complex)
    full[index] = slots
    full[degree - 1 - index] = np.conj(slots)
    return (np.fft.fft(full) / degree / twist).real


def negacyclic_eval(coeffs: np.ndarray) -> np.ndarray:
    """Values of a polynomial at all ``N`` roots of ``X^N + 1`` (for exact-ring division)."""
    degree = int(coeffs.shape[0])
    _, twist = _twist(degree, SEAL_GENERATOR)
    return degree * np.fft.ifft(np.asarray(coeffs, dtype=np.float64) * twist)


def negacyclic_from_eval(values: np.ndarray) -> np.ndarray:
    degree = int(values.shape[0])
    _, twist = _twist(degree, SEAL_GENERATOR)
    return (np.fft.fft(values) / degree / twist).real


def low_words(values: np.ndarray) -> np.ndarray:
    """``v mod 2^64`` of integers (object array) as uint64."""
    return (np.asarray(values, dtype=object) & ((1 << 64) - 1)).astype(np.uint64)


def centred_low_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """``v mod 2^bits`` lifted to ``[-2^(bits-1), 2^(bits-1))`` as int64 (``bits <= 62``);
    ``values``: integers (object array) or their :func:`low_words`."""
    words = values if values.dtype == np.uint64 else low_words(values)
    low = (words & np.uint64((1 << bits) - 1)).astype(np.int64)
    return np.where(low >= 1 << (bits - 1), low - (1 << bits), low)


class ExactKey:
    """The bank's secret key at the SEAL level: exact integer decryption, chosen ciphertexts."""

    def __init__(self, ctx: CkksContext) -> None:
        if not ctx.has_secret_key:
            raise ValueError("the bank's context must hold the secret key")
        self.ctx = ctx
        self.seal_context = ctx.native.seal_context().data
        data = self.seal_context.first_context_data()
        self.top = self.seal_context.first_parms_id()
        self.degree = int(data.parms().poly_modulus_degree())
        self.primes = [int(m.value()) for m in data.parms().coeff_modulus()]
        self.modulus = 1
        for p in self.primes:
            self.modulus *= p
        secret = ctx.native.secret_key().data
        self.encoder = seal.CKKSEncoder(self.seal_context)
        self.encryptor = seal.Encryptor(self.seal_context, secret)
        self.decryptor = seal.Decryptor(self.seal_context, secret)
        self.evaluator = seal.Evaluator(self.seal_context)
        # a fixed ciphertext and its coefficient form: adding an NTT plaintext to it and
        # transforming back isolates the plaintext's coefficients (SEAL's own inverse NTT)
        self._template = seal.Ciphertext()
        self.encryptor.encrypt_zero_symmetric(self.top, self._template)
        coeff = seal.Ciphertext()
        self.evaluator.transform_from_ntt(self._template, coeff)
        self._template_c0 = self._rns_c0(coeff)

    # -- coefficient access --------------------------------------------------------------------
    def _rns_c0(self, ct_coeff_form: Any) -> np.ndarray:
        n, L = self.degree, len(self.primes)
        words = raw_words(ct_coeff_form, ct_coeff_form.size() * L * n)
        return words[: L * n].reshape(L, n)

    def plaintext_coefficients(self, pt: Any) -> np.ndarray:
        """Exact coefficients of an NTT-form plaintext at the top level, centred mod ``Q``."""
        tmp = seal.Ciphertext()
        self.evaluator.add_plain(self._template, pt, tmp)
        self.evaluator.transform_from_ntt_inplace(tmp)
        rns = self._rns_c0(tmp)
        out = []
        for i, p in enumerate(self.primes):
            a = rns[i].astype(object) - self._template_c0[i].astype(object)
            out.append(a % p)
        # CRT over the primes, then the centred lift
        value = out[0]
        mod = self.primes[0]
        for i in range(1, len(self.primes)):
            p = self.primes[i]
            inv = pow(mod, -1, p)
            value = value + mod * (((out[i] - value) * inv) % p)
            mod *= p
        half = self.modulus // 2
        return np.where(value > half, value - self.modulus, value)

    def decrypt(self, blob: bytes) -> np.ndarray:
        """Exact decryption of a top-level ciphertext blob (object ints, centred mod ``Q``)."""
        ct = load_ciphertext(self.seal_context, blob)
        pt = seal.Plaintext()
        self.decryptor.decrypt(ct, pt)
        return self.plaintext_coefficients(pt)

    # -- chosen ciphertexts ----------------------------------------------------------------------
    def encode(self, coeffs: np.ndarray) -> Any:
        """An NTT plaintext with exactly these integer coefficients (|c| < 2^50)."""
        c = np.asarray(coeffs, dtype=np.float64)
        pt = seal.Plaintext()
        self.encoder.encode(embed(c).tolist(), self.top, 1.0, pt)
        return pt

    def encrypt(self, coeffs: np.ndarray, *, noiseless: bool = False) -> bytes:
        """Symmetric encryption of an integer polynomial; ``noiseless`` removes the noise."""
        want = np.asarray(np.round(coeffs), dtype=np.int64)
        ct = seal.Ciphertext()
        self.encryptor.encrypt_symmetric(self.encode(want.astype(np.float64)), ct)
        if noiseless:
            noise = self.noise(ct, want)
            self.evaluator.sub_plain_inplace(ct, self.encode(noise.astype(np.float64)))
            if np.any(self.noise(ct, want) != 0):
                raise RuntimeError("could not build a noiseless ciphertext")
        return save(ct)

    def noise(self, ct: Any, coeffs: np.ndarray) -> np.ndarray:
        """Decryption minus the intended coefficients (int64): the key holder sees it exactly."""
        pt = seal.Plaintext()
        self.decryptor.decrypt(ct, pt)
        got = self.plaintext_coefficients(pt)
        return (got - np.asarray(coeffs, dtype=np.int64).astype(object)).astype(np.int64)


def ciphertext_from_rns(
    seal_context: Any, template: Any, components: list[np.ndarray], *, ntt: bool = False
) -> Any:
    """A ciphertext with the given RNS data (``components[i]``: ``L x N`` words mod each prime),
    built from ``template``'s serialisation (same level and scale), in coefficient form unless
    ``ntt``. This is how an evaluator adds a polynomial it chose (a mask) to a result: as the
    trivial ciphertext ``(mask, 0)`` plus a fresh encryption of zero."""
    blob = save(template)
    magic, hsize, major, minor, compr, reserved, _ = struct.unpack("<HBBBBHQ", blob[:16])
    body = blob[16:]
    if compr == 2:
        body = zstandard.ZstdDecompressor().decompress(body, max_output_size=1 << 30)
    if len(components) != template.size():
        raise ValueError("give one RNS array per component of the template")
    words = np.concatenate([np.asarray(c, dtype="<u8").reshape(-1) for c in components])
    head = bytearray(body[: len(body) - 8 * words.size])
    head[32] = 1 if ntt else 0  # is_ntt_form follows the 32-byte parms_id
    new_body = bytes(head) + words.tobytes()
    header = struct.pack("<HBBBBHQ", magic, hsize, major, minor, 0, reserved, 16 + len(new_body))
    return load_ciphertext(seal_context, header + new_body)
