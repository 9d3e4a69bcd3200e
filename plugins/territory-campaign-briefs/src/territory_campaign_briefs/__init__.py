"""territory plugin: marketing brief rows per territory.

Registers the adjustment ``campaign_brief`` (language, currency, time zone, price positioning
and message emphasis per territory, from regional economics and the customer mix) and the
command ``territory briefs PLAN`` that writes the briefs as CSV and HTML.
"""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path

import click
import pandas as pd

import territory
from territory.default_plugins.adjustments import localisation, regional_economics
from territory.io import as_frame, atomic_path, write_table

# Message emphasis per customer segment; a CSV (segment, emphasis) can replace it.
DEFAULT_EMPHASIS = {
    "Consumer": "everyday value and fast delivery",
    "Corporate": "reliability, volume pricing and account service",
    "Home Office": "convenience and small-business bundles",
}
COLUMNS = ["territory_id", "name", "language", "currency", "timezone", "price_positioning",
           "message_emphasis", "headline", "reason"]  # fmt: skip


def campaign_brief(ctx, segment_column, premium_above, value_below, emphasis):
    """One brief row per territory: where it sits economically and who buys there."""
    if not value_below < 1 < premium_above:
        raise territory.ValidationError(
            "campaign_brief: need value_below < 1 < premium_above (e.g. 0.95 and 1.05)."
        )
    econ = regional_economics(ctx, "median_household_income", "accounts", 1.0)
    econ = econ.set_index("territory_id")
    locale = localisation(ctx, None, None, "state", None).set_index("territory_id")
    mapping = dict(DEFAULT_EMPHASIS)
    if emphasis is not None:
        table, _ = as_frame(str(emphasis), "emphasis")
        mapping = dict(zip(table.iloc[:, 0].astype(str), table.iloc[:, 1].astype(str), strict=True))
    accounts = ctx.accounts.dropna(subset=["territory_id"])
    if segment_column not in accounts.columns:
        raise territory.ValidationError(
            f"campaign_brief: accounts have no '{segment_column}' column; set segment_column."
        )
    mix = accounts.groupby([accounts["territory_id"].astype(object), segment_column]).size()
    top = mix.sort_values(ascending=False).reset_index().drop_duplicates("territory_id")
    top = top.set_index("territory_id")[segment_column]
    names = ctx.territories.set_index("territory_id")["name"]
    rows = []
    for t in ctx.territories["territory_id"]:
        rel = econ.loc[t, "target_multiplier"] if t in econ.index else 1.0
        position = (
            "premium" if rel >= premium_above else "value" if rel <= value_below else "standard"
        )
        segment = top.get(t)
        focus = mapping.get(segment, f"what {segment} buyers need") if segment else "broad reach"
        loc = locale.loc[t] if t in locale.index else pd.Series(dtype=object)
        rows.append({
            "territory_id": t,
            "name": names.get(t, t),
            "language": loc.get("language"),
            "currency": loc.get("currency"),
            "timezone": loc.get("timezone"),
            "price_positioning": position,
            "message_emphasis": focus,
            "headline": f"{position.capitalize()} offer for {segment or 'all'} customers: {focus}",
            "reason": f"income index {rel:.2f} x plan average; top segment {segment}; "
                      f"{loc.get('reason', 'no locale')}",
        })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


@territory.hookimpl
def register_adjustments(register):
    register(territory.Adjustment(
        "campaign_brief", campaign_brief,
        {
            "segment_column": territory.Param("str", "segment", "Account column of the "
                                                                "customer segment."),
            "premium_above": territory.Param("float", 1.05, "Income index for premium pricing."),
            "value_below": territory.Param("float", 0.95, "Income index for value pricing."),
            "emphasis": territory.Param("path", None, "CSV segment,emphasis to replace the "
                                                      "default messages."),
        },
        "Marketing brief per territory: language, currency, time zone, price positioning and "
        "message emphasis from regional economics and the customer mix.",
    ))  # fmt: skip


def write_briefs(briefs: pd.DataFrame, folder: Path, title: str) -> list[Path]:
    """Write ``briefs.csv`` and a self-contained ``briefs.html`` (every value escaped)."""
    folder = Path(folder)
    csv = write_table(briefs, folder / "briefs.csv")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in briefs.columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in row)
        + "</tr>"
        for row in briefs.itertuples(index=False)
    )
    page = (
        "<!doctype html><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:24px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
        "th{background:#f3f3f3}</style><h1>" + html.escape(title) + "</h1>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
    target = folder / "briefs.html"
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return [csv, target]


@territory.hookimpl
def register_commands(cli):
    @cli.command("briefs")
    @click.argument("plan_file", metavar="PLAN", type=click.Path(dir_okay=False))
    @click.option("-o", "--out", type=click.Path(file_okay=False), default="briefs",
                  show_default=True, help="Folder for briefs.csv and briefs.html.")  # fmt: skip
    @click.option("--segment-column", default="segment", show_default=True)
    def briefs(plan_file, out, segment_column):
        """Write per-territory marketing briefs for the plan in PLAN (TOML)."""
        from territory.adjust import AdjustmentSpec
        from territory.cli import err_console

        try:
            plan = territory.Plan.from_file(plan_file)
            spec = AdjustmentSpec("campaign_brief", params={"segment_column": segment_column})
            plan = replace(plan, adjustments=(*plan.adjustments, spec))
            result = plan.run()
            table = result.adjustments[result.adjustments["adjustment"] == "campaign_brief"]
            table = table.dropna(axis=1, how="all").drop(
                columns=["adjustment", "target_multiplier"]
            )
            for path in write_briefs(table, Path(out), f"Campaign briefs: {plan.name}"):
                click.echo(f"Wrote {path}")
        except territory.TerritoryError as exc:
            err_console.print(f"Error: {exc}", markup=False)
            raise SystemExit(1) from exc
