"""territory: geographic sales territory planning.

Read accounts and territories, assign every account to exactly one territory, and measure the
plan with one common KPI set::

    import territory
    result = territory.assign(accounts_gdf, territories_gdf)
    plan = territory.Plan.from_file("plan.toml").run()
"""

from territory.adjust import AdjustmentSpec
from territory.api import assign, demo_plan, explore, kpis, make_plan, run, track
from territory.assignment import METHODS, AssignOptions
from territory.designer import DesignResult, TerritoryDesigner, compare, design, plan_report
from territory.errors import (
    CRSMismatchError,
    InputError,
    PluginError,
    TerritoryError,
    ValidationError,
)
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
from territory.hookspecs import hookimpl
from territory.orders import accounts_from_orders
from territory.plan import AccountsSpec, OutputsSpec, Plan, TargetsSpec, TerritoriesSpec
from territory.plugins import Plugins, get_plugins
from territory.result import PlanResult
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
    "design",
    "explore",
    "get_plugins",
    "hookimpl",
    "kpis",
    "load_territories",
    "make_plan",
    "plan_report",
    "prepare_accounts",
    "run",
    "track",
]
