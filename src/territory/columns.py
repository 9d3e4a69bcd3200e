"""Column conventions and auto-detection.

Documented conventions: ``account_id``, ``block_id``, ``territory_id``, ``lat``/``lon`` and
``postal_code``. Common spellings are recognised (``Latitude``, ``lng``, ``Customer ID``,
``ZIP``, ``GEOID`` ...); an explicit column name always wins over detection.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from territory.errors import InputError, ValidationError
from territory.io import Source

ACCOUNT_ID = ("account_id", "accountid", "account", "customer_id", "customerid", "id")
LAT = ("lat", "latitude", "y_lat")
LON = ("lon", "lng", "long", "longitude", "x_lon")
POSTAL = ("postal_code", "postalcode", "postcode", "zip", "zipcode", "zip_code", "zcta")
TERRITORY_ID = ("territory_id", "territoryid", "territory", "territory_code", "id", "code")
TERRITORY_NAME = ("name", "territory_name", "label")
BLOCK_ID = ("block_id", "blockid", "block", "geoid", "fips", "zip", "zip3", "zcta", "id", "code")
PARENT = ("parent", "region", "area", "parent_id")
REP = ("rep", "rep_id", "rep_name", "sales_rep", "owner")
MEASURES = ("revenue", "pipeline", "potential")


def normalise(name: str) -> str:
    """Compare column names ignoring case, spaces, dashes and underscores."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def find_column(
    frame: pd.DataFrame,
    explicit: str | None,
    candidates: Sequence[str],
    *,
    what: str,
    source: Source,
    option: str,
    required: bool = True,
) -> str | None:
    """Return the column to use for ``what``.

    ``explicit`` must exist exactly (or up to case/spacing); otherwise the first candidate found
    is used. ``option`` names the setting a user changes to pick another column; it is quoted in
    the error message.
    """
    columns = [c for c in frame.columns if c != "geometry"]
    found = _find(frame, explicit, candidates, what, source, option, required, columns)
    if found is not None and list(frame.columns).count(found) > 1:
        positions = [i + 1 for i, c in enumerate(frame.columns) if c == found]
        raise ValidationError(
            f"{source.name} has {len(positions)} columns named '{found}' (columns "
            f"{', '.join(map(str, positions))}), used for the {what}. territory would not know "
            "which one to use: rename or drop all but one."
        )
    return found


def _find(frame, explicit, candidates, what, source, option, required, columns) -> str | None:
    by_norm = {}
    for c in columns:
        by_norm.setdefault(normalise(c), c)
    if explicit:
        if explicit in frame.columns:
            return explicit
        if normalise(explicit) in by_norm:
            return by_norm[normalise(explicit)]
        raise InputError(
            f"Column '{explicit}' for the {what} is not in {source.name}. "
            f"Available columns: {_list(columns)}. Fix the {option} setting."
        )
    for cand in candidates:
        if normalise(cand) in by_norm:
            return by_norm[normalise(cand)]
    if required:
        raise InputError(
            f"No {what} column found in {source.name} (looked for {_list(candidates)}). "
            f"Available columns: {_list(columns)}. Name the column with the {option} setting."
        )
    return None


def _list(names: Sequence[str], limit: int = 15) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "") or "none"
