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


@dataclass(frozen=True)
class DescribeRequest(WireMessage):
    """Ask the platform to describe the session's dataset.

    Reveals to platform: nothing beyond the session spec.
    """

    include_feature_names: bool = False


@dataclass(frozen=True)
class DescribeResponse(WireMessage):
    """Digest, size and categories of the platform's dataset (never rows).

    Reveals to bank: row count, feature count, the table digest, the categories used, and
    feature names only if the platform allows it.
    """

    dataset: str
    n_rows: int
    n_features: int
    digest: str
    categories: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
