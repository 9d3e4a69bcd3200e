L.TerritoryPoints = L.Layer.extend({
  statics: {
    bytes: function (s) {
      var raw = atob(s), out = new Uint8Array(raw.length);
      for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
      return out;
    },
    source: function (data) {  // coordinates and texts shared by every layer of these points
      var lat = new Float32Array(L.TerritoryPoints.bytes(data.lat).buffer);
      var lon = new Float32Array(L.TerritoryPoints.bytes(data.lon).buffer);
      var n = lat.length, R = 6378137, d2r = Math.PI / 180, max = 85.0511287798;
      var px = new Float64Array(n), py = new Float64Array(n);
      for (var i = 0; i < n; i++) {  // spherical Mercator, as L.CRS.EPSG3857
        var y = Math.max(Math.min(max, lat[i]), -max) * d2r;
        px[i] = R * lon[i] * d2r;
        py[i] = R * Math.log(Math.tan(Math.PI / 4 + y / 2));
      }
      return {lat: lat, lon: lon, _px: px, _py: py, count: n, fields: data.fields,
              text: function () {
                if (!this._text) this._text = JSON.parse(data.text);
                return this._text;
              }};
    }
  },
  initialize: function (source, data, options) {
    this._data = data; this.source = source; L.setOptions(this, options);
    (window.territoryPoints = window.territoryPoints || []).push(this);
    var raw = L.TerritoryPoints.bytes(data.code).buffer;
    this.code = data.width === 4 ? new Uint32Array(raw)
      : data.width === 2 ? new Uint16Array(raw) : new Uint8Array(raw);
    this.lat = source.lat; this.lon = source.lon; this.count = source.count;
    this._px = source._px; this._py = source._py;
  },
  onAdd: function (map) {
    this._map = map;
    var c = this._canvas = L.DomUtil.create('canvas', 'territory-points leaflet-zoom-hide');
    c.style.pointerEvents = 'none';
    var pane = map.getPane('territoryPoints') || map.createPane('territoryPoints');
    pane.style.zIndex = 450; pane.style.pointerEvents = 'none';  // above shapes, below labels
    pane.appendChild(c);
    this._tip = L.tooltip({direction: 'top', offset: [0, -4], className: 'territory-point-tip'});
    map.on('moveend resize', this._schedule, this);
    map.on('mousemove', this._hover, this);
    map.on('mouseout', this._out, this);
    if (this._data.legend) this._addLegend();
    this._redraw();
  },
  onRemove: function (map) {
    L.DomUtil.remove(this._canvas);
    if (this._legend) L.DomUtil.remove(this._legend);
    map.off('moveend resize', this._schedule, this);
    map.off('mousemove', this._hover, this);
    map.off('mouseout', this._out, this);
    this._out();
  },
  _addLegend: function () {  // shown while the layer is on; every text set as textContent
    var spec = this._data.legend, box = document.querySelector('.territory-legends');
    if (!box) {
      box = L.DomUtil.create('div', 'territory-legends', document.body);
    }
    var el = this._legend = L.DomUtil.create('div', 'territory-layer-legend');
    var add = function (tag, cls, text) {
      var e = L.DomUtil.create(tag, cls, el); e.textContent = text; return e;
    };
    add('div', 'territory-legend-title', spec.title);
    // each entry is a button that hides or shows the points of its colour
    this._hide = this._hide || new Uint8Array(spec.items.length);
    this._rows = [];
    for (var k = 0; k < spec.items.length; k++) {
      var row = L.DomUtil.create('button', 'territory-legend-item territory-legend-toggle', el);
      row.type = 'button';
      row.title = 'Hide or show these accounts';
      var sw = L.DomUtil.create('span', 'territory-swatch', row);
      sw.style.background = spec.items[k][0];
      row.appendChild(document.createTextNode(spec.items[k][1]));
      L.DomEvent.on(row, 'click', this.toggle.bind(this, k));
      this._rows.push(row);
    }
    this._all = add('button', 'territory-legend-reset', 'Show all');
    this._all.type = 'button';
    L.DomEvent.on(this._all, 'click', this.showAll, this);
    L.DomEvent.disableClickPropagation(el);
    this._legendState();
    for (var k = 0; k < spec.notes.length; k++) add('div', 'territory-legend-note', spec.notes[k]);
    this._modeNote = add('div', 'territory-legend-note territory-legend-mode', '');
    box.appendChild(el);
  },
  toggle: function (k) {  // hide (or show again) the points of legend colour k
    this._hide[k] = this._hide[k] ? 0 : 1;
    this._legendState();
    if (this._map) this._redraw();
  },
  showAll: function () {
    if (!this._hide) return;
    this._hide.fill(0);
    this._legendState();
    if (this._map) this._redraw();
  },
  _legendState: function () {
    var any = false;
    for (var k = 0; k < this._rows.length; k++) {
      var off = !!this._hide[k];
      any = any || off;
      this._rows[k].classList.toggle('territory-legend-off', off);
      this._rows[k].setAttribute('aria-pressed', off ? 'false' : 'true');
    }
    this._all.style.display = any ? '' : 'none';
  },
  _schedule: function () {
    var self = this;
    if (this._frame) return;
    this._frame = L.Util.requestAnimFrame(function () { self._frame = null; self._redraw(); });
  },
  _rgba: function (hex, alpha) {  // '#rrggbb', 0..1 -> little-endian 0xAABBGGRR
    var v = parseInt(hex.slice(1), 16), a = Math.round(255 * (alpha === undefined ? 1 : alpha));
    return ((a << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
  },
  _darker: function (hex) {
    var v = parseInt(hex.slice(1), 16), f = function (c) { return Math.round(c * 0.55); };
    var rgb = (f(v >> 16) << 16) | (f((v >> 8) & 0xff) << 8) | f(v & 0xff);
    return '#' + (0x1000000 + rgb).toString(16).slice(1);
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
    var map = this._map, size = map.getSize(), c = this._canvas, o = this.options;
    L.DomUtil.setPosition(c, map.containerPointToLayerPoint([0, 0]));
    var ratio = window.devicePixelRatio || 1, w = Math.round(size.x * ratio);
    var h = Math.round(size.y * ratio);
    c.width = w; c.height = h;
    c.style.width = size.x + 'px'; c.style.height = size.y + 'px';
    var ctx = c.getContext('2d'), img = ctx.createImageData(w, h);
    var pix = new Uint32Array(img.data.buffer);
    var scale = 256 * Math.pow(2, map.getZoom()) / (2 * Math.PI * 6378137);
    var origin = map.getPixelBounds().min, half = Math.PI * 6378137, r = o.radius;
    // the points in view, with their screen positions
    if (!this._view || this._view.length < this.count) {
      this._view = new Int32Array(this.count);
      this._vx = new Float32Array(this.count); this._vy = new Float32Array(this.count);
    }
    var view = this._view, vx = this._vx, vy = this._vy, drawn = 0;
    var hide = this._hide, tone = this._data.tone, code = this.code, mask = this.source.mask;
    for (var i = 0; i < this.count; i++) {
      if (hide && hide[tone[code[i]]]) continue;  // a label hidden from the legend
      if (mask && mask[i]) continue;  // filtered out with its territory (source.mask, 1 = hide)
      var x = (this._px[i] + half) * scale - origin.x;
      var y = (half - this._py[i]) * scale - origin.y;
      if (x < -r || y < -r || x > size.x + r || y > size.y + r) continue;
      view[drawn] = i; vx[drawn] = x; vy[drawn] = y; drawn++;
    }
    // many points per pixel: a density grid; else semi-transparent dots
    var dense = o.density && drawn * o.spacing * o.spacing > size.x * size.y;
    this._mode = dense ? 'density' : 'points';
    if (dense) this._density(pix, w, h, ratio, size, drawn);
    else this._dots(pix, w, h, ratio, drawn);
    ctx.putImageData(img, 0, 0);
    c.setAttribute('data-drawn', String(drawn));  // points shown in view, for tests
    c.setAttribute('data-mode', this._mode);
    if (this._modeNote) {
      this._modeNote.textContent = dense
        ? 'Zoomed out: one disc per square, larger = more accounts, in their most common ' +
          'colour; zoom in for single accounts'
        : 'One dot per account';
    }
  },
  _dots: function (pix, w, h, ratio, drawn) {
    var d = this._data, tone = d.tone, self = this;
    var fills = d.palette.map(function (p) { return self._rgba(p, 0.75); });
    var edges = d.palette.map(function (p) { return self._rgba(self._darker(p), 0.85); });
    var r = this.options.radius * ratio, stamp = this._stamp(r), m = stamp.length;
    var edged = r >= 2, cell = this.options.cell, grid = this._grid = {};
    for (var j = 0; j < drawn; j++) {
      var i = this._view[j], x = this._vx[j], y = this._vy[j];
      var key = ((x / cell) | 0) * 65536 + ((y / cell) | 0);
      var list = grid[key]; if (list) list.push(i); else grid[key] = [i];
      var px = Math.round(x * ratio), py = Math.round(y * ratio), t = tone[this.code[i]];
      var fill = fills[t], edge = edged ? edges[t] : fill;
      for (var s = 0; s < m; s += 3) {
        var qx = px + stamp[s], qy = py + stamp[s + 1];
        if (qx >= 0 && qy >= 0 && qx < w && qy < h) pix[qy * w + qx] = stamp[s + 2] ? edge : fill;
      }
    }
    this._cells = null;
  },
  _density: function (pix, w, h, ratio, size, drawn) {
    var d = this._data, tone = d.tone, nt = d.palette.length, cell = this.options.cell;
    var nx = Math.ceil(size.x / cell), ny = Math.ceil(size.y / cell);
    var counts = new Uint32Array(nx * ny * nt), total = new Uint32Array(nx * ny), top = 1;
    for (var j = 0; j < drawn; j++) {
      var cx = Math.floor(this._vx[j] / cell), cy = Math.floor(this._vy[j] / cell);
      if (cx < 0 || cy < 0 || cx >= nx || cy >= ny) continue;
      var k = cy * nx + cx, n = ++total[k];
      counts[k * nt + tone[this.code[this._view[j]]]]++;
      if (n > top) top = n;
    }
    // one disc per square, its area growing with the log of the count: the territory colours
    // stay visible between the discs
    var self = this, logTop = Math.log(1 + top), stamps = {}, R = (cell / 2 - 0.5) * ratio;
    var fills = d.palette.map(function (p) { return self._rgba(p, 0.8); });
    var edges = d.palette.map(function (p) { return self._rgba(self._darker(p), 0.9); });
    for (var k = 0; k < nx * ny; k++) {
      if (!total[k]) continue;
      var best = 0;
      for (var t = 1; t < nt; t++) if (counts[k * nt + t] > counts[k * nt + best]) best = t;
      var r = Math.max(0.75 * ratio, R * Math.sqrt(Math.log(1 + total[k]) / logTop));
      r = Math.round(r * 4) / 4;
      var stamp = stamps[r] || (stamps[r] = this._stamp(r)), m = stamp.length;
      var px = Math.round(((k % nx) + 0.5) * cell * ratio);
      var py = Math.round((Math.floor(k / nx) + 0.5) * cell * ratio);
      var fill = fills[best], edge = r >= 2 ? edges[best] : fill;
      for (var s = 0; s < m; s += 3) {
        var qx = px + stamp[s], qy = py + stamp[s + 1];
        if (qx >= 0 && qy >= 0 && qx < w && qy < h) pix[qy * w + qx] = stamp[s + 2] ? edge : fill;
      }
    }
    this._cells = {counts: counts, total: total, nx: nx, ny: ny, nt: nt, cell: cell};
    this._grid = null;
  },
  _out: function () {  // the mouse left the map
    if (this._map) this._map.closeTooltip(this._tip);
    this._hidden = null;
  },
  _leave: function (e) {  // off the points: the shape under the mouse shows its tooltip again
    this._map.closeTooltip(this._tip);
    var hidden = this._hidden || [], under = e.originalEvent && e.originalEvent.target;
    this._hidden = null;
    for (var k = 0; k < hidden.length; k++) {
      if (hidden[k]._map && hidden[k]._path === under) hidden[k].openTooltip(e.latlng);
    }
  },
  _show: function (rows, latlng, e) {
    this._tip.setContent(this._box(rows)).setLatLng(latlng);
    this._map.openTooltip(this._tip);
    // the account's tooltip replaces the territory's (or block's) under it, until it closes
    var hidden = this._hidden = this._hidden || [];
    this._map.eachLayer(function (l) {
      if (l.isTooltipOpen && l.getTooltip() && l.isTooltipOpen()) {
        l.closeTooltip();
        if (hidden.indexOf(l) < 0) hidden.push(l);
      }
    });
  },
  _hover: function (e) {
    var on = window.territoryPoints.filter(function (l) { return l._map; });
    if (on[on.length - 1] !== this) return this._leave(e);  // the top layer's tooltip only
    var p = e.containerPoint, d = this._data;
    if (this._cells) {  // density: the accounts of the square under the mouse
      var g = this._cells, cx = Math.floor(p.x / g.cell), cy = Math.floor(p.y / g.cell);
      var k = cy * g.nx + cx;
      if (cx < 0 || cy < 0 || cx >= g.nx || cy >= g.ny || !g.total[k]) return this._leave(e);
      var rows = [['Accounts here', g.total[k].toLocaleString()]];
      var names = d.legend && d.legend.items;
      var order = [];
      for (var t = 0; t < g.nt; t++) if (g.counts[k * g.nt + t]) order.push(t);
      order.sort(function (a, b) { return g.counts[k * g.nt + b] - g.counts[k * g.nt + a]; });
      if (names && order.length > 1) {
        for (var q = 0; q < Math.min(3, order.length); q++) {
          rows.push([names[order[q]][1], g.counts[k * g.nt + order[q]].toLocaleString()]);
        }
      }
      var at = this._map.containerPointToLatLng([(cx + 0.5) * g.cell, cy * g.cell]);
      return this._show(rows, at, e);
    }
    if (!this._grid) return;
    var cell = this.options.cell, best = -1, bestD = 36;
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
    if (best < 0) return this._leave(e);
    var rows = [], text = this.source.text(), fields = this.source.fields;
    for (var f = 0; f < fields.length; f++) rows.push([fields[f], text[f][best]]);
    if (d.field) rows.push([d.field, d.labels[this.code[best]]]);
    this._show(rows, [this.lat[best], this.lon[best]], e);
  },
  _box: function (rows) {
    var box = document.createElement('div');
    for (var f = 0; f < rows.length; f++) {
      var row = document.createElement('div'), b = document.createElement('b');
      b.textContent = rows[f][0] + ': ';
      row.appendChild(b);
      row.appendChild(document.createTextNode(rows[f][1]));
      box.appendChild(row);
    }
    return box;
  }
});
