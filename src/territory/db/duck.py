"""Reading DuckDB files: a read-only connection, Arrow record batches.

The spatial extension is loaded from the ``duckdb-ext-spatial`` package when it is installed
(no download); then ``GEOMETRY`` columns are read as WKB (``ST_AsWKB``). Without it, geometry
is a WKB ``BLOB`` column (``geometry``/``geom``/``wkb``) or lat/lon columns. DuckDB geometries
carry no CRS: give ``crs`` in the plan (lat/lon columns are always EPSG:4326). A table is
opened by name through DuckDB's relation API, a query runs exactly as written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from territory.db.read import geometry_frame, pick_geometry
from territory.db.source import DatabaseSource
from territory.errors import InputError


def spatial_extension() -> Path | None:
    """The spatial extension file shipped by ``duckdb-ext-spatial`` for this duckdb, if any."""
    import importlib.util

    import duckdb

    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        found = sorted(
            Path(root).glob(f"extensions/v{duckdb.__version__}/*/spatial.duckdb_extension")
        )
        if found:
            return found[0]
    return None


class DuckReader:
    """Reads one :class:`DatabaseSource` from a DuckDB file (see
    :func:`territory.db.read.open_reader`)."""

    def __init__(self, src: DatabaseSource, what: str):
        self.src, self.what, self.db = src, what, src.connection
        self.con = None
        self.spatial = False
        self.only = None  # a KeyRange (territory.db.partition): read only those rows

    def open(self) -> None:
        import duckdb

        path = self.db.duckdb_path
        if path is None:
            raise InputError(
                f"The {self.what} database {self.db.shown} names no DuckDB file (an in-memory "
                "database holds no tables). Write duckdb:///path/to/file.duckdb."
            )
        if not path.is_file():
            raise InputError(
                f"The {self.what} database {self.db.shown} does not exist: no file {path}. "
                "Check the path (duckdb:///relative/path or duckdb:////absolute/path)."
            )
        try:
            self.con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise InputError(
                f"Cannot open the {self.what} database {self.db.shown}: {_first_line(exc)}. "
                "Check that it is a DuckDB file (of this DuckDB version) and not in use."
            ) from None
        self.con.execute("SET enable_progress_bar = false")  # territory shows its own
        extension = spatial_extension()
        if extension is not None:
            try:
                self.con.load_extension(str(extension))
                self.spatial = True
            except duckdb.Error:
                self.spatial = False
        # a read-only connection may still write files (COPY ... TO) or attach another
        # database read-write: the user's query may read this file only
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")
        if self.src.table is not None:
            self._check_table()

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def _check_table(self) -> None:
        schema, name = self.src.schema_and_name
        rows = self.con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY 1, 2"
        ).fetchall()
        if any(t == name and (schema is None or s == schema) for s, t in rows):
            return
        listed = ", ".join(t if s == "main" else f"{s}.{t}" for s, t in rows) or "none"
        raise InputError(
            f"There is no table {self.src.table} for the {self.what} in {self.db.shown}. "
            f"Tables there: {listed}. Fix the table name (schema.table for another schema)."
        )

    def _relation(self):
        import duckdb

        try:
            if self.src.table is not None:
                return _only(self.con.table(self.src.table), self.only)
            relation = self.con.sql(self.src.query)  # the user's own SQL, as written
        except duckdb.Error as exc:
            raise InputError(self._failure(exc)) from None
        if relation is None:
            raise InputError(
                f"The query for the {self.what} in {self.db.shown} returns no rows: it is not "
                "a SELECT. Give a query that selects the rows."
            )
        return relation

    def _failure(self, exc) -> str:
        if self.src.query is not None:
            return (
                f"The query for the {self.what} in {self.db.shown} failed: {_first_line(exc)}. "
                "Fix the SQL (it runs as written, on a read-only connection)."
            )
        return f"Reading the {self.src.label} failed: {_first_line(exc)}."

    def columns(self) -> list[str]:
        """The table's column names."""
        return list(self._relation().columns)

    def boundaries(self, key: str, rows: int) -> list:
        """Every ``rows``-th key in key order (the first key first)."""
        import duckdb

        column = duckdb.ColumnExpression(key)
        keys = self._relation().select(column).filter(column.isnotnull()).sort(column)
        found, seen = [], 0
        for batch in keys.fetch_record_batch(rows):
            values = batch.column(0)
            start = (-seen) % rows
            found += values.to_pylist()[start::rows]
            seen += len(values)
        return found

    def count(self) -> int | None:
        """Rows of the table (None for a query: it is not run twice)."""
        if self.src.table is None:
            return None
        return int(self._relation().aggregate("count(*)").fetchone()[0])

    def frames(self, batch: int) -> Iterator[pd.DataFrame]:
        """The rows as DataFrames of at most ``batch`` rows (at least one, maybe empty)."""
        import duckdb

        relation = self._relation()
        columns, types = list(relation.columns), [str(t) for t in relation.types]
        geometry = [c for c, t in zip(columns, types, strict=True) if t == "GEOMETRY"]
        if geometry and not self.spatial:
            raise InputError(
                f"The {self.src.label} has GEOMETRY columns ({', '.join(geometry)}) but DuckDB's "
                "spatial extension is not installed here: pip install 'territory[db]', or store "
                "the geometry as WKB (ST_AsWKB) or lat/lon columns."
            )
        blobs = [c for c, t in zip(columns, types, strict=True) if t in ("BLOB", "WKB_BLOB")]
        column = pick_geometry(self.src, columns, geometry, blobs)
        if geometry:
            relation = relation.select(*[
                duckdb.FunctionExpression("ST_AsWKB", duckdb.ColumnExpression(c)).alias(c)
                if c in geometry else duckdb.ColumnExpression(c)
                for c in columns
            ])  # fmt: skip
        try:
            reader = relation.fetch_record_batch(batch)
            empty = True
            for record_batch in reader:
                empty = False
                yield geometry_frame(_to_pandas(record_batch), column, self.src, srid=False)
            if empty:
                empty_table = reader.schema.empty_table()
                yield geometry_frame(_to_pandas(empty_table), column, self.src, srid=False)
        except (duckdb.Error, OSError) as exc:  # later batches fail as Arrow's OSError
            raise InputError(self._failure(exc)) from None


def _only(relation, part):
    """The relation's rows in the key range ``part`` (None: all of them)."""
    if part is None:
        return relation
    import duckdb

    key = duckdb.ColumnExpression(part.key)
    condition = None
    for value, above in ((part.lower, True), (part.upper, False)):
        if value is not None:
            bound = duckdb.ConstantExpression(value)
            term = key >= bound if above else key < bound
            condition = term if condition is None else condition & term
    if part.nulls:
        condition = key.isnull() if condition is None else condition | key.isnull()
    return relation if condition is None else relation.filter(condition)


def _to_pandas(batch) -> pd.DataFrame:
    """An Arrow batch as pandas: decimals as floats (as every other number), dates as dates."""
    import pyarrow as pa

    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            # through the decimal text: the nearest float, as a CSV cell "12.34" is read
            # (Arrow's direct cast scales by a power of ten and can be one unit off)
            exact = table.column(i).cast(pa.string()).cast(pa.float64())
            table = table.set_column(i, field.name, exact)
    return table.to_pandas()


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
