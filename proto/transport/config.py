"""Node configuration: a TOML file, then ``FEDCREDIT_<NODE>_<KEY>`` environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proto.transport.tls import TlsFiles

if TYPE_CHECKING:
    from proto.transport.config_model import FileSchema


def apply_env(
    section: dict[str, Any], prefix: str, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Override top-level scalar keys of ``section`` from ``<PREFIX>_<KEY>`` variables."""
    env = os.environ if env is None else env
    out = dict(section)
    for key, value in env.items():
        if not key.startswith(prefix + "_"):
            continue
        name = key[len(prefix) + 1 :].lower()
        current = out.get(name)
        if isinstance(current, bool):
            out[name] = value.strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(current, int):
            out[name] = int(value)
        elif isinstance(current, float):
            out[name] = float(value)
        else:
            out[name] = value
    return out


def resolve(base: Path, value: str | Path) -> Path:
    """A path from the config, relative to the config file's directory."""
    p = Path(value)
    return p if p.is_absolute() else (base / p)


@dataclass(frozen=True)
class NodeSection:
    """A node's ``[<node>]`` table, read by :func:`load_node_section`.

    Attributes
    ----------
    settings:
        The top-level scalar keys: defaults, then the file, then the environment.
    section:
        The table as written in the file (its sub-tables, e.g. ``known_parties``).
    base:
        The config file's directory (the working directory without a file).
    """

    settings: dict[str, Any]
    section: dict[str, Any]
    base: Path

    def path(self, key: str) -> Path:
        """The setting ``key`` as a path, relative to the config file's directory."""
        return resolve(self.base, self.settings[key])

    def tls(self, *, plaintext: bool) -> TlsFiles | None:
        """The node's identity in ``pki_dir`` under its ``party`` (``None`` in plaintext mode)."""
        if plaintext:
            return None
        return TlsFiles.in_pki_dir(self.path("pki_dir"), self.settings["party"])


def load_node_section(
    path: Path | None,
    node: str,
    defaults: Mapping[str, Any],
    schema: FileSchema | None = None,
    env: Mapping[str, str] | None = None,
) -> NodeSection:
    """Read ``[<node>]`` of the TOML file at ``path`` (``None``: defaults only).

    With ``schema`` the whole file is checked first (:func:`~proto.transport.config_model.
    check_document`: unknown keys and tables refused with file, line and a suggestion; types
    and ranges). Scalar keys override ``defaults`` and are overridden in turn by
    ``FEDCREDIT_<NODE>_<KEY>`` environment variables (checked the same way).
    """
    doc: dict[str, Any] = {}
    if path is not None:
        from proto.transport.config_model import check_document, read_toml

        doc, text = read_toml(Path(path))
        if schema is not None:
            check_document(doc, schema, path=path, text=text)
    section = dict(doc.get(node, {}))
    settings = dict(defaults)
    settings.update({k: v for k, v in section.items() if not isinstance(v, dict)})
    prefix = f"FEDCREDIT_{node.upper()}"
    table = schema.table(node) if schema is not None else None
    if table is not None:
        from proto.transport.config_model import env_value

        env = os.environ if env is None else env
        for variable, raw in env.items():
            if not variable.startswith(prefix + "_"):
                continue
            key = table.key(variable[len(prefix) + 1 :].lower())
            if key is not None:
                settings[key.name] = env_value(key, raw, variable)
    else:
        settings = apply_env(settings, prefix, env)
    return NodeSection(
        settings=settings,
        section=section,
        base=path.parent if path is not None else Path.cwd(),
    )
