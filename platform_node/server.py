"""The platform's gRPC server: ``create_server`` for tests and ``serve`` for the CLI.

``create_server`` binds (port 0 works for tests) and returns the started server with its port
and session manager, following grpc's own examples.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from models.audit.entry import Actor
from models.audit.events import DATASET_DESCRIBED, MODEL_PART_SAVED, SESSION_CLOSED, SESSION_OPENED
from models.audit.log import AuditLog
from models.errors import FedCreditError
from models.federation.manager import SessionManager
from models.federation.messages import WireMessage
from models.federation.party import Caller, DataProvider
from models.federation.session import DescribeResponse, SessionSpec
from proto.fedcredit.v1 import federation_pb2_grpc
from proto.transport.audit_servicer import SERVICE_NAME as AUDIT_SERVICE
from proto.transport.audit_servicer import install_audit_service, open_node_audit_log
from proto.transport.limits import LimitsConfig, ResourceGuard
from proto.transport.server import NodeServer, ServiceHook, build_server
from proto.transport.tls import TlsFiles

log = logging.getLogger("fedcredit.platform")

FEDERATION = "/fedcredit.v1.FederationService/"

#: Which roles may call which federation methods (everything not listed is refused).
FEDERATION_POLICY: dict[str, tuple[str, ...]] = {
    FEDERATION + "OpenSession": ("bank",),
    FEDERATION + "Exchange": ("bank",),
    FEDERATION + "CloseSession": ("bank",),
}


@dataclass
class RunningServer:
    node: NodeServer
    manager: SessionManager
    reaper: threading.Event
    audit_log: AuditLog
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. "console": its server

    @property
    def port(self) -> int:
        return self.node.port

    def stop(self, grace: float = 5.0) -> None:
        self.reaper.set()
        console = self.extras.get("console")
        if console is not None:
            console.stop()
        self.node.stop(grace)


class AuditedSessionManager(SessionManager):
    """A session manager that reports the steps the platform attests to ``on_attest``.

    Two kinds of answers are audited by the platform itself, so that a regulator reads the
    platform's side of a job from the platform: a dataset description (digest, row count,
    categories) and a saved model part (``*FinalizeResponse``: model id and part digest). A
    step answered again from the step cache (a retry) is reported once.
    """

    on_attest: Callable[[Caller, SessionSpec, WireMessage], None] | None = None
    _MAX_SEEN = 4096

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._attested: dict[tuple[str, str], None] = {}
        self._attested_lock = threading.Lock()

    @staticmethod
    def attested(response: WireMessage) -> bool:
        """Whether the platform audits this answer (see the class docstring)."""
        if isinstance(response, DescribeResponse):
            return True
        return type(response).__name__.endswith("FinalizeResponse") and hasattr(
            response, "platform_digest"
        )

    def handle(
        self,
        caller: Caller,
        job_id: str,
        step_id: str,
        request: WireMessage,
        request_digest: str = "",
    ) -> WireMessage:
        try:  # looked up before the step, so that a session closing meanwhile stays known
            spec: SessionSpec | None = self.session_spec(job_id)
        except FedCreditError:
            spec = None  # handle() reports the problem with its own error
        response = super().handle(caller, job_id, step_id, request, request_digest)
        if spec is None or self.on_attest is None or not self.attested(response):
            return response
        with self._attested_lock:
            first = (job_id, step_id) not in self._attested
            self._attested[(job_id, step_id)] = None
            while len(self._attested) > self._MAX_SEEN:
                self._attested.pop(next(iter(self._attested)))
        if first:
            self.on_attest(caller, spec, response)
        return response


def create_server(
    *,
    listen: str,
    data_dir: Path,
    data: DataProvider,
    tls: TlsFiles | None,
    known_parties: Mapping[str, str] | None,
    party: str = "platform",
    idle_timeout_s: float = 900.0,
    max_workers: int = 16,
    share_feature_names: bool = False,
    on_session_event: Callable[[str, Caller, SessionSpec], None] | None = None,
    extra_services: list[ServiceHook] | None = None,
    audit_log: AuditLog | None = None,
    context_extras: Mapping[str, object] | None = None,
    limits: LimitsConfig | None = None,
) -> RunningServer:
    """Build, bind and start the platform server. ``tls=None`` is the test-only plaintext mode.

    The platform's audit log (``<data_dir>/audit``) records every session event and is served
    to the regulator (everything) and to banks (only entries that concern them). ``limits``
    are the per-party resource limits (:mod:`proto.transport.limits`); large training bodies
    spill to ``<data_dir>/spool`` while they arrive.
    """
    from platform_node.federation_servicer import FederationServicer
    from platform_node.parties import load_parties

    load_parties()
    log_ = audit_log or open_node_audit_log(data_dir, party, "platform")
    platform_fp = _own_fingerprint(tls)

    def on_event(event: str, caller: Caller, spec: SessionSpec) -> None:
        log_.append(
            SESSION_CLOSED if event in ("close", "expire") else SESSION_OPENED,
            Actor(caller.party, caller.role, caller.cert_fingerprint),
            {
                "job_id": spec.job_id,
                "algorithm": spec.algorithm,
                "dataset": spec.dataset,
                "action": event,
                "subject_party": caller.party,
                "platform_cert_fingerprint": platform_fp,
            },
        )
        if on_session_event is not None:
            on_session_event(event, caller, spec)

    def on_attest(caller: Caller, spec: SessionSpec, reply: WireMessage) -> None:
        common = {
            "job_id": spec.job_id,
            "algorithm": spec.algorithm,
            "subject_party": caller.party,
            "platform_cert_fingerprint": platform_fp,
        }
        if isinstance(reply, DescribeResponse):
            described = reply.dataset or spec.dataset
            event, details = (
                DATASET_DESCRIBED,
                {
                    "dataset": described,
                    "dataset_digest": reply.digest,
                    "n_rows": reply.n_rows,
                    "n_features": reply.n_features,
                    "categories": list(reply.categories),
                    "alignment": spec.params.get("alignment", ""),
                },
            )
            version_of = getattr(data, "dataset_version", None)
            version = version_of(spec.dataset, reply.digest) if callable(version_of) else None
            if version is not None:  # a served table: the exact registered version
                details["table_version"] = version
        else:
            event, details = (
                MODEL_PART_SAVED,
                {
                    "model_id": str(getattr(reply, "model_id", "")),
                    "platform_part_digest": str(getattr(reply, "platform_digest", "")),
                    "dataset": spec.dataset,
                },
            )
        log_.append(event, Actor(party, "platform", platform_fp), {**common, **details})

    manager = AuditedSessionManager(
        data_dir,
        data,
        idle_timeout_s=idle_timeout_s,
        platform_party=party,
        on_event=on_event,
        context_extras={
            "share_feature_names": share_feature_names,
            "audit_log": log_,
            **dict(context_extras or {}),
        },
    )
    manager.on_attest = on_attest

    resource_guard = ResourceGuard(limits)

    def federation(server: grpc.Server) -> Mapping[str, tuple[str, ...]]:
        federation_pb2_grpc.add_FederationServiceServicer_to_server(
            FederationServicer(manager, resource_guard, Path(data_dir) / "spool"), server
        )
        return FEDERATION_POLICY

    node = build_server(
        listen=listen,
        tls=tls,
        known_parties=known_parties,
        services=[
            federation,
            lambda server: install_audit_service(server, log_, party),
            *(extra_services or []),
        ],
        service_names=["fedcredit.v1.FederationService", AUDIT_SERVICE],
        max_workers=max_workers,
        node="platform",
        guard=resource_guard,
    )
    reaper = threading.Event()
    threading.Thread(
        target=_reap, args=(manager, reaper, idle_timeout_s), daemon=True, name="session-reaper"
    ).start()
    return RunningServer(node, manager, reaper, log_)


def _own_fingerprint(tls: TlsFiles | None) -> str:
    """SHA-256 fingerprint of the platform's own certificate ("" in plaintext test mode)."""
    if tls is None:
        return ""
    from proto.transport.tls import cert_fingerprint

    try:
        return cert_fingerprint(tls.cert)
    except (OSError, FedCreditError):
        return ""


def _reap(manager: SessionManager, stop: threading.Event, idle_timeout_s: float) -> None:
    interval = max(0.05, min(30.0, idle_timeout_s / 4))
    while not stop.wait(interval):
        for job in manager.expire_idle():
            log.info("session expired", extra={"job_id": job})
