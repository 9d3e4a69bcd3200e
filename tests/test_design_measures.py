"""Design on several measures at once, one quality computation for design/quality/compare, and
compare matching territories between plans. Figures are checked against pandas recomputed
from the alignment and the blocks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from scipy import sparse
from scipy.sparse.csgraph import connected_components

import territory
from territory.cli import cli
from territory.errors import ValidationError

sys.path.insert(0, str(Path(__file__).parent))
from test_design import accounts_on, grid  # noqa: E402

SEVERAL = "revenue,accounts,workload"


@pytest.fixture(scope="module")
def blocks():
    return grid()


@pytest.fixture(scope="module")
def accounts(blocks):
    return accounts_on(blocks)


def per_territory(alignment, blocks, accounts) -> pd.DataFrame:
    """Revenue and accounts per territory, by pandas from a spatial join (the oracle)."""
    joined = gpd.sjoin(accounts, blocks, predicate="within").merge(alignment, on="block_id")
    out = joined.groupby("territory_id").agg(revenue=("revenue", "sum"),
                                             accounts=("account_id", "size"))  # fmt: skip
    return out.reindex(alignment["territory_id"].unique(), fill_value=0)


def oracle_gini(values) -> float:
    """Gini as half the relative mean absolute difference (an independent formula)."""
    v = np.asarray(values, float)
    return float(np.abs(v[:, None] - v[None]).sum() / (2 * len(v) ** 2 * v.mean()))


def contiguous(alignment, blocks) -> bool:
    """Every territory connected through blocks sharing an edge (shapely edges, scipy parts)."""
    geoms = blocks.set_index("block_id").geometry
    terr = alignment.set_index("block_id")["territory_id"]
    for _, ids in terr.groupby(terr):
        members = list(ids.index)
        edges = [
            (i, j)
            for i in range(len(members))
            for j in range(i + 1, len(members))
            if shapely.intersection(geoms[members[i]], geoms[members[j]]).length > 0
        ]
        rows = [e[0] for e in edges]
        cols = [e[1] for e in edges]
        graph = sparse.coo_matrix((np.ones(len(edges)), (rows, cols)),
                                  shape=(len(members),) * 2)  # fmt: skip
        if connected_components(graph, directed=False)[0] != 1:
            return False
    return True


def test_several_measures_each_within_its_own_tolerance(blocks, accounts):
    tolerance = "revenue=0.03,accounts=0.05,workload=0.05"
    result = territory.design(blocks, accounts, k=6, balance=SEVERAL, tolerance=tolerance)
    assert result.ok, result.flags
    got = per_territory(result.alignment, blocks, accounts)
    dev = got / got.mean() - 1
    assert dev["revenue"].abs().max() <= 0.03
    assert dev["accounts"].abs().max() <= 0.05
    s = result.summary
    for m in ("revenue", "accounts"):
        assert s[f"{m}_max_deviation_pct"] == pytest.approx(100 * dev[m].abs().max())
        assert s[f"{m}_gini"] == pytest.approx(oracle_gini(got[m]))
    assert s["revenue_tolerance_pct"] == pytest.approx(3.0)
    q = result.quality.set_index("territory_id")
    assert q["revenue_deviation_pct"].to_dict() == pytest.approx((100 * dev["revenue"]).to_dict())
    assert contiguous(result.alignment, blocks)
    # a weighted mix stays one blended measure
    blend = territory.design(blocks, accounts, k=6, balance="revenue:0.7,accounts:0.3")
    assert "revenue_max_deviation_pct" not in blend.summary


def test_api_takes_per_measure_tolerances_as_a_dict(blocks, accounts):
    tol = {"revenue": 0.03, "accounts": 0.05}
    fitted = territory.TerritoryDesigner(k=5, balance="revenue,accounts", tolerance=tol)
    fitted.fit(blocks, accounts)
    again = territory.design(blocks, accounts, k=5, balance="revenue,accounts",
                             tolerance="revenue=0.03,accounts=0.05")  # fmt: skip
    pd.testing.assert_frame_equal(fitted.alignment_, again.alignment)
    assert fitted.summary_["accounts_tolerance_pct"] == pytest.approx(5.0)


def test_measures_that_cannot_all_be_met_are_flagged_by_territory_with_a_reason(blocks, accounts):
    skewed = accounts.copy()  # revenue six times denser in the west: a hard split
    skewed["revenue"] *= np.where(skewed.geometry.x < 60_000, 3.0, 0.5)
    result = territory.design(blocks, skewed, k=6, balance=SEVERAL, tolerance=0.03)
    got = per_territory(result.alignment, blocks, skewed)
    dev = got / got.mean() - 1
    for m in ("revenue", "accounts"):
        off = dev.index[dev[m].abs() > 0.03].tolist()
        flags = [f for f in result.flags if f"of its {m} target" in f]
        if not off:
            assert not flags
            continue
        (flag,) = flags
        said = "1 territory is" if len(off) == 1 else f"{len(off)} territories are"
        assert flag.startswith(f"{said} outside ±3.0%")
        for t in off:
            assert f"{t} ({100 * dev.loc[t, m]:+.1f}%: " in flag
        assert flag.count("%: ") == len(off)  # every one has its reason, no one else
    assert result.flags


@pytest.mark.parametrize(
    ("balance", "tolerance", "fragment"),
    [
        (SEVERAL, "revenue=abc", "Tolerance 'abc' for 'revenue' is not a number"),
        (SEVERAL, "pipeline=0.02", "Tolerance given for 'pipeline', which is not balanced"),
        (SEVERAL, "revenue=1.5", "between 0 and 1 (0.05 = 5%), not 1.5 for 'revenue'"),
    ],
)
def test_bad_tolerances_raise_clear_errors(blocks, accounts, balance, tolerance, fragment):
    with pytest.raises(ValidationError) as info:
        territory.design(blocks, accounts, k=4, balance=balance, tolerance=tolerance)
    assert fragment in str(info.value)


def heavy_accounts(accounts):
    heavy = accounts.copy()
    heavy.loc[0, "revenue"] = heavy["revenue"].sum()  # one block holds half the revenue
    return heavy


def test_design_quality_rebalance_and_compare_give_the_same_figures(blocks, accounts):
    heavy = heavy_accounts(accounts)
    designed = territory.design(blocks, heavy, k=4, tolerance=0.05)
    table, summary = territory.plan_report(blocks, designed.alignment, heavy, tolerance=0.05)
    cols = ["territory_id", "balance", "balance_target", "deviation_pct", "polsby_popper"]
    pd.testing.assert_frame_equal(
        table[cols].sort_values("territory_id").reset_index(drop=True),
        designed.quality[cols].sort_values("territory_id").reset_index(drop=True),
    )
    for key in ("max_deviation_pct", "gini", "polsby_popper_mean", "raised_targets"):
        assert summary[key] == pytest.approx(designed.summary[key])
    # the oracle: the heavy block's territory aims at its own revenue, the rest share the rest
    got = per_territory(designed.alignment, blocks, heavy)["revenue"]
    holder = got.idxmax()
    rest = (got.sum() - got[holder]) / 3
    want = pd.Series(rest, index=got.index).where(got.index != holder, got[holder])
    max_dev = 100 * (got / want - 1).abs().max()
    assert summary["max_deviation_pct"] == pytest.approx(max_dev)
    assert summary["raised_targets"] == 1
    cmp = territory.compare(designed.alignment, designed.alignment, blocks, heavy, tolerance=0.05)
    figures = cmp.summary.set_index("figure")
    assert figures.loc["max_deviation_pct", "a"] == pytest.approx(max_dev)
    assert figures.loc["max_deviation_pct", "b"] == pytest.approx(max_dev)
    fixed = territory.design(blocks, heavy, current=designed.alignment, rebalance=True)
    _, again = territory.plan_report(blocks, fixed.alignment, heavy)
    assert again["max_deviation_pct"] == pytest.approx(fixed.summary["max_deviation_pct"])


def test_quality_of_several_measures_matches_design(blocks, accounts):
    designed = territory.design(blocks, accounts, k=6, balance=SEVERAL, tolerance=0.05)
    _, summary = territory.plan_report(
        blocks, designed.alignment, accounts, balance=SEVERAL, tolerance=0.05
    )
    for m in ("revenue", "accounts", "workload"):
        key = f"{m}_max_deviation_pct"
        assert summary[key] == pytest.approx(designed.summary[key])


def test_a_block_column_named_like_a_quality_column_is_kept_apart(tmp_path, blocks, accounts):
    layer = blocks.assign(area_km2=123.0, balance=1.0)
    path = tmp_path / "blocks.gpkg"
    layer.to_file(path)
    accounts.to_crs(4326).assign(lat=lambda d: d.geometry.y, lon=lambda d: d.geometry.x).drop(
        columns="geometry"
    ).to_csv(tmp_path / "accounts.csv", index=False)
    args = ["design", str(path), "--accounts", str(tmp_path / "accounts.csv"), "-k", "4"]
    run = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "d")])
    assert run.exit_code == 0, run.output
    header = (tmp_path / "d" / "quality.csv").read_text().splitlines()[0].split(",")
    assert len(header) == len(set(header))
    assert {"area_km2", "input_area_km2", "balance", "input_balance"} <= set(header)
    quality = pd.read_csv(tmp_path / "d" / "quality.csv")
    assert (quality["input_area_km2"] == 123.0 * quality["blocks"]).all()
    assert quality["area_km2"].sum() == pytest.approx(120 * 100.0, rel=1e-3)  # 10 km cells
    cmp = territory.compare(tmp_path / "d" / "alignment.csv", tmp_path / "d" / "alignment.csv",
                            path, tmp_path / "accounts.csv")  # fmt: skip
    assert "input_area_km2_delta" in cmp.territories
    assert len(cmp.blocks_moved) == 0


def test_compare_matches_territories_before_counting_moves(blocks, accounts):
    a = territory.design(blocks, accounts, k=5, seed=1).alignment
    names = sorted(a["territory_id"].unique())
    renamed = dict(zip(names, names[::-1], strict=True))  # the same plan, names shuffled
    b = a.assign(territory_id=a["territory_id"].map(renamed))
    cmp = territory.compare(a, b, blocks, accounts)
    assert len(cmp.blocks_moved) == 0 and len(cmp.accounts_moved) == 0
    pairs = dict(zip(cmp.territories["territory_a"], cmp.territories["territory_b"], strict=True))
    assert pairs == renamed
    assert (cmp.territories["revenue_delta"].abs() < 1e-6).all()
    # two blocks really move: exactly those are listed, from their A name to their B name
    moved = b["block_id"].isin(["B0000", "B1109"])
    far = {t: renamed[t] for t in names}
    target = next(t for t in names if t != a.loc[moved, "territory_id"].iloc[0])
    b.loc[moved, "territory_id"] = far[target]
    cmp = territory.compare(a, b, blocks, accounts)
    assert sorted(cmp.blocks_moved["block_id"]) == sorted(a.loc[moved, "block_id"])
    assert set(cmp.blocks_moved["to_territory"]) == {far[target]}
    joined = gpd.sjoin(accounts, blocks, predicate="within")
    assert len(cmp.accounts_moved) == joined["block_id"].isin(a.loc[moved, "block_id"]).sum()


def test_compare_keeps_account_columns_out_of_its_own_names(blocks, accounts):
    a = territory.design(blocks, accounts, k=3, seed=1).alignment
    b = a.copy()
    b.loc[b["block_id"] == "B0000", "territory_id"] = "T9"
    odd = accounts.assign(from_territory=1.0, to_territory=2.0)
    cmp = territory.compare(a, b, blocks, odd, measures=["revenue", "to_territory"])
    moved = cmp.accounts_moved
    assert set(moved["to_territory"]) == {"T9"}
    assert set(moved["input_to_territory"]) == {2.0}
    assert "input_to_territory_b" in cmp.territories


def test_cli_several_measures_and_quality_tell_the_same_story(tmp_path, blocks, accounts):
    accounts.to_crs(4326).assign(lat=lambda d: d.geometry.y, lon=lambda d: d.geometry.x).drop(
        columns="geometry"
    ).to_csv(tmp_path / "accounts.csv", index=False)
    blocks.to_file(tmp_path / "blocks.gpkg")
    common = ["--accounts", str(tmp_path / "accounts.csv"), "--balance", "revenue,accounts",
              "--tolerance", "revenue=0.03,accounts=0.05"]  # fmt: skip
    run = CliRunner().invoke(cli, ["design", str(tmp_path / "blocks.gpkg"), "-k", "5", *common,
                                   "--out", str(tmp_path / "d")])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "revenue: max deviation" in run.output and "(tolerance 3.0%)" in run.output
    report = json.loads((tmp_path / "d" / "quality.json").read_text())["summary"]
    out = tmp_path / "q.csv"
    run = CliRunner().invoke(
        cli,
        [
            "quality",
            str(tmp_path / "blocks.gpkg"),
            str(tmp_path / "d" / "alignment.csv"),
            *common,
            "-o",
            str(out),
        ],
    )
    assert run.exit_code == 0, run.output
    assert f"revenue: max deviation {report['revenue_max_deviation_pct']:.2f}%" in run.output
    assert f"accounts: max deviation {report['accounts_max_deviation_pct']:.2f}%" in run.output
    table = pd.read_csv(out)
    got = per_territory(pd.read_csv(tmp_path / "d" / "alignment.csv"), blocks, accounts)
    want = 100 * (got["accounts"] / got["accounts"].mean() - 1)
    assert table.set_index("territory_id")["accounts_deviation_pct"].to_dict() == pytest.approx(
        want.to_dict()
    )


@pytest.mark.slow
def test_zip_areas_design_names_every_territory_off_the_tolerance_and_why():
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from assign import make_accounts
    from zip_areas import build

    zips = build(states=["MA", "RI", "CT"])[["block_id", "geometry"]]
    accounts = make_accounts(6000, seed=3)
    points = gpd.GeoDataFrame(
        accounts, geometry=gpd.points_from_xy(accounts["lon"], accounts["lat"]), crs=4326
    )
    inside = gpd.sjoin(points, zips, predicate="within")  # those at sea are left out
    points = points.loc[inside.index.unique()].reset_index(drop=True)
    result = territory.design(zips, points, k=12, tolerance=0.002)
    joined = gpd.sjoin(points, zips, predicate="within").merge(result.alignment, on="block_id")
    got = joined.groupby("territory_id")["revenue"].sum()
    # no single ZIP area outweighs a territory here: the targets are the even share
    assert result.summary["raised_targets"] == 0
    dev = got / (got.sum() / 12) - 1
    off = dev.index[dev.abs() > 0.002].tolist()
    assert off, "a ±0.2% tolerance on ZIP areas should not be met everywhere"
    (flag,) = [f for f in result.flags if "of the target balance" in f]
    said = "1 territory is" if len(off) == 1 else f"{len(off)} territories are"
    assert flag.startswith(f"{said} outside ±0.2%")
    for t in off:
        assert f"{t} ({100 * dev[t]:+.1f}%: " in flag
    assert flag.count("%: ") == len(off)
    # every territory is one piece: shapely shared edges, scipy connected parts
    geoms = zips.set_index("block_id").geometry
    tree = shapely.STRtree(geoms.to_numpy())
    i, j = tree.query(geoms.to_numpy(), predicate="intersects")
    shared = shapely.length(shapely.intersection(geoms.to_numpy()[i], geoms.to_numpy()[j])) > 0
    terr = result.alignment.set_index("block_id")["territory_id"].reindex(geoms.index).to_numpy()
    same = shared & (terr[i] == terr[j]) & (i != j)
    graph = sparse.coo_matrix((np.ones(same.sum()), (i[same], j[same])), shape=(len(geoms),) * 2)
    _, part = connected_components(graph, directed=False)
    pieces = pd.Series(part).groupby(terr).nunique()
    # a territory in pieces only where the designer bridged an island to the mainland
    bridged = set(result.bridges["block_id"]) | set(result.bridges["to_block_id"])
    for t in pieces.index[pieces > 1]:
        assert bridged & set(result.alignment.loc[result.alignment["territory_id"] == t,
                                                  "block_id"])  # fmt: skip
    assert result.summary["contiguous"]


def county_layer_and_accounts(n=20_000, seed=1):
    """The embedded continental counties and accounts scattered around the embedded ZIP points
    (gamma revenue), as GeoDataFrames in the counties' CRS."""
    from importlib import resources

    from territory.postal import us_zip_points

    counties = gpd.read_parquet(resources.files("territory.data") / "us_counties.parquet")
    far = {"02", "15", "60", "66", "69", "72", "78"}  # Alaska, Hawaii and the territories
    counties = counties.loc[~counties["GEOID"].str[:2].isin(far), ["GEOID", "geometry"]]
    counties = counties.rename(columns={"GEOID": "block_id"}).reset_index(drop=True)
    zips = us_zip_points()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(zips), n)
    lon = zips["lon"].to_numpy()[pick] + rng.normal(0, 0.035, n)
    lat = zips["lat"].to_numpy()[pick] + rng.normal(0, 0.027, n)
    points = gpd.GeoDataFrame(
        {"account_id": [f"A{i}" for i in range(n)], "revenue": rng.gamma(2.0, 5000.0, n)},
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    ).to_crs(counties.crs)
    inside = gpd.sjoin(points, counties, predicate="within").index.unique()
    return counties, points.loc[inside].reset_index(drop=True)


def test_two_measures_each_within_two_percent_on_counties():
    counties, accounts = county_layer_and_accounts()
    result = territory.design(counties, accounts, k=50, balance="revenue,accounts",
                              tolerance=0.02)  # fmt: skip
    got = per_territory(result.alignment, counties, accounts)
    assert len(got) == 50 and got["accounts"].sum() == len(accounts)
    dev = got / got.mean() - 1
    assert dev["revenue"].abs().max() <= 0.02, dev["revenue"].abs().max()
    assert dev["accounts"].abs().max() <= 0.02, dev["accounts"].abs().max()
    for m in ("revenue", "accounts"):
        assert result.summary[f"{m}_max_deviation_pct"] == pytest.approx(100 * dev[m].abs().max())
    assert result.ok and result.summary["contiguous"], result.flags


def test_measures_pulling_apart_are_named_as_the_reason_with_their_ratio(blocks, accounts):
    skewed = accounts.copy()  # revenue per account six times higher in the west
    skewed["revenue"] *= np.where(skewed.geometry.x < 60_000, 3.0, 0.5)
    result = territory.design(blocks, skewed, k=6, balance="revenue,accounts", tolerance=0.03)
    got = per_territory(result.alignment, blocks, skewed)
    share = got / got.mean()
    ratio = share["revenue"] / share["accounts"]  # revenue per account against the plan's
    lo, hi = 0.97 / 1.03, 1.03 / 0.97  # both within ±3 % allows only this ratio
    apart = ratio.index[(ratio < lo) | (ratio > hi)].tolist()
    assert apart  # the skew makes some territory impossible on both measures
    (flag,) = [f for f in result.flags if "of its revenue target" in f]
    off = [t for t in apart if abs(share.loc[t, "revenue"] - 1) > 0.03]
    assert off
    for t in off:
        assert (
            f"{t} ({100 * (share.loc[t, 'revenue'] - 1):+.1f}%: its revenue per accounts is "
            f"{ratio[t]:.3f}x its targets' and ±3.0% / ±3.0% on both allow {lo:.3f}x-{hi:.3f}x"
        ) in flag
        # the neighbours' clause: "alike" only when they lean the same way as the territory
        text = flag[flag.index(f"{t} (") :].split("; its neighbours with it are ", 1)[1]
        assert text.startswith(("alike (", "at ")), text


class _ThreeBlocks:
    """Blocks 0, 1, 2, one per territory; block 0 borders the other two."""

    def edges(self):
        return np.array([0, 1, 0, 2]), np.array([1, 0, 2, 0]), np.ones(4)


def _quality(revenue, accounts):
    return pd.DataFrame({"territory_id": ["T0", "T1", "T2"], "revenue": revenue,
                         "revenue_target": [100.0] * 3, "accounts": accounts,
                         "accounts_target": [100.0] * 3})  # fmt: skip


@pytest.mark.parametrize(
    ("revenue", "accounts", "says"),
    [
        # neighbours lean the other way: they could mix it (not "alike")
        ([130.0, 50.0, 50.0], [100.0] * 3, "its neighbours with it are at 0.767x, so blocks"),
        # neighbours lean the same way: alike
        ([130.0, 125.0, 125.0], [100.0] * 3, "its neighbours with it are alike (1.267x)"),
        # none of the other measure: said so, no ratio of 1e12
        ([130.0, 50.0, 50.0], [0.0, 100.0, 100.0], "it holds revenue but no accounts"),
        # just outside the band (1.0626 against 1.0619): never printed as the band's edge
        ([103.5, 96.5, 100.0], [97.4, 102.6, 100.0], "is 1.063x its targets' and"),
    ],
)
def test_the_pulling_apart_reason_states_the_ratios_as_they_are(revenue, accounts, says):
    from territory.designer.shortfall import _conflict

    tolerances = {"revenue": 0.03, "accounts": 0.03}
    text = _conflict(_ThreeBlocks(), np.array([0, 1, 2]), _quality(revenue, accounts), 0,
                     "revenue", tolerances)  # fmt: skip
    assert says in text, text
    assert "e+" not in text and "1300" not in text
