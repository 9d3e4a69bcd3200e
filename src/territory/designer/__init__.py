"""Territory design: build and rebalance territories from building blocks.

:class:`TerritoryDesigner` (options in the constructor, ``fit(blocks, accounts)``, results in
``labels_``, ``alignment_``, ``quality_`` ...) and :func:`design`, the same in one call, build
``k`` territories balanced on a measure (or a weighted mix), contiguous and compact; with
``rebalance=True`` they start from the current alignment and move as little as they can.
:func:`plan_report` measures any alignment, and :func:`compare` sets two side by side.
"""

from territory.designer.build import DesignResult, TerritoryDesigner, design
from territory.designer.compare import compare, plan_report

__all__ = ["DesignResult", "TerritoryDesigner", "compare", "design", "plan_report"]
