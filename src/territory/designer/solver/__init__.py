"""The territory designer: multilevel graph cuts, then local search for balance and shape.

1. **Multilevel bisection** (``multilevel``): METIS cuts the block graph in two, weighted by
   the balance measure and by shared border length (the least cut is the least total border,
   so parts are compact), in proportion to the territories on each side, and again inside each
   half down to one part per territory. Each cut is then made exact: pieces cut off from a side
   join the other, and the lighter side grows into the heavier, nearest blocks first, taking
   only blocks that leave the heavier side in one piece. So the parts are balanced up to about
   one block per cut and contiguous, on sparse layers too (ZIP areas, most holding nothing).
2. **Anchors**: territories with a rep home or locked blocks take the part nearest them (an
   optimal matching); locked blocks are put in place and detached pieces of a territory join
   the neighbour they share the longest edge with, so every territory is contiguous.
3. **Balance**: boundary blocks move to a neighbouring territory when that lowers the sum of
   squared relative deviations; where no single move helps, a trade of blocks with a neighbour
   settles what single blocks are too coarse for, or a chain of moves pushes load along a path
   of territories from the heaviest to a light one.
4. **Compactness**: while every territory stays within the tolerance, boundary blocks move
   (alone, or in pairs that keep the balance) where that raises Polsby-Popper compactness
   (tracked exactly from areas, perimeters and shared-edge lengths).
5. **Least compact** (``lift``, fresh single-measure designs): the least compact territories
   trade boundary blocks with their neighbours while that raises the least compactness of the
   territories touched (a max-min objective, not the sum); where no move helps, the least
   compact territory and its neighbours are cut again as a group (METIS cuts, and the
   territory grown anew as a compact blob from its deepest blocks), kept if the group's least
   compactness rises within the tolerance.

Rebalancing plans the load each border must carry with a linear programme (``flow``) and peels
blocks along those borders before the balance search settles the rest; where border blocks are
too coarse for the tolerance band, one moves although it overshoots and the search passes the
surplus on through the neighbours (``settle``), kept when the plan got better.

Every move keeps the donor territory connected (no block that holds it together is taken),
never moves locked blocks, and respects the maximum distance from a rep's home.

With several measures, each within its own tolerance, the first plan is the multilevel one of
the measures' equal mix (each measure divided by its total), searched as above; ``several`` then
moves and trades boundary blocks until each measure of each territory is within its own. Where
a measure is still outside, straight-line bisections refined into power diagrams
(``construct``) are searched the same way and the plan closest to every tolerance is kept.

Modules: ``problem`` (:class:`Problem`, effective targets), ``partition`` (:class:`Partition`),
``multilevel`` (1), ``construct`` (2; cuts and power diagrams for several measures),
``improve`` (3-4), ``lift`` (5), ``flow`` (rebalance flows), ``settle`` (coarse blocks),
``repair`` (contiguity), ``several`` (several measures).
"""

from territory.designer.solver.construct import NEAREST_CENTRES, anchor, bisect, power_diagram
from territory.designer.solver.flow import flow
from territory.designer.solver.improve import balance, compact
from territory.designer.solver.lift import lift
from territory.designer.solver.multilevel import partition
from territory.designer.solver.partition import Partition
from territory.designer.solver.problem import Problem, effective_targets, with_heavy_blocks
from territory.designer.solver.repair import components, make_contiguous
from territory.designer.solver.settle import settle
from territory.designer.solver.several import balance_several, worst_excess

__all__ = [
    "NEAREST_CENTRES",
    "Partition",
    "Problem",
    "anchor",
    "balance",
    "balance_several",
    "bisect",
    "compact",
    "components",
    "effective_targets",
    "flow",
    "lift",
    "make_contiguous",
    "partition",
    "power_diagram",
    "settle",
    "with_heavy_blocks",
    "worst_excess",
]
