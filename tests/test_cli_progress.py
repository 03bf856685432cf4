"""Issue 15 problem 5: the training progress bar shows the phase it is in (PSI before the
first tree) and log lines (MLflow's) are written above it instead of breaking it."""

from __future__ import annotations

import logging
import sys

import pytest

from bank_node.cli.train_cmd import TreeProgress, progress_logging


def _segments(err: str) -> list[str]:
    return [s for s in err.replace("\r", "\n").split("\n") if s.strip()]


def test_log_lines_do_not_break_the_bar(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("mlflow")
    handler = logging.StreamHandler(sys.stderr)  # as MLflow installs its console handler
    logger.addHandler(handler)
    try:
        bar = TreeProgress(3, unit="epoch")
        with progress_logging():
            bar.phase("PSI: aligning companies")
            logger.warning("Updating database tables")
            bar({"train_loss": 0.5})
        bar.close()
    finally:
        logger.removeHandler(handler)
    segments = _segments(capsys.readouterr().err)
    logged = [s for s in segments if "Updating database tables" in s]
    assert logged and all("%|" not in s and "epoch" not in s for s in logged)
    assert any(s.startswith("PSI: aligning companies") for s in segments)  # before: "0/3"
    assert any("1/3" in s and "epoch" in s for s in segments)  # LR counts epochs, not trees


def test_linear_models_show_val_logloss_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15 problem 5: the validation metric per epoch of the linear models on the bar."""
    bar = TreeProgress(2, unit="epoch")
    bar({"epoch": 0, "val_logloss": 0.4715, "mean_abs_change": 0.3})
    bar.close()
    segments = _segments(capsys.readouterr().err)
    assert any("val_logloss=0.4715" in s and "1/2" in s for s in segments)
