"""``MonitoringService.FeatureStability``: per-feature stability indices for a bank.

A bank names its monitored population (companies it lent to) and two dates. The platform

1. keeps the companies with a well-formed USCC and a consent in force of scope
   ``post_loan_monitoring`` for the calling bank (the others are left out, and counted);
2. refuses a population smaller than ``min_population`` (default 50), and a population
   that differs from one the bank already used with the same dataset, dates and bins by fewer
   than ``min_population`` companies (FAILED_PRECONDITION), so that the indices of two close
   populations cannot be subtracted to learn about the few companies between them;
3. loads its point-in-time features as of each date (the same data provider as training;
   tables cached, new dates limited per bank: :data:`DEFAULT_TABLES`), keeps the population's
   rows present at both dates (the population must still be ``min_population``), and
   computes each feature's characteristic stability index
   (:func:`models.stability.stability_index`: reference deciles, a missing-value bin);
4. answers the index of each feature, named as the bank may know it (the feature's name if the
   platform shares names, else ``<category>/f<k>``), and audits the query
   (``feature_stability_queried``: dates, sizes, a digest of the population).

Reveals to bank: per feature, one number: how much the distribution of that feature over at
least ``min_population`` of its consenting borrowers moved between the two dates (not the
distributions, bins, values or which companies moved); how many of the named companies were
used (so, in aggregate, how many lacked consent or data). Over many queries with different
dates the bank learns a time series of these aggregates; with the population rule above it
cannot isolate one company by differencing two populations under the same dates, but it can
still compare populations that differ by ``min_population`` companies or more (an aggregate
over at least that many companies). The rule's memory is kept on disk, hashed
(:mod:`platform_node.monitoring.populations`), so a platform restart does not reset it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from models.audit.log import AuditLog
from models.audit.outcome import run_audited
from models.dataset import PartyTable
from models.errors import FailedPrecondition, FedCreditError, InvalidArgument
from models.federation.party import Caller, DataProvider
from models.stability import DEFAULT_BINS, stability_indices
from models.uscc import validate_uscc
from platform_node.consent.registry import ConsentRegistry
from platform_node.monitoring.populations import (
    POPULATIONS_PER_KEY,
    PopulationGuard,
    PopulationStore,
)
from platform_node.refusals import for_bank
from platform_node.scoring.table_cache import TableCache, TableCacheConfig
from proto.fedcredit.v1 import monitoring_pb2, monitoring_pb2_grpc
from proto.transport.auth import current_caller
from proto.transport.status import abort_with

SERVICE_NAME = "fedcredit.v1.MonitoringService"
_PREFIX = f"/{SERVICE_NAME}/"

#: Only banks ask for the stability of the platform's features.
POLICY: dict[str, tuple[str, ...]] = {_PREFIX + "FeatureStability": ("bank",)}

SCOPE = "post_loan_monitoring"
FEATURE_STABILITY_QUERIED = "feature_stability_queried"
MIN_POPULATION = 50
MAX_POPULATION = 200_000
MAX_BINS = 20
_POPULATIONS_PER_KEY = POPULATIONS_PER_KEY

#: Point-in-time tables built for monitoring: a few kept, new dates limited per bank (a bank
#: asking for a new date on every request gets RESOURCE_EXHAUSTED, not a platform busy building).
DEFAULT_TABLES = TableCacheConfig(
    max_tables=8,
    max_bytes=256 << 20,
    max_tables_per_party=4,
    builds_per_s=0.1,
    build_burst=6,
    concurrent_builds=1,
)


def _date(value: str, what: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidArgument(f"{what} must be a date in YYYY-MM-DD form") from None


def population_digest(usccs: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(usccs)).encode()).hexdigest()


class FeatureMonitor:
    """The logic behind the servicer (see the module docstring).

    Parameters
    ----------
    data_provider:
        The platform's data (``load(dataset, caller, {"as_of": ..., "categories": ...})``).
    consent_registry:
        Where ``post_loan_monitoring`` consents are checked (unless ``in_population``).
    audit_log:
        Every query is recorded there, whatever its outcome.
    min_population:
        The smallest population answered (and the smallest difference between two
        populations used with the same dates).
    share_feature_names:
        Name features by their catalogue names (else ``<category>/f<k>``).
    in_population:
        ``(uscc, bank) -> None``, raising when the company may not be monitored for the bank
        (default: a ``post_loan_monitoring`` consent in force; a watch list may replace it).
    tables:
        Bounds of the cache of point-in-time tables and the per-bank budget of new dates.
    differencing_rule:
        Refuse populations close to an earlier one (always on in the service; off only to
        measure the earlier flow, ``experiments/privacy/monitoring_differencing.py``).
    population_store:
        Where the rule keeps the populations already used (hashed), so that it survives a
        restart (:mod:`platform_node.monitoring.populations`); None: in memory only.
    """

    def __init__(
        self,
        *,
        data_provider: DataProvider,
        consent_registry: ConsentRegistry | None,
        audit_log: AuditLog,
        min_population: int = MIN_POPULATION,
        share_feature_names: bool = False,
        in_population: Callable[[str, str], object] | None = None,
        tables: TableCacheConfig | None = None,
        differencing_rule: bool = True,
        population_store: PopulationStore | None = None,
    ) -> None:
        if min_population < 2:
            raise InvalidArgument("the minimum population is at least 2")
        if in_population is None and consent_registry is None:
            raise InvalidArgument("monitoring needs a consent registry or a population check")
        self.data = data_provider
        self.audit = audit_log
        self.min_population = min_population
        self.share_feature_names = share_feature_names
        registry = consent_registry
        self.in_population = in_population or (
            lambda uscc, bank: registry.check(uscc, bank, SCOPE)  # type: ignore[union-attr]
        )
        # without the rule (only for re-enacting the earlier flow in experiments/privacy/)
        self.guard = PopulationGuard(min_population if differencing_rule else 1, population_store)
        self.tables: TableCache[PartyTable] = TableCache(
            tables or DEFAULT_TABLES,
            size_of=lambda t: int(np.asarray(t.X).nbytes + np.asarray(t.ids).nbytes),
        )

    def _population(self, caller: Caller, usccs: list[str]) -> list[str]:
        out: set[str] = set()
        for raw in usccs:
            try:
                code = validate_uscc(raw)
                self.in_population(code, caller.party)
            except FedCreditError:
                continue
            out.add(code)
        return sorted(out)

    def _load(self, dataset: str, caller: Caller, as_of: str, categories: str) -> PartyTable:
        params = {"as_of": as_of}
        if categories:
            params["categories"] = categories

        def build() -> PartyTable:
            return self.data.load(dataset, caller, params)

        return self.tables.get((dataset, categories, caller.party, as_of), caller.party, build)

    def stability(
        self, caller: Caller, request: monitoring_pb2.FeatureStabilityRequest
    ) -> monitoring_pb2.FeatureStabilityResponse:
        query_id = f"fsq-{uuid.uuid4().hex[:16]}"
        details: dict[str, Any] = {
            "query_id": query_id,
            "bank_party": caller.party,
            "dataset": request.dataset[:64],
            "reference_as_of": request.reference_as_of[:10],
            "current_as_of": request.current_as_of[:10],
            "n_requested": len(request.usccs),
        }
        return run_audited(
            self.audit,
            FEATURE_STABILITY_QUERIED,
            caller,
            details,
            lambda: self._stability(caller, request, query_id, details),
        )

    def _stability(
        self,
        caller: Caller,
        request: monitoring_pb2.FeatureStabilityRequest,
        query_id: str,
        details: dict[str, Any],
    ) -> monitoring_pb2.FeatureStabilityResponse:
        ref_date = _date(request.reference_as_of, "reference_as_of")
        cur_date = _date(request.current_as_of, "current_as_of")
        n_bins = request.n_bins or DEFAULT_BINS
        if not 2 <= n_bins <= MAX_BINS:
            raise InvalidArgument(f"n_bins is between 2 and {MAX_BINS}")
        if len(request.usccs) > MAX_POPULATION:
            raise InvalidArgument(f"at most {MAX_POPULATION} companies per request")
        if not request.dataset:
            raise InvalidArgument("name the dataset")
        population = self._population(caller, list(request.usccs))
        details["n_consented"] = len(population)
        if len(population) < self.min_population:
            raise FailedPrecondition(
                f"the monitored population is smaller than the minimum of {self.min_population}"
            )
        reference = self._load(request.dataset, caller, ref_date, request.categories)
        current = self._load(request.dataset, caller, cur_date, request.categories)
        if list(reference.feature_names) != list(current.feature_names):
            raise FailedPrecondition("the dataset's features differ between the two dates")
        ref_rows = {str(u): k for k, u in enumerate(reference.ids.tolist())}
        cur_rows = {str(u): k for k, u in enumerate(current.ids.tolist())}
        used = [u for u in population if u in ref_rows and u in cur_rows]
        details["n_population"] = len(used)
        if len(used) < self.min_population:
            raise FailedPrecondition(
                f"the monitored population is smaller than the minimum of {self.min_population}"
            )
        key = (caller.party, request.dataset, request.categories, ref_date, cur_date, str(n_bins))
        self.guard.admit(key, frozenset(used))
        details["population_digest"] = population_digest(used)
        X_ref = np.asarray(reference.X, dtype=np.float64)[[ref_rows[u] for u in used]]
        X_cur = np.asarray(current.X, dtype=np.float64)[[cur_rows[u] for u in used]]
        values = stability_indices(X_ref, X_cur, n_bins)
        groups = list(reference.feature_groups)
        names = [
            name if self.share_feature_names else f"{groups[j]}/f{j}"
            for j, name in enumerate(reference.feature_names)
        ]
        details["n_features"] = len(names)
        return monitoring_pb2.FeatureStabilityResponse(
            features=[
                monitoring_pb2.FeatureStabilityValue(
                    feature=names[j], group=groups[j], index=float(values[j])
                )
                for j in range(len(names))
            ],
            n_requested=len(request.usccs),
            n_population=len(used),
            reference_as_of=ref_date,
            current_as_of=cur_date,
            query_id=query_id,
        )


class MonitoringServicer(monitoring_pb2_grpc.MonitoringServiceServicer):
    def __init__(self, monitor: FeatureMonitor) -> None:
        self.monitor = monitor

    def FeatureStability(
        self, request: monitoring_pb2.FeatureStabilityRequest, context: grpc.ServicerContext
    ) -> monitoring_pb2.FeatureStabilityResponse:
        try:
            return self.monitor.stability(current_caller(), request)
        except Exception as err:
            abort_with(context, for_bank(err, "feature stability request"))


def install(
    server: grpc.Server,
    *,
    data_provider: DataProvider,
    consent_registry: ConsentRegistry,
    audit_log: AuditLog,
    min_population: int = MIN_POPULATION,
    share_feature_names: bool = False,
    in_population: Callable[[str, str], object] | None = None,
    tables: TableCacheConfig | None = None,
    data_dir: Path | None = None,
) -> Mapping[str, tuple[str, ...]]:
    """Add the service to ``server``; returns its role policy (banks only).

    With ``data_dir`` the differencing rule's populations are kept in
    ``<data_dir>/monitoring/populations.db`` and survive a restart (the platform node always
    passes it).
    """
    monitor = FeatureMonitor(
        data_provider=data_provider,
        consent_registry=consent_registry,
        audit_log=audit_log,
        min_population=min_population,
        share_feature_names=share_feature_names,
        in_population=in_population,
        tables=tables,
        population_store=PopulationStore.in_data_dir(data_dir) if data_dir is not None else None,
    )
    monitoring_pb2_grpc.add_MonitoringServiceServicer_to_server(MonitoringServicer(monitor), server)
    return POLICY
