"""Fixtures of the campaign-briefs tests: a small literal plan and headless Chromium."""

from __future__ import annotations

import os
import shutil

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

import territory

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# (territory_id, name, bounds) and accounts (territory, lon, lat, segment, revenue, prior):
# Puerto Rico, Washington DC, a territory in France (outside every US state) and an empty one.
TERRITORIES = [
    ("PR", "Isla", (-67.3, 17.9, -65.6, 18.55)),
    ("DC", "District", (-77.12, 38.8, -76.9, 39.0)),
    ("FR", "France", (-5.0, 42.0, 8.0, 51.0)),
    ("NV", "Empty", (-117.0, 38.0, -116.0, 39.0)),  # no accounts
]
ACCOUNTS = [
    ("PR", -66.035, 18.234, "Finance", 900.0, 600.0),
    ("PR", -66.155, 18.370, "Finance", 300.0, 400.0),
    ("PR", -66.700, 18.265, "Retail", 200.0, 0.0),
    ("DC", -77.036, 38.907, "Retail", 500.0, 1000.0),
    ("DC", -77.010, 38.890, "Finance", 100.0, 200.0),
    ("FR", 2.350, 48.860, "Retail", 400.0, 400.0),
    ("FR", 4.830, 45.760, "Finance", 0.0, 100.0),
]


def make_literal_plan(names: dict[str, str] | None = None, **adjustment) -> territory.Plan:
    """A four-territory plan with a ``campaign_brief`` adjustment (names can be replaced)."""
    names = names or {}
    layer = gpd.GeoDataFrame(
        {"territory_id": [t for t, _, _ in TERRITORIES],
         "name": [names.get(t, n) for t, n, _ in TERRITORIES]},
        geometry=[box(*b) for _, _, b in TERRITORIES], crs="EPSG:4326",
    )  # fmt: skip
    accounts = pd.DataFrame(
        [(f"a{i}", lon, lat, seg, rev, prior)
         for i, (_, lon, lat, seg, rev, prior) in enumerate(ACCOUNTS)],
        columns=["account_id", "lon", "lat", "segment", "revenue", "revenue_prior"],
    )  # fmt: skip
    return territory.make_plan(
        accounts, layer, measures=["revenue", "revenue_prior"], target_from="revenue_prior",
        target_growth=0.1, adjustments=[{"adjustment": "campaign_brief", **adjustment}],
    )  # fmt: skip


@pytest.fixture
def literal_plan():
    """Builds the literal plan: ``literal_plan(names={"FR": ...}, **adjustment_params)``."""
    return make_literal_plan


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: make test installs it (scripts/ensure-test-tools.sh)")
        pytest.skip("chromium not installed (make test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
