"""Which model versions the bank serves: a small registry file under the bank's data dir.

``<data_dir>/scoring/models.json``::

    {
      "format": "fedcredit.scoring.models", "version": 1,
      "default": "sme-pd@champion",
      "aliases": {"sme-pd@champion": "sme-pd:sb-2025-01", "sme-pd@latest": "sme-pd:lr-07"},
      "models": {
        "sme-pd:sb-2025-01": {
          "model_id": "sb-2025-01", "name": "sme-pd", "version": "3", "family": "secureboost",
          "path": "/srv/bank-a/parts/sb-2025-01.json", "as_of": "",
          "features": {"kind": "loanbook", "dir": "/srv/bank-a/loanbook"},
          "approvals": {"champion": {"by": "bank-a/head-of-risk", "role": "approver",
                                     "cert_fingerprint": "9f2c...", "at": "2025-06-01T..."}}}
      }
    }

Entries are keyed by ``NAME:MODEL_ID`` (one part may be served under several names, each with
its own feature source and scoring date); aliases point at entries.

**Governance.** Only *approved* entries serve. An entry is approved once a principal with the
approver role promoted it (``fedcredit model promote --cert-dir``, see
:mod:`bank_node.governance`), which records the approval here, in MLflow and in the audit log.
A newly trained version is registered as ``NAME@latest`` and is not approved: it never serves
by default and an officer who names it is refused (``FAILED_PRECONDITION``). A request names a
model as ``NAME@alias``, ``NAME@VERSION``, ``NAME`` (alias ``champion``), a model id, or
nothing (the default, always a ``NAME@champion``).

For models registered in MLflow, MLflow's aliases are the single source of truth: the bank
reconciles this file with them (:func:`bank_node.governance.reconcile`), and an alias moved
in MLflow without an approval recorded by fedcredit is refused (moved back, audited).
The file is re-read when it changes, so a promotion takes effect without a restart. Loaded
models are cached by model id and file modification time. Relative paths are taken from the
registry's directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bank_node.scoring.families import BankModel, load_bank_model
from bank_node.scoring.features import BankFeatureSource, make_source
from bank_node.scoring.settings import scoring_dir
from models.errors import DataLoss, FailedPrecondition, InvalidArgument, NotFound
from models.secureboost.model_io import check_model_id, write_json_atomic

REGISTRY_FILE = "models.json"
_RESOLVED_MAX = 256
"""Resolved specs kept per registry document (only successes; cleared when full)."""
REGISTRY_FORMAT = "fedcredit.scoring.models"
DEFAULT_ALIAS = "champion"
#: Aliases that only an approval can give (:mod:`bank_node.governance`).
APPROVED_ALIASES = ("champion", "challenger")
#: The alias a newly trained version gets: registered, not approved.
UNAPPROVED_ALIAS = "latest"


@dataclass(frozen=True)
class ServedModel:
    """A registry entry resolved for one request."""

    key: str
    model_id: str
    name: str
    version: str
    family: str
    path: Path
    features: dict[str, Any] = field(default_factory=dict)
    as_of: str = ""  # scoring date when the request names none ("" = the request date)
    approvals: dict[str, dict[str, str]] = field(default_factory=dict)  # alias -> approval

    @property
    def approved(self) -> bool:
        return bool(self.approvals)


@dataclass
class LoadedModel:
    entry: ServedModel
    model: BankModel
    source: BankFeatureSource | None
    mtime_ns: int


def _empty() -> dict[str, Any]:
    return {"format": REGISTRY_FORMAT, "version": 1, "default": "", "aliases": {}, "models": {}}


class ModelStore:
    """The bank's served models (registry file + cache of loaded parts)."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = scoring_dir(Path(data_dir))
        self.path = self.dir / REGISTRY_FILE
        self._doc: dict[str, Any] = _empty()
        self._doc_mtime = -1
        self._loaded: dict[str, LoadedModel] = {}
        # spec -> (registry document it was resolved against, approved entry)
        self._resolved: dict[str, tuple[dict[str, Any], ServedModel]] = {}
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    # ------------------------------------------------------------------ registry file
    def _read(self) -> dict[str, Any]:
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return _empty()
        with self._lock:
            if mtime == self._doc_mtime:
                return self._doc
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataLoss("the scoring model registry is not valid JSON") from exc
        if not isinstance(doc, dict) or doc.get("format") != REGISTRY_FORMAT:
            raise DataLoss("the scoring model registry is malformed")
        with self._lock:
            self._doc, self._doc_mtime = doc, mtime
        return doc

    def register(
        self,
        name: str,
        part_path: Path,
        *,
        alias: str = UNAPPROVED_ALIAS,
        version: str = "",
        features: Mapping[str, Any] | None = None,
        as_of: str = "",
    ) -> ServedModel:
        """Register the bank part at ``part_path`` as ``name@alias``, *not approved*.

        The part is loaded once here to check it (family, model id); the registry keeps its
        absolute path. ``features`` names the bank feature source (see
        :mod:`bank_node.scoring.features`); ``as_of`` fixes the scoring date for requests that
        name none (e.g. a synthetic city frozen at its as-of date; default: the request date).
        The entry serves only once approved (:meth:`approve`); ``alias`` may not be one of
        :data:`APPROVED_ALIASES`. Re-registering an entry keeps its approvals.
        """
        if alias in APPROVED_ALIASES:
            raise InvalidArgument(
                "champion and challenger are given by an approval (fedcredit model promote)"
            )
        if as_of:
            try:
                dt.date.fromisoformat(as_of)
            except ValueError:
                raise InvalidArgument("as_of must be a date in YYYY-MM-DD form") from None
        if not name or "@" in name or not alias or "@" in alias:
            raise InvalidArgument("model names and aliases are non-empty and contain no '@'")
        model = load_bank_model(Path(part_path))
        check_model_id(model.model_id)
        doc = self._read()
        doc = json.loads(json.dumps(doc))  # a copy to edit
        path = Path(part_path).resolve()
        entry = {
            "name": name,
            "version": str(version),
            "family": model.family,
            "path": str(path),
            "features": dict(features or {}),
            "as_of": as_of,
        }
        key = f"{name}:{model.model_id}"
        entry["model_id"] = model.model_id
        entry["approvals"] = dict(doc["models"].get(key, {}).get("approvals") or {})
        doc["models"][key] = entry
        doc["aliases"][f"{name}@{alias}"] = key
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, doc)
        return self._entry(key, entry)

    def approve(
        self, name: str, alias: str, model_id: str, approval: Mapping[str, str]
    ) -> ServedModel:
        """Record an approval: ``name@alias`` -> the entry of ``model_id`` under ``name``.

        Called by :mod:`bank_node.governance` only, after the approver's identity was proven
        and the promotion audited. ``approval`` holds ``by``, ``role``, ``cert_fingerprint``,
        ``at`` (and ``version``). A ``champion`` approval makes ``name@champion`` the default
        when no other model's champion is; a challenger promoted to champion loses the
        challenger alias (as in MLflow).
        """
        if alias not in APPROVED_ALIASES:
            raise InvalidArgument("alias is champion or challenger")
        doc = json.loads(json.dumps(self._read()))
        key = f"{name}:{model_id}"
        if key not in doc["models"]:
            raise NotFound("unknown model")
        doc["models"][key].setdefault("approvals", {})[alias] = dict(approval)
        doc["aliases"][f"{name}@{alias}"] = key
        if alias == "champion":
            if doc["aliases"].get(f"{name}@challenger") == key:
                del doc["aliases"][f"{name}@challenger"]
            default = str(doc.get("default", ""))
            others = default.endswith("@champion") and default in doc["aliases"]
            if default.partition("@")[0] == name or not others:  # keep another model's champion
                doc["default"] = f"{name}@champion"
        write_json_atomic(self.path, doc)
        return self._entry(key, doc["models"][key])

    def drop_alias(self, name: str, alias: str) -> None:
        """Remove ``name@alias`` (reconciliation, when no approved version holds it)."""
        doc = json.loads(json.dumps(self._read()))
        if doc["aliases"].pop(f"{name}@{alias}", None) is None:
            return
        if doc.get("default") == f"{name}@{alias}":
            doc["default"] = ""
        write_json_atomic(self.path, doc)

    def aliases(self) -> dict[str, str]:
        """``{"NAME@alias": "NAME:MODEL_ID"}``."""
        return dict(self._read()["aliases"])

    def default(self) -> str:
        return str(self._read().get("default", ""))

    def entries(self) -> list[ServedModel]:
        doc = self._read()
        return [self._entry(key, e) for key, e in sorted(doc["models"].items())]

    def _entry(self, key: str, e: Mapping[str, Any]) -> ServedModel:
        path = Path(str(e["path"]))
        return ServedModel(
            key=key,
            model_id=str(e["model_id"]),
            name=str(e.get("name", "")),
            version=str(e.get("version", "")),
            family=str(e.get("family", "")),
            path=path if path.is_absolute() else self.dir / path,
            features=dict(e.get("features") or {}),
            as_of=str(e.get("as_of", "")),
            approvals={
                str(a): {str(k): str(v) for k, v in dict(rec).items()}
                for a, rec in dict(e.get("approvals") or {}).items()
            },
        )

    def lookup(self, spec: str) -> ServedModel:
        """The entry a spec names, approved or not (:meth:`resolve` adds the approval rule)."""
        return self._lookup(self._read(), spec)

    def _lookup(self, doc: dict[str, Any], spec: str) -> ServedModel:
        spec = spec.strip()
        if not spec:
            spec = str(doc.get("default", ""))
            if not spec.endswith(f"@{DEFAULT_ALIAS}"):
                if not doc["models"]:
                    raise NotFound("no model is served for scoring")
                raise FailedPrecondition(
                    "no approved champion model is served for scoring "
                    "(an approver promotes one with `fedcredit model promote`)"
                )
        models, aliases = doc["models"], doc["aliases"]
        key = aliases.get(spec) or (None if "@" in spec else aliases.get(f"{spec}@{DEFAULT_ALIAS}"))
        name, at, version = spec.partition("@")
        if key is None and at and version.isdigit():  # NAME@VERSION
            keys = sorted(
                k
                for k, e in models.items()
                if e.get("name") == name and e.get("version") == version
            )
            key = keys[0] if keys else None
        if (
            key is None and not at
        ):  # a model id: the default's entry if it serves it, else the first
            default = aliases.get(str(doc.get("default", "")))
            keys = sorted(k for k, e in models.items() if e.get("model_id") == spec)
            approved = [k for k in keys if models[k].get("approvals")]
            key = default if default in keys else ((approved or keys or [None])[0])
        if key is None and not at and any(e.get("name") == name for e in models.values()):
            raise FailedPrecondition(
                "no version of the requested model is approved for scoring "
                "(an approver promotes one with `fedcredit model promote`)"
            )
        if key is None or key not in models:
            raise NotFound("unknown model")
        return self._entry(key, models[key])

    def resolve(self, spec: str) -> ServedModel:
        """The *approved* entry for ``NAME@alias``, ``NAME@VERSION``, ``NAME``, a model id, or
        "" (the default champion). An entry without approval is refused."""
        doc = self._read()
        with self._lock:
            hit = self._resolved.get(spec)
        if hit is not None and hit[0] is doc:  # same registry document: same answer
            return hit[1]
        entry = self._lookup(doc, spec)
        if not entry.approved:
            raise FailedPrecondition(
                "the requested model version is not approved for scoring "
                "(an approver promotes it with `fedcredit model promote`)"
            )
        with self._lock:
            if len(self._resolved) >= _RESOLVED_MAX:
                self._resolved.clear()
            self._resolved[spec] = (doc, entry)
        return entry

    # ------------------------------------------------------------------ loaded models
    def load(self, spec: str) -> LoadedModel:
        """Resolve and load (cached; reloaded when the part file changes)."""
        entry = self.resolve(spec)
        try:
            mtime = os.stat(entry.path).st_mtime_ns
        except FileNotFoundError:
            raise NotFound("the served model's part file is missing") from None
        hit = self._cached(entry, mtime)
        if hit is not None:
            return hit
        with self._load_lock:  # concurrent first requests load (and adapt) the model once
            hit = self._cached(entry, mtime)
            if hit is not None:
                return hit
            model = load_bank_model(entry.path)
            if model.model_id != entry.model_id:
                raise DataLoss("the served model's part holds another model")
            loaded = LoadedModel(entry, model, make_source(entry.features, self.dir), mtime)
            with self._lock:
                self._loaded[entry.key] = loaded
            return loaded

    def _cached(self, entry: ServedModel, mtime: int) -> LoadedModel | None:
        with self._lock:
            hit = self._loaded.get(entry.key)
        if hit is not None and hit.mtime_ns == mtime and (hit.entry is entry or hit.entry == entry):
            return hit
        return None
