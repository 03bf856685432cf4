"""Mutation check of the security checks (issue 14, "tests that would catch regressions").

Each :class:`Mutant` names one security check and a textual edit that disables or weakens it
(removing the body-size limit, accepting a certificate whose role contradicts its registration,
accepting another bank's model part, skipping the consent check, the part signature check, the
pathlen/CRL check, allowing a replayed step with another body, ...). For every mutant the runner
copies the project's files to a temporary tree once, applies the edit there (never to the
checkout), runs the tests that guard that check, and expects them to FAIL: the mutant is
*killed*. A mutant whose tests still pass *survived*: either the tests miss a real gap, or the
edit is equivalent (listed in ``EQUIVALENT`` with the reason).

The mutants are chosen by hand rather than generated (mutmut would generate hundreds over these
modules, each needing gRPC servers; on the project's 2-core test machine that is hours): each one
is a plausible regression of one rule. Each edit must match its file exactly once, so a
refactoring that moves a check makes this script fail loudly instead of silently testing
nothing (``tests/test_harden_mutation.py`` checks that on every ``make test``).

Usage::

    python experiments/mutation_check.py [--only NAME ...] [--list]

writes ``experiments/results/mutation.json`` and ``mutation.md``; exit status 1 when a mutant
that is not marked equivalent survives, or when the unmutated tests fail (baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"


@dataclass(frozen=True)
class Mutant:
    """One disabled or weakened check: replace ``old`` (exactly once) by ``new`` in ``path``."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    what: str
    #: Further edits ``(path, old, new)`` of the same mutant (a check kept in two places).
    also: tuple[tuple[str, str, str], ...] = ()

    def edits(self) -> list[tuple[str, str, str]]:
        return [(self.path, self.old, self.new), *self.also]


@dataclass
class Outcome:
    name: str
    path: str
    what: str
    tests: list[str]
    status: str  # killed | survived | equivalent-survived | error
    seconds: float
    detail: str = ""
    failed_tests: list[str] = field(default_factory=list)


T_LIMITS = "tests/test_abuse_limits.py"
T_CERTS = "tests/test_harden_certs.py"
T_TRANSPORT = "tests/test_transport.py"
T_PARTS = "tests/test_harden_parts.py"
T_STEPS = "tests/test_harden_steps.py"
T_CONSENT = "tests/test_consent_registry.py"
T_MUT = "tests/test_harden_mutation_kills.py"
T_HEALTH = "tests/test_harden_health.py"
WATCH_TEST = "test_health_watches_are_capped_per_party"

MUTANTS: tuple[Mutant, ...] = (
    # -- size limits and quotas (proto/transport/limits.py) ---------------------------------
    Mutant(
        "body_size_limit_removed",
        "proto/transport/limits.py",
        "if nbytes > self.config.max_body_bytes:",
        "if False:",
        (
            f"{T_LIMITS}::test_body_over_the_limit_is_refused_at_its_header",
            f"{T_MUT}::test_body_over_the_maximum_but_within_the_budget_is_refused_over_grpc",
        ),
        "issue 14 row 13: no limit on an announced body's size (header and guard)",
        also=(("proto/transport/frames.py", "if header.total_bytes > max_body:", "if False:"),),
    ),
    Mutant(
        "guard_body_size_check_removed",
        "proto/transport/limits.py",
        "if nbytes > self.config.max_body_bytes:",
        "if False:",
        (
            f"{T_LIMITS}::test_body_over_the_limit_is_refused_at_its_header",
            f"{T_MUT}::test_guard_refuses_a_body_over_the_maximum_within_the_party_budget",
        ),
        "the resource guard reserves a body over the maximum (header check kept)",
    ),
    Mutant(
        "header_body_size_check_removed",
        "proto/transport/frames.py",
        "if header.total_bytes > max_body:",
        "if False:",
        (
            f"{T_LIMITS}::test_body_over_the_limit_is_refused_at_its_header",
            f"{T_MUT}::test_body_over_the_maximum_but_within_the_budget_is_refused_over_grpc",
        ),
        "the frame header's size is not checked (the guard's check kept)",
    ),
    Mutant(
        "party_stream_quota_removed",
        "proto/transport/limits.py",
        "if self._streams.get(key, 0) >= cap:",
        "if False:",
        (f"{T_LIMITS}::test_concurrent_streams_per_party", f"{T_HEALTH}::{WATCH_TEST}"),
        "no cap on a party's concurrent streams (Exchange streams and health watches)",
    ),
    Mutant(
        "health_watch_cap_removed",
        "proto/transport/limits.py",
        "if method == HEALTH_WATCH",
        "if False",
        (f"{T_HEALTH}::{WATCH_TEST}",),
        "a party may hold any number of health watches (each a server thread)",
    ),
    Mutant(
        "health_checks_unlimited",
        "proto/transport/limits.py",
        "        if handler is None:\n            return handler\n        return _limited(",
        "        if handler is None or handler_call_details.method.startswith('/grpc.health.'):\n"
        "            return handler\n        return _limited(",
        (f"{T_HEALTH}::test_a_flood_of_health_checks_is_limited_per_party",),
        "health checks escape the per-party rate limits (a flood from one party)",
    ),
    Mutant(
        "party_bytes_in_flight_quota_removed",
        "proto/transport/limits.py",
        "mine + nbytes <= cfg.party_bytes_in_flight\n                    and ",
        "",
        (f"{T_LIMITS}::test_bytes_in_flight_per_party",),
        "no per-party cap on bytes in flight (only the node's)",
    ),
    Mutant(
        "call_rate_limit_removed",
        "proto/transport/limits.py",
        "if not self._bucket((party, method), self.config.rate_for(method)).try_take():",
        "if False:",
        (f"{T_LIMITS}::test_call_rate_per_party_and_method",),
        "no call-rate limit per party and method",
    ),
    Mutant(
        "byte_rate_throttle_removed",
        "proto/transport/limits.py",
        "        if delay > 0:\n            sleep(delay)",
        "        pass",
        (f"{T_LIMITS}::test_byte_rate_paces_a_party",),
        "a party streaming faster than its byte rate is not slowed down",
    ),
    # -- authorisation (proto/transport/auth.py) ---------------------------------------------
    Mutant(
        "role_contradicting_registration_accepted",
        "proto/transport/auth.py",
        'if caller.role != "officer" and expected != caller.role:',
        "if False:",
        (f"{T_CERTS}::test_certificate_whose_role_contradicts_its_registration_is_refused",),
        "issue 14 row 13: a certificate whose role contradicts the party's registration",
    ),
    Mutant(
        "officer_of_a_non_bank_accepted",
        "proto/transport/auth.py",
        'if caller.role == "officer" and expected != "bank":',
        "if False:",
        (f"{T_MUT}::test_officer_certificate_for_a_non_bank_party_is_refused",),
        "an officer certificate issued under the platform's or regulator's name",
    ),
    Mutant(
        "method_role_policy_ignored",
        "proto/transport/auth.py",
        "if allowed is None or caller.role not in allowed:",
        "if allowed is None:",
        (
            f"{T_TRANSPORT}::test_wrong_role_is_refused",
            f"{T_TRANSPORT}::test_officer_cannot_train",
        ),
        "any known role may call any listed method",
    ),
    Mutant(
        "method_missing_from_policy_allowed",
        "proto/transport/auth.py",
        "if allowed is None or caller.role not in allowed:",
        "if allowed is not None and caller.role not in allowed:",
        (f"{T_MUT}::test_method_missing_from_the_policy_is_refused",),
        "a method the policy does not list is open to every party (fail open)",
    ),
    Mutant(
        "certificate_trust_skipped",
        "proto/transport/auth.py",
        "if self.trust is not None and not self.plaintext:",
        "if False:",
        (
            f"{T_CERTS}::test_pathlen_violation_over_grpc_is_refused",
            f"{T_CERTS}::test_revoked_certificate_is_refused_by_the_interceptor",
        ),
        "the interceptor never validates the chain nor the revocation list",
    ),
    # -- chain, pathlen, CRL (proto/transport/trust.py) ---------------------------------------
    Mutant(
        "chain_validation_skipped",
        "proto/transport/trust.py",
        "verified = verifier.verify(leaf, intermediates)",
        'verified = type("V", (), {"chain": [leaf, *intermediates]})()',
        (
            f"{T_CERTS}::test_leaf_through_an_intermediate_under_pathlen0_root_is_refused",
            f"{T_CERTS}::test_expired_and_wrong_usage_certificates_are_refused",
        ),
        "no RFC 5280 path validation (pathlen, dates, signatures)",
    ),
    Mutant(
        "ca_constraints_relaxed",
        "proto/transport/trust.py",
        "ca_policy=ExtensionPolicy.webpki_defaults_ca()",
        "ca_policy=ExtensionPolicy.permit_all()",
        (f"{T_CERTS}::test_leaf_through_an_intermediate_under_pathlen0_root_is_refused",),
        "issuers' extensions (basicConstraints, keyUsage keyCertSign) not checked",
    ),
    Mutant(
        "leaf_client_auth_usage_skipped",
        "proto/transport/trust.py",
        '        raise ValueError("the certificate is not for client authentication")',
        "        pass",
        (f"{T_CERTS}::test_expired_and_wrong_usage_certificates_are_refused",),
        "a leaf without extendedKeyUsage clientAuth is accepted",
    ),
    Mutant(
        "revocation_list_ignored",
        "proto/transport/trust.py",
        "if any(self.revoked(c) for c in verified.chain):",
        "if False:",
        (f"{T_CERTS}::test_revoked_certificate_is_refused_by_the_interceptor",),
        "a revoked certificate is accepted",
    ),
    Mutant(
        "unreadable_crl_fails_open",
        "proto/transport/trust.py",
        "            if self._crl_error:\n                raise Unauthenticated(self._crl_error)",
        "            pass",
        (f"{T_CERTS}::test_revoked_certificate_is_refused_by_the_interceptor",),
        "a corrupt or unsigned CRL lets everyone in (fail open)",
    ),
    Mutant(
        "crl_signature_unchecked",
        "proto/transport/trust.py",
        "if issuer is None or not crl.is_signature_valid(issuer.public_key()):",
        "if issuer is None:",
        (f"{T_MUT}::test_crl_not_signed_by_the_ca_refuses_everyone",),
        "a CRL forged by another key (same issuer name) is trusted",
    ),
    Mutant(
        "cached_trust_outlives_expiry",
        "proto/transport/trust.py",
        "if hit is not None and mono - hit[0] < CACHE_S and now.timestamp() < hit[1]:",
        "if hit is not None and mono - hit[0] < CACHE_S:",
        (f"{T_MUT}::test_cached_chain_is_not_trusted_past_the_leaf_expiry",),
        "a chain validated once stays trusted after the leaf expires (within the cache time)",
    ),
    # -- consent (platform_node/consent/registry.py, platform_node/scoring/scorer.py) ---------
    Mutant(
        "consent_check_skipped_by_scorer",
        "platform_node/scoring/scorer.py",
        "verdicts = self.consent.check_many([usccs[i] for i in valid], caller.party, SCOPE, now)",
        'verdicts = [type("C", (), {"consent_id": "cns-none"})() for _ in valid]',
        ("tests/test_scoring_peer.py::test_one_request_many_companies_each_with_its_verdict",),
        "scoring serves a company that gave no consent",
    ),
    Mutant(
        "consent_revocation_ignored",
        "platform_node/consent/registry.py",
        '_IN_FORCE = " AND scope IN (?, ?) AND revoked_at IS NULL AND expires_at > ?"',
        '_IN_FORCE = " AND scope IN (?, ?) AND expires_at > ?"',
        (f"{T_CONSENT}::test_revoke",),
        "a revoked consent still authorises",
    ),
    Mutant(
        "consent_expiry_ignored",
        "platform_node/consent/registry.py",
        '" AND scope IN (?, ?) AND revoked_at IS NULL AND expires_at > ?"',
        '" AND scope IN (?, ?) AND revoked_at IS NULL AND ? IS NOT NULL"',
        (f"{T_CONSENT}::test_consent_expires",),
        "an expired consent still authorises",
    ),
    Mutant(
        "consent_scope_ignored",
        "platform_node/consent/registry.py",
        '" AND scope IN (?, ?) AND revoked_at IS NULL AND expires_at > ?"',
        '" AND ? || ? IS NOT NULL AND revoked_at IS NULL AND expires_at > ?"',
        (f"{T_CONSENT}::test_check_refuses_other_bank_scope_and_company_without_naming_it",),
        "a training consent authorises scoring",
    ),
    Mutant(
        "consent_of_another_bank_accepted",
        "platform_node/consent/registry.py",
        '"SELECT * FROM consents WHERE uscc = ? AND bank_party = ?"\n                + _IN_FORCE',
        '"SELECT * FROM consents WHERE uscc = ? AND ? IS NOT NULL"\n                + _IN_FORCE',
        (f"{T_CONSENT}::test_check_refuses_other_bank_scope_and_company_without_naming_it",),
        "a consent given to one bank authorises another",
        also=(
            (
                "platform_node/consent/registry.py",
                'f"SELECT * FROM consents WHERE uscc IN ({marks}) AND bank_party = ?"',
                'f"SELECT * FROM consents WHERE uscc IN ({marks}) AND ? IS NOT NULL"',
            ),
        ),
    ),
    # -- model parts (models/part_signing.py, platform_node/scoring/scorer.py) ----------------
    Mutant(
        "another_banks_model_part_accepted",
        "platform_node/scoring/scorer.py",
        "if part.bank_party and part.bank_party != caller.party:",
        "if False:",
        ("tests/test_scoring_peer.py::test_another_banks_model_part_is_not_served",),
        "issue 14 row 13: a bank scores with another bank's model part",
    ),
    Mutant(
        "another_banks_lr_part_accepted",
        "models/logreg/passive.py",
        'if body.get("bank_party") != self.context.caller.party:',
        "if False:",
        ("tests/test_logreg.py::test_model_parts_save_load_and_link",),
        "a linear model's part is used by a bank that did not train it",
    ),
    Mutant(
        "part_signature_check_skipped",
        "models/part_signing.py",
        "    key = key_for(path)\n    if key is None:\n        return\n    p = sig_path(path)",
        "    return\n    p = sig_path(path)",
        (f"{T_PARTS}::test_unsigned_rehashed_part_is_refused",),
        "a part re-hashed without the node key is served",
    ),
    Mutant(
        "part_signed_by_another_key_accepted",
        "models/part_signing.py",
        "    if public != public_hex(key.public_key()):\n        raise DataLoss(",
        "    if False:\n        raise DataLoss(",
        (f"{T_PARTS}::test_unsigned_rehashed_part_is_refused",),
        "a part signed by some other key (written beside it) is served",
    ),
    Mutant(
        "part_signature_not_verified",
        "models/part_signing.py",
        "        pub.verify(bytes.fromhex(signature_hex), signed_message(digest))",
        "        pass",
        (f"{T_PARTS}::test_unsigned_rehashed_part_is_refused",),
        "the signature's bytes are never checked (only its key)",
    ),
    Mutant(
        "platform_signature_not_checked_by_bank",
        "models/part_signing.py",
        "    verify_signature(key, digest, signature)\n    return signature, key",
        "    return signature, key",
        (f"{T_PARTS}::test_bank_checks_and_pins_the_platform_signature",),
        "the bank accepts a finalize answer whose platform signature is bad",
    ),
    # -- step replay (models/federation/manager.py) -------------------------------------------
    Mutant(
        "replay_with_another_body_after_the_cache",
        "models/federation/manager.py",
        "            if known is not None and known != digest:",
        "            if False:",
        (f"{T_STEPS}::test_replay_with_another_body_is_refused_after_many_steps_and_a_restart",),
        "issue 14 row 5: a replay with another body runs once the answer left the cache",
    ),
    Mutant(
        "replay_with_another_body_in_the_cache",
        "models/federation/manager.py",
        "                if cached[0] != digest:",
        "                if False:",
        (f"{T_TRANSPORT}::test_retried_step_returns_cached_answer",),
        "a replay with another body gets the cached answer of the first",
    ),
    Mutant(
        "step_digests_not_persisted",
        "models/federation/manager.py",
        "                _append_digest(self._steps_path(job_id), step_id, digest)\n",
        "",
        (f"{T_STEPS}::test_replay_with_another_body_is_refused_after_many_steps_and_a_restart",),
        "replay protection forgets every step at a platform restart",
    ),
    Mutant(
        "session_owner_unchecked",
        "models/federation/manager.py",
        "        if owner.party != caller.party:",
        "        if False:",
        (f"{T_TRANSPORT}::test_other_bank_cannot_use_a_session",),
        "a bank sends steps into another bank's session",
    ),
)

#: Mutants known to survive without a gap, with the reason.
EQUIVALENT: dict[str, str] = {
    "header_body_size_check_removed": (
        "defence in depth: ResourceGuard.reserve refuses the same bound (max_body_bytes) "
        "before any body byte is read; only the order of refusals changes"
    ),
}


#: Mutants that survived the tests as they were before this check existed (run with
#: ``--tests`` over the related test files), and the test added to kill each.
SURVIVED_BEFORE: dict[str, str] = {
    "body_size_limit_removed": "the 600 MiB test body was also over the party's bytes in flight, "
    "so removing the size limit left it refused; killed by "
    "test_body_over_the_maximum_but_within_the_budget_is_refused_over_grpc",
    "guard_body_size_check_removed": "same; killed by "
    "test_guard_refuses_a_body_over_the_maximum_within_the_party_budget",
    "officer_of_a_non_bank_accepted": "no test had an officer certificate under a non-bank "
    "name; killed by test_officer_certificate_for_a_non_bank_party_is_refused",
    "method_missing_from_policy_allowed": "no test called a method absent from the policy; "
    "killed by test_method_missing_from_the_policy_is_refused",
    "crl_signature_unchecked": "the CRL test used an unreadable CRL, not a well-formed one "
    "signed by another key; killed by test_crl_not_signed_by_the_ca_refuses_everyone",
    "cached_trust_outlives_expiry": "no test let a cached chain expire; killed by "
    "test_cached_chain_is_not_trusted_past_the_leaf_expiry",
    "another_banks_model_part_accepted": "issue 14 row 13, still uncaught: no test put "
    "another bank's part where the caller's lookup finds it; killed by "
    "test_another_banks_model_part_is_not_served (tests/test_scoring_peer.py)",
}


def _project_files(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [p for p in out.splitlines() if p and (root / p).is_file()]


def copy_tree(root: Path, dest: Path) -> None:
    for rel in _project_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)


def check_applies(mutant: Mutant, root: Path = ROOT) -> None:
    """Raise ``ValueError`` unless the mutant's text occurs exactly once in its file."""
    for path, old, _new in mutant.edits():
        n = (root / path).read_text().count(old)
        if n != 1:
            raise ValueError(f"mutant {mutant.name}: its text occurs {n} times in {path}")
    for t in mutant.tests:
        if not (root / t.split("::", 1)[0]).is_file():
            raise ValueError(f"mutant {mutant.name}: no test file {t}")


def _pytest(tree: Path, tests: tuple[str, ...] | list[str], timeout: float) -> tuple[int, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env.setdefault("FEDCREDIT_SHARED_DATA", str(ROOT.parent / "shared" / "data"))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-x", "-m", "", "-p", "no:cacheprovider",
        "-o", "addopts=", "--timeout", str(int(timeout)), *tests,
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout + 60
        )
    except subprocess.TimeoutExpired:
        return 124, "timed out"
    return proc.returncode, proc.stdout[-4000:] + proc.stderr[-2000:]


def _failed(output: str) -> list[str]:
    return [
        ln.split(" ", 1)[1].split(" - ")[0]
        for ln in output.splitlines()
        if ln.startswith("FAILED ")
    ]


def run(
    names: list[str] | None = None,
    timeout: float = 300.0,
    tests: list[str] | None = None,
) -> list[Outcome]:
    """Run the chosen mutants (all by default); ``tests`` replaces their guarding tests (to
    ask whether some other tests would kill them)."""
    chosen = [m for m in MUTANTS if names is None or m.name in names]
    if tests:
        chosen = [replace(m, tests=tuple(tests)) for m in chosen]
    for m in chosen:
        check_applies(m)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="fedcredit-mutation-") as tmp:
        tree = Path(tmp) / "tree"
        copy_tree(ROOT, tree)
        baseline = sorted({t for m in chosen for t in m.tests})
        t0 = time.monotonic()
        rc, out = _pytest(tree, baseline, timeout * 4)
        if rc == 0 and " skipped" in out:
            rc = 5  # a skipped guarding test (data missing) would make every mutant survive
        outcomes.append(
            Outcome("baseline (no mutation)", "", "every guarding test passes unmutated",
                    baseline, "passed" if rc == 0 else "error",
                    round(time.monotonic() - t0, 1), "" if rc == 0 else out[-1500:], _failed(out))
        )  # fmt: skip
        if rc != 0:
            return outcomes
        for m in chosen:
            originals = {p: (tree / p).read_text() for p, _o, _n in m.edits()}
            for p, old, new in m.edits():
                (tree / p).write_text((tree / p).read_text().replace(old, new, 1))
            t0 = time.monotonic()
            try:
                rc, out = _pytest(tree, m.tests, timeout)
            finally:
                for p, text in originals.items():
                    (tree / p).write_text(text)
            secs = round(time.monotonic() - t0, 1)
            if rc == 1:
                status, detail = "killed", ""
            elif rc == 0 and (" skipped" in out or " passed" not in out):
                status, detail = "error", "a guarding test was skipped: " + out[-800:]
            elif rc == 0:
                status = "equivalent-survived" if m.name in EQUIVALENT else "survived"
                detail = EQUIVALENT.get(m.name, "")
            else:  # collection error, timeout, interrupted: not a clean kill
                status, detail = "error", f"pytest exit {rc}: {out[-800:]}"
            outcomes.append(
                Outcome(m.name, m.path, m.what, list(m.tests), status, secs, detail, _failed(out))
            )
            print(f"{m.name}: {status} ({secs} s)", flush=True)
    return outcomes


def write_results(outcomes: list[Outcome], out_dir: Path = RESULTS) -> dict[str, object]:
    mutants = [o for o in outcomes if not o.name.startswith("baseline")]
    summary: dict[str, object] = {
        "baseline": outcomes[0].status if outcomes else "missing",
        "mutants": len(mutants),
        "killed": sum(o.status == "killed" for o in mutants),
        "survived": [o.name for o in mutants if o.status == "survived"],
        "equivalent": [o.name for o in mutants if o.status == "equivalent-survived"],
        "survived_before_new_tests": dict(SURVIVED_BEFORE),
        "errors": [o.name for o in mutants if o.status == "error"],
        "results": [asdict(o) for o in outcomes],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "mutation.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [
        "# Mutation check of the security checks",
        "",
        "`python experiments/mutation_check.py` (run by `make test-all` through",
        "`tests/test_harden_mutation.py`): each mutant disables one check in a temporary copy",
        "of the tree and runs the tests guarding it; they must fail (killed).",
        "",
        f"Baseline: {summary['baseline']}. Mutants: {summary['mutants']}, killed: "
        f"{summary['killed']}, survived: {len(summary['survived'])}"  # type: ignore[arg-type]
        f", errors: {len(summary['errors'])}.",  # type: ignore[arg-type]
        "",
        "| mutant | file | what it breaks | status | s | killed by |",
        "|---|---|---|---|---|---|",
    ]
    for o in mutants:
        by = ", ".join(f"`{t.split('::')[-1]}`" for t in (o.failed_tests or []))
        lines.append(f"| `{o.name}` | `{o.path}` | {o.what} | {o.status} | {o.seconds} | {by} |")
    lines += [
        "",
        "Equivalent (survive by design): "
        + "; ".join(f"`{k}`: {v}" for k, v in EQUIVALENT.items()),
        "",
        "Survivors of the earlier tests, each killed now by a test added for it:",
        "",
        *[f"- `{k}`: {v}" for k, v in SURVIVED_BEFORE.items()],
    ]
    (out_dir / "mutation.md").write_text("\n".join(lines) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="mutant names (default: all)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--tests", nargs="*", help="run these tests instead of the mutants' own")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant's tests")
    args = ap.parse_args(argv)
    if args.list:
        for m in MUTANTS:
            check_applies(m)
            print(f"{m.name:45s} {m.path}")
        return 0
    outcomes = run(args.only or None, args.timeout, args.tests)
    summary = write_results(outcomes, args.out)
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=2))
    ok = summary["baseline"] == "passed" and not summary["survived"] and not summary["errors"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
