"""Session messages: a job opens one session on the platform and every step runs inside it."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.federation.messages import WireMessage


@dataclass(frozen=True)
class SessionSpec(WireMessage):
    """What the bank asks for when it opens a session.

    Reveals to platform: the job id, the algorithm name, the dataset name it should use and
    the non-secret parameters listed in ``params`` (e.g. number of bins). No bank data.
    """

    job_id: str
    algorithm: str
    dataset: str = ""
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionInfo(WireMessage):
    """The platform's answer to an open: whether an earlier session of this job was resumed."""

    job_id: str
    algorithm: str
    resumed: bool
    idle_timeout_s: float
    platform_party: str


@dataclass(frozen=True)
class CloseRequest(WireMessage):
    job_id: str
    reason: str = ""


@dataclass(frozen=True)
class CloseResponse(WireMessage):
    job_id: str
    closed: bool
