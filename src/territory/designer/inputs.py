"""Design inputs: blocks with their graph and measures, rep homes, locked blocks, reach.

Blocks, the current alignment, accounts and rep homes are read and checked by the plan's read
stage (:mod:`territory.stages.read`); accounts go to blocks by its assign stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from territory import columns as cols
from territory.designer.blocks import BlockGraph, build_graph
from territory.designer.measures import (
    account_measures,
    balance_weights,
    block_columns,
    keep_out_of_own_names,
    parse_balance,
)
from territory.errors import ValidationError
from territory.io import as_frame
from territory.stages.read import read_accounts_from, read_alignment, read_blocks, read_points
from territory.validate import Polygons


@dataclass
class Inputs:
    polygons: Polygons
    graph: BlockGraph
    measures: pd.DataFrame
    weight: pd.Series
    unassigned: pd.DataFrame
    notes: list[str]
    unaligned: pd.DataFrame | None = None
    rows: pd.DataFrame | None = None  # every account with its block


def load_inputs(
    blocks,
    accounts,
    balance_on,
    *,
    block_id,
    crs,
    account_options,
    current=None,
    visit_hours=1.0,
    speed_kmh=50.0,
    max_account_km=10.0,
    strict=False,
):
    polygons = read_blocks(blocks, id=block_id, crs=crs, strict=strict)
    notes = list(polygons.notes)
    align = None
    left_out = pd.Series(shapely.is_empty(polygons.frame.geometry.to_numpy()))
    if current is not None:
        align = read_alignment(current, polygons)
        blank = align["territory_id"].isna().to_numpy()
        if blank.any():
            notes.append(f"{blank.sum()} blocks the alignment leaves blank stay unaligned.")
            left_out |= ~polygons.frame[polygons.id].isin(set(align.loc[~blank, "block_id"]))
    # blocks with no shape (reported by prepare_polygons) and blocks the current alignment
    # leaves blank are left out of the design and written with a blank territory
    unaligned = None
    if left_out.any():
        unaligned = polygons.frame.loc[left_out.to_numpy(), ["block_id"]].assign(territory_id=None)
        unaligned = unaligned.reset_index(drop=True)
        polygons = Polygons(
            polygons.frame.loc[~left_out.to_numpy()].reset_index(drop=True),
            polygons.id,
            polygons.source,
            polygons.notes,
        )
    if not len(polygons.frame):
        raise ValidationError(f"No block of {polygons.source.name} has a shape to design with.")
    graph = build_graph(polygons)
    unassigned = pd.DataFrame(columns=["account_id", "method", "reason"])
    rows = None
    if accounts is not None:
        acc = read_accounts_from(accounts, **account_options)
        notes += acc.notes
        sums, rows = account_measures(acc, polygons, max_account_km)
        unassigned = rows.loc[rows["block_id"].isna()].drop(columns=["block_id"])
        if len(unassigned):
            notes.append(
                f"{len(unassigned)} accounts lie in no block (listed with reasons in "
                "unassigned.csv); they count in no territory."
            )
    else:
        sums = pd.DataFrame(index=graph.index)
    sums = keep_out_of_own_names(sums, notes, "Account")
    extra = keep_out_of_own_names(block_columns(polygons), notes, "Block layer")
    measures = sums.join(extra[[c for c in extra.columns if c not in sums.columns]])
    weight, measures = balance_weights(
        parse_balance(balance_on), measures, graph, visit_hours=visit_hours, speed_kmh=speed_kmh
    )
    inputs = Inputs(polygons, graph, measures, weight, unassigned, notes, unaligned, rows)
    return inputs, align


def read_homes(homes, polygons: Polygons, pos: pd.Series) -> pd.DataFrame:
    """Rep homes located in their blocks: ``territory_id``, ``rep``, ``parent``, ``pos``."""
    frame, source = as_frame(homes, "homes")
    tcol = cols.find_column(
        frame,
        None,
        cols.TERRITORY_ID[:-2] + ("rep", "name"),
        what="territory id",
        source=source,
        option="homes territory column",
    )
    acc = read_points(frame.assign(**{"__home": frame[tcol]}), id="__home", source=source)
    _, rows = account_measures(acc, polygons, max_distance_km=25.0)
    missing = rows["block_id"].isna().to_numpy()
    if missing.any():
        raise ValidationError(
            f"Rep homes in {source.name} lie in no block "
            f"({source.describe_rows(np.flatnonzero(missing))}: "
            f"{', '.join(map(str, rows.loc[missing, 'account_id'][:5]))}). Fix their "
            "coordinates or "
            "add the blocks they are in."
        )
    out = pd.DataFrame(
        {
            "territory_id": rows["account_id"].astype(str).to_numpy(),
            "pos": pos.reindex(rows["block_id"].astype(object)).to_numpy(),
        }
    )
    for col in ("rep", "parent", "region"):
        found = cols.find_column(
            frame, None, (col,), what=col, source=source, option=col, required=False
        )
        if found:
            out["parent" if col == "region" else col] = frame[found].to_numpy()
    out["x"], out["y"] = acc.x, acc.y
    out.attrs["crs"] = acc.crs
    same = out["pos"].duplicated(keep=False)
    if same.any():
        raise ValidationError(
            f"Homes of {', '.join(out.loc[same, 'territory_id'][:4])} fall in the same block "
            f"{polygons.frame[polygons.id].iloc[int(out.loc[same, 'pos'].iloc[0])]}: a block "
            "belongs to one territory. Use smaller blocks there or move a home."
        )
    return out


def read_locked(locked, pos: pd.Series) -> pd.DataFrame:
    frame, source = as_frame(locked, "locked blocks")
    bcol = cols.find_column(
        frame,
        None,
        cols.BLOCK_ID[:-1] + ("block_id",),
        what="block id",
        source=source,
        option="locked block column",
    )
    tcol = cols.find_column(
        frame,
        None,
        cols.TERRITORY_ID[:-2],
        what="territory id",
        source=source,
        option="locked territory column",
    )
    ids = frame[bcol].astype(str).str.strip()
    unknown = ~ids.isin(pos.index)
    if unknown.any():
        raise ValidationError(
            f"Locked blocks in {source.name} are not in the block layer: "
            f"{', '.join(ids[unknown][:5])} ({source.describe_rows(np.flatnonzero(unknown))})."
        )
    dup = ids.duplicated(keep=False) & ~frame.duplicated([bcol, tcol], keep=False)
    if dup.any():
        raise ValidationError(
            f"Blocks locked to two territories in {source.name}: {', '.join(ids[dup][:5])}."
        )
    return pd.DataFrame(
        {"pos": pos[ids].to_numpy(), "territory_id": frame[tcol].astype(str).str.strip().to_numpy()}
    ).drop_duplicates()


def reach(graph: BlockGraph, homes: pd.DataFrame, max_km: float, names, flags) -> np.ndarray:
    """(blocks x territories) mask: block centre within ``max_km`` of the territory's home."""
    import pyproj

    t = pyproj.Transformer.from_crs(homes.attrs["crs"], graph.crs, always_xy=True)
    hx, hy = t.transform(homes["x"].to_numpy(), homes["y"].to_numpy())
    order = [names.index(t) for t in homes["territory_id"]]
    d = np.hypot(
        graph.x[:, None] - np.asarray(hx)[None] / 1e3, graph.y[:, None] - np.asarray(hy)[None] / 1e3
    )
    allowed = np.zeros((len(graph), len(names)), dtype=bool)
    allowed[:, order] = d <= max_km
    nowhere = ~allowed.any(axis=1)
    if nowhere.any():
        flags.append(
            f"{nowhere.sum()} blocks are further than {max_km:g} km from every home "
            f"({', '.join(graph.ids[nowhere][:5])}); they go to the nearest home's territory."
        )
        allowed[np.flatnonzero(nowhere), np.asarray(order)[np.argmin(d[nowhere], axis=1)]] = True
    return allowed
