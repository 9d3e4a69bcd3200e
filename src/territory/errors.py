"""Exceptions raised by territory.

Every error a user can cause carries one readable paragraph: what is wrong, where (file, column,
rows) and how to fix it. The CLI prints that paragraph and exits with code 1; the Python API
raises the exception so callers can catch :class:`TerritoryError`.
"""

from __future__ import annotations


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


class OutputError(TerritoryError):
    """Outputs cannot be written as asked (folder is a file, output is an input, disk full)."""
