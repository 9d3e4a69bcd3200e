"""Per-territory sales targets.

A plan takes its targets from one of three places, in this order of precedence:

1. a targets table (``territory_id``, ``target``), e.g. a CSV of quotas;
2. a rule over an account measure: ``target = sum(measure) * (1 + growth)`` per territory,
   e.g. last year's revenue plus 10 %;
3. a ``target`` column on the territory layer (or alignment).

Territories with no target get NaN (attainment is then blank, not zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from territory import columns as cols
from territory.errors import ValidationError
from territory.io import as_frame


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
    ids = id_text(frame[tcol])
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise ValidationError(
            f"Territories listed twice in the targets file {source.name}: "
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
