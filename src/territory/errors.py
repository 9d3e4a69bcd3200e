"""Exceptions raised by territory.

Every error a user can cause carries one readable paragraph: what is wrong, where (file, column,
rows) and how to fix it. The CLI prints that paragraph and exits with code 1; the Python API
raises the exception so callers can catch :class:`TerritoryError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class TerritoryError(Exception):
    """Base class of every error territory raises on purpose."""


class InputError(TerritoryError):
    """A file or table cannot be read as asked (missing file, missing column, bad format)."""


class ValidationError(TerritoryError):
    """The input was read but its content is wrong (bad values, duplicate ids, bad geometry)."""


class CRSMismatchError(ValidationError):
    """A layer has no CRS, or CRSs cannot be reconciled explicitly."""


class PluginError(TerritoryError):
    """A plugin raised or returned malformed data."""


def where(source: str | None) -> str:
    """Return ``" in <source>"`` for messages, or an empty string when the source is unknown."""
    return f" in {source}" if source else ""


def format_rows(rows: Sequence[int] | Iterable[int], limit: int = 8) -> str:
    """Format row numbers for a message: ``"rows 2, 5, 9 and 14 more"``.

    Row numbers are given as the user sees them (1-based data rows, header excluded).
    """
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {shown}{more}"
