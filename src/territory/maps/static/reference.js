/* The "Reference" overlay: grey country / US state lines and major cities. Lines and dots sit
   in a pane above the territory fills and below their labels; nothing in it is interactive.
   City labels appear by zoom, the largest cities first. Names are set with textContent. */
L.TerritoryReference = L.LayerGroup.extend({
  initialize: function (data, options) {
    L.LayerGroup.prototype.initialize.call(this, [], options);
    this._data = data;
    this.options.attribution = data.attribution;
  },
  onAdd: function (map) {
    if (!map.getPane('territoryReference')) {
      var pane = map.createPane('territoryReference');
      pane.style.zIndex = 430;
      pane.style.pointerEvents = 'none';
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
    var line = function (style) {
      return function (g) {
        return L.geoJSON(g, {style: style, interactive: false, pane: pane, renderer: renderer});
      };
    };
    var country = line({color: '#555', weight: 1, opacity: 0.7, fill: false});
    var state = line({color: '#777', weight: 0.7, opacity: 0.6, fill: false, dashArray: '3 3'});
    for (var i = 0; i < d.states.length; i++) this.addLayer(state(d.states[i]));
    for (var i = 0; i < d.countries.length; i++) this.addLayer(country(d.countries[i]));
    this._labels = [];
    for (var i = 0; i < d.cities.length; i++) {
      var c = d.cities[i], at = [c[4], c[3]];
      this.addLayer(L.circleMarker(at, {
        radius: 2.5, color: '#333', weight: 1, fillColor: '#fff', fillOpacity: 1,
        interactive: false, pane: pane, renderer: renderer, className: 'territory-city-dot'
      }));
      var el = document.createElement('span');
      el.className = 'territory-city-label';
      el.textContent = c[0];
      el.style.cssText = 'position:absolute;left:4px;top:-7px;white-space:nowrap;' +
        'font:italic 10px system-ui,sans-serif;color:#333;' +
        'text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 2px #fff;';
      var label = L.marker(at, {
        icon: L.divIcon({html: el, className: 'territory-city', iconSize: [0, 0]}),
        interactive: false, keyboard: false, pane: pane
      });
      label._population = c[2];
      this._labels.push(label);
    }
    this._built = true;
  },
  // zoom 3 and below: cities of 8 million and more labelled; 4: 4 M; 5: 2 M; then all
  _zoomed: function () {
    var z = this._map.getZoom();
    var min = z <= 3 ? 8e6 : z <= 4 ? 4e6 : z <= 5 ? 2e6 : 0;
    for (var i = 0; i < this._labels.length; i++) {
      var label = this._labels[i], on = label._population >= min;
      if (on && !this.hasLayer(label)) this.addLayer(label);
      else if (!on && this.hasLayer(label)) this.removeLayer(label);
    }
  }
});
