"""Start-up time of the command line against the eager imports it used to make, in one run.

    python benchmarks/startup.py [--repeat 7]

Each case is a fresh interpreter (the one running this script, so the same environment and
``PYTHONPATH``); the figure is the fastest of ``--repeat`` runs, wall clock and CPU (user +
system) side by side, since CPU time is what a shared, busy machine distorts least.

Cases:

- ``eager import``: ``import pandas, geopandas`` and the API modules ``territory`` imported
  eagerly before (plans, results, the designer, plugins): the baseline;
- ``import territory.cli``: what every command pays before it runs;
- ``--version``; ``--help`` with the plugins as installed, and with ``TERRITORY_LOAD_PLUGINS=""``
  (built-in plugins only); ``assign`` without arguments (an argument error).

``--help`` lists plugin commands from the plugin-command cache (``territory.command_cache``):
the first of the runs loads the plugins and writes it, the fastest run is a cache hit.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

EAGER = (
    "import pandas, geopandas; import territory.api, territory.designer, territory.plan, "
    "territory.result, territory.plugins, territory.territories, territory.validate"
)

CASES = [
    ("eager import (baseline)", ["-c", EAGER], {}),
    ("import territory.cli", ["-c", "import territory.cli"], {}),
    ("territory --version", ["-m", "territory", "--version"], {}),
    ("territory --help", ["-m", "territory", "--help"], {}),
    ("--help, no installed plugins", ["-m", "territory", "--help"], {"TERRITORY_LOAD_PLUGINS": ""}),
    ("territory assign (missing args)", ["-m", "territory", "assign"], {}),
]


def measure(args: list[str], env: dict[str, str], repeat: int) -> tuple[float, float, int]:
    """Fastest wall and CPU seconds of ``repeat`` runs, and the exit code."""
    walls, cpus, code = [], [], 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, *args], env={**os.environ, **env},
                              capture_output=True)  # fmt: skip
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        code = proc.returncode
    return min(walls), min(cpus), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    python_only = measure(["-c", "pass"], {}, args.repeat)
    print(f"{'case':<34} {'wall':>8} {'cpu':>8} {'exit':>5}  wall vs eager  cpu vs eager")
    print(f"{'python -c pass':<34} {python_only[0]:7.3f}s {python_only[1]:7.3f}s")
    rows = [(name, *measure(a, env, args.repeat)) for name, a, env in CASES]
    _, eager_wall, eager_cpu, _ = rows[0]
    for name, wall, cpu, code in rows:
        print(
            f"{name:<34} {wall:7.3f}s {cpu:7.3f}s {code:>5}  "
            f"{eager_wall / wall:>12.1f}x {eager_cpu / max(cpu, 1e-3):>12.1f}x"
        )


if __name__ == "__main__":
    main()
