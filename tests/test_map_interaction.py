"""The shared map driven in headless Chromium (Playwright, system browser, no network).

Hover tooltips, the in-page alignment editor (click a block, the totals change, the exported
CSV), freehand shapes exported as GeoJSON, and `territory apply` on the exported alignment.
"""

from __future__ import annotations

import io
import json
import os

import pandas as pd
import pytest
from click.testing import CliRunner

import territory
from territory.cli import cli, demo_plan

OUTPUT_ENV = "TERRITORY_TEST_OUTPUT"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_map(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-map")
    result = demo_plan().with_outputs(dir=out, map="demo.html").run()
    result.write()
    return out / "demo.html"


@pytest.fixture
def page(browser, demo_map):
    page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
               else route.continue_())  # fmt: skip
    page.goto(demo_map.as_uri())
    page.wait_for_selector("canvas.territory-points[data-drawn]")
    page.errors = errors
    yield page
    page.close()


def container_point(page, js_latlng: str) -> tuple[float, float]:
    """Page coordinates of a lat/lng given as a JS expression."""
    xy = page.evaluate(
        f"""() => {{
        const map = territoryEditor._map, p = map.latLngToContainerPoint({js_latlng});
        const r = map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    }}"""
    )
    return xy[0], xy[1]


def test_map_loads_without_errors_with_shapes_legend_and_points(page):
    assert page.locator("path.leaflet-interactive").count() == 15
    assert page.locator(".territory-legend").is_visible()
    assert page.locator(".territory-title").is_visible()
    assert page.locator("canvas.territory-points").first.get_attribute("data-drawn") == "793"
    assert page.errors == []


def test_hovering_a_territory_and_an_account_shows_tooltips(page):
    # a point well inside Texas (the label sits on top; hover next to it)
    x, y = container_point(page, "L.latLng(31.0, -100.0)")
    page.mouse.move(x, y)
    tip = page.locator(".leaflet-tooltip").first
    tip.wait_for(state="visible")
    assert "Texas" in tip.inner_text()
    # the first account of the canvas layer
    x, y = container_point(page, "L.latLng(territoryPoints[0].lat[0], territoryPoints[0].lon[0])")
    page.mouse.move(x, y)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.leaflet-tooltip')]"
        ".some(t => t.textContent.includes('Account: '))"
    )


def test_editing_a_block_updates_totals_and_the_exported_csv(page, tmp_path):
    assert not page.locator(".te-totals").is_visible()  # the table shows while editing
    page.check(".te-edit")
    row = page.locator(".te-totals tbody tr[data-territory='W1']")
    before_blocks = int(row.locator("td").nth(1).inner_text())
    w1 = page.evaluate("territoryEditor.d.ids_t.indexOf('W1')")
    page.select_option(".te-territory", value=str(w1))
    # Greene County, Missouri (29077, five accounts) is not in W1; click its centre
    index = page.evaluate("territoryEditor.d.ids.indexOf('29077')")
    assert page.evaluate(f"territoryEditor.assign[{index}]") != w1
    x, y = container_point(
        page,
        f"territoryEditor.layer.getLayers().find(l => l.feature.properties.i === {index})"
        ".getBounds().getCenter()",
    )
    page.mouse.click(x, y)
    assert int(row.locator("td").nth(1).inner_text()) == before_blocks + 1
    with page.expect_download() as download:
        page.click(".te-export")
    path = tmp_path / "alignment.csv"
    download.value.save_as(path)
    edited = pd.read_csv(path, dtype=str, keep_default_na=False)
    original = pd.read_csv(demo_plan().territories.alignment, dtype=str, keep_default_na=False)
    assert list(edited.columns) == list(original.columns)  # block_id,territory_id,name,parent
    assert len(edited) == len(original)
    changed = edited.merge(original, on="block_id", suffixes=("", "_was"))
    changed = changed[changed["territory_id"] != changed["territory_id_was"]]
    assert changed["block_id"].tolist() == ["29077"]
    assert changed["territory_id"].tolist() == ["W1"]
    assert page.errors == []

    from territory.io import read_table

    # `territory apply` brings the edited alignment back and recomputes everything
    out = tmp_path / "applied"
    plan_file = demo_plan().source
    res = CliRunner().invoke(cli, ["apply", str(plan_file), str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    kpis = read_table(out / "kpis.csv").set_index("territory_id")
    before = demo_plan().run()
    base = before.kpis.set_index("territory_id")
    rows = before.assignments
    in_block = rows.loc[rows["block_id"].astype(str) == "29077"]
    assert len(in_block) > 0
    assert float(kpis.loc["W1", "accounts"]) == base.loc["W1", "accounts"] + len(in_block)


def test_exported_alignment_keeps_every_column_and_apply_round_trips_it(browser, tmp_path):
    from territory.io import read_table

    from .grid_plan import write_grid_plan

    grid = write_grid_plan(tmp_path)
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["run", str(grid.plan), "--out", str(out)])
    assert res.exit_code == 0, res.output
    original = pd.read_csv(grid.alignment, dtype=str, keep_default_na=False)
    # move the first block into the territory of the last row (another parent and rep)
    block, was = original.loc[0, ["block_id", "territory_id"]]
    into = original.iloc[-1]
    assert into["territory_id"] != was and into["parent"] != original.loc[0, "parent"]

    page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
               else route.continue_())  # fmt: skip
    page.goto((out / "map.html").as_uri())
    page.check(".te-edit")
    target = page.evaluate(f"territoryEditor.d.ids_t.indexOf({json.dumps(into['territory_id'])})")
    page.select_option(".te-territory", value=str(target))
    index = page.evaluate(f"territoryEditor.d.ids.indexOf({json.dumps(block)})")
    assert index >= 0
    x, y = container_point(
        page,
        f"territoryEditor.layer.getLayers().find(l => l.feature.properties.i === {index})"
        ".getBounds().getCenter()",
    )
    page.mouse.click(x, y)
    assert page.evaluate(f"territoryEditor.assign[{index}]") == target
    with page.expect_download() as download:
        page.click(".te-export")
    path = tmp_path / "edited.csv"
    download.value.save_as(path)
    assert errors == []
    page.close()

    edited = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(edited.columns) == list(original.columns)  # every column, in the input's order
    moved = original.copy()
    for column in ("territory_id", "name", "parent", "rep"):
        moved.loc[0, column] = into[column]
    pd.testing.assert_frame_equal(edited, moved)  # the rest exactly as given (leading zeros)

    applied = tmp_path / "applied"
    res = CliRunner().invoke(cli, ["apply", str(grid.plan), str(path), "--out", str(applied)])
    assert res.exit_code == 0, res.output
    kpis = read_table(applied / "kpis.csv").astype({"territory_id": str}).set_index("territory_id")
    first = original.drop_duplicates("territory_id").set_index("territory_id")
    for tid, row in first.iterrows():
        assert kpis.loc[tid, "name"] == row["name"] and kpis.loc[tid, "parent"] == row["parent"]
    rows = read_table(applied / "assignments.csv").astype({"block_id": str, "territory_id": str})
    in_block = rows[rows["block_id"] == block]
    assert len(in_block) > 0 and set(in_block["territory_id"]) == {into["territory_id"]}
    before = read_table(out / "kpis.csv").astype({"territory_id": str}).set_index("territory_id")
    gained = float(kpis.loc[into["territory_id"], "accounts"])
    assert gained == float(before.loc[into["territory_id"], "accounts"]) + len(in_block)


def test_freehand_shape_exports_geojson_usable_as_territory_layer(page, tmp_path):
    page.check(".te-edit")
    page.click(".te-draw")
    for lat, lon in [(42.0, -90.0), (42.0, -82.0), (36.0, -82.0), (36.0, -90.0)]:
        x, y = container_point(page, f"L.latLng({lat}, {lon})")
        page.mouse.click(x, y)
    page.fill(".te-shape-name", "New <b>West</b>")
    page.click(".te-draw")  # Finish shape
    with page.expect_download() as download:
        page.click(".te-export-shapes")
    path = tmp_path / "territories.geojson"
    download.value.save_as(path)
    data = json.loads(path.read_text())
    assert len(data["features"]) == 1
    feature = data["features"][0]
    assert feature["properties"]["territory_id"] == "New <b>West</b>"
    ring = feature["geometry"]["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]
    # coordinates round-trip from screen to map to within a screen pixel at this zoom
    assert abs(ring[0][0] - -90.0) < 0.2 and abs(ring[0][1] - 42.0) < 0.2
    layer = territory.load_territories(str(path))
    assert layer.territories["territory_id"].tolist() == ["New <b>West</b>"]
    assert page.locator("b:text('West')").count() == 0  # the name stayed text
    assert page.errors == []


def test_screenshot_of_edit_mode(page):
    from pathlib import Path

    from PIL import Image

    out = Path(os.environ.get(OUTPUT_ENV, Path(__file__).parents[1] / "build" / "test-output"))
    out.mkdir(parents=True, exist_ok=True)
    page.check(".te-edit")
    png = out / "demo-map-edit.png"
    page.screenshot(path=str(png))
    image = Image.open(io.BytesIO(png.read_bytes())).convert("RGB").resize((140, 90))
    assert len(image.getcolors(maxcolors=140 * 90)) > 60


def test_hostile_names_stay_text_in_the_editor_and_points(browser, tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    hostile = [
        "<img src=x onerror=\"document.title='pwned'\">",
        "</script><script>document.title='pwned'</script>",
    ]
    blocks = gpd.GeoDataFrame(
        {"block_id": hostile + ["plain"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        crs=4326,
    )
    alignment = pd.DataFrame(
        {"block_id": hostile + ["plain"], "territory_id": ["A", "B", "B"], "name": hostile + [""]}
    )
    accounts = pd.DataFrame(
        {"account_id": hostile, "lat": [0.5, 0.5], "lon": [0.5, 1.5], "revenue": [1.0, 2.0]}
    )
    result = territory.run(accounts, blocks, alignment=alignment)
    html = tmp_path / "hostile.html"
    result.to_map().save(str(html))
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(html.as_uri())
    page.check(".te-edit")
    page.wait_for_selector(".te-totals tbody tr")
    x, y = container_point(page, "L.latLng(0.5, 0.5)")
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    assert page.title() != "pwned"
    assert page.locator("img[src='x']").count() == 0
    assert hostile[0] in page.locator(".te-territory").inner_text()
    assert hostile[0] in page.locator(".te-totals").inner_text()
    assert errors == []
    page.close()


@pytest.mark.parametrize("viewport", [(1280, 800), (1400, 900), (390, 844)])
def test_every_territory_is_painted(browser, demo_map, viewport):
    """Each territory's interior shows its fill colour on screen, not the map background.

    Checked on the screenshot at points the browser reports inside each territory's path, at
    window sizes where the layer control starts collapsed and open.
    """
    import io

    import numpy as np
    from PIL import Image

    width, height = viewport
    page = browser.new_page(viewport={"width": width, "height": height})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    page.goto(demo_map.as_uri())
    page.wait_for_timeout(800)
    inside = page.evaluate(
        """() => Array.from(document.querySelectorAll('.leaflet-overlay-pane svg path'))
          .map(p => { const r = p.getBoundingClientRect();
            for (let fy = 0.05; fy < 1; fy += 0.1) for (let fx = 0.05; fx < 1; fx += 0.1) {
              const x = r.x + r.width * fx, y = r.y + r.height * fy;
              if (x > 0 && y > 0 && x < innerWidth && y < innerHeight
                  && document.elementFromPoint(x, y) === p) return [x, y, p.getAttribute('fill')];
            } return null; })
          .filter(v => v)"""
    )
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(int)
    page.close()
    assert len(inside) >= 5
    background = np.array([221, 221, 221])
    unpainted = [
        (x, y, fill) for x, y, fill in inside if (shot[int(y), int(x)] == background).all()
    ]
    assert unpainted == []
