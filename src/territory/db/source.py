"""A table or query in a database, named as a plan's input.

In a plan file an input is a file path (``path = "accounts.csv"``) or a database source::

    [accounts]
    source = { database = "postgresql://planner@db.example/sales", table = "accounts" }

    [blocks]
    source = { database = "duckdb:///data/book.duckdb", query = "select * from counties" }

On the command line (and in the Python API, where a path is accepted) a database table is
written ``URL#table``: ``postgresql://planner@/sales?host=/run/postgresql#accounts`` or
``duckdb:///book.duckdb#sales.accounts``. A table may be schema-qualified (``schema.table``);
table and column names are identifiers, quoted by SQLAlchemy or DuckDB, never put into SQL
text. A query is the user's own SQL, run as given in a read-only transaction.

This module imports no database driver: :mod:`territory.db.read` does the reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from territory.db.connect import Database, is_database_url, parse
from territory.errors import InputError

#: the keys of a ``source = { ... }`` table in a plan file
KEYS = ("database", "table", "query", "geometry")


@dataclass(frozen=True)
class DatabaseSource:
    """A table (``schema.table`` allowed) or a query in a database.

    Parameters
    ----------
    database : str
        SQLAlchemy-style connection string without a password (``postgresql://user@host/db``,
        ``duckdb:///path/book.duckdb``); see :mod:`territory.db.connect`.
    table, query : str
        Exactly one of them: a table or view name, or a SQL query run as given (read only).
    geometry : str, optional
        The geometry column to use when the table has several (or a WKB column that is not
        called ``geometry``/``geom``/``wkb``); default: the one geometry column, if any.
    """

    database: str
    table: str | None = None
    query: str | None = None
    geometry: str | None = None

    def __post_init__(self):
        if (self.table is None) == (self.query is None):
            raise InputError(
                f"A database source ({self.connection.shown}) needs exactly one of table = "
                '"<name>" or query = "select ...".'
            )
        for key in ("table", "query", "geometry"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InputError(
                    f"The {key} of the database source {self.connection.shown} must be "
                    "non-empty text."
                )

    @property
    def connection(self) -> Database:
        """The checked connection string (raises InputError for a password or bad scheme)."""
        return parse(self.database)

    @property
    def kind(self) -> str:
        return self.connection.kind

    @property
    def schema_and_name(self) -> tuple[str | None, str]:
        """``(schema, table)``; the schema is None when the table is not qualified."""
        assert self.table is not None
        schema, dot, name = self.table.strip().rpartition(".")
        return (schema or None) if dot else None, name

    @property
    def label(self) -> str:
        """How messages name it: ``table accounts in postgresql://planner@/sales``."""
        what = f"table {self.table}" if self.table is not None else "query"
        return f"{what} in {self.connection.shown}"

    def __str__(self) -> str:
        return self.label


def is_database_source(value) -> bool:
    """Whether ``value`` names a database input (a :class:`DatabaseSource` or ``URL#table``)."""
    return isinstance(value, DatabaseSource) or is_database_url(value)


def from_text(text: str, what: str = "input") -> DatabaseSource:
    """``URL#table`` (the command-line form) as a :class:`DatabaseSource`."""
    url, hash_, table = text.partition("#")
    database = parse(url, what)  # a password or bad scheme is refused before anything else
    if not hash_ or not table.strip():
        raise InputError(
            f"The {what} connection string {database.shown} names no table. Add it after a "
            f"#: {database.shown}#accounts (or #schema.table); a query goes into a plan file "
            '(source = { database = "...", query = "select ..." }).'
        )
    return DatabaseSource(url, table=table.strip())


def from_plan(value: dict, where: str, base=None) -> DatabaseSource:
    """A ``source = { database = ..., table = ... }`` table of a plan file (``where`` names
    the setting for messages); a relative DuckDB path is taken from ``base`` (the plan
    file's folder), like file paths."""
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise InputError(
            f"Unknown key(s) {', '.join(unknown)} in {where}. A database source has: "
            f"{', '.join(KEYS)}."
        )
    if not isinstance(value.get("database"), str):
        raise InputError(
            f'{where} needs database = "postgresql://user@host/db" or '
            '"duckdb:///path/file.duckdb" (text in quotes).'
        )
    for key in ("table", "query", "geometry"):
        if key in value and not isinstance(value[key], str):
            raise InputError(f"{key} in {where} must be text in quotes.")
    value = {**value, "database": from_folder(value["database"], base, where)}
    try:
        return DatabaseSource(**value)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def from_folder(url: str, base, where: str) -> str:
    """``url`` with a relative DuckDB path taken from ``base`` (a plan file's folder), as file
    paths of a plan are; other URLs unchanged."""
    database = parse(url, where)
    path = database.duckdb_path
    if base is None or path is None or path.expanduser().is_absolute():
        return url
    from pathlib import Path

    from sqlalchemy.engine import make_url

    full = make_url(url).set(database=str(Path(base) / path))
    return full.render_as_string(hide_password=False)


def as_source(value, what: str = "input"):
    """``value`` as a :class:`DatabaseSource` when it is a ``URL#table`` text, else unchanged."""
    if isinstance(value, str) and is_database_url(value):
        return from_text(value, what)
    return value


def as_sources(**inputs) -> list:
    """:func:`as_source` of each input, named by its keyword (for messages), in order."""
    return [as_source(value, what) for what, value in inputs.items()]
