"""Attack: with unbalanced PSI, the bank re-tests old ids against a later population, offline.

Scenario. Job 1: the bank runs unbalanced PSI with its set X and keeps the OPRF values
``F(x) = H(x)^k`` it unblinded (a semi-honest bank keeps what it computed). Then the
platform's population changes (10% of its companies leave, as many join, some of them in
X). Job 2: the bank runs unbalanced PSI with an unrelated set Z (new applicants, disjoint
from X); the plan step tells it the population changed and it downloads the new cache.
Offline, without any new evaluation of X, it tests every ``F(x)`` against the new cache.

``recovered`` is the balanced accuracy (over the two classes "joined" and "left") with which
the bank predicts the *current* membership of the ids of X whose membership changed between
the two versions; in balanced PSI (and without the cache) it would need a new run over X,
which the platform sees, so the best guess is a coin: ``baseline`` = 0.5.

Variants: ``standard`` (the default: the key is reused across population versions until
its scheduled rotation; the attack works), ``rotated`` (the platform rotated its key
between the versions: old OPRF values match nothing; no leak).

Run alone: ``python -m experiments.privacy.psi_membership [--quick]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from experiments.privacy.common import AttackResult, gap_rule

PROTOCOL = "psi-unbalanced"
TOLERANCE = 0.05


class _KeepingBank:
    """A semi-honest bank: runs the protocol as specified and keeps its OPRF values."""

    def __init__(self, peer: Any, cache_dir: Path) -> None:
        from models.psi.unbalanced_active import PsiAutoActive

        outer = self

        class Keeping(PsiAutoActive):
            def _evaluate(self, stub: Any, key_id: str, own: np.ndarray) -> bytes:
                values = super()._evaluate(stub, key_id, own)
                outer.kept = (own.copy(), values, key_id)
                return values

        self.kept: tuple[np.ndarray, bytes, str] = (np.zeros(0, dtype=str), b"", "")
        self.active = Keeping(peer, cache_dir, mode="unbalanced")


class _Table:
    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids

    def load(self, dataset: str, caller: Any, params: Any) -> Any:
        from models.dataset import PartyTable

        return PartyTable(ids=self.ids, X=np.zeros((self.ids.shape[0], 0)), feature_names=[])


def _session(data_dir: Path, ids: np.ndarray) -> Any:
    from models.federation.inprocess import InProcessPeer
    from models.federation.manager import SessionManager
    from models.federation.party import Caller
    from proto.transport.codec import ProtobufCodec

    manager = SessionManager(data_dir, _Table(ids))
    return InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())


def measure(variant: str, n_platform: int, n_bank: int, seed: int = 11) -> AttackResult:
    from models.psi import psi_auto_session_spec
    from models.psi.oprf_store import PlatformPsiCache
    from models.psi.tagset import tags64
    from models.psi.unbalanced_active import BankPsiCache

    rng = np.random.default_rng(seed)
    pool = np.char.add("C", rng.permutation(3 * n_platform).astype(str))
    p1 = pool[:n_platform]
    x = np.concatenate(
        [rng.choice(p1, n_bank // 2, replace=False), pool[n_platform : n_platform + n_bank // 2]]
    )
    churn = n_platform // 10
    leave = rng.choice(p1, churn, replace=False)
    leave = np.union1d(leave, rng.choice(x[: n_bank // 2], n_bank // 10, replace=False))
    join = np.concatenate(
        [x[n_bank // 2 : n_bank // 2 + n_bank // 10], pool[2 * n_platform : 2 * n_platform + churn]]
    )
    p2 = np.concatenate([np.setdiff1d(p1, leave), join])
    z = pool[2 * n_platform + churn : 2 * n_platform + churn + n_bank]  # job 2: other ids

    with tempfile.TemporaryDirectory(prefix="psi-membership-") as tmp:
        data_dir, cache_dir = Path(tmp) / "platform", Path(tmp) / "bank-cache"
        bank = _KeepingBank(_session(data_dir, p1), cache_dir)
        peer = bank.active.peer
        peer.open_session(psi_auto_session_spec("job-1", "catalogue", id_format="any"))
        first = bank.active.run(x)
        peer.close_session()
        own, values, key_id = bank.kept

        if variant == "rotated":
            PlatformPsiCache(data_dir / "psi_cache").rotate()
        peer2 = _session(data_dir, p2)
        later = _KeepingBank(peer2, cache_dir)
        peer2.open_session(psi_auto_session_spec("job-2", "catalogue", id_format="any"))
        second = later.active.run(z)
        peer2.close_session()
        assert second.cache_bytes_downloaded > 0  # the plan told the bank to refresh

        held = BankPsiCache(cache_dir).held()
        assert held is not None
        cache = BankPsiCache(cache_dir).load(held)
        # offline: every old OPRF value against the new cache (under the key id it names)
        predicted_now = cache.contains(tags64(values, held.key_id))

    was = np.isin(own, p1)
    now = np.isin(own, p2)
    changed = was != now
    joined, left = changed & now, changed & ~now
    tpr = float(predicted_now[joined].mean()) if joined.any() else float("nan")
    tnr = float((~predicted_now[left]).mean()) if left.any() else float("nan")
    recovered = 0.5 * (tpr + tnr)
    rule, leak = gap_rule(recovered, 0.5, TOLERANCE)
    details: dict[str, Any] = {
        "n_platform": n_platform,
        "n_bank": n_bank,
        "n_changed": int(changed.sum()),
        "n_joined": int(joined.sum()),
        "n_left": int(left.sum()),
        "accuracy_all_bank_ids": float((predicted_now == now).mean()),
        "evaluations_of_old_ids_in_job_2": 0,
        "same_key": bool(held.key_id == key_id),
        "job_1_intersection": int(first.result.n_intersection),
    }
    return AttackResult(PROTOCOL, "offline-retest", variant, recovered, 0.5, rule, leak, details)


def run(quick: bool = False) -> list[AttackResult]:
    n_platform, n_bank = (1_000, 160) if quick else (20_000, 2_000)
    return [measure(v, n_platform, n_bank) for v in ("standard", "rotated")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for r in run(args.quick):
        print(r.to_json())


if __name__ == "__main__":
    main()
