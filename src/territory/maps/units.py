"""What a map's figures are: the date they describe (subtitle) and the currency of money.

The subtitle date is the data's as-of date, never silently the day the map was built: the
tracking date for tracking maps, else the plan's ``as_of`` (or its ``[tracking] as_of``), else
the newest date in a date column of the accounts; only without any of those does the
subtitle say ``built <day>``.

Money figures (:data:`territory.currency.MONEY`) carry the plan's currency, or the currency a
regional adjustment gives the territory (a ``currency`` column of the adjustments, e.g. from
``localisation``). With one currency for the whole map the unit goes into the captions
("Revenue (EUR)"); with several, each money figure in a tooltip carries its territory's code.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd

from territory.currency import MONEY

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}([ T].*)?")


def as_of_line(result, as_of=None) -> str:
    """The subtitle's date part, e.g. ``"as of 2017-06-30"`` or ``"built 2026-12-01"``."""
    plan = result.plan
    tracking_day = plan.tracking.as_of if plan.tracking is not None else None
    for day in (as_of, plan.as_of, tracking_day):
        if day is not None and str(day).strip():
            parsed = pd.to_datetime(str(day).strip(), errors="coerce")
            if pd.notna(parsed):
                return f"as of {parsed:%Y-%m-%d}"
    newest = _newest_account_date(result)
    if newest is not None:
        column, day = newest
        return f"as of {day:%Y-%m-%d} (newest {column})"
    return f"built {date.today():%Y-%m-%d}"


def _newest_account_date(result):
    """``(column, day)`` of the newest date in a date column of the accounts, or None.

    Date columns: datetime columns, and text columns whose values are all ISO dates.
    """
    accounts = getattr(result, "accounts", None)
    frame = getattr(accounts, "frame", None)
    if not isinstance(frame, pd.DataFrame):
        return None
    best = None
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            days = values
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            present = values.dropna().astype(str)
            if present.empty or not present.head(50).str.fullmatch(_ISO_DAY).all():
                continue
            if not present.str.fullmatch(_ISO_DAY).all():
                continue
            days = pd.to_datetime(present, errors="coerce", format="ISO8601")
            if days.isna().any():
                continue
        else:
            continue
        newest = days.max()
        if pd.notna(newest) and (best is None or newest > best[1]):
            best = (str(column), pd.Timestamp(newest))
    return best


class Money:
    """The currency of the money figures on one map.

    ``codes`` (= ``by_territory``) maps territory id -> ISO code (or None); ``single`` is the
    one code when every territory has the same, ``mixed`` says that codes differ between
    territories.
    """

    def __init__(self, codes: pd.Series):
        self.by_territory = codes = pd.Series(codes, dtype=object)
        found = set(codes.dropna())
        self.single = found.pop() if len(found) == 1 and codes.notna().all() else None
        self.mixed = len(set(codes.dropna())) > 1 or (bool(found) and codes.isna().any())

    def caption(self, field: str, label: str) -> str:
        """``label`` of ``field`` with the unit: ``Revenue (EUR)``, or as given."""
        if field not in MONEY:
            return label
        if self.single:
            return f"{label} ({self.single})"
        if self.mixed:
            return f"{label} (territory currency)"
        return label

    def values(self, field: str, territory_ids, texts, escape=str) -> list[str]:
        """Formatted ``texts`` of ``field``, each with its territory's code when codes differ
        (the code passed through ``escape``: :func:`~territory.maps.safe.text` for HTML)."""
        texts = list(texts)
        if field not in MONEY or not self.mixed:
            return texts
        codes = self.by_territory.reindex(pd.Index(territory_ids, dtype=object)).to_numpy()
        return [
            f"{t} {escape(c)}" if isinstance(c, str) and t not in ("", "–") else t
            for t, c in zip(texts, codes, strict=True)
        ]


def plan_currencies(result, territory_ids) -> pd.Series:
    """territory id -> currency of the territories ``territory_ids`` of a plan result: the
    plan's currency, or the one a regional adjustment gives the territory."""
    ids = pd.Index(pd.Series(territory_ids, dtype=object))
    codes = pd.Series(result.plan.currency, index=ids, dtype=object)
    regional = _regional_currencies(result)
    if regional is not None:
        codes.update(regional.reindex(ids).dropna())
    return codes


def _regional_currencies(result) -> pd.Series | None:
    """territory_id -> currency from the adjustments (their ``currency`` column), or None.

    A code is shown as the adjustment gives it (upper case, stripped): it is the territory's
    own attribute, not checked against ISO 4217 as the plan's setting is.
    """
    adjustments = result.adjustments
    if not isinstance(adjustments, pd.DataFrame) or "currency" not in adjustments.columns:
        return None
    rows = adjustments.dropna(subset=["currency"])
    codes = rows["currency"].astype(str).str.strip().str.upper()
    rows, codes = rows[codes != ""], codes[codes != ""]
    if rows.empty:
        return None
    return pd.Series(codes.to_numpy(), index=rows["territory_id"].to_numpy(), dtype=object)
