"""The tracking maps in headless Chromium (no network): the tooltip of every territory shows
tracking's own figures, the same as the dashboard's row, and colours compare sales to date
with the sales expected by the as-of date, not with the full-year target."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from territory.cli import cli

from .conftest import tooltip_at
from .grid_plan import AS_OF, expected_tracking, write_grid_plan

pytestmark = pytest.mark.slow

# tooltip label (start) -> dashboard column heading
TOOLTIP_TO_DASHBOARD = {
    "Target": "target",
    "Actual to date": "actual",
    "Expected by": "expected to date",
    "Attainment vs pace": "pacing",
    "Attainment of target": "attainment",
    "Run-rate forecast": "run rate forecast",
    "Weighted pipeline": "weighted pipeline",
    "Status": "status",
}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    grid = write_grid_plan(tmp_path_factory.mktemp("grid"))
    out = grid.folder / "tracked"
    run = CliRunner().invoke(cli, ["track", str(grid.plan), "--as-of", AS_OF, "--out", str(out)])
    assert run.exit_code == 0, run.output
    return grid, out


def open_page(browser, path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
               else route.continue_())  # fmt: skip
    page.goto(path.as_uri())
    page.errors = errors
    return page


def dashboard_rows(browser, path) -> dict[str, dict[str, str]]:
    """The dashboard's territory table as shown: {territory id: {heading: cell text}}."""
    page = open_page(browser, path)
    rows = page.evaluate(
        """() => {
        const table = document.querySelector('table');
        const heads = [...table.querySelectorAll('th')].map(th => th.textContent.trim());
        return [...table.querySelectorAll('tbody tr')].map(tr => Object.fromEntries(
            [...tr.querySelectorAll('td')].map((td, i) => [heads[i], td.textContent.trim()])));
    }"""
    )
    page.close()
    return {row["territory id"]: row for row in rows}


def hover_tooltip(page, lat: float, lon: float) -> dict[str, str]:
    """Move the mouse to (lat, lon) and read the territory tooltip: {label: value}."""
    return tooltip_at(page, "territoryEditor._map", lat, lon)


def fill_of(page, territory_id: str) -> str:
    return page.evaluate(
        """(id) => Object.values(territoryEditor._map._layers)
            .find(l => l.feature && l.feature.properties.territory_id === id && l._path)
            ._path.getAttribute('fill')""",
        territory_id,
    )


def rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")[:6]
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


@pytest.mark.parametrize("name", ["tracking-map.html", "tracking-status-map.html"])
def test_tracking_map_tooltips_show_the_dashboard_figures(browser, tracked, name):
    grid, out = tracked
    dashboard = dashboard_rows(browser, out / "dashboard.html")
    for tid, row in expected_tracking(grid).iterrows():  # the dashboard against the hand sums
        assert dashboard[tid]["target"] == f"{row['target']:,.0f}"
        assert dashboard[tid]["actual"] == f"{row['actual']:,.0f}"
        assert dashboard[tid]["pacing"] == f"{row['pacing']:.1%}"
    page = open_page(browser, out / name)
    page.wait_for_selector("canvas.territory-points[data-drawn]", state="attached")
    for k, tid in enumerate(grid.territory_ids):
        tip = hover_tooltip(page, *grid.hover_point(k))
        assert tip.get("Id") == tid, tip
        row = dashboard[tid]
        assert tip["Territory"] == row["name"]
        assert tip["Rep"] == f"Rep {k + 1}"  # who, from the alignment (see grid_plan)
        compared = set()
        for label, value in tip.items():
            column = next((c for s, c in TOOLTIP_TO_DASHBOARD.items() if label.startswith(s)),
                          None)  # fmt: skip
            if column is not None:
                assert value == row[column], (tid, label)
                compared.add(column)
        # every tracking figure asked for is there, and no plan figure (full-year revenue,
        # the plan's target) is mixed in
        assert {"target", "actual", "expected to date", "pacing", "run rate forecast",
                "status"} <= compared, tip  # fmt: skip
        assert set(tip) <= {"Territory", "Id", "Region", "Rep"} | {
            label for label in tip if any(label.startswith(s) for s in TOOLTIP_TO_DASHBOARD)
        }, tip
    assert page.errors == []
    page.close()


def test_tracking_maps_colour_by_attainment_against_pace_and_status(browser, tracked):
    from territory.maps import STATUS

    grid, out = tracked
    expected = expected_tracking(grid)
    ahead = expected["pacing"].idxmax()  # 150 % of pace (75 % of the full-year target)
    behind = expected["pacing"].idxmin()  # 60 % of pace
    page = open_page(browser, out / "tracking-map.html")
    page.wait_for_selector(".territory-legend")
    r, g, b = rgb(fill_of(page, ahead))
    assert b > r, "a territory ahead of pace is drawn on the blue (ahead) side"
    r, g, b = rgb(fill_of(page, behind))
    assert r > b, "a territory behind pace is drawn on the red (behind) side"
    on_pace = expected.index[(expected["pacing"] - 1).abs() < 1e-9][0]
    r, g, b = rgb(fill_of(page, on_pace))
    assert min(r, g, b) > 230, "exactly on pace is the neutral centre of the scale"
    legend = page.locator(".territory-legend").inner_text()
    assert "expected by" in legend.lower() and "100%" in legend
    assert page.errors == []
    page.close()
    page = open_page(browser, out / "tracking-status-map.html")
    page.wait_for_selector(".territory-legend")
    assert fill_of(page, ahead) == STATUS["ahead"]
    assert fill_of(page, behind) == STATUS["behind"]
    assert "status" in page.locator(".territory-legend").inner_text().lower()
    page.close()
