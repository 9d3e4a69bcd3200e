"""Small map elements: inlined Leaflet assets, a legend and a title box.

Each element renders a fixed template; every user-supplied string is HTML-escaped before it
reaches the page.
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources

import folium
from branca.element import Element, MacroElement
from jinja2 import Template


@cache
def vendored(package: str, filename: str) -> str:
    """Text of a vendored browser asset (see scripts/vendor_js.py)."""
    return (resources.files("territory.maps") / "vendor" / package / filename).read_text("utf-8")


class OfflineMap(folium.Map):
    """A folium Map whose Leaflet JS/CSS are inlined, so the HTML opens with no network.

    folium's default CDN links (Leaflet, jQuery, Bootstrap, Font Awesome) are dropped: the
    territory map needs only Leaflet.
    """

    default_js: list = []
    default_css: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        header = self.get_root().header
        # Closing-tag sequences cannot occur in the vendored files; guard anyway.
        css = vendored("leaflet", "leaflet.css").replace("</style", "<\\/style")
        js = vendored("leaflet", "leaflet.js").replace("</script", "<\\/script")
        header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css")
        header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js")


_BOX = (
    "position:absolute;z-index:1000;background:rgba(255,255,255,.92);padding:8px 10px;"
    "border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);font:13px/1.35 system-ui,sans-serif;"
)


class TitleBox(MacroElement):
    """Title, date and data source in the top-left corner of the page."""

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
        self.title = html.escape(title)
        self.subtitle = html.escape(subtitle)
        self.source = html.escape(source)


class Legend(MacroElement):
    """A stepped colour legend for a numeric KPI (bottom right)."""

    _template = Template(
        """{% macro html(this, kwargs) %}
<div class="territory-legend" style="{{ this.box }}bottom:20px;right:10px;">
  <div style="font-weight:600;margin-bottom:4px;">{{ this.caption }}</div>
  {% for colour, label in this.steps %}
  <div><span style="display:inline-block;width:18px;height:12px;margin-right:6px;
    vertical-align:middle;border:1px solid #888;background:{{ colour }};"></span>{{ label }}</div>
  {% endfor %}
</div>
{% endmacro %}"""
    )

    def __init__(self, caption: str, steps: list[tuple[str, str]]):
        super().__init__()
        self._name = "Legend"
        self.box = _BOX
        self.caption = html.escape(caption)
        self.steps = [(c, html.escape(label)) for c, label in steps]
