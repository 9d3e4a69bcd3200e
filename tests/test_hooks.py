"""One test per hook (named test_hook_<hook>), and the meta-test that keeps it so."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import territory
from territory import hookspecs
from territory.cli import TerritoryGroup, cli, demo_plan
from territory.plugins import HOOKS, get_plugins

from .conftest import with_plugin
from .hook_trace import exercised

ROOT = Path(__file__).parents[1]


def spec_names() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "territory_spec")
    ]


@pytest.mark.slow  # runs the hook tests again, traced
def test_every_hook_is_documented_and_tested(tmp_path):
    """Every hook is documented, and a real test named test_hook_<hook> makes the core call
    it and use what it registered (traced while the hook tests run, so a comment or a test
    that never reaches the hook does not count)."""
    names = spec_names()
    assert sorted(names) == sorted(HOOKS)
    docs = (ROOT / "docs" / "plugins.md").read_text()
    for name in names:
        assert re.search(rf"^### {name}$", docs, re.M), f"docs/plugins.md lacks '### {name}'"
        assert inspect.getdoc(getattr(hookspecs, name)), f"hook spec {name} has no docstring"
    traced = exercised(["tests/test_hooks.py", "-k", "test_hook_register"], tmp_path / "t.json")
    assert unwired(traced, names) == []


def unwired(traced: dict[str, list[str]], names) -> list[str]:
    """Hooks no test_hook_<hook> test both registered through and used."""
    missing = []
    for name in names:
        calls = [set(v) for k, v in traced.items() if k.split("::")[-1].startswith(
            f"test_hook_{name}")]  # fmt: skip
        if not any({f"{name}:register", f"{name}:use"} <= c for c in calls):
            missing.append(name)
    return missing


@pytest.mark.slow
def test_the_meta_test_is_not_fooled_by_names_or_comments(tmp_path):
    """A test file with only a comment naming the hook test, and a test of that name that never
    reaches the hook, leave every hook unwired."""
    (tmp_path / "test_fake.py").write_text(
        "# def test_hook_register_kpis\n"
        "def test_hook_register_map_layers():\n"
        "    import territory\n"
        "    territory.get_plugins()  # builds a manager, calls no plugin hook\n"
    )
    traced = exercised([str(tmp_path / "test_fake.py")], tmp_path / "t.json", cwd=tmp_path)
    assert list(traced) == ["test_fake.py::test_hook_register_map_layers"]
    assert unwired(traced, spec_names()) == sorted(spec_names(), key=spec_names().index)


class Everything:
    """A plugin using every hook."""

    @territory.hookimpl
    def register_segment_axes(self, register):
        register(territory.SegmentAxis(
            "first_letter", lambda ctx: ctx.accounts["account_id"].astype(str).str[0]
        ))  # fmt: skip

    @territory.hookimpl
    def register_adjustments(self, register):
        def half_for_texas(ctx):
            return pd.DataFrame(
                {
                    "territory_id": ["C1"],
                    "target_multiplier": [0.5],
                    "reason": ["test halving"],
                    "language": ["es-US"],
                }  # fmt: skip
            )

        register(territory.Adjustment("half_texas", half_for_texas))

    @territory.hookimpl
    def register_kpis(self, register):
        register(territory.KpiColumn(
            "accounts_squared",
            lambda rows, keys: rows.groupby(keys, observed=True).size() ** 2,
        ))  # fmt: skip

    @territory.hookimpl
    def register_map_layers(self, register):
        import folium

        def build(result, fmap):
            folium.FeatureGroup(name="Hook test layer").add_to(fmap)

        register(territory.MapLayer("hook_test", build))

    @territory.hookimpl
    def register_commands(self, cli):
        @cli.command("hello-plugin")
        def hello():
            """Say hello from a plugin."""
            print("hello from a plugin")


@pytest.fixture(scope="module")
def result():
    from dataclasses import replace

    plugins = get_plugins()
    plugins.register(Everything(), name="everything")
    plan = replace(
        demo_plan(),
        axes=(territory.AxisSpec("first_letter"),),
        adjustments=(territory.AdjustmentSpec("half_texas"),),
    )
    return plan.run(plugins)


def test_hook_register_segment_axes(result):
    expected = result.assignments["account_id"].str[0]
    assert (result.labels["first_letter"] == expected).all()
    assert "first_letter" in result.segments


def test_hook_register_adjustments(result):
    kpis = result.kpis.set_index("territory_id")
    assert kpis.loc["C1", "target"] == pytest.approx(
        0.5 * kpis.loc["C1", "target_before_adjustments"]
    )
    rows = result.adjustments.set_index("territory_id")
    assert rows.loc["C1", "reason"] == "test halving" and rows.loc["C1", "language"] == "es-US"
    assert rows.loc["W1", "reason"] == "not changed"


def test_hook_register_kpis(result):
    kpis = result.kpis
    assert (kpis["accounts_squared"] == kpis["accounts"] ** 2).all()
    cells = result.segments["first_letter"]
    assert (cells["accounts_squared"] == cells["accounts"] ** 2).all()


def test_hook_register_map_layers(result):
    page = result.to_map().get_root().render()
    assert "Hook test layer" in page
    assert "Accounts by first_letter" in page  # the built-in segment layer uses the same hook


def test_hook_register_commands(monkeypatch):
    with_plugin(monkeypatch, Everything(), "everything")
    group = TerritoryGroup(name="territory", commands=dict(cli.commands))
    listed = CliRunner().invoke(group, ["--help"])
    assert "hello-plugin" in listed.output
    ran = CliRunner().invoke(group, ["hello-plugin"])
    assert ran.exit_code == 0 and "hello from a plugin" in ran.output


def test_broken_register_commands_is_a_warning_not_a_crash(monkeypatch):
    class Broken:
        @territory.hookimpl
        def register_commands(self, cli):
            raise RuntimeError("boom")

    with_plugin(monkeypatch, Broken(), "broken-cli")
    group = TerritoryGroup(name="territory", commands=dict(cli.commands))
    out = CliRunner().invoke(group, ["--help"])
    assert out.exit_code == 0 and "assign" in out.output


def test_hook_names_come_from_the_spec_markers():
    import types

    import pluggy

    from territory.plugins import hook_names

    specs = types.ModuleType("specs")

    @hookspecs.hookspec
    def register_widgets(register):
        """A new hook."""

    def helper():  # not a hook: no spec marker
        pass

    specs.register_widgets, specs.helper = register_widgets, helper
    specs.register_kpis = hookspecs.register_kpis
    assert hook_names(specs) == ("register_widgets", "register_kpis")
    manager = pluggy.PluginManager("territory")
    manager.add_hookspecs(hookspecs)
    assert sorted(HOOKS) == sorted(n for n in vars(manager.hook) if not n.startswith("_"))
