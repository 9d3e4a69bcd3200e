"""Tracking periods (months, quarters, fiscal years) and as-of dates as people write them."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from territory.errors import ValidationError


@dataclass(frozen=True)
class Period:
    label: str
    start: pd.Timestamp
    end: pd.Timestamp  # inclusive last day

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period_of(day: pd.Timestamp, kind: str, fiscal_year_start: int = 1) -> Period:
    """The month, quarter or (fiscal) year containing ``day``.

    Fiscal years are named after the calendar year they end in (FY2018 starts 2017-07-01 when
    the fiscal year starts in July).
    """
    day = pd.Timestamp(day).normalize()
    if kind == "month":
        start = day.replace(day=1)
        return Period(f"{start:%Y-%m}", start, start + pd.offsets.MonthEnd(0))
    shift = (day.month - fiscal_year_start) % 12
    fy_start = (day - pd.DateOffset(months=shift)).replace(day=1)
    fy_name = fy_start.year + (1 if fiscal_year_start != 1 else 0)
    if kind == "year":
        return Period(
            f"FY{fy_name}", fy_start, fy_start + pd.DateOffset(years=1) - pd.Timedelta(days=1)
        )
    q = shift // 3
    start = fy_start + pd.DateOffset(months=3 * q)
    return Period(
        f"FY{fy_name}-Q{q + 1}", start, start + pd.DateOffset(months=3) - pd.Timedelta(days=1)
    )


def previous(period: Period, kind: str, fiscal_year_start: int) -> Period:
    return period_of(period.start - pd.Timedelta(days=1), kind, fiscal_year_start)


def parse_day(text: str, order: str | None = None, what: str = "--as-of") -> pd.Timestamp:
    """A date written YYYY-MM-DD, or day/month/year or month/day/year when ``order`` says so.

    01/06/2017 could be 1 June or 6 January, so forms other than ISO are refused unless the
    order is named (``order`` = ``"dayfirst"`` or ``"monthfirst"``).
    """
    import datetime as dt
    import re

    text = str(text).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        forms = ["%Y-%m-%d"]
    elif order in ("dayfirst", "monthfirst"):
        dm = "%d{0}%m{0}%Y" if order == "dayfirst" else "%m{0}%d{0}%Y"
        forms = [dm.format(sep) for sep in "/.-"] + [
            dm.replace("%Y", "%y").format(sep) for sep in "/.-"
        ]
    elif re.fullmatch(r"\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}", text):
        raise ValidationError(
            f"{what} '{text}' is ambiguous (day/month or month/day?): write it as YYYY-MM-DD "
            "(e.g. 2017-06-30), or add --dayfirst (01/06/2017 = 1 June) or --monthfirst "
            "(06/01/2017 = 1 June)."
        )
    else:
        raise ValidationError(f"{what} '{text}' is not a date; write it as YYYY-MM-DD.")
    for form in forms:
        try:
            return pd.Timestamp(dt.datetime.strptime(text, form))
        except ValueError:
            continue
    how = {"dayfirst": "DD/MM/YYYY", "monthfirst": "MM/DD/YYYY"}.get(order, "YYYY-MM-DD")
    raise ValidationError(f"{what} '{text}' is not a date; write it as {how}.")
