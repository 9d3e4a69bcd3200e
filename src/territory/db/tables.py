"""Result frames as typed tables for a database: one column kind per column, values in Arrow.

Kinds: ``text`` (ids, names, method, reason, categories), ``double`` (measures), ``bigint``
(counts), ``boolean``, ``date`` (dates without a time of day), ``timestamp`` /
``timestamptz``, and ``geometry`` (WKB with an SRID). Ids stay text as given (leading zeros
kept); a missing value is NULL, never the text "nan".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from territory.db.target import MAX_NAME_BYTES
from territory.errors import OutputError

#: columns every written table gets: which run wrote the row, and when
RUN_COLUMNS = ("run_id", "run_at")

ARROW_TYPES = {
    "text": pa.string(),
    "double": pa.float64(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "geometry": pa.binary(),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str


@dataclass
class PreparedTable:
    """One result table ready to send: ``key`` (``kpis`` ...), the table ``name``, typed
    ``columns`` (run columns first), the values as ``data`` and the geometry's ``srid``."""

    key: str
    name: str
    columns: list[Column]
    data: pa.Table
    srid: int | None = None

    def __len__(self) -> int:
        return self.data.num_rows


def prepare(key: str, name: str, frame: pd.DataFrame, run_id: str, run_at: dt.datetime,
            what: str) -> PreparedTable:  # fmt: skip
    """Type every column of ``frame`` (a result table) and add ``run_id`` / ``run_at``."""
    if not isinstance(frame, pd.DataFrame):
        frame = frame.compute()  # a Dask result
    frame = frame.reset_index(drop=True)
    names = [str(c) for c in frame.columns]
    _check_columns(names, name, what)
    n = len(frame)
    columns = [Column("run_id", "text"), Column("run_at", "timestamptz")]
    arrays = [
        pa.repeat(pa.scalar(run_id, pa.string()), n),
        pa.repeat(pa.scalar(run_at, ARROW_TYPES["timestamptz"]), n),
    ]
    srid = None
    geometry = frame.geometry.name if hasattr(frame, "geometry") and _has_geometry(frame) else None
    for label, column in zip(names, frame.columns, strict=True):
        series = frame[column]
        if column == geometry:
            wkb, srid = _geometry(frame)
            columns.append(Column(label, "geometry"))
            arrays.append(pa.array(wkb, pa.binary()))
            continue
        try:
            kind, values = _typed(series)
            arrays.append(pa.array(values, ARROW_TYPES[kind], from_pandas=True))
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            raise OutputError(
                f"Column '{label}' of the {name} table cannot be written to the {what} "
                f"database as {series.dtype} ({type(exc).__name__}: {str(exc)[:200]}). Round "
                "timestamps to microseconds, or keep numbers within 64-bit integers, in that "
                "column; nothing was written to the database."
            ) from None
        columns.append(Column(label, kind))
    data = pa.Table.from_arrays(arrays, names=[c.name for c in columns])
    return PreparedTable(key, name, columns, data, srid)


def _has_geometry(frame) -> bool:
    try:
        frame.geometry  # noqa: B018 (a GeoDataFrame without an active geometry raises)
    except AttributeError:
        return False
    return True


def _check_columns(names: list[str], table: str, what: str) -> None:
    taken = sorted(set(names) & set(RUN_COLUMNS))
    if taken:
        raise OutputError(
            f"The {what} table {table} has a column {taken[0]!r}, a name territory uses for the "
            "run tag. Rename that column in the input."
        )
    seen: set[str] = set()
    for label in names:
        if label in seen:
            raise OutputError(f"The {what} table {table} has the column {label!r} twice; "
                              "rename one in the input.")  # fmt: skip
        seen.add(label)
        if "\x00" in label or len(label.encode()) > MAX_NAME_BYTES:
            raise OutputError(
                f"The {what} table {table} has a column {label[:80]!r} that a database cannot "
                f"name (at most {MAX_NAME_BYTES} bytes, no NUL). Rename it in the input."
            )


def _typed(series: pd.Series) -> tuple[str, object]:
    """(kind, values Arrow reads) for one column."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if pd.api.types.is_numeric_dtype(dtype.categories.dtype):
            return "double", series.astype("float64").to_numpy()
        labels = np.array([*_text(pd.Series(dtype.categories)), None], dtype=object)
        return "text", labels[series.cat.codes.to_numpy()]  # code -1 (missing) -> None
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean", series.astype(object).where(series.notna(), None).to_list()
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint", series.astype("Int64").astype(object).where(series.notna(), None).to_list()
    if pd.api.types.is_float_dtype(dtype):
        return "double", series.astype("float64").to_numpy()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _datetimes(series)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "double", (series / pd.Timedelta(days=1)).to_numpy()
    return _objects(series)


def _datetimes(series: pd.Series) -> tuple[str, object]:
    aware = getattr(series.dt, "tz", None) is not None
    known = series.dropna()
    if not aware and (known == known.dt.normalize()).all():
        return "date", [None if pd.isna(v) else v.date() for v in series]
    if aware:
        return "timestamptz", series.dt.tz_convert("UTC")
    return "timestamp", series


#: pandas' inferred type of an object/string column -> the kind written
_INFERRED = {"string": "text", "empty": "text", "date": "date", "boolean": "boolean",
             "integer": "double", "floating": "double", "mixed-integer-float": "double",
             "decimal": "double"}  # fmt: skip


def _objects(series: pd.Series) -> tuple[str, object]:
    """Object and string columns: dates, booleans and numbers keep their type; the rest is text."""
    kind = _INFERRED.get(pd.api.types.infer_dtype(series, skipna=True), "mixed")
    values = series.to_numpy(dtype=object, na_value=None)
    if kind == "double":
        return kind, pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
    if kind == "text":
        return kind, values  # str values and None
    if kind in ("date", "boolean"):
        return kind, [None if _missing(v) else v for v in values]
    return "text", _text(series)


def _text(series: pd.Series) -> list[str | None]:
    return [None if _missing(v) else str(v) for v in series.to_list()]


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and np.isnan(value)


def _geometry(frame) -> tuple[list[bytes | None], int]:
    """WKB of the active geometry and its SRID (reprojected to EPSG:4326 without an EPSG code)."""
    import shapely

    crs = frame.crs
    epsg = crs.to_epsg() if crs is not None else None
    geoms = frame.geometry
    if crs is not None and epsg is None:
        geoms, epsg = geoms.to_crs(4326), 4326
    values = shapely.to_wkb(geoms.to_numpy())
    return [None if g is None else bytes(g) for g in values], int(epsg or 0)
