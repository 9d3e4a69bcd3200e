"""territory plugin: a marketing brief per territory, written from the plan's own data.

Registers the adjustment ``campaign_brief`` (one row per territory: headline, message, price
positioning, headline figures, top segments and locale) and the command
``territory briefs PLAN`` that writes the briefs as ``briefs.csv`` and a printable
``briefs.html``. Targets are never changed.

Layout, as a pattern to copy: :mod:`.facts` computes facts from the adjustment context,
:mod:`.brief` turns facts into sentences (a missing fact leaves its sentence out),
:mod:`.page` renders the shipped Jinja template with autoescape; data files live in
``data/`` and ``templates/`` (package data, read with :mod:`importlib.resources`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click
import pandas as pd

import territory
from territory.io import as_frame

from .brief import COLUMNS, brief_table
from .facts import shipped_table, territory_facts
from .page import FILES, briefs_output_set, render_page, write_briefs

NAME = "campaign_brief"

__all__ = ["COLUMNS", "NAME", "briefs_for", "campaign_brief", "render_page", "write_briefs"]


def emphasis_table(path) -> dict[str, str]:
    """Segment -> message emphasis: the shipped ``data/emphasis.csv`` or a user CSV."""
    if path is None:
        table, name = shipped_table("emphasis.csv"), "data/emphasis.csv"
    else:
        table, source = as_frame(str(path), "emphasis")
        name = source.name
    if table.shape[1] < 2:
        raise territory.ValidationError(
            f"campaign_brief: {name} needs two columns, segment and emphasis "
            f"(it has {', '.join(map(str, table.columns))})."
        )
    seg = "segment" if "segment" in table.columns else table.columns[0]
    emp = "emphasis" if "emphasis" in table.columns else table.columns[1]
    pairs = table[[seg, emp]].dropna()
    return {str(s).strip(): str(e).strip() for s, e in pairs.itertuples(index=False)
            if str(e).strip()}  # fmt: skip


def campaign_brief(ctx, segment_column, measure, prior, premium_above, value_below, emphasis):
    """One brief row per territory, from its figures, segment mix, economics and locale."""
    if not value_below < 1 < premium_above:
        raise territory.ValidationError(
            "campaign_brief: need value_below < 1 < premium_above (e.g. 0.95 and 1.05)."
        )
    facts = territory_facts(ctx, measure=measure, prior=prior, segment_column=segment_column)
    return brief_table(facts, emphasis_of=emphasis_table(emphasis),
                       premium_above=premium_above, value_below=value_below)  # fmt: skip


PARAMS = {
    "segment_column": territory.Param("str", None, "Account column of the customer segment "
                                      "(default: 'segment' when the accounts have it)."),
    "measure": territory.Param("str", "revenue", "Account measure the figures and segment "
                               "shares are computed from."),
    "prior": territory.Param("str", None, "Account measure of the prior period, for growth "
                             "(default: 'revenue_prior' when the accounts have it)."),
    "premium_above": territory.Param("float", 1.05, "Income index for premium pricing."),
    "value_below": territory.Param("float", 0.95, "Income index for value pricing."),
    "emphasis": territory.Param("path", None, "CSV segment,emphasis to replace the shipped "
                                "message emphasis per segment."),
}  # fmt: skip


@territory.hookimpl
def register_adjustments(register):
    register(territory.Adjustment(
        NAME, campaign_brief, PARAMS,
        "Marketing brief per territory: headline figures, growth, top segments, price "
        "positioning from regional income, language, currency and time zone.",
    ))  # fmt: skip


def briefs_for(plan: territory.Plan, **params) -> tuple[pd.DataFrame, territory.PlanResult]:
    """Run ``plan`` with exactly one ``campaign_brief`` and return its rows (one per territory).

    A ``campaign_brief`` the plan already has is replaced by one with its parameters updated
    by ``params`` (so the brief is never computed twice); the other adjustments stay.
    """
    own = [s for s in plan.adjustments if s.adjustment == NAME]
    others = tuple(s for s in plan.adjustments if s.adjustment != NAME)
    base = own[-1] if own else territory.AdjustmentSpec(NAME)
    spec = replace(base, params={**base.params, **params})
    result = replace(plan, adjustments=(*others, spec)).run()
    rows = result.adjustments[result.adjustments["adjustment"] == spec.label]
    rows = rows[COLUMNS].reset_index(drop=True)
    return rows.astype({"accounts": "Int64"}), result


@territory.hookimpl
def register_commands(cli):
    from territory.cli_common import command_errors

    @cli.command("briefs")
    @click.argument("plan_file", metavar="PLAN", type=click.Path(dir_okay=False))
    @click.option("-o", "--out", type=click.Path(file_okay=False), default="briefs",
                  show_default=True, help="Folder for briefs.csv and briefs.html.")  # fmt: skip
    @click.option("--segment-column", default=None,
                  help="Account column of the customer segment (default: the plan's, else "
                       "'segment' when present).")  # fmt: skip
    @command_errors  # a TerritoryError: one clear message and exit code 1, like built-ins
    def briefs(plan_file, out, segment_column):
        """Write one marketing brief per territory of PLAN (TOML): CSV and printable HTML."""
        from territory.outputs import plan_inputs

        plan = territory.Plan.from_file(plan_file)
        inputs = [plan_file, *plan_inputs(plan)]
        briefs_output_set(Path(out), inputs).check(FILES)  # before any work
        given = {"segment_column": segment_column} if segment_column else {}
        table, _ = briefs_for(plan, **given)
        title = f"Campaign briefs \u2014 {plan.name}"
        for path in write_briefs(table, Path(out), title, inputs):
            click.echo(f"Wrote {path}")
