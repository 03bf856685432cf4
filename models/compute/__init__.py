"""Compute backends: where a party runs its hot loops (``docs/deployment.md``).

The call sites (the bank's batch encryption and decryption in ``models/secureboost``, the
platform's encrypted histograms, PSI blinding) ask :func:`backend` for the party's backend:

* ``local`` (default): this process, its helper processes and C threads, as before;
* ``ray``: the party's own Ray cluster (:class:`~models.compute.ray_backend.RayBackend`,
  ``pip install 'fedcredit[ray]'``).

A node selects its backend once at start-up from its config (``compute``, ``ray_address``,
``ray_workers``) with :func:`configure`; tests and benchmarks switch temporarily with
:func:`use`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from models.compute.base import ComputeBackend, GroupOps
from models.errors import InvalidArgument

#: The backends a config may name.
BACKENDS = ("local", "ray")

_LOCK = threading.Lock()
_CURRENT: list[ComputeBackend] = []


def _local() -> ComputeBackend:
    from models.compute.local import LocalBackend

    return LocalBackend()


def backend() -> ComputeBackend:
    """The process's current backend (``local`` unless :func:`configure` chose another)."""
    if not _CURRENT:
        with _LOCK:
            if not _CURRENT:
                _CURRENT.append(_local())
    return _CURRENT[-1]


def create(kind: str, *, address: str | None = None, workers: int | None = None) -> ComputeBackend:
    """A new backend of ``kind`` (``"local"`` or ``"ray"``)."""
    if kind == "local":
        return _local()
    if kind == "ray":
        from models.compute.ray_backend import RayBackend

        return RayBackend(address, workers=workers or None)
    raise InvalidArgument("compute must be 'local' or 'ray'")


def configure(
    kind: str = "local", *, address: str | None = None, workers: int | None = None
) -> ComputeBackend:
    """Make a new backend of ``kind`` the process's backend (closing the previous one)."""
    new = create(kind, address=address, workers=workers)
    with _LOCK:
        old = list(_CURRENT)
        _CURRENT[:] = [new]
    for b in old:
        b.close()
    return new


@contextlib.contextmanager
def use(chosen: ComputeBackend) -> Iterator[ComputeBackend]:
    """Run the block with ``chosen`` as the process's backend (tests, benchmarks)."""
    backend()
    with _LOCK:
        _CURRENT.append(chosen)
    try:
        yield chosen
    finally:
        with _LOCK:
            _CURRENT.remove(chosen)


__all__ = [
    "BACKENDS",
    "ComputeBackend",
    "GroupOps",
    "backend",
    "configure",
    "create",
    "use",
]
