"""Accounts drawn on one canvas: 100,000 points stay smooth where one SVG circle each would not.

The points travel as compact arrays (rounded coordinates, a colour index, a label index and a
short text per point) rather than one GeoJSON feature each. A small Leaflet layer projects them
once, redraws the canvas on every move or zoom, and finds the point under the mouse through a
grid of screen cells for the tooltip. All text is set with ``textContent``: names never become
markup.
"""

from __future__ import annotations

import json

import numpy as np
from branca.element import Element
from folium.map import Layer
from jinja2 import Template

# Leaflet layer class, added to the page once (see PointsLayer.render).
SCRIPT = """
<script>
L.TerritoryPoints = L.Layer.extend({
  initialize: function (data, options) {
    this._data = data; L.setOptions(this, options);
    (window.territoryPoints = window.territoryPoints || []).push(this);
    var n = data.lat.length, crs = L.CRS.EPSG3857;
    this._px = new Float64Array(n); this._py = new Float64Array(n);
    for (var i = 0; i < n; i++) {
      var p = crs.project(L.latLng(data.lat[i], data.lon[i]));
      this._px[i] = p.x; this._py[i] = p.y;
    }
  },
  onAdd: function (map) {
    this._map = map;
    var c = this._canvas = L.DomUtil.create('canvas', 'territory-points leaflet-zoom-hide');
    c.style.pointerEvents = 'none';
    var pane = map.getPane('territoryPoints') || map.createPane('territoryPoints');
    pane.style.zIndex = 450; pane.style.pointerEvents = 'none';  // above shapes, below labels
    pane.appendChild(c);
    this._tip = L.tooltip({direction: 'top', offset: [0, -4]});
    map.on('moveend zoomend resize viewreset', this._redraw, this);
    map.on('mousemove', this._hover, this);
    this._redraw();
  },
  onRemove: function (map) {
    L.DomUtil.remove(this._canvas);
    map.off('moveend zoomend resize viewreset', this._redraw, this);
    map.off('mousemove', this._hover, this);
    map.closeTooltip(this._tip);
  },
  _redraw: function () {
    var map = this._map, size = map.getSize(), c = this._canvas, d = this._data;
    var topLeft = map.containerPointToLayerPoint([0, 0]);
    L.DomUtil.setPosition(c, topLeft);
    var ratio = window.devicePixelRatio || 1;
    c.width = size.x * ratio; c.height = size.y * ratio;
    c.style.width = size.x + 'px'; c.style.height = size.y + 'px';
    var ctx = c.getContext('2d'); ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    var scale = 256 * Math.pow(2, map.getZoom()) / (2 * Math.PI * 6378137);
    var origin = map.getPixelBounds().min, half = Math.PI * 6378137;
    var r = this.options.radius, cell = 8, grid = this._grid = {}, drawn = 0;
    ctx.lineWidth = 0.5; ctx.strokeStyle = '#222';
    for (var k = 0; k < d.colours.length; k++) {
      ctx.fillStyle = d.colours[k]; ctx.beginPath();
      for (var i = 0; i < this._px.length; i++) {
        if (d.colour[i] !== k) continue;
        var x = (this._px[i] + half) * scale - origin.x;
        var y = (half - this._py[i]) * scale - origin.y;
        if (x < -r || y < -r || x > size.x + r || y > size.y + r) continue;
        ctx.moveTo(x + r, y); ctx.arc(x, y, r, 0, 2 * Math.PI); drawn++;
        var key = ((x / cell) | 0) + ',' + ((y / cell) | 0);
        (grid[key] = grid[key] || []).push(i);
      }
      ctx.fill(); ctx.stroke();
    }
    c.setAttribute('data-drawn', String(drawn));  // points in view, for tests and debugging
  },
  _hover: function (e) {
    var p = e.containerPoint, cell = 8, best = -1, bestD = 36, d = this._data;
    var scale = 256 * Math.pow(2, this._map.getZoom()) / (2 * Math.PI * 6378137);
    var origin = this._map.getPixelBounds().min, half = Math.PI * 6378137;
    for (var gx = -1; gx <= 1; gx++) for (var gy = -1; gy <= 1; gy++) {
      var list = this._grid[(((p.x / cell) | 0) + gx) + ',' + (((p.y / cell) | 0) + gy)] || [];
      for (var j = 0; j < list.length; j++) {
        var i = list[j];
        var x = (this._px[i] + half) * scale - origin.x;
        var y = (half - this._py[i]) * scale - origin.y;
        var dd = (x - p.x) * (x - p.x) + (y - p.y) * (y - p.y);
        if (dd < bestD) { bestD = dd; best = i; }
      }
    }
    if (best < 0) { this._map.closeTooltip(this._tip); return; }
    var box = document.createElement('div');
    for (var f = 0; f < d.fields.length; f++) {
      var row = document.createElement('div'), b = document.createElement('b');
      b.textContent = d.fields[f] + ': ';
      row.appendChild(b);
      row.appendChild(document.createTextNode(d.text[f][best]));
      box.appendChild(row);
    }
    this._tip.setContent(box).setLatLng([d.lat[best], d.lon[best]]);
    this._map.openTooltip(this._tip);
  }
});
</script>
"""


def _json(value) -> str:
    """JSON safe inside a <script> element."""
    return (
        json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


class PointsLayer(Layer):
    """Points on a canvas, one colour per category, with a tooltip of ``fields``.

    ``text`` maps a field caption to one string per point; ``colour`` gives each point an index
    into ``colours``. Add it to a map like any folium layer (it appears in the layer control).
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = new L.TerritoryPoints({{ this.data }}, {radius: {{ this.radius }}});
{% endmacro %}"""
    )

    def __init__(self, name, lat, lon, colour, colours, text: dict, radius=3.0, show=True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TerritoryPoints"
        self.radius = float(radius)
        self.data = _json(
            {
                "lat": np.round(np.asarray(lat, float), 5).tolist(),
                "lon": np.round(np.asarray(lon, float), 5).tolist(),
                "colour": np.asarray(colour, int).tolist(),
                "colours": list(colours),
                "fields": list(text),
                "text": [list(map(str, v)) for v in text.values()],
            }
        )

    def render(self, **kwargs):
        root = self.get_root()
        if "territory_points_js" not in root.header._children:
            root.header.add_child(Element(SCRIPT), name="territory_points_js")
        super().render(**kwargs)
