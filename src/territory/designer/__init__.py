"""Territory design: build and rebalance territories from building blocks.

:func:`design` builds ``k`` territories balanced on a measure (or a weighted mix), contiguous
and compact; with ``rebalance=True`` it starts from the current alignment and moves as little
as it can. :func:`plan_report` measures any alignment, and :func:`compare` sets two side by side.
"""

from territory.designer.build import DesignResult, design
from territory.designer.compare import compare, plan_report

__all__ = ["DesignResult", "compare", "design", "plan_report"]
