"""``fedcredit train JOB.toml``: run a joint training job from the bank, with progress."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="run a joint training job (PSI, train, register)")
    p.add_argument("job", type=Path, help="job file (TOML)")
    p.add_argument("--job-id", default=None, help="resume or name the job explicitly")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-register", action="store_true", help="skip MLflow logging/registry")
    p.set_defaults(func=run_train)


class TreeProgress:
    """A progress bar per tree (or epoch) with validation AUC and KS where the algorithm
    computes them per tree (SecureBoost in the standard privacy mode), the validation
    log-loss per epoch of the linear models (``val_logloss``, a private aggregate), else the
    training loss."""

    def __init__(self, total: int, enabled: bool = True, unit: str = "tree") -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit=unit, disable=not enabled, dynamic_ncols=True)

    def phase(self, name: str) -> None:
        """Show the phase the job is in (PSI, training, ...) on the bar itself."""
        self.bar.set_description_str(name)
        self.bar.refresh()

    def __call__(self, info: dict[str, Any]) -> None:
        post = {}
        for key in ("val_auc", "val_ks", "val_logloss", "train_loss"):
            value = info.get(key)
            if isinstance(value, int | float) and value == value:  # NaN: not measured per tree
                post[key] = f"{value:.4f}"
        self.bar.set_postfix(post)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


LOGGERS = ("", "mlflow", "fedcredit", "alembic")


@contextlib.contextmanager
def progress_logging(enabled: bool = True) -> Iterator[None]:
    """A context in which console log lines (ours, MLflow's) are written through tqdm, above
    the progress bar, so they never break it: every stream handler (not file handlers) of the
    loggers in :data:`LOGGERS` is swapped for one that writes with ``tqdm.write``, keeping its
    level, formatter and filters."""
    if not enabled:
        yield
        return
    from tqdm import tqdm

    class _TqdmHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                tqdm.write(self.format(record), file=sys.stderr)
            except Exception:
                self.handleError(record)

    swapped: list[tuple[logging.Logger, logging.Handler, logging.Handler]] = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if not isinstance(handler, logging.StreamHandler) or isinstance(
                handler, logging.FileHandler
            ):
                continue
            writer = _TqdmHandler(handler.level)
            writer.setFormatter(handler.formatter)
            writer.filters = list(handler.filters)
            logger.removeHandler(handler)
            logger.addHandler(writer)
            swapped.append((logger, handler, writer))
    try:
        yield
    finally:
        for logger, original, replacement in swapped:
            logger.removeHandler(replacement)
            logger.addHandler(original)


def run_train(args: argparse.Namespace) -> int:
    from bank_node.audit_service import bank_audit_log
    from bank_node.config import BankConfig
    from bank_node.jobs.runner import JobRunner
    from bank_node.jobs.spec import JobSpec

    spec = JobSpec.load(args.job, job_id=args.job_id)
    config = BankConfig.load(spec.bank_config)
    config.compute.apply()  # local (default) or the bank's Ray cluster
    total = int(spec.params.get("n_estimators", spec.params.get("max_epochs", 0)) or 0)
    unit = "tree" if spec.algorithm == "secureboost" else "epoch"
    print(
        f"job {spec.job_id}: {spec.algorithm} with {config.platform_name} "
        f"({spec.platform_data.dataset})",
        flush=True,
    )
    progress = TreeProgress(total, enabled=not args.no_progress, unit=unit)
    stop = threading.Event()

    def on_sigint(_signum: int, _frame: object) -> None:
        print("\ncancelling after the current step; rerun the same job id to resume")
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    peer = config.platform_peer()
    try:
        runner = JobRunner(
            spec,
            config,
            peer,
            callbacks=[progress],
            should_stop=stop.is_set,
            audit=bank_audit_log(config),
            register=not args.no_register,
            on_phase=progress.phase,
        )
        with progress_logging(enabled=not args.no_progress):
            result = runner.run()
    finally:
        progress.close()
        signal.signal(signal.SIGINT, previous)
        peer.close()
    state = result.state
    summary = runner.bank_summary
    if summary:
        dropped = summary.get("invalid_ids_dropped", 0)
        print(
            f"bank data: {summary.get('rows', 0)} rows"
            + (f" ({dropped} invalid company codes dropped)" if dropped else "")
        )
    print(
        f"PSI: bank {state.psi.get('n_bank')} x platform {state.psi.get('n_platform')} -> "
        f"{state.psi.get('n_intersection')} aligned companies"
    )
    for key, value in result.metrics.items():
        print(f"{key}: {value:.4f}")
    if state.registry:
        print(
            f"registered {state.registry['model_name']} version "
            f"{state.registry['model_version']} (run {state.registry['run_id']})"
        )
        print(f"MLflow store: {state.registry['tracking_uri']}")
        print(f"open the UI:  {state.registry['ui']}")
    return 0
