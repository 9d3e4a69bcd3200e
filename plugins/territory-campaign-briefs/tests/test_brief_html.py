"""The HTML brief in headless Chromium (system browser, no network): one section per
territory, self-contained, and hostile names shown as text."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from territory_campaign_briefs import briefs_for, write_briefs

from territory.cli import cli

DATA = Path(str(resources.files("territory.data")))
PLAN = DATA / "demo_plan.toml"
OUTPUT_ENV = "TERRITORY_TEST_OUTPUT"  # set it to keep the screenshots


def open_offline(browser, path: Path):
    """``path`` in a new page where every non-file request is refused and recorded."""
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    page.outside, page.errors = [], []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))

    def route(r):
        if r.request.url.startswith("file:"):
            return r.continue_()
        page.outside.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    return page


def keep_screenshot(page, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get(OUTPUT_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / name
    page.screenshot(path=str(png), full_page=True)
    return png


@pytest.mark.slow  # runs the demo plan and a browser: ~10 s
def test_brief_page_has_one_section_per_territory_with_figures_and_locale(browser, tmp_path):
    out = tmp_path / "briefs"
    result = CliRunner().invoke(cli, ["briefs", str(PLAN), "-o", str(out)])
    assert result.exit_code == 0, result.output
    alignment = pd.read_csv(DATA / "demo_alignment.csv", dtype=str).dropna(subset="territory_id")
    names = alignment.drop_duplicates("territory_id").set_index("territory_id")["name"]
    page = open_offline(browser, out / "briefs.html")
    sections = page.locator("section.brief")
    assert sections.count() == len(names)
    ids = [sections.nth(i).get_attribute("data-territory") for i in range(sections.count())]
    assert sorted(ids) == sorted(names.index)
    for i in range(sections.count()):
        s = sections.nth(i)
        name = names[ids[i]]
        assert s.locator("h2").inner_text() == name
        assert s.locator(".headline").inner_text().strip()
        assert s.locator("dl.figures dt").count() >= 6
        assert s.locator(".segments tbody tr").count() >= 1
        assert "USD" in s.locator(".locale").inner_text()
    # readable: the text is not squeezed, each section is at least as wide as the figures grid
    assert sections.first.bounding_box()["width"] > 900
    assert page.outside == [] and page.errors == []
    assert keep_screenshot(page, tmp_path, "briefs-demo.png").stat().st_size > 10_000
    page.close()


HOSTILE = {"FR": "<img src=x onerror=window.pwn=1>", "DC": "{{7*7}}"}


def test_hostile_territory_names_show_as_text(browser, tmp_path, literal_plan):
    briefs, _ = briefs_for(literal_plan(names=HOSTILE))
    write_briefs(briefs, tmp_path / "b", "Briefs for {{7*7}} <script>window.pwn=2</script>")
    page = open_offline(browser, tmp_path / "b" / "briefs.html")
    assert page.evaluate("() => window.pwn") is None
    assert page.locator("img, script").count() == 0
    assert page.locator("h1").inner_text() == "Briefs for {{7*7}} <script>window.pwn=2</script>"
    fr = page.locator("section.brief[data-territory=FR]")
    assert fr.locator("h2").inner_text() == HOSTILE["FR"]
    assert HOSTILE["FR"] in fr.locator(".locale .note").inner_text()  # the note names it too
    dc = page.locator("section.brief[data-territory=DC]")
    assert dc.locator("h2").inner_text() == "{{7*7}}"
    assert "49" not in page.locator("nav").inner_text()
    assert page.outside == [] and page.errors == []
    keep_screenshot(page, tmp_path, "briefs-hostile.png")
    page.close()


def test_brief_page_prints_without_the_navigation(browser, tmp_path, literal_plan):
    briefs, _ = briefs_for(literal_plan())
    write_briefs(briefs, tmp_path / "b", "Briefs")
    page = open_offline(browser, tmp_path / "b" / "briefs.html")
    page.emulate_media(media="print")
    assert not page.locator("nav").is_visible()
    assert page.locator("section.brief").count() == 4
    assert page.pdf()[:4] == b"%PDF"
    page.close()
