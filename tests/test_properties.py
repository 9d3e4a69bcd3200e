"""Nothing is lost: property tests over random books of business.

Accounts are drawn inside blocks, exactly on block borders and corners, just outside the grid,
far away, or without coordinates; measures are arbitrary finite numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import territory

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
coordinate = st.one_of(
    st.floats(min_value=-0.5, max_value=4.5, allow_nan=False),  # in and around the 4x4 grid
    st.integers(min_value=0, max_value=4).map(float),  # exactly on grid lines
    st.floats(min_value=20, max_value=30, allow_nan=False),  # far away
    st.just(float("nan")),  # no location
)
account = st.tuples(coordinate, coordinate, finite, finite)


def frame_of(rows) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [f"acc{i}" for i in range(len(rows))],
            "lon": [r[0] for r in rows],
            "lat": [r[1] for r in rows],
            "revenue": [r[2] for r in rows],
            "pipeline": [r[3] for r in rows],
        }
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(account, min_size=1, max_size=60))
def test_every_account_once_and_totals_conserved(rows, grid_blocks, grid_alignment):
    accounts = frame_of(rows)
    result = territory.run(accounts, grid_blocks, alignment=grid_alignment, max_distance_km=30)
    out = result.assignments
    # Exactly once, same order.
    assert out["account_id"].tolist() == accounts["account_id"].tolist()
    # Every account is assigned or unassigned with a reason.
    unassigned = out["territory_id"].isna()
    assert (out.loc[unassigned, "method"] == "unassigned").all()
    assert out.loc[unassigned, "reason"].str.len().gt(0).all()
    assert out.loc[~unassigned, "territory_id"].isin(["W", "E"]).all()
    # Totals conserved: territories + unassigned == input, for every measure.
    for m in ("revenue", "pipeline"):
        total = accounts[m].sum()
        in_territories = result.kpis[m].sum()
        left_over = out.loc[unassigned, m].sum()
        assert np.isclose(in_territories + left_over, total, rtol=1e-9, atol=1e-6)
        totals = result.summary["totals"][m]
        assert np.isclose(totals["assigned"] + totals["unassigned"], totals["input"])
    assert result.kpis["accounts"].sum() + unassigned.sum() == len(accounts)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(account, min_size=1, max_size=40))
def test_assigned_block_really_holds_the_account(rows, grid_blocks, grid_alignment):
    accounts = frame_of(rows)
    out = territory.assign(accounts, grid_blocks, alignment=grid_alignment, max_distance_km=30)
    blocks = grid_blocks.set_index("block_id").geometry
    for row, acc in zip(out.itertuples(), accounts.itertuples(), strict=True):
        if row.method in ("inside", "boundary"):
            block = blocks[row.block_id]
            pt = shapely.Point(acc.lon, acc.lat)
            assert block.intersects(pt)
            assert (row.method == "inside") == block.contains(pt)
        elif row.method == "nearest":
            assert 0 <= row.distance_km <= 30
