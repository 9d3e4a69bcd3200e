"""Territory design: balance, contiguity, compactness, options, rebalance, compare, errors."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from scipy.sparse.csgraph import connected_components

import territory
from territory.cli import cli
from territory.errors import ValidationError

CRS = "EPSG:32633"  # UTM 33N, metres


def grid(nx=12, ny=10, size=10_000.0, holes=()):
    cells, ids = [], []
    for i in range(nx):
        for j in range(ny):
            if (i, j) in holes:
                continue
            cells.append(shapely.box(i * size, j * size, (i + 1) * size, (j + 1) * size))
            ids.append(f"B{i:02d}{j:02d}")
    return gpd.GeoDataFrame({"block_id": ids}, geometry=cells, crs=CRS)


def accounts_on(blocks, n=3000, seed=0, west_heavy=False):
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = blocks.total_bounds
    x = rng.uniform(x0, x1, n)
    y = rng.uniform(y0, y1, n)
    revenue = rng.gamma(2.0, 500.0, n)
    if west_heavy:
        revenue *= np.where(x < (x0 + x1) / 2, 1.6, 0.6)
    pts = gpd.points_from_xy(x, y, crs=CRS)
    inside = shapely.contains_xy(shapely.union_all(blocks.geometry.to_numpy()), x, y)
    return (
        gpd.GeoDataFrame(
            {"account_id": [f"A{i}" for i in range(n)], "revenue": revenue.round(2)},
            geometry=pts,
            crs=CRS,
        )
        .loc[inside]
        .reset_index(drop=True)
    )


@pytest.fixture(scope="module")
def blocks():
    return grid()


@pytest.fixture(scope="module")
def accounts(blocks):
    return accounts_on(blocks)


def revenue_by_territory(alignment, blocks, accounts):
    joined = gpd.sjoin(accounts, blocks, predicate="within")
    joined = joined.merge(alignment, on="block_id")
    return joined.groupby("territory_id")["revenue"].sum()


def test_design_balances_within_tolerance_and_keeps_every_block_once(blocks, accounts):
    result = territory.design(blocks, accounts, k=6, balance="revenue", tolerance=0.03)
    a = result.alignment
    assert sorted(a["block_id"]) == sorted(blocks["block_id"])
    assert a["block_id"].is_unique and a["territory_id"].notna().all()
    assert a["territory_id"].nunique() == 6
    # balance checked independently: accounts joined to blocks with geopandas
    revenue = revenue_by_territory(a, blocks, accounts)
    assert revenue.sum() == pytest.approx(accounts["revenue"].sum())
    assert (revenue / revenue.mean() - 1).abs().max() <= 0.03 + 1e-9
    assert result.summary["max_deviation_pct"] <= 3.0
    assert result.ok and result.flags == []


def test_territories_are_contiguous_polygons_and_compactness_matches_geometry(blocks, accounts):
    result = territory.design(blocks, accounts, k=5, tolerance=0.05)
    terr = result.territories.set_index("territory_id")
    assert (terr.geom_type == "Polygon").all()  # one piece each
    assert result.summary["contiguous"]
    # Polsby-Popper of the dissolved polygons (planar, UTM) agrees with the report
    pp = 4 * np.pi * terr.area / terr.length**2
    reported = result.quality.set_index("territory_id")["polsby_popper"]
    np.testing.assert_allclose(reported.loc[pp.index], pp, rtol=0.01)
    assert result.summary["polsby_popper_min"] == pytest.approx(reported.min())


def test_same_seed_same_plan(blocks, accounts):
    one = territory.design(blocks, accounts, k=4, seed=7)
    two = territory.design(blocks, accounts, k=4, seed=7)
    pd.testing.assert_frame_equal(one.alignment, two.alignment)


def test_weighted_mix_balances_both_measures(blocks, accounts):
    result = territory.design(
        blocks, accounts, k=4, balance="revenue:0.5,accounts:0.5", tolerance=0.05
    )
    q = result.quality
    for m in ("revenue", "accounts"):
        assert (q[m] / q[m].mean() - 1).abs().max() < 0.15
    assert q["deviation_pct"].abs().max() <= 5.0


def test_homes_seed_their_territories_and_max_distance_holds(blocks, accounts):
    homes = pd.DataFrame(
        {
            "territory_id": ["North", "South", "East"],
            "rep": ["Ann", "Bo", "Cy"],
            "geometry": [
                shapely.Point(15_000, 85_000),
                shapely.Point(15_000, 15_000),
                shapely.Point(105_000, 50_000),
            ],
        }
    )
    homes = gpd.GeoDataFrame(homes, crs=CRS).to_crs(4326)
    homes["lat"], homes["lon"] = homes.geometry.y, homes.geometry.x
    homes = pd.DataFrame(homes.drop(columns="geometry"))
    result = territory.design(blocks, accounts, homes=homes, tolerance=0.1, max_distance_km=110)
    a = result.alignment.set_index("block_id")["territory_id"]
    assert a["B0108"] == "North" and a["B0101"] == "South" and a["B1005"] == "East"
    assert set(a) == {"North", "South", "East"}
    centres = blocks.set_index("block_id").geometry.centroid
    home_xy = {"North": (15_000, 85_000), "South": (15_000, 15_000), "East": (105_000, 50_000)}
    dist = [
        np.hypot(centres[b].x - home_xy[t][0], centres[b].y - home_xy[t][1]) for b, t in a.items()
    ]
    assert max(dist) <= 110_000 * 1.01


def test_locked_blocks_stay_put(blocks, accounts):
    locked = pd.DataFrame(
        {"block_id": ["B0000", "B0001", "B1109"], "territory_id": ["T1", "T1", "T2"]}
    )
    result = territory.design(blocks, accounts, k=4, locked=locked, tolerance=0.05)
    a = result.alignment.set_index("block_id")["territory_id"]
    assert a["B0000"] == a["B0001"] == "T1" and a["B1109"] == "T2"
    assert result.summary["contiguous"]


def test_unreachable_locked_blocks_are_flagged_not_hidden(blocks, accounts):
    # T1 is locked at two far corners with a wall of T2 locked between them
    wall = [f"B06{j:02d}" for j in range(10)]
    locked = pd.DataFrame(
        {"block_id": ["B0000", "B1109", *wall], "territory_id": ["T1", "T1", *["T2"] * 10]}
    )
    result = territory.design(blocks, accounts, k=3, locked=locked, tolerance=0.2)
    assert any("T1" in f and "pieces" in f for f in result.flags)
    assert not result.summary["contiguous"]


def test_regions_balance_both_levels(blocks, accounts):
    result = territory.design(blocks, accounts, k=6, regions=2, tolerance=0.06)
    a = result.alignment
    assert set(a["parent"]) == {"R1", "R2"}
    assert a.groupby("parent")["territory_id"].nunique().tolist() == [3, 3]
    assert a.groupby("territory_id")["parent"].nunique().max() == 1  # one region each
    revenue = revenue_by_territory(a[["block_id", "territory_id"]], blocks, accounts)
    region = revenue.groupby(
        a.drop_duplicates("territory_id").set_index("territory_id")["parent"]
    ).sum()
    assert (region / region.mean() - 1).abs().max() <= 0.06
    assert (revenue / revenue.mean() - 1).abs().max() <= 0.06


def test_islands_are_bridged_and_reported(accounts):
    blocks = grid()
    island = gpd.GeoDataFrame(
        {"block_id": ["ISLAND"]}, geometry=[shapely.box(150_000, 40_000, 160_000, 50_000)], crs=CRS
    )
    blocks = pd.concat([blocks, island], ignore_index=True)
    result = territory.design(blocks, accounts, k=3, tolerance=0.1)
    assert list(result.bridges["block_id"]) == ["ISLAND"]
    assert result.bridges["distance_km"].iloc[0] == pytest.approx(30.0, rel=0.01)  # equal-area km
    assert any("bridged" in n and "ISLAND" in n for n in result.notes)
    assert "ISLAND" in set(result.alignment["block_id"])
    assert result.summary["contiguous"]


def test_rebalance_restores_tolerance_moving_less_than_redesign(blocks, accounts):
    plan = territory.design(blocks, accounts, k=6, tolerance=0.03)
    shifted = accounts_on(blocks, west_heavy=True)
    current = plan.alignment
    before = territory.plan_report(blocks, current, shifted)[1]
    assert before["max_deviation_pct"] > 3
    fixed = territory.design(blocks, shifted, current=current, rebalance=True, tolerance=0.03)
    again = territory.design(blocks, shifted, k=6, current=current, tolerance=0.03, seed=3)
    assert fixed.summary["max_deviation_pct"] <= 3.0
    assert set(fixed.alignment["territory_id"]) == set(current["territory_id"])
    assert 0 < fixed.summary["revenue_moved"] < again.summary["revenue_moved"]
    q = fixed.quality
    assert q["revenue_in"].sum() == pytest.approx(fixed.summary["revenue_moved"])
    assert q["blocks_out"].sum() == fixed.summary["blocks_moved"]


def test_compare_lists_moves_and_deltas(blocks, accounts):
    a = territory.design(blocks, accounts, k=4, seed=1).alignment
    b = a.copy()
    b.loc[b["block_id"].isin(["B0000", "B0100"]), "territory_id"] = "T9"
    cmp = territory.compare(a, b, blocks, accounts)
    assert sorted(cmp.blocks_moved["block_id"]) == ["B0000", "B0100"]
    assert set(cmp.blocks_moved["to_territory"]) == {"T9"}
    joined = gpd.sjoin(accounts, blocks, predicate="within")
    assert len(cmp.accounts_moved) == joined["block_id"].isin(["B0000", "B0100"]).sum()
    side = cmp.territories.set_index("territory_id")
    assert side.loc["T9", "revenue_b"] == pytest.approx(cmp.accounts_moved["revenue"].sum())
    assert side["revenue_delta"].sum() == pytest.approx(0.0, abs=1e-6)
    assert "max_deviation_pct" in set(cmp.summary["figure"])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"k": 500}, "k = 500 territories cannot be built from 120 blocks"),
        ({"k": 3, "balance": "margin"}, "Unknown balance measure 'margin'"),
        ({"k": 3, "balance": "revenue:x"}, "is not a number"),
        ({}, "-k N"),
        ({"k": 3, "max_distance_km": 50}, "needs rep homes"),
        ({"k": 3, "rebalance": True}, "current alignment"),
        (
            {"k": 3, "locked": pd.DataFrame({"block_id": ["nope"], "territory_id": ["T1"]})},
            "not in the block layer",
        ),
    ],
)
def test_bad_requests_raise_clear_errors(blocks, accounts, kwargs, fragment):
    with pytest.raises(ValidationError, match=None) as info:
        territory.design(blocks, accounts, **kwargs)
    assert fragment in str(info.value)


def test_heavy_block_gives_a_flagged_best_effort_plan(blocks, accounts):
    heavy = accounts.copy()
    heavy.loc[0, "revenue"] = heavy["revenue"].sum()  # one block holds half the revenue
    result = territory.design(blocks, heavy, k=4, tolerance=0.05)
    assert not result.ok
    assert any("alone weigh more" in f for f in result.flags)
    assert len(result.alignment) == len(blocks)
    # the heavy block's territory aims at that block; the other three share the rest evenly
    q = result.quality.sort_values("balance", ascending=False)
    joined = gpd.sjoin(heavy.iloc[[0]], blocks, predicate="within")
    block_revenue = heavy.loc[
        gpd.sjoin(heavy, blocks, predicate="within")["block_id"] == joined["block_id"].iloc[0],
        "revenue",
    ].sum()
    assert q["balance_target"].iloc[0] == pytest.approx(block_revenue)
    rest = q.iloc[1:]
    assert rest["balance_target"].tolist() == pytest.approx(
        [(heavy["revenue"].sum() - block_revenue) / 3] * 3
    )
    assert (rest["deviation_pct"].abs() <= 5).all()
    assert rest["balance"].max() / rest["balance"].min() < 1.11


def test_cli_design_quality_compare(tmp_path, blocks, accounts):
    blocks_path = tmp_path / "blocks.gpkg"
    blocks.to_file(blocks_path)
    acc = accounts.to_crs(4326)
    acc_csv = tmp_path / "accounts.csv"
    pd.DataFrame(
        {
            "account_id": acc["account_id"],
            "lat": acc.geometry.y,
            "lon": acc.geometry.x,
            "revenue": acc["revenue"],
        }
    ).to_csv(acc_csv, index=False)
    runner = CliRunner()
    out = tmp_path / "plan"
    res = runner.invoke(
        cli,
        [
            "design",
            str(blocks_path),
            "--accounts",
            str(acc_csv),
            "-k",
            "5",
            "--tolerance",
            "0.04",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "5 territories from 120 blocks" in res.output
    align = pd.read_csv(out / "alignment.csv")
    assert len(align) == 120 and align["territory_id"].nunique() == 5
    report = json.loads((out / "quality.json").read_text())
    assert report["summary"]["max_deviation_pct"] <= 4 and report["flags"] == []
    assert len(gpd.read_file(out / "territories.geojson")) == 5

    res = runner.invoke(
        cli, ["quality", str(blocks_path), str(out / "alignment.csv"), "--accounts", str(acc_csv)]
    )
    assert res.exit_code == 0, res.output
    assert "all contiguous" in res.output

    res = runner.invoke(
        cli,
        [
            "rebalance",
            str(blocks_path),
            "--current",
            str(out / "alignment.csv"),
            "--accounts",
            str(acc_csv),
            "--tolerance",
            "0.01",
            "--out",
            str(tmp_path / "re"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "moved" in res.output

    res = runner.invoke(
        cli,
        [
            "compare",
            str(out / "alignment.csv"),
            str(tmp_path / "re" / "alignment.csv"),
            "--blocks",
            str(blocks_path),
            "--accounts",
            str(acc_csv),
            "--out",
            str(tmp_path / "cmp"),
        ],
    )
    assert res.exit_code == 0, res.output
    moved = pd.read_csv(tmp_path / "cmp" / "blocks_moved.csv")
    re_report = json.loads((tmp_path / "re" / "quality.json").read_text())
    assert len(moved) == re_report["summary"]["blocks_moved"]

    res = runner.invoke(cli, ["design", str(blocks_path), "--accounts", str(acc_csv), "-k", "999"])
    assert res.exit_code == 1
    assert "cannot be built from 120 blocks" in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_us_counties_design_is_contiguous_and_balanced():
    import sys
    from importlib import resources
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from assign import make_accounts

    counties = gpd.read_parquet(resources.files("territory.data") / "us_counties.parquet")
    counties = counties.loc[~counties["GEOID"].str[:2].isin(["02", "15", "72"])]
    result = territory.design(
        counties, make_accounts(20_000, seed=2), k=20, tolerance=0.03, block_id="GEOID"
    )
    assert result.summary["contiguous"]
    assert result.summary["max_deviation_pct"] <= 3.0
    assert result.summary["polsby_popper_min"] > 0.02


def three_bands(west_factor, east_factor):
    """Three vertical bands of 40 blocks as the current alignment; the west third's revenue
    scaled by ``west_factor``, the rest by ``east_factor``."""
    blocks = grid(nx=30, ny=4)
    x = blocks.geometry.centroid.x.to_numpy()
    bands = np.digitize(x, np.quantile(x, [1 / 3, 2 / 3]))
    current = pd.DataFrame(
        {"block_id": blocks["block_id"], "territory_id": [f"T{b}" for b in bands]}
    )
    accounts = accounts_on(blocks, n=6000, seed=4)
    accounts["revenue"] *= np.where(accounts.geometry.x < 100_000, west_factor, east_factor)
    return blocks, current, accounts


def test_rebalance_passes_load_along_a_chain_of_territories():
    # the west band gained load and does not touch the east band, so the middle band must take
    # from the west and pass on to the east
    blocks, current, accounts = three_bands(1.6, 0.85)
    before = territory.plan_report(blocks, current, accounts)[1]
    assert before["max_deviation_pct"] > 20
    fixed = territory.design(blocks, accounts, current=current, rebalance=True, tolerance=0.03)
    assert fixed.summary["max_deviation_pct"] <= 3.0 and fixed.summary["contiguous"]
    q = fixed.quality.set_index("territory_id")
    assert q.loc["T0", "blocks_out"] > 0 and q.loc["T0", "blocks_in"] == 0
    assert q.loc["T1", "blocks_in"] > 0 and q.loc["T1", "blocks_out"] > 0
    assert q.loc["T2", "blocks_in"] > 0 and q.loc["T2", "blocks_out"] == 0
    # T0 and T2 share no border: every block T2 took came from T1
    moved = fixed.alignment.merge(current, on="block_id", suffixes=("", "_before"))
    into_east = moved.loc[(moved.territory_id == "T2") & (moved.territory_id_before != "T2")]
    assert set(into_east["territory_id_before"]) == {"T1"}


def test_rebalance_reports_disruption_per_rep(tmp_path, blocks, accounts):
    plan = territory.design(blocks, accounts, k=6, tolerance=0.03)
    names = sorted(plan.alignment["territory_id"].unique())
    reps = {t: f"Rep {i % 4}" for i, t in enumerate(names)}  # Rep 0 and Rep 1 have two
    current = plan.alignment.assign(rep=plan.alignment["territory_id"].map(reps))
    shifted = accounts_on(blocks, west_heavy=True)
    fixed = territory.design(blocks, shifted, current=current, rebalance=True, tolerance=0.03)
    align = fixed.alignment
    assert (align["rep"] == align["territory_id"].map(reps)).all()
    q = fixed.quality
    assert (q["rep"] == q["territory_id"].map(reps)).all()
    by_rep = fixed.reps.set_index("rep")
    assert sorted(by_rep.index) == ["Rep 0", "Rep 1", "Rep 2", "Rep 3"]
    expected = q.groupby("rep")[["revenue_in", "revenue_out", "accounts_in", "blocks_out"]].sum()
    pd.testing.assert_frame_equal(by_rep[expected.columns].loc[expected.index], expected)
    assert by_rep.loc["Rep 0", "territories"].count(",") == 1  # two territories, one rep
    assert fixed.summary["reps_affected"] == int(((by_rep.blocks_in + by_rep.blocks_out) > 0).sum())
    written = fixed.write(tmp_path)
    assert tmp_path / "reps.csv" in written
    assert len(pd.read_csv(tmp_path / "reps.csv")) == 4


def test_an_alignment_giving_a_territory_two_reps_is_an_error(blocks, accounts):
    plan = territory.design(blocks, accounts, k=3)
    current = plan.alignment.assign(rep="Ann")
    current.loc[current.index[5], "rep"] = "Bob"
    t = current.loc[current.index[5], "territory_id"]
    with pytest.raises(
        ValidationError, match=f"Territory '{t}' has more than one rep.*Ann.*Bob|Bob.*Ann"
    ):
        territory.design(blocks, accounts, current=current, rebalance=True)


def test_designed_territories_on_an_even_grid_are_compact():
    # uniform accounts on a square grid: four balanced territories should be near-squares
    blocks = grid(nx=20, ny=20, size=5_000.0)
    rng = np.random.default_rng(3)
    accounts = gpd.GeoDataFrame(
        {"account_id": [f"A{i}" for i in range(4000)], "revenue": np.ones(4000)},
        geometry=gpd.points_from_xy(rng.uniform(0, 100_000, 4000), rng.uniform(0, 100_000, 4000)),
        crs=CRS,
    )
    result = territory.design(blocks, accounts, k=4, tolerance=0.05)
    assert result.summary["max_deviation_pct"] <= 5 and result.summary["contiguous"]
    # a square scores 0.785, a 4:1 strip 0.503; block edges make staircases, so allow some
    assert result.summary["polsby_popper_min"] > 0.6


def test_rebalance_that_moves_much_of_the_map_says_so():
    blocks, current, accounts = three_bands(3.0, 0.5)
    fixed = territory.design(blocks, accounts, current=current, rebalance=True, tolerance=0.03)
    assert fixed.summary["max_deviation_pct"] <= 3.0
    assert fixed.summary["revenue_moved_pct"] > 25
    assert any("shifted across much of the map" in n for n in fixed.notes)


def test_cli_rebalance_prints_and_writes_per_rep_disruption(tmp_path, blocks, accounts):
    blocks_path = tmp_path / "blocks.gpkg"
    blocks.to_file(blocks_path)
    shifted = accounts_on(blocks, west_heavy=True).to_crs(4326)
    acc_csv = tmp_path / "accounts.csv"
    pd.DataFrame(
        {
            "account_id": shifted["account_id"],
            "lat": shifted.geometry.y,
            "lon": shifted.geometry.x,
            "revenue": shifted["revenue"],
        }
    ).to_csv(acc_csv, index=False)
    plan = territory.design(blocks, accounts, k=4, tolerance=0.03).alignment
    plan["rep"] = plan["territory_id"].map({"T1": "Ana", "T2": "Ben", "T3": "Ana", "T4": "Cy"})
    plan.to_csv(tmp_path / "current.csv", index=False)
    res = CliRunner().invoke(
        cli,
        [
            "rebalance",
            str(blocks_path),
            "--current",
            str(tmp_path / "current.csv"),
            "--accounts",
            str(acc_csv),
            "--tolerance",
            "0.03",
            "--out",
            str(tmp_path / "re"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Per rep" in res.output and "T1, T3" in res.output
    reps = pd.read_csv(tmp_path / "re" / "reps.csv").set_index("rep")
    quality = pd.read_csv(tmp_path / "re" / "quality.csv")
    assert sorted(reps.index) == ["Ana", "Ben", "Cy"]
    assert reps["revenue_in"].sum() == pytest.approx(quality["revenue_in"].sum())
    assert reps.loc["Ana", "revenue_out"] == pytest.approx(
        quality.loc[quality["rep"] == "Ana", "revenue_out"].sum()
    )
    written = pd.read_csv(tmp_path / "re" / "alignment.csv")
    assert set(written["rep"]) == {"Ana", "Ben", "Cy"}


def test_territory_designer_fit_gives_the_plan_design_gives(blocks, accounts):
    designer = territory.TerritoryDesigner(k=5, balance="revenue", tolerance=0.04, seed=2)
    assert designer.fit(blocks, accounts) is designer
    direct = territory.design(blocks, accounts, k=5, balance="revenue", tolerance=0.04, seed=2)
    pd.testing.assert_frame_equal(designer.alignment_, direct.alignment)
    pd.testing.assert_frame_equal(designer.quality_, direct.quality)
    assert designer.flags_ == direct.flags == []
    labels = designer.labels_
    assert labels.index.name == "block_id" and sorted(labels.index) == sorted(blocks["block_id"])
    assert labels.to_dict() == direct.alignment.set_index("block_id")["territory_id"].to_dict()
    assert designer.summary_["max_deviation_pct"] <= 4.0
    assert designer.result_.alignment is designer.alignment_


def test_territory_designer_rebalances_from_current_like_design(blocks, accounts):
    current = territory.design(blocks, accounts, k=4, tolerance=0.03).alignment
    shifted = accounts_on(blocks, west_heavy=True)
    designer = territory.TerritoryDesigner(rebalance=True, tolerance=0.03)
    designer.fit(blocks, shifted, current=current)
    direct = territory.design(blocks, shifted, current=current, rebalance=True, tolerance=0.03)
    pd.testing.assert_frame_equal(designer.alignment_, direct.alignment)
    assert designer.quality_["blocks_out"].sum() == direct.summary["blocks_moved"] > 0
    with pytest.raises(ValidationError, match="Rebalancing needs the current alignment"):
        designer.fit(blocks, shifted)
    with pytest.raises(ValidationError, match="Tolerance must be a fraction"):
        territory.TerritoryDesigner(k=3, tolerance=1.5).fit(blocks, accounts)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no territory's deviation is 0/0
@pytest.mark.parametrize("heavy", [[0], [0, 7]])
def test_every_territory_gets_blocks_when_the_measure_sits_in_a_few(heavy):
    # 12 blocks, all revenue in one or two of them: the measure cannot be split four ways, but
    # each territory still gets blocks (in one piece), the territories without revenue share
    # the blocks without it evenly, and the flag says which blocks are heavy
    polys = [shapely.box(j * 1000, i * 1000, (j + 1) * 1000, (i + 1) * 1000)
             for i in range(3) for j in range(4)]  # fmt: skip
    revenue = np.where(np.isin(np.arange(12), heavy), 100.0, 0.0)
    blocks = gpd.GeoDataFrame({"block_id": [f"B{i:02d}" for i in range(12)], "revenue": revenue},
                              geometry=polys, crs=3857)  # fmt: skip
    result = territory.design(blocks, k=4, seed=0)
    alignment = result.alignment.merge(blocks, on="block_id")
    assert alignment["territory_id"].nunique() == 4
    for _, group in alignment.groupby("territory_id"):
        shapes = group.geometry.to_numpy()
        touching = shapely.intersection(shapes[:, None], shapes[None, :])
        edges = shapely.length(touching) > 0  # shared edges, not corners
        assert connected_components(edges)[0] == 1
    revenue = alignment.groupby("territory_id")["revenue"].sum()
    without = alignment["territory_id"].value_counts()[revenue.index[revenue == 0]]
    assert len(without) == 4 - len(heavy) and without.max() - without.min() <= 1
    assert any("alone weigh more than a territory" in f for f in result.flags)


def test_neighbours_that_overlap_by_slivers_share_their_border_in_the_block_graph():
    """Cells grown by 5 m on each side (as areas drawn from two sources overlap along their
    borders): the block graph has the clean grid's side neighbours (shapely shared edges of
    the clean grid are the oracle), with about the edge's length, and no diagonal ones,
    although diagonal cells overlap in small squares at their corners."""
    from territory.designer.blocks import build_graph
    from territory.validate import Polygons

    clean = grid(nx=5, ny=4)
    grown = clean.set_geometry(
        shapely.box(*(shapely.bounds(clean.geometry.to_numpy()) + [-5, -5, 5, 5]).T)
    )
    assert shapely.relate_pattern(grown.geometry[0], grown.geometry[1], "2********")
    graph = build_graph(Polygons(grown, "block_id", None))
    geoms = clean.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="touches")
    edges = shapely.length(shapely.intersection(geoms[left], geoms[right])) > 0
    want = {(a, b) for a, b in zip(left[edges], right[edges], strict=True) if a < b}
    src, dst, shared = graph.edges()
    got = {(a, b) for a, b in zip(src.tolist(), dst.tolist(), strict=True) if a < b}
    assert got == want and len(want) == 4 * 4 + 5 * 3
    np.testing.assert_allclose(shared[src < dst], 10.0, rtol=0.01)  # km, as the clean edges
    assert not len(graph.bridges)
