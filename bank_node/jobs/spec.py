"""The job file a bank data scientist writes (``fedcredit train JOB.toml``).

Example::

    [job]
    name = "sme-default"            # registered model name in MLflow
    algorithm = "secureboost"       # secureboost | logreg | scorecard
    bank_config = "bank.toml"       # the bank node to run as (relative to this file)
    # id = "sme-default-001"        # optional; a rerun with the same id resumes the job

    [bank_data]
    source = "loanbook"             # "loanbook" (synthetic city / bank export) or "table"
    path = "city/bank"              # loan book directory, or a CSV/Parquet file
    id_column = "id"                # for source = "table"
    label_column = "y"
    # positive_label = "yes"        # label value of the event (default: 0/1, yes/no, bad/good...)
    # categorical_columns = ["sector_code"]  # numeric columns to treat as categories

    [platform_data]
    dataset = "catalogue"           # the catalogue, or a table the platform serves
    categories = []                 # catalogue categories to use (empty: all shareable)
    as_of = 2022-01-01              # point-in-time rule: features from records before this date
                                    # (a TOML date or "YYYY-MM-DD"; the synthetic city's date)

    [split]
    valid_fraction = 0.2
    seed = 42

    [crypto]
    scheme = "paillier"             # paillier | ckks (logreg and scorecard)
    key_bits = 2048

    [params]                        # the estimator's hyper-parameters
    n_estimators = 30
    max_depth = 4
    # dp_epsilon = 1.0              # scorecard: DP noise on the platform's binning counts
    privacy = "hardened"            # secureboost: "hardened" (default), "strict" or "standard"

The whole file is checked before anything else happens (:data:`SCHEMA`, :func:`job_schema`):
unknown tables and keys are refused with the file, the line and a suggestion, values are typed
and bounded (``[params]`` per algorithm, :mod:`bank_node.jobs.params`), and the bank data file
and the bank config must exist. ``docs/configuration.md`` is generated from the same schema.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import InvalidArgument
from proto.transport.config import resolve
from proto.transport.config_model import FileSchema, Key, Table, check_document, read_toml

ALGORITHMS = ("secureboost", "logreg", "scorecard")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"

TABLES = (
    Table("job", "What to train and as which bank.", (
        Key("name", "str", None, "registered model name in MLflow", required=True,
            pattern=_NAME_RE),
        Key("algorithm", "str", None, "the model family", required=True, choices=ALGORITHMS),
        Key("bank_config", "path", "bank.toml", "the bank node to run as (relative to this file)"),
        Key("id", "str", "", "job id (default: NAME-YYYYMMDD-HHMMSS); a rerun with the same id "
            "resumes the job", pattern=_NAME_RE),
    ), required=True),
    Table("bank_data", "The bank's side of the training data.", (
        Key("source", "str", None, "`loanbook` (a loan-book directory) or `table` (CSV/Parquet)",
            required=True, choices=("loanbook", "table")),
        Key("path", "path", None, "the loan-book directory or the table file (relative to "
            "this file)", required=True),
        Key("id_column", "str", "id", "company id column (source = table)"),
        Key("label_column", "str", "y", "default label column (source = table)"),
        Key("positive_label", "str|int|float|bool", None, "label value of a default (e.g. "
            "\"yes\", 1, \"bad\"); default: 0/1, true/false, yes/no, y/n, bad/good are "
            "recognised"),
        Key("categorical_columns", "list[str]", [], "numeric columns to treat as categories "
            "(string columns always are)"),
    ), required=True),
    Table("platform_data", "The platform's side: which data set, which categories, which date.", (
        Key("dataset", "str", None, "`catalogue`, or a table the platform serves",
            required=True),
        Key("categories", "list[str]", [], "catalogue categories to use (empty: all shareable)"),
        Key("as_of", "date", "", "point-in-time date: features from records strictly before "
            "it; loan applications in the 12 months from it (the synthetic city's is "
            "2022-01-01)"),
    ), required=True),
    Table("split", "Train / validation split of the aligned rows.", (
        Key("valid_fraction", "float", 0.2, "share of rows held out for validation",
            minimum=0.001, maximum=0.899),
        Key("seed", "int", 42, "random seed of the split", minimum=0, maximum=2**32 - 1),
    )),
    Table("crypto", "Homomorphic encryption.", (
        Key("scheme", "str", "paillier", "`ckks` for logreg and scorecard only",
            choices=("paillier", "ckks")),
        Key("key_bits", "int", 2048, "key size, a multiple of 256", minimum=1024,
            maximum=8192),
    )),
)  # fmt: skip
PARAMS_HELP = "The estimator's hyper-parameters (keys depend on `job.algorithm`)."
PARAMS_HINTS = {
    "key_bits": "set crypto.key_bits instead",
    "mode": "set crypto.scheme instead",
}


def job_schema(algorithm: str | None) -> FileSchema:
    """The job file's schema; ``[params]`` holds ``algorithm``'s hyper-parameters."""
    if algorithm in ALGORITHMS:
        from bank_node.jobs.params import param_keys

        params = Table("params", PARAMS_HELP, param_keys(algorithm), hints=PARAMS_HINTS)
    else:  # the algorithm itself is reported; the parameters cannot be checked yet
        params = Table("params", PARAMS_HELP, entries=Key("value", "str|int|float|bool"))
    return FileSchema(
        title="Job file: `job.toml`",
        help="`fedcredit train job.toml`: a bank data scientist's joint training job.",
        tables=(*TABLES, params),
        example=EXAMPLE,
    )


EXAMPLE = """
[job]
name = "sme-default"
algorithm = "secureboost"
bank_config = "bank.toml"
id = "sme-default-001"

[bank_data]
source = "loanbook"
path = "city/bank"

[platform_data]
dataset = "catalogue"
as_of = 2022-01-01

[split]
valid_fraction = 0.25
seed = 42

[crypto]
scheme = "paillier"
key_bits = 2048

[params]
n_estimators = 12
max_depth = 4
learning_rate = 0.3
privacy = "hardened"
"""


def _positive_label(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise InvalidArgument("bank_data.positive_label must be a string, a number or a boolean")


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"bank_data.{what}_columns must be a list of column names")
    return list(value)


@dataclass
class BankData:
    source: str
    path: Path
    id_column: str = "id"
    label_column: str = "y"
    positive_label: str | int | float | bool | None = None
    categorical_columns: list[str] = field(default_factory=list)


@dataclass
class PlatformData:
    dataset: str
    categories: list[str] = field(default_factory=list)
    as_of: str = ""


@dataclass
class JobSpec:
    job_id: str
    name: str
    algorithm: str
    bank_config: Path
    bank_data: BankData
    platform_data: PlatformData
    valid_fraction: float
    seed: int
    scheme: str
    key_bits: int
    params: dict[str, Any]
    path: Path | None = None

    @classmethod
    def load(cls, path: Path, *, job_id: str | None = None, check_files: bool = True) -> JobSpec:
        """Read and check the whole job file (nothing touches the network)."""
        path = Path(path)
        doc, text = read_toml(path)
        spec = cls.from_dict(doc, base=path.parent, job_id=job_id, path=path, text=text)
        if check_files:
            spec.check_files()
        return spec

    def check_files(self) -> None:
        """The files the job names exist (before any network call)."""
        if not self.bank_data.path.exists():
            raise InvalidArgument(f"bank_data.path not found: {self.bank_data.path}")
        if self.bank_data.source == "table" and not self.bank_data.path.is_file():
            raise InvalidArgument(f"bank_data.path is not a file: {self.bank_data.path}")
        if self.bank_data.source == "loanbook" and not self.bank_data.path.is_dir():
            raise InvalidArgument(f"bank_data.path is not a loan-book directory: "
                                  f"{self.bank_data.path}")  # fmt: skip

    @classmethod
    def from_dict(
        cls,
        doc: dict[str, Any],
        *,
        base: Path,
        job_id: str | None = None,
        path: Path | None = None,
        text: str = "",
    ) -> JobSpec:
        job = doc.get("job", {})
        algorithm_given = job.get("algorithm") if isinstance(job, dict) else None
        checked = check_document(
            doc,
            job_schema(algorithm_given if isinstance(algorithm_given, str) else None),
            path=path or "job",
            text=text,
        )
        doc = {**doc, **{t: checked.get(t, {}) for t in ("platform_data", "params")}}
        name = str(job.get("name", ""))
        if not _NAME.match(name):
            raise InvalidArgument("job.name must be 1-64 letters, digits, '.', '_' or '-'")
        algorithm = str(job.get("algorithm", ""))
        if algorithm not in ALGORITHMS:
            raise InvalidArgument("job.algorithm must be secureboost, logreg or scorecard")
        jid = (
            job_id
            or str(job.get("id", ""))
            or (f"{name}-{dt.datetime.now(dt.UTC).strftime('%Y%m%d-%H%M%S')}")
        )
        if not _NAME.match(jid):
            raise InvalidArgument("job id must be 1-64 letters, digits, '.', '_' or '-'")
        bd = doc.get("bank_data", {})
        if bd.get("source") not in ("loanbook", "table"):
            raise InvalidArgument("bank_data.source must be loanbook or table")
        if not bd.get("path"):
            raise InvalidArgument("bank_data.path is required")
        pd = doc.get("platform_data", {})
        if not pd.get("dataset"):
            raise InvalidArgument("platform_data.dataset is required")
        as_of = str(pd.get("as_of", ""))
        if as_of:
            try:
                dt.date.fromisoformat(as_of)
            except ValueError:
                raise InvalidArgument("platform_data.as_of must be YYYY-MM-DD") from None
        split = doc.get("split", {})
        valid_fraction = float(split.get("valid_fraction", 0.2))
        if not 0.0 < valid_fraction < 0.9:
            raise InvalidArgument("split.valid_fraction must be in (0, 0.9)")
        crypto = doc.get("crypto", {})
        scheme = str(crypto.get("scheme", "paillier"))
        if scheme not in ("paillier", "ckks"):
            raise InvalidArgument("crypto.scheme must be paillier or ckks")
        if scheme == "ckks" and algorithm == "secureboost":
            raise InvalidArgument("secureboost runs on paillier only")
        key_bits = int(crypto.get("key_bits", 2048))
        if key_bits < 1024 or key_bits % 256:
            raise InvalidArgument("crypto.key_bits must be a multiple of 256, at least 1024")
        params = dict(doc.get("params", {}))
        if algorithm == "secureboost" and "privacy" in params:
            from models.secureboost.privacy import policy_for

            policy = policy_for(str(params["privacy"]))  # InvalidArgument if unknown
            if params.get("early_stopping_rounds") and not policy.routes_validation:
                raise InvalidArgument(
                    "params.early_stopping_rounds needs params.privacy = 'standard' (hardened "
                    "and strict score validation rows only after training)"
                )
        return cls(
            job_id=jid,
            name=name,
            algorithm=algorithm,
            bank_config=resolve(base, str(job.get("bank_config", "bank.toml"))),
            bank_data=BankData(
                source=str(bd["source"]),
                path=resolve(base, str(bd["path"])),
                id_column=str(bd.get("id_column", "id")),
                label_column=str(bd.get("label_column", "y")),
                positive_label=_positive_label(bd.get("positive_label")),
                categorical_columns=_str_list(bd.get("categorical_columns", []), "categorical"),
            ),
            platform_data=PlatformData(
                dataset=str(pd["dataset"]),
                categories=[str(c) for c in pd.get("categories", [])],
                as_of=as_of,
            ),
            valid_fraction=valid_fraction,
            seed=int(split.get("seed", 42)),
            scheme=scheme,
            key_bits=key_bits,
            params=params,
            path=path,
        )

    def platform_params(self) -> dict[str, str]:
        """Session parameters the platform needs (non-secret)."""
        out = {}
        if self.platform_data.as_of:
            out["as_of"] = self.platform_data.as_of
        if self.platform_data.categories:
            out["categories"] = ",".join(self.platform_data.categories)
        return out
