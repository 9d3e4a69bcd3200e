"""A design request: everything :func:`territory.design` is asked for, checked on arrival."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from territory.designer.measures import parse_tolerance, several_measures
from territory.errors import ValidationError


@dataclass(frozen=True, eq=False)
class DesignRequest:
    """The inputs and options of one design or rebalance (see :func:`territory.design`).

    Creating one checks what can be checked without reading any input: the tolerance is a
    fraction in [0, 1) (or one per balanced measure) and a rebalance has a current alignment.
    ``tolerance`` then holds the tolerance the search aims at (with several measures, the
    tightest) and ``tolerances`` each balanced measure's own (empty for one measure or a mix).
    Checks that need the data (``k`` against the blocks, homes or current territories; locked
    blocks; regions) are made where the data is read, in the order a user meets them.
    """

    blocks: Any
    accounts: Any = None
    k: int | None = None
    balance: str = "revenue"
    tolerance: float | str | dict = 0.05
    homes: Any = None
    locked: Any = None
    locked_territories: tuple[str, ...] | list[str] = ()
    max_distance_km: float | None = None
    regions: int | None = None
    seed: int = 0
    current: Any = None
    rebalance: bool = False
    compactness: bool = True
    restarts: int = 4
    block_id: str | None = None
    crs: str | None = None
    account_id: str | None = None
    lat: str | None = None
    lon: str | None = None
    postal_code: str | None = None
    measures: list[str] | None = None
    visit_hours: float = 1.0
    speed_kmh: float = 50.0
    strict: bool = False
    progress: Callable[[str, float], None] | None = None
    tolerances: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        search, own = parse_tolerance(self.tolerance, several_measures(self.balance))
        object.__setattr__(self, "tolerance", search)
        object.__setattr__(self, "tolerances", own)
        if self.rebalance and self.current is None:
            raise ValidationError("Rebalancing needs the current alignment (--current FILE).")

    @property
    def account_options(self) -> dict[str, Any]:
        """How to read the accounts: id, lat/lon or postal code columns, measures, CRS."""
        return {
            "id": self.account_id,
            "lat": self.lat,
            "lon": self.lon,
            "postal_code": self.postal_code,
            "measures": self.measures,
            "crs": self.crs,
        }

    def report(self, step: str, done: float) -> None:
        """Tell ``progress`` (when given) the step under way and the share done (0 to 1)."""
        if self.progress is not None:
            self.progress(step, done)
