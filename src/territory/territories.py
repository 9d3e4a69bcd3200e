"""Territory layers: polygons given directly, or building blocks dissolved by an alignment."""

from __future__ import annotations

from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from territory import columns as cols
from territory.errors import InputError
from territory.geometry import area_perimeter_km, dissolve
from territory.validate import (
    AlignmentTable,
    Polygons,
    find_overlaps,
    prepare_alignment,
    prepare_polygons,
    read_alignment_table,
)


class TerritoryLayer:
    """Checked territories, and the building blocks they are made of when given that way.

    ``territories`` has ``territory_id``, ``name``, ``parent`` (may be empty), any ``target``
    column of the source, and one (multi)polygon per territory. ``blocks`` has ``block_id``,
    ``territory_id`` (None where left unaligned on purpose) and the block polygons.
    Accounts are assigned against :attr:`assign_layer`: the blocks if any, else the territories.
    ``alignment`` is the alignment table the blocks were dissolved by, as read.

    ``overlaps`` (the overlapping pairs of the polygons accounts are assigned against, see
    :func:`territory.validate.find_overlaps`) and the note about them in ``notes`` are found
    when first asked for: assigning needs neither (a point inside overlapping polygons is
    resolved by the overlap rule and its reason names them), so ``territory.assign``, which
    returns only the assignments, does not wait for the check; a plan run reports it.
    """

    def __init__(
        self,
        territories: gpd.GeoDataFrame,
        blocks: gpd.GeoDataFrame | None,
        source: str,
        notes: list[str] | None = None,
        overlaps: pd.DataFrame | None = None,
        alignment: AlignmentTable | None = None,
    ):
        self.territories = territories
        self.blocks = blocks
        self.source = source
        self._notes = list(notes or [])
        self._overlaps = overlaps
        self.alignment = alignment
        self._unchecked: Polygons | None = None  # the layer whose overlaps are still to find

    def check_overlaps_later(self, layer: Polygons) -> None:
        """Find the overlaps of ``layer`` (with their note) when first asked for."""
        self._unchecked = layer

    @property
    def notes(self) -> list[str]:
        self._check_overlaps()
        return self._notes

    @notes.setter
    def notes(self, value: list[str]) -> None:
        self._check_overlaps()
        self._notes = list(value)

    @property
    def overlaps(self) -> pd.DataFrame | None:
        self._check_overlaps()
        return self._overlaps

    @overlaps.setter
    def overlaps(self, value: pd.DataFrame | None) -> None:
        self._unchecked = None
        self._overlaps = value

    def _check_overlaps(self) -> None:
        layer, self._unchecked = self._unchecked, None
        if layer is not None:
            self._overlaps = find_overlaps(layer)
            note = overlap_note(self._overlaps, layer.source.name)
            if note:
                self._notes.append(note)

    def __getstate__(self) -> dict:  # a copy or a Dask worker gets the checked layer
        self._check_overlaps()
        return self.__dict__.copy()

    def __repr__(self) -> str:
        kind = "blocks" if self.blocks is not None else "territories"
        return f"TerritoryLayer({len(self.territories)} territories from {kind} of {self.source})"

    @property
    def crs(self) -> pyproj.CRS:
        return pyproj.CRS.from_user_input(self.territories.crs)

    @property
    def assign_layer(self) -> gpd.GeoDataFrame:
        return self.blocks if self.blocks is not None else self.territories

    @property
    def assign_ids(self) -> np.ndarray:
        key = "block_id" if self.blocks is not None else "territory_id"
        return self.assign_layer[key].to_numpy(dtype=object)

    @cached_property
    def area_perimeter(self) -> pd.DataFrame:
        """Area (km²) and perimeter (km) per territory, geodesic or planar (geometry)."""
        area, perim = area_perimeter_km(self.territories.geometry.to_numpy(), self.crs)
        return pd.DataFrame(
            {"area_km2": area, "perimeter_km": perim},
            index=pd.Index(self.territories["territory_id"], name="territory_id"),
        )


def load_territories(
    territories=None,
    *,
    blocks=None,
    alignment=None,
    territory_id: str | None = None,
    block_id: str | None = None,
    alignment_block: str | None = None,
    alignment_territory: str | None = None,
    alignment_parent: str | None = None,
    crs=None,
    strict: bool = False,
) -> TerritoryLayer:
    """Load and check a territory layer.

    Give either ``territories`` (polygons with a territory id) or ``blocks`` plus
    ``alignment`` (a table block_id -> territory_id, optional name and parent). Paths and
    GeoDataFrames are both accepted. ``crs`` is used only for layers that have none.
    ``strict`` refuses empty shapes instead of keeping and reporting them.
    """
    if blocks is not None:
        if alignment is None:
            raise InputError(
                "Building blocks need an alignment table (block_id -> territory_id): pass "
                "--alignment FILE (or alignment=...)."
            )
        block_layer = prepare_polygons(blocks, kind="block", id=block_id, crs=crs, strict=strict)
        table = read_alignment_table(
            alignment, block=alignment_block, territory=alignment_territory, parent=alignment_parent
        )
        layer = _from_blocks(block_layer, prepare_alignment(table, block_layer))
        layer.alignment = table  # as read: the map editor exports its rows and columns
        return layer
    if territories is None:
        raise InputError("Give a territory layer, or building blocks with an alignment.")
    if alignment is not None:
        # A polygon layer plus an alignment means the polygons are blocks.
        return load_territories(
            blocks=territories,
            alignment=alignment,
            block_id=block_id or territory_id,
            alignment_block=alignment_block,
            alignment_territory=alignment_territory,
            alignment_parent=alignment_parent,
            crs=crs,
            strict=strict,
        )
    layer = prepare_polygons(
        territories,
        kind="territory",
        id=territory_id,
        crs=crs,
        dissolve_duplicates=True,
        strict=strict,
    )
    frame = layer.frame
    name, parent, rep = (
        cols.find_column(
            frame, None, aliases, what=what, source=layer.source, option=what, required=False
        )
        for aliases, what in (
            (cols.TERRITORY_NAME, "name"),
            (cols.PARENT, "parent"),
            (cols.REP, "rep"),
        )
    )
    out = _standard(frame, name, parent, rep)
    result = TerritoryLayer(out, None, layer.source.name, list(layer.notes))
    _note_overlaps(result, layer)
    return result


def _standard(
    frame: gpd.GeoDataFrame, name: str | None, parent: str | None, rep: str | None = None
) -> gpd.GeoDataFrame:
    """Territories with ``territory_id``, ``name``, ``parent`` first, other columns after; a
    rep column under another spelling (``owner``, ``Rep Name`` ...) becomes ``rep``."""
    out = frame.copy()
    ids = out["territory_id"]
    out["name"] = out[name].astype(object).where(out[name].notna(), ids) if name else ids
    out["parent"] = out[parent].astype(object) if parent and parent != "name" else None
    if name and name != "name":
        out = out.drop(columns=name)
    if parent and parent not in ("parent", "name"):
        out = out.drop(columns=parent)
    if rep and rep not in ("rep", "name", "parent", "territory_id"):
        out = out.rename(columns={rep: "rep"})
    first = ["territory_id", "name", "parent"]
    rest = [c for c in out.columns if c not in first]
    return out[first + rest]


def _from_blocks(blocks: Polygons, align: pd.DataFrame) -> TerritoryLayer:
    frame = blocks.frame.drop(columns=["territory_id"], errors="ignore")
    frame = frame.merge(align[["block_id", "territory_id"]], on="block_id", how="left")
    notes = list(blocks.notes)
    unaligned = frame["territory_id"].isna()
    if unaligned.any():
        notes.append(
            f"{int(unaligned.sum())} blocks are left without a territory in the alignment "
            "(blank territory_id); accounts in them are listed as unassigned."
        )
    aligned = frame[~unaligned]
    names, merged = dissolve(aligned.geometry.to_numpy(), aligned["territory_id"].to_numpy())
    terr = gpd.GeoDataFrame({"territory_id": names}, geometry=merged, crs=blocks.frame.crs)
    info = align.dropna(subset=["territory_id"]).drop_duplicates("territory_id")
    info = info.set_index("territory_id").reindex(terr["territory_id"])
    if "name" in info.columns:
        terr["name"] = info["name"].to_numpy()
    if "parent" in info.columns:
        terr["parent"] = info["parent"].to_numpy()
    if "rep" in align.columns:  # a territory's rep: its one non-blank rep (checked)
        reps = align.dropna(subset=["territory_id", "rep"]).drop_duplicates("territory_id")
        terr["rep"] = reps.set_index("territory_id")["rep"].reindex(terr["territory_id"]).to_numpy()
    terr = _standard(
        terr,
        "name" if "name" in terr.columns else None,
        "parent" if "parent" in terr.columns else None,
    )
    result = TerritoryLayer(terr, frame, blocks.source.name, notes)
    _note_overlaps(result, blocks)
    return result


def _note_overlaps(result: TerritoryLayer, layer: Polygons) -> None:
    result.check_overlaps_later(layer)


def overlap_note(overlaps: pd.DataFrame, source: str) -> str | None:
    """The note on a layer's overlapping pairs, or None when there are none."""
    if not len(overlaps):
        return None
    pairs = ", ".join(
        f"'{a}'/'{b}' ({s:.1%})" for a, b, s in overlaps.head(5).itertuples(index=False, name=None)
    )
    more = f" and {len(overlaps) - 5} more" if len(overlaps) > 5 else ""
    return (
        f"{len(overlaps)} overlapping pairs in {source}: {pairs}{more} (share of the smaller "
        "shape). Accounts in an overlap go to the polygon chosen by the overlap rule (default: "
        "the smallest)."
    )
