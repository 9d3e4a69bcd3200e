"""territory: geographic sales territory planning.

Read accounts and territories, assign every account to exactly one territory, and measure the
plan with one common KPI set::

    import territory
    result = territory.assign(accounts_gdf, territories_gdf)
    plan = territory.Plan.from_file("plan.toml").run()
"""

from typing import TYPE_CHECKING

# Names are imported from their modules on first use (PEP 562), so ``import territory`` and the
# command line start without loading pandas, geopandas or the designer until a command needs
# them. ``hookimpl`` and the errors are light and used by plugins at import time.
from territory.errors import (
    CRSMismatchError,
    InputError,
    PluginError,
    TerritoryError,
    ValidationError,
)
from territory.hookspecs import hookimpl

_LAZY = {
    "AdjustmentSpec": "territory.adjust",
    "assign": "territory.api",
    "demo_plan": "territory.api",
    "explore": "territory.api",
    "kpis": "territory.api",
    "make_plan": "territory.api",
    "run": "territory.api",
    "track": "territory.api",
    "METHODS": "territory.assignment",
    "DatabaseSource": "territory.db.source",
    "AssignOptions": "territory.assignment",
    "DatabaseTarget": "territory.db.target",
    "write_database": "territory.db.results",
    "DesignResult": "territory.designer",
    "TerritoryDesigner": "territory.designer",
    "compare": "territory.designer",
    "design": "territory.designer",
    "plan_report": "territory.designer",
    "REQUIRED": "territory.extensions",
    "Adjustment": "territory.extensions",
    "AdjustmentContext": "territory.extensions",
    "AxisContext": "territory.extensions",
    "KpiColumn": "territory.extensions",
    "MapLayer": "territory.extensions",
    "Param": "territory.extensions",
    "SegmentAxis": "territory.extensions",
    "accounts_from_orders": "territory.orders",
    "AccountsSpec": "territory.plan",
    "OutputsSpec": "territory.plan",
    "Plan": "territory.plan",
    "TargetsSpec": "territory.plan",
    "TerritoriesSpec": "territory.plan",
    "Plugins": "territory.plugins",
    "get_plugins": "territory.plugins",
    "PlanResult": "territory.result",
    "load_result": "territory.resultdir",
    "AxisSpec": "territory.segments",
    "TargetRule": "territory.targets",
    "TerritoryLayer": "territory.territories",
    "load_territories": "territory.territories",
    "Accounts": "territory.validate",
    "prepare_accounts": "territory.validate",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'territory' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from territory.adjust import AdjustmentSpec
    from territory.api import assign, demo_plan, explore, kpis, make_plan, run, track
    from territory.assignment import METHODS, AssignOptions
    from territory.db.results import write_database
    from territory.db.source import DatabaseSource
    from territory.db.target import DatabaseTarget
    from territory.designer import DesignResult, TerritoryDesigner, compare, design, plan_report
    from territory.extensions import (
        REQUIRED,
        Adjustment,
        AdjustmentContext,
        AxisContext,
        KpiColumn,
        MapLayer,
        Param,
        SegmentAxis,
    )
    from territory.orders import accounts_from_orders
    from territory.plan import AccountsSpec, OutputsSpec, Plan, TargetsSpec, TerritoriesSpec
    from territory.plugins import Plugins, get_plugins
    from territory.result import PlanResult
    from territory.resultdir import load_result
    from territory.segments import AxisSpec
    from territory.targets import TargetRule
    from territory.territories import TerritoryLayer, load_territories
    from territory.validate import Accounts, prepare_accounts

__version__ = "0.1.0"

__all__ = [
    "Accounts",
    "AccountsSpec",
    "Adjustment",
    "AdjustmentContext",
    "AdjustmentSpec",
    "AssignOptions",
    "AxisContext",
    "AxisSpec",
    "CRSMismatchError",
    "DatabaseSource",
    "DatabaseTarget",
    "DesignResult",
    "InputError",
    "KpiColumn",
    "METHODS",
    "MapLayer",
    "OutputsSpec",
    "Param",
    "Plan",
    "PlanResult",
    "PluginError",
    "Plugins",
    "REQUIRED",
    "SegmentAxis",
    "TargetRule",
    "TargetsSpec",
    "TerritoriesSpec",
    "TerritoryDesigner",
    "TerritoryError",
    "TerritoryLayer",
    "ValidationError",
    "__version__",
    "accounts_from_orders",
    "assign",
    "compare",
    "demo_plan",
    "explore",
    "design",
    "get_plugins",
    "load_result",
    "hookimpl",
    "kpis",
    "load_territories",
    "make_plan",
    "plan_report",
    "prepare_accounts",
    "run",
    "track",
    "write_database",
]
