"""Execution engines: the same plan on one machine, or on a Dask cluster.

``local`` (default) reads Parquet/GeoParquet accounts in batches with a progress bar and runs
every stage in this process. ``dask`` runs read -> assign -> segment -> aggregate on
dask-geopandas partitions on a ``distributed`` cluster; only additive sums travel back, and the
assignments stay partitioned on the workers until written. Both produce identical results.
"""

from __future__ import annotations

from territory.errors import ValidationError

ENGINES = ("local", "dask")


def run_plan(plan, engine: str = "local", plugins=None, **options):
    """Run ``plan`` on ``engine``; ``options`` go to the engine (see each engine's ``run``)."""
    if engine == "local":
        from territory.engines.local import run
    elif engine == "dask":
        from territory.engines.dask import run
    else:
        raise ValidationError(f"Unknown engine '{engine}'. Use one of: {', '.join(ENGINES)}.")
    return run(plan, plugins, **options)
