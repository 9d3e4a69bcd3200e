"""The forecast range against an independent Monte Carlo of the same model on the demo: open
opportunities close with their stage probability (independent Bernoulli draws), the rest of
the business is max(Normal, 0) with the run-rate's remaining sales (beyond the weighted
pipeline) as mean and the run rate's relative error in the past three years as spread, all
computed here in pandas from the raw order lines and opportunities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from territory.api import demo_plan
from territory.tracking import track

from .conftest import DATA

pytestmark = pytest.mark.slow

AS_OF = pd.Timestamp("2017-06-30")
STAGES = {"prospect": 0.1, "qualify": 0.25, "proposal": 0.5, "negotiation": 0.75}
DRAWS = 200_000


@pytest.fixture(scope="module")
def tracked():
    plan = demo_plan()
    result = plan.run()
    where = result.assignments[["account_id", "territory_id"]].astype(str)
    return track(result, plan.tracking, AS_OF), where.set_index("account_id")["territory_id"]


def year_share(lines: pd.DataFrame, year: int, offset) -> float | None:
    """Share of ``year``'s sales made by ``offset`` days into it (None: no sales)."""
    sales = lines[lines["date"].dt.year == year]
    if not sales["amount"].sum():
        return None
    point = pd.Timestamp(f"{year}-01-01") + offset
    return sales.loc[sales["date"] <= point, "amount"].sum() / sales["amount"].sum()


def spread(lines: pd.DataFrame, key: pd.Series, share: float) -> pd.Series:
    """Std of the run rate's relative error in 2016, 2015 and 2014, per key."""
    offset = AS_OF - pd.Timestamp("2017-01-01")
    errors = {}
    for year in (2016, 2015, 2014):
        curve = year_share(lines, year - 1, offset) or share
        sales = lines[lines["date"].dt.year == year]
        point = pd.Timestamp(f"{year}-01-01") + offset
        full = sales.groupby(key)["amount"].sum()
        to_point = sales[sales["date"] <= point].groupby(key)["amount"].sum()
        to_point = to_point.reindex(full.index, fill_value=0.0)
        errors[year] = (full / (to_point / curve) - 1).where(to_point > 0)
    table = pd.DataFrame(errors)
    return table.std(axis=1, ddof=1).where(table.notna().sum(axis=1) >= 2)


def monte_carlo(actual, target, base_mean, base_sd, amounts, probabilities, seed):
    """The simulated finals: a plain simulation of the model, 50,000 draws at a time."""
    rng = np.random.default_rng(seed)
    finals = []
    for _ in range(DRAWS // 50_000):
        hits = rng.random((len(amounts), 50_000)) < probabilities[:, None]
        pipeline = amounts @ hits if len(amounts) else np.zeros(50_000)
        base = np.maximum(base_mean + base_sd * rng.standard_normal(50_000), 0.0)
        finals.append(actual + pipeline + base)
    return np.concatenate(finals)


def test_probability_of_reaching_the_target_matches_a_monte_carlo(tracked):
    t, territory_of = tracked
    orders = pd.read_parquet(DATA / "superstore_orders.parquet")
    lines = pd.DataFrame({"territory_id": orders["Customer ID"].map(territory_of),
                          "date": orders["Order Date"], "amount": orders["Sales"]})  # fmt: skip
    share = year_share(lines, 2016, AS_OF - pd.Timestamp("2017-01-01"))
    assert t.pace == pytest.approx(share)
    everything = pd.Series("all", index=lines.index)
    plan_sd = spread(lines, everything, share).iloc[0]
    own_sd = spread(lines, lines["territory_id"], share).fillna(plan_sd)
    opps = pd.read_csv(DATA / "demo_opportunities.csv", dtype={"account_id": str})
    close = pd.to_datetime(opps["close_date"])
    opps = opps[(close > AS_OF) & (close <= "2017-12-31")].assign(
        territory_id=lambda o: o["account_id"].map(territory_of),
        probability=lambda o: o["stage"].str.lower().map(STAGES),
    )
    now = lines[lines["date"].between("2017-01-01", AS_OF)]
    terr = t.territories.set_index("territory_id")
    rows = [(tid, now.loc[now["territory_id"] == tid, "amount"].sum(),
             opps[opps["territory_id"] == tid], own_sd[tid]) for tid in terr.index]  # fmt: skip
    rows.append(("TOTAL", now["amount"].sum(), opps, plan_sd))
    table = pd.concat([terr, t.total.set_index("territory_id")])
    probabilities = []
    for k, (tid, actual, mine, sd) in enumerate(rows):
        run = actual / share
        weighted = (mine["amount"] * mine["probability"]).sum()
        target = table.loc[tid, "target"]
        finals = monte_carlo(actual, target, max(run - actual - weighted, 0.0), sd * run,
                             mine["amount"].to_numpy(), mine["probability"].to_numpy(),
                             seed=k)  # fmt: skip
        p = (finals >= target).mean()
        got = table.loc[tid]
        assert abs(got["p_reach_target"] - p) < 0.01, (tid, got["p_reach_target"], p)
        for q in (10, 50, 90):  # the percentiles: that share of the simulated finals below
            below = (finals <= got[f"forecast_p{q}"]).mean()
            assert abs(below - q / 100) < 0.02, (tid, q, below)
        probabilities.append(p)
    # the check has teeth: several rows are neither sure nor hopeless
    assert sum(0.05 < p < 0.95 for p in probabilities) >= 5
