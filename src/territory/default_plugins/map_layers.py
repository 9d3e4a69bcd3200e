"""Built-in map layers: accounts coloured by each segment axis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from territory.extensions import MapLayer
from territory.hookspecs import hookimpl
from territory.maps.points import PointsLayer

# Colour-blind-safe categorical palette (Okabe-Ito), then grey for the rest.
PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
           "#000000"]  # fmt: skip
OTHER = "#999999"


def segment_layers(result, fmap, max_accounts: int = 250_000) -> None:
    """One hidden layer per segment axis, accounts coloured by label (top 8 labels, rest grey)."""
    if result.labels is None or result.labels.empty or result.accounts is None:
        return
    accounts = result.accounts.to_geodataframe().to_crs(4326)
    located = np.flatnonzero(accounts.geometry.notna().to_numpy())
    if len(located) > max_accounts:
        located = located[np.linspace(0, len(located) - 1, max_accounts).astype(int)]
    points = accounts.geometry.to_numpy()[located]
    for axis in result.labels.columns:
        labels = pd.Series(result.labels[axis].to_numpy(dtype=object)[located]).fillna("(none)")
        top = list(labels.value_counts().index[: len(PALETTE)])
        index = {v: i for i, v in enumerate(top)}
        PointsLayer(
            f"Accounts by {axis}",  # a plain-text layer name: the layer control escapes it
            shapely.get_y(points),
            shapely.get_x(points),
            [index.get(v, len(top)) for v in labels],
            PALETTE[: len(top)] + [OTHER],
            {"Account": accounts["account_id"].to_numpy()[located], str(axis): labels.to_numpy()},
            radius=3.5,
            show=False,
        ).add_to(fmap)


@hookimpl
def register_map_layers(register):
    register(MapLayer("segments", segment_layers, "Accounts coloured by each segment axis."))
