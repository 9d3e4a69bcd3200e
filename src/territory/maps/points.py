"""Accounts drawn on one canvas: 100,000 points stay smooth where one SVG circle each would not.

The points travel as compact binary arrays (float32 coordinates and a uint8 colour index,
base64-encoded) plus the tooltip texts as one JSON string that is parsed on the first hover,
rather than one GeoJSON feature each. A small Leaflet layer projects the points once, stamps
them into the canvas pixels on every move or zoom (one animation frame per burst of events),
and finds the point under the mouse through a grid of screen cells. All text is set with
``textContent``: names never become markup.
"""

from __future__ import annotations

import base64
import json

import numpy as np
from folium.map import Layer
from jinja2 import Template

from territory.maps.safe import Raw, SafeMacroElement, script_json

# Leaflet layer class, added to the page once (see PointsLayer.render).
SCRIPT = """
<script>
L.TerritoryPoints = L.Layer.extend({
  initialize: function (data, options) {
    this._data = data; L.setOptions(this, options);
    (window.territoryPoints = window.territoryPoints || []).push(this);
    var bytes = function (s) {
      var raw = atob(s), out = new Uint8Array(raw.length);
      for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
      return out;
    };
    this.lat = new Float32Array(bytes(data.lat).buffer);
    this.lon = new Float32Array(bytes(data.lon).buffer);
    this.colour = bytes(data.colour);
    var n = this.lat.length, R = 6378137, d2r = Math.PI / 180, max = 85.0511287798;
    this._px = new Float64Array(n); this._py = new Float64Array(n);
    for (var i = 0; i < n; i++) {  // spherical Mercator, as L.CRS.EPSG3857
      var lat = Math.max(Math.min(max, this.lat[i]), -max) * d2r;
      this._px[i] = R * this.lon[i] * d2r;
      this._py[i] = R * Math.log(Math.tan(Math.PI / 4 + lat / 2));
    }
    this.count = n;
  },
  text: function () {
    if (!this._text) this._text = JSON.parse(this._data.text);
    return this._text;
  },
  onAdd: function (map) {
    this._map = map;
    var c = this._canvas = L.DomUtil.create('canvas', 'territory-points leaflet-zoom-hide');
    c.style.pointerEvents = 'none';
    var pane = map.getPane('territoryPoints') || map.createPane('territoryPoints');
    pane.style.zIndex = 450; pane.style.pointerEvents = 'none';  // above shapes, below labels
    pane.appendChild(c);
    this._tip = L.tooltip({direction: 'top', offset: [0, -4]});
    map.on('moveend resize', this._schedule, this);
    map.on('mousemove', this._hover, this);
    this._redraw();
  },
  onRemove: function (map) {
    L.DomUtil.remove(this._canvas);
    map.off('moveend resize', this._schedule, this);
    map.off('mousemove', this._hover, this);
    map.closeTooltip(this._tip);
  },
  _schedule: function () {
    var self = this;
    if (this._frame) return;
    this._frame = L.Util.requestAnimFrame(function () { self._frame = null; self._redraw(); });
  },
  _rgba: function (hex) {  // '#rrggbb' -> little-endian 0xAABBGGRR
    var v = parseInt(hex.slice(1), 16);
    return (0xff000000 | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
  },
  _stamp: function (r) {  // pixel offsets of a disc of radius r: [dx, dy, isBorder] ...
    var out = [], R = Math.ceil(r);
    for (var dy = -R; dy <= R; dy++) for (var dx = -R; dx <= R; dx++) {
      var dd = Math.sqrt(dx * dx + dy * dy);
      if (dd <= r) out.push(dx, dy, dd > r - 1 ? 1 : 0);
    }
    return out;
  },
  _redraw: function () {
    var map = this._map, size = map.getSize(), c = this._canvas, d = this._data;
    L.DomUtil.setPosition(c, map.containerPointToLayerPoint([0, 0]));
    var ratio = window.devicePixelRatio || 1, w = Math.round(size.x * ratio);
    var h = Math.round(size.y * ratio);
    c.width = w; c.height = h;
    c.style.width = size.x + 'px'; c.style.height = size.y + 'px';
    var ctx = c.getContext('2d'), img = ctx.createImageData(w, h);
    var pix = new Uint32Array(img.data.buffer);
    var fills = d.colours.map(this._rgba), border = this._rgba('#222222');
    var r = this.options.radius * ratio, stamp = this._stamp(r), m = stamp.length;
    var scale = 256 * Math.pow(2, map.getZoom()) / (2 * Math.PI * 6378137);
    var origin = map.getPixelBounds().min, half = Math.PI * 6378137;
    var cell = 8, grid = this._grid = {}, drawn = 0;
    for (var i = 0; i < this.count; i++) {
      var x = (this._px[i] + half) * scale - origin.x;
      var y = (half - this._py[i]) * scale - origin.y;
      if (x < -r || y < -r || x > size.x + r || y > size.y + r) continue;
      drawn++;
      var key = ((x / cell) | 0) * 65536 + ((y / cell) | 0);
      var list = grid[key]; if (list) list.push(i); else grid[key] = [i];
      var px = Math.round(x * ratio), py = Math.round(y * ratio), fill = fills[this.colour[i]];
      for (var s = 0; s < m; s += 3) {
        var qx = px + stamp[s], qy = py + stamp[s + 1];
        if (qx >= 0 && qy >= 0 && qx < w && qy < h) pix[qy * w + qx] = stamp[s + 2] ? border : fill;
      }
    }
    ctx.putImageData(img, 0, 0);
    c.setAttribute('data-drawn', String(drawn));  // points in view, for tests and debugging
  },
  _hover: function (e) {
    if (!this._grid) return;
    var p = e.containerPoint, cell = 8, best = -1, bestD = 36;
    var scale = 256 * Math.pow(2, this._map.getZoom()) / (2 * Math.PI * 6378137);
    var origin = this._map.getPixelBounds().min, half = Math.PI * 6378137;
    for (var gx = -1; gx <= 1; gx++) for (var gy = -1; gy <= 1; gy++) {
      var list = this._grid[(((p.x / cell) | 0) + gx) * 65536 + (((p.y / cell) | 0) + gy)] || [];
      for (var j = 0; j < list.length; j++) {
        var i = list[j];
        var x = (this._px[i] + half) * scale - origin.x;
        var y = (half - this._py[i]) * scale - origin.y;
        var dd = (x - p.x) * (x - p.x) + (y - p.y) * (y - p.y);
        if (dd < bestD) { bestD = dd; best = i; }
      }
    }
    if (best < 0) { this._map.closeTooltip(this._tip); return; }
    var text = this.text(), fields = this._data.fields, box = document.createElement('div');
    for (var f = 0; f < fields.length; f++) {
      var row = document.createElement('div'), b = document.createElement('b');
      b.textContent = fields[f] + ': ';
      row.appendChild(b);
      row.appendChild(document.createTextNode(text[f][best]));
      box.appendChild(row);
    }
    this._tip.setContent(box).setLatLng([this.lat[best], this.lon[best]]);
    this._map.openTooltip(this._tip);
  }
});
</script>
"""


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


class PointsLayer(Layer, SafeMacroElement):
    """Points on a canvas, one colour per category, with a tooltip of ``text`` fields.

    ``text`` maps a field caption to one string per point; ``colour`` gives each point an index
    into ``colours`` (at most 256). Add it to a map like any folium layer (it appears in the
    layer control).
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
        colours = list(colours)
        if len(colours) > 256:
            raise ValueError("a points layer takes at most 256 colours")
        texts = [[str(v) for v in values] for values in text.values()]
        self.data = script_json(
            {
                "lat": _b64(np.asarray(lat, dtype="<f4")),
                "lon": _b64(np.asarray(lon, dtype="<f4")),
                "colour": _b64(np.asarray(colour, dtype=np.uint8)),
                "colours": colours,
                "fields": [str(f) for f in text],
                # parsed on the first hover: a JSON string loads far faster than a JS literal
                "text": json.dumps(texts, separators=(",", ":"), ensure_ascii=False),
            }
        )

    def render(self, **kwargs):
        root = self.get_root()
        if "territory_points_js" not in root.header._children:
            root.header.add_child(Raw(SCRIPT), name="territory_points_js")
        super().render(**kwargs)
