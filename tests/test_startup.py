"""The package and the command line start without the heavy libraries; names still resolve.

``territory --help`` and argument errors must answer fast, so importing ``territory`` or
``territory.cli`` loads neither pandas, geopandas, shapely, pyproj, scipy nor folium; each
public name is imported from its module on first use (timings: ``benchmarks/startup.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

HEAVY = ("pandas", "geopandas", "shapely", "pyproj", "scipy", "folium", "numpy")


def _modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_package_and_the_cli_loads_no_heavy_library():
    for code in ("import territory", "import territory.cli", "from territory import hookimpl"):
        loaded = _modules_after(code)
        assert [m for m in HEAVY if m in loaded] == [], code


def test_every_public_name_resolves_lazily_and_is_the_real_object():
    import territory
    from territory.assignment import AssignOptions
    from territory.plan import Plan

    assert territory.Plan is Plan and territory.AssignOptions is AssignOptions
    for name in territory.__all__:
        assert getattr(territory, name) is not None, name
    assert set(territory.__all__) <= set(dir(territory))
    try:
        territory.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


def test_deferred_cli_names_call_through():
    from territory import cli
    from territory.api import demo_plan

    assert callable(cli.demo_plan) and cli.Plan.from_file.__qualname__ == "Plan.from_file"
    assert cli.formatting.percent(0.25) == __import__("territory.formatting").formatting.percent(
        0.25
    )
    assert type(cli.demo_plan()) is type(demo_plan())


def test_version_answers_without_the_heavy_libraries():
    code = (
        "import sys\nfrom territory.cli import cli\n"
        "try:\n    cli(['--version'])\nexcept SystemExit:\n    pass"
    )
    loaded = _modules_after(code)
    assert [m for m in HEAVY if m in loaded] == []
    result = CliRunner().invoke(__import__("territory.cli").cli.cli, ["--version"])
    assert result.exit_code == 0 and "territory" in result.output


def _help(env: dict) -> tuple[str, list[str]]:
    """``territory --help`` in a fresh process: its text and the modules it loaded."""
    probe = (
        "import json, sys\nfrom territory.cli import main\nsys.argv = ['territory', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('\\n' + json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env=env)  # fmt: skip
    text, _, modules = out.stdout.rstrip("\n").rpartition("\n")
    return text, json.loads(modules)


def test_help_lists_plugin_commands_from_the_cache_without_importing_plugins(tmp_path):
    """The first ``--help`` loads the plugins and remembers their commands; the next one lists
    the same commands without importing a plugin or a heavy library; another plugin selection
    (``TERRITORY_LOAD_PLUGINS``) is a different key and is listed from the plugins again."""
    import os
    from importlib import metadata

    from territory.cli import cli

    expected = sorted(cli.plugin_commands().commands)  # what the installed plugins add
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    first, _ = _help(env)
    second, loaded = _help(env)
    assert second == first
    for name in expected:
        assert f"  {name} " in second, name
    assert [m for m in HEAVY if m in loaded] == []
    plugins = {ep.module.split(".")[0] for ep in metadata.entry_points(group="territory")}
    assert not plugins & set(loaded)
    # another selection of plugins: listed from the plugins, none of theirs when none is loaded
    third, _ = _help({**env, "TERRITORY_LOAD_PLUGINS": "no-such-plugin"})
    assert all(f"  {name} " not in third for name in expected)
