"""Helper processes for the hot loops, talking raw bytes (no pickle).

The calling process always does a share of the work itself; ``workers - 1`` helper processes
(fresh interpreters started with ``subprocess``, safe next to gRPC threads and independent of the
caller's ``__main__``) do the rest. Requests and replies are a JSON header followed by raw,
length-prefixed byte frames on the helper's stdin/stdout: integers travel as fixed-width
big-endian blocks and arrays as raw numpy buffers, so nothing is ever pickled.

Helpers keep state between calls: ciphertext vectors loaded once (``load``) and reused by many
histogram or dot-product calls, and the key holder's encryption tables (``enc_setup``). Helpers
run on the same machine and belong to the same party as their caller, so the key holder may hand
its own secret primes to its own helpers.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from gmpy2 import mpz

from models.errors import InternalError

#: Inputs below this many elementary operations stay in the calling process.
PARALLEL_MIN_OPS = 20_000
#: Ciphertext vectors a helper keeps loaded (least recently used is dropped first).
HELPER_CACHE_VECTORS = 4

Frames = list[bytes]
Handler = Callable[[dict[str, Any], Frames], tuple[dict[str, Any], Frames]]


# ---------------------------------------------------------------------------- encoding helpers
def ints_to_bytes(values: Sequence[int], width: int) -> bytes:
    """Fixed-width big-endian concatenation."""
    return b"".join(
        int(v).to_bytes(width, "big") if not isinstance(v, mpz) else v.to_bytes(width, "big")
        for v in values
    )


def bytes_to_mpz(data: bytes, width: int) -> list[mpz]:
    """Inverse of :func:`ints_to_bytes`."""
    frm = mpz.from_bytes
    return [frm(data[i : i + width], "big") for i in range(0, len(data), width)]


def array_to_frame(arr: np.ndarray) -> tuple[dict[str, Any], bytes]:
    """A numpy array as (description, raw bytes)."""
    a = np.ascontiguousarray(arr)
    return {"dtype": a.dtype.str, "shape": list(a.shape)}, a.tobytes()


def frame_to_array(desc: dict[str, Any], data: bytes) -> np.ndarray:
    """Inverse of :func:`array_to_frame` (a writable copy)."""
    return np.frombuffer(data, dtype=np.dtype(desc["dtype"])).reshape(desc["shape"]).copy()


def resolve_workers(workers: int | None, ops: int) -> int:
    """Number of processes to use: ``workers`` if given, else 2 for large inputs.

    The automatic choice never exceeds the CPU count nor ``FEDCREDIT_CRYPTO_WORKERS`` when that
    environment variable is set (``1`` keeps every operation in the calling process).
    """
    if workers is not None:
        return max(1, int(workers))
    if ops < PARALLEL_MIN_OPS:
        return 1
    cap = min(2, os.cpu_count() or 1)
    env = os.environ.get("FEDCREDIT_CRYPTO_WORKERS", "").strip()
    if env.isdigit():
        cap = min(cap, max(1, int(env)))
    return cap


# ---------------------------------------------------------------------------- helper side
_HANDLERS: dict[str, Handler] = {}
_STATE: dict[str, Any] = {"vectors": OrderedDict()}


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register a helper operation (runs inside the helper process)."""

    def deco(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn

    return deco


def helper_state() -> dict[str, Any]:
    """Per-process state dictionary for handlers."""
    return _STATE


@handler("ping")
def _ping(header: dict[str, Any], frames: Frames) -> tuple[dict[str, Any], Frames]:
    return {"pid": os.getpid()}, []


@handler("load")
def _load(header: dict[str, Any], frames: Frames) -> tuple[dict[str, Any], Frames]:
    vectors: OrderedDict[str, Any] = _STATE["vectors"]
    vectors[header["token"]] = (mpz(header["n2"]), bytes_to_mpz(frames[0], header["width"]))
    vectors.move_to_end(header["token"])
    while len(vectors) > HELPER_CACHE_VECTORS:
        vectors.popitem(last=False)
    return {}, []


def loaded_vector(token: str) -> tuple[mpz, list[mpz]] | None:
    """A vector previously sent with ``load`` (``None`` if unknown)."""
    vectors: OrderedDict[str, Any] = _STATE["vectors"]
    got = vectors.get(token)
    if got is not None:
        vectors.move_to_end(token)
    return got


class _Channel:
    """Length-prefixed byte frames over a pair of binary streams."""

    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self._r = reader
        self._w = writer

    def send_bytes(self, data: bytes) -> None:
        self._w.write(len(data).to_bytes(8, "big"))
        self._w.write(data)

    def flush(self) -> None:
        self._w.flush()

    def recv_bytes(self) -> bytes:
        head = self._r.read(8)
        if len(head) != 8:
            raise EOFError("channel closed")
        size = int.from_bytes(head, "big")
        data = self._r.read(size)
        if len(data) != size:
            raise EOFError("channel closed")
        return data


def serve() -> None:
    """Helper process main loop: requests on stdin, replies on stdout (prints go to stderr)."""
    reader = os.fdopen(os.dup(0), "rb")
    writer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray output must not corrupt the channel
    chan = _Channel(reader, writer)
    while True:
        try:
            header = json.loads(chan.recv_bytes())
            frames = [chan.recv_bytes() for _ in range(int(header.get("frames", 0)))]
        except (EOFError, OSError):
            return
        if header.get("op") == "exit":
            return
        try:
            fn = _HANDLERS[header["op"]]
            reply, out = fn(header, frames)
            reply = {"ok": True, **reply}
        except Exception as exc:  # reported to the caller, who raises
            reply, out = {"ok": False, "error": type(exc).__name__}, []
        reply["frames"] = len(out)
        chan.send_bytes(json.dumps(reply).encode())
        for frame in out:
            chan.send_bytes(frame)
        chan.flush()


# ---------------------------------------------------------------------------- caller side
class Helper:
    """One helper process (``python -c 'serve()'``: a fresh interpreter, nothing inherited but
    the environment) and its pipes. Use :meth:`submit` then :meth:`result`."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from models.crypto.helper_main import main; main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=root,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._chan = _Channel(self._proc.stdout, self._proc.stdin)
        self.loaded: OrderedDict[str, None] = OrderedDict()
        self.setups: set[str] = set()
        self.lock = threading.Lock()

    def submit(self, op: str, header: dict[str, Any], frames: Frames | None = None) -> None:
        frames = frames or []
        msg = {"op": op, **header, "frames": len(frames)}
        try:
            self._chan.send_bytes(json.dumps(msg).encode())
            for frame in frames:
                self._chan.send_bytes(frame)
            self._chan.flush()
        except OSError as exc:
            raise InternalError("a helper process stopped") from exc

    def result(self) -> tuple[dict[str, Any], Frames]:
        try:
            reply = json.loads(self._chan.recv_bytes())
            frames = [self._chan.recv_bytes() for _ in range(int(reply.get("frames", 0)))]
        except (EOFError, OSError) as exc:
            raise InternalError("a helper process stopped") from exc
        if not reply.get("ok"):
            raise InternalError(f"helper operation failed: {reply.get('error')}")
        return reply, frames

    def call(
        self, op: str, header: dict[str, Any], frames: Frames | None = None
    ) -> tuple[dict[str, Any], Frames]:
        self.submit(op, header, frames)
        return self.result()

    def ensure_loaded(self, token: str, n2: int, width: int, values: list[mpz]) -> None:
        """Send a ciphertext vector once; later calls refer to it by token."""
        if token in self.loaded:
            self.loaded.move_to_end(token)
            return
        self.call(
            "load", {"token": token, "n2": int(n2), "width": width}, [ints_to_bytes(values, width)]
        )
        self.loaded[token] = None
        while len(self.loaded) > HELPER_CACHE_VECTORS:
            self.loaded.popitem(last=False)

    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.submit("exit", {})
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.terminate()
            self._proc.wait(timeout=2)
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


_POOL: list[Helper] = []
_POOL_LOCK = threading.Lock()


def helpers(count: int) -> list[Helper]:
    """``count`` live helper processes (started on first use, reused afterwards)."""
    with _POOL_LOCK:
        _POOL[:] = [h for h in _POOL if h.alive()]
        while len(_POOL) < count:
            _POOL.append(Helper())
        return _POOL[:count]


@contextlib.contextmanager
def reserved_helpers(count: int) -> Iterator[list[Helper]]:
    """``count`` live helpers, each locked for the caller until the block ends.

    Use for a request/reply exchange with several helpers at once: submit to each, then
    collect each result, inside the block.
    """
    team = helpers(count)
    for h in team:
        h.lock.acquire()
    try:
        yield team
    finally:
        for h in team:
            h.lock.release()


def warm_up(workers: int = 2) -> None:
    """Start the helpers for ``workers``-way parallelism now (e.g. at server start) so the first
    large operation does not pay the interpreter start-up (~0.3 s)."""
    for h in helpers(max(0, workers - 1)):
        with h.lock:
            h.call("ping", {})


def shutdown() -> None:
    """Stop all helper processes."""
    with _POOL_LOCK:
        for h in _POOL:
            h.close()
        _POOL.clear()


atexit.register(shutdown)
