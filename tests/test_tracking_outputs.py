"""Every target in every file the demo writes, before and after `--revise`, against one
independent computation in pandas from the raw accounts, order lines and opportunities.

The plan's targets are the accounts' ``revenue_prior`` + 10 %, times each territory's
adjustment multiplier (the factor the plan reports in its adjustments table); a territory x
segment cell's target is the same sum over the cell's accounts. A revision keeps actuals and
reallocates the remaining target by expected remaining sales, max(run-rate forecast - actual,
weighted pipeline), to territories and then, the same way, to their cells.
"""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from territory.cli import cli

from .conftest import DATA

pytestmark = pytest.mark.slow

PLAN = DATA / "demo_plan.toml"
STAGES = {"prospect": 0.1, "qualify": 0.25, "proposal": 0.5, "negotiation": 0.75}
START, AS_OF, END = "2017-01-01", "2017-06-30", "2017-12-31"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """`territory demo` (plan run + tracking) and `territory track --revise`."""
    root = tmp_path_factory.mktemp("demo")
    runner = CliRunner()
    run = runner.invoke(cli, ["demo", "--out", str(root / "before")])
    assert run.exit_code == 0, run.output
    run = runner.invoke(cli, ["track", str(PLAN), "--as-of", AS_OF, "--revise", "--out",
                              str(root / "after")])  # fmt: skip
    assert run.exit_code == 0, run.output
    return root / "before", root / "after"


@pytest.fixture(scope="module")
def oracle(outputs):
    before, _ = outputs
    accounts = pd.read_csv(DATA / "demo_accounts.csv", dtype={"account_id": str})
    where = pd.read_csv(before / "demo-assignments.csv", dtype=str)[["account_id", "territory_id"]]
    adjustments = pd.read_csv(before / "demo-adjustments.csv", dtype={"territory_id": str})
    multiplier = adjustments.groupby("territory_id")["target_multiplier"].prod()
    acc = accounts.merge(where, on="account_id", how="left")
    assert acc["territory_id"].notna().all()  # the demo assigns every account
    acc["target"] = acc["revenue_prior"] * 1.10 * acc["territory_id"].map(multiplier)
    terr = acc.groupby("territory_id")["target"].sum()
    cells = acc.groupby(["territory_id", "segment"])["target"].sum()

    orders = pd.read_parquet(DATA / "superstore_orders.parquet")
    lines = orders.merge(acc[["account_id", "territory_id", "segment"]], left_on="Customer ID",
                         right_on="account_id")  # fmt: skip
    assert len(lines) == len(orders)
    day = lines["Order Date"]
    now = lines[day.between(START, AS_OF)]
    y2016 = lines[day.dt.year == 2016]
    # the same point of 2016: as many days into the year as 2017-06-30 (2016 is a leap year)
    point = pd.Timestamp("2016-01-01") + (pd.Timestamp(AS_OF) - pd.Timestamp(START))
    share = y2016.loc[y2016["Order Date"] <= point, "Sales"].sum() / y2016["Sales"].sum()
    opps = pd.read_csv(DATA / "demo_opportunities.csv", dtype={"account_id": str})
    opps = opps.merge(acc[["account_id", "territory_id", "segment"]], on="account_id")
    close = pd.to_datetime(opps["close_date"])
    opps = opps[(close > AS_OF) & (close <= END)]
    opps = opps.assign(weighted=opps["amount"] * opps["stage"].str.lower().map(STAGES))

    def expected(keys, index):
        actual = now.groupby(keys)["Sales"].sum().reindex(index, fill_value=0.0)
        weighted = opps.groupby(keys)["weighted"].sum().reindex(index, fill_value=0.0)
        return actual, np.maximum(actual / share - actual, weighted)

    actual_t, exp_t = expected("territory_id", terr.index)
    remaining = terr.sum() - actual_t.sum()
    new_t = actual_t + remaining * exp_t / exp_t.sum()
    actual_c, exp_c = expected(["territory_id", "segment"], cells.index)
    t_of_cell = cells.index.get_level_values(0)
    exp_sum = exp_c.groupby(level=0).transform("sum")
    new_c = actual_c + (new_t - actual_t).reindex(t_of_cell).to_numpy() * exp_c / exp_sum
    return {"terr": terr, "cells": cells, "new_terr": new_t, "new_cells": new_c}


def table(path, keys=("territory_id",)) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"territory_id": str})
    return frame.set_index(list(keys))


def same(got: pd.Series, expected: pd.Series) -> None:
    got = got.reindex(expected.index)
    np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=1e-9)


def xlsx(path, sheet: str, keys=("territory id",)) -> pd.DataFrame:
    frame = pd.read_excel(path, sheet_name=sheet, dtype={"territory id": str})
    return frame.set_index(list(keys))


class Tables(HTMLParser):
    """The page's tables as lists of rows of cell texts (independent of the product)."""

    def __init__(self):
        super().__init__()
        self.tables, self.cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def dashboard_targets(path, n_keys: int) -> dict:
    """{heading of the first table cell: {key: target text}} of the territory and cell tables."""
    parser = Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    out = []
    for rows in parser.tables[:2]:
        head = rows[0]
        col = head.index("target")
        keys = n_keys if len(out) else 1
        out.append({tuple(r[:keys]) if keys > 1 else r[0]: r[col] for r in rows[1:]})
    return out


def money(value: float) -> str:
    return f"{value:,.0f}"


def check_tracking_files(folder, prefix, terr, cells, plan_terr):
    """Territory, cell, total and reconciliation targets in the CSVs, workbook and dashboard."""
    same(table(folder / f"{prefix}tracking-territories.csv")["target"], terr)
    same(table(folder / f"{prefix}tracking-segments.csv", ("territory_id", "segment"))["target"],
         cells)  # fmt: skip
    total = table(folder / f"{prefix}tracking-total.csv")
    assert total.loc["TOTAL", "target"] == pytest.approx(terr.sum(), rel=1e-9)
    recon = table(folder / f"{prefix}tracking-reconciliation.csv")
    same(recon["territory_target"], terr)
    same(recon["sum_of_segment_targets"], terr)
    same(recon["kpi_table_target"], plan_terr)  # the plan's, before any revision
    assert recon.loc["TOTAL", "territory_target"] == pytest.approx(terr.sum(), rel=1e-9)
    book = folder / f"{prefix}tracking.xlsx"
    same(xlsx(book, "territories")["target"], terr)
    same(xlsx(book, "segments", ("territory id", "segment"))["target"], cells)
    same(xlsx(book, "reconciliation")["territory target"], terr)
    assert xlsx(book, "total").loc["TOTAL", "target"] == pytest.approx(terr.sum(), rel=1e-9)
    shown_terr, shown_cells = dashboard_targets(folder / f"{prefix}dashboard.html", 2)
    assert {t: shown_terr[t] for t in terr.index} == {t: money(v) for t, v in terr.items()}
    assert {k: shown_cells[k] for k in cells.index} == {k: money(v) for k, v in cells.items()}


def test_plan_tables_and_tracking_show_the_same_targets(outputs, oracle):
    before, _ = outputs
    terr, cells = oracle["terr"], oracle["cells"]
    same(table(before / "demo-kpis.csv")["target"], terr)
    segment_kpis = table(before / "demo-segment-kpis-segment.csv", ("territory_id", "segment"))
    same(segment_kpis["target"], cells)
    attainment = segment_kpis["revenue"] / segment_kpis["target"]
    same(segment_kpis["attainment"], attainment.reindex(cells.index))
    check_tracking_files(before, "demo-", terr, cells, terr)


def test_revised_targets_agree_in_every_file_and_every_change_is_recorded(outputs, oracle):
    _, after = outputs
    terr, new_t, new_c = oracle["terr"], oracle["new_terr"], oracle["new_cells"]
    check_tracking_files(after, "", new_t, new_c, terr)
    revisions = table(after / "tracking-revisions.csv")
    rows = revisions[revisions["level"] == "territory"]
    same(rows["old_target"], terr)
    same(rows["new_target"], new_t)
    total = revisions.loc["TOTAL"]
    assert total["level"] == "total"
    assert total["old_target"] == pytest.approx(terr.sum()) == total["new_target"]
    assert revisions["reason"].str.contains("reallocated").all()
    cells = table(after / "tracking-segment-revisions.csv", ("territory_id", "segment"))
    assert (cells["level"] == "territory x segment").all()
    same(cells["old_target"], oracle["cells"])
    same(cells["new_target"], new_c)
    book = after / "tracking.xlsx"
    same(xlsx(book, "revisions").query("level == 'territory'")["new target"], new_t)
    same(xlsx(book, "segment-revisions", ("territory id", "segment"))["new target"], new_c)


def test_dashboard_charts_in_chromium(browser, outputs):
    """The charts draw every territory's attainment against pace and every segment label,
    offline, with no script; a screenshot is kept beside the page."""
    before, _ = outputs
    terr = table(before / "demo-tracking-territories.csv")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
               else route.continue_())  # fmt: skip
    page.goto((before / "demo-dashboard.html").as_uri())
    assert page.evaluate("document.scripts.length") == 0
    bars = page.evaluate(
        """() => [...document.querySelectorAll('[data-chart=pace] g.row')].map(g => {
            const r = g.querySelector('rect').getBoundingClientRect();
            return {key: g.dataset.key, width: r.width, fill: g.querySelector('rect')
                    .getAttribute('fill'), label: g.querySelector('.label').textContent};
        })"""
    )
    mark = page.evaluate(
        """() => { const m = document.querySelector('[data-chart=pace] line.mark')
                   .getBoundingClientRect(), r = document.querySelector(
                   '[data-chart=pace] g.row rect').getBoundingClientRect();
                   return m.left + m.width / 2 - r.left; }"""
    )
    assert [b["key"] for b in bars] == list(terr.index)
    from territory.formatting import STATUS_COLOURS

    for bar in bars:
        row = terr.loc[bar["key"]]
        assert bar["width"] == pytest.approx(row["pacing"] * mark, abs=1.0), bar  # 100 % = line
        assert bar["fill"] == STATUS_COLOURS[row["status"]]
        assert row["name"] in bar["label"]
    labels = page.evaluate(
        """() => [...document.querySelectorAll('[data-chart=segments] g.row')].map(g =>
            [g.dataset.key, g.querySelectorAll('rect').length])"""
    )
    cells = table(before / "demo-tracking-segments.csv", ("territory_id", "segment"))
    assert labels == [[s, 3] for s in sorted(set(cells.index.get_level_values(1)))]
    page.screenshot(path=str(before / "dashboard.png"), full_page=True)
    assert errors == []
    page.close()
