/* Search box and filters of a territory map (see territory/maps/tools.py).
 * Every text from the data is set with textContent; queries are matched as plain substrings
 * (lower case), never as a pattern or markup. */
(function () {
  'use strict';

  // One text column searchable by substring: one lower-case string, rows separated by \n
  // (a query never holds a newline, so a match never spans two rows).
  function Column(values) {
    var n = values.length, parts = new Array(n), offsets = new Int32Array(n + 1), at = 0;
    for (var i = 0; i < n; i++) {
      var v = values[i] == null ? '' : String(values[i]).replace(/\n/g, ' ').toLowerCase();
      parts[i] = v; offsets[i] = at; at += v.length + 1;
    }
    offsets[n] = at;
    this.text = parts.join('\n'); this.offsets = offsets; this.n = n;
  }
  Column.prototype.find = function (q, limit) {  // rows containing q, first rows first
    var out = [], from = 0, t = this.text, off = this.offsets;
    while (out.length < limit && q) {
      var at = t.indexOf(q, from);
      if (at < 0) break;
      var lo = 0, hi = this.n - 1;
      while (lo < hi) {
        var mid = (lo + hi + 1) >> 1;
        if (off[mid] <= at) lo = mid; else hi = mid - 1;
      }
      out.push(lo); from = off[lo + 1];
    }
    return out;
  };

  function distinct(values) {  // [value, rows] of each non-blank value, in first-seen order
    var seen = new Map(), out = [];
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (v == null || v === '') continue;
      if (!seen.has(v)) { seen.set(v, out.length); out.push([v, []]); }
      out[seen.get(v)][1].push(i);
    }
    return out;
  }

  function el(tag, cls, parent, text) {
    var e = L.DomUtil.create(tag, cls || '', parent);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  var LIMIT = 20, MARK = '#d6007a';

  var Tools = L.Control.extend({
    options: {position: 'topleft'},

    initialize: function (layers, data) {
      this.d = data; this.layers = layers; this.steps = new Set(); this.rep = '';
      this._terr = new Column(data.ids.map(function (id, k) {
        return id + ' ' + data.names[k];
      }));
      this._reps = data.reps ? distinct(data.reps) : [];
      this._regions = data.regions ? distinct(data.regions) : [];
      this._repCol = new Column(this._reps.map(function (r) { return r[0]; }));
      this._regionCol = new Column(this._regions.map(function (r) { return r[0]; }));
    },

    onAdd: function (map) {
      var box = this._box = el('div', 'territory-tools leaflet-bar');
      var input = this._input = el('input', 'tt-search', box);
      input.type = 'search';
      input.placeholder = 'Search ' + this._what();
      input.setAttribute('aria-label', 'Search ' + this._what());
      input.setAttribute('autocomplete', 'off');
      input.setAttribute('aria-controls', 'territory-tools-results');
      this._list = el('div', 'tt-results', box);
      this._list.id = 'territory-tools-results';
      this._list.setAttribute('role', 'listbox');
      this._note = el('div', 'tt-note', box);
      this._note.style.display = 'none';
      this._status = el('div', 'tt-status', box);
      this._status.setAttribute('aria-live', 'polite');
      if (this.d.reps) this._repFilter(box);
      this._reset = el('button', 'tt-reset', box, 'Show all');
      this._reset.type = 'button';
      L.DomEvent.on(this._reset, 'click', this.showAll, this);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      var self = this, timer = null;
      L.DomEvent.on(input, 'input', function () {
        clearTimeout(timer);  // one search per pause in typing
        timer = setTimeout(function () { self.search(input.value); }, 120);
      });
      L.DomEvent.on(input, 'keydown', this._key, this);
      L.DomEvent.on(input, 'focus', this._prepare, this);
      L.DomEvent.on(this._list, 'keydown', this._listKey, this);
      this._marks = L.layerGroup().addTo(map);
      var pane = map.createPane('territoryHighlight');
      pane.style.zIndex = 460; pane.style.pointerEvents = 'none';
      map.on('overlayadd', this._apply, this);
      map.on('resize', this._place, this);
      setTimeout(this._place.bind(this), 0);
      return box;
    },

    _place: function () {  // below the title box, however many lines the title takes
      var title = document.querySelector('.territory-title'), box = this._box;
      if (!title) return;
      box.style.marginTop = '';
      var gap = title.getBoundingClientRect().bottom + 8 - box.getBoundingClientRect().top;
      if (gap > 0) box.style.marginTop = (parseFloat(getComputedStyle(box).marginTop) + gap) + 'px';
    },

    _what: function () {
      var f = this.d.accountFields, parts = ['territories'];
      if (this.d.reps) parts.push('reps');
      if (f.id >= 0 && this.layers.source) parts.push('accounts');
      if (f.postal >= 0 && this.layers.source) parts.push('postal codes');
      return parts.join(', ');
    },

    _repFilter: function (box) {
      var row = el('label', 'tt-rep', box);
      el('span', '', row, 'Rep ');
      var select = this._select = el('select', '', row);
      el('option', '', select, 'All reps').value = '';
      this._reps.map(function (r) { return r[0]; }).sort().forEach(function (r) {
        el('option', '', select, r).value = r;
      });
      L.DomEvent.on(select, 'change', function () { this.rep = select.value; this._apply(); }, this);
    },

    // ---- search ----------------------------------------------------------------------------
    _prepare: function () {  // many accounts: index them when the box gets focus, not on a key
      var src = this.layers.source, self = this;
      if (this._acc !== undefined || !src) return;
      if (src.count < 20000) return this._accountColumns();
      this._note.textContent = 'Preparing the search of ' + src.count.toLocaleString() +
        ' accounts…';
      this._note.style.display = '';
      setTimeout(function () {  // after the note is painted
        self._accountColumns();
        self._note.style.display = 'none';
        if (self._input.value) self.search(self._input.value);
      }, 50);
    },

    _accountColumns: function () {  // built on the first search, from the shared point texts
      if (this._acc !== undefined) return this._acc;
      var src = this.layers.source, f = this.d.accountFields;
      this._acc = null;
      if (!src || f.id < 0) return null;
      var text = src.text();
      this._acc = {
        id: new Column(text[f.id]),
        name: f.name >= 0 ? new Column(text[f.name]) : null,
        postal: f.postal >= 0 ? new Column(text[f.postal]) : null,
        text: text
      };
      return this._acc;
    },

    matches: function (query) {
      var q = String(query).trim().toLowerCase(), out = [], d = this.d, self = this;
      if (!q) return out;
      this._terr.find(q, 8).forEach(function (k) {
        var label = d.names[k] === d.ids[k] ? d.ids[k] : d.names[k] + ' (' + d.ids[k] + ')';
        out.push({kind: 'Territory', label: label, territories: [k]});
      });
      this._repCol.find(q, 4).forEach(function (r) {
        var rows = self._reps[r][1];
        out.push({kind: 'Rep', label: self._reps[r][0] + ' · ' + rows.length + ' territor' +
                  (rows.length === 1 ? 'y' : 'ies'), territories: rows});
      });
      this._regionCol.find(q, 3).forEach(function (r) {
        out.push({kind: 'Region', label: self._regions[r][0], territories: self._regions[r][1]});
      });
      var acc = this._accountColumns();
      if (acc) {
        if (acc.postal) {
          var codes = new Set(), postal = acc.text[d.accountFields.postal];
          acc.postal.find(q, 400).forEach(function (i) {
            if (codes.size < 4 && postal[i]) codes.add(postal[i]);
          });
          codes.forEach(function (code) {
            out.push({kind: 'Postal code', label: code, postal: code});
          });
        }
        var room = Math.max(0, LIMIT - out.length), rows = acc.id.find(q, room);
        if (acc.name && rows.length < room) {
          var taken = new Set(rows);
          acc.name.find(q, room).forEach(function (i) {
            if (rows.length < room && !taken.has(i)) { rows.push(i); taken.add(i); }
          });
        }
        var ids = acc.text[d.accountFields.id];
        var names = acc.name ? acc.text[d.accountFields.name] : null;
        rows.forEach(function (i) {
          out.push({kind: 'Account', label: ids[i] + (names ? ' · ' + names[i] : ''),
                    accounts: [i]});
        });
      }
      return out.slice(0, LIMIT);
    },

    search: function (query) {
      var list = this._list, found = this._found = this.matches(query), self = this;
      list.textContent = '';
      var q = String(query).trim();
      if (q && this.d.sampled && this.layers.source) {
        el('div', 'tt-sample', list, 'Accounts: only the ' +
           this.layers.source.count.toLocaleString() + ' drawn (a sample) are searched');
      }
      found.forEach(function (m, k) {
        var b = el('button', 'tt-result', list);
        b.type = 'button'; b.setAttribute('role', 'option');
        b.title = m.kind + ': ' + m.label;  // the whole text where the row cuts it
        el('span', 'tt-kind', b, m.kind);
        b.appendChild(document.createTextNode(m.label));
        L.DomEvent.on(b, 'click', function () { self.choose(k); });
      });
      if (q && !found.length) el('div', 'tt-none', list, 'No match');
      list.style.display = q ? '' : 'none';
      return found;
    },

    _key: function (e) {
      if (e.key === 'Enter') {
        e.preventDefault();
        var found = this.search(this._input.value);  // what is typed now, not 120 ms ago
        if (found.length) this.choose(0);
      } else if (e.key === 'Escape') {
        this.clear();
      } else if (e.key === 'ArrowDown') {
        var first = this._list.querySelector('.tt-result');
        if (first) { e.preventDefault(); first.focus(); }
      }
    },

    _listKey: function (e) {
      var t = e.target;
      if (e.key === 'ArrowDown' && t.nextElementSibling) {
        e.preventDefault(); t.nextElementSibling.focus();
      } else if (e.key === 'ArrowUp') {
        var up = t.previousElementSibling;
        e.preventDefault(); (up && up.classList.contains('tt-result') ? up : this._input).focus();
      } else if (e.key === 'Escape') {
        this.clear(); this._input.focus();
      }
    },

    clear: function () {
      this._input.value = '';
      this._list.textContent = '';
      this._list.style.display = 'none';
      this._marks.clearLayers();
      this.chosen = null;
    },

    choose: function (k) {
      var m = this._found[k], map = this._map, marks = this._marks;
      marks.clearLayers();
      this._list.style.display = 'none';
      this._input.value = m.label;
      this.chosen = m;
      if (m.postal !== undefined) {
        var postal = this._acc.text[this.d.accountFields.postal];
        m.accounts = [];
        for (var i = 0; i < postal.length; i++) if (postal[i] === m.postal) m.accounts.push(i);
      }
      var bounds = L.latLngBounds([]);
      if (m.territories) {
        var shapes = this.layers.territories.getLayers(), d = this.d;
        m.territories.forEach(function (t) {
          var b = d.bounds[t];
          bounds.extend([[b[0], b[1]], [b[2], b[3]]]);
          L.geoJSON(shapes[t].feature, {
            pane: 'territoryHighlight', interactive: false,
            style: {color: MARK, weight: 5, opacity: 1, fill: false}
          }).addTo(marks);
        });
        map.fitBounds(bounds, {padding: [40, 40], maxZoom: 12, animate: false});
      } else {
        var src = this.layers.source;
        m.accounts.slice(0, 1000).forEach(function (i) {
          var at = L.latLng(src.lat[i], src.lon[i]);
          bounds.extend(at);
          L.circleMarker(at, {pane: 'territoryHighlight', interactive: false, radius: 9,
                              color: MARK, weight: 3, fill: false}).addTo(marks);
        });
        if (m.accounts.length === 1) {
          map.setView(bounds.getCenter(), Math.max(map.getZoom(), 11), {animate: false});
        } else {
          map.fitBounds(bounds, {padding: [40, 40], maxZoom: 13, animate: false});
        }
      }
    },

    // ---- filters -----------------------------------------------------------------------------
    legend: function () {  // the territory legend's entries become buttons
      var box = document.querySelector('.territory-kpi-legend'), self = this;
      if (!box || !this.d.steps) return;
      var rows = [].filter.call(box.children, function (c) {
        return c.querySelector && c.querySelector('.territory-swatch');
      });
      this._stepButtons = rows.map(function (row, k) {
        var b = document.createElement('button');
        b.type = 'button';
        b.className = 'territory-legend-item territory-legend-toggle';
        b.title = 'Show only the territories of this colour (click more to add)';
        while (row.firstChild) b.appendChild(row.firstChild);
        row.parentNode.replaceChild(b, row);
        L.DomEvent.on(b, 'click', function () { self.toggleStep(k); });
        return b;
      });
      var reset = this._stepReset = el('button', 'territory-legend-reset', null, 'Show all');
      reset.type = 'button';
      var last = this._stepButtons[this._stepButtons.length - 1];
      if (last) last.parentNode.insertBefore(reset, last.nextSibling);
      L.DomEvent.on(reset, 'click', this.showAll, this);
      L.DomEvent.disableClickPropagation(box);
    },

    toggleStep: function (k) {
      if (this.steps.has(k)) this.steps.delete(k); else this.steps.add(k);
      if (this._stepButtons && this.steps.size === this._stepButtons.length) this.steps.clear();
      this._apply();
    },

    showAll: function () {
      this.steps.clear(); this.rep = '';
      if (this._select) this._select.value = '';
      (window.territoryPoints || []).forEach(function (l) { if (l.showAll) l.showAll(); });
      this._apply();
    },

    shown: function (k) {
      var step = this.d.steps ? this.d.steps[k] : -1;
      return (!this.steps.size || this.steps.has(step)) &&
        (!this.rep || (this.d.reps && this.d.reps[k] === this.rep));
    },

    _maskPoints: function () {  // accounts of dimmed territories are not drawn
      var src = this.layers.source, pt = this.d.pointTerritory;
      if (!src || !pt) return;
      if (!this._pointCode) {
        var raw = L.TerritoryPoints.bytes(pt.code).buffer;
        this._pointCode = pt.width === 4 ? new Uint32Array(raw) : new Uint16Array(raw);
      }
      var all = !this.steps.size && !this.rep, on = [], code = this._pointCode;
      if (all && !src.mask) return;
      for (var k = 0; k < this.d.ids.length; k++) on.push(this.shown(k));
      var mask = src.mask || (src.mask = new Uint8Array(code.length));
      for (var i = 0; i < code.length; i++) mask[i] = code[i] && !on[code[i] - 1] ? 1 : 0;
      (window.territoryPoints || []).forEach(function (l) {
        if (l.source === src && l._map) l._redraw();
      });
    },

    visible: function () {  // ids of the territories not dimmed by a filter
      var out = [];
      for (var k = 0; k < this.d.ids.length; k++) if (this.shown(k)) out.push(this.d.ids[k]);
      return out;
    },

    _apply: function () {
      var shapes = this.layers.territories.getLayers(), labels = this.layers.labels.getLayers();
      var n = 0, total = this.d.ids.length;
      for (var k = 0; k < total; k++) {
        var on = this.shown(k);
        n += on ? 1 : 0;
        if (shapes[k] && shapes[k]._path) {
          shapes[k]._path.classList.toggle('territory-dimmed', !on);
        }
        if (labels[k] && labels[k]._icon) {
          labels[k]._icon.classList.toggle('territory-dimmed-label', !on);
        }
      }
      this._maskPoints();
      var self = this;
      (this._stepButtons || []).forEach(function (b, k) {
        var off = self.steps.size > 0 && !self.steps.has(k);
        b.classList.toggle('territory-legend-off', off);
        b.setAttribute('aria-pressed', self.steps.has(k) ? 'true' : 'false');
      });
      var filtered = n < total || this.steps.size > 0 || !!this.rep;
      if (this._stepReset) this._stepReset.style.display = this.steps.size ? '' : 'none';
      this._reset.style.display = filtered ? '' : 'none';
      this._status.textContent = filtered ? 'Showing ' + n + ' of ' + total + ' territories' : '';
      this._status.style.display = filtered ? '' : 'none';
    }
  });

  L.territoryTools = function (map, layers, data) {
    var tools = new Tools(layers, data);
    tools.addTo(map);
    tools.legend();
    tools._apply();
    window.territoryTools = tools;
    return tools;
  };
})();
