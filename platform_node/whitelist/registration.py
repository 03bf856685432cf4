"""Industry and district of each company, from the catalogue's registration data (licences).

``industry_code`` is the licence's GB/T 4754-2017 code (section letter + division, e.g.
``C26``); the district is the six-digit administrative division code of the registering
authority when its name carries one, else positions 3-8 of the USCC (the division where the
code was issued). Only public registration fields are read (name, industry, authority).
The index is rebuilt when the licence table's files change.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from platform_node.catalogue.store import CatalogueStore

_DIVISION = re.compile(r"(\d{6})")


@dataclass(frozen=True)
class Registration:
    uscc: str
    name: str
    industry_code: str
    district: str


def district_of(uscc: str, authority: str | None) -> str:
    """The six-digit division code of the registering authority, else the USCC's."""
    match = _DIVISION.search(authority or "")
    return match.group(1) if match else uscc[2:8]


def matches(reg: Registration, industry: str, district: str) -> bool:
    """Whether a company passes the filters (empty filters match everything)."""
    if industry and not reg.industry_code.upper().startswith(industry.upper()):
        return False
    return not district or reg.district == district


class RegistrationIndex:
    """USCC -> :class:`Registration`, from the platform's catalogue store."""

    def __init__(self, data_dir: Path) -> None:
        self.store = CatalogueStore(Path(data_dir))
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, int], ...] | None = None
        self._index: dict[str, Registration] = {}

    def _files(self) -> tuple[tuple[str, int], ...]:
        return tuple((str(p), p.stat().st_mtime_ns) for p in self.store.parts("licence"))

    def index(self) -> dict[str, Registration]:
        """The current index (rebuilt if the licence files changed)."""
        stamp = self._files()
        with self._lock:
            if stamp == self._stamp:
                return self._index
        cols = ["uscc", "name", "industry_code", "registration_authority"]
        data = self.store.read("licence", columns=cols).to_pydict()
        index: dict[str, Registration] = {}
        for uscc, name, industry, authority in zip(
            data["uscc"],
            data["name"],
            data["industry_code"],
            data["registration_authority"],
            strict=True,
        ):
            code = str(uscc)
            index[code] = Registration(
                uscc=code,
                name=str(name or ""),
                industry_code=str(industry or ""),
                district=district_of(code, authority),
            )
        with self._lock:
            self._stamp, self._index = stamp, index
        return index

    def get(self, uscc: str) -> Registration | None:
        return self.index().get(uscc)
