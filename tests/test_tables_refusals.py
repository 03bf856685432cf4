"""Refusals never carry the platform's schema or values (issue 16, item 3).

Every refusal the bank can receive about the platform's data is driven over the real gRPC peer
interface; each error message the bank gets is grepped for the platform's file name, column
names, ids, categories and values. Data refusals carry a rule and an opaque reference; the
platform's log holds the full reason under the same reference.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import models.secureboost.passive  # noqa: F401  (registers the platform half)
from experiments.support.grpc_harness import bank_peer, start_platform
from models.dataset import PartyTable
from models.errors import FedCreditError, InternalError, NotFound, PermissionDenied
from models.federation.party import Caller
from models.federation.session import DescribeRequest, DescribeResponse, SessionSpec
from models.secureboost.active import SecureBoostClassifier
from platform_node.data_provider import PlatformDataProvider, ServedTable
from platform_node.refusals import REFERENCE

SECRET_FILE = "zz_platform_secret_file"
SECRET_COLUMNS = ["zz_secret_income", "zz_secret_sector", "zz_secret_region"]
SECRET_ID_COLUMN = "zz_secret_key"
SECRET_CATEGORIES = ["Zebra_Holdings", "Quokka_Mining"]
SECRET_VALUE = "987654.321"
N = 40


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            SECRET_ID_COLUMN: [f"zzid{i:04d}" for i in range(N)],
            SECRET_COLUMNS[0]: np.r_[float(SECRET_VALUE), rng.normal(size=N - 1)],
            SECRET_COLUMNS[1]: rng.normal(size=N),
            SECRET_COLUMNS[2]: rng.normal(size=N),
        }
    )


def _secrets(frame: pd.DataFrame) -> list[str]:
    ids = frame[SECRET_ID_COLUMN].astype(str).tolist()
    return [SECRET_FILE, SECRET_ID_COLUMN, *SECRET_COLUMNS, *SECRET_CATEGORIES, SECRET_VALUE, *ids]


def _tables(tmp: Path) -> dict[str, ServedTable]:
    d = tmp / "served"
    d.mkdir()
    good = _frame()
    good.to_csv(d / f"{SECRET_FILE}_good.csv", index=False)
    good.assign(**{SECRET_ID_COLUMN: ["zzid0000"] * N}).to_csv(
        d / f"{SECRET_FILE}_dups.csv", index=False
    )
    text = good.assign(**{SECRET_COLUMNS[1]: [SECRET_CATEGORIES[i % 2] for i in range(N)]})
    text.to_csv(d / f"{SECRET_FILE}_text.csv", index=False)
    (d / f"{SECRET_FILE}_garbage.parquet").write_bytes(b"PAR1 not parquet " + SECRET_VALUE.encode())
    (d / f"{SECRET_FILE}_bad.txt").write_text("x")

    def served(name: str, **kw: object) -> ServedTable:
        return ServedTable(d / name, **{"id_column": SECRET_ID_COLUMN, **kw})  # type: ignore[arg-type]

    return {
        "good": served(f"{SECRET_FILE}_good.csv"),
        "missing": served(f"{SECRET_FILE}_missing.csv"),
        "noid": served(f"{SECRET_FILE}_good.csv", id_column=f"{SECRET_ID_COLUMN}_other"),
        "dups": served(f"{SECRET_FILE}_dups.csv"),
        "text": served(f"{SECRET_FILE}_text.csv"),  # string column: encoded, served
        "declared": served(
            f"{SECRET_FILE}_good.csv", categorical_columns=(f"{SECRET_COLUMNS[2]}_typo",)
        ),
        "garbage": served(f"{SECRET_FILE}_garbage.parquet"),
        "suffix": served(f"{SECRET_FILE}_bad.txt"),
    }


class _Exploding:
    """A data provider whose load fails with an unexpected error quoting platform data."""

    def load(self, dataset: str, caller: Caller, params: object) -> PartyTable:
        raise ValueError(f"could not convert string to float: {SECRET_CATEGORIES[0]!r}")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[object, PlatformDataProvider]]:
    provider = PlatformDataProvider(tmp_path / "platform", _tables(tmp_path))
    running = start_platform(
        tmp_path, provider, context_extras={"secureboost_min_privacy": "strict"}
    )
    yield running, provider
    running.stop(0.2)


def _describe(peer: object, job: str, dataset: str) -> FedCreditError:
    peer.open_session(SessionSpec(job_id=job, algorithm="describe", dataset=dataset))  # type: ignore[attr-defined]
    with pytest.raises(FedCreditError) as err:
        peer.call("describe/0", DescribeRequest(), DescribeResponse)  # type: ignore[attr-defined]
    return err.value


def _check_clean(messages: list[str], secrets: list[str]) -> None:
    for text in messages:
        low = text.lower()
        for secret in secrets:
            assert secret.lower() not in low, (secret, text)


def test_every_refusal_is_a_rule_and_a_reference(
    platform: tuple[object, PlatformDataProvider], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    running, _ = platform
    peer = bank_peer(running.port)  # type: ignore[attr-defined]
    caplog.set_level(logging.INFO, logger="fedcredit.platform")
    received: dict[str, FedCreditError] = {}
    try:
        for name in ("missing", "noid", "dups", "declared", "garbage", "suffix"):
            received[name] = _describe(peer, f"refuse-{name}", name)
        # a string column is a category now: the table is served, its categories stay home
        peer.open_session(SessionSpec(job_id="text-ok", algorithm="describe", dataset="text"))
        reply = peer.call(
            "describe/0", DescribeRequest(include_feature_names=True), DescribeResponse
        )
        assert reply.n_features == 3 and reply.feature_names == []
        received["unknown"] = _describe(peer, "refuse-unknown", f"{SECRET_FILE}_nope")
        # a protocol refusal on a good table: the platform requires strict SecureBoost
        frame = _frame()
        bank = PartyTable(
            ids=frame[SECRET_ID_COLUMN].to_numpy(str),
            X=np.random.default_rng(2).normal(size=(N, 2)),
            feature_names=["b0", "b1"],
            feature_groups=["bank", "bank"],
            y=(np.arange(N) % 2).astype(float),
        )
        with pytest.raises(FedCreditError) as err:
            SecureBoostClassifier(n_estimators=1, privacy="standard", key_bits=1024).fit(
                bank, peer, platform_dataset="good", job_id="refuse-privacy"
            )
        received["privacy"] = err.value
        # a served table that the platform refuses inside a training job
        with pytest.raises(FedCreditError) as err:
            SecureBoostClassifier(n_estimators=1, privacy="strict", key_bits=1024).fit(
                bank, peer, platform_dataset="dups", job_id="refuse-train"
            )
        received["train"] = err.value
    finally:
        peer.close()
    assert isinstance(received["missing"], NotFound)
    assert isinstance(received["unknown"], NotFound)
    assert isinstance(received["privacy"], PermissionDenied)
    messages = [e.message for e in received.values()]
    _check_clean(messages, _secrets(_frame()))
    logged = caplog.text
    for name in ("missing", "noid", "dups", "declared", "garbage", "suffix", "train"):
        match = REFERENCE.search(received[name].message)
        assert match, received[name].message
        # the platform log names the reason under the same reference
        line = next(r for r in caplog.records if match.group(0) in r.getMessage())
        assert SECRET_FILE in line.getMessage()
    assert f"{SECRET_COLUMNS[2]}_typo" in logged  # the declared column, on the platform only
    assert "duplicate id" in received["dups"].message
    assert "refused" in logged and "privacy" in logged  # the protocol refusal is logged too


def test_unexpected_platform_errors_carry_only_a_reference(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    running = start_platform(tmp_path, _Exploding())
    peer = bank_peer(running.port)
    try:
        err = _describe(peer, "explode", "anything")
    finally:
        peer.close()
        running.stop(0.2)
    assert isinstance(err, InternalError)
    ref = REFERENCE.search(err.message)
    assert ref and SECRET_CATEGORIES[0] not in err.message
    assert re.search(rf"{ref.group(0)}.*", caplog.text)
    assert SECRET_CATEGORIES[0] in caplog.text  # the traceback stays in the platform's log
