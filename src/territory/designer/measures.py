"""Block measures: account sums per block, block columns, workload, and weighted mixes.

A balance request names one measure (``revenue``) or a weighted mix
(``revenue:0.7,accounts:0.3``; each part is taken as a share of its total, then mixed).
Measures are ``accounts`` (count), any numeric account column (summed per block), any numeric
block column (e.g. ``population``), and ``workload``: accounts x visit hours plus travel inside
the block, estimated as half the block's width (square root of its area) per visit at the
given speed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory.designer.blocks import BlockGraph
from territory.errors import ValidationError
from territory.stages.assign import assign_to_blocks
from territory.validate import Accounts, Polygons


def account_measures(
    accounts: Accounts, blocks: Polygons, max_distance_km: float = 10.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign accounts to blocks; returns (per-block sums incl. ``accounts``, assignments)."""
    rows = assign_to_blocks(accounts, blocks, max_distance_km)
    inside = rows["block_id"].notna()
    sums = rows.loc[inside].groupby("block_id", observed=True)[accounts.measures].sum()
    sums.insert(0, "accounts", rows.loc[inside].groupby("block_id", observed=True).size())
    ids = pd.Index(blocks.frame[blocks.id].to_numpy(dtype=object), name="block_id")
    sums.index = sums.index.astype(object)
    return sums.reindex(ids).fillna(0.0), rows


def block_columns(blocks: Polygons) -> pd.DataFrame:
    """Numeric columns of the block layer (population, households ...), by block id."""
    frame = blocks.frame.drop(columns=[blocks.id, blocks.frame.geometry.name])
    numeric = frame.select_dtypes("number")
    numeric.index = pd.Index(blocks.frame[blocks.id].to_numpy(dtype=object), name="block_id")
    return numeric.astype(float).fillna(0.0)


def parse_balance(text: str) -> dict[str, float]:
    """``"revenue"`` -> {revenue: 1}; ``"revenue:0.7,accounts:0.3"`` -> weights."""
    parts: dict[str, float] = {}
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        name, _, w = item.partition(":") if ":" in item else item.partition("=")
        try:
            weight = float(w) if w.strip() else 1.0
        except ValueError:
            raise ValidationError(
                f"Balance weight '{w}' for '{name}' is not a number: write e.g. "
                "--balance revenue:0.7,accounts:0.3"
            ) from None
        if weight < 0 or not np.isfinite(weight):
            raise ValidationError(f"Balance weight for '{name}' must be 0 or more, not {w}.")
        parts[name.strip()] = parts.get(name.strip(), 0.0) + weight
    if not parts or sum(parts.values()) <= 0:
        raise ValidationError(
            f"Nothing to balance in '{text}': name a measure such as revenue, accounts or "
            "workload, or a mix such as revenue:0.7,accounts:0.3."
        )
    return parts


def balance_weights(
    request: dict[str, float],
    measures: pd.DataFrame,
    graph: BlockGraph,
    *,
    visit_hours: float = 1.0,
    speed_kmh: float = 50.0,
) -> tuple[pd.Series, pd.DataFrame]:
    """The balancing value per block and the measures table extended with ``workload``."""
    measures = measures.copy()
    if "accounts" in measures:
        visits = measures["accounts"].to_numpy(float)
        travel = visits * 0.5 * np.sqrt(graph.area) / speed_kmh
        measures["workload"] = visits * visit_hours + travel
    unknown = [m for m in request if m not in measures.columns]
    if unknown:
        raise ValidationError(
            f"Unknown balance measure {', '.join(repr(u) for u in unknown)}. Available: "
            f"{', '.join(measures.columns)} (account columns summed per block, numeric block "
            "columns, accounts and workload; give --accounts for account measures)."
        )
    mix = pd.Series(0.0, index=measures.index)
    for name, w in request.items():
        v = measures[name].astype(float)
        if (v < 0).any():
            bad = v.index[v < 0][:5].tolist()
            raise ValidationError(
                f"Measure '{name}' is negative in blocks {bad}: balancing needs amounts of 0 or "
                "more (filter credits out or balance another measure)."
            )
        total = v.sum()
        if total <= 0:
            raise ValidationError(
                f"Measure '{name}' is zero in every block: nothing to balance. Check that the "
                "accounts fall inside the blocks and carry that column."
            )
        mix += w * v / total if len(request) > 1 else v
    return mix, measures
