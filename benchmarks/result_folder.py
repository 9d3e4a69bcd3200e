"""Maps and option errors from a result folder against re-running the plan, in one run.

    python benchmarks/result_folder.py [--repeat 3] [--plan PLAN.toml]

The plan is the embedded county demo (``territory demo``: 793 accounts on 15 territories of
3,233 US county blocks, three segment axes, two adjustments) unless ``--plan`` is given. It is
run once with ``territory run --out`` to leave a result folder; then, each case a fresh
interpreter (this one, so the same environment and ``PYTHONPATH``):

- ``map PLAN --kpi attainment``: the plan is run again, then drawn (the baseline);
- ``map RUN_DIR --kpi attainment``: the folder is checked against its manifest and read;
- ``map ... --kpi nope``: the usage error (exit code 2) listing the valid KPIs, from the plan
  file and from the folder.

Figures are the fastest of ``--repeat`` runs, wall clock and CPU (user + system) side by side,
since CPU time is what a shared, busy machine distorts least. Budget: at most 3 s for the map
from the folder, and well under a second for a bad --kpi.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from startup import measure  # noqa: E402  (fastest wall and CPU of repeated runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plan", help="Plan file (default: the embedded county demo).")
    args = parser.parse_args()
    plan = args.plan or str(resources.files("territory.data") / "demo_plan.toml")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "territory", "run", plan, "--out",
                               str(run_dir)], capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            raise SystemExit(f"territory run failed:\n{done.stdout}\n{done.stderr}")
        print(f"territory run (writes the result folder): {time.perf_counter() - t0:.2f} s")
        html = str(Path(tmp) / "map.html")
        cases = [
            ("map PLAN --kpi attainment (baseline)", ["map", plan, "--kpi", "attainment"]),
            ("map RUN_DIR --kpi attainment", ["map", str(run_dir), "--kpi", "attainment"]),
            ("map PLAN --kpi nope", ["map", plan, "--kpi", "nope"]),
            ("map RUN_DIR --kpi nope", ["map", str(run_dir), "--kpi", "nope"]),
        ]
        rows = [(name, *measure(["-m", "territory", *a, "-o", html], {}, args.repeat))
                for name, a in cases]  # fmt: skip
    _, base_wall, base_cpu, _ = rows[0]
    print(f"{'case':<40} {'wall':>8} {'cpu':>8} {'exit':>5}  wall vs re-run  cpu vs re-run")
    for name, wall, cpu, code in rows:
        print(f"{name:<40} {wall:7.3f}s {cpu:7.3f}s {code:>5}  {base_wall / wall:>13.1f}x "
              f"{base_cpu / max(cpu, 1e-3):>13.1f}x")  # fmt: skip
    folder_wall = rows[1][1]
    verdict = "within" if folder_wall <= 3.0 else "OVER"
    print(f"map from the result folder: {folder_wall:.2f} s, {verdict} the 3 s budget")


if __name__ == "__main__":
    main()
