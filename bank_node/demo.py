"""``make demo``: the whole story on embedded defaults, two real nodes over mutual TLS.

Stages: make a PKI -> start the platform and the bank as separate processes -> open a
session and run a real exchange -> (as capabilities land: generate a synthetic city, PSI,
train SecureBoost with progress, register in MLflow, consent, score, lineage, audit verify)
-> shut both nodes down gracefully.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bank_node.demo_nodes import NodeProcess, free_port, start_node, wait_healthy
from proto.transport.tls import TlsFiles

ROOT = Path(__file__).resolve().parent.parent


def say(msg: str) -> None:
    print(f"\n==> {msg}", flush=True)


ENTERPRISES = 20000
SEED = 7


def fedcredit(*args: str, cwd: Path, check: bool = True) -> int:
    """Run one ``fedcredit`` command as a user would (output streams to the terminal)."""
    import subprocess

    print("$ fedcredit " + " ".join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", "bank_node.cli.main", *args], cwd=cwd, check=check)
    return int(done.returncode)


def write_job(work: Path, as_of: str) -> Path:
    job = work / "job.toml"
    job.write_text(
        f"""# A bank data scientist's training job (see bank_node/jobs/spec.py)
[job]
name = "sme-default"
algorithm = "secureboost"
bank_config = "bank.toml"
id = "sme-default-001"

[bank_data]
source = "loanbook"
path = "city/bank"

[platform_data]
dataset = "catalogue"
as_of = "{as_of}"

[split]
valid_fraction = 0.25
seed = 42

[crypto]
scheme = "paillier"
key_bits = 2048

[params]
n_estimators = 12
max_depth = 4
learning_rate = 0.3
min_child_weight = 1.0
n_bins = 16
"""
    )
    return job


def write_configs(
    work: Path, platform_port: int, bank_port: int, consoles: dict[str, str]
) -> tuple[Path, Path]:
    """Both nodes' configs; ``consoles`` maps ``bank``/``platform`` to the console's address."""
    from bank_node.console.demo import console_toml

    platform_cfg = work / "platform.toml"
    platform_cfg.write_text(
        f"""[platform]
party = "platform"
listen = "127.0.0.1:{platform_port}"
data_dir = "city/platform"
pki_dir = "pki"
idle_timeout_s = 900

[platform.known_parties]
bank-a = "bank"
regulator = "regulator"
jinshui-district = "recommender"
"""
        + console_toml("platform", consoles["platform"])
    )
    bank_cfg = work / "bank.toml"
    bank_cfg.write_text(
        f"""[bank]
party = "bank-a"
listen = "127.0.0.1:{bank_port}"
data_dir = "bank-data"
pki_dir = "pki"
platform_target = "127.0.0.1:{platform_port}"
platform_name = "platform"

[bank.known_parties]
bank-a = "bank"
regulator = "regulator"
"""
        + console_toml("bank", consoles["bank"])
    )
    return platform_cfg, bank_cfg


def officer_score(work: Path, uscc: str, *, check: bool = True) -> int:
    """Officer alice scores ``uscc`` with the bank's champion, with her own certificate."""
    return fedcredit(
        "score",
        "--config",
        "bank.toml",
        "--cert-dir",
        "pki/alice",
        "--uscc",
        uscc,
        cwd=work,
        check=check,
    )


def run(work: Path, keep: bool = False) -> int:
    t0 = time.monotonic()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    from proto.transport.pki import init_pki

    say(
        "Creating a development PKI: CA, platform, bank-a, regulator, officer alice@bank-a, "
        "approver head-of-risk@bank-a, white-list recommender jinshui-district"
    )
    init_pki(
        work / "pki",
        ["bank-a"],
        officers=[("alice", "bank-a")],
        approvers=[("head-of-risk", "bank-a")],
        recommenders=["jinshui-district"],
    )
    say(
        f"Generating a synthetic city: {ENTERPRISES} enterprises, 15 catalogue categories, "
        "and bank-a's loan book"
    )
    fedcredit(
        "data",
        "generate",
        "--enterprises",
        str(ENTERPRISES),
        "--seed",
        str(SEED),
        "--out",
        "city",
        cwd=work,
    )
    import json

    card = json.loads((work / "city" / "data_card.json").read_text())
    print(
        f"data card: {card['modelling_rows']} loan applications, default rate "
        f"{card['default_rate']:.1%}; reference LightGBM AUC bank-only "
        f"{card['auc_bank_only']:.3f} vs joined {card['auc_joint']:.3f}"
    )
    platform_port, bank_port = free_port(), free_port()
    consoles = {"bank": f"127.0.0.1:{free_port()}", "platform": f"127.0.0.1:{free_port()}"}
    platform_cfg, bank_cfg = write_configs(work, platform_port, bank_port, consoles)
    accounts: list[Any] = []

    nodes: list[NodeProcess] = []
    try:
        say(f"Starting the platform node (mutual TLS) on 127.0.0.1:{platform_port}")
        platform = start_node(
            "platform",
            ["platform", "serve", "--config", str(platform_cfg)],
            work / "logs" / "platform.log",
            work,
        )
        nodes.append(platform)
        say(f"Starting the bank node bank-a (mutual TLS) on 127.0.0.1:{bank_port}")
        bank = start_node(
            "bank", ["bank", "serve", "--config", str(bank_cfg)], work / "logs" / "bank.log", work
        )
        nodes.append(bank)
        bank_tls = TlsFiles.in_pki_dir(work / "pki", "bank-a")
        wait_healthy(f"127.0.0.1:{platform_port}", bank_tls, "platform", platform)
        reg_tls = TlsFiles.in_pki_dir(work / "pki", "regulator")
        wait_healthy(f"127.0.0.1:{bank_port}", reg_tls, "bank-a", bank)
        print("both nodes report SERVING on the standard gRPC health service")

        say(
            "bank-a pings the platform: health, then a session with one exchange (describe: "
            "digest, size, no rows)"
        )
        fedcredit("bank", "ping", "--config", "bank.toml", "--as-of", card["as_of"], cwd=work)

        say(
            "bank-a trains a SecureBoost model with the platform: PSI, encrypted histograms, "
            "MLflow registration"
        )
        job = write_job(work, card["as_of"])
        fedcredit("train", str(job.name), cwd=work)

        say("Three companies authorise bank-a to use their public credit data for scoring")
        import numpy as np

        aligned = np.load(work / "bank-data" / "jobs" / "sme-default-001" / "aligned_ids.npy")
        consenting, refusing = [str(u) for u in aligned[:3]], str(aligned[3])
        from bank_node.console.demo import create_demo_accounts

        accounts = create_demo_accounts(  # the consoles' people (shown at the end)
            work / "bank-data", work / "city" / "platform", companies=consenting[:1]
        )
        for uscc in consenting:
            fedcredit(
                "consent",
                "grant",
                "--config",
                "platform.toml",
                "--uscc",
                uscc,
                "--bank",
                "bank-a",
                "--scope",
                "scoring",
                "--days",
                "365",
                "--evidence",
                "signed-form",
                cwd=work,
            )

        say("Version 1 is registered but not approved: officers cannot score with it yet")
        unapproved = officer_score(work, consenting[0], check=False)
        print(f"(exit code {unapproved}: refused as expected, no approved champion yet)")
        if unapproved == 0:
            raise RuntimeError("an unapproved model served a score")

        say(
            "The bank's head of risk promotes version 1 to champion with her own certificate "
            "(approval audited, MLflow alias set, scoring store follows)"
        )
        fedcredit(
            "model",
            "promote",
            "sme-default",
            "1",
            "--alias",
            "champion",
            "--cert-dir",
            "pki/head-of-risk",
            "--config",
            "bank.toml",
            cwd=work,
        )
        fedcredit("score", "models", "--config", "bank.toml", cwd=work)

        say(
            "Credit officer alice scores them with her own certificate (the platform never "
            "sees the score; its part comes back sealed, the bank reads only the margin)"
        )
        for uscc in consenting:
            officer_score(work, uscc)
        say("A company that never consented is refused (PERMISSION_DENIED, no data leaves)")
        refused = officer_score(work, refusing, check=False)
        print(f"(exit code {refused}: refused as expected)")
        if refused == 0:
            raise RuntimeError("a company without consent was scored")

        say(
            "The white list: a district recommends companies (each code checked, duplicates "
            "counted); bank-a sees only those that consented to be listed to it"
        )
        (work / "candidates.csv").write_text(
            "uscc,reason,criteria\n"
            + "".join(f"{u},high-tech SME,patents;tax grade A\n" for u in [*consenting, refusing])
            + "91410100XXXXXXXXXX,typo,\n"
        )
        fedcredit(
            "whitelist", "upload", "--platform", f"127.0.0.1:{platform_port}",
            "--cert-dir", "pki/jinshui-district", "--file", "candidates.csv", cwd=work,
        )  # fmt: skip
        for uscc in consenting[:2]:
            fedcredit(
                "consent", "grant", "--config", "platform.toml", "--uscc", uscc,
                "--bank", "bank-a", "--scope", "whitelist_listing", "--days", "365", cwd=work,
            )  # fmt: skip
        fedcredit("whitelist", "list", "--config", "bank.toml", cwd=work)

        say(
            "Post-loan early warning: the company lets bank-a monitor its loan; a court feed "
            "lists it as a dishonest debtor; the alert reaches the bank (type and severity "
            "only), is audited and triggers a re-score with the champion"
        )
        fedcredit(
            "consent", "grant", "--config", "platform.toml", "--uscc", consenting[0],
            "--bank", "bank-a", "--scope", "post_loan_monitoring", "--days", "365", cwd=work,
        )  # fmt: skip
        from bank_node.alerts.demo import demo_alert

        shown = demo_alert(bank_cfg, work / "city" / "platform", consenting[0], as_of=card["as_of"])
        print(f"baseline: PD {shown.baseline_pd:.3f}, band {shown.baseline_band}")
        for a in shown.alerts:
            print(
                f"alert {a.event_id}: {a.event_type} (severity {a.severity}) for loan "
                f"{a.loan_id} -> re-score PD {a.pd or 0.0:.3f}, band {a.band_before} -> "
                f"{a.band_after}, priority {a.priority}"
            )
        fedcredit("alerts", "list", "--config", "bank.toml", cwd=work)

        say("A company checks what the platform holds about it and who used its data")
        fedcredit(
            "company", "report", "--config", "platform.toml", "--uscc", consenting[0], cwd=work
        )

        say(
            "A regulator reads the model's lineage from the bank (and cross-checks the "
            "platform's own audit entries) with its own certificate"
        )
        fedcredit(
            "audit",
            "lineage",
            "sme-default@champion",
            "--remote",
            f"127.0.0.1:{bank_port}",
            "--cert-dir",
            "pki/regulator",
            "--server-name",
            "bank-a",
            "--platform",
            f"127.0.0.1:{platform_port}",
            cwd=work,
        )

        say("Verifying both nodes' hash-chained, signed audit logs (as the regulator)")
        fedcredit(
            "audit",
            "verify",
            "--remote",
            f"127.0.0.1:{bank_port}",
            "--cert-dir",
            "pki/regulator",
            "--server-name",
            "bank-a",
            cwd=work,
        )
        fedcredit(
            "audit",
            "verify",
            "--remote",
            f"127.0.0.1:{platform_port}",
            "--cert-dir",
            "pki/regulator",
            "--server-name",
            "platform",
            cwd=work,
        )
        from bank_node.console.demo import describe

        say("The web consoles (HTTPS with the demo CA: pki/ca.pem), in Chinese by default")
        print(describe(accounts, {k: f"https://{v}/" for k, v in consoles.items()}))
        if keep:
            say("KEEP=1: both nodes and their consoles keep running; Ctrl-C stops them")
            with contextlib.suppress(KeyboardInterrupt):
                while all(n.alive() for n in nodes):
                    time.sleep(1.0)
    finally:
        say("Shutting both nodes down gracefully (SIGTERM)")
        codes = {n.name: n.stop() for n in reversed(nodes)}
        print("exit codes:", codes)
    if any(codes.values()):
        print("a node did not stop cleanly; logs in", work / "logs", file=sys.stderr)
        return 1
    say(f"Demo finished in {time.monotonic() - t0:.1f} s. Workspace: {work}")
    db = (work / "bank-data" / "mlflow" / "mlflow.db").resolve()
    print(f"MLflow store (runs, metrics, plots, model registry): sqlite:///{db}")
    print(
        f"Open its UI with:\n  .venv/bin/mlflow ui --backend-store-uri sqlite:///{db} "
        "--port 5000\nthen browse http://127.0.0.1:5000 (experiment fedcredit-training, "
        "registered model sme-default)."
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=ROOT / "demo-run")
    parser.add_argument(
        "--keep", action="store_true", help="leave the nodes and consoles running at the end"
    )
    args = parser.parse_args(argv)
    return run(args.work, keep=args.keep)


if __name__ == "__main__":
    raise SystemExit(main())
