"""Printing and saving the map, its reference layer, the as-of date and the currency unit.

Browser checks run in headless Chromium (no network): the print stylesheet, the PNG button
(the downloaded image decoded with PIL), and the "Reference" overlay, whose cities are checked
against the embedded cities table filtered by the view in pandas.
"""

from __future__ import annotations

import io
import re
from datetime import date
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

import territory
from territory.cli import cli
from territory.errors import ValidationError

from .grid_plan import write_grid_plan

# Blocks of 2 x 2 degrees over central and east Texas, two territories (west, east).
WEST, SOUTH = -100.0, 29.0
ACCOUNTS = pd.DataFrame(
    {
        "account_id": [f"a{i}" for i in range(8)],
        "lon": [-99.5, -98.5, -99.2, -98.2, -95.5, -94.5, -95.2, -94.4],
        "lat": [29.5, 30.5, 32.5, 31.5, 29.6, 30.4, 32.4, 31.2],
        "revenue": [100.0, 200.0, 300.0, 400.0, 1000.0, 2000.0, 3000.0, 4000.0],
        "last_order": ["2019-01-05", "2019-11-30", "2018-06-01", "2019-02-02", "2019-03-03",
                       "2019-04-04", "2019-05-05", "2019-06-06"],
    }
)  # fmt: skip


def blocks_and_alignment():
    cells = [(c, r) for c in range(3) for r in range(2)]
    ids = [f"b{c}{r}" for c, r in cells]
    blocks = gpd.GeoDataFrame(
        {"block_id": ids},
        geometry=[box(WEST + 2 * c, SOUTH + 2 * r, WEST + 2 * c + 2, SOUTH + 2 * r + 2)
                  for c, r in cells],
        crs=4326,
    )  # fmt: skip
    alignment = pd.DataFrame(
        {"block_id": ids, "territory_id": ["W" if b[1] == "0" else "E" for b in ids]}
    )
    return blocks, alignment


def texas_plan(**options) -> territory.Plan:
    blocks, alignment = blocks_and_alignment()
    return territory.make_plan(
        ACCOUNTS, blocks=blocks, alignment=alignment, measures=["revenue"], **options
    )


def subtitle(fmap) -> str:
    html = fmap.get_root().render()
    box_html = html[html.index('class="territory-title"') :]
    return re.findall(r'<div style="color:#444;">(.*?)</div>', box_html)[0]


@pytest.fixture(scope="module")
def texas_map(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "map.html"
    texas_plan(currency="EUR").run().to_map().save(str(path))
    return path


def open_page(browser, path, **media):
    page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith(
        ("file:", "blob:", "data:")) else route.continue_())  # fmt: skip
    page.goto(path.as_uri())
    page.wait_for_selector("canvas.territory-points[data-drawn]")
    page.errors = errors
    return page


def test_print_shows_map_title_legend_and_scale_without_controls(browser, texas_map):
    page = open_page(browser, texas_map)
    controls = [".leaflet-control-zoom", ".leaflet-control-layers", ".territory-editor",
                ".territory-tools"]  # fmt: skip
    assert all(page.locator(c).is_visible() for c in controls)  # on screen they are there
    page.emulate_media(media="print")
    for hidden in [*controls, ".territory-export"]:
        assert page.locator(hidden).count() == 1
        assert not page.locator(hidden).is_visible(), hidden
    for shown in [".territory-title", ".territory-kpi-legend", ".leaflet-control-scale",
                  "path.leaflet-interactive"]:  # fmt: skip
        assert page.locator(shown).first.is_visible(), shown
    sheet = page.evaluate(
        "() => [...document.styleSheets].flatMap(s => [...s.cssRules]).map(r => r.cssText)"
        ".filter(t => t.startsWith('@media print')).join(' ')"
    )
    assert "landscape" in sheet  # A4 / Letter landscape
    assert page.errors == []
    page.close()


def _rgb(css: str) -> np.ndarray:
    if css.startswith("#"):
        return np.array([int(css[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return np.array([float(v) for v in re.findall(r"[\d.]+", css)[:3]])


def _has_colour(pixels: np.ndarray, colour: np.ndarray, tol: float = 6.0) -> int:
    return int((np.abs(pixels - colour).max(axis=-1) <= tol).sum())


def test_png_button_saves_the_view_with_title_and_legend(browser, texas_map, tmp_path):
    from PIL import Image

    page = open_page(browser, texas_map)
    fills = page.evaluate(
        "() => [...document.querySelectorAll('.leaflet-overlay-pane path.leaflet-interactive')]"
        ".map(p => p.getAttribute('fill'))"
    )
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.leaflet-container')).backgroundColor"
    )
    title = page.locator(".territory-title").bounding_box()
    legend = page.locator(".territory-kpi-legend").bounding_box()
    swatches = page.evaluate(
        "() => [...document.querySelectorAll('.territory-kpi-legend .territory-swatch')]"
        ".map(s => getComputedStyle(s).backgroundColor)"
    )
    with page.expect_download() as download:
        page.click(".territory-export-png")
    target = tmp_path / download.value.suggested_filename
    download.value.save_as(target)
    assert target.suffix == ".png" and target.stat().st_size > 0
    image = Image.open(io.BytesIO(target.read_bytes())).convert("RGB")
    assert image.size == (1280, 800)
    pixels = np.asarray(image, dtype=float)
    assert pixels.std() > 10  # not blank
    # the territories, at the fill opacity of the layer (0.75) over the map background
    shown = [0.75 * _rgb(f) + 0.25 * _rgb(background) for f in fills]
    assert all(_has_colour(pixels, c) > 1000 for c in shown), (fills, background)

    def crop(rect):
        x, y, w, h = (int(rect[k]) for k in ("x", "y", "width", "height"))
        return pixels[y + 2 : y + h - 2, x + 2 : x + w - 2]

    title_pixels = crop(title)
    assert (title_pixels.mean(axis=-1) < 90).sum() > 200  # the title's text
    assert (title_pixels.mean(axis=-1) > 230).mean() > 0.5  # on its white box
    legend_pixels = crop(legend)
    assert all(_has_colour(legend_pixels, _rgb(s), 3) > 50 for s in swatches)
    # the controls are left out: no zoom button glyph where it sits on screen
    zoom = page.locator(".leaflet-control-zoom").bounding_box()
    assert _has_colour(crop(zoom), np.array([255.0, 255.0, 255.0]), 2) < 0.2 * zoom["width"] ** 2
    assert page.errors == []
    page.close()


def test_reference_layer_has_the_cities_near_the_view_and_keeps_territories_hoverable(
    browser, texas_map
):
    from territory.maps.reference import MARGIN, MAX_CITIES

    cities = pd.read_parquet(resources.files("territory.data") / "world_cities.parquet")
    x0, x1 = ACCOUNTS["lon"].min(), ACCOUNTS["lon"].max()  # the view: the accounts' box
    y0, y1 = ACCOUNTS["lat"].min(), ACCOUNTS["lat"].max()
    dx, dy = max(x1 - x0, 0.5) * MARGIN, max(y1 - y0, 0.5) * MARGIN
    near = cities[cities["lon"].between(x0 - dx, x1 + dx) & cities["lat"].between(y0 - dy, y1 + dy)]
    expected = set(near.nlargest(MAX_CITIES, "population")["name"])
    assert {"Houston", "San Antonio", "Dallas"} <= expected  # the oracle is not empty

    page = open_page(browser, texas_map)
    layer = "Object.values(window).find(v => v instanceof L.TerritoryReference)"
    drawn = page.evaluate(f"() => {layer}._data.cities.map(c => c[0])")
    assert set(drawn) == expected and len(drawn) == len(expected)
    assert page.evaluate(f"() => {layer}._data.states.length") > 0  # Texas: US state lines
    assert page.evaluate(f"() => {layer}._map !== null && {layer}._map !== undefined")
    labels = page.locator(".territory-city-label:visible").all_inner_texts()
    assert "Houston" in labels and set(labels) <= expected
    assert "Reference" in page.locator(".leaflet-control-layers").text_content()
    # the overlay takes no pointer: hovering a territory still shows its tooltip
    point = page.evaluate(
        """() => { const m = Object.values(window).find(v => v instanceof L.Map);
        const p = m.latLngToContainerPoint([30.0, -96.9]);
        const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }"""
    )
    page.mouse.move(*point)
    tip = page.locator(".leaflet-tooltip").first
    tip.wait_for(state="visible")
    assert "Revenue (EUR)" in tip.inner_text()
    assert page.errors == []
    page.close()


def test_subtitle_shows_the_tracking_date_on_tracking_maps(tmp_path):
    grid = write_grid_plan(tmp_path)
    out = tmp_path / "tracked"
    run = CliRunner().invoke(cli, ["track", str(grid.plan), "--as-of", "2017-05-31",
                                   "--out", str(out)])  # fmt: skip
    assert run.exit_code == 0, run.output
    for name in ("tracking-map.html", "tracking-status-map.html"):
        html = (out / name).read_text(encoding="utf-8")
        box_html = html[html.index('class="territory-title"') :]
        line = re.findall(r'<div style="color:#444;">(.*?)</div>', box_html)[0]
        assert line.endswith("as of 2017-05-31"), line


def test_subtitle_shows_the_plan_as_of_date_else_the_newest_account_date_else_built(tmp_path):
    blocks, alignment = blocks_and_alignment()
    blocks.to_file(tmp_path / "blocks.geojson")
    alignment.to_csv(tmp_path / "alignment.csv", index=False)
    ACCOUNTS.to_csv(tmp_path / "accounts.csv", index=False)
    base = {"accounts": {"path": "accounts.csv", "measures": ["revenue"]},
            "blocks": {"path": "blocks.geojson", "id": "block_id"},
            "alignment": {"path": "alignment.csv"}}  # fmt: skip
    dated = territory.Plan.from_dict({**base, "as_of": date(2019, 12, 31)}, base=tmp_path)
    assert subtitle(dated.run().to_map()).endswith("as of 2019-12-31")
    newest = ACCOUNTS["last_order"].max()  # the oracle: the newest date in the column
    plain = territory.Plan.from_dict(base, base=tmp_path)
    assert subtitle(plain.run().to_map()).endswith(f"as of {newest} (newest last_order)")
    ACCOUNTS.drop(columns="last_order").to_csv(tmp_path / "accounts.csv", index=False)
    assert subtitle(plain.run().to_map()).endswith(f"built {date.today():%Y-%m-%d}")
    with pytest.raises(ValidationError, match=r"as_of in .* is '2019-13-01'; expected a date"):
        territory.Plan.from_dict({**base, "as_of": "2019-13-01"}, base=tmp_path)


def test_currency_in_legend_and_tooltips_from_the_plan_and_per_region(tmp_path):
    html = texas_plan(currency="EUR").run().to_map().get_root().render()
    assert "Revenue (EUR)" in html  # legend caption and tooltip alias
    assert html.count("Revenue (EUR)") >= 3  # legend, territory tooltip, account tooltip
    plain = texas_plan().run().to_map().get_root().render()
    assert "Revenue (" not in plain and "USD" not in plain  # no currency: no unit
    table = tmp_path / "locale.csv"
    pd.DataFrame({"territory_id": ["W", "E"], "currency": ["EUR", "GBP"]}).to_csv(
        table, index=False
    )
    regional = texas_plan(
        currency="USD",
        adjustments=[{"adjustment": "localisation", "table": str(table), "by": "territory_id"}],
    ).run()
    html = regional.to_map().get_root().render()
    kpis = regional.kpis.set_index("territory_id")["revenue"]
    assert f"{kpis['W']:,.0f} EUR" in html and f"{kpis['E']:,.0f} GBP" in html
    assert "Revenue (territory currency)" in html


def test_bad_currency_code_is_a_clear_error(tmp_path):
    with pytest.raises(ValidationError, match=r"currency .*'EURO': not an ISO 4217 currency"):
        texas_plan(currency="EURO")
    with pytest.raises(ValidationError, match=r"'XYZ': not an ISO 4217 currency code"):
        texas_plan(currency="XYZ")
    data = {"accounts": {"path": "a.csv"}, "blocks": {"path": "b.geojson"},
            "alignment": {"path": "c.csv"}, "kpis": {"currency": "$"}}  # fmt: skip
    with pytest.raises(ValidationError, match=r"\[kpis\] currency in the plan is '\$'"):
        territory.Plan.from_dict(data)
    data["kpis"]["currency"] = 978  # the ISO number is not the code
    with pytest.raises(ValidationError, match=r"\[kpis\] currency in the plan is 978 \("):
        territory.Plan.from_dict(data)
    assert texas_plan(currency="eur").currency == "EUR"
