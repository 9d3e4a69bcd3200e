"""Small map elements: inlined Leaflet assets, a legend, a title box and the layer control.

Each element renders a fixed template whose output is kept as text (see
:mod:`territory.maps.safe`); every user-supplied string is escaped with
:func:`~territory.maps.safe.text` or :func:`~territory.maps.safe.script_json` on its way in.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import folium
from jinja2 import Template

from territory.maps.safe import Raw, SafeFigure, SafeMacroElement, script_json, text


@cache
def vendored(package: str, filename: str) -> str:
    """Text of a vendored browser asset (see scripts/vendor_js.py)."""
    return (resources.files("territory.maps") / "vendor" / package / filename).read_text("utf-8")


@cache
def static_asset(filename: str) -> str:
    """Text of a browser asset of this package (``territory/maps/static``: our own JS/CSS)."""
    return (resources.files("territory.maps") / "static" / filename).read_text("utf-8")


def legend_css() -> str:
    """The ``<style>`` of the title box and the legends (``static/legend.css``)."""
    return "<style>\n" + static_asset("legend.css").replace("</style", "<\\/style") + "</style>"


class OfflineMap(folium.Map, SafeMacroElement):
    """A folium Map whose Leaflet JS/CSS are inlined, so the HTML opens with no network.

    folium's default CDN links (Leaflet, jQuery, Bootstrap, Font Awesome) are dropped: the
    territory map needs only Leaflet. The page around it is a :class:`SafeFigure`, so no
    element's output is ever compiled as a template.
    """

    default_js: list = []
    default_css: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        SafeFigure().add_child(self)
        header = self.get_root().header
        # Closing-tag sequences cannot occur in the vendored files; guard anyway.
        css = vendored("leaflet", "leaflet.css").replace("</style", "<\\/style")
        js = vendored("leaflet", "leaflet.js").replace("</script", "<\\/script")
        header.add_child(Raw(f"<style>{css}</style>"), name="leaflet_css")
        header.add_child(Raw(f"<script>{js}</script>"), name="leaflet_js")
        header.add_child(Raw(legend_css()), name="territory_legend_css")  # title, legends


# The white box of the title (inline) and of the legends (the same rules in static/legend.css,
# where legends stack in one column at the bottom right and shrink on a small screen).
_BOX = (
    "position:absolute;z-index:1000;background:rgba(255,255,255,.92);padding:8px 10px;"
    "border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);font:13px/1.35 system-ui,sans-serif;"
)


class TitleBox(SafeMacroElement):
    """Title, date and data source in the top-left corner of the page; the title is also the
    page's ``<title>``."""

    _template = Template(
        """{% macro html(this, kwargs) %}
<div class="territory-title" style="{{ this.box }}top:10px;left:50px;max-width:40%;">
  <div style="font-weight:600;font-size:15px;">{{ this.title }}</div>
  <div style="color:#444;">{{ this.subtitle }}</div>
  <div style="color:#666;font-size:11px;margin-top:4px;">{{ this.source }}</div>
</div>
{% endmacro %}"""
    )

    def __init__(self, title: str, subtitle: str, source: str):
        super().__init__()
        self._name = "TitleBox"
        self.box = _BOX
        self.title = text(title)
        self.subtitle = text(subtitle)
        self.source = text(source)

    def render(self, **kwargs):
        header = self.get_root().header
        header.add_child(Raw(f"<title>{self.title}</title>"), name="territory_title")
        super().render(**kwargs)


class Legend(SafeMacroElement):
    """A stepped colour legend for a KPI (bottom right, below the legends of layers)."""

    _template = Template(
        """{% macro html(this, kwargs) %}
<div class="territory-legends">
<div class="territory-legend territory-kpi-legend">
  <div class="territory-legend-title">{{ this.caption }}</div>
  {% for colour, label in this.steps %}
  <div><span class="territory-swatch" style="background:{{ colour }};"></span>{{ label }}</div>
  {% endfor %}
  {% if this.note %}<div class="territory-legend-note">{{ this.note }}</div>{% endif %}
</div>
</div>
{% endmacro %}"""
    )

    def __init__(self, caption: str, steps: list[tuple[str, str]], note: str = ""):
        super().__init__()
        self._name = "Legend"
        self.caption = text(caption)
        self.steps = [(c, text(label)) for c, label in steps]  # colours are ours
        self.note = text(note)


class LayerControl(folium.LayerControl, SafeMacroElement):
    """folium's layer control, with every layer name shown as plain text.

    Leaflet inserts layer names as HTML, so each name is escaped with :func:`text` here (pass
    names unescaped) and handed to the page as JSON.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.control.layers(
  {{ this.base_json }}, {{ this.overlays_json }}, {{ this.options_json }}
).addTo({{ this._parent.get_name() }});
if ({{ this.small_json }}) {
  // collapsed after the first paint: a control created collapsed leaves parts of the
  // territory layer unpainted in Chromium
  setTimeout(function () {
    var control = {{ this.get_name() }};
    control.options.collapsed = true;  // and behave as Leaflet's collapsed control does
    control._map.on("click", control.collapse, control);
    L.DomEvent.on(control.getContainer(),
                  {mouseenter: control._expandSafely, mouseleave: control.collapse}, control);
    control.collapse();
  }, 0);
}
{% endmacro %}"""
    )

    def __init__(self, *args, collapse_below: tuple[int, int] | None = None, **kwargs):
        """``collapse_below=(width, height)``: collapsed when the window is narrower or lower
        than that (open lists cover too much of a small screen)."""
        super().__init__(*args, **kwargs)
        self.collapse_below = collapse_below

    def render(self, **kwargs):
        self.reset()
        for item in self._parent._children.values():
            if isinstance(item, folium.map.Layer) and item.control:
                group = self.overlays if item.overlay else self.base_layers
                group[text(item.layer_name)] = item.get_name()
        # the values are element variable names, emitted as JavaScript identifiers
        self.base_json, self.overlays_json = (
            "{" + ",".join(f"{script_json(k)}:{v}" for k, v in group.items()) + "}"
            for group in (self.base_layers, self.overlays)
        )
        self.options_json = script_json(self.options)
        if self.collapse_below:
            w, h = (int(v) for v in self.collapse_below)
            self.small_json = f"(window.innerWidth < {w} || window.innerHeight < {h})"
        else:
            self.small_json = "false"
        SafeMacroElement.render(self, **kwargs)
