"""Territory maps from GeoDataFrames: :func:`explore`, like ``GeoDataFrame.explore``.

:func:`explore` draws the territories a caller has (any id column, any KPI column to colour
by), optionally their accounts and building blocks, onto a new self-contained offline map or
onto an existing folium map. :func:`territory.maps.build_map` (``PlanResult.to_map()``, the
CLI) is a thin wrapper that hands it a plan result's territories, KPIs, accounts and blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from territory.errors import ValidationError
from territory.formatting import cell, heading
from territory.maps.accounts import AccountPoints, account_frame, accounts_layer
from territory.maps.colours import IDENTITY, categorical, neighbour_colours, sequential
from territory.maps.editor import AlignmentEditor
from territory.maps.elements import LayerControl, Legend, OfflineMap, TitleBox, legend_css
from territory.maps.export import ExportControl
from territory.maps.geojson import feature_collection
from territory.maps.labels import labels_layer
from territory.maps.reference import ReferenceLayer
from territory.maps.safe import Raw, text
from territory.maps.tools import add_map_tools, territory_people, with_hierarchy
from territory.maps.units import Money

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


def explore(
    territories: gpd.GeoDataFrame,
    column: str | None = None,
    *,
    accounts: pd.DataFrame | None = None,
    blocks: gpd.GeoDataFrame | None = None,
    m: folium.Map | None = None,
    id: str = "territory_id",
    name: str = "name",
    tooltip: dict[str, str] | None = None,
    caption: str | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    source: str | None = None,
    currency: str | Mapping | pd.Series | None = None,
    tiles: str | None = None,
    simplify_m: float = 500.0,
    max_accounts: int = 250_000,
    balance: str = "revenue",
    alignment: pd.DataFrame | tuple | None = None,
    reference: bool = True,
    layers: Callable[[folium.Map], None] | None = None,
) -> folium.Map:
    """Draw territories coloured by a column on an offline map, like ``GeoDataFrame.explore``.

    Parameters
    ----------
    territories : GeoDataFrame
        One (multi)polygon per territory with a CRS (rows without a shape are not drawn), the
        id column ``id`` and a name column ``name`` (labels, search; else the id is shown).
    column : str, optional
        Numbers on a sequential scale (diverging around 1 for attainment), text as categories,
        ``"territory"``: neighbours differ. Default ``revenue``, else ``accounts``, else that.
    accounts : GeoDataFrame or DataFrame, optional
        Points with a CRS, or ``lat``/``lon`` in degrees; tooltip: ``account_id`` (else the
        index), ``name``, postal code, territory (column ``id``; unassigned grey), ``revenue``.
    blocks : GeoDataFrame, optional
        Building blocks (``block_id``, column ``id``, optional ``accounts`` and ``revenue``) as
        a layer with the in-page alignment editor: ``balance`` is ``revenue`` or ``accounts``;
        its CSV keeps the rows and columns of ``alignment`` (a table, or ``(table, roles)``).
    m : folium.Map, optional
        Add to this map, keeping its view (an earlier ``explore`` may have drawn on it).
    tooltip : dict, optional
        Column -> label of the territory tooltip (default :data:`TOOLTIP_FIELDS` and
        ``column``); ``parent`` (region) and ``rep`` are added when present.
    caption, title, subtitle, source : str, optional
        Legend title (default: the column's label); title box lines (none unless one is given).
    currency : str or mapping, optional
        ISO 4217 code of the money figures, or territory id -> code: in captions
        (``Revenue (EUR)``) or, when codes differ, beside each figure.
    tiles, simplify_m, max_accounts, reference
        Tile URL for online use (default none: offline); shape simplification in metres;
        accounts drawn at most (an even sample beyond, stated); the Reference overlay.
    layers : callable, optional
        ``layers(map)`` adds more layers before the legend and tools (``build_map``: plugins').

    Returns
    -------
    folium.Map
        ``m`` or the new map; ``map.get_root().render()`` is the HTML page.
    """
    table = _web_shapes(territory_table(territories, id, name), simplify_m)
    column = colour_column(table, column)
    codes = _currencies(currency, table["territory_id"])
    points = AccountPoints(account_frame(accounts, id), max_accounts, Money(codes))
    bounds = _view_bounds(points.frame) if len(points.rows) else _shape_bounds(table)
    fmap, before = _base_map(m, tiles, bounds, points)
    layer, steps, people, money = _territories(fmap, table, column, tooltip, codes)
    if blocks is not None:
        blocks_layer(blocks, id, simplify_m, table, people, balance, alignment).add_to(fmap)
    names = labels_layer(table, people, bounds).add_to(fmap)
    if len(points.rows):
        accounts_layer(points).add_to(fmap)
    if layers is not None:
        layers(fmap)
    texts, counts = (caption, title, subtitle, source), (len(table), len(points.rows))
    legend_and_title(fmap, column, steps, money, texts, counts)
    add_map_tools(fmap, table, people, layer, steps, names, points)  # search, filters, regions
    _controls(fmap, bounds, reference, before)
    return fmap


def _unique_layer_names(fmap: folium.Map, before: set) -> None:
    """Layers just added whose name a layer of the map already has get a number (``Territories
    #2``): the layer control lists layers by name, so a second ``explore`` onto the same map
    would otherwise hide the first one's layers from it."""
    layers = [(k, c) for k, c in fmap._children.items() if isinstance(c, folium.map.Layer)]
    taken = {c.layer_name for k, c in layers if k in before}
    for key, layer in layers:
        if key in before:
            continue
        name, n = layer.layer_name, 2
        while name in taken:  # "#2", since names may end in a count: "Accounts (2)"
            name, n = f"{layer.layer_name} #{n}", n + 1
        layer.layer_name = name
        taken.add(name)


def _territories(fmap, table, column, tooltip, codes) -> tuple:
    """Add the territory layer; ``(layer, legend steps, people, money)``."""
    labels = _tooltip(table, column) if tooltip is None else tooltip
    labels, people = with_hierarchy(table, labels), territory_people(table, "_name")
    money = Money(codes.reindex(pd.Index(table["territory_id"], dtype=object)))
    layer, steps = territory_layer(table, column, labels, money)
    layer.add_to(fmap)
    return layer, steps, people, money


def _controls(fmap, bounds, reference: bool, before: set) -> None:
    """The Reference overlay, the print/PNG control and the layer control, once per map.

    On a map that has them (a user's, or one an earlier ``explore`` drew on) the Reference
    overlay is drawn again over both views, and the layer control is moved last: its script
    names every layer of the map, so it must run after the layers just added are made.
    """
    _unique_layer_names(fmap, before)
    children = fmap._children
    if reference:
        earlier = [k for k, c in children.items() if isinstance(c, ReferenceLayer)]
        for key in earlier:
            old = children.pop(key).bounds
            bounds = (min(bounds[0], old[0]), min(bounds[1], old[1]),
                      max(bounds[2], old[2]), max(bounds[3], old[3]))  # fmt: skip
        ReferenceLayer(bounds).add_to(fmap)
    exports = [k for k, c in children.items() if isinstance(c, ExportControl)]
    if not exports:
        ExportControl().add_to(fmap)
    controls = [k for k, c in children.items() if isinstance(c, folium.LayerControl)]
    for key in exports + controls:  # under the search box, as on a map drawn once
        children.move_to_end(key)
    if not controls:
        LayerControl(collapsed=False, collapse_below=(1400, 860)).add_to(fmap)


def territory_table(frame, id: str, name: str) -> gpd.GeoDataFrame:
    """The territories to draw: checked, ids in ``territory_id`` (text ids kept as given),
    display names in ``_name``, rows without a shape left out."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ValidationError(
            f"territories must be a GeoDataFrame of polygons, not {type(frame).__name__}; "
            "read a file with geopandas.read_file(...) first."
        )
    if frame.crs is None:
        raise ValidationError(
            "The territories have no CRS: set one with territories.set_crs(...) (EPSG:4326 for "
            "longitude/latitude)."
        )
    if id not in frame.columns:
        raise ValidationError(
            f"The territories have no id column '{id}'. Columns: "
            f"{', '.join(map(str, frame.columns))}. Pass the id column as id=..."
        )
    ids = frame[id]
    repeated = ids[ids.duplicated(keep=False) | ids.isna()]
    if len(repeated):
        first = repeated.iloc[0]
        problem = "blank" if pd.isna(first) else f"'{first}' on more than one row"
        raise ValidationError(
            f"Territory id column '{id}' is {problem} (rows "
            f"{', '.join(map(repr, repeated.index[:5]))}): each territory needs its own id. "
            "Dissolve the rows first (territories.dissolve(by=...)) or fill in the ids."
        )
    if name not in frame.columns and name != "name":
        raise ValidationError(
            f"The territories have no name column '{name}'. Columns: "
            f"{', '.join(map(str, frame.columns))}. Pass the name column as name=... (or leave "
            "it out: territories are then labelled by id)."
        )
    out = frame.copy()
    if id != "territory_id":
        out = out.drop(columns="territory_id", errors="ignore").rename(columns={id: "territory_id"})
    if name != "_name":
        out["_name"] = out[name] if name in out.columns else None
    if name not in ("name", "_name") and name in out.columns and "name" not in out.columns:
        out["name"] = out[name]
    geoms = out.geometry.to_numpy()
    keep = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    return out[keep]


def colour_column(table: pd.DataFrame, column: str | None) -> str:
    """The column to colour by: ``column`` checked against the table, default revenue, else
    accounts, else ``"territory"`` (identity colours)."""
    if column is None:
        found = [c for c in ("revenue", "accounts") if c in table.columns]
        return found[0] if found else "territory"
    if column not in table.columns and column != "territory":
        shown = [str(c) for c in table.columns if c not in (table.geometry.name, "_name")]
        raise ValidationError(
            f"Cannot colour the map by '{column}': the territories have no such column. "
            f"Columns: {', '.join(shown)} (or 'territory' for identity colours)."
        )
    return column


def label(column: str) -> str:
    """Caption of a column: known KPIs by name, snake_case spelled out, others as written."""
    return TOOLTIP_FIELDS.get(column) or heading(column, capital=True)


def _tooltip(table: pd.DataFrame, column: str) -> dict[str, str]:
    """Default tooltip: :data:`TOOLTIP_FIELDS`, and the colour column when it is not one."""
    labels = dict(TOOLTIP_FIELDS)
    if column in table.columns and column not in labels:
        labels[column] = label(column)
    return labels


def _currencies(currency, ids: pd.Series) -> pd.Series:
    """territory id -> currency code (or None), from one code or a mapping."""
    from territory.currency import currency_code

    index = pd.Index(ids, dtype=object)
    if currency is None or isinstance(currency, str):
        return pd.Series(currency_code(currency, "explore(currency=...)"), index=index,
                         dtype=object)  # fmt: skip
    codes = pd.Series(currency, dtype=object)
    return codes.where(codes.notna(), None)


def _base_map(m, tiles, bounds, points: AccountPoints) -> tuple[folium.Map, set]:
    """A new offline map fitted to ``bounds``, or ``m`` with the territory styles added, and
    the keys of what it held before; the map keeps ``points``, shared by every layer of
    accounts on it (see ``account_points``)."""
    before = set(m._children) if m is not None else set()
    if m is None:
        fmap = OfflineMap(location=None, tiles=None, control_scale=True)
    else:
        fmap = m
        header = fmap.get_root().header
        if "territory_legend_css" not in header._children:
            header.add_child(Raw(legend_css()), name="territory_legend_css")
    if tiles:
        folium.TileLayer(tiles, attr="tiles", name="Background").add_to(fmap)
    if m is None:
        fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    fmap._territory_accounts = points
    return fmap, before


def territory_layer(table: gpd.GeoDataFrame, kpi: str, labels: dict, money: Money) -> tuple:
    """``(layer, legend steps)``: the territories coloured by ``kpi``, tooltip ``labels``
    (money figures with their currency, see :class:`~territory.maps.units.Money`)."""
    if kpi == "territory":
        colours = [IDENTITY[c] for c in neighbour_colours(table.geometry.to_numpy())]
        steps = []
    elif pd.api.types.is_numeric_dtype(table[kpi].dtype):
        colours, steps = sequential(pd.to_numeric(table[kpi], errors="coerce"), kpi)
    else:
        colours, steps = categorical(table[kpi])
    props = display_properties(table, list(labels))
    for f in props.columns:
        props[f] = money.values(f, table["territory_id"], props[f], escape=text)
    labels = {f: money.caption(f, caption) for f, caption in labels.items()}
    props["_fill"] = colours
    shapes = gpd.GeoDataFrame(props, geometry=table.geometry.to_numpy(), crs=4326)
    fields = [f for f in labels if f in props.columns]
    aliases = [text(labels[f]) for f in fields]
    layer = folium.GeoJson(
        feature_collection(shapes),
        name="Territories" if kpi == "territory" else f"Territories by {label(kpi)}",
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


def legend_and_title(fmap, kpi, steps, money, texts, counts) -> None:
    """The legend of the territory colours (money with its currency) and, when a title,
    subtitle or source is given (``texts``: caption, title, subtitle, source), the title box
    (default subtitle: what is coloured, ``counts`` of territories and of accounts drawn)."""
    caption, title, subtitle, source = texts
    if kpi == "territory":
        note = "Colours only tell neighbours apart (neighbours differ); hover for the figures"
        Legend(caption or "Territories", [], note).add_to(fmap)
    else:
        Legend(caption or money.caption(kpi, label(kpi)), steps).add_to(fmap)
    if title is None and subtitle is None and source is None:
        return
    if subtitle is None:
        coloured = "Territories" if kpi == "territory" else f"{label(kpi)} by territory"
        subtitle = f"{coloured} · {counts[0]} territories"
        if counts[1]:
            subtitle += f" · {counts[1]:,} accounts drawn"
    TitleBox(title or "", subtitle, source or "").add_to(fmap)


def _view_bounds(points: gpd.GeoDataFrame) -> np.ndarray:
    """Where most accounts are: the 0.5-99.5 percentile box, so a few far-off accounts (remote
    islands, across the antimeridian) do not zoom the map out to the whole world."""
    x, y = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    q = (0.5, 99.5) if len(x) >= 200 else (0, 100)
    (x0, x1), (y0, y1) = np.percentile(x, q), np.percentile(y, q)
    return np.array([x0, y0, x1, y1])


def _shape_bounds(table: gpd.GeoDataFrame) -> np.ndarray:
    """Where most of the territories' area is (a map without accounts): the box of their
    largest parts that hold 99% of the area, so small far-off islands (the Aleutians across
    the antimeridian) do not zoom the map out to the whole world."""
    geoms = table.geometry.to_numpy()
    parts = shapely.get_parts(geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))])
    if not len(parts):
        return table.total_bounds
    area = shapely.area(parts)  # degrees² rank the parts well enough for this
    order = np.argsort(-area, kind="stable")
    share = np.cumsum(area[order]) / max(area.sum(), 1e-300)
    kept = order[: int(np.searchsorted(share, 0.99)) + 1]
    box = shapely.bounds(parts[kept])
    return np.array([box[:, 0].min(), box[:, 1].min(), box[:, 2].max(), box[:, 3].max()])


def _web_shapes(frame: gpd.GeoDataFrame, simplify_m: float) -> gpd.GeoDataFrame:
    """Shapes in EPSG:4326, simplified without opening gaps or overlaps between neighbours."""
    from territory.maps import webcache

    k = webcache.key(frame.geometry.to_numpy(), frame.crs, simplify_m)
    out = frame.to_crs(4326)
    geoms = webcache.get(k)
    if geoms is None:  # not simplified recently (nor stored in the result folder read)
        geoms = out.geometry.to_numpy()
        if simplify_m > 0:
            tol = simplify_m / 111_000.0
            if shapely.coverage_is_valid(geoms):
                geoms = shapely.coverage_simplify(geoms, tol)
            else:
                geoms = shapely.simplify(geoms, tol, preserve_topology=True)
        geoms = shapely.set_precision(geoms, 1e-5, mode="pointwise")
        webcache.remember(k, geoms)
    return out.set_geometry(geoms)


def display_properties(table: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
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


def _blocks(blocks, id: str, simplify_m: float) -> gpd.GeoDataFrame:
    """The blocks to draw: ``block_id``, ``territory_id``, optional measures, web shapes."""
    if not isinstance(blocks, gpd.GeoDataFrame) or blocks.crs is None:
        raise ValidationError(
            "blocks must be a GeoDataFrame of polygons with a CRS (set one with "
            "blocks.set_crs(...))."
        )
    for column in ("block_id", id):
        if column not in blocks.columns:
            raise ValidationError(
                f"The blocks have no '{column}' column (block id, and the territory id of each "
                f"block). Columns: {', '.join(map(str, blocks.columns))}."
            )
    keep = ["block_id", id, *[c for c in ("accounts", "revenue") if c in blocks.columns]]
    frame = blocks[[*keep, blocks.geometry.name]].rename(columns={id: "territory_id"})
    return _web_shapes(frame, simplify_m)


def blocks_layer(blocks, id, simplify_m, table, people, balance, alignment) -> AlignmentEditor:
    """Building blocks, editable in the page (see :mod:`territory.maps.editor`)."""
    from territory.maps.editor import table_alignment

    blocks = _blocks(blocks, id, simplify_m)
    colours = [IDENTITY[c] for c in neighbour_colours(table.geometry.to_numpy())]
    territories = pd.DataFrame({"territory_id": table["territory_id"].to_numpy(),
                                "name": people["name"].to_numpy()})  # fmt: skip
    measures = [c for c in ("accounts", "revenue") if c in blocks.columns]
    sums = pd.DataFrame(blocks[measures].to_numpy(), columns=measures,
                        index=blocks["block_id"].astype(object))  # fmt: skip
    if isinstance(alignment, pd.DataFrame):
        alignment = table_alignment(alignment)
    return AlignmentEditor(blocks, territories, colours, sums, balance=balance,
                           alignment=alignment)  # fmt: skip
