"""What a brief says: one row per territory, built from that territory's own facts.

Oracles: the core's KPI tables (``result.kpis``, ``result.segments``) for the demo plan, and
hand-computed figures for a small literal plan (Puerto Rico, Washington DC, France).
"""

from __future__ import annotations

import re
import zoneinfo
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from territory_campaign_briefs import briefs_for
from territory_campaign_briefs.facts import shipped_table

import territory
from territory.cli import cli

DATA = Path(str(resources.files("territory.data")))
PLAN = DATA / "demo_plan.toml"


def plan_file_with_brief(folder: Path) -> Path:
    """The demo plan as a file elsewhere, with a ``campaign_brief`` adjustment of its own."""
    text = re.sub(r'= "([\w.]+\.(?:csv|parquet))"',
                  lambda m: f'= "{(DATA / m.group(1)).as_posix()}"', PLAN.read_text())  # fmt: skip
    text += '\n[[adjustments]]\nadjustment = "campaign_brief"\n'
    path = folder / "plan.toml"
    path.write_text(text)
    return path


def test_briefs_command_writes_one_row_per_territory_when_the_plan_has_the_brief(tmp_path):
    plan_file = plan_file_with_brief(tmp_path)
    result = CliRunner().invoke(cli, ["briefs", str(plan_file), "-o", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "b" / "briefs.csv", dtype={"territory_id": str})
    alignment = pd.read_csv(DATA / "demo_alignment.csv", dtype=str)
    ids = alignment["territory_id"].dropna().unique()
    assert len(table) == len(ids) and sorted(table["territory_id"]) == sorted(ids)


def test_messages_come_from_each_territory_own_figures_and_differ():
    briefs, result = briefs_for(territory.Plan.from_file(PLAN))
    kpis = result.kpis.set_index("territory_id")
    cells = result.segments["segment"]  # the core's territory x segment KPIs, an oracle
    assert briefs["message"].nunique() == len(kpis) == len(briefs)
    for row in briefs.itertuples():
        k = kpis.loc[row.territory_id]
        growth = k["revenue"] / k["revenue_prior"] - 1
        trend = "up" if growth > 0 else "down"
        assert f"is {trend} {abs(growth):.0%} on the prior period" in row.message
        attainment = k["revenue"] / k["target_before_adjustments"]
        target = k["target_before_adjustments"]
        assert f"{attainment:.0%} of the {target:,.0f} target" in row.message
        mine = cells[cells["territory_id"] == row.territory_id].sort_values(
            "revenue", ascending=False
        )
        share = mine["revenue"].iloc[0] / mine["revenue"].sum()
        assert row.segment_1 == mine["segment"].iloc[0]
        assert f"{row.segment_1} {share:.0%}" in row.message
        assert row.language in row.message and row.timezone in row.message


def test_missing_facts_leave_their_sentence_out_never_a_placeholder(literal_plan):
    briefs, _ = briefs_for(literal_plan())
    briefs = briefs.set_index("territory_id")
    assert len(briefs) == 4
    # "Finance"/"Retail" have no emphasis in the shipped table: no emphasis sentence at all
    assert briefs["message_emphasis"].isna().all()
    for text in [*briefs["message"], *briefs["headline"]]:
        assert "buyers need" not in text and "Lead with" not in text
        assert not re.search(r"\b(None|nan|NaN)\b", text), text
    # PR: 1,400 vs prior 1,000 (+40%), Finance 1,200 of 1,400 (86%); plan-wide Finance 1,300
    # of 2,400 (54%); target 1,100 -> 127%
    pr = briefs.loc["PR"]
    assert "Revenue of 1,400 is up 40% on the prior period (1,000)." in pr["message"]
    assert "That is 127% of the 1,100 target." in pr["message"]
    assert "Finance 86% (plan-wide 54%)" in pr["message"]
    # France: outside the US, so no income positioning and no locale sentence
    fr = briefs.loc["FR"]
    assert pd.isna(fr["price_positioning"]) and "pricing" not in fr["message"]
    assert "Write in" not in fr["message"]
    assert fr["headline"].startswith("Win Retail buyers")
    empty = briefs.loc["NV"]
    assert empty["message"] == "No accounts are assigned to this territory yet."
    assert empty["locale_note"] == "no locale data for Empty: no accounts assigned"


def test_puerto_rico_and_dc_get_their_locale_and_other_regions_a_clear_note(literal_plan):
    briefs = briefs_for(literal_plan())[0].set_index("territory_id")
    pr, dc, fr = briefs.loc["PR"], briefs.loc["DC"], briefs.loc["FR"]
    assert (pr["state"], pr["currency"], pr["timezone"]) == ("PR", "USD", "America/Puerto_Rico")
    assert pr["language"].split(", ") == ["es-PR", "en-US"]
    assert (dc["state"], dc["language"], dc["timezone"]) == ("DC", "en-US", "America/New_York")
    assert pd.isna(fr["language"]) and pd.isna(fr["timezone"])
    assert fr["locale_note"].startswith("no locale data for France")
    assert pd.isna(pr["locale_note"]) and pd.isna(dc["locale_note"])


def test_every_state_and_territory_of_the_embedded_layer_has_a_locale():
    states = gpd.read_parquet(DATA / "us_states.parquet")["STUSPS"]
    table = shipped_table("us_locale.csv").set_index("STUSPS")
    assert len(states) == 56 and set(states) <= set(table.index)
    for code in states:
        row = table.loc[code]
        assert row["language"].strip() and row["currency"] == "USD", code
        zoneinfo.ZoneInfo(row["timezone"])  # a real IANA zone
    assert table.loc["PR", "language"].startswith("es")


def test_briefs_command_reports_a_bad_column_in_one_clear_message(tmp_path):
    result = CliRunner().invoke(
        cli, ["briefs", str(PLAN), "-o", str(tmp_path / "b"), "--segment-column", "industry"]
    )
    assert result.exit_code == 1
    assert "no 'industry' column for the customer segment" in result.output
    assert "Columns: account_id" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "b").exists()


def test_an_emphasis_table_needs_two_columns(tmp_path, literal_plan):
    table = tmp_path / "emphasis.csv"
    table.write_text("segment\nFinance\n")
    with pytest.raises(territory.ValidationError, match="emphasis.csv needs two columns"):
        literal_plan(emphasis=str(table)).run()
