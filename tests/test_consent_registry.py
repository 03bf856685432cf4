"""Consent registry: grant, check, expiry, revocation, listing, auditing, no USCC in errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.audit import Actor, AuditLog, verify
from models.audit import events as ev
from models.errors import InvalidArgument, NotFound, PermissionDenied
from models.uscc import generate_usccs
from platform_node.consent import ConsentRegistry

T0 = dt.datetime(2025, 6, 1, 9, 0, tzinfo=dt.UTC)
OPERATOR = Actor("platform/ops", "platform", "0f" * 32)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture()
def companies() -> list[str]:
    return generate_usccs(3, np.random.default_rng(7))


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[ConsentRegistry, AuditLog, Clock]:
    clock = Clock()
    audit = AuditLog(
        tmp_path / "audit" / "audit.jsonl",
        Ed25519PrivateKey.generate(),
        actor=Actor("platform", "platform", "01" * 32),
        clock=clock,
    )
    registry = ConsentRegistry.in_data_dir(tmp_path, audit, actor=OPERATOR, clock=clock)
    return registry, audit, clock


def test_grant_then_check(setup, companies) -> None:
    registry, _, _ = setup
    uscc = companies[0]
    record = registry.grant(uscc, "bank-a", "scoring", T0 + dt.timedelta(days=30))
    found = registry.check(uscc, "bank-a", "scoring")
    assert found == record and found.uscc == uscc and found.granted_by == OPERATOR.party
    assert found.active(T0) and not found.active(T0 + dt.timedelta(days=31))
    assert (registry.path.parent.name, registry.path.name) == ("consent", "consent.db")


def test_check_refuses_other_bank_scope_and_company_without_naming_it(setup, companies) -> None:
    registry, _, _ = setup
    uscc = companies[0]
    registry.grant(uscc, "bank-a", "scoring", T0 + dt.timedelta(days=30))
    for args in (
        (uscc, "bank-b", "scoring"),
        (uscc, "bank-a", "training"),
        (companies[1], "bank-a", "scoring"),
    ):
        with pytest.raises(PermissionDenied) as info:
            registry.check(*args)
        assert args[0] not in str(info.value)


def test_scope_all_covers_scoring_and_training(setup, companies) -> None:
    registry, _, _ = setup
    registry.grant(companies[0], "bank-a", "all", T0 + dt.timedelta(days=1))
    assert registry.check(companies[0], "bank-a", "scoring").scope == "all"
    assert registry.check(companies[0], "bank-a", "training").covers("training")


def test_consent_expires(setup, companies) -> None:
    registry, _, clock = setup
    uscc = companies[0]
    registry.grant(uscc, "bank-a", "scoring", T0 + dt.timedelta(hours=2))
    assert registry.check(uscc, "bank-a", "scoring", now=T0 + dt.timedelta(hours=1))
    with pytest.raises(PermissionDenied):
        registry.check(uscc, "bank-a", "scoring", now=T0 + dt.timedelta(hours=2))
    clock.now = T0 + dt.timedelta(hours=3)
    with pytest.raises(PermissionDenied):
        registry.check(uscc, "bank-a", "scoring")
    assert registry.list(uscc, active_only=True) == []
    assert len(registry.list(uscc)) == 1
    with pytest.raises(InvalidArgument):
        registry.grant(uscc, "bank-a", "scoring", T0)  # already in the past


def test_check_returns_the_grant_expiring_last(setup, companies) -> None:
    registry, _, _ = setup
    uscc = companies[0]
    registry.grant(uscc, "bank-a", "scoring", T0 + dt.timedelta(days=5))
    late = registry.grant(uscc, "bank-a", "all", T0 + dt.timedelta(days=50))
    assert registry.check(uscc, "bank-a", "scoring").consent_id == late.consent_id


def test_revoke(setup, companies) -> None:
    registry, _, clock = setup
    uscc = companies[0]
    registry.grant(uscc, "bank-a", "scoring", T0 + dt.timedelta(days=30))
    registry.grant(uscc, "bank-a", "training", T0 + dt.timedelta(days=30))
    registry.grant(uscc, "bank-b", "scoring", T0 + dt.timedelta(days=30))
    clock.now = T0 + dt.timedelta(minutes=5)
    revoked = registry.revoke(uscc, "bank-a", "scoring")
    assert len(revoked) == 1 and revoked[0].revoked_by == OPERATOR.party and revoked[0].revoked_at
    with pytest.raises(PermissionDenied):
        registry.check(uscc, "bank-a", "scoring")
    assert registry.check(uscc, "bank-a", "training")  # the other scope stays
    assert registry.check(uscc, "bank-b", "scoring")  # the other bank stays
    assert len(registry.revoke(uscc, "bank-a")) == 1
    with pytest.raises(NotFound) as info:
        registry.revoke(uscc, "bank-a")
    assert uscc not in str(info.value)


def test_list_filters(setup, companies) -> None:
    registry, _, _ = setup
    for uscc in companies:
        registry.grant(uscc, "bank-a", "scoring", T0 + dt.timedelta(days=1))
    registry.grant(companies[0], "bank-b", "all", T0 + dt.timedelta(days=1))
    assert len(registry.list()) == 4
    assert {r.uscc for r in registry.list(bank_party="bank-a")} == set(companies)
    assert [r.bank_party for r in registry.list(companies[0])] == ["bank-a", "bank-b"]


def test_every_change_is_audited(setup, companies) -> None:
    registry, audit, _ = setup
    uscc = companies[0]
    granted = registry.grant(
        uscc, "bank-a", "scoring", T0 + dt.timedelta(days=1), evidence="doc-17"
    )
    registry.check(uscc, "bank-a", "scoring")  # reads are not changes
    registry.revoke(uscc, "bank-a")
    entries = audit.entries()
    assert [e.event for e in entries] == [ev.CONSENT_GRANTED, ev.CONSENT_REVOKED]
    assert all(e.actor == OPERATOR for e in entries)
    assert entries[0].details["consent_id"] == granted.consent_id
    assert entries[0].details["bank_party"] == "bank-a" and entries[0].details["scope"] == "scoring"
    assert entries[1].details["consent_id"] == granted.consent_id
    assert verify(audit.path).ok


def test_invalid_inputs_are_refused(setup, companies) -> None:
    registry, audit, _ = setup
    bad = companies[0][:-1] + ("0" if companies[0][-1] != "0" else "1")
    with pytest.raises(InvalidArgument) as info:
        registry.grant(bad, "bank-a", "scoring", T0 + dt.timedelta(days=1))
    assert bad not in str(info.value)
    with pytest.raises(InvalidArgument):
        registry.grant(companies[0], "bank-a", "marketing", T0 + dt.timedelta(days=1))
    with pytest.raises(InvalidArgument):
        registry.grant(companies[0], "bank-a", "scoring", dt.datetime(2030, 1, 1))  # naive
    assert audit.entries() == []


def test_registry_reopens_from_disk(setup, companies, tmp_path: Path) -> None:
    registry, audit, clock = setup
    registry.grant(companies[0], "bank-a", "scoring", T0 + dt.timedelta(days=1))
    registry.close()
    again = ConsentRegistry.in_data_dir(tmp_path, audit, actor=OPERATOR, clock=clock)
    assert again.check(companies[0], "bank-a", "scoring").bank_party == "bank-a"
    again.close()


def test_check_many_answers_as_check_does_for_each_company(setup, companies) -> None:
    """One query for several companies gives, per company, what :meth:`check` gives: the
    grant in force expiring last, or the same refusal (expired, revoked, another bank or
    scope, never granted); repeated and lower-case codes too; a malformed code is refused."""
    registry, _, clock = setup
    a, b, c = companies
    registry.grant(a, "bank-a", "scoring", T0 + dt.timedelta(days=10))
    longest = registry.grant(a, "bank-a", "all", T0 + dt.timedelta(days=40))
    registry.grant(b, "bank-a", "scoring", T0 + dt.timedelta(days=1))
    registry.grant(c, "bank-a", "scoring", T0 + dt.timedelta(days=30))
    registry.revoke(c, "bank-a", "scoring")
    registry.grant(c, "bank-b", "scoring", T0 + dt.timedelta(days=30))
    registry.grant(c, "bank-a", "training", T0 + dt.timedelta(days=30))
    asked = [a, b, c, a.lower(), b]
    for when in (T0, T0 + dt.timedelta(days=2)):
        clock.now = when
        got = registry.check_many(asked, "bank-a", "scoring")
        assert len(got) == len(asked)
        for code, verdict in zip(asked, got, strict=True):
            try:
                expected: object = registry.check(code, "bank-a", "scoring")
            except PermissionDenied as err:
                assert isinstance(verdict, PermissionDenied) and verdict.message == err.message
                assert code.upper() not in verdict.message
            else:
                assert verdict == expected
    assert registry.check_many([a], "bank-a", "scoring", now=T0)[0] == longest
    assert registry.check_many([], "bank-a", "scoring") == ()
    broken = a[:17] + ("1" if a[17] == "0" else "0")  # wrong check character
    with pytest.raises(InvalidArgument):
        registry.check_many([a, broken], "bank-a", "scoring")
