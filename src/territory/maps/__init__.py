"""Sales-by-territory maps as one self-contained HTML file.

:func:`build_map` colours territories by a KPI, outlines and labels them, shows the KPI table in
a tooltip, and adds layers for accounts and building blocks. Leaflet is inlined, so the file
opens with no network; tiles are optional (a blank background still shows every territory).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import branca.colormap as cm
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from territory.formatting import NO_DATA, STATUS_COLOURS, cell
from territory.maps.editor import AlignmentEditor, source_alignment
from territory.maps.elements import LayerControl, Legend, OfflineMap, TitleBox
from territory.maps.export import ExportControl
from territory.maps.points import PointsLayer, PointSource
from territory.maps.reference import ReferenceLayer
from territory.maps.safe import text
from territory.maps.tools import add_map_tools, postal_texts, with_hierarchy
from territory.maps.units import Money, as_of_line

if TYPE_CHECKING:
    from territory.result import PlanResult

TOOLTIP_FIELDS = {
    "name": "Territory",
    "territory_id": "Id",
    "parent": "Region",
    "accounts": "Accounts",
    "revenue": "Revenue",
    "pipeline": "Pipeline",
    "target": "Target",
    "attainment": "Attainment",
    "share": "Share of total",
    "deviation": "Deviation from mean",
    "status": "Status",
}
# Ratios drawn on a diverging scale centred at 100 % (attainment of the plan's target; tracked
# actuals against the sales expected by the as-of date).
DIVERGING = {"attainment", "attainment_vs_pace"}


def build_map(
    result: PlanResult,
    *,
    kpi: str | None = None,
    title: str | None = None,
    source: str | None = None,
    tiles: str | None = None,
    simplify_m: float = 500.0,
    max_accounts: int = 250_000,
    figures: pd.DataFrame | None = None,
    tooltip: dict[str, str] | None = None,
    caption: str | None = None,
    as_of=None,
    reference: bool = True,
) -> folium.Map:
    """Render a plan result as a folium map.

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
    kpi = _colour_column(kpis, kpi)
    shaped = result.layer.territories[~result.layer.territories.geometry.is_empty]
    territories = _web_shapes(shaped, simplify_m)  # a territory with no shape has nothing to draw
    table = territories[["territory_id", "geometry"]].merge(kpis, on="territory_id", how="left")

    points = AccountPoints(result, max_accounts)  # none with the Dask engine (on the workers)
    bounds = _view_bounds(points.frame) if len(points.rows) else territories.total_bounds
    fmap = OfflineMap(location=None, tiles=None, control_scale=True)
    fmap._territory_accounts = points  # shared by every layer of accounts (account_points)
    if tiles:
        folium.TileLayer(tiles, attr="tiles", name="Background").add_to(fmap)
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])

    table, labels = with_hierarchy(table, result, TOOLTIP_FIELDS if tooltip is None else tooltip)
    money = Money(result, table["territory_id"])
    layer, steps = _territory_layer(table, kpi, labels, money)
    layer.add_to(fmap)

    if result.layer.blocks is not None:
        _blocks_layer(result, table, simplify_m).add_to(fmap)
    names = _labels_layer(territories, bounds).add_to(fmap)
    if len(points.rows):
        _accounts_layer(points).add_to(fmap)

    _plugin_layers(result, fmap)
    _legend_and_title(fmap, result, kpi, steps, caption, title, source, len(kpis), as_of, money)
    add_map_tools(fmap, result, table, layer, steps, names, points)  # search, filters, regions
    if reference:
        ReferenceLayer(bounds).add_to(fmap)
    ExportControl().add_to(fmap)
    LayerControl(collapsed=False, collapse_below=(1400, 860)).add_to(fmap)
    return fmap


def _colour_column(kpis: pd.DataFrame, kpi: str | None) -> str:
    """The KPI to colour by: ``kpi`` checked against the table, default revenue, else accounts."""
    kpi = kpi or ("revenue" if "revenue" in kpis.columns else "accounts")
    if kpi not in kpis.columns and kpi != "territory":
        from territory.errors import ValidationError

        raise ValidationError(
            f"Cannot colour the map by '{kpi}': not a KPI. KPIs: {', '.join(kpis.columns)}."
        )
    return kpi


def _territory_layer(table: gpd.GeoDataFrame, kpi: str, labels: dict | None, money=None) -> tuple:
    """``(layer, legend steps)``: the territories coloured by ``kpi``, tooltip ``labels``
    (default :data:`TOOLTIP_FIELDS`; money figures with their currency, see
    :class:`~territory.maps.units.Money`)."""
    labels = TOOLTIP_FIELDS if labels is None else labels
    if kpi == "territory":
        colours = [IDENTITY[c] for c in neighbour_colours(table.geometry.to_numpy())]
        steps = []
    elif pd.api.types.is_numeric_dtype(table[kpi].dtype):
        colours, steps = _sequential(pd.to_numeric(table[kpi], errors="coerce"), kpi)
    else:
        colours, steps = _categorical(table[kpi])
    props = _display_properties(table, list(labels))
    if money is not None:
        for f in props.columns:
            props[f] = money.values(f, table["territory_id"], props[f], escape=text)
        labels = {f: money.caption(f, label) for f, label in labels.items()}
    props["_fill"] = colours
    shapes = gpd.GeoDataFrame(props, geometry=table.geometry.to_numpy(), crs=4326)
    fields = [f for f in labels if f in props.columns]
    aliases = [text(labels[f]) for f in fields]
    layer = folium.GeoJson(
        shapes.to_json(drop_id=True),
        name="Territories" if kpi == "territory" else f"Territories by {_label(kpi)}",
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#333",
            "weight": 1.5,
            "fillOpacity": 0.75,
        },
        highlight_function=lambda f: {"weight": 3, "color": "#000"},
        # the tooltip only (it also opens on a tap); a popup would repeat it
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
        smooth_factor=0.5,
    )
    return layer, steps


def _legend_and_title(
    fmap, result, kpi, steps, caption, title, source, n_territories, as_of=None, money=None
) -> None:
    """The legend of the territory colours (money with its currency) and the title box."""
    if kpi == "territory":
        note = "Colours only tell neighbours apart (neighbours differ); hover for the figures"
        Legend(caption or "Territories", [], note).add_to(fmap)
    else:
        unit = money.caption(kpi, _label(kpi)) if money is not None else _label(kpi)
        Legend(caption or unit, steps).add_to(fmap)
    n_un = result.summary["unassigned"]
    what = "Territories" if kpi == "territory" else f"{_label(kpi)} by territory"
    subtitle = (
        f"{what} · {n_territories} territories · "
        f"{result.summary['accounts']:,} accounts"
        + (f" ({n_un:,} unassigned)" if n_un else "")
        + f" · {as_of_line(result, as_of)}"
    )
    credits = source or result.plan.credits or _source_line(result)
    TitleBox(title or result.plan.name, subtitle, credits).add_to(fmap)


def _view_bounds(points: gpd.GeoDataFrame) -> np.ndarray:
    """Where most accounts are: the 0.5-99.5 percentile box, so a few far-off accounts (remote
    islands, across the antimeridian) do not zoom the map out to the whole world."""
    x, y = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    q = (0.5, 99.5) if len(x) >= 200 else (0, 100)
    (x0, x1), (y0, y1) = np.percentile(x, q), np.percentile(y, q)
    return np.array([x0, y0, x1, y1])


def _web_shapes(frame: gpd.GeoDataFrame, simplify_m: float) -> gpd.GeoDataFrame:
    """Shapes in EPSG:4326, simplified without opening gaps or overlaps between neighbours."""
    out = frame.to_crs(4326)
    geoms = out.geometry.to_numpy()
    if simplify_m > 0:
        tol = simplify_m / 111_000.0
        if shapely.coverage_is_valid(geoms):
            geoms = shapely.coverage_simplify(geoms, tol)
        else:
            geoms = shapely.simplify(geoms, tol, preserve_topology=True)
    geoms = shapely.set_precision(geoms, 1e-5, mode="pointwise")
    return out.set_geometry(geoms)


def _sequential(values: pd.Series, kpi: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Colours for a KPI on a sequential (or, for attainment, diverging) scale, plus legend."""
    finite = values[np.isfinite(values)]
    if finite.empty:
        return [NO_DATA] * len(values), [(NO_DATA, "no data")]
    if kpi in DIVERGING:
        lo, hi = min(finite.min(), 0.5), max(finite.max(), 1.5)
        scale = cm.LinearColormap(["#b2182b", "#f7f7f7", "#2166ac"], index=[lo, 1.0, hi])
    else:
        lo, hi = float(finite.min()), float(finite.max())
        hi = hi if hi > lo else lo + 1
        scale = cm.linear.YlGnBu_09.scale(lo, hi)
    colours = [scale(v) if np.isfinite(v) else NO_DATA for v in values]
    edges = np.linspace(lo, hi, 6)
    if kpi in DIVERGING:  # 100% is the step that matters: always one, none crowding it
        edges = np.union1d(edges[np.abs(edges - 1.0) > (hi - lo) / 20], [1.0])
    steps = [(scale(v), cell(kpi, v)) for v in edges[::-1]]
    if len(finite) < len(values):
        steps.append((NO_DATA, "no data"))
    return colours, steps


STATUS = STATUS_COLOURS  # the one status palette (also the dashboard's)
CATEGORIES = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
              "#666666"]  # fmt: skip


# Qualitative colours (ColorBrewer Set3 and Paired), light enough for labels to stay readable.
IDENTITY = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
            "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f"]  # fmt: skip


def neighbour_colours(geoms: np.ndarray) -> np.ndarray:
    """A colour index per shape such that no two touching shapes share one.

    Greedy colouring, largest number of neighbours first (planar maps need few colours; the
    12 of :data:`IDENTITY` are plenty for territory maps and raise if ever exceeded).
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left != right
    neighbours = [[] for _ in range(len(geoms))]
    for a, b in zip(left[keep], right[keep], strict=True):
        neighbours[a].append(b)
    colour = np.full(len(geoms), -1)
    for i in sorted(range(len(geoms)), key=lambda i: -len(neighbours[i])):
        used = {colour[j] for j in neighbours[i]}
        colour[i] = next(c for c in range(len(geoms) + 1) if c not in used)
    if colour.max(initial=0) >= len(IDENTITY):
        raise ValueError("territory identity colouring needs more colours than the palette has")
    return colour


def _categorical(values: pd.Series) -> tuple[list[str], list[tuple[str, str]]]:
    """Colours for a categorical KPI (on-track status gets its traffic-light colours)."""
    labels = [str(v) for v in values.fillna("no data")]
    order = (
        [k for k in STATUS if k in labels] if set(labels) <= set(STATUS) else sorted(set(labels))
    )
    palette = STATUS if set(labels) <= set(STATUS) else {
        k: CATEGORIES[i % len(CATEGORIES)] for i, k in enumerate(order)
    }  # fmt: skip
    return [palette.get(v, NO_DATA) for v in labels], [(palette[k], k) for k in order]


def _display_properties(table: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """Tooltip properties as formatted strings, escaped with :func:`text` (shown as HTML)."""
    out = pd.DataFrame(index=table.index)
    for f in fields:
        if f not in table.columns or table[f].isna().all():
            continue
        col = table[f]
        if pd.api.types.is_numeric_dtype(col.dtype):
            out[f] = [cell(f, v) for v in col]
        else:
            out[f] = [text(v) if pd.notna(v) else "" for v in col]
    return out


def _label(kpi: str) -> str:
    """Caption of a KPI: snake_case names are spelled out, any other column name is kept."""
    if kpi in TOOLTIP_FIELDS:
        return TOOLTIP_FIELDS[kpi]
    return kpi.replace("_", " ").capitalize() if re.fullmatch(r"[a-z0-9_]+", kpi) else kpi


def _label_point(geom, view: shapely.Polygon):
    """A point inside the largest part of ``geom`` that lies in view (else the largest part)."""
    parts = shapely.get_parts(geom)
    visible = parts[shapely.intersects(parts, view)]
    pool = visible if len(visible) else parts
    return shapely.point_on_surface(pool[np.argmax(shapely.area(pool))])


def _labels_layer(territories: gpd.GeoDataFrame, bounds) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="Territory labels")
    view = shapely.box(*bounds)
    points = [_label_point(g, view) for g in territories.geometry.to_numpy()]
    for name, pt in zip(territories["name"], points, strict=True):
        label = text(name)
        folium.Marker(
            [pt.y, pt.x],
            icon=folium.DivIcon(
                html=f'<div class="territory-label" style="font:600 11px system-ui,sans-serif;'
                f"color:#111;text-shadow:0 0 3px #fff,0 0 3px #fff;white-space:nowrap;"
                f'transform:translate(-50%,-50%);">{label}</div>',
                icon_size=(0, 0),
            ),
        ).add_to(group)
    return group


def _blocks_layer(result: PlanResult, table, simplify_m: float) -> AlignmentEditor:
    """Building blocks, editable in the page (see :mod:`territory.maps.editor`)."""
    blocks = _web_shapes(result.layer.blocks[["block_id", "territory_id", "geometry"]], simplify_m)
    colours = [IDENTITY[c] for c in neighbour_colours(table.geometry.to_numpy())]
    names = result.layer.territories.set_index("territory_id")["name"]
    territories = pd.DataFrame(
        {"territory_id": table["territory_id"], "name": names.reindex(table["territory_id"]).values}
    )
    measures = pd.DataFrame(columns=["accounts", "revenue"])
    rows = result.assignments
    if isinstance(rows, pd.DataFrame) and "block_id" in rows:
        inside = rows.dropna(subset=["block_id"])
        groups = inside.groupby(inside["block_id"].astype(object), observed=True)
        measures = pd.DataFrame({"accounts": groups.size()})
        if "revenue" in inside:
            measures["revenue"] = groups["revenue"].sum()
    balance = result.plan.balance or "revenue"
    alignment = source_alignment(result.plan.territories)
    return AlignmentEditor(blocks, territories, colours, measures, balance=balance,
                           alignment=alignment)  # fmt: skip


class AccountPoints:
    """The accounts drawn on one map, shared by every layer of accounts on it.

    Attributes
    ----------
    rows : ndarray
        Positions, in ``result.accounts``, of the accounts drawn (located, sampled to the limit).
    located : int
        Accounts with a location (``len(rows) < located`` when sampled).
    frame : GeoDataFrame
        The drawn accounts, in EPSG:4326.
    territory : ndarray
        Their territory ids (None when unassigned).
    source : PointSource
        Their coordinates and tooltip texts, written into the page once.
    """

    def __init__(self, result: PlanResult, limit: int):
        if result.accounts is not None:
            accounts = result.accounts.to_geodataframe().to_crs(4326)
        else:
            accounts = gpd.GeoDataFrame({"account_id": []}, geometry=[], crs=4326)
        rows = np.flatnonzero(accounts.geometry.notna().to_numpy())
        self.located = len(rows)
        if len(rows) > limit:
            rows = rows[np.linspace(0, len(rows) - 1, limit).astype(int)]
        self.rows = rows
        self.frame = frame = accounts.iloc[rows]
        ids = frame["account_id"]
        if len(frame):
            assign = result.assignments.set_index("account_id")
            self.territory = assign.loc[ids, "territory_id"].to_numpy(dtype=object)
        else:
            self.territory = np.array([], dtype=object)
        fields = {"Account": ids.astype(str).to_numpy()}
        if "name" in frame.columns:
            fields["Name"] = frame["name"].astype(str).to_numpy()
        postal = postal_texts(frame, result)
        if postal is not None:
            fields["Postal code"] = postal
        unassigned = pd.isna(self.territory)
        fields["Territory"] = np.where(unassigned, "(unassigned)", self.territory.astype(str))
        if "revenue" in frame.columns:
            money = Money(result, result.kpis["territory_id"])
            revenue = money.values(
                "revenue", self.territory, [cell("revenue", v) for v in frame["revenue"]]
            )
            fields[money.caption("revenue", "Revenue")] = revenue
        self.source = PointSource(frame.geometry.y.to_numpy(), frame.geometry.x.to_numpy(), fields)

    @property
    def sampled(self) -> bool:
        return len(self.rows) < self.located

    @property
    def notes(self) -> list[str]:
        """Legend lines about what is drawn (the sampling, if any)."""
        if not self.sampled:
            return []
        return [
            f"Sample: {len(self.rows):,} of {self.located:,} located accounts drawn, evenly "
            "spaced; counts are of the sample"
        ]

    @property
    def radius(self) -> float:
        """Dot radius in CSS pixels: smaller as the accounts get more."""
        n = len(self.rows)
        return 2.5 if n <= 10_000 else 2.0 if n <= 50_000 else 1.5


def account_points(result: PlanResult, fmap: folium.Map, limit: int = 250_000) -> AccountPoints:
    """The accounts drawn on ``fmap`` (made on the first call, the same object afterwards).

    Layers of accounts (the accounts layer, segment layers of plugins) take their coordinates
    from ``account_points(result, fmap).source``, so the page holds them once.
    """
    points = getattr(fmap, "_territory_accounts", None)
    if points is None:
        points = AccountPoints(result, limit)
        fmap._territory_accounts = points
    return points


def _accounts_layer(points: AccountPoints) -> PointsLayer:
    """Accounts on a canvas: orange when assigned, grey when not; tooltip with the details."""
    shown = f"{len(points.rows):,}"
    if points.sampled:
        shown += f" of {points.located:,}"
    return PointsLayer(
        f"Accounts ({shown})",
        points.source,
        pd.isna(points.territory).astype(np.uint8),
        ["#e6550d", "#888888"],
        radius=points.radius,
        legend="Accounts",
        legend_labels=["assigned", "unassigned"],
        notes=points.notes,
    )


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
