"""Design and rebalance territories from building blocks: :func:`design`.

One design runs four named steps: the request is checked (:mod:`~territory.designer.request`),
the inputs are read (:mod:`~territory.designer.inputs`), the problem is framed: number and
names of territories, locked blocks, homes and reach (:mod:`~territory.designer.problem`), a
strategy searches it: fresh, by regions or rebalanced (:mod:`~territory.designer.strategy`),
and the result is assembled (:mod:`~territory.designer.result`).
"""

from __future__ import annotations

import time
from typing import Any

from territory.designer import strategy
from territory.designer.inputs import load_inputs
from territory.designer.problem import frame_problem
from territory.designer.request import DesignRequest
from territory.designer.result import DesignResult, assemble

__all__ = ["DesignResult", "design"]


def design(
    blocks: Any,
    accounts: Any = None,
    *,
    k: int | None = None,
    balance: str = "revenue",
    tolerance: float = 0.05,
    homes: Any = None,
    locked: Any = None,
    locked_territories: tuple[str, ...] | list[str] = (),
    max_distance_km: float | None = None,
    regions: int | None = None,
    seed: int = 0,
    current: Any = None,
    rebalance: bool = False,
    compactness: bool = True,
    restarts: int = 4,
    block_id: str | None = None,
    crs: str | None = None,
    account_id: str | None = None,
    lat: str | None = None,
    lon: str | None = None,
    postal_code: str | None = None,
    measures: list[str] | None = None,
    visit_hours: float = 1.0,
    speed_kmh: float = 50.0,
    strict: bool = False,
) -> DesignResult:
    """Build ``k`` balanced, contiguous, compact territories from building blocks.

    Parameters
    ----------
    blocks : path or GeoDataFrame
        Building-block polygons (counties, ZIP areas ...) with a ``block_id``.
    accounts : path, DataFrame or GeoDataFrame, optional
        Accounts summed per block for the balance measures (``revenue``, ``accounts`` ...).
    k : int
        Number of territories (the number of homes when ``homes`` is given).
    balance : str
        A measure (``revenue``, ``accounts``, ``pipeline``, ``potential``, ``workload``, a
        numeric block column) or a weighted mix such as ``"revenue:0.7,accounts:0.3"``.
    tolerance : float
        Allowed relative deviation of each territory from its target (0.05 = ±5 %).
    homes : path or DataFrame, optional
        Rep homes (``territory_id``, optional ``rep`` and ``parent``, lat/lon or points): each
        territory grows from, and keeps, the block holding its home.
    locked : path or DataFrame, optional
        Table ``block_id`` -> ``territory_id`` of blocks that must stay in that territory.
    locked_territories : ids
        With ``current``: territories kept exactly as they are.
    max_distance_km : float, optional
        With ``homes``: no block centre further than this from its territory's home.
    regions : int, optional
        Group the territories into this many regions; regions and territories are each balanced.
    seed : int
        Random seed; the same inputs and seed give the same plan.
    current : path or DataFrame, optional
        The current alignment: the baseline for disruption, and the start with ``rebalance``.
    rebalance : bool
        Reach the tolerance from ``current`` moving as few accounts and as little revenue as
        possible, instead of designing from scratch.
    compactness, restarts : bool, int
        Improve compactness after balancing; keep the most compact of ``restarts`` runs (the
        cut directions vary between runs).
    strict : bool
        Refuse blocks with empty shapes; by default they are left out of the design, written
        with a blank territory and reported.

    Returns
    -------
    DesignResult
        Alignment, dissolved territories, quality table and summary, and flags for whatever
        could not be met (a best-effort plan is still returned).
    """
    started = time.perf_counter()
    request = DesignRequest(
        blocks, accounts, k=k, balance=balance, tolerance=tolerance, homes=homes, locked=locked,
        locked_territories=locked_territories, max_distance_km=max_distance_km, regions=regions,
        seed=seed, current=current, rebalance=rebalance, compactness=compactness,
        restarts=restarts, block_id=block_id, crs=crs, account_id=account_id, lat=lat, lon=lon,
        postal_code=postal_code, measures=measures, visit_hours=visit_hours,
        speed_kmh=speed_kmh, strict=strict,
    )  # fmt: skip
    inputs, align = load_inputs(
        request.blocks,
        request.accounts,
        request.balance,
        block_id=request.block_id,
        crs=request.crs,
        account_options=request.account_options,
        current=request.current,
        visit_hours=request.visit_hours,
        speed_kmh=request.speed_kmh,
        strict=request.strict,
    )
    problem = frame_problem(request, inputs, align)
    labels, parents = strategy.run(request, problem, inputs.measures)
    return assemble(request, inputs, align, problem, labels, parents, started)
