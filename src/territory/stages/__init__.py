"""The stages of a plan run, in order: thin functions over the modules that do the work.

============  ===========================================================================
``read``      accounts, territory layer, blocks, alignment: read (:mod:`territory.io`) and
              checked (:mod:`territory.validate`, :mod:`territory.territories`) in one call
``validate``  checks between stages: segment names against the assignment columns
``assign``    accounts -> territory (or block), by :mod:`territory.assignment`
``segment``   one label per account and axis, by the axis plugins (:mod:`territory.segments`)
``adjust``    per-territory target multipliers from adjustment plugins (:mod:`territory.adjust`)
``measure``   targets and KPI tables from additive sums (:mod:`territory.kpi`, ``targets``)
============  ===========================================================================

:func:`territory.runner.run` wires them once for every engine; the engines only split the
accounts into parts, run :func:`territory.engines.parts.run_part` on each and combine the sums.
The designer reads its blocks, alignment and accounts through the same ``read`` and ``assign``
stages.
"""
