"""Read a table or query from PostgreSQL/PostGIS or DuckDB as a (Geo)DataFrame.

The tables come back as the file readers return typed files (Parquet): text stays text (ids
with leading zeros keep them), numbers are numbers (``numeric`` as float), dates and
timestamps are dates, NULL is missing. Geometry columns (PostGIS ``geometry``/``geography``,
DuckDB spatial ``GEOMETRY``, or WKB in a ``bytea``/``BLOB`` column called ``geometry``,
``geom`` or ``wkb``) become the GeoDataFrame's geometry, with the PostGIS SRID as its CRS
(DuckDB geometries carry none: give ``crs`` in the plan). Turning the table into accounts or
territories is :mod:`territory.validate`'s job, as for files.

Every problem is an :class:`~territory.errors.InputError` naming the table or query, the
column and the fix (unknown table with the tables there, connection refused, password
refused, permission denied, database missing, a failing query), never the password.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pandas as pd

from territory.db.source import DatabaseSource
from territory.errors import InputError
from territory.io import Source

#: names of a WKB column taken as the geometry when no geometry type says so
WKB_NAMES = ("geometry", "geom", "wkb", "wkb_geometry", "the_geom")

#: rows fetched per round trip when a table is read whole
FETCH_ROWS = 50_000


@contextlib.contextmanager
def open_reader(src: DatabaseSource, what: str):
    """A connected reader for ``src`` (``.count()``, ``.frames(rows)``), closed afterwards."""
    if src.kind == "postgresql":
        from territory.db.postgres import PostgresReader as reader_class
    else:
        from territory.db.duck import DuckReader as reader_class
    reader = reader_class(src, what)
    try:
        reader.open()  # a failed open (no such table ...) closes its connection too
        yield reader
    finally:
        reader.close()


def read_database(src: DatabaseSource, what: str) -> tuple[pd.DataFrame, Source]:
    """The whole table or query result, with the :class:`Source` that names it."""
    with open_reader(src, what) as reader:
        frames = list(reader.frames(FETCH_ROWS))
    return combine(frames), Source(src.label, database=True)


def database_batches(src: DatabaseSource, batch_rows: int, what: str = "accounts"):
    """``(total rows or None, iterator of (frame, Source))``: the table in batches of at most
    ``batch_rows`` rows read through a server-side cursor (PostgreSQL) or Arrow record batches
    (DuckDB), one batch in memory at a time. The total is None for a query (it is not run
    twice); the connection stays open while the iterator runs."""
    with open_reader(src, what) as reader:
        total = reader.count()

    def frames() -> Iterator[tuple[pd.DataFrame, Source]]:
        offset = 0
        with open_reader(src, what) as reader:
            for frame in reader.frames(batch_rows):
                yield frame, Source(src.label, offset=offset, database=True)
                offset += len(frame)

    # a caller that stops early (a batch failed its checks) closes the generator, and so the
    # connection, at once (engines.local does)
    return total, frames()


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Batches as one frame (a GeoDataFrame when they carry geometry)."""
    if len(frames) == 1:
        return frames[0]
    import geopandas as gpd

    first = frames[0]
    frame = pd.concat(frames, ignore_index=True)
    if isinstance(first, gpd.GeoDataFrame):
        # a batch of NULL geometries alone has no SRID to tell the CRS: the others do
        crs = next((f.crs for f in frames if f.crs is not None), None)
        return gpd.GeoDataFrame(frame, geometry=first.geometry.name, crs=crs)
    return frame


def geometry_frame(
    frame: pd.DataFrame, column: str | None, src: DatabaseSource, known=None, srid: bool = True
):
    """``frame`` with WKB/EWKB (bytes or hex text) ``column`` decoded as its geometry.

    With ``srid`` the CRS is the EWKB SRID (PostGIS), which must be one for the table:
    ``known`` is the CRS found in earlier batches (also used for a batch of NULL geometries).
    Without (DuckDB), the geometries have no CRS.
    """
    import geopandas as gpd
    import numpy as np
    import shapely

    if column is None:
        return frame
    values = frame[column].to_numpy(dtype=object)
    present = np.array([v is not None and v == v for v in values], dtype=bool)
    geoms = np.full(len(values), None, dtype=object)
    try:
        geoms[present] = shapely.from_wkb(values[present])
    except shapely.errors.GEOSException as exc:
        raise InputError(
            f"Column '{column}' of the {src.label} does not hold WKB geometries ({exc}). Store "
            "the geometry as a geometry type or as WKB (ST_AsBinary), or give lat/lon columns."
        ) from None
    crs = known
    if srid and present.any():
        srids = set(shapely.get_srid(geoms[present]).tolist())
        found = {f"EPSG:{s}" if s else None for s in srids}
        if len(found | ({known} if known is not None else set())) > 1:
            shown = sorted({str(x) for x in found | {known}} - {"None"})
            raise InputError(
                f"Column '{column}' of the {src.label} mixes SRIDs ({', '.join(shown)}). "
                "Transform the geometries to one SRID (ST_Transform) first."
            )
        crs = found.pop()
        crs = _crs(crs, column, src)
    out = frame.drop(columns=column)
    return gpd.GeoDataFrame(out, geometry=pd.Series(geoms, index=frame.index), crs=crs)


def _crs(code, column: str, src: DatabaseSource):
    """The CRS of an SRID, or a clear error for one that is not an EPSG code."""
    if code is None:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(code)
    except CRSError:
        raise InputError(
            f"Column '{column}' of the {src.label} has SRID {code.removeprefix('EPSG:')}, which "
            "is not an EPSG code territory knows. Transform the geometries to an EPSG SRID "
            "(ST_Transform(geom, 4326)) in a query, or give the source's crs."
        ) from None


def pick_geometry(src: DatabaseSource, columns: list[str], geometry: list[str], blobs: list[str]):
    """The column to read as geometry: the named one, the only geometry column, or a WKB
    column with a geometry-like name. Raises for a named column that is missing or not
    geometry, and for several geometry columns with none named."""
    if src.geometry is not None:
        if src.geometry not in columns:
            raise InputError(
                f"Geometry column '{src.geometry}' is not in the {src.label}. Columns: "
                f"{', '.join(columns)}. Fix geometry = ... in the source."
            )
        if src.geometry not in geometry and src.geometry not in blobs:
            raise InputError(
                f"Column '{src.geometry}' of the {src.label} is not a geometry (nor WKB bytes). "
                "Name a geometry column, or leave geometry out and give lat/lon columns."
            )
        return src.geometry
    if len(geometry) > 1:
        raise InputError(
            f"The {src.label} has several geometry columns ({', '.join(geometry)}). Say which "
            'one to use: geometry = "<column>" in the source.'
        )
    if geometry:
        return geometry[0]
    named = [c for c in blobs if c.lower() in WKB_NAMES]
    return named[0] if named else None
