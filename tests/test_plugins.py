"""Plugin framework: hooks, built-in axes and adjustments on the demo data, faults."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import territory
from territory.cli import cli, demo_plan
from territory.errors import PluginError, ValidationError
from territory.plugins import get_plugins

from .conftest import DATA, with_plugin


@pytest.fixture(scope="module")
def demo_result():
    return demo_plan().run()


def run_demo_with(axes=(), adjustments=(), plugins=None):
    from dataclasses import replace

    from territory.adjust import AdjustmentSpec
    from territory.segments import AxisSpec

    plan = replace(
        demo_plan(),
        axes=tuple(AxisSpec(a.pop("axis"), a.pop("name", None), a) for a in axes),
        adjustments=tuple(
            AdjustmentSpec(a.pop("adjustment"), a.pop("name", None), a) for a in adjustments
        ),
    )
    return plan.run(plugins)


# ---------------------------------------------------------------- built-in axes on demo data


def test_demo_labels_every_account_on_every_axis(demo_result):
    labels = demo_result.labels
    assert list(labels.columns) == ["segment", "value_tier", "product_line", "region"]
    assert len(labels) == 793 and labels.notna().all().all()
    assert set(labels["segment"]) == {"Consumer", "Corporate", "Home Office"}
    assert set(labels["region"]) == {"Central", "East", "South", "West"}
    # labels travel with the assignments
    assert (demo_result.assignments["value_tier"] == labels["value_tier"]).all()


def test_value_tier_is_pareto(demo_result):
    frame = demo_result.assignments
    share_a = frame.loc[frame.value_tier == "A", "revenue"].sum() / frame["revenue"].sum()
    # A accounts are those starting before 80 % of the total: they make at least 80 %.
    assert 0.8 <= share_a < 0.85
    a_min = frame.loc[frame.value_tier == "A", "revenue"].min()
    assert a_min >= frame.loc[frame.value_tier == "B", "revenue"].max()


def test_product_line_matches_order_lines(demo_result):
    orders = pd.read_parquet(DATA / "superstore_orders.parquet")
    by = orders.groupby(["Customer ID", "Category"])["Sales"].sum().unstack(fill_value=0)
    expected = by.idxmax(axis=1)
    got = demo_result.assignments.set_index("account_id")["product_line"]
    pd.testing.assert_series_equal(
        got.sort_index(), expected.reindex(got.index).sort_index(), check_names=False
    )


def test_product_line_mix_mode(tmp_path):
    result = run_demo_with(
        axes=[
            {
                "axis": "product_line",
                "name": "mix",
                "mode": "mix",
                "min_share": 0.3,
                "orders": str(DATA / "superstore_orders.parquet"),
                "customer": "Customer ID",
                "category": "Category",
                "amount": "Sales",
            }
        ]  # fmt: skip
    )
    mix = result.labels["mix"]
    assert mix.str.contains(" + ", regex=False).any()
    assert not mix.str.contains("(no orders)", regex=False).any()


def test_size_tier_thresholds_and_quantiles():
    accounts = pd.DataFrame(
        {
            "account_id": list("abcdef"),
            "lat": [0.5] * 6,
            "lon": [0.5] * 6,
            "employees": [5, 60, 300, 2000, None, 50],
        }  # fmt: skip
    )
    import geopandas as gpd
    from shapely.geometry import box

    terr = gpd.GeoDataFrame({"territory_id": ["T"]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    res = territory.run(
        accounts, terr,
        axes=[{"axis": "size_tier", "thresholds": [50, 250, 1000]},
              {"axis": "size_tier", "name": "half", "quantiles": [0.5], "labels": ["lo", "hi"]}],
    )  # fmt: skip
    assert res.labels["size_tier"].tolist() == [
        "Small", "Medium", "Large", "Enterprise", "(blank)", "Medium"
    ]  # fmt: skip
    assert res.labels["half"].tolist() == ["lo", "hi", "hi", "hi", "(blank)", "lo"]


def test_industry_rollups_and_channel():
    import geopandas as gpd
    from shapely.geometry import box

    accounts = pd.DataFrame(
        {
            "account_id": list("abcd"),
            "lat": [0.5] * 4,
            "lon": [0.5] * 4,
            "naics": ["541511", "311", "", "99"],
            "sic": ["7372", "2011", "0100", "x"],
            "channel": ["Direct", "Partner", " ", "Direct"],
        }  # fmt: skip
    )
    terr = gpd.GeoDataFrame({"territory_id": ["T"]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    res = territory.run(
        accounts, terr,
        axes=[{"axis": "industry", "column": "naics", "rollup": "naics", "name": "naics_sector"},
              {"axis": "industry", "column": "sic", "rollup": "sic", "name": "sic_division"},
              {"axis": "channel"}],
    )  # fmt: skip
    assert res.labels["naics_sector"].tolist() == [
        "Professional, Scientific, and Technical Services", "Manufacturing", "(blank)",
        "(unknown NAICS code)",
    ]  # fmt: skip
    assert res.labels["sic_division"].tolist()[:3] == [
        "Services", "Manufacturing", "Agriculture, Forestry, and Fishing"
    ]  # fmt: skip
    assert res.labels["channel"].tolist() == ["Direct", "Partner", "(blank)", "Direct"]


def test_geography_axis_levels(demo_result):
    res = run_demo_with(axes=[{"axis": "geography", "name": "t", "level": "territory"},
                              {"axis": "geography", "name": "b", "level": "block"}])  # fmt: skip
    assert (res.labels["t"] == res.assignments["territory_id"].astype(str)).all()
    assert res.labels["b"].str.fullmatch(r"\d{5}").all()


def test_segment_kpis_share_the_common_set(demo_result):
    seg = demo_result.segments["value_tier"]
    for col in ("accounts", "revenue", "pipeline", "share", "deviation", "density",
                "revenue_per_account"):  # fmt: skip
        assert col in seg.columns
    # every tier's cells add up to that tier's total
    totals = demo_result.assignments.groupby("value_tier")["revenue"].sum()
    assert seg.groupby("value_tier")["revenue"].sum().to_dict() == pytest.approx(totals.to_dict())


# ---------------------------------------------------------------- built-in adjustments


def test_regional_economics_keeps_the_total_and_follows_income(demo_result):
    kpis = demo_result.kpis.set_index("territory_id")
    assert kpis["target"].sum() == pytest.approx(kpis["target_before_adjustments"].sum())
    adj = demo_result.adjustments
    econ = adj[adj.adjustment == "regional_economics"].set_index("territory_id")
    # richer regions get a higher multiplier (strength 0.5 keeps the order)
    order = econ.sort_values("index_value").index
    assert econ.loc[order, "target_multiplier"].is_monotonic_increasing
    assert econ["reason"].str.contains("median household income").all()
    ratio = kpis["target"] / kpis["target_before_adjustments"]
    np.testing.assert_allclose(ratio.loc[econ.index], econ["target_multiplier"])


def test_localisation_gives_language_currency_timezone_and_message(demo_result):
    adj = demo_result.adjustments
    loc = adj[adj.adjustment == "localisation"].set_index("territory_id")
    assert loc.loc["C1", "timezone"] == "America/Chicago"
    assert loc.loc["W3", "timezone"] == "America/Los_Angeles"
    assert (loc["currency"] == "USD").all() and (loc["language"] == "en-US").all()
    assert loc.loc["C1", "message"] == "Local offers for TX: ship free in America/Chicago"
    assert (loc["target_multiplier"] == 1.0).all()


def test_manual_multipliers_and_their_bad_input(tmp_path):
    table = tmp_path / "mult.csv"
    table.write_text("territory_id,multiplier,reason\nC1,1.2,new rep\nW3,0.9,\n")
    res = run_demo_with(adjustments=[{"adjustment": "manual_multipliers", "table": str(table)}])
    kpis = res.kpis.set_index("territory_id")
    assert kpis.loc["C1", "target"] == pytest.approx(
        1.2 * kpis.loc["C1", "target_before_adjustments"]
    )
    assert res.adjustments.set_index("territory_id").loc["C1", "reason"] == "new rep"
    table.write_text("territory_id,multiplier\nZZ,1.2\n")
    with pytest.raises(ValidationError, match="do not exist: ZZ"):
        run_demo_with(adjustments=[{"adjustment": "manual_multipliers", "table": str(table)}])


# ---------------------------------------------------------------- parameters and plan files


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"axis": "size_tier", "quantile": [0.5]},
            "Unknown parameter(s) quantile for segment axis 'size_tier'",
        ),
        (
            {"axis": "value_tier", "a": "high"},
            "Parameter 'a' of segment axis 'value_tier' must be a number",
        ),
        ({"axis": "geography", "level": "planet"}, "must be one of block, territory, region"),
        ({"axis": "product_line"}, "Parameter 'orders' of segment axis 'product_line' is required"),
        ({"axis": "nonesuch"}, "Unknown segment axis 'nonesuch'. Known axes:"),
    ],
)
def test_bad_axis_parameters_name_the_axis(spec, message):
    with pytest.raises(ValidationError) as err:
        run_demo_with(axes=[dict(spec)])
    assert message in str(err.value)


def test_plan_file_segments_and_adjustments(tmp_path, accounts_csv, squares_geojson):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[accounts]\npath = "accounts.csv"\n[territories]\npath = "territories.geojson"\n'
        '[[segments]]\naxis = "value_tier"\nname = "abc"\n'
        '[[segments]]\naxis = "column"\ncolumn = "segment"\n'
        '[[adjustments]]\nadjustment = "manual_multipliers"\ntable = "m.csv"\n'
        '[outputs]\ndir = "out"\nmap = ""\n'
    )
    (tmp_path / "m.csv").write_text("territory_id,multiplier\nA,2\n")
    result = CliRunner().invoke(cli, ["run", str(plan)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert {"segment-kpis-abc.csv", "segment-kpis-column.csv", "adjustments.csv"} <= {
        p.name for p in out.iterdir()
    }
    assignments = pd.read_csv(out / "assignments.csv")
    assert {"abc", "column"} <= set(assignments.columns)


def test_plan_file_entry_without_axis_name(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('[accounts]\npath = "a.csv"\n[territories]\npath = "t.gpkg"\n'
                    '[[segments]]\ncolumn = "x"\n')  # fmt: skip
    result = CliRunner().invoke(cli, ["run", str(plan)])
    assert result.exit_code == 1
    assert "[[segments]] number 1" in result.output and "axis" in result.output


# ---------------------------------------------------------------- third-party plugins


def big_or_small(ctx, cutoff):
    return (ctx.accounts["revenue"] >= cutoff).map({True: "big", False: "small"})


class TierPlugin:
    """A class-based plugin registered in-process: no installation needed."""

    @territory.hookimpl
    def register_segment_axes(self, register):
        register(territory.SegmentAxis(
            "big_spender",
            big_or_small,
            {"cutoff": territory.Param("float", 1000.0, "Revenue cut-off.")},
            "Big or small by revenue.",
        ))  # fmt: skip

    @territory.hookimpl
    def register_kpis(self, register):
        register(territory.KpiColumn(
            "max_revenue", lambda rows, keys: rows.groupby(keys, observed=True)["revenue"].max()
        ))  # fmt: skip


def test_class_based_plugin_axis_and_kpi(demo_result):
    plugins = get_plugins()
    plugins.register(TierPlugin(), name="tiers")
    res = run_demo_with(axes=[{"axis": "big_spender", "cutoff": 2000.0}], plugins=plugins)
    assert set(res.labels["big_spender"]) == {"big", "small"}
    assert (res.labels["big_spender"].eq("big") == res.assignments["revenue"].ge(2000)).all()
    expected = res.assignments.groupby("territory_id", observed=True)["revenue"].max()
    np.testing.assert_allclose(res.kpis.set_index("territory_id")["max_revenue"], expected)
    assert "max_revenue" in res.segments["big_spender"].columns


def test_class_based_plugin_shows_in_cli_output(
    tmp_path, monkeypatch, accounts_csv, squares_geojson
):
    with_plugin(monkeypatch, TierPlugin(), "tiers")
    listing = CliRunner().invoke(cli, ["plugins", "--json"])
    rows = json.loads(listing.output)
    tiers = next(r for r in rows if r["name"] == "tiers")
    assert tiers["segment_axes"] == ["big_spender"] and tiers["kpis"] == ["max_revenue"]
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[accounts]\npath = "accounts.csv"\n[territories]\npath = "territories.geojson"\n'
        '[[segments]]\naxis = "big_spender"\ncutoff = 25.0\n[outputs]\ndir = "o"\nmap = ""\n'
    )
    result = CliRunner().invoke(cli, ["run", str(plan)])
    assert result.exit_code == 0, result.output
    cells = pd.read_csv(tmp_path / "o" / "segment-kpis-big-spender.csv")
    assert set(cells["big_spender"]) == {"big", "small"}


# ---------------------------------------------------------------- faults


def faulty(compute):
    class Faulty:
        @territory.hookimpl
        def register_segment_axes(self, register):
            register(territory.SegmentAxis("faulty", compute))

    plugins = get_plugins()
    plugins.register(Faulty(), name="faulty-plugin")
    return plugins


@pytest.mark.parametrize(
    ("compute", "message"),
    [
        (lambda ctx: 1 / 0, "raised ZeroDivisionError"),
        (lambda ctx: pd.Series(["x"] * 3), "returned 3 labels for 793 accounts"),
        (
            lambda ctx: pd.Series(["x"] * len(ctx.accounts), index=ctx.accounts.index + 1),
            "index does not match",
        ),
        (
            lambda ctx: pd.Series(range(len(ctx.accounts)), index=ctx.accounts.index),
            "not non-empty strings",
        ),
        (lambda ctx: ["x"] * len(ctx.accounts), "expected a pandas Series"),
    ],
)
def test_faulty_axis_is_a_plugin_error_naming_plugin_and_hook(compute, message):
    with pytest.raises(PluginError) as err:
        run_demo_with(axes=[{"axis": "faulty"}], plugins=faulty(compute))
    text = str(err.value)
    assert "'faulty-plugin'" in text and "register_segment_axes" in text and message in text


def test_name_collision_names_both_plugins():
    class Clash:
        @territory.hookimpl
        def register_segment_axes(self, register):
            register(territory.SegmentAxis("value_tier", lambda ctx: None))

    plugins = get_plugins()
    plugins.register(Clash(), name="clashing")
    with pytest.raises(PluginError) as err:
        plugins.axes  # noqa: B018 - collected on first use
    text = str(err.value)
    assert "'territory.default_plugins.axes'" in text and "'clashing'" in text
    assert "value_tier" in text


def test_faulty_adjustment_and_kpi_are_plugin_errors():
    class Bad:
        @territory.hookimpl
        def register_adjustments(self, register):
            register(territory.Adjustment(
                "bad", lambda ctx: pd.DataFrame({"territory_id": ["nowhere"], "reason": ["x"]})
            ))  # fmt: skip

    plugins = get_plugins()
    plugins.register(Bad(), name="bad-adjuster")
    with pytest.raises(PluginError, match="'bad-adjuster' adjustment 'bad'.*unknown territories"):
        run_demo_with(adjustments=[{"adjustment": "bad"}], plugins=plugins)


def test_plugin_error_in_cli_exits_1_and_writes_nothing(tmp_path, monkeypatch, accounts_csv,
                                                        squares_geojson):  # fmt: skip
    broken = faulty(lambda ctx: 1 / 0)
    monkeypatch.setattr("territory.plugins.get_plugins", lambda *args, **kwargs: broken)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[accounts]\npath = "accounts.csv"\n[territories]\npath = "territories.geojson"\n'
        '[[segments]]\naxis = "faulty"\n[outputs]\ndir = "o"\n'
    )
    result = CliRunner().invoke(cli, ["run", str(plan)])
    assert result.exit_code == 1
    assert "faulty-plugin" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_plugin_that_fails_to_import_is_listed_not_fatal(monkeypatch):
    from importlib import metadata

    class BrokenEntryPoint:
        name = "broken"
        dist = None

        def load(self):
            raise ImportError("No module named 'territory_broken'")

    real = metadata.entry_points
    monkeypatch.setattr(
        metadata, "entry_points",
        lambda group=None: [BrokenEntryPoint()] if group == "territory" else real(group=group),
    )  # fmt: skip
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {"name": "broken", "builtin": False, "hooks": [],
            "error": "ImportError: No module named 'territory_broken'"} in rows  # fmt: skip
    # other commands still work
    assert CliRunner().invoke(cli, ["--help"]).exit_code == 0


def test_territory_load_plugins_restricts_loading(monkeypatch):
    from importlib import metadata

    loaded = []

    class EP:
        dist = None

        def __init__(self, name):
            self.name = name

        def load(self):
            loaded.append(self.name)
            return type(self.name, (), {})()

    monkeypatch.setattr(metadata, "entry_points", lambda group=None: [EP("one"), EP("two")])
    monkeypatch.setenv("TERRITORY_LOAD_PLUGINS", "two")
    get_plugins()
    assert loaded == ["two"]
    monkeypatch.setenv("TERRITORY_LOAD_PLUGINS", "")
    loaded.clear()
    get_plugins()
    assert loaded == []


def test_plugins_listing_builtins():
    result = CliRunner().invoke(cli, ["plugins", "--all"])
    assert result.exit_code == 0
    for name in ("value_tier", "product_line", "regional_economics", "revenue_per_account"):
        assert name in result.output


def test_order_line_columns_default_to_the_conventions(tmp_path, two_squares):
    from territory import accounts_from_orders
    from territory.errors import InputError

    lines = pd.DataFrame(
        {
            "account_id": ["a", "a", "b", "b", "b"],
            "date": ["2024-01-05", "2024-03-01", "2023-02-01", "2024-02-01", "2024-02-02"],
            "amount": [10.0, 30.0, 500.0, 5.0, 7.0],
            "postal_code": ["10001", "10001", "94105", "94105", "60601"],
            "product_line": ["Tools", "Paint", "Paint", "Tools", "Tools"],
        }
    )
    accounts = accounts_from_orders(lines).set_index("account_id")
    assert accounts["revenue"].to_dict() == {"a": 40.0, "b": 12.0}  # 12 months to 2024-03-01
    assert accounts["lifetime_revenue"].to_dict() == {"a": 40.0, "b": 512.0}
    assert accounts["postal_code"].to_dict() == {"a": "10001", "b": "94105"}
    with pytest.raises(InputError, match="Customer ID"):
        accounts_from_orders(lines.rename(columns={"account_id": "Customer ID"}))

    path = tmp_path / "orders.csv"
    lines.to_csv(path, index=False)
    frame = pd.DataFrame({"account_id": ["a", "b"], "lat": [0.5, 0.5], "lon": [0.5, 1.5]})
    result = territory.run(frame, two_squares, axes=[{"axis": "product_line", "orders": str(path)}])
    got = result.assignments.set_index("account_id")["product_line"].to_dict()
    assert got == {"a": "Paint", "b": "Paint"}  # a: 30 Paint vs 10 Tools; b: 500 vs 12
