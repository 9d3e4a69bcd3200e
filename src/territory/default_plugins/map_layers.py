"""Built-in map layers: accounts coloured by each segment axis."""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from territory.extensions import MapLayer
from territory.hookspecs import hookimpl

# Colour-blind-safe categorical palette (Okabe-Ito), then grey for the rest.
PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
           "#000000"]  # fmt: skip
OTHER = "#999999"


def segment_layers(result, fmap, max_accounts: int = 20000) -> None:
    """One hidden layer per segment axis, accounts coloured by label (top 8 labels, rest grey)."""
    if result.labels is None or result.labels.empty or result.accounts is None:
        return
    accounts = result.accounts.to_geodataframe().to_crs(4326)
    located = np.flatnonzero(accounts.geometry.notna().to_numpy())
    if len(located) > max_accounts:
        located = located[np.linspace(0, len(located) - 1, max_accounts).astype(int)]
    for axis in result.labels.columns:
        labels = result.labels[axis].to_numpy(dtype=object)[located]
        top = pd.Series(labels).value_counts().index[: len(PALETTE)]
        colour = dict(zip(top, PALETTE, strict=False))
        props = pd.DataFrame(
            {
                "account": [
                    html.escape(str(v)) for v in accounts["account_id"].to_numpy()[located]
                ],
                "segment": [html.escape(str(v)) for v in labels],
                "_colour": [colour.get(v, OTHER) for v in labels],
            }
        )
        layer = gpd.GeoDataFrame(props, geometry=accounts.geometry.to_numpy()[located], crs=4326)
        folium.GeoJson(
            layer.to_json(drop_id=True),
            name=f"Accounts by {html.escape(str(axis))}",
            show=False,
            marker=folium.CircleMarker(radius=4, weight=0.5, color="#222", fill_opacity=0.9),
            style_function=lambda f: {"fillColor": f["properties"]["_colour"]},
            tooltip=folium.GeoJsonTooltip(["account", "segment"],
                                          aliases=["Account", html.escape(str(axis))]),
        ).add_to(fmap)  # fmt: skip


@hookimpl
def register_map_layers(register):
    register(MapLayer("segments", segment_layers, "Accounts coloured by each segment axis."))
