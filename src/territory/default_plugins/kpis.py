"""Built-in extra KPI columns, registered through the same hook as third-party ones."""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory.extensions import KpiColumn
from territory.hookspecs import hookimpl


def revenue_per_account(sums: pd.DataFrame) -> pd.Series:
    """Mean revenue per assigned account (NaN when the plan has no revenue measure)."""
    if "revenue" not in sums.columns:
        return pd.Series(np.nan, index=sums.index)
    return sums["revenue"] / sums["accounts"].where(sums["accounts"] > 0)


@hookimpl
def register_kpis(register):
    register(KpiColumn("revenue_per_account", description="Mean revenue per assigned account.",
                       from_sums=revenue_per_account))  # fmt: skip
