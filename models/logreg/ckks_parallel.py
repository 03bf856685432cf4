"""The platform's CKKS hot loop (flooded, rerandomised ``X^T enc(d)``) off the request path.

TenSEAL holds the GIL, so threads do not help. The work goes to one helper process (a fresh
interpreter started with ``subprocess``, safe next to gRPC threads) that keeps the public CKKS
context, the platform's feature matrix (sent once per matrix, then named by its SHA-256) and
its encoded column plaintexts. After each reply the helper encrypts the floods for the next
call (:meth:`InnerProductEvaluator.prepare`): they do not depend on the data, so that work
overlaps the bank's decryption and its next encryption instead of the platform's response.
Messages are a JSON header plus length-prefixed byte frames: nothing is pickled. The helper is
the platform's own process and sees only what the platform holds (public context, its own
features, ciphertexts, its floods). Small inputs, one worker (``FEDCREDIT_CRYPTO_WORKERS=1``)
or a failed helper fall back to the same computation in the calling process.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import numpy as np

from models.crypto.ckks import CkksContext
from models.crypto.ckks_inner import (
    DEFAULT_FLOOD_SIGMA,
    InnerProductEvaluator,
    matrix_digest,
)
from models.crypto.parallel import resolve_workers
from models.crypto.wire import CipherArray
from models.errors import CryptoError, InternalError

#: Use the helper from this many plaintext products (chunks x column pairs).
MIN_PRODUCTS = 4


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


_EVALUATORS: dict[str, InnerProductEvaluator] = {}
_EVALUATORS_LOCK = threading.Lock()


def evaluator_for(ctx: CkksContext) -> InnerProductEvaluator:
    """This process's evaluator for a public context (one kept; a new key replaces it)."""
    with _EVALUATORS_LOCK:
        ev = _EVALUATORS.get(ctx.fingerprint)
        if ev is None:
            _EVALUATORS.clear()
            ev = InnerProductEvaluator(ctx)
            _EVALUATORS[ctx.fingerprint] = ev
        return ev


def serve() -> None:
    """Helper main loop (requests on stdin, replies on stdout)."""
    reader = os.fdopen(os.dup(0), "rb")
    writer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    chan = _Channel(reader, writer)
    ev: InnerProductEvaluator | None = None
    matrix: tuple[bytes, np.ndarray] | None = None
    while True:
        try:
            header, frames = chan.recv()
        except (EOFError, OSError):
            return
        if header.get("op") == "exit":
            return
        try:
            if header["op"] == "context":
                ev = InnerProductEvaluator(CkksContext.from_bytes(frames[0]))
                matrix = None
                chan.send({"ok": True}, [])
                continue
            if ev is None or header["fingerprint"] != ev.ctx.fingerprint:
                raise CryptoError("no context for this key")
            digest = bytes.fromhex(header["digest"])
            if frames[0]:
                n, f = int(header["n"]), int(header["f"])
                matrix = (digest, np.frombuffer(frames[0], dtype="<f8").reshape(n, f))
            if matrix is None or matrix[0] != digest:
                chan.send({"ok": False, "error": "matrix"}, [])
                continue
            sigma = float(header["sigma"])
            blobs, totals = ev.masked_xt_d(matrix[1], frames[1:], sigma=sigma, key=digest)
        except Exception as exc:  # reported to the caller, which falls back to serial
            chan.send({"ok": False, "error": type(exc).__name__}, [])
            continue
        chan.send({"ok": True}, [totals.astype("<f8").tobytes(), *blobs])
        with contextlib.suppress(Exception):  # exactly one reply per request, even if this fails
            ev.prepare(len(blobs), sigma)  # the next call's floods, while the bank works


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
        self.digest = b""
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


def _close_helper() -> None:
    global _HELPER
    with _HELPER_LOCK:
        if _HELPER is not None:
            _HELPER.close()
            _HELPER = None


atexit.register(_close_helper)


def masked_xt_d(
    ctx: CkksContext,
    X: np.ndarray,
    enc_residual: CipherArray,
    *,
    sigma: float = DEFAULT_FLOOD_SIGMA,
    workers: int | None = None,
    key: bytes | None = None,
) -> tuple[CipherArray, np.ndarray]:
    """``X^T d`` as flooded, rerandomised ciphertexts (two columns each) plus the flood values
    the caller keeps to unmask (see :mod:`models.crypto.ckks_inner`). ``key`` names ``X`` for
    the plaintext caches (default: its SHA-256); a different ``X`` needs a different key."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    enc_residual.check("ckks", ctx.fingerprint)
    if enc_residual.width != 0:
        raise CryptoError("CKKS ciphertexts are variable-width")
    blobs = enc_residual.split()
    f = X.shape[1] if X.ndim == 2 else 0
    products = len(blobs) * -(-f // 2)
    n_workers = resolve_workers(workers, products * 4000)
    if n_workers >= 2 and products >= MIN_PRODUCTS:
        try:
            return _on_helper(ctx, X, blobs, sigma, key or matrix_digest(X))
        except (EOFError, OSError, InternalError):
            _close_helper()
        except _HelperDeclined:
            pass
    ev = evaluator_for(ctx)
    with _EVALUATORS_LOCK:
        out, totals = ev.masked_xt_d(X, blobs, sigma=sigma, key=key)
    return CipherArray.of_blobs("ckks", ctx.fingerprint, out), totals


class _HelperDeclined(Exception):
    """The helper could not do this call; the caller computes it itself."""


def _on_helper(
    ctx: CkksContext, X: np.ndarray, blobs: list[bytes], sigma: float, digest: bytes
) -> tuple[CipherArray, np.ndarray]:
    helper = _helper()
    n, f = X.shape
    with helper.lock:
        if helper.context != ctx.fingerprint:
            helper.chan.send({"op": "context"}, [ctx.public_bytes()])
            if not helper.chan.recv()[0].get("ok"):
                raise InternalError("the CKKS helper refused the context")
            helper.context, helper.digest = ctx.fingerprint, b""
        for attempt in range(2):
            fresh = helper.digest != digest or attempt == 1
            header = {
                "op": "xtd",
                "fingerprint": ctx.fingerprint,
                "digest": digest.hex(),
                "n": n,
                "f": f,
                "sigma": sigma,
            }
            helper.chan.send(header, [X.astype("<f8").tobytes() if fresh else b"", *blobs])
            reply, frames = helper.chan.recv()
            if reply.get("ok"):
                helper.digest = digest
                totals = np.frombuffer(frames[0], dtype="<f8").copy()
                return CipherArray.of_blobs("ckks", ctx.fingerprint, frames[1:]), totals
            if reply.get("error") != "matrix":
                raise _HelperDeclined()
    raise _HelperDeclined()
