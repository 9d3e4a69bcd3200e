"""Printing and saving a map: a print stylesheet and a "PNG" button (offline).

Printing the page (A4 or Letter, landscape) gives the map with its title, subtitle, legends
and scale bar; the zoom, layer and search controls and the editor panel are left out. The PNG
button saves the current view, title and legends included, as an image drawn in the page by
the vendored ``html-to-image`` library (MIT; ``vendor/html-to-image``), with no network.
"""

from __future__ import annotations

from jinja2 import Template

from territory.maps.elements import static_asset, vendored
from territory.maps.safe import Raw, SafeMacroElement


class ExportControl(SafeMacroElement):
    """The print stylesheet and the PNG button (top left, under the zoom buttons)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
L.territoryExport().addTo({{ this._parent.get_name() }});
{% endmacro %}"""
    )

    def __init__(self):
        super().__init__()
        self._name = "TerritoryExport"

    def render(self, **kwargs):
        header = self.get_root().header
        if "territory_export" not in header._children:
            css = static_asset("export.css").replace("</style", "<\\/style")
            library = vendored("html-to-image", "html-to-image.js")
            js = (library + "\n" + static_asset("export.js")).replace("</script", "<\\/script")
            header.add_child(Raw(f"<style>{css}</style>\n<script>{js}</script>"),
                             name="territory_export")  # fmt: skip
        super().render(**kwargs)
