"""One audit log entry: its canonical form, hash and Ed25519 signature.

An entry is one JSON line::

    {"actor": {"cert_fingerprint": ..., "party": ..., "role": ...}, "details": {...},
     "event": "score_request", "hash": "<sha256 hex>", "prev_hash": "<sha256 hex>",
     "seq": 17, "signature": "<ed25519 hex>", "ts": "2025-01-31T08:00:00.000000Z"}

``hash`` is the SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of every field
except ``hash`` and ``signature``; ``prev_hash`` is the previous entry's ``hash`` (64 zeros for
the first entry), so each entry commits to the whole history before it. ``signature`` is the
node's Ed25519 signature over ``SIGNATURE_CONTEXT + bytes.fromhex(hash)``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.errors import InvalidArgument

GENESIS_HASH = "0" * 64
SIGNATURE_CONTEXT = b"fedcredit-audit-entry-v1\x00"
MAX_DETAILS_BYTES = 16384
"""Details describe an event; they are never a place for rows of data."""

_EVENT_RE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")


class ActorLike(Protocol):
    """Anything naming who acted: :class:`Actor` or a transport ``Caller``."""

    @property
    def party(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def cert_fingerprint(self) -> str: ...


@dataclass(frozen=True)
class Actor:
    """Who caused an event: party name, role and the SHA-256 fingerprint of its certificate."""

    party: str
    role: str
    cert_fingerprint: str = ""

    @classmethod
    def of(cls, actor: ActorLike) -> Actor:
        if isinstance(actor, Actor):
            return actor
        return cls(str(actor.party), str(actor.role), str(actor.cert_fingerprint or ""))

    def to_dict(self) -> dict[str, str]:
        return {"party": self.party, "role": self.role, "cert_fingerprint": self.cert_fingerprint}


def utc_timestamp(when: dt.datetime | None = None) -> str:
    """ISO 8601 UTC with microseconds and a ``Z`` suffix (the audit log's only time format)."""
    when = when or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        raise InvalidArgument("audit timestamps must be timezone-aware")
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(obj: Any) -> str:
    """Sorted keys, no white space, no NaN: one byte string per value."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _clean(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        raise InvalidArgument("audit details are nested too deeply")
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument("audit details must not contain NaN or infinity")
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidArgument("audit detail keys must be strings")
            out[k] = _clean(v, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_clean(v, depth + 1) for v in value]
    raise InvalidArgument("audit details hold only JSON values (str, number, bool, list, dict)")


def _flat_scalars(details: dict[str, Any]) -> bool:
    """True when every key is a ``str`` and every value a plain ``str``, ``int``, ``bool``,
    ``None`` or finite ``float`` (the usual shape: then :func:`_clean` would copy it as is)."""
    for k, v in details.items():
        if type(k) is not str:
            return False
        t = type(v)
        if t is str or t is int or t is bool or v is None:
            continue
        if t is float and math.isfinite(v):
            continue
        return False
    return True


def _clean_details_json(details: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    """:func:`clean_details` and the canonical JSON of the result (computed once)."""
    src = dict(details or {})
    cleaned = src if _flat_scalars(src) else _clean(src)
    assert isinstance(cleaned, dict)
    text = canonical_json(cleaned)
    if len(text.encode()) > MAX_DETAILS_BYTES:
        raise InvalidArgument("audit details are too large (they must describe, not carry data)")
    return cleaned, text


def clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate and normalise event details (JSON values only, at most 16 KiB)."""
    return _clean_details_json(details)[0]


def check_event(event: str) -> str:
    if not isinstance(event, str) or not _EVENT_RE.match(event):
        raise InvalidArgument("audit event names are 1-64 characters of a-z, 0-9, '_' and '.'")
    return event


@dataclass(frozen=True)
class LogEntry:
    """One signed, hash-chained audit entry (see the module docstring for the format)."""

    seq: int
    ts: str
    actor: Actor
    event: str
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""
    signature: str = ""

    def body(self) -> dict[str, Any]:
        """The hashed fields (everything but ``hash`` and ``signature``)."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor.to_dict(),
            "event": self.event,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash, "signature": self.signature}

    def to_json_line(self) -> str:
        return canonical_json(self.to_dict()) + "\n"

    @classmethod
    def from_dict(cls, obj: Any) -> LogEntry:
        """Parse a decoded JSON object; :class:`ValueError` if it is not an entry's shape."""
        if not isinstance(obj, dict):
            raise ValueError("entry is not an object")
        expected = {"seq", "ts", "actor", "event", "details", "prev_hash", "hash", "signature"}
        if set(obj) != expected:
            raise ValueError("entry fields differ from the format")
        actor = obj["actor"]
        if not isinstance(actor, dict) or set(actor) != {"party", "role", "cert_fingerprint"}:
            raise ValueError("entry actor has the wrong shape")
        seq = obj["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError("entry sequence number is not a positive integer")
        strings = ("ts", "event", "prev_hash", "hash", "signature")
        if not all(isinstance(obj[k], str) for k in strings) or not isinstance(
            obj["details"], dict
        ):
            raise ValueError("entry field types differ from the format")
        if not all(isinstance(v, str) for v in actor.values()):
            raise ValueError("entry actor fields must be strings")
        return cls(
            seq=seq,
            ts=obj["ts"],
            actor=Actor(actor["party"], actor["role"], actor["cert_fingerprint"]),
            event=obj["event"],
            details=obj["details"],
            prev_hash=obj["prev_hash"],
            hash=obj["hash"],
            signature=obj["signature"],
        )

    @classmethod
    def from_json_line(cls, line: str | bytes) -> LogEntry:
        """Parse one line; :class:`ValueError` if it is not valid JSON of an entry's shape."""
        return cls.from_dict(json.loads(line))


def entry_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(body)).encode("utf-8")).hexdigest()


def _signed_bytes(hash_hex: str) -> bytes:
    return SIGNATURE_CONTEXT + bytes.fromhex(hash_hex)


@dataclass(frozen=True)
class Draft:
    """An entry's validated content before it gets its place in the chain (:func:`prepare`):
    the actor, event and cleaned details, with the canonical JSON of actor and details."""

    actor: Actor
    event: str
    details: dict[str, Any]
    actor_json: str
    details_json: str


def prepare(event: str, actor: ActorLike, details: Mapping[str, Any] | None) -> Draft:
    """Validate an entry's content (event name, JSON details of at most 16 KiB); raises
    :class:`InvalidArgument` as :func:`seal` does. No sequence number, time or key yet."""
    who = Actor.of(actor)
    name = check_event(event)
    cleaned, details_json = _clean_details_json(details)
    return Draft(who, name, cleaned, _actor_json(who), details_json)


_PLAIN = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
"""Printable ASCII without ``"`` and ``\\``: JSON writes such a string as it is, quoted."""


def _js(text: str) -> str:
    """``canonical_json`` of a string (a fast path for the usual plain ASCII)."""
    if _PLAIN.fullmatch(text):
        return '"' + text + '"'
    return json.dumps(text, ensure_ascii=False)


@functools.lru_cache(maxsize=1024)
def _actor_json(actor: Actor) -> str:
    return canonical_json(actor.to_dict())


def seal_draft(
    draft: Draft, seq: int, ts: str, prev_hash: str, key: Ed25519PrivateKey
) -> tuple[LogEntry, str]:
    """Hash and sign a prepared entry; returns it and its JSON line (``to_json_line``).

    The canonical JSON of the body and of the line are composed from the canonical JSON of
    their parts (sorted keys at every level, so byte for byte what :func:`canonical_json` of
    the whole gives), which serialises the details once instead of three times.
    """
    head = '{"actor":' + draft.actor_json + ',"details":' + draft.details_json
    event, prev, ts_json = _js(draft.event), _js(prev_hash), _js(ts)
    body = f'{head},"event":{event},"prev_hash":{prev},"seq":{int(seq)},"ts":{ts_json}}}'
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    signature = key.sign(_signed_bytes(digest)).hex()
    line = (
        f'{head},"event":{event},"hash":"{digest}","prev_hash":{prev},"seq":{int(seq)},'
        f'"signature":"{signature}","ts":{ts_json}}}\n'
    )
    entry = LogEntry(
        seq=seq,
        ts=ts,
        actor=draft.actor,
        event=draft.event,
        details=draft.details,
        prev_hash=prev_hash,
        hash=digest,
        signature=signature,
    )
    return entry, line


def seal(
    seq: int,
    ts: str,
    actor: ActorLike,
    event: str,
    details: Mapping[str, Any] | None,
    prev_hash: str,
    key: Ed25519PrivateKey,
) -> LogEntry:
    """Build a complete entry: validate, hash, sign."""
    return seal_draft(prepare(event, actor, details), seq, ts, prev_hash, key)[0]


def hash_ok(entry: LogEntry) -> bool:
    """True when ``entry.hash`` is the hash of its body."""
    try:
        return entry_hash(entry.body()) == entry.hash
    except (TypeError, ValueError):
        return False


def signature_ok(entry: LogEntry, public_key: Ed25519PublicKey) -> bool:
    """True when ``entry.signature`` is the key's signature over ``entry.hash``."""
    try:
        public_key.verify(bytes.fromhex(entry.signature), _signed_bytes(entry.hash))
    except (InvalidSignature, ValueError):
        return False
    return True


def entry_authentic(entry: LogEntry, public_key: Ed25519PublicKey) -> bool:
    """Hash and signature both check out (what a peer can verify for a single entry)."""
    return hash_ok(entry) and signature_ok(entry, public_key)
