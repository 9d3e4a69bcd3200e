"""Per-territory sales targets.

A plan takes its targets from one of three places, in this order of precedence:

1. a targets table (``territory_id``, ``target``), e.g. a CSV of quotas;
2. a rule over an account measure: ``target = sum(measure) * (1 + growth)`` per territory,
   e.g. last year's revenue plus 10 %;
3. a ``target`` column on the territory layer (or alignment).

Territories with no target get NaN (attainment is then blank, not zero).

Tracking (:mod:`territory.tracking`) reads these targets when a plan has them
(:func:`target_source`); a plan without targets has tracking set them here
(:func:`tracking_targets`, :func:`cell_rows`): last period's order lines plus growth,
allocated by prior sales, evenly, by potential or by weights, after the plan's adjustments, or
a bottom-up table. Unassigned accounts and unknown accounts get lines of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from territory import columns as cols
from territory.errors import ValidationError
from territory.io import as_frame

if TYPE_CHECKING:
    from territory.tracking import TrackingSpec

UNKNOWN_ACCOUNT = "(unknown account)"
UNASSIGNED = "(unassigned)"
LINES = (UNASSIGNED, UNKNOWN_ACCOUNT)  # tracked lines that are not territories


@dataclass(frozen=True)
class TargetRule:
    """Targets as a growth rule over an account measure (``from_measure`` summed per territory)."""

    from_measure: str
    growth: float = 0.0

    def __post_init__(self):
        if not np.isfinite(self.growth) or self.growth <= -1:
            raise ValidationError(
                f"Target growth must be a number above -1 (e.g. 0.1 for +10 %), not {self.growth}."
            )


def read_targets(data) -> pd.Series:
    """Read a targets table into a Series ``territory_id -> target``."""
    from territory.validate import id_text, to_number

    frame, source = as_frame(data, "targets")
    tcol = cols.find_column(
        frame,
        None,
        cols.TERRITORY_ID[:-2],
        what="territory id",
        source=source,
        option="targets territory column",
    )
    vcol = cols.find_column(
        frame,
        None,
        ("target", "quota", "goal"),
        what="target",
        source=source,
        option="targets value column",
    )
    values, _ = to_number(frame[vcol], vcol, source)
    negative = np.flatnonzero(np.asarray(values, dtype=float) < 0)
    if len(negative):
        raise ValidationError(
            f"Negative targets in column '{vcol}' of the targets {source.called} "
            f"({source.describe_rows(negative)}): a target is an amount to reach. Give 0 for a "
            "territory without one, or leave it out."
        )
    ids = id_text(frame[tcol])
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise ValidationError(
            f"Territories listed twice in the targets {source.called}: "
            f"{', '.join(pd.unique(ids[dup])[:5])} ({source.describe_rows(np.flatnonzero(dup))})."
            " Keep one target per territory."
        )
    return pd.Series(values, index=ids.astype(object).to_numpy(), name="target")


def resolve_targets(
    territory_ids: pd.Index,
    sums: pd.DataFrame,
    *,
    table: pd.Series | None = None,
    rule: TargetRule | None = None,
    layer: pd.Series | None = None,
) -> pd.Series:
    """Return the target of every territory (NaN where none is given).

    ``sums`` holds per-territory sums of account measures (index territory_id), used by ``rule``.
    Unknown territories in ``table`` raise, naming them.
    """
    if table is not None:
        unknown = table.index.difference(territory_ids)
        if len(unknown):
            raise ValidationError(
                f"The targets table names territories that do not exist: "
                f"{', '.join(map(str, unknown[:8]))}. Fix the territory ids."
            )
        return table.reindex(territory_ids).astype(float)
    if rule is not None:
        if rule.from_measure not in sums.columns:
            raise ValidationError(
                f"Target rule uses measure '{rule.from_measure}', which is not an account "
                f"measure. Measures: {', '.join(sums.columns)}. Add it to the accounts measures."
            )
        return sums[rule.from_measure].reindex(territory_ids).fillna(0.0) * (1 + rule.growth)
    if layer is not None:
        return pd.to_numeric(layer, errors="coerce").reindex(territory_ids).astype(float)
    return pd.Series(np.nan, index=territory_ids, dtype=float)


def target_source(result, spec: TrackingSpec) -> str:
    """``"plan"`` when the plan sets targets (tracking reads them), else ``"tracking"``."""
    if not result.kpis["target"].notna().any():
        return "tracking"
    if spec.target_keys:
        raise ValidationError(
            "Targets are set twice: by the plan (its [targets] section or the territories' "
            f"target column) and by [tracking] {', '.join(spec.target_keys)}. Tracking reads "
            "the plan's targets so that the KPI tables and tracking show the same numbers: "
            f"remove {', '.join(spec.target_keys)} from [tracking], or remove the plan's "
            "[targets] to let tracking set them."
        )
    return "plan"


def unassigned_target(result) -> float:
    """The plan's target rule applied to the unassigned accounts (their own line)."""
    rule = result.plan.targets.rule
    if rule is None or result.plan.targets.table is not None:
        return 0.0
    left = float(result.summary["totals"].get(rule.from_measure, {}).get("unassigned", 0.0))
    left *= 1 + rule.growth
    return left if left > 1e-6 else 0.0


def adjustment_multipliers(result, ids: pd.Index) -> pd.Series:
    """The product of the plan's adjustment target multipliers per territory (1: none)."""
    table = result.adjustments
    if table is None or not len(table) or "target_multiplier" not in table.columns:
        return pd.Series(1.0, index=ids)
    mult = pd.to_numeric(table["target_multiplier"], errors="coerce").fillna(1.0)
    product = mult.groupby(table["territory_id"].astype(str)).prod()
    return product.reindex(ids).fillna(1.0)


def tracking_targets(result, spec: TrackingSpec, terr: pd.DataFrame, source) -> pd.Series:
    ids = pd.Index(map(str, result.kpis["territory_id"]))
    if source == "plan":
        kpis = result.kpis.set_index(result.kpis["territory_id"].astype(str))["target"]
        return kpis.reindex(terr.index).fillna(0.0).astype(float)
    if spec.targets is not None:
        return _given_targets(spec, ids).reindex(terr.index).fillna(0.0)
    growth, allocation = spec.rule
    prior = terr["prior_period"]
    lines = terr.index.difference(ids)
    total = float(prior.reindex(ids).fillna(0.0).sum()) * (1 + growth)
    if allocation == "prior":
        weights = prior.reindex(ids).fillna(0.0).clip(lower=0)
    elif allocation == "even":
        weights = pd.Series(1.0, index=ids)
    elif allocation == "potential":
        if not spec.potential or spec.potential not in result.kpis.columns:
            raise ValidationError("allocation = 'potential' needs potential = <a plan measure>.")
        weights = result.kpis.set_index(result.kpis["territory_id"].astype(str))[spec.potential]
    else:
        weights = _territory_weights(spec, ids)
    # the plan's adjustments (e.g. regional_economics) tilt the allocation; the total is kept
    weights = (weights.reindex(ids).fillna(0.0) * adjustment_multipliers(result, ids)).clip(lower=0)
    if weights.sum() <= 0:
        weights = pd.Series(1.0, index=ids)
    out = total * weights / weights.sum()
    # unassigned accounts and unknown accounts: their own line, last period + growth
    return pd.concat([out, prior.reindex(lines).clip(lower=0) * (1 + growth)]).reindex(terr.index)


def _given_targets(spec: TrackingSpec, ids: pd.Index) -> pd.Series:
    """Bottom-up targets per territory (per-cell targets summed) from ``[tracking] targets``."""
    from territory.targets import read_targets

    cells = _cell_table(spec.targets, spec.segment, ("target", "quota", "goal"))
    table = cells.groupby(level=0).sum() if cells is not None else read_targets(spec.targets)
    table.index = table.index.map(str)
    unknown = table.index.difference(ids)
    if len(unknown):
        raise ValidationError(f"Targets for unknown territories: {', '.join(unknown[:8])}.")
    return table.reindex(ids).fillna(0.0)


def _territory_weights(spec: TrackingSpec, ids: pd.Index) -> pd.Series:
    if spec.weights is None:
        raise ValidationError("allocation = 'weights' needs weights = <a CSV>.")
    cells = _cell_table(spec.weights, spec.segment, ("weight",))
    if cells is not None:  # per-cell weights: a territory weighs the sum of its cells
        return cells.groupby(level=0).sum().reindex(ids).fillna(0.0)
    from territory.validate import to_number

    frame, source = as_frame(spec.weights, "weights")
    tcol = cols.find_column(frame, None, ("territory_id", "territory"), what="territory id",
                       source=source, option="weights territory column")  # fmt: skip
    wcol = cols.find_column(frame, None, ("weight",), what="weight", source=source,
                       option="weights column")  # fmt: skip
    values, _ = to_number(frame[wcol], wcol, source)
    index = frame[tcol].astype(str).str.strip()
    return pd.Series(values, index=index).reindex(ids).fillna(0.0)


def _cell_table(data, segment: str | None, value_names: tuple[str, ...]) -> pd.Series | None:
    """A (territory_id, segment) -> value table when ``data`` has a segment column, else None."""
    frame, source = as_frame(data, "targets")
    seg = next((c for c in (segment, "segment") if c and c in frame.columns), None)
    if seg is None:
        return None
    from territory.validate import to_number

    tcol = cols.find_column(frame, None, ("territory_id", "territory"), what="territory id",
                       source=source, option="territory column")  # fmt: skip
    vcol = cols.find_column(frame, None, value_names, what="value", source=source,
                       option="value column")  # fmt: skip
    values, _ = to_number(frame[vcol], vcol, source)
    index = pd.MultiIndex.from_arrays(
        [frame[tcol].astype(str).str.strip(), frame[seg].astype(str).str.strip()],
        names=["territory_id", "segment"],
    )
    out = pd.Series(values, index=index).fillna(0.0)
    if out.index.duplicated().any():
        raise ValidationError(f"{source.name} lists a territory x segment cell twice.")
    return out


def _plan_cells(result, segment: str) -> pd.Series | None:
    """The plan's segment KPI table targets, (territory_id, label) as text -> target."""
    table = (result.segments or {}).get(segment)
    if table is None or "target" not in table.columns:
        return None
    index = pd.MultiIndex.from_arrays(
        [table["territory_id"].astype(str), table[segment].astype(str)],
        names=["territory_id", "segment"],
    )
    return pd.Series(table["target"].to_numpy(float), index=index).fillna(0.0)


def cell_rows(result, spec, cells: pd.DataFrame, territory_targets, source) -> pd.DataFrame:
    """Territory x segment rows with their targets (cells with a target but no sales kept)."""
    if source == "plan":
        given = _plan_cells(result, spec.segment)
    elif spec.targets is not None:
        given = _cell_table(spec.targets, spec.segment, ("target",))
    else:
        given = None
    if given is not None:
        cells = cells.reindex(cells.index.union(given.index), fill_value=0.0)
    cells["target"] = _cell_targets(result, spec, cells, territory_targets)
    if given is not None:  # the plan's cells (territories) or the bottom-up cells as given
        level = cells.index.get_level_values(0)
        known = level.isin(result.kpis["territory_id"].astype(str)) if source == "plan" else (
            np.ones(len(cells), bool))  # fmt: skip
        cells.loc[known, "target"] = given.reindex(cells.index[known]).fillna(0.0).to_numpy()
    cells.index = cells.index.set_names(["territory_id", spec.segment])
    return cells


def _cell_targets(result, spec: TrackingSpec, cells: pd.DataFrame, territory_targets) -> pd.Series:
    """Targets per territory x segment, summing to each territory's target.

    Each territory's target is split by the allocation method: prior-period share (``prior``),
    evenly (``even``), the segment's ``potential`` measure, or cell ``weights`` (a weights
    table with a segment column); where a territory has nothing to split by, evenly.
    """
    index = cells.index
    allocation = spec.rule[1]
    if allocation == "even":
        basis = pd.Series(1.0, index=index)
    elif allocation == "potential" and spec.potential and spec.segment in result.segments:
        table = result.segments[spec.segment]
        basis = pd.Series(
            table[spec.potential].to_numpy(),
            index=pd.MultiIndex.from_arrays(
                [table["territory_id"].astype(str), table[spec.segment].astype(str)]
            ),
        ).reindex(index).fillna(0.0)  # fmt: skip
    elif allocation == "weights" and _cell_table(spec.weights, spec.segment,
                                                 ("weight",)) is not None:  # fmt: skip
        basis = _cell_table(spec.weights, spec.segment, ("weight",)).reindex(index).fillna(0.0)
    else:
        basis = cells["prior_period"]
    basis = basis.clip(lower=0)
    by_terr = basis.groupby(level=0).transform("sum")
    n = basis.groupby(level=0).transform("size")
    share = (basis / by_terr).where(by_terr > 0, 1.0 / n)
    terr_target = pd.Series(index.get_level_values(0).map(territory_targets.to_dict()),
                            index=index).fillna(0.0)  # fmt: skip
    return terr_target * share
