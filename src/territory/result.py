"""PlanResult: what a plan run computed, and :meth:`PlanResult.write` to publish it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from territory.outputs import json_text
from territory.plugins import Plugins
from territory.resultdir import result_jobs

if TYPE_CHECKING:
    from territory.plan import OutputsSpec, Plan
    from territory.territories import TerritoryLayer
    from territory.validate import Accounts


@dataclass
class PlanResult:
    """Output of :meth:`Plan.run` (built by :func:`territory.runner.finish`).

    Attributes
    ----------
    assignments : DataFrame
        One row per input account: territory_id, method, distance_km, reason, measures and one
        label column per segment axis. A dask DataFrame with the Dask engine.
    kpis : DataFrame
        The common KPI set per territory.
    segments : dict of str -> DataFrame
        The KPI set per territory x segment, one table per segment column.
    summary : dict
        Plan-level figures (counts by method, conserved totals, balance, compactness).
    notes : list of str
        Everything that was repaired or worth knowing (reprojections, blank cells, overlaps).
    labels : DataFrame
        One column per segment axis, one row per account.
    adjustments : DataFrame
        One row per territory and adjustment: multiplier, reason and regional attributes.
    folder : Path or None
        The result folder this result was read from (:func:`territory.load_result`), else None.
    """

    plan: Plan
    accounts: Accounts
    layer: TerritoryLayer
    assignments: pd.DataFrame
    kpis: pd.DataFrame
    segments: dict[str, pd.DataFrame]
    summary: dict
    notes: list[str]
    labels: pd.DataFrame | None = None
    adjustments: pd.DataFrame | None = None
    plugins: Plugins | None = None
    engine: Any = None
    database_report: Any = None
    folder: Path | None = None

    def close(self) -> None:
        """Release the engine's resources (the Dask client and a cluster it started)."""
        if self.engine is not None:
            cluster = getattr(self.engine, "cluster", None)
            self.engine.close()
            if cluster is not None:
                cluster.close()
            self.engine = None

    @property
    def unassigned(self) -> pd.DataFrame:
        """Accounts without a territory, with the reason (computed from Dask if needed)."""
        rows = self.assignments[self.assignments["territory_id"].isna()]
        return rows if isinstance(rows, pd.DataFrame) else rows.compute()

    def to_map(self, **options):
        """Render the sales-by-territory map (see :func:`territory.maps.build_map`)."""
        from territory.maps import build_map

        return build_map(self, **options)

    def write(self, outputs: OutputsSpec | None = None) -> list[Path]:
        """Write the outputs configured in the plan as one set; returns the paths written.

        Everything is rendered first, then published with a manifest (see
        :mod:`territory.outputs`): after an error or an interruption the folder holds the
        whole previous set or the whole new one. The set includes the result folder
        (``outputs.result``, see :mod:`territory.resultdir`) that :func:`territory.load_result`
        reads.
        """
        out = outputs or self.plan.outputs
        jobs: list[tuple[str, Any]] = []
        dask = out.assignments and not isinstance(self.assignments, pd.DataFrame)
        if dask:
            # Dask: the workers write one Parquet file per partition into a folder.
            jobs.append((Path(out.assignments).stem + ".parquet", self.assignments))
        elif out.assignments:
            jobs.append((out.assignments, self.assignments))
        if out.kpis:
            jobs.append((out.kpis, self.kpis))
        if out.segments:
            for seg, table in self.segments.items():
                jobs.append((segment_file(out.segments, _slug(seg)), table))
        if out.adjustments and self.adjustments is not None and len(self.adjustments):
            jobs.append((out.adjustments, self.adjustments))
        if out.summary:
            summary = {"plan": self.plan.name, **self.summary, "notes": self.notes}
            jobs.append((out.summary, json_text(summary)))
        shapes = None
        if out.map:
            from territory.maps import webcache

            start = webcache.mark()
            jobs.append((out.map, self.to_map().get_root().render()))
            shapes = webcache.used_since(start)  # stored, so maps from the folder reuse them
        jobs += result_jobs(self, out.result, shapes)  # what maps and reports need, as data
        with self.plan.output_set(out) as files:
            for name, payload in jobs:
                if isinstance(payload, str):
                    files.add_text(name, payload)
                elif isinstance(payload, pd.DataFrame):
                    files.add_table(name, payload)
                elif callable(payload):
                    payload(files.path(name))
                else:
                    payload.to_parquet(str(files.path(name)), write_index=False, overwrite=True)
        if out.database is not None:
            self._write_database(out.database, files.written)
        return files.written

    def to_database(self, url, **options):
        """Write the result tables to a database in one transaction; see
        :func:`territory.db.results.write_database` for ``schema``, ``mode``, ``tables``,
        ``run_id`` and ``only``. Returns the :class:`~territory.db.write.DatabaseReport`."""
        from territory.db.results import write_database

        return write_database(self, url, **options)

    def _write_database(self, target, written: list[Path]) -> None:
        """After the file set is published: the database tables, or an error saying the files
        were kept and the database left as it was."""
        from territory.errors import OutputError

        try:
            self.database_report = self.to_database(target)
        except OutputError as exc:
            kept = ", ".join(str(p) for p in written) or "no files"
            raise OutputError(f"The output files were written ({kept}). {exc}") from None


def segment_file(name: str, axis: str) -> str:
    """The file of one segment axis: ``segment-kpis.csv.gz`` -> ``segment-kpis-tier.csv.gz``."""
    from territory.io import file_type, without_suffix

    return f"{without_suffix(name)}-{axis}{file_type(name)}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text).lower()).strip("-") or "segment"
