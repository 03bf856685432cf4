"""A model's population on the platform: the companies it was trained and validated on.

Prediction for a company outside its model's population needs that company's scoring consent
for the bank, whatever the session (:meth:`models.federation.party.PassiveContext.check_use`).
The platform records the population beside its model part as keyed hashes of the ids (a
fresh random salt per file, HMAC-SHA256 truncated to 128 bits), in the canonical JSON
container of :mod:`models.model_io` (digest checked on load; no pickle).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from models.errors import DataLoss
from models.model_io import FORMAT_VERSION, load_part, save_part

POPULATION_FORMAT = "fedcredit.secureboost.population"


def population_path(part_path: Path) -> Path:
    """``<model_id>.population.json`` beside ``<model_id>.json``."""
    return part_path.with_name(part_path.stem + ".population.json")


def _tag(salt: bytes, uscc: str) -> str:
    return hmac.new(salt, str(uscc).encode(), hashlib.sha256).hexdigest()[:32]


class Population(Collection[str]):
    """Membership of company ids in a model's population (only keyed hashes are held)."""

    def __init__(self, salt: bytes, tags: Iterable[str]) -> None:
        self._salt = salt
        self._tags = frozenset(tags)

    def __contains__(self, uscc: object) -> bool:
        return isinstance(uscc, str) and _tag(self._salt, uscc) in self._tags

    def __len__(self) -> int:
        return len(self._tags)

    def __iter__(self) -> Iterator[str]:  # the ids themselves are not kept
        return iter(())

    @classmethod
    def of(cls, ids: Iterable[str]) -> Population:
        salt = secrets.token_bytes(16)
        return cls(salt, (_tag(salt, str(i)) for i in ids))

    def save(self, path: Path, model_id: str) -> str:
        body: dict[str, Any] = {
            "format": POPULATION_FORMAT,
            "format_version": FORMAT_VERSION,
            "model_id": model_id,
            "salt": self._salt.hex(),
            "hashes": sorted(self._tags),
        }
        return save_part(path, body)

    @classmethod
    def load(cls, path: Path) -> Population:
        body, _ = load_part(path, POPULATION_FORMAT)
        try:
            return cls(bytes.fromhex(str(body["salt"])), (str(h) for h in body["hashes"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataLoss("the model population file is malformed") from exc


def load_population(part_path: Path) -> Population | None:
    """The population recorded beside a part, or None (a part saved before populations were
    recorded: every prediction then needs consent)."""
    path = population_path(part_path)
    return Population.load(path) if path.exists() else None
