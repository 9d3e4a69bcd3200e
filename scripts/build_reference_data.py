"""Build the map's offline reference layer data (world countries and major cities).

    python scripts/build_reference_data.py --shared /work/shared/data

Writes ``src/territory/data/reference_lines.parquet`` (country outlines and the borders between
US states, each shared border once, simplified for overview maps) and ``world_cities.parquet``
(cities of 1 million people or more, one per place). Provenance and licences are in
``src/territory/data/README.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

DATA = Path(__file__).resolve().parents[1] / "src" / "territory" / "data"
TOLERANCE = 0.1  # degrees (~10 km): lines for context, not boundaries to measure against
STATE_TOLERANCE = 0.05
MIN_POPULATION = 1_000_000
SAME_PLACE_KM = 15.0


def _edges(geoms):
    """Each outline of a coverage once, merged into lines."""
    return shapely.line_merge(shapely.union_all(shapely.boundary(geoms)))


def lines(shared: Path) -> gpd.GeoDataFrame:
    """Country outlines (coasts included) and the borders between US states (no coast)."""
    world = gpd.read_parquet(shared / "world_countries_spdata.parquet").to_crs(4326)
    geoms = world.geometry.to_numpy()
    if shapely.coverage_is_valid(geoms):
        geoms = shapely.coverage_simplify(geoms, TOLERANCE)
    else:
        geoms = shapely.simplify(geoms, TOLERANCE, preserve_topology=True)
    countries = shapely.get_parts(_edges(geoms))
    states = gpd.read_parquet(DATA / "us_states.parquet").to_crs(4326).geometry.to_numpy()
    outline = shapely.boundary(shapely.coverage_union_all(states))
    inner = shapely.line_merge(shapely.difference(_edges(states), shapely.buffer(outline, 1e-6)))
    borders = shapely.get_parts(shapely.simplify(inner, STATE_TOLERANCE))
    parts = [*countries, *borders]
    out = gpd.GeoDataFrame(
        {"kind": ["country"] * len(countries) + ["state"] * len(borders)},
        geometry=shapely.set_precision(parts, 1e-3),
        crs=4326,
    )
    return out[~out.geometry.is_empty].reset_index(drop=True)


def cities(shared: Path) -> pd.DataFrame:
    raw = pd.read_parquet(shared / "world_cities_geonames15000.parquet")
    big = raw[raw["population"] >= MIN_POPULATION]
    out = pd.DataFrame(
        {
            "name": big["name"].astype(str),
            "country": big["countrycode"].astype(str),
            "population": big["population"].astype("int64"),
            "lon": big["longitude"].round(4),
            "lat": big["latitude"].round(4),
        }
    )
    out = out.sort_values("population", ascending=False, kind="stable").reset_index(drop=True)
    # one label per place: drop a city within SAME_PLACE_KM of a more populous one (e.g. a
    # city and one of its districts, both listed by GeoNames)
    lon, lat = np.radians(out["lon"].to_numpy()), np.radians(out["lat"].to_numpy())
    keep = np.ones(len(out), dtype=bool)
    for i in range(1, len(out)):
        a = (
            np.sin((lat[:i] - lat[i]) / 2) ** 2
            + np.cos(lat[i]) * np.cos(lat[:i]) * np.sin((lon[:i] - lon[i]) / 2) ** 2
        )
        km = 2 * 6371.0 * np.arcsin(np.sqrt(a))
        keep[i] = not np.any(keep[:i] & (km < SAME_PLACE_KM))
    return out[keep].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, required=True, help="folder of the source files")
    args = parser.parse_args()
    lines(args.shared).to_parquet(DATA / "reference_lines.parquet", compression="zstd")
    cities(args.shared).to_parquet(DATA / "world_cities.parquet", compression="zstd", index=False)
    for name in ("reference_lines.parquet", "world_cities.parquet"):
        print(f"{name}: {(DATA / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
