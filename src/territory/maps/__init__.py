"""Sales-by-territory maps as one self-contained HTML file.

:func:`explore` draws the territories of any GeoDataFrame coloured by a column (like
``GeoDataFrame.explore``), with accounts and building blocks; :func:`build_map` (what
``PlanResult.to_map()`` and the CLI call) hands it a plan result's territories, KPIs, accounts,
blocks, currency and plugin layers. Leaflet is inlined, so the file opens with no network;
tiles are optional (a blank background still shows every territory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from territory.maps.accounts import AccountPoints
from territory.maps.colours import DIVERGING, IDENTITY, STATUS, neighbour_colours
from territory.maps.render import TOOLTIP_FIELDS, explore, label
from territory.maps.tools import postal_column, territory_people
from territory.maps.units import as_of_line, plan_currencies

if TYPE_CHECKING:
    from territory.result import PlanResult

__all__ = [
    "DIVERGING",
    "IDENTITY",
    "STATUS",
    "TOOLTIP_FIELDS",
    "AccountPoints",
    "account_points",
    "build_map",
    "explore",
    "neighbour_colours",
]
MAX_ACCOUNTS = 250_000


def build_map(
    result: PlanResult,
    *,
    kpi: str | None = None,
    title: str | None = None,
    source: str | None = None,
    tiles: str | None = None,
    simplify_m: float = 500.0,
    max_accounts: int = MAX_ACCOUNTS,
    figures: pd.DataFrame | None = None,
    tooltip: dict[str, str] | None = None,
    caption: str | None = None,
    as_of=None,
    reference: bool = True,
) -> folium.Map:
    """Render a plan result as a folium map: :func:`explore` over its territories and KPIs.

    Parameters
    ----------
    kpi : str, optional
        Territory KPI column used for colour; default revenue (else accounts). ``"territory"``
        colours territories by identity, no two neighbours alike.
    title, source : str, optional
        Page title and data-source line (defaults from the plan).
    tiles : str, optional
        A tile URL template or folium tile name for online use; default none (offline).
    simplify_m : float
        Tolerance, in metres, of the topology-preserving simplification of shapes for the web.
    max_accounts : int
        Accounts drawn as points at most (an evenly spaced sample beyond that).
    figures : DataFrame, optional
        The table per territory (``territory_id`` and columns) to colour by and show, instead
        of ``result.kpis``; e.g. tracking figures at a date.
    tooltip : dict, optional
        KPI column -> label of the territory tooltip, in order (default
        :data:`TOOLTIP_FIELDS`). Text columns are shown as given (escaped), numbers formatted.
        The region (``parent``) and ``rep`` are added when the territories have them.
    caption : str, optional
        Legend title (default: the KPI's label).
    as_of : date or str, optional
        The date the figures describe, in the subtitle (default: see :func:`.units.as_of_line`).
    reference : bool
        Add the "Reference" overlay: country (and US state) lines and major cities.
    """
    kpis = result.kpis if figures is None else figures
    kpi = _kpi(kpis, kpi)
    n_un = result.summary["unassigned"]
    what = "Territories" if kpi == "territory" else f"{label(kpi)} by territory"
    subtitle = (
        f"{what} · {len(kpis)} territories · {result.summary['accounts']:,} accounts"
        + (f" ({n_un:,} unassigned)" if n_un else "")
        + f" · {as_of_line(result, as_of)}"
    )
    alignment = result.layer.alignment
    return explore(
        _plan_territories(result, kpis),
        kpi,
        accounts=_plan_accounts(result),
        blocks=_plan_blocks(result),
        tooltip=TOOLTIP_FIELDS if tooltip is None else tooltip,
        caption=caption,
        title=title or result.plan.name,
        subtitle=subtitle,
        source=source or result.plan.credits or _source_line(result),
        currency=plan_currencies(result, result.kpis["territory_id"]),
        tiles=tiles,
        simplify_m=simplify_m,
        max_accounts=max_accounts,
        balance=result.plan.balance or "revenue",
        alignment=None if alignment is None else _alignment(alignment),
        reference=reference,
        layers=lambda fmap: _plugin_layers(result, fmap),
    )


def _kpi(kpis: pd.DataFrame, kpi: str | None) -> str:
    """The KPI to colour by: ``kpi`` checked against the table, default revenue, else accounts."""
    kpi = kpi or ("revenue" if "revenue" in kpis.columns else "accounts")
    if kpi not in kpis.columns and kpi != "territory":
        from territory.errors import ValidationError

        raise ValidationError(
            f"Cannot colour the map by '{kpi}': not a KPI. KPIs: {', '.join(kpis.columns)}."
        )
    return kpi


def _plan_territories(result: PlanResult, kpis: pd.DataFrame) -> gpd.GeoDataFrame:
    """The plan's territory shapes with the KPI table, and the name, region and rep of the
    territory layer where the table lacks them."""
    shapes = result.layer.territories
    table = shapes[["territory_id", shapes.geometry.name]].merge(kpis, on="territory_id",
                                                                 how="left")  # fmt: skip
    people = territory_people(shapes).set_index("territory_id").reindex(table["territory_id"])
    for column in ("name", "parent", "rep"):
        if people[column].isna().all():
            continue
        if column not in table.columns or table[column].isna().all():
            table[column] = people[column].to_numpy()
    return table


def _plan_accounts(result: PlanResult) -> gpd.GeoDataFrame | None:
    """The located accounts with their tooltip columns (id, name, postal code, territory,
    revenue); None with the Dask engine (the accounts stay on the workers)."""
    if result.accounts is None:
        return None
    given = result.accounts.to_geodataframe()
    out = gpd.GeoDataFrame({"account_id": given["account_id"].to_numpy()},
                           geometry=given.geometry.to_numpy(), crs=given.crs)  # fmt: skip
    if "name" in given.columns:
        out["name"] = given["name"].to_numpy()
    postal = postal_column(given, getattr(result.plan.accounts, "postal_code", None))
    if postal is not None:
        out["postal_code"] = given[postal].to_numpy()
    rows = result.assignments
    if np.array_equal(rows["account_id"].to_numpy(), out["account_id"].to_numpy()):
        out["territory_id"] = rows["territory_id"].to_numpy(dtype=object)
    else:
        by_id = rows.set_index("account_id")["territory_id"]
        out["territory_id"] = by_id.loc[out["account_id"]].to_numpy(dtype=object)
    if "revenue" in given.columns:
        out["revenue"] = given["revenue"].to_numpy()
    return out.to_crs(4326)


def _plan_blocks(result: PlanResult) -> gpd.GeoDataFrame | None:
    """The building blocks with the accounts and revenue assigned to each, or None."""
    blocks = result.layer.blocks
    if blocks is None:
        return None
    frame = blocks[["block_id", "territory_id", blocks.geometry.name]]
    rows = result.assignments
    if isinstance(rows, pd.DataFrame) and "block_id" in rows:
        inside = rows.dropna(subset=["block_id"])
        groups = inside.groupby(inside["block_id"].astype(object), observed=True)
        measures = pd.DataFrame({"accounts": groups.size()})
        if "revenue" in inside:
            measures["revenue"] = groups["revenue"].sum()
        frame = frame.join(measures, on="block_id")
    return frame


def _alignment(table) -> tuple[pd.DataFrame, dict]:
    """The plan's alignment table as read (no shapes) and its columns by role."""
    frame = table.frame
    if isinstance(frame, gpd.GeoDataFrame):  # shapes are the blocks' business, not the table's
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return frame, table.roles


def account_points(result: PlanResult, fmap: folium.Map) -> AccountPoints:
    """The accounts drawn on ``fmap`` (made on the first call, the same object afterwards).

    Layers of accounts (the accounts layer, segment layers of plugins) take their coordinates
    from ``account_points(result, fmap).source``, so the page holds them once. A map made by
    :func:`build_map` or :func:`explore` already has them; on another map they are made from
    ``result`` (at most :data:`MAX_ACCOUNTS`).
    """
    points = getattr(fmap, "_territory_accounts", None)
    if points is None:
        points = AccountPoints(_plan_accounts(result), MAX_ACCOUNTS)
        fmap._territory_accounts = points
    return points


def _plugin_layers(result: PlanResult, fmap: folium.Map) -> None:
    """Layers registered by plugins (hook ``register_map_layers``), built-ins included."""
    from territory.errors import PluginError
    from territory.plugins import get_plugins

    plugins = result.plugins or get_plugins()
    for name, (plugin, layer) in plugins.map_layers.items():
        try:
            layer.build(result, fmap)
        except Exception as exc:
            raise PluginError(
                f"Plugin '{plugin}' map layer '{name}' (hook register_map_layers) raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc


def _source_line(result: PlanResult) -> str:
    layer = result.layer
    accounts = result.accounts.source.name if result.accounts is not None else "partitioned"
    parts = [f"Accounts: {accounts}", f"Territories: {layer.source}"]
    return " · ".join(parts)
