"""The accounts drawn on one map: located, sampled to a limit, with their tooltip texts.

:func:`account_frame` checks the accounts a caller gives :func:`territory.maps.explore` (a
GeoDataFrame of points, or a DataFrame with latitude and longitude columns in EPSG:4326);
:class:`AccountPoints` holds what every layer of accounts on the map shares (see
:class:`~territory.maps.points.PointSource`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from territory.errors import ValidationError
from territory.formatting import cell
from territory.maps.points import PointsLayer, PointSource
from territory.maps.tools import postal_texts
from territory.maps.units import Money

SOURCE = "the accounts given to the map"


def account_frame(accounts, territory: str = "territory_id") -> gpd.GeoDataFrame | None:
    """``accounts`` as points in EPSG:4326, the territory column (if any) named
    ``territory_id``; None when there are none.

    A GeoDataFrame needs a CRS and point geometries (missing ones are not drawn); a DataFrame
    needs latitude and longitude columns (``lat``/``latitude``, ``lon``/``lng``/``longitude``,
    degrees; blank ones are not drawn).
    """
    if accounts is None:
        return None
    if isinstance(accounts, gpd.GeoDataFrame):
        frame = _checked_points(accounts)
    elif isinstance(accounts, pd.DataFrame):
        frame = _from_lat_lon(accounts)
    else:
        raise ValidationError(
            f"accounts must be a GeoDataFrame or a DataFrame with lat/lon columns, not "
            f"{type(accounts).__name__}."
        )
    if territory != "territory_id" and territory in frame.columns:
        frame = frame.drop(columns="territory_id", errors="ignore")
        frame = frame.rename(columns={territory: "territory_id"})
    return frame


def _checked_points(accounts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if accounts.crs is None:
        raise ValidationError(
            f"{SOURCE} have no CRS: set one with accounts.set_crs(...) (EPSG:4326 for "
            "longitude/latitude)."
        )
    geoms = accounts.geometry
    shapes = geoms.to_numpy()
    kinds = geoms[~shapely.is_missing(shapes) & ~shapely.is_empty(shapes)].geom_type
    if (kinds != "Point").any():
        row = kinds.index[(kinds != "Point").to_numpy()][0]
        raise ValidationError(
            f"{SOURCE} must be points: row {row!r} is a {kinds.loc[row]}. Pass one point per "
            "account (e.g. accounts.representative_point())."
        )
    frame = accounts.to_crs(4326)
    return frame.set_geometry(frame.geometry.where(~frame.geometry.is_empty, None))


def _from_lat_lon(accounts: pd.DataFrame) -> gpd.GeoDataFrame:
    from territory.columns import LAT, LON, normalise

    by_norm = {normalise(str(c)): c for c in accounts.columns}
    lat = next((by_norm[normalise(c)] for c in LAT if normalise(c) in by_norm), None)
    lon = next((by_norm[normalise(c)] for c in LON if normalise(c) in by_norm), None)
    if lat is None or lon is None:
        what, looked = ("latitude", LAT) if lat is None else ("longitude", LON)
        raise ValidationError(
            f"{SOURCE} have no {what} column (looked for {', '.join(looked)}; found "
            f"{', '.join(map(str, accounts.columns))}). Rename the columns to lat and lon, or "
            "pass a GeoDataFrame of points."
        )
    y = pd.to_numeric(accounts[lat], errors="coerce").to_numpy(dtype=float)
    x = pd.to_numeric(accounts[lon], errors="coerce").to_numpy(dtype=float)
    for values, column, limit in ((y, lat, 90), (x, lon, 180)):
        bad = np.flatnonzero(np.abs(values) > limit)
        text = accounts[column].notna() & np.isnan(values)
        bad = np.union1d(bad, np.flatnonzero(text.to_numpy()))
        if len(bad):
            rows = ", ".join(repr(r) for r in accounts.index[bad[:5]])
            what = "latitude" if limit == 90 else "longitude"
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            raise ValidationError(
                f"Column '{column}' of {SOURCE} is not a {what} in degrees (within ±{limit}) on "
                f"{'row' if len(bad) == 1 else 'rows'} {rows}{more}: "
                f"'{accounts[column].iloc[bad[0]]}'. Fix the value or leave it blank (not drawn)."
            )
    located = np.isfinite(x) & np.isfinite(y)
    geoms = np.full(len(x), None, dtype=object)
    geoms[located] = gpd.points_from_xy(x[located], y[located])
    return gpd.GeoDataFrame(accounts.copy(), geometry=list(geoms), crs=4326)


class AccountPoints:
    """The accounts drawn on one map, shared by every layer of accounts on it.

    ``accounts`` (EPSG:4326, see :func:`account_frame`) may have ``account_id`` (else the
    index is the id), ``name``, a postal code, ``territory_id`` and ``revenue``: each one
    present is a line of the tooltip. At most ``limit`` located accounts are drawn (evenly
    spaced); ``money`` gives the revenue its currency.

    Attributes
    ----------
    rows : ndarray
        Positions, in ``accounts``, of the accounts drawn (located, sampled to the limit).
    located : int
        Accounts with a location (``len(rows) < located`` when sampled).
    frame : GeoDataFrame
        The drawn accounts, in EPSG:4326.
    territory : ndarray or None
        Their territory ids (None when unassigned); None without a ``territory_id`` column.
    source : PointSource
        Their coordinates and tooltip texts, written into the page once.
    """

    def __init__(self, accounts: gpd.GeoDataFrame | None, limit: int, money: Money | None = None):
        if accounts is None:
            accounts = gpd.GeoDataFrame({"account_id": []}, geometry=[], crs=4326)
        rows = np.flatnonzero(accounts.geometry.notna().to_numpy())
        self.located = len(rows)
        if len(rows) > limit:
            rows = rows[np.linspace(0, len(rows) - 1, limit).astype(int)]
        self.rows = rows
        self.frame = frame = accounts.iloc[rows]
        ids = frame["account_id"] if "account_id" in frame.columns else frame.index.to_series()
        self.territory = None
        if "territory_id" in frame.columns:
            self.territory = frame["territory_id"].to_numpy(dtype=object)
        fields = {"Account": ids.astype(str).to_numpy()}
        if "name" in frame.columns:
            fields["Name"] = frame["name"].astype(str).to_numpy()
        postal = postal_texts(frame)
        if postal is not None:
            fields["Postal code"] = postal
        if self.territory is not None:
            unassigned = pd.isna(self.territory)
            fields["Territory"] = np.where(unassigned, "(unassigned)", self.territory.astype(str))
        if "revenue" in frame.columns:
            money = money or Money(pd.Series(dtype=object))
            texts = [cell("revenue", v) for v in frame["revenue"]]
            where = self.territory if self.territory is not None else [None] * len(frame)
            fields[money.caption("revenue", "Revenue")] = money.values("revenue", where, texts)
        self.source = PointSource(frame.geometry.y.to_numpy(), frame.geometry.x.to_numpy(), fields)

    @property
    def sampled(self) -> bool:
        return len(self.rows) < self.located

    @property
    def notes(self) -> list[str]:
        """Legend lines about what is drawn (the sampling, if any)."""
        if not self.sampled:
            return []
        return [
            f"Sample: {len(self.rows):,} of {self.located:,} located accounts drawn, evenly "
            "spaced; counts are of the sample"
        ]

    @property
    def radius(self) -> float:
        """Dot radius in CSS pixels: smaller as the accounts get more."""
        n = len(self.rows)
        return 2.5 if n <= 10_000 else 2.0 if n <= 50_000 else 1.5


def accounts_layer(points: AccountPoints) -> PointsLayer:
    """Accounts on a canvas: orange when assigned, grey when not (one colour when the accounts
    have no territory column); tooltip with the details."""
    shown = f"{len(points.rows):,}"
    if points.sampled:
        shown += f" of {points.located:,}"
    if points.territory is None:
        code, palette, labels = np.zeros(len(points.rows), np.uint8), ["#e6550d"], ["account"]
    else:
        code = pd.isna(points.territory).astype(np.uint8)
        palette, labels = ["#e6550d", "#888888"], ["assigned", "unassigned"]
    return PointsLayer(
        f"Accounts ({shown})",
        points.source,
        code,
        palette,
        radius=points.radius,
        legend="Accounts",
        legend_labels=labels,
        notes=points.notes,
    )
