"""The platform's long-lived OPRF key and its blinded-population caches (unbalanced PSI).

Layout under ``root`` (the node uses ``<platform data dir>/psi_cache``; directories 0700,
files 0600, every file written to a temporary name and renamed, nothing pickled)::

    current.json                      {"key_id": ...}: the key in use
    keys/<key_id>.key                 the 32-byte secret scalar k
    keys/<key_id>.json                {"key_id", "created_at"}
    sets/<key_id>/<population>/       one cache per (key, population version)
        meta.json                     CacheMeta (sizes, tag layout, SHA-256 of public.bin)
        public.bin                    served to banks: truncated tags (models.psi.tagset)
        private_prefix.npy            sorted first 8 bytes of F(y) = H(y)^k (uint64)
        private_values.npy            F(y) in the same order (S32)
        private_ids.npy               the ids y in the same order (UTF-8 bytes, S dtype)

Key ids are ``<UTC creation time>-<8 random hex digits>``. **Rotation**: a key older than
``rotation_days`` (default 30) is replaced by a fresh one the next time :meth:`current_key`
runs (a session's plan step, or ``python -m platform_node.psi_cache build``); the old key's
scalar and all its caches are erased at once, so any bank cache of the old key is stale
(the plan step tells the bank to download the new one) and OPRF values a bank collected
under the old key can no longer be tested against any later population. :meth:`rotate`
rotates on demand (e.g. after a suspected leak of a bank cache and its OPRF values).

The population version (:func:`population_version`) is a digest of the platform's raw ids
and the id format, so a changed population gets a new cache under the same key.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from models import compute
from models.compute.base import GroupOps
from models.errors import DataLoss, FailedPrecondition, InvalidArgument, NotFound
from models.psi.group import POINT_BYTES, SCALAR_BYTES, random_scalar
from models.psi.tagset import TagSet, false_positive_rate, tags64

CACHE_FORMAT = "fedcredit-upsi-cache/1"
DEFAULT_ROTATION_DAYS = 30.0
POPULATION_DOMAIN = "fedcredit/upsi/population/v1"

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(root: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(root.resolve()), threading.Lock())


def population_version(raw_ids: Sequence[str] | np.ndarray, id_format: str) -> str:
    """Digest (32 hex) of the platform's raw ids (in table order) and the id format.

    A ``str`` array is hashed as its UCS-4 buffer (with its dtype; ~0.5 s for 10 million ids),
    anything else as the UTF-8 of its ids joined by 0x1f. Either way, a changed id, order or
    id format changes the version.
    """
    h = hashlib.sha256(f"{POPULATION_DOMAIN}\x1e{id_format}\x1e".encode())
    if isinstance(raw_ids, np.ndarray) and raw_ids.dtype.kind == "U":
        h.update(f"{raw_ids.dtype.str}{raw_ids.shape}\x1e".encode())
        h.update(np.ascontiguousarray(raw_ids).view(np.uint8).data)
    else:
        values = raw_ids.tolist() if isinstance(raw_ids, np.ndarray) else list(raw_ids)
        h.update("\x1f".join(str(v) for v in values).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class OprfKey:
    """The platform's OPRF key: ``scalar`` never leaves the platform's process."""

    key_id: str
    scalar: bytes
    created_at: float


@dataclass(frozen=True)
class CacheMeta:
    """What describes one cache (``meta.json``); everything but the paths is public."""

    format: str
    key_id: str
    population_version: str
    n: int
    bucket_bits: int
    count_bytes: int
    cache_bytes: int
    sha256: str
    false_positive_rate: float
    created_at: float
    build_seconds: float
    build_phases: dict[str, float] = field(default_factory=dict)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _save_npy(path: Path, arr: np.ndarray) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        np.save(f, arr, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _erase(path: Path) -> None:
    """Overwrite a secret file with zeros before unlinking it (best effort on modern disks)."""
    if path.exists():
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.write(b"\x00" * size)
            f.flush()
            os.fsync(f.fileno())
        path.unlink()


class PlatformPsiCache:
    """Key store and cache builder of the platform (see the module docstring).

    Parameters
    ----------
    root:
        The cache directory (``<platform data dir>/psi_cache``).
    rotation_days:
        Age at which :meth:`current_key` replaces the key.
    clock:
        Wall clock (seconds since the epoch), for tests of rotation.
    """

    def __init__(
        self,
        root: Path,
        *,
        rotation_days: float = DEFAULT_ROTATION_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not rotation_days > 0:
            raise InvalidArgument("the PSI key rotation period must be positive")
        self.root = Path(root)
        self.rotation_days = float(rotation_days)
        self.clock = clock
        self._lock = _lock_for(_private_dir(self.root))

    # -- keys --------------------------------------------------------------------------------
    def current_key(self) -> OprfKey:
        """The key in use; a new one if there is none or the current one is due for rotation."""
        with self._lock:
            key = self._read_current()
            if key is None or self.clock() - key.created_at > self.rotation_days * 86400.0:
                key = self._rotate_locked()
            return key

    def rotate(self) -> OprfKey:
        """Replace the key now; erase the old key and every cache built under it."""
        with self._lock:
            return self._rotate_locked()

    def key(self, key_id: str) -> OprfKey:
        """The key ``key_id`` if it is the current one.

        Raises
        ------
        FailedPrecondition
            If ``key_id`` is not the current key (rotated away): the bank must refresh.
        """
        with self._lock:
            key = self._read_current()
        if key is None or key.key_id != key_id:
            raise FailedPrecondition(
                "the PSI cache key was rotated: the bank's cache is stale; "
                "download the current cache and run again"
            )
        return key

    def _read_current(self) -> OprfKey | None:
        current = self.root / "current.json"
        if not current.exists():
            return None
        try:
            key_id = str(json.loads(current.read_text())["key_id"])
            meta = json.loads((self.root / "keys" / f"{key_id}.json").read_text())
            scalar = (self.root / "keys" / f"{key_id}.key").read_bytes()
        except (OSError, ValueError, KeyError):
            raise DataLoss("the platform's PSI key store cannot be read") from None
        if len(scalar) != SCALAR_BYTES:
            raise DataLoss("the platform's PSI key has the wrong size")
        return OprfKey(key_id, scalar, float(meta["created_at"]))

    def _rotate_locked(self) -> OprfKey:
        old = self._read_current()
        now = self.clock()
        key_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + secrets.token_hex(4)
        keys = _private_dir(self.root / "keys")
        scalar = random_scalar()
        _write_private(keys / f"{key_id}.key", scalar)
        _write_private(
            keys / f"{key_id}.json", json.dumps({"key_id": key_id, "created_at": now}).encode()
        )
        _write_private(self.root / "current.json", json.dumps({"key_id": key_id}).encode())
        if old is not None:
            _erase(keys / f"{old.key_id}.key")
            (keys / f"{old.key_id}.json").unlink(missing_ok=True)
            (keys / f"{old.key_id}.usage.json").unlink(missing_ok=True)
            shutil.rmtree(self.root / "sets" / old.key_id, ignore_errors=True)
        return OprfKey(key_id, scalar, now)

    # -- evaluation budget -------------------------------------------------------------------
    def charge_evaluations(self, key_id: str, party: str, n: int, budget: int) -> int:
        """Add ``n`` OPRF evaluations for ``party`` under ``key_id``; returns the new total.

        Every id a bank has evaluated under a key stays testable against every cache of that
        key (``docs/psi.md``), so the platform counts evaluations per bank and key
        (``keys/<key_id>.usage.json``) and, with ``budget > 0``, refuses a run that would
        exceed it. The count goes with the key at rotation.

        Raises
        ------
        FailedPrecondition
            If the bank's evaluations under this key would exceed ``budget``.
        """
        with self._lock:
            current = self._read_current()
            if current is None or current.key_id != key_id:
                raise FailedPrecondition("the PSI cache key was rotated; run again")
            path = self.root / "keys" / f"{key_id}.usage.json"
            try:
                usage = json.loads(path.read_text()) if path.exists() else {}
            except (OSError, ValueError):
                raise DataLoss("the PSI evaluation counts cannot be read") from None
            total = int(usage.get(party, 0)) + int(n)
            if budget > 0 and total > budget:
                raise FailedPrecondition(
                    "this bank's OPRF evaluation budget under the current PSI key is spent; "
                    "run balanced PSI, or wait for the next key rotation"
                )
            usage[party] = total
            _write_private(path, json.dumps(usage, sort_keys=True).encode())
            return total

    # -- caches ------------------------------------------------------------------------------
    def _set_dir(self, key_id: str, population: str) -> Path:
        if not key_id.replace("-", "").isalnum() or not population.isalnum():
            raise InvalidArgument("malformed PSI cache version")
        return self.root / "sets" / key_id / population

    def find(self, key_id: str, population: str) -> CacheMeta | None:
        """The cache of ``(key_id, population)``, if it has been built."""
        meta_path = self._set_dir(key_id, population) / "meta.json"
        if not meta_path.exists():
            return None
        try:
            meta = CacheMeta(**json.loads(meta_path.read_text()))
        except (OSError, ValueError, TypeError):
            raise DataLoss("the PSI cache metadata cannot be read") from None
        if meta.format != CACHE_FORMAT:
            return None
        return meta

    def build(
        self,
        key: OprfKey,
        population: str,
        ids: np.ndarray,
        *,
        workers: int | None = None,
        engine: GroupOps | None = None,
        values: bytes | None = None,
    ) -> CacheMeta:
        """Blind every prepared platform id under ``key`` and write the cache (the offline
        phase; about one hash-and-multiply per id).

        The blinding runs on ``engine``, by default a group engine of the process's compute
        backend (:func:`models.compute.backend`: local threads, or the platform's own Ray
        cluster, which then holds one copy of the key in its object store).

        ``ids`` are the platform's distinct valid ids (:func:`models.psi.ids.prepare_ids`).
        ``values`` (benchmarks only) gives ``F(y)`` precomputed, in the order of ``ids``.
        ``CacheMeta.build_phases`` records the seconds of each phase (blind, tags, index,
        write).
        """
        t0 = time.perf_counter()
        phases: dict[str, float] = {}
        final = self._set_dir(key.key_id, population)
        existing = self.find(key.key_id, population)
        if existing is not None:
            return existing
        ids = np.asarray(ids).astype(str)
        if values is None:
            own_engine = engine is None
            eng = compute.backend().group_engine(workers) if engine is None else engine
            try:
                eng.hold_key(key.key_id, key.scalar)
                values = eng.hash_mult(key.scalar, ids.tolist())
            finally:
                if own_engine:
                    eng.close()
        elif len(values) != POINT_BYTES * ids.shape[0]:
            raise InvalidArgument("precomputed values do not match the ids")
        phases["blind"] = time.perf_counter() - t0
        t = time.perf_counter()
        n = int(ids.shape[0])
        tagset = TagSet.from_tags(tags64(values, key.key_id))
        blob, count_bytes = tagset.encode()
        phases["tags"] = time.perf_counter() - t
        t = time.perf_counter()
        prefixes = np.frombuffer(values, dtype=">u8")[::4].astype(np.uint64)
        order = np.argsort(prefixes, kind="stable")
        try:
            id_bytes = ids.astype("S") if n else np.zeros(0, dtype="S1")
        except UnicodeEncodeError:
            id_bytes = np.char.encode(ids, "utf-8")
        phases["index"] = time.perf_counter() - t
        t = time.perf_counter()
        _private_dir(self.root / "sets")
        _private_dir(final.parent)
        tmp = _private_dir(final.parent / f".build-{secrets.token_hex(4)}")
        try:
            _write_private(tmp / "public.bin", blob)
            _save_npy(tmp / "private_prefix.npy", prefixes[order])
            _save_npy(tmp / "private_values.npy", np.frombuffer(values, dtype="S32")[order])
            _save_npy(tmp / "private_ids.npy", id_bytes[order])
            meta = CacheMeta(
                format=CACHE_FORMAT,
                key_id=key.key_id,
                population_version=population,
                n=n,
                bucket_bits=tagset.bucket_bits,
                count_bytes=count_bytes,
                cache_bytes=len(blob),
                sha256=hashlib.sha256(blob).hexdigest(),
                false_positive_rate=false_positive_rate(n, tagset.bucket_bits),
                created_at=self.clock(),
                build_seconds=round(time.perf_counter() - t0, 3),
                build_phases={
                    **{k: round(v, 3) for k, v in phases.items()},
                    "write": round(time.perf_counter() - t, 3),
                },
            )
            _write_private(tmp / "meta.json", json.dumps(asdict(meta), sort_keys=True).encode())
            with self._lock:
                current = self._read_current()
                if current is None or current.key_id != key.key_id:
                    raise FailedPrecondition("the PSI key was rotated while the cache was built")
                if final.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        found = self.find(key.key_id, population)
        assert found is not None
        return found

    def read_public(self, meta: CacheMeta, offset: int, size: int) -> bytes:
        """``size`` bytes of the public blob from ``offset``."""
        path = self._set_dir(meta.key_id, meta.population_version) / "public.bin"
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                return f.read(size)
        except OSError:
            raise NotFound("the PSI cache is no longer available (rotated)") from None

    def lookup(self, meta: CacheMeta, values: bytes) -> np.ndarray:
        """The platform ids of OPRF values ``F(y)`` (a ``str`` array, same order).

        Raises
        ------
        FailedPrecondition
            If a value is not the OPRF value of any platform id (a forged value, or one of
            the rare tag false positives of the public cache).
        """
        if len(values) % POINT_BYTES:
            raise InvalidArgument("value blob length is not a multiple of 32")
        d = self._set_dir(meta.key_id, meta.population_version)
        try:
            prefix = np.load(d / "private_prefix.npy", mmap_mode="r", allow_pickle=False)
            stored = np.load(d / "private_values.npy", mmap_mode="r", allow_pickle=False)
            ids = np.load(d / "private_ids.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            raise NotFound("the PSI cache is no longer available (rotated)") from None
        n = len(values) // POINT_BYTES
        if n == 0:
            return np.zeros(0, dtype=str)
        q_prefix = np.frombuffer(values, dtype=">u8")[::4].astype(np.uint64)
        q_values = np.frombuffer(values, dtype="S32")
        left = np.searchsorted(prefix, q_prefix, side="left")
        right = np.searchsorted(prefix, q_prefix, side="right")
        rows = np.full(n, -1, dtype=np.int64)
        single = (right - left) == 1
        idx = np.nonzero(single)[0]
        ok = stored[left[idx]] == q_values[idx]
        rows[idx[ok]] = left[idx[ok]]
        for i in np.nonzero((right - left) > 1)[0]:  # equal 64-bit prefixes: ~n^2 / 2^65
            for j in range(int(left[i]), int(right[i])):
                if stored[j] == q_values[i]:
                    rows[i] = j
        if bool(np.any(rows < 0)):
            raise FailedPrecondition(
                "a value sent at finish is not in the platform's population "
                "(a forged value or a cache false positive); the run stops"
            )
        return np.char.decode(np.asarray(ids[rows]), "utf-8").astype(str)
