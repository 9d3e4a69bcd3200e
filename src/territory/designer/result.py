"""The design result: names kept from the current alignment, flags for what was not met, the
quality report (per territory and per rep), notes, the alignment and dissolved territories."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from territory.designer.inputs import Inputs
from territory.designer.problem import DesignProblem
from territory.designer.quality import plan_quality
from territory.designer.request import DesignRequest
from territory.designer.shortfall import tolerance_flags
from territory.designer.solver import components
from territory.geometry import dissolve
from territory.outputs import OutputSet
from territory.validate import Polygons

# a rebalance that moves more than this share of revenue (or accounts) suggests a fresh design
MOVED_MUCH_PCT = 25


@dataclass
class DesignResult:
    """A designed or rebalanced alignment with its quality report.

    ``alignment``: ``block_id``, ``territory_id`` (and ``parent`` with regions, ``rep`` when
    the current alignment or the homes name reps).
    ``quality``: one row per territory (measures, balance, deviation, compactness, contiguity,
    disruption against the baseline); ``reps``: the same summed per rep (empty without reps);
    ``summary``: the plan figures; ``flags``: every request that could not be met, in words
    (empty when the plan meets all of them).
    """

    alignment: pd.DataFrame
    territories: gpd.GeoDataFrame
    quality: pd.DataFrame
    summary: dict
    flags: list[str]
    bridges: pd.DataFrame
    unassigned: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    reps: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def ok(self) -> bool:
        return not self.flags

    def write(self, out_dir: str | Path, inputs=()) -> list[Path]:
        """Write alignment.csv, territories.geojson, quality.csv, quality.json (and reps.csv,
        unassigned.csv when there are any) as one set with ``design-manifest.json`` (see
        :mod:`territory.outputs`); ``inputs`` are files they must never overwrite."""
        report = {
            "summary": self.summary,
            "flags": self.flags,
            "notes": self.notes,
            "bridges": self.bridges.to_dict("records"),
        }
        with design_outputs(out_dir, inputs) as files:
            files.add_table("alignment.csv", self.alignment)
            files.add_table("quality.csv", self.quality)
            self.territories.to_crs(4326).to_file(
                files.path("territories.geojson"), driver="GeoJSON"
            )
            files.add_json("quality.json", report)
            if len(self.reps):
                files.add_table("reps.csv", self.reps)
            if len(self.unassigned):
                files.add_table("unassigned.csv", self.unassigned)
        return files.written


def design_outputs(out_dir: str | Path, inputs=()) -> OutputSet:
    """The output set ``design`` and ``rebalance`` publish (manifest ``design-manifest.json``)."""
    return OutputSet(out_dir, "design-manifest.json", command="design", inputs=inputs)


def assemble(
    request: DesignRequest,
    inputs: Inputs,
    align: pd.DataFrame | None,
    problem: DesignProblem,
    labels: np.ndarray,
    parents: dict | None,
    started: float,
) -> DesignResult:
    """The result of a search: names, flags, quality, notes, alignment and territories.

    ``started`` is the ``time.perf_counter()`` of the request: the summary's ``runtime_s``.
    """
    p = problem
    names = p.names
    if p.start is not None and not request.rebalance:
        names = _keep_names(labels, p)
    flags = p.flags + _placement_flags(request, p, labels, names)
    parents_of = None if parents is None else [parents[t] for t in range(p.k)]
    quality, summary = plan_quality(
        p.graph,
        labels,
        names,
        inputs.measures,
        inputs.weight,
        tolerance=request.tolerance,
        tolerances=request.tolerances,
        parents=parents_of,
        baseline=_baseline(p, names),
        runtime_s=time.perf_counter() - started,
    )
    rep_of = _reps(align, p.home_rows)
    if rep_of:
        quality.insert(1, "rep", [rep_of.get(t) for t in names])
    by_rep = _by_rep(quality, measures=list(inputs.measures.columns)) if rep_of else None
    if by_rep is not None and "blocks_in" in quality:
        summary["reps_affected"] = int((by_rep["blocks_in"] + by_rep["blocks_out"] > 0).sum())
    inputs.notes.extend(_moved_notes(request, inputs, summary))
    flags.extend(
        tolerance_flags(p.graph, labels, quality, inputs.measures, inputs.weight,
                        request.tolerance, request.tolerances)
    )  # fmt: skip
    inputs.notes.extend(_bridge_notes(p.graph))
    alignment = _alignment(p.graph, labels, names, parents, rep_of, inputs.unaligned)
    return DesignResult(
        alignment,
        _dissolve(inputs.polygons, alignment),
        quality,
        summary,
        flags,
        p.graph.bridges,
        inputs.unassigned,
        inputs.notes,
        by_rep if by_rep is not None else pd.DataFrame(),
    )


def _keep_names(labels: np.ndarray, p: DesignProblem) -> list[str]:
    """Name new territories after the current ones they overlap most (by balance measure), so
    disruption counts real moves; with homes or locked blocks the names are already given."""
    if p.home_rows is not None or p.lock_table is not None:
        return p.names
    from scipy.optimize import linear_sum_assignment

    old = np.where(pd.isna(p.start), -1, p.start).astype(int)
    ok = old >= 0
    overlap = np.zeros((p.k, len(p.current_names)))
    np.add.at(overlap, (labels[ok], old[ok]), p.weight[ok] + 1e-9)
    rows, cols = linear_sum_assignment(-overlap)
    renamed = {int(r): p.current_names[c] for r, c in zip(rows, cols, strict=True)}
    spare = iter(n for n in p.names if n not in set(renamed.values()))
    return [renamed[i] if i in renamed else next(spare) for i in range(p.k)]


def _placement_flags(request, p: DesignProblem, labels, names) -> list[str]:
    """Territories in pieces, and blocks further from their territory's home than allowed."""
    flags = []
    for t in range(p.k):
        parts = components(p.graph, labels, t)
        if len(parts) > 1:
            flags.append(
                f"Territory '{names[t]}' is in {len(parts)} pieces: its locked blocks or home "
                f"({', '.join(p.graph.ids[parts[1][:3]])} ...) cannot be joined to the rest "
                "contiguously. Unlock them or lock the blocks between."
            )
    if p.allowed is not None:
        far = ~p.allowed[np.arange(len(p.graph)), labels]
        if far.any():
            flags.append(
                f"{far.sum()} blocks are further than {request.max_distance_km:g} km from their "
                f"territory's home: {', '.join(p.graph.ids[far][:5])}."
            )
    return flags


def _baseline(p: DesignProblem, names: list[str]) -> np.ndarray | None:
    """The current territory of each block as a position in ``names`` (-2: a territory no
    longer in the plan, -1: none), or None without a current alignment."""
    if p.start is None:
        return None
    where = {t: i for i, t in enumerate(names)}
    moved_to = np.array([where.get(t, -2) for t in p.current_names] + [-1])
    return moved_to[np.where(pd.isna(p.start), len(p.current_names), p.start).astype(int)]


def _moved_notes(request: DesignRequest, inputs: Inputs, summary: dict) -> list[str]:
    """A note when a rebalance had to move much of the main measure."""
    main = "revenue" if "revenue" in inputs.measures else "accounts"
    moved = summary.get(f"{main}_moved_pct", 0.0)
    if not (request.rebalance and moved > MOVED_MUCH_PCT):
        return []
    return [
        f"Rebalancing moved {moved:.0f}% of {main}: the balance "
        "shifted across much of the map. A fresh design with the current alignment as "
        "baseline (design -k N --current ...) may move about as much and give more compact "
        "territories; compare the two with `territory compare`."
    ]


def _bridge_notes(graph) -> list[str]:
    """A note listing the islands and detached blocks bridged to their nearest block."""
    if not len(graph.bridges):
        return []
    shown = ", ".join(
        f"{r.block_id}->{r.to_block_id} ({r.distance_km:.0f} km)"
        for r in graph.bridges.head(5).itertuples()
    )
    return [
        f"{len(graph.bridges)} islands or detached blocks were bridged to their nearest "
        f"block: {shown}."
    ]


def _alignment(graph, labels, names, parents, rep_of, unaligned) -> pd.DataFrame:
    """block_id -> territory_id (with parent and rep), then the blocks left out (blank)."""
    alignment = pd.DataFrame({"block_id": graph.ids, "territory_id": [names[t] for t in labels]})
    if parents is not None:
        alignment["parent"] = [parents[t] for t in labels]
    if rep_of:
        alignment["rep"] = alignment["territory_id"].map(rep_of)
    if unaligned is not None:
        alignment = pd.concat([alignment, unaligned], ignore_index=True)
    return alignment


def _reps(align: pd.DataFrame | None, home_rows: pd.DataFrame | None) -> dict:
    """Territory -> rep, from the current alignment's rep column, then the homes' rep column."""
    rep_of = {}
    if align is not None and "rep" in align:
        known = align.dropna(subset=["territory_id", "rep"])
        rep_of.update(zip(known["territory_id"], known["rep"], strict=True))
    if home_rows is not None and "rep" in home_rows:
        known = home_rows.dropna(subset=["rep"])
        rep_of.update(zip(known["territory_id"], known["rep"].astype(str), strict=True))
    return rep_of


def _by_rep(quality: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """Measures and disruption (what came in and went out) summed per rep."""
    sums = [c for c in ["blocks", *measures] if c in quality]
    sums += [c for c in quality if c.endswith(("_in", "_out"))]
    table = quality.dropna(subset=["rep"]).groupby("rep", sort=False)
    out = table[sums].sum()
    out.insert(0, "territories", table["territory_id"].agg(_listed))
    return out.reset_index()


def _listed(ids) -> str:
    """Territory ids in their natural order (T2 before T10), joined for the reps table."""
    import re

    def key(name: str):
        return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name)]

    return ", ".join(sorted(map(str, ids), key=key))


def _dissolve(polygons: Polygons, alignment: pd.DataFrame) -> gpd.GeoDataFrame:
    frame = polygons.frame[[polygons.id, polygons.frame.geometry.name]].rename(
        columns={polygons.id: "block_id"}
    )
    frame = frame.merge(alignment.dropna(subset=["territory_id"]), on="block_id")
    names, merged = dissolve(frame.geometry.to_numpy(), frame["territory_id"].to_numpy())
    out = gpd.GeoDataFrame({"territory_id": names}, geometry=merged, crs=frame.crs)
    if "parent" in frame:
        parents = frame.drop_duplicates("territory_id").set_index("territory_id")["parent"]
        out.insert(1, "parent", parents.reindex(names).to_numpy())
    return out
