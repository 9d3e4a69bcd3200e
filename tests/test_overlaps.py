"""The layer overlap check: the pairs it reports against an independent oracle, and its cost.

The oracle is ``geopandas.overlay(how="intersection")`` of the layer with itself: every pair of
distinct shapes whose intersection has an area, with the share of the smaller shape; pairs at or
below the 1e-6 share are slivers the check ignores.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

import territory
from territory.validate import find_overlaps, prepare_polygons

from .conftest import DATA
from .test_oracle import real_layers  # noqa: F401  (fixture)

MIN_SHARE = 1e-6


def planted_layer(crs: str = "EPSG:32633") -> gpd.GeoDataFrame:
    """A 6x6 grid of 10 km cells (shared borders, corners meeting) plus planted shapes.

    Overlapping by design: ``big`` (halves of cells c22 and c32), ``small`` (straddling c44 and
    c45), a ``nested`` square inside c00, ``dup`` (a copy of c11 with extra vertices on its
    edges), ``multi`` (far islands plus one part over a corner of c55), ``sliver-in`` (share
    1e-4 of ``host-in``). Only touching: ``corner`` (meets c50 at a corner), ``along`` (shares
    part of c50's west edge, with other vertices), ``in-hole`` (fills the hole of ``ring``),
    and ``sliver-out`` (share 1e-8 of ``host-out``, below the threshold). Coordinates are
    metres in UTM 33N, or the same layer in lon/lat at 1e-5 degree per metre.
    """
    s = 10_000.0
    cells = {
        f"c{r}{c}": box(c * s, r * s, (c + 1) * s, (r + 1) * s) for r in range(6) for c in range(6)
    }
    x0, y0 = 100_000.0, 0.0  # a free area east of the grid
    ring = Polygon(
        [(x0, y0), (x0 + 3 * s, y0), (x0 + 3 * s, y0 + 3 * s), (x0, y0 + 3 * s)],
        [[(x0 + s, y0 + s), (x0 + 2 * s, y0 + s), (x0 + 2 * s, y0 + 2 * s), (x0 + s, y0 + 2 * s)]],
    )
    dup = Polygon([(s, s), (1.5 * s, s), (2 * s, s), (2 * s, 2 * s), (s, 2 * s), (s, 1.5 * s)])
    multi = MultiPolygon(
        [
            box(-5 * s, -5 * s, -4 * s, -4 * s),
            box(-3 * s, -5 * s, -2 * s, -4 * s),
            box(5.8 * s, 5.8 * s, 6.5 * s, 6.5 * s),  # 0.2 x 0.2 of c55
        ]
    )
    sliver_y = 8 * s
    planted = {
        "big": box(2 * s, 2.5 * s, 3 * s, 3.5 * s),
        "small": box(4.9 * s, 4.45 * s, 5.1 * s, 4.55 * s),
        "nested": box(0.2 * s, 0.2 * s, 0.6 * s, 0.6 * s),
        "dup": dup,
        "multi": multi,
        "corner": box(-s, 6 * s, 0, 7 * s),
        "along": Polygon([(-s, 5.2 * s), (0, 5.2 * s), (0, 5.7 * s), (-s, 5.7 * s)]),
        "ring": ring,
        "in-hole": box(x0 + s, y0 + s, x0 + 2 * s, y0 + 2 * s),
        "host-in": box(0, sliver_y, s, sliver_y + s),
        "sliver-in": box(s - 1.0, sliver_y, 2 * s, sliver_y + s),  # 1 m x 10 km of host-in
        "host-out": box(3 * s, sliver_y, 4 * s, sliver_y + s),
        "sliver-out": box(4 * s - 1e-4, sliver_y, 5 * s, sliver_y + s),  # 0.1 mm wide
    }
    shapes = {**cells, **planted}
    # placed by a linear map (not reprojected, which would bend straight borders)
    scale, origin = (1.0, (450_000, 5e6)) if crs != "EPSG:4326" else (1e-5, (10.0, 45.0))
    geoms = shapely.transform(np.array(list(shapes.values())), lambda xy: xy * scale + origin)
    return gpd.GeoDataFrame({"territory_id": list(shapes)}, geometry=geoms, crs=crs)


def oracle_overlaps(frame: gpd.GeoDataFrame) -> pd.Series:
    """``(id_a, id_b) -> share`` (ids sorted within a pair) from a self overlay."""
    a = frame[["territory_id", "geometry"]].assign(area_a=shapely.area(frame.geometry.to_numpy()))
    # shares in the layer's own units, as the check computes them (degrees² for lon/lat)
    b = a.rename(columns={"territory_id": "other", "area_a": "area_b"})
    both = gpd.overlay(a, b, how="intersection", keep_geom_type=True)
    both = both[both["territory_id"] != both["other"]]
    share = shapely.area(both.geometry.to_numpy()) / np.minimum(both["area_a"], both["area_b"])
    out = by_pair(both["territory_id"], both["other"], share)
    out = out[~out.index.duplicated()]
    return out[out > MIN_SHARE].sort_index()


def by_pair(id_a, id_b, share) -> pd.Series:
    """Shares indexed by ``(id, id)`` pairs, ids sorted within a pair."""
    pairs = [tuple(sorted(p)) for p in zip(id_a, id_b, strict=True)]
    index = pd.MultiIndex.from_tuples(pairs) if pairs else pd.MultiIndex.from_arrays([[], []])
    return pd.Series(np.asarray(share, dtype=float), index=index)


def reported(found: pd.DataFrame) -> pd.Series:
    return by_pair(found["id_a"], found["id_b"], found["overlap_share"])


@pytest.mark.parametrize("crs", ["EPSG:32633", "EPSG:4326"])
def test_reported_pairs_match_the_overlay_oracle(crs):
    frame = planted_layer(crs)
    want = oracle_overlaps(frame)
    # the layer is what it claims to be (so the comparison below means something)
    planted = {"big", "small", "nested", "dup", "multi", "sliver-in"}
    assert planted <= {i for pair in want.index for i in pair}
    for quiet in ("corner", "along", "ring", "in-hole", "sliver-out", "host-out", "c01"):
        assert not any(quiet in pair for pair in want.index), quiet
    assert ("c00", "nested") in want.index and want[("c00", "nested")] == pytest.approx(1.0)

    layer = prepare_polygons(frame, kind="territory")
    found = find_overlaps(layer)
    got = reported(found)
    assert sorted(got.index) == sorted(want.index)  # none missed, none invented
    np.testing.assert_allclose(got.sort_index(), want.sort_index(), rtol=1e-6)
    # each pair once, in layer order
    order = {i: k for k, i in enumerate(frame["territory_id"])}
    assert all(order[a] < order[b] for a, b in zip(found["id_a"], found["id_b"], strict=True))


def test_the_check_reports_through_loading_and_a_clean_layer_has_none():
    frame = planted_layer()
    layer = territory.load_territories(frame)
    assert sorted(reported(layer.overlaps).index) == sorted(oracle_overlaps(frame).index)
    assert any("overlapping pairs" in note for note in layer.notes)
    cells = frame[frame["territory_id"].str.fullmatch(r"c\d\d")]
    clean = territory.load_territories(cells)
    assert clean.overlaps.empty and not any("overlapping" in n for n in clean.notes)


def two_source_counties() -> gpd.GeoDataFrame:
    """US counties with every other county redrawn 200 m off: borders from two sources, so
    neighbours overlap in slivers all over the layer."""
    frame = gpd.read_parquet(DATA / "us_counties.parquet")[["GEOID", "geometry"]]
    geoms = frame.geometry.to_numpy().copy()
    geoms[::2] = shapely.transform(geoms[::2], lambda xy: xy + 0.002)
    return gpd.GeoDataFrame({"territory_id": frame["GEOID"]}, geometry=geoms, crs=frame.crs)


def test_a_layer_full_of_sliver_overlaps_reports_every_pair():
    """A layer whose borders disagree everywhere (every other county shifted 200 m: thousands of
    sliver overlaps): the reported pairs and shares are those of the overlay oracle. The time
    this check takes against a ``geopandas.sjoin`` is measured in ``benchmarks/layer_check.py``."""
    layer = prepare_polygons(two_source_counties(), kind="territory")
    want = oracle_overlaps(layer.frame[["territory_id", "geometry"]])
    assert len(want) > 1000  # the layer really is full of overlaps
    got = reported(find_overlaps(layer))
    assert sorted(got.index) == sorted(want.index)
    np.testing.assert_allclose(got.sort_index(), want.sort_index(), rtol=1e-6)


@pytest.mark.parametrize(("name", "least"), [("us_counties_10m", 5), ("world_countries_50m", 0)])
def test_real_layer_overlaps_match_pairwise_intersection_areas(real_layers, name, least):  # noqa: F811
    """Real layers (quantized TopoJSON: a few neighbours overlap in slivers): the reported pairs
    are those whose intersection area, computed for every pair of shapes with overlapping
    boxes, exceeds the threshold."""
    layer = prepare_polygons(gpd.read_parquet(real_layers[name]), kind="territory")
    geoms = layer.frame.geometry.to_numpy()
    ids = layer.frame["territory_id"].to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms)
    left, right = left[left < right], right[left < right]
    share = shapely.area(shapely.intersection(geoms[left], geoms[right])) / np.minimum(
        shapely.area(geoms[left]), shapely.area(geoms[right])
    )
    keep = share > MIN_SHARE
    want = by_pair(ids[left[keep]], ids[right[keep]], share[keep])
    assert len(want) >= least  # the layer has the slivers it is known for
    got = reported(find_overlaps(layer))
    assert sorted(got.index) == sorted(want.index)
    if len(want):
        np.testing.assert_allclose(got.sort_index(), want.sort_index(), rtol=1e-6)


def test_assign_does_not_wait_for_the_layer_report_and_a_plan_run_gives_it(monkeypatch):
    """``territory.assign`` returns only the assignments: accounts in an overlap are resolved
    by the overlap rule and named in their reason, and the layer's overlap report (which it
    never returned) is not computed. A plan run still reports the pairs (the oracle)."""
    import territory.validate as V

    frame = planted_layer()
    nested = frame.geometry[frame["territory_id"] == "nested"].iloc[0].centroid
    accounts = pd.DataFrame({"account_id": ["in-nested", "plain"], "x": [nested.x, 455_000.0],
                             "y": [nested.y, 5_015_000.0], "revenue": [1.0, 2.0]})  # fmt: skip
    points = gpd.GeoDataFrame(accounts, geometry=gpd.points_from_xy(accounts.x, accounts.y),
                              crs=frame.crs)  # fmt: skip
    real = V._overlap_pairs
    monkeypatch.setattr(V, "_overlap_pairs", lambda *a: pytest.fail("overlaps were checked"))
    out = territory.assign(points, frame).set_index("account_id")
    assert out.loc["in-nested", "method"] == "overlap"
    assert (
        "'c00'" in out.loc["in-nested", "reason"] and "'nested'" in out.loc["in-nested", "reason"]
    )
    assert out.loc["in-nested", "territory_id"] == "nested"  # the smaller one
    monkeypatch.setattr(V, "_overlap_pairs", real)
    result = territory.run(points, frame)
    assert any("overlapping pairs" in note for note in result.notes)
    assert sorted(reported(result.layer.overlaps).index) == sorted(oracle_overlaps(frame).index)
