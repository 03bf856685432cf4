"""scikit-learn style hyper-parameter access for the federated estimators.

The estimators keep every constructor argument as an attribute of the same name (as
scikit-learn estimators do); :class:`ConstructorParams` reads and writes them by name.
"""

from __future__ import annotations

import inspect
from typing import Any, Self

from models.errors import InvalidArgument


class ConstructorParams:
    """``get_params`` / ``set_params`` over the arguments of the subclass's ``__init__``."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Every constructor argument by name, with its current value (``deep`` is ignored)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params: Any) -> Self:
        """Set constructor arguments by name; an unknown name raises :class:`InvalidArgument`."""
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise InvalidArgument("unknown parameter")
            setattr(self, k, v)
        return self
