"""Validate stage: the checks a run makes between stages (inputs are checked when read).

:func:`check_label_names` runs after each labelling, before the labels join the assignments.
(That the outputs can be written is checked before any work by :meth:`Plan.check_outputs`.)
"""

from __future__ import annotations

import pandas as pd

from territory.errors import ValidationError


def check_label_names(labels: pd.DataFrame, assignments: pd.DataFrame) -> None:
    clash = set(labels.columns) & set(assignments.columns)
    if clash:
        raise ValidationError(
            f"Segment name(s) {', '.join(sorted(clash))} clash with assignment columns; rename "
            "them (name = ... in [[segments]])."
        )
