"""Issue 15 problem 3 and issue 14 row 10: one validated config model. Typos in node configs
and job files are refused with file, line and a suggestion; values are typed and bounded;
job files are checked completely before any network call; the reference page is generated
from the schemas and the documented examples work as written."""

from __future__ import annotations

import socket
import textwrap
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from bank_node.cli.main import EXIT_USAGE, main
from bank_node.config import SCHEMA as BANK_SCHEMA
from bank_node.config import BankConfig
from bank_node.jobs.runner import check_training_labels
from bank_node.jobs.spec import JobSpec, job_schema
from models.dataset import PartyTable
from models.errors import InvalidArgument
from platform_node.config import SCHEMA as PLATFORM_SCHEMA
from platform_node.config import PlatformConfig
from proto.transport.config_model import check_document

JOB = """\
[job]
name = "sme"
algorithm = "secureboost"

[bank_data]
source = "table"
path = "bank.csv"

[platform_data]
dataset = "breast"
as_of = 2022-01-01

[split]
valid_fraction = 0.25

[params]
n_estimators = 3
max_depth = 2
"""


def _job(tmp_path: Path, text: str = JOB) -> Path:
    (tmp_path / "bank.csv").write_text("id,y,x\na,0,1\n")
    path = tmp_path / "job.toml"
    path.write_text(text)
    return path


def _error(fn, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument) as info:
        fn(*args, **kwargs)
    return info.value.message


def test_job_typos_name_file_line_and_suggestion(tmp_path: Path) -> None:
    spec = JobSpec.load(_job(tmp_path))
    assert spec.params == {"n_estimators": 3, "max_depth": 2}
    assert spec.platform_data.as_of == "2022-01-01"  # a TOML date works as documented
    # a misspelled key (before: ignored, the default 0.2 used)
    path = _job(tmp_path, JOB.replace("valid_fraction", "valid_fration"))
    msg = _error(JobSpec.load, path)
    assert f"{path}:14: unknown key 'valid_fration' in [split]" in msg
    assert "did you mean 'valid_fraction'?" in msg
    # a misspelled table (before: ignored, so 50 trees of depth 5)
    msg = _error(JobSpec.load, _job(tmp_path, JOB.replace("[params]", "[parmas]")))
    assert ":16: unknown table [parmas] (did you mean 'params'?)" in msg
    # a misspelled hyper-parameter (before: refused only after PSI, without the key)
    msg = _error(JobSpec.load, _job(tmp_path, JOB.replace("max_depth", "max_dept")))
    assert ":18: unknown key 'max_dept' in [params] (did you mean 'max_depth'?)" in msg
    msg = _error(JobSpec.load, _job(tmp_path, JOB + "key_bits = 1024\n"))
    assert "set crypto.key_bits instead" in msg


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('n_estimators = "abc"', "[params] n_estimators must be an integer"),
        ("n_estimators = 1e9", "[params] n_estimators must be at most 10000"),
        ("n_estimators = 0", "[params] n_estimators must be at least 1"),
        ('privacy = "none"', "[params] privacy must be one of hardened, strict, standard"),
        ("learning_rate = nan", "[params] learning_rate must be a finite number"),
    ],
)
def test_job_values_typed_and_bounded(tmp_path: Path, line: str, expected: str) -> None:
    msg = _error(JobSpec.load, _job(tmp_path, JOB.replace("n_estimators = 3", line)))
    assert expected in msg and ":17:" in msg


def test_every_problem_at_once_and_file_errors(tmp_path: Path) -> None:
    text = JOB.replace("valid_fraction", "valid_fration").replace("[params]", "[parmas]")
    msg = _error(JobSpec.load, _job(tmp_path, text.replace('"secureboost"', '"xgboost"')))
    assert msg.count("\n") >= 3 and "algorithm must be one of" in msg
    missing = tmp_path / "nope.toml"
    assert _error(JobSpec.load, missing) == f"config file not found: {missing}"
    bad = _job(tmp_path, JOB.replace("max_depth = 2", "max_depth = = 2"))
    msg = _error(JobSpec.load, bad)
    assert str(bad) in msg and "line 18" in msg  # before: "config file is not valid TOML"
    gone = _job(tmp_path)
    (tmp_path / "bank.csv").unlink()
    assert "bank_data.path not found" in _error(JobSpec.load, gone)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_train_refuses_a_typo_before_any_network_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()  # nothing listens there: a network call would fail as unavailable
    (tmp_path / "bank.toml").write_text(
        f'[bank]\ndata_dir = "{tmp_path / "bank"}"\nplatform_target = "127.0.0.1:{port}"\n'
    )
    path = _job(tmp_path, JOB.replace("n_estimators = 3", "n_estimator = 3"))
    t0 = time.perf_counter()
    code = main(["train", str(path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "unknown key 'n_estimator'" in err and ":17:" in err
    assert time.perf_counter() - t0 < 5.0 and not (tmp_path / "bank" / "jobs").exists()


def test_node_config_typos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bank = tmp_path / "bank.toml"
    bank.write_text('[bank]\nparty = "bank-a"\nlisten_addr = "127.0.0.1:1"\n')
    msg = _error(BankConfig.load, bank)
    assert f"{bank}:3: unknown key 'listen_addr' in [bank] (did you mean 'listen'?)" in msg
    bank.write_text('[bank]\nmax_workers = "many"\n\n[bank.known_partys]\nx = "bank"\n')
    msg = _error(BankConfig.load, bank)
    assert "bank.toml:2: [bank] max_workers must be an integer" in msg
    unknown = "bank.toml:4: unknown table [bank.known_partys]"
    assert f"{unknown} (did you mean 'bank.known_parties'?)" in msg
    bank.write_text('[bnak]\nparty = "bank-a"\n')
    assert "unknown table [bnak] (did you mean 'bank'?)" in _error(BankConfig.load, bank)
    bank.write_text('[bank]\nparty = "bank-a"\n')
    monkeypatch.setenv("FEDCREDIT_BANK_MAX_WORKERS", "lots")
    assert _error(BankConfig.load, bank) == "FEDCREDIT_BANK_MAX_WORKERS must be an integer"
    monkeypatch.delenv("FEDCREDIT_BANK_MAX_WORKERS")
    platform = tmp_path / "platform.toml"
    platform.write_text(
        '[platform]\nsecureboost_min_privacy = "hardend"\n[platform.known_parties]\n'
        'bank-a = "bank"\n[platform.tables.t]\npath = "t.csv"\nid_col = "id"\n'
    )
    msg = _error(PlatformConfig.load, platform, plaintext=True)
    assert ":2: [platform] secureboost_min_privacy must be one of standard, hardened, strict" in (
        msg
    )
    assert ":7: unknown key 'id_col' in [platform.tables.t] (did you mean 'id_column'?)" in msg


def test_documented_examples_work_as_written(tmp_path: Path) -> None:
    for schema in (BANK_SCHEMA, PLATFORM_SCHEMA, job_schema("secureboost")):
        check_document(tomllib.loads(schema.example), schema, path="example", text=schema.example)
    # the example in bank_node/jobs/spec.py's docstring, as a user would copy it
    import bank_node.jobs.spec as spec_module

    doc = spec_module.__doc__ or ""
    example = textwrap.dedent(doc.split("Example::", 1)[1].split("\nThe whole file", 1)[0])
    spec = JobSpec.from_dict(tomllib.loads(example), base=tmp_path, text=example)
    assert spec.platform_data.as_of == "2022-01-01" and spec.params["n_estimators"] == 30


def test_configuration_page_is_generated_from_the_schemas() -> None:
    from bank_node.config_docs import DOC_PATH, render

    assert DOC_PATH.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is out of date: run python -m bank_node.config_docs"
    )


def test_training_labels_checked_before_psi(tmp_path: Path) -> None:
    spec = JobSpec.load(_job(tmp_path))

    def table(y: list[int]) -> PartyTable:
        n = len(y)
        return PartyTable(np.array([f"c{i}" for i in range(n)]), np.zeros((n, 1)), ["x"],
                          y=np.array(y))  # fmt: skip

    check_training_labels(table([0] * 10 + [1] * 5), spec)
    assert "at least 5 rows each" in _error(check_training_labels, table([0] * 20), spec)
    assert "no rows for platform_data.as_of = 2022-01-01" in _error(
        check_training_labels, table([]), spec
    )


def test_garbage_table_is_a_clear_error(tmp_path: Path) -> None:
    from bank_node.loanbook.loader import load_bank_table

    garbage = tmp_path / "bank.csv"
    garbage.write_bytes(b"\x00\xff\xfe garbage \x89PNG\r\n\x1a\n" * 50)
    assert "not readable CSV: bank.csv" in _error(load_bank_table, garbage)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "not readable CSV" in _error(load_bank_table, empty)
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    assert "not readable Parquet" in _error(load_bank_table, bad)


def test_platform_limit_and_cache_tables_are_part_of_the_schema(tmp_path: Path) -> None:
    body = textwrap.dedent(
        """
        [platform]
        party = "platform"
        listen = "127.0.0.1:50051"

        [platform.known_parties]
        bank-a = "bank"

        [platform.limits]
        party_streams = 2
        default_rate = [100, 200]

        [platform.limits.rates]
        VerifyLog = [1, 5]

        [platform.feature_tables]
        max_tables = 8
        """
    )
    path = tmp_path / "platform.toml"
    path.write_text(body)
    cfg = PlatformConfig.load(path)
    assert cfg.limits.party_streams == 2
    assert cfg.limits.rate_for("/fedcredit.v1.AuditService/VerifyLog").burst == 5
    assert cfg.feature_tables.max_tables == 8
    path.write_text(body.replace("party_streams", "party_stream"))
    with pytest.raises(InvalidArgument, match="did you mean 'party_streams'"):
        PlatformConfig.load(path)
    path.write_text(body.replace("[100, 200]", '"fast"'))
    with pytest.raises(InvalidArgument, match="list of numbers"):
        PlatformConfig.load(path)
