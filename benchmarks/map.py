"""Map size and time to first render: territory's map against a plain folium map, in one run.

    python benchmarks/map.py [--sizes 1000 10000 100000]

Data: the embedded US counties with the demo alignment (15 territories, 3,233 county blocks)
and accounts generated around the embedded ZIP points (see ``benchmarks/assign.py``).

- ``territory``: ``territory.run(...).to_map()``: territories, labels, legend, the editable
  block layer and every account on one canvas, Leaflet inlined (opens offline).
- ``plain folium``: ``folium.GeoJson`` of the same territories plus a
  ``folium.plugins.MarkerCluster`` of the same accounts, as folium writes it. Its Leaflet and
  MarkerCluster files are pointed at local copies (Leaflet from the package, MarkerCluster from
  the npm registry, cached in ``benchmarks/.cache``) so both pages load with no network.

Time to first render is measured in headless Chromium (Playwright with the system browser):
from navigation start until the territories are drawn and the accounts are on screen (our
canvas reports its points; the plain map shows its first clusters). Ratios are plain / ours.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import time
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from assign import make_accounts  # noqa: E402

CACHE = ROOT / ".cache"
MARKERCLUSTER = "leaflet.markercluster@1.5.3"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def markercluster_dir() -> Path:
    """leaflet.markercluster's dist folder from the npm registry (cached)."""
    dist = CACHE / "markercluster" / "package" / "dist"
    if not dist.exists():
        (CACHE / "markercluster").mkdir(parents=True, exist_ok=True)
        name = (
            subprocess.run(
                ["npm", "pack", MARKERCLUSTER, "--silent"],
                check=True,
                capture_output=True,
                text=True,
                cwd=CACHE / "markercluster",
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with tarfile.open(CACHE / "markercluster" / name) as tar:
            tar.extractall(CACHE / "markercluster", filter="data")
    return dist


def plain_folium(result, path: Path) -> None:
    import folium
    from folium.plugins import MarkerCluster

    territories = result.layer.territories.to_crs(4326)
    accounts = result.accounts.to_geodataframe().to_crs(4326)
    accounts = accounts[accounts.geometry.notna()]
    b = territories.total_bounds
    fmap = folium.Map(tiles=None)
    fmap.options["maxZoom"] = 18  # MarkerCluster needs one; folium sets it on tiles only
    fmap.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    folium.GeoJson(territories[["territory_id", "name", "geometry"]].to_json(), name="Territories",
                   tooltip=folium.GeoJsonTooltip(["name"])).add_to(fmap)  # fmt: skip
    cluster = MarkerCluster(name="Accounts").add_to(fmap)
    for x, y, a in zip(accounts.geometry.x, accounts.geometry.y, accounts["account_id"],
                       strict=True):  # fmt: skip
        folium.Marker([y, x], tooltip=str(a)).add_to(cluster)
    fmap.save(str(path))
    # point the CDN links at local copies, so the page loads offline like ours
    html = path.read_text(encoding="utf-8")
    leaflet = resources.files("territory.maps") / "vendor" / "leaflet"
    mc = markercluster_dir()
    swaps = {
        r"https://[^\"']+/leaflet\.js": (Path(str(leaflet)) / "leaflet.js").as_uri(),
        r"https://[^\"']+/leaflet\.css": (Path(str(leaflet)) / "leaflet.css").as_uri(),
        r"https://[^\"']+/leaflet\.markercluster\.js": (mc / "leaflet.markercluster.js").as_uri(),
        r"https://[^\"']+/MarkerCluster\.css": (mc / "MarkerCluster.css").as_uri(),
        r"https://[^\"']+/MarkerCluster\.Default\.css": (mc / "MarkerCluster.Default.css").as_uri(),
    }
    for pattern, local in swaps.items():
        html = re.sub(pattern, local, html)
    path.write_text(html, encoding="utf-8")


OURS_READY = """() => {
  const c = document.querySelector('canvas.territory-points[data-drawn]');
  return c && document.querySelectorAll('path.leaflet-interactive').length > 0;
}"""
PLAIN_READY = """() => document.querySelectorAll('path.leaflet-interactive').length > 0 &&
  document.querySelectorAll('.marker-cluster, .leaflet-marker-icon').length > 0"""


def render_ms(browser, path: Path, ready: str) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    page.goto(path.as_uri(), wait_until="commit", timeout=300_000)
    page.wait_for_function(ready, timeout=300_000, polling=50)
    ms = page.evaluate("performance.now()")
    page.close()
    return ms


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "maps")
    args = parser.parse_args()
    import pandas as pd
    from playwright.sync_api import sync_playwright

    import territory

    data = resources.files("territory.data")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu",
                                          "--disable-background-networking"])  # fmt: skip
        for n in args.sizes:
            accounts = make_accounts(n, seed=3)
            result = territory.run(
                accounts,
                str(data / "us_counties.parquet"),
                alignment=str(data / "demo_alignment.csv"),
                block_id="GEOID",
            )
            ours, plain = args.out / f"territory-{n}.html", args.out / f"folium-{n}.html"
            t = time.perf_counter()
            result.to_map().save(str(ours))
            ours_build = time.perf_counter() - t
            t = time.perf_counter()
            plain_folium(result, plain)
            plain_build = time.perf_counter() - t
            ours_ms = render_ms(browser, ours, OURS_READY)
            plain_ms = render_ms(browser, plain, PLAIN_READY)
            rows.append({
                "accounts": n,
                "ours_MB": round(ours.stat().st_size / 1e6, 2),
                "plain_MB": round(plain.stat().st_size / 1e6, 2),
                "ours_build_s": round(ours_build, 2),
                "plain_build_s": round(plain_build, 2),
                "ours_render_s": round(ours_ms / 1e3, 2),
                "plain_render_s": round(plain_ms / 1e3, 2),
                "render_ratio": round(plain_ms / ours_ms, 1),
            })  # fmt: skip
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
        browser.close()
    print("\nAll sizes (render = navigation start to territories and accounts on screen)")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
