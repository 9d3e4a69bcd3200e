"""The one common KPI set, per territory and per territory x segment.

Per territory: ``accounts``, one column per account measure (``revenue``, ``pipeline`` ...),
``target``, ``attainment`` (revenue / target), ``share`` (of the balance measure's input total,
so territory shares plus the unassigned share add up to 1), ``deviation`` (of the balance
measure from the mean territory), ``area_km2``, ``density`` (accounts per 1,000 km²) and
``compactness`` (Polsby-Popper). Per segment the same columns are computed within each segment,
so segments compare like for like.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory.quality import deviation, gini, polsby_popper
from territory.territories import TerritoryLayer

UNASSIGNED_LABEL = "(unassigned)"


def balance_measure(measures: list[str], requested: str | None) -> str:
    """The measure territories are balanced on: ``requested``, else revenue, else accounts."""
    from territory.errors import ValidationError

    if requested:
        if requested != "accounts" and requested not in measures:
            raise ValidationError(
                f"Unknown balance measure '{requested}'. Use 'accounts' or one of the account "
                f"measures: {', '.join(measures) or '(none)'}."
            )
        return requested
    return "revenue" if "revenue" in measures else "accounts"


def _sums(assignments: pd.DataFrame, keys: list[str], measures: list[str]) -> pd.DataFrame:
    assigned = assignments[assignments["territory_id"].notna()]
    grouped = assigned.groupby(keys, sort=True, observed=True)
    out = grouped[measures].sum() if measures else pd.DataFrame(index=grouped.size().index)
    out.insert(0, "accounts", grouped.size())
    return out


def territory_kpis(
    assignments: pd.DataFrame,
    layer: TerritoryLayer,
    measures: list[str],
    *,
    targets: pd.Series,
    balance: str,
) -> pd.DataFrame:
    """KPIs for every territory of ``layer`` (territories without accounts included)."""
    terr = layer.territories
    ids = pd.Index(terr["territory_id"], name="territory_id")
    sums = _sums(assignments, ["territory_id"], measures).reindex(ids).fillna(0)
    sums["accounts"] = sums["accounts"].astype(np.int64)
    out = pd.DataFrame(
        {"territory_id": ids, "name": terr["name"].to_numpy(), "parent": terr["parent"].to_numpy()}
    ).set_index("territory_id")
    out = out.join(sums)
    out["target"] = targets.reindex(ids).to_numpy()
    if "revenue" in measures:
        with np.errstate(divide="ignore", invalid="ignore"):
            att = out["revenue"] / out["target"]
        out["attainment"] = att.where(out["target"] > 0)
    total = _input_total(assignments, balance)
    out["share"] = out[balance] / total if total else np.nan
    out["deviation"] = deviation(out[balance].to_numpy())
    geo = layer.area_perimeter.reindex(ids)
    out["area_km2"] = geo["area_km2"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["density"] = out["accounts"] / out["area_km2"] * 1000.0
    out["compactness"] = polsby_popper(geo["area_km2"].to_numpy(), geo["perimeter_km"].to_numpy())
    return out.reset_index()


def segment_kpis(
    assignments: pd.DataFrame,
    labels: pd.Series,
    layer: TerritoryLayer,
    measures: list[str],
    *,
    balance: str,
) -> pd.DataFrame:
    """KPIs per territory x segment label, with shares and deviations within each segment.

    ``labels`` holds one label per assignment row (same order). Unassigned accounts are left
    out of the cells but counted in each segment's total, so shares stay honest.
    """
    axis = labels.name or "segment"
    frame = assignments.assign(**{axis: labels.astype("string").fillna("(blank)").to_numpy()})
    cells = _sums(frame, ["territory_id", axis], measures).reset_index()
    if balance == "accounts":
        seg_total = frame.groupby(axis).size()
    else:
        seg_total = frame.groupby(axis)[balance].sum()
    cells["share"] = cells[balance] / cells[axis].map(seg_total).replace(0, np.nan).to_numpy()
    cells["deviation"] = cells.groupby(axis)[balance].transform(
        lambda s: pd.Series(deviation(s.to_numpy()), index=s.index)
    )
    area = layer.area_perimeter["area_km2"]
    with np.errstate(divide="ignore", invalid="ignore"):
        cells["density"] = cells["accounts"] / cells["territory_id"].map(area).to_numpy() * 1000
    names = layer.territories.set_index("territory_id")["name"]
    cells.insert(1, "name", cells["territory_id"].map(names).to_numpy())
    return cells


def add_extra_kpis(
    table: pd.DataFrame, rows: pd.DataFrame, keys: list[str], plugins
) -> pd.DataFrame:
    """Append the KPI columns registered by plugins (``register_kpis``) to a KPI table.

    ``rows`` are the accounts (assignments joined with attributes and segment labels); only
    assigned ones are passed to plugins. The same function fills territory and segment tables.
    """
    from territory.errors import PluginError

    assigned = rows[rows["territory_id"].notna()]
    for name, (plugin, kpi) in plugins.kpis.items():
        if name in table.columns:
            raise PluginError(
                f"Plugin '{plugin}' KPI '{name}' (hook register_kpis) clashes with a core KPI."
            )
        try:
            values = kpi.compute(assigned, list(keys))
        except Exception as exc:
            raise PluginError(
                f"Plugin '{plugin}' KPI '{name}' (hook register_kpis) raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(values, pd.Series):
            raise PluginError(
                f"Plugin '{plugin}' KPI '{name}' (hook register_kpis) returned "
                f"{type(values).__name__}; expected a Series indexed by {keys}."
            )
        index = pd.MultiIndex.from_frame(table[keys]) if len(keys) > 1 else pd.Index(table[keys[0]])
        table[name] = pd.to_numeric(values.reindex(index), errors="coerce").to_numpy()
    return table


def _input_total(assignments: pd.DataFrame, balance: str) -> float:
    if balance == "accounts":
        return float(len(assignments))
    return float(assignments[balance].sum())


def summary(
    assignments: pd.DataFrame, kpis: pd.DataFrame, measures: list[str], balance: str
) -> dict:
    """Plan-level figures: counts by method, conserved totals, balance and shape."""
    assigned = assignments["territory_id"].notna()
    methods = (
        assignments["method"]
        .value_counts()
        .reindex(assignments["method"].cat.categories, fill_value=0)
    )
    totals = {
        m: {
            "input": float(assignments[m].sum()),
            "assigned": float(assignments.loc[assigned, m].sum()),
            "unassigned": float(assignments.loc[~assigned, m].sum()),
        }
        for m in measures
    }
    target_total = float(kpis["target"].sum(min_count=1)) if "target" in kpis else np.nan
    out = {
        "accounts": int(len(assignments)),
        "assigned": int(assigned.sum()),
        "unassigned": int((~assigned).sum()),
        "methods": {k: int(v) for k, v in methods.items()},
        "territories": int(len(kpis)),
        "balance_measure": balance,
        "max_deviation": float(np.abs(kpis["deviation"]).max()) if len(kpis) else 0.0,
        "gini": gini(kpis[balance].to_numpy()),
        "compactness_mean": float(np.nanmean(kpis["compactness"])) if len(kpis) else np.nan,
        "compactness_min": float(np.nanmin(kpis["compactness"])) if len(kpis) else np.nan,
        "totals": totals,
        "target_total": target_total,
    }
    if "revenue" in measures and np.isfinite(target_total) and target_total > 0:
        out["attainment"] = totals["revenue"]["assigned"] / target_total
    return out
