"""Overlap checks remembered between runs: a rerun on the same shapes reads the pairs back,
any change to the shapes tests again, and a broken or unwritable cache never changes an answer.

The oracle is the self-overlay of ``test_overlaps``; a check that must not run is replaced by
one that fails the test.
"""

from __future__ import annotations

import json
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import territory.validate as V
from territory import layercache
from territory.validate import find_overlaps, prepare_polygons

from .test_overlaps import oracle_overlaps, planted_layer, reported


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder, used for layers of any size."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(layercache, "FROM_COORDINATES", 0)
    return tmp_path / "cache" / "territory" / "layer-checks"


def no_check(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the layer was tested again")

    monkeypatch.setattr(V, "_overlap_pairs", refuse)


def same_as_oracle(found, frame):
    want = oracle_overlaps(frame)
    got = reported(found)
    assert sorted(got.index) == sorted(want.index)
    np.testing.assert_allclose(got.sort_index(), want.sort_index(), rtol=1e-6)


def test_a_rerun_on_the_same_shapes_reads_the_pairs_back(cache, monkeypatch):
    frame = planted_layer()
    first = find_overlaps(prepare_polygons(frame, kind="territory"))
    same_as_oracle(first, frame)
    assert len(list(cache.glob("*.json"))) == 1
    no_check(monkeypatch)
    again = find_overlaps(prepare_polygons(frame.copy(), kind="territory"))
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    # other ids on the same shapes: the pairs are named by this layer's ids
    renamed = frame.assign(territory_id="t-" + frame["territory_id"])
    found = find_overlaps(prepare_polygons(renamed, kind="territory"))
    assert list(found["id_a"]) == ["t-" + i for i in first["id_a"]]
    assert list(found["overlap_share"]) == list(first["overlap_share"])


@pytest.mark.parametrize("change", ["moved", "reordered"])
def test_any_change_to_the_shapes_tests_the_layer_again(cache, monkeypatch, change):
    frame = planted_layer()
    find_overlaps(prepare_polygons(frame, kind="territory"))
    calls = []
    real = V._overlap_pairs

    def counted(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(V, "_overlap_pairs", counted)
    if change == "moved":  # the 'small' square slides 1 m: a new overlap share
        at = frame.index[frame["territory_id"] == "small"][0]
        frame.loc[at, "geometry"] = shapely.affinity.translate(frame.geometry[at], xoff=1.0)
    else:
        frame = frame.iloc[::-1].reset_index(drop=True)
    found = find_overlaps(prepare_polygons(frame, kind="territory"))
    assert calls == [1]
    same_as_oracle(found, frame)


def test_one_entry_serves_every_sliver_threshold(cache, monkeypatch):
    """The entry holds every overlapping pair (slivers below the layer check's threshold
    too): another threshold is filtered from it, not tested again."""
    frame = planted_layer()
    layer = prepare_polygons(frame, kind="territory")
    find_overlaps(layer)
    no_check(monkeypatch)
    ids = layer.frame["territory_id"].to_numpy()
    left, right, share = V.overlap_pairs(layer.frame.geometry.to_numpy())
    pairs = {tuple(sorted((ids[a], ids[b]))): s for a, b, s in zip(left, right, share, strict=True)}
    assert 0 < pairs[("host-out", "sliver-out")] <= 1e-6  # below the check's threshold
    coarse = find_overlaps(layer, 1e-3)
    want = oracle_overlaps(frame)
    assert sorted(reported(coarse).index) == sorted(want[want > 1e-3].index)


def test_a_broken_cache_file_is_ignored_and_the_layer_tested_again(cache):
    frame = planted_layer()
    layer = prepare_polygons(frame, kind="territory")
    find_overlaps(layer)
    (path,) = cache.glob("*.json")
    good = json.loads(path.read_text())
    out_of_layer = {**good, "left": [99999, *good["left"][1:]]}  # same length, no such shape
    short = {**good, "share": good["share"][1:]}
    for text in ("{not json", "[]", "null", '{"schema": "territory-overlaps/1"}',
                 json.dumps(short), json.dumps(out_of_layer)):  # fmt: skip
        path.write_text(text)
        same_as_oracle(find_overlaps(layer), frame)


def test_the_precision_grid_of_the_shapes_is_part_of_the_key(cache):
    """Intersections follow a shape's precision grid, which WKB does not keep: the same
    coordinates on a grid give another overlap share, and the cache must not serve the first."""
    a = shapely.box(0, 0, 100, 100)
    b = shapely.Polygon([(50, 50), (150, 60), (150, 150), (60, 150)])
    plain = gpd.GeoDataFrame({"territory_id": ["a", "b"]}, geometry=[a, b], crs="EPSG:32633")
    gridded = plain.set_geometry(shapely.set_precision(plain.geometry.to_numpy(), 10.0))
    for frame in (plain, gridded):
        geoms = frame.geometry.to_numpy()
        want = shapely.area(shapely.intersection(geoms[0], geoms[1])) / shapely.area(geoms).min()
        found = find_overlaps(prepare_polygons(frame, kind="territory"))
        assert found["overlap_share"].tolist() == pytest.approx([want], rel=1e-12)
    assert len(list(cache.glob("*.json"))) == 2


def test_the_least_recently_used_layers_are_removed_first(cache, monkeypatch):
    monkeypatch.setattr(layercache, "KEEP", 2)
    base = planted_layer()
    moved = [  # three different layers: the same shapes moved by 0, 1 and 2 metres
        base.set_geometry(shapely.transform(base.geometry.to_numpy(), lambda xy, k=k: xy + k))
        for k in range(3)
    ]
    first, second, third = (prepare_polygons(f, kind="territory") for f in moved)
    find_overlaps(first)
    time.sleep(0.01)
    find_overlaps(second)
    time.sleep(0.01)
    find_overlaps(first)  # used again: now the most recent
    time.sleep(0.01)
    find_overlaps(third)  # a third layer: one must go, the least recently used (second)
    assert len(list(cache.glob("*.json"))) == 2
    no_check(monkeypatch)
    find_overlaps(first)
    find_overlaps(third)
    with pytest.raises(AssertionError, match="tested again"):
        find_overlaps(second)


def test_an_unwritable_cache_folder_changes_nothing(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file: no folder can be made in it
    monkeypatch.setattr(layercache, "FROM_COORDINATES", 0)
    frame = planted_layer()
    same_as_oracle(find_overlaps(prepare_polygons(frame, kind="territory")), frame)


def test_small_layers_are_tested_directly_and_leave_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    frame = planted_layer()
    size = shapely.get_num_coordinates(frame.geometry.to_numpy()).sum()
    assert size < layercache.FROM_COORDINATES
    same_as_oracle(find_overlaps(prepare_polygons(frame, kind="territory")), frame)
    assert not (tmp_path / "cache").exists()
