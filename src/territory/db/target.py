"""Where results go in a database: the URL, schema, mode and table names (no driver imported).

A plan names it in ``[outputs]``::

    [outputs]
    dir = "out"
    database = "postgresql://planner@/sales"   # or duckdb:///plans.duckdb
    schema = "territory"                        # default: the database's default schema
    mode = "append"                             # "replace" (default) or "append"
    tables = {assignments = "fy27_assignments"} # other tables keep their default names

The CLI takes ``--to-database URL --mode append --schema territory``; Python takes
``result.to_database(url, mode=..., schema=..., tables=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from territory.errors import ValidationError

MODES = ("replace", "append")

#: what each result table is called unless ``tables`` renames it
DEFAULT_TABLES = MappingProxyType(
    {
        "assignments": "territory_assignments",
        "kpis": "territory_kpis",
        "segments": "territory_segment_kpis",
        "adjustments": "territory_adjustments",
        "territories": "territory_shapes",
        "alignment": "territory_alignment",
        "quality": "territory_quality",
    }
)

#: the longest table name PostgreSQL keeps without cutting it (NAMEDATALEN - 1 bytes)
MAX_NAME_BYTES = 63


@dataclass(frozen=True)
class DatabaseTarget:
    """A database destination: ``url`` (SQLAlchemy URL, no password), ``schema`` (None = the
    default one), ``mode`` (``replace``: each table holds this run only; ``append``: rows are
    added, tagged with ``run_id`` and ``run_at``), ``tables`` (result -> table name overrides)
    and ``run_id`` (None = generated)."""

    url: str
    schema: str | None = None
    mode: str = "replace"
    tables: Mapping[str, str] = field(default_factory=dict)
    run_id: str | None = None
    where: str = "the database output"

    def __post_init__(self):
        check_target(self)
        object.__setattr__(self, "tables", MappingProxyType(dict(self.tables)))

    def table(self, key: str) -> str:
        """The table name of result ``key`` (``assignments``, ``kpis`` ...)."""
        return self.tables.get(key, DEFAULT_TABLES[key])

    def with_changes(self, **changes) -> DatabaseTarget:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def check_target(target: DatabaseTarget) -> None:
    """Refuse an unknown mode, result name or an unusable table/schema name, naming the fix."""
    where = target.where
    if not isinstance(target.url, str) or not target.url.strip():
        raise ValidationError(f"The database URL of {where} is empty; give postgresql://... "
                              "or duckdb:///file.duckdb.")  # fmt: skip
    if target.mode not in MODES:
        raise ValidationError(
            f"mode of {where} is {target.mode!r}; use 'replace' (each table holds this run "
            "only) or 'append' (rows added with a run_id)."
        )
    unknown = sorted(set(target.tables) - set(DEFAULT_TABLES))
    if unknown:
        raise ValidationError(
            f"tables of {where} names {', '.join(map(repr, unknown))}, which is not a result "
            f"table; use {', '.join(DEFAULT_TABLES)}."
        )
    for key, name in target.tables.items():
        _check_name(name, f"tables.{key} of {where}")
    if target.schema is not None:
        _check_name(target.schema, f"schema of {where}")
    if target.run_id is not None and (not isinstance(target.run_id, str) or not target.run_id):
        raise ValidationError(f"run_id of {where} must be non-empty text.")


def _check_name(name, what: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{what} must be a non-empty table or schema name.")
    if "\x00" in name or len(name.encode()) > MAX_NAME_BYTES:
        raise ValidationError(
            f"{what} is {name[:80]!r}: a name must be at most {MAX_NAME_BYTES} bytes without "
            "NUL characters. Choose a shorter name."
        )
