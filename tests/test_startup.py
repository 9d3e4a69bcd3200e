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
