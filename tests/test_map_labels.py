"""Territory labels do not pile up: where names would overlap, the larger territory's name is
shown and the other waits until zooming in makes room (checked in Chromium, against the label
boxes the browser lays out)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

import territory

from .conftest import offline_page

VISIBLE_BOXES = """() => [...document.querySelectorAll('.territory-label')]
  .filter(e => e.checkVisibility())
  .map(e => { const r = e.getBoundingClientRect();
              return [e.textContent, r.left, r.top, r.right, r.bottom]; })"""


@pytest.fixture(scope="module")
def crowded():
    """A 12 x 12 grid of 0.5-degree territories with long names, and one large territory: at
    the view of the whole layer the names cannot all fit."""
    cells = [shapely.box(x, y, x + 0.5, y + 0.5) for y in np.arange(0, 6, 0.5)
             for x in np.arange(0, 6, 0.5)]  # fmt: skip
    big = shapely.box(6, 0, 12, 6)
    return gpd.GeoDataFrame(
        {"territory_id": [f"T{i:03d}" for i in range(len(cells))] + ["BIG"],
         "name": [f"Territory number {i} of the north" for i in range(len(cells))]
         + ["The large one {{ 7*7 }}"]},
        geometry=[*cells, big], crs=4326,
    )  # fmt: skip


def _overlapping(boxes) -> list[tuple[str, str]]:
    pairs = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]:
                pairs.append((a[0], b[0]))
    return pairs


def test_shown_labels_never_overlap_and_zooming_in_shows_the_rest(browser, crowded, tmp_path):
    path = tmp_path / "map.html"
    fmap = territory.explore(crowded, "territory", reference=False)
    path.write_text(fmap.get_root().render(), encoding="utf-8")
    page = offline_page(browser, path, ".territory-label", width=900, height=600)
    page.wait_for_timeout(300)
    boxes = page.evaluate(VISIBLE_BOXES)
    names = [b[0] for b in boxes]
    # every label is in the page; the large territory's is shown; the shown ones do not overlap
    assert page.locator(".territory-label").count() == len(crowded)
    assert "The large one {{ 7*7 }}" in names
    assert 0 < len(boxes) < len(crowded)
    assert _overlapping(boxes) == []
    # zoomed in on one small territory, its name has room
    hidden = sorted(set(crowded["name"]) - set(names))[0]
    cell = crowded.loc[crowded["name"] == hidden].geometry.iloc[0]
    map_js = fmap.get_name()
    centre = f"[{cell.centroid.y}, {cell.centroid.x}]"
    page.evaluate(f"{map_js}.setView({centre}, 11, {{animate: false}})")
    page.wait_for_timeout(300)
    after = page.evaluate(VISIBLE_BOXES)
    assert hidden in [b[0] for b in after]
    assert _overlapping(after) == []
    # and zoomed back out it gives way again
    page.evaluate(f"{map_js}.fitBounds([[0, 0], [6, 12]], {{animate: false}})")
    page.wait_for_timeout(300)
    assert _overlapping(page.evaluate(VISIBLE_BOXES)) == []
    assert page.problems == []
    page.close()


def test_the_mouse_goes_through_a_label_to_its_territory(browser, crowded, tmp_path):
    path = tmp_path / "map.html"
    path.write_text(territory.explore(crowded, "territory", reference=False).get_root().render(),
                    encoding="utf-8")  # fmt: skip
    page = offline_page(browser, path, ".territory-label", width=900, height=600)
    label = page.locator(".territory-label", has_text="The large one")
    box = label.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = page.locator(".leaflet-tooltip").first
    tip.wait_for(state="visible")
    assert "BIG" in tip.inner_text()
    page.close()
