/* The "Reference" overlay: grey country / US state lines and major cities. Lines and dots sit
   in a pane above the territory fills, cities above the accounts, all below the territory
   labels; nothing in it is interactive.
   City labels appear by zoom, the largest cities first. Names are set with textContent. */
L.TerritoryReference = L.LayerGroup.extend({
  initialize: function (data, options) {
    L.LayerGroup.prototype.initialize.call(this, [], options);
    this._data = data;
    this.options.attribution = data.attribution;
  },
  onAdd: function (map) {
    // lines above the territory fills (400), cities above the accounts (450), both below
    // the territory labels (markers, 600)
    var panes = {territoryReference: 430, territoryReferenceLabels: 460};
    for (var name in panes) {
      if (!map.getPane(name)) {
        var pane = map.createPane(name);
        pane.style.zIndex = panes[name];
        pane.style.pointerEvents = 'none';
      }
    }
    if (!this._built) this._build();
    L.LayerGroup.prototype.onAdd.call(this, map);
    map.on('zoomend', this._zoomed, this);
    this._zoomed();
  },
  onRemove: function (map) {
    map.off('zoomend', this._zoomed, this);
    L.LayerGroup.prototype.onRemove.call(this, map);
  },
  _build: function () {
    var d = this._data, pane = 'territoryReference';
    var renderer = L.canvas({pane: pane, padding: 0.5});
    var lines = function (geoms) {  // GeoJSON (Multi)LineStrings -> one list of lat/lng lines
      var out = [];
      for (var i = 0; i < geoms.length; i++) {
        var g = geoms[i];
        if (g.type === 'LineString') out.push(L.GeoJSON.coordsToLatLngs(g.coordinates, 0));
        else if (g.type === 'MultiLineString') {
          out = out.concat(L.GeoJSON.coordsToLatLngs(g.coordinates, 1));
        }
      }
      return out;
    };
    var common = {interactive: false, pane: pane, renderer: renderer, smoothFactor: 0.5};
    // one polyline per kind (a canvas keeps its layers in a list: a few, not hundreds)
    if (d.states.length) {
      this.addLayer(L.polyline(lines(d.states), L.extend({color: '#777', weight: 0.7,
        opacity: 0.6, dashArray: '3 3'}, common)));
    }
    if (d.countries.length) {
      this.addLayer(L.polyline(lines(d.countries), L.extend({color: '#555', weight: 1,
        opacity: 0.7}, common)));
    }
    this._labels = [];
    for (var i = 0; i < d.cities.length; i++) {
      var c = d.cities[i];
      var el = document.createElement('div');
      el.className = 'territory-city';
      var dot = document.createElement('span');
      dot.style.cssText = 'position:absolute;left:-3px;top:-3px;width:4px;height:4px;' +
        'border:1px solid #333;border-radius:50%;background:#fff;';
      var name = document.createElement('span');
      name.className = 'territory-city-label';
      name.textContent = c[0];
      name.style.cssText = 'position:absolute;left:4px;top:-7px;white-space:nowrap;' +
        'font:italic 10px system-ui,sans-serif;color:#333;' +
        'text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 2px #fff;';
      el.appendChild(dot);
      el.appendChild(name);
      this.addLayer(L.marker([c[4], c[3]], {
        icon: L.divIcon({html: el, className: 'territory-city-icon', iconSize: [0, 0]}),
        interactive: false, keyboard: false, pane: 'territoryReferenceLabels'
      }));
      this._labels.push([name, c[2]]);
    }
    this._built = true;
  },
  // zoom 3 and below: cities of 8 million and more labelled; 4: 4 M; 5: 2 M; then all
  _zoomed: function () {
    var z = this._map.getZoom();
    var min = z <= 3 ? 8e6 : z <= 4 ? 4e6 : z <= 5 ? 2e6 : 0;
    for (var i = 0; i < this._labels.length; i++) {
      this._labels[i][0].style.display = this._labels[i][1] >= min ? '' : 'none';
    }
    this._map.fire('territorylabels');  // the territory labels make room for the names shown
  }
});
