"""The campaign-briefs plugin on the demo plan: brief rows, CLI output, escaping."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from territory_campaign_briefs import write_briefs

import territory
from territory.adjust import AdjustmentSpec
from territory.cli import cli

PLAN = Path(str(resources.files("territory.data"))) / "demo_plan.toml"


def demo_briefs(**params):
    plan = territory.Plan.from_file(PLAN)
    plan = replace(plan, adjustments=(AdjustmentSpec("campaign_brief", params=params),))
    result = plan.run()
    return result, result.adjustments.set_index("territory_id")


def test_one_brief_per_territory_with_positioning_from_income():
    result, briefs = demo_briefs()
    assert len(briefs) == 15
    assert set(briefs["price_positioning"]) <= {"premium", "standard", "value"}
    # Capital (DC/MD/DE) has the highest incomes; Gulf & Tennessee Valley among the lowest.
    assert briefs.loc["E4", "price_positioning"] == "premium"
    assert briefs.loc["S3", "price_positioning"] == "value"
    assert briefs.loc["C1", "timezone"] == "America/Chicago"
    assert (briefs["currency"] == "USD").all()
    # targets unchanged by a brief
    kpis = result.kpis
    assert (kpis["target"] == kpis["target_before_adjustments"]).all()


def test_message_emphasis_follows_the_dominant_segment_and_can_be_replaced(tmp_path):
    _, briefs = demo_briefs()
    assert briefs["message_emphasis"].isin(
        ["everyday value and fast delivery", "reliability, volume pricing and account service",
         "convenience and small-business bundles"]
    ).all()  # fmt: skip
    table = tmp_path / "emphasis.csv"
    table.write_text("segment,emphasis\nConsumer,C!\nCorporate,B2B!\nHome Office,H!\n")
    _, custom = demo_briefs(emphasis=str(table))
    assert set(custom["message_emphasis"]) <= {"C!", "B2B!", "H!"}


def test_briefs_command_writes_csv_and_escaped_html(tmp_path):
    listing = CliRunner().invoke(cli, ["plugins"])
    assert "campaign_briefs" in listing.output
    out = tmp_path / "briefs"
    result = CliRunner().invoke(cli, ["briefs", str(PLAN), "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "briefs.csv")
    assert len(table) == 15 and {"language", "price_positioning", "headline"} <= set(table.columns)
    page = (out / "briefs.html").read_text()
    assert "Gulf &amp; Tennessee Valley" in page
    hostile = pd.DataFrame({"name": ["<script>alert(1)</script>"]})
    write_briefs(hostile, tmp_path / "x", "<b>t</b>")
    text = (tmp_path / "x" / "briefs.html").read_text()
    assert "<script>alert" not in text and "&lt;script&gt;" in text


def test_bad_thresholds_are_a_clear_error():
    import pytest

    with pytest.raises(territory.ValidationError, match="value_below < 1 < premium_above"):
        demo_briefs(premium_above=0.9)
