"""Turn raw tables into checked accounts, territories and blocks.

This is the boundary of the product: everything past it may assume unique string ids, float
measures, valid polygons and one explicit CRS. Problems a user must fix raise
:class:`~territory.errors.ValidationError` (or :class:`~territory.errors.InputError` for
missing files and columns) with one paragraph naming the file, column, rows and the fix.
Problems territory can repair itself (invalid rings, overlaps, reprojection, blank measures) are
repaired and *reported* as notes, never silently.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyproj
import shapely

from territory import columns as cols
from territory import postal
from territory.errors import CRSMismatchError, InputError, ValidationError
from territory.io import Source, as_frame

WGS84 = pyproj.CRS.from_epsg(4326)
POLYGON_TYPES = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


@dataclass
class Accounts:
    """Checked accounts.

    Locations are kept as coordinate arrays (``x`` = longitude/easting, ``y`` =
    latitude/northing in ``crs``) rather than Point objects, so millions of accounts stay cheap.
    ``unlocated[i]`` says why account ``i`` has no location ("" when it has one).
    """

    frame: pd.DataFrame
    x: np.ndarray
    y: np.ndarray
    crs: pyproj.CRS
    unlocated: np.ndarray
    measures: list[str]
    source: Source
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)

    def to_crs(self, crs: pyproj.CRS) -> Accounts:
        """Return these accounts with coordinates transformed to ``crs``."""
        if self.crs.equals(crs):
            return self
        transformer = pyproj.Transformer.from_crs(self.crs, crs, always_xy=True)
        x, y = transformer.transform(self.x, self.y)
        note = f"Accounts reprojected from {_crs_name(self.crs)} to {_crs_name(crs)}."
        return Accounts(
            self.frame,
            np.asarray(x),
            np.asarray(y),
            crs,
            self.unlocated,
            self.measures,
            self.source,
            [*self.notes, note],
        )

    @classmethod
    def concat(cls, parts: list[Accounts]) -> Accounts:
        """One Accounts from batches or partitions; ids must be unique across all of them."""
        if len(parts) == 1:
            return parts[0]
        frame = pd.concat([p.frame for p in parts], ignore_index=True)
        first = parts[0]
        _clean_ids(frame["account_id"], "account_id", Source(first.source.name), what="account id")
        return cls(
            frame,
            np.concatenate([p.x for p in parts]),
            np.concatenate([p.y for p in parts]),
            first.crs,
            np.concatenate([p.unlocated for p in parts]),
            first.measures,
            Source(first.source.name, first.source.csv),
            [n for p in parts for n in p.notes],
        )

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """Accounts as a GeoDataFrame of Points (None where unlocated)."""
        located = np.isfinite(self.x) & np.isfinite(self.y)
        geoms = np.full(len(self.x), None, dtype=object)
        geoms[located] = shapely.points(self.x[located], self.y[located])
        return gpd.GeoDataFrame(self.frame, geometry=geoms, crs=self.crs)


@dataclass
class Polygons:
    """A checked polygon layer (territories or building blocks) with string ids in ``id``."""

    frame: gpd.GeoDataFrame
    id: str
    source: Source
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# numbers


#: what a blank coordinate means, for messages about coordinate columns
UNLOCATED = "an account with a blank coordinate has no location and is listed as unassigned"


def to_number(
    values: pd.Series, column: str, source: Source, *, blank_ok: bool = True,
    blanks: str = "blanks count as 0 for measures",
) -> tuple[np.ndarray, int]:  # fmt: skip
    """Parse a column of numbers; return ``(float array, count of blanks)``.

    ``blanks`` tells the user, in the error for a bad cell, what a blank cell in this column
    means.

    Accepts numbers, a leading or trailing currency symbol and, by the file's decimal mark
    (``source.decimal``):

    - ``"."`` (comma-, tab- or pipe-separated files, and every other format): thousands
      separators in the ``1,234.50`` form;
    - ``","`` (``;``-separated files): a column any of whose cells holds a comma is a
      decimal-comma column, where ``1.234,50`` is 1234.5, ``1234,5`` is 1234.5, ``1,234`` is
      1.234 and a dot only groups thousands (``1.234`` is 1234). A column with no comma reads
      dots as decimal points (``0.5``).

    Blanks become NaN. Anything else raises a ValidationError naming the rows.
    """
    out, is_blank, bad, text = parse_numbers(values, column, source)
    if bad.any():
        pos = np.flatnonzero(bad)
        examples = ", ".join(repr(str(v)) for v in text.iloc[pos[:3]])
        comma = (
            " In this ';'-separated file the column is read with decimal commas (1.234,50), so "
            "a dot may only group thousands."
            if _comma_column(source, text)
            else ""
        )
        raise ValidationError(
            f"Column '{column}' in {source.name} must be numeric, but "
            f"{source.describe_rows(pos)} {'holds' if len(pos) == 1 else 'hold'} "
            f"{examples}.{comma} Fix or blank those cells ({blanks})."
        )
    if np.isinf(out).any():
        pos = np.flatnonzero(np.isinf(out))
        raise ValidationError(
            f"Column '{column}' in {source.name} has infinite values on "
            f"{source.describe_rows(pos)}. Replace them with real numbers."
        )
    blanks = int(is_blank.sum())
    if blanks and not blank_ok:
        raise ValidationError(f"Column '{column}' in {source.name} has {blanks} blank values.")
    return out, blanks


def parse_numbers(values: pd.Series, column: str, source: Source):
    """``(floats with NaN where blank or bad, blank mask, bad mask, stripped text)``.

    The rules of :func:`to_number`, without raising: for readers that report bad cells as
    issues instead of stopping.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        raise ValidationError(
            f"Column '{column}' in {source.name} holds true/false values, not numbers. "
            "Give a numeric column."
        )
    if pd.api.types.is_numeric_dtype(values.dtype):
        out = values.to_numpy(dtype=float, na_value=np.nan)
        blank = np.isnan(out)
        # no cell can be bad, so the text (only shown for bad cells) is the values as they are
        return out, blank, np.zeros(len(out), dtype=bool), values
    text = values.astype("string").str.strip()
    cleaned = text.str.replace(r"^[$€£¥]\s*|\s*[$€£¥]$", "", regex=True)
    if _comma_column(source, text):
        ok = cleaned.str.fullmatch(r"[-+]?(\d{1,3}(\.\d{3})+|\d*)(,\d+)?").fillna(False)
        ok &= cleaned.str.contains(r"\d", regex=True).fillna(False)
        converted = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        cleaned = converted.where(ok, "not a number")
    else:
        grouped = cleaned.str.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?").fillna(False)
        cleaned = cleaned.where(~grouped, cleaned.str.replace(",", "", regex=False))
    parsed = pd.to_numeric(cleaned, errors="coerce")
    is_blank = (text.isna() | text.eq("")).to_numpy()
    out = parsed.to_numpy(dtype=float, na_value=np.nan)
    out[is_blank] = np.nan
    bad = np.isnan(out) & ~is_blank
    return out, is_blank, bad, text


def _comma_column(source: Source, text: pd.Series) -> bool:
    return source.decimal == "," and bool(text.str.contains(",", regex=False).any())


def id_text(values: pd.Series) -> pd.Series:
    """Ids as stripped text (``<NA>`` where missing), exactly as written.

    Whole-number floats (ids a spreadsheet or Parquet writer stored as numbers) become their
    exact integer text: ``1.2345678901234568e+16`` -> ``"12345678901234568"``, ``1001.0`` ->
    ``"1001"``; never scientific notation.
    """
    values = values.reset_index(drop=True)
    if pd.api.types.is_float_dtype(values.dtype):
        floats = values.to_numpy(dtype=float, na_value=np.nan)
        out = np.full(len(floats), None, dtype=object)
        with np.errstate(invalid="ignore"):
            whole = (np.floor(floats) == floats) & (np.abs(floats) < 2.0**63)  # NaN/inf: no
        digits = pa.array(floats[whole].astype(np.int64)).cast(pa.string())  # exact text
        out[whole] = digits.to_numpy(zero_copy_only=False)
        rest = np.flatnonzero(~whole)  # fractions, huge whole numbers, blanks: one by one
        out[rest] = [_float_text(v) for v in floats[rest].tolist()]
        return pd.Series(out, dtype="string")
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in (
        "string",
        "empty",
    ):
        out = [
            _float_text(v) if isinstance(v, float) else (None if v is None else str(v))
            for v in values.to_numpy()
        ]
        return pd.Series(out, dtype="string").str.strip()
    return values.astype("string").str.strip()


def _float_text(v: float) -> str | None:
    if not np.isfinite(v):
        return None
    return str(int(v)) if float(v).is_integer() else repr(float(v))


# --------------------------------------------------------------------------------------------
# accounts


def prepare_accounts(
    data,
    *,
    id: str | None = None,
    lat: str | None = None,
    lon: str | None = None,
    postal_code: str | None = None,
    postal_table=None,
    measures: list[str] | None = None,
    also_measures: tuple[str, ...] = (),
    crs=None,
    source: Source | None = None,
) -> Accounts:
    """Read (if needed) and check an accounts table.

    Parameters
    ----------
    data : path or DataFrame or GeoDataFrame
        The accounts. A GeoDataFrame's Point geometry is used unless ``lat``/``lon`` or
        ``postal_code`` are named explicitly.
    id, lat, lon, postal_code : str, optional
        Column names; detected when omitted (``account_id``, ``lat``/``latitude``,
        ``lon``/``lng``/``longitude``, ``postal_code``/``zip`` ...).
    postal_table : path or DataFrame, optional
        Postal code -> lat/lon table; the embedded US ZIP table by default.
    measures : list of str, optional
        Numeric columns summed by KPIs; defaults to whichever of ``revenue``, ``pipeline``,
        ``potential`` exist. Blank cells count as 0 and are reported.
    also_measures : tuple of str
        Measures needed in addition (e.g. the one a target rule grows from).
    crs : optional
        CRS of a GeoDataFrame that has none (lat/lon columns are always EPSG:4326).
    source : Source, optional
        Where ``data`` came from, for messages (a batch of a file passes its row offset).
    """
    frame, found = as_frame(data, "accounts")
    source = source or found
    if len(frame) == 0:
        raise ValidationError(
            f"The accounts {source.called} has no rows. Export the accounts again, with a "
            "header line and one line per account."
        )
    notes: list[str] = list(source.notes)
    id_col = cols.find_column(
        frame, id, cols.ACCOUNT_ID, what="account id", source=source, option="account id"
    )
    ids = _clean_ids(frame[id_col], id_col, source, what="account id")

    if isinstance(frame, gpd.GeoDataFrame) and _has_geometry(frame):
        frame = standard_geometry(frame)
    out = pd.DataFrame(frame.drop(columns="geometry", errors="ignore")).reset_index(drop=True)
    out = out.drop(columns=id_col)
    if "account_id" in out.columns:
        out = out.rename(columns={"account_id": "account_id (original)"})
    out.insert(0, "account_id", ids.to_numpy())

    if measures is None:
        measures = [c for c in cols.MEASURES if c in out.columns]
    measures = list(dict.fromkeys([*measures, *also_measures]))
    for m in measures:
        if m not in out.columns:
            found = cols.find_column(
                out, m, (), what=f"measure '{m}'", source=source, option="measures"
            )
            out = out.rename(columns={found: m})
        values, blanks = to_number(out[m], m, source)
        if blanks:
            notes.append(f"Measure '{m}': {blanks} blank cells in {source.name} counted as 0.")
        out[m] = np.where(np.isnan(values), 0.0, values) if blanks else values  # finite

    x, y, unlocated, acrs = _locate(frame, source, lat, lon, postal_code, postal_table, crs, notes)
    return Accounts(out, x, y, acrs, unlocated, list(measures), source, notes)


#: where polygons and their CRS come from, for files (False) and database tables (True)
_POLYGON_SOURCES = {
    False: "GeoJSON, GeoPackage, GeoParquet, Shapefile",
    True: "a PostGIS geometry, DuckDB GEOMETRY or WKB column",
}
_CRS_HOME = {False: "file", True: "table (a PostGIS SRID; DuckDB geometries carry none)"}


def _clean_ids(values: pd.Series, column: str, source: Source, *, what: str) -> pd.Series:
    """Check ids: none blank, all unique. Integer ids stay integers; text ids are stripped.

    Ids are taken as written: ``NA``, ``None`` or ``null`` are ids like any other (text files
    are read so that only empty cells are blank), and whole-number float ids become exact
    integer text (see :func:`id_text`).
    """
    if pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any():
        ids = values.reset_index(drop=True)
    else:
        ids = id_text(values)
        blank = (ids.isna() | ids.eq("")).to_numpy()
        if blank.any():
            raise ValidationError(
                f"Column '{column}' ({what}) in {source.name} is blank on "
                f"{source.describe_rows(np.flatnonzero(blank))}. Every row needs an id."
            )
        ids = ids.astype(object)
    if not pd.Index(ids).is_unique:
        dup = ids.duplicated(keep=False).to_numpy()
        pos = np.flatnonzero(dup)
        values_shown = ", ".join(f"'{v}'" for v in pd.unique(ids.iloc[pos])[:5])
        raise ValidationError(
            f"Duplicate {what}s in column '{column}' of {source.name}: {values_shown} "
            f"({source.describe_rows(pos)}). Ids must be unique: merge or renumber those rows."
        )
    return ids


def _notes(missing: np.ndarray, text: str) -> np.ndarray:
    """Object array with ``text`` where ``missing`` and "" elsewhere (cheap for many rows)."""
    out = np.empty(len(missing), dtype=object)
    out.fill("")  # about twice as fast as np.full for object arrays
    out[missing] = text
    return out


def _locate(frame, source, lat, lon, postal_code, postal_table, crs, notes):
    n = len(frame)
    use_geometry = (
        isinstance(frame, gpd.GeoDataFrame)
        and _has_geometry(frame)
        and not (lat or lon or postal_code)
    )
    if use_geometry:
        return _locate_geometry(frame, source, crs, notes)
    lat_col = cols.find_column(
        frame, lat, cols.LAT, what="latitude", source=source, option="lat column", required=False
    )
    lon_col = cols.find_column(
        frame, lon, cols.LON, what="longitude", source=source, option="lon column", required=False
    )
    if lat_col and lon_col and not postal_code:
        y, _ = to_number(frame[lat_col], lat_col, source, blanks=UNLOCATED)
        x, _ = to_number(frame[lon_col], lon_col, source, blanks=UNLOCATED)
        _check_ranges(x, y, lat_col, lon_col, source)
        missing = ~(np.isfinite(x) & np.isfinite(y))
        unlocated = _notes(missing, f"no coordinates ('{lat_col}'/'{lon_col}' blank)")
        if missing.any():
            notes.append(f"{int(missing.sum())} accounts in {source.name} have no coordinates.")
        return x, y, unlocated, WGS84
    code_col = cols.find_column(
        frame,
        postal_code,
        cols.POSTAL,
        what="postal code",
        source=source,
        option="postal code column",
        required=False,
    )
    if code_col is None:
        raise InputError(
            f"Cannot locate the accounts in {source.name}: no geometry, no latitude/longitude "
            f"columns and no postal code column found. Available columns: "
            f"{', '.join(map(str, frame.columns[:15]))}. Name the columns with the lat/lon or "
            "postal code settings."
        )
    y, x, unlocated = postal.locate(frame[code_col].reset_index(drop=True), postal_table)
    missing = int((unlocated != "").sum())
    if missing:
        notes.append(
            f"{missing} of {n} accounts in {source.name} could not be located by postal code "
            f"(column '{code_col}'); they are listed as unassigned with the reason."
        )
    return x, y, unlocated.to_numpy(dtype=object), WGS84


def _locate_geometry(frame: gpd.GeoDataFrame, source, crs, notes):
    geoms = frame.geometry.to_numpy()
    acrs = frame.crs or (pyproj.CRS.from_user_input(crs) if crs else None)
    if acrs is None:
        raise CRSMismatchError(
            f"The accounts in {source.name} have geometry but no CRS. State it (--crs EPSG:4326 "
            "on the command line, crs= in Python) or set it in the file so they can be placed."
        )
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    not_point = ~missing & (types != shapely.GeometryType.POINT)
    if not_point.any():
        notes.append(
            f"{int(not_point.sum())} accounts in {source.name} have non-point geometry; a point "
            "inside each shape is used as its location."
        )
        geoms = geoms.copy()
        geoms[not_point] = shapely.point_on_surface(geoms[not_point])
    coords = np.full((len(geoms), 2), np.nan)
    coords[~missing] = shapely.get_coordinates(geoms[~missing])
    x, y = coords[:, 0], coords[:, 1]
    if pyproj.CRS.from_user_input(acrs).is_geographic:
        _check_ranges(x, y, "latitude", "longitude", source)
    unlocated = _notes(missing, "no location (empty geometry)")
    if missing.any():
        notes.append(f"{int(missing.sum())} accounts in {source.name} have empty geometry.")
    return x, y, unlocated, pyproj.CRS.from_user_input(acrs)


def _check_ranges(x, y, lat_col, lon_col, source):
    if len(x) and -180 <= x.min() <= x.max() <= 180 and -90 <= y.min() <= y.max() <= 90:
        return  # all in range (a NaN makes min/max NaN and the full check below run)
    with np.errstate(invalid="ignore"):
        bad = (np.abs(y) > 90) | (np.abs(x) > 180)
    if not bad.any():
        return
    pos = np.flatnonzero(bad)
    with np.errstate(invalid="ignore"):
        swapped = bool(np.all((np.abs(x[pos]) <= 90) & (np.abs(y[pos]) <= 180)))
    examples = "; ".join(f"lat={y[i]:g}, lon={x[i]:g}" for i in pos[:3])
    hint = (
        f"The values look swapped: check that '{lat_col}' holds latitudes and '{lon_col}' "
        "longitudes (or name the columns with the lat/lon settings)."
        if swapped
        else "Correct those coordinates (latitude within ±90, longitude within ±180) or blank "
        "them to list the accounts as unassigned."
    )
    raise ValidationError(
        f"Latitude/longitude out of range in {source.name} on {source.describe_rows(pos)} "
        f"({examples}). {hint}"
    )


def check_swapped(accounts: Accounts, bounds) -> None:
    """Raise when most accounts fall outside ``bounds`` but would fit with lat/lon swapped.

    ``bounds`` is the territories' ``(xmin, ymin, xmax, ymax)`` in the accounts' CRS; only
    geographic CRSs are checked.
    """
    if not accounts.crs.is_geographic:
        return
    located = np.isfinite(accounts.x) & np.isfinite(accounts.y)
    if located.sum() < 5:
        return
    xmin, ymin, xmax, ymax = bounds
    x, y = accounts.x, accounts.y
    if not located.all():
        x, y = x[located], y[located]
    inside = np.count_nonzero((x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)) / len(x)
    if inside >= 0.5:
        return
    flipped = np.count_nonzero((y >= xmin) & (y <= xmax) & (x >= ymin) & (x <= ymax)) / len(x)
    if flipped > 0.9:
        raise ValidationError(
            f"Latitude and longitude in {accounts.source.name} appear swapped: only "
            f"{inside:.0%} of accounts fall within the territories' extent, but {flipped:.0%} "
            "would with the two columns exchanged. Name the columns explicitly with the lat/lon "
            "settings (e.g. --lat lon_column --lon lat_column) or fix the file."
        )


# --------------------------------------------------------------------------------------------
# polygon layers


def prepare_polygons(
    data,
    *,
    kind: str,
    id: str | None = None,
    crs=None,
    dissolve_duplicates: bool = False,
    strict: bool = False,
) -> Polygons:
    """Read (if needed) and check a polygon layer of territories or blocks.

    ``kind`` is ``"territory"`` or ``"block"``; it selects id detection (``territory_id`` or
    ``block_id``/``GEOID``...) and wording. The active geometry column, whatever its name
    (``geom``, ``the_geom``, ``shape``...), becomes ``geometry``. Invalid geometry is repaired
    with ``make_valid`` and reported; lon/lat rings written across the antimeridian are split
    at ±180 and reported; coordinates that cannot be longitude/latitude raise. Empty shapes
    (as small-scale cartographic layers make of tiny areas) are kept as empty and reported:
    their rows stay, but no account falls inside them; ``strict`` makes them an error.
    Non-polygonal geometry raises. Duplicate territory ids are dissolved (several rows
    forming one territory) when ``dissolve_duplicates``; duplicate block ids raise.
    """
    frame, source = as_frame(data, _plural(kind))
    if isinstance(frame, gpd.GeoDataFrame) and _has_geometry(frame):
        frame = standard_geometry(frame)
    if not isinstance(frame, gpd.GeoDataFrame) or not _has_geometry(frame):
        raise InputError(
            f"The {kind} {source.called} has no geometry column. {_plural(kind).title()} must "
            f"be polygons ({_POLYGON_SOURCES[source.database]})"
            + ("; or give building blocks plus an alignment table." if kind == "territory" else ".")
        )
    if len(frame) == 0:
        raise ValidationError(f"The {kind} {source.called} has no features.")
    if frame.crs is None:
        if crs is None:
            raise CRSMismatchError(
                f"The {kind} {source.called} has no CRS (coordinate reference system). Add it "
                f"to the {_CRS_HOME[source.database]}, or state it when you know it: "
                "--crs EPSG:4326 on the command line, "
                "crs= in Python, or crs in the plan file."
            )
        frame = frame.set_crs(crs)
    notes: list[str] = []
    candidates = cols.TERRITORY_ID if kind == "territory" else cols.BLOCK_ID
    id_col = cols.find_column(
        frame, id, candidates, what=f"{kind} id", source=source, option=f"{kind} id"
    )
    frame = frame.reset_index(drop=True)
    ids = id_text(frame[id_col])
    blank = (ids.isna() | ids.eq("")).to_numpy()
    if blank.any():
        raise ValidationError(
            f"Column '{id_col}' ({kind} id) in {source.name} is blank on "
            f"{source.describe_rows(np.flatnonzero(blank))}. Give every {kind} an id."
        )
    id_name = f"{kind}_id"
    frame = frame.drop(columns=[c for c in (id_name,) if c in frame.columns and c != id_col])
    frame = frame.rename(columns={id_col: id_name})
    frame[id_name] = ids.astype(object).to_numpy()

    geoms = _check_geometry(frame, id_name, source, kind, notes, strict=strict)
    frame = frame.set_geometry(geoms)

    dup = frame[id_name].duplicated(keep=False).to_numpy()
    if dup.any():
        shown = ", ".join(f"'{v}'" for v in pd.unique(frame.loc[dup, id_name])[:5])
        if not dissolve_duplicates:
            raise ValidationError(
                f"Duplicate {kind} ids in column '{id_col}' of {source.name}: {shown} "
                f"({source.describe_rows(np.flatnonzero(dup))}). Ids must be unique."
            )
        notes.append(f"Rows sharing a territory id were merged into one territory: {shown}.")
        frame = _dissolve_rows(frame, id_name)
    return Polygons(frame, id_name, source, notes)


def _check_geometry(frame, id_name, source, kind, notes, *, strict=False) -> np.ndarray:
    geoms = frame.geometry.to_numpy().copy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        pos = np.flatnonzero(missing)
        what = f"{_plural(kind).title()} with empty geometry in {source.name}: " + (
            f"{_ids(frame, id_name, pos)} ({source.describe_rows(pos)})"
        )
        if strict:
            raise ValidationError(
                f"{what}. Draw their shapes or remove those rows (strict mode refuses empty "
                "shapes; without it they are kept and reported)."
            )
        effect = (
            "they keep their rows with no accounts inside (accounts near them follow the "
            "nearest rule)"
            if kind == "territory"
            else "no account falls inside them and territory design leaves them out"
        )
        notes.append(f"{what}: {effect}. Use --strict (strict=True) to make this an error.")
        geoms[pos] = shapely.Polygon()
    shaped = ~missing
    crs = pyproj.CRS.from_user_input(frame.crs)
    if crs.is_geographic:
        _check_lonlat(geoms, shaped, frame, id_name, source, kind, crs)
        _split_antimeridian(geoms, shaped, frame, id_name, source, kind, notes)
    invalid = shaped & ~in_threads(shapely.is_valid, geoms)
    if invalid.any():
        pos = np.flatnonzero(invalid)
        reasons = shapely.is_valid_reason(geoms[pos[:3]])
        geoms[pos] = shapely.make_valid(geoms[pos], method="structure", keep_collapsed=False)
        notes.append(
            f"Repaired invalid geometry of {len(pos)} {_plural(kind)} in {source.name} with "
            f"make_valid: {_ids(frame, id_name, pos)} ({'; '.join(reasons)})."
        )
    geoms = _polygonal(geoms)
    types = shapely.get_type_id(geoms)
    wrong = shaped & (~np.isin(types, POLYGON_TYPES) | shapely.is_empty(geoms))
    if wrong.any():
        pos = np.flatnonzero(wrong)
        kinds = ", ".join(sorted({g.geom_type for g in geoms[pos[:1000]]}))
        raise ValidationError(
            f"{_plural(kind).title()} in {source.name} must be polygons, but "
            f"{_ids(frame, id_name, pos)} ({source.describe_rows(pos)}) are not (they are "
            f"{kinds}). Use a polygon layer."
        )
    return geoms


def _has_geometry(frame: gpd.GeoDataFrame) -> bool:
    try:
        return frame.geometry.name in frame.columns
    except AttributeError:  # a GeoDataFrame without an active geometry column
        return False


def standard_geometry(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` with its active geometry column named ``geometry``.

    GeoParquet, GeoPackage and PostGIS layers often call it ``geom``, ``the_geom`` or
    ``shape``; a plain column already called ``geometry`` beside another active geometry is
    renamed ``geometry (original)``.
    """
    name = frame.geometry.name
    if name == "geometry":
        return frame
    if "geometry" in frame.columns:
        frame = frame.rename(columns={"geometry": "geometry (original)"})
    return frame.rename_geometry("geometry")


# Coordinates this far outside ±180/±90 are not degrees (metres or feet of a projected CRS).
_DEGREE_SLACK = 1e-6


def _check_lonlat(geoms, shaped, frame, id_name, source, kind, crs) -> None:
    """Raise when a lon/lat layer has coordinates that cannot be longitude/latitude."""
    bounds = np.full((len(geoms), 4), np.nan)
    bounds[shaped] = shapely.bounds(geoms[shaped])
    with np.errstate(invalid="ignore"):
        bad_lon = (bounds[:, 0] < -180 - _DEGREE_SLACK) | (bounds[:, 2] > 180 + _DEGREE_SLACK)
        bad_lat = (bounds[:, 1] < -90 - _DEGREE_SLACK) | (bounds[:, 3] > 90 + _DEGREE_SLACK)
    bad = bad_lon | bad_lat
    if not bad.any():
        return
    pos = np.flatnonzero(bad)
    extent = np.nanmax(np.abs(bounds[pos]))
    declared = _crs_name(crs)
    if extent > 1000:
        hint = (
            f"The layer is declared as {declared} (longitude/latitude in degrees) but its "
            f"coordinates reach {extent:,.0f}: they look like metres or feet of a projected "
            "CRS. Set the layer's real CRS in the file (or give it with --crs / crs= when the "
            "file has none), instead of declaring degrees."
        )
    elif bad_lon[pos].all() and np.nanmin(bounds[pos, 0]) >= -180 and extent <= 360:
        hint = (
            "Longitudes run from 0 to 360 instead of -180 to 180: convert them "
            "(subtract 360 from values above 180) before loading."
        )
    else:
        hint = "Latitudes must lie within ±90 and longitudes within ±180: correct the shapes."
    raise ValidationError(
        f"{_plural(kind).title()} in {source.name} have coordinates outside the range of "
        f"longitude/latitude: {_ids(frame, id_name, pos)} ({source.describe_rows(pos)}). {hint}"
    )


def _split_antimeridian(geoms, shaped, frame, id_name, source, kind, notes) -> None:
    """Split lon/lat shapes whose rings jump across the antimeridian, in place, with a note.

    A ring from 177°E to 179°W written as one ring (an edge jumping more than 180° of
    longitude) would otherwise be read as 356° wide, covering the rest of the world. Such
    shapes are cut at ±180 into parts on either side (package ``antimeridian``).
    """
    pos = np.flatnonzero(shaped)
    if not len(pos):
        return
    parts, part_of = shapely.get_parts(geoms[pos], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    if not len(coords):
        return
    lon = coords[:, 0]
    same = ring[1:] == ring[:-1]
    jump = same & (np.abs(np.diff(lon)) > 180)
    # edges running along the antimeridian itself (±180 to ∓180 near a pole) are not a jump
    jump &= ~((np.abs(lon[1:]) == 180) & (np.abs(lon[:-1]) == 180))
    if not jump.any():
        return
    import warnings

    import antimeridian

    crossing = pos[np.unique(part_of[ring_part[ring[1:][jump]]])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in crossing:
            shape_type = shapely.get_type_id(geoms[i])
            if shape_type not in POLYGON_TYPES:
                continue  # reported as not polygonal below
            fix = (
                antimeridian.fix_polygon
                if shape_type == shapely.GeometryType.POLYGON
                else antimeridian.fix_multi_polygon
            )
            geoms[i] = fix(geoms[i], fix_winding=True, great_circle=False)
    one = len(crossing) == 1
    what = (f"1 {kind} in {source.name} crosses" if one
            else f"{len(crossing)} {_plural(kind)} in {source.name} cross")  # fmt: skip
    notes.append(
        f"{what} the antimeridian (±180° longitude) as {'a single ring' if one else 'single rings'}"
        f": {_ids(frame, id_name, crossing)}. {'It was' if one else 'They were'} split at ±180 "
        "into parts on either side."
    )


def _plural(kind: str) -> str:
    return "territories" if kind == "territory" else f"{kind}s"


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of geometry collections (as make_valid may return)."""
    collections = shapely.get_type_id(geoms) == shapely.GeometryType.GEOMETRYCOLLECTION
    if collections.any():
        for i in np.flatnonzero(collections):
            parts = shapely.get_parts(geoms[i])
            polys = parts[np.isin(shapely.get_type_id(parts), POLYGON_TYPES)]
            geoms[i] = shapely.union_all(polys) if len(polys) else shapely.Polygon()
    return geoms


def _dissolve_rows(frame: gpd.GeoDataFrame, id_name: str) -> gpd.GeoDataFrame:
    from territory.geometry import dissolve

    first = frame.drop(columns=frame.geometry.name).groupby(id_name, sort=False).first()
    ids, merged = dissolve(frame.geometry.to_numpy(), frame[id_name].to_numpy(), sort=False)
    merged = pd.Series(merged, index=ids).reindex(first.index).to_numpy()
    return gpd.GeoDataFrame(first.reset_index(), geometry=merged, crs=frame.crs)


def _ids(frame, id_name, pos, limit: int = 5) -> str:
    values = frame[id_name].to_numpy()[pos]
    shown = ", ".join(f"'{v}'" for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def find_overlaps(polygons: Polygons, min_area_fraction: float = 1e-6) -> pd.DataFrame:
    """Pairs of polygons whose interiors overlap: ``id_a, id_b, overlap_share``.

    Shapes whose bounding boxes share some area (one STRtree query) are tested exactly for
    interiors meeting in two dimensions (DE-9IM ``2********``), so neighbours that only share a
    border or touch at a corner are never overlaps; only the pairs that pass are intersected.
    ``overlap_share`` is the overlap area as a share of the smaller polygon (a ratio, so the same
    in degrees² as in km² for a lon/lat layer); slivers of at most ``min_area_fraction`` are
    ignored. Pairs come in layer order (``id_a`` listed before ``id_b``).

    One pass of pair tests costs about what GEOS coverage validation of the layer does, which
    only says whether there is some overlap (and needed a second pass to say where). For a
    detailed layer the pairs are remembered between runs on the same shapes
    (:mod:`territory.layercache`).
    """
    geoms = polygons.frame.geometry.to_numpy()
    left, right, share = overlap_pairs(geoms)
    keep = share > min_area_fraction
    ids = polygons.frame[polygons.id].to_numpy()
    return pd.DataFrame(
        {
            "id_a": ids[left[keep]].astype(object),
            "id_b": ids[right[keep]].astype(object),
            "overlap_share": share[keep].astype(float),
        }
    )


def overlap_pairs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``(i, j)``, ``i < j``, of every pair of shapes whose interiors overlap, and the
    overlap's share of the smaller shape, slivers included (see :func:`find_overlaps`);
    remembered between runs for detailed layers (:mod:`territory.layercache`)."""
    from territory.layercache import cached_overlaps

    return cached_overlaps(geoms, lambda: _overlap_pairs(geoms))


def _overlap_pairs(geoms: np.ndarray):
    if shapely.is_prepared(geoms).any():  # (after assigning) prepared shapes run on one thread:
        # test copies with the same coordinates and precision grids on every core instead
        geoms = shapely.set_precision(geoms, shapely.get_precision(geoms), mode="pointwise")
    left, right = _box_pairs(geoms)
    overlapping = in_threads(shapely.relate_pattern, geoms[left], geoms[right], "2********")
    left, right = left[overlapping], right[overlapping]
    inter = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
    return left, right, inter / smaller


def in_threads(func, *args, threads: int | None = None) -> np.ndarray:
    """``func(*args)`` for a shapely function, on all cores over chunks of the array arguments
    (GEOS releases the GIL); other arguments are passed whole.

    Runs in one thread when any geometry is prepared: a prepared geometry builds its index on
    first use, and two threads building it at once crash GEOS.
    """
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    n = len(arrays[0]) if arrays else 0
    workers = max(1, min(threads or os.cpu_count() or 1, n // 256))
    if workers == 1 or any(shapely.is_prepared(a).any() for a in arrays if a.dtype == object):
        return func(*args)
    cuts = np.linspace(0, n, workers + 1).astype(np.int64)

    def run(k):
        part = (a[cuts[k] : cuts[k + 1]] if isinstance(a, np.ndarray) else a for a in args)
        return func(*part)

    with ThreadPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(run, range(workers))))


def _box_pairs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(i, j)``, ``i < j`` in lexicographic order, of shapes whose bounding boxes
    overlap with a positive area (boxes meeting along a line or at a point cannot hold a 2-D
    overlap). Empty shapes have no box and pair with nothing."""
    left, right = shapely.STRtree(geoms).query(geoms)
    ordered = left < right
    left, right = left[ordered], right[ordered]
    box = shapely.bounds(geoms)
    wide = np.minimum(box[left, 2], box[right, 2]) > np.maximum(box[left, 0], box[right, 0])
    tall = np.minimum(box[left, 3], box[right, 3]) > np.maximum(box[left, 1], box[right, 1])
    left, right = left[wide & tall], right[wide & tall]
    order = np.lexsort((right, left))
    return left[order], right[order]


# --------------------------------------------------------------------------------------------
# alignment


def alignment_columns(
    frame: pd.DataFrame,
    source,
    *,
    block: str | None = None,
    territory: str | None = None,
    parent: str | None = None,
) -> dict[str, str | None]:
    """The alignment table's columns by role: ``block``, ``territory`` (always found, or a
    :class:`ValidationError`), ``parent``, ``name`` and ``rep`` (None when absent)."""
    bcol = cols.find_column(
        frame,
        block,
        cols.BLOCK_ID[:-1] + ("block_id",),
        what="block id",
        source=source,
        option="alignment block column",
    )
    tcol = cols.find_column(
        frame,
        territory,
        cols.TERRITORY_ID[:-2],
        what="territory id",
        source=source,
        option="alignment territory column",
    )
    pcol = cols.find_column(
        frame,
        parent,
        cols.PARENT,
        what="parent",
        source=source,
        option="alignment parent column",
        required=False,
    )
    ncol = cols.find_column(
        frame,
        None,
        ("name", "territory_name"),
        what="name",
        source=source,
        option="name",
        required=False,
    )
    rcol = cols.find_column(
        frame, None, cols.REP, what="rep", source=source, option="rep", required=False
    )
    return {"block": bcol, "territory": tcol, "parent": pcol, "name": ncol, "rep": rcol}


@dataclass
class AlignmentTable:
    """An alignment table as read (every column, values as given), its source and its columns
    by role (see :func:`alignment_columns`)."""

    frame: pd.DataFrame
    source: Source
    roles: dict[str, str | None]


def read_alignment_table(
    data, *, block: str | None = None, territory: str | None = None, parent: str | None = None
) -> AlignmentTable:
    """Read an alignment table (path or DataFrame) and find its columns by role."""
    frame, source = as_frame(data, "alignment")
    if len(frame) == 0:
        raise ValidationError(f"The alignment {source.called} has no rows.")
    roles = alignment_columns(frame, source, block=block, territory=territory, parent=parent)
    return AlignmentTable(frame, source, roles)


def prepare_alignment(
    data,
    blocks: Polygons,
    *,
    block: str | None = None,
    territory: str | None = None,
    parent: str | None = None,
) -> pd.DataFrame:
    """Check an alignment table (block -> territory) against the block layer.

    ``data`` is a path, a DataFrame or an :class:`AlignmentTable` already read. Returns a
    DataFrame with ``block_id``, ``territory_id`` (None where the table leaves a block unaligned
    on purpose with a blank territory) and, when present, ``name`` and ``parent``. Blocks listed
    in the alignment but missing from the geometry, blocks of the geometry missing from the
    alignment, and a block given two territories are errors.
    """
    if not isinstance(data, AlignmentTable):
        data = read_alignment_table(data, block=block, territory=territory, parent=parent)
    frame, source, found = data.frame, data.source, data.roles
    blocks.notes.extend(n for n in source.notes if n not in blocks.notes)
    bcol, tcol, pcol, ncol, rcol = (found[k] for k in ("block", "territory", "parent", "name",
                                                       "rep"))  # fmt: skip
    block_ids = id_text(frame[bcol])
    terr = id_text(frame[tcol])
    out = pd.DataFrame(
        {
            "block_id": block_ids.astype(object),
            "territory_id": terr.where(terr.ne("")).astype(object),
        }
    )
    out["territory_id"] = out["territory_id"].where(out["territory_id"].notna(), None)
    if ncol and ncol not in (bcol, tcol):
        out["name"] = frame[ncol].astype(object).to_numpy()
    if pcol and pcol not in (bcol, tcol):
        out["parent"] = frame[pcol].astype(object).to_numpy()
    if rcol and rcol not in (bcol, tcol):
        rep = frame[rcol].astype("string").str.strip()
        out["rep"] = rep.where(rep.ne("")).astype(object).to_numpy()
        _check_one_rep(out, rcol, source)
    blank = (block_ids.isna() | block_ids.eq("")).to_numpy()
    if blank.any():
        raise ValidationError(
            f"Column '{bcol}' (block id) in {source.name} is blank on "
            f"{source.describe_rows(np.flatnonzero(blank))}. Every row needs a block id."
        )
    out = _one_territory_per_block(out, source)
    _check_same_blocks(out, blocks, source)
    return out


def _check_one_rep(out: pd.DataFrame, rcol: str, source: Source) -> None:
    """A territory has at most one rep in the alignment."""
    reps = out.dropna(subset=["territory_id", "rep"])
    shared = reps.groupby("territory_id")["rep"].transform("nunique").gt(1).to_numpy()
    if shared.any():
        rows = reps.index.to_numpy()[shared]
        first = reps.loc[shared, "territory_id"].iloc[0]
        named = pd.unique(reps.loc[reps["territory_id"] == first, "rep"])[:4]
        raise ValidationError(
            f"Territory '{first}' has more than one rep in column '{rcol}' of "
            f"{source.name} ({', '.join(named)}; {source.describe_rows(rows[:5])}). "
            "Give each territory one rep."
        )


def _one_territory_per_block(out: pd.DataFrame, source: Source) -> pd.DataFrame:
    """One row per block; a block listed with two different territories is an error."""
    conflict = (
        out.groupby("block_id")["territory_id"].transform(lambda s: s.fillna("").nunique()).gt(1)
    )
    if conflict.any():
        pos = np.flatnonzero(conflict.to_numpy())
        raise ValidationError(
            f"Blocks given more than one territory in {source.name}: "
            f"{', '.join(pd.unique(out.block_id.to_numpy()[pos])[:5])} "
            f"({source.describe_rows(pos)}). Keep one row per block."
        )
    return out.drop_duplicates("block_id").reset_index(drop=True)


def _check_same_blocks(out: pd.DataFrame, blocks: Polygons, source: Source) -> None:
    """Every block of the layer is in the alignment once, and the alignment has no others."""
    known = pd.Index(blocks.frame[blocks.id])
    missing_geom = ~out["block_id"].isin(known).to_numpy()
    missing_align = ~known.isin(out["block_id"])
    if not (missing_geom.any() or missing_align.any()):
        return
    parts = []
    if missing_geom.any():
        ids = out["block_id"].to_numpy()[missing_geom]
        parts.append(
            f"{len(ids)} blocks in the alignment {source.name} are not in the block layer "
            f"{blocks.source.name} ({_shown(ids)})"
        )
    if missing_align.any():
        ids = known.to_numpy()[missing_align]
        parts.append(
            f"{len(ids)} blocks of {blocks.source.name} are missing from the alignment "
            f"({_shown(ids)})"
        )
    hint = _leading_zero_hint(out["block_id"], known)
    raise ValidationError(
        "; ".join(parts) + ". Every block must appear once in both: add the missing rows "
        "(leave territory_id blank to leave a block unaligned on purpose) or remove stray "
        "ones." + hint
    )


def _shown(ids, limit: int = 5) -> str:
    shown = ", ".join(f"'{v}'" for v in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _leading_zero_hint(alignment_ids: pd.Series, known: pd.Index) -> str:
    stripped_a = set(alignment_ids.str.lstrip("0"))
    stripped_k = set(known.astype(str).str.lstrip("0"))
    if stripped_a == stripped_k and set(alignment_ids) != set(known):
        return (
            " The ids match once leading zeros are ignored: a spreadsheet probably turned "
            "codes such as '01001' into 1001; store the id column as text."
        )
    return ""


def _crs_name(crs: pyproj.CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name
