"""Tracking on a small generated plan: unassigned accounts' targets on a line of their own,
targets set twice refused, and the workbook read back with openpyxl (formats present)."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import territory
from territory.cli import cli
from territory.errors import ValidationError
from territory.formatting import STATUS_COLOURS
from territory.tracking import revise

from .grid_plan import AS_OF, MONTHLY, write_grid_plan


@pytest.fixture
def grid(tmp_path):
    """The grid plan with one more account far from every territory (unassigned), selling
    the same as the others; its revenue_prior (and so its plan target) is 1,000."""
    grid = write_grid_plan(tmp_path)
    accounts = pd.read_csv(grid.folder / "accounts.csv")
    far = {"account_id": "FAR-1", "lat": 0.0, "lon": 0.0, "revenue": 10.0, "revenue_prior": 1000.0}
    pd.concat([accounts, pd.DataFrame([far])]).to_csv(grid.folder / "accounts.csv", index=False)
    orders = pd.read_csv(grid.folder / "orders.csv")
    extra = pd.DataFrame({"account": "FAR-1", "day": ["2016-03-15", "2017-03-15"],
                          "amount": [MONTHLY, MONTHLY]})  # fmt: skip
    pd.concat([orders, extra]).to_csv(grid.folder / "orders.csv", index=False)
    return grid


def test_unassigned_accounts_have_a_target_line_of_their_own(grid):
    t = territory.track(str(grid.plan), AS_OF)
    terr = t.territories.set_index("territory_id")
    per_territory = 12 * MONTHLY * grid.accounts_per_territory  # revenue_prior, growth 0
    assert terr.loc[grid.territory_ids, "target"].tolist() == [per_territory] * 6
    assert terr.loc["(unassigned)", "target"] == 1000.0
    assert terr.loc["(unassigned)", "actual"] == MONTHLY
    total = t.total.set_index("territory_id").loc["TOTAL"]
    assert total["target"] == 6 * per_territory + 1000.0
    recon = t.reconciliation.set_index("territory_id")
    assert recon.loc["(unassigned)", "line"] == "unassigned"
    assert recon.loc["TOTAL", "territory_target"] == 6 * per_territory + 1000.0
    revised = revise(t).territories.set_index("territory_id")
    assert revised.loc["(unassigned)", "target"] == 1000.0  # a line, not reallocated
    assert revised.loc[grid.territory_ids, "target"].sum() == pytest.approx(6 * per_territory)


def test_targets_set_by_the_plan_and_by_tracking_are_refused(grid):
    text = grid.plan.read_text().replace("[tracking]\n", "[tracking]\ngrowth = 0.1\n")
    grid.plan.write_text(text)
    with pytest.raises(ValidationError, match=r"set twice.*\[tracking\] growth"):
        territory.track(str(grid.plan), AS_OF)
    run = CliRunner().invoke(cli, ["track", str(grid.plan), "--as-of", AS_OF])
    assert run.exit_code == 1 and "remove growth from [tracking]" in run.output


def test_workbook_has_formatted_sheets_per_level_and_notes(grid, tmp_path):
    out = tmp_path / "out"
    run = CliRunner().invoke(cli, ["track", str(grid.plan), "--as-of", AS_OF, "--revise",
                                   "--out", str(out)])  # fmt: skip
    assert run.exit_code == 0, run.output
    book = load_workbook(out / "tracking.xlsx")
    assert {"territories", "total", "reconciliation", "revisions", "issues",
            "notes"} <= set(book.sheetnames)  # fmt: skip
    sheet = book["territories"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == sheet.dimensions
    heads = {c.value: c for c in sheet[1]}
    assert all(c.font.bold for c in sheet[1])
    rows = list(sheet.iter_rows(min_row=2))
    formats = {"target": "#,##0", "actual": "#,##0", "forecast p50": "#,##0",
               "attainment": "0.0%", "pacing": "0.0%", "p reach target": "0.0%"}  # fmt: skip
    for name, fmt in formats.items():
        column = heads[name].column - 1
        for row in rows:
            if row[column].value is not None:
                assert row[column].number_format == fmt, name
                assert row[column].data_type == "n", name
    status = heads["status"].column - 1
    for row in rows:
        colour = STATUS_COLOURS[row[status].value].lstrip("#").upper()
        assert row[status].fill.fgColor.rgb.endswith(colour)
    name = sheet.column_dimensions[heads["name"].column_letter].width
    assert name >= len("Territory A")
    assert sheet["A2"].number_format == "@"  # ids are text
    notes = " ".join(str(r[0].value) for r in book["notes"].iter_rows())
    assert "Forecast range" in notes and "Bernoulli" in notes and "Targets: from the plan" in notes
    assert book["total"].freeze_panes == "A2" and book["revisions"].auto_filter.ref
