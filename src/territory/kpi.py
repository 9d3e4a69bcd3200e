"""The one common KPI set, per territory and per territory x segment.

Per territory: ``accounts``, one column per account measure (``revenue``, ``pipeline`` ...),
``target``, ``attainment`` (revenue / target), ``share`` (of the balance measure's input total,
so territory shares plus the unassigned share add up to 1), ``deviation`` (of the balance
measure from the mean territory), ``area_km2``, ``density`` (accounts per 1,000 km²) and
``compactness`` (Polsby-Popper). Per segment the same columns are computed within each segment,
so segments compare like for like; each cell's ``target`` is its territory's target split by the
cells' share of the target measure (:func:`segment_targets`), so the cells add up to the
territory's target and tracking uses the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from territory.quality import deviation, gini, polsby_popper
from territory.territories import TerritoryLayer


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


@dataclass
class Aggregates:
    """Additive sums behind every KPI, so batches and partitions combine with ``+``.

    ``territory``: per territory, ``accounts`` and each measure over assigned accounts.
    ``totals``: the input totals (all accounts, assigned or not). ``methods``: accounts per
    assignment method. ``cells[axis]``: per (territory, label) sums over assigned accounts.
    ``label_totals[axis]``: per label sums over all accounts.
    """

    measures: tuple[str, ...]
    territory: pd.DataFrame
    totals: pd.Series
    methods: pd.Series
    cells: dict[str, pd.DataFrame] = field(default_factory=dict)
    label_totals: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __add__(self, other: Aggregates) -> Aggregates:
        def add(a, b):
            return a.add(b, fill_value=0)

        return Aggregates(
            self.measures,
            add(self.territory, other.territory),
            add(self.totals, other.totals),
            add(self.methods, other.methods),
            {k: add(v, other.cells[k]) for k, v in self.cells.items()},
            {k: add(v, other.label_totals[k]) for k, v in self.label_totals.items()},
        )


def _sums(frame: pd.DataFrame, keys: list[str], measures: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(keys, sort=True, observed=True)
    out = grouped[measures].sum() if measures else pd.DataFrame(index=grouped.size().index)
    out.insert(0, "accounts", grouped.size())
    # plain object labels, so partial sums from different partitions align
    if isinstance(out.index, pd.MultiIndex):
        out.index = pd.MultiIndex.from_arrays(
            [out.index.get_level_values(i).astype(object) for i in range(out.index.nlevels)],
            names=out.index.names,
        )
    else:
        out.index = out.index.astype(object)
    return out.astype(float)


def aggregate(
    assignments: pd.DataFrame, labels: pd.DataFrame | None, measures: list[str]
) -> Aggregates:
    """The additive sums of one table (a whole plan, a batch or a partition)."""
    from territory.assignment import METHODS

    measures = list(measures)
    assigned = assignments[assignments["territory_id"].notna()]
    totals = pd.Series(
        {"accounts": float(len(assignments)), **{m: float(assignments[m].sum()) for m in measures}}
    )
    methods = assignments["method"].value_counts().reindex(list(METHODS), fill_value=0)
    agg = Aggregates(tuple(measures), _sums(assigned, ["territory_id"], measures), totals,
                     methods.astype(float))  # fmt: skip
    for axis in [] if labels is None else labels.columns:
        frame = assignments[["territory_id", *measures]].assign(**{axis: labels[axis].to_numpy()})
        agg.cells[axis] = _sums(frame[frame["territory_id"].notna()], ["territory_id", axis],
                                measures)  # fmt: skip
        agg.label_totals[axis] = _sums(frame, [axis], measures)
    return agg


def territory_kpis(
    agg: Aggregates, layer: TerritoryLayer, *, targets: pd.Series, balance: str
) -> pd.DataFrame:
    """KPIs for every territory of ``layer`` (territories without accounts included)."""
    terr = layer.territories
    ids = pd.Index(terr["territory_id"], name="territory_id")
    sums = agg.territory.reindex(ids).fillna(0)
    sums["accounts"] = sums["accounts"].astype(np.int64)
    out = pd.DataFrame(
        {"territory_id": ids, "name": terr["name"].to_numpy(), "parent": terr["parent"].to_numpy()}
    ).set_index("territory_id")
    out = out.join(sums)
    out["target"] = targets.reindex(ids).to_numpy()
    if "revenue" in agg.measures:
        with np.errstate(divide="ignore", invalid="ignore"):
            att = out["revenue"] / out["target"]
        out["attainment"] = att.where(out["target"] > 0)
    total = float(agg.totals[balance])
    out["share"] = out[balance] / total if total else np.nan
    out["deviation"] = deviation(out[balance].to_numpy())
    geo = layer.area_perimeter.reindex(ids)
    out["area_km2"] = geo["area_km2"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["density"] = out["accounts"] / out["area_km2"] * 1000.0
    out["compactness"] = polsby_popper(geo["area_km2"].to_numpy(), geo["perimeter_km"].to_numpy())
    return out.reset_index()


def segment_kpis(
    agg: Aggregates, axis: str, layer: TerritoryLayer, *, balance: str
) -> pd.DataFrame:
    """KPIs per territory x label of ``axis``, with shares and deviations within each label.

    Unassigned accounts are left out of the cells but counted in each label's total, so shares
    stay honest.
    """
    cells = agg.cells[axis].copy()
    cells["accounts"] = cells["accounts"].astype(np.int64)
    cells = cells.reset_index()
    seg_total = agg.label_totals[axis][balance]
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


def segment_targets(cells: pd.DataFrame, axis: str, targets: pd.Series, basis: str) -> pd.DataFrame:
    """Add ``target`` (and ``attainment``) to a segment KPI table: each territory's target split
    over its cells by their share of ``basis`` (a measure), evenly where the territory has none.

    The cells of a territory add up to its target; territories without a target get NaN.
    """
    weight = cells[basis].clip(lower=0) if basis in cells.columns else cells["accounts"] * 0.0
    by_terr = weight.groupby(cells["territory_id"]).transform("sum")
    n = cells.groupby("territory_id")["territory_id"].transform("size")
    share = (weight / by_terr).where(by_terr > 0, 1.0 / n)
    out = cells.copy()
    at = out.columns.get_loc("share") if "share" in out.columns else len(out.columns)
    out.insert(at, "target", out["territory_id"].map(targets).astype(float) * share)
    if "revenue" in out.columns:
        with np.errstate(divide="ignore", invalid="ignore"):
            att = out["revenue"] / out["target"]
        out.insert(at + 1, "attainment", att.where(out["target"] > 0))
    return out


def add_extra_kpis(
    table: pd.DataFrame, sums: pd.DataFrame, rows, keys: list[str], plugins, log=None
) -> pd.DataFrame:
    """Append the KPI columns registered by plugins (``register_kpis``) to a KPI table.

    KPIs with ``from_sums`` are computed from ``sums`` (the additive sums indexed by ``keys``),
    so they work on any engine. Others need ``rows``, the assigned accounts (assignments joined
    with attributes and segment labels): a callable returning them, called only if needed.
    Each KPI gets private copies; what it returns is checked (:func:`check_kpi_values`).
    """
    from territory.errors import PluginError
    from territory.extensions import PluginLog, private

    log = log if log is not None else PluginLog()
    assigned = None
    index = pd.MultiIndex.from_frame(table[keys]) if len(keys) > 1 else pd.Index(table[keys[0]])
    for name, (plugin, kpi) in plugins.kpis.items():
        where = f"Plugin '{plugin}' KPI '{name}' (hook register_kpis)"
        if name in table.columns:
            raise PluginError(f"{where} clashes with a core KPI.")
        if kpi.from_sums is not None:
            values = log.call(plugin, "KPI", name, "register_kpis", kpi.from_sums, private(sums))
        else:
            if assigned is None:
                everything = rows()
                assigned = everything[everything["territory_id"].notna()]
            values = log.call(plugin, "KPI", name, "register_kpis", kpi.compute,
                              private(assigned), list(keys))  # fmt: skip
        table[name] = check_kpi_values(values, index, keys, where)
    return table


def check_kpi_values(values, index: pd.Index, keys: list[str], where: str) -> np.ndarray:
    """A KPI column's values in ``index`` order, after checking what the plugin returned.

    It must be a numeric Series indexed by ``keys``, each key at most once, with no key the
    table lacks (keys it leaves out, such as territories without accounts, become NaN), and
    no infinite values.
    """
    from territory.errors import PluginError

    if not isinstance(values, pd.Series):
        raise PluginError(f"{where} returned {type(values).__name__}; expected a Series indexed "
                          f"by {keys}.")  # fmt: skip
    if values.index.nlevels != len(keys):
        raise PluginError(
            f"{where} returned a Series with {values.index.nlevels} index level(s); expected "
            f"one per key {keys} (e.g. rows.groupby(keys)[...].sum())."
        )
    if values.index.has_duplicates:
        raise PluginError(f"{where} returned some keys {keys} more than once.")
    positions = index.get_indexer(values.index)
    unknown = values.index[positions < 0]
    if len(unknown):
        shown = ", ".join(map(str, list(unknown[:5])))
        raise PluginError(
            f"{where} returned values for {len(unknown)} key(s) the KPI table does not have "
            f"(first: {shown}); index the Series by {keys} as in the table."
        )
    if not (pd.api.types.is_numeric_dtype(values) or values.isna().all()):
        raise PluginError(f"{where} returned {values.dtype} values; a KPI must be numeric.")
    numbers = values.astype(float).reindex(index).to_numpy()
    if np.isinf(numbers).any():
        raise PluginError(f"{where} returned infinite values; return NaN where it is undefined.")
    return numbers


def summary(agg: Aggregates, kpis: pd.DataFrame, balance: str) -> dict:
    """Plan-level figures: counts by method, conserved totals, balance and shape."""
    assigned_n = int(agg.territory["accounts"].sum()) if len(agg.territory) else 0
    totals = {}
    for m in agg.measures:
        assigned = float(agg.territory[m].sum()) if len(agg.territory) else 0.0
        totals[m] = {
            "input": float(agg.totals[m]),
            "assigned": assigned,
            "unassigned": float(agg.totals[m]) - assigned,
        }
    target_total = float(kpis["target"].sum(min_count=1)) if "target" in kpis else np.nan
    out = {
        "accounts": int(agg.totals["accounts"]),
        "assigned": assigned_n,
        "unassigned": int(agg.totals["accounts"]) - assigned_n,
        "methods": {k: int(v) for k, v in agg.methods.items()},
        "territories": int(len(kpis)),
        "balance_measure": balance,
        "max_deviation": float(np.abs(kpis["deviation"]).max()) if len(kpis) else 0.0,
        "gini": gini(kpis[balance].to_numpy()),
        "compactness_mean": float(np.nanmean(kpis["compactness"])) if len(kpis) else np.nan,
        "compactness_min": float(np.nanmin(kpis["compactness"])) if len(kpis) else np.nan,
        "totals": totals,
        "target_total": target_total,
    }
    if "revenue" in agg.measures and "revenue" in kpis and "target" in kpis:
        # over the territories that have a target: revenue where none is set is not measured
        # against anything (it is still in the totals)
        has = (kpis["target"] > 0).to_numpy()
        if has.any():
            revenue, target = kpis["revenue"].to_numpy()[has], kpis["target"].to_numpy()[has]
            out["attainment"] = float(np.nansum(revenue) / target.sum())
            if not has.all():
                out["attainment_territories"] = int(has.sum())
    return out
