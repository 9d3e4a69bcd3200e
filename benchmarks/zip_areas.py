"""Approximate US ZIP areas for the design benchmark: Voronoi cells of the ZCTA points.

    python benchmarks/zip_areas.py [--out PATH]

No package ships real ZIP (ZCTA) polygons, so the benchmark builds its own from the ZIP points
embedded in the package (``territory.data/us_zip_points.parquet``, Census 2021 Gazetteer): in each
continental state, the Voronoi cells of that state's ZIP points, clipped to the state's polygon
(the embedded coverage-simplified state layer), then cleaned into one coverage
(``shapely.coverage_clean``, shapely >= 2.2: no overlaps, identical shared edges). Clipping alone
left the cells on the two sides of a state line with different vertices, overlapping by
slivers, so the block graph found shared edges along only 6,250 km of state lines between ZIP
areas (36,500 km once cleaned) and territories followed state outlines (layer version 1).
These are **approximate ZIP areas, not official boundaries**: the layer says so in its ``note``
column and every benchmark line that uses it says so too.

The layer is cached in the temporary folder (``territory-bench-zip-areas-<n>.parquet``); it takes
under a minute to build on two cores.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

CONTINENTAL_EXCLUDED = {"AK", "HI", "PR", "VI", "GU", "AS", "MP"}
APPROXIMATE = "approximate ZIP area: Voronoi cell of the ZCTA point clipped to its state"


def cache_path() -> Path:
    return Path(tempfile.gettempdir()) / "territory-bench-zip-areas-v2.parquet"


def zip_areas(cache: bool = True):
    """The approximate ZIP areas: ``block_id`` (5-digit ZIP), ``state``, ``note``; EPSG:4326."""
    import geopandas as gpd

    path = cache_path()
    if cache and path.exists():
        return gpd.read_parquet(path)
    frame = build()
    if cache:
        frame.to_parquet(path)
    return frame


def build(states=None):
    """The layer for the continental states, or only for ``states`` (postal codes) if given."""
    from importlib import resources

    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    from territory.postal import us_zip_points

    points = us_zip_points()
    points = points.loc[~points["state"].isin(CONTINENTAL_EXCLUDED)]
    wanted = states
    states = gpd.read_parquet(resources.files("territory.data") / "us_states.parquet")
    states = states.loc[~states["STUSPS"].isin(CONTINENTAL_EXCLUDED)]
    if wanted is not None:
        states = states.loc[states["STUSPS"].isin(wanted)]
    crs = "EPSG:5070"  # CONUS Albers equal area: straight Voronoi edges in metres
    states = states.to_crs(crs)
    xy = gpd.GeoSeries(gpd.points_from_xy(points["lon"], points["lat"]), crs=4326).to_crs(crs)
    points = points.assign(geometry=xy.to_numpy())
    parts = []
    for code, shape in zip(states["STUSPS"], states.geometry, strict=True):
        own = points.loc[points["state"] == code]
        if not len(own):
            continue
        pts = shapely.points(shapely.get_coordinates(own["geometry"].to_numpy()))
        if len(own) == 1:
            cells = np.array([shape])
        else:
            extent = shapely.box(*shapely.buffer(shape, 1e5).bounds)
            diagram = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=extent)
            cells = np.asarray(shapely.get_parts(diagram))
            # voronoi_polygons does not keep the input order: match each cell to its point
            tree = shapely.STRtree(cells)
            cell_of = tree.query(pts, predicate="intersects")
            order = np.full(len(pts), -1)
            order[cell_of[0]] = cell_of[1]
            cells = cells[order]
            cells = shapely.intersection(cells, shape)
        parts.append(pd.DataFrame({"block_id": own["postal_code"].to_numpy(),
                                   "state": code, "geometry": cells}))  # fmt: skip
    frame = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)
    frame = frame.loc[~frame.geometry.is_empty & (frame.geometry.area > 0)]
    if not hasattr(shapely, "coverage_clean"):
        raise SystemExit(
            f"The ZIP-area layer needs shapely >= 2.2 (coverage_clean), not {shapely.__version__}: "
            "pip install -e '.[bench]'"
        )
    cells = shapely.make_valid(frame.geometry.to_numpy())
    # one coverage: cells across a state line share identical edges (needs shapely >= 2.2)
    frame["geometry"] = shapely.coverage_clean(_polygonal(cells))
    frame = frame.loc[~frame.geometry.is_empty & (frame.geometry.area > 0)]
    frame = frame.to_crs(4326).reset_index(drop=True)
    frame["note"] = APPROXIMATE
    return frame


def _polygonal(cells):
    """The polygons of each cell (``make_valid`` may add lines or points to a collection)."""
    import numpy as np
    import shapely

    cells = np.asarray(cells, dtype=object).copy()
    mixed = shapely.get_type_id(cells) == shapely.GeometryType.GEOMETRYCOLLECTION
    for i in np.flatnonzero(mixed):
        parts = shapely.get_parts(cells[i])
        keep = parts[shapely.area(parts) > 0]
        cells[i] = shapely.multipolygons(shapely.get_parts(keep))
    return cells


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=cache_path())
    args = parser.parse_args()
    frame = build()
    frame.to_parquet(args.out)
    print(f"{len(frame):,} approximate ZIP areas ({APPROXIMATE}) -> {args.out}")


if __name__ == "__main__":
    main()
