/* The PNG button: the current view (map, title, legends, scale bar) as a PNG download.
   Drawn in the page by html-to-image, offline; the controls are left out of the image. */
(function () {
  var LEFT_OUT = ['leaflet-control-zoom', 'leaflet-control-layers', 'territory-export',
                  'territory-editor', 'territory-tools', 'territory-legend-reset'];

  function keep(node) {
    if (!node.classList) return true;
    for (var i = 0; i < LEFT_OUT.length; i++) {
      if (node.classList.contains(LEFT_OUT[i])) return false;
    }
    return true;
  }

  function fileName() {
    var name = (document.title || 'map').replace(/[^A-Za-z0-9_-]+/g, '-');
    return (name.replace(/^-+|-+$/g, '').slice(0, 80) || 'map') + '.png';
  }

  // the image as a Blob: the whole window (title and legends sit outside the map element)
  window.territoryPng = function () {
    var w = window.innerWidth, h = window.innerHeight;
    return htmlToImage.toBlob(document.body, {
      filter: keep, width: w, height: h, backgroundColor: '#ffffff', skipFonts: true,
      pixelRatio: 1, style: {width: w + 'px', height: h + 'px'}
    });
  };

  window.territorySavePng = function () {
    return window.territoryPng().then(function (blob) {
      var a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = fileName();
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 5000);
    });
  };

  L.Control.TerritoryExport = L.Control.extend({
    options: {position: 'topleft'},
    onAdd: function () {
      var box = L.DomUtil.create('div', 'leaflet-bar territory-export');
      var button = L.DomUtil.create('a', 'territory-export-png', box);
      button.href = '#';
      button.textContent = 'PNG';
      button.title = 'Save the current view as a PNG image';
      button.setAttribute('role', 'button');
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.on(button, 'click', function (e) {
        L.DomEvent.preventDefault(e);
        if (button.className.indexOf('busy') >= 0) return;
        L.DomUtil.addClass(button, 'busy');
        window.territorySavePng().then(function () {
          L.DomUtil.removeClass(button, 'busy');
        }, function (err) {
          L.DomUtil.removeClass(button, 'busy');
          console.warn('PNG export failed: ' + err);
        });
      });
      return box;
    }
  });
  L.territoryExport = function (options) { return new L.Control.TerritoryExport(options); };
})();
