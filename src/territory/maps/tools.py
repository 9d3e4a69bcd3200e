"""The tools a planner expects on a territory map: search, filters and region outlines.

* A search box (top left, under the zoom buttons): type-ahead over territory ids and names,
  reps, regions, account ids and names and account postal codes. Choosing a result zooms to it
  and outlines it (a territory) or rings it (accounts); Enter picks the first match, Esc clears.
* Filters: the entries of the territory legend are buttons (show only the territories of the
  chosen steps or categories, the others dimmed), a rep filter (when territories have reps),
  and the segment legends of the account layers hide or show one label each (see
  :mod:`territory.maps.points`). "Show all" resets every filter.
* A "Regions" overlay when territories have a parent: the territories dissolved by it, drawn as
  thick outlines with the region's name, on by default.

The search index reuses the account texts of the page's :class:`~territory.maps.points.
PointSource` (ids, names, postal codes): no second copy of 100,000 accounts. All user text
reaches the page as :func:`~territory.maps.safe.script_json` and is set with ``textContent``.
"""

from __future__ import annotations

import base64

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jinja2 import Template

from territory.geometry import dissolve
from territory.maps.elements import static_asset
from territory.maps.geojson import feature_collection
from territory.maps.safe import Raw, SafeMacroElement, script_json, text

HIERARCHY = {"parent": "Region", "rep": "Rep"}


def territory_people(table: pd.DataFrame, name: str = "name") -> pd.DataFrame:
    """``territory_id``, ``name``, ``parent`` (region) and ``rep`` of each territory of
    ``table`` (its columns ``name``, ``parent`` and ``rep`` or ``owner``, ``rep_name`` ...),
    None where blank; a territory without a name is named by its id."""
    out = pd.DataFrame({"territory_id": table["territory_id"].to_numpy()})
    for c, column in (("name", name), ("parent", "parent"), ("rep", _rep_column(table))):
        col = table[column] if column in table.columns else pd.Series(None, index=table.index)
        col = col.astype(object)
        out[c] = col.where(col.notna() & col.astype(str).str.strip().ne(""), None).to_numpy()
    out["name"] = np.where(pd.isna(out["name"]), out["territory_id"].astype(str), out["name"])
    return out


def _rep_column(table: pd.DataFrame) -> str:
    """The rep column: ``rep``, else a usual spelling of it (``owner``, ``Rep Name`` ...)."""
    from territory.columns import REP, normalise

    by_name = {normalise(c): c for c in table.columns if isinstance(c, str)}
    return next((by_name[normalise(r)] for r in REP if normalise(r) in by_name), "rep")


def postal_column(frame: pd.DataFrame, preferred: str | None = None) -> str | None:
    """The postal-code column of an accounts frame: ``preferred`` (up to case and spacing) or
    the first conventional one (``postal_code``, ``zip`` ...); None without one."""
    from territory.columns import POSTAL, normalise

    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    by_norm = {normalise(c): c for c in frame.columns if c != geometry}
    wanted = [preferred or "", *POSTAL]
    return next((by_norm[normalise(w)] for w in wanted if w and normalise(w) in by_norm), None)


def postal_texts(frame: pd.DataFrame) -> np.ndarray | None:
    """The postal code of each account as text ("" where blank), from :func:`postal_column`;
    None without one."""
    column = postal_column(frame)
    if column is None:
        return None
    values = frame[column].astype(object)
    return np.where(values.isna(), "", values.astype(str)).astype(object)


def with_hierarchy(table: pd.DataFrame, labels: dict) -> dict:
    """The tooltip labels with the region and rep when the territories have them (added after
    the territory's name and id, unless the labels already name them)."""
    people = territory_people(table)
    labels = dict(labels)
    for column, caption in HIERARCHY.items():
        if people[column].isna().all() or column in labels:
            continue
        keys = list(labels)
        at = max([keys.index(k) + 1 for k in ("name", "territory_id", "parent") if k in keys],
                 default=0)  # fmt: skip
        labels = dict([*list(labels.items())[:at], (column, caption),
                       *list(labels.items())[at:]])  # fmt: skip
    return labels


def add_map_tools(fmap, table, people, layer, steps, labels_layer, points) -> None:
    """Add the regions overlay (with a hierarchy), the search box and the filters to ``fmap``.

    ``table`` is the territories as drawn by ``layer`` (same order), ``people`` their names,
    regions and reps (:func:`territory_people`), ``steps`` the legend entries of the territory
    colours, ``labels_layer`` the territory names and ``points`` the map's
    :class:`~territory.maps.accounts.AccountPoints`.
    """
    if people["parent"].notna().any():
        regions_layer(table, people).add_to(fmap)
    for key in [k for k, c in fmap._children.items() if isinstance(c, MapTools)]:
        del fmap._children[key]  # one search box per map: it searches the territories drawn last
    MapTools(table, people, layer, steps, labels_layer, points).add_to(fmap)


def regions_layer(table: gpd.GeoDataFrame, people: pd.DataFrame) -> folium.FeatureGroup:
    """The territories dissolved by region: one thick outline and one label per region."""
    has = people["parent"].notna().to_numpy()
    keys = people["parent"].to_numpy(dtype=object)[has].astype(str)
    names, shapes = dissolve(table.geometry.to_numpy()[has], keys)
    group = folium.FeatureGroup(name="Regions", show=True)
    frame = gpd.GeoDataFrame({"region": [text(n) for n in names]}, geometry=shapes, crs=4326)
    folium.GeoJson(
        feature_collection(frame),
        style_function=lambda f: {"color": "#1d2b53", "weight": 4, "fill": False},
        interactive=False,  # hovering reaches the territories under the outlines
        smooth_factor=0.5,
    ).add_to(group)
    for name, shape in zip(names, shapes, strict=True):
        parts = shapely.get_parts(shape)
        pt = shapely.point_on_surface(parts[np.argmax(shapely.area(parts))])
        label = f'<div class="territory-region-label">{text(name)}</div>'
        folium.Marker(
            [pt.y, pt.x],
            icon=folium.DivIcon(html=label, icon_size=(0, 0)),
            interactive=False,
        ).add_to(group)
    return group


def _legend_steps(table, layer, steps) -> list[int] | None:
    """The legend entry of each territory: its category, or the step whose colour is nearest
    to the territory's (sequential scales); None when the legend has no entries."""
    if not steps:
        return None
    fills = [f["properties"].get("_fill", "") for f in layer.data["features"]]
    colours = [c for c, _ in steps]
    rgb = np.array([_rgb(c) for c in colours], dtype=float)
    out = []
    for fill in fills:
        if fill in colours:
            out.append(colours.index(fill))
        else:
            out.append(int(np.argmin(((rgb - _rgb(fill)) ** 2).sum(axis=1))))
    return out


def _rgb(colour: str) -> tuple[int, int, int]:
    value = str(colour).lstrip("#")[:6].ljust(6, "0")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _texts(values: pd.Series) -> list | None:
    """Each value as text (None where blank); None when all are blank."""
    if values.isna().all():
        return None
    return [None if pd.isna(v) else str(v) for v in values]


def _point_territories(points, people: pd.DataFrame) -> dict | None:
    """The territory of each drawn account as base64 codes: position in ``people`` + 1, 0 when
    unassigned (the filters hide the accounts of the territories they hide)."""
    if not len(points.rows) or points.territory is None:
        return None
    where = pd.Index(people["territory_id"].astype(str))
    found = where.get_indexer([None if pd.isna(v) else str(v) for v in points.territory])
    width = 2 if len(people) < 65_535 else 4
    codes = (found + 1).astype(f"<u{width}")  # -1 (unassigned, or no shape drawn) -> 0
    return {"code": base64.b64encode(codes.tobytes()).decode("ascii"), "width": width}


def _bounds(table: gpd.GeoDataFrame) -> list[list[float]]:
    """``[south, west, north, east]`` of each territory, rounded to ~1 m."""
    b = shapely.bounds(table.geometry.to_numpy())
    return np.round(b[:, [1, 0, 3, 2]], 5).tolist()


class MapTools(SafeMacroElement):
    """The search box and the filters (see the module docstring)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.territoryTools({{ this._parent.get_name() }}, {
  territories: {{ this.layer_name }}, labels: {{ this.labels_name }},
  source: {{ this.source_name }}}, {{ this.data }});
{% endmacro %}"""
    )

    def __init__(self, table, people, layer, steps, labels_layer, points):
        super().__init__()
        self._name = "TerritoryTools"
        self.layer, self.labels_layer, self.points = layer, labels_layer, points
        fields = list(points.source.fields) if len(points.rows) else []
        data = {
            "ids": [str(v) for v in people["territory_id"]],
            "names": [str(v) for v in people["name"]],
            "reps": _texts(people["rep"]),
            "regions": _texts(people["parent"]),
            "bounds": _bounds(table),
            "steps": _legend_steps(table, layer, steps),
            "accountFields": {
                "id": fields.index("Account") if "Account" in fields else -1,
                "name": fields.index("Name") if "Name" in fields else -1,
                "postal": fields.index("Postal code") if "Postal code" in fields else -1,
            },
            "sampled": bool(len(points.rows) and points.sampled),
            "pointTerritory": _point_territories(points, people),
        }
        self.data = script_json(data)

    def render(self, **kwargs):
        root = self.get_root()
        if "territory_tools" not in root.header._children:
            css = static_asset("tools.css").replace("</style", "<\\/style")
            js = static_asset("tools.js").replace("</script", "<\\/script")
            root.header.add_child(Raw(f"<style>{css}</style>"), name="territory_tools_css")
            root.header.add_child(Raw(f"<script>{js}</script>"), name="territory_tools")
        # element variable names: JavaScript identifiers made by folium, not user text
        self.layer_name = self.layer.get_name()
        self.labels_name = self.labels_layer.get_name()
        self.source_name = self.points.source.get_name() if len(self.points.rows) else "null"
        super().render(**kwargs)
