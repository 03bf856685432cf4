"""One validated model for fedcredit's TOML files: node configs and job files.

A :class:`FileSchema` lists the tables a file may hold; each :class:`Table` lists its keys
(:class:`Key`: type, default, range, choices, help) or, for free-form tables such as
``known_parties``, the schema of its values. :func:`check_document` checks a parsed document
completely and reports every problem at once, each with the file, the line and, for unknown
keys and tables, a did-you-mean suggestion::

    job.toml:14: unknown key 'valid_fration' in [split] (did you mean 'valid_fraction'?)
    job.toml:20: [params] n_estimators must be at most 10000

:func:`render_markdown` writes the reference page ``docs/configuration.md`` from the same
objects (``python -m bank_node.config_docs``; a test checks the page does not drift).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import InvalidArgument


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


KINDS = (
    "str", "int", "float", "bool", "path", "date", "list[str]", "list[float]",
    "str|int|float|bool",
)  # fmt: skip
MAX_ERRORS = 20


@dataclass(frozen=True)
class Key:
    """One key of a table."""

    name: str
    kind: str
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    pattern: str = ""
    form: str = ""  # what ``pattern`` means, for error messages ("a host:port address")

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind}")

    def describe_range(self) -> str:
        parts = []
        if self.choices:
            parts.append(" \\| ".join(f"`{c}`" for c in self.choices))
        if self.minimum is not None:
            parts.append(f">= {_num(self.minimum)}")
        if self.maximum is not None:
            parts.append(f"<= {_num(self.maximum)}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Table:
    """A TOML table: fixed ``keys``, or free-form entries (``entries``: the schema of each
    value, a :class:`Key` for scalars or a :class:`Table` for sub-tables)."""

    name: str  # dotted, e.g. "bank" or "platform.known_parties"
    help: str
    keys: tuple[Key, ...] = ()
    entries: Key | Table | None = None
    entry_name: str = "NAME"  # how docs name a free-form key
    required: bool = False
    hints: Mapping[str, str] = field(default_factory=dict)  # unknown key -> what to do instead

    def key(self, name: str) -> Key | None:
        return next((k for k in self.keys if k.name == name), None)


@dataclass(frozen=True)
class FileSchema:
    """A whole file: its tables (in documentation order) and a documented example."""

    title: str
    help: str
    tables: tuple[Table, ...]
    example: str = ""
    extra_tables: Mapping[str, Table] = field(default_factory=dict)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


# -- reading -----------------------------------------------------------------------------------
def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """The parsed document and its text; clear errors that name the file (and the line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidArgument(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise InvalidArgument(f"config file is a directory: {path}") from None
    except PermissionError:
        raise InvalidArgument(f"config file is not readable: {path}") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"config file is not UTF-8 text: {path}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as err:  # its message names the line and column
        raise InvalidArgument(f"{path}: not valid TOML: {err}") from None


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


def _unquote(part: str) -> str:
    part = part.strip()
    return part[1:-1] if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'" else part


def line_index(text: str) -> dict[tuple[str, str], int]:
    """``{(table, key): line}`` and ``{(table, ""): line of its header}`` (1-based)."""
    out: dict[tuple[str, str], int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if m:
            table = ".".join(_unquote(p) for p in m.group(1).split("."))
            out.setdefault((table, ""), number)
            continue
        k = _KEY.match(line)
        if k:
            parts = [_unquote(p) for p in k.group(1).split(".")]
            full = ".".join([table, *parts[:-1]]) if table else ".".join(parts[:-1])
            out.setdefault((full, parts[-1]), number)
            if len(parts) > 1:
                out.setdefault((full, ""), number)
    return out


# -- checking ----------------------------------------------------------------------------------
@dataclass
class _Report:
    path: str
    lines: dict[tuple[str, str], int]
    errors: list[tuple[int, str]] = field(default_factory=list)

    def add(self, table: str, key: str, message: str) -> None:
        line = self.lines.get((table, key)) or self.lines.get((table, "")) or 0
        self.errors.append((line, message))

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        self.errors.sort(key=lambda e: e[0])
        shown = [f"{self.path}:{line}: {msg}" if line else f"{self.path}: {msg}"
                 for line, msg in self.errors[:MAX_ERRORS]]  # fmt: skip
        more = len(self.errors) - len(shown)
        if more > 0:
            shown.append(f"... and {more} more")
        raise InvalidArgument("\n  ".join(["the file has errors:", *shown]) if len(shown) > 1
                              else shown[0])  # fmt: skip


def suggest(word: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def coerce(key: Key, value: Any) -> tuple[Any, str]:
    """``(value in the key's type, "")`` or ``(None, what is wrong)``."""
    kind = key.kind
    if kind in ("str", "path"):
        if not isinstance(value, str):
            return None, "must be a string"
        if key.pattern and not re.fullmatch(key.pattern, value):
            return None, f"must be {key.form}" if key.form else "has an invalid form"
    elif kind == "bool":
        if not isinstance(value, bool):
            return None, "must be true or false"
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                return None, "must be an integer"
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, "must be a number"
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            return None, "must be a finite number"
    elif kind == "date":
        if isinstance(value, dt.datetime):
            return None, "must be a date YYYY-MM-DD (no time)"
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value).isoformat()
            except ValueError:
                return None, "must be a date YYYY-MM-DD"
        else:
            return None, "must be a date YYYY-MM-DD"
    elif kind == "list[str]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, "must be a list of strings"
    elif kind == "list[float]":
        if not isinstance(value, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            return None, "must be a list of numbers"
    elif kind == "str|int|float|bool" and not isinstance(value, str | int | float | bool):
        return None, "must be a string, number or boolean"
    if key.choices and value not in key.choices:
        return None, f"must be one of {', '.join(key.choices)}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if key.minimum is not None and value < key.minimum:
            return None, f"must be at least {_num(key.minimum)}"
        if key.maximum is not None and value > key.maximum:
            return None, f"must be at most {_num(key.maximum)}"
    return value, ""


def _check_table(table: Table, doc: Mapping[str, Any], report: _Report) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if table.entries is not None:
        for name, value in doc.items():
            if isinstance(table.entries, Table):
                sub = Table(f"{table.name}.{name}", table.entries.help, table.entries.keys)
                if not isinstance(value, dict):
                    report.add(table.name, name, f"[{table.name}] {name} must be a table")
                    continue
                out[name] = _check_table(sub, value, report)
            else:
                good, problem = coerce(table.entries, value)
                if problem:
                    report.add(table.name, name, f"[{table.name}] {name} {problem}")
                out[name] = good
        return out
    names = [k.name for k in table.keys]
    for name, value in doc.items():
        key = table.key(name)
        if key is None:
            hint = f" ({table.hints[name]})" if name in table.hints else suggest(name, names)
            report.add(table.name, name, f"unknown key '{name}' in [{table.name}]{hint}")
            continue
        good, problem = coerce(key, value)
        if problem:
            report.add(table.name, name, f"[{table.name}] {name} {problem}")
            continue
        out[name] = good
    for key in table.keys:
        if key.required and key.name not in doc:
            report.add(table.name, "", f"[{table.name}] {key.name} is required")
    return out


def check_document(
    doc: Mapping[str, Any], schema: FileSchema, *, path: Path | str, text: str = ""
) -> dict[str, dict[str, Any]]:
    """Every table of ``doc`` checked against ``schema`` (all problems reported at once).

    Returns ``{table name: {key: value}}`` with values in their schema types (dates as
    ``YYYY-MM-DD`` strings); keys not given are absent (callers apply the defaults).
    """
    report = _Report(str(path), line_index(text))
    out: dict[str, dict[str, Any]] = {}
    names = [t.name for t in schema.tables]

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        table = schema.table(prefix) if prefix else None
        scalars: dict[str, Any] = {}
        for name, value in node.items():
            full = f"{prefix}.{name}" if prefix else name
            free_form = table is not None and table.entries is not None
            if isinstance(value, dict) and not free_form:
                if schema.table(full) is not None:
                    walk(full, value)
                else:
                    report.add(full, "", f"unknown table [{full}]{suggest(full, names)}")
            elif table is None:
                report.add("", name, f"unknown key '{name}' outside any table")
            else:
                scalars[name] = value
        if table is not None:
            out[prefix] = _check_table(table, scalars, report)

    walk("", doc)
    for table in schema.tables:
        if table.required and table.name not in out:
            report.add(table.name, "", f"[{table.name}] is required")
    report.raise_if_any()
    return out


def keys_from_defaults(
    defaults: Mapping[str, Any], docs: Mapping[str, tuple[str, dict[str, Any]]]
) -> tuple[Key, ...]:
    """Keys of a node table from its ``DEFAULTS`` (the type is the default's) and their docs
    (``{key: (help, {"minimum": .., "choices": .., "kind": ..})}``). A key added to
    ``DEFAULTS`` without docs is still checked and listed (as undocumented)."""
    out = []
    for name, default in defaults.items():
        help_text, extra = docs.get(name, ("(undocumented)", {}))
        kind = extra.get("kind") or (
            "bool" if isinstance(default, bool)
            else "int" if isinstance(default, int)
            else "float" if isinstance(default, float)
            else "list[str]" if isinstance(default, list)
            else "str"
        )  # fmt: skip
        rest = {k: v for k, v in extra.items() if k != "kind"}
        out.append(Key(name, kind, default, help_text, **rest))
    return tuple(out)


def env_value(key: Key, raw: str, variable: str) -> Any:
    """An environment override in the key's type (clear error naming the variable)."""
    value: Any = raw
    try:
        if key.kind == "bool":
            value = raw.strip().lower() in ("1", "true", "yes", "on")
        elif key.kind == "int":
            value = int(raw)
        elif key.kind == "float":
            value = float(raw)
    except ValueError:
        what = "an integer" if key.kind == "int" else "a number"
        raise InvalidArgument(f"{variable} must be {what}") from None
    good, problem = coerce(key, value)
    if problem:
        raise InvalidArgument(f"{variable} {problem}")
    return good


# -- shared tables -----------------------------------------------------------------------------
def console_table(node: str, default_listen: str) -> Table:
    """The schema of ``[<node>.console]`` (documented in docs/configuration.md)."""
    from proto.transport.web.config import ConsoleConfig

    d = ConsoleConfig()
    return Table(
        f"{node}.console",
        "The web console this node serves over HTTPS with its own certificate "
        "(`docs/console.md`); off unless `enabled`. Accounts live in "
        "`<data_dir>/console/accounts.db`.",
        (
            Key("enabled", "bool", False, "serve the console"),
            Key("listen", "str", default_listen, "the console's HTTPS address",
                pattern=r"[^\s:]*:[0-9]{1,5}|\[[0-9a-fA-F:]+\]:[0-9]{1,5}",
                form="a host:port address"),
            Key("session_idle_s", "float", d.session_idle_s,
                "a session idle this long ends", minimum=60, maximum=86400),
            Key("max_failures", "int", d.max_failures,
                "wrong passwords in a row that lock an account", minimum=1, maximum=100),
            Key("lockout_s", "float", d.lockout_s, "how long a locked account stays locked",
                minimum=1, maximum=86400),
        ),
    )  # fmt: skip


# -- documentation -----------------------------------------------------------------------------
def _default(key: Key) -> str:
    if key.required:
        return "required"
    if key.default is None or key.default == "":
        return '`""`' if key.default == "" else "-"
    if isinstance(key.default, bool):
        return f"`{str(key.default).lower()}`"
    if isinstance(key.default, str):
        return f'`"{key.default}"`'
    return f"`{key.default!r}`"


def render_schema(schema: FileSchema) -> list[str]:
    lines = [f"## {schema.title}", "", schema.help, ""]
    for table in schema.tables:
        lines += [f"### `[{table.name}]`" + (" (required)" if table.required else ""), ""]
        lines += [table.help, ""]
        if table.entries is not None:
            entries = table.entries
            if isinstance(entries, Key):
                lines += [
                    f"Free-form: `{table.entry_name} = value`, each value a {entries.kind}"
                    + (f" ({entries.describe_range()})" if entries.describe_range() else "")
                    + ": "
                    + entries.help
                    + ".",
                    "",
                ]
                continue
            head = f"Free-form: one sub-table `[{table.name}.{table.entry_name}]` each, with:"
            lines += [head, ""]
            keys: tuple[Key, ...] = entries.keys
        else:
            keys = table.keys
        lines += ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        for k in keys:
            lines.append(
                f"| `{k.name}` | {k.kind} | {_default(k)} | {k.describe_range() or '-'} "
                f"| {k.help} |"
            )
        lines.append("")
    if schema.example:
        lines += ["Example:", "", "```toml", schema.example.strip("\n"), "```", ""]
    return lines


def render_markdown(schemas: Sequence[FileSchema], intro: str) -> str:
    lines = [intro.strip("\n"), ""]
    for schema in schemas:
        lines += render_schema(schema)
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------- compute backend
#: Keys every node table has for its compute backend (``models/compute``,
#: ``docs/deployment.md``), merged into the node's ``DEFAULTS`` and ``DOCS``.
COMPUTE_DEFAULTS: dict[str, Any] = {"compute": "local", "ray_address": "", "ray_workers": 0}
COMPUTE_DOCS: dict[str, tuple[str, dict[str, Any]]] = {
    "compute": ("where the hot loops run: `local` (this process and its helpers) or `ray` "
                "(the party's Ray cluster; `pip install 'fedcredit[ray]'`)",
                {"choices": ("local", "ray")}),
    "ray_address": ("the party's Ray cluster, `host:port` of its head (empty: `auto`, the "
                    "cluster this machine belongs to); only with `compute = \"ray\"`", {}),
    "ray_workers": ("Ray worker actors (0: one per CPU of the cluster)",
                    {"minimum": 0, "maximum": 65536}),
}  # fmt: skip


@dataclass(frozen=True)
class ComputeConfig:
    """A node's compute backend settings (``compute``, ``ray_address``, ``ray_workers``)."""

    compute: str = "local"
    ray_address: str = ""
    ray_workers: int = 0

    @classmethod
    def from_settings(cls, raw: Mapping[str, Any]) -> ComputeConfig:
        return cls(
            compute=str(raw.get("compute", "local")),
            ray_address=str(raw.get("ray_address", "")),
            ray_workers=int(raw.get("ray_workers", 0)),
        )

    def apply(self) -> None:
        """Make this the process's backend (``local`` leaves the default untouched)."""
        if self.compute == "local":
            return
        from models import compute

        compute.configure(
            self.compute, address=self.ray_address or None, workers=self.ray_workers or None
        )
