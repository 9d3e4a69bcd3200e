"""Execution engines: the same plan on one machine, or on a Dask cluster.

An engine only splits the accounts into parts, maps :func:`territory.engines.parts.run_part`
over them and combines the additive sums (``map_parts`` returns a
:class:`~territory.engines.parts.Parts`); :func:`territory.runner.run` wires the stages around
it and :func:`territory.runner.finish` computes targets, adjustments and KPIs for both.

``local`` (default) reads Parquet/GeoParquet accounts in batches with a progress bar and runs
every part in this process. ``dask`` runs the parts on dask-geopandas partitions on a
``distributed`` cluster; only additive sums travel back, and the assignments stay partitioned
on the workers until written. Both produce identical results.
"""

from __future__ import annotations

ENGINES = ("local", "dask")
