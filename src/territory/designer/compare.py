"""Measure an imported alignment, and compare two alignments of the same blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from territory.designer.inputs import load_inputs
from territory.designer.measures import OWN_COLUMNS, parse_tolerance, several_measures
from territory.designer.quality import plan_quality
from territory.errors import ValidationError
from territory.stages.read import read_alignment


@dataclass
class Comparison:
    """Two alignments side by side.

    ``blocks_moved``: ``block_id``, ``from_territory``, ``to_territory`` and the block measures;
    ``accounts_moved``: ``account_id``, ``from_territory``, ``to_territory`` and measures;
    ``territories``: per-territory measures, deviation and compactness of A and B with deltas,
    one row per pair of matched territories (``territory_a``, ``territory_b``; ``territory_id``
    is B's, or A's for a territory B has no match for);
    ``summary``: plan figures of A and B and their difference.

    Territories are matched between the plans by the largest overlap (the assignment of A's
    territories to B's that keeps the most blocks in place), so a block moved only when its
    A territory's match is not its B territory, whatever the two plans call their territories.
    """

    blocks_moved: pd.DataFrame
    accounts_moved: pd.DataFrame
    territories: pd.DataFrame
    summary: pd.DataFrame


def _labels(alignment, inputs) -> tuple[np.ndarray, list[str], list | None]:
    align = read_alignment(alignment, inputs.polygons)
    terr = align.set_index("block_id")["territory_id"].reindex(inputs.graph.ids)
    names = list(pd.unique(terr.dropna()))
    index = pd.Series(np.arange(len(names)), index=names)
    labels = index.reindex(terr.to_numpy()).fillna(-1).to_numpy(int)
    parents = None
    if "parent" in align and align["parent"].notna().any():
        first = align.dropna(subset=["territory_id"]).drop_duplicates("territory_id")
        parents = first.set_index("territory_id")["parent"].reindex(names).tolist()
    return labels, names, parents


def _report(inputs, labels, names, parents, tolerances, baseline=None):
    members = np.flatnonzero(labels >= 0)
    sub, _ = inputs.graph.subgraph(members)
    return plan_quality(
        sub,
        labels[members],
        names,
        inputs.measures.iloc[members],
        inputs.weight.iloc[members],
        tolerance=tolerances[0],
        tolerances=tolerances[1],
        parents=parents,
        baseline=None if baseline is None else baseline[members],
    )


def _tolerances(balance: str, tolerance) -> tuple[float, dict[str, float]]:
    return parse_tolerance(tolerance, several_measures(balance))


def plan_report(
    blocks: Any,
    alignment: Any,
    accounts: Any = None,
    *,
    balance: str = "revenue",
    tolerance: float | str | dict = 0.05,
    baseline: Any = None,
    block_id: str | None = None,
    crs: str | None = None,
    **account_options,
) -> tuple[pd.DataFrame, dict]:
    """Quality table and summary of any alignment (designed here or imported).

    ``balance`` and ``tolerance`` as given to :func:`~territory.designer.design`: the targets
    (raised for territories holding blocks too heavy for the tolerance) and, with several
    measures, each measure's deviation, are those the design aimed at. With ``baseline`` (an
    earlier alignment of the same blocks) the report adds disruption: blocks, accounts and
    revenue that changed territory.
    """
    tolerances = _tolerances(balance, tolerance)
    inputs = _inputs(blocks, accounts, balance, block_id, crs, account_options)
    labels, names, parents = _labels(alignment, inputs)
    base = None
    if baseline is not None:
        b_labels, b_names, _ = _labels(baseline, inputs)
        base = _same_names(b_labels, b_names, names)
    return _report(inputs, labels, names, parents, tolerances, base)


def compare(
    a: Any,
    b: Any,
    blocks: Any,
    accounts: Any = None,
    *,
    balance: str = "revenue",
    tolerance: float | str | dict = 0.05,
    block_id: str | None = None,
    crs: str | None = None,
    **account_options,
) -> Comparison:
    """Blocks and accounts that moved from alignment ``a`` to ``b``, KPI and quality deltas.

    Territories are matched by the largest overlap first (see :class:`Comparison`);
    ``balance`` and ``tolerance`` as in :func:`plan_report`.
    """
    tolerances = _tolerances(balance, tolerance)
    inputs = _inputs(blocks, accounts, balance, block_id, crs, account_options)
    la, na, pa = _labels(a, inputs)
    lb, nb, pb = _labels(b, inputs)
    match = _match(la, lb, len(na), len(nb))  # B position of each A territory (-2: none)
    ta = np.array(na, dtype=object)[np.maximum(la, 0)]
    ta[la < 0] = None
    tb = np.array(nb, dtype=object)[np.maximum(lb, 0)]
    tb[lb < 0] = None
    a_in_b = np.where(la >= 0, match[np.maximum(la, 0)], -1)
    moved = (a_in_b != lb) & ~((la < 0) & (lb < 0))
    blocks_moved = pd.DataFrame(
        {"block_id": inputs.graph.ids, "from_territory": ta, "to_territory": tb}
    )
    blocks_moved = pd.concat([blocks_moved, inputs.measures.reset_index(drop=True)], axis=1)
    blocks_moved = blocks_moved.loc[moved].reset_index(drop=True)

    accounts_moved = pd.DataFrame(columns=["account_id", "from_territory", "to_territory"])
    if inputs.rows is not None:
        rows = inputs.rows.dropna(subset=["block_id"])
        block_pos = pd.Series(np.arange(len(inputs.graph)), index=inputs.graph.ids)
        p = block_pos.reindex(rows["block_id"].astype(object)).to_numpy()
        frame = pd.DataFrame(
            {
                "account_id": rows["account_id"].to_numpy(),
                "from_territory": ta[p],
                "to_territory": tb[p],
            }
        )
        measure_cols = [
            c
            for c in rows.columns
            if c not in ("account_id", "block_id", "method", "distance_km", "reason")
        ]
        for c in measure_cols:  # user columns stay out of the comparison's own names
            frame[f"input_{c}" if c in OWN_COLUMNS else c] = rows[c].to_numpy()
        accounts_moved = frame.loc[moved[p]].reset_index(drop=True)

    qa, sa = _report(inputs, la, na, pa, tolerances)
    qb, sb = _report(inputs, lb, nb, pb, tolerances, a_in_b)
    side = _side_by_side(qa, qb, match, list(inputs.measures.columns))
    figures = [key for key in sa if isinstance(sa[key], (int, float, bool))]
    summary = pd.DataFrame(
        {"a": [sa[f] for f in figures], "b": [sb.get(f) for f in figures]},
        index=pd.Index(figures, name="figure"),
    )
    summary["delta"] = [
        (sb.get(f) - sa[f])
        if isinstance(sa[f], (int, float)) and not isinstance(sa[f], bool)
        else None
        for f in figures
    ]
    for key in ("blocks_moved", *[f"{m}_moved" for m in inputs.measures.columns]):
        if key in sb:
            summary.loc[key] = [None, sb[key], None]
    return Comparison(blocks_moved, accounts_moved, side, summary.reset_index())


def _match(la: np.ndarray, lb: np.ndarray, ka: int, kb: int) -> np.ndarray:
    """B's territory (position) matched to each of A's by the largest overlap in blocks
    (-2 for A territories left without a match when B has fewer)."""
    from scipy.optimize import linear_sum_assignment

    both = (la >= 0) & (lb >= 0)
    overlap = np.zeros((ka, kb))
    np.add.at(overlap, (la[both], lb[both]), 1.0)
    rows, cols = linear_sum_assignment(-overlap)
    match = np.full(ka, -2)
    match[rows] = cols
    return match


def _side_by_side(qa, qb, match, measures: list[str]) -> pd.DataFrame:
    """One row per matched pair of territories (and per territory left unmatched), A's and
    B's figures with B - A deltas."""
    figures = [*measures, "balance", "deviation_pct", "polsby_popper", "contiguous"]
    a = qa[["territory_id", *figures]].rename(columns={"territory_id": "territory_a"})
    b = qb[["territory_id", *figures]].rename(columns={"territory_id": "territory_b"})
    a["pair"] = [f"b{m}" if m >= 0 else f"a{i}" for i, m in enumerate(match)]
    b["pair"] = [f"b{j}" for j in range(len(b))]
    side = a.merge(b, on="pair", how="outer", suffixes=("_a", "_b")).drop(columns="pair")
    side.insert(0, "territory_id", side["territory_b"].where(side["territory_b"].notna(),
                                                             side["territory_a"]))  # fmt: skip
    for c in figures[:-1]:
        side[f"{c}_delta"] = side[f"{c}_b"].fillna(0) - side[f"{c}_a"].fillna(0)
    return side


def _same_names(labels: np.ndarray, names: list[str], other: list[str]) -> np.ndarray:
    """``labels`` (positions into ``names``) re-expressed as positions into ``other``."""
    index = {t: i for i, t in enumerate(other)}
    mapped = np.array([index.get(t, -2) for t in names] + [-1])
    return mapped[np.where(labels >= 0, labels, len(names))]


def _inputs(blocks, accounts, balance, block_id, crs, account_options):
    options = _account_options(account_options, crs)
    return load_inputs(blocks, accounts, balance, block_id=block_id, crs=crs,
                       account_options=options)[0]  # fmt: skip


def _account_options(options: dict, crs) -> dict:
    allowed = {
        "account_id": "id",
        "lat": "lat",
        "lon": "lon",
        "postal_code": "postal_code",
        "measures": "measures",
    }
    unknown = set(options) - set(allowed)
    if unknown:
        raise ValidationError(f"Unknown option(s) {sorted(unknown)}; use {sorted(allowed)}.")
    out = {allowed[k]: v for k, v in options.items()}
    out.setdefault("crs", crs)
    return out
