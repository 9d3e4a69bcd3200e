"""Design and rebalance territories from building blocks: :class:`TerritoryDesigner` and
:func:`design`, its one-call wrapper.

One design runs named steps: the request is checked (:mod:`~territory.designer.request`), the
inputs are read (:mod:`~territory.designer.inputs`), the problem is framed: number and names of
territories, locked blocks, homes and reach (:mod:`~territory.designer.problem`), a strategy
searches it: fresh, by regions or rebalanced (:mod:`~territory.designer.strategy`), and the
result is assembled (:mod:`~territory.designer.result`).
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from territory.designer import strategy
from territory.designer.inputs import load_inputs
from territory.designer.problem import frame_problem
from territory.designer.request import DesignRequest
from territory.designer.result import DesignResult, assemble, design_outputs

__all__ = ["DesignResult", "TerritoryDesigner", "design", "design_outputs"]


class TerritoryDesigner:
    """Build ``k`` balanced, contiguous, compact territories from building blocks.

    Options are given here, the data to :meth:`fit`; results are the attributes ending in
    ``_`` (the estimator convention of scikit-learn and spopt)::

        designer = TerritoryDesigner(k=12, balance="revenue", tolerance=0.05)
        designer.fit(blocks, accounts)
        designer.alignment_, designer.quality_

    Parameters
    ----------
    k : int
        Number of territories (the number of homes when ``homes`` is given).
    balance : str
        A measure (``revenue``, ``accounts``, ``pipeline``, ``potential``, ``workload``, a
        numeric block column) or a weighted mix such as ``"revenue:0.7,accounts:0.3"``.
    tolerance : float
        Allowed relative deviation of each territory from its target (0.05 = ±5 %).
    locked_territories : ids
        With ``current``: territories kept exactly as they are.
    max_distance_km : float, optional
        With ``homes``: no block centre further than this from its territory's home.
    regions : int, optional
        Group the territories into this many regions; regions and territories are each balanced.
    seed : int
        Random seed; the same inputs and seed give the same plan.
    rebalance : bool
        Reach the tolerance from ``current`` moving as few accounts and as little revenue as
        possible, instead of designing from scratch.
    compactness, restarts : bool, int
        Improve compactness after balancing; keep the most compact of ``restarts`` runs (the
        cut directions vary between runs).
    block_id, crs : str, optional
        Block id column of the block layer; CRS of layers and accounts that carry none.
    account_id, lat, lon, postal_code, measures : optional
        Account columns (found by their usual names when not given) and the numeric account
        columns to sum per block.
    visit_hours, speed_kmh : float
        Hours per account visit and travel speed, for the ``workload`` measure.
    strict : bool
        Refuse blocks with empty shapes; by default they are left out of the design, written
        with a blank territory and reported.
    progress : callable, optional
        Called as ``progress(step, done)`` with the step under way (text) and the share of
        the design done (0 to 1), e.g. to show a progress bar on large layers.

    Attributes
    ----------
    labels_ : pandas.Series
        Territory id per block, indexed by ``block_id`` (blank for blocks left out).
    alignment_, territories_, quality_, summary_, flags_, notes_, reps_ :
        The fields of :attr:`result_` (see :class:`DesignResult`).
    result_ : DesignResult
        Everything :func:`design` returns, with :meth:`DesignResult.write`.
    """

    def __init__(
        self,
        k: int | None = None,
        *,
        balance: str = "revenue",
        tolerance: float = 0.05,
        locked_territories: tuple[str, ...] | list[str] = (),
        max_distance_km: float | None = None,
        regions: int | None = None,
        seed: int = 0,
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
        progress: Callable[[str, float], None] | None = None,
    ):
        self.progress = progress
        self.k, self.balance, self.tolerance = k, balance, tolerance
        self.locked_territories, self.max_distance_km = locked_territories, max_distance_km
        self.regions, self.seed, self.rebalance = regions, seed, rebalance
        self.compactness, self.restarts = compactness, restarts
        self.block_id, self.crs, self.account_id = block_id, crs, account_id
        self.lat, self.lon, self.postal_code, self.measures = lat, lon, postal_code, measures
        self.visit_hours, self.speed_kmh, self.strict = visit_hours, speed_kmh, strict

    def get_params(self) -> dict[str, Any]:
        """The options, by name (as given to the constructor)."""
        return {name: getattr(self, name) for name in _options()}

    def __repr__(self) -> str:
        defaults = TerritoryDesigner()
        changed = {n: v for n, v in self.get_params().items() if v != getattr(defaults, n)}
        return f"TerritoryDesigner({', '.join(f'{n}={v!r}' for n, v in changed.items())})"

    def fit(
        self,
        blocks: Any,
        accounts: Any = None,
        *,
        homes: Any = None,
        locked: Any = None,
        current: Any = None,
    ) -> TerritoryDesigner:
        """Design (or with ``rebalance``, rebalance) the territories; returns the designer.

        Parameters
        ----------
        blocks : path or GeoDataFrame
            Building-block polygons (counties, ZIP areas ...) with a ``block_id``.
        accounts : path, DataFrame or GeoDataFrame, optional
            Accounts summed per block for the balance measures (``revenue``, ``accounts`` ...).
        homes : path or DataFrame, optional
            Rep homes (``territory_id``, optional ``rep`` and ``parent``, lat/lon or points):
            each territory grows from, and keeps, the block holding its home.
        locked : path or DataFrame, optional
            Table ``block_id`` -> ``territory_id`` of blocks that must stay in that territory.
        current : path or DataFrame, optional
            The current alignment: the baseline for disruption, and the start with
            ``rebalance``.
        """
        started = time.perf_counter()
        request = DesignRequest(
            blocks, accounts, homes=homes, locked=locked, current=current, **self.get_params()
        )
        result = _run(request, started)
        self.result_ = result
        self.alignment_, self.territories_ = result.alignment, result.territories
        self.quality_, self.summary_ = result.quality, result.summary
        self.flags_, self.notes_, self.reps_ = result.flags, result.notes, result.reps
        self.labels_ = pd.Series(
            result.alignment["territory_id"].to_numpy(),
            index=pd.Index(result.alignment["block_id"], name="block_id"),
            name="territory_id",
        )
        return self


@functools.cache
def _options() -> tuple[str, ...]:
    """The designer's option names: the parameters of :class:`TerritoryDesigner`."""
    return tuple(inspect.signature(TerritoryDesigner.__init__).parameters)[1:]


def _run(request: DesignRequest, started: float) -> DesignResult:
    """Read the inputs, frame the problem, search it and assemble the result."""
    request.report("Reading blocks and accounts, finding neighbours", 0.0)
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
    request.report(f"Designing {problem.k:,} territories from {len(problem.graph):,} blocks", 0.1)
    labels, parents = strategy.run(request, problem, inputs.measures)
    request.report("Measuring quality, dissolving territories", 0.95)
    return assemble(request, inputs, align, problem, labels, parents, started)


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
    progress: Callable[[str, float], None] | None = None,
) -> DesignResult:
    """Build ``k`` balanced, contiguous, compact territories from building blocks.

    ``TerritoryDesigner(k=..., ...).fit(blocks, accounts, homes=..., locked=...,
    current=...).result_`` in one call: the data (``blocks``, ``accounts``, ``homes``,
    ``locked``, ``current``) are described at :meth:`TerritoryDesigner.fit`, every other
    parameter at :class:`TerritoryDesigner`. For example ``design(counties, accounts, k=50,
    balance="revenue", tolerance=0.05)``, or ``design(counties, accounts, current=alignment,
    rebalance=True)`` to bring the current alignment within the tolerance.

    Returns
    -------
    DesignResult
        Alignment, dissolved territories, quality table and summary, and flags for whatever
        could not be met (a best-effort plan is still returned).
    """
    given = locals()
    designer = TerritoryDesigner(**{name: given[name] for name in _options()})
    return designer.fit(blocks, accounts, homes=homes, locked=locked, current=current).result_
