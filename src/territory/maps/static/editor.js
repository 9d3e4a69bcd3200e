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
          return self._text(d.ids[f.properties.i] + ' → ' +
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
      return /[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
    };
    if (!a) {
      var lines = ['block_id,territory_id,name'];
      for (var i = 0; i < this.assign.length; i++) {
        var t = this.assign[i];
        lines.push(q(d.ids[i]) + ',' + (t < 0 ? ',' : q(d.ids_t[t]) + ',' + q(d.names[t])));
      }
      return lines.join('\n') + '\n';
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
    return out.join('\n') + '\n';
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
