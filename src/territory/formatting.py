"""How figures look wherever a person reads them: number formats and the status palette.

One set of rules for the CLI tables, the map tooltips and legends, and the tracking dashboard:

- a missing figure (``None``, NaN, ±inf, ``pd.NA``, ``NaT``) is shown as ``–``;
- ratios of a whole (:data:`PERCENT`: attainment, share, pacing, coverage ...) as ``12.3%``,
  changes (:data:`SIGNED_PERCENT`: deviation from the mean, trend) as ``+12.3%``;
- indices (:data:`INDEX`: compactness, density) with three decimals;
- identifiers and line numbers (``*_id``, ``id``, ``row``) as they are, without separators;
- every other number (money, counts, km²) rounded to a whole number with thousands separators.

:func:`figure` is the rule for a figure without a known column (the design and comparison
tables): whole numbers as such, others with three decimals under 10 and one above.

The returned text is plain; callers escape it for where it goes (rich markup, HTML).
"""

from __future__ import annotations

import numbers
import re

import numpy as np
import pandas as pd

MISSING = "–"
PERCENT = frozenset(
    {"attainment", "share", "pacing", "coverage", "attainment_vs_pace", "p_reach_target"}
)
SIGNED_PERCENT = frozenset({"deviation", "trend"})
INDEX = frozenset({"compactness", "density"})
# On-track status of a tracked territory; "no target" is set apart from a map's "no data".
NO_DATA = "#d9d9d9"
STATUS_COLOURS = {
    "ahead": "#1a9850",
    "on track": "#91bfdb",
    "behind": "#d73027",
    "no target": "#bbbbbb",
}

__all__ = [
    "INDEX",
    "MISSING",
    "NO_DATA",
    "PERCENT",
    "SIGNED_PERCENT",
    "STATUS_COLOURS",
    "cell",
    "figure",
    "heading",
    "is_missing",
    "money",
    "number",
    "percent",
    "status_colour",
]


_SNAKE = re.compile(r"[a-z0-9_]+")


def heading(column: str, *, capital: bool = False) -> str:
    """A column name as a heading: snake_case names are spelled out (``revenue_prior`` ->
    ``revenue prior``, with ``capital`` ``Revenue prior``); any other name (a user's column,
    e.g. ``Sales 2024``) is kept as written."""
    if not _SNAKE.fullmatch(column):
        return column
    words = column.replace("_", " ")
    return words.capitalize() if capital else words


def is_missing(value) -> bool:
    """True for ``None``, NaN, ±inf, ``pd.NA`` and ``NaT``."""
    if value is None:
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return not np.isfinite(float(value))
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes are not missing scalars
        return False


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def number(value, decimals: int = 0) -> str:
    """``1,234`` (integers as they are, others rounded to ``decimals``); missing -> ``–``."""
    if is_missing(value):
        return MISSING
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    return f"{float(value):,.{decimals}f}"


def money(value) -> str:
    """An amount: whole units with thousands separators (``12,345``)."""
    return number(value, 0)


def percent(value, signed: bool = False) -> str:
    """A ratio as a percentage with one decimal (``0.123`` -> ``12.3%``, signed ``+12.3%``)."""
    if is_missing(value):
        return MISSING
    return f"{float(value):+.1%}" if signed else f"{float(value):.1%}"


def figure(value) -> str:
    """A figure of no known column: ``yes``/``no``, whole numbers as such, else 3 or 1 decimals."""
    if is_missing(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if _is_number(value):
        v = float(value)
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(value)


def _identifier(field: str) -> bool:
    return field in ("id", "row") or field.endswith("_id")


def cell(field: str, value) -> str:
    """``value`` of column ``field`` as text, by the column's kind (see the module docstring)."""
    if is_missing(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if not _is_number(value) or _identifier(field):
        return str(value)
    if field in PERCENT or field in SIGNED_PERCENT:
        return percent(value, signed=field in SIGNED_PERCENT)
    if field in INDEX:
        return f"{float(value):.3f}"
    return number(value)


def status_colour(status) -> str:
    """The colour of an on-track status (:data:`NO_DATA` for anything else)."""
    return STATUS_COLOURS.get(status, NO_DATA)
