"""Read audit logs and lineage over gRPC, and assemble a model's lineage on the bank.

Three clients, all over mutual TLS with the caller's own certificate (the bank's for the bank
operator, the regulator's for the regulator):

- :class:`AuditClient`: ``AuditService.ListEntries`` (paged, signatures checked) and
  ``VerifyLog`` on either node;
- :class:`LineageClient`: ``LineageService.GetLineage`` on a bank;
- :func:`bank_lineage`: the lineage as the bank assembles it: its MLflow store, its own audit
  log, and the platform's entries about the job and the model (fetched with the bank's
  certificate, so the platform shows it only entries that concern this bank).

:func:`cross_check` lets a regulator compare the platform trail a bank reported with the
entries it reads from the platform itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bank_node.config import BankConfig
from bank_node.lineage import Lineage, assemble_lineage, related_job_ids
from models.audit import LogEntry, key_fingerprint, load_public_key
from models.audit import events as ev
from models.audit.keychain import KeyChain
from models.audit.messages import ListAuditRequest, ListAuditResponse, VerifyLogResponse
from models.audit.service import entry_from_wire, key_chain_of
from models.errors import FailedPrecondition, FedCreditError, InvalidArgument
from proto.transport.tls import TlsFiles

DEFAULT_TIMEOUT_S = 30.0
PAGE = 1000


class AuditKeyMismatch(FailedPrecondition):
    """The node signs with another audit key than the one pinned for it."""


def tls_from_cert_dir(cert_dir: Path, ca: Path | None = None) -> TlsFiles:
    """``cert.pem`` and ``key.pem`` in ``cert_dir``; the CA bundle in its parent by default.

    That is the layout ``fedcredit pki init --dir PKI`` writes: ``PKI/ca.pem`` and
    ``PKI/<name>/{cert,key}.pem``.
    """
    cert_dir = Path(cert_dir)
    files = TlsFiles(
        Path(ca) if ca else cert_dir.parent / "ca.pem", cert_dir / "cert.pem", cert_dir / "key.pem"
    )
    for path in (files.ca, files.cert, files.key):
        if not path.is_file():
            raise InvalidArgument("the certificate directory lacks cert.pem, key.pem or ca.pem")
    return files


def connect_target(address: str) -> str:
    """A listen address made dialable (``0.0.0.0:p`` / ``[::]:p`` -> ``localhost:p``)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidArgument("addresses are HOST:PORT")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "localhost"
    return f"{host}:{port}"


@dataclass
class FetchedEntries:
    """Entries read from a node's ``AuditService``, with the key they claim to be signed by."""

    node_party: str = ""
    public_key: Ed25519PublicKey | None = None
    entries: list[LogEntry] = field(default_factory=list)
    head_seq: int = 0
    keys: KeyChain | None = None

    @property
    def key_fingerprint(self) -> str:
        """The node's root audit key (the one pinned; stable across rotations)."""
        return key_fingerprint(self.public_key) if self.public_key is not None else ""

    def merge(self, other: FetchedEntries) -> None:
        """Add another answer's entries (deduplicated by sequence number, in log order)."""
        self.node_party = self.node_party or other.node_party
        self.public_key = self.public_key or other.public_key
        if other.keys is not None and (
            self.keys is None or len(other.keys.steps) > len(self.keys.steps)
        ):
            self.keys = other.keys
        self.head_seq = max(self.head_seq, other.head_seq)
        by_seq = {e.seq: e for e in self.entries}
        by_seq.update({e.seq: e for e in other.entries})
        self.entries = [by_seq[s] for s in sorted(by_seq)]


class _Client:
    def __init__(
        self,
        target: str,
        tls: TlsFiles | None,
        *,
        server_name: str = "",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        test_identity: tuple[str, str] | None = None,
    ) -> None:
        from proto.transport.channel import RetryPolicy, open_channel, test_identity_metadata

        self._channel = open_channel(target, tls, server_name=server_name if tls else "")
        self._metadata = test_identity_metadata(*test_identity) if test_identity else ()
        self._retry = RetryPolicy(attempts=3, initial_s=0.2, max_s=1.0, retry_deadline=False)
        self.timeout_s = timeout_s

    def _call(self, what: str, method: Any, request: Any) -> Any:
        return self._retry.run(
            what, lambda: method(request, timeout=self.timeout_s, metadata=self._metadata)
        )

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class AuditClient(_Client):
    """``AuditService`` of one node (bank or platform)."""

    def __init__(self, target: str, tls: TlsFiles | None, **kwargs: Any) -> None:
        super().__init__(target, tls, **kwargs)
        from proto.fedcredit.v1 import audit_pb2_grpc

        self._stub = audit_pb2_grpc.AuditServiceStub(self._channel)

    def list_entries(
        self,
        *,
        event: str = "",
        model_id: str = "",
        job_id: str = "",
        party: str = "",
        public_key: Ed25519PublicKey | None = None,
        pin: str = "",
    ) -> FetchedEntries:
        """Every entry matching the filters that the caller may see (all pages).

        Entries whose signature does not check out against ``public_key``, or else against
        the key the node sends, are refused with :class:`InvalidArgument`. With ``pin`` (a key
        fingerprint) a node that sends no key or another key is refused with
        :class:`AuditKeyMismatch`.
        """
        from proto.transport.codec import from_proto, to_proto

        out = FetchedEntries()
        after = 0
        while True:
            request = ListAuditRequest(
                event=event,
                model_id=model_id,
                job_id=job_id,
                limit=PAGE,
                after_seq=after,
                party=party,
            )
            reply = from_proto(
                self._call("audit.list", self._stub.ListEntries, to_proto(request)),
                ListAuditResponse,
            )
            page = _entries(reply, public_key, pin)
            out.merge(page)
            if not reply.has_more or not page.entries:
                return out
            after = page.entries[-1].seq

    def verify(self, expected_key_fingerprint: str = "") -> VerifyLogResponse:
        """Ask the node to verify its whole log (optionally pinning its audit key)."""
        from models.audit.messages import VerifyLogRequest
        from proto.transport.codec import from_proto, to_proto

        reply = self._call(
            "audit.verify",
            self._stub.VerifyLog,
            to_proto(VerifyLogRequest(expected_key_fingerprint=expected_key_fingerprint)),
        )
        return from_proto(reply, VerifyLogResponse)


def _entries(
    reply: ListAuditResponse, pinned: Ed25519PublicKey | None, pin: str = ""
) -> FetchedEntries:
    key = pinned
    if pin and not reply.public_key_pem:
        raise AuditKeyMismatch("the node sent no audit key to check against the pinned one")
    if reply.public_key_pem:
        sent = load_public_key(reply.public_key_pem.encode())
        if pin and key_fingerprint(sent) != pin:
            raise AuditKeyMismatch("the node's audit key is not the pinned one")
        if pinned is not None and key_fingerprint(sent) != key_fingerprint(pinned):
            raise InvalidArgument("the node's audit key is not the pinned one")
        key = key or sent
    entries = [entry_from_wire(m) for m in reply.entries]
    chain = key_chain_of(reply, key)
    if chain is not None and not all(chain.authentic(e) for e in entries):
        raise InvalidArgument("an audit entry does not carry the node's valid signature")
    return FetchedEntries(reply.node_party, key, entries, reply.head_seq, chain)


class LineageClient(_Client):
    """``LineageService`` of a bank node."""

    def __init__(self, target: str, tls: TlsFiles | None, **kwargs: Any) -> None:
        super().__init__(target, tls, **kwargs)
        from proto.fedcredit.v1 import lineage_pb2_grpc

        self._stub = lineage_pb2_grpc.LineageServiceStub(self._channel)

    def get(self, model: str) -> tuple[Lineage, str]:
        """The lineage of ``NAME[@VERSION|@alias]`` and the bank that assembled it."""
        from proto.fedcredit.v1 import lineage_pb2

        reply = self._call(
            "lineage.get", self._stub.GetLineage, lineage_pb2.LineageRequest(model=model)
        )
        try:
            doc = json.loads(reply.lineage_json)
        except ValueError:
            raise InvalidArgument("the bank sent a lineage that is not JSON") from None
        return Lineage.from_dict(doc), str(reply.bank_party)


# -- assembling on the bank ------------------------------------------------------------------
def lineage_keys(tracking: Any, spec: str) -> tuple[str, list[str]]:
    """``(job_id, model keys)`` of a registered version: what to ask the platform about."""
    from bank_node.tracking.registry import (
        TAG_MODEL_ID,
        TAG_PLATFORM_MODEL_ID,
        get_version,
        parse_model_spec,
    )

    name, version = parse_model_spec(spec)
    mv = get_version(tracking, name, version)
    tags = dict(mv.tags or {})
    run_tags = dict(tracking.client.get_run(mv.run_id).data.tags)
    job_id = tags.get("fedcredit.job_id") or run_tags.get("fedcredit.job_id", "")
    model_id = tags.get(TAG_MODEL_ID) or run_tags.get("fedcredit.model_id", "")
    keys = [k for k in dict.fromkeys((tags.get(TAG_PLATFORM_MODEL_ID, ""), model_id)) if k]
    return job_id, keys


def bank_related(config: BankConfig, tracking: Any, spec: str, job_id: str) -> list[LogEntry]:
    """The bank's own entries about a job and a registered version, through the log's index
    (the same entries :func:`bank_node.lineage.assemble_lineage` would select from the whole
    log)."""
    from bank_node.tracking.registry import get_version, parse_model_spec
    from models.audit.index import AuditIndex

    name, version = parse_model_spec(spec)
    ref = f"{name}@{get_version(tracking, name, version).version}"
    index = AuditIndex(config.data_dir / "audit" / "audit.jsonl")
    try:
        found = [e for jid in related_job_ids(job_id) for e in index.query(job_id=jid)]
        found += index.query(model_id=ref)
    finally:
        index.close()
    return sorted({e.seq: e for e in found}.values(), key=lambda e: e.seq)


def fetch_related(
    client: AuditClient, job_id: str, model_ids: Iterable[str], *, pin: str = ""
) -> FetchedEntries:
    """A node's entries about a job (its PSI, describe and training sessions) and models,
    signed with the key of fingerprint ``pin`` if given (see :class:`AuditKeyMismatch`)."""
    out = FetchedEntries()
    for jid in related_job_ids(job_id):
        out.merge(client.list_entries(job_id=jid, public_key=out.public_key, pin=pin))
    for mid in model_ids:
        out.merge(client.list_entries(model_id=mid, public_key=out.public_key, pin=pin))
    return out


def platform_audit_client(config: BankConfig, timeout_s: float = DEFAULT_TIMEOUT_S) -> AuditClient:
    """The platform's ``AuditService`` reached with the bank's own identity."""
    return AuditClient(
        config.platform_target,
        config.tls,
        server_name=config.platform_name,
        timeout_s=timeout_s,
        test_identity=(config.party, "bank") if config.tls is None else None,
    )


def bank_lineage(
    config: BankConfig,
    spec: str,
    *,
    platform: AuditClient | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Lineage:
    """The lineage of ``spec`` from the bank's store and log and the platform's entries.

    The platform's entries must be signed with its pinned audit key (:mod:`bank_node.audit_pin`;
    the first key seen is pinned when none is configured). The platform being unreachable or
    signing with another key is not fatal: its entries are then left out and ``warnings`` says
    why.
    """
    from bank_node.audit_pin import pinned_platform_key, remember_platform_key
    from bank_node.jobs.tracking_glue import bank_tracking

    # reading the job record is a tiny download: no progress bar on the operator's terminal
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    tracking = bank_tracking(config)
    job_id, model_ids = lineage_keys(tracking, spec)
    bank_entries = bank_related(config, tracking, spec, job_id)
    fetched = FetchedEntries()
    problem = ""
    pin = pinned_platform_key(config)
    client = platform or platform_audit_client(config, timeout_s)
    try:
        fetched = fetch_related(client, job_id, model_ids, pin=pin)
    except AuditKeyMismatch:
        problem = (
            f"the platform's audit key is not the pinned one ({pin[:16]}...): "
            "its entries are left out"
        )
    except FedCreditError as err:
        problem = f"the platform's audit entries could not be read ({err.kind.value})"
    else:
        remember_platform_key(config, fetched.key_fingerprint)
    finally:
        if platform is None:
            client.close()
    lineage = assemble_lineage(
        tracking,
        spec,
        bank_entries,
        fetched.entries,
        platform_keys=fetched.keys,
        bank_party=config.party,
    )
    if problem:
        lineage.warnings.insert(0, problem)
    if fetched.public_key is not None:
        lineage.parties["platform"]["audit_key_fingerprint"] = fetched.key_fingerprint
    return lineage


# -- the regulator's cross-check -----------------------------------------------------------
def cross_check(lineage: Lineage, platform: FetchedEntries) -> dict[str, Any]:
    """Compare the platform trail in a bank's lineage with the platform's own entries.

    ``platform`` holds what the regulator read from the platform itself (it sees everything).
    Every platform entry the bank reported must be there with the same hash; every platform
    entry about the job the bank did not report is listed as ``missing_from_lineage``.
    """
    own = {e.seq: e for e in platform.entries}
    reported = [t for t in lineage.audit_trail if t.get("node") == "platform"]
    confirmed = [t for t in reported if t["seq"] in own and own[t["seq"]].hash == t.get("hash")]
    unknown = [t["seq"] for t in reported if t not in confirmed]
    seen = {t["seq"] for t in reported}
    job_ids = related_job_ids(str(lineage.job.get("job_id", "")))
    missing = [
        e.seq
        for e in platform.entries
        if e.seq not in seen and e.event != ev.SCORE_REQUEST and e.details.get("job_id") in job_ids
    ]
    served = sum(
        1
        for e in platform.entries
        if e.event == ev.SCORE_REQUEST and e.details.get("outcome") in (None, ev.OUTCOME_OK)
    )
    bank_fp = lineage.parties.get("platform", {}).get("audit_key_fingerprint", "")
    return {
        "platform_entries_confirmed": len(confirmed),
        "platform_entries_not_in_platform_log": unknown,
        "platform_entries_missing_from_lineage": missing,
        "platform_parts_served_per_platform": served,
        "platform_audit_key": platform.key_fingerprint,
        "same_platform_audit_key_as_bank_saw": not bank_fp or bank_fp == platform.key_fingerprint,
        "ok": not unknown and not missing and (not bank_fp or bank_fp == platform.key_fingerprint),
    }
