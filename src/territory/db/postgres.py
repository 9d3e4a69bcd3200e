"""Reading PostgreSQL/PostGIS: one read-only transaction, a server-side (named) cursor.

The connection is made by SQLAlchemy with psycopg (libpq reads ``PGPASSWORD`` or
``.pgpass``); the transaction is ``READ ONLY`` before anything else runs. A table name is
quoted by psycopg (:class:`psycopg.sql.Identifier`); a query is sent exactly as written.
Rows come through a named cursor ``batch`` rows at a time, so a table of millions of rows is
never in memory at once. PostGIS geometries arrive as EWKB and carry their SRID.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pandas as pd

from territory.db.connect import describe_failure
from territory.db.read import geometry_frame, pick_geometry
from territory.db.source import DatabaseSource
from territory.errors import InputError

#: PostGIS's own tables and views, left out when the tables of a database are listed
POSTGIS_TABLES = {"spatial_ref_sys", "geometry_columns", "geography_columns", "raster_columns",
                  "raster_overviews"}  # fmt: skip


class PostgresReader:
    """Reads one :class:`DatabaseSource` from PostgreSQL (see
    :func:`territory.db.read.open_reader`)."""

    def __init__(self, src: DatabaseSource, what: str):
        self.src, self.what, self.db = src, what, src.connection
        self.engine = self.conn = None
        self.only = None  # a KeyRange (territory.db.partition): read only those rows

    def open(self) -> None:
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        self.engine = sa.create_engine(self.db.url, poolclass=NullPool)
        try:
            self.conn = self.engine.connect()
            self.conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            if self.src.table is not None:
                self._check_table(sa.inspect(self.conn))
        except sa.exc.DBAPIError as exc:
            self.close()
            raise InputError(describe_failure(exc, self.db, self.what)) from None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()  # a read-only transaction: rolled back, nothing to keep
            self.conn = None
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    def _check_table(self, inspector) -> None:
        schema, name = self.src.schema_and_name
        if schema is not None and schema not in inspector.get_schema_names():
            schemas = [s for s in inspector.get_schema_names() if not s.startswith("pg_")]
            raise InputError(
                f"Schema '{schema}' of the {self.src.label} does not exist. Schemas: "
                f"{', '.join(schemas)}. Fix the table name (schema.table)."
            )
        if inspector.has_table(name, schema=schema):
            return
        names = sorted(
            set(inspector.get_table_names(schema=schema))
            | set(inspector.get_view_names(schema=schema))
        )
        names = [n for n in names if n not in POSTGIS_TABLES]
        listed = ", ".join(names) if names else "none"
        raise InputError(
            f"There is no table {self.src.table} for the {self.what} in {self.db.shown}. "
            f"Tables there{f' (schema {schema})' if schema else ''}: {listed}. Fix the table "
            "name (schema.table for another schema), or ask for access if it is not listed."
        )

    def _table(self):
        from psycopg import sql

        schema, name = self.src.schema_and_name
        return sql.Identifier(schema, name) if schema else sql.Identifier(name)

    def _statement(self, count: bool = False):
        """The statement and its parameters (None: none, so a query's % stays as written)."""
        from psycopg import sql

        if self.src.table is None:
            return self.src.query, None  # the user's own SQL, as written
        head = "SELECT count(*) FROM {}" if count else "SELECT * FROM {}"
        statement = sql.SQL(head).format(self._table())
        part = self.only
        if part is None:
            return statement, None
        key = sql.Identifier(part.key)
        terms, params = [], []
        for value, op in ((part.lower, ">="), (part.upper, "<")):
            if value is not None:
                terms.append(sql.SQL("{} " + op + " %s").format(key))
                params.append(value)
        where = sql.SQL(" AND ").join(terms) if terms else sql.SQL("TRUE")
        if part.nulls:
            where = sql.SQL("({}) OR {} IS NULL").format(where, key)
        return sql.SQL("{} WHERE {}").format(statement, where), params

    def columns(self) -> list[str]:
        """The table's column names."""
        import sqlalchemy as sa

        schema, name = self.src.schema_and_name
        return [c["name"] for c in sa.inspect(self.conn).get_columns(name, schema=schema)]

    def boundaries(self, key: str, rows: int) -> list:
        """Every ``rows``-th key in key order (the first key first), computed by the server."""
        from psycopg import sql

        statement = sql.SQL(
            "SELECT k FROM (SELECT {key} AS k, row_number() OVER (ORDER BY {key}) AS n FROM "
            "{table} WHERE {key} IS NOT NULL) AS ranked WHERE (n - 1) %% %s = 0 ORDER BY k"
        ).format(key=sql.Identifier(key), table=self._table())
        with self._failures(), self.conn.connection.driver_connection.cursor() as cur:
            cur.execute(statement, [rows])
            return [row[0] for row in cur.fetchall()]

    def count(self) -> int | None:
        """Rows of the table (None for a query: it is not run twice)."""
        if self.src.table is None:
            return None
        with self._failures(), self.conn.connection.driver_connection.cursor() as cur:
            cur.execute(*self._statement(count=True))
            return int(cur.fetchone()[0])

    def frames(self, batch: int) -> Iterator[pd.DataFrame]:
        """The rows as DataFrames of at most ``batch`` rows (at least one, maybe empty)."""
        raw = self.conn.connection.driver_connection
        with self._failures():
            cur = raw.cursor(name="territory_read")
            cur.itersize = batch
            cur.execute(*self._statement())
            columns = [d.name for d in cur.description]
            kinds = self._geometry_types(raw, [d.type_code for d in cur.description])
        geometry = [c for c, k in zip(columns, kinds, strict=True) if k == "geometry"]
        blobs = [c for c, k in zip(columns, kinds, strict=True) if k == "bytea"]
        column = pick_geometry(self.src, columns, geometry, blobs)
        try:
            first, crs = True, None
            while True:
                with self._failures():
                    rows = cur.fetchmany(batch)
                if not rows and not first:
                    break
                first = False
                frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
                frame = geometry_frame(frame, column, self.src, crs)
                crs = crs or (frame.crs.to_string() if getattr(frame, "crs", None) else None)
                yield frame
                if len(rows) < batch:
                    break
        finally:
            cur.close()

    @staticmethod
    def _geometry_types(raw, oids: list[int]) -> list[str]:
        """``"geometry"`` (PostGIS geometry/geography), ``"bytea"`` or ``""`` per column."""
        with raw.cursor() as cur:
            cur.execute("SELECT oid::int FROM pg_type WHERE typname IN ('geometry', 'geography')")
            spatial = {row[0] for row in cur.fetchall()}
        return ["geometry" if o in spatial else "bytea" if o == 17 else "" for o in oids]

    @contextlib.contextmanager
    def _failures(self):
        """Driver errors while reading, as one InputError naming the table or query."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            raise InputError(self._message(exc)) from None

    def _message(self, exc) -> str:
        import psycopg

        src, db, what = self.src, self.db, self.what
        if isinstance(exc, (psycopg.errors.InsufficientPrivilege, psycopg.OperationalError)):
            return describe_failure(exc, db, what)  # names the table the server refused
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if src.query is not None:
            return (
                f"The query for the {what} in {db.shown} failed: {detail}. Fix the SQL (it runs "
                "as written, read only)."
            )
        return f"Reading the {src.label} failed: {detail}."
