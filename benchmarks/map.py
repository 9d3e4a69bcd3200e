"""Map size and time to first paint: territory's map against folium's clusters, in one run.

    python benchmarks/map.py [--sizes 1000 10000 100000] [--only territory]

Data: the embedded US counties with the demo alignment (15 territories, 3,233 county blocks),
accounts generated around the embedded ZIP points (see ``benchmarks/assign.py``) and three
segment axes (value tier, size tier, territory).

- ``territory``: ``territory.run(...).to_map()``: territories, labels, legend, the editable
  block layer, the accounts and one layer per segment axis on canvases (one shared copy of the
  coordinates), Leaflet inlined (opens offline).
- ``MarkerCluster``: ``folium.GeoJson`` of the same territories plus a
  ``folium.plugins.MarkerCluster`` of the same accounts (one ``folium.Marker`` with a tooltip
  each), as folium writes it. The marker scripts are rendered from folium's own templates in
  bulk (folium's per-element page render takes minutes at 100,000); the first markers are
  rendered by folium and checked to be the same text. ``--marker-cluster-max`` skips the page
  above that many accounts.
- ``FastMarkerCluster``: the same with ``folium.plugins.FastMarkerCluster`` (coordinates as one
  array, markers made in the browser).

The folium pages hold the accounts once, without segment layers (three more cluster layers
would only make them larger). Their Leaflet and MarkerCluster files are pointed at local copies
(Leaflet from the package, MarkerCluster from the npm registry, cached in
``benchmarks/.cache``) so every page loads with no network.

First paint is measured in headless Chromium (Playwright with the system browser): from
navigation start until the territories are drawn and the accounts are on screen (our canvas
reports its points; the folium maps show their first clusters), after one uncounted load that
warms the browser up. Ratios are folium / ours.
Budget for ours at 100,000 accounts with three axes: at most 10 MB and 1.5 s.
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


def folium_map(result, path: Path, fast: bool) -> None:
    """The same territories and accounts as folium's MarkerCluster or FastMarkerCluster."""
    import folium
    from folium.plugins import FastMarkerCluster, MarkerCluster

    territories = result.layer.territories.to_crs(4326)
    accounts = result.accounts.to_geodataframe().to_crs(4326)
    accounts = accounts[accounts.geometry.notna()]
    b = territories.total_bounds
    fmap = folium.Map(tiles=None)
    fmap.options["maxZoom"] = 18  # MarkerCluster needs one; folium sets it on tiles only
    fmap.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    folium.GeoJson(territories[["territory_id", "name", "geometry"]].to_json(), name="Territories",
                   tooltip=folium.GeoJsonTooltip(["name"])).add_to(fmap)  # fmt: skip
    if fast:
        xy = zip(accounts.geometry.y.tolist(), accounts.geometry.x.tolist(), strict=True)
        # a plain Leaflet marker, like MarkerCluster's (the default callback needs the
        # awesome-markers plugin from a CDN)
        callback = "function (row) { return L.marker(new L.LatLng(row[0], row[1])); }"
        FastMarkerCluster([[y, x] for y, x in xy], callback=callback, name="Accounts").add_to(fmap)
        bulk = ""
    else:
        cluster = MarkerCluster(name="Accounts").add_to(fmap)
        bulk = _markers(cluster, accounts)
    fmap.save(str(path))
    if bulk:
        html = path.read_text(encoding="utf-8")
        missing = [c for c in bulk.checks if c not in html]
        if missing:  # the bulk text must be what folium writes
            raise RuntimeError(f"folium wrote these markers differently: {missing[0][:200]}")
        at = html.index(bulk.anchor) + len(bulk.anchor)
        path.write_text(html[:at] + "\n" + bulk + html[at:], encoding="utf-8")
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


SAMPLE = 3  # markers that folium renders itself in the MarkerCluster page


class _Bulk(str):
    anchor: str
    checks: list[str]


def _markers(cluster, accounts) -> _Bulk:
    """folium's Marker (tooltip: the account id) for every account, written in bulk.

    The script of each marker is what folium writes, from folium's own ``Marker`` and
    ``Tooltip`` templates and objects; only branca's per-element render (which compiles every
    output again as a template, minutes at 100,000 markers) is skipped. The first
    :data:`SAMPLE` markers are added to the map as usual, and their scripts in folium's page
    are checked to equal the bulk text (see ``folium_map``); the rest goes in after them.
    """
    import folium

    texts, markers = [], []
    for x, y, a in zip(accounts.geometry.x, accounts.geometry.y, accounts["account_id"],
                       strict=True):  # fmt: skip
        marker = folium.Marker([y, x], tooltip=str(a))
        if len(markers) < SAMPLE:
            marker.add_to(cluster)
            markers.append(marker)
            continue
        marker._parent = cluster
        (tooltip,) = marker._children.values()
        texts.append(_script(marker) + _script(tooltip))
    bulk = _Bulk("\n".join(texts))
    bulk.anchor = _script(markers[-1]._children[next(iter(markers[-1]._children))]).strip()
    bulk.checks = [_script(e).strip() for m in markers for e in (m, *m._children.values())]
    return bulk


def _script(element) -> str:
    return element._template.module.script(element, {})


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


AXES = [
    {"axis": "value_tier"},
    {"axis": "size_tier", "column": "revenue"},
    {"axis": "geography", "level": "territory"},
]
MAPS = {  # name: (builder, ready test)
    "territory": (lambda result, path: result.to_map().save(str(path)), OURS_READY),
    "MarkerCluster": (lambda result, path: folium_map(result, path, fast=False), PLAIN_READY),
    "FastMarkerCluster": (lambda result, path: folium_map(result, path, fast=True), PLAIN_READY),
}
BUDGET_MB, BUDGET_S = 10.0, 1.5


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--only", nargs="+", choices=list(MAPS), default=list(MAPS),
                        help="Maps to build and time (default: all three).")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "maps")
    parser.add_argument("--marker-cluster-max", type=int, default=None,
                        help="Skip the MarkerCluster page above this many accounts.")  # fmt: skip
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
            result = territory.run(
                make_accounts(n, seed=3),
                str(data / "us_counties.parquet"),
                alignment=str(data / "demo_alignment.csv"),
                block_id="GEOID",
                axes=AXES,
            )
            row = {"accounts": n, "axes": len(result.labels.columns)}
            for name in args.only:
                if name == "MarkerCluster" and n > (args.marker_cluster_max or n):
                    print(f"MarkerCluster at {n:,} skipped (--marker-cluster-max)", flush=True)
                    continue
                build, ready = MAPS[name]
                path = args.out / f"{name}-{n}.html"
                t = time.perf_counter()
                build(result, path)
                row[f"{name} build_s"] = round(time.perf_counter() - t, 2)
                print(f"{name} at {n:,} accounts: page built in {row[f'{name} build_s']} s",
                      flush=True)  # fmt: skip
                row[f"{name} MB"] = round(path.stat().st_size / 1e6, 2)
                if not rows and name == args.only[0]:
                    render_ms(browser, path, ready)  # warm the browser up: not counted
                row[f"{name} paint_s"] = round(render_ms(browser, path, ready) / 1e3, 2)
            for name in args.only:
                if name != "territory" and "territory" in args.only and f"{name} MB" in row:
                    row[f"{name}/ours paint"] = round(
                        row[f"{name} paint_s"] / row["territory paint_s"], 1
                    )
                    row[f"{name}/ours MB"] = round(row[f"{name} MB"] / row["territory MB"], 1)
            rows.append(row)
            print(pd.DataFrame(rows[-1:]).T.to_string(header=False), "\n", flush=True)
        browser.close()
    table = pd.DataFrame(rows).set_index("accounts").T
    print("All sizes (paint = navigation start to territories and accounts on screen)")
    print(table.to_string())
    if "territory" in args.only and 100_000 in args.sizes:
        mine = rows[args.sizes.index(100_000)]
        ok = mine["territory MB"] <= BUDGET_MB and mine["territory paint_s"] <= BUDGET_S
        print(f"\nBudget at 100,000 accounts with three axes (<= {BUDGET_MB:g} MB, <= "
              f"{BUDGET_S:g} s first paint): {mine['territory MB']} MB, "
              f"{mine['territory paint_s']} s -> {'met' if ok else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
