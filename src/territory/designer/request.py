"""A design request: everything :func:`territory.design` is asked for, checked on arrival."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from territory.errors import ValidationError


@dataclass(frozen=True, eq=False)
class DesignRequest:
    """The inputs and options of one design or rebalance (see :func:`territory.design`).

    Creating one checks what can be checked without reading any input: the tolerance is a
    fraction in [0, 1) and a rebalance has a current alignment. Checks that need the data
    (``k`` against the blocks, homes or current territories; locked blocks; regions) are made
    where the data is read, in the order a user meets them.
    """

    blocks: Any
    accounts: Any = None
    k: int | None = None
    balance: str = "revenue"
    tolerance: float = 0.05
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

    def __post_init__(self) -> None:
        if not 0 <= self.tolerance < 1:
            raise ValidationError(
                f"Tolerance must be a fraction between 0 and 1 (0.05 = 5%), not {self.tolerance}."
            )
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
