"""Fault injection: a faulty plugin can never corrupt a run or take over the command line.

One test (or a few) per case of issue 16 "What was seen" 1-12, on small literal data.
"""

from __future__ import annotations

import json
import time
import warnings
from importlib import metadata

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

import territory
from territory.cli import TerritoryGroup, cli
from territory.errors import PluginError, ValidationError
from territory.plugins import get_plugins

from .conftest import with_plugin


def plugins_with(*objects):
    plugins = get_plugins(load_entrypoints=False)
    for i, obj in enumerate(objects):
        plugins.register(obj, name=getattr(obj, "NAME", f"test-plugin-{i}"))
    return plugins


def axis_plugin(name, compute, **options):
    class AxisPlugin:
        NAME = f"{name}-plugin"

        @territory.hookimpl
        def register_segment_axes(self, register):
            register(territory.SegmentAxis(name, compute, **options))

    return AxisPlugin()


def run(accounts, territories, plugins=None, **kw):
    return territory.make_plan(accounts, territories, **kw).run(plugins)


# ---------------------------------------------------------------- 1: read-only tables


def vandal(ctx):
    """An axis that changes every table it is given, in place."""
    ctx.assignments["territory_id"] = "C1"
    ctx.assignments.loc[:, "method"] = "inside"
    ctx.accounts["revenue"] = 1e9
    ctx.accounts.drop(columns=["segment"], inplace=True)
    ctx.territories["territory_id"] = "C1"
    return pd.Series("x", index=ctx.accounts.index)


def test_an_axis_changing_its_tables_changes_neither_the_run_nor_later_axes(
    accounts_frame, two_squares
):
    axes = [{"axis": "column", "column": "segment", "name": "seg"},
            {"axis": "value_tier", "a": 0.5}]  # fmt: skip
    clean = run(accounts_frame, two_squares, axes=axes)
    dirty = run(accounts_frame, two_squares, plugins_with(axis_plugin("vandal", vandal)),
                axes=[{"axis": "vandal"}, *axes])  # fmt: skip
    cols = ["account_id", "territory_id", "method", "revenue", "seg", "value_tier"]
    pd.testing.assert_frame_equal(clean.assignments[cols], dirty.assignments[cols])
    pd.testing.assert_frame_equal(clean.kpis, dirty.kpis)
    assert dirty.summary["unassigned"] == clean.summary["unassigned"] == 2
    assert set(dirty.kpis["territory_id"]) == {"A", "B"}


def test_an_adjustment_changing_its_tables_changes_nothing_for_the_next(
    accounts_frame, two_squares
):
    class Adjusters:
        NAME = "adjusters"

        @territory.hookimpl
        def register_adjustments(self, register):
            def vandal(ctx):
                ctx.territories["target"] = 0.0
                ctx.accounts["territory_id"] = "A"
                return pd.DataFrame({"territory_id": ["A"], "reason": ["test"]})

            def probe(ctx):  # reports what it sees
                in_a = ctx.accounts["territory_id"].eq("A").sum()
                seen = f"{ctx.territories['target'].sum():g} {in_a}"
                return pd.DataFrame({"territory_id": ["A"], "reason": [seen]})

            register(territory.Adjustment("vandal", vandal))
            register(territory.Adjustment("probe", probe))

    plugins = plugins_with(Adjusters())
    clean = run(accounts_frame, two_squares, plugins, target_from="revenue",
                adjustments=[{"adjustment": "probe"}])  # fmt: skip
    dirty = run(accounts_frame, two_squares, plugins, target_from="revenue",
                adjustments=[{"adjustment": "vandal"}, {"adjustment": "probe"}])  # fmt: skip
    seen = dirty.adjustments.query("adjustment == 'probe' and territory_id == 'A'")["reason"]
    assert seen.tolist() == clean.adjustments.query("territory_id == 'A'")["reason"].tolist()
    assert seen.tolist() == ["100 2"]  # targets 30 + 70 (revenue of A and B), 2 accounts in A
    np.testing.assert_allclose(dirty.kpis["target"], clean.kpis["target"])
    pd.testing.assert_frame_equal(clean.assignments, dirty.assignments)


def test_a_map_layer_changing_the_result_changes_no_output(accounts_frame, two_squares):
    class VandalLayer:
        NAME = "vandal-layer"

        @territory.hookimpl
        def register_map_layers(self, register):
            def build(result, fmap):
                result.kpis["revenue"] = 0.0
                result.assignments["territory_id"] = "A"
                result.summary["assigned"] = -1

            register(territory.MapLayer("vandal", build))

    res = run(accounts_frame, two_squares, plugins_with(VandalLayer()))
    before = (res.kpis.copy(), res.assignments.copy(), dict(res.summary))
    res.to_map()
    pd.testing.assert_frame_equal(res.kpis, before[0])
    pd.testing.assert_frame_equal(res.assignments, before[1])
    assert res.summary["assigned"] == before[2]["assigned"] == 4


# ---------------------------------------------------------------- 3: command names


class Clashing:
    NAME = "clashing-commands"

    @territory.hookimpl
    def register_commands(self, cli):
        @cli.command("assign")
        def assign():
            """Not the real assign."""
            print("hijacked")

        @cli.command("hello-plugin")
        def hello():
            """Say hello."""
            print("hello")


class AlsoHello:
    NAME = "also-hello"

    @territory.hookimpl
    def register_commands(self, cli):
        @cli.command("hello-plugin")
        def hello():
            print("second hello")


def fresh_group():
    return TerritoryGroup(name="territory", commands=dict(cli.commands))


def test_a_plugin_command_cannot_replace_a_builtin_or_another_plugins(monkeypatch):
    with_plugin(monkeypatch, Clashing(), Clashing.NAME)
    original = territory.plugins.get_plugins

    def both(*args, **kwargs):
        plugins = original(*args, **kwargs)
        plugins.register(AlsoHello(), name=AlsoHello.NAME)
        return plugins

    monkeypatch.setattr(territory.plugins, "get_plugins", both)
    group = fresh_group()
    out = CliRunner().invoke(group, ["--help"])
    assert out.exit_code == 0 and "hello-plugin" in out.output
    assigned = CliRunner().invoke(group, ["assign", "--help"])
    assert assigned.exit_code == 0 and "Assign every account" in assigned.output
    assert "hijacked" not in assigned.output
    assert ("Plugin 'clashing-commands' adds a command 'assign', but territory already has a "
            "command of that name") in out.output  # fmt: skip
    assert ("Plugin 'also-hello' adds a command 'hello-plugin', but plugin 'clashing-commands' "
            "already has") in out.output  # fmt: skip
    hello = CliRunner().invoke(group, ["hello-plugin"])
    assert hello.exit_code == 0 and hello.output.splitlines()[-1] == "hello"
    listing = CliRunner().invoke(group, ["plugins", "--json"])
    rows = {r["name"]: r for r in json.loads(listing.output[listing.output.index("[") :])}
    assert rows["clashing-commands"]["commands"] == ["hello-plugin"]
    assert any("'assign'" in e for e in rows["clashing-commands"]["errors"])
    item = next(i for i in rows["clashing-commands"]["items"] if i["kind"] == "command")
    assert item == {"kind": "command", "name": "hello-plugin", "description": "Say hello."}


# ---------------------------------------------------------------- 4 and 5: KPI plugins


def kpi_plugin(compute=None, from_sums=None, raise_in_register=False):
    class KpiPlugin:
        NAME = "kpi-plugin"

        @territory.hookimpl
        def register_kpis(self, register):
            if raise_in_register:
                raise RuntimeError("cannot register")
            register(territory.KpiColumn("extra", compute, from_sums=from_sums))

    return KpiPlugin()


@pytest.mark.parametrize(
    ("compute", "message"),
    [
        (lambda rows, keys: rows.groupby(keys).size().reset_index(drop=True),
         "returned values for 2 key(s) the KPI table does not have (first: 0, 1)"),
        (lambda rows, keys: rows.groupby(keys).size().set_axis(["x", "y"]),
         "the KPI table does not have (first: x, y)"),
        (lambda rows, keys: rows.groupby(keys).size().astype(str), "a KPI must be numeric"),
        (lambda rows, keys: rows.groupby(keys).size() / 0.0, "infinite values"),
        (lambda rows, keys: pd.Series([1.0, 2.0], index=pd.Index(["A", "A"], name=keys[0])),
         "returned some keys ['territory_id'] more than once"),
    ],
)  # fmt: skip
def test_a_kpi_with_a_wrong_index_or_values_is_an_error_not_an_empty_column(
    accounts_frame, two_squares, compute, message
):
    with pytest.raises(PluginError) as err:
        run(accounts_frame, two_squares, plugins_with(kpi_plugin(compute)))
    text = str(err.value)
    assert "'kpi-plugin' KPI 'extra' (hook register_kpis)" in text and message in text


def test_a_kpi_may_leave_out_territories_but_not_lose_its_index(accounts_frame, two_squares):
    only_a = accounts_frame[accounts_frame["account_id"] == "in-a"]
    res = run(only_a, two_squares,
              plugins_with(kpi_plugin(lambda rows, keys: rows.groupby(keys).size())))  # fmt: skip
    assert res.kpis.set_index("territory_id")["extra"].to_dict() == pytest.approx(
        {"A": 1.0, "B": np.nan}, nan_ok=True
    )
    lost = kpi_plugin(lambda rows, keys: rows.groupby(keys).size().reset_index(drop=True))
    with pytest.raises(PluginError, match="KPI table does not have"):
        run(only_a, two_squares, plugins_with(lost))


@pytest.mark.parametrize("in_register", [False, True])
def test_a_raising_kpi_plugin_does_not_break_assign_or_validate(
    monkeypatch, tmp_path, accounts_csv, squares_geojson, in_register
):
    def boom(rows, keys):
        raise RuntimeError("kpi exploded")

    with_plugin(monkeypatch, kpi_plugin(boom, raise_in_register=in_register), "kpi-plugin")
    out = tmp_path / "assigned.csv"
    assigned = CliRunner().invoke(cli, ["assign", str(accounts_csv), str(squares_geojson),
                                        "-o", str(out)])  # fmt: skip
    assert assigned.exit_code == 0, assigned.output
    assert len(pd.read_csv(out)) == 6
    checked = CliRunner().invoke(cli, ["validate", str(accounts_csv), str(squares_geojson)])
    assert checked.exit_code == 0 and "OK" in checked.output
    kpis = CliRunner().invoke(cli, ["kpis", str(accounts_csv), str(squares_geojson)])
    assert kpis.exit_code == 1 and "kpi-plugin" in kpis.output  # the command that uses it stops


# ---------------------------------------------------------------- 6: the listing never fails


class RaisingAxes:
    NAME = "raising-axes"

    @territory.hookimpl
    def register_segment_axes(self, register):
        register(territory.SegmentAxis("fine_axis", lambda ctx: None, description="Fine."))
        raise RuntimeError("half way")


class ClashingAxis:
    NAME = "clashing-axis"

    @territory.hookimpl
    def register_segment_axes(self, register):
        register(territory.SegmentAxis("value_tier", lambda ctx: None))


@pytest.mark.parametrize("args", [["plugins"], ["plugins", "--json"], ["plugins", "--all"]])
def test_plugins_lists_everything_with_the_errors_beside_it(monkeypatch, args):
    with_plugin(monkeypatch, RaisingAxes(), RaisingAxes.NAME)
    original = territory.plugins.get_plugins

    def more(*a, **kw):
        plugins = original(*a, **kw)
        plugins.register(ClashingAxis(), name=ClashingAxis.NAME)
        return plugins

    monkeypatch.setattr(territory.plugins, "get_plugins", more)
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    for expected in ("raising-axes", "fine_axis", "half way", "clashing-axis", "value_tier"):
        assert expected in text
    if "--json" in args:
        rows = {r["name"]: r for r in json.loads(out.output)}
        assert rows["raising-axes"]["segment_axes"] == ["fine_axis"]
        assert rows["raising-axes"]["errors"] == [
            "Plugin 'raising-axes' failed in hook register_segment_axes: RuntimeError: half way"
        ]
        assert (
            "'territory.default_plugins.axes' and 'clashing-axis' both register"
            in (rows["clashing-axis"]["errors"][0])
        )
    checked = CliRunner().invoke(cli, [*args, "--check"])
    assert checked.exit_code == 1 and "half way" in " ".join(checked.output.split())


# ---------------------------------------------------------------- 7: hints for missing plugins


class FakeDist:
    metadata = {"name": "territory-fancy-axes"}
    version = "1.2.3"


class FakeEntryPoint:
    def __init__(self, name, plugin=None, error=None):
        self.name, self.plugin, self.error, self.dist = name, plugin, error, FakeDist()

    def load(self):
        if self.error:
            raise self.error
        return self.plugin


def fake_entry_points(monkeypatch, *eps):
    real = metadata.entry_points

    def entry_points(group=None):
        return list(eps) if group == "territory" else real(group=group)

    monkeypatch.setattr(metadata, "entry_points", entry_points)


def test_an_unknown_axis_names_the_plugin_that_failed_to_load(monkeypatch, accounts_frame,
                                                              two_squares):  # fmt: skip
    fake_entry_points(monkeypatch, FakeEntryPoint("fancy", error=ImportError("no module fancy")))
    with pytest.raises(ValidationError) as err:
        run(accounts_frame, two_squares, axes=[{"axis": "fancy_axis"}])
    text = str(err.value)
    assert "Unknown segment axis 'fancy_axis'" in text
    assert "'fancy' failed to load (ImportError: no module fancy)" in text


def test_territory_load_plugins_hint_and_distribution_names(monkeypatch, accounts_frame,
                                                           two_squares):  # fmt: skip
    plugin = axis_plugin("fancy_axis", lambda ctx: pd.Series("f", index=ctx.accounts.index))
    fake_entry_points(monkeypatch, FakeEntryPoint("fancy", plugin))
    monkeypatch.setenv("TERRITORY_LOAD_PLUGINS", "something_else")
    with pytest.raises(ValidationError) as err:
        run(accounts_frame, two_squares, axes=[{"axis": "fancy_axis"}])
    text = str(err.value)
    assert "'fancy' (distribution territory-fancy-axes) is not loaded because " in text
    assert "TERRITORY_LOAD_PLUGINS='something_else'" in text
    monkeypatch.setenv("TERRITORY_LOAD_PLUGINS", "territory-fancy-axes")  # the pip name
    res = run(accounts_frame, two_squares, axes=[{"axis": "fancy_axis"}])
    assert set(res.labels["fancy_axis"]) == {"f"}


# ---------------------------------------------------------------- 8: misspelt hooks


class Misspelt:
    @territory.hookimpl
    def register_segment_axis(self, register):  # the hook is register_segment_axes
        register(territory.SegmentAxis("never", lambda ctx: None))


def test_a_misspelt_hook_is_rejected_naming_the_plugin(monkeypatch):
    with pytest.raises(PluginError) as err:
        get_plugins(load_entrypoints=False).register(Misspelt(), name="misspelt")
    text = str(err.value)
    assert (
        "Plugin 'misspelt' implements 'register_segment_axis', which is not a territory hook"
        in text
    )
    assert "Did you mean 'register_segment_axes'?" in text
    fake_entry_points(monkeypatch, FakeEntryPoint("misspelt", Misspelt()))
    plugins = get_plugins()
    assert plugins.manager.get_plugin("misspelt") is None
    assert "Did you mean 'register_segment_axes'?" in plugins.load_errors["misspelt"]
    listing = CliRunner().invoke(cli, ["plugins", "--json", "--check"])
    assert listing.exit_code == 1
    row = next(r for r in json.loads(listing.output) if r["name"] == "misspelt")
    assert "implements 'register_segment_axis'" in row["error"]


# ---------------------------------------------------------------- 9: plugin command errors


class RaisingCommand:
    NAME = "raising-command"

    @territory.hookimpl
    def register_commands(self, cli):
        @cli.command("fail-plugin")
        def fail():
            raise territory.ValidationError("accounts.csv has no 'region' column; add it.")

        from territory.cli_common import command_errors

        @cli.command("fail-decorated")
        @command_errors
        def fail_decorated():
            raise territory.InputError("orders.csv not found.")


@pytest.mark.parametrize(("command", "message"), [
    ("fail-plugin", "Error: accounts.csv has no 'region' column; add it."),
    ("fail-decorated", "Error: orders.csv not found."),
])  # fmt: skip
def test_plugin_commands_get_the_builtin_error_handling(monkeypatch, command, message):
    with_plugin(monkeypatch, RaisingCommand(), RaisingCommand.NAME)
    out = CliRunner().invoke(fresh_group(), [command])
    assert out.exit_code == 1 and isinstance(out.exception, SystemExit)
    assert message in out.output and "Traceback" not in out.output


# ---------------------------------------------------------------- 10: parameters at load


def test_a_bogus_plan_parameter_fails_at_load_before_any_data(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('[accounts]\npath = "missing.csv"\n[territories]\npath = "missing.gpkg"\n'
                    '[[segments]]\naxis = "value_tier"\n'
                    '[[segments]]\naxis = "size_tier"\nbogus = 1\n')  # fmt: skip
    with pytest.raises(ValidationError) as err:
        territory.Plan.from_file(plan)
    text = str(err.value)
    assert "Unknown parameter(s) bogus for segment axis 'size_tier'" in text
    assert f"[[segments]] number 2 of {plan}" in text
    assert "Known: column, labels, quantiles, thresholds" in text
    plan.write_text(plan.read_text().replace("size_tier", "size_tear"))
    with pytest.raises(ValidationError, match=r"Unknown segment axis 'size_tear' \(asked for in "
                                              r"\[\[segments\]\] number 2"):  # fmt: skip
        territory.Plan.from_file(plan)


def test_plugins_params_lists_descriptions_and_parameters():
    out = CliRunner().invoke(cli, ["plugins", "--all", "--params", "--json"])
    assert out.exit_code == 0
    rows = {r["name"]: r for r in json.loads(out.output)}
    items = {i["name"]: i for i in rows["territory.default_plugins.axes"]["items"]}
    size = items["size_tier"]
    assert size["kind"] == "segment axis" and size["description"]
    params = {p["name"]: p for p in size["params"]}
    assert params["column"]["kind"] == "str" and "help" in params["column"]
    assert set(params) == {"column", "labels", "quantiles", "thresholds"}
    table = CliRunner().invoke(cli, ["plugins", "--all", "--params"])
    assert "quantiles (list[float]" in " ".join(table.output.split())


# ---------------------------------------------------------------- 11: timing, bounds, warnings


def slow_axis(ctx):
    time.sleep(1.3)
    return pd.Series("slow", index=ctx.accounts.index)


def test_plugin_time_is_in_the_summary_and_a_slow_axis_shows_progress(
    accounts_frame, two_squares, capsys
):
    plugins = plugins_with(axis_plugin("slow", slow_axis))
    res = territory.make_plan(accounts_frame, two_squares, axes=[{"axis": "slow"}]).run(
        plugins, progress=True
    )
    rows = res.summary["plugin_seconds"]
    slow = next(r for r in rows if r["name"] == "slow")
    assert slow["plugin"] == "slow-plugin" and slow["kind"] == "segment axis"
    assert 1.3 <= slow["seconds"] < 5
    assert rows[0] == slow  # slowest first
    assert "Running segment axis 'slow' (plugin 'slow-plugin'): 1." in capsys.readouterr().err


def test_plugin_time_in_summary_json_and_cli(tmp_path, monkeypatch, accounts_csv,
                                             squares_geojson):  # fmt: skip
    with_plugin(monkeypatch, axis_plugin("quick", lambda c: pd.Series("q", index=c.accounts.index)),
                "quick-plugin")  # fmt: skip
    plan = tmp_path / "plan.toml"
    plan.write_text('[accounts]\npath = "accounts.csv"\n[territories]\npath = "territories.geojson"'
                    '\n[[segments]]\naxis = "quick"\n[outputs]\ndir = "o"\nmap = ""\n')  # fmt: skip
    out = CliRunner().invoke(cli, ["run", str(plan)])
    assert out.exit_code == 0, out.output
    assert "Plugin time: " in out.output and "quick-plugin" in out.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert {"plugin": "quick-plugin", "kind": "segment axis", "name": "quick"} in [
        {k: r[k] for k in ("plugin", "kind", "name")} for r in summary["plugin_seconds"]
    ]


def scaler(multiplier):
    class Scaler:
        NAME = "scaler"

        @territory.hookimpl
        def register_adjustments(self, register):
            register(territory.Adjustment("scale", lambda ctx: pd.DataFrame(
                {"territory_id": ["A"], "target_multiplier": [multiplier], "reason": ["r"]}
            )))  # fmt: skip

    return plugins_with(Scaler())


@pytest.mark.parametrize("multiplier", [0.0, -1.0, 1e300, np.inf, np.nan, "x"])
def test_multipliers_outside_the_documented_bound_are_rejected(accounts_frame, two_squares,
                                                               multiplier):  # fmt: skip
    res = run(
        accounts_frame,
        two_squares,
        scaler(1000),
        target_from="revenue",
        adjustments=[{"adjustment": "scale"}],
    )  # the bound itself is accepted
    kpis = res.kpis.set_index("territory_id")
    assert kpis.loc["A", "target"] == pytest.approx(
        1000 * kpis.loc["A", "target_before_adjustments"]
    )
    with pytest.raises(PluginError) as err:
        run(accounts_frame, two_squares, scaler(multiplier), target_from="revenue",
            adjustments=[{"adjustment": "scale"}])  # fmt: skip
    text = str(err.value)
    assert "'scaler' adjustment 'scale'" in text and "outside 0 < m <= 1000" in text


def test_plugin_warnings_become_notes_once_each(accounts_frame, two_squares):
    class NoisyWarning(UserWarning):
        pass

    def noisy(ctx):
        for _ in range(3):
            warnings.warn("class limit reached", NoisyWarning, stacklevel=1)
        return pd.Series("n", index=ctx.accounts.index)

    with warnings.catch_warnings(record=True) as raw:
        warnings.simplefilter("always")
        res = run(accounts_frame, two_squares, plugins_with(axis_plugin("noisy", noisy)),
                  axes=[{"axis": "noisy"}])  # fmt: skip
    assert not [w for w in raw if issubclass(w.category, NoisyWarning)]
    notes = [n for n in res.notes if "class limit" in n]
    assert notes == [
        "Plugin 'noisy-plugin' segment axis 'noisy': NoisyWarning: class limit reached"
    ]


# ---------------------------------------------------------------- 2: whole_table on Dask


def quantile_axis(ctx):
    return pd.qcut(ctx.accounts["revenue"], 4, labels=["Q1", "Q2", "Q3", "Q4"]).astype(str)


@pytest.mark.slow
def test_a_whole_table_axis_gives_the_same_labels_on_dask_as_locally():
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    rng = np.random.default_rng(3)
    n = 4000
    accounts = pd.DataFrame({"account_id": [f"a{i}" for i in range(n)],
                             "lon": rng.uniform(0, 2, n), "lat": rng.uniform(0, 1, n),
                             "revenue": rng.gamma(2.0, 1000.0, n)})  # fmt: skip
    layer = gpd.GeoDataFrame({"territory_id": ["A", "B"]},
                             geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326)  # fmt: skip
    plugins = plugins_with(axis_plugin("quartile", quantile_axis, whole_table=True))
    plan = territory.make_plan(accounts, layer, axes=[{"axis": "quartile"}])
    local = plan.run(plugins)
    expected = pd.qcut(accounts["revenue"], 4, labels=["Q1", "Q2", "Q3", "Q4"]).astype(str)
    assert (local.labels["quartile"].to_numpy() == expected.to_numpy()).all()
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            dask = plan.run(plugins, engine="dask", client=client, partition_rows=500)
            labels = dask.assignments.compute()["quartile"].to_numpy()
    assert (labels == expected.to_numpy()).all()
    pd.testing.assert_frame_equal(local.segments["quartile"], dask.segments["quartile"])


def test_docs_cover_what_a_plugin_author_needs():
    from pathlib import Path

    docs = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    for heading in ("## Execution order", "## What a context offers", "## What a result offers",
                    "## Whole-table axes", "## KPIs from sums", "## Running on Dask",
                    "## Shipping data files", "## Command errors"):  # fmt: skip
        assert heading in docs, heading
    for word in ("whole_table=True", "from_sums", "importlib.resources", "command_errors",
                 "MAX_MULTIPLIER", "TERRITORY_LOAD_PLUGINS", "--params", "--check"):  # fmt: skip
        assert word in docs, word
