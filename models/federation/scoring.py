"""Online scoring through the peer interface: sessionless, typed, one family per home.

A credit officer's score needs the platform's part of a *saved* model for one company (or a
few, when the bank batches concurrent requests). That is not a job: no session, no step
cache. The bank sends one typed request (a :class:`~models.federation.messages.WireMessage`
whose ``header`` is a :class:`ScoreHeader`) through
:meth:`models.federation.peer.ScoringPeer.score`; the platform node applies its policy to
every company (USCC, consent, audit) and hands the rest to the family's
:class:`ScoringFamily`, which lives with its protocol in ``models/<family>/scoring.py`` and
registers itself here (:func:`register_scoring`). The node names no family.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from models.errors import InvalidArgument
from models.federation.messages import WireMessage

#: Most companies one scoring request may name.
MAX_COMPANIES = 64


@dataclass(frozen=True)
class ScoreHeader(WireMessage):
    """Who is scored, with which model part, as of when.

    Reveals to platform: the companies' USCCs, the bank's request id for each (joins the two
    audit logs), the model family, id, the digest of the platform part the bank's model is
    bound to, the dataset and the scoring date.
    """

    request_ids: list[str]
    usccs: list[str]
    family: str
    model_id: str
    platform_digest: str
    dataset: str
    as_of: str


@dataclass(frozen=True)
class ScoreReply(WireMessage):
    """The platform's verdict per company.

    Reveals to bank: for each company, the consent that authorised it, or the status code of
    its refusal (``PERMISSION_DENIED``: no consent; ``NOT_FOUND``: not in the platform's data,
    told only after the consent check) with the fixed message of that error.
    """

    model_id: str
    platform_digest: str
    as_of: str
    consent_ids: list[str]
    status: list[str]
    messages: list[str]


class ScoringPart(Protocol):
    """What the node needs of a loaded platform part."""

    @property
    def model_id(self) -> str: ...

    @property
    def digest(self) -> str: ...

    @property
    def bank_party(self) -> str:
        """The only bank that may score with the part ("" for any)."""
        ...

    @property
    def dataset(self) -> str: ...

    @property
    def source_features(self) -> Sequence[str]:
        """The platform's raw columns the part reads, in the order it wants them."""
        ...


@dataclass(frozen=True)
class Companies:
    """The companies of one request as the node hands them to a family.

    ``X`` holds each company's raw platform values of the part's source features (NaN rows
    for companies refused by policy), ``usable`` which companies may be computed on,
    ``categories`` the table's categories of its categorical (code) columns.
    """

    X: np.ndarray
    usable: np.ndarray
    caller_party: str
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class ScoringFamily(ABC):
    """The platform's part of online scoring for one model family.

    Subclasses set ``family``, ``part_dir`` (the sub-directory of ``<data_dir>/models`` where
    the training protocol saves its parts) and ``request_type``, and implement :meth:`load_part`
    and :meth:`answer`. The node makes one instance per server (it may keep caches).
    """

    family: ClassVar[str] = ""
    part_dir: ClassVar[str] = ""
    request_type: ClassVar[type[WireMessage]]

    @abstractmethod
    def load_part(self, path: Path) -> ScoringPart:
        """Read and check a saved platform part (``DataLoss`` if malformed)."""

    @abstractmethod
    def answer(
        self, part: Any, request: Any, companies: Companies, reply: ScoreReply
    ) -> WireMessage:
        """The family's response for the usable companies (the others get no value)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most families hold nothing
        """Release background resources (override if needed)."""


_FAMILIES: dict[str, type[ScoringFamily]] = {}


def register_scoring(cls: type[ScoringFamily]) -> type[ScoringFamily]:
    """Class decorator: offer a family's online scoring under its family name."""
    if not cls.family or not cls.part_dir:
        raise TypeError(f"{cls.__name__} has no family name or part directory")
    _FAMILIES[cls.family] = cls
    return cls


def scoring_families() -> dict[str, type[ScoringFamily]]:
    return dict(_FAMILIES)


def check_header(header: ScoreHeader) -> None:
    """Refuse an empty or oversized request, or one whose lists differ in length."""
    n = len(header.usccs)
    if n == 0 or n > MAX_COMPANIES:
        raise InvalidArgument("a scoring request names between 1 and 64 companies")
    if len(header.request_ids) != n:
        raise InvalidArgument("one request id per company is required")
