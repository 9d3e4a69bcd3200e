"""Adjustment stage: per-territory target multipliers and regional attributes from plugins.

Each adjustment returns one row per territory it changes (``territory_id``, ``reason``,
optional ``target_multiplier`` and attribute columns such as ``language``). The core checks the
rows, records every adjustment per territory with its value and reason, and applies the
multipliers in order: ``target = base target x product of multipliers``. A multiplier must be
a number with ``0 < m <= MAX_MULTIPLIER`` (1000); anything else stops the run naming the plugin.
Every adjustment gets private copies of the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory.errors import PluginError
from territory.extensions import AdjustmentContext, PluginLog, invoke

HOOK = "register_adjustments"
MAX_MULTIPLIER = 1000.0  # documented bound: 0 < target_multiplier <= 1000


@dataclass(frozen=True)
class AdjustmentSpec:
    """One requested adjustment: registered name, optional label and parameters."""

    adjustment: str
    name: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    where: str | None = field(default=None, compare=False)  # e.g. "[[adjustments]] number 1 ..."

    @property
    def label(self) -> str:
        return self.name or self.adjustment


def apply_adjustments(
    specs: tuple[AdjustmentSpec, ...],
    plugins,
    context: AdjustmentContext,
    base: Path | None = None,
    log: PluginLog | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Run the adjustments; return ``(table, multiplier)``.

    ``table`` has one row per territory and adjustment (``territory_id``, ``adjustment``,
    ``target_multiplier``, ``reason`` and attribute columns); ``multiplier`` is the product of
    all target multipliers per territory (1 where none applies).
    """
    ids = pd.Index(context.territories["territory_id"])
    total = pd.Series(1.0, index=ids)
    tables = []
    for spec in specs:
        plugin, rows = invoke(
            plugins, HOOK, spec.adjustment, spec.params, context.copy(),
            kind="adjustment", plural="adjustments", base=base, log=log, where=spec.where,
        )  # fmt: skip
        rows = _check_rows(rows, ids, plugin, spec.adjustment)
        rows.insert(1, "adjustment", spec.label)
        total = total * rows.set_index("territory_id")["target_multiplier"]
        tables.append(rows)
    if not tables:
        return pd.DataFrame(
            columns=["territory_id", "adjustment", "target_multiplier", "reason"]
        ), total
    return pd.concat(tables, ignore_index=True), total


def _check_rows(rows: Any, ids: pd.Index, plugin: str, name: str) -> pd.DataFrame:
    where = f"Plugin '{plugin}' adjustment '{name}' (hook {HOOK})"
    if not isinstance(rows, pd.DataFrame):
        raise PluginError(f"{where} returned {type(rows).__name__}; expected a DataFrame.")
    for col in ("territory_id", "reason"):
        if col not in rows.columns:
            raise PluginError(f"{where} returned no '{col}' column.")
    rows = rows.reset_index(drop=True).copy()
    rows["territory_id"] = rows["territory_id"].astype(object)
    unknown = ~rows["territory_id"].isin(ids)
    if unknown.any():
        shown = ", ".join(map(str, rows.loc[unknown, "territory_id"].head(5)))
        raise PluginError(f"{where} returned unknown territories: {shown}.")
    if rows["territory_id"].duplicated().any():
        raise PluginError(f"{where} returned a territory more than once.")
    if "target_multiplier" not in rows.columns:
        rows["target_multiplier"] = 1.0
    mult = pd.to_numeric(rows["target_multiplier"], errors="coerce")
    bad = mult.isna() | ~np.isfinite(mult) | (mult <= 0) | (mult > MAX_MULTIPLIER)
    if bad.any():
        first = bad.to_numpy().nonzero()[0][0]
        raise PluginError(
            f"{where} returned {int(bad.sum())} target multiplier(s) outside 0 < m <= "
            f"{MAX_MULTIPLIER:g} (first: {rows['target_multiplier'].iloc[first]} for territory "
            f"'{rows['territory_id'].iloc[first]}'). Return numbers in that range."
        )
    rows["target_multiplier"] = mult.astype(float)
    if not all(isinstance(r, str) and r for r in rows["reason"]):
        raise PluginError(f"{where} must give a non-empty text reason for every territory.")
    # territories the adjustment leaves alone are recorded as unchanged
    missing = ids.difference(pd.Index(rows["territory_id"]))
    if len(missing):
        filler = pd.DataFrame(
            {"territory_id": list(missing), "target_multiplier": 1.0, "reason": "not changed"}
        )
        rows = pd.concat([rows, filler], ignore_index=True)
    first = ["territory_id", "target_multiplier", "reason"]
    return rows[first + [c for c in rows.columns if c not in first]]
