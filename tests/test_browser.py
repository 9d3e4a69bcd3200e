"""The demo map in a real headless Chromium with no network: shapes, legend, no errors, pixels."""

from __future__ import annotations

import html
import os
import re
import subprocess
from pathlib import Path

import pytest

from territory.cli import demo_plan
from tests.conftest import CHROMIUM

OUTPUT = Path(
    os.environ.get("TERRITORY_TEST_OUTPUT", Path(__file__).parents[1] / "build" / "test-output")
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=8000",
]


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: make test installs it (scripts/ensure-test-tools.sh)")
        pytest.skip("chromium not installed (make test installs it)")
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def demo_html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = demo_plan().with_outputs(dir=out, map="demo.html").run()
    result.write()
    return out / "demo.html"


@pytest.mark.slow
def test_demo_map_dom_in_chromium(demo_html, tmp_path):
    run = chromium(["--dump-dom", demo_html.as_uri()], tmp_path / "profile")
    dom = run.stdout
    # 15 territory outlines are SVG paths; accounts are drawn on one canvas (not 793 paths)
    assert dom.count('class="leaflet-interactive"') == 15
    assert 'data-drawn="793"' in dom
    # every territory has its label in the page (one may wait for room at this window size:
    # test_map_labels checks which are shown)
    assert len(re.findall(r'<div class="territory-label( territory-label-crowded)?"', dom)) == 15
    assert "territory-legend" in dom and "territory-title" in dom
    assert "Uncaught" not in run.stderr, run.stderr[-2000:]


@pytest.mark.slow
def test_demo_map_screenshot_is_a_real_map(demo_html, tmp_path):
    from PIL import Image

    OUTPUT.mkdir(parents=True, exist_ok=True)
    png = OUTPUT / "demo-map.png"
    run = chromium(
        ["--window-size=1400,900", f"--screenshot={png}", demo_html.as_uri()], tmp_path / "p"
    )
    assert png.exists(), run.stderr[-2000:]
    image = Image.open(png).convert("RGB").resize((140, 90))
    colours = image.getcolors(maxcolors=140 * 90)
    # A blank or failed page is one or two colours; the map has many fills, outlines and points.
    assert len(colours) > 60
    most_common = max(count for count, _ in colours)
    assert most_common < 0.6 * 140 * 90


HOSTILE = [
    "<img src=x onerror=\"document.title='pwned'\">",
    "</script><script>document.title='pwned'</script>",
    "\" onmouseover=\"document.title='pwned'",
]


@pytest.mark.slow
def test_hostile_names_do_not_execute_in_the_map(tmp_path):
    """Territory, account, segment and plan names that try to inject script stay text."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import box

    import territory

    layer = gpd.GeoDataFrame(
        {"territory_id": ["A", "B", "C"], "name": HOSTILE},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        crs=4326,
    )
    accounts = pd.DataFrame(
        {
            "account_id": HOSTILE,
            "name": HOSTILE,
            "lat": [0.5, 0.5, 0.5],
            "lon": [0.5, 1.5, 2.5],
            "revenue": [1.0, 2.0, 3.0],
            HOSTILE[0]: HOSTILE,  # a hostile column name used as a segment axis
        }
    )
    result = territory.run(accounts, layer, segments=[HOSTILE[0]], name=HOSTILE[1])
    page = tmp_path / "hostile.html"
    result.to_map().save(str(page))
    run = chromium(["--dump-dom", page.as_uri()], tmp_path / "profile")
    dom = run.stdout
    head = dom.split("<body")[0]
    title = re.search(r"<title>(.*?)</title>", head, re.S)
    assert title and html.unescape(title.group(1)) == HOSTILE[1]  # the plan name, as text
    assert "pwned" not in head.replace(title.group(0), "")
    assert '<img src="x"' not in dom
    assert "Uncaught" not in run.stderr, run.stderr[-2000:]
    # the map still works: three territory shapes and the escaped label text are there
    assert len(re.findall(r'<div class="territory-label( territory-label-crowded)?"', dom)) == 3
    assert "&lt;img src=x" in dom
