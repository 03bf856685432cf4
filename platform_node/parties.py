"""The passive-party implementations this platform offers (imported so they register)."""

from __future__ import annotations

import logging

from models.optional_modules import import_optional

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
        if import_optional(name) is not None:
            loaded.append(name)
    return loaded
