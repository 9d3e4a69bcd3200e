"""Accounts drawn on one canvas: 100,000 points stay smooth where one SVG circle each would not.

The points travel as compact binary arrays rather than one GeoJSON feature each. A
:class:`PointSource` holds what every layer of the same points shares, once per page: float32
coordinates (base64) and the tooltip texts as one JSON string that is parsed on the first
hover. Each :class:`PointsLayer` on that source adds only a small code per point (uint8, or
wider for many labels, base64), the colour of each code and, optionally, a label table shown in
the tooltip. A small Leaflet layer (``static/points.js``) projects the points once per source,
stamps them into the canvas pixels on every move or zoom (one animation frame per burst of
events), and finds the point under the mouse through a grid of screen cells. All text is set
with ``textContent``: names never become markup.
"""

from __future__ import annotations

import base64
import json

import numpy as np
from branca.element import Element
from folium.map import Layer
from jinja2 import Template

from territory.maps.elements import static_asset
from territory.maps.safe import Raw, SafeMacroElement, script_json

# Density rendering: used when the points in view are more than one per SPACING x SPACING CSS
# pixels on average; then counted in CELL x CELL squares. CELL is also the screen grid in which
# a dot under the mouse is looked up (options.cell in static/points.js).
SPACING = 12
CELL = 8


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


class PointSource(Element):
    """Coordinates and tooltip texts of points, put into the page once for every layer of them.

    ``text`` maps a field caption to one string per point (shown in the tooltip of every layer
    on this source). Not added to the map itself: the first :class:`PointsLayer` on it that
    renders writes it into the page's script.
    """

    def __init__(self, lat, lon, text: dict):
        super().__init__()
        self._name = "TerritoryPointSource"
        lat = np.asarray(lat, dtype="<f4")
        lon = np.asarray(lon, dtype="<f4")
        if lat.shape != lon.shape:
            raise ValueError("a point source takes as many longitudes as latitudes")
        self.count = len(lat)
        self.fields = [str(f) for f in text]
        texts = [[str(v) for v in values] for values in text.values()]
        if any(len(t) != self.count for t in texts):
            raise ValueError("a point source takes one text per point in each field")
        self.data = script_json(
            {
                "lat": _b64(lat),
                "lon": _b64(lon),
                "fields": [str(f) for f in text],
                # parsed on the first hover: a JSON string loads far faster than a JS literal
                "text": json.dumps(texts, separators=(",", ":"), ensure_ascii=False),
            }
        )

    def script(self) -> str:
        return f"var {self.get_name()} = L.TerritoryPoints.source({self.data});\n"


class PointsLayer(Layer, SafeMacroElement):
    """Points of a :class:`PointSource` on a canvas, one colour per code.

    ``code`` gives each point an integer code; code ``k`` is drawn in ``palette[tone[k]]``
    (``tone`` defaults to ``range(len(palette))``). With ``field`` and ``labels``, the tooltip
    also shows ``field: labels[code]``. Add it to a map like any folium layer (it appears in
    the layer control).

    Dots are small and semi-transparent. Zoomed out, with ``density`` and more than one point
    in view per ``SPACING`` x ``SPACING`` pixels, the layer draws a density grid instead: one
    disc per square of ``CELL`` pixels, its area growing with the log of the points in the
    square, in their most common colour; hovering a square lists its counts.

    ``legend`` (a title), with one of ``legend_labels`` per palette colour and ``notes`` (lines
    of text), adds a legend shown while the layer is on.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = new L.TerritoryPoints(
  {{ this.source.get_name() }}, {{ this.data }}, {{ this.options_json }});
{% endmacro %}"""
    )

    def __init__(
        self,
        name,
        source: PointSource,
        code,
        palette,
        tone=None,
        *,
        field: str | None = None,
        labels=None,
        radius: float = 3.0,
        show: bool = True,
        density: bool = True,
        legend: str | None = None,
        legend_labels=None,
        notes=(),
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TerritoryPoints"
        self.source = source
        palette = [str(c) for c in palette]
        tone = list(range(len(palette))) if tone is None else [int(t) for t in tone]
        code = np.asarray(code)
        if len(code) != source.count:
            raise ValueError(f"a points layer takes one code per point ({source.count})")
        n_codes = max(len(tone), len(labels) if labels is not None else 0)
        if len(code) and (code.min() < 0 or code.max() >= len(tone)):
            raise ValueError("every code of a points layer needs a tone")
        if any(t < 0 or t >= len(palette) for t in tone):
            raise ValueError("every tone of a points layer is an index into its palette")
        width = 1 if n_codes <= 256 else 2 if n_codes <= 65536 else 4
        data = {
            "code": _b64(code.astype(f"<u{width}")),
            "width": width,
            "palette": palette,
            "tone": tone,
        }
        if field is not None:
            data["field"] = str(field)
            data["labels"] = [str(v) for v in labels]
        if legend is not None:
            names = palette if legend_labels is None else [str(v) for v in legend_labels]
            if len(names) != len(palette):
                raise ValueError("a points layer legend takes one label per palette colour")
            data["legend"] = {
                "title": str(legend),
                "items": [[c, v] for c, v in zip(palette, names, strict=True)],
                "notes": [str(n) for n in notes],
            }
        self.data = script_json(data)
        self.options_json = script_json(
            {"radius": float(radius), "density": bool(density), "spacing": SPACING, "cell": CELL}
        )

    def render(self, **kwargs):
        root = self.get_root()
        if "territory_points_js" not in root.header._children:
            js = static_asset("points.js").replace("</script", "<\\/script")
            root.header.add_child(Raw(f"\n<script>\n{js}</script>\n"), name="territory_points_js")
        if self.source.get_name() not in root.script._children:  # before the first layer on it
            root.script.add_child(Raw(self.source.script()), name=self.source.get_name())
        super().render(**kwargs)
