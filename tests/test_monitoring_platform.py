"""The platform's feature stability over a bank's monitored population, over gRPC with mutual
TLS: values equal a direct numpy computation, only consented companies count, the minimum
population and the differencing rule hold, banks only, every query audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bank_node.monitoring.client import MonitoringClient
from models.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from platform_node.monitoring.service import FEATURE_STABILITY_QUERIED
from tests.monitoring_support import CURRENT, REFERENCE, ShiftingProvider, direct_psi
from tests.whitelist_support import Platform, start, tls

N = 90
CONSENTED = 70


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Platform, ShiftingProvider, list[str]]]:
    from tests.whitelist_support import licences

    codes = [str(c) for c in licences(N)["uscc"]]
    provider = ShiftingProvider(codes, absent=codes[5])
    p = start(tmp_path, n_companies=N, data=provider)
    for code in codes[:CONSENTED]:
        p.grant(code, "bank-a", "post_loan_monitoring")
    for code in codes[CONSENTED:]:
        p.grant(code, "bank-a", "scoring")  # not a monitoring consent
    yield p, provider, codes
    p.stop()


def client(p: Platform, party: str = "bank-a") -> MonitoringClient:
    return MonitoringClient(p.target, tls(party), server_name="platform")


def test_indices_match_numpy_over_the_consented_population(setup: tuple) -> None:
    p, provider, codes = setup
    with client(p) as c:
        reply = c.feature_stability(codes, REFERENCE, CURRENT)
    used = [i for i in range(CONSENTED) if i != 5]  # consented and present at both dates
    assert reply.n_requested == N and reply.n_population == len(used)
    ref = provider.table_at(REFERENCE).X[used]
    cur_table = provider.table_at(CURRENT)
    rows = {u: k for k, u in enumerate(cur_table.ids.tolist())}
    cur = cur_table.X[[rows[codes[i]] for i in used]]
    expected = [direct_psi(ref[:, j], cur[:, j]) for j in range(3)]
    got = [f.index for f in reply.features]
    assert got == pytest.approx(expected, rel=1e-9)
    # names hidden unless the platform shares them: category and position only
    assert [f.feature for f in reply.features] == ["tax/f0", "judicial/f1", "social_security/f2"]
    assert got[0] < 0.1 and got[1] >= 0.25 and got[2] >= 0.1
    # only the index values travel: no bins, shares or rows in the answer
    assert set(reply.features[0].__dataclass_fields__) == {"feature", "group", "index"}


def test_minimum_population_is_enforced(setup: tuple) -> None:
    p, _, codes = setup
    with client(p) as c:
        with pytest.raises(FailedPrecondition, match="minimum of 50"):
            c.feature_stability(codes[:49], REFERENCE, CURRENT)
        # 60 named, but only 49 with a monitoring consent (11 have scoring consent only)
        with pytest.raises(FailedPrecondition, match="minimum of 50"):
            c.feature_stability(codes[21:81], REFERENCE, CURRENT)
        # 50 named and consented, but one is not in the platform's data at the current date
        with pytest.raises(FailedPrecondition, match="minimum of 50"):
            c.feature_stability(codes[:50], REFERENCE, CURRENT)
        assert c.feature_stability(codes[:51], REFERENCE, CURRENT).n_population == 50
    with client(p, "bank-b") as c, pytest.raises(FailedPrecondition):
        c.feature_stability(codes, REFERENCE, CURRENT)  # no consent to bank-b at all
    entries = p.entries(FEATURE_STABILITY_QUERIED)
    assert [e["outcome"] for e in entries] == ["error"] * 3 + ["ok", "error"]
    assert [e["bank_party"] for e in entries] == ["bank-a"] * 4 + ["bank-b"]
    assert entries[3]["n_population"] == 50 and len(str(entries[3]["population_digest"])) == 64


def test_two_close_populations_cannot_be_differenced(setup: tuple) -> None:
    p, _, codes = setup
    with client(p) as c:
        c.feature_stability(codes[:60], REFERENCE, CURRENT)
        c.feature_stability(codes[:60], REFERENCE, CURRENT)  # the same population again: fine
        with pytest.raises(FailedPrecondition, match="too few companies"):
            c.feature_stability(codes[:61], REFERENCE, CURRENT)  # one company more
        with pytest.raises(FailedPrecondition, match="too few companies"):
            c.feature_stability(codes[1:60], REFERENCE, CURRENT)  # one company less
        # other dates are another comparison
        c.feature_stability(codes[:61], REFERENCE, "2026-02-01")


def test_only_banks_and_valid_requests(setup: tuple) -> None:
    p, _, codes = setup
    for party in ("regulator", "jinshui-district"):
        with client(p, party) as c, pytest.raises(PermissionDenied):
            c.feature_stability(codes, REFERENCE, CURRENT)
    with client(p) as c:
        with pytest.raises(InvalidArgument):
            c.feature_stability(codes, "2026-13-01", CURRENT)
        with pytest.raises(InvalidArgument):
            c.feature_stability(codes, REFERENCE, CURRENT, n_bins=50)


def test_feature_names_when_the_platform_shares_them(tmp_path: Path) -> None:
    from tests.whitelist_support import licences

    codes = [str(c) for c in licences(60)["uscc"]]
    p = start(
        tmp_path,
        n_companies=60,
        data=ShiftingProvider(codes),
        monitoring_extras={"share_feature_names": True},
    )
    try:
        for code in codes:
            p.grant(code, "bank-a", "post_loan_monitoring")
        with client(p) as c:
            reply = c.feature_stability(codes, REFERENCE, CURRENT)
        assert [f.feature for f in reply.features][:2] == ["tax_paid_12m", "court_cases_3y"]
        assert np.isfinite([f.index for f in reply.features]).all()
    finally:
        p.stop()


def test_decoys_do_not_make_the_guard_forget() -> None:
    from platform_node.monitoring.service import _POPULATIONS_PER_KEY, PopulationGuard

    guard = PopulationGuard(50)
    key = ("bank-a", "catalogue", "", REFERENCE, CURRENT, "10")
    first = frozenset(f"c{i}" for i in range(60))
    guard.admit(key, first)
    for k in range(1, _POPULATIONS_PER_KEY):  # decoys, each far from the others
        guard.admit(key, frozenset(f"d{k}-{i}" for i in range(60)))
    with pytest.raises(FailedPrecondition, match="too many different populations"):
        guard.admit(key, frozenset(f"e{i}" for i in range(60)))
    with pytest.raises(FailedPrecondition, match="too few companies"):
        guard.admit(key, first | {"target"})  # the first population is still remembered
    guard.admit(key, first)  # the same population again is answered
    guard.admit(("bank-b", *key[1:]), first | {"target"})  # another bank's key


def test_the_differencing_rule_survives_a_platform_restart(tmp_path: Path) -> None:
    import os
    import sqlite3
    import stat

    from platform_node.monitoring.populations import PopulationGuard, PopulationStore

    key = ("bank-a", "catalogue", "", REFERENCE, CURRENT, "10")
    first = frozenset(f"91110000MA0{i:07d}" for i in range(60))
    store = PopulationStore.in_data_dir(tmp_path)
    PopulationGuard(50, store).admit(key, first)
    store.close()

    # restart: a new store and guard (a new service object) on the same data directory
    store = PopulationStore.in_data_dir(tmp_path)
    guard = PopulationGuard(50, store)
    with pytest.raises(FailedPrecondition, match="too few companies"):
        guard.admit(key, first | {"91110000MA0TARGET0"})
    guard.admit(key, first)  # the same population again is answered
    guard.admit(("bank-b", *key[1:]), first | {"91110000MA0TARGET0"})  # another bank's key
    store.close()

    # stored private and hashed: no USCC in clear anywhere in the file
    path = tmp_path / "monitoring" / "populations.db"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    raw = path.read_bytes()
    assert b"91110000MA0" not in raw and b"TARGET" not in raw


def test_the_service_remembers_populations_across_a_restart(tmp_path: Path) -> None:
    from tests.whitelist_support import licences

    codes = [str(c) for c in licences(N)["uscc"]]
    p = start(tmp_path, n_companies=N, data=ShiftingProvider(codes))
    try:
        for code in codes[:CONSENTED]:
            p.grant(code, "bank-a", "post_loan_monitoring")
        with client(p) as c:
            assert c.feature_stability(codes[:60], REFERENCE, CURRENT).n_population == 60
    finally:
        p.stop()
    p = start(tmp_path, n_companies=N, data=ShiftingProvider(codes))  # same data directory
    try:
        with client(p) as c, pytest.raises(FailedPrecondition, match="too few companies"):
            c.feature_stability(codes[:61], REFERENCE, CURRENT)
    finally:
        p.stop()
