"""Scale: the same plan on the local engine, on Dask (LocalCluster, 2 workers) and plain sjoin.

    python benchmarks/scale.py [--sizes 1000000 10000000] [--counties PATH]

Accounts are generated around the embedded US ZIP points (as in ``benchmarks/assign.py``) and
written once to a folder of Parquet files (10 files), which every case then reads. Territories
are the full-resolution US counties (3,233) from the shared data folder when present.

Cases, each in its own process so peak memory is its own (for Dask: client plus workers):

- ``local``: ``Plan.run()`` reading the folder in batches of 2M rows; assignment and the full
  KPI set per territory;
- ``dask``: ``Plan.run(engine="dask")`` on a LocalCluster of 2 single-threaded worker processes
  (started inside the timed section, as a user without a cluster would);
- ``sjoin``: read the folder, ``geopandas.sjoin(predicate="within")``, revenue summed per
  county: the plain-geopandas way to the same headline numbers.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from assign import SHARED_COUNTIES, make_accounts  # noqa: E402


def write_book(n: int, folder: Path, files: int = 10) -> None:
    frame = make_accounts(n)
    frame["account_id"] = frame["account_id"].astype("int64")
    step = -(-n // files)
    for i in range(files):
        frame.iloc[i * step : (i + 1) * step].to_parquet(folder / f"part-{i:02d}.parquet")


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case(method: str, folder: str, counties: str) -> dict:
    import geopandas as gpd
    import pandas as pd

    import territory

    plan = territory.make_plan(folder, counties, territory_id="GEOID")
    t0 = time.perf_counter()
    if method == "local":
        result = plan.run(batch_rows=2_000_000)
        seconds = time.perf_counter() - t0
        peak = maxrss_mb()
        assigned = result.summary["assigned"]
    elif method == "dask":
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
            with Client(cluster) as client:
                result = plan.run(engine="dask", client=client)
                seconds = time.perf_counter() - t0
                workers = client.run(maxrss_mb)
                peak = maxrss_mb() + sum(workers.values())
                assigned = result.summary["assigned"]
    else:
        accounts = pd.read_parquet(folder)
        layer = gpd.read_parquet(counties)[["GEOID", "geometry"]]
        points = gpd.GeoDataFrame(
            accounts, geometry=gpd.points_from_xy(accounts.lon, accounts.lat), crs=4326
        )
        joined = gpd.sjoin(points, layer, predicate="within", how="left")
        joined.groupby("GEOID")["revenue"].sum()
        seconds = time.perf_counter() - t0
        peak = maxrss_mb()
        assigned = int(joined["GEOID"].notna().sum())
    return {"method": method, "seconds": seconds, "peak_mb": peak, "assigned": assigned}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--counties", default=None)
    parser.add_argument("--case", nargs=3, help="internal: METHOD FOLDER COUNTIES")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(*args.case)))
        return
    counties = args.counties or str(SHARED_COUNTIES)
    if not Path(counties).exists():
        from importlib import resources

        counties = str(resources.files("territory.data") / "us_counties.parquet")
        print("Full-resolution counties not found; using the embedded simplified layer.")
    print(f"Territories: {counties}")
    rows = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write_book(n, Path(tmp))
            for method in ("local", "dask", "sjoin"):
                proc = subprocess.run(
                    [sys.executable, __file__, "--case", method, tmp, counties],
                    capture_output=True, text=True,
                )  # fmt: skip
                if proc.returncode:
                    raise SystemExit(proc.stderr[-4000:])
                row = {"n": n, **json.loads(proc.stdout.strip().splitlines()[-1])}
                rows.append(row)
                print(
                    f"{n:>11,} {method:<6} {row['seconds']:8.2f} s {n / row['seconds']:>12,.0f} "
                    f"accounts/s  peak {row['peak_mb']:8,.0f} MB  assigned {row['assigned']:,}",
                    flush=True,
                )
    print()
    for n in args.sizes:
        by = {r["method"]: r for r in rows if r["n"] == n}
        for ours in ("local", "dask"):
            speed = by["sjoin"]["seconds"] / by[ours]["seconds"]
            memory = by[ours]["peak_mb"] / by["sjoin"]["peak_mb"]
            print(f"{n:>11,} {ours:<6} vs sjoin: {speed:.1f}x the speed, {memory:.2f}x the memory")


if __name__ == "__main__":
    main()
