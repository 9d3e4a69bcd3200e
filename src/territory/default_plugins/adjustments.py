"""Built-in regional marketing adjustments."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from territory.adjust import MAX_MULTIPLIER
from territory.columns import TERRITORY_ID, find_column
from territory.errors import ValidationError
from territory.extensions import REQUIRED, Adjustment, AdjustmentContext, Param
from territory.hookspecs import hookimpl
from territory.io import as_frame, read_table

INDEXES = {"median_household_income": "median household income (ACS 2013)"}


@lru_cache(maxsize=1)
def _states():
    import geopandas as gpd

    with resources.as_file(resources.files("territory.data") / "us_states.parquet") as p:
        return gpd.read_parquet(p)


def state_of(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """US state (USPS code) of each point, None outside the states; uses the assignment engine."""
    from territory.assignment import locate_points

    states = _states()
    geoms = states.geometry.to_numpy()
    rank = np.arange(len(geoms))
    found = locate_points(
        np.asarray(lon, float), np.asarray(lat, float), geoms, geographic=True,
        tie_rank=rank, overlap_rank=rank,
    ).polygon  # fmt: skip
    codes = states["STUSPS"].to_numpy(dtype=object)
    return np.where(found >= 0, codes[np.maximum(found, 0)], None)


def _embedded_table(name: str) -> pd.DataFrame:
    with resources.as_file(resources.files("territory.data") / name) as p:
        return read_table(p)


def regional_economics(ctx: AdjustmentContext, index: str, weight: str, strength: float):
    """Scale targets by a regional economic index, keeping the plan total unchanged."""
    econ = _embedded_table("us_state_economics.csv").set_index("STUSPS")
    value_of_state = pd.to_numeric(econ[index])
    acc = ctx.accounts
    state = pd.Series(state_of(acc["lon"], acc["lat"]), index=acc.index)
    value = state.map(value_of_state)
    if weight == "accounts":
        w = pd.Series(1.0, index=acc.index)
    elif weight in acc.columns:
        w = pd.to_numeric(acc[weight], errors="coerce").fillna(0).clip(lower=0)
    else:
        raise ValidationError(
            f"regional_economics: weight '{weight}' is not 'accounts' or an account measure "
            f"({', '.join(ctx.measures)})."
        )
    frame = pd.DataFrame({"t": acc["territory_id"], "v": value, "w": w}).dropna(subset=["t", "v"])
    frame = frame[frame["w"] > 0]
    grouped = frame.assign(vw=frame.v * frame.w).groupby("t", observed=True)
    idx = grouped["vw"].sum() / grouped["w"].sum()
    terr = ctx.territories.set_index("territory_id")
    target = pd.to_numeric(terr["target"], errors="coerce").reindex(idx.index)
    basis = target.where(target > 0, 1.0).fillna(1.0)
    avg = float((basis * idx).sum() / basis.sum()) if len(idx) else np.nan
    raw = (idx / avg) ** strength
    mult = raw * basis.sum() / (basis * raw).sum() if len(idx) else raw
    label = INDEXES[index]
    rows = [
        {
            "territory_id": t,
            "target_multiplier": float(mult[t]),
            "index_value": float(idx[t]),
            "reason": f"{label} {idx[t]:,.0f} vs plan average {avg:,.0f}"
            f" ({weight}-weighted, strength {strength:g}; total kept)",
        }
        for t in idx.index
    ]
    missing = terr.index.difference(idx.index)
    rows += [
        {"territory_id": t, "target_multiplier": 1.0, "index_value": np.nan,
         "reason": f"no accounts in US states with {label}; unchanged"}
        for t in missing
    ]  # fmt: skip
    return pd.DataFrame(rows)


def localisation(ctx: AdjustmentContext, table, key: str | None, by: str, message: str | None):
    """Language, currency, time zone and message variant per territory from a table."""
    if table is None:
        lookup, name = _embedded_table("us_state_locale.csv"), "the embedded US state table"
        key = key or "STUSPS"
    else:
        lookup, source = as_frame(str(table), "localisation")
        name = source.name
    key = key or lookup.columns[0]
    if key not in lookup.columns:
        raise ValidationError(f"localisation: key column '{key}' is not in {name}.")
    lookup = lookup.assign(**{key: lookup[key].astype(str).str.strip()}).drop_duplicates(key)
    lookup = lookup.set_index(key)
    terr = ctx.territories.set_index("territory_id")
    if by == "state":
        acc = ctx.accounts.dropna(subset=["territory_id"])
        states = pd.Series(state_of(acc["lon"], acc["lat"]), index=acc.index)
        counts = pd.DataFrame({"t": acc["territory_id"].astype(object), "s": states}).dropna()
        counts = counts.groupby(["t", "s"]).size().rename("n").reset_index()
        counts["share"] = counts["n"] / counts.groupby("t")["n"].transform("sum")
        top = counts.sort_values(["t", "n", "s"], ascending=[True, False, True]).drop_duplicates(
            "t"
        )
        keys = top.set_index("t")["s"].reindex(terr.index)
        why = {t: f"dominant state {s} ({sh:.0%} of accounts)" for t, s, sh in
               top[["t", "s", "share"]].itertuples(index=False)}  # fmt: skip
    else:
        if by not in terr.columns and by != "territory_id":
            raise ValidationError(f"localisation: territories have no '{by}' column.")
        keys = pd.Series(terr.index if by == "territory_id" else terr[by], index=terr.index)
        why = {t: f"{by} {k}" for t, k in keys.items()}
    rows = []
    for t, k in keys.items():
        k = None if pd.isna(k) else str(k)
        if k is None or k not in lookup.index:
            rows.append({"territory_id": t, "reason": f"no entry for {k!r} in {name}"})
            continue
        row = {"territory_id": t, **lookup.loc[k].to_dict(), "reason": f"{why[t]} in {name}"}
        if message is not None:
            row["message"] = message.format(**{**row, "key": k})
        rows.append(row)
    return pd.DataFrame(rows)


def manual_multipliers(ctx: AdjustmentContext, table):
    """Target multipliers per territory from a CSV (territory_id, multiplier[, reason])."""
    from territory.validate import to_number

    frame, source = as_frame(str(table), "multipliers")
    tcol = find_column(frame, None, TERRITORY_ID[:-2], what="territory id", source=source,
                       option="multipliers territory column")  # fmt: skip
    mcol = find_column(frame, None, ("multiplier", "target_multiplier", "factor"),
                       what="multiplier", source=source, option="multipliers column")  # fmt: skip
    values, _ = to_number(frame[mcol], mcol, source)
    if np.isnan(values).any() or (values <= 0).any() or (values > MAX_MULTIPLIER).any():
        raise ValidationError(
            f"Multipliers in {source.name} must be numbers with 0 < multiplier <= "
            f"{MAX_MULTIPLIER:g}."
        )
    ids = frame[tcol].astype(str).str.strip()
    known = set(ctx.territories["territory_id"].astype(str))
    unknown = sorted(set(ids) - known)
    if unknown:
        raise ValidationError(
            f"{source.name} names territories that do not exist: {', '.join(unknown[:8])}."
        )
    default = f"manual, from {source.name}"
    reasons = pd.Series(default, index=frame.index, dtype=object)
    if "reason" in frame.columns:
        given = frame["reason"].astype("string").str.strip()
        reasons = given.where(given.notna() & given.ne(""), default).astype(object)
    return pd.DataFrame(
        {"territory_id": ids.to_numpy(), "target_multiplier": values, "reason": reasons.to_numpy()}
    )


@hookimpl
def register_adjustments(register):
    register(Adjustment(
        "regional_economics", regional_economics,
        {
            "index": Param("str", "median_household_income", "Regional index per US state.",
                           tuple(INDEXES)),
            "weight": Param("str", "accounts", "Weight accounts by 'accounts' or a measure."),
            "strength": Param("float", 1.0, "Elasticity: 1 = proportional, 0.5 = dampened."),
        },
        "Scale targets by a real regional economic index (US states, ACS 2013 median household "
        "income shipped with the package); the plan total stays the same.",
    ))  # fmt: skip
    register(Adjustment(
        "localisation", localisation,
        {
            "table": Param("path", None, "Table of language/currency/timezone/message per key "
                                         "(default: embedded US state table)."),
            "key": Param("str", None, "Key column of the table (default: its first column)."),
            "by": Param("str", "state", "Match by the territory's dominant 'state', 'parent', "
                                        "'territory_id' or another territory column."),
            "message": Param("str", None, "Message template, e.g. 'Hello from {key}'."),
        },
        "Language, currency, time zone and message variant per territory from a table.",
    ))  # fmt: skip
    register(Adjustment(
        "manual_multipliers", manual_multipliers,
        {"table": Param("path", REQUIRED, "CSV with territory_id, multiplier[, reason].")},
        "Target multipliers set by hand in a CSV.",
    ))  # fmt: skip
