"""Per-territory facts a brief is written from, all computed from the plan's own data.

Every fact may be missing (no prior-period measure, no target, no accounts in a US state, no
segment column): it is then NaN or None and the sentence that would use it is left out.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

import territory
from territory.default_plugins.adjustments import INDEXES, regional_economics, state_of
from territory.io import read_table

INCOME = "median_household_income"
TOP_SEGMENTS = 3
LOCALE_COLUMNS = ["state", "state_share", "language", "currency", "timezone", "locale_note"]
OUTSIDE = "\x00outside"  # group of accounts outside every US state in the locale table


def shipped_table(name: str) -> pd.DataFrame:
    """A CSV shipped with this plugin (package data in ``territory_campaign_briefs/data``)."""
    with resources.as_file(resources.files(__package__) / "data" / name) as path:
        return read_table(path)


def account_column(ctx, given: str | None, default: str, what: str) -> str | None:
    """``given`` (must exist) or ``default`` when the accounts have it, else None."""
    columns = ctx.accounts.columns
    if given is None:
        return default if default in columns else None
    if given not in columns:
        known = ", ".join(c for c in columns if c not in ("lon", "lat", "territory_id"))
        raise territory.ValidationError(
            f"campaign_brief: the accounts have no '{given}' column for the {what}. "
            f"Columns: {known}."
        )
    return given


def figures(ctx, measure: str, prior: str | None) -> pd.DataFrame:
    """Accounts, measure total, prior total, growth, target and attainment per territory."""
    if measure not in ctx.accounts.columns:
        raise territory.ValidationError(
            f"campaign_brief: the accounts have no measure '{measure}'; set measure to one of: "
            f"{', '.join(ctx.measures) or 'none (add measures to the plan)'}."
        )
    terr = ctx.territories.set_index("territory_id")
    acc = ctx.accounts.dropna(subset=["territory_id"])
    by = acc["territory_id"].astype(object)
    out = pd.DataFrame(index=terr.index)
    out["name"] = terr["name"].astype(object) if "name" in terr else out.index.astype(object)
    out["parent"] = terr["parent"].astype(object) if "parent" in terr else None
    out["accounts"] = acc.groupby(by).size().reindex(out.index).fillna(0).astype(int)
    out["measure"] = measure
    total = pd.to_numeric(acc[measure], errors="coerce").groupby(by).sum()
    out["total"] = total.reindex(out.index).fillna(0.0)
    out["prior_total"] = np.nan
    if prior is not None:
        before = pd.to_numeric(acc[prior], errors="coerce").groupby(by).sum()
        out["prior_total"] = before.reindex(out.index).fillna(0.0)
    positive = out["prior_total"] > 0
    out["growth"] = (out["total"] / out["prior_total"].where(positive) - 1).astype(float)
    target = pd.to_numeric(terr["target"], errors="coerce") if "target" in terr else np.nan
    out["target"] = target
    out["attainment"] = out["total"] / out["target"].where(out["target"] > 0)
    return out


def economics(ctx) -> pd.DataFrame:
    """Income index (accounts-weighted mean over the accounts' states) and ratio to the plan.

    Reuses the core ``regional_economics`` adjustment, so the figures are the ones it reports.
    """
    econ = regional_economics(ctx, INCOME, "accounts", 1.0).set_index("territory_id")
    ratio = econ["target_multiplier"].where(econ["index_value"].notna())
    return pd.DataFrame({"income_index": econ["index_value"], "income_ratio": ratio})


def locale(ctx, table: pd.DataFrame) -> pd.DataFrame:
    """Language, currency and time zone of each territory's dominant US state or territory.

    Accounts outside every state of ``table`` count as one group; when that group is the
    largest, the territory gets a ``locale_note`` instead of locale fields.
    """
    table = table.assign(STUSPS=table["STUSPS"].astype(str).str.strip()).set_index("STUSPS")
    terr = ctx.territories.set_index("territory_id")
    acc = ctx.accounts.dropna(subset=["territory_id"])
    states = pd.Series(state_of(acc["lon"], acc["lat"]), index=acc.index, dtype=object)
    states = states.where(states.isin(table.index), OUTSIDE)
    counts = pd.DataFrame({"t": acc["territory_id"].astype(object), "s": states})
    counts = counts.groupby(["t", "s"]).size().rename("n").reset_index()
    counts["share"] = counts["n"] / counts.groupby("t")["n"].transform("sum")
    top = counts.sort_values(["t", "n", "s"], ascending=[True, False, True])
    top = top.drop_duplicates("t").set_index("t").reindex(terr.index)
    out = pd.DataFrame(index=terr.index, columns=LOCALE_COLUMNS, dtype=object)
    names = terr["name"] if "name" in terr else pd.Series(terr.index, index=terr.index)
    for t, state, share in top[["s", "share"]].itertuples():
        if isinstance(state, str) and state != OUTSIDE:
            row = table.loc[state]
            out.loc[t, ["state", "state_share"]] = [state, float(share)]
            out.loc[t, ["language", "currency", "timezone"]] = [
                row["language"], row["currency"], row["timezone"]
            ]  # fmt: skip
        elif isinstance(state, str):
            out.loc[t, "locale_note"] = (
                f"no locale data for {names[t]}: {share:.0%} of its accounts are outside the "
                "US states and territories of the locale table"
            )
        else:
            out.loc[t, "locale_note"] = f"no locale data for {names[t]}: no accounts assigned"
    return out


def segment_mix(ctx, column: str | None, measure: str) -> pd.DataFrame:
    """Top segments per territory by ``measure`` share, with the plan-wide share beside it.

    Columns ``segment_1`` .. ``segment_3`` with ``_share`` and ``_plan_share``; empty when
    there is no segment column or the territory has no positive ``measure``.
    """
    ids = ctx.territories["territory_id"]
    cols = [f"segment_{i}{s}" for i in range(1, TOP_SEGMENTS + 1)
            for s in ("", "_share", "_plan_share")]  # fmt: skip
    out = pd.DataFrame(index=pd.Index(ids), columns=cols, dtype=object)
    if column is None:
        return out
    acc = ctx.accounts.dropna(subset=["territory_id", column])
    value = pd.to_numeric(acc[measure], errors="coerce").fillna(0).clip(lower=0)
    frame = pd.DataFrame(
        {"t": acc["territory_id"].astype(object), "s": acc[column].astype(str), "v": value}
    )
    plan = frame.groupby("s")["v"].sum()
    plan = plan / plan.sum() if plan.sum() > 0 else plan * np.nan
    cells = frame.groupby(["t", "s"])["v"].sum().rename("v").reset_index()
    cells["share"] = cells["v"] / cells.groupby("t")["v"].transform("sum")
    cells = cells[cells["v"] > 0].sort_values(["t", "v", "s"], ascending=[True, False, True])
    for t, group in cells.groupby("t", sort=False):
        for i, (s, share) in enumerate(group[["s", "share"]].head(TOP_SEGMENTS).to_numpy(), 1):
            out.loc[t, [f"segment_{i}", f"segment_{i}_share", f"segment_{i}_plan_share"]] = [
                s, float(share), float(plan[s])
            ]  # fmt: skip
    return out


def territory_facts(ctx, *, measure: str, prior: str | None, segment_column: str | None):
    """All facts per territory (index ``territory_id``), in the plan's territory order."""
    prior = account_column(ctx, prior, "revenue_prior", "prior-period measure")
    segment_column = account_column(ctx, segment_column, "segment", "customer segment")
    facts = figures(ctx, measure, prior)
    facts = facts.join(economics(ctx)).join(locale(ctx, shipped_table("us_locale.csv")))
    facts = facts.join(segment_mix(ctx, segment_column, measure))
    facts.attrs["sources"] = {
        "prior": prior, "segment_column": segment_column, "income": INDEXES[INCOME],
    }  # fmt: skip
    return facts
