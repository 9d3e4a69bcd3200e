"""One small book of business written as files, as PostGIS tables and as a DuckDB file.

Used by the database tests: the file run is the oracle the database runs must equal. Accounts
have ids with leading zeros, lat/lon (one blank), blank revenue cells, a date attribute and a
Point-geometry variant; blocks are a 4x4 grid of 1-degree squares with an alignment W/E;
there is a targets table and order lines with dates (one for an account not in the plan).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point, box

N = 80


def accounts() -> pd.DataFrame:
    rng = np.random.default_rng(20)
    frame = pd.DataFrame(
        {
            "account_id": [f"{i * 7:06d}" for i in range(N)],
            "lat": np.round(rng.uniform(-0.6, 4.6, N), 6),
            "lon": np.round(rng.uniform(-0.6, 4.6, N), 6),
            "revenue": np.round(rng.uniform(0, 5000, N), 2),
            "pipeline": np.round(rng.uniform(0, 900, N), 3),
            "segment": rng.choice(["smb", "ent"], N),
            "signed": pd.to_datetime("2015-01-01")
            + pd.to_timedelta(rng.integers(0, 900, N), unit="D"),
        }
    )
    frame.loc[5, ["lat", "lon"]] = np.nan
    frame.loc[[3, 11], "revenue"] = np.nan
    frame["signed"] = frame["signed"].dt.date
    return frame


def accounts_geo() -> gpd.GeoDataFrame:
    frame = accounts()
    points = [
        None if np.isnan(lat) else Point(lon, lat)
        for lat, lon in zip(frame["lat"], frame["lon"], strict=True)
    ]
    return gpd.GeoDataFrame(frame.drop(columns=["lat", "lon"]), geometry=points, crs="EPSG:4326")


def blocks() -> gpd.GeoDataFrame:
    cells = [(r, c) for r in range(4) for c in range(4)]
    return gpd.GeoDataFrame(
        {"block_id": [f"0{r}{c}" for r, c in cells]},
        geometry=[box(c, r, c + 1, r + 1) for r, c in cells],
        crs="EPSG:4326",
    )


def alignment() -> pd.DataFrame:
    ids = blocks()["block_id"]
    return pd.DataFrame(
        {
            "block_id": ids,
            "territory_id": ["W" if int(b[-1]) < 2 else "E" for b in ids],
            "parent": "All",
        }  # fmt: skip
    )


def targets() -> pd.DataFrame:
    return pd.DataFrame({"territory_id": ["W", "E"], "target": [61000.5, 58000.25]})


def orders() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    ids = accounts()["account_id"].to_numpy()
    n = 300
    frame = pd.DataFrame(
        {
            "account_id": rng.choice(ids, n),
            "date": (pd.to_datetime("2016-01-01") + pd.to_timedelta(
                rng.integers(0, 540, n), unit="D")).date,
            "amount": np.round(rng.uniform(-50, 900, n), 2),
        }
    )  # fmt: skip
    frame.loc[0, "account_id"] = "999999"
    return frame


TABLES = {
    "accounts": accounts,
    "accounts_geo": accounts_geo,
    "blocks": blocks,
    "alignment": alignment,
    "targets": targets,
    "orders": orders,
}


def write_files(folder: Path) -> dict[str, Path]:
    """The book as CSV files (GeoParquet/GeoJSON for the geometry tables)."""
    paths = {}
    for name, make in TABLES.items():
        frame = make()
        if isinstance(frame, gpd.GeoDataFrame):
            path = folder / (f"{name}.parquet" if name == "accounts_geo" else f"{name}.geojson")
            frame.to_parquet(path) if path.suffix == ".parquet" else frame.to_file(path)
        else:
            path = folder / f"{name}.csv"
            frame.to_csv(path, index=False)
        paths[name] = path
    # the accounts as Parquet too: the file the local engine reads in batches
    accounts().to_parquet(folder / "accounts.parquet")
    paths["accounts_parquet"] = folder / "accounts.parquet"
    return paths


#: column types of the database tables (the geometry column is added from WKT)
TYPES = {
    "account_id": "varchar",
    "lat": "double precision",
    "lon": "double precision",
    "revenue": "numeric(12,2)",
    "pipeline": "double precision",
    "segment": "varchar",
    "signed": "date",
    "block_id": "varchar",
    "territory_id": "varchar",
    "parent": "varchar",
    "target": "numeric(14,2)",
    "date": "date",
    "amount": "numeric(12,2)",
}


def _with_wkt(frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        return frame
    wkt = [None if g is None else g.wkt for g in frame.geometry]
    return pd.DataFrame(frame.drop(columns="geometry")).assign(wkt=wkt)


def load_postgis(url: str, schema: str) -> None:
    """Create the tables in ``schema`` (as the connecting user) with PostGIS geometry."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        for name, make in TABLES.items():
            frame = _with_wkt(make())
            columns = ", ".join(
                f'"{c}" {TYPES.get(c, "text")}' for c in frame.columns
            )  # test data, literal names
            conn.exec_driver_sql(f'CREATE TABLE "{schema}"."{name}" ({columns})')
            frame.to_sql(name, conn, schema=schema, if_exists="append", index=False)
            if "wkt" in frame.columns:
                kind = "Point" if name == "accounts_geo" else "Polygon"
                conn.exec_driver_sql(
                    f'ALTER TABLE "{schema}"."{name}" ADD COLUMN geom geometry({kind}, 4326);'
                    f'UPDATE "{schema}"."{name}" SET geom = ST_GeomFromText(wkt, 4326);'
                    f'ALTER TABLE "{schema}"."{name}" DROP COLUMN wkt'
                )
    engine.dispose()


def duckdb_types(frame: pd.DataFrame) -> str:
    parts = []
    for c in frame.columns:
        if c == "wkt":
            continue
        kind = TYPES.get(c, "varchar").replace("double precision", "double")
        parts.append(f'CAST("{c}" AS {kind}) AS "{c}"')
    return ", ".join(parts)


def load_duckdb(path: Path, *, spatial: bool = True, schema: str = "sales") -> None:
    """The tables in a DuckDB file: GEOMETRY (spatial extension) or WKB BLOB columns."""
    import duckdb

    from territory.db.duck import spatial_extension

    con = duckdb.connect(str(path))
    con.load_extension(str(spatial_extension()))
    con.execute(f"CREATE SCHEMA {schema}")
    for name, make in TABLES.items():
        frame = _with_wkt(make())
        con.register("frame", frame)
        select = duckdb_types(frame)
        if "wkt" in frame.columns:
            geom = "ST_GeomFromText(wkt)" if spatial else "ST_AsWKB(ST_GeomFromText(wkt))"
            select += f", {geom} AS geom"
        con.execute(f"CREATE TABLE {schema}.{name} AS SELECT {select} FROM frame")
        con.unregister("frame")
    con.close()


def new_schema() -> str:
    return f"book_{uuid.uuid4().hex[:10]}"
