"""Sessions on the passive party: one per job, idle timeout, and a step cache for safe retries.

The platform node owns one :class:`SessionManager`. Transports (in-process or gRPC) call
:meth:`SessionManager.open`, :meth:`SessionManager.handle` and :meth:`SessionManager.close`
with the caller identity they authenticated.

Retries and replays: every step carries a step id. The answer to a step is cached per session;
a repeated step id gets the cached answer, and the handler does not run twice. The cache keeps
the last ``cache_steps`` answers of a session, which covers a transport retry and a replay after
a bank restart. Reusing a step id for a different request (a different digest) is refused for
*every* step the session ever answered, not only the cached ones: the digest of each answered
step is appended to ``<data_dir>/sessions/<job_id>.steps`` (a line ``<step id> <digest>``,
fsynced before the answer leaves) and reloaded when the session is resumed, after a platform
restart included. A request that is refused leaves no digest behind, so the valid request for
that step id still runs. An identical request whose answer has left the cache runs again (a
retry after a platform restart); passive parties validate every request completely before they
change state, so a refused or repeated request leaves the session as it was.

Restarts: the session spec is written to ``<data_dir>/sessions/<job_id>.json``; opening a
session again with the same job id and the same caller resumes it, and the passive party
reloads whatever it persisted under its state directory.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from models.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from models.federation.messages import WireMessage
from models.federation.party import (
    Caller,
    DataProvider,
    PassiveContext,
    PassiveParty,
    party_for,
)
from models.federation.session import SessionInfo, SessionSpec

_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_STEP_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,256}$")

SessionEvent = Callable[[str, Caller, SessionSpec], None]


def check_job_id(job_id: str) -> None:
    if not _JOB_ID.match(job_id or ""):
        raise InvalidArgument("job id must be 1-128 characters of letters, digits, '.', '_', '-'")


def check_step_id(step_id: str) -> None:
    if not _STEP_ID.match(step_id or ""):
        raise InvalidArgument("step id must be 1-256 characters of letters, digits, ._:/-")


@dataclass
class _Session:
    spec: SessionSpec
    caller: Caller
    party: PassiveParty
    last_active: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: OrderedDict[str, tuple[str, WireMessage]] = field(default_factory=OrderedDict)
    digests: dict[str, str] = field(default_factory=dict)


class SessionManager:
    """Per-job sessions of the passive party.

    Parameters
    ----------
    data_dir:
        Where session specs and per-job state directories live.
    data:
        The platform's data provider handed to each passive party.
    idle_timeout_s:
        A session unused for this long is dropped (its persisted state stays on disk).
    cache_steps:
        How many recent step answers a session keeps for retries.
    platform_party:
        The platform's party name, reported to the bank.
    on_event:
        Optional callback ``(event, caller, spec)`` for "open", "resume", "close", "expire"
        (the node wires it to its audit log).
    context_extras:
        Node settings handed to every passive party (e.g. ``share_feature_names``).
    """

    def __init__(
        self,
        data_dir: Path,
        data: DataProvider,
        *,
        idle_timeout_s: float = 900.0,
        cache_steps: int = 64,
        platform_party: str = "platform",
        on_event: SessionEvent | None = None,
        context_extras: dict[str, object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data = data
        self.idle_timeout_s = float(idle_timeout_s)
        self.cache_steps = int(cache_steps)
        self.platform_party = platform_party
        self.on_event = on_event
        self.context_extras = dict(context_extras or {})
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        (self.data_dir / "sessions").mkdir(parents=True, exist_ok=True)

    # -- lifecycle ---------------------------------------------------------------------------
    # A resumed session keeps the state its first settings produced; other settings under the
    # same job id would silently mix two jobs (issue 15 item 7), so they are refused.
    def open(self, caller: Caller, spec: SessionSpec) -> SessionInfo:
        """Open a session for ``spec.job_id``, or resume it if this caller opened it before."""
        check_job_id(spec.job_id)
        self.expire_idle()
        spec_path = self._spec_path(spec.job_id)
        resumed = False
        with self._lock:
            live = self._sessions.get(spec.job_id)
            if live is not None:
                self._check_owner(live.caller, caller)
                if live.spec.algorithm != spec.algorithm:
                    raise FailedPrecondition("job id is already used by another algorithm")
                _check_same_settings(live.spec.dataset, dict(live.spec.params), spec)
                live.last_active = self._clock()
                self._emit("resume", caller, spec)
                return self._info(live.spec, resumed=True)
            if spec_path.exists():
                stored = json.loads(spec_path.read_text())
                if stored["caller_party"] != caller.party:
                    raise PermissionDenied("job id belongs to another party")
                if stored["algorithm"] != spec.algorithm:
                    raise FailedPrecondition("job id is already used by another algorithm")
                _check_same_settings(stored.get("dataset", ""), stored.get("params", {}), spec)
                resumed = True
            party_cls = party_for(spec.algorithm)
            state_dir = self.data_dir / "jobs" / spec.job_id
            state_dir.mkdir(parents=True, exist_ok=True)
            context = PassiveContext(
                spec=spec,
                caller=caller,
                state_dir=state_dir,
                data=self.data,
                platform_party=self.platform_party,
                extras=dict(self.context_extras),
            )
            party = party_cls(context)
            session = _Session(spec, caller, party, self._clock())
            session.digests = _read_digests(self._steps_path(spec.job_id))
            self._sessions[spec.job_id] = session
            spec_path.write_text(
                json.dumps(
                    {
                        "job_id": spec.job_id,
                        "algorithm": spec.algorithm,
                        "dataset": spec.dataset,
                        "params": dict(spec.params),
                        "caller_party": caller.party,
                        "caller_role": caller.role,
                    },
                    sort_keys=True,
                )
            )
        self._emit("resume" if resumed else "open", caller, spec)
        return self._info(spec, resumed=resumed)

    def close(self, caller: Caller, job_id: str) -> bool:
        """Close a live session. Returns False if there was none (closing twice is harmless)."""
        check_job_id(job_id)
        with self._lock:
            live = self._sessions.get(job_id)
            if live is None:
                return False
            self._check_owner(live.caller, caller)
            del self._sessions[job_id]
        live.party.close()
        self._emit("close", caller, live.spec)
        return True

    def expire_idle(self) -> list[str]:
        """Drop sessions idle for longer than the timeout; returns their job ids."""
        now = self._clock()
        expired: list[_Session] = []
        with self._lock:
            for job_id, s in list(self._sessions.items()):
                if now - s.last_active > self.idle_timeout_s and not s.lock.locked():
                    expired.append(self._sessions.pop(job_id))
        for s in expired:
            s.party.close()
            self._emit("expire", s.caller, s.spec)
        return [s.spec.job_id for s in expired]

    def session_spec(self, job_id: str) -> SessionSpec:
        return self._get(job_id).spec

    def party(self, job_id: str) -> PassiveParty:
        """The live passive party of a job (for the node's own services, e.g. model export)."""
        return self._get(job_id).party

    # -- steps -------------------------------------------------------------------------------
    def handle(
        self,
        caller: Caller,
        job_id: str,
        step_id: str,
        request: WireMessage,
        request_digest: str = "",
    ) -> WireMessage:
        """Run one step, or return the cached answer if this step id was seen before."""
        check_job_id(job_id)
        check_step_id(step_id)
        self.expire_idle()
        session = self._get(job_id)
        self._check_owner(session.caller, caller)
        digest = (request_digest or f"{type(request).__name__}").replace(" ", "_")
        with session.lock:
            cached = session.cache.get(step_id)
            if cached is not None:
                if cached[0] != digest:
                    raise FailedPrecondition("step id was already used for a different request")
                session.cache.move_to_end(step_id)
                session.last_active = self._clock()
                return cached[1]
            known = session.digests.get(step_id)
            if known is not None and known != digest:
                raise FailedPrecondition("step id was already used for a different request")
            response = session.party.dispatch(request)
            if known is None:
                _append_digest(self._steps_path(job_id), step_id, digest)
                session.digests[step_id] = digest
            session.cache[step_id] = (digest, response)
            while len(session.cache) > self.cache_steps:
                session.cache.popitem(last=False)
            session.last_active = self._clock()
            return response

    # -- helpers -----------------------------------------------------------------------------
    def _get(self, job_id: str) -> _Session:
        with self._lock:
            s = self._sessions.get(job_id)
        if s is None:
            raise NotFound("no open session for this job (closed, expired or never opened)")
        return s

    @staticmethod
    def _check_owner(owner: Caller, caller: Caller) -> None:
        if owner.party != caller.party:
            raise PermissionDenied("the session belongs to another party")

    def _spec_path(self, job_id: str) -> Path:
        return self.data_dir / "sessions" / f"{job_id}.json"

    def _steps_path(self, job_id: str) -> Path:
        return self.data_dir / "sessions" / f"{job_id}.steps"

    def _info(self, spec: SessionSpec, *, resumed: bool) -> SessionInfo:
        return SessionInfo(
            job_id=spec.job_id,
            algorithm=spec.algorithm,
            resumed=resumed,
            idle_timeout_s=self.idle_timeout_s,
            platform_party=self.platform_party,
        )

    def _emit(self, event: str, caller: Caller, spec: SessionSpec) -> None:
        if self.on_event is not None:
            self.on_event(event, caller, spec)


def _read_digests(path: Path) -> dict[str, str]:
    """Every (step id, request digest) a session answered. A torn last line (a crash while it
    was written, before its answer left) is cut off, so later appends start on a fresh line."""
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with path.open("r+b") as fh:
            fh.truncate(keep)
        data = data[:keep]
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is torn or empty
        parts = line.decode("utf-8", "replace").split(" ")
        if len(parts) == 2 and _STEP_ID.match(parts[0]):
            out.setdefault(parts[0], parts[1])
    return out


def _append_digest(path: Path, step_id: str, digest: str) -> None:
    """Append one answered step durably (before its answer is returned)."""
    line = f"{step_id} {digest}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_same_settings(dataset: str, params: dict[str, str], spec: SessionSpec) -> None:
    """Refuse to resume a job id with another dataset or other session parameters."""
    if dataset != spec.dataset or {str(k): str(v) for k, v in params.items()} != {
        str(k): str(v) for k, v in spec.params.items()
    }:
        raise FailedPrecondition(
            "this job id was opened before with other settings (dataset or session "
            "parameters); resume it with the same settings or use a new job id"
        )
