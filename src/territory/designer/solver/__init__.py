"""The territory designer: cuts and power diagrams, then local search for balance and shape.

1. **Recursive bisection**: the blocks are cut in two by a straight line where the balance
   measure splits in proportion to the territories on each side (of 16 directions, the one
   with the shortest border that leaves each side in one piece), and again inside each half,
   down to one part per territory: balanced up to one block per cut, and compact.
2. **Power diagram**: Lloyd iterations from the cut parts; each assigns blocks to the part
   centroids by a balanced optimal transport, whose prices make the parts convex cells.
3. **Anchors**: territories with a rep home or locked blocks take the part nearest them (an
   optimal matching); locked blocks are put in place and detached pieces of a territory join
   the neighbour they share the longest edge with, so every territory is contiguous.
4. **Balance**: boundary blocks move to a neighbouring territory when that lowers the sum of
   squared relative deviations; where no single move helps, a trade of blocks with a neighbour
   settles what single blocks are too coarse for, or a chain of moves pushes load along a path
   of territories from the heaviest to a light one.
5. **Compactness**: while every territory stays within the tolerance, boundary blocks move
   (alone, or in pairs that keep the balance) where that raises Polsby-Popper compactness
   (tracked exactly from areas, perimeters and shared-edge lengths).

Rebalancing plans the load each border must carry with a linear programme (``flow``) and peels
blocks along those borders before the balance search settles the rest.

Every move keeps the donor territory connected (no block that holds it together is taken),
never moves locked blocks, and respects the maximum distance from a rep's home.

With several measures, each within its own tolerance, the search balances their equal mix and
``several`` then moves boundary blocks until each measure of each territory is within its own.

Modules: ``problem`` (:class:`Problem`, effective targets), ``partition`` (:class:`Partition`),
``construct`` (1-3), ``improve`` (4-5), ``flow`` (rebalance flows), ``repair`` (contiguity),
``several`` (several measures).
"""

from territory.designer.solver.construct import NEAREST_CENTRES, anchor, bisect, power_diagram
from territory.designer.solver.flow import flow
from territory.designer.solver.improve import balance, compact
from territory.designer.solver.partition import Partition
from territory.designer.solver.problem import Problem, effective_targets, with_heavy_blocks
from territory.designer.solver.repair import components, make_contiguous
from territory.designer.solver.several import balance_several

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
    "make_contiguous",
    "power_diagram",
    "with_heavy_blocks",
]
