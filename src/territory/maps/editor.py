"""Redraw territories in the shared HTML: the building-blocks layer with an editing panel.

A planner ticks *Edit*, picks a territory, and clicks blocks to move them into it; the totals
and balance table updates at once, and *Export alignment CSV* saves the alignment for
``territory apply``: every column of the input alignment in its order, values as given, with a
moved block's territory id, name, parent and rep taken from its new territory. *Draw shape*
adds vertices with each map click; *Finish* closes the polygon under the name typed, and
*Export shapes GeoJSON* saves them as a territory layer.
Everything runs in the page (no server); every name is set as text, never as markup.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from folium.map import Layer
from jinja2 import Template

from territory.maps.elements import static_asset
from territory.maps.geojson import feature_collection
from territory.maps.safe import Raw, SafeMacroElement, script_json


class AlignmentEditor(Layer, SafeMacroElement):
    """The building blocks as a layer, with the in-page alignment editor.

    ``blocks`` (EPSG:4326, web-simplified) has ``block_id`` and ``territory_id``;
    ``territories`` lists ``territory_id`` and ``name`` in display order with ``colours``;
    ``measures`` gives ``accounts`` and ``revenue`` per block (by ``block_id``).
    ``alignment`` is the input alignment as ``(table, columns by role)`` (as read, see
    :attr:`territory.territories.TerritoryLayer.alignment`, or :func:`table_alignment`): the
    export then keeps its rows and columns as given. Without it the export has
    ``block_id,territory_id,name``.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = window.territoryEditor = new L.TerritoryEditor({{ this.data }})
  .attach({{ this._parent.get_name() }});
{% endmacro %}"""
    )

    def __init__(
        self,
        blocks: gpd.GeoDataFrame,
        territories: pd.DataFrame,
        colours: list[str],
        measures: pd.DataFrame,
        *,
        balance: str = "revenue",
        tolerance: float = 0.05,
        name: str = "Building blocks (edit)",
        show: bool = False,
        alignment: tuple[pd.DataFrame, dict] | None = None,
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TerritoryEditor"
        index = {t: i for i, t in enumerate(territories["territory_id"])}
        terr = [index.get(t, -1) if pd.notna(t) else -1 for t in blocks["territory_id"]]
        sums = measures.reindex(blocks["block_id"]).fillna(0.0)
        features = gpd.GeoDataFrame(
            {"i": np.arange(len(blocks))}, geometry=blocks.geometry.to_numpy(), crs=4326
        )
        self.data = script_json(
            {
                "blocks": feature_collection(features),
                "ids": blocks["block_id"].astype(str).tolist(),
                "territory": terr,
                "ids_t": territories["territory_id"].astype(str).tolist(),
                "names": territories["name"].astype(str).tolist(),
                "colours": list(colours),
                "accounts": _column(sums, "accounts").astype(int).tolist(),
                "revenue": _column(sums, "revenue").round(2).tolist(),
                "balance": balance if balance in ("accounts", "revenue") else "revenue",
                "tolerance": float(tolerance),
                "alignment": None
                if alignment is None
                else _alignment_data(*alignment, blocks["block_id"], territories["territory_id"]),
            }
        )

    def render(self, **kwargs):
        root = self.get_root()
        if "territory_editor_js" not in root.header._children:
            css = static_asset("editor.css").replace("</style", "<\\/style")
            js = static_asset("editor.js").replace("</script", "<\\/script")
            page = f"\n<style>\n{css}</style>\n<script>\n{js}</script>\n"
            root.header.add_child(Raw(page), name="territory_editor_js")
        super().render(**kwargs)


def table_alignment(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """An alignment table given to a map, and its columns by role (found as ``territory
    apply`` finds them: ``block_id``, ``territory_id``, ``name``, ``parent``, ``rep`` ...)."""
    from territory.io import Source
    from territory.validate import alignment_columns

    if isinstance(frame, gpd.GeoDataFrame):  # shapes are the blocks' business, not the table's
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return frame, alignment_columns(frame, Source("the alignment table given to the map"))


def _alignment_data(frame: pd.DataFrame, roles: dict, block_ids, territory_ids) -> dict:
    """The input alignment for the page: columns, rows as text, the block of each row and the
    territory columns (name, parent, rep: first non-blank value of each territory)."""
    from territory.validate import id_text

    columns = [str(c) for c in frame.columns]
    cells = [["" if _blank(v) else str(v) for v in row] for row in frame.itertuples(index=False)]
    index = {b: i for i, b in enumerate(pd.Series(block_ids).astype(str))}
    own = id_text(frame[roles["block"]])
    block = [index.get(b, -1) if pd.notna(b) else -1 for b in own]
    terr = id_text(frame[roles["territory"]]).fillna("").to_numpy(dtype=object)
    keys = [str(t) for t in territory_ids]
    ids = (roles["block"], roles["territory"])
    attributes = []
    for role in ("name", "parent", "rep"):
        col = roles.get(role)
        if col is None or col in ids:
            continue
        j = columns.index(str(col))
        first: dict[str, str] = {}
        for t, row in zip(terr, cells, strict=True):
            if t and row[j].strip() and t not in first:
                first[t] = row[j]
        attributes.append({"column": j, "values": [first.get(t, "") for t in keys]})
    return {
        "columns": columns,
        "rows": cells,
        "block": block,
        "territory": columns.index(str(roles["territory"])),
        "attributes": attributes,
    }


def _blank(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(0.0, index=frame.index)
