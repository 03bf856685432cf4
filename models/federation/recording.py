"""A transcript of every message that crossed between the parties (for privacy tests)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

import numpy as np

from models.federation.messages import WireMessage
from models.federation.peer import PassivePeer
from models.federation.session import SessionInfo, SessionSpec

R = TypeVar("R", bound=WireMessage)


@dataclass
class TranscriptEntry:
    """One message: ``direction`` is "to_passive" or "to_active"."""

    direction: str
    step_id: str
    message: WireMessage


@dataclass
class Transcript:
    entries: list[TranscriptEntry] = field(default_factory=list)

    def to_passive(self) -> list[WireMessage]:
        return [e.message for e in self.entries if e.direction == "to_passive"]

    def to_active(self) -> list[WireMessage]:
        return [e.message for e in self.entries if e.direction == "to_active"]


def iter_values(message: Any) -> Iterator[tuple[str, Any]]:
    """Yield ``(path, leaf)`` for every leaf value in a message tree (for transcript scans)."""
    stack: list[tuple[str, Any]] = [(type(message).__name__, message)]
    while stack:
        path, value = stack.pop()
        if is_dataclass(value) and not isinstance(value, type):
            for f in fields(value):
                stack.append((f"{path}.{f.name}", getattr(value, f.name)))
        elif isinstance(value, dict):
            for k, v in value.items():
                stack.append((f"{path}[{k}]", v))
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                stack.append((f"{path}[{i}]", v))
        elif isinstance(value, np.ndarray) and value.dtype == object:
            for i, v in enumerate(value.ravel().tolist()):
                stack.append((f"{path}[{i}]", v))
        else:
            yield path, value


class RecordingPeer:
    """Wraps a :class:`PassivePeer` and records every message in both directions."""

    def __init__(self, inner: PassivePeer) -> None:
        self.inner = inner
        self.transcript = Transcript()

    @property
    def party(self) -> str:
        return self.inner.party

    def open_session(self, spec: SessionSpec) -> SessionInfo:
        self.transcript.entries.append(TranscriptEntry("to_passive", "open", spec))
        info = self.inner.open_session(spec)
        self.transcript.entries.append(TranscriptEntry("to_active", "open", info))
        return info

    def call(self, step_id: str, request: WireMessage, response_type: type[R]) -> R:
        self.transcript.entries.append(TranscriptEntry("to_passive", step_id, request))
        response = self.inner.call(step_id, request, response_type)
        self.transcript.entries.append(TranscriptEntry("to_active", step_id, response))
        return response

    def close_session(self, reason: str = "") -> None:
        self.inner.close_session(reason)
