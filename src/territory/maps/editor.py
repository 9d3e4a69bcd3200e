"""Redraw territories in the shared HTML: the building-blocks layer with an editing panel.

A planner ticks *Edit*, picks a territory, and clicks blocks to move them into it; the totals
and balance table updates at once, and *Export alignment CSV* saves the alignment for
``territory apply``: every column of the input alignment in its order, values as given, with a
moved block's territory id, name, parent and rep taken from its new territory. *Draw shape*
adds vertices with each map click; *Finish* closes the polygon under the name typed, and
*Export shapes GeoJSON* saves them as a territory layer.
Everything runs in the page (no server); every name is set as text, never as markup.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
from folium.map import Layer
from jinja2 import Template

from territory.maps.safe import Raw, SafeMacroElement, script_json

SCRIPT = """
<style>
.territory-editor{background:rgba(255,255,255,.95);padding:8px 10px;border-radius:4px;
 box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.35 system-ui,sans-serif;max-height:60vh;
 overflow:auto;min-width:230px}
.territory-editor table{border-collapse:collapse;margin-top:6px}
.territory-editor td,.territory-editor th{padding:1px 6px;text-align:right}
.territory-editor td:first-child,.territory-editor th:first-child{text-align:left}
.territory-editor .over{color:#b2182b;font-weight:600}
.territory-editor button{margin:2px 2px 2px 0;font:12px system-ui,sans-serif}
</style>
<script>
L.TerritoryEditor = L.Layer.extend({
  initialize: function (data) { this.d = data; this.assign = data.territory.slice(); },
  attach: function (map) {  // the panel is always there; editing shows the blocks
    this._map = map;
    this._panel();
    this.panel.addTo(map);
    // while drawing, every click on the map is a vertex (captured before shapes see it)
    var self = this;
    map.getContainer().addEventListener('click', function (e) {
      if (!self.drawing || e.target.closest('.leaflet-control')) return;
      e.stopPropagation();
      self._vertex({latlng: map.mouseEventToLatLng(e)});
    }, true);
    return this;
  },
  onAdd: function (map) {
    var self = this, d = this.d;
    this.layer = L.geoJSON(d.blocks, {
      style: function (f) { return self._style(f.properties.i); },
      onEachFeature: function (f, l) {
        l.on('click', function (e) {
          if (!self.editing) return;
          L.DomEvent.stopPropagation(e);
          self.move(f.properties.i, self.select.value | 0);
        });
        l.bindTooltip(function () {
          var t = self.assign[f.properties.i];
          return self._text(d.ids[f.properties.i] + ' \u2192 ' +
            (t < 0 ? '(none)' : d.names[t]));
        }, {sticky: true});
      }
    }).addTo(map);
  },
  onRemove: function (map) {
    map.removeLayer(this.layer);
    if (this.editing) { this.check.checked = false; this.editing = false; }
  },
  _text: function (s) { var e = document.createElement('span'); e.textContent = s; return e; },
  _style: function (i) {
    var t = this.assign[i];
    if (!this.editing) return {fill: false, color: '#777', weight: 0.4};
    return {fill: true, fillColor: t < 0 ? '#ffffff' : this.d.colours[t], fillOpacity: 0.7,
            color: '#555', weight: 0.5};
  },
  move: function (i, t) {
    this.assign[i] = t;
    var self = this;
    this.layer.eachLayer(function (l) {
      if (l.feature.properties.i === i) l.setStyle(self._style(i));
    });
    this.totals();
  },
  sums: function () {
    var d = this.d, k = d.names.length, out = [];
    for (var t = 0; t < k; t++) out.push({accounts: 0, revenue: 0, blocks: 0});
    for (var i = 0; i < this.assign.length; i++) {
      var t = this.assign[i]; if (t < 0) continue;
      out[t].accounts += d.accounts[i]; out[t].revenue += d.revenue[i]; out[t].blocks += 1;
    }
    return out;
  },
  totals: function () {
    var s = this.sums(), d = this.d, mean = 0, tb = this.tbody;
    for (var t = 0; t < s.length; t++) mean += s[t][d.balance] / s.length;
    while (tb.firstChild) tb.removeChild(tb.firstChild);
    for (var t = 0; t < s.length; t++) {
      var dev = mean ? s[t][d.balance] / mean - 1 : 0, tr = document.createElement('tr');
      var cells = [d.names[t], s[t].blocks, s[t].accounts.toLocaleString('en-US'),
        Math.round(s[t].revenue).toLocaleString('en-US'), (dev >= 0 ? '+' : '') +
        (100 * dev).toFixed(1) + '%'];
      for (var c = 0; c < cells.length; c++) {
        var td = document.createElement('td'); td.textContent = cells[c]; tr.appendChild(td);
        if (c === 4 && Math.abs(dev) > d.tolerance) td.className = 'over';
      }
      tr.setAttribute('data-territory', d.ids_t[t]);
      tb.appendChild(tr);
    }
  },
  alignmentCsv: function () {
    // the input's rows and columns as given; a moved block gets its new territory's id and
    // territory columns (name, parent, rep)
    var d = this.d, a = d.alignment, self = this, q = function (v) {
      v = String(v);
      return /[",\\r\\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
    };
    if (!a) {
      var lines = ['block_id,territory_id,name'];
      for (var i = 0; i < this.assign.length; i++) {
        var t = this.assign[i];
        lines.push(q(d.ids[i]) + ',' + (t < 0 ? ',' : q(d.ids_t[t]) + ',' + q(d.names[t])));
      }
      return lines.join('\\n') + '\\n';
    }
    var out = [a.columns.map(q).join(',')];
    a.rows.forEach(function (given, r) {
      var row = given.slice(), i = a.block[r], t = i < 0 ? -1 : self.assign[i];
      if (i >= 0 && t !== d.territory[i]) {
        row[a.territory] = t < 0 ? '' : d.ids_t[t];
        a.attributes.forEach(function (c) { row[c.column] = t < 0 ? '' : c.values[t]; });
      }
      out.push(row.map(q).join(','));
    });
    return out.join('\\n') + '\\n';
  },
  shapesGeoJson: function () {
    return JSON.stringify({type: 'FeatureCollection', features: this.shapes.map(function (s) {
      return {type: 'Feature', properties: {territory_id: s.name},
        geometry: {type: 'Polygon', coordinates: [s.ring]}};
    })});
  },
  _save: function (name, text, type) {
    var a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], {type: type}));
    a.download = name; document.body.appendChild(a); a.click(); a.remove();
  },
  _vertex: function (e) {
    if (!this.drawing) return;
    this.vertices.push(e.latlng);
    if (!this.preview) {
      this.preview = L.polygon([], {color: '#000', dashArray: '4'}).addTo(this._map);
    }
    this.preview.setLatLngs(this.vertices);
  },
  finishShape: function () {
    if (this.vertices.length >= 3) {
      var ring = this.vertices.map(function (p) {
        return [Math.round(p.lng * 1e6) / 1e6, Math.round(p.lat * 1e6) / 1e6];
      });
      ring.push(ring[0]);
      var name = this.nameInput.value || ('Shape ' + (this.shapes.length + 1));
      this.shapes.push({name: name, ring: ring});
      L.polygon(this.vertices, {color: '#000', weight: 2, fillOpacity: 0.1}).addTo(this._map)
        .bindTooltip(this._text(name));
    }
    if (this.preview) { this._map.removeLayer(this.preview); this.preview = null; }
    this.vertices = []; this.drawing = false; this.drawBtn.textContent = 'Draw shape';
  },
  _panel: function () {
    var self = this, d = this.d;
    this.shapes = []; this.vertices = [];
    this.panel = L.control({position: 'bottomleft'});
    this.panel.onAdd = function () {
      var box = L.DomUtil.create('div', 'territory-editor');
      L.DomEvent.disableClickPropagation(box); L.DomEvent.disableScrollPropagation(box);
      var head = document.createElement('div'), label = document.createElement('label');
      var check = self.check = document.createElement('input');
      check.type = 'checkbox'; check.className = 'te-edit';
      check.onchange = function () {
        self.editing = check.checked;
        body.style.display = check.checked ? '' : 'none';
        if (self.editing && !self._map.hasLayer(self)) self._map.addLayer(self);
        self.layer.setStyle(function (f) { return self._style(f.properties.i); });
      };
      label.appendChild(check);
      label.appendChild(document.createTextNode(' Edit: move blocks to '));
      head.appendChild(label);
      var sel = self.select = document.createElement('select'); sel.className = 'te-territory';
      for (var t = 0; t < d.names.length; t++) {
        var o = document.createElement('option'); o.value = t; o.textContent = d.names[t];
        sel.appendChild(o);
      }
      head.appendChild(sel); box.appendChild(head);
      var body = document.createElement('div'); body.style.display = 'none';
      box.appendChild(body);  // the table and tools show while editing
      var table = document.createElement('table'); table.className = 'te-totals';
      var hr = document.createElement('tr');
      ['Territory', 'Blocks', 'Accounts', 'Revenue', 'Balance'].forEach(function (h) {
        var th = document.createElement('th'); th.textContent = h; hr.appendChild(th);
      });
      var thead = document.createElement('thead'); thead.appendChild(hr); table.appendChild(thead);
      self.tbody = document.createElement('tbody'); table.appendChild(self.tbody);
      body.appendChild(table);
      var bar = document.createElement('div');
      var btn = function (text, cls, fn) {
        var b = document.createElement('button'); b.textContent = text; b.className = cls;
        b.onclick = fn; bar.appendChild(b); return b;
      };
      btn('Export alignment CSV', 'te-export', function () {
        self._save('alignment.csv', self.alignmentCsv(), 'text/csv');
      });
      self.drawBtn = btn('Draw shape', 'te-draw', function () {
        if (self.drawing) { self.finishShape(); return; }
        self.drawing = true; self.vertices = []; self.drawBtn.textContent = 'Finish shape';
      });
      self.nameInput = document.createElement('input');
      self.nameInput.placeholder = 'shape name'; self.nameInput.className = 'te-shape-name';
      self.nameInput.size = 10; bar.appendChild(self.nameInput);
      btn('Export shapes GeoJSON', 'te-export-shapes', function () {
        self._save('territories.geojson', self.shapesGeoJson(), 'application/geo+json');
      });
      body.appendChild(bar);
      self.totals();
      return box;
    };
  }
});
</script>
"""


class AlignmentEditor(Layer, SafeMacroElement):
    """The building blocks as a layer, with the in-page alignment editor.

    ``blocks`` (EPSG:4326, web-simplified) has ``block_id`` and ``territory_id``;
    ``territories`` lists ``territory_id`` and ``name`` in display order with ``colours``;
    ``measures`` gives ``accounts`` and ``revenue`` per block (by ``block_id``).
    ``alignment`` is the input alignment as ``(table, columns by role)`` (see
    :func:`source_alignment`): the export then keeps its rows and columns as given. Without it
    the export has ``block_id,territory_id,name``.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = window.territoryEditor = new L.TerritoryEditor({{ this.data }})
  .attach({{ this._parent.get_name() }});
{% endmacro %}"""
    )

    def __init__(
        self,
        blocks: gpd.GeoDataFrame,
        territories: pd.DataFrame,
        colours: list[str],
        measures: pd.DataFrame,
        *,
        balance: str = "revenue",
        tolerance: float = 0.05,
        name: str = "Building blocks (edit)",
        show: bool = False,
        alignment: tuple[pd.DataFrame, dict] | None = None,
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TerritoryEditor"
        index = {t: i for i, t in enumerate(territories["territory_id"])}
        terr = [index.get(t, -1) if pd.notna(t) else -1 for t in blocks["territory_id"]]
        sums = measures.reindex(blocks["block_id"]).fillna(0.0)
        features = gpd.GeoDataFrame(
            {"i": np.arange(len(blocks))}, geometry=blocks.geometry.to_numpy(), crs=4326
        )
        self.data = script_json(
            {
                "blocks": json.loads(features.to_json(drop_id=True)),
                "ids": blocks["block_id"].astype(str).tolist(),
                "territory": terr,
                "ids_t": territories["territory_id"].astype(str).tolist(),
                "names": territories["name"].astype(str).tolist(),
                "colours": list(colours),
                "accounts": _column(sums, "accounts").astype(int).tolist(),
                "revenue": _column(sums, "revenue").round(2).tolist(),
                "balance": balance if balance in ("accounts", "revenue") else "revenue",
                "tolerance": float(tolerance),
                "alignment": None
                if alignment is None
                else _alignment_data(*alignment, blocks["block_id"], territories["territory_id"]),
            }
        )

    def render(self, **kwargs):
        root = self.get_root()
        if "territory_editor_js" not in root.header._children:
            root.header.add_child(Raw(SCRIPT), name="territory_editor_js")
        super().render(**kwargs)


def source_alignment(spec) -> tuple[pd.DataFrame, dict] | None:
    """The alignment table a plan's territories were read from, and its columns by role.

    ``spec`` is a :class:`territory.plan.TerritoriesSpec`; None when it has no alignment.
    """
    if getattr(spec, "alignment", None) is None:
        return None
    from territory.io import as_frame
    from territory.validate import alignment_columns

    frame, source = as_frame(spec.alignment, "alignment")
    if isinstance(frame, gpd.GeoDataFrame):  # shapes are the blocks' business, not the table's
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    roles = alignment_columns(frame, source, block=spec.alignment_block,
                              territory=spec.alignment_territory,
                              parent=spec.alignment_parent)  # fmt: skip
    return frame, roles


def _alignment_data(frame: pd.DataFrame, roles: dict, block_ids, territory_ids) -> dict:
    """The input alignment for the page: columns, rows as text, the block of each row and the
    territory columns (name, parent, rep: first non-blank value of each territory)."""
    from territory.validate import id_text

    columns = [str(c) for c in frame.columns]
    cells = [["" if _blank(v) else str(v) for v in row] for row in frame.itertuples(index=False)]
    index = {b: i for i, b in enumerate(pd.Series(block_ids).astype(str))}
    own = id_text(frame[roles["block"]])
    block = [index.get(b, -1) if pd.notna(b) else -1 for b in own]
    terr = id_text(frame[roles["territory"]]).fillna("").to_numpy(dtype=object)
    keys = [str(t) for t in territory_ids]
    ids = (roles["block"], roles["territory"])
    attributes = []
    for role in ("name", "parent", "rep"):
        col = roles.get(role)
        if col is None or col in ids:
            continue
        j = columns.index(str(col))
        first: dict[str, str] = {}
        for t, row in zip(terr, cells, strict=True):
            if t and row[j].strip() and t not in first:
                first[t] = row[j]
        attributes.append({"column": j, "values": [first.get(t, "") for t in keys]})
    return {
        "columns": columns,
        "rows": cells,
        "block": block,
        "territory": columns.index(str(roles["territory"])),
        "attributes": attributes,
    }


def _blank(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(0.0, index=frame.index)
