"""The passive party's side of a protocol.

A protocol's platform half subclasses :class:`PassiveParty`, names its algorithm, and marks one
method per request type with :func:`handles`. The :class:`~models.federation.manager.SessionManager`
creates one instance per session and dispatches each request to the method for its type.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, get_type_hints

from models.dataset import PartyTable
from models.errors import InvalidArgument, NotFound, PermissionDenied
from models.federation.messages import WireMessage
from models.federation.session import DescribeRequest, DescribeResponse, SessionSpec

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Caller:
    """An authenticated party, as identified by the transport (its client certificate)."""

    party: str
    role: str
    cert_fingerprint: str = ""


class DataProvider(Protocol):
    """How a passive party reaches the platform's data (catalogue features or a served table)."""

    def load(self, dataset: str, caller: Caller, params: Mapping[str, str]) -> PartyTable:
        """Return the platform's table named ``dataset`` as ``caller`` may use it."""
        ...


@dataclass
class PassiveContext:
    """What a passive party gets from the platform node for one session."""

    spec: SessionSpec
    caller: Caller
    state_dir: Path
    data: DataProvider
    platform_party: str = "platform"
    extras: dict[str, Any] = field(default_factory=dict)

    def check_use(self, ids: Sequence[str], population: Collection[str] | None = None) -> None:
        """Refuse to compute on companies the caller may not use without their consent.

        Prediction for a company outside the model's training population (``population``: the
        ids of the rows the model was trained and validated on) needs that company's consent
        for this bank, whatever the session (a PSI-aligned session included: alignment says
        which companies both parties hold, not that they may be scored). The node supplies the
        check as ``extras["consent_check"]`` (``(uscc, bank_party) -> None``, raising
        :class:`PermissionDenied`); without one (a bare library setup) nothing is checked.
        """
        check = self.extras.get("consent_check")
        if check is None:
            return
        members = population if population is not None else ()
        for uscc in ids:
            if str(uscc) not in members:
                check(str(uscc), self.caller.party)

    def load_table(self) -> PartyTable:
        """Load the dataset named in the session spec, aligned if the spec names a PSI job.

        With ``params["alignment"] = <psi job id>`` the rows come back in the order that PSI
        job agreed with the same bank (only rows in the intersection).
        """
        table = self.data.load(self.spec.dataset, self.caller, self.spec.params)
        psi_job = self.spec.params.get("alignment", "")
        if not psi_job:
            return table
        from models.psi.alignment import load_alignment  # the PSI protocol's persisted result

        psi_dir = self.state_dir.parent / psi_job
        owner = _job_owner(self.state_dir.parent.parent / "sessions" / f"{psi_job}.json")
        if owner != self.caller.party:
            raise PermissionDenied("the alignment belongs to another party")
        return table.align_to(load_alignment(psi_dir))


def _job_owner(spec_path: Path) -> str:
    import json

    if not spec_path.exists():
        raise NotFound("the alignment job is unknown")
    owner: str = json.loads(spec_path.read_text())["caller_party"]
    return owner


def handles(func: F) -> F:
    """Mark a method ``def step(self, request: SomeRequest) -> SomeResponse`` as a handler."""
    func.__fedcredit_handler__ = True  # type: ignore[attr-defined]
    return func


class PassiveParty:
    """Base class of every platform-side protocol half.

    Subclasses set ``algorithm`` and define handler methods. State that must survive a restart
    of the platform is written under ``context.state_dir`` and reloaded in ``__init__``.
    """

    algorithm: ClassVar[str] = ""
    _handlers: ClassVar[dict[type[WireMessage], str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type[WireMessage], str] = {}
        for name, member in inspect.getmembers(cls, inspect.isfunction):
            if not getattr(member, "__fedcredit_handler__", False):
                continue
            hints = get_type_hints(member)
            params = [p for p in inspect.signature(member).parameters if p != "self"]
            if len(params) != 1:
                raise TypeError(f"handler {cls.__name__}.{name} must take one request")
            req_type = hints[params[0]]
            table[req_type] = name
        cls._handlers = table

    def __init__(self, context: PassiveContext) -> None:
        self.context = context

    def dispatch(self, request: WireMessage) -> WireMessage:
        """Run the handler for the request's type."""
        name = self._handlers.get(type(request))
        if name is None:
            raise InvalidArgument(
                f"algorithm {self.algorithm!r} has no step for message {type(request).__name__}"
            )
        result: WireMessage = getattr(self, name)(request)
        return result

    def close(self) -> None:
        """Release resources when the session ends (override if needed)."""

    @handles
    def describe(self, request: DescribeRequest) -> DescribeResponse:
        """Describe the session's dataset; every algorithm runs this step first.

        Reveals to bank: the dataset digest, row and feature counts, the categories, and the
        feature names only if the platform's config sets ``share_feature_names``.
        """
        table = self.context.load_table()
        share = self.context.extras.get("share_feature_names", False)
        return DescribeResponse(
            dataset=self.context.spec.dataset,
            n_rows=table.n_rows,
            n_features=table.n_features,
            digest=table.digest(),
            categories=sorted(set(table.feature_groups)),
            feature_names=list(table.feature_names)
            if share and request.include_feature_names
            else [],
            meta={k: v for k, v in table.meta.items() if k in ("source", "as_of", "date_range")},
        )


_PARTIES: dict[str, type[PassiveParty]] = {}


def register_party(cls: type[PassiveParty]) -> type[PassiveParty]:
    """Class decorator: make a passive party available to sessions under its algorithm name."""
    if not cls.algorithm:
        raise TypeError(f"{cls.__name__} has no algorithm name")
    _PARTIES[cls.algorithm] = cls
    return cls


def party_for(algorithm: str) -> type[PassiveParty]:
    try:
        return _PARTIES[algorithm]
    except KeyError:
        raise InvalidArgument("unknown algorithm requested for the session") from None


@register_party
class DescribeParty(PassiveParty):
    """The smallest session: only the ``describe`` step (used by health checks and the demo)."""

    algorithm = "describe"
