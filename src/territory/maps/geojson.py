"""GeoJSON of web shapes as Python data, without a round trip through JSON text.

``json.loads(frame.to_json(drop_id=True))`` builds one Python object per coordinate three
times (shapely's ``__geo_interface__``, the text, the parsed text); drawing 3,000 county blocks
spent most of a map's time there. :func:`feature_collection` returns the same value, built from
shapely's coordinate arrays in bulk.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

_POLYGON, _MULTIPOLYGON = 3, 6
_PLAIN = (str, int, float, bool, type(None))


def feature_collection(frame: gpd.GeoDataFrame) -> dict:
    """``json.loads(frame.to_json(drop_id=True))``, equal value for value and in key order.

    Polygons and multipolygons in EPSG:4326 (or no CRS) with plain properties (text, numbers,
    booleans, missing) take the bulk path; anything else is handed to ``to_json``.
    """
    crs = frame.crs
    geometry = None
    if crs is None or crs.equals("EPSG:4326"):
        geometry = _geometries(frame.geometry.to_numpy())
    rows = _properties(frame) if geometry is not None else None
    if rows is None:
        return json.loads(frame.to_json(drop_id=True))
    features = [{"type": "Feature", "properties": p, "geometry": g}
                for p, g in zip(rows, geometry, strict=True)]  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def _properties(frame: gpd.GeoDataFrame) -> list[dict] | None:
    """The properties of each row as ``to_json`` writes them (missing as None), or None when
    a value is not plain (the JSON text would change it)."""
    columns = frame.columns.drop(frame.geometry.name)
    if not len(columns):
        return [{} for _ in range(len(frame))]
    table = frame[columns]
    values = table.astype(object)
    values[pd.isna(table).to_numpy()] = None
    names = list(columns)
    rows = values.to_numpy().tolist()
    if not all(type(v) in _PLAIN for row in rows for v in row):
        return None
    return [dict(zip(names, row, strict=True)) for row in rows]


def _geometries(geoms: np.ndarray) -> list | None:
    """``mapping(geom)`` of each shape with lists for tuples (None for missing or empty), or
    None when a shape is not a 2-D polygon or multipolygon."""
    if not len(geoms):
        return []
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    shown = ~missing
    if not np.isin(types[shown], (_POLYGON, _MULTIPOLYGON)).all() or shapely.has_z(geoms).any():
        return None
    polys, owner = shapely.get_parts(geoms[shown], return_index=True)
    if shapely.is_empty(polys).any():
        return None
    rings, ring_owner = shapely.get_rings(polys, return_index=True)
    coords, coord_owner = shapely.get_coordinates(rings, return_index=True)
    points = coords.tolist()
    ends = np.cumsum(np.bincount(coord_owner, minlength=len(rings))).tolist()
    ring_lists = [points[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    ring_ends = np.cumsum(np.bincount(ring_owner, minlength=len(polys))).tolist()
    poly_lists = [ring_lists[a:b] for a, b in zip([0, *ring_ends[:-1]], ring_ends, strict=True)]
    part_ends = np.cumsum(np.bincount(owner, minlength=int(shown.sum()))).tolist()
    out: list = [None] * len(geoms)
    starts = [0, *part_ends[:-1]]
    for i, a, b in zip(np.flatnonzero(shown).tolist(), starts, part_ends, strict=True):
        if types[i] == _POLYGON:
            out[i] = {"type": "Polygon", "coordinates": poly_lists[a]}
        else:
            out[i] = {"type": "MultiPolygon", "coordinates": poly_lists[a:b]}
    return out
