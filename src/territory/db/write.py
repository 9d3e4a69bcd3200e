"""Results written back to a database: every table of a run in ONE transaction.

:func:`write_tables` sends result tables (assignments, KPIs, segment KPIs, adjustments, a
designed alignment and its dissolved territories) to PostgreSQL/PostGIS (SQLAlchemy
``engine.begin()``, rows by ``COPY``) or to a DuckDB file (one DuckDB transaction, rows from
Arrow). DDL is transactional in both, so a failure or a kill mid-write leaves every table as it
was: all tables of the run are there, or none changed.

Modes (:class:`~territory.db.target.DatabaseTarget`): ``replace`` drops and recreates each
table, so it holds this run only; ``append`` adds rows to an existing table after checking its
columns, and refuses a run id the table already holds. Every row carries ``run_id`` and
``run_at`` (UTC). Names are quoted identifiers and values are data (COPY rows, Arrow), never
SQL text.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from territory.db.connect import Database, describe_failure, parse
from territory.db.tables import PreparedTable, prepare
from territory.db.target import DatabaseTarget
from territory.errors import OutputError, TerritoryError

#: seconds to wait after each table is sent (tests kill a run mid-write with it)
PAUSE_ENV = "TERRITORY_DB_PAUSE_AFTER_TABLE"

#: rows per COPY chunk (memory stays bounded for large assignment tables)
COPY_BATCH_ROWS = 50_000

#: what each kind is called in PostgreSQL and DuckDB (fixed type names, never user text)
PG_TYPES = {"text": "text", "double": "double precision", "bigint": "bigint",
            "boolean": "boolean", "date": "date", "timestamp": "timestamp without time zone",
            "timestamptz": "timestamp with time zone", "geometry": "geometry"}  # fmt: skip
DUCK_TYPES = {"text": "VARCHAR", "double": "DOUBLE", "bigint": "BIGINT", "boolean": "BOOLEAN",
              "date": "DATE", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMP WITH TIME ZONE",
              "geometry": "GEOMETRY"}  # fmt: skip

#: column types an append accepts for each kind (lower case, as information_schema shows them)
COMPATIBLE = {
    "text": {"text", "character varying", "varchar", "character", "bpchar"},
    "double": {"double precision", "double", "real", "float", "numeric", "decimal"},
    "bigint": {"bigint", "integer", "double precision", "double", "numeric", "hugeint"},
    "boolean": {"boolean"},
    "date": {"date"},
    "timestamp": {"timestamp without time zone", "timestamp"},
    "timestamptz": {"timestamp with time zone"},
    "geometry": {"geometry", "user-defined", "blob"},
}


@dataclass
class DatabaseReport:
    """What a write sent: the database (shown without secrets), schema, mode, run id and
    ``tables`` as (qualified name, rows)."""

    database: str
    schema: str | None
    mode: str
    run_id: str
    tables: list[tuple[str, int]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # older runs' tables this run has none of

    def lines(self) -> list[str]:
        written = [f"{self.database}: {name} ({rows:,} rows, {self.mode}, run {self.run_id})"
                   for name, rows in self.tables]  # fmt: skip
        return written + [f"{self.database}: {name} removed (an older run's; this run has none)"
                          for name in self.dropped]  # fmt: skip


def new_run_id(now: dt.datetime) -> str:
    """A run id that sorts by time and does not repeat: ``20261201T141700Z-1a2b3c4d``."""
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def write_tables(target: DatabaseTarget, frames: Iterable[tuple[str, pd.DataFrame]],
                 what: str = "outputs", drop: Iterable[str] = ()) -> DatabaseReport:  # fmt: skip
    """Write result tables ``(key, frame)`` (keys as in
    :data:`~territory.db.target.DEFAULT_TABLES`) to ``target`` in one transaction, and remove
    the tables of keys ``drop`` where they exist (in the same transaction).

    Raises
    ------
    OutputError
        Naming the table, the column and the fix (permission denied, incompatible columns in
        append mode, a run id already written, connection refused, wrong password). Nothing is
        written then: every table is as it was.
    """
    database = parse(target.url, what)
    if database.kind == "duckdb" and database.duckdb_path is None:
        check_connection(target)  # refuses an in-memory database
    run_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    run_id = target.run_id or new_run_id(run_at)
    tables = [prepare(key, target.table(key), frame, run_id, run_at, what)
              for key, frame in frames]  # fmt: skip
    report = DatabaseReport(database.shown, target.schema, target.mode, run_id)
    writer = _postgres if database.kind == "postgresql" else _duckdb
    writer(database, target, tables, report, [target.table(k) for k in drop])
    return report


def check_connection(target: DatabaseTarget) -> None:
    """Fail before a run when the database cannot be reached: refused, wrong password, no such
    database, or a DuckDB file whose folder is missing or read-only. Nothing is created."""
    database = parse(target.url, "outputs")
    if database.kind == "duckdb":
        path = database.duckdb_path
        if path is None:
            raise OutputError(
                f"The outputs database {database.shown} is an in-memory DuckDB database, "
                "which is thrown away when the run ends: give a file, e.g. "
                "duckdb:///results.duckdb."
            )
        folder = path.parent if str(path.parent) else Path(".")
        writable = path if path.exists() else folder
        if not folder.is_dir() or not os.access(writable, os.W_OK):
            raise OutputError(
                f"Cannot write the DuckDB file {path}: "
                f"{'its folder does not exist' if not folder.is_dir() else 'it is read-only'}. "
                "Create the folder or choose a file you may write; nothing was run."
            )
        return
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(database.url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.SQLAlchemyError as exc:
        raise OutputError(
            f"{describe_failure(exc, database, 'outputs')} Nothing was run."
        ) from None
    finally:
        engine.dispose()


def nothing_written(database: Database, detail: str) -> OutputError:
    return OutputError(
        f"Nothing was written to the database {database.shown}: every table is as it was. {detail}"
    )


def _pause(table: PreparedTable) -> None:
    seconds = os.environ.get(PAUSE_ENV)
    if seconds:
        print(f"territory: sent table {table.name}", file=sys.stderr, flush=True)
        time.sleep(float(seconds))


def _qualified(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


# --- PostgreSQL / PostGIS ------------------------------------------------------------------


def _postgres(database: Database, target: DatabaseTarget, tables, report, drop) -> None:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(database.url, poolclass=NullPool)
    where = None  # the table being written, for messages
    try:
        with engine.begin() as conn:
            cursor = conn.connection.driver_connection.cursor()
            schema = target.schema or _pg_value(cursor, "select current_schema()", ())
            if target.schema and _pg_value(
                cursor, "select count(*) from pg_namespace where nspname = %s", (schema,)
            ) == 0:  # fmt: skip
                _pg_execute(cursor, "CREATE SCHEMA {}", schema)
            for table in tables:
                where = _qualified(schema, table.name)
                _pg_table(cursor, database, target, schema, table)
                report.tables.append((where, len(table)))
                _pause(table)
            for name in drop:
                where = _qualified(schema, name)
                if _pg_value(cursor, "select to_regclass(%s) is not null",
                             (sql_name(schema, name),)):  # fmt: skip
                    _pg_execute(cursor, "DROP TABLE {}", (schema, name))
                    report.dropped.append(where)
            where = None
    except TerritoryError:
        raise
    except Exception as exc:
        if isinstance(exc, sa.exc.SQLAlchemyError) or type(exc).__module__.startswith("psycopg"):
            raise nothing_written(database, _pg_failure(exc, database, target, where)) from None
        raise
    finally:
        engine.dispose()


def sql_name(schema: str, name: str) -> str:
    """``"schema"."name"`` as to_regclass reads it (quoted, so any name is taken as written)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema, name))


def _pg_value(cursor, query: str, params: tuple):
    cursor.execute(query, params)
    return cursor.fetchone()[0]


def _pg_execute(cursor, template: str, *names, params: tuple = ()) -> None:
    """Run ``template`` with ``{}`` filled by quoted identifiers (a str or a (schema, name))."""
    from psycopg import sql

    idents = [sql.Identifier(*n) if isinstance(n, tuple) else sql.Identifier(n) for n in names]
    cursor.execute(sql.SQL(template).format(*idents), params)


def _pg_table(cursor, database: Database, target: DatabaseTarget, schema: str,
              table: PreparedTable) -> None:  # fmt: skip
    cursor.execute(
        "select column_name, lower(data_type), lower(udt_name) from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, table.name),
    )
    existing = {name: {kind, udt} for name, kind, udt in cursor.fetchall()}
    if existing and target.mode == "replace":
        _pg_execute(cursor, "DROP TABLE {}", (schema, table.name))
        existing = {}
    if existing:
        _check_append(database, schema, table, existing)
        if len(table):
            _pg_execute(cursor, "select count(*) from {} where {} = %s", (schema, table.name),
                        "run_id", params=(table.data["run_id"][0].as_py(),))  # fmt: skip
            if cursor.fetchone()[0]:
                raise _run_taken(database, schema, table)
    else:
        _pg_create(cursor, schema, table)
    _pg_copy(cursor, schema, table)


def _pg_create(cursor, schema: str, table: PreparedTable) -> None:
    from psycopg import sql

    parts = []
    for column in table.columns:
        kind = sql.SQL(PG_TYPES[column.kind])
        if column.kind == "geometry":  # a typmod of fixed words and an integer
            kind = sql.SQL("geometry(Geometry, {})").format(sql.Literal(int(table.srid or 0)))
        parts.append(sql.SQL("{} {}").format(sql.Identifier(column.name), kind))
    cursor.execute(sql.SQL("CREATE TABLE {} ({})").format(
        sql.Identifier(schema, table.name), sql.SQL(", ").join(parts)))  # fmt: skip


def _pg_copy(cursor, schema: str, table: PreparedTable) -> None:
    """Send the rows with COPY ... FROM STDIN (CSV written by Arrow, in batches): values are
    data, a NULL is an unquoted empty field and every text is quoted."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pa_csv
    from psycopg import sql

    data = table.data
    for i, column in enumerate(table.columns):
        if column.kind == "geometry":
            hexes = _ewkb_hex(data[column.name].to_pylist(), table.srid or 0)
            data = data.set_column(i, column.name, pa.array(hexes, pa.string()))
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(schema, table.name),
        sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns),
    )
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    with cursor.copy(statement) as copy:
        for batch in data.to_batches(max_chunksize=COPY_BATCH_ROWS):
            buffer = io.BytesIO()
            pa_csv.write_csv(pa.Table.from_batches([batch]), buffer, options)
            copy.write(buffer.getvalue())


def _ewkb_hex(values: list, srid: int) -> list:
    """Hex EWKB (with the SRID) that PostGIS reads as geometry text in COPY."""
    import shapely

    geoms = shapely.from_wkb(values)
    geoms = shapely.set_srid(geoms, srid)
    return list(shapely.to_wkb(geoms, hex=True, include_srid=True))


def _pg_failure(exc, database: Database, target: DatabaseTarget, table: str | None) -> str:
    text = str(getattr(exc, "orig", None) or exc).lower()
    where = f"table {table}" if table is not None else "schema"
    denied = "permission denied" in text or "must be owner" in text
    if table is None and denied and target.schema:
        return (f"The role may not create the schema {target.schema}: ask for GRANT CREATE ON "
                "DATABASE (or create the schema for it), or use an existing schema.")  # fmt: skip
    if denied:
        return (
            f"Writing the {where} was denied: {_first_line(exc)}. Ask for the right (GRANT "
            "CREATE on the schema, INSERT on the table; replace also needs to own the table) "
            "or use a role that may write there."
        )
    if 'type "geometry" does not exist' in text:
        return (f"The {where} has a geometry column but PostGIS is not installed in that "
                "database: run CREATE EXTENSION postgis, or leave this table out.")  # fmt: skip
    if "depend" in text and "drop" in text:
        return (f"The {where} cannot be replaced: {_first_line(exc)}. Drop the views that use it, "
                "or write with mode append or another table name.")  # fmt: skip
    message = describe_failure(exc, database, "outputs")
    return message if table is None else f"Writing the {where}: {message}"


def _first_line(exc) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return next((line.strip() for line in text.splitlines() if line.strip()), text)


# --- checks shared by both -----------------------------------------------------------------


def _check_append(database: Database, schema: str, table: PreparedTable,
                  existing: dict[str, set[str]]) -> None:  # fmt: skip
    """An append needs every column of the run in the table with a compatible type."""
    name = _qualified(schema, table.name)
    for column in table.columns:
        if column.name not in existing:
            raise nothing_written(database, (
                f"The table {name} has no column {column.name!r}, which this run writes "
                f"({PG_TYPES[column.kind]}). Append needs the same columns: use mode replace, "
                "another table name, or add the column (ALTER TABLE ... ADD COLUMN)."))  # fmt: skip
        if not existing[column.name] & COMPATIBLE[column.kind]:
            found = sorted(existing[column.name])[0]
            raise nothing_written(database, (
                f"The column {column.name!r} of table {name} is {found}, but this run writes "
                f"{PG_TYPES[column.kind]} there. Use mode replace, another table name, or change "
                "the column type."))  # fmt: skip


def _run_taken(database: Database, schema: str, table: PreparedTable) -> OutputError:
    run_id = table.data["run_id"][0].as_py()
    return nothing_written(database, (
        f"The table {_qualified(schema, table.name)} already holds run {run_id!r} (column "
        "run_id); an append never repeats a run. Give another run id, or leave it out for a "
        "new one."))  # fmt: skip


# --- DuckDB -------------------------------------------------------------------------------


def quote(name: str) -> str:
    """A DuckDB identifier: in double quotes, inner quotes doubled (any text stays a name)."""
    return '"' + name.replace('"', '""') + '"'


def _duckdb(database: Database, target: DatabaseTarget, tables, report, drop) -> None:
    import duckdb

    path = database.duckdb_path
    try:
        con = duckdb.connect(str(path) if path else ":memory:")
    except duckdb.Error as exc:
        raise nothing_written(database, (
            f"Cannot open the DuckDB file {path}: {_first_line(exc)}. Check that its folder "
            "exists, that it may be written, and that no other program holds it open."
        )) from None  # fmt: skip
    current = None
    try:
        geometry = any(c.kind == "geometry" for t in tables for c in t.columns)
        spatial = geometry and load_spatial(con)  # the extension takes a second to load
        con.begin()
        schema = target.schema or con.execute("select current_schema()").fetchone()[0]
        if target.schema:
            catalog = con.execute("select current_database()").fetchone()[0]
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(catalog)}.{quote(schema)}")
        for current in tables:
            _duck_table(con, database, target, schema, current, spatial)
            report.tables.append((_qualified(schema, current.name), len(current)))
            _pause(current)
        current = None
        catalog = con.execute("select current_database()").fetchone()[0]
        for name in drop:
            found = con.execute(
                "select count(*) from information_schema.tables where table_catalog = "
                "current_database() and table_schema = ? and table_name = ?", [schema, name],
            ).fetchone()[0]  # fmt: skip
            if found:
                con.execute(f"DROP TABLE {quote(catalog)}.{quote(schema)}.{quote(name)}")
                report.dropped.append(_qualified(schema, name))
        con.commit()
    except duckdb.Error as exc:
        con.rollback()
        where = f"the table {_qualified(target.schema, current.name)}" if current else "it"
        raise nothing_written(database, f"Writing {where} failed: {_first_line(exc)}") from None
    except BaseException:
        con.rollback()
        raise
    finally:
        con.close()


def load_spatial(con) -> bool:
    """Load DuckDB's spatial extension from its PyPI package (no download); False if absent."""
    import importlib.util

    import duckdb

    spec = importlib.util.find_spec("duckdb_ext")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        found = sorted(
            Path(folder).glob(f"extensions/v{duckdb.__version__}/*/spatial.duckdb_extension")
        )
        for file in found:
            try:
                con.load_extension(str(file))
                return True
            except duckdb.Error:
                continue
    return False


def _duck_table(con, database: Database, target: DatabaseTarget, schema: str,
                table: PreparedTable, spatial: bool) -> None:  # fmt: skip
    rows = con.execute(
        "select column_name, lower(data_type) from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, table.name],
    ).fetchall()
    existing = {name: {kind} for name, kind in rows}
    catalog = con.execute("select current_database()").fetchone()[0]
    # fully qualified: a schema may have the file's (catalog's) name
    full = f"{quote(catalog)}.{quote(schema)}.{quote(table.name)}"
    if existing and target.mode == "replace":
        con.execute(f"DROP TABLE {full}")
        existing = {}
    if existing:
        _check_append(database, schema, table, existing)
        if len(table):
            taken = con.execute(f'select count(*) from {full} where "run_id" = ?',
                                [table.data["run_id"][0].as_py()])  # fmt: skip
            if taken.fetchone()[0]:
                raise _run_taken(database, schema, table)
    else:
        kinds = {**DUCK_TYPES, "geometry": "GEOMETRY" if spatial else "BLOB"}
        columns = ", ".join(f"{quote(c.name)} {kinds[c.kind]}" for c in table.columns)
        con.execute(f"CREATE TABLE {full} ({columns})")
    default = {"geometry" if spatial else "blob"}
    selects = [
        f"ST_GeomFromWKB({quote(c.name)})"
        if c.kind == "geometry" and "geometry" in existing.get(c.name, default)
        else quote(c.name)
        for c in table.columns
    ]
    con.register("territory_incoming", table.data)
    try:
        con.execute(f"INSERT INTO {full} ({', '.join(quote(c.name) for c in table.columns)}) "
                    f"SELECT {', '.join(selects)} FROM territory_incoming")  # fmt: skip
    finally:
        con.unregister("territory_incoming")
