"""Issue 16 item 4: served tables are validated, versioned and changed while the platform runs.

Before: a served table was read only when a job used it (a bad file surfaced in the middle of a
job), and adding or changing one needed a platform restart. Now `platform_node.tables` keeps
numbered versions (validated, snapshotted, audited with digests); the running node serves the
active version of each name from the next request on; `dataset_described` names the version.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bank_node.cli.main import main
from experiments.support.grpc_harness import bank_peer, start_platform
from models.audit import Actor
from models.audit import events as ev
from models.errors import FailedPrecondition, FedCreditError, InvalidArgument, NotFound
from models.federation.party import Caller
from models.federation.session import DescribeRequest, DescribeResponse, SessionSpec
from models.uscc import generate_usccs
from platform_node.data_provider import PlatformDataProvider, ServedTable
from platform_node.tables import ServedTableRegistry, check_table
from proto.transport.audit_servicer import open_node_audit_log

N = 60


def _frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "uscc": generate_usccs(n, rng),
            "tax_paid": rng.normal(size=n),
            "staff": rng.integers(1, 50, size=n).astype(float),
            "district": rng.choice(["金水区", "二七区", "中原区"], size=n),
        }
    )


def _broken(code: str) -> str:
    """The code with a wrong check character."""
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def _csv(tmp: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp / name
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def registry(tmp_path: Path) -> ServedTableRegistry:
    data_dir = tmp_path / "platform"
    audit = open_node_audit_log(data_dir, "platform", "platform")
    return ServedTableRegistry(data_dir, audit, Actor("platform/operator", "platform", ""))


def test_add_validates_snapshots_and_audits(registry: ServedTableRegistry, tmp_path: Path) -> None:
    src = _csv(tmp_path, "firms.csv", _frame())
    v1, report = registry.add("firms", src, id_column="uscc")
    assert (v1.version, v1.status, v1.n_rows, v1.n_features) == (1, "active", N, 3)
    assert report.id_format == "uscc" and report.ok
    # the snapshot is what is served: private, and independent of the operator's file
    assert v1.path.parent == registry.root / "firms" and v1.path.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(v1.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(registry.db_path.stat().st_mode) == 0o600
    src.write_text("garbage")
    assert registry.active("firms") == v1
    entries = [e for e in registry.audit.entries() if e.event == ev.SERVED_TABLE_ADDED]  # type: ignore[union-attr]
    assert entries[-1].details["table_digest"] == v1.table_digest
    assert entries[-1].details["file_digest"] == v1.file_digest
    assert entries[-1].details["table_version"] == 1
    assert entries[-1].actor.party == "platform/operator"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda f: pd.concat([f, f.iloc[:2]]), "duplicate ids"),
        (lambda f: f.assign(uscc=[_broken(c) if i < 5 else c for i, c in enumerate(f.uscc)]),
         "5 id\\(s\\) in 'uscc' are not valid USCCs"),
        (lambda f: f.assign(staff=np.nan), "columns missing in more than 95%"),
        (lambda f: f.drop(columns=["uscc"]), "id column"),
    ],
    ids=["duplicates", "bad-uscc", "missing", "no-id"],
)  # fmt: skip
def test_a_bad_file_is_refused_with_the_reason_and_nothing_recorded(
    registry: ServedTableRegistry, tmp_path: Path, edit: object, expected: str
) -> None:
    src = _csv(tmp_path, "bad.csv", edit(_frame()))  # type: ignore[operator]
    with pytest.raises(InvalidArgument, match=expected):
        registry.add("firms", src, id_column="uscc", id_format="auto")
    assert registry.versions() == [] and not list((registry.root / "firms").iterdir())


def test_check_decides_the_id_format_and_reports_missing(tmp_path: Path) -> None:
    frame = _frame().assign(staff=lambda f: f.staff.where(np.arange(N) % 4 != 0))
    report = check_table(ServedTable(_csv(tmp_path, "a.csv", frame), "uscc"))
    assert report.ok and report.id_format == "uscc"
    assert report.missing_ratio["staff"] == pytest.approx(0.25)
    plain = frame.assign(uscc=[f"row{i}" for i in range(N)])
    report = check_table(ServedTable(_csv(tmp_path, "b.csv", plain), "uscc"))
    assert report.ok and report.id_format == "any" and report.n_invalid_ids == 0


def test_versions_supersede_retire_and_sync(registry: ServedTableRegistry, tmp_path: Path) -> None:
    src = _csv(tmp_path, "firms.csv", _frame())
    spec = ServedTable(src, "uscc")
    assert [v.version for v in registry.sync({"firms": spec})] == [1]
    assert registry.sync({"firms": spec}) == []  # unchanged file: nothing new at restart
    _csv(tmp_path, "firms.csv", _frame(seed=1))
    assert [v.version for v in registry.sync({"firms": spec})] == [2]
    assert [v.status for v in registry.versions("firms")] == ["superseded", "active"]
    retired = registry.retire("firms")
    assert retired.version == 2 and registry.active("firms") is None
    assert registry.active_names() == []
    with pytest.raises(FailedPrecondition):
        registry.retire("firms")
    with pytest.raises(InvalidArgument):
        registry.add("catalogue", src)
    with pytest.raises(NotFound):
        registry.add("firms", tmp_path / "nope.csv")


def test_the_running_node_serves_changes_without_a_restart(
    registry: ServedTableRegistry, tmp_path: Path
) -> None:
    """A version added or retired by the operator (another process: the CLI) is served from the
    next request on; the describe audit entry names the version a job used."""
    provider = PlatformDataProvider(registry.root.parent, registry=registry)
    running = start_platform(tmp_path, provider, audit_log=registry.audit)
    peer = bank_peer(running.port)

    def describe(job: str, dataset: str) -> DescribeResponse:
        peer.open_session(SessionSpec(job_id=job, algorithm="describe", dataset=dataset))
        try:
            return peer.call("describe/0", DescribeRequest(), DescribeResponse)
        finally:
            peer.close_session()

    try:
        with pytest.raises(FedCreditError, match="unknown dataset"):
            describe("before", "firms")
        config = tmp_path / "platform.toml"
        config.write_text(
            f'[platform]\nparty = "platform"\ndata_dir = "{registry.root.parent}"\n'
            '[platform.known_parties]\n"bank-a" = "bank"\n'
        )
        src = _csv(tmp_path, "firms.csv", _frame())
        add = ["platform", "tables", "add", "--config", str(config), "--name", "firms"]
        assert main([*add, "--path", str(src), "--id-column", "uscc"]) == 0
        first = describe("v1", "firms")
        assert first.n_rows == N and first.n_features == 3
        assert main([*add, "--path", str(_csv(tmp_path, "f2.csv", _frame(N + 5, seed=3))),
                     "--id-column", "uscc"]) == 0  # fmt: skip
        second = describe("v2", "firms")
        assert second.n_rows == N + 5 and second.digest != first.digest
        described = [
            e.details
            for e in registry.audit.entries()  # type: ignore[union-attr]
            if e.event == ev.DATASET_DESCRIBED
        ]
        assert [d["table_version"] for d in described] == [1, 2]
        retire = ["platform", "tables", "retire", "--config", str(config), "--name", "firms"]
        assert main(retire) == 0
        with pytest.raises(FedCreditError, match="unknown dataset"):
            describe("after", "firms")
    finally:
        peer.close()
        running.stop(0.2)


def test_cli_list_and_check(
    registry: ServedTableRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "platform.toml"
    config.write_text(
        f'[platform]\nparty = "platform"\ndata_dir = "{registry.root.parent}"\n'
        '[platform.known_parties]\n"bank-a" = "bank"\n'
    )
    good = _csv(tmp_path, "good.csv", _frame())
    bad = _csv(tmp_path, "bad.csv", pd.concat([_frame(), _frame().iloc[:1]]))
    assert main(["platform", "tables", "check", "--config", str(config), "--path", str(good),
                 "--id-column", "uscc"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["platform", "tables", "check", "--config", str(config), "--path", str(bad),
                 "--id-column", "uscc"]) == 2  # fmt: skip
    assert "duplicate id" in json.loads(capsys.readouterr().out)["problems"][0]
    registry.add("firms", good, id_column="uscc")
    assert main(["platform", "tables", "list", "--config", str(config), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(t["name"], t["version"], t["status"]) for t in listed] == [("firms", 1, "active")]
    _ = Caller  # the bank never sees any of this: a refusal it gets is a rule and a reference
