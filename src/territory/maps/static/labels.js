/* Territory labels that do not pile up: after each zoom or pan, labels are placed largest
   territory first and a label that would overlap one already placed is hidden until there is
   room for it (zoom in); then the reference layer's city names, where they have room. Hidden
   labels keep their text in the page. */
(function () {
  var CROWDED = 'territory-label-crowded', PAD = 2;

  function overlaps(a, b) {
    return a.left < b.right + PAD && b.left < a.right + PAD &&
           a.top < b.bottom + PAD && b.top < a.bottom + PAD;
  }

  // a territory label is centred on its point; a city name sits right of its dot
  function box(el) {
    var icon = el.closest('.leaflet-marker-icon'), p = icon && icon._leaflet_pos;
    var w = el.offsetWidth, h = el.offsetHeight;
    if (!p || !w) return null;
    var centred = el.classList.contains('territory-label');
    var left = p.x + (centred ? -w / 2 : el.offsetLeft), top = p.y + (centred ? -h / 2 : el.offsetTop);
    return {left: left, top: top, right: left + w, bottom: top + h};
  }

  function place(group) {
    var items = [];
    group.eachLayer(function (marker) {
      var el = marker._icon && marker._icon.querySelector('.territory-label');
      if (el) items.push(el);
    });
    items.sort(function (a, b) { return a.dataset.rank - b.dataset.rank; });
    var cities = group._map.getContainer().querySelectorAll('.territory-city-label');
    for (var c = 0; c < cities.length; c++) {
      if (cities[c].style.display !== 'none') items.push(cities[c]);
    }
    // read every size with all labels shown, then hide: one layout, not one per label. Boxes
    // are in the map's layer pixels, from each marker's position (what Leaflet placed it at)
    for (var i = 0; i < items.length; i++) items[i].classList.remove(CROWDED);
    var boxes = items.map(box);
    var kept = [];
    for (var j = 0; j < items.length; j++) {
      var b = boxes[j];
      if (!b) continue;
      var free = true;
      for (var k = 0; k < kept.length && free; k++) free = !overlaps(b, kept[k]);
      if (free) kept.push(b);
      else items[j].classList.add(CROWDED);
    }
  }

  L.territoryLabels = function (map, group) {
    var run = function () { if (map.hasLayer(group)) place(group); };
    // after the labels are in the page and the reference layer has shown its cities for the
    // new zoom
    var soon = function () { setTimeout(run, 0); };
    map.on('zoomend moveend resize territorylabels', soon);
    group.on('add', soon);
    map.whenReady(soon);
    return run;
  };
})();
