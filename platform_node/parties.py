"""The passive-party implementations this platform offers (imported so they register)."""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger("fedcredit.platform")

#: Modules defining ``@register_party`` classes. Missing optional ones are skipped with a log.
PARTY_MODULES = (
    "models.federation.party",
    "models.psi.passive",
    "models.secureboost.passive",
    "models.logreg.passive",
    "models.binning.passive",
    "models.scorecard.passive",
)


def load_parties() -> list[str]:
    loaded = []
    for name in PARTY_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name is not None and name.startswith(err.name):
                continue
            raise
        loaded.append(name)
    return loaded
