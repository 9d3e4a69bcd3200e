"""A generated plan for browser tests: a row of territories of two blocks each, with a
hierarchy (parent), one rep per territory, accounts, and two years of monthly orders whose
growth differs by territory (so, at mid-year, some territories are ahead of pace and some
behind)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

WEST, SOUTH = -100.0, 30.0  # south-west corner of the first block (1 x 1 degree blocks)
MONTHLY = 100.0  # each account's sales per month in 2016
AS_OF = "2017-06-30"


@dataclass
class GridPlan:
    folder: Path
    plan: Path
    alignment: Path
    territory_ids: list[str]
    growth: list[float]  # 2017 sales per month / 2016's, by territory
    accounts_per_territory: int

    def hover_point(self, k: int) -> tuple[float, float]:
        """(lat, lon) inside territory ``k``, away from its label and its accounts."""
        return SOUTH + 1.55, WEST + k + 0.8


def write_grid_plan(folder: Path, growth=(0.6, 0.9, 1.0, 1.2, 1.5, 0.8)) -> GridPlan:
    n = len(growth)
    tids = [f"G{k}" for k in range(n)]
    # block ids with a leading zero, so "as given" matters; block k has the south block 2k
    bids = [f"0{100 + i}" for i in range(2 * n)]
    shapes = [box(WEST + k, SOUTH + j, WEST + k + 1, SOUTH + j + 1) for k in range(n)
              for j in (0, 1)]  # fmt: skip
    gpd.GeoDataFrame({"block_id": bids}, geometry=shapes, crs=4326).to_file(
        folder / "blocks.geojson"
    )
    owner = [i // 2 for i in range(2 * n)]
    # an unusual column order and a block-level column the tool does not use
    pd.DataFrame(
        {
            "territory_id": [tids[t] for t in owner],
            "block_id": bids,
            "block_note": [f"note {i}, kept" for i in range(2 * n)],
            "name": [f"Territory {chr(65 + t)}" for t in owner],
            "parent": [f"Region {t % 2 + 1}" for t in owner],
            "rep": [f"Rep {t + 1}" for t in owner],
        }
    ).to_csv(folder / "alignment.csv", index=False)
    per = 2
    rows = []
    for k in range(n):
        for a in range(per):  # in the south block, west part (off the hover point and label)
            rows.append({"account_id": f"A{k}-{a}", "lat": SOUTH + 0.2 + 0.3 * a,
                         "lon": WEST + k + 0.2, "revenue": 5000.0 * (k + 1),
                         "revenue_prior": 12 * MONTHLY})  # fmt: skip
    accounts = pd.DataFrame(rows)
    accounts.to_csv(folder / "accounts.csv", index=False)
    orders = []
    for k in range(n):
        for a in range(per):
            for month in range(1, 13):
                orders.append((f"A{k}-{a}", f"2016-{month:02d}-15", MONTHLY))
                orders.append((f"A{k}-{a}", f"2017-{month:02d}-15", MONTHLY * growth[k]))
    pd.DataFrame(orders, columns=["account", "day", "amount"]).to_csv(
        folder / "orders.csv", index=False
    )
    plan = folder / "plan.toml"
    plan.write_text(
        """name = "Grid plan"
[accounts]
path = "accounts.csv"
measures = ["revenue", "revenue_prior"]
[blocks]
path = "blocks.geojson"
id = "block_id"
[alignment]
path = "alignment.csv"
[targets]
from = "revenue_prior"
[tracking]
orders = "orders.csv"
account = "account"
date = "day"
amount = "amount"
[outputs]
dir = "out"
""",
        encoding="utf-8",
    )
    return GridPlan(folder, plan, folder / "alignment.csv", tids, list(growth), per)


def expected_tracking(grid: GridPlan) -> pd.DataFrame:
    """Tracking at mid-year by hand: targets are the plan's, last year's sales (each account's
    ``revenue_prior`` is its 2016 order lines, growth 0), half of last year's sales were made
    by 2016-06-30, so the pace is 50 %."""
    per = grid.accounts_per_territory
    target = np.full(len(grid.growth), 12 * MONTHLY * per)
    actual = np.array([6 * MONTHLY * per * g for g in grid.growth])
    return pd.DataFrame(
        {"target": target, "actual": actual, "pacing": actual / (0.5 * target)},
        index=grid.territory_ids,
    )
