"""Block measures: account sums per block, block columns, workload, and weighted mixes.

A balance request names one measure (``revenue``), a weighted mix (``revenue:0.7,accounts:0.3``;
each part is taken as a share of its total, then mixed) or several measures without weights
(``revenue,accounts,workload``): each of them is then held within its own tolerance
(``--tolerance 0.03`` for all, or per measure ``revenue=0.02,accounts=0.05``), the search steering
by their equal mix.
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


DEFAULT_TOLERANCE = 0.05

# names of the quality table's own columns: block or account columns with these names are kept
# under ``input_<name>`` so they never overwrite (or duplicate) what the designer measures
OWN_COLUMNS = frozenset(
    {
        "territory_id", "parent", "rep", "blocks", "balance", "balance_target", "deviation_pct",
        "area_km2", "perimeter_km", "polsby_popper", "parts", "contiguous", "blocks_in",
        "blocks_out", "block_id", "account_id", "from_territory", "to_territory", "territory_a",
        "method", "distance_km", "reason",
    }
)  # fmt: skip


def several_measures(text: str) -> list[str]:
    """The measures of ``revenue,accounts,workload`` (several, no weights), else [] (one measure
    or a weighted mix such as ``revenue:0.7,accounts:0.3``)."""
    items = [i.strip() for i in str(text).split(",") if i.strip()]
    if len(items) < 2 or any(":" in i or "=" in i for i in items):
        return []
    return list(dict.fromkeys(items))


def parse_tolerance(value, balanced: list[str]) -> tuple[float, dict[str, float]]:
    """The search tolerance and, with several measures, each measure's own tolerance.

    ``value`` is a fraction (0.03), the same as text, per measure text
    (``revenue=0.02,accounts=0.05``, a bare number among them is the default for the rest) or a
    dict ``{measure: fraction}``. ``balanced`` are the several measures (empty for one measure
    or a mix). Measures without a tolerance of their own get the default (5 %).
    """
    default, own = _tolerance_parts(value)
    unknown = sorted(set(own) - set(balanced))
    if unknown and (balanced or len(own) > 1):
        raise ValidationError(
            f"Tolerance given for {', '.join(map(repr, unknown))}, which is not balanced "
            f"({', '.join(balanced) or 'one measure'}): name only balanced measures, e.g. "
            "--balance revenue,accounts --tolerance revenue=0.02,accounts=0.05"
        )
    if not balanced:
        only = next(iter(own.values()), None)
        return (only if only is not None else _default(default)), {}
    tolerances = {m: own.get(m, _default(default)) for m in balanced}
    return min(tolerances.values()), tolerances


def _default(value: float | None) -> float:
    return DEFAULT_TOLERANCE if value is None else value


def _tolerance_parts(value) -> tuple[float | None, dict[str, float]]:
    """(default, {measure: tolerance}) from a number, text or dict, each checked."""
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, str):
        items = []
        for part in (p.strip() for p in value.split(",") if p.strip()):
            name, sep, number = part.rpartition("=") if "=" in part else part.rpartition(":")
            items.append((name.strip() if sep else "", number))
    else:
        items = [("", value)]
    default, own = None, {}
    for name, number in items:
        try:
            fraction = float(number)
        except (TypeError, ValueError):
            raise ValidationError(
                f"Tolerance '{number}'{f' for {name!r}' if name else ''} is not a number: write "
                "a fraction (--tolerance 0.03) or one per measure "
                "(--tolerance revenue=0.02,accounts=0.05)."
            ) from None
        if not 0 <= fraction < 1:
            raise ValidationError(
                f"Tolerance must be a fraction between 0 and 1 (0.05 = 5%), not {number}"
                f"{f' for {name!r}' if name else ''}."
            )
        if name:
            own[name] = fraction
        else:
            default = fraction
    return default, own


def keep_out_of_own_names(frame: pd.DataFrame, notes: list[str], what: str) -> pd.DataFrame:
    """``frame`` with columns named like the designer's own kept as ``input_<name>`` (noted)."""
    clash = [c for c in frame.columns if c in OWN_COLUMNS]
    if not clash:
        return frame
    notes.append(
        f"{what} column(s) {', '.join(map(repr, clash))} share a name with what the quality "
        f"report measures; they are kept as {', '.join(f'input_{c}' for c in clash)}."
    )
    return frame.rename(columns={c: f"input_{c}" for c in clash})


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
    request = {
        (f"input_{m}" if m not in measures and f"input_{m}" in measures else m): w
        for m, w in request.items()
    }
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
