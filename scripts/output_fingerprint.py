"""Fingerprint every output of a fixed set of runs, to check that a refactor changes none.

    python scripts/output_fingerprint.py fp.json [--work DIR] [--cases demo run ...]
    python scripts/output_fingerprint.py --compare before.json after.json [--dirs A B]

Runs, with fixed inputs and seeds: ``territory demo``; ``territory run`` on a polygon plan
file; the benchmarks' plans at small sizes (``territory.assign`` as in benchmarks/assign.py,
a 10-file Parquet book on the local engine in batches and on the Dask engine as in
benchmarks/scale.py, ``territory.design`` from scratch and a rebalance after churn as in
benchmarks/design.py); ``territory design`` and ``territory rebalance`` on the demo blocks; and
``territory track --revise`` on the demo plan. Writes {case/relative path: sha256} for every
file written under ``--work`` (kept, so two runs can be compared numerically).

Normalised before hashing (and only these): the paths of this checkout and of the work folder
(written into maps and manifests) become ``<ROOT>`` / ``<WORK>``; JSON loses ``run_id``,
``created`` and ``runtime_s`` (the design's wall time), manifests the input paths and file
hashes they list (the files are hashed themselves); HTML loses the random 32-hex element ids
folium/branca generate (renumbered in order of appearance) and the build date in the map's
credits; .xlsx is hashed member by member without the timestamps in docProps/core.xml.
``--compare`` lists differing files and, given the two work folders, checks differing tables
(CSV, Parquet, JSON) for equality within 1e-9. ``--rehash WORK`` hashes a kept work folder
again (e.g. after changing the normalisation).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ("demo", "run", "bench_assign", "bench_scale", "bench_design", "design", "track")
HEX_ID = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
DATE = re.compile(rb" \xc2\xb7 20\d\d-\d\d-\d\d")  # " · YYYY-MM-DD" appended to map credits
VOLATILE = {"run_id", "created", "runtime_s"}  # dropped from JSON outputs
CORE_TIMES = re.compile(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>")


def data(name: str) -> str:
    return str(resources.files("territory.data") / name)


def cli(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-m", "territory", *args], env=env, capture_output=True,
                         text=True)  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"territory {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")


def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import assign
    import design

    return assign, design


def case_demo(work: Path) -> None:
    cli("demo", "--out", str(work))


def case_run(work: Path) -> None:
    """A plan file with polygon territories (states), postal codes, targets and segments."""
    (work / "input").mkdir(parents=True)
    plan = work / "input" / "plan.toml"
    plan.write_text(
        f'name = "States plan"\n[accounts]\npath = {json.dumps(data("demo_accounts.csv"))}\n'
        'postal_code = "postal_code"\nmeasures = ["revenue", "pipeline"]\n'
        f'[territories]\npath = {json.dumps(data("us_states.parquet"))}\nid = "STUSPS"\n'
        '[targets]\nfrom = "revenue_prior"\ngrowth = "5%"\n'
        '[assign]\nmax_distance_km = 25\noverlap = "first"\n'
        '[kpis]\nbalance = "revenue"\nsegments = ["segment"]\n'
        '[[segments]]\naxis = "value_tier"\ncolumn = "revenue"\n'
        '[outputs]\ndir = "out"\n',
        encoding="utf-8",
    )
    cli("run", str(plan), "--out", str(work / "local"))


def scale_plan(work: Path):
    import geopandas as gpd

    import territory

    assign, _ = bench()
    folder = work / "input" / "book"
    folder.mkdir(parents=True)
    frame = assign.make_accounts(10_000)
    step = 1_000
    for i in range(10):
        frame.iloc[i * step : (i + 1) * step].to_parquet(folder / f"part-{i:02d}.parquet")
    counties = gpd.read_parquet(data("us_counties.parquet"))[["GEOID", "geometry"]]
    return territory.make_plan(str(folder), counties, territory_id="GEOID", balance="revenue",
                               target_from="revenue", target_growth=0.1)  # fmt: skip


def case_bench_assign(work: Path) -> None:
    import geopandas as gpd

    import territory

    assign, _ = bench()
    counties = gpd.read_parquet(data("us_counties.parquet"))[["GEOID", "geometry"]]
    out = territory.assign(assign.make_accounts(10_000), counties, territory_id="GEOID")
    work.mkdir(parents=True)
    out.to_csv(work / "assignments.csv", index=False)


def case_bench_scale(work: Path) -> None:
    from distributed import Client, LocalCluster

    plan = scale_plan(work)
    plan.run(batch_rows=3_000).write(plan.outputs.__class__(dir=work / "local"))
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            result = plan.run(engine="dask", client=client, partition_rows=4_000)
            result.write(plan.outputs.__class__(dir=work / "dask"))


def case_bench_design(work: Path) -> None:
    import geopandas as gpd

    import territory
    from territory.designer.inputs import load_inputs

    assign, design = bench()
    # design.load_blocks() without the full-resolution layer it prefers when present
    blocks = gpd.read_parquet(data("us_counties.parquet"))
    state = blocks["GEOID"].str[:2]
    blocks = blocks.loc[~state.isin(design.CONTINENTAL_EXCLUDED), ["GEOID", "geometry"]]
    blocks = blocks.rename(columns={"GEOID": "block_id"}).reset_index(drop=True)
    accounts = assign.make_accounts(10_000, seed=1)
    plan = territory.design(blocks, accounts, k=10, balance="revenue", tolerance=0.02, seed=0)
    plan.write(work / "fresh")
    inputs, _ = load_inputs(blocks, accounts, "revenue", block_id=None, crs=None,
                            account_options={})  # fmt: skip
    inputs.measures.assign(weight=inputs.weight).to_csv(work / "fresh" / "block-measures.csv")
    current = plan.alignment[["block_id", "territory_id"]]
    shifted = design.churn(accounts, 0.10, 0)
    result = territory.design(blocks, shifted, balance="revenue", tolerance=0.02,
                              current=current, rebalance=True)  # fmt: skip
    result.write(work / "rebalance")


def case_design(work: Path) -> None:
    common = ["--block-id", "GEOID", "--accounts", data("demo_accounts.csv"), "--postal-code",
              "postal_code", "--balance", "revenue", "--tolerance", "0.1"]  # fmt: skip
    cli("design", data("us_counties.parquet"), "-k", "15", *common, "--out", str(work / "fresh"))
    cli("rebalance", data("us_counties.parquet"), "--current", data("demo_alignment.csv"),
        *common, "--out", str(work / "rebalance"))  # fmt: skip


def case_track(work: Path) -> None:
    cli("track", data("demo_plan.toml"), "--as-of", "2017-06-30", "--out", str(work), "--revise")


def _drop_volatile(doc):
    if isinstance(doc, dict):
        return {k: _drop_volatile(v) for k, v in doc.items() if k not in VOLATILE}
    if isinstance(doc, list):
        return [_drop_volatile(v) for v in doc]
    return doc


def normalised(path: Path, work: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix not in (".parquet", ".xlsx"):  # paths written into maps and manifests
        raw = raw.replace(str(work).encode(), b"<WORK>").replace(str(ROOT).encode(), b"<ROOT>")
    if path.suffix == ".json":
        doc = _drop_volatile(json.loads(raw))
        if "manifest" in path.name:
            doc["inputs"] = [Path(i["path"]).name for i in doc.get("inputs", [])]
            doc["files"] = [f["name"] for f in doc.get("files", [])]
        return json.dumps(doc, sort_keys=True).encode()
    if path.suffix == ".html":
        ids: dict[bytes, bytes] = {}
        raw = HEX_ID.sub(lambda m: ids.setdefault(m.group(), b"id%d" % len(ids)), raw)
        return DATE.sub(b" \xc2\xb7 DATE", raw)
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            parts = []
            for name in sorted(z.namelist()):
                body = z.read(name)
                if name == "docProps/core.xml":
                    body = CORE_TIMES.sub(b"", body)
                parts.append(name.encode() + b"\0" + hashlib.sha256(body).digest())
            return b"".join(parts)
    return raw


def fingerprint(work: Path, cases) -> dict[str, str]:
    sys.path.insert(0, str(ROOT / "src"))
    for name in cases:
        print(f"case {name} ...", flush=True)
        globals()[f"case_{name}"](work / name)
    return hashes(work)


def hashes(work: Path) -> dict[str, str]:
    """{case/relative path: sha256 of the normalised file} for every output under ``work``."""
    return {
        str(p.relative_to(work)): hashlib.sha256(normalised(p, work)).hexdigest()
        for p in sorted(work.rglob("*"))
        if p.is_file() and "input" not in p.relative_to(work).parts[1:2]
    }


def tables_equal(a: Path, b: Path) -> bool:
    """Same table within 1e-9 (numbers) and equal otherwise."""
    import pandas as pd

    if a.suffix == ".json":
        return _json_close(json.loads(a.read_text()), json.loads(b.read_text()))
    read = pd.read_parquet if a.suffix == ".parquet" else pd.read_csv
    try:
        x, y = read(a), read(b)
        pd.testing.assert_frame_equal(x, y, check_exact=False, rtol=1e-9, atol=1e-9)
    except (AssertionError, ValueError):
        return False
    return True


def _json_close(x, y) -> bool:
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_json_close(x[k], y[k]) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_json_close(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))
    return x == y


def compare(before: Path, after: Path, dirs) -> int:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    bad = 0
    for name in sorted(a.keys() | b.keys()):
        if a.get(name) == b.get(name):
            continue
        close = (dirs and name in a and name in b
                 and Path(name).suffix in (".csv", ".parquet", ".json")
                 and tables_equal(Path(dirs[0]) / name, Path(dirs[1]) / name))  # fmt: skip
        print(f"{'equal to 1e-9' if close else 'DIFFERENT'}: {name}")
        bad += not close
    same = sum(a.get(n) == b.get(n) for n in a)
    print(f"{len(a)} files before, {len(b)} after; {same} identical; {bad} different")
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?")
    parser.add_argument("--work", default=None, help="Folder for the runs (default: a temp one)")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--dirs", nargs=2, metavar=("WORK_BEFORE", "WORK_AFTER"))
    parser.add_argument("--rehash", metavar="WORK", help="Hash the outputs already in WORK")
    args = parser.parse_args()
    if args.compare:
        raise SystemExit(compare(Path(args.compare[0]), Path(args.compare[1]), args.dirs))
    if not args.output:
        parser.error("give the output JSON path (or --compare)")
    if args.rehash:
        Path(args.output).write_text(json.dumps(hashes(Path(args.rehash)), indent=1) + "\n")
        return
    import tempfile

    work = Path(args.work or tempfile.mkdtemp(prefix="territory-fp-"))
    if work.exists() and any(work.iterdir()):
        raise SystemExit(f"{work} is not empty; give an empty or new --work folder.")
    result = fingerprint(work, args.cases)
    Path(args.output).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"{len(result)} files fingerprinted in {work} -> {args.output}")


if __name__ == "__main__":
    main()
