"""Measure an imported alignment, and compare two alignments of the same blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from territory.designer.inputs import load_inputs
from territory.designer.quality import plan_quality
from territory.errors import ValidationError
from territory.stages.read import read_alignment


@dataclass
class Comparison:
    """Two alignments side by side.

    ``blocks_moved``: ``block_id``, ``from_territory``, ``to_territory`` and the block measures;
    ``accounts_moved``: ``account_id``, ``from_territory``, ``to_territory`` and measures;
    ``territories``: per-territory measures, deviation and compactness of A and B with deltas;
    ``summary``: plan figures of A and B and their difference.
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


def _report(inputs, labels, names, parents, baseline=None):
    members = np.flatnonzero(labels >= 0)
    sub, _ = inputs.graph.subgraph(members)
    return plan_quality(
        sub,
        labels[members],
        names,
        inputs.measures.iloc[members],
        inputs.weight.iloc[members],
        parents=parents,
        baseline=None if baseline is None else baseline[members],
    )


def plan_report(
    blocks: Any,
    alignment: Any,
    accounts: Any = None,
    *,
    balance: str = "revenue",
    baseline: Any = None,
    block_id: str | None = None,
    crs: str | None = None,
    **account_options,
) -> tuple[pd.DataFrame, dict]:
    """Quality table and summary of any alignment (designed here or imported).

    With ``baseline`` (an earlier alignment of the same blocks) the report adds disruption:
    blocks, accounts and revenue that changed territory.
    """
    inputs = _inputs(blocks, accounts, balance, block_id, crs, account_options)
    labels, names, parents = _labels(alignment, inputs)
    base = None
    if baseline is not None:
        b_labels, b_names, _ = _labels(baseline, inputs)
        base = _same_names(b_labels, b_names, names)
    return _report(inputs, labels, names, parents, base)


def compare(
    a: Any,
    b: Any,
    blocks: Any,
    accounts: Any = None,
    *,
    balance: str = "revenue",
    block_id: str | None = None,
    crs: str | None = None,
    **account_options,
) -> Comparison:
    """Blocks and accounts that moved from alignment ``a`` to ``b``, KPI and quality deltas."""
    inputs = _inputs(blocks, accounts, balance, block_id, crs, account_options)
    la, na, pa = _labels(a, inputs)
    lb, nb, pb = _labels(b, inputs)
    ta = np.array(na, dtype=object)[np.maximum(la, 0)]
    ta[la < 0] = None
    tb = np.array(nb, dtype=object)[np.maximum(lb, 0)]
    tb[lb < 0] = None
    moved = pd.Series(ta).ne(pd.Series(tb)).to_numpy() & ~(pd.isna(ta) & pd.isna(tb))
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
        for c in measure_cols:
            frame[c] = rows[c].to_numpy()
        accounts_moved = frame.loc[moved[p]].reset_index(drop=True)

    qa, sa = _report(inputs, la, na, pa)
    qb, sb = _report(inputs, lb, nb, pb, _same_names(la, na, nb))
    keep = [
        "territory_id",
        *inputs.measures.columns,
        "balance",
        "deviation_pct",
        "polsby_popper",
        "contiguous",
    ]
    side = qa[keep].merge(qb[keep], on="territory_id", how="outer", suffixes=("_a", "_b"))
    for c in [*inputs.measures.columns, "balance", "deviation_pct", "polsby_popper"]:
        side[f"{c}_delta"] = side[f"{c}_b"].fillna(0) - side[f"{c}_a"].fillna(0)
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
