"""Locate accounts by postal code.

The package embeds the US Census 2021 ZCTA internal points (one point per 5-digit ZIP area).
Other countries, or finer tables, are supplied as a table with ``postal_code``, ``lat`` and
``lon`` columns. Codes not in the table are reported, never dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from territory.columns import LAT, LON, POSTAL, find_column
from territory.io import as_frame

_ZIP_PLUS4 = re.compile(r"^(\d{5})(?:[- ]?\d{4})?$")


@lru_cache(maxsize=1)
def us_zip_points() -> pd.DataFrame:
    """The embedded US ZIP (ZCTA) point table: ``postal_code``, ``lat``, ``lon``, ``state``."""
    path = resources.files("territory.data") / "us_zip_points.parquet"
    with resources.as_file(path) as p:
        return pd.read_parquet(p)


def normalise_us_zip(codes: pd.Series) -> pd.Series:
    """Normalise US ZIP codes to 5 digits.

    ``"02134-1234"`` and ``"02134 1234"`` become ``"02134"``; numeric codes that lost their
    leading zeros in a spreadsheet (``"2134"``, ``2134.0``) are zero-padded. Anything else is
    returned stripped, and will simply not be found.
    """
    text = codes.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    padded = text.where(~text.str.fullmatch(r"\d{3,4}").fillna(False), text.str.zfill(5))
    match = padded.str.extract(_ZIP_PLUS4, expand=False)
    return match.fillna(padded)


def load_postal_table(table=None) -> pd.DataFrame:
    """Return a postal lookup table with columns ``postal_code``, ``lat``, ``lon``.

    ``table`` is ``None`` for the embedded US ZIP table, or a path/DataFrame of the user's own.
    """
    if table is None:
        return us_zip_points()[["postal_code", "lat", "lon"]]
    frame, source = as_frame(table, "postal code")
    code = find_column(
        frame, None, POSTAL, what="postal code", source=source, option="postal table"
    )
    lat = find_column(frame, None, LAT, what="latitude", source=source, option="postal table")
    lon = find_column(frame, None, LON, what="longitude", source=source, option="postal table")
    from territory.validate import id_text, to_number

    blanks = "a code with a blank coordinate is left out, and its accounts are unlocated"
    lat_values, _ = to_number(frame[lat], lat, source, blanks=blanks)
    lon_values, _ = to_number(frame[lon], lon, source, blanks=blanks)
    out = pd.DataFrame({"postal_code": id_text(frame[code]), "lat": lat_values, "lon": lon_values})
    return out.dropna().drop_duplicates("postal_code")


def locate(codes: pd.Series, table=None) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """Look up ``codes`` and return ``(lat, lon, note)``.

    ``lat``/``lon`` are NaN where a code is blank or unknown, and ``note`` says why for those
    rows (empty string where located).
    """
    lookup = load_postal_table(table)
    keys = normalise_us_zip(codes) if table is None else codes.astype("string").str.strip()
    idx = pd.Index(lookup["postal_code"]).get_indexer(keys.fillna(""))
    found = idx >= 0
    lat = np.where(found, lookup["lat"].to_numpy()[idx], np.nan)
    lon = np.where(found, lookup["lon"].to_numpy()[idx], np.nan)
    table_name = "the embedded US ZIP table" if table is None else "the postal code table"
    blank = keys.isna() | keys.eq("")
    note = pd.Series("", index=codes.index, dtype=object)
    note[~found & ~blank.to_numpy()] = [
        f"postal code '{c}' not found in {table_name}" for c in codes[~found & ~blank.to_numpy()]
    ]
    note[blank.to_numpy()] = "postal code is blank"
    return lat, lon, note
