"""Targets, actuals and pipeline over time: the segment manager's tracking.

Given a plan's assignments, dated order lines and (optionally) open opportunities, tracking at
an as-of date computes per territory and per territory x segment: the period's target
(top-down from the previous period, allocated by prior actuals, potential, evenly or by weights,
after the plan's regional adjustments; or imported bottom-up), actuals to date, attainment,
pacing, run-rate forecast, weighted pipeline and coverage, an on-track status and the trend
against the same point of the previous period. Targets can be revised in the light of actuals,
keeping the total, with every change recorded.

Rows are never dropped silently: order lines with unparseable dates or non-numeric amounts,
negative amounts (returns), unknown opportunity stages and lines for accounts the plan does not
know are all kept in the totals where they can be and listed in ``issues``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from territory.columns import find_column
from territory.errors import ValidationError
from territory.formatting import money
from territory.io import Source, as_frame
from territory.validate import id_text, parse_numbers

PERIODS = ("month", "quarter", "year")
ALLOCATIONS = ("prior", "even", "potential", "weights")
STAGES = {
    "prospect": 0.1,
    "qualify": 0.25,
    "proposal": 0.5,
    "negotiation": 0.75,
    "closed won": 1.0,
    "closed lost": 0.0,
}
UNKNOWN_ACCOUNT = "(unknown account)"
UNASSIGNED = "(unassigned)"


@dataclass(frozen=True)
class TrackingSpec:
    """How to track: data, periods, target setting and status thresholds."""

    orders: Any
    account: str | None = None
    date: str | None = None
    amount: str | None = None
    opportunities: Any = None
    period: str = "year"
    fiscal_year_start: int = 1
    growth: float = 0.0
    allocation: str = "prior"
    potential: str | None = None
    weights: Any = None
    targets: Any = None
    segment: str | None = None
    ahead: float = 1.05
    behind: float = 0.95
    as_of: str | None = None

    def __post_init__(self):
        if self.period not in PERIODS:
            raise ValidationError(f"Unknown period '{self.period}'. Use one of {PERIODS}.")
        if self.allocation not in ALLOCATIONS:
            raise ValidationError(
                f"Unknown allocation '{self.allocation}'. Use one of {ALLOCATIONS}."
            )
        if not 1 <= self.fiscal_year_start <= 12:
            raise ValidationError("fiscal_year_start is a month number, 1 to 12.")
        if not self.behind <= 1 <= self.ahead:
            raise ValidationError("Thresholds need behind <= 1 <= ahead (e.g. 0.95 and 1.05).")


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


@dataclass
class Tracking:
    """Tracking tables at an as-of date (see the module docstring)."""

    as_of: pd.Timestamp
    period: Period
    previous: Period
    territories: pd.DataFrame
    segments: pd.DataFrame | None
    reconciliation: pd.DataFrame
    issues: pd.DataFrame
    revisions: pd.DataFrame = field(default_factory=pd.DataFrame)
    spec: TrackingSpec | None = None
    pace: float = 1.0
    pace_basis: str = ""


def _issue(rows: list, source, positions, column: str, values, problem: str) -> None:
    """Record one issue per position; ``source`` is a :class:`Source` (true line numbers)."""
    name = source.name if isinstance(source, Source) else source
    numbers = (
        source.rows(positions) if isinstance(source, Source) else [int(p) + 2 for p in positions]
    )
    for number, value in zip(numbers, values, strict=True):
        rows.append(
            {
                "source": name,
                "row": number,
                "column": column,
                "value": str(value),
                "problem": problem,
            }  # fmt: skip
        )


def read_orders(spec: TrackingSpec, accounts: pd.Series, issues: list) -> pd.DataFrame:
    """Order lines with ``account_id``, ``date``, ``amount``, ``territory_id`` and the segment.

    ``accounts`` maps account id -> (territory_id, segment label).
    """
    frame, source = as_frame(spec.orders, "order lines")
    acol = find_column(frame, spec.account, ("account_id", "customer_id", "account"),
                       what="account id", source=source, option="tracking account")  # fmt: skip
    dcol = find_column(frame, spec.date, ("date", "order_date", "close_date"), what="date",
                       source=source, option="tracking date")  # fmt: skip
    mcol = find_column(frame, spec.amount, ("amount", "sales", "revenue", "value"),
                       what="amount", source=source, option="tracking amount")  # fmt: skip
    out = pd.DataFrame({"account_id": id_text(frame[acol]).astype(object).to_numpy()})
    out["date"] = pd.to_datetime(frame[dcol], errors="coerce")
    bad = out["date"].isna().to_numpy()
    _issue(issues, source, np.flatnonzero(bad), dcol, frame[dcol][bad],
           "date does not parse; line counted in no period")  # fmt: skip
    out["amount"] = parse_numbers(frame[mcol], mcol, source)[0]
    bad = out["amount"].isna().to_numpy()
    _issue(issues, source, np.flatnonzero(bad), mcol, frame[mcol][bad],
           "amount is not a number; counted as 0")  # fmt: skip
    out["amount"] = out["amount"].fillna(0.0)
    neg = (out["amount"] < 0).to_numpy()
    _issue(issues, source, np.flatnonzero(neg), mcol, frame[mcol][neg],
           "negative amount (return or credit); kept and netted")  # fmt: skip
    _attach(out, accounts, issues, source, acol)
    return out


def _attach(out: pd.DataFrame, accounts: pd.DataFrame, issues: list, source: Source, acol: str):
    known = out["account_id"].isin(accounts.index)
    unknown = np.flatnonzero(~known.to_numpy())
    _issue(issues, source, unknown, acol, out["account_id"].iloc[unknown],
           f"account not in the plan; tracked under '{UNKNOWN_ACCOUNT}'")  # fmt: skip
    out["territory_id"] = out["account_id"].map(accounts["territory_id"])
    out.loc[known & out["territory_id"].isna(), "territory_id"] = UNASSIGNED
    out.loc[~known, "territory_id"] = UNKNOWN_ACCOUNT
    out["segment"] = out["account_id"].map(accounts["segment"]).fillna(UNKNOWN_ACCOUNT)


def read_opportunities(spec: TrackingSpec, accounts, issues: list) -> pd.DataFrame:
    frame, source = as_frame(spec.opportunities, "opportunities")
    named = spec.account if spec.account in frame.columns else None
    acol = find_column(frame, named, ("account_id", "customer_id", "account"),
                       what="account id", source=source, option="tracking account")  # fmt: skip
    mcol = find_column(frame, None, ("amount", "value"), what="amount", source=source,
                       option="opportunity amount")  # fmt: skip
    scol = find_column(frame, None, ("stage",), what="stage", source=source,
                       option="opportunity stage")  # fmt: skip
    ccol = find_column(frame, None, ("close_date", "expected_close", "close"), what="close date",
                       source=source, option="opportunity close date")  # fmt: skip
    pcol = find_column(frame, None, ("probability",), what="probability", source=source,
                       option="opportunity probability", required=False)  # fmt: skip
    out = pd.DataFrame({"account_id": id_text(frame[acol]).astype(object).to_numpy()})
    out["amount"] = np.nan_to_num(parse_numbers(frame[mcol], mcol, source)[0], nan=0.0)
    out["stage"] = frame[scol].astype("string").str.strip().str.lower()
    out["close_date"] = pd.to_datetime(frame[ccol], errors="coerce")
    bad = out["close_date"].isna().to_numpy()
    _issue(issues, source, np.flatnonzero(bad), ccol, frame[ccol][bad],
           "close date does not parse; counted as closing this period")  # fmt: skip
    prob = out["stage"].map(STAGES)
    if pcol:
        given = pd.Series(parse_numbers(frame[pcol], pcol, source)[0], index=frame.index)
        prob = given.where(given.between(0, 1), prob)
    unknown = prob.isna().to_numpy()
    problem = f"unknown stage (known: {', '.join(STAGES)}) and no probability; weighted 0"
    _issue(issues, source, np.flatnonzero(unknown), scol, frame[scol][unknown], problem)
    out["probability"] = prob.fillna(0.0).astype(float)
    _attach(out, accounts, issues, source, acol)
    return out


def track(result, spec: TrackingSpec, as_of) -> Tracking:
    """Track the plan in ``result`` at ``as_of`` (a date)."""
    as_of = pd.Timestamp(as_of).normalize()
    period = period_of(as_of, spec.period, spec.fiscal_year_start)
    prev = previous(period, spec.period, spec.fiscal_year_start)
    assignments = result.assignments
    if not isinstance(assignments, pd.DataFrame):
        assignments = assignments.compute()
    seg = spec.segment
    if seg is not None and seg not in assignments.columns:
        raise ValidationError(
            f"Tracking segment '{seg}' is not a segment of the plan; segments: "
            f"{', '.join(c for c in (result.labels.columns if result.labels is not None else []))}."
        )
    accounts = pd.DataFrame(
        {
            "territory_id": assignments["territory_id"].astype(object).to_numpy(),
            "segment": assignments[seg].to_numpy() if seg else "all",
        },
        index=pd.Index(assignments["account_id"].astype(str), name="account_id"),
    )
    issues: list = []
    orders = read_orders(spec, accounts, issues)
    opps = read_opportunities(spec, accounts, issues) if spec.opportunities is not None else None

    same_point = prev.start + (as_of - period.start)
    in_now = orders["date"].between(period.start, as_of)
    in_prev_full = orders["date"].between(prev.start, prev.end)
    in_prev_point = orders["date"].between(prev.start, same_point)

    if not (in_now | in_prev_full).any() and spec.targets is None:
        dated = orders["date"].dropna()
        span = f"{dated.min():%Y-%m-%d} to {dated.max():%Y-%m-%d}" if len(dated) else "none"
        raise ValidationError(
            f"No order lines fall in {period.label} or {prev.label}, so there is nothing to track "
            f"and no history to set targets from (order dates: {span}). Choose an as-of date "
            "within the data, or give targets."
        )
    # Pace against last period's curve: the share of its sales made by the same point (whole
    # plan, so small territories are not noisy); linear time when there is no history.
    prior_total = float(orders["amount"].where(in_prev_full, 0.0).sum())
    if prior_total > 0:
        share = float(orders["amount"].where(in_prev_point, 0.0).sum()) / prior_total
        basis = f"last period's curve: {share:.0%} of {prev.label} sales were made by this point"
    else:
        share = ((as_of - period.start).days + 1) / period.days
        basis = f"linear: {share:.0%} of the period has elapsed (no sales in {prev.label})"
    share = min(max(share, 1e-6), 1.0)
    territory_ids = [*map(str, result.kpis["territory_id"])]
    keys = ["territory_id"]
    terr = _measures(orders, opps, in_now, in_prev_full, in_prev_point, keys, as_of, period)
    terr = terr.reindex(pd.Index(territory_ids, name="territory_id").append(
        terr.index.difference(territory_ids))).fillna(0.0)  # fmt: skip
    targets = _territory_targets(result, spec, terr)
    terr["target"] = targets.reindex(terr.index).fillna(0.0)
    _status(terr, share, spec)
    names = result.kpis.set_index(result.kpis["territory_id"].astype(str))["name"].astype(str)
    terr.insert(0, "name", [names.get(t, t) for t in terr.index])

    cells = None
    if seg:
        cells = _measures(orders, opps, in_now, in_prev_full, in_prev_point,
                          ["territory_id", "segment"], as_of, period)  # fmt: skip
        given = _cell_table(spec.targets, seg, ("target",)) if spec.targets is not None else None
        if given is not None:  # cells with a target but no sales yet still belong in the table
            cells = cells.reindex(cells.index.union(given.index), fill_value=0.0)
        cells["target"] = _cell_targets(result, spec, cells, terr["target"])
        _status(cells, share, spec)
        cells.index = cells.index.set_names(["territory_id", seg])
    recon = _reconcile(terr, cells)
    issue_frame = pd.DataFrame(issues, columns=["source", "row", "column", "value", "problem"])
    return Tracking(as_of, period, prev, terr.reset_index(), None if cells is None else
                    cells.reset_index(), recon, issue_frame, spec=spec, pace=share,
                    pace_basis=basis)  # fmt: skip


def _measures(orders, opps, in_now, in_prev_full, in_prev_point, keys, as_of, period):
    g = orders.groupby(keys, sort=True)
    out = pd.DataFrame(
        {
            "actual": orders["amount"].where(in_now, 0.0).groupby([orders[k] for k in keys]).sum(),
            "prior_period": orders["amount"]
            .where(in_prev_full, 0.0)
            .groupby([orders[k] for k in keys])
            .sum(),
            "prior_same_point": orders["amount"]
            .where(in_prev_point, 0.0)
            .groupby([orders[k] for k in keys])
            .sum(),
            "lines_read": g.size(),  # every line read, any date: nothing is lost
        }
    )
    if opps is not None and len(opps):
        closes = opps["close_date"].fillna(period.end)
        open_now = (closes > as_of) & (closes <= period.end) & ~opps["stage"].isin(
            ["closed won", "closed lost"])  # fmt: skip
        weighted = (opps["amount"] * opps["probability"]).where(open_now, 0.0)
        out = out.join(
            pd.DataFrame(
                {
                    "pipeline": opps["amount"]
                    .where(open_now, 0.0)
                    .groupby([opps[k] for k in keys])
                    .sum(),
                    "weighted_pipeline": weighted.groupby([opps[k] for k in keys]).sum(),
                }
            ),
            how="outer",
        )
    else:
        out["pipeline"] = 0.0
        out["weighted_pipeline"] = 0.0
    return out.fillna(0.0)


def _territory_targets(result, spec: TrackingSpec, terr: pd.DataFrame) -> pd.Series:
    ids = pd.Index(map(str, result.kpis["territory_id"]))
    if spec.targets is not None:
        from territory.targets import read_targets

        cells = _cell_table(spec.targets, spec.segment, ("target", "quota", "goal"))
        if cells is not None:  # bottom-up per territory x segment: territories are the sums
            unknown = cells.index.get_level_values(0).difference(ids)
            if len(unknown):
                raise ValidationError(f"Targets for unknown territories: {', '.join(unknown[:8])}.")
            return cells.groupby(level=0).sum().reindex(ids).fillna(0.0)
        table = read_targets(spec.targets)
        table.index = table.index.map(str)
        unknown = table.index.difference(ids)
        if len(unknown):
            raise ValidationError(f"Targets for unknown territories: {', '.join(unknown[:8])}.")
        return table.reindex(ids).fillna(0.0)
    prior = terr["prior_period"].reindex(ids).fillna(0.0)
    total = float(terr["prior_period"].sum()) * (1 + spec.growth)
    if spec.allocation == "prior":
        weights = prior.clip(lower=0)
    elif spec.allocation == "even":
        weights = pd.Series(1.0, index=ids)
    elif spec.allocation == "potential":
        if not spec.potential or spec.potential not in result.kpis.columns:
            raise ValidationError("allocation = 'potential' needs potential = <a plan measure>.")
        weights = result.kpis.set_index(result.kpis["territory_id"].astype(str))[spec.potential]
    else:
        if spec.weights is None:
            raise ValidationError("allocation = 'weights' needs weights = <a CSV>.")
        cells = _cell_table(spec.weights, spec.segment, ("weight",))
        if cells is not None:  # per-cell weights: a territory weighs the sum of its cells
            weights = cells.groupby(level=0).sum().reindex(ids).fillna(0.0)
        else:
            from territory.validate import to_number

            frame, source = as_frame(spec.weights, "weights")
            tcol = find_column(frame, None, ("territory_id", "territory"), what="territory id",
                               source=source, option="weights territory column")  # fmt: skip
            wcol = find_column(frame, None, ("weight",), what="weight", source=source,
                               option="weights column")  # fmt: skip
            values, _ = to_number(frame[wcol], wcol, source)
            index = frame[tcol].astype(str).str.strip()
            weights = pd.Series(values, index=index).reindex(ids).fillna(0.0)
    kpis = result.kpis.set_index(result.kpis["territory_id"].astype(str))
    if "target_before_adjustments" in kpis.columns:  # apply the plan's regional adjustments
        ratio = (kpis["target"] / kpis["target_before_adjustments"]).replace([np.inf], np.nan)
        weights = weights * ratio.reindex(ids).fillna(1.0)
    weights = weights.reindex(ids).fillna(0.0).clip(lower=0)
    if weights.sum() <= 0:
        weights = pd.Series(1.0, index=ids)
    return total * weights / weights.sum()


def _cell_table(data, segment: str | None, value_names: tuple[str, ...]) -> pd.Series | None:
    """A (territory_id, segment) -> value table when ``data`` has a segment column, else None."""
    frame, source = as_frame(data, "targets")
    seg = next((c for c in (segment, "segment") if c and c in frame.columns), None)
    if seg is None:
        return None
    from territory.validate import to_number

    tcol = find_column(frame, None, ("territory_id", "territory"), what="territory id",
                       source=source, option="territory column")  # fmt: skip
    vcol = find_column(frame, None, value_names, what="value", source=source,
                       option="value column")  # fmt: skip
    values, _ = to_number(frame[vcol], vcol, source)
    index = pd.MultiIndex.from_arrays(
        [frame[tcol].astype(str).str.strip(), frame[seg].astype(str).str.strip()],
        names=["territory_id", "segment"],
    )
    out = pd.Series(values, index=index).fillna(0.0)
    if out.index.duplicated().any():
        raise ValidationError(f"{source.name} lists a territory x segment cell twice.")
    return out


def _cell_targets(result, spec: TrackingSpec, cells: pd.DataFrame, territory_targets) -> pd.Series:
    """Targets per territory x segment, summing to each territory's target.

    Bottom-up cell targets are used as given. Otherwise each territory's target is split by the
    allocation method: prior-period share (``prior``), evenly (``even``), the segment's
    ``potential`` measure, or cell ``weights`` (a weights table with a segment column); where a
    territory has nothing to split by, evenly.
    """
    index = cells.index
    if spec.targets is not None:
        given = _cell_table(spec.targets, spec.segment, ("target", "quota", "goal"))
        if given is not None:
            return given.reindex(index).fillna(0.0)
    if spec.allocation == "even":
        basis = pd.Series(1.0, index=index)
    elif spec.allocation == "potential" and spec.potential and spec.segment in result.segments:
        table = result.segments[spec.segment]
        basis = (
            pd.Series(
                table[spec.potential].to_numpy(),
                index=pd.MultiIndex.from_arrays(
                    [table["territory_id"].astype(str), table[spec.segment].astype(str)]
                ),
            )
            .reindex(index)
            .fillna(0.0)
        )
    elif spec.allocation == "weights" and _cell_table(spec.weights, spec.segment,
                                                      ("weight",)) is not None:  # fmt: skip
        basis = _cell_table(spec.weights, spec.segment, ("weight",)).reindex(index).fillna(0.0)
    else:
        basis = cells["prior_period"]
    basis = basis.clip(lower=0)
    by_terr = basis.groupby(level=0).transform("sum")
    n = basis.groupby(level=0).transform("size")
    share = (basis / by_terr).where(by_terr > 0, 1.0 / n)
    terr_target = pd.Series(index.get_level_values(0).map(territory_targets.to_dict()),
                            index=index).fillna(0.0)  # fmt: skip
    return terr_target * share


def _status(frame: pd.DataFrame, elapsed: float, spec: TrackingSpec) -> None:
    """Attainment, pacing, forecasts, coverage, trend and status; ``elapsed`` is the expected
    share of the period's sales made by the as-of date."""
    t = frame["target"]
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["attainment"] = (frame["actual"] / t).where(t > 0)
        frame["expected_to_date"] = t * elapsed
        frame["pacing"] = (frame["actual"] / frame["expected_to_date"]).where(t > 0)
        frame["run_rate_forecast"] = frame["actual"] / elapsed
        frame["forecast_with_pipeline"] = frame["actual"] + frame["weighted_pipeline"]
        remaining = (t - frame["actual"]).clip(lower=0)
        frame["coverage"] = (frame["weighted_pipeline"] / remaining).where(remaining > 0)
        frame["trend"] = (frame["actual"] / frame["prior_same_point"] - 1).where(
            frame["prior_same_point"] > 0
        )
        ratio = frame["run_rate_forecast"] / t
    frame["status"] = np.select(
        [t <= 0, ratio >= spec.ahead, ratio >= spec.behind],
        ["no target", "ahead", "on track"],
        "behind",
    )


def _reconcile(terr: pd.DataFrame, cells: pd.DataFrame | None) -> pd.DataFrame:
    out = pd.DataFrame({"territory_target": terr["target"]})
    if cells is not None:
        out["sum_of_segment_targets"] = cells["target"].groupby(level=0).sum().reindex(
            out.index).fillna(0.0)  # fmt: skip
        out["difference"] = out["territory_target"] - out["sum_of_segment_targets"]
    total = pd.DataFrame(out.sum()).T
    total.index = ["TOTAL"]
    return pd.concat([out, total]).rename_axis("territory_id").reset_index()


def revise(tracking: Tracking, keep_total: bool = True, reason: str | None = None) -> Tracking:
    """Reallocate the remaining target by each territory's run rate, keeping the total.

    New target = actual to date + share of the remaining total target, the share following each
    territory's expected remaining sales (run-rate forecast minus actual, and weighted
    pipeline where larger). Every change is recorded with old, new and reason.
    """
    terr = tracking.territories.set_index("territory_id")
    live = terr["target"] > 0
    total = float(terr.loc[live, "target"].sum())
    remaining_total = max(total - float(terr.loc[live, "actual"].sum()), 0.0)
    expected = np.maximum(terr["run_rate_forecast"] - terr["actual"], terr["weighted_pipeline"])
    expected = expected.where(live, 0.0).clip(lower=0)
    share = expected / expected.sum() if expected.sum() > 0 else live / live.sum()
    new = (terr["actual"] + remaining_total * share).where(live, terr["target"])
    if not keep_total:
        new = terr["run_rate_forecast"].where(live, terr["target"])
    why = reason or (
        f"as of {tracking.as_of:%Y-%m-%d}: actuals kept, remaining "
        f"{money(remaining_total)} reallocated by expected remaining sales"
        + ("" if keep_total else "; total follows the run rate")
    )
    revisions = pd.DataFrame(
        {
            "territory_id": terr.index,
            "old_target": terr["target"].to_numpy(),
            "new_target": new.to_numpy(),
            "change": (new - terr["target"]).to_numpy(),
            "reason": why,
        }  # fmt: skip
    )
    terr = terr.assign(target=new)
    _status(terr, tracking.pace, tracking.spec)
    return Tracking(tracking.as_of, tracking.period, tracking.previous, terr.reset_index(),
                    tracking.segments, tracking.reconciliation, tracking.issues, revisions,
                    tracking.spec, tracking.pace, tracking.pace_basis)  # fmt: skip


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
