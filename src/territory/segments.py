"""Segment stage: label every account along each requested axis (plugins do the labelling).

The core validates what comes back: one non-empty string label per account, aligned with the
accounts. Anything else is a :class:`~territory.errors.PluginError` naming the plugin and hook.
Every axis gets private copies of the tables, so an axis that changes them changes neither the
run nor the axes after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory.errors import PluginError, ValidationError
from territory.extensions import AxisContext, PluginLog, invoke

HOOK = "register_segment_axes"


@dataclass(frozen=True)
class AxisSpec:
    """One requested axis: registered ``axis`` name, output column ``name`` and parameters."""

    axis: str
    name: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    where: str | None = field(default=None, compare=False)  # e.g. "[[segments]] number 2 of p.toml"

    @property
    def column(self) -> str:
        return self.name or self.axis


def label_accounts(
    specs: tuple[AxisSpec, ...],
    plugins,
    context: AxisContext,
    base: Path | None = None,
    log: PluginLog | None = None,
) -> pd.DataFrame:
    """Run every axis; return a DataFrame with one label column per axis, in account order.

    ``log`` collects the time and warnings of each axis."""
    out = pd.DataFrame(index=context.accounts.index)
    for spec in specs:
        if spec.column in out.columns:
            raise ValidationError(
                f"Two segment axes would both be named '{spec.column}'. Give one a different "
                "name (name = ... in [[segments]])."
            )
        plugin, labels = invoke(
            plugins, HOOK, spec.axis, spec.params, context.copy(),
            kind="segment axis", plural="axes", base=base, log=log, where=spec.where,
        )  # fmt: skip
        out[spec.column] = _check_labels(labels, context.accounts.index, plugin, spec.axis)
    return out


def _check_labels(labels: Any, index: pd.Index, plugin: str, axis: str) -> np.ndarray:
    where = f"Plugin '{plugin}' segment axis '{axis}' (hook {HOOK})"
    if not isinstance(labels, pd.Series):
        raise PluginError(f"{where} returned {type(labels).__name__}; expected a pandas Series.")
    if len(labels) != len(index):
        raise PluginError(
            f"{where} returned {len(labels)} labels for {len(index)} accounts; expected one per "
            "account."
        )
    if not labels.index.equals(index):
        raise PluginError(f"{where} returned labels whose index does not match the accounts'.")
    values = labels.to_numpy(dtype=object)
    bad = np.flatnonzero([not isinstance(v, str) or v == "" for v in values])
    if len(bad):
        raise PluginError(
            f"{where} returned {len(bad)} labels that are not non-empty strings (first: "
            f"{values[bad[0]]!r} for account position {bad[0]}). Return text labels."
        )
    return values
