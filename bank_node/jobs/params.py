"""The ``[params]`` table of a job file: each algorithm's hyper-parameters, typed and bounded.

The keys are the estimator's constructor arguments (read from its signature, so a new
argument is accepted and documented at once), less those the job sets elsewhere
(``key_bits`` and ``mode`` come from ``[crypto]``). Each has a type from its annotation and,
where it matters, bounds (:data:`BOUNDS`, e.g. ``n_estimators <= 10000``) and choices
(:data:`CHOICES`), so a job file is refused before any network call, naming the key and line.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from proto.transport.config_model import Key

#: (minimum, maximum) per hyper-parameter name (inclusive; a tiny positive minimum = "> 0").
BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "n_estimators": (1, 10_000),
    "max_depth": (1, 15),
    "learning_rate": (1e-9, 100.0),
    "min_child_weight": (0.0, 1e9),
    "reg_lambda": (0.0, 1e9),
    "gamma": (0.0, 1e9),
    "n_bins": (2, 1024),
    "subsample": (1e-9, 1.0),
    "colsample_bytree": (1e-9, 1.0),
    "top_rate": (0.0, 1.0),
    "other_rate": (0.0, 1.0),
    "early_stopping_rounds": (0, 10_000),
    "random_state": (0, 2**32 - 1),
    "chunk_size": (1, 1_000_000),
    "workers": (1, 256),
    "C": (1e-12, 1e12),
    "alpha": (0.0, 1e9),
    "decay": (0.0, 1.0),
    "step_epochs": (1, 10_000),
    "momentum": (0.0, 1.0),
    "batch_size": (0, 100_000_000),
    "warmup_batches": (0, 64),
    "max_epochs": (1, 10_000),
    "tol": (0.0, 1.0),
    "sigmoid_terms": (0, 64),
    "max_bins": (2, 100),
    "min_bin_fraction": (0.0, 0.5),
    "iv_threshold": (0.0, 100.0),
    "top_k": (1, 100_000),
    "base_score": (0.0, 1e6),
    "pdo": (1e-9, 1e4),
    "base_odds": (1e-9, 1e9),
    "dp_epsilon": (1e-6, 1e6),
    "min_category_count": (0, 1_000_000),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "privacy": ("hardened", "strict", "standard"),
    "penalty": ("l2", "l1", "none"),
    "schedule": ("constant", "invscaling", "exponential", "step"),
    "optimizer": ("sgd", "momentum", "adam", "precond"),
    "binning_method": ("quantile", "equal_width", "optimal"),
    "categorical_encoding": ("onehot", "woe"),
}
#: Descriptions of arguments whose estimator documents them in prose, not a Parameters list.
DESCRIPTIONS: dict[str, str] = {
    "binning_method": "How features are binned before WOE.",
    "n_bins": "Bins per feature before merging.",
    "max_bins": "Bins per feature after merging.",
    "min_bin_fraction": "Smallest share of rows in a bin.",
    "iv_threshold": "Keep features whose information value is at least this (none: all).",
    "top_k": "Keep the k features of highest information value (none: all).",
    "base_score": "Points at base_odds.",
    "base_odds": "Good:bad odds that get base_score points.",
    "pdo": "Points that double the odds.",
    "round_points": "Round each attribute's points to integers.",
    "dp_epsilon": "Differential-privacy noise on the platform's per-bin counts (none: exact).",
    "validation_metrics_per_epoch": (
        "Validation log-loss after every epoch (val_logloss), one private aggregate; needs at "
        "least 50 validation rows. Job files: on by default in both modes (in Paillier mode it "
        "adds ~40% to an epoch; set false for speed)."
    ),
    "min_category_count": "Categories with fewer training rows share an `other` bin "
    "(0: 1% of the training rows).",
}
#: Constructor arguments the job file sets elsewhere.
SET_ELSEWHERE = {"key_bits": "crypto.key_bits", "mode": "crypto.scheme"}

_ESTIMATORS = {
    "secureboost": ("models.secureboost.active", "SecureBoostClassifier"),
    "logreg": ("models.logreg.active", "FederatedLogisticRegression"),
    "scorecard": ("models.scorecard.active", "FederatedScorecard"),
}


def _kind(annotation: Any, default: Any) -> str:
    text = str(annotation).replace("typing.", "")
    base = [p.strip() for p in text.split("|") if p.strip() != "None"]
    name = base[0] if base else type(default).__name__
    return {"int": "int", "float": "float", "bool": "bool", "str": "str"}.get(
        name, "str|int|float|bool"
    )


def _docstring_params(cls: type) -> dict[str, str]:
    """``{name: description}`` from the numpy-style "Parameters" section of a class docstring
    (entries like ``a, b:`` followed by an indented description)."""
    doc = inspect.getdoc(cls) or ""
    if "Parameters\n----------" not in doc:
        return {}
    section = doc.split("Parameters\n----------", 1)[1]
    out: dict[str, str] = {}
    names: list[str] = []
    text: list[str] = []

    def flush() -> None:
        description = " ".join(text).strip()
        for name in names:
            out[name] = description
        text.clear()

    for line in section.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            head = line.strip().rstrip(":").replace(", ", ",")
            if not line.rstrip().endswith(":") or " " in head:
                break  # the next section
            flush()
            names = [n.strip() for n in line.strip().rstrip(":").split(",")]
        else:
            text.append(line.strip())
    flush()
    return out


@functools.cache
def param_keys(algorithm: str) -> tuple[Key, ...]:
    """The ``[params]`` keys of ``algorithm`` (imports its estimator)."""
    import importlib

    module, cls = _ESTIMATORS[algorithm]
    estimator = getattr(importlib.import_module(module), cls)
    docs = dict(DESCRIPTIONS) | _docstring_params(estimator)
    if algorithm == "scorecard":  # its LR arguments are the logistic regression's
        lr_module, lr_cls = _ESTIMATORS["logreg"]
        docs = _docstring_params(getattr(importlib.import_module(lr_module), lr_cls)) | docs
    out = []
    for name, p in inspect.signature(estimator.__init__).parameters.items():
        if name == "self" or name in SET_ELSEWHERE:
            continue
        default = None if p.default is inspect.Parameter.empty else p.default
        lo, hi = BOUNDS.get(name, (None, None))
        optional = "None" in str(p.annotation)
        out.append(
            Key(
                name,
                _kind(p.annotation, default),
                default,
                ("optional. " if optional else "") + docs.get(name, f"`{cls}({name}=...)`"),
                choices=CHOICES.get(name, ()),
                minimum=lo,
                maximum=hi,
            )
        )
    return tuple(out)
