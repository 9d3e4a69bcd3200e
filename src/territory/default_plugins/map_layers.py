"""Built-in map layers: accounts coloured by each segment axis."""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory.extensions import MapLayer
from territory.hookspecs import hookimpl
from territory.maps import account_points
from territory.maps.points import PointsLayer

# Colour-blind-safe categorical palette (Okabe-Ito), then grey for the rest.
PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
           "#000000"]  # fmt: skip
OTHER = "#999999"


def segment_layers(result, fmap) -> None:
    """One hidden layer per segment axis, accounts coloured by label (top 8 labels, rest grey),
    with a legend shown while the layer is on.

    The layers share the coordinates of the map's accounts (see
    :func:`territory.maps.account_points`); each adds a label code per account and its labels.
    """
    if result.labels is None or result.labels.empty or result.accounts is None:
        return
    points = account_points(result, fmap)
    if not len(points.rows):
        return
    for axis in result.labels.columns:
        values = result.labels[axis].to_numpy(dtype=object)[points.rows]
        labels = pd.Series(values).fillna("(none)").astype(str)
        counts = labels.value_counts()  # most accounts first
        table = list(counts.index)
        code = pd.Categorical(labels, categories=table).codes
        tone = [min(i, len(PALETTE)) for i in range(len(table))]
        shown = table[: len(PALETTE)]
        rest = len(table) - len(shown)
        if rest:
            shown.append(f"{rest:,} other label" + ("s" if rest > 1 else ""))
        PointsLayer(
            f"Accounts by {axis}",  # a plain-text layer name: the layer control escapes it
            points.source,
            code.astype(np.int64),
            PALETTE[: len(table)] + ([OTHER] if rest else []),
            tone,
            field=str(axis),
            labels=table,
            radius=points.radius,
            show=False,
            legend=f"Accounts by {axis}",
            legend_labels=shown,
            notes=points.notes,
        ).add_to(fmap)


@hookimpl
def register_map_layers(register):
    register(MapLayer("segments", segment_layers, "Accounts coloured by each segment axis."))
