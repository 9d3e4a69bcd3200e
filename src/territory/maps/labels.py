"""Territory name labels: one per territory, on its largest part in view, decluttered.

In the browser (``static/labels.js``) labels are placed largest territory first after each
zoom or pan; a label that would overlap one already placed is hidden until zooming in makes
room, so a continent of small territories stays readable.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jinja2 import Template

from territory.maps.elements import static_asset
from territory.maps.safe import Raw, SafeMacroElement, text

#: the label's look (the mouse goes through it to the territory and its tooltip);
#: ``territory-label-crowded`` hides a label that has no room
LABEL_CSS = (
    ".territory-label{font:600 11px system-ui,sans-serif;color:#111;"
    "text-shadow:0 0 3px #fff,0 0 3px #fff;white-space:nowrap;width:max-content;"
    "transform:translate(-50%,-50%);pointer-events:none}"
    ".territory-label-crowded{display:none}"
)


def _label_part(geom, view: shapely.Polygon):
    """The largest part of ``geom`` that lies in view (else the largest part)."""
    parts = shapely.get_parts(geom)
    visible = parts[shapely.intersects(parts, view)]
    pool = visible if len(visible) else parts
    return pool[np.argmax(shapely.area(pool))]


def labels_layer(table: gpd.GeoDataFrame, people: pd.DataFrame, bounds) -> folium.FeatureGroup:
    """The territory names, each on the largest part of its territory in view; larger parts
    win where labels would overlap (``data-rank`` 0 is the largest)."""
    group = folium.FeatureGroup(name="Territory labels")
    view = shapely.box(*bounds)
    parts = np.array([_label_part(g, view) for g in table.geometry.to_numpy()], dtype=object)
    points = shapely.point_on_surface(parts)
    # rank by area as drawn (Web Mercator stretches the north, as the screen does)
    drawn = shapely.area(gpd.GeoSeries(parts, crs=table.crs).to_crs(3857).to_numpy())
    ranks = np.empty(len(parts), dtype=np.int64)
    ranks[np.argsort(-drawn, kind="stable")] = np.arange(len(parts))
    for name, pt, rank in zip(people["name"], points, ranks, strict=True):
        folium.Marker(
            [pt.y, pt.x],
            icon=folium.DivIcon(
                html=f'<div class="territory-label" data-rank="{int(rank)}">{text(name)}</div>',
                icon_size=(0, 0),
            ),
        ).add_to(group)
    LabelPlacement(group).add_to(group)
    return group


class LabelPlacement(SafeMacroElement):
    """Hides labels that would overlap a larger territory's label (see the module docstring)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
L.territoryLabels({{ this.map_name }}, {{ this._parent.get_name() }});
{% endmacro %}"""
    )

    def __init__(self, group: folium.FeatureGroup):
        super().__init__()
        self._name = "TerritoryLabels"
        self.group = group

    def render(self, **kwargs):
        root = self.get_root()
        if "territory_labels" not in root.header._children:
            js = static_asset("labels.js").replace("</script", "<\\/script")
            root.header.add_child(Raw(f"<style>{LABEL_CSS}</style>"), name="territory_labels_css")
            root.header.add_child(Raw(f"<script>{js}</script>"), name="territory_labels")
        # the map's JavaScript variable name, made by folium (not user text)
        self.map_name = self.group._parent.get_name()
        super().render(**kwargs)
