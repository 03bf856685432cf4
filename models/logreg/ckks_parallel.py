"""The platform's CKKS hot loop (masked ``X^T enc(d)``) on two cores.

TenSEAL holds the GIL, so threads do not help: the columns of ``X`` are split between this
process and one helper process (a fresh interpreter started with ``subprocess``, safe next to
gRPC threads). The helper gets the public CKKS context once, then per call the raw ciphertext
bytes of ``enc(d)`` (as received from the bank), its columns of ``X`` as a float64 buffer, a
mask seed and sigma; it returns its masked, serialised column sums and their mask totals.
Messages are a JSON header plus length-prefixed byte frames: nothing is pickled. The helper is
the platform's own process and sees only what the platform holds (public context, its own
features, ciphertexts). Small inputs, one worker (``FEDCREDIT_CRYPTO_WORKERS=1``) or a failed
helper fall back to the serial path, with identical results up to CKKS noise. Each process
computes its share with :mod:`models.logreg.ckks_columns` (SEAL low-level API, plaintext
columns encoded once per batch matrix), or with :meth:`CkksContext.xt_d` where the SEAL
bindings are missing.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import secrets
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import numpy as np

from models.crypto.ckks import DEFAULT_MASK_SIGMA, CkksContext, CkksSlotSums
from models.crypto.parallel import resolve_workers
from models.crypto.wire import CipherArray
from models.errors import CryptoError, InternalError, InvalidArgument
from models.logreg import ckks_columns

#: Parallelise only from this many plaintext products (chunks x columns).
MIN_PRODUCTS = 12


class _Channel:
    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self.r, self.w = reader, writer

    def send(self, header: dict[str, Any], frames: list[bytes]) -> None:
        for data in [json.dumps({**header, "frames": len(frames)}).encode(), *frames]:
            self.w.write(len(data).to_bytes(8, "big"))
            self.w.write(data)
        self.w.flush()

    def _recv_one(self) -> bytes:
        head = self.r.read(8)
        if len(head) != 8:
            raise EOFError("channel closed")
        size = int.from_bytes(head, "big")
        data = self.r.read(size)
        if len(data) != size:
            raise EOFError("channel closed")
        return data

    def recv(self) -> tuple[dict[str, Any], list[bytes]]:
        header = json.loads(self._recv_one())
        return header, [self._recv_one() for _ in range(int(header.get("frames", 0)))]


def _masked_part(
    ctx: CkksContext, X: np.ndarray, blobs: list[bytes], n: int, sigma: float, seed: int
) -> tuple[list[bytes], np.ndarray]:
    """Masked column sums of one share of the columns (SEAL fast path when available)."""
    rng = np.random.default_rng(seed)
    if ckks_columns.AVAILABLE:
        ev = ckks_columns.evaluator_for(ctx)
        with ev.lock:
            return ev.masked_xt_d(X, blobs, rng, sigma)
    array = CipherArray(
        scheme="ckks",
        key_fingerprint=ctx.fingerprint,
        count=len(blobs),
        width=0,
        data=b"".join(blobs),
        lengths=[len(b) for b in blobs],
    )
    enc_d = ctx.vector_from_wire(array, n)
    sums: CkksSlotSums = ctx.xt_d(X, enc_d)
    totals = sums.add_masks(rng, sigma)
    return [ct.serialize() for ct in sums.ciphertexts], totals


def serve() -> None:
    """Helper main loop (requests on stdin, replies on stdout)."""
    reader = os.fdopen(os.dup(0), "rb")
    writer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    chan = _Channel(reader, writer)
    contexts: dict[str, CkksContext] = {}
    while True:
        try:
            header, frames = chan.recv()
        except (EOFError, OSError):
            return
        if header.get("op") == "exit":
            return
        try:
            if header["op"] == "context":
                ctx = CkksContext.from_bytes(frames[0])
                contexts.clear()
                contexts[ctx.fingerprint] = ctx
                chan.send({"ok": True}, [])
                continue
            ctx = contexts[header["fingerprint"]]
            n, f = int(header["n"]), int(header["f"])
            X = np.frombuffer(frames[0], dtype="<f8").reshape(n, f)
            blobs, totals = _masked_part(
                ctx, X, frames[1:], n, float(header["sigma"]), int(header["seed"])
            )
            chan.send({"ok": True}, [totals.astype("<f8").tobytes(), *blobs])
        except Exception as exc:  # reported to the caller, which falls back to serial
            chan.send({"ok": False, "error": type(exc).__name__}, [])


class _Helper:
    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from models.logreg.ckks_parallel import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=root,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.chan = _Channel(self.proc.stdout, self.proc.stdin)
        self.context = ""
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.chan.send({"op": "exit"}, [])
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=2)


_HELPER: _Helper | None = None
_HELPER_LOCK = threading.Lock()


def _helper() -> _Helper:
    global _HELPER
    with _HELPER_LOCK:
        if _HELPER is None or not _HELPER.alive():
            _HELPER = _Helper()
        return _HELPER


@atexit.register
def _shutdown() -> None:
    if _HELPER is not None:
        _HELPER.close()


def masked_xt_d(
    ctx: CkksContext,
    X: np.ndarray,
    enc_residual: CipherArray,
    *,
    sigma: float = DEFAULT_MASK_SIGMA,
    workers: int | None = None,
) -> tuple[CipherArray, np.ndarray]:
    """``X^T d`` masked per slot (see :meth:`CkksSlotSums.add_masks`), as wire ciphertexts
    plus the mask totals the caller keeps."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, f = X.shape
    enc_residual.check("ckks", ctx.fingerprint)
    blobs = enc_residual.split()
    if n < 0 or len(blobs) != -(-n // ctx.slot_count) or enc_residual.width != 0:
        raise CryptoError("encrypted vector has the wrong number of chunks for its length")
    products = len(blobs) * f
    n_workers = resolve_workers(workers, products * 2000)
    if n_workers < 2 or products < MIN_PRODUCTS or f < 2:
        mine, totals = _masked_part(ctx, X, blobs, n, sigma, secrets.randbits(128))
        return _wire(ctx, mine), totals
    half = math.ceil(f / 2)
    helper = _helper()
    try:
        with helper.lock:
            if helper.context != ctx.fingerprint:
                helper.chan.send({"op": "context"}, [ctx.public_bytes()])
                if not helper.chan.recv()[0].get("ok"):
                    raise InternalError("the CKKS helper refused the context")
                helper.context = ctx.fingerprint
            theirs = np.ascontiguousarray(X[:, half:])
            helper.chan.send(
                {
                    "op": "xtd",
                    "fingerprint": ctx.fingerprint,
                    "n": n,
                    "f": f - half,
                    "sigma": sigma,
                    "seed": secrets.randbits(128),
                },
                [theirs.astype("<f8").tobytes(), *blobs],
            )
            failure: Exception | None = None
            try:
                mine, totals = _masked_part(
                    ctx, np.ascontiguousarray(X[:, :half]), blobs, n, sigma, secrets.randbits(128)
                )
            except (CryptoError, InvalidArgument) as exc:  # still collect the helper's reply
                failure = exc
            reply, frames = helper.chan.recv()
            if failure is not None:
                raise failure
    except (EOFError, OSError, InternalError):
        helper.close()
        return masked_xt_d(ctx, X, enc_residual, sigma=sigma, workers=1)
    if not reply.get("ok"):
        return masked_xt_d(ctx, X, enc_residual, sigma=sigma, workers=1)
    their_totals = np.frombuffer(frames[0], dtype="<f8")
    return _wire(ctx, mine + frames[1:]), np.concatenate([totals, their_totals])


def _wire(ctx: CkksContext, blobs: list[bytes]) -> CipherArray:
    return CipherArray(
        scheme="ckks",
        key_fingerprint=ctx.fingerprint,
        count=len(blobs),
        width=0,
        data=b"".join(blobs),
        lengths=[len(b) for b in blobs],
    )
