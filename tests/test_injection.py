"""Hostile names in every page the product writes: never evaluated, never executed, shown as text.

Every user string of a small generated plan (territory ids and names, regions, reps, block ids,
account ids and names, segment labels and axis names, a measure column, plan name and source,
localisation strings) carries a Jinja, HTML or JavaScript payload. The pages written by
`territory run`, `territory map --kpi`, `territory track` and `territory briefs` are opened in
headless Chromium (no network): no `window.pwn`, no dialog, no script error, and each name is
on the page exactly as written.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

import territory
from territory.cli import cli

from .test_map_interaction import container_point

PAYLOADS = [
    "{{ 7*7 }}",
    "{{ cycler.__init__.__globals__.os.getpid() }}",
    "{#1 supplier",
    "{% if true %}evaluated{% endif %}",
    "${window.pwn=1}`",
    "</script><script>window.pwn=2</script>",
    "<img src=x onerror=window.pwn=7>",
    "&lt;b&gt; &amp; &#36;",
    '" onmouseover="window.pwn=4',
    "' onmouseover='window.pwn=5",
    "{{ lipsum.__globals__.os.getcwd() }}",
    "{{ config }}{{ self }}%}",
]


def hostile(tag: str, i: int) -> str:
    return f"{tag}{i} {PAYLOADS[i % len(PAYLOADS)]}"


def evaluated(value: str) -> str | None:
    """What ``value`` would become if rendered as a Jinja template (None: no telltale text)."""
    try:
        out = jinja2.Template(value).render()
    except jinja2.TemplateError:
        return None
    return out if out not in value else None


def json_decoded(page: str) -> str:
    """The page with JSON ``\\uXXXX`` escapes decoded."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)


def decoded(page: str) -> str:
    """The page's text with JSON escapes and HTML references decoded."""
    return html.unescape(json_decoded(page))


# ---------------------------------------------------------------------------------------------
# The escaping primitives and the render (fast, no browser)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON_VALUES, st.lists(st.sampled_from(PAYLOADS + ["{", "}", '"', "\\"]))))
def test_script_json_round_trips_and_leaves_no_delimiter(value):
    from territory.maps.safe import script_json

    out = script_json(value)
    assert json.loads(out) == value
    for char in "<>&%#$'`\u2028\u2029":
        assert char not in out
    for token in re.findall(r'"[^"\\]*(?:\\.[^"\\]*)*"', out):  # every string token
        assert "{" not in token and "}" not in token
    assert not re.search(r"\{\{|\{%|\{#", out)


def test_text_is_html_escape_that_also_hides_template_characters():
    from territory.maps.safe import text

    for payload in PAYLOADS:
        out = text(payload)
        assert html.unescape(out) == payload
        assert not set("<>\"'`{}%$") & set(out)
    assert text("Gulf & Tennessee <Valley>") == html.escape("Gulf & Tennessee <Valley>")


def small_result(names, accounts_names, plugins=None, **options):
    n = len(names)
    layer = gpd.GeoDataFrame(
        {"territory_id": [f"t{i}" for i in range(n)], "name": names, "parent": names[::-1]},
        geometry=[box(i, 0, i + 1, 1) for i in range(n)],
        crs=4326,
    )
    accounts = pd.DataFrame(
        {
            "account_id": accounts_names,
            "name": accounts_names[::-1],
            "lat": 0.5,
            "lon": [i + 0.5 for i in range(n)],
            "revenue": [1.0 + i for i in range(n)],
        }
    )
    return territory.run(accounts, layer, plugins=plugins, **options)


def test_template_syntax_in_names_is_data_in_the_rendered_map():
    names = ["T{{ 7*7 }}", "Acme {#1 supplier", "X {% raw %}", "Texas {{ lipsum }}"]
    ids = ["a{{ cycler.__init__.__globals__.os.getpid() }}", "b {#", "c %}", "d }}"]
    result = small_result(names, ids, name="Plan {{ 6*7 }}")
    page = result.to_map(title="Title {#", source="Source {{ 1+1 }}").get_root().render()
    # nothing of any name can open a Jinja tag, so no second render could evaluate it
    assert not re.search(r"\{\{|\{%|\{#", page)
    text = decoded(page)
    for name in [*names, *ids, "Title {#", "Source {{ 1+1 }}"]:
        assert name in text
    assert "T49" not in text and f"a{os.getpid()}" not in text
    for name in names + ids:
        assert evaluated(name) is None or evaluated(name) not in text


def test_plugin_layers_render_as_text_and_their_names_are_escaped():
    import folium

    from territory.maps.safe import text
    from territory.plugins import get_plugins

    name = "L {{ 7*7 }} <img src=x onerror=window.pwn=7>"

    class Layers:
        @territory.hookimpl
        def register_map_layers(self, register):
            def build(result, fmap):
                group = folium.FeatureGroup(name=name).add_to(fmap)
                popup = folium.Popup("P {{ 6*7 }}")  # unescaped, yet not evaluated
                folium.Marker([0.5, 0.5], tooltip=text(name), popup=popup).add_to(group)

            register(territory.MapLayer("hostile_layer", build))

    plugins = get_plugins()
    plugins.register(Layers(), name="hostile-layers")
    page = small_result(["A", "B"], ["a", "b"], plugins=plugins).to_map().get_root().render()
    assert "L 49" not in decoded(page) and name in decoded(page)
    assert "P 42" not in page and "P {{ 6*7 }}" in page
    # the layer control gets the name as escaped text (Leaflet inserts it as HTML)
    assert f'{text(name)}":' in json_decoded(page) and f'{name}":' not in json_decoded(page)


# ---------------------------------------------------------------------------------------------
# Every page of the CLI, from a generated plan whose every name is hostile


@dataclass
class Hostile:
    folder: Path
    plan: Path
    territory_ids: list[str]
    names: list[str]
    parents: list[str]
    block_ids: list[str]
    account_ids: list[str]
    account_names: list[str]
    segment: str  # the account column broken down in KPIs and tracking
    labels: list[str]
    measure: str
    axis: str
    plan_name: str
    credits: str


def write_hostile_plan(folder: Path) -> Hostile:
    """Four territories of two 0.5-degree blocks each in central Texas, twelve accounts."""
    n_t, per, n_a = 4, 2, 12
    tids = [hostile("T", i) for i in range(n_t)]
    names = [hostile("N", i + 1) for i in range(n_t)]
    parents = [hostile("P", i + 2) for i in range(n_t)]
    bids = [hostile("B", 4 + k) for k in range(n_t * per)]
    blocks = gpd.GeoDataFrame(
        {"block_id": bids},
        geometry=[box(-100 + 0.5 * k, 31, -99.5 + 0.5 * k, 31.5) for k in range(n_t * per)],
        crs=4326,
    )
    blocks.to_file(folder / "blocks.geojson")
    owner = [k // per for k in range(n_t * per)]
    pd.DataFrame(
        {
            "block_id": bids,
            "territory_id": [tids[t] for t in owner],
            "name": [names[t] for t in owner],
            "parent": [parents[t] for t in owner],
            "rep": [hostile("R", t + 3) for t in owner],
        }
    ).to_csv(folder / "alignment.csv", index=False)
    segment, measure = "S_Seg " + PAYLOADS[5], "M_Rev " + PAYLOADS[6]
    labels = [hostile("L", i) for i in range(3)]
    accounts = pd.DataFrame(
        {
            "account_id": [hostile("A", i) for i in range(n_a)],
            "name": [hostile("C", i + 5) for i in range(n_a)],
            "lat": 31.4,  # off the labels (at 31.25)
            "lon": [-99.9 + 0.33 * i for i in range(n_a)],
            "revenue": [100.0 + 10 * i for i in range(n_a)],
            "revenue_prior": [90.0 + 10 * i for i in range(n_a)],
            measure: [float(i) for i in range(n_a)],
            segment: [labels[i % 3] for i in range(n_a)],
        }
    )
    accounts.to_csv(folder / "accounts.csv", index=False)
    pd.DataFrame(
        {
            "account": np.repeat(accounts["account_id"].to_numpy(), 3),
            "day": ["2016-03-01", "2017-02-01", "2017-05-01"] * n_a,
            "amount": [40.0, 50.0, 60.0] * n_a,
        }
    ).to_csv(folder / "orders.csv", index=False)
    pd.DataFrame(
        {
            "key": tids,
            "language": [hostile("lang", i) for i in range(n_t)],
            "currency": [hostile("cur", i + 1) for i in range(n_t)],
        }
    ).to_csv(folder / "locale.csv", index=False)
    q = json.dumps
    plan_name, credits, axis = hostile("Plan ", 1), hostile("Source ", 10), "V " + PAYLOADS[2]
    (folder / "plan.toml").write_text(
        f"""name = {q(plan_name)}
credits = {q(credits)}
[accounts]
path = "accounts.csv"
measures = ["revenue", "revenue_prior", {q(measure)}]
[blocks]
path = "blocks.geojson"
id = "block_id"
[alignment]
path = "alignment.csv"
[targets]
from = "revenue_prior"
growth = 0.1
[kpis]
segments = [{q(segment)}]
[[segments]]
axis = "value_tier"
name = {q(axis)}
column = "revenue"
[[adjustments]]
adjustment = "localisation"
table = "locale.csv"
by = "territory_id"
message = "Hi {{key}} in {{language}}"
[tracking]
orders = "orders.csv"
account = "account"
date = "day"
amount = "amount"
segment = {q(segment)}
as_of = "2017-06-30"
[outputs]
dir = "out"
""",
        encoding="utf-8",
    )
    return Hostile(folder, folder / "plan.toml", tids, names, parents, bids,
                   list(accounts["account_id"]), list(accounts["name"]), segment, labels,
                   measure, axis, plan_name, credits)  # fmt: skip


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Run every page-writing command on the hostile plan; {page: path} and the plan."""
    folder = tmp_path_factory.mktemp("hostile")
    plan = write_hostile_plan(folder)
    out = folder / "out"
    runner = CliRunner()
    commands = [
        ["run", str(plan.plan), "--out", str(out)],
        ["map", str(plan.plan), "--kpi", plan.measure, "-o", str(out / "kpi-map.html")],
        ["track", str(plan.plan), "--out", str(out)],
    ]
    try:
        import territory_campaign_briefs  # noqa: F401
    except ImportError:
        briefs = False
    else:
        briefs = True
        commands.append(["briefs", str(plan.plan), "-o", str(out / "briefs"),
                         "--segment-column", plan.segment])  # fmt: skip
    for args in commands:
        run = runner.invoke(cli, args)
        assert run.exit_code == 0, (args[0], run.output, run.exception)
    names = ["map.html", "kpi-map.html", "tracking-map.html", "tracking-status-map.html",
             "dashboard.html"] + (["briefs/briefs.html"] if briefs else [])  # fmt: skip
    return plan, {name: out / name for name in names}


MAPS = ["map.html", "kpi-map.html", "tracking-map.html", "tracking-status-map.html"]


@pytest.mark.slow
def test_every_command_writes_its_pages_and_maps_hold_no_template_tag(pages):
    from territory.maps.safe import text

    plan, paths = pages
    for name, path in paths.items():
        assert path.exists(), name
    for name in MAPS:
        page = paths[name].read_text(encoding="utf-8")
        assert not re.search(r"\{\{|\{%|\{#", page), name
        # the names are shown as escaped text (in the title box) and evaluated nowhere
        assert text(plan.plan_name) in page, name
        data = decoded(page)
        values = [plan.plan_name, plan.credits, *plan.names, *plan.territory_ids,
                  *plan.parents, *plan.block_ids, *plan.account_ids, *plan.account_names,
                  *plan.labels]  # fmt: skip
        assert not [v for v in values if evaluated(v) and evaluated(v) in data], name


def open_page(browser, path: Path):
    page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(f"error: {exc}"))
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: (page.problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
               else route.continue_())  # fmt: skip
    page.goto(path.as_uri())
    return page


def assert_inert(page) -> None:
    """Nothing of the names ran: no flag, no dialog, no error, no injected element."""
    assert page.evaluate("typeof window.pwn") == "undefined"
    assert page.evaluate("document.querySelectorAll('[onerror],[onmouseover],img').length") == 0
    assert page.problems == []


def shown(page) -> str:
    return page.evaluate("document.body.innerText")


def hover_text(page, js_latlng: str) -> str:
    x, y = container_point(page, js_latlng)
    page.mouse.move(x, y)
    page.wait_for_selector(".leaflet-tooltip")
    page.wait_for_timeout(50)
    return page.evaluate(
        "[...document.querySelectorAll('.leaflet-tooltip')].map(t => t.innerText).join('\\n')"
    )


@pytest.mark.slow
def test_plan_map_shows_every_name_as_text(browser, pages):
    plan, paths = pages
    page = open_page(browser, paths["map.html"])
    page.wait_for_selector("canvas.territory-points[data-drawn]")
    text = shown(page)
    for value in [plan.plan_name, plan.credits, *plan.names, f"Accounts by {plan.segment}",
                  f"Accounts by {plan.axis}"]:  # fmt: skip
        assert value in text, value
    for t in range(len(plan.territory_ids)):  # the tooltip of each territory, off its label
        tip = hover_text(page, f"L.latLng(31.05, {-99.8 + t})")
        for value in (plan.names[t], plan.territory_ids[t], plan.parents[t]):
            assert value in tip, value
    tip = hover_text(page, "L.latLng(territoryPoints[0].lat[3], territoryPoints[0].lon[3])")
    assert f"Account: {plan.account_ids[3]}" in tip and f"Name: {plan.account_names[3]}" in tip
    # the segment layer: its caption and the account's label in the tooltip
    control = page.locator(".leaflet-control-layers-overlays label")
    control.filter(has_text=f"Accounts by {plan.segment}").locator("input").check()
    page.mouse.move(0, 0)
    layer = f"territoryPoints.find(p => p._data.field === {json.dumps(plan.segment)})"
    tip = hover_text(page, f"L.latLng({layer}.lat[4], {layer}.lon[4])")
    assert f"{plan.segment}: {plan.labels[4 % 3]}" in tip
    assert_inert(page)
    page.close()


@pytest.mark.slow
def test_editor_keeps_block_and_territory_names_as_text(browser, pages, tmp_path):
    plan, paths = pages
    page = open_page(browser, paths["map.html"])
    page.check(".te-edit")
    options = page.locator(".te-territory option").all_inner_texts()
    assert options == plan.names
    rows = page.locator(".te-totals tbody tr")
    assert [rows.nth(i).get_attribute("data-territory") for i in range(rows.count())] == (
        plan.territory_ids
    )
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())] == (
        plan.names
    )
    tip = hover_text(page, "L.latLng(31.45, -99.9)")
    assert f"{plan.block_ids[0]} \u2192 {plan.names[0]}" in tip
    with page.expect_download() as download:
        page.click(".te-export")
    exported = pd.read_csv(io.StringIO(Path(download.value.path()).read_text()), dtype=str)
    assert list(exported["block_id"]) == plan.block_ids
    assert list(exported["territory_id"]) == [t for t in plan.territory_ids for _ in (0, 1)]
    assert_inert(page)
    page.close()


@pytest.mark.slow
def test_kpi_map_named_by_a_hostile_measure(browser, pages):
    plan, paths = pages
    page = open_page(browser, paths["kpi-map.html"])
    page.wait_for_selector(".leaflet-control-layers")
    assert f"Territories by {plan.measure}" in page.locator(".leaflet-control-layers").inner_text()
    assert plan.measure in page.locator(".territory-legend").inner_text()
    assert f"{plan.measure} by territory" in page.locator(".territory-title").inner_text()
    assert_inert(page)
    page.close()


@pytest.mark.slow
def test_tracking_maps_dashboard_and_briefs_show_names_as_text(browser, pages):
    plan, paths = pages
    for name in ("tracking-map.html", "tracking-status-map.html"):
        page = open_page(browser, paths[name])
        page.wait_for_selector(".territory-title")
        assert plan.plan_name in page.locator(".territory-title").inner_text()
        assert all(n in shown(page) for n in plan.names)
        tip = hover_text(page, "L.latLng(31.05, -97.8)")
        assert plan.names[2] in tip and plan.territory_ids[2] in tip
        assert_inert(page)
        page.close()
    page = open_page(browser, paths["dashboard.html"])
    assert plan.segment in page.locator("th").all_inner_texts()  # a column name, as written
    text = shown(page)
    for value in [plan.plan_name, f"Territory x {plan.segment}", plan.segment, *plan.names,
                  *plan.territory_ids, *plan.labels]:  # fmt: skip
        assert value in text, value
    assert_inert(page)
    page.close()
    if "briefs/briefs.html" not in paths:
        pytest.skip("territory-campaign-briefs is not installed")
    page = open_page(browser, paths["briefs/briefs.html"])
    text = shown(page)
    for value in [plan.plan_name, *plan.names, *plan.territory_ids, *plan.labels]:
        assert value in text, value
    assert_inert(page)
    page.close()
