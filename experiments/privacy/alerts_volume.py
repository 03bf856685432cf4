"""Alert stream: can a bank count the city's risk events between two of its own alerts?

Protocol ``alerts`` (``platform_node/alerts/service.py``, ``WatchAlerts``): a bank watches a
few borrowers and receives their alerts, progress marks and cursors. The secret: how many
events the platform derived for *other* companies (not watched by this bank) between two
consecutive alerts of the bank, i.e. other companies' risk data in aggregate.

The simulation runs the platform's real delivery loop (:class:`AlertDelivery` over a real
:class:`AlertStore` in a temporary directory) on a simulated clock: every second, events of
unwatched companies arrive at a rate that drifts (a new log-normal rate every 60 s, so the
volume is not a function of elapsed time alone), and each of three watched companies gets an
event now and then. The bank records every message with the time it arrived.

Attack ``volume-between-alerts`` (the bank): for each pair of consecutive alerts, estimate
the number of other companies' events between them.

- ``before``: the earlier flow, re-enacted from the same run: each alert carried the event's
  global position ``seq`` (and progress marks the log's end), so the estimate is the difference
  of the two positions minus one.
- ``before-timing``: the earlier flow's *timing* alone, as if the positions were hidden but
  progress marks were still sent whenever the platform's log grew (after every examined
  batch, as the earlier loop did): the same fit as below on the elapsed time and the number
  of progress marks between the alerts (re-enacted from the log: one mark per ingestion
  second that added events). It shows why progress marks now follow the heartbeat clock.
- ``sealed-cursor`` (as shipped): the bank sees sealed cursors (random to it) and progress
  marks on its heartbeat clock. The estimate is a least-squares fit, trained on half of the
  intervals with the truth (a generous attacker) and applied to the other half (two folds), of
  the count on everything it has: the elapsed time, the number of progress marks between the
  alerts, their timing jitter, and the cursors read as numbers (the difference of their first
  8 bytes after the version, and of their lengths).

``recovered``: Pearson correlation of the estimate with the true count; ``baseline``: the
same correlation for the best guess without the protocol's messages: the same fit on the
elapsed time alone (the bank knows when its own alerts arrive). Leak if recovered -
baseline > 0.05. ``details`` also give the root mean square errors, including that of the
constant mean.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from experiments.privacy.common import AttackResult, gap_rule
from models.uscc import generate_usccs
from platform_node.alerts.service import AlertDelivery
from platform_node.alerts.store import AlertStore, Watch, utc_iso
from proto.transport.node_audit import open_node_audit_log

PROTOCOL = "alerts"
ATTACK = "volume-between-alerts"
BANK = "bank-a"
START = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
HEARTBEAT_S = 2.0
POLL_S = 0.2
WATCHED = 3
REGIME_S = 60.0


class _Consent:
    """Every watched company consents (consent is not what is measured here)."""

    def check(self, uscc: str, bank: str, scope: str, now: object = None) -> SimpleNamespace:
        return SimpleNamespace(consent_id="c-sim")


@dataclass
class _World:
    """The simulated city: a clock, events arriving each second, and what the bank saw."""

    store: AlertStore
    rng: np.random.Generator
    watched: list[str]
    others: list[str]
    watched_rate: float
    now: float = 0.0
    next_tick: float = 1.0
    rate: float = 1.0
    generation: int = 0
    n_events: int = 0
    received: list[tuple[float, object]] = field(default_factory=list)

    # the signal the delivery loop waits on: time passes while it waits
    def wait(self, generation: int, timeout: float) -> int:
        self.now += timeout
        while self.next_tick <= self.now:
            self._tick(self.next_tick)
            self.next_tick += 1.0
        return self.generation

    def notify(self) -> None:
        self.generation += 1

    def clock(self) -> dt.datetime:
        return START + dt.timedelta(seconds=self.now)

    def _tick(self, at: float) -> None:
        if int(at) % int(REGIME_S) == 0 or at == 1.0:
            self.rate = float(self.rng.lognormal(0.5, 1.0))
        codes = [
            self.others[i]
            for i in self.rng.integers(0, len(self.others), self.rng.poisson(self.rate))
        ]
        codes += [c for c in self.watched if self.rng.random() < self.watched_rate]
        self.rng.shuffle(codes)
        if not codes:
            return
        stamp = utc_iso(START + dt.timedelta(seconds=at))
        with self.store.tx() as conn:
            for c in codes:
                self.n_events += 1
                conn.execute(
                    "INSERT INTO events (event_id, uscc, event_type, severity, event_date,"
                    " ingested_at, source_table) VALUES (?, ?, 'enforcement_new', 3, ?, ?,"
                    " 'enforcements')",
                    (f"ev-{self.n_events:012d}", c, stamp[:10], stamp),
                )
        self.notify()


def _simulate(
    seconds: float, seed: int, tmp: Path
) -> tuple[list[tuple[float, object]], AlertStore]:
    rng = np.random.default_rng(seed)
    codes = generate_usccs(WATCHED + 500, rng)
    store = AlertStore.in_data_dir(tmp)
    world = _World(store, rng, codes[:WATCHED], codes[WATCHED:], watched_rate=1 / 30)
    for i, c in enumerate(world.watched):
        store.add_watch(Watch(BANK, f"L{i}", c, "2026-01-01", "2030-01-01", "", 0, "c-sim"))
    audit = open_node_audit_log(tmp, "platform", "platform")
    delivery = AlertDelivery(
        store, _Consent(), audit, signal=world, poll_s=POLL_S,  # type: ignore[arg-type]
        heartbeat_s=HEARTBEAT_S, clock=world.clock,
    )  # fmt: skip
    for msg in delivery.stream(BANK, b"", lambda: world.now < seconds, HEARTBEAT_S):
        world.received.append((world.now, msg))
    return world.received, store


@dataclass(frozen=True)
class _Intervals:
    truth: np.ndarray  # other companies' events between consecutive alerts
    legacy: np.ndarray  # the earlier flow's estimate (difference of global positions - 1)
    legacy_marks: np.ndarray  # the earlier flow's progress marks between the two alerts
    elapsed: np.ndarray
    features: np.ndarray  # what the sealed flow shows (see the module docstring)


def _token_number(token: bytes) -> float:
    return float(int.from_bytes(token[1:9].ljust(8, b"\0"), "big")) / 2.0**64


def _intervals(received: list[tuple[float, object]], store: AlertStore) -> _Intervals:
    events = store.events()
    seq_of = {e.event_id: e.seq for e in events}
    watched = {r.uscc for r in store.watches(BANK)}
    is_watched = np.zeros(max(seq_of.values(), default=0) + 1, dtype=bool)
    tick = np.zeros(len(is_watched), dtype=object)
    for e in events:
        is_watched[e.seq] = e.uscc in watched
        tick[e.seq] = e.ingested_at
    alerts: list[tuple[float, int, int, float, float]] = []  # time, seq, marks, jitter, token
    marks, jitter, last_mark, token, length = 0, 0.0, 0.0, 0.0, 0
    for at, msg in received:
        if msg.HasField("alert"):  # type: ignore[attr-defined]
            seq = seq_of[msg.alert.event_id]  # type: ignore[attr-defined]
            alerts.append((at, seq, marks, jitter, token + 1e-3 * length))
            marks, jitter = 0, 0.0
        else:
            marks += 1
            jitter += abs((at - last_mark) - HEARTBEAT_S)
            last_mark = at
            token = _token_number(msg.cursor)  # type: ignore[attr-defined]
            length = len(msg.cursor)  # type: ignore[attr-defined]
    pairs = list(itertools.pairwise(alerts))
    pairs = [(a, b) for a, b in pairs if b[1] > a[1]]
    truth = np.array([int((~is_watched[a[1] + 1 : b[1]]).sum()) for a, b in pairs], float)
    legacy = np.array([b[1] - a[1] - 1 for a, b in pairs], float)
    legacy_marks = np.array([len(set(tick[a[1] + 1 : b[1] + 1])) for a, b in pairs], float)
    elapsed = np.array([b[0] - a[0] for a, b in pairs], float)
    features = np.array(
        [[b[0] - a[0], b[2], b[3], b[4] - a[4], abs(b[4] - a[4])] for a, b in pairs], float
    ).reshape(-1, 5)
    return _Intervals(truth, legacy, legacy_marks, elapsed, features)


def _cross_fit(X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Two-fold least-squares predictions of ``y`` (each half fitted on the other)."""
    n = len(y)
    order = np.random.default_rng(seed).permutation(n)
    halves = [order[: n // 2], order[n // 2 :]]
    design = np.c_[np.ones(n), X]
    out = np.empty(n)
    for k in (0, 1):
        train, test = halves[1 - k], halves[k]
        coef, *_ = np.linalg.lstsq(design[train], y[train], rcond=None)
        out[test] = design[test] @ coef
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def run(quick: bool = False) -> list[AttackResult]:
    seconds = 3000.0 if quick else 30000.0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="alerts-volume-") as tmp:
        received, store = _simulate(seconds, seed=5, tmp=Path(tmp))
        iv = _intervals(received, store)
        n_events = store.event_count()
        store.close()
    base = _cross_fit(iv.elapsed[:, None], iv.truth, 1)
    sealed = _cross_fit(iv.features, iv.truth, 1)
    timing = _cross_fit(np.c_[iv.elapsed, iv.legacy_marks], iv.truth, 1)
    mean = np.full_like(iv.truth, iv.truth.mean())
    base_corr = _corr(base, iv.truth)
    details = {
        "simulated_seconds": seconds,
        "events": n_events,
        "intervals": len(iv.truth),
        "messages": len(received),
        "mean_events_between": round(float(iv.truth.mean()), 2),
        "rmse_constant_mean": round(_rmse(mean, iv.truth), 2),
        "rmse_elapsed_time": round(_rmse(base, iv.truth), 2),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    rows = []
    variants = (("before", iv.legacy), ("before-timing", timing), ("sealed-cursor", sealed))
    for variant, estimate in variants:
        recovered = _corr(estimate, iv.truth)
        rule, leak = gap_rule(recovered, base_corr, 0.05)
        rows.append(
            AttackResult(
                protocol=PROTOCOL,
                attack=ATTACK,
                variant=variant,
                recovered=recovered,
                baseline=base_corr,
                rule=rule,
                leak=leak,
                details={**details, "rmse": round(_rmse(estimate, iv.truth), 2)},
            )
        )
    return rows


if __name__ == "__main__":
    for r in run(quick=True):
        print(r.attack, r.variant, round(r.recovered, 3), round(r.baseline, 3), r.leak, r.details)
