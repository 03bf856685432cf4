"""Entry point of a crypto helper process (started by :mod:`models.crypto.parallel`).

It imports the modules that register helper handlers, then runs the helper loop. The list
lives here, not in :mod:`models.crypto.parallel`, so that ``parallel`` imports none of the
modules that import it.
"""

from __future__ import annotations

import models.crypto.ckks_coeff
import models.crypto.histogram
import models.crypto.paillier
import models.crypto.rowexp
from models.crypto.parallel import serve

HANDLER_MODULES = (
    models.crypto.ckks_coeff,
    models.crypto.histogram,
    models.crypto.paillier,
    models.crypto.rowexp,
)


def main() -> None:
    """Serve helper requests on stdin/stdout until stdin closes."""
    assert HANDLER_MODULES  # imported for their handler registrations
    serve()
