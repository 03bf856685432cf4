"""Served tables managed while the platform runs (issue 16 item 4).

A served table is a CSV or Parquet file the platform serves to banks instead of its catalogue.
Each one is registered as numbered, immutable **versions** (:mod:`.registry`): adding a file
validates it (:mod:`.check`), copies it into the platform's data directory and makes it the
table's active version; the running server serves the active version of each name from the
next request on, without a restart; retiring a name stops serving it. Every version's digests
(of the file and of the table as served) are in the platform's audit log, and each job's
``dataset_described`` entry names the version it used, so lineage names the exact table.
"""

from platform_node.tables.check import TableCheck, check_table
from platform_node.tables.registry import ServedTableRegistry, TableVersion

__all__ = ["ServedTableRegistry", "TableCheck", "TableVersion", "check_table"]
