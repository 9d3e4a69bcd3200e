"""Built-in extra KPI columns, registered through the same hook as third-party ones."""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory.extensions import KpiColumn
from territory.hookspecs import hookimpl


def revenue_per_account(rows: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Mean revenue per assigned account (NaN when the plan has no revenue measure)."""
    if "revenue" not in rows.columns:
        return pd.Series(np.nan, index=rows.groupby(keys, observed=True).size().index)
    return rows.groupby(keys, observed=True)["revenue"].mean()


@hookimpl
def register_kpis(register):
    register(KpiColumn("revenue_per_account", revenue_per_account,
                       "Mean revenue per assigned account."))  # fmt: skip
