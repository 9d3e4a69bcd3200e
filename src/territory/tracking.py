"""Targets, actuals and pipeline over time: the segment manager's tracking.

Given a plan's assignments, dated order lines and (optionally) open opportunities, tracking at
an as-of date computes per territory, per territory x segment and in total: the period's
target, actuals to date, attainment, pacing, run-rate forecast, weighted pipeline and coverage,
a forecast range (P10/P50/P90 and the probability of reaching the target, see
:mod:`territory.forecast`), an on-track status and the trend against the same point of the
previous period. Targets can be revised in the light of actuals, keeping the total, with every
change recorded at every level.

Targets have one source. A plan with targets (``[targets]`` or a layer ``target`` column) sets
them, after its adjustments, in its KPI tables (per territory and per territory x segment);
tracking reads them from there, so every table shows the same target for the same cell. A plan
without targets has tracking set them (``[tracking]`` growth and allocation, or a bottom-up
targets table), after the same adjustments. Setting them in both places is refused. Unassigned
accounts (and order lines of accounts the plan does not know) are tracked on lines of their
own, with their own target, never folded into the territories' targets.

Rows are never dropped silently: order lines with unparseable dates or non-numeric amounts,
negative amounts (returns), unknown opportunity stages and lines for accounts the plan does not
know are all kept in the totals where they can be and listed in ``issues``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from territory import forecast
from territory.columns import find_column
from territory.errors import ValidationError
from territory.formatting import money, percent
from territory.io import Source, as_frame
from territory.periods import Period, parse_day, period_of, previous
from territory.targets import (
    LINES,
    UNASSIGNED,
    UNKNOWN_ACCOUNT,
    cell_rows,
    target_source,
    tracking_targets,
    unassigned_target,
)
from territory.validate import id_text, parse_numbers

__all__ = ["Period", "Tracking", "TrackingSpec", "parse_day", "period_of", "previous", "revise",
           "track"]  # fmt: skip

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
    growth: float | None = None  # None: not set (0 when tracking sets the targets)
    allocation: str | None = None  # None: not set ("prior" when tracking sets the targets)
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
        if self.allocation is not None and self.allocation not in ALLOCATIONS:
            raise ValidationError(
                f"Unknown allocation '{self.allocation}'. Use one of {ALLOCATIONS}."
            )
        if not 1 <= self.fiscal_year_start <= 12:
            raise ValidationError("fiscal_year_start is a month number, 1 to 12.")
        if not self.behind <= 1 <= self.ahead:
            raise ValidationError("Thresholds need behind <= 1 <= ahead (e.g. 0.95 and 1.05).")

    @property
    def target_keys(self) -> list[str]:
        """The target-setting keys this spec sets (growth, allocation, potential, weights,
        targets)."""
        keys = ("growth", "allocation", "potential", "weights", "targets")
        return [k for k in keys if getattr(self, k) is not None]

    @property
    def rule(self) -> tuple[float, str]:
        """``(growth, allocation)`` with their defaults."""
        return (self.growth or 0.0), (self.allocation or "prior")


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
    total: pd.DataFrame = field(default_factory=pd.DataFrame)
    segment_revisions: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    target_source: str = ""
    outcomes: dict = field(default_factory=dict, repr=False)  # level -> forecast.Outcomes
    plan_targets: pd.Series | None = field(default=None, repr=False)  # the KPI table's


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


ADDITIVE = ["actual", "prior_period", "prior_same_point", "lines_read", "pipeline",
            "weighted_pipeline", "target"]  # fmt: skip


@dataclass(frozen=True)
class _Window:
    """The period tracked, the one before and the as-of date, with the order lines' masks."""

    period: Period
    previous: Period
    as_of: pd.Timestamp
    now: pd.Series
    prev_full: pd.Series
    prev_point: pd.Series


def _window(orders: pd.DataFrame, spec: TrackingSpec, as_of: pd.Timestamp) -> _Window:
    period = period_of(as_of, spec.period, spec.fiscal_year_start)
    prev = previous(period, spec.period, spec.fiscal_year_start)
    # the same number of days into the previous period (never past its end: a month after a
    # longer one)
    same_point = min(prev.start + (as_of - period.start), prev.end)
    d = orders["date"]
    return _Window(period, prev, as_of, d.between(period.start, as_of),
                   d.between(prev.start, prev.end), d.between(prev.start, same_point))  # fmt: skip


def _plan_accounts(result, spec: TrackingSpec) -> pd.DataFrame:
    """account id -> (territory_id as text, segment label as text) of the plan's accounts."""
    assignments = result.assignments
    if not isinstance(assignments, pd.DataFrame):
        assignments = assignments.compute()
    seg = spec.segment
    if seg is not None and seg not in assignments.columns:
        raise ValidationError(
            f"Tracking segment '{seg}' is not a segment of the plan; segments: "
            f"{', '.join(c for c in (result.labels.columns if result.labels is not None else []))}."
        )
    tid = assignments["territory_id"].astype(object)
    label = assignments[seg].astype(object) if seg else pd.Series("all", index=tid.index)
    return pd.DataFrame(
        {"territory_id": tid.where(tid.isna(), tid.astype(str)).to_numpy(),
         "segment": label.where(label.isna(), label.astype(str)).to_numpy()},
        index=pd.Index(assignments["account_id"].astype(str), name="account_id"),
    )  # fmt: skip


def track(result, spec: TrackingSpec, as_of) -> Tracking:
    """Track the plan in ``result`` at ``as_of`` (a date)."""
    as_of = pd.Timestamp(as_of).normalize()
    accounts = _plan_accounts(result, spec)
    issues: list = []
    orders = read_orders(spec, accounts, issues)
    opps = read_opportunities(spec, accounts, issues) if spec.opportunities is not None else None
    w = _window(orders, spec, as_of)
    if not (w.now | w.prev_full).any() and spec.targets is None:
        dated = orders["date"].dropna()
        span = f"{dated.min():%Y-%m-%d} to {dated.max():%Y-%m-%d}" if len(dated) else "none"
        raise ValidationError(
            f"No order lines fall in {w.period.label} or {w.previous.label}, so there is nothing "
            f"to track and no history to set targets from (order dates: {span}). Choose an "
            "as-of date within the data, or give targets."
        )
    share, basis = _pace(orders, w)
    source = target_source(result, spec)
    opps = _open_opportunities(opps, w)
    terr = _territory_rows(result, spec, orders, opps, w, source)
    cells = None
    if spec.segment:
        cells = _measures(orders, opps, w, ["territory_id", "segment"])
        cells = cell_rows(result, spec, cells, terr["target"], source)
    issue_frame = pd.DataFrame(issues, columns=["source", "row", "column", "value", "problem"])
    plan = result.kpis.set_index(result.kpis["territory_id"].astype(str))["target"]
    tracking = Tracking(as_of, w.period, w.previous, terr, cells, pd.DataFrame(), issue_frame,
                        spec=spec, pace=share, pace_basis=basis, target_source=source,
                        plan_targets=plan if source == "plan" else None)  # fmt: skip
    spread = _spreads(orders, spec, w, share)
    _simulate(tracking, terr, cells, opps, spread)
    _finish(tracking, terr, cells)
    tracking.notes = _notes(tracking, result, w, spread["plan"])
    return tracking


def _pace(orders: pd.DataFrame, w: _Window) -> tuple[float, str]:
    """Expected share of the period's sales by the as-of date: last period's curve (whole plan,
    so small territories are not noisy); linear time when there is no history."""
    prior_total = float(orders["amount"].where(w.prev_full, 0.0).sum())
    if prior_total > 0:
        share = float(orders["amount"].where(w.prev_point, 0.0).sum()) / prior_total
        basis = (f"last period's curve: {share:.0%} of {w.previous.label} sales were made by "
                 "this point")  # fmt: skip
    else:
        share = ((w.as_of - w.period.start).days + 1) / w.period.days
        basis = f"linear: {share:.0%} of the period has elapsed (no sales in {w.previous.label})"
    return min(max(share, 1e-6), 1.0), basis


def _open_opportunities(opps: pd.DataFrame | None, w: _Window) -> pd.DataFrame | None:
    """Opportunities still open that close after the as-of date within the period."""
    if opps is None:
        return None
    closes = opps["close_date"].fillna(w.period.end)
    open_now = (closes > w.as_of) & (closes <= w.period.end) & ~opps["stage"].isin(
        ["closed won", "closed lost"])  # fmt: skip
    return opps.assign(open=open_now.to_numpy())


def _measures(orders, opps, w: _Window, keys):
    by = [orders[k] for k in keys]
    amount = orders["amount"]
    out = pd.DataFrame(
        {
            "actual": amount.where(w.now, 0.0).groupby(by).sum(),
            "prior_period": amount.where(w.prev_full, 0.0).groupby(by).sum(),
            "prior_same_point": amount.where(w.prev_point, 0.0).groupby(by).sum(),
            "lines_read": orders.groupby(keys, sort=True).size(),  # every line read, any date
        }
    )
    if opps is not None and len(opps):
        by = [opps[k] for k in keys]
        pipeline = opps["amount"].where(opps["open"], 0.0)
        weighted = (opps["amount"] * opps["probability"]).where(opps["open"], 0.0)
        out = out.join(
            pd.DataFrame({"pipeline": pipeline.groupby(by).sum(),
                          "weighted_pipeline": weighted.groupby(by).sum()}),
            how="outer",
        )  # fmt: skip
    else:
        out["pipeline"] = 0.0
        out["weighted_pipeline"] = 0.0
    return out.fillna(0.0)


def _territory_rows(result, spec, orders, opps, w, source) -> pd.DataFrame:
    """One row per plan territory (in plan order), then the unassigned / unknown lines."""
    ids = [*map(str, result.kpis["territory_id"])]
    terr = _measures(orders, opps, w, ["territory_id"])
    index = pd.Index(ids, name="territory_id").append(terr.index.difference(ids))
    unassigned = unassigned_target(result) if source == "plan" else 0.0
    if unassigned > 0 and UNASSIGNED not in index:
        index = index.append(pd.Index([UNASSIGNED]))
    terr = terr.reindex(index).fillna(0.0)
    terr.index.name = "territory_id"
    terr["target"] = tracking_targets(result, spec, terr, source)
    if source == "plan" and UNASSIGNED in terr.index:
        terr.loc[UNASSIGNED, "target"] = unassigned
    names = result.kpis.set_index(result.kpis["territory_id"].astype(str))["name"].astype(str)
    terr.insert(0, "name", [names.get(t, t) for t in terr.index])
    return terr


def _status(frame: pd.DataFrame, elapsed: float, spec: TrackingSpec) -> None:
    """Attainment, pacing, forecasts, coverage, trend and status; ``elapsed`` is the expected
    share of the period's sales made by the as-of date."""
    t = frame["target"]
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["attainment"] = (frame["actual"] / t).where(t > 0)
        frame["expected_to_date"] = t * elapsed
        frame["pacing"] = (frame["actual"] / frame["expected_to_date"]).where(t > 0)
        frame["run_rate_forecast"] = frame["actual"] / elapsed
        frame["actual_plus_weighted_pipeline"] = frame["actual"] + frame["weighted_pipeline"]
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


def _history(spec: TrackingSpec, w: _Window, orders: pd.DataFrame) -> list:
    """``(period, same point, curve)`` of the last :data:`forecast.DEPTH` periods; ``curve`` is
    the share of the period before's sales made by the same point (None: no sales)."""
    out = []
    offset = w.as_of - w.period.start
    past = [previous(w.period, spec.period, spec.fiscal_year_start)]
    for _ in range(forecast.DEPTH):
        past.append(previous(past[-1], spec.period, spec.fiscal_year_start))
    for period, before in zip(past[:-1], past[1:], strict=True):
        full = orders["amount"].where(orders["date"].between(before.start, before.end), 0.0)
        point = orders["date"].between(before.start, min(before.start + offset, before.end))
        total = float(full.sum())
        curve = float(orders["amount"].where(point, 0.0).sum()) / total if total > 0 else None
        out.append((period, min(period.start + offset, period.end), curve))
    return out


def _spreads(orders, spec: TrackingSpec, w: _Window, share: float) -> dict:
    """The run rate's spread per level (see :mod:`territory.forecast`)."""
    periods = _history(spec, w, orders)
    total_key = [pd.Series("TOTAL", index=orders.index)]
    totals = forecast.relative_errors(orders["amount"], orders["date"], total_key, periods, share)
    plan_errors = totals.iloc[0] if len(totals) else pd.Series(dtype=float)  # no order lines
    out = {}
    for level, keys in (("territories", ["territory_id"]),
                        ("segments", ["territory_id", "segment"])):  # fmt: skip
        errors = forecast.relative_errors(orders["amount"], orders["date"],
                                          [orders[k] for k in keys], periods, share)  # fmt: skip
        out[level] = forecast.spreads(errors, plan_errors)[0]
    out["total"], out["plan"] = forecast.spreads(plan_errors.to_frame().T, plan_errors)
    return out


def _simulate(tracking: Tracking, terr, cells, opps, spread: dict) -> None:
    """Simulated outcomes of every level, kept so a revision re-reads them for new targets.

    The pipeline is drawn once, on the finest level; a territory's draws are the sum of its
    cells', the total's the sum of all, so every level reads the same simulated outcomes.
    """
    open_opps = None if opps is None else opps[opps["open"]]
    for frame in (terr, cells):
        if frame is not None:
            _status(frame, tracking.pace, tracking.spec)
    if cells is not None:
        fine = forecast.pipeline_draws(cells.index, open_opps, ["territory_id", "segment"])
        tracking.outcomes["segments"] = forecast.outcomes(cells, fine, spread["segments"])
        draws = forecast.add_up(fine, cells.index.get_level_values(0), terr.index)
    else:
        draws = forecast.pipeline_draws(terr.index, open_opps, ["territory_id"])
    tracking.outcomes["territories"] = forecast.outcomes(terr, draws, spread["territories"])
    total = _total(terr)
    _status(total, tracking.pace, tracking.spec)
    whole = draws.sum(axis=0, keepdims=True)
    spread_total = pd.Series(spread["total"].iloc[0], index=total.index)
    tracking.outcomes["total"] = forecast.outcomes(total, whole, spread_total)


def _total(terr: pd.DataFrame) -> pd.DataFrame:
    """The total line: every territory and line added."""
    total = pd.DataFrame(terr[ADDITIVE].sum()).T
    total.index = pd.Index(["TOTAL"], name="territory_id")
    total.insert(0, "name", "Total (territories and lines)")
    return total


def _finish(tracking: Tracking, terr: pd.DataFrame, cells: pd.DataFrame | None) -> None:
    """Status and forecast columns of every level (``terr`` and ``cells`` indexed by their
    keys), the total and the reconciliation, from the current targets (after a revision too)."""
    spec = tracking.spec
    _status(terr, tracking.pace, spec)
    forecast.add_forecast(terr, tracking.outcomes["territories"])
    if cells is not None:
        _status(cells, tracking.pace, spec)
        forecast.add_forecast(cells, tracking.outcomes["segments"])
    total = _total(terr)
    _status(total, tracking.pace, spec)
    forecast.add_forecast(total, tracking.outcomes["total"])
    tracking.total = total.reset_index()
    tracking.reconciliation = _reconcile(terr, cells, tracking.plan_targets)
    tracking.territories = terr.reset_index()
    tracking.segments = None if cells is None else cells.reset_index()


def _reconcile(terr: pd.DataFrame, cells: pd.DataFrame | None, plan_targets) -> pd.DataFrame:
    """Per territory and line: the tracking target, the KPI table's (plan targets), the sum of
    the segment targets and the difference; then the total."""
    out = pd.DataFrame({"line": ["unassigned" if t == UNASSIGNED else "unknown accounts"
                                 if t == UNKNOWN_ACCOUNT else "territory" for t in terr.index],
                        "territory_target": terr["target"]}, index=terr.index)  # fmt: skip
    if plan_targets is not None:  # the plan's KPI table (before any revision)
        out["kpi_table_target"] = plan_targets.reindex(terr.index)
    if cells is not None:
        out["sum_of_segment_targets"] = cells["target"].groupby(level=0).sum().reindex(
            out.index).fillna(0.0)  # fmt: skip
        out["difference"] = out["territory_target"] - out["sum_of_segment_targets"]
    total = pd.DataFrame(out.drop(columns="line").sum(min_count=1)).T
    total.insert(0, "line", "total")
    total.index = ["TOTAL"]
    return pd.concat([out, total]).rename_axis("territory_id").reset_index()


def _notes(tracking: Tracking, result, w: _Window, plan_spread: float) -> list[str]:
    """What a reader needs to trust the figures: targets' source, pace, forecast method."""
    terr = tracking.territories.set_index("territory_id")
    notes = []
    if tracking.target_source == "plan":
        targets = result.plan.targets
        how = (
            f"{targets.rule.from_measure} {targets.rule.growth:+.0%}"
            if targets.rule is not None and targets.table is None
            else "the plan's targets table or layer column"
        )
        notes.append(f"Targets: from the plan ([targets]: {how}, after its adjustments), the same "
                     "figures as the plan's KPI tables; a territory's segment targets split it by "
                     "the cells' share of the same measure.")  # fmt: skip
        rule = targets.rule if targets.table is None else None
        if rule is not None and rule.from_measure in result.summary["totals"]:
            basis = float(result.summary["totals"][rule.from_measure]["input"])
            prior = float(terr["prior_period"].sum())
            gap = basis - prior
            notes.append(
                f"Two prior-year figures: the targets' basis {rule.from_measure} totals "
                f"{money(basis)}, the order lines of {w.previous.label} (column prior_period) "
                f"{money(prior)} (difference {money(gap)}, "
                f"{percent(gap / prior) if prior else '–'}). Targets follow the plan; "
                "prior_period is shown for the trend only."
            )  # fmt: skip
    else:
        growth, allocation = tracking.spec.rule
        how = (
            "a bottom-up targets table"
            if tracking.spec.targets is not None
            else f"{w.previous.label} order lines {growth:+.0%}, allocated by {allocation}"
        )
        notes.append(f"Targets: set by tracking ({how}) after the plan's adjustments (total "
                     "kept); the plan has no targets of its own.")  # fmt: skip
    notes.append(
        "Unassigned accounts and order lines of accounts the plan does not know are tracked on "
        f"their own lines ('{UNASSIGNED}', '{UNKNOWN_ACCOUNT}') with their own targets, "
        "included in the total line, not in any territory."
    )
    notes.append(f"Pace: {tracking.pace_basis}. Status: run-rate forecast / target >= "
                 f"{tracking.spec.ahead:g} ahead, >= {tracking.spec.behind:g} on track, "
                 "else behind.")  # fmt: skip
    notes.append(forecast.METHOD.format(depth=forecast.DEPTH, plan_spread=percent(plan_spread),
                                        draws=forecast.DRAWS, seed=forecast.SEED))  # fmt: skip
    return notes


def revise(tracking: Tracking, keep_total: bool = True, reason: str | None = None) -> Tracking:
    """Reallocate the remaining target by expected remaining sales, keeping the total.

    New target = actual to date + share of the remaining total target, the share following each
    territory's expected remaining sales (run-rate forecast minus actual, and weighted
    pipeline where larger). Each territory's new target is split over its segment cells the
    same way, so the cells still add up. Unassigned and unknown-account lines keep their
    targets. Every change is recorded with old, new and reason, per territory, per territory x
    segment (``segment_revisions``) and for the total.
    """
    terr = tracking.territories.set_index("territory_id")
    live = (terr["target"] > 0) & ~terr.index.isin(LINES)
    total = float(terr.loc[live, "target"].sum())
    remaining_total = max(total - float(terr.loc[live, "actual"].sum()), 0.0)
    expected = _expected_remaining(terr).where(live, 0.0)
    share = expected / expected.sum() if expected.sum() > 0 else live / live.sum()
    new = (terr["actual"] + remaining_total * share).where(live, terr["target"])
    if not keep_total:
        new = terr["run_rate_forecast"].where(live, terr["target"])
    why = reason or (
        f"as of {tracking.as_of:%Y-%m-%d}: actuals kept, remaining "
        f"{money(remaining_total)} reallocated by expected remaining sales"
        + ("" if keep_total else "; total follows the run rate")
    )
    revisions = _changes(terr["target"], new, why, "territory")
    total_row = _changes(pd.Series([terr["target"].sum()], index=["TOTAL"]),
                         pd.Series([new.sum()], index=["TOTAL"]), why, "total")  # fmt: skip
    note = (f"Targets revised {why}; the old and new target of every territory, cell and the "
            "total are in the revisions.")  # fmt: skip
    revised = replace(tracking, revisions=pd.concat([revisions, total_row], ignore_index=True),
                      notes=[*tracking.notes, note])  # fmt: skip
    terr = terr.assign(target=new)
    cells = None
    if tracking.segments is not None:
        seg = tracking.segments.columns[1]
        cells = tracking.segments.set_index(["territory_id", seg])
        new_cells = _revise_cells(cells, terr, live)
        changes = _changes(cells["target"], new_cells, why, "territory x segment")
        changes.insert(1, seg, cells.index.get_level_values(1))
        changes["territory_id"] = cells.index.get_level_values(0)
        revised.segment_revisions = changes
        cells = cells.assign(target=new_cells)
    _finish(revised, terr, cells)
    return revised


def _expected_remaining(frame: pd.DataFrame) -> pd.Series:
    return np.maximum(frame["run_rate_forecast"] - frame["actual"],
                      frame["weighted_pipeline"]).clip(lower=0)  # fmt: skip


def _revise_cells(cells: pd.DataFrame, terr: pd.DataFrame, live: pd.Series) -> pd.Series:
    """Each revised territory's new target over its cells: actual + the territory's remaining
    target by the cells' expected remaining sales (old targets, else evenly, where none)."""
    level = cells.index.get_level_values(0)
    remaining = pd.Series(level.map(terr["target"] - terr["actual"]), index=cells.index)
    expected = _expected_remaining(cells)
    by_terr = expected.groupby(level=0).transform("sum")
    old = cells["target"].clip(lower=0)
    old_sum = old.groupby(level=0).transform("sum")
    n = cells.groupby(level=0)["target"].transform("size")
    share = (expected / by_terr).where(by_terr > 0, (old / old_sum).where(old_sum > 0, 1.0 / n))
    changed = pd.Series(level.map(live), index=cells.index).fillna(False).astype(bool)
    return (cells["actual"] + remaining * share).where(changed, cells["target"])


def _changes(old: pd.Series, new: pd.Series, why: str, level: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "territory_id": old.index,
            "level": level,
            "old_target": old.to_numpy(float),
            "new_target": new.reindex(old.index).to_numpy(float),
            "change": (new.reindex(old.index) - old).to_numpy(float),
            "reason": why,
        }
    )
