"""One-call Python API over the plan machinery, for tables and GeoDataFrames users already have.

Every CLI command is one of these calls (or :class:`territory.Plan`) underneath.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from territory.adjust import AdjustmentSpec
from territory.assignment import AssignOptions
from territory.plan import AccountsSpec, Plan, TargetsSpec, TerritoriesSpec
from territory.result import PlanResult
from territory.segments import AxisSpec
from territory.targets import TargetRule


def make_plan(
    accounts: Any,
    territories: Any = None,
    *,
    alignment: Any = None,
    blocks: Any = None,
    account_id: str | None = None,
    lat: str | None = None,
    lon: str | None = None,
    postal_code: str | None = None,
    measures: list[str] | None = None,
    territory_id: str | None = None,
    block_id: str | None = None,
    crs: str | None = None,
    strict: bool = False,
    max_distance_km: float = 10.0,
    overlap: str = "smallest",
    targets: Any = None,
    target_from: str | None = None,
    target_growth: float = 0.0,
    balance: str | None = None,
    segments: tuple[str, ...] | list[str] = (),
    axes: list[dict | AxisSpec] = (),
    adjustments: list[dict | AdjustmentSpec] = (),
    name: str = "Territory plan",
    currency: str | None = None,
) -> Plan:
    """Build a :class:`Plan` from paths, database tables or (Geo)DataFrames.

    A database table is a :class:`territory.db.source.DatabaseSource` or a ``URL#table`` text
    (``postgresql://planner@/sales?host=/run/postgresql#accounts``).

    ``territories`` is a polygon layer; with ``alignment`` it is read as building blocks (or
    pass ``blocks=``). Column arguments default to auto-detection. ``targets`` is a table
    (``territory_id``, ``target``); ``target_from``/``target_growth`` set targets as a growth
    over an account measure instead. ``strict`` refuses territory or block shapes that are
    empty instead of keeping and reporting them. ``segments`` are account columns to break
    KPIs down by; ``axes`` and ``adjustments`` are plugin axes and adjustments, given as
    specs or dicts such as ``{"axis": "value_tier", "column": "revenue"}`` /
    ``{"adjustment": "regional_economics"}`` (the same keys as ``[[segments]]`` /
    ``[[adjustments]]`` in a plan). ``currency`` is the ISO 4217 code of the money figures
    (shown as their unit on maps; default none shown).
    """
    from territory.db.source import as_sources  # "URL#table": a database table

    accounts, territories, alignment, blocks, targets = as_sources(
        accounts=accounts, territories=territories, alignment=alignment, blocks=blocks,
        targets=targets)  # fmt: skip
    return Plan(
        accounts=AccountsSpec(
            accounts,
            id=account_id,
            lat=lat,
            lon=lon,
            postal_code=postal_code,
            measures=tuple(measures) if measures is not None else None,
            crs=crs,
        ),
        territories=TerritoriesSpec(
            territories=territories,
            blocks=blocks,
            alignment=alignment,
            territory_id=territory_id,
            block_id=block_id,
            crs=crs,
            strict=strict,
        ),
        name=name,
        targets=TargetsSpec(
            table=targets,
            rule=TargetRule(target_from, target_growth) if target_from else None,
        ),
        assign=AssignOptions(max_distance_km=max_distance_km, overlap=overlap),
        balance=balance,
        segments=tuple(segments),
        axes=tuple(_spec(a, AxisSpec, "axis") for a in axes),
        adjustments=tuple(_spec(a, AdjustmentSpec, "adjustment") for a in adjustments),
        currency=currency,
    )


def _spec(value, kind, key):
    if isinstance(value, kind):
        return value
    if not isinstance(value, dict) or key not in value:
        from territory.errors import ValidationError

        raise ValidationError(f"Each entry needs a '{key}' name, e.g. {{'{key}': ...}}: {value!r}")
    params = {k: v for k, v in value.items() if k not in (key, "name")}
    return kind(value[key], value.get("name"), params)


#: The columns :func:`assign` appends to the accounts frame, in this order (``block_id`` only
#: with building blocks).
ASSIGNED_COLUMNS = ("territory_id", "block_id", "method", "distance_km", "reason")


def assign(accounts: Any, territories: Any = None, *, suffix: str | None = None, **options):
    """Assign every account to exactly one territory: the accounts frame with columns added.

    Like :func:`geopandas.sjoin`, the result is the accounts frame itself (same index, same
    columns and dtypes, geometry and CRS kept: a GeoDataFrame stays a GeoDataFrame) with the
    assignment columns appended.

    Parameters
    ----------
    accounts : DataFrame, GeoDataFrame or path
        Located by Point geometry, lat/lon columns or a postal code column. A path has no
        frame of the caller's to extend (a CSV is read as text): for a path the result is the
        assignments table ``territory assign`` writes (``account_id``, the columns below and
        the measures, parsed as numbers), one row per account in file order.
    territories : path or GeoDataFrame
        Territory polygons, or building blocks when ``alignment`` is given.
    suffix : str, optional
        Appended to the name of an added column the accounts already have (e.g. ``"_new"``
        gives ``territory_id_new`` beside an existing ``territory_id``). Without it such a
        clash raises :class:`~territory.errors.ValidationError` naming the columns.
    **options
        Any argument of :func:`make_plan` (``alignment``, ``max_distance_km``, ``overlap``,
        column names ...).

    Returns
    -------
    DataFrame or GeoDataFrame
        The accounts frame with ``territory_id`` (missing when unassigned), ``block_id`` (with
        blocks), ``method`` (inside, boundary, overlap, nearest, unassigned), ``distance_km``
        (to the territory, for nearest) and ``reason`` appended (:data:`ASSIGNED_COLUMNS`).

    Examples
    --------
    >>> result = territory.assign(accounts_gdf, territories_gdf)  # doctest: +SKIP
    >>> result.method.value_counts()  # doctest: +SKIP
    """
    plan = make_plan(accounts, territories, **options)
    assignments = plan.assign_only()[2]
    if not isinstance(accounts, pd.DataFrame):
        return assignments
    return with_assignment_columns(accounts, assignments, suffix)


def with_assignment_columns(frame: pd.DataFrame, assignments: pd.DataFrame, suffix=None):
    """``frame`` (one row per account, in order) with the columns of ``assignments`` added."""
    from territory.errors import ValidationError

    if len(assignments) != len(frame):  # assignment keeps every row; never join silently
        raise ValidationError(
            f"{len(assignments):,} assignments for {len(frame):,} accounts; expected one each."
        )
    added = [c for c in ASSIGNED_COLUMNS if c in assignments.columns]
    names = {c: c for c in added}
    clash = [c for c in added if c in frame.columns]
    if clash and suffix is None:
        raise ValidationError(
            f"The accounts already have column(s) {', '.join(map(repr, clash))}, which "
            "territory.assign adds. Rename or drop them, or pass suffix='_new' to name the "
            "added columns e.g. 'territory_id_new'."
        )
    for c in clash:
        names[c] = f"{c}{suffix}"
        if names[c] in frame.columns:
            raise ValidationError(
                f"The accounts have both '{c}' and '{names[c]}'; choose another suffix."
            )
    out = _independent_copy(frame)
    for c in added:
        out[names[c]] = assignments[c].set_axis(frame.index)
    return out


def _independent_copy(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` that no edit reaches the caller's frame through.

    With copy-on-write (pandas 3, or turned on) numpy columns are shared until written (their
    ``.values`` are read-only), so only extension columns (geometry, nullable numbers, text),
    which can be edited in place through ``.array``, are copied.
    """
    if not _copy_on_write():
        return frame.copy()
    out = frame.copy(deep=False)
    for i, dtype in enumerate(out.dtypes):
        if isinstance(dtype, pd.api.extensions.ExtensionDtype):
            out.isetitem(i, out.iloc[:, i].copy(deep=True))
    return out


def _copy_on_write() -> bool:
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    return pd.get_option("mode.copy_on_write") is True


def run(accounts: Any, territories: Any = None, *, plugins=None, **options) -> PlanResult:
    """Assign, segment, adjust and measure in one call; returns the :class:`PlanResult`."""
    return make_plan(accounts, territories, **options).run(plugins)


def demo_plan() -> Plan:
    """The embedded demo plan (its data and plan file ship inside the package)."""
    from importlib import resources
    from pathlib import Path

    return Plan.from_file(Path(str(resources.files("territory.data") / "demo_plan.toml")))


def tracking_day(plan: Plan, as_of=None, order: str | None = None) -> pd.Timestamp:
    """The date to track ``plan`` at: ``as_of`` or the plan's ``[tracking] as_of``.

    Text dates are ISO (``2017-06-30``) unless ``order`` names ``"dayfirst"`` or
    ``"monthfirst"``; ambiguous ones are refused. Raises when the plan has no tracking.
    """
    from territory.errors import ValidationError
    from territory.tracking import parse_day

    if plan.tracking is None:
        raise ValidationError(f"{plan.source or 'The plan'} has no [tracking] section.")
    if isinstance(as_of, (pd.Timestamp, date)):
        return pd.Timestamp(as_of)
    day = as_of or plan.tracking.as_of
    if not day:
        raise ValidationError("Give the tracking date with --as-of YYYY-MM-DD (as_of=...).")
    return parse_day(day, order, "--as-of" if as_of else f"[tracking] as_of in {plan.source}")


def track(
    plan: Plan | str,
    as_of=None,
    *,
    order: str | None = None,
    revise: bool = False,
    result: PlanResult | None = None,
):
    """Targets, actuals, pipeline and status of ``plan`` (a Plan or plan file) at ``as_of``.

    ``as_of`` is a date, or text as :func:`tracking_day` reads it (default the plan's
    ``[tracking] as_of``). ``revise`` revises the remaining targets in the light of actuals.
    ``result`` reuses a run of the plan instead of running it again. Returns the
    :class:`~territory.tracking.Tracking`; write it with ``territory.report.write_tracking``.
    """
    from territory.tracking import revise as revise_targets
    from territory.tracking import track as track_plan

    plan = plan if isinstance(plan, Plan) else Plan.from_file(plan)
    day = tracking_day(plan, as_of, order)
    tracked = track_plan(result or plan.run(), plan.tracking, day)
    return revise_targets(tracked) if revise else tracked


def explore(territories, column: str | None = None, **options):
    """Draw a territories GeoDataFrame coloured by ``column`` on a self-contained offline map,
    like ``GeoDataFrame.explore``: ``territory.explore(states, "kpi", id="STUSPS",
    accounts=accounts_df, m=folium_map)``. Returns the folium map.

    The options (``accounts``, ``blocks``, ``m``, ``id``, ``name``, ``tooltip``, ``currency``,
    ``title`` ...) are those of :func:`territory.maps.explore` (imported on first use, so
    ``import territory`` does not load folium).
    """
    from territory.maps import explore as draw

    return draw(territories, column, **options)


def kpis(accounts: Any, territories: Any = None, **options) -> pd.DataFrame:
    """The common KPI table per territory (see :mod:`territory.kpi`)."""
    return run(accounts, territories, **options).kpis
