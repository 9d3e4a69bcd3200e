"""The "Reference" overlay: country and US state lines and major cities, from package data.

Everything is embedded (``territory/data/reference_lines.parquet``, ``world_cities.parquet``,
``us_states.parquet``; see ``territory/data/README.md`` for sources and licences), so the map
needs no tile server. Only what lies near the map's view goes into the page: the shapes are
clipped to the view box grown by :data:`MARGIN` of its size on each side, and the cities are
those inside that box (the :data:`MAX_CITIES` most populous). The borders between US states
are added when the view box overlaps a US state.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.map import Layer
from jinja2 import Template

from territory.maps.elements import static_asset
from territory.maps.safe import Raw, SafeMacroElement, script_json

MARGIN = 0.25  # of the view's width / height, on each side
MAX_CITIES = 300
ATTRIBUTION = (
    "Reference lines: Natural Earth via spData (CC0), US Census · Cities: GeoNames (CC BY 4.0)"
)


@cache
def _data(name: str):
    path = resources.files("territory.data") / name
    with resources.as_file(path) as p:
        return gpd.read_parquet(p) if name != "world_cities.parquet" else pd.read_parquet(p)


def reference_box(bounds) -> tuple[float, float, float, float]:
    """The view box ``(west, south, east, north)`` grown by :data:`MARGIN` (lon/lat)."""
    x0, y0, x1, y1 = (float(v) for v in bounds)
    dx, dy = max(x1 - x0, 0.5) * MARGIN, max(y1 - y0, 0.5) * MARGIN
    return (max(x0 - dx, -180.0), max(y0 - dy, -85.0), min(x1 + dx, 180.0), min(y1 + dy, 85.0))


def reference_cities(bounds) -> pd.DataFrame:
    """Cities of the reference layer for a view: those in :func:`reference_box`, largest first."""
    w, s, e, n = reference_box(bounds)
    cities = _data("world_cities.parquet")
    inside = cities["lon"].between(w, e) & cities["lat"].between(s, n)
    return cities[inside].nlargest(MAX_CITIES, "population", keep="first")


def _lines(kind: str, box) -> list:
    """Reference lines of ``kind`` clipped to ``box``, as GeoJSON geometries."""
    lines = _data("reference_lines.parquet")
    geoms = lines.geometry.to_numpy()[(lines["kind"] == kind).to_numpy()]
    geoms = geoms[shapely.intersects(geoms, shapely.box(*box))]
    geoms = shapely.set_precision(shapely.clip_by_rect(geoms, *box), 1e-3)
    return [shapely.geometry.mapping(g) for g in geoms if not g.is_empty]


def in_us(bounds) -> bool:
    """Whether the view box overlaps a US state (then state lines are drawn)."""
    view = shapely.box(*(float(v) for v in bounds))
    return bool(np.any(_data("us_states.parquet").intersects(view)))


def reference_data(bounds) -> dict:
    """What the page gets: country lines, US state borders (if in view) and cities."""
    box = reference_box(bounds)
    cities = reference_cities(bounds)
    return {
        "countries": _lines("country", box),
        "states": _lines("state", box) if in_us(bounds) else [],
        "cities": [
            [str(r.name), str(r.country), int(r.population), float(r.lon), float(r.lat)]
            for r in cities.itertuples(index=False)
        ],
        "attribution": ATTRIBUTION,
    }


class ReferenceLayer(Layer, SafeMacroElement):
    """Thin grey country / state lines and city dots (labels by zoom) over the territories.

    Drawn in a pane above the territory fills and below the territory labels, never
    interactive, so it hides no colour and catches no hover.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = new L.TerritoryReference({{ this.data }});
{% endmacro %}"""
    )

    def __init__(self, bounds, *, name: str = "Reference", show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TerritoryReference"
        self.bounds = tuple(float(v) for v in bounds)  # lon/lat box the lines were chosen for
        self.data = script_json(reference_data(bounds))

    def render(self, **kwargs):
        header = self.get_root().header
        if "territory_reference_js" not in header._children:
            js = static_asset("reference.js").replace("</script", "<\\/script")
            header.add_child(Raw(f"<script>{js}</script>"), name="territory_reference_js")
        super().render(**kwargs)
