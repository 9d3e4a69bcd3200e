"""Compatibility module: the names ``territory.model`` used to hold, from where they live now.

:class:`Plan` and its specs are in :mod:`territory.plan`, the TOML reader in
:mod:`territory.planfile`, :class:`PlanResult` in :mod:`territory.result` and the stage
functions in :mod:`territory.stages`. New code imports from those modules.
"""

from __future__ import annotations

from territory.plan import AccountsSpec, OutputsSpec, Plan, TargetsSpec, TerritoriesSpec
from territory.planfile import _PlanReader, _toml_repr, _toml_type
from territory.result import PlanResult, _slug
from territory.stages.adjust import accounts_with_location
from territory.stages.measure import agg_balance, measure_aggregates

__all__ = [
    "AccountsSpec",
    "OutputsSpec",
    "Plan",
    "PlanResult",
    "TargetsSpec",
    "TerritoriesSpec",
    "_PlanReader",
    "_slug",
    "_toml_repr",
    "_toml_type",
    "accounts_with_location",
    "agg_balance",
    "measure_aggregates",
]
