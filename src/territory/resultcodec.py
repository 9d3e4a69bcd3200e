"""Plain-JSON encoding of plan settings and result figures, for result folders.

A result folder (see :mod:`territory.resultdir`) keeps the settings of the plan that made it
(names, options, the paths it read) and the run's summary as JSON data. Only the classes listed
in :data:`CLASSES` are rebuilt, by calling them with their recorded fields: nothing read from a
folder is ever evaluated, imported or unpickled. Values JSON has no form for are tagged
objects: ``{"tuple": [...]}``, ``{"path": "..."}``, ``{"float": "nan"}``, ``{"dict": {...}}``;
in-memory tables a plan was built from are recorded as ``{"unstored": "..."}`` and read back
as None.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory.adjust import AdjustmentSpec
from territory.assignment import AssignOptions
from territory.errors import ValidationError
from territory.plan import AccountsSpec, OutputsSpec, Plan, TargetsSpec, TerritoriesSpec
from territory.segments import AxisSpec
from territory.targets import TargetRule
from territory.tracking import TrackingSpec

CLASSES = {
    cls.__name__: cls
    for cls in (Plan, AccountsSpec, TerritoriesSpec, TargetsSpec, OutputsSpec, TargetRule,
                AssignOptions, AxisSpec, AdjustmentSpec, TrackingSpec)
}  # fmt: skip
_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def encode(value: Any) -> Any:
    """``value`` as JSON data (see the module docstring); paths become absolute."""
    if dataclasses.is_dataclass(value) and type(value).__name__ in CLASSES:
        return {
            "type": type(value).__name__,
            "fields": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    if isinstance(value, Path):
        return {"path": str(value.expanduser().resolve())}
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, pd.DataFrame):
        return {"unstored": f"an in-memory table of {len(value):,} rows"}
    return {"unstored": f"a {type(value).__name__}"}


def decode(value: Any, where: str) -> Any:
    """The value :func:`encode` made ``value`` from (``where`` names the file for errors)."""
    if isinstance(value, list):
        return [decode(v, where) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"type", "fields"}:
        cls = CLASSES.get(value["type"])
        if cls is None or not isinstance(value["fields"], dict):
            raise ValidationError(
                f"{where} records settings of an unknown kind '{value['type']}'. It was written "
                "by another version of territory: run the plan again to rewrite the folder."
            )
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {k: decode(v, where) for k, v in value["fields"].items() if k in known}
        return cls(**fields)
    if len(value) != 1:
        raise ValidationError(f"{where} holds a value territory did not write: {value!r:.80}.")
    (tag, inner), = value.items()  # fmt: skip
    if tag == "tuple":
        return tuple(decode(v, where) for v in inner)
    if tag == "dict":
        return {k: decode(v, where) for k, v in inner.items()}
    if tag == "path":
        return Path(inner)
    if tag == "float" and inner in _SPECIAL:
        return _SPECIAL[inner]
    if tag == "unstored":
        return None
    raise ValidationError(f"{where} holds a value territory did not write: {value!r:.80}.")
