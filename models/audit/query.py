"""Filters over audit entries, and who may see which entry.

Access model: the regulator sees every entry of every node. Any other caller (a bank, the
platform, an officer) sees only the entries that concern its own party: those it caused (the
actor, or one of its officers ``"<bank>/<officer>"``) and those naming it as subject
(``subject_party``, ``bank_party`` or ``parties`` in the details). So a bank reading the
platform's log never sees entries about another bank.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from models.audit.entry import LogEntry

REGULATOR_ROLE = "regulator"


def entry_parties(entry: LogEntry) -> set[str]:
    """Every party an entry concerns (its actor, the actor's bank, and the named subjects)."""
    parties = {entry.actor.party}
    if "/" in entry.actor.party:
        parties.add(entry.actor.party.split("/", 1)[0])
    details = entry.details
    for key in ("subject_party", "bank_party"):
        value = details.get(key)
        if isinstance(value, str) and value:
            parties.add(value)
    listed = details.get("parties")
    if isinstance(listed, list):
        parties.update(p for p in listed if isinstance(p, str) and p)
    parties.discard("")
    return parties


def visible_entries(
    entries: Iterable[LogEntry], caller_party: str, caller_role: str
) -> list[LogEntry]:
    """The entries a caller may read (see the module docstring)."""
    if caller_role == REGULATOR_ROLE:
        return list(entries)
    if not caller_party:
        return []
    return [e for e in entries if caller_party in entry_parties(e)]


def matches_model(entry: LogEntry, model: str) -> bool:
    """True when the entry concerns ``model``: a model id or ``"NAME@VERSION"``."""
    details = entry.details
    if details.get("model_id") == model:
        return True
    name, version = details.get("model_name"), details.get("model_version")
    return name is not None and version is not None and f"{name}@{version}" == model


def query(
    entries: Sequence[LogEntry],
    *,
    event: str = "",
    party: str = "",
    model_id: str = "",
    job_id: str = "",
    uscc: str = "",
    after_seq: int = 0,
    limit: int = 0,
) -> list[LogEntry]:
    """Entries in log order matching every non-empty filter.

    ``event`` matches exactly, or as a prefix when it ends with ``*``; ``model_id`` is a model
    id or ``NAME@VERSION``; ``uscc`` the company an entry names; ``limit`` 0 means no limit.
    """
    out: list[LogEntry] = []
    prefix = event[:-1] if event.endswith("*") else None
    for e in entries:
        if e.seq <= after_seq:
            continue
        if event and (not e.event.startswith(prefix) if prefix is not None else e.event != event):
            continue
        if party and party not in entry_parties(e):
            continue
        if model_id and not matches_model(e, model_id):
            continue
        if job_id and e.details.get("job_id") != job_id:
            continue
        if uscc and e.details.get("uscc") != uscc:
            continue
        out.append(e)
        if limit and len(out) >= limit:
            break
    return out
