"""The financing white list over real gRPC with mutual TLS: recommenders upload (checked,
deduplicated, audited), banks see only companies that consented to be listed to them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bank_node.cli.whitelist_cmd import Candidate, WhitelistClient
from models.errors import InvalidArgument, PermissionDenied
from platform_node.whitelist.service import (
    CODES_PER_ENTRY,
    WHITELIST_QUERIED,
    WHITELIST_RECOMMENDED,
    WHITELIST_RECOMMENDED_CODES,
)
from tests.whitelist_support import OPERATOR, Platform, start, tls


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = start(tmp_path, n_companies=12)
    yield p
    p.stop()


def client(p: Platform, party: str) -> WhitelistClient:
    return WhitelistClient(p.target, tls(party), server_name="platform")


def codes(p: Platform) -> list[str]:
    return [str(c) for c in p.companies["uscc"]]


def recommend(p: Platform, who: str, usccs: list[str], reason: str = "tech SME") -> object:
    with client(p, who) as c:
        return c.recommend([Candidate(u, reason, ("high-tech", "tax A")) for u in usccs])


def listed(p: Platform, bank: str = "bank-a", industry: str = "", district: str = "") -> list[str]:
    with client(p, bank) as c:
        return [e.uscc for e in c.list(industry, district).entries]


def test_white_list_hides_companies_without_listing_consent(platform: Platform) -> None:
    c = codes(platform)
    reply = recommend(platform, "jinshui-district", c[:6])
    assert reply.accepted == 6  # type: ignore[attr-defined]
    platform.grant(c[0], "bank-a", "whitelist_listing")
    platform.grant(c[1], "bank-a", "whitelist_listing")
    platform.grant(c[2], "bank-a", "scoring")  # scoring consent is not listing consent
    platform.grant(c[3], "bank-a", "all")  # nor is "all"
    platform.grant(c[4], "bank-b", "whitelist_listing")  # another bank's listing
    platform.grant(c[6], "bank-a", "whitelist_listing")  # consented but never recommended
    assert listed(platform, "bank-a") == sorted([c[0], c[1]])
    assert listed(platform, "bank-b") == [c[4]]
    # a revoked listing consent removes the company at once
    platform.consent.revoke(c[1], "bank-a", "whitelist_listing", actor=OPERATOR)
    assert listed(platform, "bank-a") == [c[0]]
    # listing does not open the scoring path: the scoring check still refuses
    with pytest.raises(PermissionDenied):
        platform.consent.check(c[0], "bank-a", "scoring")


def test_only_recommenders_upload_and_only_banks_read(platform: Platform) -> None:
    c = codes(platform)
    for party in ("bank-a", "regulator", "platform"):
        with client(platform, party) as cl, pytest.raises(PermissionDenied):
            cl.recommend([Candidate(c[0], "good")])
    for party in ("jinshui-district", "regulator"):
        with client(platform, party) as cl, pytest.raises(PermissionDenied):
            cl.list()
    assert platform.consent.list() == []
    assert platform.entries(WHITELIST_RECOMMENDED) == []


def test_invalid_uscc_rejected_and_counted(platform: Platform) -> None:
    c = codes(platform)
    bad_check = c[0][:-1] + ("0" if c[0][-1] != "0" else "1")
    with client(platform, "tech-bureau") as cl:
        reply = cl.recommend(
            [
                Candidate(c[0], "exporter"),
                Candidate(bad_check, "exporter"),  # wrong check character
                Candidate("not-a-code", "exporter"),
                Candidate(c[1], ""),  # no reason
                Candidate(c[2][:10], "exporter"),  # too short
            ]
        )
    assert reply.received == 5
    assert reply.accepted == 1
    assert (reply.rejected_invalid_uscc, reply.rejected_other) == (3, 1)
    kinds = {r.index: r.kind for r in reply.rejected}
    assert kinds == {
        1: "invalid_uscc",
        2: "invalid_uscc",
        3: "invalid_candidate",
        4: "invalid_uscc",
    }
    assert all(c[0] not in r.message and "not-a-code" not in r.message for r in reply.rejected)
    (entry,) = platform.entries(WHITELIST_RECOMMENDED)
    assert entry["_actor"] == "tech-bureau"
    assert entry["accepted"] == 1 and entry["n_parts"] == 1 and entry["outcome"] == "ok"
    (codes_entry,) = platform.entries(WHITELIST_RECOMMENDED_CODES)
    assert codes_entry["upload_id"] == entry["upload_id"] and codes_entry["usccs"] == [c[0]]
    assert entry["rejected_invalid_uscc"] == reply.rejected_invalid_uscc


def test_unknown_company_is_refused(platform: Platform) -> None:
    import numpy as np

    from models.uscc import generate_usccs

    stranger = generate_usccs(1, np.random.default_rng(99))[0]
    assert stranger not in codes(platform)
    with client(platform, "tech-bureau") as cl:
        reply = cl.recommend([Candidate(stranger, "good")])
    assert reply.accepted == 0 and reply.rejected_other == 1
    assert reply.rejected[0].kind == "unknown_company"


def test_duplicates_and_who_recommended_whom(platform: Platform) -> None:
    c = codes(platform)
    first = recommend(platform, "jinshui-district", [c[0], c[1], c[0]])
    assert (first.accepted, first.duplicates) == (2, 1)  # type: ignore[attr-defined]
    again = recommend(platform, "jinshui-district", [c[0]])
    assert (again.accepted, again.duplicates) == (0, 1)  # type: ignore[attr-defined]
    other = recommend(platform, "tech-bureau", [c[0]], reason="patents")
    assert other.accepted == 1  # type: ignore[attr-defined]
    platform.grant(c[0], "bank-a", "whitelist_listing")
    with client(platform, "bank-a") as cl:
        (entry,) = cl.list().entries
    assert entry.uscc == c[0]
    assert entry.name == "company 0"
    who = {(r.recommender, r.reason) for r in entry.recommendations}
    assert who == {("jinshui-district", "tech SME"), ("tech-bureau", "patents")}
    assert list(entry.recommendations[0].criteria) == ["high-tech", "tax A"]


def test_filters_by_industry_and_district(platform: Platform) -> None:
    c = codes(platform)
    recommend(platform, "jinshui-district", c[:8])
    for u in c[:8]:
        platform.grant(u, "bank-a", "whitelist_listing")
    # company i: industry ["C26", "C39", "F51", "I65"][i % 4], district ["410105", "410102"][i % 2]
    assert listed(platform, industry="C") == sorted([c[0], c[1], c[4], c[5]])
    assert listed(platform, industry="C26") == sorted([c[0], c[4]])
    assert listed(platform, district="410102") == sorted([c[1], c[3], c[5], c[7]])
    assert listed(platform, industry="F", district="410102") == []
    assert listed(platform, industry="F", district="410105") == sorted([c[2], c[6]])
    assert listed(platform, industry="I65", district="410102") == sorted([c[3], c[7]])
    with client(platform, "bank-a") as cl:
        assert cl.list(limit=3).total == 8
        assert len(cl.list(limit=3).entries) == 3
        with pytest.raises(InvalidArgument):
            cl.list(district="Jinshui")
        with pytest.raises(InvalidArgument):
            cl.list(industry="26")


def test_every_query_is_audited(platform: Platform) -> None:
    c = codes(platform)
    recommend(platform, "jinshui-district", c[:3])
    platform.grant(c[0], "bank-a", "whitelist_listing")
    with client(platform, "bank-a") as cl:
        ok = cl.list(industry="C")
        with pytest.raises(InvalidArgument):
            cl.list(district="x")
    with client(platform, "bank-b") as cl:
        cl.list()
    entries = platform.entries(WHITELIST_QUERIED)
    assert [e["bank_party"] for e in entries] == ["bank-a", "bank-a", "bank-b"]
    assert entries[0]["query_id"] == ok.query_id
    assert entries[0]["outcome"] == "ok" and entries[0]["n_returned"] == 1
    assert entries[0]["industry"] == "C"
    assert entries[1]["outcome"] == "error" and entries[1]["error"] == "invalid_argument"
    assert entries[2]["outcome"] == "ok" and entries[2]["total"] == 0


def test_store_is_private(platform: Platform) -> None:
    recommend(platform, "jinshui-district", codes(platform)[:1])
    db = platform.data_dir / "whitelist" / "whitelist.db"
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(db.parent).st_mode) == 0o700


def test_a_large_upload_is_audited_in_parts(tmp_path: Path) -> None:
    import hashlib

    p = start(tmp_path, n_companies=2 * CODES_PER_ENTRY + 50)
    try:
        c = codes(p)
        reply = recommend(p, "tech-bureau", c)
        assert reply.accepted == len(c)  # type: ignore[attr-defined]
        (entry,) = p.entries(WHITELIST_RECOMMENDED)
        parts = p.entries(WHITELIST_RECOMMENDED_CODES)
        assert entry["n_parts"] == len(parts) == 3
        audited = [u for part in parts for u in part["usccs"]]  # type: ignore[attr-defined]
        assert sorted(audited) == sorted(c)
        digest = hashlib.sha256("\n".join(audited).encode()).hexdigest()
        assert entry["usccs_sha256"] == digest
    finally:
        p.stop()


def test_a_refused_upload_is_audited_and_records_nothing(platform: Platform) -> None:
    from platform_node.whitelist.service import MAX_CANDIDATES

    c = codes(platform)
    with client(platform, "tech-bureau") as cl, pytest.raises(InvalidArgument):
        cl.recommend([Candidate(c[0], "x")] * (MAX_CANDIDATES + 1))
    (entry,) = platform.entries(WHITELIST_RECOMMENDED)
    assert entry["outcome"] == "error" and entry["error"] == "invalid_argument"
    assert entry["received"] == MAX_CANDIDATES + 1 and entry["_actor"] == "tech-bureau"
    assert platform.entries(WHITELIST_RECOMMENDED_CODES) == []
    platform.grant(c[0], "bank-a", "whitelist_listing")
    assert listed(platform) == []
