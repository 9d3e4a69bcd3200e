"""``territory.explore``: a map of the GeoDataFrames a user already has (not from a plan).

The territories are the embedded US states with a random KPI column and their own id column
(``STUSPS``); accounts are a plain DataFrame with lat/lon. Colours are checked in headless
Chromium against the legend the page shows and against the ColorBrewer YlGnBu scale computed
here; a map the user made with folium gets the territory layers added.
"""

from __future__ import annotations

import re
from importlib import resources

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

import territory
from territory.errors import ValidationError
from territory.formatting import heading

# ColorBrewer YlGnBu, 9 classes (the sequential scale of the maps), light to dark.
YLGNBU = ["#ffffd9", "#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8",
          "#253494", "#081d58"]  # fmt: skip
AWAY = ["AK", "HI", "PR", "GU", "VI", "AS", "MP"]  # far from the others: a compact view


def rgb(colour: str) -> np.ndarray:
    value = colour.strip().lstrip("#")[:6]
    return np.array([int(value[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)


def ylgnbu(t: float) -> np.ndarray:
    """The colour at ``t`` in [0, 1] of YlGnBu interpolated linearly between its 9 colours."""
    x = t * (len(YLGNBU) - 1)
    k = min(int(np.floor(x)), len(YLGNBU) - 2)
    return rgb(YLGNBU[k]) + (x - k) * (rgb(YLGNBU[k + 1]) - rgb(YLGNBU[k]))


@pytest.fixture(scope="module")
def states() -> gpd.GeoDataFrame:
    """The lower 48 states and DC, keyed by postal code, with a random ``score`` (seeded)."""
    path = resources.files("territory.data") / "us_states.parquet"
    with resources.as_file(path) as p:
        frame = gpd.read_parquet(p)
    frame = frame[~frame["STUSPS"].isin(AWAY)].reset_index(drop=True)
    rng = np.random.default_rng(20261201)
    frame["score"] = rng.integers(0, 10_000, len(frame)).astype(float)
    return frame[["STUSPS", "NAME", "score", "geometry"]]


def user_accounts() -> pd.DataFrame:
    """Five accounts as a plain table: two in Texas, one in Ohio, one with no territory and
    one without a location."""
    return pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3", "a4", "a5"],
            "lat": [30.27, 32.78, 39.96, 44.0, None],
            "lon": [-97.74, -96.80, -83.00, -100.0, None],
            "STUSPS": ["TX", "TX", "OH", None, "TX"],
            "revenue": [100.0, 250.0, 75.0, 10.0, 5.0],
        }
    )


def open_page(browser, path, routes=None):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    def route(r):
        url = r.request.url
        if url.startswith("file:"):
            return r.continue_()
        for pattern, (body, kind) in (routes or {}).items():
            if pattern in url:
                return r.fulfill(status=200, body=body, content_type=kind)
        return r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_selector(".territory-kpi-legend")
    page.problems = problems
    return page


FILLS = """() => {
  const out = {};
  for (const key of Object.keys(window)) {
    const layer = window[key];
    if (!key.startsWith('geo_json_') || !layer || !layer.eachLayer) continue;
    layer.eachLayer(l => {
      if (l.feature && '_fill' in l.feature.properties)
        out[l.feature.properties.territory_id] = l._path.getAttribute('fill');
    });
  }
  return out;
}"""
LEGEND = """() => [...document.querySelectorAll('.territory-kpi-legend .territory-swatch')]
  .map(s => [getComputedStyle(s).backgroundColor, s.parentElement.textContent.trim()])"""


def css_rgb(value: str) -> np.ndarray:
    return np.array([float(v) for v in re.findall(r"[\d.]+", value)[:3]])


@pytest.mark.slow
def test_each_state_is_filled_with_the_legend_step_of_its_value(browser, states, tmp_path):
    fmap = territory.explore(states, "score", id="STUSPS", name="NAME", reference=False)
    path = tmp_path / "states.html"
    fmap.save(str(path))
    page = open_page(browser, path)
    fills = page.evaluate(FILLS)
    legend = page.evaluate(LEGEND)
    assert page.problems == []
    assert set(fills) == set(states["STUSPS"])
    # the legend: six steps from the highest value down, labelled with the values
    lo, hi = states["score"].min(), states["score"].max()
    edges = np.linspace(lo, hi, 6)[::-1]
    assert [float(label.replace(",", "")) for _, label in legend] == pytest.approx(edges, abs=0.5)
    swatches = [css_rgb(colour) for colour, _ in legend]
    for swatch, edge in zip(swatches, edges, strict=True):
        assert np.abs(swatch - ylgnbu((edge - lo) / (hi - lo))).max() <= 2
    for row in states.itertuples():
        fill = rgb(fills[row.STUSPS])
        t = (row.score - lo) / (hi - lo)
        assert np.abs(fill - ylgnbu(t)).max() <= 2, row.STUSPS
        # between the two legend swatches around its value (green falls steadily on YlGnBu)
        k = min(int(t * 5), 4)  # steps from the lowest: edges[5 - k] <= value <= edges[4 - k]
        darker, lighter = swatches[4 - k], swatches[5 - k]
        assert darker[1] - 2 <= fill[1] <= lighter[1] + 2, row.STUSPS
    # the lowest and the highest state have the end colours of the legend
    assert (
        np.abs(rgb(fills[states.loc[states["score"].idxmin(), "STUSPS"]]) - swatches[-1]).max() <= 1
    )
    assert (
        np.abs(rgb(fills[states.loc[states["score"].idxmax(), "STUSPS"]]) - swatches[0]).max() <= 1
    )
    # the user's name column labels the states; the tooltip shows the user's id and score
    assert page.locator(".territory-label", has_text="Ohio").count() == 1
    page.close()


@pytest.mark.slow
def test_accounts_from_a_plain_dataframe_are_drawn_with_their_territory(browser, states, tmp_path):
    accounts = user_accounts()
    fmap = territory.explore(states, "score", id="STUSPS", accounts=accounts, reference=False)
    path = tmp_path / "accounts.html"
    fmap.save(str(path))
    page = open_page(browser, path)
    page.wait_for_selector("canvas.territory-points[data-drawn]")
    assert page.evaluate("territoryPoints[0].count") == 4  # a5 has no location
    legend = page.locator(".territory-layer-legend").inner_text()
    assert "assigned" in legend and "unassigned" in legend
    texts = page.evaluate(
        "() => { const s = territoryPoints[0].source; const t = s.text();"
        " return s.fields.map((f, i) => [f, t[i]]); }"
    )
    fields = dict((f, values) for f, values in texts)
    assert fields["Account"] == ["a1", "a2", "a3", "a4"]
    assert fields["Territory"] == ["TX", "TX", "OH", "(unassigned)"]
    assert fields["Revenue"] == ["100", "250", "75", "10"]
    codes = page.evaluate("Array.from(territoryPoints[0].code)")
    assert codes == [0, 0, 0, 1]  # assigned, assigned, assigned, unassigned (grey)
    assert page.problems == []
    page.close()


@pytest.mark.slow
def test_explore_adds_to_a_folium_map_the_user_made(browser, states, tmp_path):
    m = folium.Map(location=[39.0, -98.0], zoom_start=5, tiles=None)
    folium.CircleMarker([41.88, -87.63], radius=9, color="#ff00ff", tooltip="HQ").add_to(m)
    named = states.assign(NAME=states["NAME"].where(states["STUSPS"] != "KS", "Kansas {{ 7*7 }}"))
    out = territory.explore(named, "score", id="STUSPS", name="NAME", m=m, reference=False)
    assert out is m
    path = tmp_path / "user-map.html"
    m.save(str(path))
    html = path.read_text(encoding="utf-8")
    assert "Kansas {{ 7*7 }}" not in html  # user text is escaped, never template source
    vendor = resources.files("territory.maps") / "vendor" / "leaflet"
    routes = {  # folium loads its assets from CDNs: serve Leaflet from the package, no network
        "leaflet.js": ((vendor / "leaflet.js").read_text("utf-8"), "application/javascript"),
        "leaflet.css": ((vendor / "leaflet.css").read_text("utf-8"), "text/css"),
        ".js": ("", "application/javascript"),
        ".css": ("", "text/css"),
    }
    page = open_page(browser, path, routes)
    # the user's view and marker are kept; every state is drawn on top
    centre = page.evaluate(f"[{m.get_name()}.getCenter().lat, {m.get_name()}.getZoom()]")
    assert centre == [pytest.approx(39.0, abs=1e-6), 5]
    assert page.locator("path[stroke='#ff00ff']").count() == 1
    assert len(page.evaluate(FILLS)) == len(states)
    label = page.locator(".territory-label", has_text=re.compile("^Kansas"))
    assert label.inner_text() == "Kansas {{ 7*7 }}"  # shown literally, not evaluated to 49
    assert page.locator(".leaflet-control-layers").count() == 1
    assert page.problems == []
    page.close()


def test_the_default_tooltip_shows_name_id_and_colour_column_and_needs_no_network(states):
    html = territory.explore(states, "score", id="STUSPS", name="NAME").get_root().render()
    assert 'let fields = ["name", "territory_id", "score"];' in html
    assert 'let aliases = ["Territory", "Id", "Score"];' in html
    assert re.search(r"<script[^>]+src=", html) is None  # Leaflet inlined, nothing fetched
    assert "Territories by Score" in html


def test_default_colours_without_revenue_or_accounts_are_identity_colours(states):
    from territory.maps.colours import IDENTITY

    fmap = territory.explore(states[["STUSPS", "geometry"]], id="STUSPS", reference=False)
    fills = re.findall(r'"_fill": ?"(#[0-9a-f]{6})"', fmap.get_root().render())
    assert len(fills) == len(states) and set(fills) <= set(IDENTITY)


def test_bad_input_is_a_clear_error(states):
    with pytest.raises(ValidationError, match="no id column 'territory_id'.*id=") as err:
        territory.explore(states, "score")
    assert "STUSPS" in str(err.value)
    with pytest.raises(ValidationError, match="no name column 'Name'.*NAME"):
        territory.explore(states, "score", id="STUSPS", name="Name")
    with pytest.raises(ValidationError, match="'population'.*no such column.*score"):
        territory.explore(states, "population", id="STUSPS")
    twice = pd.concat([states, states.iloc[[3]]], ignore_index=True)
    with pytest.raises(ValidationError, match=f"'{states['STUSPS'][3]}' on more than one row"):
        territory.explore(twice, "score", id="STUSPS")
    with pytest.raises(ValidationError, match="no CRS.*set_crs"):
        territory.explore(states.set_crs(None, allow_override=True), "score", id="STUSPS")
    with pytest.raises(ValidationError, match="GeoDataFrame"):
        territory.explore(pd.DataFrame(states.drop(columns="geometry")), "score", id="STUSPS")
    no_location = user_accounts().rename(columns={"lat": "y"})
    with pytest.raises(ValidationError, match="no latitude column.*looked for lat"):
        territory.explore(states, "score", id="STUSPS", accounts=no_location)
    swapped = user_accounts().assign(lat=[30.27, 132.0, 39.96, 44.0, None])
    with pytest.raises(ValidationError, match="'lat'.*not a latitude.*on row 1: '132.0'"):
        territory.explore(states, "score", id="STUSPS", accounts=swapped)
    with pytest.raises(ValidationError, match="not an ISO 4217 currency code"):
        territory.explore(states, "score", id="STUSPS", currency="EURO")


def test_money_columns_carry_the_currency_given(states):
    frame = states.rename(columns={"score": "revenue"})
    html = territory.explore(frame, id="STUSPS", currency="eur").get_root().render()
    assert "Revenue (EUR)" in html


def test_one_heading_rule_for_dashboard_columns_and_map_captions():
    from territory.maps.render import label

    assert heading("revenue_prior") == "revenue prior"
    assert heading("Sales 2024") == "Sales 2024"  # a user's column, as written
    assert label("revenue_prior") == "Revenue prior" == heading("revenue_prior", capital=True)
    assert label("Sales 2024") == "Sales 2024"


def editor_data(html: str) -> dict:
    import json

    found = re.search(r"new L\.TerritoryEditor\((\{.*?\})\)\s*\.attach", html, re.S)
    return json.loads(found.group(1))


def test_the_editor_exports_the_alignment_the_plan_read_not_the_file_now(
    tmp_path, grid_blocks, grid_alignment
):
    given = grid_alignment.assign(note="as read")
    path = tmp_path / "alignment.csv"
    given.to_csv(path, index=False)
    accounts = pd.DataFrame({"account_id": ["a", "b"], "lat": [0.5, 2.5], "lon": [0.5, 3.5]})
    result = territory.run(accounts, grid_blocks, alignment=str(path), block_id="block_id")
    path.write_text("block_id,territory_id\nr0c0,E\n", encoding="utf-8")  # changed afterwards
    data = editor_data(result.to_map(reference=False).get_root().render())
    table = data["alignment"]
    assert table["columns"] == ["block_id", "territory_id", "parent", "note"]
    assert table["rows"] == given.astype(str).to_numpy().tolist()
    path.unlink()  # and gone: the map still renders from what the result holds
    assert editor_data(result.to_map(reference=False).get_root().render())["alignment"] == table


def test_explore_draws_user_blocks_with_the_editor(grid_blocks, grid_alignment):
    blocks = grid_blocks.merge(grid_alignment, on="block_id").assign(revenue=10.0)
    territories = blocks.dissolve(by="territory_id", as_index=False)[["territory_id", "geometry"]]
    territories["revenue"] = [80.0, 80.0]
    html = territory.explore(territories, blocks=blocks, alignment=grid_alignment,
                             reference=False).get_root().render()  # fmt: skip
    data = editor_data(html)
    assert data["ids"] == grid_blocks["block_id"].tolist()
    assert data["revenue"] == [10.0] * 16
    assert data["alignment"]["columns"] == ["block_id", "territory_id", "parent"]
    assert [data["ids_t"][t] for t in data["territory"]] == blocks["territory_id"].tolist()


def test_a_rep_column_under_another_usual_name_gives_the_rep_filter(tmp_path):
    import json

    squares = gpd.GeoDataFrame(
        {"territory_id": ["A", "B", "C"], "Sales Rep": ["Ann", None, "Ann"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs=4326,
    )  # fmt: skip

    def reps(fmap):
        found = re.search(r'"reps":(\[[^\]]*\]|null)', fmap.get_root().render())
        return json.loads(found.group(1))

    assert reps(territory.explore(squares, "territory")) == ["Ann", None, "Ann"]
    # through a plan: the territory file's "Owner" column is the rep
    path = tmp_path / "territories.geojson"
    squares.rename(columns={"Sales Rep": "Owner"}).to_file(path)
    accounts = pd.DataFrame({"account_id": ["1"], "lat": [0.5], "lon": [0.5], "revenue": [1.0]})
    result = territory.make_plan(accounts, str(path)).run()
    assert result.layer.territories["rep"].fillna("-").tolist() == ["Ann", "-", "Ann"]
    assert reps(result.to_map()) == ["Ann", None, "Ann"]


def test_a_map_without_accounts_is_fitted_to_the_territories_not_to_far_off_islets():
    """Territories whose shapes include islets across the antimeridian (as Alaska's Aleutians
    are): without accounts the view is the box of the parts holding nearly all the area, not
    the whole world that the layer's total bounds span."""
    islets = [box(179.0 + k * 0.2, 51.0, 179.1 + k * 0.2, 51.1) for k in range(4)]
    from shapely.geometry import MultiPolygon

    north = MultiPolygon([box(-125.0, 40.0, -100.0, 49.0), *islets])
    frame = gpd.GeoDataFrame(
        {"territory_id": ["N", "S"], "name": ["North", "South"]},
        geometry=[north, box(-118.0, 25.0, -80.0, 40.0)],
        crs=4326,
    )
    assert frame.total_bounds[2] > 179  # the layer spans the globe
    page = territory.explore(frame).get_root().render()
    number = r"\s*([-\d.]+)\s*"
    fitted = re.findall(
        rf"\.fitBounds\(\s*\[\[{number},{number}\],\s*\[{number},{number}\]\]", page
    )
    boxes = [tuple(map(float, f)) for f in fitted]
    assert (25.0, -125.0, 49.0, -80.0) in boxes
    assert not [b for b in boxes if b[3] > 170 and b[1] > -170]  # no view out to the islets


@pytest.mark.slow
def test_two_explores_onto_one_map_keep_both_layers_and_one_set_of_controls(
    browser, states, tmp_path
):
    """Two calls on the same map (two plans side by side): the page runs without errors, both
    sets of territories are drawn and listed in one layer control under names of their own,
    and the search box, PNG button and Reference overlay are there once."""
    west = states[states.geometry.centroid.x < -100]
    east = states[states.geometry.centroid.x >= -100]
    m = territory.explore(west, "score", id="STUSPS", name="NAME", accounts=user_accounts())
    again = territory.explore(east, "territory", id="STUSPS", name="NAME", m=m,
                              accounts=user_accounts())  # fmt: skip
    assert again is m
    path = tmp_path / "two.html"
    m.save(str(path))
    page = open_page(browser, path)
    assert page.problems == []
    assert sorted(page.evaluate(FILLS)) == sorted(states["STUSPS"])
    listed = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    names = [n.strip() for n in listed]
    assert {
        "Territories by Score",
        "Territories",
        "Territory labels",
        "Territory labels #2",
    } <= set(names)
    assert names.count("Reference") == 1 and len(names) == len(set(names))
    accounts = [n for n in names if n.startswith("Accounts")]
    assert len(accounts) == 2 and accounts[1] == f"{accounts[0]} #2"
    page.wait_for_selector("canvas.territory-points[data-drawn]")
    assert page.evaluate("territoryPoints.map(p => p.count)") == [4, 4]  # a5 has no location
    assert page.locator(".leaflet-control-layers").count() == 1
    assert page.locator("input.tt-search").count() == 1
    assert page.locator(".territory-export-png").count() == 1
    page.close()
