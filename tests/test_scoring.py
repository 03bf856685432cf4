"""Scoring end to end: an officer scores through the bank, the platform computes its part only
with consent, both nodes on loopback over mutual TLS; errors, roles, audit, batch, CLI."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bank_node.audit_service import bank_audit_log
from bank_node.scoring.client import ScoringClient
from bank_node.scoring.engine import BankScoringEngine
from bank_node.scoring.model_store import ModelStore
from bank_node.scoring.settings import ScoringSettings
from experiments.support.grpc_harness import shared_pki
from experiments.support.scoring import (
    CARD_NAME,
    LR_NAME,
    PLATFORM_GROUPS,
    SB_NAME,
    Nodes,
    Trained,
    bank_config,
    register_models,
    start_nodes,
    synthetic_tables,
    train_models,
)
from models.audit import events as ev
from models.errors import (
    FailedPrecondition,
    FedCreditError,
    InternalError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from models.federation.messages import WireMessage
from models.federation.party import Caller
from models.federation.peer import ScoringPeer
from models.logreg.scoring import LinearScoreRequest, LinearScoreResponse
from models.secureboost.scoring import SbScoreRequest, SbScoreResponse
from models.uscc import generate_usccs
from proto.transport.codec import ProtobufCodec
from proto.transport.tls import TlsFiles

TOL = 1e-9
FAMILIES = {SB_NAME: "secureboost", LR_NAME: "logreg", CARD_NAME: "scorecard"}
SETTINGS = ScoringSettings(key_bits=1024, retry_attempts=3, retry_initial_s=0.05, retry_max_s=0.2)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Trained, Nodes, Path]]:
    root = tmp_path_factory.mktemp("scoring")
    bank, plat = synthetic_tables(240, seed=1)
    trained = train_models(bank, plat, root / "platform", root / "bank", scorecard=True)
    register_models(trained, root / "bank")
    nodes = start_nodes(shared_pki(), root / "platform", root / "bank", plat, settings=SETTINGS)
    yield trained, nodes, root
    nodes.stop()


@pytest.fixture(scope="module")
def trained(setup: tuple[Trained, Nodes, Path]) -> Trained:
    return setup[0]


@pytest.fixture(scope="module")
def nodes(setup: tuple[Trained, Nodes, Path]) -> Nodes:
    return setup[1]


def _outsider() -> str:
    """A valid USCC that neither node knows."""
    return generate_usccs(1, np.random.default_rng(99), division_codes=("410199",))[0]


def _uscc(trained: Trained, row: int) -> str:
    return str(trained.bank.ids[row])


@pytest.mark.parametrize("model", [SB_NAME, LR_NAME, CARD_NAME])
def test_officer_score_matches_offline_federated_prediction(
    trained: Trained, nodes: Nodes, model: str
) -> None:
    client = nodes.client("alice")
    settings = SETTINGS
    for row in (0, 7, 31, 64, 150):
        uscc = _uscc(trained, row)
        consent_id = nodes.grant(uscc)
        reply = client.score(ScoringClient.request(uscc, model=model))
        expected = trained.offline_pd(FAMILIES[model], row)
        assert abs(reply.probability_of_default - expected) < TOL
        assert reply.model_family == FAMILIES[model]
        assert reply.model_name == model and reply.model_version == "1"
        assert reply.consent_id == consent_id
        assert reply.risk_band == settings.risk_bands.band(reply.probability_of_default)
        if model == CARD_NAME:  # the scorecard's own points
            assert abs(reply.score - trained.offline_points(row)) < 1e-6
        else:
            assert reply.score == pytest.approx(
                settings.points.points(reply.probability_of_default)
            )
        assert len(reply.reasons) <= settings.max_reasons
        for r in reply.reasons:
            if r.source == "platform" and model == SB_NAME:
                assert r.factor == "platform"  # trees: the platform's data as one factor
            elif r.source == "platform":
                assert r.factor in PLATFORM_GROUPS  # a category, never a feature or a value
            else:
                assert r.factor in trained.bank.feature_names
            assert r.code.endswith(r.factor)
        assert [r.rank for r in reply.reasons] == list(range(1, len(reply.reasons) + 1))


def test_models_by_default_alias_and_id(trained: Trained, nodes: Nodes) -> None:
    client = nodes.client()
    uscc = _uscc(trained, 3)
    nodes.grant(uscc)
    default = client.score(ScoringClient.request(uscc))
    assert default.model_name == SB_NAME  # the first approved champion is the default
    by_alias = client.score(ScoringClient.request(uscc, model=f"{LR_NAME}@champion"))
    by_id = client.score(ScoringClient.request(uscc, model=trained.lr.model_id_))
    assert by_alias.model_id == by_id.model_id == trained.lr.model_id_
    assert by_alias.probability_of_default == pytest.approx(by_id.probability_of_default, abs=TOL)
    with pytest.raises(NotFound):
        client.score(ScoringClient.request(uscc, model="no-such-model"))


def test_bank_fields_override_records(trained: Trained, nodes: Nodes) -> None:
    client = nodes.client()
    row = 11
    uscc = _uscc(trained, row)
    nodes.grant(uscc)
    values = {n: 2.5 for n in trained.bank.feature_names}
    reply = client.score(ScoringClient.request(uscc, model=LR_NAME, fields=values))
    edited = trained.bank.take(np.arange(trained.bank.n_rows))
    edited.X[row] = 2.5
    expected = trained.lr.predict_proba(edited, trained.peer, rows=np.asarray([row]))[0, 1]
    assert abs(reply.probability_of_default - expected) < TOL
    with pytest.raises(InvalidArgument):
        client.score(ScoringClient.request(uscc, fields={"not_a_feature": 1.0}))


def _errors(trained: Trained, nodes: Nodes) -> dict[str, FedCreditError]:
    client = nodes.client()
    out: dict[str, FedCreditError] = {}
    cases = {
        "no_consent": ScoringClient.request(_uscc(trained, 5)),
        "invalid": ScoringClient.request(_uscc(trained, 6)[:-1] + "Y"),  # wrong check char
        "garbage": ScoringClient.request("not a code"),
    }
    outsider = _outsider()
    nodes.grant(outsider)
    fields = {n: 0.0 for n in trained.bank.feature_names}
    cases["unknown_company"] = ScoringClient.request(outsider, model=LR_NAME, fields=fields)
    cases["unknown_to_bank"] = ScoringClient.request(outsider, model=SB_NAME)
    for name, request in cases.items():
        with pytest.raises(FedCreditError) as info:
            client.score(request)
        out[name] = info.value
    return out


def test_error_codes_and_messages_leak_no_data(trained: Trained, nodes: Nodes) -> None:
    errors = _errors(trained, nodes)
    assert isinstance(errors["no_consent"], PermissionDenied)
    assert isinstance(errors["invalid"], InvalidArgument)
    assert isinstance(errors["garbage"], InvalidArgument)
    assert isinstance(errors["unknown_company"], NotFound)
    assert isinstance(errors["unknown_to_bank"], NotFound)
    codes = [_uscc(trained, 5), _uscc(trained, 6), _outsider(), "not a code"]
    for err in errors.values():
        for code in codes:
            assert code not in err.message and code[:17] not in err.message


def test_revoked_and_expired_consent_are_refused(trained: Trained, nodes: Nodes) -> None:
    client = nodes.client()
    revoked, expiring = _uscc(trained, 20), _uscc(trained, 21)
    nodes.grant(revoked)
    client.score(ScoringClient.request(revoked))
    nodes.consent.revoke(revoked, "bank-a")
    with pytest.raises(PermissionDenied):
        client.score(ScoringClient.request(revoked))
    import datetime as dt

    nodes.consent.grant(
        expiring, "bank-a", "scoring", dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    )
    client.score(ScoringClient.request(expiring))
    time.sleep(1.1)
    with pytest.raises(PermissionDenied):
        client.score(ScoringClient.request(expiring))
    # consent to another bank does not authorise this one
    other = _uscc(trained, 22)
    nodes.grant(other, bank="bank-b")
    with pytest.raises(PermissionDenied):
        client.score(ScoringClient.request(other))


def test_roles_only_this_banks_officers_score(trained: Trained, nodes: Nodes) -> None:
    uscc = _uscc(trained, 40)
    nodes.grant(uscc)
    with pytest.raises(PermissionDenied):
        nodes.client("regulator").score(ScoringClient.request(uscc))
    with pytest.raises(Unauthenticated):  # another bank's certificate is unknown here
        nodes.client("bank-b").score(ScoringClient.request(uscc))
    with pytest.raises(PermissionDenied):  # the bank node itself is not a person (issue 15)
        nodes.client("bank-a").score(ScoringClient.request(uscc))
    reply = nodes.client("alice").score(ScoringClient.request(uscc))
    assert 0.0 < reply.probability_of_default < 1.0


def test_platform_down_is_unavailable_after_retries(
    trained: Trained, nodes: Nodes, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    from bank_node.server import create_bank_server

    bank_dir = nodes.bank_config.data_dir
    config = bank_config(nodes.pki, bank_dir, dead_port)
    server = create_bank_server(config)
    client = ScoringClient(
        f"127.0.0.1:{server.port}",
        TlsFiles.in_pki_dir(nodes.pki, "alice"),
        server_name="bank-a",
        retry=None,
    )
    client.retry.attempts = 1  # the bank retries; the officer's client does not here
    uscc = _uscc(trained, 50)
    try:
        t0 = time.monotonic()
        with pytest.raises(Unavailable) as info:
            client.score(ScoringClient.request(uscc))
        elapsed = time.monotonic() - t0
    finally:
        client.close()
        server.stop(0.2)
    assert uscc not in info.value.message and "127.0.0.1" not in info.value.message
    assert elapsed >= 0.05  # the bank backed off and retried before giving up


def test_both_nodes_audit_every_request(trained: Trained, nodes: Nodes) -> None:
    client = nodes.client()
    ok_code, denied_code = _uscc(trained, 70), _uscc(trained, 71)
    nodes.grant(ok_code)
    client.score(ScoringClient.request(ok_code, model=LR_NAME))
    with pytest.raises(PermissionDenied):
        client.score(ScoringClient.request(denied_code))
    bank_entries = bank_audit_log(nodes.bank_config).query(event=ev.SCORE_REQUEST)
    plat_entries = nodes.platform_audit.query(event=ev.SCORE_REQUEST)
    bank_ok = [e for e in bank_entries if e.details.get("uscc") == ok_code]
    plat_ok = [e for e in plat_entries if e.details.get("uscc") == ok_code]
    assert bank_ok and plat_ok
    b, p = bank_ok[-1], plat_ok[-1]
    assert b.details["outcome"] == p.details["outcome"] == ev.OUTCOME_OK
    assert b.details["request_id"] == p.details["request_id"]
    assert b.details["consent_id"] == p.details["consent_id"] != ""
    assert b.details["model_id"] == p.details["model_id"] == trained.lr.model_id_
    assert b.actor.party == "bank-a/alice" and b.actor.role == "officer"
    assert p.actor.party == "bank-a" and p.details["bank_party"] == "bank-a"
    for entries in (bank_entries, plat_entries):
        denied = [e for e in entries if e.details.get("uscc") == denied_code]
        assert denied and denied[-1].details["outcome"] == ev.OUTCOME_DENIED
    # the platform's entries hold no score
    for e in plat_entries:
        assert not {"risk_band", "probability_of_default", "score"} & set(e.details)


class RecordingPlatform:
    """Wraps the bank's scoring peer and keeps what crossed between the nodes."""

    def __init__(self, inner: ScoringPeer) -> None:
        self.inner = inner
        self.sent: list[WireMessage] = []
        self.received: list[WireMessage] = []

    def score(self, request: WireMessage, response_type: type) -> WireMessage:  # type: ignore[type-arg]
        self.sent.append(request)
        reply = self.inner.score(request, response_type)
        self.received.append(reply)
        return reply


def test_platform_learns_no_bank_data_and_returns_no_plain_score(
    trained: Trained, nodes: Nodes
) -> None:
    config = nodes.bank_config
    engine = BankScoringEngine.from_config(config, SETTINGS)
    recorder = RecordingPlatform(engine.platform)
    engine.platform = recorder  # type: ignore[assignment]
    row = 90
    uscc = _uscc(trained, row)
    nodes.grant(uscc)
    officer = Caller("bank-a/alice", "officer")
    for model in (SB_NAME, LR_NAME):
        engine.score(officer, ScoringClient.request(uscc, model=model))
    bank_values = {float(v) for v in trained.bank.X[row] if np.isfinite(v)}
    codec = ProtobufCodec()
    for request in recorder.sent:
        assert isinstance(request, SbScoreRequest | LinearScoreRequest)
        assert request.header.usccs == [uscc]
        text = codec.encode(request)
        for v in bank_values:
            assert np.float64(v).tobytes() not in text
    sb_requests = [r for r in recorder.sent if isinstance(r, SbScoreRequest)]
    # the tree request carries ciphertexts only (the public context at most once)
    assert sb_requests and all(r.predict.enc_cells.scheme == "ckks" for r in sb_requests)
    sb_reply = next(r for r in recorder.received if isinstance(r, SbScoreResponse))
    lr_reply = next(r for r in recorder.received if isinstance(r, LinearScoreResponse))
    assert sb_reply.predict.enc_margins.count == 1 and sb_reply.predict.enc_margins.scheme == "ckks"
    assert lr_reply.enc_values.count == 1 and lr_reply.enc_values.scheme == "paillier"
    assert set(lr_reply.adverse_categories[0].names) <= set(PLATFORM_GROUPS)
    assert sb_reply.reply.consent_ids == lr_reply.reply.consent_ids != [""]


class FailingAudit:
    def append(self, *args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    def append_many(self, *args: object, **kwargs: object) -> None:
        raise OSError("disk full")


def test_no_answer_leaves_the_platform_unaudited(
    setup: tuple[Trained, Nodes, Path],
) -> None:
    from platform_node.scoring.scorer import PlatformScorer

    trained, nodes, root = setup
    scorer = PlatformScorer(
        data_dir=root / "platform",
        data_provider=nodes.provider,
        consent_registry=nodes.consent,
        audit_log=FailingAudit(),  # type: ignore[arg-type]
    )
    ok, refused = _uscc(trained, 80), _uscc(trained, 81)
    nodes.grant(ok)
    bank = Caller("bank-a", "bank")
    from bank_node.scoring.keys import ScoringKeys
    from models.federation.scoring import ScoreHeader

    def request(uscc: str) -> LinearScoreRequest:
        header = ScoreHeader(["r1"], [uscc], "logreg", trained.lr.model_id_, "", "", "")
        return LinearScoreRequest(header, ScoringKeys(1024).public_bytes(), 2)

    with pytest.raises(InternalError):
        scorer.score(bank, request(ok))
    # a refused company alone: its audit entry is best effort, the answer says why
    answer = scorer.score(bank, request(refused))
    assert isinstance(answer, LinearScoreResponse)
    assert answer.reply.status == ["permission_denied"] and answer.reply.consent_ids == [""]


def test_batch_file_to_csv_and_parquet(trained: Trained, nodes: Nodes, tmp_path: Path) -> None:
    from bank_node.scoring.batch import score_file

    client = nodes.client()
    consenting = [_uscc(trained, r) for r in (100, 101, 102)]
    for code in consenting:
        nodes.grant(code)
    refused = _uscc(trained, 103)
    lines = [*consenting, refused, "91410100XXXXXXXX", "# a comment", ""]
    src = tmp_path / "portfolio.txt"
    src.write_text("\n".join(lines))
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"scores{suffix}"
        summary = score_file(client, src, out, model=LR_NAME, chunk_size=2, progress=False)
        assert summary.total == 5 and summary.ok == 3
        assert summary.failed == {"PERMISSION_DENIED": 1, "INVALID_ARGUMENT": 1}
        frame = (
            pd.read_csv(out, dtype={"application_id": str})
            if suffix == ".csv"
            else (pd.read_parquet(out))
        )
        assert frame["uscc"].tolist()[:4] == [*consenting, refused]
        assert frame["status"].tolist() == [
            "OK",
            "OK",
            "OK",
            "PERMISSION_DENIED",
            "INVALID_ARGUMENT",
        ]
        for k, row in enumerate((100, 101, 102)):
            expected = trained.offline_pd("logreg", row)
            assert abs(frame["probability_of_default"][k] - expected) < TOL
        assert not any(refused in str(e) for e in frame["error"].tolist())


def test_cli_score_and_batch(trained: Trained, nodes: Nodes, tmp_path: Path) -> None:
    from bank_node.cli.main import main

    cfg = tmp_path / "bank.toml"
    cfg.write_text(
        f"""[bank]
party = "bank-a"
listen = "127.0.0.1:{nodes.bank.port}"
data_dir = "{nodes.bank_config.data_dir}"
pki_dir = "{nodes.pki}"
"""
    )
    uscc = _uscc(trained, 120)
    nodes.grant(uscc)
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(
            ["score", "--config", str(cfg), "--uscc", uscc, "--cert-dir", str(nodes.pki / "alice"),
             "--model", SB_NAME, "--json"]
        )  # fmt: skip
    assert code == 0
    doc = json.loads(buf.getvalue())
    assert abs(doc["probability_of_default"] - trained.offline_pd("secureboost", 120)) < TOL
    src = tmp_path / "in.csv"
    pd.DataFrame({"uscc": [uscc, _uscc(trained, 121)]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    with redirect_stdout(io.StringIO()):
        code = main(
            ["score", "batch", "--config", str(cfg), "--in", str(src), "--out", str(out),
             "--cert-dir", str(nodes.pki / "alice"), "--no-progress"]
        )  # fmt: skip
    assert code == 0
    assert pd.read_csv(out)["status"].tolist() == ["OK", "PERMISSION_DENIED"]
    # an invalid code on the command line: exit code 2 and a message without the code
    err = io.StringIO()
    from contextlib import redirect_stderr

    with redirect_stderr(err):
        code = main(["score", "--config", str(cfg), "--uscc", "91410100ABC", "--cert-dir",
                     str(nodes.pki / "alice")])  # fmt: skip
    assert (
        code == 2 and "invalid_argument" in err.getvalue() and "91410100ABC" not in err.getvalue()
    )
    # the operator serves a model under another name with a fixed scoring date
    with redirect_stdout(io.StringIO()):
        assert main(["score", "register", "--config", str(cfg), "--name", "frozen", "--part",
                     str(trained.lr_path), "--as-of", "2022-01-01",
                     "--features-table", str(trained.features_csv)]) == 0  # fmt: skip
    with pytest.raises(FailedPrecondition):  # registered, not approved: it does not serve
        nodes.client().score(ScoringClient.request(uscc, model="frozen"))
    with redirect_stdout(io.StringIO()):
        assert main(["score", "register", "--config", str(cfg), "--name", "frozen", "--part",
                     str(trained.lr_path), "--as-of", "2022-01-01", "--approve", "champion",
                     "--cert-dir", str(nodes.pki / "head-of-risk"),
                     "--features-table", str(trained.features_csv)]) == 0  # fmt: skip
    listing = io.StringIO()
    with redirect_stdout(listing):
        assert main(["score", "models", "--config", str(cfg)]) == 0
    assert "frozen" in listing.getvalue() and "as_of=2022-01-01" in listing.getvalue()
    # the listing names the default and each entry's aliases and approvals (issue 15)
    frozen = next(line for line in listing.getvalue().splitlines() if " frozen " in line)
    assert "aliases=champion,latest" in frozen
    assert "champion approved by bank-a/head-of-risk" in frozen
    assert listing.getvalue().startswith(f"default: {SB_NAME}@champion")
    reply = nodes.client().score(ScoringClient.request(uscc, model="frozen"))
    assert reply.as_of == "2022-01-01" and reply.model_name == "frozen"
    assert abs(reply.probability_of_default - trained.offline_pd("logreg", 120)) < TOL


def test_model_store_serves_registered_parts(trained: Trained, nodes: Nodes) -> None:
    store = ModelStore(nodes.bank_config.data_dir)
    names = {e.name: e.family for e in store.entries()}
    assert {SB_NAME: "secureboost", LR_NAME: "logreg", CARD_NAME: "scorecard"}.items() <= (
        names.items()
    )
    assert store.resolve("").model_id == trained.sb.model_id_
