"""Run a plan: the stages wired once, for every engine.

``run(plan, engine)`` reads the territory layer, splits the segment axes into per-part and
whole-table ones, and hands the accounts to the engine, which splits them into parts (batches
or partitions), runs :func:`territory.engines.parts.run_part` on each (read -> assign -> segment
-> sum) and combines the sums into one :class:`~territory.engines.parts.Parts`.
:func:`finish` then does the rest the same way for both engines: whole-table axes, targets,
adjustments, KPIs, summary and notes, into a :class:`~territory.result.PlanResult`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from territory.engines import ENGINES
from territory.engines.parts import Parts, merge_notes
from territory.errors import ValidationError
from territory.extensions import PluginLog
from territory.kpi import summary
from territory.result import PlanResult
from territory.stages.measure import agg_balance, measure_aggregates
from territory.stages.read import read_territories
from territory.stages.segment import check_requests, split_axes, whole_table_labels

if TYPE_CHECKING:
    from territory.plan import Plan
    from territory.plugins import Plugins
    from territory.territories import TerritoryLayer


def run(plan: Plan, engine: str = "local", plugins: Plugins | None = None, *,
        plugin_kpis: bool = True, **options) -> PlanResult:  # fmt: skip
    """Run ``plan`` on ``engine``; ``options`` go to the engine's ``map_parts`` (see
    :mod:`territory.engines`). ``plugin_kpis=False`` skips the KPI columns plugins register
    (for results that show no KPIs, so a faulty KPI plugin cannot stop them)."""
    if engine not in ENGINES:
        raise ValidationError(f"Unknown engine '{engine}'. Use one of: {', '.join(ENGINES)}.")
    from territory.plugins import get_plugins

    module = importlib.import_module(f"territory.engines.{engine}")
    plugins = plugins or get_plugins()
    check_requests(plan, plugins)  # names and parameters, before any data is read
    layer = read_territories(plan.territories)
    per_part, whole = split_axes(plan, plugins)
    parts = module.map_parts(plan, layer, plugins, per_part, **options)
    return finish(plan, layer, plugins, whole, parts, plugin_kpis=plugin_kpis,
                  progress=bool(options.get("progress")))  # fmt: skip


def finish(plan: Plan, layer: TerritoryLayer, plugins: Plugins, whole, parts: Parts, *,
           plugin_kpis: bool = True, progress: bool = False) -> PlanResult:  # fmt: skip
    """Whole-table axes, targets, adjustments and KPIs from what an engine gathered.

    Warnings raised by plugin code become notes; the time each plugin took (and the import time
    of installed plugins) is ``summary["plugin_seconds"]``.
    """
    log = PluginLog(progress=progress)
    if whole:
        accounts, assignments = parts.whole_table_inputs()
        labels = whole_table_labels(plan, plugins, layer, whole, accounts, assignments, parts.agg,
                                    log)  # fmt: skip
        parts.add_labels(labels)
    assignments, labels = parts.result()
    agg = parts.agg
    kpis, segments, adjustments = measure_aggregates(
        plan, layer, agg, plugins, parts.rows, parts.located, log, plugin_kpis
    )
    log = parts.log + log
    summary_ = summary(agg, kpis, agg_balance(plan, agg))
    summary_["plugin_seconds"] = plugin_seconds(plugins, log)
    notes = merge_notes([*parts.notes, *layer.notes]) + log.notes
    result = PlanResult(
        plan, parts.accounts, layer, assignments, kpis, segments, summary_, notes,
        labels, adjustments, plugins,
    )  # fmt: skip
    result.engine = parts.engine
    return result


def plugin_seconds(plugins: Plugins, log: PluginLog) -> list[dict]:
    """Per plugin call (axis, adjustment, KPI) the seconds it took, slowest first, then the
    import time of each installed plugin."""
    imports = [{"plugin": name, "kind": "import", "name": name, "seconds": round(sec, 4)}
               for name, sec in plugins.load_seconds.items()]  # fmt: skip
    return log.timings() + imports
