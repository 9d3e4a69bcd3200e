"""Tracking: numbers against independent pandas on the Superstore lines, targets, revision,
bad input kept and reported, periods, the track command."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from territory.cli import cli, demo_plan
from territory.errors import ValidationError
from territory.plan import TargetsSpec
from territory.tracking import TrackingSpec, period_of, revise, track

from .conftest import DATA

PLAN = DATA / "demo_plan.toml"


@pytest.fixture(scope="module")
def result():
    return demo_plan().run()


@pytest.fixture(scope="module")
def own(result):
    """The demo plan without its [targets]: tracking sets the targets (after the plan's
    adjustments)."""
    return replace(demo_plan(), targets=TargetsSpec()).run()


@pytest.fixture(scope="module")
def orders():
    return pd.read_parquet(DATA / "superstore_orders.parquet")


def spec(**changes) -> TrackingSpec:
    return replace(demo_plan().tracking, **changes)


def independent(result, orders, start, end, by):
    """Sales per key between start and end (inclusive), straight from pandas."""
    where = result.assignments.set_index("account_id")[["territory_id", "segment"]]
    lines = orders.join(where, on="Customer ID")
    lines = lines[lines["Order Date"].between(start, end)]
    return lines.groupby(by, observed=True)["Sales"].sum()


@pytest.mark.parametrize(
    ("period", "start"),
    [("year", "2017-01-01"), ("quarter", "2017-04-01"), ("month", "2017-06-01")],
)
def test_actuals_match_pandas_per_territory_and_segment(result, orders, period, start):
    t = track(result, spec(period=period), "2017-06-30")
    expected = independent(result, orders, start, "2017-06-30", "territory_id")
    got = t.territories.set_index("territory_id")["actual"]
    pd.testing.assert_series_equal(
        got.reindex(expected.index), expected, check_names=False, check_index_type=False
    )
    cells = t.segments.set_index(["territory_id", "segment"])["actual"]
    exp_cells = independent(result, orders, start, "2017-06-30", ["territory_id", "segment"])
    exp_cells.index = exp_cells.index.set_levels(exp_cells.index.levels[0].astype(str), level=0)
    np.testing.assert_allclose(cells.reindex(exp_cells.index).to_numpy(), exp_cells.to_numpy())


def test_trend_compares_the_same_point_of_the_previous_period(result, orders):
    t = track(result, spec(period="quarter"), "2017-06-30")
    prior = independent(result, orders, "2017-01-01", "2017-03-31", "territory_id")
    row = t.territories.set_index("territory_id").loc["C1"]
    assert row["prior_same_point"] == pytest.approx(prior["C1"])
    assert row["trend"] == pytest.approx(row["actual"] / prior["C1"] - 1)


def test_targets_top_down_reconcile_and_follow_adjustments(own, orders):
    result = own
    t = track(result, spec(growth=0.10, allocation="prior"), "2017-06-30")
    total_2016 = orders.loc[orders["Order Date"].dt.year == 2016, "Sales"].sum()
    terr = t.territories.set_index("territory_id")
    plan_ids = [str(x) for x in result.kpis["territory_id"]]
    assert terr.loc[plan_ids, "target"].sum() == pytest.approx(total_2016 * 1.10)
    recon = t.reconciliation.set_index("territory_id")
    assert np.allclose(recon["difference"], 0, atol=1e-6)
    assert recon.loc["TOTAL", "territory_target"] == pytest.approx(total_2016 * 1.10)
    # the plan's regional adjustment tilts the allocation: E4 (Capital, highest incomes) gets
    # more than its share of 2016 sales, the total stays the same
    prior = terr.loc[plan_ids, "prior_period"]
    share_target = terr.loc["E4", "target"] / terr.loc[plan_ids, "target"].sum()
    assert share_target > 1.05 * prior["E4"] / prior.sum()  # E4 multiplier: 1.12


def test_even_and_bottom_up_targets(own, tmp_path):
    result = own
    even = track(result, spec(allocation="even"), "2017-06-30").territories.set_index(
        "territory_id"
    )
    plan_ids = [str(x) for x in result.kpis["territory_id"]]
    # even, then the plan's regional adjustment: target / multiplier is the same everywhere
    adjusted = result.adjustments.set_index("territory_id")
    multiplier = adjusted.loc[adjusted["adjustment"] == "regional_economics", "target_multiplier"]
    assert multiplier.std() > 0.01  # the adjustment does tilt the targets
    base = even.loc[plan_ids, "target"] / multiplier.loc[plan_ids]
    assert np.allclose(base, base.iloc[0])
    table = tmp_path / "targets.csv"
    table.write_text("territory_id,target\n" + "\n".join(f"{t},1000" for t in plan_ids))
    bottom_up = track(result, spec(targets=str(table)), "2017-06-30").territories
    assert bottom_up.set_index("territory_id").loc[plan_ids, "target"].sum() == 15_000


def test_status_and_pipeline(result):
    t = track(result, spec(), "2017-06-30").territories.set_index("territory_id")
    assert set(t["status"]) <= {"ahead", "on track", "behind", "no target"}
    ahead = t["run_rate_forecast"] / t["target"] >= 1.05
    assert (t.loc[ahead & (t["target"] > 0), "status"] == "ahead").all()
    opps = pd.read_csv(DATA / "demo_opportunities.csv")
    # every generated opportunity closes in H2 2017, inside FY2017: all of it is open pipeline
    assert t["pipeline"].sum() == pytest.approx(opps["amount"].sum())
    weights = opps["stage"].str.lower().map({"proposal": 0.5, "qualify": 0.25, "prospect": 0.1})
    assert t["weighted_pipeline"].sum() == pytest.approx((opps["amount"] * weights).sum())


def test_revision_keeps_the_total_and_records_every_change(result):
    t = track(result, spec(), "2017-06-30")
    revised = revise(t)
    plan_ids = [str(x) for x in result.kpis["territory_id"]]
    before = t.territories.set_index("territory_id").loc[plan_ids, "target"]
    after = revised.territories.set_index("territory_id").loc[plan_ids, "target"]
    assert after.sum() == pytest.approx(before.sum())
    actual = t.territories.set_index("territory_id").loc[plan_ids, "actual"]
    assert (after >= actual - 1e-6).all()  # nobody's target drops below what they sold
    rec = revised.revisions.set_index("territory_id")
    assert rec.loc[plan_ids, "old_target"].to_numpy() == pytest.approx(before.to_numpy())
    assert rec.loc[plan_ids, "new_target"].to_numpy() == pytest.approx(after.to_numpy())
    assert rec["reason"].str.contains("reallocated").all()


def test_bad_lines_are_reported_and_not_lost(result, tmp_path):
    lines = pd.DataFrame(
        {
            "account_id": ["AA-10315", "AA-10315", "AA-10375", "NOBODY-1", "AA-10480"],
            "date": ["2017-02-01", "31/31/2017", "2017-03-01", "2017-03-02", "2017-03-03"],
            "amount": ["100", "50", "-20", "70", "lots"],
        }
    )
    lines.to_csv(tmp_path / "orders.csv", index=False)
    opps = pd.DataFrame(
        {
            "account_id": ["AA-10315", "GHOST-2"],
            "amount": [1000, 500],
            "stage": ["Dreaming", "Proposal"],
            "close_date": ["2017-09-01", "2017-10-01"],
        }
    )
    opps.to_csv(tmp_path / "opps.csv", index=False)
    s = TrackingSpec(orders=str(tmp_path / "orders.csv"),
                     opportunities=str(tmp_path / "opps.csv"), segment="segment")  # fmt: skip
    t = track(result, s, "2017-06-30")
    problems = t.issues.groupby("problem")["row"].apply(list).to_dict()
    text = " | ".join(problems)
    assert "date does not parse" in text and "negative amount" in text
    assert "not a number" in text and "unknown stage" in text and "account not in the plan" in text
    assert problems[next(p for p in problems if p.startswith("date does"))] == [3]
    terr = t.territories.set_index("territory_id")
    # every line is counted somewhere: 5 lines in, 5 lines out (unparseable date: no period)
    assert terr["lines_read"].sum() == 5
    assert terr.loc["(unknown account)", "actual"] == 70
    assert terr["actual"].sum() == pytest.approx(100 - 20 + 70 + 0)
    assert terr.loc["(unknown account)", "pipeline"] == 500


def test_fiscal_periods():
    p = period_of(pd.Timestamp("2017-06-30"), "year", fiscal_year_start=7)
    assert (p.label, str(p.start.date()), str(p.end.date())) == ("FY2017", "2016-07-01",
                                                                 "2017-06-30")  # fmt: skip
    q = period_of(pd.Timestamp("2017-08-15"), "quarter", fiscal_year_start=7)
    assert (q.label, str(q.start.date()), str(q.end.date())) == ("FY2018-Q1", "2017-07-01",
                                                                 "2017-09-30")  # fmt: skip
    with pytest.raises(ValidationError, match="fiscal_year_start"):
        TrackingSpec(orders="x", fiscal_year_start=13)


def test_track_command_writes_dashboard_csv_xlsx_and_map(tmp_path):
    out = tmp_path / "out"
    run = CliRunner().invoke(cli, ["track", str(PLAN), "--as-of", "2017-06-30", "--out", str(out),
                                   "--revise"])  # fmt: skip
    assert run.exit_code == 0, run.output
    names = {p.name for p in out.iterdir()}
    assert {"dashboard.html", "tracking-territories.csv", "tracking-segments.csv",
            "tracking-reconciliation.csv", "tracking-revisions.csv", "tracking.xlsx",
            "tracking-map.html"} <= names  # fmt: skip
    sheets = pd.read_excel(out / "tracking.xlsx", sheet_name=None)
    assert {"territories", "segments", "reconciliation", "revisions"} <= set(sheets)
    page = (out / "dashboard.html").read_text()
    assert "Gulf &amp; Tennessee Valley" in page and "<script" not in page
    bad = CliRunner().invoke(cli, ["track", str(PLAN), "--as-of", "mid-year"])
    assert bad.exit_code == 1 and "is not a date" in bad.output


def test_cells_follow_the_allocation_and_bottom_up_cells(own, tmp_path):
    result = own
    t = track(result, spec(allocation="even"), "2017-06-30")
    cells = t.segments.set_index(["territory_id", "segment"])["target"]
    per_terr = cells.groupby(level=0)
    assert np.allclose(per_terr.max(), per_terr.min())  # even split inside each territory
    weights = tmp_path / "w.csv"
    weights.write_text("territory_id,segment,weight\nC1,Consumer,3\nC1,Corporate,1\n")
    w = track(result, spec(allocation="weights", weights=str(weights)), "2017-06-30")
    c1 = w.segments.set_index(["territory_id", "segment"]).loc["C1", "target"]
    assert c1["Consumer"] == pytest.approx(3 * c1["Corporate"]) and c1.get("Home Office", 0) == 0
    table = tmp_path / "cells.csv"
    table.write_text("territory_id,segment,target\nC1,Consumer,500\nC1,Corporate,300\n"
                     "W3,Home Office,200\n")  # fmt: skip
    bu = track(result, spec(targets=str(table)), "2017-06-30")
    terr = bu.territories.set_index("territory_id")["target"]
    assert terr["C1"] == 800 and terr["W3"] == 200 and terr["E1"] == 0
    recon = bu.reconciliation.set_index("territory_id")
    assert np.allclose(recon["difference"], 0) and recon.loc["TOTAL", "territory_target"] == 1000


def test_status_map_is_written(tmp_path):
    out = tmp_path / "o"
    run = CliRunner().invoke(cli, ["track", str(PLAN), "--as-of", "2017-03-31", "--out", str(out)])
    assert run.exit_code == 0, run.output
    page = (out / "tracking-status-map.html").read_text()
    assert "on track?" in page and "Status" in page


def test_as_of_outside_the_data_is_a_clear_error(result):
    with pytest.raises(ValidationError, match="order dates: 2014-01-03 to 2017-12-30"):
        track(result, spec(), "2030-01-01")
