from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

DATA = Path(str(resources.files("territory.data")))


@pytest.fixture
def two_squares() -> gpd.GeoDataFrame:
    """Territories A = [0,1]x[0,1] and B = [1,2]x[0,1] (lon/lat), sharing the edge x = 1."""
    return gpd.GeoDataFrame(
        {"territory_id": ["B", "A"], "name": ["Bravo", "Alpha"], "target": [100.0, 200.0]},
        geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1)],
        crs="EPSG:4326",
    )


@pytest.fixture
def accounts_frame() -> pd.DataFrame:
    """Accounts covering every assignment method against :func:`two_squares`."""
    return pd.DataFrame(
        {
            "account_id": ["in-a", "in-b", "edge", "near", "far", "nowhere"],
            "lat": [0.5, 0.5, 0.5, 0.5, 5.0, None],
            "lon": [0.5, 1.5, 1.0, 2.05, 5.0, None],
            "revenue": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
            "pipeline": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "segment": ["x", "y", "x", "y", "x", "y"],
        }
    )


@pytest.fixture
def accounts_csv(tmp_path, accounts_frame) -> Path:
    path = tmp_path / "accounts.csv"
    accounts_frame.to_csv(path, index=False)
    return path


@pytest.fixture
def squares_geojson(tmp_path, two_squares) -> Path:
    path = tmp_path / "territories.geojson"
    two_squares.to_file(path)
    return path


@pytest.fixture
def grid_blocks() -> gpd.GeoDataFrame:
    """A 4x4 grid of 1-degree blocks with ids r{row}c{col}."""
    cells = [(r, c) for r in range(4) for c in range(4)]
    return gpd.GeoDataFrame(
        {"block_id": [f"r{r}c{c}" for r, c in cells]},
        geometry=[box(c, r, c + 1, r + 1) for r, c in cells],
        crs="EPSG:4326",
    )


@pytest.fixture
def grid_alignment(grid_blocks) -> pd.DataFrame:
    """Blocks in the left half -> W, right half -> E."""
    ids = grid_blocks["block_id"]
    return pd.DataFrame(
        {
            "block_id": ids,
            "territory_id": ["W" if int(b[-1]) < 2 else "E" for b in ids],
            "parent": "All",
        }
    )


def point_accounts(points, **columns) -> gpd.GeoDataFrame:
    """Accounts GeoDataFrame from (lon, lat) tuples."""
    n = len(points)
    data = {"account_id": [f"a{i}" for i in range(n)], **columns}
    return gpd.GeoDataFrame(data, geometry=[Point(p) for p in points], crs="EPSG:4326")


def with_plugin(monkeypatch, plugin, name: str) -> None:
    """Make every new plugin manager (CLI, engines) include ``plugin`` as ``name``."""
    import territory.plugins as plugins_module

    original = plugins_module.get_plugins

    def patched(*args, **kwargs):
        plugins = original(*args, **kwargs)
        plugins.register(plugin, name=name)
        return plugins

    monkeypatch.setattr(plugins_module, "get_plugins", patched)


# The user cache (plugin commands of ``territory --help``, layer checks) lives in a folder of
# this test session, not the user's and not an earlier session's: nothing a previous version of
# the code wrote is read back (subprocesses inherit it).
_CACHE = tempfile.mkdtemp(prefix="territory-test-cache-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ["XDG_CACHE_HOME"] = _CACHE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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


def offline_page(browser, path: Path, wait_for: str, *, width=1400, height=900, timeout=30_000):
    """Open a written page with every non-file request refused; ``page.problems`` collects page
    errors and console errors. Waits for the ``wait_for`` selector."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
               else route.continue_())  # fmt: skip
    page.goto(path.as_uri())
    page.wait_for_selector(wait_for, timeout=timeout)
    return page


def tooltip_at(page, map_js: str, lat: float, lon: float) -> dict[str, str]:
    """Move the mouse to (lat, lon) of the Leaflet map ``map_js`` (a JS expression) and read the
    territory tooltip as ``{label: value}``."""
    xy = page.evaluate(
        f"""() => {{
        const map = {map_js}, p = map.latLngToContainerPoint(L.latLng({lat}, {lon}));
        const r = map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    }}"""
    )
    page.mouse.move(xy[0] - 5, xy[1] - 5)
    page.mouse.move(xy[0], xy[1])
    page.wait_for_selector(".leaflet-tooltip table")
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.leaflet-tooltip tr')]
            .map(tr => [tr.querySelector('th').textContent.trim(),
                        tr.querySelector('td').textContent.trim()]))"""
    )


@pytest.fixture(scope="session")
def postgis_server():
    """A throwaway PostGIS server for the session (see tests/pgserver.py), stopped at the end."""
    from tests import pgserver

    server = pgserver.start()
    yield server
    server.stop()


@pytest.fixture
def postgis_url(postgis_server, monkeypatch) -> str:
    """A SQLAlchemy URL (no password in it) to the test database; the password is in
    PGPASSWORD, as a user would set it."""
    from tests import pgserver

    monkeypatch.setenv("PGPASSWORD", pgserver.PASSWORD)
    return postgis_server.url()


@pytest.fixture
def pg_book(postgis_server, postgis_url):
    """The book of tests/db_book.py as tables in a new schema owned by the test user; dropped
    afterwards. Returns the URL and the schema."""
    from tests import db_book

    schema = db_book.new_schema()
    postgis_server.psql(f"CREATE SCHEMA {schema} AUTHORIZATION territory")
    db_book.load_postgis(postgis_url, schema)
    yield postgis_url, schema
    postgis_server.psql(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module")
def duck_book(tmp_path_factory) -> str:
    """The book of tests/db_book.py in a DuckDB file; its URL."""
    from tests import db_book

    path = tmp_path_factory.mktemp("duck") / "crm.duckdb"
    db_book.load_duckdb(path)
    return f"duckdb:///{path}"
