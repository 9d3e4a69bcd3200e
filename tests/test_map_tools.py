"""Map tools in headless Chromium (no network): the search box, filters from clickable legends
and the rep filter, and region outlines with reps and regions in the tooltips.

The plan is built here: four territories of two blocks each in two regions, three reps (one
with two territories in different regions), accounts with names, postal codes (one with a
leading zero) and a segment column; one territory name is hostile markup.
"""

from __future__ import annotations

import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

import territory

from .conftest import offline_page, tooltip_at

pytestmark = pytest.mark.slow

HOSTILE = "<img src=x onerror=window.pwn=1> {{7*7}}"
WEST, SOUTH = -92.0, 40.0
TERRITORIES = pd.DataFrame(
    {
        "territory_id": ["T1", "T2", "T3", "T4"],
        "name": ["North Fork", "Lakeside", HOSTILE, "Prairie Bend"],
        "parent": ["East Region", "East Region", "West Region", "West Region"],
        "rep": ["Dana Reyes", "Sam Okafor", "Dana Reyes", "Lee Marsh"],
    }
)
SEGMENTS = ["retail"] * 7 + ["wholesale"] * 3 + ["online"] * 2  # unequal counts


def tools_inputs():
    """(accounts, blocks, alignment) of the plan described in the module docstring."""
    cells = [(k, j) for k in range(4) for j in range(2)]
    blocks = gpd.GeoDataFrame(
        {"block_id": [f"b{k}{j}" for k, j in cells]},
        geometry=[box(WEST + k, SOUTH + j, WEST + k + 1, SOUTH + j + 1) for k, j in cells],
        crs=4326,
    )
    alignment = pd.DataFrame({"block_id": blocks["block_id"]})
    alignment["territory_id"] = [f"T{k + 1}" for k, _ in cells]
    alignment = alignment.merge(TERRITORIES, on="territory_id")
    rng = np.random.default_rng(7)
    n = 48
    k = np.arange(n) % 4
    accounts = pd.DataFrame(
        {
            "account_id": [f"acc-{i:04d}" for i in range(n)],
            "name": [f"Customer {i}" for i in range(n)],
            "lat": SOUTH + 0.1 + 1.8 * rng.random(n),
            "lon": WEST + k + 0.1 + 0.8 * rng.random(n),
            "zip": [f"{(i % 16) * 7 + 2139:05d}" for i in range(n)],
            "revenue": 1000.0 + 10 * np.arange(n),
            "segment": [SEGMENTS[i % len(SEGMENTS)] for i in range(n)],
        }
    )
    accounts.loc[5, "name"] = HOSTILE
    return accounts, blocks, alignment


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    accounts, blocks, alignment = tools_inputs()
    result = territory.run(
        accounts,
        blocks,
        alignment=alignment,
        block_id="block_id",
        axes=[{"axis": "column", "column": "segment"}],
        name="Tools check",
    )
    path = tmp_path_factory.mktemp("tools") / "map.html"
    result.to_map().save(str(path))
    return result, accounts, alignment, path


def open_page(browser, path, width=1400, height=900):
    return offline_page(browser, path, ".territory-tools .tt-search", width=width, height=height)


def view_bounds(page) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the map view."""
    return tuple(
        page.evaluate(
            """() => { const b = territoryTools._map.getBounds();
            return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }"""
        )
    )


def contains(view, bounds) -> bool:
    w, s, e, n = view
    x0, y0, x1, y1 = bounds
    return w <= x0 and s <= y0 and e >= x1 and n >= y1


def results(page) -> list[tuple[str, str]]:
    page.wait_for_selector(".tt-results .tt-result, .tt-results .tt-none")
    found = page.evaluate(
        """() => [...document.querySelectorAll('.tt-results .tt-result')].map(b =>
            [b.querySelector('.tt-kind').textContent, b.childNodes[1].textContent])"""
    )
    return [tuple(r) for r in found]


def search(page, query: str) -> list[tuple[str, str]]:
    page.fill(".tt-search", query)
    page.wait_for_function(
        "(q) => territoryTools._found && territoryTools._input.value === q", arg=query
    )
    page.wait_for_timeout(200)
    return results(page)


def territory_bounds(result, ids) -> tuple[float, float, float, float]:
    terr = result.layer.territories.to_crs(4326)
    return tuple(terr[terr["territory_id"].isin(ids)].total_bounds)


def highlighted(page) -> int:
    return page.evaluate(
        "() => territoryTools._map.getPane('territoryHighlight').querySelectorAll('path').length"
    )


def test_search_finds_a_territory_by_name_and_zooms_to_it(browser, planned):
    result, _, _, path = planned
    page = open_page(browser, path)
    territoryless = view_bounds(page)
    found = search(page, "LAKES")  # case-insensitive substring of "Lakeside"
    assert found == [("Territory", "Lakeside (T2)")]
    page.press(".tt-search", "Enter")
    target = territory_bounds(result, ["T2"])
    assert contains(view_bounds(page), target)
    assert view_bounds(page) != territoryless  # it zoomed in
    assert highlighted(page) == 1
    page.press(".tt-search", "Escape")
    assert highlighted(page) == 0
    assert page.input_value(".tt-search") == ""
    assert page.problems == []
    page.close()


def test_search_finds_an_account_by_id_and_a_postal_code(browser, planned):
    result, accounts, _, path = planned
    page = open_page(browser, path)
    found = search(page, "acc-0042")
    assert found == [("Account", "acc-0042 · Customer 42")]
    page.press(".tt-search", "Enter")
    row = accounts.set_index("account_id").loc["acc-0042"]
    assert contains(view_bounds(page), (row["lon"], row["lat"], row["lon"], row["lat"]))
    assert highlighted(page) == 1  # the account's ring
    # a postal code with a leading zero, shared by several accounts
    code = "02146"
    oracle = accounts[accounts["zip"] == code]
    assert len(oracle) > 1
    found = search(page, code)
    assert ("Postal code", code) in found
    page.locator(".tt-result").filter(has_text=code).first.click()
    assert highlighted(page) == len(oracle)
    w, s, e, n = view_bounds(page)
    assert ((oracle["lon"] >= w) & (oracle["lon"] <= e)).all()
    assert ((oracle["lat"] >= s) & (oracle["lat"] <= n)).all()
    assert page.problems == []
    page.close()


def test_search_finds_a_rep_and_shows_all_of_their_territories(browser, planned):
    result, _, alignment, path = planned
    page = open_page(browser, path)
    page.evaluate("() => territoryTools._map.setView([40.5, -91.5], 9, {animate: false})")
    found = search(page, "reyes")
    assert found == [("Rep", "Dana Reyes · 2 territories")]
    page.press(".tt-search", "Enter")
    theirs = sorted(alignment.loc[alignment["rep"] == "Dana Reyes", "territory_id"].unique())
    assert theirs == ["T1", "T3"]
    assert contains(view_bounds(page), territory_bounds(result, theirs))
    assert highlighted(page) == len(theirs)
    page.close()


def test_hostile_names_are_shown_as_text_in_the_search(browser, planned):
    _, _, _, path = planned
    page = open_page(browser, path)
    found = search(page, "onerror")
    assert ("Territory", f"{HOSTILE} (T3)") in found
    assert ("Account", f"acc-0005 · {HOSTILE}") in found
    found = search(page, "{{7*7}}")  # a template delimiter is a plain substring too
    assert ("Territory", f"{HOSTILE} (T3)") in found
    page.press(".tt-search", "Enter")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.pwn") is None
    assert page.locator(".territory-tools img, .leaflet-tooltip img").count() == 0
    assert "49" not in page.locator(".territory-tools").inner_text()
    # a query that is a broken regular expression is searched as text
    assert search(page, "(*[") == []
    assert page.locator(".tt-none").inner_text() == "No match"
    assert page.problems == []
    page.close()


def drawn(page, field: str | None) -> int:
    """Accounts drawn by the segment layer of ``field`` (None: the accounts layer)."""
    page.wait_for_timeout(100)
    return int(
        page.evaluate(
            "(f) => territoryPoints.find(l => (l._data.field || null) === f)._canvas.dataset.drawn",
            field,
        )
    )


def test_clicking_a_segment_legend_entry_hides_exactly_its_accounts(browser, planned):
    result, accounts, _, path = planned
    page = open_page(browser, path)
    axis = result.labels.columns[0]
    page.locator(".leaflet-control-layers-overlays label").filter(
        has_text=f"Accounts by {axis}"
    ).locator("input").check()
    legend = page.locator(".territory-layer-legend").filter(has_text=f"Accounts by {axis}")
    legend.wait_for()
    page.wait_for_timeout(300)
    counts = accounts["segment"].value_counts()
    assert drawn(page, axis) == len(accounts)
    entry = legend.locator("button.territory-legend-toggle").filter(has_text="wholesale")
    entry.click()
    page.wait_for_timeout(200)
    assert drawn(page, axis) == len(accounts) - counts["wholesale"]
    assert "territory-legend-off" in entry.get_attribute("class")
    assert entry.get_attribute("aria-pressed") == "false"
    # keyboard: the entries are buttons
    online = legend.locator("button.territory-legend-toggle").filter(has_text="online")
    online.focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(200)
    assert drawn(page, axis) == counts["retail"]
    entry.click()
    page.wait_for_timeout(200)
    assert drawn(page, axis) == len(accounts) - counts["online"]
    legend.locator(".territory-legend-reset").click()
    page.wait_for_timeout(200)
    assert drawn(page, axis) == len(accounts)
    assert legend.locator(".territory-legend-off").count() == 0
    assert page.problems == []
    page.close()


def shown_territories(page) -> list[str]:
    """Ids of the territory shapes not dimmed, read from the page's SVG paths."""
    return sorted(
        page.evaluate(
            """() => territoryTools.layers.territories.getLayers()
            .filter(l => !l._path.classList.contains('territory-dimmed'))
            .map(l => l.feature.properties.territory_id)"""
        )
    )


def test_rep_filter_leaves_exactly_that_reps_territories(browser, planned):
    result, accounts, alignment, path = planned
    page = open_page(browser, path)
    assert shown_territories(page) == ["T1", "T2", "T3", "T4"]
    assert drawn(page, None) == len(accounts)
    for rep in alignment["rep"].unique():
        page.select_option(".tt-rep select", value=rep)
        theirs = sorted(alignment.loc[alignment["rep"] == rep, "territory_id"].unique())
        assert shown_territories(page) == theirs
        # and only the accounts of those territories
        assert drawn(page, None) == int(result.assignments["territory_id"].isin(theirs).sum())
        status = page.locator(".tt-status").inner_text()
        assert status == f"Showing {len(theirs)} of 4 territories"
    page.click(".tt-reset")
    assert shown_territories(page) == ["T1", "T2", "T3", "T4"]
    assert drawn(page, None) == len(accounts)
    assert not page.locator(".tt-reset").is_visible()
    page.close()


def test_clicking_a_category_of_the_territory_legend_dims_the_others(browser, planned, tmp_path):
    result, _, alignment, _ = planned
    path = tmp_path / "by-region.html"
    result.to_map(kpi="parent").save(str(path))
    page = open_page(browser, path)
    legend = page.locator(".territory-kpi-legend")
    legend.locator("button").filter(has_text="West Region").click()
    west = sorted(alignment.loc[alignment["parent"] == "West Region", "territory_id"].unique())
    assert shown_territories(page) == west
    east = legend.locator("button").filter(has_text="East Region")
    assert "territory-legend-off" in east.get_attribute("class")
    east.click()  # both chosen: all shown again
    assert shown_territories(page) == ["T1", "T2", "T3", "T4"]
    page.close()


def hover_tooltip(page, k: int) -> dict[str, str]:
    """The tooltip of territory ``k`` (0-based column), hovered near its east edge, off its
    accounts and label, with every territory in view."""
    lat, lon = SOUTH + 1.5, WEST + k + 0.97
    page.evaluate(
        f"() => territoryTools._map.fitBounds([[{SOUTH}, {WEST}], [{SOUTH + 2}, {WEST + 4}]],"
        " {animate: false})"
    )
    return tooltip_at(page, "territoryTools._map", lat, lon)


def test_regions_are_outlined_and_tooltips_show_rep_and_region(browser, planned):
    result, accounts, alignment, path = planned
    page = open_page(browser, path)
    overlay = page.locator(".leaflet-control-layers-overlays label").filter(has_text="Regions")
    assert overlay.locator("input").is_checked()  # on by default
    regions = sorted(alignment["parent"].unique())
    paths = page.evaluate(
        """() => { const out = [];
        territoryTools._map.eachLayer(l => { if (l.feature && l.feature.properties.region
            && l._path) out.push(l.feature.properties.region); });
        return out.sort(); }"""
    )
    assert paths == regions  # one path per region
    labels = sorted(page.locator(".territory-region-label").all_inner_texts())
    assert [s.lower() for s in labels] == [r.lower() for r in regions]
    for tid, row in TERRITORIES.set_index("territory_id").iterrows():
        k = int(tid[1:]) - 1
        tip = hover_tooltip(page, k)
        assert tip["Rep"] == row["rep"]
        assert tip["Region"] == row["parent"]
        assert tip["Territory"] == row["name"]
    assert page.evaluate("() => window.pwn") is None
    overlay.locator("input").uncheck()
    assert page.locator(".territory-region-label").count() == 0
    page.close()


def test_a_plan_without_hierarchy_has_no_regions_layer_and_no_rep_filter(browser, tmp_path):
    accounts, blocks, alignment = tools_inputs()
    result = territory.run(
        accounts, blocks, alignment=alignment[["block_id", "territory_id"]], block_id="block_id"
    )
    path = tmp_path / "flat.html"
    result.to_map().save(str(path))
    page = open_page(browser, path)
    overlays = page.locator(".leaflet-control-layers-overlays").inner_text()
    assert "Regions" not in overlays
    assert "Territories" in overlays
    assert page.locator(".territory-region-label").count() == 0
    assert page.locator(".tt-rep").count() == 0
    tip = hover_tooltip(page, 0)
    assert "Rep" not in tip and "Region" not in tip
    assert search(page, "T1") == [("Territory", "T1")]
    assert page.problems == []
    page.close()


def test_screenshots_with_a_search_result_and_a_filter(browser, planned, tmp_path):
    """Desktop and phone views with a result chosen and a rep filter: nothing of the tools
    sits on the title, and the page has no errors (pictures kept with TERRITORY_TEST_OUTPUT)."""
    _, _, _, path = planned
    out = os.environ.get("TERRITORY_TEST_OUTPUT") or str(tmp_path)
    for width, height in ((1280, 800), (390, 844)):
        page = open_page(browser, path, width, height)
        page.select_option(".tt-rep select", value="Dana Reyes")
        search(page, "lake")
        page.press(".tt-search", "Enter")
        boxes = page.evaluate(
            """() => ['.territory-title', '.territory-tools'].map(s => {
            const r = document.querySelector(s).getBoundingClientRect();
            return [r.left, r.top, r.right, r.bottom]; })"""
        )
        (a0, a1, a2, a3), (b0, b1, b2, b3) = boxes
        assert a2 <= b0 or b2 <= a0 or a3 <= b1 or b3 <= a1, boxes  # no overlap
        assert b2 <= width
        page.screenshot(path=os.path.join(out, f"map-tools-{width}x{height}.png"))
        assert page.problems == []
        page.close()
